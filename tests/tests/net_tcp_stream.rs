//! `TcpStream` on std and on green: every scenario is written once against
//! the names `TcpStream`, `TcpListener` and `thread`, then compiled twice —
//! in `std_api` with std's imports and in `green_api` with green's (the
//! import swap the crate promises) — and run as rstest cases on std, on green
//! from a plain thread, and on green inside a green thread, with the same
//! assertions. Green-only guarantees come after.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use green_conformance::{assert_not_early, assert_send_sync};

macro_rules! scenarios {
    () => {
        use std::io::{ErrorKind, IoSlice, IoSliceMut, Read, Write};
        use std::net::{Shutdown, SocketAddr};
        use std::time::{Duration, Instant};

        use green_conformance::assert_not_early;

        /// A connected pair: (client, server side).
        fn pair() -> (TcpStream, TcpStream) {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
            let (server, peer) = listener.accept().unwrap();
            assert_eq!(peer, client.local_addr().unwrap());
            (client, server)
        }

        /// An address nobody listens on (a port just released).
        fn dead_addr() -> SocketAddr {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        }

        pub fn echo_both_ways() {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let server = thread::spawn(move || {
                let (mut s, _) = listener.accept().unwrap();
                let mut buf = vec![0; 100_000];
                s.read_exact(&mut buf).unwrap();
                s.write_all(&buf).unwrap();
            });
            let mut c = TcpStream::connect(addr).unwrap();
            assert_eq!(c.peer_addr().unwrap(), addr);
            let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
            c.write_all(&data).unwrap();
            let mut back = vec![0; data.len()];
            c.read_exact(&mut back).unwrap();
            assert!(back == data, "echoed bytes differ");
            server.join().unwrap();
        }

        pub fn connect_refused() {
            let err = TcpStream::connect(dead_addr()).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
        }

        pub fn connect_tries_each_address_in_order() {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let good = listener.local_addr().unwrap();
            let addrs = [dead_addr(), good];
            let c = TcpStream::connect(&addrs[..]).unwrap();
            assert_eq!(c.peer_addr().unwrap(), good);
            // All fail: the last error is returned.
            let err = TcpStream::connect(&[dead_addr(), dead_addr()][..]).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
            // None at all.
            let none: &[SocketAddr] = &[];
            let err = TcpStream::connect(none).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput);
            assert_eq!(err.to_string(), "could not resolve to any addresses");
        }

        pub fn connect_timeout_zero_and_success() {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let err = TcpStream::connect_timeout(&addr, Duration::ZERO).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput);
            let c = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
            assert_eq!(c.peer_addr().unwrap(), addr);
            let err = TcpStream::connect_timeout(&dead_addr(), Duration::from_secs(5)).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
        }

        pub fn connect_timeout_expires() {
            // A listener whose accept queue is full drops new SYNs, so a
            // connect to it never completes: fill it, then time out.
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let dur = Duration::from_millis(100);
            let mut held = Vec::new();
            for _ in 0..400 {
                let start = Instant::now();
                match TcpStream::connect_timeout(&addr, dur) {
                    Ok(s) => held.push(s),
                    Err(e) => {
                        assert_eq!(e.kind(), ErrorKind::TimedOut, "{e}");
                        assert_not_early(start, dur, "connect_timeout");
                        assert!(
                            held.len() >= 100,
                            "timed out after {} connections",
                            held.len()
                        );
                        return;
                    }
                }
            }
            panic!("the accept queue never filled");
        }

        pub fn read_after_peer_close_is_zero() {
            let (mut c, s) = pair();
            drop(s);
            let mut buf = [0; 16];
            assert_eq!(c.read(&mut buf).unwrap(), 0);
            assert_eq!(c.read(&mut buf).unwrap(), 0);
        }

        pub fn write_after_peer_close_fails_without_sigpipe() {
            let (mut c, s) = pair();
            drop(s);
            let chunk = [7u8; 1024];
            for _ in 0..1000 {
                match c.write(&chunk).map(|n| assert!(n > 0)) {
                    Ok(_) => thread::sleep(Duration::from_millis(1)),
                    Err(e) => {
                        assert!(
                            matches!(e.kind(), ErrorKind::BrokenPipe | ErrorKind::ConnectionReset),
                            "unexpected error {e:?}"
                        );
                        return;
                    }
                }
            }
            panic!("writes to a closed peer kept succeeding");
        }

        pub fn read_timeout_expires_with_would_block() {
            let (mut c, _s) = pair();
            assert_eq!(c.read_timeout().unwrap(), None);
            let dur = Duration::from_millis(60);
            c.set_read_timeout(Some(dur)).unwrap();
            let got = c.read_timeout().unwrap().expect("timeout set");
            assert!(
                got >= dur && got < dur + Duration::from_millis(10),
                "{got:?}"
            );
            let start = Instant::now();
            let err = c.read(&mut [0; 8]).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::WouldBlock);
            assert_not_early(start, dur, "read timeout");
            let start = Instant::now();
            assert_eq!(
                c.peek(&mut [0; 8]).unwrap_err().kind(),
                ErrorKind::WouldBlock
            );
            assert_not_early(start, dur, "peek timeout");
            c.set_read_timeout(None).unwrap();
            assert_eq!(c.read_timeout().unwrap(), None);
        }

        pub fn zero_timeouts_are_invalid_input() {
            let (c, _s) = pair();
            let err = c.set_read_timeout(Some(Duration::ZERO)).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput);
            let err = c.set_write_timeout(Some(Duration::ZERO)).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput);
            assert_eq!(c.read_timeout().unwrap(), None);
            assert_eq!(c.write_timeout().unwrap(), None);
        }

        pub fn write_timeout_expires_with_would_block() {
            let (mut c, _s) = pair();
            let dur = Duration::from_millis(50);
            c.set_write_timeout(Some(dur)).unwrap();
            assert!(c.write_timeout().unwrap().is_some());
            let chunk = vec![1u8; 64 * 1024];
            let mut sent = 0usize;
            // The peer never reads: the buffers fill and a write times out.
            while sent < 512 << 20 {
                let start = Instant::now();
                match c.write(&chunk) {
                    Ok(n) => sent += n,
                    Err(e) => {
                        assert_eq!(e.kind(), ErrorKind::WouldBlock, "{e}");
                        assert_not_early(start, dur, "write timeout");
                        return;
                    }
                }
            }
            panic!("wrote {sent} bytes to a peer that never reads");
        }

        pub fn peek_does_not_consume() {
            let (mut c, mut s) = pair();
            s.write_all(b"hello").unwrap();
            let mut buf = [0; 5];
            let mut n = 0;
            while n < 5 {
                n = c.peek(&mut buf).unwrap();
            }
            assert_eq!(&buf, b"hello");
            let mut again = [0; 5];
            c.read_exact(&mut again).unwrap();
            assert_eq!(&again, b"hello");
        }

        pub fn shutdown_write_gives_peer_eof() {
            let (c, mut s) = pair();
            c.shutdown(Shutdown::Write).unwrap();
            assert_eq!(s.read(&mut [0; 4]).unwrap(), 0);
            // The other direction still works.
            s.write_all(b"ok").unwrap();
            let mut buf = [0; 2];
            (&c).read_exact(&mut buf).unwrap();
            assert_eq!(&buf, b"ok");
        }

        pub fn shutdown_read_and_both() {
            let (c, mut s) = pair();
            c.shutdown(Shutdown::Read).unwrap();
            assert_eq!((&c).read(&mut [0; 4]).unwrap(), 0);
            c.shutdown(Shutdown::Both).unwrap();
            assert_eq!(s.read(&mut [0; 4]).unwrap(), 0);
        }

        pub fn shutdown_wakes_blocked_reader() {
            let (c, _s) = pair();
            let reader = c.try_clone().unwrap();
            let h = thread::spawn(move || (&reader).read(&mut [0; 8]).map_err(|e| e.kind()));
            thread::sleep(Duration::from_millis(50));
            c.shutdown(Shutdown::Both).unwrap();
            assert_eq!(h.join().unwrap(), Ok(0));
        }

        pub fn nonblocking_mode() {
            let (c, mut s) = pair();
            c.set_nonblocking(true).unwrap();
            let start = Instant::now();
            assert_eq!(
                (&c).read(&mut [0; 4]).unwrap_err().kind(),
                ErrorKind::WouldBlock
            );
            assert_eq!(
                c.peek(&mut [0; 4]).unwrap_err().kind(),
                ErrorKind::WouldBlock
            );
            assert!(start.elapsed() < Duration::from_secs(1));
            s.write_all(b"abcd").unwrap();
            let mut buf = [0; 4];
            let mut got = 0;
            for _ in 0..10_000 {
                match (&c).read(&mut buf[got..]) {
                    Ok(n) => got += n,
                    Err(e) => {
                        assert_eq!(e.kind(), ErrorKind::WouldBlock);
                        thread::sleep(Duration::from_millis(1));
                    }
                }
                if got == 4 {
                    break;
                }
            }
            assert_eq!(&buf, b"abcd");
            // A full send buffer gives WouldBlock instead of waiting.
            let chunk = vec![0u8; 64 * 1024];
            let mut sent = 0usize;
            loop {
                match (&c).write(&chunk) {
                    Ok(n) => sent += n,
                    Err(e) => {
                        assert_eq!(e.kind(), ErrorKind::WouldBlock);
                        break;
                    }
                }
                assert!(
                    sent < 512 << 20,
                    "a non-blocking write never filled the buffer"
                );
            }
            // The mode is shared with clones, and can be switched back.
            let clone = c.try_clone().unwrap();
            assert_eq!(
                clone.peek(&mut [0; 1]).unwrap_err().kind(),
                ErrorKind::WouldBlock
            );
            c.set_nonblocking(false).unwrap();
            clone
                .set_read_timeout(Some(Duration::from_millis(30)))
                .unwrap();
            let start = Instant::now();
            assert_eq!(
                (&c).read(&mut [0; 1]).unwrap_err().kind(),
                ErrorKind::WouldBlock
            );
            assert_not_early(
                start,
                Duration::from_millis(30),
                "timeout shared by a clone",
            );
        }

        pub fn clones_read_and_write_at_once() {
            let (c, s) = pair();
            let reader = c.try_clone().unwrap();
            let n = 200_000usize;
            let r = thread::spawn(move || {
                let mut buf = vec![0; n];
                (&reader).read_exact(&mut buf).unwrap();
                buf
            });
            let w = thread::spawn(move || {
                let data: Vec<u8> = (0..n).map(|i| (i % 253) as u8).collect();
                (&c).write_all(&data).unwrap();
                c
            });
            // The server echoes through its own clone pair.
            let s_read = s.try_clone().unwrap();
            let echo = thread::spawn(move || {
                let mut left = n;
                let mut buf = vec![0; 8192];
                while left > 0 {
                    let k = (&s_read).read(&mut buf).unwrap();
                    assert!(k > 0);
                    (&s).write_all(&buf[..k]).unwrap();
                    left -= k;
                }
            });
            let got = r.join().unwrap();
            let _c = w.join().unwrap();
            echo.join().unwrap();
            assert!(got.iter().enumerate().all(|(i, &b)| b == (i % 253) as u8));
        }

        pub fn vectored_io() {
            let (mut c, mut s) = pair();
            let n = c
                .write_vectored(&[IoSlice::new(b"abc"), IoSlice::new(b"defg")])
                .unwrap();
            assert_eq!(n, 7);
            let mut a = [0; 2];
            let mut b = [0; 5];
            let mut got = 0;
            while got < 7 {
                let mut bufs = [IoSliceMut::new(&mut a), IoSliceMut::new(&mut b)];
                if got == 0 {
                    got += s.read_vectored(&mut bufs).unwrap();
                } else {
                    // Rare partial read: take the rest plainly.
                    let mut rest = vec![0; 7 - got];
                    s.read_exact(&mut rest).unwrap();
                    let mut all = [a.to_vec(), b.to_vec()].concat();
                    all[got..].copy_from_slice(&rest);
                    a.copy_from_slice(&all[..2]);
                    b.copy_from_slice(&all[2..]);
                    got = 7;
                }
            }
            assert_eq!((&a, &b), (b"ab", b"cdefg"));
            c.flush().unwrap();
        }

        pub fn options() {
            let (c, _s) = pair();
            c.set_nodelay(true).unwrap();
            assert!(c.nodelay().unwrap());
            c.set_nodelay(false).unwrap();
            assert!(!c.nodelay().unwrap());
            c.set_ttl(42).unwrap();
            assert_eq!(c.ttl().unwrap(), 42);
            assert_eq!(c.set_ttl(0).unwrap_err().kind(), ErrorKind::InvalidInput);
            assert!(c.take_error().unwrap().is_none());
            let dbg = format!("{c:?}");
            assert!(
                dbg.starts_with("TcpStream {") && dbg.contains("peer:"),
                "{dbg}"
            );
            let fresh_peer = c.peer_addr().unwrap();
            assert_eq!(c.try_clone().unwrap().peer_addr().unwrap(), fresh_peer);
        }

        pub fn zero_length_read_and_write() {
            let (mut c, mut s) = pair();
            assert_eq!(c.write(&[]).unwrap(), 0);
            // A zero-length read waits for data like any other (std on
            // Linux), then returns 0 without consuming it.
            c.write_all(b"z").unwrap();
            assert_eq!(s.read(&mut []).unwrap(), 0);
            let mut b = [0; 1];
            s.read_exact(&mut b).unwrap();
            assert_eq!(&b, b"z");
        }

        /// A short read, then the EOF that arrived with the data: the next
        /// read returns 0 at once (regression: a read after a short one
        /// waited for an event the already-queued EOF never sends).
        pub fn eof_queued_behind_a_short_read() {
            let (mut c, mut s) = pair();
            c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
            let mut buf = [0; 100];
            // A first read that waits, so that the next ones find the
            // socket already known to the hub.
            let writer = thread::spawn(move || {
                thread::sleep(Duration::from_millis(20));
                s.write_all(b"a").unwrap();
                thread::sleep(Duration::from_millis(20));
                s.write_all(b"hello").unwrap();
                drop(s);
            });
            assert_eq!(c.read(&mut buf).unwrap(), 1);
            writer.join().unwrap();
            thread::sleep(Duration::from_millis(20));
            assert_eq!(c.read(&mut buf).unwrap(), 5);
            assert_eq!(&buf[..5], b"hello");
            assert_eq!(c.read(&mut buf).unwrap(), 0);
            assert_eq!(c.read(&mut buf).unwrap(), 0);
        }

        /// One message in flight at a time, each read shorter than its
        /// buffer (the HTTP keep-alive shape): every message arrives.
        pub fn short_reads_one_message_at_a_time() {
            let (mut c, mut s) = pair();
            c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
            let echo = thread::spawn(move || {
                let mut buf = [0; 64];
                loop {
                    let n = s.read(&mut buf).unwrap();
                    if n == 0 {
                        return;
                    }
                    s.write_all(&buf[..n]).unwrap();
                }
            });
            let mut buf = [0; 64];
            for i in 0..200u32 {
                let msg = i.to_string();
                c.write_all(msg.as_bytes()).unwrap();
                let n = c.read(&mut buf).unwrap();
                assert_eq!(&buf[..n], msg.as_bytes());
            }
            c.shutdown(Shutdown::Write).unwrap();
            assert_eq!(c.read(&mut buf).unwrap(), 0);
            echo.join().unwrap();
        }

        pub fn owned_fd_round_trip() {
            use std::os::fd::{AsFd, AsRawFd, OwnedFd};
            let (c, mut s) = pair();
            let raw = c.as_raw_fd();
            assert_eq!(c.as_fd().as_raw_fd(), raw);
            let fd = OwnedFd::from(c);
            assert_eq!(fd.as_raw_fd(), raw);
            let mut c = TcpStream::from(fd);
            c.write_all(b"x").unwrap();
            let mut b = [0; 1];
            s.read_exact(&mut b).unwrap();
            assert_eq!(&b, b"x");
            fn fd_traits<T>()
            where
                T: std::os::fd::AsFd
                    + std::os::fd::AsRawFd
                    + std::os::fd::IntoRawFd
                    + std::os::fd::FromRawFd
                    + From<OwnedFd>
                    + Into<OwnedFd>
                    + std::fmt::Debug,
            {
            }
            fd_traits::<TcpStream>();
            fd_traits::<TcpListener>();
            drop(c);
            assert_eq!(s.read(&mut b).unwrap(), 0);
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
    tests: [
        echo_both_ways,
        connect_refused,
        connect_tries_each_address_in_order,
        connect_timeout_zero_and_success,
        connect_timeout_expires,
        read_after_peer_close_is_zero,
        write_after_peer_close_fails_without_sigpipe,
        read_timeout_expires_with_would_block,
        zero_timeouts_are_invalid_input,
        write_timeout_expires_with_would_block,
        peek_does_not_consume,
        shutdown_write_gives_peer_eof,
        shutdown_read_and_both,
        shutdown_wakes_blocked_reader,
        nonblocking_mode,
        clones_read_and_write_at_once,
        vectored_io,
        options,
        zero_length_read_and_write,
        eof_queued_behind_a_short_read,
        short_reads_one_message_at_a_time,
        owned_fd_round_trip,
    ]
}

