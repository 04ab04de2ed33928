//! Green-only checks for `green::fs`: file operations never block the hub
//! (a FIFO `open`/`read`, a blocking `lock`, a big `fsync` — while each
//! waits, other green threads on the same hub keep running), a bounded,
//! seeded stress of 1,000 green threads on distinct files with every byte
//! verified, mixed green/OS-thread use, and a plain thread whose hub has
//! green threads.
//!
//! Tests whose failure would be a hang arm a watchdog that aborts the
//! process with a message instead.

use std::io::{IoSlice, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use green::fs;
use green::rt::runtime;
use green::thread;
use green_conformance::{eventually, Flavor, Rng};

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("create a temporary directory")
}

/// Aborts the process with a message if still armed after `limit`: turns a
/// blocked hub (a hang) into a loud failure.
struct Watchdog(Arc<AtomicBool>);

impl Watchdog {
    fn arm(limit: Duration, what: &'static str) -> Watchdog {
        let disarmed = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&disarmed);
        std::thread::spawn(move || {
            let start = Instant::now();
            while !flag.load(Ordering::Acquire) {
                if start.elapsed() > limit {
                    eprintln!(
                        "watchdog: `{what}` still blocked after {limit:?}; the hub is blocked"
                    );
                    std::process::abort();
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        });
        Watchdog(disarmed)
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

/// Makes a FIFO with the `mkfifo` tool; `None` (reason printed) if that
/// fails.
fn make_fifo(dir: &Path) -> Option<PathBuf> {
    let path = dir.join("fifo");
    match std::process::Command::new("mkfifo").arg(&path).status() {
        Ok(status) if status.success() => Some(path),
        other => {
            println!("skipped: `mkfifo` failed ({other:?})");
            None
        }
    }
}

/// Runs `f` inside a green thread and returns its result (resuming its
/// panic).
fn in_green<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    match thread::spawn(f).join() {
        Ok(v) => v,
        Err(payload) => std::panic::resume_unwind(payload),
    }
}

/// A green thread on the caller's hub that counts how often it ran until
/// told to stop.
struct Ticker {
    ticks: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    handle: thread::JoinHandle<usize>,
}

impl Ticker {
    fn start_local() -> Ticker {
        let ticks = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (t, s) = (Arc::clone(&ticks), Arc::clone(&stop));
        let me = runtime::hub_id();
        let handle = runtime::spawn_local(move || {
            assert_eq!(
                runtime::hub_id(),
                me,
                "spawn_local placed the ticker elsewhere"
            );
            while !s.load(Ordering::Acquire) {
                t.fetch_add(1, Ordering::Relaxed);
                thread::sleep(Duration::from_millis(1));
            }
            runtime::hub_id()
        });
        Ticker {
            ticks,
            stop,
            handle,
        }
    }

    fn ticks(&self) -> usize {
        self.ticks.load(Ordering::Relaxed)
    }

    fn finish(self) -> usize {
        self.stop.store(true, Ordering::Release);
        let ticks = Arc::clone(&self.ticks);
        let hub = self.handle.join().expect("the ticker panicked");
        assert_eq!(hub, runtime::hub_id(), "the ticker left its hub");
        ticks.load(Ordering::Relaxed)
    }
}

#[test]
fn fifo_open_and_read_do_not_block_the_hub() {
    let dir = tempdir();
    let Some(fifo) = make_fifo(dir.path()) else {
        return;
    };
    let _watchdog = Watchdog::arm(Duration::from_secs(60), "FIFO open/read");
    let text = in_green(move || {
        let hub = runtime::hub_id();
        let ticker = Ticker::start_local();
        let ticks = Arc::clone(&ticker.ticks);
        let writer_path = fifo.clone();
        // The writer runs on the same hub, and only once the ticker has run a
        // few times while the reader sits in `open` (which blocks until a
        // writer shows up) and then in `read`.
        let writer = runtime::spawn_local(move || {
            assert!(eventually(
                Flavor::GreenInGreen,
                Duration::from_secs(30),
                || { ticks.load(Ordering::Relaxed) >= 5 }
            ));
            let mut w = fs::OpenOptions::new()
                .write(true)
                .open(&writer_path)
                .unwrap();
            w.write_all(b"through ").unwrap();
            thread::sleep(Duration::from_millis(20));
            w.write_all(b"the pipe").unwrap();
            runtime::hub_id()
        });
        let text = fs::read_to_string(&fifo).unwrap();
        assert_eq!(writer.join().unwrap(), hub);
        let ticks = ticker.finish();
        assert!(ticks >= 5, "the ticker ran {ticks} times");
        text
    });
    assert_eq!(text, "through the pipe");
}

#[test]
fn blocking_lock_does_not_block_the_hub() {
    let dir = tempdir();
    let path = dir.path().join("lock");
    std::fs::write(&path, "").unwrap();
    let _watchdog = Watchdog::arm(Duration::from_secs(60), "File::lock");
    in_green(move || {
        let holder = fs::File::open(&path).unwrap();
        holder.lock().unwrap();
        let got_it = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&got_it);
        let waiter = runtime::spawn_local(move || {
            let f = fs::File::open(&path).unwrap();
            // Blocks (on a pool thread) until the holder, on this same hub,
            // unlocks.
            f.lock().unwrap();
            flag.store(true, Ordering::Release);
            f.unlock().unwrap();
        });
        thread::sleep(Duration::from_millis(50));
        assert!(
            !got_it.load(Ordering::Acquire),
            "the lock was granted twice"
        );
        holder.unlock().unwrap();
        waiter.join().unwrap();
        assert!(got_it.load(Ordering::Acquire));
    });
}

#[test]
fn big_fsync_does_not_block_the_hub() {
    let dir = tempdir();
    let path = dir.path().join("big");
    let _watchdog = Watchdog::arm(Duration::from_secs(120), "sync_all");
    let (ticks, len) = in_green(move || {
        let mut f = fs::File::create(&path).unwrap();
        let chunk = vec![0x5a; 1 << 20];
        for _ in 0..32 {
            f.write_all(&chunk).unwrap();
        }
        let ticker = Ticker::start_local();
        f.sync_all().unwrap();
        // The ticker was ready before `sync_all` parked this green thread,
        // so it ran at least once before `sync_all` returned.
        let during = ticker.ticks();
        ticker.finish();
        (during, f.metadata().unwrap().len())
    });
    println!("the ticker ran {ticks} times during a 32 MiB fsync");
    assert!(ticks >= 1);
    assert_eq!(len, 32 << 20);
}

#[test]
fn clone_stays_valid_when_the_original_is_dropped_mid_read() {
    let dir = tempdir();
    let Some(fifo) = make_fifo(dir.path()) else {
        return;
    };
    let _watchdog = Watchdog::arm(Duration::from_secs(60), "read on a clone");
    in_green(move || {
        // Read-write on a FIFO opens at once on Linux.
        let original = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&fifo)
            .unwrap();
        let clone = original.try_clone().unwrap();
        let started = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&started);
        let reader = runtime::spawn_local(move || {
            flag.store(true, Ordering::Release);
            let mut buf = [0; 5];
            (&clone).read_exact(&mut buf).unwrap();
            buf
        });
        assert!(eventually(
            Flavor::GreenInGreen,
            Duration::from_secs(30),
            || started.load(Ordering::Acquire)
        ));
        thread::sleep(Duration::from_millis(20));
        drop(original);
        let mut w = fs::OpenOptions::new().write(true).open(&fifo).unwrap();
        w.write_all(b"alive").unwrap();
        assert_eq!(&reader.join().unwrap(), b"alive");
    });
}

