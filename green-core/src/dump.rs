//! Green-thread dumps: every live green thread, where it was spawned, what
//! it is doing and for how long (eventlet's `format_hub_listeners`, gevent's
//! `print_run_info`, Go's SIGQUIT dump). An extension with no counterpart in
//! std.
//!
//! A green thread waiting to start sits in its hub's spawn queue; once
//! started it is entered in that hub's thread table until it finishes. Both
//! are readable from any thread, so [`dump`] sees threads on every hub,
//! including hubs that are stuck and threads that have not started. What a
//! thread waits on is recorded by the blocking primitives themselves as a
//! [`WaitSite`] (a static naming the primitive) plus a detail word (an fd, a
//! deadline), with the time it started waiting read from a coarse clock the
//! hubs and the monitor keep, so recording costs two relaxed stores.

use std::fmt;
use std::panic::Location;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use crate::ctx::Ctx;

/// A named place where green threads wait, for dumps: green-sync gives each
/// primitive one (`"Mutex::lock"`, `"mpsc::Receiver::recv"`, ...).
/// Declare it as a `static` and pass a reference to
/// [`crate::park::park_at`].
///
/// An extension with no counterpart in std.
#[derive(Debug)]
pub struct WaitSite {
    what: &'static str,
    kind: Kind,
}

impl WaitSite {
    /// A site for a green-sync style primitive: threads waiting there show as
    /// `parked in <what>`.
    pub const fn new(what: &'static str) -> WaitSite {
        WaitSite {
            what,
            kind: Kind::Parked,
        }
    }

    const fn of(what: &'static str, kind: Kind) -> WaitSite {
        WaitSite { what, kind }
    }

    /// The name given to [`WaitSite::new`].
    pub fn name(&self) -> &'static str {
        self.what
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Parked,
    Sleeping,
    Readable,
    Writable,
    Unblock,
    BlockOn,
}

/// Sleeping in `thread::sleep` and friends; detail: the deadline.
pub(crate) static SLEEP: WaitSite = WaitSite::of("sleep", Kind::Sleeping);
/// Waiting for an fd to become readable; detail: the fd.
pub(crate) static READABLE: WaitSite = WaitSite::of("readable", Kind::Readable);
/// Waiting for an fd to become writable; detail: the fd.
pub(crate) static WRITABLE: WaitSite = WaitSite::of("writable", Kind::Writable);
/// Parked in `thread::park` / `park_timeout`.
pub(crate) static THREAD_PARK: WaitSite = WaitSite::new("thread::park");
/// Waiting in `JoinHandle::join`.
pub(crate) static JOIN: WaitSite = WaitSite::new("JoinHandle::join");
/// Waiting for `unblock(f)` to return from the blocking pool.
pub(crate) static UNBLOCK: WaitSite = WaitSite::of("unblock", Kind::Unblock);
/// Waiting in `block_on(future)`.
pub(crate) static BLOCK_ON: WaitSite = WaitSite::of("block_on", Kind::BlockOn);
/// `green_core::park::park` with no site of its own.
pub(crate) static PARK: WaitSite = WaitSite::new("green_core::park");

// ----- the coarse clock -----

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// Milliseconds since `epoch`, as last published.
static COARSE_MS: AtomicU32 = AtomicU32::new(0);

/// Publishes the time (hubs after each poller wait, the monitor each tick).
pub(crate) fn tick_clock(now: Instant) {
    let ms = now.saturating_duration_since(epoch()).as_millis();
    COARSE_MS.store(u32::try_from(ms).unwrap_or(u32::MAX), Ordering::Relaxed);
}

/// The coarse time in milliseconds since `epoch` (a few tens of ms stale at
/// most while any hub is busy).
pub(crate) fn coarse_ms() -> u32 {
    COARSE_MS.load(Ordering::Relaxed)
}

