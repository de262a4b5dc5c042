//! The walk (spec chapter 8): items and events that decode but lie, to the responder and the initiator, and store failures.

use super::*;

#[test]
fn items_naming_a_group_past_the_session_are_refused_by_the_responder() {
    // Guards against an item indexing past the session's group list, in any item kind.
    let key = fixture().keys[0].1;
    for group in [GROUP_OUT_OF_RANGE, u32::MAX] {
        let items = [
            Item::Split {
                group,
                prefix_len: 0,
                lcp: path(&[1]),
                children: 0b11,
                fingerprints: fingerprints(2),
            },
            // The same with nothing between prefix and lcp, so only the children are viewed.
            Item::Split {
                group,
                prefix_len: 1,
                lcp: path(&[1]),
                children: 0b11,
                fingerprints: fingerprints(2),
            },
            Item::Ids {
                group,
                prefix: Path::root(),
                ids: short_ids(2),
            },
            Item::Ids {
                group,
                prefix: Path::root(),
                ids: vec![],
            },
            Item::Want {
                group,
                prefix: Path::root(),
                ids: short_ids(2),
            },
            Item::Need {
                group,
                prefix: Path::root(),
                after: Some(key),
            },
        ];
        for item in items {
            let error = respond_to(vec![item.clone()]).unwrap_err();
            assert!(
                matches!(error, SyncError::GroupIndex { index, len: 3 } if index == group),
                "{item:?}: {error:?}"
            );
            // An index outside the list is a broken frame; `GroupForbidden` is for a group
            // the list could have held but the session does not grant.
            assert_eq!(error.code(), ErrorCode::MalformedFrame);
        }
    }
}

#[test]
fn a_range_past_the_group_count_is_refused() {
    // Guards against a Range item making the walk read group roots past the session's list.
    for (start, end) in [(0, 4), (2, 4), (3, 5), (5, 70), (0, 1 << 31)] {
        let item = Item::Range {
            start,
            end,
            fingerprints: fingerprints(range_children(start, end).len()),
        };
        // Decodable: only the session knows how many groups there are.
        decode_frame(&request_bytes(vec![item.clone()], vec![])).unwrap();
        let error = respond_to(vec![item]).unwrap_err();
        assert!(
            matches!(error, SyncError::GroupIndex { index, len: 3 } if index == end - 1),
            "[{start}, {end}): {error:?}"
        );
        assert_eq!(error.code(), ErrorCode::MalformedFrame);
    }
    // The whole list is fine.
    respond_to(vec![Item::Range {
        start: 0,
        end: 3,
        fingerprints: fingerprints(3),
    }])
    .unwrap();
}

#[test]
fn items_naming_a_group_past_the_session_are_refused_by_the_initiator() {
    // Guards against a hostile responder's items indexing past the initiator's group list.
    let fixture = fixture();
    let group = GROUP_OUT_OF_RANGE;
    let items = [
        Item::Range {
            start: 1,
            end: 4,
            fingerprints: fingerprints(3),
        },
        Item::Split {
            group,
            prefix_len: 0,
            lcp: path(&[1]),
            children: 0b11,
            fingerprints: fingerprints(2),
        },
        Item::Ids {
            group,
            prefix: Path::root(),
            ids: short_ids(2),
        },
        Item::Want {
            group,
            prefix: Path::root(),
            ids: short_ids(2),
        },
        Item::Need {
            group,
            prefix: Path::root(),
            after: None,
        },
        Item::More {
            group,
            prefix: Path::root(),
            after: None,
        },
    ];
    for item in items {
        let mut initiator = initiator_in_flight();
        let events = initiator
            .handle_response(Response {
                consumed: 1,
                items: vec![item.clone()],
                events: vec![],
            })
            .unwrap();
        assert!(events.is_empty());
        let error = initiator.poll_request(&fixture.store).unwrap_err();
        assert!(
            matches!(error, SyncError::GroupIndex { index: 3, len: 3 }),
            "{item:?}: {error:?}"
        );
        assert_eq!(error.code(), ErrorCode::MalformedFrame);
    }
}

#[test]
fn a_request_for_other_groups_is_refused() {
    // Guards against a responder walking a request whose sender indexes a different group
    // list, where every group index would mean another group.
    let fixture = fixture();
    let other = Groups::new(["alpha", "beta"]).unwrap();
    let mut request = request(
        vec![Item::Root {
            fingerprint: Fingerprint([0; 8]),
        }],
        vec![fixture.fresh[0].bytes().to_vec()],
    );
    request.groups = fingerprint(&SALT, &other.digest());
    let mut store = fixture.store.clone();
    let before = snapshot(&store);
    let error = host_receives(&mut store, &request).unwrap_err();
    assert!(matches!(error, SyncError::GroupsMismatch), "{error:?}");
    assert_eq!(error.code(), ErrorCode::GroupsMismatch);
    assert_eq!(snapshot(&store), before);
    let error = respond(&store, &fixture.groups, &request, Config::default()).unwrap_err();
    assert!(matches!(error, SyncError::GroupsMismatch), "{error:?}");

    // The right list under another salt is also a mismatch: the fingerprint is salted.
    request.groups = fingerprint(&Salt([1; 16]), &fixture.groups.digest());
    let error = respond(&store, &fixture.groups, &request, Config::default()).unwrap_err();
    assert!(matches!(error, SyncError::GroupsMismatch), "{error:?}");
}

