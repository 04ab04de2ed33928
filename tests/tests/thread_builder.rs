//! `thread::Builder`: names, stack sizes, the NUL-name panic, `spawn_scoped`;
//! plus the green stack-overflow report (checked in a child process, since
//! it aborts).

use std::hint::black_box;
use std::time::Duration;

use green_conformance::{panic_message, run_test_in_child, Flavor};
use rstest::rstest;

#[rstest]
#[case::std(Flavor::Std)]
#[case::green_plain(Flavor::GreenPlain)]
#[case::green_in_green(Flavor::GreenInGreen)]
fn name_is_visible_inside_and_through_the_handle(#[case] flavor: Flavor) {
    flavor.run(move || {
        let h = flavor
            .builder()
            .name("worker-7".to_string())
            .spawn(move || flavor.current().name().map(str::to_owned))
            .unwrap();
        assert_eq!(h.thread().name(), Some("worker-7"));
        assert_eq!(h.join().unwrap().as_deref(), Some("worker-7"));
    });
}

#[rstest]
#[case::std(Flavor::Std)]
#[case::green_plain(Flavor::GreenPlain)]
#[case::green_in_green(Flavor::GreenInGreen)]
fn unnamed_threads_have_no_name(#[case] flavor: Flavor) {
    flavor.run(move || {
        let h = flavor.spawn(move || flavor.current().name().map(str::to_owned));
        assert_eq!(h.thread().name(), None);
        assert_eq!(h.join().unwrap(), None);

        let b = flavor
            .builder()
            .spawn(move || flavor.current().name().map(str::to_owned))
            .unwrap();
        assert_eq!(b.thread().name(), None);
        assert_eq!(b.join().unwrap(), None);
    });
}

#[rstest]
#[case::std(Flavor::Std)]
#[case::green_plain(Flavor::GreenPlain)]
#[case::green_in_green(Flavor::GreenInGreen)]
fn unicode_names_round_trip(#[case] flavor: Flavor) {
    flavor.run(move || {
        let name = "grün-スレッド-🧵".to_string();
        let h = flavor
            .builder()
            .name(name.clone())
            .spawn(move || flavor.current().name().map(str::to_owned))
            .unwrap();
        assert_eq!(h.thread().name(), Some(name.as_str()));
        assert_eq!(h.join().unwrap(), Some(name));
    });
}

#[rstest]
#[case::std(Flavor::Std)]
#[case::green_plain(Flavor::GreenPlain)]
#[case::green_in_green(Flavor::GreenInGreen)]
fn a_name_with_nul_panics_with_std_message(#[case] flavor: Flavor) {
    flavor.run(move || {
        let msg = panic_message(|| {
            flavor
                .builder()
                .name("bad\0name".to_string())
                .spawn(|| ())
                .map(|h| h.join())
        });
        assert!(
            msg.contains("thread name may not contain interior null bytes"),
            "unexpected panic message: {msg:?}"
        );
        // The spawner is unharmed.
        assert_eq!(flavor.spawn(|| 3).join().unwrap(), 3);
    });
}

/// Recurses `depth` times with a 4 KiB buffer per frame that the optimiser
/// cannot remove: uses at least `depth * 4 KiB` of stack.
fn deep(depth: u32) -> u64 {
    let mut buf = [0u8; 4096];
    buf[depth as usize % 4096] = depth as u8;
    let buf = black_box(buf);
    if depth == 0 {
        return u64::from(buf[0]);
    }
    let below = deep(depth - 1);
    black_box(below + u64::from(buf[depth as usize % 4096]))
}

#[rstest]
#[case::std(Flavor::Std)]
#[case::green_plain(Flavor::GreenPlain)]
#[case::green_in_green(Flavor::GreenInGreen)]
fn stack_size_is_honoured(#[case] flavor: Flavor) {
    flavor.run(move || {
        // 50 frames of at least 4 KiB: about 200 KiB of stack, far past the
        // green default of 64 KiB, well inside 1 MiB.
        let h = flavor
            .builder()
            .stack_size(1024 * 1024)
            .spawn(|| deep(50))
            .unwrap();
        let expected: u64 = (1..=50u64).map(|d| d % 256).sum();
        assert_eq!(h.join().unwrap(), expected);
    });
}

#[rstest]
#[case::std(Flavor::Std)]
#[case::green_plain(Flavor::GreenPlain)]
#[case::green_in_green(Flavor::GreenInGreen)]
fn many_big_stacks_at_once(#[case] flavor: Flavor) {
    flavor.run(move || {
        // Several 1 MiB stacks alive together, each used deeply while the
        // others wait (a green hub must not mix them up).
        let handles: Vec<_> = (0..8u32)
            .map(|i| {
                flavor
                    .builder()
                    .stack_size(1024 * 1024)
                    .spawn(move || {
                        let a = deep(20 + i);
                        flavor.sleep(Duration::from_millis(2));
                        let b = deep(40);
                        (a, b)
                    })
                    .unwrap()
            })
            .collect();
        for (i, h) in (0..8u32).zip(handles) {
            let (a, b) = h.join().unwrap();
            assert_eq!(a, (1..=u64::from(20 + i)).map(|d| d % 256).sum::<u64>());
            assert_eq!(b, (1..=40u64).map(|d| d % 256).sum::<u64>());
        }
    });
}

