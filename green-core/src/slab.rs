//! A minimal slab: stable `usize` keys for values, with freed keys reused.
//!
//! Entries live in fixed-size chunks rather than one growing `Vec`, so a hub
//! with a million green threads never copies its whole task table to grow
//! it, and holds at most one partly used chunk of slack.

/// Entries per chunk.
const CHUNK: usize = 1024;

/// Values addressed by small integer keys; a removed key is handed out again.
#[derive(Debug)]
pub(crate) struct Slab<T> {
    chunks: Vec<Box<[Option<T>]>>,
    /// Keys handed out so far (the next fresh key).
    len: usize,
    free: Vec<usize>,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Slab {
            chunks: Vec::new(),
            len: 0,
            free: Vec::new(),
        }
    }
}

impl<T> Slab<T> {
    fn entry(&mut self, key: usize) -> Option<&mut Option<T>> {
        self.chunks
            .get_mut(key / CHUNK)
            .map(|chunk| &mut chunk[key % CHUNK])
    }

    /// Stores `value` and returns its key.
    pub(crate) fn insert(&mut self, value: T) -> usize {
        let key = match self.free.pop() {
            Some(key) => key,
            None => {
                let key = self.len;
                self.len += 1;
                if key / CHUNK == self.chunks.len() {
                    self.chunks
                        .push(std::iter::repeat_with(|| None).take(CHUNK).collect());
                }
                key
            }
        };
        *self.entry(key).expect("a handed-out key has its chunk") = Some(value);
        key
    }

    /// Puts `value` back under an occupied-but-taken or reserved `key`.
    pub(crate) fn put(&mut self, key: usize, value: T) {
        let entry = self.entry(key).expect("put under a key never handed out");
        let previous = entry.replace(value);
        debug_assert!(previous.is_none(), "slab key {key} was still occupied");
        // The slot was empty (taken): nothing to drop, and no drop glue on
        // this hot path (a resumed green thread goes back here every switch).
        std::mem::forget(previous);
    }

    /// Takes the value out but keeps the key reserved.
    pub(crate) fn take(&mut self, key: usize) -> Option<T> {
        self.entry(key).and_then(Option::take)
    }

    /// Frees `key` (its value, if still present, is returned).
    pub(crate) fn remove(&mut self, key: usize) -> Option<T> {
        let value = self.entry(key).and_then(Option::take);
        self.free.push(key);
        value
    }

    /// Every value present.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> + '_ {
        self.chunks.iter().flat_map(|chunk| chunk.iter().flatten())
    }

    /// Where the entry under `key` lies in memory and how long it is, for
    /// a prefetch (`None`: never handed out).
    pub(crate) fn span_of(&self, key: usize) -> Option<(usize, usize)> {
        let chunk = self.chunks.get(key / CHUNK)?;
        let entry = &chunk[key % CHUNK];
        Some((
            entry as *const Option<T> as usize,
            std::mem::size_of::<Option<T>>(),
        ))
    }

    /// The value under `key`, if any.
    pub(crate) fn get(&self, key: usize) -> Option<&T> {
        self.chunks
            .get(key / CHUNK)
            .and_then(|chunk| chunk[key % CHUNK].as_ref())
    }

    /// Drains every stored value.
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = T> + '_ {
        self.free.clear();
        self.len = 0;
        self.chunks
            .drain(..)
            .flat_map(|chunk| chunk.into_vec().into_iter().flatten())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_stable_and_reused_across_chunks() {
        let mut slab = Slab::default();
        let keys: Vec<usize> = (0..3 * CHUNK).map(|i| slab.insert(i)).collect();
        assert_eq!(keys, (0..3 * CHUNK).collect::<Vec<_>>());
        assert_eq!(slab.get(CHUNK + 5), Some(&(CHUNK + 5)));
        assert_eq!(slab.take(7), Some(7));
        assert_eq!(slab.get(7), None);
        slab.put(7, 70);
        assert_eq!(slab.remove(7), Some(70));
        assert_eq!(slab.insert(700), 7);
        assert_eq!(slab.get(3 * CHUNK), None);
        assert_eq!(slab.drain().count(), 3 * CHUNK);
        assert_eq!(slab.insert(1), 0);
    }
}
