//! Primitive 1: wait until an fd is readable or writable.
//!
//! [`GreenFd`] owns an I/O object whose fd is in non-blocking mode. The first
//! time a context on some hub waits on it, the fd is added to that hub's
//! poller, edge-triggered, for both directions — once. Later waits on that hub
//! cost no `epoll_ctl`. Events bump a per-direction sequence number and wake
//! every context waiting in that direction; a waiter that sees the number move
//! retries its syscall, so no edge is lost between "syscall said WouldBlock"
//! and "suspend".
//!
//! The fd may be used from several hubs at once (each keeps its own
//! registration) and from several green threads at once (one reading while
//! another writes, or several readers). Dropping the `GreenFd` removes every
//! registration before the object (and so the fd) is dropped, which is the
//! contract `polling` needs.

use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Instant;

use crate::ctx::Ctx;
use crate::hub::poll::Readiness;
use crate::hub::{self, HubShared};

/// The direction a caller waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Interest {
    /// The fd has data to read, a connection to accept, or hit EOF/error.
    Read,
    /// The fd can take more data, finished connecting, or hit an error.
    Write,
}

/// Readiness bookkeeping for one fd on one hub.
///
/// One cache line: the hub's event, the waiting thread's check and its
/// park all touch it, once per wait each, and on a server with many
/// connections every one of those touches is a miss.
#[repr(align(64))]
pub(crate) struct IoState {
    /// Moves by [`EDGE`] with every readable (or error/hang-up) event;
    /// [`CLOSED`] is set in it for good by an event saying the peer shut
    /// down or the fd hung up or failed. From then on a short transfer
    /// proves nothing (an EOF already queued behind the data gets no event
    /// of its own).
    read_seq: AtomicU64,
    /// The same for writable (or error/hang-up) events.
    write_seq: AtomicU64,
    /// `read_seq + 1` as it was before a short stream read (which left the
    /// kernel's receive buffer empty); 0 when none. While `read_seq` has
    /// not moved since, the next read waits for an edge before trying.
    read_short: AtomicU64,
    /// The same for a short stream write (the send buffer was full).
    write_short: AtomicU64,
    waiters: Mutex<Waiters>,
}

/// What one readiness event adds to a sequence. The low bit is [`CLOSED`],
/// so every sequence value without it is even and `seq + 1` (a short
/// transfer's mark) is never 0.
const EDGE: u64 = 2;
/// The low bit of both sequences once the fd closed (see `IoState`).
const CLOSED: u64 = 1;

/// The contexts waiting on one fd. Nearly always one at most per direction
/// (a connection's own green thread), kept inline so that neither waiting
/// nor waking touches a heap buffer.
#[derive(Default)]
struct Waiters {
    reader: Option<Arc<Ctx>>,
    writer: Option<Arc<Ctx>>,
    /// Waiters behind the inline one, in order; allocated on the first
    /// second waiter and kept (with its capacity) from then on.
    more: Option<Box<More>>,
}

#[derive(Default)]
struct More {
    readers: Vec<Arc<Ctx>>,
    writers: Vec<Arc<Ctx>>,
}

impl Waiters {
    /// The inline waiter and the rest, for one direction.
    fn list(&mut self, interest: Interest) -> (&mut Option<Arc<Ctx>>, Option<&mut Vec<Arc<Ctx>>>) {
        let more = self.more.as_deref_mut();
        match interest {
            Interest::Read => (&mut self.reader, more.map(|m| &mut m.readers)),
            Interest::Write => (&mut self.writer, more.map(|m| &mut m.writers)),
        }
    }

    fn contains(&mut self, interest: Interest, ctx: &Arc<Ctx>) -> bool {
        let (one, more) = self.list(interest);
        one.as_ref().is_some_and(|c| Arc::ptr_eq(c, ctx))
            || more.is_some_and(|more| more.iter().any(|c| Arc::ptr_eq(c, ctx)))
    }

