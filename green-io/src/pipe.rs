//! Anonymous pipes: `pipe`, `PipeReader`, `PipeWriter`, on green-core's
//! `GreenFd`.
//!
//! A pipe end is a std pipe end whose descriptor is in non-blocking mode,
//! wrapped in a `GreenFd`: a read or write tries the syscall, and on
//! `WouldBlock` parks the calling green thread until the hub's poller reports
//! readiness. The pipes [`pipe`] creates are new open file descriptions that
//! nobody else shares, so making them non-blocking is invisible to anyone.
//!
//! An end adopted from an `OwnedFd` remembers the mode it came in, and every
//! way of giving the descriptor up (`Into<OwnedFd>`, `IntoRawFd`,
//! `Into<Stdio>`) puts that mode back first: a descriptor handed to a child
//! process as its stdin must be blocking, or the child's reads would fail
//! with `EAGAIN`.

use std::fmt;
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::process::Stdio;

use green_core::io::{GreenFd, Interest};

/// One end of a pipe: the std end, non-blocking, waited on through the hub.
pub(crate) struct End<T: AsFd> {
    fd: GreenFd<T>,
    /// The `O_NONBLOCK` mode the descriptor had when it was adopted; put back
    /// when the descriptor is given up.
    was_nonblocking: bool,
}

impl<T: AsFd + From<OwnedFd> + Into<OwnedFd>> End<T> {
    /// Adopts `fd`, noting its mode and making it non-blocking.
    fn adopt(fd: OwnedFd) -> End<T> {
        // A descriptor whose flags cannot be read or set is left as it is:
        // its first syscall reports the same error std would see.
        let was_nonblocking = green_core::fd::is_nonblocking(fd.as_fd()).unwrap_or(false);
        if !was_nonblocking {
            let _ = green_core::io::set_nonblocking(fd.as_fd(), true);
        }
        End {
            fd: GreenFd::new(T::from(fd)),
            was_nonblocking,
        }
    }

    /// Gives the descriptor up in the mode it was adopted in.
    fn into_owned(self) -> OwnedFd {
        let was_nonblocking = self.was_nonblocking;
        let fd: OwnedFd = self.fd.into_inner().into();
        if !was_nonblocking {
            // Only fails for a descriptor that is not open, which an
            // `OwnedFd` always is.
            let _ = green_core::io::set_nonblocking(fd.as_fd(), false);
        }
        fd
    }

    fn get(&self) -> &T {
        self.fd.get_ref()
    }
}

impl<T: AsFd> End<T>
where
    for<'a> &'a T: Read,
{
    fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.fd
            .io(Interest::Read, None, |p| <&T as Read>::read(&mut &*p, buf))
    }

    fn read_vectored(&self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        self.fd.io(Interest::Read, None, |p| {
            <&T as Read>::read_vectored(&mut &*p, bufs)
        })
    }
}

impl<T: AsFd> End<T>
where
    for<'a> &'a T: Write,
{
    fn write(&self, buf: &[u8]) -> io::Result<usize> {
        self.fd.io(Interest::Write, None, |p| {
            <&T as Write>::write(&mut &*p, buf)
        })
    }

    fn write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.fd.io(Interest::Write, None, |p| {
            <&T as Write>::write_vectored(&mut &*p, bufs)
        })
    }
}

/// Creates an anonymous pipe, like `std::io::pipe`: bytes written to the
/// [`PipeWriter`] are read from the [`PipeReader`].
///
/// Both ends are close-on-exec (as std's) and non-blocking at the OS level;
/// reads and writes wait through the hub, so only the calling green thread
/// waits for a slow other end. Converting an end into an `OwnedFd` or a
/// `Stdio` puts it back in blocking mode, so a child process handed it sees
/// an ordinary pipe.
///
/// # Errors
///
/// As std: the OS error of `pipe2` (`EMFILE`, `ENFILE`).
///
/// # Examples
///
/// ```
/// use std::io::{Read, Write};
///
/// let (mut reader, mut writer) = green_io::pipe()?;
/// let sender = green_core::thread::spawn(move || writer.write_all(b"through the pipe"));
/// let mut text = String::new();
/// reader.read_to_string(&mut text)?; // EOF once the writer is dropped
/// sender.join().unwrap()?;
/// assert_eq!(text, "through the pipe");
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # Outside a green thread
///
/// A read or write that would wait runs the calling OS thread's hub until
/// the pipe is ready, so it blocks its caller just as std's would.
pub fn pipe() -> io::Result<(PipeReader, PipeWriter)> {
    let (r, w) = std::io::pipe()?;
    Ok((
        PipeReader::from(OwnedFd::from(r)),
        PipeWriter::from(OwnedFd::from(w)),
    ))
}

/// The read end of an anonymous pipe, like `std::io::PipeReader`.
///
/// Implements `Read` for `PipeReader` and `&PipeReader`, `AsFd`, `AsRawFd`,
/// `FromRawFd`, `IntoRawFd`, `From<OwnedFd>`, `Into<OwnedFd>` and
/// `Into<Stdio>`, like std's; `Debug` prints what std's prints. Reads wait
/// through the hub: while the pipe is empty only the calling green thread
/// waits. A read returns `Ok(0)` once every writer is closed and the pipe is
/// drained.
///
/// # Differences from std
///
/// * The descriptor is non-blocking at the OS level while green holds it.
///   It is shared with the clones made by [`PipeReader::try_clone`]:
///   converting one of them into an `OwnedFd` or `Stdio` puts the shared
///   description back in blocking mode, after which the other clones' reads
///   still work but block their hub while they wait. Convert the last clone.
pub struct PipeReader(End<std::io::PipeReader>);

