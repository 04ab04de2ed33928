//! `nanosleep`, `clock_nanosleep`, `sleep` and `usleep`: on a green thread
//! the hub's timer (`crate::time`), never returning early unless a caught
//! signal interrupts them (see `signals`). Off green
//! threads: the kernel's `nanosleep`/`clock_nanosleep`, and libc's own
//! `sleep`/`usleep` (found with `dlsym(RTLD_NEXT)`).

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use libc::{c_int, c_uint, clockid_t, timespec, useconds_t};

use super::{finish, green_here, raw, set_errno};

/// `ts` as a duration, or `None` when nanosleep(2) would say `EINVAL`.
fn duration(ts: &timespec) -> Option<Duration> {
    if ts.tv_sec < 0 || !(0..1_000_000_000).contains(&ts.tv_nsec) {
        return None;
    }
    Some(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
}

/// Sleeps the running green thread until `deadline` (forever for
/// `None`); not a cancellation point. A caught signal (see `signals`) ends
/// it early, as it ends the kernel's sleeps whatever `SA_RESTART` says:
/// then `Some` of the time that was left.
pub(super) fn green_sleep_until(deadline: Option<Instant>) -> Option<Duration> {
    if deadline.is_some_and(|d| Instant::now() >= d) {
        crate::coop::consume();
        return None;
    }
    let Some(watch) = super::signals::watch(false) else {
        crate::cancel::uncancellable(|| match deadline {
            Some(d) => crate::time::sleep_until(d),
            None => loop {
                crate::time::sleep(Duration::MAX);
            },
        });
        return None;
    };
    let detail = deadline.map_or(u32::MAX, crate::dump::ms_of);
    crate::cancel::uncancellable(|| loop {
        let now = Instant::now();
        if deadline.is_some_and(|d| now >= d) {
            return None;
        }
        if watch.hit() {
            return Some(deadline.map_or(Duration::MAX, |d| d - now));
        }
        crate::hub::park_at(&crate::dump::SLEEP, detail, deadline);
    })
}

/// `green_sleep_until` for `dur` from now.
fn green_sleep(dur: Duration) -> Option<Duration> {
    green_sleep_until(Instant::now().checked_add(dur))
}

/// `dur` as a timespec (saturating at the largest `time_t`).
fn timespec_of(dur: Duration) -> timespec {
    timespec {
        tv_sec: libc::time_t::try_from(dur.as_secs()).unwrap_or(libc::time_t::MAX),
        tv_nsec: libc::c_long::from(dur.subsec_nanos() as i32),
    }
}

/// `nanosleep(2)`, on the hub's timer on a green thread. A caught signal
/// interrupts it: `EINTR`, with the time left in `rem` (if not null).
///
/// # Safety
///
/// nanosleep(2)'s contract: `req` valid for reads, `rem` null or valid for
/// writes.
#[no_mangle]
pub unsafe extern "C" fn nanosleep(req: *const timespec, rem: *mut timespec) -> c_int {
    if green_here() {
        // SAFETY: `req` is null or valid per the caller.
        match unsafe { req.as_ref() }.map(duration) {
            Some(Some(dur)) => {
                let Some(left) = green_sleep(dur) else {
                    return 0;
                };
                if !rem.is_null() {
                    // SAFETY: `rem` is valid for writes, per the caller.
                    unsafe { rem.write(timespec_of(left)) };
                }
                return finish(Err(libc::EINTR)) as c_int;
            }
            Some(None) => return finish(Err(libc::EINVAL)) as c_int,
            None => {}
        }
    }
    // SAFETY: the caller's contract is nanosleep(2)'s.
    finish(unsafe {
        raw::call(
            libc::SYS_nanosleep,
            [req as usize, rem as usize, 0, 0, 0, 0],
        )
    }) as c_int
}

/// The time of `clock` now.
fn clock_now(clock: clockid_t) -> Option<timespec> {
    let mut now = timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is valid for writes.
    (unsafe { libc::clock_gettime(clock, &mut now) } == 0).then_some(now)
}

/// `clock_nanosleep(2)`, on the hub's timer on a green thread for
/// `CLOCK_MONOTONIC`, `CLOCK_BOOTTIME` and `CLOCK_REALTIME`, relative or
/// absolute (an absolute realtime sleep is turned into a duration when it
/// starts: a clock step while it sleeps does not move it). Like
/// clock_nanosleep(3), it returns the error number instead of setting
/// `errno`.
///
/// # Safety
///
/// clock_nanosleep(2)'s contract.
#[no_mangle]
pub unsafe extern "C" fn clock_nanosleep(
    clock: clockid_t,
    flags: c_int,
    req: *const timespec,
    rem: *mut timespec,
) -> c_int {
    let ours = matches!(
        clock,
        libc::CLOCK_MONOTONIC | libc::CLOCK_REALTIME | libc::CLOCK_BOOTTIME
    );
    if green_here() && ours && (flags & !libc::TIMER_ABSTIME) == 0 {
        // SAFETY: `req` is null or valid per the caller.
        if let Some(req) = unsafe { req.as_ref() } {
            let Some(dur) = duration(req) else {
                return libc::EINVAL;
            };
            if flags & libc::TIMER_ABSTIME == 0 {
                let Some(left) = green_sleep(dur) else {
                    return 0;
                };
                if !rem.is_null() {
                    // SAFETY: `rem` is valid for writes, per the caller.
                    unsafe { rem.write(timespec_of(left)) };
                }
                return libc::EINTR;
            }
            if let Some(now) = clock_now(clock).as_ref().and_then(duration) {
                // An absolute sleep leaves `rem` alone when interrupted.
                if green_sleep(dur.saturating_sub(now)).is_some() {
                    return libc::EINTR;
                }
                // Never early: the clock may lag the hub's timer by a tick.
                while clock_now(clock)
                    .as_ref()
                    .and_then(duration)
                    .is_some_and(|n| n < dur)
                {
                    if green_sleep(Duration::from_micros(50)).is_some() {
                        return libc::EINTR;
                    }
                }
                return 0;
            }
        }
    }
    // SAFETY: the caller's contract is clock_nanosleep(2)'s.
    let r = unsafe {
        raw::call(
            libc::SYS_clock_nanosleep,
            [
                clock as usize,
                flags as usize,
                req as usize,
                rem as usize,
                0,
                0,
            ],
        )
    };
    match r {
        Ok(_) => 0,
        Err(e) => e,
    }
}

/// libc's own definition of `name`, found past this executable.
pub(super) fn next(name: &std::ffi::CStr) -> usize {
    // SAFETY: `name` is NUL-terminated; RTLD_NEXT searches the objects
    // loaded after the executable (libc).
    unsafe { libc::dlsym(libc::RTLD_NEXT, name.as_ptr()) as usize }
}

/// `sleep(3)`: seconds on the hub's timer on a green thread. A caught
/// signal ends it early: then the seconds left, rounded to the nearest, as
/// glibc's `sleep` returns them.
///
/// # Safety
///
/// None beyond sleep(3)'s.
#[no_mangle]
pub unsafe extern "C" fn sleep(seconds: c_uint) -> c_uint {
    if green_here() {
        return match green_sleep(Duration::from_secs(u64::from(seconds))) {
            None => 0,
            Some(left) => {
                set_errno(libc::EINTR);
                let round = u64::from(left.subsec_nanos() >= 500_000_000);
                c_uint::try_from(left.as_secs() + round).unwrap_or(seconds)
            }
        };
    }
    static REAL: OnceLock<usize> = OnceLock::new();
    let real = *REAL.get_or_init(|| next(c"sleep"));
    if real == 0 {
        let ts = timespec {
            tv_sec: seconds as libc::time_t,
            tv_nsec: 0,
        };
        // SAFETY: a valid timespec.
        let _ = unsafe {
            raw::call(
                libc::SYS_nanosleep,
                [std::ptr::from_ref(&ts) as usize, 0, 0, 0, 0, 0],
            )
        };
        return 0;
    }
    // SAFETY: `real` is libc's `sleep`, which has this signature.
    let real: unsafe extern "C" fn(c_uint) -> c_uint = unsafe { std::mem::transmute(real) };
    // SAFETY: as sleep(3).
    unsafe { real(seconds) }
}

/// `usleep(3)`: microseconds on the hub's timer on a green thread; a
/// caught signal ends it early with `EINTR`.
///
/// # Safety
///
/// None beyond usleep(3)'s.
#[no_mangle]
pub unsafe extern "C" fn usleep(usec: useconds_t) -> c_int {
    if green_here() {
        return match green_sleep(Duration::from_micros(u64::from(usec))) {
            None => 0,
            Some(_) => finish(Err(libc::EINTR)) as c_int,
        };
    }
    static REAL: OnceLock<usize> = OnceLock::new();
    let real = *REAL.get_or_init(|| next(c"usleep"));
    if real == 0 {
        let ts = timespec {
            tv_sec: (usec / 1_000_000) as libc::time_t,
            tv_nsec: ((usec % 1_000_000) * 1000) as libc::c_long,
        };
        // SAFETY: a valid timespec.
        let r = unsafe {
            raw::call(
                libc::SYS_nanosleep,
                [std::ptr::from_ref(&ts) as usize, 0, 0, 0, 0, 0],
            )
        };
        return finish(r.map(|_| 0)) as c_int;
    }
    // SAFETY: `real` is libc's `usleep`, which has this signature.
    let real: unsafe extern "C" fn(useconds_t) -> c_int = unsafe { std::mem::transmute(real) };
    // SAFETY: as usleep(3).
    unsafe { real(usec) }
}
