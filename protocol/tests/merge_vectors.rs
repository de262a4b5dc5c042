//! The merge vectors, `spec/vectors/merge.json`: sets of events with the documents and conflicts
//! every implementation must reach from them, whatever order the events arrive in.
//!
//! `TIDELINE_BLESS=1 cargo test -p tideline-protocol --test merge_vectors` rewrites the file
//! from the generator below, which builds every event by hand with fixed timestamps (and one
//! history from a fixed seed), so blessing twice writes the same bytes. Without it, the checker
//! decodes the events the file holds, applies them to fresh replicas in every listed arrival
//! order, one at a time and in batches, and compares every document's state bytes and its
//! readable rendering with the file. Blessing checks the freshly written file the same way.
//!
//! A second, deliberately naive implementation of the spec's "Merge" chapter ([`reference`]:
//! transitive closures, pairwise scans, hand-written encodings) must agree byte for byte with
//! `materialize` on every vector and on seeded random histories, so that the chapter, the
//! vectors and the code cannot drift apart.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde_json::{json, Map, Value as Json};
use tideline_protocol::event::{
    DocId, Event, EventId, FieldPath, Hlc, Op, Patch, ReplicaId, VerifiedEvent,
};
use tideline_protocol::merge::{
    materialize, resolution, Conflict, ConflictKind, Decision, DocKey, DocState, Write,
};
use tideline_protocol::replica::{apply, replay};
use tideline_protocol::store::{MemoryStore, ReadStore};
use tideline_protocol::value::Value;
use tideline_testkit::generate::Rng;

/// Around September 2026, like the other vectors: where every timestamp here starts.
const START_MS: u64 = 1_790_000_000_000;
const GROUP: &str = "team:acme";
const COLLECTION: &str = "people";
const FILE: &str = "merge.json";

// ---------------------------------------------------------------------------------------------
// Tests.
// ---------------------------------------------------------------------------------------------

#[test]
fn merge_vectors_hold() {
    // Guards against the merge drifting from the published vectors: any change to replay
    // order, liveness, conflicts, their ids or the state encoding shows up as a changed byte.
    let path = vectors_dir().join(FILE);
    if blessing() {
        std::fs::write(&path, render(&generate()))
            .unwrap_or_else(|error| panic!("cannot write {}: {error}", path.display()));
    }
    let text = std::fs::read_to_string(&path).unwrap_or_else(|error| {
        panic!(
            "cannot read {}: {error}; regenerate it with \
             TIDELINE_BLESS=1 cargo test -p tideline-protocol --test merge_vectors",
            path.display()
        )
    });
    let document: Json = serde_json::from_str(&text)
        .unwrap_or_else(|error| panic!("{} is not JSON: {error}", path.display()));
    check(&document);
}

#[test]
fn generating_twice_gives_the_same_file() {
    // Guards against a generator that depends on anything but fixed inputs (map order, clocks,
    // randomness), which would make blessing rewrite vectors whose meaning did not change.
    assert_eq!(render(&generate()), render(&generate()));
}

#[test]
fn the_file_is_what_the_generator_writes() {
    // Guards against a generator edited without blessing: the file would still pass its own
    // checks while no longer holding the cases the generator describes.
    if blessing() {
        return;
    }
    let path = vectors_dir().join(FILE);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    assert!(
        text == render(&generate()),
        "{} is not what the generator writes; regenerate it with \
         TIDELINE_BLESS=1 cargo test -p tideline-protocol --test merge_vectors",
        path.display()
    );
}

#[test]
fn reference_agrees_with_materialize_on_the_vectors() {
    // Guards against the spec chapter and the code disagreeing on a case the vectors pin.
    for scenario in scenarios() {
        let events: Vec<VerifiedEvent> = scenario
            .events
            .iter()
            .map(|(_, event)| event.clone())
            .collect();
        for (key, state) in replay(&events) {
            let mine: Vec<VerifiedEvent> = events
                .iter()
                .filter(|event| DocKey::of(&event.event) == key)
                .cloned()
                .collect();
            assert_eq!(
                hex::encode(reference::state_bytes(&mine)),
                hex::encode(postcard::to_allocvec(&state).expect("a state encodes")),
                "vector `{}`, document {}: the reference and materialize disagree",
                scenario.name,
                key.target
            );
        }
    }
}

#[test]
fn reference_agrees_with_materialize_on_random_histories() {
    // Guards against a rule of the spec chapter that the code breaks only in histories nobody
    // wrote by hand: deep paths, deletes under missing fields, removes racing re-creations,
    // bases that name missing or foreign events, equal timestamps.
    // TIDELINE_MERGE_SEEDS=n runs n seeds instead of the default, for a longer hunt.
    let seeds: u64 = std::env::var("TIDELINE_MERGE_SEEDS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(400);
    for seed in 0..seeds {
        let events = random_history(seed);
        let mut docs: BTreeMap<DocKey, Vec<VerifiedEvent>> = BTreeMap::new();
        for event in &events {
            docs.entry(DocKey::of(&event.event))
                .or_default()
                .push(event.clone());
        }
        for (key, mine) in docs {
            let expected = hex::encode(reference::state_bytes(&mine));
            let mut shuffled = mine.clone();
            shuffle(&mut Rng::new(seed ^ 0x5eed), &mut shuffled);
            // A duplicate delivery must change nothing.
            shuffled.push(mine[mine.len() / 2].clone());
            let actual = hex::encode(postcard::to_allocvec(&materialize(&shuffled)).unwrap());
            assert_eq!(
                actual, expected,
                "seed {seed}, document {}: materialize and the reference disagree; replay with \
                 this seed in reference_agrees_with_materialize_on_random_histories",
                key.target
            );
        }
    }
}

#[test]
fn conflict_id_example_in_the_spec_holds() {
    // Guards against the worked example in the spec's merge chapter (§9.4) going stale: the
    // preimage and id printed there are those of the `same_field_conflict` vector.
    let scenario = scenarios()
        .into_iter()
        .find(|scenario| scenario.name == "same_field_conflict")
        .expect("the vector exists");
    let events: Vec<VerifiedEvent> = scenario.events.into_iter().map(|(_, e)| e).collect();
    let state = materialize(&events);
    let conflict = &state.conflicts[0];
    let key = DocKey::of(&events[0].event);
    let ids: Vec<EventId> = conflict.competing.iter().map(|c| c.event).collect();
    let preimage = reference::conflict_preimage(&key, conflict.kind, &conflict.path.0, &ids);
    let via_serde =
        postcard::to_allocvec(&(&key, conflict.kind, &conflict.path, &ids)).expect("encodes");
    assert_eq!(preimage, via_serde);
    assert_eq!(hex::encode(&preimage), SPEC_CONFLICT_PREIMAGE_HEX);
    assert_eq!(conflict.id.to_string(), SPEC_CONFLICT_ID_HEX);
    let derived = blake3::Hasher::new_derive_key("tideline 2026-11 v1 conflict id")
        .update(&preimage)
        .finalize();
    assert_eq!(derived.as_bytes(), &conflict.id.0);
}

/// The preimage printed in the spec's merge chapter (§9.4).
const SPEC_CONFLICT_PREIMAGE_HEX: &str = "097465616d3a61636d650670656f706c6501a0c4506c03730383030303030303030001046e616d65029f624a8e85361d4650ce8727fd08218f9d07c78dfa8c4559d079f92eb8658a4ade12400baa07aa10ea0f07c4733a80eb1ba629179c423076d1e92942f3ee07da";
/// The conflict id printed in the spec's merge chapter (§9.4).
const SPEC_CONFLICT_ID_HEX: &str =
    "7ab4bf3c5b24c10f377e79458c04ae14a583ac9d50518f51a8dd2c6cc51a00ba";

// ---------------------------------------------------------------------------------------------
// Files.
// ---------------------------------------------------------------------------------------------

fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../spec/vectors")
}

fn blessing() -> bool {
    std::env::var("TIDELINE_BLESS").is_ok_and(|value| value == "1")
}

