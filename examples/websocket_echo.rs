//! A WebSocket echo server built on `tungstenite`, one green thread per
//! connection, with a built-in load client.
//!
//! tungstenite works over any `Read + Write` stream, so the server is the
//! crate's own blocking example with green's imports: `tungstenite::accept`
//! on a `green::net::TcpStream` in a thread per connection. The load client
//! (a second process running this binary, so the server's figures are its
//! own) opens every connection first, then has each one make a number of
//! round trips, checking every echoed message; the server prints what it
//! cost.
//!
//! ```text
//! cargo run --release --example websocket_echo                           # 1,000 clients x 100 messages
//! cargo run --release --example websocket_echo -- --clients 200 --msgs 1000 --size 1024
//! ```
//!
//! A client must hand tungstenite a green stream: `tungstenite::client(url,
//! green_stream)`. `tungstenite::connect(url)` opens a `std::net::TcpStream`
//! inside the crate, whose blocking reads stall every green thread of the
//! hub it runs on (see README, "Works with").

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use green::net::{TcpListener, TcpStream};
use green::thread;
use tungstenite::{Message, WebSocket};

/// Serves WebSocket echo forever, one green thread per connection; counts
/// echoed messages in `echoed`.
pub fn serve(listener: TcpListener, echoed: Arc<AtomicU64>) {
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let echoed = echoed.clone();
        thread::spawn(move || {
            if let Err(e) = echo(stream, &echoed) {
                eprintln!("connection ended with an error: {e}");
            }
        });
    }
}

/// Echoes every text and binary message until the client closes.
fn echo(stream: TcpStream, echoed: &AtomicU64) -> tungstenite::Result<()> {
    let _ = stream.set_nodelay(true);
    let mut ws = tungstenite::accept(stream).map_err(handshake_error)?;
    loop {
        // `read` answers pings and the closing handshake by itself.
        match ws.read() {
            Ok(msg @ (Message::Text(_) | Message::Binary(_))) => {
                ws.send(msg)?;
                echoed.fetch_add(1, Ordering::Relaxed);
            }
            Ok(_) => {}
            Err(tungstenite::Error::ConnectionClosed) => return Ok(()),
            Err(e) => return Err(e),
        }
    }
}

/// A blocking stream never interrupts a handshake, so any handshake error
/// is a real one.
fn handshake_error<R: tungstenite::handshake::HandshakeRole>(
    e: tungstenite::HandshakeError<R>,
) -> tungstenite::Error {
    match e {
        tungstenite::HandshakeError::Failure(e) => e,
        tungstenite::HandshakeError::Interrupted(_) => {
            tungstenite::Error::Io(std::io::ErrorKind::WouldBlock.into())
        }
    }
}

/// Message `m` of client `c`: `size` bytes that differ per client and round.
fn payload(c: usize, m: usize, size: usize) -> Vec<u8> {
    (0..size)
        .map(|k| (c.wrapping_mul(31) ^ m.wrapping_mul(7) ^ k) as u8)
        .collect()
}

/// What the load client measured.
#[derive(Debug, Default)]
pub struct Report {
    /// Clients that completed the handshake, every round trip and the close.
    pub connected: usize,
    /// Echoes received and found equal to what was sent.
    pub checked: usize,
    /// Round-trip latencies, sorted, in µs.
    pub latencies: Vec<u32>,
    /// Time to open every TCP connection, one after another (the WebSocket
    /// handshakes run meanwhile, each in its client's green thread).
    pub connecting: Duration,
    /// Wall time of the message phase.
    pub took: Duration,
    /// First failures, one line each.
    pub errors: Vec<String>,
}

