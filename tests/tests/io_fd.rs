//! `green_core::io::GreenFd`, the fd-readiness primitive, over `UnixStream`
//! pairs: readiness wakes, deadlines (`TimedOut` from `io`, `Ok(false)` from
//! `wait`, never early), one reader and one writer on different green
//! threads, use of one fd from two hubs, and clean deregistration.
//!
//! There is no std counterpart to run the same scenario against, so the
//! cases are green from a plain thread and green inside a green thread.

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use green_conformance::{assert_not_early, assert_send_sync, Flavor, Rng};
use green_core::io::{GreenFd, Interest};
use rstest::rstest;

/// A connected pair, both ends non-blocking and wrapped.
fn pair() -> (GreenFd<UnixStream>, GreenFd<UnixStream>) {
    let (a, b) = UnixStream::pair().unwrap();
    green_core::io::set_nonblocking(a.as_fd(), true).unwrap();
    green_core::io::set_nonblocking(b.as_fd(), true).unwrap();
    (GreenFd::new(a), GreenFd::new(b))
}

fn read_some(
    fd: &GreenFd<UnixStream>,
    buf: &mut [u8],
    deadline: Option<Instant>,
) -> io::Result<usize> {
    fd.io(Interest::Read, deadline, |mut s: &UnixStream| s.read(buf))
}

fn write_some(
    fd: &GreenFd<UnixStream>,
    buf: &[u8],
    deadline: Option<Instant>,
) -> io::Result<usize> {
    fd.io(Interest::Write, deadline, |mut s: &UnixStream| s.write(buf))
}

fn read_exact(fd: &GreenFd<UnixStream>, mut buf: &mut [u8]) -> io::Result<()> {
    while !buf.is_empty() {
        match read_some(fd, buf, None)? {
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            n => buf = &mut buf[n..],
        }
    }
    Ok(())
}

fn write_all(fd: &GreenFd<UnixStream>, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        let n = write_some(fd, buf, None)?;
        buf = &buf[n..];
    }
    Ok(())
}

/// Deterministic test data.
fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    (0..len).map(|_| rng.next_u64() as u8).collect()
}

#[test]
fn green_fd_is_send_sync_and_exposes_the_fd() {
    assert_send_sync::<GreenFd<UnixStream>>();
    let (a, b) = UnixStream::pair().unwrap();
    let raw = a.as_raw_fd();
    a.set_nonblocking(true).unwrap();
    let fd = GreenFd::new(a);
    assert_eq!(fd.as_raw_fd(), raw);
    assert_eq!(fd.as_fd().as_raw_fd(), raw);
    assert_eq!(fd.get_ref().as_raw_fd(), raw);
    assert_eq!(format!("{fd:?}"), format!("{:?}", fd.get_ref()));
    let inner = fd.into_inner();
    assert_eq!(inner.as_raw_fd(), raw);
    drop(b);
}

#[test]
fn set_nonblocking_switches_the_mode() {
    let (a, _b) = UnixStream::pair().unwrap();
    green_core::io::set_nonblocking(a.as_fd(), true).unwrap();
    let err = (&a).read(&mut [0u8; 4]).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
    // And back: a blocking read with a timeout now waits (and times out with
    // std's WouldBlock), rather than failing at once.
    green_core::io::set_nonblocking(a.as_fd(), false).unwrap();
    let dur = Duration::from_millis(20);
    a.set_read_timeout(Some(dur)).unwrap();
    let start = Instant::now();
    let err = (&a).read(&mut [0u8; 4]).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
    assert_not_early(start, dur, "blocking read with timeout");
}

#[rstest]
#[case::green_plain(Flavor::GreenPlain)]
#[case::green_in_green(Flavor::GreenInGreen)]
fn io_returns_data_written_later_from_another_thread(#[case] flavor: Flavor) {
    flavor.run(|| {
        let (a, b) = pair();
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            write_all(&b, b"hello green").unwrap();
            b // keep it open until joined
        });
        let mut buf = [0u8; 11];
        read_exact(&a, &mut buf).unwrap();
        assert_eq!(&buf, b"hello green");
        drop(writer.join().unwrap());
        // EOF once the peer is gone.
        assert_eq!(read_some(&a, &mut buf, None).unwrap(), 0);
    });
}