#[rstest]
#[case::std(Flavor::Std)]
#[case::green_plain(Flavor::GreenPlain)]
#[case::green_in_green(Flavor::GreenInGreen)]
fn a_tiny_stack_size_is_rounded_up(#[case] flavor: Flavor) {
    flavor.run(move || {
        let h = flavor
            .builder()
            .stack_size(1)
            .spawn(|| black_box(2u32) + 1)
            .unwrap();
        assert_eq!(h.join().unwrap(), 3);
    });
}

#[rstest]
#[case::std(Flavor::Std)]
#[case::green_plain(Flavor::GreenPlain)]
#[case::green_in_green(Flavor::GreenInGreen)]
fn builder_spawn_scoped_borrows_and_names(#[case] flavor: Flavor) {
    flavor.run(move || {
        let words = ["a".to_string(), "bb".to_string(), "ccc".to_string()];
        let mut total = 0;
        flavor.scope(|s| {
            let h = flavor
                .builder()
                .name("scoped-named".to_string())
                .spawn_scoped(s, || {
                    let me = flavor.current();
                    (
                        me.name().map(str::to_owned),
                        words.iter().map(String::len).sum::<usize>(),
                    )
                })
                .unwrap();
            assert_eq!(h.thread().name(), Some("scoped-named"));
            let (name, len) = h.join().unwrap();
            assert_eq!(name.as_deref(), Some("scoped-named"));
            total = len;
        });
        assert_eq!(total, 6);
        assert_eq!(words.len(), 3);
    });
}

#[test]
fn builder_debug_and_default() {
    let b = green_core::thread::Builder::new().name("dbg".into());
    let shown = format!("{b:?}");
    assert!(shown.starts_with("Builder"), "{shown}");
    assert!(shown.contains("dbg"), "{shown}");
}

#[test]
fn builder_debug_matches_std() {
    let std_b = std::thread::Builder::new()
        .name("dbg".into())
        .stack_size(1 << 20);
    let green_b = green_core::thread::Builder::new()
        .name("dbg".into())
        .stack_size(1 << 20);
    assert_eq!(format!("{green_b:?}"), format!("{std_b:?}"));
    assert_eq!(
        format!("{:?}", green_core::thread::Builder::new()),
        format!("{:?}", std::thread::Builder::new())
    );
}

/// Environment variable that turns the test below into the child process
/// that overflows.
const OVERFLOW_CHILD: &str = "GREEN_TEST_OVERFLOW_CHILD";

/// In the child: a named green thread with a 64 KiB stack recurses until it
/// overflows. In the parent (default run): runs itself as the child and
/// checks the process died (not a clean exit) after printing a report that
/// names the green thread and says its stack overflowed.
#[test]
fn stack_overflow_names_the_green_thread_and_aborts() {
    if std::env::var_os(OVERFLOW_CHILD).is_some() {
        #[allow(unconditional_recursion)]
        fn forever(n: u64) -> u64 {
            let buf = black_box([n as u8; 1024]);
            black_box(forever(n + 1) + u64::from(buf[0]))
        }
        let h = green_core::thread::Builder::new()
            .name("overflowing-green".into())
            .stack_size(64 * 1024)
            .spawn(|| forever(0))
            .unwrap();
        let _ = h.join();
        // Not reached when the overflow aborts the process.
        println!("child survived the overflow");
        return;
    }
    for backtrace in ["0", "1"] {
        let run = run_test_in_child(
            "stack_overflow_names_the_green_thread_and_aborts",
            &[(OVERFLOW_CHILD, "1"), ("RUST_BACKTRACE", backtrace)],
            Duration::from_secs(20),
        );
        let (stdout, stderr) = (&run.stdout, &run.stderr);
        let status = run.status.unwrap_or_else(|| {
            panic!(
                "RUST_BACKTRACE={backtrace}: the child hung after overflowing (killed after \
                 20 s)\nstdout:\n{stdout}\nstderr:\n{stderr}"
            )
        });
        assert!(
            !status.success(),
            "the child must die on overflow\nstdout:\n{stdout}\nstderr:\n{stderr}"
        );
        assert!(
            !stdout.contains("child survived the overflow"),
            "the child returned from join after an overflow\nstderr:\n{stderr}"
        );
        assert!(
            stderr.contains("overflowing-green") && stderr.contains("overflowed its stack"),
            "the overflow report must name the green thread\nstderr:\n{stderr}"
        );
    }
}
