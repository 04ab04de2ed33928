//! Exhaustive-interleaving tests of the park/unpark handshake.
//!
//! Every scenario runs its green threads on the test thread's own hub
//! (`spawn_local` from a plain thread), so the hub is a deterministic,
//! single-OS-thread scheduler: green threads switch only where they park or
//! yield. The handshake marks its steps with `waiter::schedule::point`
//! (after enqueueing, before parking, between unlocking and looking for
//! waiters, before unparking); a *plan* is a bit mask saying at which of the
//! points reached the running green thread yields to the others. A scenario
//! is first run with no yields to count its points `n`, then once for every
//! one of the `2^min(n, MAX_BITS)` plans. A lost wake-up shows up as a
//! scenario that never finishes; the test then fails naming the plan.
//!
//! What this cannot show is a reordering by the CPU (everything here runs on
//! one OS thread); the fences for that are argued in `mutex.rs` and exercised
//! by the cross-thread stress tests in `tests/tests/sync_*.rs`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use green_core::runtime::spawn_local;

use crate::waiter::schedule;
use crate::{mpsc, Condvar, Mutex, Once, OnceLock, RwLock};

/// Most plan bits explored exhaustively (2^12 = 4096 runs per scenario).
const MAX_BITS: u32 = 12;

/// Runs `scenario` (which spawns local green threads and returns how many
/// must report done) under `plan`; `false` if it did not finish in time.
fn run_plan(plan: u64, scenario: &dyn Fn(Arc<AtomicUsize>) -> usize) -> (bool, u32) {
    schedule::set_plan(plan);
    let done = Arc::new(AtomicUsize::new(0));
    let expected = scenario(done.clone());
    let deadline = Instant::now() + Duration::from_secs(5);
    while done.load(Ordering::SeqCst) < expected {
        if Instant::now() >= deadline {
            return (false, schedule::steps());
        }
        // Runs this thread's hub (the scenario's green threads) meanwhile.
        green_core::park::park(Some(Instant::now() + Duration::from_millis(1)));
    }
    let steps = schedule::steps();
    schedule::set_plan(0);
    (true, steps)
}

/// Explores every plan over the points the scenario reaches.
fn explore(name: &str, scenario: &dyn Fn(Arc<AtomicUsize>) -> usize) {
    let (ok, steps) = run_plan(0, scenario);
    assert!(ok, "{name}: hangs even without forced switches");
    let bits = steps.min(MAX_BITS);
    println!("{name}: {steps} points, exploring {} plans", 1u64 << bits);
    for plan in 0..(1u64 << bits) {
        let (ok, _) = run_plan(plan, scenario);
        assert!(
            ok,
            "{name}: lost wake-up with plan {plan:#b} ({steps} points)"
        );
    }
}

/// Spawns a local green thread that runs `f` and reports done.
fn local(done: &Arc<AtomicUsize>, f: impl FnOnce() + Send + 'static) {
    let done = done.clone();
    spawn_local(move || {
        f();
        done.fetch_add(1, Ordering::SeqCst);
    });
}

#[test]
fn mutex_handshake_every_interleaving() {
    explore("mutex", &|done| {
        let m = Arc::new(Mutex::new(0u32));
        let finished = Arc::new(AtomicUsize::new(0));
        for _ in 0..3 {
            let (m, finished) = (m.clone(), finished.clone());
            local(&done, move || {
                for _ in 0..2 {
                    let mut g = m.lock().unwrap();
                    *g += 1;
                    green_core::thread::yield_now();
                }
                if finished.fetch_add(1, Ordering::SeqCst) == 2 {
                    assert_eq!(*m.lock().unwrap(), 6);
                }
            });
        }
        3
    });
}

#[test]
fn condvar_handshake_every_interleaving() {
    explore("condvar", &|done| {
        let pair = Arc::new((Mutex::new(0u32), Condvar::new()));
        for _ in 0..2 {
            let pair = pair.clone();
            local(&done, move || {
                let (m, cv) = &*pair;
                let g = cv.wait_while(m.lock().unwrap(), |n| *n == 0).unwrap();
                drop(g);
            });
        }
        let p = pair.clone();
        local(&done, move || {
            let (m, cv) = &*p;
            *m.lock().unwrap() = 1;
            cv.notify_one();
            green_core::thread::yield_now();
            cv.notify_one();
        });
        3
    });
}

#[test]
fn rwlock_handshake_every_interleaving() {
    explore("rwlock", &|done| {
        let lock = Arc::new(RwLock::new(0u32));
        for i in 0..3 {
            let lock = lock.clone();
            local(&done, move || {
                if i == 1 {
                    let mut w = lock.write().unwrap();
                    *w += 1;
                    green_core::thread::yield_now();
                } else {
                    let r = lock.read().unwrap();
                    green_core::thread::yield_now();
                    drop(r);
                    let _w = lock.write().unwrap();
                }
            });
        }
        3
    });
}

#[test]
fn rendezvous_handshake_every_interleaving() {
    explore("rendezvous", &|done| {
        let (tx, rx) = mpsc::sync_channel::<u32>(0);
        let tx2 = tx.clone();
        local(&done, move || {
            tx.send(1).unwrap();
            tx.send(2).unwrap();
        });
        local(&done, move || tx2.send(3).unwrap());
        local(&done, move || {
            let mut got: Vec<u32> = rx.iter().collect();
            got.sort_unstable();
            assert_eq!(got, [1, 2, 3]);
        });
        3
    });
}

#[test]
fn once_handshake_every_interleaving() {
    explore("once", &|done| {
        let once = Arc::new(Once::new());
        let cell = Arc::new(OnceLock::new());
        let runs = Arc::new(AtomicUsize::new(0));
        for _ in 0..3 {
            let (once, cell, runs) = (once.clone(), cell.clone(), runs.clone());
            local(&done, move || {
                once.call_once(|| {
                    green_core::thread::yield_now();
                    runs.fetch_add(1, Ordering::SeqCst);
                });
                let v = cell.get_or_init(|| {
                    green_core::thread::yield_now();
                    7
                });
                assert_eq!(*v, 7);
                assert_eq!(runs.load(Ordering::SeqCst), 1);
            });
        }
        3
    });
}
