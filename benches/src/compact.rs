//! A store that keeps what [`MemoryStore`] keeps in about a sixth of the memory, so that two
//! replicas of 10^7 events fit in one machine.
//!
//! [`MemoryStore`] is a reference implementation: its maps key every node by a group `String`
//! and a `Path` (a `Vec` of nibbles), and hold `tree::Node` itself, a 600-byte enum because a
//! branch has sixteen `Option<Digest>` inline. It costs about 900 bytes per event. This store
//! answers every [`ReadStore`] call exactly as [`MemoryStore`] does (it passes the protocol's
//! conformance suite, and the bulk builder's tests compare its nodes with those `tree::insert`
//! writes into a [`MemoryStore`]) but keeps:
//!
//! - group names once, each group's data behind its index;
//! - node addresses of up to [`ADDRESS_SHORT_NIBBLES_MAX`] nibbles packed into 16 bytes (longer
//!   ones, which only keys sharing a timestamp reach, keep their `Path`);
//! - a leaf as its count and digest; a branch as its `lcp`, count, digest, children bitmap and
//!   the digests of its non-empty children only, boxed, since branches are few;
//! - event ids in a sorted vector, and event bytes only when they are not empty: the bulk
//!   builder stores the shared history with empty bytes (see [`crate::bulk`]);
//! - each group's keys in a sorted vector.
//!
//! New ids and keys that do not extend a sorted vector wait in a small ordered set that is
//! merged into the vector once it holds a thirty-second of it, so an insert costs a binary
//! search and, amortized, a few dozen element moves. Documents and inboxes are kept in
//! the protocol's [`MemoryDocs`], as [`MemoryStore`] keeps them: the benchmark writes them only
//! for the events a session moves.
//!
//! [`MemoryStore`]: tideline_protocol::store::MemoryStore

use std::collections::{BTreeSet, HashMap};
use std::convert::Infallible;
use std::ops::Bound;

use tideline_protocol::event::EventId;
use tideline_protocol::merge::{ConflictId, DocKey, DocState};
use tideline_protocol::store::{keys_range, Batch, MemoryDocs, ReadStore, Store};
use tideline_protocol::tree::{children_bitmap, Digest, Key, Node, Path, RADIX};

/// Longest node address packed into 16 bytes: 30 nibbles take 120 bits, and the length
/// takes the low byte of the remaining eight.
pub const ADDRESS_SHORT_NIBBLES_MAX: usize = 30;

/// Fewest pending elements that trigger a merge into the sorted vector, so that small sets
/// are not rewritten on every insert.
const PENDING_MERGE_MIN: usize = 4_096;

/// A node address of at most [`ADDRESS_SHORT_NIBBLES_MAX`] nibbles as one 128-bit value in two
/// words: nibble `i` at bits `124 - 4i ..= 127 - 4i`, the length in the low byte. Distinct
/// paths give distinct values because the length is part of the value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct AddressShort {
    high: u64,
    low: u64,
}

impl AddressShort {
    /// The packed address, or `None` when the path is too long to pack.
    fn of(path: &Path) -> Option<AddressShort> {
        if path.len() > ADDRESS_SHORT_NIBBLES_MAX {
            return None;
        }
        let mut value = path.len() as u128;
        for (index, nibble) in path.nibbles().iter().enumerate() {
            assert!(usize::from(*nibble) < RADIX, "a path holds nibbles");
            value |= u128::from(*nibble) << (124 - 4 * index);
        }
        Some(AddressShort {
            high: (value >> 64) as u64,
            low: value as u64,
        })
    }
}

/// A stored node, without the parts that are empty or implied.
#[derive(Clone, Debug)]
enum NodeCompact {
    Leaf { count: u8, digest: Digest },
    Branch(Box<BranchCompact>),
}

#[derive(Clone, Debug)]
struct BranchCompact {
    lcp: Path,
    count: u64,
    digest: Digest,
    /// Bit `c` set when child `c` is not empty, as `tree::children_bitmap` computes it.
    bitmap: u16,
    /// The non-empty children's digests, in nibble order: one per bit of `bitmap`.
    children: Box<[Digest]>,
}

