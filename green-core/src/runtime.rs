//! Runtime settings: how many worker hubs, how big a green thread's stack is,
//! and how many stacks the kernel's map budget allows.
//!
//! Every setting has an environment variable, read once on first use, and a
//! function that overrides it. Settings that shape the workers
//! ([`set_workers`]) must be made before the first green thread is spawned.
//!
//! | setting | environment | default |
//! |---|---|---|
//! | worker hubs | `GREEN_WORKERS` | `std::thread::available_parallelism()` |
//! | default stack size | `GREEN_STACK_SIZE` (bytes; `k`/`m` suffixes) | 64 KiB |
//! | finished stacks kept for reuse (process-wide) | `GREEN_STACK_POOL` | 1024 |
//! | live stack budget | `GREEN_MAX_STACKS` | derived from `vm.max_map_count` |
//! | blocking-pool threads | `GREEN_BLOCKING_THREADS` | 512 |

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

/// Default stack size of a green thread, in bytes (64 KiB).
///
/// A suspended green thread costs about 8 KiB of resident memory whatever its
/// stack size; the size only reserves address space. 64 KiB leaves room for a
/// panic with `RUST_BACKTRACE=1`, which needs more than 16 KiB.
pub const DEFAULT_STACK_SIZE: usize = 64 * 1024;

/// Smallest stack a green thread gets, in bytes (32 KiB); smaller requests
/// are rounded up, because printing a panic's backtrace needs this much.
pub const MIN_STACK_SIZE: usize = 32 * 1024;

/// Kernel mappings one green-thread stack costs (the stack and its guard).
pub const MAPS_PER_STACK: usize = 2;

/// Mappings left for everything else in the process (heap arenas, OS thread
/// stacks, the blocking pool, shared libraries) when deriving the budget.
const MAP_HEADROOM: usize = 4096;

const UNSET: usize = usize::MAX;

static WORKERS: AtomicUsize = AtomicUsize::new(UNSET);
static STACK_SIZE: AtomicUsize = AtomicUsize::new(UNSET);
static POOL_CAP: AtomicUsize = AtomicUsize::new(UNSET);
static BUDGET: AtomicUsize = AtomicUsize::new(UNSET);
/// Set when the budget was fixed by `GREEN_MAX_STACKS` or `set_stack_budget`.
static BUDGET_FIXED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
static BLOCKING: AtomicUsize = AtomicUsize::new(UNSET);

/// Set once the worker hubs exist; their number can no longer change.
pub(crate) static WORKERS_STARTED: OnceLock<usize> = OnceLock::new();

fn env_usize(name: &str) -> Option<usize> {
    let raw = std::env::var(name).ok()?;
    parse_size(&raw)
}

/// Parses `123`, `64k`, `1m` (case-insensitive, binary multiples).
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
            let value = init();
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
        env_usize("GREEN_WORKERS").unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(usize::from)
                .unwrap_or(1)
        })
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
    WORKERS.store(n, Ordering::Relaxed);
    Ok(())
}

/// Stack size, in bytes, of a green thread spawned without
/// `Builder::stack_size`.
pub fn default_stack_size() -> usize {
    resolve(&STACK_SIZE, || {
        env_usize("GREEN_STACK_SIZE")
            .map(round_stack_size)
            .unwrap_or(DEFAULT_STACK_SIZE)
    })
}

/// Sets the default stack size in bytes (overrides `GREEN_STACK_SIZE`);
/// rounded up to whole pages and to at least [`MIN_STACK_SIZE`].
pub fn set_default_stack_size(bytes: usize) {
    STACK_SIZE.store(round_stack_size(bytes), Ordering::Relaxed);
}

/// Rounds a requested stack size up to whole 4 KiB pages, at least
/// [`MIN_STACK_SIZE`].
pub(crate) fn round_stack_size(bytes: usize) -> usize {
    const PAGE: usize = 4096;
    let bytes = bytes.max(MIN_STACK_SIZE);
    bytes
        .checked_add(PAGE - 1)
        .map(|b| b & !(PAGE - 1))
        .unwrap_or(usize::MAX & !(PAGE - 1))
}

