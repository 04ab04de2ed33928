//! `Barrier`, `BarrierWaitResult`: the same scenarios on `std::sync`, on
//! `green_sync` from a plain thread and on `green_sync` inside a green
//! thread; then green-only checks.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use green_conformance::assert_send_sync;

green_conformance::std_and_green! {
    std: { use std::sync; }
    green: { use green_sync as sync; }

    fn exactly_one_leader_per_generation(flavor) {
        const N: usize = 6;
        const ROUNDS: usize = 5;
        let barrier = sync::Arc::new(sync::Barrier::new(N));
        let leaders = sync::Arc::new(AtomicUsize::new(0));
        let arrived = sync::Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..N)
            .map(|_| {
                let (b, leaders, arrived) = (barrier.clone(), leaders.clone(), arrived.clone());
                flavor.spawn(move || {
                    for round in 0..ROUNDS {
                        arrived.fetch_add(1, Ordering::SeqCst);
                        if b.wait().is_leader() {
                            leaders.fetch_add(1, Ordering::SeqCst);
                        }
                        // Nobody leaves a generation before all arrived.
                        assert!(arrived.load(Ordering::SeqCst) >= (round + 1) * N);
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(leaders.load(Ordering::SeqCst), ROUNDS);
    }

    fn waiters_block_until_the_last_arrives(flavor) {
        let barrier = sync::Arc::new(sync::Barrier::new(2));
        let b = barrier.clone();
        let h = flavor.spawn(move || b.wait().is_leader());
        flavor.sleep(Duration::from_millis(20));
        assert!(!h.is_finished());
        let me = barrier.wait().is_leader();
        let other = h.join().unwrap();
        assert!(me ^ other, "exactly one of the two is the leader");
    }

    fn zero_and_one_never_block(flavor) {
        let _ = flavor;
        for n in [0, 1] {
            let b = sync::Barrier::new(n);
            assert!(b.wait().is_leader());
            assert!(b.wait().is_leader());
        }
    }

    fn debug_formats(flavor) {
        let _ = flavor;
        static B: sync::Barrier = sync::Barrier::new(1);
        assert_eq!(format!("{B:?}"), "Barrier { .. }");
        assert_eq!(format!("{:?}", B.wait()), "BarrierWaitResult { is_leader: true }");
    }
}

#[test]
fn auto_traits_match_std() {
    fn unwind_safe<T: std::panic::UnwindSafe + std::panic::RefUnwindSafe>() {}
    assert_send_sync::<green_sync::Barrier>();
    unwind_safe::<green_sync::Barrier>();
    assert_send_sync::<green_sync::BarrierWaitResult>();
}

// ----- green-only -----

/// 200 green threads on one hub (the caller's) meet at a barrier: each one
/// blocked lets the next reach it.
#[test]
fn green_threads_on_one_hub_all_meet() {
    green_core::thread::spawn(|| {
        let barrier = green_sync::Arc::new(green_sync::Barrier::new(200));
        let hs: Vec<_> = (0..200)
            .map(|_| {
                let b = barrier.clone();
                green_core::runtime::spawn_local(move || b.wait().is_leader())
            })
            .collect();
        let leaders = hs.into_iter().map(|h| h.join().unwrap());
        assert_eq!(leaders.filter(|&l| l).count(), 1);
    })
    .join()
    .unwrap();
}

/// Green threads on worker hubs and OS threads meet at the same barrier.
#[test]
fn green_and_os_threads_meet() {
    let barrier = green_sync::Arc::new(green_sync::Barrier::new(8));
    let mut green = Vec::new();
    let mut os = Vec::new();
    for i in 0..8 {
        let b = barrier.clone();
        let work = move || (0..10).filter(|_| b.wait().is_leader()).count();
        if i % 2 == 0 {
            green.push(green_core::thread::spawn(work));
        } else {
            os.push(std::thread::spawn(work));
        }
    }
    let leaders: usize = green.into_iter().map(|h| h.join().unwrap()).sum::<usize>()
        + os.into_iter().map(|h| h.join().unwrap()).sum::<usize>();
    assert_eq!(leaders, 10);
}
