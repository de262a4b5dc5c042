//! Random hostile items that decode, from proptest strategies with a fixed seed.

use super::*;

pub(crate) fn group_strategy() -> impl Strategy<Value = u32> {
    prop_oneof![
        6 => 0..GROUP_OUT_OF_RANGE,
        1 => GROUP_OUT_OF_RANGE..GROUP_OUT_OF_RANGE + 3,
        1 => Just(u32::MAX),
    ]
}

/// A key the fixture holds, with its group's index.
pub(crate) fn held_key() -> impl Strategy<Value = (u32, Key)> {
    any::<Index>().prop_map(|index| {
        let keys = &fixture().keys;
        keys[index.index(keys.len())]
    })
}

/// Mostly prefixes of keys the fixture holds, so that views find events; sometimes any path.
pub(crate) fn path_strategy() -> impl Strategy<Value = Path> {
    prop_oneof![
        3 => (held_key(), 0..=KEY_NIBBLES).prop_map(|((_, key), len)| Path::of_key(&key, len)),
        1 => (held_key(), 0..=12usize).prop_map(|((_, key), len)| Path::of_key(&key, len)),
        1 => prop::collection::vec(0u8..16, 0..=KEY_NIBBLES)
            .prop_map(|nibbles| Path::from_nibbles(nibbles).unwrap()),
    ]
}

pub(crate) fn key_strategy() -> impl Strategy<Value = Option<Key>> {
    prop_oneof![
        Just(None),
        held_key().prop_map(|(_, key)| Some(key)),
        prop::collection::vec(any::<u8>(), 44)
            .prop_map(|bytes| Some(Key(bytes.try_into().unwrap()))),
    ]
}

pub(crate) fn short_id_strategy() -> impl Strategy<Value = ShortId> {
    prop_oneof![
        held_key().prop_map(|(_, key)| short_id(&SALT, &key.id())),
        any::<[u8; 8]>().prop_map(ShortId),
    ]
}

pub(crate) fn fingerprint_strategy() -> impl Strategy<Value = Fingerprint> {
    any::<[u8; 8]>().prop_map(Fingerprint)
}

/// What the fixture itself would say about a prefix (as `describe` in the walk would), with
/// one part optionally damaged: items whose fingerprints partly match reach deeper code.
pub(crate) fn honest_item(group: u32, prefix: Path, damage: Option<Index>) -> Item {
    let fixture = fixture();
    let name = GROUP_NAMES[group as usize];
    match Tree::new(&fixture.store).view(name, &prefix).unwrap() {
        View::Empty => Item::Need {
            group,
            prefix,
            after: None,
        },
        View::Small(keys) => {
            let mut ids: Vec<ShortId> = keys.iter().map(|key| short_id(&SALT, &key.id())).collect();
            if let Some(damage) = damage {
                ids.remove(damage.index(ids.len()));
            }
            Item::Ids { group, prefix, ids }
        }
        View::Branch { lcp, children, .. } => {
            let mut fingerprints: Vec<Fingerprint> = children
                .iter()
                .flatten()
                .map(|digest| fingerprint(&SALT, digest))
                .collect();
            if let Some(damage) = damage {
                let index = damage.index(fingerprints.len());
                fingerprints[index].0[0] ^= 1;
            }
            Item::Split {
                group,
                prefix_len: prefix.len() as u8,
                lcp,
                children: children_bitmap(&children),
                fingerprints,
            }
        }
    }
}

