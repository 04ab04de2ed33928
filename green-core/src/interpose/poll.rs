//! `poll` and `ppoll`: green when none of the fds is ready yet.
//!
//! A zero-timeout poll answers first. If nothing is ready and the caller
//! would wait, the fds go into a private epoll set for the length of the
//! call, and the green thread waits on its hub for that set to become
//! readable; each wake-up polls the caller's array again with a zero
//! timeout, so `revents` and the count are the kernel's own. An fd the
//! epoll set refuses (a regular file, which is always ready anyway) makes
//! the call a plain one. `ppoll` with a signal mask is left to the kernel
//! (the mask's atomic swap cannot be had on a hub).

use std::os::fd::{FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use libc::{c_int, nfds_t, pollfd, sigset_t, timespec};

use super::{finish, green_here, raw, waited_on, Sys, Waited};
use crate::io::{GreenFd, Interest};

/// The epoll events that stand for `poll` events `ev`.
fn epoll_events(ev: libc::c_short) -> u32 {
    let mut out = libc::EPOLLET as u32;
    for (p, e) in [
        (libc::POLLIN, libc::EPOLLIN),
        (libc::POLLOUT, libc::EPOLLOUT),
        (libc::POLLPRI, libc::EPOLLPRI),
        (libc::POLLRDHUP, libc::EPOLLRDHUP),
    ] {
        if ev & p != 0 {
            out |= e as u32;
        }
    }
    out
}

/// The green poll: `Ok(n)` as poll(2) returns it, or `None` to make the
/// plain call.
///
/// # Safety
///
/// `fds` valid for `nfds` entries.
unsafe fn green_poll(fds: *mut pollfd, nfds: nfds_t, deadline: Option<Instant>) -> Option<Sys> {
    // SAFETY: the caller's array.
    let now = unsafe { raw::poll_now(fds, nfds) };
    if now != Ok(0) {
        crate::coop::consume();
        return Some(now);
    }
    if nfds == 0 {
        // A poll of nothing is a sleep (which a caught signal interrupts).
        return Some(match super::sleep::green_sleep_until(deadline) {
            None => Ok(0),
            Some(_) => Err(libc::EINTR),
        });
    }
    // SAFETY: EPOLL_CLOEXEC is a valid flag; the fd (if any) is ours.
    let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    if ep < 0 {
        return None;
    }
    // SAFETY: `ep` is a fresh fd nobody else owns.
    let set = unsafe { OwnedFd::from_raw_fd(ep) };
    // SAFETY: the caller's array, `nfds` entries.
    let list = unsafe { std::slice::from_raw_parts(fds, nfds as usize) };
    for p in list.iter().filter(|p| p.fd >= 0) {
        let mut ev = libc::epoll_event {
            events: epoll_events(p.events),
            u64: 0,
        };
        // SAFETY: `ev` is a valid event; the fd is the caller's.
        let rc = unsafe { libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, p.fd, &mut ev) };
        if rc != 0 && super::errno() != libc::EEXIST {
            return None;
        }
    }
    let drain = |ep: c_int| {
        let mut evs = [libc::epoll_event { events: 0, u64: 0 }; 8];
        // SAFETY: room for 8 events; zero timeout.
        while unsafe { libc::epoll_wait(ep, evs.as_mut_ptr(), 8, 0) } == 8 {}
    };
    // poll is never restarted after a handler, SA_RESTART or not.
    let waited = waited_on(GreenFd::new(set), Interest::Read, deadline, false, |ep| {
        // SAFETY: the caller's array.
        match unsafe { raw::poll_now(fds, nfds) } {
            Ok(0) => {
                // Nothing after all: empty the set's ready list so that the
                // next event is a new edge for the hub.
                drain(ep);
                Err(libc::EAGAIN)
            }
            other => other,
        }
    });
    match waited {
        Waited::Done(r) => Some(r),
        // The last zero-timeout poll left every `revents` at 0.
        Waited::TimedOut => Some(Ok(0)),
        Waited::Interrupted => Some(Err(libc::EINTR)),
        Waited::NoWait => None,
    }
}

/// `poll(2)`, green on a green thread.
///
/// # Safety
///
/// poll(2)'s contract: `fds` holds `nfds` entries.
#[no_mangle]
pub unsafe extern "C" fn poll(fds: *mut pollfd, nfds: nfds_t, timeout: c_int) -> c_int {
    if green_here() && timeout != 0 {
        let deadline = u64::try_from(timeout)
            .ok()
            .and_then(|ms| Instant::now().checked_add(Duration::from_millis(ms)));
        // SAFETY: the caller's array.
        if let Some(r) = unsafe { green_poll(fds, nfds, deadline) } {
            return finish(r) as c_int;
        }
    }
    let mut ts = (timeout >= 0).then(|| timespec {
        tv_sec: (timeout / 1000) as libc::time_t,
        tv_nsec: ((timeout % 1000) * 1_000_000) as libc::c_long,
    });
    let ts_ptr = ts.as_mut().map_or(std::ptr::null_mut(), std::ptr::from_mut);
    // SAFETY: the caller's array; `ts_ptr` null or a local timespec.
    finish(unsafe { raw::ppoll(fds, nfds, ts_ptr, std::ptr::null()) }) as c_int
}

/// `ppoll(2)`, green on a green thread when no signal mask is given.
///
/// # Safety
///
/// ppoll(2)'s contract.
#[no_mangle]
pub unsafe extern "C" fn ppoll(
    fds: *mut pollfd,
    nfds: nfds_t,
    tmo: *const timespec,
    mask: *const sigset_t,
) -> c_int {
    // SAFETY: `tmo` is null or a valid timespec per the caller.
    let mut local = unsafe { tmo.as_ref() }.copied();
    if green_here() && mask.is_null() {
        let valid = local.is_none_or(|t| t.tv_sec >= 0 && (0..1_000_000_000).contains(&t.tv_nsec));
        let zero = local.is_some_and(|t| t.tv_sec == 0 && t.tv_nsec == 0);
        if valid && !zero {
            let deadline = local.and_then(|t| {
                Instant::now().checked_add(Duration::new(t.tv_sec as u64, t.tv_nsec as u32))
            });
            // SAFETY: the caller's array.
            if let Some(r) = unsafe { green_poll(fds, nfds, deadline) } {
                return finish(r) as c_int;
            }
        }
    }
    // A copy of the timeout, as glibc's wrapper passes: the kernel writes
    // the time left into it, which ppoll(3) does not show the caller.
    let ts_ptr = local
        .as_mut()
        .map_or(std::ptr::null_mut(), std::ptr::from_mut);
    // SAFETY: the caller's array and mask; `ts_ptr` null or a local copy.
    finish(unsafe { raw::ppoll(fds, nfds, ts_ptr, mask) }) as c_int
}
