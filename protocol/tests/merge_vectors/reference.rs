//! The "Merge" chapter, implemented from its text with no attention to cost: ancestor sets by
//! transitive closure, liveness and conflicts by pairwise scans, and every byte of the state and
//! of conflict-id preimages written by hand. Values are encoded with postcard, as the "Values"
//! chapter specifies (and `value.rs` tests byte for byte).

use std::collections::{BTreeMap, BTreeSet};

use tideline_protocol::event::{EventId, Op, VerifiedEvent};
use tideline_protocol::merge::{ConflictKind, DocKey};
use tideline_protocol::value::Value;

#[derive(Clone, PartialEq)]
enum Action {
    Set(Value),
    Delete,
    Remove,
}

struct Write {
    /// Position of the write's event in the replay order.
    event: usize,
    path: Vec<String>,
    action: Action,
}

/// Events of the set that no event of the set names in its base, sorted by id.
pub fn heads(events: &[VerifiedEvent]) -> Vec<EventId> {
    let ids: BTreeSet<EventId> = events.iter().map(|event| event.id()).collect();
    let named: BTreeSet<EventId> = events
        .iter()
        .flat_map(|event| event.event().base.iter().copied())
        .collect();
    ids.difference(&named).copied().collect()
}

fn is_prefix(shorter: &[String], longer: &[String]) -> bool {
    longer.starts_with(shorter)
}

fn overlap(left: &[String], right: &[String]) -> bool {
    is_prefix(left, right) || is_prefix(right, left)
}

/// The postcard encoding of the state of the document whose events are `events` (all of
/// one document, duplicates allowed).
pub fn state_bytes(events: &[VerifiedEvent]) -> Vec<u8> {
    // The document's events, once each.
    let mut by_id: BTreeMap<EventId, &VerifiedEvent> = BTreeMap::new();
    for event in events {
        by_id.insert(event.id(), event);
    }
    let first = by_id.values().next().expect("a document has an event");
    let key = DocKey::of(first.event());
    assert!(by_id.values().all(|event| DocKey::of(event.event()) == key));

    // Base edges within the document; other base entries are ignored.
    let parents: BTreeMap<EventId, BTreeSet<EventId>> = by_id
        .iter()
        .map(|(id, event)| {
            let inside = event
                .event()
                .base
                .iter()
                .filter(|base| by_id.contains_key(base))
                .copied()
                .collect();
            (*id, inside)
        })
        .collect();

    // Replay order: repeatedly take the smallest (wall_ms, counter, id) among the events
    // whose parents have all been taken.
    let mut order: Vec<&VerifiedEvent> = Vec::new();
    let mut taken: BTreeSet<EventId> = BTreeSet::new();
    while let Some(next) = by_id
        .values()
        .filter(|event| !taken.contains(&event.id()))
        .filter(|event| {
            parents[&event.id()]
                .iter()
                .all(|parent| taken.contains(parent))
        })
        .min_by_key(|event| {
            let timestamp = event.event().timestamp;
            (timestamp.wall_ms, timestamp.counter, event.id())
        })
    {
        taken.insert(next.id());
        order.push(next);
    }
    assert_eq!(order.len(), by_id.len());

    // Ancestors: everything reachable through base edges within the document.
    let mut ancestors: Vec<BTreeSet<usize>> = Vec::new();
    let position: BTreeMap<EventId, usize> = order
        .iter()
        .enumerate()
        .map(|(index, event)| (event.id(), index))
        .collect();
    for event in &order {
        let mut mine = BTreeSet::new();
        for parent in &parents[&event.id()] {
            let parent = position[parent];
            mine.insert(parent);
            mine.extend(ancestors[parent].iter().copied());
        }
        ancestors.push(mine);
    }
    let concurrent = |left: usize, right: usize| {
        left != right && !ancestors[left].contains(&right) && !ancestors[right].contains(&left)
    };

    // Writes, in replay order and patch order.
    let mut writes: Vec<Write> = Vec::new();
    for (index, event) in order.iter().enumerate() {
        match &event.event().op {
            Op::Create(document) => writes.push(Write {
                event: index,
                path: Vec::new(),
                action: Action::Set(document.clone()),
            }),
            Op::Remove => writes.push(Write {
                event: index,
                path: Vec::new(),
                action: Action::Remove,
            }),
            Op::Update(patch) => {
                for (path, value) in &patch.0 {
                    writes.push(Write {
                        event: index,
                        path: path.0.clone(),
                        action: match value {
                            Some(value) => Action::Set(value.clone()),
                            None => Action::Delete,
                        },
                    });
                }
            }
        }
    }

    // Live: no write of a descendant event lies at the same path or a prefix of it.
    let live: Vec<bool> = writes
        .iter()
        .map(|write| {
            !writes.iter().any(|later| {
                ancestors[later.event].contains(&write.event) && is_prefix(&later.path, &write.path)
            })
        })
        .collect();

    // Conflicting pairs, and their connected components.
    let mut neighbours: Vec<Vec<usize>> = vec![Vec::new(); writes.len()];
    for left in 0..writes.len() {
        for right in left + 1..writes.len() {
            let (a, b) = (&writes[left], &writes[right]);
            if live[left]
                && live[right]
                && concurrent(a.event, b.event)
                && overlap(&a.path, &b.path)
                && !(a.action == Action::Remove && b.action == Action::Remove)
            {
                neighbours[left].push(right);
                neighbours[right].push(left);
            }
        }
    }
    let mut component: Vec<Option<usize>> = vec![None; writes.len()];
    let mut components: Vec<Vec<usize>> = Vec::new();
    for start in 0..writes.len() {
        if neighbours[start].is_empty() || component[start].is_some() {
            continue;
        }
        let mut members = vec![start];
        component[start] = Some(components.len());
        let mut next = 0;
        while next < members.len() {
            for &other in &neighbours[members[next]] {
                if component[other].is_none() {
                    component[other] = Some(components.len());
                    members.push(other);
                }
            }
            next += 1;
        }
        members.sort_unstable();
        components.push(members);
    }

    // The provisional document: every write in replay order, but a remove event with a
    // write in a conflict is skipped.
    let skipped: BTreeSet<usize> = components
        .iter()
        .flatten()
        .filter(|&&write| writes[write].action == Action::Remove)
        .map(|&write| writes[write].event)
        .collect();
    let mut document: Option<Value> = None;
    for write in &writes {
        if !skipped.contains(&write.event) {
            apply(&mut document, &write.path, &write.action);
        }
    }

    let mut conflicts: Vec<([u8; 32], Vec<u8>)> = components
        .iter()
        .map(|members| conflict_bytes(&key, &order, &writes, members, document.as_ref()))
        .collect();
    conflicts.sort_by_key(|conflict| conflict.0);

    let mut out = Vec::new();
    option_value(&mut out, document.as_ref());
    let heads = heads(
        &order
            .iter()
            .map(|event| (*event).clone())
            .collect::<Vec<_>>(),
    );
    varint(&mut out, heads.len() as u64);
    for head in heads {
        out.extend_from_slice(&head.0);
    }
    varint(&mut out, conflicts.len() as u64);
    for (_, bytes) in conflicts {
        out.extend_from_slice(&bytes);
    }
    out
}

