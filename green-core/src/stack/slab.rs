//! Slab stacks: slots carved from a few large reservations, one size class
//! per power of two, with the free slots of each class kept for reuse.
//!
//! # Layout
//!
//! A class's reservations are arrays of slots. A slot is a guard page at its
//! low end followed by the usable stack; the stack grows down from the slot's
//! top towards its own guard:
//!
//! ```text
//!  reservation:  | guard | usable ....... | guard | usable ....... | ...
//!                 ^slot 0          top 0 ^ ^slot 1          top 1 ^
//! ```
//!
//! Guards are installed with `MADV_GUARD_INSTALL` where the kernel has it, so
//! the number of kernel mappings stays at one per reservation however many
//! stacks exist; elsewhere with `mprotect`, two mappings per slot, bounded by
//! the map budget (`runtime::stack_budget`). A guard is installed once, when
//! its slot is first carved, and stays for the life of the process.
//!
//! Reservations grow geometrically (64 MiB, then twice the last, up to
//! 64 GiB each) and use `MAP_NORESERVE`: a slot is address space until a
//! green thread touches it. Stacks bigger than the largest class get a
//! reservation of their own, without `MAP_NORESERVE`, so the kernel's
//! overcommit check refuses exactly the sizes it would refuse for an OS
//! thread; they are mapped at spawn and unmapped when their thread finishes.
//!
//! # Promise at spawn, bind at first run
//!
//! `Builder::spawn` must fail if no stack can be had, but the best stack to
//! run on is the one a thread on the same hub has just finished with (its
//! pages are resident and in cache). So spawning only *promises* a slot
//! ([`claim`]): it takes one unit of the class's `avail` count, or, when
//! there is none, carves a new slot for this thread, which is where any
//! failure (address space, guard, map budget) shows up. When the thread
//! first runs, [`Promise::bind`] takes the hub's most recently freed slot
//! from its own cache (handing what was promised back), else the carved
//! slot, else a slot from the shared list, which is never empty while
//! promises of units are out:
//!
//! * `avail` = slots in the shared list − promises not yet bound, ≥ 0;
//! * a hub's cache holds at most [`LOCAL_CAP`] slots per class and is not
//!   counted in `avail`.
//!
//! # Trimming
//!
//! Freed slots may still hold every page their last thread touched. Trimming
//! runs in ticks, at most one every [`TRIM_PERIOD`], done by a hub that is
//! about to sleep ([`trim`]). A hub first moves its cache to the shared
//! `fresh` list if it has not done so for a period. A tick then returns the
//! pages of the `aged` slots — freed before the previous tick and not reused
//! since — and ages the `fresh` ones. A trimmed slot keeps its top [`KEEP`]
//! bytes if it is among the first `runtime::stack_pool_capacity()` (*warm*),
//! and nothing otherwise (*cold*). So a burst of deep calls does not pin
//! memory once the process has been idle for a few ticks, and a steady load
//! that reuses its slots within a period never pays a `madvise` (or the TLB
//! shootdown behind it).

use std::cell::{Cell, RefCell};
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use super::{registry, sys};
use crate::runtime::{self, GuardKind};

/// Smallest usable stack a class holds (log2): 32 KiB.
const MIN_SHIFT: u32 = 15;
/// Largest usable stack a class holds (log2): 64 MiB. Bigger stacks get a
/// reservation of their own.
const MAX_SHIFT: u32 = 26;
const CLASSES: usize = (MAX_SHIFT - MIN_SHIFT + 1) as usize;

/// Size of a class's first reservation.
const FIRST_RESERVATION: usize = 64 << 20;
/// Largest single reservation.
const MAX_RESERVATION: usize = 64 << 30;

/// Bytes at the top of a warm slot that trimming leaves resident.
const KEEP: usize = 32 << 10;
/// Least time between two trim ticks.
const TRIM_PERIOD: Duration = Duration::from_secs(1);
/// Free slots a hub keeps to itself, per class.
const LOCAL_CAP: usize = 64;
/// Units of `avail` a thread takes or gives back at a time.
const UNIT_BATCH: usize = 32;

