//! `Mutex` and `MutexGuard`.
//!
//! # Design
//!
//! `unsafe` is not allowed outside green-core, so the protected value lives
//! in a `std::sync::Mutex<T>` used only through `try_lock`: std's lock word
//! *is* the lock, std's guard gives `Deref`/`DerefMut` and poisons on panic
//! exactly as std does, and std never blocks (it only blocks in `lock`, which
//! is never called). Contention is handled here: a [`WaitQueue`] and one
//! atomic word, `state`:
//!
//! | bits | name | meaning |
//! |---|---|---|
//! | 0 | `WOKEN` | a waiter was woken and has not yet retried; unlockers do not wake another (no herd) |
//! | 1 | `STARVING` | some waiter waited longer than [`STARVE_AFTER`]; newcomers queue instead of barging |
//! | 2.. | waiters | number of waiters on the queue (changed only under the queue lock) |
//!
//! Fast path: `lock` is std's `try_lock` (one CAS) after a relaxed load of
//! `state`; unlock is std's unlock (one swap) plus a `SeqCst` fence and a
//! relaxed load. No syscall, no hub.
//!
//! Slow path: a waiter registers (count + 1) under the queue lock, then
//! retries `try_lock`; only if that fails does it park. An unlocker that sees
//! waiters and no `WOKEN` sets `WOKEN` and wakes the oldest waiter, which
//! clears `WOKEN` as it retries.
//!
//! # Notes about memory ordering
//!
//! The lock word (std's) and `state` are different atomics, so "unlock, then
//! look for waiters" against "register, then retry the lock" is a
//! store-buffering (Dekker) pattern: both sides put a `SeqCst` fence between
//! their write and their read. Then either the retrying waiter sees the lock
//! free, or the unlocker sees the registered waiter; a wake-up cannot be lost.
//!
//! # Fairness
//!
//! Barging is allowed (it keeps throughput high), with its unfairness
//! bounded: a woken waiter that loses the race goes back to the *head* of the
//! queue, and once the head waiter has waited more than [`STARVE_AFTER`] the
//! mutex enters starvation mode, where newcomers do not try the lock while
//! others wait, so the head waiter gets it at the next unlock. That waiter
//! ends the mode as it takes the lock, and the next episode may start only
//! [`STARVE_AFTER`] later (parking_lot's "eventual fairness": at most one
//! forced hand-over per period). Every waiter thus gets the lock within
//! about its queue position times [`STARVE_AFTER`]; in between, unlocks do
//! not hand over, which matters here because a hand-over between two hubs
//! costs a cross-thread wake (Go's rule, which stays in starvation mode until
//! the queue is short, turned a contended counter into one wake per lock).

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{fence, AtomicU64, AtomicUsize, Ordering};
use std::sync::{LockResult, PoisonError, TryLockError, TryLockResult};
use std::time::{Duration, Instant};

use crate::sites;
use crate::waiter::WaitQueue;

/// A woken waiter has not retried yet.
const WOKEN: usize = 1;
/// Newcomers must not barge while others wait.
const STARVING: usize = 2;
/// One waiter on the queue.
const ONE_WAITER: usize = 4;

/// How long a waiter may wait before the mutex stops letting newcomers
/// overtake it (Go uses the same bound).
pub(crate) const STARVE_AFTER: Duration = Duration::from_millis(1);

/// How many times a contended `lock` retries `try_lock` (with a short spin in
/// between) before it parks.
const SPIN_ROUNDS: u32 = 4;

/// Token of a waiter woken by an unlock: retry.
const TOKEN_RETRY: usize = 1;

