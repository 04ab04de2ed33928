//! Green replacement for [`std::sync`]: locks, condition variables, once-cells,
//! barriers and channels that park *green threads*, not OS threads.
//!
//! Code written against `std::sync` runs unchanged on `green_sync` (the
//! facade re-exports it as `green::sync`). Every item mirrors std's name,
//! signature, trait impls (`Send`/`Sync`, `Default`, `From`, `Debug`,
//! `UnwindSafe`), poisoning and panic messages; the items that never block
//! are std's own, re-exported: [`Arc`], [`Weak`], [`atomic`], [`PoisonError`],
//! [`TryLockError`], [`LockResult`], [`TryLockResult`] and the `mpsc` error
//! types.
//!
//! A green thread that blocks in `lock`, `read`, `write`, `wait`, `recv`,
//! `send` or `call_once` switches to its hub, so every other green thread on
//! that hub keeps running — including the one that will release it (calling
//! std's primitives from a green thread would stall the hub instead). A plain
//! OS thread that blocks runs its own hub meanwhile, and behaves exactly like
//! std. Green threads on any hub and plain OS threads may share the same lock,
//! condvar or channel.
//!
//! ```
//! use green_sync::{mpsc, Arc, Mutex};
//!
//! let total = Arc::new(Mutex::new(0u64));
//! let (tx, rx) = mpsc::channel();
//! for i in 0..100u64 {
//!     let (total, tx) = (Arc::clone(&total), tx.clone());
//!     green_core::thread::spawn(move || {
//!         *total.lock().unwrap() += i;
//!         tx.send(i).unwrap();
//!     });
//! }
//! drop(tx);
//! assert_eq!(rx.iter().count(), 100); // ends when every sender is gone
//! assert_eq!(*total.lock().unwrap(), 4950);
//! ```
//!
//! # Codemap
//!
//! | file | items |
//! |---|---|
//! | `waiter.rs` | the waiter queue: the **only** code that parks |
//! | `mutex.rs` | [`Mutex`], [`MutexGuard`] |
//! | `rwlock.rs` | [`RwLock`], [`RwLockReadGuard`], [`RwLockWriteGuard`] |
//! | `condvar.rs` | [`Condvar`], [`WaitTimeoutResult`] |
//! | `barrier.rs` | [`Barrier`], [`BarrierWaitResult`] |
//! | `once.rs` | [`Once`], [`OnceState`], [`ONCE_INIT`], the state machine shared with the cells |
//! | `once_lock.rs` | [`OnceLock`] |
//! | `lazy_lock.rs` | [`LazyLock`] |
//! | `mpsc.rs` | [`mpsc`] |
//!
//! # Design
//!
//! * **One waiter queue.** Every blocking path ends in `waiter.rs`: a waiter
//!   re-checks its condition under the queue's lock, publishes itself, and
//!   parks through `green_core::park` until a waker hands it a token. Wakers
//!   pick whom to wake under that lock and unpark after releasing it. A wake
//!   aimed at another hub goes through that hub's inbox (green-core).
//! * **Fast paths are atomics.** An uncontended `lock`/unlock is std's own
//!   `try_lock` and unlock plus one fence; no syscall, no hub.
//! * **No `unsafe`.** The protected values live in std's own types (a
//!   `std::sync::Mutex<T>` used only through `try_lock`, a
//!   `std::sync::RwLock<T>` through `try_read`/`try_write`, a
//!   `std::sync::OnceLock<T>`), which std never blocks on because this crate
//!   admits one owner at a time before touching them. Poisoning, guards'
//!   `Deref` and unsized `Mutex<[T]>`/`RwLock<[T]>` come from std for free.
//! * **Fairness.** [`Mutex`] lets a running thread barge (fast), but a waiter
//!   woken and overtaken goes back to the head of the queue, and one that
//!   waited more than 1 ms switches the mutex to hand-over-in-order until the
//!   queue is served (Go's rule). `notify_one` and every unlock wake exactly
//!   one waiter; an unlock does not wake a second waiter while a woken one has
//!   not run yet. [`RwLock`] is FIFO with writer preference and direct
//!   hand-over.
//!
//! # Cancellation
//!
//! Every wait in this crate is a cancellation point of green's deadlines
//! and cancels (`green::rt::timeout`, `green::thread::Cancel`): a call that
//! has to park may unwind instead, and one that completes at once never
//! does. A cancelled wait leaves no waiter behind and passes on whatever a
//! waker had already handed it (a lock hand-over, a notification, a free
//! slot); each type's docs say what that means for it. Locks held while a
//! cancel unwinds are poisoned as a panic would poison them.
//!
//! # Differences from std
//!
//! * [`WaitTimeoutResult`], [`BarrierWaitResult`] and [`OnceState`] are this
//!   crate's own types with std's methods (std's cannot be built outside std).
//! * [`Condvar`] works with this crate's [`MutexGuard`], not std's.
//! * Unstable std items (mapped guards, `Exclusive`, `mpmc`, `nonpoison`,
//!   `ReentrantLock`, `OnceLock::get_or_try_init`, ...) are not mirrored.
//! * Unlocking a [`Mutex`] costs one `SeqCst` fence more than std's; an
//!   [`RwLock`] costs two atomic operations more per lock/unlock pair.
//!
//! Guards are `!Send`, as std's (a lock is released by the thread that took
//! it), and a `Receiver` is `!Sync`:
//!
//! ```compile_fail
//! fn send<T: Send>(_: T) {}
//! let m = green_sync::Mutex::new(0);
//! send(m.lock().unwrap());
//! ```
//!
//! ```compile_fail
//! fn sync<T: Sync>(_: &T) {}
//! let (_tx, rx) = green_sync::mpsc::channel::<u8>();
//! sync(&rx);
//! ```
//!
//! # Outside a green thread
//!
//! Everything works from plain OS threads too, with std's blocking
//! behaviour; while such a thread waits, the green threads placed on its own
//! hub (`green_core::runtime::spawn_local`) keep running.
#![forbid(unsafe_code)]
#![deny(missing_docs, missing_debug_implementations)]

mod barrier;
mod condvar;
mod lazy_lock;
pub mod mpsc;
mod mutex;
mod once;
mod once_lock;
mod rwlock;
mod sites;
mod waiter;

#[cfg(test)]
mod tests;

pub use barrier::{Barrier, BarrierWaitResult};
pub use condvar::{Condvar, WaitTimeoutResult};
pub use lazy_lock::LazyLock;
pub use mutex::{Mutex, MutexGuard};
#[allow(deprecated)]
pub use once::ONCE_INIT;
pub use once::{Once, OnceState};
pub use once_lock::OnceLock;
pub use rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};

#[doc(no_inline)]
pub use std::sync::{atomic, Arc, Weak};
#[doc(no_inline)]
pub use std::sync::{LockResult, PoisonError, TryLockError, TryLockResult};
