//! The standard streams: `stdin`, `stdout`, `stderr` and their locks.
//!
//! The in-process scenarios compare std and green (Debug, locks,
//! reentrancy, writes, `IsTerminal`, the fds). The rest re-run this test
//! binary as a child whose standard streams are pipes, each child test
//! gated by `GREEN_IO_CHILD`:
//!
//! * stdin: the child's green threads keep running while one of them waits
//!   in `read_line`; `read_line`, `read_until`, `lines` and invalid UTF-8
//!   behave as std's (the same input through std's and green's stdin);
//! * stdout: a child whose stdout pipe nobody reads keeps its other green
//!   threads running while a writer is blocked, and delivers every byte;
//! * ordering: `println!` and green's `stdout()` come out in program order,
//!   and a green `StdoutLock` keeps other green writers out;
//! * none of it changes the `O_NONBLOCK` flag of fds 0, 1 and 2.

use std::io::{BufRead, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use green::rt::runtime;
use green::thread;

const HANG: Duration = Duration::from_secs(60);

green_conformance::std_and_green! {
    std: { use std::io::{self, stdin, stdout, stderr, Write}; }
    green: { use green::io::{self, stdin, stdout, stderr, Write}; }

    fn debug_output_is_std_s(flavor) {
        assert_eq!(format!("{:?}", stdin()), "Stdin { .. }");
        assert_eq!(format!("{:?}", stdin().lock()), "StdinLock { .. }");
        assert_eq!(format!("{:?}", stdout()), "Stdout { .. }");
        assert_eq!(format!("{:?}", stdout().lock()), "StdoutLock { .. }");
        assert_eq!(format!("{:?}", stderr()), "Stderr { .. }");
        assert_eq!(format!("{:?}", stderr().lock()), "StderrLock { .. }");
    }

    fn handles_name_fds_0_1_2(flavor) {
        assert_eq!(stdin().as_raw_fd(), 0);
        assert_eq!(stdin().lock().as_fd().as_raw_fd(), 0);
        assert_eq!(stdout().as_raw_fd(), 1);
        assert_eq!(stdout().lock().as_raw_fd(), 1);
        assert_eq!(stderr().as_fd().as_raw_fd(), 2);
        assert_eq!(stderr().lock().as_raw_fd(), 2);
    }

    fn writes_and_reentrant_locks(flavor) {
        // stderr: the test harness does not capture it in a way that fails.
        let mut err = stderr();
        err.write_all(b"").unwrap();
        writeln!(err, "io_stdio: a line on stderr").unwrap();
        (&err).write_all(b"").unwrap();
        err.flush().unwrap();
        let mut held = err.lock();
        // The lock is reentrant: the same thread may write through another
        // handle (or lock again) while holding it.
        writeln!(stderr(), "io_stdio: written while locked").unwrap();
        let mut again = stderr().lock();
        again.write_all(b"").unwrap();
        drop(again);
        held.write_all(b"").unwrap();
        held.flush().unwrap();
        drop(held);
        let mut out = stdout().lock();
        out.write_all(b"").unwrap();
        out.flush().unwrap();
        let n = stdout().write(b"").unwrap();
        assert_eq!(n, 0);
    }

    fn locks_are_static(flavor) {
        fn take() -> (io::StdinLock<'static>, io::StdoutLock<'static>, io::StderrLock<'static>) {
            (stdin().lock(), stdout().lock(), stderr().lock())
        }
        let (i, o, e) = take();
        drop((i, o, e));
    }

    fn streams_convert_into_stdio(flavor) {
        let status = std::process::Command::new("true")
            .stdout(stdout())
            .stderr(stderr())
            .status()
            .unwrap();
        assert!(status.success());
    }
}

/// The items green-io does not mirror are std's own, and the usual import
/// line compiles unchanged over green's readers and writers.
#[test]
fn the_rest_of_std_io_is_std_s_own() {
    use green::io::{self, BufRead, BufReader, Read, Write};
    let kind: std::io::ErrorKind = io::ErrorKind::NotFound;
    let err: std::io::Error = io::Error::new(kind, "x");
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    let _: io::Result<()> = std::io::Result::Ok(());
    let mut cursor: std::io::Cursor<Vec<u8>> = io::Cursor::new(Vec::new());
    let (r, mut w) = io::pipe().unwrap();
    let writer = thread::spawn(move || {
        io::copy(&mut io::repeat(b'z').take(10_000), &mut w).unwrap();
        writeln!(w).unwrap();
    });
    let mut lines = BufReader::new(r).lines();
    let line = lines.next().unwrap().unwrap();
    writer.join().unwrap();
    assert_eq!(line.len(), 10_000);
    assert!(lines.next().is_none());
    io::copy(&mut io::empty(), &mut cursor).unwrap();
    assert_eq!(io::sink().write(b"abc").unwrap(), 3);
    let mut s = String::new();
    io::repeat(b'a').take(3).read_to_string(&mut s).unwrap();
    assert_eq!(s, "aaa");
    assert_eq!(io::read_to_string(io::Cursor::new("text")).unwrap(), "text");
    fn prelude_has_the_traits<T: io::prelude::Read + io::prelude::Write + io::prelude::Seek>() {}
    prelude_has_the_traits::<std::fs::File>();
}

#[test]
fn handles_are_send_and_sync_like_std() {
    green_conformance::assert_send_sync::<green::io::Stdin>();
    green_conformance::assert_send_sync::<green::io::Stdout>();
    green_conformance::assert_send_sync::<green::io::Stderr>();
}

/// green's `IsTerminal` answers what std's does, for green and std handles.
#[test]
fn is_terminal_matches_std() {
    use green::io::IsTerminal as _;
    let std_answers = [
        std::io::IsTerminal::is_terminal(&std::io::stdin()),
        std::io::IsTerminal::is_terminal(&std::io::stdout()),
        std::io::IsTerminal::is_terminal(&std::io::stderr()),
    ];
    let green_answers = [
        green::io::stdin().is_terminal(),
        green::io::stdout().is_terminal(),
        green::io::stderr().is_terminal(),
    ];
    assert_eq!(std_answers, green_answers);
    assert_eq!(std::io::stdout().is_terminal(), std_answers[1]);
    let (r, _w) = green::io::pipe().unwrap();
    assert!(!r.is_terminal());
}

/// The `O_NONBLOCK` flags of fds 0, 1 and 2.
fn std_fd_flags() -> [bool; 3] {
    [0, 1, 2].map(|fd| {
        // SAFETY: fds 0-2 stay open for the life of the test process.
        let fd = unsafe { BorrowedFd::borrow_raw(fd) };
        green_core::fd::is_nonblocking(fd).unwrap()
    })
}

/// Whether this process is the child run of test `name`.
fn child_of(name: &str) -> bool {
    std::env::var("GREEN_IO_CHILD").as_deref() == Ok(name)
}

/// Re-runs this test binary as a child running only test `name`, with
/// stdin, stdout and stderr piped.
fn spawn_child(name: &str, env: &[(&str, &str)]) -> Child {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env("GREEN_IO_CHILD", name)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.spawn().unwrap()
}

/// Forwards the child's stderr lines to a channel (and this test's stderr).
fn stderr_lines(child: &mut Child) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    let err = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(err).lines() {
            let Ok(line) = line else { break };
            eprintln!("child: {line}");
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Waits for a stderr line starting with `prefix`; `None` after [`HANG`] or
/// when the child closes stderr first.
fn expect_line(lines: &mpsc::Receiver<String>, prefix: &str) -> Option<String> {
    let deadline = std::time::Instant::now() + HANG;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) if line.starts_with(prefix) => return Some(line),
            Ok(_) => {}
            Err(_) => return None,
        }
    }
}

