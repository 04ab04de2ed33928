//! `EINTR` for interposed waits: `sigaction`, `signal` and `siginterrupt`.
//!
//! A thread blocked in `read` returns `EINTR` when a signal handler runs,
//! unless the handler was installed with `SA_RESTART` (and, for a socket,
//! no `SO_RCVTIMEO`/`SO_SNDTIMEO` is set); `poll`, `ppoll` and the sleeps
//! return it whatever the flags say. An interposed wait sleeps on the hub,
//! not in the kernel, so the kernel cannot interrupt it: this module does.
//!
//! * **Installing.** The interposed `sigaction` records the caller's
//!   handler and flags in a table and gives the kernel a trampoline in its
//!   place, with the caller's mask and flags (plus `SA_SIGINFO`). Reading
//!   the action back shows the caller's handler and flags, so code that
//!   saves and restores actions works unchanged. `signal` and
//!   `siginterrupt` are built on it with glibc's semantics (`signal` is
//!   BSD-style: `SA_RESTART` unless `siginterrupt` said otherwise).
//! * **Delivery.** The trampoline runs the caller's handler, then bumps a
//!   sequence number and writes one message (signal, restart flag,
//!   sequence) to a pipe: both async-signal-safe. It saves and restores
//!   `errno`.
//! * **Interrupting.** A relay thread reads the pipe and, for each message,
//!   marks every interposed wait that began before that signal (by the
//!   sequence number) and is not restarted by it, and wakes its green
//!   thread; the wait then returns `EINTR` (or, for a write that had sent
//!   some bytes, their count, as the kernel does).
//!
//! Which thread a signal interrupts: the kernel picks one thread of the
//! process that does not block the signal, and cannot know about green
//! threads. So a caught signal interrupts every interposed wait in
//! progress, on every hub, as if each green thread had taken it. Code that
//! handles `EINTR` (retrying, or checking the flag its handler set) works
//! the same; green threads cannot block signals one by one (the signal mask
//! belongs to the OS thread).
//!
//! Not reached: handlers installed through `sigset`, `sysv_signal` or
//! `bsd_signal` (glibc installs those internally), or by raw syscalls, and
//! synchronous fault signals (`SIGSEGV`, `SIGBUS`, `SIGILL`, `SIGFPE`,
//! `SIGTRAP`, `SIGSYS`), whose handlers pass straight to the kernel; so do
//! green-core's own (the stack-overflow and dump handlers). If the relay
//! thread or its pipe cannot be made, handlers are installed as given and
//! interposed waits are not interrupted.

use std::collections::HashMap;
use std::num::NonZeroU64;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use libc::{c_int, c_void, sighandler_t, siginfo_t};

use super::{errno, raw, set_errno, DIRECT};
use crate::ctx::Ctx;

/// Signal numbers are below this (Linux's `_NSIG`).
const NSIG: usize = 65;

/// The handler the caller installed for each signal while the kernel holds
/// the trampoline (`0`: the trampoline is not installed for it).
static HANDLERS: [AtomicUsize; NSIG] = [const { AtomicUsize::new(0) }; NSIG];
/// The caller's `sa_flags` for each signal in `HANDLERS`.
static FLAGS: [AtomicI32; NSIG] = [const { AtomicI32::new(0) }; NSIG];
/// Signals `siginterrupt(sig, 1)` asked not to restart (glibc's
/// `_sigintr`), for `signal`.
static NO_RESTART: [AtomicBool; NSIG] = [const { AtomicBool::new(false) }; NSIG];
/// Set once a handler of the caller's went in through the trampoline:
/// from then on interposed waits enrol in `WAITS`.
static CATCHING: AtomicBool = AtomicBool::new(false);
/// Bumped by every caught signal before it is relayed.
static SEQ: AtomicU64 = AtomicU64::new(0);
/// The write end of the relay's pipe (non-blocking), or -1.
static PIPE: AtomicI32 = AtomicI32::new(-1);
/// Serialises the interposed `sigaction`s (table and kernel together).
static INSTALL: Mutex<()> = Mutex::new(());

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Whether `sig` is one whose handlers go through the trampoline.
fn relayed(sig: c_int) -> bool {
    let fault = matches!(
        sig,
        libc::SIGSEGV
            | libc::SIGBUS
            | libc::SIGILL
            | libc::SIGFPE
            | libc::SIGTRAP
            | libc::SIGSYS
            | libc::SIGKILL
            | libc::SIGSTOP
    );
    // 32 and 33 are glibc's own (thread cancellation, setxid): it refuses
    // them, and so does the plain call.
    (1..NSIG as c_int).contains(&sig) && !fault && !(32..=33).contains(&sig)
}

