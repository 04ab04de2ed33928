//! Green threads against std threads, tokio tasks and may coroutines.
//!
//! `cargo run --release -p green-benches --bin threads` runs every scenario
//! for every system, each in a fresh child process (so peak RSS belongs to one
//! measurement), and prints one table. `threads <scenario> <system>` runs one.
//!
//! Scenarios:
//! * `spawn`  — spawn N tasks that return a number, then join them all; ns per task.
//! * `yield`  — two tasks on one scheduler thread yield to each other; ns per round trip.
//! * `park1`  — park/unpark ping-pong between two tasks on one scheduler thread.
//! * `park2`  — the same across two scheduler threads (two OS threads for std).
//! * `sleep`  — N tasks each sleep 100 ms; wall time and peak RSS of the process.
//! * `sleepw` — the same, run twice in one process with green's stack pool
//!   raised to N, timing the second run: the cost without mapping stacks.
//! * `idle`   — N tasks parked; resident memory per task.
//! * `live`   — up to 1,000,000 parked tasks at once, at this machine's
//!   `vm.max_map_count`: how many the system holds, and how long spawning
//!   them took.
//!
//! N is `BENCH_N` (default 100,000). tokio runs on its multi-thread runtime
//! (`tokio`) and its current-thread runtime (`tokio-ct`); the one-scheduler
//! scenarios (`yield`, `park1`) use the current-thread runtime in both.
//! may maps two kernel mappings per coroutine, so its runs are cut to what
//! `vm.max_map_count` allows, and the table says so (green would be too on
//! a kernel without `MADV_GUARD_INSTALL`).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use green_benches::best;

const SCENARIOS: [&str; 8] = [
    "spawn", "yield", "park1", "park2", "sleep", "sleepw", "idle", "live",
];
const SYSTEMS: [&str; 5] = ["green", "std", "tokio", "tokio-ct", "may"];
/// Tasks the `live` scenario tries to hold at once.
const LIVE: usize = 1_000_000;
const ROUND_TRIPS: u64 = 1_000_000;
const SLEEP: Duration = Duration::from_millis(100);

