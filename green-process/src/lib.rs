//! Green replacement for `std::process`: the same items with the same
//! signatures, whose waits never block the hub.
//!
//! * [`Command`] wraps std's builder. `spawn` runs std's spawn on
//!   green-core's blocking pool (fork/exec can take milliseconds in a big
//!   process); `status` and `output` then wait on the hub.
//! * [`Child`] wraps std's child. A wait parks only the calling green
//!   thread: the child's exit is reported by a **pidfd** (Linux ≥ 5.3)
//!   registered with the hub's poller, like a socket, so 1,000 waiting
//!   children cost 1,000 descriptors and no threads. Where `pidfd_open` is
//!   unavailable (older kernels, seccomp sandboxes, no descriptors left),
//!   the wait runs a blocking `waitid(WNOWAIT)` on the blocking pool
//!   instead — one pool thread per waiting child. Either way only std's
//!   `try_wait` reaps, so std's record of the status, `kill`'s `Ok` after a
//!   reap, and the absence of zombies after a wait are std's.
//! * [`ChildStdin`], [`ChildStdout`] and [`ChildStderr`] are green pipe ends
//!   (green-io's): non-blocking on the parent's side, waiting through the
//!   hub; given away (`Into<Stdio>`, `Into<OwnedFd>`) in blocking mode.
//!   `output` and `wait_with_output` drain stdout and stderr at once.
//! * Types that never block are std's own, re-exported: [`ExitStatus`],
//!   [`ExitCode`], [`Output`], [`Stdio`], [`CommandArgs`], [`CommandEnvs`],
//!   [`Termination`], [`exit`], [`abort`], [`id`]; so std's
//!   `ExitStatusExt` works on them unchanged.
//!
//! ```
//! use green_process::Command;
//!
//! let handles: Vec<_> = (0..10)
//!     .map(|i| green_core::thread::spawn(move || {
//!         Command::new("sh").args(["-c", &format!("echo {i}")]).output()
//!     }))
//!     .collect();
//! for (i, h) in handles.into_iter().enumerate() {
//!     let out = h.join().unwrap()?;
//!     assert_eq!(out.stdout, format!("{i}\n").as_bytes());
//! }
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # Outside a green thread
//!
//! Called from a plain OS thread, every item blocks its caller exactly as
//! std's would (spawning inline when the thread's hub has no green threads);
//! green threads placed on that thread's hub keep running meanwhile.
//!
//! # Differences from std
//!
//! * std's `CommandExt` is sealed: [`unix::CommandExt`] is green's, with
//!   the same stable methods.
//! * `output` sets its default streams on the inner std builder for the one
//!   spawn (see [`Command`]); only `{:#?}` shows it.
//! * `wait_with_output` returns a pipe read error where std panics.
//! * Unstable items (`ExitStatusError`, `exit_ok`, pidfd extensions,
//!   `get_env_clear`, ...) are not mirrored.

#![deny(unsafe_code)]

mod child;
mod command;
mod pipes;
pub mod unix;

pub use child::{uses_pidfd, Child};
pub use command::Command;
pub use pipes::{ChildStderr, ChildStdin, ChildStdout};

#[doc(no_inline)]
pub use std::process::{
    abort, exit, id, CommandArgs, CommandEnvs, ExitCode, ExitStatus, Output, Stdio, Termination,
};
