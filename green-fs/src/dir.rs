//! Directories: `ReadDir` (entries fetched in batches), `DirEntry` and
//! `DirBuilder`.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::fmt;
use std::io;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::{unblock, FileType, Metadata};

/// Entries one trip to the pool reads from the directory stream.
const BATCH: usize = 256;

/// What one trip reads: the stream back, the entries, and how the stream
/// ended, if it did within the batch.
struct Batch {
    dir: std::fs::ReadDir,
    entries: Vec<(std::fs::DirEntry, Option<FileType>)>,
    end: Option<End>,
}

/// How std's stream ended: after an error it yields nothing more, so the
/// error is always the last item.
enum End {
    Done,
    Error(io::Error),
}

/// Reads up to [`BATCH`] entries from `dir`, each with its file type when
/// std could tell it (from the directory entry's `d_type`, or else an
/// `lstat` done here on the pool thread rather than one trip per entry
/// later).
fn fetch(mut dir: std::fs::ReadDir) -> Batch {
    let mut entries = Vec::with_capacity(BATCH);
    let mut end = None;
    while entries.len() < BATCH {
        match dir.next() {
            Some(Ok(entry)) => {
                let file_type = entry.file_type().ok();
                entries.push((entry, file_type));
            }
            Some(Err(e)) => {
                end = Some(End::Error(e));
                break;
            }
            None => {
                end = Some(End::Done);
                break;
            }
        }
    }
    Batch { dir, entries, end }
}

/// Iterator over the entries of a directory, like `std::fs::ReadDir`, made
/// by [`read_dir`](crate::read_dir).
///
/// Entries are read from the directory stream in batches of 256, one trip to
/// the blocking pool per batch; the first batch is read by `read_dir` in the
/// same trip that opens the directory. The iterator yields exactly what
/// std's would: every entry except `.` and `..`, in the stream's order, and
/// an error ends the stream.
///
/// # Differences from std
///
/// Entries of a batch are read before the iterator reaches them. POSIX
/// leaves it unspecified whether an entry added or removed after the
/// directory was opened shows up, for std as well. Each entry's file type is
/// read with its batch (see [`DirEntry::file_type`]).
///
/// # Examples
///
/// ```
/// let dir = std::env::temp_dir().join(format!("green-fs-doc-rd-{}", std::process::id()));
/// green_fs::create_dir_all(&dir)?;
/// green_fs::write(dir.join("a"), "")?;
/// green_fs::write(dir.join("b"), "")?;
/// let mut names: Vec<_> = green_fs::read_dir(&dir)?
///     .map(|entry| entry.map(|e| e.file_name()))
///     .collect::<Result<_, _>>()?;
/// names.sort();
/// assert_eq!(names, ["a", "b"]);
/// green_fs::remove_dir_all(&dir)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct ReadDir {
    /// The std stream; `None` only while a batch is being read (or if that
    /// read was unwound).
    dir: Option<std::fs::ReadDir>,
    /// Entries read but not yet yielded.
    ready: VecDeque<(std::fs::DirEntry, Option<FileType>)>,
    /// The error that ended the stream, yielded after `ready` drains. An
    /// `io::Error` may box a payload of any type, which makes it
    /// `!UnwindSafe`; std's `ReadDir` is `UnwindSafe`, and the errors here
    /// are only ever read and moved out, never observed half-updated.
    error: Option<AssertUnwindSafe<io::Error>>,
    /// The std stream has ended: nothing more to fetch.
    ended: bool,
}

impl ReadDir {
    /// Opens `path` and reads the first batch, in one trip.
    pub(crate) fn open(path: PathBuf) -> io::Result<ReadDir> {
        let batch = unblock(move || std::fs::read_dir(path).map(fetch))?;
        let mut rd = ReadDir {
            dir: None,
            ready: VecDeque::new(),
            error: None,
            ended: false,
        };
        rd.absorb(batch);
        Ok(rd)
    }

    fn absorb(&mut self, batch: Batch) {
        self.dir = Some(batch.dir);
        self.ready = batch.entries.into();
        match batch.end {
            None => {}
            Some(End::Done) => self.ended = true,
            Some(End::Error(e)) => {
                self.ended = true;
                self.error = Some(AssertUnwindSafe(e));
            }
        }
    }
}

impl Iterator for ReadDir {
    type Item = io::Result<DirEntry>;

    fn next(&mut self) -> Option<io::Result<DirEntry>> {
        if self.ready.is_empty() && self.error.is_none() && !self.ended {
            match self.dir.take() {
                Some(dir) => {
                    let batch = unblock(move || fetch(dir));
                    self.absorb(batch);
                }
                None => self.ended = true,
            }
        }
        match self.ready.pop_front() {
            Some((inner, file_type)) => Some(Ok(DirEntry {
                inner: Arc::new(inner),
                file_type,
            })),
            None => self.error.take().map(|e| Err(e.0)),
        }
    }
}

/// Prints what std's `ReadDir` prints (the directory's path).
impl fmt::Debug for ReadDir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.dir {
            Some(dir) => dir.fmt(f),
            None => f.write_str("ReadDir(..)"),
        }
    }
}

