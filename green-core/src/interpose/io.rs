//! `read`, `write`, `readv` and `writev`: green on sockets and pipes.
//!
//! A socket is recognised by the first non-blocking attempt itself
//! (`recvmsg`/`sendmsg` with `MSG_DONTWAIT`, which is what `read`/`write`
//! do on a socket, minus the wait); anything else is looked at with
//! `fstat`, and only pipes (FIFOs) are waited for, with `RWF_NOWAIT`
//! attempts. Regular files, ttys and the rest get the plain call.

use libc::{c_int, c_void, iovec, size_t, ssize_t};

use super::{finish, green_fd, kind, raw, settle, Kind, Sys};
use crate::io::Interest;

/// A `msghdr` over `iov` with no address or control data.
fn msg(iov: &[iovec]) -> libc::msghdr {
    // SAFETY: an all-zero msghdr is valid (null pointers, zero lengths).
    let mut m: libc::msghdr = unsafe { std::mem::zeroed() };
    m.msg_iov = iov.as_ptr().cast_mut();
    m.msg_iovlen = iov.len() as _;
    m
}

/// One non-blocking `recvmsg` into `iov` with `flags`.
///
/// # Safety
///
/// `iov` describes memory valid for writes.
unsafe fn recv_iov(fd: c_int, iov: &[iovec], flags: c_int) -> Sys {
    let mut m = msg(iov);
    // SAFETY: `m` points at `iov`, valid per the caller.
    unsafe {
        raw::call(
            libc::SYS_recvmsg,
            [
                fd as usize,
                std::ptr::from_mut(&mut m) as usize,
                (flags | libc::MSG_DONTWAIT) as usize,
                0,
                0,
                0,
            ],
        )
    }
}

/// One non-blocking `sendmsg` of `iov` with `flags`.
///
/// # Safety
///
/// `iov` describes memory valid for reads.
pub(super) unsafe fn send_iov(fd: c_int, iov: &[iovec], flags: c_int) -> Sys {
    let m = msg(iov);
    // SAFETY: `m` points at `iov`, valid per the caller.
    unsafe {
        raw::call(
            libc::SYS_sendmsg,
            [
                fd as usize,
                std::ptr::from_ref(&m) as usize,
                (flags | libc::MSG_DONTWAIT) as usize,
                0,
                0,
                0,
            ],
        )
    }
}

/// One `preadv2`/`pwritev2` at the file position with `RWF_NOWAIT`.
///
/// # Safety
///
/// `iov` describes memory valid for writes (`write == false`) or reads.
unsafe fn pipe_iov(fd: c_int, iov: &[iovec], write: bool) -> Sys {
    let nr = if write {
        libc::SYS_pwritev2
    } else {
        libc::SYS_preadv2
    };
    // The raw syscall takes the offset as two longs (low, high): -1, -1 is
    // "the file position".
    // SAFETY: `iov` is valid per the caller.
    unsafe {
        raw::call(
            nr,
            [
                fd as usize,
                iov.as_ptr() as usize,
                iov.len(),
                usize::MAX,
                usize::MAX,
                libc::RWF_NOWAIT as usize,
            ],
        )
    }
}

/// The plain (blocking) `readv`/`writev`.
///
/// # Safety
///
/// As `pipe_iov`.
unsafe fn plain_iov(fd: c_int, iov: &[iovec], write: bool) -> Sys {
    let nr = if write {
        libc::SYS_writev
    } else {
        libc::SYS_readv
    };
    // SAFETY: as the caller's.
    unsafe { raw::call(nr, [fd as usize, iov.as_ptr() as usize, iov.len(), 0, 0, 0]) }
}

