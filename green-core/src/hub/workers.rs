//! Worker hubs and placement: the OS threads that run hubs forever, and the
//! choice of which hub a new green thread lives on.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use super::{with, HubShared, Inbound, HUB};
use crate::coroutine::Body;
use crate::ctx::Ctx;
use crate::stack::Promise;

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
pub(crate) fn spawn_on(ctx: Arc<Ctx>, body: Body, stack: Promise) {
    ctx.hub.live.fetch_add(1, Ordering::Relaxed);
    let local = with(|hub| Arc::ptr_eq(&hub.shared, &ctx.hub));
    if local {
        with(|hub| hub.create(ctx, body, stack));
    } else {
        let hub = ctx.hub.clone();
        hub.send(Inbound::Spawn(ctx, body, stack));
    }
}
