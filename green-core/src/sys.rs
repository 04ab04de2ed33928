//! Small fd and signal helpers for the monitor thread: its wake-up pipe and
//! the dump signal. (Stacks have their own `stack::sys`; the fault handler
//! is `signal`.)

use std::io;
use std::sync::atomic::{AtomicI32, AtomicU8, Ordering};
use std::time::Duration;

/// A non-blocking, close-on-exec pipe: `(read end, write end)`. The fds
/// are never closed (the monitor lives as long as the process).
pub(crate) fn pipe() -> io::Result<(i32, i32)> {
    let mut fds = [-1; 2];
    // SAFETY: `fds` has room for the two fds pipe2 writes.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((fds[0], fds[1]))
}

/// Writes one byte to `fd`, ignoring a full pipe (a wake-up is then already
/// pending) and every other error. Async-signal-safe.
pub(crate) fn write_byte(fd: i32, byte: u8) {
    // SAFETY: the buffer is one valid byte; write(2) is async-signal-safe.
    unsafe { libc::write(fd, std::ptr::from_ref(&byte).cast(), 1) };
}

/// Waits until `fd` is readable or `timeout` passes (`None`: no timeout),
/// then returns everything that can be read without blocking.
pub(crate) fn wait_readable_and_drain(fd: i32, timeout: Option<Duration>) -> Vec<u8> {
    let ms = timeout.map_or(-1, |t| i32::try_from(t.as_millis()).unwrap_or(i32::MAX));
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd; EINTR just ends the wait early.
    unsafe { libc::poll(&mut pfd, 1, ms) };
    let mut out = Vec::new();
    let mut buf = [0u8; 64];
    loop {
        // SAFETY: `buf` is valid for 64 bytes of writes.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n <= 0 {
            return out;
        }
        out.extend_from_slice(&buf[..n as usize]);
    }
}

/// The fd and byte the dump signal's handler writes.
static SIGNAL_FD: AtomicI32 = AtomicI32::new(-1);
static SIGNAL_BYTE: AtomicU8 = AtomicU8::new(0);

extern "C" fn on_dump_signal(_: libc::c_int) {
    let fd = SIGNAL_FD.load(Ordering::Relaxed);
    if fd >= 0 {
        write_byte(fd, SIGNAL_BYTE.load(Ordering::Relaxed));
    }
}

/// Makes signal `sig` write `byte` to `fd` (the monitor prints a dump).
/// Returns whether the handler was installed.
pub(crate) fn on_signal_write(sig: i32, fd: i32, byte: u8) -> bool {
    SIGNAL_FD.store(fd, Ordering::Relaxed);
    SIGNAL_BYTE.store(byte, Ordering::Relaxed);
    // green's own handler goes straight to the kernel: it must not make
    // interposed waits return EINTR.
    #[cfg(feature = "interpose")]
    let _direct = crate::interpose::Direct::enter();
    // SAFETY: `on_dump_signal` only does async-signal-safe work (atomic
    // loads and write(2)); the action struct is fully initialised.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_dump_signal as *const () as libc::sighandler_t;
        action.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(sig, &action, std::ptr::null_mut()) == 0
    }
}

/// The number of a signal named `QUIT`, `SIGUSR1`, `10`, ... (the signals a
/// dump may sensibly use).
pub(crate) fn signal_number(name: &str) -> Option<i32> {
    let upper = name.trim().to_ascii_uppercase();
    let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
    let named = match bare {
        "QUIT" => Some(libc::SIGQUIT),
        "USR1" => Some(libc::SIGUSR1),
        "USR2" => Some(libc::SIGUSR2),
        "HUP" => Some(libc::SIGHUP),
        "WINCH" => Some(libc::SIGWINCH),
        "PWR" => Some(libc::SIGPWR),
        _ => None,
    };
    named.or_else(|| {
        bare.parse::<i32>().ok().filter(|&n| {
            n > 0
                && n < 65
                && ![libc::SIGKILL, libc::SIGSTOP, libc::SIGSEGV, libc::SIGBUS].contains(&n)
        })
    })
}