/// A green read into `iov` on a socket or a pipe; anything else gets the
/// plain call.
///
/// # Safety
///
/// `iov` describes memory valid for writes.
unsafe fn read_iov(fd: c_int, iov: &[iovec]) -> Sys {
    // (Unsafe blocks here:) `iov` is valid per the caller.
    // SAFETY: the iovecs are the caller's buffers (or their unsent tail), valid as this function's contract requires.
    match unsafe { recv_iov(fd, iov, 0) } {
        Err(libc::ENOTSOCK) => {}
        first => {
            return settle(
                fd,
                first,
                Interest::Read,
                Some(libc::SO_RCVTIMEO),
                // SAFETY: the iovecs are the caller's buffers (or their unsent tail), valid as this function's contract requires.
                |d| unsafe { recv_iov(d, iov, 0) },
                // SAFETY: the iovecs are the caller's buffers (or their unsent tail), valid as this function's contract requires.
                || unsafe { plain_iov(fd, iov, false) },
            );
        }
    }
    if kind(fd) != Kind::Pipe {
        // SAFETY: the iovecs are the caller's buffers (or their unsent tail), valid as this function's contract requires.
        return unsafe { plain_iov(fd, iov, false) };
    }
    // SAFETY: the iovecs are the caller's buffers (or their unsent tail), valid as this function's contract requires.
    match unsafe { pipe_iov(fd, iov, false) } {
        // An old kernel without RWF_NOWAIT on pipes: the plain call.
        // SAFETY: the iovecs are the caller's buffers (or their unsent tail), valid as this function's contract requires.
        Err(libc::EOPNOTSUPP | libc::EINVAL) => unsafe { plain_iov(fd, iov, false) },
        first => settle(
            fd,
            first,
            Interest::Read,
            None,
            // SAFETY: the iovecs are the caller's buffers (or their unsent tail), valid as this function's contract requires.
            |d| unsafe { pipe_iov(d, iov, false) },
            // SAFETY: the iovecs are the caller's buffers (or their unsent tail), valid as this function's contract requires.
            || unsafe { plain_iov(fd, iov, false) },
        ),
    }
}

/// What a blocking write has written so far, over the caller's `iovec`s.
/// A blocking write on a stream socket or a pipe returns only when all of
/// it is written (or a timeout or an error cuts it short, which returns
/// the count so far); `step` does one non-blocking part of that.
pub(super) struct Writer<'a> {
    iov: &'a [iovec],
    /// The part not written yet (`None`: all of `iov`).
    rest: Option<Vec<iovec>>,
    done: usize,
    total: usize,
}