/// The write end of an anonymous pipe, like `std::io::PipeWriter`.
///
/// Implements `Write` for `PipeWriter` and `&PipeWriter`, and the same fd
/// traits and conversions as [`PipeReader`]. Writes wait through the hub:
/// while the pipe is full only the calling green thread waits. A write of at
/// most `PIPE_BUF` (4096) bytes is atomic, as with std. Writing after every
/// reader is closed fails with `BrokenPipe` (Rust ignores `SIGPIPE`).
///
/// # Differences from std
///
/// * A large `write` may return a short count where std's blocking write
///   would have waited to write it all; `write_all` (and every formatting
///   macro) loops, so the bytes delivered are the same.
/// * The descriptor is non-blocking at the OS level while green holds it;
///   see [`PipeReader`] about clones.
pub struct PipeWriter(End<std::io::PipeWriter>);

impl PipeReader {
    /// Creates a new `PipeReader` for the same pipe, like std's `try_clone`
    /// (`fcntl(F_DUPFD_CLOEXEC)`); both share one open file description.
    ///
    /// # Errors
    ///
    /// As std: the OS error of the `fcntl` (`EMFILE`).
    pub fn try_clone(&self) -> io::Result<PipeReader> {
        Ok(PipeReader(End {
            fd: GreenFd::new(self.0.get().try_clone()?),
            was_nonblocking: self.0.was_nonblocking,
        }))
    }
}

impl PipeWriter {
    /// Creates a new `PipeWriter` for the same pipe, like std's `try_clone`;
    /// both share one open file description.
    ///
    /// # Errors
    ///
    /// As std: the OS error of the `fcntl` (`EMFILE`).
    pub fn try_clone(&self) -> io::Result<PipeWriter> {
        Ok(PipeWriter(End {
            fd: GreenFd::new(self.0.get().try_clone()?),
            was_nonblocking: self.0.was_nonblocking,
        }))
    }
}

impl Read for PipeReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        self.0.read_vectored(bufs)
    }
}

impl Read for &PipeReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        self.0.read_vectored(bufs)
    }
}

impl Write for PipeWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.0.write_vectored(bufs)
    }

    /// Pipes have no user-space buffer: a no-op, as std's.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Write for &PipeWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.0.write_vectored(bufs)
    }

    /// Pipes have no user-space buffer: a no-op, as std's.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The fd traits and conversions both ends share with std's.
macro_rules! end_impls {
    ($green:ident, $std:ty) => {
        impl AsFd for $green {
            fn as_fd(&self) -> BorrowedFd<'_> {
                self.0.get().as_fd()
            }
        }

        impl AsRawFd for $green {
            fn as_raw_fd(&self) -> RawFd {
                self.0.get().as_raw_fd()
            }
        }

        impl FromRawFd for $green {
            #[allow(unsafe_code)]
            unsafe fn from_raw_fd(fd: RawFd) -> $green {
                // SAFETY: the caller guarantees, as `FromRawFd` requires,
                // that `fd` is open and owned by nobody else; ownership
                // passes to the returned value, which closes it once.
                $green::from(unsafe { OwnedFd::from_raw_fd(fd) })
            }
        }

        impl IntoRawFd for $green {
            /// Gives up the descriptor, in the blocking mode it was adopted
            /// in (blocking, for ends made by [`pipe`]).
            fn into_raw_fd(self) -> RawFd {
                self.0.into_owned().into_raw_fd()
            }
        }

        impl From<OwnedFd> for $green {
            /// Adopts the descriptor: its current mode is remembered, then it
            /// is made non-blocking.
            fn from(fd: OwnedFd) -> $green {
                $green(End::adopt(fd))
            }
        }

        impl From<$green> for OwnedFd {
            /// Gives up the descriptor, in the blocking mode it was adopted
            /// in.
            fn from(end: $green) -> OwnedFd {
                end.0.into_owned()
            }
        }

        impl From<$green> for Stdio {
            /// Hands the descriptor to a child process's standard stream, in
            /// blocking mode (unless it came to green non-blocking), as the
            /// child expects.
            fn from(end: $green) -> Stdio {
                Stdio::from(end.0.into_owned())
            }
        }

        impl From<$std> for $green {
            /// Adopts a std pipe end (see `From<OwnedFd>`).
            fn from(end: $std) -> $green {
                $green::from(OwnedFd::from(end))
            }
        }

        impl From<$green> for $std {
            /// Gives the end back to std, in the mode it was adopted in.
            fn from(end: $green) -> $std {
                <$std>::from(end.0.into_owned())
            }
        }

        impl fmt::Debug for $green {
            /// The same output as std's.
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(self.0.get(), f)
            }
        }
    };
}

end_impls!(PipeReader, std::io::PipeReader);
end_impls!(PipeWriter, std::io::PipeWriter);
