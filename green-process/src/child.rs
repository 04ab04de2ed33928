//! `Child`: a std `Child` whose waits park the calling green thread.
//!
//! The std `Child` stays inside and keeps doing what it does: its
//! `try_wait` (a non-blocking `waitpid(WNOHANG)`) is the only thing that
//! ever reaps the process, so std records the exit status itself and its
//! `kill` keeps std's semantics (`Ok` once the child has been reaped,
//! instead of signalling a pid that may have been reused).
//!
//! A blocking wait is "observe the exit without reaping, then `try_wait`":
//!
//! 1. `try_wait`: the child may be done already (nothing else happens);
//! 2. otherwise open a pidfd for the child (once per `Child`) and wait for
//!    it to become readable through `GreenFd`, the same primitive sockets
//!    use: only the calling green thread parks, and the hub's poller holds
//!    the wait — no thread per child;
//! 3. where pidfds are missing (`pidfd_open` fails: Linux < 5.3, a seccomp
//!    filter, no descriptors left), wait on green-core's blocking pool with
//!    `waitid(WNOWAIT)` instead, which also does not reap; one pool thread
//!    per waiting child, for as long as it runs.
//!
//! The pid stays valid throughout: an unreaped child's pid cannot be reused,
//! and only our `try_wait` reaps.

use std::fmt;
use std::io;
use std::os::fd::OwnedFd;
use std::process::{ExitStatus, Output};
use std::sync::atomic::{AtomicU8, Ordering};

use green_core::io::{GreenFd, Interest};

use crate::{ChildStderr, ChildStdin, ChildStdout};

/// A running or exited child process, like `std::process::Child`, whose
/// waits never block the hub.
///
/// Returned by [`Command::spawn`](crate::Command::spawn). As in std, a
/// `Child` is not waited for when dropped: call [`Child::wait`] (or
/// `wait_with_output`, or use `Command::status`/`output`) to reap it, or it
/// stays a zombie until this process exits.
///
/// `Debug` prints what std's prints (`Child { stdin: None, stdout: .., .. }`).
/// `Send` and `Sync`, like std's.
///
/// # Differences from std
///
/// * Waiting parks only the calling green thread: the exit is reported by a
///   pidfd on the hub's poller, or, where pidfds are missing, by a blocking
///   `waitid` on the pool (see the crate docs).
/// * `From<std::process::Child>` adopts a std child (its pipes become
///   non-blocking); std has no such conversion because it needs none.
///
/// # Examples
///
/// ```
/// use std::io::{Read, Write};
///
/// let mut child = green_process::Command::new("cat")
///     .stdin(green_process::Stdio::piped())
///     .stdout(green_process::Stdio::piped())
///     .spawn()?;
/// child.stdin.take().unwrap().write_all(b"echoed")?;
/// let mut out = String::new();
/// child.stdout.take().unwrap().read_to_string(&mut out)?;
/// assert!(child.wait()?.success());
/// assert_eq!(out, "echoed");
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Child {
    inner: std::process::Child,
    /// The exit watch, opened by the first wait that has to wait.
    exit: Option<ExitWatch>,

    /// The handle for writing to the child's standard input, if it was
    /// piped ([`Stdio::piped`](crate::Stdio::piped)). Take it
    /// (`child.stdin.take()`) to write and then drop it, so the child sees
    /// EOF; [`Child::wait`] drops it first, as std's does.
    pub stdin: Option<ChildStdin>,
    /// The handle for reading the child's standard output, if it was piped.
    pub stdout: Option<ChildStdout>,
    /// The handle for reading the child's standard error, if it was piped.
    pub stderr: Option<ChildStderr>,
}

/// How a waiting context learns that the child has exited.
enum ExitWatch {
    /// Readable once the process has exited.
    Pidfd(GreenFd<OwnedFd>),
    /// No pidfd: `waitid(WNOWAIT)` on the blocking pool.
    Pool,
}

