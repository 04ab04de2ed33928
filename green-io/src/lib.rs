//! Green replacement for the blocking parts of `std::io`: the same items
//! with the same signatures, which never block the hub.
//!
//! What can wait is green: [`pipe`] and its ends wait through the hub's
//! poller ([`green_core::io::GreenFd`]); [`stdin`], [`stdout`] and
//! [`stderr`] leave the `O_NONBLOCK` flag of fds 0, 1 and 2 alone (it is
//! shared with the parent process) and wait on green-core's blocking pool
//! through std's own handles. Everything else in `std::io` never blocks by
//! itself and is std's own item, re-exported: `Read`, `Write`, `BufRead`,
//! `BufReader`, `Cursor`, `Error`, `ErrorKind`, `copy`, ... — so
//! `use green::io::{self, Read, Write, BufReader};` compiles unchanged, and
//! the generic adapters work over green's readers and writers.
//!
//! ```
//! use green_io::{self as io, BufRead, BufReader, Write};
//!
//! let (reader, mut writer) = io::pipe()?;
//! let producer = green_core::thread::spawn(move || -> io::Result<()> {
//!     for i in 0..3 {
//!         writeln!(writer, "line {i}")?;
//!     }
//!     Ok(())
//! });
//! let lines: Vec<String> = BufReader::new(reader).lines().collect::<io::Result<_>>()?;
//! producer.join().unwrap()?;
//! assert_eq!(lines, ["line 0", "line 1", "line 2"]);
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # Outside a green thread
//!
//! Called from a plain OS thread, every item blocks its caller exactly as
//! std's would; green threads placed on that thread's hub keep running
//! meanwhile.
//!
//! # Differences from std
//!
//! * [`IsTerminal`] is green's own trait (std's is sealed), implemented for
//!   every `AsFd` type.
//! * The standard streams cost one pool trip per call; see [`Stdout`] and
//!   [`Stdin`] for the buffering and locking details.
//! * Unstable `std::io` items (`BorrowedBuf`, `RawOsError`, ...) are not
//!   mirrored.

#![deny(unsafe_code)]

mod flight;
mod pipe;
mod stdio;
mod terminal;

pub use pipe::{pipe, PipeReader, PipeWriter};
pub use stdio::{stderr, stdin, stdout, Stderr, StderrLock, Stdin, StdinLock, Stdout, StdoutLock};
pub use terminal::IsTerminal;

#[doc(no_inline)]
pub use std::io::{
    copy, empty, prelude, read_to_string, repeat, sink, BufRead, BufReader, BufWriter, Bytes,
    Chain, Cursor, Empty, Error, ErrorKind, IntoInnerError, IoSlice, IoSliceMut, LineWriter, Lines,
    Read, Repeat, Result, Seek, SeekFrom, Sink, Split, Take, Write, WriterPanicked,
};
