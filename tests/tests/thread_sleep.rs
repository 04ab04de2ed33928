//! `thread::sleep` and `thread::yield_now` on std and on green, and the
//! green-only guarantee that a sleeping green thread leaves its hub free.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use green_conformance::{assert_not_early, Flavor, Rng};
use rstest::rstest;

#[rstest]
#[case::std(Flavor::Std)]
#[case::green_plain(Flavor::GreenPlain)]
#[case::green_in_green(Flavor::GreenInGreen)]
fn sleep_never_returns_early(#[case] flavor: Flavor) {
    flavor.run(move || {
        for ms in [1u64, 3, 10, 25, 50] {
            let dur = Duration::from_millis(ms);
            let start = Instant::now();
            flavor.sleep(dur);
            assert_not_early(start, dur, "sleep");
        }
        let dur = Duration::from_micros(1500);
        let start = Instant::now();
        flavor.sleep(dur);
        assert_not_early(start, dur, "sleep (sub-millisecond part)");
    });
}

#[rstest]
#[case::std(Flavor::Std)]
#[case::green_plain(Flavor::GreenPlain)]
#[case::green_in_green(Flavor::GreenInGreen)]
fn zero_sleep_and_yield_now_return(#[case] flavor: Flavor) {
    flavor.run(move || {
        flavor.sleep(Duration::ZERO);
        flavor.sleep(Duration::from_nanos(1));
        for _ in 0..100 {
            flavor.yield_now();
        }
    });
}

#[rstest]
#[case::std(Flavor::Std)]
#[case::green_plain(Flavor::GreenPlain)]
#[case::green_in_green(Flavor::GreenInGreen)]
fn concurrent_sleepers_are_never_early(#[case] flavor: Flavor) {
    flavor.run(move || {
        let mut rng = Rng::from_env("concurrent_sleepers_are_never_early");
        let handles: Vec<_> = (0..64)
            .map(|_| {
                let dur = Duration::from_millis(rng.below(40));
                flavor.spawn(move || {
                    let start = Instant::now();
                    flavor.sleep(dur);
                    (start.elapsed(), dur)
                })
            })
            .collect();
        for h in handles {
            let (elapsed, dur) = h.join().unwrap();
            assert!(elapsed >= dur, "slept {elapsed:?}, asked for {dur:?}");
        }
    });
}

#[rstest]
#[case::std(Flavor::Std)]
#[case::green_plain(Flavor::GreenPlain)]
#[case::green_in_green(Flavor::GreenInGreen)]
fn yield_now_lets_another_thread_progress(#[case] flavor: Flavor) {
    flavor.run(move || {
        // A spinner that only yields must not keep a sibling from running:
        // it waits (yielding) for the sibling's flag, bounded by a long limit.
        let flag = Arc::new(AtomicBool::new(false));
        let f = flag.clone();
        let setter = flavor.spawn(move || f.store(true, Ordering::SeqCst));
        let start = Instant::now();
        while !flag.load(Ordering::SeqCst) {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "sibling never ran"
            );
            flavor.yield_now();
        }
        setter.join().unwrap();
    });
}

// ----- green only -----

/// While a green thread sleeps, a green thread on the same hub runs: the
/// neighbour is queued before the sleeper's timer can possibly fire, so it
/// must have run by the time the sleep returns.
#[test]
fn a_sleeping_green_thread_leaves_its_hub_free() {
    let (ran, same_hub) = Flavor::GreenInGreen.run(|| {
        let ran = Arc::new(AtomicUsize::new(0));
        let r = ran.clone();
        let helper = green_core::runtime::spawn_local(move || {
            r.fetch_add(1, Ordering::SeqCst);
            green_core::runtime::hub_id()
        });
        let dur = Duration::from_millis(50);
        let start = Instant::now();
        green_core::thread::sleep(dur);
        assert_not_early(start, dur, "green sleep");
        let ran_during_sleep = ran.load(Ordering::SeqCst);
        let helper_hub = helper.join().unwrap();
        (
            ran_during_sleep,
            helper_hub == green_core::runtime::hub_id(),
        )
    });
    assert!(same_hub);
    assert_eq!(ran, 1, "the neighbour did not run while we slept");
}

