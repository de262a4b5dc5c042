//! The vectors of `spec/vectors/fingerprints.json: short ids, fingerprints and the groups digest.

use super::*;

pub(crate) fn generate_fingerprints() -> Json {
    let mut rng = Rng::new(0xF1F1);
    let salts = [Salt([0; 16]), Salt([0xFF; 16]), Salt(rng.bytes())];
    let digests = [Digest([0; 32]), leaf_digest([]), Digest(rng.bytes())];
    let mut fingerprints = Vec::new();
    for salt in &salts {
        for digest in &digests {
            fingerprints.push(json!({
                "salt": hex::encode(salt.0),
                "digest": digest.to_string(),
                "fingerprint": hex::encode(fingerprint(salt, digest).0),
            }));
        }
    }
    let event = create_event(&mut rng, "g000", START_MS, "alice", 4);
    let ids = [EventId([0; 32]), event.id()];
    let mut short_ids = Vec::new();
    for salt in &salts {
        for id in &ids {
            short_ids.push(json!({
                "salt": hex::encode(salt.0),
                "id": id.to_string(),
                "short_id": hex::encode(short_id(salt, id).0),
            }));
        }
    }
    let group_lists: [&[&str]; 5] = [
        &[],
        &["g000"],
        &["team:acme", "personal:alice", "team:acme"],
        &["b", "a.b", "B", "a", "a-b"],
        &["g003", "g002", "g001", "g000"],
    ];
    let salt = salts[2];
    let groups: Vec<Json> = group_lists
        .iter()
        .map(|names| {
            let groups = Groups::new(names.iter().copied()).expect("few groups");
            json!({
                "names": names,
                "sorted": groups.names(),
                "digest": groups.digest().to_string(),
                "salt": hex::encode(salt.0),
                "fingerprint": hex::encode(fingerprint(&salt, &groups.digest()).0),
            })
        })
        .collect();
    let roots: Vec<Digest> = (0..3).map(|_| Digest(rng.bytes())).collect();
    let range_digests: Vec<Json> = [&[][..], &[leaf_digest([])][..], &roots[..1], &roots[..]]
        .iter()
        .map(|roots| {
            json!({
                "roots": roots.iter().map(ToString::to_string).collect::<Vec<_>>(),
                "digest": range_digest(roots).to_string(),
            })
        })
        .collect();
    let range_children: Vec<Json> = [
        (0, 2),
        (0, 16),
        (0, 17),
        (0, 100),
        (0, 257),
        (3, 4),
        (5, 22),
    ]
    .iter()
    .map(|&(start, end)| {
        json!({
            "start": start,
            "end": end,
            "children": range_children(start, end),
        })
    })
    .collect();
    let leaf_ids: Vec<EventId> = (0..LEAF_EVENTS_MAX).map(|_| EventId(rng.bytes())).collect();
    let leaf_digests: Vec<Json> = [0, 1, 2, LEAF_EVENTS_MAX]
        .iter()
        .map(|&len| {
            json!({
                "ids": leaf_ids[..len].iter().map(ToString::to_string).collect::<Vec<_>>(),
                "digest": leaf_digest(&leaf_ids[..len]).to_string(),
            })
        })
        .collect();
    let mut two_children = [None; RADIX];
    two_children[0] = Some(Digest(rng.bytes()));
    two_children[15] = Some(Digest(rng.bytes()));
    let every_child: [Option<Digest>; RADIX] = std::array::from_fn(|_| Some(Digest(rng.bytes())));
    let mut some_children = [None; RADIX];
    for nibble in [1, 4, 9, 10] {
        some_children[nibble] = Some(Digest(rng.bytes()));
    }
    let branch_digests: Vec<Json> = [two_children, some_children, every_child]
        .iter()
        .map(|children| {
            let listed: Vec<Option<String>> = children
                .iter()
                .map(|child| child.map(|digest| digest.to_string()))
                .collect();
            json!({
                "children": listed,
                "bitmap": children_bitmap(children),
                "digest": branch_digest(children).to_string(),
            })
        })
        .collect();
    json!({
        "fingerprints": fingerprints,
        "short_ids": short_ids,
        "groups": groups,
        "range_digests": range_digests,
        "range_children": range_children,
        "leaf_digests": leaf_digests,
        "branch_digests": branch_digests,
    })
}

