//! Bad input on purpose: random, truncated, mutated and oversized frames and events, and walk
//! items that decode but lie. Every case must end in a typed error with the right wire code:
//! never a panic, never an unbounded allocation or scan, never a write to the store.
//!
//! Sweeps over every truncation and every single-byte mutation are exhaustive over the sample
//! frames and events below. Randomized cases use proptest with a fixed ChaCha seed and no
//! failure files, so a failure replays exactly; proptest prints the minimal failing input.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config as ProptestConfig, RngAlgorithm, RngSeed};
use tideline_protocol::event::{
    DocId, Event, EventError, EventId, FieldPath, Hlc, Op, Patch, ReplicaId, VerifiedEvent,
};
use tideline_protocol::limits::{
    ERROR_MESSAGE_BYTES_MAX, ERROR_VERSIONS_MAX, EVENTS_PER_FRAME_MAX, EVENT_BYTES_MAX,
    FRAME_BYTES_BUDGET, FRAME_BYTES_MAX, ITEMS_PER_FRAME_MAX, SHORT_IDS_PER_ITEM_MAX,
};
use tideline_protocol::merge::{ConflictId, DocKey, DocState};
use tideline_protocol::replica::apply;
use tideline_protocol::store::{MemoryStore, ReadStore};
use tideline_protocol::sync::{accept, respond, Config, Initiator, SyncError, WANT_SCAN_KEYS_MAX};
use tideline_protocol::tree::{
    children_bitmap, insert, Digest, Key, Node, Path, Tree, View, KEY_NIBBLES,
};
use tideline_protocol::value::Value;
use tideline_protocol::wire::{
    decode_frame, encode_frame, fingerprint, range_children, short_id, ErrorBody, ErrorCode,
    Fingerprint, Frame, Groups, Item, Request, Response, Salt, ShortId, WireError,
    PROTOCOL_VERSION,
};
use tideline_testkit::generate::{create_event, Rng};

const START_MS: u64 = 1_790_000_000_000;
const HOUR_MS: u64 = 3600 * 1000;
const SALT: Salt = Salt([0x5a; 16]);

/// The session's groups. `gamma` stays empty, so that views of an empty group are exercised.
const GROUP_NAMES: [&str; 3] = ["alpha", "beta", "gamma"];

/// A group index past the end of [`GROUP_NAMES`].
const GROUP_OUT_OF_RANGE: u32 = GROUP_NAMES.len() as u32;

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

/// A responder's store shared by the tests that only read it.
struct Fixture {
    store: MemoryStore,
    groups: Groups,
    /// Every key the store holds, with its group's index.
    keys: Vec<(u32, Key)>,
    /// Valid events the store does not hold: two of `alpha`, one of a group outside the
    /// session.
    fresh: Vec<VerifiedEvent>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let mut rng = Rng::new(0xBAD1);
        let mut events = Vec::new();
        // `alpha`: 260 events in one hour and 40 in one millisecond, so that its tree has
        // branches whose lcp reaches into the timestamp and into the event ids.
        for _ in 0..260 {
            let wall_ms = START_MS + rng.below(HOUR_MS);
            events.push(create_event(&mut rng, "alpha", wall_ms, "alice", 8));
        }
        for _ in 0..40 {
            events.push(create_event(&mut rng, "alpha", START_MS, "alice", 8));
        }
        // `beta`: a single leaf.
        for _ in 0..12 {
            let wall_ms = START_MS + rng.below(30 * 24 * HOUR_MS);
            events.push(create_event(&mut rng, "beta", wall_ms, "bob", 8));
        }
        let mut store = MemoryStore::new();
        apply(&mut store, &events).unwrap();
        let groups = Groups::new(GROUP_NAMES).unwrap();
        let keys = GROUP_NAMES
            .iter()
            .enumerate()
            .flat_map(|(index, name)| {
                store
                    .group_keys(name)
                    .into_iter()
                    .map(move |key| (index as u32, key))
            })
            .collect();
        let fresh = vec![
            create_event(&mut rng, "alpha", START_MS + 7, "alice", 8),
            create_event(&mut rng, "alpha", START_MS + 8, "alice", 8),
            create_event(&mut rng, "delta", START_MS + 9, "mallory", 8),
        ];
        Fixture {
            store,
            groups,
            keys,
            fresh,
        }
    })
}

/// A request of the fixture's session, with the right groups fingerprint.
fn request(items: Vec<Item>, events: Vec<Vec<u8>>) -> Request {
    Request {
        salt: SALT,
        groups: fingerprint(&SALT, &fixture().groups.digest()),
        items,
        events,
    }
}

