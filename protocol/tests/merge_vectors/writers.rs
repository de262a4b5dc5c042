//! Merge scenarios: Many writers and devices, equal timestamps and skewed clocks.

use super::*;

/// The scenarios of this part, appended to `all`.
pub(crate) fn scenarios(all: &mut Vec<Scenario>) {
    let mut s = Scenario::new(
        "chains_across_five_users",
        "Alice sets the city; Bob, concurrently, replaces the whole address; Carol, after \
         Alice but not Bob, sets the street. Alice and Carol are not concurrent and their \
         paths do not overlap, but each conflicts with Bob, so the three form one conflict at \
         [\"address\"] (a connected component). Dave and Erin set the name concurrently: a \
         second, separate conflict in the same document.",
    );
    let created = s.add("created", doc(13), ALICE, at(0), &[], create(person()));
    let alice = s.add(
        "alice_city",
        doc(13),
        ALICE,
        at(10),
        &[&created],
        set(&["address", "city"], json!("X")),
    );
    s.add(
        "bob_address",
        doc(13),
        BOB,
        at(20),
        &[&created],
        set(&["address"], json!({"zip": "1000"})),
    );
    s.add(
        "carol_street",
        doc(13),
        CAROL,
        at(30),
        &[&alice],
        set(&["address", "street"], json!("Y")),
    );
    s.add(
        "dave_name",
        doc(13),
        DAVE,
        at(15),
        &[&created],
        set(&["name"], json!("D")),
    );
    s.add(
        "erin_name",
        doc(13),
        ERIN,
        at(25),
        &[&created],
        set(&["name"], json!("E")),
    );
    all.push(s);

    let mut s = Scenario::new(
        "one_user_two_devices",
        "Alice sets the name from her laptop and from her phone, and Bob too, all concurrently. \
         Bob's write wins; Alice lost twice but is asked once: assignees are deduplicated.",
    );
    let created = s.add("created", doc(14), ALICE, at(0), &[], create(person()));
    s.add(
        "alice_laptop",
        doc(14),
        ALICE,
        at(10),
        &[&created],
        set(&["name"], json!("A1")),
    );
    s.add(
        "alice_phone",
        doc(14),
        ALICE_PHONE,
        at(20),
        &[&created],
        set(&["name"], json!("A2")),
    );
    s.add(
        "bob",
        doc(14),
        BOB,
        at(30),
        &[&created],
        set(&["name"], json!("B")),
    );
    all.push(s);

    let mut s = Scenario::new(
        "equal_timestamps",
        "Alice and Bob set the name at the same timestamp: the replay order breaks the tie by \
         event id, and the larger id wins. Carol's later counter in the same millisecond orders \
         her after both.",
    );
    let created = s.add("created", doc(15), ALICE, at(0), &[], create(person()));
    s.add(
        "alice_name",
        doc(15),
        ALICE,
        at(10),
        &[&created],
        set(&["name"], json!("A")),
    );
    s.add(
        "bob_name",
        doc(15),
        BOB,
        at(10),
        &[&created],
        set(&["name"], json!("B")),
    );
    s.add(
        "carol_tags",
        doc(15),
        CAROL,
        Hlc {
            wall_ms: START_MS + 10,
            counter: 1,
        },
        &[&created],
        set(&["tags"], json!(["c"])),
    );
    all.push(s);

    let mut s = Scenario::new(
        "skewed_clocks",
        "Bob's and Dave's clocks run behind: their updates carry timestamps earlier than the \
         create they saw. The replay order is topological first, so the create still comes \
         first; among the ready updates Dave (earliest) goes first and Bob wins the name.",
    );
    let created = s.add("created", doc(16), ALICE, at(100), &[], create(person()));
    s.add(
        "bob_name",
        doc(16),
        BOB,
        at(50),
        &[&created],
        set(&["name"], json!("B")),
    );
    s.add(
        "carol_city",
        doc(16),
        CAROL,
        at(60),
        &[&created],
        set(&["address", "city"], json!("C")),
    );
    s.add(
        "dave_name",
        doc(16),
        DAVE,
        at(40),
        &[&created],
        set(&["name"], json!("D")),
    );
    all.push(s);
}
