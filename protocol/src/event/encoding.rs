//! Encoding (spec §4.1): the [`Event`] struct, whose postcard encoding, fields in declaration
//! order, is the event's canonical encoding.

use serde::{Deserialize, Serialize};

use super::{DocId, EventId, Hlc, Patch, ReplicaId};
use crate::value::Value;

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

impl Event {
    /// The canonical encoding of the event, valid or not.
    pub fn encode(&self) -> Vec<u8> {
        postcard::to_allocvec(self)
            .expect("every field serializes without error into a growable Vec")
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{
        config, event_strategy, object, path, sample_update, with_op,
    };
    use super::super::VerifiedEvent;
    use super::*;
    use proptest::prelude::*;

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
            assert_eq!(sealed.bytes(), event.encode());
            assert_eq!(sealed.id(), event.id());
            let decoded = VerifiedEvent::decode(sealed.bytes()).unwrap();
            assert_eq!(decoded, sealed);
            assert_eq!(decoded.event(), &event);
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
        assert_eq!(hex::encode(sealed.bytes()), expected);
        assert_eq!(
            sealed.id().0,
            *blake3::hash(&hex::decode(&expected).unwrap()).as_bytes()
        );
        // Pinned so that a change to the hash or its input shows up as a changed vector.
        assert_eq!(
            sealed.id().to_string(),
            "a5bc71b6e3f710bb45ce47c474a7c3aeedcaa95af85c8b1410165b02543cc567"
        );
        assert_eq!(
            VerifiedEvent::decode(sealed.bytes()).unwrap().event(),
            &event
        );
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn valid_events_round_trip(event in event_strategy()) {
            // Guards against any valid event whose encoding fails to decode to the same event.
            let sealed = event.clone().seal().unwrap();
            let decoded = VerifiedEvent::decode(sealed.bytes()).unwrap();
            prop_assert_eq!(decoded.id(), event.id());
            prop_assert_eq!(&decoded, &sealed);
        }
    }
}
