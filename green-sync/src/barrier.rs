//! `Barrier` and `BarrierWaitResult`: std's algorithm (a generation counter
//! under a mutex, a condvar to wait on) over the green `Mutex` and `Condvar`.

use std::fmt;
use std::sync::PoisonError;

use crate::{Condvar, Mutex};

/// A barrier enables multiple threads to synchronize the beginning of some
/// computation; the green version of [`std::sync::Barrier`].
///
/// Green threads waiting at the barrier switch to their hub (so the others,
/// even on the same hub, can reach it); OS threads run their hub while they
/// wait. Green threads and OS threads may meet at the same barrier.
///
/// # Differences from std
///
/// None in behaviour: exactly one waiter per generation is the leader (the
/// last to arrive); `Barrier::new(0)` and `Barrier::new(1)` never block.
///
/// # Examples
///
/// ```
/// use green_sync::{Arc, Barrier};
///
/// let n = 10;
/// let barrier = Arc::new(Barrier::new(n));
/// let handles: Vec<_> = (0..n)
///     .map(|_| {
///         let b = Arc::clone(&barrier);
///         green_core::thread::spawn(move || b.wait().is_leader())
///     })
///     .collect();
/// let leaders = handles
///     .into_iter()
///     .map(|h| h.join().unwrap())
///     .filter(|&leader| leader)
///     .count();
/// assert_eq!(leaders, 1);
/// ```
pub struct Barrier {
    lock: Mutex<BarrierState>,
    cvar: Condvar,
    num_threads: usize,
}

/// The inner state of a double barrier.
struct BarrierState {
    count: usize,
    generation_id: usize,
}

/// Returned by [`Barrier::wait`] when all threads in the barrier have
/// rendezvoused; the green version of [`std::sync::BarrierWaitResult`].
pub struct BarrierWaitResult(bool);

impl fmt::Debug for Barrier {
    /// `Barrier { .. }`, as std's.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Barrier").finish_non_exhaustive()
    }
}

impl Barrier {
    /// Creates a new barrier that can block a given number of threads.
    #[must_use]
    #[inline]
    pub const fn new(n: usize) -> Barrier {
        Barrier {
            lock: Mutex::new(BarrierState {
                count: 0,
                generation_id: 0,
            }),
            cvar: Condvar::new(),
            num_threads: n,
        }
    }

    /// Blocks the current green thread (or OS thread) until all `n` have
    /// rendezvoused here; exactly one of them gets a result whose
    /// [`is_leader`](BarrierWaitResult::is_leader) is `true`. The barrier is
    /// reusable afterwards.
    pub fn wait(&self) -> BarrierWaitResult {
        // No user code runs under this lock; it is poisoned only by a
        // cancelled waiter taking its arrival back, which leaves the state
        // consistent. std's barrier uses a non-poisoning mutex.
        let mut lock = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        let local_gen = lock.generation_id;
        lock.count += 1;
        if lock.count < self.num_threads {
            // Cancelled while waiting, this caller takes its arrival back.
            let withdraw = Withdraw {
                barrier: self,
                generation: local_gen,
            };
            // Poison is ignored at every relock (not only the first, as
            // `wait_while` would): only a withdrawing waiter poisons this
            // lock, and that must not release anyone.
            while local_gen == lock.generation_id {
                lock = self.cvar.wait(lock).unwrap_or_else(PoisonError::into_inner);
            }
            drop(lock);
            std::mem::forget(withdraw);
            BarrierWaitResult(false)
        } else {
            lock.count = 0;
            lock.generation_id = lock.generation_id.wrapping_add(1);
            self.cvar.notify_all();
            BarrierWaitResult(true)
        }
    }
}

/// Held by a waiter while it waits for its generation to be released;
/// dropped only if the wait unwinds (a cancel or a `timeout`), and then
/// takes the waiter's arrival back, unless the generation was released
/// meanwhile (then the others have gone on and there is nothing to undo).
struct Withdraw<'a> {
    barrier: &'a Barrier,
    generation: usize,
}

impl Drop for Withdraw<'_> {
    fn drop(&mut self) {
        // Unwinding: this lock may wait (the barrier's lock is only held for
        // a few instructions), but it is not a cancellation point, and it
        // poisons the lock, which `wait` ignores.
        let mut state = self
            .barrier
            .lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if state.generation_id == self.generation {
            state.count -= 1;
        }
    }
}

impl fmt::Debug for BarrierWaitResult {
    /// `BarrierWaitResult { is_leader: .. }`, as std's.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BarrierWaitResult")
            .field("is_leader", &self.is_leader())
            .finish()
    }
}

impl BarrierWaitResult {
    /// Whether this thread is the "leader thread" for the call to
    /// [`Barrier::wait`].
    #[must_use]
    pub fn is_leader(&self) -> bool {
        self.0
    }
}
