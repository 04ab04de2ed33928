//! How much green-thread stack do real crates need? Measured, not guessed.
//!
//! A green thread's stack is fixed (`Builder::stack_size`, `GREEN_STACK_SIZE`)
//! and never grows; overflowing it aborts the process. This tool measures,
//! for each workload below, how much stack it touches inside a green thread:
//! the workload runs in a child process (this binary, re-run with
//! `--child`), on green threads with a 16 MiB stack it cannot overflow, and
//! each thread reads `green::rt::runtime::stack_resident()` at its end. On a
//! fresh stack that is the thread's high-water mark, to the page; the
//! workload's figure is the deepest of its threads.
//!
//! | workload | what runs in the green thread(s) |
//! |---|---|
//! | `gzip-0` … `gzip-9` | a 4 MiB `flate2::write::GzEncoder` round trip at that level, read back with `flate2::read::GzDecoder` and compared |
//! | `gunzip` | the decoding half alone: `flate2::read::GzDecoder` over the 4 MiB compressed at level 6 outside the green thread |
//! | `rustls-1.3`, `rustls-1.2` | a rustls server and a rustls client (two green threads, same stack size) doing the handshake and one request/response over a green `TcpStream` |
//! | `tungstenite` | a tungstenite server (`accept`) and client (`client`) doing the handshake and one echoed message |
//! | `serde_json` | `serde_json::from_str` of 127 nested arrays (its recursion limit is 128) |
//! | `regex` | compiling an email-list regex with `regex::Regex::new` |
//! | `panic` | a caught panic, its message and backtrace printed with `RUST_BACKTRACE=1` |
//!
//! ```text
//! cargo run --release --example stack_needs            # every workload
//! cargo run --example stack_needs -- gzip-9 rustls-1.3  # a debug build needs more
//! ```
//!
//! Figures differ between debug and release builds (unoptimised frames are
//! larger), so the tool prints which one it is.

use std::io::{Read, Write};
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;

use green::net::{TcpListener, TcpStream};
use green::thread;

/// Every workload the tool knows, in table order.
const WORKLOADS: [&str; 17] = [
    "gzip-0",
    "gzip-1",
    "gzip-2",
    "gzip-3",
    "gzip-4",
    "gzip-5",
    "gzip-6",
    "gzip-7",
    "gzip-8",
    "gzip-9",
    "gunzip",
    "rustls-1.3",
    "rustls-1.2",
    "tungstenite",
    "serde_json",
    "regex",
    "panic",
];