/// Pretty JSON with sorted keys and a final newline, like the other vector files.
fn render(document: &Json) -> String {
    let mut text = serde_json::to_string_pretty(&sorted(document)).expect("JSON serializes");
    text.push('\n');
    text
}

/// The same JSON with every object's keys in byte order, whatever map serde_json was built with.
fn sorted(value: &Json) -> Json {
    match value {
        Json::Array(values) => Json::Array(values.iter().map(sorted).collect()),
        Json::Object(map) => {
            let mut entries: Vec<(&String, &Json)> = map.iter().collect();
            entries.sort_by_key(|(key, _)| *key);
            Json::Object(
                entries
                    .into_iter()
                    .map(|(key, child)| (key.clone(), sorted(child)))
                    .collect::<Map<String, Json>>(),
            )
        }
        other => other.clone(),
    }
}

/// Compares JSON as text, so that `1` and `1.0` differ, and shows where they part.
fn assert_same_json(actual: &Json, expected: &Json, context: &str) {
    let actual = render(actual);
    let expected = render(expected);
    if actual == expected {
        return;
    }
    let actual: Vec<&str> = actual.lines().collect();
    let expected: Vec<&str> = expected.lines().collect();
    let first = (0..actual.len().max(expected.len()))
        .find(|&line| actual.get(line) != expected.get(line))
        .expect("the texts differ somewhere");
    let around = |lines: &[&str]| {
        let start = first.saturating_sub(8).min(lines.len());
        let end = (first + 4).min(lines.len());
        lines[start..end].join("\n")
    };
    panic!(
        "{context}: JSON differs at line {}\n--- computed ---\n{}\n--- vector ---\n{}",
        first + 1,
        around(&actual),
        around(&expected)
    );
}

fn field<'a>(value: &'a Json, name: &str) -> &'a Json {
    value
        .get(name)
        .unwrap_or_else(|| panic!("vector lacks field `{name}`: {value}"))
}

fn text<'a>(value: &'a Json, name: &str) -> &'a str {
    field(value, name)
        .as_str()
        .unwrap_or_else(|| panic!("field `{name}` is not a string: {value}"))
}

fn list<'a>(value: &'a Json, name: &str) -> &'a [Json] {
    field(value, name)
        .as_array()
        .unwrap_or_else(|| panic!("field `{name}` is not an array: {value}"))
}

fn bytes_of(value: &Json) -> Vec<u8> {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("not a hex string: {value}"));
    assert_eq!(
        text,
        text.to_ascii_lowercase(),
        "vectors write hex in lowercase"
    );
    hex::decode(text).unwrap_or_else(|error| panic!("`{text}` is not hex: {error}"))
}

// ---------------------------------------------------------------------------------------------
// Rendering a merged document as JSON.
// ---------------------------------------------------------------------------------------------

fn value_json(value: Option<&Value>) -> Json {
    value.map_or(Json::Null, Json::from)
}

fn kind_name(kind: ConflictKind) -> &'static str {
    match kind {
        ConflictKind::Field => "field",
        ConflictKind::Remove => "remove",
        ConflictKind::Create => "create",
    }
}

fn write_json(path: &FieldPath, write: &Write) -> Json {
    match write {
        Write::Set(value) => json!({"path": path.0, "write": "set", "value": Json::from(value)}),
        Write::Delete => json!({"path": path.0, "write": "delete"}),
        Write::Remove => json!({"path": path.0, "write": "remove"}),
    }
}

