//! `File`: a shared `std::fs::File` whose every operation runs on the
//! blocking pool.
//!
//! The pool job must be `'static`, so the std file sits in an `Arc` that each
//! job clones, and buffers cross by value: a read fills a buffer the job owns
//! and the caller copies out the bytes read; a write copies the caller's
//! bytes in. The job runs std's own method on the std file, so results,
//! errors, short reads and the cursor are std's.
//!
//! Invariant: a job holds its clone of the `Arc` only while it runs, and the
//! caller waits for the job, so when a call returns the `Arc` is back to the
//! handles the program holds. A `File` dropped while a job still runs (its
//! caller was unwound while parked) leaves the descriptor open until the job
//! ends; nothing a job does can land on a reused descriptor.

use std::cell::Cell;
use std::fmt;
use std::io::{self, IoSlice, IoSliceMut, Read, Seek, SeekFrom, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::{buf, unblock, FileTimes, Metadata, OpenOptions, Permissions, TryLockError};

/// An open file on the file system, like `std::fs::File`, whose operations
/// run on the blocking pool so they never block the hub.
///
/// Implements `Read`, `Write` and `Seek` for both `File` and `&File`
/// (vectored I/O included), std's `FileExt` (positioned reads and writes),
/// `AsFd`, `AsRawFd`, `FromRawFd`, `IntoRawFd`, `From<OwnedFd>`,
/// `Into<OwnedFd>`, and converts from and into `std::fs::File`. `Debug`
/// prints what std prints. `Send`, `Sync`, `UnwindSafe` and `RefUnwindSafe`
/// like std's.
///
/// Each method is one trip to the pool; `read_to_end`, `read_to_string`,
/// `read_exact`, `write_all` and `write_fmt` do their whole job in one trip
/// (std would loop over `read`/`write`, which here would be one trip per
/// loop). `flush` is a no-op, as in std.
///
/// # Differences from std
///
/// * Data is copied between your buffer and one the pool job owns (see the
///   crate docs); results are unchanged.
/// * `IsTerminal` is sealed in std: use `file.as_fd().is_terminal()`.
/// * Closing (dropping the last handle) runs on the calling thread, as std's.
///
/// # Examples
///
/// ```
/// use std::io::{Read, Seek, SeekFrom, Write};
///
/// let path = std::env::temp_dir().join(format!("green-fs-doc-file-{}", std::process::id()));
/// let mut file = green_fs::File::options().read(true).write(true).create(true).open(&path)?;
/// file.write_all(b"0123456789")?;
/// file.seek(SeekFrom::Start(4))?;
/// let mut four = [0; 4];
/// file.read_exact(&mut four)?;
/// assert_eq!(&four, b"4567");
/// green_fs::remove_file(&path)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct File {
    inner: Arc<std::fs::File>,
}

impl File {
    /// Attempts to open a file in read-only mode, like `std::fs::File::open`.
    ///
    /// # Errors
    ///
    /// As std: `NotFound`, `PermissionDenied`, `NotADirectory` for a
    /// non-final file component, `InvalidInput` for a path with a NUL byte.
    pub fn open<P: AsRef<Path>>(path: P) -> io::Result<File> {
        OpenOptions::new().read(true).open(path)
    }

    /// Opens a file in write-only mode, creating it if needed and truncating
    /// it if not, like `std::fs::File::create`.
    ///
    /// # Errors
    ///
    /// As std: `NotFound` for a missing parent, `PermissionDenied`,
    /// `IsADirectory`.
    pub fn create<P: AsRef<Path>>(path: P) -> io::Result<File> {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
    }

