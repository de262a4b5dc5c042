//! Events or revisions: the same workload stored as an event log (Tideline) or as documents
//! with a revision each (latest state only), and what a client back from a week offline syncs
//! in each design.
//!
//! The workload: `docs` documents of `fields` string fields of `value_bytes` each, created and
//! then updated `history_events - docs` times in all, one field per update, documents drawn by a
//! Zipf law (a few hot documents). During the offline week the client makes `client_updates`
//! and everyone else `server_updates`, drawn the same way.
//!
//! Event sizes are those of real sealed events of that shape. The Tideline sync is a real
//! in-process session between a replica holding the history and the client's week and one
//! holding the history and the others' week. The revisions design's sync is computed: with a
//! changes feed (a cursor on the server), the client pushes each document it changed (id, base
//! revision, new revision, whole state) and pulls each document changed since its cursor (id,
//! revision, whole state); without a feed (two peers, or no server-side log), each side must
//! first list every document's id and revision.

use std::collections::{HashMap, HashSet};

use anyhow::ensure;
use tideline_protocol::event::VerifiedEvent;
use tideline_protocol::event::{DocId, EventId, FieldPath, Hlc, Op, Patch, ReplicaId};
use tideline_protocol::tree::Key;
use tideline_protocol::value::Value;
use tideline_protocol::wire::{Groups, Salt};
use tideline_testkit::events::EventBuilder;
use tideline_testkit::generate::Rng;

use crate::bulk::{store_build, store_fill};
use crate::compact::CompactStore;
use crate::measure::{HeapMeter, Measure};
use crate::report::thousands;
use crate::session::tideline_run;
use crate::workload::{Zipf, DAY_MS, END_MS, OFFLINE_DAYS, WEEK_HISTORY_DAYS};

/// Bytes of a document id.
const DOC_ID_BYTES: u64 = 16;

/// Bytes of a revision: an 8-byte counter and a 16-byte replica id (CouchDB-like `n-hash`). A
/// version vector costs this much per replica that ever wrote the document.
const REVISION_BYTES: u64 = 24;

/// Bytes of a key in Tideline's key index.
const KEY_BYTES: u64 = tideline_protocol::tree::KEY_BYTES as u64;

/// The model's parameters.
#[derive(Clone, Debug)]
pub struct RevisionsModel {
    /// Documents.
    pub docs: usize,
    /// Events in the shared history, creates included.
    pub history_events: usize,
    /// Fields per document.
    pub fields: usize,
    /// Bytes of each field's string value.
    pub value_bytes: usize,
    /// Updates the client made offline.
    pub client_updates: usize,
    /// Updates everyone else made meanwhile.
    pub server_updates: usize,
    /// Exponent of the Zipf law over documents.
    pub zipf_exponent: f64,
    /// The seed.
    pub seed: u64,
}

/// What the model found.
#[derive(Clone, Debug)]
pub struct RevisionsResult {
    /// The parameters.
    pub model: RevisionsModel,
    /// Bytes of one create event.
    pub create_event_bytes: u64,
    /// Bytes of one update event.
    pub update_event_bytes: u64,
    /// Bytes of one document's state.
    pub state_bytes: u64,
    /// Event log: event bytes.
    pub log_event_bytes: u64,
    /// Event log: key index.
    pub log_key_bytes: u64,
    /// Event log: tree nodes, serialized.
    pub log_tree_bytes: u64,
    /// Revisions: one state and one revision per document.
    pub revisions_bytes: u64,
    /// Documents the client changed offline.
    pub client_docs: usize,
    /// Documents the others changed.
    pub server_docs: usize,
    /// Documents both changed: each is a conflict for the revisions design.
    pub both_docs: usize,
    /// (document, field) pairs both changed: the conflicts the event design reports.
    pub both_fields: usize,
    /// The real Tideline session.
    pub tideline: Measure,
    /// Bytes of the events that had to move.
    pub missing_event_bytes: u64,
    /// Revisions with a changes feed: client to server, server to client.
    pub revisions_feed_bytes: (u64, u64),
    /// Revisions without a feed: the same plus every document's id and revision listed.
    pub revisions_no_feed_bytes: (u64, u64),
}

fn doc_id(rank: usize) -> DocId {
    let mut random = [0u8; 10];
    random[..8].copy_from_slice(&(rank as u64).to_be_bytes());
    DocId::new(END_MS - WEEK_HISTORY_DAYS * DAY_MS, random)
}

fn field_name(field: usize) -> String {
    format!("f{field:02}")
}

fn text(rng: &mut Rng, bytes: usize) -> String {
    (0..bytes)
        .map(|_| char::from(b'a' + rng.below(26) as u8))
        .collect()
}

fn state(rng: &mut Rng, fields: usize, value_bytes: usize) -> Value {
    Value::Object(
        (0..fields)
            .map(|field| (field_name(field), Value::String(text(rng, value_bytes))))
            .collect(),
    )
}

