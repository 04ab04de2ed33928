//! Green threads, mirroring `std::thread`.
//!
//! [`spawn`] starts a green thread — a stackful coroutine — on one of the
//! worker hubs (see [`crate::runtime::workers`]) instead of a new OS thread.
//! It stays on that hub for life. Every item keeps std's name, signature and
//! behaviour; the differences are listed on each item and summed up here:
//!
//! * [`Thread`] and [`ThreadId`] are this module's own types (a std
//!   `Thread` cannot be unparked into a green thread). [`current`] on a plain
//!   OS thread returns a `Thread` for that OS thread, which green code can
//!   unpark.
//! * `thread_local!` values are per OS thread, so the green threads of one
//!   hub share them.
//! * There is no preemption: a green thread that computes without ever
//!   blocking keeps its hub's other green threads waiting.
//! * Stacks default to [`crate::runtime::DEFAULT_STACK_SIZE`] (512 KiB of
//!   address space; a parked thread costs the pages it touched) and never
//!   grow.
//!
//! Items that never block are std's own: [`available_parallelism`],
//! [`panicking`], [`Result`], [`LocalKey`], [`AccessError`], `thread_local!`.

use std::ffi::CString;
use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::num::NonZeroU64;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::coroutine::BodySlot;
use crate::ctx::{Ctx, TOKEN_EMPTY, TOKEN_NOTIFIED};
use crate::hub;
use crate::park::{self, Unparker};
use crate::runtime;
use crate::stack;

mod scoped;

pub use scoped::{scope, Scope, ScopedJoinHandle};

#[doc(no_inline)]
pub use std::thread::{available_parallelism, panicking, AccessError, LocalKey, Result};

#[doc(no_inline)]
pub use std::thread_local;

/// A unique identifier for a green thread or an OS thread, like
/// `std::thread::ThreadId`.
///
/// Differences from std: a separate type (std's cannot be constructed), and
/// an OS thread's green `ThreadId` differs from its std one.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct ThreadId(NonZeroU64);

/// A handle to a green thread (or to an OS thread, from [`current`]), like
/// `std::thread::Thread`.
///
/// Differences from std: [`Thread::unpark`] wakes a green thread without
/// blocking its hub, and wakes an OS thread parked in this module's [`park()`].
#[derive(Clone)]
pub struct Thread {
    inner: Arc<Ctx>,
}

impl Thread {
    /// The thread's unique identifier.
    pub fn id(&self) -> ThreadId {
        ThreadId(self.inner.id)
    }

    /// The thread's name: the one given to [`Builder::name`], or the OS
    /// thread's name for a `Thread` of an OS thread (`"main"` for the main
    /// thread); `None` for an unnamed green thread.
    pub fn name(&self) -> Option<&str> {
        self.inner.name()
    }

    /// Makes the thread's token available: a parked thread wakes, and a
    /// thread that is not parked returns at once from its next [`park()`].
    pub fn unpark(&self) {
        if self.inner.token.swap(TOKEN_NOTIFIED, Ordering::AcqRel) == TOKEN_EMPTY {
            self.inner.wake();
        }
    }
}

impl fmt::Debug for Thread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Thread")
            .field("id", &self.id())
            .field("name", &self.name())
            .finish_non_exhaustive()
    }
}

/// Cancels a thread: green's extension trait (std has no counterpart),
/// implemented for [`JoinHandle`], [`ScopedJoinHandle`] and [`Thread`].
///
/// The thread's current green blocking call, or its next one, unwinds with
/// the payload [`crate::cancel::Cancelled`], so its `join` returns
/// `Err(payload)` with `payload.is::<Cancelled>()`. Every green blocking
/// call is a cancellation point (see [`crate::cancel::timeout_at`] for the
/// list and the rules): blocking calls made while unwinding are not, code
/// inside [`crate::cancel::uncancellable`] defers it, and code that only
/// computes is not interrupted. Locks the thread holds are poisoned as by a
/// panic. The cancel is sticky: a thread that catches the unwind and goes
/// on unwinds again at its next cancellation point. Cancelling a finished
/// thread does nothing.
///
/// A `Thread` of a plain OS thread can be cancelled too: its next green
/// blocking call unwinds.
pub trait Cancel {
    /// Asks the thread to cancel (see the trait docs); returns at once.
    fn cancel(&self);
}

