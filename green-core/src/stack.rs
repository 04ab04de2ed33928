//! Green-thread stacks: creation through `generator`, the per-hub pool of
//! finished stacks, and the process-wide budget derived from the kernel's map
//! limit.
//!
//! Two counters, process-wide:
//!
//! * `LIVE` — green threads spawned and not finished. `Builder::spawn`
//!   reserves one unit before it hands the thread to a hub, so running out is
//!   an `io::Error` at the spawn call, never a panic from `mmap` deep inside a
//!   hub. The budget bounds this counter.
//! * `POOLED` — finished stacks kept for reuse. A stack is pooled only while
//!   `LIVE + POOLED` stays under the budget and `POOLED` under
//!   `runtime::stack_pool_capacity()` (process-wide), so the mappings in use
//!   exceed the budget by at most the pooled stacks a hub could not reuse;
//!   the budget's headroom (`runtime`'s `MAP_HEADROOM`) covers the default
//!   1,024.

use std::any::Any;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};

use generator::{Generator, Gn};

use crate::runtime;

/// A green thread's coroutine: no input, no output, body runs to completion.
pub(crate) type Gen = Generator<'static, (), ()>;

/// The body a green thread runs.
pub(crate) type Body = Box<dyn FnOnce() + Send + 'static>;

/// Green threads spawned and not yet finished, process-wide.
static LIVE: AtomicUsize = AtomicUsize::new(0);
/// Finished stacks held in the hubs' pools, process-wide.
static POOLED: AtomicUsize = AtomicUsize::new(0);

/// Green-thread stacks that exist or are reserved: live threads plus pooled
/// stacks.
pub(crate) fn live() -> usize {
    LIVE.load(Ordering::Relaxed) + POOLED.load(Ordering::Relaxed)
}

/// Green threads spawned and not finished.
pub(crate) fn threads() -> usize {
    LIVE.load(Ordering::Relaxed)
}

/// Reserves room for one more green thread, or explains why there is none.
pub(crate) fn reserve() -> io::Result<()> {
    if try_reserve(runtime::stack_budget()) {
        return Ok(());
    }
    // The limit may have been raised since the budget was derived.
    if try_reserve(runtime::refresh_stack_budget()) {
        return Ok(());
    }
    Err(io::Error::new(
        io::ErrorKind::OutOfMemory,
        format!(
            "cannot spawn a green thread: {live} green threads are alive and the stack \
             budget is {budget}. Each green-thread stack costs {maps} kernel memory \
             mappings and vm.max_map_count is {max}. Raise it (for example `sysctl -w \
             vm.max_map_count={suggest}`), set GREEN_MAX_STACKS, or wait for green \
             threads to finish",
            live = threads(),
            budget = runtime::stack_budget(),
            maps = runtime::MAPS_PER_STACK,
            max = runtime::max_map_count(),
            suggest = (runtime::max_map_count() * 4).max(262_144),
        ),
    ))
}

fn try_reserve(budget: usize) -> bool {
    LIVE.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
        (n < budget).then_some(n + 1)
    })
    .is_ok()
}

/// A green thread finished (or could not start): its reservation ends.
pub(crate) fn finished() {
    LIVE.fetch_sub(1, Ordering::Relaxed);
}

/// Words, as `generator` counts stack sizes; always even (an odd count would
/// make generator touch every page of the stack).
fn words(bytes: usize) -> usize {
    (bytes / std::mem::size_of::<usize>()) & !1
}

/// Makes a coroutine running `body` on a stack of `stack_size` bytes, reusing
/// a pooled stack of that size when there is one.
///
/// A failure to map a stack comes back as the panic message; `body` is then
/// dropped without running.
pub(crate) fn create(pool: &mut Vec<Gen>, stack_size: usize, body: Body) -> Result<Gen, String> {
    if stack_size == runtime::default_stack_size() {
        if let Some(mut gen) = pool.pop() {
            POOLED.fetch_sub(1, Ordering::Relaxed);
            gen.init_code(body);
            return Ok(gen);
        }
    }
    let made = crate::panic_hook::silenced(|| {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            Gn::<()>::new_opt(words(stack_size), body)
        }))
    });
    made.map_err(|payload| {
        format!(
            "failed to create a green thread stack of {stack_size} bytes: {}",
            payload_str(&*payload)
        )
    })
}

/// Keeps a finished coroutine for reuse, or frees its stack (see the module
/// docs for when).
pub(crate) fn recycle(pool: &mut Vec<Gen>, gen: Gen, stack_size: usize) {
    let pooled = POOLED.load(Ordering::Relaxed);
    let keep = stack_size == runtime::default_stack_size()
        && pooled < runtime::stack_pool_capacity()
        && threads() + pooled < runtime::stack_budget();
    if keep {
        POOLED.fetch_add(1, Ordering::Relaxed);
        pool.push(gen);
    }
}

/// Frees every pooled stack.
pub(crate) fn drain_pool(pool: &mut Vec<Gen>) {
    POOLED.fetch_sub(pool.len(), Ordering::Relaxed);
    pool.clear();
}

/// Whether the coroutine reported a stack overflow (generator's guard-page
/// handler yields out of the faulting frames with `StackErr`).
pub(crate) fn overflowed(gen: &mut Gen) -> bool {
    match gen.get_panic_data() {
        Some(err) => matches!(
            err.downcast_ref::<generator::Error>(),
            Some(generator::Error::StackErr)
        ),
        None => false,
    }
}

/// A panic payload as text, for messages.
pub(crate) fn payload_str(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "Box<dyn Any>"
    }
}

/// Whether a panic payload is one of generator's own control-flow panics
/// (`Cancel`, `Done`), which are never shown to the user.
pub(crate) fn is_control_payload(payload: &(dyn Any + Send)) -> bool {
    matches!(
        payload.downcast_ref::<generator::Error>(),
        Some(generator::Error::Cancel | generator::Error::Done)
    )
}
