//! Frames on the wire: requests, responses and errors, their items, and the fingerprints and
//! short ids they carry.
//!
//! A frame is the protocol version as a postcard varint followed by the postcard encoding of
//! [`Frame`]. Decoding checks the size first, then the version, then every limit of
//! [`crate::limits`], so a hostile frame costs at most one bounded allocation and returns a typed
//! [`WireError`].

use std::fmt;
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::key::{Key, Path, RADIX};
use crate::limits::{
    ERROR_MESSAGE_BYTES_MAX, ERROR_VERSIONS_MAX, FRAME_BYTES_MAX, GROUPS_PER_SESSION_MAX,
    SHORT_IDS_PER_ITEM_MAX,
};

/// The protocol version this crate speaks.
pub const PROTOCOL_VERSION: u32 = 1;

/// Every version this crate can answer.
pub const PROTOCOL_VERSIONS: &[u32] = &[PROTOCOL_VERSION];

/// Length of a fingerprint and of a short id, in bytes.
pub const FINGERPRINT_BYTES: usize = 8;

const CONTEXT_FINGERPRINT: &str = "tideline 2026-11 v1 fingerprint";
const CONTEXT_GROUPS: &str = "tideline 2026-11 v1 groups digest";
const CONTEXT_RANGE: &str = "tideline 2026-11 v1 range digest";

static HASHER_FINGERPRINT: LazyLock<blake3::Hasher> =
    LazyLock::new(|| blake3::Hasher::new_derive_key(CONTEXT_FINGERPRINT));
static HASHER_RANGE: LazyLock<blake3::Hasher> =
    LazyLock::new(|| blake3::Hasher::new_derive_key(CONTEXT_RANGE));

/// Random bytes the initiator picks for one session. Fingerprints and short ids are keyed with
/// it, so nobody can prepare two sets whose truncated fingerprints collide.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Salt(pub [u8; 16]);

impl fmt::Debug for Salt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Salt({})", hex(&self.0))
    }
}

/// The first 8 bytes of a salted hash of a digest: what the walk compares.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Fingerprint(pub [u8; FINGERPRINT_BYTES]);

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({})", hex(&self.0))
    }
}

/// The first 8 bytes of a salted hash of an event id: how `Ids` and `Want` name events.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ShortId(pub [u8; FINGERPRINT_BYTES]);

impl fmt::Debug for ShortId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ShortId({})", hex(&self.0))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn salted(salt: &Salt, input: &[u8; 32]) -> [u8; FINGERPRINT_BYTES] {
    let mut hasher = HASHER_FINGERPRINT.clone();
    hasher.update(&salt.0);
    hasher.update(input);
    let mut out = [0u8; FINGERPRINT_BYTES];
    out.copy_from_slice(&hasher.finalize().as_bytes()[..FINGERPRINT_BYTES]);
    out
}

/// The fingerprint of a digest under a session's salt.
pub fn fingerprint(salt: &Salt, digest: &Digest) -> Fingerprint {
    Fingerprint(salted(salt, &digest.0))
}

/// The short id of an event id under a session's salt.
pub fn short_id(salt: &Salt, id: &crate::event::EventId) -> ShortId {
    ShortId(salted(salt, &id.0))
}

/// The digest of a run of group roots: the roots' 32 bytes each, concatenated.
pub fn range_digest(roots: &[Digest]) -> Digest {
    let mut hasher = HASHER_RANGE.clone();
    for root in roots {
        hasher.update(&root.0);
    }
    Digest(*hasher.finalize().as_bytes())
}

/// The sub-ranges a `Range` item over `[start, end)` splits into: `step = ceil(len / 16)`, then
/// `[start + i·step, min(start + (i+1)·step, end))` for each `i` that starts before `end`.
pub fn range_children(start: u32, end: u32) -> Vec<(u32, u32)> {
    assert!(end > start);
    // In u64: `low + step` may pass u32::MAX for a range that ends near it.
    let (start, end) = (u64::from(start), u64::from(end));
    let step = (end - start).div_ceil(RADIX as u64);
    (start..end)
        .step_by(step as usize)
        .map(|low| (low as u32, (low + step).min(end) as u32))
        .collect()
}

