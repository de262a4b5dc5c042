//! The conformance suite every [`Store`] implementation must pass.
//!
//! A backend's tests call [`run`] with a factory of empty stores; each check panics with a
//! message naming what broke. The in-memory store runs it in this crate's tests; the RocksDB
//! store runs the same function.

use std::collections::BTreeSet;
use std::fmt::Debug;

use crate::event::VerifiedEvent;
use crate::sim::{create_event, Rng};
use crate::store::Store;

use crate::tree::{digest_of, insert, leaf_digest, Key, Path, Tree, View, LEAF_EVENTS_MAX};

/// Runs every check against fresh stores from `new_store`.
pub fn run<S, F>(mut new_store: F)
where
    S: Store,
    S::Error: Debug,
    F: FnMut() -> S,
{
    empty_store(&mut new_store());
    bytes_and_keys_round_trip(&mut new_store());
    duplicates_are_skipped(&mut new_store());
    keys_scan_in_order_after_and_limited(&mut new_store());
    groups_are_separate(&mut new_store());
    for (seed, events, spread_ms) in [
        (1, 1, 1000),
        (2, 16, 1000),
        (3, 17, 1000),
        (4, 300, 86_400_000),
        (5, 2000, 10),
        (6, 700, 1),
    ] {
        tree_matches_definition(&mut new_store(), seed, events, spread_ms);
        order_and_batching_do_not_matter(
            &mut new_store(),
            &mut new_store(),
            seed,
            events,
            spread_ms,
        );
    }
}

fn events(seed: u64, count: usize, spread_ms: u64, group: &str) -> Vec<VerifiedEvent> {
    let mut rng = Rng::new(seed);
    let start_ms = 1_790_000_000_000;
    (0..count)
        .map(|_| {
            let wall_ms = start_ms + rng.below(spread_ms);
            create_event(&mut rng, group, wall_ms, "alice", 8)
        })
        .collect()
}

fn shuffle<T>(rng: &mut Rng, items: &mut [T]) {
    for index in (1..items.len()).rev() {
        items.swap(index, rng.below(index as u64 + 1) as usize);
    }
}

/// An empty store holds nothing, and a group with no events has the empty leaf's digest.
fn empty_store<S: Store>(store: &mut S)
where
    S::Error: Debug,
{
    let tree = Tree::new(&*store);
    assert_eq!(
        tree.root("g").unwrap(),
        leaf_digest([]),
        "an empty group has the empty leaf digest"
    );
    assert_eq!(tree.view("g", &Path::root()).unwrap(), View::Empty);
    assert!(store.node("g", &Path::root()).unwrap().is_none());
    assert!(store.keys("g", &Path::root(), None, 10).unwrap().is_empty());
}

/// What goes in comes out: event bytes by id, keys in the index.
fn bytes_and_keys_round_trip<S: Store>(store: &mut S)
where
    S::Error: Debug,
{
    let events = events(10, 5, 1000, "g");
    let inserted = insert(store, &events).unwrap();
    assert_eq!(inserted.len(), 5);
    for event in &events {
        assert_eq!(
            store.event(&event.id).unwrap().as_deref(),
            Some(&event.bytes[..]),
            "event bytes come back"
        );
        assert!(store.has_event(&event.id).unwrap());
    }
    let mut expected: Vec<Key> = events.iter().map(Key::of).collect();
    expected.sort();
    assert_eq!(store.keys("g", &Path::root(), None, 100).unwrap(), expected);
}

/// Inserting an event twice changes nothing the second time.
fn duplicates_are_skipped<S: Store>(store: &mut S)
where
    S::Error: Debug,
{
    let events = events(11, 40, 1000, "g");
    insert(store, &events).unwrap();
    let root = Tree::new(&*store).root("g").unwrap();
    let mut again = events.clone();
    again.extend(events.iter().take(3).cloned());
    assert!(
        insert(store, &again).unwrap().is_empty(),
        "nothing is new the second time"
    );
    assert_eq!(Tree::new(&*store).root("g").unwrap(), root);
    assert_eq!(
        store.keys("g", &Path::root(), None, 1000).unwrap().len(),
        40
    );
}

