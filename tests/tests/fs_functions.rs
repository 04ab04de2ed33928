//! The free functions of `fs` (`read`, `write`, `copy`, `rename`, ...): the
//! same scenarios on `std::fs`, on `green::fs` from a plain thread and on
//! `green::fs` inside a green thread, with the same assertions, error cases
//! included.

use std::io::{self, ErrorKind};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::PathBuf;

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("create a temporary directory")
}

fn kind<T: std::fmt::Debug>(r: io::Result<T>) -> ErrorKind {
    r.expect_err("expected an error").kind()
}

/// A directory in which creating entries fails with `PermissionDenied` even
/// for root (sysfs has no `create`/`mkdir` operations: `EACCES`/`EPERM`).
/// `None`, with the reason printed, where /sys is not such a sysfs.
fn uncreatable_dir() -> Option<PathBuf> {
    let dir = PathBuf::from("/sys");
    match std::fs::create_dir(dir.join("green-fs-conformance-probe")) {
        Err(e) if e.kind() == ErrorKind::PermissionDenied => Some(dir),
        other => {
            println!("skipped the /sys case: mkdir there gave {other:?}, not PermissionDenied");
            if other.is_ok() {
                let _ = std::fs::remove_dir(dir.join("green-fs-conformance-probe"));
            }
            None
        }
    }
}

