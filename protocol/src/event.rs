//! The event model: what one change to one document looks like, how it is encoded, and how it
//! is named.
//!
//! An [`Event`] is encoded with postcard (see postcard's wire-format specification for varints
//! and zigzag) as the serde struct below, fields in declaration order with no tags or framing:
//!
//! | field        | type                                | bytes                                 |
//! |--------------|-------------------------------------|---------------------------------------|
//! | `group`      | string                              | varint length, UTF-8                  |
//! | `collection` | string                              | varint length, UTF-8                  |
//! | `target`     | [`DocId`]                           | 16 raw bytes                          |
//! | `timestamp`  | [`Hlc`]                             | varint `wall_ms`, varint `counter`    |
//! | `creator`    | string                              | varint length, UTF-8                  |
//! | `origin`     | [`ReplicaId`]                       | 16 raw bytes                          |
//! | `base`       | sequence of [`EventId`]             | varint count, 32 raw bytes each       |
//! | `op`         | [`Op`]                              | varint variant index, then payload    |
//!
//! `Op` is `Create` = 0 followed by a [`Value`], `Update` = 1 followed by a [`Patch`] (varint
//! count of entries, each a [`FieldPath`] — varint count of segment strings — then an option:
//! byte 0 for "remove", or byte 1 and a value), or `Remove` = 2 with nothing after it.
//!
//! The [`EventId`] is the plain BLAKE3 hash of that encoding. Every event has exactly one
//! encoding: [`VerifiedEvent::decode`] re-encodes what it decoded and rejects the input unless
//! the bytes match, so an id names one event and an event has one id.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::limits;
use crate::value::{Value, ValueError};

/// Defines lowercase-hex text for an id that wraps a byte array.
macro_rules! hex_id {
    ($name:ident, $bytes_len:literal) => {
        impl $name {
            /// Parses the id from its hex text; upper- and lowercase digits are both accepted.
            pub fn from_hex(text: &str) -> Result<Self, IdParseError> {
                hex_decode::<$bytes_len>(text).map($name)
            }
        }

        impl fmt::Display for $name {
            /// Writes the id as lowercase hex, two digits per byte.
            fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                hex_write(&self.0, formatter)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(formatter, "{}({})", stringify!($name), self)
            }
        }

        impl FromStr for $name {
            type Err = IdParseError;

            fn from_str(text: &str) -> Result<Self, IdParseError> {
                Self::from_hex(text)
            }
        }
    };
}

/// The name of an event: the BLAKE3 hash of its canonical encoding.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EventId(pub [u8; 32]);

hex_id!(EventId, 32);

/// The name of a document, chosen by the client that creates it.
///
/// Laid out like a UUIDv7 (see [`DocId::new`]) so that ids sort roughly by creation time and
/// documents created together sit together in ordered storage.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct DocId(pub [u8; 16]);

hex_id!(DocId, 16);

impl DocId {
    /// Builds a UUIDv7-layout id from a time and 10 random bytes, which the caller supplies
    /// because this crate has no clock and no random number generator.
    ///
    /// Bytes 0..6 are the low 48 bits of `now_ms`, big-endian; byte 6 is version 7 in its high
    /// nibble and 4 random bits; byte 7 is random; byte 8 is the RFC 9562 variant `0b10` in its
    /// top bits and 6 random bits; bytes 9..16 are random. Of `random`, 6 bits of byte 0 and
    /// 2 bits of byte 2 go unused.
    pub fn new(now_ms: u64, random: [u8; 10]) -> DocId {
        let mut bytes = [0u8; 16];
        bytes[0..6].copy_from_slice(&now_ms.to_be_bytes()[2..8]);
        bytes[6] = 0x70 | (random[0] & 0x0F);
        bytes[7] = random[1];
        bytes[8] = 0x80 | (random[2] & 0x3F);
        bytes[9..16].copy_from_slice(&random[3..10]);
        DocId(bytes)
    }
}

/// The name of a replica (a client install or a server) that writes events.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ReplicaId(pub [u8; 16]);

hex_id!(ReplicaId, 16);

/// Why hex text is not an id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdParseError {
    /// The text has the wrong number of characters.
    #[error(
        "id is {chars} characters long but must be {chars_expected} hex digits; copy the whole id"
    )]
    Length {
        /// Length of the text, in bytes.
        chars: usize,
        /// Two hex digits per byte of the id.
        chars_expected: usize,
    },
    /// The text holds something other than a hex digit.
    #[error(
        "id has a character that is not a hex digit at byte {index}; ids use only 0-9 and a-f"
    )]
    Character {
        /// Byte offset of the first bad character.
        index: usize,
    },
}

fn hex_write(bytes: &[u8], formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
    bytes
        .iter()
        .try_for_each(|byte| write!(formatter, "{byte:02x}"))
}

fn hex_decode<const BYTES_LEN: usize>(text: &str) -> Result<[u8; BYTES_LEN], IdParseError> {
    let digits = text.as_bytes();
    if digits.len() != 2 * BYTES_LEN {
        return Err(IdParseError::Length {
            chars: digits.len(),
            chars_expected: 2 * BYTES_LEN,
        });
    }
    let digit = |index: usize| -> Result<u8, IdParseError> {
        match digits[index] {
            byte @ b'0'..=b'9' => Ok(byte - b'0'),
            byte @ b'a'..=b'f' => Ok(byte - b'a' + 10),
            byte @ b'A'..=b'F' => Ok(byte - b'A' + 10),
            _ => Err(IdParseError::Character { index }),
        }
    };
    let mut bytes = [0u8; BYTES_LEN];
    for (index, byte) in bytes.iter_mut().enumerate() {
        *byte = (digit(2 * index)? << 4) | digit(2 * index + 1)?;
    }
    Ok(bytes)
}

/// A hybrid logical clock timestamp: wall-clock milliseconds, then a counter that orders
/// events within one millisecond or while the wall clock stands still or runs backwards.
///
/// Timestamps order by `wall_ms`, then `counter`. The functions here are pure: the caller
/// passes the current time in and keeps the last timestamp it issued or saw.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct Hlc {
    /// Milliseconds since the Unix epoch, as best the writer knew; below
    /// [`limits::WALL_MS_LIMIT`] in a valid event.
    pub wall_ms: u64,
    /// Tie breaker among timestamps with the same `wall_ms`.
    pub counter: u32,
}