/// `keys` honours prefix, `after` (exclusive) and `limit`.
fn keys_scan_in_order_after_and_limited<S: Store>(store: &mut S)
where
    S::Error: Debug,
{
    let events = events(12, 200, 1_000_000, "g");
    insert(store, &events).unwrap();
    let all: Vec<Key> = events
        .iter()
        .map(Key::of)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(
        store.keys("g", &Path::root(), None, usize::MAX).unwrap(),
        all
    );
    assert_eq!(store.keys("g", &Path::root(), None, 7).unwrap(), all[..7]);
    assert_eq!(
        store.keys("g", &Path::root(), Some(&all[10]), 5).unwrap(),
        all[11..16]
    );
    assert!(store
        .keys("g", &Path::root(), Some(&all[199]), 5)
        .unwrap()
        .is_empty());
    let prefix = Path::of_key(&all[50], 10);
    let under: Vec<Key> = all
        .iter()
        .filter(|key| prefix.contains(key))
        .copied()
        .collect();
    assert!(!under.is_empty());
    assert_eq!(store.keys("g", &prefix, None, usize::MAX).unwrap(), under);
    // An `after` before the prefix's range starts the scan at the prefix.
    assert_eq!(
        store
            .keys("g", &prefix, Some(&Key([0; 44])), usize::MAX)
            .unwrap(),
        under
    );
    // An `after` inside the prefix's range resumes there.
    assert_eq!(
        store
            .keys("g", &prefix, Some(&under[0]), usize::MAX)
            .unwrap(),
        under[1..]
    );
}

/// Events of one group never show in another's keys or tree.
fn groups_are_separate<S: Store>(store: &mut S)
where
    S::Error: Debug,
{
    let first = events(13, 30, 1000, "first");
    let second = events(14, 30, 1000, "second");
    insert(store, &first).unwrap();
    insert(store, &second).unwrap();
    let keys_first: Vec<Key> = first.iter().map(Key::of).collect();
    let tree = Tree::new(&*store);
    assert_eq!(tree.root("first").unwrap(), digest_of(&keys_first));
    assert_eq!(
        store
            .keys("first", &Path::root(), None, 1000)
            .unwrap()
            .len(),
        30
    );
    assert_eq!(tree.root("third").unwrap(), leaf_digest([]));
}

/// The stored tree's digest at the root and at sampled prefixes equals the digest computed
/// from scratch by the definition.
fn tree_matches_definition<S: Store>(store: &mut S, seed: u64, count: usize, spread_ms: u64)
where
    S::Error: Debug,
{
    let events = events(seed, count, spread_ms, "g");
    let mut rng = Rng::new(seed ^ 0xABCD);
    // Insert in a few batches of random sizes.
    let mut rest = &events[..];
    while !rest.is_empty() {
        let take = 1 + rng.below(rest.len() as u64) as usize;
        insert(store, &rest[..take]).unwrap();
        rest = &rest[take..];
    }
    let keys: Vec<Key> = events.iter().map(Key::of).collect();
    let tree = Tree::new(&*store);
    assert_eq!(
        tree.root("g").unwrap(),
        digest_of(&keys),
        "root digest, {count} events, seed {seed}"
    );
    for sample in 0..64 {
        let key = keys[rng.below(keys.len() as u64) as usize];
        let prefix = Path::of_key(&key, (sample * 7) % 40);
        let under: Vec<Key> = keys
            .iter()
            .filter(|key| prefix.contains(key))
            .copied()
            .collect();
        let view = tree.view("g", &prefix).unwrap();
        assert_eq!(
            view.digest(),
            digest_of(&under),
            "digest at {prefix:?}, seed {seed}"
        );
        assert_eq!(
            view.count(),
            under.len() as u64,
            "count at {prefix:?}, seed {seed}"
        );
        match view {
            View::Small(small) => assert!(small.len() <= LEAF_EVENTS_MAX),
            View::Branch { lcp, .. } => {
                assert!(prefix.is_prefix_of(&lcp));
                assert!(
                    under.iter().all(|key| lcp.contains(key)),
                    "all keys share the lcp"
                );
            }
            View::Empty => assert!(under.is_empty()),
        }
    }
}

/// Two stores given the same events in different orders and batches agree on every digest.
fn order_and_batching_do_not_matter<S: Store>(
    first: &mut S,
    second: &mut S,
    seed: u64,
    count: usize,
    spread_ms: u64,
) where
    S::Error: Debug,
{
    let events = events(seed, count, spread_ms, "g");
    insert(first, &events).unwrap();
    let mut shuffled = events.clone();
    let mut rng = Rng::new(seed ^ 0x5EED);
    shuffle(&mut rng, &mut shuffled);
    for event in &shuffled {
        insert(second, std::slice::from_ref(event)).unwrap();
    }
    assert_eq!(
        Tree::new(&*first).root("g").unwrap(),
        Tree::new(&*second).root("g").unwrap(),
        "arrival order changes no digest, seed {seed}"
    );
}

#[cfg(test)]
mod tests {
    use crate::store::MemoryStore;

    /// The in-memory store passes the suite every store must pass.
    #[test]
    fn memory_store_conforms() {
        super::run(MemoryStore::new);
    }
}
