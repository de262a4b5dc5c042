//! Pending writes on top of a store, readable as one store: insertion ([`crate::tree`]) and
//! merge ([`crate::replica`]) fill it event by event, so that the events of one batch see each
//! other's nodes and documents, and [`Overlay::into_batch`] hands the whole to
//! [`super::Store::commit`].

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::{keys_in, Batch, ReadStore};
use crate::digest::{branch_digest, Node};
use crate::event::EventId;
use crate::key::{Key, Path};
use crate::merge::{ConflictId, DocKey, DocState};

/// Pending writes on top of a store, readable as one store, so that the events of one batch see
/// each other's nodes and documents.
pub(crate) struct Overlay<'s, S: ReadStore + ?Sized> {
    base: &'s S,
    events: HashMap<EventId, Vec<u8>>,
    keys: BTreeMap<String, BTreeSet<Key>>,
    nodes: BTreeMap<(String, Path), Node>,
    doc_events: BTreeMap<DocKey, BTreeSet<EventId>>,
    doc_states: BTreeMap<DocKey, DocState>,
    inbox_removed: Vec<(String, ConflictId)>,
    inbox_added: Vec<(String, ConflictId, DocKey)>,
}

impl<'s, S: ReadStore + ?Sized> Overlay<'s, S> {
    /// No pending writes yet over `base`.
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

    /// Adds an event's canonical bytes.
    pub(crate) fn put_event(&mut self, id: EventId, bytes: Vec<u8>) {
        debug_assert_eq!(
            id.0,
            *blake3::hash(&bytes).as_bytes(),
            "an event is stored under its id"
        );
        let fresh = self.events.insert(id, bytes).is_none();
        assert!(fresh, "an event is inserted once");
    }

    /// Adds a key to a group's key index; the key must be new.
    pub(crate) fn put_key(&mut self, group: &str, key: Key) {
        let fresh = self.keys.entry(group.to_owned()).or_default().insert(key);
        assert!(fresh, "a key is inserted once");
    }

    /// Writes a node, asserted well formed: the write half of the pair assertion whose read
    /// half is in the tree's `node_read`.
    pub(crate) fn put_node(&mut self, group: &str, address: Path, node: Node) {
        if let Some(problem) = node.problem(&address) {
            panic!("the tree writes {problem} at {address:?} of group {group:?}");
        }
        if let Node::Branch {
            children, digest, ..
        } = &node
        {
            debug_assert_eq!(*digest, branch_digest(children), "a branch's digest");
        }
        self.nodes.insert((group.to_owned(), address), node);
    }

    /// Adds an entry to the document index.
    pub(crate) fn put_doc_event(&mut self, doc: DocKey, id: EventId) {
        self.doc_events.entry(doc).or_default().insert(id);
    }

    /// Writes a document's merged state.
    pub(crate) fn put_doc_state(&mut self, doc: DocKey, state: DocState) {
        self.doc_states.insert(doc, state);
    }

    /// Removes a conflict from a user's inbox; applied before the additions.
    pub(crate) fn inbox_remove(&mut self, user: String, id: ConflictId) {
        self.inbox_removed.push((user, id));
    }

    /// Adds a conflict to a user's inbox.
    pub(crate) fn inbox_add(&mut self, user: String, id: ConflictId, doc: DocKey) {
        self.inbox_added.push((user, id, doc));
    }

    /// The pending writes as one batch, in a deterministic order.
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
        debug_assert!(
            keys.windows(2).all(|pair| pair[0] < pair[1]),
            "the base and the pending keys never share a key"
        );
        debug_assert!(keys.len() <= limit, "at most `limit` keys");
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
