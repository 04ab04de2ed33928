//! An HTTPS server on `rustls` over green sockets, one green thread per
//! connection, with a self-signed certificate made at start (`rcgen`).
//!
//! rustls is sans-I/O: `rustls::StreamOwned` drives a TLS session over any
//! `Read + Write`, so a `green::net::TcpStream` under it makes every
//! handshake read and write park only its own green thread. The code is
//! what a blocking rustls server looks like with std; only the imports say
//! `green`.
//!
//! ```text
//! cargo run --release --example tls_server                          # 500 green rustls clients, TLS 1.3 and 1.2
//! cargo run --release --example tls_server -- --listen 127.0.0.1:8443
//! curl -k https://127.0.0.1:8443/                                   # in another shell
//! ```
//!
//! The answer names the protocol version the client got, e.g.
//! `hello from green over TLSv1_3`.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use green::net::{TcpListener, TcpStream};
use green::thread;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, ServerConfig, ServerConnection, StreamOwned};

/// The crypto provider: `ring`, which builds with the C compiler alone.
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A server config holding a fresh self-signed certificate for `localhost`
/// and `127.0.0.1`, and that certificate (for clients that should trust it).
///
/// # Panics
///
/// If the certificate cannot be made (it always can).
pub fn self_signed_config() -> (Arc<ServerConfig>, CertificateDer<'static>) {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
        .expect("make a self-signed certificate");
    let cert = made.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(made.signing_key.serialize_der()));
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("ring supports TLS 1.2 and 1.3")
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .expect("a valid certificate and key");
    (Arc::new(config), cert)
}

/// Serves HTTPS forever: one green thread per connection.
pub fn serve(listener: TcpListener, config: Arc<ServerConfig>) {
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let config = config.clone();
        thread::spawn(move || {
            if let Err(e) = handle(stream, config) {
                eprintln!("TLS connection failed: {e}");
            }
        });
    }
}

/// One request: the TLS handshake, the request head, a short answer naming
/// the negotiated version, then `close_notify`.
fn handle(stream: TcpStream, config: Arc<ServerConfig>) -> io::Result<()> {
    let conn = ServerConnection::new(config).map_err(io::Error::other)?;
    let mut tls = StreamOwned::new(conn, stream);
    // The first read runs the handshake.
    let mut head = BufReader::new(&mut tls);
    let mut line = String::new();
    while head.read_line(&mut line)? > 2 {
        line.clear(); // skip the request line and headers up to the blank line
    }
    let version = tls.conn.protocol_version();
    let body = match version {
        Some(v) => format!("hello from green over {v:?}\n"),
        None => "hello from green\n".to_string(),
    };
    write!(
        tls,
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )?;
    tls.conn.send_close_notify();
    tls.flush()
}

/// A client config that trusts exactly `cert` and speaks only `version`.
pub fn client_config(
    cert: &CertificateDer<'static>,
    version: &'static rustls::SupportedProtocolVersion,
) -> Arc<ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.clone()).expect("a valid certificate");
    let config = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[version])
        .expect("ring supports the version")
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

/// `GET /` over TLS on a green `TcpStream`; returns the response body.
///
/// # Errors
///
/// Handshake (including certificate verification), I/O and protocol errors,
/// as `io::Error`.
pub fn fetch(stream: TcpStream, config: Arc<ClientConfig>) -> io::Result<String> {
    let name = ServerName::try_from("localhost").expect("a valid DNS name");
    let conn = ClientConnection::new(config, name).map_err(io::Error::other)?;
    let mut tls = StreamOwned::new(conn, stream);
    tls.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")?;
    let mut response = String::new();
    tls.read_to_string(&mut response)?; // ends at the server's close_notify
    match response.split_once("\r\n\r\n") {
        Some((head, body)) if head.starts_with("HTTP/1.1 200 ") => Ok(body.to_string()),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("unexpected response {response:?}"),
        )),
    }
}

/// What [`run_clients`] saw.
#[derive(Debug)]
pub struct Run {
    /// Each client's response body or error, in client order.
    pub results: Vec<io::Result<String>>,
    /// Time to open every TCP connection, one after another.
    pub connecting: Duration,
    /// Time from the start of the handshakes to the last response.
    pub fetching: Duration,
}

