//! The id types and their text: [`EventId`] (spec §4.3; what it hashes is in `canonical`),
//! and [`DocId`] and [`ReplicaId`] (§4.5: 16 bytes each, which receivers accept whatever they
//! hold; a new [`DocId`] has the UUIDv7 layout so that ids sort by creation time). Every id
//! prints and parses as lowercase hex, two digits per byte, so that it survives logs, URLs and
//! the command line.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Defines lowercase-hex text for an id that wraps a byte array.
macro_rules! hex_id {
    ($name:ident, $bytes_len:literal) => {
        impl $name {
            /// Parses the id from its hex text; upper- and lowercase digits are both accepted.
            pub fn from_hex(text: &str) -> Result<Self, IdParseError> {
                hex_decode::<$bytes_len>(text).map($name)
            }
        }

        impl std::fmt::Display for $name {
            /// Writes the id as lowercase hex, two digits per byte.
            fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                hex_write(&self.0, formatter)
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(formatter, "{}({})", stringify!($name), self)
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdParseError;

            fn from_str(text: &str) -> Result<Self, IdParseError> {
                Self::from_hex(text)
            }
        }
    };
}

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
