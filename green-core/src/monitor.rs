//! The monitor: one OS thread that watches the hubs (gevent's monitor
//! thread, eventlet's hub-blocking detection).
//!
//! * **Watchdog.** A hub whose switch count has not moved while it runs a
//!   green thread is stuck: that green thread computes, or blocks in
//!   something that is not green. Once it has held the hub for the
//!   threshold (`runtime::watchdog_threshold`, 100 ms by default), one line
//!   on stderr names it, its spawn site, its hub and how long it has run.
//! * **Spill.** While a worker hub is stuck, nothing new is placed on it
//!   (`hub::placement` skips it) and the spawns queued there, which have not
//!   started, move to another worker; if every worker is stuck one more is
//!   started (see `hub::workers`). Started green threads never move.
//! * **Dumps.** With `GREEN_DUMP_SIGNAL` set, that signal prints
//!   `dump::dump()` to stderr, from this thread.
//!
//! It ticks every half threshold (clamped to 10 ms – 500 ms; 50 ms with the
//! watchdog off) while any hub is active, and sleeps without a timeout while
//! none is: the first hub to resume a green thread after that wakes it
//! through a pipe. An idle process gets no wake-ups from it.

use std::collections::HashMap;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex, Once, Weak};
use std::time::{Duration, Instant};

use crate::hub::{self, HubShared};

/// Set while the monitor sleeps without a timeout; a hub that starts
/// running green threads then wakes it.
static DEEP: AtomicBool = AtomicBool::new(false);
/// The write end of the monitor's wake-up pipe (-1 before it starts).
static WAKE_FD: AtomicI32 = AtomicI32::new(-1);

/// Every hub that runs green threads.
static WATCHED: Mutex<Vec<Weak<HubShared>>> = Mutex::new(Vec::new());

/// Byte written to the pipe to wake the monitor.
const WAKE: u8 = b'w';
/// Byte written by the dump signal's handler.
const DUMP: u8 = b'd';

/// Adds a hub to the watch list (its first green thread is starting).
pub(crate) fn watch(hub: &Arc<HubShared>) {
    let mut watched = WATCHED.lock().unwrap_or_else(|p| p.into_inner());
    watched.retain(|w| w.strong_count() > 0);
    watched.push(Arc::downgrade(hub));
    drop(watched);
    start();
    poke();
}

/// Called by a hub as it resumes a green thread: wakes the monitor if it
/// sleeps for good. One relaxed load when it does not.
#[inline]
pub(crate) fn hub_awake() {
    if DEEP.load(Ordering::Relaxed) && DEEP.swap(false, Ordering::AcqRel) {
        poke();
    }
}

fn poke() {
    let fd = WAKE_FD.load(Ordering::Acquire);
    if fd >= 0 {
        crate::sys::write_byte(fd, WAKE);
    }
}

/// Starts the monitor thread (once).
pub(crate) fn start() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let (read_fd, write_fd) = match crate::sys::pipe() {
            Ok(fds) => fds,
            // Without a pipe there is no monitor; green threads still run.
            Err(_) => return,
        };
        WAKE_FD.store(write_fd, Ordering::Release);
        if let Some(sig) = crate::runtime::dump_signal() {
            crate::sys::on_signal_write(sig, write_fd, DUMP);
        }
        let started = std::thread::Builder::new()
            .name("green-monitor".into())
            .spawn(move || run(read_fd));
        if started.is_err() {
            WAKE_FD.store(-1, Ordering::Release);
        }
    });
}

/// What the monitor knows about one hub since its count last moved.
struct Seen {
    switches: u64,
    /// When the monitor first saw `switches` at this value.
    since: Instant,
    reported: bool,
}

fn interval() -> Duration {
    let threshold = crate::runtime::watchdog_threshold();
    if threshold.is_zero() {
        Duration::from_millis(50)
    } else {
        (threshold / 2).clamp(Duration::from_millis(10), Duration::from_millis(500))
    }
}

/// Every hub that runs (or ran) green threads and still exists.
pub(crate) fn hubs() -> Vec<Arc<HubShared>> {
    watched()
}

