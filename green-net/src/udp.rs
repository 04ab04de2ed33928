//! `UdpSocket`: std's, with waits that park only the calling green thread.

use std::io;
use std::net::{self, Ipv4Addr, Ipv6Addr, SocketAddr};

use green_core::io::Interest;

use crate::addr::{each_addr, first_addr, ToSocketAddrs};
use crate::sock::Sock;

/// A UDP socket: green's `std::net::UdpSocket`.
///
/// Receiving (and sending, when the send buffer is full) parks only the
/// calling green thread; from a plain OS thread it blocks the caller as std
/// does. Every method and option of std's type is here, with std's errors.
///
/// # Examples
///
/// ```
/// use green_net::UdpSocket;
///
/// let a = UdpSocket::bind("127.0.0.1:0")?;
/// let b = UdpSocket::bind("127.0.0.1:0")?;
/// a.send_to(b"ping", b.local_addr()?)?;
/// let mut buf = [0; 16];
/// let (n, from) = b.recv_from(&mut buf)?;
/// assert_eq!((&buf[..n], from), (&b"ping"[..], a.local_addr()?));
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct UdpSocket {
    sock: Sock<net::UdpSocket>,
}

fd_impls!(UdpSocket, net::UdpSocket);

impl UdpSocket {
    /// Creates a UDP socket bound to `addr`, trying each address it resolves
    /// to in order until one binds. No `SO_REUSEADDR`, as std.
    ///
    /// # Errors
    ///
    /// The error of the last address tried (for example `AddrInUse`), or
    /// `InvalidInput` if `addr` yields no address.
    pub fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<UdpSocket> {
        each_addr(addr, |a| {
            let s = net::UdpSocket::bind(a)?;
            s.set_nonblocking(true)?;
            Ok(UdpSocket { sock: Sock::new(s) })
        })
    }

