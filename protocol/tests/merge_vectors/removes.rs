//! Merge scenarios: Removes against edits, against each other, and recreations.

use super::*;

/// The scenarios of this part, appended to `all`.
pub(crate) fn scenarios(all: &mut Vec<Scenario>) {
    let mut s = Scenario::new(
        "edit_versus_remove",
        "Bob removes the document while Alice, not having seen it, renames it. A remove \
         conflict at the root: the remove is skipped in the provisional state, so the document \
         stays with Alice's edit, and Bob (the remover) is asked.",
    );
    let created = s.add("created", doc(7), ALICE, at(0), &[], create(person()));
    s.add("bob_remove", doc(7), BOB, at(20), &[&created], Op::Remove);
    s.add(
        "alice_name",
        doc(7),
        ALICE,
        at(10),
        &[&created],
        set(&["name"], json!("Grace")),
    );
    all.push(s);

    let mut s = Scenario::new(
        "remove_versus_several_edits",
        "Bob removes the document while Alice and Carol set the name concurrently and Dave, \
         after Alice, sets the city. Every edit overlaps the remove, so all four events form \
         one remove conflict; only the remover is asked, and the winner is the edit latest in \
         replay order.",
    );
    let created = s.add("created", doc(8), ALICE, at(0), &[], create(person()));
    s.add("bob_remove", doc(8), BOB, at(30), &[&created], Op::Remove);
    let alice = s.add(
        "alice_name",
        doc(8),
        ALICE,
        at(10),
        &[&created],
        set(&["name"], json!("A")),
    );
    s.add(
        "carol_name",
        doc(8),
        CAROL,
        at(20),
        &[&created],
        set(&["name"], json!("C")),
    );
    s.add(
        "dave_city",
        doc(8),
        DAVE,
        at(25),
        &[&alice],
        set(&["address", "city"], json!("Nice")),
    );
    all.push(s);

    let mut s = Scenario::new(
        "remove_conflict_over_an_absent_document",
        "Bob and Dave remove the document concurrently; Carol, having seen only Bob's remove, \
         updates the absent document (which changes nothing). Carol's update is concurrent with \
         Dave's remove, so they form a remove conflict and Dave's remove is skipped, but Bob's \
         remove is in no conflict and applies: the document stays absent, the conflict's \
         provisional value is absent, and Dave is asked.",
    );
    let created = s.add("created", doc(27), ALICE, at(0), &[], create(person()));
    let bob = s.add("bob_remove", doc(27), BOB, at(10), &[&created], Op::Remove);
    s.add(
        "dave_remove",
        doc(27),
        DAVE,
        at(20),
        &[&created],
        Op::Remove,
    );
    s.add(
        "carol_update",
        doc(27),
        CAROL,
        at(30),
        &[&bob],
        set(&["name"], json!("X")),
    );
    all.push(s);

    let mut s = Scenario::new(
        "concurrent_removes",
        "Alice and Bob both remove the document, concurrently: they agree, nobody has anything \
         to decide, so there is no conflict. The document is absent and both removes are heads.",
    );
    let created = s.add("created", doc(9), ALICE, at(0), &[], create(person()));
    s.add(
        "alice_remove",
        doc(9),
        ALICE,
        at(10),
        &[&created],
        Op::Remove,
    );
    s.add("bob_remove", doc(9), BOB, at(20), &[&created], Op::Remove);
    all.push(s);

    let mut s = Scenario::new(
        "duplicate_create",
        "Alice and Bob create the same document id, neither aware of the other: a create \
         conflict. Bob's create is later and shows; Alice is asked.",
    );
    s.add(
        "alice_create",
        doc(10),
        ALICE,
        at(0),
        &[],
        create(json!({"name": "Ada"})),
    );
    s.add(
        "bob_create",
        doc(10),
        BOB,
        at(5),
        &[],
        create(json!({"name": "Other", "x": 1})),
    );
    all.push(s);

    let mut s = Scenario::new(
        "recreation_after_remove",
        "Bob removes the document; Alice, having seen the remove, creates it again: a \
         re-creation, not a conflict.",
    );
    let created = s.add("created", doc(11), ALICE, at(0), &[], create(person()));
    let removed = s.add("removed", doc(11), BOB, at(10), &[&created], Op::Remove);
    s.add(
        "recreated",
        doc(11),
        ALICE,
        at(20),
        &[&removed],
        create(json!({"name": "New"})),
    );
    all.push(s);

    let mut s = Scenario::new(
        "update_after_remove",
        "Carol updates the document after seeing it removed: an update to an absent document \
         changes nothing, and it is not concurrent with the remove, so there is no conflict.",
    );
    let created = s.add("created", doc(12), ALICE, at(0), &[], create(person()));
    let removed = s.add("removed", doc(12), BOB, at(10), &[&created], Op::Remove);
    s.add(
        "late_update",
        doc(12),
        CAROL,
        at(20),
        &[&removed],
        set(&["name"], json!("X")),
    );
    all.push(s);
}
