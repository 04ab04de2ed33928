//! The standard streams: `stdin`, `stdout`, `stderr` and their locks.
//!
//! fds 0, 1 and 2 are shared with the parent process (and with whatever
//! else inherited them: a shell, a pipeline), so their `O_NONBLOCK` flag is
//! never changed: that flag belongs to the open file description, and
//! setting it would make the *other* holders' reads and writes fail with
//! `EAGAIN`. Readiness waits would need it (a readable terminal may still
//! block a `read` for a longer line; a writable pipe may block a write
//! larger than its free space), so every operation that can wait runs on
//! green-core's blocking pool instead, through std's own handles:
//!
//! * **stdout and stderr** write through `std::io::stdout()` /
//!   `std::io::stderr()` on a pool thread. The bytes go through std's own
//!   line buffer under std's own lock, so output written with green's
//!   `Stdout` and with `println!` comes out in program order and never
//!   interleaves inside one `write`/`write_all`/`write_fmt` call — the
//!   granularity std gives its own unlocked handle.
//! * **stdin** reads through `std::io::stdin()` on a pool thread, into a
//!   buffer of green's (8 KiB, like std's `BufReader`) behind a green
//!   mutex, so `read_line`, `lines` and `BufRead` on the lock have std's
//!   exact semantics while only the calling green thread waits.
//!
//! **Cancellation.** Every stream call that waits is a cancellation point
//! (`green::rt::timeout`, `Cancel::cancel`), and loses nothing when it is
//! cancelled: the pool job it started cannot be interrupted, so it runs to
//! its end and leaves its result where the next call finds it (a write
//! still lands, before any later write; bytes read from fd 0 go to green's
//! stdin buffer), and the next call on the stream waits for it first
//! ([`Flight`]), so a cancelled call holds at most one pool thread. A read
//! that had already taken bytes for its caller (`read_line`, `read_until`,
//! `read_exact`, `read_to_end`) puts them back if it is cancelled: the next
//! read returns them.
//!
//! The locks are green: [`StdoutLock`] and [`StderrLock`] hold a reentrant
//! lock that parks green threads (std's `ReentrantLock` belongs to an OS
//! thread, and all green threads of a hub share one), [`StdinLock`] a
//! green mutex.

use std::collections::VecDeque;
use std::fmt;
use std::io::{self, BufRead, IoSlice, IoSliceMut, Lines, Read, Write};
use std::marker::PhantomData;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::process::Stdio;
use std::sync::{Mutex as StdMutex, MutexGuard as StdMutexGuard, PoisonError};

use green_core::park::{self, Unparker};
use green_sync::{Condvar, Mutex, MutexGuard};

use crate::flight::Flight;

/// A reentrant lock that parks green threads: the owner (a green thread or
/// an OS thread, told apart by its [`Unparker`]) may take it again, as std's
/// stdout lock allows (`println!` while holding `stdout().lock()`).
struct ReentrantLock {
    state: Mutex<Owner>,
    released: Condvar,
}

/// Who holds a [`ReentrantLock`] and how many times.
struct Owner {
    /// `None` exactly when `depth` is 0.
    holder: Option<Unparker>,
    depth: usize,
}

impl ReentrantLock {
    const fn new() -> ReentrantLock {
        ReentrantLock {
            state: Mutex::new(Owner {
                holder: None,
                depth: 0,
            }),
            released: Condvar::new(),
        }
    }

    fn lock(&'static self) -> ReentrantGuard {
        let me = park::unparker();
        let mut owner = self.state.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            match &owner.holder {
                None => {
                    owner.holder = Some(me);
                    owner.depth = 1;
                    break;
                }
                Some(holder) if holder.same_context(&me) => {
                    owner.depth += 1;
                    break;
                }
                Some(_) => {
                    owner = self.released.wait(owner).unwrap_or_else(|p| p.into_inner());
                }
            }
        }
        ReentrantGuard {
            lock: self,
            _not_send: PhantomData,
        }
    }
}

/// One hold of a [`ReentrantLock`]; `!Send` like std's lock guards, since
/// the hold belongs to the context that took it.
struct ReentrantGuard {
    lock: &'static ReentrantLock,
    _not_send: PhantomData<std::sync::MutexGuard<'static, ()>>,
}

