//! Merge scenarios: Conflicts that a later event resolves.

use super::*;

/// The scenarios of this part, appended to `all`.
pub(crate) fn scenarios(all: &mut Vec<Scenario>) {
    let mut s = Scenario::new(
        "resolution_clears_conflict",
        "Alice and Bob set the name concurrently; Alice then resolves the conflict with an \
         update whose base is the document's heads. It overwrites both writes, so the conflict \
         is gone.",
    );
    let created = s.add("created", doc(17), ALICE, at(0), &[], create(person()));
    s.add(
        "alice_name",
        doc(17),
        ALICE,
        at(10),
        &[&created],
        set(&["name"], json!("A")),
    );
    s.add(
        "bob_name",
        doc(17),
        BOB,
        at(20),
        &[&created],
        set(&["name"], json!("B")),
    );
    s.resolve(
        "resolved",
        doc(17),
        ALICE,
        at(30),
        Decision::Keep(value(json!("A+B"))),
    );
    all.push(s);

    let resolution_steps = |with_second: bool| {
        let mut s = Scenario::new(
            if with_second {
                "resolution_of_resolutions"
            } else {
                "resolution_concurrent_with_an_edit"
            },
            if with_second {
                "The history of resolution_concurrent_with_an_edit, then Alice resolves the new \
                 conflict by deleting the name, with the heads (her first resolution and Carol's \
                 edit) as base: no conflict is left and the name is absent."
            } else {
                "Alice resolves the name conflict, but Carol, who saw only Bob's edit, sets the \
                 name concurrently with the resolution: the resolution is itself in a field \
                 conflict with Carol's edit, with a new id. Carol's edit is later and wins; \
                 Alice is asked again."
            },
        );
        let created = s.add("created", doc(18), ALICE, at(0), &[], create(person()));
        s.add(
            "alice_name",
            doc(18),
            ALICE,
            at(10),
            &[&created],
            set(&["name"], json!("A")),
        );
        let bob = s.add(
            "bob_name",
            doc(18),
            BOB,
            at(20),
            &[&created],
            set(&["name"], json!("B")),
        );
        s.resolve(
            "resolved",
            doc(18),
            ALICE,
            at(30),
            Decision::Keep(value(json!("A+B"))),
        );
        s.add(
            "carol_name",
            doc(18),
            CAROL,
            at(35),
            &[&bob],
            set(&["name"], json!("C")),
        );
        if with_second {
            s.resolve("resolved_again", doc(18), ALICE, at(40), Decision::Delete);
        }
        s
    };
    all.push(resolution_steps(false));
    all.push(resolution_steps(true));

    let mut s = Scenario::new(
        "remove_and_create_conflicts_resolved",
        "Two documents. In the first, Bob (asked about his remove concurrent with Alice's edit) \
         decides to delete: the resolution is a remove whose base covers both, and the \
         document is absent. In the second, Alice decides a duplicate create by keeping a new \
         whole document: the resolution is a create.",
    );
    let created = s.add("created_19", doc(19), ALICE, at(0), &[], create(person()));
    s.add("bob_remove", doc(19), BOB, at(20), &[&created], Op::Remove);
    s.add(
        "alice_name",
        doc(19),
        ALICE,
        at(10),
        &[&created],
        set(&["name"], json!("Grace")),
    );
    s.resolve("bob_decides", doc(19), BOB, at(30), Decision::Delete);
    s.add(
        "alice_create",
        doc(20),
        ALICE,
        at(0),
        &[],
        create(json!({"name": "Ada"})),
    );
    s.add(
        "bob_create",
        doc(20),
        BOB,
        at(5),
        &[],
        create(json!({"name": "Other"})),
    );
    s.resolve(
        "alice_decides",
        doc(20),
        ALICE,
        at(30),
        Decision::Keep(value(json!({"name": "Ada", "merged": true}))),
    );
    all.push(s);
}