impl Cancel for Thread {
    fn cancel(&self) {
        self.inner.request_cancel();
    }
}

impl<T> Cancel for JoinHandle<T> {
    fn cancel(&self) {
        self.thread().cancel();
    }
}

impl<T> Cancel for ScopedJoinHandle<'_, T> {
    fn cancel(&self) {
        self.thread().cancel();
    }
}

/// The handle of the calling thread: the running green thread, or the OS
/// thread when called outside one.
pub fn current() -> Thread {
    Thread {
        inner: hub::with(|h| h.current_ctx()),
    }
}

/// Consumes the calling thread's token, blocking until one is available.
/// May return spuriously, as std's does.
///
/// On a green thread only that green thread waits; on an OS thread its hub
/// runs meanwhile.
pub fn park() {
    hub::with(|h| {
        while !h.with_current(take_token) {
            h.with_current(|c| c.note_wait(&crate::dump::THREAD_PARK, 0));
            h.park(None);
        }
    });
}

fn take_token(ctx: &Ctx) -> bool {
    ctx.token
        .compare_exchange(
            TOKEN_NOTIFIED,
            TOKEN_EMPTY,
            Ordering::AcqRel,
            Ordering::Acquire,
        )
        .is_ok()
}

/// Like [`park()`], but returns after `dur` at the latest.
pub fn park_timeout(dur: Duration) {
    let deadline = Instant::now().checked_add(dur);
    hub::with(|h| loop {
        if h.with_current(take_token) {
            return;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            // Returned without waiting (`park_timeout(ZERO)` in a loop is a
            // probe): spend budget, so spinning on it lets others run.
            h.consume();
            return;
        }
        h.with_current(|c| c.note_wait(&crate::dump::THREAD_PARK, 0));
        h.park(deadline);
    });
}

/// Like [`park_timeout`], with milliseconds.
#[deprecated(note = "replaced by `green_core::thread::park_timeout`")]
pub fn park_timeout_ms(ms: u32) {
    park_timeout(Duration::from_millis(u64::from(ms)));
}

/// Puts the calling thread to sleep for at least `dur`, like
/// `std::thread::sleep`. On a green thread only that green thread sleeps.
pub fn sleep(dur: Duration) {
    hub::sleep(dur);
}

/// Like [`sleep`], with milliseconds.
#[deprecated(note = "replaced by `green_core::thread::sleep`")]
pub fn sleep_ms(ms: u32) {
    sleep(Duration::from_millis(u64::from(ms)));
}

/// Lets other green threads on this hub run before the caller continues.
/// On an OS thread, runs the green threads ready on its hub, then yields the
/// OS thread as std does.
pub fn yield_now() {
    let green = hub::with(|h| h.yield_now());
    if !green {
        std::thread::yield_now();
    }
}

/// Spawns a green thread and returns its [`JoinHandle`], like
/// `std::thread::spawn`.
///
/// # Panics
///
/// As std: with `failed to spawn thread` when no stack can be had (see
/// [`Builder::spawn`] for the error).
#[track_caller]
pub fn spawn<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    Builder::new().spawn(f).expect("failed to spawn thread")
}

/// See [`crate::runtime::spawn_local`].
#[track_caller]
pub(crate) fn spawn_local<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let builder = Builder {
        local: true,
        ..Builder::default()
    };
    builder.spawn(f).expect("failed to spawn thread")
}

