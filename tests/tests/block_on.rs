//! `green_core::block_on`: futures woken from other OS threads complete, on a
//! plain thread and inside green threads; the waker is `Send + Sync` and may
//! be called any number of times, before or after the wait begins.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use green_conformance::{assert_not_early, Flavor};
use rstest::rstest;

/// A future that becomes ready once an OS thread, started on first poll,
/// has slept `delay` and called the waker.
struct WokenLater {
    delay: Duration,
    state: Arc<Mutex<(bool, Option<Waker>)>>,
    started: bool,
    polls: usize,
}

impl WokenLater {
    fn new(delay: Duration) -> WokenLater {
        WokenLater {
            delay,
            state: Arc::new(Mutex::new((false, None))),
            started: false,
            polls: 0,
        }
    }
}

impl Future for WokenLater {
    type Output = usize;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
        self.polls += 1;
        {
            let mut st = self.state.lock().unwrap();
            if st.0 {
                return Poll::Ready(self.polls);
            }
            st.1 = Some(cx.waker().clone());
        }
        if !self.started {
            self.started = true;
            let state = self.state.clone();
            let delay = self.delay;
            std::thread::spawn(move || {
                std::thread::sleep(delay);
                let waker = {
                    let mut st = state.lock().unwrap();
                    st.0 = true;
                    st.1.take()
                };
                if let Some(w) = waker {
                    w.wake();
                }
            });
        }
        Poll::Pending
    }
}

/// `block_on` for the green flavors; a minimal thread-parking executor for
/// std (what code without green would do).
fn block_on<F: Future>(flavor: Flavor, fut: F) -> F::Output {
    match flavor {
        Flavor::Std => std_block_on(fut),
        _ => green_core::block_on(fut),
    }
}

fn std_block_on<F: Future>(fut: F) -> F::Output {
    struct ThreadWaker(std::thread::Thread);
    impl std::task::Wake for ThreadWaker {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut fut = std::pin::pin!(fut);
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
}

#[rstest]
#[case::std(Flavor::Std)]
#[case::green_plain(Flavor::GreenPlain)]
#[case::green_in_green(Flavor::GreenInGreen)]
fn ready_futures_complete(#[case] flavor: Flavor) {
    flavor.run(move || {
        assert_eq!(block_on(flavor, async { 40 + 2 }), 42);
        let s = block_on(flavor, async { String::from("async") });
        assert_eq!(s, "async");
    });
}

#[rstest]
#[case::std(Flavor::Std)]
#[case::green_plain(Flavor::GreenPlain)]
#[case::green_in_green(Flavor::GreenInGreen)]
fn a_future_woken_from_another_os_thread_completes(#[case] flavor: Flavor) {
    flavor.run(move || {
        let delay = Duration::from_millis(20);
        let start = Instant::now();
        let polls = block_on(flavor, WokenLater::new(delay));
        assert_not_early(start, delay, "block_on of a future woken later");
        assert!(polls >= 2, "completed after {polls} poll(s)");
    });
}

#[rstest]
#[case::std(Flavor::Std)]
#[case::green_plain(Flavor::GreenPlain)]
#[case::green_in_green(Flavor::GreenInGreen)]
fn async_blocks_chain_woken_futures(#[case] flavor: Flavor) {
    flavor.run(move || {
        let total = block_on(flavor, async {
            let a = WokenLater::new(Duration::from_millis(2)).await;
            let b = WokenLater::new(Duration::from_millis(1)).await;
            let c = WokenLater::new(Duration::ZERO).await;
            a + b + c
        });
        assert!(total >= 3);
    });
}

/// A future whose waker is called many times, some before `block_on` even
/// starts waiting, from several threads at once.
#[rstest]
#[case::std(Flavor::Std)]
#[case::green_plain(Flavor::GreenPlain)]
#[case::green_in_green(Flavor::GreenInGreen)]
fn redundant_and_early_wakes_are_harmless(#[case] flavor: Flavor) {
    struct CountTo {
        target: usize,
        count: Arc<AtomicUsize>,
        spawned: bool,
    }
    impl Future for CountTo {
        type Output = usize;
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
            if self.count.load(Ordering::SeqCst) >= self.target {
                return Poll::Ready(self.count.load(Ordering::SeqCst));
            }
            // Wake ourselves right away once (an early wake).
            cx.waker().wake_by_ref();
            if !self.spawned {
                self.spawned = true;
                for _ in 0..4 {
                    let count = self.count.clone();
                    let waker = cx.waker().clone();
                    std::thread::spawn(move || {
                        for _ in 0..25 {
                            count.fetch_add(1, Ordering::SeqCst);
                            waker.wake_by_ref();
                        }
                    });
                }
            }
            Poll::Pending
        }
    }
    flavor.run(move || {
        let got = block_on(
            flavor,
            CountTo {
                target: 100,
                count: Arc::new(AtomicUsize::new(0)),
                spawned: false,
            },
        );
        assert_eq!(got, 100);
    });
}

#[test]
fn block_on_nested_in_a_green_thread_leaves_the_hub_free() {
    // The future is completed by a neighbour on the same hub: if block_on
    // blocked the hub, it would never complete.
    let (value, same_hub) = Flavor::GreenInGreen.run(|| {
        let flag = Arc::new(AtomicBool::new(false));
        let waker_slot: Arc<Mutex<Option<Waker>>> = Arc::new(Mutex::new(None));
        let (f, w) = (flag.clone(), waker_slot.clone());
        let neighbour = green_core::runtime::spawn_local(move || {
            f.store(true, Ordering::SeqCst);
            if let Some(waker) = w.lock().unwrap().take() {
                waker.wake();
            }
            green_core::runtime::hub_id()
        });
        let value = green_core::block_on(std::future::poll_fn(|cx| {
            *waker_slot.lock().unwrap() = Some(cx.waker().clone());
            if flag.load(Ordering::SeqCst) {
                Poll::Ready(7)
            } else {
                Poll::Pending
            }
        }));
        (
            value,
            neighbour.join().unwrap() == green_core::runtime::hub_id(),
        )
    });
    assert!(same_hub);
    assert_eq!(value, 7);
}

#[test]
fn block_on_inside_block_on() {
    let v = green_core::block_on(async { green_core::block_on(async { 5 }) + 1 });
    assert_eq!(v, 6);
}

#[test]
fn many_green_threads_block_on_os_woken_futures() {
    let handles: Vec<_> = (0..100u64)
        .map(|i| {
            green_core::thread::spawn(move || {
                green_core::block_on(WokenLater::new(Duration::from_millis(i % 7)));
                i
            })
        })
        .collect();
    for (i, h) in (0..100u64).zip(handles) {
        assert_eq!(h.join().unwrap(), i);
    }
}