// ---- green only -------------------------------------------------------------

use green::net::{TcpListener, TcpStream};
use std::io::{ErrorKind, Read, Write};

#[test]
fn green_types_are_send_sync_and_unwind_safe() {
    fn unwind_safe<T: std::panic::UnwindSafe + std::panic::RefUnwindSafe>() {}
    assert_send_sync::<TcpStream>();
    assert_send_sync::<TcpListener>();
    unwind_safe::<TcpStream>();
    unwind_safe::<TcpListener>();
}

/// A green thread blocked in `read` leaves its hub free: a sibling spawned on
/// the same hub keeps counting meanwhile.
#[test]
fn blocked_read_does_not_stall_the_hub() {
    green::thread::spawn(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        let hub = green_core::runtime::hub_id();
        let ticks = Arc::new(AtomicUsize::new(0));
        let t = ticks.clone();
        let reader = green_core::runtime::spawn_local(move || {
            assert_eq!(green_core::runtime::hub_id(), hub);
            let mut buf = [0; 3];
            server.read_exact(&mut buf).unwrap();
            buf
        });
        let counter = green_core::runtime::spawn_local(move || {
            for _ in 0..20 {
                t.fetch_add(1, Ordering::SeqCst);
                green::thread::sleep(Duration::from_millis(2));
            }
        });
        counter.join().unwrap();
        assert_eq!(ticks.load(Ordering::SeqCst), 20);
        assert!(!reader.is_finished(), "the reader had nothing to read");
        client.write_all(b"end").unwrap();
        assert_eq!(&reader.join().unwrap(), b"end");
    })
    .join()
    .unwrap();
}

