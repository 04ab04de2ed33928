//! Nothing is lost, nothing is duplicated, when waits are cancelled:
//!
//! * a `Condvar` waiter that was notified and is then cancelled passes the
//!   notification on to another waiter;
//! * under load (1,000 green threads, seeded random cancels and deadlines)
//!   every message sent on an unbounded, a bounded and a rendezvous channel
//!   is counted exactly once: received once if its `send` returned `Ok`,
//!   never if the `send` was cancelled or timed out; and a cancelled `recv`
//!   leaves its message for the next one.

use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use green::rt::{timeout, Cancelled, State};
use green::sync::{mpsc, Condvar, Mutex};
use green::thread::Cancel;
use green_conformance::Rng;

const LONG: Duration = Duration::from_secs(600);

/// Waits until the dump shows the named green thread parked.
fn wait_until_parked(name: &str) {
    let start = Instant::now();
    loop {
        let dump = green::rt::dump();
        let parked = dump
            .threads
            .iter()
            .any(|t| t.name.as_deref() == Some(name) && matches!(t.state, State::Parked { .. }));
        if parked {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{name} never parked:\n{dump}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn named<T: Send + 'static>(
    name: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> green::thread::JoinHandle<T> {
    green::thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .unwrap()
}

/// Two waiters on a condvar; the first is notified and cancelled before it
/// can take the mutex back (the notifier holds it): the second waiter gets
/// the notification instead, so one `notify_one` still wakes a waiter that
/// returns.
#[test]
fn a_notified_then_cancelled_condvar_waiter_passes_the_notification_on() {
    for timed in [false, true] {
        let pair = Arc::new((Mutex::new(0u32), Condvar::new()));
        let waiter = |name: &str| {
            let p = pair.clone();
            let h = named(name, move || {
                let (m, cv) = &*p;
                let mut g = m.lock().unwrap();
                // Exactly one notification is sent; each waiter waits for it.
                while *g == 0 {
                    g = if timed {
                        cv.wait_timeout(g, LONG).unwrap().0
                    } else {
                        cv.wait(g).unwrap()
                    };
                }
                *g += 1;
            });
            wait_until_parked(name);
            h
        };
        let first = waiter(&format!("cv-first-{timed}"));
        let second = waiter(&format!("cv-second-{timed}"));
        let (m, cv) = &*pair;
        {
            let mut g = m.lock().unwrap();
            *g = 1;
            // Goes to `first`, the oldest waiter, which then waits for the
            // mutex this guard holds...
            cv.notify_one();
            // ...and is cancelled there (or as it parks for it).
            first.cancel();
            let r = first.join();
            assert!(matches!(&r, Err(p) if p.is::<Cancelled>()));
            // The mutex is still ours: `first` never got it back.
            assert_eq!(*g, 1);
        }
        // `second` got the notification `first` could not use.
        second.join().unwrap();
        assert_eq!(*m.lock().unwrap(), 2);
        assert!(!m.is_poisoned());
    }
}

/// Which channel a conservation run uses.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Unbounded,
    Bounded,
    Rendezvous,
}

/// A sender of either kind.
#[derive(Clone)]
enum Tx {
    Unbounded(mpsc::Sender<usize>),
    Sync(mpsc::SyncSender<usize>),
}

impl Tx {
    fn send(&self, v: usize) -> Result<(), mpsc::SendError<usize>> {
        match self {
            Tx::Unbounded(tx) => tx.send(v),
            Tx::Sync(tx) => tx.send(v),
        }
    }
}

/// What became of one `send`.
const UNSENT: u8 = 0;
/// `send` returned `Ok`: it must be received.
const SENT: u8 = 1;
/// `send` was cancelled or its deadline passed.
const INTERRUPTED: u8 = 2;

/// Producers per channel, messages per producer.
const PRODUCERS: usize = 334;
const MESSAGES: usize = 6;

/// Three channels (unbounded, bounded, rendezvous), each with `PRODUCERS`
/// green threads sending, a quarter of their sends under short deadlines,
/// and a receiver receiving under short deadlines, replaced each time it
/// is cancelled; the test thread cancels a third of the producers and each
/// receiver a few times, in a seeded random order.
#[test]
fn messages_are_conserved_under_random_cancels() {
    let mut rng = Rng::from_env("cancel conservation");
    let mut runs = Vec::new();
    for kind in [Kind::Unbounded, Kind::Bounded, Kind::Rendezvous] {
        runs.push(start(kind, &mut rng));
    }
    let total_threads: usize = runs.iter().map(|r| r.producers.len() + 1).sum();
    assert!(total_threads >= 1000, "{total_threads} green threads");
    // Cancel at random: a third of the producers, and each receiver a few
    // times, spread over the run.
    let mut victims: Vec<(usize, Option<usize>)> = Vec::new();
    for (r, run) in runs.iter().enumerate() {
        for p in 0..run.producers.len() {
            if rng.below(3) == 0 {
                victims.push((r, Some(p)));
            }
        }
        for _ in 0..4 {
            victims.push((r, None));
        }
    }
    // Shuffle (Fisher-Yates).
    for i in (1..victims.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        victims.swap(i, j);
    }
    for (r, p) in victims {
        let run = &runs[r];
        match p {
            Some(p) => run.producers[p].thread().cancel(),
            None => {
                if let Some(t) = run.receiver.lock().unwrap().as_ref() {
                    t.cancel();
                }
            }
        }
        // Spread over the run (the producers send meanwhile).
        green::thread::sleep(Duration::from_micros(rng.below(200)));
    }
    for run in runs {
        run.finish();
    }
}

/// One channel's run (see `start`).
struct Run {
    kind: Kind,
    producers: Vec<green::thread::JoinHandle<()>>,
    /// The current receiver thread (replaced when cancelled).
    receiver: Arc<std::sync::Mutex<Option<green::thread::Thread>>>,
    supervisor: green::thread::JoinHandle<()>,
    outcome: Arc<Vec<AtomicU8>>,
    received: Arc<Vec<AtomicU8>>,
    /// Receivers cancelled (and replaced).
    restarts: Arc<AtomicUsize>,
}

/// Starts one channel's producers and its receivers' supervisor.
fn start(kind: Kind, rng: &mut Rng) -> Run {
    let n = PRODUCERS * MESSAGES;
    let outcome: Arc<Vec<AtomicU8>> = Arc::new((0..n).map(|_| AtomicU8::new(UNSENT)).collect());
    let received: Arc<Vec<AtomicU8>> = Arc::new((0..n).map(|_| AtomicU8::new(0)).collect());
    let (tx, rx) = match kind {
        Kind::Unbounded => {
            let (tx, rx) = mpsc::channel();
            (Tx::Unbounded(tx), rx)
        }
        Kind::Bounded => {
            let (tx, rx) = mpsc::sync_channel(4);
            (Tx::Sync(tx), rx)
        }
        Kind::Rendezvous => {
            let (tx, rx) = mpsc::sync_channel(0);
            (Tx::Sync(tx), rx)
        }
    };
    let producers = (0..PRODUCERS)
        .map(|p| {
            let tx = tx.clone();
            let outcome = outcome.clone();
            // Which of its sends run under a short deadline, and how short;
            // and a pause after each (so receivers wait too).
            let deadlines: Vec<Option<Duration>> = (0..MESSAGES)
                .map(|_| (rng.below(4) == 0).then(|| Duration::from_micros(rng.below(500))))
                .collect();
            let pauses: Vec<Duration> = (0..MESSAGES)
                .map(|_| Duration::from_micros(rng.below(2000)))
                .collect();
            green::thread::spawn(move || {
                for (k, deadline) in deadlines.into_iter().enumerate() {
                    let id = p * MESSAGES + k;
                    // Marked first: if the thread is cancelled inside `send`,
                    // this is what stays.
                    outcome[id].store(INTERRUPTED, Ordering::SeqCst);
                    let sent = match deadline {
                        None => tx.send(id).is_ok(),
                        Some(d) => matches!(timeout(d, || tx.send(id)), Ok(Ok(()))),
                    };
                    if sent {
                        outcome[id].store(SENT, Ordering::SeqCst);
                    }
                    green::thread::sleep(pauses[k]);
                }
            })
        })
        .collect();
    drop(tx);
    let rx = Arc::new(std::sync::Mutex::new(rx));
    let receiver = Arc::new(std::sync::Mutex::new(None));
    let seed = rng.next_u64();
    let (current, got) = (receiver.clone(), received.clone());
    let restarts = Arc::new(AtomicUsize::new(0));
    let restarted = restarts.clone();
    // Runs receivers one after another until one sees the channel hang up.
    let supervisor = green::thread::spawn(move || {
        let mut rng = Rng::new(seed);
        loop {
            let (rx, got) = (rx.clone(), got.clone());
            let wait = Duration::from_micros(50 + rng.below(1000));
            // Registered before it runs, so a cancel may come at any point.
            let h = green::thread::spawn(move || receive(&rx, &got, wait));
            *current.lock().unwrap() = Some(h.thread().clone());
            match h.join() {
                Ok(()) => return,
                Err(p) => {
                    assert!(p.is::<Cancelled>(), "a receiver panicked");
                    restarted.fetch_add(1, Ordering::SeqCst);
                }
            }
        }
    });
    Run {
        kind,
        producers,
        receiver,
        supervisor,
        outcome,
        received,
        restarts,
    }
}

/// Receives until every sender is gone, each `recv` under a short deadline.
fn receive(rx: &std::sync::Mutex<mpsc::Receiver<usize>>, got: &[AtomicU8], wait: Duration) {
    let rx = rx.lock().unwrap_or_else(|p| p.into_inner());
    loop {
        match timeout(wait, || rx.recv()) {
            Ok(Ok(id)) => {
                got[id].fetch_add(1, Ordering::SeqCst);
            }
            Ok(Err(mpsc::RecvError)) => return,
            // The deadline passed: a message handed over meanwhile is still
            // in the channel for the next `recv`.
            Err(_) => {}
        }
    }
}

impl Run {
    fn finish(self) {
        let mut cancelled = 0;
        for h in self.producers {
            if h.join().is_err() {
                cancelled += 1;
            }
        }
        self.supervisor.join().unwrap();
        let (mut sent, mut interrupted) = (0, 0);
        for (id, (o, r)) in self.outcome.iter().zip(self.received.iter()).enumerate() {
            let (o, r) = (o.load(Ordering::SeqCst), r.load(Ordering::SeqCst));
            assert!(r <= 1, "{:?}: message {id} received {r} times", self.kind);
            match o {
                SENT => {
                    sent += 1;
                    assert_eq!(r, 1, "{:?}: message {id} was sent and lost", self.kind);
                }
                INTERRUPTED => {
                    interrupted += 1;
                    // A send that unwound delivered nothing, on every kind
                    // (a rendezvous taken as the cancel fired returns Ok).
                    assert_eq!(r, 0, "{:?}: interrupted send {id} delivered", self.kind);
                }
                _ => assert_eq!(r, 0, "{:?}: unsent message {id} received", self.kind),
            }
        }
        println!(
            "{:?}: {sent} sent, {interrupted} interrupted, {cancelled} producers and {} \
             receivers cancelled",
            self.kind,
            self.restarts.load(Ordering::SeqCst)
        );
    }
}
