//! `process`: `Command`, `Child`, `ChildStdin`/`ChildStdout`/`ChildStderr`
//! and the re-exported std items — the same scenarios on `std::process`, on
//! `green::process` from a plain thread and on `green::process` inside a
//! green thread, with the same assertions, errors included (a missing
//! program, NUL bytes, a child killed by a signal).

use std::ffi::OsStr;
use std::io::{self, ErrorKind};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;

fn kind<T: std::fmt::Debug>(r: io::Result<T>) -> ErrorKind {
    r.expect_err("expected an error").kind()
}

green_conformance::std_and_green! {
    std: { use std::process::{Command, Stdio, ChildStdout, ChildStdin}; use std::io::{Read, Write}; }
    green: { use green::process::{Command, Stdio, ChildStdout, ChildStdin}; use green::io::{Read, Write}; }

    fn output_captures_status_stdout_and_stderr(flavor) {
        let out = Command::new("sh")
            .args(["-c", "echo out; echo err >&2; exit 3"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(3));
        assert!(!out.status.success());
        assert_eq!(out.stdout, b"out\n");
        assert_eq!(out.stderr, b"err\n");
    }

    fn output_gives_the_child_an_empty_stdin(flavor) {
        // `cat` reading /dev/null ends at once.
        let out = Command::new("cat").output().unwrap();
        assert!(out.status.success());
        assert!(out.stdout.is_empty());
    }

    fn output_uses_the_streams_that_were_set(flavor) {
        let out = Command::new("sh")
            .args(["-c", "echo out; echo err >&2"])
            .stdout(Stdio::null())
            .output()
            .unwrap();
        assert!(out.status.success());
        assert!(out.stdout.is_empty());
        assert_eq!(out.stderr, b"err\n");
    }

    fn output_leaves_spawn_defaults_alone(flavor) {
        let mut cmd = Command::new("true");
        assert!(cmd.output().unwrap().status.success());
        // spawn's defaults are still "inherit": nothing piped.
        let mut child = cmd.spawn().unwrap();
        assert!(child.stdin.is_none() && child.stdout.is_none() && child.stderr.is_none());
        assert!(child.wait().unwrap().success());
        assert!(cmd.status().unwrap().success());
    }

    fn status_reports_exit_codes(flavor) {
        assert!(Command::new("true").status().unwrap().success());
        let failed = Command::new("false").status().unwrap();
        assert_eq!(failed.code(), Some(1));
        assert_eq!(Command::new("sh").args(["-c", "exit 42"]).status().unwrap().code(), Some(42));
    }

    fn a_missing_program_is_not_found(flavor) {
        let mut cmd = Command::new("/nonexistent/green-no-such-program");
        assert_eq!(kind(cmd.spawn()), ErrorKind::NotFound);
        assert_eq!(kind(cmd.output()), ErrorKind::NotFound);
        assert_eq!(kind(cmd.status()), ErrorKind::NotFound);
        assert_eq!(kind(Command::new("green-no-such-program-on-path").status()), ErrorKind::NotFound);
    }

    fn a_directory_is_permission_denied(flavor) {
        assert_eq!(kind(Command::new("/").status()), ErrorKind::PermissionDenied);
    }

    fn nul_bytes_are_invalid_input(flavor) {
        assert_eq!(kind(Command::new("tr\0ue").status()), ErrorKind::InvalidInput);
        assert_eq!(kind(Command::new("true").arg("a\0b").status()), ErrorKind::InvalidInput);
        assert_eq!(kind(Command::new("true").current_dir("/t\0mp").status()), ErrorKind::InvalidInput);
        assert_eq!(kind(Command::new("true").env("K\0EY", "v").status()), ErrorKind::InvalidInput);
        assert_eq!(kind(Command::new("true").env("KEY", "v\0").status()), ErrorKind::InvalidInput);
        assert_eq!(kind(Command::new("true").arg("a\0b").output()), ErrorKind::InvalidInput);
        assert_eq!(kind(Command::new("true").arg("a\0b").spawn()), ErrorKind::InvalidInput);
    }

    fn a_missing_directory_is_not_found(flavor) {
        assert_eq!(
            kind(Command::new("true").current_dir("/nonexistent/green-dir").status()),
            ErrorKind::NotFound
        );
    }

    fn a_signal_is_reported_through_exit_status_ext(flavor) {
        let status = Command::new("sh").args(["-c", "kill -KILL $$"]).status().unwrap();
        assert_eq!(status.signal(), Some(9));
        assert_eq!(status.code(), None);
        assert!(!status.success());
        let out = Command::new("sh").args(["-c", "kill -TERM $$"]).output().unwrap();
        assert_eq!(out.status.signal(), Some(15));
        assert!(!out.status.core_dumped());
    }

    fn environment_and_directory(flavor) {
        let out = Command::new("sh")
            .args(["-c", "echo \"$GREEN_A|$GREEN_B|$GREEN_C|$HOME\"; pwd"])
            .env("GREEN_A", "1")
            .envs([("GREEN_B", "2"), ("GREEN_C", "3")])
            .env_remove("HOME")
            .current_dir("/")
            .output()
            .unwrap();
        assert_eq!(String::from_utf8(out.stdout).unwrap(), "1|2|3|\n/\n");
        let out = Command::new("/usr/bin/env")
            .env_clear()
            .env("ONLY", "this")
            .output()
            .unwrap();
        assert_eq!(out.stdout, b"ONLY=this\n");
    }

    fn getters_report_the_configuration(flavor) {
        let mut cmd = Command::new("echo");
        cmd.arg("a").args(["b", "c"]).env("K", "v").env_remove("R").current_dir("/tmp");
        assert_eq!(cmd.get_program(), "echo");
        let args: Vec<&OsStr> = cmd.get_args().collect();
        assert_eq!(args, ["a", "b", "c"]);
        let envs: Vec<(&OsStr, Option<&OsStr>)> = cmd.get_envs().collect();
        assert_eq!(envs, [(OsStr::new("K"), Some(OsStr::new("v"))), (OsStr::new("R"), None)]);
        assert_eq!(cmd.get_current_dir(), Some(Path::new("/tmp")));
        assert_eq!(cmd.get_args().len(), 3);
    }

    fn debug_output(flavor) {
        let mut cmd = Command::new("echo");
        cmd.arg("a b").env("K", "v");
        assert_eq!(format!("{cmd:?}"), r#"K="v" "echo" "a b""#);
        let mut child = Command::new("cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        assert_eq!(
            format!("{child:?}"),
            "Child { stdin: Some(ChildStdin { .. }), stdout: Some(ChildStdout { .. }), stderr: None, .. }"
        );
        drop(child.stdin.take());
        assert!(child.wait().unwrap().success());
        assert_eq!(format!("{child:?}"), "Child { stdin: None, stdout: Some(ChildStdout { .. }), stderr: None, .. }");
    }

    fn piped_stdin_and_stdout_round_trip(flavor) {
        let mut child = Command::new("cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"hello ").unwrap();
        (&stdin).write_all(b"world").unwrap();
        stdin.flush().unwrap();
        drop(stdin);
        let mut text = String::new();
        child.stdout.as_mut().unwrap().read_to_string(&mut text).unwrap();
        assert_eq!(text, "hello world");
        assert!(child.wait().unwrap().success());
    }

    fn wait_closes_stdin_first(flavor) {
        // `cat` exits only when its stdin closes: `wait` must close it.
        let mut child = Command::new("cat").stdin(Stdio::piped()).spawn().unwrap();
        assert!(child.wait().unwrap().success());
        assert!(child.stdin.is_none());
    }

    fn wait_twice_try_wait_and_kill_after_reaping(flavor) {
        let mut child = Command::new("sh").args(["-c", "exit 7"]).spawn().unwrap();
        let first = child.wait().unwrap();
        assert_eq!(first.code(), Some(7));
        assert_eq!(child.wait().unwrap(), first);
        assert_eq!(child.try_wait().unwrap(), Some(first));
        // std: killing a reaped child is Ok and sends nothing.
        child.kill().unwrap();
        child.kill().unwrap();
        assert_eq!(child.wait().unwrap(), first);
    }

    fn kill_a_running_child(flavor) {
        let mut child = Command::new("sleep").arg("30").spawn().unwrap();
        assert!(child.id() > 0);
        assert_eq!(child.try_wait().unwrap(), None);
        child.kill().unwrap();
        let status = child.wait().unwrap();
        assert_eq!(status.signal(), Some(9));
        assert_eq!(child.try_wait().unwrap(), Some(status));
    }

    fn kill_an_exited_unreaped_child(flavor) {
        let mut child = Command::new("true").spawn().unwrap();
        // Let it exit (it stays a zombie until reaped).
        let start = std::time::Instant::now();
        while std::fs::read_to_string(format!("/proc/{}/stat", child.id()))
            .map(|s| !s.contains(") Z "))
            .unwrap_or(false)
            && start.elapsed() < std::time::Duration::from_secs(10)
        {
            flavor.sleep(std::time::Duration::from_millis(1));
        }
        child.kill().unwrap();
        assert!(child.wait().unwrap().success());
    }

    fn wait_with_output_collects_both_streams(flavor) {
        let child = Command::new("sh")
            .args(["-c", "read x; echo \"got $x\"; echo e >&2"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut child = child;
        writeln!(child.stdin.as_mut().unwrap(), "line").unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        assert_eq!(out.stdout, b"got line\n");
        assert_eq!(out.stderr, b"e\n");
        // Only stdout piped: stderr comes back empty.
        let out = Command::new("sh")
            .args(["-c", "echo o; echo e >&2"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
            .wait_with_output()
            .unwrap();
        assert_eq!((out.stdout.as_slice(), out.stderr.as_slice()), (&b"o\n"[..], &b""[..]));
        // Nothing piped.
        let out = Command::new("true").spawn().unwrap().wait_with_output().unwrap();
        assert!(out.status.success() && out.stdout.is_empty() && out.stderr.is_empty());
    }

    fn child_stdout_into_another_childs_stdin(flavor) {
        let mut first = Command::new("echo")
            .arg("hello pipeline")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let out = Command::new("tr")
            .args(["a-z", "A-Z"])
            .stdin(first.stdout.take().unwrap())
            .output()
            .unwrap();
        assert!(first.wait().unwrap().success());
        assert_eq!(out.stdout, b"HELLO PIPELINE\n");
    }

    fn child_stderr_into_stdio(flavor) {
        let mut first = Command::new("sh")
            .args(["-c", "echo to-stderr >&2"])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let out = Command::new("cat").stdin(first.stderr.take().unwrap()).output().unwrap();
        assert!(first.wait().unwrap().success());
        assert_eq!(out.stdout, b"to-stderr\n");
    }

    fn pipe_handles_convert_to_owned_fds_in_blocking_mode(flavor) {
        let mut child = Command::new("sh")
            .args(["-c", "cat; echo done"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        assert!(stdout.as_raw_fd() > 2);
        let stdin_fd: OwnedFd = child.stdin.take().unwrap().into();
        assert!(!green_core::fd::is_nonblocking(stdin_fd.as_fd()).unwrap());
        let back = ChildStdin::from(stdin_fd);
        drop(back);
        let fd: OwnedFd = stdout.into();
        assert!(!green_core::fd::is_nonblocking(fd.as_fd()).unwrap());
        let mut text = String::new();
        ChildStdout::from(fd).read_to_string(&mut text).unwrap();
        assert_eq!(text, "done\n");
        assert!(child.wait().unwrap().success());
    }

    fn std_items_are_std_s_own(flavor) {
        use std::process as sp;
        let _: fn(i32) -> ! = green::process::exit;
        let _: fn() -> ! = green::process::abort;
        assert_eq!(green::process::id(), sp::id());
        let code: sp::ExitCode = green::process::ExitCode::from(3);
        assert_eq!(format!("{code:?}"), format!("{:?}", sp::ExitCode::from(3)));
        let status: sp::ExitStatus = green::process::ExitStatus::from_raw(0);
        assert!(status.success());
        let _: Option<sp::Output> = None::<green::process::Output>;
        let _: sp::Stdio = green::process::Stdio::null();
        fn term<T: sp::Termination>(_: T) {}
        term(green::process::ExitCode::SUCCESS);
        fn is_green_termination<T: green::process::Termination>(_: T) {}
        is_green_termination(());
    }
}

/// `Command`, `Child` and the pipe handles are `Send` and `Sync`, as std's.
#[test]
fn types_are_send_and_sync_like_std() {
    use green_conformance::assert_send_sync;
    assert_send_sync::<std::process::Command>();
    assert_send_sync::<green::process::Command>();
    assert_send_sync::<std::process::Child>();
    assert_send_sync::<green::process::Child>();
    assert_send_sync::<green::process::ChildStdin>();
    assert_send_sync::<green::process::ChildStdout>();
    assert_send_sync::<green::process::ChildStderr>();
}

/// `{:#?}` of a fresh command and `{:?}` of a configured one match std's
/// exactly (the inner builder is std's).
#[test]
fn command_debug_matches_std() {
    fn both(f: impl Fn(&mut std::process::Command), g: impl Fn(&mut green::process::Command)) {
        let mut s = std::process::Command::new("prog");
        let mut gr = green::process::Command::new("prog");
        f(&mut s);
        g(&mut gr);
        assert_eq!(format!("{s:?}"), format!("{gr:?}"));
        assert_eq!(format!("{s:#?}"), format!("{gr:#?}"));
    }
    both(|_| {}, |_| {});
    both(
        |c| {
            c.arg("x y")
                .env("A", "b")
                .env_remove("C")
                .current_dir("/tmp");
        },
        |c| {
            c.arg("x y")
                .env("A", "b")
                .env_remove("C")
                .current_dir("/tmp");
        },
    );
    both(
        |c| {
            c.env_clear()
                .env("Z", "1")
                .stdout(std::process::Stdio::null());
        },
        |c| {
            c.env_clear()
                .env("Z", "1")
                .stdout(std::process::Stdio::null());
        },
    );
}

/// green's `CommandExt` has std's methods and behaviour.
#[test]
fn unix_command_ext_matches_std() {
    use green::process::unix::CommandExt as _;
    use std::os::unix::process::CommandExt as _;

    let s = std::process::Command::new("sh")
        .args(["-c", "echo $0; ps -o pgid= -p $$"])
        .arg0("renamed")
        .process_group(0)
        .output()
        .unwrap();
    let g = green::process::Command::new("sh")
        .args(["-c", "echo $0; ps -o pgid= -p $$"])
        .arg0("renamed")
        .process_group(0)
        .output()
        .unwrap();
    let first_line = |o: &std::process::Output| {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(first_line(&s), "renamed");
    assert_eq!(first_line(&g), "renamed");

    // uid/gid to our own ids succeed on both.
    let uid = std::fs::metadata("/proc/self").unwrap();
    use std::os::unix::fs::MetadataExt;
    let (u, gid) = (uid.uid(), uid.gid());
    assert!(std::process::Command::new("true")
        .uid(u)
        .gid(gid)
        .status()
        .unwrap()
        .success());
    assert!(green::process::Command::new("true")
        .uid(u)
        .gid(gid)
        .status()
        .unwrap()
        .success());

    // A pre_exec error fails the spawn with that error, on both.
    // SAFETY: the closures run in the forked child and only build an
    // `io::Error` from an errno value, which allocates nothing and takes no
    // lock (async-signal-safe).
    let (se, ge) = unsafe {
        let se = std::process::Command::new("true")
            .pre_exec(|| Err(io::Error::from_raw_os_error(13)))
            .status()
            .unwrap_err();
        let ge = green::process::Command::new("true")
            .pre_exec(|| Err(io::Error::from_raw_os_error(13)))
            .status()
            .unwrap_err();
        (se, ge)
    };
    assert_eq!(se.raw_os_error(), Some(13));
    assert_eq!(ge.raw_os_error(), Some(13));
    assert_eq!(se.kind(), ge.kind());

    // exec that fails returns the error (a missing program).
    let se = std::process::Command::new("/nonexistent/prog").exec();
    let ge = green::process::Command::new("/nonexistent/prog").exec();
    assert_eq!(se.kind(), ErrorKind::NotFound);
    assert_eq!(ge.kind(), ErrorKind::NotFound);
}
