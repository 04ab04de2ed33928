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

use std::cell::OnceCell;
use std::num::NonZeroU64;
use std::panic::Location;
use std::sync::atomic::{
    AtomicIsize, AtomicPtr, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering,
};
use std::sync::Arc;

use crate::counter::Sharded;
use crate::dump::{self, WaitSite};
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
///
/// The fields are in a fixed order, those a wake, a resume and a park touch
/// first: right behind the `Arc`'s counts they more often share one cache
/// line, and on a server with many connections each line is a miss.
#[repr(C)]
pub(crate) struct Ctx {
    /// `RUNNING`, `PARKED` or `NOTIFIED`; see the module docs.
    state: AtomicU8,
    /// `CANCEL` once the context was asked to cancel (sticky).
    flags: AtomicU8,
    /// The `thread::park` token (`TOKEN_EMPTY` or `TOKEN_NOTIFIED`).
    pub(crate) token: AtomicU8,
    /// Index of the green thread's task in its hub's task slab, written
    /// once by the hub when it starts the task; `ROOT_SLOT` for a root.
    pub(crate) slot: AtomicU32,
    /// Where its stack pointer was when it last switched out (0 before
    /// its first switch): what a hub prefetches before resuming it.
    /// Written and read by its hub only.
    pub(crate) parked_sp: AtomicUsize,
    /// Bytes of its stack in use above `parked_sp`.
    pub(crate) parked_depth: AtomicUsize,
    /// The address of what its wait reads first when it resumes (an fd's
    /// state; 0: nothing recorded), also for the hub's prefetch. May be
    /// stale: it is only ever a hint.
    pub(crate) parked_on: AtomicUsize,
    /// Unique for the life of the process; never reused.
    pub(crate) id: NonZeroU64,
    /// The hub this context lives on: set once, when a green thread first
    /// runs (until then it may still be placed on another hub), or at
    /// creation for a root. Owns one strong count of that hub (see
    /// `set_hub`); null until set.
    hub: AtomicPtr<HubShared>,
    /// When the context entered its current state (coarse ms, high half) and
    /// the detail of its wait (an fd, a deadline in ms; low half).
    wait: AtomicU64,
    /// What the context waits on when parked (null: nothing recorded).
    site: AtomicPtr<WaitSite>,
    /// The name given by `Builder::name`, or the OS thread's name for a root.
    /// (Boxed twice: one pointer here, since most green threads have no
    /// name and every byte of `Ctx` counts in a parked thread's cost.)
    #[allow(clippy::box_collection)] // one pointer instead of three, on purpose
    name: Option<Box<String>>,
    /// Where the green thread was spawned (for a root: where its hub was
    /// made).
    pub(crate) spawned_at: &'static Location<'static>,
}

/// `Ctx::flags`: a cancel was asked for.
const CANCEL: u8 = 1;

/// Contexts alive, for leak checks (`dump::counters`); sharded, since both
/// the spawner and the finishing hub touch it for every green thread.
static ALIVE: Sharded = Sharded::new();

thread_local! {
    static ALIVE_HERE: OnceCell<Arc<AtomicIsize>> = const { OnceCell::new() };
}

fn count_alive(n: isize) {
    // During thread teardown the cell may be gone; the count is then off by
    // the few contexts dropped that late, which only matters to leak checks
    // of exited threads.
    let _ = ALIVE_HERE.try_with(|local| ALIVE.add(local, n));
}

/// Contexts (green threads and OS-thread roots) whose memory is still held
/// by someone: a count that stays up after green threads finish means a
/// timer, waiter list or fd registration kept one.
pub(crate) fn alive() -> usize {
    ALIVE.sum()
}

