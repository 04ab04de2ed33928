//! Green-only checks for `green::process`: waits and pipe I/O never block
//! the hub (200 concurrent `output()` calls, all parked at once, while a
//! ticker on every hub keeps advancing), the pidfd-less fallback, 4 MiB on
//! stdout and stderr at once, 1 MiB round trip through `cat`, 10,000
//! children that leave no zombie, and only the parent's pipe ends becoming
//! non-blocking.
//!
//! Tests whose failure would be a hang release their children and fail
//! after a bounded wait instead.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use green::process::{Command, Stdio};
use green::rt::runtime;
use green::thread;
use green_conformance::{eventually, run_test_in_child, Flavor, Rng};

/// How long a "this must happen" wait may take before the test calls it a
/// hang.
const HANG: Duration = Duration::from_secs(60);

/// One ticker green thread on every worker hub (and, with `local`, one on
/// the caller's hub), each counting its 1 ms sleeps until stopped.
struct Tickers {
    counts: Vec<(usize, Arc<AtomicUsize>)>,
    stop: Arc<AtomicBool>,
    handles: Vec<thread::JoinHandle<()>>,
}

impl Tickers {
    fn start(local: bool) -> Tickers {
        let stop = Arc::new(AtomicBool::new(false));
        let mut counts: Vec<(usize, Arc<AtomicUsize>)> = Vec::new();
        let mut handles = Vec::new();
        let tick = |count: Arc<AtomicUsize>, stop: Arc<AtomicBool>| {
            move || {
                while !stop.load(Ordering::Acquire) {
                    count.fetch_add(1, Ordering::Relaxed);
                    thread::sleep(Duration::from_millis(1));
                }
            }
        };
        if local {
            let count = Arc::new(AtomicUsize::new(0));
            counts.push((runtime::hub_id(), count.clone()));
            handles.push(runtime::spawn_local(tick(count, stop.clone())));
        }
        // Round-robin placement: spawn until every worker hub has a ticker.
        let workers = runtime::workers().max(1);
        let mut hubs = HashSet::new();
        for _ in 0..workers * 8 {
            if hubs.len() == workers {
                break;
            }
            let (hub_tx, hub_rx) = std::sync::mpsc::channel();
            let count = Arc::new(AtomicUsize::new(0));
            let run = tick(count.clone(), stop.clone());
            let h = thread::spawn(move || {
                hub_tx.send(runtime::hub_id()).unwrap();
                run();
            });
            let hub = hub_rx.recv().unwrap();
            if hubs.insert(hub) {
                counts.push((hub, count));
            }
            handles.push(h);
        }
        Tickers {
            counts,
            stop,
            handles,
        }
    }

    fn snapshot(&self) -> Vec<usize> {
        self.counts
            .iter()
            .map(|(_, c)| c.load(Ordering::Relaxed))
            .collect()
    }

    /// Whether every ticker advanced by at least `n` since `since`.
    fn all_advanced(&self, since: &[usize], n: usize) -> bool {
        self.snapshot()
            .iter()
            .zip(since)
            .all(|(now, then)| now - then >= n)
    }

    fn stop(self) {
        self.stop.store(true, Ordering::Release);
        for h in self.handles {
            h.join().expect("a ticker panicked");
        }
    }
}

