//! Worker hubs and placement: the OS threads that run hubs forever, and the
//! choice of which hub a new green thread is queued on.
//!
//! The workers start on first use, `runtime::workers()` of them. While a
//! worker is stuck (the monitor's verdict) nothing new is placed there; if
//! every worker is stuck, one more is started, up to as many extra workers
//! as there were workers to begin with ([`MAX_EXTRA`] at most), so new work
//! still runs.

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::{with, HubShared, Spawn, HUB};
use crate::coroutine::Body;
use crate::ctx::Ctx;
use crate::stack::Promise;

/// Most extra workers, however many were configured.
pub(crate) const MAX_EXTRA: usize = 64;

/// The worker hubs started so far (the configured ones first), in slots
/// filled once each, so placement reads them without a lock.
struct Workers {
    slots: Vec<OnceLock<Arc<HubShared>>>,
    /// Slots filled so far.
    count: AtomicUsize,
    /// Serialises starting extra workers.
    grow: Mutex<()>,
}

impl Workers {
    fn hub(&'static self, i: usize) -> &'static HubShared {
        self.slots[i]
            .get()
            .expect("worker slots below `count` are filled")
    }
}

static WORKERS: OnceLock<Workers> = OnceLock::new();
static NEXT_WORKER: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// This OS thread's index among the workers, if it is one.
    static WORKER_INDEX: Cell<Option<usize>> = const { Cell::new(None) };
    /// The worker that spawns from this (non-worker) thread go to.
    static HOME: Cell<Option<usize>> = const { Cell::new(None) };
}

/// How long a spawn may wait in its hub's queue before an idle hub takes
/// it: long enough that a hub about to run it (two threads spawned
/// together, a ping-pong pair) keeps it, short enough that a busy hub's
/// backlog spreads quickly.
pub(crate) const STEAL_AFTER: Duration = Duration::from_micros(50);

/// How long a short queue (below [`WAKE_STEALER_AT`]) must wait before an
/// idle hub takes from it: its hub is then busy with something long.
pub(crate) const STEAL_SHORT_AFTER: Duration = Duration::from_millis(1);

/// Queued spawns at which a sleeping worker is woken to help. A few
/// threads spawned together (a ping-pong pair, a small pipeline, a worker
/// pool) stay below it and keep to one hub: waking a second worker for
/// them would split them whenever the first is slow to get the CPU.
pub(crate) const WAKE_STEALER_AT: usize = 16;

fn start_worker(i: usize) -> Arc<HubShared> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name(format!("green-worker-{i}"))
        .spawn(move || {
            HUB.with(|hub| {
                hub.shared.worker.store(true, Ordering::Relaxed);
                WORKER_INDEX.with(|w| w.set(Some(i)));
                hub.watch();
                let _ = tx.send(hub.shared.clone());
                hub.run_forever()
            })
        })
        .unwrap_or_else(|e| panic!("green: cannot start worker hub {i}: {e}"));
    rx.recv()
        .unwrap_or_else(|_| panic!("green: worker hub {i} died while starting"))
}

/// The worker hubs, started on first use.
fn workers() -> &'static Workers {
    WORKERS.get_or_init(|| {
        let n = crate::runtime::workers();
        let _ = crate::runtime::WORKERS_STARTED.set(n);
        let extra = if n == 0 { 0 } else { n.min(MAX_EXTRA) };
        let slots: Vec<OnceLock<Arc<HubShared>>> =
            (0..n + extra).map(|_| OnceLock::new()).collect();
        for (i, slot) in slots.iter().take(n).enumerate() {
            let _ = slot.set(start_worker(i));
        }
        crate::monitor::start();
        Workers {
            slots,
            count: AtomicUsize::new(n),
            grow: Mutex::new(()),
        }
    })
}

/// A snapshot of the worker hubs.
pub(crate) fn worker_hubs() -> Vec<Arc<HubShared>> {
    match WORKERS.get() {
        Some(w) => (0..w.count.load(Ordering::Acquire))
            .map(|i| w.slots[i].get().expect("filled below `count`").clone())
            .collect(),
        None => Vec::new(),
    }
}

/// Starts one more worker if every worker is stuck and the bound allows;
/// returns it.
pub(crate) fn add_worker_if_all_stuck() -> Option<Arc<HubShared>> {
    let w = WORKERS.get()?;
    let _grow = w.grow.lock().unwrap_or_else(|p| p.into_inner());
    let n = w.count.load(Ordering::Acquire);
    if (0..n).any(|i| !w.hub(i).stuck.load(Ordering::Relaxed)) || n >= w.slots.len() {
        return None;
    }
    let hub = start_worker(n);
    let _ = w.slots[n].set(hub.clone());
    w.count.store(n + 1, Ordering::Release);
    Some(hub)
}

