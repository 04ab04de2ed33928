//! Blocking calls made while a thread unwinds: they are not cancellation
//! points, so destructors that wait (flush a socket, take a lock, receive)
//! work during a cancel's or a deadline's unwinding, and a cancel that
//! arrives while a panic unwinds does not unwind a second time (which
//! would abort the process).
//!
//! These tests run one at a time (`serial`), with no other green threads
//! about: while a green thread is suspended in the middle of unwinding,
//! `std::thread::panicking()` is true for every green thread of its hub
//! (std counts panics per OS thread), which switches off their
//! cancellation points too. The last two tests, ignored, show that core
//! limitation; see their docs.

use std::panic;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex as StdMutex, MutexGuard as StdMutexGuard};
use std::time::Duration;

use green::rt::{timeout, Cancelled, Elapsed};
use green::sync::mpsc;
use green::thread::Cancel;
use green_conformance::payload_str;
use rstest::rstest;

const LONG: Duration = Duration::from_secs(600);
const SHORT: Duration = Duration::from_millis(20);

/// One test of this file at a time.
fn serial() -> StdMutexGuard<'static, ()> {
    static SERIAL: StdMutex<()> = StdMutex::new(());
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

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

/// Runs a green blocking call in its destructor: a `sleep` and a channel
/// `recv`, then records that it got through them.
struct BlocksInDrop {
    /// A message waiting on this channel, received in `drop`.
    rx: mpsc::Receiver<u32>,
    done: Arc<AtomicBool>,
    /// Told when the destructor starts.
    started: Option<std::sync::mpsc::Sender<()>>,
}

impl Drop for BlocksInDrop {
    fn drop(&mut self) {
        if let Some(started) = self.started.take() {
            started.send(()).unwrap();
        }
        // Not cancellation points while unwinding: these wait, and return.
        green::thread::sleep(SHORT);
        assert_eq!(self.rx.recv(), Ok(1));
        self.done.store(true, Ordering::SeqCst);
    }
}

#[test]
fn a_destructor_blocks_normally_during_cancel_unwinding() {
    let _serial = serial();
    let done = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel();
    let (started, has_started) = std::sync::mpsc::channel();
    let d = BlocksInDrop {
        rx,
        done: done.clone(),
        started: Some(started),
    };
    let h = green::thread::spawn(move || {
        let _d = d;
        green::thread::sleep(LONG);
    });
    h.cancel();
    has_started.recv().unwrap();
    // A second cancel while it unwinds changes nothing.
    h.cancel();
    tx.send(1).unwrap();
    assert!(is_cancelled(h.join()));
    assert!(done.load(Ordering::SeqCst));
}

#[rstest]
#[case::green(On::Green)]
#[case::plain(On::Plain)]
fn a_destructor_blocks_normally_during_deadline_unwinding(#[case] where_: On) {
    let _serial = serial();
    let r = on(where_, || {
        let done = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::channel();
        tx.send(1).unwrap();
        let d = BlocksInDrop {
            rx,
            done: done.clone(),
            started: None,
        };
        let r = timeout(SHORT, move || {
            let _d = d;
            green::thread::sleep(LONG);
        });
        (r, done.load(Ordering::SeqCst))
    });
    assert_eq!(r, (Err(Elapsed), true));
}

#[test]
fn a_cancel_during_panic_unwinding_does_not_unwind_again() {
    let _serial = serial();
    let done = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel();
    let (started, has_started) = std::sync::mpsc::channel();
    let d = BlocksInDrop {
        rx,
        done: done.clone(),
        started: Some(started),
    };
    let h = green::thread::spawn(move || {
        let _d = d;
        panic!("boom");
    });
    // The destructor runs (and blocks) while the panic unwinds; cancel it
    // there: no second unwind (which would abort the process).
    has_started.recv().unwrap();
    h.cancel();
    tx.send(1).unwrap();
    let payload = h.join().unwrap_err();
    assert_eq!(payload_str(&*payload), Some("boom"));
    assert!(done.load(Ordering::SeqCst));
}

/// A green thread that unwinds (a panic) and waits in its destructor holds
/// its hub while it waits, as an OS thread would: std counts panics per OS
/// thread, so a neighbour run meanwhile would see `thread::panicking()`.
/// Here the neighbour, on the same hub, takes a lock before the unwinder
/// waits and releases it after: the mutex is not poisoned, and the
/// neighbour's own deadlines work once it runs again.
#[test]
fn a_thread_waiting_in_a_destructor_while_unwinding_leaves_its_neighbours_alone() {
    let _serial = serial();
    let r = green::thread::spawn(|| {
        let m = Arc::new(green::sync::Mutex::new(0));
        let guard = m.lock().unwrap();
        let (tx, rx) = mpsc::channel();
        let (started, has_started) = std::sync::mpsc::channel();
        let d = BlocksInDrop {
            rx,
            done: Arc::new(AtomicBool::new(false)),
            started: Some(started),
        };
        // The release comes from another OS thread, later.
        let releaser = std::thread::spawn(move || {
            has_started.recv().unwrap();
            std::thread::sleep(Duration::from_millis(20));
            tx.send(1).unwrap();
        });
        let unwinder = green::rt::runtime::spawn_local(move || {
            let _d = d;
            panic!("unwinds with a waiting destructor");
        });
        // Runs the unwinder, which holds the hub until its destructor is
        // released.
        green::thread::yield_now();
        drop(guard);
        let poisoned = m.is_poisoned();
        let deadline = timeout(SHORT, || green::thread::sleep(LONG));
        releaser.join().unwrap();
        let payload = unwinder.join().unwrap_err();
        (poisoned, deadline, payload_str(&*payload).map(String::from))
    })
    .join()
    .unwrap();
    assert_eq!(
        r,
        (
            false,
            Err(Elapsed),
            Some("unwinds with a waiting destructor".to_string())
        )
    );
}
