//! `green_core::unblock`: runs blocking code on the shared pool, parking only
//! the caller. The std flavor is the baseline (calling `f` directly): the
//! observable result — value or panic payload — must be the same.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use green_conformance::{assert_not_early, payload_str, Flavor, Rng};
use rstest::rstest;

/// `unblock(f)` for the green flavors, `f()` for std.
fn unblock<T: Send + 'static>(flavor: Flavor, f: impl FnOnce() -> T + Send + 'static) -> T {
    match flavor {
        Flavor::Std => f(),
        _ => green_core::unblock(f),
    }
}

#[rstest]
#[case::std(Flavor::Std)]
#[case::green_plain(Flavor::GreenPlain)]
#[case::green_in_green(Flavor::GreenInGreen)]
fn the_result_is_returned(#[case] flavor: Flavor) {
    flavor.run(move || {
        assert_eq!(unblock(flavor, || 6 * 7), 42);
        let v = unblock(flavor, || (0..10u64).collect::<Vec<_>>());
        assert_eq!(v.len(), 10);
        let io = unblock(flavor, || std::fs::metadata("/").map(|m| m.is_dir()));
        assert!(io.unwrap());
    });
}

#[rstest]
#[case::std(Flavor::Std)]
#[case::green_plain(Flavor::GreenPlain)]
#[case::green_in_green(Flavor::GreenInGreen)]
fn blocking_work_takes_its_time(#[case] flavor: Flavor) {
    flavor.run(move || {
        let dur = Duration::from_millis(30);
        let start = Instant::now();
        let v = unblock(flavor, move || {
            std::thread::sleep(dur);
            "slept"
        });
        assert_eq!(v, "slept");
        assert_not_early(start, dur, "unblock of a 30 ms sleep");
    });
}

#[rstest]
#[case::std(Flavor::Std)]
#[case::green_plain(Flavor::GreenPlain)]
#[case::green_in_green(Flavor::GreenInGreen)]
fn a_panic_resumes_in_the_caller_with_its_payload(#[case] flavor: Flavor) {
    flavor.run(move || {
        let err = std::panic::catch_unwind(|| unblock(flavor, || -> u32 { panic!("pool boom") }))
            .expect_err("the panic must reach the caller");
        assert_eq!(err.downcast_ref::<&str>(), Some(&"pool boom"));

        let n = 5;
        let err = std::panic::catch_unwind(move || {
            unblock(flavor, move || -> u32 { panic!("formatted pool boom {n}") })
        })
        .expect_err("the panic must reach the caller");
        assert_eq!(payload_str(&*err), Some("formatted pool boom 5"));

        let err = std::panic::catch_unwind(|| {
            unblock(flavor, || -> u32 { std::panic::panic_any(1234u64) })
        })
        .expect_err("the panic must reach the caller");
        assert_eq!(err.downcast_ref::<u64>(), Some(&1234));

        // Still usable afterwards.
        assert_eq!(unblock(flavor, || 1), 1);
    });
}

#[rstest]
#[case::std(Flavor::Std)]
#[case::green_plain(Flavor::GreenPlain)]
#[case::green_in_green(Flavor::GreenInGreen)]
fn nested_unblock_works(#[case] flavor: Flavor) {
    flavor.run(move || {
        let v = unblock(flavor, move || unblock(flavor, || 3) + 1);
        assert_eq!(v, 4);
    });
}

#[test]
fn f_runs_outside_green_threads() {
    let in_green =
        Flavor::GreenInGreen.run(|| green_core::unblock(green_core::park::in_green_thread));
    assert!(!in_green, "unblock ran f on a green thread");
}

/// From a plain OS thread whose hub holds a green thread, `unblock` still
/// returns `f`'s result, and the local green thread runs meanwhile.
#[test]
fn from_a_plain_thread_with_local_green_threads() {
    let (tx, rx) = mpsc::channel::<u32>();
    let helper = green_core::runtime::spawn_local(move || {
        tx.send(99).unwrap();
    });
    // `f` waits for the local green thread's message: it can only arrive if
    // the caller's hub runs while the caller waits in unblock.
    let got = green_core::unblock(move || rx.recv_timeout(Duration::from_secs(20)));
    assert_eq!(got, Ok(99));
    helper.join().unwrap();
}

#[test]
fn from_plain_os_threads() {
    let handles: Vec<_> = (0..8u32)
        .map(|i| std::thread::spawn(move || green_core::unblock(move || i * 2)))
        .collect();
    let sum: u32 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(sum, (0..8).map(|i| i * 2).sum());
}

/// Many concurrent unblocks from green threads all complete with their own
/// results (bounded: 200 jobs of up to 20 ms).
#[test]
fn many_concurrent_unblocks_from_green_threads_complete() {
    let mut rng = Rng::from_env("many_concurrent_unblocks_from_green_threads_complete");
    let handles: Vec<_> = (0..200u64)
        .map(|i| {
            let ms = rng.below(20);
            green_core::thread::spawn(move || {
                green_core::unblock(move || {
                    std::thread::sleep(Duration::from_millis(ms));
                    i * i
                })
            })
        })
        .collect();
    for (i, h) in (0..200u64).zip(handles) {
        assert_eq!(h.join().unwrap(), i * i);
    }
}

/// While a green thread waits in `unblock`, others on the same hub keep
/// running — and one of them produces what `f` waits for, so a hub blocked
/// by `unblock` would time out instead.
#[test]
fn unblock_leaves_the_hub_free() {
    let (got, helper_hub, my_hub) = Flavor::GreenInGreen.run(|| {
        let (tx, rx) = mpsc::channel::<&'static str>();
        let helper = green_core::runtime::spawn_local(move || {
            tx.send("from the same hub").unwrap();
            green_core::runtime::hub_id()
        });
        let got = green_core::unblock(move || rx.recv_timeout(Duration::from_secs(20)));
        (got, helper.join().unwrap(), green_core::runtime::hub_id())
    });
    assert_eq!(helper_hub, my_hub);
    assert_eq!(got, Ok("from the same hub"));
}

/// The example: `unblock(|| sleep(200 ms))` while a neighbour on the
/// same hub counts; the neighbour's progress happened before unblock
/// returned.
#[test]
fn neighbours_progress_during_a_blocking_sleep() {
    let (progress_during, total) = Flavor::GreenInGreen.run(|| {
        let count = Arc::new(AtomicUsize::new(0));
        let c = count.clone();
        let neighbour = green_core::runtime::spawn_local(move || {
            for _ in 0..10 {
                c.fetch_add(1, Ordering::SeqCst);
                green_core::thread::sleep(Duration::from_millis(1));
            }
        });
        green_core::unblock(|| std::thread::sleep(Duration::from_millis(200)));
        let during = count.load(Ordering::SeqCst);
        neighbour.join().unwrap();
        (during, count.load(Ordering::SeqCst))
    });
    assert!(
        progress_during > 0,
        "the neighbour never ran during unblock"
    );
    assert_eq!(total, 10);
}

#[test]
fn unblock_from_a_green_thread_on_a_plain_threads_hub() {
    // A green thread spawned with spawn_local on the test's own hub (it runs
    // while the test thread blocks) calls unblock.
    let h = green_core::runtime::spawn_local(|| green_core::unblock(|| 11));
    assert_eq!(h.join().unwrap(), 11);
}
