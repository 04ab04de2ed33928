//! The blocking pool: real blocking code runs on a shared, bounded, growing
//! set of OS threads while only the calling context waits.
//!
//! A job is queued; an idle pool thread takes it, or a new one is started if
//! none is idle and the pool is under its limit
//! ([`crate::runtime::blocking_threads`]); otherwise the job waits its turn.
//! Threads idle for [`IDLE_RETIRE`] exit.

use std::collections::VecDeque;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::Duration;

use crate::park::{self, Unparker};

/// How long a pool thread waits for work before it exits.
const IDLE_RETIRE: Duration = Duration::from_secs(10);

/// How long the one spinning pool thread watches the queue after a job before
/// it sleeps on the condvar: a green thread doing many small file operations
/// submits the next one within microseconds, and a spinning thread takes it
/// without the futex wake-up (several microseconds here).
const SPIN: Duration = Duration::from_micros(20);

type Job = Box<dyn FnOnce() + Send + 'static>;

struct Pool {
    state: Mutex<PoolState>,
    work: Condvar,
    /// Jobs in `state.queue`, readable without the lock (for the spinner).
    queued: AtomicUsize,
    /// A pool thread is spinning for work. The first `submit` that finds it
    /// set clears it and leaves its job to the spinner (no notify, no new
    /// thread); later ones go the usual way. See `submit`.
    spinning: AtomicBool,
}

struct PoolState {
    queue: VecDeque<Job>,
    threads: usize,
    idle: usize,
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| Pool {
        state: Mutex::new(PoolState {
            queue: VecDeque::new(),
            threads: 0,
            idle: 0,
        }),
        work: Condvar::new(),
        queued: AtomicUsize::new(0),
        spinning: AtomicBool::new(false),
    })
}

impl Pool {
    fn submit(&'static self, job: Job) {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.queue.push_back(job);
        self.queued.fetch_add(1, Ordering::SeqCst);
        // A spinning thread takes this job: it re-checks the queue under the
        // lock when its spin ends, which a claim ends at once. Only one job
        // per spin may count on it, or jobs queued meanwhile would run one
        // after another on that one thread (eight 300 ms lookups took 2.4 s)
        // and wait behind a job that never returns.
        if self.spinning.load(Ordering::SeqCst)
            && self
                .spinning
                .compare_exchange(true, false, Ordering::SeqCst, Ordering::Relaxed)
                .is_ok()
        {
            return;
        }
        // An idle thread leaves `idle` only when it wakes, so one already
        // notified still counts there, with the job it will take still in
        // the queue: wake one only while the waiting jobs, this one
        // included, are no more than the waiting threads, or jobs queued
        // at once would all run on the one that wakes first.
        if st.queue.len() <= st.idle {
            drop(st);
            self.work.notify_one();
            return;
        }
        if st.threads < crate::runtime::blocking_threads() {
            st.threads += 1;
            drop(st);
            let started = std::thread::Builder::new()
                .name("green-blocking".into())
                .spawn(move || self.worker());
            if started.is_err() {
                // No thread could be started; the job stays queued for the
                // threads that exist. With none at all it would never run, so
                // run it here rather than lose it.
                let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
                st.threads -= 1;
                if st.threads == 0 {
                    let jobs: Vec<Job> = st.queue.drain(..).collect();
                    drop(st);
                    for job in jobs {
                        job();
                    }
                }
            }
        }
    }

    fn worker(&self) {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(job) = st.queue.pop_front() {
                self.queued.fetch_sub(1, Ordering::SeqCst);
                drop(st);
                // Jobs catch their own panics (see `unblock`).
                job();
                self.spin_for_work();
                st = self.state.lock().unwrap_or_else(|p| p.into_inner());
                continue;
            }
            st.idle += 1;
            let (next, timeout) = self
                .work
                .wait_timeout(st, IDLE_RETIRE)
                .unwrap_or_else(|p| p.into_inner());
            st = next;
            st.idle -= 1;
            if timeout.timed_out() && st.queue.is_empty() {
                st.threads -= 1;
                return;
            }
        }
    }
}

impl Pool {
    /// Becomes the spinner (if no other thread is) and watches `queued` for a
    /// short while. Returns when work appears or the spin runs out; either
    /// way the caller re-checks the queue under the lock.
    fn spin_for_work(&self) {
        if self
            .spinning
            .compare_exchange(false, true, Ordering::SeqCst, Ordering::Relaxed)
            .is_err()
        {
            return;
        }
        let until = std::time::Instant::now() + SPIN;
        'spin: loop {
            for _ in 0..64 {
                // Claimed by a `submit`, or work queued another way.
                if !self.spinning.load(Ordering::SeqCst) || self.queued.load(Ordering::SeqCst) > 0 {
                    break 'spin;
                }
                std::hint::spin_loop();
            }
            if std::time::Instant::now() >= until {
                break;
            }
        }
        self.spinning.store(false, Ordering::SeqCst);
    }
}

/// Where a job leaves its result for the waiting context.
struct Slot<T> {
    result: Mutex<Option<std::thread::Result<T>>>,
    done: AtomicBool,
    waiter: Unparker,
}

