//! `Command`: a std `Command` that spawns on the blocking pool and waits on
//! the hub.

use std::ffi::OsStr;
use std::fmt;
use std::io;
use std::path::Path;
use std::process::{CommandArgs, CommandEnvs, ExitStatus, Output, Stdio};

use crate::Child;

/// Bounds how many spawns run on the blocking pool at once: a spawn is
/// mostly CPU work (`vfork`/`exec`, or `fork` and page-table copies), so a
/// thousand at once gain nothing over a few per core and would grow the pool
/// to hundreds of threads. Callers past the bound park (green threads) until
/// a spawn finishes.
struct SpawnGate {
    free: green_sync::Mutex<Option<usize>>,
    freed: green_sync::Condvar,
}

/// One admitted spawn; gives its place back when dropped.
struct SpawnPermit;

static SPAWN_GATE: SpawnGate = SpawnGate {
    free: green_sync::Mutex::new(None),
    freed: green_sync::Condvar::new(),
};

impl SpawnGate {
    /// The bound: four spawns per core, at least 8.
    fn capacity() -> usize {
        std::thread::available_parallelism()
            .map_or(2, |n| n.get())
            .saturating_mul(4)
            .max(8)
    }

    fn enter(&'static self) -> SpawnPermit {
        let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            let left = free.get_or_insert_with(SpawnGate::capacity);
            if *left > 0 {
                *left -= 1;
                return SpawnPermit;
            }
            free = self.freed.wait(free).unwrap_or_else(|p| p.into_inner());
        }
    }
}

impl Drop for SpawnPermit {
    fn drop(&mut self) {
        let mut free = SPAWN_GATE.free.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(left) = free.as_mut() {
            *left += 1;
        }
        drop(free);
        // Wake outside the lock.
        SPAWN_GATE.freed.notify_one();
    }
}

/// A process builder, like `std::process::Command`, whose `spawn`,
/// `output` and `status` never block the hub.
///
/// Every builder method and getter is std's, applied to a std `Command`
/// kept inside, so defaults, validation (a NUL byte anywhere makes the
/// spawn fail with `InvalidInput`), `PATH` lookup and the errors of a
/// failed spawn (`NotFound`, `PermissionDenied`, ...) are std's own.
/// `Debug` prints what std's prints. `Send` and `Sync`, like std's.
///
/// * [`spawn`](Command::spawn) runs std's spawn (fork/exec, or
///   `posix_spawn`) on the blocking pool: in a large process it can take
///   milliseconds, and it waits for the child's `exec` to succeed or fail.
/// * [`status`](Command::status) spawns, then waits for the exit through
///   the hub.
/// * [`output`](Command::output) spawns with stdin from `/dev/null` and
///   stdout and stderr piped (unless set), then drains both pipes at once
///   and waits, all parked on the hub.
///
/// # Differences from std
///
/// * `output` applies its default streams to the inner std `Command` for
///   that one spawn and puts the unset ones back to `Stdio::inherit()`
///   after (std passes them as a per-call default). Later `spawn`/`status`
///   calls behave as std's; only the alternate `{:#?}` output then lists
///   `stdin: Some(Inherit)` and the like where std's lists nothing.
/// * std's Unix extension trait is sealed: use
///   [`green_process::unix::CommandExt`](crate::unix::CommandExt), which has
///   the same methods.
///
/// # Examples
///
/// ```
/// let output = green_process::Command::new("sh")
///     .args(["-c", "echo hello; echo oops >&2; exit 3"])
///     .output()?;
/// assert_eq!(output.status.code(), Some(3));
/// assert_eq!(output.stdout, b"hello\n");
/// assert_eq!(output.stderr, b"oops\n");
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # Outside a green thread
///
/// On a plain OS thread whose hub has no green threads, the spawn runs
/// inline, as std's; waits run the thread's hub until the child exits.
pub struct Command {
    inner: std::process::Command,
    /// Whether the user set stdin, stdout, stderr (in that order): `output`
    /// fills in its own defaults only for the unset ones.
    set: [bool; 3],
}

