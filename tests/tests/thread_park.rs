//! `thread::park`, `park_timeout` and `Thread::unpark` (the token), on std
//! and on green; plus green-only checks: cross-hub unpark, unparks between
//! green threads and OS threads, a parked green thread leaves its hub free,
//! and the `green_core::park` primitive's "nothing is lost" contract.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use green_conformance::{assert_not_early, assert_send_sync, eventually, Flavor};
use rstest::rstest;

/// Generous bound for waits that only fail by hanging.
const HANG: Duration = Duration::from_secs(20);

/// Parks (with this flavor's `park_timeout`, so a lost wake-up fails instead
/// of hanging) until `flag` is set; returns whether it was.
fn park_until(flavor: Flavor, flag: &AtomicBool) -> bool {
    let start = Instant::now();
    while !flag.load(Ordering::SeqCst) {
        if start.elapsed() >= HANG {
            return false;
        }
        flavor.park_timeout(HANG);
    }
    true
}

#[rstest]
#[case::std(Flavor::Std)]
#[case::green_plain(Flavor::GreenPlain)]
#[case::green_in_green(Flavor::GreenInGreen)]
fn unpark_before_park_makes_the_next_park_return(#[case] flavor: Flavor) {
    flavor.run(move || {
        let me = flavor.current();
        me.unpark();
        // The token is there: this returns at once (a lost token would make
        // it wait the whole timeout).
        let start = Instant::now();
        flavor.park_timeout(HANG);
        assert!(start.elapsed() < HANG, "the token was lost");

        // The token was consumed: the next park waits for its timeout.
        let dur = Duration::from_millis(30);
        let start = Instant::now();
        flavor.park_timeout(dur);
        assert_not_early(start, dur, "park_timeout after the token was used");
    });
}

#[rstest]
#[case::std(Flavor::Std)]
#[case::green_plain(Flavor::GreenPlain)]
#[case::green_in_green(Flavor::GreenInGreen)]
fn unpark_before_plain_park_returns(#[case] flavor: Flavor) {
    flavor.run(move || {
        flavor.current().unpark();
        // `park()` without a timeout: returns because of the token.
        flavor.park();
    });
}

#[rstest]
#[case::std(Flavor::Std)]
#[case::green_plain(Flavor::GreenPlain)]
#[case::green_in_green(Flavor::GreenInGreen)]
fn tokens_do_not_accumulate(#[case] flavor: Flavor) {
    flavor.run(move || {
        let me = flavor.current();
        me.unpark();
        me.unpark();
        me.unpark();
        flavor.park(); // consumes the single token
        let dur = Duration::from_millis(20);
        let start = Instant::now();
        flavor.park_timeout(dur);
        assert_not_early(start, dur, "park_timeout after three unparks and one park");
    });
}

#[rstest]
#[case::std(Flavor::Std)]
#[case::green_plain(Flavor::GreenPlain)]
#[case::green_in_green(Flavor::GreenInGreen)]
fn park_timeout_never_returns_early_without_a_token(#[case] flavor: Flavor) {
    flavor.run(move || {
        for ms in [1u64, 5, 20, 40] {
            let dur = Duration::from_millis(ms);
            let start = Instant::now();
            flavor.park_timeout(dur);
            assert_not_early(start, dur, "park_timeout");
        }
        // Zero returns.
        flavor.park_timeout(Duration::ZERO);
    });
}

#[rstest]
#[case::std(Flavor::Std)]
#[case::green_plain(Flavor::GreenPlain)]
#[case::green_in_green(Flavor::GreenInGreen)]
fn unpark_from_another_thread_wakes_a_parked_one(#[case] flavor: Flavor) {
    flavor.run(move || {
        let flag = Arc::new(AtomicBool::new(false));
        let f = flag.clone();
        let parked = flavor.spawn(move || park_until(flavor, &f));
        // Give the child a chance to really park first (not needed for
        // correctness: the token covers the other order).
        flavor.sleep(Duration::from_millis(10));
        flag.store(true, Ordering::SeqCst);
        parked.thread().unpark();
        assert!(parked.join().unwrap(), "the parked thread was never woken");
    });
}

#[rstest]
#[case::std(Flavor::Std)]
#[case::green_plain(Flavor::GreenPlain)]
#[case::green_in_green(Flavor::GreenInGreen)]
fn a_child_unparks_its_parent(#[case] flavor: Flavor) {
    flavor.run(move || {
        let flag = Arc::new(AtomicBool::new(false));
        let parent = flavor.current();
        let f = flag.clone();
        let child = flavor.spawn(move || {
            flavor.sleep(Duration::from_millis(10));
            f.store(true, Ordering::SeqCst);
            parent.unpark();
        });
        assert!(park_until(flavor, &flag), "the parent was never woken");
        child.join().unwrap();
    });
}

