//! `TcpStream`, `TcpListener` and `Incoming`: std's, with waits that park
//! only the calling green thread.

use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::iter::FusedIterator;
use std::net::{self, Shutdown, SocketAddr};
use std::time::{Duration, Instant};

use green_core::io::Interest;
use socket2::{Domain, SockAddr, SockRef, Socket, Type};

use crate::addr::{each_addr, ToSocketAddrs};
use crate::sock::{sys, Sock};

/// A TCP stream between a local and a remote socket: green's
/// `std::net::TcpStream`.
///
/// Reading, writing and connecting park only the calling green thread while
/// they wait; from a plain OS thread they block the caller as std does. The
/// stream is closed when the value is dropped. [`Read`] and [`Write`] are
/// implemented for `TcpStream` and for `&TcpStream` (with vectored I/O), so
/// one green thread can read while another writes through a shared
/// reference or a [`try_clone`](TcpStream::try_clone).
///
/// # Examples
///
/// ```no_run
/// use std::io::prelude::*;
/// use green_net::TcpStream;
///
/// let mut stream = TcpStream::connect("127.0.0.1:34254")?;
/// stream.write_all(&[1])?;
/// stream.read(&mut [0; 128])?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct TcpStream {
    sock: Sock<net::TcpStream>,
}

/// A TCP socket server, listening for connections: green's
/// `std::net::TcpListener`.
///
/// `accept` parks only the calling green thread until a connection arrives.
/// `bind` sets `SO_REUSEADDR` and listens with std's backlog (128), exactly
/// as std does (std's own `bind` makes the socket).
///
/// # Examples
///
/// ```no_run
/// use green_net::{TcpListener, TcpStream};
///
/// fn handle_client(stream: TcpStream) {
///     // ...
/// }
///
/// let listener = TcpListener::bind("127.0.0.1:80")?;
/// for stream in listener.incoming() {
///     let stream = stream?;
///     green_core::thread::spawn(move || handle_client(stream));
/// }
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct TcpListener {
    sock: Sock<net::TcpListener>,
}

/// An iterator that infinitely [`accept`](TcpListener::accept)s connections
/// on a [`TcpListener`]; made by [`TcpListener::incoming`].
#[derive(Debug)]
pub struct Incoming<'a> {
    listener: &'a TcpListener,
}

fd_impls!(TcpStream, net::TcpStream);
fd_impls!(TcpListener, net::TcpListener);

/// Makes a non-blocking socket, starts connecting it to `addr`, and waits
/// (parking only the caller) until the connection is made, fails, or
/// `deadline` passes.
fn connect_one(addr: &SocketAddr, deadline: Option<Instant>) -> io::Result<TcpStream> {
    let socket = Socket::new(Domain::for_address(*addr), Type::STREAM.nonblocking(), None)?;
    let sock = Sock::new(net::TcpStream::from(socket));
    match SockRef::from(sock.get()).connect(&SockAddr::from(*addr)) {
        Ok(()) => return Ok(TcpStream { sock }),
        Err(e) if sys::connect_in_progress(&e) => {}
        Err(e) => return Err(e),
    }
    // Writable means connected or failed; `SO_ERROR` tells which.
    sock.io_until(Interest::Write, deadline, |s| {
        if let Some(e) = s.take_error()? {
            return Err(e);
        }
        match s.peer_addr() {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotConnected => {
                Err(io::ErrorKind::WouldBlock.into())
            }
            Err(e) => Err(e),
        }
    })?;
    Ok(TcpStream { sock })
}

fn zero_timeout() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "cannot set a 0 duration timeout",
    )
}

