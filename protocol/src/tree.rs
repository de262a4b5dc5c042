//! The hash tree (spec chapter 5): one per group, over the group's event keys, with digests
//! that depend only on the set of events under a prefix.
//!
//! The tree's data lives below the store, so that the store trait can name it: keys, nibbles and
//! paths in [`crate::key`] (§5.1), digests and nodes in [`crate::digest`] (§5.2). This module
//! reads and writes them through a [`ReadStore`]: the [`View`] of a prefix (§5.3) and insertion
//! (§5.4). It re-exports the data types, so `tree::` names all of chapter 5.
//!
//! Nodes are stored at *addresses*: the address of a child is its parent's `lcp` followed by the
//! child's nibble, and the group's root is at the empty address. A stored node keeps its digest
//! and, for a branch, its children's digests, so inserting an event rehashes only the path from
//! the root to its leaf: O(depth) hashing.

pub use crate::digest::{
    branch_digest, children_bitmap, digest_of, leaf_digest, subtree_build, Digest, Node,
    LEAF_EVENTS_MAX,
};
pub use crate::key::{Key, Path, KEY_BYTES, KEY_NIBBLES, RADIX};

use crate::event::{EventId, VerifiedEvent};
use crate::store::{Overlay, ReadStore, Store};

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

/// What `store` holds of `group` under `prefix`: one walk from the root, plus, under a leaf,
/// one scan of at most `LEAF_EVENTS_MAX + 1` keys of the key index (§5.4).
pub(crate) fn view<S: ReadStore + ?Sized>(
    store: &S,
    group: &str,
    prefix: &Path,
) -> Result<View, S::Error> {
    let mut address = Path::root();
    loop {
        match node_read(store, group, &address)? {
            None => return Ok(View::Empty),
            Some(Node::Leaf { count, .. }) => {
                // The leaf covers `address`, which `prefix` extends: its keys under `prefix` are
                // all the keys the group has there.
                let keys = store.keys(group, prefix, None, LEAF_EVENTS_MAX + 1)?;
                assert!(
                    keys.len() <= LEAF_EVENTS_MAX,
                    "a leaf holds at most {LEAF_EVENTS_MAX} keys"
                );
                assert!(
                    keys.len() <= usize::from(count),
                    "a prefix under a leaf holds at most the leaf's keys"
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

/// The node of `group` at `address`, asserted well formed: the read half of the pair assertion
/// whose write half is in [`Overlay::put_node`]. A branch's digest is checked against its
/// children in debug builds only, since that costs a hash per read.
fn node_read<S: ReadStore + ?Sized>(
    store: &S,
    group: &str,
    address: &Path,
) -> Result<Option<Node>, S::Error> {
    let node = store.node(group, address)?;
    if let Some(node) = &node {
        if let Some(problem) = node.problem(address) {
            panic!("the store holds {problem} at {address:?} of group {group:?}");
        }
        if let Node::Branch {
            children, digest, ..
        } = node
        {
            debug_assert_eq!(*digest, branch_digest(children), "a branch's stored digest");
        }
    }
    Ok(node)
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
        if overlay.has_event(&event.id())? {
            continue;
        }
        overlay.put_event(event.id(), event.bytes().to_vec());
        insert_key(overlay, &event.event().group, Key::of(event))?;
        inserted.push(event.id());
    }
    Ok(inserted)
}

/// A branch passed on the way down to a new key, to rehash on the way back up: its address,
/// its `lcp`, its count and its children's digests before the insertion.
struct Ancestor {
    address: Path,
    lcp: Path,
    count: u64,
    children: [Option<Digest>; RADIX],
}

/// Adds `key` to `group`'s key index and tree, rehashing the path from the root to it (§5.4).
fn insert_key<S: ReadStore + ?Sized>(
    overlay: &mut Overlay<'_, S>,
    group: &str,
    key: Key,
) -> Result<(), S::Error> {
    overlay.put_key(group, key);
    let mut ancestors: Vec<Ancestor> = Vec::new();
    let mut address = Path::root();
    loop {
        match node_read(overlay, group, &address)? {
            None => {
                overlay.put_node(group, address, Node::leaf(&[key]));
                break;
            }
            Some(Node::Leaf { count, .. }) => {
                // The key index already holds the new key, so the leaf's keys are one more.
                let keys = overlay.keys(group, &address, None, LEAF_EVENTS_MAX + 1)?;
                assert_eq!(
                    keys.len(),
                    usize::from(count) + 1,
                    "leaf count matches the key index"
                );
                subtree_build(address, &keys, &mut |address, node| {
                    overlay.put_node(group, address, node);
                });
                break;
            }
            Some(Node::Branch {
                lcp,
                count,
                children,
                ..
            }) => {
                let ancestor = Ancestor {
                    address,
                    lcp,
                    count,
                    children,
                };
                if !ancestor.lcp.contains(&key) {
                    branch_split(overlay, group, ancestor, key);
                    break;
                }
                address = ancestor.lcp.child(key.nibble(ancestor.lcp.len()));
                ancestors.push(ancestor);
            }
        }
    }
    ancestors_rehash(overlay, group, key, ancestors)
}

/// Puts a new branch at `branch.address` for a key that leaves the branch's common prefix: the
/// old branch moves one level down, and the new key's leaf is its sibling.
fn branch_split<S: ReadStore + ?Sized>(
    overlay: &mut Overlay<'_, S>,
    group: &str,
    branch: Ancestor,
    key: Key,
) {
    let Ancestor {
        address,
        lcp,
        count,
        children,
    } = branch;
    // The key leaves the branch's common prefix at nibble `split`, somewhere between the
    // address (which the key extends) and the end of the `lcp` (which it does not).
    let split = (address.len()..lcp.len())
        .find(|&index| key.nibble(index) != lcp.nibbles()[index])
        .expect("a key under the address that is not under the lcp leaves it inside");
    let old = Node::branch(lcp.clone(), count, children);
    let leaf = Node::leaf(&[key]);
    let mut children_new = [None; RADIX];
    children_new[usize::from(lcp.nibbles()[split])] = Some(old.digest());
    children_new[usize::from(key.nibble(split))] = Some(leaf.digest());
    overlay.put_node(group, lcp.truncated(split + 1), old);
    overlay.put_node(group, Path::of_key(&key, split + 1), leaf);
    overlay.put_node(
        group,
        address,
        Node::branch(lcp.truncated(split), count + 1, children_new),
    );
}

/// Rehashes the branches passed on the way down to `key`, deepest first: each takes its child's
/// new digest and counts one more key.
fn ancestors_rehash<S: ReadStore + ?Sized>(
    overlay: &mut Overlay<'_, S>,
    group: &str,
    key: Key,
    mut ancestors: Vec<Ancestor>,
) -> Result<(), S::Error> {
    while let Some(Ancestor {
        address,
        lcp,
        count,
        mut children,
    }) = ancestors.pop()
    {
        let nibble = key.nibble(lcp.len());
        let child = node_read(overlay, group, &lcp.child(nibble))?
            .expect("the child on the key's path was just written");
        children[usize::from(nibble)] = Some(child.digest());
        overlay.put_node(group, address, Node::branch(lcp, count + 1, children));
    }
    Ok(())
}
