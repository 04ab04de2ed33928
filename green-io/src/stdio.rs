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
//!   buffer of green's (`BufReader`, 8 KiB, like std's) behind a green
//!   mutex, so `read_line`, `lines` and `BufRead` on the lock have std's
//!   exact semantics while only the calling green thread waits.
//!
//! The locks are green: [`StdoutLock`] and [`StderrLock`] hold a reentrant
//! lock that parks green threads (std's `ReentrantLock` belongs to an OS
//! thread, and all green threads of a hub share one), [`StdinLock`] a
//! green mutex.

use std::fmt;
use std::io::{self, BufRead, BufReader, IoSlice, IoSliceMut, Lines, Read, Write};
use std::marker::PhantomData;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::process::Stdio;
use std::sync::OnceLock;

use green_core::park::{self, Unparker};
use green_sync::{Condvar, Mutex, MutexGuard};

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
    fn run<T, F>(self, f: F) -> T
    where
        F: FnOnce(&mut dyn Write) -> T + Send + 'static,
        T: Send + 'static,
    {
        green_core::unblock(move || match self {
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

/// The unbuffered source under green's stdin buffer: std's stdin, read on
/// the blocking pool.
struct StdinRaw;

impl Read for StdinRaw {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = buf.len();
        let (data, read) = green_core::unblock(move || {
            let mut data = vec![0; want];
            let read = std::io::stdin().read(&mut data);
            (data, read)
        });
        let n = read?;
        buf[..n].copy_from_slice(&data[..n]);
        Ok(n)
    }

    /// The whole rest of stdin in one pool trip. As std: on an error, the
    /// bytes read before it are appended and the error is returned.
    fn read_to_end(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        let (data, read) = green_core::unblock(|| {
            let mut data = Vec::new();
            let read = std::io::stdin().read_to_end(&mut data);
            (data, read)
        });
        buf.extend_from_slice(&data);
        read
    }
}

/// Green's stdin buffer, shared by every [`Stdin`] handle.
type StdinBuf = BufReader<StdinRaw>;

/// The capacity of green's stdin buffer: std's.
const STDIN_BUF: usize = 8 * 1024;

fn stdin_buf() -> &'static Mutex<StdinBuf> {
    static STDIN: OnceLock<Mutex<StdinBuf>> = OnceLock::new();
    STDIN.get_or_init(|| Mutex::new(BufReader::with_capacity(STDIN_BUF, StdinRaw)))
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
