//! An idle process stays idle: with green threads parked and nothing to do,
//! the hubs sleep in their pollers instead of waking each other up.
//!
//! Counted, not timed: `green::rt::counters().polls` (every wait in a
//! poller) over a quiet half second. A sleeping hub wakes for a timer that
//! is due, a stack trim tick (about once a second) or the monitor; the bug
//! this catches (two idle workers looking at each other every 50 µs) made
//! about 10,000 a second.

use std::time::Duration;

use green::sync::{mpsc, Arc, Mutex};
use green::thread;

#[test]
fn parked_green_threads_leave_the_hubs_asleep() {
    const THREADS: usize = 1_000;
    let (tx, rx) = mpsc::channel::<()>();
    let rx = Arc::new(Mutex::new(rx));
    let (ready_tx, ready_rx) = mpsc::channel::<()>();
    let mut handles = Vec::new();
    for i in 0..THREADS {
        let ready = ready_tx.clone();
        let rx = rx.clone();
        handles.push(thread::spawn(move || {
            ready.send(()).unwrap();
            if i % 2 == 0 {
                let _ = rx.lock().unwrap().recv();
            } else {
                // Woken by the hang-up below, long before this passes.
                let _ = rx.lock().unwrap().recv_timeout(Duration::from_secs(3600));
            }
        }));
    }
    for _ in 0..THREADS {
        ready_rx.recv().unwrap();
    }
    // Let spinning and the first trims settle.
    std::thread::sleep(Duration::from_millis(300));
    let before = green::rt::counters().polls;
    std::thread::sleep(Duration::from_millis(500));
    let woke = green::rt::counters().polls - before;
    drop(tx);
    for h in handles {
        h.join().unwrap();
    }
    assert!(
        woke < 200,
        "idle hubs waited in their pollers {woke} times in half a second"
    );
}
