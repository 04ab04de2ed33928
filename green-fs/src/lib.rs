//! Green replacement for `std::fs`: the same items with the same signatures,
//! whose file operations never block the hub.
//!
//! Regular files cannot be polled for readiness, so every operation that
//! touches the file system runs on green-core's blocking pool through
//! [`green_core::unblock`] while only the calling green thread waits; the
//! other green threads on its hub keep running (eventlet's `tpool`, the
//! approach of `tokio::fs`). Each call is one trip to the pool: [`read`],
//! [`write()`], [`copy`], [`File::read_to_end`](std::io::Read::read_to_end) and
//! friends do their whole job in one trip, and [`ReadDir`] fetches entries in
//! batches.
//!
//! Results and errors are std's own, because the pool thread runs std's code:
//! the same `io::ErrorKind`s, the same short reads and writes, the same cursor
//! position. Value types that never block are std's own items, re-exported
//! ([`Metadata`], [`FileType`], [`Permissions`], [`FileTimes`],
//! [`TryLockError`]), so std's extension traits (`PermissionsExt`,
//! `MetadataExt`, `FileTypeExt`) work unchanged. std's Unix extension traits
//! `OpenOptionsExt`, `DirBuilderExt`, `DirEntryExt` and `FileExt` are
//! implemented for the green types too, so `use std::os::unix::fs::*` code
//! keeps compiling.
//!
//! ```
//! use std::io::{Read, Write};
//!
//! let dir = std::env::temp_dir().join(format!("green-fs-doc-lib-{}", std::process::id()));
//! green_fs::create_dir_all(&dir)?;
//! let path = dir.join("hello.txt");
//!
//! let mut file = green_fs::File::create(&path)?;
//! file.write_all(b"hello, green world")?;
//! file.sync_all()?;
//!
//! let mut text = String::new();
//! green_fs::File::open(&path)?.read_to_string(&mut text)?;
//! assert_eq!(text, "hello, green world");
//!
//! green_fs::remove_dir_all(&dir)?;
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # Outside a green thread
//!
//! Called from a plain OS thread whose hub has no green threads, every call
//! runs inline, exactly as std would. Otherwise the call goes to the pool and
//! the OS thread runs its hub while it waits.
//!
//! # Differences from std
//!
//! * Data crosses to the pool thread by copy: `read` fills a buffer owned by
//!   the pool job and copies the bytes read into yours; `write` copies your
//!   bytes first. Results are unchanged; the cost is one `memcpy` per call.
//! * Closing a file (dropping the last handle) runs on the calling thread, as
//!   in std.
//! * `IsTerminal` is sealed in std and cannot be implemented here; use
//!   `file.as_fd().is_terminal()`. `Read`/`Write`/`Seek` for `Arc<File>` are
//!   not provided (the orphan rule forbids them outside std).
//! * Unstable `std::fs` items (`Dir`, `set_times`, `File::open_buffered`, ...)
//!   are not mirrored.

#![deny(unsafe_code)]

mod buf;
mod dir;
mod file;
mod functions;
mod open_options;

pub use dir::{DirBuilder, DirEntry, ReadDir};
pub use file::File;
#[allow(deprecated)]
pub use functions::soft_link;
pub use functions::{
    canonicalize, copy, create_dir, create_dir_all, exists, hard_link, metadata, read, read_dir,
    read_link, read_to_string, remove_dir, remove_dir_all, remove_file, rename, set_permissions,
    symlink_metadata, write,
};
pub use open_options::OpenOptions;

#[doc(no_inline)]
pub use std::fs::{FileTimes, FileType, Metadata, Permissions, TryLockError};

/// Runs `f` on the blocking pool (inline on a plain thread without green
/// threads): the one place this crate leaves the calling thread.
fn unblock<T, F>(f: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    green_core::unblock(f)
}