type Sigaction = unsafe extern "C" fn(c_int, *const libc::sigaction, *mut libc::sigaction) -> c_int;

/// libc's `sigaction`.
fn real() -> Option<Sigaction> {
    static REAL: OnceLock<usize> = OnceLock::new();
    let addr = *REAL.get_or_init(|| super::sleep::next(c"sigaction"));
    // SAFETY: a non-zero address found under the name `sigaction` in libc
    // is libc's `sigaction`, which has this signature.
    (addr != 0).then(|| unsafe { std::mem::transmute::<usize, Sigaction>(addr) })
}

/// libc's `sigaction(sig, act, old)`; `ENOSYS` if it could not be found.
///
/// # Safety
///
/// sigaction(2)'s contract.
unsafe fn real_sigaction(
    sig: c_int,
    act: *const libc::sigaction,
    old: *mut libc::sigaction,
) -> c_int {
    match real() {
        // SAFETY: passed through from the caller.
        Some(f) => unsafe { f(sig, act, old) },
        None => {
            set_errno(libc::ENOSYS);
            -1
        }
    }
}

/// What the kernel runs for a relayed signal.
extern "C" fn trampoline(sig: c_int, info: *mut siginfo_t, uctx: *mut c_void) {
    let saved = errno();
    let Some(i) = usize::try_from(sig).ok().filter(|&i| i < NSIG) else {
        return;
    };
    let handler = HANDLERS[i].load(Ordering::Acquire);
    let flags = FLAGS[i].load(Ordering::Relaxed);
    if flags & libc::SA_RESETHAND != 0 {
        // The kernel put back SIG_DFL as it delivered this one.
        HANDLERS[i].store(0, Ordering::Release);
    }
    if handler != 0 && handler != libc::SIG_DFL && handler != libc::SIG_IGN {
        if flags & libc::SA_SIGINFO != 0 {
            // SAFETY: the caller installed `handler` with SA_SIGINFO, so it
            // is a three-argument handler; the kernel's arguments go on.
            let f: extern "C" fn(c_int, *mut siginfo_t, *mut c_void) =
                unsafe { std::mem::transmute(handler) };
            f(sig, info, uctx);
        } else {
            // SAFETY: without SA_SIGINFO the handler takes the signal only.
            let f: extern "C" fn(c_int) = unsafe { std::mem::transmute(handler) };
            f(sig);
        }
    }
    let seq = SEQ.fetch_add(1, Ordering::AcqRel) + 1;
    let restart = u32::from(flags & libc::SA_RESTART != 0);
    let mut msg = [0u8; 16];
    msg[..4].copy_from_slice(&(sig as u32).to_ne_bytes());
    msg[4..8].copy_from_slice(&restart.to_ne_bytes());
    msg[8..].copy_from_slice(&seq.to_ne_bytes());
    let fd = PIPE.load(Ordering::Acquire);
    if fd >= 0 {
        // SAFETY: `msg` is valid for 16 bytes of reads; write(2) is
        // async-signal-safe, and a full pipe only drops this message.
        let _ = unsafe { raw::write(fd, msg.as_ptr().cast(), msg.len()) };
    }
    set_errno(saved);
}

/// One interposed wait that a signal may interrupt.
struct Wait {
    ctx: Arc<Ctx>,
    /// `SEQ` when the wait began: only later signals interrupt it.
    since: u64,
    /// Whether an `SA_RESTART` handler leaves it waiting.
    restartable: bool,
    hit: AtomicBool,
}

/// The waits in progress, by green thread (each is in one call at a time).
fn waits() -> &'static Mutex<HashMap<NonZeroU64, Arc<Wait>>> {
    static WAITS: OnceLock<Mutex<HashMap<NonZeroU64, Arc<Wait>>>> = OnceLock::new();
    WAITS.get_or_init(|| Mutex::new(HashMap::new()))
}