impl Drop for ReentrantGuard {
    fn drop(&mut self) {
        let mut owner = self.lock.state.lock().unwrap_or_else(|p| p.into_inner());
        owner.depth -= 1;
        if owner.depth == 0 {
            owner.holder = None;
            drop(owner);
            // Wake outside the state lock.
            self.lock.released.notify_one();
        }
    }
}

static STDOUT_LOCK: ReentrantLock = ReentrantLock::new();
static STDERR_LOCK: ReentrantLock = ReentrantLock::new();

/// Which output stream a pool job writes to.
#[derive(Clone, Copy)]
enum Out {
    Stdout,
    Stderr,
}

impl Out {
    /// Runs `f` on std's handle of this stream, on the blocking pool (inline
    /// on a plain OS thread whose hub has no green threads).
    ///
    /// One job per stream at a time ([`Flight`]): a write whose caller was
    /// cancelled still lands, and before the next one.
    fn run<T, F>(self, f: F) -> T
    where
        F: FnOnce(&mut dyn Write) -> T + Send + 'static,
        T: Send + 'static,
    {
        static STDOUT_FLIGHT: Flight = Flight::new();
        static STDERR_FLIGHT: Flight = Flight::new();
        let flight = match self {
            Out::Stdout => &STDOUT_FLIGHT,
            Out::Stderr => &STDERR_FLIGHT,
        };
        flight.turn().run(move || match self {
            Out::Stdout => f(&mut std::io::stdout()),
            Out::Stderr => f(&mut std::io::stderr()),
        })
    }

    fn write(self, buf: &[u8]) -> io::Result<usize> {
        let data = buf.to_vec();
        self.run(move |w| w.write(&data))
    }

    fn write_vectored(self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let parts: Vec<Vec<u8>> = bufs.iter().map(|b| b.to_vec()).collect();
        self.run(move |w| {
            let slices: Vec<IoSlice<'_>> = parts.iter().map(|p| IoSlice::new(p)).collect();
            w.write_vectored(&slices)
        })
    }

    fn write_all(self, buf: &[u8]) -> io::Result<()> {
        let data = buf.to_vec();
        self.run(move |w| w.write_all(&data))
    }

    fn flush(self) -> io::Result<()> {
        self.run(|w| w.flush())
    }

    /// Formats in memory, then writes the text in one `write_all` on the
    /// pool, so the whole message lands under one hold of std's lock.
    fn write_fmt(self, args: fmt::Arguments<'_>) -> io::Result<()> {
        if let Some(text) = args.as_str() {
            return self.write_all(text.as_bytes());
        }
        let mut text = String::new();
        let formatted = fmt::write(&mut text, args);
        self.write_all(text.as_bytes())?;
        if formatted.is_err() {
            panic!("a formatting trait implementation returned an error when the underlying stream did not");
        }
        Ok(())
    }
}

