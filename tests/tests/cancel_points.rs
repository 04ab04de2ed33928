//! Every cancellation point the issue lists, interrupted three ways:
//!
//! * `deadline_green` — `green::rt::timeout` around the call, on a green
//!   thread: the call unwinds to the scope, which returns `Err(Elapsed)`;
//! * `cancel_green` — the call on a green thread, cancelled with
//!   `Cancel::cancel` once a dump shows it parked there: `join` returns the
//!   `Cancelled` payload;
//! * `deadline_plain` — `timeout` around the call on the test's plain OS
//!   thread.
//!
//! Each point is a call that would wait forever, plus an `after` step that
//! runs once the call was interrupted: it checks that the primitive was
//! left clean (no stranded waiter, no lock held by nobody, the message
//! still there, the lost wake-up passed on) and lets go of what the call
//! waited for. Nothing here asserts on elapsed time; a point that failed to
//! interrupt shows up as a hang.

use std::future::Future;
use std::io::{Read, Write};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use green::net::{TcpListener, TcpStream};
use green::rt::{timeout, Cancelled, Elapsed, State};
use green::sync::{mpsc, Barrier, Condvar, LazyLock, Mutex, Once, OnceLock, RwLock};
use green::thread::Cancel;
use rstest::rstest;

/// How the call is interrupted.
#[derive(Debug, Clone, Copy)]
enum How {
    DeadlineGreen,
    CancelGreen,
    DeadlinePlain,
}

/// How long the deadlines give the call: long enough that the call is
/// parked when it passes, short enough to keep the suite quick (nothing is
/// asserted about it).
const DEADLINE: Duration = Duration::from_millis(30);

/// A call that does not return by itself, and the checks to run after it
/// was interrupted.
struct Point {
    call: Box<dyn FnOnce() + Send>,
    after: Box<dyn FnOnce() + Send>,
}

fn point(call: impl FnOnce() + Send + 'static, after: impl FnOnce() + Send + 'static) -> Point {
    Point {
        call: Box::new(call),
        after: Box::new(after),
    }
}

/// Names the green threads running points, so a dump can find them.
fn next_name() -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!("cancel-point-{}", N.fetch_add(1, Ordering::Relaxed))
}

