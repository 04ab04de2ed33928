//! The C10K demo: a legacy thread-per-connection echo server, written as
//! plain std code, serving 10,000 concurrent connections on green threads.
//!
//! The server below is one piece of source (`server!`), compiled twice: once
//! with green's imports and once with std's. Those two `use` lines are the
//! whole migration:
//!
//! ```text
//! -use std::net::{TcpListener, TcpStream};
//! -use std::thread;
//! +use green::net::{TcpListener, TcpStream};
//! +use green::thread;
//! ```
//!
//! A built-in load client (a second process running this same binary, so
//! each process needs ~10,000 fds rather than 20,000) opens the connections,
//! holds them all open at once, and then has every connection do a number of
//! request/response round trips, checking each echoed byte. The server then
//! prints throughput, latency percentiles, its peak RSS and how many OS
//! threads it used.
//!
//! ```text
//! cargo run --release --example echo_server                        # green, 10,000 connections
//! cargo run --release --example echo_server -- --std --conns 1000  # the same server on std threads
//! cargo run --release --example echo_server -- --conns 20000 --msgs 50 --size 64
//! cargo run --release --example echo_server -- --idle-ms 2000       # close idle connections
//! ```
//!
//! `--idle-ms N` gives each connection an idle deadline: a connection whose
//! next message does not arrive within N ms is closed. On green that is one
//! scoped deadline around the blocking read, `green::rt::timeout(idle, ||
//! stream.read_exact(&mut buf))`, which covers the whole message however
//! many reads it takes. std has no scoped deadline; its build uses the
//! nearest thing, `set_read_timeout`, which bounds each `read` call only (a
//! peer that trickles a byte just inside the limit each time stays
//! connected there). The load client then also opens a few connections that
//! never send, and reports when the server closed them.
//!
//! Connections need fds: the demo lowers the count to what `ulimit -n`
//! allows, and says so. `--std` starts one OS thread per connection, so large
//! counts may exceed the machine's thread limits (it reports the failure).

use std::io::{BufRead, BufReader, Read, Write};

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The server, as legacy std code would write it: accept in a loop, one
/// thread per connection, blocking reads and writes.
macro_rules! server {
    () => {
        use std::io::{Read, Write};
        use std::sync::atomic::{AtomicU64, Ordering};
        use std::sync::Arc;
        use std::time::Duration;

        /// Serves forever; counts echoed messages in `served`. With `idle`,
        /// a connection whose next message does not arrive in time is
        /// closed (and counted in `IDLE_CLOSED`).
        pub fn serve(
            listener: TcpListener,
            msg_size: usize,
            idle: Option<Duration>,
            served: Arc<AtomicU64>,
        ) {
            for stream in listener.incoming() {
                let stream = match stream {
                    Ok(s) => s,
                    Err(e) => {
                        eprintln!("accept failed: {e}");
                        continue;
                    }
                };
                let served = served.clone();
                let spawned =
                    thread::Builder::new().spawn(move || handle(stream, msg_size, idle, &served));
                if let Err(e) = spawned {
                    eprintln!("cannot start a thread for a new connection: {e}");
                }
            }
        }

        fn handle(
            mut stream: TcpStream,
            msg_size: usize,
            idle: Option<Duration>,
            served: &AtomicU64,
        ) {
            let _ = stream.set_nodelay(true);
            let mut buf = vec![0u8; msg_size];
            loop {
                match read_message(&mut stream, &mut buf, idle) {
                    Ok(()) => {}
                    Err(e) if crate::is_idle(&e) => {
                        crate::IDLE_CLOSED.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                    Err(_) => return, // peer closed
                }
                if stream.write_all(&buf).is_err() {
                    return;
                }
                served.fetch_add(1, Ordering::Relaxed);
            }
        }
    };
}

mod on_green {
    use green::net::{TcpListener, TcpStream};
    use green::thread;
    server!();

    /// Reads one message, within `idle` if given: the deadline covers the
    /// whole blocking `read_exact`, and unwinds it when it passes.
    fn read_message(
        stream: &mut TcpStream,
        buf: &mut [u8],
        idle: Option<Duration>,
    ) -> std::io::Result<()> {
        match idle {
            None => stream.read_exact(buf),
            // `Elapsed` converts to an `io::Error` of kind `TimedOut`.
            Some(idle) => green::rt::timeout(idle, || stream.read_exact(buf))?,
        }
    }
}

mod on_std {
    use std::net::{TcpListener, TcpStream};
    use std::thread;
    server!();

    /// Reads one message; std has no scoped deadline, so `idle` becomes the
    /// socket's read timeout, which bounds each `read` call, not the
    /// message.
    fn read_message(
        stream: &mut TcpStream,
        buf: &mut [u8],
        idle: Option<Duration>,
    ) -> std::io::Result<()> {
        if idle.is_some() {
            stream.set_read_timeout(idle)?;
        }
        stream.read_exact(buf)
    }
}

/// Connections the server closed for being idle (see `--idle-ms`).
static IDLE_CLOSED: AtomicU64 = AtomicU64::new(0);

/// Whether a read failed for lack of data in time: green's deadline
/// (`TimedOut`), or std's read timeout (`WouldBlock` on Unix).
fn is_idle(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
    )
}