#[rstest]
#[case::std(Flavor::Std)]
#[case::green_plain(Flavor::GreenPlain)]
#[case::green_in_green(Flavor::GreenInGreen)]
fn unparking_a_finished_thread_is_harmless(#[case] flavor: Flavor) {
    flavor.run(move || {
        let h = flavor.spawn(|| 1);
        let t = h.thread();
        assert_eq!(h.join().unwrap(), 1);
        t.unpark();
        t.unpark();
    });
}

#[rstest]
#[case::std(Flavor::Std)]
#[case::green_plain(Flavor::GreenPlain)]
#[case::green_in_green(Flavor::GreenInGreen)]
fn ping_pong_by_park_and_unpark(#[case] flavor: Flavor) {
    flavor.run(move || {
        const ROUNDS: usize = 500;
        // `turn` counts half-rounds: even = ping's turn, odd = pong's.
        let turn = Arc::new(AtomicUsize::new(0));
        let me = flavor.current();
        let t = turn.clone();
        let pong = flavor.spawn(move || {
            for round in 0..ROUNDS {
                let start = Instant::now();
                while t.load(Ordering::SeqCst) != 2 * round + 1 {
                    assert!(start.elapsed() < HANG, "pong lost a wake-up");
                    flavor.park_timeout(HANG);
                }
                t.store(2 * round + 2, Ordering::SeqCst);
                me.unpark();
            }
        });
        let other = pong.thread();
        for round in 0..ROUNDS {
            let start = Instant::now();
            while turn.load(Ordering::SeqCst) != 2 * round {
                assert!(start.elapsed() < HANG, "ping lost a wake-up");
                flavor.park_timeout(HANG);
            }
            turn.store(2 * round + 1, Ordering::SeqCst);
            other.unpark();
        }
        pong.join().unwrap();
        assert_eq!(turn.load(Ordering::SeqCst), 2 * ROUNDS);
    });
}

// ----- green only -----

/// Runs `f` inside a green thread and returns its result.
fn in_green<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    Flavor::GreenInGreen.run(f)
}

#[test]
fn a_green_thread_is_unparked_by_an_os_thread() {
    let flag = Arc::new(AtomicBool::new(false));
    let f = flag.clone();
    let green = green_core::thread::spawn(move || park_until(Flavor::GreenPlain, &f));
    let t = green.thread().clone();
    let os = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(10));
        flag.store(true, Ordering::SeqCst);
        t.unpark();
    });
    os.join().unwrap();
    assert!(green.join().unwrap());
}

#[test]
fn an_os_thread_parked_in_green_park_is_unparked_by_a_green_thread() {
    let flag = Arc::new(AtomicBool::new(false));
    let f = flag.clone();
    let os = std::thread::spawn(move || {
        let me = green_core::thread::current();
        let g = green_core::thread::spawn(move || {
            green_core::thread::sleep(Duration::from_millis(10));
            f.store(true, Ordering::SeqCst);
            me.unpark();
        });
        let woken = park_until(Flavor::GreenPlain, &flag);
        g.join().unwrap();
        woken
    });
    assert!(os.join().unwrap());
}

/// A green thread on one worker hub unparks a green thread parked on the
/// other. Skipped (with a message) on a machine with a single worker.
#[test]
fn cross_hub_unpark() {
    if green_core::runtime::workers() < 2 {
        println!(
            "cross_hub_unpark: skipped, only {} worker hub(s) on this machine",
            green_core::runtime::workers()
        );
        return;
    }
    let flag = Arc::new(AtomicBool::new(false));
    let parked_hub = Arc::new(AtomicUsize::new(usize::MAX));
    let (f, ph) = (flag.clone(), parked_hub.clone());
    let parked = green_core::thread::spawn(move || {
        ph.store(green_core::runtime::hub_id(), Ordering::SeqCst);
        park_until(Flavor::GreenPlain, &f)
    });
    assert!(eventually(Flavor::GreenPlain, HANG, || parked_hub
        .load(Ordering::SeqCst)
        != usize::MAX));
    let target_hub = parked_hub.load(Ordering::SeqCst);
    let target = parked.thread().clone();

    // Spawn unparkers until one lands on another hub (each from a fresh OS
    // thread, whose home worker is the next one round, shared with other
    // tests running at the same time).
    let mut unparked_from = None;
    for _ in 0..64 {
        let (f, t) = (flag.clone(), target.clone());
        let unparker = std::thread::spawn(move || {
            green_core::thread::spawn(move || {
                let here = green_core::runtime::hub_id();
                if here != target_hub {
                    f.store(true, Ordering::SeqCst);
                    t.unpark();
                }
                here
            })
        })
        .join()
        .unwrap();
        let hub = unparker.join().unwrap();
        if hub != target_hub {
            unparked_from = Some(hub);
            break;
        }
    }
    let from = unparked_from.expect("no green thread landed on a second worker hub");
    assert_ne!(from, target_hub);
    assert!(parked.join().unwrap(), "the cross-hub unpark was lost");
}

