//! Placement keeps threads spawned together on one hub and spreads
//! backlogs: whatever hub each green thread lands on, messages between them
//! arrive, exactly once, and a spawn burst does not stay on one hub.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use green::sync::mpsc;
use green::thread;

/// 1,000 green threads spawned in a burst from `main` and from green
/// threads, in rings that pass a token around many times: every hop
/// arrives exactly once, and the burst is spread over every worker hub.
#[test]
fn rings_of_green_threads_across_hubs_pass_every_message() {
    const RINGS: usize = 50;
    const LEN: usize = 20;
    const LAPS: u64 = 20;
    let hubs = Arc::new(Mutex::new(HashSet::new()));
    let mut firsts = Vec::new();
    let mut all = Vec::new();
    for ring in 0..RINGS {
        // Every other ring is spawned from inside a green thread.
        let (first_tx, first_rx) = mpsc::channel::<u64>();
        let mut rx = first_rx;
        let mut members = Vec::new();
        for k in 0..LEN {
            let (tx, next_rx) = if k + 1 == LEN {
                (None, None)
            } else {
                let (t, r) = mpsc::channel::<u64>();
                (Some(t), Some(r))
            };
            let input = rx;
            // Only the last member sends back round to the first.
            let back = (k + 1 == LEN).then(|| first_tx.clone());
            let hubs = hubs.clone();
            let body = move || {
                hubs.lock().unwrap().insert(green::rt::runtime::hub_id());
                let mut hops = 0u64;
                for token in input {
                    hops += 1;
                    match &tx {
                        Some(tx) => tx.send(token + 1).unwrap(),
                        None => {
                            // The last member sends it back round, or stops
                            // (dropping the way back closes the ring).
                            if token + 1 < LAPS * LEN as u64 {
                                back.as_ref().unwrap().send(token + 1).unwrap();
                            } else {
                                return (hops, Some(token + 1));
                            }
                        }
                    }
                }
                (hops, None)
            };
            let h = if ring % 2 == 0 {
                thread::spawn(body)
            } else {
                thread::spawn(move || thread::spawn(body)).join().unwrap()
            };
            members.push(h);
            match next_rx {
                Some(r) => rx = r,
                None => break,
            }
        }
        firsts.push(first_tx);
        all.push(members);
    }
    for tx in &firsts {
        tx.send(0).unwrap();
    }
    drop(firsts);
    for members in all {
        let mut total = 0;
        let mut finished = None;
        for h in members.into_iter().rev() {
            let (hops, end) = h.join().unwrap();
            total += hops;
            finished = finished.or(end);
        }
        assert_eq!(finished, Some(LAPS * LEN as u64));
        assert_eq!(total, LAPS * LEN as u64, "hops in one ring");
    }
    let hubs = hubs.lock().unwrap();
    if green::rt::runtime::workers() > 1 {
        assert!(hubs.len() > 1, "the burst stayed on one hub: {hubs:?}");
    }
}
