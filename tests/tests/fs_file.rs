//! `fs::File` and `fs::OpenOptions`: the same scenarios on `std::fs`, on
//! `green::fs` from a plain thread and on `green::fs` inside a green thread,
//! with the same assertions (results, error kinds, short reads, cursor
//! positions, locking conflicts, std's Unix extension traits).

// The scenarios open files with deliberately odd option sets (that is what
// they check), and the same body converts `std::fs::File` into itself on the
// std side.
#![allow(
    clippy::suspicious_open_options,
    clippy::nonsensical_open_options,
    clippy::useless_conversion
)]

use std::io::{self, ErrorKind, IoSlice, IoSliceMut, Read, Seek, SeekFrom, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, IntoRawFd, OwnedFd};
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use green_conformance::assert_send_sync;

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("create a temporary directory")
}

fn kind<T: std::fmt::Debug>(r: io::Result<T>) -> ErrorKind {
    r.expect_err("expected an error").kind()
}

/// Whether the process runs with effective uid 0 (permission bits do not
/// stop it). `/proc/self` is owned by the effective uid.
fn running_as_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

/// A path whose creation fails with `PermissionDenied` even for root: sysfs
/// directories have no `create` operation, so `open(O_CREAT)` gets `EACCES`.
/// `None` (with the reason printed) where /sys is not such a sysfs.
fn uncreatable_path() -> Option<PathBuf> {
    let path = PathBuf::from("/sys/green-fs-conformance-probe");
    match std::fs::File::create(&path) {
        Err(e) if e.kind() == ErrorKind::PermissionDenied => Some(path),
        other => {
            println!(
                "skipped the /sys case: creating {path:?} gave {other:?}, not PermissionDenied"
            );
            if other.is_ok() {
                let _ = std::fs::remove_file(&path);
            }
            None
        }
    }
}

const O_EXCL: i32 = 0o200; // the same on every Linux architecture

