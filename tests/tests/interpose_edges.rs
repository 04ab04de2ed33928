//! Interposition (feature `interpose`), edge cases: each scenario runs on
//! std OS threads and on green threads with the same assertions (what the
//! blocking call returns must not change), plus the green-only checks
//! (the hub stays free, fd flags unchanged, a fork child untouched).
#![cfg(feature = "interpose")]

use std::io::{ErrorKind, Read, Write};
use std::mem::ManuallyDrop;
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle as StdHandle;
use std::time::{Duration, Instant};

use green_conformance::assert_not_early;
use rstest::rstest;

extern "C" {
    fn dup2(old: i32, new: i32) -> i32;
    fn fork() -> i32;
    fn _exit(code: i32) -> !;
    fn waitpid(pid: i32, status: *mut i32, options: i32) -> i32;
}

/// Where a scenario's threads run.
#[derive(Clone, Copy, Debug)]
enum On {
    /// std OS threads.
    Os,
    /// green threads (spawned from a green thread, so on worker hubs).
    Green,
}

/// A thread of either kind, joined the same way.
enum Handle<T> {
    Os(StdHandle<T>),
    Green(green::thread::JoinHandle<T>),
}

impl<T> Handle<T> {
    fn join(self) -> T {
        match self {
            Handle::Os(h) => h.join().unwrap(),
            Handle::Green(h) => h.join().unwrap(),
        }
    }
}

impl On {
    fn spawn<T: Send + 'static>(self, f: impl FnOnce() -> T + Send + 'static) -> Handle<T> {
        match self {
            On::Os => Handle::Os(std::thread::spawn(f)),
            On::Green => Handle::Green(green_core::runtime::spawn_local(f)),
        }
    }

    /// Runs `f` as the scenario's main thread.
    fn run<T: Send + 'static>(self, f: impl FnOnce() -> T + Send + 'static) -> T {
        match self {
            On::Os => f(),
            On::Green => green::thread::spawn(f).join().unwrap(),
        }
    }
}

fn pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    (client, server)
}

fn sleep_ms(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

/// `SO_RCVTIMEO` (std's `set_read_timeout`): the read ends with
/// `WouldBlock` (EAGAIN), never before the timeout; on green, a ticker on
/// the same hub ran meanwhile.
#[rstest]
#[case::os(On::Os)]
#[case::green(On::Green)]
fn read_timeout_gives_would_block(#[case] on: On) {
    on.run(move || {
        let (_client, mut server) = pair();
        let dur = Duration::from_millis(120);
        server.set_read_timeout(Some(dur)).unwrap();
        let ticks = Arc::new(AtomicUsize::new(0));
        let t = ticks.clone();
        let ticker = on.spawn(move || {
            for _ in 0..10 {
                t.fetch_add(1, Ordering::SeqCst);
                green::thread::sleep(Duration::from_millis(2));
            }
        });
        let start = Instant::now();
        let err = server.read(&mut [0; 8]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::WouldBlock, "{err}");
        assert_not_early(start, dur, "read with SO_RCVTIMEO");
        // The ticker ran while the read waited (on green: on the same hub).
        assert_eq!(ticks.load(Ordering::SeqCst), 10);
        ticker.join();
        // The same for a write timeout? A full send buffer: SO_SNDTIMEO.
        server
            .set_write_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let chunk = vec![7u8; 1 << 16];
        let mut sent = 0usize;
        let err = loop {
            match server.write(&chunk) {
                Ok(n) => sent += n,
                Err(e) => break e,
            }
            assert!(sent < 1 << 30, "the send buffer never filled");
        };
        assert_eq!(err.kind(), ErrorKind::WouldBlock, "{err}");
    });
}

/// An fd its owner made non-blocking stays so, and gets `WouldBlock` at
/// once; blocking sockets stay blocking through interposed calls.
#[rstest]
#[case::os(On::Os)]
#[case::green(On::Green)]
fn fd_flags_are_left_alone(#[case] on: On) {
    on.run(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        for fd in [listener.as_fd(), client.as_fd(), server.as_fd()] {
            assert!(!green_core::fd::is_nonblocking(fd).unwrap());
        }
        server.set_nonblocking(true).unwrap();
        let start = Instant::now();
        let err = server.read(&mut [0; 4]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::WouldBlock);
        assert!(start.elapsed() < Duration::from_secs(5));
        assert!(green_core::fd::is_nonblocking(server.as_fd()).unwrap());
        listener.set_nonblocking(true).unwrap();
        assert_eq!(listener.accept().unwrap_err().kind(), ErrorKind::WouldBlock);
        assert!(green_core::fd::is_nonblocking(listener.as_fd()).unwrap());
        client.write_all(b"hi").unwrap();
        let mut buf = [0; 2];
        client.set_nonblocking(false).unwrap();
        server.set_nonblocking(false).unwrap();
        server.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"hi");
        assert!(!green_core::fd::is_nonblocking(server.as_fd()).unwrap());
        assert!(!green_core::fd::is_nonblocking(client.as_fd()).unwrap());
    });
}

