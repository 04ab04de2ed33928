//! The panic hook: names the green thread in panic messages, hides
//! `generator`'s control-flow panics, and stays silent while a stack is being
//! mapped (a failed `mmap` panics inside `generator`, and printing a backtrace
//! then needs memory the process no longer has — deps.md saw that hang).
//!
//! Installed once, wrapping whatever hook was set before. Panics outside green
//! threads go to the previous hook untouched.

use std::backtrace::{Backtrace, BacktraceStatus};
use std::cell::Cell;
use std::io::Write;
use std::panic::{self, PanicHookInfo};
use std::sync::Once;

thread_local! {
    /// Set while this OS thread maps a stack: panics are caught and reported
    /// by the caller, so the hook prints nothing.
    static SILENT: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with panic messages suppressed on this OS thread.
pub(crate) fn silenced<R>(f: impl FnOnce() -> R) -> R {
    install();
    let was = SILENT.with(|s| s.replace(true));
    let r = f();
    SILENT.with(|s| s.set(was));
    r
}

/// Installs the hook (idempotent).
pub(crate) fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if SILENT.with(Cell::get) || crate::stack::is_control_payload(info.payload()) {
                return;
            }
            match crate::hub::current_green_name() {
                Some(name) => print_green_panic(name.as_deref(), info),
                None => previous(info),
            }
        }));
    });
}

/// std's message shape, with the green thread's name in place of the OS
/// thread's.
fn print_green_panic(name: Option<&str>, info: &PanicHookInfo<'_>) {
    let name = name.unwrap_or("<unnamed>");
    let msg = crate::stack::payload_str(info.payload());
    let location = info
        .location()
        .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
        .unwrap_or_else(|| "<unknown>".into());
    let backtrace = Backtrace::capture();
    let mut err = std::io::stderr().lock();
    let _ = writeln!(
        err,
        "\nthread '{name}' (green) panicked at {location}:\n{msg}"
    );
    match backtrace.status() {
        BacktraceStatus::Captured => {
            let _ = writeln!(err, "stack backtrace:\n{backtrace}");
        }
        BacktraceStatus::Disabled => {
            let _ = writeln!(
                err,
                "note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace"
            );
        }
        _ => {}
    }
}
