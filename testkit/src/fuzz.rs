//! What each fuzz target checks on one input. The targets in `fuzz/fuzz_targets/` call these,
//! and `testkit/tests/fuzz_corpus.rs` replays the corpora in `fuzz/corpus/` through the same
//! checks under plain `cargo test`, without libFuzzer.
//!
//! - [`frame_decode`]: `wire::decode_frame` on any bytes; what decodes re-encodes to the same
//!   bytes.
//! - [`event_decode`]: `VerifiedEvent::decode` on any bytes; what decodes re-encodes to the
//!   same bytes, under the same id, and merges without panicking.
//! - [`request_handle`]: the server's request handling minus HTTP
//!   ([`simulation::handle_request`](crate::simulation::handle_request)) against a fixed token and a store seeded with events;
//!   never panics, a refused request leaves the store unchanged (every check comes before the
//!   write), and a response only ever carries valid events of the token's groups.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use tideline_protocol::event::VerifiedEvent;
use tideline_protocol::limits::FRAME_BYTES_MAX;
use tideline_protocol::merge::{materialize, DocKey, DocState};
use tideline_protocol::replica;
use tideline_protocol::store::{MemoryStore, ReadStore};
use tideline_protocol::sync::{Config, Policy, Responder};
use tideline_protocol::tree::{Digest, Key, Tree};
use tideline_protocol::wire::{decode_frame, encode_frame, fingerprint, Frame, Groups};

use crate::generate::{create_event, Rng};
use crate::simulation::{handle_request, Token};

/// The server's clock in `request_handle`.
pub const NOW_MS: u64 = 1_794_000_000_000;

/// The user of the token in `request_handle`.
pub const USER: &str = "alice";

/// The groups of that token.
pub const TOKEN_GROUPS: [&str; 2] = ["home", "work"];

/// A group the store holds but the token does not grant: nothing of it may leak.
pub const SECRET_GROUP: &str = "secret";

/// The varint at the start of `bytes` (at most 5 bytes, as for a `u32`), re-encoded in its
/// canonical, shortest form.
fn varint_canonical(bytes: &[u8]) -> Vec<u8> {
    let mut value = 0u64;
    for (index, byte) in bytes.iter().take(5).enumerate() {
        value |= u64::from(byte & 0x7f) << (7 * index);
        if byte & 0x80 == 0 {
            break;
        }
    }
    let mut out = Vec::new();
    loop {
        let low = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(low);
            return out;
        }
        out.push(low | 0x80);
    }
}

/// `decode_frame` never panics, and a frame that decodes is the canonical encoding of what it
/// decoded to. The one exception the spec makes (chapter 11): an `Error` frame of another
/// version decodes, and re-encodes under our version, so there the input must be its own
/// version, canonically encoded, then our encoding's bytes after the version.
pub fn frame_decode(data: &[u8]) {
    let Ok(frame) = decode_frame(data) else {
        return;
    };
    let encoded = encode_frame(&frame);
    if encoded == data {
        return;
    }
    assert!(
        matches!(frame, Frame::Error(_)),
        "a non-error frame decoded from bytes that are not its encoding"
    );
    // Our encoding starts with our version, one byte; the input's must be canonical too.
    let mut expected = varint_canonical(data);
    expected.extend_from_slice(&encoded[1..]);
    assert_eq!(
        expected, data,
        "an error frame of another version decoded from bytes that are not its encoding"
    );
}

/// `VerifiedEvent::decode` never panics, and an event that decodes is valid, is the
/// canonical encoding of what it decoded to, has the id of those bytes, and merges.
pub fn event_decode(data: &[u8]) {
    let Ok(event) = VerifiedEvent::decode(data) else {
        return;
    };
    assert_eq!(event.bytes(), data);
    assert_eq!(event.event().encode(), data);
    assert_eq!(event.id(), event.event().id());
    let sealed = event
        .event()
        .clone()
        .seal()
        .expect("a decoded event is valid");
    assert_eq!(sealed, event);
    assert_eq!(Key::of(&event).id(), event.id());
    let state = materialize(std::slice::from_ref(&event));
    assert_eq!(state.heads, vec![event.id()]);
    assert!(
        state.conflicts.is_empty(),
        "one event conflicts with nothing"
    );
}

/// The store and token `request_handle` runs against.
pub struct Seeded {
    /// The server's store before each input.
    pub store: MemoryStore,
    /// The token every input is sent with.
    pub token: Token,
    /// What the store holds, to compare with after a refusal.
    snapshot: Snapshot,
}

/// The store and token `request_handle` runs against, for building seed inputs.
pub fn seeded() -> &'static Seeded {
    &SEEDED
}

