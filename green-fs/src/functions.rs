//! The free functions of `std::fs`, each one trip to the blocking pool.
//!
//! Every function takes owned copies of its paths (and of the contents for
//! [`write`]) so the pool job can be `'static`, then runs std's own function
//! there: the result, including every error, is std's.

use std::io;
use std::path::{Path, PathBuf};

use crate::{unblock, Metadata, Permissions, ReadDir};

fn owned<P: AsRef<Path>>(path: P) -> PathBuf {
    path.as_ref().to_path_buf()
}

/// Reads the entire contents of a file into a bytes vector, like
/// `std::fs::read`, in one trip to the blocking pool.
///
/// # Errors
///
/// As std: `NotFound` if `path` does not exist, `PermissionDenied`,
/// `IsADirectory` for a directory, `InvalidInput` for a path with a NUL byte,
/// and any other error of `open` or `read`.
///
/// # Examples
///
/// ```
/// let path = std::env::temp_dir().join(format!("green-fs-doc-read-{}", std::process::id()));
/// green_fs::write(&path, b"bytes")?;
/// assert_eq!(green_fs::read(&path)?, b"bytes");
/// green_fs::remove_file(&path)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn read<P: AsRef<Path>>(path: P) -> io::Result<Vec<u8>> {
    let path = owned(path);
    unblock(move || std::fs::read(path))
}

/// Reads the entire contents of a file into a string, like
/// `std::fs::read_to_string`, in one trip to the blocking pool.
///
/// # Errors
///
/// As [`read`], plus `InvalidData` if the contents are not valid UTF-8.
///
/// # Examples
///
/// ```
/// let path = std::env::temp_dir().join(format!("green-fs-doc-rts-{}", std::process::id()));
/// green_fs::write(&path, "text")?;
/// assert_eq!(green_fs::read_to_string(&path)?, "text");
/// green_fs::remove_file(&path)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn read_to_string<P: AsRef<Path>>(path: P) -> io::Result<String> {
    let path = owned(path);
    unblock(move || std::fs::read_to_string(path))
}

/// Writes a slice as the entire contents of a file, creating or truncating
/// it, like `std::fs::write`, in one trip to the blocking pool.
///
/// Differs from std only in that `contents` is copied before the trip.
///
/// # Errors
///
/// As std: `NotFound` when a parent directory is missing, `PermissionDenied`,
/// `IsADirectory`, and any error of `write`.
pub fn write<P: AsRef<Path>, C: AsRef<[u8]>>(path: P, contents: C) -> io::Result<()> {
    let path = owned(path);
    let contents = contents.as_ref().to_vec();
    unblock(move || std::fs::write(path, contents))
}

/// Returns an iterator over the entries within a directory, like
/// `std::fs::read_dir`. The directory is opened and the first batch of
/// entries read in one trip; later batches are fetched as the iterator needs
/// them (see [`ReadDir`]).
///
/// # Errors
///
/// As std: `NotFound`, `PermissionDenied`, `NotADirectory` when `path` is a
/// file.
pub fn read_dir<P: AsRef<Path>>(path: P) -> io::Result<ReadDir> {
    ReadDir::open(owned(path))
}

/// Queries the metadata of a file or directory, following symbolic links,
/// like `std::fs::metadata`.
///
/// # Errors
///
/// As std: `NotFound`, `PermissionDenied` (search permission on a parent).
pub fn metadata<P: AsRef<Path>>(path: P) -> io::Result<Metadata> {
    let path = owned(path);
    unblock(move || std::fs::metadata(path))
}

/// Queries the metadata of a path without following a final symbolic link,
/// like `std::fs::symlink_metadata`.
///
/// # Errors
///
/// As [`metadata`].
pub fn symlink_metadata<P: AsRef<Path>>(path: P) -> io::Result<Metadata> {
    let path = owned(path);
    unblock(move || std::fs::symlink_metadata(path))
}

/// Creates a new, empty directory, like `std::fs::create_dir`.
///
/// # Errors
///
/// As std: `AlreadyExists`, `NotFound` when a parent is missing,
/// `PermissionDenied`.
pub fn create_dir<P: AsRef<Path>>(path: P) -> io::Result<()> {
    let path = owned(path);
    unblock(move || std::fs::create_dir(path))
}

/// Creates a directory and all of its missing parents, like
/// `std::fs::create_dir_all`, in one trip.
///
/// # Errors
///
/// As std (an existing directory is not an error; an existing file is).
pub fn create_dir_all<P: AsRef<Path>>(path: P) -> io::Result<()> {
    let path = owned(path);
    unblock(move || std::fs::create_dir_all(path))
}

