//! Interposition (feature `interpose`): `EINTR` delivery. A caught signal
//! ends a blocking call by the kernel's rules (`SA_RESTART`, socket
//! timeouts, calls never restarted), on std OS threads and on green threads
//! alike: each scenario runs on both with the same assertions. The signal
//! goes to the OS thread the call runs on (`pthread_kill`), every 20 ms
//! until the call returns, so no scenario depends on timing.
//!
//! Signal actions are process-wide, so the scenarios run one at a time.
#![cfg(feature = "interpose")]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use std::time::Duration;

use rstest::rstest;

use ffi::c_int;

/// The few libc items these tests call, declared here (only green-core
/// names the `libc` crate). Linux, glibc's layouts.
#[allow(non_camel_case_types)]
mod ffi {
    pub use std::ffi::{c_int, c_long, c_ulong, c_void};

    pub type sighandler_t = usize;
    pub type pthread_t = c_ulong;

    pub const SIGUSR2: c_int = 12;
    pub const SA_SIGINFO: c_int = 4;
    pub const SA_RESTART: c_int = 0x1000_0000;
    pub const SIG_DFL: sighandler_t = 0;
    pub const EINTR: c_int = 4;
    pub const POLLIN: i16 = 1;

    #[repr(C)]
    pub struct sigset_t {
        _bits: [c_ulong; 16],
    }

    #[repr(C)]
    pub struct sigaction {
        pub sa_sigaction: sighandler_t,
        pub sa_mask: sigset_t,
        pub sa_flags: c_int,
        pub sa_restorer: usize,
    }

    /// The head of `siginfo_t`: all these tests read.
    #[repr(C)]
    pub struct siginfo_t {
        pub si_signo: c_int,
        _rest: [c_int; 31],
    }

    #[repr(C)]
    pub struct pollfd {
        pub fd: c_int,
        pub events: i16,
        pub revents: i16,
    }

    #[repr(C)]
    pub struct timespec {
        pub tv_sec: i64,
        pub tv_nsec: c_long,
    }

    extern "C" {
        pub fn sigaction(sig: c_int, act: *const sigaction, old: *mut sigaction) -> c_int;
        pub fn sigemptyset(set: *mut sigset_t) -> c_int;
        pub fn signal(sig: c_int, handler: sighandler_t) -> sighandler_t;
        pub fn raise(sig: c_int) -> c_int;
        pub fn pthread_self() -> pthread_t;
        pub fn pthread_kill(t: pthread_t, sig: c_int) -> c_int;
        pub fn read(fd: c_int, buf: *mut c_void, n: usize) -> isize;
        pub fn write(fd: c_int, buf: *const c_void, n: usize) -> isize;
        pub fn poll(fds: *mut pollfd, n: u64, timeout: c_int) -> c_int;
        pub fn nanosleep(req: *const timespec, rem: *mut timespec) -> c_int;
        pub fn accept(fd: c_int, addr: *mut c_void, len: *mut u32) -> c_int;
    }
}

/// The signal the scenarios catch.
const SIG: c_int = ffi::SIGUSR2;

/// Handler runs so far.
static HITS: AtomicUsize = AtomicUsize::new(0);
/// The signal number the `SA_SIGINFO` handler was given.
static SEEN: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(_sig: c_int) {
    HITS.fetch_add(1, Ordering::SeqCst);
}

extern "C" fn on_signal_info(sig: c_int, info: *mut ffi::siginfo_t, _: *mut ffi::c_void) {
    // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler.
    SEEN.store(unsafe { (*info).si_signo }.min(sig), Ordering::SeqCst);
    HITS.fetch_add(1, Ordering::SeqCst);
}

/// The scenarios' handler for `SIG`, installed with `flags` until dropped
/// (which puts back the default), with the scenarios serialised.
struct Caught {
    _serial: MutexGuard<'static, ()>,
}

fn catch(flags: c_int) -> Caught {
    static SERIAL: Mutex<()> = Mutex::new(());
    let serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    HITS.store(0, Ordering::SeqCst);
    // SAFETY: a zeroed sigaction with a valid handler, empty mask.
    unsafe {
        let mut act: ffi::sigaction = std::mem::zeroed();
        act.sa_sigaction = on_signal as *const () as ffi::sighandler_t;
        act.sa_flags = flags;
        ffi::sigemptyset(&mut act.sa_mask);
        assert_eq!(ffi::sigaction(SIG, &act, std::ptr::null_mut()), 0);
    }
    Caught { _serial: serial }
}

impl Drop for Caught {
    fn drop(&mut self) {
        // SAFETY: SIG_DFL is a valid action.
        unsafe { ffi::signal(SIG, ffi::SIG_DFL) };
    }
}

/// Where a scenario's blocking call runs.
#[derive(Clone, Copy, Debug)]
enum On {
    /// A std OS thread.
    Os,
    /// A green thread on a worker hub.
    Green,
}

