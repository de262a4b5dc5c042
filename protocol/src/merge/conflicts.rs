//! Conflicts (spec §9.4): live writes of concurrent events at overlapping paths, joined into
//! connected components, each described with its kind, path, competitors, winner, assignees
//! and stable id.

use std::collections::HashMap;
use std::sync::LazyLock;

use super::document::value_at;
use super::order::Dag;
use super::state::{Competitor, Conflict, ConflictId, ConflictKind, DocKey, Write};
use super::writes::Slot;
use crate::event::{EventId, FieldPath, Op, VerifiedEvent};
use crate::value::Value;

const CONTEXT_CONFLICT: &str = "tideline 2026-11 v1 conflict id";

static HASHER_CONFLICT: LazyLock<blake3::Hasher> =
    LazyLock::new(|| blake3::Hasher::new_derive_key(CONTEXT_CONFLICT));

/// Which events reach which (§9.2), among the events that still carry a live write: bitsets
/// over those events only, since in a mostly linear history they are few.
pub(super) struct Reach {
    /// The bit of each carrier event, by its position in replay order.
    carrier_index: HashMap<usize, usize>,
    /// `u64` words per event.
    words: usize,
    /// Event `e`'s bits are `reaches[e * words..(e + 1) * words]`: bit `b` is set when the
    /// carrier with bit `b` reaches `e`.
    reaches: Vec<u64>,
}

