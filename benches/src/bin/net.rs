//! Network benchmarks: the same hand-rolled servers on green threads, std
//! threads (thread per connection), tokio (task per connection) and may
//! (coroutine per connection), side by side, and the same servers in Go
//! (goroutine per connection, `benches/go/net.go`) when `go` is installed.
//!
//! ```text
//! cargo run --release -p green-benches --bin net                 # echo table, then HTTP table if wrk is installed
//! cargo run --release -p green-benches --bin net -- echo --secs 5 --conns 100,1000
//! cargo run --release -p green-benches --bin net -- http --secs 10 --conns 100,1000
//! cargo run --release -p green-benches --bin net -- http --secs 5 --rounds 4   # interleaved rounds, then medians
//! cargo run --release -p green-benches --bin net -- serve-http green 8080   # for wrk by hand
//! ```
//!
//! Every server runs in its own process (this binary, re-run as
//! `serve-echo IMPL` / `serve-http IMPL`), so its CPU time (user + system,
//! from `/proc/PID/stat`) is measured alone. The echo load comes from one
//! green client (one green thread per connection, 64-byte messages, one
//! outstanding message per connection); the HTTP load from `wrk -t2
//! --latency` (`apt-get install wrk`). Nothing is asserted: figures vary
//! with the machine and its load.
//!
//! Every server listens with a backlog of [`BACKLOG`] (1,024): std's
//! `bind`, and so green's and tokio's, listen with 128, may's with 1,024
//! and Go's with the kernel's `somaxconn`. With 128, `wrk -c1000`'s burst
//! of connects overflows the accept queue, and the handshakes the kernel
//! then drops or answers with SYN cookies cost some runs' first requests
//! 200 ms or more each (TCP's minimum retransmission timeout), which moves
//! p99 by a factor of ten in one short run in three, whichever server it
//! is. That measures the backlog, not the server, so the servers that
//! listen with less are raised after `bind` (`listen` again on a listening
//! socket only changes its backlog).
//!
//! `--rounds N` runs the HTTP cells N times, each round starting the
//! servers one place further along the list, and prints every round and
//! then the median of each cell. Servers run one after another, so a
//! machine whose speed drifts (a shared VM) favours whichever ran in a
//! fast minute; rotating the order spreads that over every server.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const IMPLS: [&str; 5] = ["green", "std", "tokio", "may", "go"];
const MSG: usize = 64;
const RESPONSE: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";

/// The Go servers' binary (`benches/go/net.go`), built once by `main` when
/// `go` is asked for; `serve` runs only the Rust servers.
static GO: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();

// ---- shared server logic ----------------------------------------------------

/// Counts the complete requests at the front of `buf` (each ends with an
/// empty line; hello-world GETs carry no body) and the bytes they span.
fn complete_requests(buf: &[u8]) -> (usize, usize) {
    let mut n = 0;
    let mut used = 0;
    while let Some(end) = buf[used..].windows(4).position(|w| w == b"\r\n\r\n") {
        used += end + 4;
        n += 1;
    }
    (n, used)
}

/// The HTTP/1.1 keep-alive loop, for any blocking stream.
fn http_blocking(mut s: impl Read + Write) {
    let mut buf = vec![0u8; 8192];
    let mut len = 0;
    let mut out = Vec::new();
    loop {
        let n = match s.read(&mut buf[len..]) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        len += n;
        let (k, used) = complete_requests(&buf[..len]);
        if k > 0 {
            out.clear();
            for _ in 0..k {
                out.extend_from_slice(RESPONSE);
            }
            if s.write_all(&out).is_err() {
                return;
            }
            buf.copy_within(used..len, 0);
            len -= used;
        }
        if len == buf.len() {
            return; // request too large
        }
    }
}

/// The echo loop, for any blocking stream.
fn echo_blocking(mut s: impl Read + Write) {
    let mut buf = [0u8; MSG];
    while s.read_exact(&mut buf).is_ok() {
        if s.write_all(&buf).is_err() {
            return;
        }
    }
}

/// The listen backlog of every server (see the module docs).
const BACKLOG: i32 = 1024;

/// Raises a bound listener's backlog to [`BACKLOG`].
fn widen_backlog(l: &impl std::os::fd::AsFd) {
    socket2::SockRef::from(l)
        .listen(BACKLOG)
        .expect("listen again with a wider backlog");
}

fn announce(addr: std::net::SocketAddr) {
    println!("listening {addr}");
    io::stdout().flush().unwrap();
}

// ---- the four servers -------------------------------------------------------