/// An entry of a directory, like `std::fs::DirEntry`, yielded by
/// [`ReadDir`].
///
/// [`path`](DirEntry::path), [`file_name`](DirEntry::file_name) and
/// [`file_type`](DirEntry::file_type) need no trip to the pool (the type is
/// read with the batch, see its docs); [`metadata`](DirEntry::metadata) runs
/// std's method on the blocking pool. std's `DirEntryExt::ino` works on it.
pub struct DirEntry {
    inner: Arc<std::fs::DirEntry>,
    /// The type read with the batch; `None` if std's `file_type` failed
    /// then, in which case [`DirEntry::file_type`] asks again.
    file_type: Option<FileType>,
}

impl DirEntry {
    /// The full path of the entry: the path given to `read_dir` joined with
    /// the entry's file name, like `std::fs::DirEntry::path`.
    #[must_use]
    pub fn path(&self) -> PathBuf {
        self.inner.path()
    }

    /// Metadata of the entry, not following a symbolic link, like
    /// `std::fs::DirEntry::metadata`; one trip to the pool.
    ///
    /// # Errors
    ///
    /// As std: `NotFound` if the entry was removed since it was read.
    pub fn metadata(&self) -> io::Result<Metadata> {
        let inner = Arc::clone(&self.inner);
        unblock(move || inner.metadata())
    }

    /// The file type of the entry, not following a symbolic link, like
    /// `std::fs::DirEntry::file_type`.
    ///
    /// Free: the type was read with the entry's batch. On Linux std takes it
    /// from the directory entry itself (`d_type`) when the file system
    /// reports it, as nearly all do, and the answer is then exactly std's.
    /// Where it does not, std would `lstat` the entry when `file_type` is
    /// called; here the `lstat` ran when the batch was read (`tokio::fs`
    /// does the same), so a file replaced in between shows its old type.
    ///
    /// # Errors
    ///
    /// As std: when the type had to come from `lstat` and that failed, the
    /// `lstat` is tried again (one trip) and its error returned (`NotFound`
    /// if the entry was removed).
    pub fn file_type(&self) -> io::Result<FileType> {
        if let Some(file_type) = self.file_type {
            return Ok(file_type);
        }
        let inner = Arc::clone(&self.inner);
        unblock(move || inner.file_type())
    }

    /// The bare file name of the entry, like `std::fs::DirEntry::file_name`.
    #[must_use]
    pub fn file_name(&self) -> OsString {
        self.inner.file_name()
    }
}

/// std's Unix extension: the entry's inode number, from the directory entry.
impl std::os::unix::fs::DirEntryExt for DirEntry {
    fn ino(&self) -> u64 {
        self.inner.ino()
    }
}

/// Prints what std's `DirEntry` prints (its path).
impl fmt::Debug for DirEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

/// A builder for creating directories, like `std::fs::DirBuilder`.
///
/// std's `DirBuilderExt::mode` works on it. Each
/// [`create`](DirBuilder::create) is one trip to the pool, recursive or not.
///
/// # Examples
///
/// ```
/// use std::os::unix::fs::DirBuilderExt;
///
/// let root = std::env::temp_dir().join(format!("green-fs-doc-db-{}", std::process::id()));
/// green_fs::DirBuilder::new().recursive(true).mode(0o750).create(root.join("a/b"))?;
/// assert!(green_fs::metadata(root.join("a/b"))?.is_dir());
/// green_fs::remove_dir_all(&root)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct DirBuilder {
    recursive: bool,
    mode: u32,
}

impl DirBuilder {
    /// A builder with std's defaults: not recursive, mode `0o777` (before
    /// the umask).
    #[allow(clippy::new_without_default)] // std has no `Default` either.
    #[must_use]
    pub fn new() -> DirBuilder {
        DirBuilder {
            recursive: false,
            mode: 0o777,
        }
    }

    /// Whether to create missing parents as well; `false` by default.
    pub fn recursive(&mut self, recursive: bool) -> &mut DirBuilder {
        self.recursive = recursive;
        self
    }

    /// Creates the directory at `path` with these options, like
    /// `std::fs::DirBuilder::create`.
    ///
    /// # Errors
    ///
    /// As std: `AlreadyExists` (not recursive, or an existing non-directory),
    /// `NotFound` for a missing parent when not recursive,
    /// `PermissionDenied`.
    pub fn create<P: AsRef<Path>>(&self, path: P) -> io::Result<()> {
        let builder = self.std();
        let path = path.as_ref().to_path_buf();
        unblock(move || builder.create(path))
    }

    fn std(&self) -> std::fs::DirBuilder {
        use std::os::unix::fs::DirBuilderExt;
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(self.recursive).mode(self.mode);
        builder
    }
}

/// std's Unix extension: the permission bits of created directories.
impl std::os::unix::fs::DirBuilderExt for DirBuilder {
    fn mode(&mut self, mode: u32) -> &mut DirBuilder {
        self.mode = mode;
        self
    }
}

/// Prints what std's `DirBuilder` prints.
impl fmt::Debug for DirBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.std().fmt(f)
    }
}
