//! What green says on stderr, checked in child processes: the watchdog's
//! report of a green thread that holds its hub (and its silence for a
//! healthy busy server), settings that do not parse, panic output shaped
//! like std's, and the dump signal.

use std::io::{BufRead, BufReader, Write};
use std::time::Duration;

use green_conformance::{run_test_in_child, ChildRun};

const CHILD: &str = "GREEN_TEST_WATCHDOG_CHILD";
const LIMIT: Duration = Duration::from_secs(60);

fn in_child() -> bool {
    std::env::var_os(CHILD).is_some()
}

fn child(test: &str, env: &[(&str, &str)]) -> ChildRun {
    let mut all = vec![(CHILD, "1")];
    all.extend_from_slice(env);
    let run = run_test_in_child(test, &all, LIMIT);
    assert!(
        run.status.is_some_and(|s| s.success()),
        "child {test}: {:?}\nstdout:\n{}\nstderr:\n{}",
        run.status,
        run.stdout,
        run.stderr
    );
    run
}

/// Blocks this OS thread for `dur` through a futex wait (std's mpsc), which
/// neither green nor its `interpose` feature reaches: a green thread
/// calling it holds its hub, with the feature on or off. (With `interpose`,
/// `std::thread::sleep` on a green thread is green and no longer would.)
fn hold_os_thread(dur: Duration) {
    let (_tx, rx) = std::sync::mpsc::channel::<()>();
    let _ = rx.recv_timeout(dur);
}

/// A green thread that blocks its OS thread for 300 ms (a futex wait: it
/// holds its hub) is reported once, by name, with its spawn site.
#[test]
fn the_watchdog_names_a_green_thread_that_holds_its_hub() {
    if in_child() {
        green_core::thread::Builder::new()
            .name("sleepy".into())
            .spawn(|| hold_os_thread(Duration::from_millis(300)))
            .unwrap()
            .join()
            .unwrap();
        return;
    }
    let run = child("the_watchdog_names_a_green_thread_that_holds_its_hub", &[]);
    let reports: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains("has held hub"))
        .collect();
    assert_eq!(reports.len(), 1, "one line per episode:\n{}", run.stderr);
    let line = reports[0];
    assert!(line.contains("'sleepy'"), "{line}");
    assert!(
        line.contains("tests/tests/watchdog.rs:"),
        "spawn site: {line}"
    );
    assert!(line.contains(" ms so far without switching"), "{line}");
}

/// `GREEN_BLOCKED_MS=0` turns the report off.
#[test]
fn the_watchdog_can_be_turned_off() {
    if in_child() {
        green_core::thread::spawn(|| hold_os_thread(Duration::from_millis(300)))
            .join()
            .unwrap();
        return;
    }
    let run = child(
        "the_watchdog_can_be_turned_off",
        &[("GREEN_BLOCKED_MS", "0")],
    );
    assert!(!run.stderr.contains("has held hub"), "{}", run.stderr);
}

/// A busy but healthy server (a green echo server and green clients making
/// round trips for about a second) gets no report.
#[test]
fn a_healthy_busy_server_gets_no_report() {
    if in_child() {
        let listener = green_net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        green_core::thread::spawn(move || {
            for stream in listener.incoming() {
                let stream = stream.unwrap();
                green_core::thread::spawn(move || {
                    let mut reader = BufReader::new(&stream);
                    let mut line = String::new();
                    while reader.read_line(&mut line).unwrap_or(0) > 0 {
                        (&stream).write_all(line.as_bytes()).unwrap();
                        line.clear();
                    }
                });
            }
        });
        let start = std::time::Instant::now();
        let clients: Vec<_> = (0..50)
            .map(|_| {
                green_core::thread::spawn(move || {
                    let stream = green_net::TcpStream::connect(addr).unwrap();
                    let mut reader = BufReader::new(&stream);
                    let mut line = String::new();
                    let mut trips = 0;
                    while start.elapsed() < Duration::from_secs(1) {
                        (&stream).write_all(b"ping\n").unwrap();
                        line.clear();
                        reader.read_line(&mut line).unwrap();
                        assert_eq!(line, "ping\n");
                        trips += 1;
                    }
                    trips
                })
            })
            .collect();
        let trips: usize = clients.into_iter().map(|c| c.join().unwrap()).sum();
        assert!(trips > 1000, "only {trips} round trips");
        return;
    }
    let run = child("a_healthy_busy_server_gets_no_report", &[]);
    assert!(!run.stderr.contains("has held hub"), "{}", run.stderr);
}

