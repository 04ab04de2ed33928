//! Opt-in interposition of libc's blocking socket, pipe and sleep calls
//! (cargo feature `interpose`).
//!
//! # How it hooks in
//!
//! The module defines `read`, `write`, `recv`, `connect`, `nanosleep`, ...
//! as `#[no_mangle] extern "C"` functions. Linked into an executable, a
//! definition in the executable's own objects wins over libc's at static
//! link time, so every call the executable's code makes through the
//! symbol (std's `libc::read`, a crate's, statically linked C code's) comes
//! here. Calls glibc makes inside itself do not go through the symbol and
//! are not reached.
//!
//! Each interposer first asks one question, a `const` thread-local read:
//! is a green thread running on this OS thread? If not (plain OS threads,
//! the blocking pool, the hubs' own loops, and green's own calls made
//! through [`crate::io::GreenFd`], which mark themselves [`Direct`]), the
//! call goes straight to the kernel through `syscall(2)`, as libc's own
//! wrapper would; for `sleep`, `usleep` and `getaddrinfo`, to libc's
//! definition found with `dlsym(RTLD_NEXT)`. A forked child never waits on
//! a hub (a `pthread_atfork` child handler switches interposition off in
//! the child).
//!
//! # How a blocking call waits
//!
//! On a green thread, the call is first made non-blocking without touching
//! the fd's flags: `MSG_DONTWAIT` for sockets, `RWF_NOWAIT` (`preadv2` /
//! `pwritev2`) for pipes, a zero timeout for `poll`. If that would block,
//! and the fd is in blocking mode (an fd its owner made `O_NONBLOCK` gets
//! `EAGAIN` back as before), the green thread waits on its hub for
//! readiness of a private duplicate of the fd (`F_DUPFD_CLOEXEC`),
//! registered with the hub's poller for the length of this one call, and
//! the call is retried on that duplicate. So:
//!
//! * no per-fd-number state outlives a call: `close`, `dup2` and `dup3`
//!   need no bookkeeping, and a reused fd number can never inherit a stale
//!   registration, whichever way (libc-internal, `close_range`, raw
//!   syscall) the old fd was closed;
//! * closing the fd while a green thread waits on it behaves as it does
//!   for a thread blocked in the call: the open file stays alive for the
//!   waiter (the duplicate holds it, as the kernel's in-flight call holds
//!   it), and the waiter returns when the file becomes ready.
//!
//! `connect` and `accept` have no per-call non-blocking flag, so they set
//! `O_NONBLOCK` for the span of one syscall, under a process-wide lock that
//! every interposed `connect`/`accept` takes before it reads the flags, and
//! restore it at once: no green thread can see the change. (A plain OS
//! thread or another process sharing the open file that starts an
//! `accept` in that window of a few hundred nanoseconds would see
//! `EAGAIN`.)
//!
//! `SO_RCVTIMEO` and `SO_SNDTIMEO` bound the wait, which then ends with
//! `EAGAIN` (`EINPROGRESS` for `connect`), as the kernel's own timeout
//! does. A caught signal interrupts the wait with `EINTR` by the kernel's
//! rules (`SA_RESTART`, socket timeouts, calls that are never restarted):
//! see `signals`, which interposes `sigaction`, `signal` and
//! `siginterrupt` for it. Interposed calls are not cancellation points (no unwind may cross
//! an `extern "C"` frame): a `green::rt::timeout` fires at the next green
//! call instead.

use std::cell::Cell;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use libc::{c_int, c_long};

use crate::io::{GreenFd, Interest};

mod dns;
mod io;
mod poll;
mod signals;
mod sleep;
mod sock;

thread_local! {
    /// Set while green-core itself makes a call on an fd it already made
    /// non-blocking (inside `GreenFd::io`): the interposers pass it through.
    static DIRECT: Cell<bool> = const { Cell::new(false) };
}

/// Set in a forked child, by the `pthread_atfork` handler: the child has
/// no hubs, so nothing there waits on one.
static FORKED: AtomicBool = AtomicBool::new(false);