/// `at` as milliseconds since `epoch`, for deadlines in wait details.
pub(crate) fn ms_of(at: Instant) -> u32 {
    u32::try_from(at.saturating_duration_since(epoch()).as_millis()).unwrap_or(u32::MAX)
}

// ----- the registry -----

/// Runs `f` on every live green thread: those started on each hub (in its
/// `threads` table) and those queued there, not started yet.
fn each_thread(mut f: impl FnMut(&Arc<Ctx>)) {
    for hub in crate::monitor::hubs() {
        for ctx in hub.threads.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            f(ctx);
        }
        hub.queued_ctxs(&mut f);
    }
}

/// Live green threads (started or queued), all hubs.
pub(crate) fn live_count() -> usize {
    let mut n = 0;
    each_thread(|_| n += 1);
    n
}

/// The name and spawn site of the live green thread `id`, if any.
pub(crate) fn find(id: u64) -> Option<(Option<String>, &'static Location<'static>)> {
    let mut found = None;
    each_thread(|c| {
        if c.id.get() == id {
            found = Some((c.name().map(String::from), c.spawned_at));
        }
    });
    found
}

// ----- leak counters -----

/// Counts of what green holds on behalf of green threads, for leak checks
/// (after green threads finish or are cancelled, these go back down).
///
/// An extension with no counterpart in std.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Counters {
    /// Contexts (green threads and OS-thread roots) still held by anyone:
    /// a finished green thread that a timer, a waiter list or an fd's
    /// waiters still points at keeps this up.
    pub contexts: usize,
    /// Live green threads (spawned and not finished).
    pub green_threads: usize,
    /// fd registrations on the hubs' pollers.
    pub fd_registrations: usize,
    /// Pending timers on the hubs.
    pub timers: usize,
    /// Waits in the hubs' pollers so far (each sleep, and each look at fd
    /// events between green threads): a process with nothing to do should
    /// see this stand nearly still.
    pub polls: u64,
}

/// Current [`Counters`], summed over every hub that has run green threads.
///
/// An extension with no counterpart in std.
pub fn counters() -> Counters {
    let hubs = crate::monitor::hubs();
    Counters {
        contexts: crate::ctx::alive(),
        green_threads: crate::stack::threads(),
        fd_registrations: hubs.iter().map(|h| h.fds.load(Ordering::Relaxed)).sum(),
        timers: hubs.iter().map(|h| h.timers.load(Ordering::Relaxed)).sum(),
        polls: hubs.iter().map(|h| h.polls.load(Ordering::Relaxed)).sum(),
    }
}

// ----- the dump -----

/// What a green thread is doing, as [`dump`] saw it.
///
/// An extension with no counterpart in std.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum State {
    /// Running on its hub right now.
    Running,
    /// Ready to run, waiting for its hub to get to it.
    Ready,
    /// Spawned, never run yet.
    NotStarted,
    /// In `thread::sleep` or `sleep_until`, until this deadline.
    Sleeping {
        /// When the sleep ends.
        until: Instant,
    },
    /// Waiting for an fd to become readable.
    Readable {
        /// The fd.
        fd: i32,
    },
    /// Waiting for an fd to become writable.
    Writable {
        /// The fd.
        fd: i32,
    },
    /// Parked in a green primitive (`Mutex::lock`, `Condvar::wait`,
    /// `mpsc::Receiver::recv`, `thread::park`, `JoinHandle::join`, ...).
    Parked {
        /// The primitive, as its [`WaitSite`] names it.
        what: &'static str,
    },
    /// Waiting for `unblock(f)` to come back from the blocking pool.
    Unblock,
    /// Waiting in `block_on(future)`.
    BlockOn,
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            State::Running => f.write_str("running"),
            State::Ready => f.write_str("ready"),
            State::NotStarted => f.write_str("not started"),
            State::Sleeping { until } => {
                let left = until.saturating_duration_since(Instant::now());
                write!(f, "sleeping ({} ms left)", left.as_millis())
            }
            State::Readable { fd } => write!(f, "waiting for fd {fd} to be readable"),
            State::Writable { fd } => write!(f, "waiting for fd {fd} to be writable"),
            State::Parked { what } => write!(f, "parked in {what}"),
            State::Unblock => f.write_str("in unblock (on the blocking pool)"),
            State::BlockOn => f.write_str("in block_on"),
        }
    }
}