/// A ticker on the current hub; returns its count and stop flag.
fn local_ticker() -> (Arc<AtomicUsize>, Arc<AtomicBool>, thread::JoinHandle<()>) {
    let ticks = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let (t, s) = (ticks.clone(), stop.clone());
    let h = runtime::spawn_local(move || {
        while !s.load(Ordering::Acquire) {
            t.fetch_add(1, Ordering::Relaxed);
            thread::sleep(Duration::from_millis(1));
        }
    });
    (ticks, stop, h)
}

/// Child: one green thread waits in `read_line` on green's stdin while a
/// ticker and a prober on the same hub keep running; the prober reports
/// `TICKED` once the ticker advanced during the wait.
#[test]
fn stdin_wait_child() {
    if !child_of("stdin_wait_child") {
        return;
    }
    let flags = std_fd_flags();
    thread::spawn(move || {
        let (ticks, stop, ticker) = local_ticker();
        let waiting = Arc::new(AtomicBool::new(false));
        let w = waiting.clone();
        let reader = runtime::spawn_local(move || {
            let mut line = String::new();
            eprintln!("WAITING");
            w.store(true, Ordering::Release);
            green::io::stdin().read_line(&mut line).unwrap();
            let rest: Vec<String> = green::io::stdin().lines().map(|l| l.unwrap()).collect();
            (line, rest)
        });
        while !waiting.load(Ordering::Acquire) {
            thread::sleep(Duration::from_millis(1));
        }
        let before = ticks.load(Ordering::Relaxed);
        while ticks.load(Ordering::Relaxed) < before + 50 {
            thread::sleep(Duration::from_millis(1));
        }
        eprintln!("TICKED");
        let (line, rest) = reader.join().unwrap();
        stop.store(true, Ordering::Release);
        ticker.join().unwrap();
        eprintln!("LINE {line:?}");
        eprintln!("REST {rest:?}");
    })
    .join()
    .unwrap();
    assert_eq!(std_fd_flags(), flags, "fd flags changed");
    eprintln!("FLAGS-UNCHANGED");
}