/// Nanoseconds since the first call, process-wide (for `RawMutex::fair_at`).
fn now_nanos() -> u64 {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    let epoch = *EPOCH.get_or_init(Instant::now);
    u64::try_from(epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// The contention half of a [`Mutex`]: everything but the data.
#[derive(Debug)]
pub(crate) struct RawMutex {
    /// `WOKEN | STARVING | waiters * ONE_WAITER`; see the module docs.
    state: AtomicUsize,
    /// `now_nanos()` before which no new starvation episode starts.
    fair_at: AtomicU64,
    /// Waiters, oldest first (a woken waiter that lost goes back first).
    queue: WaitQueue,
    /// The OS thread that took the lock last ([`os_thread`]); `lock_slow`
    /// does not spin when it is the caller's own: a holder on the caller's
    /// OS thread (a suspended green thread of the same hub, or the root)
    /// cannot run, let alone unlock, while the caller spins.
    holder: AtomicUsize,
}

thread_local! {
    /// Its address names the OS thread (see [`os_thread`]).
    static HERE: u8 = const { 0 };
}

/// An id of the calling OS thread: the address of a thread-local, unique
/// among live threads and cheap to read.
#[inline]
fn os_thread() -> usize {
    HERE.with(|here| std::ptr::from_ref(here) as usize)
}

impl RawMutex {
    const fn new() -> RawMutex {
        RawMutex {
            state: AtomicUsize::new(0),
            fair_at: AtomicU64::new(0),
            queue: WaitQueue::new(),
            holder: AtomicUsize::new(0),
        }
    }

    /// Whether a newcomer may try the lock right away.
    #[inline]
    fn may_barge(&self) -> bool {
        self.state.load(Ordering::Relaxed) & STARVING == 0
    }

    /// Called right after std's guard was dropped (the lock word released).
    #[inline]
    fn unlocked(&self) {
        #[cfg(test)]
        crate::waiter::schedule::point(crate::waiter::schedule::Point::Custom);
        // Pairs with the fence in `lock_slow`'s registration (module docs).
        fence(Ordering::SeqCst);
        let state = self.state.load(Ordering::Relaxed);
        if state >= ONE_WAITER && state & WOKEN == 0 {
            self.wake_one();
        }
    }

    /// A woken waiter that will not retry (it was cancelled) hands its
    /// wake-up on: clear `WOKEN` as its retry would have, and wake the next
    /// waiter if there is one (it retries and re-queues if the lock is held,
    /// as any woken waiter does). Never parks: it runs while unwinding.
    #[cold]
    fn pass_wake_on(&self) {
        self.state.fetch_and(!WOKEN, Ordering::Relaxed);
        // Pairs with the unlocker's fence: an unlock that read `WOKEN` still
        // set (and so woke nobody) happened before this, and the lock it
        // freed is seen by the waiter woken here.
        fence(Ordering::SeqCst);
        self.wake_one();
    }

    #[cold]
    fn wake_one(&self) {
        // Claim the right to wake: only one woken waiter in flight.
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            if state < ONE_WAITER || state & WOKEN != 0 {
                return;
            }
            match self.state.compare_exchange_weak(
                state,
                state | WOKEN,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(actual) => state = actual,
            }
        }
        self.queue.unpark_with(|list, woken| {
            if list.wake_one(TOKEN_RETRY, woken) {
                self.state.fetch_sub(ONE_WAITER, Ordering::Relaxed);
            } else {
                // The waiters counted took the lock themselves meanwhile.
                self.state.fetch_and(!WOKEN, Ordering::Relaxed);
            }
        });
    }
}

/// A mutual exclusion primitive useful for protecting shared data; the green
/// version of [`std::sync::Mutex`].
///
/// Same API, trait impls and poisoning as std's. A green thread blocked in
/// [`lock`](Mutex::lock) switches to its hub, so every other green thread on
/// that hub keeps running, including the one that will unlock; a plain OS
/// thread blocked in `lock` runs its own hub meanwhile. Green threads on any
/// hub and OS threads may share one `Mutex`.
///
/// # Differences from std
///
/// * Unlocking costs one `SeqCst` fence more than std's; contended waiters
///   park through green-core instead of a futex.
/// * Fairness: barging is allowed but bounded (see the crate docs); a
///   waiter that waited more than 1 ms is served before newcomers.
///
/// # Cancellation
///
/// A [`lock`](Mutex::lock) that has to wait is a cancellation point
/// (`green::rt::timeout`, `green::thread::Cancel`); one that gets the lock
/// at once is not. A waiter cancelled before it got the lock leaves the
/// queue, and a wake-up an unlock had already sent it goes on to the next
/// waiter, so the lock is never left with waiters nobody wakes. A thread
/// that holds the lock when a cancel or a deadline unwinds it poisons the
/// mutex exactly as a panic would (std's rule: the guard is dropped while
/// the thread unwinds).
///
/// # Examples
///
/// ```
/// use green_sync::{Arc, Mutex};
///
/// let counter = Arc::new(Mutex::new(0));
/// let handles: Vec<_> = (0..10)
///     .map(|_| {
///         let counter = Arc::clone(&counter);
///         green_core::thread::spawn(move || *counter.lock().unwrap() += 1)
///     })
///     .collect();
/// for h in handles {
///     h.join().unwrap();
/// }
/// assert_eq!(*counter.lock().unwrap(), 10);
/// ```
pub struct Mutex<T: ?Sized> {
    raw: RawMutex,
    data: std::sync::Mutex<T>,
}

/// An RAII guard of a locked [`Mutex`]: the data is reachable through
/// `Deref`/`DerefMut`, and dropping the guard unlocks (poisoning the mutex if
/// the thread is unwinding: a panic, a cancel or a passed `timeout`
/// deadline). The green version of [`std::sync::MutexGuard`];
/// `!Send`, `Sync` when `T: Sync`, as std's.
#[must_use = "if unused the Mutex will immediately unlock"]
pub struct MutexGuard<'a, T: ?Sized + 'a> {
    // Field order is drop order: std's guard releases the lock word (and
    // poisons when panicking) before `release` looks for waiters.
    inner: std::sync::MutexGuard<'a, T>,
    release: Release<'a, T>,
}

/// Wakes a waiter, if any, after the guard's std half unlocked.
struct Release<'a, T: ?Sized>(&'a Mutex<T>);