green_conformance::std_and_green! {
    std: { use std::fs; }
    green: { use green::fs; }

    fn open_missing_file_is_not_found(flavor) {
        let dir = tempdir();
        assert_eq!(kind(fs::File::open(dir.path().join("missing"))), ErrorKind::NotFound);
        assert_eq!(
            kind(fs::File::create(dir.path().join("no/such/parent"))),
            ErrorKind::NotFound
        );
        assert_eq!(
            kind(fs::OpenOptions::new().write(true).open(dir.path().join("missing"))),
            ErrorKind::NotFound
        );
    }

    fn open_through_a_file_is_not_a_directory(flavor) {
        let dir = tempdir();
        let file = dir.path().join("file");
        fs::write(&file, "x").unwrap();
        assert_eq!(kind(fs::File::open(file.join("child"))), ErrorKind::NotADirectory);
    }

    fn path_with_nul_byte_is_invalid_input(flavor) {
        assert_eq!(kind(fs::File::open("bad\0name")), ErrorKind::InvalidInput);
        assert_eq!(kind(fs::File::create("bad\0name")), ErrorKind::InvalidInput);
    }

    fn create_write_then_read_back(flavor) {
        let dir = tempdir();
        let path = dir.path().join("data");
        let mut f = fs::File::create(&path).unwrap();
        assert_eq!(f.write(b"hello ").unwrap(), 6);
        f.write_all(b"world").unwrap();
        write!(f, ", {} + {} = {}", 1, 2, 1 + 2).unwrap();
        f.flush().unwrap();
        assert_eq!(f.stream_position().unwrap(), 22);
        drop(f);

        let mut f = fs::File::open(&path).unwrap();
        let mut text = String::new();
        assert_eq!(f.read_to_string(&mut text).unwrap(), 22);
        assert_eq!(text, "hello world, 1 + 2 = 3");
        // At the end: further reads give 0 and append nothing.
        assert_eq!(f.read(&mut [0; 8]).unwrap(), 0);
        let mut bytes = b"prefix:".to_vec();
        assert_eq!(f.read_to_end(&mut bytes).unwrap(), 0);
        assert_eq!(bytes, b"prefix:");
        f.rewind().unwrap();
        assert_eq!(f.read_to_end(&mut bytes).unwrap(), 22);
        assert_eq!(bytes, b"prefix:hello world, 1 + 2 = 3");
    }

    fn writing_a_read_only_handle_fails_and_reading_a_write_only_one_too(flavor) {
        let dir = tempdir();
        let path = dir.path().join("data");
        fs::write(&path, "abc").unwrap();
        let mut ro = fs::File::open(&path).unwrap();
        let e = ro.write(b"x").unwrap_err();
        assert_eq!(e.raw_os_error(), Some(9), "EBADF, got {e:?}");
        let mut wo = fs::OpenOptions::new().write(true).open(&path).unwrap();
        let e = wo.read(&mut [0; 4]).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(9), "EBADF, got {e:?}");
        assert_eq!(fs::read(&path).unwrap(), b"abc");
    }

    fn create_truncates_an_existing_file(flavor) {
        let dir = tempdir();
        let path = dir.path().join("data");
        fs::write(&path, "a long first version").unwrap();
        let mut f = fs::File::create(&path).unwrap();
        f.write_all(b"short").unwrap();
        drop(f);
        assert_eq!(fs::read_to_string(&path).unwrap(), "short");
    }

    fn create_new_refuses_an_existing_path(flavor) {
        let dir = tempdir();
        let path = dir.path().join("data");
        let mut f = fs::File::create_new(&path).unwrap();
        // create_new opens read-write.
        f.write_all(b"first").unwrap();
        f.rewind().unwrap();
        let mut back = String::new();
        f.read_to_string(&mut back).unwrap();
        assert_eq!(back, "first");
        assert_eq!(kind(fs::File::create_new(&path)), ErrorKind::AlreadyExists);
        assert_eq!(
            kind(fs::OpenOptions::new().write(true).create_new(true).open(&path)),
            ErrorKind::AlreadyExists
        );
        // Even a dangling symbolic link counts as existing.
        let link = dir.path().join("dangling");
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &link).unwrap();
        assert_eq!(kind(fs::File::create_new(&link)), ErrorKind::AlreadyExists);
        assert_eq!(fs::read_to_string(&path).unwrap(), "first");
    }

    fn create_new_race_has_exactly_one_winner(flavor) {
        let dir = tempdir();
        for round in 0..5 {
            let path = Arc::new(dir.path().join(format!("contested-{round}")));
            let handles: Vec<_> = (0..16u8)
                .map(|i| {
                    let path = Arc::clone(&path);
                    flavor.spawn(move || match fs::File::create_new(&*path) {
                        Ok(mut f) => {
                            f.write_all(&[i]).unwrap();
                            Ok(i)
                        }
                        Err(e) => Err(e.kind()),
                    })
                })
                .collect();
            let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
            let winners: Vec<u8> = results.iter().filter_map(|r| r.ok()).collect();
            assert_eq!(winners.len(), 1, "round {round}: {results:?}");
            for r in &results {
                if let Err(k) = r {
                    assert_eq!(*k, ErrorKind::AlreadyExists);
                }
            }
            assert_eq!(fs::read(&*path).unwrap(), winners);
        }
    }

    fn open_options_append_and_truncate(flavor) {
        let dir = tempdir();
        let path = dir.path().join("log");
        fs::write(&path, "one\n").unwrap();
        let mut f = fs::OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"two\n").unwrap();
        // Appending ignores the cursor.
        let mut g = fs::OpenOptions::new().append(true).open(&path).unwrap();
        g.seek(SeekFrom::Start(0)).unwrap();
        g.write_all(b"three\n").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "one\ntwo\nthree\n");

        let f = fs::OpenOptions::new().write(true).truncate(true).open(&path).unwrap();
        assert_eq!(f.metadata().unwrap().len(), 0);
        let f = fs::OpenOptions::new().read(true).write(true).create(true).open(dir.path().join("new")).unwrap();
        assert!(f.metadata().unwrap().is_file());
    }

    fn invalid_option_combinations_are_invalid_input(flavor) {
        let dir = tempdir();
        let path = dir.path().join("data");
        fs::write(&path, "x").unwrap();
        // No access mode at all.
        assert_eq!(kind(fs::OpenOptions::new().open(&path)), ErrorKind::InvalidInput);
        // Creating or truncating without write access.
        assert_eq!(kind(fs::OpenOptions::new().read(true).create(true).open(&path)), ErrorKind::InvalidInput);
        assert_eq!(kind(fs::OpenOptions::new().read(true).truncate(true).open(&path)), ErrorKind::InvalidInput);
        // Truncating while appending.
        assert_eq!(kind(fs::OpenOptions::new().append(true).truncate(true).open(&path)), ErrorKind::InvalidInput);
        assert_eq!(fs::read(&path).unwrap(), b"x");
    }

    fn open_options_ext_mode_and_custom_flags(flavor) {
        let dir = tempdir();
        let path = dir.path().join("private");
        let f = fs::OpenOptions::new().write(true).create(true).mode(0o600).open(&path).unwrap();
        assert_eq!(f.metadata().unwrap().permissions().mode() & 0o777, 0o600);
        drop(f);
        // O_EXCL through custom_flags makes `create` exclusive.
        let mut opts = fs::OpenOptions::new();
        opts.write(true).create(true).custom_flags(O_EXCL);
        assert_eq!(kind(opts.open(&path)), ErrorKind::AlreadyExists);
        assert!(opts.open(dir.path().join("fresh")).is_ok());
        // Options are Clone and Debug.
        let copy = opts.clone();
        assert!(format!("{copy:?}").contains("OpenOptions"));
    }

    fn seeking_past_the_end_reads_nothing_and_writing_there_leaves_a_hole(flavor) {
        let dir = tempdir();
        let path = dir.path().join("data");
        let mut f = fs::File::create_new(&path).unwrap();
        f.write_all(b"0123456789").unwrap();
        assert_eq!(f.seek(SeekFrom::Start(20)).unwrap(), 20);
        assert_eq!(f.read(&mut [0; 4]).unwrap(), 0);
        assert_eq!(f.metadata().unwrap().len(), 10);
        f.write_all(b"end").unwrap();
        assert_eq!(f.metadata().unwrap().len(), 23);
        let all = fs::read(&path).unwrap();
        assert_eq!(&all[..10], b"0123456789");
        assert_eq!(&all[10..20], &[0; 10]);
        assert_eq!(&all[20..], b"end");

        assert_eq!(f.seek(SeekFrom::End(-3)).unwrap(), 20);
        assert_eq!(f.seek(SeekFrom::Current(-5)).unwrap(), 15);
        f.seek_relative(2).unwrap();
        assert_eq!(f.stream_position().unwrap(), 17);
        // Before the start: InvalidInput, and the cursor does not move.
        assert_eq!(kind(f.seek(SeekFrom::Current(-100))), ErrorKind::InvalidInput);
        assert_eq!(kind(f.seek(SeekFrom::End(-100))), ErrorKind::InvalidInput);
        assert_eq!(f.stream_position().unwrap(), 17);
    }

    fn short_reads_and_read_exact_past_the_end(flavor) {
        let dir = tempdir();
        let path = dir.path().join("data");
        fs::write(&path, b"abcdefghij").unwrap();
        let mut f = fs::File::open(&path).unwrap();
        f.seek(SeekFrom::Start(6)).unwrap();
        let mut buf = [b'.'; 8];
        // Only four bytes are left: a short read, and the cursor at the end.
        assert_eq!(f.read(&mut buf).unwrap(), 4);
        assert_eq!(&buf, b"ghij....");
        assert_eq!(f.stream_position().unwrap(), 10);

        f.seek(SeekFrom::Start(7)).unwrap();
        let mut exact = [b'.'; 5];
        let e = f.read_exact(&mut exact).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::UnexpectedEof);
        assert_eq!(e.to_string(), "failed to fill whole buffer");
        // The bytes read before EOF are consumed.
        assert_eq!(f.stream_position().unwrap(), 10);
        assert_eq!(&exact[..3], b"hij");

        f.seek(SeekFrom::Start(2)).unwrap();
        let mut exact = [0; 4];
        f.read_exact(&mut exact).unwrap();
        assert_eq!(&exact, b"cdef");
        assert_eq!(f.stream_position().unwrap(), 6);
        // Empty buffers.
        assert_eq!(f.read(&mut []).unwrap(), 0);
        f.read_exact(&mut []).unwrap();
        assert_eq!(f.stream_position().unwrap(), 6);
    }

    fn vectored_reads_and_writes(flavor) {
        let dir = tempdir();
        let path = dir.path().join("data");
        let mut f = fs::File::create_new(&path).unwrap();
        let n = f
            .write_vectored(&[IoSlice::new(b"abc"), IoSlice::new(b""), IoSlice::new(b"defgh")])
            .unwrap();
        assert_eq!(n, 8);
        f.rewind().unwrap();
        let (mut a, mut b, mut c) = ([0; 2], [0; 0], [0; 10]);
        let n = f
            .read_vectored(&mut [IoSliceMut::new(&mut a), IoSliceMut::new(&mut b), IoSliceMut::new(&mut c)])
            .unwrap();
        assert_eq!(n, 8);
        assert_eq!(&a, b"ab");
        assert_eq!(&c[..6], b"cdefgh");
        assert_eq!(&c[6..], &[0; 4]);
        assert_eq!(f.stream_position().unwrap(), 8);
        // `&File` is a reader and writer too.
        let shared = &f;
        assert_eq!((&*shared).write_vectored(&[IoSlice::new(b"!")]).unwrap(), 1);
        assert_eq!((&*shared).stream_position().unwrap(), 9);
        assert_eq!(fs::read(&path).unwrap(), b"abcdefgh!");
    }

    fn reading_a_directory_as_a_file_is_is_a_directory(flavor) {
        let dir = tempdir();
        // Opening read-only succeeds on Linux; reading fails.
        let mut d = fs::File::open(dir.path()).unwrap();
        assert!(d.metadata().unwrap().is_dir());
        assert_eq!(kind(d.read(&mut [0; 16])), ErrorKind::IsADirectory);
        assert_eq!(kind(d.read_to_end(&mut Vec::new())), ErrorKind::IsADirectory);
        let mut s = String::from("kept");
        assert_eq!(kind(d.read_to_string(&mut s)), ErrorKind::IsADirectory);
        assert_eq!(s, "kept");
        assert_eq!(kind(d.read_exact(&mut [0; 1])), ErrorKind::IsADirectory);
        // Opening it for writing fails.
        assert_eq!(kind(fs::File::create(dir.path())), ErrorKind::IsADirectory);
        assert_eq!(kind(fs::read(dir.path())), ErrorKind::IsADirectory);
        assert_eq!(kind(fs::read_to_string(dir.path())), ErrorKind::IsADirectory);
    }

    fn read_to_string_of_invalid_utf8_is_invalid_data_and_appends_nothing(flavor) {
        let dir = tempdir();
        let path = dir.path().join("bytes");
        fs::write(&path, [b'o', b'k', 0xff, 0xfe]).unwrap();
        let mut f = fs::File::open(&path).unwrap();
        let mut s = String::from("before");
        assert_eq!(kind(f.read_to_string(&mut s)), ErrorKind::InvalidData);
        assert_eq!(s, "before");
        // The bytes were consumed all the same.
        assert_eq!(f.stream_position().unwrap(), 4);
    }

    fn sync_set_len_and_metadata(flavor) {
        let dir = tempdir();
        let path = dir.path().join("data");
        let mut f = fs::File::create(&path).unwrap();
        f.write_all(&[7; 1000]).unwrap();
        f.sync_all().unwrap();
        f.sync_data().unwrap();
        let meta = f.metadata().unwrap();
        assert!(meta.is_file());
        assert_eq!(meta.len(), 1000);
        // set_len shrinks and grows without moving the cursor.
        f.set_len(10).unwrap();
        assert_eq!(f.metadata().unwrap().len(), 10);
        assert_eq!(f.stream_position().unwrap(), 1000);
        f.set_len(4096).unwrap();
        let all = fs::read(&path).unwrap();
        assert_eq!(all.len(), 4096);
        assert!(all[..10].iter().all(|&b| b == 7));
        assert!(all[10..].iter().all(|&b| b == 0));
        // Not open for writing: InvalidInput.
        let ro = fs::File::open(&path).unwrap();
        assert_eq!(kind(ro.set_len(1)), ErrorKind::InvalidInput);
        assert_eq!(fs::metadata(&path).unwrap().len(), 4096);
    }

    fn permissions_and_times(flavor) {
        let dir = tempdir();
        let path = dir.path().join("data");
        let f = fs::File::create(&path).unwrap();
        f.set_permissions(fs::Permissions::from_mode(0o640)).unwrap();
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o640);
        let mut readonly = f.metadata().unwrap().permissions();
        readonly.set_readonly(true);
        f.set_permissions(readonly).unwrap();
        assert!(fs::metadata(&path).unwrap().permissions().readonly());

        let then = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        f.set_modified(then).unwrap();
        assert_eq!(f.metadata().unwrap().modified().unwrap(), then);
        let later = then + Duration::from_secs(60);
        f.set_times(fs::FileTimes::new().set_accessed(later).set_modified(later)).unwrap();
        let meta = fs::metadata(&path).unwrap();
        assert_eq!(meta.modified().unwrap(), later);
        assert_eq!(meta.accessed().unwrap(), later);
    }

    fn try_clone_shares_the_cursor_and_outlives_the_original(flavor) {
        let dir = tempdir();
        let path = dir.path().join("data");
        let mut f = fs::File::create_new(&path).unwrap();
        let mut clone = f.try_clone().unwrap();
        assert_ne!(f.as_raw_fd(), clone.as_raw_fd());
        f.write_all(b"abc").unwrap();
        assert_eq!(clone.stream_position().unwrap(), 3);
        drop(f);
        clone.write_all(b"def").unwrap();
        clone.sync_all().unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"abcdef");
    }

    fn try_lock_conflicts(flavor) {
        let dir = tempdir();
        let path = dir.path().join("lock");
        let a = fs::File::create(&path).unwrap();
        let b = fs::File::open(&path).unwrap();
        a.lock().unwrap();
        assert!(matches!(b.try_lock(), Err(fs::TryLockError::WouldBlock)));
        assert!(matches!(b.try_lock_shared(), Err(fs::TryLockError::WouldBlock)));
        a.unlock().unwrap();
        b.try_lock_shared().unwrap();
        // Shared locks coexist; an exclusive one does not.
        a.try_lock_shared().unwrap();
        assert!(matches!(a.try_lock(), Err(fs::TryLockError::WouldBlock)));
        b.unlock().unwrap();
        a.try_lock().unwrap();
        let e = b.try_lock().unwrap_err();
        assert!(matches!(e, fs::TryLockError::WouldBlock));
        assert_eq!(io::Error::from(e).kind(), ErrorKind::WouldBlock);
        drop(a);
        // Closing releases the lock.
        b.try_lock().unwrap();
        b.lock_shared().unwrap();
        b.unlock().unwrap();
    }

    fn blocking_lock_waits_for_the_holder(flavor) {
        let dir = tempdir();
        let path = dir.path().join("lock");
        let holder = fs::File::create(&path).unwrap();
        holder.lock().unwrap();
        let released = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&released);
        let waiter_path = path.clone();
        let waiter = flavor.spawn(move || {
            let f = fs::File::open(waiter_path).unwrap();
            f.lock().unwrap();
            let saw_release = flag.load(Ordering::SeqCst);
            f.unlock().unwrap();
            saw_release
        });
        flavor.sleep(Duration::from_millis(50));
        released.store(true, Ordering::SeqCst);
        holder.unlock().unwrap();
        assert!(waiter.join().unwrap(), "the waiter got the lock before it was released");
    }

    fn positioned_io_leaves_the_cursor_alone(flavor) {
        let dir = tempdir();
        let path = dir.path().join("data");
        let f = fs::File::create_new(&path).unwrap();
        assert_eq!(f.write_at(b"world", 6).unwrap(), 5);
        f.write_all_at(b"hello ", 0).unwrap();
        assert_eq!((&f).stream_position().unwrap(), 0);
        let mut buf = [0; 16];
        assert_eq!(f.read_at(&mut buf, 3).unwrap(), 8);
        assert_eq!(&buf[..8], b"lo world");
        let mut exact = [0; 5];
        f.read_exact_at(&mut exact, 6).unwrap();
        assert_eq!(&exact, b"world");
        let mut past = [b'.'; 4];
        let e = f.read_exact_at(&mut past, 9).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::UnexpectedEof);
        assert_eq!(&past[..2], b"ld");
        assert_eq!(f.read_at(&mut buf, 100).unwrap(), 0);
        assert_eq!((&f).stream_position().unwrap(), 0);
    }

    fn fd_conversions_keep_descriptor_and_cursor(flavor) {
        let dir = tempdir();
        let path = dir.path().join("data");
        fs::write(&path, "0123456789").unwrap();
        let mut f = fs::File::open(&path).unwrap();
        f.seek(SeekFrom::Start(3)).unwrap();
        let raw = f.as_raw_fd();
        assert_eq!(f.as_fd().as_raw_fd(), raw);

        let owned: OwnedFd = f.into();
        assert_eq!(owned.as_raw_fd(), raw);
        let f = fs::File::from(owned);
        let std_file: std::fs::File = f.into();
        assert_eq!(std_file.as_raw_fd(), raw);
        let mut f = fs::File::from(std_file);
        assert_eq!(f.stream_position().unwrap(), 3);

        let raw_again = f.into_raw_fd();
        assert_eq!(raw_again, raw);
        // SAFETY: `raw_again` was just released by `into_raw_fd` and is owned
        // by nothing else.
        let mut f = unsafe { fs::File::from_raw_fd(raw_again) };
        let mut rest = String::new();
        f.read_to_string(&mut rest).unwrap();
        assert_eq!(rest, "3456789");
        let debug = format!("{f:?}");
        assert!(debug.contains(&format!("fd: {raw}")), "{debug}");
        assert!(debug.contains("read: true"), "{debug}");
    }

    fn a_file_becomes_a_child_process_stdin(flavor) {
        let dir = tempdir();
        let path = dir.path().join("input");
        fs::write(&path, "fed through stdin").unwrap();
        let f = fs::File::open(&path).unwrap();
        let out = std::process::Command::new("cat")
            .stdin(std::process::Stdio::from(f))
            .output()
            .unwrap();
        assert!(out.status.success());
        assert_eq!(out.stdout, b"fed through stdin");
    }

    fn permission_denied_even_for_root(flavor) {
        if let Some(path) = uncreatable_path() {
            assert_eq!(kind(fs::File::create(&path)), ErrorKind::PermissionDenied);
            assert_eq!(kind(fs::File::create_new(&path)), ErrorKind::PermissionDenied);
        }
    }

    fn permission_denied_by_mode_bits(flavor) {
        if running_as_root() {
            println!("skipped: running as root (euid 0), which permission bits do not stop");
            return;
        }
        let dir = tempdir();
        let path = dir.path().join("secret");
        fs::write(&path, "x").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o000)).unwrap();
        assert_eq!(kind(fs::File::open(&path)), ErrorKind::PermissionDenied);
        assert_eq!(kind(fs::read(&path)), ErrorKind::PermissionDenied);
    }
}

