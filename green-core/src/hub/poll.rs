//! The hub's wait for fd events, and its wake-up fd.
//!
//! An fd is added with one `epoll_ctl` here ([`add_fd`]: `polling`'s own
//! `add` does not ask for `EPOLLRDHUP`) and removed through `polling`'s
//! `delete`. The wait itself is one `epoll_pwait2` on the poller's epoll
//! fd, with a nanosecond timeout: `Poller::wait` costs five
//! syscalls per wait (it arms a timerfd and re-arms its own notifier each
//! time), which showed in server profiles. Cross-thread wake-ups use an
//! eventfd of our own, registered once, edge-triggered, under
//! [`WAKE_KEY`]; `polling`'s own notifier and timerfd stay registered and
//! idle.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::time::Duration;

use polling::{Event, PollMode, Poller};

/// The event key of the hub's wake-up eventfd (`usize::MAX` is `polling`'s
/// own).
pub(crate) const WAKE_KEY: usize = usize::MAX - 1;

/// An eventfd another thread writes to wake the hub.
#[derive(Debug)]
pub(crate) struct Wakeup {
    fd: OwnedFd,
}

impl Wakeup {
    /// A fresh eventfd, registered with `poller` under [`WAKE_KEY`].
    pub(crate) fn new(poller: &Poller) -> io::Result<Wakeup> {
        // SAFETY: eventfd takes no pointers; a negative return is an error.
        let raw = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a new fd that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: `polling` requires the fd to be deleted from the poller
        // before it is closed: `HubShared`'s `Drop` does so before its
        // `Wakeup` is dropped.
        unsafe {
            poller.add_with_mode(&fd, Event::readable(WAKE_KEY), PollMode::Edge)?;
        }
        Ok(Wakeup { fd })
    }

    /// Wakes the hub's current or next wait.
    pub(crate) fn notify(&self) {
        let one = 1u64.to_ne_bytes();
        // SAFETY: writes 8 bytes from a valid buffer to our eventfd. It can
        // only fail if the counter is saturated, and then a wake-up is
        // pending anyway.
        unsafe { libc::write(self.fd.as_raw_fd(), one.as_ptr().cast(), 8) };
    }

    /// Resets the counter after a wake-up was seen.
    pub(crate) fn drain(&self) {
        let mut buf = [0u8; 8];
        // SAFETY: reads at most 8 bytes into a valid buffer; EAGAIN (nothing
        // to read) is fine.
        unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), 8) };
    }

    pub(crate) fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// A buffer of epoll events, reused across waits.
pub(crate) struct EventBuf(Vec<libc::epoll_event>);

impl EventBuf {
    pub(crate) fn new(capacity: usize) -> EventBuf {
        EventBuf(Vec::with_capacity(capacity))
    }

    /// The key of the `i`-th event of the last wait.
    #[inline]
    pub(crate) fn key(&self, i: usize) -> Option<usize> {
        self.0.get(i).map(|ev| ev.u64 as usize)
    }

    /// The events of the last wait: `(key, what)`.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (usize, Readiness)> + '_ {
        let read = (libc::EPOLLIN | libc::EPOLLHUP | libc::EPOLLERR | libc::EPOLLPRI) as u32;
        let write = (libc::EPOLLOUT | libc::EPOLLHUP | libc::EPOLLERR) as u32;
        let closed = (libc::EPOLLRDHUP | libc::EPOLLHUP | libc::EPOLLERR) as u32;
        self.0.iter().map(move |ev| {
            let flags = ev.events;
            let key = ev.u64 as usize;
            let what = Readiness {
                readable: flags & read != 0,
                writable: flags & write != 0,
                closed: flags & closed != 0,
            };
            (key, what)
        })
    }
}

/// What one poller event says about an fd.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Readiness {
    /// Data, a connection or EOF to read, or an error.
    pub(crate) readable: bool,
    /// Room to write, a finished connect, or an error.
    pub(crate) writable: bool,
    /// The peer shut down its side, or the fd hung up or failed: what is
    /// left to read ends in EOF or an error, without another event.
    pub(crate) closed: bool,
}

/// Adds `fd` to `poller`'s epoll set under `key`, edge-triggered, for both
/// directions and for the peer's shutdown (`EPOLLRDHUP`, which `polling`'s
/// own `add` does not ask for).
///
/// # Safety
///
/// `polling`'s contract: `fd` must be deleted from the poller (its
/// `delete`) before it is closed.
pub(crate) unsafe fn add_fd(poller: &Poller, fd: BorrowedFd<'_>, key: usize) -> io::Result<()> {
    let mut ev = libc::epoll_event {
        events: (libc::EPOLLIN | libc::EPOLLPRI | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET)
            as u32,
        u64: key as u64,
    };
    // SAFETY: both fds are open and `ev` is a valid event; the caller keeps
    // the registration's lifetime rule.
    let rc = unsafe {
        libc::epoll_ctl(
            poller.as_raw_fd(),
            libc::EPOLL_CTL_ADD,
            fd.as_raw_fd(),
            &mut ev,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Waits on `poller`'s epoll set for up to `timeout` (`None`: no limit).
///
/// # Errors
///
/// What `epoll_pwait2` (or `epoll_wait`) returns, `EINTR` included.
pub(crate) fn wait(
    poller: &Poller,
    buf: &mut EventBuf,
    timeout: Option<Duration>,
) -> io::Result<()> {
    buf.0.clear();
    let epfd = poller.as_raw_fd();
    let cap = buf.0.capacity() as libc::c_int;
    let ts = timeout.map(|t| libc::timespec {
        tv_sec: t.as_secs().min(i64::MAX as u64) as libc::time_t,
        tv_nsec: t.subsec_nanos() as libc::c_long,
    });
    let ts_ptr = ts.as_ref().map_or(std::ptr::null(), std::ptr::from_ref);
    // SAFETY: the buffer has room for `cap` events and epoll writes at most
    // that many; `ts_ptr` is null or points at a live timespec; no signal
    // mask is passed.
    let mut n = unsafe {
        libc::syscall(
            libc::SYS_epoll_pwait2,
            epfd,
            buf.0.as_mut_ptr(),
            cap,
            ts_ptr,
            std::ptr::null::<libc::sigset_t>(),
            0usize,
        )
    };
    if n < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::ENOSYS) {
        // Before Linux 5.11: millisecond timeouts, rounded up.
        let ms = timeout.map_or(-1, |t| {
            let ms = t.as_nanos().div_ceil(1_000_000);
            libc::c_int::try_from(ms).unwrap_or(libc::c_int::MAX)
        });
        // SAFETY: as above.
        n = unsafe { libc::epoll_wait(epfd, buf.0.as_mut_ptr(), cap, ms) } as libc::c_long;
    }
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: epoll initialised the first `n` entries (n <= capacity).
    unsafe { buf.0.set_len(n as usize) };
    Ok(())
}
