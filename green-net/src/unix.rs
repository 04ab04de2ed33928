//! Green replacement for `std::os::unix::net`: Unix domain sockets whose
//! blocking calls park only the calling green thread.
//!
//! [`SocketAddr`] is std's own type, so std's `SocketAddrExt` (abstract
//! names on Linux) keeps working with [`UnixStream::connect_addr`],
//! [`UnixListener::bind_addr`] and friends.
//!
//! ```
//! use std::io::{Read, Write};
//! use green_net::unix::UnixStream;
//!
//! let (mut a, mut b) = UnixStream::pair()?;
//! let echo = green_core::thread::spawn(move || -> std::io::Result<()> {
//!     let mut buf = [0; 4];
//!     b.read_exact(&mut buf)?;
//!     b.write_all(&buf)
//! });
//! a.write_all(b"ping")?;
//! let mut buf = [0; 4];
//! a.read_exact(&mut buf)?;
//! assert_eq!(&buf, b"ping");
//! echo.join().unwrap()?;
//! # Ok::<(), std::io::Error>(())
//! ```

use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::iter::FusedIterator;
use std::net::Shutdown;
use std::os::unix::net as stdunix;
use std::path::Path;
use std::time::Duration;

use green_core::io::Interest;
use socket2::{Domain, SockAddr, Socket, Type};

use crate::sock::Sock;

#[doc(no_inline)]
pub use std::os::unix::net::SocketAddr;

/// A Unix stream socket: green's `std::os::unix::net::UnixStream`.
///
/// Reads, writes and `connect` park only the calling green thread while they
/// wait; from a plain OS thread they block the caller as std does. [`Read`]
/// and [`Write`] are implemented for `UnixStream` and `&UnixStream`.
///
/// # Examples
///
/// ```no_run
/// use std::io::prelude::*;
/// use green_net::unix::UnixStream;
///
/// let mut stream = UnixStream::connect("/path/to/my/socket")?;
/// stream.write_all(b"hello world")?;
/// let mut response = String::new();
/// stream.read_to_string(&mut response)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct UnixStream {
    sock: Sock<stdunix::UnixStream>,
}

/// A Unix socket server, listening for connections: green's
/// `std::os::unix::net::UnixListener`. `bind` is std's own (same backlog),
/// then the fd is made non-blocking; `accept` parks only the calling green
/// thread.
pub struct UnixListener {
    sock: Sock<stdunix::UnixListener>,
}

/// A Unix datagram socket: green's `std::os::unix::net::UnixDatagram`.
///
/// # Examples
///
/// ```
/// use green_net::unix::UnixDatagram;
///
/// let (a, b) = UnixDatagram::pair()?;
/// a.send(b"hi")?;
/// let mut buf = [0; 8];
/// assert_eq!(b.recv(&mut buf)?, 2);
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct UnixDatagram {
    sock: Sock<stdunix::UnixDatagram>,
}

/// An iterator over incoming connections to a [`UnixListener`]; never
/// returns `None`. Made by [`UnixListener::incoming`].
#[derive(Debug)]
pub struct Incoming<'a> {
    listener: &'a UnixListener,
}

fd_impls!(UnixStream, stdunix::UnixStream);
fd_impls!(UnixListener, stdunix::UnixListener);
fd_impls!(UnixDatagram, stdunix::UnixDatagram);

/// std's `SocketAddr` as a `sockaddr_un` for socket2.
fn to_sockaddr(addr: &SocketAddr) -> io::Result<SockAddr> {
    if let Some(path) = addr.as_pathname() {
        return SockAddr::unix(path);
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        #[cfg(target_os = "android")]
        use std::os::android::net::SocketAddrExt;
        #[cfg(target_os = "linux")]
        use std::os::linux::net::SocketAddrExt;
        use std::os::unix::ffi::OsStrExt;

        if let Some(name) = addr.as_abstract_name() {
            // An abstract name is a path whose first byte is NUL.
            let mut bytes = Vec::with_capacity(name.len() + 1);
            bytes.push(0);
            bytes.extend_from_slice(name);
            return SockAddr::unix(std::ffi::OsStr::from_bytes(&bytes));
        }
    }
    // Unnamed: the kernel refuses it, as it does std's.
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        "Invalid argument",
    ))
}

