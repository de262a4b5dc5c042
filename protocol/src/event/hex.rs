//! Ids as text: lowercase hex, two digits per byte, for [`super::EventId`] (§4.3) and for
//! [`super::DocId`] and [`super::ReplicaId`] (§4.5), so that ids survive logs, URLs and the
//! command line.

use std::fmt;

/// Defines lowercase-hex text for an id that wraps a byte array.
macro_rules! hex_id {
    ($name:ident, $bytes_len:literal) => {
        impl $name {
            /// Parses the id from its hex text; upper- and lowercase digits are both accepted.
            pub fn from_hex(text: &str) -> Result<Self, super::hex::IdParseError> {
                super::hex::hex_decode::<$bytes_len>(text).map($name)
            }
        }

        impl std::fmt::Display for $name {
            /// Writes the id as lowercase hex, two digits per byte.
            fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                super::hex::hex_write(&self.0, formatter)
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(formatter, "{}({})", stringify!($name), self)
            }
        }

        impl std::str::FromStr for $name {
            type Err = super::hex::IdParseError;

            fn from_str(text: &str) -> Result<Self, super::hex::IdParseError> {
                Self::from_hex(text)
            }
        }
    };
}

pub(super) use hex_id;

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

pub(super) fn hex_write(bytes: &[u8], formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
    bytes
        .iter()
        .try_for_each(|byte| write!(formatter, "{byte:02x}"))
}

pub(super) fn hex_decode<const BYTES_LEN: usize>(
    text: &str,
) -> Result<[u8; BYTES_LEN], IdParseError> {
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

#[cfg(test)]
mod tests {
    use super::super::{DocId, EventId, ReplicaId};
    use super::*;

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
