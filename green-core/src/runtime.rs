//! Runtime settings: how many worker hubs, how big a green thread's stack is,
//! and how many green threads may be alive at once.
//!
//! Every setting has an environment variable, read once on first use, and a
//! function that overrides it. Settings that shape the workers
//! ([`set_workers`]) must be made before the first green thread is spawned.
//! None of this module exists in std: it is green's extension API.
//!
//! | setting | environment | default |
//! |---|---|---|
//! | worker hubs | `GREEN_WORKERS` | `std::thread::available_parallelism()` |
//! | default stack size | `GREEN_STACK_SIZE` (bytes; `k`/`m`/`g` suffixes) | 512 KiB |
//! | free stacks kept warm for reuse (process-wide) | `GREEN_STACK_POOL` | 1024 |
//! | most live green threads | `GREEN_MAX_STACKS` | unlimited (derived from `vm.max_map_count` where guard pages cost mappings) |
//! | how guard pages are made | `GREEN_STACK_GUARD` (`madvise` or `mprotect`) | `madvise` where the kernel has it |
//! | blocking-pool threads | `GREEN_BLOCKING_THREADS` | 512 |
//! | watchdog threshold | `GREEN_BLOCKED_MS` (0 = off) | 100 ms |
//! | dump signal | `GREEN_DUMP_SIGNAL` (`QUIT`, `USR1`, ...) | none |
//! | worker hubs' scheduler slice | `GREEN_HUB_SLICE_US` (µs; 0 = the kernel's) | 100 µs |
//!
//! A variable set to something that does not parse is reported once on
//! stderr (naming the variable, the value and the default used) and
//! ignored.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::OnceLock;

/// Default stack size of a green thread, in bytes (512 KiB).
///
/// This is address space, not memory: a parked green thread costs the pages
/// it touched (4 KiB for one that never went deep), whatever its stack size.
/// The size comes from measuring what ordinary crates use (the README's
/// "Stack needs of heavy crates", `cargo run --example stack_needs`):
/// a 4 MiB `flate2` gzip round trip needs 68 KiB in a release build and
/// 300 KiB in a debug build (tests run in debug), serde_json at its
/// recursion limit 204 KiB, a regex compile 140 KiB. 512 KiB covers all of
/// them with room for a panic backtrace on top. A million such stacks take
/// half a terabyte of address space (of the 128 TiB a process has) and about
/// 1 KiB of page tables each (`VmPTE`, on top of resident memory).
pub const DEFAULT_STACK_SIZE: usize = 512 * 1024;

/// Smallest stack a green thread gets, in bytes (32 KiB); smaller requests
/// are rounded up, because printing a panic's backtrace needs this much.
pub const MIN_STACK_SIZE: usize = 32 * 1024;

/// How green-thread guard pages are made on this machine.
///
/// An extension with no counterpart in std.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuardKind {
    /// `madvise(MADV_GUARD_INSTALL)` (Linux 6.13+): a guard page costs no
    /// kernel mapping, so the number of green threads is bounded only by
    /// memory and address space.
    Madvise,
    /// `mprotect(PROT_NONE)`: each stack costs two kernel mappings, so the
    /// kernel's `vm.max_map_count` bounds the green threads alive at once
    /// (see [`stack_budget`]).
    Mprotect,
}

/// Mappings left for everything else in the process (heap arenas, OS thread
/// stacks, the blocking pool, shared libraries) when deriving the budget.
const MAP_HEADROOM: usize = 4096;

/// Marks a setting not resolved yet. Settings never hold it: "unlimited"
/// is stored as [`UNLIMITED`].
const UNSET: usize = usize::MAX;

/// What [`stack_budget`] returns when nothing limits green threads.
const UNLIMITED: usize = usize::MAX - 1;

static WORKERS: AtomicUsize = AtomicUsize::new(UNSET);
static STACK_SIZE: AtomicUsize = AtomicUsize::new(UNSET);
static POOL_CAP: AtomicUsize = AtomicUsize::new(UNSET);
static BUDGET: AtomicUsize = AtomicUsize::new(UNSET);
/// Set when the budget was fixed by `GREEN_MAX_STACKS` or `set_stack_budget`.
static BUDGET_FIXED: AtomicBool = AtomicBool::new(false);
static BLOCKING: AtomicUsize = AtomicUsize::new(UNSET);

