//! `RwLock`, `RwLockReadGuard`, `RwLockWriteGuard` (incl. `downgrade`): the
//! same scenarios on `std::sync`, on `green_sync` from a plain thread and on
//! `green_sync` inside a green thread; then green-only checks.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use green_conformance::{assert_send_sync, Rng};

green_conformance::std_and_green! {
    std: { use std::sync; }
    green: { use green_sync as sync; }

    fn readers_share_writers_exclude(flavor) {
        let lock = sync::Arc::new(sync::RwLock::new(0u32));
        let r1 = lock.read().unwrap();
        let r2 = lock.try_read().unwrap();
        assert_eq!(*r1 + *r2, 0);
        assert!(matches!(lock.try_write(), Err(sync::TryLockError::WouldBlock)));
        let l2 = lock.clone();
        let writer = flavor.spawn(move || *l2.write().unwrap() += 1);
        flavor.sleep(Duration::from_millis(20));
        assert!(!writer.is_finished());
        drop(r1);
        drop(r2);
        writer.join().unwrap();
        let w = lock.write().unwrap();
        assert!(matches!(lock.try_read(), Err(sync::TryLockError::WouldBlock)));
        assert!(matches!(lock.try_write(), Err(sync::TryLockError::WouldBlock)));
        assert_eq!(*w, 1);
    }

    fn writers_count_exactly(flavor) {
        let lock = sync::Arc::new(sync::RwLock::new(0u64));
        let hs: Vec<_> = (0..6)
            .map(|i| {
                let lock = lock.clone();
                flavor.spawn(move || {
                    for _ in 0..300 {
                        if i % 2 == 0 {
                            *lock.write().unwrap() += 1;
                        } else {
                            let v = *lock.read().unwrap();
                            assert!(v <= 900);
                        }
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(*lock.read().unwrap(), 900);
    }

    fn write_panic_poisons_read_panic_does_not(flavor) {
        let lock = sync::Arc::new(sync::RwLock::new(1));
        let l = lock.clone();
        let _ = flavor
            .spawn(move || {
                let _r = l.read().unwrap();
                panic!("reader panics");
            })
            .join();
        assert!(!lock.is_poisoned());
        let l = lock.clone();
        let _ = flavor
            .spawn(move || {
                let mut w = l.write().unwrap();
                *w = 2;
                panic!("writer panics");
            })
            .join();
        assert!(lock.is_poisoned());
        assert_eq!(**lock.read().unwrap_err().get_ref(), 2);
        assert_eq!(*lock.write().unwrap_err().into_inner(), 2);
        assert!(matches!(lock.try_read(), Err(sync::TryLockError::Poisoned(_))));
        assert!(matches!(lock.try_write(), Err(sync::TryLockError::Poisoned(_))));
        lock.clear_poison();
        assert!(!lock.is_poisoned());
        let l = lock.clone();
        let _ = flavor
            .spawn(move || {
                let _w = l.write().unwrap();
                panic!("again");
            })
            .join();
        let mut lock = sync::Arc::try_unwrap(lock).unwrap();
        assert_eq!(*lock.get_mut().unwrap_err().into_inner(), 2);
        assert_eq!(lock.into_inner().unwrap_err().into_inner(), 2);
    }

    fn downgrade_keeps_writers_out_and_lets_readers_in(flavor) {
        let lock = sync::Arc::new(sync::RwLock::new(0));
        let mut w = lock.write().unwrap();
        *w = 1;
        let l = lock.clone();
        let writer = flavor.spawn(move || {
            let mut w = l.write().unwrap();
            // Runs only after the downgraded reader is gone.
            assert_eq!(*w, 1);
            *w = 2;
        });
        flavor.sleep(Duration::from_millis(10));
        let r = sync::RwLockWriteGuard::downgrade(w);
        assert_eq!(*r, 1);
        flavor.sleep(Duration::from_millis(10));
        assert!(!writer.is_finished());
        assert_eq!(*r, 1);
        drop(r);
        writer.join().unwrap();
        assert_eq!(*lock.read().unwrap(), 2);
    }

    fn debug_default_from_and_unsized(flavor) {
        let _ = flavor;
        let lock = sync::RwLock::new(5);
        assert_eq!(format!("{lock:?}"), "RwLock { data: 5, poisoned: false, .. }");
        {
            let w = lock.write().unwrap();
            assert_eq!(format!("{lock:?}"), "RwLock { data: <locked>, poisoned: false, .. }");
            assert_eq!(format!("{w:?} {w}"), "5 5");
        }
        {
            let r = lock.read().unwrap();
            assert_eq!(format!("{lock:?}"), "RwLock { data: 5, poisoned: false, .. }");
            assert_eq!(format!("{r:?} {r}"), "5 5");
        }
        let d: sync::RwLock<String> = Default::default();
        assert!(d.read().unwrap().is_empty());
        assert_eq!(*sync::RwLock::from(4).read().unwrap(), 4);
        let boxed: Box<sync::RwLock<[u8]>> = Box::new(sync::RwLock::new([1, 2]));
        boxed.write().unwrap()[0] = 9;
        assert_eq!(&*boxed.read().unwrap(), &[9, 2]);
        static S: sync::RwLock<u8> = sync::RwLock::new(3);
        assert_eq!(*S.read().unwrap(), 3);
    }
}

#[test]
fn auto_traits_match_std() {
    fn unwind_safe<T: std::panic::UnwindSafe + std::panic::RefUnwindSafe>() {}
    fn sync<T: Sync>() {}
    assert_send_sync::<green_sync::RwLock<u32>>();
    unwind_safe::<green_sync::RwLock<std::cell::Cell<u32>>>();
    unwind_safe::<green_sync::RwLockWriteGuard<'static, std::cell::Cell<u32>>>();
    unwind_safe::<green_sync::RwLockReadGuard<'static, u32>>();
    sync::<green_sync::RwLockReadGuard<'static, u32>>();
    sync::<green_sync::RwLockWriteGuard<'static, u32>>();
}

// ----- green-only -----

/// Once a writer waits, new readers queue behind it (no writer starvation),
/// and the queued readers get in together when the writer is done.
#[test]
fn a_waiting_writer_is_not_starved_by_new_readers() {
    let lock = green_sync::Arc::new(green_sync::RwLock::new(0));
    let r = lock.read().unwrap();
    let l = lock.clone();
    let writer = green_core::thread::spawn(move || *l.write().unwrap() += 1);
    std::thread::sleep(Duration::from_millis(20));
    // The writer waits: a new reader cannot overtake it.
    assert!(matches!(
        lock.try_read(),
        Err(green_sync::TryLockError::WouldBlock)
    ));
    let readers: Vec<_> = (0..5)
        .map(|_| {
            let l = lock.clone();
            green_core::thread::spawn(move || *l.read().unwrap())
        })
        .collect();
    drop(r);
    writer.join().unwrap();
    for h in readers {
        assert_eq!(h.join().unwrap(), 1);
    }
}

/// A green reader blocked behind a writer on its own hub lets that writer
/// (and everything else on the hub) run.
#[test]
fn a_blocked_reader_does_not_block_its_hub() {
    green_core::thread::spawn(|| {
        let lock = green_sync::Arc::new(green_sync::RwLock::new(0));
        let ran = green_sync::Arc::new(AtomicBool::new(false));
        let l = lock.clone();
        let writer = green_core::runtime::spawn_local(move || {
            let mut w = l.write().unwrap();
            green_core::thread::sleep(Duration::from_millis(20));
            *w = 1;
        });
        green_core::thread::yield_now();
        let l = lock.clone();
        let reader = green_core::runtime::spawn_local(move || *l.read().unwrap());
        let r2 = ran.clone();
        green_core::runtime::spawn_local(move || r2.store(true, Ordering::SeqCst))
            .join()
            .unwrap();
        assert!(ran.load(Ordering::SeqCst));
        writer.join().unwrap();
        assert_eq!(reader.join().unwrap(), 1);
    })
    .join()
    .unwrap();
}

/// Bounded, seeded stress across hubs and OS threads, with downgrades: the
/// writer-held invariant (`a == b`) is never seen broken by a reader.
#[test]
fn mixed_stress_keeps_the_invariant() {
    let mut rng = Rng::from_env("sync_rwlock::mixed_stress");
    let lock = green_sync::Arc::new(green_sync::RwLock::new((0u64, 0u64)));
    let writes = green_sync::Arc::new(AtomicUsize::new(0));
    let mut green = Vec::new();
    let mut os = Vec::new();
    for i in 0..30 {
        let seed = rng.next_u64();
        let (lock, writes) = (lock.clone(), writes.clone());
        let work = move || {
            let mut rng = Rng::new(seed);
            for _ in 0..200 {
                match rng.below(4) {
                    0 => {
                        let mut w = lock.write().unwrap();
                        w.0 += 1;
                        w.1 += 1;
                        writes.fetch_add(1, Ordering::Relaxed);
                    }
                    1 => {
                        let mut w = lock.write().unwrap();
                        w.0 += 1;
                        w.1 += 1;
                        writes.fetch_add(1, Ordering::Relaxed);
                        let r = green_sync::RwLockWriteGuard::downgrade(w);
                        assert_eq!(r.0, r.1);
                    }
                    _ => {
                        let r = lock.read().unwrap();
                        assert_eq!(r.0, r.1);
                    }
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
    let (a, b) = *lock.read().unwrap();
    assert_eq!(a, b);
    assert_eq!(a, writes.load(Ordering::Relaxed) as u64);
}
