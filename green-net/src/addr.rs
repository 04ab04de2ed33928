//! Address resolution: [`ToSocketAddrs`] with host names looked up on the
//! blocking pool, and `each_addr`, std's "try every address in order" loop.

use std::io;
use std::iter;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::option;
use std::slice;
use std::sync::RwLock;
use std::vec;

/// A function that resolves `(host, port)` the blocking way (by default,
/// `getaddrinfo` through std). It runs on green-core's blocking pool.
type Resolver = fn(&str, u16) -> io::Result<Vec<SocketAddr>>;

static RESOLVER: RwLock<Option<Resolver>> = RwLock::new(None);

/// Replaces the function that resolves host names (by default std's
/// `getaddrinfo`-based lookup), for every later resolution in the process.
///
/// This is an extension: std has no such hook. The resolver is only called
/// for host names, never for literal addresses, and it always runs on
/// green-core's blocking pool (see [`green_core::unblock`]), so a slow
/// resolver parks only the green thread that asked. Use it to plug in a
/// different resolver, or in tests to simulate a slow DNS server.
///
/// # Examples
///
/// ```
/// use green_net::{SocketAddr, ToSocketAddrs};
///
/// fn fixed(host: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
///     assert_eq!(host, "service.internal");
///     Ok(vec![SocketAddr::from(([127, 0, 0, 1], port))])
/// }
/// green_net::set_resolver(fixed);
/// let addrs: Vec<_> = "service.internal:80".to_socket_addrs()?.collect();
/// assert_eq!(addrs, [SocketAddr::from(([127, 0, 0, 1], 80))]);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn set_resolver(resolver: fn(&str, u16) -> io::Result<Vec<SocketAddr>>) {
    *RESOLVER.write().unwrap_or_else(|p| p.into_inner()) = Some(resolver);
}

fn std_resolver(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    std::net::ToSocketAddrs::to_socket_addrs(&(host, port)).map(Iterator::collect)
}

/// Resolves a host name on the blocking pool.
fn lookup_host(host: &str, port: u16) -> io::Result<vec::IntoIter<SocketAddr>> {
    let resolver = RESOLVER
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .unwrap_or(std_resolver);
    let host = host.to_owned();
    green_core::unblock(move || resolver(&host, port)).map(Vec::into_iter)
}

/// A value that can be turned into one or more socket addresses: green's
/// version of `std::net::ToSocketAddrs`.
///
/// The trait has std's exact shape and is implemented for the same types
/// (socket addresses, `(IpAddr, u16)` and friends, `(&str, u16)`,
/// `(String, u16)`, `str`, `String`, `&[SocketAddr]` and references), with
/// the same iterator types and the same errors.
///
/// # Differences from std
///
/// Host names are resolved on green-core's blocking pool
/// ([`green_core::unblock`]), so a slow DNS lookup parks only the calling
/// green thread; literal addresses are parsed in place and never touch the
/// pool. Because it is a distinct trait, code generic over
/// `std::net::ToSocketAddrs` must name this one instead (the import swap does
/// it); a type of yours that implemented std's trait implements this one with
/// the same body.
///
/// # Examples
///
/// ```
/// use green_net::{SocketAddr, ToSocketAddrs};
///
/// let addr: Vec<SocketAddr> = "127.0.0.1:443".to_socket_addrs()?.collect();
/// assert_eq!(addr, [SocketAddr::from(([127, 0, 0, 1], 443))]);
/// assert!(("localhost", 80).to_socket_addrs()?.all(|a| a.port() == 80));
/// # Ok::<(), std::io::Error>(())
/// ```
pub trait ToSocketAddrs {
    /// Returned iterator over socket addresses which this type may correspond
    /// to.
    type Iter: Iterator<Item = SocketAddr>;

    /// Converts this object to an iterator of resolved [`SocketAddr`]s.
    ///
    /// # Errors
    ///
    /// As std: `InvalidInput` for a malformed `"host:port"` string, or the
    /// resolver's error for a name that does not resolve.
    fn to_socket_addrs(&self) -> io::Result<Self::Iter>;
}

impl ToSocketAddrs for SocketAddr {
    type Iter = option::IntoIter<SocketAddr>;
    fn to_socket_addrs(&self) -> io::Result<Self::Iter> {
        Ok(Some(*self).into_iter())
    }
}