/// Shortest and longest pause between connect attempts while the listener's
/// backlog is full (a Unix `connect` reports that as `EAGAIN`, with no
/// readiness event to wait for).
const CONNECT_RETRY_MIN: Duration = Duration::from_millis(1);
const CONNECT_RETRY_MAX: Duration = Duration::from_millis(50);

fn connect_sockaddr(addr: &SockAddr) -> io::Result<UnixStream> {
    let socket = Socket::new(Domain::UNIX, Type::STREAM.nonblocking(), None)?;
    let mut pause = CONNECT_RETRY_MIN;
    loop {
        match socket.connect(addr) {
            Ok(()) => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // The listener's queue is full: std's blocking connect would
            // wait for room; so do we, parking only this green thread.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                green_core::time::sleep(pause);
                pause = (pause * 2).min(CONNECT_RETRY_MAX);
            }
            Err(e) => return Err(e),
        }
    }
    Ok(UnixStream {
        sock: Sock::new(stdunix::UnixStream::from(socket)),
    })
}

fn nonblocking<T>(s: T, set: impl FnOnce(&T, bool) -> io::Result<()>) -> io::Result<T> {
    set(&s, true)?;
    Ok(s)
}

impl UnixStream {
    /// Connects to the socket named by `path`.
    ///
    /// # Differences from std
    ///
    /// Waiting parks only the calling green thread. When the listener's
    /// backlog is full, the attempt is retried after short green sleeps
    /// (std's blocking connect would sleep in the kernel instead).
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a path with a NUL byte or longer than `SUN_LEN`
    /// (std's messages), `NotFound`, `ConnectionRefused`, or another OS
    /// error.
    pub fn connect<P: AsRef<Path>>(path: P) -> io::Result<UnixStream> {
        // std's checks and messages for the path.
        let addr = SocketAddr::from_pathname(path.as_ref())?;
        connect_sockaddr(&to_sockaddr(&addr)?)
    }

    /// Connects to the socket at `socket_addr` (a path or, on Linux, an
    /// abstract name made with std's `SocketAddrExt::from_abstract_name`).
    ///
    /// # Errors
    ///
    /// As [`connect`](UnixStream::connect); `InvalidInput` for an unnamed
    /// address.
    pub fn connect_addr(socket_addr: &SocketAddr) -> io::Result<UnixStream> {
        connect_sockaddr(&to_sockaddr(socket_addr)?)
    }

    /// Creates an unnamed pair of connected sockets.
    ///
    /// # Errors
    ///
    /// An OS error from `socketpair` (for example `EMFILE`).
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = stdunix::UnixStream::pair()?;
        a.set_nonblocking(true)?;
        b.set_nonblocking(true)?;
        Ok((
            UnixStream { sock: Sock::new(a) },
            UnixStream { sock: Sock::new(b) },
        ))
    }

    /// Creates a new independently owned handle to the same socket, sharing
    /// its mode and timeouts; each handle can be used from a different green
    /// thread or hub at once.
    ///
    /// # Errors
    ///
    /// An OS error from `fcntl(F_DUPFD_CLOEXEC)`.
    pub fn try_clone(&self) -> io::Result<UnixStream> {
        let dup = self.sock.get().try_clone()?;
        Ok(UnixStream {
            sock: self.sock.clone_with(dup),
        })
    }

    /// The socket address of the local half of this connection.
    ///
    /// # Errors
    ///
    /// An OS error from `getsockname`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sock.get().local_addr()
    }

    /// The socket address of the remote half of this connection.
    ///
    /// # Errors
    ///
    /// An OS error from `getpeername`.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.sock.get().peer_addr()
    }

    timeout_methods!();
    nonblocking_method!();

    /// Gets and clears `SO_ERROR`.
    ///
    /// # Errors
    ///
    /// An OS error from `getsockopt`.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.sock.get().take_error()
    }

    /// Shuts down the read, write, or both halves of this connection; a
    /// green thread blocked reading it is woken and reads 0 bytes.
    ///
    /// # Errors
    ///
    /// An OS error from `shutdown` (for example `NotConnected`).
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.sock.get().shutdown(how)
    }
}

// A Unix stream read also stops short at a message that carried fds or
// other credentials, with more queued behind it: no early waits here.
stream_io_impls!(UnixStream, short_drains: false);

