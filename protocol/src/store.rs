//! Storage behind the tree and the merge: a small trait, an in-memory implementation, and the
//! write overlay both use to build one atomic batch.
//!
//! A store keeps, per replica: event bytes by id; each group's ordered key index and tree nodes
//! by address; each document's event ids and its merged state (the snapshot, so a replica
//! opens without replaying its log); and each user's conflict inbox. The logic in
//! [`crate::tree`] and [`crate::replica`] reads through [`ReadStore`] and writes whole
//! [`Batch`]es through [`Store::commit`], so a backend only has to make one batch atomic.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::convert::Infallible;
use std::ops::Bound;

use crate::event::EventId;
use crate::merge::{ConflictId, DocKey, DocState};
use crate::tree::{branch_digest, Key, Node, Path, LEAF_EVENTS_MAX};

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

/// The documents part of a store kept in memory: each document's event ids, its merged state,
/// and each user's conflict inbox. [`MemoryStore`] keeps its documents in one, and so can any
/// in-memory store that keeps its events and tree its own way.
#[derive(Clone, Debug, Default)]
pub struct MemoryDocs {
    doc_events: BTreeMap<DocKey, BTreeSet<EventId>>,
    doc_states: BTreeMap<DocKey, DocState>,
    inboxes: BTreeMap<String, BTreeMap<ConflictId, DocKey>>,
}

impl MemoryDocs {
    /// As [`ReadStore::doc_events`].
    pub fn doc_events(&self, doc: &DocKey) -> Vec<EventId> {
        self.doc_events
            .get(doc)
            .map(|ids| ids.iter().copied().collect())
            .unwrap_or_default()
    }

    /// As [`ReadStore::doc_state`].
    pub fn doc_state(&self, doc: &DocKey) -> Option<DocState> {
        self.doc_states.get(doc).cloned()
    }

    /// As [`ReadStore::docs`].
    pub fn docs(&self, group: &str, collection: &str) -> Vec<(DocKey, DocState)> {
        self.doc_states
            .iter()
            .filter(|(key, _)| key.group == group && key.collection == collection)
            .map(|(key, state)| (key.clone(), state.clone()))
            .collect()
    }

    /// As [`ReadStore::inbox`].
    pub fn inbox(&self, user: &str) -> Vec<(ConflictId, DocKey)> {
        self.inboxes
            .get(user)
            .map(|inbox| inbox.iter().map(|(id, doc)| (*id, doc.clone())).collect())
            .unwrap_or_default()
    }

    /// Every document state, ordered by document.
    pub fn all(&self) -> &BTreeMap<DocKey, DocState> {
        &self.doc_states
    }

    /// Applies the document and inbox writes of a batch (its other fields are the caller's):
    /// index entries, states, then inbox deletions before additions.
    pub fn commit(
        &mut self,
        doc_events: Vec<(DocKey, EventId)>,
        doc_states: Vec<(DocKey, DocState)>,
        inbox_removed: Vec<(String, ConflictId)>,
        inbox_added: Vec<(String, ConflictId, DocKey)>,
    ) {
        for (doc, id) in doc_events {
            self.doc_events.entry(doc).or_default().insert(id);
        }
        for (doc, state) in doc_states {
            self.doc_states.insert(doc, state);
        }
        for (user, id) in inbox_removed {
            if let Some(inbox) = self.inboxes.get_mut(&user) {
                inbox.remove(&id);
            }
        }
        for (user, id, doc) in inbox_added {
            self.inboxes.entry(user).or_default().insert(id, doc);
        }
    }
}

/// A store in memory, for tests, simulations and benchmarks.
#[derive(Clone, Debug, Default)]
pub struct MemoryStore {
    events: HashMap<EventId, Vec<u8>>,
    keys: HashMap<String, BTreeSet<Key>>,
    nodes: HashMap<(String, Path), Node>,
    docs: MemoryDocs,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many events the store holds, over all groups.
    pub fn events_len(&self) -> usize {
        self.events.len()
    }

    /// Every key of `group`, ascending.
    pub fn group_keys(&self, group: &str) -> Vec<Key> {
        self.keys
            .get(group)
            .map(|keys| keys.iter().copied().collect())
            .unwrap_or_default()
    }