/// Whether pidfds are used: unknown yet, yes, or no (the kernel said
/// `ENOSYS`, or `GREEN_PROCESS_PIDFD=0`).
static PIDFD: AtomicU8 = AtomicU8::new(PIDFD_UNKNOWN);
const PIDFD_UNKNOWN: u8 = 0;
const PIDFD_YES: u8 = 1;
const PIDFD_NO: u8 = 2;

/// Whether to try `pidfd_open`. `GREEN_PROCESS_PIDFD=0` in the environment
/// turns pidfds off (to exercise the fallback), read once.
fn pidfds_enabled() -> bool {
    match PIDFD.load(Ordering::Relaxed) {
        PIDFD_YES => true,
        PIDFD_NO => false,
        _ => {
            let off = std::env::var_os("GREEN_PROCESS_PIDFD").is_some_and(|v| v == "0");
            let state = if off { PIDFD_NO } else { PIDFD_YES };
            PIDFD.store(state, Ordering::Relaxed);
            !off
        }
    }
}

/// Whether this process waits for children through pidfds (Linux ≥ 5.3),
/// as opposed to the blocking-pool fallback. Known once a wait had to
/// wait; before that, whether pidfds will be tried.
///
/// Not in std: for diagnostics and tests.
pub fn uses_pidfd() -> bool {
    pidfds_enabled()
}

impl ExitWatch {
    fn open(pid: u32) -> ExitWatch {
        if !pidfds_enabled() {
            return ExitWatch::Pool;
        }
        match green_core::process::pidfd_open(pid) {
            Ok(fd) => ExitWatch::Pidfd(GreenFd::new(fd)),
            Err(e) => {
                if e.kind() == io::ErrorKind::Unsupported {
                    // The kernel has no pidfds: stop asking.
                    PIDFD.store(PIDFD_NO, Ordering::Relaxed);
                }
                ExitWatch::Pool
            }
        }
    }
}

impl Child {
    pub(crate) fn from_std(mut inner: std::process::Child) -> Child {
        let stdin = inner.stdin.take().map(ChildStdin::from);
        let stdout = inner.stdout.take().map(ChildStdout::from);
        let stderr = inner.stderr.take().map(ChildStderr::from);
        Child {
            inner,
            exit: None,
            stdin,
            stdout,
            stderr,
        }
    }

    /// Forces the child to exit (`SIGKILL`), like std's `kill`. If the child
    /// has already been reaped, returns `Ok(())` without sending anything,
    /// as std does; an exited but unreaped child is still
    /// "killed" successfully. Never waits.
    ///
    /// # Errors
    ///
    /// As std: the OS error of `kill(2)`.
    pub fn kill(&mut self) -> io::Result<()> {
        self.inner.kill()
    }

    /// The OS-assigned process identifier, like std's `id`.
    #[must_use]
    pub fn id(&self) -> u32 {
        self.inner.id()
    }

    /// Waits for the child to exit and returns its status, like std's
    /// `wait`; later calls return the same status. The child's stdin handle,
    /// if any, is closed first, so a child reading it sees EOF.
    ///
    /// Only the calling green thread waits (see the type's docs).
    ///
    /// The wait is a cancellation point (`green::rt::timeout`,
    /// `green::thread::Cancel`): cancelled, it leaves the child running and
    /// unreaped, so a later `wait` or `try_wait` still gets its status.
    /// (Where pidfds are unavailable, a pool thread stays in `waitid` until
    /// the child exits.)
    ///
    /// # Errors
    ///
    /// As std: the OS error of `waitpid` (`ECHILD` if something else in
    /// this process reaped the child); an error registering the pidfd with
    /// the hub's poller.
    pub fn wait(&mut self) -> io::Result<ExitStatus> {
        drop(self.stdin.take());
        if let Some(status) = self.inner.try_wait()? {
            return Ok(status);
        }
        let pid = self.inner.id();
        let inner = &mut self.inner;
        match self.exit.get_or_insert_with(|| ExitWatch::open(pid)) {
            ExitWatch::Pidfd(fd) => fd.io(Interest::Read, None, |_| match inner.try_wait()? {
                Some(status) => Ok(status),
                None => Err(io::ErrorKind::WouldBlock.into()),
            }),
            ExitWatch::Pool => {
                green_core::unblock(move || green_core::process::wait_exited_blocking(pid))?;
                match inner.try_wait()? {
                    Some(status) => Ok(status),
                    // `waitid` saw the exit; `waitpid` must find the zombie.
                    None => Err(io::Error::other(format!(
                        "child {pid} reported exited but could not be reaped"
                    ))),
                }
            }
        }
    }