fn request_bytes(items: Vec<Item>, events: Vec<Vec<u8>>) -> Vec<u8> {
    encode_frame(&Frame::Request(request(items, events)))
}

/// Bytes of a request frame up to its item count: version, variant, salt, groups fingerprint.
fn request_header() -> Vec<u8> {
    let bytes = request_bytes(vec![], vec![]);
    // Version 1, `Request`, 16 bytes of salt, 8 of fingerprint, no items, no events.
    assert_eq!(bytes.len(), 2 + 16 + 8 + 1 + 1);
    assert_eq!(bytes[0], PROTOCOL_VERSION as u8);
    assert_eq!(bytes[1], 0);
    bytes[..26].to_vec()
}

/// A request frame from raw item bytes, for items no `Item` value can express.
fn request_from_raw_items(count: usize, raw_items: &[u8]) -> Vec<u8> {
    let mut bytes = request_header();
    bytes.extend(varint(count as u64));
    bytes.extend_from_slice(raw_items);
    bytes.push(0); // No events.
    bytes
}

/// The encoding of one item, cut out of a one-item request.
fn item_bytes(item: &Item) -> Vec<u8> {
    let bytes = request_bytes(vec![item.clone()], vec![]);
    assert_eq!(bytes[26], 1, "one item");
    bytes[27..bytes.len() - 1].to_vec()
}

/// postcard's unsigned varint: 7 bits a byte, least significant first.
fn varint(mut value: u64) -> Vec<u8> {
    let mut bytes = Vec::new();
    loop {
        let low = (value & 0x7F) as u8;
        value >>= 7;
        if value == 0 {
            bytes.push(low);
            return bytes;
        }
        bytes.push(low | 0x80);
    }
}

fn path(nibbles: &[u8]) -> Path {
    Path::from_nibbles(nibbles.to_vec()).unwrap()
}

fn fingerprints(count: usize) -> Vec<Fingerprint> {
    (0..count).map(|i| Fingerprint([i as u8; 8])).collect()
}

fn short_ids(count: usize) -> Vec<ShortId> {
    (0..count).map(|i| ShortId([i as u8; 8])).collect()
}

/// An update with a base and a patch that both sets and removes, and a remove: the event
/// kinds `create_event` does not make.
fn update_and_remove() -> [VerifiedEvent; 2] {
    let update = Event {
        group: "alpha".to_owned(),
        collection: "notes".to_owned(),
        target: DocId([7; 16]),
        timestamp: Hlc {
            wall_ms: START_MS + 11,
            counter: 3,
        },
        creator: "user-42".to_owned(),
        origin: ReplicaId([9; 16]),
        base: vec![EventId([1; 32]), EventId([2; 32])],
        op: Op::Update(Patch(vec![
            (
                FieldPath(vec!["title".to_owned()]),
                Some(Value::Array(vec![
                    Value::Float(-0.5),
                    Value::Object(vec![("k".to_owned(), Value::Bool(true))]),
                ])),
            ),
            (FieldPath(vec!["x".to_owned(), "y".to_owned()]), None),
        ])),
    };
    let remove = Event {
        op: Op::Remove,
        base: vec![update.id()],
        ..update.clone()
    };
    [update.seal().unwrap(), remove.seal().unwrap()]
}

/// Valid events of every op, to truncate and mutate.
fn sample_events() -> Vec<VerifiedEvent> {
    let mut rng = Rng::new(3);
    let mut events = vec![create_event(&mut rng, "alpha", START_MS, "alice", 5)];
    events.extend(update_and_remove());
    events
}

