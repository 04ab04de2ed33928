//! `Condvar`, `WaitTimeoutResult`: the same scenarios on `std::sync`, on
//! `green_sync` from a plain thread and on `green_sync` inside a green
//! thread; then green-only checks.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use green_conformance::{assert_not_early, assert_send_sync};

green_conformance::std_and_green! {
    std: { use std::sync; }
    green: { use green_sync as sync; }

    fn wait_returns_after_notify(flavor) {
        let pair = sync::Arc::new((sync::Mutex::new(false), sync::Condvar::new()));
        let p = pair.clone();
        let h = flavor.spawn(move || {
            let (m, cv) = &*p;
            let mut ready = m.lock().unwrap();
            while !*ready {
                ready = cv.wait(ready).unwrap();
            }
        });
        flavor.sleep(Duration::from_millis(10));
        let (m, cv) = &*pair;
        *m.lock().unwrap() = true;
        cv.notify_one();
        h.join().unwrap();
    }

    fn notify_all_wakes_every_waiter(flavor) {
        let pair = sync::Arc::new((sync::Mutex::new(0u32), sync::Condvar::new()));
        let waiting = sync::Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..5)
            .map(|_| {
                let (p, w) = (pair.clone(), waiting.clone());
                flavor.spawn(move || {
                    let (m, cv) = &*p;
                    let g = m.lock().unwrap();
                    w.fetch_add(1, Ordering::SeqCst);
                    let g = cv.wait_while(g, |gen| *gen == 0).unwrap();
                    assert_eq!(*g, 1);
                })
            })
            .collect();
        while waiting.load(Ordering::SeqCst) < 5 {
            flavor.sleep(Duration::from_millis(1));
        }
        let (m, cv) = &*pair;
        *m.lock().unwrap() = 1;
        cv.notify_all();
        for h in hs {
            h.join().unwrap();
        }
    }

    fn notify_one_wakes_exactly_one(flavor) {
        let pair = sync::Arc::new((sync::Mutex::new(0u32), sync::Condvar::new()));
        let woke = sync::Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..3)
            .map(|_| {
                let (p, woke) = (pair.clone(), woke.clone());
                flavor.spawn(move || {
                    let (m, cv) = &*p;
                    let mut g = cv.wait_while(m.lock().unwrap(), |tickets| *tickets == 0).unwrap();
                    *g -= 1;
                    woke.fetch_add(1, Ordering::SeqCst);
                })
            })
            .collect();
        flavor.sleep(Duration::from_millis(20));
        let (m, cv) = &*pair;
        for round in 1..=3 {
            *m.lock().unwrap() += 1;
            cv.notify_one();
            while woke.load(Ordering::SeqCst) < round {
                flavor.sleep(Duration::from_millis(1));
            }
            flavor.sleep(Duration::from_millis(5));
            assert_eq!(woke.load(Ordering::SeqCst), round);
        }
        for h in hs {
            h.join().unwrap();
        }
    }

    fn a_notify_without_waiters_is_not_remembered(flavor) {
        let _ = flavor;
        let m = sync::Mutex::new(());
        let cv = sync::Condvar::new();
        cv.notify_one();
        cv.notify_all();
        let dur = Duration::from_millis(15);
        let start = Instant::now();
        let (_g, res) = cv.wait_timeout(m.lock().unwrap(), dur).unwrap();
        assert!(res.timed_out());
        assert_not_early(start, dur, "wait_timeout");
    }

    fn wait_timeout_times_out_never_early(flavor) {
        let _ = flavor;
        let m = sync::Mutex::new(7);
        let cv = sync::Condvar::new();
        for ms in [0u64, 1, 5, 20] {
            let dur = Duration::from_millis(ms);
            let start = Instant::now();
            let (g, res) = cv.wait_timeout(m.lock().unwrap(), dur).unwrap();
            assert_eq!(*g, 7);
            if res.timed_out() {
                assert_not_early(start, dur, "wait_timeout");
            }
        }
        let start = Instant::now();
        let (g, res) = cv
            .wait_timeout_while(m.lock().unwrap(), Duration::from_millis(20), |v| *v == 7)
            .unwrap();
        assert!(res.timed_out());
        assert_eq!(*g, 7);
        assert_not_early(start, Duration::from_millis(20), "wait_timeout_while");
        drop(g);
        let (g, res) = cv
            .wait_timeout_while(m.lock().unwrap(), Duration::from_millis(20), |v| *v != 7)
            .unwrap();
        assert!(!res.timed_out());
        drop(g);
        let (g, still_waiting) = cv.wait_timeout_ms(m.lock().unwrap(), 2).unwrap();
        assert!(!still_waiting);
        drop(g);
        // A huge timeout is not an error; notified, it returns.
        let pair = sync::Arc::new((sync::Mutex::new(false), sync::Condvar::new()));
        let p = pair.clone();
        let h = flavor.spawn(move || {
            let (m, cv) = &*p;
            let (g, res) = cv
                .wait_timeout_while(m.lock().unwrap(), Duration::MAX, |done| !*done)
                .unwrap();
            assert!(*g && !res.timed_out());
        });
        flavor.sleep(Duration::from_millis(5));
        *pair.0.lock().unwrap() = true;
        pair.1.notify_all();
        h.join().unwrap();
    }

    fn wait_timeout_returns_early_when_notified(flavor) {
        let pair = sync::Arc::new((sync::Mutex::new(false), sync::Condvar::new()));
        let p = pair.clone();
        let h = flavor.spawn(move || {
            let (m, cv) = &*p;
            let (g, res) = cv
                .wait_timeout_while(m.lock().unwrap(), Duration::from_secs(30), |set| !*set)
                .unwrap();
            assert!(*g);
            assert!(!res.timed_out());
        });
        flavor.sleep(Duration::from_millis(10));
        *pair.0.lock().unwrap() = true;
        pair.1.notify_one();
        h.join().unwrap();
    }

    fn wait_reports_a_mutex_poisoned_meanwhile(flavor) {
        let pair = sync::Arc::new((sync::Mutex::new(0), sync::Condvar::new()));
        let p = pair.clone();
        let waiter = flavor.spawn(move || {
            let (m, cv) = &*p;
            let g = m.lock().unwrap();
            let r = cv.wait_while(g, |v| *v == 0);
            match r {
                Err(poisoned) => assert_eq!(**poisoned.get_ref(), 1),
                Ok(_) => panic!("the mutex was poisoned while we waited"),
            }
        });
        flavor.sleep(Duration::from_millis(10));
        let p = pair.clone();
        let _ = flavor
            .spawn(move || {
                let (m, cv) = &*p;
                let mut g = m.lock().unwrap();
                *g = 1;
                cv.notify_all();
                panic!("poison while the waiter waits");
            })
            .join();
        waiter.join().unwrap();
        // wait_timeout carries the timeout result inside the poison error.
        let (m, cv) = &*pair;
        let g = m.lock().unwrap_err().into_inner();
        let err = cv.wait_timeout(g, Duration::from_millis(1)).unwrap_err();
        assert!(err.get_ref().1.timed_out());
    }

    fn debug_default_and_wait_timeout_result(flavor) {
        let _ = flavor;
        let cv: sync::Condvar = Default::default();
        assert_eq!(format!("{cv:?}"), "Condvar { .. }");
        let m = sync::Mutex::new(());
        let (_g, res) = cv.wait_timeout(m.lock().unwrap(), Duration::ZERO).unwrap();
        assert_eq!(format!("{res:?}"), "WaitTimeoutResult(true)");
        let copy = res;
        assert_eq!(copy, res.clone());
    }
}

