//! `green_time`: the re-exported std types are std's own, and `sleep` /
//! `sleep_until` never return early — on std, on green from a plain thread
//! and on green inside a green thread.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use green_conformance::{assert_not_early, Flavor};
use rstest::rstest;

/// `green_time::sleep`, or std's for the std flavor.
fn sleep(flavor: Flavor, dur: Duration) {
    match flavor {
        Flavor::Std => std::thread::sleep(dur),
        _ => green_time::sleep(dur),
    }
}

/// `green_time::sleep_until`, or its std equivalent (std's own is unstable).
fn sleep_until(flavor: Flavor, deadline: Instant) {
    match flavor {
        Flavor::Std => std::thread::sleep(deadline.saturating_duration_since(Instant::now())),
        _ => green_time::sleep_until(deadline),
    }
}

#[rstest]
#[case::std(Flavor::Std)]
#[case::green_plain(Flavor::GreenPlain)]
#[case::green_in_green(Flavor::GreenInGreen)]
fn sleep_never_returns_early(#[case] flavor: Flavor) {
    flavor.run(move || {
        for ms in [1u64, 2, 7, 20, 45] {
            let dur = Duration::from_millis(ms);
            let start = Instant::now();
            sleep(flavor, dur);
            assert_not_early(start, dur, "green_time::sleep");
        }
    });
}

#[rstest]
#[case::std(Flavor::Std)]
#[case::green_plain(Flavor::GreenPlain)]
#[case::green_in_green(Flavor::GreenInGreen)]
fn sleep_until_never_returns_early(#[case] flavor: Flavor) {
    flavor.run(move || {
        for ms in [1u64, 5, 20, 40] {
            let deadline = Instant::now() + Duration::from_millis(ms);
            sleep_until(flavor, deadline);
            let now = Instant::now();
            assert!(
                now >= deadline,
                "sleep_until returned {:?} early",
                deadline - now
            );
        }
    });
}

#[rstest]
#[case::std(Flavor::Std)]
#[case::green_plain(Flavor::GreenPlain)]
#[case::green_in_green(Flavor::GreenInGreen)]
fn zero_and_past_deadlines_return(#[case] flavor: Flavor) {
    flavor.run(move || {
        sleep(flavor, Duration::ZERO);
        let past = Instant::now();
        sleep(flavor, Duration::from_millis(1));
        sleep_until(flavor, past);
        sleep_until(flavor, Instant::now());
        if let Some(long_ago) = Instant::now().checked_sub(Duration::from_secs(1)) {
            sleep_until(flavor, long_ago);
        }
    });
}

#[rstest]
#[case::std(Flavor::Std)]
#[case::green_plain(Flavor::GreenPlain)]
#[case::green_in_green(Flavor::GreenInGreen)]
fn many_sleepers_until_one_deadline(#[case] flavor: Flavor) {
    flavor.run(move || {
        let deadline = Instant::now() + Duration::from_millis(30);
        let handles: Vec<_> = (0..32)
            .map(|_| {
                flavor.spawn(move || {
                    sleep_until(flavor, deadline);
                    Instant::now()
                })
            })
            .collect();
        for h in handles {
            assert!(h.join().unwrap() >= deadline);
        }
    });
}

#[test]
fn reexports_are_std_types() {
    fn same<T>(_: T, _: T) {}
    same(
        green_time::Duration::from_millis(3),
        std::time::Duration::from_millis(3),
    );
    same(green_time::Instant::now(), std::time::Instant::now());
    same(green_time::SystemTime::now(), std::time::SystemTime::now());
    same(green_time::UNIX_EPOCH, std::time::UNIX_EPOCH);
    assert_eq!(green_time::UNIX_EPOCH, std::time::UNIX_EPOCH);

    let err: green_time::SystemTimeError = green_time::UNIX_EPOCH
        .duration_since(green_time::SystemTime::now())
        .unwrap_err();
    let _: std::time::SystemTimeError = err;

    let err: green_time::TryFromFloatSecsError =
        green_time::Duration::try_from_secs_f64(-1.0).unwrap_err();
    let _: std::time::TryFromFloatSecsError = err;
}

#[test]
fn green_time_sleep_leaves_the_hub_free() {
    let ran_while_sleeping = Flavor::GreenInGreen.run(|| {
        let ran = Arc::new(AtomicBool::new(false));
        let r = ran.clone();
        let helper = green_core::runtime::spawn_local(move || r.store(true, Ordering::SeqCst));
        green_time::sleep(Duration::from_millis(30));
        let ran_now = ran.load(Ordering::SeqCst);
        helper.join().unwrap();
        ran_now
    });
    assert!(ran_while_sleeping, "a green_time::sleep blocked its hub");
}

#[test]
fn green_time_sleep_until_leaves_the_hub_free() {
    let ran_while_sleeping = Flavor::GreenInGreen.run(|| {
        let ran = Arc::new(AtomicBool::new(false));
        let r = ran.clone();
        let helper = green_core::runtime::spawn_local(move || r.store(true, Ordering::SeqCst));
        green_time::sleep_until(Instant::now() + Duration::from_millis(30));
        let ran_now = ran.load(Ordering::SeqCst);
        helper.join().unwrap();
        ran_now
    });
    assert!(
        ran_while_sleeping,
        "a green_time::sleep_until blocked its hub"
    );
}

#[test]
fn green_core_time_matches_green_time() {
    let dur = Duration::from_millis(10);
    let start = Instant::now();
    green_core::time::sleep(dur);
    assert_not_early(start, dur, "green_core::time::sleep");
    let deadline = Instant::now() + dur;
    green_core::time::sleep_until(deadline);
    assert!(Instant::now() >= deadline);
}