/// `n` green threads each run `sh -c 'echo <i>; exec >&- 2>&-; read x'`
/// through `output()` (so each ends up waiting for its child's exit), with
/// stdin a shared pipe that stays open until every one of
/// them is inside `output()` at once and every hub's ticker has advanced
/// meanwhile. A blocking `output()` would hold its hub, so the count of
/// green threads inside `output()` could never reach `n`.
fn concurrent_outputs(n: usize) {
    let tickers = Tickers::start(false);
    let (reader, writer) = green::io::pipe().unwrap();
    let inside = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let stdin = reader.try_clone().unwrap();
            let inside = inside.clone();
            thread::spawn(move || {
                let mut cmd = Command::new("sh");
                // Print, close stdout and stderr, then live on until stdin
                // closes: output() drains both pipes to EOF at once and then
                // spends the rest in its wait for the exit.
                cmd.args(["-c", &format!("echo {i}; exec >&- 2>&-; read x; exit 0")])
                    .stdin(stdin);
                inside.fetch_add(1, Ordering::SeqCst);
                cmd.output()
            })
        })
        .collect();
    drop(reader);
    let all_inside = eventually(Flavor::GreenPlain, HANG, || {
        inside.load(Ordering::SeqCst) == n
    });
    let at_once = tickers.snapshot();
    let advanced = all_inside
        && eventually(Flavor::GreenPlain, HANG, || {
            tickers.all_advanced(&at_once, 10)
        });
    // Release the children (EOF on their stdin) whatever happened.
    drop(writer);
    for (i, h) in handles.into_iter().enumerate() {
        let out = h.join().unwrap().unwrap();
        assert!(out.status.success(), "child {i}: {:?}", out.status);
        assert_eq!(out.stdout, format!("{i}\n").as_bytes(), "child {i}");
        assert!(out.stderr.is_empty(), "child {i}");
    }
    let hubs = tickers.counts.len();
    tickers.stop();
    assert!(
        all_inside,
        "only {} of {n} green threads got into output() at once",
        inside.load(Ordering::SeqCst)
    );
    assert!(
        advanced,
        "a ticker stalled while {n} children were waited for"
    );
    assert!(hubs >= 1);
}

#[test]
fn two_hundred_concurrent_outputs_while_every_hub_ticks() {
    assert!(green::process::uses_pidfd() || std::env::var_os("GREEN_PROCESS_PIDFD").is_some());
    concurrent_outputs(200);
}

/// The child side of [`the_pool_fallback_waits_without_blocking_hubs`].
#[test]
fn fallback_child() {
    if std::env::var_os("GREEN_PROCESS_PIDFD").is_none() {
        return; // only meaningful as the child below
    }
    assert!(!green::process::uses_pidfd());
    concurrent_outputs(40);
    // The usual calls work too.
    let mut child = Command::new("sleep").arg("30").spawn().unwrap();
    assert_eq!(child.try_wait().unwrap(), None);
    child.kill().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(child.wait().unwrap().signal(), Some(9));
    println!("FALLBACK-OK");
}

#[test]
fn the_pool_fallback_waits_without_blocking_hubs() {
    let run = run_test_in_child(
        "fallback_child",
        &[("GREEN_PROCESS_PIDFD", "0")],
        Duration::from_secs(120),
    );
    assert!(
        run.status.is_some_and(|s| s.success()) && run.stdout.contains("FALLBACK-OK"),
        "fallback child failed: {run:?}"
    );
}

/// A child writing 4 MiB to stdout and 4 MiB to stderr at the same time:
/// `output()` must drain both at once (reading one to the end first would
/// deadlock with the child blocked on the other).
fn large_output() {
    const N: usize = 4 << 20;
    let script = format!(
        "head -c {N} /dev/zero | tr '\\0' o & head -c {N} /dev/zero | tr '\\0' e >&2; wait"
    );
    let out = Command::new("sh").args(["-c", &script]).output().unwrap();
    assert!(out.status.success(), "{:?}", out.status);
    assert_eq!(out.stdout.len(), N);
    assert_eq!(out.stderr.len(), N);
    assert!(out.stdout.iter().all(|&b| b == b'o'));
    assert!(out.stderr.iter().all(|&b| b == b'e'));
}

#[test]
fn four_mib_on_stdout_and_stderr_at_once_in_a_green_thread() {
    thread::spawn(large_output).join().unwrap();
}

#[test]
fn four_mib_on_stdout_and_stderr_at_once_on_a_plain_thread() {
    large_output();
}