    /// Creates a new file in read-write mode, failing if it exists, like
    /// `std::fs::File::create_new`; atomic against racing creators.
    ///
    /// # Errors
    ///
    /// As std: `AlreadyExists` if the path exists (even as a dangling
    /// symbolic link), and the errors of [`File::create`].
    pub fn create_new<P: AsRef<Path>>(path: P) -> io::Result<File> {
        OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)
    }

    /// Returns a new green [`OpenOptions`], like `std::fs::File::options`.
    #[must_use]
    pub fn options() -> OpenOptions {
        OpenOptions::new()
    }

    /// Attempts to sync all OS-internal file content and metadata to disk,
    /// like `std::fs::File::sync_all` (`fsync`). When it returns `Ok`, every
    /// byte reported written before the call is on disk.
    ///
    /// # Errors
    ///
    /// As std: the error of `fsync` (`EIO`, ...).
    pub fn sync_all(&self) -> io::Result<()> {
        self.run(|f| f.sync_all())
    }

    /// Like [`File::sync_all`] without syncing metadata that reading does
    /// not need, like `std::fs::File::sync_data` (`fdatasync`).
    ///
    /// # Errors
    ///
    /// As std.
    pub fn sync_data(&self) -> io::Result<()> {
        self.run(|f| f.sync_data())
    }

    /// Acquires an exclusive lock on the file, blocking until it can, like
    /// `std::fs::File::lock` (`flock`). Only the calling green thread waits:
    /// a pool thread holds the blocking call.
    ///
    /// # Errors
    ///
    /// As std.
    pub fn lock(&self) -> io::Result<()> {
        self.run(|f| f.lock())
    }

    /// Acquires a shared (read) lock, blocking until it can, like
    /// `std::fs::File::lock_shared`.
    ///
    /// # Errors
    ///
    /// As std.
    pub fn lock_shared(&self) -> io::Result<()> {
        self.run(|f| f.lock_shared())
    }

    /// Tries to acquire an exclusive lock without waiting for it, like
    /// `std::fs::File::try_lock`.
    ///
    /// # Errors
    ///
    /// As std: `TryLockError::WouldBlock` if another handle holds a lock,
    /// `TryLockError::Error` for any other failure.
    pub fn try_lock(&self) -> Result<(), TryLockError> {
        self.run(|f| f.try_lock())
    }

    /// Tries to acquire a shared lock without waiting for it, like
    /// `std::fs::File::try_lock_shared`.
    ///
    /// # Errors
    ///
    /// As [`File::try_lock`].
    pub fn try_lock_shared(&self) -> Result<(), TryLockError> {
        self.run(|f| f.try_lock_shared())
    }

    /// Releases any lock this handle holds, like `std::fs::File::unlock`.
    ///
    /// # Errors
    ///
    /// As std.
    pub fn unlock(&self) -> io::Result<()> {
        self.run(|f| f.unlock())
    }

    /// Truncates or extends the file to `size` bytes, like
    /// `std::fs::File::set_len`; the cursor does not move.
    ///
    /// # Errors
    ///
    /// As std: `InvalidInput` when the file is not open for writing or
    /// `size` does not fit the platform's offset type.
    pub fn set_len(&self, size: u64) -> io::Result<()> {
        self.run(move |f| f.set_len(size))
    }

    /// Queries metadata about the open file, like `std::fs::File::metadata`.
    ///
    /// # Errors
    ///
    /// As std.
    pub fn metadata(&self) -> io::Result<Metadata> {
        self.run(|f| f.metadata())
    }

    /// Creates a new `File` sharing the same open file description (cursor,
    /// locks), like `std::fs::File::try_clone` (`dup`). Either handle stays
    /// valid when the other is dropped.
    ///
    /// # Errors
    ///
    /// As std: `EMFILE` when out of descriptors.
    pub fn try_clone(&self) -> io::Result<File> {
        self.run(|f| f.try_clone()).map(File::from)
    }

    /// Changes the permissions of the file, like
    /// `std::fs::File::set_permissions` (`fchmod`).
    ///
    /// # Errors
    ///
    /// As std: `PermissionDenied` when the caller does not own the file.
    pub fn set_permissions(&self, perm: Permissions) -> io::Result<()> {
        self.run(move |f| f.set_permissions(perm))
    }

    /// Changes the timestamps of the file, like `std::fs::File::set_times`.
    ///
    /// # Errors
    ///
    /// As std.
    pub fn set_times(&self, times: FileTimes) -> io::Result<()> {
        self.run(move |f| f.set_times(times))
    }

    /// Changes the modification time of the file, like
    /// `std::fs::File::set_modified`.
    ///
    /// # Errors
    ///
    /// As std.
    pub fn set_modified(&self, time: SystemTime) -> io::Result<()> {
        self.run(move |f| f.set_modified(time))
    }

    /// Runs `op` on the std file on the blocking pool.
    fn run<T, F>(&self, op: F) -> T
    where
        F: FnOnce(&std::fs::File) -> T + Send + 'static,
        T: Send + 'static,
    {
        let file = Arc::clone(&self.inner);
        unblock(move || op(&file))
    }

    /// One trip that reads into a pool-side buffer of `buf.len()` bytes with
    /// `op`, then copies the bytes `op` reported into `buf`.
    fn read_into<F>(&self, buf: &mut [u8], op: F) -> io::Result<usize>
    where
        F: FnOnce(&std::fs::File, &mut [u8]) -> io::Result<usize> + Send + 'static,
    {
        let tmp = buf::for_read(buf.len());
        let (r, tmp) = self.run(move |f| {
            let mut tmp = tmp;
            let r = op(f, &mut tmp);
            (r, tmp)
        });
        if let Ok(n) = r {
            buf[..n].copy_from_slice(&tmp[..n]);
        }
        buf::give_back(tmp);
        r
    }

    /// One trip running one of std's "fill it all" loops (`read_exact`,
    /// `read_exact_at`) through [`Counted`]; whatever it read before it
    /// stopped lands in `buf`'s prefix, as with std.
    fn fill_into<F>(&self, buf: &mut [u8], op: F) -> io::Result<()>
    where
        F: FnOnce(&Counted<'_>, &mut [u8]) -> io::Result<()> + Send + 'static,
    {
        let tmp = buf::for_read(buf.len());
        let (r, tmp, done) = self.run(move |f| {
            let mut tmp = tmp;
            let counted = Counted::new(f);
            let r = op(&counted, &mut tmp);
            (r, tmp, counted.done.get())
        });
        buf[..done].copy_from_slice(&tmp[..done]);
        buf::give_back(tmp);
        r
    }

    /// One trip that hands `op` a copy of `data`.
    fn write_from<T, F>(&self, data: &[u8], op: F) -> T
    where
        F: FnOnce(&std::fs::File, &[u8]) -> T + Send + 'static,
        T: Send + 'static,
    {
        let data = buf::copy_of(data);
        let (r, data) = self.run(move |f| {
            let r = op(f, &data);
            (r, data)
        });
        buf::give_back(data);
        r
    }

    /// Takes the std file back out of the `Arc`.
    fn into_std(self) -> std::fs::File {
        let mut inner = self.inner;
        loop {
            match Arc::try_unwrap(inner) {
                Ok(file) => return file,
                // Only a pool job whose caller was unwound while parked can
                // still hold a clone (see the module docs); it ends soon.
                Err(shared) => {
                    inner = shared;
                    green_core::thread::sleep(Duration::from_millis(1));
                }
            }
        }
    }
}