/// The OS thread's last error.
fn errno() -> c_int {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// Runs `call` on a thread of kind `on`; once it has started, signals the
/// OS thread it runs on every 20 ms until it returns, or, when
/// `signals_then` is given, sends 3 signals and then runs `signals_then`
/// (which lets the call finish). Returns the call's result.
fn signalled<T: Send + 'static>(
    on: On,
    signals_then: Option<Box<dyn FnOnce()>>,
    call: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tid_tx, tid_rx) = mpsc::channel();
    let done = Arc::new(AtomicBool::new(false));
    let finished = done.clone();
    let body = move || {
        // SAFETY: pthread_self has no preconditions.
        tid_tx.send(unsafe { ffi::pthread_self() }).unwrap();
        let r = call();
        finished.store(true, Ordering::SeqCst);
        r
    };
    let join: Box<dyn FnOnce() -> T> = match on {
        On::Os => {
            let h = std::thread::spawn(body);
            Box::new(move || h.join().unwrap())
        }
        On::Green => {
            let h = green::thread::spawn(body);
            Box::new(move || h.join().unwrap())
        }
    };
    let tid = tid_rx.recv().unwrap();
    // Let the call get into its wait (a signal before it would be missed,
    // as with any thread; the repeats cover that).
    std::thread::sleep(Duration::from_millis(50));
    let kill = || {
        // SAFETY: `tid` runs until `done` is set (a green thread's hub
        // thread lives for the process).
        assert_eq!(unsafe { ffi::pthread_kill(tid, SIG) }, 0);
    };
    match signals_then {
        None => {
            while !done.load(Ordering::SeqCst) {
                kill();
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        Some(then) => {
            for _ in 0..3 {
                kill();
                std::thread::sleep(Duration::from_millis(20));
            }
            while HITS.load(Ordering::SeqCst) < 3 {
                std::thread::sleep(Duration::from_millis(5));
            }
            then();
        }
    }
    join()
}

fn pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    (client, server)
}

/// libc's `read` of up to 16 bytes: the bytes, or the errno.
fn read_raw(fd: c_int) -> Result<Vec<u8>, c_int> {
    let mut buf = [0u8; 16];
    // SAFETY: `buf` is valid for 16 bytes of writes.
    let n = unsafe { ffi::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        Err(errno())
    } else {
        Ok(buf[..n as usize].to_vec())
    }
}

/// A handler without `SA_RESTART` interrupts a blocking read: `EINTR`.
#[rstest]
#[case::os(On::Os)]
#[case::green(On::Green)]
fn read_without_restart_gets_eintr(#[case] on: On) {
    let _caught = catch(0);
    let (_client, server) = pair();
    let r = signalled(on, None, move || read_raw(server.as_raw_fd()));
    assert_eq!(r, Err(ffi::EINTR));
    assert!(HITS.load(Ordering::SeqCst) >= 1);
}

/// With `SA_RESTART` the read goes on through the signals and returns the
/// bytes sent after them.
#[rstest]
#[case::os(On::Os)]
#[case::green(On::Green)]
fn read_with_restart_goes_on(#[case] on: On) {
    let _caught = catch(ffi::SA_RESTART);
    let (mut client, server) = pair();
    let send = Box::new(move || client.write_all(b"data").unwrap());
    let r = signalled(on, Some(send), move || read_raw(server.as_raw_fd()));
    assert_eq!(r, Ok(b"data".to_vec()));
    assert!(HITS.load(Ordering::SeqCst) >= 3);
}

/// A socket read under `SO_RCVTIMEO` is never restarted: `EINTR` even with
/// `SA_RESTART` (signal(7)).
#[rstest]
#[case::os(On::Os)]
#[case::green(On::Green)]
fn read_under_timeout_gets_eintr_despite_restart(#[case] on: On) {
    let _caught = catch(ffi::SA_RESTART);
    let (_client, server) = pair();
    server
        .set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    let r = signalled(on, None, move || read_raw(server.as_raw_fd()));
    assert_eq!(r, Err(ffi::EINTR));
}

