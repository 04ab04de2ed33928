//! `TcpListener` and `Incoming` on std and on green (same scenarios, the
//! imports swapped), plus the green-only guarantee that a green thread
//! blocked in `accept` leaves its hub free.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use green_conformance::assert_send_sync;

macro_rules! scenarios {
    () => {
        use std::io::{ErrorKind, Read, Write};
        use std::net::{Ipv4Addr, SocketAddr};
        use std::time::{Duration, Instant};

        pub fn accept_reports_the_peer() {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = l.local_addr().unwrap();
            assert_eq!(addr.ip(), Ipv4Addr::LOCALHOST);
            let c = TcpStream::connect(addr).unwrap();
            let (mut s, peer) = l.accept().unwrap();
            assert_eq!(peer, c.local_addr().unwrap());
            assert_eq!(s.local_addr().unwrap(), addr);
            (&c).write_all(b"hi").unwrap();
            let mut b = [0; 2];
            s.read_exact(&mut b).unwrap();
            assert_eq!(&b, b"hi");
        }

        pub fn address_in_use() {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            let err = TcpListener::bind(l.local_addr().unwrap()).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::AddrInUse);
        }

        pub fn bind_tries_each_address_in_order() {
            let taken = TcpListener::bind("127.0.0.1:0").unwrap();
            let free: SocketAddr = "127.0.0.1:0".parse().unwrap();
            let l = TcpListener::bind(&[taken.local_addr().unwrap(), free][..]).unwrap();
            assert_ne!(l.local_addr().unwrap(), taken.local_addr().unwrap());
            let none: &[SocketAddr] = &[];
            let err = TcpListener::bind(none).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput);
            let err = TcpListener::bind("not an address").unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput);
        }

        pub fn rebind_after_time_wait() {
            // std sets SO_REUSEADDR: a port whose last connection sits in
            // TIME_WAIT (the server closed first) can be bound again.
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = l.local_addr().unwrap();
            let mut c = TcpStream::connect(addr).unwrap();
            let (s, _) = l.accept().unwrap();
            drop(s);
            assert_eq!(c.read(&mut [0; 1]).unwrap(), 0);
            drop(c);
            drop(l);
            let again = TcpListener::bind(addr).unwrap();
            assert_eq!(again.local_addr().unwrap(), addr);
        }

        pub fn incoming_yields_each_connection() {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = l.local_addr().unwrap();
            let clients = thread::spawn(move || {
                for i in 0..3u8 {
                    let mut c = TcpStream::connect(addr).unwrap();
                    c.write_all(&[i]).unwrap();
                }
            });
            let mut seen = Vec::new();
            for s in l.incoming().take(3) {
                let mut b = [0; 1];
                s.unwrap().read_exact(&mut b).unwrap();
                seen.push(b[0]);
            }
            clients.join().unwrap();
            seen.sort();
            assert_eq!(seen, [0, 1, 2]);
        }

        pub fn nonblocking_accept() {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.set_nonblocking(true).unwrap();
            let start = Instant::now();
            assert_eq!(l.accept().unwrap_err().kind(), ErrorKind::WouldBlock);
            assert!(start.elapsed() < Duration::from_secs(1));
            let _c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
            let mut accepted = None;
            for _ in 0..10_000 {
                match l.accept() {
                    Ok(p) => {
                        accepted = Some(p);
                        break;
                    }
                    Err(e) => {
                        assert_eq!(e.kind(), ErrorKind::WouldBlock);
                        thread::sleep(Duration::from_millis(1));
                    }
                }
            }
            let (s, _) = accepted.expect("connection never arrived");
            // An accepted stream is in blocking mode even though the
            // listener is not: a read with a timeout waits.
            s.set_read_timeout(Some(Duration::from_millis(30))).unwrap();
            let start = Instant::now();
            assert_eq!(
                (&s).read(&mut [0; 1]).unwrap_err().kind(),
                ErrorKind::WouldBlock
            );
            assert!(start.elapsed() >= Duration::from_millis(30));
            l.set_nonblocking(false).unwrap();
        }

        pub fn clones_accept_from_two_threads() {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = l.local_addr().unwrap();
            let l2 = l.try_clone().unwrap();
            assert_eq!(l2.local_addr().unwrap(), addr);
            let a = thread::spawn(move || l.accept().map(|p| p.1).unwrap());
            let b = thread::spawn(move || l2.accept().map(|p| p.1).unwrap());
            let c1 = TcpStream::connect(addr).unwrap();
            let c2 = TcpStream::connect(addr).unwrap();
            let mut got = [a.join().unwrap(), b.join().unwrap()];
            let mut want = [c1.local_addr().unwrap(), c2.local_addr().unwrap()];
            got.sort();
            want.sort();
            assert_eq!(got, want);
        }

        pub fn options_and_debug() {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.set_ttl(17).unwrap();
            assert_eq!(l.ttl().unwrap(), 17);
            assert!(l.take_error().unwrap().is_none());
            let dbg = format!("{l:?}");
            assert!(
                dbg.starts_with("TcpListener {") && dbg.contains("addr:"),
                "{dbg}"
            );
            let fd = std::os::fd::OwnedFd::from(l);
            let l = TcpListener::from(fd);
            let _c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
            l.accept().unwrap();
        }

        pub fn ipv6_loopback_if_available() -> Option<SocketAddr> {
            // Same outcome on both sides, whether or not ::1 exists here.
            let l = TcpListener::bind("[::1]:0").ok()?;
            let addr = l.local_addr().unwrap();
            let c = TcpStream::connect(addr).unwrap();
            let (_s, peer) = l.accept().unwrap();
            assert_eq!(peer, c.local_addr().unwrap());
            Some(SocketAddr::new(addr.ip(), 0))
        }
    };
}

