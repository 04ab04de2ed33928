//! `mpsc`: `channel`, `sync_channel` (incl. the rendezvous `sync_channel(0)`),
//! `Sender`, `SyncSender`, `Receiver` and its iterators: the same scenarios
//! on `std::sync::mpsc`, on `green_sync::mpsc` from a plain thread and on
//! `green_sync::mpsc` inside a green thread; then green-only checks.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use green_conformance::{assert_not_early, assert_send_sync, Rng};

green_conformance::std_and_green! {
    std: { use std::sync; use std::sync::mpsc; }
    green: { use green_sync as sync; use green_sync::mpsc; }

    fn fifo_per_sender_and_every_message_once(flavor) {
        let (tx, rx) = mpsc::channel();
        let hs: Vec<_> = (0..4u64)
            .map(|s| {
                let tx = tx.clone();
                flavor.spawn(move || {
                    for i in 0..500u64 {
                        tx.send((s, i)).unwrap();
                    }
                })
            })
            .collect();
        drop(tx);
        let mut next = [0u64; 4];
        let mut n = 0;
        for (s, i) in rx.iter() {
            assert_eq!(next[s as usize], i, "out of order from sender {s}");
            next[s as usize] += 1;
            n += 1;
        }
        assert_eq!(n, 2000);
        for h in hs {
            h.join().unwrap();
        }
    }

    fn recv_drains_then_reports_disconnection(flavor) {
        let _ = flavor;
        let (tx, rx) = mpsc::channel();
        tx.send(1).unwrap();
        tx.send(2).unwrap();
        drop(tx);
        assert_eq!(rx.recv(), Ok(1));
        assert_eq!(rx.try_recv(), Ok(2));
        assert_eq!(rx.recv(), Err(mpsc::RecvError));
        assert_eq!(rx.try_recv(), Err(mpsc::TryRecvError::Disconnected));
        assert_eq!(
            rx.recv_timeout(Duration::from_millis(1)),
            Err(mpsc::RecvTimeoutError::Disconnected)
        );
        let (tx, rx) = mpsc::sync_channel(3);
        tx.send("a").unwrap();
        drop(tx);
        assert_eq!(rx.recv(), Ok("a"));
        assert_eq!(rx.recv(), Err(mpsc::RecvError));
    }

    fn a_blocked_recv_sees_the_last_sender_go(flavor) {
        let (tx, rx) = mpsc::channel::<u8>();
        let h = flavor.spawn(move || rx.recv());
        flavor.sleep(Duration::from_millis(10));
        let tx2 = tx.clone();
        drop(tx);
        flavor.sleep(Duration::from_millis(5));
        assert!(!h.is_finished());
        drop(tx2);
        assert_eq!(h.join().unwrap(), Err(mpsc::RecvError));
    }

    fn send_after_the_receiver_is_gone_returns_the_value(flavor) {
        let _ = flavor;
        let (tx, rx) = mpsc::channel();
        drop(rx);
        let err = tx.send(String::from("lost")).unwrap_err();
        assert_eq!(err.0, "lost");
        assert_eq!(err.to_string(), "sending on a closed channel");
        let (stx, srx) = mpsc::sync_channel(1);
        drop(srx);
        assert_eq!(stx.send(1).unwrap_err().0, 1);
        assert!(matches!(stx.try_send(2), Err(mpsc::TrySendError::Disconnected(2))));
    }

    fn a_blocked_sync_sender_sees_the_receiver_go(flavor) {
        for bound in [0usize, 1] {
            let (tx, rx) = mpsc::sync_channel(bound);
            if bound == 1 {
                tx.send(0).unwrap();
            }
            let h = flavor.spawn(move || tx.send(7));
            flavor.sleep(Duration::from_millis(10));
            assert!(!h.is_finished());
            drop(rx);
            assert_eq!(h.join().unwrap().unwrap_err().0, 7);
        }
    }

    fn try_recv_empty_and_recv_timeout_not_early(flavor) {
        let _ = flavor;
        let (tx, rx) = mpsc::channel::<u32>();
        assert_eq!(rx.try_recv(), Err(mpsc::TryRecvError::Empty));
        for ms in [0u64, 1, 15] {
            let dur = Duration::from_millis(ms);
            let start = Instant::now();
            assert_eq!(rx.recv_timeout(dur), Err(mpsc::RecvTimeoutError::Timeout));
            assert_not_early(start, dur, "recv_timeout");
        }
        tx.send(5).unwrap();
        assert_eq!(rx.recv_timeout(Duration::MAX), Ok(5));
        assert_eq!(
            mpsc::RecvTimeoutError::Timeout.to_string(),
            "timed out waiting on channel"
        );
    }

    fn recv_timeout_returns_when_a_message_arrives(flavor) {
        let (tx, rx) = mpsc::channel();
        let h = flavor.spawn(move || rx.recv_timeout(Duration::from_secs(30)));
        flavor.sleep(Duration::from_millis(10));
        tx.send(9).unwrap();
        assert_eq!(h.join().unwrap(), Ok(9));
    }

    fn bounded_send_blocks_while_full(flavor) {
        let (tx, rx) = mpsc::sync_channel(2);
        tx.send(1).unwrap();
        tx.try_send(2).unwrap();
        assert!(matches!(tx.try_send(3), Err(mpsc::TrySendError::Full(3))));
        let t2 = tx.clone();
        let h = flavor.spawn(move || t2.send(3).unwrap());
        flavor.sleep(Duration::from_millis(10));
        assert!(!h.is_finished());
        assert_eq!(rx.recv(), Ok(1));
        h.join().unwrap();
        assert_eq!(rx.recv(), Ok(2));
        assert_eq!(rx.recv(), Ok(3));
    }

    fn rendezvous_send_returns_only_once_received(flavor) {
        let (tx, rx) = mpsc::sync_channel(0);
        assert!(matches!(tx.try_send(1), Err(mpsc::TrySendError::Full(1))));
        let sent = sync::Arc::new(AtomicBool::new(false));
        let s = sent.clone();
        let h = flavor.spawn(move || {
            tx.send(2).unwrap();
            s.store(true, Ordering::SeqCst);
            tx
        });
        flavor.sleep(Duration::from_millis(20));
        assert!(!sent.load(Ordering::SeqCst), "a rendezvous send finished unreceived");
        assert_eq!(rx.recv(), Ok(2));
        let tx = h.join().unwrap();
        assert!(sent.load(Ordering::SeqCst));
        // try_send succeeds only when the receiver is blocked in recv.
        let h = flavor.spawn(move || rx.recv());
        let start = Instant::now();
        let mut value = 3;
        loop {
            match tx.try_send(value) {
                Ok(()) => break,
                Err(mpsc::TrySendError::Full(v)) => value = v,
                Err(mpsc::TrySendError::Disconnected(_)) => panic!("receiver gone"),
            }
            assert!(start.elapsed() < Duration::from_secs(20), "receiver never blocked");
            flavor.sleep(Duration::from_millis(1));
        }
        assert_eq!(h.join().unwrap(), Ok(3));
    }

    fn rendezvous_try_recv_takes_from_a_blocked_sender(flavor) {
        let (tx, rx) = mpsc::sync_channel(0);
        assert_eq!(rx.try_recv(), Err(mpsc::TryRecvError::Empty));
        let h = flavor.spawn(move || tx.send(4));
        let start = Instant::now();
        let got = loop {
            match rx.try_recv() {
                Ok(v) => break v,
                Err(mpsc::TryRecvError::Empty) => flavor.sleep(Duration::from_millis(1)),
                Err(e) => panic!("{e}"),
            }
            assert!(start.elapsed() < Duration::from_secs(20), "sender never blocked");
        };
        assert_eq!(got, 4);
        h.join().unwrap().unwrap();
        assert_eq!(rx.try_recv(), Err(mpsc::TryRecvError::Disconnected));
    }

    fn iterators(flavor) {
        let (tx, rx) = mpsc::channel();
        for i in 0..3 {
            tx.send(i).unwrap();
        }
        assert_eq!(rx.try_iter().collect::<Vec<_>>(), [0, 1, 2]);
        assert_eq!(rx.try_iter().next(), None);
        let h = flavor.spawn(move || {
            for i in 3..6 {
                tx.send(i).unwrap();
            }
        });
        let mut got = Vec::new();
        for v in &rx {
            got.push(v);
        }
        h.join().unwrap();
        assert_eq!(got, [3, 4, 5]);
        let (tx, rx) = mpsc::sync_channel(5);
        tx.send(1).unwrap();
        tx.send(2).unwrap();
        drop(tx);
        assert_eq!(rx.into_iter().collect::<Vec<_>>(), [1, 2]);
    }

    fn debug_formats(flavor) {
        let _ = flavor;
        let (tx, rx) = mpsc::channel::<u8>();
        let (stx, _srx) = mpsc::sync_channel::<u8>(0);
        assert_eq!(format!("{tx:?}"), "Sender { .. }");
        assert_eq!(format!("{stx:?}"), "SyncSender { .. }");
        assert_eq!(format!("{rx:?}"), "Receiver { .. }");
        assert_eq!(format!("{:?}", rx.iter()), "Iter { rx: Receiver { .. } }");
        assert_eq!(format!("{:?}", rx.try_iter()), "TryIter { rx: Receiver { .. } }");
        assert_eq!(format!("{:?}", rx.into_iter()), "IntoIter { rx: Receiver { .. } }");
    }

    fn receiver_drop_drops_buffered_messages(flavor) {
        let _ = flavor;
        let marker = sync::Arc::new(());
        let (tx, rx) = mpsc::channel();
        tx.send(marker.clone()).unwrap();
        tx.send(marker.clone()).unwrap();
        assert_eq!(sync::Arc::strong_count(&marker), 3);
        drop(rx);
        assert_eq!(sync::Arc::strong_count(&marker), 1);
    }
}