/// An event of the model: a create of document `rank`, or an update of one of its fields.
fn event(
    rng: &mut Rng,
    rank: usize,
    field: Option<usize>,
    wall_ms: u64,
    model: &RevisionsModel,
) -> VerifiedEvent {
    let op = match field {
        None => Op::Create(state(rng, model.fields, model.value_bytes)),
        Some(field) => Op::Update(Patch(vec![(
            FieldPath(vec![field_name(field)]),
            Some(Value::String(text(rng, model.value_bytes))),
        )])),
    };
    // The origin is drawn before the base, as it always was: the model's events stay the same
    // for a seed.
    let origin = ReplicaId(rng.bytes());
    // An update names the head it was written on; the history is keys only, so the head is a
    // random id of the right size.
    let base = field.is_some().then(|| EventId(rng.bytes()));
    EventBuilder::new(op)
        .group("g")
        .collection("notes")
        .target(doc_id(rank))
        .at(wall_ms)
        .creator("bench")
        .origin(origin)
        .base(base)
        .seal()
}

/// Runs the model.
pub fn revisions_run(
    model: &RevisionsModel,
    heap: &dyn HeapMeter,
) -> anyhow::Result<RevisionsResult> {
    ensure!(
        model.docs > 0 && model.fields > 0,
        "docs and fields must be at least 1"
    );
    ensure!(
        model.history_events >= model.docs,
        "the history must hold at least one create per document"
    );
    let mut rng = Rng::new(model.seed);
    let create_event_bytes = event(&mut rng, 0, None, END_MS, model).bytes().len() as u64;
    let update_event_bytes = event(&mut rng, 0, Some(0), END_MS, model).bytes().len() as u64;
    let state_bytes =
        postcard::to_allocvec(&state(&mut rng, model.fields, model.value_bytes))?.len() as u64;

    // Storage.
    let updates = (model.history_events - model.docs) as u64;
    let log_event_bytes = model.docs as u64 * create_event_bytes + updates * update_event_bytes;
    let log_key_bytes = model.history_events as u64 * KEY_BYTES;
    let history_start = END_MS - WEEK_HISTORY_DAYS * DAY_MS;
    let history_end = END_MS - OFFLINE_DAYS * DAY_MS;
    let history: Vec<(u32, Key)> = (0..model.history_events)
        .map(|_| {
            let timestamp = Hlc {
                wall_ms: history_start + rng.below(history_end - history_start),
                counter: 0,
            };
            (0, Key::new(timestamp, EventId(rng.bytes())))
        })
        .collect();
    let groups = Groups::new(["g"])?;
    let mut scratch = CompactStore::new();
    let log_tree_bytes =
        store_fill(&mut scratch, &groups, history.iter().copied(), []).node_bytes as u64;
    drop(scratch);
    let revisions_bytes = model.docs as u64 * (DOC_ID_BYTES + state_bytes + REVISION_BYTES);

    // The offline week.
    let zipf = Zipf::new(model.docs, model.zipf_exponent);
    let week =
        |rng: &mut Rng, count: usize| -> (Vec<VerifiedEvent>, HashMap<usize, HashSet<usize>>) {
            let mut changed: HashMap<usize, HashSet<usize>> = HashMap::new();
            let events = (0..count)
                .map(|_| {
                    let rank = zipf.sample(rng);
                    let field = rng.below(model.fields as u64) as usize;
                    changed.entry(rank).or_default().insert(field);
                    let wall_ms = history_end + rng.below(OFFLINE_DAYS * DAY_MS);
                    event(rng, rank, Some(field), wall_ms, model)
                })
                .collect();
            (events, changed)
        };
    let (client_events, client_changed) = week(&mut rng, model.client_updates);
    let (server_events, server_changed) = week(&mut rng, model.server_updates);
    let both_docs = client_changed
        .keys()
        .filter(|rank| server_changed.contains_key(rank))
        .count();
    let both_fields = client_changed
        .iter()
        .filter_map(|(rank, fields)| {
            server_changed
                .get(rank)
                .map(|theirs| fields.intersection(theirs).count())
        })
        .sum();

    // The event design: a real session.
    let missing_event_bytes = client_events
        .iter()
        .chain(&server_events)
        .map(|event| event.bytes().len() as u64)
        .sum();
    let (mut client, _) = store_build(&groups, history.iter().copied(), &client_events);
    let (mut server, _) = store_build(&groups, history.iter().copied(), &server_events);
    drop(history);
    let tideline = tideline_run(&mut client, &mut server, &groups, Salt(rng.bytes()), heap)?;
    ensure!(
        tideline.events_moved == (model.client_updates + model.server_updates) as u64,
        "the session moved {} events, not the week's {}",
        tideline.events_moved,
        model.client_updates + model.server_updates
    );

    // The revisions design.
    let push = client_changed.len() as u64 * (DOC_ID_BYTES + 2 * REVISION_BYTES + state_bytes);
    let pull = server_changed.len() as u64 * (DOC_ID_BYTES + REVISION_BYTES + state_bytes);
    let cursor = 8;
    let revisions_feed_bytes = (push + cursor, pull + cursor);
    let listing = model.docs as u64 * (DOC_ID_BYTES + REVISION_BYTES);
    let revisions_no_feed_bytes = (push + listing, pull);

    Ok(RevisionsResult {
        model: model.clone(),
        create_event_bytes,
        update_event_bytes,
        state_bytes,
        log_event_bytes,
        log_key_bytes,
        log_tree_bytes,
        revisions_bytes,
        client_docs: client_changed.len(),
        server_docs: server_changed.len(),
        both_docs,
        both_fields,
        tideline,
        missing_event_bytes,
        revisions_feed_bytes,
        revisions_no_feed_bytes,
    })
}

