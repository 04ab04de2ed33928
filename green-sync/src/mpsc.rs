//! Multi-producer, single-consumer FIFO queue communication primitives; the
//! green version of [`std::sync::mpsc`].
//!
//! Same API as std's: [`channel`] (unbounded, [`Sender`]) and
//! [`sync_channel`] (bounded, [`SyncSender`]; a bound of 0 is a true
//! rendezvous: `send` returns only once the receiver has the value), one
//! [`Receiver`] with `recv`, `try_recv`, `recv_timeout`, `iter`, `try_iter`
//! and `into_iter`. The error types are std's own, re-exported, so code that
//! matches on them is unchanged.
//!
//! Senders and the receiver may live anywhere: green threads on any hub and
//! plain OS threads, in any mix (the "queue between real threads and green
//! threads"). A blocked green thread switches to its hub; a blocked OS thread
//! runs its own hub.
//!
//! # Differences from std
//!
//! * Messages, order and errors are std's. Internally every channel is one
//!   short lock around a `VecDeque` and the waiter lists (std's lock-free
//!   queues are not reachable without `unsafe`); nothing blocks or runs user
//!   code under that lock (values dropped by a closing receiver are dropped
//!   after it is released). The receiver of an unbounded channel takes
//!   everything buffered in one go and serves the rest from its own side,
//!   so senders and the receiver seldom meet on that lock.
//! * When the [`Receiver`] is dropped, buffered messages are dropped at once
//!   (std does the same).
//!
//! # Cancellation
//!
//! Every wait is a cancellation point (`green::rt::timeout`,
//! `green::thread::Cancel`): `recv`, `recv_timeout`, `iter`, and `send` on
//! a full bounded channel or on a rendezvous channel. Nothing is lost or
//! duplicated when one is cancelled:
//!
//! * a cancelled `recv` takes nothing: a message that arrived meanwhile
//!   (even one a rendezvous sender handed straight to it) stays in the
//!   channel for the next `recv`;
//! * a cancelled bounded `send` delivered nothing (its value is dropped
//!   with the unwinding call), and a free slot it had been woken for goes
//!   to the next blocked sender;
//! * a rendezvous `send` (`sync_channel(0)`) that is cancelled is either
//!   withdrawn (it unwinds, and its value is dropped with it) or delivered
//!   (it returns `Ok`), never both and never neither: if the receiver took
//!   the value at the very moment the cancel fired, the send returns `Ok`
//!   and the cancel (sticky) or the passed deadline takes effect at the
//!   next blocking call. So a send that unwound delivered nothing, on
//!   every kind of channel.
//!
//! # Examples
//!
//! ```
//! use green_sync::mpsc;
//!
//! let (tx, rx) = mpsc::channel();
//! for i in 0..10 {
//!     let tx = tx.clone();
//!     green_core::thread::spawn(move || tx.send(i).unwrap());
//! }
//! drop(tx);
//! let mut got: Vec<i32> = rx.iter().collect();
//! got.sort();
//! assert_eq!(got, (0..10).collect::<Vec<_>>());
//! ```

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::marker::PhantomData;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex as StdMutex, MutexGuard as StdMutexGuard, PoisonError};
use std::time::{Duration, Instant};

#[doc(no_inline)]
pub use std::sync::mpsc::{RecvError, RecvTimeoutError, SendError, TryRecvError, TrySendError};

use crate::sites;
use crate::waiter::{Waiter, WaiterList, Woken};
use green_core::park::{self, Unparker};

/// Token: the channel changed (a message or a free slot arrived, or the
/// other side went away): look again.
const TOKEN_READY: usize = 1;
/// Token of a rendezvous sender: the receiver took the value.
const TOKEN_TAKEN: usize = 2;
/// Token of a blocked sender: the receiver is gone.
const TOKEN_CLOSED: usize = 3;

/// The shared state of one channel.
struct Chan<T> {
    inner: StdMutex<Inner<T>>,
    /// Live `Sender`s / `SyncSender`s. Kept out of the lock, as std keeps
    /// it, so that cloning and dropping a sender (once per job in a pool
    /// that hands each job a reply sender) is one atomic operation. Only
    /// the last sender's drop takes the lock, to wake the receiver; the
    /// receiver reads the count under the lock, after looking at the
    /// buffer, so a message sent before the last drop is never missed.
    senders: AtomicUsize,
}

