//! Merge: documents and conflicts from sets of events, by scenario and by property.
//!
//! Scenario tests pin the semantics of each kind of conflict; property tests check that the
//! state is a function of the set (arrival order, batching and sync do not matter), that every
//! replica sees the same conflicts with the same ids and assignees, that resolutions clear
//! them, and that merging one document again after a late event equals a full replay.

use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, RngAlgorithm, RngSeed};
use tideline_protocol::event::{DocId, FieldPath, Hlc, Op, Patch, ReplicaId, VerifiedEvent};
use tideline_protocol::merge::{materialize, resolution, ConflictKind, Decision, DocKey, DocState};
use tideline_protocol::replica::{apply, replay};
use tideline_protocol::store::{MemoryStore, ReadStore};
use tideline_protocol::sync::Config;
use tideline_protocol::value::Value;
use tideline_protocol::wire::{Groups, Salt};
use tideline_testkit::events::EventBuilder;
use tideline_testkit::generate::Rng;
use tideline_testkit::reconcile::reconcile;

const DOC: DocId = DocId([7; 16]);

fn object(fields: &[(&str, Value)]) -> Value {
    let mut fields: Vec<(String, Value)> = fields
        .iter()
        .map(|(key, value)| ((*key).to_owned(), value.clone()))
        .collect();
    fields.sort_by(|left, right| left.0.cmp(&right.0));
    Value::Object(fields)
}

fn text(value: &str) -> Value {
    Value::String(value.to_owned())
}

fn path(segments: &[&str]) -> FieldPath {
    FieldPath(
        segments
            .iter()
            .map(|segment| (*segment).to_owned())
            .collect(),
    )
}

fn event(creator: &str, wall_ms: u64, base: &[&VerifiedEvent], op: Op) -> VerifiedEvent {
    EventBuilder::new(op)
        .group("g")
        .collection("people")
        .target(DOC)
        .at(wall_ms)
        .creator(creator)
        .origin(ReplicaId([creator.len() as u8; 16]))
        .base(base.iter().map(|event| event.id()))
        .seal()
}

fn update(
    creator: &str,
    wall_ms: u64,
    base: &[&VerifiedEvent],
    entries: &[(&[&str], Option<Value>)],
) -> VerifiedEvent {
    let mut entries: Vec<(FieldPath, Option<Value>)> = entries
        .iter()
        .map(|(segments, value)| (path(segments), value.clone()))
        .collect();
    entries.sort_by(|left, right| left.0.cmp(&right.0));
    event(creator, wall_ms, base, Op::Update(Patch(entries)))
}

fn create(creator: &str, wall_ms: u64) -> VerifiedEvent {
    let address = object(&[("city", text("Lyon")), ("street", text("Rue A"))]);
    event(
        creator,
        wall_ms,
        &[],
        Op::Create(object(&[("name", text("Ada")), ("address", address)])),
    )
}

/// Merges `events` in every rotation of their order and checks the result never changes.
fn merged(events: &[VerifiedEvent]) -> DocState {
    let first = materialize(events);
    for shift in 1..events.len() {
        let mut rotated = events.to_vec();
        rotated.rotate_left(shift);
        assert_eq!(
            materialize(&rotated),
            first,
            "arrival order changes nothing"
        );
    }
    first
}

/// A create then an update that saw it: the update applies, nothing conflicts.
#[test]
fn sequential_edits_apply_in_order() {
    let created = create("alice", 1);
    let renamed = update("bob", 2, &[&created], &[(&["name"], Some(text("Grace")))]);
    let state = merged(&[created, renamed.clone()]);
    assert!(state.conflicts.is_empty());
    assert_eq!(state.heads, vec![renamed.id()]);
    let value = state.value.expect("document exists");
    assert_eq!(
        tideline_protocol::merge::value_at(Some(&value), &path(&["name"])),
        Some(&text("Grace"))
    );
}

