//! Shared helpers for the conformance tests in `tests/tests/`.
//!
//! The centre piece is [`Flavor`]: one scenario, written once against the
//! small thread API it exposes (spawn, join, builder, park, current, sleep,
//! scope), runs three ways with the same assertions:
//!
//! * [`Flavor::Std`] — `std::thread`, from the test's own OS thread;
//! * [`Flavor::GreenPlain`] — `green_core::thread`, called from the test's
//!   plain OS thread (so the OS thread's hub runs while it blocks);
//! * [`Flavor::GreenInGreen`] — `green_core::thread`, with the whole scenario
//!   running inside a green thread spawned with `green_core::thread::spawn`
//!   and joined.
//!
//! Test files take the flavor as an rstest case:
//!
//! ```ignore
//! #[rstest]
//! #[case::std(Flavor::Std)]
//! #[case::green_plain(Flavor::GreenPlain)]
//! #[case::green_in_green(Flavor::GreenInGreen)]
//! fn join_returns_value(#[case] flavor: Flavor) {
//!     flavor.run(move || assert_eq!(flavor.spawn(|| 7).join().unwrap(), 7));
//! }
//! ```
//!
//! The wrappers ([`JoinHandle`], [`Builder`], [`Thread`], [`ThreadId`],
//! [`Scope`], [`ScopedJoinHandle`]) are enums over the std and the green
//! types, so a scenario sees the same methods whichever side it runs on.
//!
//! Scenarios that use a std module by name (`sync::Mutex`, `fs::read`,
//! `TcpStream`) are written once and compiled twice with [`std_and_green!`],
//! once with std's imports and once with green's.
#![forbid(unsafe_code)]

use std::any::Any;
use std::fmt;
use std::hash::Hash;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Which implementation a scenario runs against, and from where.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Flavor {
    /// `std::thread`, called from the test's OS thread.
    Std,
    /// `green_core::thread`, called from the test's plain OS thread.
    GreenPlain,
    /// `green_core::thread`, called from inside a green thread.
    GreenInGreen,
}

impl Flavor {
    /// Every flavor, for tests that loop instead of using rstest cases.
    pub const ALL: [Flavor; 3] = [Flavor::Std, Flavor::GreenPlain, Flavor::GreenInGreen];

    /// Whether this flavor uses the green API.
    pub fn is_green(self) -> bool {
        self != Flavor::Std
    }

    /// Runs a scenario in this flavor's context: directly on the calling OS
    /// thread for [`Flavor::Std`] and [`Flavor::GreenPlain`], inside a green
    /// thread (spawned and joined) for [`Flavor::GreenInGreen`]. A panic in
    /// the scenario (a failed assertion) is resumed in the caller with its
    /// payload.
    ///
    /// # Panics
    ///
    /// Whatever the scenario panics with; also if a green-in-green scenario
    /// finds itself outside a green thread, or a plain one inside one.
    pub fn run<R, F>(self, f: F) -> R
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        match self {
            Flavor::Std | Flavor::GreenPlain => {
                assert!(
                    !green_core::park::in_green_thread(),
                    "a plain-thread scenario must start outside green threads"
                );
                f()
            }
            Flavor::GreenInGreen => {
                let handle = green_core::thread::spawn(move || {
                    assert!(
                        green_core::park::in_green_thread(),
                        "the scenario must run on a green thread"
                    );
                    f()
                });
                match handle.join() {
                    Ok(value) => value,
                    Err(payload) => panic::resume_unwind(payload),
                }
            }
        }
    }

    /// `thread::spawn` of this flavor.
    pub fn spawn<F, T>(self, f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        match self {
            Flavor::Std => JoinHandle::Std(std::thread::spawn(f)),
            _ => JoinHandle::Green(green_core::thread::spawn(f)),
        }
    }

    /// `thread::Builder::new()` of this flavor.
    pub fn builder(self) -> Builder {
        match self {
            Flavor::Std => Builder::Std(std::thread::Builder::new()),
            _ => Builder::Green(green_core::thread::Builder::new()),
        }
    }

    /// `thread::current()` of this flavor.
    pub fn current(self) -> Thread {
        match self {
            Flavor::Std => Thread::Std(std::thread::current()),
            _ => Thread::Green(green_core::thread::current()),
        }
    }

    /// `thread::park()` of this flavor.
    pub fn park(self) {
        match self {
            Flavor::Std => std::thread::park(),
            _ => green_core::thread::park(),
        }
    }

    /// `thread::park_timeout()` of this flavor.
    pub fn park_timeout(self, dur: Duration) {
        match self {
            Flavor::Std => std::thread::park_timeout(dur),
            _ => green_core::thread::park_timeout(dur),
        }
    }

    /// `thread::sleep()` of this flavor.
    pub fn sleep(self, dur: Duration) {
        match self {
            Flavor::Std => std::thread::sleep(dur),
            _ => green_core::thread::sleep(dur),
        }
    }

    /// `thread::yield_now()` of this flavor.
    pub fn yield_now(self) {
        match self {
            Flavor::Std => std::thread::yield_now(),
            _ => green_core::thread::yield_now(),
        }
    }

    /// `thread::panicking()` of this flavor (std's own on both sides).
    pub fn panicking(self) -> bool {
        match self {
            Flavor::Std => std::thread::panicking(),
            _ => green_core::thread::panicking(),
        }
    }

    /// `thread::scope()` of this flavor.
    ///
    /// # Panics
    ///
    /// As the underlying `scope`: if `f` panics, or a scoped thread panicked
    /// and was not joined (`"a scoped thread panicked"`).
    pub fn scope<'env, F, T>(self, f: F) -> T
    where
        F: for<'scope> FnOnce(Scope<'scope, 'env>) -> T,
    {
        match self {
            Flavor::Std => std::thread::scope(|s| f(Scope::Std(s))),
            _ => green_core::thread::scope(|s| f(Scope::Green(s))),
        }
    }
}

