//! The trait impls every green socket type shares with its std twin.

/// Implements, for green type `$green` (a struct with a `sock: Sock<$std>`
/// field) the fd traits, the `OwnedFd` and std conversions and `Debug`, all
/// as std has them.
macro_rules! fd_impls {
    ($green:ident, $std:ty) => {
        impl std::os::fd::AsFd for $green {
            fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
                std::os::fd::AsFd::as_fd(self.sock.get())
            }
        }

        impl std::os::fd::AsRawFd for $green {
            fn as_raw_fd(&self) -> std::os::fd::RawFd {
                std::os::fd::AsRawFd::as_raw_fd(self.sock.get())
            }
        }

        impl std::os::fd::FromRawFd for $green {
            #[allow(unsafe_code)]
            unsafe fn from_raw_fd(fd: std::os::fd::RawFd) -> $green {
                use std::os::fd::OwnedFd;
                // SAFETY: the caller guarantees, as `FromRawFd` requires, that
                // `fd` is open and owned by nobody else; ownership passes to
                // the returned value, which closes it exactly once.
                let owned = unsafe { OwnedFd::from_raw_fd(fd) };
                $green::from(owned)
            }
        }

        impl std::os::fd::IntoRawFd for $green {
            /// Gives up the fd, in the blocking mode the user last set (see
            /// the type's conversion to std).
            fn into_raw_fd(self) -> std::os::fd::RawFd {
                std::os::fd::IntoRawFd::into_raw_fd(self.sock.into_std())
            }
        }

        impl From<std::os::fd::OwnedFd> for $green {
            /// Adopts the fd: its current `O_NONBLOCK` becomes the
            /// user-visible mode, then the fd is made non-blocking.
            fn from(fd: std::os::fd::OwnedFd) -> $green {
                $green::from(<$std>::from(fd))
            }
        }

        impl From<$green> for std::os::fd::OwnedFd {
            /// Gives up the fd, in the blocking mode the user last set.
            fn from(s: $green) -> std::os::fd::OwnedFd {
                std::os::fd::OwnedFd::from(s.sock.into_std())
            }
        }

        impl From<$std> for $green {
            /// Converts a std socket: whether it was in non-blocking mode and
            /// its timeouts carry over; the fd is made non-blocking at the OS
            /// level.
            fn from(s: $std) -> $green {
                $green {
                    sock: $crate::sock::Sock::adopt(s),
                }
            }
        }

        impl From<$green> for $std {
            /// Converts to the std socket, putting the fd back in blocking
            /// mode unless `set_nonblocking(true)` was called, so std's
            /// semantics hold. The mode belongs to the open file description:
            /// green clones made by `try_clone` share it, so convert only
            /// the last handle (green clones keep working for reads and
            /// writes only while the fd stays non-blocking).
            fn from(s: $green) -> $std {
                s.sock.into_std()
            }
        }

        impl std::fmt::Debug for $green {
            /// The same output as std's.
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Debug::fmt(self.sock.get(), f)
            }
        }
    };
}

/// Implements the `set_nonblocking` and timeout methods shared by the
/// stream and datagram types.
macro_rules! timeout_methods {
    () => {
        /// Sets the read timeout: a read that waits longer fails with
        /// `WouldBlock` (as std on Unix). `None` waits forever.
        ///
        /// The timeout is set on the OS socket as std sets it, so clones and
        /// conversions see it, and it is enforced through the hub: waiting
        /// parks only the calling green thread.
        ///
        /// # Errors
        ///
        /// `InvalidInput` for `Some(Duration::ZERO)`, as std; an OS error
        /// from `setsockopt`.
        pub fn set_read_timeout(&self, dur: Option<std::time::Duration>) -> std::io::Result<()> {
            self.sock.get().set_read_timeout(dur)?;
            self.sock.set_timeout(green_core::io::Interest::Read, dur);
            Ok(())
        }

        /// Sets the write timeout: a write that waits longer fails with
        /// `WouldBlock` (as std on Unix). `None` waits forever.
        ///
        /// # Errors
        ///
        /// `InvalidInput` for `Some(Duration::ZERO)`, as std; an OS error
        /// from `setsockopt`.
        pub fn set_write_timeout(&self, dur: Option<std::time::Duration>) -> std::io::Result<()> {
            self.sock.get().set_write_timeout(dur)?;
            self.sock.set_timeout(green_core::io::Interest::Write, dur);
            Ok(())
        }

        /// The read timeout, as the OS socket reports it (std's value).
        ///
        /// # Errors
        ///
        /// An OS error from `getsockopt`.
        pub fn read_timeout(&self) -> std::io::Result<Option<std::time::Duration>> {
            self.sock.get().read_timeout()
        }

        /// The write timeout, as the OS socket reports it (std's value).
        ///
        /// # Errors
        ///
        /// An OS error from `getsockopt`.
        pub fn write_timeout(&self) -> std::io::Result<Option<std::time::Duration>> {
            self.sock.get().write_timeout()
        }
    };
}

/// Implements `set_nonblocking`, shared by every green socket type.
macro_rules! nonblocking_method {
    () => {
        /// Moves this socket into or out of non-blocking mode: when on, a
        /// call that would wait returns `WouldBlock` instead, exactly like
        /// std. The mode is shared with `try_clone` handles, as in std.
        ///
        /// # Differences from std
        ///
        /// The fd is always non-blocking at the OS level; this sets a flag
        /// in the green socket. Converting to the std type (or to an fd)
        /// applies the flag to the fd.
        ///
        /// # Errors
        ///
        /// None in practice; the signature is std's.
        pub fn set_nonblocking(&self, nonblocking: bool) -> std::io::Result<()> {
            self.sock.set_nonblocking(nonblocking);
            Ok(())
        }
    };
}

/// Implements `Read` and `Write` for stream type `$green` and for `&$green`
/// (std has both), each call one try/wait/retry through the socket's
/// `GreenFd` (`Sock::io_stream`). `$short_drains`: a short transfer means
/// the kernel's buffer was emptied (filled), so the next call may wait for
/// readiness before trying (see `GreenFd::io_stream`). `flush` is a no-op,
/// as std's for sockets.
macro_rules! stream_io_impls {
    ($green:ident, short_drains: $short_drains:expr) => {
        impl $green {
            fn read_impl(&self, buf: &mut [u8]) -> io::Result<usize> {
                let len = buf.len();
                self.sock
                    .io_stream(Interest::Read, len, $short_drains, |mut s| s.read(buf))
            }

            fn read_vectored_impl(&self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
                let len = bufs.iter().map(|b| b.len()).sum();
                self.sock
                    .io_stream(Interest::Read, len, $short_drains, |mut s| {
                        s.read_vectored(bufs)
                    })
            }

            fn write_impl(&self, buf: &[u8]) -> io::Result<usize> {
                self.sock
                    .io_stream(Interest::Write, buf.len(), $short_drains, |mut s| {
                        s.write(buf)
                    })
            }

            fn write_vectored_impl(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
                let len = bufs.iter().map(|b| b.len()).sum();
                self.sock
                    .io_stream(Interest::Write, len, $short_drains, |mut s| {
                        s.write_vectored(bufs)
                    })
            }
        }

        stream_io_impls!(@traits $green);
        stream_io_impls!(@traits &$green);
    };
    (@traits $($t:tt)+) => {
        impl Read for $($t)+ {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                self.read_impl(buf)
            }
            fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
                self.read_vectored_impl(bufs)
            }
        }

        impl Write for $($t)+ {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                self.write_impl(buf)
            }
            fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
                self.write_vectored_impl(bufs)
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
    };
}
