//! The multithreaded web server from the last chapter of *The Rust
//! Programming Language*, in the same shape, run unchanged on green threads.
//!
//! The book's server is a fixed `ThreadPool` of workers that take jobs from
//! one channel (`Arc<Mutex<mpsc::Receiver<Job>>>`), an accept loop that
//! hands each connection to the pool, pages read from files, a `/sleep`
//! route that shows one slow request does not hold up the rest, and a
//! graceful shutdown: dropping the pool drops the sender, every worker sees
//! the channel close, and `Drop` joins each one. Here that code is written
//! once (`book_server!`) and compiled twice, with std's imports and with
//! green's; those imports are the whole difference.
//!
//! ```text
//! cargo run --release --example book_server                       # 1,000 green workers, 1,000 concurrent clients
//! cargo run --release --example book_server -- --std              # the same source on 1,000 OS threads
//! cargo run --release --example book_server -- --listen 127.0.0.1:7878 --workers 4
//! curl http://127.0.0.1:7878/ http://127.0.0.1:7878/sleep        # in another shell
//! ```
//!
//! Without `--listen`, a built-in client (green threads) sends
//! `--clients` concurrent requests — every fourth one to `/sleep`, every
//! fifth to a missing page — checks every answer, and the server then shuts
//! down and reports how many workers its `Drop` joined. With `--listen` the
//! server takes `--requests` connections (default: no limit) and then shuts
//! down the same way.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The server, written as std code. Expanded once per set of imports.
macro_rules! book_server {
    () => {
        use std::io::{BufRead, BufReader, Write};
        use std::path::PathBuf;
        use std::sync::atomic::{AtomicUsize, Ordering};

        /// What a worker runs.
        type Job = Box<dyn FnOnce() + Send + 'static>;

        /// A fixed set of worker threads that run the jobs given to
        /// [`ThreadPool::execute`], in the order they were given.
        pub struct ThreadPool {
            workers: Vec<Worker>,
            sender: Option<mpsc::Sender<Job>>,
            joined: Arc<AtomicUsize>,
        }

        impl ThreadPool {
            /// Starts a pool of `size` workers.
            ///
            /// # Panics
            ///
            /// If `size` is zero.
            pub fn new(size: usize) -> ThreadPool {
                assert!(size > 0, "a thread pool needs at least one worker");
                let (sender, receiver) = mpsc::channel();
                // One receiver, shared: whichever idle worker holds the lock
                // takes the next job.
                let receiver = Arc::new(Mutex::new(receiver));
                let workers = (0..size)
                    .map(|id| Worker::new(id, Arc::clone(&receiver)))
                    .collect();
                ThreadPool {
                    workers,
                    sender: Some(sender),
                    joined: Arc::new(AtomicUsize::new(0)),
                }
            }

            /// Queues `f` for the next free worker.
            pub fn execute<F>(&self, f: F)
            where
                F: FnOnce() + Send + 'static,
            {
                let sender = self.sender.as_ref().expect("the pool is running");
                sender.send(Box::new(f)).expect("the workers are alive");
            }

            /// Counts the workers that the pool's `Drop` has joined (not in
            /// the book: it lets a caller check the shutdown).
            pub fn joined(&self) -> Arc<AtomicUsize> {
                Arc::clone(&self.joined)
            }
        }

        impl Drop for ThreadPool {
            /// Graceful shutdown: closing the channel lets every worker
            /// finish its current job and leave its loop; then each one is
            /// joined.
            fn drop(&mut self) {
                drop(self.sender.take());
                for worker in &mut self.workers {
                    if let Some(thread) = worker.thread.take() {
                        match thread.join() {
                            Ok(()) => {
                                self.joined.fetch_add(1, Ordering::SeqCst);
                            }
                            Err(_) => eprintln!("worker {} panicked", worker.id),
                        }
                    }
                }
            }
        }

        /// One thread of the pool, taking jobs until the channel closes.
        struct Worker {
            id: usize,
            thread: Option<thread::JoinHandle<()>>,
        }

        impl Worker {
            fn new(id: usize, receiver: Arc<Mutex<mpsc::Receiver<Job>>>) -> Worker {
                let thread = thread::spawn(move || loop {
                    // The guard is a temporary: the lock is released as soon
                    // as `recv` returns, before the job runs.
                    let message = receiver.lock().unwrap().recv();
                    match message {
                        Ok(job) => job(),
                        Err(_) => break, // the pool was dropped
                    }
                });
                Worker {
                    id,
                    thread: Some(thread),
                }
            }
        }

        /// Accepts `limit` connections (or, with `None`, any number), each
        /// answered by a job on `pool`, then drops the pool. Returns how
        /// many workers the shutdown joined.
        pub fn serve(
            listener: TcpListener,
            pool: ThreadPool,
            limit: Option<usize>,
            root: PathBuf,
            nap: Duration,
        ) -> usize {
            let joined = pool.joined();
            for stream in listener.incoming().take(limit.unwrap_or(usize::MAX)) {
                let Ok(stream) = stream else { continue };
                let root = root.clone();
                pool.execute(move || handle_connection(stream, &root, nap));
            }
            drop(pool); // joins every worker
            joined.load(Ordering::SeqCst)
        }

        /// Reads the request line and answers from a page on disk.
        fn handle_connection(mut stream: TcpStream, root: &std::path::Path, nap: Duration) {
            let request_line = match BufReader::new(&stream).lines().next() {
                Some(Ok(line)) => line,
                _ => return,
            };
            let (status, page) = match &request_line[..] {
                "GET / HTTP/1.1" => ("HTTP/1.1 200 OK", "hello.html"),
                "GET /sleep HTTP/1.1" => {
                    thread::sleep(nap);
                    ("HTTP/1.1 200 OK", "hello.html")
                }
                _ => ("HTTP/1.1 404 NOT FOUND", "404.html"),
            };
            let contents = match fs::read_to_string(root.join(page)) {
                Ok(contents) => contents,
                Err(e) => format!("cannot read {page}: {e}"),
            };
            let length = contents.len();
            let response = format!("{status}\r\nContent-Length: {length}\r\n\r\n{contents}");
            let _ = stream.write_all(response.as_bytes());
        }
    };
}

