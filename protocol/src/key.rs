//! Keys, nibbles and paths (spec §5.1): where an event sits in its group's hash tree.
//!
//! A [`Key`] is `wall_ms (8 bytes, big-endian) ‖ counter (4 bytes, big-endian) ‖ event id (32
//! bytes)`, so keys sort by time first, then by id. The tree reads a key as [`KEY_NIBBLES`]
//! nibbles, high nibble of each byte first; a [`Path`] is a prefix of those nibbles and names a
//! prefix of the tree (the empty path is the root). On the wire and on disk a path is its length
//! in nibbles followed by the nibbles packed two to a byte (spec §7.2).
//!
//! This module and [`crate::digest`] are the tree's data: they read no store, so the store
//! trait can name them and the tree's algorithms in [`crate::tree`] can read through it.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::event::{EventId, Hlc, VerifiedEvent};

/// Length of a [`Key`] in bytes.
pub const KEY_BYTES: usize = 44;

/// Length of a [`Key`] in nibbles, and so the longest possible [`Path`].
pub const KEY_NIBBLES: usize = 2 * KEY_BYTES;

/// Radix of the trie: a nibble has 16 values.
pub const RADIX: usize = 16;

// A key is a timestamp (8 + 4 bytes) followed by an event id (32 bytes); `Key::new` and the
// accessors slice it at these offsets.
const _: () = assert!(KEY_BYTES == 8 + 4 + 32);
// A path's length travels as one byte (`PathWire::nibbles`), so the longest path must fit.
const _: () = assert!(KEY_NIBBLES <= u8::MAX as usize);
// A nibble is four bits: a branch has one child per value, and its bitmap is a `u16`.
const _: () = assert!(RADIX == 1 << 4);
const _: () = assert!(RADIX == u16::BITS as usize);
// The walk descends at least one tree level per round, and a group's tree has at most one
// level per key nibble; group ranges add one level per hex digit of the group count (5 for
// `GROUPS_PER_SESSION_MAX`). An initiator must not give up on a responder before the deepest
// walk could end.
const _: () = assert!(crate::limits::ROUNDS_PER_SESSION_MAX as usize > KEY_NIBBLES + 5);

/// Where an event sits in its group's tree: its timestamp, then its id.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Key(#[serde(with = "key_bytes")] pub [u8; KEY_BYTES]);

impl Key {
    /// The key of an event with this timestamp and id.
    pub fn new(timestamp: Hlc, id: EventId) -> Key {
        let mut bytes = [0u8; KEY_BYTES];
        bytes[0..8].copy_from_slice(&timestamp.wall_ms.to_be_bytes());
        bytes[8..12].copy_from_slice(&timestamp.counter.to_be_bytes());
        bytes[12..44].copy_from_slice(&id.0);
        Key(bytes)
    }

    /// The key of a verified event.
    pub fn of(event: &VerifiedEvent) -> Key {
        Key::new(event.event().timestamp, event.id())
    }

    /// The event id inside the key.
    pub fn id(&self) -> EventId {
        let mut id = [0u8; 32];
        id.copy_from_slice(&self.0[12..44]);
        EventId(id)
    }

    /// The timestamp inside the key.
    pub fn timestamp(&self) -> Hlc {
        let wall_ms = u64::from_be_bytes(self.0[0..8].try_into().expect("8 bytes"));
        let counter = u32::from_be_bytes(self.0[8..12].try_into().expect("4 bytes"));
        Hlc { wall_ms, counter }
    }

    /// Nibble `index` of the key, high nibble of each byte first.
    pub fn nibble(&self, index: usize) -> u8 {
        assert!(index < KEY_NIBBLES);
        let byte = self.0[index / 2];
        if index % 2 == 0 {
            byte >> 4
        } else {
            byte & 0x0F
        }
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let timestamp = self.timestamp();
        write!(
            f,
            "Key({}.{} {})",
            timestamp.wall_ms,
            timestamp.counter,
            &self.id().to_string()[..16]
        )
    }
}

/// serde for `[u8; 44]`: serde derives arrays only up to 32, so write it as a tuple of bytes,
/// which postcard encodes as 44 raw bytes.
mod key_bytes {
    use serde::de::{Error, SeqAccess, Visitor};
    use serde::ser::SerializeTuple;
    use serde::{Deserializer, Serializer};

    use super::KEY_BYTES;

    pub fn serialize<S: Serializer>(
        bytes: &[u8; KEY_BYTES],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let mut tuple = serializer.serialize_tuple(KEY_BYTES)?;
        for byte in bytes {
            tuple.serialize_element(byte)?;
        }
        tuple.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<[u8; KEY_BYTES], D::Error> {
        struct BytesVisitor;
        impl<'de> Visitor<'de> for BytesVisitor {
            type Value = [u8; KEY_BYTES];
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{KEY_BYTES} bytes")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut bytes = [0u8; KEY_BYTES];
                for (index, byte) in bytes.iter_mut().enumerate() {
                    *byte = seq
                        .next_element()?
                        .ok_or_else(|| A::Error::invalid_length(index, &self))?;
                }
                Ok(bytes)
            }
        }
        deserializer.deserialize_tuple(KEY_BYTES, BytesVisitor)
    }
}

