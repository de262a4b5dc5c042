//! A conflict as JSON, and the open conflicts of a user that `GET /v1/conflicts` lists (spec
//! §15.7).

use std::collections::hash_map::Entry;
use std::collections::HashMap;

use crate::merge::{Conflict, ConflictId, ConflictKind, DocKey, Write};
use crate::store::ReadStore;
use crate::wire::Groups;

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

/// An open conflict of a user's inbox, with the document that holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenConflict {
    /// The document.
    pub doc: DocKey,
    /// The conflict, as merge computed it.
    pub conflict: Conflict,
}

impl OpenConflict {
    /// The conflict as the JSON object of §15.7 ([`conflict_json`]).
    pub fn to_json(&self) -> serde_json::Value {
        conflict_json(&self.doc, &self.conflict)
    }
}

/// Why a user's open conflicts could not be listed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenConflictsError<E> {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] E),
    /// An inbox entry names a document that does not hold its conflict. A store writes the
    /// inboxes and the document states in one atomic batch, so this is damage, not a race.
    #[error(
        "the inbox of `{user}` lists conflict {conflict} in document {}/{}/{}, which does not \
         hold it; the store is damaged: restore it from a backup, or rebuild it by syncing a new \
         replica",
        doc.group, doc.collection, doc.target
    )]
    DanglingInboxEntry {
        /// The inbox's user.
        user: String,
        /// The conflict the entry names.
        conflict: ConflictId,
        /// The document the entry names.
        doc: DocKey,
    },
}