impl fmt::Display for Flavor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Flavor::Std => "std",
            Flavor::GreenPlain => "green_plain",
            Flavor::GreenInGreen => "green_in_green",
        };
        f.write_str(name)
    }
}

/// A `JoinHandle` of either side.
#[derive(Debug)]
pub enum JoinHandle<T> {
    /// `std::thread::JoinHandle`.
    Std(std::thread::JoinHandle<T>),
    /// `green_core::thread::JoinHandle`.
    Green(green_core::thread::JoinHandle<T>),
}

impl<T> JoinHandle<T> {
    /// `JoinHandle::join`.
    ///
    /// # Errors
    ///
    /// The thread's panic payload, if it panicked.
    pub fn join(self) -> std::thread::Result<T> {
        match self {
            JoinHandle::Std(h) => h.join(),
            JoinHandle::Green(h) => h.join(),
        }
    }

    /// `JoinHandle::thread` (cloned).
    pub fn thread(&self) -> Thread {
        match self {
            JoinHandle::Std(h) => Thread::Std(h.thread().clone()),
            JoinHandle::Green(h) => Thread::Green(h.thread().clone()),
        }
    }

    /// `JoinHandle::is_finished`.
    pub fn is_finished(&self) -> bool {
        match self {
            JoinHandle::Std(h) => h.is_finished(),
            JoinHandle::Green(h) => h.is_finished(),
        }
    }
}

/// A `thread::Builder` of either side.
#[derive(Debug)]
pub enum Builder {
    /// `std::thread::Builder`.
    Std(std::thread::Builder),
    /// `green_core::thread::Builder`.
    Green(green_core::thread::Builder),
}

impl Builder {
    /// `Builder::name`.
    pub fn name(self, name: String) -> Builder {
        match self {
            Builder::Std(b) => Builder::Std(b.name(name)),
            Builder::Green(b) => Builder::Green(b.name(name)),
        }
    }

    /// `Builder::stack_size`.
    pub fn stack_size(self, size: usize) -> Builder {
        match self {
            Builder::Std(b) => Builder::Std(b.stack_size(size)),
            Builder::Green(b) => Builder::Green(b.stack_size(size)),
        }
    }

