//! The waiter queue: where green-sync parks.
//!
//! Every blocking type of the crate (`Mutex`, `RwLock`, `Condvar`, `Once`,
//! `OnceLock`, `LazyLock`, `Barrier`, `mpsc`)
//! sits on the two items here:
//!
//! * [`Waiter`] — one parked context (a green thread, or a plain OS thread
//!   running its hub) and the *token* a waker hands it. [`Waiter::wait`] is
//!   the loop around `green_core::park::park` for all of them but one: a
//!   channel's receiver, alone of its kind and woken with no token, parks
//!   with its bare context (`mpsc.rs`, `Chan::recv`; [`Woken::push_context`]
//!   wakes it).
//! * [`WaitQueue`] — a FIFO of waiters behind a short internal lock, with
//!   parking_lot's "validate under the queue lock" handshake
//!   ([`WaitQueue::enqueue_if`]) and wakers that choose whom to wake and what
//!   token to give while holding that lock ([`WaitQueue::unpark_with`]).
//!   The channels keep a [`WaiterList`] under their own lock instead.
//!
//! # The handshake
//!
//! A waiter that decides to sleep does, in order:
//!
//! 1. take the queue lock, re-check its condition (`validate`), and if it
//!    still has to wait, publish that fact where wakers look (a bit or a count
//!    in the primitive's own atomic word) and push itself on the list;
//! 2. release the queue lock;
//! 3. loop on `green_core::park::park` until its token is no longer
//!    [`WAITING`] (or its deadline passes).
//!
//! A waker changes the primitive's state, sees the published bit or count,
//! takes the queue lock, pops waiters and stores their tokens, releases the
//! lock, and only then calls `Unparker::unpark` (wake outside locks).
//!
//! No wake-up is lost: because step 1 runs under the queue lock, a waker either
//! changed the state before `validate` (which then sees it and does not park),
//! or it sees the published bit and pops the waiter after it was pushed. The
//! token is stored before the unpark, and `park` returns at once for an unpark
//! that arrived before it (green-core's contract), so a waiter woken between
//! steps 2 and 3 does not sleep. A waiter whose deadline passes removes itself
//! under the lock; if it is no longer on the list, a waker got there first and
//! the token is final.
//!
//! # Cancellation
//!
//! The park inside [`Waiter::wait`] is a cancellation point (green-core): a
//! cancel or a passed `timeout` deadline unwinds out of it. A waiter that
//! unwinds does what a timed-out one does, from a drop guard in
//! [`Ticket::wait`] (the channels have their own guards in `mpsc.rs`): under
//! the queue lock it removes itself and lets the primitive fix its published
//! bits and counts (`left`). If it is no longer listed, a waker got there
//! first and handed it a token that now nobody will act on, so the
//! primitive passes it on (`forfeit`): a lock hand-over is released to the
//! next waiter, a notification goes to another waiter, a wake for a free
//! slot wakes another sender. Either way no entry stays behind (the list
//! holds the waiter's context alive, which `green_core::dump::counters`
//! would show) and nothing a waker handed out is lost. The guard runs while
//! unwinding, so it never parks through a cancellation point and never
//! unwinds again (it only takes the queue lock and unparks).
//!
//! # Memory ordering
//!
//! Tokens are stored with `Release` under the queue lock and read with
//! `Acquire`, so whatever the waker wrote before handing a token (a value in a
//! rendezvous slot, the ownership of a lock) is visible to the woken waiter.
//! The queue lock orders everything else.
//!
//! # Internal lock
//!
//! The list sits behind a `std::sync::Mutex` held only for O(1) list edits (and
//! the O(n) removal of a timed-out waiter); nothing parks, allocates user
//! values or runs user code under it, so it is never held across a switch.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex as StdMutex, MutexGuard as StdMutexGuard, PoisonError};
use std::time::Instant;

use green_core::dump::WaitSite;
use green_core::park::{self, Unparker};

/// Token of a waiter nobody has woken yet.
pub(crate) const WAITING: usize = 0;

/// One parked context and the token its waker hands it.
#[derive(Debug)]
pub(crate) struct Waiter {
    /// Wakes the context that created this waiter (any thread, any hub).
    unparker: Unparker,
    /// [`WAITING`] until a waker removes the waiter from its list and stores
    /// its token (any other value, chosen by the primitive). Written only
    /// under the lock of the list holding the waiter.
    token: AtomicUsize,
    /// What the waiter waits for (reader or writer, say); fixed at creation.
    tag: usize,
    /// The primitive it waits in, for green-thread dumps.
    site: &'static WaitSite,
}