/// An interposed wait's enrolment; leaves `WAITS` when dropped.
pub(super) struct Watch(Arc<Wait>);

impl Watch {
    /// Whether a signal interrupted the wait.
    pub(super) fn hit(&self) -> bool {
        self.0.hit.load(Ordering::Acquire)
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let mut all = lock(waits());
        if all
            .get(&self.0.ctx.id)
            .is_some_and(|w| Arc::ptr_eq(w, &self.0))
        {
            all.remove(&self.0.ctx.id);
        }
    }
}

/// Enrols the running green thread's coming wait, if any handler is
/// relayed (`None` otherwise: nothing to interrupt it). `restartable`: the
/// call is restarted by an `SA_RESTART` handler (a read, but not a poll, a
/// sleep, or a socket call under a timeout).
pub(super) fn watch(restartable: bool) -> Option<Watch> {
    if !CATCHING.load(Ordering::Acquire) {
        return None;
    }
    let ctx = crate::hub::with(|h| h.current_ctx());
    let mut all = lock(waits());
    let wait = Arc::new(Wait {
        ctx,
        since: SEQ.load(Ordering::Acquire),
        restartable,
        hit: AtomicBool::new(false),
    });
    all.insert(wait.ctx.id, wait.clone());
    Some(Watch(wait))
}

/// The relay: interrupts the waits each caught signal reaches.
fn relay(read_end: c_int) {
    let mut msg = [0u8; 16];
    loop {
        // SAFETY: `msg` is valid for 16 bytes of writes; `read_end` is the
        // relay's own pipe, never closed.
        match unsafe { raw::read(read_end, msg.as_mut_ptr().cast(), msg.len()) } {
            Ok(16) => {}
            Err(libc::EINTR) => continue,
            // Writes of 16 bytes to a pipe are atomic: anything else means
            // the pipe is gone.
            _ => return,
        }
        let restart = u32::from_ne_bytes([msg[4], msg[5], msg[6], msg[7]]) != 0;
        let seq = u64::from_ne_bytes(msg[8..].try_into().expect("8 bytes"));
        let woken: Vec<Arc<Ctx>> = lock(waits())
            .values()
            .filter(|w| w.since < seq && !(restart && w.restartable))
            .filter(|w| !w.hit.swap(true, Ordering::AcqRel))
            .map(|w| w.ctx.clone())
            .collect();
        for ctx in woken {
            ctx.wake_owned();
        }
    }
}

/// Starts the relay thread and its pipe, once; whether they run.
fn relay_running() -> bool {
    static STARTED: OnceLock<bool> = OnceLock::new();
    *STARTED.get_or_init(|| {
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two ends.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return false;
        }
        let [read_end, write_end] = fds;
        // SAFETY: the write end is ours; F_SETFL takes an int.
        unsafe { libc::fcntl(write_end, libc::F_SETFL, libc::O_NONBLOCK) };
        let spawned = std::thread::Builder::new()
            .name("green-signals".into())
            .spawn(move || relay(read_end));
        if spawned.is_err() {
            // SAFETY: both ends are ours and unused.
            unsafe {
                libc::close(read_end);
                libc::close(write_end);
            }
            return false;
        }
        PIPE.store(write_end, Ordering::Release);
        true
    })
}