/// One socket used from green threads on different hubs (and from the
/// test's own thread): each hub keeps its own registration.
#[test]
fn one_socket_from_several_hubs() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = Arc::new(TcpStream::connect(listener.local_addr().unwrap()).unwrap());
    let (mut server, _) = listener.accept().unwrap();
    let rounds = 50u8;
    let mut hubs = std::collections::HashSet::new();
    for i in 0..rounds {
        let c = client.clone();
        // Spawned from a fresh OS thread each round: OS threads' spawns go
        // to their home worker, and homes go round the workers.
        let h = std::thread::spawn(move || {
            green::thread::spawn(move || {
                let mut b = [0; 1];
                (&*c).read_exact(&mut b).unwrap();
                (&*c).write_all(&b).unwrap();
                (green_core::runtime::hub_id(), b[0])
            })
        })
        .join()
        .unwrap();
        server.write_all(&[i]).unwrap();
        let mut back = [0; 1];
        server.read_exact(&mut back).unwrap();
        let (hub, got) = h.join().unwrap();
        assert_eq!((got, back[0]), (i, i));
        hubs.insert(hub);
    }
    // And from this plain thread's own hub.
    server.write_all(b"!").unwrap();
    let mut b = [0; 1];
    (&*client).read_exact(&mut b).unwrap();
    assert_eq!(&b, b"!");
    if green_core::runtime::workers() > 1 {
        assert!(hubs.len() > 1, "every round ran on one hub: {hubs:?}");
    }
}

