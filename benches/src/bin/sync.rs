//! green-sync against std, tokio and may.
//!
//! `cargo run --release -p green-benches --bin sync` runs every scenario for
//! every system, each in a fresh child process, and prints one table;
//! `sync <scenario> <system>` runs one cell.
//!
//! Scenarios:
//! * `uncontended` — lock + unlock of a `Mutex<u64>` by one thread; ns per pair.
//! * `contended` — 1,000 tasks each increment one `Mutex<u64>` 1,000 times
//!   (std: 64 OS threads share the same 1,000,000 increments); M ops/s.
//! * `pingpong-local` — channel round trip between two tasks on one scheduler
//!   thread (green: one hub); ns per round trip.
//! * `pingpong-hubs` — the same between two scheduler threads (green: two
//!   worker hubs; std: two OS threads).
//! * `pingpong-os` — green thread on a worker hub ↔ a plain OS thread.
//! * `rendezvous-local` / `rendezvous-hubs` — round trip over two
//!   `sync_channel(0)` (tokio has no rendezvous channel: `channel(1)`; may
//!   has no bounded channel).
//!
//! Every system gets 2 worker threads (the machine's cores) unless the
//! scenario says one.

use std::time::{Duration, Instant};

use green_benches::best;

const SCENARIOS: [&str; 7] = [
    "uncontended",
    "contended",
    "pingpong-local",
    "pingpong-hubs",
    "pingpong-os",
    "rendezvous-local",
    "rendezvous-hubs",
];
const SYSTEMS: [&str; 4] = ["green", "std", "tokio", "may"];
const LOCKS: u64 = 20_000_000;
const TASKS: u64 = 1_000;
const PER_TASK: u64 = 1_000;
const TRIPS_LOCAL: u64 = 500_000;
const TRIPS_REMOTE: u64 = 50_000;

fn main() {
    if green_benches::run_cell_from_args(run) {
        return;
    }
    println!(
        "cores = {}",
        std::thread::available_parallelism().map_or(1, usize::from)
    );
    println!();
    green_benches::print_table(&SCENARIOS, &SYSTEMS, &["green", "std", "tokio", "may"]);
}

