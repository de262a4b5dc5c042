//! Event ids and canonical decoding (spec §4.3): an id is the BLAKE3 hash of the canonical
//! encoding, and a receiver accepts bytes only when they are exactly that encoding of a valid
//! event, so an id names one event and an event has one id.

use super::error::EventError;
use super::ids::EventId;
use super::validity::size_check;
use super::Event;
use crate::limits;

impl Event {
    /// The id of the event: the BLAKE3 hash of [`Event::encode`].
    pub fn id(&self) -> EventId {
        EventId(*blake3::hash(&self.encode()).as_bytes())
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
}

/// An event known to be valid, with its canonical encoding and its id computed once.
///
/// Build one with [`Event::seal`] or [`VerifiedEvent::decode`]. The fields are private: the id
/// is the hash of the bytes, and the bytes are the one canonical encoding of the event, so
/// changing any of them alone would break that agreement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedEvent {
    /// BLAKE3 of `bytes`.
    id: EventId,
    /// The canonical encoding of `event`.
    bytes: Vec<u8>,
    /// The event itself.
    event: Event,
}

impl VerifiedEvent {
    /// The event's id: BLAKE3 of its canonical bytes.
    pub fn id(&self) -> EventId {
        self.id
    }

    /// The event's canonical encoding, what goes on the wire and into a store.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The event itself.
    pub fn event(&self) -> &Event {
        &self.event
    }

    /// The canonical encoding, without copying it.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

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
    use super::super::test_support::{config, event_strategy, object, sample_update, with_op};
    use super::super::Op;
    use super::*;
    use crate::value::Value;
    use proptest::prelude::*;

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

    proptest! {
        #![proptest_config(config())]

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
    }
}
