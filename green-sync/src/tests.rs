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
    explore_bits(name, MAX_BITS, scenario);
}

/// [`explore`] over at most `max_bits` points.
fn explore_bits(name: &str, max_bits: u32, scenario: &dyn Fn(Arc<AtomicUsize>) -> usize) {
    let (ok, steps) = run_plan(0, scenario);
    assert!(ok, "{name}: hangs even without forced switches");
    let bits = steps.min(max_bits);
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

// ----- cancellation -----
//
// The same handshakes with one participant cancelled by another local
// green thread after `k` yields, so the cancel lands at every point of the
// handshake the plans reach: before the victim queues, while it is queued,
// and after a waker handed it something but before it ran (the window
// between `Waiter::wait`'s token check and its park, `Point::BeforePark`).
// A waiter that stays queued, or a hand-over nobody takes, leaves another
// participant waiting forever, which the exploration reports.

/// Plan bits explored for the cancellation scenarios (each also runs for
/// every `k` in `CANCEL_AFTER`).
const CANCEL_BITS: u32 = 10;

/// Yields the canceller makes before it cancels.
const CANCEL_AFTER: [u32; 2] = [0, 2];

/// Spawns a local green thread that runs `f`; it reports done also when it
/// is cancelled (or panics).
fn local_handle(
    done: &Arc<AtomicUsize>,
    f: impl FnOnce() + Send + 'static,
) -> green_core::thread::JoinHandle<()> {
    struct Done(Arc<AtomicUsize>);
    impl Drop for Done {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let done = Done(done.clone());
    spawn_local(move || {
        let _done = done;
        f();
    })
}

/// A local green thread that yields `k` times, then cancels `victim`.
fn canceller(done: &Arc<AtomicUsize>, k: u32, victim: green_core::thread::Thread) {
    local(done, move || {
        for _ in 0..k {
            green_core::thread::yield_now();
        }
        green_core::thread::Cancel::cancel(&victim);
    });
}

#[test]
fn mutex_cancelled_waiter_every_interleaving() {
    for k in CANCEL_AFTER {
        explore_bits(&format!("mutex cancel after {k}"), CANCEL_BITS, &|done| {
            let m = Arc::new(Mutex::new(0u32));
            let m1 = m.clone();
            local_handle(&done, move || {
                let g = m1.lock().unwrap();
                green_core::thread::yield_now();
                drop(g);
            });
            let m2 = m.clone();
            let victim = local_handle(&done, move || {
                *m2.lock().unwrap_or_else(|p| p.into_inner()) += 1
            });
            let m3 = m.clone();
            // Must always get the lock: a wake-up the victim took with it
            // would strand this one.
            local_handle(&done, move || {
                *m3.lock().unwrap_or_else(|p| p.into_inner()) += 1
            });
            canceller(&done, k, victim.thread().clone());
            4
        });
    }
}

#[test]
fn rwlock_cancelled_waiter_every_interleaving() {
    for k in CANCEL_AFTER {
        explore_bits(&format!("rwlock cancel after {k}"), CANCEL_BITS, &|done| {
            let lock = Arc::new(RwLock::new(0u32));
            let l1 = lock.clone();
            local_handle(&done, move || {
                let w = l1.write().unwrap();
                green_core::thread::yield_now();
                drop(w);
            });
            let l2 = lock.clone();
            // A reader the writer's release may hand the lock to.
            let victim = local_handle(&done, move || drop(l2.read()));
            let l3 = lock.clone();
            local_handle(&done, move || {
                *l3.write().unwrap_or_else(|p| p.into_inner()) += 1
            });
            canceller(&done, k, victim.thread().clone());
            4
        });
    }
}

#[test]
fn condvar_cancelled_waiter_every_interleaving() {
    for k in CANCEL_AFTER {
        explore_bits(&format!("condvar cancel after {k}"), CANCEL_BITS, &|done| {
            let pair = Arc::new((Mutex::new(false), Condvar::new()));
            let waiter = |done: &Arc<AtomicUsize>| {
                let p = pair.clone();
                local_handle(done, move || {
                    let (m, cv) = &*p;
                    let g = m.lock().unwrap_or_else(|p| p.into_inner());
                    let _g = cv.wait_while(g, |ready| !*ready);
                })
            };
            let victim = waiter(&done);
            let other = waiter(&done);
            let p = pair.clone();
            let victim_thread = victim.thread().clone();
            local(&done, move || {
                let (m, cv) = &*p;
                *m.lock().unwrap() = true;
                cv.notify_one();
                for _ in 0..k {
                    green_core::thread::yield_now();
                }
                green_core::thread::Cancel::cancel(&victim_thread);
                // If the victim returned from its wait with the one
                // notification, the other still waits: notify it. If the
                // victim was cancelled, the notification (if it had it) was
                // passed on, and `other` finishes without another.
                if victim.join().is_ok() {
                    cv.notify_one();
                }
                drop(other);
            });
            3
        });
    }
}

#[test]
fn bounded_send_cancelled_every_interleaving() {
    for k in CANCEL_AFTER {
        explore_bits(
            &format!("bounded send cancel after {k}"),
            CANCEL_BITS,
            &|done| {
                let (tx, rx) = mpsc::sync_channel::<u32>(1);
                tx.send(0).unwrap();
                let victim_sent = Arc::new(AtomicUsize::new(0));
                let (tx1, sent) = (tx.clone(), victim_sent.clone());
                let victim = local_handle(&done, move || {
                    if tx1.send(1).is_ok() {
                        sent.store(1, Ordering::SeqCst);
                    }
                });
                let tx2 = tx.clone();
                local_handle(&done, move || tx2.send(2).unwrap());
                drop(tx);
                canceller(&done, k, victim.thread().clone());
                local(&done, move || {
                    // The freed slot's wake-up reaches the other sender even if
                    // the victim took it and was cancelled.
                    let mut got: Vec<u32> = rx.iter().collect();
                    got.sort_unstable();
                    let want: &[u32] = if victim_sent.load(Ordering::SeqCst) == 1 {
                        &[0, 1, 2]
                    } else {
                        &[0, 2]
                    };
                    assert_eq!(got, want);
                });
                4
            },
        );
    }
}

#[test]
fn rendezvous_cancelled_every_interleaving() {
    for k in CANCEL_AFTER {
        explore_bits(
            &format!("rendezvous cancel after {k}"),
            CANCEL_BITS,
            &|done| {
                let (tx, rx) = mpsc::sync_channel::<u32>(0);
                let victim_sent = Arc::new(AtomicUsize::new(0));
                let (tx1, sent) = (tx.clone(), victim_sent.clone());
                let victim = local_handle(&done, move || {
                    if tx1.send(1).is_ok() {
                        sent.store(1, Ordering::SeqCst);
                    }
                });
                local_handle(&done, move || tx.send(2).unwrap());
                canceller(&done, k, victim.thread().clone());
                local(&done, move || {
                    let got: Vec<u32> = rx.iter().collect();
                    // The other's value always arrives; the victim's at most
                    // once, and surely if its send returned `Ok` (it may also
                    // arrive when the receiver took it just as the cancel
                    // fired: delivered, not handed back).
                    assert_eq!(got.iter().filter(|&&v| v == 2).count(), 1);
                    let ones = got.iter().filter(|&&v| v == 1).count();
                    assert!(ones <= 1);
                    if victim_sent.load(Ordering::SeqCst) == 1 {
                        assert_eq!(ones, 1);
                    }
                });
                4
            },
        );
    }
}

#[test]
fn rendezvous_taken_as_the_sender_is_cancelled_every_interleaving() {
    // Spawned in the order victim, receiver, canceller: with a yield at the
    // victim's `BeforePark`, the receiver takes the offer and the cancel
    // lands before the victim parks, so its park unwinds with the value
    // already delivered; the send must then report `Ok`.
    for k in CANCEL_AFTER {
        explore_bits(
            &format!("rendezvous taken, cancel after {k}"),
            CANCEL_BITS,
            &|done| {
                let (tx, rx) = mpsc::sync_channel::<u32>(0);
                let victim_sent = Arc::new(AtomicUsize::new(0));
                let sent = victim_sent.clone();
                let victim = local_handle(&done, move || {
                    if tx.send(1).is_ok() {
                        sent.store(1, Ordering::SeqCst);
                    }
                });
                let got = Arc::new(AtomicUsize::new(0));
                let g = got.clone();
                let receiver = local_handle(&done, move || {
                    g.store(rx.iter().count(), Ordering::SeqCst);
                });
                let victim_thread = victim.thread().clone();
                local(&done, move || {
                    for _ in 0..k {
                        green_core::thread::yield_now();
                    }
                    green_core::thread::Cancel::cancel(&victim_thread);
                    let _ = victim.join();
                    // The receiver ends once the victim's sender is gone; what it
                    // got is what the victim's send reported.
                    receiver.join().unwrap();
                    assert_eq!(
                        got.load(Ordering::SeqCst),
                        victim_sent.load(Ordering::SeqCst)
                    );
                });
                3
            },
        );
    }
}

#[test]
fn rendezvous_cancelled_receiver_every_interleaving() {
    for k in CANCEL_AFTER {
        explore_bits(
            &format!("rendezvous recv cancel after {k}"),
            CANCEL_BITS,
            &|done| {
                let (tx, rx) = mpsc::sync_channel::<u32>(0);
                let rx = Arc::new(std::sync::Mutex::new(rx));
                local_handle(&done, move || tx.send(7).unwrap());
                let first_got = Arc::new(AtomicUsize::new(0));
                let (r1, got1) = (rx.clone(), first_got.clone());
                let victim = local_handle(&done, move || {
                    let rx = r1.lock().unwrap_or_else(|p| p.into_inner());
                    if rx.recv() == Ok(7) {
                        got1.store(1, Ordering::SeqCst);
                    }
                });
                let victim_thread = victim.thread().clone();
                local(&done, move || {
                    for _ in 0..k {
                        green_core::thread::yield_now();
                    }
                    green_core::thread::Cancel::cancel(&victim_thread);
                    let _ = victim.join();
                    // A value handed to the cancelled receiver stays in the
                    // channel: exactly one of the two receives it.
                    let rx = rx.lock().unwrap_or_else(|p| p.into_inner());
                    let again = rx.recv();
                    if first_got.load(Ordering::SeqCst) == 1 {
                        assert_eq!(again, Err(mpsc::RecvError));
                    } else {
                        assert_eq!(again, Ok(7));
                    }
                });
                3
            },
        );
    }
}
