//! Building a replica's store in bulk: sort the keys once and write every tree node once.
//!
//! `tree::insert` rehashes the path from the root for every event (about 35 µs each at 10^5
//! events), which makes 10^6 or 10^7 events per side take minutes. The tree's shape and digests
//! are a function of the set of keys alone (spec, "Hash tree"), so this module sorts the keys
//! once, has the protocol's own `tree::subtree_build` make every node in one pass, and commits
//! them through the public `Store::commit`. A test checks that the
//! nodes equal the ones `tree::insert` writes.
//!
//! Events whose bytes were not generated (the shared history of a large workload) are stored
//! with empty bytes: the walk never reads them unless it sends them, and an empty event fails
//! to decode at the receiver, so a protocol that sent a shared event would fail the run instead
//! of passing silently. [`store_build`] builds a [`CompactStore`], which keeps no bytes for
//! them; [`store_fill`] fills any in-memory store.

use std::convert::Infallible;

use tideline_protocol::event::{EventId, VerifiedEvent};
use tideline_protocol::store::{Batch, Store};
use tideline_protocol::tree::{subtree_build, Key, Node, Path};
use tideline_protocol::wire::Groups;

use crate::compact::CompactStore;

/// Bytes of writes per batch, counted as their in-memory sizes (a node write is about 650
/// bytes, since `Node` holds sixteen optional digests; a key or an event write about 60), so
/// that a batch stays a few tens of MiB however many events are built.
const BATCH_BYTES_MAX: usize = 32 << 20;

/// What a bulk build wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BuildStats {
    /// Events stored.
    pub events: usize,
    /// Tree nodes written.
    pub nodes: usize,
    /// Postcard bytes of those nodes: what a store that serializes nodes keeps for the tree.
    pub node_bytes: usize,
}

/// Collects writes and commits them in bounded batches.
struct Writer<'a, S> {
    store: &'a mut S,
    batch: Batch,
    /// In-memory bytes of the writes in `batch`.
    bytes: usize,
    stats: BuildStats,
}

impl<S: Store<Error = Infallible>> Writer<'_, S> {
    /// Counts a write of `bytes` and commits the batch once it is full.
    fn flush_if_full(&mut self, bytes: usize) {
        self.bytes += bytes;
        if self.bytes >= BATCH_BYTES_MAX {
            self.flush();
        }
    }

    fn flush(&mut self) {
        let batch = std::mem::take(&mut self.batch);
        let Ok(()) = self.store.commit(batch);
        self.bytes = 0;
    }

    fn key(&mut self, group: &str, key: Key) {
        self.batch.keys.push((group.to_owned(), key));
        self.flush_if_full(size_of::<(String, Key)>() + group.len());
    }

    fn event(&mut self, id: EventId, bytes: Vec<u8>) {
        let len = bytes.len();
        self.batch.events.push((id, bytes));
        self.flush_if_full(size_of::<(EventId, Vec<u8>)>() + len);
    }

    fn node(&mut self, group: &str, address: Path, node: Node) {
        self.stats.nodes += 1;
        self.stats.node_bytes += postcard::to_allocvec(&node)
            .expect("a node serializes")
            .len();
        let len = group.len() + address.len();
        self.batch.nodes.push((group.to_owned(), address, node));
        self.flush_if_full(size_of::<(String, Path, Node)>() + len);
    }
}

