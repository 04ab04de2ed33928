//! green::process against std::process on OS threads and tokio::process,
//! side by side.
//!
//! `cargo run --release -p green-benches --bin process` runs every scenario
//! on every system, each cell in a fresh child process (so peak RSS and the
//! thread count belong to one measurement), and prints one table.
//! Scenarios:
//!
//! * `status1000` — 1,000 concurrent tasks (green threads, OS threads, tokio
//!   tasks) each run `Command::new("true").status()` once; wall time from
//!   the first spawn to the last join, the peak number of OS threads in the
//!   process (sampled every millisecond) and peak RSS (`VmHWM`).
//! * `sleep100` — the measurement: 100 concurrent tasks each run
//!   `sh -c "sleep 0.1; echo x"` with `output()`, while a 1 ms ticker runs
//!   on every scheduler thread; wall time, peak threads and the longest
//!   gap any ticker saw (how long a scheduler thread was held).
//!
//! The last column calls `std::process` from green threads: the situation
//! before green-process (each spawn and wait holds its hub).

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const STATUS_TASKS: usize = 1_000;
const SLEEP_TASKS: usize = 100;

fn status_kib(key: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

/// Samples the process's OS thread count every millisecond until dropped.
struct ThreadPeak {
    peak: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    sampler: Option<std::thread::JoinHandle<()>>,
}

impl ThreadPeak {
    fn start() -> ThreadPeak {
        let peak = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (p, s) = (peak.clone(), stop.clone());
        let sampler = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                // The sampler itself is not counted.
                let n = status_kib("Threads:").saturating_sub(1);
                p.fetch_max(n, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        ThreadPeak {
            peak,
            stop,
            sampler: Some(sampler),
        }
    }

    fn finish(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(s) = self.sampler.take() {
            let _ = s.join();
        }
        self.peak.load(Ordering::Relaxed)
    }
}

/// The longest gap between ticks of any of the tickers.
struct Gaps(Vec<Arc<AtomicU64>>);

impl Gaps {
    fn max_ms(&self) -> f64 {
        self.0
            .iter()
            .map(|g| g.load(Ordering::Relaxed))
            .max()
            .unwrap_or(0) as f64
            / 1000.0
    }
}

/// One ticker loop: sleeps 1 ms with `sleep`, recording the longest gap (µs).
fn tick_loop(sleep: impl Fn(), gap: &AtomicU64, stop: &AtomicBool) {
    let mut last = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        sleep();
        let now = Instant::now();
        gap.fetch_max((now - last).as_micros() as u64, Ordering::Relaxed);
        last = now;
    }
}

fn cell(wall: Duration, threads: u64, extra: &str) -> String {
    format!(
        "{:.0} ms, {threads} threads, {:.0} MiB{extra}",
        wall.as_secs_f64() * 1000.0,
        status_kib("VmHWM:") as f64 / 1024.0
    )
}

mod greenb {
    use super::*;
    use green::process::Command;

    pub fn status() -> String {
        let peak = ThreadPeak::start();
        let start = Instant::now();
        let handles: Vec<_> = (0..STATUS_TASKS)
            .map(|_| green::thread::spawn(|| Command::new("true").status()))
            .collect();
        for h in handles {
            assert!(h.join().unwrap().unwrap().success());
        }
        let wall = start.elapsed();
        cell(wall, peak.finish(), "")
    }

    pub fn sleep() -> String {
        let stop = Arc::new(AtomicBool::new(false));
        let workers = green::rt::runtime::workers().max(1);
        let mut gaps = Vec::new();
        let mut tickers = Vec::new();
        let hubs = Arc::new(AtomicUsize::new(0));
        for _ in 0..workers {
            let gap = Arc::new(AtomicU64::new(0));
            gaps.push(gap.clone());
            let (s, h) = (stop.clone(), hubs.clone());
            tickers.push(green::thread::spawn(move || {
                h.fetch_add(1, Ordering::Relaxed);
                tick_loop(|| green::thread::sleep(Duration::from_millis(1)), &gap, &s)
            }));
        }
        while hubs.load(Ordering::Relaxed) < workers {
            std::thread::sleep(Duration::from_millis(1));
        }
        let peak = ThreadPeak::start();
        let start = Instant::now();
        let handles: Vec<_> = (0..SLEEP_TASKS)
            .map(|_| {
                green::thread::spawn(|| {
                    Command::new("sh")
                        .args(["-c", "sleep 0.1; echo x"])
                        .output()
                })
            })
            .collect();
        for h in handles {
            assert_eq!(h.join().unwrap().unwrap().stdout, b"x\n");
        }
        let wall = start.elapsed();
        stop.store(true, Ordering::Relaxed);
        for t in tickers {
            t.join().unwrap();
        }
        let gaps = Gaps(gaps);
        cell(
            wall,
            peak.finish(),
            &format!(", ticker gap {:.1} ms", gaps.max_ms()),
        )
    }
}

/// std's `Command` called from green threads: what the issue measured
/// before green-process existed (each call holds its hub).
mod std_in_green {
    use super::*;
    use std::process::Command;

    pub fn status() -> String {
        let peak = ThreadPeak::start();
        let start = Instant::now();
        let handles: Vec<_> = (0..STATUS_TASKS)
            .map(|_| green::thread::spawn(|| Command::new("true").status()))
            .collect();
        for h in handles {
            assert!(h.join().unwrap().unwrap().success());
        }
        let wall = start.elapsed();
        cell(wall, peak.finish(), "")
    }

    pub fn sleep() -> String {
        let stop = Arc::new(AtomicBool::new(false));
        let workers = green::rt::runtime::workers().max(1);
        let mut gaps = Vec::new();
        let mut tickers = Vec::new();
        let hubs = Arc::new(AtomicUsize::new(0));
        for _ in 0..workers {
            let gap = Arc::new(AtomicU64::new(0));
            gaps.push(gap.clone());
            let (s, h) = (stop.clone(), hubs.clone());
            tickers.push(green::thread::spawn(move || {
                h.fetch_add(1, Ordering::Relaxed);
                tick_loop(|| green::thread::sleep(Duration::from_millis(1)), &gap, &s)
            }));
        }
        while hubs.load(Ordering::Relaxed) < workers {
            std::thread::sleep(Duration::from_millis(1));
        }
        let peak = ThreadPeak::start();
        let start = Instant::now();
        let handles: Vec<_> = (0..SLEEP_TASKS)
            .map(|_| {
                green::thread::spawn(|| {
                    Command::new("sh")
                        .args(["-c", "sleep 0.1; echo x"])
                        .output()
                })
            })
            .collect();
        for h in handles {
            assert_eq!(h.join().unwrap().unwrap().stdout, b"x\n");
        }
        let wall = start.elapsed();
        stop.store(true, Ordering::Relaxed);
        for t in tickers {
            t.join().unwrap();
        }
        let gaps = Gaps(gaps);
        cell(
            wall,
            peak.finish(),
            &format!(", ticker gap {:.1} ms", gaps.max_ms()),
        )
    }
}

mod stdt {
    use super::*;
    use std::process::Command;

    pub fn status() -> String {
        let peak = ThreadPeak::start();
        let start = Instant::now();
        let handles: Vec<_> = (0..STATUS_TASKS)
            .map(|_| std::thread::spawn(|| Command::new("true").status()))
            .collect();
        for h in handles {
            assert!(h.join().unwrap().unwrap().success());
        }
        let wall = start.elapsed();
        cell(wall, peak.finish(), "")
    }

    pub fn sleep() -> String {
        let peak = ThreadPeak::start();
        let start = Instant::now();
        let handles: Vec<_> = (0..SLEEP_TASKS)
            .map(|_| {
                std::thread::spawn(|| {
                    Command::new("sh")
                        .args(["-c", "sleep 0.1; echo x"])
                        .output()
                })
            })
            .collect();
        for h in handles {
            assert_eq!(h.join().unwrap().unwrap().stdout, b"x\n");
        }
        let wall = start.elapsed();
        cell(wall, peak.finish(), ", ticker gap n/a")
    }
}

mod tok {
    use super::*;

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("tokio runtime")
    }

    pub fn status() -> String {
        let rt = rt();
        let peak = ThreadPeak::start();
        let wall = rt.block_on(async {
            let start = Instant::now();
            let handles: Vec<_> = (0..STATUS_TASKS)
                .map(|_| {
                    tokio::spawn(async { tokio::process::Command::new("true").status().await })
                })
                .collect();
            for h in handles {
                assert!(h.await.unwrap().unwrap().success());
            }
            start.elapsed()
        });
        cell(wall, peak.finish(), "")
    }

    pub fn sleep() -> String {
        let rt = rt();
        let workers = rt.metrics().num_workers();
        let stop = Arc::new(AtomicBool::new(false));
        let gaps: Vec<Arc<AtomicU64>> = (0..workers).map(|_| Arc::new(AtomicU64::new(0))).collect();
        let (wall, threads) = rt.block_on(async {
            let mut tickers = Vec::new();
            for gap in &gaps {
                let (gap, stop) = (gap.clone(), stop.clone());
                tickers.push(tokio::spawn(async move {
                    let mut last = Instant::now();
                    while !stop.load(Ordering::Relaxed) {
                        tokio::time::sleep(Duration::from_millis(1)).await;
                        let now = Instant::now();
                        gap.fetch_max((now - last).as_micros() as u64, Ordering::Relaxed);
                        last = now;
                    }
                }));
            }
            let peak = ThreadPeak::start();
            let start = Instant::now();
            let handles: Vec<_> = (0..SLEEP_TASKS)
                .map(|_| {
                    tokio::spawn(async {
                        tokio::process::Command::new("sh")
                            .args(["-c", "sleep 0.1; echo x"])
                            .output()
                            .await
                    })
                })
                .collect();
            for h in handles {
                assert_eq!(h.await.unwrap().unwrap().stdout, b"x\n");
            }
            let wall = start.elapsed();
            stop.store(true, Ordering::Relaxed);
            for t in tickers {
                t.await.unwrap();
            }
            (wall, peak.finish())
        });
        let gaps = Gaps(gaps);
        cell(
            wall,
            threads,
            &format!(", ticker gap {:.1} ms", gaps.max_ms()),
        )
    }
}

fn run(scenario: &str, system: &str) -> String {
    match (scenario, system) {
        ("status1000", "green") => greenb::status(),
        ("status1000", "std") => stdt::status(),
        ("status1000", "tokio") => tok::status(),
        ("sleep100", "green") => greenb::sleep(),
        ("sleep100", "std") => stdt::sleep(),
        ("sleep100", "tokio") => tok::sleep(),
        ("status1000", "std-in-green") => std_in_green::status(),
        ("sleep100", "std-in-green") => std_in_green::sleep(),
        _ => panic!("unknown scenario {scenario} / system {system}"),
    }
}

fn main() {
    if green_benches::run_cell_from_args(run) {
        return;
    }
    println!(
        "green::process vs std::process (OS threads) vs tokio::process; \
         each cell: wall time, peak OS threads, peak RSS"
    );
    green_benches::print_table(
        &["status1000", "sleep100"],
        &["green", "std", "tokio", "std-in-green"],
        &[
            "green",
            "std threads",
            "tokio::process",
            "std::process in green threads",
        ],
    );
}
