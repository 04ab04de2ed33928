//! A hub's timers: one ordered map from deadline to the context to wake.
//!
//! Keys are `(deadline, sequence)`, so equal deadlines keep their order and
//! a key names one timer exactly; cancelling removes the entry, so a
//! cancelled timer costs nothing when it would have fired.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use crate::ctx::Ctx;

/// A key for a pending timer, to cancel it.
pub(crate) type TimerKey = (Instant, u64);

/// The timers of one hub.
#[derive(Default)]
pub(crate) struct Timers {
    map: BTreeMap<TimerKey, Arc<Ctx>>,
    seq: u64,
}

impl Timers {
    /// Wakes `ctx` at `deadline`.
    pub(crate) fn add(&mut self, deadline: Instant, ctx: Arc<Ctx>) -> TimerKey {
        self.seq = self.seq.wrapping_add(1);
        let key = (deadline, self.seq);
        self.map.insert(key, ctx);
        key
    }

    /// Drops a timer that has not fired (a no-op if it has); returns
    /// whether there was one.
    pub(crate) fn cancel(&mut self, key: TimerKey) -> bool {
        self.map.remove(&key).is_some()
    }

    /// Whether no timer is pending.
    pub(crate) fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Takes the first timer due at `now`, or says when the next one is due.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Result<Arc<Ctx>, Option<Instant>> {
        match self.map.first_key_value() {
            Some((&(at, _), _)) if at <= now => Ok(self
                .map
                .pop_first()
                .map(|(_, c)| c)
                .expect("first entry exists")),
            Some((&(at, _), _)) => Err(Some(at)),
            None => Err(None),
        }
    }
}