/// The groups of one session, sorted by their bytes, without duplicates; items name a group by
/// its index in this list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Groups {
    names: Vec<String>,
    digest: Digest,
}

impl Groups {
    /// The session's groups; sorted and deduplicated here.
    pub fn new<I, T>(names: I) -> Result<Groups, WireError>
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        let mut names: Vec<String> = names.into_iter().map(Into::into).collect();
        names.sort_unstable();
        names.dedup();
        if names.len() > GROUPS_PER_SESSION_MAX {
            return Err(WireError::LimitExceeded {
                what: "groups in a session",
                max: GROUPS_PER_SESSION_MAX,
            });
        }
        let encoded = postcard::to_allocvec(&names).expect("a list of strings encodes");
        let mut hasher = blake3::Hasher::new_derive_key(CONTEXT_GROUPS);
        hasher.update(&encoded);
        let digest = Digest(*hasher.finalize().as_bytes());
        Ok(Groups { names, digest })
    }

    /// The names, sorted.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// How many groups.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether the session has no groups.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The index of `name`, if it is one of the session's groups.
    pub fn index_of(&self, name: &str) -> Option<u32> {
        self.names
            .binary_search_by(|probe| probe.as_str().cmp(name))
            .ok()
            .map(|index| index as u32)
    }

    /// The name at `index`.
    pub fn name(&self, index: u32) -> Option<&str> {
        self.names.get(index as usize).map(String::as_str)
    }

    /// BLAKE3 (derive-key mode) of the postcard encoding of the sorted names.
    pub fn digest(&self) -> Digest {
        self.digest
    }
}

/// One frame: what travels in one message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Frame {
    /// From the initiator.
    Request(Request),
    /// From the responder, answering one request.
    Response(Response),
    /// From either side: the session is over.
    Error(ErrorBody),
}

/// What the initiator sends.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Request {
    /// The session's salt; the same in every request of a session.
    pub salt: Salt,
    /// Fingerprint of the session's [`Groups::digest`], so a responder that keeps no state can
    /// check, every round, that both sides index the same groups.
    pub groups: Fingerprint,
    /// The walk's items.
    #[serde(deserialize_with = "bounded::items")]
    pub items: Vec<Item>,
    /// Events for the responder, each in its canonical encoding.
    #[serde(deserialize_with = "bounded::events")]
    pub events: Vec<Vec<u8>>,
}

/// What the responder sends back.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Response {
    /// How many of the request's items the responder handled, from the first; the initiator
    /// sends the others again.
    pub consumed: u32,
    /// The walk's items.
    #[serde(deserialize_with = "bounded::items")]
    pub items: Vec<Item>,
    /// Events for the initiator, each in its canonical encoding.
    #[serde(deserialize_with = "bounded::events")]
    pub events: Vec<Vec<u8>>,
}

