//! Writing a local event: the one path by which a replica turns a user's change into a stored
//! event. It picks the timestamp (spec §4.4), the id of a new document (§4.5) and the base
//! (§9.6, the document's current heads; for a resolution, §9.7), seals the event and applies
//! it to the replica's store.
//!
//! Like the rest of this crate it has no clock and no random number generator: the host passes
//! the wall clock and the random bytes in a [`WriteContext`], and the last timestamp it issued
//! or observed. The reference client passes the system clock (or, in its tests, fixed times);
//! the simulation passes its simulated clocks and seeded bytes, so both drive this same code.
//!
//! A write has two steps, [`seal`] (read the store, build and seal the event) and
//! [`LocalEvent::apply`] (store it); [`write()`] does both. A host that keeps its clock apart from
//! its store, as the client does in `config.json`, saves [`LocalEvent::hlc`] between the two,
//! so that after a crash its clock is ahead of its stored events, never behind.

use crate::event::{DocId, Event, EventError, EventId, Hlc, Op, Patch, ReplicaId, VerifiedEvent};
use crate::merge::{resolution, ConflictId, Decision, DocKey, DocState};
use crate::replica::{apply, ApplyError};
use crate::store::{ReadStore, Store};
use crate::value::Value;

/// How many random bytes a new document id takes: `r0` to `r9` of spec §4.5.
pub const DOC_ID_RANDOM_BYTES: usize = 10;

/// The time and the randomness of one write, which the host supplies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriteContext {
    /// The host's wall clock, in milliseconds since the Unix epoch.
    pub now_ms: u64,
    /// Random bytes for the id of a new document; writes to an existing document ignore them.
    pub random: [u8; DOC_ID_RANDOM_BYTES],
}

/// Who writes: the event's `creator` and `origin`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Author<'a> {
    /// The user on whose behalf the replica writes.
    pub user: &'a str,
    /// The replica that writes.
    pub replica: ReplicaId,
}

/// What a local write does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteOp {
    /// Creates a document with a new id holding this object.
    Create(Value),
    /// Changes fields of a document that exists and was not removed.
    Update {
        /// The document.
        target: DocId,
        /// The fields to set or delete.
        patch: Patch,
    },
    /// Removes a document that exists and was not removed.
    Remove {
        /// The document.
        target: DocId,
    },
    /// Resolves an open conflict of a document with `decision` (spec §9.7).
    Resolve {
        /// The document.
        target: DocId,
        /// The conflict, which must be open on the document.
        conflict: ConflictId,
        /// What to keep.
        decision: Decision,
    },
}

/// A local write: where, and what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalWrite<'a> {
    /// The document's group.
    pub group: &'a str,
    /// The document's collection.
    pub collection: &'a str,
    /// What to do.
    pub op: WriteOp,
}

/// Why a local write was refused or failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError<E: std::error::Error + 'static> {
    /// Reading the store failed.
    #[error("store: {0}")]
    Store(#[source] E),
    /// The document of an update, remove or resolution has no events in the store.
    #[error(
        "document {} does not exist in {}/{}; write to a document the replica holds",
        doc.target, doc.group, doc.collection
    )]
    DocumentNotFound {
        /// The document.
        doc: DocKey,
    },
    /// The document of an update or remove was removed.
    #[error(
        "document {} in {}/{} was removed; create a new document instead",
        doc.target, doc.group, doc.collection
    )]
    DocumentRemoved {
        /// The document.
        doc: DocKey,
    },
    /// A create's new id names a document the store already holds: the random bytes repeated.
    #[error(
        "the new document id {} is taken in {}/{}; pass fresh random bytes",
        doc.target, doc.group, doc.collection
    )]
    DocumentIdTaken {
        /// The document.
        doc: DocKey,
    },
    /// The document has no open conflict with this id.
    #[error(
        "document {} in {}/{} has no open conflict {conflict}; it may be resolved already",
        doc.target, doc.group, doc.collection
    )]
    ConflictNotFound {
        /// The document.
        doc: DocKey,
        /// The conflict asked for.
        conflict: ConflictId,
    },
    /// The event breaks a rule of the event model (a bad name, a base over its limit, a
    /// timestamp out of range, ...).
    #[error("the change cannot be written: {0}")]
    Event(#[from] EventError),
    /// Storing the event failed.
    #[error(transparent)]
    Apply(ApplyError<E>),
}

/// An event this replica wrote, sealed.
///
/// Its timestamp is greater than the last timestamp [`seal`] was given: it is the replica's
/// new last timestamp.
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use]
pub struct LocalEvent {
    event: VerifiedEvent,
}

