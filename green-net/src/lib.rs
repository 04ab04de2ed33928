//! Green replacement for `std::net` and `std::os::unix::net`.
//!
//! Every type here has the name, methods, signatures, trait impls and error
//! kinds of its std counterpart. What differs is what *blocking* means: a
//! call that would block parks only the calling green thread, and the hub
//! runs other green threads meanwhile. Called from a plain OS thread, the
//! same call blocks its caller exactly as std does (while running that
//! thread's hub, so green threads placed there keep running).
//!
//! ```
//! use green_net::{TcpListener, TcpStream};
//! use std::io::{Read, Write};
//!
//! let listener = TcpListener::bind("127.0.0.1:0")?;
//! let addr = listener.local_addr()?;
//! let server = green_core::thread::spawn(move || -> std::io::Result<()> {
//!     let (mut conn, _) = listener.accept()?;
//!     let mut buf = [0; 5];
//!     conn.read_exact(&mut buf)?;
//!     conn.write_all(&buf)
//! });
//! let mut client = TcpStream::connect(addr)?;
//! client.write_all(b"hello")?;
//! let mut echo = [0; 5];
//! client.read_exact(&mut echo)?;
//! assert_eq!(&echo, b"hello");
//! server.join().unwrap()?;
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # How a blocking call works
//!
//! Every socket is non-blocking at the OS level for its whole life. Each
//! blocking method is one call to `green_core::io::GreenFd::io`: try the
//! non-blocking syscall; on `WouldBlock` wait for readiness through the hub;
//! retry. The *user-visible* non-blocking mode (`set_nonblocking(true)`) is a
//! flag kept by the green type: with it set, methods return `WouldBlock`
//! instead of waiting, exactly like std.
//!
//! # Differences from std
//!
//! * [`ToSocketAddrs`] is this crate's own trait, with std's shape
//!   (`type Iter`, `fn to_socket_addrs(&self)`) and implemented for every
//!   type std implements it for. Host names (`"localhost:80"`,
//!   `("example.com", 80)`) are resolved on green-core's blocking pool, so a
//!   slow lookup parks only the caller; literal addresses are parsed in place
//!   and never touch the pool. A generic function bounded by
//!   `std::net::ToSocketAddrs` must switch its bound to this trait (which the
//!   import swap `std::net::ToSocketAddrs` → `green::net::ToSocketAddrs` does);
//!   a user type that implemented std's trait implements this one with the
//!   same code.
//! * Timeouts (`set_read_timeout`, `set_write_timeout`) are set on the OS
//!   socket as std does, so clones and conversions see them, and are also
//!   remembered by the green type, which enforces them through the hub.
//! * Unstable std items (`TcpListener::into_incoming`, `TcpStream::linger`,
//!   `UnixStream::peek`, ...) are not mirrored.

#![deny(unsafe_code)]
#![deny(missing_docs, missing_debug_implementations)]

#[macro_use]
mod macros;
mod addr;
mod sock;
mod tcp;
mod udp;
#[cfg(unix)]
pub mod unix;

#[doc(no_inline)]
pub use std::net::{
    AddrParseError, IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, SocketAddrV4, SocketAddrV6,
};

pub use addr::{set_resolver, ToSocketAddrs};
pub use tcp::{Incoming, TcpListener, TcpStream};
pub use udp::UdpSocket;
