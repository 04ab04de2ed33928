//! `green::rt::dump()`: every live green thread with the right state label,
//! its name, its hub and where it was spawned. One worker hub, so every
//! thread's place is known.

use std::future::Future;
use std::io::Write;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use green_conformance::{eventually, Flavor};
use green_core::dump::{dump, State, ThreadInfo};
use green_core::thread::{self, Builder, JoinHandle};

struct Never;
impl Future for Never {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        Poll::Pending
    }
}

fn named<T: Send + 'static>(name: &str, f: impl FnOnce() -> T + Send + 'static) -> JoinHandle<T> {
    Builder::new().name(name.into()).spawn(f).unwrap()
}

fn find<'a>(threads: &'a [ThreadInfo], name: &str) -> &'a ThreadInfo {
    threads
        .iter()
        .find(|t| t.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("{name} is not in the dump: {threads:#?}"))
}

#[test]
fn dump_shows_every_state() {
    green_core::runtime::set_workers(1).unwrap();
    // The `looker` below holds the hub on purpose for a moment: keep the
    // monitor from moving queued work off it meanwhile.
    green_core::runtime::set_watchdog_threshold(Duration::from_secs(10));
    let stop = Arc::new(AtomicBool::new(false));

    // Waiting in each kind of place.
    let sleeper = named("sleeper", || thread::sleep(Duration::from_secs(600)));
    let (mut full, reader_side) = green_net::unix::UnixStream::pair().unwrap();
    let reader = named("reader", move || {
        let mut buf = [0u8; 8];
        std::io::Read::read(&mut &reader_side, &mut buf).unwrap()
    });
    let (writer_side, keep) = green_net::unix::UnixStream::pair().unwrap();
    let writer = named("writer", move || {
        let chunk = vec![0u8; 1 << 20];
        // Fills the socket buffer, then waits for room.
        let _ = (&writer_side).write_all(&chunk);
    });
    let lock = Arc::new(green_sync::Mutex::new(()));
    let held = lock.lock().unwrap();
    let l = lock.clone();
    let locker = named("locker", move || drop(l.lock().unwrap()));
    let (tx, rx) = green_sync::mpsc::channel::<u8>();
    let receiver = named("receiver", move || rx.recv().ok());
    let parker = {
        let stop = stop.clone();
        named("parker", move || {
            while !stop.load(Ordering::SeqCst) {
                thread::park();
            }
        })
    };
    let joined = named("joined", || thread::sleep(Duration::from_secs(600)));
    let joined_thread = joined.thread().clone();
    let joiner = named("joiner", move || joined.join().is_ok());
    let offloader = {
        let stop = stop.clone();
        named("offloader", move || {
            green_core::unblock(move || {
                while !stop.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(5));
                }
            })
        })
    };
    let bridged = named("bridged", || green_core::block_on(Never));

    // Everything above has started and is waiting.
    let expect_waiting = [
        "sleeper",
        "reader",
        "writer",
        "locker",
        "receiver",
        "parker",
        "joined",
        "joiner",
        "offloader",
        "bridged",
    ];
    assert!(
        eventually(Flavor::GreenPlain, Duration::from_secs(30), || {
            let d = dump();
            expect_waiting.iter().all(|n| {
                d.threads.iter().any(|t| {
                    t.name.as_deref() == Some(n)
                        && !matches!(t.state, State::Ready | State::Running | State::NotStarted)
                })
            })
        }),
        "not everything got to its wait: {}",
        dump()
    );

    // Running, ready and not started, seen from a green thread that holds
    // the only worker hub while it looks.
    let parked_handle = parker.thread().clone();
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let (seen_tx, seen_rx) = std::sync::mpsc::channel();
    let looker = named("looker", move || {
        // Woken but not yet run: ready.
        parked_handle.unpark();
        // Wait (without switching) for main to queue one more spawn.
        go_rx.recv().unwrap();
        seen_tx.send(dump()).unwrap();
    });
    // `looker` is running (it holds the hub in `go_rx.recv`); queue a spawn
    // that cannot start until it switches.
    std::thread::sleep(Duration::from_millis(20));
    let queued = named("queued", || ());
    go_tx.send(()).unwrap();
    let seen = seen_rx.recv().unwrap();
    looker.join().unwrap();
    queued.join().unwrap();

    let d = &seen.threads;
    let here = file!();
    for t in d.iter().filter(|t| t.name.is_some()) {
        assert_eq!(t.spawned_at.file(), here, "{t}");
    }
    assert_eq!(find(d, "looker").state, State::Running);
    assert_eq!(find(d, "parker").state, State::Ready);
    assert_eq!(find(d, "queued").state, State::NotStarted);
    assert_eq!(find(d, "queued").hub, None);
    assert!(find(d, "looker").hub.is_some());
    assert!(matches!(find(d, "sleeper").state, State::Sleeping { .. }));
    assert!(matches!(find(d, "reader").state, State::Readable { .. }));
    assert!(matches!(find(d, "writer").state, State::Writable { .. }));
    let parked_in = |name| match &find(d, name).state {
        State::Parked { what } => *what,
        other => panic!("{name}: {other:?}"),
    };
    assert_eq!(parked_in("locker"), "Mutex::lock");
    assert_eq!(parked_in("receiver"), "mpsc::Receiver::recv");
    assert_eq!(parked_in("joiner"), "JoinHandle::join");
    assert!(matches!(find(d, "offloader").state, State::Unblock));
    assert!(matches!(find(d, "bridged").state, State::BlockOn));
    let text = seen.to_string();
    assert!(
        text.contains("'locker'") && text.contains("parked in Mutex::lock"),
        "{text}"
    );
    assert!(text.contains("sleeping ("), "{text}");

    // Let everything finish; finished threads leave the dump.
    stop.store(true, Ordering::SeqCst);
    parker.thread().unpark();
    parker.join().unwrap();
    drop(held);
    locker.join().unwrap();
    tx.send(1).unwrap();
    assert_eq!(receiver.join().unwrap(), Some(1));
    full.write_all(b"x").unwrap();
    assert_eq!(reader.join().unwrap(), 1);
    drop(keep);
    writer.join().unwrap();
    offloader.join().unwrap();
    for name in ["sleeper", "joined", "joiner", "bridged"] {
        assert!(dump()
            .threads
            .iter()
            .any(|t| t.name.as_deref() == Some(name)));
    }
    assert!(!dump()
        .threads
        .iter()
        .any(|t| t.name.as_deref() == Some("parker")));
    drop((sleeper, joiner, bridged, joined_thread));
}
