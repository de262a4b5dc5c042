//! Replay order (spec §9.2) and heads (§9.6): a document's events sorted so that every event
//! comes after the events its base names, and the document's own DAG over that order.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap};

use super::state::DocKey;
use crate::event::{EventId, VerifiedEvent};

/// The events of one document, duplicates dropped, in replay order (§9.1–9.2). Every event
/// must have the same [`DocKey`].
pub(super) fn events_in_replay_order(events: &[VerifiedEvent]) -> Vec<&VerifiedEvent> {
    let mut unique: Vec<&VerifiedEvent> = events.iter().collect();
    unique.sort_by_key(|event| event.id());
    unique.dedup_by_key(|event| event.id());
    if let Some(first) = unique.first() {
        let key = DocKey::of(first.event());
        assert!(
            unique.iter().all(|event| DocKey::of(event.event()) == key),
            "one document's events"
        );
    }
    replay_order(&unique)
        .into_iter()
        .map(|index| unique[index])
        .collect()
}

/// Topological order of `events` (sorted by id), ties by (timestamp, id).
fn replay_order(events: &[&VerifiedEvent]) -> Vec<usize> {
    let index_of: HashMap<EventId, usize> = events
        .iter()
        .enumerate()
        .map(|(index, event)| (event.id(), index))
        .collect();
    let mut waiting = vec![0usize; events.len()];
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); events.len()];
    for (index, event) in events.iter().enumerate() {
        let parents: BTreeSet<usize> = event
            .event()
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
    let rank = |index: usize| Reverse((events[index].event().timestamp, events[index].id(), index));
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

/// The document's own DAG over its events in replay order: for each event, the positions of
/// the events its base names that the set holds (its counted bases, §9.1), all earlier.
pub(super) struct Dag {
    /// `parents[e]`: the counted bases of event `e`, ascending, each below `e`.
    pub(super) parents: Vec<Vec<usize>>,
}

impl Dag {
    /// The DAG of `events`, which are in replay order.
    pub(super) fn new(events: &[&VerifiedEvent]) -> Dag {
        let position: HashMap<EventId, usize> = events
            .iter()
            .enumerate()
            .map(|(index, event)| (event.id(), index))
            .collect();
        let parents = events
            .iter()
            .enumerate()
            .map(|(index, event)| {
                let mut parents: Vec<usize> = event
                    .event()
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
        Dag { parents }
    }

    /// How many events.
    pub(super) fn len(&self) -> usize {
        self.parents.len()
    }

    /// The heads (§9.6): the events no other counted event names in its base, sorted by id.
    pub(super) fn heads(&self, events: &[&VerifiedEvent]) -> Vec<EventId> {
        let mut has_children = vec![false; self.len()];
        for parent in self.parents.iter().flatten() {
            has_children[*parent] = true;
        }
        let mut heads: Vec<EventId> = (0..self.len())
            .filter(|&index| !has_children[index])
            .map(|index| events[index].id())
            .collect();
        heads.sort();
        heads
    }
}
