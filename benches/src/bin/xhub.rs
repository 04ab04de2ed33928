//! Cross-hub speed: green threads that talk to each other, against std
//! threads, tokio (both runtimes), may and Go, in one run.
//!
//! ```text
//! cargo run --release -p green-benches --bin xhub            # every cell (Go if `go` is installed)
//! cargo run --release -p green-benches --bin xhub -- bounce green
//! ```
//!
//! Scenarios:
//! * `bounce` — two threads spawned from `main` bounce a message over two
//!   `mpsc::channel`s; ns per round trip.
//! * `pipeline` — four stages joined by `mpsc::sync_channel(64)` pass one
//!   million messages (each carries the `Instant` it was sent at); messages
//!   per second and the p99 of the per-message latency through all four.
//! * `pool` — the Rust book's ThreadPool shape: 8 workers share an
//!   `Arc<Mutex<mpsc::Receiver<Job>>>`, `main` sends 100,000 small jobs
//!   (each bumps a counter under a mutex); jobs per second. tokio runs the
//!   same shape with 8 tasks sharing a `tokio::sync::Mutex<mpsc::Receiver>`;
//!   Go, 8 goroutines ranging over one channel.
//! * `spawn` — spawn 100,000 tasks returning a number, join all; ns per task
//!   (best of 4).
//!
//! `XHUB_WHERE=1` makes the pool print (to stderr) how many OS threads its
//! workers ran on.
//!
//! Systems: `green` (default workers), `green-1` (`GREEN_WORKERS=1`), `std`
//! (OS threads), `tokio` (multi-thread), `tokio-ct` (current-thread), `may`
//! (2 workers; no bounded channel), `go` (`benches/go/xhub.go`).

use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SCENARIOS: [&str; 4] = ["bounce", "pipeline", "pool", "spawn"];
const SYSTEMS: [&str; 7] = ["green", "green-1", "std", "tokio", "tokio-ct", "may", "go"];
const TRIPS: u64 = 200_000;
const MESSAGES: usize = 1_000_000;
const JOBS: u64 = 100_000;
const SPAWNS: usize = 100_000;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() == 2 {
        if args[1] == "green-1" {
            green::rt::runtime::set_workers(1).unwrap();
        }
        println!("RESULT {}", run(&args[0], &args[1]));
        return;
    }
    let go = green_benches::go_binary("xhub");
    let exe = std::env::current_exe().unwrap();
    println!("| scenario | {} |", SYSTEMS.join(" | "));
    println!("|---|{}", "---|".repeat(SYSTEMS.len()));
    for scenario in SCENARIOS {
        let mut row = format!("| {scenario} |");
        for system in SYSTEMS {
            let out = if system == "go" {
                match &go {
                    Some(go) => Command::new(go).arg(scenario).output(),
                    None => {
                        row.push_str(" (no go) |");
                        continue;
                    }
                }
            } else {
                Command::new(&exe).args([scenario, system]).output()
            }
            .expect("run a cell");
            let text = String::from_utf8_lossy(&out.stdout);
            let cell = text
                .lines()
                .find_map(|l| l.strip_prefix("RESULT "))
                .map(String::from)
                .unwrap_or_else(|| format!("failed ({})", out.status));
            row.push_str(&format!(" {cell} |"));
        }
        println!("{row}");
    }
}

fn run(scenario: &str, system: &str) -> String {
    let green = system.starts_with("green");
    match (scenario, system) {
        ("bounce", _) if green => bounce_green(),
        ("bounce", "std") => bounce_std(),
        ("bounce", "tokio") => tok::bounce(false),
        ("bounce", "tokio-ct") => tok::bounce(true),
        ("bounce", "may") => mayb::bounce(),
        ("pipeline", _) if green => pipeline_green(),
        ("pipeline", "std") => pipeline_std(),
        ("pipeline", "tokio") => tok::pipeline(false),
        ("pipeline", "tokio-ct") => tok::pipeline(true),
        ("pool", _) if green => pool_green(),
        ("pool", "std") => pool_std(),
        ("pool", "tokio") => tok::pool(false),
        ("pool", "tokio-ct") => tok::pool(true),
        ("spawn", _) if green => spawn_green(),
        ("spawn", "std") => spawn_std(),
        ("spawn", "tokio") => tok::spawn(false),
        ("spawn", "tokio-ct") => tok::spawn(true),
        ("spawn", "may") => mayb::spawn(),
        (_, "may") => "n/a (no bounded channel)".into(),
        _ => panic!("unknown cell {scenario} / {system}"),
    }
}

