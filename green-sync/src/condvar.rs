//! `Condvar` and `WaitTimeoutResult`.
//!
//! A waiter goes on the condvar's [`WaitQueue`] *before* it unlocks the
//! mutex, so a notification sent by anyone who locked the mutex after that
//! point finds it (the atomicity std promises). `notify_one` pops exactly one
//! waiter, `notify_all` pops them all; both skip the queue lock when the
//! waiter count (kept under the queue lock, read after the caller's own
//! mutex synchronisation) is zero.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{LockResult, PoisonError};
use std::time::{Duration, Instant};

use crate::mutex::{self, MutexGuard};
use crate::sites;
use crate::waiter::WaitQueue;

/// Token of a notified waiter.
const TOKEN_NOTIFIED: usize = 1;

/// Whether a timed wait on a [`Condvar`] ended because its time ran out; the
/// green version of [`std::sync::WaitTimeoutResult`] (same methods and
/// traits; std's own type cannot be built outside std).
#[derive(Debug, PartialEq, Eq, Copy, Clone)]
pub struct WaitTimeoutResult(bool);

impl WaitTimeoutResult {
    /// Whether the wait is known to have timed out.
    #[must_use]
    pub fn timed_out(&self) -> bool {
        self.0
    }
}

/// A condition variable; the green version of [`std::sync::Condvar`], to be
/// used with [`green_sync::Mutex`](crate::Mutex).
///
/// A green thread waiting on it switches to its hub (other green threads on
/// that hub keep running); a plain OS thread runs its own hub while it waits.
/// Notifiers and waiters may be any mix of green threads on any hub and OS
/// threads.
///
/// # Differences from std
///
/// * Works with `green_sync::MutexGuard` (std's guard cannot be unlocked from
///   outside std).
/// * This implementation never wakes a waiter spuriously, though code must
///   not rely on that (std allows spurious wake-ups, and so does this API).
/// * Using one condvar with several mutexes is allowed and never panics.
///
/// # Cancellation
///
/// Every wait (`wait`, `wait_while`, `wait_timeout`, `wait_timeout_while`)
/// is a cancellation point (`green::rt::timeout`, `green::thread::Cancel`),
/// and so is taking the mutex back afterwards. A cancelled wait unwinds
/// without the mutex: the guard was given up when `wait` was called, so the
/// mutex is left unlocked and not poisoned (its data was consistent when
/// the caller chose to wait). A waiter that had already been notified and
/// is then cancelled passes the notification on to another waiter, so a
/// `notify_one` is not swallowed by a thread that will never act on it.
///
/// # Examples
///
/// ```
/// use green_sync::{Arc, Condvar, Mutex};
///
/// let pair = Arc::new((Mutex::new(false), Condvar::new()));
/// let pair2 = Arc::clone(&pair);
/// green_core::thread::spawn(move || {
///     let (lock, cvar) = &*pair2;
///     *lock.lock().unwrap() = true;
///     cvar.notify_one();
/// });
/// let (lock, cvar) = &*pair;
/// let mut started = lock.lock().unwrap();
/// while !*started {
///     started = cvar.wait(started).unwrap();
/// }
/// ```
pub struct Condvar {
    /// Waiters, oldest first.
    queue: WaitQueue,
    /// Number of waiters on `queue`; changed only under the queue lock.
    waiters: AtomicUsize,
}

impl Condvar {
    /// Creates a new condition variable with no waiters.
    #[must_use]
    #[inline]
    pub const fn new() -> Condvar {
        Condvar {
            queue: WaitQueue::new(),
            waiters: AtomicUsize::new(0),
        }
    }