#[rstest]
#[case::green_plain(Flavor::GreenPlain)]
#[case::green_in_green(Flavor::GreenInGreen)]
fn wait_reports_readiness(#[case] flavor: Flavor) {
    flavor.run(|| {
        let (a, b) = pair();
        let writer = green_core::thread::spawn(move || {
            green_core::thread::sleep(Duration::from_millis(10));
            write_all(&b, b"x").unwrap();
            b
        });
        let start = Instant::now();
        let limit = Duration::from_secs(20);
        assert!(
            a.wait(Interest::Read, Some(start + limit)).unwrap(),
            "no readable edge"
        );
        assert!(start.elapsed() < limit);
        let mut buf = [0u8; 1];
        assert_eq!(a.get_ref().read(&mut buf).unwrap(), 1);
        drop(writer.join().unwrap());
    });
}

#[rstest]
#[case::green_plain(Flavor::GreenPlain)]
#[case::green_in_green(Flavor::GreenInGreen)]
fn read_deadline_expiry_is_timed_out_never_early(#[case] flavor: Flavor) {
    flavor.run(|| {
        let (a, _b) = pair();
        for ms in [1u64, 10, 30] {
            let dur = Duration::from_millis(ms);
            let start = Instant::now();
            let err = read_some(&a, &mut [0u8; 8], Some(start + dur)).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::TimedOut);
            assert_not_early(start, dur, "GreenFd::io read deadline");

            let start = Instant::now();
            assert!(!a.wait(Interest::Read, Some(start + dur)).unwrap());
            assert_not_early(start, dur, "GreenFd::wait read deadline");
        }
    });
}