/// Set once the worker hubs exist; their number can no longer change.
pub(crate) static WORKERS_STARTED: OnceLock<usize> = OnceLock::new();

/// Reads environment variable `name` with `parse`. A value that does not
/// parse is reported once, on stderr, naming the variable, the value, what
/// was expected and the default used instead; the setting then takes its
/// default. (Each setting is read once, so each bad value is reported once.)
fn env_setting<T>(
    name: &str,
    expected: &str,
    default: &dyn std::fmt::Display,
    parse: impl FnOnce(&str) -> Option<T>,
) -> Option<T> {
    let raw = std::env::var_os(name)?;
    let parsed = raw.to_str().and_then(parse);
    if parsed.is_none() {
        eprintln!(
            "green: ignoring {name}={:?}: expected {expected}; using the default, {default}",
            raw.to_string_lossy()
        );
    }
    parsed
}

/// A count (`GREEN_WORKERS=4`), at least `min`.
fn env_count(name: &str, min: usize, default: &dyn std::fmt::Display) -> Option<usize> {
    let expected = if min == 0 {
        "a whole number".to_string()
    } else {
        format!("a whole number of at least {min}")
    };
    env_setting(name, &expected, default, |raw| {
        raw.trim().parse::<usize>().ok().filter(|&n| n >= min)
    })
}

/// Parses `123`, `64k`, `1m`, `2g` (case-insensitive, binary multiples).
fn parse_size(raw: &str) -> Option<usize> {
    let raw = raw.trim().to_ascii_lowercase();
    let (digits, mult) = match raw.strip_suffix(['k', 'm', 'g']) {
        Some(d) if raw.ends_with('k') => (d, 1 << 10),
        Some(d) if raw.ends_with('m') => (d, 1 << 20),
        Some(d) => (d, 1 << 30),
        None => (raw.as_str(), 1),
    };
    digits.trim().parse::<usize>().ok()?.checked_mul(mult)
}

/// Reads `cell`, resolving it once from `init` when unset.
fn resolve(cell: &AtomicUsize, init: impl FnOnce() -> usize) -> usize {
    match cell.load(Ordering::Relaxed) {
        UNSET => {
            let value = init().min(UNLIMITED);
            // A concurrent `set_*` wins over the default.
            match cell.compare_exchange(UNSET, value, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => value,
                Err(set) => set,
            }
        }
        value => value,
    }
}

/// Number of worker hubs `thread::spawn` places green threads on.
///
/// `0` is eventlet mode: green threads run on the hub of the OS thread that
/// spawned them, whenever that thread blocks in a green call.
pub fn workers() -> usize {
    if let Some(&n) = WORKERS_STARTED.get() {
        return n;
    }
    resolve(&WORKERS, || {
        let parallelism = std::thread::available_parallelism()
            .map(usize::from)
            .unwrap_or(1);
        let default = format!("{parallelism} (the available parallelism)");
        env_count("GREEN_WORKERS", 0, &default).unwrap_or(parallelism)
    })
}

/// Sets the number of worker hubs (overrides `GREEN_WORKERS`).
///
/// # Errors
///
/// `InvalidInput` once green threads have been spawned onto the workers
/// (their number is fixed from then on), unless `n` equals it.
pub fn set_workers(n: usize) -> io::Result<()> {
    if let Some(&started) = WORKERS_STARTED.get() {
        if started != n {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("green worker hubs already started with {started} workers"),
            ));
        }
    }
    WORKERS.store(n.min(UNLIMITED), Ordering::Relaxed);
    Ok(())
}

/// Stack size, in bytes, of a green thread spawned without
/// `Builder::stack_size`: `GREEN_STACK_SIZE`, [`set_default_stack_size`] or
/// [`DEFAULT_STACK_SIZE`].
///
/// A value that cannot be had (say `GREEN_STACK_SIZE=1000g` on a machine
/// without that much memory) is kept as given: each spawn then fails with
/// the error std gives for such a stack.
pub fn default_stack_size() -> usize {
    resolve(&STACK_SIZE, || {
        env_setting(
            "GREEN_STACK_SIZE",
            "a size in bytes, optionally with a k, m or g suffix (512k)",
            &"512k",
            parse_size,
        )
        .unwrap_or(DEFAULT_STACK_SIZE)
    })
}

