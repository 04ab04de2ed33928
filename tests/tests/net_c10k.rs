//! C10K: 10,000 concurrent loopback TCP connections, each served by its own
//! green thread (thread-per-connection, std style), echoing seeded messages
//! that the clients check byte for byte.
//!
//! The server runs in this test process; the clients run in a child process
//! (this same test binary, re-run with `GREEN_C10K_CLIENT` set), so each
//! process needs ~10,000 fds rather than 20,000 — the usual `ulimit -n`
//! here is 20,000. If the soft limit is lower, the test scales the
//! connection count down and prints why. `GREEN_C10K_CONNS` overrides the
//! count; `GREEN_TEST_SEED` the seed.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use green::net::{TcpListener, TcpStream};

const DEFAULT_CONNS: usize = 10_000;
/// Fds kept aside for everything else in a process (stdio, pollers, the
/// listener, the test harness).
const FD_HEADROOM: usize = 128;
/// Echo rounds per connection.
const ROUNDS: usize = 3;
/// Upper bound for the whole exchange; only a hang reaches it.
const LIMIT: Duration = Duration::from_secs(300);

/// The soft `RLIMIT_NOFILE`, read from `/proc/self/limits`.
fn fd_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Length of message `round` on connection `conn` (1..=1500 bytes).
fn msg_len(seed: u64, conn: usize, round: usize) -> usize {
    let mut x = seed ^ ((conn as u64) << 20) ^ round as u64;
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    1 + (x % 1500) as usize
}

fn msg_byte(seed: u64, conn: usize, round: usize, i: usize) -> u8 {
    (seed as usize ^ conn.wrapping_mul(131) ^ round.wrapping_mul(7) ^ i.wrapping_mul(13)) as u8
}

fn total_bytes(seed: u64, conns: usize) -> u64 {
    (0..conns)
        .flat_map(|c| (0..ROUNDS).map(move |r| msg_len(seed, c, r) as u64))
        .sum()
}

/// The child process: connect `conns` times (one after another, so the
/// listener's backlog of 128 never overflows), give each connection its own
/// green thread, open the gate once all are up, and check every echoed byte.
fn run_clients(addr: &str, conns: usize, seed: u64) {
    // The gate: held for writing while connections open; each connection's
    // green thread waits for a read lock, so all start together.
    let gate = Arc::new(green::sync::RwLock::new(()));
    let open_gate = gate.write().unwrap();
    let checked = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut handles = Vec::with_capacity(conns);
    for conn in 0..conns {
        let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect #{conn}: {e}"));
        let gate = gate.clone();
        let checked = checked.clone();
        handles.push(green::thread::spawn(move || {
            drop(gate.read().unwrap());
            let mut back = vec![0u8; 1500];
            for round in 0..ROUNDS {
                let len = msg_len(seed, conn, round);
                let msg: Vec<u8> = (0..len).map(|i| msg_byte(seed, conn, round, i)).collect();
                s.write_all(&msg).unwrap();
                s.read_exact(&mut back[..len]).unwrap();
                assert!(
                    back[..len] == msg[..],
                    "connection {conn} round {round}: bytes differ"
                );
                checked.fetch_add(len as u64, Ordering::Relaxed);
            }
        }));
    }
    let connected = start.elapsed();
    drop(open_gate);
    for h in handles {
        h.join().unwrap();
    }
    let bytes = checked.load(Ordering::Relaxed);
    assert_eq!(bytes, total_bytes(seed, conns));
    println!(
        "client: {conns} connections up in {connected:?}, {bytes} bytes echoed and checked in {:?}",
        start.elapsed()
    );
}

#[test]
fn ten_thousand_concurrent_connections_echo() {
    let seed = std::env::var("GREEN_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x00c1_0000_u64);
    if let Ok(addr) = std::env::var("GREEN_C10K_CLIENT") {
        let conns: usize = std::env::var("GREEN_C10K_CONNS").unwrap().parse().unwrap();
        run_clients(&addr, conns, seed);
        return;
    }

    let wanted = std::env::var("GREEN_C10K_CONNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_CONNS);
    let limit = fd_limit().unwrap_or(1024);
    let conns = wanted.min(limit.saturating_sub(FD_HEADROOM));
    if conns < wanted {
        println!(
            "c10k: RLIMIT_NOFILE soft limit is {limit}: running {conns} connections instead of \
             {wanted} (raise it with `ulimit -n {}` to run them all)",
            wanted + FD_HEADROOM
        );
    }
    assert!(conns >= 100, "fd limit {limit} is too low for this test");
    println!("c10k: {conns} connections, seed {seed:#x}");

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let live = Arc::new(AtomicUsize::new(0));
    let max_live = Arc::new(AtomicUsize::new(0));
    let echoed = Arc::new(AtomicU64::new(0));
    let server = {
        let (live, max_live, echoed) = (live.clone(), max_live.clone(), echoed.clone());
        green::thread::spawn(move || {
            let mut handlers = Vec::with_capacity(conns);
            for _ in 0..conns {
                let (mut s, _) = listener.accept().unwrap();
                let now = live.fetch_add(1, Ordering::SeqCst) + 1;
                max_live.fetch_max(now, Ordering::SeqCst);
                let (live, echoed) = (live.clone(), echoed.clone());
                // Thread per connection, exactly as a std server would.
                handlers.push(green::thread::spawn(move || {
                    let mut buf = [0u8; 2048];
                    loop {
                        let n = s.read(&mut buf).unwrap();
                        if n == 0 {
                            break;
                        }
                        s.write_all(&buf[..n]).unwrap();
                        echoed.fetch_add(n as u64, Ordering::Relaxed);
                    }
                    live.fetch_sub(1, Ordering::SeqCst);
                }));
            }
            for h in handlers {
                h.join().unwrap();
            }
        })
    };

    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args([
            "ten_thousand_concurrent_connections_echo",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("GREEN_C10K_CLIENT", addr.to_string())
        .env("GREEN_C10K_CONNS", conns.to_string())
        .env("GREEN_TEST_SEED", seed.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > LIMIT {
            let _ = child.kill();
            panic!("the client process did not finish within {LIMIT:?}");
        }
        // Keep this thread's hub turning while we wait.
        green::thread::sleep(Duration::from_millis(20));
    };
    let mut out = String::new();
    let mut err = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(
        status.success(),
        "client process failed: {status}\n{out}\n{err}"
    );
    match out.lines().find_map(|l| l.find("client:").map(|i| &l[i..])) {
        Some(line) => println!("{line}"),
        None => println!("client output:\n{out}\n{err}"),
    }
    server.join().unwrap();
    assert_eq!(
        max_live.load(Ordering::SeqCst),
        conns,
        "not all connections were open at once"
    );
    assert_eq!(live.load(Ordering::SeqCst), 0);
    assert_eq!(echoed.load(Ordering::Relaxed), total_bytes(seed, conns));
    println!(
        "c10k: server saw {conns} concurrent connections, all bytes echoed, in {:?}",
        start.elapsed()
    );
}
