//! What a store holds survives closing it and opening it again.

use std::collections::BTreeMap;

use tempfile::TempDir;
use tideline_protocol::event::{DocId, EventId, ReplicaId, VerifiedEvent};
use tideline_protocol::merge::{DocKey, DocState};
use tideline_protocol::replica::apply;
use tideline_protocol::store::ReadStore;
use tideline_protocol::tree::{Digest, Key, Path, Tree};
use tideline_protocol::value::Value;
use tideline_store::{RocksStore, StoreOptions};
use tideline_testkit::events::{patch, EventBuilder};
use tideline_testkit::generate::{create_event, Rng};

const GROUPS: [&str; 2] = ["g", "h"];
const USERS: [&str; 3] = ["alice", "bob", "nobody"];

/// Documents with concurrent edits by alice and bob, so that inboxes fill, plus enough
/// unrelated events to give each group's tree branches.
fn events() -> Vec<VerifiedEvent> {
    // The contested events: on document `[target; 16]` of collection `c`, from one replica.
    let on = |event: EventBuilder, group: &str, creator: &str, target: u8, wall_ms: u64| {
        event
            .group(group)
            .collection("c")
            .target(DocId([target; 16]))
            .creator(creator)
            .at(wall_ms)
            .origin(ReplicaId([1; 16]))
    };
    let set = |value: i64| EventBuilder::update(patch([("f", Some(Value::Int(value)))]));
    let mut events = Vec::new();
    let mut rng = Rng::new(42);
    for group in GROUPS {
        for target in 0..4u8 {
            let create = EventBuilder::create(Value::Object(Vec::new()));
            let created = on(create, group, "alice", target, 1).seal();
            let left = on(set(1), group, "alice", target, 2).base([created.id()]);
            let right = on(set(2), group, "bob", target, 3).base([created.id()]);
            events.extend([created, left.seal(), right.seal()]);
        }
        for index in 0..100 {
            events.push(create_event(
                &mut rng,
                group,
                1_790_000_000_000 + index,
                "carol",
                8,
            ));
        }
    }
    events
}

/// Everything a replica reads back: roots, all keys, documents, their indexes and inboxes.
#[derive(Debug, PartialEq)]
struct Contents {
    roots: Vec<Digest>,
    keys: Vec<Vec<Key>>,
    docs: Vec<Vec<(DocKey, DocState)>>,
    doc_events: BTreeMap<DocKey, Vec<EventId>>,
    inboxes: Vec<Vec<(tideline_protocol::merge::ConflictId, DocKey)>>,
}

fn contents(store: &RocksStore) -> Contents {
    let tree = Tree::new(store);
    let docs: Vec<Vec<(DocKey, DocState)>> = GROUPS
        .iter()
        .map(|group| store.docs(group, "c").unwrap())
        .chain(
            GROUPS
                .iter()
                .map(|group| store.docs(group, "notes").unwrap()),
        )
        .collect();
    let doc_events = docs
        .iter()
        .flatten()
        .map(|(doc, _)| (doc.clone(), store.doc_events(doc).unwrap()))
        .collect();
    Contents {
        roots: GROUPS
            .iter()
            .map(|group| tree.root(group).unwrap())
            .collect(),
        keys: GROUPS
            .iter()
            .map(|group| store.keys(group, &Path::root(), None, usize::MAX).unwrap())
            .collect(),
        docs,
        doc_events,
        inboxes: USERS
            .iter()
            .map(|user| store.inbox(user).unwrap())
            .collect(),
    }
}

fn reopen_keeps_everything(options: StoreOptions, close: bool) {
    let dir = TempDir::new().unwrap();
    let events = events();
    let mut store = RocksStore::open(dir.path(), options.clone()).unwrap();
    // Several batches, so that later ones update what earlier ones wrote.
    for chunk in events.chunks(37) {
        apply(&mut store, chunk).unwrap();
    }
    let before = contents(&store);
    assert_eq!(before.keys[0].len(), 112);
    assert_eq!(
        before.inboxes[0].len(),
        8,
        "alice is asked once per document"
    );
    if close {
        store.close().unwrap();
    } else {
        drop(store);
    }
    let store = RocksStore::open(dir.path(), options).unwrap();
    assert_eq!(contents(&store), before);
    for event in &events {
        assert_eq!(
            store.event(&event.id()).unwrap().as_deref(),
            Some(event.bytes())
        );
    }
}

/// Guards against commits that live only in memory: with sync writes, dropping the store and
/// opening it again gives back every root, key, document, index entry and inbox.
#[test]
fn reopen_keeps_everything_with_sync_writes() {
    reopen_keeps_everything(StoreOptions::default(), false);
}

/// Guards against `close` losing commits made without sync writes.
#[test]
fn reopen_keeps_everything_after_close() {
    reopen_keeps_everything(StoreOptions { sync_writes: false }, true);
}

/// Guards against a store that cannot be opened again, for example because the first open
/// left its lock behind, and against creation failing when parent directories are missing.
#[test]
fn reopen_without_writes_is_harmless() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("not/yet/there");
    for _ in 0..3 {
        let store = RocksStore::open(&path, StoreOptions::default()).unwrap();
        assert_eq!(store.path(), path);
        assert!(store.inbox("alice").unwrap().is_empty());
    }
}
