//! The stack budget, set with `runtime::set_stack_budget`: past it,
//! `Builder::spawn` returns `OutOfMemory` naming `vm.max_map_count`,
//! `thread::spawn` panics with std's message, and once green threads finish,
//! spawning works again. A dedicated binary, so the process (and its budget)
//! is fresh; the single test runs everything in order.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use green_conformance::{eventually, panic_message, Flavor};

const BUDGET: usize = 200;
const HANG: Duration = Duration::from_secs(30);

/// Spawns `n` green threads that each report in and then park until `go`.
fn spawn_parked(
    n: usize,
    started: &Arc<AtomicUsize>,
    go: &Arc<AtomicBool>,
) -> Vec<green_core::thread::JoinHandle<usize>> {
    (0..n)
        .map(|i| {
            let (started, go) = (started.clone(), go.clone());
            green_core::thread::Builder::new()
                .spawn(move || {
                    started.fetch_add(1, Ordering::SeqCst);
                    let begin = Instant::now();
                    while !go.load(Ordering::SeqCst) && begin.elapsed() < HANG {
                        green_core::thread::park_timeout(HANG);
                    }
                    i
                })
                .unwrap_or_else(|e| panic!("spawn {i} of {n} within the budget failed: {e}"))
        })
        .collect()
}

#[test]
fn spawn_past_the_budget_fails_then_recovers() {
    green_core::runtime::set_stack_budget(BUDGET);
    assert_eq!(green_core::runtime::stack_budget(), BUDGET);

    let started = Arc::new(AtomicUsize::new(0));
    let go = Arc::new(AtomicBool::new(false));
    let handles = spawn_parked(BUDGET, &started, &go);
    assert!(
        eventually(Flavor::GreenPlain, HANG, || started.load(Ordering::SeqCst)
            == BUDGET),
        "only {} of {BUDGET} green threads started",
        started.load(Ordering::SeqCst)
    );

    // One more: an error, not a panic, not a hang.
    let err = match green_core::thread::Builder::new().spawn(|| ()) {
        Ok(h) => {
            let _ = h.join();
            panic!(
                "Builder::spawn past a budget of {BUDGET} succeeded (budget now reads {})",
                green_core::runtime::stack_budget()
            );
        }
        Err(e) => e,
    };
    assert_eq!(err.kind(), io::ErrorKind::OutOfMemory);
    let text = err.to_string();
    assert!(text.contains("vm.max_map_count"), "message: {text}");

    // thread::spawn panics with std's message.
    let msg = panic_message(|| green_core::thread::spawn(|| ()));
    assert!(
        msg.contains("failed to spawn thread"),
        "panic message: {msg}"
    );

    // Scope::spawn too.
    let msg = panic_message(|| green_core::thread::scope(|s| drop(s.spawn(|| ()))));
    assert!(
        msg.contains("failed to spawn thread"),
        "scope panic message: {msg}"
    );

    // The budget held: the set value was not replaced behind our back.
    assert_eq!(green_core::runtime::stack_budget(), BUDGET);

    // Release them all; every one finishes normally.
    go.store(true, Ordering::SeqCst);
    for (i, h) in handles.into_iter().enumerate() {
        h.thread().unpark();
        assert_eq!(h.join().unwrap(), i);
    }

    // And the process keeps working: spawning succeeds again, repeatedly
    // and in bulk (up to the budget again).
    for round in 0..3 {
        let h = green_core::thread::Builder::new()
            .spawn(move || round * 2)
            .unwrap_or_else(|e| panic!("spawn after the green threads finished: {e}"));
        assert_eq!(h.join().unwrap(), round * 2);
    }
    let started = Arc::new(AtomicUsize::new(0));
    let go = Arc::new(AtomicBool::new(false));
    let again = spawn_parked(BUDGET, &started, &go);
    go.store(true, Ordering::SeqCst);
    for (i, h) in again.into_iter().enumerate() {
        h.thread().unpark();
        assert_eq!(h.join().unwrap(), i);
    }
}