/// Sets the default stack size in bytes (overrides `GREEN_STACK_SIZE`).
/// Like [`crate::thread::Builder::stack_size`], it is rounded up to whole
/// pages, at least [`MIN_STACK_SIZE`], when a thread is spawned.
pub fn set_default_stack_size(bytes: usize) {
    STACK_SIZE.store(bytes.min(UNLIMITED), Ordering::Relaxed);
}

/// The usable stack a green thread asking for `bytes` gets: rounded up to
/// whole pages, at least [`MIN_STACK_SIZE`], then up to a power of two for
/// stacks of up to 64 MiB (larger ones are rounded to pages only).
///
/// # Errors
///
/// `InvalidInput` when the rounded size cannot be represented.
pub fn stack_size_for(bytes: usize) -> io::Result<usize> {
    crate::stack::usable_for(bytes)
}

/// How many free stacks are kept warm for reuse, in all.
///
/// A finished green thread's stack is reused by the next spawn. Stacks not
/// not reused for a second or two are trimmed while hubs are idle: up to this many keep
/// their top 32 KiB resident (so the next thread starts without page
/// faults), the rest are returned to the kernel entirely and cost only
/// address space.
pub fn stack_pool_capacity() -> usize {
    resolve(&POOL_CAP, || {
        env_count("GREEN_STACK_POOL", 0, &1024).unwrap_or(1024)
    })
}

/// Sets how many free stacks are kept warm (overrides `GREEN_STACK_POOL`);
/// see [`stack_pool_capacity`].
pub fn set_stack_pool_capacity(n: usize) {
    POOL_CAP.store(n.min(UNLIMITED), Ordering::Relaxed);
}

/// How green-thread guard pages are made here: [`GuardKind::Madvise`] where
/// the kernel has `MADV_GUARD_INSTALL` (Linux 6.13+), else
/// [`GuardKind::Mprotect`]. `GREEN_STACK_GUARD=mprotect` forces the
/// fallback (to test it on a new kernel). Settled on first use.
pub fn stack_guards() -> GuardKind {
    static KIND: OnceLock<GuardKind> = OnceLock::new();
    *KIND.get_or_init(|| {
        let forced = env_setting(
            "GREEN_STACK_GUARD",
            "madvise or mprotect",
            &"what the kernel supports",
            |raw| match raw.trim() {
                "mprotect" => Some(Some(GuardKind::Mprotect)),
                "madvise" => Some(None),
                _ => None,
            },
        );
        match forced.flatten() {
            Some(kind) => kind,
            None => crate::stack::probe_guards(),
        }
    })
}

/// Kernel mappings each green-thread stack costs: 0 with
/// [`GuardKind::Madvise`] guards (the slab reservations are a handful of
/// mappings in all), 2 with [`GuardKind::Mprotect`].
pub fn maps_per_stack() -> usize {
    match stack_guards() {
        GuardKind::Madvise => 0,
        GuardKind::Mprotect => 2,
    }
}

/// Most green threads (spawned and not finished) that may exist at once in
/// this process.
///
/// Unlimited (`usize::MAX - 1`) by default where guard pages cost no mapping.
/// With [`GuardKind::Mprotect`] guards each stack costs two kernel mappings
/// and the kernel caps a process at `vm.max_map_count` (65530 by default),
/// so the default is `(vm.max_map_count − mappings in use − 4096 headroom) /
/// 2`, about 30,000; raise the limit before the first spawn, or call
/// [`refresh_stack_budget`] after raising it. `GREEN_MAX_STACKS` or
/// [`set_stack_budget`] fix it in either case.
pub fn stack_budget() -> usize {
    resolve(&BUDGET, || {
        match env_count("GREEN_MAX_STACKS", 1, &"no limit") {
            Some(n) => {
                BUDGET_FIXED.store(true, Ordering::Relaxed);
                n.min(UNLIMITED)
            }
            None => derived_budget(),
        }
    })
}

/// Whether no budget limits green threads (the default where guard pages
/// cost no mappings).
pub(crate) fn budget_is_unlimited() -> bool {
    stack_budget() == UNLIMITED
}

