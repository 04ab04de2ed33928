//! `UnixStream`, `UnixListener` and `UnixDatagram` on std and on green
//! (same scenarios, the imports swapped), plus green-only checks.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use green_conformance::assert_send_sync;

macro_rules! scenarios {
    () => {
        use std::io::{ErrorKind, Read, Write};
        use std::net::Shutdown;
        use std::os::unix::net::SocketAddr;
        use std::path::PathBuf;
        use std::time::{Duration, Instant};

        use green_conformance::assert_not_early;

        fn dir() -> (tempfile::TempDir, PathBuf) {
            let d = tempfile::tempdir().unwrap();
            let p = d.path().join("sock");
            (d, p)
        }

        pub fn stream_echo_over_a_path() {
            let (_d, path) = dir();
            let l = UnixListener::bind(&path).unwrap();
            assert_eq!(l.local_addr().unwrap().as_pathname(), Some(path.as_path()));
            let p2 = path.clone();
            let server = thread::spawn(move || {
                let (mut s, addr) = l.accept().unwrap();
                assert!(addr.is_unnamed());
                let mut buf = vec![0; 50_000];
                s.read_exact(&mut buf).unwrap();
                s.write_all(&buf).unwrap();
                drop(p2);
            });
            let mut c = UnixStream::connect(&path).unwrap();
            assert_eq!(c.peer_addr().unwrap().as_pathname(), Some(path.as_path()));
            let data: Vec<u8> = (0..50_000u32).map(|i| (i % 249) as u8).collect();
            c.write_all(&data).unwrap();
            let mut back = vec![0; data.len()];
            c.read_exact(&mut back).unwrap();
            assert!(back == data);
            server.join().unwrap();
        }

        pub fn connect_errors() {
            let (_d, path) = dir();
            assert_eq!(
                UnixStream::connect(&path).unwrap_err().kind(),
                ErrorKind::NotFound
            );
            let long = "x".repeat(200);
            let err = UnixStream::connect(&long).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput);
            let err = UnixStream::connect("a\0b").unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput);
            // A socket file nobody listens on any more.
            let l = UnixListener::bind(&path).unwrap();
            drop(l);
            assert_eq!(
                UnixStream::connect(&path).unwrap_err().kind(),
                ErrorKind::ConnectionRefused
            );
        }

        pub fn bind_address_in_use() {
            let (_d, path) = dir();
            let _l = UnixListener::bind(&path).unwrap();
            assert_eq!(
                UnixListener::bind(&path).unwrap_err().kind(),
                ErrorKind::AddrInUse
            );
            assert_eq!(
                UnixDatagram::bind(&path).unwrap_err().kind(),
                ErrorKind::AddrInUse
            );
        }

        pub fn abstract_names() {
            use std::os::linux::net::SocketAddrExt;
            let name = format!("green-net-test-{}-{:?}", std::process::id(), Instant::now());
            let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
            let l = UnixListener::bind_addr(&addr).unwrap();
            assert_eq!(
                l.local_addr().unwrap().as_abstract_name(),
                Some(name.as_bytes())
            );
            let mut c = UnixStream::connect_addr(&addr).unwrap();
            let (mut s, _) = l.accept().unwrap();
            c.write_all(b"abs").unwrap();
            let mut b = [0; 3];
            s.read_exact(&mut b).unwrap();
            assert_eq!(&b, b"abs");
            // Datagrams to an abstract name.
            let dname = format!("{name}-dgram");
            let daddr = SocketAddr::from_abstract_name(dname.as_bytes()).unwrap();
            let rx = UnixDatagram::bind_addr(&daddr).unwrap();
            let tx = UnixDatagram::unbound().unwrap();
            tx.send_to_addr(b"dg", &daddr).unwrap();
            let mut buf = [0; 4];
            assert_eq!(rx.recv(&mut buf).unwrap(), 2);
            tx.connect_addr(&daddr).unwrap();
            tx.send(b"c").unwrap();
            assert_eq!(rx.recv(&mut buf).unwrap(), 1);
        }

        pub fn pair_peer_close_and_broken_pipe() {
            let (mut a, b) = UnixStream::pair().unwrap();
            assert!(a.local_addr().unwrap().is_unnamed());
            drop(b);
            assert_eq!(a.read(&mut [0; 4]).unwrap(), 0);
            let err = a.write(b"x").unwrap_err();
            assert_eq!(err.kind(), ErrorKind::BrokenPipe);
        }

        pub fn timeouts_and_nonblocking() {
            let (a, b) = UnixStream::pair().unwrap();
            assert_eq!(
                a.set_read_timeout(Some(Duration::ZERO)).unwrap_err().kind(),
                ErrorKind::InvalidInput
            );
            let dur = Duration::from_millis(50);
            a.set_read_timeout(Some(dur)).unwrap();
            assert!(a.read_timeout().unwrap().is_some());
            let start = Instant::now();
            assert_eq!(
                (&a).read(&mut [0; 4]).unwrap_err().kind(),
                ErrorKind::WouldBlock
            );
            assert_not_early(start, dur, "unix read timeout");
            a.set_nonblocking(true).unwrap();
            let start = Instant::now();
            assert_eq!(
                (&a).read(&mut [0; 4]).unwrap_err().kind(),
                ErrorKind::WouldBlock
            );
            assert!(start.elapsed() < dur);
            // Fill b's send buffer: a write timeout expires.
            b.set_write_timeout(Some(dur)).unwrap();
            let chunk = vec![0u8; 64 * 1024];
            let mut sent = 0usize;
            loop {
                let start = Instant::now();
                match (&b).write(&chunk) {
                    Ok(n) => sent += n,
                    Err(e) => {
                        assert_eq!(e.kind(), ErrorKind::WouldBlock);
                        assert_not_early(start, dur, "unix write timeout");
                        break;
                    }
                }
                assert!(sent < 256 << 20);
            }
            assert!(a.take_error().unwrap().is_none());
        }

        pub fn shutdown_directions_and_wakeup() {
            let (a, b) = UnixStream::pair().unwrap();
            a.shutdown(Shutdown::Write).unwrap();
            assert_eq!((&b).read(&mut [0; 1]).unwrap(), 0);
            let reader = b.try_clone().unwrap();
            let (c, _d) = UnixStream::pair().unwrap();
            let rc = c.try_clone().unwrap();
            let h = thread::spawn(move || (&rc).read(&mut [0; 4]).map_err(|e| e.kind()));
            thread::sleep(Duration::from_millis(50));
            c.shutdown(Shutdown::Read).unwrap();
            assert_eq!(h.join().unwrap(), Ok(0));
            drop(reader);
        }

        pub fn listener_nonblocking_incoming_and_clone() {
            let (_d, path) = dir();
            let l = UnixListener::bind(&path).unwrap();
            l.set_nonblocking(true).unwrap();
            assert_eq!(l.accept().unwrap_err().kind(), ErrorKind::WouldBlock);
            l.set_nonblocking(false).unwrap();
            let l2 = l.try_clone().unwrap();
            let p = path.clone();
            let clients = thread::spawn(move || {
                for i in 0..3u8 {
                    UnixStream::connect(&p).unwrap().write_all(&[i]).unwrap();
                }
            });
            let mut seen = Vec::new();
            for s in l2.incoming().take(3) {
                let mut b = [0; 1];
                s.unwrap().read_exact(&mut b).unwrap();
                seen.push(b[0]);
            }
            clients.join().unwrap();
            seen.sort();
            assert_eq!(seen, [0, 1, 2]);
            assert!(l.take_error().unwrap().is_none());
            assert!(format!("{l:?}").starts_with("UnixListener {"));
        }

        pub fn datagrams() {
            let (_d, path) = dir();
            let rx = UnixDatagram::bind(&path).unwrap();
            let tx = UnixDatagram::unbound().unwrap();
            tx.send_to(b"0123456789", &path).unwrap();
            tx.send_to(b"xy", &path).unwrap();
            let mut small = [0; 4];
            let (n, from) = rx.recv_from(&mut small).unwrap();
            assert_eq!((n, &small), (4, b"0123"));
            assert!(from.is_unnamed());
            let mut buf = [0; 16];
            assert_eq!(rx.recv(&mut buf).unwrap(), 2);
            // Connected pair, timeouts, nonblocking.
            let (a, b) = UnixDatagram::pair().unwrap();
            a.send(b"p").unwrap();
            assert_eq!(b.recv(&mut buf).unwrap(), 1);
            assert!(a.peer_addr().unwrap().is_unnamed());
            b.set_read_timeout(Some(Duration::from_millis(30))).unwrap();
            let start = Instant::now();
            assert_eq!(b.recv(&mut buf).unwrap_err().kind(), ErrorKind::WouldBlock);
            assert_not_early(start, Duration::from_millis(30), "datagram timeout");
            b.set_nonblocking(true).unwrap();
            assert_eq!(
                b.recv_from(&mut buf).unwrap_err().kind(),
                ErrorKind::WouldBlock
            );
            assert_eq!(
                b.set_write_timeout(Some(Duration::ZERO))
                    .unwrap_err()
                    .kind(),
                ErrorKind::InvalidInput
            );
            assert!(b.write_timeout().unwrap().is_none());
            let c = UnixDatagram::unbound().unwrap();
            c.connect(&path).unwrap();
            assert_eq!(c.peer_addr().unwrap().as_pathname(), Some(path.as_path()));
            c.send(b"conn").unwrap();
            assert_eq!(rx.recv(&mut buf).unwrap(), 4);
            assert_eq!(
                UnixDatagram::unbound()
                    .unwrap()
                    .send(b"x")
                    .unwrap_err()
                    .kind(),
                ErrorKind::NotConnected
            );
            c.shutdown(Shutdown::Both).unwrap();
            assert!(c.take_error().unwrap().is_none());
            let cl = rx.try_clone().unwrap();
            assert_eq!(cl.local_addr().unwrap().as_pathname(), Some(path.as_path()));
        }

        pub fn datagram_receiver_blocked_on_another_thread() {
            let (a, b) = UnixDatagram::pair().unwrap();
            let h = thread::spawn(move || {
                let mut buf = [0; 8];
                let n = b.recv(&mut buf).unwrap();
                buf[..n].to_vec()
            });
            thread::sleep(Duration::from_millis(20));
            a.send(b"late").unwrap();
            assert_eq!(h.join().unwrap(), b"late");
        }
    };
}