struct Inner<T> {
    /// Messages sent and not yet received (at most one, the hand-over, for
    /// a rendezvous channel).
    buf: VecDeque<T>,
    /// `None`: unbounded. `Some(0)`: rendezvous.
    cap: Option<usize>,
    /// Whether the `Receiver` is alive.
    receiver: bool,
    /// The receiver's context while it waits for a message (see
    /// `Chan::recv`). A sender that takes it wakes the receiver with this
    /// reference, so a wait touches no waiter and no extra count.
    recv_waiter: Option<Unparker>,
    /// Senders parked on a full bounded channel.
    send_waiters: WaiterList,
    /// Senders parked on a rendezvous channel, each with its value.
    offers: VecDeque<Offer<T>>,
}

/// A rendezvous sender's value, waiting for the receiver.
struct Offer<T> {
    waiter: Arc<Waiter>,
    value: Option<T>,
}

impl<T> Inner<T> {
    /// Takes the next message, if any, waking whoever that unblocks.
    ///
    /// An unbounded channel hands the receiver everything buffered at once:
    /// it moves into the receiver's `cache` (empty whenever the receiver
    /// comes here, so its messages are always older than the buffer's), and
    /// the receiver takes the rest without this lock. Senders then rarely
    /// meet the receiver on the lock. A bounded channel takes one message,
    /// since a message moved out would free a slot std keeps taken.
    fn take(&mut self, woken: &mut Woken, cache: &RefCell<VecDeque<T>>) -> Option<T> {
        if self.cap.is_none() {
            let value = self.buf.pop_front()?;
            if !self.buf.is_empty() {
                let mut cache = cache.borrow_mut();
                debug_assert!(cache.is_empty());
                std::mem::swap(&mut self.buf, &mut cache);
            }
            return Some(value);
        }
        if let Some(value) = self.buf.pop_front() {
            if matches!(self.cap, Some(cap) if cap > 0) {
                // A slot is free: one blocked sender may fill it.
                self.send_waiters.wake_one(TOKEN_READY, woken);
            }
            return Some(value);
        }
        let mut offer = self.offers.pop_front()?;
        let value = offer.value.take();
        woken.push(offer.waiter, TOKEN_TAKEN);
        value
    }

    /// Wakes the receiver if it is parked.
    fn wake_receiver(&mut self, woken: &mut Woken) {
        if let Some(receiver) = self.recv_waiter.take() {
            woken.push_context(receiver);
        }
    }
}

impl<T> Chan<T> {
    fn new(cap: Option<usize>) -> Arc<Chan<T>> {
        Arc::new(Chan {
            inner: StdMutex::new(Inner {
                buf: VecDeque::new(),
                cap,
                receiver: true,
                recv_waiter: None,
                send_waiters: WaiterList::new(),
                offers: VecDeque::new(),
            }),
            senders: AtomicUsize::new(1),
        })
    }