/// Runs blocking `f` on the blocking pool and waits for its result, parking
/// only the calling green thread (others on its hub keep running).
///
/// On a plain OS thread whose hub has no green threads, `f` simply runs
/// inline, as std would run it (unless a deadline scope is open there: see
/// below). Otherwise it goes to the pool and the thread runs its hub while
/// it waits.
///
/// # Cancellation
///
/// The wait is a cancellation point (`cancel::timeout`, `thread::Cancel`):
/// a cancelled caller is released at once, and `f`, which cannot be
/// interrupted, runs to completion on the pool; its result (or panic) is
/// dropped there. Inside a `timeout` scope `f` always goes to the pool,
/// also from a plain OS thread, so the deadline can release the caller.
///
/// # Panics
///
/// A panic in `f` is caught on the pool thread and resumed in the caller,
/// with the same payload.
///
/// # Examples
///
/// ```
/// let len = green_core::unblock(|| std::fs::read("Cargo.toml").map(|b| b.len()));
/// assert!(len.unwrap() > 0);
/// ```
pub fn unblock<F, T>(f: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    // Inline only where nothing could interrupt the wait anyway: a plain OS
    // thread with no green threads on its hub, and no deadline or pending
    // cancel that applies (one hidden by `uncancellable` does not). Under a
    // deadline the job goes to the pool, so that the deadline can release
    // the caller.
    let inline = crate::hub::with(|h| {
        !h.in_green()
            && h.shared.live.load(Ordering::Relaxed) == 0
            && !crate::cancel::may_interrupt(h)
    });
    if inline {
        return f();
    }
    let slot = std::sync::Arc::new(Slot {
        result: Mutex::new(None),
        done: AtomicBool::new(false),
        waiter: park::unparker(),
    });
    let theirs = slot.clone();
    let caller = slot.waiter.ctx();
    pool().submit(Box::new(move || {
        // A panic in `f` is reported under the caller's name.
        let r = crate::panic_hook::acting_for(caller, || {
            panic::catch_unwind(AssertUnwindSafe(|| {
                crate::panic_hook::begin_short_backtrace(f)
            }))
        });
        *theirs.result.lock().unwrap_or_else(|p| p.into_inner()) = Some(r);
        theirs.done.store(true, Ordering::Release);
        theirs.waiter.unpark();
    }));
    while !slot.done.load(Ordering::Acquire) {
        crate::hub::park_at(&crate::dump::UNBLOCK, 0, None);
    }
    let result = slot
        .result
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take()
        .expect("blocking job finished without a result");
    match result {
        Ok(v) => v,
        Err(payload) => panic::resume_unwind(payload),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Instant;

    const N: usize = 4;

    /// Submits `N` jobs at once that each wait (up to 5 s) until all `N`
    /// have started, and returns how many each saw started.
    fn submit_meeting_jobs(pool: &'static Pool) -> Vec<usize> {
        let started = std::sync::Arc::new((Mutex::new(0usize), Condvar::new()));
        let (tx, rx) = mpsc::channel();
        for _ in 0..N {
            let (started, tx) = (started.clone(), tx.clone());
            pool.submit(Box::new(move || {
                let (count, all) = &*started;
                let mut n = count.lock().unwrap();
                *n += 1;
                all.notify_all();
                let (n, _) = all
                    .wait_timeout_while(n, Duration::from_secs(5), |n| *n < N)
                    .unwrap();
                tx.send(*n).unwrap();
            }));
        }
        (0..N).map(|_| rx.recv().unwrap()).collect()
    }

    /// Jobs submitted at once run side by side, whether a pool thread is
    /// spinning for work (it takes one of them) or idle (a notified thread
    /// takes one): the others get threads of their own instead of queueing
    /// behind it. Each of four jobs waits (up to 5 s) for all four to have
    /// started; run one after another, none would see the others.
    #[test]
    fn jobs_submitted_during_a_spin_run_side_by_side() {
        let pool = pool();
        // Catch a pool thread in its spin after a job, to submit into it
        // (most tries do; the check below holds either way).
        for _ in 0..1000 {
            let (tx, rx) = mpsc::channel();
            pool.submit(Box::new(move || tx.send(()).unwrap()));
            rx.recv().unwrap();
            let until = Instant::now() + Duration::from_millis(1);
            while !pool.spinning.load(Ordering::SeqCst) && Instant::now() < until {
                std::hint::spin_loop();
            }
            if pool.spinning.load(Ordering::SeqCst) {
                break;
            }
        }
        assert_eq!(
            submit_meeting_jobs(pool),
            [N; N],
            "jobs ran one after another"
        );
    }

    /// The same after the pool's threads have gone idle (past their spin).
    #[test]
    fn jobs_submitted_to_an_idle_pool_run_side_by_side() {
        let pool = pool();
        let (tx, rx) = mpsc::channel();
        pool.submit(Box::new(move || tx.send(()).unwrap()));
        rx.recv().unwrap();
        // Wait (bounded) until some pool thread waits on the condvar.
        let until = Instant::now() + Duration::from_secs(2);
        while pool.state.lock().unwrap().idle == 0 && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(
            submit_meeting_jobs(pool),
            [N; N],
            "jobs ran one after another"
        );
    }
}