/// A walk item: one statement or question about one range of groups or one prefix of a group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Item {
    /// The fingerprint of [`range_digest`] over every group root of the session.
    Root {
        /// The sender's fingerprint.
        fingerprint: Fingerprint,
    },
    /// The fingerprints of the sub-ranges of the groups `[start, end)` (see
    /// [`range_children`]).
    Range {
        /// First group index.
        start: u32,
        /// One past the last group index.
        end: u32,
        /// One fingerprint per sub-range, in order.
        #[serde(deserialize_with = "bounded::fingerprints")]
        fingerprints: Vec<Fingerprint>,
    },
    /// The sender holds more than a leaf under `lcp[..prefix_len]`: its events there all share
    /// `lcp`, and these are the fingerprints of its non-empty children.
    Split {
        /// Group index.
        group: u32,
        /// Length of the prefix asked about, in nibbles; at most `lcp.len()`.
        prefix_len: u8,
        /// The longest prefix the sender's events under the prefix share.
        lcp: Path,
        /// Bit `c` set when child `lcp ‖ c` is not empty; at least two bits.
        children: u16,
        /// The fingerprints of the non-empty children in nibble order.
        #[serde(deserialize_with = "bounded::fingerprints")]
        fingerprints: Vec<Fingerprint>,
    },
    /// Every event the sender holds under `prefix`, by short id, in key order.
    Ids {
        /// Group index.
        group: u32,
        /// The prefix.
        prefix: Path,
        /// Short ids, at most [`SHORT_IDS_PER_ITEM_MAX`].
        #[serde(deserialize_with = "bounded::short_ids")]
        ids: Vec<ShortId>,
    },
    /// Send me the events under `prefix` with these short ids.
    Want {
        /// Group index.
        group: u32,
        /// The prefix.
        prefix: Path,
        /// Short ids, at most [`SHORT_IDS_PER_ITEM_MAX`].
        #[serde(deserialize_with = "bounded::short_ids")]
        ids: Vec<ShortId>,
    },
    /// Send me every event under `prefix` whose key is greater than `after`: I have none there.
    Need {
        /// Group index.
        group: u32,
        /// The prefix.
        prefix: Path,
        /// Resume after this key, when a previous answer stopped there.
        after: Option<Key>,
    },
    /// (Responder only.) I have more events under `prefix` after `after` than fitted in this
    /// frame; ask for them again with `Need`.
    More {
        /// Group index.
        group: u32,
        /// The prefix.
        prefix: Path,
        /// Where to resume: the last key sent, or, when nothing under the prefix fitted, the
        /// `after` of the `Need` being answered (none for a fresh prefix).
        after: Option<Key>,
    },
}

impl Item {
    /// Checks the limits a decoder can check without knowing the session.
    fn check(&self) -> Result<(), WireError> {
        match self {
            Item::Root { .. } => Ok(()),
            Item::Range {
                start,
                end,
                fingerprints,
            } => {
                if end <= start || end - start < 2 {
                    return Err(WireError::Malformed(
                        "a Range item covers at least two groups".into(),
                    ));
                }
                if fingerprints.len() != range_children(*start, *end).len() {
                    return Err(WireError::Malformed(
                        "a Range item has one fingerprint per sub-range".into(),
                    ));
                }
                Ok(())
            }
            Item::Split {
                prefix_len,
                lcp,
                children,
                fingerprints,
                ..
            } => {
                if usize::from(*prefix_len) > lcp.len() {
                    return Err(WireError::Malformed(
                        "a Split item's prefix is longer than its lcp".into(),
                    ));
                }
                if lcp.len() >= crate::key::KEY_NIBBLES {
                    return Err(WireError::Malformed(
                        "a Split item's lcp is a whole key".into(),
                    ));
                }
                if children.count_ones() < 2 {
                    return Err(WireError::Malformed(
                        "a Split item has at least two children".into(),
                    ));
                }
                if fingerprints.len() != children.count_ones() as usize {
                    return Err(WireError::Malformed(
                        "a Split item has one fingerprint per child".into(),
                    ));
                }
                Ok(())
            }
            Item::Ids { ids, .. } | Item::Want { ids, .. } => {
                if ids.len() > SHORT_IDS_PER_ITEM_MAX {
                    return Err(WireError::LimitExceeded {
                        what: "short ids in one item",
                        max: SHORT_IDS_PER_ITEM_MAX,
                    });
                }
                Ok(())
            }
            Item::Need { .. } | Item::More { .. } => Ok(()),
        }
    }
}

/// Sequences from outside whose length is checked before their elements are decoded, so a
/// frame of millions of tiny elements is refused before it allocates for them.
mod bounded {
    use std::cell::Cell;
    use std::marker::PhantomData;

