//! `Barrier` and `BarrierWaitResult`: std's algorithm (a count and a
//! generation number; the last to arrive starts the next generation and
//! wakes the others) with the waiting done on the crate's [`WaitQueue`].
//!
//! The count lives under a short `std::sync::Mutex` that nothing ever holds
//! across a park, and the generation in an atomic that a waiter re-checks
//! under the queue lock before it parks (the leader bumps it before it
//! takes that lock to wake everyone), so no wake-up is lost. Because the
//! state lock never waits, a waiter that is cancelled can take its arrival
//! back from a drop guard without blocking while it unwinds.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex as StdMutex, MutexGuard as StdMutexGuard, PoisonError};

use crate::sites;
use crate::waiter::WaitQueue;

/// Token of a waiter released by its generation's leader.
const TOKEN_RELEASED: usize = 1;

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
    /// Arrivals in the current generation.
    count: StdMutex<usize>,
    /// The current generation; changed only under `count`'s lock, read by
    /// waiters under the queue lock.
    generation: AtomicUsize,
    /// Waiters of the current generation.
    queue: WaitQueue,
    num_threads: usize,
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
            count: StdMutex::new(0),
            generation: AtomicUsize::new(0),
            queue: WaitQueue::new(),
            num_threads: n,
        }
    }

    /// The arrival count. Nothing panics or parks under this lock, so its
    /// poisoning cannot come from here; it is ignored anyway.
    fn count(&self) -> StdMutexGuard<'_, usize> {
        self.count.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Blocks the current green thread (or OS thread) until all `n` have
    /// rendezvoused here; exactly one of them gets a result whose
    /// [`is_leader`](BarrierWaitResult::is_leader) is `true`. The barrier is
    /// reusable afterwards.
    ///
    /// # Cancellation
    ///
    /// The wait is a cancellation point (`green::rt::timeout`,
    /// `green::thread::Cancel`). A waiter cancelled before its generation
    /// is complete takes its arrival back, as if it had never called
    /// `wait`: the others go on waiting for `n` arrivals (std has no way to
    /// leave a barrier; a thread that never arrives leaves the others
    /// waiting there too). One cancelled after the last arrival released
    /// its generation changes nothing: the others have gone on.
    pub fn wait(&self) -> BarrierWaitResult {
        let mut count = self.count();
        let generation = self.generation.load(Ordering::Relaxed);
        *count += 1;
        if *count >= self.num_threads {
            // The leader: start the next generation, then wake this one
            // (outside the count's lock).
            *count = 0;
            self.generation
                .store(generation.wrapping_add(1), Ordering::SeqCst);
            drop(count);
            self.queue.unpark_all(TOKEN_RELEASED);
            return BarrierWaitResult(true);
        }
        drop(count);
        let withdraw = Withdraw {
            barrier: self,
            generation,
        };
        loop {
            let ticket = self.queue.enqueue_if(0, false, &sites::BARRIER, |_| {
                // Under the queue lock: the leader bumps the generation
                // before it takes this lock to wake everyone.
                self.generation.load(Ordering::SeqCst) == generation
            });
            let Some(ticket) = ticket else {
                break;
            };
            // The only token is `TOKEN_RELEASED`, given to every waiter at
            // once: nothing to pass on if cancelled after it.
            let _token = ticket.wait(None, |_, _| {}, |_| {});
            if self.generation.load(Ordering::SeqCst) != generation {
                break;
            }
        }
        std::mem::forget(withdraw);
        BarrierWaitResult(false)
    }
}

/// Held by a waiter while it waits for its generation to be released;
/// dropped only if the wait unwinds (a cancel or a `timeout`), and then
/// takes the waiter's arrival back, unless the generation was released
/// meanwhile. Never parks: the count's lock is never held across a wait.
struct Withdraw<'a> {
    barrier: &'a Barrier,
    generation: usize,
}

impl Drop for Withdraw<'_> {
    fn drop(&mut self) {
        let mut count = self.barrier.count();
        if self.barrier.generation.load(Ordering::Relaxed) == self.generation {
            *count -= 1;
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
