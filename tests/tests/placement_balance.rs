//! Placement keeps long-lived threads spawned in a burst split evenly over
//! the hubs, also when an idle hub takes spawns that wait on a busy one.
//!
//! One test in this binary: it counts threads per hub, so no other test's
//! threads may share the hubs meanwhile.

use std::sync::Arc;
use std::time::{Duration, Instant};

use green::sync::mpsc;
use green::thread;

/// A burst of long-lived threads spawned from one green thread (an accept
/// loop's connections) ends up split evenly over the worker hubs. Placement sends
/// each to the hub with fewer threads; an idle hub that then takes spawns
/// waiting on the busy spawner's hub takes no more than evens them out, so
/// no hub keeps a larger share of the connections for life.
#[test]
fn a_burst_from_one_green_thread_stays_split_evenly() {
    const N: usize = 400;
    let workers = green::rt::runtime::workers();
    if workers < 2 {
        return;
    }
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let release_rx = Arc::new(green::sync::Mutex::new(release_rx));
    let (started_tx, started_rx) = mpsc::channel::<usize>();
    let spawner = thread::spawn(move || {
        let mut handles = Vec::new();
        for _ in 0..N {
            let (started_tx, release_rx) = (started_tx.clone(), release_rx.clone());
            handles.push(thread::spawn(move || {
                started_tx.send(green::rt::runtime::hub_id()).unwrap();
                // Parked for the rest of the test, as a connection waiting
                // for its client.
                let _ = release_rx.lock().unwrap().recv();
            }));
            // The accept loop's own work between connections: its hub
            // stays busy, so the spawns queued there wait.
            let until = Instant::now() + Duration::from_micros(20);
            while Instant::now() < until {
                std::hint::spin_loop();
            }
        }
        handles
    });
    let handles = spawner.join().unwrap();
    let mut per_hub = std::collections::HashMap::<usize, usize>::new();
    for _ in 0..N {
        *per_hub.entry(started_rx.recv().unwrap()).or_default() += 1;
    }
    drop(release_tx);
    for h in handles {
        h.join().unwrap();
    }
    let counts: Vec<usize> = per_hub.values().copied().collect();
    let most = counts.iter().max().copied().unwrap_or(0);
    let least = counts.iter().min().copied().unwrap_or(0);
    assert!(
        counts.len() == workers && most - least <= N / 20,
        "{N} threads split {per_hub:?} over {workers} hubs"
    );
}
