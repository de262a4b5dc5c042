//! Storage behind the tree and the merge: a small trait, an in-memory implementation, and the
//! write overlay that builds one atomic batch. Not a chapter of the spec: §5.4 and §9.8 only
//! say what a replica keeps, and this is how the reference keeps it.
//!
//! A store keeps, per replica: event bytes by id; each group's ordered key index and tree nodes
//! by address; each document's event ids and its merged state (the snapshot, so a replica
//! opens without replaying its log); and each user's conflict inbox. The logic in
//! [`crate::tree`] and [`crate::replica`] reads through [`ReadStore`] and writes whole
//! [`Batch`]es through [`Store::commit`], so a backend only has to make one batch atomic.

//!
//! The store sits between the tree's data ([`crate::key`], [`crate::digest`]) and the logic
//! that reads and writes through it ([`crate::tree`], [`crate::replica`]):
//!
//! - [`memory`]: [`MemoryStore`] and [`MemoryDocs`], the in-memory store;
//! - `overlay`: pending writes readable as one store, which insertion and merge fill and
//!   [`Store::commit`] applies as one batch.

use std::collections::BTreeSet;
use std::ops::Bound;

use crate::digest::Node;
use crate::event::EventId;
use crate::key::{Key, Path};
use crate::merge::{ConflictId, DocKey, DocState};

pub mod memory;
pub(crate) mod overlay;

pub use memory::{MemoryDocs, MemoryStore};
pub(crate) use overlay::Overlay;

/// Read access to a replica's events, key index, tree nodes, documents and inboxes.
pub trait ReadStore {
    /// What goes wrong in the backend (I/O, corruption). The in-memory store never fails.
    type Error: std::error::Error + Send + Sync + 'static;

    /// The node of `group`'s tree stored at `address`.
    fn node(&self, group: &str, address: &Path) -> Result<Option<Node>, Self::Error>;

    /// Keys of `group` under `prefix`, ascending, strictly greater than `after` when it is
    /// given, at most `limit` of them.
    fn keys(
        &self,
        group: &str,
        prefix: &Path,
        after: Option<&Key>,
        limit: usize,
    ) -> Result<Vec<Key>, Self::Error>;

    /// The canonical bytes of the event with this id.
    fn event(&self, id: &EventId) -> Result<Option<Vec<u8>>, Self::Error>;

    /// Whether the event with this id is stored.
    fn has_event(&self, id: &EventId) -> Result<bool, Self::Error> {
        Ok(self.event(id)?.is_some())
    }

    /// The ids of every event of one document, ascending.
    fn doc_events(&self, doc: &DocKey) -> Result<Vec<EventId>, Self::Error>;

    /// The merged state of one document, if it has events.
    fn doc_state(&self, doc: &DocKey) -> Result<Option<DocState>, Self::Error>;

    /// Every document of a collection with its state, ordered by document id.
    fn docs(&self, group: &str, collection: &str) -> Result<Vec<(DocKey, DocState)>, Self::Error>;

    /// The conflicts assigned to `user`, with their documents, ordered by conflict id.
    fn inbox(&self, user: &str) -> Result<Vec<(ConflictId, DocKey)>, Self::Error>;
}

/// A [`ReadStore`] that can also apply a [`Batch`] atomically.
pub trait Store: ReadStore {
    /// Applies every write of `batch`, or none of them.
    fn commit(&mut self, batch: Batch) -> Result<(), Self::Error>;
}

/// Writes that go together: events, their keys, the tree nodes, document index entries,
/// document states and inbox changes they caused.
#[derive(Clone, Debug, Default)]
pub struct Batch {
    /// New events: id and canonical bytes.
    pub events: Vec<(EventId, Vec<u8>)>,
    /// New keys, by group.
    pub keys: Vec<(String, Key)>,
    /// Nodes to write (insert or replace), by group and address.
    pub nodes: Vec<(String, Path, Node)>,
    /// New entries of the document index.
    pub doc_events: Vec<(DocKey, EventId)>,
    /// Document states to write (insert or replace).
    pub doc_states: Vec<(DocKey, DocState)>,
    /// Inbox entries to delete: user and conflict.
    pub inbox_removed: Vec<(String, ConflictId)>,
    /// Inbox entries to add: user, conflict and its document. Applied after the deletions.
    pub inbox_added: Vec<(String, ConflictId, DocKey)>,
}

impl Batch {
    /// Whether the batch writes nothing.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
            && self.keys.is_empty()
            && self.nodes.is_empty()
            && self.doc_events.is_empty()
            && self.doc_states.is_empty()
            && self.inbox_removed.is_empty()
            && self.inbox_added.is_empty()
    }
}

/// The keys [`ReadStore::keys`] asks for: from `start` (excluded when `start_excluded`) to
/// `end`, included. Every store scans this same range; [`keys_range`] makes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeysRange {
    /// The prefix's first key, or `after` when that lies at or past it.
    pub start: Key,
    /// Whether `start` is `after`, and so not part of the range.
    pub start_excluded: bool,
    /// The prefix's last key.
    pub end: Key,
}

impl KeysRange {
    /// The range as bounds, for `BTreeSet::range` and the like.
    pub fn bounds(&self) -> (Bound<Key>, Bound<Key>) {
        let start = if self.start_excluded {
            Bound::Excluded(self.start)
        } else {
            Bound::Included(self.start)
        };
        (start, Bound::Included(self.end))
    }
}

/// The keys under `prefix` strictly after `after`, as [`ReadStore::keys`] asks for them; `None`
/// when `after` is at or past the prefix's end and the range is empty (`BTreeSet::range` would
/// panic on the inverted range).
pub fn keys_range(prefix: &Path, after: Option<&Key>) -> Option<KeysRange> {
    let (low, high) = prefix.key_range();
    let (start, start_excluded) = match after {
        Some(after) if *after >= high => return None,
        Some(after) if *after >= low => (*after, true),
        _ => (low, false),
    };
    Some(KeysRange {
        start,
        start_excluded,
        end: high,
    })
}

/// Scans a sorted set of keys the way [`ReadStore::keys`] asks; shared by the in-memory store
/// and the write overlay.
pub(crate) fn keys_in<'a>(
    keys: &'a BTreeSet<Key>,
    prefix: &Path,
    after: Option<&Key>,
    limit: usize,
) -> impl Iterator<Item = Key> + 'a {
    keys_range(prefix, after)
        .map(|range| keys.range(range.bounds()))
        .into_iter()
        .flatten()
        .copied()
        .take(limit)
}
