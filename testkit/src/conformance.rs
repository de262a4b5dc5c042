//! The conformance suite every [`Store`] implementation must pass.
//!
//! Each check is a public function that takes a factory of empty stores and panics with a
//! message naming what broke. A backend's tests run them all with
//! [`store_conformance!`](crate::store_conformance), which writes one `#[test]` per check, so
//! that a failure names the check:
//!
//! ```
//! use tideline_protocol::store::MemoryStore;
//! tideline_testkit::store_conformance!(MemoryStore::new);
//! # fn main() {}
//! ```
//!
//! The in-memory store runs it in `protocol/tests/conformance.rs`, the RocksDB store in
//! `store/tests/conformance.rs`, and the benchmark's compact store in its own tests.

use std::collections::BTreeSet;
use std::fmt::Debug;

use tideline_protocol::event::{
    DocId, EventId, FieldPath, Hlc, Op, Patch, ReplicaId, VerifiedEvent,
};
use tideline_protocol::merge::{resolution, Decision, DocKey};
use tideline_protocol::replica::{apply, replay};
use tideline_protocol::store::Store;
use tideline_protocol::tree::{
    digest_of, insert, leaf_digest, Key, Path, Tree, View, LEAF_EVENTS_MAX,
};
use tideline_protocol::value::Value;

use crate::events::EventBuilder;
use crate::generate::{create_event, Rng};

/// Writes one `#[test]` per check of the conformance suite, in a module `store_conformance`,
/// for the stores that `$new_store` makes. `$new_store` is an expression evaluated once per
/// test, giving a `FnMut() -> S` where `S: Store`; it sees the names of the calling module.
///
/// A store that needs a directory keeps the directories in its closure, so that they outlive
/// every store the check makes (`store/tests/conformance.rs` does so for RocksDB); the closure
/// can hold any state, as this one holds a count:
///
/// ```
/// use tideline_protocol::store::MemoryStore;
/// tideline_testkit::store_conformance!({
///     let mut made = 0;
///     move || {
///         made += 1;
///         MemoryStore::new()
///     }
/// });
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! store_conformance {
    ($new_store:expr) => {
        $crate::store_conformance!(@checks $new_store;
            empty_store,
            bytes_and_keys_round_trip,
            duplicates_are_skipped,
            keys_scan_in_order_after_and_limited,
            groups_are_separate,
            documents_and_inboxes,
            batches_are_atomic_in_effect,
            tree_matches_definition,
            order_and_batching_do_not_matter,
        );
    };
    (@checks $new_store:expr; $($check:ident),* $(,)?) => {
        /// The store conformance suite, one test per check of `tideline_testkit::conformance`.
        mod store_conformance {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[test]
                fn $check() {
                    let mut new_store = $new_store;
                    $crate::conformance::$check(&mut new_store);
                }
            )*
        }
    };
}