/// The user-visible mode survives conversions: a non-blocking std stream
/// becomes a non-blocking green one, and a green stream given back to std is
/// blocking again (std's timeouts apply, rather than an instant WouldBlock).
#[test]
fn std_conversions_keep_the_mode() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let std_client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (_server, _) = listener.accept().unwrap();
    std_client.set_nonblocking(true).unwrap();
    let green_client = TcpStream::from(std_client);
    assert_eq!(
        (&green_client).read(&mut [0; 1]).unwrap_err().kind(),
        ErrorKind::WouldBlock
    );
    green_client.set_nonblocking(false).unwrap();
    let dur = Duration::from_millis(40);
    green_client.set_read_timeout(Some(dur)).unwrap();
    let back = std::net::TcpStream::from(green_client);
    let start = Instant::now();
    assert_eq!(
        (&back).read(&mut [0; 1]).unwrap_err().kind(),
        ErrorKind::WouldBlock
    );
    assert_not_early(
        start,
        dur,
        "std read after conversion (blocking with timeout)",
    );
    assert_eq!(back.read_timeout().unwrap().map(|d| d >= dur), Some(true));
    // Timeouts set on the std side carry into green.
    let green_again = TcpStream::from(back);
    let start = Instant::now();
    assert_eq!(
        (&green_again).read(&mut [0; 1]).unwrap_err().kind(),
        ErrorKind::WouldBlock
    );
    assert_not_early(start, dur, "green read with a timeout set through std");
}

