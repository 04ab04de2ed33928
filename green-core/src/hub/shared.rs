//! The part of a hub other OS threads may touch: its poller, its inbox and
//! a few counters.
//!
//! A remote wake or a spawn is pushed into the inbox, then the hub is
//! notified only if it is asleep (`sleeping`). The hub publishes
//! `sleeping = true` and then re-checks the inbox before it sleeps; a
//! producer pushes and then reads `sleeping`. Both sides use `SeqCst`, so at
//! least one of them sees the other (no lost wake-up).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crossbeam_channel::{Receiver, Sender};
use polling::Poller;

use crate::coroutine::Body;
use crate::ctx::Ctx;
use crate::io::IoState;
use crate::slab::Slab;
use crate::stack::Promise;

/// Something another OS thread hands to a hub.
pub(crate) enum Inbound {
    /// A context on this hub was woken elsewhere (a root: just re-check).
    Wake(Arc<Ctx>),
    /// A new green thread to run here, with the stack promised to it.
    Spawn(Arc<Ctx>, Body, Promise),
}

/// The part of a hub other threads may touch.
pub(crate) struct HubShared {
    /// Process-unique, for debugging and registration bookkeeping.
    pub(crate) id: usize,
    /// Waits for fd events and timeouts; `notify` wakes it from any thread.
    pub(crate) poller: Poller,
    inbox_tx: Sender<Inbound>,
    pub(super) inbox_rx: Receiver<Inbound>,
    /// Set by every sender after it pushes; the hub clears it before it
    /// drains, so a set flag always means "look at the inbox".
    pub(super) pending: AtomicBool,
    /// `true` while the hub is in (or about to enter) `Poller::wait`.
    pub(super) sleeping: AtomicBool,
    /// Green threads placed on this hub that have not finished.
    pub(crate) live: AtomicUsize,
    /// fds registered with `poller`; the fairness poll is skipped when 0.
    pub(crate) fds: AtomicUsize,
    /// fd registrations on this hub's poller, by event key.
    pub(crate) io: Mutex<Slab<Arc<IoState>>>,
}

impl std::fmt::Debug for HubShared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubShared")
            .field("id", &self.id)
            .field("live", &self.live.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl HubShared {
    /// A hub's shared half, with a fresh poller and an empty inbox.
    pub(super) fn new() -> HubShared {
        static NEXT_ID: AtomicUsize = AtomicUsize::new(0);
        let poller = Poller::new().unwrap_or_else(|e| {
            panic!("green: cannot create this thread's hub poller (epoll): {e}")
        });
        let (inbox_tx, inbox_rx) = crossbeam_channel::unbounded();
        HubShared {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            poller,
            inbox_tx,
            inbox_rx,
            pending: AtomicBool::new(false),
            sleeping: AtomicBool::new(false),
            live: AtomicUsize::new(0),
            fds: AtomicUsize::new(0),
            io: Mutex::new(Slab::default()),
        }
    }

    /// Hands `item` to the hub from another thread, waking it if it sleeps.
    pub(crate) fn send(&self, item: Inbound) {
        // The receiver lives in `self`, so the channel cannot be disconnected.
        let _ = self.inbox_tx.send(item);
        self.pending.store(true, Ordering::SeqCst);
        if self.sleeping.load(Ordering::SeqCst) {
            // An error here means the poller's eventfd is broken; the hub would
            // wake at its next timer or event anyway, so there is nothing
            // better to do than carry on.
            let _ = self.poller.notify();
        }
    }
}
