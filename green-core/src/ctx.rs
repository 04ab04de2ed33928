//! `Ctx`: one blocking context — a green thread, or an OS thread's own root —
//! and the raw park/wake handshake every blocking primitive goes through.
//!
//! # The handshake
//!
//! `state` holds one of three values:
//!
//! * `RUNNING`  — the context is running, or sits in its hub's run queue;
//! * `PARKED`   — the context is suspended and waits for a wake;
//! * `NOTIFIED` — a wake arrived while the context was `RUNNING`; its next
//!   park returns at once.
//!
//! Transitions:
//!
//! * park:  `NOTIFIED → RUNNING` (consume and return), else
//!   `RUNNING → PARKED`, then suspend. Whoever resumes it has already moved the
//!   state back to `RUNNING`.
//! * wake:  `PARKED → RUNNING` and schedule the context on its hub (exactly
//!   one waker wins that CAS, so a context is queued at most once per park);
//!   `RUNNING → NOTIFIED`; `NOTIFIED` stays.
//!
//! A park may return without a matching wake (a stale wake from an earlier
//! wait), so every caller re-checks its own condition in a loop. Nothing is
//! ever lost: a wake that lands between "decide to wait" and "suspend" turns
//! into `NOTIFIED` and the park returns at once.
//!
//! # Memory ordering
//!
//! The CASes are `AcqRel`: a waker's writes before `wake` (a message pushed,
//! a flag set) are visible to the woken context after its park returns.

use std::num::NonZeroU64;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;

use crate::hub::{self, HubShared};

/// Running, or queued to run.
const RUNNING: u8 = 0;
/// Suspended until woken.
const PARKED: u8 = 1;
/// Woken while running: the next park returns at once.
const NOTIFIED: u8 = 2;

/// `thread::park` token: no pending unpark.
pub(crate) const TOKEN_EMPTY: u8 = 0;
/// `thread::park` token: an unpark is pending.
pub(crate) const TOKEN_NOTIFIED: u8 = 1;

/// Marks `Ctx::slot` of a root context (an OS thread, not a green thread).
pub(crate) const ROOT_SLOT: u32 = u32::MAX;

/// A blocking context: a green thread or an OS thread's root.
///
/// Shared (`Arc`) between the hub that owns it and every handle that may wake
/// it (`Thread`, waiter queues, timers, fd waiter lists), on any OS thread.
pub(crate) struct Ctx {
    /// Unique for the life of the process; never reused.
    pub(crate) id: NonZeroU64,
    /// The name given by `Builder::name`, or the OS thread's name for a root.
    pub(crate) name: Option<Box<str>>,
    /// The hub this context lives on, for life (green threads never migrate).
    pub(crate) hub: Arc<HubShared>,
    /// Index of the green thread's generator in its hub's task slab, written
    /// once by the hub when it creates the task; `ROOT_SLOT` for a root.
    pub(crate) slot: AtomicU32,
    /// `RUNNING`, `PARKED` or `NOTIFIED`; see the module docs.
    state: AtomicU8,
    /// The `thread::park` token (`TOKEN_EMPTY` or `TOKEN_NOTIFIED`).
    pub(crate) token: AtomicU8,
}

impl std::fmt::Debug for Ctx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("hub", &self.hub.id)
            .field("state", &self.state.load(Ordering::Relaxed))
            .finish()
    }
}

/// Hands out process-unique context ids, starting at 1.
pub(crate) fn next_id() -> NonZeroU64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    NonZeroU64::new(id).expect("thread id counter wrapped around")
}

impl Ctx {
    /// A context that will live on `hub`; `slot` is filled in by the hub.
    pub(crate) fn new(name: Option<String>, hub: Arc<HubShared>, slot: u32) -> Ctx {
        Ctx {
            id: next_id(),
            name: name.map(String::into_boxed_str),
            hub,
            slot: AtomicU32::new(slot),
            state: AtomicU8::new(RUNNING),
            token: AtomicU8::new(TOKEN_EMPTY),
        }
    }

    /// Whether this is an OS thread's root context.
    pub(crate) fn is_root(&self) -> bool {
        self.slot.load(Ordering::Relaxed) == ROOT_SLOT
    }

    /// Wake this context: see the module docs. Callable from any OS thread.
    pub(crate) fn wake(self: &Arc<Self>) {
        let mut state = self.state.load(Ordering::Acquire);
        loop {
            let next = match state {
                PARKED => RUNNING,
                RUNNING => NOTIFIED,
                _ => return,
            };
            match self
                .state
                .compare_exchange_weak(state, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => break,
                Err(actual) => state = actual,
            }
        }
        if state == PARKED {
            // We won PARKED → RUNNING: the context is ours to schedule.
            hub::schedule(self.clone());
        }
    }

    /// First half of a park: consume a pending notification, or move to
    /// `PARKED`. Returns `false` when the caller must not suspend.
    pub(crate) fn begin_park(&self) -> bool {
        if self
            .state
            .compare_exchange(NOTIFIED, RUNNING, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            return false;
        }
        match self
            .state
            .compare_exchange(RUNNING, PARKED, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => true,
            Err(_) => {
                // Notified between the two CASes.
                self.state.store(RUNNING, Ordering::Release);
                false
            }
        }
    }

    /// Whether the context is still parked (a root's hub loop polls this).
    pub(crate) fn is_parked(&self) -> bool {
        self.state.load(Ordering::Acquire) == PARKED
    }

    /// A root gives up waiting (deadline passed): back to `RUNNING`,
    /// swallowing any wake that raced with the timeout.
    pub(crate) fn end_root_park(&self) {
        self.state.store(RUNNING, Ordering::Release);
    }
}