/// Adds up the bytes std's provided loops (`read_exact`, `read_exact_at`)
/// got before they stopped, so a failed call can still hand them back.
struct Counted<'a> {
    file: &'a std::fs::File,
    done: Cell<usize>,
}

impl Counted<'_> {
    fn new(file: &std::fs::File) -> Counted<'_> {
        Counted {
            file,
            done: Cell::new(0),
        }
    }

    fn count(&self, r: io::Result<usize>) -> io::Result<usize> {
        if let Ok(n) = r {
            self.done.set(self.done.get() + n);
        }
        r
    }
}

impl Read for &Counted<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let r = (&*self.file).read(buf);
        self.count(r)
    }
}

impl FileExt for Counted<'_> {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let r = self.file.read_at(buf, offset);
        self.count(r)
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<usize> {
        self.file.write_at(buf, offset)
    }
}

/// Splits `buf` into consecutive slices of the given lengths.
fn split_mut<'a>(mut buf: &'a mut [u8], lens: &[usize]) -> Vec<IoSliceMut<'a>> {
    let mut out = Vec::with_capacity(lens.len());
    for &len in lens {
        let (head, tail) = buf.split_at_mut(len);
        out.push(IoSliceMut::new(head));
        buf = tail;
    }
    out
}

/// Splits `buf` into consecutive slices of the given lengths.
fn split<'a>(mut buf: &'a [u8], lens: &[usize]) -> Vec<IoSlice<'a>> {
    let mut out = Vec::with_capacity(lens.len());
    for &len in lens {
        let (head, tail) = buf.split_at(len);
        out.push(IoSlice::new(head));
        buf = tail;
    }
    out
}