/// A store with events of the token's groups and of a secret group, some of them edits of
/// one document by two users, so that it holds a conflict.
static SEEDED: LazyLock<Seeded> = LazyLock::new(|| {
    let mut rng = Rng::new(0x7E57);
    let mut events = Vec::new();
    for index in 0..40u64 {
        let group = [TOKEN_GROUPS[0], TOKEN_GROUPS[1], SECRET_GROUP][index as usize % 3];
        let creator = if group == SECRET_GROUP { "carol" } else { USER };
        let wall_ms = NOW_MS - 3_600_000 + rng.below(3_600_000);
        events.push(create_event(&mut rng, group, wall_ms, creator, 8));
    }
    let mut store = MemoryStore::new();
    replica::apply(&mut store, &events).expect("the memory store never fails");
    Seeded {
        snapshot: Snapshot::of(&store),
        store,
        token: Token {
            user: USER.to_owned(),
            groups: Groups::new(TOKEN_GROUPS).expect("two groups"),
        },
    }
});

/// Everything a request could change in the store.
#[derive(PartialEq, Eq, Debug)]
struct Snapshot {
    events_len: usize,
    keys: Vec<Vec<Key>>,
    roots: Vec<Digest>,
    docs: BTreeMap<DocKey, DocState>,
    inboxes: Vec<usize>,
}

impl Snapshot {
    fn of(store: &MemoryStore) -> Snapshot {
        let groups = [TOKEN_GROUPS[0], TOKEN_GROUPS[1], SECRET_GROUP];
        Snapshot {
            events_len: store.events_len(),
            keys: groups.iter().map(|group| store.group_keys(group)).collect(),
            roots: groups
                .iter()
                .map(|group| Tree::new(store).root(group).expect("never fails"))
                .collect(),
            docs: store.all_docs().clone(),
            inboxes: [USER, "carol"]
                .iter()
                .map(|user| store.inbox(user).expect("never fails").len())
                .collect(),
        }
    }
}

/// The server's handling of one request, minus HTTP, never panics; a refusal leaves the store
/// unchanged; events it accepted are stored; a response re-encodes
/// canonically, fits a frame, consumes at most what was sent, and carries only valid events of
/// the token's groups.
///
/// The first byte picks a mode: if its low bit is set and the rest decodes as a `Request`,
/// the request's groups fingerprint is corrected for its salt before handling, so that the
/// fuzzer gets past the groups check and into the walk; otherwise the rest is handled as is.
pub fn request_handle(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let seeded = &*SEEDED;
    let fixed;
    let frame = match decode_frame(rest) {
        Ok(Frame::Request(mut request)) if mode & 1 == 1 => {
            request.groups = fingerprint(&request.salt, &seeded.token.groups.digest());
            fixed = encode_frame(&Frame::Request(request));
            &fixed[..]
        }
        _ => rest,
    };
    let items_sent = match decode_frame(frame) {
        Ok(Frame::Request(request)) => request.items.len(),
        _ => 0,
    };
    let mut store = seeded.store.clone();
    // A small budget, so that responses split and carry `More`.
    let config = Config {
        frame_bytes_budget: if mode & 2 == 2 { 400 } else { 1 << 20 },
    };
    let responder = Responder::new(config, Policy::default());
    let handled = handle_request(&mut store, &seeded.token, NOW_MS, &responder, frame);
    // Every check comes before the write, and the memory store never fails, so an error
    // means nothing was written.
    if let Frame::Error(_) = handled.frame {
        assert!(handled.accepted.is_empty());
        assert_eq!(
            Snapshot::of(&store),
            seeded.snapshot,
            "a refused request changed the store"
        );
    }
    for event in &handled.accepted {
        assert!(store.has_event(&event.id()).expect("never fails"));
        assert!(seeded.token.groups.index_of(&event.event().group).is_some());
        assert_eq!(event.event().creator, USER);
    }
    let encoded = encode_frame(&handled.frame);
    assert!(
        encoded.len() <= FRAME_BYTES_MAX,
        "a reply larger than a frame"
    );
    assert_eq!(
        decode_frame(&encoded).expect("our replies decode"),
        handled.frame
    );
    match handled.frame {
        Frame::Response(response) => {
            assert!(response.consumed as usize <= items_sent);
            for bytes in &response.events {
                let event = VerifiedEvent::decode(bytes).expect("a response's events are valid");
                assert!(
                    seeded.token.groups.index_of(&event.event().group).is_some(),
                    "the response leaked an event of group `{}`",
                    event.event().group
                );
            }
        }
        Frame::Error(_) => {}
        Frame::Request(_) => panic!("the server answered with a request"),
    }
}
