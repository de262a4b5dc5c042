//! The hash tree: one per group, over the group's event keys, with digests that depend only on
//! the set of events under a prefix.
//!
//! A [`Key`] is `wall_ms (8 bytes, big-endian) ‖ counter (4 bytes, big-endian) ‖ event id (32
//! bytes)`, so keys sort by time first. The tree is a radix-16 trie over the key's nibbles. Its
//! shape is a function of the set alone (spec section "Hash tree"):
//!
//! - a set of at most [`LEAF_EVENTS_MAX`] keys is a *leaf*, whatever time span it covers;
//! - a larger set is a *branch* at the longest prefix its keys share (its `lcp`), with one child
//!   per distinct nibble that follows the `lcp`; children are again leaves or branches.
//!
//! Because a branch sits at its keys' longest common prefix, a chain of one-child levels never
//! exists, and a prefix whose events all fall into one child has the digest of that child. That
//! is what lets two replicas whose sets differ compare any prefix, whatever shape each stores.
//!
//! Nodes are stored at *addresses*: the address of a child is its parent's `lcp` followed by the
//! child's nibble, and the group's root is at the empty address. A stored node keeps its digest
//! and, for a branch, its children's digests, so inserting an event rehashes only the path from
//! the root to its leaf: O(depth) hashing.

use std::fmt;
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

use crate::event::{EventId, Hlc, VerifiedEvent};
use crate::store::{Overlay, ReadStore, Store};

/// Most keys in a leaf. A set with more keys is a branch. Normative: it shapes the digests.
pub const LEAF_EVENTS_MAX: usize = 16;

/// Length of a [`Key`] in bytes.
pub const KEY_BYTES: usize = 44;

/// Length of a [`Key`] in nibbles, and so the longest possible [`Path`].
pub const KEY_NIBBLES: usize = 2 * KEY_BYTES;

/// Radix of the trie: a nibble has 16 values.
pub const RADIX: usize = 16;

const CONTEXT_LEAF: &str = "tideline 2026-11 v1 leaf digest";
const CONTEXT_BRANCH: &str = "tideline 2026-11 v1 branch digest";

// Hashers primed with their context, cloned per digest: deriving the context key costs one
// extra compression per call otherwise.
static HASHER_LEAF: LazyLock<blake3::Hasher> =
    LazyLock::new(|| blake3::Hasher::new_derive_key(CONTEXT_LEAF));
static HASHER_BRANCH: LazyLock<blake3::Hasher> =
    LazyLock::new(|| blake3::Hasher::new_derive_key(CONTEXT_BRANCH));

/// Where an event sits in its group's tree: its timestamp, then its id.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Key(#[serde(with = "key_bytes")] pub [u8; KEY_BYTES]);

impl Key {
    /// The key of an event with this timestamp and id.
    pub fn new(timestamp: Hlc, id: EventId) -> Key {
        let mut bytes = [0u8; KEY_BYTES];
        bytes[0..8].copy_from_slice(&timestamp.wall_ms.to_be_bytes());
        bytes[8..12].copy_from_slice(&timestamp.counter.to_be_bytes());
        bytes[12..44].copy_from_slice(&id.0);
        Key(bytes)
    }

    /// The key of a verified event.
    pub fn of(event: &VerifiedEvent) -> Key {
        Key::new(event.event.timestamp, event.id)
    }

    /// The event id inside the key.
    pub fn id(&self) -> EventId {
        let mut id = [0u8; 32];
        id.copy_from_slice(&self.0[12..44]);
        EventId(id)
    }

    /// The timestamp inside the key.
    pub fn timestamp(&self) -> Hlc {
        let wall_ms = u64::from_be_bytes(self.0[0..8].try_into().expect("8 bytes"));
        let counter = u32::from_be_bytes(self.0[8..12].try_into().expect("4 bytes"));
        Hlc { wall_ms, counter }
    }

    /// Nibble `index` of the key, high nibble of each byte first.
    pub fn nibble(&self, index: usize) -> u8 {
        assert!(index < KEY_NIBBLES);
        let byte = self.0[index / 2];
        if index % 2 == 0 {
            byte >> 4
        } else {
            byte & 0x0F
        }
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let timestamp = self.timestamp();
        write!(
            f,
            "Key({}.{} {})",
            timestamp.wall_ms,
            timestamp.counter,
            &self.id().to_string()[..16]
        )
    }
}