#[derive(Clone, Debug)]
struct Opts {
    std: bool,
    conns: usize,
    msgs: usize,
    size: usize,
    idle_ms: Option<u64>,
    client: Option<String>,
}

fn parse_opts() -> Opts {
    let mut o = Opts {
        std: false,
        conns: 10_000,
        msgs: 30,
        size: 64,
        idle_ms: None,
        client: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut num = |name: &str| -> usize {
            args.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{name} needs a number"))
        };
        match a.as_str() {
            "--std" => o.std = true,
            "--conns" => o.conns = num("--conns"),
            "--msgs" => o.msgs = num("--msgs"),
            "--size" => o.size = num("--size").max(1),
            "--idle-ms" => o.idle_ms = Some(num("--idle-ms") as u64),
            "--client" => o.client = args.next(),
            "-h" | "--help" => {
                println!(
                    "usage: echo_server [--std] [--conns N (10000)] [--msgs M (30)] [--size BYTES (64)] \
                     [--idle-ms N (none)]"
                );
                std::process::exit(0);
            }
            other => panic!("unknown argument {other:?} (try --help)"),
        }
    }
    o
}

fn proc_status(field: &str) -> Option<u64> {
    std::fs::read_to_string("/proc/self/status")
        .ok()?
        .lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// User + system CPU time of this process, from `/proc/self/stat` (in clock
/// ticks of 1/100 s, Linux's fixed USER_HZ).
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses).
    let rest = stat.rsplit_once(')').map(|p| p.1).unwrap_or("");
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 here.
    let ticks = f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

fn fd_limit() -> usize {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|l| {
            l.lines()
                .find(|l| l.starts_with("Max open files"))?
                .split_whitespace()
                .nth(3)?
                .parse()
                .ok()
        })
        .unwrap_or(1024)
}

