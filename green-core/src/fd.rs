//! File-descriptor flag queries that the green crates need next to
//! [`crate::io::set_nonblocking`] (which stays the only setter).

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

/// Whether `fd`'s open file description is in non-blocking mode
/// (`O_NONBLOCK`).
///
/// green-io records this when it adopts a descriptor, so that it can hand the
/// descriptor back in the mode it found it in; the tests use it to show that
/// green never changes the mode of the standard streams.
///
/// # Errors
///
/// The `fcntl(F_GETFL)` call failed (for example `EBADF`).
pub fn is_nonblocking(fd: BorrowedFd<'_>) -> io::Result<bool> {
    // SAFETY: `fd` is a live descriptor for the duration of the call
    // (`BorrowedFd`); F_GETFL takes no pointer argument.
    let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(flags & libc::O_NONBLOCK != 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn reports_what_set_nonblocking_set() {
        let (r, _w) = std::io::pipe().unwrap();
        assert!(!is_nonblocking(r.as_fd()).unwrap());
        crate::io::set_nonblocking(r.as_fd(), true).unwrap();
        assert!(is_nonblocking(r.as_fd()).unwrap());
        crate::io::set_nonblocking(r.as_fd(), false).unwrap();
        assert!(!is_nonblocking(r.as_fd()).unwrap());
    }
}