/// serde for `[u8; 44]`: serde derives arrays only up to 32, so write it as a tuple of bytes,
/// which postcard encodes as 44 raw bytes.
mod key_bytes {
    use serde::de::{Error, SeqAccess, Visitor};
    use serde::ser::SerializeTuple;
    use serde::{Deserializer, Serializer};

    use super::KEY_BYTES;

    pub fn serialize<S: Serializer>(
        bytes: &[u8; KEY_BYTES],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let mut tuple = serializer.serialize_tuple(KEY_BYTES)?;
        for byte in bytes {
            tuple.serialize_element(byte)?;
        }
        tuple.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<[u8; KEY_BYTES], D::Error> {
        struct BytesVisitor;
        impl<'de> Visitor<'de> for BytesVisitor {
            type Value = [u8; KEY_BYTES];
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{KEY_BYTES} bytes")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut bytes = [0u8; KEY_BYTES];
                for (index, byte) in bytes.iter_mut().enumerate() {
                    *byte = seq
                        .next_element()?
                        .ok_or_else(|| A::Error::invalid_length(index, &self))?;
                }
                Ok(bytes)
            }
        }
        deserializer.deserialize_tuple(KEY_BYTES, BytesVisitor)
    }
}

/// A 32-byte BLAKE3 digest of a node, or of the set of events under a prefix.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Digest(pub [u8; 32]);

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({})", self)
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in &self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

/// The digest of a leaf: the ids of its events in key order.
///
/// The empty set is a leaf too, so an empty group has the digest of an empty leaf.
pub fn leaf_digest<'a>(ids: impl IntoIterator<Item = &'a EventId>) -> Digest {
    let mut hasher = HASHER_LEAF.clone();
    let mut count = 0usize;
    for id in ids {
        hasher.update(&id.0);
        count += 1;
    }
    assert!(
        count <= LEAF_EVENTS_MAX,
        "a leaf holds at most {LEAF_EVENTS_MAX} events"
    );
    Digest(*hasher.finalize().as_bytes())
}

/// The digest of a branch: its children bitmap (bit `c` set when child `c` is not empty, as two
/// big-endian bytes) followed by the non-empty children's digests in nibble order.
pub fn branch_digest(children: &[Option<Digest>; RADIX]) -> Digest {
    let bitmap = children_bitmap(children);
    assert!(
        bitmap.count_ones() >= 2,
        "a branch has at least two children"
    );
    let mut hasher = HASHER_BRANCH.clone();
    hasher.update(&bitmap.to_be_bytes());
    for digest in children.iter().flatten() {
        hasher.update(&digest.0);
    }
    Digest(*hasher.finalize().as_bytes())
}

/// Bit `c` is set when child `c` is not empty.
pub fn children_bitmap(children: &[Option<Digest>; RADIX]) -> u16 {
    let mut bitmap = 0u16;
    for (nibble, child) in children.iter().enumerate() {
        if child.is_some() {
            bitmap |= 1 << nibble;
        }
    }
    bitmap
}

/// A prefix of a key, in nibbles: at most [`KEY_NIBBLES`] long, each element below 16.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Path {
    nibbles: Vec<u8>,
}

impl fmt::Debug for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Path(")?;
        for nibble in &self.nibbles {
            write!(f, "{nibble:x}")?;
        }
        write!(f, ")")
    }
}

impl Path {
    /// The empty path: the group's root.
    pub fn root() -> Path {
        Path::default()
    }

    /// The first `len` nibbles of `key`.
    pub fn of_key(key: &Key, len: usize) -> Path {
        assert!(len <= KEY_NIBBLES);
        Path {
            nibbles: (0..len).map(|index| key.nibble(index)).collect(),
        }
    }

    /// A path from nibbles; `None` when it is too long or a nibble is 16 or more.
    pub fn from_nibbles(nibbles: Vec<u8>) -> Option<Path> {
        if nibbles.len() > KEY_NIBBLES || nibbles.iter().any(|nibble| *nibble >= RADIX as u8) {
            return None;
        }
        Some(Path { nibbles })
    }

