//! The switch: a green thread is a corosensei coroutine running on a stack
//! green-core owns (`crate::stack`).
//!
//! The hub resumes a [`Green`]; the green thread comes back out with
//! [`suspend`], from any call depth. corosensei hands each coroutine a
//! `Yielder` at its start; `suspend` finds the running one through a
//! per-OS-thread pointer that [`Green::resume`] sets before every switch in
//! and saves after every switch out, so a green thread always suspends
//! through its own yielder.

use std::cell::{Cell, UnsafeCell};
use std::mem::{align_of, size_of, ManuallyDrop, MaybeUninit};
use std::ptr::NonNull;

use corosensei::{Coroutine, CoroutineResult, Yielder};

use crate::stack::Stack;

/// The closure a green thread runs, boxed until it starts. Unlike a
/// `Box<dyn FnOnce()>`, the box is freed as the closure starts rather than
/// when it returns: a parked green thread keeps no heap for its body.
pub(crate) struct Body {
    /// A `Box<F>` turned into a raw pointer.
    data: NonNull<u8>,
    /// Runs (`true`) or drops (`false`) the closure behind `data`, freeing
    /// its box either way; called exactly once.
    call: unsafe fn(NonNull<u8>, bool),
}

// SAFETY: `Body::new` only accepts `F: Send`, and the closure is the only
// thing `data` points to.
unsafe impl Send for Body {}

impl Body {
    /// Boxes `f` for a green thread.
    ///
    /// # Safety
    ///
    /// Everything `f` borrows must outlive the green thread that runs it
    /// (the `'static` bound a hub would otherwise need is what is waived).
    pub(crate) unsafe fn new<'a, F: FnOnce() + Send + 'a>(f: F) -> Body {
        unsafe fn call<F: FnOnce()>(data: NonNull<u8>, run: bool) {
            // SAFETY: `data` is the `Box<F>` leaked by `Body::new`, and
            // `call` runs once (`run` consumes the body, `drop` is its
            // destructor).
            let boxed = unsafe { Box::from_raw(data.as_ptr().cast::<F>()) };
            if run {
                // Move the closure out; the box is freed at the end of the
                // block, before the closure runs.
                let f = {
                    let boxed = boxed;
                    *boxed
                };
                f();
            }
        }
        Body {
            data: NonNull::from(Box::leak(Box::new(f))).cast(),
            call: call::<F>,
        }
    }

    /// Like [`Body::new`], but keeps `f` in `slot` when it fits there, so
    /// that it costs no allocation of its own; a closure too big for the
    /// slot, or aligned more strictly, is boxed as by `Body::new`. Either
    /// way `f` leaves its storage as it starts.
    ///
    /// # Safety
    ///
    /// As for [`Body::new`]; moreover no other body ever uses `slot`, and
    /// its memory stays valid until this body has been run or dropped. A
    /// closure that itself owns what keeps the slot alive (the join packet
    /// the slot sits in) satisfies the second part: it is moved out of the
    /// slot before it runs or drops.
    pub(crate) unsafe fn new_in<'a, F: FnOnce() + Send + 'a>(slot: &BodySlot, f: F) -> Body {
        if size_of::<F>() > size_of::<BodySlot>() || align_of::<F>() > align_of::<BodySlot>() {
            // SAFETY: the caller's guarantee for `Body::new`.
            return unsafe { Body::new(f) };
        }
        unsafe fn call<F: FnOnce()>(data: NonNull<u8>, run: bool) {
            // SAFETY: `data` holds the `F` that `new_in` wrote and nothing
            // has read since; `call` runs once, so this read moves it out
            // exactly once, and the slot is dead from here on.
            let f = unsafe { data.as_ptr().cast::<F>().read() };
            if run {
                f();
            }
        }
        let data = NonNull::new(slot.0.get()).expect("a cell is never at null");
        // SAFETY: `F` fits the slot in size and alignment (checked above),
        // and the caller guarantees nobody else uses the slot, so writing
        // through its cell races with nothing and overwrites nothing live.
        unsafe { data.cast::<F>().write(f) };
        Body {
            data: data.cast(),
            call: call::<F>,
        }
    }

    /// Runs the closure (on the green thread's stack).
    pub(crate) fn run(self) {
        let this = ManuallyDrop::new(self);
        // SAFETY: `this` is never dropped, so `call` runs exactly once.
        unsafe { (this.call)(this.data, true) }
    }
}

impl Drop for Body {
    fn drop(&mut self) {
        // SAFETY: a body that was never run is dropped exactly once.
        unsafe { (self.call)(self.data, false) }
    }
}