/// The result as markdown.
pub fn revisions_markdown(result: &RevisionsResult) -> String {
    let model = &result.model;
    let log_total = result.log_event_bytes + result.log_key_bytes + result.log_tree_bytes;
    let tideline = &result.tideline;
    let (feed_up, feed_down) = result.revisions_feed_bytes;
    let (list_up, list_down) = result.revisions_no_feed_bytes;
    format!(
        "Model: {docs} documents of {fields} fields × {value} B, {history} events of history \
         (creates {create} B, one-field updates {update} B each), document state {state} B; \
         offline week: client {client} updates, others {server}, documents drawn by Zipf \
         (s = {zipf}).\n\n\
         | storage | bytes |\n|---|--:|\n\
         | event log: events | {log_events} |\n\
         | event log: key index (44 B per event) | {log_keys} |\n\
         | event log: tree nodes | {log_tree} |\n\
         | event log: total (snapshots not included) | {log_total} |\n\
         | revisions: latest state + id + revision per document | {revisions} |\n\n\
         | sync after the week | → server (B) | → client (B) | round trips | conflicts reported |\n\
         |---|--:|--:|--:|--:|\n\
         | events, Tideline (measured) | {t_up} | {t_down} | {t_rounds} | {both_fields} (same field changed on both sides) |\n\
         | events, lower bound (events + 32 B ids) | {lb_up} | {lb_down} | 1 | {both_fields} |\n\
         | revisions, with a changes feed | {feed_up} | {feed_down} | 1 | {both_docs} (documents changed on both sides) |\n\
         | revisions, without a feed (list every revision) | {list_up} | {list_down} | 2 | {both_docs} |\n\n\
         Documents changed: client {client_docs}, others {server_docs}, both {both_docs}; \
         (document, field) pairs changed on both sides: {both_fields}. Events that moved: \
         {moved} ({missing} B).\n",
        docs = thousands(model.docs as u64),
        fields = model.fields,
        value = model.value_bytes,
        history = thousands(model.history_events as u64),
        create = result.create_event_bytes,
        update = result.update_event_bytes,
        state = result.state_bytes,
        client = thousands(model.client_updates as u64),
        server = thousands(model.server_updates as u64),
        zipf = model.zipf_exponent,
        log_events = thousands(result.log_event_bytes),
        log_keys = thousands(result.log_key_bytes),
        log_tree = thousands(result.log_tree_bytes),
        log_total = thousands(log_total),
        revisions = thousands(result.revisions_bytes),
        t_up = thousands(tideline.bytes_to_responder),
        t_down = thousands(tideline.bytes_to_initiator),
        t_rounds = tideline.rounds,
        lb_up = thousands(
            model.client_updates as u64 * (result.update_event_bytes + 32)
        ),
        lb_down = thousands(
            model.server_updates as u64 * (result.update_event_bytes + 32)
        ),
        feed_up = thousands(feed_up),
        feed_down = thousands(feed_down),
        list_up = thousands(list_up),
        list_down = thousands(list_down),
        both_docs = result.both_docs,
        both_fields = result.both_fields,
        client_docs = result.client_docs,
        server_docs = result.server_docs,
        moved = tideline.events_moved,
        missing = thousands(result.missing_event_bytes),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::NoHeapMeter;

    /// Guards the model's accounting on a small case: the session moves every week event, and
    /// the revisions design never sends more documents than were changed.
    #[test]
    fn small_model_runs() {
        let model = RevisionsModel {
            docs: 200,
            history_events: 5_000,
            fields: 4,
            value_bytes: 20,
            client_updates: 30,
            server_updates: 60,
            zipf_exponent: 1.0,
            seed: 1,
        };
        let result = revisions_run(&model, &NoHeapMeter).unwrap();
        assert_eq!(result.tideline.events_moved, 90);
        assert!(result.client_docs <= 30 && result.server_docs <= 60);
        assert!(result.both_fields <= result.both_docs * model.fields);
        assert!(result.tideline.bytes_total() > result.missing_event_bytes);
    }
}