impl UnixListener {
    /// Creates a listener bound to `path` (std's own `bind`: same backlog,
    /// same errors), then makes its fd non-blocking.
    ///
    /// # Errors
    ///
    /// `AddrInUse` if the path exists, `InvalidInput` for a bad path, or
    /// another OS error.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::unix::{UnixListener, UnixStream};
    ///
    /// let dir = std::env::temp_dir().join(format!("green-net-doc-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir)?;
    /// let path = dir.join("sock");
    /// # let _ = std::fs::remove_file(&path);
    /// let listener = UnixListener::bind(&path)?;
    /// let _client = UnixStream::connect(&path)?;
    /// let (_conn, _addr) = listener.accept()?;
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixListener> {
        let l = nonblocking(stdunix::UnixListener::bind(path)?, |l, on| {
            l.set_nonblocking(on)
        })?;
        Ok(UnixListener { sock: Sock::new(l) })
    }

    /// Creates a listener bound to `socket_addr` (a path or an abstract
    /// name).
    ///
    /// # Errors
    ///
    /// As [`bind`](UnixListener::bind).
    pub fn bind_addr(socket_addr: &SocketAddr) -> io::Result<UnixListener> {
        let l = nonblocking(stdunix::UnixListener::bind_addr(socket_addr)?, |l, on| {
            l.set_nonblocking(on)
        })?;
        Ok(UnixListener { sock: Sock::new(l) })
    }

    /// Accepts a new incoming connection, parking the calling green thread
    /// until one arrives.
    ///
    /// # Errors
    ///
    /// `WouldBlock` in non-blocking mode with nothing pending, or an OS
    /// error (for example `EMFILE`).
    pub fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        let (s, addr) = self.sock.io(Interest::Read, |l| l.accept())?;
        s.set_nonblocking(true)?;
        Ok((UnixStream { sock: Sock::new(s) }, addr))
    }

    /// Creates a new independently owned handle to the same listener.
    ///
    /// # Errors
    ///
    /// An OS error from `fcntl(F_DUPFD_CLOEXEC)`.
    pub fn try_clone(&self) -> io::Result<UnixListener> {
        let dup = self.sock.get().try_clone()?;
        Ok(UnixListener {
            sock: self.sock.clone_with(dup),
        })
    }

    /// The local socket address of this listener.
    ///
    /// # Errors
    ///
    /// An OS error from `getsockname`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sock.get().local_addr()
    }

    nonblocking_method!();

    /// Gets and clears `SO_ERROR`.
    ///
    /// # Errors
    ///
    /// An OS error from `getsockopt`.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.sock.get().take_error()
    }

    /// An iterator over incoming connections; each `next` is an
    /// [`accept`](UnixListener::accept).
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }
}

impl<'a> IntoIterator for &'a UnixListener {
    type Item = io::Result<UnixStream>;
    type IntoIter = Incoming<'a>;
    fn into_iter(self) -> Incoming<'a> {
        self.incoming()
    }
}

impl Iterator for Incoming<'_> {
    type Item = io::Result<UnixStream>;
    fn next(&mut self) -> Option<io::Result<UnixStream>> {
        Some(self.listener.accept().map(|s| s.0))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (usize::MAX, None)
    }
}

impl FusedIterator for Incoming<'_> {}

impl UnixDatagram {
    /// Creates a datagram socket bound to `path` (std's own `bind`).
    ///
    /// # Errors
    ///
    /// `AddrInUse` if the path exists, `InvalidInput` for a bad path, or
    /// another OS error.
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixDatagram> {
        let s = nonblocking(stdunix::UnixDatagram::bind(path)?, |s, on| {
            s.set_nonblocking(on)
        })?;
        Ok(UnixDatagram { sock: Sock::new(s) })
    }

    /// Creates a datagram socket bound to `socket_addr`.
    ///
    /// # Errors
    ///
    /// As [`bind`](UnixDatagram::bind).
    pub fn bind_addr(socket_addr: &SocketAddr) -> io::Result<UnixDatagram> {
        let s = nonblocking(stdunix::UnixDatagram::bind_addr(socket_addr)?, |s, on| {
            s.set_nonblocking(on)
        })?;
        Ok(UnixDatagram { sock: Sock::new(s) })
    }

    /// Creates a datagram socket bound to no address.
    ///
    /// # Errors
    ///
    /// An OS error from `socket`.
    pub fn unbound() -> io::Result<UnixDatagram> {
        let s = nonblocking(stdunix::UnixDatagram::unbound()?, |s, on| {
            s.set_nonblocking(on)
        })?;
        Ok(UnixDatagram { sock: Sock::new(s) })
    }

