//! Merge: from the set of a document's events to the document users see and the conflicts
//! someone has to decide.
//!
//! Everything here is a pure function of the *set* of events, so two replicas that hold the
//! same events reach byte-identical documents and identical conflicts, whatever order the
//! events arrived in (spec section "Merge").
//!
//! - Events of one document (same group, collection and target) are replayed in a
//!   deterministic topological order: an event after every event of its `base`, ties broken
//!   by timestamp, then id.
//! - Each event is a list of *writes*: a create sets the root, a remove puts a tombstone at the
//!   root, an update sets or deletes each path of its patch.
//! - A write is *overwritten* when a later event (one whose base reaches it) writes the same
//!   path or a prefix of it. The rest are *live*.
//! - Two live writes *conflict* when their events are concurrent (neither reaches the other)
//!   and their paths overlap (one equals or contains the other). Concurrent removes do not
//!   conflict with each other: nobody has anything to decide.
//! - Conflicting writes form conflicts by connected components. The provisional state is the
//!   replay, except that a remove in conflict with an edit is skipped: the edit wins until
//!   someone decides, and the remover is asked.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap};
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

use crate::event::{DocId, Event, EventId, FieldPath, Hlc, Op, Patch, ReplicaId, VerifiedEvent};
use crate::value::Value;

const CONTEXT_CONFLICT: &str = "tideline 2026-11 v1 conflict id";

static HASHER_CONFLICT: LazyLock<blake3::Hasher> =
    LazyLock::new(|| blake3::Hasher::new_derive_key(CONTEXT_CONFLICT));

/// Which document: group, collection and the client-generated id.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct DocKey {
    /// The group.
    pub group: String,
    /// The collection.
    pub collection: String,
    /// The document id.
    pub target: DocId,
}

impl DocKey {
    /// The document an event changes.
    pub fn of(event: &Event) -> DocKey {
        DocKey {
            group: event.group.clone(),
            collection: event.collection.clone(),
            target: event.target,
        }
    }
}

/// What a write does at its path.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Write {
    /// Sets the value (a create sets the whole document at the root path).
    Set(Value),
    /// Deletes the field.
    Delete,
    /// Removes the document (always at the root path).
    Remove,
}

/// The kind of a conflict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ConflictKind {
    /// Concurrent changes to the same field, or to a field and one that contains it.
    Field,
    /// An edit concurrent with a remove: someone edited what another deleted.
    Remove,
    /// Two creates of the same document id, neither aware of the other.
    Create,
}

/// A conflict's stable id: BLAKE3 (derive-key mode) of its document, kind, path and competing
/// events.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ConflictId(pub [u8; 32]);

impl std::fmt::Display for ConflictId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for byte in &self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl std::fmt::Debug for ConflictId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ConflictId({self})")
    }
}

/// One side of a conflict: an event and what it wrote inside the conflict's region.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Competitor {
    /// The event.
    pub event: EventId,
    /// Who wrote it.
    pub creator: String,
    /// When.
    pub timestamp: Hlc,
    /// Its live writes that take part in the conflict, by path.
    pub writes: Vec<(FieldPath, Write)>,
}

/// A real conflict, handed to the people who must decide it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conflict {
    /// Stable across replicas: the same events give the same id.
    pub id: ConflictId,
    /// What kind.
    pub kind: ConflictKind,
    /// The region in conflict: the longest path every competing write lies under (the root for
    /// remove and create conflicts).
    pub path: FieldPath,
    /// The competing events, sorted by id.
    pub competing: Vec<Competitor>,
    /// The event whose change every replica shows until someone decides.
    pub winner: EventId,
    /// The value every replica shows at `path` meanwhile (`None` when absent).
    pub provisional: Option<Value>,
    /// The users whose change did not win, sorted: the people to ask.
    pub assignees: Vec<String>,
}