impl Hlc {
    /// The timestamp for a local event, given the last timestamp this replica issued or
    /// observed and the current wall clock.
    ///
    /// The result is always greater than `last`, even when the wall clock went backwards.
    pub fn tick(last: Hlc, now_ms: u64) -> Hlc {
        if now_ms > last.wall_ms {
            Hlc {
                wall_ms: now_ms,
                counter: 0,
            }
        } else {
            last.successor()
        }
    }

    /// The timestamp to keep after receiving `remote`, given the last timestamp this replica
    /// issued or observed and the current wall clock: the standard HLC receive rule.
    ///
    /// The result is always greater than both `last` and `remote`.
    pub fn observe(last: Hlc, remote: Hlc, now_ms: u64) -> Hlc {
        let latest = last.max(remote);
        if now_ms > latest.wall_ms {
            Hlc {
                wall_ms: now_ms,
                counter: 0,
            }
        } else {
            // `latest` has the larger wall clock, and if both walls are equal the larger
            // counter, so stepping past it is the classic max-counter-plus-one rule.
            latest.successor()
        }
    }

    /// The smallest timestamp after `self`.
    ///
    /// When the counter is full, the timestamp moves one millisecond ahead of the wall clock
    /// and the counter restarts at 0 instead of wrapping, which would go backwards. Only at
    /// `wall_ms == u64::MAX` with a full counter does it stay put; that is far beyond
    /// [`limits::WALL_MS_LIMIT`], so validation has rejected such an event long before.
    fn successor(self) -> Hlc {
        match self.counter.checked_add(1) {
            Some(counter) => Hlc {
                wall_ms: self.wall_ms,
                counter,
            },
            None if self.wall_ms == u64::MAX => self,
            None => Hlc {
                wall_ms: self.wall_ms + 1,
                counter: 0,
            },
        }
    }
}

/// Where a field sits inside a document, as object keys from the root: `["address", "city"]`.
///
/// Paths order segment by segment, by bytes, and a path sorts before every longer path it is a
/// prefix of.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct FieldPath(pub Vec<String>);

impl FieldPath {
    /// Whether `other` lies strictly inside the field this path names.
    pub fn is_proper_prefix_of(&self, other: &FieldPath) -> bool {
        self.0.len() < other.0.len() && other.0.starts_with(&self.0)
    }
}

/// The fields an update changes: `None` removes a field, `Some(value)` sets it, creating any
/// missing objects along its path.
///
/// Entries are sorted by path and no path lies inside another, so a patch has one meaning and
/// one encoding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Patch(pub Vec<(FieldPath, Option<Value>)>);

/// What an event does to its target document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    /// Creates the document (or replaces it) with this object as its whole content.
    Create(Value),
    /// Changes some fields of the document.
    Update(Patch),
    /// Removes the document.
    Remove,
}

/// One change to one document, as written by one replica.
///
/// Field order is the wire order; do not reorder fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// The sync group the document belongs to; access is granted per group.
    pub group: String,
    /// The collection inside the group that holds the document.
    pub collection: String,
    /// The document this event changes.
    pub target: DocId,
    /// When the event was written, on the writer's hybrid logical clock.
    pub timestamp: Hlc,
    /// The user on whose behalf the event was written.
    pub creator: String,
    /// The replica that wrote the event.
    pub origin: ReplicaId,
    /// The heads of the document the writer had seen, sorted ascending: this event happened
    /// after all of them, which is what lets merge tell concurrent edits from later ones.
    pub base: Vec<EventId>,
    /// What the event does.
    pub op: Op,
}