    /// Creates an unnamed pair of connected datagram sockets.
    ///
    /// # Errors
    ///
    /// An OS error from `socketpair`.
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        let (a, b) = stdunix::UnixDatagram::pair()?;
        a.set_nonblocking(true)?;
        b.set_nonblocking(true)?;
        Ok((
            UnixDatagram { sock: Sock::new(a) },
            UnixDatagram { sock: Sock::new(b) },
        ))
    }

    /// Connects the socket to `path` (a datagram connect never waits).
    ///
    /// # Errors
    ///
    /// As std: `InvalidInput` for a bad path, `NotFound`,
    /// `ConnectionRefused`, or another OS error.
    pub fn connect<P: AsRef<Path>>(&self, path: P) -> io::Result<()> {
        self.sock.get().connect(path)
    }

    /// Connects the socket to `socket_addr`.
    ///
    /// # Errors
    ///
    /// As [`connect`](UnixDatagram::connect).
    pub fn connect_addr(&self, socket_addr: &SocketAddr) -> io::Result<()> {
        self.sock.get().connect_addr(socket_addr)
    }

    /// Creates a new independently owned handle to the same socket, sharing
    /// its mode and timeouts.
    ///
    /// # Errors
    ///
    /// An OS error from `fcntl(F_DUPFD_CLOEXEC)`.
    pub fn try_clone(&self) -> io::Result<UnixDatagram> {
        let dup = self.sock.get().try_clone()?;
        Ok(UnixDatagram {
            sock: self.sock.clone_with(dup),
        })
    }

    /// The address of this socket.
    ///
    /// # Errors
    ///
    /// An OS error from `getsockname`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sock.get().local_addr()
    }

    /// The address of this socket's peer (after `connect` or `pair`).
    ///
    /// # Errors
    ///
    /// `NotConnected` if it has none.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.sock.get().peer_addr()
    }

    /// Receives one datagram and its sender's address, parking the calling
    /// green thread until one arrives; a long datagram is truncated.
    ///
    /// # Errors
    ///
    /// `WouldBlock` on a read timeout or in non-blocking mode, or an OS
    /// error.
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.sock.io(Interest::Read, |s| s.recv_from(buf))
    }

    /// Receives one datagram, parking the calling green thread until one
    /// arrives.
    ///
    /// # Errors
    ///
    /// As [`recv_from`](UnixDatagram::recv_from).
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.sock.io(Interest::Read, |s| s.recv(buf))
    }

    /// Sends a datagram to the socket at `path`, waiting while the
    /// receiver's queue is full.
    ///
    /// # Errors
    ///
    /// `WouldBlock` on a write timeout or in non-blocking mode, or an OS
    /// error (for example `NotFound`, `ConnectionRefused`).
    pub fn send_to<P: AsRef<Path>>(&self, buf: &[u8], path: P) -> io::Result<usize> {
        let path = path.as_ref();
        self.sock.io(Interest::Write, |s| s.send_to(buf, path))
    }

    /// Sends a datagram to `socket_addr`, waiting while the receiver's queue
    /// is full.
    ///
    /// # Errors
    ///
    /// As [`send_to`](UnixDatagram::send_to).
    pub fn send_to_addr(&self, buf: &[u8], socket_addr: &SocketAddr) -> io::Result<usize> {
        self.sock
            .io(Interest::Write, |s| s.send_to_addr(buf, socket_addr))
    }

    /// Sends a datagram to the connected peer, waiting while its queue is
    /// full.
    ///
    /// # Errors
    ///
    /// `NotConnected` without a peer, `WouldBlock` on a write timeout or in
    /// non-blocking mode, or another OS error.
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.sock.io(Interest::Write, |s| s.send(buf))
    }

    timeout_methods!();
    nonblocking_method!();

    /// Gets and clears `SO_ERROR`.
    ///
    /// # Errors
    ///
    /// An OS error from `getsockopt`.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.sock.get().take_error()
    }

    /// Shuts down the read, write, or both halves of this socket; a green
    /// thread blocked receiving on it is woken.
    ///
    /// # Errors
    ///
    /// An OS error from `shutdown`.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.sock.get().shutdown(how)
    }
}
