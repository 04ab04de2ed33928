//! How much stack ordinary crates need on a green thread: each workload runs
//! on a fresh green-thread stack (a 16 MiB size class nothing else uses, in
//! a fresh child process), and `green::rt::runtime::stack_resident` reads
//! how much of it the workload touched.
//!
//! ```text
//! cargo run --release -p green-benches --bin stacks   # release build
//! cargo run -p green-benches --bin stacks             # debug build (what tests run)
//! ```

use std::io::{Read, Write};

const WORKLOADS: [&str; 7] = [
    "nothing",
    "panic (RUST_BACKTRACE=1)",
    "gzip 4 MiB, level 1",
    "gzip 4 MiB, level 9",
    "serde_json 127 deep",
    "regex compile",
    "format!",
];

fn gzip(level: u32) {
    let data: Vec<u8> = (0..4u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8 & 0x3f)
        .collect();
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
    enc.write_all(&data).unwrap();
    let packed = enc.finish().unwrap();
    let mut back = Vec::new();
    flate2::read::GzDecoder::new(&packed[..])
        .read_to_end(&mut back)
        .unwrap();
    assert_eq!(back, data);
}

fn workload(name: &str) {
    match name {
        "nothing" => {}
        "panic (RUST_BACKTRACE=1)" => {
            std::env::set_var("RUST_BACKTRACE", "1");
            std::panic::set_hook(Box::new(|info| {
                // Capture and format a backtrace as std's hook does, without
                // flooding the table's output.
                let bt = std::backtrace::Backtrace::force_capture();
                let text = format!("{info}\n{bt}");
                assert!(!text.is_empty());
            }));
            assert!(std::panic::catch_unwind(|| panic!("boom")).is_err());
        }
        "gzip 4 MiB, level 1" => gzip(1),
        "gzip 4 MiB, level 9" => gzip(9),
        "serde_json 127 deep" => {
            let text = "[".repeat(127) + &"]".repeat(127);
            let v: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert!(v.is_array());
        }
        "regex compile" => {
            let r = regex::Regex::new(
                r"(?i)^(\w+[.-])*\w+@(\w+\.)+[a-z]{2,}(\s*,\s*(\w+[.-])*\w+@(\w+\.)+[a-z]{2,})*$",
            )
            .unwrap();
            assert!(r.is_match("a.b@c.de, x@y.org"));
        }
        "format!" => {
            let s = format!("{:?} {:#?} {}", vec![1.5f64; 10], (1, "two"), 1e300);
            assert!(!s.is_empty());
        }
        other => panic!("unknown workload {other}"),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(name) = args.get(1) {
        let name = name.clone();
        let used = green::thread::Builder::new()
            .stack_size(16 << 20)
            .spawn(move || {
                workload(&name);
                green::rt::runtime::stack_resident().expect("on a green thread")
            })
            .expect("spawn")
            .join()
            .expect("workload");
        println!("RESULT {} KiB", used / 1024);
        return;
    }
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    println!("| workload ({profile} build) | stack touched |");
    println!("|---|---:|");
    for w in WORKLOADS {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .arg(w)
            .output()
            .expect("run child");
        let text = String::from_utf8_lossy(&out.stdout);
        let cell = text
            .lines()
            .find_map(|l| l.strip_prefix("RESULT "))
            .map(String::from)
            .unwrap_or_else(|| format!("failed ({})", out.status));
        println!("| {w} | {cell} |");
    }
}