/// Declares one output stream: the handle, its lock, the constructor, and
/// their trait impls.
macro_rules! out_stream {
    (
        $(#[$handle_doc:meta])* $handle:ident,
        $(#[$lock_doc:meta])* $lock:ident,
        $(#[$ctor_doc:meta])* $ctor:ident,
        $std_ctor:path, $std_ty:ty, $which:expr, $global:ident
    ) => {
        $(#[$handle_doc])*
        pub struct $handle {
            std: $std_ty,
        }

        $(#[$lock_doc])*
        pub struct $lock<'a> {
            _hold: ReentrantGuard,
            std: $std_ty,
            _life: PhantomData<&'a ()>,
        }

        $(#[$ctor_doc])*
        #[must_use]
        pub fn $ctor() -> $handle {
            $handle { std: $std_ctor() }
        }

        impl $handle {
            /// Locks this handle for the calling thread (green or not) and
            /// returns a `'static` guard, like std's `lock`. Other green
            /// threads and OS threads writing through green's handle wait
            /// (parking, if green) until the guard is dropped; the owner may
            /// lock again (the lock is reentrant, as std's).
            ///
            /// # Differences from std
            ///
            /// The lock is green's: it excludes writers that use green's
            /// handle. Each write made through the guard still takes std's
            /// own lock on its own, so a `println!` from another thread may
            /// land between two writes of one guard (never inside one).
            pub fn lock(&self) -> $lock<'static> {
                $lock {
                    _hold: $global.lock(),
                    std: $std_ctor(),
                    _life: PhantomData,
                }
            }
        }

        impl Write for $handle {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                (&*self).write(buf)
            }
            fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
                (&*self).write_vectored(bufs)
            }
            fn flush(&mut self) -> io::Result<()> {
                (&*self).flush()
            }
            fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
                (&*self).write_all(buf)
            }
            fn write_fmt(&mut self, args: fmt::Arguments<'_>) -> io::Result<()> {
                (&*self).write_fmt(args)
            }
        }

        impl Write for &$handle {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                let _hold = $global.lock();
                $which.write(buf)
            }
            fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
                let _hold = $global.lock();
                $which.write_vectored(bufs)
            }
            fn flush(&mut self) -> io::Result<()> {
                let _hold = $global.lock();
                $which.flush()
            }
            fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
                let _hold = $global.lock();
                $which.write_all(buf)
            }
            fn write_fmt(&mut self, args: fmt::Arguments<'_>) -> io::Result<()> {
                let _hold = $global.lock();
                $which.write_fmt(args)
            }
        }

        impl Write for $lock<'_> {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                $which.write(buf)
            }
            fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
                $which.write_vectored(bufs)
            }
            fn flush(&mut self) -> io::Result<()> {
                $which.flush()
            }
            fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
                $which.write_all(buf)
            }
            fn write_fmt(&mut self, args: fmt::Arguments<'_>) -> io::Result<()> {
                $which.write_fmt(args)
            }
        }

        impl AsFd for $handle {
            fn as_fd(&self) -> BorrowedFd<'_> {
                self.std.as_fd()
            }
        }

        impl AsRawFd for $handle {
            fn as_raw_fd(&self) -> RawFd {
                self.std.as_raw_fd()
            }
        }

        impl AsFd for $lock<'_> {
            fn as_fd(&self) -> BorrowedFd<'_> {
                self.std.as_fd()
            }
        }

        impl AsRawFd for $lock<'_> {
            fn as_raw_fd(&self) -> RawFd {
                self.std.as_raw_fd()
            }
        }

        impl From<$handle> for Stdio {
            /// The stream for a child process, as std's conversion gives it
            /// (a duplicate of this process's descriptor).
            fn from(handle: $handle) -> Stdio {
                Stdio::from(handle.std)
            }
        }

        impl fmt::Debug for $handle {
            /// The same output as std's.
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($handle)).finish_non_exhaustive()
            }
        }

        impl fmt::Debug for $lock<'_> {
            /// The same output as std's.
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($lock)).finish_non_exhaustive()
            }
        }
    };
}

out_stream!(
    /// A handle to the process's standard output, like `std::io::Stdout`,
    /// whose writes never block the hub.
    ///
    /// Each write runs std's own `Stdout` method on the blocking pool, so
    /// output goes through std's line buffer and lock: it is line-buffered
    /// as std's, ordered with `println!` in program order, and a slow or
    /// full stdout (a terminal, a pipe nobody reads) parks only the writing
    /// green thread. fd 1's `O_NONBLOCK` flag is never touched.
    ///
    /// `Write` is implemented for `Stdout` and `&Stdout`; `AsFd`, `AsRawFd`,
    /// `Into<Stdio>` and `Debug` as std's. `Send` and `Sync`.
    ///
    /// # Differences from std
    ///
    /// * Every call is one trip to the pool (about 2 µs) and copies its
    ///   bytes; `write_fmt` formats in memory and writes once.
    /// * `IsTerminal` is green's own trait (std's is sealed); see
    ///   [`IsTerminal`](crate::IsTerminal).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Write;
    ///
    /// let mut out = green_io::stdout();
    /// writeln!(out, "hello from {}", "green")?;
    /// out.flush()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Outside a green thread
    ///
    /// On a plain OS thread whose hub has no green threads, the write runs
    /// inline: exactly std's call.
    Stdout,
    /// A locked handle to standard output, like `std::io::StdoutLock`,
    /// returned by [`Stdout::lock`]. `!Send`, like std's.
    StdoutLock,
    /// Returns a handle to the process's standard output, like
    /// `std::io::stdout`. All handles share std's one buffer and green's one
    /// lock.
    stdout,
    std::io::stdout, std::io::Stdout, Out::Stdout, STDOUT_LOCK
);

