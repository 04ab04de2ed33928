//! `fs::read_dir`, `fs::ReadDir`, `fs::DirEntry` and `fs::DirBuilder`: the
//! same scenarios on `std::fs`, on `green::fs` from a plain thread and on
//! `green::fs` inside a green thread, with the same assertions.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::io::{self, ErrorKind};
use std::os::unix::fs::{DirBuilderExt, DirEntryExt, MetadataExt, PermissionsExt};

use green_conformance::assert_send_sync;

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("create a temporary directory")
}

fn kind<T: std::fmt::Debug>(r: io::Result<T>) -> ErrorKind {
    r.expect_err("expected an error").kind()
}

green_conformance::std_and_green! {
    std: { use std::fs; }
    green: { use green::fs; }

    fn read_dir_yields_every_entry_once_across_batches(flavor) {
        let dir = tempdir();
        // More entries than one batch, plus a directory and a symlink.
        let mut expected = BTreeSet::new();
        for i in 0..700 {
            let name = format!("file-{i:04}");
            std::fs::write(dir.path().join(&name), i.to_string()).unwrap();
            expected.insert(OsString::from(name));
        }
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::os::unix::fs::symlink("file-0000", dir.path().join("link")).unwrap();
        expected.insert("sub".into());
        expected.insert("link".into());

        let mut seen = BTreeSet::new();
        let (mut files, mut dirs, mut links) = (0, 0, 0);
        for entry in fs::read_dir(dir.path()).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name();
            assert_ne!(name, ".");
            assert_ne!(name, "..");
            assert_eq!(entry.path(), dir.path().join(&name));
            let ty = entry.file_type().unwrap();
            let meta = entry.metadata().unwrap();
            // DirEntry metadata does not follow symlinks.
            assert_eq!(meta.file_type(), ty);
            assert_eq!(entry.ino(), meta.ino());
            if ty.is_file() {
                files += 1;
            } else if ty.is_dir() {
                dirs += 1;
            } else if ty.is_symlink() {
                links += 1;
            }
            assert!(seen.insert(name), "an entry came twice");
        }
        assert_eq!(seen, expected);
        assert_eq!((files, dirs, links), (700, 1, 1));
    }

    fn read_dir_of_an_empty_directory_ends_and_stays_ended(flavor) {
        let dir = tempdir();
        let mut it = fs::read_dir(dir.path()).unwrap();
        assert!(it.next().is_none());
        assert!(it.next().is_none());
        assert!(format!("{it:?}").contains("ReadDir"));
    }

    fn read_dir_errors(flavor) {
        let dir = tempdir();
        assert_eq!(kind(fs::read_dir(dir.path().join("missing"))), ErrorKind::NotFound);
        let file = dir.path().join("file");
        std::fs::write(&file, "x").unwrap();
        assert_eq!(kind(fs::read_dir(&file)), ErrorKind::NotADirectory);
        assert_eq!(kind(fs::read_dir("bad\0path")), ErrorKind::InvalidInput);
    }

    fn entry_metadata_of_a_removed_entry_is_not_found(flavor) {
        let dir = tempdir();
        std::fs::write(dir.path().join("gone"), "x").unwrap();
        let entry = fs::read_dir(dir.path()).unwrap().next().unwrap().unwrap();
        std::fs::remove_file(entry.path()).unwrap();
        assert_eq!(kind(entry.metadata()), ErrorKind::NotFound);
        assert_eq!(entry.file_name(), "gone");
        assert!(format!("{entry:?}").contains("gone"));
    }

    fn dir_builder_plain_and_recursive(flavor) {
        let dir = tempdir();
        let one = dir.path().join("one");
        fs::DirBuilder::new().create(&one).unwrap();
        assert!(std::fs::metadata(&one).unwrap().is_dir());
        assert_eq!(kind(fs::DirBuilder::new().create(&one)), ErrorKind::AlreadyExists);
        let deep = dir.path().join("a/b/c");
        assert_eq!(kind(fs::DirBuilder::new().create(&deep)), ErrorKind::NotFound);
        fs::DirBuilder::new().recursive(true).create(&deep).unwrap();
        assert!(std::fs::metadata(&deep).unwrap().is_dir());
        // Recursive accepts an existing directory, not an existing file.
        fs::DirBuilder::new().recursive(true).create(&deep).unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, "x").unwrap();
        assert_eq!(kind(fs::DirBuilder::new().recursive(true).create(&file)), ErrorKind::AlreadyExists);
        assert_eq!(kind(fs::DirBuilder::new().create(file.join("sub"))), ErrorKind::NotADirectory);
        assert_eq!(kind(fs::DirBuilder::new().create("bad\0dir")), ErrorKind::InvalidInput);
    }

    fn dir_builder_ext_mode(flavor) {
        let dir = tempdir();
        let private = dir.path().join("private");
        fs::DirBuilder::new().mode(0o700).create(&private).unwrap();
        let mode = std::fs::metadata(&private).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        let nested = dir.path().join("x/y");
        fs::DirBuilder::new().recursive(true).mode(0o750).create(&nested).unwrap();
        let mode = std::fs::metadata(&nested).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o750 & !current_umask());
    }
}

/// The process umask, from `/proc/self/status` (0o022 if unreadable).
fn current_umask() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Umask:"))
                .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
        })
        .unwrap_or(0o022)
}

#[test]
fn debug_output_matches_std() {
    let dir = tempdir();
    std::fs::write(dir.path().join("entry"), "x").unwrap();
    let std_rd = std::fs::read_dir(dir.path()).unwrap();
    let green_rd = green::fs::read_dir(dir.path()).unwrap();
    assert_eq!(format!("{green_rd:?}"), format!("{std_rd:?}"));
    let std_entry = std::fs::read_dir(dir.path())
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    let green_entry = green::fs::read_dir(dir.path())
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    assert_eq!(format!("{green_entry:?}"), format!("{std_entry:?}"));
    let mut std_builder = std::fs::DirBuilder::new();
    std_builder.recursive(true).mode(0o700);
    let mut green_builder = green::fs::DirBuilder::new();
    green_builder.recursive(true).mode(0o700);
    assert_eq!(format!("{green_builder:?}"), format!("{std_builder:?}"));
}

#[test]
fn types_are_send_sync_and_unwind_safe_like_std() {
    fn unwind_safe<T: std::panic::UnwindSafe + std::panic::RefUnwindSafe + Unpin>() {}
    assert_send_sync::<green::fs::ReadDir>();
    assert_send_sync::<green::fs::DirEntry>();
    assert_send_sync::<green::fs::DirBuilder>();
    unwind_safe::<green::fs::ReadDir>();
    unwind_safe::<green::fs::DirEntry>();
    unwind_safe::<green::fs::DirBuilder>();
    unwind_safe::<std::fs::ReadDir>();
}
