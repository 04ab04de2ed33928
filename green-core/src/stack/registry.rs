//! Where green-thread guard pages are, readable from a signal handler.
//!
//! Every reservation that holds stacks is entered here with its slot stride
//! and guard size. [`guard_hit`] answers "is this address inside a green
//! guard page?" with atomic loads only: no lock, no allocation, so the
//! SIGSEGV handler may call it.
//!
//! # Memory ordering
//!
//! A writer fills `end`, `stride` and `guard` first and publishes the entry
//! by storing `start` with `Release`; a reader loads `start` with `Acquire`
//! and ignores entries whose `start` is 0. Entries are only ever cleared for
//! a single large stack that is being unmapped, which no running code uses.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Most reservations at once: stack classes grow their slabs geometrically
/// (a few dozen reservations for millions of stacks), plus one per live
/// stack larger than the biggest class.
const CAPACITY: usize = 1024;

struct Region {
    /// First byte of the reservation; 0 marks a free entry.
    start: AtomicUsize,
    /// One past the last byte.
    end: AtomicUsize,
    /// Distance between consecutive slots (guard plus usable stack).
    stride: AtomicUsize,
    /// Guard bytes at the low end of every slot.
    guard: AtomicUsize,
}

#[allow(clippy::declare_interior_mutable_const)] // only used to build the array
const EMPTY: Region = Region {
    start: AtomicUsize::new(0),
    end: AtomicUsize::new(0),
    stride: AtomicUsize::new(0),
    guard: AtomicUsize::new(0),
};

static REGIONS: [Region; CAPACITY] = [EMPTY; CAPACITY];
/// Serialises writers; readers never take it.
static WRITERS: Mutex<()> = Mutex::new(());

/// Enters a reservation; `false` when the table is full.
pub(crate) fn add(start: usize, len: usize, stride: usize, guard: usize) -> bool {
    let _w = WRITERS.lock().unwrap_or_else(|p| p.into_inner());
    let Some(free) = REGIONS
        .iter()
        .find(|r| r.start.load(Ordering::Relaxed) == 0)
    else {
        return false;
    };
    free.end.store(start + len, Ordering::Relaxed);
    free.stride.store(stride, Ordering::Relaxed);
    free.guard.store(guard, Ordering::Relaxed);
    free.start.store(start, Ordering::Release);
    true
}

/// Removes the reservation starting at `start`.
pub(crate) fn remove(start: usize) {
    let _w = WRITERS.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(r) = REGIONS
        .iter()
        .find(|r| r.start.load(Ordering::Relaxed) == start)
    {
        r.start.store(0, Ordering::Release);
    }
}

/// If `addr` lies in the guard of a green-thread stack, the usable size of
/// that stack in bytes. Async-signal-safe.
pub(crate) fn guard_hit(addr: usize) -> Option<usize> {
    let (slot, stride, guard) = slot_of(addr)?;
    (addr - slot < guard).then_some(stride - guard)
}

/// The slot holding `addr`, as `(first byte, stride, guard bytes)`.
/// Async-signal-safe.
pub(crate) fn slot_of(addr: usize) -> Option<(usize, usize, usize)> {
    for r in &REGIONS {
        let start = r.start.load(Ordering::Acquire);
        if start == 0 || addr < start {
            continue;
        }
        if addr >= r.end.load(Ordering::Relaxed) {
            continue;
        }
        let stride = r.stride.load(Ordering::Relaxed);
        let guard = r.guard.load(Ordering::Relaxed);
        if stride == 0 {
            continue;
        }
        let slot = addr - (addr - start) % stride;
        return Some((slot, stride, guard));
    }
    None
}
