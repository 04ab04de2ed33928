//! Green-thread stacks as forgiving as std's: many live threads without
//! raising kernel limits, std-sized stacks for real crates, every failure
//! to get a stack reported by `Builder::spawn`, std's overflow reports kept
//! for OS threads, and the pages of deep stacks handed back.
//!
//! Tests that need a fresh process (a fallback guard mode, an address-space
//! limit, a bad setting, an overflow) run as child processes.

use std::hint::black_box;
use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use green_conformance::{
    eventually, mappings, run_child, run_test_in_child, run_test_in_child_with_address_limit,
    spawn_until_refused, status_kib, Flavor,
};
use green_core::runtime::{self, GuardKind};
use rstest::rstest;

/// Set in a child process: the test it names runs its child half.
const CHILD: &str = "GREEN_TEST_STACK_CHILD";

fn in_child() -> bool {
    std::env::var_os(CHILD).is_some()
}

const CHILD_LIMIT: Duration = Duration::from_secs(120);

/// 100,000 parked green threads at the kernel's default map limit: with
/// `MADV_GUARD_INSTALL` guards the process's mapping count does not grow
/// with them, and all of them run and join.
#[test]
fn a_hundred_thousand_live_green_threads_without_raising_limits() {
    const N: usize = 100_000;
    if runtime::stack_guards() == GuardKind::Mprotect {
        println!("skipped: no MADV_GUARD_INSTALL here; the fallback has its own test");
        return;
    }
    let maps_before = mappings();
    let started = Arc::new(AtomicUsize::new(0));
    let go = Arc::new(AtomicBool::new(false));
    let handles: Vec<_> = (0..N)
        .map(|i| {
            let (started, go) = (started.clone(), go.clone());
            green_core::thread::spawn(move || {
                started.fetch_add(1, Ordering::SeqCst);
                while !go.load(Ordering::SeqCst) {
                    green_core::thread::park();
                }
                i
            })
        })
        .collect();
    assert!(
        eventually(Flavor::GreenPlain, CHILD_LIMIT, || started
            .load(Ordering::SeqCst)
            == N),
        "only {} of {N} green threads started",
        started.load(Ordering::SeqCst)
    );
    let grown = mappings().saturating_sub(maps_before);
    assert!(
        grown < 200,
        "{N} live green threads added {grown} kernel mappings; guards must cost none"
    );
    go.store(true, Ordering::SeqCst);
    let mut sum = 0;
    for h in handles {
        h.thread().unpark();
        sum += h.join().unwrap();
    }
    assert_eq!(sum, N * (N - 1) / 2);
}

/// A 4 MiB gzip round trip with flate2, which overflowed the old 64 KiB
/// default, on the default stack (this is a debug build, where it needs
/// about 300 KiB).
#[test]
fn a_gzip_round_trip_fits_the_default_stack() {
    let h = green_core::thread::spawn(|| {
        let data: Vec<u8> = (0..4u32 << 20)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8 & 0x3f)
            .collect();
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(&data).unwrap();
        let packed = enc.finish().unwrap();
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&packed[..])
            .read_to_end(&mut back)
            .unwrap();
        assert!(packed.len() < data.len());
        back == data
    });
    assert!(h.join().expect("the gzip green thread"));
}

/// Stack sizes no machine can give fail at `Builder::spawn` with the error
/// kind std gives, and nothing else is disturbed.
#[rstest]
#[case::a_terabyte(1 << 40, io::ErrorKind::WouldBlock)]
#[case::usize_max(usize::MAX, io::ErrorKind::InvalidInput)]
fn impossible_stack_sizes_fail_at_spawn_like_std(#[case] size: usize, #[case] kind: io::ErrorKind) {
    let std_err = std::thread::Builder::new()
        .stack_size(size)
        .spawn(|| ())
        .map(|h| h.join())
        .expect_err("std refuses this stack");
    assert_eq!(std_err.kind(), kind, "std: {std_err}");
    let ran = Arc::new(AtomicBool::new(false));
    let flag = ran.clone();
    let green_err = green_core::thread::Builder::new()
        .stack_size(size)
        .spawn(move || flag.store(true, Ordering::SeqCst))
        .map(|h| h.join())
        .expect_err("green refuses this stack");
    assert_eq!(green_err.kind(), std_err.kind(), "green: {green_err}");
    assert!(
        !ran.load(Ordering::SeqCst),
        "the refused thread must not run"
    );
    // The refusal cost nothing: spawning goes on as before.
    assert_eq!(green_core::thread::spawn(|| 7).join().unwrap(), 7);
}

