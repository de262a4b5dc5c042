//! Document and replica ids (spec §4.5): 16 bytes each, which receivers accept whatever they
//! hold; a new [`DocId`] has the UUIDv7 layout so that ids sort by creation time.

use serde::{Deserialize, Serialize};

use super::hex::hex_id;

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
}