/// `poll` is never restarted: `EINTR` with `SA_RESTART`.
#[rstest]
#[case::os(On::Os)]
#[case::green(On::Green)]
fn poll_gets_eintr_despite_restart(#[case] on: On) {
    let _caught = catch(ffi::SA_RESTART);
    let (_client, server) = pair();
    let r = signalled(on, None, move || {
        let mut p = ffi::pollfd {
            fd: server.as_raw_fd(),
            events: ffi::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let n = unsafe { ffi::poll(&mut p, 1, -1) };
        (n, errno(), p.revents)
    });
    assert_eq!(r, (-1, ffi::EINTR, 0));
}

/// `nanosleep` is never restarted: `EINTR`, with the time left in `rem`.
#[rstest]
#[case::os(On::Os)]
#[case::green(On::Green)]
fn nanosleep_gets_eintr_with_time_left(#[case] on: On) {
    let _caught = catch(ffi::SA_RESTART);
    let r = signalled(on, None, || {
        let req = ffi::timespec {
            tv_sec: 120,
            tv_nsec: 0,
        };
        let mut rem = ffi::timespec {
            tv_sec: -1,
            tv_nsec: -1,
        };
        // SAFETY: valid timespecs.
        let n = unsafe { ffi::nanosleep(&req, &mut rem) };
        (n, errno(), rem.tv_sec, rem.tv_nsec)
    });
    let (n, e, sec, nsec) = r;
    assert_eq!((n, e), (-1, ffi::EINTR));
    assert!((0..120).contains(&sec), "rem.tv_sec = {sec}");
    assert!((0..1_000_000_000).contains(&nsec), "rem.tv_nsec = {nsec}");
}

/// `accept` on a blocking listener, no `SA_RESTART`: `EINTR`.
#[rstest]
#[case::os(On::Os)]
#[case::green(On::Green)]
fn accept_without_restart_gets_eintr(#[case] on: On) {
    let _caught = catch(0);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let r = signalled(on, None, move || {
        // SAFETY: null address and length are allowed.
        let fd = unsafe {
            ffi::accept(
                listener.as_raw_fd(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        };
        (fd, errno())
    });
    assert_eq!(r, (-1, ffi::EINTR));
}

/// A blocking write that filled the socket's buffer and waits for room:
/// a signal (no `SA_RESTART`) ends it with the count written so far; no
/// byte is lost (the reader then gets exactly that many).
#[rstest]
#[case::os(On::Os)]
#[case::green(On::Green)]
fn write_cut_short_returns_its_count(#[case] on: On) {
    let _caught = catch(0);
    let (client, mut server) = pair();
    const LEN: usize = 64 << 20;
    let n = signalled(on, None, move || {
        let data = vec![7u8; LEN];
        // SAFETY: `data` is valid for LEN bytes of reads.
        let n = unsafe { ffi::write(client.as_raw_fd(), data.as_ptr().cast(), LEN) };
        (n, errno(), client)
    });
    let (n, e, client) = n;
    assert!(
        n > 0 && (n as usize) < LEN,
        "write returned {n} (errno {e})"
    );
    drop(client);
    let mut got = Vec::new();
    server.read_to_end(&mut got).unwrap();
    assert_eq!(got.len(), n as usize);
    assert!(got.iter().all(|&b| b == 7));
}

/// Reading an action back shows the caller's handler and flags (not
/// whatever stands in for it), so saving and restoring actions works, and
/// an `SA_SIGINFO` handler gets its siginfo.
#[test]
fn actions_read_back_as_installed() {
    let _caught = catch(0);
    // SAFETY: zeroed sigactions are valid; the handler is a valid
    // three-argument handler.
    unsafe {
        let mut act: ffi::sigaction = std::mem::zeroed();
        act.sa_sigaction = on_signal_info as *const () as ffi::sighandler_t;
        act.sa_flags = ffi::SA_SIGINFO | ffi::SA_RESTART;
        ffi::sigemptyset(&mut act.sa_mask);
        let mut old: ffi::sigaction = std::mem::zeroed();
        assert_eq!(ffi::sigaction(SIG, &act, &mut old), 0);
        assert_eq!(
            old.sa_sigaction,
            on_signal as *const () as ffi::sighandler_t
        );
        assert_eq!(old.sa_flags & (ffi::SA_SIGINFO | ffi::SA_RESTART), 0);
        let mut now: ffi::sigaction = std::mem::zeroed();
        assert_eq!(ffi::sigaction(SIG, std::ptr::null(), &mut now), 0);
        assert_eq!(now.sa_sigaction, act.sa_sigaction);
        assert_eq!(
            now.sa_flags & (ffi::SA_SIGINFO | ffi::SA_RESTART),
            ffi::SA_SIGINFO | ffi::SA_RESTART
        );
        SEEN.store(0, Ordering::SeqCst);
        assert_eq!(ffi::raise(SIG), 0);
        assert_eq!(SEEN.load(Ordering::SeqCst), SIG);
        // `signal` returns the handler it replaces.
        let prev = ffi::signal(SIG, on_signal as *const () as ffi::sighandler_t);
        assert_eq!(prev, act.sa_sigaction);
        // Putting the saved action back restores it.
        assert_eq!(ffi::sigaction(SIG, &old, std::ptr::null_mut()), 0);
        assert_eq!(ffi::sigaction(SIG, std::ptr::null(), &mut now), 0);
        assert_eq!(now.sa_sigaction, old.sa_sigaction);
    }
}
