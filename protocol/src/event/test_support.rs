//! Builders and proptest strategies the event tests share.

use std::collections::BTreeMap;

use proptest::prelude::*;
use proptest::test_runner::RngSeed;

use super::{DocId, Event, EventId, FieldPath, Hlc, Op, Patch, ReplicaId};
use crate::limits;
use crate::value::Value;

/// The proptest configuration of every event property: fixed seed, so a failure replays.
pub(super) fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        rng_seed: RngSeed::Fixed(1),
        ..ProptestConfig::default()
    }
}

pub(super) fn path(segments: &[&str]) -> FieldPath {
    FieldPath(
        segments
            .iter()
            .map(|segment| (*segment).to_owned())
            .collect(),
    )
}

pub(super) fn object(entries: &[(&str, Value)]) -> Value {
    Value::Object(
        entries
            .iter()
            .map(|(key, value)| ((*key).to_owned(), value.clone()))
            .collect(),
    )
}

/// A valid update event to mutate one field at a time.
pub(super) fn sample_update() -> Event {
    Event {
        group: "team:acme".to_owned(),
        collection: "notes".to_owned(),
        target: DocId([7; 16]),
        timestamp: Hlc {
            wall_ms: 1_700_000_000_000,
            counter: 3,
        },
        creator: "user-42".to_owned(),
        origin: ReplicaId([9; 16]),
        base: vec![EventId([1; 32]), EventId([2; 32])],
        op: Op::Update(Patch(vec![
            (path(&["title"]), Some(Value::String("Tides".to_owned()))),
            (path(&["x"]), None),
        ])),
    }
}

pub(super) fn with_op(op: Op) -> Event {
    Event {
        op,
        ..sample_update()
    }
}

pub(super) fn with_patch(entries: Vec<(FieldPath, Option<Value>)>) -> Event {
    with_op(Op::Update(Patch(entries)))
}

/// Nests `Null` inside `depth - 1` single-element arrays, so the result has depth `depth`.
pub(super) fn nested(depth: usize) -> Value {
    (1..depth).fold(Value::Null, |inner, _| Value::Array(vec![inner]))
}

pub(super) fn value_strategy() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        any::<f64>()
            .prop_filter("floats must be finite", |float| float.is_finite())
            .prop_map(Value::Float),
        ".{0,8}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            object_strategy(inner),
        ]
    })
}

pub(super) fn object_strategy(
    values: impl Strategy<Value = Value>,
) -> impl Strategy<Value = Value> {
    prop::collection::btree_map(".{0,6}", values, 0..4)
        .prop_map(|entries| Value::Object(entries.into_iter().collect()))
}

pub(super) fn patch_strategy() -> impl Strategy<Value = Patch> {
    // A tiny alphabet, so that paths often share prefixes and the overlap rule is hit.
    let paths = prop::collection::vec("[ab]{1,2}", 1..4).prop_map(FieldPath);
    prop::collection::btree_map(paths, prop::option::of(value_strategy()), 1..6).prop_map(
        |entries: BTreeMap<FieldPath, Option<Value>>| {
            let mut kept: Vec<(FieldPath, Option<Value>)> = Vec::new();
            for (path, value) in entries {
                // Sorted input: a path inside any kept path is inside the last kept one.
                let overlaps = kept
                    .last()
                    .is_some_and(|(previous, _)| previous.is_proper_prefix_of(&path));
                if !overlaps {
                    kept.push((path, value));
                }
            }
            Patch(kept)
        },
    )
}

pub(super) fn event_strategy() -> impl Strategy<Value = Event> {
    let op = prop_oneof![
        object_strategy(value_strategy()).prop_map(Op::Create),
        patch_strategy().prop_map(Op::Update),
        Just(Op::Remove),
    ];
    (
        "[a-zA-Z0-9._:-]{1,16}",
        "[a-zA-Z0-9._:-]{1,16}",
        any::<[u8; 16]>(),
        (0..limits::WALL_MS_LIMIT, any::<u32>()),
        "[!-~]{1,16}",
        any::<[u8; 16]>(),
        prop::collection::btree_set(any::<[u8; 32]>(), 0..4),
        op,
    )
        .prop_map(
            |(group, collection, target, (wall_ms, counter), creator, origin, base, op)| {
                Event {
                    group,
                    collection,
                    target: DocId(target),
                    timestamp: Hlc { wall_ms, counter },
                    creator,
                    origin: ReplicaId(origin),
                    // A set iterates in ascending order, which is the order the base needs.
                    base: base.into_iter().map(EventId).collect(),
                    op,
                }
            },
        )
}