impl Waiter {
    /// A waiter for the calling context, waiting in the primitive `site`
    /// names.
    pub(crate) fn new(tag: usize, site: &'static WaitSite) -> Arc<Waiter> {
        Arc::new(Waiter {
            unparker: park::unparker(),
            token: AtomicUsize::new(WAITING),
            tag,
            site,
        })
    }

    /// What this waiter waits for.
    pub(crate) fn tag(&self) -> usize {
        self.tag
    }

    /// The token, or [`WAITING`].
    pub(crate) fn token(&self) -> usize {
        self.token.load(Ordering::Acquire)
    }

    /// Hands the waiter its token. Callers hold the lock of the list the
    /// waiter was just removed from, and call [`Waiter::unpark`] after
    /// releasing it.
    pub(crate) fn set_token(&self, token: usize) {
        debug_assert_ne!(token, WAITING, "a wake token must not be WAITING");
        self.token.store(token, Ordering::Release);
    }

    /// Wakes the waiter's context (after [`Waiter::set_token`]).
    pub(crate) fn unpark(&self) {
        self.unparker.unpark();
    }

    /// Parks the calling context (which must be the one that created this
    /// waiter) until a token arrives or `deadline` passes. Returns the token,
    /// or `None` when the deadline passed first; in that case the waiter may
    /// still be on its list and the caller must remove it under the list's
    /// lock (and look at the token once more: a waker may have won the race).
    ///
    /// The park is a cancellation point: it may unwind, with the waiter in
    /// the same two possible states, and the caller's drop guard must do the
    /// same removal (see the module docs, Cancellation).
    ///
    /// The loop around `park` for every waiter of the crate. A green thread
    /// switches to its hub here; an OS thread runs its own hub.
    pub(crate) fn wait(&self, deadline: Option<Instant>) -> Option<usize> {
        #[cfg(test)]
        schedule::point(schedule::Point::AfterEnqueue);
        loop {
            let token = self.token();
            if token != WAITING {
                return Some(token);
            }
            if let Some(deadline) = deadline {
                if Instant::now() >= deadline {
                    return None;
                }
            }
            #[cfg(test)]
            schedule::point(schedule::Point::BeforePark);
            park::park_at(self.site, deadline);
        }
    }
}

/// A FIFO of waiters; used bare under a primitive's own lock (the channels),
/// or inside a [`WaitQueue`].
#[derive(Debug, Default)]
pub(crate) struct WaiterList {
    list: VecDeque<Arc<Waiter>>,
}

impl WaiterList {
    /// An empty list.
    pub(crate) const fn new() -> WaiterList {
        WaiterList {
            list: VecDeque::new(),
        }
    }

    /// Whether nobody waits.
    pub(crate) fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The oldest waiter.
    pub(crate) fn front(&self) -> Option<&Arc<Waiter>> {
        self.list.front()
    }

    /// Waiters from oldest to newest.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Arc<Waiter>> {
        self.list.iter()
    }

    /// Appends a waiter (or puts it first: a woken waiter that lost a race
    /// goes back to the head, as Go's mutex does).
    pub(crate) fn push(&mut self, waiter: Arc<Waiter>, front: bool) {
        if front {
            self.list.push_front(waiter);
        } else {
            self.list.push_back(waiter);
        }
    }

    /// Removes `waiter` if it is still listed; `false` when a waker already
    /// took it.
    pub(crate) fn remove(&mut self, waiter: &Arc<Waiter>) -> bool {
        match self.list.iter().position(|w| Arc::ptr_eq(w, waiter)) {
            Some(i) => {
                self.list.remove(i);
                true
            }
            None => false,
        }
    }

    /// Removes the oldest waiter, gives it `token` and queues it on `woken`.
    /// Returns whether there was one.
    pub(crate) fn wake_one(&mut self, token: usize, woken: &mut Woken) -> bool {
        match self.list.pop_front() {
            Some(w) => {
                woken.push(w, token);
                true
            }
            None => false,
        }
    }

    /// Removes every waiter, giving each `token`; returns how many.
    pub(crate) fn wake_all(&mut self, token: usize, woken: &mut Woken) -> usize {
        let n = self.list.len();
        for w in self.list.drain(..) {
            woken.push(w, token);
        }
        n
    }
}

