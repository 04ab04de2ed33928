//! Fair hubs, on one worker hub (`GREEN_WORKERS=1`, the default on a 1-CPU
//! container): programs that terminate on std threads terminate here, though
//! nothing preempts a green thread. Each test is a case the fair-hubs issue
//! measured hanging or starving: ready I/O in a loop, errors that come back
//! at once, spin-polling probes, a self-waking future, a blocked hub.

use std::future::Future;
use std::io::{BufRead, BufReader, Read, Write};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::task::{Context, Poll};
use std::time::Duration;

use green_conformance::{eventually, run_child, Flavor};
use green_core::runtime;

const LIMIT: Duration = Duration::from_secs(60);

/// Every test here runs on one worker hub.
fn one_worker() {
    runtime::set_workers(1).expect("this binary runs with one worker hub");
}

/// A ticker green thread: counts 1 ms sleeps until `stop`.
fn ticker(stop: Arc<AtomicBool>) -> (Arc<AtomicUsize>, green_core::thread::JoinHandle<()>) {
    let ticks = Arc::new(AtomicUsize::new(0));
    let t = ticks.clone();
    let h = green_core::thread::spawn(move || {
        while !stop.load(Ordering::SeqCst) {
            green_core::thread::sleep(Duration::from_millis(1));
            t.fetch_add(1, Ordering::SeqCst);
        }
    });
    (ticks, h)
}

/// Blocks this OS thread for `dur` through a futex wait (std's mpsc), which
/// neither green nor its `interpose` feature reaches: a green thread
/// calling it holds its hub, with the feature on or off. (With `interpose`,
/// `std::thread::sleep` on a green thread is green and no longer would.)
fn hold_os_thread(dur: Duration) {
    let (_tx, rx) = std::sync::mpsc::channel::<()>();
    let _ = rx.recv_timeout(dur);
}

/// Sets its flag when dropped: a test that fails while a green thread
/// holds a hub still lets that thread finish, so the hub is free again for
/// the other tests of this binary.
struct ReleaseOnDrop(Arc<AtomicBool>);

impl Drop for ReleaseOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// A socket that always has data waiting, read one byte at a time (what
/// `serde_json::from_reader` does on an unbuffered stream): the ticker on
/// the same hub keeps advancing meanwhile.
#[test]
fn ready_reads_let_the_hub_run_others() {
    one_worker();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let writer_stop = stop.clone();
    let writer = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let chunk = [b'x'; 64 * 1024];
        while !writer_stop.load(Ordering::SeqCst) {
            if s.write_all(&chunk).is_err() {
                return;
            }
        }
    });
    let (ticks, ticker) = ticker(stop.clone());
    let reader = green_core::thread::spawn(move || {
        let mut stream = green_net::TcpStream::connect(addr).unwrap();
        // Let the writer fill the socket first, so every read finds data.
        std::thread::sleep(Duration::from_millis(50));
        let mut byte = [0u8; 1];
        let mut seen_ticks = Vec::new();
        for i in 0..200_000 {
            stream.read_exact(&mut byte).unwrap();
            if i % 50_000 == 49_999 {
                seen_ticks.push(ticks.load(Ordering::SeqCst));
            }
        }
        seen_ticks
    });
    let seen = reader.join().unwrap();
    stop.store(true, Ordering::SeqCst);
    ticker.join().unwrap();
    writer.join().unwrap();
    assert!(
        seen.windows(2).all(|w| w[1] > w[0]),
        "the ticker must advance while the reader reads ready data: ticks seen {seen:?}"
    );
}

