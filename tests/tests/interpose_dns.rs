//! Interposition (feature `interpose`): a host-name lookup through std's
//! `ToSocketAddrs` on a green thread runs libc's resolver on green's
//! blocking pool, not on the hub, and returns what std returns on a plain
//! thread. (Alone in its binary: it counts the pool's threads.)
#![cfg(feature = "interpose")]

use std::collections::BTreeSet;
use std::net::{SocketAddr, ToSocketAddrs};

/// OS threads of this process named `green-blocking` (the pool's).
fn pool_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|name| name.trim() == "green-blocking")
        .count()
}

fn lookup() -> BTreeSet<SocketAddr> {
    ("localhost", 8080).to_socket_addrs().unwrap().collect()
}

#[test]
fn std_lookup_on_a_green_thread_goes_to_the_pool() {
    let on_os_thread = lookup();
    assert!(!on_os_thread.is_empty());
    assert_eq!(pool_threads(), 0, "nothing used the pool yet");
    let on_green = green::thread::spawn(lookup).join().unwrap();
    assert_eq!(on_green, on_os_thread);
    assert!(pool_threads() >= 1, "the lookup did not run on the pool");
    // A name that does not resolve gives std's error on both.
    let bad = "no-such-host.invalid:80";
    let std_err = bad.to_socket_addrs().unwrap_err().kind();
    let green_err = green::thread::spawn(move || bad.to_socket_addrs().unwrap_err().kind())
        .join()
        .unwrap();
    assert_eq!(green_err, std_err);
}