#[test]
fn auto_traits_match_std() {
    fn unwind_safe<T: std::panic::UnwindSafe + std::panic::RefUnwindSafe>() {}
    assert_send_sync::<green_sync::Condvar>();
    unwind_safe::<green_sync::Condvar>();
    assert_send_sync::<green_sync::WaitTimeoutResult>();
}

// ----- green-only -----

/// A green thread waiting on a condvar lets its hub run the notifier.
#[test]
fn a_waiter_does_not_block_its_hub() {
    green_core::thread::spawn(|| {
        let pair =
            green_sync::Arc::new((green_sync::Mutex::new(false), green_sync::Condvar::new()));
        let p = pair.clone();
        let waiter = green_core::runtime::spawn_local(move || {
            let (m, cv) = &*p;
            drop(cv.wait_while(m.lock().unwrap(), |set| !*set).unwrap());
        });
        green_core::thread::yield_now();
        let p = pair.clone();
        green_core::runtime::spawn_local(move || {
            let (m, cv) = &*p;
            *m.lock().unwrap() = true;
            cv.notify_one();
        })
        .join()
        .unwrap();
        waiter.join().unwrap();
    })
    .join()
    .unwrap();
}

/// The same condvar and mutex used at once by green threads on two hubs and
/// by OS threads: a bounded queue of tokens handed around, every token
/// consumed exactly once.
#[test]
fn mixed_producers_and_consumers_hand_every_token_once() {
    const PER_PRODUCER: u64 = 300;
    let state = green_sync::Arc::new((
        green_sync::Mutex::new((Vec::<u64>::new(), 0usize)),
        green_sync::Condvar::new(),
        green_sync::Condvar::new(),
    ));
    let consumed = green_sync::Arc::new(green_sync::Mutex::new(Vec::new()));
    let producers = 4u64;
    let total = producers * PER_PRODUCER;
    let mut green = Vec::new();
    let mut os = Vec::new();
    for p in 0..producers {
        let s = state.clone();
        let work = move || {
            let (m, not_full, not_empty) = &*s;
            for i in 0..PER_PRODUCER {
                let mut g = not_full
                    .wait_while(m.lock().unwrap(), |(q, _)| q.len() >= 8)
                    .unwrap();
                g.0.push(p * PER_PRODUCER + i);
                not_empty.notify_one();
            }
        };
        if p % 2 == 0 {
            green.push(green_core::thread::spawn(work));
        } else {
            os.push(std::thread::spawn(work));
        }
    }
    for c in 0..4 {
        let (s, consumed) = (state.clone(), consumed.clone());
        let work = move || loop {
            let (m, not_full, not_empty) = &*s;
            let mut g = not_empty
                .wait_while(m.lock().unwrap(), |(q, taken)| {
                    q.is_empty() && (*taken as u64) < total
                })
                .unwrap();
            if g.0.is_empty() {
                return;
            }
            let v = g.0.remove(0);
            g.1 += 1;
            let finished = g.1 as u64 == total;
            drop(g);
            not_full.notify_one();
            if finished {
                not_empty.notify_all();
            }
            consumed.lock().unwrap().push(v);
        };
        if c % 2 == 0 {
            green.push(green_core::thread::spawn(work));
        } else {
            os.push(std::thread::spawn(work));
        }
    }
    for h in green {
        h.join().unwrap();
    }
    for h in os {
        h.join().unwrap();
    }
    let mut got = consumed.lock().unwrap().clone();
    got.sort_unstable();
    assert_eq!(got, (0..total).collect::<Vec<_>>());
}