    /// The nibbles.
    pub fn nibbles(&self) -> &[u8] {
        &self.nibbles
    }

    /// Length in nibbles.
    pub fn len(&self) -> usize {
        self.nibbles.len()
    }

    /// Whether this is the root path.
    pub fn is_empty(&self) -> bool {
        self.nibbles.is_empty()
    }

    /// This path followed by `nibble`.
    pub fn child(&self, nibble: u8) -> Path {
        assert!(nibble < RADIX as u8);
        assert!(self.len() < KEY_NIBBLES);
        let mut nibbles = Vec::with_capacity(self.len() + 1);
        nibbles.extend_from_slice(&self.nibbles);
        nibbles.push(nibble);
        Path { nibbles }
    }

    /// The first `len` nibbles of this path.
    pub fn truncated(&self, len: usize) -> Path {
        assert!(len <= self.len());
        Path {
            nibbles: self.nibbles[..len].to_vec(),
        }
    }

    /// Whether `key` starts with this path.
    pub fn contains(&self, key: &Key) -> bool {
        self.nibbles
            .iter()
            .enumerate()
            .all(|(index, nibble)| key.nibble(index) == *nibble)
    }

    /// Whether this path is a prefix of `other` (or equal to it).
    pub fn is_prefix_of(&self, other: &Path) -> bool {
        other.nibbles.starts_with(&self.nibbles)
    }

    /// The smallest and largest key under this path, both inclusive.
    pub fn key_range(&self) -> (Key, Key) {
        let mut low = [0u8; KEY_BYTES];
        let mut high = [0xFFu8; KEY_BYTES];
        for (index, nibble) in self.nibbles.iter().enumerate() {
            let byte = index / 2;
            if index % 2 == 0 {
                low[byte] = nibble << 4;
                high[byte] = (nibble << 4) | 0x0F;
            } else {
                low[byte] |= nibble;
                high[byte] = (high[byte] & 0xF0) | nibble;
            }
        }
        (Key(low), Key(high))
    }

    /// Nibbles packed two to a byte, high nibble first; an odd last nibble leaves the low
    /// nibble of the last byte zero.
    pub fn packed(&self) -> Vec<u8> {
        self.nibbles
            .chunks(2)
            .map(|pair| (pair[0] << 4) | pair.get(1).copied().unwrap_or(0))
            .collect()
    }

    /// The inverse of [`Path::packed`]; `None` when the lengths disagree, the path is too long,
    /// or the padding nibble is not zero.
    pub fn from_packed(len: usize, packed: &[u8]) -> Option<Path> {
        if len > KEY_NIBBLES || packed.len() != len.div_ceil(2) {
            return None;
        }
        if len % 2 == 1 && packed[packed.len() - 1] & 0x0F != 0 {
            return None;
        }
        let nibbles = (0..len)
            .map(|index| {
                let byte = packed[index / 2];
                if index % 2 == 0 {
                    byte >> 4
                } else {
                    byte & 0x0F
                }
            })
            .collect();
        Some(Path { nibbles })
    }
}

/// A stored node of a group's tree.
// Nodes are read, used and dropped within one step of the walk; boxing the branch's children
// would add an allocation to every read to save stack space nobody runs short of.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Node {
    /// At most [`LEAF_EVENTS_MAX`] events: the keys under the node's address in the key index.
    Leaf {
        /// How many events; between 1 and [`LEAF_EVENTS_MAX`].
        count: u8,
        /// [`leaf_digest`] of their ids in key order.
        digest: Digest,
    },
    /// More than [`LEAF_EVENTS_MAX`] events, split by the nibble after their common prefix.
    Branch {
        /// The longest prefix all keys under this node share. Its children live at
        /// `lcp.child(c)`.
        lcp: Path,
        /// How many events under the node.
        count: u64,
        /// The children's digests, `None` for an empty child.
        children: [Option<Digest>; RADIX],
        /// [`branch_digest`] of `children`. Kept because every comparison reads it; it is
        /// recomputed on every write and checked against the children when read in debug
        /// builds.
        digest: Digest,
    },
}

