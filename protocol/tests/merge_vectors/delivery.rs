//! Merge scenarios: Bases outside the set, duplicates, patch application, document identity, and a seeded history.

use super::*;

/// The scenarios of this part, appended to `all`.
pub(crate) fn scenarios(all: &mut Vec<Scenario>) {
    let mut s = Scenario::new(
        "base_not_in_set",
        "Three documents. In the first, Carol's update names in its base a create that is not \
         in the set: the entry is ignored, the update applies to an absent document and \
         changes nothing. In the second, Bob's update names in its base its own document's \
         create and Carol's update of the first document: the foreign entry is ignored and \
         the history is sequential. In the third, Dave's update names only an event that is \
         not in the set, so it is concurrent with the create it never saw: a field conflict at \
         the root.",
    );
    let unseen = event_in(
        GROUP,
        COLLECTION,
        doc(21),
        ALICE,
        at(0),
        &[],
        create(person()),
    );
    let carol = s.add(
        "carol_update_21",
        doc(21),
        CAROL,
        at(10),
        &[&unseen],
        set(&["name"], json!("X")),
    );
    let created = s.add("created_22", doc(22), ALICE, at(0), &[], create(person()));
    s.add(
        "bob_update_22",
        doc(22),
        BOB,
        at(10),
        &[&created, &carol],
        set(&["name"], json!("Y")),
    );
    s.add("created_23", doc(23), ALICE, at(20), &[], create(person()));
    s.add(
        "dave_update_23",
        doc(23),
        DAVE,
        at(10),
        &[&unseen],
        set(&["name"], json!("W")),
    );
    all.push(s);

    let mut s = Scenario::new(
        "duplicate_delivery",
        "The same update is listed twice (entries 1 and 2 are the same bytes). A replica keeps \
         each event once, so the result is that of the set without the duplicate.",
    );
    let created = s.add("created", doc(24), ALICE, at(0), &[], create(person()));
    let renamed = s.add(
        "renamed",
        doc(24),
        BOB,
        at(10),
        &[&created],
        set(&["name"], json!("Grace")),
    );
    s.push("renamed_again", renamed.clone());
    s.add(
        "city",
        doc(24),
        CAROL,
        at(20),
        &[&renamed],
        set(&["address", "city"], json!("Paris")),
    );
    all.push(s);

    let mut s = Scenario::new(
        "patch_application",
        "How writes change a document: a set through a string replaces it with an object, a \
         set through an array replaces it with an object keyed by the segment, a set under \
         missing fields creates them as objects, a delete under a missing field or a \
         non-object does nothing, a delete removes the key, and setting null keeps the key.",
    );
    let created = s.add(
        "created",
        doc(25),
        ALICE,
        at(0),
        &[],
        create(json!({"a": "text", "list": [1, 2], "n": {"x": 1, "y": 2}, "name": "Ada"})),
    );
    let first = s.add(
        "first",
        doc(25),
        BOB,
        at(10),
        &[&created],
        update(&[
            (&["a", "b"], Some(json!(1))),
            (&["list", "0"], Some(json!("zero"))),
            (&["m", "k", "deep"], Some(json!(true))),
            (&["n", "x"], None),
            (&["z", "q"], None),
        ]),
    );
    s.add(
        "second",
        doc(25),
        CAROL,
        at(20),
        &[&first],
        update(&[(&["n", "y", "inner"], None), (&["name"], Some(Json::Null))]),
    );
    all.push(s);

    let mut s = Scenario::new(
        "documents_are_group_collection_and_target",
        "One target id in three documents: (team:acme, people), (team:acme, notes) and \
         (team:beta, people). Concurrent edits in different documents never conflict; the \
         concurrent edits inside (team:acme, people) do.",
    );
    let target = doc(26);
    let people = s.push(
        "people_created",
        event_in(
            GROUP,
            COLLECTION,
            target,
            ALICE,
            at(0),
            &[],
            create(person()),
        ),
    );
    let notes = s.push(
        "notes_created",
        event_in(
            GROUP,
            "notes",
            target,
            BOB,
            at(1),
            &[],
            create(json!({"title": "T"})),
        ),
    );
    let beta = s.push(
        "beta_created",
        event_in(
            "team:beta",
            COLLECTION,
            target,
            CAROL,
            at(2),
            &[],
            create(person()),
        ),
    );
    s.push(
        "people_alice",
        event_in(
            GROUP,
            COLLECTION,
            target,
            ALICE,
            at(10),
            &[people.id()],
            set(&["name"], json!("A")),
        ),
    );
    s.push(
        "people_bob",
        event_in(
            GROUP,
            COLLECTION,
            target,
            BOB,
            at(11),
            &[people.id()],
            set(&["name"], json!("B")),
        ),
    );
    s.push(
        "notes_bob",
        event_in(
            GROUP,
            "notes",
            target,
            BOB,
            at(12),
            &[notes.id()],
            set(&["name"], json!("N")),
        ),
    );
    s.push(
        "beta_carol",
        event_in(
            "team:beta",
            COLLECTION,
            target,
            CAROL,
            at(13),
            &[beta.id()],
            set(&["name"], json!("C")),
        ),
    );
    all.push(s);

    let mut s = Scenario::new(
        "seeded_history",
        "Forty events over three documents from a fixed seed: creates, removes, re-creations, \
         updates at nested paths and deletes by four users, each written after a random part \
         of its document's history, with clustered timestamps.",
    );
    for (index, event) in random_history(20_261_126).into_iter().take(40).enumerate() {
        s.push(&format!("event_{index}"), event);
    }
    all.push(s);
}
