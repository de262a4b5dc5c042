//! Merge scenarios: Edits of fields: sequences, disjoint and overlapping concurrent writes.

use super::*;

/// The scenarios of this part, appended to `all`.
pub(crate) fn scenarios(all: &mut Vec<Scenario>) {
    let mut s = Scenario::new(
        "sequential_edits",
        "A create, then three updates each made after seeing the one before: every write \
         applies in order, nothing conflicts, the last update is the only head.",
    );
    let created = s.add("created", doc(1), ALICE, at(0), &[], create(person()));
    let renamed = s.add(
        "renamed",
        doc(1),
        BOB,
        at(10),
        &[&created],
        set(&["name"], json!("Grace")),
    );
    let moved = s.add(
        "moved",
        doc(1),
        ALICE,
        at(20),
        &[&renamed],
        set(&["address", "city"], json!("Paris")),
    );
    s.add(
        "untagged",
        doc(1),
        CAROL,
        at(30),
        &[&moved],
        update(&[(&["tags"], None)]),
    );
    all.push(s);

    let mut s = Scenario::new(
        "concurrent_disjoint_fields",
        "Three users edit different fields after the same create, none seeing the others: \
         sibling paths do not overlap, so all three apply and there are three heads.",
    );
    let created = s.add("created", doc(2), ALICE, at(0), &[], create(person()));
    s.add(
        "city",
        doc(2),
        ALICE,
        at(20),
        &[&created],
        set(&["address", "city"], json!("Paris")),
    );
    s.add(
        "name",
        doc(2),
        BOB,
        at(10),
        &[&created],
        set(&["name"], json!("Grace")),
    );
    s.add(
        "zip",
        doc(2),
        CAROL,
        at(15),
        &[&created],
        set(&["address", "zip"], json!("69001")),
    );
    all.push(s);

    let mut s = Scenario::new(
        "same_field_conflict",
        "Alice and Bob set the name concurrently: one field conflict at [\"name\"]. Bob's \
         event is later in replay order, so it wins provisionally and Alice is asked. Bob's \
         other write (age) conflicts with nothing and is not part of the conflict.",
    );
    let created = s.add("created", doc(3), ALICE, at(0), &[], create(person()));
    s.add(
        "alice_name",
        doc(3),
        ALICE,
        at(10),
        &[&created],
        set(&["name"], json!("Ada L.")),
    );
    s.add(
        "bob_name_and_age",
        doc(3),
        BOB,
        at(20),
        &[&created],
        update(&[
            (&["name"], Some(json!("Grace"))),
            (&["age"], Some(json!(36))),
        ]),
    );
    all.push(s);

    let mut s = Scenario::new(
        "concurrent_deletes_of_one_field",
        "Alice and Bob both delete the tags field concurrently. Unlike two concurrent removes \
         of a whole document, two deletes of one field are a field conflict: the provisional \
         value is absent and Alice, whose delete is earlier, is asked.",
    );
    let created = s.add("created", doc(4), ALICE, at(0), &[], create(person()));
    s.add(
        "alice_delete",
        doc(4),
        ALICE,
        at(10),
        &[&created],
        update(&[(&["tags"], None)]),
    );
    s.add(
        "bob_delete",
        doc(4),
        BOB,
        at(20),
        &[&created],
        update(&[(&["tags"], None)]),
    );
    all.push(s);

    let mut s = Scenario::new(
        "containing_paths",
        "Two documents. In each, one user replaces the whole address while another sets the \
         city inside it, concurrently: a field conflict at [\"address\"]. In the first the \
         replacement is later and shows whole; in the second the inner write is later and \
         shows on top of the replacement.",
    );
    let created = s.add("created_5", doc(5), ALICE, at(0), &[], create(person()));
    s.add(
        "whole_5",
        doc(5),
        ALICE,
        at(20),
        &[&created],
        set(&["address"], json!({"city": "Rome"})),
    );
    s.add(
        "inner_5",
        doc(5),
        BOB,
        at(10),
        &[&created],
        set(&["address", "city"], json!("Oslo")),
    );
    let created = s.add("created_6", doc(6), ALICE, at(0), &[], create(person()));
    s.add(
        "whole_6",
        doc(6),
        ALICE,
        at(10),
        &[&created],
        set(&["address"], json!({"city": "Rome"})),
    );
    s.add(
        "inner_6",
        doc(6),
        BOB,
        at(20),
        &[&created],
        set(&["address", "city"], json!("Oslo")),
    );
    all.push(s);
}