fn run(scenario: &str, system: &str) -> String {
    match (scenario, system) {
        ("uncontended", "green") => greenb::uncontended(),
        ("uncontended", "std") => stdt::uncontended(),
        ("uncontended", "tokio") => tok::uncontended(),
        ("uncontended", "may") => mayb::uncontended(),
        ("contended", "green") => greenb::contended(),
        ("contended", "std") => stdt::contended(),
        ("contended", "tokio") => tok::contended(),
        ("contended", "may") => mayb::contended(),
        ("pingpong-local", "green") => greenb::pingpong(Where::Local, None),
        ("pingpong-hubs", "green") => greenb::pingpong(Where::Hubs, None),
        ("pingpong-os", "green") => greenb::pingpong(Where::Os, None),
        ("rendezvous-local", "green") => greenb::pingpong(Where::Local, Some(0)),
        ("rendezvous-hubs", "green") => greenb::pingpong(Where::Hubs, Some(0)),
        ("pingpong-hubs", "std") => stdt::pingpong(None),
        ("rendezvous-hubs", "std") => stdt::pingpong(Some(0)),
        ("pingpong-local", "tokio") => tok::pingpong(true, false),
        ("pingpong-hubs", "tokio") => tok::pingpong(false, false),
        ("rendezvous-local", "tokio") => tok::pingpong(true, true),
        ("rendezvous-hubs", "tokio") => tok::pingpong(false, true),
        ("pingpong-local", "may") => mayb::pingpong(1),
        ("pingpong-hubs", "may") => mayb::pingpong(2),
        ("pingpong-os", _) => "—".into(),
        ("rendezvous-local" | "rendezvous-hubs", "may") => "n/a (no sync_channel)".into(),
        (_, "std") => "n/a (one scheduler thread)".into(),
        _ => panic!("unknown scenario {scenario} / system {system}"),
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Where {
    Local,
    Hubs,
    Os,
}

fn per_op(elapsed: Duration, ops: u64) -> String {
    format!("{:.1} ns", elapsed.as_nanos() as f64 / ops as f64)
}

fn mops(elapsed: Duration, ops: u64) -> String {
    format!("{:.1} M ops/s", ops as f64 / elapsed.as_secs_f64() / 1e6)
}

mod greenb {
    use super::*;
    use ::green::sync::atomic::{AtomicUsize, Ordering};
    use ::green::sync::{mpsc, Arc, Mutex};
    use ::green::thread;
    use green_core::runtime;

    pub fn uncontended() -> String {
        let m = Mutex::new(0u64);
        let t = best(5, || {
            let start = Instant::now();
            for _ in 0..LOCKS {
                *std::hint::black_box(&m).lock().unwrap() += 1;
            }
            start.elapsed()
        });
        // The same inside a green thread.
        let g = thread::spawn(|| {
            let m = Mutex::new(0u64);
            best(5, || {
                let start = Instant::now();
                for _ in 0..LOCKS {
                    *std::hint::black_box(&m).lock().unwrap() += 1;
                }
                start.elapsed()
            })
        })
        .join()
        .unwrap();
        format!(
            "{} (in a green thread: {})",
            per_op(t, LOCKS),
            per_op(g, LOCKS)
        )
    }

    pub fn contended() -> String {
        let t = best(3, || {
            let m = Arc::new(Mutex::new(0u64));
            let start = Instant::now();
            let hs: Vec<_> = (0..TASKS)
                .map(|_| {
                    let m = m.clone();
                    thread::spawn(move || {
                        for _ in 0..PER_TASK {
                            *m.lock().unwrap() += 1;
                        }
                    })
                })
                .collect();
            for h in hs {
                h.join().unwrap();
            }
            let t = start.elapsed();
            assert_eq!(*m.lock().unwrap(), TASKS * PER_TASK);
            t
        });
        mops(t, TASKS * PER_TASK)
    }

    enum Tx {
        A(mpsc::Sender<u64>),
        S(mpsc::SyncSender<u64>),
    }
    impl Tx {
        fn send(&self, v: u64) {
            match self {
                Tx::A(t) => t.send(v).unwrap(),
                Tx::S(t) => t.send(v).unwrap(),
            }
        }
    }
    fn chan(bound: Option<usize>) -> (Tx, mpsc::Receiver<u64>) {
        match bound {
            None => {
                let (t, r) = mpsc::channel();
                (Tx::A(t), r)
            }
            Some(b) => {
                let (t, r) = mpsc::sync_channel(b);
                (Tx::S(t), r)
            }
        }
    }

    fn echo(rx: mpsc::Receiver<u64>, tx: Tx) {
        while let Ok(v) = rx.recv() {
            tx.send(v + 1);
        }
    }

    fn drive(tx: &Tx, rx: &mpsc::Receiver<u64>, trips: u64) -> Duration {
        let start = Instant::now();
        for i in 0..trips {
            tx.send(i);
            assert_eq!(rx.recv().unwrap(), i + 1);
        }
        start.elapsed()
    }

    pub fn pingpong(place: Where, bound: Option<usize>) -> String {
        let trips = if place == Where::Local {
            TRIPS_LOCAL
        } else {
            TRIPS_REMOTE
        };
        let (ping_tx, ping_rx) = chan(bound);
        let (pong_tx, pong_rx) = chan(bound);
        let t = match place {
            Where::Local => thread::spawn(move || {
                runtime::spawn_local(move || echo(ping_rx, pong_tx));
                best(3, || drive(&ping_tx, &pong_rx, trips))
            })
            .join()
            .unwrap(),
            Where::Hubs => {
                // Two green threads on two worker hubs (placement is round
                // robin, so consecutive spawns land on different hubs).
                let echo_hub = Arc::new(AtomicUsize::new(usize::MAX));
                let eh = echo_hub.clone();
                thread::spawn(move || {
                    eh.store(runtime::hub_id(), Ordering::SeqCst);
                    echo(ping_rx, pong_tx)
                });
                let (t, same) = thread::spawn(move || {
                    while echo_hub.load(Ordering::SeqCst) == usize::MAX {
                        thread::yield_now();
                    }
                    let same = echo_hub.load(Ordering::SeqCst) == runtime::hub_id();
                    (best(3, || drive(&ping_tx, &pong_rx, trips)), same)
                })
                .join()
                .unwrap();
                if same {
                    return format!("{} (same hub!)", per_op(t, trips));
                }
                t
            }
            Where::Os => {
                thread::spawn(move || echo(ping_rx, pong_tx));
                best(3, || drive(&ping_tx, &pong_rx, trips))
            }
        };
        per_op(t, trips)
    }
}

mod stdt {
    use super::*;
    use std::sync::{mpsc, Arc, Mutex};

    pub fn uncontended() -> String {
        let m = Mutex::new(0u64);
        let t = best(5, || {
            let start = Instant::now();
            for _ in 0..LOCKS {
                *std::hint::black_box(&m).lock().unwrap() += 1;
            }
            start.elapsed()
        });
        per_op(t, LOCKS)
    }

    pub fn contended() -> String {
        const THREADS: u64 = 64;
        let t = best(3, || {
            let m = Arc::new(Mutex::new(0u64));
            let start = Instant::now();
            let hs: Vec<_> = (0..THREADS)
                .map(|_| {
                    let m = m.clone();
                    std::thread::spawn(move || {
                        for _ in 0..TASKS * PER_TASK / THREADS {
                            *m.lock().unwrap() += 1;
                        }
                    })
                })
                .collect();
            for h in hs {
                h.join().unwrap();
            }
            start.elapsed()
        });
        format!("{} (64 threads)", mops(t, TASKS * PER_TASK))
    }

    pub fn pingpong(bound: Option<usize>) -> String {
        fn run<S: Fn(u64) + Send + 'static>(
            tx: S,
            rx: mpsc::Receiver<u64>,
            back_tx: impl Fn(u64) + Send + 'static,
            back_rx: mpsc::Receiver<u64>,
        ) -> Duration {
            std::thread::spawn(move || {
                while let Ok(v) = rx.recv() {
                    back_tx(v + 1);
                }
            });
            best(3, || {
                let start = Instant::now();
                for i in 0..TRIPS_REMOTE {
                    tx(i);
                    assert_eq!(back_rx.recv().unwrap(), i + 1);
                }
                start.elapsed()
            })
        }
        let t = match bound {
            None => {
                let (a, ar) = mpsc::channel();
                let (b, br) = mpsc::channel();
                run(
                    move |v| a.send(v).unwrap(),
                    ar,
                    move |v| b.send(v).unwrap(),
                    br,
                )
            }
            Some(n) => {
                let (a, ar) = mpsc::sync_channel(n);
                let (b, br) = mpsc::sync_channel(n);
                run(
                    move |v| a.send(v).unwrap(),
                    ar,
                    move |v| b.send(v).unwrap(),
                    br,
                )
            }
        };
        per_op(t, TRIPS_REMOTE)
    }
}

mod tok {
    use super::*;
    use std::sync::Arc;
    use tokio::sync::{mpsc, Mutex};

    fn rt(local: bool) -> tokio::runtime::Runtime {
        if local {
            tokio::runtime::Builder::new_current_thread()
                .build()
                .expect("runtime")
        } else {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .build()
                .expect("runtime")
        }
    }

    pub fn uncontended() -> String {
        let t = rt(true).block_on(tokio::task::unconstrained(async {
            let m = Mutex::new(0u64);
            let mut best = Duration::MAX;
            for _ in 0..5 {
                let start = Instant::now();
                for _ in 0..LOCKS {
                    *std::hint::black_box(&m).lock().await += 1;
                }
                best = best.min(start.elapsed());
            }
            best
        }));
        format!("{} (tokio::sync::Mutex)", per_op(t, LOCKS))
    }

    pub fn contended() -> String {
        let runtime = rt(false);
        let t = best(3, || {
            runtime.block_on(async {
                let m = Arc::new(Mutex::new(0u64));
                let start = Instant::now();
                let hs: Vec<_> = (0..TASKS)
                    .map(|_| {
                        let m = m.clone();
                        tokio::spawn(async move {
                            for _ in 0..PER_TASK {
                                *m.lock().await += 1;
                            }
                        })
                    })
                    .collect();
                for h in hs {
                    h.await.unwrap();
                }
                start.elapsed()
            })
        });
        format!("{} (tokio::sync::Mutex)", mops(t, TASKS * PER_TASK))
    }

    pub fn pingpong(local: bool, bounded: bool) -> String {
        let trips = if local { TRIPS_LOCAL } else { TRIPS_REMOTE };
        let runtime = rt(local);
        let t = runtime.block_on(async move {
            let (ping_tx, mut ping_rx) = mpsc::channel::<u64>(if bounded { 1 } else { 1024 });
            let (pong_tx, mut pong_rx) = mpsc::channel::<u64>(if bounded { 1 } else { 1024 });
            tokio::spawn(async move {
                while let Some(v) = ping_rx.recv().await {
                    if pong_tx.send(v + 1).await.is_err() {
                        break;
                    }
                }
            });
            let driver = tokio::spawn(async move {
                let mut best = Duration::MAX;
                for _ in 0..3 {
                    let start = Instant::now();
                    for i in 0..trips {
                        ping_tx.send(i).await.unwrap();
                        assert_eq!(pong_rx.recv().await, Some(i + 1));
                    }
                    best = best.min(start.elapsed());
                }
                best
            });
            driver.await.unwrap()
        });
        let note = if bounded { " (channel(1))" } else { "" };
        format!("{}{note}", per_op(t, trips))
    }
}

mod mayb {
    use super::*;
    use may::sync::{mpsc, Mutex};
    use std::sync::Arc;

    pub fn uncontended() -> String {
        may::config().set_workers(1);
        let t = may::go!(|| {
            let m = Mutex::new(0u64);
            best(5, || {
                let start = Instant::now();
                for _ in 0..LOCKS {
                    *std::hint::black_box(&m).lock().unwrap() += 1;
                }
                start.elapsed()
            })
        })
        .join()
        .unwrap();
        per_op(t, LOCKS)
    }

    pub fn contended() -> String {
        may::config().set_workers(2);
        let t = best(3, || {
            let m = Arc::new(Mutex::new(0u64));
            let start = Instant::now();
            let hs: Vec<_> = (0..TASKS)
                .map(|_| {
                    let m = m.clone();
                    may::go!(move || {
                        for _ in 0..PER_TASK {
                            *m.lock().unwrap() += 1;
                        }
                    })
                })
                .collect();
            for h in hs {
                h.join().unwrap();
            }
            start.elapsed()
        });
        mops(t, TASKS * PER_TASK)
    }

    pub fn pingpong(workers: usize) -> String {
        may::config().set_workers(workers);
        let trips = if workers == 1 {
            TRIPS_LOCAL
        } else {
            TRIPS_REMOTE
        };
        let t = may::go!(move || {
            let (ping_tx, ping_rx) = mpsc::channel::<u64>();
            let (pong_tx, pong_rx) = mpsc::channel::<u64>();
            may::go!(move || {
                while let Ok(v) = ping_rx.recv() {
                    if pong_tx.send(v + 1).is_err() {
                        break;
                    }
                }
            });
            best(3, || {
                let start = Instant::now();
                for i in 0..trips {
                    ping_tx.send(i).unwrap();
                    assert_eq!(pong_rx.recv().unwrap(), i + 1);
                }
                start.elapsed()
            })
        })
        .join()
        .unwrap();
        per_op(t, trips)
    }
}