impl<T: ?Sized> Drop for Release<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.0.raw.unlocked();
    }
}

impl<T> Mutex<T> {
    /// Creates a new unlocked mutex holding `t`.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_sync::Mutex;
    ///
    /// static GLOBAL: Mutex<Vec<u32>> = Mutex::new(Vec::new());
    /// GLOBAL.lock().unwrap().push(1);
    /// ```
    #[inline]
    pub const fn new(t: T) -> Mutex<T> {
        Mutex {
            raw: RawMutex::new(),
            data: std::sync::Mutex::new(t),
        }
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Acquires the mutex, blocking the current green thread (or OS thread)
    /// until it is able to do so.
    ///
    /// # Errors
    ///
    /// If another user of this mutex panicked while holding it, the mutex is
    /// poisoned: the lock is still acquired and the guard comes inside the
    /// [`PoisonError`].
    ///
    /// # Panics
    ///
    /// Like std, locking a mutex the calling thread already holds never
    /// returns (it is a deadlock, not a panic, for green threads and OS
    /// threads alike).
    ///
    /// # Examples
    ///
    /// ```
    /// use green_sync::Mutex;
    ///
    /// let m = Mutex::new(1);
    /// *m.lock().unwrap() += 1;
    /// assert_eq!(*m.lock().unwrap(), 2);
    /// ```
    #[inline]
    pub fn lock(&self) -> LockResult<MutexGuard<'_, T>> {
        // A lock that may be taken at once spends cooperative budget (and
        // may yield first, before holding anything).
        green_core::coop::consume();
        if self.raw.may_barge() {
            if let Some(result) = self.try_acquire() {
                return result;
            }
        }
        self.lock_slow()
    }