/// The server on green threads: the book's code with green's imports.
mod on_green {
    use green::fs;
    use green::net::{TcpListener, TcpStream};
    use green::sync::{mpsc, Arc, Mutex};
    use green::thread;
    use green::time::Duration;
    book_server!();
}

/// The same source on std's threads.
mod on_std {
    use std::fs;
    use std::net::{TcpListener, TcpStream};
    use std::sync::{mpsc, Arc, Mutex};
    use std::thread;
    use std::time::Duration;
    book_server!();
}

const HELLO: &str = "<!DOCTYPE html>\n<html lang=\"en\">\n  <head><meta charset=\"utf-8\"><title>Hello!</title></head>\n  \
                     <body><h1>Hello!</h1><p>Hi from a green thread pool</p></body>\n</html>\n";
const NOT_FOUND: &str = "<!DOCTYPE html>\n<html lang=\"en\">\n  <head><meta charset=\"utf-8\"><title>Not found</title></head>\n  \
                         <body><h1>Not found</h1><p>No page by that name here.</p></body>\n</html>\n";

/// Writes the two pages the server reads into a fresh directory.
fn write_pages(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("green-book-server-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("make the pages directory");
    std::fs::write(dir.join("hello.html"), HELLO).expect("write hello.html");
    std::fs::write(dir.join("404.html"), NOT_FOUND).expect("write 404.html");
    dir
}

/// Which route client `i` asks for, and the status line and page it must
/// get back.
fn route(i: usize) -> (&'static str, &'static str, &'static str) {
    if i % 5 == 4 {
        ("/missing", "HTTP/1.1 404 NOT FOUND", NOT_FOUND)
    } else if i % 4 == 3 {
        ("/sleep", "HTTP/1.1 200 OK", HELLO)
    } else {
        ("/", "HTTP/1.1 200 OK", HELLO)
    }
}

/// Request `i` over `s`, as a browser-less client would make it; checks the
/// answer.
fn request(mut s: green::net::TcpStream, i: usize) -> Result<(), String> {
    let (path, status, page) = route(i);
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(|e| e.to_string())?;
    let head = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n");
    s.write_all(head.as_bytes()).map_err(|e| e.to_string())?;
    let mut answer = String::new();
    s.read_to_string(&mut answer)
        .map_err(|e| format!("read: {e}"))?;
    let want = format!("{status}\r\nContent-Length: {}\r\n\r\n{page}", page.len());
    if answer == want {
        Ok(())
    } else {
        Err(format!("GET {path}: unexpected answer {answer:?}"))
    }
}

/// What [`run_clients`] saw.
struct Run {
    failures: Vec<String>,
    /// Time to open every connection, one after another.
    connecting: Duration,
    /// Time from the first request to the last answer.
    requests: Duration,
}

/// Sends `clients` concurrent requests (one green thread each) and checks
/// every answer.
///
/// The connections are opened first, one after another, and the requests
/// then go out together. Opening hundreds at once would flood the listen
/// backlog (128, as std sets it): the kernel answers with SYN cookies that
/// later fail as resets. Even one at a time, a client on the same cores can
/// outrun the accept loop, and a SYN that finds the backlog full is dropped
/// and retried after 1 s; a 1 ms pause every 16 connections avoids most of
/// those. Any that remain show in `connecting`.
fn run_clients(addr: std::net::SocketAddr, clients: usize) -> Run {
    // Held for writing while connections open; each client waits for a read
    // lock before it sends its request.
    let gate = Arc::new(green::sync::RwLock::new(()));
    let open_gate = gate.write().unwrap();
    let mut failures = Vec::new();
    let mut handles = Vec::with_capacity(clients);
    let start = Instant::now();
    for i in 0..clients {
        if i % 16 == 15 {
            green::thread::sleep(Duration::from_millis(1)); // see above
        }
        match green::net::TcpStream::connect(addr) {
            Ok(s) => {
                let gate = gate.clone();
                handles.push(green::thread::spawn(move || {
                    drop(gate.read().unwrap());
                    request(s, i)
                }));
            }
            Err(e) => failures.push(format!("client {i}: connect: {e}")),
        }
    }
    let connecting = start.elapsed();
    let start = Instant::now();
    drop(open_gate);
    for (i, h) in handles.into_iter().enumerate() {
        match h.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => failures.push(format!("client {i}: {e}")),
            Err(_) => failures.push(format!("client {i} panicked")),
        }
    }
    Run {
        failures,
        connecting,
        requests: start.elapsed(),
    }
}