/// Marks green-core's own fd calls on this thread until dropped.
pub(crate) struct Direct {
    previous: bool,
}

impl Direct {
    /// Until the guard drops, interposed calls on this thread pass through.
    #[inline(always)]
    pub(crate) fn enter() -> Direct {
        Direct {
            previous: DIRECT.replace(true),
        }
    }
}

impl Drop for Direct {
    #[inline(always)]
    fn drop(&mut self) {
        DIRECT.set(self.previous);
    }
}

extern "C" fn in_fork_child() {
    FORKED.store(true, Ordering::Relaxed);
}

extern "C" fn at_load() {
    // SAFETY: registers a child handler that only stores to an atomic;
    // pthread_atfork may be called at any time, here before `main`.
    unsafe { libc::pthread_atfork(None, None, Some(in_fork_child)) };
}

/// Runs `at_load` when the executable is loaded, before `main` and before
/// any thread could fork.
#[used]
#[link_section = ".init_array"]
static AT_LOAD: extern "C" fn() = at_load;

/// Whether the calling thread may wait on its hub: a green thread runs
/// here, the call is not green-core's own, and this is not a forked child.
#[inline(always)]
fn green_here() -> bool {
    crate::signal::green_running() && !DIRECT.get() && !FORKED.load(Ordering::Relaxed)
}

/// `green_here()` for a call on `fd`. The standard streams always pass
/// through: std's `Stdout`/`Stderr`/`Stdin` locks are reentrant per OS
/// thread, so a write parked while holding one would let another green
/// thread of the same hub into it (green::io's streams are the green way).
#[inline(always)]
fn green_fd(fd: c_int) -> bool {
    crate::signal::green_running() && fd > 2 && !DIRECT.get() && !FORKED.load(Ordering::Relaxed)
}

/// The calling thread's `errno`.
fn errno() -> c_int {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn set_errno(e: c_int) {
    // SAFETY: `__errno_location` returns the calling thread's errno slot,
    // valid for the thread's life.
    unsafe { *libc::__errno_location() = e };
}

/// A syscall's result: the value, or the errno it failed with.
type Sys = Result<isize, c_int>;

/// `Sys` from a libc call returning -1 and setting errno on failure.
fn cvt(r: c_long) -> Sys {
    if r < 0 {
        Err(errno())
    } else {
        Ok(r as isize)
    }
}

/// The C convention: the value, or -1 with errno set.
fn finish(r: Sys) -> isize {
    match r {
        Ok(n) => n,
        Err(e) => {
            set_errno(e);
            -1
        }
    }
}

/// Whether `fd`'s open file is in non-blocking mode (an `fcntl` error
/// counts as non-blocking: the caller then makes the plain call, which
/// reports it).
fn nonblocking(fd: c_int) -> bool {
    // SAFETY: F_GETFL takes no pointer; a bad fd gives -1.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    flags < 0 || flags & libc::O_NONBLOCK != 0
}

/// What kind of file `fd` is, for calls that work on sockets and pipes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Pipe,
    Other,
}

fn kind(fd: c_int) -> Kind {
    // SAFETY: an all-zero `stat` is a valid value to be overwritten.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `st` is valid for writes of a `stat`.
    if unsafe { libc::fstat(fd, &mut st) } == 0 && st.st_mode & libc::S_IFMT == libc::S_IFIFO {
        Kind::Pipe
    } else {
        Kind::Other
    }
}

/// The socket's `SO_RCVTIMEO` or `SO_SNDTIMEO` (`opt`) as a deadline from
/// now; `None` when unset (or not a socket).
fn sock_deadline(fd: c_int, opt: c_int) -> Option<Instant> {
    let mut tv = libc::timeval {
        tv_sec: 0,
        tv_usec: 0,
    };
    let mut len = std::mem::size_of::<libc::timeval>() as libc::socklen_t;
    // SAFETY: `tv` and `len` are valid for writes and `len` is its size.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            opt,
            std::ptr::from_mut(&mut tv).cast(),
            &mut len,
        )
    };
    if rc != 0 || (tv.tv_sec == 0 && tv.tv_usec == 0) {
        return None;
    }
    let dur = Duration::new(tv.tv_sec as u64, (tv.tv_usec as u32).saturating_mul(1000));
    Instant::now().checked_add(dur)
}