impl LocalEvent {
    /// The event.
    pub fn event(&self) -> &VerifiedEvent {
        &self.event
    }

    /// The event, by value.
    pub fn into_event(self) -> VerifiedEvent {
        self.event
    }

    /// The replica's last timestamp after this write: the event's own.
    pub fn hlc(&self) -> Hlc {
        self.event.event().timestamp
    }

    /// The document the event changes.
    pub fn doc(&self) -> DocKey {
        DocKey::of(self.event.event())
    }

    /// Stores the event in the replica's `store` with [`apply`] (tree, documents and inboxes
    /// in one batch).
    ///
    /// # Panics
    ///
    /// If the store holds the event already: its timestamp is newer than every event this
    /// replica wrote before, so only applying the same `LocalEvent` twice can do that.
    pub fn apply<S: Store + ?Sized>(&self, store: &mut S) -> Result<(), ApplyError<S::Error>> {
        let inserted = apply(store, std::slice::from_ref(&self.event))?;
        assert_eq!(
            inserted,
            [self.event.id()],
            "a freshly written event is new"
        );
        Ok(())
    }
}

/// Builds and seals the event of `write` on the replica in `store`, without storing it.
///
/// `last` is the last timestamp the replica issued or observed; the event's timestamp is
/// `Hlc::tick(last, context.now_ms)`. A create gets a new document id from that timestamp's
/// `wall_ms` and `context.random`, and an empty base; an update, remove or resolution gets the
/// document's current heads as its base. Nothing is written, so on an error the replica's last
/// timestamp stays `last`.
pub fn seal<S: ReadStore + ?Sized>(
    store: &S,
    author: Author<'_>,
    last: Hlc,
    context: WriteContext,
    write: LocalWrite<'_>,
) -> Result<LocalEvent, WriteError<S::Error>> {
    let timestamp = Hlc::tick(last, context.now_ms);
    let doc_key = |target| DocKey {
        group: write.group.to_owned(),
        collection: write.collection.to_owned(),
        target,
    };
    let event = match write.op {
        WriteOp::Create(document) => {
            // The id carries the creation time as the event records it, so a replica's ids
            // follow its clock even when the wall clock steps back.
            let doc = doc_key(DocId::new(timestamp.wall_ms, context.random));
            if store.doc_state(&doc).map_err(WriteError::Store)?.is_some() {
                return Err(WriteError::DocumentIdTaken { doc });
            }
            // A new document has no events yet, so its create has an empty base.
            event_on(doc, Vec::new(), timestamp, author, Op::Create(document))
        }
        WriteOp::Update { target, patch } => {
            let doc = doc_key(target);
            let heads = live_state(store, &doc)?.heads;
            event_on(doc, heads, timestamp, author, Op::Update(patch))
        }
        WriteOp::Remove { target } => {
            let doc = doc_key(target);
            let heads = live_state(store, &doc)?.heads;
            event_on(doc, heads, timestamp, author, Op::Remove)
        }
        WriteOp::Resolve {
            target,
            conflict,
            decision,
        } => {
            let doc = doc_key(target);
            let state = stored_state(store, &doc)?;
            let Some(open) = state.conflicts.iter().find(|open| open.id == conflict) else {
                return Err(WriteError::ConflictNotFound { doc, conflict });
            };
            // The resolution's base is the document's heads, which reach every competing event.
            let (user, replica) = (author.user, author.replica);
            resolution(&doc, &state, open, decision, user, replica, timestamp)
        }
    };
    let event = event.seal()?;
    // A valid timestamp is below 2^48 ms, where `tick` always moves forward: the replica's own
    // events are ordered by their timestamps.
    assert!(
        event.event().timestamp > last,
        "a new event ticks the clock"
    );
    Ok(LocalEvent { event })
}

/// [`seal`]s the event of `write` and [`LocalEvent::apply`]s it to `store`: for a host whose
/// clock needs no saving between the two (one kept in memory, or in the same store).
pub fn write<S: Store + ?Sized>(
    store: &mut S,
    author: Author<'_>,
    last: Hlc,
    context: WriteContext,
    write: LocalWrite<'_>,
) -> Result<LocalEvent, WriteError<S::Error>> {
    let event = seal(&*store, author, last, context, write)?;
    event.apply(store).map_err(WriteError::Apply)?;
    Ok(event)
}

