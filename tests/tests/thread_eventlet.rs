//! Eventlet mode (`GREEN_WORKERS=0`, set by the test before the first
//! spawn): green threads run on the spawning OS thread's own hub, whenever
//! that thread blocks in a green call. A dedicated binary with one test, so
//! the setting holds for the whole process.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use green_conformance::assert_not_early;

#[test]
fn eventlet_mode_runs_green_threads_on_the_spawners_hub() {
    std::env::set_var("GREEN_WORKERS", "0");
    assert_eq!(green_core::runtime::workers(), 0);
    let me = (std::thread::current().id(), green_core::runtime::hub_id());

    // thread::spawn places on this thread's hub.
    let handles: Vec<_> = (0..1000u32)
        .map(|i| {
            green_core::thread::spawn(move || {
                (
                    (std::thread::current().id(), green_core::runtime::hub_id()),
                    i,
                )
            })
        })
        .collect();
    for (i, h) in (0..1000u32).zip(handles) {
        let (w, v) = h.join().unwrap();
        assert_eq!(w, me, "green thread {i} ran elsewhere");
        assert_eq!(v, i);
    }

    // Sleepers overlap on the one hub: all 100 start before any wakes.
    let woke = Arc::new(AtomicUsize::new(0));
    let sleepers: Vec<_> = (0..100)
        .map(|_| {
            let woke = woke.clone();
            green_core::thread::spawn(move || {
                let before = woke.load(Ordering::SeqCst);
                let dur = Duration::from_millis(50);
                let start = Instant::now();
                green_core::thread::sleep(dur);
                assert_not_early(start, dur, "eventlet sleep");
                woke.fetch_add(1, Ordering::SeqCst);
                before
            })
        })
        .collect();
    for h in sleepers {
        assert_eq!(h.join().unwrap(), 0, "a sleeper started after another woke");
    }

    // Panics stay contained, and the hub carries on.
    let bad = green_core::thread::spawn(|| panic!("eventlet panic"));
    let good = green_core::thread::spawn(|| 5);
    assert!(bad.join().is_err());
    assert_eq!(good.join().unwrap(), 5);

    // A green thread spawned here, joined from here after a plain-thread
    // park that it ends (it runs because this thread blocks).
    let me_thread = green_core::thread::current();
    let flag = Arc::new(AtomicUsize::new(0));
    let f = flag.clone();
    let waker = green_core::thread::spawn(move || {
        f.store(1, Ordering::SeqCst);
        me_thread.unpark();
    });
    let start = Instant::now();
    while flag.load(Ordering::SeqCst) == 0 {
        assert!(start.elapsed() < Duration::from_secs(20), "never woken");
        green_core::thread::park_timeout(Duration::from_secs(20));
    }
    waker.join().unwrap();
}