#[test]
fn stdin_read_line_keeps_the_childs_green_threads_running() {
    let mut child = spawn_child("stdin_wait_child", &[]);
    let lines = stderr_lines(&mut child);
    let mut stdin = child.stdin.take().unwrap();
    let waiting = expect_line(&lines, "WAITING");
    let ticked = waiting.is_some() && expect_line(&lines, "TICKED").is_some();
    // Feed the input whatever happened, so the child can finish.
    let _ = stdin.write_all(b"hello world\nsecond\r\nthird");
    drop(stdin);
    let line = expect_line(&lines, "LINE ");
    let rest = expect_line(&lines, "REST ");
    let flags = expect_line(&lines, "FLAGS-UNCHANGED");
    let status = child.wait().unwrap();
    assert!(ticked, "the child's hub stalled while read_line waited");
    assert_eq!(line.as_deref(), Some(r#"LINE "hello world\n""#));
    assert_eq!(rest.as_deref(), Some(r#"REST ["second", "third"]"#));
    assert!(flags.is_some(), "fd 0/1/2 flags changed");
    assert!(status.success(), "{status:?}");
}

/// Child: reads stdin with `read_line`, `lock().read_until`, an invalid
/// UTF-8 `read_line`, `read_exact`, `lines()`, `read_to_string` — through
/// std's stdin, green's from the plain main thread, or green's inside a
/// green thread (`GREEN_IO_SIDE`) — and reports each result.
#[test]
fn stdin_semantics_child() {
    if !child_of("stdin_semantics_child") {
        return;
    }
    let side = std::env::var("GREEN_IO_SIDE").unwrap_or_default();
    let green_side = side != "std";
    let run = move || {
        let mut report = Vec::new();
        macro_rules! scenario {
            ($stdin:path) => {{
                let mut line = String::from("kept:");
                report.push(format!(
                    "{:?}",
                    $stdin().read_line(&mut line).map(|n| (n, line.clone()))
                ));
                let mut bytes = Vec::new();
                report.push(format!(
                    "{:?}",
                    $stdin()
                        .lock()
                        .read_until(b'\n', &mut bytes)
                        .map(|n| (n, bytes))
                ));
                let mut bad = String::from("kept:");
                let r = $stdin().read_line(&mut bad);
                report.push(format!("{:?} {bad:?}", r.map_err(|e| e.kind())));
                let mut four = [0u8; 4];
                report.push(format!(
                    "{:?}",
                    $stdin().lock().read_exact(&mut four).map(|_| four)
                ));
                let rest: Vec<_> = $stdin().lines().map(|l| l.map_err(|e| e.kind())).collect();
                report.push(format!("{rest:?}"));
                let mut tail = String::new();
                report.push(format!("{:?}", $stdin().read_to_string(&mut tail)));
            }};
        }
        if green_side {
            scenario!(green::io::stdin);
        } else {
            scenario!(std::io::stdin);
        }
        report
    };
    let report = if side == "green_in_green" {
        thread::spawn(run).join().unwrap()
    } else {
        run()
    };
    for line in report {
        eprintln!("REPORT {line}");
    }
    eprintln!("END");
}

#[test]
fn stdin_semantics_match_std() {
    let input: &[u8] = b"first\nsecond\r\n\xff\xfe\nabcdthird\nfourth";
    let run = |side: &str| {
        let mut child = spawn_child("stdin_semantics_child", &[("GREEN_IO_SIDE", side)]);
        let lines = stderr_lines(&mut child);
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(input).unwrap();
        drop(stdin);
        let mut report = Vec::new();
        while let Some(line) = expect_line(&lines, "") {
            if line == "END" {
                break;
            }
            if let Some(r) = line.strip_prefix("REPORT ") {
                report.push(r.to_owned());
            }
        }
        assert!(child.wait().unwrap().success());
        report
    };
    let std_report = run("std");
    assert_eq!(std_report.len(), 6, "std report: {std_report:?}");
    for side in ["green_plain", "green_in_green"] {
        assert_eq!(run(side), std_report, "{side} differs from std");
    }
    assert_eq!(std_report[0], r#"Ok((6, "kept:first\n"))"#);
    assert!(
        std_report[2].starts_with("Err(InvalidData)"),
        "{}",
        std_report[2]
    );
}

/// Child: a green writer pushes 1 MiB into a stdout pipe the parent does
/// not read yet; a ticker and a prober on the same hub keep running and the
/// prober reports `TICKED-WHILE-BLOCKED` with the writer still blocked.
#[test]
fn stdout_blocked_child() {
    if !child_of("stdout_blocked_child") {
        return;
    }
    let flags = std_fd_flags();
    thread::spawn(|| {
        let (ticks, stop, ticker) = local_ticker();
        let done = Arc::new(AtomicBool::new(false));
        let d = done.clone();
        let writer = runtime::spawn_local(move || {
            let mut out = green::io::stdout();
            out.write_all(b"PAYLOAD[").unwrap();
            out.write_all(&vec![b'x'; 1 << 20]).unwrap();
            out.write_all(b"]\n").unwrap();
            out.flush().unwrap();
            d.store(true, Ordering::Release);
        });
        let before = ticks.load(Ordering::Relaxed);
        while ticks.load(Ordering::Relaxed) < before + 50 {
            thread::sleep(Duration::from_millis(1));
        }
        eprintln!("TICKED-WHILE-BLOCKED done={}", done.load(Ordering::Acquire));
        writer.join().unwrap();
        stop.store(true, Ordering::Release);
        ticker.join().unwrap();
    })
    .join()
    .unwrap();
    assert_eq!(std_fd_flags(), flags, "fd flags changed");
    eprintln!("FLAGS-UNCHANGED");
}

#[test]
fn a_full_stdout_keeps_the_childs_green_threads_running() {
    let mut child = spawn_child("stdout_blocked_child", &[]);
    let lines = stderr_lines(&mut child);
    let ticked = expect_line(&lines, "TICKED-WHILE-BLOCKED");
    // Now read stdout: every byte must arrive.
    let mut out = Vec::new();
    child.stdout.take().unwrap().read_to_end(&mut out).unwrap();
    let flags = expect_line(&lines, "FLAGS-UNCHANGED");
    let status = child.wait().unwrap();
    assert_eq!(
        ticked.as_deref(),
        Some("TICKED-WHILE-BLOCKED done=false"),
        "the child's hub stalled behind a blocked stdout writer"
    );
    let text = String::from_utf8_lossy(&out);
    let start = text.find("PAYLOAD[").expect("payload start");
    let payload = &text[start + 8..];
    let end = payload.find(']').expect("payload end");
    assert_eq!(end, 1 << 20);
    assert!(payload[..end].bytes().all(|b| b == b'x'));
    assert!(flags.is_some(), "fd 0/1/2 flags changed");
    assert!(status.success(), "{status:?}");
}

/// Child: `println!` and green's `stdout()` interleaved from one green
/// thread (whole lines and pieces of one line), then green threads that
/// each write one line in three pieces under a `StdoutLock`.
#[test]
fn ordering_child() {
    if !child_of("ordering_child") {
        return;
    }
    thread::spawn(|| {
        let mut out = green::io::stdout();
        for i in 0..50 {
            if i % 2 == 0 {
                println!("ORDER {i}");
            } else {
                writeln!(out, "ORDER {i}").unwrap();
            }
            print!("MIXED {i} a");
            write!(out, " b").unwrap();
            println!(" c");
        }
        let handles: Vec<_> = (0..8)
            .map(|t| {
                runtime::spawn_local(move || {
                    let mut l = green::io::stdout().lock();
                    write!(l, "LOCKED {t}").unwrap();
                    thread::yield_now();
                    write!(l, " {t}").unwrap();
                    thread::sleep(Duration::from_millis(1));
                    writeln!(l, " {t}").unwrap();
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        out.flush().unwrap();
    })
    .join()
    .unwrap();
}

#[test]
fn green_stdout_and_println_keep_program_order() {
    let mut child = spawn_child("ordering_child", &[]);
    drop(child.stdin.take());
    let _lines = stderr_lines(&mut child);
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert!(child.wait().unwrap().success());
    // libtest's own lines surround ours; "test x ... " may prefix the first.
    let ours: Vec<&str> = out
        .lines()
        .filter_map(|l| {
            ["ORDER ", "MIXED ", "LOCKED "]
                .iter()
                .filter_map(|p| l.find(p))
                .min()
                .map(|at| &l[at..])
        })
        .collect();
    let mut expected = Vec::new();
    for i in 0..50 {
        expected.push(format!("ORDER {i}"));
        expected.push(format!("MIXED {i} a b c"));
    }
    assert_eq!(ours[..100], expected[..], "output: {out}");
    let mut locked: Vec<&str> = ours[100..].to_vec();
    locked.sort_unstable();
    let mut want: Vec<String> = (0..8).map(|t| format!("LOCKED {t} {t} {t}")).collect();
    want.sort_unstable();
    assert_eq!(locked, want, "a StdoutLock let another writer in: {out}");
}