out_stream!(
    /// A handle to the process's standard error, like `std::io::Stderr`
    /// (unbuffered), whose writes never block the hub.
    ///
    /// Each write runs std's own `Stderr` method on the blocking pool; fd 2's
    /// `O_NONBLOCK` flag is never touched. Same traits as [`Stdout`].
    ///
    /// # Differences from std
    ///
    /// As [`Stdout`]: one pool trip per call, `write_fmt` writes once.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Write;
    ///
    /// writeln!(green_io::stderr(), "a warning")?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    Stderr,
    /// A locked handle to standard error, like `std::io::StderrLock`,
    /// returned by [`Stderr::lock`]. `!Send`, like std's.
    StderrLock,
    /// Returns a handle to the process's standard error, like
    /// `std::io::stderr`.
    stderr,
    std::io::stderr, std::io::Stderr, Out::Stderr, STDERR_LOCK
);

/// The capacity of green's stdin buffer: std's.
const STDIN_BUF: usize = 8 * 1024;

/// What stdin's pool jobs read and no reader has taken yet. A job leaves
/// what it read here before it finishes, whether or not the reader that
/// started it is still waiting (a cancelled reader is not), so the next
/// reader gets those bytes: nothing read from fd 0 is lost.
struct Deposit {
    /// Bytes read from fd 0, oldest first.
    bytes: VecDeque<u8>,
    /// How the last read ended, after `bytes`: `Some(Ok(()))` for end of
    /// file, `Some(Err(_))` for an error; each is reported to one reader.
    end: Option<io::Result<()>>,
}

static DEPOSIT: StdMutex<Deposit> = StdMutex::new(Deposit {
    bytes: VecDeque::new(),
    end: None,
});

/// One pool job at a time reads fd 0.
static STDIN_FLIGHT: Flight = Flight::new();

/// The deposit; held for a few instructions only (never across a park), so
/// its poisoning by an unwinding reader is ignored.
fn deposit() -> StdMutexGuard<'static, Deposit> {
    DEPOSIT.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Green's stdin buffer, shared by every [`Stdin`] handle (behind a green
/// mutex: the lock of [`StdinLock`]).
///
/// `buf[pos..]` holds the bytes taken from the [`Deposit`] and not yet
/// consumed. Reads that might wait with bytes already taken for their
/// caller (`read_line`, `read_until`, `read_exact`, `read_to_end`) put
/// those bytes back at the front if they unwind (cancelled, or a
/// `timeout` passed), so the next read sees them again.
struct StdinBuf {
    buf: Vec<u8>,
    pos: usize,
}

/// std's message for a read that was not UTF-8.
fn invalid_utf8() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        "stream did not contain valid UTF-8",
    )
}

impl StdinBuf {
    const fn new() -> StdinBuf {
        StdinBuf {
            buf: Vec::new(),
            pos: 0,
        }
    }