impl Node {
    /// The node's digest.
    pub fn digest(&self) -> Digest {
        match self {
            Node::Leaf { digest, .. } | Node::Branch { digest, .. } => *digest,
        }
    }

    /// How many events are under the node.
    pub fn count(&self) -> u64 {
        match self {
            Node::Leaf { count, .. } => u64::from(*count),
            Node::Branch { count, .. } => *count,
        }
    }

    fn branch(lcp: Path, count: u64, children: [Option<Digest>; RADIX]) -> Node {
        let digest = branch_digest(&children);
        Node::Branch {
            lcp,
            count,
            children,
            digest,
        }
    }
}

/// What one side holds under a prefix, as the walk needs it.
#[allow(clippy::large_enum_variant)] // As for `Node`: short-lived, read once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum View {
    /// No events under the prefix.
    Empty,
    /// At most [`LEAF_EVENTS_MAX`] events, their keys in order.
    Small(Vec<Key>),
    /// More: the branch node that holds them all.
    Branch {
        /// The longest prefix the keys share; it extends the prefix that was asked for.
        lcp: Path,
        /// How many events.
        count: u64,
        /// The children's digests.
        children: [Option<Digest>; RADIX],
        /// The digest of the set.
        digest: Digest,
    },
}

impl View {
    /// The digest of the set under the prefix.
    pub fn digest(&self) -> Digest {
        match self {
            View::Empty => leaf_digest([]),
            View::Small(keys) => {
                let ids: Vec<EventId> = keys.iter().map(Key::id).collect();
                leaf_digest(&ids)
            }
            View::Branch { digest, .. } => *digest,
        }
    }

    /// How many events are under the prefix.
    pub fn count(&self) -> u64 {
        match self {
            View::Empty => 0,
            View::Small(keys) => keys.len() as u64,
            View::Branch { count, .. } => *count,
        }
    }

    /// Whether no events are under the prefix.
    pub fn is_empty(&self) -> bool {
        matches!(self, View::Empty)
    }
}

/// Reads a group's tree from a store.
pub struct Tree<'s, S: ReadStore + ?Sized> {
    store: &'s S,
}

impl<'s, S: ReadStore + ?Sized> Tree<'s, S> {
    /// A reader over `store`.
    pub fn new(store: &'s S) -> Self {
        Tree { store }
    }

    /// The digest of everything in `group`: the root of its tree.
    pub fn root(&self, group: &str) -> Result<Digest, S::Error> {
        Ok(self.view(group, &Path::root())?.digest())
    }

    /// What the store holds of `group` under `prefix`.
    pub fn view(&self, group: &str, prefix: &Path) -> Result<View, S::Error> {
        view(self.store, group, prefix)
    }
}

pub(crate) fn view<S: ReadStore + ?Sized>(
    store: &S,
    group: &str,
    prefix: &Path,
) -> Result<View, S::Error> {
    let mut address = Path::root();
    loop {
        match store.node(group, &address)? {
            None => return Ok(View::Empty),
            Some(Node::Leaf { .. }) => {
                // The leaf covers `address`, which `prefix` extends: its keys under `prefix` are
                // all the keys the group has there.
                let keys = store.keys(group, prefix, None, LEAF_EVENTS_MAX + 1)?;
                assert!(
                    keys.len() <= LEAF_EVENTS_MAX,
                    "a leaf holds at most {LEAF_EVENTS_MAX} keys"
                );
                return Ok(if keys.is_empty() {
                    View::Empty
                } else {
                    View::Small(keys)
                });
            }
            Some(Node::Branch {
                lcp,
                count,
                children,
                digest,
            }) => {
                if prefix.len() <= lcp.len() {
                    return Ok(if prefix.is_prefix_of(&lcp) {
                        View::Branch {
                            lcp,
                            count,
                            children,
                            digest,
                        }
                    } else {
                        View::Empty
                    });
                }
                if !lcp.is_prefix_of(prefix) {
                    return Ok(View::Empty);
                }
                address = lcp.child(prefix.nibbles()[lcp.len()]);
            }
        }
    }
}