/// Waiters removed from a list under its lock, to unpark once the lock is
/// released (dropping a `Woken` unparks them).
#[derive(Debug, Default)]
pub(crate) struct Woken {
    /// A bare context taken from where it waited (a channel's receiver),
    /// woken with the reference it hands over.
    context: Option<Unparker>,
    first: Option<Arc<Waiter>>,
    more: Vec<Arc<Waiter>>,
}

impl Woken {
    /// Nobody yet.
    #[inline]
    pub(crate) fn new() -> Woken {
        Woken::default()
    }

    /// Stores `token` in `waiter` (the caller holds its list's lock) and
    /// queues it for unparking.
    pub(crate) fn push(&mut self, waiter: Arc<Waiter>, token: usize) {
        waiter.set_token(token);
        if self.first.is_none() {
            self.first = Some(waiter);
        } else {
            self.more.push(waiter);
        }
    }

    /// Queues a context that waited without a [`Waiter`] (the caller took
    /// it from where it waited, under that lock) for unparking.
    #[inline]
    pub(crate) fn push_context(&mut self, context: Unparker) {
        debug_assert!(self.context.is_none(), "two bare contexts woken at once");
        self.context = Some(context);
    }

    /// Unparks everyone queued (also done on drop).
    #[inline]
    pub(crate) fn unpark_all(&mut self) {
        // Most `Woken`s of a channel wake nobody: two tests, inlined.
        if self.context.is_some() || self.first.is_some() {
            self.unpark_queued();
        }
    }

    #[inline(never)]
    fn unpark_queued(&mut self) {
        if let Some(context) = self.context.take() {
            #[cfg(test)]
            schedule::point(schedule::Point::BeforeUnpark);
            context.unpark_owned();
        }
        let Some(first) = self.first.take() else {
            return;
        };
        #[cfg(test)]
        schedule::point(schedule::Point::BeforeUnpark);
        first.unpark();
        if !self.more.is_empty() {
            for w in self.more.drain(..) {
                w.unpark();
            }
        }
    }
}

impl Drop for Woken {
    #[inline]
    fn drop(&mut self) {
        self.unpark_all();
    }
}

/// A [`WaiterList`] behind its own short lock.
#[derive(Debug, Default)]
pub(crate) struct WaitQueue {
    list: StdMutex<WaiterList>,
}

/// A waiter [`WaitQueue::enqueue_if`] put on the queue; wait on it with
/// [`Ticket::wait`].
#[derive(Debug)]
pub(crate) struct Ticket<'q> {
    queue: &'q WaitQueue,
    waiter: Arc<Waiter>,
}

impl WaitQueue {
    /// An empty queue.
    pub(crate) const fn new() -> WaitQueue {
        WaitQueue {
            list: StdMutex::new(WaiterList::new()),
        }
    }

    /// Locks the list. Nothing that can panic runs under this lock, so
    /// poisoning cannot happen; it is ignored anyway.
    fn lock(&self) -> StdMutexGuard<'_, WaiterList> {
        self.list.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Step 1 of the handshake: under the queue lock, runs `validate`, and if
    /// it returns `true` puts a waiter for the calling context on the queue
    /// (first when `front`). `validate` must publish the waiter (set a
    /// "parked" bit or count) before returning `true`.
    pub(crate) fn enqueue_if(
        &self,
        tag: usize,
        front: bool,
        site: &'static WaitSite,
        validate: impl FnOnce(&WaiterList) -> bool,
    ) -> Option<Ticket<'_>> {
        // Created before the lock: `unparker()` touches the thread's hub.
        let waiter = Waiter::new(tag, site);
        let mut list = self.lock();
        if !validate(&list) {
            return None;
        }
        list.push(waiter.clone(), front);
        drop(list);
        Some(Ticket {
            queue: self,
            waiter,
        })
    }

    /// Under the queue lock, lets `f` pick waiters to wake (and update the
    /// primitive's state to match); unparks them after the lock is released.
    /// Returns what `f` returns.
    pub(crate) fn unpark_with<R>(&self, f: impl FnOnce(&mut WaiterList, &mut Woken) -> R) -> R {
        let mut woken = Woken::new();
        let result = {
            let mut list = self.lock();
            f(&mut list, &mut woken)
        };
        woken.unpark_all();
        result
    }

    /// Wakes every waiter with `token`; returns how many.
    pub(crate) fn unpark_all(&self, token: usize) -> usize {
        self.unpark_with(|list, woken| list.wake_all(token, woken))
    }
}

