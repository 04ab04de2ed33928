//! Poisoning after a cancel matches std's after a panic: the same scenario
//! with a panic on std, and with a cancel (or a passed `timeout` deadline)
//! on green, at the same place, gives the same `is_poisoned`,
//! `PoisonError` and retry behaviour, for `Mutex`, `RwLock` (write and
//! read holders), `Once`, `OnceLock` and `LazyLock`.

use std::sync::Arc;
use std::time::Duration;

use green::rt::{timeout, Cancelled, Elapsed};
use green::thread::Cancel;
use green_conformance::panic_message;
use rstest::rstest;

const LONG: Duration = Duration::from_secs(600);
const SHORT: Duration = Duration::from_millis(20);

/// How the holder leaves its critical section.
#[derive(Debug, Clone, Copy)]
enum Leave {
    /// std: `panic!` while holding it.
    StdPanic,
    /// green: blocks (a cancellation point) and is cancelled, on a green thread.
    GreenCancel,
    /// green: blocks inside a `timeout` that passes, on a green thread.
    GreenDeadline,
    /// green: the same on the test's plain OS thread.
    GreenDeadlinePlain,
}

/// Runs `critical` the way `leave` says: it must end at a blocking call
/// (green) or a panic (std), never return.
fn leave(how: Leave, critical: impl FnOnce() + Send + 'static) {
    match how {
        Leave::StdPanic => {
            let r = std::thread::spawn(critical).join();
            assert!(r.is_err());
        }
        Leave::GreenCancel => {
            let h = green::thread::spawn(critical);
            h.cancel();
            let r = h.join();
            assert!(matches!(&r, Err(p) if p.is::<Cancelled>()));
        }
        Leave::GreenDeadline => {
            let r = green::thread::spawn(move || timeout(SHORT, critical)).join();
            assert_eq!(r.unwrap(), Err(Elapsed));
        }
        Leave::GreenDeadlinePlain => {
            assert_eq!(timeout(SHORT, critical), Err(Elapsed));
        }
    }
}

/// Where a std scenario panics, a green one blocks.
fn stop(how: Leave) -> ! {
    match how {
        Leave::StdPanic => panic!("the holder panics"),
        _ => {
            green::thread::sleep(LONG);
            unreachable!("the holder's blocking call returned")
        }
    }
}

/// What a later user sees of a mutex or rwlock.
#[derive(Debug, PartialEq)]
struct LockView {
    poisoned: bool,
    /// `Ok(value)` or `Err(value in the PoisonError)`.
    lock: Result<i32, i32>,
    after_clear: bool,
}

macro_rules! lock_scenario {
    ($mutex:ty, $how:expr, |$m:ident| $hold:expr, |$n:ident| $view:expr) => {{
        let how = $how;
        let shared = Arc::new(<$mutex>::new(1));
        let s = shared.clone();
        leave(how, move || {
            let $m = &*s;
            let _held = $hold;
            stop(how)
        });
        let $n = &*shared;
        let poisoned = $n.is_poisoned();
        let lock = $view;
        $n.clear_poison();
        LockView {
            poisoned,
            lock,
            after_clear: $n.is_poisoned(),
        }
    }};
}

fn mutex(how: Leave) -> LockView {
    if let Leave::StdPanic = how {
        lock_scenario!(
            std::sync::Mutex<i32>,
            how,
            |m| {
                let mut g = m.lock().unwrap();
                *g = 2;
                g
            },
            |m| match m.lock() {
                Ok(g) => Ok(*g),
                Err(p) => Err(*p.into_inner()),
            }
        )
    } else {
        lock_scenario!(
            green::sync::Mutex<i32>,
            how,
            |m| {
                let mut g = m.lock().unwrap();
                *g = 2;
                g
            },
            |m| match m.lock() {
                Ok(g) => Ok(*g),
                Err(p) => Err(*p.into_inner()),
            }
        )
    }
}

fn rwlock_writer(how: Leave) -> LockView {
    if let Leave::StdPanic = how {
        lock_scenario!(
            std::sync::RwLock<i32>,
            how,
            |l| {
                let mut w = l.write().unwrap();
                *w = 3;
                w
            },
            |l| match l.read() {
                Ok(g) => Ok(*g),
                Err(p) => Err(*p.into_inner()),
            }
        )
    } else {
        lock_scenario!(
            green::sync::RwLock<i32>,
            how,
            |l| {
                let mut w = l.write().unwrap();
                *w = 3;
                w
            },
            |l| match l.read() {
                Ok(g) => Ok(*g),
                Err(p) => Err(*p.into_inner()),
            }
        )
    }
}

fn rwlock_reader(how: Leave) -> LockView {
    if let Leave::StdPanic = how {
        lock_scenario!(
            std::sync::RwLock<i32>,
            how,
            |l| l.read().unwrap(),
            |l| match l.write() {
                Ok(g) => Ok(*g),
                Err(p) => Err(*p.into_inner()),
            }
        )
    } else {
        lock_scenario!(
            green::sync::RwLock<i32>,
            how,
            |l| l.read().unwrap(),
            |l| match l.write() {
                Ok(g) => Ok(*g),
                Err(p) => Err(*p.into_inner()),
            }
        )
    }
}

