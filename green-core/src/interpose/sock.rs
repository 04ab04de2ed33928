//! The socket calls: `recv`, `recvfrom`, `recvmsg`, `send`, `sendto`,
//! `sendmsg`, `connect`, `accept`, `accept4`.
//!
//! Receives and sends add `MSG_DONTWAIT` to the caller's flags; a caller
//! that passed `MSG_DONTWAIT` itself gets the plain call, and so does
//! `MSG_WAITALL` (left to the kernel: it would block the hub).
//! `connect` and `accept` switch the fd to non-blocking for one syscall
//! (`with_nonblocking`).

use libc::{c_int, c_void, iovec, size_t, sockaddr, socklen_t, ssize_t};

use super::io::{finish_write, send_iov, Writer};
use super::{finish, green_fd, raw, settle, wait, with_nonblocking, Flagged, Sys, Waited};
use crate::io::Interest;

/// Whether a receive or send with `flags` is left to the kernel.
fn plain_flags(flags: c_int) -> bool {
    flags & (libc::MSG_DONTWAIT | libc::MSG_WAITALL) != 0
}

/// One `recvfrom` with `flags`.
///
/// # Safety
///
/// recvfrom(2)'s contract.
unsafe fn sys_recvfrom(
    fd: c_int,
    buf: *mut c_void,
    len: size_t,
    flags: c_int,
    addr: *mut sockaddr,
    addrlen: *mut socklen_t,
) -> Sys {
    // SAFETY: the caller's contract.
    unsafe {
        raw::call(
            libc::SYS_recvfrom,
            [
                fd as usize,
                buf as usize,
                len,
                flags as usize,
                addr as usize,
                addrlen as usize,
            ],
        )
    }
}

/// `recvfrom(2)`, green on a green thread.
///
/// # Safety
///
/// recvfrom(2)'s contract.
#[no_mangle]
pub unsafe extern "C" fn recvfrom(
    fd: c_int,
    buf: *mut c_void,
    len: size_t,
    flags: c_int,
    addr: *mut sockaddr,
    addrlen: *mut socklen_t,
) -> ssize_t {
    // (Unsafe blocks here:) the caller's contract is recvfrom(2)'s, and
    // each attempt passes its arguments on unchanged (the duplicate fd
    // names the same socket).
    if !green_fd(fd) || plain_flags(flags) {
        // SAFETY: the caller's arguments, valid as the call's contract requires (a duplicate fd names the same socket).
        return finish(unsafe { sys_recvfrom(fd, buf, len, flags, addr, addrlen) });
    }
    let nb = flags | libc::MSG_DONTWAIT;
    // SAFETY: the caller's arguments, valid as the call's contract requires (a duplicate fd names the same socket).
    let first = unsafe { sys_recvfrom(fd, buf, len, nb, addr, addrlen) };
    finish(settle(
        fd,
        first,
        Interest::Read,
        Some(libc::SO_RCVTIMEO),
        // SAFETY: the caller's arguments, valid as the call's contract requires (a duplicate fd names the same socket).
        |d| unsafe { sys_recvfrom(d, buf, len, nb, addr, addrlen) },
        // SAFETY: the caller's arguments, valid as the call's contract requires (a duplicate fd names the same socket).
        || unsafe { sys_recvfrom(fd, buf, len, flags, addr, addrlen) },
    ))
}

/// `recv(2)`: `recvfrom` without an address.
///
/// # Safety
///
/// recv(2)'s contract.
#[no_mangle]
pub unsafe extern "C" fn recv(fd: c_int, buf: *mut c_void, len: size_t, flags: c_int) -> ssize_t {
    // SAFETY: the caller's contract; no address is asked for.
    unsafe {
        recvfrom(
            fd,
            buf,
            len,
            flags,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        )
    }
}

/// `recvmsg(2)`, green on a green thread.
///
/// # Safety
///
/// recvmsg(2)'s contract.
#[no_mangle]
pub unsafe extern "C" fn recvmsg(fd: c_int, msg: *mut libc::msghdr, flags: c_int) -> ssize_t {
    // (Unsafe blocks here:) the caller's contract, passed on unchanged.
    // SAFETY: the caller's arguments, valid as the call's contract requires (a duplicate fd names the same socket).
    let call = |fd: c_int, flags: c_int| unsafe {
        raw::call(
            libc::SYS_recvmsg,
            [fd as usize, msg as usize, flags as usize, 0, 0, 0],
        )
    };
    if !green_fd(fd) || plain_flags(flags) {
        return finish(call(fd, flags));
    }
    let nb = flags | libc::MSG_DONTWAIT;
    finish(settle(
        fd,
        call(fd, nb),
        Interest::Read,
        Some(libc::SO_RCVTIMEO),
        |d| call(d, nb),
        || call(fd, flags),
    ))
}

