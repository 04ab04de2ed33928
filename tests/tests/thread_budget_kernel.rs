//! The real stack budget derived from the kernel's `vm.max_map_count`
//! (about 30,000 green threads on a default kernel): spawn parked green
//! threads until `Builder::spawn` refuses, check every accepted one really
//! got a stack and ran (no failed `mmap` before the budget), that the refusal
//! is `OutOfMemory` naming `vm.max_map_count`, and that everything recovers.
//!
//! On a default kernel this takes a few seconds and about 250 MB. When the
//! limit has been raised (a budget above 60,000) it is skipped with a message
//! unless `GREEN_TEST_KERNEL_BUDGET=1` is set. A dedicated binary, so the
//! process holds no other stacks.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use green_conformance::{eventually, Flavor};

const HANG: Duration = Duration::from_secs(120);

/// Budgets above this (a raised `vm.max_map_count`) make the test too slow
/// and too big for the default run.
const DEFAULT_RUN_LIMIT: usize = 60_000;

#[test]
fn spawn_until_the_kernel_budget() {
    let budget = green_core::runtime::stack_budget();
    if budget > DEFAULT_RUN_LIMIT && std::env::var_os("GREEN_TEST_KERNEL_BUDGET").is_none() {
        println!(
            "spawn_until_the_kernel_budget: skipped; the derived budget is {budget} \
             (vm.max_map_count raised); set GREEN_TEST_KERNEL_BUDGET=1 to run it anyway"
        );
        return;
    }
    spawn_until(budget);
}

fn spawn_until(budget: usize) {
    let begin = Instant::now();
    let max_map_count = green_core::runtime::max_map_count();
    println!("vm.max_map_count {max_map_count}, derived stack budget {budget}");
    assert!(budget > 0);
    // Far more than the budget: the loop must stop at an error, never run on.
    let cap = budget + 10_000;

    let ran = Arc::new(AtomicUsize::new(0));
    let go = Arc::new(AtomicBool::new(false));
    let mut handles = Vec::with_capacity(budget);
    let err = loop {
        assert!(
            handles.len() < cap,
            "no error after {cap} spawns (budget {budget})"
        );
        let (ran, go) = (ran.clone(), go.clone());
        match green_core::thread::Builder::new().spawn(move || {
            ran.fetch_add(1, Ordering::SeqCst);
            let begin = Instant::now();
            while !go.load(Ordering::SeqCst) && begin.elapsed() < HANG {
                green_core::thread::park_timeout(HANG);
            }
        }) {
            Ok(h) => handles.push(h),
            Err(e) => break e,
        }
    };
    let accepted = handles.len();
    println!("accepted {accepted} green threads in {:?}", begin.elapsed());
    assert_eq!(err.kind(), io::ErrorKind::OutOfMemory, "{err}");
    assert!(err.to_string().contains("vm.max_map_count"), "{err}");
    // Everything accepted got a stack and ran (a failed mmap would show up as
    // a green thread that never runs and joins as Err).
    assert!(
        eventually(Flavor::GreenPlain, HANG, || ran.load(Ordering::SeqCst)
            == accepted),
        "only {} of {accepted} accepted green threads ran",
        ran.load(Ordering::SeqCst)
    );
    assert!(
        accepted + 64 >= budget,
        "refused at {accepted}, well before the budget {budget}"
    );

    go.store(true, Ordering::SeqCst);
    for h in handles {
        h.thread().unpark();
        h.join().expect("a green thread within the budget failed");
    }
    let h = green_core::thread::Builder::new()
        .spawn(|| 5)
        .expect("spawn after everything finished");
    assert_eq!(h.join().unwrap(), 5);
    println!("done in {:?}", begin.elapsed());
}