/// Concurrent edits of different fields both apply.
#[test]
fn concurrent_disjoint_fields_merge_cleanly() {
    let created = create("alice", 1);
    let city = update(
        "alice",
        5,
        &[&created],
        &[(&["address", "city"], Some(text("Paris")))],
    );
    let name = update("bob", 4, &[&created], &[(&["name"], Some(text("Grace")))]);
    let state = merged(&[created, city, name]);
    assert!(state.conflicts.is_empty());
    let value = state.value.unwrap();
    assert_eq!(
        tideline_protocol::merge::value_at(Some(&value), &path(&["address", "city"])),
        Some(&text("Paris"))
    );
    assert_eq!(
        tideline_protocol::merge::value_at(Some(&value), &path(&["name"])),
        Some(&text("Grace"))
    );
    assert_eq!(state.heads.len(), 2);
}

/// Concurrent edits of the same field conflict once; the later (timestamp, id) shows, and the
/// other author is asked.
#[test]
fn concurrent_same_field_conflicts() {
    let created = create("alice", 1);
    let alice = update(
        "alice",
        5,
        &[&created],
        &[(&["name"], Some(text("Ada L.")))],
    );
    let bob = update("bob", 6, &[&created], &[(&["name"], Some(text("Grace")))]);
    let state = merged(&[created, alice.clone(), bob.clone()]);
    assert_eq!(state.conflicts.len(), 1);
    let conflict = &state.conflicts[0];
    assert_eq!(conflict.kind, ConflictKind::Field);
    assert_eq!(conflict.path, path(&["name"]));
    assert_eq!(conflict.winner, bob.id());
    assert_eq!(conflict.provisional, Some(text("Grace")));
    assert_eq!(conflict.assignees, vec!["alice".to_owned()]);
    let mut competing: Vec<_> = conflict
        .competing
        .iter()
        .map(|competitor| competitor.event)
        .collect();
    competing.sort();
    let mut expected = vec![alice.id(), bob.id()];
    expected.sort();
    assert_eq!(competing, expected);
}

/// A field and a field that contains it, changed concurrently, conflict at the outer path.
#[test]
fn containing_paths_conflict() {
    let created = create("alice", 1);
    let whole = update(
        "alice",
        5,
        &[&created],
        &[(&["address"], Some(object(&[("city", text("Rome"))])))],
    );
    let inner = update(
        "bob",
        4,
        &[&created],
        &[(&["address", "city"], Some(text("Oslo")))],
    );
    let state = merged(&[created, whole, inner]);
    assert_eq!(state.conflicts.len(), 1);
    assert_eq!(state.conflicts[0].path, path(&["address"]));
    assert_eq!(state.conflicts[0].assignees, vec!["bob".to_owned()]);
}

/// An edit concurrent with a remove keeps the document (with the edit) and asks the remover.
#[test]
fn edit_concurrent_with_remove_asks_the_remover() {
    let created = create("alice", 1);
    let removed = event("bob", 9, &[&created], Op::Remove);
    let edited = update("alice", 5, &[&created], &[(&["name"], Some(text("Grace")))]);
    let state = merged(&[created, removed, edited]);
    assert_eq!(state.conflicts.len(), 1);
    let conflict = &state.conflicts[0];
    assert_eq!(conflict.kind, ConflictKind::Remove);
    assert_eq!(conflict.assignees, vec!["bob".to_owned()]);
    let value = state.value.expect("the edit keeps the document");
    assert_eq!(
        tideline_protocol::merge::value_at(Some(&value), &path(&["address", "city"])),
        Some(&text("Lyon"))
    );
    assert_eq!(
        tideline_protocol::merge::value_at(Some(&value), &path(&["name"])),
        Some(&text("Grace"))
    );
}

/// Two concurrent removes agree: no conflict, the document is gone.
#[test]
fn concurrent_removes_do_not_conflict() {
    let created = create("alice", 1);
    let first = event("alice", 5, &[&created], Op::Remove);
    let second = event("bob", 6, &[&created], Op::Remove);
    let state = merged(&[created, first, second]);
    assert!(state.conflicts.is_empty());
    assert_eq!(state.value, None);
}

/// Two creates of one id, neither aware of the other, conflict.
#[test]
fn duplicate_create_conflicts() {
    let first = create("alice", 1);
    let second = event(
        "bob",
        2,
        &[],
        Op::Create(object(&[("name", text("Other"))])),
    );
    let state = merged(&[first, second.clone()]);
    assert_eq!(state.conflicts.len(), 1);
    assert_eq!(state.conflicts[0].kind, ConflictKind::Create);
    assert_eq!(state.conflicts[0].winner, second.id());
    assert_eq!(state.conflicts[0].assignees, vec!["alice".to_owned()]);
}

