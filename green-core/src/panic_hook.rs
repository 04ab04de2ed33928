//! The panic hook: std's report, naming the green thread.
//!
//! Installed once, wrapping whatever hook was set before. A panic on a green
//! thread, or in `unblock(f)` on behalf of one (or of an OS thread), is
//! printed the way std's hook prints it, with that thread's name: the
//! `RUST_BACKTRACE` hint only for the first panic of the process, and a
//! short backtrace that starts at the panic and ends at the thread's closure
//! (std's markers, and green's own [`begin_short_backtrace`]) unless
//! `RUST_BACKTRACE=full`. Other panics go to the previous hook untouched.

use std::backtrace::{Backtrace, BacktraceStatus};
use std::cell::RefCell;
use std::io::Write;
use std::panic::{self, PanicHookInfo};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Once};

use crate::ctx::Ctx;

/// Set once any panic report went out: std prints its hint only once.
static FIRST_PANIC_DONE: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// The context a blocking-pool thread runs `unblock(f)` for.
    static ACTING_FOR: RefCell<Option<Arc<Ctx>>> = const { RefCell::new(None) };
}

/// Runs `f` (on a blocking-pool thread) so that a panic in it names `ctx`.
pub(crate) fn acting_for<R>(ctx: Arc<Ctx>, f: impl FnOnce() -> R) -> R {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            ACTING_FOR.with(|a| a.borrow_mut().take());
        }
    }
    ACTING_FOR.with(|a| *a.borrow_mut() = Some(ctx));
    let _reset = Reset;
    f()
}

/// Calls `f`; marks the bottom of a green thread's short backtrace (the
/// frames below it are green-core's plumbing), as std's
/// `__rust_begin_short_backtrace` does for OS threads.
#[inline(never)]
pub(crate) fn begin_short_backtrace<R>(f: impl FnOnce() -> R) -> R {
    let r = f();
    // Keeps this frame from being a tail call, so it shows in backtraces.
    std::hint::black_box(());
    r
}

/// Installs the hook (idempotent).
pub(crate) fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if crate::cancel::is_ours(info.payload()) {
                // Cancels and deadlines unwind without the hook; a payload of
                // ours here means someone re-panicked with it: stay quiet.
                return;
            }
            let name = crate::hub::current_green_name()
                .map(|n| (n, "green"))
                .or_else(|| {
                    ACTING_FOR
                        .try_with(|a| a.borrow().as_ref().map(|c| c.name().map(String::from)))
                        .ok()
                        .flatten()
                        .map(|n| (n, "in unblock"))
                });
            match name {
                Some((name, what)) => print_green_panic(name.as_deref(), what, info),
                None => {
                    FIRST_PANIC_DONE.store(true, Ordering::Relaxed);
                    previous(info)
                }
            }
        }));
    });
}

/// std's message shape, with the green thread's name in place of the OS
/// thread's.
fn print_green_panic(name: Option<&str>, what: &str, info: &PanicHookInfo<'_>) {
    let name = name.unwrap_or("<unnamed>");
    let msg = payload_str(info.payload());
    let location = info
        .location()
        .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
        .unwrap_or_else(|| "<unknown>".into());
    let backtrace = Backtrace::capture();
    let full = std::env::var_os("RUST_BACKTRACE").is_some_and(|v| v == "full");
    let first = !FIRST_PANIC_DONE.swap(true, Ordering::Relaxed);
    let mut err = std::io::stderr().lock();
    let _ = writeln!(
        err,
        "\nthread '{name}' ({what}) panicked at {location}:\n{msg}"
    );
    match backtrace.status() {
        BacktraceStatus::Captured if full => {
            let _ = writeln!(err, "stack backtrace:\n{backtrace}");
        }
        BacktraceStatus::Captured => {
            let _ = write!(err, "stack backtrace:\n{}", short(&backtrace.to_string()));
            let _ = writeln!(
                err,
                "note: Some details are omitted, run with `RUST_BACKTRACE=full` for a \
                 verbose backtrace."
            );
        }
        BacktraceStatus::Disabled if first => {
            let _ = writeln!(
                err,
                "note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace"
            );
        }
        _ => {}
    }
}

/// std's short backtrace, from a full one's text: the frames between the
/// panic machinery (up to `__rust_end_short_backtrace`) and the thread's
/// entry (`begin_short_backtrace`, or std's `__rust_begin_short_backtrace`),
/// renumbered from 0.
fn short(full: &str) -> String {
    let mut frames: Vec<Vec<&str>> = Vec::new();
    for line in full.lines() {
        let head = line.trim_start();
        let numbered = head
            .split_once(':')
            .is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        match frames.last_mut() {
            Some(frame) if !numbered => frame.push(line),
            _ => frames.push(vec![line]),
        }
    }
    fn symbol<'a>(frame: &[&'a str]) -> &'a str {
        frame.first().copied().unwrap_or_default()
    }
    let start = frames
        .iter()
        .rposition(|f| symbol(f).contains("__rust_end_short_backtrace"))
        .map_or(0, |i| i + 1);
    let end = frames[start..]
        .iter()
        .position(|f| {
            let s = symbol(f);
            s.contains("begin_short_backtrace")
        })
        .map_or(frames.len(), |i| start + i);
    let mut out = String::new();
    for (n, frame) in frames[start..end].iter().enumerate() {
        for (k, line) in frame.iter().enumerate() {
            if k == 0 {
                let rest = line.trim_start().split_once(':').map_or("", |(_, r)| r);
                out.push_str(&format!("{n:4}:{rest}\n"));
            } else {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

/// A panic payload as text, for messages.
fn payload_str(payload: &(dyn std::any::Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "Box<dyn Any>"
    }
}

#[cfg(test)]
mod tests {
    use super::short;

    #[test]
    fn short_backtraces_keep_only_the_threads_own_frames() {
        let full = "   0: std::backtrace::Backtrace::capture\n\
                    \x20            at /rust/backtrace.rs:1:1\n\
                    \x20  1: green_core::panic_hook::print_green_panic\n\
                    \x20  2: std::sys::backtrace::__rust_end_short_backtrace\n\
                    \x20  3: core::panicking::panic_fmt\n\
                    \x20  4: user::work\n\
                    \x20            at src/main.rs:3:5\n\
                    \x20  5: green_core::panic_hook::begin_short_backtrace\n\
                    \x20  6: corosensei::coroutine_func\n";
        assert_eq!(
            short(full),
            "   0: core::panicking::panic_fmt\n   1: user::work\n             at src/main.rs:3:5\n"
        );
    }
}
