//! Panics in green threads with `RUST_BACKTRACE=1` set (as CI does): the
//! panic hook's backtrace runs on the green stack and must neither overflow
//! it nor hang; `join` returns `Err(payload)`; neighbours are unharmed; the
//! message printed names the green thread.
//!
//! Every test calls [`backtraces_on`] first, so this whole binary runs with
//! backtraces enabled whatever the environment says.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Once};
use std::time::Duration;

use green_conformance::{eventually, payload_str, run_test_in_child, Flavor};
use rstest::rstest;

/// Sets `RUST_BACKTRACE=1` once, before any test of this binary spawns or
/// panics (each test calls this first).
fn backtraces_on() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| std::env::set_var("RUST_BACKTRACE", "1"));
}

/// A hang in a panicking thread fails the test instead of blocking it.
const HANG: Duration = Duration::from_secs(30);

fn nested_panic(depth: u32, msg: &str) -> u32 {
    if depth == 0 {
        panic!("{msg}");
    }
    std::hint::black_box(nested_panic(depth - 1, msg) + 1)
}

#[rstest]
#[case::std(Flavor::Std)]
#[case::green_plain(Flavor::GreenPlain)]
#[case::green_in_green(Flavor::GreenInGreen)]
fn panics_with_backtraces_on_are_joined_as_err(#[case] flavor: Flavor) {
    backtraces_on();
    flavor.run(move || {
        let h = flavor
            .builder()
            .name("bt-panicker".into())
            .spawn(|| nested_panic(20, "deep panic with a backtrace"))
            .unwrap();
        assert!(
            eventually(flavor, HANG, || h.is_finished()),
            "a panicking thread never finished (hung in the panic hook?)"
        );
        let err = h.join().expect_err("the thread panicked");
        assert_eq!(payload_str(&*err), Some("deep panic with a backtrace"));
    });
}

#[rstest]
#[case::std(Flavor::Std)]
#[case::green_plain(Flavor::GreenPlain)]
#[case::green_in_green(Flavor::GreenInGreen)]
fn many_concurrent_panics_leave_neighbours_alone(#[case] flavor: Flavor) {
    backtraces_on();
    flavor.run(move || {
        let survivors = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..60u32)
            .map(|i| {
                let survivors = survivors.clone();
                flavor.spawn(move || {
                    flavor.yield_now();
                    if i % 3 == 0 {
                        std::panic::panic_any(i);
                    }
                    flavor.sleep(Duration::from_millis(1));
                    survivors.fetch_add(1, Ordering::SeqCst);
                    i
                })
            })
            .collect();
        for (i, h) in (0..60u32).zip(handles) {
            match h.join() {
                Ok(v) => assert_eq!(v, i),
                Err(p) => {
                    assert_eq!(i % 3, 0, "thread {i} should not have panicked");
                    assert_eq!(p.downcast_ref::<u32>(), Some(&i));
                }
            }
        }
        assert_eq!(survivors.load(Ordering::SeqCst), 40);
    });
}

#[rstest]
#[case::std(Flavor::Std)]
#[case::green_plain(Flavor::GreenPlain)]
#[case::green_in_green(Flavor::GreenInGreen)]
fn panicking_is_true_while_unwinding(#[case] flavor: Flavor) {
    backtraces_on();
    struct Probe(Arc<AtomicBool>, Flavor);
    impl Drop for Probe {
        fn drop(&mut self) {
            self.0.store(self.1.panicking(), Ordering::SeqCst);
        }
    }
    flavor.run(move || {
        let seen = Arc::new(AtomicBool::new(false));
        let s = seen.clone();
        let h = flavor.spawn(move || {
            assert!(!flavor.panicking());
            let _probe = Probe(s, flavor);
            panic!("unwinding past the probe");
        });
        assert!(h.join().is_err());
        assert!(seen.load(Ordering::SeqCst), "panicking() was false in Drop");
        assert!(!flavor.panicking());
    });
}

#[test]
fn a_panic_with_backtrace_on_the_smallest_stack_does_not_hang() {
    backtraces_on();
    let min = green_core::runtime::MIN_STACK_SIZE;
    let h = green_core::thread::Builder::new()
        .name("small-stack-panicker".into())
        .stack_size(min)
        .spawn(move || -> u32 { panic!("panic on a {min}-byte stack") })
        .unwrap();
    assert!(eventually(Flavor::GreenPlain, HANG, || h.is_finished()));
    let err = h.join().expect_err("the thread panicked");
    assert_eq!(
        payload_str(&*err).map(str::to_owned),
        Some(format!("panic on a {min}-byte stack"))
    );
}

#[test]
fn panics_on_one_hub_leave_its_other_green_threads_running() {
    backtraces_on();
    let (panicked, sibling) = Flavor::GreenInGreen.run(|| {
        let sibling = green_core::runtime::spawn_local(|| {
            let mut sum = 0u32;
            for i in 0..10 {
                green_core::thread::yield_now();
                sum += i;
            }
            sum
        });
        let panickers: Vec<_> = (0..10)
            .map(|i| green_core::runtime::spawn_local(move || -> u32 { panic!("local {i}") }))
            .collect();
        let panicked = panickers
            .into_iter()
            .map(|h| h.join())
            .filter(Result::is_err)
            .count();
        (panicked, sibling.join().unwrap())
    });
    assert_eq!(panicked, 10);
    assert_eq!(sibling, 45);
}

/// Environment variable that turns the test below into the child process.
const MESSAGE_CHILD: &str = "GREEN_TEST_PANIC_MESSAGE_CHILD";

/// The panic message printed for a green thread names it, like std's
/// `thread '<name>' panicked at`. Checked on a child process's stderr
/// (libtest does not capture what green workers print).
#[test]
fn the_panic_message_names_the_green_thread() {
    backtraces_on();
    if std::env::var_os(MESSAGE_CHILD).is_some() {
        let h = green_core::thread::Builder::new()
            .name("named-green-panicker".into())
            .spawn(|| panic!("message from a named green thread"))
            .unwrap();
        assert!(h.join().is_err());
        return;
    }
    let run = run_test_in_child(
        "the_panic_message_names_the_green_thread",
        &[(MESSAGE_CHILD, "1"), ("RUST_BACKTRACE", "1")],
        Duration::from_secs(30),
    );
    let stderr = &run.stderr;
    let status = run
        .status
        .unwrap_or_else(|| panic!("the child hung (killed after 30 s):\n{stderr}"));
    assert!(status.success(), "child failed:\n{stderr}");
    assert!(
        stderr.contains("thread 'named-green-panicker'"),
        "the message must name the green thread:\n{stderr}"
    );
    assert!(
        stderr.contains("message from a named green thread"),
        "{stderr}"
    );
    assert!(
        stderr.contains("panicked at") && stderr.contains("thread_panic.rs"),
        "the message must give the location:\n{stderr}"
    );
}