const KIB: usize = 1024;
/// The stack the measuring runs get: more than any workload needs.
const ROOMY: usize = 16 * 1024 * KIB;
/// Bytes pushed through the gzip round trip.
const GZIP_INPUT: usize = 4 * 1024 * KIB;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--child") {
        let (Some(workload), Some(stack)) = (args.get(1), args.get(2)) else {
            eprintln!("usage: stack_needs --child WORKLOAD BYTES");
            return ExitCode::from(2);
        };
        let stack: usize = stack.parse().expect("stack size in bytes");
        return match run_workload(workload, stack) {
            Ok(deepest) => {
                println!("RESIDENT {deepest}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{workload} failed: {e}");
                ExitCode::FAILURE
            }
        };
    }
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!(
            "usage: stack_needs [WORKLOAD ...]   (workloads: {})",
            WORKLOADS.join(" ")
        );
        return ExitCode::SUCCESS;
    }
    let chosen: Vec<&str> = if args.is_empty() {
        WORKLOADS.to_vec()
    } else {
        match args.iter().find(|a| !WORKLOADS.contains(&a.as_str())) {
            Some(bad) => {
                eprintln!("unknown workload {bad:?}; known: {}", WORKLOADS.join(" "));
                return ExitCode::from(2);
            }
            None => args.iter().map(String::as_str).collect(),
        }
    };

    let build = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    let default = green::rt::runtime::default_stack_size();
    println!(
        "green-thread stack each workload touches ({build} build; default stack here {} KiB)",
        default / KIB
    );
    println!("| workload | stack touched | at the default |");
    println!("|---|---:|---|");
    let mut failed = false;
    for w in chosen {
        match try_in_child(w, ROOMY) {
            Try::Completed(bytes) => {
                let at_default = if bytes < default { "fits" } else { "overflows" };
                println!("| {w} | {} KiB | {at_default} |", bytes / KIB);
            }
            Try::Overflowed => {
                println!("| {w} | overflows even {} KiB | |", ROOMY / KIB);
                failed = true;
            }
            Try::Failed(e) => {
                println!("| {w} | fails: {e} | |");
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// What one child try ended with.
#[derive(Debug, PartialEq, Eq)]
enum Try {
    /// Completed; the deepest stack of its green threads, in bytes.
    Completed(usize),
    Overflowed,
    /// Anything else: the workload itself is broken, not its stack.
    Failed(String),
}

/// Set, in a test build, for the child process: `WORKLOAD BYTES`.
#[cfg(test)]
const CHILD_ENV: &str = "GREEN_STACK_NEEDS_CHILD";

/// Runs `workload` on a `stack`-byte green stack in a child process: this
/// binary with `--child`, or in a test build the test binary running only
/// the ignored `tests::child` entry point.
fn try_in_child(workload: &str, stack: usize) -> Try {
    let exe = std::env::current_exe().expect("the tool's own path");
    let mut cmd = Command::new(exe);
    #[cfg(not(test))]
    cmd.args(["--child", workload, &stack.to_string()]);
    #[cfg(test)]
    cmd.args(["--exact", "tests::child", "--ignored", "--nocapture"])
        .env(CHILD_ENV, format!("{workload} {stack}"));
    let out = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("start a child try");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let resident = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESIDENT "))
        .and_then(|n| n.trim().parse().ok());
    if out.status.success() && resident.is_some() {
        Try::Completed(resident.unwrap_or_default())
    } else if stderr.contains("has overflowed its stack") {
        Try::Overflowed
    } else {
        Try::Failed(format!("{}: {}", out.status, stderr.trim()))
    }
}

/// The body of one green thread of a workload.
type Body = Box<dyn FnOnce() -> Result<(), String> + Send>;

/// Runs one workload in green threads with `stack`-byte stacks; returns the
/// most stack any of them touched.
fn run_workload(workload: &str, stack: usize) -> Result<usize, String> {
    let spawn = |name: &str, f: Body| {
        thread::Builder::new()
            .name(name.to_string())
            .stack_size(stack)
            .spawn(move || {
                f()?;
                Ok(green::rt::runtime::stack_resident().unwrap_or(0))
            })
            .map_err(|e| format!("spawn: {e}"))
    };
    let join = |h: thread::JoinHandle<Result<usize, String>>| {
        h.join()
            .map_err(|_| "a green thread panicked".to_string())?
    };
    match workload {
        "serde_json" => {
            return join(spawn(
                "serde_json",
                Box::new(|| {
                    let text = "[".repeat(127) + &"]".repeat(127);
                    let v: serde_json::Value =
                        serde_json::from_str(&text).map_err(|e| e.to_string())?;
                    v.is_array().then_some(()).ok_or("not an array".to_string())
                }),
            )?)
        }
        "regex" => {
            return join(spawn(
                "regex",
                Box::new(|| {
                    let r = regex::Regex::new(
                        r"(?i)^(\w+[.-])*\w+@(\w+\.)+[a-z]{2,}(\s*,\s*(\w+[.-])*\w+@(\w+\.)+[a-z]{2,})*$",
                    )
                    .map_err(|e| e.to_string())?;
                    r.is_match("a.b@c.de, x@y.org")
                        .then_some(())
                        .ok_or("no match".to_string())
                }),
            )?)
        }
        "panic" => {
            std::env::set_var("RUST_BACKTRACE", "1");
            return join(spawn(
                "panic",
                Box::new(|| {
                    let caught = std::panic::catch_unwind(|| panic!("measured panic"));
                    caught.is_err().then_some(()).ok_or("no panic".to_string())
                }),
            )?);
        }
        _ => {}
    }
    if workload == "gunzip" {
        let input = gzip_input();
        let packed = gzip(&input, 6)?;
        return join(spawn(
            "gunzip",
            Box::new(move || gunzip_and_compare(&packed, &input)),
        )?);
    }
    if let Some(level) = workload.strip_prefix("gzip-") {
        let level: u32 = level.parse().map_err(|_| "bad gzip level".to_string())?;
        return join(spawn("gzip", Box::new(move || gzip_round_trip(level)))?);
    }
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let (server, client): (Body, Body) = match workload {
        "rustls-1.3" | "rustls-1.2" => {
            let version = if workload == "rustls-1.3" {
                &rustls::version::TLS13
            } else {
                &rustls::version::TLS12
            };
            let (server_config, client_config) = tls_configs(version)?;
            (
                Box::new(move || tls_server(listener, server_config)),
                Box::new(move || tls_client(addr, client_config)),
            )
        }
        "tungstenite" => (
            Box::new(move || ws_server(listener)),
            Box::new(move || ws_client(addr)),
        ),
        other => return Err(format!("unknown workload {other:?}")),
    };
    let server = spawn("server", server)?;
    let client = spawn("client", client)?;
    let deepest = join(client)?;
    Ok(deepest.max(join(server)?))
}

/// Deterministic, moderately compressible input: words from a small
/// vocabulary chosen by a xorshift generator.
fn gzip_input() -> Vec<u8> {
    const WORDS: [&[u8]; 8] = [
        b"green ", b"thread ", b"stack ", b"hub ", b"std ", b"poll ", b"park ", b"wake\n",
    ];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut out = Vec::with_capacity(GZIP_INPUT + 8);
    while out.len() < GZIP_INPUT {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(WORDS[(x % 8) as usize]);
        if x.is_multiple_of(7) {
            out.extend_from_slice(&x.to_le_bytes()); // a little entropy
        }
    }
    out.truncate(GZIP_INPUT);
    out
}

fn gzip(input: &[u8], level: u32) -> Result<Vec<u8>, String> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
    encoder.write_all(input).map_err(|e| e.to_string())?;
    encoder.finish().map_err(|e| e.to_string())
}

fn gunzip_and_compare(packed: &[u8], input: &[u8]) -> Result<(), String> {
    let mut unpacked = Vec::with_capacity(input.len());
    flate2::read::GzDecoder::new(packed)
        .read_to_end(&mut unpacked)
        .map_err(|e| e.to_string())?;
    if unpacked == input {
        Ok(())
    } else {
        Err("the round trip changed the data".into())
    }
}

fn gzip_round_trip(level: u32) -> Result<(), String> {
    let input = gzip_input();
    let packed = gzip(&input, level)?;
    gunzip_and_compare(&packed, &input)
}

type TlsConfigs = (Arc<rustls::ServerConfig>, Arc<rustls::ClientConfig>);

/// A server config with a fresh self-signed certificate for `localhost`, and
/// a client config that trusts exactly that certificate.
fn tls_configs(version: &'static rustls::SupportedProtocolVersion) -> Result<TlsConfigs, String> {
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let made =
        rcgen::generate_simple_self_signed(vec!["localhost".into()]).map_err(|e| e.to_string())?;
    let cert = made.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(made.signing_key.serialize_der()));
    let server = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[version])
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .map_err(|e| e.to_string())?;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).map_err(|e| e.to_string())?;
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[version])
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok((Arc::new(server), Arc::new(client)))
}

