//! Worker hubs and placement: the OS threads that run hubs forever, and the
//! choice of which hub a new green thread is queued on.
//!
//! The workers start on first use, `runtime::workers()` of them. While a
//! worker is stuck (the monitor's verdict) nothing new is placed there; if
//! every worker is stuck, one more is started, up to as many extra workers
//! as there were workers to begin with ([`MAX_EXTRA`] at most), so new work
//! still runs.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

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

fn start_worker(i: usize) -> Arc<HubShared> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name(format!("green-worker-{i}"))
        .spawn(move || {
            HUB.with(|hub| {
                hub.shared.worker.store(true, Ordering::Relaxed);
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

/// Picks the hub a new green thread is queued on: the next worker that is
/// not stuck, round robin (starting another worker when all are stuck), or
/// this thread's own hub in eventlet mode (`GREEN_WORKERS=0`).
pub(crate) fn placement() -> Option<&'static HubShared> {
    let w = workers();
    let n = w.count.load(Ordering::Acquire);
    if n == 0 {
        return None;
    }
    let start = NEXT_WORKER.fetch_add(1, Ordering::Relaxed);
    for k in 0..n {
        let hub = w.hub((start + k) % n);
        if !hub.stuck.load(Ordering::Relaxed) {
            return Some(hub);
        }
    }
    add_worker_if_all_stuck();
    let n = w.count.load(Ordering::Acquire);
    Some(w.hub(n - 1))
}

/// Queues a green thread on `target` (a worker), or creates it on this
/// thread's own hub when `target` is `None`.
pub(crate) fn spawn_on(target: Option<&HubShared>, ctx: Arc<Ctx>, body: Body, stack: Promise) {
    match target {
        Some(hub) if !with(|h| std::ptr::eq(&*h.shared, hub)) => {
            hub.send_spawn(Spawn { ctx, body, stack });
        }
        _ => with(|hub| hub.create(ctx, body, stack)),
    }
}
