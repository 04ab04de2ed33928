//! The futures bridge: await any `Future` from blocking-style code.

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use crate::park::{self, Unparker};

/// Wakes the context that runs `block_on`; callable from any OS thread.
struct ParkWaker {
    woken: AtomicBool,
    unparker: Unparker,
}

impl Wake for ParkWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.unparker.unpark();
    }
}

/// Polls `fut` to completion on the calling context, parking between polls.
///
/// On a green thread only that green thread waits; on an OS thread its hub
/// runs meanwhile. The future's waker may be called from any OS thread (a
/// tokio reactor, a timer thread, another hub).
///
/// # Examples
///
/// ```
/// let v = green_core::block_on(async { 40 + 2 });
/// assert_eq!(v, 42);
/// ```
pub fn block_on<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    let state = Arc::new(ParkWaker {
        woken: AtomicBool::new(false),
        unparker: park::unparker(),
    });
    let waker = Waker::from(state.clone());
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            crate::hub::consume();
            return v;
        }
        if state.woken.swap(false, Ordering::AcqRel) {
            // Woken while it was polled (a future that wakes itself): poll
            // again, but spend budget so the hub's others get to run.
            crate::hub::consume();
            continue;
        }
        while !state.woken.swap(false, Ordering::AcqRel) {
            crate::hub::park_at(&crate::dump::BLOCK_ON, 0, None);
        }
    }
}
