//! The hub: one per OS thread, created on first use.
//!
//! A hub owns a `polling::Poller`, a run queue, its timers (`timers`), a
//! slab of the green threads living on it and a cross-thread inbox
//! (`shared`). Its loop ([`Hub::run_until`]) runs ready green threads, fires
//! due timers, drains the inbox and, when nothing is ready, sleeps in the
//! poller until the next timer, an fd event, or a `notify` from another
//! thread. Worker start-up and placement are in `workers`; stacks belong to
//! `crate::stack` and the switch to `crate::coroutine`: the hub only
//! schedules.
//!
//! Worker threads run the loop forever. Any other OS thread runs it only while
//! it blocks in a green call (its root context is parked), so green threads
//! placed on that thread's hub run exactly while the thread waits — the way
//! eventlet's hub starts on the first switch.
//!
//! Cross-thread traffic goes through the inbox; see `shared` for the
//! sleep/notify handshake.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::cancel::{self, Scope};
use crate::coroutine::{self, Body, Green};
use crate::ctx::Ctx;
use crate::dump::WaitSite;
use crate::slab::Slab;
use crate::stack::{self, Promise};

pub(crate) mod poll;
mod shared;
mod timers;
mod workers;

pub(crate) use shared::{HubShared, Spawn, Wake};
pub(crate) use timers::TimerKey;
use timers::Timers;
pub(crate) use workers::{add_worker_if_all_stuck, placement, spawn_on, worker_hubs};

/// Most green threads resumed between two looks at the inbox and timers.
const PASS_BUDGET: u32 = 64;

/// How long an idle hub watches its inbox before it sleeps in the poller.
const SPIN: Duration = Duration::from_micros(1);

/// How long an idle hub watches its inbox in all, giving its core away
/// (`sched_yield`) between looks once the busy spin ([`SPIN`]) is over.
const YIELD_SPIN: Duration = Duration::from_micros(50);

/// Fruitless spins in a row before an idle hub stops spinning.
const SPIN_CREDIT: u8 = 4;

/// A sleep that another thread's wake-up ends sooner than this refills the
/// spin credit: the wake-ups come often enough that spinning catches them.
const SPIN_REFILL_WITHIN: Duration = Duration::from_millis(1);

/// Calls that could have waited but did not, before the caller yields
/// (tokio's cooperative budget is the model); refilled on every real switch.
const COOP_BUDGET: u32 = 128;

/// How many events ahead of the one it handles a poll asks the CPU for an
/// fd's state (see `Hub::poll`).
const PREFETCH_AHEAD: usize = 4;

/// A green thread as its hub holds it.
enum Task {
    /// Spawned, not yet run: its stack is promised; which slot it gets is
    /// settled when it first runs (the one this hub freed last).
    Pending(Body, Promise),
    /// Started and suspended.
    Started(Green),
}

/// The per-thread hub; lives in a `thread_local!` and never leaves its thread.
pub(crate) struct Hub {
    pub(crate) shared: Arc<HubShared>,
    /// This OS thread's own context (used when it blocks outside green threads).
    pub(crate) root: Arc<Ctx>,
    run_queue: RefCell<VecDeque<Arc<Ctx>>>,
    /// Green threads by `Ctx::slot`: not yet started, or suspended. A running
    /// one is taken out while it runs.
    tasks: RefCell<Slab<Task>>,
    timers: RefCell<Timers>,
    events: RefCell<poll::EventBuf>,
    /// Contexts a poll's events woke, kept (empty) for its capacity.
    woken: Cell<Vec<Arc<Ctx>>>,
    /// The green thread running right now, if any.
    current: RefCell<Option<Arc<Ctx>>>,
    /// Set by `yield_now`: requeue the current green thread when it switches out.
    yielded: Cell<bool>,
    /// Green threads resumed since the last fd poll.
    since_poll: Cell<u32>,
    /// Spins left before this hub stops spinning (see `Hub::spin`).
    spin_credit: Cell<u8>,
    /// Yielding watches left before this hub stops watching between
    /// `sched_yield`s (see `Hub::spin`).
    yield_credit: Cell<u8>,
    /// Whether this hub has asked for the hub slice yet (see `serves_fds`).
    slice_asked: Cell<bool>,
    /// Cooperative budget of whatever runs now (see `coop`).
    budget: Cell<u32>,
    /// Set when a green thread yields because its budget ran out: the pass
    /// ends there, so timers, fd events and the inbox get their turn.
    budget_spent: Cell<bool>,
    /// Alternates the run queue and the spawn queue in `next_task`.
    spawn_turn: Cell<bool>,
    /// Whether the monitor knows this hub (it runs green threads).
    watched: Cell<bool>,
    /// The scope chain of the running green thread (see `crate::cancel`).
    green_scope: Cell<*const Scope>,
    /// The scope chain of this OS thread's own (root) context.
    root_scope: Cell<*const Scope>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("shared", &self.shared)
            .finish_non_exhaustive()
    }
}