/// With `XHUB_WHERE` set, the calling OS thread's id (from
/// `/proc/thread-self`), so the pool can say how many OS threads its
/// workers ran on (green workers split over hubs contend across them).
fn os_thread_if_asked() -> Option<String> {
    std::env::var_os("XHUB_WHERE")?;
    let link = std::fs::read_link("/proc/thread-self").ok()?;
    Some(link.display().to_string())
}

fn ns_per(elapsed: Duration, n: u64) -> String {
    format!("{:.0} ns", elapsed.as_nanos() as f64 / n as f64)
}

fn pipeline_result(elapsed: Duration, mut lat: Vec<u64>) -> String {
    lat.sort_unstable();
    let p99 = lat[lat.len() * 99 / 100];
    format!(
        "{:.0} k msg/s, p99 {:.0} us",
        MESSAGES as f64 / elapsed.as_secs_f64() / 1000.0,
        p99 as f64 / 1000.0
    )
}

/// The bounce, the pipeline, the pool and the spawn scenario, written once
/// against std's names and compiled for std and for green.
macro_rules! scenarios {
    ($bounce:ident, $pipeline:ident, $pool:ident, $spawn:ident, $thread:path, $sync:path) => {
        fn $bounce() -> String {
            use sync::mpsc;
            use $sync as sync;
            use $thread as thread;
            let (ping_tx, ping_rx) = mpsc::channel::<u64>();
            let (pong_tx, pong_rx) = mpsc::channel::<u64>();
            let echo = thread::spawn(move || {
                for v in ping_rx {
                    if pong_tx.send(v).is_err() {
                        return;
                    }
                }
            });
            let pinger = thread::spawn(move || {
                let start = Instant::now();
                for i in 0..TRIPS {
                    ping_tx.send(i).unwrap();
                    assert_eq!(pong_rx.recv().unwrap(), i);
                }
                start.elapsed()
            });
            let elapsed = pinger.join().unwrap();
            echo.join().unwrap();
            ns_per(elapsed, TRIPS)
        }

        fn $pipeline() -> String {
            use sync::mpsc;
            use $sync as sync;
            use $thread as thread;
            let (first_tx, mut rx) = mpsc::sync_channel::<Instant>(64);
            let mut stages = Vec::new();
            for _ in 0..3 {
                let (tx, next_rx) = mpsc::sync_channel::<Instant>(64);
                let input = rx;
                stages.push(thread::spawn(move || {
                    for m in input {
                        tx.send(m).unwrap();
                    }
                }));
                rx = next_rx;
            }
            let last = thread::spawn(move || {
                let mut lat = Vec::with_capacity(MESSAGES);
                for sent in rx {
                    lat.push(sent.elapsed().as_nanos() as u64);
                }
                lat
            });
            let source = thread::spawn(move || {
                let start = Instant::now();
                for _ in 0..MESSAGES {
                    first_tx.send(Instant::now()).unwrap();
                }
                start
            });
            let start = source.join().unwrap();
            let lat = last.join().unwrap();
            let elapsed = start.elapsed();
            for s in stages {
                s.join().unwrap();
            }
            assert_eq!(lat.len(), MESSAGES);
            pipeline_result(elapsed, lat)
        }

        fn $pool() -> String {
            use sync::{mpsc, Arc, Mutex};
            use $sync as sync;
            use $thread as thread;
            type Job = Box<dyn FnOnce() + Send + 'static>;
            let (tx, rx) = mpsc::channel::<Job>();
            let rx = Arc::new(Mutex::new(rx));
            let placed = Arc::new(std::sync::Mutex::new(std::collections::BTreeSet::new()));
            let workers: Vec<_> = (0..8)
                .map(|_| {
                    let rx = rx.clone();
                    let placed = placed.clone();
                    thread::spawn(move || {
                        if let Some(tid) = os_thread_if_asked() {
                            placed.lock().unwrap().insert(tid);
                        }
                        loop {
                            let job = rx.lock().unwrap().recv();
                            match job {
                                Ok(job) => job(),
                                Err(_) => return,
                            }
                        }
                    })
                })
                .collect();
            let count = Arc::new(Mutex::new(0u64));
            let (done_tx, done_rx) = mpsc::channel::<()>();
            let start = Instant::now();
            for _ in 0..JOBS {
                let (count, done_tx) = (count.clone(), done_tx.clone());
                tx.send(Box::new(move || {
                    let mut c = count.lock().unwrap();
                    *c += 1;
                    if *c == JOBS {
                        let _ = done_tx.send(());
                    }
                }))
                .unwrap();
            }
            done_rx.recv().unwrap();
            let elapsed = start.elapsed();
            drop(tx);
            for w in workers {
                w.join().unwrap();
            }
            let placed = placed.lock().unwrap().len();
            if placed > 0 {
                eprintln!("pool: the 8 workers ran on {placed} OS thread(s)");
            }
            format!(
                "{:.0} k jobs/s",
                JOBS as f64 / elapsed.as_secs_f64() / 1000.0
            )
        }

        fn $spawn() -> String {
            use $thread as thread;
            let best = (0..4)
                .map(|_| {
                    let start = Instant::now();
                    let handles: Vec<_> = (0..SPAWNS).map(|i| thread::spawn(move || i)).collect();
                    let sum: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
                    assert_eq!(sum, SPAWNS * (SPAWNS - 1) / 2);
                    start.elapsed()
                })
                .min()
                .unwrap();
            ns_per(best, SPAWNS as u64)
        }
    };
}