/// Why an event is invalid, or why bytes are not an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EventError {
    /// The encoding is larger than the protocol allows.
    #[error(
        "event is {bytes} bytes, over the limit of {bytes_max}; split the change into smaller \
         events"
    )]
    TooLarge {
        /// Size of the encoding, or of the input when decoding.
        bytes: usize,
        /// [`limits::EVENT_BYTES_MAX`].
        bytes_max: usize,
    },
    /// The bytes do not decode as an event.
    #[error(
        "event bytes do not decode ({0}); encode events exactly as the protocol specification \
         describes"
    )]
    Malformed(String),
    /// Bytes are left over after one event.
    #[error("{bytes} bytes follow the event; pass exactly one encoded event")]
    TrailingBytes {
        /// How many bytes were left over.
        bytes: usize,
    },
    /// The bytes decode to a valid event whose canonical encoding is different.
    #[error(
        "event bytes decode but are not the canonical encoding (for example, a varint with \
         needless continuation bytes); re-encode the event with the canonical encoder"
    )]
    NotCanonical,
    /// The document in a create event is not canonical.
    #[error("document is invalid: {0}")]
    Value(#[from] ValueError),
    /// The group name breaks the naming rule.
    #[error(
        "group name must be 1 to {bytes_max} bytes of ASCII letters, digits, '.', '_', '-' or \
         ':'; rename the group",
        bytes_max = limits::GROUP_BYTES_MAX
    )]
    GroupInvalid,
    /// The collection name breaks the naming rule.
    #[error(
        "collection name must be 1 to {bytes_max} bytes of ASCII letters, digits, '.', '_', '-' \
         or ':'; rename the collection",
        bytes_max = limits::COLLECTION_BYTES_MAX
    )]
    CollectionInvalid,
    /// The creator breaks the naming rule.
    #[error(
        "creator must be 1 to {bytes_max} bytes of printable ASCII without spaces; encode other \
         user ids, for example as hex",
        bytes_max = limits::CREATOR_BYTES_MAX
    )]
    CreatorInvalid,
    /// The timestamp's wall clock does not fit in 48 bits.
    #[error(
        "timestamp wall clock {wall_ms} ms is not below {wall_ms_limit}; check the writer's \
         clock and its last timestamp",
        wall_ms_limit = limits::WALL_MS_LIMIT
    )]
    TimestampOutOfRange {
        /// The wall clock of the timestamp.
        wall_ms: u64,
    },
    /// The base is not sorted, or repeats an id.
    #[error(
        "base id at position {index} is not strictly after the one before it; sort the base \
         ascending and remove duplicates"
    )]
    BaseNotAscending {
        /// Position of the first id out of order.
        index: usize,
    },
    /// The base holds too many ids.
    #[error(
        "base holds {len} ids, over the limit of {len_max}; merge the document's heads before \
         writing"
    )]
    BaseTooLong {
        /// Number of ids in the base.
        len: usize,
        /// [`limits::BASE_LEN_MAX`].
        len_max: usize,
    },
    /// A create event holds something other than an object.
    #[error("a create event must hold an object as the whole document; wrap the value in one")]
    CreateNotObject,
    /// An update event changes nothing.
    #[error("an update event must change at least one field; do not write empty updates")]
    PatchEmpty,
    /// An update event has too many entries.
    #[error(
        "patch has {entries} entries, over the limit of {entries_max}; split it into several \
         updates or write a create"
    )]
    PatchTooLong {
        /// Number of entries in the patch.
        entries: usize,
        /// [`limits::PATCH_ENTRIES_MAX`].
        entries_max: usize,
    },
    /// Patch entries are not sorted by path, or repeat a path.
    #[error(
        "patch entry {index} does not come strictly after the one before it; sort entries by \
         path and keep one entry per path"
    )]
    PatchNotAscending {
        /// Position of the first entry out of order.
        index: usize,
    },
    /// One patch path lies inside another, so the patch could mean two things.
    #[error(
        "patch entry {index} changes a field inside the field the entry before it changes; \
         fold the inner change into the outer entry's value"
    )]
    PatchPathOverlaps {
        /// Position of the inner entry.
        index: usize,
    },
    /// A patch path has no segments, too many, or a segment of bad length.
    #[error(
        "patch entry {index} has a path that is not 1 to {segments_max} segments of 1 to \
         {segment_bytes_max} bytes each; shorten the path or the key",
        segments_max = limits::PATH_SEGMENTS_MAX,
        segment_bytes_max = limits::PATH_SEGMENT_BYTES_MAX
    )]
    PatchPathInvalid {
        /// Position of the entry.
        index: usize,
    },
    /// A patch value nests deeper than its path leaves room for.
    #[error(
        "patch entry {index} sets a value deeper than the {depth_max} levels its path leaves \
         room for; set a shallower value or use a shorter path"
    )]
    PatchValueTooDeep {
        /// Position of the entry.
        index: usize,
        /// [`limits::VALUE_DEPTH_MAX`] less the length of the entry's path.
        depth_max: usize,
    },
    /// A patch value is not canonical.
    #[error("patch entry {index} sets an invalid value: {source}")]
    PatchValueInvalid {
        /// Position of the entry.
        index: usize,
        /// What is wrong with the value.
        source: ValueError,
    },
}

impl Event {
    /// The canonical encoding of the event, valid or not.
    pub fn encode(&self) -> Vec<u8> {
        postcard::to_allocvec(self)
            .expect("every field serializes without error into a growable Vec")
    }

    /// The id of the event: the BLAKE3 hash of [`Event::encode`].
    pub fn id(&self) -> EventId {
        EventId(*blake3::hash(&self.encode()).as_bytes())
    }

    /// Checks every rule a valid event follows, including its encoded size.
    pub fn validate(&self) -> Result<(), EventError> {
        self.validate_fields()?;
        let bytes = postcard::experimental::serialized_size(self)
            .expect("every field serializes without error");
        size_check(bytes)
    }

    /// Validates the event and computes its encoding and id once.
    pub fn seal(self) -> Result<VerifiedEvent, EventError> {
        self.validate_fields()?;
        let bytes = self.encode();
        size_check(bytes.len())?;
        Ok(VerifiedEvent {
            id: EventId(*blake3::hash(&bytes).as_bytes()),
            bytes,
            event: self,
        })
    }

    /// Every rule but the size limit, which callers check against an encoding they need anyway.
    fn validate_fields(&self) -> Result<(), EventError> {
        if !name_is_valid(&self.group, limits::GROUP_BYTES_MAX) {
            return Err(EventError::GroupInvalid);
        }
        if !name_is_valid(&self.collection, limits::COLLECTION_BYTES_MAX) {
            return Err(EventError::CollectionInvalid);
        }
        if !creator_is_valid(&self.creator) {
            return Err(EventError::CreatorInvalid);
        }
        if self.timestamp.wall_ms >= limits::WALL_MS_LIMIT {
            return Err(EventError::TimestampOutOfRange {
                wall_ms: self.timestamp.wall_ms,
            });
        }
        if self.base.len() > limits::BASE_LEN_MAX {
            return Err(EventError::BaseTooLong {
                len: self.base.len(),
                len_max: limits::BASE_LEN_MAX,
            });
        }
        if let Some(index) = (1..self.base.len()).find(|&i| self.base[i - 1] >= self.base[i]) {
            return Err(EventError::BaseNotAscending { index });
        }
        match &self.op {
            Op::Create(document) => {
                if !matches!(document, Value::Object(_)) {
                    return Err(EventError::CreateNotObject);
                }
                document.validate()?;
            }
            Op::Update(patch) => patch_check(patch)?,
            Op::Remove => {}
        }
        Ok(())
    }
}

fn size_check(bytes: usize) -> Result<(), EventError> {
    if bytes > limits::EVENT_BYTES_MAX {
        return Err(EventError::TooLarge {
            bytes,
            bytes_max: limits::EVENT_BYTES_MAX,
        });
    }
    Ok(())
}

/// Group and collection names: they appear in tokens, paths and logs, so they are kept to a
/// small alphabet that needs no escaping anywhere.
fn name_is_valid(name: &str, bytes_max: usize) -> bool {
    (1..=bytes_max).contains(&name.len())
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-' | b':'))
}