    /// `Builder::spawn`.
    ///
    /// # Errors
    ///
    /// As the underlying `Builder::spawn`.
    ///
    /// # Panics
    ///
    /// As the underlying `Builder::spawn` (a name containing NUL).
    pub fn spawn<F, T>(self, f: F) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        match self {
            Builder::Std(b) => b.spawn(f).map(JoinHandle::Std),
            Builder::Green(b) => b.spawn(f).map(JoinHandle::Green),
        }
    }

    /// `Builder::spawn_scoped`.
    ///
    /// # Errors
    ///
    /// As the underlying `Builder::spawn_scoped`.
    ///
    /// # Panics
    ///
    /// If the builder and the scope come from different flavors, and as the
    /// underlying `Builder::spawn_scoped`.
    pub fn spawn_scoped<'scope, 'env, F, T>(
        self,
        scope: Scope<'scope, 'env>,
        f: F,
    ) -> io::Result<ScopedJoinHandle<'scope, T>>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        match (self, scope) {
            (Builder::Std(b), Scope::Std(s)) => b.spawn_scoped(s, f).map(ScopedJoinHandle::Std),
            (Builder::Green(b), Scope::Green(s)) => {
                b.spawn_scoped(s, f).map(ScopedJoinHandle::Green)
            }
            _ => panic!("builder and scope come from different flavors"),
        }
    }
}

/// A `Thread` handle of either side. Its `Debug` output is the wrapped
/// type's own.
#[derive(Clone)]
pub enum Thread {
    /// `std::thread::Thread`.
    Std(std::thread::Thread),
    /// `green_core::thread::Thread`.
    Green(green_core::thread::Thread),
}

impl Thread {
    /// `Thread::id`.
    pub fn id(&self) -> ThreadId {
        match self {
            Thread::Std(t) => ThreadId::Std(t.id()),
            Thread::Green(t) => ThreadId::Green(t.id()),
        }
    }

    /// `Thread::name`.
    pub fn name(&self) -> Option<&str> {
        match self {
            Thread::Std(t) => t.name(),
            Thread::Green(t) => t.name(),
        }
    }

    /// `Thread::unpark`.
    pub fn unpark(&self) {
        match self {
            Thread::Std(t) => t.unpark(),
            Thread::Green(t) => t.unpark(),
        }
    }
}

impl fmt::Debug for Thread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Thread::Std(t) => fmt::Debug::fmt(t, f),
            Thread::Green(t) => fmt::Debug::fmt(t, f),
        }
    }
}

/// A `ThreadId` of either side. Its `Debug` output is the wrapped type's own.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum ThreadId {
    /// `std::thread::ThreadId`.
    Std(std::thread::ThreadId),
    /// `green_core::thread::ThreadId`.
    Green(green_core::thread::ThreadId),
}

impl fmt::Debug for ThreadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ThreadId::Std(t) => fmt::Debug::fmt(t, f),
            ThreadId::Green(t) => fmt::Debug::fmt(t, f),
        }
    }
}

/// A `&Scope` of either side, as handed to [`Flavor::scope`]'s closure.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'scope, 'env: 'scope> {
    /// `std::thread::Scope`.
    Std(&'scope std::thread::Scope<'scope, 'env>),
    /// `green_core::thread::Scope`.
    Green(&'scope green_core::thread::Scope<'scope, 'env>),
}

impl<'scope> Scope<'scope, '_> {
    /// `Scope::spawn`.
    pub fn spawn<F, T>(self, f: F) -> ScopedJoinHandle<'scope, T>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        match self {
            Scope::Std(s) => ScopedJoinHandle::Std(s.spawn(f)),
            Scope::Green(s) => ScopedJoinHandle::Green(s.spawn(f)),
        }
    }
}

/// A `ScopedJoinHandle` of either side.
#[derive(Debug)]
pub enum ScopedJoinHandle<'scope, T> {
    /// `std::thread::ScopedJoinHandle`.
    Std(std::thread::ScopedJoinHandle<'scope, T>),
    /// `green_core::thread::ScopedJoinHandle`.
    Green(green_core::thread::ScopedJoinHandle<'scope, T>),
}

impl<T> ScopedJoinHandle<'_, T> {
    /// `ScopedJoinHandle::join`.
    ///
    /// # Errors
    ///
    /// The thread's panic payload, if it panicked.
    pub fn join(self) -> std::thread::Result<T> {
        match self {
            ScopedJoinHandle::Std(h) => h.join(),
            ScopedJoinHandle::Green(h) => h.join(),
        }
    }

    /// `ScopedJoinHandle::thread` (cloned).
    pub fn thread(&self) -> Thread {
        match self {
            ScopedJoinHandle::Std(h) => Thread::Std(h.thread().clone()),
            ScopedJoinHandle::Green(h) => Thread::Green(h.thread().clone()),
        }
    }

    /// `ScopedJoinHandle::is_finished`.
    pub fn is_finished(&self) -> bool {
        match self {
            ScopedJoinHandle::Std(h) => h.is_finished(),
            ScopedJoinHandle::Green(h) => h.is_finished(),
        }
    }
}

