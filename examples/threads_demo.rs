//! Spawns 100,000 green threads, each of which sleeps, parks until woken by a
//! neighbour, and hands back a number; then prints what they did and what it
//! cost: wall time, memory, and how few OS threads carried them.
//!
//! The code is plain `std::thread` code with `std::` swapped for `green::`.
//!
//! ```text
//! cargo run --release --example threads_demo            # 100,000 green threads
//! cargo run --release --example threads_demo -- 20000   # another count
//! ```
//!
//! No kernel setting needs raising. On a kernel older than Linux 6.13 (no
//! `MADV_GUARD_INSTALL`) each stack costs two kernel mappings, so a default
//! `vm.max_map_count` allows about 30,000 at once: the demo then says so and
//! runs as many as fit.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use green::thread;
use green::time::{Duration, Instant};

fn status(field: &str) -> String {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .map(|l| l[field.len()..].trim().to_string())
        .unwrap_or_else(|| "?".into())
}

fn main() {
    let wanted: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let budget = green::rt::runtime::stack_budget();
    let n = if wanted + 1_000 > budget {
        let n = budget.saturating_sub(1_000);
        println!(
            "note: this kernel has no MADV_GUARD_INSTALL, so it allows about {budget} \
             green threads at once (vm.max_map_count = {}); running {n} instead of \
             {wanted}.\n      `sudo sysctl -w vm.max_map_count=262144` allows 100,000.",
            green::rt::runtime::max_map_count()
        );
        n
    } else {
        wanted
    };

    let start = Instant::now();
    let woken = Arc::new(AtomicUsize::new(0));
    // Each green thread sleeps 50 ms, then parks until the one spawned after
    // it unparks it: a chain of wake-ups from the last thread to the first.
    let mut handles = Vec::with_capacity(n);
    let mut previous: Option<thread::Thread> = None;
    for i in 0..n {
        let woken = woken.clone();
        let next_to_wake = previous.take();
        let h = thread::Builder::new()
            .name(format!("worker-{i}"))
            .spawn(move || {
                thread::sleep(Duration::from_millis(50));
                if i + 1 < n {
                    // The last thread starts the chain; every other one
                    // waits for its successor.
                    thread::park();
                }
                woken.fetch_add(1, Ordering::Relaxed);
                if let Some(t) = next_to_wake {
                    t.unpark();
                }
                i as u64
            })
            .expect("spawn");
        previous = Some(h.thread().clone());
        handles.push(h);
    }
    let spawned = start.elapsed();
    let threads_during = status("Threads:");
    let rss_during = status("VmRSS:");
    let sum: u64 = handles.into_iter().map(|h| h.join().expect("join")).sum();
    let total = start.elapsed();

    assert_eq!(sum, (n as u64) * (n as u64 - 1) / 2);
    assert_eq!(woken.load(Ordering::Relaxed), n);
    println!("{n} green threads: each slept 50 ms, was woken by its neighbour, returned its index");
    println!("  spawned in       {spawned:?}");
    println!("  all joined after {total:?} (sum of results {sum})");
    println!("  OS threads       {threads_during} (worker hubs + main + blocking pool)");
    println!(
        "  resident memory  {rss_during} while they lived; peak {}",
        status("VmHWM:")
    );
}