/// Which class a slot belongs to. An enum rather than a `u8` so the values
/// it never takes are niches: a suspended green thread's task entry (which
/// holds a slot) then needs no separate tag in the hub's task table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum ClassId {
    C0,
    C1,
    C2,
    C3,
    C4,
    C5,
    C6,
    C7,
    C8,
    C9,
    C10,
    C11,
    /// A stack with a reservation of its own.
    Large,
}

impl ClassId {
    const ALL: [ClassId; CLASSES] = [
        ClassId::C0,
        ClassId::C1,
        ClassId::C2,
        ClassId::C3,
        ClassId::C4,
        ClassId::C5,
        ClassId::C6,
        ClassId::C7,
        ClassId::C8,
        ClassId::C9,
        ClassId::C10,
        ClassId::C11,
    ];

    fn of(index: usize) -> ClassId {
        ClassId::ALL[index]
    }

    fn index(self) -> usize {
        debug_assert!(self != ClassId::Large);
        self as usize
    }
}

/// `Slot::class` of a stack with a reservation of its own.
const LARGE: ClassId = ClassId::Large;

/// A slot: its lowest address (the guard), its size and its class.
/// Kept small: a suspended green thread's coroutine holds one.
#[derive(Debug)]
pub(crate) struct Slot {
    /// First byte of the slot (the guard).
    pub(crate) addr: usize,
    /// Guard plus usable stack, in pages.
    pages: u32,
    /// Its class, or [`LARGE`].
    class: ClassId,
}

impl Slot {
    fn new(addr: usize, stride: usize, class: ClassId) -> Slot {
        let pages = u32::try_from(stride / sys::page_size()).expect("slot sizes are checked");
        Slot { addr, pages, class }
    }

    /// Guard plus usable stack, in bytes.
    fn stride(&self) -> usize {
        self.pages as usize * sys::page_size()
    }

    /// One past the highest usable byte: where the stack starts.
    pub(crate) fn top(&self) -> usize {
        self.addr + self.stride()
    }
}

/// A stack promised at spawn, bound to a slot when the thread first runs
/// (`None` once bound).
#[derive(Debug)]
pub(crate) struct Promise(Option<Promised>);

#[derive(Debug)]
enum Promised {
    /// One unit of a class's `avail`.
    Class(ClassId),
    /// A slot carved for this spawn, not in any list: used as it is unless
    /// the hub has a warmer one.
    Carved(Slot),
    /// A stack too big for any class, already mapped.
    Large(Slot),
}

/// The shared free slots and reservations of one class.
#[derive(Default)]
struct Pool {
    /// Freed since the last trim tick, most recent at the back.
    fresh: Vec<usize>,
    /// Freed before the last tick and not reused: trimmed at the next one.
    aged: Vec<usize>,
    /// Trimmed to their top `KEEP` bytes.
    warm: Vec<usize>,
    /// Trimmed to nothing.
    cold: Vec<usize>,
    /// The reservation slots are carved from, its slot count, and how many
    /// are carved.
    carving: Option<(usize, usize, usize)>,
    /// Size of the next reservation.
    next_reservation: usize,
}

impl Pool {
    fn pop(&mut self) -> Option<usize> {
        if let Some(addr) = self.fresh.pop().or_else(|| self.aged.pop()) {
            DIRTY.fetch_sub(1, Ordering::Relaxed);
            return Some(addr);
        }
        if let Some(addr) = self.warm.pop() {
            WARM.fetch_sub(1, Ordering::Relaxed);
            return Some(addr);
        }
        self.cold.pop()
    }

    fn push_fresh(&mut self, addrs: impl ExactSizeIterator<Item = usize>) {
        DIRTY.fetch_add(addrs.len(), Ordering::Relaxed);
        self.fresh.extend(addrs);
    }
}

struct Class {
    stride: usize,
    /// Slots in `pool` not promised to a spawned thread (see the module
    /// docs).
    avail: AtomicUsize,
    pool: Mutex<Pool>,
}

fn classes() -> &'static [Class; CLASSES] {
    static CLASSES_: OnceLock<[Class; CLASSES]> = OnceLock::new();
    CLASSES_.get_or_init(|| {
        let page = sys::page_size();
        std::array::from_fn(|i| Class {
            stride: (1usize << (MIN_SHIFT + i as u32)) + page,
            avail: AtomicUsize::new(0),
            pool: Mutex::new(Pool {
                next_reservation: FIRST_RESERVATION,
                ..Pool::default()
            }),
        })
    })
}