    fn push(&mut self, interest: Interest, ctx: Arc<Ctx>) {
        let (one, more) = self.list(interest);
        // Inline only while nobody else waits, so the order stays FIFO.
        if one.is_none() && more.as_ref().is_none_or(|more| more.is_empty()) {
            *one = Some(ctx);
            return;
        }
        let more = self.more.get_or_insert_with(Box::default);
        match interest {
            Interest::Read => more.readers.push(ctx),
            Interest::Write => more.writers.push(ctx),
        }
    }

    fn remove(&mut self, interest: Interest, ctx: &Arc<Ctx>) {
        let (one, more) = self.list(interest);
        if one.as_ref().is_some_and(|c| Arc::ptr_eq(c, ctx)) {
            *one = None;
        } else if let Some(more) = more {
            more.retain(|c| !Arc::ptr_eq(c, ctx));
        }
    }

    /// Moves every waiter in one direction out, in order, to `woken`, and
    /// asks the CPU for the line of each context its wake will touch.
    fn drain_into(&mut self, interest: Interest, woken: &mut Vec<Arc<Ctx>>) {
        let (one, more) = self.list(interest);
        let more = more.into_iter().flat_map(|more| more.drain(..));
        for ctx in one.take().into_iter().chain(more) {
            crate::stack::prefetch(Arc::as_ptr(&ctx) as usize, 64);
            woken.push(ctx);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The critical sections below never panic; recover from poisoning anyway.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl IoState {
    fn new() -> IoState {
        IoState {
            read_seq: AtomicU64::new(0),
            write_seq: AtomicU64::new(0),
            read_short: AtomicU64::new(0),
            write_short: AtomicU64::new(0),
            waiters: Mutex::new(Waiters::default()),
        }
    }

    fn seq(&self, interest: Interest) -> &AtomicU64 {
        match interest {
            Interest::Read => &self.read_seq,
            Interest::Write => &self.write_seq,
        }
    }

    fn short(&self, interest: Interest) -> &AtomicU64 {
        match interest {
            Interest::Read => &self.read_short,
            Interest::Write => &self.write_short,
        }
    }

    /// Called by the hub for each poller event on this fd: moves the
    /// sequences and hands the waiters the event wakes to `woken`. The hub
    /// wakes them once the whole batch of events is done (outside every
    /// lock), so the lines of their contexts, asked for here, have arrived
    /// by then.
    pub(crate) fn on_event(&self, what: Readiness, woken: &mut Vec<Arc<Ctx>>) {
        let Readiness {
            readable,
            writable,
            closed,
        } = what;
        let mut w = lock(&self.waiters);
        if closed {
            // Before the edge: a waiter that sees the new sequence also
            // sees the mark.
            self.read_seq.fetch_or(CLOSED, Ordering::AcqRel);
            self.write_seq.fetch_or(CLOSED, Ordering::AcqRel);
        }
        for (on, interest) in [(readable, Interest::Read), (writable, Interest::Write)] {
            if on {
                self.seq(interest).fetch_add(EDGE, Ordering::AcqRel);
                w.drain_into(interest, woken);
            }
        }
    }

    /// Asks the CPU for this state's line (it is one, `repr(align(64))`),
    /// a few events before the hub handles this fd's.
    #[inline]
    pub(crate) fn prefetch(&self) {
        crate::stack::prefetch(self as *const IoState as usize, 64);
    }
}

/// How `GreenFd::wait_edge` ended.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Edge {
    /// A readiness edge arrived: retry the syscall.
    Ready,
    /// The deadline passed.
    TimedOut,
    /// The caller's `stop` condition became true.
    Stopped,
}

impl Edge {
    /// `Ok` to retry the syscall; else how `GreenFd::io` reports the end:
    /// `TimedOut`, or `Interrupted` without an OS error code.
    fn ended(self) -> io::Result<()> {
        match self {
            Edge::Ready => Ok(()),
            Edge::TimedOut => Err(io::ErrorKind::TimedOut.into()),
            Edge::Stopped => Err(io::ErrorKind::Interrupted.into()),
        }
    }
}

/// One registration of the fd, on one hub's poller.
struct Registration {
    hub: Arc<HubShared>,
    key: usize,
    state: Arc<IoState>,
}

/// An I/O object whose fd is waited on through the hubs.
///
/// The fd must already be in non-blocking mode; `GreenFd` does not change its
/// flags. Blocking calls on it go through [`GreenFd::io`]: try the syscall,
/// and on `WouldBlock` wait for readiness (parking only the calling green
/// thread, or running the calling OS thread's hub), then retry.
pub struct GreenFd<T: AsFd> {
    inner: Option<T>,
    /// The registration on the first hub that waited on the fd: nearly
    /// always the only one (a green thread never moves), so it is read
    /// without a lock and its state is borrowed, not reference-counted.
    /// Set once, under `regs`' lock.
    first: OnceLock<Registration>,
    /// Registrations on any further hubs.
    regs: Mutex<Vec<Registration>>,
}

/// The readiness state of the fd on the caller's hub: borrowed from the
/// fd's first registration, or shared from a further one.
enum StateRef<'a> {
    First(&'a IoState),
    Other(Arc<IoState>),
}

impl std::ops::Deref for StateRef<'_> {
    type Target = IoState;

    fn deref(&self) -> &IoState {
        match self {
            StateRef::First(state) => state,
            StateRef::Other(state) => state,
        }
    }
}

impl<T: AsFd + fmt::Debug> fmt::Debug for GreenFd<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.get_ref(), f)
    }
}