scenarios!(
    bounce_green,
    pipeline_green,
    pool_green,
    spawn_green,
    green::thread,
    green::sync
);
scenarios!(
    bounce_std,
    pipeline_std,
    pool_std,
    spawn_std_all,
    std::thread,
    std::sync
);

/// std threads spawn 10,000 (an OS thread each) rather than 100,000.
fn spawn_std() -> String {
    let start = Instant::now();
    let handles: Vec<_> = (0..10_000usize)
        .map(|i| std::thread::spawn(move || i))
        .collect();
    let sum: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(sum, 10_000 * 9_999 / 2);
    let _ = spawn_std_all;
    ns_per(start.elapsed(), 10_000) + " (N=10000)"
}

mod tok {
    use super::*;

    fn runtime(ct: bool) -> tokio::runtime::Runtime {
        let mut b = if ct {
            tokio::runtime::Builder::new_current_thread()
        } else {
            tokio::runtime::Builder::new_multi_thread()
        };
        b.enable_all().build().unwrap()
    }

    pub fn bounce(ct: bool) -> String {
        runtime(ct).block_on(async {
            let (ping_tx, mut ping_rx) = tokio::sync::mpsc::unbounded_channel::<u64>();
            let (pong_tx, mut pong_rx) = tokio::sync::mpsc::unbounded_channel::<u64>();
            let echo = tokio::spawn(async move {
                while let Some(v) = ping_rx.recv().await {
                    if pong_tx.send(v).is_err() {
                        return;
                    }
                }
            });
            let pinger = tokio::spawn(async move {
                let start = Instant::now();
                for i in 0..TRIPS {
                    ping_tx.send(i).unwrap();
                    assert_eq!(pong_rx.recv().await.unwrap(), i);
                }
                start.elapsed()
            });
            let elapsed = pinger.await.unwrap();
            echo.await.unwrap();
            ns_per(elapsed, TRIPS)
        })
    }