/// Content of file `i` for `seed`: a length and bytes derived from both.
fn content(seed: u64, i: u64) -> Vec<u8> {
    let mut rng = Rng::new(seed ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let len = 1 + rng.below(24 * 1024) as usize;
    (0..len).map(|_| rng.next_u64() as u8).collect()
}

/// Writes, re-reads and checks one file through several APIs.
fn exercise_one(dir: &Path, seed: u64, i: u64) {
    let path = dir.join(format!("f{i:04}"));
    let data = content(seed, i);
    let mut rng = Rng::new(seed.wrapping_add(i));
    let mut f = fs::File::create_new(&path).unwrap();
    // Write in random pieces, some vectored.
    let mut at = 0;
    while at < data.len() {
        let n = (1 + rng.below(4096) as usize).min(data.len() - at);
        if rng.below(3) == 0 && n > 1 {
            let (a, b) = data[at..at + n].split_at(n / 2);
            let mut bufs = [IoSlice::new(a), IoSlice::new(b)];
            let mut slices: &mut [IoSlice<'_>] = &mut bufs;
            let mut left = n;
            while left > 0 {
                let w = f.write_vectored(slices).unwrap();
                assert!(w > 0);
                left -= w;
                IoSlice::advance_slices(&mut slices, w);
            }
        } else {
            f.write_all(&data[at..at + n]).unwrap();
        }
        at += n;
    }
    if i.is_multiple_of(16) {
        f.sync_data().unwrap();
    }
    assert_eq!(f.stream_position().unwrap(), data.len() as u64);
    f.rewind().unwrap();
    let mut back = Vec::new();
    assert_eq!(f.read_to_end(&mut back).unwrap(), data.len());
    assert_eq!(back, data, "file {i}: read_to_end differs");
    // A random window through positioned and cursor reads.
    let start = rng.below(data.len() as u64) as usize;
    let end = start + rng.below((data.len() - start) as u64 + 1) as usize;
    let mut window = vec![0; end - start];
    f.read_exact_at(&mut window, start as u64).unwrap();
    assert_eq!(window, &data[start..end], "file {i}: read_exact_at differs");
    f.seek(SeekFrom::Start(start as u64)).unwrap();
    let mut window = vec![0; end - start];
    f.read_exact(&mut window).unwrap();
    assert_eq!(window, &data[start..end], "file {i}: read_exact differs");
    drop(f);
    assert_eq!(fs::read(&path).unwrap(), data, "file {i}: fs::read differs");
    fs::remove_file(&path).unwrap();
}

#[test]
fn thousand_green_threads_on_distinct_files_lose_no_byte() {
    const THREADS: u64 = 1000;
    let seed = Rng::from_env("fs_green stress").next_u64();
    let dir = tempdir();
    let root = Arc::new(dir.path().to_path_buf());
    let start = Instant::now();
    let handles: Vec<_> = (0..THREADS)
        .map(|i| {
            let root = Arc::clone(&root);
            thread::spawn(move || exercise_one(&root, seed, i))
        })
        .collect();
    for (i, h) in handles.into_iter().enumerate() {
        if let Err(payload) = h.join() {
            eprintln!("green thread {i} failed (seed {seed})");
            std::panic::resume_unwind(payload);
        }
    }
    println!("{THREADS} green threads done in {:?}", start.elapsed());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn green_and_os_threads_append_to_one_file() {
    const EACH: usize = 100;
    let dir = tempdir();
    let path = Arc::new(dir.path().join("log"));
    std::fs::write(&*path, "").unwrap();
    let append = |tag: String, path: Arc<PathBuf>| {
        move || {
            let mut f = fs::OpenOptions::new().append(true).open(&*path).unwrap();
            for n in 0..EACH {
                writeln!(f, "{tag} {n}").unwrap();
            }
        }
    };
    let os: Vec<_> = (0..4)
        .map(|i| std::thread::spawn(append(format!("os{i}"), Arc::clone(&path))))
        .collect();
    let green: Vec<_> = (0..8)
        .map(|i| thread::spawn(append(format!("green{i}"), Arc::clone(&path))))
        .collect();
    os.into_iter().for_each(|h| h.join().unwrap());
    green.into_iter().for_each(|h| h.join().unwrap());
    let text = std::fs::read_to_string(&*path).unwrap();
    let mut next = std::collections::HashMap::new();
    for line in text.lines() {
        let (tag, n) = line.split_once(' ').expect("a whole line");
        let expected = next.entry(tag.to_owned()).or_insert(0usize);
        assert_eq!(
            n.parse::<usize>().unwrap(),
            *expected,
            "lines of {tag} out of order"
        );
        *expected += 1;
    }
    assert_eq!(next.len(), 12);
    assert!(next.values().all(|&n| n == EACH));
}

#[test]
fn plain_thread_with_green_threads_on_its_hub_keeps_them_running() {
    // A fresh OS thread, so its hub holds only what this test puts there.
    std::thread::spawn(|| {
        let dir = tempdir();
        let path = dir.path().join("data");
        std::fs::write(&path, vec![1; 1 << 20]).unwrap();
        let ticker = Ticker::start_local();
        // The hub has a green thread, so the reads go to the pool and this
        // thread runs its hub meanwhile: the ticker gets to run.
        let mut total = 0;
        for _ in 0..20 {
            total += fs::read(&path).unwrap().len();
        }
        assert_eq!(total, 20 << 20);
        let ticks = ticker.finish();
        assert!(
            ticks >= 1,
            "the ticker never ran while the plain thread waited"
        );
    })
    .join()
    .unwrap();
}

#[test]
fn read_dir_batches_from_many_green_threads() {
    let dir = tempdir();
    for i in 0..1000 {
        std::fs::write(dir.path().join(format!("e{i}")), "").unwrap();
    }
    let root = Arc::new(dir.path().to_path_buf());
    let handles: Vec<_> = (0..32)
        .map(|_| {
            let root = Arc::clone(&root);
            thread::spawn(move || {
                let mut names: Vec<_> = fs::read_dir(&*root)
                    .unwrap()
                    .map(|e| e.unwrap().file_name())
                    .collect();
                names.sort();
                names.dedup();
                names.len()
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), 1000);
    }
}
