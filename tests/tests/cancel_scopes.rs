//! The rules of deadlines and cancels, beyond the single cancellation
//! point: nested scopes, masking with `uncancellable`, the edges while
//! unwinding, stickiness, what is not interrupted, and what is (not)
//! printed.

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use green::rt::{timeout, timeout_at, uncancellable, Cancelled, Elapsed};
use green::sync::mpsc;
use green::thread::Cancel;
use green_conformance::{payload_str, run_test_in_child};
use rstest::rstest;

const LONG: Duration = Duration::from_secs(600);
const SHORT: Duration = Duration::from_millis(20);

/// Where a scenario runs: on a green thread, or on the test's OS thread.
#[derive(Debug, Clone, Copy)]
enum On {
    Green,
    Plain,
}

fn on<R: Send + 'static>(where_: On, f: impl FnOnce() -> R + Send + 'static) -> R {
    match where_ {
        On::Plain => f(),
        On::Green => match green::thread::spawn(f).join() {
            Ok(v) => v,
            Err(payload) => panic::resume_unwind(payload),
        },
    }
}

fn is_cancelled(r: std::thread::Result<impl Sized>) -> bool {
    matches!(r, Err(payload) if payload.is::<Cancelled>())
}

#[rstest]
#[case::green(On::Green)]
#[case::plain(On::Plain)]
fn the_inner_deadline_fires_and_unwinds_only_to_its_own_scope(#[case] where_: On) {
    let r = on(where_, || {
        timeout(LONG, || {
            let inner = timeout(SHORT, || green::thread::sleep(LONG));
            assert_eq!(inner, Err(Elapsed));
            // The outer scope is still in force, and not due.
            green::thread::sleep(Duration::from_millis(1));
            5
        })
    });
    assert_eq!(r, Ok(5));
}

#[rstest]
#[case::green(On::Green)]
#[case::plain(On::Plain)]
fn an_outer_deadline_unwinds_through_the_inner_scope(#[case] where_: On) {
    let r = on(where_, || {
        let after_inner = Arc::new(AtomicBool::new(false));
        let flag = after_inner.clone();
        let r = timeout(SHORT, move || {
            let inner = timeout(LONG, || green::thread::sleep(LONG));
            // Not reached: the outer deadline is not the inner's to catch.
            flag.store(true, Ordering::SeqCst);
            inner
        });
        (r, after_inner.load(Ordering::SeqCst))
    });
    assert_eq!(r, (Err(Elapsed), false));
}

#[rstest]
#[case::green(On::Green)]
#[case::plain(On::Plain)]
fn the_earliest_of_many_nested_deadlines_fires_first(#[case] where_: On) {
    // Scopes opened outermost-latest: the middle one is due first.
    let r = on(where_, || {
        let now = Instant::now();
        timeout_at(now + LONG, || {
            let middle = timeout_at(now + SHORT, || {
                timeout_at(now + LONG, || green::thread::sleep(LONG))
            });
            assert_eq!(middle, Err(Elapsed));
            "outer survives"
        })
    });
    assert_eq!(r, Ok("outer survives"));
}

#[rstest]
#[case::green(On::Green)]
#[case::plain(On::Plain)]
fn an_enclosing_deadline_waits_for_the_mask_to_end(#[case] where_: On) {
    let r = on(where_, || {
        let masked_done = Arc::new(AtomicBool::new(false));
        let flag = masked_done.clone();
        let r = timeout(SHORT, move || {
            // Longer than the deadline, and completes: the mask defers it.
            uncancellable(|| green::thread::sleep(SHORT * 3));
            flag.store(true, Ordering::SeqCst);
            // The first cancellation point after the mask fires.
            green::thread::sleep(LONG);
        });
        (r, masked_done.load(Ordering::SeqCst))
    });
    assert_eq!(r, (Err(Elapsed), true));
}

#[rstest]
#[case::green(On::Green)]
#[case::plain(On::Plain)]
fn a_deadline_opened_inside_a_mask_still_fires(#[case] where_: On) {
    let r = on(where_, || {
        uncancellable(|| timeout(SHORT, || green::thread::sleep(LONG)))
    });
    assert_eq!(r, Err(Elapsed));
}

