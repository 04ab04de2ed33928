//! `OnceLock`.
//!
//! The value lives in a `std::sync::OnceLock<T>` (safe storage with
//! lock-free reads); who initializes it, and the waiting of everyone else, is
//! decided by a [`RawOnce`] in force mode (a panicking initializer leaves the
//! cell empty for the next caller, as std). Only the single winner of the
//! `RawOnce` ever calls the std cell's `set`, so std never blocks.

use std::fmt;

use crate::once::RawOnce;

/// A synchronization primitive which can nominally be written to only once;
/// the green version of [`std::sync::OnceLock`].
///
/// Readers never block once the value is set. A caller of
/// [`get_or_init`](OnceLock::get_or_init) (or [`set`](OnceLock::set), or
/// [`wait`](OnceLock::wait)) that finds another thread initializing parks: a
/// green thread switches to its hub, a plain OS thread runs its hub.
///
/// # Differences from std
///
/// None in behaviour. As with std, initializing the cell again from inside
/// its own initializer never returns.
///
/// # Cancellation
///
/// Waiting for another thread's initialization (`wait`, a contended
/// `get_or_init` or `set`) is a cancellation point (`green::rt::timeout`,
/// `green::thread::Cancel`); a cancelled waiter just leaves. An initializer
/// unwound by a cancel or a deadline leaves the cell empty, as a panicking
/// one does: the next caller runs its own.
///
/// # Examples
///
/// ```
/// use green_sync::OnceLock;
///
/// static CELL: OnceLock<usize> = OnceLock::new();
/// assert!(CELL.get().is_none());
/// let value = green_core::thread::spawn(|| *CELL.get_or_init(|| 12345))
///     .join()
///     .unwrap();
/// assert_eq!(value, 12345);
/// assert_eq!(CELL.get(), Some(&12345));
/// ```
pub struct OnceLock<T> {
    once: RawOnce,
    value: std::sync::OnceLock<T>,
}

impl<T> OnceLock<T> {
    /// Creates a new uninitialized cell.
    #[inline]
    #[must_use]
    pub const fn new() -> OnceLock<T> {
        OnceLock {
            once: RawOnce::new(),
            value: std::sync::OnceLock::new(),
        }
    }

    /// Gets the reference to the underlying value, or `None` if the cell is
    /// uninitialized or being initialized. Never blocks.
    #[inline]
    pub fn get(&self) -> Option<&T> {
        let value = self.value.get();
        if value.is_none() {
            // A failed probe: spinning on `get` lets the writer run.
            green_core::coop::consume();
        }
        value
    }

    /// Gets the mutable reference to the underlying value (`None` if
    /// uninitialized).
    #[inline]
    pub fn get_mut(&mut self) -> Option<&mut T> {
        self.value.get_mut()
    }

    /// Blocks the current green thread (or OS thread) until the cell is
    /// initialized, then returns the value (std 1.86).
    ///
    /// # Examples
    ///
    /// ```
    /// use green_sync::{Arc, OnceLock};
    ///
    /// let cell = Arc::new(OnceLock::new());
    /// let c = Arc::clone(&cell);
    /// let waiter = green_core::thread::spawn(move || *c.wait());
    /// cell.set(7).unwrap();
    /// assert_eq!(waiter.join().unwrap(), 7);
    /// ```
    pub fn wait(&self) -> &T {
        loop {
            if let Some(value) = self.value.get() {
                return value;
            }
            self.once.wait(true);
        }
    }

    /// Initializes the cell with `value`, blocking while another thread
    /// initializes it.
    ///
    /// # Errors
    ///
    /// `Err(value)` if the cell was already initialized.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_sync::OnceLock;
    ///
    /// let cell = OnceLock::new();
    /// assert_eq!(cell.set(92), Ok(()));
    /// assert_eq!(cell.set(62), Err(62));
    /// ```
    pub fn set(&self, value: T) -> Result<(), T> {
        let mut value = Some(value);
        self.get_or_init(|| match value.take() {
            Some(v) => v,
            None => unreachable!("OnceLock::set: initializer ran twice"),
        });
        match value {
            None => Ok(()),
            Some(value) => Err(value),
        }
    }

    /// Gets the contents of the cell, initializing it with `f` if it was
    /// uninitialized. Callers that find another initializer running block
    /// until it finishes.
    ///
    /// # Panics
    ///
    /// If `f` panics, the panic propagates and the cell stays uninitialized
    /// (the next caller runs its own initializer), as std.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_sync::OnceLock;
    ///
    /// let cell = OnceLock::new();
    /// assert_eq!(*cell.get_or_init(|| 92), 92);
    /// assert_eq!(*cell.get_or_init(|| unreachable!()), 92);
    /// ```
    pub fn get_or_init<F>(&self, f: F) -> &T
    where
        F: FnOnce() -> T,
    {
        if let Some(value) = self.value.get() {
            return value;
        }
        let mut f = Some(f);
        loop {
            self.once.call(true, &mut |_| {
                if let Some(f) = f.take() {
                    // Only the winner of `once` gets here: the std cell is
                    // empty and nobody else sets it.
                    let _ = self.value.set(f());
                }
            });
            if let Some(value) = self.value.get() {
                return value;
            }
            // `take` on a clone-less exclusive borrow cannot race with this,
            // so the cell is set once `call` returns normally; loop only for
            // robustness.
        }
    }

    /// Consumes the cell, returning the wrapped value (`None` if
    /// uninitialized).
    #[inline]
    pub fn into_inner(self) -> Option<T> {
        self.value.into_inner()
    }

    /// Takes the value out, leaving the cell uninitialized (`None` if it was
    /// uninitialized).
    ///
    /// # Examples
    ///
    /// ```
    /// use green_sync::OnceLock;
    ///
    /// let mut cell = OnceLock::new();
    /// cell.set("hello".to_string()).unwrap();
    /// assert_eq!(cell.take(), Some("hello".to_string()));
    /// assert_eq!(cell.get(), None);
    /// ```
    #[inline]
    pub fn take(&mut self) -> Option<T> {
        let taken = self.value.take();
        if taken.is_some() {
            self.once = RawOnce::new();
        }
        taken
    }
}

impl<T> Default for OnceLock<T> {
    /// Creates a new uninitialized cell.
    #[inline]
    fn default() -> OnceLock<T> {
        OnceLock::new()
    }
}

impl<T: fmt::Debug> fmt::Debug for OnceLock<T> {
    /// `OnceLock(value)` or `OnceLock(<uninit>)`, as std's.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_tuple("OnceLock");
        match self.get() {
            Some(v) => d.field(v),
            None => d.field(&format_args!("<uninit>")),
        };
        d.finish()
    }
}

impl<T: Clone> Clone for OnceLock<T> {
    /// A new cell holding a clone of the value, if any.
    fn clone(&self) -> OnceLock<T> {
        match self.get() {
            Some(value) => OnceLock::from(value.clone()),
            None => OnceLock::new(),
        }
    }
}

impl<T> From<T> for OnceLock<T> {
    /// Creates a new cell with its contents set to `value`.
    fn from(value: T) -> Self {
        OnceLock {
            once: RawOnce::new_complete(),
            value: std::sync::OnceLock::from(value),
        }
    }
}

impl<T: PartialEq> PartialEq for OnceLock<T> {
    /// Equality of the contents (two uninitialized cells are equal).
    fn eq(&self, other: &OnceLock<T>) -> bool {
        self.get() == other.get()
    }
}

impl<T: Eq> Eq for OnceLock<T> {}
