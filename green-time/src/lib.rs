//! `std::time` for green code.
//!
//! Every type is std's own, re-exported, so code that names or matches on
//! them is unchanged. The additions are [`sleep`] and [`sleep_until`], which
//! park only the calling green thread (on a plain OS thread they block it, as
//! `std::thread::sleep` does, while that thread's hub keeps running).
#![forbid(unsafe_code)]
#![deny(missing_docs, missing_debug_implementations)]

#[doc(no_inline)]
pub use std::time::{
    Duration, Instant, SystemTime, SystemTimeError, TryFromFloatSecsError, UNIX_EPOCH,
};

/// Sleeps for at least `dur`, like `std::thread::sleep`. Never returns
/// early; a zero duration returns at once.
///
/// ```
/// use green_time::{sleep, Duration, Instant};
/// let start = Instant::now();
/// sleep(Duration::from_millis(5));
/// assert!(start.elapsed() >= Duration::from_millis(5));
/// ```
pub fn sleep(dur: Duration) {
    green_core::time::sleep(dur);
}

/// Sleeps until `deadline`, like the (unstable) `std::thread::sleep_until`.
/// Never returns early; a deadline in the past returns at once.
pub fn sleep_until(deadline: Instant) {
    green_core::time::sleep_until(deadline);
}