/// Adds, to an empty in-memory `store`, the events with these keys (by group index) and these
/// bytes. `bytes` holds the events whose bytes are known; every other key gets empty bytes.
pub fn store_fill<S: Store<Error = Infallible>>(
    store: &mut S,
    groups: &Groups,
    keys: impl IntoIterator<Item = (u32, Key)>,
    bytes: impl IntoIterator<Item = (EventId, Vec<u8>)>,
) -> BuildStats {
    let keys = keys.into_iter();
    let mut by_group: Vec<Vec<Key>> = vec![Vec::new(); groups.len()];
    if let [only] = &mut by_group[..] {
        // One group takes every key: reserve them all, rather than let doubling leave up to
        // half of ten million keys' capacity unused.
        only.reserve_exact(keys.size_hint().0);
    }
    for (group, key) in keys {
        by_group[group as usize].push(key);
    }
    let mut writer = Writer {
        store,
        batch: Batch::default(),
        bytes: 0,
        stats: BuildStats::default(),
    };
    for (index, keys) in by_group.iter_mut().enumerate() {
        keys.sort_unstable();
        let len = keys.len();
        keys.dedup();
        assert_eq!(len, keys.len(), "keys of one group are distinct");
        let name = groups.name(index as u32).expect("index of the list");
        for key in keys.iter() {
            writer.stats.events += 1;
            writer.key(name, *key);
            writer.event(key.id(), Vec::new());
        }
        if !keys.is_empty() {
            subtree_build(Path::root(), keys, &mut |address, node| {
                writer.node(name, address, node);
            });
        }
    }
    // Known bytes replace the placeholders; a store's commit overwrites by id.
    writer.flush();
    for (id, bytes) in bytes {
        writer.event(id, bytes);
    }
    writer.flush();
    writer.stats
}