/// Remove then create with the remove in its base: a re-creation, not a conflict.
#[test]
fn recreation_after_remove() {
    let created = create("alice", 1);
    let removed = event("bob", 2, &[&created], Op::Remove);
    let again = event(
        "alice",
        3,
        &[&removed],
        Op::Create(object(&[("name", text("New"))])),
    );
    let state = merged(&[created, removed, again.clone()]);
    assert!(state.conflicts.is_empty());
    assert_eq!(state.value, Some(object(&[("name", text("New"))])));
    assert_eq!(state.heads, vec![again.id()]);
}

/// A resolution covering the competing heads clears the conflict; a resolution concurrent with
/// another edit of the same field is itself in conflict, and resolving that clears it too.
#[test]
fn resolutions_clear_conflicts_and_resolutions_of_resolutions() {
    let created = create("alice", 1);
    let alice = update("alice", 5, &[&created], &[(&["name"], Some(text("A")))]);
    let bob = update("bob", 6, &[&created], &[(&["name"], Some(text("B")))]);
    let events = vec![created.clone(), alice.clone(), bob.clone()];
    let state = merged(&events);
    let key = DocKey::of(created.event());
    let conflict = state.conflicts[0].clone();
    let decided = resolution(
        &key,
        &state,
        &conflict,
        Decision::Keep(text("A+B")),
        "alice",
        ReplicaId([1; 16]),
        Hlc {
            wall_ms: 10,
            counter: 0,
        },
    )
    .seal()
    .unwrap();
    let mut with_resolution = events.clone();
    with_resolution.push(decided.clone());
    let resolved = merged(&with_resolution);
    assert!(
        resolved.conflicts.is_empty(),
        "the resolution clears the conflict"
    );
    assert_eq!(
        tideline_protocol::merge::value_at(resolved.value.as_ref(), &path(&["name"])),
        Some(&text("A+B"))
    );

    // Carol edits the name concurrently with the resolution (she saw only Bob's edit).
    let carol = update("carol", 11, &[&bob], &[(&["name"], Some(text("C")))]);
    let mut three = with_resolution.clone();
    three.push(carol.clone());
    let again = merged(&three);
    assert_eq!(
        again.conflicts.len(),
        1,
        "resolution and carol's edit conflict"
    );
    assert_eq!(again.conflicts[0].assignees, vec!["alice".to_owned()]);
    assert_ne!(again.conflicts[0].id, conflict.id);
    let second = resolution(
        &key,
        &again,
        &again.conflicts[0],
        Decision::Delete,
        "alice",
        ReplicaId([1; 16]),
        Hlc {
            wall_ms: 12,
            counter: 0,
        },
    )
    .seal()
    .unwrap();
    three.push(second);
    let cleared = merged(&three);
    assert!(cleared.conflicts.is_empty());
    assert_eq!(
        tideline_protocol::merge::value_at(cleared.value.as_ref(), &path(&["name"])),
        None,
        "the field was deleted"
    );
}

/// Three users editing concurrently in a chain: every pair that overlaps joins one conflict.
#[test]
fn three_users_chain() {
    let created = create("alice", 1);
    let a = update(
        "alice",
        3,
        &[&created],
        &[(&["address"], Some(object(&[])))],
    );
    let b = update(
        "bob",
        4,
        &[&created],
        &[(&["address", "city"], Some(text("X")))],
    );
    let c = update(
        "carol",
        5,
        &[&created],
        &[(&["address", "street"], Some(text("Y")))],
    );
    let state = merged(&[created, a, b, c.clone()]);
    assert_eq!(state.conflicts.len(), 1);
    let conflict = &state.conflicts[0];
    assert_eq!(conflict.competing.len(), 3);
    assert_eq!(conflict.path, path(&["address"]));
    assert_eq!(conflict.winner, c.id());
    assert_eq!(
        conflict.assignees,
        vec!["alice".to_owned(), "bob".to_owned()]
    );
}

