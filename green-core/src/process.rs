//! Platform calls for waiting on child processes, for green-process.
//!
//! Two ways to learn that a child has exited without holding a hub:
//!
//! * [`pidfd_open`] (Linux ≥ 5.3): a file descriptor that becomes readable
//!   when the process exits. Wrapped in [`crate::io::GreenFd`] it is waited
//!   on like a socket: the waiting green thread parks, the hub's poller
//!   reports the exit, and nothing else is spent per child.
//! * [`wait_exited_blocking`]: a blocking `waitid(WNOWAIT)` for kernels (or
//!   sandboxes) without pidfds. It blocks its caller, so it is only ever
//!   called through [`crate::unblock`], on the blocking pool.
//!
//! Neither reaps the child: both only observe that it has exited (it stays
//! a zombie), so the caller then collects the status with a non-blocking
//! `waitpid(WNOHANG)` — std's `Child::try_wait` — and std's `Child` keeps
//! its own record of the status (what makes std's `kill` after a reap
//! return `Ok`).

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

/// Opens a pidfd for process `pid` (`pidfd_open(pid, 0)`), close-on-exec.
///
/// The caller must make sure `pid` still names the process it means: for a
/// child that has not been reaped this holds (its pid cannot be reused until
/// it is waited for).
///
/// # Errors
///
/// The OS error: `ENOSYS` on kernels before 5.3 (or where a seccomp filter
/// hides the call), `ESRCH` if no such process exists, `EMFILE`/`ENFILE`
/// when out of descriptors, `EINVAL` for a pid that does not fit a `pid_t`.
pub fn pidfd_open(pid: u32) -> io::Result<OwnedFd> {
    let pid = libc::pid_t::try_from(pid).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: `pidfd_open` takes a pid and a flags word and returns a new
    // descriptor or -1; it touches no memory of ours.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0 as libc::c_uint) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    let fd = libc::c_int::try_from(fd).map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?;
    // SAFETY: the kernel just returned `fd` as a new descriptor that nothing
    // else owns; the `OwnedFd` closes it exactly once.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Blocks until child `pid` has exited, without reaping it
/// (`waitid(P_PID, pid, WEXITED | WNOWAIT)`); `EINTR` is retried.
///
/// **Blocking**: call it only through [`crate::unblock`] (the fallback
/// where [`pidfd_open`] is unavailable), never on a hub thread.
///
/// # Errors
///
/// `ECHILD` when `pid` is not an unwaited child of this process (for
/// example it was already reaped), or another OS error of `waitid`.
pub fn wait_exited_blocking(pid: u32) -> io::Result<()> {
    let id = libc::id_t::from(pid);
    loop {
        // SAFETY: an all-zero `siginfo_t` is a valid value of this plain C
        // struct; `waitid` writes into it and reads nothing else of ours.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: `info` is a valid, writable `siginfo_t` for the duration
        // of the call.
        let r = unsafe { libc::waitid(libc::P_PID, id, &mut info, libc::WEXITED | libc::WNOWAIT) };
        if r == 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pidfd_of_ourselves_opens() {
        match pidfd_open(std::process::id()) {
            Ok(_) => {}
            Err(e) => assert_eq!(e.raw_os_error(), Some(libc::ENOSYS), "{e}"),
        }
    }

    #[test]
    fn waiting_for_a_non_child_is_echild() {
        // Our parent is never our child.
        let err = wait_exited_blocking(std::os::unix::process::parent_id()).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ECHILD));
    }

    #[test]
    fn an_oversized_pid_is_einval() {
        let err = pidfd_open(u32::MAX).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EINVAL));
    }
}
