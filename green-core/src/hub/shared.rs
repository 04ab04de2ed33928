//! The part of a hub other OS threads may touch: its poller, its inbox and
//! a few counters.
//!
//! A remote wake or a spawn is pushed into the inbox, then the hub is
//! notified only if it is asleep (`sleeping`). The hub publishes
//! `sleeping = true` and then re-checks the inbox before it sleeps; a
//! producer pushes and then reads `sleeping`. Both sides use `SeqCst`, so at
//! least one of them sees the other (no lost wake-up).

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use std::collections::VecDeque;
use std::sync::MutexGuard;
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender};
use polling::Poller;

use super::poll::Wakeup;

use crate::coroutine::Body;
use crate::ctx::Ctx;
use crate::io::IoState;
use crate::slab::Slab;
use crate::stack::Promise;

/// How many spawns [`HubShared::take_spawn`] moves from the shared queue to
/// the hub's own list at once.
const TAKE_BATCH: usize = 16;

/// A context on this hub woken elsewhere (a root: just re-check).
pub(crate) struct Wake(pub(crate) Arc<Ctx>);

/// A new green thread for a hub, with the stack promised to it. It stays in
/// the hub's spawn queue until the hub runs it, so a stuck hub's unstarted
/// work can still be moved (`crate::monitor`).
pub(crate) struct Spawn {
    pub(crate) ctx: Arc<Ctx>,
    pub(crate) body: Body,
    pub(crate) stack: Promise,
    /// When it was queued: an idle hub takes spawns another hub has left
    /// waiting for a while, not ones it is about to run.
    pub(crate) queued_at: Instant,
}

/// The part of a hub other threads may touch.
pub(crate) struct HubShared {
    /// Process-unique, for debugging and registration bookkeeping.
    pub(crate) id: usize,
    /// Holds the fd registrations; the hub waits on its epoll fd
    /// (`super::poll`).
    pub(crate) poller: Poller,
    /// Written by other threads to wake the hub.
    pub(super) wakeup: Wakeup,
    inbox_tx: Sender<Wake>,
    pub(super) inbox_rx: Receiver<Wake>,
    /// Green threads placed here and not started yet, newest last. They
    /// stay here (or in `next`) until the hub runs them, so the monitor and
    /// idle hubs can still move them (and dumps can list them).
    spawns: Mutex<VecDeque<Spawn>>,
    /// `spawns.len()`, readable without the lock (written under it).
    queued: AtomicUsize,
    /// The oldest spawns, moved here from `spawns` by this hub up to
    /// [`TAKE_BATCH`] at a time: the hub pops them under a lock that only
    /// it takes as a rule, so its cache line stays with the hub instead of
    /// passing to the spawner and back once per spawn. Idle hubs and the
    /// monitor still see and take them (they lock `next` before `spawns`).
    next: Mutex<VecDeque<Spawn>>,
    /// `next.len()`, readable without the lock (written under it).
    queued_next: AtomicUsize,
    /// Green threads started here and not finished, for dumps (only this
    /// hub writes it; the lock is for readers).
    pub(crate) threads: Mutex<Slab<Arc<Ctx>>>,
    /// Set by every sender after it pushes (a wake or a spawn); the hub
    /// clears it before it drains, so a set flag always means "look at the
    /// inbox".
    pub(super) pending: AtomicBool,
    /// `true` while the hub is in (or about to enter) `Poller::wait`.
    pub(super) sleeping: AtomicBool,
    /// Green threads started on this hub and not finished (written by the
    /// hub only).
    pub(crate) live: AtomicUsize,
    /// fds registered with `poller`; the fairness poll is skipped when 0.
    pub(crate) fds: AtomicUsize,
    /// fd registrations on this hub's poller, by event key.
    pub(crate) io: Mutex<Slab<Arc<IoState>>>,
    /// Id of the green thread running here right now (0: none), for the
    /// monitor and dumps.
    pub(crate) running: AtomicU64,
    /// Resumes so far; the monitor sees a hub whose count stands still while
    /// `running` is set as stuck.
    pub(crate) switches: AtomicU64,
    /// Waits in the poller so far (for idle checks: `dump::counters`).
    pub(crate) polls: AtomicU64,
    /// Set by the monitor while this hub is stuck: nothing new is placed
    /// here, and queued spawns move elsewhere.
    pub(crate) stuck: AtomicBool,
    /// A worker hub (runs forever), as opposed to an OS thread's own hub.
    pub(crate) worker: AtomicBool,
    /// Pending timers on this hub (for leak checks: `dump::counters`).
    pub(crate) timers: AtomicUsize,
    /// Set when another hub woke this one to take spawns off it; cleared
    /// when it next sleeps. At most one such wake per sleep.
    pub(crate) steal_woken: AtomicBool,
}

