//! The generator: writers, helpers that build events by hand, and the scenarios in file order.

use super::*;
use super::{delivery, fields, removes, resolutions, writers};

/// Who writes an event: the user and the replica (device) they write from.
#[derive(Clone, Copy)]
pub(crate) struct Writer {
    pub(crate) creator: &'static str,
    pub(crate) device: u8,
}

pub(crate) const ALICE: Writer = Writer {
    creator: "alice",
    device: 0xa1,
};
pub(crate) const ALICE_PHONE: Writer = Writer {
    creator: "alice",
    device: 0xa2,
};
pub(crate) const BOB: Writer = Writer {
    creator: "bob",
    device: 0xb1,
};
pub(crate) const CAROL: Writer = Writer {
    creator: "carol",
    device: 0xc1,
};
pub(crate) const DAVE: Writer = Writer {
    creator: "dave",
    device: 0xd1,
};
pub(crate) const ERIN: Writer = Writer {
    creator: "erin",
    device: 0xe1,
};

/// Document `number`: a UUIDv7-layout id with fixed time and "random" bytes.
pub(crate) fn doc(number: u8) -> DocId {
    DocId::new(START_MS + u64::from(number), [number; 10])
}

pub(crate) fn at(offset_ms: u64) -> Hlc {
    Hlc {
        wall_ms: START_MS + offset_ms,
        counter: 0,
    }
}

pub(crate) fn value(json: Json) -> Value {
    Value::try_from(&json).expect("vector values are valid")
}

pub(crate) fn create(json: Json) -> Op {
    Op::Create(value(json))
}

/// An update from `(path, Some(value))` sets and `(path, None)` deletes, sorted into a patch.
pub(crate) fn update(entries: &[(&[&str], Option<Json>)]) -> Op {
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

pub(crate) fn set(segments: &[&str], json: Json) -> Op {
    update(&[(segments, Some(json))])
}

pub(crate) fn person() -> Json {
    json!({
        "name": "Ada",
        "address": {"city": "Lyon", "street": "Rue A"},
        "tags": ["math"],
    })
}

/// An event in group `team:acme`, collection `people`, unless `key` says otherwise.
pub(crate) fn event_in(
    group: &str,
    collection: &str,
    target: DocId,
    writer: Writer,
    timestamp: Hlc,
    base: &[EventId],
    op: Op,
) -> VerifiedEvent {
    EventBuilder::new(op)
        .group(group)
        .collection(collection)
        .target(target)
        .at(timestamp.wall_ms)
        .counter(timestamp.counter)
        .creator(writer.creator)
        .origin(ReplicaId([writer.device; 16]))
        .base(base.iter().copied())
        .seal()
}

/// One vector under construction: labelled events and any arrival orders beyond the defaults.
pub(crate) struct Scenario {
    pub(crate) name: &'static str,
    pub(crate) description: &'static str,
    pub(crate) events: Vec<(String, VerifiedEvent)>,
}

impl Scenario {
    pub(crate) fn new(name: &'static str, description: &'static str) -> Self {
        Scenario {
            name,
            description,
            events: Vec::new(),
        }
    }

    /// Adds an event on `target` in the default group and collection and returns it.
    pub(crate) fn add(
        &mut self,
        label: &str,
        target: DocId,
        writer: Writer,
        timestamp: Hlc,
        base: &[&VerifiedEvent],
        op: Op,
    ) -> VerifiedEvent {
        let base: Vec<EventId> = base.iter().map(|event| event.id()).collect();
        let event = event_in(GROUP, COLLECTION, target, writer, timestamp, &base, op);
        self.push(label, event)
    }

    pub(crate) fn push(&mut self, label: &str, event: VerifiedEvent) -> VerifiedEvent {
        self.events.push((label.to_owned(), event.clone()));
        event
    }

    /// The merged state of `target` so far, for building resolutions.
    pub(crate) fn state_of(&self, target: DocId) -> (DocKey, DocState) {
        let events: Vec<VerifiedEvent> = self
            .events
            .iter()
            .map(|(_, event)| event.clone())
            .filter(|event| {
                event.event().target == target
                    && event.event().group == GROUP
                    && event.event().collection == COLLECTION
            })
            .collect();
        (DocKey::of(events[0].event()), materialize(&events))
    }

    /// Adds the event that resolves the first conflict of `target` with `decision`.
    pub(crate) fn resolve(
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

/// Every scenario of the file, in the file's order.
pub(crate) fn scenarios() -> Vec<Scenario> {
    let mut all = Vec::new();
    fields::scenarios(&mut all);
    removes::scenarios(&mut all);
    writers::scenarios(&mut all);
    resolutions::scenarios(&mut all);
    delivery::scenarios(&mut all);
    all
}

pub(crate) fn generate() -> Json {
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
                "events": events.iter().map(|event| hex::encode(event.bytes())).collect::<Vec<_>>(),
                "event_ids": events.iter().map(|event| event.id().to_string()).collect::<Vec<_>>(),
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
pub(crate) fn shuffle<T>(rng: &mut Rng, items: &mut [T]) {
    for index in (1..items.len()).rev() {
        items.swap(index, rng.below(index as u64 + 1) as usize);
    }
}

/// A random history over three documents: each event is written after a random prefix of its
/// document's history (so some are concurrent), sometimes with a base entry that names an
/// event not in the set or an event of another document.
pub(crate) fn random_history(seed: u64) -> Vec<VerifiedEvent> {
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
            1 if !all.is_empty() => base.push(all[rng.below(all.len() as u64) as usize].id()),
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