thread_local! {
    static HUB: Hub = Hub::new();
}

/// Runs `f` with this OS thread's hub, creating it on first use.
#[inline]
pub(crate) fn with<R>(f: impl FnOnce(&Hub) -> R) -> R {
    HUB.with(f)
}

impl Hub {
    fn new() -> Hub {
        let shared = Arc::new(HubShared::new());
        let name = std::thread::current().name().map(String::from);
        let root = Arc::new(Ctx::root(name, &shared));
        crate::panic_hook::install();
        Hub {
            shared,
            root,
            run_queue: RefCell::new(VecDeque::new()),
            tasks: RefCell::new(Slab::default()),
            timers: RefCell::new(Timers::default()),
            events: RefCell::new(poll::EventBuf::new(1024)),
            woken: Cell::new(Vec::new()),
            current: RefCell::new(None),
            yielded: Cell::new(false),
            since_poll: Cell::new(0),
            spin_credit: Cell::new(SPIN_CREDIT),
            yield_credit: Cell::new(SPIN_CREDIT),
            slice_asked: Cell::new(false),
            budget: Cell::new(COOP_BUDGET),
            budget_spent: Cell::new(false),
            spawn_turn: Cell::new(false),
            watched: Cell::new(false),
            green_scope: Cell::new(std::ptr::null()),
            root_scope: Cell::new(std::ptr::null()),
        }
    }

    // ----- cancellation -----

    /// The scope chain head of the running context.
    pub(crate) fn scope_cell(&self) -> &Cell<*const Scope> {
        if self.in_green() {
            &self.green_scope
        } else {
            &self.root_scope
        }
    }

    /// The cancellation point: unwinds if a cancel or a deadline of the
    /// running context is due, else returns the earliest deadline that
    /// applies to its wait.
    fn cancellation_point(&self) -> Option<Instant> {
        let scope = self.scope_cell().get();
        let cancelled = self.with_current(Ctx::cancel_requested);
        if scope.is_null() && !cancelled {
            return None;
        }
        if std::thread::panicking() {
            // Already unwinding: not a cancellation point.
            return None;
        }
        // SAFETY: `scope` is the head of the running context's own chain,
        // whose scopes live in frames of that context that are still
        // running (each pops itself before its frame goes away).
        let (due, deadline) = unsafe { cancel::look(scope, cancelled, Instant::now) };
        if let Some(due) = due {
            cancel::fire(due);
        }
        deadline
    }

    // ----- the cooperative budget -----

    /// Spends one unit of the running context's budget; when it is gone,
    /// yields (a green thread) or runs a pass of this hub (a root), and
    /// refills it.
    ///
    /// A root does not also yield its OS thread: the kernel shares cores
    /// between OS threads, as it does for a std thread in the same loop. A
    /// `sched_yield` every 128 calls made a producer on `main` hand its
    /// core over every 128 messages (to the hub it feeds, or to any other
    /// runnable process): 0.7 M jobs/s in the pool bench beside two niced
    /// busy loops, against 3.9-7.6 M without it.
    #[inline]
    pub(crate) fn consume(&self) {
        let left = self.budget.get().saturating_sub(1);
        if left > 0 {
            self.budget.set(left);
            return;
        }
        self.budget_gone();
    }

    /// The budget is gone: refill it and let the others run.
    #[cold]
    #[inline(never)]
    fn budget_gone(&self) {
        self.budget.set(COOP_BUDGET);
        self.budget_spent.set(true);
        self.yield_now();
    }

    /// The running green thread, or `None` on the root.
    pub(crate) fn current(&self) -> Option<Arc<Ctx>> {
        self.current.borrow().clone()
    }

    /// Whether a green thread is running on this OS thread right now.
    pub(crate) fn in_green(&self) -> bool {
        self.current.borrow().is_some()
    }

    /// Runs `f` on the calling context without cloning its `Arc`; `f` must
    /// not switch (the borrow of `current` is held while it runs).
    pub(crate) fn with_current<R>(&self, f: impl FnOnce(&Ctx) -> R) -> R {
        match self.current.borrow().as_ref() {
            Some(ctx) => f(ctx),
            None => f(&self.root),
        }
    }