fn creator_is_valid(creator: &str) -> bool {
    (1..=limits::CREATOR_BYTES_MAX).contains(&creator.len())
        && creator.bytes().all(|byte| (0x21..=0x7E).contains(&byte))
}

fn patch_check(patch: &Patch) -> Result<(), EventError> {
    let entries = &patch.0;
    if entries.is_empty() {
        return Err(EventError::PatchEmpty);
    }
    if entries.len() > limits::PATCH_ENTRIES_MAX {
        return Err(EventError::PatchTooLong {
            entries: entries.len(),
            entries_max: limits::PATCH_ENTRIES_MAX,
        });
    }
    for (index, (path, value)) in entries.iter().enumerate() {
        if !path_is_valid(path) {
            return Err(EventError::PatchPathInvalid { index });
        }
        if index > 0 {
            let path_previous = &entries[index - 1].0;
            if path_previous >= path {
                return Err(EventError::PatchNotAscending { index });
            }
            // In sorted order, a path that lies inside any earlier path lies inside the one
            // just before it, so checking neighbours finds every overlap.
            if path_previous.is_proper_prefix_of(path) {
                return Err(EventError::PatchPathOverlaps { index });
            }
        }
        if let Some(value) = value {
            // The value lands `path.len()` levels down in the document, so the document stays
            // within `VALUE_DEPTH_MAX` only if the value leaves room for the path.
            let depth_max = limits::VALUE_DEPTH_MAX - path.0.len();
            value
                .validate_with_depth_max(depth_max)
                .map_err(|source| match source {
                    ValueError::TooDeep { .. } => {
                        EventError::PatchValueTooDeep { index, depth_max }
                    }
                    source => EventError::PatchValueInvalid { index, source },
                })?;
        }
    }
    Ok(())
}

fn path_is_valid(path: &FieldPath) -> bool {
    (1..=limits::PATH_SEGMENTS_MAX).contains(&path.0.len())
        && path
            .0
            .iter()
            .all(|segment| (1..=limits::PATH_SEGMENT_BYTES_MAX).contains(&segment.len()))
}

/// An event known to be valid, with its canonical encoding and its id computed once.
///
/// Build one with [`Event::seal`] or [`VerifiedEvent::decode`]; the fields are public for
/// reading, and changing one breaks the guarantee that they agree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedEvent {
    /// BLAKE3 of `bytes`.
    pub id: EventId,
    /// The canonical encoding of `event`.
    pub bytes: Vec<u8>,
    /// The event itself.
    pub event: Event,
}

impl VerifiedEvent {
    /// Decodes bytes from outside, accepting them only if they are exactly the canonical
    /// encoding of a valid event.
    pub fn decode(bytes: &[u8]) -> Result<VerifiedEvent, EventError> {
        // Checked before decoding, so that oversized input costs nothing to refuse.
        size_check(bytes.len())?;
        let (event, rest) =
            postcard::take_from_bytes::<Event>(bytes).map_err(malformed_describe)?;
        if !rest.is_empty() {
            return Err(EventError::TrailingBytes { bytes: rest.len() });
        }
        event.validate_fields()?;
        // postcard accepts some inputs that its encoder never writes, such as varints padded
        // with 0x80 bytes; comparing against a fresh encoding rejects all of them at once.
        if event.encode() != bytes {
            return Err(EventError::NotCanonical);
        }
        Ok(VerifiedEvent {
            id: EventId(*blake3::hash(bytes).as_bytes()),
            bytes: bytes.to_vec(),
            event,
        })
    }
}