impl NodeCompact {
    fn of(node: Node) -> NodeCompact {
        match node {
            Node::Leaf { count, digest } => NodeCompact::Leaf { count, digest },
            Node::Branch {
                lcp,
                count,
                children,
                digest,
            } => NodeCompact::Branch(Box::new(BranchCompact {
                lcp,
                count,
                digest,
                bitmap: children_bitmap(&children),
                children: children.iter().flatten().copied().collect(),
            })),
        }
    }

    fn node(&self) -> Node {
        match self {
            NodeCompact::Leaf { count, digest } => Node::Leaf {
                count: *count,
                digest: *digest,
            },
            NodeCompact::Branch(branch) => {
                assert_eq!(
                    branch.bitmap.count_ones() as usize,
                    branch.children.len(),
                    "one stored digest per child in the bitmap"
                );
                let mut children = [None; RADIX];
                let mut stored = branch.children.iter();
                for (nibble, child) in children.iter_mut().enumerate() {
                    if branch.bitmap & (1 << nibble) != 0 {
                        *child = stored.next().copied();
                    }
                }
                Node::Branch {
                    lcp: branch.lcp.clone(),
                    count: branch.count,
                    children,
                    digest: branch.digest,
                }
            }
        }
    }
}

/// A set kept as a sorted vector, with the elements that did not extend it waiting in an
/// ordered set until there are enough of them to merge.
#[derive(Clone, Debug)]
struct SortedSet<T> {
    /// Ascending and distinct; disjoint from `pending`.
    sorted: Vec<T>,
    pending: BTreeSet<T>,
}

impl<T> Default for SortedSet<T> {
    fn default() -> Self {
        SortedSet {
            sorted: Vec::new(),
            pending: BTreeSet::new(),
        }
    }
}

impl<T: Ord + Copy> SortedSet<T> {
    fn len(&self) -> usize {
        self.sorted.len() + self.pending.len()
    }

    fn contains(&self, value: &T) -> bool {
        self.sorted.binary_search(value).is_ok() || self.pending.contains(value)
    }

    /// Adds `values` (any order, duplicates allowed).
    fn insert_all(&mut self, mut values: Vec<T>) {
        values.sort_unstable();
        values.dedup();
        values.retain(|value| !self.contains(value));
        let Some(first) = values.first() else {
            return;
        };
        let largest = self.sorted.last().max(self.pending.last());
        if largest.is_none_or(|largest| first > largest) {
            // Everything new comes after everything held: the bulk builder's case.
            self.reserve(values.len());
            self.sorted.extend_from_slice(&values);
            return;
        }
        if self.pending.len() + values.len() < PENDING_MERGE_MIN.max(self.sorted.len() / 32) {
            self.pending.extend(values);
            return;
        }
        values.extend(std::mem::take(&mut self.pending));
        values.sort_unstable();
        self.merge(&values);
    }

    /// Grows the vector's capacity by at least an eighth, so that repeated small additions
    /// cost amortized constant time, without doubling (which would leave up to half of ten
    /// million keys' worth of memory unused).
    fn reserve(&mut self, additional: usize) {
        if self.sorted.capacity() - self.sorted.len() < additional {
            self.sorted
                .reserve_exact(additional.max(self.sorted.len() / 8));
        }
    }

    /// Merges `values` (ascending, distinct, disjoint from `sorted`) into `sorted` in place,
    /// from the back, so no second copy of the vector is made.
    fn merge(&mut self, values: &[T]) {
        let old_len = self.sorted.len();
        self.reserve(values.len());
        self.sorted.extend_from_slice(values);
        let (mut old, mut new, mut out) = (old_len, values.len(), self.sorted.len());
        while new > 0 {
            out -= 1;
            if old > 0 && self.sorted[old - 1] > values[new - 1] {
                self.sorted[out] = self.sorted[old - 1];
                old -= 1;
            } else {
                self.sorted[out] = values[new - 1];
                new -= 1;
            }
        }
        debug_assert!(self.sorted.windows(2).all(|pair| pair[0] < pair[1]));
    }