    use serde::de::{Deserialize, Deserializer, Error, SeqAccess, Visitor};

    use super::{Fingerprint, Item, ShortId, RADIX};
    use crate::limits::{EVENTS_PER_FRAME_MAX, ITEMS_PER_FRAME_MAX, SHORT_IDS_PER_ITEM_MAX};

    thread_local! {
        /// The limit a decode ran into. postcard keeps no message of custom errors, so the
        /// bounded visitor leaves the limit here for `decode_frame` to report.
        pub(super) static LIMIT_HIT: Cell<Option<(&'static str, usize)>> = const { Cell::new(None) };
    }

    pub(super) fn items<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Item>, D::Error> {
        seq(deserializer, "items in one frame", ITEMS_PER_FRAME_MAX)
    }

    pub(super) fn events<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<Vec<u8>>, D::Error> {
        seq(deserializer, "events in one frame", EVENTS_PER_FRAME_MAX)
    }

    pub(super) fn short_ids<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<ShortId>, D::Error> {
        seq(
            deserializer,
            "short ids in one item",
            SHORT_IDS_PER_ITEM_MAX,
        )
    }

    pub(super) fn fingerprints<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<Fingerprint>, D::Error> {
        seq(deserializer, "fingerprints in one item", RADIX)
    }

    fn seq<'de, D, T>(deserializer: D, what: &'static str, max: usize) -> Result<Vec<T>, D::Error>
    where
        D: Deserializer<'de>,
        T: Deserialize<'de>,
    {
        struct Bounded<T> {
            what: &'static str,
            max: usize,
            element: PhantomData<T>,
        }

        impl<'de, T: Deserialize<'de>> Visitor<'de> for Bounded<T> {
            type Value = Vec<T>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "at most {} {}", self.max, self.what)
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
                let hint = seq.size_hint().unwrap_or(0);
                if hint > self.max {
                    LIMIT_HIT.set(Some((self.what, self.max)));
                    return Err(A::Error::custom(format!(
                        "more than {} {}",
                        self.max, self.what
                    )));
                }
                let mut out = Vec::with_capacity(hint.min(4096));
                while let Some(element) = seq.next_element()? {
                    if out.len() == self.max {
                        LIMIT_HIT.set(Some((self.what, self.max)));
                        return Err(A::Error::custom(format!(
                            "more than {} {}",
                            self.max, self.what
                        )));
                    }
                    out.push(element);
                }
                Ok(out)
            }
        }

        deserializer.deserialize_seq(Bounded {
            what,
            max,
            element: PhantomData,
        })
    }
}

/// Why a session ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// A stable code from the spec's error table.
    pub code: ErrorCode,
    /// What happened and what to do, for a person.
    pub message: String,
    /// The versions the sender speaks, so the peer can pick one.
    pub versions: Vec<u32>,
}

impl ErrorBody {
    /// An error body for `code`, with `message` cut to [`ERROR_MESSAGE_BYTES_MAX`] bytes (at a
    /// character boundary) and this side's versions.
    pub fn new(code: ErrorCode, message: &str) -> ErrorBody {
        let mut end = message.len().min(ERROR_MESSAGE_BYTES_MAX);
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        ErrorBody {
            code,
            message: message[..end].to_owned(),
            versions: PROTOCOL_VERSIONS.to_vec(),
        }
    }
}