/// Inserts `events` into `store`'s trees and key index, with their bytes, in one atomic batch.
/// Events the store already holds are skipped. Returns the ids of the events that were new, in
/// the order given.
///
/// This touches only the tree; [`crate::replica::apply`] also updates documents and conflicts,
/// and is what replicas use.
pub fn insert<S: Store + ?Sized>(
    store: &mut S,
    events: &[VerifiedEvent],
) -> Result<Vec<EventId>, S::Error> {
    let mut overlay = Overlay::new(&*store);
    let inserted = insert_into(&mut overlay, events)?;
    let batch = overlay.into_batch();
    if !batch.is_empty() {
        store.commit(batch)?;
    }
    Ok(inserted)
}

/// Adds `events` to the overlay's pending writes: bytes, keys and tree nodes. Returns the ids of
/// the new ones.
pub(crate) fn insert_into<S: ReadStore + ?Sized>(
    overlay: &mut Overlay<'_, S>,
    events: &[VerifiedEvent],
) -> Result<Vec<EventId>, S::Error> {
    let mut inserted = Vec::new();
    for event in events {
        if overlay.has_event(&event.id)? {
            continue;
        }
        overlay.events.insert(event.id, event.bytes.clone());
        insert_key(overlay, &event.event.group, Key::of(event))?;
        inserted.push(event.id);
    }
    Ok(inserted)
}

fn leaf_of(keys: &[Key]) -> Node {
    assert!(!keys.is_empty());
    assert!(keys.len() <= LEAF_EVENTS_MAX);
    let ids: Vec<EventId> = keys.iter().map(Key::id).collect();
    Node::Leaf {
        count: keys.len() as u8,
        digest: leaf_digest(&ids),
    }
}

/// Adds `key` to `group`'s key index and tree, rehashing the path from the root to it.
fn insert_key<S: ReadStore + ?Sized>(
    overlay: &mut Overlay<'_, S>,
    group: &str,
    key: Key,
) -> Result<(), S::Error> {
    overlay.put_key(group, key);

    // Branches passed on the way down, to rehash on the way up.
    let mut ancestors: Vec<(Path, Path, u64, [Option<Digest>; RADIX])> = Vec::new();
    let mut address = Path::root();
    loop {
        match overlay.node(group, &address)? {
            None => {
                overlay.put_node(group, address, leaf_of(&[key]));
                break;
            }
            Some(Node::Leaf { count, .. }) => {
                let keys = overlay.keys(group, &address, None, LEAF_EVENTS_MAX + 1)?;
                assert_eq!(
                    keys.len(),
                    usize::from(count) + 1,
                    "leaf count matches the key index"
                );
                build(overlay, group, address, &keys);
                break;
            }
            Some(Node::Branch {
                lcp,
                count,
                children,
                ..
            }) => {
                if lcp.contains(&key) {
                    let next = lcp.child(key.nibble(lcp.len()));
                    ancestors.push((address, lcp, count, children));
                    address = next;
                    continue;
                }
                // The key leaves the branch's common prefix at nibble `split`: a new branch
                // takes the address, with the old branch and the new key as its two children.
                let split = (address.len()..lcp.len())
                    .find(|&index| key.nibble(index) != lcp.nibbles()[index])
                    .expect("a key under the address that is not under the lcp leaves it inside");
                let old = Node::Branch {
                    digest: branch_digest(&children),
                    lcp: lcp.clone(),
                    count,
                    children,
                };
                let leaf = leaf_of(&[key]);
                let mut new_children = [None; RADIX];
                new_children[usize::from(lcp.nibbles()[split])] = Some(old.digest());
                new_children[usize::from(key.nibble(split))] = Some(leaf.digest());
                overlay.put_node(group, lcp.truncated(split + 1), old);
                overlay.put_node(group, Path::of_key(&key, split + 1), leaf);
                overlay.put_node(
                    group,
                    address,
                    Node::branch(lcp.truncated(split), count + 1, new_children),
                );
                break;
            }
        }
    }

    while let Some((address, lcp, count, mut children)) = ancestors.pop() {
        let nibble = key.nibble(lcp.len());
        let child = overlay
            .node(group, &lcp.child(nibble))?
            .expect("the child on the key's path was just written");
        children[usize::from(nibble)] = Some(child.digest());
        overlay.put_node(group, address, Node::branch(lcp, count + 1, children));
    }
    Ok(())
}