/// The event `author` writes on `doc` at `timestamp`, after `base`.
fn event_on(doc: DocKey, base: Vec<EventId>, timestamp: Hlc, author: Author<'_>, op: Op) -> Event {
    Event {
        group: doc.group,
        collection: doc.collection,
        target: doc.target,
        timestamp,
        creator: author.user.to_owned(),
        origin: author.replica,
        base,
        op,
    }
}

/// The stored state of `doc`, which must exist.
fn stored_state<S: ReadStore + ?Sized>(
    store: &S,
    doc: &DocKey,
) -> Result<DocState, WriteError<S::Error>> {
    store
        .doc_state(doc)
        .map_err(WriteError::Store)?
        .ok_or_else(|| WriteError::DocumentNotFound { doc: doc.clone() })
}

/// The stored state of `doc` if a user can see it: it exists and was not removed. Updates and
/// removes write only to such a document, and the client reads documents by the same rule.
pub fn live_state<S: ReadStore + ?Sized>(
    store: &S,
    doc: &DocKey,
) -> Result<DocState, WriteError<S::Error>> {
    let state = stored_state(store, doc)?;
    if state.value.is_none() {
        return Err(WriteError::DocumentRemoved { doc: doc.clone() });
    }
    Ok(state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::FieldPath;
    use crate::merge::ConflictKind;
    use crate::store::MemoryStore;

    const ALICE: Author<'static> = Author {
        user: "alice",
        replica: ReplicaId([1; 16]),
    };
    const BOB: Author<'static> = Author {
        user: "bob",
        replica: ReplicaId([2; 16]),
    };
    const START: Hlc = Hlc {
        wall_ms: 1_000,
        counter: 0,
    };

    fn at(now_ms: u64) -> WriteContext {
        WriteContext {
            now_ms,
            random: [7; DOC_ID_RANDOM_BYTES],
        }
    }

    fn on(op: WriteOp) -> LocalWrite<'static> {
        LocalWrite {
            group: "team",
            collection: "notes",
            op,
        }
    }

    fn title(value: &str) -> Patch {
        Patch(vec![(
            FieldPath(vec!["title".into()]),
            Some(Value::String(value.into())),
        )])
    }

    fn document(value: &str) -> Value {
        Value::Object(vec![("title".into(), Value::String(value.into()))])
    }

    fn state(store: &MemoryStore, target: DocId) -> DocState {
        let doc = DocKey {
            group: "team".into(),
            collection: "notes".into(),
            target,
        };
        stored_state(store, &doc).unwrap()
    }

    /// A store holding one document created by Alice at `START`, and its create.
    fn created() -> (MemoryStore, LocalEvent) {
        let mut store = MemoryStore::new();
        let create = on(WriteOp::Create(document("Tides")));
        let created = write(&mut store, ALICE, START, at(2_000), create).unwrap();
        (store, created)
    }

    #[test]
    fn a_create_gets_a_new_id_from_its_timestamp_and_an_empty_base() {
        // Guards against a create whose id ignores the host's time or bytes (spec §4.5), or
        // that names a base although the document is new.
        let (store, created) = created();
        let event = &created.event().event();
        assert_eq!(event.target, DocId::new(2_000, [7; DOC_ID_RANDOM_BYTES]));
        assert!(event.base.is_empty());
        assert_eq!(
            (event.creator.as_str(), event.origin),
            ("alice", ALICE.replica)
        );
        assert_eq!(
            created.hlc(),
            Hlc {
                wall_ms: 2_000,
                counter: 0
            }
        );
        assert_eq!(created.doc().target, event.target);
        assert_eq!(state(&store, event.target).heads, [created.event().id()]);
    }

    #[test]
    fn the_timestamp_ticks_past_the_last_even_when_the_clock_is_behind() {
        // Guards against a local event ordered before one the replica wrote or saw (§4.4).
        let (mut store, created) = created();
        let target = created.event().event().target;
        let behind = on(WriteOp::Update {
            target,
            patch: title("Moon"),
        });
        let updated = write(&mut store, ALICE, created.hlc(), at(1_500), behind).unwrap();
        assert_eq!(
            updated.hlc(),
            Hlc {
                wall_ms: 2_000,
                counter: 1
            }
        );
        let ahead = on(WriteOp::Remove { target });
        let removed = write(&mut store, ALICE, updated.hlc(), at(3_000), ahead).unwrap();
        assert_eq!(
            removed.hlc(),
            Hlc {
                wall_ms: 3_000,
                counter: 0
            }
        );
        // The id of a document created while the clock is behind follows the timestamp.
        let create = on(WriteOp::Create(document("Moon")));
        let again = write(&mut store, ALICE, removed.hlc(), at(10), create).unwrap();
        assert_eq!(
            again.event().event().target,
            DocId::new(3_000, [7; DOC_ID_RANDOM_BYTES])
        );
    }

    #[test]
    fn updates_and_removes_follow_the_heads_of_a_live_document() {
        // Guards against an edit whose base misses the document's heads (§9.6), which merge
        // would take for a concurrent edit, and against edits of unseen documents.
        let (mut store, created) = created();
        let target = created.event().event().target;
        let update = on(WriteOp::Update {
            target,
            patch: title("Moon"),
        });
        let updated = write(&mut store, ALICE, created.hlc(), at(2_001), update).unwrap();
        assert_eq!(updated.event().event().base, [created.event().id()]);
        let remove = on(WriteOp::Remove { target });
        let removed = write(&mut store, ALICE, updated.hlc(), at(2_002), remove).unwrap();
        assert_eq!(removed.event().event().base, [updated.event().id()]);
        assert_eq!(removed.event().event().op, Op::Remove);

        let last = removed.hlc();
        let events_len = store.events_len();
        let update = on(WriteOp::Update {
            target,
            patch: title("Sun"),
        });
        let error = write(&mut store, ALICE, last, at(2_003), update).unwrap_err();
        assert!(
            matches!(error, WriteError::DocumentRemoved { .. }),
            "{error}"
        );
        let unknown = DocId([9; 16]);
        let error = write(
            &mut store,
            ALICE,
            last,
            at(2_003),
            on(WriteOp::Remove { target: unknown }),
        )
        .unwrap_err();
        assert!(
            matches!(error, WriteError::DocumentNotFound { .. }),
            "{error}"
        );
        assert_eq!(
            store.events_len(),
            events_len,
            "refused writes store nothing"
        );
    }

    #[test]
    fn invalid_events_and_repeated_ids_are_refused_before_the_store() {
        // Guards against a write that stores an event the protocol forbids, or a create that
        // silently joins an existing document.
        let (mut store, created) = created();
        let bad = LocalWrite {
            collection: "bad collection",
            ..on(WriteOp::Create(document("x")))
        };
        let error = write(&mut store, ALICE, created.hlc(), at(2_001), bad).unwrap_err();
        assert!(
            matches!(error, WriteError::Event(EventError::CollectionInvalid)),
            "{error}"
        );
        // Same time, same bytes: the same id as the first create.
        let create = on(WriteOp::Create(document("x")));
        let error = write(&mut store, ALICE, START, at(2_000), create).unwrap_err();
        assert!(
            matches!(error, WriteError::DocumentIdTaken { .. }),
            "{error}"
        );
        assert_eq!(store.events_len(), 1);
    }

    #[test]
    fn a_resolution_closes_the_conflict_of_two_concurrent_edits() {
        // Guards against a resolution that misses a competing event (§9.7) and so leaves the
        // conflict open.
        let (mut store, created) = created();
        let target = created.event().event().target;
        // Both edits are sealed before either is stored: each only saw the create.
        let alice = seal(
            &store,
            ALICE,
            created.hlc(),
            at(2_001),
            on(WriteOp::Update {
                target,
                patch: title("Mine"),
            }),
        )
        .unwrap();
        let bob = seal(
            &store,
            BOB,
            Hlc::default(),
            at(2_002),
            on(WriteOp::Update {
                target,
                patch: title("Theirs"),
            }),
        )
        .unwrap();
        alice.apply(&mut store).unwrap();
        bob.apply(&mut store).unwrap();
        let conflict = state(&store, target).conflicts[0].clone();
        assert_eq!(conflict.kind, ConflictKind::Field);

        let resolve = |conflict| {
            on(WriteOp::Resolve {
                target,
                conflict,
                decision: Decision::Keep(Value::String("Both".into())),
            })
        };
        let unknown = ConflictId([5; 32]);
        let error = write(&mut store, ALICE, alice.hlc(), at(2_003), resolve(unknown)).unwrap_err();
        assert!(
            matches!(error, WriteError::ConflictNotFound { .. }),
            "{error}"
        );
        let resolved = write(
            &mut store,
            ALICE,
            alice.hlc(),
            at(2_003),
            resolve(conflict.id),
        )
        .unwrap();
        let mut heads = vec![alice.event().id(), bob.event().id()];
        heads.sort();
        assert_eq!(resolved.event().event().base, heads);
        let after = state(&store, target);
        assert!(after.conflicts.is_empty());
        assert_eq!(after.value, Some(document("Both")));
        assert!(store.inbox("alice").unwrap().is_empty());
    }
}
