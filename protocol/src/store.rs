//! Storage behind the tree: a small trait, an in-memory implementation, and the conformance
//! suite every implementation must pass.
//!
//! A store keeps three things per replica: event bytes by id, each group's ordered key index,
//! and each group's tree nodes by address. The tree logic in [`crate::tree`] reads through
//! [`ReadStore`] and writes whole [`Batch`]es through [`Store::commit`], so a backend only has to
//! make one batch atomic.

use std::collections::{BTreeSet, HashMap};
use std::convert::Infallible;
use std::ops::Bound;

use crate::event::EventId;
use crate::tree::{Key, Node, Path};

/// Read access to a replica's events, key index and tree nodes.
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
}

/// A [`ReadStore`] that can also apply a [`Batch`] atomically.
pub trait Store: ReadStore {
    /// Applies every write of `batch`, or none of them.
    fn commit(&mut self, batch: Batch) -> Result<(), Self::Error>;
}

/// Writes that go together: the events, their keys, and the tree nodes they changed.
#[derive(Clone, Debug, Default)]
pub struct Batch {
    /// New events: id and canonical bytes.
    pub events: Vec<(EventId, Vec<u8>)>,
    /// New keys, by group.
    pub keys: Vec<(String, Key)>,
    /// Nodes to write (insert or replace), by group and address.
    pub nodes: Vec<(String, Path, Node)>,
}

impl Batch {
    /// Whether the batch writes nothing.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && self.keys.is_empty() && self.nodes.is_empty()
    }
}

/// Scans a sorted set of keys the way [`ReadStore::keys`] asks; shared by the in-memory store
/// and the tree's write overlay.
pub(crate) fn keys_in<'a>(
    keys: &'a BTreeSet<Key>,
    prefix: &Path,
    after: Option<&Key>,
    limit: usize,
) -> impl Iterator<Item = Key> + 'a {
    let (low, high) = prefix.key_range();
    let start = match after {
        Some(after) if *after >= low => Bound::Excluded(*after),
        _ => Bound::Included(low),
    };
    let end = Bound::Included(high);
    // An `after` past the prefix's end leaves an empty range; BTreeSet::range panics on an
    // inverted range, so check first.
    let inverted = match start {
        Bound::Excluded(start) => start >= high,
        _ => false,
    };
    let range = if inverted {
        None
    } else {
        Some(keys.range((start, end)))
    };
    range.into_iter().flatten().copied().take(limit)
}

/// A store in memory, for tests, simulations and benchmarks.
#[derive(Clone, Debug, Default)]
pub struct MemoryStore {
    events: HashMap<EventId, Vec<u8>>,
    keys: HashMap<String, BTreeSet<Key>>,
    nodes: HashMap<(String, Path), Node>,
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
}

impl ReadStore for MemoryStore {
    type Error = Infallible;

    fn node(&self, group: &str, address: &Path) -> Result<Option<Node>, Infallible> {
        // The map is keyed by owned strings; build the key once per lookup.
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
        Ok(())
    }
}