    /// Locks the state. No user code runs under this lock (so it is never
    /// poisoned) and it is never held across a park.
    fn lock(&self) -> StdMutexGuard<'_, Inner<T>> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn send(&self, value: T) -> Result<(), SendError<T>> {
        // A send may complete at once: spend cooperative budget (yielding, if
        // it is gone, before touching the channel).
        green_core::coop::consume();
        let mut front = false;
        loop {
            let mut woken = Woken::new();
            let waiter = {
                let mut inner = self.lock();
                if !inner.receiver {
                    return Err(SendError(value));
                }
                match inner.cap {
                    None => {
                        inner.buf.push_back(value);
                        inner.wake_receiver(&mut woken);
                        return Ok(());
                    }
                    Some(0) => {
                        if let Some(receiver) = inner.recv_waiter.take() {
                            // The receiver is parked in `recv`: hand over.
                            inner.buf.push_back(value);
                            woken.push_context(receiver);
                            return Ok(());
                        }
                        let waiter = Waiter::new(0, &sites::MPSC_SEND);
                        inner.offers.push_back(Offer {
                            waiter: waiter.clone(),
                            value: Some(value),
                        });
                        drop(inner);
                        return self.wait_offer(&waiter);
                    }
                    Some(cap) => {
                        if inner.buf.len() < cap {
                            inner.buf.push_back(value);
                            inner.wake_receiver(&mut woken);
                            return Ok(());
                        }
                        let waiter = Waiter::new(0, &sites::MPSC_SEND);
                        inner.send_waiters.push(waiter.clone(), front);
                        waiter
                    }
                }
            };
            let withdraw = Withdraw {
                chan: self,
                wait: Wait::Slot(&waiter),
            };
            let _token = waiter.wait(None);
            std::mem::forget(withdraw);
            // Woken for a free slot (or a closed receiver): retry, first in
            // line if we lose the slot to a newcomer.
            front = true;
        }
    }

    /// A rendezvous sender waits until its offer is taken or refused.
    ///
    /// If the wait unwinds (a cancel or a passed deadline), the offer is
    /// withdrawn and the unwind goes on: nothing was delivered. But the
    /// receiver may have taken the value just as the cancel fired (between
    /// the waiter's last look at its token and its park); then the value was
    /// delivered, and the send returns `Ok` instead, so that a send that
    /// unwinds has always delivered nothing. The cancel is not lost by
    /// that: it is sticky (a deadline stays passed) and fires at the next
    /// cancellation point.
    fn wait_offer(&self, waiter: &Arc<Waiter>) -> Result<(), SendError<T>> {
        let token = match panic::catch_unwind(AssertUnwindSafe(|| waiter.wait(None))) {
            Ok(token) => token,
            Err(payload) => {
                let taken = self.withdraw_offer(waiter);
                if taken && green_core::cancel::is_cancellation(&*payload) {
                    return Ok(());
                }
                panic::resume_unwind(payload);
            }
        };
        match token {
            Some(TOKEN_TAKEN) => Ok(()),
            _ => {
                // The receiver is gone and left our offer for us to take back.
                let mut inner = self.lock();
                let at = inner
                    .offers
                    .iter()
                    .position(|o| Arc::ptr_eq(&o.waiter, waiter));
                let value = at
                    .and_then(|i| inner.offers.remove(i))
                    .and_then(|mut o| o.value.take());
                drop(inner);
                match value {
                    Some(value) => Err(SendError(value)),
                    None => unreachable!("green mpsc: a refused offer lost its value"),
                }
            }
        }
    }

    /// Takes a rendezvous sender's offer back if it is still queued (its
    /// value is dropped here, without the lock held); returns whether the
    /// receiver had taken it instead.
    fn withdraw_offer(&self, waiter: &Arc<Waiter>) -> bool {
        let withdrawn = {
            let mut inner = self.lock();
            let at = inner
                .offers
                .iter()
                .position(|o| Arc::ptr_eq(&o.waiter, waiter));
            at.and_then(|i| inner.offers.remove(i))
        };
        // Taken, or refused by a closing receiver (the offer stays queued
        // then, and is withdrawn here too).
        withdrawn.is_none() && waiter.token() == TOKEN_TAKEN
    }

    fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        let result = self.try_send_inner(value);
        if result.is_err() {
            // A failed probe: a `try_send` loop lets the receiver run.
            green_core::coop::consume();
        }
        result
    }

    fn try_send_inner(&self, value: T) -> Result<(), TrySendError<T>> {
        let mut woken = Woken::new();
        let mut inner = self.lock();
        if !inner.receiver {
            return Err(TrySendError::Disconnected(value));
        }
        match inner.cap {
            Some(0) => match inner.recv_waiter.take() {
                Some(receiver) => {
                    inner.buf.push_back(value);
                    woken.push_context(receiver);
                    Ok(())
                }
                None => Err(TrySendError::Full(value)),
            },
            Some(cap) if inner.buf.len() >= cap => Err(TrySendError::Full(value)),
            _ => {
                inner.buf.push_back(value);
                inner.wake_receiver(&mut woken);
                Ok(())
            }
        }
    }

    fn try_recv(&self, cache: &RefCell<VecDeque<T>>) -> Result<T, TryRecvError> {
        if let Some(value) = cache.borrow_mut().pop_front() {
            return Ok(value);
        }
        let result = {
            let mut woken = Woken::new();
            let mut inner = self.lock();
            match inner.take(&mut woken, cache) {
                Some(value) => Ok(value),
                None if self.senders.load(Ordering::Acquire) == 0 => {
                    Err(TryRecvError::Disconnected)
                }
                None => Err(TryRecvError::Empty),
            }
        };
        if result.is_err() {
            // A failed probe: a `try_recv` loop lets the senders run.
            green_core::coop::consume();
        }
        result
    }

    /// Waits for a message. The receiver waits with its bare context in
    /// `recv_waiter`, not with a `Waiter`: it is the only one of its kind
    /// (the `Receiver` is `!Sync`, so one context at a time calls this),
    /// its wake carries no token (a sender only says "look again"), and
    /// after every park it looks at the buffer under the lock anyway. So a
    /// park returning without a wake (spurious, or the deadline) needs no
    /// token to tell it apart: the loop looks, and parks again.
    ///
    /// `recv_waiter` is ours from the moment it is set until a sender takes
    /// it, and it is cleared on every way out (a message, a hang-up, the
    /// deadline, an unwind), so a receiver moved to another thread never
    /// finds a stale context there in place of its own.
    fn recv(
        &self,
        cache: &RefCell<VecDeque<T>>,
        deadline: Option<Instant>,
    ) -> Result<T, RecvTimeoutError> {
        green_core::coop::consume();
        if let Some(value) = cache.borrow_mut().pop_front() {
            return Ok(value);
        }
        loop {
            {
                // (Declared before the guard, so it unparks after unlocking.)
                let mut woken = Woken::new();
                let mut inner = self.lock();
                let done = match inner.take(&mut woken, cache) {
                    Some(value) => Some(Ok(value)),
                    None if self.senders.load(Ordering::Acquire) == 0 => {
                        Some(Err(RecvTimeoutError::Disconnected))
                    }
                    None if deadline.is_some_and(|d| Instant::now() >= d) => {
                        Some(Err(RecvTimeoutError::Timeout))
                    }
                    None => None,
                };
                if let Some(done) = done {
                    inner.recv_waiter = None;
                    return done;
                }
                if inner.recv_waiter.is_none() {
                    // (After a park without a wake, we are still listed.)
                    inner.recv_waiter = Some(park::unparker());
                }
            }
            #[cfg(test)]
            crate::waiter::schedule::point(crate::waiter::schedule::Point::AfterEnqueue);
            let withdraw = Withdraw {
                chan: self,
                wait: Wait::Message,
            };
            #[cfg(test)]
            crate::waiter::schedule::point(crate::waiter::schedule::Point::BeforePark);
            // A cancellation point: an unwind from here runs `withdraw`.
            park::park_at(&sites::MPSC_RECV, deadline);
            std::mem::forget(withdraw);
        }
    }

    fn add_sender(&self) {
        // A new sender is cloned from a live one, so the count is never 0
        // here and nobody can be deciding on a hang-up it would undo.
        self.senders.fetch_add(1, Ordering::Relaxed);
    }

    fn drop_sender(&self) {
        // Release: the sends this sender made are seen by a receiver that
        // reads the count as 0 (Acquire).
        if self.senders.fetch_sub(1, Ordering::Release) != 1 {
            return;
        }
        // The last one: a receiver that read the count before this
        // decrement has parked (or is about to, under the lock we now wait
        // for), so wake it to see the hang-up.
        let mut woken = Woken::new();
        self.lock().wake_receiver(&mut woken);
    }

    fn drop_receiver(&self) {
        let mut woken = Woken::new();
        let buffered = {
            let mut inner = self.lock();
            inner.receiver = false;
            inner.send_waiters.wake_all(TOKEN_CLOSED, &mut woken);
            // Rendezvous senders take their values back themselves.
            for offer in &inner.offers {
                woken.push(offer.waiter.clone(), TOKEN_CLOSED);
            }
            std::mem::take(&mut inner.buf)
        };
        drop(woken);
        // Dropped without the lock held: a message's `Drop` may do anything.
        drop(buffered);
    }
}