#[test]
fn a_cancel_inside_uncancellable_takes_effect_after_it() {
    let (inside, is_inside) = std::sync::mpsc::channel();
    let (go, gone) = mpsc::channel::<()>();
    let masked_done = Arc::new(AtomicBool::new(false));
    let flag = masked_done.clone();
    let h = green::thread::spawn(move || {
        uncancellable(|| {
            inside.send(()).unwrap();
            // The cancel arrives while this waits; the wait completes.
            gone.recv().unwrap();
            green::thread::sleep(Duration::from_millis(1));
        });
        flag.store(true, Ordering::SeqCst);
        green::thread::sleep(LONG);
    });
    is_inside.recv().unwrap();
    h.cancel();
    go.send(()).unwrap();
    assert!(is_cancelled(h.join()));
    assert!(masked_done.load(Ordering::SeqCst));
}

#[test]
fn a_cancel_is_sticky() {
    let (caught, was_caught) = std::sync::mpsc::channel();
    let h = green::thread::spawn(move || {
        let r = panic::catch_unwind(|| green::thread::sleep(LONG));
        caught
            .send(matches!(&r, Err(p) if p.is::<Cancelled>()))
            .unwrap();
        // Caught and went on: the next cancellation point unwinds again.
        green::thread::sleep(Duration::from_millis(1));
        unreachable!("a cancelled thread went past a blocking call");
    });
    h.cancel();
    assert!(was_caught.recv().unwrap());
    assert!(is_cancelled(h.join()));
}

#[test]
fn a_cancel_before_the_thread_runs_fires_at_its_first_blocking_call() {
    let reached = Arc::new(AtomicBool::new(false));
    let flag = reached.clone();
    let h = green::thread::spawn(move || {
        flag.store(true, Ordering::SeqCst);
        green::thread::sleep(LONG);
    });
    h.cancel();
    assert!(is_cancelled(h.join()));
    assert!(reached.load(Ordering::SeqCst));
}

#[test]
fn code_that_only_computes_is_not_interrupted() {
    // A cancelled thread that never blocks runs to its end.
    let (go, gone) = std::sync::mpsc::channel::<()>();
    let h = green::thread::spawn(move || {
        // A std wait: no green call, so no cancellation point.
        gone.recv().unwrap();
        (0..1000u64).sum::<u64>()
    });
    h.cancel();
    go.send(()).unwrap();
    assert_eq!(h.join().unwrap(), 499_500);
    // A deadline over code that never calls green returns Ok however late.
    let r = timeout(Duration::from_millis(1), || {
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(5) {
            std::hint::spin_loop();
        }
        3
    });
    assert_eq!(r, Ok(3));
}

#[test]
fn cancelling_a_finished_thread_does_nothing() {
    let h = green::thread::spawn(|| 7);
    while !h.is_finished() {
        green::thread::yield_now();
    }
    h.cancel();
    h.thread().cancel();
    assert_eq!(h.join().unwrap(), 7);
}

#[test]
fn scoped_threads_and_thread_handles_cancel_too() {
    green::thread::scope(|s| {
        let h = s.spawn(|| green::thread::sleep(LONG));
        h.cancel();
        assert!(is_cancelled(h.join()));
        let h = s.spawn(green::thread::park);
        h.thread().clone().cancel();
        assert!(is_cancelled(h.join()));
    });
}

#[test]
fn a_plain_os_thread_can_be_cancelled() {
    let (me, is_me) = std::sync::mpsc::channel();
    let (go, gone) = std::sync::mpsc::channel::<()>();
    let t = std::thread::spawn(move || {
        me.send(green::thread::current()).unwrap();
        gone.recv().unwrap();
        // Its next green blocking call unwinds.
        green::thread::sleep(LONG);
    });
    let green_handle = is_me.recv().unwrap();
    green_handle.cancel();
    go.send(()).unwrap();
    assert!(is_cancelled(t.join()));
}