/// The stable error codes of the spec's error table. On the wire, a `u16` varint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// The frame does not decode, or breaks a rule of its encoding.
    MalformedFrame,
    /// The frame is larger than [`FRAME_BYTES_MAX`].
    FrameTooLarge,
    /// The frame's version is not one the receiver speaks.
    UnsupportedVersion,
    /// The two sides index different group lists.
    GroupsMismatch,
    /// A count limit was exceeded (items, events, ids).
    LimitExceeded,
    /// An event does not decode, is not canonical, or breaks a rule of the event model.
    InvalidEvent,
    /// An event belongs to a group outside the session. (An item naming a group index outside
    /// the session is a `MalformedFrame`.)
    GroupForbidden,
    /// A frame came that the receiver's role does not expect here.
    UnexpectedFrame,
    /// The request lacks valid credentials (transport level).
    Unauthorized,
    /// An event's creator is not the authenticated user.
    ForgedCreator,
    /// An event's timestamp is too far in the future.
    TimestampInFuture,
    /// The receiver failed on its side; retrying later may work.
    Internal,
    /// A code this implementation does not know; kept so it can be reported.
    Unknown(u16),
}

impl ErrorCode {
    /// The number on the wire.
    pub fn number(self) -> u16 {
        match self {
            ErrorCode::MalformedFrame => 1,
            ErrorCode::FrameTooLarge => 2,
            ErrorCode::UnsupportedVersion => 3,
            ErrorCode::GroupsMismatch => 4,
            ErrorCode::LimitExceeded => 5,
            ErrorCode::InvalidEvent => 6,
            ErrorCode::GroupForbidden => 7,
            ErrorCode::UnexpectedFrame => 8,
            ErrorCode::Unauthorized => 9,
            ErrorCode::ForgedCreator => 10,
            ErrorCode::TimestampInFuture => 11,
            ErrorCode::Internal => 12,
            ErrorCode::Unknown(number) => number,
        }
    }

    /// The code for a number from the wire.
    pub fn from_number(number: u16) -> ErrorCode {
        match number {
            1 => ErrorCode::MalformedFrame,
            2 => ErrorCode::FrameTooLarge,
            3 => ErrorCode::UnsupportedVersion,
            4 => ErrorCode::GroupsMismatch,
            5 => ErrorCode::LimitExceeded,
            6 => ErrorCode::InvalidEvent,
            7 => ErrorCode::GroupForbidden,
            8 => ErrorCode::UnexpectedFrame,
            9 => ErrorCode::Unauthorized,
            10 => ErrorCode::ForgedCreator,
            11 => ErrorCode::TimestampInFuture,
            12 => ErrorCode::Internal,
            other => ErrorCode::Unknown(other),
        }
    }

    /// The snake_case name the spec uses.
    pub fn name(self) -> &'static str {
        match self {
            ErrorCode::MalformedFrame => "malformed_frame",
            ErrorCode::FrameTooLarge => "frame_too_large",
            ErrorCode::UnsupportedVersion => "unsupported_version",
            ErrorCode::GroupsMismatch => "groups_mismatch",
            ErrorCode::LimitExceeded => "limit_exceeded",
            ErrorCode::InvalidEvent => "invalid_event",
            ErrorCode::GroupForbidden => "group_forbidden",
            ErrorCode::UnexpectedFrame => "unexpected_frame",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::ForgedCreator => "forged_creator",
            ErrorCode::TimestampInFuture => "timestamp_in_future",
            ErrorCode::Internal => "internal",
            ErrorCode::Unknown(_) => "unknown",
        }
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.number().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<ErrorCode, D::Error> {
        Ok(ErrorCode::from_number(u16::deserialize(deserializer)?))
    }
}

/// Why bytes are not a valid frame.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WireError {
    /// The frame is larger than the limit.
    #[error("frame of {bytes} bytes exceeds the maximum of {max} bytes; send fewer items or events per frame")]
    FrameTooLarge {
        /// The frame's size.
        bytes: usize,
        /// [`FRAME_BYTES_MAX`].
        max: usize,
    },
    /// The frame's version is unknown.
    #[error("protocol version {version} is not supported (this side speaks {supported:?}); upgrade the older side")]
    UnsupportedVersion {
        /// The version in the frame.
        version: u32,
        /// What this side speaks.
        supported: Vec<u32>,
    },
    /// The bytes do not decode.
    #[error("malformed frame: {0}")]
    Malformed(String),
    /// A count limit was exceeded.
    #[error("too many {what} (the maximum is {max}); split the work over more rounds")]
    LimitExceeded {
        /// What was counted.
        what: &'static str,
        /// The limit.
        max: usize,
    },
}

