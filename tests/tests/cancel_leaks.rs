//! Cancelled waits leave nothing behind: 10,000 green threads parked in
//! socket reads, sleeps, `park_timeout`, `Mutex`/`RwLock`/`Condvar` waits
//! and channel `recv`/`send` (bounded and rendezvous) are cancelled, half
//! with `Cancel::cancel` and half by a passed `timeout` deadline. Then:
//!
//! * while the sockets, locks and channels they waited on are all still
//!   there, `green::rt::counters()` is back to where it was: no context
//!   (a waiter entry, a timer, an fd's waiter list would keep one alive),
//!   no timer, no green thread left;
//! * once those are dropped, the process's open fds and the hubs' fd
//!   registrations are back to where they started.
//!
//! One test in this binary, since the counters are process-wide.

use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, Instant};

use green::net::{TcpListener, TcpStream};
use green::rt::{counters, timeout_at, Cancelled, Elapsed, State};
use green::sync::{mpsc, Condvar, Mutex, RwLock};
use green::thread::Cancel;

const THREADS: usize = 10_000;
const LONG: Duration = Duration::from_secs(600);

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// What the waiters wait on; all of it stays alive until the checks ran.
struct Targets {
    sockets: Vec<(TcpStream, TcpStream)>,
    mutex: Mutex<()>,
    rwlock: RwLock<()>,
    condvar: (Mutex<bool>, Condvar),
    /// Receivers whose senders are kept (in `_senders`), so `recv` waits.
    receivers: Vec<std::sync::Mutex<mpsc::Receiver<u32>>>,
    _senders: Vec<mpsc::Sender<u32>>,
    /// Full: `send` waits.
    bounded: mpsc::SyncSender<u32>,
    /// Nobody receives: `send` waits.
    rendezvous: mpsc::SyncSender<u32>,
}

/// The kinds of wait, in the order threads are assigned to them.
const KINDS: usize = 10;

/// Runs wait number `i` (kind `i % KINDS`), which does not return by itself.
fn wait(t: &Targets, i: usize) {
    match i % KINDS {
        0 | 1 => {
            let (c, _) = &t.sockets[i % t.sockets.len()];
            let mut buf = [0; 16];
            let _ = (&*c).read(&mut buf);
        }
        2 => green::thread::sleep(LONG),
        3 => green::thread::park_timeout(LONG),
        4 => drop(t.mutex.lock()),
        5 if i % 20 < 10 => drop(t.rwlock.read()),
        5 => drop(t.rwlock.write()),
        6 => {
            let (m, cv) = &t.condvar;
            let g = m.lock().unwrap();
            let _g = cv.wait_while(g, |ready| !*ready);
        }
        7 => {
            let rx = &t.receivers[i / KINDS];
            let _ = rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
        }
        8 => drop(t.bounded.send(1)),
        _ => drop(t.rendezvous.send(2)),
    }
}

/// Runs `f` on a green thread; `f` takes a lock and calls the callback it
/// gets, which waits (holding it) until released. Returns once it holds it.
fn hold(
    f: impl FnOnce(&dyn Fn()) + Send + 'static,
) -> (mpsc::Sender<()>, green::thread::JoinHandle<()>) {
    let (release, released) = mpsc::channel::<()>();
    let (held, is_held) = std::sync::mpsc::channel();
    let h = green::thread::spawn(move || {
        f(&|| {
            held.send(()).unwrap();
            let _ = released.recv();
        });
    });
    is_held.recv().unwrap();
    (release, h)
}

