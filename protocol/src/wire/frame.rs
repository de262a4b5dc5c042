//! Frames (spec §7.1) and their decoding (§7.4): a frame is the protocol version as a postcard
//! varint followed by the postcard encoding of [`Frame`], and a decoder checks the size, the
//! version, every count and the canonical encoding before anything else reads it.

use serde::{Deserialize, Serialize};

use super::bounded;
use super::error::error_body_check;
use super::{ErrorBody, Fingerprint, Item, Salt, WireError, PROTOCOL_VERSION, PROTOCOL_VERSIONS};
use crate::limits::FRAME_BYTES_MAX;

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
    /// Fingerprint of the session's [`Groups::digest`](super::Groups::digest), so a responder that keeps no state can
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
            error_body_check(&body)?;
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
            error_body_check(body)?;
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
    debug_assert_eq!(frame_len(&frame), bytes.len(), "a canonical frame's length");
    Ok(frame)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ErrorCode;

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
}