green_conformance::std_and_green! {
    std: { use std::fs; }
    green: { use green::fs; }

    fn read_write_and_read_to_string(flavor) {
        let dir = tempdir();
        let path = dir.path().join("data");
        fs::write(&path, b"first").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"first");
        // write truncates.
        fs::write(&path, String::from("2nd")).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "2nd");
        let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        fs::write(&path, &big).unwrap();
        assert_eq!(fs::read(&path).unwrap(), big);
        fs::write(&path, []).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"");

        fs::write(&path, [0xc3, 0x28]).unwrap();
        assert_eq!(kind(fs::read_to_string(&path)), ErrorKind::InvalidData);
        assert_eq!(kind(fs::read(dir.path().join("missing"))), ErrorKind::NotFound);
        assert_eq!(kind(fs::read_to_string(dir.path().join("missing"))), ErrorKind::NotFound);
        assert_eq!(kind(fs::write(dir.path().join("no/parent"), "x")), ErrorKind::NotFound);
        assert_eq!(kind(fs::write(dir.path(), "x")), ErrorKind::IsADirectory);
        assert_eq!(kind(fs::read("nul\0byte")), ErrorKind::InvalidInput);
    }

    fn metadata_follows_symlinks_and_symlink_metadata_does_not(flavor) {
        let dir = tempdir();
        let target = dir.path().join("target");
        fs::write(&target, "12345").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let meta = fs::metadata(&link).unwrap();
        assert!(meta.is_file());
        assert_eq!(meta.len(), 5);
        let lmeta = fs::symlink_metadata(&link).unwrap();
        assert!(lmeta.is_symlink());
        assert!(lmeta.file_type().is_symlink());
        assert_eq!(fs::metadata(&target).unwrap().ino(), meta.ino());
        assert_eq!(kind(fs::metadata(dir.path().join("missing"))), ErrorKind::NotFound);
        assert_eq!(kind(fs::symlink_metadata(dir.path().join("missing"))), ErrorKind::NotFound);
        // A dangling link has symlink metadata but no metadata.
        std::fs::remove_file(&target).unwrap();
        assert_eq!(kind(fs::metadata(&link)), ErrorKind::NotFound);
        assert!(fs::symlink_metadata(&link).unwrap().is_symlink());
    }

    fn create_dir_and_create_dir_all(flavor) {
        let dir = tempdir();
        let one = dir.path().join("one");
        fs::create_dir(&one).unwrap();
        assert_eq!(kind(fs::create_dir(&one)), ErrorKind::AlreadyExists);
        assert_eq!(kind(fs::create_dir(dir.path().join("x/y"))), ErrorKind::NotFound);
        fs::create_dir_all(dir.path().join("x/y/z")).unwrap();
        fs::create_dir_all(dir.path().join("x/y/z")).unwrap();
        assert!(fs::metadata(dir.path().join("x/y/z")).unwrap().is_dir());
        let file = dir.path().join("file");
        fs::write(&file, "x").unwrap();
        assert_eq!(kind(fs::create_dir(&file)), ErrorKind::AlreadyExists);
        assert_eq!(kind(fs::create_dir_all(file.join("below"))), ErrorKind::NotADirectory);
    }

    fn remove_file_remove_dir_and_remove_dir_all(flavor) {
        let dir = tempdir();
        let file = dir.path().join("file");
        fs::write(&file, "x").unwrap();
        let sub = dir.path().join("sub");
        fs::create_dir_all(sub.join("deeper/still")).unwrap();
        fs::write(sub.join("deeper/f"), "x").unwrap();

        assert_eq!(kind(fs::remove_file(dir.path().join("missing"))), ErrorKind::NotFound);
        assert_eq!(kind(fs::remove_file(&sub)), ErrorKind::IsADirectory);
        assert_eq!(kind(fs::remove_dir(&sub)), ErrorKind::DirectoryNotEmpty);
        assert_eq!(kind(fs::remove_dir(&file)), ErrorKind::NotADirectory);
        assert_eq!(kind(fs::remove_dir(dir.path().join("missing"))), ErrorKind::NotFound);
        assert_eq!(kind(fs::remove_dir_all(dir.path().join("missing"))), ErrorKind::NotFound);
        assert_eq!(kind(fs::remove_dir_all(&file)), ErrorKind::NotADirectory);

        fs::remove_file(&file).unwrap();
        assert!(!fs::exists(&file).unwrap());
        fs::remove_dir(sub.join("deeper/still")).unwrap();
        fs::remove_dir_all(&sub).unwrap();
        assert!(!fs::exists(&sub).unwrap());
    }

    fn rename_moves_and_replaces(flavor) {
        let dir = tempdir();
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        fs::write(&a, "A").unwrap();
        fs::write(&b, "B").unwrap();
        fs::rename(&a, &b).unwrap();
        assert!(!fs::exists(&a).unwrap());
        assert_eq!(fs::read_to_string(&b).unwrap(), "A");
        assert_eq!(kind(fs::rename(&a, &b)), ErrorKind::NotFound);

        let d1 = dir.path().join("d1");
        let d2 = dir.path().join("d2");
        fs::create_dir(&d1).unwrap();
        fs::create_dir(&d2).unwrap();
        fs::write(d2.join("occupant"), "x").unwrap();
        assert_eq!(kind(fs::rename(&d1, &d2)), ErrorKind::DirectoryNotEmpty);
        assert_eq!(kind(fs::rename(&b, &d1)), ErrorKind::IsADirectory);
        assert_eq!(kind(fs::rename(&d1, &b)), ErrorKind::NotADirectory);
        fs::remove_file(d2.join("occupant")).unwrap();
        fs::rename(&d1, &d2).unwrap();
        assert!(!fs::exists(&d1).unwrap());
    }

    fn copy_copies_contents_and_permissions(flavor) {
        let dir = tempdir();
        let from = dir.path().join("from");
        let to = dir.path().join("to");
        let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 256) as u8).collect();
        fs::write(&from, &data).unwrap();
        fs::set_permissions(&from, fs::Permissions::from_mode(0o640)).unwrap();
        fs::write(&to, "old and longer than nothing").unwrap();
        assert_eq!(fs::copy(&from, &to).unwrap(), data.len() as u64);
        assert_eq!(fs::read(&to).unwrap(), data);
        assert_eq!(fs::metadata(&to).unwrap().permissions().mode() & 0o777, 0o640);

        assert_eq!(kind(fs::copy(dir.path().join("missing"), &to)), ErrorKind::NotFound);
        assert_eq!(kind(fs::copy(dir.path(), &to)), ErrorKind::InvalidInput);
        assert_eq!(kind(fs::copy(&from, dir.path().join("no/parent"))), ErrorKind::NotFound);
    }

    fn hard_link_read_link_and_canonicalize(flavor) {
        let dir = tempdir();
        let original = dir.path().join("original");
        fs::write(&original, "x").unwrap();
        let link = dir.path().join("hard");
        fs::hard_link(&original, &link).unwrap();
        assert_eq!(fs::metadata(&link).unwrap().ino(), fs::metadata(&original).unwrap().ino());
        assert_eq!(fs::metadata(&original).unwrap().nlink(), 2);
        assert_eq!(kind(fs::hard_link(&original, &link)), ErrorKind::AlreadyExists);
        assert_eq!(kind(fs::hard_link(dir.path().join("missing"), dir.path().join("h2"))), ErrorKind::NotFound);

        let soft = dir.path().join("soft");
        #[allow(deprecated)]
        fs::soft_link("original", &soft).unwrap();
        assert_eq!(fs::read_link(&soft).unwrap(), PathBuf::from("original"));
        #[allow(deprecated)]
        let again = fs::soft_link("original", &soft);
        assert_eq!(kind(again), ErrorKind::AlreadyExists);
        assert_eq!(kind(fs::read_link(&original)), ErrorKind::InvalidInput);
        assert_eq!(kind(fs::read_link(dir.path().join("missing"))), ErrorKind::NotFound);

        let canonical_dir = fs::canonicalize(dir.path()).unwrap();
        assert_eq!(fs::canonicalize(&soft).unwrap(), canonical_dir.join("original"));
        assert_eq!(
            fs::canonicalize(dir.path().join("./hard/../original")).unwrap_err().kind(),
            ErrorKind::NotADirectory
        );
        assert_eq!(kind(fs::canonicalize(dir.path().join("missing"))), ErrorKind::NotFound);
    }

    fn set_permissions_and_exists(flavor) {
        let dir = tempdir();
        let path = dir.path().join("data");
        fs::write(&path, "x").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o604)).unwrap();
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o604);
        assert_eq!(
            kind(fs::set_permissions(dir.path().join("missing"), fs::Permissions::from_mode(0o600))),
            ErrorKind::NotFound
        );
        assert!(fs::exists(&path).unwrap());
        assert!(fs::exists(dir.path()).unwrap());
        assert!(!fs::exists(dir.path().join("missing")).unwrap());
        let dangling = dir.path().join("dangling");
        std::os::unix::fs::symlink("nowhere", &dangling).unwrap();
        assert!(!fs::exists(&dangling).unwrap());
        // A path through a file is an error, not `false`.
        assert_eq!(kind(fs::exists(path.join("below"))), ErrorKind::NotADirectory);
    }

    fn permission_denied_even_for_root(flavor) {
        if let Some(dir) = uncreatable_dir() {
            let target = dir.join("green-fs-conformance-probe");
            assert_eq!(kind(fs::create_dir(&target)), ErrorKind::PermissionDenied);
            assert_eq!(kind(fs::create_dir_all(&target)), ErrorKind::PermissionDenied);
            assert_eq!(kind(fs::write(&target, "x")), ErrorKind::PermissionDenied);
        }
        // Unlinking a /proc entry is refused to everyone.
        match std::fs::remove_file("/proc/self/status") {
            Err(e) if e.kind() == ErrorKind::PermissionDenied => {
                assert_eq!(kind(fs::remove_file("/proc/self/status")), ErrorKind::PermissionDenied);
            }
            other => println!("skipped the /proc case: unlink gave {other:?}"),
        }
    }
}