/// Runs `clients` concurrent green rustls clients, half on TLS 1.3 and half
/// on TLS 1.2, each fetching once.
///
/// The TCP connections open first, one after another, and the handshakes
/// then start together, so all of them are in flight at once. A client on
/// the same cores can outrun the server's accept loop and overflow its
/// listen backlog (128, as std sets it), and the kernel then drops a SYN
/// that the client retries after 1 s; a 1 ms pause every 16 connections
/// avoids most of those. Any that remain show in `connecting`.
pub fn run_clients(
    addr: std::net::SocketAddr,
    cert: &CertificateDer<'static>,
    clients: usize,
) -> Run {
    let tls13 = client_config(cert, &rustls::version::TLS13);
    let tls12 = client_config(cert, &rustls::version::TLS12);
    // Held for writing while connections open; each client waits for a read
    // lock before its handshake.
    let gate = Arc::new(green::sync::RwLock::new(()));
    let open_gate = gate.write().unwrap();
    let start = Instant::now();
    let handles: Vec<_> = (0..clients)
        .map(|i| {
            let config = if i % 2 == 0 { &tls13 } else { &tls12 }.clone();
            let gate = gate.clone();
            if i % 16 == 15 {
                thread::sleep(Duration::from_millis(1)); // see above
            }
            TcpStream::connect(addr).map(|s| {
                thread::spawn(move || {
                    drop(gate.read().unwrap());
                    fetch(s, config)
                })
            })
        })
        .collect();
    let connecting = start.elapsed();
    let start = Instant::now();
    drop(open_gate);
    let results = handles
        .into_iter()
        .map(|h| {
            h?.join()
                .unwrap_or_else(|_| Err(io::Error::other("client panicked")))
        })
        .collect();
    Run {
        results,
        connecting,
        fetching: start.elapsed(),
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut clients, mut listen) = (500, None);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--clients" => clients = args.next().and_then(|n| n.parse().ok()).unwrap_or(500),
            "--listen" => listen = args.next(),
            _ => {
                println!("usage: tls_server [--clients N (500)] | [--listen ADDR]");
                return;
            }
        }
    }
    let (config, cert) = self_signed_config();
    if let Some(addr) = listen {
        let listener = TcpListener::bind(&addr).expect("bind");
        println!(
            "serving https://{addr}/ with a self-signed certificate; try: curl -k https://{addr}/"
        );
        serve(listener, config);
        return;
    }

    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || serve(listener, config));
    let run = run_clients(addr, &cert, clients);
    let mut failed = 0;
    let mut versions = std::collections::BTreeMap::new();
    for r in &run.results {
        match r {
            Ok(body) => *versions.entry(body.trim().to_string()).or_insert(0) += 1,
            Err(e) => {
                if failed < 5 {
                    println!("client failed: {e}");
                }
                failed += 1;
            }
        }
    }
    println!(
        "{clients} green rustls clients: connections open in {:.2} s, then all handshakes and \
         requests at once in {:.2} s ({:.0} per second)",
        run.connecting.as_secs_f64(),
        run.fetching.as_secs_f64(),
        clients as f64 / run.fetching.as_secs_f64()
    );
    for (answer, n) in versions {
        println!("  {n:5} x {answer:?}");
    }
    if failed > 0 {
        println!("  {failed} failed");
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn start_server() -> (std::net::SocketAddr, CertificateDer<'static>) {
        let (config, cert) = self_signed_config();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        thread::spawn(move || serve(listener, config));
        (addr, cert)
    }

    /// The machine's own `curl -k`, over TLS 1.3 and over TLS 1.2 only.
    #[test]
    fn curl_gets_an_answer_over_tls_1_3_and_1_2() {
        if let Err(e) = Command::new("curl").arg("--version").output() {
            println!("skipped: cannot run `curl` ({e}); install curl to run this test");
            return;
        }
        let (addr, _) = start_server();
        let url = format!("https://{addr}/");
        for (flags, version) in [
            (&["--tlsv1.3"][..], "TLSv1_3"),
            (&["--tlsv1.2", "--tls-max", "1.2"][..], "TLSv1_2"),
        ] {
            // -q: ignore ~/.curlrc; no proxy: the server is on loopback.
            let out = Command::new("curl")
                .args(["-q", "--silent", "--show-error", "--insecure"])
                .args(["--noproxy", "*", "--max-time", "30"])
                .args(flags)
                .arg(&url)
                .output()
                .expect("run curl");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                out.status.success(),
                "curl {flags:?}: {}: {stderr}",
                out.status
            );
            assert_eq!(
                String::from_utf8_lossy(&out.stdout),
                format!("hello from green over {version}\n"),
                "curl {flags:?}"
            );
        }
    }

    /// 100 concurrent green rustls clients that verify the certificate.
    #[test]
    fn concurrent_green_rustls_clients() {
        let (addr, cert) = start_server();
        let run = run_clients(addr, &cert, 100);
        for (i, r) in run.results.into_iter().enumerate() {
            let version = if i % 2 == 0 { "TLSv1_3" } else { "TLSv1_2" };
            assert_eq!(
                r.unwrap_or_else(|e| panic!("client {i}: {e}")),
                format!("hello from green over {version}\n")
            );
        }
    }

    /// A client that does not trust the certificate gets rustls's
    /// verification error, and the server goes on serving.
    #[test]
    fn untrusted_certificate_is_refused() {
        let (addr, cert) = start_server();
        let (_, other_cert) = self_signed_config();
        let refused = client_config(&other_cert, &rustls::version::TLS13);
        let err = fetch(TcpStream::connect(addr).unwrap(), refused).unwrap_err();
        assert!(
            err.to_string().contains("invalid peer certificate"),
            "unexpected error: {err}"
        );
        let trusted = client_config(&cert, &rustls::version::TLS13);
        let body = fetch(TcpStream::connect(addr).unwrap(), trusted).unwrap();
        assert_eq!(body, "hello from green over TLSv1_3\n");
    }
}
