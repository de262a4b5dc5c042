//! The vectors of `spec/vectors/frames.json: the frame encoding, valid and invalid frames.

use super::events::patched;
use super::*;

pub(crate) fn render_frame(frame: &Frame) -> Json {
    match frame {
        Frame::Request(request) => json!({ "request": {
            "salt": hex::encode(request.salt.0),
            "groups": hex::encode(request.groups.0),
            "items": request.items.iter().map(render_item).collect::<Vec<_>>(),
            "events": hex_list(&request.events),
        }}),
        Frame::Response(response) => json!({ "response": {
            "consumed": response.consumed,
            "items": response.items.iter().map(render_item).collect::<Vec<_>>(),
            "events": hex_list(&response.events),
        }}),
        Frame::Error(body) => json!({ "error": {
            "code": body.code.number(),
            "name": body.code.name(),
            "message": body.message,
            "versions": body.versions,
        }}),
    }
}

pub(crate) fn render_item(item: &Item) -> Json {
    let short_ids = |ids: &[ShortId]| hex_list(ids.iter().map(|id| id.0));
    let fingerprints = |fingerprints: &[Fingerprint]| {
        hex_list(fingerprints.iter().map(|fingerprint| fingerprint.0))
    };
    let after = |after: &Option<Key>| after.map(|key| hex::encode(key.0));
    match item {
        Item::Root { fingerprint } => {
            json!({ "root": { "fingerprint": hex::encode(fingerprint.0) } })
        }
        Item::Range {
            start,
            end,
            fingerprints: list,
        } => json!({ "range": {
            "start": start, "end": end, "fingerprints": fingerprints(list),
        }}),
        Item::Split {
            group,
            prefix_len,
            lcp,
            children,
            fingerprints: list,
        } => json!({ "split": {
            "group": group,
            "prefix_len": prefix_len,
            "lcp": path_text(lcp),
            "children": children,
            "fingerprints": fingerprints(list),
        }}),
        Item::Ids { group, prefix, ids } => json!({ "ids": {
            "group": group, "prefix": path_text(prefix), "ids": short_ids(ids),
        }}),
        Item::Want { group, prefix, ids } => json!({ "want": {
            "group": group, "prefix": path_text(prefix), "ids": short_ids(ids),
        }}),
        Item::Need {
            group,
            prefix,
            after: key,
        } => json!({ "need": {
            "group": group, "prefix": path_text(prefix), "after": after(key),
        }}),
        Item::More {
            group,
            prefix,
            after: key,
        } => json!({ "more": {
            "group": group, "prefix": path_text(prefix), "after": after(key),
        }}),
    }
}

/// The one key of a `{"kind": {...}}` object, and its value.
pub(crate) fn tagged(json: &Json) -> (&str, &Json) {
    let map = json
        .as_object()
        .filter(|map| map.len() == 1)
        .unwrap_or_else(|| panic!("expected an object with one key: {json}"));
    let (tag, body) = map.iter().next().expect("one entry");
    (tag.as_str(), body)
}

pub(crate) fn u32_of(json: &Json, name: &str) -> u32 {
    u32::try_from(number(json, name)).unwrap_or_else(|_| panic!("`{name}` fits in u32: {json}"))
}

pub(crate) fn hex_vec(json: &Json, name: &str) -> Vec<Vec<u8>> {
    list(json, name).iter().map(bytes_of).collect()
}

