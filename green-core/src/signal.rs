//! The SIGSEGV/SIGBUS handler: a fault in a green guard page is reported the
//! way std reports an OS thread's stack overflow, naming the green thread;
//! every other fault goes to the handler that was installed before ours
//! (std's, which reports overflows of OS threads and `main`), untouched.
//!
//! The handler runs on an alternate signal stack, since the faulting stack
//! has no room left. std gives its own threads (and `main`) one; a hub on an
//! OS thread std did not start gets one of ours ([`ensure_altstack`]).
//!
//! Everything the handler does is async-signal-safe: atomic loads, a read
//! of a `const` thread-local, formatting into a buffer on the signal stack,
//! `write(2)` and `abort(3)`.

use std::cell::Cell;
use std::fmt::Write as _;
use std::sync::{Once, OnceLock};

use crate::ctx::Ctx;

thread_local! {
    /// The green thread running on this OS thread right now, or null. Read
    /// by the fault handler (a `const` thread-local without destructor: no
    /// lazy initialisation, so safe to read in a signal handler).
    static RUNNING: Cell<*const Ctx> = const { Cell::new(std::ptr::null()) };
}

/// Records which green thread runs on this OS thread (null: none).
pub(crate) fn set_running(ctx: *const Ctx) {
    RUNNING.with(|r| r.set(ctx));
}

/// Whether a green thread runs on this OS thread right now: one read of a
/// `const` thread-local (what the interposers check first).
#[cfg(feature = "interpose")]
#[inline(always)]
pub(crate) fn green_running() -> bool {
    !RUNNING.with(Cell::get).is_null()
}

/// The actions that were installed before ours, for chaining.
struct Previous {
    segv: libc::sigaction,
    bus: libc::sigaction,
}

// SAFETY: `libc::sigaction` is plain data (a handler address, flags and a
// signal mask); it is written once before the handler is installed and only
// read afterwards.
unsafe impl Sync for Previous {}
// SAFETY: as above.
unsafe impl Send for Previous {}

static PREVIOUS: OnceLock<Previous> = OnceLock::new();

/// Installs the handler for SIGSEGV and SIGBUS, once per process.
pub(crate) fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: sigaction with a null new action only reads the current
        // one into the zeroed struct we own.
        let previous = unsafe {
            let mut segv: libc::sigaction = std::mem::zeroed();
            let mut bus: libc::sigaction = std::mem::zeroed();
            libc::sigaction(libc::SIGSEGV, std::ptr::null(), &mut segv);
            libc::sigaction(libc::SIGBUS, std::ptr::null(), &mut bus);
            Previous { segv, bus }
        };
        let _ = PREVIOUS.set(previous);
        // SAFETY: `on_fault` has the signature SA_SIGINFO requires and is
        // async-signal-safe (see the module docs); the struct is fully
        // initialised (zeroed, then an empty mask and our handler).
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_fault as *const () as libc::sighandler_t;
            action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(libc::SIGSEGV, &action, std::ptr::null_mut());
            libc::sigaction(libc::SIGBUS, &action, std::ptr::null_mut());
        }
    });
}

/// Size of the alternate signal stacks green-core makes.
const ALTSTACK: usize = 64 * 1024;

/// An alternate signal stack green-core made for this thread; removed and
/// freed when the thread exits.
struct AltStack {
    base: *mut libc::c_void,
    len: usize,
}

impl Drop for AltStack {
    fn drop(&mut self) {
        if self.base.is_null() {
            return;
        }
        // SAFETY: the thread is exiting and runs no signal handler on this
        // stack any more: disable it first, then unmap what we mapped.
        unsafe {
            let disable = libc::stack_t {
                ss_sp: std::ptr::null_mut(),
                ss_flags: libc::SS_DISABLE,
                ss_size: ALTSTACK,
            };
            libc::sigaltstack(&disable, std::ptr::null_mut());
            libc::munmap(self.base, self.len);
        }
    }
}

thread_local! {
    /// Whether `ensure_altstack` already ran on this thread.
    static CHECKED: Cell<bool> = const { Cell::new(false) };
    /// The alternate stack green-core made for this thread, if it made one.
    static ALT: std::cell::RefCell<Option<AltStack>> = const { std::cell::RefCell::new(None) };
}