fn serve_green(port: u16, http: bool) {
    let l = green::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    widen_backlog(&l);
    announce(l.local_addr().unwrap());
    green::thread::spawn(move || {
        for s in l.incoming() {
            let s = match s {
                Ok(s) => s,
                Err(_) => continue,
            };
            let _ = s.set_nodelay(true);
            green::thread::spawn(move || {
                if http {
                    http_blocking(s)
                } else {
                    echo_blocking(s)
                }
            });
        }
    })
    .join()
    .unwrap();
}

fn serve_std(port: u16, http: bool) {
    let l = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    widen_backlog(&l);
    announce(l.local_addr().unwrap());
    for s in l.incoming() {
        let s = match s {
            Ok(s) => s,
            Err(_) => continue,
        };
        let _ = s.set_nodelay(true);
        let _ = std::thread::Builder::new().spawn(move || {
            if http {
                http_blocking(s)
            } else {
                echo_blocking(s)
            }
        });
    }
}

fn serve_tokio(port: u16, http: bool) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let l = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        widen_backlog(&l);
        announce(l.local_addr().unwrap());
        loop {
            let (mut s, _) = match l.accept().await {
                Ok(p) => p,
                Err(_) => continue,
            };
            let _ = s.set_nodelay(true);
            tokio::spawn(async move {
                if http {
                    let mut buf = vec![0u8; 8192];
                    let mut len = 0;
                    let mut out = Vec::new();
                    loop {
                        let n = match s.read(&mut buf[len..]).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => n,
                        };
                        len += n;
                        let (k, used) = complete_requests(&buf[..len]);
                        if k > 0 {
                            out.clear();
                            for _ in 0..k {
                                out.extend_from_slice(RESPONSE);
                            }
                            if s.write_all(&out).await.is_err() {
                                return;
                            }
                            buf.copy_within(used..len, 0);
                            len -= used;
                        }
                        if len == buf.len() {
                            return;
                        }
                    }
                } else {
                    let mut buf = [0u8; MSG];
                    while s.read_exact(&mut buf).await.is_ok() {
                        if s.write_all(&buf).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
}

fn serve_may(port: u16, http: bool) {
    may::config().set_workers(
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2),
    );
    let l = may::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    announce(l.local_addr().unwrap());
    for s in l.incoming() {
        let s = match s {
            Ok(s) => s,
            Err(_) => continue,
        };
        let _ = s.set_nodelay(true);
        let body = move || {
            if http {
                http_blocking(s)
            } else {
                echo_blocking(s)
            }
        };
        // SAFETY: may's spawn is unsafe because a coroutine may migrate
        // between OS threads; this body touches no thread-local storage and
        // holds no `!Send` value across a yield, only its own socket and
        // heap buffers.
        unsafe {
            may::coroutine::spawn(body);
        }
    }
}

fn serve(which: &str, port: u16, http: bool) {
    match which {
        "green" => serve_green(port, http),
        "std" => serve_std(port, http),
        "tokio" => serve_tokio(port, http),
        "may" => serve_may(port, http),
        other => panic!("unknown server {other:?}: this binary serves green, std, tokio and may (go is its own binary)"),
    }
}

// ---- measuring --------------------------------------------------------------

/// A server subprocess and its address.
struct Server {
    child: Child,
    addr: String,
}

impl Server {
    fn start(which: &str, http: bool) -> Server {
        let mode = if http { "serve-http" } else { "serve-echo" };
        // The Go servers are their own binary; ours re-runs this one.
        let (program, args) = match which {
            "go" => (
                GO.get().expect("go server built by main").clone(),
                vec![mode, "0"],
            ),
            _ => (std::env::current_exe().unwrap(), vec![mode, which, "0"]),
        };
        let mut child = Command::new(program)
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .expect("start server process");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening ")
            .unwrap_or_else(|| panic!("server {which} said {line:?}"))
            .to_string();
        Server { child, addr }
    }

    /// User + system CPU time so far, from `/proc/PID/stat` (USER_HZ = 100).
    fn cpu(&self) -> Duration {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        let rest = stat.rsplit_once(')').map(|p| p.1).unwrap_or("");
        let f: Vec<u64> = rest
            .split_whitespace()
            .map(|x| x.parse().unwrap_or(0))
            .collect();
        let ticks = f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0);
        Duration::from_millis(ticks * 10)
    }

    fn threads(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default()
            .lines()
            .find(|l| l.starts_with("Threads:"))
            .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Row {
    name: String,
    conns: usize,
    reqs: f64,
    p50_us: f64,
    p99_us: f64,
    cpu_us: f64,
    threads: u64,
}

fn print_table(title: &str, rows: &[Row]) {
    println!("\n{title}");
    println!(
        "| server | conns | req/s | p50 | p99 | server CPU/req | server threads |\n|---|---:|---:|---:|---:|---:|---:|"
    );
    for r in rows {
        println!(
            "| {} | {} | {:.0} | {:.0} µs | {:.0} µs | {:.2} µs | {} |",
            r.name, r.conns, r.reqs, r.p50_us, r.p99_us, r.cpu_us, r.threads
        );
    }
}

/// Opens once, for all client green threads.
struct Gate {
    open: AtomicBool,
    waiters: Mutex<Vec<green_core::park::Unparker>>,
}

impl Gate {
    fn wait(&self) {
        {
            let mut w = self.waiters.lock().unwrap();
            if self.open.load(Ordering::Acquire) {
                return;
            }
            w.push(green_core::park::unparker());
        }
        while !self.open.load(Ordering::Acquire) {
            green_core::park::park(None);
        }
    }
    fn open(&self) {
        let w = {
            let mut w = self.waiters.lock().unwrap();
            self.open.store(true, Ordering::Release);
            std::mem::take(&mut *w)
        };
        for u in w {
            u.unpark();
        }
    }
}

/// Echo load: `conns` green client threads, each with one 64-byte message
/// in flight, for `secs`.
fn echo_run(which: &str, conns: usize, secs: f64) -> Row {
    let server = Server::start(which, false);
    let gate = Arc::new(Gate {
        open: AtomicBool::new(false),
        waiters: Mutex::new(Vec::new()),
    });
    let stop = Arc::new(AtomicBool::new(false));
    let mut hs = Vec::new();
    for i in 0..conns {
        let mut s = green::net::TcpStream::connect(server.addr.as_str()).expect("connect");
        let _ = s.set_nodelay(true);
        let (gate, stop) = (gate.clone(), stop.clone());
        hs.push(green::thread::spawn(move || {
            gate.wait();
            let msg = [i as u8; MSG];
            let mut back = [0u8; MSG];
            let mut lat = Vec::with_capacity(4096);
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                if s.write_all(&msg).is_err() || s.read_exact(&mut back).is_err() {
                    break;
                }
                assert_eq!(back, msg);
                lat.push(t.elapsed().as_micros() as u32);
            }
            lat
        }));
    }
    // Let stragglers of the connect burst settle before measuring.
    std::thread::sleep(Duration::from_millis(200));
    let cpu0 = server.cpu();
    let t0 = Instant::now();
    gate.open();
    green::thread::sleep(Duration::from_secs_f64(secs));
    let threads = server.threads();
    stop.store(true, Ordering::Relaxed);
    let mut lat: Vec<u32> = Vec::new();
    for h in hs {
        lat.extend(h.join().unwrap());
    }
    let took = t0.elapsed().as_secs_f64();
    let cpu = server.cpu().saturating_sub(cpu0);
    lat.sort_unstable();
    let pct = |p: f64| {
        lat.get(((lat.len().max(1) - 1) as f64 * p) as usize)
            .copied()
            .unwrap_or(0) as f64
    };
    Row {
        name: which.into(),
        conns,
        reqs: lat.len() as f64 / took,
        p50_us: pct(0.5),
        p99_us: pct(0.99),
        cpu_us: cpu.as_secs_f64() * 1e6 / lat.len().max(1) as f64,
        threads,
    }
}

/// Parses a wrk duration such as `1.23ms`, `456.00us`, `1.02s` into µs.
fn wrk_us(s: &str) -> Option<f64> {
    let (num, mult) = if let Some(v) = s.strip_suffix("us") {
        (v, 1.0)
    } else if let Some(v) = s.strip_suffix("ms") {
        (v, 1e3)
    } else if let Some(v) = s.strip_suffix('s') {
        (v, 1e6)
    } else {
        return None;
    };
    num.parse::<f64>().ok().map(|n| n * mult)
}

/// HTTP load: `wrk -t2 -c<conns> -d<secs>s --latency`.
fn http_run(which: &str, conns: usize, secs: u64) -> io::Result<Row> {
    let server = Server::start(which, true);
    let cpu0 = server.cpu();
    let out = Command::new("wrk")
        .args([
            "-t2".to_string(),
            format!("-c{conns}"),
            format!("-d{secs}s"),
            "--latency".to_string(),
            format!("http://{}/", server.addr),
        ])
        .output()?;
    let cpu = server.cpu().saturating_sub(cpu0);
    let threads = server.threads();
    let text = String::from_utf8_lossy(&out.stdout);
    let mut row = Row {
        name: which.into(),
        conns,
        reqs: 0.0,
        p50_us: 0.0,
        p99_us: 0.0,
        cpu_us: 0.0,
        threads,
    };
    let mut total = 0.0;
    for line in text.lines() {
        let w: Vec<&str> = line.split_whitespace().collect();
        match w.as_slice() {
            ["Requests/sec:", v] => row.reqs = v.parse().unwrap_or(0.0),
            ["50%", v] => row.p50_us = wrk_us(v).unwrap_or(0.0),
            ["99%", v] => row.p99_us = wrk_us(v).unwrap_or(0.0),
            [n, "requests", "in", ..] => total = n.parse().unwrap_or(0.0),
            _ => {}
        }
    }
    if total > 0.0 {
        row.cpu_us = cpu.as_secs_f64() * 1e6 / total;
    }
    Ok(row)
}

/// Each cell's median over the rounds, field by field (so a row may mix
/// rounds), in `conns` then `impls` order.
fn medians(conns: &[usize], impls: &[&str], rounds: &[Vec<Row>]) -> Vec<Row> {
    fn median(mut v: Vec<f64>) -> f64 {
        v.sort_by(f64::total_cmp);
        let n = v.len();
        if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        }
    }
    let mut out = Vec::new();
    for &c in conns {
        for &i in impls {
            let cells: Vec<&Row> = rounds
                .iter()
                .flatten()
                .filter(|r| r.conns == c && r.name == i)
                .collect();
            let of = |f: fn(&Row) -> f64| median(cells.iter().map(|r| f(r)).collect());
            out.push(Row {
                name: i.into(),
                conns: c,
                reqs: of(|r| r.reqs),
                p50_us: of(|r| r.p50_us),
                p99_us: of(|r| r.p99_us),
                cpu_us: of(|r| r.cpu_us),
                threads: of(|r| r.threads as f64) as u64,
            });
        }
    }
    out
}

fn arg_list(args: &[String], name: &str, default: &str) -> String {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_else(|| default.to_string())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cmd = args.first().map(String::as_str).unwrap_or("all");
    match cmd {
        "serve-echo" | "serve-http" => {
            let which = args.get(1).map(String::as_str).unwrap_or("green");
            let port = args.get(2).and_then(|p| p.parse().ok()).unwrap_or(0);
            serve(which, port, cmd == "serve-http");
        }
        "echo" | "http" | "all" => {
            let conns: Vec<usize> = arg_list(&args, "--conns", "100,1000")
                .split(',')
                .filter_map(|c| c.trim().parse().ok())
                .collect();
            let impls = arg_list(&args, "--impls", &IMPLS.join(","));
            let mut impls: Vec<&str> = impls.split(',').collect();
            if impls.contains(&"go") {
                match green_benches::go_binary("net") {
                    Some(go) => {
                        let _ = GO.set(go);
                    }
                    None => {
                        eprintln!(
                            "go is not installed or did not build benches/go/net.go: no go rows"
                        );
                        impls.retain(|&i| i != "go");
                    }
                }
            }
            if cmd != "http" {
                let secs: f64 = arg_list(&args, "--secs", "5").parse().unwrap_or(5.0);
                let mut rows = Vec::new();
                for &c in &conns {
                    for &i in &impls {
                        let r = echo_run(i, c, secs);
                        eprintln!("echo {i} c{c}: {:.0} req/s", r.reqs);
                        rows.push(r);
                    }
                }
                print_table(
                    &format!("TCP echo, 64-byte messages, one in flight per connection, {secs} s each (green client)"),
                    &rows,
                );
            }
            if cmd != "echo" {
                let secs: u64 = arg_list(&args, "--secs", "10").parse().unwrap_or(10);
                let rounds: usize = arg_list(&args, "--rounds", "1").parse().unwrap_or(1).max(1);
                let title =
                    format!("HTTP/1.1 hello world, keep-alive, wrk -t2 -d{secs}s --latency");
                let mut all = Vec::new();
                for round in 0..rounds {
                    let mut order = impls.clone();
                    order.rotate_left(round % impls.len().max(1));
                    let mut rows = Vec::new();
                    for &c in &conns {
                        for &i in &order {
                            match http_run(i, c, secs) {
                                Ok(r) => {
                                    eprintln!("http {i} c{c}: {:.0} req/s", r.reqs);
                                    rows.push(r)
                                }
                                Err(e) => {
                                    eprintln!("http: cannot run wrk ({e}); `apt-get install wrk` to measure HTTP");
                                    return;
                                }
                            }
                        }
                    }
                    if rounds > 1 {
                        print_table(
                            &format!(
                                "{title}, round {} of {rounds} (order {})",
                                round + 1,
                                order.join(", ")
                            ),
                            &rows,
                        );
                    }
                    all.push(rows);
                }
                if rounds == 1 {
                    print_table(&title, &all[0]);
                } else {
                    print_table(
                        &format!("{title}, median of {rounds} rounds"),
                        &medians(&conns, &impls, &all),
                    );
                }
            }
        }
        other => {
            eprintln!("unknown command {other:?}: use echo, http, serve-echo IMPL [PORT] or serve-http IMPL [PORT]");
            std::process::exit(2);
        }
    }
}