/// Sets the budget explicitly (overrides `GREEN_MAX_STACKS` and the
/// derived value). Set it before spawning: green threads spawned while no
/// budget was in force are not counted against one set later.
pub fn set_stack_budget(n: usize) {
    BUDGET_FIXED.store(true, Ordering::Relaxed);
    BUDGET.store(n.min(UNLIMITED), Ordering::Relaxed);
}

/// Derives the budget again (from the current `vm.max_map_count`, where
/// that matters), unless `GREEN_MAX_STACKS` or [`set_stack_budget`] fixed
/// it. Returns the budget.
pub fn refresh_stack_budget() -> usize {
    let budget = stack_budget();
    if BUDGET_FIXED.load(Ordering::Relaxed) || stack_guards() == GuardKind::Madvise {
        return budget;
    }
    let derived = derived_budget();
    BUDGET.store(derived, Ordering::Relaxed);
    derived
}

/// The kernel's `vm.max_map_count`, or its default when unreadable.
pub fn max_map_count() -> usize {
    std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(65530)
}

fn derived_budget() -> usize {
    if stack_guards() == GuardKind::Madvise {
        return UNLIMITED;
    }
    let in_use = std::fs::read_to_string("/proc/self/maps")
        .map(|s| s.lines().count())
        .unwrap_or(0);
    // Guards this process already made are part of `in_use` but also part
    // of the budget: add them back.
    let ours = crate::stack::carved() * 2;
    max_map_count()
        .saturating_sub(in_use.saturating_sub(ours))
        .saturating_sub(MAP_HEADROOM)
        / 2
}

/// On a green thread, how many bytes of its stack are resident right now;
/// `None` elsewhere.
///
/// On a stack no earlier green thread used, this is how deep the thread has
/// gone (its high-water mark, to the page). A reused stack may still hold
/// pages an earlier thread touched, until they are trimmed; to measure a
/// workload, run it on a green thread with a stack size nothing else uses.
/// One `mincore` call. An extension with no counterpart in std.
pub fn stack_resident() -> Option<usize> {
    let marker = 0u8;
    if !crate::park::in_green_thread() {
        return None;
    }
    crate::stack::resident_around(std::hint::black_box(&marker) as *const u8 as usize)
}

static WATCHDOG_MS: AtomicUsize = AtomicUsize::new(UNSET);

/// How long a green thread may hold its hub without switching before the
/// watchdog reports it on stderr (one line per episode, naming the thread,
/// its spawn site, its hub and how long it has run): `GREEN_BLOCKED_MS`
/// (milliseconds) or [`set_watchdog_threshold`], 100 ms by default; zero
/// turns reporting off. Stuck worker hubs get no new work either way.
///
/// An extension with no counterpart in std.
pub fn watchdog_threshold() -> std::time::Duration {
    let ms = resolve(&WATCHDOG_MS, || {
        env_count("GREEN_BLOCKED_MS", 0, &"100 ms").unwrap_or(100)
    });
    std::time::Duration::from_millis(ms as u64)
}

/// Sets [`watchdog_threshold`] (overrides `GREEN_BLOCKED_MS`); zero turns
/// the watchdog's reports off. Takes effect at the monitor's next tick.
pub fn set_watchdog_threshold(threshold: std::time::Duration) {
    let ms = usize::try_from(threshold.as_millis()).unwrap_or(UNLIMITED);
    WATCHDOG_MS.store(ms.min(UNLIMITED), Ordering::Relaxed);
}

static HUB_SLICE_US: AtomicUsize = AtomicUsize::new(UNSET);