/// Configures a green thread before it is spawned, like
/// `std::thread::Builder`.
#[derive(Default)]
#[must_use = "must eventually spawn the thread"]
pub struct Builder {
    name: Option<String>,
    stack_size: Option<usize>,
    /// Place the thread on the caller's hub (`runtime::spawn_local`).
    local: bool,
}

impl fmt::Debug for Builder {
    /// std's output (`Builder { name: .., stack_size: .., no_hooks: false }`);
    /// green's placement flag is not shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("name", &self.name)
            .field("stack_size", &self.stack_size)
            .field("no_hooks", &false)
            .finish()
    }
}

impl Builder {
    /// A builder with no name and the default stack size.
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Names the thread; the name shows in panic messages and
    /// [`Thread::name`].
    pub fn name(mut self, name: String) -> Builder {
        self.name = Some(name);
        self
    }

    /// Sets the stack size in bytes.
    ///
    /// Differences from std: rounded up to whole pages, to at least
    /// [`crate::runtime::MIN_STACK_SIZE`], and up to a power of two for
    /// stacks of up to 64 MiB ([`crate::runtime::stack_size_for`] says what
    /// a size becomes). The stack never grows; overflowing it aborts the
    /// process with std's message, naming the green thread.
    pub fn stack_size(mut self, size: usize) -> Builder {
        self.stack_size = Some(size);
        self
    }

    /// Spawns the green thread.
    ///
    /// # Errors
    ///
    /// Every way of not getting a stack is an error here, never a thread that
    /// does not run:
    ///
    /// * `ErrorKind::InvalidInput` for a stack size that cannot be
    ///   represented once rounded (`usize::MAX`), as std;
    /// * `ErrorKind::WouldBlock` when the address space for the stack cannot
    ///   be had (a stack bigger than the machine allows, `ulimit -v`), the
    ///   kind std reports when it cannot map an OS thread's stack;
    /// * `ErrorKind::OutOfMemory` when [`crate::runtime::stack_budget`]
    ///   green threads are alive (`GREEN_MAX_STACKS`; on kernels without
    ///   `MADV_GUARD_INSTALL`, the budget derived from `vm.max_map_count`,
    ///   which the message names).
    ///
    /// # Panics
    ///
    /// As std, if the name contains a NUL byte.
    #[track_caller]
    pub fn spawn<F, T>(self, f: F) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        // SAFETY: `F` and `T` are `'static`, so nothing the thread uses can
        // dangle however long it runs.
        unsafe { self.spawn_unchecked(f) }
    }

    /// Spawns a green thread whose closure may borrow non-`'static` data,
    /// like std's `Builder::spawn_unchecked`.
    ///
    /// # Errors
    ///
    /// As [`Builder::spawn`].
    ///
    /// # Safety
    ///
    /// The caller must make sure the green thread finishes (is joined)
    /// before anything `f` or its result borrows is dropped — exactly std's
    /// contract.
    #[track_caller]
    pub unsafe fn spawn_unchecked<F, T>(self, f: F) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send,
        T: Send,
    {
        // SAFETY: forwarded from this function's own contract.
        unsafe { self.spawn_inner(f, None) }.map(JoinHandle)
    }

    /// Spawns a scoped green thread, like std's `Builder::spawn_scoped`.
    ///
    /// # Errors
    ///
    /// As [`Builder::spawn`].
    #[track_caller]
    pub fn spawn_scoped<'scope, 'env, F, T>(
        self,
        scope: &'scope Scope<'scope, 'env>,
        f: F,
    ) -> io::Result<ScopedJoinHandle<'scope, T>>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        // SAFETY: `scope()` does not return before every thread spawned in it
        // has finished and dropped its packet, so borrows of `'scope` data
        // outlive the thread.
        let inner = unsafe { self.spawn_inner(f, Some(scope.data().clone())) }?;
        Ok(ScopedJoinHandle::new(inner))
    }

    /// # Safety
    ///
    /// Everything `f` and `T` borrow must outlive the green thread.
    #[track_caller]
    unsafe fn spawn_inner<'a, 'scope, F, T>(
        self,
        f: F,
        scope: Option<Arc<scoped::ScopeData>>,
    ) -> io::Result<JoinInner<'scope, T>>
    where
        F: FnOnce() -> T + Send + 'a,
        T: Send + 'a,
        'scope: 'a,
    {
        let Builder {
            name,
            stack_size,
            local: self_local,
        } = self;
        if let Some(name) = &name {
            if let Err(e) = CString::new(name.as_bytes()) {
                panic!("thread name may not contain interior null bytes: {e:?}");
            }
        }
        let (stack, reservation) =
            stack::claim(stack_size.unwrap_or_else(runtime::default_stack_size))?;

        let target = if self_local { None } else { hub::placement() };
        let ctx = Arc::new(Ctx::new(name, std::panic::Location::caller()));
        let packet: Arc<Packet<'scope, T>> = Arc::new(Packet {
            scope,
            outcome: Mutex::new(Outcome::Running(None)),
            body: BodySlot::new(),
            _borrows: PhantomData,
        });
        if let Some(scope) = &packet.scope {
            scope.increment();
        }
        let completion = Completion(Some(packet.clone()));
        let main = move || {
            let result = panic::catch_unwind(AssertUnwindSafe(|| {
                crate::panic_hook::begin_short_backtrace(f)
            }));
            // The thread counts as finished for the budget before its joiner
            // can see the result, so a spawn right after `join` has room.
            drop(reservation);
            completion.complete(result);
        };
        // SAFETY: the caller guarantees that everything the closure borrows
        // outlives the green thread. The slot is this packet's, used by this
        // spawn only, and `main` owns `completion`, a reference to the
        // packet, until it is moved out of the slot.
        let main = unsafe { crate::coroutine::Body::new_in(&packet.body, main) };
        hub::spawn_on(target, ctx.clone(), main, stack);
        Ok(JoinInner {
            thread: Thread { inner: ctx },
            packet,
        })
    }
}