    /// The context calling this: the running green thread, else the root.
    pub(crate) fn current_ctx(&self) -> Arc<Ctx> {
        self.current().unwrap_or_else(|| self.root.clone())
    }

    // ----- timers -----

    pub(crate) fn add_timer(&self, deadline: Instant, ctx: Arc<Ctx>) -> TimerKey {
        self.shared.timers.fetch_add(1, Ordering::Relaxed);
        self.timers.borrow_mut().add(deadline, ctx)
    }

    pub(crate) fn cancel_timer(&self, key: TimerKey) {
        if self.timers.borrow_mut().cancel(key) {
            self.shared.timers.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Wakes every context whose timer is due; returns the next deadline.
    fn fire_timers(&self) -> Option<Instant> {
        if self.timers.borrow().is_empty() {
            return None;
        }
        let now = Instant::now();
        loop {
            // The borrow ends before `wake`, which may queue on this hub.
            let due = self.timers.borrow_mut().pop_due(now);
            match due {
                Ok(ctx) => {
                    self.shared.timers.fetch_sub(1, Ordering::Relaxed);
                    ctx.wake_owned();
                }
                Err(next) => return next,
            }
        }
    }

    // ----- parking -----

    /// Parks the calling context until woken or `deadline`; may return early
    /// without a wake (callers loop on their own condition).
    pub(crate) fn park(&self, deadline: Option<Instant>) {
        // Every park is a cancellation point; a deadline scope also bounds
        // how long it may wait.
        let deadline = match (deadline, self.cancellation_point()) {
            (Some(d), Some(s)) => Some(d.min(s)),
            (d, s) => d.or(s),
        };
        // Borrow the running context rather than clone its `Arc`: the borrow
        // ends before the switch (the hub takes `current` while we are out).
        if self.in_green() && std::thread::panicking() {
            return self.park_in_place(deadline);
        }
        let parked = self.current.borrow().as_ref().map(|ctx| {
            ctx.begin_park()
                .then(|| deadline.map(|d| self.add_timer(d, ctx.clone())))
        });
        match parked {
            // A pending wake was consumed: no switch, so a call that could
            // have waited did not.
            Some(None) => self.consume(),
            Some(Some(timer)) => self.park_green(timer),
            None => self.park_root(deadline),
        }
    }

    /// Parks the running green thread without switching away from it, for a
    /// thread that is unwinding: std counts panics per OS thread, so while
    /// one green thread unwinds every green thread of its hub would see
    /// `thread::panicking()` (poisoning locks they release normally; a panic
    /// of theirs would abort as a double panic). So an unwinding green
    /// thread that blocks (a destructor flushing a socket, taking a lock)
    /// holds its hub, as an OS thread would, and waits here: polling fds,
    /// firing timers and taking wake-ups, running nobody else.
    #[cold]
    #[inline(never)]
    fn park_in_place(&self, deadline: Option<Instant>) {
        let ctx = self.current_ctx();
        if !ctx.begin_park() {
            return;
        }
        // Done once the wake has *arrived*: a waker moves the context to
        // RUNNING and then queues it (here, or through the inbox from another
        // thread), so RUNNING alone would leave a queue entry behind for a
        // thread that is running already.
        let mut timed_out = false;
        loop {
            self.drain_inbox();
            if self.take_queued(&ctx) {
                break;
            }
            if !timed_out && deadline.is_some_and(|d| Instant::now() >= d) {
                // Wake ourselves; if a waker won the race, its entry comes.
                timed_out = true;
                ctx.wake();
                continue;
            }
            let next = self.fire_timers();
            if self.take_queued(&ctx) {
                break;
            }
            if !ctx.is_parked() {
                // Woken; the waker is between its state change and the queue.
                std::hint::spin_loop();
                continue;
            }
            let wake_at = match (next, deadline.filter(|_| !timed_out)) {
                (Some(t), Some(d)) => Some(t.min(d)),
                (t, d) => t.or(d),
            };
            self.shared.sleeping.store(true, Ordering::SeqCst);
            if self.shared.pending.load(Ordering::SeqCst) || !ctx.is_parked() {
                self.shared.sleeping.store(false, Ordering::SeqCst);
                continue;
            }
            self.poll(wake_at);
            self.shared.sleeping.store(false, Ordering::SeqCst);
        }
    }

    /// Takes `ctx` out of the run queue; returns whether it was there.
    fn take_queued(&self, ctx: &Arc<Ctx>) -> bool {
        let mut queue = self.run_queue.borrow_mut();
        let before = queue.len();
        queue.retain(|c| !Arc::ptr_eq(c, ctx));
        queue.len() != before
    }

    /// Switches a green thread that `begin_park` moved to `PARKED` out to
    /// the hub; `timer` is its deadline's timer, if any.
    #[inline]
    fn park_green(&self, timer: Option<TimerKey>) {
        // Back to the hub loop, which resumes us once a waker moved us to
        // RUNNING and queued us.
        coroutine::suspend();
        if let Some(key) = timer {
            self.cancel_timer(key);
        }
    }

    // Out of line, as is `park_in_place`: inlined, its hub loop gave every
    // green thread's park a frame of 256 bytes instead of 56 (see `park`).
    #[inline(never)]
    fn park_root(&self, deadline: Option<Instant>) {
        let root = &self.root;
        if !root.begin_park() {
            return;
        }
        self.run_until(|| !root.is_parked(), deadline);
        root.end_root_park();
        self.budget.set(COOP_BUDGET);
    }

    /// Requeues the running green thread behind the others and switches out.
    /// On a root, runs one pass of ready green threads.
    /// Returns whether the caller is a green thread.
    #[inline]
    pub(crate) fn yield_now(&self) -> bool {
        if self.in_green() && std::thread::panicking() {
            // Unwinding: no switch (see `park_in_place`).
            return true;
        }
        if self.in_green() {
            self.yielded.set(true);
            coroutine::suspend();
            true
        } else {
            self.drain_inbox();
            self.fire_timers();
            self.run_pass(&|| false);
            false
        }
    }

    // ----- green threads -----

    /// Creates a green thread on this hub and queues it (a spawn placed
    /// here by this thread itself); `stack` was promised to it at spawn.
    pub(crate) fn create(&self, ctx: Arc<Ctx>, body: Body, stack: Promise) {
        let ctx = self.adopt(Spawn {
            ctx,
            body,
            stack,
            queued_at: Instant::now(),
        });
        self.run_queue.borrow_mut().push_back(ctx);
    }

    /// From the first green thread here on: overflows on this OS thread
    /// must be reportable, and the monitor (and dumps) watch the hub.
    fn watch(&self) {
        if !self.watched.replace(true) {
            crate::signal::ensure_altstack();
            crate::monitor::watch(&self.shared);
        }
    }

    /// Makes a spawn one of this hub's green threads, for life.
    fn adopt(&self, spawn: Spawn) -> Arc<Ctx> {
        let Spawn {
            ctx, body, stack, ..
        } = spawn;
        self.watch();
        ctx.set_hub(&self.shared);
        let shared = &self.shared;
        shared
            .live
            .store(shared.live.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        let key = shared
            .threads
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(ctx.clone());
        let slot = self.tasks.borrow_mut().insert(Task::Pending(body, stack));
        // The thread table and the task slab see the same inserts and
        // removes in the same order, so they hand out the same keys: `slot`
        // serves both.
        debug_assert_eq!(key, slot, "thread table and task slab out of step");
        // A hub holds far fewer than 2^32 - 1 green threads: each costs a
        // page of memory at least.
        let slot = u32::try_from(slot).expect("green: more than 2^32 green threads on one hub");
        ctx.slot.store(slot, Ordering::Relaxed);
        ctx
    }

    /// The next green thread to run: the run queue and newly spawned ones
    /// take turns, so neither starves the other; spawns are taken off the
    /// shared queue only now, so until then they can still move elsewhere.
    fn next_task(&self) -> Option<Arc<Ctx>> {
        if self.spawn_turn.replace(!self.spawn_turn.get()) {
            if let Some(spawn) = self.shared.take_spawn() {
                return Some(self.adopt(spawn));
            }
        }
        let next = self.run_queue.borrow_mut().pop_front();
        next.or_else(|| self.shared.take_spawn().map(|spawn| self.adopt(spawn)))
    }

    /// Called when this hub registers an fd: a worker hub asks the kernel
    /// for the shorter scheduler slice of `runtime::hub_slice`, once.
    ///
    /// Only hubs that wait on fds ask. Their wake-ups come from outside
    /// (a client, a child process), and how long they then wait for a core
    /// is the request's latency: under `wrk -c100` on the same 2 cores the
    /// HTTP p99 fell from 1.3–8 ms to 0.7–1.9 ms. Hubs that only trade with
    /// each other and with the process's own OS threads gain nothing from
    /// shorter turns but more switches between them (spawn + join of
    /// 100,000 from `main`: 465 against 415 ns a thread, median of 6).
    pub(crate) fn serves_fds(&self) {
        if self.slice_asked.replace(true) || !self.shared.worker.load(Ordering::Relaxed) {
            return;
        }
        if let Some(slice) = crate::runtime::hub_slice() {
            crate::sys::ask_for_slice(slice);
        }
    }

    /// Resumes one green thread until it parks, yields or finishes.
    #[inline]
    fn resume(&self, ctx: Arc<Ctx>) {
        let slot = ctx.slot.load(Ordering::Relaxed) as usize;
        let task = self.tasks.borrow_mut().take(slot);
        let mut green = match task {
            Some(Task::Started(green)) => green,
            Some(Task::Pending(body, promise)) => Green::new(stack::bind(promise), body),
            // Broken invariant: a queued context always has its task here.
            None => panic!("green hub {}: no task for queued {ctx:?}", self.shared.id),
        };
        self.since_poll.set(self.since_poll.get().saturating_add(1));
        self.budget.set(COOP_BUDGET);
        let shared = &self.shared;
        shared.switches.store(
            shared.switches.load(Ordering::Relaxed).wrapping_add(1),
            Ordering::Relaxed,
        );
        shared.running.store(ctx.id.get(), Ordering::Relaxed);
        crate::monitor::hub_awake();
        ctx.note_now();
        crate::signal::set_running(Arc::as_ptr(&ctx));
        *self.current.borrow_mut() = Some(ctx);
        self.green_scope.set(green.scope);
        self.prefetch_next();
        let finished = green.resume();
        green.scope = self.green_scope.replace(std::ptr::null());
        let ctx = self
            .current
            .borrow_mut()
            .take()
            .expect("current green thread vanished during resume");
        crate::signal::set_running(std::ptr::null());
        shared.running.store(0, Ordering::Relaxed);
        if finished {
            self.tasks.borrow_mut().remove(slot);
            shared
                .threads
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(slot);
            // (`stack::finished` already ran at the end of the body.)
            // SAFETY: the coroutine has returned from its body, so nothing
            // runs on its stack or will resume there.
            unsafe { stack::release(green.into_stack()) };
            shared
                .live
                .store(shared.live.load(Ordering::Relaxed) - 1, Ordering::Relaxed);
        } else {
            let sp = coroutine::switched_out_at();
            ctx.parked_sp.store(sp, Ordering::Relaxed);
            ctx.parked_depth
                .store(green.depth_at(sp), Ordering::Relaxed);
            self.tasks.borrow_mut().put(slot, Task::Started(green));
            if self.yielded.replace(false) {
                self.run_queue.borrow_mut().push_back(ctx);
            }
        }
    }

    /// While one green thread runs, has the CPU fetch what the next two in
    /// the queue will touch first: the next one's stack where it parked,
    /// its task entry and what its wait reads first, and the context of the one after it (whose `parked_sp` is read in
    /// turn). With a thousand threads queued by one poll, those lines are
    /// long out of cache, and a resume otherwise waits for each of them.
    #[inline]
    fn prefetch_next(&self) {
        let queue = self.run_queue.borrow();
        if let Some(next) = queue.front() {
            stack::prefetch_resume(
                next.parked_sp.load(Ordering::Relaxed),
                next.parked_depth.load(Ordering::Relaxed),
            );
            let on = next.parked_on.load(Ordering::Relaxed);
            if on != 0 {
                stack::prefetch(on, 64);
            }
            let slot = next.slot.load(Ordering::Relaxed) as usize;
            if let Some((at, len)) = self.tasks.borrow().span_of(slot) {
                stack::prefetch(at, len);
            }
        }
        if let Some(after) = queue.get(1) {
            // (From the reference counts in front of the context.)
            let at = Arc::as_ptr(after) as usize - 2 * std::mem::size_of::<usize>();
            stack::prefetch(at, std::mem::size_of::<Ctx>() + 16);
        }
    }

    /// Runs the green threads that are ready now (not those made ready while
    /// doing so), stopping early when `stop` turns true.
    fn run_pass(&self, stop: &dyn Fn() -> bool) -> bool {
        let mut ran = 0;
        while ran < PASS_BUDGET {
            match self.next_task() {
                Some(ctx) => self.resume(ctx),
                None => break,
            }
            ran += 1;
            if stop() {
                return true;
            }
            if self.budget_spent.replace(false) {
                // A green thread used up its budget: look at timers, fds and
                // the inbox before running anything else.
                self.since_poll.set(PASS_BUDGET);
                break;
            }
        }
        ran > 0
    }

    fn drain_inbox(&self) {
        // Skip the channel entirely unless a sender flagged new items; the
        // swap pairs with the sender's store (see `HubShared::send`).
        if !self.shared.pending.load(Ordering::Relaxed)
            || !self.shared.pending.swap(false, Ordering::AcqRel)
        {
            return;
        }
        while let Ok(Wake(ctx)) = self.shared.inbox_rx.try_recv() {
            if !ctx.is_root() {
                self.run_queue.borrow_mut().push_back(ctx);
            }
        }
    }

    /// The hub loop: runs until `done()` holds or `deadline` passes.
    pub(crate) fn run_until(&self, done: impl Fn() -> bool, deadline: Option<Instant>) {
        loop {
            if done() {
                return;
            }
            self.drain_inbox();
            let ran = self.run_pass(&done);
            if done() {
                return;
            }
            let next_timer = self.fire_timers();
            if deadline.is_some_and(|d| Instant::now() >= d) {
                // Checked every pass: green threads that keep yielding must
                // not hold a blocked OS thread past its deadline.
                return;
            }
            let ready = !self.run_queue.borrow().is_empty() || self.shared.has_spawns();
            if ready {
                // Busy: still look at fd events every `PASS_BUDGET` resumes,
                // so a listener or socket whose green thread is not in the
                // run queue waits for at most that many others.
                if self.since_poll.get() >= PASS_BUDGET
                    && self.shared.fds.load(Ordering::Relaxed) > 0
                {
                    self.poll(Some(Instant::now()));
                }
                continue;
            }
            if ran {
                // Running may have added timers or inbox items: look again
                // before deciding to sleep.
                continue;
            }
            let mut wake_at = match (next_timer, deadline) {
                (Some(t), Some(d)) => Some(t.min(d)),
                (t, d) => t.or(d),
            };
            if let Some(d) = deadline {
                if Instant::now() >= d {
                    return;
                }
            }
            if self.spin(&done, wake_at) {
                continue;
            }
            // Idle: take spawns another worker has left waiting, or look
            // again when the young ones it holds would be due.
            if self.shared.worker.load(Ordering::Relaxed) {
                match workers::steal(&self.shared) {
                    Ok(taken) => {
                        // Queued here, not adopted: until each starts, the
                        // monitor can still move it if one of them blocks
                        // this hub.
                        self.shared.take_over(taken);
                        continue;
                    }
                    Err(Some(again)) => {
                        wake_at = Some(wake_at.map_or(again, |w| w.min(again)));
                    }
                    Err(None) => {}
                }
            }
            // About to sleep: hand freed stacks' pages back to the kernel
            // if a trim is due, or wake up when it will be.
            if let Some(due) = stack::trim_due() {
                let now = Instant::now();
                if due <= now {
                    stack::trim(now, &|| self.shared.pending.load(Ordering::Relaxed));
                }
                if let Some(due) = stack::trim_due() {
                    // Never sooner than a millisecond: a trim another hub is
                    // running must not make this one spin.
                    let due = due.max(now + Duration::from_millis(1));
                    wake_at = Some(wake_at.map_or(due, |w| w.min(due)));
                }
            }
            self.shared.sleeping.store(true, Ordering::SeqCst);
            if self.shared.pending.load(Ordering::SeqCst) || done() {
                self.shared.sleeping.store(false, Ordering::SeqCst);
                continue;
            }
            let slept = Instant::now();
            self.shared.steal_woken.store(false, Ordering::Relaxed);
            let events = self.poll(wake_at);
            self.shared.sleeping.store(false, Ordering::SeqCst);
            // Awake again: keep the coarse clock fresh and let the monitor
            // watch (it sleeps for good while every hub sleeps).
            crate::dump::tick_clock(Instant::now());
            let woken = events > 0 || self.shared.pending.load(Ordering::Relaxed);
            if woken && slept.elapsed() < SPIN_REFILL_WITHIN {
                // Another thread (or an fd event) woke us soon after we
                // fell asleep: its wake-ups come often, and each one that
                // finds us asleep costs a notify or a wake-up in the poller
                // (on a loaded machine, also a trip through the scheduler),
                // so spin again next time. A window
                // of a few spins (16 µs, as before) lost the credit as soon
                // as wake-ups were slowed by the notifies themselves: a
                // producer on an OS thread feeding a worker pool then paid
                // a notify per message (130 k jobs/s under a background
                // load, against 2 M with this window).
                self.spin_credit.set(SPIN_CREDIT);
                if slept.elapsed() < YIELD_SPIN {
                    // So soon that watching a little longer would have
                    // caught it.
                    self.yield_credit.set(SPIN_CREDIT);
                }
            }
        }
    }

    /// Watches the inbox for a short while before sleeping: a reply from
    /// another hub often arrives within microseconds, and catching it here
    /// saves both sides the notify and poller syscalls (about 8 µs a round
    /// trip on this machine). Returns `true` if there is work.
    ///
    /// The watch has two phases: a busy spin of [`SPIN`], then, up to
    /// [`YIELD_SPIN`], looks between `sched_yield`s. The second phase is for
    /// a sender that shares this hub's core (a producer on a plain OS thread,
    /// on a machine with few cores or busy ones): busy spinning would take
    /// the CPU that sender needs, and sleeping makes its next message pay a
    /// notify that also preempts it, so the two take turns per message. A
    /// yield hands the core over and the sender fills the inbox meanwhile;
    /// on an otherwise idle core it returns at once and costs a syscall.
    ///
    /// A hub with fds registered yields once instead and then asks the
    /// poller without waiting: their events reach it only there. This is for
    /// a server whose clients share its cores (a closed loop such as `wrk`
    /// on the same machine): the yield lets a client run and send, and the
    /// look then finds its requests, where sleeping in the poller made every
    /// pause a context switch and every next request a wake-up. Under
    /// `wrk -c1000` it took the server from 0.11 sleeps per request to 0.02
    /// and from about 4,900 context switches a second to about 330.
    ///
    /// Spinning is adaptive: each spin that finds nothing costs a credit, and
    /// a hub out of credit sleeps at once (an I/O-bound hub then spends no CPU
    /// spinning); a spin that pays off, or a sleep cut short by another hub,
    /// refills the credit. The yielding phase has a credit of its own,
    /// refilled only when it pays off or a sleep ends within [`YIELD_SPIN`],
    /// so wake-ups that come every few hundred µs cost a hub the busy spin
    /// each, not 50 µs of yields.
    fn spin(&self, done: &impl Fn() -> bool, wake_at: Option<Instant>) -> bool {
        let credit = self.spin_credit.get();
        if credit == 0 {
            return false;
        }
        let start = Instant::now();
        let bound = |d: Duration| match wake_at {
            Some(at) => (start + d).min(at),
            None => start + d,
        };
        let work = || self.shared.pending.load(Ordering::Relaxed) || done();
        let found = 'watch: {
            let until = bound(SPIN);
            loop {
                for _ in 0..16 {
                    if work() {
                        break 'watch true;
                    }
                    std::hint::spin_loop();
                }
                if Instant::now() >= until {
                    break;
                }
            }
            let yields = self.yield_credit.get();
            if yields == 0 {
                break 'watch false;
            }
            if self.shared.fds.load(Ordering::Relaxed) > 0 {
                // fd events reach this hub only through the poller: one
                // yield, then one look that does not wait.
                std::thread::yield_now();
                if work() || self.poll(Some(Instant::now())) > 0 {
                    self.yield_credit.set(SPIN_CREDIT);
                    break 'watch true;
                }
                self.yield_credit.set(yields - 1);
                break 'watch false;
            }
            let until = bound(YIELD_SPIN);
            while Instant::now() < until {
                std::thread::yield_now();
                if work() {
                    self.yield_credit.set(SPIN_CREDIT);
                    break 'watch true;
                }
            }
            self.yield_credit.set(yields - 1);
            false
        };
        self.spin_credit
            .set(if found { SPIN_CREDIT } else { credit - 1 });
        found
    }

    /// Waits for fd events until `wake_at` (or forever) and wakes their waiters.
    fn poll(&self, wake_at: Option<Instant>) -> usize {
        self.since_poll.set(0);
        let polls = &self.shared.polls;
        polls.store(
            polls.load(Ordering::Relaxed).wrapping_add(1),
            Ordering::Relaxed,
        );
        let mut events = self.events.borrow_mut();
        let timeout = wake_at.map(|at| at.saturating_duration_since(Instant::now()));
        match poll::wait(&self.shared.poller, &mut events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => return 0,
            Err(e) => panic!("green hub {}: epoll wait failed: {e}", self.shared.id),
        }
        // Each event is handled under the registration lock, which keeps
        // its state alive without a reference count of its own to touch
        // (another cache line per event). Only a `GreenFd` dropped on
        // another OS thread waits for this lock.
        //
        // With a thousand connections every fd state and every context is
        // out of cache, and the two misses each event took one after the
        // other were most of its cost. So the state of the event
        // `PREFETCH_AHEAD` places on is asked for while this one is handled,
        // the waiters' contexts are asked for as they are collected, and
        // they are woken (their first touch) after the whole batch.
        let mut woken = self.woken.take();
        let io = self.shared.io.lock().unwrap_or_else(|p| p.into_inner());
        let mut n = 0;
        for (i, (key, what)) in events.iter().enumerate() {
            if let Some(ahead) = events.key(i + PREFETCH_AHEAD).and_then(|k| io.get(k)) {
                ahead.prefetch();
            }
            if key == poll::WAKE_KEY {
                self.shared.wakeup.drain();
            } else if let Some(state) = io.get(key) {
                state.on_event(what, &mut woken);
                n += 1;
            }
        }
        drop(io);
        drop(events);
        for ctx in woken.drain(..) {
            ctx.wake_owned();
        }
        // Keeps its capacity for the next poll.
        self.woken.set(woken);
        n
    }

    /// Runs the hub forever (worker threads).
    pub(crate) fn run_forever(&self) -> ! {
        loop {
            self.run_until(|| false, None);
        }
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        // The OS thread is exiting. Green threads that never started are
        // dropped unrun: their completion guard tells their joiners, and
        // their stacks go back. Suspended ones cannot be unwound safely from
        // a thread-local destructor, so their coroutines (and stacks) are
        // leaked.
        for task in self.tasks.get_mut().drain() {
            match task {
                Task::Pending(body, promise) => {
                    // Dropping the body unrun tells its joiner and ends its
                    // place in the thread budget; the promised stack goes
                    // back unused.
                    drop(body);
                    drop(promise);
                }
                // (Their registry entries stay: the threads are still live,
                // if unreachable.)
                Task::Started(green) => std::mem::forget(green),
            }
        }
    }
}

/// Queues a context that a waker just moved to `RUNNING`.
pub(crate) fn schedule(ctx: Arc<Ctx>) {
    // The `Arc` moves into the run queue or the inbox: no reference count
    // is touched on the way.
    let mut ctx = Some(ctx);
    let _ = HUB.try_with(|hub| {
        if ctx
            .as_ref()
            .is_some_and(|c| std::ptr::eq(&*hub.shared, c.home()))
        {
            match ctx.take() {
                Some(c) if !c.is_root() => hub.run_queue.borrow_mut().push_back(c),
                // A local root is re-checked by its own loop.
                _ => {}
            }
        }
    });
    if let Some(ctx) = ctx {
        // An `Arc` of our own: once `ctx` is in the hub's inbox, the hub may
        // drop it (and with it the last other reference) before `send`
        // returns.
        let hub = ctx.home_arc();
        hub.send(Wake(ctx));
    }
}

/// The running green thread's name (outer `None`: not on a green thread).
pub(crate) fn current_green_name() -> Option<Option<String>> {
    HUB.try_with(|hub| hub.current().map(|c| c.name().map(String::from)))
        .ok()
        .flatten()
}

/// Parks the caller (green thread or OS thread) until woken or `deadline`,
/// noting for dumps that it waits at `site` (with `detail`: an fd, a
/// deadline in coarse ms).
pub(crate) fn park_at(site: &'static WaitSite, detail: u32, deadline: Option<Instant>) {
    with(|hub| {
        hub.with_current(|c| c.note_wait(site, detail));
        hub.park(deadline);
    });
}

/// Parks the caller until woken or `deadline` (a generic park).
pub(crate) fn park(deadline: Option<Instant>) {
    park_at(&crate::dump::PARK, 0, deadline);
}

/// Spends one unit of the caller's cooperative budget (see `coop`).
#[inline]
pub(crate) fn consume() {
    with(Hub::consume);
}

/// Sleeps the caller until `deadline`; never returns early.
pub(crate) fn sleep_until(deadline: Instant) {
    if Instant::now() >= deadline {
        // A sleep that did not wait (a zero or past deadline).
        consume();
        return;
    }
    let until = crate::dump::ms_of(deadline);
    while Instant::now() < deadline {
        park_at(&crate::dump::SLEEP, until, Some(deadline));
    }
}

/// Sleeps the caller for `dur` (forever if the deadline is unrepresentable).
pub(crate) fn sleep(dur: Duration) {
    if dur.is_zero() {
        consume();
        return;
    }
    match Instant::now().checked_add(dur) {
        Some(deadline) => sleep_until(deadline),
        None => loop {
            park_at(&crate::dump::SLEEP, u32::MAX, None);
        },
    }
}
