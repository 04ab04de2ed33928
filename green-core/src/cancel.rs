//! Deadlines and cancellation: eventlet's `Timeout` and gevent's `kill`, as
//! unwinding from green's blocking calls.
//!
//! Every blocking point of green ends in one park (`Hub::park`, in `hub`),
//! and that park is the one cancellation point: before it waits, it looks at
//! the running context's scopes and its cancel flag, and if a deadline has
//! passed or a cancel was asked for, it unwinds (with `resume_unwind`, so no
//! panic hook runs) instead of waiting. Waits that do not end at once wake at
//! the earliest deadline, and a cancel wakes its target, so a thread parked
//! anywhere notices. Code above the park sees an ordinary unwind: guards
//! run, locks held are poisoned as by a panic, and each wait site removes
//! its own registration on the way out.
//!
//! # Scopes
//!
//! [`timeout_at`] and [`uncancellable`] push a `Scope` that lives in their
//! own stack frame and is linked from the hub's record of the running
//! context (saved with each green thread when it switches out). Nothing but
//! the context itself reads or writes its chain, and a scope is unlinked
//! before its frame goes away (also when unwinding), so the links are always
//! valid.
//!
//! * A **deadline** scope fires once its deadline has passed and a
//!   cancellation point is reached; the unwind carries the scope's id, and
//!   only the [`timeout_at`] that pushed it catches it. Scopes nest; the
//!   earliest deadline fires first.
//! * A **mask** ([`uncancellable`]) hides everything outside it: cancels and
//!   the deadlines of enclosing scopes wait until it is popped. Deadlines of
//!   scopes opened inside it still fire.
//!
//! # Edges
//!
//! * While the thread is already unwinding, nothing fires (a destructor that
//!   flushes a socket must not unwind a second time, which would abort).
//! * A cancel is sticky: a thread that catches [`Cancelled`] and goes on
//!   unwinds again at its next cancellation point.
//! * Code that never reaches a cancellation point is not interrupted.
//! * "Already unwinding" is std's `thread::panicking()`, which std counts
//!   per OS thread: while one green thread is suspended in the middle of
//!   unwinding (its destructor waits), the other green threads of its hub
//!   look unwinding too, and their cancellation points do not fire.

use std::any::Any;
use std::cell::Cell;
use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::ptr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::hub;

/// The payload a cancelled green thread unwinds with: its `join` returns
/// `Err(payload)` with `payload.is::<Cancelled>()`.
///
/// An extension with no counterpart in std.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cancelled;

impl fmt::Display for Cancelled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("green thread cancelled")
    }
}

impl std::error::Error for Cancelled {}

/// The error of [`timeout`] and [`timeout_at`]: the deadline passed before
/// the closure returned.
///
/// An extension with no counterpart in std.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Elapsed;

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline has elapsed")
    }
}

impl std::error::Error for Elapsed {}

impl From<Elapsed> for std::io::Error {
    fn from(e: Elapsed) -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::TimedOut, e)
    }
}

/// The private payload a deadline unwinds with.
struct DeadlineHit(u64);

/// One entry of a context's scope chain, in the frame that pushed it.
pub(crate) struct Scope {
    kind: Kind,
    /// The scope this one is nested in (null: none).
    outer: *const Scope,
}

#[derive(Clone, Copy)]
enum Kind {
    Deadline { id: u64, at: Instant },
    Mask,
}

/// What a cancellation point found due.
pub(crate) enum Due {
    Cancel,
    Deadline(u64),
}

/// Looks at the chain starting at `scope` (innermost first) and the
/// context's cancel flag: what fires now, and the earliest deadline that
/// applies (for the park to wake at).
///
/// # Safety
///
/// `scope` is null or the innermost scope of the calling context's chain,
/// every link of which is alive (see the module docs).
pub(crate) unsafe fn look(
    scope: *const Scope,
    cancelled: bool,
    now: impl Fn() -> Instant,
) -> (Option<Due>, Option<Instant>) {
    let mut earliest: Option<(u64, Instant)> = None;
    let mut masked = false;
    let mut s = scope;
    // SAFETY: forwarded from this function's contract: each link is alive.
    while let Some(scope) = unsafe { s.as_ref() } {
        match scope.kind {
            Kind::Mask => {
                masked = true;
                break;
            }
            Kind::Deadline { id, at } => {
                if earliest.is_none_or(|(_, e)| at < e) {
                    earliest = Some((id, at));
                }
            }
        }
        s = scope.outer;
    }
    if !masked && cancelled {
        return (Some(Due::Cancel), None);
    }
    match earliest {
        Some((id, at)) if at <= now() => (Some(Due::Deadline(id)), Some(at)),
        Some((_, at)) => (None, Some(at)),
        None => (None, None),
    }
}

/// Whether a wait of the context running on `hub` could be cut short by a
/// cancel or a deadline: one is pending or open and not hidden by a mask.
/// (`unblock` runs its job inline on a plain OS thread only when not.)
pub(crate) fn may_interrupt(hub: &hub::Hub) -> bool {
    let scope = hub.scope_cell().get();
    let cancelled = hub.with_current(crate::ctx::Ctx::cancel_requested);
    if scope.is_null() {
        return cancelled;
    }
    // SAFETY: `scope` is the head of the running context's own chain, whose
    // scopes live in frames of that context that are still running (each
    // pops itself before its frame goes away).
    let (due, deadline) = unsafe { look(scope, cancelled, Instant::now) };
    due.is_some() || deadline.is_some()
}

/// Unwinds for what fell due (no panic hook runs).
pub(crate) fn fire(due: Due) -> ! {
    match due {
        Due::Cancel => panic::resume_unwind(Box::new(Cancelled)),
        Due::Deadline(id) => panic::resume_unwind(Box::new(DeadlineHit(id))),
    }
}