/// The time slice worker hubs ask the kernel's scheduler for:
/// `GREEN_HUB_SLICE_US` (microseconds) or [`set_hub_slice`], 100 µs by
/// default; `None` (the value 0) leaves the kernel's default.
///
/// A hub runs many green threads, so while another process holds its core
/// all of them wait. On Linux 6.12 and later a thread may ask for a shorter
/// slice (the kernel keeps it between 100 µs and 100 ms); it then gets the
/// CPU back sooner after it wakes, in shorter turns, with the same share of
/// the CPU over time. Under `wrk -c100` on the same 2 cores this took the
/// HTTP server's p99 from 1.3–8 ms to 0.7–1.9 ms in 13 of 14 rounds (see
/// ARCHITECTURE.md). Only a hub with the ordinary policy (`SCHED_OTHER`)
/// and a nice value of 0 or more is changed, and threads and processes it
/// starts get the default slice back (`SCHED_RESET_ON_FORK`). Older kernels
/// ignore the request.
///
/// Only worker hubs that wait on fds ask, when they first do: hubs that
/// only pass messages gain nothing from shorter turns but more switches
/// (see `Hub::serves_fds`). Read then. An extension with no counterpart in
/// std.
pub fn hub_slice() -> Option<std::time::Duration> {
    let us = resolve(&HUB_SLICE_US, || {
        env_count("GREEN_HUB_SLICE_US", 0, &"100 µs").unwrap_or(100)
    });
    (us > 0).then(|| std::time::Duration::from_micros(us as u64))
}

/// Sets [`hub_slice`] (overrides `GREEN_HUB_SLICE_US`); `None` leaves the
/// kernel's default. Worker hubs that already asked keep the slice they
/// asked for.
pub fn set_hub_slice(slice: Option<std::time::Duration>) {
    let us = slice.map_or(0, |d| {
        usize::try_from(d.as_micros()).unwrap_or(UNLIMITED).max(1)
    });
    HUB_SLICE_US.store(us.min(UNLIMITED), Ordering::Relaxed);
}

/// The signal that prints a green-thread dump to stderr
/// (`GREEN_DUMP_SIGNAL=QUIT`, `USR1`, a number, ...), if any. Off by default,
/// so signals keep their usual meaning.
pub(crate) fn dump_signal() -> Option<i32> {
    env_setting(
        "GREEN_DUMP_SIGNAL",
        "a signal name such as QUIT or USR1, or its number",
        &"no dump signal",
        crate::sys::signal_number,
    )
}

/// Green-thread stacks in this process right now: claimed by green threads
/// spawned and not finished, plus free stacks kept for reuse.
pub fn live_stacks() -> usize {
    crate::stack::stacks()
}

/// Green threads spawned and not finished, process-wide (what
/// [`stack_budget`] bounds).
pub fn live_threads() -> usize {
    crate::stack::threads()
}

/// Most OS threads the blocking pool behind [`crate::unblock`] runs at once.
pub fn blocking_threads() -> usize {
    resolve(&BLOCKING, || {
        env_count("GREEN_BLOCKING_THREADS", 1, &512).unwrap_or(512)
    })
}

/// Sets the blocking pool's thread limit (overrides `GREEN_BLOCKING_THREADS`;
/// at least 1).
pub fn set_blocking_threads(n: usize) {
    BLOCKING.store(n.clamp(1, UNLIMITED), Ordering::Relaxed);
}

/// Spawns a green thread on the calling thread's own hub instead of a worker
/// hub: inside a green thread, next to it; on a plain OS thread, on that
/// thread's hub, where it runs whenever the thread blocks in a green call
/// (eventlet's model). Not in std; useful to keep related green threads
/// together and for tests that show one green thread does not block another.
///
/// # Panics
///
/// As [`crate::thread::spawn`].
#[track_caller]
pub fn spawn_local<F, T>(f: F) -> crate::thread::JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    crate::thread::spawn_local(f)
}

/// An identifier of the calling thread's hub (stable for the life of the OS
/// thread; a green thread always reports the hub it lives on).
pub fn hub_id() -> usize {
    crate::hub::with(|h| h.shared.id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_suffixes() {
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size("64k"), Some(64 << 10));
        assert_eq!(parse_size("2M"), Some(2 << 20));
        assert_eq!(parse_size("x"), None);
    }

    #[test]
    fn stack_sizes_round_up_to_a_class() {
        assert_eq!(stack_size_for(1).unwrap(), MIN_STACK_SIZE);
        assert_eq!(
            stack_size_for(MIN_STACK_SIZE + 1).unwrap(),
            2 * MIN_STACK_SIZE
        );
        assert_eq!(
            stack_size_for(DEFAULT_STACK_SIZE).unwrap(),
            DEFAULT_STACK_SIZE
        );
        assert_eq!(stack_size_for(100 << 20).unwrap(), 100 << 20);
        assert_eq!(
            stack_size_for(usize::MAX).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
    }
}
