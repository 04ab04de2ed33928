//! Small OS helpers: the monitor thread's wake-up pipe and dump signal, and
//! the scheduler slice a worker hub asks for. (Stacks have their own
//! `stack::sys`; the fault handler is `signal`.)

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

/// `struct sched_attr` as `sched_getattr(2)` and `sched_setattr(2)` take it
/// (its first version, 48 bytes: no utilisation clamps).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct SchedAttr {
    size: u32,
    pub(crate) policy: u32,
    pub(crate) flags: u64,
    pub(crate) nice: i32,
    priority: u32,
    /// For the fair policies since Linux 6.12: the slice, in ns.
    pub(crate) runtime: u64,
    deadline: u64,
    period: u64,
}

/// Resets the thread's policy and nice value for its children.
pub(crate) const SCHED_FLAG_RESET_ON_FORK: u64 = 0x01;

/// The calling thread's scheduling attributes.
pub(crate) fn sched_getattr() -> io::Result<SchedAttr> {
    let mut attr = SchedAttr::default();
    let size = std::mem::size_of::<SchedAttr>() as libc::c_uint;
    // SAFETY: `attr` is a writable `sched_attr` of `size` bytes, the
    // layout the kernel fills for that size; pid 0 is this thread.
    let rc = unsafe { libc::syscall(libc::SYS_sched_getattr, 0, &mut attr, size, 0) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(attr)
}

/// Asks the scheduler to give the calling thread turns of `slice` (the
/// kernel clamps it to 100 µs – 100 ms and, before Linux 6.12, ignores
/// it), changing nothing else about it, and to give threads and processes
/// it starts the default slice back. Leaves a thread with another policy
/// than `SCHED_OTHER`, or a negative nice value (which the reset would not
/// pass on), as it is; returns whether the request was made and accepted.
pub(crate) fn ask_for_slice(slice: Duration) -> bool {
    let Ok(mut attr) = sched_getattr() else {
        return false;
    };
    if attr.policy != libc::SCHED_OTHER as u32 || attr.nice < 0 {
        return false;
    }
    attr.size = std::mem::size_of::<SchedAttr>() as u32;
    attr.flags |= SCHED_FLAG_RESET_ON_FORK;
    attr.runtime = u64::try_from(slice.as_nanos()).unwrap_or(u64::MAX);
    // SAFETY: `attr` is an initialised `sched_attr` whose `size` field is
    // its own size; pid 0 is this thread; the kernel only reads it.
    let rc = unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &attr, 0) };
    rc == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The slice request keeps the thread's nice value and policy, and
    /// where the kernel reports slices (Linux 6.12+), it takes.
    #[test]
    fn asking_for_a_slice_keeps_nice_and_policy() {
        std::thread::spawn(|| {
            // SAFETY: gettid takes no arguments and cannot fail.
            let tid = unsafe { libc::syscall(libc::SYS_gettid) } as libc::id_t;
            // Raising one's own nice value needs no privilege.
            // SAFETY: setpriority reads only its three plain arguments.
            let rc = unsafe { libc::setpriority(libc::PRIO_PROCESS, tid, 3) };
            assert_eq!(rc, 0);
            let before = sched_getattr().expect("sched_getattr");
            assert!(ask_for_slice(Duration::from_micros(250)));
            let after = sched_getattr().expect("sched_getattr");
            assert_eq!(after.nice, 3);
            assert_eq!(after.policy, before.policy);
            assert_ne!(after.flags & SCHED_FLAG_RESET_ON_FORK, 0);
            if before.runtime != 0 {
                assert_eq!(after.runtime, 250_000);
                // A thread it starts has the default slice again.
                let child = std::thread::spawn(|| sched_getattr().unwrap())
                    .join()
                    .unwrap();
                assert_eq!(child.runtime, before.runtime);
                assert_eq!(child.nice, 3);
            }
        })
        .join()
        .unwrap();
    }

    /// A worker hub asks for the hub slice once it waits on an fd, so
    /// green threads on it then run with that slice, where the kernel has
    /// slices; their nice value is the process's.
    #[test]
    fn a_worker_hub_that_waits_on_an_fd_runs_with_the_hub_slice() {
        let default = sched_getattr().expect("sched_getattr");
        let on_hub = crate::thread::spawn(|| {
            let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
            a.set_nonblocking(true).unwrap();
            let a = crate::io::GreenFd::new(a);
            let soon = std::time::Instant::now() + Duration::from_millis(10);
            a.wait(crate::io::Interest::Write, Some(soon)).unwrap();
            sched_getattr().unwrap()
        })
        .join()
        .unwrap();
        let want = crate::runtime::hub_slice().expect("the default hub slice is on");
        if default.runtime != 0 && default.policy == libc::SCHED_OTHER as u32 && default.nice >= 0 {
            assert_eq!(on_hub.runtime, want.as_nanos() as u64);
            assert_ne!(on_hub.flags & SCHED_FLAG_RESET_ON_FORK, 0);
        }
        assert_eq!(on_hub.nice, default.nice);
        assert_eq!(on_hub.policy, default.policy);
    }

    /// A thread under another policy is left alone.
    #[test]
    fn a_batch_thread_keeps_its_slice() {
        std::thread::spawn(|| {
            let param = libc::sched_param { sched_priority: 0 };
            // SCHED_BATCH needs no privilege.
            // SAFETY: pid 0 is this thread; `param` is a valid sched_param
            // the kernel only reads.
            let rc = unsafe { libc::sched_setscheduler(0, libc::SCHED_BATCH, &param) };
            assert_eq!(rc, 0);
            let before = sched_getattr().expect("sched_getattr");
            assert!(!ask_for_slice(Duration::from_micros(250)));
            let after = sched_getattr().expect("sched_getattr");
            assert_eq!(after.runtime, before.runtime);
            assert_eq!(after.policy, libc::SCHED_BATCH as u32);
        })
        .join()
        .unwrap();
    }
}
