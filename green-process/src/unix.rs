//! Unix extensions: green's `CommandExt` (std's is sealed) and std's own
//! `ExitStatusExt`, re-exported.

use std::ffi::OsStr;
use std::io;

use crate::Command;

#[doc(no_inline)]
pub use std::os::unix::process::{parent_id, ExitStatusExt};

/// Unix-specific extensions to the green [`Command`] builder, with the
/// stable methods of `std::os::unix::process::CommandExt`.
///
/// std's trait is sealed (it cannot be implemented outside std), so green
/// offers this one: `use green::process::unix::CommandExt;` in place of
/// `use std::os::unix::process::CommandExt;`. Each method forwards to
/// std's on the std `Command` inside, so the behaviour is std's.
///
/// # Examples
///
/// ```
/// use green_process::unix::{CommandExt, ExitStatusExt};
///
/// let status = green_process::Command::new("sh")
///     .args(["-c", "kill -TERM $$"])
///     .process_group(0)
///     .status()?;
/// assert_eq!(status.signal(), Some(15));
/// # Ok::<(), std::io::Error>(())
/// ```
pub trait CommandExt: sealed::Sealed {
    /// Sets the child's user ID (`setuid` in the child), like std's `uid`;
    /// a failure makes the spawn fail.
    fn uid(&mut self, id: u32) -> &mut Command;

    /// Sets the child's group ID (`setgid` in the child), like std's `gid`.
    fn gid(&mut self, id: u32) -> &mut Command;

    /// Schedules a closure to run in the child just before `exec`, like
    /// std's `pre_exec`; an `Err` it returns fails the spawn with that
    /// error.
    ///
    /// # Safety
    ///
    /// As std's: the closure runs in a forked copy of this process where
    /// only async-signal-safe operations are sound (no allocation, no
    /// locks another thread may hold). green spawns on a blocking-pool
    /// thread, so the forked child is a copy of that pool thread.
    #[allow(unsafe_code)] // std's method is an `unsafe fn`; so is its mirror.
    unsafe fn pre_exec<F>(&mut self, f: F) -> &mut Command
    where
        F: FnMut() -> io::Result<()> + Send + Sync + 'static;

    /// The deprecated name of [`CommandExt::pre_exec`], like std's.
    ///
    /// # Safety
    ///
    /// As [`CommandExt::pre_exec`].
    #[deprecated(since = "1.37.0", note = "should be unsafe, use `pre_exec` instead")]
    #[allow(unsafe_code)] // std's method is an `unsafe fn`; so is its mirror.
    unsafe fn before_exec<F>(&mut self, f: F) -> &mut Command
    where
        F: FnMut() -> io::Result<()> + Send + Sync + 'static,
    {
        // SAFETY: the caller upholds `pre_exec`'s contract (this method's
        // own `# Safety`).
        unsafe { self.pre_exec(f) }
    }

    /// Replaces this process with the command (`execvp`), like std's
    /// `exec`; returns only on failure, with the error.
    ///
    /// It does not wait for anything, so it runs on the calling thread.
    fn exec(&mut self) -> io::Error;

    /// Sets the child's `argv[0]`, like std's `arg0`.
    fn arg0<S>(&mut self, arg: S) -> &mut Command
    where
        S: AsRef<OsStr>;

    /// Puts the child in process group `pgroup` (`0`: a new group led by the
    /// child), like std's `process_group`.
    fn process_group(&mut self, pgroup: i32) -> &mut Command;
}

mod sealed {
    /// Only green's `Command` implements [`super::CommandExt`].
    pub trait Sealed {}
    impl Sealed for crate::Command {}
}

impl CommandExt for Command {
    fn uid(&mut self, id: u32) -> &mut Command {
        std::os::unix::process::CommandExt::uid(self.std_mut(), id);
        self
    }

    fn gid(&mut self, id: u32) -> &mut Command {
        std::os::unix::process::CommandExt::gid(self.std_mut(), id);
        self
    }

    #[allow(unsafe_code)]
    unsafe fn pre_exec<F>(&mut self, f: F) -> &mut Command
    where
        F: FnMut() -> io::Result<()> + Send + Sync + 'static,
    {
        // SAFETY: the caller upholds std's `pre_exec` contract, which this
        // method's own `# Safety` section restates.
        unsafe { std::os::unix::process::CommandExt::pre_exec(self.std_mut(), f) };
        self
    }

    fn exec(&mut self) -> io::Error {
        std::os::unix::process::CommandExt::exec(self.std_mut())
    }

    fn arg0<S>(&mut self, arg: S) -> &mut Command
    where
        S: AsRef<OsStr>,
    {
        std::os::unix::process::CommandExt::arg0(self.std_mut(), arg);
        self
    }

    fn process_group(&mut self, pgroup: i32) -> &mut Command {
        std::os::unix::process::CommandExt::process_group(self.std_mut(), pgroup);
        self
    }
}