/// The counters once `done` holds for them, or after 10 s of trying (the
/// caller's assertions then report them).
fn settled(done: impl Fn(&green::rt::Counters) -> bool) -> green::rt::Counters {
    let start = Instant::now();
    loop {
        let c = counters();
        if done(&c) || start.elapsed() > Duration::from_secs(10) {
            return c;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The counters once two readings 5 ms apart agree (a thread just joined
/// may still be held by its hub for a moment).
fn quiet() -> green::rt::Counters {
    let mut last = counters();
    loop {
        std::thread::sleep(Duration::from_millis(5));
        let now = counters();
        if now == last {
            return now;
        }
        last = now;
    }
}

#[test]
fn ten_thousand_cancelled_waits_leave_nothing_behind() {
    // Warm up: the hubs and the monitor exist, a socket has been waited on.
    let warm: Vec<_> = (0..8)
        .map(|_| green::thread::spawn(|| green::thread::sleep(Duration::from_millis(1))))
        .collect();
    for h in warm {
        h.join().unwrap();
    }
    let fds_before = open_fds();
    let before = quiet();

    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let sockets = (0..50)
        .map(|_| {
            let c = TcpStream::connect(addr).unwrap();
            let (s, _) = l.accept().unwrap();
            (c, s)
        })
        .collect();
    drop(l);
    let (bounded, bounded_rx) = mpsc::sync_channel(1);
    bounded.send(0).unwrap();
    let (rendezvous, rendezvous_rx) = mpsc::sync_channel(0);
    let (senders, receivers) = (0..THREADS / KINDS)
        .map(|_| {
            let (tx, rx) = mpsc::channel();
            (tx, std::sync::Mutex::new(rx))
        })
        .unzip();
    let targets = Arc::new(Targets {
        sockets,
        mutex: Mutex::new(()),
        rwlock: RwLock::new(()),
        condvar: (Mutex::new(false), Condvar::new()),
        receivers,
        _senders: senders,
        bounded,
        rendezvous,
    });
    let t = targets.clone();
    let (release_mutex, mutex_holder) = hold(move |wait| {
        let _g = t.mutex.lock().unwrap();
        wait();
    });
    let t = targets.clone();
    let (release_rwlock, rwlock_holder) = hold(move |wait| {
        let _w = t.rwlock.write().unwrap();
        wait();
    });
    // The baseline for the contexts and timers: everything set up, holders
    // holding, no waiter yet.
    let set_up = quiet();

    // Half the waiters run under one deadline, the other half are cancelled.
    let deadline = Instant::now() + Duration::from_millis(500);
    let handles: Vec<_> = (0..THREADS)
        .map(|i| {
            let t = targets.clone();
            green::thread::Builder::new()
                .name(format!("leak-{i}"))
                .spawn(move || {
                    if i % 2 == 1 {
                        assert_eq!(timeout_at(deadline, || wait(&t, i)), Err(Elapsed));
                    } else {
                        wait(&t, i);
                    }
                })
                .unwrap()
        })
        .collect();
    // Until every waiter waits (or the deadline already unwound it).
    let start = Instant::now();
    loop {
        let dump = green::rt::dump();
        let busy = dump
            .threads
            .iter()
            .filter(|t| t.name.as_deref().is_some_and(|n| n.starts_with("leak-")))
            .filter(|t| matches!(t.state, State::Running | State::Ready | State::NotStarted))
            .count();
        if busy == 0 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{busy} waiters never waited"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let waiting = counters();
    assert!(waiting.timers >= THREADS / KINDS, "{waiting:?}");
    assert!(
        waiting.fd_registrations > before.fd_registrations,
        "{waiting:?}"
    );
    for h in handles.iter().step_by(2) {
        h.cancel();
    }
    for (i, h) in handles.into_iter().enumerate() {
        match h.join() {
            Ok(()) => assert_eq!(i % 2, 1, "waiter {i} returned"),
            Err(p) => assert!(p.is::<Cancelled>(), "waiter {i} panicked"),
        }
    }

    // Everything they waited on is still there, and holds nothing of them.
    // (A `join` returns as the thread's result is delivered, a moment
    // before its hub lets go of the finished thread: look until settled.)
    let after =
        settled(|c| c.contexts == set_up.contexts && c.green_threads == set_up.green_threads);

    assert_eq!(
        after.green_threads, set_up.green_threads,
        "{after:?} vs {set_up:?}"
    );
    assert_eq!(after.timers, set_up.timers, "{after:?} vs {set_up:?}");
    assert_eq!(after.contexts, set_up.contexts, "{after:?} vs {set_up:?}");
    assert_eq!(after.fd_registrations, waiting.fd_registrations);

    // The primitives still work, with no stale waiter in the way.
    release_mutex.send(()).unwrap();
    release_rwlock.send(()).unwrap();
    mutex_holder.join().unwrap();
    rwlock_holder.join().unwrap();
    assert!(targets.mutex.try_lock().is_ok());
    assert!(targets.rwlock.try_write().is_ok());
    // Neither a cancelled bounded send nor a withdrawn rendezvous offer
    // delivered anything.
    assert_eq!(bounded_rx.try_recv(), Ok(0));
    assert_eq!(bounded_rx.try_recv(), Err(mpsc::TryRecvError::Empty));
    assert_eq!(rendezvous_rx.try_recv(), Err(mpsc::TryRecvError::Empty));
    drop(targets);
    drop((bounded_rx, rendezvous_rx));

    // And the fds are closed and deregistered.
    let end = settled(|c| c.contexts == before.contexts && c.green_threads == before.green_threads);
    assert_eq!(
        end.fd_registrations, before.fd_registrations,
        "{end:?} vs {before:?}"
    );
    assert_eq!(end.timers, before.timers);
    assert_eq!(end.contexts, before.contexts);
    assert_eq!(open_fds(), fds_before);
}