/// The merged state of one document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocState {
    /// The document, or `None` when it was removed (or only updates exist).
    pub value: Option<Value>,
    /// The document's events that no other of its events has in its past, sorted: the `base` of
    /// the next event written on this document.
    pub heads: Vec<EventId>,
    /// Open conflicts, sorted by id.
    pub conflicts: Vec<Conflict>,
}

/// A write of one event, with its index in the replay order.
struct Slot {
    event: usize,
    path: FieldPath,
    write: Write,
}

/// Merges the events of one document. Every event must have the same [`DocKey`]; duplicates are
/// ignored. The result depends only on the set of events.
pub fn materialize(events: &[VerifiedEvent]) -> DocState {
    let mut unique: Vec<&VerifiedEvent> = events.iter().collect();
    unique.sort_by_key(|event| event.id);
    unique.dedup_by_key(|event| event.id);
    if let Some(first) = unique.first() {
        let key = DocKey::of(&first.event);
        assert!(
            unique.iter().all(|event| DocKey::of(&event.event) == key),
            "one document's events"
        );
    }
    let order = replay_order(&unique);
    let events: Vec<&VerifiedEvent> = order.iter().map(|index| unique[*index]).collect();
    let count = events.len();

    // The document's own DAG, in replay order: every base event comes earlier.
    let position: HashMap<EventId, usize> = events
        .iter()
        .enumerate()
        .map(|(index, event)| (event.id, index))
        .collect();
    let parents: Vec<Vec<usize>> = events
        .iter()
        .enumerate()
        .map(|(index, event)| {
            let mut parents: Vec<usize> = event
                .event
                .base
                .iter()
                .filter_map(|base| position.get(base).copied())
                .collect();
            parents.sort_unstable();
            parents.dedup();
            assert!(
                parents.iter().all(|parent| *parent < index),
                "replay order puts a base first"
            );
            parents
        })
        .collect();
    let mut has_children = vec![false; count];
    for parent in parents.iter().flatten() {
        has_children[*parent] = true;
    }

    let slots: Vec<Slot> = events
        .iter()
        .enumerate()
        .flat_map(|(index, event)| {
            writes_of(&event.event)
                .into_iter()
                .map(move |(path, write)| Slot {
                    event: index,
                    path,
                    write,
                })
        })
        .collect();

    // A write is overwritten by a later event's write to the same path or a prefix of it. One
    // sweep from the newest event back collects, per event, the shortest paths its descendants
    // write; an event's own writes are judged once all its children have been swept. This costs
    // O(events × distinct paths × log), not O(writes²).
    let mut slots_of: Vec<Vec<usize>> = vec![Vec::new(); count];
    for (index, slot) in slots.iter().enumerate() {
        slots_of[slot.event].push(index);
    }
    let mut live = vec![false; slots.len()];
    let mut written_after: Vec<Vec<FieldPath>> = vec![Vec::new(); count];
    for index in (0..count).rev() {
        let after = shortest_paths(std::mem::take(&mut written_after[index]));
        for &slot in &slots_of[index] {
            live[slot] = !after
                .iter()
                .any(|path| path.is_prefix_of_or_equal(&slots[slot].path));
        }
        let mut written = after;
        written.extend(slots_of[index].iter().map(|&slot| slots[slot].path.clone()));
        let written = shortest_paths(written);
        for &parent in &parents[index] {
            written_after[parent].extend(written.iter().cloned());
        }
    }

    // Reachability between the events that still carry a live write, as bitsets over those
    // events only: in a mostly linear history they are few.
    let carriers: Vec<usize> = {
        let mut carriers: Vec<usize> = slots
            .iter()
            .zip(&live)
            .filter(|(_, live)| **live)
            .map(|(slot, _)| slot.event)
            .collect();
        carriers.dedup();
        carriers
    };
    let carrier_index: HashMap<usize, usize> = carriers
        .iter()
        .enumerate()
        .map(|(bit, event)| (*event, bit))
        .collect();
    let words = carriers.len().div_ceil(64);
    let mut reaches = vec![0u64; count * words];
    for index in 0..count {
        for &parent in &parents[index] {
            for word in 0..words {
                let inherited = reaches[parent * words + word];
                reaches[index * words + word] |= inherited;
            }
            if let Some(bit) = carrier_index.get(&parent) {
                reaches[index * words + bit / 64] |= 1 << (bit % 64);
            }
        }
    }
    let before = |earlier: usize, later: usize| {
        let bit = carrier_index[&earlier];
        reaches[later * words + bit / 64] & (1 << (bit % 64)) != 0
    };
    let concurrent =
        |left: usize, right: usize| left != right && !before(left, right) && !before(right, left);

    // Conflicting pairs of live writes, joined into components.
    let live_slots: Vec<usize> = (0..slots.len()).filter(|&index| live[index]).collect();
    let mut components = UnionFind::new(slots.len());
    let mut in_conflict = vec![false; slots.len()];
    for (position, &left) in live_slots.iter().enumerate() {
        for &right in &live_slots[position + 1..] {
            let (a, b) = (&slots[left], &slots[right]);
            if !a.path.overlaps(&b.path) || !concurrent(a.event, b.event) {
                continue;
            }
            if a.write == Write::Remove && b.write == Write::Remove {
                continue;
            }
            components.union(left, right);
            in_conflict[left] = true;
            in_conflict[right] = true;
        }
    }

    // Removes in conflict with an edit are skipped in the provisional state.
    let skipped: BTreeSet<usize> = (0..slots.len())
        .filter(|&index| in_conflict[index] && slots[index].write == Write::Remove)
        .map(|index| slots[index].event)
        .collect();

    let mut value: Option<Value> = None;
    for slot in &slots {
        if slot.write == Write::Remove && skipped.contains(&slot.event) {
            continue;
        }
        apply(&mut value, &slot.path, &slot.write);
    }

    let mut groups: HashMap<usize, Vec<usize>> = HashMap::new();
    for index in (0..slots.len()).filter(|&index| in_conflict[index]) {
        groups
            .entry(components.find(index))
            .or_default()
            .push(index);
    }
    let key = events.first().map(|event| DocKey::of(&event.event));
    let mut conflicts: Vec<Conflict> = groups
        .into_values()
        .map(|members| {
            conflict_of(
                key.as_ref().expect("a conflict has events"),
                &events,
                &slots,
                &members,
                &value,
            )
        })
        .collect();
    conflicts.sort_by_key(|conflict| conflict.id);

    let mut heads: Vec<EventId> = (0..count)
        .filter(|&index| !has_children[index])
        .map(|index| events[index].id)
        .collect();
    heads.sort();

    DocState {
        value,
        heads,
        conflicts,
    }
}