fn lock(pool: &Mutex<Pool>) -> MutexGuard<'_, Pool> {
    pool.lock().unwrap_or_else(|p| p.into_inner())
}

/// Slots carved so far (each has its guard installed), all classes.
static CARVED: AtomicUsize = AtomicUsize::new(0);
/// Stacks with a reservation of their own, mapped now.
static LARGE_LIVE: AtomicUsize = AtomicUsize::new(0);
/// Slots in the shared `fresh` and `aged` lists, all classes.
static DIRTY: AtomicUsize = AtomicUsize::new(0);
/// Slots in the `warm` lists, all classes.
static WARM: AtomicUsize = AtomicUsize::new(0);

/// Stacks that exist: every carved slot (in use or free; its guard stays)
/// and every large stack.
pub(crate) fn stacks() -> usize {
    CARVED.load(Ordering::Relaxed) + LARGE_LIVE.load(Ordering::Relaxed)
}

/// Slots whose guards exist (in use or free).
pub(crate) fn carved() -> usize {
    CARVED.load(Ordering::Relaxed)
}

/// The class a request of `bytes` (validated, page-rounded) falls in.
fn class_of(bytes: usize) -> Option<usize> {
    let shift = bytes.next_power_of_two().trailing_zeros().max(MIN_SHIFT);
    (shift <= MAX_SHIFT).then(|| (shift - MIN_SHIFT) as usize)
}

/// The usable size a validated, page-rounded request of `bytes` is given.
pub(crate) fn usable_for(bytes: usize) -> usize {
    match class_of(bytes) {
        Some(c) => 1 << (MIN_SHIFT + c as u32),
        None => bytes,
    }
}

/// Promises a stack with at least `bytes` (validated, page-rounded) of
/// usable space; every way of not getting one is an error here.
pub(crate) fn claim(bytes: usize) -> io::Result<Promise> {
    let Some(c) = class_of(bytes) else {
        return claim_large(bytes).map(|slot| Promise(Some(Promised::Large(slot))));
    };
    let class = &classes()[c];
    // Units of `avail` are taken a batch at a time and kept per thread, so
    // most spawns touch no shared counter.
    let from_local = LOCAL
        .try_with(|l| {
            let mut units = l.units.borrow_mut();
            if units[c] == 0 {
                units[c] = take_units(class, UNIT_BATCH);
            }
            (units[c] > 0).then(|| units[c] -= 1).is_some()
        })
        .unwrap_or(false);
    let promise = Promise(Some(Promised::Class(ClassId::of(c))));
    if from_local || take_units(class, 1) == 1 {
        return Ok(promise);
    }
    let mut pool = lock(&class.pool);
    // A slot may have been freed into the list while we waited.
    if take_units(class, 1) == 1 {
        return Ok(promise);
    }
    // Carve a slot for this spawn alone (`avail` unchanged).
    std::mem::forget(promise); // it held no unit of `avail`
    let addr = carve(&mut pool, class.stride)?;
    Ok(Promise(Some(Promised::Carved(Slot::new(
        addr,
        class.stride,
        ClassId::of(c),
    )))))
}

impl Promise {
    /// The slot the promised stack lives in; on the hub thread that first
    /// runs it.
    pub(crate) fn bind(mut self) -> Slot {
        let promised = self.0.take().expect("a promise is bound once");
        let c = match &promised {
            Promised::Large(_) => {
                let Promised::Large(slot) = promised else {
                    unreachable!()
                };
                return slot;
            }
            Promised::Class(c) => *c,
            Promised::Carved(slot) => slot.class,
        };
        let class = &classes()[c.index()];
        let slot = |addr| Slot::new(addr, class.stride, c);
        if let Some(addr) = LOCAL.with(|l| l.classes.borrow_mut()[c.index()].pop()) {
            // This hub's own spare is warmer: what was promised goes back.
            give_back(promised);
            return slot(addr);
        }
        match promised {
            Promised::Carved(carved) => carved,
            _ => slot(
                lock(&class.pool)
                    .pop()
                    .expect("green: a promised stack slot is missing from its class"),
            ),
        }
    }
}