impl ToSocketAddrs for SocketAddrV4 {
    type Iter = option::IntoIter<SocketAddr>;
    fn to_socket_addrs(&self) -> io::Result<Self::Iter> {
        SocketAddr::V4(*self).to_socket_addrs()
    }
}

impl ToSocketAddrs for SocketAddrV6 {
    type Iter = option::IntoIter<SocketAddr>;
    fn to_socket_addrs(&self) -> io::Result<Self::Iter> {
        SocketAddr::V6(*self).to_socket_addrs()
    }
}

impl ToSocketAddrs for (IpAddr, u16) {
    type Iter = option::IntoIter<SocketAddr>;
    fn to_socket_addrs(&self) -> io::Result<Self::Iter> {
        SocketAddr::new(self.0, self.1).to_socket_addrs()
    }
}

impl ToSocketAddrs for (Ipv4Addr, u16) {
    type Iter = option::IntoIter<SocketAddr>;
    fn to_socket_addrs(&self) -> io::Result<Self::Iter> {
        SocketAddrV4::new(self.0, self.1).to_socket_addrs()
    }
}

impl ToSocketAddrs for (Ipv6Addr, u16) {
    type Iter = option::IntoIter<SocketAddr>;
    fn to_socket_addrs(&self) -> io::Result<Self::Iter> {
        SocketAddrV6::new(self.0, self.1, 0, 0).to_socket_addrs()
    }
}

impl ToSocketAddrs for (&str, u16) {
    type Iter = vec::IntoIter<SocketAddr>;
    fn to_socket_addrs(&self) -> io::Result<Self::Iter> {
        let (host, port) = *self;
        // Literal addresses first, as std does: no lookup, no pool.
        if let Ok(ip) = host.parse::<Ipv4Addr>() {
            return Ok(vec![SocketAddr::V4(SocketAddrV4::new(ip, port))].into_iter());
        }
        if let Ok(ip) = host.parse::<Ipv6Addr>() {
            return Ok(vec![SocketAddr::V6(SocketAddrV6::new(ip, port, 0, 0))].into_iter());
        }
        lookup_host(host, port)
    }
}

impl ToSocketAddrs for (String, u16) {
    type Iter = vec::IntoIter<SocketAddr>;
    fn to_socket_addrs(&self) -> io::Result<Self::Iter> {
        (&*self.0, self.1).to_socket_addrs()
    }
}

impl ToSocketAddrs for str {
    type Iter = vec::IntoIter<SocketAddr>;
    fn to_socket_addrs(&self) -> io::Result<Self::Iter> {
        if let Ok(addr) = self.parse::<SocketAddr>() {
            return Ok(vec![addr].into_iter());
        }
        // std's split: the port follows the last ':'.
        let (host, port) = self
            .rsplit_once(':')
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "invalid socket address"))?;
        let port: u16 = port
            .parse()
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "invalid port value"))?;
        (host, port).to_socket_addrs()
    }
}

impl ToSocketAddrs for String {
    type Iter = vec::IntoIter<SocketAddr>;
    fn to_socket_addrs(&self) -> io::Result<Self::Iter> {
        self.as_str().to_socket_addrs()
    }
}

impl<'a> ToSocketAddrs for &'a [SocketAddr] {
    type Iter = iter::Cloned<slice::Iter<'a, SocketAddr>>;
    fn to_socket_addrs(&self) -> io::Result<Self::Iter> {
        Ok(self.iter().cloned())
    }
}

impl<T: ToSocketAddrs + ?Sized> ToSocketAddrs for &T {
    type Iter = T::Iter;
    fn to_socket_addrs(&self) -> io::Result<T::Iter> {
        (**self).to_socket_addrs()
    }
}

/// std's `each_addr`: resolve `addr`, run `f` on each address in order and
/// return the first success, or the last error.
pub(crate) fn each_addr<A: ToSocketAddrs, T>(
    addr: A,
    mut f: impl FnMut(&SocketAddr) -> io::Result<T>,
) -> io::Result<T> {
    let mut last_err = None;
    for addr in addr.to_socket_addrs()? {
        match f(&addr) {
            Ok(v) => return Ok(v),
            Err(e) => last_err = Some(e),
        }
    }
    Err(last_err.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "could not resolve to any addresses",
        )
    }))
}

/// The first address `addr` resolves to (std's `send_to` uses only that).
pub(crate) fn first_addr<A: ToSocketAddrs>(addr: A) -> io::Result<SocketAddr> {
    addr.to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no addresses to send data to"))
}