/// Waits until the dump shows the named green thread waiting (parked,
/// sleeping, in an fd wait, in `unblock` or `block_on`).
fn wait_until_waiting(name: &str) {
    let start = Instant::now();
    loop {
        let dump = green::rt::dump();
        let state = dump
            .threads
            .iter()
            .find(|t| t.name.as_deref() == Some(name))
            .map(|t| t.state.clone());
        match state {
            Some(State::Running | State::Ready | State::NotStarted) | None => {}
            Some(_) => return,
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{name} never waited:\n{dump}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn interrupt(how: How, p: Point) {
    let Point { call, after } = p;
    match how {
        How::DeadlinePlain => {
            assert!(!green_core::park::in_green_thread());
            assert_eq!(timeout(DEADLINE, call), Err(Elapsed));
        }
        How::DeadlineGreen => {
            let h = green::thread::spawn(move || timeout(DEADLINE, call));
            assert_eq!(h.join().unwrap(), Err(Elapsed));
        }
        How::CancelGreen => {
            let name = next_name();
            let h = green::thread::Builder::new()
                .name(name.clone())
                .spawn(call)
                .unwrap();
            wait_until_waiting(&name);
            h.cancel();
            let payload = h.join().expect_err("a cancelled call returned");
            assert!(payload.is::<Cancelled>(), "not the Cancelled payload");
        }
    }
    after();
}

/// A green thread that runs `hold`, which takes something (a lock) and
/// calls the callback it gets to wait, holding it, until released; returns
/// once it holds it, with the releasing sender.
fn holder(hold: impl FnOnce(&dyn Fn()) + Send + 'static) -> mpsc::Sender<()> {
    let (release, released) = mpsc::channel::<()>();
    let (held, is_held) = std::sync::mpsc::channel();
    green::thread::spawn(move || {
        hold(&|| {
            held.send(()).unwrap();
            let _ = released.recv();
        });
    });
    is_held.recv().unwrap();
    release
}

/// Spawns `f` on a named green thread and returns once it waits (so it is
/// queued behind whatever the interrupted call left, if anything).
fn queued<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> green::thread::JoinHandle<T> {
    let name = next_name();
    let h = green::thread::Builder::new()
        .name(name.clone())
        .spawn(f)
        .unwrap();
    wait_until_waiting(&name);
    h
}

/// Wraps a value shared between `call` and `after` (poison from the
/// unwinding call is ignored).
fn shared<T>(v: T) -> Arc<std::sync::Mutex<T>> {
    Arc::new(std::sync::Mutex::new(v))
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

mod points {
    use super::*;

    fn tcp_pair() -> (TcpStream, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (s, _) = l.accept().unwrap();
        (c, s)
    }

    pub fn tcp_read() -> Point {
        let (c, s) = tcp_pair();
        let c = Arc::new(c);
        let c2 = c.clone();
        point(
            move || {
                let mut buf = [0; 8];
                let _ = (&*c2).read(&mut buf);
            },
            move || {
                // The stream still works, and nothing read was lost.
                (&s).write_all(b"hi").unwrap();
                let mut buf = [0; 2];
                (&*c).read_exact(&mut buf).unwrap();
                assert_eq!(&buf, b"hi");
            },
        )
    }

    pub fn tcp_accept() -> Point {
        let l = Arc::new(TcpListener::bind("127.0.0.1:0").unwrap());
        let l2 = l.clone();
        point(
            move || {
                let _ = l2.accept();
            },
            move || {
                let _c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
                l.accept().unwrap();
            },
        )
    }

    pub fn tcp_connect() -> Point {
        // A listener whose accept queue is full drops new SYNs, so a connect
        // to it waits: fill the queue first.
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let mut held = Vec::new();
        loop {
            match TcpStream::connect_timeout(&addr, Duration::from_millis(50)) {
                Ok(s) => held.push(s),
                Err(_) => break,
            }
            assert!(held.len() < 1000, "the accept queue never filled");
        }
        point(
            move || {
                let _ = TcpStream::connect(addr);
            },
            move || {
                // The queued connections are still there to accept.
                l.accept().unwrap();
                drop(held);
            },
        )
    }

    pub fn tcp_write() -> Point {
        let (c, s) = tcp_pair();
        let c = Arc::new(c);
        let c2 = c.clone();
        point(
            move || {
                // More than any loopback socket buffers: the write waits.
                let big = vec![7u8; 32 << 20];
                let _ = (&*c2).write_all(&big);
            },
            move || {
                // What was written arrives; the writer still works.
                let mut s = s;
                let mut buf = [0; 4096];
                let n = s.read(&mut buf).unwrap();
                assert!(n > 0 && buf[..n].iter().all(|&b| b == 7));
                c.shutdown(std::net::Shutdown::Write).unwrap();
            },
        )
    }

    pub fn sleep() -> Point {
        point(|| green::thread::sleep(Duration::from_secs(600)), || {})
    }

    pub fn park() -> Point {
        point(green::thread::park, || {})
    }

    pub fn park_timeout() -> Point {
        point(
            || green::thread::park_timeout(Duration::from_secs(600)),
            || {},
        )
    }

    pub fn mutex_lock() -> Point {
        let m = Arc::new(Mutex::new(0));
        let m1 = m.clone();
        let m2 = m.clone();
        let release = holder(move |wait| {
            let _g = m1.lock().unwrap();
            wait();
        });
        point(
            move || {
                let _g = m2.lock();
            },
            move || {
                // Not stranded: a waiter queued now gets the lock when the
                // holder lets go (the unlock does not wake the gone one);
                // never held by the interrupted waiter, so not poisoned.
                let m3 = m.clone();
                let next = queued(move || *m3.lock().unwrap() += 1);
                release.send(()).unwrap();
                next.join().unwrap();
                assert_eq!(*m.lock().unwrap(), 1);
                assert!(!m.is_poisoned());
            },
        )
    }

    pub fn rwlock_read() -> Point {
        let l = Arc::new(RwLock::new(0));
        let (l1, l2) = (l.clone(), l.clone());
        let release = holder(move |wait| {
            let _w = l1.write().unwrap();
            wait();
        });
        point(
            move || {
                let _r = l2.read();
            },
            move || {
                // The hand-over at release goes to a waiter queued now, not
                // to the gone reader.
                let l3 = l.clone();
                let next = queued(move || *l3.write().unwrap() += 1);
                release.send(()).unwrap();
                next.join().unwrap();
                assert_eq!(*l.read().unwrap(), 1);
            },
        )
    }

    pub fn rwlock_write() -> Point {
        let l = Arc::new(RwLock::new(0));
        let (l1, l2) = (l.clone(), l.clone());
        let release = holder(move |wait| {
            let _r = l1.read().unwrap();
            wait();
        });
        point(
            move || {
                let _w = l2.write();
            },
            move || {
                // The withdrawn writer no longer holds readers back, and a
                // writer queued now gets the lock at release.
                assert!(l.try_read().is_ok());
                let l3 = l.clone();
                let next = queued(move || *l3.write().unwrap() += 1);
                release.send(()).unwrap();
                next.join().unwrap();
                assert_eq!(*l.read().unwrap(), 1);
                assert!(!l.is_poisoned());
            },
        )
    }

    /// After a condvar waiter was interrupted: the mutex is unlocked and not
    /// poisoned, and the waiter is off the queue (a `notify_one` reaches a
    /// new waiter instead of the gone one).
    fn condvar_after(pair: Arc<(Mutex<bool>, Condvar)>) {
        let (m, cv) = &*pair;
        assert!(m.try_lock().is_ok(), "the wait left the mutex locked");
        assert!(!m.is_poisoned());
        let p = pair.clone();
        let (waiting, is_waiting) = std::sync::mpsc::channel();
        let h = green::thread::spawn(move || {
            let (m, cv) = &*p;
            let mut g = m.lock().unwrap();
            waiting.send(()).unwrap();
            while !*g {
                g = cv.wait(g).unwrap();
            }
        });
        is_waiting.recv().unwrap();
        *m.lock().unwrap() = true;
        cv.notify_one();
        h.join().unwrap();
    }

    pub fn condvar_wait() -> Point {
        let pair = Arc::new((Mutex::new(false), Condvar::new()));
        let p = pair.clone();
        point(
            move || {
                let (m, cv) = &*p;
                let g = m.lock().unwrap();
                let _g = cv.wait(g);
            },
            move || condvar_after(pair),
        )
    }

    pub fn condvar_wait_timeout() -> Point {
        let pair = Arc::new((Mutex::new(false), Condvar::new()));
        let p = pair.clone();
        point(
            move || {
                let (m, cv) = &*p;
                let g = m.lock().unwrap();
                let _g = cv.wait_timeout(g, Duration::from_secs(600));
            },
            move || condvar_after(pair),
        )
    }

    pub fn condvar_wait_while() -> Point {
        let pair = Arc::new((Mutex::new(false), Condvar::new()));
        let p = pair.clone();
        point(
            move || {
                let (m, cv) = &*p;
                let g = m.lock().unwrap();
                let _g = cv.wait_while(g, |ready| !*ready);
            },
            move || condvar_after(pair),
        )
    }

    pub fn barrier_wait() -> Point {
        let b = Arc::new(Barrier::new(2));
        let b2 = b.clone();
        point(
            move || {
                b2.wait();
            },
            move || {
                // The interrupted arrival was taken back: two new arrivals
                // make a generation, with one leader. (Had it counted, the
                // first would be let through alone and the second would
                // wait forever.)
                let b3 = b.clone();
                let h = green::thread::spawn(move || b3.wait().is_leader());
                let me = b.wait().is_leader();
                assert!(me ^ h.join().unwrap());
            },
        )
    }

    /// A green thread stuck inside an initializer until released.
    fn stuck_initializer(
        init: impl FnOnce(mpsc::Receiver<()>) + Send + 'static,
    ) -> mpsc::Sender<()> {
        let (release, released) = mpsc::channel::<()>();
        let (inside, is_inside) = std::sync::mpsc::channel();
        green::thread::spawn(move || {
            inside.send(()).unwrap();
            init(released);
        });
        is_inside.recv().unwrap();
        release
    }

    /// Waits until a green thread is inside the initializer that `running`
    /// reports on.
    fn until(running: &AtomicBool) {
        while !running.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    pub fn once_call_once() -> Point {
        let once = Arc::new(Once::new());
        let running = Arc::new(AtomicBool::new(false));
        let (o, r) = (once.clone(), running.clone());
        let release = stuck_initializer(move |released| {
            o.call_once(|| {
                r.store(true, Ordering::SeqCst);
                let _ = released.recv();
            });
        });
        until(&running);
        let o = once.clone();
        point(
            move || o.call_once(|| unreachable!("the initializer runs elsewhere")),
            move || {
                release.send(()).unwrap();
                once.wait();
                assert!(once.is_completed());
            },
        )
    }

    pub fn once_lock_wait() -> Point {
        let cell = Arc::new(OnceLock::new());
        let c = cell.clone();
        point(
            move || {
                c.wait();
            },
            move || {
                assert_eq!(cell.set(1), Ok(()));
                assert_eq!(*cell.wait(), 1);
            },
        )
    }

    pub fn once_lock_get_or_init() -> Point {
        let cell = Arc::new(OnceLock::new());
        let running = Arc::new(AtomicBool::new(false));
        let (c, r) = (cell.clone(), running.clone());
        let release = stuck_initializer(move |released| {
            c.get_or_init(|| {
                r.store(true, Ordering::SeqCst);
                let _ = released.recv();
                1
            });
        });
        until(&running);
        let c = cell.clone();
        point(
            move || {
                c.get_or_init(|| 2);
            },
            move || {
                release.send(()).unwrap();
                assert_eq!(*cell.wait(), 1);
            },
        )
    }

    pub fn lazy_lock() -> Point {
        type Lazy = LazyLock<u32, Box<dyn FnOnce() -> u32 + Send>>;
        let running = Arc::new(AtomicBool::new(false));
        let (release, released) = mpsc::channel::<()>();
        let r = running.clone();
        let lazy: Arc<Lazy> = Arc::new(LazyLock::new(Box::new(move || {
            r.store(true, Ordering::SeqCst);
            let _ = released.recv();
            5
        })));
        let l = lazy.clone();
        green::thread::spawn(move || **l);
        until(&running);
        let l = lazy.clone();
        point(
            move || {
                let _ = **l;
            },
            move || {
                release.send(()).unwrap();
                assert_eq!(**lazy, 5);
            },
        )
    }

    pub fn mpsc_recv() -> Point {
        let (tx, rx) = mpsc::channel::<u32>();
        let rx = shared(rx);
        let r = rx.clone();
        point(
            move || {
                let _ = lock(&r).recv();
            },
            move || {
                tx.send(7).unwrap();
                assert_eq!(lock(&rx).recv(), Ok(7));
            },
        )
    }

    pub fn mpsc_send_full() -> Point {
        let (tx, rx) = mpsc::sync_channel::<u32>(1);
        tx.send(1).unwrap();
        let tx2 = tx.clone();
        point(
            move || {
                let _ = tx2.send(2);
            },
            move || {
                // A sender queued now is the one a freed slot wakes; the
                // interrupted send did not deliver.
                let next = queued(move || tx.send(3));
                assert_eq!(rx.recv(), Ok(1));
                next.join().unwrap().unwrap();
                assert_eq!(rx.recv(), Ok(3));
                assert_eq!(rx.try_recv(), Err(mpsc::TryRecvError::Disconnected));
            },
        )
    }

    pub fn mpsc_send_rendezvous() -> Point {
        let (tx, rx) = mpsc::sync_channel::<u32>(0);
        let tx2 = tx.clone();
        point(
            move || {
                let _ = tx2.send(5);
            },
            move || {
                // Withdrawn, not delivered; a new rendezvous works.
                assert_eq!(rx.try_recv(), Err(mpsc::TryRecvError::Empty));
                let h = green::thread::spawn(move || tx.send(6));
                assert_eq!(rx.recv(), Ok(6));
                h.join().unwrap().unwrap();
            },
        )
    }

    pub fn join() -> Point {
        let (release, released) = mpsc::channel::<()>();
        let h = green::thread::spawn(move || {
            let _ = released.recv();
            9
        });
        point(
            move || {
                let _ = h.join();
            },
            move || release.send(()).unwrap(),
        )
    }

    pub fn unblock() -> Point {
        let (go, gone) = std::sync::mpsc::channel::<()>();
        let (ran, has_run) = std::sync::mpsc::channel::<()>();
        point(
            move || {
                green::rt::unblock(move || {
                    let _ = gone.recv();
                    ran.send(()).unwrap();
                });
            },
            move || {
                // The job runs to its end on the pool after its caller left.
                go.send(()).unwrap();
                has_run.recv().unwrap();
            },
        )
    }

    /// A future that never completes and records that it was dropped.
    struct Forever(Arc<AtomicBool>);

    impl Future for Forever {
        type Output = ();
        fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
            Poll::Pending
        }
    }

    impl Drop for Forever {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    pub fn block_on() -> Point {
        let dropped = Arc::new(AtomicBool::new(false));
        let d = dropped.clone();
        point(
            move || green::rt::block_on(Forever(d)),
            move || assert!(dropped.load(Ordering::SeqCst), "the future was not dropped"),
        )
    }

    pub fn fs_read_fifo() -> Point {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let f = fifo.clone();
        point(
            move || {
                // Opening a FIFO for reading waits for a writer (on the pool).
                let _ = green::fs::read(&f);
            },
            move || {
                // A writer lets the abandoned pool job finish.
                let mut w = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
                w.write_all(b"x").unwrap();
                drop(w);
                drop(dir);
            },
        )
    }

    pub fn child_wait() -> Point {
        let child = green::process::Command::new("sleep")
            .arg("600")
            .spawn()
            .unwrap();
        let child = shared(child);
        let c = child.clone();
        point(
            move || {
                let _ = lock(&c).wait();
            },
            move || {
                // Left running and unreaped: it can still be killed and
                // waited for.
                let mut child = lock(&child);
                assert!(child.try_wait().unwrap().is_none());
                child.kill().unwrap();
                assert!(!child.wait().unwrap().success());
            },
        )
    }
}

macro_rules! points {
    ($($name:ident),* $(,)?) => {
        $(
            #[rstest]
            #[case::deadline_green(How::DeadlineGreen)]
            #[case::cancel_green(How::CancelGreen)]
            #[case::deadline_plain(How::DeadlinePlain)]
            fn $name(#[case] how: How) {
                interrupt(how, points::$name());
            }
        )*
    };
}

points!(
    tcp_read,
    tcp_accept,
    tcp_connect,
    tcp_write,
    sleep,
    park,
    park_timeout,
    mutex_lock,
    rwlock_read,
    rwlock_write,
    condvar_wait,
    condvar_wait_timeout,
    condvar_wait_while,
    barrier_wait,
    once_call_once,
    once_lock_wait,
    once_lock_get_or_init,
    lazy_lock,
    mpsc_recv,
    mpsc_send_full,
    mpsc_send_rendezvous,
    join,
    unblock,
    block_on,
    fs_read_fifo,
    child_wait,
);
