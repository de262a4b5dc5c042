//! The checker: everything is recomputed from the encodings the file holds.

use super::*;

pub(crate) fn check(document: &Json) {
    text(document, "description");
    let vectors = list(document, "vectors");
    assert!(!vectors.is_empty(), "the file holds vectors");
    let mut names = BTreeSet::new();
    for vector in vectors {
        let name = text(vector, "name");
        assert!(names.insert(name), "vector names are unique: `{name}`");
        check_vector(name, vector);
    }
}

pub(crate) fn check_vector(name: &str, vector: &Json) {
    text(vector, "description");
    let events: Vec<VerifiedEvent> = list(vector, "events")
        .iter()
        .enumerate()
        .map(|(index, encoding)| {
            VerifiedEvent::decode(&bytes_of(encoding)).unwrap_or_else(|error| {
                panic!("vector `{name}`: event {index} does not decode: {error}")
            })
        })
        .collect();
    let ids: Vec<String> = events.iter().map(|event| event.id().to_string()).collect();
    let ids_listed: Vec<&str> = list(vector, "event_ids")
        .iter()
        .map(|id| id.as_str().expect("ids are strings"))
        .collect();
    assert_eq!(ids, ids_listed, "vector `{name}`: event ids");
    assert_eq!(
        list(vector, "labels").len(),
        events.len(),
        "vector `{name}`: one label per event"
    );

    let expected = field(vector, "documents");
    for document in expected.as_array().expect("documents is an array") {
        // The state bytes decode to the state the rendering describes.
        let state: DocState = postcard::from_bytes(&bytes_of(field(document, "state_hex")))
            .unwrap_or_else(|error| panic!("vector `{name}`: state_hex does not decode: {error}"));
        let key = DocKey {
            group: text(document, "group").to_owned(),
            collection: text(document, "collection").to_owned(),
            target: DocId::from_hex(text(document, "target")).expect("a document id"),
        };
        assert_same_json(
            &document_json(&key, &state),
            document,
            &format!("vector `{name}`: decoded state_hex"),
        );
    }

    let replayed = replay(&events);
    assert_same_json(
        &documents_json(&replayed),
        expected,
        &format!("vector `{name}`: replay"),
    );

    let orders: Vec<Vec<usize>> = list(vector, "arrival_orders")
        .iter()
        .map(|order| {
            let order: Vec<usize> = serde_json::from_value(order.clone())
                .unwrap_or_else(|error| panic!("vector `{name}`: bad arrival order: {error}"));
            let mut seen = order.clone();
            seen.sort_unstable();
            assert_eq!(
                seen,
                (0..events.len()).collect::<Vec<_>>(),
                "vector `{name}`: an arrival order lists every event once"
            );
            order
        })
        .collect();
    let distinct: BTreeSet<&Vec<usize>> = orders.iter().collect();
    assert!(
        distinct.len() >= 2,
        "vector `{name}`: at least two different arrival orders"
    );

    for (number, order) in orders.iter().enumerate() {
        let arriving: Vec<VerifiedEvent> =
            order.iter().map(|&index| events[index].clone()).collect();
        for batch_len in [1, 2, 3, arriving.len()] {
            let context =
                format!("vector `{name}`, arrival order {number}, batches of {batch_len}");
            let mut store = MemoryStore::new();
            for batch in arriving.chunks(batch_len) {
                apply(&mut store, batch).expect("the memory store does not fail");
            }
            assert_same_json(&documents_json(store.all_docs()), expected, &context);
            check_inboxes(&store, &replayed, &context);
            // Everything arriving a second time changes nothing.
            apply(&mut store, &arriving).expect("the memory store does not fail");
            assert_eq!(
                store.all_docs(),
                &replayed,
                "{context}: after a second delivery"
            );
        }
    }
}

/// Every assignee's inbox lists exactly the conflicts assigned to them.
pub(crate) fn check_inboxes(
    store: &MemoryStore,
    states: &BTreeMap<DocKey, DocState>,
    context: &str,
) {
    let mut expected: BTreeMap<String, Vec<_>> = BTreeMap::new();
    for (key, state) in states {
        for conflict in &state.conflicts {
            for user in &conflict.assignees {
                expected
                    .entry(user.clone())
                    .or_default()
                    .push((conflict.id, key.clone()));
            }
        }
    }
    for (user, mut conflicts) in expected {
        conflicts.sort();
        assert_eq!(
            store.inbox(&user).expect("the memory store does not fail"),
            conflicts,
            "{context}: inbox of {user}"
        );
    }
}
