//! Frames (spec chapter 7): truncated, mutated, oversized and lying frames, items and paths, and the error codes.

use super::*;

#[test]
fn sample_frames_are_valid() {
    // Guards against the sweeps below passing only because their starting frames were invalid.
    for bytes in sample_frames() {
        let frame = decode_frame(&bytes).unwrap();
        assert_eq!(encode_frame(&frame), bytes);
    }
}

#[test]
fn every_truncated_frame_is_malformed() {
    // Guards against a frame cut short on the wire decoding as something, or panicking.
    for bytes in sample_frames() {
        for len in 0..bytes.len() {
            let result = decode_frame(&bytes[..len]);
            assert!(
                matches!(result, Err(WireError::Malformed(_))),
                "{len} of {} bytes gave {result:?}",
                bytes.len()
            );
        }
    }
}

#[test]
fn every_single_byte_mutation_is_refused_or_canonical() {
    // Guards against a damaged frame panicking the decoder, or decoding to a frame whose
    // encoding differs from the bytes received (a second spelling of one frame).
    for bytes in sample_frames() {
        for position in 0..bytes.len() {
            for byte in 0..=u8::MAX {
                if byte == bytes[position] {
                    continue;
                }
                let mut mutated = bytes.clone();
                mutated[position] = byte;
                match decode_frame(&mutated) {
                    Ok(frame) => assert!(
                        is_canonical(&frame, &mutated),
                        "byte {position} set to {byte:#04x}: {frame:?}"
                    ),
                    Err(error) => assert!(matches!(
                        error.code(),
                        ErrorCode::MalformedFrame
                            | ErrorCode::UnsupportedVersion
                            | ErrorCode::LimitExceeded
                    )),
                }
            }
        }
    }
}

#[test]
fn a_trailing_byte_is_malformed() {
    // Guards against accepting two frames glued together, or padding after one.
    for mut bytes in sample_frames() {
        bytes.push(0);
        let error = decode_frame(&bytes).unwrap_err();
        assert!(matches!(error, WireError::Malformed(_)), "{error:?}");
        assert_eq!(error.code(), ErrorCode::MalformedFrame);
    }
}

#[test]
fn unknown_versions_are_named_with_the_supported_ones() {
    // Guards against a newer peer's frame being misread as ours instead of refused with the
    // versions we speak, so the peer can fall back.
    let bytes = request_bytes(vec![], vec![]);
    for version in [0u32, 2, 300, u32::MAX] {
        let mut versioned = varint(u64::from(version));
        versioned.extend_from_slice(&bytes[1..]);
        let error = decode_frame(&versioned).unwrap_err();
        assert_eq!(
            error,
            WireError::UnsupportedVersion {
                version,
                supported: vec![1],
            }
        );
        assert_eq!(error.code(), ErrorCode::UnsupportedVersion);
    }
    // Version 1 spelled as an overlong varint is a second encoding of the same frame.
    let mut overlong = vec![0x81, 0x00];
    overlong.extend_from_slice(&bytes[1..]);
    assert!(matches!(
        decode_frame(&overlong),
        Err(WireError::Malformed(_))
    ));
    // A version that does not fit in a u32 is not a version at all.
    assert!(matches!(
        decode_frame(&[0xff, 0xff, 0xff, 0xff, 0xff, 0x01]),
        Err(WireError::Malformed(_))
    ));
}

#[test]
fn oversized_frames_are_refused_before_decoding() {
    // Guards against spending decoding work on a frame larger than any frame may be.
    let too_large = vec![0u8; FRAME_BYTES_MAX + 1];
    let error = decode_frame(&too_large).unwrap_err();
    // Version 0 would be refused as unsupported, so this error proves the size came first.
    assert_eq!(
        error,
        WireError::FrameTooLarge {
            bytes: FRAME_BYTES_MAX + 1,
            max: FRAME_BYTES_MAX,
        }
    );
    assert_eq!(error.code(), ErrorCode::FrameTooLarge);
    drop(too_large);

    // At exactly the limit the frame is decoded, and fails for what it holds.
    let mut at_limit = vec![0u8; FRAME_BYTES_MAX];
    at_limit[0] = 2;
    assert!(matches!(
        decode_frame(&at_limit),
        Err(WireError::UnsupportedVersion { version: 2, .. })
    ));
}