/// What a parked channel user waits for (see [`Withdraw`]).
#[derive(Clone, Copy)]
enum Wait<'a> {
    /// The receiver, for a message.
    Message,
    /// A sender on a full bounded channel, for a free slot.
    Slot(&'a Arc<Waiter>),
}

/// Held while a channel user parks; dropped only if the park unwinds (a
/// cancel or a `timeout`), and then undoes the wait without losing anything:
///
/// * the receiver stops being the parked receiver; a message a sender
///   handed over meanwhile is in the buffer, and stays there for the next
///   `recv`;
/// * a sender still queued for a slot leaves; one already woken for a free
///   slot wakes the next sender in its place.
///
/// (A rendezvous sender settles its offer itself: `Chan::wait_offer`.)
struct Withdraw<'a, T> {
    chan: &'a Chan<T>,
    wait: Wait<'a>,
}

impl<T> Drop for Withdraw<'_, T> {
    fn drop(&mut self) {
        let mut woken = Woken::new();
        {
            let mut inner = self.chan.lock();
            match self.wait {
                // Only the receiver sets `recv_waiter` (see `Chan::recv`).
                Wait::Message => inner.recv_waiter = None,
                Wait::Slot(waiter) => {
                    let queued = inner.send_waiters.remove(waiter);
                    let free = inner.cap.is_some_and(|cap| inner.buf.len() < cap);
                    if !queued && waiter.token() == TOKEN_READY && free {
                        inner.send_waiters.wake_one(TOKEN_READY, &mut woken);
                    }
                }
            }
        }
        drop(woken);
    }
}