fn main() {
    let mut o = parse_opts();
    if let Some(addr) = o.client.clone() {
        run_client(&addr, &o);
        return;
    }

    let limit = fd_limit();
    if o.conns + 100 > limit {
        let n = limit.saturating_sub(100);
        println!(
            "note: `ulimit -n` is {limit}; running {n} connections instead of {} \
             (raise the limit to run them all)",
            o.conns
        );
        o.conns = n;
    }
    let side = if o.std {
        "std threads"
    } else {
        "green threads"
    };
    println!(
        "echo server on {side}: {} connections x {} round trips of {} bytes",
        o.conns, o.msgs, o.size
    );

    // Peak OS threads, sampled while the demo runs.
    let peak_threads = Arc::new(AtomicUsize::new(0));
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let (peak, on) = (peak_threads.clone(), sampling.clone());
        std::thread::spawn(move || {
            while on.load(Ordering::Relaxed) {
                if let Some(n) = proc_status("Threads:") {
                    peak.fetch_max(n as usize, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };

    let served = Arc::new(AtomicU64::new(0));
    let idle = o.idle_ms.map(Duration::from_millis);
    let addr = if o.std {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = l.local_addr().unwrap();
        let (size, served) = (o.size, served.clone());
        std::thread::spawn(move || on_std::serve(l, size, idle, served));
        addr
    } else {
        let l = green::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = l.local_addr().unwrap();
        let (size, served) = (o.size, served.clone());
        // The accept loop runs on a green thread too.
        green::thread::spawn(move || on_green::serve(l, size, idle, served));
        addr
    };

    let cpu_before = cpu_time();
    let exe = std::env::current_exe().expect("current_exe");
    let mut client = Command::new(exe);
    client
        .args(["--client", &addr.to_string()])
        .args(["--conns", &o.conns.to_string()])
        .args(["--msgs", &o.msgs.to_string()])
        .args(["--size", &o.size.to_string()]);
    if let Some(ms) = o.idle_ms {
        client.args(["--idle-ms", &ms.to_string()]);
    }
    let mut child = client
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the load client");
    // Echo the client's report as it comes.
    let out = BufReader::new(child.stdout.take().unwrap());
    for line in out.lines() {
        println!("  {}", line.unwrap_or_default());
    }
    let status = child.wait().expect("wait for the load client");
    let cpu = cpu_time().saturating_sub(cpu_before);
    sampling.store(false, Ordering::Relaxed);
    sampler.join().unwrap();

    let requests = served.load(Ordering::Relaxed);
    println!("server ({side}):");
    println!("  requests served      {requests}");
    if requests > 0 {
        println!(
            "  CPU per request      {:.2} µs (user+sys {:.2} s)",
            cpu.as_secs_f64() * 1e6 / requests as f64,
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
    if let Some(ms) = o.idle_ms {
        println!(
            "  closed idle          {} connections (no message within {ms} ms)",
            IDLE_CLOSED.load(Ordering::Relaxed)
        );
    }
    if !status.success() {
        eprintln!("the load client failed: {status}");
        std::process::exit(1);
    }
}

/// The load client (always green: one green thread per connection).
fn run_client(addr: &str, o: &Opts) {
    // The gate: held for writing while connections open; each connection's
    // green thread waits for a read lock, so all start together.
    let gate = Arc::new(green::sync::RwLock::new(()));
    let open_gate = gate.write().unwrap();
    let errors = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut handles = Vec::with_capacity(o.conns);
    for i in 0..o.conns {
        let mut s = match green::net::TcpStream::connect(addr) {
            Ok(s) => s,
            Err(e) => {
                println!("connect #{i} failed: {e}; stopping at {i} connections");
                break;
            }
        };
        let _ = s.set_nodelay(true);
        let (gate, errors, msgs, size) = (gate.clone(), errors.clone(), o.msgs, o.size);
        handles.push(green::thread::spawn(move || {
            drop(gate.read().unwrap());
            let mut lat = Vec::with_capacity(msgs);
            let mut back = vec![0u8; size];
            for m in 0..msgs {
                let msg: Vec<u8> = (0..size).map(|k| (i + m + k) as u8).collect();
                let t = Instant::now();
                let ok = s.write_all(&msg).and_then(|_| s.read_exact(&mut back));
                if ok.is_err() || back != msg {
                    errors.fetch_add(1, Ordering::Relaxed);
                    break;
                }
                lat.push(t.elapsed().as_micros() as u32);
            }
            lat
        }));
    }
    // With an idle deadline, a few connections that never send: the server
    // should close each (our read sees end of file) once it passes.
    let idlers: Vec<_> = match o.idle_ms {
        None => Vec::new(),
        Some(_) => (0..IDLE_PROBES)
            .filter_map(|_| green::net::TcpStream::connect(addr).ok())
            .map(|mut s| {
                green::thread::spawn(move || {
                    let t = Instant::now();
                    let closed = matches!(s.read(&mut [0u8; 1]), Ok(0));
                    (closed, t.elapsed())
                })
            })
            .collect(),
    };
    let conns = handles.len();
    let opening = start.elapsed();
    println!(
        "client: {conns} connections open in {:.2} s",
        opening.as_secs_f64()
    );
    if opening > Duration::from_secs(1) {
        println!(
            "        (connecting flat out, the client sometimes fills the server's listen \
             backlog — 128, as std sets it — while both share the cores; the kernel then \
             drops the SYN and retries after 1 s: `nstat TcpExtListenOverflows` counts them)"
        );
    }
    let t = Instant::now();
    drop(open_gate);
    let mut lat: Vec<u32> = Vec::with_capacity(conns * o.msgs);
    for h in handles {
        lat.extend(h.join().expect("client thread panicked"));
    }
    let took = t.elapsed();
    lat.sort_unstable();
    let pct = |p: f64| -> u32 {
        if lat.is_empty() {
            0
        } else {
            lat[((lat.len() - 1) as f64 * p) as usize]
        }
    };
    println!(
        "client: {} round trips in {:.2} s = {:.0} req/s ({:.1} MB/s each way), all bytes checked",
        lat.len(),
        took.as_secs_f64(),
        lat.len() as f64 / took.as_secs_f64(),
        (lat.len() * o.size) as f64 / took.as_secs_f64() / 1e6
    );
    println!(
        "client: latency p50 {} µs, p90 {} µs, p99 {} µs, max {} µs",
        pct(0.5),
        pct(0.9),
        pct(0.99),
        lat.last().copied().unwrap_or(0)
    );
    if !idlers.is_empty() {
        let n = idlers.len();
        let mut closed = Vec::new();
        for h in idlers {
            if let (true, after) = h.join().expect("idle probe panicked") {
                closed.push(after);
            }
        }
        closed.sort_unstable();
        match (closed.first(), closed.last()) {
            (Some(lo), Some(hi)) => println!(
                "client: {} of {n} idle connections closed by the server after {:.2}-{:.2} s",
                closed.len(),
                lo.as_secs_f64(),
                hi.as_secs_f64()
            ),
            _ => println!("client: none of {n} idle connections was closed by the server"),
        }
    }
    let e = errors.load(Ordering::Relaxed);
    if e > 0 {
        println!("client: {e} connections failed or saw wrong bytes");
        std::process::exit(1);
    }
}

/// Connections the load client leaves idle when `--idle-ms` is given.
const IDLE_PROBES: usize = 10;

#[cfg(test)]
mod tests {
    use super::*;

    /// Starts the server on `std` or green threads with `idle`, and returns
    /// its address.
    fn start(std_threads: bool, idle: Option<Duration>) -> std::net::SocketAddr {
        let served = Arc::new(AtomicU64::new(0));
        if std_threads {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = l.local_addr().unwrap();
            std::thread::spawn(move || on_std::serve(l, 4, idle, served));
            addr
        } else {
            let l = green::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = l.local_addr().unwrap();
            green::thread::spawn(move || on_green::serve(l, 4, idle, served));
            addr
        }
    }

    /// A connection that echoes once and then stays silent is closed by the
    /// server once its idle deadline passes: the client reads end of file
    /// (a hang here would be the failure).
    fn idle_connection_is_closed(std_threads: bool) {
        let before = IDLE_CLOSED.load(Ordering::SeqCst);
        let addr = start(std_threads, Some(Duration::from_millis(50)));
        let mut c = std::net::TcpStream::connect(addr).unwrap();
        c.write_all(b"ping").unwrap();
        let mut back = [0u8; 4];
        c.read_exact(&mut back).unwrap();
        assert_eq!(&back, b"ping");
        let mut rest = Vec::new();
        c.read_to_end(&mut rest).unwrap();
        assert!(rest.is_empty());
        assert!(IDLE_CLOSED.load(Ordering::SeqCst) > before);
    }

    #[test]
    fn green_closes_an_idle_connection() {
        idle_connection_is_closed(false);
    }

    #[test]
    fn std_closes_an_idle_connection() {
        idle_connection_is_closed(true);
    }

    /// On green the deadline covers a whole message: a peer that trickles
    /// a byte every 150 ms, each well inside the 200 ms limit, is still
    /// closed, since a 4-byte message then takes 450 ms (std's per-read
    /// timeout would keep it connected for good). The connection ending is
    /// the check; a hang would be the failure.
    #[test]
    fn green_deadline_covers_the_whole_message() {
        let before = IDLE_CLOSED.load(Ordering::SeqCst);
        let addr = start(false, Some(Duration::from_millis(200)));
        let mut c = std::net::TcpStream::connect(addr).unwrap();
        let mut w = c.try_clone().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let trickle = std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) && w.write_all(b"x").is_ok() {
                std::thread::sleep(Duration::from_millis(150));
            }
        });
        // Echoes of whole messages may come back; then the close (end of
        // file, or a reset if a trickled byte arrived after it).
        let mut buf = [0u8; 16];
        while let Ok(n @ 1..) = c.read(&mut buf) {
            assert!(buf[..n].iter().all(|&b| b == b'x'));
        }
        stop.store(true, Ordering::SeqCst);
        trickle.join().unwrap();
        assert!(IDLE_CLOSED.load(Ordering::SeqCst) > before);
    }
}
