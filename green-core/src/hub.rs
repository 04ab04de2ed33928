//! The hub: one per OS thread, created on first use.
//!
//! A hub owns a `polling::Poller`, a run queue, an ordered timer map, a slab
//! of the green threads living on it, a pool of finished stacks and a
//! cross-thread inbox. Its loop ([`Hub::run_until`]) runs ready green threads,
//! fires due timers, drains the inbox and, when nothing is ready, sleeps in
//! the poller until the next timer, an fd event, or a `notify` from another
//! thread.
//!
//! Worker threads run the loop forever. Any other OS thread runs it only while
//! it blocks in a green call (its root context is parked), so green threads
//! placed on that thread's hub run exactly while the thread waits — the way
//! eventlet's hub starts on the first switch.
//!
//! Cross-thread traffic goes through the inbox: a remote wake or a spawn is
//! pushed, then the hub is notified only if it is asleep (`sleeping`).
//! The hub publishes `sleeping = true` and then re-checks the inbox before it
//! sleeps; a producer pushes and then reads `sleeping`. Both sides use
//! `SeqCst`, so at least one of them sees the other (no lost wake-up).

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, VecDeque};
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use polling::{Events, Poller};

use crate::ctx::{Ctx, ROOT_SLOT};
use crate::io::IoState;
use crate::slab::Slab;
use crate::stack::{self, Body, Gen};

/// Most green threads resumed between two looks at the inbox and timers.
const PASS_BUDGET: u32 = 64;

/// How long an idle hub watches its inbox before it sleeps in the poller.
const SPIN: Duration = Duration::from_micros(4);

/// Fruitless spins in a row before an idle hub stops spinning.
const SPIN_CREDIT: u8 = 4;

/// Something another OS thread hands to a hub.
pub(crate) enum Inbound {
    /// A context on this hub was woken elsewhere (a root: just re-check).
    Wake(Arc<Ctx>),
    /// A new green thread to create and run here.
    Spawn(Arc<Ctx>, Body),
}

/// The part of a hub other threads may touch.
pub(crate) struct HubShared {
    /// Process-unique, for debugging and registration bookkeeping.
    pub(crate) id: usize,
    /// Waits for fd events and timeouts; `notify` wakes it from any thread.
    pub(crate) poller: Poller,
    inbox_tx: Sender<Inbound>,
    inbox_rx: Receiver<Inbound>,
    /// Set by every sender after it pushes; the hub clears it before it
    /// drains, so a set flag always means "look at the inbox".
    pending: AtomicBool,
    /// `true` while the hub is in (or about to enter) `Poller::wait`.
    sleeping: AtomicBool,
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

/// A green thread as its hub holds it.
enum Task {
    /// Spawned, not yet run: the stack is only made (or taken from the pool)
    /// when it first runs, so a burst of short green threads reuses a few
    /// stacks instead of mapping one each.
    Pending(Body),
    /// Started and suspended.
    Started(Gen),
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
    timers: RefCell<BTreeMap<(Instant, u64), Arc<Ctx>>>,
    timer_seq: Cell<u64>,
    pool: RefCell<Vec<Gen>>,
    events: RefCell<Events>,
    /// The green thread running right now, if any.
    current: RefCell<Option<Arc<Ctx>>>,
    /// Set by `yield_now`: requeue the current green thread when it switches out.
    yielded: Cell<bool>,
    /// Set by a green thread just before it switches out on purpose (park or
    /// yield); anything else that returns from `resume` unfinished is a stack
    /// overflow.
    switched: Cell<bool>,
    /// Green threads resumed since the last fd poll.
    since_poll: Cell<u32>,
    /// Spins left before this hub stops spinning (see `Hub::spin`).
    spin_credit: Cell<u8>,
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
pub(crate) fn with<R>(f: impl FnOnce(&Hub) -> R) -> R {
    HUB.with(f)
}

/// A key for a pending timer, to cancel it.
pub(crate) type TimerKey = (Instant, u64);

impl Hub {
    fn new() -> Hub {
        static NEXT_ID: AtomicUsize = AtomicUsize::new(0);
        let poller = Poller::new().unwrap_or_else(|e| {
            panic!("green: cannot create this thread's hub poller (epoll): {e}")
        });
        let (inbox_tx, inbox_rx) = crossbeam_channel::unbounded();
        let shared = Arc::new(HubShared {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            poller,
            inbox_tx,
            inbox_rx,
            pending: AtomicBool::new(false),
            sleeping: AtomicBool::new(false),
            live: AtomicUsize::new(0),
            fds: AtomicUsize::new(0),
            io: Mutex::new(Slab::default()),
        });
        let name = std::thread::current().name().map(String::from);
        let root = Arc::new(Ctx::new(name, shared.clone(), ROOT_SLOT, 0));
        crate::panic_hook::install();
        Hub {
            shared,
            root,
            run_queue: RefCell::new(VecDeque::new()),
            tasks: RefCell::new(Slab::default()),
            timers: RefCell::new(BTreeMap::new()),
            timer_seq: Cell::new(0),
            pool: RefCell::new(Vec::new()),
            events: RefCell::new(Events::with_capacity(
                NonZeroUsize::new(1024).expect("non-zero"),
            )),
            current: RefCell::new(None),
            yielded: Cell::new(false),
            switched: Cell::new(false),
            since_poll: Cell::new(0),
            spin_credit: Cell::new(SPIN_CREDIT),
        }
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
        let seq = self.timer_seq.get().wrapping_add(1);
        self.timer_seq.set(seq);
        let key = (deadline, seq);
        self.timers.borrow_mut().insert(key, ctx);
        key
    }