#[test]
fn auto_traits_match_std() {
    fn unwind_safe<T: std::panic::UnwindSafe + std::panic::RefUnwindSafe>() {}
    fn send<T: Send>() {}
    use green_sync::mpsc::{IntoIter, Receiver, Sender, SyncSender};
    assert_send_sync::<Sender<u32>>();
    assert_send_sync::<SyncSender<u32>>();
    send::<Receiver<u32>>();
    send::<IntoIter<u32>>();
    unwind_safe::<Sender<std::cell::Cell<u32>>>();
    unwind_safe::<SyncSender<std::cell::Cell<u32>>>();
    unwind_safe::<Receiver<std::cell::Cell<u32>>>();
}

// ----- green-only -----

/// A green thread blocked in `recv` (or in a rendezvous `send`) lets the
/// green thread that will unblock it run on the same hub.
#[test]
fn blocked_ends_do_not_block_their_hub() {
    green_core::thread::spawn(|| {
        let (tx, rx) = green_sync::mpsc::sync_channel(0);
        let hub = green_core::runtime::hub_id();
        let receiver = green_core::runtime::spawn_local(move || {
            assert_eq!(green_core::runtime::hub_id(), hub);
            (rx.recv().unwrap(), rx.recv().unwrap())
        });
        green_core::thread::yield_now();
        let sender = green_core::runtime::spawn_local(move || {
            tx.send(1).unwrap();
            tx.send(2).unwrap();
        });
        sender.join().unwrap();
        assert_eq!(receiver.join().unwrap(), (1, 2));
    })
    .join()
    .unwrap();
}