/// 1 MiB of seeded bytes through `cat`: a green writer thread feeds its
/// stdin while the caller reads its stdout.
fn round_trip_through_cat(seed: u64) {
    let mut rng = Rng::new(seed);
    let data: Vec<u8> = (0..1 << 20).map(|_| rng.next_u64() as u8).collect();
    let mut child = Command::new("cat")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let sent = data.clone();
    let writer = thread::spawn(move || {
        // Uneven pieces, so short writes happen.
        for chunk in sent.chunks(70_001) {
            stdin.write_all(chunk).unwrap();
        }
    });
    let mut got = Vec::new();
    child.stdout.take().unwrap().read_to_end(&mut got).unwrap();
    writer.join().unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(got.len(), data.len());
    assert!(got == data, "the bytes came back different");
}

#[test]
fn one_mib_round_trip_through_cat() {
    let seed = Rng::from_env("round trip").next_u64();
    thread::spawn(move || round_trip_through_cat(seed))
        .join()
        .unwrap();
    round_trip_through_cat(seed ^ 1);
}

/// The pids in `ours` that are zombies now (`/proc/<pid>/stat` state `Z`
/// with us as the parent).
fn zombies_among(ours: &HashSet<u32>) -> Vec<u32> {
    let me = std::process::id();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if !ours.contains(&pid) {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // "pid (comm) S ppid ...": the fields after the last ')'.
        let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
        let mut fields = rest.split_whitespace();
        let state = fields.next();
        let ppid = fields.next().and_then(|p| p.parse::<u32>().ok());
        if state == Some("Z") && ppid == Some(me) {
            found.push(pid);
        }
    }
    found
}

#[test]
fn ten_thousand_children_leave_no_zombie() {
    let pids = Arc::new(Mutex::new(HashSet::new()));
    let seen = pids.clone();
    thread::spawn(move || {
        for i in 0..10_000u32 {
            let mut cmd = Command::new("true");
            let mut child = cmd.spawn().unwrap();
            seen.lock().unwrap().insert(child.id());
            match i % 4 {
                0 => assert!(child.wait().unwrap().success()),
                1 => assert!(child.wait_with_output().unwrap().status.success()),
                2 => {
                    // Poll, then wait: try_wait may reap first.
                    let _ = child.try_wait().unwrap();
                    assert!(child.wait().unwrap().success());
                }
                _ => {
                    child.kill().unwrap();
                    let _ = child.wait().unwrap();
                    child.kill().unwrap();
                }
            }
        }
    })
    .join()
    .unwrap();
    let pids = pids.lock().unwrap();
    assert_eq!(pids.len(), 10_000, "pids were reused while children lived");
    let zombies = zombies_among(&pids);
    assert!(zombies.is_empty(), "zombies left: {zombies:?}");
}

/// A green thread waits for a child that runs until its stdin closes; a
/// ticker on the same hub must keep running, and only then does the main
/// thread close the child's stdin.
#[test]
fn wait_parks_only_the_waiting_green_thread() {
    let (reader, writer) = green::io::pipe().unwrap();
    let waiting = Arc::new(AtomicBool::new(false));
    let ticks = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let (w, t, s) = (waiting.clone(), ticks.clone(), stop.clone());
    let outer = thread::spawn(move || {
        let ticker = runtime::spawn_local(move || {
            while !s.load(Ordering::Acquire) {
                t.fetch_add(1, Ordering::Relaxed);
                thread::sleep(Duration::from_millis(1));
            }
        });
        let mut child = Command::new("cat").stdin(reader).spawn().unwrap();
        w.store(true, Ordering::Release);
        let status = child.wait().unwrap();
        ticker.join().unwrap();
        status
    });
    assert!(eventually(Flavor::Std, HANG, || waiting.load(Ordering::Acquire)));
    let before = ticks.load(Ordering::Relaxed);
    let advanced = eventually(Flavor::Std, HANG, || {
        ticks.load(Ordering::Relaxed) >= before + 20
    });
    drop(writer);
    stop.store(true, Ordering::Release);
    assert!(outer.join().unwrap().success());
    assert!(
        advanced,
        "the ticker stalled while its hub's neighbour waited"
    );
}