/// Topological order of `events` (sorted by id), ties by (timestamp, id).
fn replay_order(events: &[&VerifiedEvent]) -> Vec<usize> {
    let index_of: HashMap<EventId, usize> = events
        .iter()
        .enumerate()
        .map(|(index, event)| (event.id, index))
        .collect();
    let mut waiting = vec![0usize; events.len()];
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); events.len()];
    for (index, event) in events.iter().enumerate() {
        let parents: BTreeSet<usize> = event
            .event
            .base
            .iter()
            .filter_map(|base| index_of.get(base).copied())
            .collect();
        for parent in parents {
            if parent != index {
                waiting[index] += 1;
                children[parent].push(index);
            }
        }
    }
    let rank = |index: usize| Reverse((events[index].event.timestamp, events[index].id, index));
    let mut ready: BinaryHeap<_> = (0..events.len())
        .filter(|&index| waiting[index] == 0)
        .map(rank)
        .collect();
    let mut order = Vec::with_capacity(events.len());
    while let Some(Reverse((_, _, index))) = ready.pop() {
        order.push(index);
        for &child in &children[index] {
            waiting[child] -= 1;
            if waiting[child] == 0 {
                ready.push(rank(child));
            }
        }
    }
    // Ids are hashes of events that contain their bases, so a cycle would need a hash cycle.
    assert_eq!(order.len(), events.len(), "event bases form no cycle");
    order
}

