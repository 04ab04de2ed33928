//! Green-thread stacks: creation through `generator`, the per-hub pool of
//! finished stacks, and the process-wide budget derived from the kernel's map
//! limit.
//!
//! Every stack that exists (running, parked or pooled) is counted in `LIVE`.
//! `thread::Builder::spawn` reserves one unit before it hands a green thread
//! to a hub, so running out is an `io::Error` at the spawn call, never a
//! panic from `mmap` deep inside a hub. A hub that reuses a pooled stack
//! gives the reservation back, because the pooled stack was already counted.

use std::any::Any;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};

use generator::{Generator, Gn};

use crate::runtime;

/// A green thread's coroutine: no input, no output, body runs to completion.
pub(crate) type Gen = Generator<'static, (), ()>;

/// The body a green thread runs.
pub(crate) type Body = Box<dyn FnOnce() + Send + 'static>;

/// Stacks in existence (running, parked or pooled), process-wide.
static LIVE: AtomicUsize = AtomicUsize::new(0);

pub(crate) fn live() -> usize {
    LIVE.load(Ordering::Relaxed)
}

/// Reserves room for one more stack, or explains why there is none.
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
            "cannot spawn a green thread: {live} green-thread stacks already exist and \
             the budget is {budget}. Each stack costs {maps} kernel memory mappings and \
             vm.max_map_count is {max}. Raise it (for example `sysctl -w \
             vm.max_map_count={suggest}`), set GREEN_MAX_STACKS, or wait for green \
             threads to finish",
            live = live(),
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

/// Gives one reserved or existing stack back to the budget.
pub(crate) fn release() {
    LIVE.fetch_sub(1, Ordering::Relaxed);
}

/// Words, as `generator` counts stack sizes; always even (an odd count would
/// make generator touch every page of the stack).
fn words(bytes: usize) -> usize {
    (bytes / std::mem::size_of::<usize>()) & !1
}

/// Makes a coroutine running `body` on a stack of `stack_size` bytes, reusing
/// a pooled stack of that size when there is one. The caller holds one
/// reservation, which this consumes (a reused stack hands it back).
///
/// A failure to map a stack comes back as the panic message; `body` is then
/// dropped without running.
pub(crate) fn create(pool: &mut Vec<Gen>, stack_size: usize, body: Body) -> Result<Gen, String> {
    if stack_size == runtime::default_stack_size() {
        if let Some(mut gen) = pool.pop() {
            release();
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
        release();
        format!(
            "failed to create a green thread stack of {stack_size} bytes: {}",
            payload_str(&*payload)
        )
    })
}

/// Keeps a finished coroutine for reuse, or frees its stack.
pub(crate) fn recycle(pool: &mut Vec<Gen>, gen: Gen, stack_size: usize) {
    if stack_size == runtime::default_stack_size() && pool.len() < runtime::stack_pool_capacity() {
        pool.push(gen);
    } else {
        drop(gen);
        release();
    }
}

/// Frees every pooled stack.
pub(crate) fn drain_pool(pool: &mut Vec<Gen>) {
    for gen in pool.drain(..) {
        drop(gen);
        release();
    }
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