impl WireError {
    /// The error code a peer is told.
    pub fn code(&self) -> ErrorCode {
        match self {
            WireError::FrameTooLarge { .. } => ErrorCode::FrameTooLarge,
            WireError::UnsupportedVersion { .. } => ErrorCode::UnsupportedVersion,
            WireError::Malformed(_) => ErrorCode::MalformedFrame,
            WireError::LimitExceeded { .. } => ErrorCode::LimitExceeded,
        }
    }
}

/// Encodes a frame: the version, then the frame.
pub fn encode_frame(frame: &Frame) -> Vec<u8> {
    let bytes = postcard::to_allocvec(&PROTOCOL_VERSION).expect("a u32 encodes");
    postcard::to_extend(frame, bytes).expect("frames encode")
}

/// The encoded size of a frame.
pub fn frame_len(frame: &Frame) -> usize {
    postcard::experimental::serialized_size(&PROTOCOL_VERSION).expect("a u32 encodes")
        + postcard::experimental::serialized_size(frame).expect("frames encode")
}

/// The encoded size of an item.
pub fn item_len(item: &Item) -> usize {
    postcard::experimental::serialized_size(item).expect("items encode")
}

fn check_error_body(body: &ErrorBody) -> Result<(), WireError> {
    if body.message.len() > ERROR_MESSAGE_BYTES_MAX {
        return Err(WireError::LimitExceeded {
            what: "bytes in an error message",
            max: ERROR_MESSAGE_BYTES_MAX,
        });
    }
    if body.versions.len() > ERROR_VERSIONS_MAX {
        return Err(WireError::LimitExceeded {
            what: "versions in an error frame",
            max: ERROR_VERSIONS_MAX,
        });
    }
    Ok(())
}

