//! The piece every green socket type is built on: an OS-level non-blocking
//! fd in a [`GreenFd`], plus the user-visible mode (blocking or not, and the
//! read/write timeouts) that decides what a `WouldBlock` from the kernel
//! means.

use std::io;
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use green_core::io::{GreenFd, Interest};
use socket2::SockRef;

/// The user-visible mode of a socket, shared by every handle `try_clone`
/// made from it — as std's mode is shared, since there it lives in the open
/// file description (`O_NONBLOCK`) and in the socket (`SO_RCVTIMEO`).
///
/// Plain atomics, read with `Relaxed`: each field is an independent setting
/// and no other memory is published through it.
#[derive(Debug)]
pub(crate) struct Mode {
    /// `set_nonblocking(true)` was called: return `WouldBlock` instead of
    /// waiting. The fd itself is always `O_NONBLOCK`.
    nonblocking: AtomicBool,
    /// Read timeout in nanoseconds; [`NO_TIMEOUT`] for none. Zero is never a
    /// valid timeout (std refuses it), so it can mean "none".
    read_timeout: AtomicU64,
    /// Write timeout, as `read_timeout`.
    write_timeout: AtomicU64,
}

const NO_TIMEOUT: u64 = 0;

fn to_nanos(d: Option<Duration>) -> u64 {
    match d {
        None => NO_TIMEOUT,
        Some(d) => u64::try_from(d.as_nanos()).unwrap_or(u64::MAX).max(1),
    }
}

impl Mode {
    fn new(nonblocking: bool, read: Option<Duration>, write: Option<Duration>) -> Arc<Mode> {
        Arc::new(Mode {
            nonblocking: AtomicBool::new(nonblocking),
            read_timeout: AtomicU64::new(to_nanos(read)),
            write_timeout: AtomicU64::new(to_nanos(write)),
        })
    }

    fn timeout(&self, interest: Interest) -> Option<Duration> {
        let cell = match interest {
            Interest::Read => &self.read_timeout,
            Interest::Write => &self.write_timeout,
        };
        match cell.load(Ordering::Relaxed) {
            NO_TIMEOUT => None,
            n => Some(Duration::from_nanos(n)),
        }
    }
}

/// A socket of type `T` (a std socket type, always `O_NONBLOCK` at the OS
/// level) with its green readiness registrations and its user-visible mode.
#[derive(Debug)]
pub(crate) struct Sock<T: AsFd> {
    fd: GreenFd<T>,
    mode: Arc<Mode>,
}

impl<T: AsFd> Sock<T> {
    /// Wraps a freshly made socket whose fd is already non-blocking: the user
    /// sees it in blocking mode with no timeouts, as std's new sockets are.
    pub(crate) fn new(inner: T) -> Sock<T> {
        Sock {
            fd: GreenFd::new(inner),
            mode: Mode::new(false, None, None),
        }
    }

    /// Adopts a socket made elsewhere (`From<OwnedFd>`, `FromRawFd`, from a
    /// std type): its current mode becomes the user-visible mode, then the
    /// fd is switched to non-blocking.
    ///
    /// # Panics
    ///
    /// If `fcntl` fails on the fd, which for an open fd cannot happen.
    pub(crate) fn adopt(inner: T) -> Sock<T> {
        let s = SockRef::from(&inner);
        let nonblocking = s.nonblocking().unwrap_or(false);
        // Not a socket, or an option the fd does not know: no timeout.
        let read = s.read_timeout().unwrap_or(None);
        let write = s.write_timeout().unwrap_or(None);
        if !nonblocking {
            green_core::io::set_nonblocking(inner.as_fd(), true)
                .unwrap_or_else(|e| panic!("cannot make an owned fd non-blocking: {e}"));
        }
        Sock {
            fd: GreenFd::new(inner),
            mode: Mode::new(nonblocking, read, write),
        }
    }

    /// A handle to the same socket (`inner` is a `dup` of ours) with its own
    /// readiness registrations and the shared mode. Each clone needs its own
    /// `GreenFd`: an epoll registration belongs to one fd number.
    pub(crate) fn clone_with(&self, inner: T) -> Sock<T> {
        Sock {
            fd: GreenFd::new(inner),
            mode: self.mode.clone(),
        }
    }

    /// The std socket (non-blocking at the OS level).
    pub(crate) fn get(&self) -> &T {
        self.fd.get_ref()
    }

    /// Unwraps into the std socket with the user-visible blocking mode put
    /// back on the fd, so std's semantics hold for the result.
    ///
    /// The mode lives in the open file description, shared with every
    /// `try_clone` of this socket, as in std.
    pub(crate) fn into_std(self) -> T {
        let nonblocking = self.mode.nonblocking.load(Ordering::Relaxed);
        let inner = self.fd.into_inner();
        if !nonblocking {
            // Cannot fail on an open fd; if it somehow did, the fd stays
            // non-blocking and std calls report WouldBlock rather than hang.
            let _ = green_core::io::set_nonblocking(inner.as_fd(), false);
        }
        inner
    }

    /// Sets the user-visible non-blocking mode (the fd stays non-blocking).
    pub(crate) fn set_nonblocking(&self, on: bool) {
        self.mode.nonblocking.store(on, Ordering::Relaxed);
    }