#[rstest]
#[case::green_plain(Flavor::GreenPlain)]
#[case::green_in_green(Flavor::GreenInGreen)]
fn a_past_deadline_times_out_but_ready_io_succeeds(#[case] flavor: Flavor) {
    flavor.run(|| {
        let (a, b) = pair();
        let past = Instant::now();
        let err = read_some(&a, &mut [0u8; 8], Some(past)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(!a.wait(Interest::Read, Some(past)).unwrap());
        // With data there, the syscall succeeds at once: no wait, no timeout.
        write_all(&b, b"ready").unwrap();
        let mut buf = [0u8; 5];
        let n = read_some(&a, &mut buf, Some(past)).unwrap();
        assert_eq!(&buf[..n], &b"ready"[..n]);
    });
}

/// Errors other than `WouldBlock` come back from `io` untouched.
#[rstest]
#[case::green_plain(Flavor::GreenPlain)]
#[case::green_in_green(Flavor::GreenInGreen)]
fn other_errors_pass_through(#[case] flavor: Flavor) {
    flavor.run(|| {
        let (a, _b) = pair();
        let err = a
            .io(Interest::Read, None, |_| -> io::Result<()> {
                Err(io::Error::new(io::ErrorKind::InvalidData, "custom"))
            })
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert_eq!(err.to_string(), "custom");
        // And `Interrupted` is retried.
        let mut tries = 0;
        let v = a
            .io(Interest::Read, None, |_| {
                tries += 1;
                if tries < 3 {
                    Err(io::ErrorKind::Interrupted.into())
                } else {
                    Ok(tries)
                }
            })
            .unwrap();
        assert_eq!(v, 3);
    });
}

#[rstest]
#[case::green_plain(Flavor::GreenPlain)]
#[case::green_in_green(Flavor::GreenInGreen)]
fn write_waits_for_room_and_times_out_never_early(#[case] flavor: Flavor) {
    flavor.run(|| {
        let (a, b) = pair();
        // Fill the socket buffer.
        let chunk = [7u8; 4096];
        let mut written = 0usize;
        loop {
            match a.get_ref().write(&chunk) {
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("filling the buffer: {e}"),
            }
        }
        assert!(written > 0);
        // Nobody reads: a write with a deadline times out, not early.
        let dur = Duration::from_millis(20);
        let start = Instant::now();
        let err = write_some(&a, &chunk, Some(start + dur)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert_not_early(start, dur, "GreenFd::io write deadline");
        // A reader on another green thread drains everything; the blocked
        // write then completes.
        let reader = green_core::thread::spawn(move || {
            let mut total = 0usize;
            let mut buf = vec![0u8; 65536];
            while total < written + chunk.len() {
                let n = read_some(&b, &mut buf, None).unwrap();
                assert!(n > 0, "early EOF");
                assert!(buf[..n].iter().all(|&x| x == 7));
                total += n;
            }
            total
        });
        write_all(&a, &chunk).unwrap();
        assert_eq!(reader.join().unwrap(), written + chunk.len());
    });
}

/// Full duplex: on each end, one green thread writes 1 MiB while another
/// reads 1 MiB, all four at once, checked byte for byte.
#[rstest]
#[case::green_plain(Flavor::GreenPlain)]
#[case::green_in_green(Flavor::GreenInGreen)]
fn one_reader_and_one_writer_per_fd_on_different_green_threads(#[case] flavor: Flavor) {
    flavor.run(|| {
        const LEN: usize = 1 << 20;
        let (a, b) = pair();
        let (a, b) = (Arc::new(a), Arc::new(b));
        let a_to_b = pattern(LEN, 1);
        let b_to_a = pattern(LEN, 2);

        let spawn_writer = |fd: Arc<GreenFd<UnixStream>>, data: Vec<u8>| {
            green_core::thread::spawn(move || {
                // Uneven chunks, to interleave with the reader.
                let mut off = 0;
                let mut step = 1000;
                while off < data.len() {
                    let end = (off + step).min(data.len());
                    write_all(&fd, &data[off..end]).unwrap();
                    off = end;
                    step = step * 3 % 70_001 + 1;
                }
            })
        };
        let spawn_reader = |fd: Arc<GreenFd<UnixStream>>| {
            green_core::thread::spawn(move || {
                let mut got = vec![0u8; LEN];
                read_exact(&fd, &mut got).unwrap();
                got
            })
        };
        let wa = spawn_writer(a.clone(), a_to_b.clone());
        let wb = spawn_writer(b.clone(), b_to_a.clone());
        let ra = spawn_reader(a.clone());
        let rb = spawn_reader(b.clone());
        wa.join().unwrap();
        wb.join().unwrap();
        assert!(rb.join().unwrap() == a_to_b, "a -> b corrupted");
        assert!(ra.join().unwrap() == b_to_a, "b -> a corrupted");
    });
}

/// Spawns `f` on a green thread placed on a worker hub other than `avoid`
/// (each probe is spawned from a fresh OS thread, whose home worker is the
/// next one round; probes that land on `avoid` do nothing).
/// `None` with a single worker.
fn spawn_off_hub<T: Send + 'static>(
    avoid: usize,
    f: impl FnOnce() -> T + Send + 'static,
) -> Option<green_core::thread::JoinHandle<Option<T>>> {
    if green_core::runtime::workers() < 2 {
        return None;
    }
    let slot = Arc::new(Mutex::new(Some(f)));
    for _ in 0..64 {
        let slot = slot.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        let h = std::thread::spawn(move || {
            green_core::thread::spawn(move || {
                let here = green_core::runtime::hub_id();
                let _ = tx.send(here);
                if here == avoid {
                    return None;
                }
                let f = slot.lock().unwrap().take()?;
                Some(f())
            })
        })
        .join()
        .unwrap();
        // The probe reports at once, before any blocking work.
        let here = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("probe never ran");
        if here != avoid {
            return Some(h);
        }
        assert!(h.join().unwrap().is_none());
    }
    panic!("64 probes from fresh OS threads all landed on hub {avoid}")
}

/// One `GreenFd` used from two hubs: a reader on one worker hub and a
/// writer on another, on the same fd, at the same time; an echo green
/// thread serves the other end.
#[test]
fn one_fd_used_from_two_hubs_at_once() {
    const LEN: usize = 256 * 1024;
    let (a, b) = pair();
    let a = Arc::new(a);
    let data = pattern(LEN, 3);

    let echo = green_core::thread::spawn(move || {
        let mut buf = vec![0u8; 8192];
        let mut total = 0;
        while total < LEN {
            let n = read_some(&b, &mut buf, None).unwrap();
            assert!(n > 0, "early EOF at the echo");
            write_all(&b, &buf[..n]).unwrap();
            total += n;
        }
        total
    });

    let reader_hub = Arc::new(AtomicUsize::new(usize::MAX));
    let (ra, rh) = (a.clone(), reader_hub.clone());
    let reader = green_core::thread::spawn(move || {
        rh.store(green_core::runtime::hub_id(), Ordering::SeqCst);
        let mut got = vec![0u8; LEN];
        read_exact(&ra, &mut got).unwrap();
        got
    });
    while reader_hub.load(Ordering::SeqCst) == usize::MAX {
        green_core::thread::sleep(Duration::from_millis(1));
    }
    let avoid = reader_hub.load(Ordering::SeqCst);
    let (wa, wdata) = (a.clone(), data.clone());
    let writer = spawn_off_hub(avoid, move || {
        write_all(&wa, &wdata).unwrap();
        green_core::runtime::hub_id()
    });
    match writer {
        Some(w) => {
            let writer_hub = w.join().unwrap().expect("the writer ran");
            assert_ne!(writer_hub, avoid);
        }
        None => {
            println!("one_fd_used_from_two_hubs_at_once: single worker hub; writing from the test thread");
            write_all(&a, &data).unwrap();
        }
    }
    assert!(reader.join().unwrap() == data, "echoed data corrupted");
    assert_eq!(echo.join().unwrap(), LEN);
}

/// One `GreenFd`, read in turns from the test thread's hub and from worker
/// hubs: each hub's registration keeps delivering edges after another hub
/// registered the same fd.
#[test]
fn one_fd_read_in_turns_from_several_hubs() {
    let (a, b) = pair();
    let a = Arc::new(a);
    for round in 0..12u8 {
        let msg = [round; 3];
        // Write after the reader had a chance to start waiting.
        let reader_a = a.clone();
        let read_here = round % 3 == 0;
        let writer = std::thread::spawn({
            let b_fd = b.get_ref().try_clone().unwrap();
            move || {
                std::thread::sleep(Duration::from_millis(3));
                (&b_fd).write_all(&msg).unwrap();
            }
        });
        let got = if read_here {
            let mut buf = [0u8; 3];
            read_exact(&reader_a, &mut buf).unwrap();
            buf
        } else {
            green_core::thread::spawn(move || {
                let mut buf = [0u8; 3];
                read_exact(&reader_a, &mut buf).unwrap();
                buf
            })
            .join()
            .unwrap()
        };
        writer.join().unwrap();
        assert_eq!(got, msg, "round {round}");
    }
}

/// Dropping a `GreenFd` deregisters it before the fd closes: fd numbers are
/// reused at once by new pairs, which must work on the same hub.
#[rstest]
#[case::green_plain(Flavor::GreenPlain)]
#[case::green_in_green(Flavor::GreenInGreen)]
fn drop_deregisters_so_reused_fd_numbers_work(#[case] flavor: Flavor) {
    flavor.run(|| {
        for round in 0..200u32 {
            let (a, b) = pair();
            let peer = green_core::runtime::spawn_local(move || {
                write_all(&b, &round.to_le_bytes()).unwrap();
                b
            });
            let mut buf = [0u8; 4];
            read_exact(&a, &mut buf).unwrap();
            assert_eq!(u32::from_le_bytes(buf), round);
            drop(peer.join().unwrap());
            // Alternate between drop and into_inner.
            if round % 2 == 0 {
                drop(a);
            } else {
                let inner = a.into_inner();
                // The object is intact after into_inner.
                assert_eq!((&inner).read(&mut buf).unwrap(), 0);
            }
        }
    });
}

/// A green thread waiting on an fd leaves its hub free: the neighbour that
/// writes the awaited byte lives on the same hub.
#[test]
fn an_fd_wait_leaves_the_hub_free() {
    let (got, same_hub) = Flavor::GreenInGreen.run(|| {
        let (a, b) = pair();
        let writer = green_core::runtime::spawn_local(move || {
            write_all(&b, b"!").unwrap();
            (b, green_core::runtime::hub_id())
        });
        let mut buf = [0u8; 1];
        read_exact(&a, &mut buf).unwrap();
        let (_b, hub) = writer.join().unwrap();
        (buf[0], hub == green_core::runtime::hub_id())
    });
    assert!(same_hub);
    assert_eq!(got, b'!');
}

/// Many pairs at once, each served by two green threads (bounded stress).
#[test]
fn many_pairs_ping_pong() {
    const PAIRS: usize = 64;
    const ROUNDS: u32 = 50;
    let handles: Vec<_> = (0..PAIRS)
        .map(|_| {
            let (a, b) = pair();
            let pong = green_core::thread::spawn(move || {
                let mut buf = [0u8; 4];
                for _ in 0..ROUNDS {
                    read_exact(&b, &mut buf).unwrap();
                    let v = u32::from_le_bytes(buf) + 1;
                    write_all(&b, &v.to_le_bytes()).unwrap();
                }
            });
            let ping = green_core::thread::spawn(move || {
                let mut v = 0u32;
                let mut buf = [0u8; 4];
                for _ in 0..ROUNDS {
                    write_all(&a, &v.to_le_bytes()).unwrap();
                    read_exact(&a, &mut buf).unwrap();
                    v = u32::from_le_bytes(buf) + 1;
                }
                v
            });
            (ping, pong)
        })
        .collect();
    for (ping, pong) in handles {
        assert_eq!(ping.join().unwrap(), 2 * ROUNDS);
        pong.join().unwrap();
    }
}

/// Several green threads of one hub wait on one fd at once, in both
/// directions, and one of them gives up at its deadline: every byte written
/// is read exactly once, the timed-out reader leaves no entry behind (the
/// others still get theirs), and the writer blocked on a full buffer
/// finishes once the peer drains it.
#[test]
fn several_waiters_of_one_fd_on_one_hub() {
    const READERS: usize = 3;
    let (got, timed_out, written) = Flavor::GreenInGreen.run(|| {
        let (a, b) = pair();
        let a = Arc::new(a);
        // Fill `a`'s send buffer, so a writer on it has to wait.
        let chunk = [7u8; 4096];
        let mut filled = 0;
        while let Ok(n) = write_some(&a, &chunk, Some(Instant::now())) {
            filled += n;
        }
        let quitter = {
            let a = a.clone();
            green_core::runtime::spawn_local(move || {
                let mut buf = [0u8; 1];
                let deadline = Instant::now() + Duration::from_millis(30);
                read_some(&a, &mut buf, Some(deadline)).map_err(|e| e.kind())
            })
        };
        let readers: Vec<_> = (0..READERS)
            .map(|_| {
                let a = a.clone();
                green_core::runtime::spawn_local(move || {
                    let mut buf = [0u8; 1];
                    read_some(&a, &mut buf, None).unwrap();
                    (buf[0], green_core::runtime::hub_id())
                })
            })
            .collect();
        let writer = {
            let a = a.clone();
            green_core::runtime::spawn_local(move || {
                write_all(&a, &[9u8; 1000]).unwrap();
                green_core::runtime::hub_id()
            })
        };
        let timed_out = quitter.join().unwrap();
        // One byte at a time: each wakes every waiting reader, one wins.
        for i in 0..READERS as u8 {
            write_all(&b, &[i]).unwrap();
            green_core::thread::sleep(Duration::from_millis(5));
        }
        let here = green_core::runtime::hub_id();
        let mut got: Vec<u8> = readers
            .into_iter()
            .map(|r| {
                let (byte, hub) = r.join().unwrap();
                assert_eq!(hub, here);
                byte
            })
            .collect();
        got.sort_unstable();
        // Drain `b` so the writer can finish, and count what it gets.
        let mut drained = vec![0u8; filled + 1000];
        read_exact(&b, &mut drained).unwrap();
        assert_eq!(writer.join().unwrap(), here);
        (got, timed_out, drained.len())
    });
    assert_eq!(timed_out, Err(io::ErrorKind::TimedOut));
    assert_eq!(got, (0..READERS as u8).collect::<Vec<_>>());
    assert!(written > 1000);
}