/// Copies `src` into `bufs` in order, as `readv` would have filled them.
fn scatter(mut src: &[u8], bufs: &mut [IoSliceMut<'_>]) {
    for buf in bufs {
        if src.is_empty() {
            break;
        }
        let n = buf.len().min(src.len());
        buf[..n].copy_from_slice(&src[..n]);
        src = &src[n..];
    }
}

/// Reads through the shared reference, like std's `Read for &File`; each
/// method is one trip to the pool, except that `read` serves data already in
/// the page cache without one.
impl Read for &File {
    /// Reads up to `buf.len()` bytes with one `read` call, like std (same
    /// short reads, same cursor).
    ///
    /// Data already in the page cache is read on the spot with
    /// `preadv2(RWF_NOWAIT)`, which never waits for the disk; anything else
    /// (not cached, a pipe, an error) takes the trip.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(n) = green_core::io::read_cached(self.inner.as_fd(), buf, None) {
            return Ok(n);
        }
        self.read_into(buf, |mut f, tmp| f.read(tmp))
    }

    /// One `readv` call with the same buffer lengths as `bufs`.
    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        let lens: Vec<usize> = bufs.iter().map(|b| b.len()).collect();
        let tmp = buf::for_read(lens.iter().sum());
        let (r, tmp) = self.run(move |f| {
            let mut tmp = tmp;
            let r = (&*f).read_vectored(&mut split_mut(&mut tmp, &lens));
            (r, tmp)
        });
        if let Ok(n) = r {
            scatter(&tmp[..n], bufs);
        }
        buf::give_back(tmp);
        r
    }

    /// std's `read_to_end` (sized from the file's metadata) in one trip.
    fn read_to_end(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        let (r, data) = self.run(|f| {
            let mut data = Vec::new();
            let r = (&*f).read_to_end(&mut data);
            (r, data)
        });
        // Like std, bytes read before an error stay appended.
        if buf.is_empty() {
            *buf = data;
        } else {
            buf.extend_from_slice(&data);
        }
        r
    }

    /// std's `read_to_string` in one trip: invalid UTF-8 appends nothing and
    /// gives `InvalidData`; valid bytes read before an error stay appended.
    fn read_to_string(&mut self, buf: &mut String) -> io::Result<usize> {
        let (r, text) = self.run(|f| {
            let mut text = String::new();
            let r = (&*f).read_to_string(&mut text);
            (r, text)
        });
        if buf.is_empty() {
            *buf = text;
        } else {
            buf.push_str(&text);
        }
        r
    }

    /// std's `read_exact` loop in one trip; on `UnexpectedEof` or another
    /// error the bytes read so far are in `buf`'s prefix, as with std.
    fn read_exact(&mut self, buf: &mut [u8]) -> io::Result<()> {
        self.fill_into(buf, |mut counted, tmp| counted.read_exact(tmp))
    }
}

/// Writes through the shared reference, like std's `Write for &File`; each
/// method is one trip to the pool.
impl Write for &File {
    /// One `write` call with a copy of `buf`, like std (same short writes).
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_from(buf, |mut f, data| f.write(data))
    }

    /// One `writev` call with the same buffer lengths as `bufs`.
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let lens: Vec<usize> = bufs.iter().map(|b| b.len()).collect();
        let mut data = buf::copy_of(&[]);
        data.reserve(lens.iter().sum());
        for buf in bufs {
            data.extend_from_slice(buf);
        }
        let (r, data) = self.run(move |f| {
            let r = (&*f).write_vectored(&split(&data, &lens));
            (r, data)
        });
        buf::give_back(data);
        r
    }

    /// A no-op, as std's: `File` has no user-space buffer.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }

    /// std's `write_all` loop in one trip.
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.write_from(buf, |mut f, data| f.write_all(data))
    }

    /// Formats into memory, then writes it all in one trip (std writes each
    /// formatted piece with its own `write_all`). As std, a formatting trait
    /// that fails while the file did not makes this panic, after what was
    /// formatted before the failure is written.
    fn write_fmt(&mut self, args: fmt::Arguments<'_>) -> io::Result<()> {
        if let Some(text) = args.as_str() {
            return self.write_all(text.as_bytes());
        }
        let mut text = String::new();
        let formatted = fmt::write(&mut text, args);
        self.write_all(text.as_bytes())?;
        if formatted.is_err() {
            panic!("a formatting trait implementation returned an error when the underlying stream did not");
        }
        Ok(())
    }
}

