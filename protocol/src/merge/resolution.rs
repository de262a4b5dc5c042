//! Resolution (spec §9.7): the ordinary event that decides a conflict, by overwriting every
//! competing write from the document's heads.

use super::state::{Conflict, ConflictKind, DocKey, DocState};
use crate::event::{Event, Hlc, Op, Patch, ReplicaId};
use crate::value::Value;

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
