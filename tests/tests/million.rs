//! One million live green threads, with the kernel's map limit raised.
//!
//! Needs `vm.max_map_count` of about 2,100,000 or more and about 9 GiB of
//! memory, so it is `#[ignore]`d in the default run; `.ci/run` raises the
//! limit where it is permitted and runs it in release mode:
//! `cargo test --release -p green-conformance --test million -- --ignored`.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use green::thread;

const N: usize = 1_000_000;

fn status_kib(field: &str) -> usize {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[test]
#[ignore = "needs vm.max_map_count >= 2,100,000 and ~9 GiB; run by .ci/run"]
fn a_million_live_green_threads() {
    let budget = green_core::runtime::stack_budget();
    if budget < N {
        println!(
            "a_million_live_green_threads: skipped; the stack budget is {budget} \
             (vm.max_map_count = {}); raise it to 2,100,000 or more",
            green_core::runtime::max_map_count()
        );
        return;
    }
    let start = Instant::now();
    let rss_before = status_kib("VmRSS:");
    let parked = Arc::new(AtomicUsize::new(0));
    let release = Arc::new(AtomicBool::new(false));
    let handles: Vec<_> = (0..N)
        .map(|i| {
            let parked = parked.clone();
            let release = release.clone();
            thread::spawn(move || {
                parked.fetch_add(1, Ordering::AcqRel);
                while !release.load(Ordering::Acquire) {
                    thread::park();
                }
                i
            })
        })
        .collect();
    while parked.load(Ordering::Acquire) < N {
        std::thread::sleep(Duration::from_millis(10));
    }
    let all_parked = start.elapsed();
    let rss = status_kib("VmRSS:").saturating_sub(rss_before);
    assert_eq!(green_core::runtime::live_threads(), N);
    release.store(true, Ordering::Release);
    let mut sum = 0usize;
    for h in handles {
        h.thread().unpark();
        sum += h.join().expect("a green thread panicked");
    }
    assert_eq!(sum, N * (N - 1) / 2);
    println!(
        "a_million_live_green_threads: {N} parked after {all_parked:?}, {:.2} KiB RSS each, \
         all joined after {:?}",
        rss as f64 / N as f64,
        start.elapsed()
    );
}