/// Seeks through the shared reference, like std's `Seek for &File` (one
/// `lseek`, on the pool: `SEEK_END` may have to ask a network file system).
impl Seek for &File {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.run(move |f| (&*f).seek(pos))
    }
}

/// As `Read for &File`.
impl Read for File {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        (&*self).read_vectored(bufs)
    }

    fn read_to_end(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        (&*self).read_to_end(buf)
    }

    fn read_to_string(&mut self, buf: &mut String) -> io::Result<usize> {
        (&*self).read_to_string(buf)
    }

    fn read_exact(&mut self, buf: &mut [u8]) -> io::Result<()> {
        (&*self).read_exact(buf)
    }
}

/// As `Write for &File`.
impl Write for File {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        (&*self).write_vectored(bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        (&*self).flush()
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        (&*self).write_all(buf)
    }

    fn write_fmt(&mut self, args: fmt::Arguments<'_>) -> io::Result<()> {
        (&*self).write_fmt(args)
    }
}

/// As `Seek for &File`.
impl Seek for File {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        (&*self).seek(pos)
    }
}

/// std's Unix positioned I/O (`pread`/`pwrite`), each call one trip; the
/// cursor does not move. `read_exact_at` and `write_all_at` run std's loops
/// in one trip.
impl FileExt for File {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        // Cached data is read on the spot, as in `Read::read`.
        if let Some(n) = green_core::io::read_cached(self.inner.as_fd(), buf, Some(offset)) {
            return Ok(n);
        }
        self.read_into(buf, move |f, tmp| f.read_at(tmp, offset))
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<usize> {
        self.write_from(buf, move |f, data| f.write_at(data, offset))
    }

    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        self.fill_into(buf, move |counted, tmp| counted.read_exact_at(tmp, offset))
    }

    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.write_from(buf, move |f, data| f.write_all_at(data, offset))
    }
}

/// Prints what std's `File` prints (descriptor, path, access mode).
impl fmt::Debug for File {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

impl AsFd for File {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.as_fd()
    }
}

impl AsRawFd for File {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.as_raw_fd()
    }
}

impl From<OwnedFd> for File {
    fn from(fd: OwnedFd) -> File {
        File::from(std::fs::File::from(fd))
    }
}

impl From<File> for OwnedFd {
    fn from(file: File) -> OwnedFd {
        file.into_std().into()
    }
}

impl FromRawFd for File {
    /// # Safety
    ///
    /// As `std::fs::File::from_raw_fd`: `fd` must be an open file descriptor
    /// that the caller owns and hands over.
    #[allow(unsafe_code)] // the trait's method is `unsafe fn`
    unsafe fn from_raw_fd(fd: RawFd) -> File {
        // SAFETY: the caller guarantees `fd` is an open descriptor it owns
        // and gives up, which is what std's `from_raw_fd` requires.
        File::from(unsafe { std::fs::File::from_raw_fd(fd) })
    }
}

impl IntoRawFd for File {
    fn into_raw_fd(self) -> RawFd {
        self.into_std().into_raw_fd()
    }
}

/// Wraps a std file (not in std); the file keeps its descriptor and cursor.
impl From<std::fs::File> for File {
    fn from(file: std::fs::File) -> File {
        File {
            inner: Arc::new(file),
        }
    }
}

/// Unwraps into a std file (not in std); same descriptor and cursor.
impl From<File> for std::fs::File {
    fn from(file: File) -> std::fs::File {
        file.into_std()
    }
}

/// Hands the file to a child process's stdio, like std's
/// `From<File> for Stdio`.
impl From<File> for std::process::Stdio {
    fn from(file: File) -> std::process::Stdio {
        file.into_std().into()
    }
}