/// Picks the hub a new green thread is queued on.
///
/// * From a green thread on a worker: the least loaded worker (green
///   threads started there plus those queued), its own hub on a tie. A
///   server's accept loop spreads its connections this way, and a thread
///   on an idle machine keeps its helpers next to it.
/// * From any other thread (`main`, a plain OS thread): its home worker,
///   chosen round robin at its first spawn, so threads spawned together (a
///   ping-pong pair, a pipeline, a worker pool) share a hub and talk without
///   waking another OS thread. Idle workers take spawns left waiting in a
///   backlog ([`steal`]), so a burst still spreads.
///
/// A stuck worker gets nothing new, and if every worker is stuck another
/// starts. `None` in eventlet mode (`GREEN_WORKERS=0`): the spawner's own
/// hub.
pub(crate) fn placement() -> Option<&'static HubShared> {
    let w = workers();
    let n = w.count.load(Ordering::Acquire);
    if n == 0 {
        return None;
    }
    let own = WORKER_INDEX
        .with(Cell::get)
        .filter(|_| with(|h| h.in_green()));
    if let Some(own) = own {
        let mut best: Option<(&'static HubShared, usize)> = None;
        for k in 0..n {
            let hub = w.hub((own + k) % n);
            if hub.stuck.load(Ordering::Relaxed) {
                continue;
            }
            let l = hub.load();
            if best.is_none_or(|(_, b)| l < b) {
                best = Some((hub, l));
            }
        }
        if let Some((hub, _)) = best {
            return Some(hub);
        }
    } else {
        let start = HOME.with(|home| match home.get() {
            Some(i) => i,
            None => {
                let i = NEXT_WORKER.fetch_add(1, Ordering::Relaxed);
                home.set(Some(i));
                i
            }
        });
        for k in 0..n {
            let hub = w.hub((start + k) % n);
            if !hub.stuck.load(Ordering::Relaxed) {
                return Some(hub);
            }
        }
    }
    add_worker_if_all_stuck();
    let n = w.count.load(Ordering::Acquire);
    Some(w.hub(n - 1))
}

/// Wakes one sleeping worker other than `busy` so it can take spawns that
/// wait too long on `busy` (it decides when it looks).
pub(crate) fn wake_a_stealer(busy: &HubShared) {
    let Some(w) = WORKERS.get() else { return };
    for i in 0..w.count.load(Ordering::Acquire) {
        let hub = w.hub(i);
        if std::ptr::eq(hub, busy) || !hub.sleeping.load(Ordering::SeqCst) {
            continue;
        }
        if !hub.steal_woken.swap(true, Ordering::AcqRel) {
            hub.notify();
        }
        return;
    }
}

/// For an idle worker: takes the older half of another worker's queued
/// spawns if they have waited longer than [`STEAL_AFTER`] in a backlog of
/// [`WAKE_STEALER_AT`] or more, or [`STEAL_SHORT_AFTER`] in a shorter one,
/// but never more than evens out the two hubs' threads. Returns what it
/// took, or when to look again (spawns are queued elsewhere but are still
/// young).
pub(crate) fn steal(me: &HubShared) -> Result<Vec<Spawn>, Option<Instant>> {
    let Some(w) = WORKERS.get() else {
        return Err(None);
    };
    let now = Instant::now();
    let mut again: Option<Instant> = None;
    for i in 0..w.count.load(Ordering::Acquire) {
        let victim = w.hub(i);
        if std::ptr::eq(victim, me) || victim.stuck.load(Ordering::Relaxed) {
            // (A stuck hub's queue is the monitor's to move.)
            continue;
        }
        if victim.sleeping.load(Ordering::SeqCst) {
            if victim.queued() == 0 {
                // Idle: nothing to take, now or later (a spawn there wakes
                // it, and a backlog wakes us).
                continue;
            }
            // Notified and about to wake (which can take longer than
            // STEAL_AFTER on a busy machine): its spawns stay together.
            // Look again in a while in case it stays busy once awake.
            let at = now + STEAL_AFTER;
            again = Some(again.map_or(at, |a| a.min(at)));
            continue;
        }
        // Never past an even split of the two hubs' threads: a hub that
        // takes half a backlog of connections from a busy one keeps them for
        // life, and with them a longer turn for each of its clients.
        let (mine, theirs) = (me.load(), victim.load());
        if theirs <= mine + 1 {
            continue;
        }
        let most = (theirs - mine) / 2;
        match victim.steal_half(
            now - STEAL_AFTER,
            now - STEAL_SHORT_AFTER,
            WAKE_STEALER_AT,
            most,
        ) {
            Ok(taken) => return Ok(taken),
            Err(Some(oldest)) => {
                let wait = if victim.queued() >= WAKE_STEALER_AT {
                    STEAL_AFTER
                } else {
                    STEAL_SHORT_AFTER
                };
                let at = oldest + wait;
                again = Some(again.map_or(at, |a| a.min(at)));
            }
            Err(None) => {}
        }
    }
    Err(again)
}

/// Queues a green thread on `target` (a worker), or creates it on this
/// thread's own hub when `target` is `None`.
pub(crate) fn spawn_on(target: Option<&HubShared>, ctx: Arc<Ctx>, body: Body, stack: Promise) {
    match target {
        // Queued, also on the caller's own worker hub: until it starts, an
        // idle hub may take it.
        Some(hub) => hub.send_spawn(Spawn {
            ctx,
            body,
            stack,
            queued_at: Instant::now(),
        }),
        // Eventlet mode or `spawn_local`: this hub, for life.
        None => with(|hub| hub.create(ctx, body, stack)),
    }
}