/// `sigaction(2)`: a handler for a relayed signal goes in behind the
/// trampoline (see the module docs); the rest passes through.
///
/// # Safety
///
/// sigaction(2)'s contract: `act` null or valid for reads, `old` null or
/// valid for writes.
#[no_mangle]
pub unsafe extern "C" fn sigaction(
    sig: c_int,
    act: *const libc::sigaction,
    old: *mut libc::sigaction,
) -> c_int {
    if !relayed(sig) || DIRECT.get() {
        // SAFETY: the caller's contract.
        return unsafe { real_sigaction(sig, act, old) };
    }
    let i = sig as usize;
    // `act` and `old` may be the same struct: read the new action first.
    // SAFETY: `act` is null or valid for reads, per the caller.
    let new = unsafe { act.as_ref() }.copied();
    let _install = lock(&INSTALL);
    // SAFETY: an all-zero sigaction is a valid value to be overwritten.
    let mut current: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: a query: `current` is valid for writes.
    if unsafe { real_sigaction(sig, std::ptr::null(), &mut current) } != 0 {
        return -1;
    }
    let ours = current.sa_sigaction == trampoline as *const () as usize;
    if !old.is_null() {
        let mut shown = current;
        if ours {
            shown.sa_sigaction = HANDLERS[i].load(Ordering::Acquire);
            shown.sa_flags = FLAGS[i].load(Ordering::Relaxed);
        }
        // SAFETY: `old` is valid for writes, per the caller.
        unsafe { old.write(shown) };
    }
    let Some(new) = new else {
        return 0;
    };
    let handler = new.sa_sigaction;
    if handler == libc::SIG_DFL || handler == libc::SIG_IGN || !relay_running() {
        // SAFETY: `new` is the caller's valid action.
        let rc = unsafe { real_sigaction(sig, &new, std::ptr::null_mut()) };
        if rc == 0 {
            HANDLERS[i].store(0, Ordering::Release);
        }
        return rc;
    }
    FLAGS[i].store(new.sa_flags, Ordering::Relaxed);
    HANDLERS[i].store(handler, Ordering::Release);
    CATCHING.store(true, Ordering::Release);
    let mut given = new;
    given.sa_sigaction = trampoline as *const () as usize;
    given.sa_flags |= libc::SA_SIGINFO;
    // SAFETY: `given` is the caller's action with the trampoline (a valid
    // three-argument handler) in place of theirs.
    let rc = unsafe { real_sigaction(sig, &given, std::ptr::null_mut()) };
    if rc != 0 && !ours {
        HANDLERS[i].store(0, Ordering::Release);
    }
    rc
}

/// `signal(2)` with glibc's (BSD) semantics: `SA_RESTART` unless
/// `siginterrupt` turned it off for `sig`; the signal itself is blocked
/// while its handler runs.
///
/// # Safety
///
/// signal(2)'s contract.
#[no_mangle]
pub unsafe extern "C" fn signal(sig: c_int, handler: sighandler_t) -> sighandler_t {
    if handler == libc::SIG_ERR || !(1..NSIG as c_int).contains(&sig) {
        set_errno(libc::EINVAL);
        return libc::SIG_ERR;
    }
    // SAFETY: an all-zero sigaction is valid (empty mask, no flags).
    let mut act: libc::sigaction = unsafe { std::mem::zeroed() };
    act.sa_sigaction = handler;
    // SAFETY: `act.sa_mask` is a valid sigset; `sig` is in range.
    unsafe {
        libc::sigemptyset(&mut act.sa_mask);
        libc::sigaddset(&mut act.sa_mask, sig);
    }
    if !NO_RESTART[sig as usize].load(Ordering::Relaxed) {
        act.sa_flags = libc::SA_RESTART;
    }
    // SAFETY: as above.
    let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: both structs are valid.
    if unsafe { sigaction(sig, &act, &mut old) } < 0 {
        return libc::SIG_ERR;
    }
    old.sa_sigaction
}

/// `siginterrupt(3)`: whether `sig`'s handler interrupts (`flag != 0`) or
/// restarts blocking calls, as glibc does it, through `sigaction`.
///
/// # Safety
///
/// None beyond siginterrupt(3)'s.
#[no_mangle]
pub unsafe extern "C" fn siginterrupt(sig: c_int, flag: c_int) -> c_int {
    if !(1..NSIG as c_int).contains(&sig) {
        set_errno(libc::EINVAL);
        return -1;
    }
    // SAFETY: an all-zero sigaction is a valid value to be overwritten.
    let mut act: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: a query into a valid struct.
    if unsafe { sigaction(sig, std::ptr::null(), &mut act) } < 0 {
        return -1;
    }
    NO_RESTART[sig as usize].store(flag != 0, Ordering::Relaxed);
    if flag != 0 {
        act.sa_flags &= !libc::SA_RESTART;
    } else {
        act.sa_flags |= libc::SA_RESTART;
    }
    // SAFETY: the action just read, with one flag changed.
    if unsafe { sigaction(sig, &act, std::ptr::null_mut()) } < 0 {
        return -1;
    }
    0
}
