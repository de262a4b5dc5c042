//! `GET /v1/conflicts`: the conflicts the server's own merge assigned to the token's user, in the
//! groups the token covers, as JSON.
//!
//! The list is `tideline_protocol::http::open_conflicts`, the one the reference client prints
//! too, and each conflict the object of spec §15.7.

use serde_json::Value as Json;
use tideline_protocol::http::{open_conflicts, OpenConflictsError};
use tideline_protocol::store::ReadStore;

use crate::auth::Identity;

/// The user's conflicts in the token's groups, ordered by conflict id. An inbox entry whose
/// document does not hold the conflict is damage to the store, and an error.
pub(crate) fn conflicts_json<S: ReadStore + ?Sized>(
    store: &S,
    identity: &Identity,
) -> Result<Json, OpenConflictsError<S::Error>> {
    let open = open_conflicts(store, &identity.user, &identity.groups)?;
    Ok(Json::Array(
        open.iter().map(|open| open.to_json()).collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use tideline_protocol::event::{DocId, ReplicaId};
    use tideline_protocol::replica;
    use tideline_protocol::store::MemoryStore;
    use tideline_protocol::value::Value;
    use tideline_protocol::wire::Groups;
    use tideline_testkit::events::{create_titled, patch, EventBuilder};

    /// `event` in group g1, on the one document these tests use, from one replica.
    fn on_doc(event: EventBuilder) -> EventBuilder {
        event
            .group("g1")
            .target(DocId([1; 16]))
            .origin(ReplicaId([2; 16]))
    }

    fn create(creator: &str, wall_ms: u64, text: &str) -> EventBuilder {
        on_doc(create_titled(creator, wall_ms, text))
    }

    #[test]
    fn conflicts_are_listed_for_their_assignees_only_in_their_groups() {
        // Guards against listing a conflict to someone who was not asked, or from a group the
        // token does not cover.
        let mut store = MemoryStore::new();
        let events = [
            create("alice", 1_000, "a").seal(),
            create("bob", 2_000, "b").seal(),
        ];
        replica::apply(&mut store, &events).unwrap();
        let mut listed = Vec::new();
        for user in ["alice", "bob"] {
            let identity = Identity {
                user: user.into(),
                groups: Groups::new(["g1"]).unwrap(),
                valid_until_s: u64::MAX,
            };
            let Json::Array(conflicts) = conflicts_json(&store, &identity).unwrap() else {
                panic!("an array");
            };
            listed.extend(conflicts);
        }
        assert_eq!(
            listed.len(),
            1,
            "one conflict, asked of the loser: {listed:?}"
        );
        let conflict = &listed[0];
        assert_eq!(conflict["kind"], "create");
        assert_eq!(conflict["group"], "g1");
        assert_eq!(conflict["competing"].as_array().unwrap().len(), 2);
        assert_eq!(
            conflict["competing"][0]["counter"], 0,
            "the timestamp's counter"
        );
        let assignee = conflict["assignees"][0].as_str().unwrap().to_owned();
        let outside = Identity {
            user: assignee,
            groups: Groups::new(["g2"]).unwrap(),
            valid_until_s: u64::MAX,
        };
        assert_eq!(conflicts_json(&store, &outside).unwrap(), json!([]));
    }

    /// A field conflict won by an update that set `title` to `winning` (`None`: deleted it).
    fn provisional_of(winning: Option<Value>) -> Json {
        let created = create("alice", 1_000, "a").seal();
        let update = |creator: &str, wall_ms: u64, value: Option<Value>| {
            on_doc(EventBuilder::update(patch([("title", value)])))
                .creator(creator)
                .at(wall_ms)
                .base([created.id()])
                .seal()
        };
        let mut store = MemoryStore::new();
        let events = [
            created.clone(),
            update("alice", 1_500, Some(Value::String("x".into()))),
            update("bob", 2_000, winning),
        ];
        replica::apply(&mut store, &events).unwrap();
        let identity = Identity {
            user: "alice".into(),
            groups: Groups::new(["g1"]).unwrap(),
            valid_until_s: u64::MAX,
        };
        let Json::Array(mut conflicts) = conflicts_json(&store, &identity).unwrap() else {
            panic!("an array");
        };
        assert_eq!(conflicts.len(), 1, "alice lost and is asked");
        conflicts.remove(0)
    }

    #[test]
    fn provisional_is_absent_for_no_value_and_null_for_a_null_value() {
        // Guards against a client unable to tell a deleted field from one set to null.
        let null = provisional_of(Some(Value::Null));
        assert_eq!(null.get("provisional"), Some(&Json::Null));
        let deleted = provisional_of(None);
        assert_eq!(deleted.get("provisional"), None, "{deleted}");
        assert_eq!(deleted["kind"], "field");
    }
}
