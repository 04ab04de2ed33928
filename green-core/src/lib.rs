//! The engine of `green`: one hub per OS thread, green threads (stackful
//! coroutines) placed on worker hubs, and the three blocking primitives every
//! other green crate is built on.
//!
//! * [`io::GreenFd`] — wait until an fd is readable or writable (or a deadline
//!   passes), registered once per hub, edge-triggered;
//! * [`time::sleep_until`] — sleep until a deadline;
//! * [`park`] — park the current context until unparked (or a deadline passes).
//!
//! Each primitive works in two worlds. Inside a green thread it switches to the
//! hub, which runs other green threads meanwhile. On a plain OS thread it runs
//! that thread's own hub until the wait completes, so it blocks its caller
//! exactly as std would while green threads placed on that hub keep running.
//!
//! The escape hatches are [`unblock`] (run blocking code on a pool of OS
//! threads, parking only the caller) and [`block_on`] (await a `Future` from
//! blocking-style code).
//!
//! [`thread`] mirrors `std::thread`; [`runtime`] holds the settings (worker
//! count, default stack size, stack budget); [`process`] holds the platform
//! calls green-process waits for children with (pidfds, `waitid`).
//!
//! # Requirements
//!
//! Green threads unwind on their own stacks, so the crate refuses to build
//! with `panic = "abort"`.

#![deny(missing_docs, missing_debug_implementations)]

#[cfg(panic = "abort")]
compile_error!(
    "green-core needs `panic = \"unwind\"`: a green thread's stack is unwound to \
     deliver its panic to `JoinHandle::join`, and with `panic = \"abort\"` the \
     process would die silently. Set `panic = \"unwind\"` in your profile."
);

mod block_on;
pub mod cancel;
pub mod coop;
mod coroutine;
mod counter;
mod ctx;
pub mod dump;
pub mod fd;
mod hub;
#[cfg(feature = "interpose")]
mod interpose;
pub mod io;
mod monitor;
mod panic_hook;
pub mod park;
pub mod process;
pub mod runtime;
mod signal;
mod slab;
mod stack;
mod sys;
pub mod thread;
pub mod time;
mod unblock;

pub use block_on::block_on;
pub use unblock::unblock;