/// The accept loop from std's docs, run where every accept fails with
/// `EMFILE` until handlers close their connections (`ulimit -n 64`, one
/// worker): the handlers run, so clients get served.
#[test]
fn an_accept_loop_failing_with_emfile_still_serves() {
    const CLIENTS: usize = 300;
    if let Some(port_file) = std::env::var_os("GREEN_TEST_EMFILE_CHILD") {
        one_worker();
        // The server is a green thread on the one worker hub, and so are
        // its handlers: nothing but the hub can run them.
        green_core::thread::spawn(move || {
            let listener = green_net::TcpListener::bind("127.0.0.1:0").unwrap();
            let port = listener.local_addr().unwrap().port();
            std::fs::write(&port_file, port.to_string()).unwrap();
            let mut served = 0;
            // std's documented shape, kept on purpose (clippy would flatten it).
            #[allow(clippy::manual_flatten)]
            for stream in listener.incoming() {
                if let Ok(stream) = stream {
                    served += 1;
                    green_core::thread::spawn(move || {
                        let mut line = String::new();
                        let mut reader = BufReader::new(&stream);
                        if reader.read_line(&mut line).is_ok() {
                            let _ = (&stream).write_all(b"pong\n");
                        }
                    });
                    if served == CLIENTS {
                        break;
                    }
                }
            }
            // Let the last handlers answer.
            green_core::thread::sleep(Duration::from_millis(200));
        })
        .join()
        .unwrap();
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port_file = dir.path().join("port");
    let exe = std::env::current_exe().unwrap();
    let mut cmd = std::process::Command::new("sh");
    cmd.arg("-c")
        .arg("ulimit -n 64 && exec \"$0\" \"$@\"")
        .arg(exe)
        .args([
            "--exact",
            "an_accept_loop_failing_with_emfile_still_serves",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("GREEN_TEST_EMFILE_CHILD", &port_file);
    let child = std::thread::spawn(move || run_child(cmd, LIMIT));
    let port: u16 = loop {
        if let Ok(text) = std::fs::read_to_string(&port_file) {
            if let Ok(port) = text.trim().parse() {
                break port;
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let served = Arc::new(AtomicUsize::new(0));
    // More clients at once than the child has fds: its accepts fail with
    // EMFILE until handlers close connections.
    let clients: Vec<_> = (0..100)
        .map(|_| {
            let served = served.clone();
            std::thread::spawn(move || {
                for _ in 0..CLIENTS / 100 {
                    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
                        return;
                    };
                    s.set_read_timeout(Some(LIMIT)).unwrap();
                    s.write_all(b"ping\n").unwrap();
                    let mut reply = String::new();
                    BufReader::new(&s).read_line(&mut reply).unwrap();
                    if reply == "pong\n" {
                        served.fetch_add(1, Ordering::SeqCst);
                    }
                }
            })
        })
        .collect();
    for c in clients {
        let _ = c.join();
    }
    let run = child.join().unwrap();
    assert_eq!(
        served.load(Ordering::SeqCst),
        CLIENTS,
        "clients served under EMFILE; child: {:?}\nstderr:\n{}",
        run.status,
        run.stderr
    );
    assert!(run.status.is_some_and(|s| s.success()), "{}", run.stderr);
}

/// std's `sync_once_cell_does_not_leak_partially_constructed_boxes` shape:
/// ten green threads spin on `OnceLock::get` until one of three writers,
/// spawned after them, sets it.
#[test]
fn spinners_on_once_lock_get_let_later_writers_run() {
    one_worker();
    let cell = Arc::new(green_sync::OnceLock::new());
    let spinners: Vec<_> = (0..10)
        .map(|_| {
            let cell = cell.clone();
            green_core::thread::spawn(move || loop {
                if let Some(v) = cell.get() {
                    return *v;
                }
            })
        })
        .collect();
    let writers: Vec<_> = (0..3)
        .map(|i| {
            let cell = cell.clone();
            green_core::thread::spawn(move || {
                let _ = cell.set(i);
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    let first = *cell.get().unwrap();
    for s in spinners {
        assert_eq!(s.join().unwrap(), first);
    }
}

/// Runs `scenario` in a green thread whose neighbours it spawns with
/// `spawn_local`: they share its hub for life, so only the hub's fairness,
/// not the monitor moving queued work elsewhere, can let them run.
fn on_one_hub<T: Send + 'static>(scenario: impl FnOnce() -> T + Send + 'static) -> T {
    one_worker();
    green_core::thread::spawn(scenario).join().unwrap()
}

/// Spin loops over the other failing probes: `try_recv`, `try_lock`,
/// `JoinHandle::is_finished`, `park_timeout(ZERO)`, each waiting for a green
/// thread on the same hub that only runs if the spinner lets it.
#[test]
fn spinning_on_failed_probes_lets_the_others_run() {
    let got = on_one_hub(|| {
        let (tx, rx) = green_sync::mpsc::channel();
        runtime::spawn_local(move || tx.send(7).unwrap());
        loop {
            if let Ok(v) = rx.try_recv() {
                break v;
            }
        }
    });
    assert_eq!(got, 7);

    let got = on_one_hub(|| {
        let lock = Arc::new(green_sync::Mutex::new(0));
        let held = Arc::new(AtomicBool::new(false));
        let (l, h) = (lock.clone(), held.clone());
        let holder = runtime::spawn_local(move || {
            let mut g = l.lock().unwrap();
            h.store(true, Ordering::SeqCst);
            for _ in 0..10 {
                green_core::thread::yield_now();
            }
            *g = 5;
        });
        let v = loop {
            if held.load(Ordering::SeqCst) {
                if let Ok(g) = lock.try_lock() {
                    break *g;
                }
            }
            green_core::thread::park_timeout(Duration::ZERO);
        };
        holder.join().unwrap();
        v
    });
    assert_eq!(got, 5);

    let got = on_one_hub(|| {
        let later = runtime::spawn_local(|| 3);
        while !later.is_finished() {}
        later.join().unwrap()
    });
    assert_eq!(got, 3);
}

/// A future that wakes itself on every poll, waiting for a flag that a
/// neighbour green thread on the same hub sets after 20 ms.
#[test]
fn a_self_waking_future_lets_its_neighbour_run() {
    struct Flag(Arc<AtomicBool>);
    impl Future for Flag {
        type Output = ();
        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            if self.0.load(Ordering::SeqCst) {
                Poll::Ready(())
            } else {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        }
    }
    on_one_hub(|| {
        let flag = Arc::new(AtomicBool::new(false));
        let f = flag.clone();
        let setter = runtime::spawn_local(move || {
            green_core::thread::sleep(Duration::from_millis(20));
            f.store(true, Ordering::SeqCst);
        });
        green_core::block_on(Flag(flag));
        setter.join().unwrap();
    });
}

/// While the only worker hub is blocked (a green thread calls
/// a futex wait, `hold_os_thread`), new green threads run anyway: on an extra worker
/// hub, not on the stuck one, and while it is still stuck.
#[test]
fn new_work_runs_while_the_only_worker_is_stuck() {
    one_worker();
    let release = Arc::new(AtomicBool::new(false));
    let _release_on_failure = ReleaseOnDrop(release.clone());
    let r = release.clone();
    let (hub_tx, hub_rx) = std::sync::mpsc::channel();
    let blocker = green_core::thread::spawn(move || {
        hub_tx.send(runtime::hub_id()).unwrap();
        // Not green: this holds the hub.
        while !r.load(Ordering::SeqCst) {
            hold_os_thread(Duration::from_millis(5));
        }
    });
    let stuck_hub = hub_rx.recv().unwrap();
    // Give the monitor a tick or two to see it.
    std::thread::sleep(Duration::from_millis(300));
    let gate = Arc::new(Barrier::new(1));
    let handles: Vec<_> = (0..20)
        .map(|i| {
            let gate = gate.clone();
            green_core::thread::spawn(move || {
                gate.wait();
                (i, runtime::hub_id())
            })
        })
        .collect();
    for h in handles {
        let (_, hub) = h.join().unwrap();
        assert_ne!(hub, stuck_hub, "a new green thread ran on the stuck hub");
    }
    assert!(
        !blocker.is_finished(),
        "the blocker must still hold its hub"
    );
    release.store(true, Ordering::SeqCst);
    blocker.join().unwrap();
    // And the unstuck hub takes work again: spawned from fresh OS threads,
    // whose home workers go round, one lands there.
    assert!(eventually(Flavor::GreenPlain, LIMIT, || {
        std::thread::spawn(|| green_core::thread::spawn(runtime::hub_id).join().unwrap())
            .join()
            .unwrap()
            == stuck_hub
    }));
}

/// Green threads spawned in a burst behind one that then blocks their hub
/// still run, elsewhere, while it holds the hub. The burst comes from a
/// green thread on that hub, so all of it is queued before the hub takes
/// any, and the hub takes it off the shared queue as one batch.
#[test]
fn spawns_queued_behind_a_blocking_thread_run_elsewhere() {
    one_worker();
    let release = Arc::new(AtomicBool::new(false));
    let _release_on_failure = ReleaseOnDrop(release.clone());
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let (hub_tx, hub_rx) = std::sync::mpsc::channel();
    let r = release.clone();
    let blocker = green_core::thread::spawn(move || {
        let blocker = green_core::thread::spawn(move || {
            hub_tx.send(runtime::hub_id()).unwrap();
            while !r.load(Ordering::SeqCst) {
                hold_os_thread(Duration::from_millis(5));
            }
        });
        for i in 0..12 {
            let done = done_tx.clone();
            green_core::thread::spawn(move || done.send((i, runtime::hub_id())).unwrap());
        }
        blocker
    })
    .join()
    .unwrap();
    let stuck_hub = hub_rx.recv().unwrap();
    let mut seen = [false; 12];
    for _ in 0..12 {
        let (i, hub) = done_rx
            .recv_timeout(LIMIT)
            .expect("a spawn queued behind the blocked hub never ran");
        assert_ne!(hub, stuck_hub, "spawn {i} waited for the blocked hub");
        seen[i] = true;
    }
    assert!(seen.iter().all(|&s| s));
    assert!(
        !blocker.is_finished(),
        "the blocker must still hold its hub"
    );
    release.store(true, Ordering::SeqCst);
    blocker.join().unwrap();
}
