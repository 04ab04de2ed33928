//! An idle process stays idle: 10,000 green threads parked (half of them
//! in `recv` on a channel, half in a 1-hour `sleep`), spread over the
//! default worker hubs, then the process's CPU time over 10 s.
//!
//! ```text
//! cargo run --release -p green-benches --bin idle
//! cargo run --release -p green-benches --bin idle -- 3     # seconds to watch
//! ```
//!
//! CPU time is read from `/proc/self/stat` (user + system, in clock ticks
//! of 10 ms), so the figure is a count of ticks: 0 means less than 10 ms of
//! CPU over the whole window.

use std::time::{Duration, Instant};

use green::sync::mpsc;
use green::thread;

const THREADS: usize = 10_000;

fn main() {
    let secs: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let (tx, rx) = mpsc::channel::<()>();
    let rx = std::sync::Arc::new(green::sync::Mutex::new(rx));
    let (ready_tx, ready_rx) = mpsc::channel::<()>();
    let mut handles = Vec::with_capacity(THREADS);
    for i in 0..THREADS {
        let ready = ready_tx.clone();
        if i % 2 == 0 {
            let rx = rx.clone();
            handles.push(thread::spawn(move || {
                ready.send(()).unwrap();
                // Every one of these waits for the lock or in `recv`.
                let _ = rx.lock().unwrap().recv();
            }));
        } else {
            handles.push(thread::spawn(move || {
                ready.send(()).unwrap();
                thread::sleep(Duration::from_secs(3600));
            }));
        }
    }
    for _ in 0..THREADS {
        ready_rx.recv().unwrap();
    }
    // Let spinning, trims and the monitor settle first.
    std::thread::sleep(Duration::from_secs(3));
    let before = cpu_ticks();
    let start = Instant::now();
    std::thread::sleep(Duration::from_secs(secs));
    let ticks = cpu_ticks() - before;
    let wall = start.elapsed();
    println!(
        "{THREADS} parked green threads, {} workers: {ticks} ticks of CPU ({} ms) over {:.1} s = {:.2} % of one core",
        green::rt::runtime::workers(),
        ticks * 10,
        wall.as_secs_f64(),
        (ticks * 10) as f64 / wall.as_millis() as f64 * 100.0
    );
    drop(tx);
    // The sleepers are left to the process's exit.
    std::process::exit(0);
}

/// utime + stime of this process, in clock ticks (fields 14 and 15 of
/// `/proc/self/stat`, counted after the parenthesised command name).
fn cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("read /proc/self/stat");
    let after_name = &stat[stat.rfind(')').expect("stat has a command name") + 2..];
    let fields: Vec<&str> = after_name.split(' ').collect();
    // after_name starts at field 3 (state): utime is field 14, stime 15.
    let utime: u64 = fields[11].parse().expect("utime");
    let stime: u64 = fields[12].parse().expect("stime");
    utime + stime
}