    pub(crate) fn cancel_timer(&self, key: TimerKey) {
        self.timers.borrow_mut().remove(&key);
    }

    /// Wakes every context whose timer is due; returns the next deadline.
    fn fire_timers(&self) -> Option<Instant> {
        if self.timers.borrow().is_empty() {
            return None;
        }
        let now = Instant::now();
        loop {
            let due = {
                let mut timers = self.timers.borrow_mut();
                match timers.first_key_value() {
                    Some((&(at, _), _)) if at <= now => timers.pop_first().map(|(_, c)| c),
                    Some((&(at, _), _)) => return Some(at),
                    None => return None,
                }
            };
            if let Some(ctx) = due {
                ctx.wake();
            }
        }
    }

    // ----- parking -----

    /// Parks the calling context until woken or `deadline`; may return early
    /// without a wake (callers loop on their own condition).
    pub(crate) fn park(&self, deadline: Option<Instant>) {
        // Borrow the running context rather than clone its `Arc`: the borrow
        // ends before the switch (the hub takes `current` while we are out).
        let parked = self.current.borrow().as_ref().map(|ctx| {
            ctx.begin_park()
                .then(|| deadline.map(|d| self.add_timer(d, ctx.clone())))
        });
        match parked {
            // A pending wake was consumed: no switch.
            Some(None) => {}
            Some(Some(timer)) => self.park_green(timer),
            None => self.park_root(deadline),
        }
    }

    /// Switches a green thread that `begin_park` moved to `PARKED` out to
    /// the hub; `timer` is its deadline's timer, if any.
    fn park_green(&self, timer: Option<TimerKey>) {
        self.switched.set(true);
        // Back to the hub loop, which resumes us once a waker moved us to
        // RUNNING and queued us.
        generator::co_yield_with(());
        if let Some(key) = timer {
            self.cancel_timer(key);
        }
    }

    fn park_root(&self, deadline: Option<Instant>) {
        let root = &self.root;
        if !root.begin_park() {
            return;
        }
        self.run_until(|| !root.is_parked(), deadline);
        root.end_root_park();
    }