    /// Returns the exit status if the child has exited, without waiting,
    /// like std's `try_wait` (`waitpid(WNOHANG)`); once it has returned a
    /// status, later calls return the same one.
    ///
    /// # Errors
    ///
    /// As std: the OS error of `waitpid`.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        self.inner.try_wait()
    }

    /// Waits for the child to exit and collects everything it wrote to its
    /// piped stdout and stderr, like std's `wait_with_output`. Stdin is
    /// closed first. Streams that were not piped come back empty.
    ///
    /// Both pipes are drained at once, so a child that fills one while we
    /// read the other cannot deadlock: stderr is read by a helper green
    /// thread while the caller reads stdout, both parked on the hub.
    ///
    /// # Errors
    ///
    /// As [`Child::wait`], plus a read error on either pipe, or
    /// `OutOfMemory` if the helper green thread cannot be spawned.
    ///
    /// # Differences from std
    ///
    /// std panics on a read error from the pipes; this returns it.
    pub fn wait_with_output(mut self) -> io::Result<Output> {
        drop(self.stdin.take());
        let mut stdout = Vec::new();
        let mut stderr = Vec::new();
        match (self.stdout.take(), self.stderr.take()) {
            (None, None) => {}
            (Some(out), None) => {
                out.drain(&mut stdout)?;
            }
            (None, Some(err)) => {
                err.drain(&mut stderr)?;
            }
            (Some(out), Some(err)) => {
                let helper = green_core::thread::Builder::new()
                    .name("green-process: stderr".into())
                    .spawn(move || {
                        let mut buf = Vec::new();
                        err.drain(&mut buf).map(|_| buf)
                    })?;
                // If this caller is cancelled while it drains stdout, the
                // helper is cancelled too rather than left reading stderr.
                let helper = CancelOnUnwind::new(helper);
                let read_out = out.drain(&mut stdout);
                let read_err = match helper.join() {
                    Ok(read) => read,
                    Err(payload) => std::panic::resume_unwind(payload),
                };
                read_out?;
                stderr = read_err?;
            }
        }
        let status = self.wait()?;
        Ok(Output {
            status,
            stdout,
            stderr,
        })
    }
}

/// A helper thread's handle that cancels the helper unless it was joined
/// (the waiting caller unwound: it was cancelled, or its `timeout` passed,
/// while it read stdout or waited in `join`).
struct CancelOnUnwind<T> {
    thread: green_core::thread::Thread,
    handle: Option<green_core::thread::JoinHandle<T>>,
    joined: bool,
}

impl<T> CancelOnUnwind<T> {
    fn new(handle: green_core::thread::JoinHandle<T>) -> CancelOnUnwind<T> {
        CancelOnUnwind {
            thread: handle.thread().clone(),
            handle: Some(handle),
            joined: false,
        }
    }

    fn join(mut self) -> std::thread::Result<T> {
        let Some(handle) = self.handle.take() else {
            unreachable!("green-process: helper joined twice")
        };
        let result = handle.join();
        self.joined = true;
        result
    }
}

impl<T> Drop for CancelOnUnwind<T> {
    fn drop(&mut self) {
        if !self.joined {
            green_core::thread::Cancel::cancel(&self.thread);
        }
    }
}

impl From<std::process::Child> for Child {
    /// Adopts a std child: its piped handles become green ones
    /// (non-blocking), and waits go through the hub from now on.
    fn from(child: std::process::Child) -> Child {
        Child::from_std(child)
    }
}

impl fmt::Debug for Child {
    /// The same output as std's.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Child")
            .field("stdin", &self.stdin)
            .field("stdout", &self.stdout)
            .field("stderr", &self.stderr)
            .finish_non_exhaustive()
    }
}