/// A panic payload as text, when it is a `&str` or a `String` (what
/// `panic!` with a literal or a format string produces).
pub fn payload_str(payload: &(dyn Any + Send)) -> Option<&str> {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        Some(s)
    } else {
        payload.downcast_ref::<String>().map(String::as_str)
    }
}

/// Runs `f`, expecting it to panic, and returns the panic's message.
///
/// # Panics
///
/// If `f` returns normally, or panics with a payload that is not text.
#[track_caller]
pub fn panic_message<R>(f: impl FnOnce() -> R) -> String {
    match panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(_) => panic!("expected a panic, but the closure returned"),
        Err(payload) => payload_str(&*payload)
            .unwrap_or_else(|| panic!("panic payload is not text"))
            .to_owned(),
    }
}

/// Asserts that at least `dur` passed since `start`: the only timing
/// assertion these tests make (a wait may be late, never early).
///
/// # Panics
///
/// If less than `dur` has passed.
#[track_caller]
pub fn assert_not_early(start: Instant, dur: Duration, what: &str) {
    let elapsed = start.elapsed();
    assert!(
        elapsed >= dur,
        "{what} returned early: after {elapsed:?}, expected at least {dur:?}"
    );
}

/// Compile-time check that `T` is `Send` and `Sync`.
pub fn assert_send_sync<T: Send + Sync>() {}

/// Polls `cond` (yielding between polls with the flavor's `yield_now`, and
/// sleeping a millisecond every so often) until it holds or `limit` passes;
/// returns whether it held. For "eventually" checks whose failure is a
/// hang, not a wrong value.
pub fn eventually(flavor: Flavor, limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    let mut round = 0u32;
    loop {
        if cond() {
            return true;
        }
        if start.elapsed() >= limit {
            return false;
        }
        round = round.wrapping_add(1);
        if round.is_multiple_of(16) {
            flavor.sleep(Duration::from_millis(1));
        } else {
            flavor.yield_now();
        }
    }
}

/// A small seeded pseudo-random generator (xorshift64*) for bounded stress
/// tests, so a failing run can be replayed with its printed seed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded from `GREEN_TEST_SEED` if set, else from the clock.
    /// Prints the seed (with `label`) so a failure can be replayed.
    pub fn from_env(label: &str) -> Rng {
        let seed = std::env::var("GREEN_TEST_SEED")
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(0x9E37_79B9_7F4A_7C15)
            });
        println!("{label}: seed {seed} (replay with GREEN_TEST_SEED={seed})");
        Rng::new(seed)
    }

    /// A generator with the given seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    /// The next pseudo-random number.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// What a child run of the current test binary produced.
#[derive(Debug)]
pub struct ChildRun {
    /// The exit status, or `None` if the child hung and was killed.
    pub status: Option<std::process::ExitStatus>,
    /// Everything the child wrote to stdout.
    pub stdout: String,
    /// Everything the child wrote to stderr.
    pub stderr: String,
}