    /// Requeues the running green thread behind the others and switches out.
    /// On a root, runs one pass of ready green threads.
    /// Returns whether the caller is a green thread.
    pub(crate) fn yield_now(&self) -> bool {
        if self.in_green() {
            self.yielded.set(true);
            self.switched.set(true);
            generator::co_yield_with(());
            true
        } else {
            self.drain_inbox();
            self.fire_timers();
            self.run_pass(&|| false);
            false
        }
    }

    // ----- green threads -----

    /// Creates a green thread on this hub and queues it. `ctx.hub` must be
    /// this hub and one stack must have been reserved for it.
    pub(crate) fn create(&self, ctx: Arc<Ctx>, body: Body) {
        let slot = self.tasks.borrow_mut().insert(Task::Pending(body));
        ctx.slot.store(slot, Ordering::Relaxed);
        self.run_queue.borrow_mut().push_back(ctx);
    }

    /// Gives a pending green thread its stack.
    fn start(&self, ctx: &Ctx, body: Body) -> Option<Gen> {
        let made = {
            let mut pool = self.pool.borrow_mut();
            stack::create(&mut pool, ctx.stack_size, body)
        };
        match made {
            Ok(mut gen) => {
                // Non-null local data puts the coroutine in generator's
                // "coroutine mode": `co_yield_with` works at any call depth.
                // The pointer is never dereferenced.
                gen.set_local_data(ctx as *const Ctx as *mut u8);
                Some(gen)
            }
            // The body was dropped unrun; its completion guard has already
            // delivered the error to the joiner.
            Err(_msg) => None,
        }
    }

    /// Resumes one green thread until it parks, yields or finishes.
    fn resume(&self, ctx: Arc<Ctx>) {
        let slot = ctx.slot.load(Ordering::Relaxed);
        let task = self.tasks.borrow_mut().take(slot);
        let mut gen = match task {
            Some(Task::Started(gen)) => gen,
            Some(Task::Pending(body)) => match self.start(&ctx, body) {
                Some(gen) => gen,
                None => {
                    self.tasks.borrow_mut().remove(slot);
                    stack::finished();
                    self.shared.live.fetch_sub(1, Ordering::Relaxed);
                    return;
                }
            },
            // Broken invariant: a queued context always has its task here.
            None => panic!("green hub {}: no task for queued {ctx:?}", self.shared.id),
        };
        self.since_poll.set(self.since_poll.get().saturating_add(1));
        *self.current.borrow_mut() = Some(ctx);
        gen.resume();
        let ctx = self
            .current
            .borrow_mut()
            .take()
            .expect("current green thread vanished during resume");
        // A green thread leaves `resume` by finishing, by parking or yielding
        // (both set `switched`), or — with neither — because generator's
        // guard-page handler jumped out of an overflowed stack.
        // (generator reports an overflowed coroutine as done.)
        if !self.switched.replace(false) && stack::overflowed(&mut gen) {
            overflow_abort(&ctx);
        }
        if gen.is_done() {
            self.tasks.borrow_mut().remove(slot);
            // (`stack::finished` already ran at the end of the body.)
            stack::recycle(&mut self.pool.borrow_mut(), gen, ctx.stack_size);
            self.shared.live.fetch_sub(1, Ordering::Relaxed);
        } else {
            self.tasks.borrow_mut().put(slot, Task::Started(gen));
            if self.yielded.replace(false) {
                self.run_queue.borrow_mut().push_back(ctx);
            }
        }
    }

