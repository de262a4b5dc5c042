//! Criterion benchmarks of merge: materializing every document of a log from scratch, and the
//! cost of one late event on a large replica.
//!
//! `cargo bench -p tideline-benches --bench merge`.
//!
//! - `merge/materialize_100000`: `replica::replay` of 100,000 events over 10,000 documents,
//!   about 10 events each: creates, updates from four users on nested fields, some of them
//!   concurrent (written on an older view of the document), deletes, removes and re-creations.
//! - `merge/late_event_into_1000000`: `replica::apply` of one old event (a timestamp before
//!   every other, concurrent with its document's history) to a `MemoryStore` holding
//!   1,000,000 events over 100,000 documents. The store is built once, outside the measurement
//!   (it takes a while; the time is printed). Each iteration applies a different late event to
//!   the same store, so the store grows by one event per iteration, which is negligible next
//!   to its size; cloning the store per iteration would cost far more than what is measured.
//!
//! Every input is generated from a fixed seed before timing starts, so runs compare.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use tideline_protocol::event::{DocId, EventId, FieldPath, Op, Patch, ReplicaId, VerifiedEvent};
use tideline_protocol::replica::{apply, replay};
use tideline_protocol::store::MemoryStore;
use tideline_protocol::value::Value;
use tideline_testkit::events::{patch, EventBuilder};
use tideline_testkit::generate::Rng;

const GROUP: &str = "g";
const COLLECTION: &str = "people";
const START_MS: u64 = 1_790_000_000_000;
const USERS: [&str; 4] = ["alice", "bob", "carol", "dave"];

/// Events applied per `replica::apply` call while building the large store.
const BUILD_BATCH_LEN: usize = 100_000;

/// One document while its history is generated.
struct Doc {
    target: DocId,
    /// The document's first event: the create that late events are written against.
    first: Option<EventId>,
    /// Events of the document that no other names in its base.
    heads: Vec<EventId>,
    /// The heads before the latest event: a base that makes the next event concurrent with it.
    heads_before: Vec<EventId>,
    removed: bool,
}

/// A generated log: the events in generation order and each document's first event.
struct History {
    events: Vec<VerifiedEvent>,
    docs: Vec<Doc>,
}

fn field(segments: &[&str]) -> FieldPath {
    FieldPath(
        segments
            .iter()
            .map(|segment| (*segment).to_owned())
            .collect(),
    )
}

/// `events_len` events over `docs_len` documents. An event goes to a random document; the
/// first of a document is a create. Later ones are written on the current heads (80%) or on the
/// heads before the latest event (20%, so concurrent with it): updates of one or two fields
/// (one in ten a delete), removes (4%), and creates again after a remove (half the time).
fn history(seed: u64, events_len: usize, docs_len: usize) -> History {
    let mut rng = Rng::new(seed);
    let mut docs: Vec<Doc> = (0..docs_len)
        .map(|_| Doc {
            target: DocId::new(START_MS, rng.bytes()),
            first: None,
            heads: Vec::new(),
            heads_before: Vec::new(),
            removed: false,
        })
        .collect();
    let fields = [
        field(&["name"]),
        field(&["age"]),
        field(&["address"]),
        field(&["address", "city"]),
        field(&["address", "zip"]),
        field(&["tags"]),
    ];
    let mut events = Vec::with_capacity(events_len);
    for step in 0..events_len {
        let doc = &mut docs[rng.below(docs_len as u64) as usize];
        let creator = USERS[rng.below(USERS.len() as u64) as usize];
        // The builder sorts the base, as a valid event's must be.
        let base = if rng.below(5) == 0 {
            doc.heads_before.clone()
        } else {
            doc.heads.clone()
        };
        let op = if doc.first.is_none() || (doc.removed && rng.below(2) == 0) {
            doc.removed = false;
            Op::Create(Value::Object(vec![
                ("address".to_owned(), Value::Object(Vec::new())),
                ("name".to_owned(), Value::String(format!("person {step}"))),
            ]))
        } else if rng.below(25) == 0 {
            doc.removed = true;
            Op::Remove
        } else {
            let first = rng.below(fields.len() as u64) as usize;
            let mut entries = vec![first];
            let second = rng.below(fields.len() as u64) as usize;
            if rng.below(3) == 0 && !fields[first].overlaps(&fields[second]) {
                entries.push(second);
            }
            let mut patch: Vec<(FieldPath, Option<Value>)> = entries
                .into_iter()
                .map(|index| {
                    let value = if rng.below(10) == 0 {
                        None
                    } else {
                        Some(Value::Int(rng.below(1000) as i64))
                    };
                    (fields[index].clone(), value)
                })
                .collect();
            patch.sort_by(|left, right| left.0.cmp(&right.0));
            Op::Update(Patch(patch))
        };
        // The arguments are evaluated in order, so the generator draws the time before the
        // origin, as it always has: the history stays the same for a seed.
        let event = EventBuilder::new(op)
            .group(GROUP)
            .collection(COLLECTION)
            .target(doc.target)
            .at(START_MS + 1 + step as u64 * 10 + rng.below(10))
            .creator(creator)
            .origin(ReplicaId([rng.below(USERS.len() as u64) as u8; 16]))
            .base(base)
            .seal();
        doc.heads_before = doc.heads.clone();
        doc.heads.retain(|head| !event.event().base.contains(head));
        doc.heads.push(event.id());
        doc.first.get_or_insert(event.id());
        events.push(event);
    }
    History { events, docs }
}