/// How many finished stacks the hubs keep for reuse, in all.
///
/// A pooled stack is reused in tens of nanoseconds where mapping a new one
/// costs a few microseconds (two `mmap`-family calls and page faults), but
/// it keeps the pages it touched resident (about 8 KiB) and its two kernel
/// mappings. Pooled stacks beyond 1,024 come out of the map budget's
/// headroom; keep the capacity under the budget.
pub fn stack_pool_capacity() -> usize {
    resolve(&POOL_CAP, || env_usize("GREEN_STACK_POOL").unwrap_or(1024))
}

/// Sets how many finished stacks the hubs keep in all (overrides
/// `GREEN_STACK_POOL`); see [`stack_pool_capacity`].
pub fn set_stack_pool_capacity(n: usize) {
    POOL_CAP.store(n, Ordering::Relaxed);
}

/// Most green threads (spawned and not finished) that may exist at once in
/// this process; finished stacks kept for reuse (at most 1,024 in all) come
/// out of the headroom, not the budget.
///
/// Each stack costs [`MAPS_PER_STACK`] kernel mappings and the kernel caps a
/// process at `vm.max_map_count` (65530 by default), so the default budget is
/// `(vm.max_map_count − mappings in use − 4096 headroom) / 2` — about 30,000
/// on a default kernel. Raise the limit (`sysctl -w vm.max_map_count=2200000`
/// for a million green threads) before the first spawn, or call
/// [`refresh_stack_budget`] after raising it.
pub fn stack_budget() -> usize {
    resolve(&BUDGET, || match env_usize("GREEN_MAX_STACKS") {
        Some(n) => {
            BUDGET_FIXED.store(true, Ordering::Relaxed);
            n
        }
        None => derived_budget(),
    })
}

/// Sets the stack budget explicitly (overrides `GREEN_MAX_STACKS` and the
/// derived value).
pub fn set_stack_budget(n: usize) {
    BUDGET_FIXED.store(true, Ordering::Relaxed);
    BUDGET.store(n, Ordering::Relaxed);
}

/// Derives the budget again from the current `vm.max_map_count`, unless
/// `GREEN_MAX_STACKS` or [`set_stack_budget`] fixed it. Returns the budget.
pub fn refresh_stack_budget() -> usize {
    let budget = stack_budget();
    if BUDGET_FIXED.load(Ordering::Relaxed) {
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
    let in_use = std::fs::read_to_string("/proc/self/maps")
        .map(|s| s.lines().count())
        .unwrap_or(0);
    // Stacks this process already holds are part of `in_use` but also part of
    // the budget: add them back.
    let ours = crate::stack::live() * MAPS_PER_STACK;
    max_map_count()
        .saturating_sub(in_use.saturating_sub(ours))
        .saturating_sub(MAP_HEADROOM)
        / MAPS_PER_STACK
}

/// Green-thread stacks in this process right now: green threads spawned and
/// not finished (each has or will get a stack) plus finished stacks pooled
/// for reuse.
pub fn live_stacks() -> usize {
    crate::stack::live()
}

/// Green threads spawned and not finished, process-wide (what
/// [`stack_budget`] bounds).
pub fn live_threads() -> usize {
    crate::stack::threads()
}

/// Most OS threads the blocking pool behind [`crate::unblock`] runs at once.
pub fn blocking_threads() -> usize {
    resolve(&BLOCKING, || {
        env_usize("GREEN_BLOCKING_THREADS")
            .filter(|&n| n > 0)
            .unwrap_or(512)
    })
}

/// Sets the blocking pool's thread limit (overrides `GREEN_BLOCKING_THREADS`;
/// at least 1).
pub fn set_blocking_threads(n: usize) {
    BLOCKING.store(n.max(1), Ordering::Relaxed);
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
    fn stack_sizes_round_up_to_pages_and_minimum() {
        assert_eq!(round_stack_size(1), MIN_STACK_SIZE);
        assert_eq!(round_stack_size(MIN_STACK_SIZE + 1), MIN_STACK_SIZE + 4096);
        assert_eq!(round_stack_size(usize::MAX) % 4096, 0);
    }
}