/// Opens `clients` WebSocket connections to `addr` (each a green thread),
/// then has every one make `msgs` round trips of `size`-byte binary
/// messages, checking each echo, and closes them cleanly.
///
/// TCP connections open one after another (hundreds at once would flood
/// the listen backlog of 128). A client on the same cores can still outrun
/// the accept loop, and a SYN that finds the backlog full is dropped and
/// retried after 1 s; a 1 ms pause every 16 connections avoids most of
/// those. Any that remain show in `connecting`.
pub fn run_clients(addr: &str, clients: usize, msgs: usize, size: usize) -> Report {
    // Held for writing while connections open; each client waits for a read
    // lock, so the message phase starts for all of them at once.
    let gate = Arc::new(green::sync::RwLock::new(()));
    let open_gate = gate.write().unwrap();
    let mut handles = Vec::with_capacity(clients);
    let mut report = Report::default();
    let start = Instant::now();
    for c in 0..clients {
        if c % 16 == 15 {
            thread::sleep(Duration::from_millis(1)); // see above
        }
        let stream = match TcpStream::connect(addr) {
            Ok(s) => s,
            Err(e) => {
                report.errors.push(format!("connect #{c}: {e}"));
                break;
            }
        };
        let _ = stream.set_nodelay(true);
        let url = format!("ws://{addr}/echo");
        let gate = gate.clone();
        handles.push(thread::spawn(move || -> Result<Vec<u32>, String> {
            let (mut ws, _response) = tungstenite::client(url, stream)
                .map_err(|e| format!("client {c}: handshake: {}", handshake_error(e)))?;
            drop(gate.read().unwrap());
            let lat =
                round_trips(&mut ws, c, msgs, size).map_err(|e| format!("client {c}: {e}"))?;
            ws.close(None)
                .map_err(|e| format!("client {c}: close: {e}"))?;
            // Read on until the server's close frame arrives.
            loop {
                match ws.read() {
                    Ok(_) => {}
                    Err(tungstenite::Error::ConnectionClosed) => return Ok(lat),
                    Err(e) => return Err(format!("client {c}: closing: {e}")),
                }
            }
        }));
    }
    report.connecting = start.elapsed();
    let start = Instant::now();
    drop(open_gate);
    for h in handles {
        match h.join() {
            Ok(Ok(lat)) => {
                report.connected += 1;
                report.checked += lat.len();
                report.latencies.extend(lat);
            }
            Ok(Err(e)) => report.errors.push(e),
            Err(_) => report.errors.push("a client thread panicked".into()),
        }
    }
    report.took = start.elapsed();
    report.latencies.sort_unstable();
    report
}

fn round_trips(
    ws: &mut WebSocket<TcpStream>,
    c: usize,
    msgs: usize,
    size: usize,
) -> Result<Vec<u32>, String> {
    let mut lat = Vec::with_capacity(msgs);
    for m in 0..msgs {
        let sent = payload(c, m, size);
        let t = Instant::now();
        ws.send(Message::binary(sent.clone()))
            .map_err(|e| format!("send {m}: {e}"))?;
        match ws.read().map_err(|e| format!("read {m}: {e}"))? {
            Message::Binary(back) if back[..] == sent[..] => {}
            other => return Err(format!("message {m}: wrong echo ({} bytes)", other.len())),
        }
        lat.push(t.elapsed().as_micros() as u32);
    }
    Ok(lat)
}