/// The inverse of [`render_frame`].
pub(crate) fn parse_frame(json: &Json) -> Frame {
    let items = |body: &Json| list(body, "items").iter().map(parse_item).collect();
    match tagged(json) {
        ("request", body) => Frame::Request(Request {
            salt: Salt(fixed(body, "salt")),
            groups: Fingerprint(fixed(body, "groups")),
            items: items(body),
            events: hex_vec(body, "events"),
        }),
        ("response", body) => Frame::Response(Response {
            consumed: u32_of(body, "consumed"),
            items: items(body),
            events: hex_vec(body, "events"),
        }),
        ("error", body) => {
            let code = ErrorCode::from_number(
                u16::try_from(number(body, "code")).expect("codes fit in u16"),
            );
            assert_eq!(code.name(), text(body, "name"), "error code name");
            Frame::Error(ErrorBody {
                code,
                message: text(body, "message").to_owned(),
                versions: list(body, "versions")
                    .iter()
                    .map(|version| {
                        u32::try_from(version.as_u64().expect("versions are numbers"))
                            .expect("versions fit in u32")
                    })
                    .collect(),
            })
        }
        (tag, _) => panic!("unknown frame kind `{tag}`"),
    }
}

pub(crate) fn parse_item(json: &Json) -> Item {
    let fingerprints = |body: &Json| {
        list(body, "fingerprints")
            .iter()
            .map(|fingerprint| Fingerprint(fixed_of(fingerprint)))
            .collect()
    };
    let short_ids = |body: &Json| {
        list(body, "ids")
            .iter()
            .map(|id| ShortId(fixed_of(id)))
            .collect()
    };
    let prefix = |body: &Json| path_parse(text(body, "prefix"));
    let after = |body: &Json| {
        let after = field(body, "after");
        (!after.is_null()).then(|| Key(fixed_of(after)))
    };
    match tagged(json) {
        ("root", body) => Item::Root {
            fingerprint: Fingerprint(fixed(body, "fingerprint")),
        },
        ("range", body) => Item::Range {
            start: u32_of(body, "start"),
            end: u32_of(body, "end"),
            fingerprints: fingerprints(body),
        },
        ("split", body) => Item::Split {
            group: u32_of(body, "group"),
            prefix_len: u8::try_from(number(body, "prefix_len")).expect("prefix_len fits in u8"),
            lcp: path_parse(text(body, "lcp")),
            children: u16::try_from(number(body, "children")).expect("children fits in u16"),
            fingerprints: fingerprints(body),
        },
        ("ids", body) => Item::Ids {
            group: u32_of(body, "group"),
            prefix: prefix(body),
            ids: short_ids(body),
        },
        ("want", body) => Item::Want {
            group: u32_of(body, "group"),
            prefix: prefix(body),
            ids: short_ids(body),
        },
        ("need", body) => Item::Need {
            group: u32_of(body, "group"),
            prefix: prefix(body),
            after: after(body),
        },
        ("more", body) => Item::More {
            group: u32_of(body, "group"),
            prefix: prefix(body),
            after: after(body),
        },
        (tag, _) => panic!("unknown item kind `{tag}`"),
    }
}

pub(crate) fn valid_frame_vector(name: &str, frame: &Frame) -> Json {
    json!({ "name": name, "hex": hex::encode(encode_frame(frame)), "frame": render_frame(frame) })
}

pub(crate) fn invalid_frame_vector(name: &str, bytes: &[u8], error: ErrorCode) -> Json {
    json!({ "name": name, "hex": hex::encode(bytes), "error": error.name() })
}

pub(crate) fn request(salt: Salt, items: Vec<Item>, events: Vec<Vec<u8>>) -> Frame {
    Frame::Request(Request {
        salt,
        groups: fingerprint(&salt, &Groups::new(["g000"]).expect("one group").digest()),
        items,
        events,
    })
}

