//! `OpenOptions`: std's option set, opened on the blocking pool.

use std::fmt;
use std::io;
use std::path::Path;

use crate::{unblock, File};

/// Options and flags to configure how a file is opened, like
/// `std::fs::OpenOptions`.
///
/// It holds a `std::fs::OpenOptions` and forwards every setter to it, so the
/// flags, their defaults and their validation are std's. std's Unix
/// extension trait `std::os::unix::fs::OpenOptionsExt` (`mode`,
/// `custom_flags`) is implemented for this type, so code that imports it
/// keeps working after the switch to green.
///
/// `Clone`, `Send`, `Sync` and `Debug` (printing exactly what std's prints).
///
/// # Examples
///
/// ```
/// use std::io::Write;
/// use std::os::unix::fs::OpenOptionsExt;
///
/// let path = std::env::temp_dir().join(format!("green-fs-doc-oo-{}", std::process::id()));
/// let mut file = green_fs::OpenOptions::new()
///     .write(true)
///     .create_new(true)
///     .mode(0o600)
///     .open(&path)?;
/// file.write_all(b"private")?;
/// green_fs::remove_file(&path)?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct OpenOptions(std::fs::OpenOptions);

impl OpenOptions {
    /// Creates a blank set of options, all initially `false`, like
    /// `std::fs::OpenOptions::new`.
    #[allow(clippy::new_without_default)] // std has no `Default` either.
    pub fn new() -> OpenOptions {
        OpenOptions(std::fs::OpenOptions::new())
    }

    /// Sets the option for read access.
    pub fn read(&mut self, read: bool) -> &mut OpenOptions {
        self.0.read(read);
        self
    }

    /// Sets the option for write access.
    pub fn write(&mut self, write: bool) -> &mut OpenOptions {
        self.0.write(write);
        self
    }

    /// Sets the option for append mode (implies write access).
    pub fn append(&mut self, append: bool) -> &mut OpenOptions {
        self.0.append(append);
        self
    }

    /// Sets the option for truncating an existing file to length 0 (needs
    /// write access).
    pub fn truncate(&mut self, truncate: bool) -> &mut OpenOptions {
        self.0.truncate(truncate);
        self
    }

    /// Sets the option to create a new file, or open it if it already exists
    /// (needs write or append access).
    pub fn create(&mut self, create: bool) -> &mut OpenOptions {
        self.0.create(create);
        self
    }

    /// Sets the option to create a new file, failing if it already exists;
    /// atomic, so two racing openers never both succeed. Overrides `create`
    /// and `truncate`.
    pub fn create_new(&mut self, create_new: bool) -> &mut OpenOptions {
        self.0.create_new(create_new);
        self
    }

    /// Opens a file at `path` with these options, like
    /// `std::fs::OpenOptions::open`, in one trip to the blocking pool.
    ///
    /// # Errors
    ///
    /// As std: `NotFound` (no `create` or a missing parent),
    /// `PermissionDenied`, `AlreadyExists` (with `create_new`),
    /// `InvalidInput` for an invalid combination of options (no access mode;
    /// `create`/`truncate` without write access; `truncate` with `append`)
    /// or a path containing a NUL byte, `IsADirectory` when writing a
    /// directory.
    pub fn open<P: AsRef<Path>>(&self, path: P) -> io::Result<File> {
        let options = self.0.clone();
        let path = path.as_ref().to_path_buf();
        unblock(move || options.open(path)).map(File::from)
    }
}

/// std's Unix extension trait works on green's `OpenOptions` (forwarded to
/// the inner `std::fs::OpenOptions`).
impl std::os::unix::fs::OpenOptionsExt for OpenOptions {
    fn mode(&mut self, mode: u32) -> &mut OpenOptions {
        std::os::unix::fs::OpenOptionsExt::mode(&mut self.0, mode);
        self
    }

    fn custom_flags(&mut self, flags: i32) -> &mut OpenOptions {
        self.0.custom_flags(flags);
        self
    }
}

/// Prints what std's `OpenOptions` prints.
impl fmt::Debug for OpenOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Green options from std's (not in std).
impl From<std::fs::OpenOptions> for OpenOptions {
    fn from(options: std::fs::OpenOptions) -> OpenOptions {
        OpenOptions(options)
    }
}

/// std's options from green's (not in std).
impl From<OpenOptions> for std::fs::OpenOptions {
    fn from(options: OpenOptions) -> std::fs::OpenOptions {
        options.0
    }
}
