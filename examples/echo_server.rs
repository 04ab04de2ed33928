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
//! ```
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

        /// Serves forever; counts echoed messages in `served`.
        pub fn serve(listener: TcpListener, msg_size: usize, served: Arc<AtomicU64>) {
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
                    thread::Builder::new().spawn(move || handle(stream, msg_size, &served));
                if let Err(e) = spawned {
                    eprintln!("cannot start a thread for a new connection: {e}");
                }
            }
        }

        fn handle(mut stream: TcpStream, msg_size: usize, served: &AtomicU64) {
            let _ = stream.set_nodelay(true);
            let mut buf = vec![0u8; msg_size];
            loop {
                match stream.read_exact(&mut buf) {
                    Ok(()) => {}
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
}

mod on_std {
    use std::net::{TcpListener, TcpStream};
    use std::thread;
    server!();
}

#[derive(Clone, Debug)]
struct Opts {
    std: bool,
    conns: usize,
    msgs: usize,
    size: usize,
    client: Option<String>,
}

fn parse_opts() -> Opts {
    let mut o = Opts {
        std: false,
        conns: 10_000,
        msgs: 30,
        size: 64,
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
            "--client" => o.client = args.next(),
            "-h" | "--help" => {
                println!(
                    "usage: echo_server [--std] [--conns N (10000)] [--msgs M (30)] [--size BYTES (64)]"
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
    let addr = if o.std {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = l.local_addr().unwrap();
        let (size, served) = (o.size, served.clone());
        std::thread::spawn(move || on_std::serve(l, size, served));
        addr
    } else {
        let l = green::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = l.local_addr().unwrap();
        let (size, served) = (o.size, served.clone());
        // The accept loop runs on a green thread too.
        green::thread::spawn(move || on_green::serve(l, size, served));
        addr
    };

    let cpu_before = cpu_time();
    let exe = std::env::current_exe().expect("current_exe");
    let mut child = Command::new(exe)
        .args(["--client", &addr.to_string()])
        .args(["--conns", &o.conns.to_string()])
        .args(["--msgs", &o.msgs.to_string()])
        .args(["--size", &o.size.to_string()])
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
    let e = errors.load(Ordering::Relaxed);
    if e > 0 {
        println!("client: {e} connections failed or saw wrong bytes");
        std::process::exit(1);
    }
}
