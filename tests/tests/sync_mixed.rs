//! Mixed-world tests: the same `green_sync` lock, condvar and channel used at
//! once by green threads on different hubs and by plain OS threads; a 1,000
//! sender fan-in; a ring of 1,000 green threads passing a token through
//! `Mutex` + `Condvar`; a sleeping lock holder that does not stop its hub.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use green_conformance::Rng;
use green_sync::{mpsc, Arc, Condvar, Mutex};

/// Spawns green threads on the worker hubs until two of them run on
/// different hubs; returns those two hub ids (or one, on a 1-worker setup).
fn worker_hubs() -> HashSet<usize> {
    let mut hubs = HashSet::new();
    for _ in 0..8 {
        hubs.insert(
            green_core::thread::spawn(green_core::runtime::hub_id)
                .join()
                .unwrap(),
        );
        if hubs.len() >= 2 {
            break;
        }
    }
    hubs
}

/// One mutex, one condvar and one channel shared by green threads on the
/// worker hubs, green threads on the test thread's hub and OS threads:
/// each participant takes numbered jobs from the mutex-protected counter,
/// reports them on the channel, and the last one wakes the main thread
/// through the condvar.
#[test]
fn one_lock_condvar_and_channel_shared_by_every_kind_of_thread() {
    const JOBS: usize = 3000;
    assert!(!worker_hubs().is_empty());
    let state = Arc::new((Mutex::new((0usize, 0usize)), Condvar::new()));
    let (tx, rx) = mpsc::channel::<(usize, usize)>();
    let hubs_seen = Arc::new(Mutex::new(HashSet::new()));
    let mut green = Vec::new();
    let mut os = Vec::new();
    for p in 0..12 {
        let (state, tx, hubs_seen) = (state.clone(), tx.clone(), hubs_seen.clone());
        let work = move || {
            if green_core::park::in_green_thread() {
                hubs_seen
                    .lock()
                    .unwrap()
                    .insert(green_core::runtime::hub_id());
            }
            let (m, cv) = &*state;
            loop {
                let job = {
                    let mut g = m.lock().unwrap();
                    if g.0 == JOBS {
                        return;
                    }
                    g.0 += 1;
                    g.0
                };
                tx.send((p, job)).unwrap();
                let mut g = m.lock().unwrap();
                g.1 += 1;
                if g.1 == JOBS {
                    cv.notify_all();
                }
                drop(g);
                if job % 5 == 0 {
                    green_core::thread::yield_now();
                }
            }
        };
        match p % 3 {
            0 => green.push(green_core::thread::spawn(work)),
            1 => green.push(green_core::runtime::spawn_local(work)),
            _ => os.push(std::thread::spawn(work)),
        }
    }
    drop(tx);
    let (m, cv) = &*state;
    let g = cv.wait_while(m.lock().unwrap(), |s| s.1 < JOBS).unwrap();
    assert_eq!(*g, (JOBS, JOBS));
    drop(g);
    let mut jobs: Vec<usize> = rx.iter().map(|(_, job)| job).collect();
    jobs.sort_unstable();
    assert_eq!(jobs, (1..=JOBS).collect::<Vec<_>>());
    for h in green {
        h.join().unwrap();
    }
    for h in os {
        h.join().unwrap();
    }
    // Worker hubs plus the test thread's own hub.
    assert!(hubs_seen.lock().unwrap().len() >= 2);
}

