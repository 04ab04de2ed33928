//! Name resolution: green's `ToSocketAddrs` gives std's results and errors,
//! host names go through the blocking pool (so a slow lookup parks only the
//! caller), and literal addresses never reach the resolver.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, Once};
use std::time::{Duration, Instant};

use green_conformance::Flavor;
use rstest::rstest;

/// Host names the test resolver was asked for.
static ASKED: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// How long the test resolver takes for [`SLOW_HOST`].
const SLOW: Duration = Duration::from_millis(300);
const SLOW_HOST: &str = "slow.green-test";
/// Lookups of this host wait (each on its own OS thread, up to 5 s) until
/// [`OVERLAP`] of them are in the resolver at once, then say whether they
/// all were.
const OVERLAP_HOST: &str = "overlap.green-test";
const OVERLAP: usize = 8;
static IN_RESOLVER: (Mutex<usize>, Condvar) = (Mutex::new(0), Condvar::new());

/// The resolver every test here installs: records each host, sleeps (really
/// blocking its OS thread) for [`SLOW_HOST`], refuses literals (they must
/// never get here) and hands everything else to std.
fn test_resolver(host: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
    ASKED.lock().unwrap().push(host.to_owned());
    assert!(
        host.parse::<std::net::IpAddr>().is_err(),
        "literal address {host:?} reached the resolver"
    );
    if host == SLOW_HOST {
        std::thread::sleep(SLOW);
        return Ok(vec![SocketAddr::from(([127, 0, 0, 1], port))]);
    }
    if host == OVERLAP_HOST {
        let (count, all_in) = &IN_RESOLVER;
        let mut n = count.lock().unwrap();
        *n += 1;
        all_in.notify_all();
        let (n, _) = all_in
            .wait_timeout_while(n, Duration::from_secs(5), |n| *n < OVERLAP)
            .unwrap();
        return if *n >= OVERLAP {
            Ok(vec![SocketAddr::from(([127, 0, 0, 1], port))])
        } else {
            Err(std::io::Error::other(format!(
                "only {} of {OVERLAP} lookups were in the resolver at once",
                *n
            )))
        };
    }
    std::net::ToSocketAddrs::to_socket_addrs(&(host, port)).map(Iterator::collect)
}

fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| green::net::set_resolver(test_resolver));
}

macro_rules! scenarios {
    () => {
        use std::io::{Read, Write};
        use std::net::SocketAddr;

        /// What resolving each input gives: addresses, or the error's kind
        /// and message.
        pub fn resolutions() -> Vec<String> {
            fn show<A: ToSocketAddrs>(a: A) -> String {
                match a.to_socket_addrs() {
                    Ok(it) => {
                        let mut v: Vec<SocketAddr> = it.collect();
                        v.sort();
                        format!("{v:?}")
                    }
                    Err(e) => format!("{:?}: {}", e.kind(), e),
                }
            }
            let owned = String::from("127.0.0.1:9");
            let list = [
                SocketAddr::from(([127, 0, 0, 1], 1)),
                SocketAddr::from(([127, 0, 0, 2], 2)),
            ];
            vec![
                show("127.0.0.1:80"),
                show("[::1]:443"),
                show("[fe80::1%1]:443"),
                show("localhost:80"),
                show(("localhost", 81)),
                show(("127.0.0.1", 1)),
                show(("::1", 2)),
                show((String::from("localhost"), 3)),
                show(owned.clone()),
                show(&owned),
                show(&list[..]),
                show((std::net::Ipv4Addr::LOCALHOST, 5)),
                show(SocketAddr::from(([10, 0, 0, 1], 6))),
                show("nocolon"),
                show("localhost:99999"),
                show("localhost:port"),
                show("256.0.0.1:80"),
                show(""),
            ]
        }

        pub fn connect_and_bind_by_host_name() {
            let l = TcpListener::bind("localhost:0").unwrap();
            let port = l.local_addr().unwrap().port();
            let mut c = TcpStream::connect(("localhost", port)).unwrap();
            let (mut s, _) = l.accept().unwrap();
            c.write_all(b"dns").unwrap();
            let mut b = [0; 3];
            s.read_exact(&mut b).unwrap();
            assert_eq!(&b, b"dns");
            let c2 = TcpStream::connect(format!("localhost:{port}")).unwrap();
            assert_eq!(c2.peer_addr().unwrap().port(), port);
            let u = UdpSocket::bind("localhost:0").unwrap();
            u.send_to(b"x", ("localhost", u.local_addr().unwrap().port()))
                .unwrap();
            let mut b = [0; 1];
            assert_eq!(u.recv(&mut b).unwrap(), 1);
        }
    };
}