/// Valid frames of every kind: a request with every item kind and events, a response with
/// events, error frames, and the empty request.
fn sample_frames() -> Vec<Vec<u8>> {
    let fixture = fixture();
    let key = fixture.keys[5].1;
    let events: Vec<Vec<u8>> = sample_events()
        .into_iter()
        .map(|event| event.bytes)
        .collect();
    let every_item = vec![
        Item::Root {
            fingerprint: Fingerprint([1; 8]),
        },
        Item::Range {
            start: 0,
            end: 3,
            fingerprints: fingerprints(range_children(0, 3).len()),
        },
        Item::Range {
            start: 1,
            end: 40,
            fingerprints: fingerprints(range_children(1, 40).len()),
        },
        Item::Split {
            group: 0,
            prefix_len: 1,
            // Odd length, so the packed path has a padding nibble.
            lcp: path(&[1, 2, 3]),
            children: 0b1010_0000_0000_0101,
            fingerprints: fingerprints(4),
        },
        Item::Ids {
            group: 1,
            prefix: path(&[15, 0]),
            ids: short_ids(3),
        },
        Item::Want {
            group: 2,
            prefix: Path::root(),
            ids: short_ids(1),
        },
        Item::Need {
            group: 0,
            prefix: Path::of_key(&key, 9),
            after: Some(key),
        },
        Item::More {
            group: 200,
            prefix: Path::of_key(&key, KEY_NIBBLES),
            after: None,
        },
    ];
    vec![
        request_bytes(every_item.clone(), events[..1].to_vec()),
        encode_frame(&Frame::Response(Response {
            consumed: 3,
            items: every_item[4..].to_vec(),
            events,
        })),
        encode_frame(&Frame::Error(ErrorBody {
            code: ErrorCode::GroupsMismatch,
            message: "the peer syncs a different list of groups".to_owned(),
            versions: vec![PROTOCOL_VERSION],
        })),
        encode_frame(&Frame::Error(ErrorBody {
            code: ErrorCode::Unknown(999),
            message: String::new(),
            versions: vec![],
        })),
        request_bytes(vec![], vec![]),
    ]
}

/// Whether `bytes`, which decoded to `frame`, are its one canonical spelling.
///
/// Under our version that is the whole encoding. A decoder may also read an error frame under
/// another version, so that a peer's refusal can be reported; then the part after the version
/// must still be the canonical encoding.
fn is_canonical(frame: &Frame, bytes: &[u8]) -> bool {
    let encoded = encode_frame(frame);
    if bytes.first() == Some(&(PROTOCOL_VERSION as u8)) {
        return encoded == bytes;
    }
    // The version varint ends at the first byte without its continuation bit.
    let Some(version_len) = bytes.iter().position(|byte| byte & 0x80 == 0) else {
        return false;
    };
    matches!(frame, Frame::Error(_)) && encoded[1..] == bytes[version_len + 1..]
}

fn respond_to(items: Vec<Item>) -> Result<Response, SyncError> {
    let fixture = fixture();
    respond(
        &fixture.store,
        &fixture.groups,
        &request(items, vec![]),
        Config::default(),
    )
}

/// An initiator over the fixture's store that has sent its opening request (one `Root`
/// item), and so waits for a response.
fn initiator_in_flight() -> Initiator {
    let fixture = fixture();
    let mut initiator = Initiator::new(fixture.groups.clone(), SALT, Config::default());
    let opening = initiator.poll_request(&fixture.store).unwrap().unwrap();
    assert_eq!(opening.items.len(), 1);
    assert!(opening.events.is_empty());
    initiator
}

/// What a replica holds, to compare before and after a rejected request.
type Snapshot = (
    usize,
    Vec<Vec<Key>>,
    Vec<Digest>,
    BTreeMap<DocKey, DocState>,
);

fn snapshot(store: &MemoryStore) -> Snapshot {
    let tree = Tree::new(store);
    (
        store.events_len(),
        GROUP_NAMES
            .iter()
            .map(|name| store.group_keys(name))
            .collect(),
        GROUP_NAMES
            .iter()
            .map(|name| tree.root(name).unwrap())
            .collect(),
        store.all_docs().clone(),
    )
}

/// The documented host flow on the responder: check the request's events with [`accept`],
/// and apply them to the replica only if it succeeds.
fn host_receives(store: &mut MemoryStore, request: &Request) -> Result<usize, SyncError> {
    let events = accept(&fixture().groups, request)?;
    Ok(apply(store, &events).unwrap().len())
}

// ---------------------------------------------------------------------------------------------
// Frames
// ---------------------------------------------------------------------------------------------

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