    /// The buffered bytes, reading fd 0 on the pool if there are none.
    /// Empty means end of file.
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos >= self.buf.len() {
            self.refill(STDIN_BUF, false)?;
        }
        Ok(&self.buf[self.pos..])
    }

    fn consume(&mut self, amt: usize) {
        self.pos = (self.pos + amt).min(self.buf.len());
    }

    /// Puts `bytes` back in front of the buffered ones (an unwinding read
    /// returns what it had taken).
    fn unread(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let mut front = Vec::with_capacity(bytes.len() + self.buf.len() - self.pos);
        front.extend_from_slice(bytes);
        front.extend_from_slice(&self.buf[self.pos..]);
        self.buf = front;
        self.pos = 0;
    }

    /// Refills the (empty) buffer from the deposit, running a pool job that
    /// reads fd 0 first if the deposit is empty: one `read` of up to `want`
    /// bytes, or, with `to_end`, std's `read_to_end`. An end of file
    /// leaves the buffer empty and returns `Ok`.
    fn refill(&mut self, want: usize, to_end: bool) -> io::Result<()> {
        loop {
            // Waits, if a cancelled reader left a job running, until it has
            // deposited what it read.
            let turn = STDIN_FLIGHT.turn();
            {
                let mut d = deposit();
                if !d.bytes.is_empty() {
                    self.buf.clear();
                    self.buf.extend(d.bytes.drain(..));
                    self.pos = 0;
                    return Ok(());
                }
                if let Some(end) = d.end.take() {
                    self.buf.clear();
                    self.pos = 0;
                    return end;
                }
            }
            // The job deposits before it ends, so the bytes are kept even if
            // this reader is cancelled while it waits; the loop takes them.
            turn.run(move || {
                let mut stdin = std::io::stdin();
                let mut data = Vec::new();
                let end = if to_end {
                    Some(stdin.read_to_end(&mut data).map(drop))
                } else {
                    data.resize(want, 0);
                    match stdin.read(&mut data) {
                        Ok(0) => {
                            data.clear();
                            Some(Ok(()))
                        }
                        Ok(n) => {
                            data.truncate(n);
                            None
                        }
                        Err(e) => {
                            data.clear();
                            Some(Err(e))
                        }
                    }
                };
                let mut d = deposit();
                d.bytes.extend(data);
                d.end = end;
            });
        }
    }

    /// `fill_buf`, retried on `Interrupted` (as std's buffered loops do).
    fn fill_retrying(&mut self) -> io::Result<&[u8]> {
        loop {
            match self.fill_buf() {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
                Ok(_) => return Ok(&self.buf[self.pos..]),
            }
        }
    }

    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos >= self.buf.len() {
            // A large read goes to fd 0 in one job, as std's `BufReader`
            // bypasses its buffer for it.
            self.refill(out.len().max(STDIN_BUF), false)?;
        }
        let available = &self.buf[self.pos..];
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        if self.pos >= self.buf.len() {
            self.refill(total.max(STDIN_BUF), false)?;
        }
        let mut available = &self.buf[self.pos..];
        let mut n = 0;
        for b in bufs {
            let k = available.len().min(b.len());
            b[..k].copy_from_slice(&available[..k]);
            available = &available[k..];
            n += k;
            if available.is_empty() {
                break;
            }
        }
        self.consume(n);
        Ok(n)
    }

    /// Appends bytes up to and including `byte` (or to end of file) to
    /// `out`, as std's `read_until`; on an error the bytes read before it
    /// stay in `out`, as std's. If it unwinds, they go back to the buffer.
    fn read_until(&mut self, byte: u8, out: &mut Vec<u8>) -> io::Result<usize> {
        let taken = Taken::new(self, out);
        let result = loop {
            let (done, used) = {
                let available = match taken.from.fill_retrying() {
                    Ok(available) => available,
                    Err(e) => break Err(e),
                };
                match available.iter().position(|&b| b == byte) {
                    Some(i) => {
                        taken.into.extend_from_slice(&available[..=i]);
                        (true, i + 1)
                    }
                    None => {
                        taken.into.extend_from_slice(available);
                        (available.is_empty(), available.len())
                    }
                }
            };
            taken.from.consume(used);
            if done {
                break Ok(());
            }
        };
        taken.keep(result)
    }

    /// std's `read_line`: `read_until(b'\n')`, then the UTF-8 check; `buf`
    /// is left as it was if the line is not UTF-8.
    fn read_line(&mut self, buf: &mut String) -> io::Result<usize> {
        let mut line = Vec::new();
        let result = self.read_until(b'\n', &mut line);
        match String::from_utf8(line) {
            Ok(line) => {
                buf.push_str(&line);
                result
            }
            Err(_) => result.and_then(|_| Err(invalid_utf8())),
        }
    }

    /// The buffered bytes, then the rest of stdin in one pool job.
    fn read_to_end(&mut self, out: &mut Vec<u8>) -> io::Result<usize> {
        let taken = Taken::new(self, out);
        let available = &taken.from.buf[taken.from.pos..];
        taken.into.extend_from_slice(available);
        taken.from.pos = taken.from.buf.len();
        let result = loop {
            match taken.from.refill(0, true) {
                Ok(()) => {
                    let StdinBuf { buf, pos } = &mut *taken.from;
                    if *pos >= buf.len() {
                        // End of file.
                        break Ok(());
                    }
                    taken.into.extend_from_slice(&buf[*pos..]);
                    *pos = buf.len();
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        taken.keep(result)
    }

    /// std's `read_to_string` over [`StdinBuf::read_to_end`]: on an error
    /// the bytes read are kept if they are UTF-8; `buf` is left as it was
    /// if they are not.
    fn read_to_string(&mut self, buf: &mut String) -> io::Result<usize> {
        let mut bytes = Vec::new();
        let result = self.read_to_end(&mut bytes);
        match String::from_utf8(bytes) {
            Ok(text) => {
                buf.push_str(&text);
                result
            }
            Err(_) => result.and_then(|_| Err(invalid_utf8())),
        }
    }

    /// Fills `out` exactly, as std's `read_exact`: `UnexpectedEof` if stdin
    /// ends first (the bytes read are consumed, as std's). If it unwinds,
    /// they go back to the buffer.
    fn read_exact(&mut self, out: &mut [u8]) -> io::Result<()> {
        let mut got = Vec::with_capacity(out.len());
        let taken = Taken::new(self, &mut got);
        let result = loop {
            let want = out.len() - taken.into.len();
            if want == 0 {
                break Ok(());
            }
            let used = {
                let available = match taken.from.fill_retrying() {
                    Ok(available) => available,
                    Err(e) => break Err(e),
                };
                if available.is_empty() {
                    break Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "failed to fill whole buffer",
                    ));
                }
                let k = available.len().min(want);
                taken.into.extend_from_slice(&available[..k]);
                k
            };
            taken.from.consume(used);
        };
        taken.keep(result)?;
        out.copy_from_slice(&got);
        Ok(())
    }
}

