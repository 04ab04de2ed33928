//! Buffers that cross to the pool thread and back.
//!
//! A read needs a buffer the pool job owns; a write needs a copy of the
//! caller's bytes. Allocating a fresh one per call costs more than the copy
//! once buffers pass the allocator's `mmap` threshold (every call would map,
//! fault in and unmap the pages), so each OS thread keeps a few spare
//! buffers. The cache is per OS thread (green threads of one hub share it)
//! and is only touched between trips, never across one.

use std::cell::Cell;

/// Spare buffers kept per OS thread.
const KEEP: usize = 4;
/// Largest buffer capacity worth keeping (bigger ones are freed).
const MAX_KEPT: usize = 1 << 20;

thread_local! {
    static SPARE: Cell<Vec<Vec<u8>>> = const { Cell::new(Vec::new()) };
}

fn take() -> Vec<u8> {
    SPARE
        .try_with(|spare| {
            let mut list = spare.take();
            let buf = list.pop();
            spare.set(list);
            buf
        })
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// A buffer of `len` bytes for a read to fill. Its contents are whatever a
/// previous use left (zeros where it grew): callers copy out only the bytes
/// the read reported.
pub(crate) fn for_read(len: usize) -> Vec<u8> {
    let mut buf = take();
    buf.resize(len, 0);
    buf
}

/// A copy of `data` for a write to send.
pub(crate) fn copy_of(data: &[u8]) -> Vec<u8> {
    let mut buf = take();
    buf.clear();
    buf.extend_from_slice(data);
    buf
}

/// Returns a buffer to this thread's spares (or frees it).
pub(crate) fn give_back(buf: Vec<u8>) {
    if buf.capacity() == 0 || buf.capacity() > MAX_KEPT {
        return;
    }
    let _ = SPARE.try_with(|spare| {
        let mut list = spare.take();
        if list.len() < KEEP {
            list.push(buf);
        }
        spare.set(list);
    });
}
