//! green::fs against std::fs on OS threads and tokio::fs, side by side.
//!
//! `cargo run --release -p green-benches --bin fs` runs every scenario on
//! every system in one process and prints one table (median of
//! `BENCH_REPS` runs, default 5). Scenarios:
//!
//! * `read4k`  — 1,000 concurrent tasks each read their own 4 KiB file 100
//!   times with `fs::read` (open, read, close); reads per second.
//! * `copy`    — one task copies a 100 MiB file with `fs::copy`; MiB/s.
//! * `readdir` — one task lists a directory of 10,000 entries (`read_dir`,
//!   each entry's name and file type); entries per second.
//! * `trip`    — the floor under every call: one task offloads 10,000 no-op
//!   jobs one after the other (`green::rt::unblock(|| ())` in a green thread,
//!   `tokio::task::spawn_blocking`); microseconds per round trip.
//! * `seqN`    — one task reads a 64 MiB file front to back with `read` into
//!   an N KiB buffer; MiB/s. The "green" column runs in a green thread; the
//!   extra "green (plain)" column calls green::fs from a plain OS thread,
//!   where the calls run inline.
//!
//! Files live in a fresh directory under the system temp dir, removed at
//! the end. All files are written first, so every system reads from the page
//! cache.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

const TASKS: usize = 1_000;
const READS_PER_TASK: usize = 100;
const SMALL: usize = 4 * 1024;
const COPY_MIB: usize = 100;
const DIR_ENTRIES: usize = 10_000;
const SEQ_MIB: usize = 64;
const TRIPS: u32 = 10_000;

/// Removes the bench directory when dropped, panics included.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn reps() -> usize {
    std::env::var("BENCH_REPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(5)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn time_reps(mut f: impl FnMut() -> Duration) -> Duration {
    f(); // warm-up
    median((0..reps()).map(|_| f()).collect())
}

fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Runs `f` in a green thread and waits for it.
fn in_green<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    green::thread::spawn(f)
        .join()
        .expect("green thread panicked")
}

// ---- read4k -------------------------------------------------------------

fn small_files(root: &Path) -> Arc<Vec<PathBuf>> {
    let dir = root.join("small");
    std::fs::create_dir_all(&dir).unwrap();
    let files = (0..TASKS)
        .map(|i| {
            let p = dir.join(format!("f{i}"));
            std::fs::write(&p, vec![i as u8; SMALL]).unwrap();
            p
        })
        .collect();
    Arc::new(files)
}

fn read4k_green(files: &Arc<Vec<PathBuf>>) -> Duration {
    let start = Instant::now();
    let handles: Vec<_> = (0..TASKS)
        .map(|i| {
            let files = Arc::clone(files);
            green::thread::spawn(move || {
                for _ in 0..READS_PER_TASK {
                    assert_eq!(green::fs::read(&files[i]).unwrap().len(), SMALL);
                }
            })
        })
        .collect();
    handles.into_iter().for_each(|h| h.join().unwrap());
    start.elapsed()
}

fn read4k_std(files: &Arc<Vec<PathBuf>>) -> Duration {
    let start = Instant::now();
    let handles: Vec<_> = (0..TASKS)
        .map(|i| {
            let files = Arc::clone(files);
            std::thread::spawn(move || {
                for _ in 0..READS_PER_TASK {
                    assert_eq!(std::fs::read(&files[i]).unwrap().len(), SMALL);
                }
            })
        })
        .collect();
    handles.into_iter().for_each(|h| h.join().unwrap());
    start.elapsed()
}

fn read4k_tokio(rt: &tokio::runtime::Runtime, files: &Arc<Vec<PathBuf>>) -> Duration {
    rt.block_on(async {
        let start = Instant::now();
        let handles: Vec<_> = (0..TASKS)
            .map(|i| {
                let files = Arc::clone(files);
                tokio::spawn(async move {
                    for _ in 0..READS_PER_TASK {
                        assert_eq!(tokio::fs::read(&files[i]).await.unwrap().len(), SMALL);
                    }
                })
            })
            .collect();
        for h in handles {
            h.await.unwrap();
        }
        start.elapsed()
    })
}

