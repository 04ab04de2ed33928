//! `RwLock`, `RwLockReadGuard`, `RwLockWriteGuard`.
//!
//! # Design
//!
//! Two layers, because `unsafe` is not allowed here. The policy layer is one
//! atomic word, `state`, plus a [`WaitQueue`]; it decides who holds the lock.
//! The storage layer is a `std::sync::RwLock<T>` used only through
//! `try_read`/`try_write`, which always succeed once the policy layer granted
//! access (std's guards give `Deref` and poisoning). That second layer is
//! also what makes [`RwLockWriteGuard::downgrade`] atomic without std's own
//! `downgrade` (newer than this workspace's minimum Rust).
//!
//! | bits | name | meaning |
//! |---|---|---|
//! | 0 | `WRITER` | held for writing |
//! | 1 | `PARKED` | the queue is not empty |
//! | 2 | `WRITER_PARKED` | a writer is on the queue: new readers queue too (no writer starvation) |
//! | 3.. | readers | number of read holders |
//!
//! Invariant making the storage calls infallible: a guard drops its std half
//! *before* it releases the policy layer (field order), and a thread takes
//! its std half *after* the policy layer granted it; so whoever the policy
//! layer admits finds the std lock in a compatible state.
//!
//! Waiters queue FIFO. A release that sees `PARKED` hands the lock over under
//! the queue lock: to the head writer if the lock is free, or to every reader
//! at the head if no writer holds it. A handed-over waiter wakes up owning
//! the lock (no retry, no herd).
//!
//! # Notes about memory ordering
//!
//! Acquisitions are `Acquire` CASes on `state`, releases `Release` RMWs; the
//! `PARKED` bits live in the same word, so a release always reads the
//! latest bits (no fence needed).

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{LockResult, PoisonError, TryLockError, TryLockResult};

use crate::sites;
use crate::waiter::{WaitQueue, WaiterList, Woken};

const WRITER: usize = 1;
const PARKED: usize = 2;
const WRITER_PARKED: usize = 4;
const ONE_READER: usize = 8;
const READERS: usize = !(ONE_READER - 1);

const TAG_READER: usize = 0;
pub(crate) const TAG_WRITER: usize = 1;

/// Token of a waiter the lock was handed to.
const TOKEN_HANDOFF: usize = 1;

/// The policy half of an [`RwLock`].
#[derive(Debug)]
struct RawRwLock {
    /// `WRITER | PARKED | WRITER_PARKED | readers * ONE_READER`.
    state: AtomicUsize,
    queue: WaitQueue,
}

impl RawRwLock {
    const fn new() -> RawRwLock {
        RawRwLock {
            state: AtomicUsize::new(0),
            queue: WaitQueue::new(),
        }
    }