mod std_api {
    use std::net::{TcpListener, TcpStream, ToSocketAddrs, UdpSocket};
    scenarios!();
}

mod green_api {
    use green::net::{TcpListener, TcpStream, ToSocketAddrs, UdpSocket};
    scenarios!();
}

#[rstest]
#[case::std(Flavor::Std)]
#[case::green_plain(Flavor::GreenPlain)]
#[case::green_in_green(Flavor::GreenInGreen)]
fn same_results_and_errors_as_std(#[case] flavor: Flavor) {
    install();
    let got = flavor.run(if flavor.is_green() {
        green_api::resolutions
    } else {
        std_api::resolutions
    });
    let want = std_api::resolutions();
    assert_eq!(got, want);
}

#[rstest]
#[case::std(Flavor::Std)]
#[case::green_plain(Flavor::GreenPlain)]
#[case::green_in_green(Flavor::GreenInGreen)]
fn connect_and_bind_by_host_name(#[case] flavor: Flavor) {
    install();
    flavor.run(if flavor.is_green() {
        green_api::connect_and_bind_by_host_name
    } else {
        std_api::connect_and_bind_by_host_name
    });
}

// ---- green only -------------------------------------------------------------

use green::net::{TcpListener, TcpStream, ToSocketAddrs};

/// A lookup that takes 300 ms parks only the green thread that asked: a
/// sibling on the same hub keeps running the whole time.
#[test]
fn slow_lookup_does_not_stall_the_hub() {
    install();
    green::thread::spawn(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let hub = green_core::runtime::hub_id();
        let resolver = green_core::runtime::spawn_local(move || {
            let start = Instant::now();
            let s = TcpStream::connect((SLOW_HOST, port)).unwrap();
            assert_eq!(green_core::runtime::hub_id(), hub);
            (start.elapsed(), s.peer_addr().unwrap().port())
        });
        let ticks = Arc::new(AtomicUsize::new(0));
        let t = ticks.clone();
        let counter = green_core::runtime::spawn_local(move || {
            for _ in 0..20 {
                t.fetch_add(1, Ordering::SeqCst);
                green::thread::sleep(Duration::from_millis(5));
            }
        });
        counter.join().unwrap();
        assert_eq!(ticks.load(Ordering::SeqCst), 20);
        assert!(
            !resolver.is_finished(),
            "the sibling should finish its 20 ticks while the lookup sleeps"
        );
        let (took, got_port) = resolver.join().unwrap();
        assert_eq!(got_port, port);
        assert!(took >= SLOW, "lookup took {took:?}");
        let _ = listener.accept().unwrap();
    })
    .join()
    .unwrap();
}

/// Many blocking lookups at once overlap on the pool instead of queueing on
/// the hub or behind each other: eight of them are in the resolver at the
/// same time (each waits there for the other seven).
#[test]
fn slow_lookups_overlap() {
    install();
    let hs: Vec<_> = (0..OVERLAP)
        .map(|_| green::thread::spawn(|| (OVERLAP_HOST, 7).to_socket_addrs().map(Vec::from_iter)))
        .collect();
    for h in hs {
        let v = h.join().unwrap().expect("lookups ran one after another");
        assert_eq!(v, [SocketAddr::from(([127, 0, 0, 1], 7))]);
    }
}

/// Literal addresses are parsed in place: the resolver never sees them.
#[test]
fn literals_never_reach_the_resolver() {
    install();
    green::thread::spawn(|| {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let _a = TcpStream::connect(addr).unwrap();
        let _b = TcpStream::connect(format!("{addr}")).unwrap();
        let _c = TcpStream::connect(("127.0.0.1", addr.port())).unwrap();
        let _ = "[::1]:80".to_socket_addrs().unwrap();
        let _ = ("::1", 80).to_socket_addrs().unwrap();
    })
    .join()
    .unwrap();
    let asked = ASKED.lock().unwrap();
    assert!(
        asked.iter().all(|h| h.parse::<std::net::IpAddr>().is_err()),
        "{asked:?}"
    );
}