/// A compact store holding `keys` (placeholders) and `events` (real bytes).
pub fn store_build(
    groups: &Groups,
    keys: impl IntoIterator<Item = (u32, Key)>,
    events: &[VerifiedEvent],
) -> (CompactStore, BuildStats) {
    let mut store = CompactStore::new();
    let event_keys = events.iter().map(|event| {
        let group = groups
            .index_of(&event.event().group)
            .expect("events belong to the session's groups");
        (group, Key::of(event))
    });
    let stats = store_fill(
        &mut store,
        groups,
        keys.into_iter().chain(event_keys),
        events
            .iter()
            .map(|event| (event.id(), event.bytes().to_vec())),
    );
    store.shrink_to_fit();
    (store, stats)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compact::ADDRESS_SHORT_NIBBLES_MAX;
    use tideline_protocol::event::Hlc;
    use tideline_protocol::store::{MemoryStore, ReadStore};
    use tideline_protocol::sync::Config;
    use tideline_protocol::tree::{digest_of, insert, Tree};
    use tideline_protocol::wire::Salt;
    use tideline_testkit::generate::{create_event, Rng};
    use tideline_testkit::reconcile::reconcile;

    fn events(count: usize, groups: &[&str], seed: u64) -> Vec<VerifiedEvent> {
        let mut rng = Rng::new(seed);
        (0..count)
            .map(|index| {
                // Some events share a millisecond, so keys share long prefixes.
                let wall_ms = 1_790_000_000_000 + rng.below(5_000);
                create_event(&mut rng, groups[index % groups.len()], wall_ms, "a", 10)
            })
            .collect()
    }

    /// Guards the bulk builder against drifting from the protocol's tree: every node it writes
    /// equals the node `tree::insert` writes at the same address, and the roots agree with the
    /// from-scratch definition.
    #[test]
    fn bulk_nodes_equal_inserted_nodes() {
        let names = ["a", "b"];
        let groups = Groups::new(names).unwrap();
        for count in [0, 1, 16, 17, 300, 3_000] {
            let events = events(count, &names, count as u64);
            let (bulk, _) = store_build(&groups, [], &events);
            let mut inserted = MemoryStore::new();
            insert(&mut inserted, &events).unwrap();

            // Walk the bulk tree from each root and compare node by node.
            for name in names {
                let mut addresses = vec![Path::root()];
                while let Some(address) = addresses.pop() {
                    let node = bulk.node(name, &address).unwrap();
                    assert_eq!(node, inserted.node(name, &address).unwrap(), "{address:?}");
                    if let Some(Node::Branch { lcp, children, .. }) = node {
                        for (nibble, child) in children.iter().enumerate() {
                            if child.is_some() {
                                addresses.push(lcp.child(nibble as u8));
                            }
                        }
                    }
                }
                let keys: Vec<Key> = events
                    .iter()
                    .filter(|event| event.event().group == name)
                    .map(Key::of)
                    .collect();
                assert_eq!(Tree::new(&bulk).root(name).unwrap(), digest_of(&keys));
            }
            assert_eq!(bulk.events_len(), count);
            for event in &events {
                assert_eq!(
                    bulk.event(&event.id()).unwrap().as_ref(),
                    Some(&event.bytes().to_vec())
                );
            }
        }
    }

    /// Every node of `name`'s tree in `store`, walked from the root, with its address.
    fn nodes_of(store: &impl ReadStore<Error = Infallible>, name: &str) -> Vec<(Path, Node)> {
        let mut nodes = Vec::new();
        let mut addresses = vec![Path::root()];
        while let Some(address) = addresses.pop() {
            let Ok(Some(node)) = store.node(name, &address) else {
                continue;
            };
            if let Node::Branch { lcp, children, .. } = &node {
                for (nibble, child) in children.iter().enumerate() {
                    if child.is_some() {
                        addresses.push(lcp.child(nibble as u8));
                    }
                }
            }
            nodes.push((address, node));
        }
        nodes
    }

    /// Guards the compact store on the addresses the generated workloads never reach: keys
    /// that share a timestamp and long id prefixes put nodes deeper than a packed address
    /// holds, and both stores must still hold the same tree and key index.
    #[test]
    fn deep_trees_are_the_same_in_both_stores() {
        let names = ["a", "b"];
        let groups = Groups::new(names).unwrap();
        let mut rng = Rng::new(8);
        let timestamp = Hlc {
            wall_ms: 1_790_000_000_000,
            counter: 3,
        };
        let keys: Vec<(u32, Key)> = (0..3_000)
            .map(|index| {
                let mut id: [u8; 32] = rng.bytes();
                // A third share 12 bytes, a third 6, a third nothing beyond the timestamp.
                let shared = [12, 6, 0][index % 3];
                id[..shared].fill(0xA5);
                (index as u32 % 2, Key::new(timestamp, EventId(id)))
            })
            .collect();
        let mut compact = CompactStore::new();
        let mut memory = MemoryStore::new();
        let compact_stats = store_fill(&mut compact, &groups, keys.iter().copied(), []);
        let memory_stats = store_fill(&mut memory, &groups, keys.iter().copied(), []);
        assert_eq!(compact_stats, memory_stats);
        for name in names {
            let nodes = nodes_of(&compact, name);
            assert_eq!(nodes, nodes_of(&memory, name));
            assert!(
                nodes
                    .iter()
                    .any(|(address, _)| address.len() > ADDRESS_SHORT_NIBBLES_MAX),
                "some nodes are deeper than a packed address"
            );
            let all = memory.keys(name, &Path::root(), None, usize::MAX).unwrap();
            assert_eq!(
                compact.keys(name, &Path::root(), None, usize::MAX).unwrap(),
                all
            );
            for (address, _) in nodes.iter().step_by(7) {
                assert_eq!(
                    compact.keys(name, address, Some(&all[all.len() / 2]), 20),
                    memory.keys(name, address, Some(&all[all.len() / 2]), 20)
                );
            }
        }
    }

    /// Guards the claim that a bulk-built replica syncs like an inserted one: nothing differs,
    /// so the session is one round trip and moves no event.
    #[test]
    fn bulk_store_is_idle_against_inserted_store() {
        let names = ["a"];
        let groups = Groups::new(names).unwrap();
        let events = events(2_000, &names, 5);
        let (mut bulk, _) = store_build(&groups, [], &events);
        let mut inserted = MemoryStore::new();
        insert(&mut inserted, &events).unwrap();
        let transcript = reconcile(
            &mut bulk,
            &mut inserted,
            &groups,
            Salt([1; 16]),
            Config::default(),
        )
        .unwrap();
        assert_eq!(transcript.rounds, 1);
        assert_eq!(
            transcript.events_to_initiator + transcript.events_to_responder,
            0
        );
    }
}