    /// Receives one datagram, waiting (parking the green thread) until one
    /// arrives. A datagram longer than `buf` is truncated and the rest lost,
    /// as std.
    ///
    /// # Errors
    ///
    /// `WouldBlock` when the read timeout expires or in non-blocking mode,
    /// or an OS error.
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.sock.io(Interest::Read, |s| s.recv_from(buf))
    }

    /// Like [`recv_from`](UdpSocket::recv_from) but leaves the datagram in
    /// the queue.
    ///
    /// # Errors
    ///
    /// As `recv_from`.
    pub fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.sock.io(Interest::Read, |s| s.peek_from(buf))
    }

    /// Sends a datagram to the first address `addr` resolves to (std's rule),
    /// waiting if the send buffer is full.
    ///
    /// # Errors
    ///
    /// `InvalidInput` if `addr` yields no address, `WouldBlock` on a write
    /// timeout or in non-blocking mode, or an OS error (for example
    /// `EMSGSIZE` for a datagram that is too large).
    pub fn send_to<A: ToSocketAddrs>(&self, buf: &[u8], addr: A) -> io::Result<usize> {
        let to = first_addr(addr)?;
        self.sock.io(Interest::Write, |s| s.send_to(buf, to))
    }

    /// The address this socket is connected to.
    ///
    /// # Errors
    ///
    /// `NotConnected` if it is not connected.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.sock.get().peer_addr()
    }

    /// The local address of this socket.
    ///
    /// # Errors
    ///
    /// An OS error from `getsockname`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sock.get().local_addr()
    }

    /// Creates a new independently owned handle to the same socket (a `dup`
    /// of the fd), sharing its mode and timeouts, usable from another green
    /// thread or hub at the same time.
    ///
    /// # Errors
    ///
    /// An OS error from `fcntl(F_DUPFD_CLOEXEC)`.
    pub fn try_clone(&self) -> io::Result<UdpSocket> {
        let dup = self.sock.get().try_clone()?;
        Ok(UdpSocket {
            sock: self.sock.clone_with(dup),
        })
    }

    timeout_methods!();
    nonblocking_method!();

    /// Sets `SO_BROADCAST`.
    ///
    /// # Errors
    ///
    /// An OS error from `setsockopt`.
    pub fn set_broadcast(&self, broadcast: bool) -> io::Result<()> {
        self.sock.get().set_broadcast(broadcast)
    }

    /// Gets `SO_BROADCAST`.
    ///
    /// # Errors
    ///
    /// An OS error from `getsockopt`.
    pub fn broadcast(&self) -> io::Result<bool> {
        self.sock.get().broadcast()
    }

    /// Sets `IP_MULTICAST_LOOP`.
    ///
    /// # Errors
    ///
    /// An OS error from `setsockopt`.
    pub fn set_multicast_loop_v4(&self, multicast_loop_v4: bool) -> io::Result<()> {
        self.sock.get().set_multicast_loop_v4(multicast_loop_v4)
    }

    /// Gets `IP_MULTICAST_LOOP`.
    ///
    /// # Errors
    ///
    /// An OS error from `getsockopt`.
    pub fn multicast_loop_v4(&self) -> io::Result<bool> {
        self.sock.get().multicast_loop_v4()
    }

    /// Sets `IP_MULTICAST_TTL`.
    ///
    /// # Errors
    ///
    /// An OS error from `setsockopt`.
    pub fn set_multicast_ttl_v4(&self, multicast_ttl_v4: u32) -> io::Result<()> {
        self.sock.get().set_multicast_ttl_v4(multicast_ttl_v4)
    }

    /// Gets `IP_MULTICAST_TTL`.
    ///
    /// # Errors
    ///
    /// An OS error from `getsockopt`.
    pub fn multicast_ttl_v4(&self) -> io::Result<u32> {
        self.sock.get().multicast_ttl_v4()
    }

    /// Sets `IPV6_MULTICAST_LOOP`.
    ///
    /// # Errors
    ///
    /// An OS error from `setsockopt` (for example on an IPv4 socket).
    pub fn set_multicast_loop_v6(&self, multicast_loop_v6: bool) -> io::Result<()> {
        self.sock.get().set_multicast_loop_v6(multicast_loop_v6)
    }

    /// Gets `IPV6_MULTICAST_LOOP`.
    ///
    /// # Errors
    ///
    /// An OS error from `getsockopt`.
    pub fn multicast_loop_v6(&self) -> io::Result<bool> {
        self.sock.get().multicast_loop_v6()
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

    /// Joins an IPv4 multicast group (`IP_ADD_MEMBERSHIP`).
    ///
    /// # Errors
    ///
    /// An OS error from `setsockopt`.
    pub fn join_multicast_v4(&self, multiaddr: &Ipv4Addr, interface: &Ipv4Addr) -> io::Result<()> {
        self.sock.get().join_multicast_v4(multiaddr, interface)
    }

    /// Joins an IPv6 multicast group (`IPV6_ADD_MEMBERSHIP`).
    ///
    /// # Errors
    ///
    /// An OS error from `setsockopt`.
    pub fn join_multicast_v6(&self, multiaddr: &Ipv6Addr, interface: u32) -> io::Result<()> {
        self.sock.get().join_multicast_v6(multiaddr, interface)
    }

    /// Leaves an IPv4 multicast group (`IP_DROP_MEMBERSHIP`).
    ///
    /// # Errors
    ///
    /// An OS error from `setsockopt`.
    pub fn leave_multicast_v4(&self, multiaddr: &Ipv4Addr, interface: &Ipv4Addr) -> io::Result<()> {
        self.sock.get().leave_multicast_v4(multiaddr, interface)
    }

    /// Leaves an IPv6 multicast group (`IPV6_DROP_MEMBERSHIP`).
    ///
    /// # Errors
    ///
    /// An OS error from `setsockopt`.
    pub fn leave_multicast_v6(&self, multiaddr: &Ipv6Addr, interface: u32) -> io::Result<()> {
        self.sock.get().leave_multicast_v6(multiaddr, interface)
    }

    /// Gets and clears `SO_ERROR`.
    ///
    /// # Errors
    ///
    /// An OS error from `getsockopt`.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.sock.get().take_error()
    }

    /// Connects this socket to a remote address, trying each address `addr`
    /// resolves to in order until one succeeds (UDP connect never waits).
    ///
    /// # Errors
    ///
    /// The error of the last address tried, or `InvalidInput` if `addr`
    /// yields no address.
    pub fn connect<A: ToSocketAddrs>(&self, addr: A) -> io::Result<()> {
        each_addr(addr, |a| self.sock.get().connect(a))
    }

    /// Sends a datagram to the connected peer, waiting if the send buffer is
    /// full.
    ///
    /// # Errors
    ///
    /// `NotConnected`/`DestinationAddrRequired` if not connected,
    /// `ConnectionRefused` after an ICMP port unreachable, `WouldBlock` on a
    /// write timeout or in non-blocking mode, or another OS error.
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.sock.io(Interest::Write, |s| s.send(buf))
    }

    /// Receives one datagram from the connected peer, waiting (parking the
    /// green thread) until one arrives; truncates like `recv_from`.
    ///
    /// # Errors
    ///
    /// `WouldBlock` on a read timeout or in non-blocking mode,
    /// `ConnectionRefused` after an ICMP port unreachable, or another OS
    /// error.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.sock.io(Interest::Read, |s| s.recv(buf))
    }

    /// Like [`recv`](UdpSocket::recv) but leaves the datagram in the queue.
    ///
    /// # Errors
    ///
    /// As `recv`.
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.sock.io(Interest::Read, |s| s.peek(buf))
    }
}