    #[inline]
    fn try_read(&self) -> bool {
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            if state & (WRITER | WRITER_PARKED) != 0 {
                return false;
            }
            let next = add_reader(state);
            match self.state.compare_exchange_weak(
                state,
                next,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(actual) => state = actual,
            }
        }
    }

    #[inline]
    fn try_write(&self) -> bool {
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            if state & (WRITER | READERS) != 0 {
                return false;
            }
            match self.state.compare_exchange_weak(
                state,
                state | WRITER,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(actual) => state = actual,
            }
        }
    }

    #[inline]
    fn read(&self) {
        green_core::coop::consume();
        if !self.try_read() {
            self.lock_slow(TAG_READER);
        }
    }

    #[inline]
    fn write(&self) {
        green_core::coop::consume();
        if !self.try_write() {
            self.lock_slow(TAG_WRITER);
        }
    }

    /// Parks until the lock is granted for `tag`.
    #[cold]
    fn lock_slow(&self, tag: usize) {
        loop {
            let mut acquired = false;
            let ticket = self.queue.enqueue_if(tag, false, sites::rwlock(tag), |_| {
                let mut state = self.state.load(Ordering::Relaxed);
                loop {
                    let (free, take, parked) = if tag == TAG_WRITER {
                        (
                            state & (WRITER | READERS) == 0,
                            state | WRITER,
                            PARKED | WRITER_PARKED,
                        )
                    } else {
                        (
                            state & (WRITER | WRITER_PARKED) == 0,
                            add_reader(state),
                            PARKED,
                        )
                    };
                    let (next, park) = if free {
                        (take, false)
                    } else if state & parked == parked {
                        return true;
                    } else {
                        (state | parked, true)
                    };
                    match self.state.compare_exchange_weak(
                        state,
                        next,
                        Ordering::Acquire,
                        Ordering::Relaxed,
                    ) {
                        Ok(_) => {
                            acquired = !park;
                            return park;
                        }
                        Err(actual) => state = actual,
                    }
                }
            });
            if acquired {
                return;
            }
            if let Some(ticket) = ticket {
                // If the park unwinds (cancelled): a waiter still queued
                // leaves, and whoever it blocked (readers behind a waiting
                // writer) may go now; one the lock was already handed to
                // releases it again, which hands it on.
                let token = ticket.wait(
                    None,
                    |list, woken| self.grant(list, woken),
                    |token| {
                        if token == TOKEN_HANDOFF {
                            self.unlock(tag);
                        }
                    },
                );
                if token == Some(TOKEN_HANDOFF) {
                    return;
                }
            }
        }
    }

    #[inline]
    fn read_unlock(&self) {
        let state = self.state.fetch_sub(ONE_READER, Ordering::Release);
        if state & READERS == ONE_READER && state & PARKED != 0 {
            self.hand_over();
        }
    }

    #[inline]
    fn write_unlock(&self) {
        let state = self.state.fetch_and(!WRITER, Ordering::Release);
        if state & PARKED != 0 {
            self.hand_over();
        }
    }

    /// Writer to one reader, atomically (no writer can get in between).
    fn downgrade(&self) {
        let state = self
            .state
            .fetch_add(ONE_READER.wrapping_sub(WRITER), Ordering::Release);
        if state & PARKED != 0 {
            // Readers at the head of the queue may join us now.
            self.hand_over();
        }
    }

    /// Releases access of kind `tag` that the policy layer granted.
    fn unlock(&self, tag: usize) {
        if tag == TAG_WRITER {
            self.write_unlock();
        } else {
            self.read_unlock();
        }
    }

    /// Hands the lock to the head of the queue if it can have it now, then
    /// recomputes the parked bits. Whoever holds the lock when this finds it
    /// busy will call it again on release (it sees `PARKED`).
    #[cold]
    fn hand_over(&self) {
        self.queue
            .unpark_with(|list, woken| self.grant(list, woken));
    }

    /// [`RawRwLock::hand_over`] under the queue lock: grants the head of
    /// `list` (a writer, or every reader at the head) if the state allows
    /// it now, and makes the parked bits match what is left.
    fn grant(&self, list: &mut WaiterList, woken: &mut Woken) {
        let mut state = self.state.load(Ordering::Acquire);
        while let Some(head) = list.front() {
            let (grant, count) = if head.tag() == TAG_WRITER {
                if state & (WRITER | READERS) != 0 {
                    break;
                }
                (WRITER, 1)
            } else {
                if state & WRITER != 0 {
                    break;
                }
                let readers = list.iter().take_while(|w| w.tag() == TAG_READER).count();
                (ONE_READER * readers, readers)
            };
            match self.state.compare_exchange_weak(
                state,
                state + grant,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    for _ in 0..count {
                        list.wake_one(TOKEN_HANDOFF, woken);
                    }
                    break;
                }
                Err(actual) => state = actual,
            }
        }
        self.set_parked_bits(list);
    }

    /// Makes `PARKED`/`WRITER_PARKED` match the queue (under its lock).
    fn set_parked_bits(&self, list: &WaiterList) {
        let mut bits = 0;
        if !list.is_empty() {
            bits |= PARKED;
        }
        if list.iter().any(|w| w.tag() == TAG_WRITER) {
            bits |= WRITER_PARKED;
        }
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            let next = (state & !(PARKED | WRITER_PARKED)) | bits;
            if next == state {
                return;
            }
            match self.state.compare_exchange_weak(
                state,
                next,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(actual) => state = actual,
            }
        }
    }
}

/// `state` with one more reader.
///
/// # Panics
///
/// If the reader count would overflow (as std's lock, which panics with
/// "too many active read locks on RwLock").
#[inline]
fn add_reader(state: usize) -> usize {
    match state.checked_add(ONE_READER) {
        Some(next) => next,
        None => panic!("too many active read locks on RwLock"),
    }
}