    /// Every document state, ordered by document.
    pub fn all_docs(&self) -> &BTreeMap<DocKey, DocState> {
        self.docs.all()
    }
}

impl ReadStore for MemoryStore {
    type Error = Infallible;

    fn node(&self, group: &str, address: &Path) -> Result<Option<Node>, Infallible> {
        Ok(self
            .nodes
            .get(&(group.to_owned(), address.clone()))
            .cloned())
    }

    fn keys(
        &self,
        group: &str,
        prefix: &Path,
        after: Option<&Key>,
        limit: usize,
    ) -> Result<Vec<Key>, Infallible> {
        Ok(match self.keys.get(group) {
            Some(keys) => keys_in(keys, prefix, after, limit).collect(),
            None => Vec::new(),
        })
    }

    fn event(&self, id: &EventId) -> Result<Option<Vec<u8>>, Infallible> {
        Ok(self.events.get(id).cloned())
    }

    fn has_event(&self, id: &EventId) -> Result<bool, Infallible> {
        Ok(self.events.contains_key(id))
    }

    fn doc_events(&self, doc: &DocKey) -> Result<Vec<EventId>, Infallible> {
        Ok(self.docs.doc_events(doc))
    }

    fn doc_state(&self, doc: &DocKey) -> Result<Option<DocState>, Infallible> {
        Ok(self.docs.doc_state(doc))
    }

    fn docs(&self, group: &str, collection: &str) -> Result<Vec<(DocKey, DocState)>, Infallible> {
        Ok(self.docs.docs(group, collection))
    }

    fn inbox(&self, user: &str) -> Result<Vec<(ConflictId, DocKey)>, Infallible> {
        Ok(self.docs.inbox(user))
    }
}

impl Store for MemoryStore {
    fn commit(&mut self, batch: Batch) -> Result<(), Infallible> {
        for (id, bytes) in batch.events {
            self.events.insert(id, bytes);
        }
        for (group, key) in batch.keys {
            self.keys.entry(group).or_default().insert(key);
        }
        for (group, address, node) in batch.nodes {
            self.nodes.insert((group, address), node);
        }
        self.docs.commit(
            batch.doc_events,
            batch.doc_states,
            batch.inbox_removed,
            batch.inbox_added,
        );
        Ok(())
    }
}

/// Pending writes on top of a store, readable as one store, so that the events of one batch see
/// each other's nodes and documents.
pub(crate) struct Overlay<'s, S: ReadStore + ?Sized> {
    base: &'s S,
    pub(crate) events: HashMap<EventId, Vec<u8>>,
    keys: BTreeMap<String, BTreeSet<Key>>,
    nodes: BTreeMap<(String, Path), Node>,
    doc_events: BTreeMap<DocKey, BTreeSet<EventId>>,
    doc_states: BTreeMap<DocKey, DocState>,
    inbox_removed: Vec<(String, ConflictId)>,
    inbox_added: Vec<(String, ConflictId, DocKey)>,
}

impl<'s, S: ReadStore + ?Sized> Overlay<'s, S> {
    pub(crate) fn new(base: &'s S) -> Self {
        Overlay {
            base,
            events: HashMap::new(),
            keys: BTreeMap::new(),
            nodes: BTreeMap::new(),
            doc_events: BTreeMap::new(),
            doc_states: BTreeMap::new(),
            inbox_removed: Vec::new(),
            inbox_added: Vec::new(),
        }
    }

    pub(crate) fn put_key(&mut self, group: &str, key: Key) {
        let fresh = self.keys.entry(group.to_owned()).or_default().insert(key);
        assert!(fresh, "a key is inserted once");
    }

    pub(crate) fn put_node(&mut self, group: &str, address: Path, node: Node) {
        if let Node::Branch {
            lcp,
            children,
            digest,
            count,
        } = &node
        {
            assert!(
                address.is_prefix_of(lcp),
                "a branch's lcp extends its address"
            );
            assert!(
                *count > LEAF_EVENTS_MAX as u64,
                "a branch holds more than a leaf"
            );
            debug_assert_eq!(*digest, branch_digest(children));
        }
        self.nodes.insert((group.to_owned(), address), node);
    }

    pub(crate) fn put_doc_event(&mut self, doc: DocKey, id: EventId) {
        self.doc_events.entry(doc).or_default().insert(id);
    }

