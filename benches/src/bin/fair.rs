//! Fairness without preemption: a ticker green thread (1 ms sleeps) shares
//! one worker hub with a green thread that parses a 16 MiB JSON document
//! with `serde_json::from_reader` straight off a `TcpStream` (unbuffered, so
//! one `read` per byte, and the data is always ready). The ticker's longest
//! gap shows how long the reader kept the hub; the same program on std
//! threads is the reference.
//!
//! ```text
//! cargo run --release -p green-benches --bin fair
//! ```

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn document() -> Vec<u8> {
    let mut doc = b"[".to_vec();
    let mut i = 0u64;
    while doc.len() < 16 << 20 {
        if i > 0 {
            doc.push(b',');
        }
        doc.extend_from_slice(format!("{{\"id\":{i},\"name\":\"item {i}\"}}").as_bytes());
        i += 1;
    }
    doc.push(b']');
    doc
}

/// Serves `doc` once on a std thread; returns the address.
fn serve(doc: Arc<Vec<u8>>) -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.write_all(&doc).unwrap();
    });
    addr
}

macro_rules! scenario {
    ($name:ident, $thread:path, $stream:path) => {
        fn $name(doc: Arc<Vec<u8>>) -> String {
            use $thread as thread;
            let addr = serve(doc);
            let stop = Arc::new(AtomicBool::new(false));
            let max_gap = Arc::new(AtomicU64::new(0));
            let ticks = Arc::new(AtomicU64::new(0));
            let ticker = {
                let (stop, max_gap, ticks) = (stop.clone(), max_gap.clone(), ticks.clone());
                thread::spawn(move || {
                    let mut last = Instant::now();
                    while !stop.load(Ordering::SeqCst) {
                        thread::sleep(Duration::from_millis(1));
                        let now = Instant::now();
                        let gap = now.duration_since(last).as_micros() as u64;
                        max_gap.fetch_max(gap, Ordering::SeqCst);
                        ticks.fetch_add(1, Ordering::SeqCst);
                        last = now;
                    }
                })
            };
            let reader = thread::spawn(move || {
                let stream = <$stream>::connect(addr).unwrap();
                let start = Instant::now();
                let v: serde_json::Value = serde_json::from_reader(&stream).unwrap();
                // Handed back rather than dropped here: freeing half a
                // million values is CPU work the ticker would wait for.
                (v, start.elapsed())
            });
            let (v, took) = reader.join().unwrap();
            stop.store(true, Ordering::SeqCst);
            ticker.join().unwrap();
            let items = v.as_array().map_or(0, Vec::len);
            format!(
                "parsed {items} items in {:.0} ms; ticker: {} ticks, longest gap {:.1} ms",
                took.as_secs_f64() * 1000.0,
                ticks.load(Ordering::SeqCst),
                max_gap.load(Ordering::SeqCst) as f64 / 1000.0
            )
        }
    };
}

scenario!(green_run, green::thread, green::net::TcpStream);
scenario!(std_run, std::thread, std::net::TcpStream);

fn main() {
    green::rt::runtime::set_workers(1).unwrap();
    let doc = Arc::new(document());
    println!("| system | unbuffered serde_json::from_reader, 16 MiB, ticker on the same hub |");
    println!("|---|---|");
    println!("| green (one worker hub) | {} |", green_run(doc.clone()));
    println!("| std threads | {} |", std_run(doc));
}