    /// The elements in `(start, end)`, ascending, at most `limit` of them. As for
    /// `BTreeSet::range`, `start` must not be after `end`.
    fn range(&self, start: Bound<T>, end: Bound<T>, limit: usize) -> Vec<T> {
        let from = match start {
            Bound::Included(start) => self.sorted.partition_point(|value| *value < start),
            Bound::Excluded(start) => self.sorted.partition_point(|value| *value <= start),
            Bound::Unbounded => 0,
        };
        let to = match end {
            Bound::Included(end) => self.sorted.partition_point(|value| *value <= end),
            Bound::Excluded(end) => self.sorted.partition_point(|value| *value < end),
            Bound::Unbounded => self.sorted.len(),
        };
        let mut sorted = self.sorted[from..to.max(from)].iter().copied().peekable();
        let mut pending = self.pending.range((start, end)).copied().peekable();
        let mut out = Vec::new();
        while out.len() < limit {
            let next = match (sorted.peek(), pending.peek()) {
                (Some(a), Some(b)) if a < b => sorted.next(),
                (Some(_), Some(_)) => pending.next(),
                (Some(_), None) => sorted.next(),
                (None, Some(_)) => pending.next(),
                (None, None) => None,
            };
            match next {
                Some(value) => out.push(value),
                None => break,
            }
        }
        out
    }

    /// Merges the pending elements and frees unused capacity.
    fn shrink_to_fit(&mut self) {
        if !self.pending.is_empty() {
            let values: Vec<T> = std::mem::take(&mut self.pending).into_iter().collect();
            self.merge(&values);
        }
        self.sorted.shrink_to_fit();
    }
}

/// One group's key index and tree.
#[derive(Clone, Debug, Default)]
struct GroupData {
    keys: SortedSet<Key>,
    nodes: HashMap<AddressShort, NodeCompact>,
    /// Nodes whose address is longer than [`ADDRESS_SHORT_NIBBLES_MAX`] nibbles.
    nodes_long: HashMap<Path, NodeCompact>,
}

impl GroupData {
    fn node(&self, address: &Path) -> Option<&NodeCompact> {
        match AddressShort::of(address) {
            Some(short) => self.nodes.get(&short),
            None => self.nodes_long.get(address),
        }
    }

    fn node_put(&mut self, address: Path, node: Node) {
        let node = NodeCompact::of(node);
        match AddressShort::of(&address) {
            Some(short) => self.nodes.insert(short, node),
            None => self.nodes_long.insert(address, node),
        };
    }

    fn shrink_to_fit(&mut self) {
        self.keys.shrink_to_fit();
        self.nodes.shrink_to_fit();
        self.nodes_long.shrink_to_fit();
    }
}

/// An in-memory store that answers like [`tideline_protocol::store::MemoryStore`] in a sixth
/// of its memory; see the module documentation for what it keeps and how.
#[derive(Clone, Debug, Default)]
pub struct CompactStore {
    /// Index of each group name in `groups`.
    group_index: HashMap<String, u32>,
    groups: Vec<GroupData>,
    /// Every stored event's id, whatever its bytes.
    ids: SortedSet<EventId>,
    /// The bytes of the events whose bytes are not empty.
    bytes: HashMap<EventId, Vec<u8>>,
    docs: MemoryDocs,
}

impl CompactStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many events the store holds, over all groups.
    pub fn events_len(&self) -> usize {
        self.ids.len()
    }

    /// Merges pending ids and keys into their sorted vectors and frees unused capacity: call
    /// it after building a large store.
    pub fn shrink_to_fit(&mut self) {
        self.ids.shrink_to_fit();
        self.bytes.shrink_to_fit();
        for group in &mut self.groups {
            group.shrink_to_fit();
        }
    }

    fn group(&self, name: &str) -> Option<&GroupData> {
        let index = *self.group_index.get(name)?;
        Some(&self.groups[index as usize])
    }

    fn group_index_or_insert(&mut self, name: String) -> usize {
        let next = u32::try_from(self.groups.len()).expect("fewer than 2^32 groups");
        let index = *self.group_index.entry(name).or_insert(next);
        if index == next {
            self.groups.push(GroupData::default());
        }
        index as usize
    }
}

