//! Drop-in green replacements for the blocking parts of std.
//!
//! Swap `std::` for `green::` in the imports of working blocking code and it
//! runs on green threads (stackful coroutines) multiplexed over a few OS
//! threads:
//!
//! ```
//! use green::thread;
//! use green::time::Duration;
//!
//! let handles: Vec<_> = (0..1000)
//!     .map(|i| thread::spawn(move || {
//!         thread::sleep(Duration::from_millis(10));
//!         i * 2
//!     }))
//!     .collect();
//! let sum: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
//! assert_eq!(sum, 999 * 1000);
//! ```
//!
//! | module | mirrors | crate |
//! |---|---|---|
//! | [`thread`] | `std::thread` | green-core |
//! | [`time`] | `std::time` | green-time |
//! | [`net`] | `std::net`, `std::os::unix::net` (as `net::unix`) | green-net |
//! | [`sync`] | `std::sync` | green-sync |
//! | [`fs`] | `std::fs` | green-fs |
//! | [`process`] | `std::process` (and `CommandExt` as `process::unix`) | green-process |
//! | [`io`] | `std::io` (pipes and the standard streams green, the rest std's) | green-io |
#![forbid(unsafe_code)]
#![deny(missing_docs, missing_debug_implementations)]

pub use green_core::thread;

pub use green_time as time;

pub use green_fs as fs;
pub use green_io as io;
pub use green_net as net;
pub use green_process as process;
pub use green_sync as sync;

/// green's extensions, with no counterpart in std: the escape hatches
/// [`unblock`](rt::unblock) and [`block_on`](rt::block_on), deadlines and
/// cancellation ([`timeout`](rt::timeout), [`timeout_at`](rt::timeout_at),
/// [`uncancellable`](rt::uncancellable), and `green::thread::Cancel`), the
/// settings in [`runtime`](rt::runtime), green-thread dumps
/// ([`dump`](rt::dump), [`counters`](rt::counters)) and the cooperative
/// budget ([`coop`](rt::coop)).
pub mod rt {
    pub use green_core::cancel::{timeout, timeout_at, uncancellable, Cancelled, Elapsed};
    pub use green_core::dump::{counters, dump, Counters, Dump, State, ThreadInfo, WaitSite};
    pub use green_core::{block_on, coop, runtime, unblock};
}
