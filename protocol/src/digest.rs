//! Digests and nodes (spec §5.2): the digest `D(S)` of a set of keys, and the node `node(S)`
//! that defines it.
//!
//! The tree's shape is a function of the set alone:
//!
//! - a set of at most [`LEAF_EVENTS_MAX`] keys is a *leaf*, whatever time span it covers;
//! - a larger set is a *branch* at the longest prefix its keys share (its `lcp`), with one child
//!   per distinct nibble that follows the `lcp`; children are again leaves or branches.
//!
//! Because a branch sits at its keys' longest common prefix, a chain of one-child levels never
//! exists, and a prefix whose events all fall into one child has the digest of that child. That
//! is what lets two replicas whose sets differ compare any prefix, whatever shape each stores.
//!
//! [`digest_of`] computes a digest from scratch (the definition); [`subtree_build`] builds the
//! nodes the reference stores (§5.4); [`Node::problem`] states what a well-formed stored node
//! is, which the tree asserts before it writes a node and after it reads one.

use std::fmt;
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

use crate::event::EventId;
use crate::key::{Key, Path, KEY_NIBBLES, RADIX};

/// Most keys in a leaf. A set with more keys is a branch. Normative: it shapes the digests.
pub const LEAF_EVENTS_MAX: usize = 16;

// A leaf's count is stored in a `u8`.
const _: () = assert!(LEAF_EVENTS_MAX <= u8::MAX as usize);
// A branch holds more than a leaf and has at least two children, so a leaf must be able to hold
// at least one key, or no set would ever be a leaf and the recursion would not end.
const _: () = assert!(LEAF_EVENTS_MAX >= 1);

const CONTEXT_LEAF: &str = "tideline 2026-11 v1 leaf digest";
const CONTEXT_BRANCH: &str = "tideline 2026-11 v1 branch digest";

// Hashers primed with their context, cloned per digest: deriving the context key costs one
// extra compression per call otherwise.
static HASHER_LEAF: LazyLock<blake3::Hasher> =
    LazyLock::new(|| blake3::Hasher::new_derive_key(CONTEXT_LEAF));
static HASHER_BRANCH: LazyLock<blake3::Hasher> =
    LazyLock::new(|| blake3::Hasher::new_derive_key(CONTEXT_BRANCH));

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

    /// The leaf over `keys` (sorted, 1 to [`LEAF_EVENTS_MAX`] of them).
    pub(crate) fn leaf(keys: &[Key]) -> Node {
        assert!(!keys.is_empty(), "a leaf holds at least one key");
        assert!(
            keys.len() <= LEAF_EVENTS_MAX,
            "a leaf holds at most {LEAF_EVENTS_MAX} keys"
        );
        debug_assert!(keys.is_sorted(), "a leaf's keys are in key order");
        let ids: Vec<EventId> = keys.iter().map(Key::id).collect();
        Node::Leaf {
            count: keys.len() as u8,
            digest: leaf_digest(&ids),
        }
    }

    /// The branch at `lcp` over `count` keys with these children, its digest computed.
    pub(crate) fn branch(lcp: Path, count: u64, children: [Option<Digest>; RADIX]) -> Node {
        let digest = branch_digest(&children);
        Node::Branch {
            lcp,
            count,
            children,
            digest,
        }
    }
}

impl Node {
    /// What is wrong with this node stored at `address`, if anything: a node the tree could
    /// not have written. The tree asserts that this is `None` before it writes a node and after
    /// it reads one back (a pair assertion); a store may report it as corruption instead.
    ///
    /// The branch digest is not recomputed here (that costs a hash per read): the tree checks
    /// it in debug builds only.
    pub fn problem(&self, address: &Path) -> Option<&'static str> {
        match self {
            Node::Leaf { count, .. } => {
                if *count == 0 {
                    Some("a leaf with no events")
                } else if usize::from(*count) > LEAF_EVENTS_MAX {
                    Some("a leaf with more events than a leaf holds")
                } else {
                    None
                }
            }
            Node::Branch {
                lcp,
                count,
                children,
                ..
            } => {
                if *count <= LEAF_EVENTS_MAX as u64 {
                    Some("a branch with no more events than a leaf")
                } else if !address.is_prefix_of(lcp) {
                    Some("a branch whose common prefix does not extend its address")
                } else if lcp.len() >= KEY_NIBBLES {
                    Some("a branch whose common prefix is a whole key")
                } else if children.iter().flatten().count() < 2 {
                    Some("a branch with fewer than two children")
                } else {
                    None
                }
            }
        }
    }
}

/// Builds the subtree of `keys` (sorted, distinct, at least one, all under `address`) from
/// scratch, as the reference stores it (§5.4): a leaf for at most [`LEAF_EVENTS_MAX`] keys,
/// else a branch at the keys' longest common prefix over the subtrees of its children. Hands
/// each node to `put` with its address, children before their parent, and returns the
/// subtree's digest. Insertion uses it to split a full leaf; a bulk loader can use it to write
/// a whole tree once.
pub fn subtree_build(address: Path, keys: &[Key], put: &mut impl FnMut(Path, Node)) -> Digest {
    debug_assert!(
        keys.windows(2).all(|pair| pair[0] < pair[1]),
        "a subtree's keys are sorted and distinct"
    );
    debug_assert!(
        keys.iter().all(|key| address.contains(key)),
        "a subtree's keys lie under its address"
    );
    if keys.len() <= LEAF_EVENTS_MAX {
        let node = Node::leaf(keys);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Hlc;

    fn key(wall_ms: u64, id: u8) -> Key {
        Key::new(
            Hlc {
                wall_ms,
                counter: 0,
            },
            EventId([id; 32]),
        )
    }

    /// Guards against a node shape the tree never writes passing the well-formedness check
    /// that the tree asserts on every write and read, and against the tree's own nodes failing
    /// it.
    #[test]
    fn node_problem_finds_every_malformed_shape() {
        let keys: Vec<Key> = (0..40)
            .map(|index| key(1_000 + index, index as u8))
            .collect();
        let mut nodes = Vec::new();
        let root = subtree_build(Path::root(), &keys, &mut |address, node| {
            nodes.push((address, node));
        });
        assert_eq!(root, digest_of(&keys));
        for (address, node) in &nodes {
            assert_eq!(node.problem(address), None, "{address:?} {node:?}");
        }

        let digest = Digest([0; 32]);
        let leaf = |count| Node::Leaf { count, digest };
        assert!(leaf(0).problem(&Path::root()).is_some());
        assert!(leaf(LEAF_EVENTS_MAX as u8 + 1)
            .problem(&Path::root())
            .is_some());
        let mut two = [None; RADIX];
        two[0] = Some(digest);
        two[1] = Some(digest);
        let mut one = [None; RADIX];
        one[0] = Some(digest);
        let branch = |lcp: Path, count, children| Node::Branch {
            lcp,
            count,
            children,
            digest,
        };
        let lcp = Path::of_key(&keys[0], 4);
        let count = LEAF_EVENTS_MAX as u64 + 1;
        assert_eq!(branch(lcp.clone(), count, two).problem(&Path::root()), None);
        assert!(branch(lcp.clone(), count - 1, two)
            .problem(&Path::root())
            .is_some());
        assert!(branch(lcp.clone(), count, one)
            .problem(&Path::root())
            .is_some());
        let elsewhere = Path::from_nibbles(vec![1]).unwrap();
        assert!(branch(lcp, count, two).problem(&elsewhere).is_some());
        let whole = Path::of_key(&keys[0], KEY_NIBBLES);
        assert!(branch(whole, count, two).problem(&Path::root()).is_some());
    }
}