    pub(crate) fn put_doc_state(&mut self, doc: DocKey, state: DocState) {
        self.doc_states.insert(doc, state);
    }

    pub(crate) fn inbox_remove(&mut self, user: String, id: ConflictId) {
        self.inbox_removed.push((user, id));
    }

    pub(crate) fn inbox_add(&mut self, user: String, id: ConflictId, doc: DocKey) {
        self.inbox_added.push((user, id, doc));
    }

    pub(crate) fn into_batch(self) -> Batch {
        let mut events: Vec<(EventId, Vec<u8>)> = self.events.into_iter().collect();
        events.sort_by_key(|(id, _)| *id);
        Batch {
            events,
            keys: self
                .keys
                .into_iter()
                .flat_map(|(group, keys)| keys.into_iter().map(move |key| (group.clone(), key)))
                .collect(),
            nodes: self
                .nodes
                .into_iter()
                .map(|((group, address), node)| (group, address, node))
                .collect(),
            doc_events: self
                .doc_events
                .into_iter()
                .flat_map(|(doc, ids)| ids.into_iter().map(move |id| (doc.clone(), id)))
                .collect(),
            doc_states: self.doc_states.into_iter().collect(),
            inbox_removed: self.inbox_removed,
            inbox_added: self.inbox_added,
        }
    }
}

impl<S: ReadStore + ?Sized> ReadStore for Overlay<'_, S> {
    type Error = S::Error;

    fn node(&self, group: &str, address: &Path) -> Result<Option<Node>, S::Error> {
        match self.nodes.get(&(group.to_owned(), address.clone())) {
            Some(node) => Ok(Some(node.clone())),
            None => self.base.node(group, address),
        }
    }

    fn keys(
        &self,
        group: &str,
        prefix: &Path,
        after: Option<&Key>,
        limit: usize,
    ) -> Result<Vec<Key>, S::Error> {
        let mut keys = self.base.keys(group, prefix, after, limit)?;
        if let Some(pending) = self.keys.get(group) {
            // Pending keys are new, so the two lists never share a key.
            keys.extend(keys_in(pending, prefix, after, limit));
            keys.sort_unstable();
            keys.truncate(limit);
        }
        Ok(keys)
    }

    fn event(&self, id: &EventId) -> Result<Option<Vec<u8>>, S::Error> {
        match self.events.get(id) {
            Some(bytes) => Ok(Some(bytes.clone())),
            None => self.base.event(id),
        }
    }

    fn has_event(&self, id: &EventId) -> Result<bool, S::Error> {
        Ok(self.events.contains_key(id) || self.base.has_event(id)?)
    }

    fn doc_events(&self, doc: &DocKey) -> Result<Vec<EventId>, S::Error> {
        let mut ids = self.base.doc_events(doc)?;
        if let Some(pending) = self.doc_events.get(doc) {
            ids.extend(pending);
            ids.sort_unstable();
            ids.dedup();
        }
        Ok(ids)
    }

    fn doc_state(&self, doc: &DocKey) -> Result<Option<DocState>, S::Error> {
        match self.doc_states.get(doc) {
            Some(state) => Ok(Some(state.clone())),
            None => self.base.doc_state(doc),
        }
    }

    fn docs(&self, group: &str, collection: &str) -> Result<Vec<(DocKey, DocState)>, S::Error> {
        let mut docs: BTreeMap<DocKey, DocState> =
            self.base.docs(group, collection)?.into_iter().collect();
        for (key, state) in &self.doc_states {
            if key.group == group && key.collection == collection {
                docs.insert(key.clone(), state.clone());
            }
        }
        Ok(docs.into_iter().collect())
    }

    fn inbox(&self, user: &str) -> Result<Vec<(ConflictId, DocKey)>, S::Error> {
        let mut inbox: BTreeMap<ConflictId, DocKey> = self.base.inbox(user)?.into_iter().collect();
        for (removed_user, id) in &self.inbox_removed {
            if removed_user == user {
                inbox.remove(id);
            }
        }
        for (added_user, id, doc) in &self.inbox_added {
            if added_user == user {
                inbox.insert(*id, doc.clone());
            }
        }
        Ok(inbox.into_iter().collect())
    }
}