/// Whether a payload is green's own (a cancel or a deadline), which the
/// panic hook must never print.
pub(crate) fn is_ours(payload: &(dyn Any + Send)) -> bool {
    payload.is::<Cancelled>() || payload.is::<DeadlineHit>()
}

/// Whether an unwind's payload (from `catch_unwind`) is a cancel or a
/// passed deadline of green's, rather than a panic.
///
/// For code that must catch the unwind of a blocking call to settle what
/// the call had already done (green-sync's rendezvous `send` does, when the
/// receiver took its value just as the cancel fired). Both kinds may be
/// dropped afterwards without being lost: a cancel is sticky, and a passed
/// deadline fires again, at the next cancellation point.
///
/// An extension with no counterpart in std.
///
/// # Examples
///
/// ```
/// use std::panic::{catch_unwind, AssertUnwindSafe};
/// use std::time::Duration;
/// use green_core::cancel::{is_cancellation, timeout};
///
/// let _ = timeout(Duration::ZERO, || {
///     let caught = catch_unwind(AssertUnwindSafe(|| {
///         green_core::thread::sleep(Duration::from_secs(10))
///     }));
///     assert!(is_cancellation(&*caught.unwrap_err()));
///     let panicked = catch_unwind(|| panic!("a panic"));
///     assert!(!is_cancellation(&*panicked.unwrap_err()));
/// });
/// ```
pub fn is_cancellation(payload: &(dyn Any + Send)) -> bool {
    is_ours(payload)
}

/// Pushes `scope` on the calling context's chain for the life of the guard.
struct Pushed<'a> {
    cell: &'a Cell<*const Scope>,
    previous: *const Scope,
}

impl Drop for Pushed<'_> {
    fn drop(&mut self) {
        self.cell.set(self.previous);
    }
}

/// Runs `f` with `kind` pushed on the calling context's scope chain.
fn with_scope<R>(kind: Kind, f: impl FnOnce() -> R) -> R {
    hub::with(|h| {
        let cell = h.scope_cell();
        let scope = Scope {
            kind,
            outer: cell.get(),
        };
        cell.set(ptr::from_ref(&scope));
        let _pop = Pushed {
            cell,
            previous: scope.outer,
        };
        // The hub borrow is only `&Hub`; `f` may park and switch freely (the
        // hub saves the chain head with the green thread).
        f()
    })
}

/// Runs `f` on the calling thread (green or OS), and returns `Ok(f())`, or
/// `Err(Elapsed)` if `deadline` passed first: the first green blocking call
/// `f` makes after `deadline` (or is in when it passes) unwinds to here.
///
/// Every green blocking call is a cancellation point: socket calls, sleep,
/// park, `Mutex`/`RwLock` lock, `Condvar` waits, `Barrier`, `Once` waits,
/// mpsc `send`/`recv`, `join`, `unblock`, `block_on`, green-fs and
/// green-process calls. Code that computes without calling green is not
/// interrupted (eventlet's `Timeout` has the same limit): `f` then returns
/// `Ok` however late. Blocking calls made while unwinding are not
/// cancellation points. Locks held by `f` are poisoned when it unwinds, as
/// a panic would poison them. Scopes nest: the earliest deadline fires
/// first and unwinds only to its own scope.
///
/// A scope costs one timer at most, and only while `f` waits.
///
/// An extension with no counterpart in std.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
/// let r = green_core::cancel::timeout_at(Instant::now() + Duration::from_millis(20), || {
///     green_core::thread::sleep(Duration::from_secs(10));
/// });
/// assert_eq!(r, Err(green_core::cancel::Elapsed));
/// ```
pub fn timeout_at<R>(deadline: Instant, f: impl FnOnce() -> R) -> Result<R, Elapsed> {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    let result = panic::catch_unwind(AssertUnwindSafe(|| {
        with_scope(Kind::Deadline { id, at: deadline }, f)
    }));
    match result {
        Ok(v) => Ok(v),
        Err(payload) => match payload.downcast_ref::<DeadlineHit>() {
            Some(DeadlineHit(hit)) if *hit == id => Err(Elapsed),
            _ => panic::resume_unwind(payload),
        },
    }
}

/// [`timeout_at`] with a duration from now (a duration too long to
/// represent never expires).
///
/// An extension with no counterpart in std.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// let r = green_core::cancel::timeout(Duration::from_secs(5), || 7);
/// assert_eq!(r, Ok(7));
/// ```
pub fn timeout<R>(dur: Duration, f: impl FnOnce() -> R) -> Result<R, Elapsed> {
    match Instant::now().checked_add(dur) {
        Some(deadline) => timeout_at(deadline, f),
        None => Ok(f()),
    }
}

/// Runs `f` with cancellation deferred: neither a cancel of this thread nor
/// an enclosing [`timeout`] takes effect inside `f`; they do at the first
/// cancellation point after it returns. Deadlines of `timeout`s opened
/// inside `f` still work.
///
/// An extension with no counterpart in std.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use green_core::cancel::{timeout, uncancellable, Elapsed};
///
/// let r = timeout(Duration::from_millis(10), || {
///     // Runs to its end although the deadline passes meanwhile...
///     uncancellable(|| green_core::thread::sleep(Duration::from_millis(30)));
///     // ...which fires here, at the next blocking call.
///     green_core::thread::sleep(Duration::from_secs(10));
/// });
/// assert_eq!(r, Err(Elapsed));
/// ```
pub fn uncancellable<R>(f: impl FnOnce() -> R) -> R {
    with_scope(Kind::Mask, f)
}
