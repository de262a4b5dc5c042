//! The vectors of `spec/vectors/trees.json: the hash tree, its digests and its views at chosen prefixes.

use super::*;

pub(crate) fn kind_of(view: &View) -> &'static str {
    match view {
        View::Empty => "empty",
        View::Small(_) => "small",
        View::Branch { .. } => "branch",
    }
}

pub(crate) fn prefix_entry(prefix: &Path, view: &View) -> Json {
    let mut entry = json!({
        "prefix": path_text(prefix),
        "kind": kind_of(view),
        "count": view.count(),
        "digest": view.digest().to_string(),
    });
    if let View::Branch { lcp, .. } = view {
        entry["lcp"] = json!(path_text(lcp));
    }
    entry
}

/// How many leading nibbles two keys share.
pub(crate) fn common_nibbles(left: &Key, right: &Key) -> usize {
    (0..KEY_BYTES * 2)
        .find(|&index| left.nibble(index) != right.nibble(index))
        .unwrap_or(KEY_BYTES * 2)
}

/// Every prefix the walk would ask about, plus a few it would not: inside a branch's lcp, off
/// it, an empty child, and a strict part of a leaf.
pub(crate) fn prefixes_of(store: &MemoryStore, group: &str) -> Vec<Json> {
    let tree = Tree::new(store);
    let mut entries = Vec::new();
    let mut pending = VecDeque::from([Path::root()]);
    let view_of = |prefix: &Path| tree.view(group, prefix).expect("memory stores do not fail");
    while let Some(prefix) = pending.pop_front() {
        let view = view_of(&prefix);
        entries.push(prefix_entry(&prefix, &view));
        match &view {
            View::Empty => {}
            View::Small(keys) => {
                if keys.len() >= 2 {
                    let shared = common_nibbles(&keys[0], &keys[keys.len() - 1]);
                    let part = Path::of_key(&keys[0], shared + 1);
                    entries.push(prefix_entry(&part, &view_of(&part)));
                }
            }
            View::Branch { lcp, children, .. } => {
                if lcp.len() > prefix.len() {
                    let inside = lcp.truncated(prefix.len() + 1);
                    entries.push(prefix_entry(&inside, &view_of(&inside)));
                    let off = lcp
                        .truncated(prefix.len())
                        .child((lcp.nibbles()[prefix.len()] + 1) % RADIX as u8);
                    entries.push(prefix_entry(&off, &view_of(&off)));
                }
                let mut empty_child_listed = false;
                for nibble in 0..RADIX as u8 {
                    let child = lcp.child(nibble);
                    if children[usize::from(nibble)].is_some() {
                        pending.push_back(child);
                    } else if !empty_child_listed {
                        entries.push(prefix_entry(&child, &view_of(&child)));
                        empty_child_listed = true;
                    }
                }
            }
        }
    }
    entries
}

pub(crate) fn tree_vector(
    name: &str,
    description: &str,
    group: &str,
    events: &[VerifiedEvent],
) -> Json {
    let mut store = MemoryStore::new();
    insert(&mut store, events).expect("memory stores do not fail");
    let mut keys: Vec<Key> = events.iter().map(Key::of).collect();
    keys.sort();
    let root = Tree::new(&store)
        .root(group)
        .expect("memory stores do not fail");
    assert_eq!(
        root,
        digest_of(&keys),
        "{name}: stored root is the definition"
    );
    json!({
        "name": name,
        "description": description,
        "group": group,
        "events": hex_list(events.iter().map(|event| event.bytes())),
        "keys": hex_list(keys.iter().map(|key| key.0)),
        "root": root.to_string(),
        "prefixes": prefixes_of(&store, group),
    })
}

pub(crate) fn tree_events(
    seed: u64,
    count: usize,
    group: &str,
    wall_ms: impl Fn(&mut Rng) -> u64,
) -> Vec<VerifiedEvent> {
    let mut rng = Rng::new(seed);
    (0..count)
        .map(|_| {
            let wall_ms = wall_ms(&mut rng);
            create_event(&mut rng, group, wall_ms, "alice", 4)
        })
        .collect()
}