    /// Unlocks the guard's mutex and blocks until notified, then locks it
    /// again.
    ///
    /// # Errors
    ///
    /// If the mutex is poisoned when it is locked again, the guard comes
    /// inside the [`PoisonError`].
    pub fn wait<'a, T>(&self, guard: MutexGuard<'a, T>) -> LockResult<MutexGuard<'a, T>> {
        let (guard, _) = self.wait_until(guard, None);
        guard
    }

    /// Blocks until `condition` returns `false`, waiting on this condvar in
    /// between (the mutex is held whenever `condition` runs).
    ///
    /// # Errors
    ///
    /// As [`Condvar::wait`].
    ///
    /// # Examples
    ///
    /// ```
    /// use green_sync::{Arc, Condvar, Mutex};
    ///
    /// let pair = Arc::new((Mutex::new(true), Condvar::new()));
    /// let pair2 = Arc::clone(&pair);
    /// green_core::thread::spawn(move || {
    ///     let (lock, cvar) = &*pair2;
    ///     *lock.lock().unwrap() = false;
    ///     cvar.notify_one();
    /// });
    /// let (lock, cvar) = &*pair;
    /// let _guard = cvar.wait_while(lock.lock().unwrap(), |pending| *pending).unwrap();
    /// ```
    pub fn wait_while<'a, T, F>(
        &self,
        mut guard: MutexGuard<'a, T>,
        mut condition: F,
    ) -> LockResult<MutexGuard<'a, T>>
    where
        F: FnMut(&mut T) -> bool,
    {
        while condition(&mut *guard) {
            guard = self.wait(guard)?;
        }
        Ok(guard)
    }

    /// Waits on this condvar for a notification, timing out after `ms`
    /// milliseconds; deprecated in std in favour of
    /// [`wait_timeout`](Condvar::wait_timeout). The `bool` is `false` when
    /// the time ran out.
    ///
    /// # Errors
    ///
    /// As [`Condvar::wait`].
    #[deprecated(
        since = "1.6.0",
        note = "replaced by `std::sync::Condvar::wait_timeout`"
    )]
    pub fn wait_timeout_ms<'a, T>(
        &self,
        guard: MutexGuard<'a, T>,
        ms: u32,
    ) -> LockResult<(MutexGuard<'a, T>, bool)> {
        match self.wait_timeout(guard, Duration::from_millis(u64::from(ms))) {
            Ok((guard, result)) => Ok((guard, !result.timed_out())),
            Err(poisoned) => {
                let (guard, result) = poisoned.into_inner();
                Err(PoisonError::new((guard, !result.timed_out())))
            }
        }
    }

    /// Waits on this condvar for a notification, timing out after `dur`.
    /// The wait never ends early for lack of time: when
    /// [`WaitTimeoutResult::timed_out`] is `true`, at least `dur` passed.
    ///
    /// # Errors
    ///
    /// As [`Condvar::wait`] (the poisoned value carries the timeout result
    /// too).
    ///
    /// # Examples
    ///
    /// ```
    /// use green_sync::{Condvar, Mutex};
    /// use std::time::Duration;
    ///
    /// let lock = Mutex::new(());
    /// let cvar = Condvar::new();
    /// let (_g, res) = cvar
    ///     .wait_timeout(lock.lock().unwrap(), Duration::from_millis(5))
    ///     .unwrap();
    /// assert!(res.timed_out());
    /// ```
    pub fn wait_timeout<'a, T>(
        &self,
        guard: MutexGuard<'a, T>,
        dur: Duration,
    ) -> LockResult<(MutexGuard<'a, T>, WaitTimeoutResult)> {
        // An unrepresentable deadline means "wait forever", as std does.
        let deadline = Instant::now().checked_add(dur);
        let (guard, timed_out) = self.wait_until(guard, deadline);
        let result = WaitTimeoutResult(timed_out);
        match guard {
            Ok(guard) => Ok((guard, result)),
            Err(poisoned) => Err(PoisonError::new((poisoned.into_inner(), result))),
        }
    }

    /// Waits on this condvar until `condition` returns `false` or `dur`
    /// passed in total (std's exact loop).
    ///
    /// # Errors
    ///
    /// As [`Condvar::wait`].
    pub fn wait_timeout_while<'a, T, F>(
        &self,
        mut guard: MutexGuard<'a, T>,
        dur: Duration,
        mut condition: F,
    ) -> LockResult<(MutexGuard<'a, T>, WaitTimeoutResult)>
    where
        F: FnMut(&mut T) -> bool,
    {
        let start = Instant::now();
        loop {
            if !condition(&mut *guard) {
                return Ok((guard, WaitTimeoutResult(false)));
            }
            let timeout = match dur.checked_sub(start.elapsed()) {
                Some(timeout) => timeout,
                None => return Ok((guard, WaitTimeoutResult(true))),
            };
            guard = self.wait_timeout(guard, timeout)?.0;
        }
    }

    /// Wakes up one blocked waiter on this condvar, if any (the one that has
    /// waited longest).
    #[inline]
    pub fn notify_one(&self) {
        if self.waiters.load(Ordering::Acquire) == 0 {
            return;
        }
        self.queue.unpark_with(|list, woken| {
            if list.wake_one(TOKEN_NOTIFIED, woken) {
                self.waiters.fetch_sub(1, Ordering::Relaxed);
            }
        });
    }

    /// Wakes up all blocked waiters on this condvar.
    #[inline]
    pub fn notify_all(&self) {
        if self.waiters.load(Ordering::Acquire) == 0 {
            return;
        }
        self.queue.unpark_with(|list, woken| {
            let n = list.wake_all(TOKEN_NOTIFIED, woken);
            self.waiters.fetch_sub(n, Ordering::Relaxed);
        });
    }

    /// The common wait: enqueue, unlock, park, relock. Returns the relocked
    /// guard and whether the deadline passed before a notification.
    ///
    /// Cancelled (the park or the relock unwinds), the wait leaves the mutex
    /// unlocked (the caller's guard was given up when it called `wait`) and
    /// takes nothing with it: a waiter still queued leaves the queue; one
    /// already notified passes the notification to the next waiter.
    fn wait_until<'a, T>(
        &self,
        guard: MutexGuard<'a, T>,
        deadline: Option<Instant>,
    ) -> (LockResult<MutexGuard<'a, T>>, bool) {
        let ticket = self.queue.enqueue_if(0, false, &sites::CONDVAR_WAIT, |_| {
            self.waiters.fetch_add(1, Ordering::Relaxed);
            true
        });
        let Some(ticket) = ticket else {
            unreachable!("green Condvar: enqueue refused");
        };
        let mutex = mutex::unlock_for_wait(guard);
        let token = ticket.wait(
            deadline,
            |_, _| {
                self.waiters.fetch_sub(1, Ordering::Relaxed);
            },
            |_| self.notify_one(),
        );
        if token.is_none() {
            return (mutex.lock(), true);
        }
        // Notified: if relocking unwinds, the notification goes on too.
        let pass_on = PassOn(self);
        let guard = mutex.lock();
        std::mem::forget(pass_on);
        (guard, false)
    }
}

/// Held by a notified waiter while it relocks the mutex: dropped only if
/// that unwinds (cancelled), and then wakes another waiter in its place.
struct PassOn<'a>(&'a Condvar);

impl Drop for PassOn<'_> {
    fn drop(&mut self) {
        self.0.notify_one();
    }
}

impl fmt::Debug for Condvar {
    /// `Condvar { .. }`, as std's.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condvar").finish_non_exhaustive()
    }
}

impl Default for Condvar {
    /// Creates a `Condvar` that is ready to be waited on and notified.
    fn default() -> Condvar {
        Condvar::new()
    }
}