#[test]
fn debug_output_matches_std() {
    let dir = tempdir();
    let path = dir.path().join("data");
    std::fs::write(&path, "x").unwrap();
    let std_file = std::fs::File::open(&path).unwrap();
    let std_debug = format!("{std_file:?}");
    let green_file = green::fs::File::from(std_file);
    assert_eq!(format!("{green_file:?}"), std_debug);

    let mut std_opts = std::fs::OpenOptions::new();
    std_opts.read(true).append(true).mode(0o640);
    let mut green_opts = green::fs::OpenOptions::new();
    green_opts.read(true).append(true).mode(0o640);
    assert_eq!(format!("{green_opts:?}"), format!("{std_opts:?}"));
}

#[test]
fn types_are_send_sync_and_unwind_safe_like_std() {
    fn unwind_safe<T: std::panic::UnwindSafe + std::panic::RefUnwindSafe + Unpin>() {}
    assert_send_sync::<green::fs::File>();
    assert_send_sync::<green::fs::OpenOptions>();
    unwind_safe::<green::fs::File>();
    unwind_safe::<green::fs::OpenOptions>();
    unwind_safe::<std::fs::File>();
}

/// `File` implements std's `FileExt` and `OpenOptions` std's
/// `OpenOptionsExt`: the traits are std's own, so generic code bounded on
/// them accepts the green types.
#[test]
fn std_extension_traits_accept_green_types() {
    fn positioned<F: FileExt>(f: &F) -> io::Result<usize> {
        f.read_at(&mut [0; 1], 0)
    }
    fn with_mode<O: OpenOptionsExt>(o: &mut O) {
        o.mode(0o644);
    }
    let dir = tempdir();
    let path = dir.path().join("data");
    std::fs::write(&path, "z").unwrap();
    let mut opts = green::fs::OpenOptions::new();
    with_mode(opts.read(true));
    let f = opts.open(&path).unwrap();
    assert_eq!(positioned(&f).unwrap(), 1);
    let _: &dyn AsFd = &f;
    let _ = Path::new("unused");
}