/// Makes sure this OS thread has an alternate signal stack, so a green
/// thread overflowing on it can be reported. std's threads and `main`
/// already have one; this adds one elsewhere. Idempotent and cheap after the
/// first call on a thread.
pub(crate) fn ensure_altstack() {
    if CHECKED.with(|c| c.replace(true)) {
        return;
    }
    // SAFETY: querying the current alternate stack writes only into `cur`.
    let mut cur: libc::stack_t = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    if unsafe { libc::sigaltstack(std::ptr::null(), &mut cur) } != 0 {
        return;
    }
    if cur.ss_flags & libc::SS_DISABLE == 0 {
        return; // std (or the program) already gave this thread one
    }
    let page = crate::stack::page_size();
    let len = ALTSTACK + page;
    // SAFETY: a fresh anonymous mapping; nothing aliases it. The lowest
    // page becomes a guard so an overflowing handler faults instead of
    // writing below the mapping.
    let base = unsafe {
        let base = libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
            -1,
            0,
        );
        if base == libc::MAP_FAILED {
            return;
        }
        libc::mprotect(base, page, libc::PROT_NONE);
        base
    };
    let stack = libc::stack_t {
        // SAFETY: `base + page` is inside the mapping just made.
        ss_sp: unsafe { base.cast::<u8>().add(page) }.cast(),
        ss_flags: 0,
        ss_size: ALTSTACK,
    };
    // SAFETY: `stack` describes memory we own for the life of this thread
    // (freed by `AltStack::drop` at thread exit, after disabling it).
    if unsafe { libc::sigaltstack(&stack, std::ptr::null_mut()) } != 0 {
        // SAFETY: not installed, so unused.
        unsafe { libc::munmap(base, len) };
        return;
    }
    ALT.with(|a| *a.borrow_mut() = Some(AltStack { base, len }));
}

/// The fault handler (see the module docs).
extern "C" fn on_fault(sig: libc::c_int, info: *mut libc::siginfo_t, uctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO handlers;
    // for SIGSEGV and SIGBUS `si_addr` is the faulting address.
    let addr = unsafe { (*info).si_addr() } as usize;
    if let Some(usable) = crate::stack::guard_hit(addr) {
        report_overflow(usable);
    }
    chain(sig, info, uctx);
}

/// Passes a fault that is not ours to the action installed before ours.
fn chain(sig: libc::c_int, info: *mut libc::siginfo_t, uctx: *mut libc::c_void) {
    let previous = PREVIOUS.get().map(|p| match sig {
        libc::SIGBUS => p.bus,
        _ => p.segv,
    });
    match previous {
        Some(prev) if prev.sa_sigaction != libc::SIG_DFL && prev.sa_sigaction != libc::SIG_IGN => {
            if prev.sa_flags & libc::SA_SIGINFO != 0 {
                // SAFETY: the previous action was installed with SA_SIGINFO,
                // so its handler has this signature; we pass on exactly what
                // the kernel gave us.
                let handler: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                    unsafe { std::mem::transmute(prev.sa_sigaction) };
                handler(sig, info, uctx);
            } else {
                // SAFETY: without SA_SIGINFO the handler takes the signal
                // number only.
                let handler: extern "C" fn(libc::c_int) =
                    unsafe { std::mem::transmute(prev.sa_sigaction) };
                handler(sig);
            }
        }
        _ => {
            // No handler before ours: put the default action back and return.
            // The faulting instruction runs again and the kernel applies the
            // default (the process dies of the signal, as it would have).
            // SAFETY: a zeroed sigaction with SIG_DFL is a valid action.
            unsafe {
                let mut dfl: libc::sigaction = std::mem::zeroed();
                dfl.sa_sigaction = libc::SIG_DFL;
                libc::sigemptyset(&mut dfl.sa_mask);
                libc::sigaction(sig, &dfl, std::ptr::null_mut());
            }
        }
    }
}

/// A fixed buffer `write!` can format into without allocating.
struct Buf {
    bytes: [u8; 1024],
    len: usize,
}

impl std::fmt::Write for Buf {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let room = self.bytes.len() - self.len;
        let n = s.len().min(room);
        self.bytes[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

/// Prints std's overflow report for the running green thread and aborts.
fn report_overflow(usable: usize) -> ! {
    let mut buf = Buf {
        bytes: [0; 1024],
        len: 0,
    };
    let ctx = RUNNING.with(Cell::get);
    // SAFETY: a non-null `RUNNING` points at the `Ctx` of the green thread
    // this OS thread is running; the hub holds an `Arc` to it for as long as
    // the pointer is set.
    let ctx = unsafe { ctx.as_ref() };
    let name = ctx.and_then(|c| c.name()).unwrap_or("<unknown>");
    let _ = write!(buf, "\nthread '{name}' (green thread");
    if let Some(ctx) = ctx {
        let _ = write!(buf, " {}", ctx.id);
    }
    let _ = write!(buf, ", ");
    let _ = write_size(&mut buf, usable);
    let _ = write!(
        buf,
        " stack) has overflowed its stack\n\
         note: give it more with thread::Builder::stack_size or GREEN_STACK_SIZE\n\
         fatal runtime error: stack overflow, aborting\n"
    );
    let mut out = &buf.bytes[..buf.len];
    while !out.is_empty() {
        // SAFETY: `out` is a valid byte slice; write(2) is async-signal-safe.
        let n = unsafe { libc::write(2, out.as_ptr().cast(), out.len()) };
        if n <= 0 {
            break;
        }
        out = &out[n as usize..];
    }
    // SAFETY: abort(3) is async-signal-safe and never returns.
    unsafe { libc::abort() }
}

fn write_size(buf: &mut Buf, bytes: usize) -> std::fmt::Result {
    const MIB: usize = 1 << 20;
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        write!(buf, "{} MiB", bytes / MIB)
    } else {
        write!(buf, "{} KiB", bytes / 1024)
    }
}