/// The `number`th late event: an update of document `number % docs` whose base is only the
/// document's first event and whose timestamp is before every generated one.
fn late_event(history: &History, number: usize) -> VerifiedEvent {
    let doc = &history.docs[number % history.docs.len()];
    EventBuilder::update(patch([("late", Some(Value::Int(number as i64)))]))
        .group(GROUP)
        .collection(COLLECTION)
        .target(doc.target)
        .at(START_MS)
        .counter(number as u32)
        .creator("erin")
        .origin(ReplicaId([0xee; 16]))
        .base(doc.first)
        .seal()
}

fn materialize_100000(c: &mut Criterion) {
    let mut group = c.benchmark_group("merge");
    group.sample_size(10);
    let mut events: Option<Vec<VerifiedEvent>> = None;
    group.bench_function("materialize_100000", |b| {
        let events = events.get_or_insert_with(|| history(1, 100_000, 10_000).events);
        b.iter(|| black_box(replay(black_box(events))));
    });
    group.finish();
}

fn late_event_into_1000000(c: &mut Criterion) {
    let mut group = c.benchmark_group("merge");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    let mut replica: Option<(History, MemoryStore)> = None;
    let mut late_len = 0;
    group.bench_function("late_event_into_1000000", |b| {
        let (history, store) = replica.get_or_insert_with(|| {
            let start = Instant::now();
            let history = history(2, 1_000_000, 100_000);
            let mut store = MemoryStore::new();
            for batch in history.events.chunks(BUILD_BATCH_LEN) {
                apply(&mut store, batch).expect("the memory store does not fail");
            }
            assert_eq!(store.events_len(), 1_000_000);
            eprintln!(
                "merge/late_event_into_1000000: built the replica of {} events over {} \
                 documents in {:.1?}",
                store.events_len(),
                history.docs.len(),
                start.elapsed()
            );
            (history, store)
        });
        b.iter_custom(|iters| {
            let late: Vec<VerifiedEvent> = (0..iters)
                .map(|_| {
                    late_len += 1;
                    late_event(history, late_len)
                })
                .collect();
            let start = Instant::now();
            for event in &late {
                let inserted = apply(store, std::slice::from_ref(event))
                    .expect("the memory store does not fail");
                assert_eq!(inserted.len(), 1, "every late event is new");
            }
            start.elapsed()
        });
    });
    group.finish();
}

criterion_group!(benches, materialize_100000, late_event_into_1000000);
criterion_main!(benches);
