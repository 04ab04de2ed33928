//! A channel's receiver waits with its own context stored in the channel,
//! and clears it on every way out of `recv` (a message, a timeout). A
//! context left behind would keep a finished green thread alive, and a
//! receiver handed on to another green thread would never be woken (the
//! senders would wake the old one). A receiver handed from green thread to
//! green thread, each of which parks in `recv`, times out once and then
//! finishes, leaves `green::rt::counters().contexts` where it started while
//! the receiver itself lives on.
//!
//! One test in this binary, since the counters are process-wide.

use std::time::{Duration, Instant};

use green::sync::mpsc;

/// The counters once two readings 5 ms apart agree (a thread just joined
/// may still be held by its hub for a moment).
fn quiet() -> green::rt::Counters {
    let mut last = green::rt::counters();
    loop {
        std::thread::sleep(Duration::from_millis(5));
        let now = green::rt::counters();
        if now.contexts == last.contexts && now.green_threads == last.green_threads {
            return now;
        }
        last = now;
    }
}

#[test]
fn a_receiver_handed_on_keeps_no_finished_thread_alive() {
    // Warm up: the hubs exist and have run a green thread, and this thread
    // has its own hub (and root context), which its first park would make
    // otherwise: the join above parks only if the thread has not finished
    // yet, so without this the count was off by one in some runs.
    green::thread::spawn(|| ()).join().unwrap();
    green::rt::coop::consume();
    let before = quiet();

    for bound in [None, Some(0), Some(2)] {
        let (tx, mut rx) = match bound {
            None => {
                let (tx, rx) = mpsc::channel::<u32>();
                (
                    Box::new(move |v| tx.send(v).unwrap()) as Box<dyn Fn(u32) + Send + Sync>,
                    rx,
                )
            }
            Some(b) => {
                let (tx, rx) = mpsc::sync_channel::<u32>(b);
                (
                    Box::new(move |v| tx.send(v).unwrap()) as Box<dyn Fn(u32) + Send + Sync>,
                    rx,
                )
            }
        };
        let tx = std::sync::Arc::new(tx);
        for i in 0..50 {
            let (parked_tx, parked_rx) = mpsc::channel::<()>();
            let receiver = green::thread::spawn(move || {
                parked_tx.send(()).unwrap();
                // Parks: nothing is sent until this thread is seen waiting.
                assert_eq!(rx.recv().unwrap(), i);
                // One timed-out wait too: it clears the context as well.
                assert_eq!(
                    rx.recv_timeout(Duration::from_millis(1)),
                    Err(mpsc::RecvTimeoutError::Timeout)
                );
                rx
            });
            parked_rx.recv().unwrap();
            let deadline = Instant::now() + Duration::from_secs(10);
            while !green::rt::dump()
                .to_string()
                .contains("mpsc::Receiver::recv")
                && Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_micros(200));
            }
            let send = tx.clone();
            // A rendezvous send blocks until received: send from a thread.
            let sender = std::thread::spawn(move || send(i));
            // A context left behind by an earlier wait would take this
            // message's wake: fail instead of hanging.
            let deadline = Instant::now() + Duration::from_secs(10);
            while !receiver.is_finished() {
                assert!(
                    Instant::now() < deadline,
                    "bound {bound:?}, round {i}: the receiver was never woken"
                );
                std::thread::sleep(Duration::from_micros(200));
            }
            rx = receiver.join().unwrap();
            sender.join().unwrap();
        }
        let after = quiet();
        assert_eq!(
            after.contexts, before.contexts,
            "bound {bound:?}: contexts still held with the receiver alive"
        );
        assert_eq!(after.green_threads, before.green_threads);
        drop(rx);
    }
}