/// Applies one write the way the chapter's "Applying writes" section says.
fn apply(document: &mut Option<Value>, path: &[String], action: &Action) {
    let Some((last, intermediates)) = path.split_last() else {
        match action {
            Action::Set(value) => *document = Some(value.clone()),
            Action::Remove => *document = None,
            Action::Delete => panic!("a delete has a non-empty path"),
        }
        return;
    };
    let Some(mut node) = document.as_mut() else {
        return;
    };
    match action {
        Action::Set(value) => {
            for segment in intermediates {
                node = child_as_object(node, segment);
            }
            make_object(node);
            let Value::Object(fields) = node else {
                unreachable!()
            };
            match fields.binary_search_by(|(key, _)| key.as_str().cmp(last)) {
                Ok(index) => fields[index].1 = value.clone(),
                Err(index) => fields.insert(index, (last.clone(), value.clone())),
            }
        }
        Action::Delete => {
            for segment in intermediates {
                let Value::Object(fields) = node else {
                    return;
                };
                match fields.iter_mut().find(|(key, _)| key == segment) {
                    Some((_, child)) if matches!(child, Value::Object(_)) => node = child,
                    _ => return,
                }
            }
            if let Value::Object(fields) = node {
                fields.retain(|(key, _)| key != last);
            }
        }
        Action::Remove => panic!("a remove has the empty path"),
    }
}

fn make_object(node: &mut Value) {
    if !matches!(node, Value::Object(_)) {
        *node = Value::Object(Vec::new());
    }
}

/// The field `segment` of `node` (made an object first), created as an empty object if
/// missing and replaced by one if it is not an object.
fn child_as_object<'a>(node: &'a mut Value, segment: &str) -> &'a mut Value {
    make_object(node);
    let Value::Object(fields) = node else {
        unreachable!()
    };
    let index = match fields.binary_search_by(|(key, _)| key.as_str().cmp(segment)) {
        Ok(index) => index,
        Err(index) => {
            fields.insert(index, (segment.to_owned(), Value::Object(Vec::new())));
            index
        }
    };
    let child = &mut fields[index].1;
    make_object(child);
    child
}

fn value_at<'a>(document: Option<&'a Value>, path: &[String]) -> Option<&'a Value> {
    let mut node = document?;
    for segment in path {
        let Value::Object(fields) = node else {
            return None;
        };
        node = &fields.iter().find(|(key, _)| key == segment)?.1;
    }
    Some(node)
}