/// One `sendto` with `flags` (plus `MSG_DONTWAIT`) of `iov` (which holds
/// one buffer).
///
/// # Safety
///
/// sendto(2)'s contract for the buffer in `iov`.
unsafe fn sys_sendto(
    fd: c_int,
    iov: &[iovec],
    flags: c_int,
    addr: *const sockaddr,
    addrlen: socklen_t,
) -> Sys {
    let (buf, len) = iov
        .first()
        .map_or((std::ptr::null_mut(), 0), |v| (v.iov_base, v.iov_len));
    // SAFETY: the caller's contract.
    unsafe {
        raw::call(
            libc::SYS_sendto,
            [
                fd as usize,
                buf as usize,
                len,
                flags as usize,
                addr as usize,
                addrlen as usize,
            ],
        )
    }
}

/// `sendto(2)`, green on a green thread: like a blocking send, it returns
/// when all of the buffer went (a stream socket takes it in parts).
///
/// # Safety
///
/// sendto(2)'s contract.
#[no_mangle]
pub unsafe extern "C" fn sendto(
    fd: c_int,
    buf: *const c_void,
    len: size_t,
    flags: c_int,
    addr: *const sockaddr,
    addrlen: socklen_t,
) -> ssize_t {
    let iov = [iovec {
        iov_base: buf.cast_mut(),
        iov_len: len,
    }];
    // (Unsafe blocks here:) the caller's contract is sendto(2)'s; the
    // Writer only hands on the unsent tail of the caller's buffer.
    if !green_fd(fd) || plain_flags(flags) || len == 0 {
        // SAFETY: the caller's arguments, valid as the call's contract requires (a duplicate fd names the same socket).
        return finish(unsafe { sys_sendto(fd, &iov, flags, addr, addrlen) });
    }
    let nb = flags | libc::MSG_DONTWAIT;
    let mut w = Writer::new(&iov);
    // SAFETY: the caller's arguments, valid as the call's contract requires (a duplicate fd names the same socket).
    let first = w.step(|part| unsafe { sys_sendto(fd, part, nb, addr, addrlen) });
    finish(finish_write(
        fd,
        first,
        w,
        Some(libc::SO_SNDTIMEO),
        // SAFETY: the caller's arguments, valid as the call's contract requires (a duplicate fd names the same socket).
        |d, part| unsafe { sys_sendto(d, part, nb, addr, addrlen) },
        // SAFETY: the caller's arguments, valid as the call's contract requires (a duplicate fd names the same socket).
        |part| unsafe { sys_sendto(fd, part, flags, addr, addrlen) },
    ))
}

/// `send(2)`: `sendto` without an address.
///
/// # Safety
///
/// send(2)'s contract.
#[no_mangle]
pub unsafe extern "C" fn send(fd: c_int, buf: *const c_void, len: size_t, flags: c_int) -> ssize_t {
    // SAFETY: the caller's contract; no address.
    unsafe { sendto(fd, buf, len, flags, std::ptr::null(), 0) }
}

