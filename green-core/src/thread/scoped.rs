//! Scoped green threads, mirroring `std::thread::scope`.

use std::fmt;
use std::marker::PhantomData;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use super::{Builder, JoinInner, Result, Thread};
use crate::park::{self, Unparker};

/// What a scope and its threads share.
pub(crate) struct ScopeData {
    /// Threads spawned in the scope whose packet is still alive.
    running: AtomicUsize,
    /// A thread panicked and nobody joined it.
    a_thread_panicked: AtomicBool,
    /// The context that called `scope` and waits for `running` to reach 0.
    owner: Unparker,
    /// The same context as a `Thread`, for `Debug` (std shows it).
    main_thread: Thread,
}

impl ScopeData {
    pub(crate) fn increment(&self) {
        // A scope cannot spawn more threads than fit in memory; the counter
        // cannot overflow before allocation fails.
        self.running.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn decrement(&self, panicked: bool) {
        if panicked {
            self.a_thread_panicked.store(true, Ordering::Relaxed);
        }
        if self.running.fetch_sub(1, Ordering::Release) == 1 {
            self.owner.unpark();
        }
    }
}

/// A scope to spawn scoped green threads in, like `std::thread::Scope`.
pub struct Scope<'scope, 'env: 'scope> {
    data: Arc<ScopeData>,
    /// Invariance over `'scope`, as std: threads can only borrow what lives
    /// for the whole scope.
    scope: PhantomData<&'scope mut &'scope ()>,
    env: PhantomData<&'env mut &'env ()>,
}

/// An owned permission to join a scoped green thread, like
/// `std::thread::ScopedJoinHandle`.
pub struct ScopedJoinHandle<'scope, T>(JoinInner<'scope, T>);

/// Creates a scope for spawning scoped green threads, like
/// `std::thread::scope`: every thread spawned in it is finished before
/// `scope` returns, so they may borrow from the caller.
///
/// # Panics
///
/// As std: if `f` panics, the panic is resumed after all threads finished;
/// otherwise, if any thread panicked and was not joined, with
/// `a scoped thread panicked`.
///
/// # Examples
///
/// ```
/// let mut a = vec![1, 2, 3];
/// let mut x = 0;
/// green_core::thread::scope(|s| {
///     s.spawn(|| println!("a has {} items", a.len()));
///     s.spawn(|| x += a[0] + a[2]);
/// });
/// a.push(4);
/// assert_eq!(x, a.len());
/// ```
#[track_caller]
pub fn scope<'env, F, T>(f: F) -> T
where
    F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> T,
{
    let scope = Scope {
        data: Arc::new(ScopeData {
            running: AtomicUsize::new(0),
            a_thread_panicked: AtomicBool::new(false),
            owner: park::unparker(),
            main_thread: super::current(),
        }),
        scope: PhantomData,
        env: PhantomData,
    };
    let result = panic::catch_unwind(AssertUnwindSafe(|| f(&scope)));
    while scope.data.running.load(Ordering::Acquire) != 0 {
        park::park(None);
    }
    match result {
        Err(payload) => panic::resume_unwind(payload),
        Ok(_) if scope.data.a_thread_panicked.load(Ordering::Relaxed) => {
            panic!("a scoped thread panicked")
        }
        Ok(value) => value,
    }
}

impl<'scope> Scope<'scope, '_> {
    pub(crate) fn data(&self) -> &Arc<ScopeData> {
        &self.data
    }

    /// Spawns a scoped green thread, like `std::thread::Scope::spawn`.
    ///
    /// # Panics
    ///
    /// With `failed to spawn thread` when no stack can be had, as std.
    #[track_caller]
    pub fn spawn<F, T>(&'scope self, f: F) -> ScopedJoinHandle<'scope, T>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        Builder::new()
            .spawn_scoped(self, f)
            .expect("failed to spawn thread")
    }
}

impl<'scope, T> ScopedJoinHandle<'scope, T> {
    pub(crate) fn new(inner: JoinInner<'scope, T>) -> Self {
        ScopedJoinHandle(inner)
    }

    /// The thread's handle.
    pub fn thread(&self) -> &Thread {
        &self.0.thread
    }

    /// Waits for the thread and returns its result (`Err` with the panic
    /// payload if it panicked); a joined panic no longer fails the scope.
    pub fn join(self) -> Result<T> {
        self.0.join()
    }

    /// Whether the thread has finished running its closure.
    pub fn is_finished(&self) -> bool {
        self.0.is_finished()
    }
}

impl fmt::Debug for Scope<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scope")
            .field(
                "num_running_threads",
                &self.data.running.load(Ordering::Relaxed),
            )
            .field(
                "a_thread_panicked",
                &self.data.a_thread_panicked.load(Ordering::Relaxed),
            )
            .field("main_thread", &self.data.main_thread)
            .finish_non_exhaustive()
    }
}

impl<T> fmt::Debug for ScopedJoinHandle<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopedJoinHandle").finish_non_exhaustive()
    }
}