pub(crate) fn check_fingerprints(document: &Json) {
    for vector in list(document, "fingerprints") {
        let salt = Salt(fixed(vector, "salt"));
        let digest = Digest(fixed(vector, "digest"));
        assert_eq!(
            hex::encode(fingerprint(&salt, &digest).0),
            text(vector, "fingerprint"),
            "fingerprint of {vector}"
        );
    }
    for vector in list(document, "short_ids") {
        let salt = Salt(fixed(vector, "salt"));
        let id = EventId(fixed(vector, "id"));
        assert_eq!(
            hex::encode(short_id(&salt, &id).0),
            text(vector, "short_id"),
            "short id of {vector}"
        );
    }
    for vector in list(document, "groups") {
        let names: Vec<&str> = list(vector, "names")
            .iter()
            .map(|name| name.as_str().expect("group names are strings"))
            .collect();
        let groups = Groups::new(names).expect("few groups");
        assert_same_json(
            &json!(groups.names()),
            field(vector, "sorted"),
            "groups sorted by bytes, without duplicates",
        );
        assert_eq!(
            groups.digest().to_string(),
            text(vector, "digest"),
            "groups digest of {vector}"
        );
        let salt = Salt(fixed(vector, "salt"));
        assert_eq!(
            hex::encode(fingerprint(&salt, &groups.digest()).0),
            text(vector, "fingerprint"),
            "groups fingerprint of {vector}"
        );
    }
    for vector in list(document, "range_digests") {
        let roots: Vec<Digest> = list(vector, "roots")
            .iter()
            .map(|root| Digest(fixed_of(root)))
            .collect();
        assert_eq!(
            range_digest(&roots).to_string(),
            text(vector, "digest"),
            "range digest of {vector}"
        );
    }
    for vector in list(document, "range_children") {
        let start = u32::try_from(number(vector, "start")).expect("a group index");
        let end = u32::try_from(number(vector, "end")).expect("a group index");
        let children = range_children(start, end);
        assert_same_json(
            &json!(children),
            field(vector, "children"),
            "range children",
        );
        // The sub-ranges tile [start, end) in order, at most RADIX of them.
        assert!(children.len() <= RADIX);
        assert_eq!(children[0].0, start);
        assert_eq!(children[children.len() - 1].1, end);
        assert!(children.windows(2).all(|pair| pair[0].1 == pair[1].0));
    }
    for vector in list(document, "leaf_digests") {
        let ids: Vec<EventId> = list(vector, "ids")
            .iter()
            .map(|id| EventId(fixed_of(id)))
            .collect();
        assert_eq!(
            leaf_digest(&ids).to_string(),
            text(vector, "digest"),
            "leaf digest of {vector}"
        );
    }
    for vector in list(document, "branch_digests") {
        let listed = list(vector, "children");
        assert_eq!(listed.len(), RADIX, "a branch lists RADIX children");
        let children: [Option<Digest>; RADIX] = std::array::from_fn(|nibble| {
            (!listed[nibble].is_null()).then(|| Digest(fixed_of(&listed[nibble])))
        });
        assert_eq!(
            u64::from(children_bitmap(&children)),
            number(vector, "bitmap"),
            "bitmap of {vector}"
        );
        assert_eq!(
            branch_digest(&children).to_string(),
            text(vector, "digest"),
            "branch digest of {vector}"
        );
    }
}

#[test]
fn fingerprints_vectors() {
    // Guards against the salted fingerprints, short ids, group digest, range digests or range
    // split changing, any of which makes two versions disagree on every comparison.
    bless_or_check(
        "fingerprints.json",
        "vectors",
        generate_fingerprints,
        check_fingerprints,
    );
}
