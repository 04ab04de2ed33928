//! `thread::current`, `Thread` and `ThreadId`: identity, names, trait impls
//! and `Debug` shapes, on std and on green.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::time::Duration;

use green_conformance::{Flavor, ThreadId};
use rstest::rstest;

#[rstest]
#[case::std(Flavor::Std)]
#[case::green_plain(Flavor::GreenPlain)]
#[case::green_in_green(Flavor::GreenInGreen)]
fn id_is_stable_within_a_thread(#[case] flavor: Flavor) {
    flavor.run(move || {
        let first = flavor.current().id();
        assert_eq!(first, flavor.current().id());
        // Blocking does not change who we are.
        flavor.sleep(Duration::from_millis(1));
        flavor.yield_now();
        assert_eq!(first, flavor.current().id());
        let h = flavor.spawn(move || {
            let a = flavor.current().id();
            flavor.sleep(Duration::from_millis(1));
            let b = flavor.current().id();
            (a, b)
        });
        let (a, b) = h.join().unwrap();
        assert_eq!(a, b);
        assert_ne!(a, first);
    });
}

#[rstest]
#[case::std(Flavor::Std)]
#[case::green_plain(Flavor::GreenPlain)]
#[case::green_in_green(Flavor::GreenInGreen)]
fn ids_are_distinct_between_live_threads(#[case] flavor: Flavor) {
    flavor.run(move || {
        let me = flavor.current().id();
        let handles: Vec<_> = (0..32)
            .map(|_| {
                flavor.spawn(move || {
                    let id = flavor.current().id();
                    // Stay alive a little so the threads overlap.
                    flavor.sleep(Duration::from_millis(2));
                    id
                })
            })
            .collect();
        let mut seen = HashSet::new();
        seen.insert(me);
        for h in handles {
            let from_handle = h.thread().id();
            let from_inside = h.join().unwrap();
            assert_eq!(from_handle, from_inside);
            assert!(seen.insert(from_inside), "duplicate id {from_inside:?}");
        }
        assert_eq!(seen.len(), 33);
    });
}

#[rstest]
#[case::std(Flavor::Std)]
#[case::green_plain(Flavor::GreenPlain)]
#[case::green_in_green(Flavor::GreenInGreen)]
fn ids_are_never_reused_by_later_threads(#[case] flavor: Flavor) {
    flavor.run(move || {
        // One after the other: a green runtime reuses the stacks, but never
        // the ids.
        let mut seen = HashSet::new();
        for _ in 0..200 {
            let id = flavor.spawn(move || flavor.current().id()).join().unwrap();
            assert!(seen.insert(id), "id {id:?} was handed out twice");
        }
    });
}

#[rstest]
#[case::std(Flavor::Std)]
#[case::green_plain(Flavor::GreenPlain)]
#[case::green_in_green(Flavor::GreenInGreen)]
fn thread_clones_share_identity_and_name(#[case] flavor: Flavor) {
    flavor.run(move || {
        let h = flavor
            .builder()
            .name("cloned".into())
            .spawn(move || flavor.current())
            .unwrap();
        let from_handle = h.thread();
        let from_inside = h.join().unwrap();
        let clone = from_inside.clone();
        assert_eq!(clone.id(), from_handle.id());
        assert_eq!(clone.name(), Some("cloned"));
        assert_eq!(from_handle.name(), Some("cloned"));
    });
}

fn hash_of<T: Hash>(value: &T) -> u64 {
    let mut h = DefaultHasher::new();
    value.hash(&mut h);
    h.finish()
}

