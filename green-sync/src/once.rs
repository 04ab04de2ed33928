//! `Once`, `OnceState` and the `RawOnce` state machine that `OnceLock` and
//! `LazyLock` share.
//!
//! `state` holds one of four states in its low bits plus a `QUEUED` bit
//! (std's futex `Once`, with the futex replaced by a [`WaitQueue`]):
//!
//! * `INCOMPLETE` → `RUNNING` (one caller won the CAS and runs the closure)
//! * `RUNNING` → `COMPLETE` (it returned) or `POISONED` (it panicked)
//! * `POISONED` → `RUNNING` (a forced call retries)
//!
//! A waiter sets `QUEUED` under the queue lock, and only while the state is
//! still the one that makes it wait; whoever leaves `RUNNING` swaps the
//! whole word, and wakes every waiter if `QUEUED` was set. Both touch the
//! same word, so a waiter either sees the new state or is woken.

use std::cell::Cell;
use std::fmt;
use std::sync::atomic::{AtomicU8, Ordering};

use crate::sites;
use crate::waiter::WaitQueue;

const INCOMPLETE: u8 = 0;
const POISONED: u8 = 1;
const RUNNING: u8 = 2;
const COMPLETE: u8 = 3;
const STATE_MASK: u8 = 0b11;
/// Someone is (or was) on the queue.
const QUEUED: u8 = 0b100;

/// Token of a waiter woken by a state change.
const TOKEN_CHANGED: usize = 1;

/// The state machine behind `Once`, `OnceLock` and `LazyLock`.
#[derive(Debug)]
pub(crate) struct RawOnce {
    /// `INCOMPLETE`, `POISONED`, `RUNNING` or `COMPLETE`, plus `QUEUED`.
    state: AtomicU8,
    /// Callers waiting for the running closure.
    queue: WaitQueue,
}

/// Sets the final state (and wakes waiters) when the running closure
/// returns or unwinds.
struct Completion<'a> {
    once: &'a RawOnce,
    set_to: u8,
}

impl Drop for Completion<'_> {
    fn drop(&mut self) {
        let before = self.once.state.swap(self.set_to, Ordering::AcqRel);
        if before & QUEUED != 0 {
            self.once.queue.unpark_all(TOKEN_CHANGED);
        }
    }
}

impl RawOnce {
    pub(crate) const fn new() -> RawOnce {
        RawOnce {
            state: AtomicU8::new(INCOMPLETE),
            queue: WaitQueue::new(),
        }
    }

    pub(crate) const fn new_complete() -> RawOnce {
        RawOnce {
            state: AtomicU8::new(COMPLETE),
            queue: WaitQueue::new(),
        }
    }

    #[inline]
    pub(crate) fn is_completed(&self) -> bool {
        self.state.load(Ordering::Acquire) == COMPLETE
    }

    /// Whether the last run panicked (exclusive access: no race).
    pub(crate) fn is_poisoned_mut(&mut self) -> bool {
        *self.state.get_mut() & STATE_MASK == POISONED
    }

    /// Sets the state with exclusive access (`LazyLock::force_mut`).
    pub(crate) fn set_poisoned_mut(&mut self, poisoned: bool) {
        *self.state.get_mut() = if poisoned { POISONED } else { COMPLETE };
    }

    /// Runs `f` once unless completed, waiting while another caller runs it.
    ///
    /// # Panics
    ///
    /// With std's message if poisoned and `!ignore_poisoning`; whatever `f`
    /// panics with.
    #[cold]
    #[track_caller]
    pub(crate) fn call(&self, ignore_poisoning: bool, f: &mut dyn FnMut(&OnceState)) {
        let mut state = self.state.load(Ordering::Acquire);
        loop {
            match state & STATE_MASK {
                COMPLETE => return,
                POISONED if !ignore_poisoning => {
                    panic!("Once instance has previously been poisoned");
                }
                INCOMPLETE | POISONED => {
                    let next = RUNNING | (state & QUEUED);
                    if let Err(actual) = self.state.compare_exchange_weak(
                        state,
                        next,
                        Ordering::Acquire,
                        Ordering::Acquire,
                    ) {
                        state = actual;
                        continue;
                    }
                    let mut completion = Completion {
                        once: self,
                        set_to: POISONED,
                    };
                    let once_state = OnceState {
                        poisoned: state & STATE_MASK == POISONED,
                        set_state_to: Cell::new(COMPLETE),
                    };
                    f(&once_state);
                    completion.set_to = once_state.set_state_to.get();
                    return;
                }
                _ => {
                    self.park_while(state & STATE_MASK);
                    state = self.state.load(Ordering::Acquire);
                }
            }
        }
    }

    /// Blocks until completed.
    ///
    /// # Panics
    ///
    /// With std's message if poisoned and `!ignore_poisoning`.
    #[cold]
    #[track_caller]
    pub(crate) fn wait(&self, ignore_poisoning: bool) {
        loop {
            let state = self.state.load(Ordering::Acquire);
            match state & STATE_MASK {
                COMPLETE => return,
                POISONED if !ignore_poisoning => {
                    panic!("Once instance has previously been poisoned");
                }
                seen => self.park_while(seen),
            }
        }
    }