/// Ping-pong across every pairing: green↔green on one hub, green↔green on
/// different hubs, green↔OS thread, OS↔OS, with all three channel kinds.
#[test]
fn ping_pong_between_every_kind_of_thread() {
    type Pair = (
        Box<dyn FnOnce(Box<dyn FnOnce() + Send>) + Send>,
        &'static str,
    );
    for bound in [None, Some(0), Some(1)] {
        let spawners: Vec<Pair> = vec![
            (
                Box::new(|f| {
                    green_core::runtime::spawn_local(f);
                }),
                "local green",
            ),
            (
                Box::new(|f| {
                    green_core::thread::spawn(f);
                }),
                "worker green",
            ),
            (
                Box::new(|f| {
                    std::thread::spawn(f);
                }),
                "OS thread",
            ),
        ];
        for (spawn, what) in spawners {
            let (ping_tx, ping_rx) = make(bound);
            let (pong_tx, pong_rx) = make(bound);
            spawn(Box::new(move || {
                while let Ok(v) = ping_rx.recv() {
                    pong_tx.send(v + 1).unwrap();
                }
            }));
            for i in 0..200u64 {
                ping_tx.send(i).unwrap();
                assert_eq!(pong_rx.recv().unwrap(), i + 1, "{what} {bound:?}");
            }
        }
    }

    enum Tx {
        A(green_sync::mpsc::Sender<u64>),
        S(green_sync::mpsc::SyncSender<u64>),
    }
    impl Tx {
        fn send(&self, v: u64) -> Result<(), green_sync::mpsc::SendError<u64>> {
            match self {
                Tx::A(t) => t.send(v),
                Tx::S(t) => t.send(v),
            }
        }
    }
    fn make(bound: Option<usize>) -> (Tx, green_sync::mpsc::Receiver<u64>) {
        match bound {
            None => {
                let (t, r) = green_sync::mpsc::channel();
                (Tx::A(t), r)
            }
            Some(b) => {
                let (t, r) = green_sync::mpsc::sync_channel(b);
                (Tx::S(t), r)
            }
        }
    }
}

