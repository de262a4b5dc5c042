//! The in-memory store, for tests, simulations and benchmarks; its documents part,
//! [`MemoryDocs`], serves any in-memory store that keeps events and tree its own way.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::convert::Infallible;

use super::{keys_in, Batch, ReadStore, Store};
use crate::digest::Node;
use crate::event::EventId;
use crate::key::{Key, Path};
use crate::merge::{ConflictId, DocKey, DocState};

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
