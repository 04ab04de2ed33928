//! Green-thread stacks: green-core owns their memory.
//!
//! The interface the rest of the crate sees is small:
//!
//! * [`claim`] a stack of at least some size (at spawn time, so every way
//!   of not getting one is an `io::Error` from `Builder::spawn`): a
//!   [`Promise`], which [`bind`] turns into a [`Stack`] when the thread
//!   first runs, on its hub;
//! * [`release`] it when its green thread has finished;
//! * [`guard_hit`]: is this faulting address a green guard page (for the
//!   SIGSEGV handler);
//! * [`trim`] / [`trim_due`]: return the pages of freed stacks to the
//!   kernel, called by hubs about to sleep.
//!
//! How stacks are laid out, guarded and recycled is `slab`'s business; the
//! kernel calls are in `sys`; the guard lookup the signal handler uses is
//! `registry`.
//!
//! Two process-wide counts bound what exists: green threads spawned and not
//! finished (`LIVE`, capped by `runtime::stack_budget`, unlimited by default
//! where guards cost no mapping), and the slots of `slab`.

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::runtime::{self, GuardKind};

mod registry;
mod slab;
mod sys;

pub(crate) use slab::{trim, trim_due, Promise};
pub(crate) use sys::page_size;

/// A green thread's stack: a slot of a slab reservation (or a reservation
/// of its own), with a guard page below it. Owned by one green thread from
/// its first run until it finishes, on one OS thread.
#[derive(Debug)]
pub(crate) struct Stack(slab::Slot);

/// At most this many stack bytes above a parked green thread's stack
/// pointer are prefetched before it resumes: the switch's saved
/// registers, the frames of `park` and of the wait it returns through, and
/// (in a shallow thread) the caller's own frames.
const RESUME_BYTES: usize = 2048;

/// Asks the CPU to fetch, in the background, the stack lines that a green
/// thread parked at `sp` with `depth` bytes of stack in use above it will
/// read first when resumed (`sp == 0`: none known). A hint only: it reads
/// nothing and cannot fault.
#[inline]
pub(crate) fn prefetch_resume(sp: usize, depth: usize) {
    if sp != 0 {
        prefetch(sp.saturating_sub(64), depth.min(RESUME_BYTES) + 64);
    }
}

