//! What merge produces (spec §9.9, with the document key of §9.1): a document's state, its
//! conflicts and their parts, all with one postcard encoding, so that two replicas that agree
//! on the events store the same bytes.

use serde::{Deserialize, Serialize};

use crate::event::{DocId, Event, EventId, FieldPath, Hlc};
use crate::value::Value;

/// Which document: group, collection and the client-generated id.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct DocKey {
    /// The group.
    pub group: String,
    /// The collection.
    pub collection: String,
    /// The document id.
    pub target: DocId,
}

impl DocKey {
    /// The document an event changes.
    pub fn of(event: &Event) -> DocKey {
        DocKey {
            group: event.group.clone(),
            collection: event.collection.clone(),
            target: event.target,
        }
    }
}

/// What a write does at its path.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Write {
    /// Sets the value (a create sets the whole document at the root path).
    Set(Value),
    /// Deletes the field.
    Delete,
    /// Removes the document (always at the root path).
    Remove,
}

/// The kind of a conflict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ConflictKind {
    /// Concurrent changes to the same field, or to a field and one that contains it.
    Field,
    /// An edit concurrent with a remove: someone edited what another deleted.
    Remove,
    /// Two creates of the same document id, neither aware of the other.
    Create,
}

/// A conflict's stable id: BLAKE3 (derive-key mode) of its document, kind, path and competing
/// events.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ConflictId(pub [u8; 32]);

impl std::fmt::Display for ConflictId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for byte in &self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl std::fmt::Debug for ConflictId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ConflictId({self})")
    }
}

/// One side of a conflict: an event and what it wrote inside the conflict's region.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Competitor {
    /// The event.
    pub event: EventId,
    /// Who wrote it.
    pub creator: String,
    /// When.
    pub timestamp: Hlc,
    /// Its live writes that take part in the conflict, by path.
    pub writes: Vec<(FieldPath, Write)>,
}

/// A real conflict, handed to the people who must decide it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conflict {
    /// Stable across replicas: the same events give the same id.
    pub id: ConflictId,
    /// What kind.
    pub kind: ConflictKind,
    /// The region in conflict: the longest path every competing write lies under (the root for
    /// remove and create conflicts).
    pub path: FieldPath,
    /// The competing events, sorted by id.
    pub competing: Vec<Competitor>,
    /// The event whose change every replica shows until someone decides.
    pub winner: EventId,
    /// The value every replica shows at `path` meanwhile (`None` when absent).
    pub provisional: Option<Value>,
    /// The users whose change did not win, sorted: the people to ask.
    pub assignees: Vec<String>,
}

/// The merged state of one document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocState {
    /// The document, or `None` when it was removed (or only updates exist).
    pub value: Option<Value>,
    /// The document's events that no other of its events has in its past, sorted: the `base` of
    /// the next event written on this document.
    pub heads: Vec<EventId>,
    /// Open conflicts, sorted by id.
    pub conflicts: Vec<Conflict>,
}