/// Under `ulimit -v`, green threads are accepted until the address space is
/// spent, then `Builder::spawn` fails with std's kind; every accepted thread
/// ran. A stack bigger than what is left fails the same way on std and green.
#[test]
fn an_address_space_limit_fails_at_spawn() {
    if in_child() {
        let std_err = std::thread::Builder::new()
            .stack_size(2 << 30)
            .spawn(|| ())
            .expect_err("std: a 2 GiB stack under a 1.5 GiB limit");
        let green_err = green_core::thread::Builder::new()
            .stack_size(2 << 30)
            .spawn(|| ())
            .expect_err("green: a 2 GiB stack under a 1.5 GiB limit");
        assert_eq!(green_err.kind(), std_err.kind(), "{green_err} / {std_err}");
        let (accepted, err) = spawn_until_refused(1_000_000);
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock, "{err}");
        assert!(accepted > 100, "refused after only {accepted}: {err}");
        println!("CHILD OK: accepted {accepted}, then: {err}");
        return;
    }
    let run = run_test_in_child_with_address_limit(
        "an_address_space_limit_fails_at_spawn",
        &[(CHILD, "1")],
        1536 * 1024,
        CHILD_LIMIT,
    );
    assert!(
        run.status.is_some_and(|s| s.success()) && run.stdout.contains("CHILD OK"),
        "child under ulimit -v: {:?}\nstdout:\n{}\nstderr:\n{}",
        run.status,
        run.stdout,
        run.stderr
    );
}

/// `GREEN_STACK_SIZE=1000g` cannot be had here: every spawn says so, as
/// std would for such a stack, instead of accepting threads that never run.
#[test]
fn an_impossible_default_stack_size_fails_every_spawn() {
    if in_child() {
        let err = green_core::thread::Builder::new()
            .spawn(|| ())
            .expect_err("a 1000 GiB default stack");
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock, "{err}");
        let msg = green_conformance::panic_message(|| green_core::thread::spawn(|| ()));
        assert!(msg.contains("failed to spawn thread"), "{msg}");
        // An explicit size still works.
        let h = green_core::thread::Builder::new()
            .stack_size(64 << 10)
            .spawn(|| 5)
            .unwrap();
        assert_eq!(h.join().unwrap(), 5);
        println!("CHILD OK");
        return;
    }
    let run = run_test_in_child(
        "an_impossible_default_stack_size_fails_every_spawn",
        &[(CHILD, "1"), ("GREEN_STACK_SIZE", "1000g")],
        CHILD_LIMIT,
    );
    assert!(
        run.status.is_some_and(|s| s.success()) && run.stdout.contains("CHILD OK"),
        "{:?}\nstdout:\n{}\nstderr:\n{}",
        run.status,
        run.stdout,
        run.stderr
    );
}

/// The fallback for kernels without `MADV_GUARD_INSTALL` (forced with
/// `GREEN_STACK_GUARD=mprotect`): guards cost two mappings each, and past
/// the budget derived from `vm.max_map_count` `Builder::spawn` refuses with
/// `OutOfMemory` naming the limit. Nothing crashes, every accepted thread
/// ran, and spawning works again afterwards.
#[test]
fn mprotect_guards_are_bounded_by_the_map_budget() {
    if in_child() {
        assert_eq!(runtime::stack_guards(), GuardKind::Mprotect);
        assert_eq!(runtime::maps_per_stack(), 2);
        let budget = runtime::stack_budget();
        if budget > 60_000 {
            println!("CHILD OK: skipped, vm.max_map_count was raised (budget {budget})");
            return;
        }
        let (accepted, err) = spawn_until_refused(budget + 10_000);
        assert_eq!(err.kind(), io::ErrorKind::OutOfMemory, "{err}");
        assert!(err.to_string().contains("vm.max_map_count"), "{err}");
        assert!(
            accepted + 64 >= budget,
            "refused at {accepted}, well before the budget {budget}"
        );
        let h = green_core::thread::spawn(|| 5);
        assert_eq!(h.join().unwrap(), 5);
        println!("CHILD OK: accepted {accepted} of a budget of {budget}");
        return;
    }
    let run = run_test_in_child(
        "mprotect_guards_are_bounded_by_the_map_budget",
        &[(CHILD, "1"), ("GREEN_STACK_GUARD", "mprotect")],
        CHILD_LIMIT,
    );
    assert!(
        run.status.is_some_and(|s| s.success()) && run.stdout.contains("CHILD OK"),
        "{:?}\nstdout:\n{}\nstderr:\n{}",
        run.status,
        run.stdout,
        run.stderr
    );
    println!(
        "{}",
        run.stdout
            .lines()
            .find(|l| l.contains("CHILD OK"))
            .unwrap_or("")
    );
}