    /// Attempts to acquire the mutex without blocking.
    ///
    /// # Errors
    ///
    /// [`TryLockError::WouldBlock`] if the mutex is held;
    /// [`TryLockError::Poisoned`] (with the guard) if it was acquired but is
    /// poisoned.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_sync::{Mutex, TryLockError};
    ///
    /// let m = Mutex::new(0);
    /// let held = m.lock().unwrap();
    /// assert!(matches!(m.try_lock(), Err(TryLockError::WouldBlock)));
    /// drop(held);
    /// assert!(m.try_lock().is_ok());
    /// ```
    #[inline]
    pub fn try_lock(&self) -> TryLockResult<MutexGuard<'_, T>> {
        match self.try_acquire() {
            Some(Ok(guard)) => Ok(guard),
            Some(Err(poisoned)) => Err(TryLockError::Poisoned(poisoned)),
            None => {
                // A failed probe: a `try_lock` loop lets the holder run.
                green_core::coop::consume();
                Err(TryLockError::WouldBlock)
            }
        }
    }

    /// Determines whether the mutex is poisoned (as std's `is_poisoned`: the
    /// answer may be stale as soon as it is returned).
    #[inline]
    pub fn is_poisoned(&self) -> bool {
        self.data.is_poisoned()
    }

    /// Clears the poisoned state of the mutex.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_sync::{Arc, Mutex};
    ///
    /// let m = Arc::new(Mutex::new(0));
    /// let c = Arc::clone(&m);
    /// let _ = green_core::thread::spawn(move || {
    ///     let _g = c.lock().unwrap();
    ///     panic!("poison it");
    /// })
    /// .join();
    /// assert!(m.is_poisoned());
    /// m.clear_poison();
    /// assert!(!m.is_poisoned());
    /// ```
    #[inline]
    pub fn clear_poison(&self) {
        self.data.clear_poison();
    }

    /// Consumes the mutex, returning the data.
    ///
    /// # Errors
    ///
    /// If the mutex is poisoned, the data comes inside the [`PoisonError`].
    #[inline]
    pub fn into_inner(self) -> LockResult<T>
    where
        T: Sized,
    {
        self.data.into_inner()
    }

    /// Returns a mutable reference to the data; no locking is needed since
    /// the borrow is exclusive.
    ///
    /// # Errors
    ///
    /// If the mutex is poisoned, the reference comes inside the
    /// [`PoisonError`].
    #[inline]
    pub fn get_mut(&mut self) -> LockResult<&mut T> {
        self.data.get_mut()
    }

    /// One `try_lock` of the data: `None` when it is held.
    #[inline]
    fn try_acquire(&self) -> Option<LockResult<MutexGuard<'_, T>>> {
        match self.data.try_lock() {
            Ok(inner) => Some(Ok(self.guard(inner))),
            Err(TryLockError::Poisoned(poisoned)) => {
                Some(Err(PoisonError::new(self.guard(poisoned.into_inner()))))
            }
            Err(TryLockError::WouldBlock) => None,
        }
    }

    #[inline]
    fn guard<'a>(&'a self, inner: std::sync::MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        self.raw.holder.store(os_thread(), Ordering::Relaxed);
        MutexGuard {
            inner,
            release: Release(self),
        }
    }

    #[cold]
    fn lock_slow(&self) -> LockResult<MutexGuard<'_, T>> {
        // A short spin helps when the holder runs on another OS thread. One
        // on our own OS thread cannot unlock while we spin: go straight to
        // the queue (the spin cost a few µs per contended lock between
        // green threads of one hub).
        let rounds = if self.raw.holder.load(Ordering::Relaxed) == os_thread() {
            0
        } else {
            SPIN_ROUNDS
        };
        for round in 0..rounds {
            for _ in 0..(4u32 << round) {
                std::hint::spin_loop();
            }
            if !self.raw.may_barge() {
                break;
            }
            if let Some(result) = self.try_acquire() {
                return result;
            }
        }

        let raw = &self.raw;
        let start = Instant::now();
        let mut woken = false;
        loop {
            let mut acquired = None;
            let ticket = raw.queue.enqueue_if(0, woken, &sites::MUTEX_LOCK, |_| {
                // Register (and, if we were the woken waiter, let unlockers
                // wake someone again), then retry with the fence between.
                let delta = if woken {
                    ONE_WAITER.wrapping_sub(WOKEN)
                } else {
                    ONE_WAITER
                };
                let before = raw.state.fetch_add(delta, Ordering::SeqCst);
                fence(Ordering::SeqCst);
                let starving = before & STARVING != 0;
                if !starving || woken || before < ONE_WAITER {
                    if let Some(result) = self.try_acquire() {
                        raw.state.fetch_sub(ONE_WAITER, Ordering::Relaxed);
                        acquired = Some(result);
                        return false;
                    }
                }
                true
            });
            if let Some(result) = acquired {
                self.leave_starvation();
                return result;
            }
            let Some(ticket) = ticket else {
                unreachable!("green Mutex: validation refused without acquiring");
            };
            // `lock` has no deadline, so the ticket only returns with a token.
            // If the park unwinds (cancelled), a waiter still queued takes
            // its count back; one an unlocker already woke gives the wake-up
            // to the next waiter, since unlockers wake nobody while `WOKEN`
            // is set.
            let _token = ticket.wait(
                None,
                |_, _| {
                    raw.state.fetch_sub(ONE_WAITER, Ordering::Relaxed);
                },
                |_| raw.pass_wake_on(),
            );
            woken = true;
            if start.elapsed() >= STARVE_AFTER && now_nanos() >= raw.fair_at.load(Ordering::Relaxed)
            {
                raw.state.fetch_or(STARVING, Ordering::Relaxed);
            }
        }
    }

    /// After a slow-path acquisition: a starvation episode ends with the
    /// waiter it was for (newcomers never acquire while it lasts), and the
    /// next may start only `STARVE_AFTER` later (module docs, Fairness).
    fn leave_starvation(&self) {
        let state = self.raw.state.load(Ordering::Relaxed);
        if state & STARVING != 0 {
            let next = now_nanos().saturating_add(STARVE_AFTER.as_nanos() as u64);
            self.raw.fair_at.store(next, Ordering::Relaxed);
            self.raw.state.fetch_and(!STARVING, Ordering::Relaxed);
        }
    }
}