/// Where a green thread leaves its result for the joiner. Small on purpose:
/// a parked green thread keeps one alive (with its closure's slot, 48
/// bytes that are dead once the thread has started: the price of one
/// allocation per spawn instead of two).
struct Packet<'scope, T> {
    scope: Option<Arc<scoped::ScopeData>>,
    outcome: Mutex<Outcome<T>>,
    /// Where the thread's closure waits until it starts: one allocation
    /// for both, made and (after `join`) freed by the spawner. A separate
    /// box, freed by the hub that ran the thread, cost glibc's allocator
    /// more than the allocation itself.
    body: BodySlot,
    _borrows: PhantomData<&'scope ()>,
}

/// Where a green thread is in its life, as its joiner sees it.
enum Outcome<T> {
    /// Still running; the context waiting in `join`, if any.
    Running(Option<Unparker>),
    /// Finished with this result, not yet joined.
    Finished(Result<T>),
    /// The result was taken by `join`.
    Joined,
}

impl<T> Outcome<T> {
    /// Takes the result of a finished thread.
    fn take(&mut self) -> Option<Result<T>> {
        match std::mem::replace(self, Outcome::Joined) {
            Outcome::Finished(result) => Some(result),
            other => {
                *self = other;
                None
            }
        }
    }
}

impl<T> Packet<'_, T> {
    fn outcome(&self) -> std::sync::MutexGuard<'_, Outcome<T>> {
        // Nothing panics while holding the lock; recover anyway.
        self.outcome.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl<T> Drop for Packet<'_, T> {
    fn drop(&mut self) {
        // A panic nobody joined counts against the scope, as in std.
        let outcome = self.outcome.get_mut().unwrap_or_else(|p| p.into_inner());
        let unhandled_panic = matches!(outcome, Outcome::Finished(Err(_)));
        if panic::catch_unwind(AssertUnwindSafe(|| *outcome = Outcome::Joined)).is_err() {
            // std aborts here too: a result that panics on drop cannot be
            // reported to anyone.
            eprintln!("fatal runtime error: thread result panicked on drop");
            std::process::abort();
        }
        if let Some(scope) = &self.scope {
            scope.decrement(unhandled_panic);
        }
    }
}

