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
//! A second, deliberately naive implementation of the spec's "Merge" chapter (`reference.rs`:
//! transitive closures, pairwise scans, hand-written encodings) must agree byte for byte with
//! `materialize` on every vector and on seeded random histories, so that the chapter, the
//! vectors and the code cannot drift apart.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value as Json};
use tideline_protocol::event::{
    DocId, EventId, FieldPath, Hlc, Op, Patch, ReplicaId, VerifiedEvent,
};
use tideline_protocol::merge::{
    materialize, resolution, Conflict, ConflictKind, Decision, DocKey, DocState, Write,
};
use tideline_protocol::replica::{apply, replay};
use tideline_protocol::store::{MemoryStore, ReadStore};
use tideline_protocol::value::Value;
use tideline_testkit::events::EventBuilder;
use tideline_testkit::generate::Rng;
use tideline_testkit::vectors::{
    assert_same_json, bless_or_check, blessing, bytes_of, field, list, render, text, vectors_dir,
};

/// Around September 2026, like the other vectors: where every timestamp here starts.
const START_MS: u64 = 1_790_000_000_000;
const GROUP: &str = "team:acme";
const COLLECTION: &str = "people";
const FILE: &str = "merge.json";

mod check;
mod delivery;
mod fields;
mod generate;
mod reference;
mod removes;
mod render;
mod resolutions;
mod writers;

use check::*;
use generate::*;
use render::*;

#[test]
fn merge_vectors_hold() {
    // Guards against the merge drifting from the published vectors: any change to replay
    // order, liveness, conflicts, their ids or the state encoding shows up as a changed byte.
    bless_or_check(FILE, "merge_vectors", generate, check);
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
                .filter(|event| DocKey::of(event.event()) == key)
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
            docs.entry(DocKey::of(event.event()))
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
    let key = DocKey::of(events[0].event());
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