impl Command {
    /// Constructs a new `Command` for launching `program`, like std's `new`:
    /// no arguments, the parent's environment and working directory, and
    /// inherited standard streams for `spawn` and `status`.
    ///
    /// A `program` without a `/` is looked up in `PATH` when spawning.
    pub fn new<S: AsRef<OsStr>>(program: S) -> Command {
        Command::from(std::process::Command::new(program))
    }

    /// Adds an argument, like std's `arg`.
    pub fn arg<S: AsRef<OsStr>>(&mut self, arg: S) -> &mut Command {
        self.inner.arg(arg);
        self
    }

    /// Adds several arguments, like std's `args`.
    pub fn args<I, S>(&mut self, args: I) -> &mut Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.inner.args(args);
        self
    }

    /// Sets an environment variable for the child, like std's `env`.
    pub fn env<K, V>(&mut self, key: K, val: V) -> &mut Command
    where
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        self.inner.env(key, val);
        self
    }

    /// Sets several environment variables, like std's `envs`.
    pub fn envs<I, K, V>(&mut self, vars: I) -> &mut Command
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        self.inner.envs(vars);
        self
    }

    /// Removes an environment variable from the child's environment, like
    /// std's `env_remove`.
    pub fn env_remove<K: AsRef<OsStr>>(&mut self, key: K) -> &mut Command {
        self.inner.env_remove(key);
        self
    }

    /// Clears the child's environment (only variables set afterwards are
    /// passed), like std's `env_clear`.
    pub fn env_clear(&mut self) -> &mut Command {
        self.inner.env_clear();
        self
    }

    /// Sets the child's working directory, like std's `current_dir`.
    pub fn current_dir<P: AsRef<Path>>(&mut self, dir: P) -> &mut Command {
        self.inner.current_dir(dir);
        self
    }

    /// Configures the child's standard input, like std's `stdin`: anything
    /// that converts into a `Stdio` (std's own `Stdio::piped()`/`null()`/
    /// `inherit()`, a file, or a green pipe end such as another child's
    /// `ChildStdout`).
    pub fn stdin<T: Into<Stdio>>(&mut self, cfg: T) -> &mut Command {
        self.inner.stdin(cfg);
        self.set[0] = true;
        self
    }

    /// Configures the child's standard output, like std's `stdout`.
    pub fn stdout<T: Into<Stdio>>(&mut self, cfg: T) -> &mut Command {
        self.inner.stdout(cfg);
        self.set[1] = true;
        self
    }

    /// Configures the child's standard error, like std's `stderr`.
    pub fn stderr<T: Into<Stdio>>(&mut self, cfg: T) -> &mut Command {
        self.inner.stderr(cfg);
        self.set[2] = true;
        self
    }

    /// Starts the command as a child process and returns its [`Child`],
    /// like std's `spawn`. Standard streams not configured are inherited.
    ///
    /// The spawn itself runs on the blocking pool (fork/exec can take
    /// milliseconds in a big process); only the calling green thread waits.
    /// At most four spawns per core (at least 8) run at once; more callers
    /// park until one finishes, so a thousand simultaneous spawns do not
    /// grow the pool to a thousand threads.
    /// Piped streams come back as green handles, non-blocking on the
    /// parent's side.
    ///
    /// Waiting for a place among those spawns is a cancellation point
    /// (`green::rt::timeout`, `green::thread::Cancel`); the spawn itself is
    /// not, so a cancel never leaves a child started with nobody holding
    /// its `Child`: it takes effect at the next blocking call.
    ///
    /// # Errors
    ///
    /// As std: `NotFound` for a missing program, `PermissionDenied` for one
    /// that is not executable, `InvalidInput` if the program, an argument,
    /// the directory or an environment key or value contains a NUL byte,
    /// and the OS errors of creating pipes and processes.
    pub fn spawn(&mut self) -> io::Result<Child> {
        self.spawn_std().map(Child::from_std)
    }

    /// Runs the command, waits for it and collects its output, like std's
    /// `output`: stdin defaults to `/dev/null`, stdout and stderr to pipes
    /// (configured streams are used as they are). Both pipes are drained at
    /// once and the wait parks on the hub.
    ///
    /// # Errors
    ///
    /// As [`Command::spawn`] and [`Child::wait_with_output`].
    pub fn output(&mut self) -> io::Result<Output> {
        let unset = self.set.map(|set| !set);
        if unset[0] {
            self.inner.stdin(Stdio::null());
        }
        if unset[1] {
            self.inner.stdout(Stdio::piped());
        }
        if unset[2] {
            self.inner.stderr(Stdio::piped());
        }
        let spawned = self.spawn_std();
        // Back to what `spawn` and `status` use for unset streams.
        if unset[0] {
            self.inner.stdin(Stdio::inherit());
        }
        if unset[1] {
            self.inner.stdout(Stdio::inherit());
        }
        if unset[2] {
            self.inner.stderr(Stdio::inherit());
        }
        Child::from_std(spawned?).wait_with_output()
    }

    /// Runs the command and waits for it to exit, like std's `status`;
    /// unset standard streams are inherited. The wait parks on the hub.
    ///
    /// # Errors
    ///
    /// As [`Command::spawn`] and [`Child::wait`].
    pub fn status(&mut self) -> io::Result<ExitStatus> {
        self.spawn()?.wait()
    }

    /// The program passed to [`Command::new`], like std's `get_program`.
    #[must_use]
    pub fn get_program(&self) -> &OsStr {
        self.inner.get_program()
    }

    /// The arguments (without the program), like std's `get_args`.
    pub fn get_args(&self) -> CommandArgs<'_> {
        self.inner.get_args()
    }

    /// The explicitly set or removed environment variables, like std's
    /// `get_envs` (`None` values are removals).
    pub fn get_envs(&self) -> CommandEnvs<'_> {
        self.inner.get_envs()
    }

    /// The working directory set with [`Command::current_dir`], like std's
    /// `get_current_dir`.
    #[must_use]
    pub fn get_current_dir(&self) -> Option<&Path> {
        self.inner.get_current_dir()
    }

    /// std's builder, for the Unix extension trait.
    pub(crate) fn std_mut(&mut self) -> &mut std::process::Command {
        &mut self.inner
    }

    /// Runs std's spawn on the blocking pool. The std `Command` travels to
    /// the pool job by value and comes back with the result (a placeholder
    /// holds its place meanwhile; `&mut self` keeps anyone from seeing it).
    ///
    /// Waiting for a place at the gate is a cancellation point; the spawn
    /// itself is not (`uncancellable`): a cancelled caller would leave the
    /// job to start a child nobody holds a handle to, and take the std
    /// `Command` with it. A spawn is short CPU work, so a cancel or a
    /// deadline takes effect at the next blocking call after it.
    fn spawn_std(&mut self) -> io::Result<std::process::Child> {
        let _permit = SPAWN_GATE.enter();
        let cmd = std::mem::replace(&mut self.inner, std::process::Command::new(""));
        let (cmd, spawned) = green_core::cancel::uncancellable(|| {
            green_core::unblock(move || {
                let mut cmd = cmd;
                let spawned = cmd.spawn();
                (cmd, spawned)
            })
        });
        self.inner = cmd;
        spawned
    }
}

impl From<std::process::Command> for Command {
    /// Adopts a configured std `Command`. Its standard streams count as
    /// unset for `output`'s defaults (std's builder does not say whether
    /// they were set).
    fn from(inner: std::process::Command) -> Command {
        Command {
            inner,
            set: [false; 3],
        }
    }
}

impl fmt::Debug for Command {
    /// The same output as std's: the program and arguments quoted, with
    /// environment changes and the directory; `{:#?}` gives std's
    /// structured form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}