/// 1,000 senders (green threads on the workers, green threads on the test
/// thread's hub, OS threads) send into one channel; every message is
/// received exactly once.
#[test]
fn fan_in_of_a_thousand_senders_counts_every_message_once() {
    const SENDERS: usize = 1000;
    const EACH: usize = 20;
    let mut rng = Rng::from_env("sync_mixed::fan_in");
    let (tx, rx) = mpsc::channel::<(usize, usize)>();
    let mut green = Vec::new();
    let mut os = Vec::new();
    for s in 0..SENDERS {
        let tx = tx.clone();
        let pause = rng.below(4) == 0;
        let work = move || {
            for i in 0..EACH {
                tx.send((s, i)).unwrap();
                if pause && i == EACH / 2 {
                    green_core::thread::yield_now();
                }
            }
        };
        match s % 10 {
            0 => os.push(std::thread::spawn(work)),
            1..=3 => green.push(green_core::runtime::spawn_local(work)),
            _ => green.push(green_core::thread::spawn(work)),
        }
    }
    drop(tx);
    let mut seen = vec![0u8; SENDERS * EACH];
    let mut next = vec![0usize; SENDERS];
    let mut total = 0;
    for (s, i) in rx.iter() {
        assert_eq!(next[s], i, "sender {s} out of order");
        next[s] += 1;
        seen[s * EACH + i] += 1;
        total += 1;
    }
    assert_eq!(total, SENDERS * EACH);
    assert!(seen.iter().all(|&c| c == 1));
    for h in green {
        h.join().unwrap();
    }
    for h in os {
        h.join().unwrap();
    }
}

/// A ring of 1,000 green threads (spread over the worker hubs) passes a token
/// around three times: each waits on its own `Mutex<bool>` + `Condvar` slot
/// until the token lands there, then puts it in the next slot.
#[test]
fn ring_of_a_thousand_green_threads_passes_a_token() {
    const N: usize = 1000;
    const LAPS: usize = 3;
    let slots: Arc<Vec<(Mutex<bool>, Condvar)>> = Arc::new(
        (0..N)
            .map(|_| (Mutex::new(false), Condvar::new()))
            .collect(),
    );
    let passes = Arc::new(AtomicUsize::new(0));
    let hs: Vec<_> = (0..N)
        .map(|i| {
            let (slots, passes) = (slots.clone(), passes.clone());
            green_core::thread::spawn(move || {
                for _ in 0..LAPS {
                    let (m, cv) = &slots[i];
                    let mut has = cv.wait_while(m.lock().unwrap(), |has| !*has).unwrap();
                    *has = false;
                    drop(has);
                    passes.fetch_add(1, Ordering::SeqCst);
                    let (m, cv) = &slots[(i + 1) % N];
                    *m.lock().unwrap() = true;
                    cv.notify_one();
                }
            })
        })
        .collect();
    // Inject the token at slot 0 from this OS thread.
    *slots[0].0.lock().unwrap() = true;
    slots[0].1.notify_one();
    for h in hs {
        h.join().unwrap();
    }
    assert_eq!(passes.load(Ordering::SeqCst), N * LAPS);
    // After the last lap the token sits in slot 0 again.
    assert!(*slots[0].0.lock().unwrap());
}

/// A green thread that holds a lock while it sleeps does not stop the other
/// green threads on its hub; one that needs the lock waits (without
/// blocking the hub) and gets it once the sleeper wakes and unlocks.
#[test]
fn a_sleeping_lock_holder_does_not_stop_its_hub() {
    green_core::thread::spawn(|| {
        let m = Arc::new(Mutex::new(Vec::new()));
        let m2 = m.clone();
        let holder = green_core::runtime::spawn_local(move || {
            let mut g = m2.lock().unwrap();
            green_core::thread::sleep(Duration::from_millis(50));
            g.push("holder");
        });
        green_core::thread::yield_now();
        let m3 = m.clone();
        let waiter = green_core::runtime::spawn_local(move || m3.lock().unwrap().push("waiter"));
        let (tx, rx) = mpsc::channel();
        let free = green_core::runtime::spawn_local(move || {
            for i in 0..20 {
                tx.send(i).unwrap();
                green_core::thread::sleep(Duration::from_millis(1));
            }
        });
        // All 20 ticks arrive while the holder still sleeps with the lock.
        assert_eq!(rx.iter().take(20).count(), 20);
        assert!(!holder.is_finished());
        free.join().unwrap();
        holder.join().unwrap();
        waiter.join().unwrap();
        assert_eq!(*m.lock().unwrap(), ["holder", "waiter"]);
    })
    .join()
    .unwrap();
}