/// Binds `addr` and runs the server (std or green) on a plain OS thread, as
/// the book's `main` does; returns the bound address and the thread.
fn start(
    std_threads: bool,
    addr: &str,
    workers: usize,
    limit: Option<usize>,
    root: &Path,
    nap: Duration,
) -> (std::net::SocketAddr, std::thread::JoinHandle<usize>) {
    let root = root.to_path_buf();
    // The pool starts before the accept loop, as in the book's `main`.
    if std_threads {
        let listener = std::net::TcpListener::bind(addr).expect("bind");
        let addr = listener.local_addr().unwrap();
        let pool = on_std::ThreadPool::new(workers);
        let server = std::thread::spawn(move || on_std::serve(listener, pool, limit, root, nap));
        (addr, server)
    } else {
        let listener = green::net::TcpListener::bind(addr).expect("bind");
        let addr = listener.local_addr().unwrap();
        let pool = on_green::ThreadPool::new(workers);
        let server = std::thread::spawn(move || on_green::serve(listener, pool, limit, root, nap));
        (addr, server)
    }
}

fn threads_now() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("Threads:"))?;
            line.split_whitespace().nth(1)?.parse().ok()
        })
        .unwrap_or(0)
}

fn main() {
    let (mut std_threads, mut workers, mut clients, mut nap_ms) = (false, 1000, 1000, 200);
    let (mut listen, mut requests) = (None, None);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut num = |name: &str| -> usize {
            args.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{name} needs a number"))
        };
        match a.as_str() {
            "--std" => std_threads = true,
            "--workers" => workers = num("--workers").max(1),
            "--clients" => clients = num("--clients"),
            "--sleep-ms" => nap_ms = num("--sleep-ms") as u64,
            "--requests" => requests = Some(num("--requests")),
            "--listen" => listen = args.next(),
            _ => {
                println!(
                    "usage: book_server [--std] [--workers N (1000)] [--sleep-ms MS (200)] \
                     [--clients N (1000)] | [--listen ADDR [--requests N]]"
                );
                return;
            }
        }
    }
    let side = if std_threads {
        "std threads"
    } else {
        "green threads"
    };
    let root = write_pages("main");
    let nap = Duration::from_millis(nap_ms);

    if let Some(addr) = listen {
        let (addr, server) = start(std_threads, &addr, workers, requests, &root, nap);
        println!("the book's server on {side}: {workers} workers, http://{addr}/ (and /sleep)");
        let joined = server.join().expect("the server panicked");
        println!("shut down: joined {joined} of {workers} workers");
        let _ = std::fs::remove_dir_all(&root);
        return;
    }

    println!("the book's server on {side}: {workers} workers, {clients} concurrent clients");
    let (addr, server) = start(
        std_threads,
        "127.0.0.1:0",
        workers,
        Some(clients),
        &root,
        nap,
    );

    let peak = Arc::new(AtomicUsize::new(0));
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let (peak, on) = (peak.clone(), sampling.clone());
        std::thread::spawn(move || {
            while on.load(Ordering::Relaxed) {
                peak.fetch_max(threads_now(), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    };
    let run = run_clients(addr, clients);
    for f in run.failures.iter().take(5) {
        println!("  {f}");
    }
    if !run.failures.is_empty() {
        // The server waits for `clients` connections; some never came.
        println!("  {} requests failed", run.failures.len());
        std::process::exit(1);
    }
    let joined = server.join().expect("the server panicked");
    sampling.store(false, Ordering::Relaxed);
    sampler.join().unwrap();
    let _ = std::fs::remove_dir_all(&root);

    println!(
        "  connections open in {:.2} s; then {clients} of {clients} answers correct in {:.2} s \
         (every 4th request sleeps {nap_ms} ms)",
        run.connecting.as_secs_f64(),
        run.requests.as_secs_f64()
    );
    println!("  shutdown joined {joined} of {workers} workers");
    println!(
        "  peak OS threads {} (on green: hubs, the blocking pool behind green::fs, and the client)",
        peak.load(Ordering::Relaxed)
    );
    if joined != workers {
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 120 concurrent requests (some sleeping, some for a missing page) on
    /// a pool of 40 workers, so most jobs wait in the channel; every answer
    /// checked; then the pool's `Drop` joins all 40. Same source, std and
    /// green. (At most 128 clients: no more can wait in the listen backlog,
    /// so no SYN is ever dropped.)
    fn concurrent_requests_then_graceful_shutdown(std_threads: bool) {
        const WORKERS: usize = 40;
        const CLIENTS: usize = 120;
        let root = write_pages(if std_threads {
            "test-std"
        } else {
            "test-green"
        });
        let nap = Duration::from_millis(50);
        let (addr, server) = start(
            std_threads,
            "127.0.0.1:0",
            WORKERS,
            Some(CLIENTS),
            &root,
            nap,
        );
        let run = run_clients(addr, CLIENTS);
        assert!(run.failures.is_empty(), "{:?}", run.failures);
        let joined = server.join().expect("the server panicked");
        let _ = std::fs::remove_dir_all(&root);
        assert_eq!(
            joined, WORKERS,
            "shutdown joined {joined} of {WORKERS} workers"
        );
    }

    #[test]
    fn green_concurrent_requests_then_graceful_shutdown() {
        concurrent_requests_then_graceful_shutdown(false);
    }

    #[test]
    fn std_concurrent_requests_then_graceful_shutdown() {
        concurrent_requests_then_graceful_shutdown(true);
    }

    /// A job queued while every worker is busy waits for one, and shutdown
    /// still runs every queued job before joining.
    #[test]
    fn green_pool_runs_every_queued_job_before_shutdown() {
        let done = Arc::new(AtomicUsize::new(0));
        let pool = on_green::ThreadPool::new(3);
        let joined = pool.joined();
        for _ in 0..30 {
            let done = done.clone();
            pool.execute(move || {
                green::thread::sleep(Duration::from_millis(2));
                done.fetch_add(1, Ordering::SeqCst);
            });
        }
        drop(pool);
        assert_eq!(done.load(Ordering::SeqCst), 30);
        assert_eq!(joined.load(Ordering::SeqCst), 3);
    }

    #[test]
    #[should_panic(expected = "at least one worker")]
    fn green_pool_of_zero_panics() {
        let _ = on_green::ThreadPool::new(0);
    }
}
