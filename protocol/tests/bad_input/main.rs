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
use tideline_protocol::event::{DocId, Event, EventError, EventId, Op, ReplicaId, VerifiedEvent};
use tideline_protocol::limits::{
    ERROR_MESSAGE_BYTES_MAX, ERROR_VERSIONS_MAX, EVENTS_PER_FRAME_MAX, EVENT_BYTES_MAX,
    FRAME_BYTES_BUDGET, FRAME_BYTES_MAX, ITEMS_PER_FRAME_MAX, SHORT_IDS_PER_ITEM_MAX,
};
use tideline_protocol::merge::{ConflictId, DocKey, DocState};
use tideline_protocol::replica::apply;
use tideline_protocol::store::{MemoryStore, ReadStore};
use tideline_protocol::sync::{
    Admitted, Config, Initiator, Policy, Responder, SyncError, WANT_SCAN_KEYS_MAX,
};
use tideline_protocol::tree::{
    children_bitmap, insert, Digest, Key, Node, Path, Tree, View, KEY_NIBBLES,
};
use tideline_protocol::value::Value;
use tideline_protocol::wire::{
    decode_frame, encode_frame, fingerprint, range_children, short_id, ErrorBody, ErrorCode,
    Fingerprint, Frame, Groups, Item, Request, Response, Salt, ShortId, WireError,
    PROTOCOL_VERSION,
};
use tideline_testkit::events::{object, patch, EventBuilder};
use tideline_testkit::generate::{create_event, Rng};

const START_MS: u64 = 1_790_000_000_000;
const HOUR_MS: u64 = 3600 * 1000;
const SALT: Salt = Salt([0x5a; 16]);

/// The session's groups. `gamma` stays empty, so that views of an empty group are exercised.
const GROUP_NAMES: [&str; 3] = ["alpha", "beta", "gamma"];

/// A group index past the end of [`GROUP_NAMES`].
const GROUP_OUT_OF_RANGE: u32 = GROUP_NAMES.len() as u32;

mod events;
mod frames;
mod hostile;
mod walk;

/// A responder's store shared by the tests that only read it.
pub(crate) struct Fixture {
    store: MemoryStore,
    groups: Groups,
    /// Every key the store holds, with its group's index.
    keys: Vec<(u32, Key)>,
    /// Valid events the store does not hold: two of `alpha`, one of a group outside the
    /// session.
    fresh: Vec<VerifiedEvent>,
}

pub(crate) fn fixture() -> &'static Fixture {
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
pub(crate) fn request(items: Vec<Item>, events: Vec<Vec<u8>>) -> Request {
    Request {
        salt: SALT,
        groups: fingerprint(&SALT, &fixture().groups.digest()),
        items,
        events,
    }
}

pub(crate) fn request_bytes(items: Vec<Item>, events: Vec<Vec<u8>>) -> Vec<u8> {
    encode_frame(&Frame::Request(request(items, events)))
}

/// Bytes of a request frame up to its item count: version, variant, salt, groups fingerprint.
pub(crate) fn request_header() -> Vec<u8> {
    let bytes = request_bytes(vec![], vec![]);
    // Version 1, `Request`, 16 bytes of salt, 8 of fingerprint, no items, no events.
    assert_eq!(bytes.len(), 2 + 16 + 8 + 1 + 1);
    assert_eq!(bytes[0], PROTOCOL_VERSION as u8);
    assert_eq!(bytes[1], 0);
    bytes[..26].to_vec()
}

/// A request frame from raw item bytes, for items no `Item` value can express.
pub(crate) fn request_from_raw_items(count: usize, raw_items: &[u8]) -> Vec<u8> {
    let mut bytes = request_header();
    bytes.extend(varint(count as u64));
    bytes.extend_from_slice(raw_items);
    bytes.push(0); // No events.
    bytes
}