/// `"ThreadId(<decimal>)"`.
fn is_thread_id_debug(s: &str) -> bool {
    s.strip_prefix("ThreadId(")
        .and_then(|rest| rest.strip_suffix(')'))
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

#[rstest]
#[case::std(Flavor::Std)]
#[case::green_plain(Flavor::GreenPlain)]
#[case::green_in_green(Flavor::GreenInGreen)]
fn thread_id_is_copy_eq_hash_and_debug_like_std(#[case] flavor: Flavor) {
    flavor.run(move || {
        let id = flavor.current().id();
        let copy = id; // Copy: `id` stays usable.
        assert_eq!(id, copy);
        assert_eq!(hash_of(&id), hash_of(&copy));
        let other = flavor.spawn(move || flavor.current().id()).join().unwrap();
        assert_ne!(id, other);
        let shown = format!("{id:?}");
        assert!(is_thread_id_debug(&shown), "ThreadId Debug: {shown:?}");
        let mut set = HashSet::new();
        set.insert(id);
        set.insert(copy);
        set.insert(other);
        assert_eq!(set.len(), 2);
    });
}

#[test]
fn green_thread_id_has_std_traits() {
    fn traits<T: Copy + Clone + Eq + PartialEq + Hash + std::fmt::Debug + Send + Sync>() {}
    traits::<green_core::thread::ThreadId>();
    traits::<std::thread::ThreadId>();
    fn thread_traits<T: Clone + std::fmt::Debug + Send + Sync>() {}
    thread_traits::<green_core::thread::Thread>();
    thread_traits::<std::thread::Thread>();
}

#[rstest]
#[case::std(Flavor::Std)]
#[case::green_plain(Flavor::GreenPlain)]
#[case::green_in_green(Flavor::GreenInGreen)]
fn thread_debug_has_std_shape(#[case] flavor: Flavor) {
    flavor.run(move || {
        let named = flavor
            .builder()
            .name("dbg-name".into())
            .spawn(move || flavor.current())
            .unwrap()
            .join()
            .unwrap();
        let shown = format!("{named:?}");
        let id = format!("{:?}", named.id());
        let expected = format!("Thread {{ id: {id}, name: Some(\"dbg-name\"), .. }}");
        assert_eq!(shown, expected);

        let unnamed = flavor.spawn(move || flavor.current()).join().unwrap();
        let shown = format!("{unnamed:?}");
        let id = format!("{:?}", unnamed.id());
        let expected = format!("Thread {{ id: {id}, name: None, .. }}");
        assert_eq!(shown, expected);
    });
}

#[rstest]
#[case::std(Flavor::Std)]
#[case::green_plain(Flavor::GreenPlain)]
fn current_on_the_test_thread_has_the_test_threads_name(#[case] flavor: Flavor) {
    flavor.run(move || {
        // libtest names each test's thread after the test.
        let std_name = std::thread::current().name().map(str::to_owned);
        assert!(std_name.is_some());
        assert_eq!(flavor.current().name().map(str::to_owned), std_name);
    });
}

#[test]
fn green_current_on_a_named_os_thread_has_its_name() {
    let name = std::thread::Builder::new()
        .name("plain-os".into())
        .spawn(|| green_core::thread::current().name().map(str::to_owned))
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(name.as_deref(), Some("plain-os"));
}

#[test]
fn current_in_a_green_thread_is_not_its_worker() {
    // The green thread's identity is its own, whoever runs it: two green
    // threads on the same hub differ from each other, and an unnamed green
    // thread is not named after the worker OS thread that runs it.
    let (a, b, name) = green_core::thread::spawn(|| {
        let a = green_core::thread::current().id();
        let sibling = green_core::runtime::spawn_local(|| {
            (
                green_core::thread::current().id(),
                green_core::runtime::hub_id(),
            )
        });
        let (b, hub_b) = sibling.join().unwrap();
        assert_eq!(
            hub_b,
            green_core::runtime::hub_id(),
            "spawn_local stays on the hub"
        );
        let name = green_core::thread::current().name().map(str::to_owned);
        (a, b, name)
    })
    .join()
    .unwrap();
    assert_ne!(a, b);
    assert_eq!(name, None);
    let wrapped: HashSet<ThreadId> = [ThreadId::Green(a), ThreadId::Green(b)].into();
    assert_eq!(wrapped.len(), 2);
}