green_conformance::std_and_green! {
    std: {
        use std::os::unix::net::{UnixDatagram, UnixListener, UnixStream};
        use std::thread;
    }
    green: {
        use green::net::unix::{UnixDatagram, UnixListener, UnixStream};
        use green::thread;
    }
    scenarios: scenarios!();
    tests: [
        stream_echo_over_a_path,
        connect_errors,
        bind_address_in_use,
        abstract_names,
        pair_peer_close_and_broken_pipe,
        timeouts_and_nonblocking,
        shutdown_directions_and_wakeup,
        listener_nonblocking_incoming_and_clone,
        datagrams,
        datagram_receiver_blocked_on_another_thread,
    ]
}

// ---- green only -------------------------------------------------------------

use green::net::unix::{UnixDatagram, UnixListener, UnixStream};
use std::io::{Read, Write};

#[test]
fn unix_types_are_send_sync() {
    assert_send_sync::<UnixStream>();
    assert_send_sync::<UnixListener>();
    assert_send_sync::<UnixDatagram>();
}

/// A green thread blocked reading a Unix socket leaves its hub free.
#[test]
fn blocked_unix_read_does_not_stall_the_hub() {
    green::thread::spawn(|| {
        let (mut a, mut b) = UnixStream::pair().unwrap();
        let reader = green_core::runtime::spawn_local(move || {
            let mut buf = [0; 2];
            b.read_exact(&mut buf).unwrap();
            buf
        });
        let ticks = Arc::new(AtomicUsize::new(0));
        let t = ticks.clone();
        green_core::runtime::spawn_local(move || {
            for _ in 0..10 {
                t.fetch_add(1, Ordering::SeqCst);
                green::thread::sleep(Duration::from_millis(2));
            }
        })
        .join()
        .unwrap();
        assert_eq!(ticks.load(Ordering::SeqCst), 10);
        assert!(!reader.is_finished());
        a.write_all(b"ok").unwrap();
        assert_eq!(&reader.join().unwrap(), b"ok");
    })
    .join()
    .unwrap();
}

/// More connections than a small burst can be accepted at once, each from
/// its own green thread: every byte comes back.
#[test]
fn many_unix_clients() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("many");
    let l = UnixListener::bind(&path).unwrap();
    let n = 300;
    let server = green::thread::spawn(move || {
        for s in l.incoming().take(n) {
            let mut s = s.unwrap();
            green::thread::spawn(move || {
                let mut b = [0; 64];
                loop {
                    let k = s.read(&mut b).unwrap();
                    if k == 0 {
                        break;
                    }
                    s.write_all(&b[..k]).unwrap();
                }
            });
        }
    });
    let clients: Vec<_> = (0..n)
        .map(|i| {
            let p = path.clone();
            green::thread::spawn(move || {
                let mut c = UnixStream::connect(&p).unwrap();
                let msg = format!("client {i}");
                c.write_all(msg.as_bytes()).unwrap();
                let mut back = vec![0; msg.len()];
                c.read_exact(&mut back).unwrap();
                assert_eq!(back, msg.as_bytes());
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    server.join().unwrap();
}