green_conformance::std_and_green! {
    std: {
        use std::net::{TcpListener, TcpStream};
        use std::thread;
    }
    green: {
        use green::net::{TcpListener, TcpStream};
        use green::thread;
    }
    scenarios: scenarios!();
    compare_outcomes;
    tests: [
        accept_reports_the_peer,
        address_in_use,
        bind_tries_each_address_in_order,
        rebind_after_time_wait,
        incoming_yields_each_connection,
        nonblocking_accept,
        clones_accept_from_two_threads,
        options_and_debug,
        ipv6_loopback_if_available,
    ]
}

// ---- green only -------------------------------------------------------------

use green::net::{TcpListener, TcpStream};

#[test]
fn listener_is_send_sync() {
    assert_send_sync::<TcpListener>();
    assert_send_sync::<green::net::Incoming<'static>>();
}

/// A green thread blocked in `accept` leaves its hub free.
#[test]
fn blocked_accept_does_not_stall_the_hub() {
    green::thread::spawn(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let acceptor = green_core::runtime::spawn_local(move || listener.accept().unwrap().1);
        let ticks = Arc::new(AtomicUsize::new(0));
        let t = ticks.clone();
        let counter = green_core::runtime::spawn_local(move || {
            for _ in 0..20 {
                t.fetch_add(1, Ordering::SeqCst);
                green::thread::sleep(Duration::from_millis(2));
            }
        });
        counter.join().unwrap();
        assert_eq!(ticks.load(Ordering::SeqCst), 20);
        assert!(!acceptor.is_finished());
        let c = TcpStream::connect(addr).unwrap();
        assert_eq!(acceptor.join().unwrap(), c.local_addr().unwrap());
    })
    .join()
    .unwrap();
}

/// Dropping a listener closes its fd once: the port is free again and the
/// fd number is reused by the next socket, not closed twice under it.
#[test]
fn fd_closed_exactly_once() {
    use std::os::fd::AsRawFd;
    for _ in 0..50 {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let clone = l.try_clone().unwrap();
        assert_ne!(clone.as_raw_fd(), l.as_raw_fd());
        drop(l);
        // The clone still works after the original is gone.
        let c = TcpStream::connect(addr).unwrap();
        let (s, _) = clone.accept().unwrap();
        assert_eq!(s.peer_addr().unwrap(), c.local_addr().unwrap());
        drop(clone);
        assert_eq!(
            TcpStream::connect(addr).unwrap_err().kind(),
            std::io::ErrorKind::ConnectionRefused
        );
        // A std socket opened now must stay usable (nobody closes its fd).
        let probe = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        drop(s);
        drop(c);
        assert!(probe.local_addr().is_ok());
    }
}