/// The open conflicts assigned to `user` in documents of `groups`, ordered by conflict id: what
/// `GET /v1/conflicts` answers (§15.7) and what the reference client's `conflicts` lists.
///
/// Entries of other groups are skipped unread. An entry whose document has no state, or whose
/// state does not hold the conflict, is [`OpenConflictsError::DanglingInboxEntry`]: the one rule
/// for a dangling entry, on every side.
///
/// Each document's state is read once, however many of its conflicts the inbox lists: a
/// document with a thousand conflicts costs one read and one decode, not a thousand.
pub fn open_conflicts<S: ReadStore + ?Sized>(
    store: &S,
    user: &str,
    groups: &Groups,
) -> Result<Vec<OpenConflict>, OpenConflictsError<S::Error>> {
    // The open conflicts of each document read so far; empty for a document with no state.
    let mut read: HashMap<DocKey, Vec<Conflict>> = HashMap::new();
    let mut open = Vec::new();
    for (id, doc) in store.inbox(user)? {
        if groups.index_of(&doc.group).is_none() {
            continue;
        }
        let conflicts = match read.entry(doc.clone()) {
            Entry::Occupied(entry) => entry.into_mut(),
            Entry::Vacant(entry) => {
                let state = store.doc_state(&doc)?;
                entry.insert(state.map(|state| state.conflicts).unwrap_or_default())
            }
        };
        let Some(conflict) = conflicts.iter().find(|conflict| conflict.id == id) else {
            return Err(OpenConflictsError::DanglingInboxEntry {
                user: user.to_owned(),
                conflict: id,
                doc,
            });
        };
        open.push(OpenConflict {
            conflict: conflict.clone(),
            doc,
        });
    }
    Ok(open)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{DocId, Event, Hlc, Op, ReplicaId};
    use crate::merge::DocState;
    use crate::replica;
    use crate::store::{Batch, MemoryStore, Store};
    use crate::value::Value;

    fn created(creator: &str, wall_ms: u64, title: &str) -> Event {
        Event {
            group: "g1".into(),
            collection: "notes".into(),
            target: DocId([1; 16]),
            timestamp: Hlc {
                wall_ms,
                counter: 0,
            },
            creator: creator.into(),
            origin: ReplicaId([2; 16]),
            base: Vec::new(),
            op: Op::Create(Value::Object(vec![(
                "title".into(),
                Value::String(title.into()),
            )])),
        }
    }

    /// A store where two creates of one document conflict, and the conflict's assignee.
    fn store_with_a_conflict() -> (MemoryStore, String) {
        let mut store = MemoryStore::new();
        let events = [
            created("alice", 1_000, "a").seal().unwrap(),
            created("bob", 2_000, "b").seal().unwrap(),
        ];
        replica::apply(&mut store, &events).unwrap();
        let assignee = ["alice", "bob"]
            .into_iter()
            .find(|user| !store.inbox(user).unwrap().is_empty())
            .expect("the conflict is assigned to one of its creators");
        (store, assignee.to_owned())
    }

    #[test]
    fn open_conflicts_are_the_users_in_the_given_groups() {
        // Guards against listing a conflict to someone who was not asked, or from a group
        // outside the token.
        let (store, assignee) = store_with_a_conflict();
        let g1 = Groups::new(["g1"]).unwrap();
        let open = open_conflicts(&store, &assignee, &g1).unwrap();
        assert_eq!(open.len(), 1);
        assert_eq!(open[0].doc.group, "g1");
        assert_eq!(open[0].to_json()["kind"], "create");
        let other = if assignee == "alice" { "bob" } else { "alice" };
        assert!(open_conflicts(&store, other, &g1).unwrap().is_empty());
        let g2 = Groups::new(["g2"]).unwrap();
        assert!(open_conflicts(&store, &assignee, &g2).unwrap().is_empty());
    }

    #[test]
    fn a_dangling_inbox_entry_is_damage() {
        // Guards against silently hiding a damaged store: an inbox entry whose document does
        // not hold its conflict (or has no state at all) is an error, never skipped.
        let (mut store, assignee) = store_with_a_conflict();
        let groups = Groups::new(["g1"]).unwrap();
        let (id, doc) = store.inbox(&assignee).unwrap().remove(0);
        let mut state: DocState = store.doc_state(&doc).unwrap().unwrap();
        state.conflicts.clear();
        store
            .commit(Batch {
                doc_states: vec![(doc.clone(), state)],
                ..Batch::default()
            })
            .unwrap();
        let error = open_conflicts(&store, &assignee, &groups).unwrap_err();
        let OpenConflictsError::DanglingInboxEntry {
            user,
            conflict,
            doc: named,
        } = &error
        else {
            panic!("not a dangling entry: {error}");
        };
        assert_eq!(
            (user.as_str(), *conflict, named),
            (assignee.as_str(), id, &doc)
        );
        assert!(error.to_string().contains("damaged"), "{error}");

        let nowhere = DocKey {
            target: DocId([9; 16]),
            ..doc
        };
        let mut store = MemoryStore::new();
        store
            .commit(Batch {
                inbox_added: vec![(assignee.clone(), id, nowhere)],
                ..Batch::default()
            })
            .unwrap();
        assert!(matches!(
            open_conflicts(&store, &assignee, &groups),
            Err(OpenConflictsError::DanglingInboxEntry { .. })
        ));
        // Outside the groups asked for, an entry is not read, so it is not judged either.
        let g2 = Groups::new(["g2"]).unwrap();
        assert!(open_conflicts(&store, &assignee, &g2).unwrap().is_empty());
    }

    /// A [`MemoryStore`] that counts the document states read through it.
    struct CountingStore<'a> {
        inner: &'a MemoryStore,
        doc_state_reads: std::cell::Cell<usize>,
    }

    impl ReadStore for CountingStore<'_> {
        type Error = <MemoryStore as ReadStore>::Error;

        fn node(
            &self,
            group: &str,
            address: &crate::key::Path,
        ) -> Result<Option<crate::digest::Node>, Self::Error> {
            self.inner.node(group, address)
        }

        fn keys(
            &self,
            group: &str,
            prefix: &crate::key::Path,
            after: Option<&crate::key::Key>,
            limit: usize,
        ) -> Result<Vec<crate::key::Key>, Self::Error> {
            self.inner.keys(group, prefix, after, limit)
        }

        fn event(&self, id: &crate::event::EventId) -> Result<Option<Vec<u8>>, Self::Error> {
            self.inner.event(id)
        }

        fn doc_events(&self, doc: &DocKey) -> Result<Vec<crate::event::EventId>, Self::Error> {
            self.inner.doc_events(doc)
        }

        fn doc_state(&self, doc: &DocKey) -> Result<Option<DocState>, Self::Error> {
            self.doc_state_reads.set(self.doc_state_reads.get() + 1);
            self.inner.doc_state(doc)
        }

        fn docs(
            &self,
            group: &str,
            collection: &str,
        ) -> Result<Vec<(DocKey, DocState)>, Self::Error> {
            self.inner.docs(group, collection)
        }

        fn inbox(&self, user: &str) -> Result<Vec<(ConflictId, DocKey)>, Self::Error> {
            self.inner.inbox(user)
        }
    }

    #[test]
    fn a_documents_state_is_read_once_for_all_its_conflicts() {
        // Guards against reading and decoding a whole document state once per inbox entry,
        // which made one large document with many conflicts cost seconds per listing.
        let create = created("alice", 1_000, "a").seal().unwrap();
        let edit = |creator: &str, wall_ms: u64, value: i64| {
            let fields = ["a", "b", "c", "d"].map(|field| {
                (
                    crate::event::FieldPath(vec![field.to_owned()]),
                    Some(Value::Int(value)),
                )
            });
            Event {
                timestamp: Hlc {
                    wall_ms,
                    counter: 0,
                },
                creator: creator.into(),
                base: vec![create.id()],
                op: Op::Update(crate::event::Patch(fields.to_vec())),
                ..created(creator, wall_ms, "")
            }
            .seal()
            .unwrap()
        };
        let mut store = MemoryStore::new();
        let events = [
            create.clone(),
            edit("alice", 2_000, 1),
            edit("bob", 3_000, 2),
        ];
        replica::apply(&mut store, &events).unwrap();
        let groups = Groups::new(["g1"]).unwrap();
        let counting = CountingStore {
            inner: &store,
            doc_state_reads: std::cell::Cell::new(0),
        };
        let open = open_conflicts(&counting, "alice", &groups).unwrap();
        assert_eq!(open.len(), 4, "one conflict per concurrently edited field");
        assert_eq!(counting.doc_state_reads.get(), 1);
    }
}
