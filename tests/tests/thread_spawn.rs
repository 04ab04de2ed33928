//! `thread::spawn`, `JoinHandle` (`join`, `thread`, `is_finished`): the same
//! scenarios on std, on green from a plain thread and on green inside a green
//! thread; plus green-only checks (10,000 green threads from the test's
//! thread, panics that leave neighbours alone, mixed green/OS use).

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use green_conformance::{assert_send_sync, eventually, payload_str, Flavor, Rng};
use rstest::rstest;

#[rstest]
#[case::std(Flavor::Std)]
#[case::green_plain(Flavor::GreenPlain)]
#[case::green_in_green(Flavor::GreenInGreen)]
fn join_returns_the_value(#[case] flavor: Flavor) {
    flavor.run(move || {
        let h = flavor.spawn(|| 6 * 7);
        assert_eq!(h.join().unwrap(), 42);
        let owned = flavor.spawn(|| String::from("owned result"));
        assert_eq!(owned.join().unwrap(), "owned result");
        let unit = flavor.spawn(|| ());
        unit.join().unwrap();
    });
}

#[rstest]
#[case::std(Flavor::Std)]
#[case::green_plain(Flavor::GreenPlain)]
#[case::green_in_green(Flavor::GreenInGreen)]
fn join_moves_captured_values_in_and_results_out(#[case] flavor: Flavor) {
    flavor.run(move || {
        let data: Vec<u64> = (1..=100).collect();
        let h = flavor.spawn(move || data.iter().sum::<u64>());
        assert_eq!(h.join().unwrap(), 5050);
    });
}

/// Counts its drops; `bulk` sets how much the closure that moves it
/// captures.
struct Captured<B> {
    bulk: B,
    drops: Arc<AtomicUsize>,
}

impl<B> Drop for Captured<B> {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

#[repr(align(64))]
#[derive(Clone, Copy)]
struct OverAligned(u64);

/// Moves `bulk` into a thread, which reads it through `read`; returns what
/// `join` gave and how many times the capture had been dropped by then.
fn join_a_capture<B: Send + 'static>(
    flavor: Flavor,
    bulk: B,
    read: fn(&B) -> u64,
) -> (std::thread::Result<u64>, usize) {
    let drops = Arc::new(AtomicUsize::new(0));
    let captured = Captured {
        bulk,
        drops: drops.clone(),
    };
    let result = flavor.spawn(move || read(&captured.bulk)).join();
    (result, drops.load(Ordering::SeqCst))
}

/// The capture arrives intact and is dropped exactly once by the time
/// `join` returns.
fn moves_and_drops_once<B: Send + 'static>(flavor: Flavor, bulk: B, sum: fn(&B) -> u64) {
    let expected = sum(&bulk);
    let (result, drops) = join_a_capture(flavor, bulk, sum);
    assert_eq!(result.unwrap(), expected);
    assert_eq!(drops, 1);
}

#[rstest]
#[case::std(Flavor::Std)]
#[case::green_plain(Flavor::GreenPlain)]
#[case::green_in_green(Flavor::GreenInGreen)]
fn captures_of_any_size_and_alignment_arrive_and_drop_once(#[case] flavor: Flavor) {
    flavor.run(move || {
        // Around green's limit for a closure kept beside its join packet
        // (48 bytes, with what spawning adds): these fit, then not.
        moves_and_drops_once(flavor, 7u8, |b| u64::from(*b));
        moves_and_drops_once(flavor, [4u64; 2], |b| b.iter().sum());
        moves_and_drops_once(flavor, [6u64; 3], |b| b.iter().sum());
        moves_and_drops_once(flavor, [3u64; 4], |b| b.iter().sum());
        moves_and_drops_once(flavor, [5u64; 6], |b| b.iter().sum());
        moves_and_drops_once(flavor, [1u64; 512], |b| b.iter().sum());
        moves_and_drops_once(flavor, OverAligned(9), |b| {
            assert_eq!(std::ptr::addr_of!(*b) as usize % 64, 0, "misaligned");
            b.0
        });
        // A panicking thread drops its captures while unwinding.
        let (result, drops) = join_a_capture(flavor, [2u64; 5], |b| {
            if b[0] == 2 {
                panic!("after reading the capture");
            }
            0
        });
        assert!(result.is_err());
        assert_eq!(drops, 1);
    });
}

#[rstest]
#[case::std(Flavor::Std)]
#[case::green_plain(Flavor::GreenPlain)]
#[case::green_in_green(Flavor::GreenInGreen)]
fn join_returns_the_str_payload_of_a_panic(#[case] flavor: Flavor) {
    flavor.run(move || {
        let h = flavor.spawn(|| -> u32 { panic!("static message") });
        let payload = h.join().expect_err("the thread panicked");
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"static message"));
    });
}