/// The stored replica assigns conflicts to inboxes and clears them when resolved.
#[test]
fn inbox_follows_conflicts() {
    let created = create("alice", 1);
    let alice = update("alice", 5, &[&created], &[(&["name"], Some(text("A")))]);
    let bob = update("bob", 6, &[&created], &[(&["name"], Some(text("B")))]);
    let mut store = MemoryStore::new();
    apply(&mut store, &[created.clone(), alice, bob]).unwrap();
    let inbox = store.inbox("alice").unwrap();
    assert_eq!(inbox.len(), 1);
    assert!(
        store.inbox("bob").unwrap().is_empty(),
        "the winner is not asked"
    );
    let key = DocKey::of(created.event());
    let state = store.doc_state(&key).unwrap().unwrap();
    assert_eq!(state.conflicts[0].id, inbox[0].0);
    let decided = resolution(
        &key,
        &state,
        &state.conflicts[0],
        Decision::Keep(text("AB")),
        "alice",
        ReplicaId([1; 16]),
        Hlc {
            wall_ms: 9,
            counter: 0,
        },
    )
    .seal()
    .unwrap();
    apply(&mut store, &[decided]).unwrap();
    assert!(
        store.inbox("alice").unwrap().is_empty(),
        "resolving empties the inbox"
    );
}

// ---- properties ----

/// A random history: several users editing a few documents, each event's base the heads its
/// author had seen on a random subset of earlier events.
fn history(seed: u64, events_len: usize, docs: usize) -> Vec<VerifiedEvent> {
    let mut rng = Rng::new(seed);
    let users = ["alice", "bob", "carol", "dave"];
    let fields = [
        &["name"][..],
        &["age"],
        &["address"],
        &["address", "city"],
        &["address", "zip"],
        &["tags"],
    ];
    let mut by_doc: Vec<Vec<VerifiedEvent>> = vec![Vec::new(); docs];
    let mut all = Vec::new();
    for step in 0..events_len {
        let doc = rng.below(docs as u64) as usize;
        let user = users[rng.below(users.len() as u64) as usize];
        // The author saw a random prefix of the document's history, so some edits are concurrent.
        let seen = if by_doc[doc].is_empty() {
            0
        } else {
            rng.below(by_doc[doc].len() as u64 + 1) as usize
        };
        let visible = &by_doc[doc][..seen];
        let heads = materialize(visible).heads;
        let op = if visible.is_empty() || rng.below(12) == 0 {
            Op::Create(object(&[("name", Value::Int(step as i64))]))
        } else if rng.below(10) == 0 {
            Op::Remove
        } else {
            let field = fields[rng.below(fields.len() as u64) as usize];
            let value = if rng.below(6) == 0 {
                None
            } else {
                Some(Value::Int(rng.below(100) as i64))
            };
            Op::Update(Patch(vec![(path(field), value)]))
        };
        // The generator's draws keep their order: wall clock, counter, then origin.
        let event = EventBuilder::new(op)
            .group("g")
            .collection("c")
            .target(DocId([doc as u8; 16]))
            .at(1000 + rng.below(50))
            .counter(rng.below(3) as u32)
            .creator(user)
            .origin(ReplicaId([rng.below(4) as u8; 16]))
            .base(heads)
            .seal();
        by_doc[doc].push(event.clone());
        all.push(event);
    }
    all
}