impl std::fmt::Debug for HubShared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubShared")
            .field("id", &self.id)
            .field("live", &self.live.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing panics under these locks; recover from poisoning anyway.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl HubShared {
    /// A hub's shared half, with a fresh poller and an empty inbox.
    pub(super) fn new() -> HubShared {
        static NEXT_ID: AtomicUsize = AtomicUsize::new(0);
        let poller = Poller::new().unwrap_or_else(|e| {
            panic!("green: cannot create this thread's hub poller (epoll): {e}")
        });
        let wakeup = Wakeup::new(&poller).unwrap_or_else(|e| {
            panic!("green: cannot create this thread's hub wake-up eventfd: {e}")
        });
        let (inbox_tx, inbox_rx) = crossbeam_channel::unbounded();
        HubShared {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            poller,
            wakeup,
            inbox_tx,
            inbox_rx,
            spawns: Mutex::new(VecDeque::new()),
            queued: AtomicUsize::new(0),
            next: Mutex::new(VecDeque::new()),
            queued_next: AtomicUsize::new(0),
            threads: Mutex::new(Slab::default()),
            pending: AtomicBool::new(false),
            sleeping: AtomicBool::new(false),
            live: AtomicUsize::new(0),
            fds: AtomicUsize::new(0),
            io: Mutex::new(Slab::default()),
            running: AtomicU64::new(0),
            switches: AtomicU64::new(0),
            polls: AtomicU64::new(0),
            stuck: AtomicBool::new(false),
            worker: AtomicBool::new(false),
            timers: AtomicUsize::new(0),
            steal_woken: AtomicBool::new(false),
        }
    }

    /// Hands a wake to the hub from another thread, waking it if it sleeps.
    pub(crate) fn send(&self, wake: Wake) {
        // The receiver lives in `self`, so the channel cannot be disconnected.
        let _ = self.inbox_tx.send(wake);
        self.alert();
    }

    /// Queues a new green thread here (from any thread), waking the hub if
    /// it sleeps.
    pub(crate) fn send_spawn(&self, spawn: Spawn) {
        let queued = {
            let mut queue = lock(&self.spawns);
            queue.push_back(spawn);
            self.queued.store(queue.len(), Ordering::Relaxed);
            queue.len()
        };
        self.alert();
        if queued >= super::workers::WAKE_STEALER_AT {
            // A backlog: let a sleeping worker come and look (it takes only
            // what waits too long here).
            super::workers::wake_a_stealer(self);
        }
    }

    /// Takes the older half of the queue, but no more than `most`, if its
    /// oldest spawn was queued before `cutoff` (before `long_cutoff` for a
    /// short queue, below `backlog`); otherwise says when the oldest was
    /// queued.
    pub(crate) fn steal_half(
        &self,
        cutoff: Instant,
        long_cutoff: Instant,
        backlog: usize,
        most: usize,
    ) -> Result<Vec<Spawn>, Option<Instant>> {
        if !self.has_spawns() {
            return Err(None);
        }
        // `next` holds the older spawns: the two lists are one queue.
        let mut next = lock(&self.next);
        let mut queue = lock(&self.spawns);
        let len = next.len() + queue.len();
        let cutoff = if len >= backlog { cutoff } else { long_cutoff };
        match next.front().or(queue.front()) {
            None => Err(None),
            Some(oldest) if oldest.queued_at > cutoff => Err(Some(oldest.queued_at)),
            Some(_) => {
                let n = len.div_ceil(2).min(most);
                let from_next = n.min(next.len());
                let mut taken: Vec<Spawn> = next.drain(..from_next).collect();
                taken.extend(queue.drain(..n - from_next));
                self.queued_next.store(next.len(), Ordering::Relaxed);
                self.queued.store(queue.len(), Ordering::Relaxed);
                Ok(taken)
            }
        }
    }

    /// Wakes the hub if it sleeps.
    pub(crate) fn notify(&self) {
        self.wakeup.notify();
    }

    /// The green threads this hub holds: started (parked or not) and
    /// queued. Placement and stealing even this out.
    pub(crate) fn load(&self) -> usize {
        self.live.load(Ordering::Relaxed) + self.queued()
    }

    /// How many spawns are queued here.
    pub(crate) fn queued(&self) -> usize {
        self.queued_next.load(Ordering::Relaxed) + self.queued.load(Ordering::Relaxed)
    }

    /// Whether spawns are queued here.
    pub(crate) fn has_spawns(&self) -> bool {
        self.queued_next.load(Ordering::Relaxed) > 0 || self.queued.load(Ordering::Relaxed) > 0
    }

    /// Takes the oldest queued spawn (the hub itself, an idle hub stealing,
    /// or the monitor moving work off a stuck hub).
    pub(crate) fn take_spawn(&self) -> Option<Spawn> {
        if !self.has_spawns() {
            return None;
        }
        let mut next = lock(&self.next);
        if next.is_empty() {
            let mut queue = lock(&self.spawns);
            let n = queue.len().min(TAKE_BATCH);
            next.extend(queue.drain(..n));
            self.queued.store(queue.len(), Ordering::Relaxed);
        }
        let spawn = next.pop_front();
        self.queued_next.store(next.len(), Ordering::Relaxed);
        spawn
    }

    /// Queues spawns this hub took from another ahead of its own: they were
    /// queued before anything still waiting here. They stay movable until
    /// each starts, like any queued spawn.
    pub(crate) fn take_over(&self, taken: Vec<Spawn>) {
        let mut next = lock(&self.next);
        for spawn in taken.into_iter().rev() {
            next.push_front(spawn);
        }
        self.queued_next.store(next.len(), Ordering::Relaxed);
    }

    /// Runs `f` over the contexts of the spawns queued here, oldest first
    /// (for dumps).
    pub(crate) fn queued_ctxs(&self, mut f: impl FnMut(&Arc<Ctx>)) {
        let next = lock(&self.next);
        let queue = lock(&self.spawns);
        for spawn in next.iter().chain(queue.iter()) {
            f(&spawn.ctx);
        }
    }

    /// Flags new work and notifies the hub if it sleeps.
    fn alert(&self) {
        self.pending.store(true, Ordering::SeqCst);
        if self.sleeping.load(Ordering::SeqCst) {
            self.wakeup.notify();
        }
    }
}

impl Drop for HubShared {
    fn drop(&mut self) {
        // `polling`'s contract: delete before close.
        let _ = self.poller.delete(self.wakeup.fd());
    }
}