fn proc_status(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// User + system CPU time of this process (`/proc/self/stat`, 1/100 s ticks).
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = stat.rsplit_once(')').map(|p| p.1).unwrap_or("");
    let fields: Vec<u64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    let ticks = fields.get(11).copied().unwrap_or(0) + fields.get(12).copied().unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

fn main() {
    let (mut clients, mut msgs, mut size, mut client_of) = (1000, 100, 64, None);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut num = |name: &str| -> usize {
            args.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{name} needs a number"))
        };
        match a.as_str() {
            "--clients" => clients = num("--clients"),
            "--msgs" => msgs = num("--msgs"),
            "--size" => size = num("--size"),
            "--client" => client_of = args.next(),
            _ => {
                println!(
                    "usage: websocket_echo [--clients N (1000)] [--msgs M (100)] [--size BYTES (64)]"
                );
                return;
            }
        }
    }
    if let Some(addr) = client_of {
        let r = run_clients(&addr, clients, msgs, size);
        let pct = |p: f64| {
            let l = &r.latencies;
            l.get(((l.len().max(1) - 1) as f64 * p) as usize)
                .copied()
                .unwrap_or(0)
        };
        println!(
            "client: {} connections open in {:.2} s, then {} echoes checked in {:.2} s \
             = {:.0} msg/s; latency p50 {} µs, p99 {} µs",
            r.connected,
            r.connecting.as_secs_f64(),
            r.checked,
            r.took.as_secs_f64(),
            r.checked as f64 / r.took.as_secs_f64(),
            pct(0.5),
            pct(0.99)
        );
        for e in r.errors.iter().take(5) {
            println!("client: {e}");
        }
        std::process::exit(if r.errors.is_empty() { 0 } else { 1 });
    }

    println!(
        "websocket echo on green threads: {clients} clients x {msgs} messages of {size} bytes"
    );
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().unwrap();
    let echoed = Arc::new(AtomicU64::new(0));
    let served = echoed.clone();
    thread::spawn(move || serve(listener, served));

    // Peak OS threads, sampled while the client runs.
    let peak_threads = Arc::new(AtomicUsize::new(0));
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let (peak, on) = (peak_threads.clone(), sampling.clone());
        std::thread::spawn(move || {
            while on.load(Ordering::Relaxed) {
                peak.fetch_max(
                    proc_status("Threads:").unwrap_or(0) as usize,
                    Ordering::Relaxed,
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let cpu_before = cpu_time();
    let mut child = Command::new(std::env::current_exe().expect("current_exe"))
        .args(["--client", &addr.to_string()])
        .args(["--clients", &clients.to_string()])
        .args(["--msgs", &msgs.to_string()])
        .args(["--size", &size.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the load client");
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        println!("  {}", line.unwrap_or_default());
    }
    let status = child.wait().expect("wait for the load client");
    let cpu = cpu_time().saturating_sub(cpu_before);
    sampling.store(false, Ordering::Relaxed);
    sampler.join().unwrap();

    let n = echoed.load(Ordering::Relaxed);
    println!("server (green threads):");
    println!("  messages echoed      {n}");
    if n > 0 {
        println!(
            "  CPU per message      {:.2} µs (user+sys {:.2} s)",
            cpu.as_secs_f64() * 1e6 / n as f64,
            cpu.as_secs_f64()
        );
    }
    println!(
        "  peak RSS             {:.1} MiB",
        proc_status("VmHWM:").unwrap_or(0) as f64 / 1024.0
    );
    println!(
        "  peak OS threads      {}",
        peak_threads.load(Ordering::Relaxed)
    );
    if !status.success() {
        eprintln!("the load client failed: {status}");
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 200 concurrent tungstenite clients against the example's server, every
    /// echoed message compared with what was sent.
    #[test]
    fn two_hundred_clients_every_message_checked() {
        const CLIENTS: usize = 200;
        const MSGS: usize = 20;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let echoed = Arc::new(AtomicU64::new(0));
        let served = echoed.clone();
        thread::spawn(move || serve(listener, served));

        let r = run_clients(&addr, CLIENTS, MSGS, 300);
        assert!(r.errors.is_empty(), "client errors: {:?}", r.errors);
        assert_eq!(r.connected, CLIENTS);
        assert_eq!(r.checked, CLIENTS * MSGS);
        // Every client read its echoes, so the server counted them all.
        assert_eq!(echoed.load(Ordering::Relaxed), (CLIENTS * MSGS) as u64);
    }

    /// The README's advice for a crate that opens its own std socket: run the
    /// whole exchange inside `green::rt::unblock`. Server and client share
    /// one hub here (the test thread's), so a std socket blocking that hub
    /// would starve the server; on the blocking pool it does not.
    #[test]
    fn connect_with_its_own_std_socket_works_inside_unblock() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let echoed = Arc::new(AtomicU64::new(0));
        let served = echoed.clone();
        let server = green::rt::runtime::spawn_local(move || {
            let (stream, _) = listener.accept().unwrap();
            echo(stream, &served).unwrap();
        });
        let client = green::rt::runtime::spawn_local(move || {
            green::rt::unblock(move || -> tungstenite::Result<Message> {
                let (mut ws, _) = tungstenite::connect(format!("ws://{addr}/"))?;
                ws.send(Message::text("through the pool"))?;
                let back = ws.read()?;
                ws.close(None)?;
                while ws.read().is_ok() {}
                Ok(back)
            })
        });
        let back = client.join().unwrap().unwrap();
        server.join().unwrap();
        assert_eq!(back, Message::text("through the pool"));
        assert_eq!(echoed.load(Ordering::Relaxed), 1);
    }
}
