//! Cancelled reads of green's stdin lose no input. A child process reads
//! its stdin under short `timeout`s while this test feeds it piece by
//! piece, each piece only after the child reported that a read timed out
//! with part of a line (or of a `read_exact`, or of `read_to_end`) already
//! taken: the bytes taken go back, those the pool read after its caller
//! left are kept, and every read returns the input in order, once. Run
//! from a green thread and from the child's plain main thread.

use std::io::{BufRead, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use green::io::Read;
use green::rt::{timeout, Elapsed};
use rstest::rstest;

/// How long the parent waits for a line from the child before giving up
/// (a hang, not a timing assertion).
const HANG: Duration = Duration::from_secs(60);

/// The deadline of each read in the child.
const READ_DEADLINE: Duration = Duration::from_millis(30);

fn child_side() -> Option<String> {
    std::env::var("GREEN_CANCEL_STDIN").ok()
}

/// Child: the three phases, reporting each result and each timeout on
/// stderr (`TIMEOUT`), where the parent waits for them.
#[test]
fn stdin_child() {
    let Some(side) = child_side() else {
        return;
    };
    let run = || {
        let stdin = green::io::stdin();
        // Phase 1: lines, each read under a deadline.
        let mut lines = Vec::new();
        while lines.len() < 2 {
            let mut line = String::new();
            match timeout(READ_DEADLINE, || stdin.read_line(&mut line)) {
                Ok(r) => {
                    r.unwrap();
                    lines.push(line);
                }
                Err(Elapsed) => {
                    // The caller's buffer is left as it was.
                    assert!(line.is_empty(), "{line:?}");
                    eprintln!("TIMEOUT");
                }
            }
        }
        eprintln!("LINES {lines:?}");
        // Phase 2: `read_exact` of 6 bytes.
        let mut six = [0u8; 6];
        loop {
            match timeout(READ_DEADLINE, || stdin.lock().read_exact(&mut six)) {
                Ok(r) => break r.unwrap(),
                Err(Elapsed) => eprintln!("TIMEOUT"),
            }
        }
        eprintln!("EXACT {:?}", String::from_utf8_lossy(&six));
        // Phase 3: the rest, to the end.
        let mut rest = String::new();
        loop {
            match timeout(READ_DEADLINE, || stdin.lock().read_to_string(&mut rest)) {
                Ok(r) => {
                    r.unwrap();
                    break;
                }
                Err(Elapsed) => {
                    assert!(rest.is_empty(), "{rest:?}");
                    eprintln!("TIMEOUT");
                }
            }
        }
        eprintln!("REST {rest:?}");
    };
    if side == "green" {
        green::thread::spawn(run).join().unwrap();
    } else {
        run();
    }
    eprintln!("DONE");
}

fn spawn_child(side: &str) -> Child {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "stdin_child", "--nocapture", "--test-threads=1"])
        .env("GREEN_CANCEL_STDIN", side)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    cmd.spawn().unwrap()
}

/// The child's stderr, line by line.
fn stderr_lines(child: &mut Child) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    let err = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(err).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Waits for a line starting with `prefix`, skipping others.
fn expect(lines: &mpsc::Receiver<String>, prefix: &str) -> String {
    let deadline = Instant::now() + HANG;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) if line.starts_with(prefix) => return line,
            Ok(_) => {}
            Err(_) => panic!("the child never printed {prefix:?}"),
        }
    }
}

#[rstest]
#[case::green("green")]
#[case::plain("plain")]
fn cancelled_stdin_reads_lose_no_input(#[case] side: &str) {
    let mut child = spawn_child(side);
    let lines = stderr_lines(&mut child);
    let mut stdin = child.stdin.take().unwrap();
    let mut feed = |bytes: &[u8]| {
        stdin.write_all(bytes).unwrap();
        stdin.flush().unwrap();
    };
    // A whole line and part of the next: the second read times out holding
    // "be", which goes back.
    feed(b"alpha\nbe");
    expect(&lines, "TIMEOUT");
    feed(b"ta\n123");
    assert_eq!(expect(&lines, "LINES "), r#"LINES ["alpha\n", "beta\n"]"#);
    // `read_exact` times out holding "123".
    expect(&lines, "TIMEOUT");
    feed(b"45678");
    assert_eq!(expect(&lines, "EXACT "), r#"EXACT "123456""#);
    // `read_to_end` takes "78", then its pool job waits for the end of
    // input: it times out, "78" goes back, the job keeps waiting and
    // deposits what follows; the next attempt gets it all.
    expect(&lines, "TIMEOUT");
    feed(b"9");
    drop(stdin);
    assert_eq!(expect(&lines, "REST "), r#"REST "789""#);
    expect(&lines, "DONE");
    assert!(child.wait().unwrap().success());
}
