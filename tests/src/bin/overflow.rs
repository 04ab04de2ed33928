//! A helper program for `tests/tests/stack.rs`: runs a few green threads
//! (so green-core's fault handler is installed), then overflows the stack of
//! `main`, of an OS thread named `deep`, or of a green thread named
//! `deep-green`, as its argument says. The test checks what it prints and
//! how it dies.
#![forbid(unsafe_code)]

use std::hint::black_box;

#[allow(unconditional_recursion)]
fn forever(n: u64) -> u64 {
    let buf = black_box([n as u8; 1024]);
    black_box(forever(n + 1) + u64::from(buf[0]))
}

fn main() {
    let warm: u64 = (0..8)
        .map(|i| green_core::thread::spawn(move || i))
        .map(|h| h.join().expect("a warm-up green thread"))
        .sum();
    assert_eq!(warm, 28);
    match std::env::args().nth(1).as_deref() {
        Some("main") => {
            forever(0);
        }
        Some("thread") => {
            let h = std::thread::Builder::new()
                .name("deep".into())
                .spawn(|| forever(0))
                .expect("spawn an OS thread");
            let _ = h.join();
        }
        Some("green") => {
            let h = green_core::thread::Builder::new()
                .name("deep-green".into())
                .spawn(|| forever(0))
                .expect("spawn a green thread");
            let _ = h.join();
        }
        other => panic!("usage: overflow main|thread|green (got {other:?})"),
    }
    println!("survived the overflow");
}