/// Takes up to `n` units of a class's `avail`; returns how many.
fn take_units(class: &Class, n: usize) -> usize {
    let mut got = 0;
    let _ = class
        .avail
        .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |a| {
            got = a.min(n);
            (got > 0).then(|| a - got)
        });
    got
}

/// Keeps a unit of a class's `avail` for this thread's next claims, giving
/// a batch back to the class when the thread holds too many.
fn keep_unit(c: ClassId) {
    let class = &classes()[c.index()];
    let kept = LOCAL
        .try_with(|l| {
            let mut units = l.units.borrow_mut();
            units[c.index()] += 1;
            if units[c.index()] > 2 * UNIT_BATCH {
                units[c.index()] -= UNIT_BATCH;
                class.avail.fetch_add(UNIT_BATCH, Ordering::AcqRel);
            }
        })
        .is_ok();
    if !kept {
        class.avail.fetch_add(1, Ordering::AcqRel);
    }
}

/// Returns what an unused promise holds: a unit of `avail`, a carved slot
/// (to this thread's cache, or the shared list, untouched, so cold), or a
/// large stack's mapping.
fn give_back(promised: Promised) {
    match promised {
        Promised::Class(c) => keep_unit(c),
        Promised::Carved(slot) => {
            let c = slot.class.index();
            let cached = LOCAL
                .try_with(|l| {
                    let mut classes_ = l.classes.borrow_mut();
                    (classes_[c].len() < LOCAL_CAP)
                        .then(|| classes_[c].push(slot.addr))
                        .is_some()
                })
                .unwrap_or(false);
            if !cached {
                let class = &classes()[c];
                lock(&class.pool).cold.push(slot.addr);
                class.avail.fetch_add(1, Ordering::AcqRel);
            }
        }
        Promised::Large(slot) => {
            // SAFETY: the thread never ran, so nothing uses its stack.
            unsafe { release(slot) };
        }
    }
}

impl Drop for Promise {
    fn drop(&mut self) {
        // Only a promise that was never bound drops here with content: its
        // thread will not run (its hub's OS thread exited first).
        if let Some(promised) = self.0.take() {
            give_back(promised);
        }
    }
}

/// Carves the next slot of a class, reserving more address space when the
/// current reservation is used up, and installs its guard.
fn carve(pool: &mut Pool, stride: usize) -> io::Result<usize> {
    let (base, slots, next) = match pool.carving {
        Some((base, slots, next)) if next < slots => (base, slots, next),
        _ => {
            let (base, slots) = reserve_slots(pool, stride)?;
            (base, slots, 0)
        }
    };
    let addr = base + next * stride;
    install_guard(addr)?;
    pool.carving = Some((base, slots, next + 1));
    CARVED.fetch_add(1, Ordering::Relaxed);
    Ok(addr)
}

/// Maps a new reservation for a class. Under an address-space limit a big
/// reservation may fail where a small one fits, so the size halves on
/// failure, down to a single slot.
fn reserve_slots(pool: &mut Pool, stride: usize) -> io::Result<(usize, usize)> {
    let mut slots = (pool.next_reservation / stride).max(1);
    loop {
        let len = slots * stride;
        match sys::reserve(len, true) {
            Ok(base) => {
                if !registry::add(base, len, stride, sys::page_size()) {
                    // SAFETY: just mapped, nothing uses it.
                    unsafe { sys::release(base, len) };
                    return Err(too_many_reservations());
                }
                pool.next_reservation = len.saturating_mul(2).min(MAX_RESERVATION);
                return Ok((base, slots));
            }
            Err(e) if slots == 1 => return Err(no_address_space(stride - sys::page_size(), e)),
            Err(_) => slots /= 2,
        }
    }
}