impl<T: AsFd> GreenFd<T> {
    /// Wraps `inner` (whose fd must be non-blocking). No syscall is made:
    /// registration happens on the first wait.
    pub fn new(inner: T) -> GreenFd<T> {
        GreenFd {
            inner: Some(inner),
            first: OnceLock::new(),
            regs: Mutex::new(Vec::new()),
        }
    }

    /// The wrapped object.
    pub fn get_ref(&self) -> &T {
        self.inner
            .as_ref()
            .expect("GreenFd accessed after into_inner")
    }

    /// Removes every registration and returns the wrapped object.
    pub fn into_inner(mut self) -> T {
        self.deregister_all();
        self.inner
            .take()
            .expect("GreenFd accessed after into_inner")
    }

    fn fd(&self) -> BorrowedFd<'_> {
        self.get_ref().as_fd()
    }

    /// The registration on the caller's hub, if there is one already.
    fn existing_state_here(&self) -> Option<StateRef<'_>> {
        let here = hub::with(|h| Arc::as_ptr(&h.shared));
        // Nothing is registered until `first` is.
        let first = self.first.get()?;
        if Arc::as_ptr(&first.hub) == here {
            return Some(StateRef::First(&first.state));
        }
        lock(&self.regs)
            .iter()
            .find(|r| Arc::as_ptr(&r.hub) == here)
            .map(|r| StateRef::Other(r.state.clone()))
    }

    /// The registration on the caller's hub, created on first use.
    fn state_here(&self) -> io::Result<StateRef<'_>> {
        if let Some(state) = self.existing_state_here() {
            return Ok(state);
        }
        let here = hub::with(|h| h.shared.clone());
        let mut regs = lock(&self.regs);
        // Looked for again under the lock: another thread of this hub may
        // have registered meanwhile.
        if let Some(r) = regs.iter().find(|r| Arc::ptr_eq(&r.hub, &here)) {
            return Ok(StateRef::Other(r.state.clone()));
        }
        if let Some(first) = self.first.get().filter(|f| Arc::ptr_eq(&f.hub, &here)) {
            return Ok(StateRef::First(&first.state));
        }
        let state = Arc::new(IoState::new());
        let key = lock(&here.io).insert(state.clone());
        // SAFETY: `polling` requires the fd to be deleted from the poller
        // before it is closed. The fd belongs to `self.inner`, which is only
        // released through `Drop` or `into_inner`, and both call
        // `deregister_all` (which deletes it from every poller) first.
        let added = unsafe { hub::poll::add_fd(&here.poller, self.fd(), key) };
        if let Err(e) = added {
            lock(&here.io).remove(key);
            return Err(e);
        }
        here.fds.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        hub::with(hub::Hub::serves_fds);
        let reg = Registration {
            hub: here,
            key,
            state: state.clone(),
        };
        // The first hub's registration goes inline (set only under `regs`'
        // lock, which is held); any later one joins the list.
        if let Err(reg) = self.first.set(reg) {
            regs.push(reg);
        }
        // Later calls borrow the first registration's state without a lock.
        Ok(StateRef::Other(state))
    }

    fn deregister_all(&mut self) {
        let mut regs = std::mem::take(self.regs.get_mut().unwrap_or_else(|p| p.into_inner()));
        regs.extend(self.first.take());
        if let Some(inner) = self.inner.as_ref() {
            for r in regs {
                // The fd is still open here; a failure means it was never
                // added or the poller is gone, and either way nothing stays
                // registered.
                let _ = r.hub.poller.delete(inner.as_fd());
                lock(&r.hub.io).remove(r.key);
                r.hub.fds.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
    }

    /// Waits for one readiness edge in `interest` after `seen` (a value of
    /// the sequence read before the failed syscall), until `deadline`, or
    /// until `stop` says so after a wake (its setter wakes this context).
    fn wait_edge(
        &self,
        state: &IoState,
        interest: Interest,
        seen: u64,
        deadline: Option<Instant>,
        stop: Option<&dyn Fn() -> bool>,
    ) -> Edge {
        let me = hub::with(|h| h.current_ctx());
        // Whatever way this wait ends (an edge, the deadline, or unwinding
        // from a cancellation point), it leaves no entry in the waiter list.
        struct Leave<'a> {
            state: &'a IoState,
            interest: Interest,
            me: &'a Arc<Ctx>,
        }
        impl Drop for Leave<'_> {
            fn drop(&mut self) {
                lock(&self.state.waiters).remove(self.interest, self.me);
            }
        }
        let _leave = Leave {
            state,
            interest,
            me: &me,
        };
        loop {
            {
                let mut w = lock(&state.waiters);
                if state.seq(interest).load(Ordering::Acquire) != seen {
                    return Edge::Ready;
                }
                if stop.is_some_and(|stop| stop()) {
                    return Edge::Stopped;
                }
                if !w.contains(interest, &me) {
                    w.push(interest, me.clone());
                }
            }
            let site = match interest {
                Interest::Read => &crate::dump::READABLE,
                Interest::Write => &crate::dump::WRITABLE,
            };
            me.parked_on
                .store(std::ptr::from_ref(state) as usize, Ordering::Relaxed);
            hub::park_at(site, self.fd().as_raw_fd() as u32, deadline);
            if state.seq(interest).load(Ordering::Acquire) != seen {
                return Edge::Ready;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Edge::TimedOut;
            }
        }
    }

    /// Waits until the fd reports `interest` readiness (an edge after this
    /// call began) or `deadline` passes. Returns `Ok(false)` on timeout.
    ///
    /// # Errors
    ///
    /// Registering the fd with the hub's poller failed.
    pub fn wait(&self, interest: Interest, deadline: Option<Instant>) -> io::Result<bool> {
        let state = self.state_here()?;
        let seen = state.seq(interest).load(Ordering::Acquire);
        Ok(self.wait_edge(&state, interest, seen, deadline, None) == Edge::Ready)
    }

    /// The one helper every blocking socket call is built on: run `op`; if it
    /// fails with `WouldBlock`, wait for `interest` readiness and run it
    /// again, until it succeeds, fails otherwise, or `deadline` passes.
    ///
    /// # Errors
    ///
    /// Whatever `op` returns other than `WouldBlock`; `Interrupted` is retried.
    /// When `deadline` passes, `ErrorKind::TimedOut` (callers mirroring std's
    /// socket timeouts map it to `WouldBlock`).
    pub fn io<R>(
        &self,
        interest: Interest,
        deadline: Option<Instant>,
        op: impl FnMut(&T) -> io::Result<R>,
    ) -> io::Result<R> {
        self.io_until(interest, deadline, None, op)
    }

    /// [`GreenFd::io`], also ending when `stop` returns `true` after a wake
    /// of the waiting context (whoever makes it true wakes the context):
    /// then `Err` of kind `Interrupted` with no OS error code, which no
    /// syscall's error looks like. The interposers' `EINTR` uses it.
    pub(crate) fn io_until<R>(
        &self,
        interest: Interest,
        deadline: Option<Instant>,
        stop: Option<&dyn Fn() -> bool>,
        op: impl FnMut(&T) -> io::Result<R>,
    ) -> io::Result<R> {
        self.io_loop(interest, deadline, stop, |_| false, op)
    }

    /// [`GreenFd::io`] for a byte stream (a TCP or Unix stream socket, a
    /// pipe) moving up to `len` bytes: a transfer shorter than `len`
    /// emptied the kernel's receive buffer (or filled its send buffer), so
    /// the next call in the same direction on this hub waits for a
    /// readiness edge before trying, unless one has come since: a saved
    /// syscall per wait (a read that would only say `WouldBlock`). Not for
    /// datagrams, where a short read says nothing about what is queued.
    ///
    /// # Errors
    ///
    /// As [`GreenFd::io`].
    pub fn io_stream(
        &self,
        interest: Interest,
        deadline: Option<Instant>,
        len: usize,
        op: impl FnMut(&T) -> io::Result<usize>,
    ) -> io::Result<usize> {
        self.io_loop(interest, deadline, None, |&n| n > 0 && n < len, op)
    }

    /// The loop behind `io`, `io_until` and `io_stream`: `short(&r)` says
    /// a successful result left the kernel's buffer empty (full).
    fn io_loop<R>(
        &self,
        interest: Interest,
        deadline: Option<Instant>,
        stop: Option<&dyn Fn() -> bool>,
        short: impl Fn(&R) -> bool,
        mut op: impl FnMut(&T) -> io::Result<R>,
    ) -> io::Result<R> {
        // Already registered on this hub: read the sequence before the first
        // attempt, so a first `WouldBlock` waits at once instead of retrying.
        let mut state: Option<StateRef<'_>> = self.existing_state_here();
        let mut waited = false;
        if let Some(s) = &state {
            // The last transfer here was short and no edge came since: the
            // syscall could only say WouldBlock. (An edge still queued in
            // the poller wakes this wait as soon as the hub polls.)
            let seen = s.seq(interest).load(Ordering::Acquire);
            if seen & CLOSED == 0 && s.short(interest).load(Ordering::Relaxed) == seen + 1 {
                waited = true;
                self.wait_edge(s, interest, seen, deadline, stop).ended()?;
            }
        }
        loop {
            let seen = state
                .as_ref()
                .map(|s| s.seq(interest).load(Ordering::Acquire));
            let result = {
                // green's own calls on its non-blocking fds skip the libc
                // interposers' checks (they would pass through anyway).
                #[cfg(feature = "interpose")]
                let _direct = crate::interpose::Direct::enter();
                op(self.get_ref())
            };
            match result {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => {
                    if let (Some(s), Some(seen), Ok(r)) = (&state, seen, &other) {
                        if seen & CLOSED == 0 && short(r) {
                            s.short(interest).store(seen + 1, Ordering::Relaxed);
                        }
                    }
                    if !waited {
                        // Done (or failed) at once: ready I/O in a loop, or
                        // an error that comes back at once (EMFILE from
                        // accept), must still let the hub's others run.
                        hub::consume();
                    }
                    return other;
                }
            }
            match (&state, seen) {
                (Some(s), Some(seen)) => {
                    waited = true;
                    self.wait_edge(s, interest, seen, deadline, stop).ended()?;
                }
                _ => {
                    // First WouldBlock: register, then retry at once — an
                    // edge may have passed before the registration existed.
                    state = Some(self.state_here()?);
                    if deadline.is_some_and(|d| Instant::now() >= d) {
                        return Err(io::ErrorKind::TimedOut.into());
                    }
                }
            }
        }
    }
}

