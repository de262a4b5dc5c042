//! Rendering a merged document as JSON, as the vectors show it.

use super::*;

pub(crate) fn value_json(value: Option<&Value>) -> Json {
    value.map_or(Json::Null, Json::from)
}

pub(crate) fn kind_name(kind: ConflictKind) -> &'static str {
    match kind {
        ConflictKind::Field => "field",
        ConflictKind::Remove => "remove",
        ConflictKind::Create => "create",
    }
}

pub(crate) fn write_json(path: &FieldPath, write: &Write) -> Json {
    match write {
        Write::Set(value) => json!({"path": path.0, "write": "set", "value": Json::from(value)}),
        Write::Delete => json!({"path": path.0, "write": "delete"}),
        Write::Remove => json!({"path": path.0, "write": "remove"}),
    }
}

pub(crate) fn conflict_json(conflict: &Conflict) -> Json {
    json!({
        "id": conflict.id.to_string(),
        "kind": kind_name(conflict.kind),
        "path": conflict.path.0,
        "winner": conflict.winner.to_string(),
        "provisional": value_json(conflict.provisional.as_ref()),
        "assignees": conflict.assignees,
        "competing": conflict.competing.iter().map(|competitor| json!({
            "event": competitor.event.to_string(),
            "creator": competitor.creator,
            "timestamp": {
                "wall_ms": competitor.timestamp.wall_ms,
                "counter": competitor.timestamp.counter,
            },
            "writes": competitor
                .writes
                .iter()
                .map(|(path, write)| write_json(path, write))
                .collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

pub(crate) fn document_json(key: &DocKey, state: &DocState) -> Json {
    json!({
        "group": key.group,
        "collection": key.collection,
        "target": key.target.to_string(),
        "state_hex": hex::encode(postcard::to_allocvec(state).expect("a state encodes")),
        "value": value_json(state.value.as_ref()),
        "heads": state.heads.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "conflicts": state.conflicts.iter().map(conflict_json).collect::<Vec<_>>(),
    })
}

pub(crate) fn documents_json(states: &BTreeMap<DocKey, DocState>) -> Json {
    Json::Array(
        states
            .iter()
            .map(|(key, state)| document_json(key, state))
            .collect(),
    )
}