/// The same from a plain OS thread: its hub (with a ticker placed on it)
/// runs while the thread waits.
#[test]
fn wait_on_a_plain_thread_runs_its_hub() {
    let (reader, writer) = green::io::pipe().unwrap();
    let ticks = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let (t, s) = (ticks.clone(), stop.clone());
    let ticker = runtime::spawn_local(move || {
        while !s.load(Ordering::Acquire) {
            t.fetch_add(1, Ordering::Relaxed);
            thread::sleep(Duration::from_millis(1));
        }
    });
    let mut child = Command::new("cat").stdin(reader).spawn().unwrap();
    let watched = ticks.clone();
    let releaser = std::thread::spawn(move || {
        let advanced = eventually(Flavor::Std, HANG, || watched.load(Ordering::Relaxed) >= 20);
        drop(writer);
        advanced
    });
    assert!(child.wait().unwrap().success());
    stop.store(true, Ordering::Release);
    ticker.join().unwrap();
    assert!(
        releaser.join().unwrap(),
        "the plain thread's hub did not run"
    );
}

/// The parent's pipe ends are non-blocking; the child's ends (its fds 0, 1,
/// 2, other open file descriptions) are not.
#[test]
fn only_the_parents_pipe_ends_are_non_blocking() {
    let mut child = Command::new("sleep")
        .arg("30")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    for fd in [
        child.stdin.as_ref().unwrap().as_fd(),
        child.stdout.as_ref().unwrap().as_fd(),
        child.stderr.as_ref().unwrap().as_fd(),
    ] {
        assert!(green_core::fd::is_nonblocking(fd).unwrap());
    }
    for fd in 0..3 {
        let info = std::fs::read_to_string(format!("/proc/{}/fdinfo/{fd}", child.id())).unwrap();
        let flags = info
            .lines()
            .find_map(|l| l.strip_prefix("flags:"))
            .map(|f| u32::from_str_radix(f.trim(), 8).unwrap())
            .unwrap();
        assert_eq!(
            flags & 0o4000,
            0,
            "the child's fd {fd} is non-blocking: {info}"
        );
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

/// `Child` adopted from std: its pipes become green and its wait parks.
#[test]
fn a_std_child_can_be_adopted() {
    let std_child = std::process::Command::new("sh")
        .args(["-c", "echo adopted"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let out = thread::spawn(move || green::process::Child::from(std_child).wait_with_output())
        .join()
        .unwrap()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(out.stdout, b"adopted\n");
}

/// Writing 1 MiB into the stdin of a child that never reads parks only the
/// writer (a ticker on the same hub keeps advancing); once the child is
/// killed the write fails with `BrokenPipe`, as std's would.
#[test]
fn a_full_child_stdin_parks_only_the_writer() {
    let mut child = Command::new("sleep")
        .arg("30")
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let pid = child.id();
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let (advanced, err) = thread::spawn(move || {
        let ticks = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (t, s) = (ticks.clone(), stop.clone());
        let ticker = runtime::spawn_local(move || {
            while !s.load(Ordering::Acquire) {
                t.fetch_add(1, Ordering::Relaxed);
                thread::sleep(Duration::from_millis(1));
            }
        });
        let watched = ticks.clone();
        let killer = std::thread::spawn(move || {
            let advanced = eventually(Flavor::Std, HANG, || watched.load(Ordering::Relaxed) >= 30);
            // Kill the child from outside (its `Child` is with the test).
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            done_rx.recv().unwrap();
            advanced
        });
        let err = stdin.write_all(&vec![1u8; 1 << 20]).unwrap_err();
        done_tx.send(()).unwrap();
        stop.store(true, Ordering::Release);
        ticker.join().unwrap();
        (killer.join().unwrap(), err)
    })
    .join()
    .unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(child.wait().unwrap().signal(), Some(9));
    assert_eq!(err.kind(), std::io::ErrorKind::BrokenPipe);
    assert!(advanced, "the hub was blocked while the writer waited");
}