fn conflict_json(conflict: &Conflict) -> Json {
    json!({
        "id": conflict.id.to_string(),
        "kind": kind_name(conflict.kind),
        "path": conflict.path.0,
        "winner": conflict.winner.to_string(),
        "provisional": value_json(conflict.provisional.as_ref()),
        "assignees": conflict.assignees,
        "competing": conflict.competing.iter().map(|competitor| json!({
            "event": competitor.event.to_string(),
            "creator": competitor.creator,
            "timestamp": {
                "wall_ms": competitor.timestamp.wall_ms,
                "counter": competitor.timestamp.counter,
            },
            "writes": competitor
                .writes
                .iter()
                .map(|(path, write)| write_json(path, write))
                .collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

fn document_json(key: &DocKey, state: &DocState) -> Json {
    json!({
        "group": key.group,
        "collection": key.collection,
        "target": key.target.to_string(),
        "state_hex": hex::encode(postcard::to_allocvec(state).expect("a state encodes")),
        "value": value_json(state.value.as_ref()),
        "heads": state.heads.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "conflicts": state.conflicts.iter().map(conflict_json).collect::<Vec<_>>(),
    })
}

fn documents_json(states: &BTreeMap<DocKey, DocState>) -> Json {
    Json::Array(
        states
            .iter()
            .map(|(key, state)| document_json(key, state))
            .collect(),
    )
}

// ---------------------------------------------------------------------------------------------
// The checker: everything is recomputed from the encodings the file holds.
// ---------------------------------------------------------------------------------------------

fn check(document: &Json) {
    text(document, "description");
    let vectors = list(document, "vectors");
    assert!(!vectors.is_empty(), "the file holds vectors");
    let mut names = BTreeSet::new();
    for vector in vectors {
        let name = text(vector, "name");
        assert!(names.insert(name), "vector names are unique: `{name}`");
        check_vector(name, vector);
    }
}

fn check_vector(name: &str, vector: &Json) {
    text(vector, "description");
    let events: Vec<VerifiedEvent> = list(vector, "events")
        .iter()
        .enumerate()
        .map(|(index, encoding)| {
            VerifiedEvent::decode(&bytes_of(encoding)).unwrap_or_else(|error| {
                panic!("vector `{name}`: event {index} does not decode: {error}")
            })
        })
        .collect();
    let ids: Vec<String> = events.iter().map(|event| event.id.to_string()).collect();
    let ids_listed: Vec<&str> = list(vector, "event_ids")
        .iter()
        .map(|id| id.as_str().expect("ids are strings"))
        .collect();
    assert_eq!(ids, ids_listed, "vector `{name}`: event ids");
    assert_eq!(
        list(vector, "labels").len(),
        events.len(),
        "vector `{name}`: one label per event"
    );

    let expected = field(vector, "documents");
    for document in expected.as_array().expect("documents is an array") {
        // The state bytes decode to the state the rendering describes.
        let state: DocState = postcard::from_bytes(&bytes_of(field(document, "state_hex")))
            .unwrap_or_else(|error| panic!("vector `{name}`: state_hex does not decode: {error}"));
        let key = DocKey {
            group: text(document, "group").to_owned(),
            collection: text(document, "collection").to_owned(),
            target: DocId::from_hex(text(document, "target")).expect("a document id"),
        };
        assert_same_json(
            &document_json(&key, &state),
            document,
            &format!("vector `{name}`: decoded state_hex"),
        );
    }

    let replayed = replay(&events);
    assert_same_json(
        &documents_json(&replayed),
        expected,
        &format!("vector `{name}`: replay"),
    );

    let orders: Vec<Vec<usize>> = list(vector, "arrival_orders")
        .iter()
        .map(|order| {
            let order: Vec<usize> = serde_json::from_value(order.clone())
                .unwrap_or_else(|error| panic!("vector `{name}`: bad arrival order: {error}"));
            let mut seen = order.clone();
            seen.sort_unstable();
            assert_eq!(
                seen,
                (0..events.len()).collect::<Vec<_>>(),
                "vector `{name}`: an arrival order lists every event once"
            );
            order
        })
        .collect();
    let distinct: BTreeSet<&Vec<usize>> = orders.iter().collect();
    assert!(
        distinct.len() >= 2,
        "vector `{name}`: at least two different arrival orders"
    );

    for (number, order) in orders.iter().enumerate() {
        let arriving: Vec<VerifiedEvent> =
            order.iter().map(|&index| events[index].clone()).collect();
        for batch_len in [1, 2, 3, arriving.len()] {
            let context =
                format!("vector `{name}`, arrival order {number}, batches of {batch_len}");
            let mut store = MemoryStore::new();
            for batch in arriving.chunks(batch_len) {
                apply(&mut store, batch).expect("the memory store does not fail");
            }
            assert_same_json(&documents_json(store.all_docs()), expected, &context);
            check_inboxes(&store, &replayed, &context);
            // Everything arriving a second time changes nothing.
            apply(&mut store, &arriving).expect("the memory store does not fail");
            assert_eq!(
                store.all_docs(),
                &replayed,
                "{context}: after a second delivery"
            );
        }
    }
}

/// Every assignee's inbox lists exactly the conflicts assigned to them.
fn check_inboxes(store: &MemoryStore, states: &BTreeMap<DocKey, DocState>, context: &str) {
    let mut expected: BTreeMap<String, Vec<_>> = BTreeMap::new();
    for (key, state) in states {
        for conflict in &state.conflicts {
            for user in &conflict.assignees {
                expected
                    .entry(user.clone())
                    .or_default()
                    .push((conflict.id, key.clone()));
            }
        }
    }
    for (user, mut conflicts) in expected {
        conflicts.sort();
        assert_eq!(
            store.inbox(&user).expect("the memory store does not fail"),
            conflicts,
            "{context}: inbox of {user}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The generator.
// ---------------------------------------------------------------------------------------------

/// Who writes an event: the user and the replica (device) they write from.
#[derive(Clone, Copy)]
struct Writer {
    creator: &'static str,
    device: u8,
}

const ALICE: Writer = Writer {
    creator: "alice",
    device: 0xa1,
};
const ALICE_PHONE: Writer = Writer {
    creator: "alice",
    device: 0xa2,
};
const BOB: Writer = Writer {
    creator: "bob",
    device: 0xb1,
};
const CAROL: Writer = Writer {
    creator: "carol",
    device: 0xc1,
};
const DAVE: Writer = Writer {
    creator: "dave",
    device: 0xd1,
};
const ERIN: Writer = Writer {
    creator: "erin",
    device: 0xe1,
};

/// Document `number`: a UUIDv7-layout id with fixed time and "random" bytes.
fn doc(number: u8) -> DocId {
    DocId::new(START_MS + u64::from(number), [number; 10])
}

fn at(offset_ms: u64) -> Hlc {
    Hlc {
        wall_ms: START_MS + offset_ms,
        counter: 0,
    }
}

fn value(json: Json) -> Value {
    Value::try_from(&json).expect("vector values are valid")
}

fn create(json: Json) -> Op {
    Op::Create(value(json))
}

/// An update from `(path, Some(value))` sets and `(path, None)` deletes, sorted into a patch.
fn update(entries: &[(&[&str], Option<Json>)]) -> Op {
    let mut entries: Vec<(FieldPath, Option<Value>)> = entries
        .iter()
        .map(|(segments, json)| {
            (
                FieldPath(segments.iter().map(|s| (*s).to_owned()).collect()),
                json.clone().map(value),
            )
        })
        .collect();
    entries.sort_by(|left, right| left.0.cmp(&right.0));
    Op::Update(Patch(entries))
}

fn set(segments: &[&str], json: Json) -> Op {
    update(&[(segments, Some(json))])
}

fn person() -> Json {
    json!({
        "name": "Ada",
        "address": {"city": "Lyon", "street": "Rue A"},
        "tags": ["math"],
    })
}

/// An event in group `team:acme`, collection `people`, unless `key` says otherwise.
fn event_in(
    group: &str,
    collection: &str,
    target: DocId,
    writer: Writer,
    timestamp: Hlc,
    base: &[EventId],
    op: Op,
) -> VerifiedEvent {
    let mut base = base.to_vec();
    base.sort();
    base.dedup();
    Event {
        group: group.to_owned(),
        collection: collection.to_owned(),
        target,
        timestamp,
        creator: writer.creator.to_owned(),
        origin: ReplicaId([writer.device; 16]),
        base,
        op,
    }
    .seal()
    .expect("vector events are valid")
}

/// One vector under construction: labelled events and any arrival orders beyond the defaults.
struct Scenario {
    name: &'static str,
    description: &'static str,
    events: Vec<(String, VerifiedEvent)>,
}

impl Scenario {
    fn new(name: &'static str, description: &'static str) -> Self {
        Scenario {
            name,
            description,
            events: Vec::new(),
        }
    }

    /// Adds an event on `target` in the default group and collection and returns it.
    fn add(
        &mut self,
        label: &str,
        target: DocId,
        writer: Writer,
        timestamp: Hlc,
        base: &[&VerifiedEvent],
        op: Op,
    ) -> VerifiedEvent {
        let base: Vec<EventId> = base.iter().map(|event| event.id).collect();
        let event = event_in(GROUP, COLLECTION, target, writer, timestamp, &base, op);
        self.push(label, event)
    }

    fn push(&mut self, label: &str, event: VerifiedEvent) -> VerifiedEvent {
        self.events.push((label.to_owned(), event.clone()));
        event
    }

    /// The merged state of `target` so far, for building resolutions.
    fn state_of(&self, target: DocId) -> (DocKey, DocState) {
        let events: Vec<VerifiedEvent> = self
            .events
            .iter()
            .map(|(_, event)| event.clone())
            .filter(|event| {
                event.event.target == target
                    && event.event.group == GROUP
                    && event.event.collection == COLLECTION
            })
            .collect();
        (DocKey::of(&events[0].event), materialize(&events))
    }

    /// Adds the event that resolves the first conflict of `target` with `decision`.
    fn resolve(
        &mut self,
        label: &str,
        target: DocId,
        writer: Writer,
        timestamp: Hlc,
        decision: Decision,
    ) -> VerifiedEvent {
        let (key, state) = self.state_of(target);
        let conflict = state
            .conflicts
            .first()
            .expect("there is a conflict to resolve");
        let event = resolution(
            &key,
            &state,
            conflict,
            decision,
            writer.creator,
            ReplicaId([writer.device; 16]),
            timestamp,
        )
        .seal()
        .expect("resolutions are valid");
        self.push(label, event)
    }
}

fn scenarios() -> Vec<Scenario> {
    let mut all = Vec::new();

    let mut s = Scenario::new(
        "sequential_edits",
        "A create, then three updates each made after seeing the one before: every write \
         applies in order, nothing conflicts, the last update is the only head.",
    );
    let created = s.add("created", doc(1), ALICE, at(0), &[], create(person()));
    let renamed = s.add(
        "renamed",
        doc(1),
        BOB,
        at(10),
        &[&created],
        set(&["name"], json!("Grace")),
    );
    let moved = s.add(
        "moved",
        doc(1),
        ALICE,
        at(20),
        &[&renamed],
        set(&["address", "city"], json!("Paris")),
    );
    s.add(
        "untagged",
        doc(1),
        CAROL,
        at(30),
        &[&moved],
        update(&[(&["tags"], None)]),
    );
    all.push(s);

    let mut s = Scenario::new(
        "concurrent_disjoint_fields",
        "Three users edit different fields after the same create, none seeing the others: \
         sibling paths do not overlap, so all three apply and there are three heads.",
    );
    let created = s.add("created", doc(2), ALICE, at(0), &[], create(person()));
    s.add(
        "city",
        doc(2),
        ALICE,
        at(20),
        &[&created],
        set(&["address", "city"], json!("Paris")),
    );
    s.add(
        "name",
        doc(2),
        BOB,
        at(10),
        &[&created],
        set(&["name"], json!("Grace")),
    );
    s.add(
        "zip",
        doc(2),
        CAROL,
        at(15),
        &[&created],
        set(&["address", "zip"], json!("69001")),
    );
    all.push(s);

    let mut s = Scenario::new(
        "same_field_conflict",
        "Alice and Bob set the name concurrently: one field conflict at [\"name\"]. Bob's \
         event is later in replay order, so it wins provisionally and Alice is asked. Bob's \
         other write (age) conflicts with nothing and is not part of the conflict.",
    );
    let created = s.add("created", doc(3), ALICE, at(0), &[], create(person()));
    s.add(
        "alice_name",
        doc(3),
        ALICE,
        at(10),
        &[&created],
        set(&["name"], json!("Ada L.")),
    );
    s.add(
        "bob_name_and_age",
        doc(3),
        BOB,
        at(20),
        &[&created],
        update(&[
            (&["name"], Some(json!("Grace"))),
            (&["age"], Some(json!(36))),
        ]),
    );
    all.push(s);

    let mut s = Scenario::new(
        "concurrent_deletes_of_one_field",
        "Alice and Bob both delete the tags field concurrently. Unlike two concurrent removes \
         of a whole document, two deletes of one field are a field conflict: the provisional \
         value is absent and Alice, whose delete is earlier, is asked.",
    );
    let created = s.add("created", doc(4), ALICE, at(0), &[], create(person()));
    s.add(
        "alice_delete",
        doc(4),
        ALICE,
        at(10),
        &[&created],
        update(&[(&["tags"], None)]),
    );
    s.add(
        "bob_delete",
        doc(4),
        BOB,
        at(20),
        &[&created],
        update(&[(&["tags"], None)]),
    );
    all.push(s);

    let mut s = Scenario::new(
        "containing_paths",
        "Two documents. In each, one user replaces the whole address while another sets the \
         city inside it, concurrently: a field conflict at [\"address\"]. In the first the \
         replacement is later and shows whole; in the second the inner write is later and \
         shows on top of the replacement.",
    );
    let created = s.add("created_5", doc(5), ALICE, at(0), &[], create(person()));
    s.add(
        "whole_5",
        doc(5),
        ALICE,
        at(20),
        &[&created],
        set(&["address"], json!({"city": "Rome"})),
    );
    s.add(
        "inner_5",
        doc(5),
        BOB,
        at(10),
        &[&created],
        set(&["address", "city"], json!("Oslo")),
    );
    let created = s.add("created_6", doc(6), ALICE, at(0), &[], create(person()));
    s.add(
        "whole_6",
        doc(6),
        ALICE,
        at(10),
        &[&created],
        set(&["address"], json!({"city": "Rome"})),
    );
    s.add(
        "inner_6",
        doc(6),
        BOB,
        at(20),
        &[&created],
        set(&["address", "city"], json!("Oslo")),
    );
    all.push(s);

    let mut s = Scenario::new(
        "edit_versus_remove",
        "Bob removes the document while Alice, not having seen it, renames it. A remove \
         conflict at the root: the remove is skipped in the provisional state, so the document \
         stays with Alice's edit, and Bob (the remover) is asked.",
    );
    let created = s.add("created", doc(7), ALICE, at(0), &[], create(person()));
    s.add("bob_remove", doc(7), BOB, at(20), &[&created], Op::Remove);
    s.add(
        "alice_name",
        doc(7),
        ALICE,
        at(10),
        &[&created],
        set(&["name"], json!("Grace")),
    );
    all.push(s);

    let mut s = Scenario::new(
        "remove_versus_several_edits",
        "Bob removes the document while Alice and Carol set the name concurrently and Dave, \
         after Alice, sets the city. Every edit overlaps the remove, so all four events form \
         one remove conflict; only the remover is asked, and the winner is the edit latest in \
         replay order.",
    );
    let created = s.add("created", doc(8), ALICE, at(0), &[], create(person()));
    s.add("bob_remove", doc(8), BOB, at(30), &[&created], Op::Remove);
    let alice = s.add(
        "alice_name",
        doc(8),
        ALICE,
        at(10),
        &[&created],
        set(&["name"], json!("A")),
    );
    s.add(
        "carol_name",
        doc(8),
        CAROL,
        at(20),
        &[&created],
        set(&["name"], json!("C")),
    );
    s.add(
        "dave_city",
        doc(8),
        DAVE,
        at(25),
        &[&alice],
        set(&["address", "city"], json!("Nice")),
    );
    all.push(s);

    let mut s = Scenario::new(
        "remove_conflict_over_an_absent_document",
        "Bob and Dave remove the document concurrently; Carol, having seen only Bob's remove, \
         updates the absent document (which changes nothing). Carol's update is concurrent with \
         Dave's remove, so they form a remove conflict and Dave's remove is skipped, but Bob's \
         remove is in no conflict and applies: the document stays absent, the conflict's \
         provisional value is absent, and Dave is asked.",
    );
    let created = s.add("created", doc(27), ALICE, at(0), &[], create(person()));
    let bob = s.add("bob_remove", doc(27), BOB, at(10), &[&created], Op::Remove);
    s.add(
        "dave_remove",
        doc(27),
        DAVE,
        at(20),
        &[&created],
        Op::Remove,
    );
    s.add(
        "carol_update",
        doc(27),
        CAROL,
        at(30),
        &[&bob],
        set(&["name"], json!("X")),
    );
    all.push(s);

    let mut s = Scenario::new(
        "concurrent_removes",
        "Alice and Bob both remove the document, concurrently: they agree, nobody has anything \
         to decide, so there is no conflict. The document is absent and both removes are heads.",
    );
    let created = s.add("created", doc(9), ALICE, at(0), &[], create(person()));
    s.add(
        "alice_remove",
        doc(9),
        ALICE,
        at(10),
        &[&created],
        Op::Remove,
    );
    s.add("bob_remove", doc(9), BOB, at(20), &[&created], Op::Remove);
    all.push(s);

    let mut s = Scenario::new(
        "duplicate_create",
        "Alice and Bob create the same document id, neither aware of the other: a create \
         conflict. Bob's create is later and shows; Alice is asked.",
    );
    s.add(
        "alice_create",
        doc(10),
        ALICE,
        at(0),
        &[],
        create(json!({"name": "Ada"})),
    );
    s.add(
        "bob_create",
        doc(10),
        BOB,
        at(5),
        &[],
        create(json!({"name": "Other", "x": 1})),
    );
    all.push(s);

    let mut s = Scenario::new(
        "recreation_after_remove",
        "Bob removes the document; Alice, having seen the remove, creates it again: a \
         re-creation, not a conflict.",
    );
    let created = s.add("created", doc(11), ALICE, at(0), &[], create(person()));
    let removed = s.add("removed", doc(11), BOB, at(10), &[&created], Op::Remove);
    s.add(
        "recreated",
        doc(11),
        ALICE,
        at(20),
        &[&removed],
        create(json!({"name": "New"})),
    );
    all.push(s);

    let mut s = Scenario::new(
        "update_after_remove",
        "Carol updates the document after seeing it removed: an update to an absent document \
         changes nothing, and it is not concurrent with the remove, so there is no conflict.",
    );
    let created = s.add("created", doc(12), ALICE, at(0), &[], create(person()));
    let removed = s.add("removed", doc(12), BOB, at(10), &[&created], Op::Remove);
    s.add(
        "late_update",
        doc(12),
        CAROL,
        at(20),
        &[&removed],
        set(&["name"], json!("X")),
    );
    all.push(s);

    let mut s = Scenario::new(
        "chains_across_five_users",
        "Alice sets the city; Bob, concurrently, replaces the whole address; Carol, after \
         Alice but not Bob, sets the street. Alice and Carol are not concurrent and their \
         paths do not overlap, but each conflicts with Bob, so the three form one conflict at \
         [\"address\"] (a connected component). Dave and Erin set the name concurrently: a \
         second, separate conflict in the same document.",
    );
    let created = s.add("created", doc(13), ALICE, at(0), &[], create(person()));
    let alice = s.add(
        "alice_city",
        doc(13),
        ALICE,
        at(10),
        &[&created],
        set(&["address", "city"], json!("X")),
    );
    s.add(
        "bob_address",
        doc(13),
        BOB,
        at(20),
        &[&created],
        set(&["address"], json!({"zip": "1000"})),
    );
    s.add(
        "carol_street",
        doc(13),
        CAROL,
        at(30),
        &[&alice],
        set(&["address", "street"], json!("Y")),
    );
    s.add(
        "dave_name",
        doc(13),
        DAVE,
        at(15),
        &[&created],
        set(&["name"], json!("D")),
    );
    s.add(
        "erin_name",
        doc(13),
        ERIN,
        at(25),
        &[&created],
        set(&["name"], json!("E")),
    );
    all.push(s);

    let mut s = Scenario::new(
        "one_user_two_devices",
        "Alice sets the name from her laptop and from her phone, and Bob too, all concurrently. \
         Bob's write wins; Alice lost twice but is asked once: assignees are deduplicated.",
    );
    let created = s.add("created", doc(14), ALICE, at(0), &[], create(person()));
    s.add(
        "alice_laptop",
        doc(14),
        ALICE,
        at(10),
        &[&created],
        set(&["name"], json!("A1")),
    );
    s.add(
        "alice_phone",
        doc(14),
        ALICE_PHONE,
        at(20),
        &[&created],
        set(&["name"], json!("A2")),
    );
    s.add(
        "bob",
        doc(14),
        BOB,
        at(30),
        &[&created],
        set(&["name"], json!("B")),
    );
    all.push(s);

    let mut s = Scenario::new(
        "equal_timestamps",
        "Alice and Bob set the name at the same timestamp: the replay order breaks the tie by \
         event id, and the larger id wins. Carol's later counter in the same millisecond orders \
         her after both.",
    );
    let created = s.add("created", doc(15), ALICE, at(0), &[], create(person()));
    s.add(
        "alice_name",
        doc(15),
        ALICE,
        at(10),
        &[&created],
        set(&["name"], json!("A")),
    );
    s.add(
        "bob_name",
        doc(15),
        BOB,
        at(10),
        &[&created],
        set(&["name"], json!("B")),
    );
    s.add(
        "carol_tags",
        doc(15),
        CAROL,
        Hlc {
            wall_ms: START_MS + 10,
            counter: 1,
        },
        &[&created],
        set(&["tags"], json!(["c"])),
    );
    all.push(s);

    let mut s = Scenario::new(
        "skewed_clocks",
        "Bob's and Dave's clocks run behind: their updates carry timestamps earlier than the \
         create they saw. The replay order is topological first, so the create still comes \
         first; among the ready updates Dave (earliest) goes first and Bob wins the name.",
    );
    let created = s.add("created", doc(16), ALICE, at(100), &[], create(person()));
    s.add(
        "bob_name",
        doc(16),
        BOB,
        at(50),
        &[&created],
        set(&["name"], json!("B")),
    );
    s.add(
        "carol_city",
        doc(16),
        CAROL,
        at(60),
        &[&created],
        set(&["address", "city"], json!("C")),
    );
    s.add(
        "dave_name",
        doc(16),
        DAVE,
        at(40),
        &[&created],
        set(&["name"], json!("D")),
    );
    all.push(s);

    let mut s = Scenario::new(
        "resolution_clears_conflict",
        "Alice and Bob set the name concurrently; Alice then resolves the conflict with an \
         update whose base is the document's heads. It overwrites both writes, so the conflict \
         is gone.",
    );
    let created = s.add("created", doc(17), ALICE, at(0), &[], create(person()));
    s.add(
        "alice_name",
        doc(17),
        ALICE,
        at(10),
        &[&created],
        set(&["name"], json!("A")),
    );
    s.add(
        "bob_name",
        doc(17),
        BOB,
        at(20),
        &[&created],
        set(&["name"], json!("B")),
    );
    s.resolve(
        "resolved",
        doc(17),
        ALICE,
        at(30),
        Decision::Keep(value(json!("A+B"))),
    );
    all.push(s);

    let resolution_steps = |with_second: bool| {
        let mut s = Scenario::new(
            if with_second {
                "resolution_of_resolutions"
            } else {
                "resolution_concurrent_with_an_edit"
            },
            if with_second {
                "The history of resolution_concurrent_with_an_edit, then Alice resolves the new \
                 conflict by deleting the name, with the heads (her first resolution and Carol's \
                 edit) as base: no conflict is left and the name is absent."
            } else {
                "Alice resolves the name conflict, but Carol, who saw only Bob's edit, sets the \
                 name concurrently with the resolution: the resolution is itself in a field \
                 conflict with Carol's edit, with a new id. Carol's edit is later and wins; \
                 Alice is asked again."
            },
        );
        let created = s.add("created", doc(18), ALICE, at(0), &[], create(person()));
        s.add(
            "alice_name",
            doc(18),
            ALICE,
            at(10),
            &[&created],
            set(&["name"], json!("A")),
        );
        let bob = s.add(
            "bob_name",
            doc(18),
            BOB,
            at(20),
            &[&created],
            set(&["name"], json!("B")),
        );
        s.resolve(
            "resolved",
            doc(18),
            ALICE,
            at(30),
            Decision::Keep(value(json!("A+B"))),
        );
        s.add(
            "carol_name",
            doc(18),
            CAROL,
            at(35),
            &[&bob],
            set(&["name"], json!("C")),
        );
        if with_second {
            s.resolve("resolved_again", doc(18), ALICE, at(40), Decision::Delete);
        }
        s
    };
    all.push(resolution_steps(false));
    all.push(resolution_steps(true));

    let mut s = Scenario::new(
        "remove_and_create_conflicts_resolved",
        "Two documents. In the first, Bob (asked about his remove concurrent with Alice's edit) \
         decides to delete: the resolution is a remove whose base covers both, and the \
         document is absent. In the second, Alice decides a duplicate create by keeping a new \
         whole document: the resolution is a create.",
    );
    let created = s.add("created_19", doc(19), ALICE, at(0), &[], create(person()));
    s.add("bob_remove", doc(19), BOB, at(20), &[&created], Op::Remove);
    s.add(
        "alice_name",
        doc(19),
        ALICE,
        at(10),
        &[&created],
        set(&["name"], json!("Grace")),
    );
    s.resolve("bob_decides", doc(19), BOB, at(30), Decision::Delete);
    s.add(
        "alice_create",
        doc(20),
        ALICE,
        at(0),
        &[],
        create(json!({"name": "Ada"})),
    );
    s.add(
        "bob_create",
        doc(20),
        BOB,
        at(5),
        &[],
        create(json!({"name": "Other"})),
    );
    s.resolve(
        "alice_decides",
        doc(20),
        ALICE,
        at(30),
        Decision::Keep(value(json!({"name": "Ada", "merged": true}))),
    );
    all.push(s);

    let mut s = Scenario::new(
        "base_not_in_set",
        "Three documents. In the first, Carol's update names in its base a create that is not \
         in the set: the entry is ignored, the update applies to an absent document and \
         changes nothing. In the second, Bob's update names in its base its own document's \
         create and Carol's update of the first document: the foreign entry is ignored and \
         the history is sequential. In the third, Dave's update names only an event that is \
         not in the set, so it is concurrent with the create it never saw: a field conflict at \
         the root.",
    );
    let unseen = event_in(
        GROUP,
        COLLECTION,
        doc(21),
        ALICE,
        at(0),
        &[],
        create(person()),
    );
    let carol = s.add(
        "carol_update_21",
        doc(21),
        CAROL,
        at(10),
        &[&unseen],
        set(&["name"], json!("X")),
    );
    let created = s.add("created_22", doc(22), ALICE, at(0), &[], create(person()));
    s.add(
        "bob_update_22",
        doc(22),
        BOB,
        at(10),
        &[&created, &carol],
        set(&["name"], json!("Y")),
    );
    s.add("created_23", doc(23), ALICE, at(20), &[], create(person()));
    s.add(
        "dave_update_23",
        doc(23),
        DAVE,
        at(10),
        &[&unseen],
        set(&["name"], json!("W")),
    );
    all.push(s);

    let mut s = Scenario::new(
        "duplicate_delivery",
        "The same update is listed twice (entries 1 and 2 are the same bytes). A replica keeps \
         each event once, so the result is that of the set without the duplicate.",
    );
    let created = s.add("created", doc(24), ALICE, at(0), &[], create(person()));
    let renamed = s.add(
        "renamed",
        doc(24),
        BOB,
        at(10),
        &[&created],
        set(&["name"], json!("Grace")),
    );
    s.push("renamed_again", renamed.clone());
    s.add(
        "city",
        doc(24),
        CAROL,
        at(20),
        &[&renamed],
        set(&["address", "city"], json!("Paris")),
    );
    all.push(s);

    let mut s = Scenario::new(
        "patch_application",
        "How writes change a document: a set through a string replaces it with an object, a \
         set through an array replaces it with an object keyed by the segment, a set under \
         missing fields creates them as objects, a delete under a missing field or a \
         non-object does nothing, a delete removes the key, and setting null keeps the key.",
    );
    let created = s.add(
        "created",
        doc(25),
        ALICE,
        at(0),
        &[],
        create(json!({"a": "text", "list": [1, 2], "n": {"x": 1, "y": 2}, "name": "Ada"})),
    );
    let first = s.add(
        "first",
        doc(25),
        BOB,
        at(10),
        &[&created],
        update(&[
            (&["a", "b"], Some(json!(1))),
            (&["list", "0"], Some(json!("zero"))),
            (&["m", "k", "deep"], Some(json!(true))),
            (&["n", "x"], None),
            (&["z", "q"], None),
        ]),
    );
    s.add(
        "second",
        doc(25),
        CAROL,
        at(20),
        &[&first],
        update(&[(&["n", "y", "inner"], None), (&["name"], Some(Json::Null))]),
    );
    all.push(s);

    let mut s = Scenario::new(
        "documents_are_group_collection_and_target",
        "One target id in three documents: (team:acme, people), (team:acme, notes) and \
         (team:beta, people). Concurrent edits in different documents never conflict; the \
         concurrent edits inside (team:acme, people) do.",
    );
    let target = doc(26);
    let people = s.push(
        "people_created",
        event_in(
            GROUP,
            COLLECTION,
            target,
            ALICE,
            at(0),
            &[],
            create(person()),
        ),
    );
    let notes = s.push(
        "notes_created",
        event_in(
            GROUP,
            "notes",
            target,
            BOB,
            at(1),
            &[],
            create(json!({"title": "T"})),
        ),
    );
    let beta = s.push(
        "beta_created",
        event_in(
            "team:beta",
            COLLECTION,
            target,
            CAROL,
            at(2),
            &[],
            create(person()),
        ),
    );
    s.push(
        "people_alice",
        event_in(
            GROUP,
            COLLECTION,
            target,
            ALICE,
            at(10),
            &[people.id],
            set(&["name"], json!("A")),
        ),
    );
    s.push(
        "people_bob",
        event_in(
            GROUP,
            COLLECTION,
            target,
            BOB,
            at(11),
            &[people.id],
            set(&["name"], json!("B")),
        ),
    );
    s.push(
        "notes_bob",
        event_in(
            GROUP,
            "notes",
            target,
            BOB,
            at(12),
            &[notes.id],
            set(&["name"], json!("N")),
        ),
    );
    s.push(
        "beta_carol",
        event_in(
            "team:beta",
            COLLECTION,
            target,
            CAROL,
            at(13),
            &[beta.id],
            set(&["name"], json!("C")),
        ),
    );
    all.push(s);

    let mut s = Scenario::new(
        "seeded_history",
        "Forty events over three documents from a fixed seed: creates, removes, re-creations, \
         updates at nested paths and deletes by four users, each written after a random part \
         of its document's history, with clustered timestamps.",
    );
    for (index, event) in random_history(20_261_126).into_iter().take(40).enumerate() {
        s.push(&format!("event_{index}"), event);
    }
    all.push(s);

    all
}

fn generate() -> Json {
    let vectors: Vec<Json> = scenarios()
        .into_iter()
        .enumerate()
        .map(|(number, scenario)| {
            let events: Vec<VerifiedEvent> = scenario
                .events
                .iter()
                .map(|(_, event)| event.clone())
                .collect();
            let forward: Vec<usize> = (0..events.len()).collect();
            let backward: Vec<usize> = forward.iter().rev().copied().collect();
            let mut shuffled = forward.clone();
            shuffle(&mut Rng::new(0xa771_0000 + number as u64), &mut shuffled);
            let mut orders = vec![forward, backward];
            if !orders.contains(&shuffled) {
                orders.push(shuffled);
            }
            json!({
                "name": scenario.name,
                "description": scenario.description,
                "labels": scenario.events.iter().map(|(label, _)| label.clone()).collect::<Vec<_>>(),
                "events": events.iter().map(|event| hex::encode(&event.bytes)).collect::<Vec<_>>(),
                "event_ids": events.iter().map(|event| event.id.to_string()).collect::<Vec<_>>(),
                "arrival_orders": orders,
                "documents": documents_json(&replay(&events)),
            })
        })
        .collect();
    json!({
        "description": "Merge vectors for spec/protocol.md, section \"Merge\". Each vector is a \
            set of events (canonical encodings, hex; `labels` and `event_ids` run parallel) \
            and the documents they produce. Applying the events in any of the \
            `arrival_orders` (lists of indices into `events`), one at a time or in batches, \
            MUST give, for every document (group, collection, target), exactly `state_hex`: \
            the postcard encoding of the document state (value, heads, conflicts). `value`, \
            `heads` and `conflicts` render the same state readably: values as JSON (null when \
            the document is absent), ids as hex, conflict `kind` as field, remove or create, \
            `path` as segments, `provisional` as JSON or null, and each competitor with its \
            event, creator, timestamp and writes (set with a value, delete, or remove).",
        "vectors": vectors,
    })
}

/// Fisher-Yates with the crate's seeded generator.
fn shuffle<T>(rng: &mut Rng, items: &mut [T]) {
    for index in (1..items.len()).rev() {
        items.swap(index, rng.below(index as u64 + 1) as usize);
    }
}

/// A random history over three documents: each event is written after a random prefix of its
/// document's history (so some are concurrent), sometimes with a base entry that names an
/// event not in the set or an event of another document.
fn random_history(seed: u64) -> Vec<VerifiedEvent> {
    let mut rng = Rng::new(seed);
    let writers = [ALICE, BOB, CAROL, DAVE];
    let paths: [&[&str]; 7] = [
        &["a"],
        &["a", "b"],
        &["a", "c"],
        &["a", "b", "c"],
        &["b"],
        &["name"],
        &["a", "b", "d"],
    ];
    let docs = 1 + rng.below(3) as usize;
    let events_len = 1 + rng.below(48) as usize;
    let mut by_doc: Vec<Vec<VerifiedEvent>> = vec![Vec::new(); docs];
    let mut all: Vec<VerifiedEvent> = Vec::new();
    for step in 0..events_len {
        let doc_index = rng.below(docs as u64) as usize;
        let history = &by_doc[doc_index];
        let seen = if history.is_empty() {
            0
        } else {
            rng.below(history.len() as u64 + 1) as usize
        };
        let mut base = reference::heads(&history[..seen]);
        match rng.below(10) {
            0 => base.push(EventId(rng.bytes())),
            1 if !all.is_empty() => base.push(all[rng.below(all.len() as u64) as usize].id),
            _ => {}
        }
        let random_value = |rng: &mut Rng| match rng.below(5) {
            0 => Value::Null,
            1 => Value::Int(rng.below(10) as i64),
            2 => Value::String(format!("s{}", rng.below(4))),
            3 => Value::Array(vec![Value::Int(1)]),
            _ => Value::Object(vec![("b".to_owned(), Value::Int(rng.below(3) as i64))]),
        };
        let op = match rng.below(12) {
            0 | 1 => Op::Create(Value::Object(vec![
                ("a".to_owned(), random_value(&mut rng)),
                ("name".to_owned(), Value::Int(step as i64)),
            ])),
            2 => Op::Remove,
            _ => {
                let mut entries: Vec<(FieldPath, Option<Value>)> = Vec::new();
                for _ in 0..1 + rng.below(3) {
                    let path = FieldPath(
                        paths[rng.below(paths.len() as u64) as usize]
                            .iter()
                            .map(|segment| (*segment).to_owned())
                            .collect(),
                    );
                    let write = if rng.below(4) == 0 {
                        None
                    } else {
                        Some(random_value(&mut rng))
                    };
                    if entries.iter().all(|(other, _)| {
                        !other.is_prefix_of_or_equal(&path) && !path.is_prefix_of_or_equal(other)
                    }) {
                        entries.push((path, write));
                    }
                }
                entries.sort_by(|left, right| left.0.cmp(&right.0));
                Op::Update(Patch(entries))
            }
        };
        let writer = writers[rng.below(writers.len() as u64) as usize];
        let timestamp = Hlc {
            wall_ms: START_MS + rng.below(30),
            counter: rng.below(2) as u32,
        };
        let event = event_in(
            GROUP,
            COLLECTION,
            doc(100 + doc_index as u8),
            writer,
            timestamp,
            &base,
            op,
        );
        by_doc[doc_index].push(event.clone());
        all.push(event);
    }
    all
}

// ---------------------------------------------------------------------------------------------
// The reference: the spec chapter, implemented as literally as possible.
// ---------------------------------------------------------------------------------------------

/// The "Merge" chapter, implemented from its text with no attention to cost: ancestor sets by
/// transitive closure, liveness and conflicts by pairwise scans, and every byte of the state and
/// of conflict-id preimages written by hand. Values are encoded with postcard, as the "Values"
/// chapter specifies (and `value.rs` tests byte for byte).
mod reference {
    use std::collections::{BTreeMap, BTreeSet};

    use tideline_protocol::event::{EventId, Op, VerifiedEvent};
    use tideline_protocol::merge::{ConflictKind, DocKey};
    use tideline_protocol::value::Value;

    #[derive(Clone, PartialEq)]
    enum Action {
        Set(Value),
        Delete,
        Remove,
    }

    struct Write {
        /// Position of the write's event in the replay order.
        event: usize,
        path: Vec<String>,
        action: Action,
    }

    /// Events of the set that no event of the set names in its base, sorted by id.
    pub fn heads(events: &[VerifiedEvent]) -> Vec<EventId> {
        let ids: BTreeSet<EventId> = events.iter().map(|event| event.id).collect();
        let named: BTreeSet<EventId> = events
            .iter()
            .flat_map(|event| event.event.base.iter().copied())
            .collect();
        ids.difference(&named).copied().collect()
    }

    fn is_prefix(shorter: &[String], longer: &[String]) -> bool {
        longer.starts_with(shorter)
    }

    fn overlap(left: &[String], right: &[String]) -> bool {
        is_prefix(left, right) || is_prefix(right, left)
    }

    /// The postcard encoding of the state of the document whose events are `events` (all of
    /// one document, duplicates allowed).
    pub fn state_bytes(events: &[VerifiedEvent]) -> Vec<u8> {
        // The document's events, once each.
        let mut by_id: BTreeMap<EventId, &VerifiedEvent> = BTreeMap::new();
        for event in events {
            by_id.insert(event.id, event);
        }
        let first = by_id.values().next().expect("a document has an event");
        let key = DocKey::of(&first.event);
        assert!(by_id.values().all(|event| DocKey::of(&event.event) == key));

        // Base edges within the document; other base entries are ignored.
        let parents: BTreeMap<EventId, BTreeSet<EventId>> = by_id
            .iter()
            .map(|(id, event)| {
                let inside = event
                    .event
                    .base
                    .iter()
                    .filter(|base| by_id.contains_key(base))
                    .copied()
                    .collect();
                (*id, inside)
            })
            .collect();

        // Replay order: repeatedly take the smallest (wall_ms, counter, id) among the events
        // whose parents have all been taken.
        let mut order: Vec<&VerifiedEvent> = Vec::new();
        let mut taken: BTreeSet<EventId> = BTreeSet::new();
        while let Some(next) = by_id
            .values()
            .filter(|event| !taken.contains(&event.id))
            .filter(|event| {
                parents[&event.id]
                    .iter()
                    .all(|parent| taken.contains(parent))
            })
            .min_by_key(|event| {
                let timestamp = event.event.timestamp;
                (timestamp.wall_ms, timestamp.counter, event.id)
            })
        {
            taken.insert(next.id);
            order.push(next);
        }
        assert_eq!(order.len(), by_id.len());

        // Ancestors: everything reachable through base edges within the document.
        let mut ancestors: Vec<BTreeSet<usize>> = Vec::new();
        let position: BTreeMap<EventId, usize> = order
            .iter()
            .enumerate()
            .map(|(index, event)| (event.id, index))
            .collect();
        for event in &order {
            let mut mine = BTreeSet::new();
            for parent in &parents[&event.id] {
                let parent = position[parent];
                mine.insert(parent);
                mine.extend(ancestors[parent].iter().copied());
            }
            ancestors.push(mine);
        }
        let concurrent = |left: usize, right: usize| {
            left != right && !ancestors[left].contains(&right) && !ancestors[right].contains(&left)
        };

        // Writes, in replay order and patch order.
        let mut writes: Vec<Write> = Vec::new();
        for (index, event) in order.iter().enumerate() {
            match &event.event.op {
                Op::Create(document) => writes.push(Write {
                    event: index,
                    path: Vec::new(),
                    action: Action::Set(document.clone()),
                }),
                Op::Remove => writes.push(Write {
                    event: index,
                    path: Vec::new(),
                    action: Action::Remove,
                }),
                Op::Update(patch) => {
                    for (path, value) in &patch.0 {
                        writes.push(Write {
                            event: index,
                            path: path.0.clone(),
                            action: match value {
                                Some(value) => Action::Set(value.clone()),
                                None => Action::Delete,
                            },
                        });
                    }
                }
            }
        }

        // Live: no write of a descendant event lies at the same path or a prefix of it.
        let live: Vec<bool> = writes
            .iter()
            .map(|write| {
                !writes.iter().any(|later| {
                    ancestors[later.event].contains(&write.event)
                        && is_prefix(&later.path, &write.path)
                })
            })
            .collect();

        // Conflicting pairs, and their connected components.
        let mut neighbours: Vec<Vec<usize>> = vec![Vec::new(); writes.len()];
        for left in 0..writes.len() {
            for right in left + 1..writes.len() {
                let (a, b) = (&writes[left], &writes[right]);
                if live[left]
                    && live[right]
                    && concurrent(a.event, b.event)
                    && overlap(&a.path, &b.path)
                    && !(a.action == Action::Remove && b.action == Action::Remove)
                {
                    neighbours[left].push(right);
                    neighbours[right].push(left);
                }
            }
        }
        let mut component: Vec<Option<usize>> = vec![None; writes.len()];
        let mut components: Vec<Vec<usize>> = Vec::new();
        for start in 0..writes.len() {
            if neighbours[start].is_empty() || component[start].is_some() {
                continue;
            }
            let mut members = vec![start];
            component[start] = Some(components.len());
            let mut next = 0;
            while next < members.len() {
                for &other in &neighbours[members[next]] {
                    if component[other].is_none() {
                        component[other] = Some(components.len());
                        members.push(other);
                    }
                }
                next += 1;
            }
            members.sort_unstable();
            components.push(members);
        }

        // The provisional document: every write in replay order, but a remove event with a
        // write in a conflict is skipped.
        let skipped: BTreeSet<usize> = components
            .iter()
            .flatten()
            .filter(|&&write| writes[write].action == Action::Remove)
            .map(|&write| writes[write].event)
            .collect();
        let mut document: Option<Value> = None;
        for write in &writes {
            if !skipped.contains(&write.event) {
                apply(&mut document, &write.path, &write.action);
            }
        }

        let mut conflicts: Vec<([u8; 32], Vec<u8>)> = components
            .iter()
            .map(|members| conflict_bytes(&key, &order, &writes, members, document.as_ref()))
            .collect();
        conflicts.sort_by_key(|conflict| conflict.0);

        let mut out = Vec::new();
        option_value(&mut out, document.as_ref());
        let heads = heads(
            &order
                .iter()
                .map(|event| (*event).clone())
                .collect::<Vec<_>>(),
        );
        varint(&mut out, heads.len() as u64);
        for head in heads {
            out.extend_from_slice(&head.0);
        }
        varint(&mut out, conflicts.len() as u64);
        for (_, bytes) in conflicts {
            out.extend_from_slice(&bytes);
        }
        out
    }

    /// Applies one write the way the chapter's "Applying writes" section says.
    fn apply(document: &mut Option<Value>, path: &[String], action: &Action) {
        let Some((last, intermediates)) = path.split_last() else {
            match action {
                Action::Set(value) => *document = Some(value.clone()),
                Action::Remove => *document = None,
                Action::Delete => panic!("a delete has a non-empty path"),
            }
            return;
        };
        let Some(mut node) = document.as_mut() else {
            return;
        };
        match action {
            Action::Set(value) => {
                for segment in intermediates {
                    node = child_as_object(node, segment);
                }
                make_object(node);
                let Value::Object(fields) = node else {
                    unreachable!()
                };
                match fields.binary_search_by(|(key, _)| key.as_str().cmp(last)) {
                    Ok(index) => fields[index].1 = value.clone(),
                    Err(index) => fields.insert(index, (last.clone(), value.clone())),
                }
            }
            Action::Delete => {
                for segment in intermediates {
                    let Value::Object(fields) = node else {
                        return;
                    };
                    match fields.iter_mut().find(|(key, _)| key == segment) {
                        Some((_, child)) if matches!(child, Value::Object(_)) => node = child,
                        _ => return,
                    }
                }
                if let Value::Object(fields) = node {
                    fields.retain(|(key, _)| key != last);
                }
            }
            Action::Remove => panic!("a remove has the empty path"),
        }
    }

    fn make_object(node: &mut Value) {
        if !matches!(node, Value::Object(_)) {
            *node = Value::Object(Vec::new());
        }
    }

    /// The field `segment` of `node` (made an object first), created as an empty object if
    /// missing and replaced by one if it is not an object.
    fn child_as_object<'a>(node: &'a mut Value, segment: &str) -> &'a mut Value {
        make_object(node);
        let Value::Object(fields) = node else {
            unreachable!()
        };
        let index = match fields.binary_search_by(|(key, _)| key.as_str().cmp(segment)) {
            Ok(index) => index,
            Err(index) => {
                fields.insert(index, (segment.to_owned(), Value::Object(Vec::new())));
                index
            }
        };
        let child = &mut fields[index].1;
        make_object(child);
        child
    }

    fn value_at<'a>(document: Option<&'a Value>, path: &[String]) -> Option<&'a Value> {
        let mut node = document?;
        for segment in path {
            let Value::Object(fields) = node else {
                return None;
            };
            node = &fields.iter().find(|(key, _)| key == segment)?.1;
        }
        Some(node)
    }

    /// A conflict's id and encoding.
    fn conflict_bytes(
        key: &DocKey,
        order: &[&VerifiedEvent],
        writes: &[Write],
        members: &[usize],
        document: Option<&Value>,
    ) -> ([u8; 32], Vec<u8>) {
        let member_events: BTreeSet<usize> =
            members.iter().map(|&write| writes[write].event).collect();
        let has_remove = members
            .iter()
            .any(|&write| writes[write].action == Action::Remove);
        let creates = members
            .iter()
            .filter(|&&write| matches!(order[writes[write].event].event.op, Op::Create(_)))
            .count();
        let kind = if has_remove {
            ConflictKind::Remove
        } else if creates >= 2 {
            ConflictKind::Create
        } else {
            ConflictKind::Field
        };
        // Longest common prefix of the member paths.
        let mut path: Vec<String> = writes[members[0]].path.clone();
        for &write in members {
            let common = path
                .iter()
                .zip(&writes[write].path)
                .take_while(|(left, right)| left == right)
                .count();
            path.truncate(common);
        }
        let removes_of = |event: usize| {
            members.iter().any(|&write| {
                writes[write].event == event && writes[write].action == Action::Remove
            })
        };
        let winner = *member_events
            .iter()
            .filter(|&&event| !removes_of(event))
            .max()
            .expect("a conflict has an edit");
        let assignees: BTreeSet<&str> = member_events
            .iter()
            .filter(|&&event| match kind {
                ConflictKind::Remove => removes_of(event),
                _ => event != winner,
            })
            .map(|&event| order[event].event.creator.as_str())
            .collect();
        let mut competing: Vec<usize> = member_events.iter().copied().collect();
        competing.sort_by_key(|&event| order[event].id);
        let ids: Vec<EventId> = competing.iter().map(|&event| order[event].id).collect();

        let preimage = conflict_preimage(key, kind, &path, &ids);
        let id = *blake3::Hasher::new_derive_key("tideline 2026-11 v1 conflict id")
            .update(&preimage)
            .finalize()
            .as_bytes();

        let mut out = Vec::new();
        out.extend_from_slice(&id);
        varint(&mut out, kind_index(kind));
        strings(&mut out, &path);
        varint(&mut out, competing.len() as u64);
        for &event in &competing {
            let verified = order[event];
            out.extend_from_slice(&verified.id.0);
            string(&mut out, &verified.event.creator);
            varint(&mut out, verified.event.timestamp.wall_ms);
            varint(&mut out, u64::from(verified.event.timestamp.counter));
            let mine: Vec<&Write> = members
                .iter()
                .map(|&write| &writes[write])
                .filter(|write| write.event == event)
                .collect();
            varint(&mut out, mine.len() as u64);
            for write in mine {
                strings(&mut out, &write.path);
                match &write.action {
                    Action::Set(value) => {
                        varint(&mut out, 0);
                        out.extend_from_slice(&postcard::to_allocvec(value).unwrap());
                    }
                    Action::Delete => varint(&mut out, 1),
                    Action::Remove => varint(&mut out, 2),
                }
            }
        }
        out.extend_from_slice(&order[winner].id.0);
        option_value(&mut out, value_at(document, &path));
        varint(&mut out, assignees.len() as u64);
        for assignee in assignees {
            string(&mut out, assignee);
        }
        (id, out)
    }

    fn kind_index(kind: ConflictKind) -> u64 {
        match kind {
            ConflictKind::Field => 0,
            ConflictKind::Remove => 1,
            ConflictKind::Create => 2,
        }
    }

    /// The bytes hashed into a conflict id: document key, kind, path and competing event ids.
    pub fn conflict_preimage(
        key: &DocKey,
        kind: ConflictKind,
        path: &[String],
        ids: &[EventId],
    ) -> Vec<u8> {
        let mut out = Vec::new();
        string(&mut out, &key.group);
        string(&mut out, &key.collection);
        out.extend_from_slice(&key.target.0);
        varint(&mut out, kind_index(kind));
        strings(&mut out, path);
        varint(&mut out, ids.len() as u64);
        for id in ids {
            out.extend_from_slice(&id.0);
        }
        out
    }

    /// postcard's unsigned varint: seven bits per byte, least significant first.
    fn varint(out: &mut Vec<u8>, mut number: u64) {
        while number >= 0x80 {
            out.push((number as u8) | 0x80);
            number >>= 7;
        }
        out.push(number as u8);
    }

    fn string(out: &mut Vec<u8>, text: &str) {
        varint(out, text.len() as u64);
        out.extend_from_slice(text.as_bytes());
    }

    fn strings(out: &mut Vec<u8>, texts: &[String]) {
        varint(out, texts.len() as u64);
        for text in texts {
            string(out, text);
        }
    }

    fn option_value(out: &mut Vec<u8>, value: Option<&Value>) {
        match value {
            None => out.push(0),
            Some(value) => {
                out.push(1);
                out.extend_from_slice(&postcard::to_allocvec(value).unwrap());
            }
        }
    }
}