fn claim_large(bytes: usize) -> io::Result<Slot> {
    let page = sys::page_size();
    let stride = bytes.checked_add(page).ok_or_else(super::too_large)?;
    if u32::try_from(stride / page).is_err() {
        // Far beyond any address space: refused as the kernel would.
        let e = io::Error::from_raw_os_error(libc::ENOMEM);
        return Err(no_address_space(bytes, e));
    }
    // Accounted like an OS thread's stack (no MAP_NORESERVE): the kernel's
    // overcommit check refuses what it would refuse for std.
    let addr = sys::reserve(stride, false).map_err(|e| no_address_space(bytes, e))?;
    if !registry::add(addr, stride, stride, page) {
        // SAFETY: just mapped, nothing uses it.
        unsafe { sys::release(addr, stride) };
        return Err(too_many_reservations());
    }
    if let Err(e) = install_guard(addr) {
        registry::remove(addr);
        // SAFETY: just mapped, nothing uses it.
        unsafe { sys::release(addr, stride) };
        return Err(e);
    }
    LARGE_LIVE.fetch_add(1, Ordering::Relaxed);
    Ok(Slot::new(addr, stride, LARGE))
}

/// Installs the guard page at the low end of the slot at `addr`.
fn install_guard(addr: usize) -> io::Result<()> {
    let page = sys::page_size();
    match runtime::stack_guards() {
        // SAFETY: `addr` starts a slot of one of our reservations that no
        // thread uses yet; its first page holds nothing.
        GuardKind::Madvise => unsafe { sys::guard_install(addr, page) },
        GuardKind::Mprotect => {
            if CARVED.load(Ordering::Relaxed) >= runtime::stack_budget() {
                return Err(super::budget_spent());
            }
            // SAFETY: as above.
            unsafe { sys::guard_protect(addr, page) }.map_err(|e| {
                if e.raw_os_error() == Some(libc::ENOMEM) {
                    super::budget_spent()
                } else {
                    e
                }
            })
        }
    }
}

/// A hub's own free slots, per class, and when it last gave them back to
/// the shared lists for trimming. Flushed at thread exit.
struct Local {
    classes: RefCell<[Vec<usize>; CLASSES]>,
    /// Units of each class's `avail` this thread holds for its next claims.
    units: RefCell<[usize; CLASSES]>,
    flushed: Cell<Option<Instant>>,
}

