//! A conflict as JSON (spec §15.7), for the reference server and client. It lives here until the
//! HTTP contract has its own home.

use super::state::{Conflict, ConflictKind, DocKey, Write};

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