/// Prefetches the cache lines of `[addr, addr + len)` into every level.
#[inline]
pub(crate) fn prefetch(addr: usize, len: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let mut line = addr & !63;
        while line < addr + len {
            // SAFETY: a prefetch is a hint: it neither reads into the
            // program nor faults, whatever the address (unmapped, guard
            // page or freed), so any value is sound.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(line as *const i8) };
            line += 64;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (addr, len);
}

impl Stack {
    /// One past its highest usable byte: where its first frame starts.
    pub(crate) fn top(&self) -> usize {
        self.0.top()
    }
}

/// Turns a spawn-time promise into the stack the thread runs on; called by
/// the hub that first runs it.
pub(crate) fn bind(promise: Promise) -> Stack {
    Stack(promise.bind())
}

// SAFETY: `base` is the slot's top and `limit` its lowest address, which is
// the start of its guard page; the range between is mapped read-write and
// owned by this `Stack` alone (slots never overlap, and a slot is handed to
// one `Stack` at a time). Both are page-aligned, so aligned to
// STACK_ALIGNMENT, and every class holds at least 32 KiB, far above
// corosensei's MIN_STACK_SIZE.
unsafe impl corosensei::stack::Stack for Stack {
    fn base(&self) -> corosensei::stack::StackPointer {
        corosensei::stack::StackPointer::new(self.0.top()).expect("a stack's top is never 0")
    }

    fn limit(&self) -> corosensei::stack::StackPointer {
        corosensei::stack::StackPointer::new(self.0.addr).expect("a stack's base is never 0")
    }
}

/// Green threads spawned and not yet finished, process-wide, counted only
/// while a budget is in force (an unlimited budget needs no count, and
/// keeping one would put a shared counter on every spawn).
static LIVE: AtomicUsize = AtomicUsize::new(0);

/// Green threads spawned and not finished.
pub(crate) fn threads() -> usize {
    if runtime::budget_is_unlimited() {
        crate::dump::live_count()
    } else {
        LIVE.load(Ordering::Relaxed)
    }
}

/// A green thread's place in the budget, given back when dropped (when the
/// thread finishes, or is dropped unrun).
#[derive(Debug)]
pub(crate) struct Reservation(bool);

impl Drop for Reservation {
    fn drop(&mut self) {
        if self.0 {
            LIVE.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// Stacks that exist: every slot carved so far (in use or free) and every
/// large stack.
pub(crate) fn stacks() -> usize {
    slab::stacks()
}

/// Stacks whose guard pages exist (each costs two kernel mappings when
/// guards are `mprotect`ed).
pub(crate) fn carved() -> usize {
    slab::carved()
}

/// The usable size a request for `bytes` gets: `bytes` rounded up to whole
/// pages, at least `runtime::MIN_STACK_SIZE`, then to its size class.
///
/// # Errors
///
/// `InvalidInput` when the size cannot be represented once rounded (std
/// refuses `usize::MAX` the same way).
pub(crate) fn usable_for(bytes: usize) -> io::Result<usize> {
    let page = sys::page_size();
    let bytes = bytes.max(runtime::MIN_STACK_SIZE);
    let rounded = bytes
        .checked_add(page - 1)
        .map(|b| b & !(page - 1))
        .filter(|b| b.checked_add(page).is_some())
        .ok_or_else(too_large)?;
    Ok(slab::usable_for(rounded))
}

/// Everything a new green thread needs before it is handed to a hub: room in
/// the thread budget and a stack of at least `bytes`.
///
/// # Errors
///
/// `InvalidInput` for a size that cannot be represented; `WouldBlock` (what
/// std reports when it cannot map an OS thread's stack) when the address
/// space cannot be had; `OutOfMemory` when the green-thread budget is spent
/// (`GREEN_MAX_STACKS`, or the map budget where guards are `mprotect`ed).
pub(crate) fn claim(bytes: usize) -> io::Result<(Promise, Reservation)> {
    let usable = usable_for(bytes)?;
    let reservation = reserve_thread().ok_or_else(budget_spent)?;
    crate::signal::install();
    // On failure the reservation drops, giving its place back.
    let promise = slab::claim(usable)?;
    Ok((promise, reservation))
}

fn reserve_thread() -> Option<Reservation> {
    if runtime::budget_is_unlimited() {
        return Some(Reservation(false));
    }
    let fits = |budget: usize| {
        LIVE.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
            (n < budget).then_some(n + 1)
        })
        .is_ok()
    };
    // The map limit may have been raised since the budget was derived.
    (fits(runtime::stack_budget()) || fits(runtime::refresh_stack_budget()))
        .then(|| Reservation(true))
}

/// Gives a stack back for reuse.
///
/// # Safety
///
/// No coroutine runs on the stack or will resume on it.
pub(crate) unsafe fn release(stack: Stack) {
    // SAFETY: forwarded from this function's contract.
    unsafe { slab::release(stack.0) };
}

/// If `addr` lies in a green guard page, the usable size of that stack.
/// Async-signal-safe.
pub(crate) fn guard_hit(addr: usize) -> Option<usize> {
    registry::guard_hit(addr)
}

/// Bytes of the stack holding `addr` that are resident, if `addr` is on a
/// green-thread stack.
pub(crate) fn resident_around(addr: usize) -> Option<usize> {
    let (slot, stride, guard) = registry::slot_of(addr)?;
    let pages = sys::resident(slot + guard, stride - guard).ok()?;
    Some(pages * sys::page_size())
}

/// Which guard pages this kernel gives us, found by trying
/// `MADV_GUARD_INSTALL` once on a scratch reservation.
pub(crate) fn probe_guards() -> GuardKind {
    let page = sys::page_size();
    let Ok(addr) = sys::reserve(2 * page, true) else {
        return GuardKind::Mprotect;
    };
    // SAFETY: the scratch reservation was just made and holds nothing.
    let kind = match unsafe { sys::guard_install(addr, page) } {
        Ok(()) => GuardKind::Madvise,
        Err(_) => GuardKind::Mprotect,
    };
    // SAFETY: the scratch reservation is ours and unused.
    unsafe { sys::release(addr, 2 * page) };
    kind
}

fn too_large() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "green-thread stack size too large to represent",
    )
}

fn budget_spent() -> io::Error {
    let message = match runtime::stack_guards() {
        GuardKind::Mprotect => format!(
            "cannot spawn a green thread: {live} green threads are alive and the stack \
             budget is {budget}. This kernel has no MADV_GUARD_INSTALL (Linux 6.13), so \
             each green-thread stack costs {maps} kernel memory mappings and \
             vm.max_map_count is {max}. Raise it (for example `sysctl -w \
             vm.max_map_count={suggest}`), set GREEN_MAX_STACKS, or wait for green \
             threads to finish",
            live = threads(),
            budget = runtime::stack_budget(),
            maps = runtime::maps_per_stack(),
            max = runtime::max_map_count(),
            suggest = (runtime::max_map_count() * 4).max(262_144),
        ),
        GuardKind::Madvise => format!(
            "cannot spawn a green thread: {live} green threads are alive and \
             GREEN_MAX_STACKS (or runtime::set_stack_budget) allows {budget}",
            live = threads(),
            budget = runtime::stack_budget(),
        ),
    };
    io::Error::new(io::ErrorKind::OutOfMemory, message)
}

/// `bytes` for messages: `64 KiB`, `2 MiB`, `1024 GiB`.
pub(crate) fn human(bytes: usize) -> String {
    const KIB: usize = 1 << 10;
    const MIB: usize = 1 << 20;
    const GIB: usize = 1 << 30;
    if bytes >= GIB && bytes.is_multiple_of(GIB) {
        format!("{} GiB", bytes / GIB)
    } else if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else if bytes.is_multiple_of(KIB) {
        format!("{} KiB", bytes / KIB)
    } else {
        format!("{bytes} bytes")
    }
}