/// One green thread in a [`Dump`].
///
/// An extension with no counterpart in std.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ThreadInfo {
    /// Its id, as `Thread::id` shows it (the number inside `ThreadId`).
    pub id: u64,
    /// Its name, if it was given one.
    pub name: Option<String>,
    /// The hub it lives on (`runtime::hub_id`), or `None` if it has not
    /// started and may still be placed elsewhere.
    pub hub: Option<usize>,
    /// What it is doing.
    pub state: State,
    /// How long it has been doing that (coarse: to a few tens of ms).
    pub since: Duration,
    /// Where it was spawned.
    pub spawned_at: &'static Location<'static>,
}

impl fmt::Display for ThreadInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "green thread {}", self.id)?;
        if let Some(name) = &self.name {
            write!(f, " '{name}'")?;
        }
        match self.hub {
            Some(hub) => write!(f, " on hub {hub}")?,
            None => f.write_str(" (unplaced)")?,
        }
        write!(
            f,
            ": {} for {} ms, spawned at {}",
            self.state,
            self.since.as_millis(),
            self.spawned_at
        )
    }
}

/// Every live green thread at one moment, from [`dump`]. `Display` prints
/// one line per thread.
///
/// An extension with no counterpart in std.
#[derive(Debug, Clone)]
pub struct Dump {
    /// The green threads, in no particular order.
    pub threads: Vec<ThreadInfo>,
}

impl fmt::Display for Dump {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "green thread dump: {} live", self.threads.len())?;
        for t in &self.threads {
            writeln!(f, "  {t}")?;
        }
        Ok(())
    }
}

/// Lists every live green thread of the process: id, name, hub, what it is
/// doing (running, ready, not started, sleeping until, waiting for an fd,
/// parked in which primitive, in `unblock`, in `block_on`), for how long,
/// and where it was spawned. Works from any thread, including while hubs
/// are stuck. `GREEN_DUMP_SIGNAL` prints one to stderr on a signal.
///
/// An extension with no counterpart in std.
pub fn dump() -> Dump {
    let mut ctxs = Vec::new();
    each_thread(|c| ctxs.push(c.clone()));
    let now = coarse_ms().max(ms_of(Instant::now()));
    Dump {
        threads: ctxs.iter().map(|c| info(c, now)).collect(),
    }
}

fn info(ctx: &Ctx, now_ms: u32) -> ThreadInfo {
    let (site, since_ms, detail) = ctx.waiting();
    let hub = ctx.hub_id();
    let state = if hub.is_none() {
        State::NotStarted
    } else if ctx.is_running_now() {
        State::Running
    } else if ctx.is_ready() {
        State::Ready
    } else {
        match site {
            None => State::Parked { what: PARK.what },
            Some(site) => match site.kind {
                Kind::Parked => State::Parked { what: site.what },
                Kind::Sleeping => State::Sleeping {
                    until: epoch() + Duration::from_millis(u64::from(detail)),
                },
                Kind::Readable => State::Readable { fd: detail as i32 },
                Kind::Writable => State::Writable { fd: detail as i32 },
                Kind::Unblock => State::Unblock,
                Kind::BlockOn => State::BlockOn,
            },
        }
    };
    ThreadInfo {
        id: ctx.id.get(),
        name: ctx.name().map(String::from),
        hub,
        state,
        since: Duration::from_millis(u64::from(now_ms.saturating_sub(since_ms))),
        spawned_at: ctx.spawned_at,
    }
}