/// Many green threads on one hub all sleeping at once: they overlap (each
/// records the time it started sleeping, and every one of them started
/// before the first one woke up).
#[test]
fn sleepers_on_one_hub_overlap() {
    let (starts, first_wake) = Flavor::GreenInGreen.run(|| {
        let dur = Duration::from_millis(100);
        let handles: Vec<_> = (0..50)
            .map(|_| {
                green_core::runtime::spawn_local(move || {
                    let start = Instant::now();
                    green_core::thread::sleep(dur);
                    (start, Instant::now())
                })
            })
            .collect();
        let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let starts: Vec<Instant> = results.iter().map(|r| r.0).collect();
        let first_wake = results.iter().map(|r| r.1).min().unwrap();
        (starts, first_wake)
    });
    // Causal, not a speed claim: a hub that slept in place would start the
    // second sleeper only after the first woke.
    for s in starts {
        assert!(
            s <= first_wake,
            "a sleeper only started after another woke up"
        );
    }
}

/// A plain OS thread's sleep runs its hub: a green thread placed on it
/// (spawn_local) runs meanwhile.
#[test]
fn a_sleeping_plain_thread_runs_its_hub() {
    let ran = Arc::new(AtomicBool::new(false));
    let r = ran.clone();
    let here = green_core::runtime::hub_id();
    let helper = green_core::runtime::spawn_local(move || {
        r.store(true, Ordering::SeqCst);
        green_core::runtime::hub_id()
    });
    let dur = Duration::from_millis(30);
    let start = Instant::now();
    green_core::thread::sleep(dur);
    assert_not_early(start, dur, "plain-thread green sleep");
    assert!(
        ran.load(Ordering::SeqCst),
        "the local green thread did not run"
    );
    assert_eq!(helper.join().unwrap(), here);
}

/// A green thread's sleep returns on time even when a neighbour on the same
/// hub never blocks but keeps yielding.
#[test]
fn green_sleep_returns_while_a_neighbour_yields() {
    let stopped_by_flag = Flavor::GreenInGreen.run(|| {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let busy = green_core::runtime::spawn_local(move || {
            let start = Instant::now();
            while !s.load(Ordering::SeqCst) {
                if start.elapsed() >= Duration::from_secs(3) {
                    return false;
                }
                green_core::thread::yield_now();
            }
            true
        });
        let dur = Duration::from_millis(20);
        let start = Instant::now();
        green_core::thread::sleep(dur);
        assert_not_early(start, dur, "sleep next to a yielding neighbour");
        stop.store(true, Ordering::SeqCst);
        busy.join().unwrap()
    });
    assert!(
        stopped_by_flag,
        "the sleep only returned once the neighbour gave up"
    );
}

/// The same for a plain OS thread whose hub holds a yielding green thread.
#[test]
fn plain_thread_sleep_returns_while_a_local_green_thread_yields() {
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let busy = green_core::runtime::spawn_local(move || {
        let start = Instant::now();
        while !s.load(Ordering::SeqCst) {
            if start.elapsed() >= Duration::from_secs(3) {
                return false;
            }
            green_core::thread::yield_now();
        }
        true
    });
    let dur = Duration::from_millis(20);
    let start = Instant::now();
    green_core::thread::sleep(dur);
    assert_not_early(start, dur, "sleep next to a yielding local green thread");
    stop.store(true, Ordering::SeqCst);
    assert!(
        busy.join().unwrap(),
        "the plain thread's sleep did not return until its busy green \
         neighbour gave up (after 3 s)"
    );
}

/// `yield_now` inside a green thread gives every other ready green thread
/// on the hub a turn before it continues.
#[test]
fn green_yield_now_round_robins_on_one_hub() {
    let order = Flavor::GreenInGreen.run(|| {
        let log = Arc::new(std::sync::Mutex::new(Vec::new()));
        let handles: Vec<_> = (0..3u32)
            .map(|i| {
                let log = log.clone();
                green_core::runtime::spawn_local(move || {
                    for round in 0..3u32 {
                        log.lock().unwrap().push((round, i));
                        green_core::thread::yield_now();
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let log = log.lock().unwrap().clone();
        log
    });
    // Each round of all three comes before the next round of any: a yield
    // lets the others run once before the yielder continues.
    let rounds: Vec<u32> = order.iter().map(|&(round, _)| round).collect();
    let mut sorted = rounds.clone();
    sorted.sort();
    assert_eq!(rounds, sorted, "yield order: {order:?}");
}
