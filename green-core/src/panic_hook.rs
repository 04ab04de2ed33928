//! The panic hook: names the green thread in panic messages.
//!
//! Installed once, wrapping whatever hook was set before. Panics outside green
//! threads go to the previous hook untouched.

use std::backtrace::{Backtrace, BacktraceStatus};
use std::io::Write;
use std::panic::{self, PanicHookInfo};
use std::sync::Once;

/// Installs the hook (idempotent).
pub(crate) fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
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
    let msg = payload_str(info.payload());
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
