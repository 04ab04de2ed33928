//! `Flight`: one pool job at a time per standard stream, across cancels.
//!
//! A standard stream's blocking call runs as a job on green-core's blocking
//! pool while its caller parks in `unblock`. A caller that is cancelled (or
//! whose `timeout` passes) leaves at once, and its job runs on: a pool
//! thread cannot be interrupted inside `read(0)` or a `write` to a full
//! pipe. If the next caller started its own job right away, two jobs would
//! race for std's lock (writes could land out of program order) and every
//! cancelled wait on an idle stdin would leave one more pool thread blocked.
//! So each stream has a `Flight`: a caller first waits (parked, and that
//! wait is a cancellation point too) until the stream's previous job has
//! finished, and only then starts its own. A cancelled stream call thus
//! holds at most one pool thread, until the stream can make progress.

use std::sync::{Mutex as StdMutex, MutexGuard as StdMutexGuard, PoisonError};

use green_core::dump::WaitSite;
use green_core::park::{self, Unparker};

/// Where a stream call waits for the job a cancelled caller left running.
static FLIGHT_WAIT: WaitSite = WaitSite::new("std stream: earlier call still on the pool");

/// At most one pool job at a time for one stream (see the module docs).
pub(crate) struct Flight {
    state: StdMutex<FlightState>,
}

struct FlightState {
    /// A job of this stream is on the pool (queued or running).
    busy: bool,
    /// Callers waiting for it to finish (the stream's own lock admits one
    /// caller at a time, so this holds one at most in practice).
    waiters: Vec<Unparker>,
}

impl Flight {
    pub(crate) const fn new() -> Flight {
        Flight {
            state: StdMutex::new(FlightState {
                busy: false,
                waiters: Vec::new(),
            }),
        }
    }

    /// The state; held only for a few instructions, never across a park or
    /// user code, so its poisoning (by an unwinding caller) is ignored.
    fn lock(&self) -> StdMutexGuard<'_, FlightState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until no job of this stream is on the pool, and returns the
    /// stream's turn: while it is held, no job of the stream runs, so what
    /// an earlier job left behind can be looked at before starting another.
    ///
    /// The wait is a cancellation point: a cancelled caller leaves without
    /// a turn and without an entry on the waiter list.
    pub(crate) fn turn(&'static self) -> Turn {
        loop {
            let me = park::unparker();
            {
                let mut state = self.lock();
                if !state.busy {
                    state.busy = true;
                    return Turn(self);
                }
                state.waiters.push(me.clone());
            }
            let leave = Leave { flight: self, me };
            park::park_at(&FLIGHT_WAIT, None);
            drop(leave);
        }
    }
}

/// A stream's turn ([`Flight::turn`]): dropping it lets the next caller in.
pub(crate) struct Turn(&'static Flight);

impl Turn {
    /// Runs `job` on the blocking pool (through `green_core::unblock`, so
    /// inline on a plain OS thread whose hub has no green threads) and
    /// waits for its result. The turn goes with the job and ends when the
    /// job does, also if the caller was cancelled and left meanwhile (its
    /// result is then dropped, so a job that must not lose what it produced
    /// stores it elsewhere first).
    pub(crate) fn run<T, F>(self, job: F) -> T
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        green_core::unblock(move || {
            // Moved in first, dropped last: whatever `job` leaves behind is
            // in place before the next caller is let in (also if it panics).
            let _turn = self;
            job()
        })
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        let waiters = {
            let mut state = self.0.lock();
            state.busy = false;
            std::mem::take(&mut state.waiters)
        };
        // Wake outside the lock.
        for w in waiters {
            w.unpark();
        }
    }
}

/// Takes a waiting caller off the list when its park returns or unwinds,
/// so a cancelled caller leaves nothing behind.
struct Leave {
    flight: &'static Flight,
    me: Unparker,
}

impl Drop for Leave {
    fn drop(&mut self) {
        self.flight
            .lock()
            .waiters
            .retain(|w| !w.same_context(&self.me));
    }
}