/// Bad settings are reported once each, naming the variable, the value and
/// the default used; green keeps working.
#[test]
fn settings_that_do_not_parse_say_so() {
    if in_child() {
        assert_eq!(
            green_core::runtime::workers(),
            std::thread::available_parallelism().map_or(1, usize::from)
        );
        assert_eq!(
            green_core::runtime::default_stack_size(),
            green_core::runtime::DEFAULT_STACK_SIZE
        );
        assert_eq!(green_core::runtime::blocking_threads(), 512);
        assert_eq!(green_core::thread::spawn(|| 4).join().unwrap(), 4);
        return;
    }
    let run = child(
        "settings_that_do_not_parse_say_so",
        &[
            ("GREEN_WORKERS", "abc"),
            ("GREEN_STACK_SIZE", "64kb"),
            ("GREEN_BLOCKING_THREADS", "0"),
        ],
    );
    for (var, value) in [
        ("GREEN_WORKERS", "abc"),
        ("GREEN_STACK_SIZE", "64kb"),
        ("GREEN_BLOCKING_THREADS", "0"),
    ] {
        let lines: Vec<&str> = run
            .stderr
            .lines()
            .filter(|l| l.contains(&format!("ignoring {var}=")))
            .collect();
        assert_eq!(lines.len(), 1, "{var}: one line\n{}", run.stderr);
        assert!(lines[0].contains(value) && lines[0].contains("using the default"));
    }
}

fn panicking_green_threads() {
    for _ in 0..2 {
        let _ = green_core::thread::Builder::new()
            .name("panicky".into())
            .spawn(|| panic!("boom"))
            .unwrap()
            .join();
    }
    let _ = green_core::thread::Builder::new()
        .name("offloader".into())
        .spawn(|| green_core::unblock(|| panic!("boom in the pool")))
        .unwrap()
        .join();
}

/// Without backtraces, std's hint appears once per process, not per panic,
/// and a panic inside `unblock(f)` names the green thread that called it.
#[test]
fn panics_print_like_std() {
    if in_child() {
        panicking_green_threads();
        return;
    }
    let run = child("panics_print_like_std", &[("RUST_BACKTRACE", "0")]);
    let e = &run.stderr;
    assert_eq!(
        e.matches("thread 'panicky' (green) panicked at").count(),
        2,
        "{e}"
    );
    assert_eq!(e.matches("RUST_BACKTRACE=1").count(), 1, "{e}");
    assert!(
        e.contains("thread 'offloader' (in unblock) panicked at"),
        "{e}"
    );
    assert!(!e.contains("green-blocking"), "{e}");
}

/// With `RUST_BACKTRACE=1`, a green panic's backtrace starts at the panic
/// and stops at the thread's closure: green's hook frames and its plumbing
/// below the closure are left out, as std leaves out its own.
#[test]
fn panic_backtraces_are_short_like_std() {
    if in_child() {
        panicking_green_threads();
        return;
    }
    let run = child(
        "panic_backtraces_are_short_like_std",
        &[("RUST_BACKTRACE", "1")],
    );
    let e = &run.stderr;
    assert!(e.contains("stack backtrace:"), "{e}");
    assert!(e.contains("RUST_BACKTRACE=full"), "{e}");
    assert!(
        e.contains("panicking_green_threads"),
        "the user's frames: {e}"
    );
    for hidden in [
        "green_core::panic_hook",
        "corosensei",
        "green_core::hub",
        "std::backtrace::Backtrace::capture",
    ] {
        assert!(!e.contains(hidden), "{hidden} shows:\n{e}");
    }
}

/// `GREEN_DUMP_SIGNAL=USR1`: the signal prints a dump on stderr.
#[test]
fn the_dump_signal_prints_a_dump() {
    if in_child() {
        let h = green_core::thread::Builder::new()
            .name("dumped".into())
            .spawn(|| green_core::thread::sleep(Duration::from_secs(5)))
            .unwrap();
        // Make sure it runs (and the monitor with it), then signal ourselves.
        std::thread::sleep(Duration::from_millis(100));
        let pid = std::process::id().to_string();
        let status = std::process::Command::new("kill")
            .args(["-USR1", &pid])
            .status()
            .unwrap();
        assert!(status.success());
        std::thread::sleep(Duration::from_millis(500));
        drop(h);
        return;
    }
    let run = child(
        "the_dump_signal_prints_a_dump",
        &[("GREEN_DUMP_SIGNAL", "USR1")],
    );
    assert!(run.stderr.contains("green thread dump:"), "{}", run.stderr);
    assert!(
        run.stderr
            .lines()
            .any(|l| l.contains("'dumped'") && l.contains("sleeping")),
        "{}",
        run.stderr
    );
}
