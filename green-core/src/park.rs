//! Primitive 3: park the current context until unparked (or a deadline
//! passes). Every lock, condvar and channel in green-sync sits on this.
//!
//! A *context* is whatever is calling: a green thread, or a plain OS thread.
//! [`park`] on a green thread switches to its hub; on an OS thread it runs the
//! thread's own hub until woken, so green threads placed there keep running.
//!
//! The contract is the one of `std::thread::park`, minus the token:
//!
//! * an [`Unparker::unpark`] that lands after [`unparker`] was taken and
//!   before `park` makes that `park` return at once (nothing is lost);
//! * `park` may also return without an unpark (a stale wake from an earlier
//!   wait), so callers loop on their own condition;
//! * this is separate from `thread::park`'s token: neither consumes the
//!   other's unparks, though each may see the other's wakes as spurious.
//!
//! ```
//! use std::sync::atomic::{AtomicBool, Ordering};
//! use std::sync::Arc;
//!
//! let done = Arc::new(AtomicBool::new(false));
//! let me = green_core::park::unparker();
//! let flag = done.clone();
//! green_core::thread::spawn(move || {
//!     flag.store(true, Ordering::Release);
//!     me.unpark();
//! });
//! while !done.load(Ordering::Acquire) {
//!     green_core::park::park(None);
//! }
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use crate::ctx::Ctx;
use crate::dump::WaitSite;
use crate::hub;

/// Wakes one parked context; `Clone`, `Send` and `Sync`, usable from any OS
/// thread, green or not.
#[derive(Clone)]
pub struct Unparker(Arc<Ctx>);

impl fmt::Debug for Unparker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Unparker").field(&self.0.id).finish()
    }
}

impl Unparker {
    /// Wakes the context if it is parked, or makes its next park return at
    /// once if it is not.
    #[inline]
    pub fn unpark(&self) {
        self.0.wake();
    }

    /// [`unpark`](Unparker::unpark), consuming the handle: the reference it
    /// holds is the one the wake queues, so no reference count is touched
    /// on the way (a channel's sender wakes its receiver so).
    #[inline]
    pub fn unpark_owned(self) {
        self.0.wake_owned();
    }

    /// The context this wakes.
    pub(crate) fn ctx(&self) -> Arc<Ctx> {
        self.0.clone()
    }

    /// Whether both handles wake the same context.
    pub fn same_context(&self, other: &Unparker) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// The [`Unparker`] of the calling context.
#[inline]
pub fn unparker() -> Unparker {
    Unparker(hub::with(|h| h.current_ctx()))
}

/// Parks the calling context until unparked or `deadline` passes; may return
/// spuriously (see the module docs).
#[inline]
pub fn park(deadline: Option<Instant>) {
    hub::park(deadline);
}

/// Like [`park`], and dumps ([`crate::dump::dump`]) show the context as
/// parked at `site` meanwhile. green-sync passes one site per primitive.
#[inline]
pub fn park_at(site: &'static WaitSite, deadline: Option<Instant>) {
    hub::park_at(site, 0, deadline);
}

/// Whether the caller runs on a green thread (as opposed to a plain OS
/// thread).
#[inline]
pub fn in_green_thread() -> bool {
    hub::with(|h| h.in_green())
}