/// The event sets [`tree_matches_definition`] and [`order_and_batching_do_not_matter`] run
/// on: `(seed, events, spread_ms)`, from one event to a few thousand, and from events a day
/// apart to hundreds in one millisecond (which share long key prefixes).
pub const TREE_CASES: [(u64, usize, u64); 6] = [
    (1, 1, 1000),
    (2, 16, 1000),
    (3, 17, 1000),
    (4, 300, 86_400_000),
    (5, 2000, 10),
    (6, 700, 1),
];

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
pub fn empty_store<S, F>(new_store: &mut F)
where
    S: Store,
    S::Error: Debug,
    F: FnMut() -> S,
{
    let store = &mut new_store();
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
pub fn bytes_and_keys_round_trip<S, F>(new_store: &mut F)
where
    S: Store,
    S::Error: Debug,
    F: FnMut() -> S,
{
    let store = &mut new_store();
    let events = events(10, 5, 1000, "g");
    let inserted = insert(store, &events).unwrap();
    assert_eq!(inserted.len(), 5);
    for event in &events {
        assert_eq!(
            store.event(&event.id()).unwrap().as_deref(),
            Some(event.bytes()),
            "event bytes come back"
        );
        assert!(store.has_event(&event.id()).unwrap());
    }
    let mut expected: Vec<Key> = events.iter().map(Key::of).collect();
    expected.sort();
    assert_eq!(store.keys("g", &Path::root(), None, 100).unwrap(), expected);
}

/// Inserting an event twice changes nothing the second time.
pub fn duplicates_are_skipped<S, F>(new_store: &mut F)
where
    S: Store,
    S::Error: Debug,
    F: FnMut() -> S,
{
    let store = &mut new_store();
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
pub fn keys_scan_in_order_after_and_limited<S, F>(new_store: &mut F)
where
    S: Store,
    S::Error: Debug,
    F: FnMut() -> S,
{
    let store = &mut new_store();
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
pub fn groups_are_separate<S, F>(new_store: &mut F)
where
    S: Store,
    S::Error: Debug,
    F: FnMut() -> S,
{
    let store = &mut new_store();
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
/// from scratch by the definition, for each of the [`TREE_CASES`].
pub fn tree_matches_definition<S, F>(new_store: &mut F)
where
    S: Store,
    S::Error: Debug,
    F: FnMut() -> S,
{
    for (seed, count, spread_ms) in TREE_CASES {
        tree_matches_definition_case(&mut new_store(), seed, count, spread_ms);
    }
}

fn tree_matches_definition_case<S: Store>(store: &mut S, seed: u64, count: usize, spread_ms: u64)
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

/// Two stores given the same events in different orders and batches agree on every digest,
/// for each of the [`TREE_CASES`].
pub fn order_and_batching_do_not_matter<S, F>(new_store: &mut F)
where
    S: Store,
    S::Error: Debug,
    F: FnMut() -> S,
{
    for (seed, count, spread_ms) in TREE_CASES {
        order_and_batching_case(&mut new_store(), &mut new_store(), seed, count, spread_ms);
    }
}

fn order_and_batching_case<S: Store>(
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

/// Documents, their snapshots, the document index and the inboxes round-trip, and the stored
/// snapshot equals a full replay.
pub fn documents_and_inboxes<S, F>(new_store: &mut F)
where
    S: Store,
    S::Error: Debug,
    F: FnMut() -> S,
{
    let store = &mut new_store();
    let mut events = Vec::new();
    for target in 0..6u8 {
        let collection = if target % 2 == 0 { "even" } else { "odd" };
        events.extend(conflicting_edits(collection, target, 1));
    }
    apply(store, &events[..7]).unwrap();
    apply(store, &events[7..]).unwrap();
    let expected = replay(&events);
    for (key, state) in &expected {
        assert_eq!(
            store.doc_state(key).unwrap().as_ref(),
            Some(state),
            "snapshot of {key:?}"
        );
        let mut ids: Vec<_> = events
            .iter()
            .filter(|event| DocKey::of(event.event()) == *key)
            .map(|event| event.id())
            .collect();
        ids.sort();
        assert_eq!(
            store.doc_events(key).unwrap(),
            ids,
            "document index of {key:?}"
        );
    }
    let even = store.docs("g", "even").unwrap();
    assert_eq!(even.len(), 3, "docs lists one collection");
    assert!(
        even.windows(2).all(|pair| pair[0].0 < pair[1].0),
        "docs are ordered by key"
    );
    assert!(store.docs("g", "none").unwrap().is_empty());
    let inbox = store.inbox("alice").unwrap();
    assert_eq!(
        inbox.len(),
        6,
        "bob's later edit wins each document; alice is asked six times"
    );
    assert!(
        inbox.windows(2).all(|pair| pair[0].0 < pair[1].0),
        "inbox ordered by conflict id"
    );
    assert!(store.inbox("bob").unwrap().is_empty());
    assert!(store.inbox("nobody").unwrap().is_empty());
}

/// A batch's writes all show after commit: a second apply sees the first one's documents and
/// inbox changes (an inbox entry removed and another added in the same batch).
pub fn batches_are_atomic_in_effect<S, F>(new_store: &mut F)
where
    S: Store,
    S::Error: Debug,
    F: FnMut() -> S,
{
    let store = &mut new_store();
    let [created, left, right] = conflicting_edits("c", 9, 2);
    apply(store, &[created.clone(), left, right]).unwrap();
    let key = DocKey::of(created.event());
    let state = store.doc_state(&key).unwrap().unwrap();
    assert_eq!(store.inbox("alice").unwrap().len(), 1);
    // Resolve, and in the same batch start a new conflict on another field.
    let decided = resolution(
        &key,
        &state,
        &state.conflicts[0],
        Decision::Keep(Value::Int(3)),
        "bob",
        ReplicaId([3; 16]),
        Hlc {
            wall_ms: 4,
            counter: 0,
        },
    )
    .seal()
    .unwrap();
    let other = doc_event("c", 9, 2, "carol", 5, state.heads.clone(), set_f(4));
    apply(store, &[decided, other]).unwrap();
    let after = store.doc_state(&key).unwrap().unwrap();
    assert_eq!(
        after.conflicts.len(),
        1,
        "the resolution and carol's edit conflict"
    );
    assert_ne!(after.conflicts[0].id, state.conflicts[0].id);
    assert!(
        store.inbox("alice").unwrap().is_empty(),
        "the old entry is gone"
    );
    let expected: Vec<_> = after.conflicts[0].assignees.clone();
    for user in &expected {
        assert_eq!(
            store.inbox(user).unwrap(),
            vec![(after.conflicts[0].id, key.clone())]
        );
    }
}

/// An event of group `g` on document `[target; 16]` of `collection`, from replica
/// `[origin; 16]`.
fn doc_event(
    collection: &str,
    target: u8,
    origin: u8,
    creator: &str,
    wall_ms: u64,
    base: Vec<EventId>,
    op: Op,
) -> VerifiedEvent {
    EventBuilder::new(op)
        .group("g")
        .collection(collection)
        .target(DocId([target; 16]))
        .at(wall_ms)
        .creator(creator)
        .origin(ReplicaId([origin; 16]))
        .base(base)
        .seal()
}

/// Sets field `f` to `value`.
fn set_f(value: i64) -> Op {
    Op::Update(Patch(vec![(
        FieldPath(vec!["f".into()]),
        Some(Value::Int(value)),
    )]))
}

/// A create by alice, then alice and bob setting field `f` without seeing each other: one
/// conflict, which bob's later edit wins provisionally.
fn conflicting_edits(collection: &str, target: u8, origin: u8) -> [VerifiedEvent; 3] {
    let empty = Op::Create(Value::Object(Vec::new()));
    let created = doc_event(collection, target, origin, "alice", 1, Vec::new(), empty);
    let left = doc_event(
        collection,
        target,
        origin,
        "alice",
        2,
        vec![created.id()],
        set_f(1),
    );
    let right = doc_event(
        collection,
        target,
        origin,
        "bob",
        3,
        vec![created.id()],
        set_f(2),
    );
    [created, left, right]
}
