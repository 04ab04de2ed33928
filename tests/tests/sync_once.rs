//! `Once`, `OnceState`, `OnceLock`, `LazyLock`: the same scenarios on
//! `std::sync`, on `green_sync` from a plain thread and on `green_sync`
//! inside a green thread (including poisoning and std's panic messages);
//! then green-only checks.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use green_conformance::{assert_send_sync, panic_message};

green_conformance::std_and_green! {
    std: { use std::sync; }
    green: { use green_sync as sync; }

    fn call_once_runs_once_and_others_wait(flavor) {
        let once = sync::Arc::new(sync::Once::new());
        let runs = sync::Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..6)
            .map(|_| {
                let (once, runs) = (once.clone(), runs.clone());
                flavor.spawn(move || {
                    once.call_once(|| {
                        // Slow initializer: the others must wait for it.
                        std::thread::sleep(Duration::from_millis(10));
                        runs.fetch_add(1, Ordering::SeqCst);
                    });
                    assert_eq!(runs.load(Ordering::SeqCst), 1);
                    assert!(once.is_completed());
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        once.wait();
        once.wait_force();
        assert_eq!(format!("{once:?}"), "Once { .. }");
    }

    fn panicking_initializer_poisons(flavor) {
        let once = sync::Arc::new(sync::Once::new());
        let o = once.clone();
        let r = flavor.spawn(move || o.call_once(|| panic!("init failed"))).join();
        assert!(r.is_err());
        assert!(!once.is_completed());
        let msg = panic_message(|| once.call_once(|| {}));
        assert_eq!(msg, "Once instance has previously been poisoned");
        assert_eq!(panic_message(|| once.wait()), "Once instance has previously been poisoned");
        let mut seen = None;
        once.call_once_force(|state| {
            seen = Some(state.is_poisoned());
            assert_eq!(format!("{state:?}"), "OnceState { poisoned: true }");
        });
        assert_eq!(seen, Some(true));
        assert!(once.is_completed());
        once.call_once(|| panic!("never runs"));
        once.wait();
    }

    fn call_once_force_panicking_stays_poisoned(flavor) {
        let _ = flavor;
        let once = sync::Once::new();
        let _ = panic_message(|| once.call_once_force(|_| panic!("first")));
        let _ = panic_message(|| once.call_once_force(|s| {
            assert!(s.is_poisoned());
            panic!("second")
        }));
        once.call_once_force(|s| assert!(s.is_poisoned()));
        assert!(once.is_completed());
    }

    fn wait_blocks_until_completed(flavor) {
        let once = sync::Arc::new(sync::Once::new());
        let o = once.clone();
        let waiter = flavor.spawn(move || o.wait());
        flavor.sleep(Duration::from_millis(20));
        assert!(!waiter.is_finished());
        once.call_once(|| {});
        waiter.join().unwrap();
        // wait_force also waits through a poisoned state until completed.
        let once = sync::Arc::new(sync::Once::new());
        let _ = panic_message(|| once.call_once(|| panic!("poison")));
        let o = once.clone();
        let waiter = flavor.spawn(move || o.wait_force());
        flavor.sleep(Duration::from_millis(10));
        assert!(!waiter.is_finished());
        once.call_once_force(|_| {});
        waiter.join().unwrap();
    }

    fn once_lock_initializes_once(flavor) {
        let cell = sync::Arc::new(sync::OnceLock::new());
        let runs = sync::Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..6)
            .map(|i| {
                let (cell, runs) = (cell.clone(), runs.clone());
                flavor.spawn(move || {
                    *cell.get_or_init(|| {
                        std::thread::sleep(Duration::from_millis(5));
                        runs.fetch_add(1, Ordering::SeqCst);
                        i
                    })
                })
            })
            .collect();
        let values: Vec<usize> = hs.into_iter().map(|h| h.join().unwrap()).collect();
        assert!(values.iter().all(|&v| v == values[0]));
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert_eq!(cell.set(99), Err(99));
        assert_eq!(cell.get(), Some(&values[0]));
        assert_eq!(*cell.wait(), values[0]);
    }

    fn once_lock_panicking_initializer_leaves_it_empty(flavor) {
        let cell = sync::Arc::new(sync::OnceLock::<u32>::new());
        let c = cell.clone();
        let r = flavor.spawn(move || *c.get_or_init(|| panic!("no value"))).join();
        assert!(r.is_err());
        assert_eq!(cell.get(), None);
        assert_eq!(*cell.get_or_init(|| 5), 5);
    }

    fn once_lock_wait_set_take_and_traits(flavor) {
        let cell = sync::Arc::new(sync::OnceLock::new());
        let c = cell.clone();
        let waiter = flavor.spawn(move || *c.wait());
        flavor.sleep(Duration::from_millis(10));
        assert!(!waiter.is_finished());
        assert_eq!(cell.set(3), Ok(()));
        assert_eq!(waiter.join().unwrap(), 3);
        let mut cell = sync::Arc::try_unwrap(cell).unwrap();
        assert_eq!(format!("{cell:?}"), "OnceLock(3)");
        *cell.get_mut().unwrap() += 1;
        let copy = cell.clone();
        assert_eq!(copy, cell);
        assert_eq!(cell.take(), Some(4));
        assert_eq!(format!("{cell:?}"), "OnceLock(<uninit>)");
        assert_ne!(copy, cell);
        assert_eq!(cell.get_mut(), None);
        assert_eq!(*cell.get_or_init(|| 8), 8);
        assert_eq!(cell.into_inner(), Some(8));
        let from = sync::OnceLock::from(1);
        assert_eq!(from.get(), Some(&1));
        assert_eq!(from.set(2), Err(2));
        let d: sync::OnceLock<u8> = Default::default();
        assert_eq!(d.into_inner(), None);
        static S: sync::OnceLock<String> = sync::OnceLock::new();
        assert_eq!(S.get_or_init(|| "s".into()), "s");
    }

    fn lazy_lock_initializes_once(flavor) {
        let runs = sync::Arc::new(AtomicUsize::new(0));
        let r = runs.clone();
        let lazy = sync::Arc::new(sync::LazyLock::new(move || {
            std::thread::sleep(Duration::from_millis(5));
            r.fetch_add(1, Ordering::SeqCst);
            42
        }));
        assert_eq!(format!("{:?}", lazy), "LazyLock(<uninit>)");
        assert_eq!(**lazy, 42);
        let hs: Vec<_> = (0..5)
            .map(|_| {
                let lazy = lazy.clone();
                flavor.spawn(move || *sync::LazyLock::force(&lazy))
            })
            .collect();
        for h in hs {
            assert_eq!(h.join().unwrap(), 42);
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert_eq!(format!("{:?}", lazy), "LazyLock(42)");
    }

    fn lazy_lock_poisoned(flavor) {
        let lazy = sync::Arc::new(sync::LazyLock::<u32, _>::new(|| panic!("initializer panics")));
        let l = lazy.clone();
        let first = flavor.spawn(move || *sync::LazyLock::force(&l)).join();
        let payload = first.unwrap_err();
        assert_eq!(green_conformance::payload_str(&*payload), Some("initializer panics"));
        assert_eq!(
            panic_message(|| **lazy),
            "LazyLock instance has previously been poisoned"
        );
        assert_eq!(format!("{:?}", lazy), "LazyLock(<uninit>)");
        let mut owned = sync::LazyLock::<u32, fn() -> u32>::new(|| panic!("again"));
        let _ = panic_message(|| *sync::LazyLock::force(&owned));
        assert_eq!(
            panic_message(|| *sync::LazyLock::force_mut(&mut owned)),
            "LazyLock instance has previously been poisoned"
        );
    }

    fn lazy_lock_statics_get_and_mut(flavor) {
        let _ = flavor;
        static L: sync::LazyLock<Vec<u32>> = sync::LazyLock::new(|| vec![1, 2, 3]);
        assert_eq!(L.len(), 3);
        let mut lazy = sync::LazyLock::new(|| 1);
        assert_eq!(sync::LazyLock::get(&lazy), None);
        assert_eq!(sync::LazyLock::get_mut(&mut lazy), None);
        *lazy += 1;
        assert_eq!(sync::LazyLock::get(&lazy), Some(&2));
        *sync::LazyLock::force_mut(&mut lazy) += 1;
        assert_eq!(*lazy, 3);
        let d: sync::LazyLock<String> = Default::default();
        assert_eq!(d.as_str(), "");
        let mut m = sync::LazyLock::new(|| 10);
        assert_eq!(*sync::LazyLock::force_mut(&mut m), 10);
        assert_eq!(sync::LazyLock::get_mut(&mut m), Some(&mut 10));
    }
}

#[test]
fn deprecated_once_init_works() {
    #[allow(deprecated)]
    static O: green_sync::Once = green_sync::ONCE_INIT;
    let mut n = 0;
    O.call_once(|| n += 1);
    O.call_once(|| n += 1);
    assert_eq!(n, 1);
}

#[test]
fn auto_traits_match_std() {
    fn unwind_safe<T: std::panic::UnwindSafe + std::panic::RefUnwindSafe>() {}
    fn send<T: Send>() {}
    fn just_unwind_safe<T: std::panic::UnwindSafe>() {}
    assert_send_sync::<green_sync::Once>();
    unwind_safe::<green_sync::Once>();
    send::<green_sync::OnceState>();
    just_unwind_safe::<green_sync::OnceState>();
    assert_send_sync::<green_sync::OnceLock<u32>>();
    unwind_safe::<green_sync::OnceLock<u32>>();
    assert_send_sync::<green_sync::LazyLock<u32>>();
    assert_send_sync::<green_sync::LazyLock<u32, Box<dyn FnOnce() -> u32 + Send>>>();
    unwind_safe::<green_sync::LazyLock<u32>>();
}

// ----- green-only -----

/// A green thread waiting for an initializer that runs on its own hub (and
/// sleeps) lets it finish.
#[test]
fn waiting_for_an_initializer_on_the_same_hub() {
    green_core::thread::spawn(|| {
        let lazy = green_sync::Arc::new(green_sync::LazyLock::new(|| {
            green_core::thread::sleep(Duration::from_millis(20));
            5
        }));
        let once = green_sync::Arc::new(green_sync::Once::new());
        let (l, o) = (lazy.clone(), once.clone());
        let init = green_core::runtime::spawn_local(move || {
            o.call_once(|| green_core::thread::sleep(Duration::from_millis(20)));
            *green_sync::LazyLock::force(&l)
        });
        green_core::thread::yield_now();
        let (l, o) = (lazy.clone(), once.clone());
        let other = green_core::runtime::spawn_local(move || {
            o.call_once(|| unreachable!("the first call runs it"));
            *green_sync::LazyLock::force(&l)
        });
        assert_eq!(init.join().unwrap(), 5);
        assert_eq!(other.join().unwrap(), 5);
    })
    .join()
    .unwrap();
}

/// Green threads on workers and OS threads race for one `OnceLock`.
#[test]
fn green_and_os_threads_race_for_one_cell() {
    let cell = green_sync::Arc::new(green_sync::OnceLock::new());
    let runs = green_sync::Arc::new(AtomicUsize::new(0));
    let mut green = Vec::new();
    let mut os = Vec::new();
    for i in 0..40usize {
        let (cell, runs) = (cell.clone(), runs.clone());
        let work = move || {
            *cell.get_or_init(|| {
                runs.fetch_add(1, Ordering::SeqCst);
                green_core::thread::sleep(Duration::from_millis(5));
                i
            })
        };
        if i % 4 == 0 {
            os.push(std::thread::spawn(work));
        } else {
            green.push(green_core::thread::spawn(work));
        }
    }
    let mut values: Vec<usize> = green.into_iter().map(|h| h.join().unwrap()).collect();
    values.extend(os.into_iter().map(|h| h.join().unwrap()));
    assert!(values.iter().all(|&v| v == values[0]));
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}