/// Bytes a read moved from the buffer into its caller's `into` (from
/// `start` on) while it may still wait for more. Dropped without
/// [`Taken::keep`] (the read unwound: cancelled, or a `timeout` passed), it
/// takes them out of `into` and puts them back in front of the buffer.
struct Taken<'a> {
    from: &'a mut StdinBuf,
    into: &'a mut Vec<u8>,
    start: usize,
    kept: bool,
}

impl<'a> Taken<'a> {
    fn new(from: &'a mut StdinBuf, into: &'a mut Vec<u8>) -> Taken<'a> {
        let start = into.len();
        Taken {
            from,
            into,
            start,
            kept: false,
        }
    }

    /// The read returned: the bytes stay with the caller. Returns how many
    /// were appended with `result`'s outcome.
    fn keep(mut self, result: io::Result<()>) -> io::Result<usize> {
        self.kept = true;
        result.map(|()| self.into.len() - self.start)
    }
}

impl Drop for Taken<'_> {
    fn drop(&mut self) {
        if !self.kept {
            let bytes = self.into.split_off(self.start);
            self.from.unread(&bytes);
        }
    }
}

fn stdin_buf() -> &'static Mutex<StdinBuf> {
    static STDIN: Mutex<StdinBuf> = Mutex::new(StdinBuf::new());
    &STDIN
}

/// A handle to the process's standard input, like `std::io::Stdin`, whose
/// reads never block the hub.
///
/// Reads are served from a shared 8 KiB buffer (std's size) behind a green
/// mutex; refilling it runs std's `Stdin::read` on the blocking pool, so
/// while a terminal or a pipe has nothing to give only the reading green
/// thread waits. fd 0's `O_NONBLOCK` flag is never touched.
///
/// `Read` is implemented for `Stdin` and `&Stdin`; `AsFd`, `AsRawFd` and
/// `Debug` as std's. `Send` and `Sync`.
///
/// # Differences from std
///
/// * Green keeps its own buffer above std's: bytes green has buffered are
///   not seen by code that reads `std::io::stdin()` directly (while green
///   sees what std had buffered first). Read stdin through one of the two.
/// * A pool thread stays blocked in `read` while stdin has no data.
/// * `IsTerminal` is green's own trait (std's is sealed).
///
/// # Cancellation
///
/// Reads that wait are cancellation points (`green::rt::timeout`,
/// `green::thread::Cancel`). A cancelled read loses no input: what the pool
/// had already read from fd 0, and what a `read_line`, `read_until`,
/// `read_exact` or `read_to_end` had taken for its caller, is returned by
/// the next read, in order. The caller's buffer is left as it was.
///
/// # Examples
///
/// ```no_run
/// let mut name = String::new();
/// green_io::stdin().read_line(&mut name)?;
/// println!("hello, {}", name.trim_end());
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Stdin {
    buf: &'static Mutex<StdinBuf>,
    std: std::io::Stdin,
}