impl<'a> Writer<'a> {
    pub(super) fn new(iov: &'a [iovec]) -> Writer<'a> {
        Writer {
            iov,
            rest: None,
            done: 0,
            total: iov.iter().map(|v| v.iov_len).sum(),
        }
    }

    /// Writes with `send` (one non-blocking call over an `iovec` list)
    /// until all is written, `send` fails, or it would block: `Ok(total)`
    /// when done, `Err(EAGAIN)` to wait (or, after a partial write, the
    /// count so far when the caller's wait times out).
    pub(super) fn step(&mut self, mut send: impl FnMut(&[iovec]) -> Sys) -> Sys {
        loop {
            let part = self.rest.as_deref().unwrap_or(self.iov);
            match send(part) {
                Ok(n) => {
                    let n = n as usize;
                    self.done += n;
                    if self.done >= self.total || n == 0 {
                        return Ok(self.done as isize);
                    }
                    self.advance(n);
                }
                Err(libc::EAGAIN) => return Err(libc::EAGAIN),
                Err(e) if self.done > 0 => {
                    // As the kernel does: an error after some bytes went
                    // returns the count; the error shows at the next call.
                    let _ = e;
                    return Ok(self.done as isize);
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Drops `n` written bytes off the front of the rest.
    fn advance(&mut self, mut n: usize) {
        let rest = self.rest.get_or_insert_with(|| self.iov.to_vec());
        let mut skip = 0;
        for v in rest.iter_mut() {
            if n >= v.iov_len {
                n -= v.iov_len;
                skip += 1;
            } else {
                // SAFETY: `n < iov_len`, so the pointer stays inside the
                // caller's buffer.
                v.iov_base = unsafe { v.iov_base.cast::<u8>().add(n) }.cast();
                v.iov_len -= n;
                break;
            }
        }
        rest.drain(..skip);
    }

    /// The result when the wait ended (or could not start) unfinished.
    fn timed_out(&self) -> Sys {
        if self.done > 0 {
            Ok(self.done as isize)
        } else {
            Err(libc::EAGAIN)
        }
    }
}

/// A green write of `iov` on a socket or pipe (`flags` go to `sendmsg`);
/// anything else gets the plain call.
///
/// # Safety
///
/// `iov` describes memory valid for reads.
unsafe fn write_iov(fd: c_int, iov: &[iovec], flags: c_int) -> Sys {
    let mut w = Writer::new(iov);
    // (Unsafe blocks here:) `iov` and its rest are valid per the
    // caller.
    // SAFETY: the iovecs are the caller's buffers (or their unsent tail), valid as this function's contract requires.
    match w.step(|part| unsafe { send_iov(fd, part, flags) }) {
        Err(libc::ENOTSOCK) => {}
        first => {
            return finish_write(
                fd,
                first,
                w,
                Some(libc::SO_SNDTIMEO),
                // SAFETY: the iovecs are the caller's buffers (or their unsent tail), valid as this function's contract requires.
                |d, p| unsafe { send_iov(d, p, flags) },
                // SAFETY: the iovecs are the caller's buffers (or their unsent tail), valid as this function's contract requires.
                |p| unsafe { plain_iov(fd, p, true) },
            );
        }
    }
    if kind(fd) != Kind::Pipe {
        // SAFETY: the iovecs are the caller's buffers (or their unsent tail), valid as this function's contract requires.
        return unsafe { plain_iov(fd, iov, true) };
    }
    // SAFETY: the iovecs are the caller's buffers (or their unsent tail), valid as this function's contract requires.
    match w.step(|part| unsafe { pipe_iov(fd, part, true) }) {
        // SAFETY: the iovecs are the caller's buffers (or their unsent tail), valid as this function's contract requires.
        Err(libc::EOPNOTSUPP | libc::EINVAL) => unsafe { plain_iov(fd, iov, true) },
        first => finish_write(
            fd,
            first,
            w,
            None,
            // SAFETY: the iovecs are the caller's buffers (or their unsent tail), valid as this function's contract requires.
            |d, p| unsafe { pipe_iov(d, p, true) },
            // SAFETY: the iovecs are the caller's buffers (or their unsent tail), valid as this function's contract requires.
            |p| unsafe { plain_iov(fd, p, true) },
        ),
    }
}

/// `settle` for a write: the wait goes on until the `Writer` is done.
pub(super) fn finish_write(
    fd: c_int,
    first: Sys,
    mut w: Writer<'_>,
    timeout_opt: Option<c_int>,
    mut send: impl FnMut(c_int, &[iovec]) -> Sys,
    plain: impl FnOnce(&[iovec]) -> Sys,
) -> Sys {
    if first != Err(libc::EAGAIN) {
        crate::coop::consume();
        return first;
    }
    if super::nonblocking(fd) {
        // The owner's non-blocking fd: what went so far, or EAGAIN.
        return w.timed_out();
    }
    let deadline = timeout_opt.and_then(|opt| super::sock_deadline(fd, opt));
    let waited = super::wait(fd, Interest::Write, deadline, deadline.is_none(), |d| {
        w.step(|part| send(d, part))
    });
    match waited {
        super::Waited::Done(r) => r,
        super::Waited::TimedOut => w.timed_out(),
        // As the kernel does: a write cut short by a signal returns what
        // it wrote, or EINTR if nothing went.
        super::Waited::Interrupted => w.timed_out().or(Err(libc::EINTR)),
        super::Waited::NoWait => {
            let rest = w.rest.clone().unwrap_or_else(|| w.iov.to_vec());
            match plain(&rest) {
                Ok(n) => Ok(w.done as isize + n),
                Err(_) if w.done > 0 => Ok(w.done as isize),
                Err(e) => Err(e),
            }
        }
    }
}

/// `read(2)`, green on sockets and pipes (see the module docs).
///
/// # Safety
///
/// read(2)'s contract: `buf` is valid for `count` bytes of writes.
#[no_mangle]
pub unsafe extern "C" fn read(fd: c_int, buf: *mut c_void, count: size_t) -> ssize_t {
    if !green_fd(fd) || count == 0 {
        // SAFETY: the caller's contract is read(2)'s.
        return finish(unsafe { raw::read(fd, buf, count) });
    }
    let iov = [iovec {
        iov_base: buf,
        iov_len: count,
    }];
    // SAFETY: `iov` is exactly the caller's buffer.
    finish(unsafe { read_iov(fd, &iov) })
}

/// `write(2)`, green on sockets and pipes.
///
/// # Safety
///
/// write(2)'s contract: `buf` is valid for `count` bytes of reads.
#[no_mangle]
pub unsafe extern "C" fn write(fd: c_int, buf: *const c_void, count: size_t) -> ssize_t {
    if !green_fd(fd) || count == 0 {
        // SAFETY: the caller's contract is write(2)'s.
        return finish(unsafe { raw::write(fd, buf, count) });
    }
    let iov = [iovec {
        iov_base: buf.cast_mut(),
        iov_len: count,
    }];
    // SAFETY: `iov` is exactly the caller's buffer, only read.
    finish(unsafe { write_iov(fd, &iov, 0) })
}

/// The caller's `iovec` array as a slice (`None`: a count readv(2) would
/// refuse, which the plain call then reports).
///
/// # Safety
///
/// `iov` valid for `n` entries when `n` is in range.
pub(super) unsafe fn iovecs<'a>(iov: *const iovec, n: c_int) -> Option<&'a [iovec]> {
    if n <= 0 || n > libc::UIO_MAXIOV || iov.is_null() {
        return None;
    }
    // SAFETY: per the caller's contract.
    Some(unsafe { std::slice::from_raw_parts(iov, n as usize) })
}

/// `readv(2)`, green on sockets and pipes.
///
/// # Safety
///
/// readv(2)'s contract: `iov` holds `iovcnt` entries, each valid for
/// writes.
#[no_mangle]
pub unsafe extern "C" fn readv(fd: c_int, iov: *const iovec, iovcnt: c_int) -> ssize_t {
    if green_fd(fd) {
        // SAFETY: the caller's contract.
        if let Some(list) = unsafe { iovecs(iov, iovcnt) } {
            if list.iter().any(|v| v.iov_len > 0) {
                // SAFETY: the caller's buffers.
                return finish(unsafe { read_iov(fd, list) });
            }
        }
    }
    // SAFETY: the caller's contract is readv(2)'s.
    finish(unsafe {
        raw::call(
            libc::SYS_readv,
            [fd as usize, iov as usize, iovcnt as usize, 0, 0, 0],
        )
    })
}

/// `writev(2)`, green on sockets and pipes.
///
/// # Safety
///
/// writev(2)'s contract: `iov` holds `iovcnt` entries, each valid for
/// reads.
#[no_mangle]
pub unsafe extern "C" fn writev(fd: c_int, iov: *const iovec, iovcnt: c_int) -> ssize_t {
    if green_fd(fd) {
        // SAFETY: the caller's contract.
        if let Some(list) = unsafe { iovecs(iov, iovcnt) } {
            if list.iter().any(|v| v.iov_len > 0) {
                // SAFETY: the caller's buffers.
                return finish(unsafe { write_iov(fd, list, 0) });
            }
        }
    }
    // SAFETY: the caller's contract is writev(2)'s.
    finish(unsafe {
        raw::call(
            libc::SYS_writev,
            [fd as usize, iov as usize, iovcnt as usize, 0, 0, 0],
        )
    })
}