/// Room for one small green-thread closure inside an allocation made for
/// something else (the join packet), so that spawning it allocates nothing
/// more (see [`Body::new_in`]). 48 bytes, 8-aligned: the user's closure
/// may capture up to 32 (a stream, an `Arc` and a `Vec`, say) beside what
/// spawning adds, while a parked thread's packet stays within one 112-byte
/// malloc chunk.
#[repr(C, align(8))]
pub(crate) struct BodySlot(UnsafeCell<MaybeUninit<[u8; 48]>>);

// SAFETY: only the one body written into a slot ever reads or writes its
// contents (`Body::new_in`'s contract), and a body is owned by one thread at
// a time; everybody else who can reach the slot ignores it.
unsafe impl Sync for BodySlot {}

impl BodySlot {
    /// An empty slot.
    pub(crate) const fn new() -> BodySlot {
        BodySlot(UnsafeCell::new(MaybeUninit::uninit()))
    }
}

type Co = Coroutine<(), (), (), Stack>;

thread_local! {
    /// The yielder of the coroutine running on this OS thread (null on the
    /// hub's own stack, or before a new coroutine has stored its own).
    static YIELDER: Cell<*const Yielder<(), ()>> = const { Cell::new(std::ptr::null()) };
    /// About where the stack pointer of the last coroutine to switch out on
    /// this OS thread was (see [`switched_out_at`]).
    static SWITCHED_AT: Cell<usize> = const { Cell::new(0) };
}

/// A green thread's coroutine. Never leaves the OS thread that created it
/// (corosensei's `Coroutine` is `!Send`, and so is this).
pub(crate) struct Green {
    co: Co,
    /// This coroutine's yielder once it has started; it lives on the
    /// coroutine's own stack, at a fixed place, for as long as it runs.
    yielder: *const Yielder<(), ()>,
    /// The head of its deadline/mask scope chain while it is switched out
    /// (see `crate::cancel`); the hub holds it while it runs.
    pub(crate) scope: *const crate::cancel::Scope,
    /// The top of its stack (where its first frame starts).
    top: usize,
}

impl Green {
    /// A coroutine that will run `body` on `stack` when first resumed. Only
    /// the top of the stack is written now.
    pub(crate) fn new(stack: Stack, body: Body) -> Green {
        let top = stack.top();
        let co = Coroutine::with_stack(stack, move |yielder: &Yielder<(), ()>, ()| {
            YIELDER.with(|y| y.set(yielder));
            body.run();
        });
        Green {
            co,
            yielder: std::ptr::null(),
            scope: std::ptr::null(),
            top,
        }
    }

    /// How many bytes of its stack lie above `sp`: what a switch back in
    /// at `sp` may return through (0 when `sp` is not on its stack).
    pub(crate) fn depth_at(&self, sp: usize) -> usize {
        self.top.saturating_sub(sp)
    }

    /// Runs the green thread until it suspends (`false`) or finishes
    /// (`true`).
    // Inlined, as is `suspend`: every `ret` right after a stack switch
    // mispredicts (the return-stack buffer holds the other stack's calls),
    // so fewer call levels around the switch make it cheaper.
    #[inline(always)]
    pub(crate) fn resume(&mut self) -> bool {
        let outer = YIELDER.with(|y| y.replace(self.yielder));
        let finished = matches!(self.co.resume(()), CoroutineResult::Return(()));
        self.yielder = YIELDER.with(|y| y.replace(outer));
        finished
    }

    /// The stack of a finished green thread, for reuse.
    pub(crate) fn into_stack(self) -> Stack {
        debug_assert!(self.co.done(), "into_stack of an unfinished green thread");
        self.co.into_stack()
    }
}

/// Switches the running green thread out to its hub; returns when the hub
/// resumes it.
///
/// # Panics
///
/// When called outside a green thread (a broken invariant: callers check
/// `Hub::in_green` first).
#[inline(always)]
pub(crate) fn suspend() {
    let yielder = YIELDER.with(Cell::get);
    assert!(!yielder.is_null(), "green: suspend outside a green thread");
    // A local's address stands for the stack pointer: the frames the green
    // thread returns through when resumed lie just above it.
    let here = 0u8;
    SWITCHED_AT.with(|at| at.set(std::ptr::addr_of!(here) as usize));
    // SAFETY: a non-null YIELDER is the yielder of the coroutine running on
    // this OS thread right now (set by `Green::resume` or by the coroutine's
    // own start, cleared when it switches out), and a yielder stays valid
    // while its coroutine runs.
    unsafe { (*yielder).suspend(()) };
}

/// About where the stack pointer of the green thread that last switched
/// out on this OS thread was, so that its hub can prefetch those lines of
/// its stack before resuming it.
pub(crate) fn switched_out_at() -> usize {
    SWITCHED_AT.with(Cell::get)
}