impl<T: AsFd> Drop for GreenFd<T> {
    fn drop(&mut self) {
        self.deregister_all();
    }
}

impl<T: AsFd> AsFd for GreenFd<T> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd()
    }
}

impl<T: AsFd> AsRawFd for GreenFd<T> {
    fn as_raw_fd(&self) -> RawFd {
        self.fd().as_raw_fd()
    }
}

/// Puts `fd` in non-blocking (`on = true`) or blocking mode.
///
/// # Errors
///
/// The `fcntl` call failed (for example `EBADF`).
pub fn set_nonblocking(fd: BorrowedFd<'_>, on: bool) -> io::Result<()> {
    let raw = fd.as_raw_fd();
    // SAFETY: `raw` comes from a live `BorrowedFd`, so it is an open fd for
    // the duration of this call; F_GETFL takes no pointer argument.
    let flags = unsafe { libc::fcntl(raw, libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    let wanted = if on {
        flags | libc::O_NONBLOCK
    } else {
        flags & !libc::O_NONBLOCK
    };
    if wanted != flags {
        // SAFETY: as above; F_SETFL takes an int flag argument.
        if unsafe { libc::fcntl(raw, libc::F_SETFL, wanted) } < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Reads from a regular file's page cache without ever waiting for the disk:
/// `preadv2(RWF_NOWAIT)` at `offset`, or at (and advancing) the file's
/// cursor when `offset` is `None`.
///
/// Returns `None` when the read would have to wait for I/O (the data is not
/// cached), or when the kernel or file does not support it (pipes, old
/// kernels, some file systems) or fails — the caller then does the read on
/// the blocking pool, which gives std's exact answer. `Some(n)` is what the
/// read returned; a short
/// read (only part of the range cached) is a valid short read, as `read`
/// may always return fewer bytes than asked.
///
/// This is how green-fs serves cached reads on the hub without a trip to the
/// pool, while still never blocking it.
pub fn read_cached(fd: BorrowedFd<'_>, buf: &mut [u8], offset: Option<u64>) -> Option<usize> {
    if buf.is_empty() {
        return None;
    }
    let offset: libc::off_t = match offset {
        None => -1,
        Some(o) => match libc::off_t::try_from(o) {
            Ok(o) => o,
            Err(_) => return None,
        },
    };
    let iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    loop {
        // SAFETY: `fd` is a live descriptor for the duration of the call
        // (`BorrowedFd`), and `iov` describes exactly `buf`, which is valid
        // for writes of `buf.len()` bytes and outlives the call.
        let n = unsafe { libc::preadv2(fd.as_raw_fd(), &iov, 1, offset, libc::RWF_NOWAIT) };
        if n >= 0 {
            return Some(n as usize);
        }
        if io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
            continue;
        }
        // Not cached (EAGAIN), not supported here (EOPNOTSUPP, ESPIPE, ...),
        // or a real error: the pool repeats the read with std, so the
        // caller gets exactly std's answer.
        return None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The layout the hot path relies on: an fd's readiness state is one
    /// cache line, aligned, so an event, a check and a park touch one line.
    #[test]
    fn an_fd_state_is_one_cache_line() {
        assert_eq!(std::mem::size_of::<IoState>(), 64);
        assert_eq!(std::mem::align_of::<IoState>(), 64);
    }

    /// Events move each direction's sequence by an edge and leave the
    /// closed bit alone until an event says the fd closed; from then on it
    /// stays set in both sequences, and later edges still count. A short
    /// transfer's mark (`seq + 1`) is never 0, which means "none".
    #[test]
    fn events_move_the_sequences_and_closing_marks_both() {
        let state = IoState::new();
        let seqs = || {
            (
                state.read_seq.load(Ordering::Relaxed),
                state.write_seq.load(Ordering::Relaxed),
            )
        };
        let event = |readable, writable, closed| Readiness {
            readable,
            writable,
            closed,
        };
        let mut woken = Vec::new();
        state.on_event(event(true, false, false), &mut woken);
        state.on_event(event(true, true, false), &mut woken);
        assert!(woken.is_empty(), "nobody waited");
        assert_eq!(seqs(), (2 * EDGE, EDGE));
        let (r, w) = seqs();
        assert_eq!((r & CLOSED, w & CLOSED), (0, 0));
        assert_ne!(r + 1, 0);
        state.on_event(event(true, false, true), &mut woken);
        assert_eq!(seqs(), ((3 * EDGE) | CLOSED, EDGE | CLOSED));
        state.on_event(event(true, true, false), &mut woken);
        assert_eq!(seqs(), ((4 * EDGE) | CLOSED, (2 * EDGE) | CLOSED));
    }
}