fn shuffled(seed: u64, events: &[VerifiedEvent]) -> Vec<VerifiedEvent> {
    let mut rng = Rng::new(seed);
    let mut out = events.to_vec();
    for index in (1..out.len()).rev() {
        out.swap(index, rng.below(index as u64 + 1) as usize);
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 128,
        rng_algorithm: RngAlgorithm::ChaCha,
        rng_seed: RngSeed::Fixed(0x3E26E),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Applying a history in any order and any batching gives the same documents, conflicts,
    /// ids, assignees and inboxes as a full replay.
    #[test]
    fn state_is_a_function_of_the_set(seed in any::<u64>(), events_len in 1usize..60, docs in 1usize..4, batch in 1usize..8) {
        let events = history(seed, events_len, docs);
        let expected = replay(&events);
        let order = shuffled(seed ^ 77, &events);
        let mut store = MemoryStore::new();
        for chunk in order.chunks(batch) {
            apply(&mut store, chunk).unwrap();
        }
        prop_assert_eq!(store.all_docs(), &expected);
        // Every assignee's inbox lists exactly the conflicts assigned to them.
        for user in ["alice", "bob", "carol", "dave"] {
            let mut expected_inbox: Vec<_> = expected
                .iter()
                .flat_map(|(key, state)| state.conflicts.iter().filter(|conflict| conflict.assignees.iter().any(|name| name == user)).map(move |conflict| (conflict.id, key.clone())))
                .collect();
            expected_inbox.sort();
            prop_assert_eq!(store.inbox(user).unwrap(), expected_inbox);
        }
    }

    /// Two replicas holding different parts of a history reach the same documents and conflicts
    /// after one sync.
    #[test]
    fn replicas_agree_after_sync(seed in any::<u64>(), events_len in 1usize..60, docs in 1usize..4) {
        let events = history(seed, events_len, docs);
        let mut rng = Rng::new(seed ^ 5);
        let mut left = MemoryStore::new();
        let mut right = MemoryStore::new();
        for event in shuffled(seed ^ 9, &events) {
            match rng.below(3) {
                0 => { apply(&mut left, std::slice::from_ref(&event)).unwrap(); }
                1 => { apply(&mut right, std::slice::from_ref(&event)).unwrap(); }
                _ => {
                    apply(&mut left, std::slice::from_ref(&event)).unwrap();
                    apply(&mut right, std::slice::from_ref(&event)).unwrap();
                }
            }
        }
        let groups = Groups::new(["g"]).unwrap();
        reconcile(&mut left, &mut right, &groups, Salt(rng.bytes()), Config::default()).unwrap();
        prop_assert_eq!(left.all_docs(), right.all_docs());
        prop_assert_eq!(left.all_docs(), &replay(&events));
    }

    /// Resolving every conflict clears it on every replica that gets the resolutions.
    #[test]
    fn resolutions_clear_everywhere(seed in any::<u64>(), events_len in 1usize..60) {
        let mut events = history(seed, events_len, 2);
        let states = replay(&events);
        let mut wall_ms = 10_000;
        for (key, state) in &states {
            // One resolution per document: it covers the heads, so it clears the conflict whose
            // path it writes.
            if let Some(conflict) = state.conflicts.first() {
                wall_ms += 1;
                // A field takes any value; a conflict at the root (remove, create, or an edit
                // concurrent with a re-creation) is decided with a whole document.
                let kept = if conflict.path.0.is_empty() {
                    object(&[("kept", Value::Bool(true))])
                } else {
                    Value::Int(1)
                };
                let decided = resolution(key, state, conflict, Decision::Keep(kept), "alice", ReplicaId([9; 16]), Hlc { wall_ms, counter: 0 });
                events.push(decided.seal().unwrap());
            }
        }
        let after = replay(&events);
        for (key, state) in &states {
            if let Some(first) = state.conflicts.first() {
                let now = &after[key];
                prop_assert!(now.conflicts.iter().all(|conflict| conflict.id != first.id), "resolved conflict is gone");
            }
        }
        let mut store = MemoryStore::new();
        apply(&mut store, &shuffled(seed, &events)).unwrap();
        prop_assert_eq!(store.all_docs(), &after);
    }
}

/// A map-like document whose every update sets a new field keeps all of them: the liveness
/// sweep must not drop a write when many distinct paths are written after it.
#[test]
fn many_distinct_fields_all_stay_live() {
    let mut events = vec![create("alice", 1)];
    for index in 0..600u64 {
        let last = events.last().unwrap().clone();
        let name = format!("f{index}");
        events.push(update(
            "alice",
            2 + index,
            &[&last],
            &[(&[name.as_str()], Some(Value::Int(index as i64)))],
        ));
    }
    let state = materialize(&events);
    assert!(state.conflicts.is_empty());
    let Some(Value::Object(fields)) = state.value else {
        panic!("document exists")
    };
    assert_eq!(fields.len(), 2 + 600, "name, address and every f*");
}