/// The writes an event makes, in patch order.
pub fn writes_of(event: &Event) -> Vec<(FieldPath, Write)> {
    match &event.op {
        Op::Create(document) => vec![(FieldPath(Vec::new()), Write::Set(document.clone()))],
        Op::Remove => vec![(FieldPath(Vec::new()), Write::Remove)],
        Op::Update(Patch(entries)) => entries
            .iter()
            .map(|(path, value)| {
                let write = match value {
                    Some(value) => Write::Set(value.clone()),
                    None => Write::Delete,
                };
                (path.clone(), write)
            })
            .collect(),
    }
}

/// Applies one write to a document.
fn apply(document: &mut Option<Value>, path: &FieldPath, write: &Write) {
    let segments = &path.0;
    if segments.is_empty() {
        match write {
            Write::Set(value) => *document = Some(value.clone()),
            Write::Remove => *document = None,
            // Validation forbids an empty patch path.
            Write::Delete => unreachable!("a patch path has at least one segment"),
        }
        return;
    }
    // Updates to a document that does not exist change nothing.
    let Some(root) = document.as_mut() else {
        return;
    };
    let mut node = root;
    for segment in &segments[..segments.len() - 1] {
        if matches!(write, Write::Delete)
            && get_field(node, segment).is_none_or(|child| !matches!(child, Value::Object(_)))
        {
            // Nothing to delete under a missing or non-object field.
            return;
        }
        node = field_entry(node, segment);
    }
    let last = &segments[segments.len() - 1];
    match write {
        Write::Set(value) => *field_entry(node, last) = value.clone(),
        Write::Delete => {
            if let Value::Object(fields) = node {
                if let Ok(position) = fields.binary_search_by(|(key, _)| key.as_str().cmp(last)) {
                    fields.remove(position);
                }
            }
        }
        Write::Remove => unreachable!("a remove writes the root"),
    }
}

fn get_field<'a>(node: &'a Value, segment: &str) -> Option<&'a Value> {
    match node {
        Value::Object(fields) => fields
            .binary_search_by(|(key, _)| key.as_str().cmp(segment))
            .ok()
            .map(|position| &fields[position].1),
        _ => None,
    }
}

/// The field `segment` of `node`, created as an empty object if missing; a non-object `node`
/// becomes an empty object first.
fn field_entry<'a>(node: &'a mut Value, segment: &str) -> &'a mut Value {
    if !matches!(node, Value::Object(_)) {
        *node = Value::Object(Vec::new());
    }
    let Value::Object(fields) = node else {
        unreachable!("made an object above")
    };
    let position = match fields.binary_search_by(|(key, _)| key.as_str().cmp(segment)) {
        Ok(position) => position,
        Err(position) => {
            fields.insert(position, (segment.to_owned(), Value::Object(Vec::new())));
            position
        }
    };
    &mut fields[position].1
}

/// The value at `path` in a document, if present.
pub fn value_at<'a>(document: Option<&'a Value>, path: &FieldPath) -> Option<&'a Value> {
    let mut node = document?;
    for segment in &path.0 {
        node = get_field(node, segment)?;
    }
    Some(node)
}