pub(crate) fn generate_trees() -> Json {
    let group = "team:acme";
    let hour = |rng: &mut Rng| START_MS + rng.below(3_600_000);
    json!({
        "vectors": [
            tree_vector(
                "empty",
                "No events: the root is the digest of the empty leaf.",
                group,
                &[],
            ),
            tree_vector(
                "single_event",
                "One event: a leaf of one id.",
                group,
                &tree_events(1, 1, group, hour),
            ),
            tree_vector(
                "leaf_16",
                "Exactly LEAF_EVENTS_MAX events: still one leaf, whatever their span.",
                group,
                &tree_events(2, LEAF_EVENTS_MAX, group, hour),
            ),
            tree_vector(
                "branch_17",
                "One more than a leaf holds: the root becomes a branch at the keys' longest \
                 common prefix.",
                group,
                &tree_events(3, LEAF_EVENTS_MAX + 1, group, hour),
            ),
            tree_vector(
                "burst_300_in_one_ms",
                "300 events in one millisecond: keys share the wall clock and split on counter \
                 and id.",
                group,
                &tree_events(4, 300, group, |_| START_MS + 123),
            ),
            tree_vector(
                "spread_over_five_years",
                "150 events over five years: the tree splits early in the wall clock.",
                group,
                &tree_events(5, 150, group, |rng| START_MS - 5 * YEAR_MS + rng.below(5 * YEAR_MS)),
            ),
        ],
    })
}

pub(crate) fn check_trees(document: &Json) {
    for vector in list(document, "vectors") {
        let name = text(vector, "name");
        let group = text(vector, "group");
        let events = decode_events(list(vector, "events"), name);
        let keys: Vec<Key> = list(vector, "keys")
            .iter()
            .map(|key| Key(fixed_of(key)))
            .collect();
        let mut computed: Vec<Key> = events.iter().map(Key::of).collect();
        computed.sort();
        assert_eq!(computed, keys, "{name}: keys of the events, ascending");
        for event in &events {
            assert_eq!(
                event.event().group,
                group,
                "{name}: events are in the group"
            );
        }
        let root = text(vector, "root");
        assert_eq!(
            digest_of(&keys).to_string(),
            root,
            "{name}: digest of the key set from scratch"
        );

        // The stored tree must not depend on how the events arrived: all at once, or one at a
        // time in reverse.
        let mut at_once = MemoryStore::new();
        insert(&mut at_once, &events).expect("memory stores do not fail");
        let mut one_by_one = MemoryStore::new();
        for event in events.iter().rev() {
            insert(&mut one_by_one, std::slice::from_ref(event))
                .expect("memory stores do not fail");
        }
        for store in [&at_once, &one_by_one] {
            let tree = Tree::new(store);
            assert_eq!(
                tree.root(group)
                    .expect("memory stores do not fail")
                    .to_string(),
                root,
                "{name}: stored root"
            );
            for entry in list(vector, "prefixes") {
                check_prefix(name, group, &tree, &keys, entry);
            }
        }
    }
}

pub(crate) fn check_prefix(
    name: &str,
    group: &str,
    tree: &Tree<'_, MemoryStore>,
    keys: &[Key],
    entry: &Json,
) {
    let prefix = path_parse(text(entry, "prefix"));
    let context = format!("{name}, prefix `{}`", text(entry, "prefix"));
    let kind = text(entry, "kind");
    let count = number(entry, "count");
    let digest = text(entry, "digest");

    // From the definition: the keys under the prefix, their digest and common prefix.
    let under: Vec<Key> = keys
        .iter()
        .filter(|key| prefix.contains(key))
        .copied()
        .collect();
    assert_eq!(under.len() as u64, count, "{context}: count from the keys");
    assert_eq!(
        digest_of(&under).to_string(),
        digest,
        "{context}: digest from the keys"
    );
    let kind_expected = match under.len() {
        0 => "empty",
        len if len <= LEAF_EVENTS_MAX => "small",
        _ => "branch",
    };
    assert_eq!(kind, kind_expected, "{context}: kind from the count");

    // From the stored tree.
    let view = tree
        .view(group, &prefix)
        .expect("memory stores do not fail");
    assert_eq!(kind_of(&view), kind, "{context}: view kind");
    assert_eq!(view.count(), count, "{context}: view count");
    assert_eq!(view.digest().to_string(), digest, "{context}: view digest");
    match view {
        View::Empty => assert!(
            entry.get("lcp").is_none(),
            "{context}: only branches have an lcp"
        ),
        View::Small(small) => {
            assert_eq!(small, under, "{context}: a small view lists the keys");
            assert!(
                entry.get("lcp").is_none(),
                "{context}: only branches have an lcp"
            );
        }
        View::Branch {
            lcp,
            children,
            digest: branch,
            ..
        } => {
            let shared = common_nibbles(&under[0], &under[under.len() - 1]);
            assert_eq!(
                path_text(&lcp),
                path_text(&Path::of_key(&under[0], shared)),
                "{context}: lcp from the keys"
            );
            assert_eq!(path_text(&lcp), text(entry, "lcp"), "{context}: view lcp");
            assert_eq!(
                branch,
                branch_digest(&children),
                "{context}: branch digest of children"
            );
        }
    }
}

#[test]
fn trees_vectors() {
    // Guards against the tree's shape or digests drifting from the definition the vectors pin,
    // for any insertion order.
    bless_or_check("trees.json", "vectors", generate_trees, check_trees);
}