/// Delivers a green thread's outcome exactly once: from the thread itself, or,
/// if the thread's body is dropped unrun (its hub's OS thread exited before
/// running it), an error payload from `Drop`.
struct Completion<'scope, T>(Option<Arc<Packet<'scope, T>>>);

impl<T> Completion<'_, T> {
    fn complete(mut self, result: Result<T>) {
        if let Some(packet) = self.0.take() {
            deliver(packet, result);
        }
    }
}

impl<T> Drop for Completion<'_, T> {
    fn drop(&mut self) {
        if let Some(packet) = self.0.take() {
            let msg =
                "the green thread never ran: the OS thread of its hub exited first".to_string();
            deliver(packet, Err(Box::new(msg)));
        }
    }
}

fn deliver<T>(packet: Arc<Packet<'_, T>>, result: Result<T>) {
    let joiner = match std::mem::replace(&mut *packet.outcome(), Outcome::Finished(result)) {
        Outcome::Running(joiner) => joiner,
        // Delivered twice: `Completion` makes that impossible.
        _ => unreachable!("a green thread's result was delivered twice"),
    };
    // Wake outside the lock.
    if let Some(joiner) = joiner {
        joiner.unpark();
    }
    // `packet` (the thread's reference) drops here, before the body returns:
    // for a scoped thread that may be the last reference, which releases the
    // scope.
}

/// The handle and packet shared by [`JoinHandle`] and [`ScopedJoinHandle`].
pub(crate) struct JoinInner<'scope, T> {
    thread: Thread,
    packet: Arc<Packet<'scope, T>>,
}

impl<T> JoinInner<'_, T> {
    fn join(self) -> Result<T> {
        let packet = &self.packet;
        {
            let mut outcome = packet.outcome();
            if let Some(result) = outcome.take() {
                return result;
            }
            *outcome = Outcome::Running(Some(park::unparker()));
        }
        // A join that unwinds (cancelled) takes its name off the packet.
        struct Withdraw<'a, 'scope, T>(&'a Packet<'scope, T>);
        impl<T> Drop for Withdraw<'_, '_, T> {
            fn drop(&mut self) {
                if let Outcome::Running(joiner) = &mut *self.0.outcome() {
                    *joiner = None;
                }
            }
        }
        let _withdraw = Withdraw(packet);
        loop {
            if let Some(result) = packet.outcome().take() {
                return result;
            }
            hub::park_at(&crate::dump::JOIN, 0, None);
        }
    }

    fn is_finished(&self) -> bool {
        let finished = matches!(*self.packet.outcome(), Outcome::Finished(_));
        if !finished {
            // A failed probe: polling `is_finished` in a loop must let the
            // thread it waits for run.
            hub::consume();
        }
        finished
    }
}

/// An owned permission to join a green thread, like `std::thread::JoinHandle`.
/// Dropping it detaches the thread.
pub struct JoinHandle<T>(JoinInner<'static, T>);

impl<T> JoinHandle<T> {
    /// The thread's handle.
    pub fn thread(&self) -> &Thread {
        &self.0.thread
    }

    /// Waits for the thread to finish and returns its result: `Err` with the
    /// panic payload if it panicked, as std.
    ///
    /// On a green thread only that green thread waits; on an OS thread its
    /// hub runs meanwhile.
    pub fn join(self) -> Result<T> {
        self.0.join()
    }

    /// Whether the thread has finished running its closure.
    pub fn is_finished(&self) -> bool {
        self.0.is_finished()
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle").finish_non_exhaustive()
    }
}
