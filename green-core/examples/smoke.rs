//! Smoke test of green threads.
use green_core::thread;
use std::time::{Duration, Instant};
fn main() {
    let t = Instant::now();
    let hs: Vec<_> = (0..10_000u64)
        .map(|i| {
            thread::spawn(move || {
                thread::sleep(Duration::from_millis(20));
                i
            })
        })
        .collect();
    let s: u64 = hs.into_iter().map(|h| h.join().unwrap()).sum();
    println!("sum {s} in {:?}", t.elapsed());
    let h = thread::Builder::new()
        .name("boom".into())
        .spawn(|| panic!("oops"))
        .unwrap();
    println!("join: {:?}", h.join().is_err());
    let me = thread::current();
    println!("{me:?}");
    let t = Instant::now();
    let n = 100_000u64;
    let hs: Vec<_> = (0..n).map(|i| thread::spawn(move || i)).collect();
    let s: u64 = hs.into_iter().map(|h| h.join().unwrap()).sum();
    println!(
        "spawn+join {} ns/task sum {s}",
        t.elapsed().as_nanos() / n as u128
    );
    let t = Instant::now();
    let hs: Vec<_> = (0..n).map(|i| thread::spawn(move || i)).collect();
    let s: u64 = hs.into_iter().map(|h| h.join().unwrap()).sum();
    println!(
        "spawn+join warm {} ns/task sum {s}",
        t.elapsed().as_nanos() / n as u128
    );
}