/// Bounded, seeded stress on a small bounded channel: green senders on
/// workers and on the caller's hub plus OS senders; every message arrives
/// exactly once and in order per sender.
#[test]
fn bounded_channel_stress_mixed() {
    let mut rng = Rng::from_env("sync_mpsc::bounded_stress");
    let bound = rng.below(3) as usize;
    let (tx, rx) = green_sync::mpsc::sync_channel::<(usize, u64)>(bound);
    let senders = 12;
    let counts: Vec<u64> = (0..senders).map(|_| 50 + rng.below(150)).collect();
    let mut green = Vec::new();
    let mut os = Vec::new();
    for (s, &n) in counts.iter().enumerate() {
        let tx = tx.clone();
        let work = move || {
            for i in 0..n {
                tx.send((s, i)).unwrap();
            }
        };
        match s % 3 {
            0 => green.push(green_core::thread::spawn(work)),
            1 => green.push(green_core::runtime::spawn_local(work)),
            _ => os.push(std::thread::spawn(work)),
        }
    }
    drop(tx);
    let mut next = vec![0u64; senders];
    let received = AtomicUsize::new(0);
    for (s, i) in rx.iter() {
        assert_eq!(next[s], i);
        next[s] += 1;
        received.fetch_add(1, Ordering::Relaxed);
    }
    assert_eq!(next, counts);
    for h in green {
        h.join().unwrap();
    }
    for h in os {
        h.join().unwrap();
    }
}

/// Bounded, seeded stress on the unbounded channel, whose receiver takes
/// every buffered message in one go and then serves itself from that
/// batch: the receiver (a worker green thread, a local one or the test
/// thread) parks between short bursts from senders on every kind of
/// thread, mixing `recv`, `recv_timeout` and `try_recv`, and the last
/// sender's drop races its park. Every round receives every message once,
/// in order per sender, and then sees the hang-up (a lost wake-up hangs
/// the test).
#[test]
fn unbounded_channel_batches_and_park_races() {
    let mut rng = Rng::from_env("sync_mpsc::unbounded_park_races");
    for round in 0..150 {
        let (tx, rx) = green_sync::mpsc::channel::<(usize, u64)>();
        let senders = 1 + rng.below(4) as usize;
        let counts: Vec<u64> = (0..senders).map(|_| rng.below(40)).collect();
        let mut green = Vec::new();
        let mut os = Vec::new();
        for (s, &n) in counts.iter().enumerate() {
            let tx = tx.clone();
            let pause_every = 1 + rng.below(8);
            let work = move || {
                for i in 0..n {
                    tx.send((s, i)).unwrap();
                    if i % pause_every == 0 {
                        green_core::thread::yield_now();
                    }
                }
            };
            match (s + round) % 3 {
                0 => green.push(green_core::thread::spawn(work)),
                1 => green.push(green_core::runtime::spawn_local(work)),
                _ => os.push(std::thread::spawn(work)),
            }
        }
        drop(tx);
        let mode = rng.below(3);
        let receive = move || {
            let mut next = vec![0u64; senders];
            let mut turn = 0u64;
            loop {
                turn += 1;
                let got = match (mode + turn) % 3 {
                    0 => rx.recv().ok(),
                    1 => match rx.recv_timeout(Duration::from_micros(200)) {
                        Ok(m) => Some(m),
                        Err(green_sync::mpsc::RecvTimeoutError::Timeout) => continue,
                        Err(green_sync::mpsc::RecvTimeoutError::Disconnected) => None,
                    },
                    _ => match rx.try_recv() {
                        Ok(m) => Some(m),
                        Err(green_sync::mpsc::TryRecvError::Empty) => {
                            green_core::thread::yield_now();
                            continue;
                        }
                        Err(green_sync::mpsc::TryRecvError::Disconnected) => None,
                    },
                };
                let Some((s, i)) = got else { return next };
                assert_eq!(next[s], i, "round {round}: sender {s} out of order");
                next[s] += 1;
            }
        };
        let next = match round % 3 {
            0 => green_core::thread::spawn(receive).join().unwrap(),
            1 => green_core::runtime::spawn_local(receive).join().unwrap(),
            _ => receive(),
        };
        assert_eq!(next, counts, "round {round}");
        for h in green {
            h.join().unwrap();
        }
        for h in os {
            h.join().unwrap();
        }
    }
}