/// Many green threads echo over loopback at once; each byte is checked.
/// Bounded and seeded.
#[test]
fn stress_many_echo_pairs() {
    let mut rng = green_conformance::Rng::from_env("stress_many_echo_pairs");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let conns = 200;
    let acceptor = green::thread::spawn(move || {
        let mut hs = Vec::new();
        for _ in 0..conns {
            let (mut s, _) = listener.accept().unwrap();
            hs.push(green::thread::spawn(move || {
                let mut buf = [0; 512];
                loop {
                    let n = s.read(&mut buf).unwrap();
                    if n == 0 {
                        break;
                    }
                    s.write_all(&buf[..n]).unwrap();
                }
            }));
        }
        for h in hs {
            h.join().unwrap();
        }
    });
    let clients: Vec<_> = (0..conns)
        .map(|i| {
            let len = 1 + rng.below(20_000) as usize;
            green::thread::spawn(move || {
                let mut s = TcpStream::connect(addr).unwrap();
                let data: Vec<u8> = (0..len).map(|j| (i * 31 + j) as u8).collect();
                let w = s.try_clone().unwrap();
                let writer = green::thread::spawn(move || (&w).write_all(&data).map(|_| w));
                let mut back = vec![0; len];
                s.read_exact(&mut back).unwrap();
                let w = writer.join().unwrap().unwrap();
                w.shutdown(std::net::Shutdown::Write).unwrap();
                assert!(back
                    .iter()
                    .enumerate()
                    .all(|(j, &b)| b == (i * 31 + j) as u8));
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    acceptor.join().unwrap();
}