impl TcpStream {
    /// Opens a TCP connection to a remote host, trying each address `addr`
    /// resolves to in order until one connects (std's rule).
    ///
    /// # Differences from std
    ///
    /// Waiting for the handshake parks only the calling green thread; a host
    /// name is resolved on the blocking pool (see [`ToSocketAddrs`]).
    ///
    /// # Errors
    ///
    /// The error of the last address tried (for example `ConnectionRefused`),
    /// or `InvalidInput` if `addr` yields no address.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::{TcpListener, TcpStream};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let stream = TcpStream::connect(listener.local_addr()?)?;
    /// assert_eq!(stream.peer_addr()?, listener.local_addr()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn connect<A: ToSocketAddrs>(addr: A) -> io::Result<TcpStream> {
        each_addr(addr, |a| connect_one(a, None))
    }

    /// Opens a TCP connection to `addr`, failing with `TimedOut` if it is
    /// not made within `timeout`.
    ///
    /// # Differences from std
    ///
    /// The wait parks only the calling green thread; the deadline is a hub
    /// timer, so other green threads run meanwhile.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a zero `timeout` (as std), `TimedOut` when the
    /// deadline passes, or the connection error.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use green_net::{TcpListener, TcpStream};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let addr = listener.local_addr()?;
    /// let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn connect_timeout(addr: &SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
        if timeout.is_zero() {
            return Err(zero_timeout());
        }
        connect_one(addr, Instant::now().checked_add(timeout))
    }

    /// The socket address of the remote peer of this TCP connection.
    ///
    /// # Errors
    ///
    /// `NotConnected` if the peer went away, or another OS error.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.sock.get().peer_addr()
    }

    /// The socket address of the local half of this TCP connection.
    ///
    /// # Errors
    ///
    /// An OS error from `getsockname`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sock.get().local_addr()
    }

    /// Shuts down the read, write, or both halves of this connection.
    ///
    /// A green thread blocked reading this socket (through any handle, on
    /// any hub) is woken by `Shutdown::Read`/`Both` and reads 0 bytes.
    ///
    /// # Errors
    ///
    /// `NotConnected` if the socket is not connected, or another OS error.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.sock.get().shutdown(how)
    }

    /// Creates a new independently owned handle to the same socket (a
    /// `dup` of the fd). The two handles share the stream, the
    /// non-blocking mode and the timeouts, as in std; each can be used from
    /// a different green thread, on any hub.
    ///
    /// # Errors
    ///
    /// An OS error from `fcntl(F_DUPFD_CLOEXEC)` (for example `EMFILE`).
    pub fn try_clone(&self) -> io::Result<TcpStream> {
        let dup = self.sock.get().try_clone()?;
        Ok(TcpStream {
            sock: self.sock.clone_with(dup),
        })
    }

    timeout_methods!();
    nonblocking_method!();

    /// Receives data without removing it from the queue; waits (parking the
    /// green thread) until some is available, like `read`.
    ///
    /// # Errors
    ///
    /// As `read`, including `WouldBlock` when the read timeout expires or in
    /// non-blocking mode.
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.sock.io(Interest::Read, |s| s.peek(buf))
    }

    /// Sets `TCP_NODELAY`.
    ///
    /// # Errors
    ///
    /// An OS error from `setsockopt`.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.sock.get().set_nodelay(nodelay)
    }

    /// Gets `TCP_NODELAY`.
    ///
    /// # Errors
    ///
    /// An OS error from `getsockopt`.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.sock.get().nodelay()
    }

    /// Sets `IP_TTL`.
    ///
    /// # Errors
    ///
    /// An OS error from `setsockopt` (for example `InvalidInput` for 0).
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.sock.get().set_ttl(ttl)
    }

    /// Gets `IP_TTL`.
    ///
    /// # Errors
    ///
    /// An OS error from `getsockopt`.
    pub fn ttl(&self) -> io::Result<u32> {
        self.sock.get().ttl()
    }

    /// Gets and clears `SO_ERROR`.
    ///
    /// # Errors
    ///
    /// An OS error from `getsockopt`.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.sock.get().take_error()
    }
}

// A short TCP transfer emptied the receive queue (filled the send
// buffer); the one exception, a read stopping at an urgent-data mark, is
// TCP's all but unused out-of-band data.
stream_io_impls!(TcpStream, short_drains: true);