fn conflict_of(
    key: &DocKey,
    events: &[&VerifiedEvent],
    slots: &[Slot],
    members: &[usize],
    value: &Option<Value>,
) -> Conflict {
    let has_remove = members
        .iter()
        .any(|&index| slots[index].write == Write::Remove);
    let creates = members
        .iter()
        .filter(|&&index| matches!(events[slots[index].event].event.op, Op::Create(_)))
        .count();
    let kind = if has_remove {
        ConflictKind::Remove
    } else if creates >= 2 {
        ConflictKind::Create
    } else {
        ConflictKind::Field
    };
    let path = common_prefix(members.iter().map(|&index| &slots[index].path));

    let mut by_event: HashMap<usize, Vec<(FieldPath, Write)>> = HashMap::new();
    for &index in members {
        by_event
            .entry(slots[index].event)
            .or_default()
            .push((slots[index].path.clone(), slots[index].write.clone()));
    }
    // The winner is the last event in replay order whose change shows; a remove in conflict
    // never shows.
    let winner = *by_event
        .iter()
        .filter(|(_, writes)| !writes.iter().any(|(_, write)| *write == Write::Remove))
        .map(|(event, _)| event)
        .max()
        .expect("a conflict has an edit");
    // Who lost: in a remove conflict the removers (every edit still shows), otherwise everyone
    // but the winner.
    let mut assignees: Vec<String> = by_event
        .iter()
        .filter(|(&event, writes)| match kind {
            ConflictKind::Remove => writes.iter().any(|(_, write)| *write == Write::Remove),
            ConflictKind::Field | ConflictKind::Create => event != winner,
        })
        .map(|(&event, _)| events[event].event.creator.clone())
        .collect();
    assignees.sort();
    assignees.dedup();

    let mut competing: Vec<Competitor> = by_event
        .into_iter()
        .map(|(event, writes)| Competitor {
            event: events[event].id,
            creator: events[event].event.creator.clone(),
            timestamp: events[event].event.timestamp,
            writes,
        })
        .collect();
    competing.sort_by_key(|competitor| competitor.event);

    let ids: Vec<EventId> = competing
        .iter()
        .map(|competitor| competitor.event)
        .collect();
    let encoded =
        postcard::to_allocvec(&(key, kind, &path, &ids)).expect("conflict identity encodes");
    let mut hasher = HASHER_CONFLICT.clone();
    hasher.update(&encoded);
    let id = ConflictId(*hasher.finalize().as_bytes());

    Conflict {
        id,
        kind,
        provisional: value_at(value.as_ref(), &path).cloned(),
        path,
        competing,
        winner: events[winner].id,
        assignees,
    }
}

/// The paths of `paths` that no other path of it contains, sorted.
fn shortest_paths(mut paths: Vec<FieldPath>) -> Vec<FieldPath> {
    paths.sort();
    paths.dedup();
    let mut kept: Vec<FieldPath> = Vec::with_capacity(paths.len());
    for path in paths {
        // Sorted order puts every path that a kept path contains right after it, so only the
        // last kept path can contain this one: one comparison, not a scan of `kept`.
        if !kept
            .last()
            .is_some_and(|shorter| shorter.is_prefix_of_or_equal(&path))
        {
            kept.push(path);
        }
    }
    kept
}

fn common_prefix<'a>(mut paths: impl Iterator<Item = &'a FieldPath>) -> FieldPath {
    let Some(first) = paths.next() else {
        return FieldPath(Vec::new());
    };
    let mut len = first.0.len();
    for path in paths {
        len = len.min(
            first
                .0
                .iter()
                .zip(&path.0)
                .take_while(|(left, right)| left == right)
                .count(),
        );
    }
    FieldPath(first.0[..len].to_vec())
}

impl FieldPath {
    /// Whether this path equals `other` or contains it.
    pub fn is_prefix_of_or_equal(&self, other: &FieldPath) -> bool {
        other.0.starts_with(&self.0)
    }

    /// Whether one of the two paths contains the other.
    pub fn overlaps(&self, other: &FieldPath) -> bool {
        self.is_prefix_of_or_equal(other) || other.is_prefix_of_or_equal(self)
    }
}

struct UnionFind {
    parent: Vec<usize>,
}

impl UnionFind {
    fn new(len: usize) -> Self {
        UnionFind {
            parent: (0..len).collect(),
        }
    }

