//! Hubs and placement (green only): spawns spread over every worker hub,
//! green threads never migrate, `spawn_local` keeps a green thread on the
//! caller's hub (running on a plain thread only while it blocks), the
//! thread-local limit, and the worker settings.

use std::cell::Cell;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use green_conformance::Flavor;

/// The OS thread and hub a green thread runs on right now.
fn whereabouts() -> (std::thread::ThreadId, usize) {
    (std::thread::current().id(), green_core::runtime::hub_id())
}

#[test]
fn spawns_spread_over_every_worker_hub() {
    let workers = green_core::runtime::workers();
    let hubs: HashSet<usize> = green_core::thread::spawn(move || {
        let handles: Vec<_> = (0..(workers * 200))
            .map(|_| green_core::thread::spawn(green_core::runtime::hub_id))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
    .join()
    .unwrap();
    assert_eq!(
        hubs.len(),
        workers,
        "green threads landed on {hubs:?}, expected {workers} worker hubs"
    );
}

#[test]
fn worker_count_defaults_to_available_parallelism() {
    let expected = match std::env::var("GREEN_WORKERS") {
        Ok(v) => v.trim().parse().unwrap(),
        Err(_) => std::thread::available_parallelism().map_or(1, usize::from),
    };
    assert_eq!(green_core::runtime::workers(), expected);
    // Once started, the count is fixed: setting another value is refused,
    // setting the same one is fine.
    green_core::thread::spawn(|| ()).join().unwrap();
    let n = green_core::runtime::workers();
    assert!(green_core::runtime::set_workers(n).is_ok());
    let err = green_core::runtime::set_workers(n + 1).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert_eq!(green_core::runtime::workers(), n);
}

/// A green thread stays on its OS thread and hub across every kind of
/// blocking call.
#[test]
fn green_threads_never_migrate() {
    let handles: Vec<_> = (0..40u32)
        .map(|i| {
            green_core::thread::spawn(move || {
                let home = whereabouts();
                let mut seen = vec![home];
                for round in 0..5u32 {
                    match (i + round) % 5 {
                        0 => green_core::thread::sleep(Duration::from_millis(1)),
                        1 => green_core::thread::yield_now(),
                        2 => green_core::thread::park_timeout(Duration::from_millis(1)),
                        3 => green_core::unblock(|| std::thread::sleep(Duration::from_millis(1))),
                        _ => drop(green_core::block_on(async { 1 })),
                    }
                    seen.push(whereabouts());
                }
                (home, seen)
            })
        })
        .collect();
    for h in handles {
        let (home, seen) = h.join().unwrap();
        assert!(
            seen.iter().all(|w| *w == home),
            "a green thread moved: {seen:?}"
        );
    }
}

#[test]
fn spawn_local_from_a_plain_thread_runs_only_while_it_blocks() {
    let ran = Arc::new(AtomicBool::new(false));
    let r = ran.clone();
    let me = whereabouts();
    let h = green_core::runtime::spawn_local(move || {
        r.store(true, Ordering::SeqCst);
        whereabouts()
    });
    // Not a worker: it waits for this thread to block in a green call.
    std::thread::sleep(Duration::from_millis(10));
    assert!(
        !ran.load(Ordering::SeqCst),
        "a spawn_local green thread ran while its OS thread was busy elsewhere"
    );
    // join blocks in green code: the hub runs it, on this very OS thread.
    assert_eq!(h.join().unwrap(), me);
    assert!(ran.load(Ordering::SeqCst));
}

#[test]
fn spawn_local_from_a_green_thread_shares_its_os_thread() {
    let (parent, children) = Flavor::GreenInGreen.run(|| {
        let handles: Vec<_> = (0..20)
            .map(|_| green_core::runtime::spawn_local(whereabouts))
            .collect();
        let children: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        (whereabouts(), children)
    });
    assert!(children.iter().all(|c| *c == parent));
}

#[test]
fn distinct_os_threads_have_distinct_hubs() {
    let here = green_core::runtime::hub_id();
    assert_eq!(here, green_core::runtime::hub_id(), "hub_id is stable");
    let others: HashSet<usize> = (0..4)
        .map(|_| std::thread::spawn(green_core::runtime::hub_id))
        .map(|h| h.join().unwrap())
        .collect();
    assert_eq!(others.len(), 4);
    assert!(!others.contains(&here));
}

thread_local! {
    static SHARED_BY_THE_HUB: Cell<u32> = const { Cell::new(0) };
}

/// Documented limit: `thread_local!` is per OS thread, so the green threads
/// of one hub share it.
#[test]
fn thread_locals_are_shared_by_the_green_threads_of_a_hub() {
    let (seen_by_sibling, token) = Flavor::GreenInGreen.run(|| {
        let token = 0xC0FFEE;
        SHARED_BY_THE_HUB.with(|c| c.set(token));
        let sibling = green_core::runtime::spawn_local(|| SHARED_BY_THE_HUB.with(Cell::get));
        (sibling.join().unwrap(), token)
    });
    assert_eq!(seen_by_sibling, token);
    // The re-exported macro and types are std's.
    green_core::thread::thread_local!(static OWN: u8 = const { 1 });
    let key: &'static green_core::thread::LocalKey<u8> = &OWN;
    let _: &'static std::thread::LocalKey<u8> = key;
    assert_eq!(OWN.with(|v| *v), 1);
    let _: Result<u8, green_core::thread::AccessError> = OWN.try_with(|v| *v);
}

#[test]
fn non_blocking_items_are_std_reexports() {
    assert_eq!(
        green_core::thread::available_parallelism().unwrap(),
        std::thread::available_parallelism().unwrap()
    );
    assert!(!green_core::thread::panicking());
    let r: green_core::thread::Result<u8> = Ok(1);
    let _: std::thread::Result<u8> = r;
}

/// A plain thread runs the green threads of its own hub while it blocks in
/// any green call, and several plain threads each do so independently.
#[test]
fn several_plain_threads_each_run_their_own_hub() {
    let handles: Vec<_> = (0..4u32)
        .map(|i| {
            std::thread::spawn(move || {
                let me = whereabouts();
                let locals: Vec<_> = (0..10u32)
                    .map(|j| {
                        green_core::runtime::spawn_local(move || {
                            green_core::thread::sleep(Duration::from_millis(1));
                            (whereabouts(), i * 100 + j)
                        })
                    })
                    .collect();
                let mut sum = 0;
                for h in locals {
                    let (w, v) = h.join().unwrap();
                    assert_eq!(w, me);
                    sum += v;
                }
                sum
            })
        })
        .collect();
    for (i, h) in (0..4u32).zip(handles) {
        assert_eq!(h.join().unwrap(), (0..10).map(|j| i * 100 + j).sum::<u32>());
    }
}

/// Counts its drops.
struct DropCount(Arc<std::sync::atomic::AtomicUsize>);

impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A plain thread that exits without ever blocking leaves its local green
/// threads unrun: each joiner gets an error, and each closure's captures,
/// small or too big to sit beside the join packet, are dropped once.
#[test]
fn local_threads_left_unrun_drop_their_captures_and_tell_their_joiners() {
    let drops = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (small, big) = {
        let drops = drops.clone();
        std::thread::spawn(move || {
            let token = DropCount(drops.clone());
            let small = green_core::runtime::spawn_local(move || {
                let _token = &token;
                1u64
            });
            let token = DropCount(drops);
            let bulk = [7u64; 64];
            let big = green_core::runtime::spawn_local(move || {
                let _token = &token;
                bulk.iter().sum::<u64>()
            });
            (small, big)
        })
        .join()
        .unwrap()
    };
    for h in [small, big] {
        let payload = h.join().expect_err("the thread never ran");
        let msg = green_conformance::payload_str(payload.as_ref()).unwrap_or_default();
        assert!(msg.contains("never ran"), "unexpected payload: {msg:?}");
    }
    assert_eq!(drops.load(Ordering::SeqCst), 2);
}
