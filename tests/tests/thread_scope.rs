//! `thread::scope`, `Scope::spawn` and `ScopedJoinHandle`: borrowing the
//! parent's locals, results, waiting for every thread, and the panics std
//! documents — on std and on green.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use green_conformance::{assert_send_sync, eventually, panic_message, payload_str, Flavor};
use rstest::rstest;

#[rstest]
#[case::std(Flavor::Std)]
#[case::green_plain(Flavor::GreenPlain)]
#[case::green_in_green(Flavor::GreenInGreen)]
fn scoped_threads_borrow_shared_and_mutable_locals(#[case] flavor: Flavor) {
    flavor.run(move || {
        let shared = vec![1u64, 2, 3, 4];
        let mut exclusive = 0u64;
        let mut other = String::from("before");
        flavor.scope(|s| {
            // Two readers of `shared`, one writer of each mutable local.
            s.spawn(|| assert_eq!(shared.len(), 4));
            s.spawn(|| assert_eq!(shared[3], 4));
            s.spawn(|| exclusive = shared.iter().sum());
            s.spawn(|| {
                flavor.sleep(Duration::from_millis(2));
                other.push_str(" and after");
            });
        });
        assert_eq!(exclusive, 10);
        assert_eq!(other, "before and after");
        assert_eq!(shared, [1, 2, 3, 4]);
    });
}

#[rstest]
#[case::std(Flavor::Std)]
#[case::green_plain(Flavor::GreenPlain)]
#[case::green_in_green(Flavor::GreenInGreen)]
fn results_come_back_through_join(#[case] flavor: Flavor) {
    flavor.run(move || {
        let data: Vec<u32> = (0..100).collect();
        let (a, b, c) = flavor.scope(|s| {
            let (left, right) = data.split_at(50);
            let a = s.spawn(|| left.iter().sum::<u32>());
            let b = s.spawn(|| right.iter().sum::<u32>());
            let c = s.spawn(|| data.len());
            (a.join().unwrap(), b.join().unwrap(), c.join().unwrap())
        });
        assert_eq!(a + b, (0..100).sum::<u32>());
        assert_eq!(c, 100);
    });
}

#[rstest]
#[case::std(Flavor::Std)]
#[case::green_plain(Flavor::GreenPlain)]
#[case::green_in_green(Flavor::GreenInGreen)]
fn scope_returns_the_closures_value(#[case] flavor: Flavor) {
    flavor.run(move || {
        let v = flavor.scope(|_| "returned");
        assert_eq!(v, "returned");
    });
}

#[rstest]
#[case::std(Flavor::Std)]
#[case::green_plain(Flavor::GreenPlain)]
#[case::green_in_green(Flavor::GreenInGreen)]
fn scope_waits_for_every_thread(#[case] flavor: Flavor) {
    flavor.run(move || {
        let finished = AtomicUsize::new(0);
        flavor.scope(|s| {
            for i in 0..16u64 {
                let finished = &finished;
                // Unjoined, sleeping different lengths.
                s.spawn(move || {
                    flavor.sleep(Duration::from_millis(i % 5));
                    finished.fetch_add(1, Ordering::SeqCst);
                });
            }
        });
        assert_eq!(finished.load(Ordering::SeqCst), 16);
    });
}

#[rstest]
#[case::std(Flavor::Std)]
#[case::green_plain(Flavor::GreenPlain)]
#[case::green_in_green(Flavor::GreenInGreen)]
fn scoped_threads_spawn_more_scoped_threads(#[case] flavor: Flavor) {
    flavor.run(move || {
        let counter = AtomicUsize::new(0);
        let counter = &counter;
        flavor.scope(|s| {
            for _ in 0..4 {
                s.spawn(move || {
                    for _ in 0..4 {
                        s.spawn(move || {
                            flavor.yield_now();
                            counter.fetch_add(1, Ordering::SeqCst);
                        });
                    }
                });
            }
        });
        assert_eq!(counter.load(Ordering::SeqCst), 16);
    });
}

#[rstest]
#[case::std(Flavor::Std)]
#[case::green_plain(Flavor::GreenPlain)]
#[case::green_in_green(Flavor::GreenInGreen)]
fn a_panicking_unjoined_thread_makes_scope_panic(#[case] flavor: Flavor) {
    flavor.run(move || {
        let others_done = AtomicUsize::new(0);
        let msg = panic_message(|| {
            flavor.scope(|s| {
                s.spawn(|| panic!("scoped boom"));
                s.spawn(|| {
                    flavor.sleep(Duration::from_millis(5));
                    others_done.fetch_add(1, Ordering::SeqCst);
                });
            })
        });
        assert_eq!(msg, "a scoped thread panicked");
        // The scope still waited for the healthy thread.
        assert_eq!(others_done.load(Ordering::SeqCst), 1);
    });
}