impl ReadStore for CompactStore {
    type Error = Infallible;

    fn node(&self, group: &str, address: &Path) -> Result<Option<Node>, Infallible> {
        Ok(self
            .group(group)
            .and_then(|group| group.node(address))
            .map(NodeCompact::node))
    }

    fn keys(
        &self,
        group: &str,
        prefix: &Path,
        after: Option<&Key>,
        limit: usize,
    ) -> Result<Vec<Key>, Infallible> {
        let Some(group) = self.group(group) else {
            return Ok(Vec::new());
        };
        // The range every store scans, as `MemoryStore` does.
        let Some(range) = keys_range(prefix, after) else {
            return Ok(Vec::new());
        };
        let (start, end) = range.bounds();
        Ok(group.keys.range(start, end, limit))
    }

    fn event(&self, id: &EventId) -> Result<Option<Vec<u8>>, Infallible> {
        if let Some(bytes) = self.bytes.get(id) {
            return Ok(Some(bytes.clone()));
        }
        Ok(self.ids.contains(id).then(Vec::new))
    }

    fn has_event(&self, id: &EventId) -> Result<bool, Infallible> {
        Ok(self.ids.contains(id))
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

impl Store for CompactStore {
    fn commit(&mut self, batch: Batch) -> Result<(), Infallible> {
        // Writes are applied in `MemoryStore`'s order, so a batch that writes one id twice
        // ends with the last bytes, as there.
        let mut ids = Vec::with_capacity(batch.events.len());
        for (id, bytes) in batch.events {
            ids.push(id);
            if bytes.is_empty() {
                self.bytes.remove(&id);
            } else {
                self.bytes.insert(id, bytes);
            }
        }
        self.ids.insert_all(ids);

        // Keys come grouped by group from the overlay and the bulk builder; collect each run.
        let mut keys = batch.keys.into_iter().peekable();
        while let Some((name, key)) = keys.next() {
            let mut run = vec![key];
            while let Some((_, key)) = keys.next_if(|(next, _)| *next == name) {
                run.push(key);
            }
            let index = self.group_index_or_insert(name);
            self.groups[index].keys.insert_all(run);
        }

        for (name, address, node) in batch.nodes {
            let index = match self.group_index.get(&name) {
                Some(index) => *index as usize,
                None => self.group_index_or_insert(name),
            };
            self.groups[index].node_put(address, node);
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

#[cfg(test)]
mod tests {
    use super::*;
    use tideline_protocol::store::MemoryStore;

    // Guards the claim that this store can stand in for any other: it passes the suite every
    // store must pass, one test per check.
    tideline_testkit::store_conformance!(CompactStore::new);

    /// Guards the packing of addresses: every length up to the longest path packs to a
    /// distinct value or is kept whole, and nodes at any address come back as written, the
    /// same as from `MemoryStore`.
    #[test]
    fn nodes_at_any_address_come_back_as_written() {
        let mut digests = (0u16..).map(|index| {
            let mut digest = [0u8; 32];
            digest[..2].copy_from_slice(&index.to_be_bytes());
            Digest(digest)
        });
        let mut next = || digests.next().expect("enough digests");
        let mut batch = Batch::default();
        let mut packed = std::collections::HashSet::new();
        for len in 0..=tideline_protocol::tree::KEY_NIBBLES {
            let nibbles: Vec<u8> = (0..len)
                .map(|index| ((index * 7 + len) % 16) as u8)
                .collect();
            let address = Path::from_nibbles(nibbles).unwrap();
            if let Some(short) = AddressShort::of(&address) {
                assert!(packed.insert(short), "{address:?} packs like another path");
            }
            // Also the same nibbles followed by a zero, which must not pack like the shorter
            // path.
            if len < tideline_protocol::tree::KEY_NIBBLES {
                if let Some(short) = AddressShort::of(&address.child(0)) {
                    assert!(packed.insert(short), "{address:?} and a zero nibble");
                }
            }
            let node = if len % 2 == 0 {
                Node::Leaf {
                    count: (len % 16 + 1) as u8,
                    digest: next(),
                }
            } else {
                let mut children = [None; RADIX];
                for nibble in [0, 3, len % 16, 15] {
                    children[nibble] = Some(next());
                }
                Node::Branch {
                    lcp: address.clone(),
                    count: 17 + len as u64,
                    children,
                    digest: next(),
                }
            };
            batch.nodes.push(("g".to_owned(), address, node));
        }
        let mut compact = CompactStore::new();
        let mut memory = MemoryStore::new();
        compact.commit(batch.clone()).unwrap();
        memory.commit(batch.clone()).unwrap();
        for (group, address, node) in &batch.nodes {
            assert_eq!(compact.node(group, address).unwrap().as_ref(), Some(node));
            assert_eq!(
                compact.node(group, address).unwrap(),
                memory.node(group, address).unwrap()
            );
            assert!(compact.node("other", address).unwrap().is_none());
        }
        // A node written again replaces the first, even when it changes kind.
        let (group, address, _) = batch.nodes[1].clone();
        let leaf = Node::Leaf {
            count: 2,
            digest: Digest([0xEE; 32]),
        };
        compact
            .commit(Batch {
                nodes: vec![(group.clone(), address.clone(), leaf.clone())],
                ..Batch::default()
            })
            .unwrap();
        assert_eq!(compact.node(&group, &address).unwrap(), Some(leaf));
    }

    /// Guards the event map's shortcut: empty bytes are not kept, yet the event is held and
    /// reads back as empty, and a later write replaces earlier bytes either way.
    #[test]
    fn empty_bytes_are_held_without_being_stored() {
        let id = EventId([7; 32]);
        let mut store = CompactStore::new();
        assert!(!store.has_event(&id).unwrap());
        assert_eq!(store.event(&id).unwrap(), None);
        let write = |bytes: Vec<u8>| Batch {
            events: vec![(id, bytes)],
            ..Batch::default()
        };
        store.commit(write(Vec::new())).unwrap();
        assert!(store.has_event(&id).unwrap());
        assert_eq!(store.event(&id).unwrap(), Some(Vec::new()));
        store.commit(write(vec![1, 2, 3])).unwrap();
        assert_eq!(store.event(&id).unwrap(), Some(vec![1, 2, 3]));
        store.commit(write(Vec::new())).unwrap();
        assert_eq!(store.event(&id).unwrap(), Some(Vec::new()));
        assert_eq!(store.events_len(), 1);
    }

    /// Guards the sorted vector and its pending set: in every order of insertion, with
    /// duplicates, merges and appends, the set holds what a `BTreeSet` holds and scans ranges
    /// the same way.
    #[test]
    fn sorted_set_matches_btree_set() {
        let mut rng = tideline_testkit::generate::Rng::new(17);
        let mut set: SortedSet<u32> = SortedSet::default();
        let mut reference = BTreeSet::new();
        for round in 0..200u32 {
            let len = rng.below(if round % 10 == 0 { 5_000 } else { 50 }) as usize;
            let values: Vec<u32> = if round % 3 == 0 {
                // Ascending past everything held: the append path.
                let base = reference.last().map_or(0, |last| last + 1);
                (0..len as u32).map(|offset| base + 2 * offset).collect()
            } else {
                (0..len).map(|_| rng.below(1_000_000) as u32).collect()
            };
            reference.extend(values.iter().copied());
            set.insert_all(values);
            assert_eq!(set.len(), reference.len(), "round {round}");
            for _ in 0..20 {
                let a = rng.below(1_100_000) as u32;
                let b = rng.below(1_100_000) as u32;
                let (low, high) = (a.min(b), a.max(b));
                let limit = rng.below(30) as usize;
                let expected: Vec<u32> = reference
                    .range((Bound::Excluded(low), Bound::Included(high)))
                    .copied()
                    .take(limit)
                    .collect();
                assert_eq!(
                    set.range(Bound::Excluded(low), Bound::Included(high), limit),
                    expected,
                    "round {round}"
                );
                assert_eq!(set.contains(&a), reference.contains(&a));
            }
        }
        set.shrink_to_fit();
        assert!(set.pending.is_empty());
        assert_eq!(set.sorted, reference.into_iter().collect::<Vec<_>>());
    }
}