/// Creates a new asynchronous (unbounded) channel, returning the
/// sender/receiver halves; the green version of [`std::sync::mpsc::channel`].
///
/// # Examples
///
/// ```
/// use green_sync::mpsc::channel;
///
/// let (tx, rx) = channel();
/// green_core::thread::spawn(move || tx.send(10).unwrap());
/// assert_eq!(rx.recv().unwrap(), 10);
/// ```
#[must_use]
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let chan = Chan::new(None);
    (
        Sender { chan: chan.clone() },
        Receiver {
            chan,
            cache: AssertUnwindSafe(RefCell::new(VecDeque::new())),
            _not_sync: PhantomData,
        },
    )
}

/// Creates a new synchronous, bounded channel; the green version of
/// [`std::sync::mpsc::sync_channel`].
///
/// `bound` messages are buffered; `send` blocks while the buffer is full.
/// With `bound == 0` the channel is a rendezvous: `send` blocks until the
/// receiver takes the value, and `try_send` succeeds only when the receiver
/// is blocked in `recv` right now.
///
/// # Examples
///
/// ```
/// use green_sync::mpsc::sync_channel;
///
/// let (tx, rx) = sync_channel::<i32>(0);
/// green_core::thread::spawn(move || tx.send(53).unwrap());
/// assert_eq!(rx.recv().unwrap(), 53);
/// ```
#[must_use]
pub fn sync_channel<T>(bound: usize) -> (SyncSender<T>, Receiver<T>) {
    let chan = Chan::new(Some(bound));
    (
        SyncSender { chan: chan.clone() },
        Receiver {
            chan,
            cache: AssertUnwindSafe(RefCell::new(VecDeque::new())),
            _not_sync: PhantomData,
        },
    )
}

/// The sending half of an unbounded [`channel`]; the green version of
/// [`std::sync::mpsc::Sender`] (`Send + Sync + Clone` for `T: Send`).
pub struct Sender<T> {
    chan: Arc<Chan<T>>,
}

/// The sending half of a bounded [`sync_channel`]; the green version of
/// [`std::sync::mpsc::SyncSender`].
pub struct SyncSender<T> {
    chan: Arc<Chan<T>>,
}

/// The receiving half of a [`channel`] or [`sync_channel`]; the green
/// version of [`std::sync::mpsc::Receiver`] (`Send`, `!Sync`).
pub struct Receiver<T> {
    chan: Arc<Chan<T>>,
    /// Messages of an unbounded channel already taken from its buffer in
    /// one go, oldest first (see `Inner::take`); only the receiver touches
    /// it. Dropped, like the buffer, when the receiver is. No user code runs
    /// while it is borrowed, so an unwind never sees it half-changed
    /// (hence the `AssertUnwindSafe`, which keeps the receiver as
    /// unwind-safe as std's).
    cache: AssertUnwindSafe<RefCell<VecDeque<T>>>,
    /// `Send` but not `Sync`, like std's receiver (and just as unwind-safe).
    _not_sync: PhantomData<std::sync::mpsc::Receiver<()>>,
}

/// An iterator over messages on a [`Receiver`] that blocks for each one and
/// ends when the channel hangs up ([`Receiver::iter`]).
#[derive(Debug)]
pub struct Iter<'a, T: 'a> {
    rx: &'a Receiver<T>,
}

/// An iterator over the messages already waiting on a [`Receiver`]; never
/// blocks ([`Receiver::try_iter`]).
#[derive(Debug)]
pub struct TryIter<'a, T: 'a> {
    rx: &'a Receiver<T>,
}

/// An owning iterator over messages on a [`Receiver`] (its `into_iter`).
#[derive(Debug)]
pub struct IntoIter<T> {
    rx: Receiver<T>,
}

impl<T> Sender<T> {
    /// Sends a value on this channel; never blocks.
    ///
    /// # Errors
    ///
    /// [`SendError`] with the value if the receiver has been dropped (a
    /// successful send does not mean the value will be received).
    pub fn send(&self, t: T) -> Result<(), SendError<T>> {
        self.chan.send(t)
    }
}

