//! Validity (spec §4.2): the rules every event follows; [`EventError`] names the rule an event
//! breaks.

use super::error::EventError;
use super::patch::patch_check;
use super::{Event, Op};
use crate::limits;
use crate::value::Value;

impl Event {
    /// Checks every rule a valid event follows, including its encoded size.
    pub fn validate(&self) -> Result<(), EventError> {
        self.validate_fields()?;
        let bytes = postcard::experimental::serialized_size(self)
            .expect("every field serializes without error");
        size_check(bytes)
    }

    /// Every rule but the size limit, which callers check against an encoding they need anyway.
    pub(super) fn validate_fields(&self) -> Result<(), EventError> {
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

pub(super) fn size_check(bytes: usize) -> Result<(), EventError> {
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

#[cfg(test)]
mod tests {
    use super::super::test_support::{nested, object, path, sample_update, with_op, with_patch};
    use super::super::{EventId, FieldPath, Hlc, Patch, VerifiedEvent};
    use super::*;
    use crate::value::ValueError;

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
        VerifiedEvent::decode(sealed.bytes()).unwrap();

        let document = object(&[("a", nested(limits::VALUE_DEPTH_MAX - 1))]);
        with_op(Op::Create(document)).seal().unwrap();
    }
}
