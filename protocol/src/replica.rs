//! Applying events to a replica: the tree, the document index, the merged documents and the
//! conflict inboxes change together, in one atomic batch.
//!
//! Only the documents the new events touch are merged again, from their own events: an old
//! event that arrives late costs one document's merge, not a replay of the log. The stored
//! document states are the replica's snapshot.

use std::collections::{BTreeMap, BTreeSet};

use crate::event::{EventError, EventId, VerifiedEvent};
use crate::merge::{materialize, ConflictId, DocKey, DocState};
use crate::store::{Overlay, ReadStore, Store};
use crate::tree::insert_into;

/// Why applying events failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApplyError<E: std::error::Error + 'static> {
    /// The store failed.
    #[error("store: {0}")]
    Store(#[source] E),
    /// A stored event no longer decodes: the store is corrupt.
    #[error("stored event {id} does not decode: {source}")]
    Corrupt {
        /// The event.
        id: EventId,
        /// Why.
        source: EventError,
    },
    /// The document index names an event the store does not hold.
    #[error("the document index names event {0}, which the store does not hold")]
    Missing(EventId),
}

/// Adds `events` to the replica in `store`, merges the documents they touch, and updates the
/// conflict inboxes, all in one batch. Returns the ids of the events that were new.
pub fn apply<S: Store + ?Sized>(
    store: &mut S,
    events: &[VerifiedEvent],
) -> Result<Vec<EventId>, ApplyError<S::Error>> {
    let mut overlay = Overlay::new(&*store);
    let inserted = insert_into(&mut overlay, events).map_err(ApplyError::Store)?;
    let inserted_set: BTreeSet<EventId> = inserted.iter().copied().collect();
    let mut touched = BTreeSet::new();
    for event in events
        .iter()
        .filter(|event| inserted_set.contains(&event.id()))
    {
        let doc = DocKey::of(event.event());
        overlay.put_doc_event(doc.clone(), event.id());
        touched.insert(doc);
    }
    for doc in touched {
        remerge(&mut overlay, doc)?;
    }
    let batch = overlay.into_batch();
    if !batch.is_empty() {
        store.commit(batch).map_err(ApplyError::Store)?;
    }
    Ok(inserted)
}

/// Merges one document again from its events and records the change in the inboxes.
fn remerge<S: ReadStore + ?Sized>(
    overlay: &mut Overlay<'_, S>,
    doc: DocKey,
) -> Result<(), ApplyError<S::Error>> {
    let ids = overlay.doc_events(&doc).map_err(ApplyError::Store)?;
    let mut events = Vec::with_capacity(ids.len());
    for id in ids {
        let bytes = overlay
            .event(&id)
            .map_err(ApplyError::Store)?
            .ok_or(ApplyError::Missing(id))?;
        let event =
            VerifiedEvent::decode(&bytes).map_err(|source| ApplyError::Corrupt { id, source })?;
        events.push(event);
    }
    let state = materialize(&events);
    let old = overlay.doc_state(&doc).map_err(ApplyError::Store)?;
    let old_entries = old.as_ref().map(inbox_entries).unwrap_or_default();
    let new_entries = inbox_entries(&state);
    for (user, id) in old_entries.difference(&new_entries) {
        overlay.inbox_remove(user.clone(), *id);
    }
    for (user, id) in new_entries.difference(&old_entries) {
        overlay.inbox_add(user.clone(), *id, doc.clone());
    }
    overlay.put_doc_state(doc, state);
    Ok(())
}

/// The inbox entries a document state asks for: each assignee of each open conflict.
fn inbox_entries(state: &DocState) -> BTreeSet<(String, ConflictId)> {
    state
        .conflicts
        .iter()
        .flat_map(|conflict| {
            conflict
                .assignees
                .iter()
                .map(|user| (user.clone(), conflict.id))
        })
        .collect()
}

/// Merges every document of `events` from scratch, without a store: the definition
/// [`apply`]'s incremental result must equal. Returns the states by document.
pub fn replay(events: &[VerifiedEvent]) -> BTreeMap<DocKey, DocState> {
    let mut by_doc: BTreeMap<DocKey, Vec<VerifiedEvent>> = BTreeMap::new();
    for event in events {
        by_doc
            .entry(DocKey::of(event.event()))
            .or_default()
            .push(event.clone());
    }
    by_doc
        .into_iter()
        .map(|(doc, events)| (doc, materialize(&events)))
        .collect()
}