    /// Records a timeout the caller has already set on the OS socket (which
    /// validated it the way std does).
    pub(crate) fn set_timeout(&self, interest: Interest, d: Option<Duration>) {
        let cell = match interest {
            Interest::Read => &self.mode.read_timeout,
            Interest::Write => &self.mode.write_timeout,
        };
        cell.store(to_nanos(d), Ordering::Relaxed);
    }

    /// Runs a non-blocking syscall with std's blocking semantics: in
    /// non-blocking mode once; otherwise retried after waiting for
    /// `interest` readiness through the hub, until it succeeds, fails, or
    /// the timeout for `interest` expires (then `WouldBlock`, as std's
    /// `SO_RCVTIMEO`/`SO_SNDTIMEO` do on Unix).
    pub(crate) fn io<R>(
        &self,
        interest: Interest,
        op: impl FnMut(&T) -> io::Result<R>,
    ) -> io::Result<R> {
        self.in_mode(interest, op, |deadline, op| {
            self.fd.io(interest, deadline, op)
        })
    }

    /// [`Sock::io`] for a stream transfer of up to `len` bytes; with
    /// `short_drains` (the kernel's buffer is empty, or full, after a
    /// short transfer), through `GreenFd::io_stream`, so that after a
    /// short one the next call waits for readiness before trying.
    pub(crate) fn io_stream(
        &self,
        interest: Interest,
        len: usize,
        short_drains: bool,
        op: impl FnMut(&T) -> io::Result<usize>,
    ) -> io::Result<usize> {
        if !short_drains {
            return self.io(interest, op);
        }
        self.in_mode(interest, op, |deadline, op| {
            self.fd.io_stream(interest, deadline, len, op)
        })
    }

    /// The socket's mode around a blocking call: in non-blocking mode `op`
    /// runs once (retried on `Interrupted`); otherwise `wait` runs it until
    /// the mode's timeout for `interest`, whose expiry becomes std's
    /// `WouldBlock`.
    fn in_mode<R, F: FnMut(&T) -> io::Result<R>>(
        &self,
        interest: Interest,
        mut op: F,
        wait: impl FnOnce(Option<Instant>, F) -> io::Result<R>,
    ) -> io::Result<R> {
        if self.mode.nonblocking.load(Ordering::Relaxed) {
            loop {
                match op(self.get()) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    other => return other,
                }
            }
        }
        let deadline = self
            .mode
            .timeout(interest)
            .and_then(|d| Instant::now().checked_add(d));
        match wait(deadline, op) {
            Err(e) if deadline.is_some() && is_green_timeout(&e) => Err(timeout_expired()),
            other => other,
        }
    }

    /// Like [`Sock::io`] but with an explicit deadline and no regard for the
    /// user's mode (used by `connect`, which std makes blocking whatever the
    /// mode of a socket that does not exist yet). A passed deadline gives
    /// `TimedOut` with std's message.
    pub(crate) fn io_until<R>(
        &self,
        interest: Interest,
        deadline: Option<Instant>,
        op: impl FnMut(&T) -> io::Result<R>,
    ) -> io::Result<R> {
        match self.fd.io(interest, deadline, op) {
            Err(e) if deadline.is_some() && is_green_timeout(&e) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "connection timed out",
            )),
            other => other,
        }
    }
}

/// `GreenFd::io` reports a passed deadline as a bare `TimedOut`; an OS
/// `ETIMEDOUT` carries its errno and is passed through.
fn is_green_timeout(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::TimedOut && e.raw_os_error().is_none()
}

/// The error std returns when `SO_RCVTIMEO`/`SO_SNDTIMEO` expires: `EAGAIN`.
fn timeout_expired() -> io::Error {
    #[cfg(target_os = "linux")]
    {
        io::Error::from_raw_os_error(sys::EAGAIN)
    }
    #[cfg(not(target_os = "linux"))]
    {
        io::Error::from(io::ErrorKind::WouldBlock)
    }
}

/// The few platform numbers this crate needs.
pub(crate) mod sys {
    /// `EAGAIN` on Linux (all architectures).
    #[cfg(target_os = "linux")]
    pub(crate) const EAGAIN: i32 = 11;

    /// Whether a non-blocking `connect` reported "in progress"
    /// (`EINPROGRESS`). `io::ErrorKind::InProgress` would say it, but it
    /// needs Rust 1.83 and the workspace supports 1.82.
    pub(crate) fn connect_in_progress(e: &std::io::Error) -> bool {
        #[cfg(all(target_os = "linux", any(target_arch = "mips", target_arch = "mips64")))]
        const EINPROGRESS: i32 = 150;
        #[cfg(all(
            target_os = "linux",
            not(any(target_arch = "mips", target_arch = "mips64"))
        ))]
        const EINPROGRESS: i32 = 115;
        #[cfg(not(target_os = "linux"))]
        const EINPROGRESS: i32 = 36;
        e.raw_os_error() == Some(EINPROGRESS) || e.kind() == std::io::ErrorKind::WouldBlock
    }

    /// `accept4` flags: the new socket is non-blocking and close-on-exec.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub(crate) fn accept_flags() -> std::os::raw::c_int {
        socket2::Type::from(0).nonblocking().cloexec().into()
    }
}