// ---- copy ---------------------------------------------------------------

fn copy_source(root: &Path) -> (PathBuf, PathBuf) {
    let from = root.join("copy-from");
    let chunk: Vec<u8> = (0..1 << 20).map(|i: u32| (i % 253) as u8).collect();
    let mut data = Vec::with_capacity(COPY_MIB << 20);
    for _ in 0..COPY_MIB {
        data.extend_from_slice(&chunk);
    }
    std::fs::write(&from, data).unwrap();
    (from, root.join("copy-to"))
}

fn copy_once(copy: impl FnOnce() -> u64, to: &Path) -> Duration {
    let _ = std::fs::remove_file(to);
    let start = Instant::now();
    assert_eq!(copy(), (COPY_MIB << 20) as u64);
    start.elapsed()
}

// ---- readdir ------------------------------------------------------------

fn big_dir(root: &Path) -> PathBuf {
    let dir = root.join("many");
    std::fs::create_dir_all(&dir).unwrap();
    for i in 0..DIR_ENTRIES {
        std::fs::write(dir.join(format!("entry-{i:05}")), "").unwrap();
    }
    dir
}

fn readdir_green(dir: &Path) -> usize {
    let mut n = 0;
    for entry in green::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        n += usize::from(entry.file_type().unwrap().is_file() && !entry.file_name().is_empty());
    }
    n
}

fn readdir_std(dir: &Path) -> usize {
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        n += usize::from(entry.file_type().unwrap().is_file() && !entry.file_name().is_empty());
    }
    n
}

async fn readdir_tokio(dir: &Path) -> usize {
    let mut n = 0;
    let mut rd = tokio::fs::read_dir(dir).await.unwrap();
    while let Some(entry) = rd.next_entry().await.unwrap() {
        n += usize::from(
            entry.file_type().await.unwrap().is_file() && !entry.file_name().is_empty(),
        );
    }
    n
}

// ---- sequential read ----------------------------------------------------

fn seq_source(root: &Path) -> PathBuf {
    let path = root.join("seq");
    std::fs::write(&path, vec![7u8; SEQ_MIB << 20]).unwrap();
    path
}

fn seq_read<R: Read>(mut r: R, buf_kib: usize) -> usize {
    let mut buf = vec![0; buf_kib << 10];
    let mut total = 0;
    loop {
        match r.read(&mut buf).unwrap() {
            0 => return total,
            n => total += n,
        }
    }
}

async fn seq_read_tokio(path: &Path, buf_kib: usize) -> usize {
    use tokio::io::AsyncReadExt;
    let mut f = tokio::fs::File::open(path).await.unwrap();
    let mut buf = vec![0; buf_kib << 10];
    let mut total = 0;
    loop {
        match f.read(&mut buf).await.unwrap() {
            0 => return total,
            n => total += n,
        }
    }
}

// ---- table --------------------------------------------------------------

fn per_sec(count: f64, d: Duration) -> String {
    let rate = count / d.as_secs_f64();
    if rate >= 1e6 {
        format!("{:.2} M/s", rate / 1e6)
    } else {
        format!("{:.0} k/s", rate / 1e3)
    }
}

fn mib_per_sec(mib: usize, d: Duration) -> String {
    format!("{:.0} MiB/s", mib as f64 / d.as_secs_f64())
}