/// `sendmsg(2)`, green on a green thread. A message with an address or
/// control data goes as one non-blocking `sendmsg` per attempt (the
/// kernel sends those whole or not at all on datagram sockets; on a
/// stream socket a partial send continues with the data alone, as the
/// kernel's own blocking send does after the first part).
///
/// # Safety
///
/// sendmsg(2)'s contract.
#[no_mangle]
pub unsafe extern "C" fn sendmsg(fd: c_int, msg: *const libc::msghdr, flags: c_int) -> ssize_t {
    // (Unsafe blocks here:) the caller's contract, passed on unchanged.
    // SAFETY: the caller's arguments, valid as the call's contract requires (a duplicate fd names the same socket).
    let whole = |fd: c_int, flags: c_int| unsafe {
        raw::call(
            libc::SYS_sendmsg,
            [fd as usize, msg as usize, flags as usize, 0, 0, 0],
        )
    };
    if !green_fd(fd) || plain_flags(flags) || msg.is_null() {
        return finish(whole(fd, flags));
    }
    // SAFETY: `msg` is a valid msghdr per the caller.
    let m = unsafe { &*msg };
    // SAFETY: the caller's arguments, valid as the call's contract requires (a duplicate fd names the same socket).
    let Some(iov) = (unsafe { super::io::iovecs(m.msg_iov, m.msg_iovlen as c_int) }) else {
        return finish(whole(fd, flags));
    };
    let nb = flags | libc::MSG_DONTWAIT;
    let mut w = Writer::new(iov);
    let mut first_part = true;
    // The first attempt sends the caller's whole message (address and
    // control data included); a continuation sends the rest of the data.
    let mut step = |d: c_int, part: &[iovec]| {
        if first_part {
            let r = whole(d, nb);
            if r.is_ok() {
                first_part = false;
            }
            r
        } else {
            // SAFETY: the tail of the caller's buffers.
            unsafe { send_iov(d, part, flags) }
        }
    };
    let first = w.step(|part| step(fd, part));
    finish(finish_write(
        fd,
        first,
        w,
        Some(libc::SO_SNDTIMEO),
        step,
        |_| whole(fd, flags),
    ))
}

/// One `connect`.
///
/// # Safety
///
/// connect(2)'s contract.
unsafe fn sys_connect(fd: c_int, addr: *const sockaddr, len: socklen_t) -> Sys {
    // SAFETY: the caller's contract.
    unsafe {
        raw::call(
            libc::SYS_connect,
            [fd as usize, addr as usize, len as usize, 0, 0, 0],
        )
    }
}

/// The pending error of a socket whose non-blocking connect finished.
fn so_error(fd: c_int) -> Sys {
    let mut err: c_int = 0;
    let mut len = std::mem::size_of::<c_int>() as socklen_t;
    // SAFETY: `err` and `len` are valid for writes; `len` is its size.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ERROR,
            std::ptr::from_mut(&mut err).cast(),
            &mut len,
        )
    };
    match (rc, err) {
        (0, 0) => Ok(0),
        (0, e) => Err(e),
        _ => Err(super::errno()),
    }
}

/// Whether `fd` is writable (or failed) now.
fn writable_now(fd: c_int) -> Sys {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    match unsafe { raw::poll_now(&mut p, 1) } {
        Ok(0) => Err(libc::EAGAIN),
        other => other,
    }
}