pub(crate) fn item_strategy() -> impl Strategy<Value = Item> {
    let range = (0u32..6, 2u32..9).prop_flat_map(|(start, len)| {
        // Starts and ends stay small: see `a_range_near_the_top_of_u32_does_not_panic`.
        let end = start + len;
        prop::collection::vec(fingerprint_strategy(), range_children(start, end).len()).prop_map(
            move |fingerprints| Item::Range {
                start,
                end,
                fingerprints,
            },
        )
    });
    let split = (
        group_strategy(),
        path_strategy(),
        any::<Index>(),
        any::<u16>(),
        0u32..16,
        1u32..16,
        prop::collection::vec(fingerprint_strategy(), 16),
    )
        .prop_map(
            |(group, lcp, prefix_len, bits, first, offset, mut fingerprints)| {
                let lcp = if lcp.len() == KEY_NIBBLES {
                    lcp.truncated(KEY_NIBBLES - 1)
                } else {
                    lcp
                };
                let children = bits | (1 << first) | (1 << ((first + offset) % 16));
                fingerprints.truncate(children.count_ones() as usize);
                Item::Split {
                    group,
                    prefix_len: prefix_len.index(lcp.len() + 1) as u8,
                    lcp,
                    children,
                    fingerprints,
                }
            },
        );
    let ids = || prop::collection::vec(short_id_strategy(), 0..=SHORT_IDS_PER_ITEM_MAX);
    prop_oneof![
        fingerprint_strategy().prop_map(|fingerprint| Item::Root { fingerprint }),
        range,
        split,
        (group_strategy(), path_strategy(), ids()).prop_map(|(group, prefix, ids)| Item::Ids {
            group,
            prefix,
            ids
        }),
        (group_strategy(), path_strategy(), ids()).prop_map(|(group, prefix, ids)| Item::Want {
            group,
            prefix,
            ids
        }),
        (group_strategy(), path_strategy(), key_strategy()).prop_map(|(group, prefix, after)| {
            Item::Need {
                group,
                prefix,
                after,
            }
        }),
        (group_strategy(), path_strategy(), key_strategy()).prop_map(|(group, prefix, after)| {
            Item::More {
                group,
                prefix,
                after,
            }
        }),
        (
            0..GROUP_OUT_OF_RANGE,
            path_strategy(),
            prop::option::of(any::<Index>())
        )
            .prop_map(|(group, prefix, damage)| honest_item(group, prefix, damage)),
    ]
}

/// Valid events of the session and of another group, and bytes that are no event.
pub(crate) fn event_bytes_strategy() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        (0..3usize).prop_map(|index| fixture().fresh[index].bytes().to_vec()),
        prop::collection::vec(any::<u8>(), 0..64),
    ]
}

pub(crate) fn budget_strategy() -> impl Strategy<Value = usize> {
    prop_oneof![Just(300usize), Just(4096), Just(FRAME_BYTES_BUDGET)]
}