/// Writes the subtree of `keys` (sorted, all under `address`) at `address`.
fn build<S: ReadStore + ?Sized>(
    overlay: &mut Overlay<'_, S>,
    group: &str,
    address: Path,
    keys: &[Key],
) {
    subtree_build(address, keys, &mut |address, node| {
        overlay.put_node(group, address, node);
    });
}

/// Builds the subtree of `keys` (sorted, distinct, at least one, all under `address`) from
/// scratch, as the reference stores it (§5.4): a leaf for at most [`LEAF_EVENTS_MAX`] keys,
/// else a branch at the keys' longest common prefix over the subtrees of its children. Hands
/// each node to `put` with its address, children before their parent, and returns the
/// subtree's digest. Insertion uses it to split a full leaf; a bulk loader can use it to write
/// a whole tree once.
pub fn subtree_build(address: Path, keys: &[Key], put: &mut impl FnMut(Path, Node)) -> Digest {
    if keys.len() <= LEAF_EVENTS_MAX {
        let node = leaf_of(keys);
        let digest = node.digest();
        put(address, node);
        return digest;
    }
    let first = &keys[0];
    let last = &keys[keys.len() - 1];
    // Keys are sorted, so the prefix the first and last share is the one all share.
    let lcp_len = (address.len()..KEY_NIBBLES)
        .find(|&index| first.nibble(index) != last.nibble(index))
        .expect("distinct keys differ somewhere");
    let lcp = Path::of_key(first, lcp_len);
    let mut children = [None; RADIX];
    let mut start = 0;
    while start < keys.len() {
        // Keys under `lcp` are sorted by their nibble at `lcp_len`: one run per child.
        let nibble = keys[start].nibble(lcp_len);
        let end = start + keys[start..].partition_point(|key| key.nibble(lcp_len) == nibble);
        children[usize::from(nibble)] =
            Some(subtree_build(lcp.child(nibble), &keys[start..end], put));
        start = end;
    }
    let node = Node::branch(lcp, keys.len() as u64, children);
    let digest = node.digest();
    put(address, node);
    digest
}

/// The digest a set of keys has, computed from scratch: the definition the stored tree must
/// agree with. Used by tests and by the vector generator.
pub fn digest_of(keys: &[Key]) -> Digest {
    let mut sorted = keys.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    digest_of_sorted(&sorted, 0)
}

fn digest_of_sorted(keys: &[Key], depth: usize) -> Digest {
    if keys.len() <= LEAF_EVENTS_MAX {
        let ids: Vec<EventId> = keys.iter().map(Key::id).collect();
        return leaf_digest(&ids);
    }
    let first = &keys[0];
    let last = &keys[keys.len() - 1];
    let lcp_len = (depth..KEY_NIBBLES)
        .find(|&index| first.nibble(index) != last.nibble(index))
        .expect("distinct keys differ somewhere");
    let mut children = [None; RADIX];
    let mut start = 0;
    while start < keys.len() {
        let nibble = keys[start].nibble(lcp_len);
        let end = start
            + keys[start..]
                .iter()
                .take_while(|key| key.nibble(lcp_len) == nibble)
                .count();
        children[usize::from(nibble)] = Some(digest_of_sorted(&keys[start..end], lcp_len + 1));
        start = end;
    }
    branch_digest(&children)
}

/// On the wire and on disk a path is its length in nibbles (one byte) followed by
/// [`Path::packed`] as a postcard byte sequence (varint length, then the bytes).
#[derive(Serialize, Deserialize)]
struct PathWire {
    nibbles: u8,
    packed: Vec<u8>,
}

impl Serialize for Path {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let nibbles = u8::try_from(self.len()).expect("a path is at most 88 nibbles");
        PathWire {
            nibbles,
            packed: self.packed(),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Path {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Path, D::Error> {
        let wire = PathWire::deserialize(deserializer)?;
        Path::from_packed(usize::from(wire.nibbles), &wire.packed).ok_or_else(|| {
            serde::de::Error::custom(
                "invalid path: over 88 nibbles, packed length disagrees, or padding not zero",
            )
        })
    }
}