#[rstest]
#[case::std(Flavor::Std)]
#[case::green_plain(Flavor::GreenPlain)]
#[case::green_in_green(Flavor::GreenInGreen)]
fn join_returns_the_string_payload_of_a_formatted_panic(#[case] flavor: Flavor) {
    flavor.run(move || {
        let n = 17;
        let h = flavor.spawn(move || -> u32 { panic!("formatted {n}") });
        let payload = h.join().expect_err("the thread panicked");
        assert_eq!(
            payload.downcast_ref::<String>().map(String::as_str),
            Some("formatted 17")
        );
    });
}

#[rstest]
#[case::std(Flavor::Std)]
#[case::green_plain(Flavor::GreenPlain)]
#[case::green_in_green(Flavor::GreenInGreen)]
fn join_returns_a_custom_payload_of_panic_any(#[case] flavor: Flavor) {
    #[derive(Debug, PartialEq)]
    struct Custom(u32);
    flavor.run(move || {
        let h = flavor.spawn(|| std::panic::panic_any(Custom(9)));
        let payload = h.join().expect_err("the thread panicked");
        assert_eq!(payload.downcast_ref::<Custom>(), Some(&Custom(9)));
    });
}

#[rstest]
#[case::std(Flavor::Std)]
#[case::green_plain(Flavor::GreenPlain)]
#[case::green_in_green(Flavor::GreenInGreen)]
fn a_panic_does_not_disturb_neighbours(#[case] flavor: Flavor) {
    flavor.run(move || {
        let finished = Arc::new(AtomicUsize::new(0));
        let mut handles = Vec::new();
        for i in 0..20u32 {
            let finished = finished.clone();
            handles.push(flavor.spawn(move || {
                // Give the panicking ones a chance to run in between.
                flavor.sleep(Duration::from_millis(u64::from(i % 3)));
                if i % 4 == 1 {
                    panic!("neighbour {i} panics");
                }
                finished.fetch_add(1, Ordering::SeqCst);
                i
            }));
        }
        for (i, h) in (0..20u32).zip(handles) {
            match h.join() {
                Ok(v) => {
                    assert_ne!(i % 4, 1, "thread {i} should have panicked");
                    assert_eq!(v, i);
                }
                Err(p) => {
                    assert_eq!(i % 4, 1, "thread {i} should not have panicked");
                    assert_eq!(
                        payload_str(&*p),
                        Some(format!("neighbour {i} panics").as_str())
                    );
                }
            }
        }
        assert_eq!(finished.load(Ordering::SeqCst), 15);
        // And the runtime still works afterwards.
        assert_eq!(flavor.spawn(|| 1).join().unwrap(), 1);
    });
}

#[rstest]
#[case::std(Flavor::Std)]
#[case::green_plain(Flavor::GreenPlain)]
#[case::green_in_green(Flavor::GreenInGreen)]
fn is_finished_becomes_true(#[case] flavor: Flavor) {
    flavor.run(move || {
        let (tx, rx) = mpsc::channel::<()>();
        let h = flavor.spawn(move || {
            // Wait (politely, with this flavor's sleep) for the go signal.
            while rx.try_recv().is_err() {
                flavor.sleep(Duration::from_millis(1));
            }
            5
        });
        assert!(!h.is_finished(), "the thread waits for the go signal");
        tx.send(()).unwrap();
        assert!(
            eventually(flavor, Duration::from_secs(10), || h.is_finished()),
            "is_finished stayed false"
        );
        assert_eq!(h.join().unwrap(), 5);
    });
}

#[rstest]
#[case::std(Flavor::Std)]
#[case::green_plain(Flavor::GreenPlain)]
#[case::green_in_green(Flavor::GreenInGreen)]
fn is_finished_is_true_after_a_panic_too(#[case] flavor: Flavor) {
    flavor.run(move || {
        let h = flavor.spawn(|| panic!("finished by panicking"));
        assert!(eventually(flavor, Duration::from_secs(10), || h.is_finished()));
        assert!(h.join().is_err());
    });
}

#[rstest]
#[case::std(Flavor::Std)]
#[case::green_plain(Flavor::GreenPlain)]
#[case::green_in_green(Flavor::GreenInGreen)]
fn a_detached_thread_keeps_running(#[case] flavor: Flavor) {
    flavor.run(move || {
        let done = Arc::new(AtomicUsize::new(0));
        let d = done.clone();
        drop(flavor.spawn(move || {
            flavor.sleep(Duration::from_millis(5));
            d.store(1, Ordering::SeqCst);
        }));
        assert!(
            eventually(flavor, Duration::from_secs(10), || done
                .load(Ordering::SeqCst)
                == 1),
            "a thread whose handle was dropped never finished"
        );
    });
}