fn watched() -> Vec<Arc<HubShared>> {
    let watched = WATCHED.lock().unwrap_or_else(|p| p.into_inner());
    watched.iter().filter_map(Weak::upgrade).collect()
}

fn run(read_fd: i32) -> ! {
    let mut seen: HashMap<usize, Seen> = HashMap::new();
    let mut active = true;
    loop {
        let timeout = if active {
            Some(interval())
        } else {
            DEEP.store(true, Ordering::SeqCst);
            // A hub may have resumed a green thread just before DEEP was
            // set: look once more before sleeping for good.
            if watched()
                .iter()
                .any(|h| h.running.load(Ordering::SeqCst) != 0)
            {
                DEEP.store(false, Ordering::SeqCst);
                Some(interval())
            } else {
                None
            }
        };
        let bytes = crate::sys::wait_readable_and_drain(read_fd, timeout);
        DEEP.store(false, Ordering::SeqCst);
        if bytes.contains(&DUMP) {
            let dump = crate::dump::dump();
            let _ = write!(std::io::stderr().lock(), "{dump}");
        }
        let now = Instant::now();
        crate::dump::tick_clock(now);
        active = false;
        let hubs = watched();
        seen.retain(|id, _| hubs.iter().any(|h| h.id == *id));
        for hub in &hubs {
            active |= check(hub, &mut seen, now);
        }
    }
}

/// Looks at one hub; returns whether it was active since the last tick.
fn check(hub: &Arc<HubShared>, seen: &mut HashMap<usize, Seen>, now: Instant) -> bool {
    let switches = hub.switches.load(Ordering::Relaxed);
    let running = hub.running.load(Ordering::Relaxed);
    let entry = seen.entry(hub.id).or_insert(Seen {
        switches: switches.wrapping_sub(1),
        since: now,
        reported: false,
    });
    if running == 0 || switches != entry.switches {
        // Moving (or idle): not stuck.
        let moved = switches != entry.switches;
        *entry = Seen {
            switches,
            since: now,
            reported: false,
        };
        // It came back (if it was stuck): placement may use it again.
        hub.stuck.store(false, Ordering::Relaxed);
        return moved || running != 0;
    }
    // The same resume is still running: held for at least `since`.
    let held = now.saturating_duration_since(entry.since);
    if held >= interval() && hub.worker.load(Ordering::Relaxed) {
        hub.stuck.store(true, Ordering::Relaxed);
        spill(hub);
    }
    let threshold = crate::runtime::watchdog_threshold();
    if !threshold.is_zero() && held >= threshold && !entry.reported {
        entry.reported = true;
        report(hub, running, held);
    }
    true
}

/// Moves the spawns queued on a stuck worker hub to one that is not stuck.
fn spill(stuck: &Arc<HubShared>) {
    while stuck.has_spawns() {
        let target = hub::worker_hubs()
            .into_iter()
            .find(|h| !Arc::ptr_eq(h, stuck) && !h.stuck.load(Ordering::Relaxed))
            .or_else(hub::add_worker_if_all_stuck);
        let Some(target) = target else {
            return; // every worker stuck and no more may start
        };
        let Some(spawn) = stuck.take_spawn() else {
            return;
        };
        target.send_spawn(spawn);
    }
}

/// The watchdog's line for one episode.
fn report(hub: &HubShared, running: u64, held: Duration) {
    let who = crate::dump::find(running);
    let others = hub.load().saturating_sub(1);
    let mut line = format!("green: green thread {running}");
    if let Some((name, at)) = &who {
        if let Some(name) = name {
            line.push_str(&format!(" '{name}'"));
        }
        line.push_str(&format!(" (spawned at {at})"));
    }
    line.push_str(&format!(
        " has held hub {} for {} ms so far without switching; {others} other green threads \
         there wait. Something that is not green blocks it (std::thread::sleep, \
         std::sync, std::net, a C library) or it computes: use green's types, \
         green::rt::unblock, or thread::yield_now",
        hub.id,
        held.as_millis(),
    ));
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}
