//! A counter many threads bump without sharing a cache line: each OS thread
//! adds to its own cell, and reading sums every thread's cell. Exact once
//! the threads that changed it are quiet; cheap enough for the spawn path.

use std::cell::OnceCell;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::{Arc, Mutex};

/// One counter, sharded per OS thread.
#[derive(Debug)]
pub(crate) struct Sharded {
    /// Every thread's cell, including those of threads that exited (their
    /// counts still matter).
    cells: Mutex<Vec<Arc<AtomicIsize>>>,
}

impl Sharded {
    pub(crate) const fn new() -> Sharded {
        Sharded {
            cells: Mutex::new(Vec::new()),
        }
    }

    /// This thread's cell of `self`, made on first use.
    fn cell<'a>(&'static self, local: &'a OnceCell<Arc<AtomicIsize>>) -> &'a AtomicIsize {
        local.get_or_init(|| {
            let cell = Arc::new(AtomicIsize::new(0));
            self.cells
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(cell.clone());
            cell
        })
    }

    /// Adds `n` (may be negative) through this thread's cell.
    pub(crate) fn add(&'static self, local: &OnceCell<Arc<AtomicIsize>>, n: isize) {
        // Only this thread writes its cell: a plain load and store would do,
        // but a relaxed add is as cheap on an unshared line.
        self.cell(local).fetch_add(n, Ordering::Relaxed);
    }

    /// The sum over every thread.
    pub(crate) fn sum(&self) -> usize {
        let cells = self.cells.lock().unwrap_or_else(|p| p.into_inner());
        let total: isize = cells.iter().map(|c| c.load(Ordering::Relaxed)).sum();
        usize::try_from(total).unwrap_or(0)
    }
}