    /// Parks while the state (without `QUEUED`) is still `seen`.
    fn park_while(&self, seen: u8) {
        let ticket = self.queue.enqueue_if(0, false, &sites::ONCE, |_| {
            let mut state = self.state.load(Ordering::Relaxed);
            loop {
                if state & STATE_MASK != seen {
                    return false;
                }
                if state & QUEUED != 0 {
                    return true;
                }
                match self.state.compare_exchange_weak(
                    state,
                    state | QUEUED,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => return true,
                    Err(actual) => state = actual,
                }
            }
        });
        if let Some(ticket) = ticket {
            // Cancelled, a waiter just leaves: the `QUEUED` bit it may have
            // set only costs the completing caller a look at the queue, and
            // a state change wakes every waiter, so there is nothing to pass
            // on.
            let _token = ticket.wait(None, |_, _| {}, |_| {});
        }
    }
}

/// A synchronization primitive which can run a one-time global
/// initialization; the green version of [`std::sync::Once`].
///
/// Callers that find the initialization running in another thread park: a
/// green thread switches to its hub (so the initializer, even on the same
/// hub, gets to finish), a plain OS thread runs its hub meanwhile.
///
/// # Differences from std
///
/// None in behaviour: same poisoning, same panic messages. As with std,
/// calling `call_once` on the same `Once` from inside its own closure never
/// returns.
///
/// # Cancellation
///
/// Waiting for another thread's initialization (`call_once`,
/// `call_once_force`, `wait`, `wait_force`) is a cancellation point
/// (`green::rt::timeout`, `green::thread::Cancel`); a cancelled waiter just
/// leaves. An initializer unwound by a cancel or a deadline poisons the
/// `Once` exactly as a panicking one does.
///
/// # Examples
///
/// ```
/// use green_sync::Once;
///
/// static INIT: Once = Once::new();
/// INIT.call_once(|| println!("initialised"));
/// assert!(INIT.is_completed());
/// ```
pub struct Once {
    inner: RawOnce,
}

/// State yielded to [`Once::call_once_force`]'s closure; the green version
/// of [`std::sync::OnceState`].
pub struct OnceState {
    poisoned: bool,
    /// What the `Once` becomes when the closure returns (`OnceLock` asks for
    /// `POISONED` when its fallible initializer fails).
    set_state_to: Cell<u8>,
}

impl OnceState {
    /// Whether the `Once` was poisoned before this `call_once_force` call
    /// (a previous closure panicked).
    #[must_use]
    #[inline]
    pub fn is_poisoned(&self) -> bool {
        self.poisoned
    }

    /// Leaves the `Once` incomplete (poisoned) when the closure returns.
    #[allow(dead_code)]
    pub(crate) fn poison(&self) {
        self.set_state_to.set(POISONED);
    }
}

impl fmt::Debug for OnceState {
    /// `OnceState { poisoned: .. }`, as std's.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnceState")
            .field("poisoned", &self.is_poisoned())
            .finish()
    }
}

/// Initialization value for static [`Once`] values (deprecated in std in
/// favour of [`Once::new`]).
#[deprecated(since = "1.38.0", note = "the `Once::new()` function is now preferred")]
#[allow(clippy::declare_interior_mutable_const)]
pub const ONCE_INIT: Once = Once::new();

impl Once {
    /// Creates a new `Once` value.
    #[must_use]
    #[inline]
    #[allow(clippy::new_without_default)] // std's `Once` has no `Default`
    pub const fn new() -> Once {
        Once {
            inner: RawOnce::new(),
        }
    }

    /// Performs an initialization routine once and only once; callers that
    /// arrive while it runs block until it completes.
    ///
    /// # Panics
    ///
    /// If the closure panics, the `Once` is poisoned and every later
    /// `call_once` panics with "Once instance has previously been poisoned"
    /// (as std).
    ///
    /// # Examples
    ///
    /// ```
    /// use green_sync::Once;
    ///
    /// static START: Once = Once::new();
    /// let mut runs = 0;
    /// START.call_once(|| runs += 1);
    /// START.call_once(|| runs += 1);
    /// assert_eq!(runs, 1);
    /// ```
    #[inline]
    #[track_caller]
    pub fn call_once<F>(&self, f: F)
    where
        F: FnOnce(),
    {
        if self.inner.is_completed() {
            return;
        }
        let mut f = Some(f);
        self.inner.call(false, &mut |_| {
            if let Some(f) = f.take() {
                f();
            }
        });
    }

    /// Performs the same function as [`call_once`](Once::call_once) except
    /// it ignores poisoning: the closure learns through [`OnceState`] whether
    /// a previous one panicked.
    ///
    /// # Panics
    ///
    /// Whatever the closure panics with (the `Once` stays poisoned).
    #[inline]
    pub fn call_once_force<F>(&self, f: F)
    where
        F: FnOnce(&OnceState),
    {
        if self.inner.is_completed() {
            return;
        }
        let mut f = Some(f);
        self.inner.call(true, &mut |state| {
            if let Some(f) = f.take() {
                f(state);
            }
        });
    }

    /// Returns `true` if some `call_once` call has completed successfully.
    #[inline]
    pub fn is_completed(&self) -> bool {
        let done = self.inner.is_completed();
        if !done {
            // A failed probe: spinning on it lets the initializer run.
            green_core::coop::consume();
        }
        done
    }

    /// Blocks the current green thread (or OS thread) until initialization
    /// has completed (std 1.86).
    ///
    /// # Panics
    ///
    /// If this `Once` has been poisoned ("Once instance has previously been
    /// poisoned").
    #[track_caller]
    pub fn wait(&self) {
        if !self.inner.is_completed() {
            self.inner.wait(false);
        }
    }

    /// Blocks until initialization has completed, ignoring poisoning
    /// (std 1.86).
    pub fn wait_force(&self) {
        if !self.inner.is_completed() {
            self.inner.wait(true);
        }
    }
}

impl fmt::Debug for Once {
    /// `Once { .. }`, as std's.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Once").finish_non_exhaustive()
    }
}