fn tls_server(listener: TcpListener, config: Arc<rustls::ServerConfig>) -> Result<(), String> {
    let (sock, _) = listener.accept().map_err(|e| e.to_string())?;
    let conn = rustls::ServerConnection::new(config).map_err(|e| e.to_string())?;
    let mut tls = rustls::StreamOwned::new(conn, sock);
    let mut ping = [0u8; 4];
    tls.read_exact(&mut ping).map_err(|e| e.to_string())?;
    tls.write_all(b"pong").map_err(|e| e.to_string())?;
    tls.conn.send_close_notify();
    tls.flush().map_err(|e| e.to_string())
}

fn tls_client(addr: std::net::SocketAddr, config: Arc<rustls::ClientConfig>) -> Result<(), String> {
    let sock = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    let name = "localhost"
        .try_into()
        .map_err(|_| "server name".to_string())?;
    let conn = rustls::ClientConnection::new(config, name).map_err(|e| e.to_string())?;
    let mut tls = rustls::StreamOwned::new(conn, sock);
    tls.write_all(b"ping").map_err(|e| e.to_string())?;
    let mut pong = Vec::new();
    tls.read_to_end(&mut pong).map_err(|e| e.to_string())?;
    if pong == b"pong" {
        Ok(())
    } else {
        Err(format!("unexpected reply {pong:?}"))
    }
}