pub(crate) fn generate_frames() -> Json {
    let mut rng = Rng::new(0xF4A3);
    let salt = Salt(rng.bytes());
    let mut fingerprints = |count: usize| -> Vec<Fingerprint> {
        (0..count).map(|_| Fingerprint(rng.bytes())).collect()
    };
    let root_fingerprint = fingerprints(1)[0];
    let range_fingerprints = fingerprints(9);
    let split_fingerprints = fingerprints(3);
    let mut rng = Rng::new(0xF4A4);
    let events: Vec<VerifiedEvent> = (0..2)
        .map(|index| create_event(&mut rng, "g000", START_MS + index, "alice", 6))
        .collect();
    let key = Key::of(&events[0]);
    let short_ids: Vec<ShortId> = events
        .iter()
        .map(|event| short_id(&salt, &event.id()))
        .collect();
    let lcp = Path::of_key(&key, 13);
    let prefix = Path::of_key(&key, 14);
    let split = Item::Split {
        group: 0,
        prefix_len: 12,
        lcp: lcp.clone(),
        children: (1 << 2) | (1 << 7) | (1 << 12),
        fingerprints: split_fingerprints.clone(),
    };

    let opening = request(
        salt,
        vec![Item::Root {
            fingerprint: root_fingerprint,
        }],
        vec![],
    );
    let idle = request(salt, vec![], vec![]);
    let every_item = vec![
        Item::Root {
            fingerprint: root_fingerprint,
        },
        Item::Range {
            start: 0,
            end: 17,
            fingerprints: range_fingerprints.clone(),
        },
        split.clone(),
        Item::Ids {
            group: 0,
            prefix: prefix.clone(),
            ids: short_ids.clone(),
        },
        Item::Ids {
            group: 0,
            prefix: Path::root(),
            ids: vec![],
        },
        Item::Want {
            group: 0,
            prefix: prefix.clone(),
            ids: short_ids[..1].to_vec(),
        },
        Item::Need {
            group: 0,
            prefix: Path::root(),
            after: None,
        },
        Item::Need {
            group: 0,
            prefix: prefix.clone(),
            after: Some(key),
        },
        Item::More {
            group: 0,
            prefix: prefix.clone(),
            after: Some(key),
        },
        Item::More {
            group: 0,
            prefix: lcp.child(7),
            after: None,
        },
    ];
    let event_bytes: Vec<Vec<u8>> = events.iter().map(|event| event.bytes().to_vec()).collect();
    let response = Frame::Response(Response {
        consumed: 3,
        items: every_item.clone(),
        events: event_bytes.clone(),
    });
    let busy_request = request(salt, every_item[1..8].to_vec(), event_bytes[..1].to_vec());
    let error = Frame::Error(ErrorBody {
        code: ErrorCode::UnsupportedVersion,
        message:
            "protocol version 2 is not supported (this side speaks [1]); upgrade the older side"
                .to_owned(),
        versions: vec![PROTOCOL_VERSION],
    });
    let error_unknown = Frame::Error(ErrorBody {
        code: ErrorCode::from_number(999),
        message: "a code from a later version".to_owned(),
        versions: vec![1, 2],
    });
    let valid = vec![
        valid_frame_vector("request_opening_root", &opening),
        valid_frame_vector("request_idle", &idle),
        valid_frame_vector("request_items_and_event", &busy_request),
        valid_frame_vector("response_every_item_kind", &response),
        valid_frame_vector(
            "response_empty",
            &Frame::Response(Response {
                consumed: 1,
                items: vec![],
                events: vec![],
            }),
        ),
        valid_frame_vector("error_unsupported_version", &error),
        valid_frame_vector("error_unknown_code", &error_unknown),
    ];

    // Each invalid vector is a valid frame with one byte damaged, or a frame that breaks one
    // rule, encoded by the same encoder (which does not check them).
    let malformed = ErrorCode::MalformedFrame;
    let with_items = |items: Vec<Item>| encode_frame(&request(salt, items, vec![]));
    let split_item = |prefix_len: u8, lcp: Path, children: u16, fingerprints: &[Fingerprint]| {
        with_items(vec![Item::Split {
            group: 0,
            prefix_len,
            lcp,
            children,
            fingerprints: fingerprints.to_vec(),
        }])
    };
    let range_item = |start: u32, end: u32, fingerprints: &[Fingerprint]| {
        with_items(vec![Item::Range {
            start,
            end,
            fingerprints: fingerprints.to_vec(),
        }])
    };

    // 01 version, 00 Request, 16 salt bytes, 8 groups bytes, 01 item, 00 Root, 8 fingerprint
    // bytes, 00 events.
    let opening_bytes = encode_frame(&opening);
    let root_at = 1 + 1 + 16 + 8 + 1;
    assert_eq!(opening_bytes.len(), root_at + 1 + 8 + 1);
    let mut trailing = opening_bytes.clone();
    trailing.push(0);
    let mut overlong = vec![0x81, 0x00];
    overlong.extend_from_slice(&opening_bytes[1..]);
    // 01 version, 01 Response, 01 consumed, 00 items, 00 events.
    let empty_response = encode_frame(&Frame::Response(Response {
        consumed: 1,
        items: vec![],
        events: vec![],
    }));
    assert_eq!(empty_response, [1, 1, 1, 0, 0]);
    let mut rng = Rng::new(0xF4A5);
    let too_many: Vec<ShortId> = (0..=SHORT_IDS_PER_ITEM_MAX)
        .map(|_| ShortId(rng.bytes()))
        .collect();
    // A Need at prefix "1" ends: 01 nibble, 01 packed byte, 10 packed, 00 after, 00 events.
    let need = with_items(vec![Item::Need {
        group: 0,
        prefix: Path::from_nibbles(vec![1]).expect("a nibble"),
        after: None,
    }]);
    // A path of 89 nibbles, one more than a key has, written by hand since Path refuses it.
    let mut long_path = need[..need.len() - 5].to_vec();
    long_path.extend_from_slice(&[89, 45]);
    long_path.extend_from_slice(&[0; 45]);
    long_path.extend_from_slice(&[0, 0]);
    let three_children = (1 << 2) | (1 << 7) | (1 << 12);

    let invalid: Vec<(&str, Vec<u8>, ErrorCode)> = vec![
        ("empty", Vec::new(), malformed),
        (
            "version_2",
            patched(opening_bytes.clone(), 0, 1, 2),
            ErrorCode::UnsupportedVersion,
        ),
        (
            "version_0",
            patched(opening_bytes.clone(), 0, 1, 0),
            ErrorCode::UnsupportedVersion,
        ),
        (
            "truncated",
            opening_bytes[..opening_bytes.len() - 1].to_vec(),
            malformed,
        ),
        ("trailing_byte", trailing, malformed),
        ("version_varint_overlong", overlong, malformed),
        (
            "consumed_varint_overlong",
            vec![1, 1, 0x81, 0x00, 0, 0],
            malformed,
        ),
        (
            "frame_variant_unknown",
            patched(empty_response, 1, 1, 3),
            malformed,
        ),
        (
            "item_variant_unknown",
            patched(opening_bytes.clone(), root_at, 0, 7),
            malformed,
        ),
        (
            "split_one_child",
            split_item(0, lcp.clone(), 1 << 4, &split_fingerprints[..1]),
            malformed,
        ),
        (
            "split_fingerprint_count_mismatch",
            split_item(0, lcp.clone(), (1 << 4) | (1 << 5), &split_fingerprints),
            malformed,
        ),
        (
            "split_prefix_longer_than_lcp",
            split_item(14, lcp.clone(), three_children, &split_fingerprints),
            malformed,
        ),
        (
            "split_lcp_is_a_whole_key",
            split_item(
                0,
                Path::of_key(&key, KEY_BYTES * 2),
                0b11,
                &split_fingerprints[..2],
            ),
            malformed,
        ),
        (
            "range_of_one_group",
            range_item(3, 4, &range_fingerprints[..1]),
            malformed,
        ),
        (
            "range_fingerprint_count_mismatch",
            range_item(0, 17, &range_fingerprints[..8]),
            malformed,
        ),
        (
            "ids_65_short_ids",
            with_items(vec![Item::Ids {
                group: 0,
                prefix: Path::root(),
                ids: too_many.clone(),
            }]),
            ErrorCode::LimitExceeded,
        ),
        (
            "want_65_short_ids",
            with_items(vec![Item::Want {
                group: 0,
                prefix: Path::root(),
                ids: too_many,
            }]),
            ErrorCode::LimitExceeded,
        ),
        (
            "path_padding_not_zero",
            patched(need.clone(), need.len() - 3, 0x10, 0x1F),
            malformed,
        ),
        (
            "option_tag_two",
            patched(need.clone(), need.len() - 2, 0, 2),
            malformed,
        ),
        ("path_89_nibbles", long_path, malformed),
    ];
    let invalid: Vec<Json> = invalid
        .iter()
        .map(|(name, bytes, error)| invalid_frame_vector(name, bytes, *error))
        .collect();

    json!({
        "valid": valid,
        "invalid": invalid,
        "invalid_rules": [
            {
                "name": "frame_bytes_max_plus_one",
                "rule": "FRAME_BYTES_MAX + 1 zero bytes",
                "error": ErrorCode::FrameTooLarge.name(),
            },
            {
                "name": "items_per_frame_max_plus_one",
                "rule": "a request with ITEMS_PER_FRAME_MAX + 1 Root items",
                "error": ErrorCode::LimitExceeded.name(),
            },
            {
                "name": "events_per_frame_max_plus_one",
                "rule": "a request with EVENTS_PER_FRAME_MAX + 1 empty events",
                "error": ErrorCode::LimitExceeded.name(),
            },
        ],
    })
}