impl<'a, T: ?Sized> MutexGuard<'a, T> {
    /// The mutex this guard locks (for `Condvar`).
    pub(crate) fn mutex(&self) -> &'a Mutex<T> {
        self.release.0
    }
}

impl<T> From<T> for Mutex<T> {
    /// Creates a new unlocked mutex holding `t` (same as [`Mutex::new`]).
    fn from(t: T) -> Self {
        Mutex::new(t)
    }
}

impl<T: Default> Default for Mutex<T> {
    /// Creates a `Mutex<T>` with the `Default` value of `T`.
    fn default() -> Mutex<T> {
        Mutex::new(T::default())
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    /// As std's: `Mutex { data: .., poisoned: .., .. }`, with `<locked>`
    /// when the mutex is held (it never blocks).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Mutex");
        match self.try_lock() {
            Ok(guard) => {
                d.field("data", &&*guard);
            }
            Err(TryLockError::Poisoned(err)) => {
                d.field("data", &&**err.get_ref());
            }
            Err(TryLockError::WouldBlock) => {
                d.field("data", &"<locked>");
            }
        }
        d.field("poisoned", &self.is_poisoned());
        d.finish_non_exhaustive()
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        &self.inner
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        &mut self.inner
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

/// Takes a guard apart for `Condvar::wait`: unlocks (waking a waiter) and
/// returns the mutex to lock again.
pub(crate) fn unlock_for_wait<'a, T: ?Sized>(guard: MutexGuard<'a, T>) -> &'a Mutex<T> {
    let mutex = guard.mutex();
    drop(guard);
    mutex
}
