//! Primitive 2: sleep until a deadline.

use std::time::{Duration, Instant};

use crate::hub;

/// Sleeps the calling context until `deadline`. Never returns early; returns
/// at once if `deadline` has passed.
///
/// On a green thread only that green thread waits; on an OS thread the
/// thread's hub runs meanwhile.
pub fn sleep_until(deadline: Instant) {
    hub::sleep_until(deadline);
}

/// Sleeps the calling context for at least `dur`, like `std::thread::sleep`
/// (a zero duration returns at once; a duration too large to represent as a
/// deadline sleeps forever).
pub fn sleep(dur: Duration) {
    hub::sleep(dur);
}