#[test]
fn too_many_items_exceed_the_limit() {
    // Guards against a frame that fits in the byte limit but carries more items than a
    // receiver agrees to walk.
    let root = item_bytes(&Item::Root {
        fingerprint: Fingerprint([3; 8]),
    });
    assert_eq!(root.len(), 9);
    let at_limit = request_from_raw_items(ITEMS_PER_FRAME_MAX, &root.repeat(ITEMS_PER_FRAME_MAX));
    assert!(at_limit.len() < FRAME_BYTES_MAX);
    match decode_frame(&at_limit) {
        Ok(Frame::Request(request)) => assert_eq!(request.items.len(), ITEMS_PER_FRAME_MAX),
        other => panic!("{other:?}"),
    }

    let over = request_from_raw_items(
        ITEMS_PER_FRAME_MAX + 1,
        &root.repeat(ITEMS_PER_FRAME_MAX + 1),
    );
    let error = decode_frame(&over).unwrap_err();
    assert!(
        matches!(
            error,
            WireError::LimitExceeded {
                max: ITEMS_PER_FRAME_MAX,
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(error.code(), ErrorCode::LimitExceeded);
}

#[test]
fn too_many_events_exceed_the_limit() {
    // Guards against a frame of many tiny events slipping past the per-frame event limit.
    let mut bytes = request_header();
    bytes.push(0); // No items.
    bytes.extend(varint(EVENTS_PER_FRAME_MAX as u64 + 1));
    // Each event is the empty byte string: its length, 0.
    bytes.extend(std::iter::repeat_n(0u8, EVENTS_PER_FRAME_MAX + 1));
    let error = decode_frame(&bytes).unwrap_err();
    assert!(
        matches!(
            error,
            WireError::LimitExceeded {
                max: EVENTS_PER_FRAME_MAX,
                ..
            }
        ),
        "{error:?}"
    );
}

#[test]
fn lying_length_prefixes_fail_without_allocating() {
    // Guards against a length prefix that claims more items, events or bytes than follow
    // making the decoder reserve memory for all of them before they arrive.
    // Counts sit at their limits, so that only the missing elements can fail the frame.
    let mut items = request_header();
    items.extend(varint(ITEMS_PER_FRAME_MAX as u64));
    let mut events = request_header();
    events.push(0);
    events.extend(varint(EVENTS_PER_FRAME_MAX as u64));
    let huge = varint(u64::from(u32::MAX) * 64);
    let mut event_bytes = request_header();
    event_bytes.extend([0, 1]);
    event_bytes.extend(&huge);
    let mut message = vec![1, 2, 4]; // Version 1, `Error`, code 4.
    message.extend(&huge);
    for bytes in [items, events, event_bytes, message] {
        let error = decode_frame(&bytes).unwrap_err();
        assert!(matches!(error, WireError::Malformed(_)), "{error:?}");
    }
}

#[test]
fn short_id_lists_are_limited() {
    // Guards against an `Ids` or `Want` item larger than a leaf could ever need.
    let at_limit = vec![
        Item::Ids {
            group: 0,
            prefix: Path::root(),
            ids: short_ids(SHORT_IDS_PER_ITEM_MAX),
        },
        Item::Want {
            group: 0,
            prefix: Path::root(),
            ids: short_ids(SHORT_IDS_PER_ITEM_MAX),
        },
    ];
    decode_frame(&request_bytes(at_limit, vec![])).unwrap();
    for item in [
        Item::Ids {
            group: 0,
            prefix: Path::root(),
            ids: short_ids(SHORT_IDS_PER_ITEM_MAX + 1),
        },
        Item::Want {
            group: 0,
            prefix: Path::root(),
            ids: short_ids(SHORT_IDS_PER_ITEM_MAX + 1),
        },
    ] {
        let error = decode_frame(&request_bytes(vec![item], vec![])).unwrap_err();
        assert_eq!(
            error,
            WireError::LimitExceeded {
                what: "short ids in one item",
                max: SHORT_IDS_PER_ITEM_MAX,
            }
        );
        assert_eq!(error.code(), ErrorCode::LimitExceeded);
    }
}

#[test]
fn error_frames_are_bounded() {
    // Guards against an error frame carrying a message or a version list larger than anyone
    // needs, which a receiver would log or show.
    let error = |message_len: usize, versions_len: usize| {
        encode_frame(&Frame::Error(ErrorBody {
            code: ErrorCode::Internal,
            message: "m".repeat(message_len),
            versions: vec![1; versions_len],
        }))
    };
    decode_frame(&error(ERROR_MESSAGE_BYTES_MAX, ERROR_VERSIONS_MAX)).unwrap();
    for (bytes, max) in [
        (
            error(ERROR_MESSAGE_BYTES_MAX + 1, 1),
            ERROR_MESSAGE_BYTES_MAX,
        ),
        (error(0, ERROR_VERSIONS_MAX + 1), ERROR_VERSIONS_MAX),
    ] {
        let error = decode_frame(&bytes).unwrap_err();
        assert!(
            matches!(error, WireError::LimitExceeded { max: limit, .. } if limit == max),
            "{error:?}"
        );
        assert_eq!(error.code(), ErrorCode::LimitExceeded);
    }
}

#[test]
fn ill_formed_items_are_malformed() {
    // Guards against items whose parts disagree with each other reaching the walk, where
    // they would index past a list or describe a node no tree can have.
    let split = |prefix_len: u8, lcp: Path, children: u16, count: usize| Item::Split {
        group: 0,
        prefix_len,
        lcp,
        children,
        fingerprints: fingerprints(count),
    };
    let range = |start: u32, end: u32, count: usize| Item::Range {
        start,
        end,
        fingerprints: fingerprints(count),
    };
    let cases = [
        ("Split with one child", split(0, path(&[1]), 0b100, 1)),
        ("Split with no child", split(0, path(&[1]), 0, 0)),
        (
            "Split with fewer fingerprints",
            split(0, path(&[1]), 0b111, 2),
        ),
        (
            "Split with more fingerprints",
            split(0, path(&[1]), 0b11, 3),
        ),
        ("Split with prefix past lcp", split(2, path(&[1]), 0b11, 2)),
        (
            "Split with a whole key as lcp",
            split(0, path(&[0; KEY_NIBBLES]), 0b11, 2),
        ),
        ("Range of one group", range(4, 5, 1)),
        ("Range of no group", range(4, 4, 0)),
        ("Range ending before it starts", range(5, 4, 1)),
        ("Range with fewer fingerprints", range(0, 40, 13)),
        ("Range with more fingerprints", range(0, 3, 4)),
    ];
    for (what, item) in cases {
        let error = decode_frame(&request_bytes(vec![item], vec![])).unwrap_err();
        assert!(
            matches!(error, WireError::Malformed(_)),
            "{what}: {error:?}"
        );
        assert_eq!(error.code(), ErrorCode::MalformedFrame);
    }
}

#[test]
fn ill_formed_paths_are_malformed() {
    // Guards against a path longer than a key, or a second spelling of one path, being
    // accepted.
    // An `Ids` item of group 0, with the path's bytes spliced in, then no short ids.
    let ids_with_path = |path_bytes: &[u8]| {
        let mut item = vec![3, 0];
        item.extend_from_slice(path_bytes);
        item.push(0);
        request_from_raw_items(1, &item)
    };
    let longest = {
        let mut bytes = vec![KEY_NIBBLES as u8, (KEY_NIBBLES / 2) as u8];
        bytes.extend([0xab; KEY_NIBBLES / 2]);
        bytes
    };
    decode_frame(&ids_with_path(&longest)).unwrap();
    let three_nibbles = [3, 2, 0x12, 0x30];
    decode_frame(&ids_with_path(&three_nibbles)).unwrap();

    let cases: [(&str, Vec<u8>); 5] = [
        ("89 nibbles", {
            let mut bytes = vec![KEY_NIBBLES as u8 + 1, 45];
            bytes.extend([0; 45]);
            bytes
        }),
        ("3 nibbles in 1 byte", vec![3, 1, 0x12]),
        ("3 nibbles in 3 bytes", vec![3, 3, 0x12, 0x30, 0x00]),
        ("no nibbles in 1 byte", vec![0, 1, 0x00]),
        ("a nonzero padding nibble", vec![3, 2, 0x12, 0x34]),
    ];
    for (what, path_bytes) in cases {
        let error = decode_frame(&ids_with_path(&path_bytes)).unwrap_err();
        assert!(
            matches!(error, WireError::Malformed(_)),
            "{what}: {error:?}"
        );
    }
}

#[test]

pub(crate) fn a_range_near_the_top_of_u32_does_not_panic() {
    // Guards against sub-range arithmetic overflowing on a hostile Range item.
    // With start u32::MAX - 17 and end u32::MAX the step is 2 and the last sub-range starts at
    // u32::MAX - 1, so `low + step` does not fit in a u32; [0, u32::MAX) overflows the same
    // way at its sixteenth sub-range.
    for (start, end, sub_ranges) in [(u32::MAX - 17, u32::MAX, 9), (0, u32::MAX, 16)] {
        let mut item = vec![1];
        item.extend(varint(u64::from(start)));
        item.extend(varint(u64::from(end)));
        item.push(sub_ranges);
        item.extend(vec![0u8; 8 * usize::from(sub_ranges)]);
        let frame = decode_frame(&request_from_raw_items(1, &item)).unwrap();
        let Frame::Request(request) = frame else {
            panic!("a request")
        };
        let error = respond_to(request.items).unwrap_err();
        assert!(matches!(error, SyncError::GroupIndex { .. }), "{error:?}");
        let children = range_children(start, end);
        assert_eq!(children.len(), usize::from(sub_ranges));
        assert!(children
            .iter()
            .all(|&(low, high)| start <= low && low < high && high <= end));
    }
}

#[test]
fn error_codes_keep_their_numbers_and_names() {
    // Guards against a code changing its number or name, which peers and the spec rely on.
    let table = [
        (ErrorCode::MalformedFrame, 1, "malformed_frame"),
        (ErrorCode::FrameTooLarge, 2, "frame_too_large"),
        (ErrorCode::UnsupportedVersion, 3, "unsupported_version"),
        (ErrorCode::GroupsMismatch, 4, "groups_mismatch"),
        (ErrorCode::LimitExceeded, 5, "limit_exceeded"),
        (ErrorCode::InvalidEvent, 6, "invalid_event"),
        (ErrorCode::GroupForbidden, 7, "group_forbidden"),
        (ErrorCode::UnexpectedFrame, 8, "unexpected_frame"),
        (ErrorCode::Unauthorized, 9, "unauthorized"),
        (ErrorCode::ForgedCreator, 10, "forged_creator"),
        (ErrorCode::TimestampInFuture, 11, "timestamp_in_future"),
        (ErrorCode::Internal, 12, "internal"),
    ];
    for (code, number, name) in table {
        assert_eq!(code.number(), number);
        assert_eq!(code.name(), name);
        assert_eq!(ErrorCode::from_number(number), code);
    }
    for number in [0, 13, 999, u16::MAX] {
        assert_eq!(ErrorCode::from_number(number), ErrorCode::Unknown(number));
        assert_eq!(ErrorCode::Unknown(number).number(), number);
    }
    // An unknown code survives a trip through an error frame, so it can be reported.
    let frame = Frame::Error(ErrorBody {
        code: ErrorCode::Unknown(999),
        message: "from the future".to_owned(),
        versions: vec![1, 2],
    });
    assert_eq!(decode_frame(&encode_frame(&frame)).unwrap(), frame);
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 1024,
        rng_algorithm: RngAlgorithm::ChaCha,
        rng_seed: RngSeed::Fixed(0x0BAD_0001),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_bytes_never_panic_the_frame_decoder(
        bytes in prop::collection::vec(any::<u8>(), 0..512),
    ) {
        // Guards against any input crashing the decoder instead of being refused.
        if let Ok(frame) = decode_frame(&bytes) {
            prop_assert!(is_canonical(&frame, &bytes), "{:?}", frame);
        }
    }

    #[test]
    fn random_bytes_after_a_request_header_never_panic(
        tail in prop::collection::vec(any::<u8>(), 0..512),
    ) {
        // Guards against a crash deeper in the frame, which random bytes from the start
        // rarely reach because most fail at the version.
        let mut bytes = request_header();
        bytes.extend(tail);
        if let Ok(frame) = decode_frame(&bytes) {
            prop_assert!(is_canonical(&frame, &bytes), "{:?}", frame);
        }
    }
}