/// A pipe (std's `io::pipe`) read that waits, on a blocking pipe: the
/// same bytes, and the pipe stays blocking.
#[rstest]
#[case::os(On::Os)]
#[case::green(On::Green)]
fn pipe_read_waits_and_flags_stay(#[case] on: On) {
    on.run(move || {
        let (mut r, mut w) = std::io::pipe().unwrap();
        let writer = on.spawn(move || {
            sleep_ms(30);
            w.write_all(&[5u8; 100_000]).unwrap();
        });
        let mut got = Vec::new();
        r.read_to_end(&mut got).unwrap();
        writer.join();
        assert_eq!(got, vec![5u8; 100_000]);
        assert!(!green_core::fd::is_nonblocking(r.as_fd()).unwrap());
    });
}

/// Closing an fd while another thread waits in `read` on it: the waiter
/// goes on with the open socket (on Linux a blocked call holds the file)
/// and gets the bytes sent afterwards.
#[rstest]
#[case::os(On::Os)]
#[case::green(On::Green)]
fn close_racing_a_waiter(#[case] on: On) {
    on.run(move || {
        let (mut client, server) = pair();
        let fd = server.as_raw_fd();
        // The reader never closes the fd itself: the closer owns that.
        let server = ManuallyDrop::new(server);
        let reader = on.spawn(move || {
            let mut buf = [0; 8];
            let n = (&*server).read(&mut buf);
            n.map(|n| buf[..n].to_vec()).map_err(|e| e.kind())
        });
        sleep_ms(30);
        // SAFETY: the fd is the server stream's, which nothing else closes.
        drop(unsafe { OwnedFd::from_raw_fd(fd) });
        sleep_ms(10);
        client.write_all(b"late").unwrap();
        assert_eq!(reader.join(), Ok(b"late".to_vec()));
    });
}

/// `dup2` onto an fd a thread waits on: the waiter keeps its old socket;
/// the fd number now names the pipe, and later reads on it (waits
/// included) are the pipe's: nothing of the socket's registration stays.
#[rstest]
#[case::os(On::Os)]
#[case::green(On::Green)]
fn dup2_onto_a_waited_fd(#[case] on: On) {
    on.run(move || {
        let (mut client, server) = pair();
        let fd = server.as_raw_fd();
        let server = ManuallyDrop::new(server);
        let reader = on.spawn(move || {
            let mut buf = [0; 8];
            let n = (&*server).read(&mut buf).unwrap();
            buf[..n].to_vec()
        });
        sleep_ms(30);
        let (pr, mut pw) = std::io::pipe().unwrap();
        // SAFETY: both fds are open; `fd` is given up by its owner here.
        assert_eq!(unsafe { dup2(pr.as_raw_fd(), fd) }, fd);
        client.write_all(b"sock").unwrap();
        assert_eq!(reader.join(), b"sock".to_vec());
        // `fd` is a pipe now: a read that must wait, then the bytes.
        // SAFETY: `fd` is now a duplicate of the pipe's read end, owned here.
        let mut at_fd = unsafe { std::fs::File::from_raw_fd(fd) };
        let second = on.spawn(move || {
            let mut buf = [0; 4];
            at_fd.read_exact(&mut buf).unwrap();
            buf
        });
        sleep_ms(30);
        pw.write_all(b"pipe").unwrap();
        assert_eq!(&second.join(), b"pipe");
        drop(pr);
    });
}

/// A forked child calling `read` is untouched: it blocks in the kernel (it
/// has no hubs) and gets the byte the parent sends, on a green thread and
/// on an OS thread alike.
#[rstest]
#[case::os(On::Os)]
#[case::green(On::Green)]
fn fork_child_reads(#[case] on: On) {
    on.run(|| {
        let (mut r, mut w) = std::io::pipe().unwrap();
        // SAFETY: the child only reads a pipe and calls _exit.
        let pid = unsafe { fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            let mut b = [0u8; 1];
            let code = match r.read(&mut b) {
                Ok(1) => i32::from(b[0]),
                _ => 1,
            };
            // SAFETY: ends the child at once, running nothing of the parent's.
            unsafe { _exit(code) };
        }
        sleep_ms(30);
        w.write_all(&[42]).unwrap();
        let mut status = 0;
        // SAFETY: `status` is valid for writes; `pid` is our child.
        assert_eq!(unsafe { waitpid(pid, &mut status, 0) }, pid);
        // WIFEXITED and WEXITSTATUS, spelled out.
        assert_eq!(
            status & 0x7f,
            0,
            "the child did not exit normally: {status:#x}"
        );
        assert_eq!((status >> 8) & 0xff, 42);
    });
}

/// A non-blocking socket whose send buffer fills: writes return what
/// went (a short count) and then `WouldBlock`, never a wait (regression:
/// a short write on a non-blocking fd once waited for the rest).
#[rstest]
#[case::os(On::Os)]
#[case::green(On::Green)]
fn nonblocking_write_fills_without_waiting(#[case] on: On) {
    on.run(|| {
        let (client, _server) = pair();
        client.set_nonblocking(true).unwrap();
        let chunk = vec![3u8; 1 << 20];
        let mut sent = 0usize;
        let err = loop {
            match (&client).write(&chunk) {
                Ok(n) => sent += n,
                Err(e) => break e,
            }
            assert!(sent < 1 << 30, "the send buffer never filled");
        };
        assert_eq!(err.kind(), ErrorKind::WouldBlock);
        assert!(sent > 0);
        assert!(green_core::fd::is_nonblocking(client.as_fd()).unwrap());
    });
}