fn ws_server(listener: TcpListener) -> Result<(), String> {
    let (sock, _) = listener.accept().map_err(|e| e.to_string())?;
    let mut ws = tungstenite::accept(sock).map_err(|e| e.to_string())?;
    let msg = ws.read().map_err(|e| e.to_string())?;
    ws.send(msg).map_err(|e| e.to_string())?;
    // Read on until the client's close completes.
    loop {
        match ws.read() {
            Ok(_) => {}
            Err(tungstenite::Error::ConnectionClosed) => return Ok(()),
            Err(e) => return Err(e.to_string()),
        }
    }
}

fn ws_client(addr: std::net::SocketAddr) -> Result<(), String> {
    let sock = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    let (mut ws, _) =
        tungstenite::client(format!("ws://{addr}/"), sock).map_err(|e| e.to_string())?;
    ws.send(tungstenite::Message::text("ping"))
        .map_err(|e| e.to_string())?;
    let back = ws.read().map_err(|e| e.to_string())?;
    if back != tungstenite::Message::text("ping") {
        return Err(format!("unexpected reply {back:?}"));
    }
    ws.close(None).map_err(|e| e.to_string())?;
    loop {
        match ws.read() {
            Ok(_) => {}
            Err(tungstenite::Error::ConnectionClosed) => return Ok(()),
            Err(e) => return Err(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Not a test: the child process of the tests below, which run this
    /// binary with only this entry selected and [`CHILD_ENV`] set. Exits
    /// with the workload's outcome.
    #[test]
    #[ignore = "child-process entry point for the other tests"]
    fn child() {
        let Ok(spec) = std::env::var(CHILD_ENV) else {
            println!("nothing to run: this entry point is started by the other tests");
            return;
        };
        let (workload, stack) = spec.split_once(' ').expect("WORKLOAD BYTES");
        let code = match run_workload(workload, stack.parse().expect("bytes")) {
            Ok(deepest) => {
                println!("RESIDENT {deepest}");
                0
            }
            Err(e) => {
                eprintln!("{workload} failed: {e}");
                1
            }
        };
        std::process::exit(code);
    }

    fn completes(t: Try) -> bool {
        matches!(t, Try::Completed(_))
    }

    /// rustls (TLS 1.3 and 1.2) and tungstenite handshakes fit in 64 KiB,
    /// the old default stack, in debug and release builds alike.
    #[test]
    fn tls_and_websocket_handshakes_fit_in_64_kib() {
        for w in ["rustls-1.3", "rustls-1.2", "tungstenite"] {
            assert!(completes(try_in_child(w, 64 * KIB)), "{w} on 64 KiB");
        }
    }

    /// flate2's gzip encoder overflows a 64 KiB stack and completes on the
    /// default, 512 KiB (checked for the fastest, the default and the best
    /// level, side by side in child processes); the measurement agrees.
    #[test]
    fn gzip_overflows_64_kib_and_fits_the_default() {
        assert_eq!(green::rt::runtime::default_stack_size(), 512 * KIB);
        assert_eq!(try_in_child("gzip-6", 64 * KIB), Try::Overflowed);
        let tries: Vec<_> = ["gzip-1", "gzip-6", "gzip-9", "gunzip"]
            .into_iter()
            .map(|w| (w, std::thread::spawn(move || try_in_child(w, 512 * KIB))))
            .collect();
        for (w, t) in tries {
            assert!(completes(t.join().unwrap()), "{w} on 512 KiB");
        }
        match try_in_child("gzip-6", ROOMY) {
            Try::Completed(bytes) => assert!(bytes > 64 * KIB && bytes < 512 * KIB, "{bytes}"),
            other => panic!("gzip-6 measured: {other:?}"),
        }
    }
}