/// What a later caller sees of a `Once` whose initializer left: whether it
/// completed, what `call_once` does, what `call_once_force` is told.
fn once(how: Leave) -> (bool, String, bool) {
    macro_rules! run {
        ($once:ty) => {{
            let once = Arc::new(<$once>::new());
            let o = once.clone();
            leave(how, move || o.call_once(|| stop(how)));
            let completed = once.is_completed();
            let again = panic_message(|| once.call_once(|| {}));
            let mut saw_poison = false;
            once.call_once_force(|state| saw_poison = state.is_poisoned());
            (completed, again, saw_poison)
        }};
    }
    match how {
        Leave::StdPanic => run!(std::sync::Once),
        _ => run!(green::sync::Once),
    }
}

/// A `OnceLock` whose initializer left: still empty, and the next
/// `get_or_init` runs its own.
fn once_lock(how: Leave) -> (Option<i32>, i32) {
    macro_rules! run {
        ($cell:ty) => {{
            let cell = Arc::new(<$cell>::new());
            let c = cell.clone();
            leave(how, move || {
                c.get_or_init(|| stop(how));
            });
            (cell.get().copied(), *cell.get_or_init(|| 4))
        }};
    }
    match how {
        Leave::StdPanic => run!(std::sync::OnceLock<i32>),
        _ => run!(green::sync::OnceLock<i32>),
    }
}

/// A `LazyLock` whose initializer left: poisoned, every later access
/// panics with std's message.
fn lazy_lock(how: Leave) -> String {
    macro_rules! run {
        ($lazy:ident) => {{
            let lazy: Arc<$lazy<i32, Box<dyn FnOnce() -> i32 + Send>>> =
                Arc::new($lazy::new(Box::new(move || stop(how))));
            let l = lazy.clone();
            leave(how, move || {
                let _ = **l;
            });
            panic_message(move || **lazy)
        }};
    }
    use green::sync::LazyLock as GreenLazy;
    use std::sync::LazyLock as StdLazy;
    match how {
        Leave::StdPanic => run!(StdLazy),
        _ => run!(GreenLazy),
    }
}

#[rstest]
#[case::cancel(Leave::GreenCancel)]
#[case::deadline(Leave::GreenDeadline)]
#[case::deadline_plain(Leave::GreenDeadlinePlain)]
fn a_cancelled_mutex_holder_poisons_like_a_panicking_one(#[case] how: Leave) {
    let std = mutex(Leave::StdPanic);
    assert_eq!(
        std,
        LockView {
            poisoned: true,
            lock: Err(2),
            after_clear: false
        }
    );
    assert_eq!(mutex(how), std);
}

#[rstest]
#[case::cancel(Leave::GreenCancel)]
#[case::deadline(Leave::GreenDeadline)]
#[case::deadline_plain(Leave::GreenDeadlinePlain)]
fn a_cancelled_rwlock_writer_poisons_like_a_panicking_one(#[case] how: Leave) {
    let std = rwlock_writer(Leave::StdPanic);
    assert_eq!(
        std,
        LockView {
            poisoned: true,
            lock: Err(3),
            after_clear: false
        }
    );
    assert_eq!(rwlock_writer(how), std);
}

#[rstest]
#[case::cancel(Leave::GreenCancel)]
#[case::deadline(Leave::GreenDeadline)]
#[case::deadline_plain(Leave::GreenDeadlinePlain)]
fn a_cancelled_rwlock_reader_does_not_poison_as_a_panicking_one(#[case] how: Leave) {
    let std = rwlock_reader(Leave::StdPanic);
    assert_eq!(
        std,
        LockView {
            poisoned: false,
            lock: Ok(1),
            after_clear: false
        }
    );
    assert_eq!(rwlock_reader(how), std);
}

#[rstest]
#[case::cancel(Leave::GreenCancel)]
#[case::deadline(Leave::GreenDeadline)]
#[case::deadline_plain(Leave::GreenDeadlinePlain)]
fn a_cancelled_initializer_poisons_once_like_a_panicking_one(#[case] how: Leave) {
    let std = once(Leave::StdPanic);
    assert_eq!(
        std,
        (
            false,
            "Once instance has previously been poisoned".into(),
            true
        )
    );
    assert_eq!(once(how), std);
}

#[rstest]
#[case::cancel(Leave::GreenCancel)]
#[case::deadline(Leave::GreenDeadline)]
#[case::deadline_plain(Leave::GreenDeadlinePlain)]
fn a_cancelled_initializer_leaves_once_lock_empty_like_a_panicking_one(#[case] how: Leave) {
    let std = once_lock(Leave::StdPanic);
    assert_eq!(std, (None, 4));
    assert_eq!(once_lock(how), std);
}

#[rstest]
#[case::cancel(Leave::GreenCancel)]
#[case::deadline(Leave::GreenDeadline)]
#[case::deadline_plain(Leave::GreenDeadlinePlain)]
fn a_cancelled_initializer_poisons_lazy_lock_like_a_panicking_one(#[case] how: Leave) {
    let std = lazy_lock(Leave::StdPanic);
    assert_eq!(std, "LazyLock instance has previously been poisoned");
    assert_eq!(lazy_lock(how), std);
}