#[test]
fn events_of_groups_outside_the_session_are_forbidden() {
    // Guards against a peer writing into a group it was not given, from either side.
    let fixture = fixture();
    let forbidden = &fixture.fresh[2];
    assert_eq!(forbidden.event().group, "delta");
    let events = vec![
        fixture.fresh[0].bytes().to_vec(),
        forbidden.bytes().to_vec(),
    ];

    let error = accept(&fixture.groups, &request(vec![], events.clone())).unwrap_err();
    match &error {
        SyncError::GroupForbidden { id, group } => {
            assert_eq!(*id, forbidden.id());
            assert_eq!(group, "delta");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(error.code(), ErrorCode::GroupForbidden);

    let mut initiator = initiator_in_flight();
    let error = initiator
        .handle_response(Response {
            consumed: 1,
            items: vec![],
            events,
        })
        .unwrap_err();
    assert!(
        matches!(&error, SyncError::GroupForbidden { group, .. } if group == "delta"),
        "{error:?}"
    );
    assert_eq!(error.code(), ErrorCode::GroupForbidden);
}

#[test]
fn invalid_events_are_refused_with_their_position() {
    // Guards against an invalid event being stored, or reported at the wrong position.
    let fixture = fixture();
    let good = fixture.fresh[0].bytes().to_vec();
    let mut trailing = good.clone();
    trailing.push(0);
    let mut overlong_group = vec![0x80 | good[0], 0x00];
    overlong_group.extend_from_slice(&good[1..]);
    type Expectation = fn(&EventError) -> bool;
    let cases: [(Vec<u8>, Expectation); 4] = [
        (vec![0xff; 10], |source| {
            matches!(source, EventError::Malformed(_))
        }),
        (trailing, |source| {
            matches!(source, EventError::TrailingBytes { bytes: 1 })
        }),
        (overlong_group, |source| {
            matches!(source, EventError::NotCanonical)
        }),
        (Vec::new(), |source| {
            matches!(source, EventError::Malformed(_))
        }),
    ];
    for (bad, expected) in cases {
        let events = vec![good.clone(), good.clone(), bad];
        let error = accept(&fixture.groups, &request(vec![], events.clone())).unwrap_err();
        match &error {
            SyncError::InvalidEvent { index: 2, source } => assert!(expected(source), "{source:?}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(error.code(), ErrorCode::InvalidEvent);

        let mut initiator = initiator_in_flight();
        let error = initiator
            .handle_response(Response {
                consumed: 1,
                items: vec![],
                events,
            })
            .unwrap_err();
        assert!(
            matches!(error, SyncError::InvalidEvent { index: 2, .. }),
            "{error:?}"
        );
    }
}

#[test]
fn more_sent_to_the_responder_is_unexpected() {
    // Guards against the stateless responder being driven by an item only it may send.
    let error = respond_to(vec![Item::More {
        group: 0,
        prefix: Path::root(),
        after: None,
    }])
    .unwrap_err();
    assert!(matches!(error, SyncError::Unexpected(_)), "{error:?}");
    assert_eq!(error.code(), ErrorCode::UnexpectedFrame);
}

#[test]
fn responses_that_do_not_match_the_request_are_unexpected() {
    // Guards against a response that claims to have handled items that were never sent, or
    // none of them (which would let a responder stall the walk forever), and against frames
    // out of turn.
    let fixture = fixture();
    let empty = |consumed| Response {
        consumed,
        items: vec![],
        events: vec![],
    };
    for consumed in [0, 2, u32::MAX] {
        let mut initiator = initiator_in_flight();
        let error = initiator.handle_response(empty(consumed)).unwrap_err();
        assert!(
            matches!(error, SyncError::Unexpected(_)),
            "{consumed}: {error:?}"
        );
        assert_eq!(error.code(), ErrorCode::UnexpectedFrame);
    }

    // Nothing in flight: before the first request, and after the response was handled.
    let mut initiator = Initiator::new(fixture.groups.clone(), SALT, Config::default());
    let error = initiator.handle_response(empty(1)).unwrap_err();
    assert!(matches!(error, SyncError::Unexpected(_)), "{error:?}");
    let mut initiator = initiator_in_flight();
    initiator.handle_response(empty(1)).unwrap();
    let error = initiator.handle_response(empty(1)).unwrap_err();
    assert!(matches!(error, SyncError::Unexpected(_)), "{error:?}");

    // A second request before the response to the first.
    let mut initiator = initiator_in_flight();
    let error = initiator.poll_request(&fixture.store).unwrap_err();
    assert!(matches!(error, SyncError::Unexpected(_)), "{error:?}");
}

#[test]
fn a_want_scans_a_bounded_number_of_keys() {
    // Guards against one `Want` item making the responder hash every key under a huge prefix:
    // it looks through at most WANT_SCAN_KEYS_MAX keys and sends only events it was asked for.
    let mut rng = Rng::new(10);
    let events: Vec<VerifiedEvent> = (0..10_000)
        .map(|_| {
            let wall_ms = START_MS + rng.below(HOUR_MS);
            create_event(&mut rng, "alpha", wall_ms, "alice", 4)
        })
        .collect();
    let mut store = MemoryStore::new();
    insert(&mut store, &events).unwrap();
    let groups = &fixture().groups;
    let keys = store.group_keys("alpha");
    assert_eq!(keys.len(), 10_000);
    let salted = |key: &Key| short_id(&SALT, &key.id());

    // Random short ids name nothing, so nothing comes back.
    let random: Vec<ShortId> = (0..SHORT_IDS_PER_ITEM_MAX)
        .map(|_| ShortId(rng.bytes()))
        .collect();
    let want = |ids: Vec<ShortId>| {
        request(
            vec![Item::Want {
                group: 0,
                prefix: Path::root(),
                ids,
            }],
            vec![],
        )
    };
    let response = respond(&store, groups, &want(random.clone()), Config::default()).unwrap();
    assert_eq!(response.consumed, 1);
    assert!(response.items.is_empty());
    assert!(response.events.is_empty());

    // Ids of real events: those among the first WANT_SCAN_KEYS_MAX keys come back, those past
    // them do not, which shows where the scan stops.
    let inside = [0, 100, WANT_SCAN_KEYS_MAX - 1];
    let outside = [WANT_SCAN_KEYS_MAX, 5_000, keys.len() - 1];
    let mut ids = random[..SHORT_IDS_PER_ITEM_MAX - 6].to_vec();
    ids.extend(inside.iter().chain(&outside).map(|&i| salted(&keys[i])));
    let response = respond(&store, groups, &want(ids), Config::default()).unwrap();
    let sent: Vec<EventId> = response
        .events
        .iter()
        .map(|bytes| VerifiedEvent::decode(bytes).unwrap().id())
        .collect();
    let expected: Vec<EventId> = inside.iter().map(|&i| keys[i].id()).collect();
    assert_eq!(sent, expected);
}

#[test]
fn a_response_stays_within_the_frame_limits() {
    // Guards against the responder answering a decodable request with a frame its peer must
    // refuse.
    // Each of 20,000 Split items (2.8 MB in all) names 16 children in a group the responder
    // holds nothing of, and each child becomes a 6-byte Need: 320,000 items in all.
    let fixture = fixture();
    let item = Item::Split {
        group: 2,
        prefix_len: 0,
        lcp: path(&[1]),
        children: u16::MAX,
        fingerprints: fingerprints(16),
    };
    let bytes = request_bytes(vec![item; 20_000], vec![]);
    let Frame::Request(request) = decode_frame(&bytes).unwrap() else {
        panic!("a request")
    };
    let response = respond(&fixture.store, &fixture.groups, &request, Config::default()).unwrap();
    assert!(response.items.len() <= ITEMS_PER_FRAME_MAX);
    decode_frame(&encode_frame(&Frame::Response(response))).unwrap();
}

#[test]
fn a_rejected_request_stores_nothing() {
    // Guards against a request with one bad event among good ones leaving the good ones (or
    // any node or document) in the store when the host follows the documented flow: accept,
    // then apply.
    let fixture = fixture();
    let [update, remove] = update_and_remove();
    let good = [&fixture.fresh[0], &fixture.fresh[1], &update, &remove];
    let mut store = fixture.store.clone();
    let before = snapshot(&store);
    for id in good.iter().map(|event| event.id()) {
        assert!(!store.has_event(&id).unwrap());
    }

    let bad_events: [Vec<u8>; 3] = [vec![1, 2, 3], fixture.fresh[2].bytes().to_vec(), {
        let mut trailing = fixture.fresh[1].bytes().to_vec();
        trailing.push(7);
        trailing
    }];
    for bad in bad_events {
        for position in [0, 2, 4] {
            let mut events: Vec<Vec<u8>> =
                good.iter().map(|event| event.bytes().to_vec()).collect();
            events.insert(position, bad.clone());
            let request = request(vec![], events);
            let error = host_receives(&mut store, &request).unwrap_err();
            assert!(matches!(
                error.code(),
                ErrorCode::InvalidEvent | ErrorCode::GroupForbidden
            ));
            assert_eq!(snapshot(&store), before, "bad event at {position}");
        }
    }

    // The snapshot does see a change: the good events alone are stored.
    let events = good.iter().map(|event| event.bytes().to_vec()).collect();
    assert_eq!(
        host_receives(&mut store, &request(vec![], events)).unwrap(),
        4
    );
    assert_ne!(snapshot(&store), before);
}

/// A store whose every read fails, as a disk might.
pub(crate) struct FailingStore;

pub(crate) fn disk_gone<T>() -> Result<T, std::io::Error> {
    Err(std::io::Error::other("the disk is gone"))
}

impl ReadStore for FailingStore {
    type Error = std::io::Error;

    fn node(&self, _: &str, _: &Path) -> Result<Option<Node>, std::io::Error> {
        disk_gone()
    }

    fn keys(&self, _: &str, _: &Path, _: Option<&Key>, _: usize) -> Result<Vec<Key>, Self::Error> {
        disk_gone()
    }

    fn event(&self, _: &EventId) -> Result<Option<Vec<u8>>, std::io::Error> {
        disk_gone()
    }

    fn doc_events(&self, _: &DocKey) -> Result<Vec<EventId>, std::io::Error> {
        disk_gone()
    }

    fn doc_state(&self, _: &DocKey) -> Result<Option<DocState>, std::io::Error> {
        disk_gone()
    }

    fn docs(&self, _: &str, _: &str) -> Result<Vec<(DocKey, DocState)>, std::io::Error> {
        disk_gone()
    }

    fn inbox(&self, _: &str) -> Result<Vec<(ConflictId, DocKey)>, std::io::Error> {
        disk_gone()
    }
}

#[test]
fn store_failures_are_internal_errors() {
    // Guards against a backend failure being reported to the peer as the peer's fault.
    let groups = &fixture().groups;
    for item in [
        Item::Root {
            fingerprint: Fingerprint([0; 8]),
        },
        Item::Want {
            group: 0,
            prefix: Path::root(),
            ids: short_ids(1),
        },
        Item::Need {
            group: 0,
            prefix: Path::root(),
            after: None,
        },
    ] {
        let error = respond(
            &FailingStore,
            groups,
            &request(vec![item], vec![]),
            Config::default(),
        )
        .unwrap_err();
        assert!(matches!(error, SyncError::Store(_)), "{error:?}");
        assert_eq!(error.code(), ErrorCode::Internal);
    }
    let mut initiator = Initiator::new(groups.clone(), SALT, Config::default());
    let error = initiator.poll_request(&FailingStore).unwrap_err();
    assert_eq!(error.code(), ErrorCode::Internal);
}

#[test]
fn every_sync_error_maps_to_its_code() {
    // Guards against an error reaching the peer under the wrong code; the server maps errors
    // to frames through `code()` alone.
    let wire = [
        (
            WireError::FrameTooLarge { bytes: 1, max: 0 },
            ErrorCode::FrameTooLarge,
        ),
        (
            WireError::UnsupportedVersion {
                version: 2,
                supported: vec![1],
            },
            ErrorCode::UnsupportedVersion,
        ),
        (
            WireError::Malformed(String::new()),
            ErrorCode::MalformedFrame,
        ),
        (
            WireError::LimitExceeded { what: "x", max: 1 },
            ErrorCode::LimitExceeded,
        ),
    ];
    for (error, code) in wire {
        assert_eq!(error.code(), code);
        assert_eq!(SyncError::from(error).code(), code);
    }
    let cases = [
        (
            SyncError::InvalidEvent {
                index: 0,
                source: EventError::NotCanonical,
            },
            ErrorCode::InvalidEvent,
        ),
        (
            SyncError::GroupForbidden {
                id: EventId([0; 32]),
                group: "delta".to_owned(),
            },
            ErrorCode::GroupForbidden,
        ),
        (
            SyncError::GroupIndex { index: 3, len: 3 },
            ErrorCode::MalformedFrame,
        ),
        (SyncError::GroupsMismatch, ErrorCode::GroupsMismatch),
        (SyncError::Unexpected("x"), ErrorCode::UnexpectedFrame),
        (
            SyncError::Peer {
                code: ErrorCode::Unknown(77),
                message: String::new(),
            },
            ErrorCode::Unknown(77),
        ),
        (
            SyncError::Peer {
                code: ErrorCode::ForgedCreator,
                message: String::new(),
            },
            ErrorCode::ForgedCreator,
        ),
        (
            SyncError::Store(Box::new(std::io::Error::other("x"))),
            ErrorCode::Internal,
        ),
    ];
    for (error, code) in cases {
        assert_eq!(error.code(), code, "{error:?}");
    }
}