fn main() {
    let root = std::env::temp_dir().join(format!("green-fs-bench-{}", std::process::id()));
    std::fs::create_dir_all(&root).unwrap();
    let scratch = Scratch(root.clone());
    let rt = tokio_rt();

    println!(
        "cores = {}, green workers = {}, repetitions = {} (median), files under {}",
        std::thread::available_parallelism().map_or(1, usize::from),
        green::rt::runtime::workers(),
        reps(),
        root.display()
    );
    println!();
    println!("| scenario | green | std threads | tokio::fs | green (plain thread) |");
    println!("|---|---|---|---|---|");

    // read4k
    let files = small_files(&root);
    let reads = (TASKS * READS_PER_TASK) as f64;
    let g = time_reps(|| read4k_green(&files));
    let s = time_reps(|| read4k_std(&files));
    let t = time_reps(|| read4k_tokio(&rt, &files));
    println!(
        "| read4k: {TASKS} tasks × {READS_PER_TASK} `fs::read` of 4 KiB | {} | {} | {} | — |",
        per_sec(reads, g),
        per_sec(reads, s),
        per_sec(reads, t)
    );
    drop(files);
    let _ = std::fs::remove_dir_all(root.join("small"));

    // copy
    let (from, to) = copy_source(&root);
    let g = time_reps(|| {
        let (f, t) = (from.clone(), to.clone());
        copy_once(|| in_green(move || green::fs::copy(f, t).unwrap()), &to)
    });
    let s = time_reps(|| copy_once(|| std::fs::copy(&from, &to).unwrap(), &to));
    let t = time_reps(|| {
        copy_once(
            || rt.block_on(async { tokio::fs::copy(&from, &to).await.unwrap() }),
            &to,
        )
    });
    println!(
        "| copy: one task, {COPY_MIB} MiB `fs::copy` | {} | {} | {} | — |",
        mib_per_sec(COPY_MIB, g),
        mib_per_sec(COPY_MIB, s),
        mib_per_sec(COPY_MIB, t)
    );
    let _ = std::fs::remove_file(&from);
    let _ = std::fs::remove_file(&to);

    // readdir
    let dir = big_dir(&root);
    let timed = |f: &dyn Fn() -> usize| {
        time_reps(|| {
            let start = Instant::now();
            assert_eq!(f(), DIR_ENTRIES);
            start.elapsed()
        })
    };
    let d = dir.clone();
    let g = timed(&|| {
        let d = d.clone();
        in_green(move || readdir_green(&d))
    });
    let s = timed(&|| readdir_std(&dir));
    let t = timed(&|| rt.block_on(readdir_tokio(&dir)));
    let p = timed(&|| readdir_green(&dir));
    let entries = DIR_ENTRIES as f64;
    println!(
        "| readdir: {DIR_ENTRIES} entries, name + file type | {} | {} | {} | {} |",
        per_sec(entries, g),
        per_sec(entries, s),
        per_sec(entries, t),
        per_sec(entries, p)
    );
    let _ = std::fs::remove_dir_all(&dir);

    // trip
    let g = time_reps(|| {
        in_green(|| {
            let start = Instant::now();
            for _ in 0..TRIPS {
                green::rt::unblock(|| ());
            }
            start.elapsed()
        })
    });
    let t = time_reps(|| {
        rt.block_on(async {
            let start = Instant::now();
            for _ in 0..TRIPS {
                tokio::task::spawn_blocking(|| ()).await.unwrap();
            }
            start.elapsed()
        })
    });
    println!(
        "| trip: one task, {TRIPS} no-op offloads in a row | {:.1} µs | — | {:.1} µs | — |",
        g.as_secs_f64() * 1e6 / f64::from(TRIPS),
        t.as_secs_f64() * 1e6 / f64::from(TRIPS)
    );

    // sequential reads
    let seq = seq_source(&root);
    for buf_kib in [8, 64, 1024] {
        let timed = |f: &dyn Fn() -> usize| {
            time_reps(|| {
                let start = Instant::now();
                assert_eq!(f(), SEQ_MIB << 20);
                start.elapsed()
            })
        };
        let path = seq.clone();
        let g = timed(&|| {
            let path = path.clone();
            in_green(move || seq_read(green::fs::File::open(path).unwrap(), buf_kib))
        });
        let s = timed(&|| seq_read(std::fs::File::open(&seq).unwrap(), buf_kib));
        let t = timed(&|| rt.block_on(seq_read_tokio(&seq, buf_kib)));
        let p = timed(&|| seq_read(green::fs::File::open(&seq).unwrap(), buf_kib));
        println!(
            "| seq{buf_kib}: one task reads {SEQ_MIB} MiB, {buf_kib} KiB `read`s | {} | {} | {} | {} |",
            mib_per_sec(SEQ_MIB, g),
            mib_per_sec(SEQ_MIB, s),
            mib_per_sec(SEQ_MIB, t),
            mib_per_sec(SEQ_MIB, p)
        );
    }
    drop(rt);
    drop(scratch);
}