    fn find(&mut self, mut index: usize) -> usize {
        while self.parent[index] != index {
            self.parent[index] = self.parent[self.parent[index]];
            index = self.parent[index];
        }
        index
    }

    fn union(&mut self, left: usize, right: usize) {
        let (left, right) = (self.find(left), self.find(right));
        // The smaller root wins, so components do not depend on the order of unions.
        if left < right {
            self.parent[right] = left;
        } else {
            self.parent[left] = right;
        }
    }
}

/// What a person decided for a conflict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Keep this value at the conflict's path (for a remove or create conflict: this whole
    /// document).
    Keep(Value),
    /// Delete the field (field conflicts) or remove the document (remove and create conflicts).
    Delete,
}

/// The event that resolves `conflict` on document `key` with `decision`: its base is the
/// document's current heads, which reach every competing event, so it overwrites them all.
pub fn resolution(
    key: &DocKey,
    state: &DocState,
    conflict: &Conflict,
    decision: Decision,
    creator: &str,
    origin: ReplicaId,
    timestamp: Hlc,
) -> Event {
    let op = match (conflict.kind, decision) {
        (ConflictKind::Field, Decision::Keep(value)) if !conflict.path.0.is_empty() => {
            Op::Update(Patch(vec![(conflict.path.clone(), Some(value))]))
        }
        (ConflictKind::Field, Decision::Delete) if !conflict.path.0.is_empty() => {
            Op::Update(Patch(vec![(conflict.path.clone(), None)]))
        }
        (_, Decision::Keep(document)) => Op::Create(document),
        (_, Decision::Delete) => Op::Remove,
    };
    Event {
        group: key.group.clone(),
        collection: key.collection.clone(),
        target: key.target,
        timestamp,
        creator: creator.to_owned(),
        origin,
        base: state.heads.clone(),
        op,
    }
}

/// A conflict as the JSON object of spec §15.7, which the reference server's
/// `GET /v1/conflicts` and the reference client's `conflicts` both print: `{"id", "group",
/// "collection", "target", "kind", "path", "provisional"?, "winner", "assignees",
/// "competing": [{"event", "creator", "wall_ms", "counter", "writes": [{"path", "op":
/// "set"|"delete"|"remove", "value"?}]}]}`. `provisional` is left out when the provisional
/// document holds no value at `path`, so that a JSON `null` always means a field set to null.
pub fn conflict_json(doc: &DocKey, conflict: &Conflict) -> serde_json::Value {
    use serde_json::{json, Value as Json};

    let competing: Vec<Json> = conflict
        .competing
        .iter()
        .map(|competitor| {
            let writes: Vec<Json> = competitor
                .writes
                .iter()
                .map(|(path, write)| match write {
                    Write::Set(value) => {
                        json!({"path": path.0, "op": "set", "value": Json::from(value)})
                    }
                    Write::Delete => json!({"path": path.0, "op": "delete"}),
                    Write::Remove => json!({"path": path.0, "op": "remove"}),
                })
                .collect();
            json!({
                "event": competitor.event.to_string(),
                "creator": competitor.creator,
                "wall_ms": competitor.timestamp.wall_ms,
                "counter": competitor.timestamp.counter,
                "writes": writes,
            })
        })
        .collect();
    let mut object = json!({
        "id": conflict.id.to_string(),
        "group": doc.group,
        "collection": doc.collection,
        "target": doc.target.to_string(),
        "kind": match conflict.kind {
            ConflictKind::Field => "field",
            ConflictKind::Remove => "remove",
            ConflictKind::Create => "create",
        },
        "path": conflict.path.0,
        "winner": conflict.winner.to_string(),
        "assignees": conflict.assignees,
        "competing": competing,
    });
    if let Some(value) = &conflict.provisional {
        object["provisional"] = Json::from(value);
    }
    object
}
