//! `io::pipe`, `PipeReader`, `PipeWriter`: the same scenarios on std's
//! pipes and on green's (from a plain thread and inside a green thread),
//! then green-only checks that an empty or full pipe parks only the waiting
//! green thread, and that descriptors keep the mode they came in.

use std::io::{ErrorKind, IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, IntoRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use green::rt::runtime;
use green::thread;
use green_conformance::{eventually, Flavor};

const HANG: Duration = Duration::from_secs(60);

green_conformance::std_and_green! {
    std: { use std::io::{pipe, PipeReader, PipeWriter, Read, Write}; use std::process::{Command, Stdio}; }
    green: { use green::io::{pipe, PipeReader, PipeWriter, Read, Write}; use green::process::{Command, Stdio}; }

    fn bytes_written_are_read_then_eof(flavor) {
        let (mut r, mut w) = pipe().unwrap();
        w.write_all(b"hello").unwrap();
        (&w).write_all(b", world").unwrap();
        w.flush().unwrap();
        drop(w);
        let mut first = [0u8; 5];
        (&r).read_exact(&mut first).unwrap();
        assert_eq!(&first, b"hello");
        let mut rest = String::new();
        r.read_to_string(&mut rest).unwrap();
        assert_eq!(rest, ", world");
        assert_eq!(r.read(&mut [0u8; 8]).unwrap(), 0);
    }

    fn vectored_io(flavor) {
        let (mut r, mut w) = pipe().unwrap();
        let n = w.write_vectored(&[IoSlice::new(b"ab"), IoSlice::new(b"cde")]).unwrap();
        assert_eq!(n, 5);
        drop(w);
        let (mut a, mut b) = ([0u8; 2], [0u8; 8]);
        let n = r.read_vectored(&mut [IoSliceMut::new(&mut a), IoSliceMut::new(&mut b)]).unwrap();
        assert_eq!(n, 5);
        assert_eq!((&a, &b[..3]), (b"ab", &b"cde"[..]));
    }

    fn writing_without_a_reader_is_broken_pipe(flavor) {
        let (r, mut w) = pipe().unwrap();
        drop(r);
        assert_eq!(w.write(b"x").unwrap_err().kind(), ErrorKind::BrokenPipe);
        assert_eq!(w.write_all(b"x").unwrap_err().kind(), ErrorKind::BrokenPipe);
    }

    fn clones_share_the_pipe(flavor) {
        let (r, w) = pipe().unwrap();
        let w2 = w.try_clone().unwrap();
        let r2 = r.try_clone().unwrap();
        assert_ne!(w2.as_raw_fd(), w.as_raw_fd());
        (&w).write_all(b"one ").unwrap();
        (&w2).write_all(b"two").unwrap();
        drop((w, w2));
        drop(r);
        let mut text = String::new();
        (&r2).read_to_string(&mut text).unwrap();
        assert_eq!(text, "one two");
    }

    fn a_megabyte_across_threads(flavor) {
        let (mut r, mut w) = pipe().unwrap();
        let data: Vec<u8> = (0..1u32 << 20).map(|i| (i % 253) as u8).collect();
        let sent = data.clone();
        let writer = flavor.spawn(move || {
            for chunk in sent.chunks(100_003) {
                w.write_all(chunk).unwrap();
            }
        });
        let mut got = Vec::new();
        r.read_to_end(&mut got).unwrap();
        writer.join().unwrap();
        assert!(got == data, "{} bytes came back different", got.len());
    }

    fn ends_become_a_childs_stdin_and_stdout(flavor) {
        let (r, mut w) = pipe().unwrap();
        let (mut out_r, out_w) = pipe().unwrap();
        let mut child = Command::new("cat").stdin(r).stdout(out_w).spawn().unwrap();
        w.write_all(b"to the child").unwrap();
        drop(w);
        assert!(child.wait().unwrap().success());
        let mut text = String::new();
        out_r.read_to_string(&mut text).unwrap();
        assert_eq!(text, "to the child");
        let (r, _w) = pipe().unwrap();
        let _: Stdio = r.into();
    }

    fn owned_fd_round_trip_in_blocking_mode(flavor) {
        let (r, w) = pipe().unwrap();
        let fd: OwnedFd = r.into();
        assert!(!green_core::fd::is_nonblocking(fd.as_fd()).unwrap());
        let r = PipeReader::from(fd);
        let wfd: OwnedFd = OwnedFd::from(w);
        assert!(!green_core::fd::is_nonblocking(wfd.as_fd()).unwrap());
        let mut w = PipeWriter::from(wfd);
        w.write_all(b"again").unwrap();
        drop(w);
        let raw = r.into_raw_fd();
        assert!(raw > 2);
        // SAFETY: `raw` was just released by `into_raw_fd` and is owned by
        // nothing else.
        let mut r = unsafe { PipeReader::from_raw_fd(raw) };
        let mut text = String::new();
        r.read_to_string(&mut text).unwrap();
        assert_eq!(text, "again");
    }

    fn debug_prints_the_descriptor(flavor) {
        let (r, w) = pipe().unwrap();
        assert_eq!(format!("{r:?}"), format!("PipeReader(FileDesc(OwnedFd {{ fd: {} }}))", r.as_raw_fd()));
        assert_eq!(format!("{w:?}"), format!("PipeWriter(FileDesc(OwnedFd {{ fd: {} }}))", w.as_raw_fd()));
    }
}

#[test]
fn pipe_ends_are_send_and_sync_like_std() {
    green_conformance::assert_send_sync::<green::io::PipeReader>();
    green_conformance::assert_send_sync::<green::io::PipeWriter>();
}

/// Runs a ticker on the current hub while `wait_on` blocks in a pipe call;
/// `release` (on another OS thread) unblocks it once the ticker has
/// advanced, or after [`HANG`]. Returns whether the ticker advanced.
fn ticker_runs_while(
    wait_on: impl FnOnce() + Send + 'static,
    release: impl FnOnce() + Send + 'static,
) -> bool {
    thread::spawn(move || {
        let ticks = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (t, s) = (ticks.clone(), stop.clone());
        let ticker = runtime::spawn_local(move || {
            while !s.load(Ordering::Acquire) {
                t.fetch_add(1, Ordering::Relaxed);
                thread::sleep(Duration::from_millis(1));
            }
        });
        let watched = ticks.clone();
        let releaser = std::thread::spawn(move || {
            let advanced = eventually(Flavor::Std, HANG, || watched.load(Ordering::Relaxed) >= 30);
            release();
            advanced
        });
        wait_on();
        stop.store(true, Ordering::Release);
        ticker.join().unwrap();
        releaser.join().unwrap()
    })
    .join()
    .unwrap()
}

#[test]
fn an_empty_pipe_parks_only_the_reader() {
    use std::io::{Read, Write};
    let (mut r, mut w) = green::io::pipe().unwrap();
    let advanced = ticker_runs_while(
        move || {
            let mut buf = [0u8; 16];
            assert_eq!(r.read(&mut buf).unwrap(), 5);
            assert_eq!(&buf[..5], b"wake!");
        },
        move || w.write_all(b"wake!").unwrap(),
    );
    assert!(advanced, "the hub was blocked while the reader waited");
}

#[test]
fn a_full_pipe_parks_only_the_writer() {
    use std::io::{Read, Write};
    let (mut r, mut w) = green::io::pipe().unwrap();
    let (got_tx, got_rx) = std::sync::mpsc::channel();
    let advanced = ticker_runs_while(
        move || w.write_all(&vec![7u8; 1 << 20]).unwrap(),
        move || {
            // Drain on this OS thread, after the ticker proved the hub runs.
            std::thread::spawn(move || {
                let mut got = Vec::new();
                r.read_to_end(&mut got).unwrap();
                got_tx.send(got).unwrap();
            });
        },
    );
    let got = got_rx.recv().unwrap();
    assert_eq!(got.len(), 1 << 20);
    assert!(got.iter().all(|&b| b == 7));
    assert!(advanced, "the hub was blocked while the writer waited");
}

/// Ends made by `pipe` are non-blocking while green holds them; an adopted
/// descriptor is given back in the mode it came in.
#[test]
fn descriptors_keep_the_mode_they_came_in() {
    let (r, w) = green::io::pipe().unwrap();
    assert!(green_core::fd::is_nonblocking(r.as_fd()).unwrap());
    assert!(green_core::fd::is_nonblocking(w.as_fd()).unwrap());
    let clone = r.try_clone().unwrap();
    assert!(green_core::fd::is_nonblocking(clone.as_fd()).unwrap());

    let (sr, _sw) = std::io::pipe().unwrap();
    green_core::io::set_nonblocking(sr.as_fd(), true).unwrap();
    let adopted = green::io::PipeReader::from(OwnedFd::from(sr));
    let back: std::io::PipeReader = adopted.into();
    assert!(
        green_core::fd::is_nonblocking(back.as_fd()).unwrap(),
        "a descriptor adopted non-blocking must come back non-blocking"
    );
    let std_end: std::io::PipeWriter = w.into();
    assert!(!green_core::fd::is_nonblocking(std_end.as_fd()).unwrap());
}
