//! `UdpSocket` on std and on green (same scenarios, the imports swapped),
//! plus the green-only guarantee that a green thread blocked in `recv`
//! leaves its hub free.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use green_conformance::assert_send_sync;

macro_rules! scenarios {
    () => {
        use std::io::ErrorKind;
        use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
        use std::time::{Duration, Instant};

        use green_conformance::assert_not_early;

        fn local() -> UdpSocket {
            UdpSocket::bind("127.0.0.1:0").unwrap()
        }

        pub fn send_to_and_recv_from() {
            let a = local();
            let b = local();
            assert_eq!(a.send_to(b"one", b.local_addr().unwrap()).unwrap(), 3);
            let mut buf = [0; 16];
            let (n, from) = b.recv_from(&mut buf).unwrap();
            assert_eq!((&buf[..n], from), (&b"one"[..], a.local_addr().unwrap()));
            // A receiver blocked on another thread gets the datagram.
            let b2 = b.try_clone().unwrap();
            let h = thread::spawn(move || {
                let mut buf = [0; 16];
                let (n, _) = b2.recv_from(&mut buf).unwrap();
                buf[..n].to_vec()
            });
            thread::sleep(Duration::from_millis(20));
            a.send_to(b"two", b.local_addr().unwrap()).unwrap();
            assert_eq!(h.join().unwrap(), b"two");
        }

        pub fn truncation_drops_the_rest() {
            let a = local();
            let b = local();
            let to = b.local_addr().unwrap();
            a.send_to(b"0123456789", to).unwrap();
            a.send_to(b"ab", to).unwrap();
            let mut small = [0; 4];
            assert_eq!(b.recv_from(&mut small).unwrap().0, 4);
            assert_eq!(&small, b"0123");
            let mut buf = [0; 16];
            assert_eq!(b.recv(&mut buf).unwrap(), 2);
            assert_eq!(&buf[..2], b"ab");
        }

        pub fn peek_from_does_not_consume() {
            let a = local();
            let b = local();
            a.send_to(b"peek", b.local_addr().unwrap()).unwrap();
            let mut buf = [0; 8];
            let (n, from) = b.peek_from(&mut buf).unwrap();
            assert_eq!((&buf[..n], from), (&b"peek"[..], a.local_addr().unwrap()));
            assert_eq!(b.peek(&mut buf).unwrap(), 4);
            let (n, _) = b.recv_from(&mut buf).unwrap();
            assert_eq!(&buf[..n], b"peek");
        }

        pub fn connected_send_recv_and_refused() {
            let a = local();
            let b = local();
            assert_eq!(a.peer_addr().unwrap_err().kind(), ErrorKind::NotConnected);
            a.connect(b.local_addr().unwrap()).unwrap();
            assert_eq!(a.peer_addr().unwrap(), b.local_addr().unwrap());
            b.connect(a.local_addr().unwrap()).unwrap();
            a.send(b"hey").unwrap();
            let mut buf = [0; 8];
            assert_eq!(b.recv(&mut buf).unwrap(), 3);
            // A peer that goes away: ICMP port unreachable comes back as
            // ConnectionRefused on the next call.
            let gone = b.local_addr().unwrap();
            drop(b);
            a.connect(gone).unwrap();
            a.send(b"anyone?").unwrap();
            a.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            assert_eq!(
                a.recv(&mut buf).unwrap_err().kind(),
                ErrorKind::ConnectionRefused
            );
        }

        pub fn connect_and_send_to_address_lists() {
            let a = local();
            let b = local();
            let none: &[SocketAddr] = &[];
            let err = a.send_to(b"x", none).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput);
            assert_eq!(a.connect(none).unwrap_err().kind(), ErrorKind::InvalidInput);
            let err = UdpSocket::bind(none).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput);
            // send_to uses only the first address.
            let c = local();
            a.send_to(
                b"first",
                &[b.local_addr().unwrap(), c.local_addr().unwrap()][..],
            )
            .unwrap();
            let mut buf = [0; 8];
            assert_eq!(b.recv(&mut buf).unwrap(), 5);
            c.set_nonblocking(true).unwrap();
            assert_eq!(c.recv(&mut buf).unwrap_err().kind(), ErrorKind::WouldBlock);
            let err = UdpSocket::bind(b.local_addr().unwrap()).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::AddrInUse);
        }

        pub fn read_timeout_and_zero_timeout() {
            let a = local();
            let err = a.set_read_timeout(Some(Duration::ZERO)).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput);
            assert_eq!(
                a.set_write_timeout(Some(Duration::ZERO))
                    .unwrap_err()
                    .kind(),
                ErrorKind::InvalidInput
            );
            let dur = Duration::from_millis(50);
            a.set_read_timeout(Some(dur)).unwrap();
            a.set_write_timeout(Some(dur)).unwrap();
            assert!(a.read_timeout().unwrap().is_some());
            assert!(a.write_timeout().unwrap().is_some());
            let start = Instant::now();
            assert_eq!(
                a.recv_from(&mut [0; 4]).unwrap_err().kind(),
                ErrorKind::WouldBlock
            );
            assert_not_early(start, dur, "recv_from timeout");
            let start = Instant::now();
            assert_eq!(
                a.peek_from(&mut [0; 4]).unwrap_err().kind(),
                ErrorKind::WouldBlock
            );
            assert_not_early(start, dur, "peek_from timeout");
        }

        pub fn nonblocking_mode() {
            let a = local();
            a.set_nonblocking(true).unwrap();
            let start = Instant::now();
            assert_eq!(
                a.recv_from(&mut [0; 4]).unwrap_err().kind(),
                ErrorKind::WouldBlock
            );
            assert_eq!(
                a.peek_from(&mut [0; 4]).unwrap_err().kind(),
                ErrorKind::WouldBlock
            );
            assert!(start.elapsed() < Duration::from_secs(1));
            a.set_nonblocking(false).unwrap();
            a.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
            let start = Instant::now();
            assert_eq!(
                a.recv(&mut [0; 4]).unwrap_err().kind(),
                ErrorKind::WouldBlock
            );
            assert_not_early(start, Duration::from_millis(20), "blocking again");
        }

        pub fn too_large_datagram() -> String {
            let a = local();
            let b = local();
            let big = vec![0u8; 70_000];
            format!(
                "{:?}",
                a.send_to(&big, b.local_addr().unwrap())
                    .map_err(|e| e.kind())
            )
        }

        pub fn options() -> String {
            let a = local();
            a.set_broadcast(true).unwrap();
            assert!(a.broadcast().unwrap());
            a.set_ttl(9).unwrap();
            assert_eq!(a.ttl().unwrap(), 9);
            a.set_multicast_ttl_v4(3).unwrap();
            assert_eq!(a.multicast_ttl_v4().unwrap(), 3);
            a.set_multicast_loop_v4(false).unwrap();
            assert!(!a.multicast_loop_v4().unwrap());
            assert!(a.take_error().unwrap().is_none());
            let dbg = format!("{a:?}");
            assert!(dbg.starts_with("UdpSocket {"), "{dbg}");
            // Outcomes that depend on the host are compared with std's.
            let group = Ipv4Addr::new(239, 255, 0, 7);
            let join = a
                .join_multicast_v4(&group, &Ipv4Addr::LOCALHOST)
                .map_err(|e| e.kind());
            let leave = a
                .leave_multicast_v4(&group, &Ipv4Addr::LOCALHOST)
                .map_err(|e| e.kind());
            let v6loop = a.set_multicast_loop_v6(true).map_err(|e| e.kind());
            let v6get = a.multicast_loop_v6().map_err(|e| e.kind());
            let g6 = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x7);
            let join6 = a.join_multicast_v6(&g6, 0).map_err(|e| e.kind());
            let leave6 = a.leave_multicast_v6(&g6, 0).map_err(|e| e.kind());
            format!("{join:?} {leave:?} {v6loop:?} {v6get:?} {join6:?} {leave6:?}")
        }
    };
}