/// A locked handle to standard input, like `std::io::StdinLock`: `Read` and
/// `BufRead` on green's shared buffer. `!Send`, like std's.
pub struct StdinLock<'a> {
    guard: MutexGuard<'static, StdinBuf>,
    std: std::io::Stdin,
    _life: PhantomData<&'a ()>,
}

/// Returns a handle to the process's standard input, like
/// `std::io::stdin`. All handles share one buffer.
#[must_use]
pub fn stdin() -> Stdin {
    Stdin {
        buf: stdin_buf(),
        std: std::io::stdin(),
    }
}

impl Stdin {
    /// Locks this handle and returns a `'static` guard implementing `Read`
    /// and `BufRead`, like std's `lock`. Other readers wait (parking, if
    /// green) until it is dropped.
    pub fn lock(&self) -> StdinLock<'static> {
        StdinLock {
            guard: self.buf.lock().unwrap_or_else(|p| p.into_inner()),
            std: std::io::stdin(),
            _life: PhantomData,
        }
    }

    /// Locks stdin and reads a line into `buf`, like std's `read_line`:
    /// bytes up to and including the next `\n` (or EOF) are appended.
    /// Returns the number of bytes read; `Ok(0)` at EOF.
    ///
    /// # Errors
    ///
    /// As std: `InvalidData` if the line is not UTF-8 (and `buf` is left as
    /// it was), or the read's error.
    pub fn read_line(&self, buf: &mut String) -> io::Result<usize> {
        self.lock().read_line(buf)
    }

    /// Consumes the handle and returns an iterator over the lines of stdin,
    /// like std's `lines` (each without its `\n` or `\r\n`).
    pub fn lines(self) -> Lines<StdinLock<'static>> {
        self.lock().lines()
    }
}

impl Read for Stdin {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.lock().read(buf)
    }
    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        self.lock().read_vectored(bufs)
    }
    fn read_to_end(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        self.lock().read_to_end(buf)
    }
    fn read_to_string(&mut self, buf: &mut String) -> io::Result<usize> {
        self.lock().read_to_string(buf)
    }
    fn read_exact(&mut self, buf: &mut [u8]) -> io::Result<()> {
        self.lock().read_exact(buf)
    }
}

impl Read for &Stdin {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.lock().read(buf)
    }
    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        self.lock().read_vectored(bufs)
    }
    fn read_to_end(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        self.lock().read_to_end(buf)
    }
    fn read_to_string(&mut self, buf: &mut String) -> io::Result<usize> {
        self.lock().read_to_string(buf)
    }
    fn read_exact(&mut self, buf: &mut [u8]) -> io::Result<()> {
        self.lock().read_exact(buf)
    }
}

impl Read for StdinLock<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.guard.read(buf)
    }
    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        self.guard.read_vectored(bufs)
    }
    fn read_to_end(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        self.guard.read_to_end(buf)
    }
    fn read_to_string(&mut self, buf: &mut String) -> io::Result<usize> {
        self.guard.read_to_string(buf)
    }
    fn read_exact(&mut self, buf: &mut [u8]) -> io::Result<()> {
        self.guard.read_exact(buf)
    }
}

impl BufRead for StdinLock<'_> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.guard.fill_buf()
    }
    fn consume(&mut self, amt: usize) {
        self.guard.consume(amt);
    }
    fn read_until(&mut self, byte: u8, buf: &mut Vec<u8>) -> io::Result<usize> {
        self.guard.read_until(byte, buf)
    }
    fn read_line(&mut self, buf: &mut String) -> io::Result<usize> {
        self.guard.read_line(buf)
    }
}

impl AsFd for Stdin {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.std.as_fd()
    }
}

impl AsRawFd for Stdin {
    fn as_raw_fd(&self) -> RawFd {
        self.std.as_raw_fd()
    }
}

impl AsFd for StdinLock<'_> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.std.as_fd()
    }
}

impl AsRawFd for StdinLock<'_> {
    fn as_raw_fd(&self) -> RawFd {
        self.std.as_raw_fd()
    }
}

impl fmt::Debug for Stdin {
    /// The same output as std's.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stdin").finish_non_exhaustive()
    }
}

impl fmt::Debug for StdinLock<'_> {
    /// The same output as std's.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StdinLock").finish_non_exhaustive()
    }
}
