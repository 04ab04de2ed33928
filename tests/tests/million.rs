//! One million live green threads on a kernel with default limits.
//!
//! Needs about 5 GiB of memory and a release build to be quick, so it is
//! `#[ignore]`d in the default run; `.ci/run` runs it in release mode
//! without touching any kernel setting:
//! `cargo test --release -p green-conformance --test million -- --ignored`.
//!
//! Where the kernel has no `MADV_GUARD_INSTALL` (before Linux 6.13) each
//! stack costs two kernel mappings, and the test checks the documented
//! fallback instead: spawning stops with `OutOfMemory` naming
//! `vm.max_map_count`, and every accepted thread ran.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use green::thread;
use green_conformance::{mappings, spawn_until_refused, status_kib};
use green_core::runtime::{self, GuardKind};

const N: usize = 1_000_000;

#[test]
#[ignore = "needs ~5 GiB and a release build; run by .ci/run"]
fn a_million_live_green_threads() {
    if runtime::stack_guards() == GuardKind::Mprotect {
        let budget = runtime::stack_budget();
        let (accepted, err) = spawn_until_refused(budget.saturating_add(10_000));
        assert_eq!(err.kind(), io::ErrorKind::OutOfMemory, "{err}");
        assert!(err.to_string().contains("vm.max_map_count"), "{err}");
        println!(
            "a_million_live_green_threads: this kernel has no MADV_GUARD_INSTALL; the \
             documented fallback accepted {accepted} (budget {budget}, vm.max_map_count {}) \
             and then refused: {err}",
            runtime::max_map_count()
        );
        return;
    }
    let start = Instant::now();
    let (rss_before, pte_before, maps_before) =
        (status_kib("VmRSS:"), status_kib("VmPTE:"), mappings());
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
    let pte = status_kib("VmPTE:").saturating_sub(pte_before);
    let maps = mappings().saturating_sub(maps_before);
    assert_eq!(runtime::live_threads(), N);
    assert!(
        maps < 1_000,
        "a million stacks added {maps} kernel mappings (vm.max_map_count is {})",
        runtime::max_map_count()
    );
    release.store(true, Ordering::Release);
    for h in &handles {
        h.thread().unpark();
    }
    let mut sum = 0usize;
    for h in handles {
        sum += h.join().expect("a green thread panicked");
    }
    assert_eq!(sum, N * (N - 1) / 2);
    println!(
        "a_million_live_green_threads: {N} parked after {all_parked:?} at vm.max_map_count \
         {}; {:.2} KiB resident and {:.2} KiB of page tables each, {maps} more mappings; \
         all joined after {:?}",
        runtime::max_map_count(),
        rss as f64 / N as f64,
        pte as f64 / N as f64,
        start.elapsed()
    );
}
