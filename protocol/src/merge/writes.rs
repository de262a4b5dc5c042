//! Writes (spec §9.3): each event as a list of `(path, write)`, and which writes are live, that
//! is not overwritten by a later event's write at a path that contains theirs.

use super::order::Dag;
use super::state::Write;
use crate::event::{Event, FieldPath, Op, Patch, VerifiedEvent};

/// A write of one event, with its index in the replay order.
pub(super) struct Slot {
    /// The event's position in replay order.
    pub(super) event: usize,
    /// Where it writes.
    pub(super) path: FieldPath,
    /// What it writes.
    pub(super) write: Write,
}

/// Every write of `events` (in replay order), event by event, each in write order.
pub(super) fn slots_of(events: &[&VerifiedEvent]) -> Vec<Slot> {
    events
        .iter()
        .enumerate()
        .flat_map(|(index, event)| {
            writes_of(event.event())
                .into_iter()
                .map(move |(path, write)| Slot {
                    event: index,
                    path,
                    write,
                })
        })
        .collect()
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

/// Which slots are live: not overwritten by a later event's write to the same path or a prefix
/// of it.
///
/// One sweep from the newest event back collects, per event, the shortest paths its
/// descendants write; an event's own writes are judged once all its children have been swept.
/// This costs O(events × distinct paths × log), not O(writes²).
pub(super) fn slots_live(dag: &Dag, slots: &[Slot]) -> Vec<bool> {
    let count = dag.len();
    let mut slots_by_event: Vec<Vec<usize>> = vec![Vec::new(); count];
    for (index, slot) in slots.iter().enumerate() {
        slots_by_event[slot.event].push(index);
    }
    let mut live = vec![false; slots.len()];
    let mut written_after: Vec<Vec<FieldPath>> = vec![Vec::new(); count];
    for index in (0..count).rev() {
        let after = shortest_paths(std::mem::take(&mut written_after[index]));
        for &slot in &slots_by_event[index] {
            live[slot] = !after
                .iter()
                .any(|path| path.is_prefix_of_or_equal(&slots[slot].path));
        }
        let mut written = after;
        written.extend(
            slots_by_event[index]
                .iter()
                .map(|&slot| slots[slot].path.clone()),
        );
        let written = shortest_paths(written);
        for &parent in &dag.parents[index] {
            written_after[parent].extend(written.iter().cloned());
        }
    }
    live
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