fn a_range_near_the_top_of_u32_does_not_panic() {
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

// ---------------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------------

#[test]
fn every_truncated_event_is_malformed() {
    // Guards against an event cut short decoding to some other event, or panicking.
    for event in sample_events() {
        for len in 0..event.bytes.len() {
            let result = VerifiedEvent::decode(&event.bytes[..len]);
            assert!(
                matches!(result, Err(EventError::Malformed(_))),
                "{len} of {} bytes gave {result:?}",
                event.bytes.len()
            );
        }
    }
}

#[test]
fn every_single_byte_mutation_of_an_event_is_refused_or_canonical() {
    // Guards against a damaged event panicking the decoder, or decoding to an event whose
    // bytes (and so whose id) differ from what was received.
    for event in sample_events() {
        let bytes = &event.bytes;
        for position in 0..bytes.len() {
            for byte in 0..=u8::MAX {
                if byte == bytes[position] {
                    continue;
                }
                let mut mutated = bytes.clone();
                mutated[position] = byte;
                if let Ok(decoded) = VerifiedEvent::decode(&mutated) {
                    assert_eq!(decoded.event.encode(), mutated);
                    assert_eq!(decoded.bytes, mutated);
                    // `Event::id` hashes the encoding, which is the bytes received.
                    assert_eq!(decoded.id, decoded.event.id());
                }
            }
        }
    }
}

#[test]
fn a_deeply_nested_value_fails_without_overflowing_the_stack() {
    // Guards against 100,000 nested arrays in a document recursing until the stack overflows.
    let event = Event {
        op: Op::Create(Value::Object(vec![("a".to_owned(), Value::Null)])),
        ..update_and_remove()[0].event.clone()
    };
    let mut bytes = event.encode();
    // The document ends with the value of "a": Null, 0x00. Replace it with 100,000 arrays of
    // one element each (variant 5, length 1), around a final null.
    assert_eq!(bytes.pop(), Some(0));
    bytes.extend([5u8, 1].repeat(100_000));
    bytes.push(0);
    assert!(bytes.len() <= EVENT_BYTES_MAX);
    assert!(matches!(
        VerifiedEvent::decode(&bytes),
        Err(EventError::Malformed(_))
    ));
    // Objects nest the same way: {"": {"": ...}} is variant 6, one entry, an empty key.
    bytes.truncate(event.encode().len() - 1);
    bytes.extend([6u8, 1, 0].repeat(80_000));
    bytes.push(0);
    assert!(bytes.len() <= EVENT_BYTES_MAX);
    assert!(matches!(
        VerifiedEvent::decode(&bytes),
        Err(EventError::Malformed(_))
    ));

    // The same event inside a request is refused as an invalid event, not a crash.
    let error = accept(&fixture().groups, &request(vec![], vec![bytes])).unwrap_err();
    assert!(matches!(
        error,
        SyncError::InvalidEvent {
            index: 0,
            source: EventError::Malformed(_)
        }
    ));
    assert_eq!(error.code(), ErrorCode::InvalidEvent);
}

#[test]
fn an_event_over_the_size_limit_is_too_large() {
    // Guards against an event larger than the protocol allows being decoded, sealed or
    // accepted.
    let mut rng = Rng::new(4);
    let big = create_event(&mut rng, "alpha", START_MS, "alice", 10);
    let mut event = big.event.clone();
    event.op = Op::Create(Value::Object(vec![(
        "text".to_owned(),
        Value::String("x".repeat(EVENT_BYTES_MAX)),
    )]));
    let bytes = event.encode();
    assert!(bytes.len() > EVENT_BYTES_MAX);
    let too_large = EventError::TooLarge {
        bytes: bytes.len(),
        bytes_max: EVENT_BYTES_MAX,
    };
    assert_eq!(VerifiedEvent::decode(&bytes), Err(too_large.clone()));
    assert_eq!(event.validate(), Err(too_large.clone()));
    assert_eq!(event.clone().seal(), Err(too_large.clone()));

    let error = accept(&fixture().groups, &request(vec![], vec![bytes])).unwrap_err();
    match &error {
        SyncError::InvalidEvent { index: 0, source } => assert_eq!(source, &too_large),
        other => panic!("{other:?}"),
    }
    assert_eq!(error.code(), ErrorCode::InvalidEvent);
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 1024,
        rng_algorithm: RngAlgorithm::ChaCha,
        rng_seed: RngSeed::Fixed(0x0BAD_0002),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_bytes_never_panic_the_event_decoder(
        bytes in prop::collection::vec(any::<u8>(), 0..512),
    ) {
        // Guards against any input crashing the event decoder instead of being refused.
        if let Ok(decoded) = VerifiedEvent::decode(&bytes) {
            prop_assert_eq!(decoded.event.encode(), bytes);
        }
    }

    #[test]
    fn random_tails_after_a_valid_event_head_never_panic(
        event in 0usize..3,
        head in any::<Index>(),
        tail in prop::collection::vec(any::<u8>(), 0..256),
    ) {
        // Guards against a crash deep in an event (its base, patch or document), which random
        // bytes from the start rarely reach.
        let event = &sample_events()[event];
        let mut bytes = event.bytes[..head.index(event.bytes.len())].to_vec();
        bytes.extend(tail);
        if let Ok(decoded) = VerifiedEvent::decode(&bytes) {
            prop_assert_eq!(decoded.event.encode(), bytes);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The walk
// ---------------------------------------------------------------------------------------------

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
        vec![fixture.fresh[0].bytes.clone()],
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
    assert_eq!(forbidden.event.group, "delta");
    let events = vec![fixture.fresh[0].bytes.clone(), forbidden.bytes.clone()];

    let error = accept(&fixture.groups, &request(vec![], events.clone())).unwrap_err();
    match &error {
        SyncError::GroupForbidden { id, group } => {
            assert_eq!(*id, forbidden.id);
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
    let good = fixture.fresh[0].bytes.clone();
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
        .map(|bytes| VerifiedEvent::decode(bytes).unwrap().id)
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
    for id in good.iter().map(|event| event.id) {
        assert!(!store.has_event(&id).unwrap());
    }

    let bad_events: [Vec<u8>; 3] = [vec![1, 2, 3], fixture.fresh[2].bytes.clone(), {
        let mut trailing = fixture.fresh[1].bytes.clone();
        trailing.push(7);
        trailing
    }];
    for bad in bad_events {
        for position in [0, 2, 4] {
            let mut events: Vec<Vec<u8>> = good.iter().map(|event| event.bytes.clone()).collect();
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
    let events = good.iter().map(|event| event.bytes.clone()).collect();
    assert_eq!(
        host_receives(&mut store, &request(vec![], events)).unwrap(),
        4
    );
    assert_ne!(snapshot(&store), before);
}

/// A store whose every read fails, as a disk might.
struct FailingStore;

fn disk_gone<T>() -> Result<T, std::io::Error> {
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

// ---------------------------------------------------------------------------------------------
// Random hostile items that decode
// ---------------------------------------------------------------------------------------------

fn group_strategy() -> impl Strategy<Value = u32> {
    prop_oneof![
        6 => 0..GROUP_OUT_OF_RANGE,
        1 => GROUP_OUT_OF_RANGE..GROUP_OUT_OF_RANGE + 3,
        1 => Just(u32::MAX),
    ]
}

/// A key the fixture holds, with its group's index.
fn held_key() -> impl Strategy<Value = (u32, Key)> {
    any::<Index>().prop_map(|index| {
        let keys = &fixture().keys;
        keys[index.index(keys.len())]
    })
}

/// Mostly prefixes of keys the fixture holds, so that views find events; sometimes any path.
fn path_strategy() -> impl Strategy<Value = Path> {
    prop_oneof![
        3 => (held_key(), 0..=KEY_NIBBLES).prop_map(|((_, key), len)| Path::of_key(&key, len)),
        1 => (held_key(), 0..=12usize).prop_map(|((_, key), len)| Path::of_key(&key, len)),
        1 => prop::collection::vec(0u8..16, 0..=KEY_NIBBLES)
            .prop_map(|nibbles| Path::from_nibbles(nibbles).unwrap()),
    ]
}

fn key_strategy() -> impl Strategy<Value = Option<Key>> {
    prop_oneof![
        Just(None),
        held_key().prop_map(|(_, key)| Some(key)),
        prop::collection::vec(any::<u8>(), 44)
            .prop_map(|bytes| Some(Key(bytes.try_into().unwrap()))),
    ]
}

fn short_id_strategy() -> impl Strategy<Value = ShortId> {
    prop_oneof![
        held_key().prop_map(|(_, key)| short_id(&SALT, &key.id())),
        any::<[u8; 8]>().prop_map(ShortId),
    ]
}

fn fingerprint_strategy() -> impl Strategy<Value = Fingerprint> {
    any::<[u8; 8]>().prop_map(Fingerprint)
}

/// What the fixture itself would say about a prefix (as `describe` in the walk would), with
/// one part optionally damaged: items whose fingerprints partly match reach deeper code.
fn honest_item(group: u32, prefix: Path, damage: Option<Index>) -> Item {
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

fn item_strategy() -> impl Strategy<Value = Item> {
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
fn event_bytes_strategy() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        (0..3usize).prop_map(|index| fixture().fresh[index].bytes.clone()),
        prop::collection::vec(any::<u8>(), 0..64),
    ]
}

fn budget_strategy() -> impl Strategy<Value = usize> {
    prop_oneof![Just(300usize), Just(4096), Just(FRAME_BYTES_BUDGET)]
}

/// Whether the responder can handle `item` without an error, whatever it holds.
fn item_is_valid_for_responder(item: &Item) -> bool {
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
        match respond(&store, &fixture.groups, &request, config) {
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