/// Decodes a frame and checks every limit that does not depend on the session. Counts are
/// checked before the elements they count are decoded.
pub fn decode_frame(bytes: &[u8]) -> Result<Frame, WireError> {
    if bytes.len() > FRAME_BYTES_MAX {
        return Err(WireError::FrameTooLarge {
            bytes: bytes.len(),
            max: FRAME_BYTES_MAX,
        });
    }
    let (version, rest): (u32, &[u8]) = postcard::take_from_bytes(bytes)
        .map_err(|error| WireError::Malformed(format!("no version: {error}")))?;
    if !PROTOCOL_VERSIONS.contains(&version) {
        // Error frames keep this layout in every version, so a refusal from a peer that speaks
        // another version can still be read.
        // Only its canonical encoding counts, as in our own version (§7.4 step 6): postcard
        // also reads overlong varints, and a second spelling of the version or of the code
        // would let the same refusal travel as different bytes.
        if let Ok((Frame::Error(body), [])) = postcard::take_from_bytes::<Frame>(rest) {
            check_error_body(&body)?;
            let frame = Frame::Error(body);
            let canonical = postcard::to_allocvec(&version).expect("a u32 encodes");
            if postcard::to_extend(&frame, canonical).expect("frames encode") == bytes {
                return Ok(frame);
            }
        }
        return Err(WireError::UnsupportedVersion {
            version,
            supported: PROTOCOL_VERSIONS.to_vec(),
        });
    }
    bounded::LIMIT_HIT.set(None);
    let (frame, rest): (Frame, &[u8]) =
        postcard::take_from_bytes(rest).map_err(|error| match bounded::LIMIT_HIT.take() {
            Some((what, max)) => WireError::LimitExceeded { what, max },
            None => WireError::Malformed(error.to_string()),
        })?;
    if !rest.is_empty() {
        return Err(WireError::Malformed(format!(
            "{} bytes after the frame",
            rest.len()
        )));
    }
    let items = match &frame {
        Frame::Request(request) => &request.items[..],
        Frame::Response(response) => &response.items[..],
        Frame::Error(body) => {
            check_error_body(body)?;
            &[][..]
        }
    };
    for item in items {
        item.check()?;
    }
    // A canonical frame re-encodes to the same bytes: this rejects overlong varints and any
    // other second spelling of the same frame.
    if encode_frame(&frame) != bytes {
        return Err(WireError::Malformed("not the canonical encoding".into()));
    }
    Ok(frame)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An error frame of another version is read (chapter 11), but only in its canonical
    /// encoding: found by the `frame_decode` fuzz target, which decoded
    /// `fc 00 02 e4 dd 00 01 00 00` (version 124 and code 12004, both as overlong varints).
    #[test]
    fn error_frames_of_other_versions_must_be_canonical() {
        let canonical = [0x7c, 0x02, 0xe4, 0x5d, 0x01, 0x00, 0x00];
        let Ok(Frame::Error(body)) = decode_frame(&canonical) else {
            panic!("a canonical error frame of version 124 is read");
        };
        assert_eq!(body.code, ErrorCode::Unknown(12004));
        for overlong in [
            &[0xfc, 0x00, 0x02, 0xe4, 0xdd, 0x00, 0x01, 0x00, 0x00][..],
            &[0xfc, 0x00, 0x02, 0xe4, 0x5d, 0x01, 0x00, 0x00][..],
            &[0x7c, 0x02, 0xe4, 0xdd, 0x00, 0x01, 0x00, 0x00][..],
        ] {
            assert!(
                matches!(
                    decode_frame(overlong),
                    Err(WireError::UnsupportedVersion { version: 124, .. })
                ),
                "{overlong:02x?}"
            );
        }
    }

    /// An error frame's strings are bounded like every other input: senders cut the message,
    /// receivers refuse a longer one.
    #[test]
    fn error_frames_are_bounded() {
        let long = "é".repeat(ERROR_MESSAGE_BYTES_MAX);
        let body = ErrorBody::new(ErrorCode::Internal, &long);
        assert!(body.message.len() <= ERROR_MESSAGE_BYTES_MAX);
        assert!(
            body.message.len() > ERROR_MESSAGE_BYTES_MAX - 2,
            "cut at the last boundary"
        );
        let bytes = encode_frame(&Frame::Error(body.clone()));
        assert_eq!(decode_frame(&bytes), Ok(Frame::Error(body)));

        let too_long = ErrorBody {
            code: ErrorCode::Internal,
            message: "x".repeat(ERROR_MESSAGE_BYTES_MAX + 1),
            versions: vec![1],
        };
        let bytes = encode_frame(&Frame::Error(too_long));
        assert!(matches!(
            decode_frame(&bytes),
            Err(WireError::LimitExceeded { .. })
        ));

        let many = ErrorBody {
            code: ErrorCode::Internal,
            message: String::new(),
            versions: vec![1; ERROR_VERSIONS_MAX + 1],
        };
        let bytes = encode_frame(&Frame::Error(many));
        assert!(matches!(
            decode_frame(&bytes),
            Err(WireError::LimitExceeded { .. })
        ));
    }

    /// The sub-ranges of a group range cover it exactly, in order, at most 16 of them.
    #[test]
    fn range_children_partition_the_range() {
        for (start, end) in [
            (0, 2),
            (0, 16),
            (0, 17),
            (5, 105),
            (0, 257),
            (3, 100_000),
            (0, u32::MAX),
            (u32::MAX - 20, u32::MAX),
        ] {
            let children = range_children(start, end);
            assert!(children.len() <= RADIX);
            assert_eq!(children.first().unwrap().0, start);
            assert_eq!(children.last().unwrap().1, end);
            assert!(children.windows(2).all(|pair| pair[0].1 == pair[1].0));
            assert!(children.iter().all(|(low, high)| low < high));
        }
    }
}
