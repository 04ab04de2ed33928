//! `Mutex`, `MutexGuard`: the same scenarios on `std::sync`, on `green_sync`
//! from a plain thread and on `green_sync` inside a green thread; then
//! green-only checks (a waiter or a sleeping holder does not block its hub,
//! bounded unfairness, mixed green/OS stress).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use green_conformance::{assert_send_sync, eventually, Flavor, Rng};

green_conformance::std_and_green! {
    std: { use std::sync; }
    green: { use green_sync as sync; }

    fn counts_every_increment(flavor) {
        let m = sync::Arc::new(sync::Mutex::new(0u64));
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let m = m.clone();
                flavor.spawn(move || {
                    for _ in 0..500 {
                        *m.lock().unwrap() += 1;
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(*m.lock().unwrap(), 4000);
        let m = sync::Arc::try_unwrap(m).unwrap();
        assert_eq!(m.into_inner().unwrap(), 4000);
    }

    fn try_lock_would_block_while_held_elsewhere(flavor) {
        let m = sync::Arc::new(sync::Mutex::new(1));
        let (held_tx, held_rx) = std::sync::mpsc::channel();
        let (go_tx, go_rx) = sync::mpsc::channel::<()>();
        let m2 = m.clone();
        let h = flavor.spawn(move || {
            let g = m2.lock().unwrap();
            held_tx.send(()).unwrap();
            go_rx.recv().unwrap();
            drop(g);
        });
        // The holder is another thread; wait for it to hold the lock.
        while held_rx.try_recv().is_err() {
            flavor.yield_now();
        }
        assert!(matches!(m.try_lock(), Err(sync::TryLockError::WouldBlock)));
        go_tx.send(()).unwrap();
        h.join().unwrap();
        assert_eq!(*m.try_lock().unwrap(), 1);
    }

    fn lock_blocks_until_the_holder_unlocks(flavor) {
        let m = sync::Arc::new(sync::Mutex::new(Vec::new()));
        let g = m.lock().unwrap();
        let m2 = m.clone();
        let h = flavor.spawn(move || m2.lock().unwrap().push("waiter"));
        flavor.sleep(Duration::from_millis(20));
        assert!(!h.is_finished());
        drop(g);
        h.join().unwrap();
        assert_eq!(*m.lock().unwrap(), ["waiter"]);
    }

    fn panic_while_holding_poisons(flavor) {
        let m = sync::Arc::new(sync::Mutex::new(5));
        assert!(!m.is_poisoned());
        let m2 = m.clone();
        let r = flavor
            .spawn(move || {
                let mut g = m2.lock().unwrap();
                *g = 6;
                panic!("poison the mutex");
            })
            .join();
        assert!(r.is_err());
        assert!(m.is_poisoned());
        match m.lock() {
            Err(poisoned) => assert_eq!(**poisoned.get_ref(), 6),
            Ok(_) => panic!("lock on a poisoned mutex must fail"),
        }
        match m.try_lock() {
            Err(sync::TryLockError::Poisoned(p)) => assert_eq!(*p.into_inner(), 6),
            _ => panic!("try_lock on a poisoned mutex must report it"),
        }
        // The error's messages are std's (it is std's own type).
        let err = m.lock().map(|_| ()).unwrap_err();
        assert_eq!(err.to_string(), "poisoned lock: another task failed inside");
        drop(err);
        m.clear_poison();
        assert!(!m.is_poisoned());
        *m.lock().unwrap() = 7;
        let mut m = sync::Arc::try_unwrap(m).unwrap();
        assert_eq!(*m.get_mut().unwrap(), 7);
        assert_eq!(m.into_inner().unwrap(), 7);
    }

    fn poisoned_into_inner_and_get_mut_report_it(flavor) {
        let m = sync::Arc::new(sync::Mutex::new(String::from("x")));
        let m2 = m.clone();
        let _ = flavor
            .spawn(move || {
                let _g = m2.lock().unwrap();
                panic!("poison");
            })
            .join();
        let mut m = sync::Arc::try_unwrap(m).unwrap();
        assert_eq!(m.get_mut().unwrap_err().into_inner().as_str(), "x");
        assert_eq!(m.into_inner().unwrap_err().into_inner(), "x");
    }

    fn guard_dropped_without_panic_does_not_poison(flavor) {
        let m = sync::Arc::new(sync::Mutex::new(0));
        let m2 = m.clone();
        flavor.spawn(move || *m2.lock().unwrap() += 1).join().unwrap();
        // A panic *after* the guard is gone does not poison either.
        let m3 = m.clone();
        let _ = flavor
            .spawn(move || {
                drop(m3.lock().unwrap());
                panic!("late");
            })
            .join();
        assert!(!m.is_poisoned());
    }

    fn debug_display_default_from_and_unsized(flavor) {
        let _ = flavor;
        let m = sync::Mutex::new(5);
        assert_eq!(format!("{m:?}"), "Mutex { data: 5, poisoned: false, .. }");
        {
            let g = m.lock().unwrap();
            // std quotes it for `Mutex` (not for `RwLock`).
            assert_eq!(format!("{m:?}"), "Mutex { data: \"<locked>\", poisoned: false, .. }");
            assert_eq!(format!("{g:?} {g}"), "5 5");
        }
        let d: sync::Mutex<Vec<u8>> = Default::default();
        assert!(d.lock().unwrap().is_empty());
        let f = sync::Mutex::from(3u8);
        assert_eq!(*f.lock().unwrap(), 3);
        let boxed: Box<sync::Mutex<[u32]>> = Box::new(sync::Mutex::new([1, 2, 3]));
        boxed.lock().unwrap()[1] = 20;
        assert_eq!(&*boxed.lock().unwrap(), &[1, 20, 3]);
        let arc: sync::Arc<sync::Mutex<dyn std::fmt::Debug + Send>> =
            sync::Arc::new(sync::Mutex::new(9));
        assert_eq!(format!("{:?}", &*arc.lock().unwrap()), "9");
    }

    fn const_new_in_a_static(flavor) {
        static LOG: std::sync::OnceLock<()> = std::sync::OnceLock::new();
        let _ = (&LOG, flavor);
        static M: sync::Mutex<Vec<u32>> = sync::Mutex::new(Vec::new());
        M.lock().unwrap().push(1);
        assert!(!M.lock().unwrap().is_empty());
    }
}

/// Compile-time: the same auto traits as std.
#[test]
fn auto_traits_match_std() {
    fn unwind_safe<T: std::panic::UnwindSafe + std::panic::RefUnwindSafe>() {}
    fn sync<T: Sync>() {}
    assert_send_sync::<green_sync::Mutex<u32>>();
    assert_send_sync::<green_sync::Mutex<std::cell::Cell<u32>>>(); // T: Send suffices
    unwind_safe::<green_sync::Mutex<std::cell::Cell<u32>>>();
    unwind_safe::<green_sync::MutexGuard<'static, std::cell::Cell<u32>>>();
    sync::<green_sync::MutexGuard<'static, u32>>();
}

// ----- green-only -----

/// A green thread blocked in `lock` lets the other green threads on its hub
/// run, including the holder, which lives on the same hub.
#[test]
fn a_waiter_does_not_block_its_hub() {
    green_core::thread::spawn(|| {
        let m = green_sync::Arc::new(green_sync::Mutex::new(0));
        let hub = green_core::runtime::hub_id();
        let g = m.lock().unwrap();
        let m2 = m.clone();
        let waiter = green_core::runtime::spawn_local(move || {
            assert_eq!(green_core::runtime::hub_id(), hub);
            *m2.lock().unwrap() += 1;
        });
        let ran = green_sync::Arc::new(AtomicBool::new(false));
        let r2 = ran.clone();
        let other = green_core::runtime::spawn_local(move || r2.store(true, Ordering::SeqCst));
        // Let the waiter block; the other one must still run.
        green_core::thread::sleep(Duration::from_millis(10));
        assert!(ran.load(Ordering::SeqCst));
        other.join().unwrap();
        assert!(!waiter.is_finished());
        drop(g);
        waiter.join().unwrap();
        assert_eq!(*m.lock().unwrap(), 1);
    })
    .join()
    .unwrap();
}

/// A green thread that sleeps while holding a lock does not stop the other
/// green threads on its hub (those that need the lock wait for it; the
/// others run).
#[test]
fn a_sleeping_holder_does_not_block_its_hub() {
    green_core::thread::spawn(|| {
        let m = green_sync::Arc::new(green_sync::Mutex::new(0u32));
        let progress = green_sync::Arc::new(AtomicUsize::new(0));
        let m2 = m.clone();
        let holder = green_core::runtime::spawn_local(move || {
            let mut g = m2.lock().unwrap();
            green_core::thread::sleep(Duration::from_millis(30));
            *g += 1;
        });
        green_core::thread::yield_now(); // the holder takes the lock
        let p = progress.clone();
        let ticker = green_core::runtime::spawn_local(move || {
            for _ in 0..10 {
                p.fetch_add(1, Ordering::SeqCst);
                green_core::thread::sleep(Duration::from_millis(1));
            }
        });
        let m3 = m.clone();
        let contender = green_core::runtime::spawn_local(move || *m3.lock().unwrap() += 10);
        ticker.join().unwrap();
        assert_eq!(progress.load(Ordering::SeqCst), 10);
        holder.join().unwrap();
        contender.join().unwrap();
        assert_eq!(*m.lock().unwrap(), 11);
    })
    .join()
    .unwrap();
}

/// Bounded unfairness: a green thread waiting for a mutex that OS threads
/// re-lock back to back still gets it (starvation mode after 1 ms).
#[test]
fn a_waiter_is_not_starved_by_barging_os_threads() {
    let m = green_sync::Arc::new(green_sync::Mutex::new(0u64));
    let stop = green_sync::Arc::new(AtomicBool::new(false));
    let hammers: Vec<_> = (0..2)
        .map(|_| {
            let (m, stop) = (m.clone(), stop.clone());
            std::thread::spawn(move || {
                // Bounded: at most 5 s of hammering even if the test fails.
                let end = Instant::now() + Duration::from_secs(5);
                while !stop.load(Ordering::Relaxed) && Instant::now() < end {
                    let mut g = m.lock().unwrap();
                    *g += 1;
                    // Hold it a little, then re-lock immediately.
                    for _ in 0..50 {
                        std::hint::spin_loop();
                    }
                    drop(g);
                }
            })
        })
        .collect();
    let m2 = m.clone();
    let victim = green_core::thread::spawn(move || {
        for _ in 0..20 {
            *m2.lock().unwrap() += 1_000_000;
        }
    });
    victim.join().unwrap();
    let done_while_hammered = !hammers.iter().all(|h| h.is_finished());
    stop.store(true, Ordering::Relaxed);
    for h in hammers {
        h.join().unwrap();
    }
    assert!(
        done_while_hammered,
        "the green waiter only got the lock after the OS threads stopped"
    );
    assert!(*m.lock().unwrap() >= 20_000_000);
}

/// Bounded, seeded stress: green threads on every worker hub, green threads
/// on the test thread's hub and OS threads increment one mutex; nothing is
/// lost.
#[test]
fn mixed_stress_counts_exactly() {
    let mut rng = Rng::from_env("sync_mutex::mixed_stress");
    let m = green_sync::Arc::new(green_sync::Mutex::new(0u64));
    let mut expected = 0u64;
    let mut green = Vec::new();
    let mut os = Vec::new();
    for i in 0..60 {
        let n = 50 + rng.below(200);
        expected += n;
        let m = m.clone();
        let work = move || {
            for k in 0..n {
                let mut g = m.lock().unwrap();
                *g += 1;
                if k % 7 == 0 {
                    drop(g);
                    green_core::thread::yield_now();
                }
            }
        };
        match i % 3 {
            0 => green.push(green_core::thread::spawn(work)),
            1 => green.push(green_core::runtime::spawn_local(work)),
            _ => os.push(std::thread::spawn(work)),
        }
    }
    for h in green {
        h.join().unwrap();
    }
    for h in os {
        h.join().unwrap();
    }
    assert_eq!(*m.lock().unwrap(), expected);
}

/// The lock's waiter count returns to zero: after heavy contention an
/// uncontended lock/unlock takes the fast path and nothing is left queued
/// (a leaked waiter would make `try_lock` succeed but `lock` hang).
#[test]
fn contention_leaves_no_stale_waiters() {
    let m = green_sync::Arc::new(green_sync::Mutex::new(0u32));
    let hs: Vec<_> = (0..100)
        .map(|_| {
            let m = m.clone();
            green_core::thread::spawn(move || {
                for _ in 0..100 {
                    *m.lock().unwrap() += 1;
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    let m2 = m.clone();
    let h = std::thread::spawn(move || *m2.lock().unwrap());
    assert!(eventually(
        Flavor::GreenPlain,
        Duration::from_secs(10),
        || h.is_finished()
    ));
    assert_eq!(h.join().unwrap(), 10_000);
}