/// `connect(2)`, green on a green thread: a blocking socket's connect
/// starts non-blocking (`O_NONBLOCK` for that one syscall, see the module
/// docs of `interpose`) and waits on the hub for the handshake; then the
/// socket's pending error is the result, as the blocking call returns it.
/// `SO_SNDTIMEO` bounds the wait (`EINPROGRESS` after it, as the kernel
/// answers). A Unix socket whose listener's backlog is full connects on
/// the blocking pool.
///
/// # Safety
///
/// connect(2)'s contract.
#[no_mangle]
pub unsafe extern "C" fn connect(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int {
    // (Unsafe blocks here:) the caller's contract is connect(2)'s.
    if !green_fd(fd) {
        // SAFETY: the caller's arguments, valid as the call's contract requires (a duplicate fd names the same socket).
        return finish(unsafe { sys_connect(fd, addr, len) }) as c_int;
    }
    // SAFETY: the caller's arguments, valid as the call's contract requires (a duplicate fd names the same socket).
    let started = match with_nonblocking(fd, || unsafe { sys_connect(fd, addr, len) }) {
        Flagged::Ran(r) => r,
        Flagged::WasNonblocking | Flagged::Untouched => {
            // SAFETY: the caller's arguments, valid as the call's contract requires (a duplicate fd names the same socket).
            return finish(unsafe { sys_connect(fd, addr, len) }) as c_int;
        }
    };
    let r = match started {
        // EALREADY: an earlier connect was interrupted (or timed out) and
        // the handshake goes on; the blocking call waits for it again.
        Err(libc::EINPROGRESS | libc::EALREADY) => {
            let deadline = super::sock_deadline(fd, libc::SO_SNDTIMEO);
            match wait(
                fd,
                Interest::Write,
                deadline,
                deadline.is_none(),
                writable_now,
            ) {
                Waited::Done(Ok(_)) => so_error(fd),
                Waited::Done(Err(e)) => Err(e),
                Waited::TimedOut => Err(libc::EINPROGRESS),
                // The handshake goes on in the kernel, as it does when a
                // signal interrupts a blocking connect.
                Waited::Interrupted => Err(libc::EINTR),
                Waited::NoWait => {
                    let mut p = libc::pollfd {
                        fd,
                        events: libc::POLLOUT,
                        revents: 0,
                    };
                    // SAFETY: one valid pollfd; no timeout.
                    match unsafe { raw::ppoll(&mut p, 1, std::ptr::null_mut(), std::ptr::null()) } {
                        Ok(_) => so_error(fd),
                        Err(e) => Err(e),
                    }
                }
            }
        }
        Err(libc::EAGAIN) => {
            // A Unix socket's full backlog: the blocking call waits for
            // room, which only the pool may do. The caller's `addr` outlives
            // the job: `unblock` returns only when it has run (nothing
            // cancels it inside `uncancellable`).
            let (a, l) = (addr as usize, len);
            crate::cancel::uncancellable(|| {
                // SAFETY: the caller's arguments, valid as the call's contract requires (a duplicate fd names the same socket).
                crate::unblock(move || unsafe { sys_connect(fd, a as *const sockaddr, l) })
            })
        }
        other => {
            crate::coop::consume();
            other
        }
    };
    finish(r) as c_int
}

/// One `accept4`.
///
/// # Safety
///
/// accept4(2)'s contract.
unsafe fn sys_accept4(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t, flags: c_int) -> Sys {
    // SAFETY: the caller's contract.
    unsafe {
        raw::call(
            libc::SYS_accept4,
            [
                fd as usize,
                addr as usize,
                len as usize,
                flags as usize,
                0,
                0,
            ],
        )
    }
}

/// `accept4(2)`, green on a green thread: each attempt on a blocking
/// listener runs with `O_NONBLOCK` set for that one syscall; in between,
/// the green thread waits on the hub. `SO_RCVTIMEO` bounds the wait.
///
/// # Safety
///
/// accept4(2)'s contract.
#[no_mangle]
pub unsafe extern "C" fn accept4(
    fd: c_int,
    addr: *mut sockaddr,
    len: *mut socklen_t,
    flags: c_int,
) -> c_int {
    // (Unsafe blocks here:) the caller's contract is accept4(2)'s; the
    // attempts pass its arguments on (the duplicate fd names the same
    // listener).
    if !green_fd(fd) {
        // SAFETY: the caller's arguments, valid as the call's contract requires (a duplicate fd names the same socket).
        return finish(unsafe { sys_accept4(fd, addr, len, flags) }) as c_int;
    }
    let attempt =
        // SAFETY: the caller's arguments, valid as the call's contract requires (a duplicate fd names the same socket).
        |d: c_int| match with_nonblocking(d, || unsafe { sys_accept4(d, addr, len, flags) }) {
            Flagged::Ran(r) => r,
            // Made non-blocking by its owner meanwhile: a plain attempt.
            // SAFETY: the caller's arguments, valid as the call's contract requires (a duplicate fd names the same socket).
            Flagged::WasNonblocking => unsafe { sys_accept4(d, addr, len, flags) },
            Flagged::Untouched => Err(super::errno()),
        };
    // SAFETY: the caller's arguments, valid as the call's contract requires (a duplicate fd names the same socket).
    let first = match with_nonblocking(fd, || unsafe { sys_accept4(fd, addr, len, flags) }) {
        Flagged::Ran(r) => r,
        Flagged::WasNonblocking | Flagged::Untouched => {
            // SAFETY: the caller's arguments, valid as the call's contract requires (a duplicate fd names the same socket).
            return finish(unsafe { sys_accept4(fd, addr, len, flags) }) as c_int;
        }
    };
    finish(settle(
        fd,
        first,
        Interest::Read,
        Some(libc::SO_RCVTIMEO),
        attempt,
        // SAFETY: the caller's arguments, valid as the call's contract requires (a duplicate fd names the same socket).
        || unsafe { sys_accept4(fd, addr, len, flags) },
    )) as c_int
}

/// `accept(2)`: `accept4` without flags.
///
/// # Safety
///
/// accept(2)'s contract.
#[no_mangle]
pub unsafe extern "C" fn accept(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t) -> c_int {
    // SAFETY: the caller's contract.
    unsafe { accept4(fd, addr, len, 0) }
}
