//! The cooperative budget: how green threads stay fair without preemption.
//!
//! Every green call that could have waited but did not — a read that found
//! data, an `accept` that failed with `EMFILE` at once, a lock taken without
//! contention, a failed `try_lock` or `try_recv`, an empty `OnceLock::get`,
//! a `park` that found its token, a `block_on` poll that was ready — spends
//! one unit of the running green thread's budget. When the budget (128
//! units, as tokio's) is spent, the call yields to the hub before it
//! returns, so the hub's other green threads run; the budget refills
//! whenever the thread really switches. On a plain OS thread a spent budget
//! runs one pass of that thread's hub (the kernel preempts OS threads, so
//! it does not give its core away as well).
//!
//! A unit costs a thread-local access and a counter update. An extension
//! with no counterpart in std.

/// Spends one unit of the calling thread's cooperative budget (see the
/// module docs); yields when it is spent. Call it from a blocking-style API
/// built on green-core wherever a call completes, or fails, without
/// waiting.
#[inline]
pub fn consume() {
    crate::hub::consume();
}