#[test]
fn timeout_catches_only_its_own_deadline() {
    // A panic goes through.
    let r = panic::catch_unwind(|| timeout(LONG, || panic!("mine")));
    assert_eq!(payload_str(&*r.unwrap_err()), Some("mine"));
    // A cancel goes through.
    let h = green::thread::spawn(|| timeout(LONG, || green::thread::sleep(LONG)));
    h.cancel();
    assert!(is_cancelled(h.join()));
    // Another scope's deadline goes through (see the nesting tests), and a
    // deadline caught and dropped by `catch_unwind` inside the scope is
    // not "lost": the scope stays due and fires again.
    let r = timeout(SHORT, || {
        let _ = panic::catch_unwind(AssertUnwindSafe(|| green::thread::sleep(LONG)));
        green::thread::sleep(LONG);
    });
    assert_eq!(r, Err(Elapsed));
}

#[test]
fn timeout_returns_the_value_and_elapsed_is_an_io_timeout() {
    assert_eq!(timeout(LONG, || 7), Ok(7));
    assert_eq!(timeout(Duration::MAX, || 8), Ok(8));
    assert_eq!(timeout_at(Instant::now() + LONG, || 9), Ok(9));
    // A deadline already passed fires at the first blocking call.
    assert_eq!(
        timeout(Duration::ZERO, || green::thread::sleep(LONG)),
        Err(Elapsed)
    );
    let e: std::io::Error = Elapsed.into();
    assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
    assert_eq!(Elapsed.to_string(), "deadline has elapsed");
    assert_eq!(Cancelled.to_string(), "green thread cancelled");
}

fn child(name: &str) -> bool {
    std::env::var("GREEN_CANCEL_CHILD").as_deref() == Ok(name)
}

/// Child: a cancelled green thread, a cancelled green thread that held a
/// lock, and an expired deadline, on green and plain threads.
#[test]
fn quiet_child() {
    if !child("quiet_child") {
        return;
    }
    let m = Arc::new(green::sync::Mutex::new(0));
    let m2 = m.clone();
    let h = green::thread::spawn(move || {
        let _g = m2.lock().unwrap();
        green::thread::sleep(LONG);
    });
    h.cancel();
    assert!(is_cancelled(h.join()));
    assert!(m.is_poisoned());
    assert_eq!(timeout(SHORT, || green::thread::sleep(LONG)), Err(Elapsed));
    let h = green::thread::spawn(|| timeout(SHORT, || green::thread::sleep(LONG)));
    assert_eq!(h.join().unwrap(), Err(Elapsed));
    eprintln!("quiet child done");
}

#[test]
fn cancels_and_deadlines_print_nothing() {
    let run = run_test_in_child(
        "quiet_child",
        &[("GREEN_CANCEL_CHILD", "quiet_child")],
        Duration::from_secs(60),
    );
    assert!(run.status.is_some_and(|s| s.success()), "{run:?}");
    assert!(run.stderr.contains("quiet child done"), "{run:?}");
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
}

#[test]
fn waiting_under_a_deadline_keeps_the_hub_running() {
    // A ticker on this OS thread's own hub runs while the thread waits in a
    // `timeout` scope (and while the deadline unwinds it).
    let ticks = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let (t, s) = (ticks.clone(), stop.clone());
    let ticker = green::rt::runtime::spawn_local(move || {
        while !s.load(Ordering::SeqCst) {
            t.fetch_add(1, Ordering::SeqCst);
            green::thread::sleep(Duration::from_millis(1));
        }
    });
    assert_eq!(
        timeout(SHORT * 2, || green::thread::sleep(LONG)),
        Err(Elapsed)
    );
    assert!(ticks.load(Ordering::SeqCst) > 0);
    stop.store(true, Ordering::SeqCst);
    ticker.join().unwrap();
}

#[test]
fn a_plain_os_thread_parked_in_green_is_woken_by_a_cancel() {
    let (me, is_me) = std::sync::mpsc::channel();
    let t = std::thread::spawn(move || {
        me.send(green::thread::current()).unwrap();
        // Runs this OS thread's hub until the cancel wakes it.
        green::thread::sleep(LONG);
    });
    let green_handle = is_me.recv().unwrap();
    // Most likely parked by now; if not, the sticky cancel fires as it parks.
    std::thread::sleep(SHORT);
    green_handle.cancel();
    assert!(is_cancelled(t.join()));
}