/// A reader-writer lock; the green version of [`std::sync::RwLock`].
///
/// Same API, trait impls and poisoning as std's. Green threads blocked in
/// [`read`](RwLock::read) or [`write`](RwLock::write) switch to their hub;
/// plain OS threads run their own hub while they wait. Any mix of green
/// threads (on any hub) and OS threads may share one lock.
///
/// # Differences from std
///
/// * The policy is documented (std leaves it to the OS): FIFO queue; once a
///   writer waits, new readers wait behind it; a release hands the lock to
///   the head writer or to all the readers at the head. As with std, a
///   thread that takes a read lock it already holds may deadlock if a
///   writer is waiting.
/// * Uncontended `read`/`write` cost about two atomic operations more than
///   std's (two-layer design; see the source).
///
/// # Cancellation
///
/// [`read`](RwLock::read) and [`write`](RwLock::write) are cancellation
/// points when they wait (`green::rt::timeout`, `green::thread::Cancel`).
/// A cancelled waiter leaves the queue, letting in whoever it held back
/// (readers behind a waiting writer); one the lock had already been handed
/// to releases it again, which hands it to the next waiter. A writer
/// unwound by a cancel or a deadline while it holds the lock poisons it, a
/// reader does not: std's rule for panics.
///
/// # Examples
///
/// ```
/// use green_sync::RwLock;
///
/// let lock = RwLock::new(5);
/// {
///     let r1 = lock.read().unwrap();
///     let r2 = lock.read().unwrap();
///     assert_eq!(*r1 + *r2, 10);
/// }
/// *lock.write().unwrap() += 1;
/// assert_eq!(*lock.read().unwrap(), 6);
/// ```
pub struct RwLock<T: ?Sized> {
    raw: RawRwLock,
    data: std::sync::RwLock<T>,
}

/// RAII guard of shared read access to an [`RwLock`]; the green version of
/// [`std::sync::RwLockReadGuard`] (`!Send`, `Sync` when `T: Sync`).
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockReadGuard<'a, T: ?Sized + 'a> {
    // Field order is drop order: the std half goes first.
    inner: std::sync::RwLockReadGuard<'a, T>,
    _release: ReadRelease<'a>,
}

/// RAII guard of exclusive write access to an [`RwLock`]; the green version
/// of [`std::sync::RwLockWriteGuard`] (`!Send`, `Sync` when `T: Sync`).
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockWriteGuard<'a, T: ?Sized + 'a> {
    // Field order is drop order: the std half goes first.
    inner: std::sync::RwLockWriteGuard<'a, T>,
    release: WriteRelease<'a, T>,
}

struct ReadRelease<'a>(&'a RawRwLock);

impl Drop for ReadRelease<'_> {
    #[inline]
    fn drop(&mut self) {
        self.0.read_unlock();
    }
}

struct WriteRelease<'a, T: ?Sized>(&'a RwLock<T>);

impl<T: ?Sized> Drop for WriteRelease<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.0.raw.write_unlock();
    }
}

impl<T> RwLock<T> {
    /// Creates a new unlocked `RwLock` holding `t`.
    #[inline]
    pub const fn new(t: T) -> RwLock<T> {
        RwLock {
            raw: RawRwLock::new(),
            data: std::sync::RwLock::new(t),
        }
    }
}

impl<T: ?Sized> RwLock<T> {
    /// Locks with shared read access, blocking the current green thread (or
    /// OS thread) until it can be acquired.
    ///
    /// # Errors
    ///
    /// If the lock is poisoned, the guard comes inside the [`PoisonError`].
    ///
    /// # Panics
    ///
    /// If the number of readers would overflow.
    #[inline]
    pub fn read(&self) -> LockResult<RwLockReadGuard<'_, T>> {
        self.raw.read();
        self.read_guard()
    }

    /// Attempts to acquire shared read access without blocking.
    ///
    /// # Errors
    ///
    /// [`TryLockError::WouldBlock`] if a writer holds the lock or waits for
    /// it (as std's futex lock); [`TryLockError::Poisoned`] with the guard if
    /// acquired but poisoned.
    #[inline]
    pub fn try_read(&self) -> TryLockResult<RwLockReadGuard<'_, T>> {
        if !self.raw.try_read() {
            green_core::coop::consume();
            return Err(TryLockError::WouldBlock);
        }
        Ok(self.read_guard()?)
    }

    /// Locks with exclusive write access, blocking the current green thread
    /// (or OS thread) until it can be acquired.
    ///
    /// # Errors
    ///
    /// If the lock is poisoned, the guard comes inside the [`PoisonError`].
    #[inline]
    pub fn write(&self) -> LockResult<RwLockWriteGuard<'_, T>> {
        self.raw.write();
        self.write_guard()
    }

    /// Attempts to acquire exclusive write access without blocking.
    ///
    /// # Errors
    ///
    /// [`TryLockError::WouldBlock`] if the lock is held;
    /// [`TryLockError::Poisoned`] with the guard if acquired but poisoned.
    #[inline]
    pub fn try_write(&self) -> TryLockResult<RwLockWriteGuard<'_, T>> {
        if !self.raw.try_write() {
            green_core::coop::consume();
            return Err(TryLockError::WouldBlock);
        }
        Ok(self.write_guard()?)
    }

    /// Determines whether the lock is poisoned.
    #[inline]
    pub fn is_poisoned(&self) -> bool {
        self.data.is_poisoned()
    }

    /// Clears the poisoned state of the lock.
    #[inline]
    pub fn clear_poison(&self) {
        self.data.clear_poison();
    }

    /// Consumes the lock, returning the data.
    ///
    /// # Errors
    ///
    /// If the lock is poisoned, the data comes inside the [`PoisonError`].
    #[inline]
    pub fn into_inner(self) -> LockResult<T>
    where
        T: Sized,
    {
        self.data.into_inner()
    }

    /// Returns a mutable reference to the data (no locking needed).
    ///
    /// # Errors
    ///
    /// If the lock is poisoned, the reference comes inside the
    /// [`PoisonError`].
    #[inline]
    pub fn get_mut(&mut self) -> LockResult<&mut T> {
        self.data.get_mut()
    }

    /// Takes the std read half once the policy layer granted read access.
    fn read_guard(&self) -> LockResult<RwLockReadGuard<'_, T>> {
        let make = |inner| RwLockReadGuard {
            inner,
            _release: ReadRelease(&self.raw),
        };
        match self.data.try_read() {
            Ok(inner) => Ok(make(inner)),
            Err(TryLockError::Poisoned(p)) => Err(PoisonError::new(make(p.into_inner()))),
            Err(TryLockError::WouldBlock) => {
                self.raw.read_unlock();
                panic!("green RwLock: storage write-locked while read access was granted")
            }
        }
    }

    /// Takes the std write half once the policy layer granted write access.
    fn write_guard(&self) -> LockResult<RwLockWriteGuard<'_, T>> {
        let make = |inner| RwLockWriteGuard {
            inner,
            release: WriteRelease(self),
        };
        match self.data.try_write() {
            Ok(inner) => Ok(make(inner)),
            Err(TryLockError::Poisoned(p)) => Err(PoisonError::new(make(p.into_inner()))),
            Err(TryLockError::WouldBlock) => {
                self.raw.write_unlock();
                panic!("green RwLock: storage locked while write access was granted")
            }
        }
    }
}