impl TcpListener {
    /// Creates a listener bound to `addr`, trying each address it resolves
    /// to in order until one binds (std's rule).
    ///
    /// The socket is made by std's own `bind` (`SO_REUSEADDR` on, backlog
    /// 128, no `SO_REUSEPORT`), then switched to non-blocking at the OS level.
    ///
    /// # Errors
    ///
    /// The error of the last address tried (for example `AddrInUse`), or
    /// `InvalidInput` if `addr` yields no address.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::TcpListener;
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// assert!(listener.local_addr()?.port() != 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<TcpListener> {
        each_addr(addr, |a| {
            let l = net::TcpListener::bind(a)?;
            l.set_nonblocking(true)?;
            Ok(TcpListener { sock: Sock::new(l) })
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

    /// Creates a new independently owned handle to the same listener (a
    /// `dup` of the fd), sharing its non-blocking mode. Handles may accept
    /// from different green threads and hubs at once.
    ///
    /// # Errors
    ///
    /// An OS error from `fcntl(F_DUPFD_CLOEXEC)`.
    pub fn try_clone(&self) -> io::Result<TcpListener> {
        let dup = self.sock.get().try_clone()?;
        Ok(TcpListener {
            sock: self.sock.clone_with(dup),
        })
    }

    /// Accepts a new incoming connection, parking the calling green thread
    /// until one arrives. The new stream is in blocking mode (for the user;
    /// its fd is non-blocking), as std's accepted streams are.
    ///
    /// # Errors
    ///
    /// `WouldBlock` in non-blocking mode with no pending connection, or an
    /// OS error (for example `EMFILE`, or `ConnectionAborted`).
    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (socket, addr) = self.sock.io(Interest::Read, accept4)?;
        let addr = addr
            .as_socket()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "invalid socket address"))?;
        let stream = net::TcpStream::from(socket);
        Ok((
            TcpStream {
                sock: Sock::new(stream),
            },
            addr,
        ))
    }

    /// An iterator over the connections being received on this listener;
    /// each `next` is an [`accept`](TcpListener::accept). It never returns
    /// `None`.
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    /// Sets `IP_TTL`.
    ///
    /// # Errors
    ///
    /// An OS error from `setsockopt`.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.sock.get().set_ttl(ttl)
    }

    /// Gets `IP_TTL`.
    ///
    /// # Errors
    ///
    /// An OS error from `getsockopt`.
    pub fn ttl(&self) -> io::Result<u32> {
        self.sock.get().ttl()
    }

    /// Sets `IPV6_V6ONLY` (which only matters before `bind`, hence std's
    /// deprecation).
    ///
    /// # Errors
    ///
    /// An OS error from `setsockopt`.
    #[deprecated(
        since = "1.16.0",
        note = "this option can only be set before the socket is bound"
    )]
    #[allow(deprecated)]
    pub fn set_only_v6(&self, only_v6: bool) -> io::Result<()> {
        self.sock.get().set_only_v6(only_v6)
    }

    /// Gets `IPV6_V6ONLY`.
    ///
    /// # Errors
    ///
    /// An OS error from `getsockopt`.
    #[deprecated(
        since = "1.16.0",
        note = "this option can only be set before the socket is bound"
    )]
    #[allow(deprecated)]
    pub fn only_v6(&self) -> io::Result<bool> {
        self.sock.get().only_v6()
    }

    /// Gets and clears `SO_ERROR`.
    ///
    /// # Errors
    ///
    /// An OS error from `getsockopt`.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.sock.get().take_error()
    }

    nonblocking_method!();
}

/// Accepts one connection, non-blocking and close-on-exec from birth.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn accept4(l: &net::TcpListener) -> io::Result<(Socket, SockAddr)> {
    SockRef::from(l).accept4(sys::accept_flags())
}

/// Accepts one connection and makes it non-blocking.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn accept4(l: &net::TcpListener) -> io::Result<(Socket, SockAddr)> {
    let (s, a) = SockRef::from(l).accept()?;
    s.set_nonblocking(true)?;
    Ok((s, a))
}

impl<'a> Iterator for Incoming<'a> {
    type Item = io::Result<TcpStream>;
    fn next(&mut self) -> Option<io::Result<TcpStream>> {
        Some(self.listener.accept().map(|p| p.0))
    }
}

impl FusedIterator for Incoming<'_> {}