/// Runs one test of the current test binary in a child process (for
/// behaviour that aborts the process), with extra environment variables.
/// A child still running after `limit` is killed and reported with
/// `status: None`, so a hang fails the caller instead of blocking it.
///
/// # Panics
///
/// If the child cannot be started.
pub fn run_test_in_child(test: &str, env: &[(&str, &str)], limit: Duration) -> ChildRun {
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut cmd = std::process::Command::new(exe);
    cmd.args(["--exact", test, "--nocapture", "--test-threads=1"]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    run_child(cmd, limit)
}

/// Like [`run_test_in_child`], with the child's address space limited to
/// `kib` KiB (`ulimit -v`, through `sh`).
///
/// # Panics
///
/// If the child cannot be started.
pub fn run_test_in_child_with_address_limit(
    test: &str,
    env: &[(&str, &str)],
    kib: usize,
    limit: Duration,
) -> ChildRun {
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut cmd = std::process::Command::new("sh");
    cmd.arg("-c")
        .arg(format!("ulimit -v {kib} && exec \"$0\" \"$@\""))
        .arg(exe)
        .args(["--exact", test, "--nocapture", "--test-threads=1"]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    run_child(cmd, limit)
}

/// Runs `cmd` with piped output, killing it after `limit`.
///
/// # Panics
///
/// If the child cannot be started.
pub fn run_child(mut cmd: std::process::Command, limit: Duration) -> ChildRun {
    use std::io::Read;
    use std::process::Stdio;

    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("start the child process");
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.read_to_end(&mut buf);
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let out = drain(Box::new(child.stdout.take().expect("piped stdout")));
    let err = drain(Box::new(child.stderr.take().expect("piped stderr")));
    let start = Instant::now();
    let status = loop {
        match child.try_wait().expect("wait for the child") {
            Some(status) => break Some(status),
            None if start.elapsed() >= limit => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            None => std::thread::sleep(Duration::from_millis(10)),
        }
    };
    ChildRun {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    }
}

/// Reads a `kB` field of `/proc/self/status` (`VmRSS:`, `VmPTE:`, ...).
pub fn status_kib(field: &str) -> usize {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Kernel memory mappings this process holds now.
pub fn mappings() -> usize {
    std::fs::read_to_string("/proc/self/maps")
        .map(|s| s.lines().count())
        .unwrap_or(0)
}

/// Writes each scenario once, compiles it twice — with std's imports and
/// with green's — and runs it as three rstest cases (`case::std`,
/// `case::green_plain`, `case::green_in_green`, see [`Flavor`]): the std
/// build for [`Flavor::Std`], the green build for the two green flavors.
/// The test function keeps the scenario's name. Expand it where `rstest` is
/// a dependency (the test files).
///
/// **Inline scenarios.** Each `fn name(flavor) { body }` becomes a test; the
/// body sees the file's items, the flavor under the given name, and the
/// side's imports. Attributes before a `fn` go on the test function. The
/// two builds allow unused imports and variables, deprecated items and
/// clippy's default lints (the same body serves both sides).
///
/// ```ignore
/// green_conformance::std_and_green! {
///     std: { use std::sync; }
///     green: { use green_sync as sync; }
///
///     fn counts(flavor) {
///         let m = sync::Arc::new(sync::Mutex::new(0));
///         let m2 = m.clone();
///         flavor.spawn(move || *m2.lock().unwrap() += 1).join().unwrap();
///         assert_eq!(*m.lock().unwrap(), 1);
///     }
/// }
/// ```
///
/// **Scenario modules.** With `scenarios: some_macro!();`, the macro emits
/// `mod std_api` and `mod green_api`, each holding the side's imports and
/// an expansion of `some_macro!()` (the scenarios and their helpers, as
/// `pub fn name() -> T` taking no flavor). Then each listed name becomes a
/// test that runs `std_api::name` or `green_api::name` in the flavor's
/// context. With `compare_outcomes`, a green case also runs the std
/// scenario and asserts both returned values print the same with `{:?}`.
///
/// ```ignore
/// macro_rules! scenarios {
///     () => {
///         pub fn loopback_bind() -> bool {
///             UdpSocket::bind("127.0.0.1:0").is_ok()
///         }
///     };
/// }
/// green_conformance::std_and_green! {
///     std: { use std::net::UdpSocket; }
///     green: { use green::net::UdpSocket; }
///     scenarios: scenarios!();
///     compare_outcomes;
///     tests: [loopback_bind]
/// }
/// ```
#[macro_export]
macro_rules! std_and_green {
    (
        std: $std:tt
        green: $green:tt
        scenarios: $scenarios:ident!();
        compare_outcomes;
        tests: [$($name:ident),* $(,)?]
    ) => {
        $crate::std_and_green!(@modules $std $green $scenarios);
        $($crate::std_and_green!(@compare $name);)*
    };
    (
        std: $std:tt
        green: $green:tt
        scenarios: $scenarios:ident!();
        tests: [$($name:ident),* $(,)?]
    ) => {
        $crate::std_and_green!(@modules $std $green $scenarios);
        $($crate::std_and_green!(@run $name);)*
    };
    (
        std: $std:tt
        green: $green:tt
        $($(#[$meta:meta])* fn $name:ident($flavor:ident) $body:block)*
    ) => {
        $(
            $crate::std_and_green!(@inline $std $green $(#[$meta])* fn $name($flavor) $body);
        )*
    };
    (@modules { $($std:tt)* } { $($green:tt)* } $scenarios:ident) => {
        mod std_api {
            $($std)*
            $scenarios!();
        }
        mod green_api {
            $($green)*
            $scenarios!();
        }
    };
    (@run $name:ident) => {
        $crate::std_and_green!(@test $name(flavor) {
            flavor.run(if flavor.is_green() {
                green_api::$name
            } else {
                std_api::$name
            });
        });
    };
    (@compare $name:ident) => {
        $crate::std_and_green!(@test $name(flavor) {
            let got = flavor.run(if flavor.is_green() {
                green_api::$name
            } else {
                std_api::$name
            });
            // Scenarios that return an outcome must match std's.
            if flavor.is_green() {
                assert_eq!(format!("{got:?}"), format!("{:?}", std_api::$name()));
            }
        });
    };
    (@test $(#[$meta:meta])* $name:ident($flavor:ident) $body:block) => {
        $(#[$meta])*
        #[rstest::rstest]
        #[case::std($crate::Flavor::Std)]
        #[case::green_plain($crate::Flavor::GreenPlain)]
        #[case::green_in_green($crate::Flavor::GreenInGreen)]
        fn $name(#[case] $flavor: $crate::Flavor) $body
    };
    (
        @inline { $($std:tt)* } { $($green:tt)* }
        $(#[$meta:meta])* fn $name:ident($flavor:ident) $body:block
    ) => {
        $crate::std_and_green!(@test $(#[$meta])* $name(flavor) {
            #[allow(unused_imports, unused_variables, deprecated, clippy::all)]
            fn on_std($flavor: $crate::Flavor) {
                $($std)*
                $body
            }
            #[allow(unused_imports, unused_variables, deprecated, clippy::all)]
            fn on_green($flavor: $crate::Flavor) {
                $($green)*
                $body
            }
            flavor.run(move || {
                if flavor.is_green() {
                    on_green(flavor)
                } else {
                    on_std(flavor)
                }
            });
        });
    };
}

/// How long the stack-budget scenario waits before calling a step hung.
const BUDGET_HANG: Duration = Duration::from_secs(30);

/// Spawns `n` green threads that each report in and then park until `go`.
fn spawn_parked_green(
    n: usize,
    started: &Arc<AtomicUsize>,
    go: &Arc<AtomicBool>,
) -> Vec<green_core::thread::JoinHandle<usize>> {
    (0..n)
        .map(|i| {
            let (started, go) = (started.clone(), go.clone());
            green_core::thread::Builder::new()
                .spawn(move || {
                    started.fetch_add(1, Ordering::SeqCst);
                    let begin = Instant::now();
                    while !go.load(Ordering::SeqCst) && begin.elapsed() < BUDGET_HANG {
                        green_core::thread::park_timeout(BUDGET_HANG);
                    }
                    i
                })
                .unwrap_or_else(|e| panic!("spawn {i} of {n} within the budget failed: {e}"))
        })
        .collect()
}

/// The stack-budget scenario, for a fresh process whose green stack budget
/// the caller has just set to `budget` (with `runtime::set_stack_budget` or
/// the `GREEN_MAX_STACKS` environment variable) before any spawn: past the
/// budget, `Builder::spawn` returns `OutOfMemory` naming `GREEN_MAX_STACKS`,
/// `thread::spawn` and `Scope::spawn` panic with std's message, and once the
/// green threads finish, spawning works again, in bulk too.
///
/// # Panics
///
/// If any of that does not hold, or a step hangs for 30 s.
pub fn stack_budget_scenario(budget: usize) {
    assert_eq!(green_core::runtime::stack_budget(), budget);

    let started = Arc::new(AtomicUsize::new(0));
    let go = Arc::new(AtomicBool::new(false));
    let handles = spawn_parked_green(budget, &started, &go);
    assert!(
        eventually(Flavor::GreenPlain, BUDGET_HANG, || started
            .load(Ordering::SeqCst)
            == budget),
        "only {} of {budget} green threads started",
        started.load(Ordering::SeqCst)
    );

    // One more: an error, not a panic, not a hang.
    let err = match green_core::thread::Builder::new().spawn(|| ()) {
        Ok(h) => {
            let _ = h.join();
            panic!(
                "Builder::spawn past a budget of {budget} succeeded (budget now reads {})",
                green_core::runtime::stack_budget()
            );
        }
        Err(e) => e,
    };
    assert_eq!(err.kind(), io::ErrorKind::OutOfMemory);
    let text = err.to_string();
    assert!(text.contains("GREEN_MAX_STACKS"), "message: {text}");

    // thread::spawn panics with std's message.
    let msg = panic_message(|| green_core::thread::spawn(|| ()));
    assert!(
        msg.contains("failed to spawn thread"),
        "panic message: {msg}"
    );

    // Scope::spawn too.
    let msg = panic_message(|| green_core::thread::scope(|s| drop(s.spawn(|| ()))));
    assert!(
        msg.contains("failed to spawn thread"),
        "scope panic message: {msg}"
    );

    // The budget held: the set value was not replaced behind our back.
    assert_eq!(green_core::runtime::stack_budget(), budget);

    // Release them all; every one finishes normally.
    go.store(true, Ordering::SeqCst);
    for (i, h) in handles.into_iter().enumerate() {
        h.thread().unpark();
        assert_eq!(h.join().unwrap(), i);
    }

    // And the process keeps working: spawning succeeds again, repeatedly
    // and in bulk (up to the budget again).
    for round in 0..3 {
        let h = green_core::thread::Builder::new()
            .spawn(move || round * 2)
            .unwrap_or_else(|e| panic!("spawn after the green threads finished: {e}"));
        assert_eq!(h.join().unwrap(), round * 2);
    }
    let started = Arc::new(AtomicUsize::new(0));
    let go = Arc::new(AtomicBool::new(false));
    let again = spawn_parked_green(budget, &started, &go);
    go.store(true, Ordering::SeqCst);
    for (i, h) in again.into_iter().enumerate() {
        h.thread().unpark();
        assert_eq!(h.join().unwrap(), i);
    }
}

/// Spawns parked green threads until `Builder::spawn` refuses (at most
/// `cap` tries), then checks that every accepted thread ran, releases them
/// all and joins each. Returns how many were accepted and the refusal.
///
/// # Panics
///
/// If `cap` spawns all succeed, if an accepted thread never runs or joins
/// with an error, or if a step hangs.
pub fn spawn_until_refused(cap: usize) -> (usize, io::Error) {
    const HANG: Duration = Duration::from_secs(120);
    let ran = Arc::new(AtomicUsize::new(0));
    let go = Arc::new(AtomicBool::new(false));
    let mut handles = Vec::new();
    let err = loop {
        assert!(handles.len() < cap, "no refusal after {cap} spawns");
        let (ran, go) = (ran.clone(), go.clone());
        let i = handles.len();
        match green_core::thread::Builder::new().spawn(move || {
            ran.fetch_add(1, Ordering::SeqCst);
            let begin = Instant::now();
            while !go.load(Ordering::SeqCst) && begin.elapsed() < HANG {
                green_core::thread::park_timeout(HANG);
            }
            i
        }) {
            Ok(h) => handles.push(h),
            Err(e) => break e,
        }
    };
    let accepted = handles.len();
    // Everything accepted got a stack and ran: a refusal is never a thread
    // that silently does not run.
    assert!(
        eventually(Flavor::GreenPlain, HANG, || ran.load(Ordering::SeqCst)
            == accepted),
        "only {} of {accepted} accepted green threads ran",
        ran.load(Ordering::SeqCst)
    );
    go.store(true, Ordering::SeqCst);
    for (i, h) in handles.into_iter().enumerate() {
        h.thread().unpark();
        assert_eq!(h.join().expect("an accepted green thread failed"), i);
    }
    (accepted, err)
}