impl Reach {
    /// Reachability over the DAG, for the events of the live slots.
    pub(super) fn new(dag: &Dag, slots: &[Slot], live: &[bool]) -> Reach {
        let carriers: Vec<usize> = {
            let mut carriers: Vec<usize> = slots
                .iter()
                .zip(live)
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
        let mut reaches = vec![0u64; dag.len() * words];
        for index in 0..dag.len() {
            for &parent in &dag.parents[index] {
                for word in 0..words {
                    let inherited = reaches[parent * words + word];
                    reaches[index * words + word] |= inherited;
                }
                if let Some(bit) = carrier_index.get(&parent) {
                    reaches[index * words + bit / 64] |= 1 << (bit % 64);
                }
            }
        }
        Reach {
            carrier_index,
            words,
            reaches,
        }
    }

    /// Whether carrier `earlier` reaches event `later`.
    fn before(&self, earlier: usize, later: usize) -> bool {
        let bit = self.carrier_index[&earlier];
        self.reaches[later * self.words + bit / 64] & (1 << (bit % 64)) != 0
    }

    /// Whether two carriers are concurrent: distinct, and neither reaches the other.
    pub(super) fn concurrent(&self, left: usize, right: usize) -> bool {
        left != right && !self.before(left, right) && !self.before(right, left)
    }
}

/// The conflicting pairs of live writes, joined into components.
pub(super) struct Components {
    /// Slots in one component share a root.
    union_find: UnionFind,
    /// Whether each slot conflicts with at least one other.
    pub(super) in_conflict: Vec<bool>,
}

/// Joins every pair of live writes that conflict: concurrent events, overlapping paths, not
/// both removes.
pub(super) fn components_of(slots: &[Slot], live: &[bool], reach: &Reach) -> Components {
    let live_slots: Vec<usize> = (0..slots.len()).filter(|&index| live[index]).collect();
    let mut union_find = UnionFind::new(slots.len());
    let mut in_conflict = vec![false; slots.len()];
    for (position, &left) in live_slots.iter().enumerate() {
        for &right in &live_slots[position + 1..] {
            let (a, b) = (&slots[left], &slots[right]);
            if !a.path.overlaps(&b.path) || !reach.concurrent(a.event, b.event) {
                continue;
            }
            // Concurrent removes do not conflict: both authors wanted the document gone.
            if a.write == Write::Remove && b.write == Write::Remove {
                continue;
            }
            union_find.union(left, right);
            in_conflict[left] = true;
            in_conflict[right] = true;
        }
    }
    Components {
        union_find,
        in_conflict,
    }
}

/// Each component as a [`Conflict`], sorted by id. `value` is the provisional document.
pub(super) fn conflicts_of(
    events: &[&VerifiedEvent],
    slots: &[Slot],
    components: Components,
    value: &Option<Value>,
) -> Vec<Conflict> {
    let Components {
        mut union_find,
        in_conflict,
    } = components;
    let mut groups: HashMap<usize, Vec<usize>> = HashMap::new();
    for index in (0..slots.len()).filter(|&index| in_conflict[index]) {
        groups
            .entry(union_find.find(index))
            .or_default()
            .push(index);
    }
    let key = events.first().map(|event| DocKey::of(event.event()));
    let mut conflicts: Vec<Conflict> = groups
        .into_values()
        .map(|members| {
            assert!(members.len() >= 2, "a conflict has at least two writes");
            conflict_of(
                key.as_ref().expect("a conflict has events"),
                events,
                slots,
                &members,
                value,
            )
        })
        .collect();
    conflicts.sort_by_key(|conflict| conflict.id);
    conflicts
}

/// One conflict from its member slots.
fn conflict_of(
    key: &DocKey,
    events: &[&VerifiedEvent],
    slots: &[Slot],
    members: &[usize],
    value: &Option<Value>,
) -> Conflict {
    let kind = conflict_kind(events, slots, members);
    let path = common_prefix(members.iter().map(|&index| &slots[index].path));
    let mut by_event: HashMap<usize, Vec<(FieldPath, Write)>> = HashMap::new();
    for &index in members {
        by_event
            .entry(slots[index].event)
            .or_default()
            .push((slots[index].path.clone(), slots[index].write.clone()));
    }
    let winner = conflict_winner(&by_event);
    let assignees = conflict_assignees(kind, events, &by_event, winner);
    let mut competing: Vec<Competitor> = by_event
        .into_iter()
        .map(|(event, writes)| Competitor {
            event: events[event].id(),
            creator: events[event].event().creator.clone(),
            timestamp: events[event].event().timestamp,
            writes,
        })
        .collect();
    competing.sort_by_key(|competitor| competitor.event);
    let id = conflict_id(key, kind, &path, &competing);
    Conflict {
        id,
        kind,
        provisional: value_at(value.as_ref(), &path).cloned(),
        path,
        competing,
        winner: events[winner].id(),
        assignees,
    }
}

/// `Remove` if any member write is a remove; else `Create` if two members come from creates;
/// else `Field`.
fn conflict_kind(events: &[&VerifiedEvent], slots: &[Slot], members: &[usize]) -> ConflictKind {
    let has_remove = members
        .iter()
        .any(|&index| slots[index].write == Write::Remove);
    let creates = members
        .iter()
        .filter(|&&index| matches!(events[slots[index].event].event().op, Op::Create(_)))
        .count();
    if has_remove {
        ConflictKind::Remove
    } else if creates >= 2 {
        ConflictKind::Create
    } else {
        ConflictKind::Field
    }
}

/// The winner: the last event in replay order whose change shows; a remove in conflict never
/// shows.
fn conflict_winner(by_event: &HashMap<usize, Vec<(FieldPath, Write)>>) -> usize {
    *by_event
        .iter()
        .filter(|(_, writes)| !writes.iter().any(|(_, write)| *write == Write::Remove))
        .map(|(event, _)| event)
        .max()
        .expect("a conflict has an edit")
}

/// Who lost, sorted and without repeats: in a remove conflict the removers (every edit still
/// shows), otherwise everyone but the winner.
fn conflict_assignees(
    kind: ConflictKind,
    events: &[&VerifiedEvent],
    by_event: &HashMap<usize, Vec<(FieldPath, Write)>>,
    winner: usize,
) -> Vec<String> {
    let mut assignees: Vec<String> = by_event
        .iter()
        .filter(|(&event, writes)| match kind {
            ConflictKind::Remove => writes.iter().any(|(_, write)| *write == Write::Remove),
            ConflictKind::Field | ConflictKind::Create => event != winner,
        })
        .map(|(&event, _)| events[event].event().creator.clone())
        .collect();
    assignees.sort();
    assignees.dedup();
    assignees
}

/// The conflict's stable id: BLAKE3 in derive-key mode over the postcard encoding of
/// `(DocKey, kind, path, competing ids)`.
fn conflict_id(
    key: &DocKey,
    kind: ConflictKind,
    path: &FieldPath,
    competing: &[Competitor],
) -> ConflictId {
    debug_assert!(
        competing.is_sorted_by_key(|competitor| competitor.event),
        "competitors are sorted by event id"
    );
    let ids: Vec<EventId> = competing
        .iter()
        .map(|competitor| competitor.event)
        .collect();
    let encoded =
        postcard::to_allocvec(&(key, kind, path, &ids)).expect("conflict identity encodes");
    let mut hasher = HASHER_CONFLICT.clone();
    hasher.update(&encoded);
    ConflictId(*hasher.finalize().as_bytes())
}

/// The longest path every one of `paths` starts with.
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

/// Disjoint sets of slots, for the components of the conflict graph.
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