impl<T> Clone for Sender<T> {
    /// Another sender on the same channel.
    fn clone(&self) -> Sender<T> {
        self.chan.add_sender();
        Sender {
            chan: self.chan.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.chan.drop_sender();
    }
}

impl<T> fmt::Debug for Sender<T> {
    /// `Sender { .. }`, as std's.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender").finish_non_exhaustive()
    }
}

impl<T> SyncSender<T> {
    /// Sends a value, blocking the current green thread (or OS thread) while
    /// the buffer is full; on a rendezvous channel, until the receiver has
    /// taken the value.
    ///
    /// # Errors
    ///
    /// [`SendError`] with the value if the receiver has been dropped (also
    /// while this call was blocked).
    pub fn send(&self, t: T) -> Result<(), SendError<T>> {
        self.chan.send(t)
    }

    /// Attempts to send a value without blocking.
    ///
    /// # Errors
    ///
    /// [`TrySendError::Full`] if the buffer is full (on a rendezvous channel:
    /// if the receiver is not blocked in `recv` right now);
    /// [`TrySendError::Disconnected`] if the receiver has been dropped. Both
    /// carry the value back.
    pub fn try_send(&self, t: T) -> Result<(), TrySendError<T>> {
        self.chan.try_send(t)
    }
}

impl<T> Clone for SyncSender<T> {
    /// Another sender on the same channel.
    fn clone(&self) -> SyncSender<T> {
        self.chan.add_sender();
        SyncSender {
            chan: self.chan.clone(),
        }
    }
}

impl<T> Drop for SyncSender<T> {
    fn drop(&mut self) {
        self.chan.drop_sender();
    }
}

impl<T> fmt::Debug for SyncSender<T> {
    /// `SyncSender { .. }`, as std's.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SyncSender").finish_non_exhaustive()
    }
}

impl<T> Receiver<T> {
    /// Attempts to return a pending value without blocking.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`] if no message is waiting (on a rendezvous
    /// channel: no sender is blocked in `send`); [`TryRecvError::Disconnected`]
    /// if, in addition, every sender has been dropped.
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        self.chan.try_recv(&self.cache)
    }

    /// Blocks the current green thread (or OS thread) until a message
    /// arrives. Messages sent before the last sender hung up are all
    /// received first.
    ///
    /// # Errors
    ///
    /// [`RecvError`] once the channel is empty and every sender has been
    /// dropped.
    pub fn recv(&self) -> Result<T, RecvError> {
        self.chan.recv(&self.cache, None).map_err(|_| RecvError)
    }

    /// Like [`recv`](Receiver::recv), giving up after `timeout`; never gives
    /// up early.
    ///
    /// # Errors
    ///
    /// [`RecvTimeoutError::Timeout`] when `timeout` passed with no message;
    /// [`RecvTimeoutError::Disconnected`] once the channel is empty and every
    /// sender has been dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_sync::mpsc::{channel, RecvTimeoutError};
    /// use std::time::Duration;
    ///
    /// let (_tx, rx) = channel::<()>();
    /// assert_eq!(
    ///     rx.recv_timeout(Duration::from_millis(5)),
    ///     Err(RecvTimeoutError::Timeout)
    /// );
    /// ```
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        match Instant::now().checked_add(timeout) {
            Some(deadline) => self.chan.recv(&self.cache, Some(deadline)),
            // Too far in the future to represent: wait without a deadline.
            None => self.recv().map_err(RecvTimeoutError::from),
        }
    }

    /// An iterator that blocks waiting for messages and ends when the channel
    /// has hung up.
    pub fn iter(&self) -> Iter<'_, T> {
        Iter { rx: self }
    }

    /// An iterator over the messages already waiting; it never blocks.
    pub fn try_iter(&self) -> TryIter<'_, T> {
        TryIter { rx: self }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.chan.drop_receiver();
    }
}

impl<T> fmt::Debug for Receiver<T> {
    /// `Receiver { .. }`, as std's.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver").finish_non_exhaustive()
    }
}

impl<T> Iterator for Iter<'_, T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.rx.recv().ok()
    }
}

impl<T> Iterator for TryIter<'_, T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.rx.try_recv().ok()
    }
}

impl<'a, T> IntoIterator for &'a Receiver<T> {
    type Item = T;
    type IntoIter = Iter<'a, T>;

    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

impl<T> Iterator for IntoIter<T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.rx.recv().ok()
    }
}

impl<T> IntoIterator for Receiver<T> {
    type Item = T;
    type IntoIter = IntoIter<T>;

    fn into_iter(self) -> IntoIter<T> {
        IntoIter { rx: self }
    }
}
