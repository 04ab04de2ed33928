//! Interposition (feature `interpose`): programs written against std's own
//! `std::net` and `std::thread::sleep`, run inside green threads, leave
//! their hub free while they wait — a ticker green thread on the same hub
//! keeps advancing while another waits in `read`, `accept`, `connect` or
//! `sleep` — and return exactly what they return on OS threads.
#![cfg(feature = "interpose")]

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use green_conformance::assert_not_early;

/// Runs `wait` (a blocking std call) in a green thread next to a ticker on
/// the same hub; once the ticker has ticked 20 times, `release` makes the
/// call return. Returns what `wait` returned. Panics if the ticker stalled
/// or the call returned before it was released.
fn ticks_while<T: Send + 'static>(
    wait: impl FnOnce() -> T + Send + 'static,
    release: impl FnOnce() + Send + 'static,
) -> T {
    green::thread::spawn(move || {
        let hub = green_core::runtime::hub_id();
        let waiter = green_core::runtime::spawn_local(move || {
            assert_eq!(green_core::runtime::hub_id(), hub);
            wait()
        });
        let ticks = Arc::new(AtomicUsize::new(0));
        let t = ticks.clone();
        let ticker = green_core::runtime::spawn_local(move || {
            for _ in 0..20 {
                t.fetch_add(1, Ordering::SeqCst);
                green::thread::sleep(Duration::from_millis(2));
            }
        });
        ticker.join().unwrap();
        assert_eq!(ticks.load(Ordering::SeqCst), 20);
        assert!(!waiter.is_finished(), "the waiter returned before release");
        release();
        waiter.join().unwrap()
    })
    .join()
    .unwrap()
}

#[test]
fn std_read_leaves_the_hub_free() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (mut server, _) = listener.accept().unwrap();
    let got = ticks_while(
        move || {
            let mut buf = [0; 3];
            server.read_exact(&mut buf).unwrap();
            buf
        },
        move || client.write_all(b"end").unwrap(),
    );
    assert_eq!(&got, b"end");
}

#[test]
fn std_accept_leaves_the_hub_free() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (peer, local) = ticks_while(
        move || {
            let (s, peer) = listener.accept().unwrap();
            (peer, s.local_addr().unwrap())
        },
        move || {
            // Connected from a plain thread, which keeps the stream open
            // until the acceptor has seen it.
            std::thread::spawn(move || {
                let c = TcpStream::connect(addr).unwrap();
                std::thread::sleep(Duration::from_millis(50));
                drop(c);
            });
        },
    );
    assert_eq!(local, addr);
    assert!(peer.ip().is_loopback());
}

#[test]
fn std_sleep_leaves_the_hub_free_and_is_never_early() {
    let dur = Duration::from_millis(150);
    let (start, end) = ticks_while(
        move || {
            let start = Instant::now();
            std::thread::sleep(dur);
            (start, Instant::now())
        },
        || {},
    );
    assert_not_early(start, dur, "std::thread::sleep on a green thread");
    assert!(end >= start + dur);
}

/// A connect that has to wait: the listener's backlog is full (nobody
/// accepts), so the kernel drops the SYN and retries it; once the test
/// accepts, a later retry gets through.
#[test]
fn std_connect_leaves_the_hub_free() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // Fill the backlog from this plain thread, until a connect times out.
    let mut held = Vec::new();
    loop {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            Ok(s) => held.push(s),
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::TimedOut, "{e}");
                break;
            }
        }
        assert!(held.len() < 100_000, "the backlog never filled");
    }
    let drain = Arc::new(listener);
    let d = drain.clone();
    let peer_seen = ticks_while(
        move || {
            let s = TcpStream::connect(addr).unwrap();
            s.local_addr().unwrap()
        },
        move || {
            std::thread::spawn(move || {
                // Accept everything that comes, for a while.
                d.set_nonblocking(true).unwrap();
                let until = Instant::now() + Duration::from_secs(8);
                let mut kept = Vec::new();
                while Instant::now() < until {
                    match d.accept() {
                        Ok((s, _)) => kept.push(s),
                        Err(_) => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
            });
        },
    );
    assert!(peer_seen.ip().is_loopback());
    drop(held);
}

/// 1,000 green threads each do 20 echo round trips through std sockets to
/// a green server that is std code too; every byte is checked.
#[test]
fn thousand_std_echo_clients() {
    const CLIENTS: usize = 1000;
    const ROUNDS: usize = 20;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = green::thread::spawn(move || {
        let mut conns = Vec::new();
        for _ in 0..CLIENTS {
            let (mut s, _) = listener.accept().unwrap();
            conns.push(green::thread::spawn(move || {
                let mut buf = [0u8; 512];
                let mut echoed = 0;
                loop {
                    let n = s.read(&mut buf).unwrap();
                    if n == 0 {
                        return echoed;
                    }
                    s.write_all(&buf[..n]).unwrap();
                    echoed += n;
                }
            }));
        }
        conns.into_iter().map(|c| c.join().unwrap()).sum::<usize>()
    });
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| {
            green::thread::spawn(move || {
                let mut s = TcpStream::connect(addr).unwrap();
                for r in 0..ROUNDS {
                    let msg: Vec<u8> = (0..100).map(|k| (i * 31 + r * 7 + k) as u8).collect();
                    s.write_all(&msg).unwrap();
                    let mut back = vec![0; msg.len()];
                    s.read_exact(&mut back).unwrap();
                    assert_eq!(back, msg, "client {i} round {r}");
                }
                ROUNDS * 100
            })
        })
        .collect();
    let sent: usize = clients.into_iter().map(|c| c.join().unwrap()).sum();
    assert_eq!(sent, CLIENTS * ROUNDS * 100);
    assert_eq!(server.join().unwrap(), sent);
}