/// Whether the responder can handle `item` without an error, whatever it holds.
pub(crate) fn item_is_valid_for_responder(item: &Item) -> bool {
    match item {
        Item::Root { .. } => true,
        Item::Range { end, .. } => *end <= GROUP_OUT_OF_RANGE,
        Item::Split { group, .. }
        | Item::Ids { group, .. }
        | Item::Want { group, .. }
        | Item::Need { group, .. } => *group < GROUP_OUT_OF_RANGE,
        Item::More { .. } => false,
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        rng_algorithm: RngAlgorithm::ChaCha,
        rng_seed: RngSeed::Fixed(0x0BAD_0003),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn decodable_hostile_requests_never_panic_the_responder(
        items in prop::collection::vec(item_strategy(), 0..8),
        events in prop::collection::vec(event_bytes_strategy(), 0..3),
        groups_match in prop::bool::weighted(0.9),
        budget in budget_strategy(),
    ) {
        // Guards against any request that passes the decoder crashing the responder, failing
        // without cause, or being answered with a frame the initiator cannot decode.
        let fixture = fixture();
        let mut request = request(items, events);
        if !groups_match {
            request.groups.0[0] ^= 1;
        }
        let bytes = encode_frame(&Frame::Request(request.clone()));
        prop_assert_eq!(decode_frame(&bytes), Ok(Frame::Request(request.clone())));

        let mut store = fixture.store.clone();
        let before = snapshot(&store);
        if host_receives(&mut store, &request).is_err() {
            prop_assert_eq!(snapshot(&store), before);
        }
        let config = Config { frame_bytes_budget: budget };
        // The walk reads only the items: the events, checked above, are left out, so that an
        // invalid one does not stop the request before the walk.
        let items_only = Request { events: Vec::new(), ..request.clone() };
        match respond(&store, &fixture.groups, &items_only, config) {
            Ok(response) => {
                let bytes = encode_frame(&Frame::Response(response.clone()));
                prop_assert_eq!(decode_frame(&bytes), Ok(Frame::Response(response.clone())));
                prop_assert!(response.consumed as usize <= request.items.len());
                prop_assert!(response.consumed > 0 || request.items.is_empty());
            }
            Err(error) => {
                prop_assert!(
                    matches!(
                        error,
                        SyncError::GroupIndex { .. }
                            | SyncError::GroupsMismatch
                            | SyncError::Unexpected(_)
                    ),
                    "{:?}",
                    error
                );
                let all_valid =
                    groups_match && request.items.iter().all(item_is_valid_for_responder);
                prop_assert!(!all_valid, "a valid request failed: {:?}", error);
            }
        }
    }

    #[test]
    fn decodable_hostile_responses_never_panic_the_initiator(
        consumed in prop_oneof![8 => Just(1u32), 1 => Just(0), 1 => Just(2)],
        items in prop::collection::vec(item_strategy(), 0..8),
        events in prop::collection::vec(event_bytes_strategy(), 0..3),
        budget in budget_strategy(),
    ) {
        // Guards against any response that passes the decoder crashing the initiator, now or
        // in the rounds after it, or making it send a frame the responder cannot decode.
        let fixture = fixture();
        let config = Config { frame_bytes_budget: budget };
        let mut initiator_store = fixture.store.clone();
        let mut responder_store = fixture.store.clone();
        let mut initiator = Initiator::new(fixture.groups.clone(), SALT, config);
        initiator.poll_request(&initiator_store).unwrap().unwrap();
        let mut response = Response { consumed, items, events };
        let bytes = encode_frame(&Frame::Response(response.clone()));
        prop_assert_eq!(decode_frame(&bytes), Ok(Frame::Response(response.clone())));

        // A few rounds against an honest responder after the hostile response.
        for _ in 0..4 {
            let events = match initiator.handle_response(response) {
                Ok(events) => events,
                Err(error) => {
                    prop_assert!(
                        matches!(
                            error,
                            SyncError::Unexpected(_)
                                | SyncError::InvalidEvent { .. }
                                | SyncError::GroupForbidden { .. }
                        ),
                        "{:?}",
                        error
                    );
                    break;
                }
            };
            apply(&mut initiator_store, &events).unwrap();
            let request = match initiator.poll_request(&initiator_store) {
                Ok(Some(request)) => request,
                Ok(None) => break,
                Err(error) => {
                    prop_assert!(matches!(error, SyncError::GroupIndex { .. }), "{:?}", error);
                    break;
                }
            };
            let bytes = encode_frame(&Frame::Request(request.clone()));
            prop_assert_eq!(decode_frame(&bytes), Ok(Frame::Request(request.clone())));
            let events = accept(&fixture.groups, &request).unwrap();
            apply(&mut responder_store, &events).unwrap();
            response = respond(&responder_store, &fixture.groups, &request, config).unwrap();
        }
    }
}

/// Guards against items that are cheap to send but costly to answer: a request of many `Root`
/// items over many groups, each matching (so nothing is sent back and the byte budget never
/// stops them), is answered in parts bounded by the responder's lookup budget.
#[test]
fn cheap_costly_items_are_answered_in_parts() {
    let groups_len = 2_000;
    let groups = Groups::new((0..groups_len).map(|index| format!("g{index:05}"))).unwrap();
    let store = MemoryStore::new();
    let salt = Salt([4; 16]);
    let roots: Vec<_> = (0..groups_len)
        .map(|_| tideline_protocol::tree::leaf_digest([]))
        .collect();
    let root =
        tideline_protocol::wire::fingerprint(&salt, &tideline_protocol::wire::range_digest(&roots));
    let request = Request {
        salt,
        groups: tideline_protocol::wire::fingerprint(&salt, &groups.digest()),
        items: vec![Item::Root { fingerprint: root }; 5_000],
        events: Vec::new(),
    };
    let response = respond(&store, &groups, &request, Config::default()).unwrap();
    assert!(response.items.is_empty(), "every Root matches");
    let per_item = groups_len;
    let bound = tideline_protocol::limits::RESPONDER_LOOKUPS_MAX.div_ceil(per_item) + 1;
    assert!(response.consumed > 0);
    assert!(
        (response.consumed as usize) <= bound,
        "consumed {} items, the lookup budget allows about {bound}",
        response.consumed
    );
}