fn malformed_describe(error: postcard::Error) -> EventError {
    match error {
        // postcard drops the message of every custom serde error, and in an event those come
        // from the value decoder's canonical rules or from an unknown variant index.
        postcard::Error::SerdeDeCustom => EventError::Malformed(format!(
            "a value nests deeper than {} levels, has object keys out of order or repeated, or \
             holds a NaN or infinite number, or a variant index is unknown",
            limits::VALUE_DEPTH_MAX
        )),
        error => EventError::Malformed(error.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use proptest::test_runner::RngSeed;
    use std::collections::BTreeMap;

    fn path(segments: &[&str]) -> FieldPath {
        FieldPath(
            segments
                .iter()
                .map(|segment| (*segment).to_owned())
                .collect(),
        )
    }

    fn object(entries: &[(&str, Value)]) -> Value {
        Value::Object(
            entries
                .iter()
                .map(|(key, value)| ((*key).to_owned(), value.clone()))
                .collect(),
        )
    }

    /// A valid update event to mutate one field at a time.
    fn sample_update() -> Event {
        Event {
            group: "team:acme".to_owned(),
            collection: "notes".to_owned(),
            target: DocId([7; 16]),
            timestamp: Hlc {
                wall_ms: 1_700_000_000_000,
                counter: 3,
            },
            creator: "user-42".to_owned(),
            origin: ReplicaId([9; 16]),
            base: vec![EventId([1; 32]), EventId([2; 32])],
            op: Op::Update(Patch(vec![
                (path(&["title"]), Some(Value::String("Tides".to_owned()))),
                (path(&["x"]), None),
            ])),
        }
    }

    fn with_op(op: Op) -> Event {
        Event {
            op,
            ..sample_update()
        }
    }

    fn with_patch(entries: Vec<(FieldPath, Option<Value>)>) -> Event {
        with_op(Op::Update(Patch(entries)))
    }

    /// Nests `Null` inside `depth - 1` single-element arrays, so the result has depth `depth`.
    fn nested(depth: usize) -> Value {
        (1..depth).fold(Value::Null, |inner, _| Value::Array(vec![inner]))
    }

    #[test]
    fn rich_event_round_trips() {
        // Guards against any field or value kind that encodes but does not decode back.
        let document = object(&[
            ("a", Value::Array(vec![Value::Null, Value::Bool(false)])),
            ("n", Value::Float(-12.25)),
            (
                "o",
                object(&[("i", Value::Int(-9)), ("s", Value::String("é".to_owned()))]),
            ),
        ]);
        let events = [
            sample_update(),
            with_op(Op::Create(document)),
            with_op(Op::Remove),
            Event {
                base: vec![],
                ..with_op(Op::Remove)
            },
        ];
        for event in events {
            let sealed = event.clone().seal().unwrap();
            assert_eq!(sealed.bytes, event.encode());
            assert_eq!(sealed.id, event.id());
            let decoded = VerifiedEvent::decode(&sealed.bytes).unwrap();
            assert_eq!(decoded, sealed);
            assert_eq!(decoded.event, event);
        }
    }

    #[test]
    fn encoding_matches_the_spec_byte_for_byte() {
        // Guards against the wire layout drifting from the table in the module docs.
        let event = Event {
            group: "g".to_owned(),
            collection: "c".to_owned(),
            target: DocId(std::array::from_fn(|i| i as u8)),
            timestamp: Hlc {
                wall_ms: 300,
                counter: 1,
            },
            creator: "u".to_owned(),
            origin: ReplicaId([0xaa; 16]),
            base: vec![EventId([0x11; 32])],
            op: Op::Update(Patch(vec![
                (path(&["a"]), Some(Value::Int(-2))),
                (path(&["b", "c"]), None),
            ])),
        };
        let expected = [
            "0167",                             // group: length 1, "g"
            "0163",                             // collection: length 1, "c"
            "000102030405060708090a0b0c0d0e0f", // target: 16 raw bytes
            "ac02",                             // timestamp.wall_ms: varint 300
            "01",                               // timestamp.counter: varint 1
            "0175",                             // creator: length 1, "u"
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", // origin: 16 raw bytes
            "01",                               // base: 1 id
            "11111111111111111111111111111111", // its 32 bytes, first half
            "11111111111111111111111111111111", // and second half
            "01",                               // op: variant 1, Update
            "02",                               // patch: 2 entries
            "010161",                           // path: 1 segment, length 1, "a"
            "01",                               // Some
            "0203",                             // Value::Int (variant 2), zigzag(-2) = 3
            "0201620163",                       // path: 2 segments, "b", "c"
            "00",                               // None: remove the field
        ]
        .concat();
        let sealed = event.clone().seal().unwrap();
        assert_eq!(hex::encode(&sealed.bytes), expected);
        assert_eq!(
            sealed.id.0,
            *blake3::hash(&hex::decode(&expected).unwrap()).as_bytes()
        );
        // Pinned so that a change to the hash or its input shows up as a changed vector.
        assert_eq!(
            sealed.id.to_string(),
            "a5bc71b6e3f710bb45ce47c474a7c3aeedcaa95af85c8b1410165b02543cc567"
        );
        assert_eq!(VerifiedEvent::decode(&sealed.bytes).unwrap().event, event);
    }

    #[test]
    fn every_validation_rule_rejects_with_its_variant() {
        // Guards against a rule that is documented but not enforced, or reported as another.
        type Expectation = fn(&EventError) -> bool;
        let cases: Vec<(Event, Expectation)> = vec![
            (
                Event {
                    group: String::new(),
                    ..sample_update()
                },
                |error| matches!(error, EventError::GroupInvalid),
            ),
            (
                Event {
                    group: "a".repeat(limits::GROUP_BYTES_MAX + 1),
                    ..sample_update()
                },
                |error| matches!(error, EventError::GroupInvalid),
            ),
            (
                Event {
                    group: "a b".to_owned(),
                    ..sample_update()
                },
                |error| matches!(error, EventError::GroupInvalid),
            ),
            (
                Event {
                    collection: "notes/2".to_owned(),
                    ..sample_update()
                },
                |error| matches!(error, EventError::CollectionInvalid),
            ),
            (
                Event {
                    collection: "c".repeat(limits::COLLECTION_BYTES_MAX + 1),
                    ..sample_update()
                },
                |error| matches!(error, EventError::CollectionInvalid),
            ),
            (
                Event {
                    creator: String::new(),
                    ..sample_update()
                },
                |error| matches!(error, EventError::CreatorInvalid),
            ),
            (
                Event {
                    creator: "ann smith".to_owned(),
                    ..sample_update()
                },
                |error| matches!(error, EventError::CreatorInvalid),
            ),
            (
                Event {
                    creator: "é".to_owned(),
                    ..sample_update()
                },
                |error| matches!(error, EventError::CreatorInvalid),
            ),
            (
                Event {
                    creator: "u".repeat(limits::CREATOR_BYTES_MAX + 1),
                    ..sample_update()
                },
                |error| matches!(error, EventError::CreatorInvalid),
            ),
            (
                Event {
                    timestamp: Hlc {
                        wall_ms: limits::WALL_MS_LIMIT,
                        counter: 0,
                    },
                    ..sample_update()
                },
                |error| matches!(error, EventError::TimestampOutOfRange { .. }),
            ),
            (
                Event {
                    base: vec![EventId([2; 32]), EventId([1; 32])],
                    ..sample_update()
                },
                |error| matches!(error, EventError::BaseNotAscending { index: 1 }),
            ),
            (
                Event {
                    base: vec![EventId([1; 32]), EventId([1; 32])],
                    ..sample_update()
                },
                |error| matches!(error, EventError::BaseNotAscending { index: 1 }),
            ),
            (
                Event {
                    base: (0..=limits::BASE_LEN_MAX)
                        .map(|i| EventId([i as u8; 32]))
                        .collect(),
                    ..sample_update()
                },
                |error| matches!(error, EventError::BaseTooLong { .. }),
            ),
            (with_op(Op::Create(Value::Array(vec![]))), |error| {
                matches!(error, EventError::CreateNotObject)
            }),
            (
                with_op(Op::Create(object(&[
                    ("b", Value::Null),
                    ("a", Value::Null),
                ]))),
                |error| {
                    matches!(
                        error,
                        EventError::Value(ValueError::KeysNotAscending { .. })
                    )
                },
            ),
            (
                with_op(Op::Create(object(&[(
                    "a",
                    nested(limits::VALUE_DEPTH_MAX),
                )]))),
                |error| matches!(error, EventError::Value(ValueError::TooDeep { .. })),
            ),
            (
                with_op(Op::Create(object(&[("a", Value::Float(f64::NAN))]))),
                |error| matches!(error, EventError::Value(ValueError::FloatNotFinite)),
            ),
            (with_patch(vec![]), |error| {
                matches!(error, EventError::PatchEmpty)
            }),
            (
                with_patch(
                    (0..=limits::PATCH_ENTRIES_MAX)
                        .map(|i| (FieldPath(vec![format!("{i:05}")]), None))
                        .collect(),
                ),
                |error| matches!(error, EventError::PatchTooLong { .. }),
            ),
            (
                with_patch(vec![(path(&["b"]), None), (path(&["a"]), None)]),
                |error| matches!(error, EventError::PatchNotAscending { index: 1 }),
            ),
            (
                with_patch(vec![(path(&["a"]), None), (path(&["a"]), None)]),
                |error| matches!(error, EventError::PatchNotAscending { index: 1 }),
            ),
            (
                with_patch(vec![
                    (path(&["a"]), None),
                    (path(&["a", "b"]), Some(Value::Null)),
                ]),
                |error| matches!(error, EventError::PatchPathOverlaps { index: 1 }),
            ),
            (with_patch(vec![(path(&[]), None)]), |error| {
                matches!(error, EventError::PatchPathInvalid { index: 0 })
            }),
            (with_patch(vec![(path(&[""]), None)]), |error| {
                matches!(error, EventError::PatchPathInvalid { index: 0 })
            }),
            (
                with_patch(vec![(
                    FieldPath(vec!["s".to_owned(); limits::PATH_SEGMENTS_MAX + 1]),
                    None,
                )]),
                |error| matches!(error, EventError::PatchPathInvalid { index: 0 }),
            ),
            (
                with_patch(vec![(
                    FieldPath(vec!["k".repeat(limits::PATH_SEGMENT_BYTES_MAX + 1)]),
                    None,
                )]),
                |error| matches!(error, EventError::PatchPathInvalid { index: 0 }),
            ),
            (
                with_patch(vec![(
                    path(&["a", "b"]),
                    Some(nested(limits::VALUE_DEPTH_MAX - 1)),
                )]),
                |error| {
                    matches!(
                        error,
                        EventError::PatchValueTooDeep {
                            index: 0,
                            depth_max
                        } if *depth_max == limits::VALUE_DEPTH_MAX - 2
                    )
                },
            ),
            (
                with_patch(vec![(path(&["a"]), Some(Value::Float(f64::INFINITY)))]),
                |error| {
                    matches!(
                        error,
                        EventError::PatchValueInvalid {
                            index: 0,
                            source: ValueError::FloatNotFinite
                        }
                    )
                },
            ),
            (
                with_op(Op::Create(object(&[(
                    "big",
                    Value::String("x".repeat(limits::EVENT_BYTES_MAX)),
                )]))),
                |error| matches!(error, EventError::TooLarge { .. }),
            ),
        ];
        for (event, expected) in cases {
            let error = event.validate().unwrap_err();
            assert!(expected(&error), "unexpected {error:?}");
            assert_eq!(event.clone().seal().unwrap_err(), error);
            // The same event from the wire is refused too, whatever the reason is called there.
            assert!(VerifiedEvent::decode(&event.encode()).is_err());
        }
    }

    #[test]
    fn limits_are_inclusive() {
        // Guards against off-by-one errors that would refuse events at exactly the limit.
        let event = Event {
            group: "g".repeat(limits::GROUP_BYTES_MAX),
            collection: "c".repeat(limits::COLLECTION_BYTES_MAX),
            creator: "~".repeat(limits::CREATOR_BYTES_MAX),
            timestamp: Hlc {
                wall_ms: limits::WALL_MS_LIMIT - 1,
                counter: u32::MAX,
            },
            base: (0..limits::BASE_LEN_MAX)
                .map(|i| EventId([i as u8; 32]))
                .collect(),
            op: Op::Update(Patch(
                (0..limits::PATCH_ENTRIES_MAX - 1)
                    .map(|i| (FieldPath(vec![format!("{i:05}")]), None))
                    .chain([(
                        FieldPath(vec![
                            "z".repeat(limits::PATH_SEGMENT_BYTES_MAX);
                            limits::PATH_SEGMENTS_MAX
                        ]),
                        Some(nested(limits::VALUE_DEPTH_MAX - limits::PATH_SEGMENTS_MAX)),
                    )])
                    .collect(),
            )),
            ..sample_update()
        };
        let sealed = event.seal().unwrap();
        VerifiedEvent::decode(&sealed.bytes).unwrap();

        let document = object(&[("a", nested(limits::VALUE_DEPTH_MAX - 1))]);
        with_op(Op::Create(document)).seal().unwrap();
    }

    #[test]
    fn non_canonical_encodings_are_rejected() {
        // Guards against a second encoding of an event, which would give it a second id.
        let bytes = sample_update().encode();

        // The group's length, 9, written as the overlong varint 0x89 0x00.
        assert_eq!(bytes[0], 9);
        let mut overlong = vec![0x80 | 9, 0x00];
        overlong.extend_from_slice(&bytes[1..]);
        assert_eq!(
            VerifiedEvent::decode(&overlong),
            Err(EventError::NotCanonical)
        );

        let mut trailing = bytes.clone();
        trailing.push(0);
        assert_eq!(
            VerifiedEvent::decode(&trailing),
            Err(EventError::TrailingBytes { bytes: 1 })
        );

        // The op comes last, so a document of one bool ends in the bool's byte.
        let mut bool_two = with_op(Op::Create(object(&[("a", Value::Bool(true))]))).encode();
        assert_eq!(bool_two.pop(), Some(1));
        bool_two.push(2);
        assert!(matches!(
            VerifiedEvent::decode(&bool_two),
            Err(EventError::Malformed(_))
        ));

        let unsorted = with_op(Op::Create(object(&[
            ("b", Value::Null),
            ("a", Value::Null),
        ])));
        assert!(matches!(
            VerifiedEvent::decode(&unsorted.encode()),
            Err(EventError::Malformed(_))
        ));

        for float in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let event = with_op(Op::Create(object(&[("a", Value::Float(float))])));
            assert!(matches!(
                VerifiedEvent::decode(&event.encode()),
                Err(EventError::Malformed(_))
            ));
        }

        // An option byte other than 0 or 1: the patch's last entry ends with None, 0x00.
        let mut option_two = bytes.clone();
        assert_eq!(option_two.pop(), Some(0));
        option_two.push(2);
        assert!(matches!(
            VerifiedEvent::decode(&option_two),
            Err(EventError::Malformed(_))
        ));

        // Op variant 3 does not exist; Remove is the last byte of a remove event.
        let mut op_three = with_op(Op::Remove).encode();
        assert_eq!(op_three.pop(), Some(2));
        op_three.push(3);
        assert!(matches!(
            VerifiedEvent::decode(&op_three),
            Err(EventError::Malformed(_))
        ));

        let truncated = &bytes[..bytes.len() - 1];
        assert!(matches!(
            VerifiedEvent::decode(truncated),
            Err(EventError::Malformed(_))
        ));
    }

    #[test]
    fn hostile_nesting_fails_without_overflowing_the_stack() {
        // Guards against a 100 KB run of nested arrays in an event recursing until the stack
        // overflows.
        let mut bytes = with_op(Op::Create(object(&[("a", Value::Null)]))).encode();
        assert_eq!(bytes.pop(), Some(0));
        bytes.extend_from_slice(&[5, 1].repeat(50_000));
        bytes.push(0);
        assert!(bytes.len() < limits::EVENT_BYTES_MAX);
        assert!(matches!(
            VerifiedEvent::decode(&bytes),
            Err(EventError::Malformed(_))
        ));
    }

    #[test]
    fn patch_value_depth_counts_its_path() {
        // Guards against a patch that builds a document deeper than any create could hold.
        let fits = with_patch(vec![(
            path(&["a", "b"]),
            Some(nested(limits::VALUE_DEPTH_MAX - 2)),
        )]);
        fits.clone().seal().unwrap();
        VerifiedEvent::decode(&fits.encode()).unwrap();

        let too_deep = with_patch(vec![(
            path(&["a", "b"]),
            Some(nested(limits::VALUE_DEPTH_MAX - 1)),
        )]);
        assert!(matches!(
            VerifiedEvent::decode(&too_deep.encode()),
            Err(EventError::PatchValueTooDeep { index: 0, .. })
        ));
    }

    #[test]
    fn oversized_input_is_refused_before_decoding() {
        // Guards against spending work on input larger than any event can be.
        let bytes = vec![0u8; limits::EVENT_BYTES_MAX + 1];
        assert_eq!(
            VerifiedEvent::decode(&bytes),
            Err(EventError::TooLarge {
                bytes: limits::EVENT_BYTES_MAX + 1,
                bytes_max: limits::EVENT_BYTES_MAX
            })
        );
    }

    #[test]
    fn hlc_tick_moves_forward_even_when_the_clock_does_not() {
        // Guards against a replica issuing a timestamp at or before one it issued already.
        let last = Hlc {
            wall_ms: 1_000,
            counter: 5,
        };
        assert_eq!(
            Hlc::tick(last, 2_000),
            Hlc {
                wall_ms: 2_000,
                counter: 0
            }
        );
        assert_eq!(
            Hlc::tick(last, 1_000),
            Hlc {
                wall_ms: 1_000,
                counter: 6
            }
        );
        // The clock went backwards: keep the old wall clock and count on.
        assert_eq!(
            Hlc::tick(last, 10),
            Hlc {
                wall_ms: 1_000,
                counter: 6
            }
        );
        // A full counter moves the timestamp one millisecond ahead instead of wrapping.
        let full = Hlc {
            wall_ms: 1_000,
            counter: u32::MAX,
        };
        assert_eq!(
            Hlc::tick(full, 900),
            Hlc {
                wall_ms: 1_001,
                counter: 0
            }
        );
    }

    #[test]
    fn hlc_observe_moves_past_both_clocks() {
        // Guards against a replica ordering its next event before one it has already seen.
        let last = Hlc {
            wall_ms: 1_000,
            counter: 5,
        };
        let remote_ahead = Hlc {
            wall_ms: 3_000,
            counter: 7,
        };
        assert_eq!(
            Hlc::observe(last, remote_ahead, 2_000),
            Hlc {
                wall_ms: 3_000,
                counter: 8
            }
        );
        let remote_behind = Hlc {
            wall_ms: 500,
            counter: 99,
        };
        assert_eq!(
            Hlc::observe(last, remote_behind, 10),
            Hlc {
                wall_ms: 1_000,
                counter: 6
            }
        );
        // Equal wall clocks: one past the larger counter.
        let remote_same = Hlc {
            wall_ms: 1_000,
            counter: 9,
        };
        assert_eq!(
            Hlc::observe(last, remote_same, 1_000),
            Hlc {
                wall_ms: 1_000,
                counter: 10
            }
        );
        // The local clock is ahead of both.
        assert_eq!(
            Hlc::observe(last, remote_ahead, 4_000),
            Hlc {
                wall_ms: 4_000,
                counter: 0
            }
        );
        let full = Hlc {
            wall_ms: 3_000,
            counter: u32::MAX,
        };
        assert_eq!(
            Hlc::observe(last, full, 0),
            Hlc {
                wall_ms: 3_001,
                counter: 0
            }
        );
    }

    #[test]
    fn doc_id_follows_the_uuid_v7_layout() {
        // Guards against ids that do not sort by time or that other UUIDv7 tools misread.
        let id = DocId::new(0x0123_4567_89ab, [0xff; 10]);
        assert_eq!(id.to_string(), "0123456789ab7fffbfffffffffffffff");
        let id = DocId::new(0x0123_4567_89ab, [0; 10]);
        assert_eq!(id.to_string(), "0123456789ab70008000000000000000");
        let id = DocId::new(0, [0x12, 0x34, 0x56, 1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(id.to_string(), "00000000000072349601020304050607");
        // Only the low 48 bits of the time are kept.
        assert_eq!(DocId::new(1 << 48, [0; 10]), DocId::new(0, [0; 10]));
        assert!(DocId::new(1_001, [0; 10]) > DocId::new(1_000, [0xff; 10]));
    }

    #[test]
    fn ids_print_and_parse_as_hex() {
        // Guards against ids that do not survive a trip through logs, URLs or the command line.
        let id = EventId(std::array::from_fn(|i| (i * 8) as u8));
        let text = id.to_string();
        assert_eq!(text.len(), 64);
        assert_eq!(text, hex::encode(id.0));
        assert_eq!(EventId::from_hex(&text), Ok(id));
        assert_eq!(text.to_uppercase().parse::<EventId>(), Ok(id));
        assert_eq!(format!("{id:?}"), format!("EventId({text})"));

        let replica = ReplicaId([0xab; 16]);
        assert_eq!(ReplicaId::from_hex(&replica.to_string()), Ok(replica));
        assert_eq!(
            DocId::from_hex("00"),
            Err(IdParseError::Length {
                chars: 2,
                chars_expected: 32
            })
        );
        assert_eq!(
            DocId::from_hex(&format!("{}g", "0".repeat(31))),
            Err(IdParseError::Character { index: 31 })
        );
        // A multi-byte character has the right byte count but is still not hex.
        assert_eq!(
            DocId::from_hex(&format!("é{}", "0".repeat(30))),
            Err(IdParseError::Character { index: 0 })
        );
    }

    fn value_strategy() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::Int),
            any::<f64>()
                .prop_filter("floats must be finite", |float| float.is_finite())
                .prop_map(Value::Float),
            ".{0,8}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 32, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                object_strategy(inner),
            ]
        })
    }

    fn object_strategy(values: impl Strategy<Value = Value>) -> impl Strategy<Value = Value> {
        prop::collection::btree_map(".{0,6}", values, 0..4)
            .prop_map(|entries| Value::Object(entries.into_iter().collect()))
    }

    fn patch_strategy() -> impl Strategy<Value = Patch> {
        // A tiny alphabet, so that paths often share prefixes and the overlap rule is hit.
        let paths = prop::collection::vec("[ab]{1,2}", 1..4).prop_map(FieldPath);
        prop::collection::btree_map(paths, prop::option::of(value_strategy()), 1..6).prop_map(
            |entries: BTreeMap<FieldPath, Option<Value>>| {
                let mut kept: Vec<(FieldPath, Option<Value>)> = Vec::new();
                for (path, value) in entries {
                    // Sorted input: a path inside any kept path is inside the last kept one.
                    let overlaps = kept
                        .last()
                        .is_some_and(|(previous, _)| previous.is_proper_prefix_of(&path));
                    if !overlaps {
                        kept.push((path, value));
                    }
                }
                Patch(kept)
            },
        )
    }

    fn event_strategy() -> impl Strategy<Value = Event> {
        let op = prop_oneof![
            object_strategy(value_strategy()).prop_map(Op::Create),
            patch_strategy().prop_map(Op::Update),
            Just(Op::Remove),
        ];
        (
            "[a-zA-Z0-9._:-]{1,16}",
            "[a-zA-Z0-9._:-]{1,16}",
            any::<[u8; 16]>(),
            (0..limits::WALL_MS_LIMIT, any::<u32>()),
            "[!-~]{1,16}",
            any::<[u8; 16]>(),
            prop::collection::btree_set(any::<[u8; 32]>(), 0..4),
            op,
        )
            .prop_map(
                |(group, collection, target, (wall_ms, counter), creator, origin, base, op)| {
                    Event {
                        group,
                        collection,
                        target: DocId(target),
                        timestamp: Hlc { wall_ms, counter },
                        creator,
                        origin: ReplicaId(origin),
                        // A set iterates in ascending order, which is the order the base needs.
                        base: base.into_iter().map(EventId).collect(),
                        op,
                    }
                },
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 256,
            rng_seed: RngSeed::Fixed(1),
            ..ProptestConfig::default()
        })]

        #[test]
        fn valid_events_round_trip(event in event_strategy()) {
            // Guards against any valid event whose encoding fails to decode to the same event.
            let sealed = event.clone().seal().unwrap();
            let decoded = VerifiedEvent::decode(&sealed.bytes).unwrap();
            prop_assert_eq!(decoded.id, event.id());
            prop_assert_eq!(&decoded, &sealed);
        }

        #[test]
        fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
            // Guards against hostile input crashing the decoder instead of being refused.
            if let Ok(decoded) = VerifiedEvent::decode(&bytes) {
                prop_assert_eq!(decoded.bytes, bytes);
            }
        }

        #[test]
        fn damaged_events_are_refused_or_canonical(
            event in event_strategy(),
            position in any::<prop::sample::Index>(),
            byte in any::<u8>(),
        ) {
            // Guards against a damaged encoding decoding to an event whose bytes differ from
            // the input, which would let one event travel under two ids.
            let mut bytes = event.encode();
            let position = position.index(bytes.len());
            bytes[position] = byte;
            if let Ok(decoded) = VerifiedEvent::decode(&bytes) {
                prop_assert_eq!(&decoded.event.encode(), &bytes);
                prop_assert_eq!(decoded.id.0, *blake3::hash(&bytes).as_bytes());
            }
        }

        #[test]
        fn hlc_always_moves_forward(
            last_wall_ms in 0..limits::WALL_MS_LIMIT,
            last_counter in any::<u32>(),
            remote_wall_ms in 0..limits::WALL_MS_LIMIT,
            remote_counter in any::<u32>(),
            now_ms in 0..limits::WALL_MS_LIMIT,
        ) {
            // Guards against a timestamp that does not come after what the replica knew.
            let last = Hlc { wall_ms: last_wall_ms, counter: last_counter };
            let remote = Hlc { wall_ms: remote_wall_ms, counter: remote_counter };
            prop_assert!(Hlc::tick(last, now_ms) > last);
            let observed = Hlc::observe(last, remote, now_ms);
            prop_assert!(observed > last);
            prop_assert!(observed > remote);
            prop_assert!(observed.wall_ms >= now_ms);
        }
    }
}
