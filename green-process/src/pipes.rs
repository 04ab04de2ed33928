//! `ChildStdin`, `ChildStdout`, `ChildStderr`: the parent's ends of a
//! child's piped standard streams, on green-io's pipe ends.
//!
//! std creates the pipes fresh for each spawn, so the parent's end is an
//! open file description nobody else holds (the child holds the *other*
//! end, a different description): making it non-blocking cannot disturb
//! the child. Every conversion that gives the descriptor away (`OwnedFd`,
//! `Stdio`, `IntoRawFd`) puts it back in blocking mode first, so a second
//! child handed it (`cmd.stdin(first.stdout.take().unwrap())`) reads an
//! ordinary blocking pipe.

use std::fmt;
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, IntoRawFd, OwnedFd, RawFd};
use std::process::Stdio;

use green_io::{PipeReader, PipeWriter};

/// The parent's handle to a child's standard input, like
/// `std::process::ChildStdin`: a pipe whose writes wait through the hub.
///
/// Found in [`Child::stdin`](crate::Child::stdin) when the command's stdin
/// was [`Stdio::piped`]. Dropping it closes the pipe, so the child reads
/// EOF. Implements `Write` for `ChildStdin` and `&ChildStdin`, `AsFd`,
/// `AsRawFd`, `IntoRawFd`, `From<OwnedFd>`, `Into<OwnedFd>` and
/// `Into<Stdio>`, like std's; `Debug` prints `ChildStdin { .. }` as std's.
///
/// # Differences from std
///
/// A large `write` may return a short count where std's would have waited
/// to write it all; `write_all` loops, so the same bytes are delivered.
pub struct ChildStdin(PipeWriter);

/// The parent's handle to a child's standard output, like
/// `std::process::ChildStdout`: a pipe whose reads wait through the hub.
///
/// Found in [`Child::stdout`](crate::Child::stdout) when the command's
/// stdout was [`Stdio::piped`]. Implements `Read`, `AsFd`, `AsRawFd`,
/// `IntoRawFd`, `From<OwnedFd>`, `Into<OwnedFd>` and `Into<Stdio>`, like
/// std's; `Debug` prints `ChildStdout { .. }` as std's.
pub struct ChildStdout(PipeReader);

/// The parent's handle to a child's standard error, like
/// `std::process::ChildStderr`: a pipe whose reads wait through the hub.
///
/// Found in [`Child::stderr`](crate::Child::stderr) when the command's
/// stderr was [`Stdio::piped`]. Same traits as [`ChildStdout`].
pub struct ChildStderr(PipeReader);

impl Write for ChildStdin {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.0.write_vectored(bufs)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Write for &ChildStdin {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&self.0).write(buf)
    }
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        (&self.0).write_vectored(bufs)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Read for ChildStdout {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        self.0.read_vectored(bufs)
    }
}

impl Read for ChildStderr {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        self.0.read_vectored(bufs)
    }
}

/// The fd traits and conversions all three share with std's.
macro_rules! pipe_impls {
    ($green:ident, $end:ident, $std:ty) => {
        impl AsFd for $green {
            fn as_fd(&self) -> BorrowedFd<'_> {
                self.0.as_fd()
            }
        }

        impl AsRawFd for $green {
            fn as_raw_fd(&self) -> RawFd {
                self.0.as_raw_fd()
            }
        }

        impl IntoRawFd for $green {
            /// Gives up the descriptor, back in blocking mode.
            fn into_raw_fd(self) -> RawFd {
                self.0.into_raw_fd()
            }
        }

        impl From<OwnedFd> for $green {
            /// Adopts a pipe end (it is made non-blocking; its mode is
            /// restored when it is given up), as std's `From<OwnedFd>`.
            fn from(fd: OwnedFd) -> $green {
                $green($end::from(fd))
            }
        }

        impl From<$green> for OwnedFd {
            /// Gives up the descriptor, back in blocking mode.
            fn from(pipe: $green) -> OwnedFd {
                OwnedFd::from(pipe.0)
            }
        }

        impl From<$green> for Stdio {
            /// Hands the pipe to another child process, in blocking mode,
            /// as std's conversion does (`Command::stdin(child.stdout)`).
            fn from(pipe: $green) -> Stdio {
                Stdio::from(pipe.0)
            }
        }

        impl From<$std> for $green {
            /// Adopts std's handle (made non-blocking).
            fn from(pipe: $std) -> $green {
                $green::from(OwnedFd::from(pipe))
            }
        }

        impl fmt::Debug for $green {
            /// The same output as std's.
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($green)).finish_non_exhaustive()
            }
        }
    };
}

pipe_impls!(ChildStdin, PipeWriter, std::process::ChildStdin);
pipe_impls!(ChildStdout, PipeReader, std::process::ChildStdout);
pipe_impls!(ChildStderr, PipeReader, std::process::ChildStderr);

impl ChildStdout {
    /// Reads to EOF into `buf` (the helper behind `wait_with_output`).
    pub(crate) fn drain(mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        self.read_to_end(buf)
    }
}

impl ChildStderr {
    /// Reads to EOF into `buf` (the helper behind `wait_with_output`).
    pub(crate) fn drain(mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        self.read_to_end(buf)
    }
}