    /// Runs the green threads that are ready now (not those made ready while
    /// doing so), stopping early when `stop` turns true.
    fn run_pass(&self, stop: &dyn Fn() -> bool) -> bool {
        let mut ran = 0;
        while ran < PASS_BUDGET {
            let next = self.run_queue.borrow_mut().pop_front();
            match next {
                Some(ctx) => self.resume(ctx),
                None => break,
            }
            ran += 1;
            if stop() {
                return true;
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
        while let Ok(item) = self.shared.inbox_rx.try_recv() {
            match item {
                Inbound::Wake(ctx) => {
                    if !ctx.is_root() {
                        self.run_queue.borrow_mut().push_back(ctx);
                    }
                }
                Inbound::Spawn(ctx, body) => self.create(ctx, body),
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
            let ready = !self.run_queue.borrow().is_empty();
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
            let wake_at = match (next_timer, deadline) {
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
            self.shared.sleeping.store(true, Ordering::SeqCst);
            if self.shared.pending.load(Ordering::SeqCst) || done() {
                self.shared.sleeping.store(false, Ordering::SeqCst);
                continue;
            }
            let slept = Instant::now();
            self.poll(wake_at);
            self.shared.sleeping.store(false, Ordering::SeqCst);
            if self.shared.pending.load(Ordering::Relaxed) && slept.elapsed() < SPIN * 4 {
                // Another hub answered soon after we fell asleep: spinning
                // would have caught it, so spin again next time.
                self.spin_credit.set(SPIN_CREDIT);
            }
        }
    }

    /// Watches the inbox for a short while before sleeping: a reply from
    /// another hub often arrives within microseconds, and catching it here
    /// saves both sides the notify and poller syscalls (about 8 µs a round
    /// trip on this machine). Returns `true` if there is work.
    ///
    /// Spinning is adaptive: each spin that finds nothing costs a credit, and
    /// a hub out of credit sleeps at once (an I/O-bound hub then spends no CPU
    /// spinning); a spin that pays off, or a sleep cut short by another hub,
    /// refills the credit.
    fn spin(&self, done: &impl Fn() -> bool, wake_at: Option<Instant>) -> bool {
        let credit = self.spin_credit.get();
        if credit == 0 {
            return false;
        }
        let start = Instant::now();
        let until = match wake_at {
            Some(at) => (start + SPIN).min(at),
            None => start + SPIN,
        };
        loop {
            for _ in 0..16 {
                if self.shared.pending.load(Ordering::Relaxed) || done() {
                    self.spin_credit.set(SPIN_CREDIT);
                    return true;
                }
                std::hint::spin_loop();
            }
            if Instant::now() >= until {
                self.spin_credit.set(credit - 1);
                return false;
            }
        }
    }

    /// Waits for fd events until `wake_at` (or forever) and wakes their waiters.
    fn poll(&self, wake_at: Option<Instant>) {
        self.since_poll.set(0);
        let mut events = self.events.borrow_mut();
        events.clear();
        let timeout = wake_at.map(|at| at.saturating_duration_since(Instant::now()));
        match self.shared.poller.wait(&mut events, timeout) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => return,
            Err(e) => panic!("green hub {}: poller wait failed: {e}", self.shared.id),
        }
        if events.is_empty() {
            return;
        }
        let io = self.shared.io.lock().unwrap_or_else(|p| p.into_inner());
        let ready: Vec<_> = events
            .iter()
            .filter_map(|ev| io.get(ev.key).map(|s| (s.clone(), ev)))
            .collect();
        drop(io);
        drop(events);
        for (state, ev) in ready {
            state.on_event(ev.readable, ev.writable);
        }
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
        // The OS thread is exiting. Suspended green threads cannot be unwound
        // safely from a thread-local destructor, so their stacks are leaked;
        // finished, pooled stacks are freed.
        for task in self.tasks.get_mut().drain() {
            if let Task::Started(gen) = task {
                std::mem::forget(gen);
            }
        }
        stack::drain_pool(self.pool.get_mut());
    }
}

/// Queues a context that a waker just moved to `RUNNING`.
pub(crate) fn schedule(ctx: Arc<Ctx>) {
    let local = HUB
        .try_with(|hub| {
            if Arc::ptr_eq(&hub.shared, &ctx.hub) {
                if !ctx.is_root() {
                    hub.run_queue.borrow_mut().push_back(ctx.clone());
                }
                // A local root is re-checked by its own loop.
                true
            } else {
                false
            }
        })
        .unwrap_or(false);
    if !local {
        let hub = ctx.hub.clone();
        hub.send(Inbound::Wake(ctx));
    }
}

/// The running green thread's name (outer `None`: not on a green thread).
pub(crate) fn current_green_name() -> Option<Option<String>> {
    HUB.try_with(|hub| hub.current().map(|c| c.name.clone()))
        .ok()
        .flatten()
}

/// The overflow report std gives for OS threads, naming the green thread.
fn overflow_abort(ctx: &Ctx) -> ! {
    use std::io::Write;
    let name = ctx.name.as_deref().unwrap_or("<unnamed>");
    let _ = writeln!(
        std::io::stderr(),
        "\nthread '{name}' (green thread, {} KiB stack) has overflowed its stack\n\
         fatal runtime error: stack overflow; raise it with thread::Builder::stack_size \
         or GREEN_STACK_SIZE",
        ctx.stack_size / 1024
    );
    std::process::abort();
}

// ----- worker hubs -----

static WORKERS: OnceLock<Vec<Arc<HubShared>>> = OnceLock::new();
static NEXT_WORKER: AtomicUsize = AtomicUsize::new(0);

/// The worker hubs, started on first use.
fn workers() -> &'static [Arc<HubShared>] {
    WORKERS.get_or_init(|| {
        let n = crate::runtime::workers();
        let _ = crate::runtime::WORKERS_STARTED.set(n);
        let (tx, rx) = std::sync::mpsc::channel();
        for i in 0..n {
            let tx = tx.clone();
            std::thread::Builder::new()
                .name(format!("green-worker-{i}"))
                .spawn(move || {
                    HUB.with(|hub| {
                        let _ = tx.send(hub.shared.clone());
                        hub.run_forever()
                    })
                })
                .unwrap_or_else(|e| panic!("green: cannot start worker hub {i}: {e}"));
        }
        drop(tx);
        rx.iter().take(n).collect()
    })
}

/// Picks the hub a new green thread goes to: the next worker, round robin,
/// or this thread's own hub in eventlet mode (`GREEN_WORKERS=0`).
pub(crate) fn placement() -> Arc<HubShared> {
    let workers = workers();
    if workers.is_empty() {
        return with(|hub| hub.shared.clone());
    }
    let i = NEXT_WORKER.fetch_add(1, Ordering::Relaxed) % workers.len();
    workers[i].clone()
}

/// Creates a green thread on `ctx.hub`: directly when that is this thread's
/// hub, through its inbox otherwise.
pub(crate) fn spawn_on(ctx: Arc<Ctx>, body: Body) {
    ctx.hub.live.fetch_add(1, Ordering::Relaxed);
    let local = with(|hub| Arc::ptr_eq(&hub.shared, &ctx.hub));
    if local {
        with(|hub| hub.create(ctx, body));
    } else {
        let hub = ctx.hub.clone();
        hub.send(Inbound::Spawn(ctx, body));
    }
}

/// Parks the caller (green thread or OS thread) until woken or `deadline`.
pub(crate) fn park(deadline: Option<Instant>) {
    with(|hub| hub.park(deadline));
}

/// Sleeps the caller until `deadline`; never returns early.
pub(crate) fn sleep_until(deadline: Instant) {
    while Instant::now() < deadline {
        park(Some(deadline));
    }
}

/// Sleeps the caller for `dur` (forever if the deadline is unrepresentable).
pub(crate) fn sleep(dur: Duration) {
    if dur.is_zero() {
        return;
    }
    match Instant::now().checked_add(dur) {
        Some(deadline) => sleep_until(deadline),
        None => loop {
            park(None);
        },
    }
}