/// How a wait on the hub ended.
enum Waited {
    /// The attempt stopped failing with `EAGAIN`: its result.
    Done(Sys),
    /// The deadline passed first.
    TimedOut,
    /// A caught signal interrupted the wait (see `signals`): `EINTR`.
    Interrupted,
    /// No wait could be set up (no fd left for the duplicate, or the poller
    /// refused it): the caller makes the plain blocking call.
    NoWait,
}

/// Repeats `attempt` (a non-blocking form of the call) on a private
/// duplicate of `fd`, waiting on the hub for `interest` between attempts,
/// until it stops failing with `EAGAIN`, `deadline` passes, or a caught
/// signal interrupts it (`restartable`: unless its handler has
/// `SA_RESTART`).
fn wait(
    fd: c_int,
    interest: Interest,
    deadline: Option<Instant>,
    restartable: bool,
    attempt: impl FnMut(c_int) -> Sys,
) -> Waited {
    // SAFETY: F_DUPFD_CLOEXEC takes an int; the new fd (if any) is ours.
    let dup = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
    if dup < 0 {
        return Waited::NoWait;
    }
    // SAFETY: `dup` is a fresh fd that nothing else owns.
    let owned = unsafe { OwnedFd::from_raw_fd(dup) };
    waited_on(
        GreenFd::new(owned),
        interest,
        deadline,
        restartable,
        attempt,
    )
}

/// `wait` on an fd of our own (a duplicate, or `poll`'s epoll set): the
/// `GreenFd` deregisters it from every poller before it closes it.
fn waited_on(
    green: GreenFd<OwnedFd>,
    interest: Interest,
    deadline: Option<Instant>,
    restartable: bool,
    mut attempt: impl FnMut(c_int) -> Sys,
) -> Waited {
    let mut last: Option<Sys> = None;
    let watch = signals::watch(restartable);
    let stop = || watch.as_ref().is_some_and(signals::Watch::hit);
    let result = crate::cancel::uncancellable(|| {
        green.io_until(interest, deadline, Some(&stop), |fd| {
            let r = attempt(fd.as_raw_fd());
            last = Some(r);
            r.map_err(std::io::Error::from_raw_os_error)
        })
    });
    match result {
        Ok(n) => Waited::Done(Ok(n)),
        Err(e) => match (e.raw_os_error(), last) {
            // The attempt's own error.
            (Some(code), Some(Err(seen))) if code == seen => Waited::Done(Err(code)),
            (None, _) if e.kind() == std::io::ErrorKind::TimedOut => Waited::TimedOut,
            (None, _) if e.kind() == std::io::ErrorKind::Interrupted => Waited::Interrupted,
            // Registering with the poller failed.
            _ => Waited::NoWait,
        },
    }
}

/// The common tail of an interposed call whose non-blocking `first` try
/// on `fd` returned: done unless it would block; `EAGAIN` as it was if the
/// fd is non-blocking; else wait on the hub (bounded by the socket option
/// `timeout_opt`, if any) retrying with `attempt`, or fall back to the
/// plain `blocking` call.
fn settle(
    fd: c_int,
    first: Sys,
    interest: Interest,
    timeout_opt: Option<c_int>,
    attempt: impl FnMut(c_int) -> Sys,
    blocking: impl FnOnce() -> Sys,
) -> Sys {
    match first {
        Err(libc::EAGAIN) => {}
        other => {
            // Ready at once (or failed at once): spend budget, as green's
            // own calls do, so a loop of ready reads stays fair.
            crate::coop::consume();
            return other;
        }
    }
    if nonblocking(fd) {
        return Err(libc::EAGAIN);
    }
    let deadline = timeout_opt.and_then(|opt| sock_deadline(fd, opt));
    // A socket call under a timeout is never restarted (signal(7)).
    match wait(fd, interest, deadline, deadline.is_none(), attempt) {
        Waited::Done(r) => r,
        Waited::TimedOut => Err(libc::EAGAIN),
        Waited::Interrupted => Err(libc::EINTR),
        Waited::NoWait => blocking(),
    }
}