impl std::fmt::Debug for Ctx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("hub", &self.hub_id())
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
    /// A green thread's context, not yet placed on a hub.
    pub(crate) fn new(name: Option<String>, spawned_at: &'static Location<'static>) -> Ctx {
        count_alive(1);
        Ctx {
            id: next_id(),
            name: name.map(Box::new),
            hub: AtomicPtr::new(std::ptr::null_mut()),
            spawned_at,
            site: AtomicPtr::new(std::ptr::null_mut()),
            wait: AtomicU64::new(u64::from(dump::coarse_ms()) << 32),
            slot: AtomicU32::new(0),
            parked_sp: AtomicUsize::new(0),
            parked_depth: AtomicUsize::new(0),
            parked_on: AtomicUsize::new(0),
            state: AtomicU8::new(RUNNING),
            token: AtomicU8::new(TOKEN_EMPTY),
            flags: AtomicU8::new(0),
        }
    }

    /// Asks the context to cancel: its current or next cancellation point
    /// unwinds (see `crate::cancel`). Wakes it if it is parked.
    pub(crate) fn request_cancel(self: &Arc<Self>) {
        if self.flags.fetch_or(CANCEL, Ordering::AcqRel) & CANCEL == 0 {
            self.wake();
        }
    }

    /// Whether a cancel was asked for.
    pub(crate) fn cancel_requested(&self) -> bool {
        self.flags.load(Ordering::Acquire) & CANCEL != 0
    }

    /// An OS thread's root context, living on `hub`.
    #[track_caller]
    pub(crate) fn root(name: Option<String>, hub: &Arc<HubShared>) -> Ctx {
        let ctx = Ctx::new(name, Location::caller());
        ctx.slot.store(ROOT_SLOT, Ordering::Relaxed);
        ctx.set_hub(hub);
        ctx
    }

    /// Settles the hub this context lives on; the first call wins.
    ///
    /// A worker hub lives for the whole process (its `Arc` is held by the
    /// worker table forever), so the pointer is stored as it is; any other
    /// hub's strong count is taken, and marked by the pointer's low bit,
    /// which `HubShared`'s alignment leaves free.
    pub(crate) fn set_hub(&self, hub: &Arc<HubShared>) {
        let raw = if hub.worker.load(Ordering::Relaxed) {
            Arc::as_ptr(hub).cast_mut()
        } else {
            Arc::into_raw(hub.clone())
                .cast_mut()
                .map_addr(|a| a | OWNED)
        };
        if self
            .hub
            .compare_exchange(
                std::ptr::null_mut(),
                raw,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_err()
        {
            release_hub(raw);
        }
    }

    /// The hub this context lives on, once settled.
    pub(crate) fn hub(&self) -> Option<&HubShared> {
        let raw = self.hub.load(Ordering::Acquire).map_addr(|a| a & !OWNED);
        // SAFETY: a non-null `hub` was stored by `set_hub` and is never
        // changed afterwards. It points at a worker hub (alive for the
        // process) or at a hub whose strong count this context holds until
        // `Drop`, so it lives as long as `self`.
        unsafe { raw.as_ref() }
    }

    /// `hub()`, for contexts that must have one (parked or woken ones).
    pub(crate) fn home(&self) -> &HubShared {
        self.hub()
            .unwrap_or_else(|| panic!("green: {self:?} has no hub yet"))
    }

    /// A strong reference to its hub (which it must have).
    pub(crate) fn home_arc(&self) -> Arc<HubShared> {
        let raw = self.hub.load(Ordering::Acquire).map_addr(|a| a & !OWNED);
        assert!(!raw.is_null(), "green: {self:?} has no hub yet");
        // SAFETY: a non-null `hub` came from `Arc::into_raw` and its strong
        // count lives until `self` drops, so taking one more is sound.
        unsafe {
            Arc::increment_strong_count(raw);
            Arc::from_raw(raw)
        }
    }

    /// The id of its hub, once settled.
    pub(crate) fn hub_id(&self) -> Option<usize> {
        self.hub().map(|h| h.id)
    }

    /// The thread's name.
    pub(crate) fn name(&self) -> Option<&str> {
        self.name.as_deref().map(String::as_str)
    }

    /// Records what the context is about to wait on (for dumps).
    pub(crate) fn note_wait(&self, site: &'static WaitSite, detail: u32) {
        self.site
            .store(std::ptr::from_ref(site).cast_mut(), Ordering::Relaxed);
        self.wait.store(
            u64::from(dump::coarse_ms()) << 32 | u64::from(detail),
            Ordering::Relaxed,
        );
    }

    /// Records that the context changed state now (woken, resumed).
    pub(crate) fn note_now(&self) {
        self.wait
            .store(u64::from(dump::coarse_ms()) << 32, Ordering::Relaxed);
    }

    /// What the context waits on, since when (coarse ms) and the detail.
    pub(crate) fn waiting(&self) -> (Option<&'static WaitSite>, u32, u32) {
        let site = self.site.load(Ordering::Relaxed);
        let wait = self.wait.load(Ordering::Relaxed);
        // SAFETY: `site` is null or was stored from a `&'static WaitSite`.
        let site = unsafe { site.cast_const().as_ref() };
        (site, (wait >> 32) as u32, wait as u32)
    }

    /// Whether its hub is running it at this moment.
    pub(crate) fn is_running_now(&self) -> bool {
        self.hub()
            .is_some_and(|h| h.running.load(Ordering::Relaxed) == self.id.get())
    }

    /// Whether it is runnable (running or queued) rather than parked.
    pub(crate) fn is_ready(&self) -> bool {
        self.state.load(Ordering::Relaxed) != PARKED
    }

    /// Whether this is an OS thread's root context.
    pub(crate) fn is_root(&self) -> bool {
        self.slot.load(Ordering::Relaxed) == ROOT_SLOT
    }

    /// Wake this context: see the module docs. Callable from any OS thread.
    pub(crate) fn wake(self: &Arc<Self>) {
        if self.take_wake() {
            hub::schedule(self.clone());
        }
    }

    /// [`Ctx::wake`] for a waker that owns a reference it no longer needs
    /// (a waiter taken off a list): that reference is the one queued.
    pub(crate) fn wake_owned(self: Arc<Self>) {
        if self.take_wake() {
            hub::schedule(self);
        }
    }

    /// The state change of a wake; `true` when it moved the context from
    /// `PARKED` to `RUNNING`, which makes it the waker's to schedule.
    fn take_wake(&self) -> bool {
        let mut state = self.state.load(Ordering::Acquire);
        loop {
            let next = match state {
                PARKED => RUNNING,
                RUNNING => NOTIFIED,
                _ => return false,
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
            self.note_now();
        }
        state == PARKED
    }

    /// First half of a park: consume a pending notification, or move to
    /// `PARKED`. Returns `false` when the caller must not suspend.
    ///
    /// One compare-exchange: only the context itself parks, so it finds
    /// itself `RUNNING` or `NOTIFIED`, and wakers leave `NOTIFIED` alone
    /// (`take_wake`); a failed exchange means notified, and a plain store
    /// consumes it. (Trying `NOTIFIED` first cost a failed locked
    /// instruction on nearly every park.)
    pub(crate) fn begin_park(&self) -> bool {
        match self
            .state
            .compare_exchange(RUNNING, PARKED, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => true,
            Err(actual) => {
                debug_assert_eq!(actual, NOTIFIED, "a context parks only while running");
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

/// Low bit of `Ctx::hub`: the pointer carries a strong count of its hub.
const OWNED: usize = 1;

/// Gives back the strong count a tagged hub pointer carries, if any.
fn release_hub(raw: *mut HubShared) {
    if raw.addr() & OWNED != 0 {
        // SAFETY: a tagged pointer came from `Arc::into_raw` in `set_hub`
        // and is released exactly once, here.
        drop(unsafe { Arc::from_raw(raw.map_addr(|a| a & !OWNED).cast_const()) });
    }
}

impl Drop for Ctx {
    fn drop(&mut self) {
        count_alive(-1);
        release_hub(*self.hub.get_mut());
    }
}