#[rstest]
#[case::std(Flavor::Std)]
#[case::green_plain(Flavor::GreenPlain)]
#[case::green_in_green(Flavor::GreenInGreen)]
fn a_joined_panicking_thread_does_not_make_scope_panic(#[case] flavor: Flavor) {
    flavor.run(move || {
        let payload_text = flavor.scope(|s| {
            let h = s.spawn(|| -> u32 { panic!("joined boom") });
            let err = h.join().expect_err("the scoped thread panicked");
            payload_str(&*err).map(str::to_owned)
        });
        assert_eq!(payload_text.as_deref(), Some("joined boom"));
    });
}

#[rstest]
#[case::std(Flavor::Std)]
#[case::green_plain(Flavor::GreenPlain)]
#[case::green_in_green(Flavor::GreenInGreen)]
fn a_panic_in_the_scope_closure_is_resumed_after_the_threads_finish(#[case] flavor: Flavor) {
    flavor.run(move || {
        let finished = AtomicUsize::new(0);
        let msg = panic_message(|| {
            flavor.scope(|s| {
                s.spawn(|| {
                    flavor.sleep(Duration::from_millis(5));
                    finished.fetch_add(1, Ordering::SeqCst);
                });
                panic!("closure boom");
            })
        });
        assert_eq!(msg, "closure boom");
        assert_eq!(finished.load(Ordering::SeqCst), 1);
    });
}

#[rstest]
#[case::std(Flavor::Std)]
#[case::green_plain(Flavor::GreenPlain)]
#[case::green_in_green(Flavor::GreenInGreen)]
fn is_finished_on_scoped_handles(#[case] flavor: Flavor) {
    flavor.run(move || {
        let gate = Mutex::new(false);
        flavor.scope(|s| {
            let h = s.spawn(|| {
                while !*gate.lock().unwrap() {
                    flavor.sleep(Duration::from_millis(1));
                }
                7
            });
            assert!(!h.is_finished(), "the thread waits for the gate");
            *gate.lock().unwrap() = true;
            assert!(eventually(flavor, Duration::from_secs(20), || h.is_finished()));
            assert_eq!(h.join().unwrap(), 7);
        });
    });
}

#[rstest]
#[case::std(Flavor::Std)]
#[case::green_plain(Flavor::GreenPlain)]
#[case::green_in_green(Flavor::GreenInGreen)]
fn scoped_handle_thread_is_the_spawned_thread(#[case] flavor: Flavor) {
    flavor.run(move || {
        flavor.scope(|s| {
            let h = s.spawn(|| flavor.current().id());
            let outside = h.thread().id();
            assert_eq!(h.join().unwrap(), outside);
            assert_ne!(outside, flavor.current().id());
        });
    });
}

#[rstest]
#[case::std(Flavor::Std)]
#[case::green_plain(Flavor::GreenPlain)]
#[case::green_in_green(Flavor::GreenInGreen)]
fn many_scoped_threads_share_a_mutex(#[case] flavor: Flavor) {
    flavor.run(move || {
        let total = Mutex::new(0u64);
        flavor.scope(|s| {
            for i in 0..200u64 {
                let total = &total;
                s.spawn(move || *total.lock().unwrap() += i);
            }
        });
        assert_eq!(total.into_inner().unwrap(), (0..200).sum::<u64>());
    });
}

#[test]
fn scope_and_handles_are_send_and_sync() {
    assert_send_sync::<green_core::thread::Scope<'static, 'static>>();
    assert_send_sync::<green_core::thread::ScopedJoinHandle<'static, u32>>();
    assert_send_sync::<std::thread::Scope<'static, 'static>>();
    assert_send_sync::<std::thread::ScopedJoinHandle<'static, u32>>();
}

#[test]
fn scope_debug_names_the_type() {
    green_core::thread::scope(|s| {
        assert!(format!("{s:?}").starts_with("Scope"));
        let h = s.spawn(|| 1);
        assert!(format!("{h:?}").starts_with("ScopedJoinHandle"));
        h.join().unwrap();
    });
}

/// A green scope entered on a plain thread runs its scoped green threads on
/// the workers, and a scope inside a green thread may borrow that green
/// thread's stack.
#[test]
fn green_scope_borrows_a_green_threads_stack() {
    let sum = green_core::thread::spawn(|| {
        let local = [3u32; 64]; // lives on the green stack
        let mut sum = 0;
        green_core::thread::scope(|s| {
            let h = s.spawn(|| local.iter().sum::<u32>());
            sum = h.join().unwrap();
        });
        sum
    })
    .join()
    .unwrap();
    assert_eq!(sum, 192);
}

/// `Scope`'s `Debug` has std's shape: the running count, the panic flag and
/// the thread that called `scope`.
#[test]
fn scope_debug_has_std_shape() {
    let std_shown = std::thread::scope(|s| format!("{s:?}"));
    let green_shown = green_core::thread::scope(|s| format!("{s:?}"));
    let shape = |shown: &str| {
        shown
            .split("main_thread")
            .next()
            .map(str::to_owned)
            .unwrap_or_default()
    };
    assert_eq!(shape(&green_shown), shape(&std_shown));
    assert!(
        green_shown.contains("main_thread: Thread {"),
        "{green_shown}"
    );
    assert!(green_shown.ends_with(", .. }"), "{green_shown}");
}