/// A prefix of a key, in nibbles: at most [`KEY_NIBBLES`] long, each element below 16.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Path {
    nibbles: Vec<u8>,
}

impl fmt::Debug for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Path(")?;
        for nibble in &self.nibbles {
            write!(f, "{nibble:x}")?;
        }
        write!(f, ")")
    }
}

impl Path {
    /// The empty path: the group's root.
    pub fn root() -> Path {
        Path::default()
    }

    /// The first `len` nibbles of `key`.
    pub fn of_key(key: &Key, len: usize) -> Path {
        assert!(len <= KEY_NIBBLES);
        Path {
            nibbles: (0..len).map(|index| key.nibble(index)).collect(),
        }
    }

    /// A path from nibbles; `None` when it is too long or a nibble is 16 or more.
    pub fn from_nibbles(nibbles: Vec<u8>) -> Option<Path> {
        if nibbles.len() > KEY_NIBBLES || nibbles.iter().any(|nibble| *nibble >= RADIX as u8) {
            return None;
        }
        Some(Path { nibbles })
    }

    /// The nibbles.
    pub fn nibbles(&self) -> &[u8] {
        &self.nibbles
    }

    /// Length in nibbles.
    pub fn len(&self) -> usize {
        self.nibbles.len()
    }

    /// Whether this is the root path.
    pub fn is_empty(&self) -> bool {
        self.nibbles.is_empty()
    }

    /// This path followed by `nibble`.
    pub fn child(&self, nibble: u8) -> Path {
        assert!(nibble < RADIX as u8);
        assert!(self.len() < KEY_NIBBLES);
        let mut nibbles = Vec::with_capacity(self.len() + 1);
        nibbles.extend_from_slice(&self.nibbles);
        nibbles.push(nibble);
        Path { nibbles }
    }

    /// The first `len` nibbles of this path.
    pub fn truncated(&self, len: usize) -> Path {
        assert!(len <= self.len());
        Path {
            nibbles: self.nibbles[..len].to_vec(),
        }
    }

    /// Whether `key` starts with this path.
    pub fn contains(&self, key: &Key) -> bool {
        self.nibbles
            .iter()
            .enumerate()
            .all(|(index, nibble)| key.nibble(index) == *nibble)
    }

    /// Whether this path is a prefix of `other` (or equal to it).
    pub fn is_prefix_of(&self, other: &Path) -> bool {
        other.nibbles.starts_with(&self.nibbles)
    }

    /// The smallest and largest key under this path, both inclusive.
    pub fn key_range(&self) -> (Key, Key) {
        let mut low = [0u8; KEY_BYTES];
        let mut high = [0xFFu8; KEY_BYTES];
        for (index, nibble) in self.nibbles.iter().enumerate() {
            let byte = index / 2;
            if index % 2 == 0 {
                low[byte] = nibble << 4;
                high[byte] = (nibble << 4) | 0x0F;
            } else {
                low[byte] |= nibble;
                high[byte] = (high[byte] & 0xF0) | nibble;
            }
        }
        (Key(low), Key(high))
    }

    /// Nibbles packed two to a byte, high nibble first; an odd last nibble leaves the low
    /// nibble of the last byte zero.
    pub fn packed(&self) -> Vec<u8> {
        self.nibbles
            .chunks(2)
            .map(|pair| (pair[0] << 4) | pair.get(1).copied().unwrap_or(0))
            .collect()
    }

    /// The inverse of [`Path::packed`]; `None` when the lengths disagree, the path is too long,
    /// or the padding nibble is not zero.
    pub fn from_packed(len: usize, packed: &[u8]) -> Option<Path> {
        if len > KEY_NIBBLES || packed.len() != len.div_ceil(2) {
            return None;
        }
        if len % 2 == 1 && packed[packed.len() - 1] & 0x0F != 0 {
            return None;
        }
        let nibbles = (0..len)
            .map(|index| {
                let byte = packed[index / 2];
                if index % 2 == 0 {
                    byte >> 4
                } else {
                    byte & 0x0F
                }
            })
            .collect();
        Some(Path { nibbles })
    }
}

/// On the wire and on disk a path is its length in nibbles (one byte) followed by
/// [`Path::packed`] as a postcard byte sequence (varint length, then the bytes).
#[derive(Serialize, Deserialize)]
struct PathWire {
    nibbles: u8,
    packed: Vec<u8>,
}

impl Serialize for Path {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let nibbles = u8::try_from(self.len()).expect("a path is at most 88 nibbles");
        PathWire {
            nibbles,
            packed: self.packed(),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Path {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Path, D::Error> {
        let wire = PathWire::deserialize(deserializer)?;
        Path::from_packed(usize::from(wire.nibbles), &wire.packed).ok_or_else(|| {
            serde::de::Error::custom(
                "invalid path: over 88 nibbles, packed length disagrees, or padding not zero",
            )
        })
    }
}