/// Removes a file, like `std::fs::remove_file`.
///
/// # Errors
///
/// As std: `NotFound`, `PermissionDenied`, `IsADirectory` for a directory.
pub fn remove_file<P: AsRef<Path>>(path: P) -> io::Result<()> {
    let path = owned(path);
    unblock(move || std::fs::remove_file(path))
}

/// Removes an empty directory, like `std::fs::remove_dir`.
///
/// # Errors
///
/// As std: `NotFound`, `DirectoryNotEmpty`, `NotADirectory`.
pub fn remove_dir<P: AsRef<Path>>(path: P) -> io::Result<()> {
    let path = owned(path);
    unblock(move || std::fs::remove_dir(path))
}

/// Removes a directory after removing all its contents, like
/// `std::fs::remove_dir_all`, in one trip (however big the tree).
///
/// # Errors
///
/// As std: `NotFound`, `NotADirectory`, and any error removing an entry.
pub fn remove_dir_all<P: AsRef<Path>>(path: P) -> io::Result<()> {
    let path = owned(path);
    unblock(move || std::fs::remove_dir_all(path))
}

/// Renames a file or directory, replacing `to` if it exists, like
/// `std::fs::rename`.
///
/// # Errors
///
/// As std: `NotFound`, `CrossesDevices`, `IsADirectory`, `DirectoryNotEmpty`.
pub fn rename<P: AsRef<Path>, Q: AsRef<Path>>(from: P, to: Q) -> io::Result<()> {
    let (from, to) = (owned(from), owned(to));
    unblock(move || std::fs::rename(from, to))
}

/// Copies the contents and permissions of one file to another, like
/// `std::fs::copy`, in one trip (std uses `copy_file_range` where it can).
/// Returns the number of bytes copied.
///
/// # Errors
///
/// As std: `NotFound`, `PermissionDenied`, `InvalidInput` when `from` is not
/// a regular file.
pub fn copy<P: AsRef<Path>, Q: AsRef<Path>>(from: P, to: Q) -> io::Result<u64> {
    let (from, to) = (owned(from), owned(to));
    unblock(move || std::fs::copy(from, to))
}

/// Creates a new hard link, like `std::fs::hard_link`.
///
/// # Errors
///
/// As std: `NotFound` for `original`, `AlreadyExists` for `link`.
pub fn hard_link<P: AsRef<Path>, Q: AsRef<Path>>(original: P, link: Q) -> io::Result<()> {
    let (original, link) = (owned(original), owned(link));
    unblock(move || std::fs::hard_link(original, link))
}

/// Creates a new symbolic link, like the deprecated `std::fs::soft_link`
/// (which is `std::os::unix::fs::symlink` on Unix).
///
/// # Errors
///
/// As std: `AlreadyExists` for `link`, `NotFound` for a missing parent.
#[deprecated(
    since = "1.1.0",
    note = "replaced with std::os::unix::fs::symlink and std::os::windows::fs::{symlink_file, symlink_dir}"
)]
pub fn soft_link<P: AsRef<Path>, Q: AsRef<Path>>(original: P, link: Q) -> io::Result<()> {
    let (original, link) = (owned(original), owned(link));
    unblock(move || std::os::unix::fs::symlink(original, link))
}

/// Reads the target of a symbolic link, like `std::fs::read_link`.
///
/// # Errors
///
/// As std: `NotFound`, `InvalidInput` when `path` is not a symbolic link.
pub fn read_link<P: AsRef<Path>>(path: P) -> io::Result<PathBuf> {
    let path = owned(path);
    unblock(move || std::fs::read_link(path))
}

/// Returns the canonical, absolute form of a path, like
/// `std::fs::canonicalize`.
///
/// # Errors
///
/// As std: `NotFound`, `NotADirectory` for a non-final file component.
pub fn canonicalize<P: AsRef<Path>>(path: P) -> io::Result<PathBuf> {
    let path = owned(path);
    unblock(move || std::fs::canonicalize(path))
}

/// Changes the permissions of a file or directory, like
/// `std::fs::set_permissions`.
///
/// # Errors
///
/// As std: `NotFound`, `PermissionDenied` (not the owner).
pub fn set_permissions<P: AsRef<Path>>(path: P, perm: Permissions) -> io::Result<()> {
    let path = owned(path);
    unblock(move || std::fs::set_permissions(path, perm))
}

/// Returns `Ok(true)` if the path points at an existing entity, like
/// `std::fs::exists`. A broken symbolic link gives `Ok(false)`.
///
/// # Errors
///
/// As std: an error other than "not found" while checking (for example
/// `PermissionDenied` on a parent) is returned rather than `Ok(false)`.
pub fn exists<P: AsRef<Path>>(path: P) -> io::Result<bool> {
    let path = owned(path);
    unblock(move || std::fs::exists(path))
}
