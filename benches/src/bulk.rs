//! Building a replica's store in bulk: sort the keys once and write every tree node once.
//!
//! `tree::insert` rehashes the path from the root for every event (about 35 µs each at 10^5
//! events), which makes 10^6 or 10^7 events per side take minutes. The tree's shape and digests
//! are a function of the set of keys alone (spec, "Hash tree"), so this module computes the same
//! nodes from the sorted keys in one pass, with the protocol's own `leaf_digest` and
//! `branch_digest`, and commits them through the public `Store::commit`. A test checks that the
//! nodes equal the ones `tree::insert` writes.
//!
//! Events whose bytes were not generated (the shared history of a large workload) are stored
//! with empty bytes: the walk never reads them unless it sends them, and an empty event fails
//! to decode at the receiver, so a protocol that sent a shared event would fail the run instead
//! of passing silently.

use std::convert::Infallible;

use tideline_protocol::event::{EventId, VerifiedEvent};
use tideline_protocol::store::{Batch, MemoryStore, Store};
use tideline_protocol::tree::{
    branch_digest, leaf_digest, Digest, Key, Node, Path, KEY_NIBBLES, LEAF_EVENTS_MAX, RADIX,
};
use tideline_protocol::wire::Groups;

/// Writes committed per batch, so that no batch holds ten million keys at once.
const BATCH_WRITES_MAX: usize = 1 << 20;

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
struct Writer<'a> {
    store: &'a mut MemoryStore,
    batch: Batch,
    writes: usize,
    stats: BuildStats,
}

impl Writer<'_> {
    fn flush_if_full(&mut self) {
        self.writes += 1;
        if self.writes >= BATCH_WRITES_MAX {
            self.flush();
        }
    }

    fn flush(&mut self) {
        let batch = std::mem::take(&mut self.batch);
        let result: Result<(), Infallible> = self.store.commit(batch);
        result.expect("the memory store does not fail");
        self.writes = 0;
    }

    fn node(&mut self, group: &str, address: Path, node: Node) {
        self.stats.nodes += 1;
        self.stats.node_bytes += postcard::to_allocvec(&node)
            .expect("a node serializes")
            .len();
        self.batch.nodes.push((group.to_owned(), address, node));
        self.flush_if_full();
    }
}

/// Adds, to an empty `store`, the events with these keys (by group index) and these bytes.
/// `bytes` holds the events whose bytes are known; every other key gets empty bytes.
pub fn store_fill(
    store: &mut MemoryStore,
    groups: &Groups,
    keys: impl IntoIterator<Item = (u32, Key)>,
    bytes: impl IntoIterator<Item = (EventId, Vec<u8>)>,
) -> BuildStats {
    let mut by_group: Vec<Vec<Key>> = vec![Vec::new(); groups.len()];
    for (group, key) in keys {
        by_group[group as usize].push(key);
    }
    let mut writer = Writer {
        store,
        batch: Batch::default(),
        writes: 0,
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
            writer.batch.keys.push((name.to_owned(), *key));
            writer.flush_if_full();
            writer.batch.events.push((key.id(), Vec::new()));
            writer.flush_if_full();
        }
        if !keys.is_empty() {
            subtree_build(&mut writer, name, Path::root(), keys);
        }
    }
    // Known bytes replace the placeholders; the memory store's commit overwrites by id.
    writer.flush();
    for (id, bytes) in bytes {
        writer.batch.events.push((id, bytes));
        writer.flush_if_full();
    }
    writer.flush();
    writer.stats
}

/// A store holding `keys` (placeholders) and `events` (real bytes).
pub fn store_build(
    groups: &Groups,
    keys: impl IntoIterator<Item = (u32, Key)>,
    events: &[VerifiedEvent],
) -> (MemoryStore, BuildStats) {
    let mut store = MemoryStore::new();
    let event_keys = events.iter().map(|event| {
        let group = groups
            .index_of(&event.event.group)
            .expect("events belong to the session's groups");
        (group, Key::of(event))
    });
    let stats = store_fill(
        &mut store,
        groups,
        keys.into_iter().chain(event_keys),
        events.iter().map(|event| (event.id, event.bytes.clone())),
    );
    (store, stats)
}

/// Writes the subtree of `keys` (sorted, distinct, all under `address`) at `address`; returns
/// its digest. The same rules as the protocol's `tree::build`: a leaf for at most
/// [`LEAF_EVENTS_MAX`] keys, else a branch at the keys' longest common prefix.
fn subtree_build(writer: &mut Writer<'_>, group: &str, address: Path, keys: &[Key]) -> Digest {
    if keys.len() <= LEAF_EVENTS_MAX {
        let ids: Vec<EventId> = keys.iter().map(Key::id).collect();
        let digest = leaf_digest(&ids);
        writer.node(
            group,
            address,
            Node::Leaf {
                count: keys.len() as u8,
                digest,
            },
        );
        return digest;
    }
    let first = &keys[0];
    let last = &keys[keys.len() - 1];
    let lcp_len = (address.len()..KEY_NIBBLES)
        .find(|&index| first.nibble(index) != last.nibble(index))
        .expect("distinct keys differ somewhere");
    let lcp = Path::of_key(first, lcp_len);
    let mut children: [Option<Digest>; RADIX] = [None; RADIX];
    let mut start = 0;
    while start < keys.len() {
        let nibble = keys[start].nibble(lcp_len);
        let end = start + keys[start..].partition_point(|key| key.nibble(lcp_len) == nibble);
        children[usize::from(nibble)] = Some(subtree_build(
            writer,
            group,
            lcp.child(nibble),
            &keys[start..end],
        ));
        start = end;
    }
    let digest = branch_digest(&children);
    writer.node(
        group,
        address,
        Node::Branch {
            lcp,
            count: keys.len() as u64,
            children,
            digest,
        },
    );
    digest
}

#[cfg(test)]
mod tests {
    use super::*;
    use tideline_protocol::sim::{create_event, Rng};
    use tideline_protocol::store::ReadStore;
    use tideline_protocol::sync::{reconcile, Config};
    use tideline_protocol::tree::{digest_of, insert, Tree};
    use tideline_protocol::wire::Salt;

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
                    .filter(|event| event.event.group == name)
                    .map(Key::of)
                    .collect();
                assert_eq!(Tree::new(&bulk).root(name).unwrap(), digest_of(&keys));
            }
            assert_eq!(bulk.events_len(), count);
            for event in &events {
                assert_eq!(bulk.event(&event.id).unwrap().as_ref(), Some(&event.bytes));
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