fn deep(frames: usize) -> u8 {
    let buf = black_box([frames as u8; 4096]);
    if frames == 0 {
        buf[0]
    } else {
        black_box(deep(frames - 1).wrapping_add(buf[100]))
    }
}

/// A burst of green threads that each went about 200 KiB deep leaves their pages
/// resident only until the hubs have idled a moment: the stacks go back to
/// the pool, and their deep pages go back to the kernel.
#[test]
fn deep_pages_of_finished_stacks_are_returned() {
    const THREADS: usize = 300;
    if in_child() {
        let before = status_kib("VmRSS:");
        let handles: Vec<_> = (0..THREADS)
            .map(|_| {
                green_core::thread::spawn(|| {
                    let got = deep(40);
                    // Stay alive until all have gone deep, so each has its
                    // own stack.
                    green_core::thread::sleep(Duration::from_millis(300));
                    got
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let peak = status_kib("VmHWM:").saturating_sub(before);
        assert!(
            peak > THREADS * 150,
            "the deep threads touched only {peak} KiB; the test measures nothing"
        );
        // Bounded, not timed: warm stacks may keep their top 32 KiB.
        let bound = THREADS * 40 + 8 * 1024;
        let returned = eventually(Flavor::GreenPlain, Duration::from_secs(60), || {
            status_kib("VmRSS:").saturating_sub(before) < bound
        });
        let now = status_kib("VmRSS:").saturating_sub(before);
        assert!(
            returned,
            "{now} KiB still resident after the burst (peak {peak} KiB, bound {bound} KiB)"
        );
        println!("CHILD OK: peak +{peak} KiB, after trimming +{now} KiB");
        return;
    }
    let run = run_test_in_child(
        "deep_pages_of_finished_stacks_are_returned",
        &[(CHILD, "1")],
        CHILD_LIMIT,
    );
    assert!(
        run.status.is_some_and(|s| s.success()) && run.stdout.contains("CHILD OK"),
        "{:?}\nstdout:\n{}\nstderr:\n{}",
        run.status,
        run.stdout,
        run.stderr
    );
    println!(
        "{}",
        run.stdout
            .lines()
            .find(|l| l.contains("CHILD OK"))
            .unwrap_or("")
    );
}

/// Overflows after green threads have run: a green thread's report names
/// it; an OS thread's and `main`'s are std's own, with std's exit status
/// (SIGABRT), under both backtrace settings.
#[rstest]
#[case::main("main", "thread 'main'")]
#[case::os_thread("thread", "thread 'deep'")]
#[case::green_thread("green", "thread 'deep-green' (green thread")]
fn stack_overflows_are_reported_like_std(#[case] which: &str, #[case] names: &str) {
    use std::os::unix::process::ExitStatusExt;
    for backtrace in ["0", "1"] {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_overflow"));
        cmd.arg(which).env("RUST_BACKTRACE", backtrace);
        let run = run_child(cmd, Duration::from_secs(30));
        let status = run.status.unwrap_or_else(|| {
            panic!(
                "{which}: the process hung after overflowing\nstderr:\n{}",
                run.stderr
            )
        });
        assert_eq!(
            status.signal(),
            Some(6),
            "{which}: std aborts on overflow ({status:?})\nstderr:\n{}",
            run.stderr
        );
        assert!(
            run.stderr.contains(names) && run.stderr.contains("has overflowed its stack"),
            "{which}: the report must be std's, naming {names}\nstderr:\n{}",
            run.stderr
        );
        assert!(
            run.stderr
                .contains("fatal runtime error: stack overflow, aborting"),
            "{which}: std's last line\nstderr:\n{}",
            run.stderr
        );
        assert!(!run.stdout.contains("survived"));
    }
}

/// `runtime::stack_resident` (green's extension) is `None` off green
/// threads and follows a green thread's depth on a stack of its own.
#[test]
fn stack_resident_follows_the_depth() {
    assert_eq!(runtime::stack_resident(), None);
    let (shallow, after_deep) = green_core::thread::Builder::new()
        .stack_size(32 << 20) // a class no other test uses: a fresh stack
        .spawn(|| {
            let shallow = runtime::stack_resident().unwrap();
            black_box(deep(20));
            (shallow, runtime::stack_resident().unwrap())
        })
        .unwrap()
        .join()
        .unwrap();
    assert!(shallow >= 4096, "{shallow}");
    assert!(
        after_deep >= shallow + 20 * 4096,
        "{shallow} -> {after_deep}"
    );
}