pub(crate) fn check_frames(document: &Json) {
    for vector in list(document, "valid") {
        let name = text(vector, "name");
        let encoded = bytes(vector, "hex");
        let frame = decode_frame(&encoded)
            .unwrap_or_else(|error| panic!("valid frame {name} does not decode: {error}"));
        assert_same_json(&render_frame(&frame), field(vector, "frame"), name);
        assert_eq!(encode_frame(&frame), encoded, "{name}: re-encoding");
        // The other direction: from the readable frame to the bytes.
        assert_eq!(
            hex::encode(encode_frame(&parse_frame(field(vector, "frame")))),
            text(vector, "hex"),
            "{name}: encoding the readable frame"
        );
    }
    for vector in list(document, "invalid") {
        let name = text(vector, "name");
        let error = match decode_frame(&bytes(vector, "hex")) {
            Ok(frame) => panic!("invalid frame {name} decodes: {frame:?}"),
            Err(error) => error,
        };
        assert_eq!(
            error.code().name(),
            text(vector, "error"),
            "{name}: {error}"
        );
    }
    for vector in list(document, "invalid_rules") {
        let name = text(vector, "name");
        let salt = Salt([0; 16]);
        let input = match text(vector, "rule") {
            "FRAME_BYTES_MAX + 1 zero bytes" => vec![0u8; FRAME_BYTES_MAX + 1],
            "a request with ITEMS_PER_FRAME_MAX + 1 Root items" => encode_frame(&request(
                salt,
                vec![
                    Item::Root {
                        fingerprint: Fingerprint([0; 8])
                    };
                    ITEMS_PER_FRAME_MAX + 1
                ],
                vec![],
            )),
            "a request with EVENTS_PER_FRAME_MAX + 1 empty events" => encode_frame(&request(
                salt,
                vec![],
                vec![Vec::new(); EVENTS_PER_FRAME_MAX + 1],
            )),
            rule => panic!("invalid frame {name}: unknown rule `{rule}`"),
        };
        let error = match decode_frame(&input) {
            Ok(_) => panic!("invalid frame {name} decodes"),
            Err(error) => error,
        };
        assert_eq!(
            error.code().name(),
            text(vector, "error"),
            "{name}: {error}"
        );
    }
}

#[test]
fn frames_vectors() {
    // Guards against the frame encoding, or the limits and rules decoding enforces, changing
    // without the vectors changing with them.
    bless_or_check("frames.json", "vectors", generate_frames, check_frames);
}