impl<'a, T: ?Sized> RwLockWriteGuard<'a, T> {
    /// Downgrades a write-locked guard to a read-locked one, atomically: no
    /// writer can take the lock in between (std 1.92's `downgrade`). Readers
    /// waiting at the head of the queue are let in at once.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_sync::{RwLock, RwLockWriteGuard};
    ///
    /// let lock = RwLock::new(1);
    /// let mut w = lock.write().unwrap();
    /// *w += 1;
    /// let r = RwLockWriteGuard::downgrade(w);
    /// assert_eq!(*r, 2);
    /// assert!(lock.try_read().is_ok());
    /// assert!(lock.try_write().is_err());
    /// ```
    pub fn downgrade(s: Self) -> RwLockReadGuard<'a, T> {
        let RwLockWriteGuard { inner, release } = s;
        let lock = release.0;
        // Keep WRITER set while the std half changes mode: nobody else can
        // touch the storage meanwhile.
        std::mem::forget(release);
        drop(inner);
        let inner = match lock.data.try_read() {
            Ok(inner) => inner,
            // Poison is a property of the data, reported by the next lock;
            // `downgrade` itself returns the guard (as std's).
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            Err(TryLockError::WouldBlock) => {
                lock.raw.write_unlock();
                panic!("green RwLock: storage busy during downgrade")
            }
        };
        lock.raw.downgrade();
        RwLockReadGuard {
            inner,
            _release: ReadRelease(&lock.raw),
        }
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLock<T> {
    /// As std's: `RwLock { data: .., poisoned: .., .. }`, `<locked>` when
    /// read access is not available right now.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("RwLock");
        match self.try_read() {
            Ok(guard) => {
                d.field("data", &&*guard);
            }
            Err(TryLockError::Poisoned(err)) => {
                d.field("data", &&**err.get_ref());
            }
            Err(TryLockError::WouldBlock) => {
                d.field("data", &format_args!("<locked>"));
            }
        }
        d.field("poisoned", &self.is_poisoned());
        d.finish_non_exhaustive()
    }
}

impl<T: Default> Default for RwLock<T> {
    /// Creates a new `RwLock<T>` with the `Default` value of `T`.
    fn default() -> RwLock<T> {
        RwLock::new(T::default())
    }
}

impl<T> From<T> for RwLock<T> {
    /// Creates a new unlocked `RwLock` holding `t` (same as [`RwLock::new`]).
    fn from(t: T) -> Self {
        RwLock::new(t)
    }
}

impl<T: ?Sized> Deref for RwLockReadGuard<'_, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        &self.inner
    }
}

impl<T: ?Sized> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        &self.inner
    }
}

impl<T: ?Sized> DerefMut for RwLockWriteGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        &mut self.inner
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for RwLockReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for RwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}