green_conformance::std_and_green! {
    std: {
        use std::net::UdpSocket;
        use std::thread;
    }
    green: {
        use green::net::UdpSocket;
        use green::thread;
    }
    scenarios: scenarios!();
    compare_outcomes;
    tests: [
        send_to_and_recv_from,
        truncation_drops_the_rest,
        peek_from_does_not_consume,
        connected_send_recv_and_refused,
        connect_and_send_to_address_lists,
        read_timeout_and_zero_timeout,
        nonblocking_mode,
        too_large_datagram,
        options,
    ]
}

// ---- green only -------------------------------------------------------------

use green::net::UdpSocket;

#[test]
fn udp_socket_is_send_sync() {
    assert_send_sync::<UdpSocket>();
}

/// A green thread blocked in `recv_from` leaves its hub free.
#[test]
fn blocked_recv_does_not_stall_the_hub() {
    green::thread::spawn(|| {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        let to = b.local_addr().unwrap();
        let receiver = green_core::runtime::spawn_local(move || {
            let mut buf = [0; 8];
            let (n, _) = b.recv_from(&mut buf).unwrap();
            buf[..n].to_vec()
        });
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
        assert!(!receiver.is_finished());
        a.send_to(b"wake", to).unwrap();
        assert_eq!(receiver.join().unwrap(), b"wake");
    })
    .join()
    .unwrap();
}

/// Datagrams between green threads on every hub and the test's own thread;
/// nothing lost on loopback with a bounded, paced load.
#[test]
fn many_green_senders_one_receiver() {
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let to = rx.local_addr().unwrap();
    let senders = 50;
    let per = 20;
    let hs: Vec<_> = (0..senders)
        .map(|i| {
            green::thread::spawn(move || {
                let s = UdpSocket::bind("127.0.0.1:0").unwrap();
                for j in 0..per {
                    s.send_to(&[i as u8, j as u8], to).unwrap();
                    green::thread::sleep(Duration::from_millis(1));
                }
            })
        })
        .collect();
    let mut seen = vec![0usize; senders];
    let mut buf = [0; 4];
    rx.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    for _ in 0..senders * per {
        let (n, _) = rx.recv_from(&mut buf).unwrap();
        assert_eq!(n, 2);
        seen[buf[0] as usize] += 1;
    }
    for h in hs {
        h.join().unwrap();
    }
    assert!(seen.iter().all(|&c| c == per), "{seen:?}");
}