/// Many cross-hub ping-pongs at once (bounded): every wake must arrive.
#[test]
fn many_cross_hub_ping_pongs() {
    const PAIRS: usize = 50;
    const ROUNDS: usize = 50;
    let handles: Vec<_> = (0..PAIRS)
        .map(|_| {
            green_core::thread::spawn(move || {
                let turn = Arc::new(AtomicUsize::new(0));
                let me = green_core::thread::current();
                let t = turn.clone();
                let pong = green_core::thread::spawn(move || {
                    for round in 0..ROUNDS {
                        let start = Instant::now();
                        while t.load(Ordering::SeqCst) != 2 * round + 1 {
                            assert!(start.elapsed() < HANG, "pong lost a wake-up");
                            green_core::thread::park_timeout(HANG);
                        }
                        t.store(2 * round + 2, Ordering::SeqCst);
                        me.unpark();
                    }
                });
                let other = pong.thread().clone();
                for round in 0..ROUNDS {
                    let start = Instant::now();
                    while turn.load(Ordering::SeqCst) != 2 * round {
                        assert!(start.elapsed() < HANG, "ping lost a wake-up");
                        green_core::thread::park_timeout(HANG);
                    }
                    turn.store(2 * round + 1, Ordering::SeqCst);
                    other.unpark();
                }
                pong.join().unwrap();
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

/// While a green thread is parked, another green thread on the same hub
/// runs — and it is the one that unparks it (so a park that blocked the hub
/// could never return).
#[test]
fn a_parked_green_thread_leaves_its_hub_free() {
    let (woken, same_hub) = in_green(|| {
        let flag = Arc::new(AtomicBool::new(false));
        let me = green_core::thread::current();
        let f = flag.clone();
        let helper = green_core::runtime::spawn_local(move || {
            f.store(true, Ordering::SeqCst);
            me.unpark();
            green_core::runtime::hub_id()
        });
        let woken = park_until(Flavor::GreenPlain, &flag);
        let helper_hub = helper.join().unwrap();
        (woken, helper_hub == green_core::runtime::hub_id())
    });
    assert!(
        same_hub,
        "spawn_local must place the helper on the same hub"
    );
    assert!(woken);
}

/// The same from a plain OS thread: its own hub runs the green thread that
/// wakes it while it is parked in `thread::park`.
#[test]
fn a_parked_os_thread_runs_its_hub() {
    let flag = Arc::new(AtomicBool::new(false));
    let me = green_core::thread::current();
    let f = flag.clone();
    let here = green_core::runtime::hub_id();
    let helper = green_core::runtime::spawn_local(move || {
        f.store(true, Ordering::SeqCst);
        me.unpark();
        green_core::runtime::hub_id()
    });
    assert!(park_until(Flavor::GreenPlain, &flag));
    assert_eq!(helper.join().unwrap(), here);
}

/// A green thread waiting in `park_timeout` keeps counting time while a
/// neighbour on its hub keeps yielding: the timeout still fires, and the
/// neighbour made progress meanwhile.
#[test]
fn park_timeout_fires_while_a_neighbour_yields() {
    let (progress, stopped_by_flag) = in_green(|| {
        let stop = Arc::new(AtomicBool::new(false));
        let count = Arc::new(AtomicUsize::new(0));
        let (s, c) = (stop.clone(), count.clone());
        let busy = green_core::runtime::spawn_local(move || {
            let start = Instant::now();
            while !s.load(Ordering::SeqCst) {
                if start.elapsed() >= HANG {
                    return false;
                }
                c.fetch_add(1, Ordering::SeqCst);
                green_core::thread::yield_now();
            }
            true
        });
        let dur = Duration::from_millis(20);
        let start = Instant::now();
        green_core::thread::park_timeout(dur);
        assert_not_early(start, dur, "park_timeout next to a yielding neighbour");
        stop.store(true, Ordering::SeqCst);
        let stopped = busy.join().unwrap();
        (count.load(Ordering::SeqCst), stopped)
    });
    assert!(progress > 0, "the neighbour never ran while we were parked");
    assert!(
        stopped_by_flag,
        "park_timeout only returned once the neighbour gave up"
    );
}

/// The same from a plain OS thread: its `park_timeout` must return after
/// its timeout even though a green thread on its hub keeps yielding.
#[test]
fn plain_thread_park_timeout_fires_while_a_local_green_thread_yields() {
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicUsize::new(0));
    let (s, c) = (stop.clone(), count.clone());
    let busy = green_core::runtime::spawn_local(move || {
        let start = Instant::now();
        while !s.load(Ordering::SeqCst) {
            if start.elapsed() >= Duration::from_secs(3) {
                return false;
            }
            c.fetch_add(1, Ordering::SeqCst);
            green_core::thread::yield_now();
        }
        true
    });
    let dur = Duration::from_millis(20);
    let start = Instant::now();
    green_core::thread::park_timeout(dur);
    assert_not_early(
        start,
        dur,
        "park_timeout next to a yielding local green thread",
    );
    stop.store(true, Ordering::SeqCst);
    let stopped_by_flag = busy.join().unwrap();
    assert!(count.load(Ordering::SeqCst) > 0);
    assert!(
        stopped_by_flag,
        "the plain thread's park_timeout did not return until its busy green \
         neighbour gave up (after 3 s)"
    );
}

// ----- the green_core::park primitive -----

#[test]
fn unparker_is_clone_send_sync() {
    assert_send_sync::<green_core::park::Unparker>();
    let u = green_core::park::unparker();
    let v = u.clone();
    assert!(u.same_context(&v));
    let other = green_core::thread::spawn(green_core::park::unparker)
        .join()
        .unwrap();
    assert!(!u.same_context(&other));
}

#[test]
fn in_green_thread_tells_where_we_are() {
    assert!(!green_core::park::in_green_thread());
    assert!(green_core::thread::spawn(green_core::park::in_green_thread)
        .join()
        .unwrap());
    assert!(!std::thread::spawn(green_core::park::in_green_thread)
        .join()
        .unwrap());
}

/// An unpark that lands after `unparker()` was taken and before `park` is
/// never lost, from a plain thread and from a green thread.
#[rstest]
#[case::green_plain(Flavor::GreenPlain)]
#[case::green_in_green(Flavor::GreenInGreen)]
fn primitive_unpark_before_park_is_not_lost(#[case] flavor: Flavor) {
    flavor.run(|| {
        let u = green_core::park::unparker();
        u.unpark();
        let start = Instant::now();
        green_core::park::park(Some(start + HANG));
        assert!(start.elapsed() < HANG, "an unpark before park was lost");
    });
}

#[rstest]
#[case::green_plain(Flavor::GreenPlain)]
#[case::green_in_green(Flavor::GreenInGreen)]
fn primitive_wakes_across_threads(#[case] flavor: Flavor) {
    flavor.run(|| {
        let done = Arc::new(AtomicBool::new(false));
        for round in 0..100u32 {
            done.store(false, Ordering::SeqCst);
            let u = green_core::park::unparker();
            let d = done.clone();
            // Alternate wakers: an OS thread and a green thread.
            if round % 2 == 0 {
                std::thread::spawn(move || {
                    d.store(true, Ordering::SeqCst);
                    u.unpark();
                });
            } else {
                green_core::thread::spawn(move || {
                    d.store(true, Ordering::SeqCst);
                    u.unpark();
                });
            }
            let start = Instant::now();
            while !done.load(Ordering::SeqCst) {
                assert!(start.elapsed() < HANG, "round {round}: wake lost");
                green_core::park::park(Some(Instant::now() + HANG));
            }
        }
    });
}

#[rstest]
#[case::green_plain(Flavor::GreenPlain)]
#[case::green_in_green(Flavor::GreenInGreen)]
fn primitive_park_with_a_deadline_returns(#[case] flavor: Flavor) {
    flavor.run(|| {
        // Spurious returns are allowed, so loop to the deadline: every
        // single call must return (not hang), and the loop ends.
        let deadline = Instant::now() + Duration::from_millis(20);
        let mut calls = 0u32;
        while Instant::now() < deadline {
            green_core::park::park(Some(deadline));
            calls += 1;
            assert!(calls < 1_000_000, "park(deadline) keeps returning at once");
        }
    });
}
