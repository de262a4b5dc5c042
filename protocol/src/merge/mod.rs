//! Merge: from the set of a document's events to the document users see and the conflicts
//! someone has to decide.
//!
//! Everything here is a pure function of the *set* of events, so two replicas that hold the
//! same events reach byte-identical documents and identical conflicts, whatever order the
//! events arrived in (spec chapter 9).
//!
//! - Events of one document (same group, collection and target) are replayed in a
//!   deterministic topological order: an event after every event of its `base`, ties broken
//!   by timestamp, then id.
//! - Each event is a list of *writes*: a create sets the root, a remove puts a tombstone at the
//!   root, an update sets or deletes each path of its patch.
//! - A write is *overwritten* when a later event (one whose base reaches it) writes the same
//!   path or a prefix of it. The rest are *live*.
//! - Two live writes *conflict* when their events are concurrent (neither reaches the other)
//!   and their paths overlap (one equals or contains the other). Concurrent removes do not
//!   conflict with each other: nobody has anything to decide.
//! - Conflicting writes form conflicts by connected components. The provisional state is the
//!   replay, except that a remove in conflict with an edit is skipped: the edit wins until
//!   someone decides, and the remover is asked.

//!
//! [`materialize`] runs the chapter's steps in order, one function each:
//!
//! - `order`: §9.1–9.2, the document's events in replay order, and its DAG; §9.6, its heads;
//! - `writes`: §9.3, each event's writes, and which are live;
//! - `conflicts`: §9.4, which live writes conflict, and each conflict's description and id;
//! - `document`: §9.5, the provisional document;
//! - `resolution`: §9.7, the event that decides a conflict;
//! - `state`: §9.9, the types of the result and their encoding;

mod conflicts;
mod document;
mod order;
mod resolution;
mod state;
mod writes;

pub use document::value_at;
pub use resolution::{resolution, Decision};
pub use state::{Competitor, Conflict, ConflictId, ConflictKind, DocKey, DocState, Write};
pub use writes::writes_of;

use crate::event::VerifiedEvent;

/// Merges the events of one document. Every event must have the same [`DocKey`]; duplicates are
/// ignored. The result depends only on the set of events.
pub fn materialize(events: &[VerifiedEvent]) -> DocState {
    let events = order::events_in_replay_order(events);
    let dag = order::Dag::new(&events);
    let slots = writes::slots_of(&events);
    let live = writes::slots_live(&dag, &slots);
    let reach = conflicts::Reach::new(&dag, &slots, &live);
    let components = conflicts::components_of(&slots, &live, &reach);
    let value = document::provisional(&slots, &components.in_conflict);
    let conflicts = conflicts::conflicts_of(&events, &slots, components, &value);
    let heads = dag.heads(&events);
    DocState {
        value,
        heads,
        conflicts,
    }
}