impl<'q> Ticket<'q> {
    /// Step 3 of the handshake: parks until woken (returns the token) or
    /// `deadline` passes (returns `None` after removing the waiter from the
    /// queue and running `left` on the remaining list, under the lock).
    ///
    /// If the park unwinds (a cancel or a `timeout` deadline of the caller),
    /// a guard does the same removal on the way out: `left` runs if the
    /// waiter was still queued, and otherwise `forfeit` runs (after the lock
    /// is released) with the token a waker handed it, so the primitive can
    /// pass on what the waiter will never use. `left` may pick waiters to
    /// wake in the `Woken` it gets; they are unparked after the lock is
    /// released.
    pub(crate) fn wait<L, F>(self, deadline: Option<Instant>, left: L, forfeit: F) -> Option<usize>
    where
        L: FnOnce(&mut WaiterList, &mut Woken),
        F: FnOnce(usize),
    {
        let mut guard = OnUnwind {
            ticket: &self,
            left: Some(left),
            forfeit: Some(forfeit),
        };
        let token = self.waiter.wait(deadline);
        // Not unwinding: disarm the guard.
        let left = guard.left.take();
        guard.forfeit = None;
        drop(guard);
        if let Some(token) = token {
            return Some(token);
        }
        match left {
            Some(left) => self.leave(left),
            None => unreachable!("green-sync: a ticket's guard lost its handler"),
        }
    }

    /// Takes the waiter off the queue (running `left` under the lock) and
    /// returns `None`; or, if a waker removed it first, returns the token it
    /// handed over, which is final.
    fn leave(&self, left: impl FnOnce(&mut WaiterList, &mut Woken)) -> Option<usize> {
        let mut woken = Woken::new();
        let mut list = self.queue.lock();
        if list.remove(&self.waiter) {
            left(&mut list, &mut woken);
            drop(list);
            woken.unpark_all();
            None
        } else {
            // A waker removed us before we got the lock: its token is final
            // (stored under that lock, so visible now).
            drop(list);
            Some(self.waiter.token())
        }
    }
}

/// The drop guard of [`Ticket::wait`]: armed (both handlers present) only
/// while the waiter parks, so it acts only when that park unwinds.
struct OnUnwind<'t, 'q, L, F>
where
    L: FnOnce(&mut WaiterList, &mut Woken),
    F: FnOnce(usize),
{
    ticket: &'t Ticket<'q>,
    left: Option<L>,
    forfeit: Option<F>,
}

impl<L, F> Drop for OnUnwind<'_, '_, L, F>
where
    L: FnOnce(&mut WaiterList, &mut Woken),
    F: FnOnce(usize),
{
    fn drop(&mut self) {
        if let (Some(left), Some(forfeit)) = (self.left.take(), self.forfeit.take()) {
            if let Some(token) = self.ticket.leave(left) {
                forfeit(token);
            }
        }
    }
}

/// Deterministic schedule exploration for unit tests: at each marked point of
/// the handshake a test may make the current green thread yield to the others
/// on its hub, so every interleaving of those points can be replayed.
#[cfg(test)]
pub(crate) mod schedule {
    use std::cell::Cell;

    /// A point of the handshake where a test may force a switch.
    #[derive(Debug, Clone, Copy)]
    pub(crate) enum Point {
        /// After a waiter was pushed and the queue lock released.
        AfterEnqueue,
        /// Right before `park`.
        BeforePark,
        /// After a waker released the queue lock, before it unparks.
        BeforeUnpark,
        /// A primitive-specific point (between a state change and its check).
        Custom,
    }

    thread_local! {
        /// Bit `i` set: yield at the `i`-th point reached on this OS thread.
        static PLAN: Cell<u64> = const { Cell::new(0) };
        static STEP: Cell<u32> = const { Cell::new(0) };
    }

    /// Installs a yield plan for this OS thread's hub and resets the count.
    pub(crate) fn set_plan(plan: u64) {
        PLAN.with(|p| p.set(plan));
        STEP.with(|s| s.set(0));
    }

    /// How many points were reached since [`set_plan`].
    pub(crate) fn steps() -> u32 {
        STEP.with(Cell::get)
    }

    /// Marks a point; yields when the plan says so.
    pub(crate) fn point(_at: Point) {
        if !green_core::park::in_green_thread() {
            return;
        }
        let step = STEP.with(|s| {
            let v = s.get();
            s.set(v + 1);
            v
        });
        let plan = PLAN.with(Cell::get);
        if step < 64 && plan & (1 << step) != 0 {
            green_core::thread::yield_now();
        }
    }
}
