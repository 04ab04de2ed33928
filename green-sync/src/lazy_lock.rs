//! `LazyLock`.
//!
//! Storage without `unsafe`: the value in a `std::sync::OnceLock<T>`, the
//! initializer in a `std::sync::Mutex<Option<F>>` that only the single
//! winner of the [`RawOnce`] ever locks (so it never blocks). The `RawOnce`
//! runs in force mode and the closure itself panics when it sees the
//! poisoned state, exactly as std's `LazyLock::force` does, so the messages
//! match.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::panic::{RefUnwindSafe, UnwindSafe};
use std::sync::PoisonError;

use crate::once::RawOnce;

/// A value which is initialized on the first access; the green version of
/// [`std::sync::LazyLock`].
///
/// Threads that access it while another thread runs the initializer park: a
/// green thread switches to its hub (the initializer keeps running even on
/// the same hub), a plain OS thread runs its hub.
///
/// # Differences from std
///
/// None in behaviour: same poisoning (a panicking initializer poisons the
/// lock and every later access panics with "LazyLock instance has previously
/// been poisoned"). Re-entrant initialization never returns, as with std.
///
/// # Cancellation
///
/// Waiting for another thread's initialization is a cancellation point
/// (`green::rt::timeout`, `green::thread::Cancel`); a cancelled waiter just
/// leaves. An initializer unwound by a cancel or a deadline poisons the
/// lock as a panicking one does.
///
/// # Examples
///
/// ```
/// use green_sync::LazyLock;
/// use std::collections::HashMap;
///
/// static TABLE: LazyLock<HashMap<u32, &'static str>> = LazyLock::new(|| {
///     let mut m = HashMap::new();
///     m.insert(13, "Spica");
///     m
/// });
/// assert_eq!(TABLE.get(&13), Some(&"Spica"));
/// ```
pub struct LazyLock<T, F = fn() -> T> {
    once: RawOnce,
    value: std::sync::OnceLock<T>,
    init: std::sync::Mutex<Option<F>>,
}

impl<T, F: FnOnce() -> T> LazyLock<T, F> {
    /// Creates a new lazy value with the given initializing function.
    #[inline]
    pub const fn new(f: F) -> LazyLock<T, F> {
        LazyLock {
            once: RawOnce::new(),
            value: std::sync::OnceLock::new(),
            init: std::sync::Mutex::new(Some(f)),
        }
    }

    /// Forces the evaluation of this lazy value and returns a reference to
    /// the result (same as `Deref`).
    ///
    /// # Panics
    ///
    /// If the initializer panics, the panic propagates and the lock is
    /// poisoned; accessing a poisoned lock panics with "LazyLock instance has
    /// previously been poisoned".
    ///
    /// # Examples
    ///
    /// ```
    /// use green_sync::LazyLock;
    ///
    /// let lazy = LazyLock::new(|| 92);
    /// assert_eq!(LazyLock::force(&lazy), &92);
    /// ```
    pub fn force(this: &LazyLock<T, F>) -> &T {
        if let Some(value) = this.value.get() {
            return value;
        }
        this.once.call(true, &mut |state| {
            if state.is_poisoned() {
                panic_poisoned();
            }
            let f = this
                .init
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            match f {
                Some(f) => {
                    let _ = this.value.set(f());
                }
                None => panic_poisoned(),
            }
        });
        match this.value.get() {
            Some(value) => value,
            None => panic_poisoned(),
        }
    }

    /// Forces the evaluation of this lazy value and returns a mutable
    /// reference to the result (std 1.94).
    ///
    /// # Panics
    ///
    /// As [`LazyLock::force`].
    ///
    /// # Examples
    ///
    /// ```
    /// use green_sync::LazyLock;
    ///
    /// let mut lazy = LazyLock::new(|| 92);
    /// *LazyLock::force_mut(&mut lazy) += 1;
    /// assert_eq!(*lazy, 93);
    /// ```
    pub fn force_mut(this: &mut LazyLock<T, F>) -> &mut T {
        if this.value.get().is_none() {
            if this.once.is_poisoned_mut() {
                panic_poisoned();
            }
            let f = this
                .init
                .get_mut()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            let Some(f) = f else { panic_poisoned() };
            // Poisoned unless `f` returns.
            this.once.set_poisoned_mut(true);
            let value = f();
            let _ = this.value.set(value);
            this.once.set_poisoned_mut(false);
        }
        match this.value.get_mut() {
            Some(value) => value,
            None => panic_poisoned(),
        }
    }
}

impl<T, F> LazyLock<T, F> {
    /// Returns a reference to the value if initialized, or `None` if not
    /// (or poisoned); never runs the initializer (std 1.94).
    #[inline]
    pub fn get(this: &LazyLock<T, F>) -> Option<&T> {
        let value = this.value.get();
        if value.is_none() {
            green_core::coop::consume();
        }
        value
    }

    /// Returns a mutable reference to the value if initialized, or `None`
    /// if not (or poisoned) (std 1.94).
    #[inline]
    pub fn get_mut(this: &mut LazyLock<T, F>) -> Option<&mut T> {
        this.value.get_mut()
    }
}

impl<T, F: FnOnce() -> T> Deref for LazyLock<T, F> {
    type Target = T;

    /// Forces the value (see [`LazyLock::force`], including its panics).
    #[inline]
    fn deref(&self) -> &T {
        LazyLock::force(self)
    }
}

impl<T, F: FnOnce() -> T> DerefMut for LazyLock<T, F> {
    /// Forces the value (see [`LazyLock::force_mut`], including its panics).
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        LazyLock::force_mut(self)
    }
}

impl<T: Default> Default for LazyLock<T> {
    /// Creates a new lazy value using `Default` as the initializing function.
    #[inline]
    fn default() -> LazyLock<T> {
        LazyLock::new(T::default)
    }
}

impl<T: fmt::Debug, F> fmt::Debug for LazyLock<T, F> {
    /// `LazyLock(value)` or `LazyLock(<uninit>)`, as std's (never forces).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_tuple("LazyLock");
        match LazyLock::get(self) {
            Some(v) => d.field(v),
            None => d.field(&format_args!("<uninit>")),
        };
        d.finish()
    }
}

// std's bounds: the initializer is consumed, never shared, so only
// `F: UnwindSafe` matters (our `Mutex<Option<F>>` alone would ask nothing).
impl<T: RefUnwindSafe + UnwindSafe, F: UnwindSafe> RefUnwindSafe for LazyLock<T, F> {}
impl<T: UnwindSafe, F: UnwindSafe> UnwindSafe for LazyLock<T, F> {}

#[cold]
#[inline(never)]
fn panic_poisoned() -> ! {
    panic!("LazyLock instance has previously been poisoned")
}