#[rstest]
#[case::std(Flavor::Std)]
#[case::green_plain(Flavor::GreenPlain)]
#[case::green_in_green(Flavor::GreenInGreen)]
fn threads_spawn_threads(#[case] flavor: Flavor) {
    flavor.run(move || {
        let outer = flavor.spawn(move || {
            let inner: Vec<_> = (0..4u32).map(|i| flavor.spawn(move || i * 10)).collect();
            inner.into_iter().map(|h| h.join().unwrap()).sum::<u32>()
        });
        assert_eq!(outer.join().unwrap(), 60);
    });
}

#[rstest]
#[case::std(Flavor::Std)]
#[case::green_plain(Flavor::GreenPlain)]
#[case::green_in_green(Flavor::GreenInGreen)]
fn join_handle_thread_is_the_spawned_thread(#[case] flavor: Flavor) {
    flavor.run(move || {
        let h = flavor.spawn(move || flavor.current().id());
        let seen_from_outside = h.thread().id();
        let seen_from_inside = h.join().unwrap();
        assert_eq!(seen_from_outside, seen_from_inside);
        assert_ne!(seen_from_outside, flavor.current().id());
    });
}

#[test]
fn handles_are_send_and_sync() {
    assert_send_sync::<green_core::thread::JoinHandle<u32>>();
    assert_send_sync::<green_core::thread::JoinHandle<String>>();
    assert_send_sync::<green_core::thread::Thread>();
    assert_send_sync::<green_core::thread::ThreadId>();
    assert_send_sync::<green_core::thread::Builder>();
    assert_send_sync::<green_core::thread::Scope<'static, 'static>>();
    assert_send_sync::<green_core::thread::ScopedJoinHandle<'static, u32>>();
    // The same holds for std, which is what makes these drop-in.
    assert_send_sync::<std::thread::JoinHandle<u32>>();
    assert_send_sync::<std::thread::Thread>();
    assert_send_sync::<std::thread::Scope<'static, 'static>>();
}

#[test]
fn thread_is_unwind_safe_like_std() {
    fn assert_unwind_safe<T: std::panic::UnwindSafe + std::panic::RefUnwindSafe>() {}
    assert_unwind_safe::<std::thread::Thread>();
    assert_unwind_safe::<green_core::thread::Thread>();
}

#[test]
fn join_handle_debug_names_the_type() {
    let h = green_core::thread::spawn(|| 1);
    assert!(format!("{h:?}").starts_with("JoinHandle"));
    h.join().unwrap();
}

/// 10,000 green threads spawned from the test's own (plain) thread, each
/// doing a little seeded work (yield, sleep, or nothing), all joined and
/// every result checked.
#[test]
fn ten_thousand_green_threads_from_the_test_thread() {
    const N: u64 = 10_000;
    let mut rng = Rng::from_env("ten_thousand_green_threads_from_the_test_thread");
    let start = Instant::now();
    let handles: Vec<_> = (0..N)
        .map(|i| {
            let work = rng.below(4);
            green_core::thread::spawn(move || {
                match work {
                    0 => green_core::thread::yield_now(),
                    1 => green_core::thread::sleep(Duration::from_millis(1)),
                    _ => {}
                }
                i * 3 + 1
            })
        })
        .collect();
    let mut ids = HashSet::new();
    for (i, h) in (0..N).zip(handles) {
        assert!(ids.insert(h.thread().id()), "duplicate ThreadId");
        assert_eq!(h.join().unwrap(), i * 3 + 1);
    }
    println!(
        "10,000 green threads spawned and joined in {:?}",
        start.elapsed()
    );
}

/// The same, spawned from inside a green thread (placed on the workers).
#[test]
fn ten_thousand_green_threads_from_a_green_thread() {
    const N: u64 = 10_000;
    let total = green_core::thread::spawn(|| {
        let handles: Vec<_> = (0..N)
            .map(|i| green_core::thread::spawn(move || i))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
    })
    .join()
    .unwrap();
    assert_eq!(total, N * (N - 1) / 2);
}

/// Green threads and OS threads mixed: OS threads join green threads, green
/// threads join OS threads (std's blocking join inside a green thread is
/// fine when the OS thread does not need this hub).
#[test]
fn os_threads_join_green_threads_and_back() {
    let greens: Vec<_> = (0..8u32)
        .map(|i| {
            green_core::thread::spawn(move || {
                green_core::thread::sleep(Duration::from_millis(1));
                i
            })
        })
        .collect();
    let oses: Vec<_> = greens
        .into_iter()
        .map(|g| std::thread::spawn(move || g.join().unwrap() + 100))
        .collect();
    let sum: u32 = oses.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(sum, (0..8).sum::<u32>() + 800);

    // A green thread joins a green thread that was spawned by an OS thread.
    let (tx, rx) = mpsc::channel();
    let os = std::thread::spawn(move || {
        tx.send(green_core::thread::spawn(|| 7u32)).unwrap();
    });
    let handle = rx.recv().unwrap();
    os.join().unwrap();
    let joined_in_green = green_core::thread::spawn(move || handle.join().unwrap())
        .join()
        .unwrap();
    assert_eq!(joined_in_green, 7);
}