fn n_tasks() -> usize {
    std::env::var("BENCH_N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000)
}

/// std threads are measured with fewer tasks: 100,000 OS threads is more
/// than this machine's thread limit allows comfortably.
fn n_std() -> usize {
    n_tasks().min(10_000)
}

fn status_kib(field: &str) -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn main() {
    if green_benches::run_cell_from_args(run) {
        return;
    }
    println!(
        "N = {} (std: {}), vm.max_map_count = {}, green stack budget = {}, cores = {}",
        n_tasks(),
        n_std(),
        green_core::runtime::max_map_count(),
        green_core::runtime::stack_budget(),
        std::thread::available_parallelism().map_or(1, usize::from),
    );
    println!();
    green_benches::print_table(
        &SCENARIOS,
        &SYSTEMS,
        &[
            "green",
            "std threads",
            "tokio (multi-thread)",
            "tokio (current-thread)",
            "may",
        ],
    );
}

fn run(scenario: &str, system: &str) -> String {
    match (scenario, system) {
        ("spawn", "green") => green::spawn(),
        ("spawn", "std") => stdt::spawn(),
        ("spawn", "tokio") => tok::spawn(false),
        ("spawn", "tokio-ct") => tok::spawn(true),
        ("spawn", "may") => mayb::spawn(),
        ("yield", "green") => green::yields(),
        ("yield", "tokio" | "tokio-ct") => tok::yields(),
        ("yield", "may") => mayb::yields(),
        ("park1", "green") => green::park(true),
        ("park1", "tokio" | "tokio-ct") => tok::park(true),
        ("park1", "may") => mayb::park(true),
        ("park2", "green") => green::park(false),
        ("park2", "std") => stdt::park(),
        ("park2", "tokio") => tok::park(false),
        ("park2", "may") => mayb::park(false),
        ("sleep", "green") => green::sleep(),
        ("sleep", "std") => stdt::sleep(),
        ("sleep", "tokio") => tok::sleep(false),
        ("sleep", "tokio-ct") => tok::sleep(true),
        ("sleep", "may") => mayb::sleep(),
        ("sleepw", "green") => green::sleep_warm(),
        ("sleepw", _) => "—".into(),
        ("idle", "green") => green::idle(),
        ("idle", "std") => stdt::idle(),
        ("idle", "tokio") => tok::idle(false),
        ("idle", "tokio-ct") => tok::idle(true),
        ("idle", "may") => mayb::idle(),
        ("live", "green") => green::live(),
        ("live", "std") => stdt::live(),
        ("live", "tokio") => tok::live(false),
        ("live", "tokio-ct") => tok::live(true),
        ("live", "may") => mayb::live(),
        ("park2", "tokio-ct") => "n/a (one scheduler thread)".into(),
        (_, "std") => "n/a (no user-level switch)".into(),
        _ => panic!("unknown scenario {scenario} / system {system}"),
    }
}

fn per_op(elapsed: Duration, ops: u64) -> String {
    format!("{:.0} ns", elapsed.as_nanos() as f64 / ops as f64)
}

fn sleep_result(n: usize, wall: Duration, note: &str) -> String {
    format!(
        "{:.0} ms, peak RSS {:.0} MiB{note}",
        wall.as_secs_f64() * 1000.0,
        status_kib("VmHWM:") as f64 / 1024.0,
    ) + &if n == n_tasks() {
        String::new()
    } else {
        format!(" (N={n})")
    }
}

fn idle_result(n: usize, before_kib: usize, after_kib: usize) -> String {
    let per = (after_kib.saturating_sub(before_kib)) as f64 / n as f64;
    let mut s = format!("{per:.2} KiB");
    if n != n_tasks() {
        s.push_str(&format!(" (N={n})"));
    }
    s
}

/// Resident memory per idle task: starts `n` tasks with `spawn(parked,
/// release)` (each must count itself in `parked`, then park until `release`
/// is set), reads RSS before the first spawn and once all `n` are parked,
/// then sets `release` and hands each handle to `wake_and_join`.
fn idle_per_task<H>(
    n: usize,
    mut spawn: impl FnMut(Arc<AtomicUsize>, Arc<AtomicBool>) -> H,
    wake_and_join: impl FnMut(H),
) -> String {
    let parked = Arc::new(AtomicUsize::new(0));
    let release = Arc::new(AtomicBool::new(false));
    let before = status_kib("VmRSS:");
    let handles: Vec<H> = (0..n)
        .map(|_| spawn(parked.clone(), release.clone()))
        .collect();
    wait_count(&parked, n);
    let after = status_kib("VmRSS:");
    release.store(true, Ordering::Release);
    handles.into_iter().for_each(wake_and_join);
    idle_result(n, before, after)
}

/// The `live` cell: spawns parked tasks with `spawn` (which returns `None`
/// when the system refuses one) until `LIVE` are parked or one is refused,
/// then releases and joins them.
fn live_tasks<H>(
    mut spawn: impl FnMut(Arc<AtomicUsize>, Arc<AtomicBool>) -> Option<H>,
    wake: impl Fn(&H),
    join: impl FnMut(H),
) -> String {
    let parked = Arc::new(AtomicUsize::new(0));
    let release = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let mut handles = Vec::with_capacity(LIVE);
    while handles.len() < LIVE {
        match spawn(parked.clone(), release.clone()) {
            Some(h) => handles.push(h),
            None => break,
        }
    }
    let n = handles.len();
    wait_count(&parked, n);
    let elapsed = start.elapsed();
    release.store(true, Ordering::Release);
    handles.iter().for_each(wake);
    handles.into_iter().for_each(join);
    if n == LIVE {
        format!("{n} (all parked after {:.1} s)", elapsed.as_secs_f64())
    } else {
        format!("refused at {n}")
    }
}

/// Waits until `count` reaches `n` without burning a core.
fn wait_count(count: &AtomicUsize, n: usize) {
    while count.load(Ordering::Acquire) < n {
        std::thread::sleep(Duration::from_millis(1));
    }
}

mod green {
    use super::*;
    use green_core::runtime;
    use green_core::thread;

    /// How many green threads the stack budget allows, leaving room: all of
    /// them, unless guard pages cost mappings on this kernel.
    fn fit(n: usize) -> (usize, &'static str) {
        let budget = runtime::stack_budget().saturating_sub(2_000);
        if n <= budget {
            (n, "")
        } else {
            (
                budget,
                " [cut: no MADV_GUARD_INSTALL, raise vm.max_map_count]",
            )
        }
    }

    pub fn live() -> String {
        live_tasks(
            |parked, release| {
                thread::Builder::new()
                    .spawn(move || {
                        parked.fetch_add(1, Ordering::AcqRel);
                        while !release.load(Ordering::Acquire) {
                            thread::park();
                        }
                    })
                    .ok()
            },
            |h| h.thread().unpark(),
            |h| h.join().expect("join"),
        )
    }

    pub fn spawn() -> String {
        let (n, note) = fit(n_tasks());
        let best = best(4, || {
            let start = Instant::now();
            let handles: Vec<_> = (0..n).map(|i| thread::spawn(move || i)).collect();
            let mut sum = 0usize;
            for h in handles {
                sum += h.join().expect("join");
            }
            assert_eq!(sum, n * (n - 1) / 2);
            start.elapsed()
        });
        per_op(best, n as u64) + note
    }

    pub fn yields() -> String {
        thread::spawn(|| {
            let other = runtime::spawn_local(|| {
                for _ in 0..ROUND_TRIPS {
                    thread::yield_now();
                }
            });
            let start = Instant::now();
            for _ in 0..ROUND_TRIPS {
                thread::yield_now();
            }
            let elapsed = start.elapsed();
            other.join().expect("join");
            per_op(elapsed, ROUND_TRIPS)
        })
        .join()
        .expect("join")
    }

    pub fn park(same_hub: bool) -> String {
        let stop = Arc::new(AtomicBool::new(false));
        // The pinger spawns the responder next to it or on another hub.
        let pinger = thread::spawn(move || {
            let me = thread::current();
            let responder_body = {
                let stop = stop.clone();
                move || loop {
                    thread::park();
                    if stop.load(Ordering::Acquire) {
                        return;
                    }
                    me.unpark();
                }
            };
            let responder = if same_hub {
                runtime::spawn_local(responder_body)
            } else {
                thread::spawn(responder_body)
            };
            let r = responder.thread().clone();
            let start = Instant::now();
            for _ in 0..ROUND_TRIPS {
                r.unpark();
                thread::park();
            }
            let elapsed = start.elapsed();
            stop.store(true, Ordering::Release);
            r.unpark();
            responder.join().expect("join");
            per_op(elapsed, ROUND_TRIPS)
        });
        pinger.join().expect("join")
    }

    pub fn sleep() -> String {
        let (n, note) = fit(n_tasks());
        let start = Instant::now();
        let handles: Vec<_> = (0..n)
            .map(|_| thread::spawn(|| thread::sleep(SLEEP)))
            .collect();
        for h in handles {
            h.join().expect("join");
        }
        sleep_result(n, start.elapsed(), note)
    }

    pub fn sleep_warm() -> String {
        let (n, note) = fit(n_tasks());
        runtime::set_stack_pool_capacity(n);
        let run = || {
            let start = Instant::now();
            let handles: Vec<_> = (0..n)
                .map(|_| thread::spawn(|| thread::sleep(SLEEP)))
                .collect();
            for h in handles {
                h.join().expect("join");
            }
            start.elapsed()
        };
        run();
        let wall = run();
        sleep_result(n, wall, note)
    }

    pub fn idle() -> String {
        let (n, _) = fit(n_tasks());
        idle_per_task(
            n,
            |parked, release| {
                thread::spawn(move || {
                    parked.fetch_add(1, Ordering::AcqRel);
                    while !release.load(Ordering::Acquire) {
                        thread::park();
                    }
                })
            },
            |h| {
                h.thread().unpark();
                h.join().expect("join");
            },
        )
    }
}

mod stdt {
    use super::*;
    use std::thread;

    const STACK: usize = 64 * 1024;

    pub fn live() -> String {
        live_tasks(
            |parked, release| {
                thread::Builder::new()
                    .stack_size(STACK)
                    .spawn(move || {
                        parked.fetch_add(1, Ordering::AcqRel);
                        while !release.load(Ordering::Acquire) {
                            thread::park();
                        }
                    })
                    .ok()
            },
            |h| h.thread().unpark(),
            |h| h.join().expect("join"),
        )
    }

    pub fn spawn() -> String {
        let n = n_std();
        let start = Instant::now();
        let handles: Vec<_> = (0..n)
            .map(|i| {
                thread::Builder::new()
                    .stack_size(STACK)
                    .spawn(move || i)
                    .expect("spawn")
            })
            .collect();
        for h in handles {
            h.join().expect("join");
        }
        per_op(start.elapsed(), n as u64) + &format!(" (N={n})")
    }

    pub fn park() -> String {
        let stop = Arc::new(AtomicBool::new(false));
        let me = thread::current();
        let s = stop.clone();
        let responder = thread::spawn(move || loop {
            thread::park();
            if s.load(Ordering::Acquire) {
                return;
            }
            me.unpark();
        });
        let r = responder.thread().clone();
        let trips = ROUND_TRIPS / 10;
        let start = Instant::now();
        for _ in 0..trips {
            r.unpark();
            thread::park();
        }
        let elapsed = start.elapsed();
        stop.store(true, Ordering::Release);
        r.unpark();
        responder.join().expect("join");
        per_op(elapsed, trips)
    }

    pub fn sleep() -> String {
        let n = n_std();
        let start = Instant::now();
        let handles: Vec<_> = (0..n)
            .map(|_| {
                thread::Builder::new()
                    .stack_size(STACK)
                    .spawn(|| thread::sleep(SLEEP))
                    .expect("spawn")
            })
            .collect();
        for h in handles {
            h.join().expect("join");
        }
        sleep_result(n, start.elapsed(), "")
    }

    pub fn idle() -> String {
        let n = n_std();
        idle_per_task(
            n,
            |parked, release| {
                thread::Builder::new()
                    .stack_size(STACK)
                    .spawn(move || {
                        parked.fetch_add(1, Ordering::AcqRel);
                        while !release.load(Ordering::Acquire) {
                            thread::park();
                        }
                    })
                    .expect("spawn")
            },
            |h| {
                h.thread().unpark();
                h.join().expect("join");
            },
        )
    }
}

mod tok {
    use super::*;
    use tokio::sync::Notify;

    fn multi() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("runtime")
    }

    fn single() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    }

    fn runtime(current_thread: bool) -> tokio::runtime::Runtime {
        if current_thread {
            single()
        } else {
            multi()
        }
    }

    pub fn spawn(ct: bool) -> String {
        let n = n_tasks();
        runtime(ct).block_on(async move {
            let mut best = Duration::MAX;
            for _ in 0..4 {
                let start = Instant::now();
                let handles: Vec<_> = (0..n).map(|i| tokio::spawn(async move { i })).collect();
                let mut sum = 0usize;
                for h in handles {
                    sum += h.await.expect("join");
                }
                assert_eq!(sum, n * (n - 1) / 2);
                best = best.min(start.elapsed());
            }
            per_op(best, n as u64)
        })
    }

    pub fn yields() -> String {
        single().block_on(async {
            let other = tokio::spawn(async {
                for _ in 0..ROUND_TRIPS {
                    tokio::task::yield_now().await;
                }
            });
            let start = Instant::now();
            for _ in 0..ROUND_TRIPS {
                tokio::task::yield_now().await;
            }
            let elapsed = start.elapsed();
            other.await.expect("join");
            per_op(elapsed, ROUND_TRIPS)
        })
    }

    pub fn park(same: bool) -> String {
        let rt = if same { single() } else { multi() };
        rt.block_on(async {
            let ping = Arc::new(Notify::new());
            let pong = Arc::new(Notify::new());
            let stop = Arc::new(AtomicBool::new(false));
            let (pi, po, st) = (ping.clone(), pong.clone(), stop.clone());
            let responder = tokio::spawn(async move {
                loop {
                    pi.notified().await;
                    if st.load(Ordering::Acquire) {
                        return;
                    }
                    po.notify_one();
                }
            });
            let start = Instant::now();
            for _ in 0..ROUND_TRIPS {
                ping.notify_one();
                pong.notified().await;
            }
            let elapsed = start.elapsed();
            stop.store(true, Ordering::Release);
            ping.notify_one();
            responder.await.expect("join");
            per_op(elapsed, ROUND_TRIPS)
        })
    }

    pub fn sleep(ct: bool) -> String {
        let n = n_tasks();
        runtime(ct).block_on(async move {
            let start = Instant::now();
            let handles: Vec<_> = (0..n)
                .map(|_| tokio::spawn(tokio::time::sleep(SLEEP)))
                .collect();
            for h in handles {
                h.await.expect("join");
            }
            sleep_result(n, start.elapsed(), "")
        })
    }

    pub fn live(ct: bool) -> String {
        runtime(ct).block_on(async {
            let release = Arc::new(Notify::new());
            let parked = Arc::new(AtomicUsize::new(0));
            let start = Instant::now();
            let handles: Vec<_> = (0..LIVE)
                .map(|_| {
                    let (r, parked) = (release.clone(), parked.clone());
                    tokio::spawn(async move {
                        let wait = r.notified();
                        parked.fetch_add(1, Ordering::AcqRel);
                        wait.await;
                    })
                })
                .collect();
            while parked.load(Ordering::Acquire) < LIVE {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            let elapsed = start.elapsed();
            release.notify_waiters();
            for h in handles {
                h.await.expect("join");
            }
            format!("{LIVE} (all parked after {:.1} s)", elapsed.as_secs_f64())
        })
    }

    pub fn idle(ct: bool) -> String {
        let n = n_tasks();
        // Inside `block_on`, so a current-thread runtime runs the tasks too.
        runtime(ct).block_on(async move {
            let parked = Arc::new(AtomicUsize::new(0));
            let release = Arc::new(Notify::new());
            let before = status_kib("VmRSS:");
            let handles: Vec<_> = (0..n)
                .map(|_| {
                    let parked = parked.clone();
                    let release = release.clone();
                    tokio::spawn(async move {
                        let wait = release.notified();
                        parked.fetch_add(1, Ordering::AcqRel);
                        wait.await;
                    })
                })
                .collect();
            while parked.load(Ordering::Acquire) < n {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            let after = status_kib("VmRSS:");
            release.notify_waiters();
            for h in handles {
                h.await.expect("join");
            }
            idle_result(n, before, after)
        })
    }
}

mod mayb {
    use super::*;
    use may::coroutine;

    fn workers(n: usize) {
        may::config().set_workers(n);
    }

    fn fit(n: usize) -> (usize, &'static str) {
        // may maps one stack (two mappings) per live coroutine as well.
        let budget = green_core::runtime::max_map_count().saturating_sub(12_000) / 2;
        if n <= budget {
            (n, "")
        } else {
            (budget, " [cut: raise vm.max_map_count]")
        }
    }

    pub fn spawn() -> String {
        workers(2);
        let n = n_tasks();
        let best = best(4, || {
            let start = Instant::now();
            let handles: Vec<_> = (0..n).map(|i| may::go!(move || i)).collect();
            let mut sum = 0usize;
            for h in handles {
                sum += h.join().expect("join");
            }
            assert_eq!(sum, n * (n - 1) / 2);
            start.elapsed()
        });
        per_op(best, n as u64)
    }

    pub fn yields() -> String {
        workers(1);
        may::go!(|| {
            let other = may::go!(|| {
                for _ in 0..ROUND_TRIPS {
                    coroutine::yield_now();
                }
            });
            let start = Instant::now();
            for _ in 0..ROUND_TRIPS {
                coroutine::yield_now();
            }
            let elapsed = start.elapsed();
            other.join().expect("join");
            per_op(elapsed, ROUND_TRIPS)
        })
        .join()
        .expect("join")
    }

    pub fn park(same: bool) -> String {
        workers(if same { 1 } else { 2 });
        may::go!(|| {
            let me = coroutine::current();
            let stop = Arc::new(AtomicBool::new(false));
            let st = stop.clone();
            let responder = may::go!(move || loop {
                coroutine::park();
                if st.load(Ordering::Acquire) {
                    return;
                }
                me.unpark();
            });
            let r = responder.coroutine().clone();
            let start = Instant::now();
            for _ in 0..ROUND_TRIPS {
                r.unpark();
                coroutine::park();
            }
            let elapsed = start.elapsed();
            stop.store(true, Ordering::Release);
            r.unpark();
            responder.join().expect("join");
            per_op(elapsed, ROUND_TRIPS)
        })
        .join()
        .expect("join")
    }

    pub fn sleep() -> String {
        workers(2);
        let (n, note) = fit(n_tasks());
        let start = Instant::now();
        let handles: Vec<_> = (0..n)
            .map(|_| may::go!(|| coroutine::sleep(SLEEP)))
            .collect();
        for h in handles {
            h.join().expect("join");
        }
        sleep_result(n, start.elapsed(), note)
    }

    /// Spawns until may refuses: it maps every stack itself and panics
    /// when `mmap` fails at the kernel's map limit.
    pub fn live() -> String {
        workers(2);
        // The failed mmap panics; keep the panic quiet and cheap.
        std::panic::set_hook(Box::new(|_| {}));
        live_tasks(
            |parked, release| {
                std::panic::catch_unwind(move || {
                    may::go!(move || {
                        parked.fetch_add(1, Ordering::AcqRel);
                        while !release.load(Ordering::Acquire) {
                            coroutine::park();
                        }
                    })
                })
                .ok()
            },
            |h| h.coroutine().unpark(),
            |h| {
                let _ = h.join();
            },
        )
    }

    pub fn idle() -> String {
        workers(2);
        let (n, _) = fit(n_tasks());
        idle_per_task(
            n,
            |parked, release| {
                may::go!(move || {
                    parked.fetch_add(1, Ordering::AcqRel);
                    while !release.load(Ordering::Acquire) {
                        coroutine::park();
                    }
                })
            },
            |h| {
                h.coroutine().unpark();
                h.join().expect("join");
            },
        )
    }
}