impl Local {
    /// Moves every cached slot to its class's shared `fresh` list, and gives
    /// back every held unit.
    fn flush(&self) {
        let mut classes_ = self.classes.borrow_mut();
        let mut units = self.units.borrow_mut();
        for (c, cached) in classes_.iter_mut().enumerate() {
            let class = &classes()[c];
            let n = cached.len() + std::mem::take(&mut units[c]);
            if !cached.is_empty() {
                lock(&class.pool).push_fresh(cached.drain(..));
            }
            if n > 0 {
                class.avail.fetch_add(n, Ordering::AcqRel);
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.classes.borrow().iter().all(Vec::is_empty)
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        self.flush();
    }
}

thread_local! {
    static LOCAL: Local = Local {
        classes: RefCell::new(std::array::from_fn(|_| Vec::new())),
        units: RefCell::new([0; CLASSES]),
        flushed: Cell::new(None),
    };
}

/// Gives a slot back: to this hub's cache or the shared list, or (a large
/// stack) to the kernel.
///
/// # Safety
///
/// No coroutine runs on the slot or will resume on it, and nothing points
/// into it.
pub(crate) unsafe fn release(slot: Slot) {
    if slot.class == LARGE {
        registry::remove(slot.addr);
        LARGE_LIVE.fetch_sub(1, Ordering::Relaxed);
        // SAFETY: the caller guarantees the stack is unused; a large slot is
        // its own reservation.
        unsafe { sys::release(slot.addr, slot.stride()) };
        return;
    }
    let c = slot.class.index();
    let kept = LOCAL
        .try_with(|l| {
            let mut classes_ = l.classes.borrow_mut();
            let cache = &mut classes_[c];
            (cache.len() < LOCAL_CAP)
                .then(|| cache.push(slot.addr))
                .is_some()
        })
        .unwrap_or(false);
    if !kept {
        let class = &classes()[c];
        lock(&class.pool).push_fresh(std::iter::once(slot.addr));
        class.avail.fetch_add(1, Ordering::AcqRel);
    }
}

/// Nanoseconds since `epoch()` of the last trim tick (0: none yet).
static LAST_TICK: AtomicUsize = AtomicUsize::new(0);

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn nanos(at: Instant) -> usize {
    usize::try_from(at.saturating_duration_since(epoch()).as_nanos()).unwrap_or(usize::MAX)
}

/// When this hub should next call [`trim`]: `None` if no freed slot waits
/// for trimming (then an idle hub needs no wake-up for it).
pub(crate) fn trim_due() -> Option<Instant> {
    let local = LOCAL
        .try_with(|l| (!l.is_empty()).then(|| l.flushed.get()))
        .ok()
        .flatten()
        .map(|last| last.map_or_else(Instant::now, |t| t + TRIM_PERIOD));
    // (`None`: `trim` starts the period now.)
    let shared = (DIRTY.load(Ordering::Relaxed) > 0).then(|| {
        let last = LAST_TICK.load(Ordering::Relaxed);
        epoch() + Duration::from_nanos(last as u64) + TRIM_PERIOD
    });
    match (local, shared) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Gives this hub's cached slots to the shared lists if it kept them for a
/// period, then runs a trim tick (see the module docs) if one is due.
/// `interrupted` is polled between slots: a hub that has work again stops,
/// and the rest waits for the next tick.
pub(crate) fn trim(now: Instant, interrupted: &dyn Fn() -> bool) {
    let _ = LOCAL.try_with(|l| match l.flushed.get() {
        // The period starts with the first look.
        None => l.flushed.set(Some(now)),
        Some(t) if now >= t + TRIM_PERIOD && !l.is_empty() => {
            l.flush();
            l.flushed.set(Some(now));
        }
        Some(_) => {}
    });
    if DIRTY.load(Ordering::Relaxed) == 0 {
        return;
    }
    let last = LAST_TICK.load(Ordering::Relaxed);
    if last != 0 && now < epoch() + Duration::from_nanos(last as u64) + TRIM_PERIOD {
        return;
    }
    if LAST_TICK
        .compare_exchange(last, nanos(now).max(1), Ordering::AcqRel, Ordering::Relaxed)
        .is_err()
    {
        return; // another hub runs this tick
    }
    for class in classes() {
        tick(class, interrupted);
    }
}

/// One trim tick for one class.
fn tick(class: &Class, interrupted: &dyn Fn() -> bool) {
    let page = sys::page_size();
    let usable = class.stride - page;
    let taken: Vec<usize> = {
        let mut pool = lock(&class.pool);
        let taken = std::mem::take(&mut pool.aged);
        let fresh = std::mem::take(&mut pool.fresh);
        pool.aged = fresh;
        taken
    };
    if taken.is_empty() {
        return;
    }
    let warm_cap = runtime::stack_pool_capacity();
    let (mut warm, mut cold, mut untouched) = (Vec::new(), Vec::new(), Vec::new());
    for addr in taken {
        if interrupted() {
            untouched.push(addr);
            continue;
        }
        let bottom = addr + page;
        if WARM.load(Ordering::Relaxed) + warm.len() < warm_cap {
            if usable > KEEP {
                // SAFETY: the slot is free (taken off the aged list, owned by
                // this tick); nothing runs on it.
                unsafe { sys::discard(bottom, usable - KEEP) };
            }
            warm.push(addr);
        } else {
            // SAFETY: as above.
            unsafe { sys::discard(bottom, usable) };
            cold.push(addr);
        }
    }
    DIRTY.fetch_sub(warm.len() + cold.len(), Ordering::Relaxed);
    WARM.fetch_add(warm.len(), Ordering::Relaxed);
    let mut pool = lock(&class.pool);
    pool.warm.extend(warm);
    pool.cold.extend(cold);
    // Interrupted: these stay aged and are trimmed at the next tick.
    pool.aged.extend(untouched);
}

fn no_address_space(usable: usize, e: io::Error) -> io::Error {
    // std reports a stack it cannot map as pthread_create's EAGAIN, which is
    // `WouldBlock`; keep the kind and say what happened.
    io::Error::new(
        io::ErrorKind::WouldBlock,
        format!(
            "cannot map a green-thread stack of {}: {e}",
            super::human(usable)
        ),
    )
}

fn too_many_reservations() -> io::Error {
    io::Error::new(
        io::ErrorKind::WouldBlock,
        "cannot map a green-thread stack: too many stack reservations \
         (each stack bigger than 64 MiB takes one)",
    )
}
