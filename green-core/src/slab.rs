//! A minimal slab: stable `usize` keys for values, with freed keys reused.

/// Values addressed by small integer keys; a removed key is handed out again.
#[derive(Debug)]
pub(crate) struct Slab<T> {
    entries: Vec<Option<T>>,
    free: Vec<usize>,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Slab {
            entries: Vec::new(),
            free: Vec::new(),
        }
    }
}

impl<T> Slab<T> {
    /// Stores `value` and returns its key.
    pub(crate) fn insert(&mut self, value: T) -> usize {
        match self.free.pop() {
            Some(key) => {
                self.entries[key] = Some(value);
                key
            }
            None => {
                self.entries.push(Some(value));
                self.entries.len() - 1
            }
        }
    }

    /// Puts `value` back under an occupied-but-taken or reserved `key`.
    pub(crate) fn put(&mut self, key: usize, value: T) {
        let previous = self.entries[key].replace(value);
        debug_assert!(previous.is_none(), "slab key {key} was still occupied");
        // The slot was empty (taken): nothing to drop, and no drop glue on
        // this hot path (a resumed green thread goes back here every switch).
        std::mem::forget(previous);
    }

    /// Takes the value out but keeps the key reserved.
    pub(crate) fn take(&mut self, key: usize) -> Option<T> {
        self.entries.get_mut(key).and_then(Option::take)
    }

    /// Frees `key` (its value, if still present, is returned).
    pub(crate) fn remove(&mut self, key: usize) -> Option<T> {
        let value = self.entries.get_mut(key).and_then(Option::take);
        self.free.push(key);
        value
    }

    /// The value under `key`, if any.
    pub(crate) fn get(&self, key: usize) -> Option<&T> {
        self.entries.get(key).and_then(Option::as_ref)
    }

    /// Drains every stored value.
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = T> + '_ {
        self.free.clear();
        self.entries.drain(..).flatten()
    }
}