/// Held while an interposed `connect` or `accept` reads an fd's flags or
/// has switched it to non-blocking for one syscall.
static FLAG_LOCK: Mutex<()> = Mutex::new(());

/// What `with_nonblocking` did.
enum Flagged {
    /// The fd was already non-blocking: the caller's call is a plain one.
    WasNonblocking,
    /// The flag could not be read or set: make the plain call.
    Untouched,
    /// `call`'s result, made with `O_NONBLOCK` set just for it.
    Ran(Sys),
}

/// Runs `call` with `O_NONBLOCK` set on `fd`'s open file, restored right
/// after, under `FLAG_LOCK` (no switch can happen in between).
fn with_nonblocking(fd: c_int, call: impl FnOnce() -> Sys) -> Flagged {
    let _lock = FLAG_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    // SAFETY: F_GETFL/F_SETFL take no pointer; errors are checked.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return Flagged::Untouched;
    }
    if flags & libc::O_NONBLOCK != 0 {
        return Flagged::WasNonblocking;
    }
    // SAFETY: as above.
    if unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
        return Flagged::Untouched;
    }
    let r = call();
    // SAFETY: as above; the flags go back to what they were.
    unsafe { libc::fcntl(fd, libc::F_SETFL, flags) };
    Flagged::Ran(r)
}

/// Raw syscalls: the kernel's answer without going through libc's
/// wrappers (which, inside this executable, are the interposers).
mod raw {
    use libc::{c_int, c_long, c_void, size_t};

    use super::{cvt, Sys};

    /// `syscall(2)` with up to six integer or pointer arguments.
    ///
    /// # Safety
    ///
    /// The arguments must be valid for syscall `nr`, as its C wrapper
    /// would require.
    #[inline(always)]
    pub(super) unsafe fn call(nr: c_long, a: [usize; 6]) -> Sys {
        // SAFETY: the caller guarantees the arguments suit `nr`.
        cvt(unsafe { libc::syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]) })
    }

    /// # Safety
    ///
    /// read(2)'s contract: `buf` valid for `count` bytes of writes.
    pub(super) unsafe fn read(fd: c_int, buf: *mut c_void, count: size_t) -> Sys {
        // SAFETY: passed through from the caller.
        unsafe { call(libc::SYS_read, [fd as usize, buf as usize, count, 0, 0, 0]) }
    }

    /// # Safety
    ///
    /// write(2)'s contract: `buf` valid for `count` bytes of reads.
    pub(super) unsafe fn write(fd: c_int, buf: *const c_void, count: size_t) -> Sys {
        // SAFETY: passed through from the caller.
        unsafe { call(libc::SYS_write, [fd as usize, buf as usize, count, 0, 0, 0]) }
    }

    /// # Safety
    ///
    /// `fds` valid for `nfds` entries; `ts` null or a valid timespec
    /// (which the kernel may update).
    pub(super) unsafe fn ppoll(
        fds: *mut libc::pollfd,
        nfds: libc::nfds_t,
        ts: *mut libc::timespec,
        mask: *const libc::sigset_t,
    ) -> Sys {
        let size = if mask.is_null() { 0 } else { 8 };
        // SAFETY: passed through from the caller.
        unsafe {
            call(
                libc::SYS_ppoll,
                [
                    fds as usize,
                    nfds as usize,
                    ts as usize,
                    mask as usize,
                    size,
                    0,
                ],
            )
        }
    }

    /// A zero-timeout poll: which of `fds` are ready now.
    ///
    /// # Safety
    ///
    /// `fds` valid for `nfds` entries.
    pub(super) unsafe fn poll_now(fds: *mut libc::pollfd, nfds: libc::nfds_t) -> Sys {
        let mut zero = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: passed through; `zero` is a valid timespec.
        unsafe { ppoll(fds, nfds, &mut zero, std::ptr::null()) }
    }
}