    pub fn pipeline(ct: bool) -> String {
        runtime(ct).block_on(async {
            let (first_tx, mut rx) = tokio::sync::mpsc::channel::<Instant>(64);
            let mut stages = Vec::new();
            for _ in 0..3 {
                let (tx, next_rx) = tokio::sync::mpsc::channel::<Instant>(64);
                let mut input = rx;
                stages.push(tokio::spawn(async move {
                    while let Some(m) = input.recv().await {
                        tx.send(m).await.unwrap();
                    }
                }));
                rx = next_rx;
            }
            let last = tokio::spawn(async move {
                let mut lat = Vec::with_capacity(MESSAGES);
                while let Some(sent) = rx.recv().await {
                    lat.push(sent.elapsed().as_nanos() as u64);
                }
                lat
            });
            let source = tokio::spawn(async move {
                let start = Instant::now();
                for _ in 0..MESSAGES {
                    first_tx.send(Instant::now()).await.unwrap();
                }
                start
            });
            let start = source.await.unwrap();
            let lat = last.await.unwrap();
            let elapsed = start.elapsed();
            for s in stages {
                s.await.unwrap();
            }
            pipeline_result(elapsed, lat)
        })
    }

    pub fn pool(ct: bool) -> String {
        runtime(ct).block_on(async {
            type Job = Box<dyn FnOnce() + Send + 'static>;
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Job>();
            let rx = Arc::new(tokio::sync::Mutex::new(rx));
            let workers: Vec<_> = (0..8)
                .map(|_| {
                    let rx = rx.clone();
                    tokio::spawn(async move {
                        loop {
                            let job = rx.lock().await.recv().await;
                            match job {
                                Some(job) => job(),
                                None => return,
                            }
                        }
                    })
                })
                .collect();
            let count = Arc::new(AtomicU64::new(0));
            let done = Arc::new(tokio::sync::Notify::new());
            let start = Instant::now();
            for _ in 0..JOBS {
                let (count, done) = (count.clone(), done.clone());
                tx.send(Box::new(move || {
                    if count.fetch_add(1, Ordering::SeqCst) + 1 == JOBS {
                        done.notify_one();
                    }
                }))
                .unwrap();
            }
            done.notified().await;
            let elapsed = start.elapsed();
            drop(tx);
            for w in workers {
                w.await.unwrap();
            }
            format!(
                "{:.0} k jobs/s",
                JOBS as f64 / elapsed.as_secs_f64() / 1000.0
            )
        })
    }

    pub fn spawn(ct: bool) -> String {
        runtime(ct).block_on(async {
            let mut best = Duration::MAX;
            for _ in 0..4 {
                let start = Instant::now();
                let handles: Vec<_> = (0..SPAWNS)
                    .map(|i| tokio::spawn(async move { i }))
                    .collect();
                let mut sum = 0usize;
                for h in handles {
                    sum += h.await.unwrap();
                }
                assert_eq!(sum, SPAWNS * (SPAWNS - 1) / 2);
                best = best.min(start.elapsed());
            }
            ns_per(best, SPAWNS as u64)
        })
    }
}

mod mayb {
    use super::*;

    pub fn bounce() -> String {
        may::config().set_workers(2);
        let (ping_tx, ping_rx) = may::sync::mpsc::channel::<u64>();
        let (pong_tx, pong_rx) = may::sync::mpsc::channel::<u64>();
        let echo = may::go!(move || {
            while let Ok(v) = ping_rx.recv() {
                if pong_tx.send(v).is_err() {
                    return;
                }
            }
        });
        let pinger = may::go!(move || {
            let start = Instant::now();
            for i in 0..TRIPS {
                ping_tx.send(i).unwrap();
                assert_eq!(pong_rx.recv().unwrap(), i);
            }
            start.elapsed()
        });
        let elapsed = pinger.join().unwrap();
        echo.join().unwrap();
        ns_per(elapsed, TRIPS)
    }

    pub fn spawn() -> String {
        may::config().set_workers(2);
        let best = (0..4)
            .map(|_| {
                let start = Instant::now();
                let handles: Vec<_> = (0..SPAWNS).map(|i| may::go!(move || i)).collect();
                let sum: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
                assert_eq!(sum, SPAWNS * (SPAWNS - 1) / 2);
                start.elapsed()
            })
            .min()
            .unwrap();
        ns_per(best, SPAWNS as u64)
    }
}