/// A conflict's id and encoding.
fn conflict_bytes(
    key: &DocKey,
    order: &[&VerifiedEvent],
    writes: &[Write],
    members: &[usize],
    document: Option<&Value>,
) -> ([u8; 32], Vec<u8>) {
    let member_events: BTreeSet<usize> = members.iter().map(|&write| writes[write].event).collect();
    let has_remove = members
        .iter()
        .any(|&write| writes[write].action == Action::Remove);
    let creates = members
        .iter()
        .filter(|&&write| matches!(order[writes[write].event].event().op, Op::Create(_)))
        .count();
    let kind = if has_remove {
        ConflictKind::Remove
    } else if creates >= 2 {
        ConflictKind::Create
    } else {
        ConflictKind::Field
    };
    // Longest common prefix of the member paths.
    let mut path: Vec<String> = writes[members[0]].path.clone();
    for &write in members {
        let common = path
            .iter()
            .zip(&writes[write].path)
            .take_while(|(left, right)| left == right)
            .count();
        path.truncate(common);
    }
    let removes_of = |event: usize| {
        members
            .iter()
            .any(|&write| writes[write].event == event && writes[write].action == Action::Remove)
    };
    let winner = *member_events
        .iter()
        .filter(|&&event| !removes_of(event))
        .max()
        .expect("a conflict has an edit");
    let assignees: BTreeSet<&str> = member_events
        .iter()
        .filter(|&&event| match kind {
            ConflictKind::Remove => removes_of(event),
            _ => event != winner,
        })
        .map(|&event| order[event].event().creator.as_str())
        .collect();
    let mut competing: Vec<usize> = member_events.iter().copied().collect();
    competing.sort_by_key(|&event| order[event].id());
    let ids: Vec<EventId> = competing.iter().map(|&event| order[event].id()).collect();

    let preimage = conflict_preimage(key, kind, &path, &ids);
    let id = *blake3::Hasher::new_derive_key("tideline 2026-11 v1 conflict id")
        .update(&preimage)
        .finalize()
        .as_bytes();

    let mut out = Vec::new();
    out.extend_from_slice(&id);
    varint(&mut out, kind_index(kind));
    strings(&mut out, &path);
    varint(&mut out, competing.len() as u64);
    for &event in &competing {
        let verified = order[event];
        out.extend_from_slice(&verified.id().0);
        string(&mut out, &verified.event().creator);
        varint(&mut out, verified.event().timestamp.wall_ms);
        varint(&mut out, u64::from(verified.event().timestamp.counter));
        let mine: Vec<&Write> = members
            .iter()
            .map(|&write| &writes[write])
            .filter(|write| write.event == event)
            .collect();
        varint(&mut out, mine.len() as u64);
        for write in mine {
            strings(&mut out, &write.path);
            match &write.action {
                Action::Set(value) => {
                    varint(&mut out, 0);
                    out.extend_from_slice(&postcard::to_allocvec(value).unwrap());
                }
                Action::Delete => varint(&mut out, 1),
                Action::Remove => varint(&mut out, 2),
            }
        }
    }
    out.extend_from_slice(&order[winner].id().0);
    option_value(&mut out, value_at(document, &path));
    varint(&mut out, assignees.len() as u64);
    for assignee in assignees {
        string(&mut out, assignee);
    }
    (id, out)
}

fn kind_index(kind: ConflictKind) -> u64 {
    match kind {
        ConflictKind::Field => 0,
        ConflictKind::Remove => 1,
        ConflictKind::Create => 2,
    }
}

/// The bytes hashed into a conflict id: document key, kind, path and competing event ids.
pub fn conflict_preimage(
    key: &DocKey,
    kind: ConflictKind,
    path: &[String],
    ids: &[EventId],
) -> Vec<u8> {
    let mut out = Vec::new();
    string(&mut out, &key.group);
    string(&mut out, &key.collection);
    out.extend_from_slice(&key.target.0);
    varint(&mut out, kind_index(kind));
    strings(&mut out, path);
    varint(&mut out, ids.len() as u64);
    for id in ids {
        out.extend_from_slice(&id.0);
    }
    out
}

/// postcard's unsigned varint: seven bits per byte, least significant first.
fn varint(out: &mut Vec<u8>, mut number: u64) {
    while number >= 0x80 {
        out.push((number as u8) | 0x80);
        number >>= 7;
    }
    out.push(number as u8);
}

fn string(out: &mut Vec<u8>, text: &str) {
    varint(out, text.len() as u64);
    out.extend_from_slice(text.as_bytes());
}

fn strings(out: &mut Vec<u8>, texts: &[String]) {
    varint(out, texts.len() as u64);
    for text in texts {
        string(out, text);
    }
}

fn option_value(out: &mut Vec<u8>, value: Option<&Value>) {
    match value {
        None => out.push(0),
        Some(value) => {
            out.push(1);
            out.extend_from_slice(&postcard::to_allocvec(value).unwrap());
        }
    }
}