/// The encoding of one item, cut out of a one-item request.
pub(crate) fn item_bytes(item: &Item) -> Vec<u8> {
    let bytes = request_bytes(vec![item.clone()], vec![]);
    assert_eq!(bytes[26], 1, "one item");
    bytes[27..bytes.len() - 1].to_vec()
}

/// postcard's unsigned varint: 7 bits a byte, least significant first.
pub(crate) fn varint(mut value: u64) -> Vec<u8> {
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

pub(crate) fn path(nibbles: &[u8]) -> Path {
    Path::from_nibbles(nibbles.to_vec()).unwrap()
}

pub(crate) fn fingerprints(count: usize) -> Vec<Fingerprint> {
    (0..count).map(|i| Fingerprint([i as u8; 8])).collect()
}

pub(crate) fn short_ids(count: usize) -> Vec<ShortId> {
    (0..count).map(|i| ShortId([i as u8; 8])).collect()
}

/// An update with a base and a patch that both sets and removes, and a remove: the event
/// kinds `create_event` does not make.
pub(crate) fn update_and_remove() -> [VerifiedEvent; 2] {
    let update = EventBuilder::update(patch([
        (
            "title",
            Some(Value::Array(vec![
                Value::Float(-0.5),
                object([("k", Value::Bool(true))]),
            ])),
        ),
        ("x.y", None),
    ]))
    .group("alpha")
    .target(DocId([7; 16]))
    .at(START_MS + 11)
    .counter(3)
    .creator("user-42")
    .origin(ReplicaId([9; 16]))
    .base([EventId([1; 32]), EventId([2; 32])])
    .build();
    let remove = Event {
        op: Op::Remove,
        base: vec![update.id()],
        ..update.clone()
    };
    [update.seal().unwrap(), remove.seal().unwrap()]
}

/// Valid events of every op, to truncate and mutate.
pub(crate) fn sample_events() -> Vec<VerifiedEvent> {
    let mut rng = Rng::new(3);
    let mut events = vec![create_event(&mut rng, "alpha", START_MS, "alice", 5)];
    events.extend(update_and_remove());
    events
}

/// Valid frames of every kind: a request with every item kind and events, a response with
/// events, error frames, and the empty request.
pub(crate) fn sample_frames() -> Vec<Vec<u8>> {
    let fixture = fixture();
    let key = fixture.keys[5].1;
    let events: Vec<Vec<u8>> = sample_events()
        .into_iter()
        .map(VerifiedEvent::into_bytes)
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
pub(crate) fn is_canonical(frame: &Frame, bytes: &[u8]) -> bool {
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

/// The events of `request`, checked as a responder checks them (spec §8.3 steps 1 to 3).
pub(crate) fn accept(groups: &Groups, request: &Request) -> Result<Vec<VerifiedEvent>, SyncError> {
    let frame = encode_frame(&Frame::Request(request.clone()));
    Responder::default()
        .admit_trusted(&frame, groups)
        .map(Admitted::into_events)
}

/// The responder's answer to `request` from `store`: admitted as from a trusted peer (spec
/// §8.3), then answered.
pub(crate) fn respond<S: ReadStore + ?Sized>(
    store: &S,
    groups: &Groups,
    request: &Request,
    config: Config,
) -> Result<Response, SyncError> {
    let responder = Responder::new(config, Policy::default());
    let frame = encode_frame(&Frame::Request(request.clone()));
    let admitted = responder.admit_trusted(&frame, groups)?;
    responder.respond(store, &admitted)
}

pub(crate) fn respond_to(items: Vec<Item>) -> Result<Response, SyncError> {
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
pub(crate) fn initiator_in_flight() -> Initiator {
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

pub(crate) fn snapshot(store: &MemoryStore) -> Snapshot {
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
pub(crate) fn host_receives(
    store: &mut MemoryStore,
    request: &Request,
) -> Result<usize, SyncError> {
    let events = accept(&fixture().groups, request)?;
    Ok(apply(store, &events).unwrap().len())
}
