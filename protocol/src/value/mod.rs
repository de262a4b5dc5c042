//! JSON values with exactly one postcard encoding each.
//!
//! Events carry documents and patch values as [`Value`]. Event ids are hashes of encodings, so
//! two replicas that hold the same value MUST produce the same bytes for it; that is why object
//! keys are kept sorted, floats are finite and compare by their bits, and decoding rejects every
//! encoding that breaks one of these rules instead of repairing it.
//!
//! The encoding is postcard's (see postcard's wire-format specification for varints and zigzag),
//! applied to [`Value`] as a serde enum whose variant index is a varint in declaration order:
//!
//! | index | variant  | payload                                                     |
//! |-------|----------|-------------------------------------------------------------|
//! | 0     | `Null`   | nothing                                                     |
//! | 1     | `Bool`   | one byte, 0 or 1                                            |
//! | 2     | `Int`    | zigzag varint of an `i64`                                   |
//! | 3     | `Float`  | 8 bytes, IEEE 754 binary64, little-endian                   |
//! | 4     | `String` | varint byte length, then UTF-8                              |
//! | 5     | `Array`  | varint count, then that many values                         |
//! | 6     | `Object` | varint count, then that many (key string, value) pairs      |
//!
//! Decoding is bounded: it never nests deeper than [`VALUE_DEPTH_MAX`] and never preallocates
//! more than a small fixed number of slots from a length prefix it has not yet seen filled.
//!
//! - `decode`: the bounded decoder that accepts only canonical encodings;
//! - `json`: conversion from and to `serde_json` values.

mod decode;
mod json;
#[cfg(test)]
mod test_support;

use serde::Serialize;

use crate::limits::VALUE_DEPTH_MAX;

/// A JSON value in its canonical form.
///
/// Equality is structural, and floats are equal when their bits are, so that two values are
/// equal exactly when their encodings are (`0.0` and `-0.0` differ; NaN never validates).
#[derive(Debug, Clone, Serialize)]
pub enum Value {
    /// JSON `null`.
    Null,
    /// JSON `true` or `false`.
    Bool(bool),
    /// A JSON number that is an integer and fits in an `i64`.
    Int(i64),
    /// Any other JSON number; it MUST be finite.
    Float(f64),
    /// A JSON string.
    String(String),
    /// A JSON array.
    Array(Vec<Value>),
    /// A JSON object as (key, value) pairs; keys MUST be strictly ascending by bytes.
    Object(Vec<(String, Value)>),
}

/// Why a value is not canonical.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValueError {
    /// The value nests arrays or objects deeper than allowed.
    #[error(
        "value is nested deeper than {depth_max} levels; flatten the document or store deep \
         parts as strings"
    )]
    TooDeep {
        /// The deepest value allowed where this one was found.
        depth_max: usize,
    },
    /// A float is NaN or infinite, which JSON cannot represent.
    #[error("value holds a NaN or infinite number; store it as a string or null instead")]
    FloatNotFinite,
    /// An object key is not strictly greater than the key before it.
    #[error(
        "object key `{key}` does not come strictly after the key before it; sort object keys \
         by their bytes and remove duplicates"
    )]
    KeysNotAscending {
        /// The first key found out of order.
        key: String,
    },
    /// A JSON integer does not fit in an `i64`.
    #[error(
        "integer does not fit in a signed 64-bit number; store large integers as strings \
         instead"
    )]
    IntegerOutOfRange,
}

impl Value {
    /// How deeply the value nests: a scalar or an empty container has depth 1, a container one
    /// more than its deepest child.
    pub fn depth(&self) -> usize {
        // An explicit stack rather than recursion, so that measuring a value built in code
        // cannot overflow the call stack however deep the value is.
        let mut depth_max = 0;
        let mut pending: Vec<(&Value, usize)> = vec![(self, 1)];
        while let Some((value, depth)) = pending.pop() {
            depth_max = depth_max.max(depth);
            match value {
                Value::Array(values) => {
                    pending.extend(values.iter().map(|child| (child, depth + 1)));
                }
                Value::Object(entries) => {
                    pending.extend(entries.iter().map(|(_, child)| (child, depth + 1)));
                }
                _ => {}
            }
        }
        depth_max
    }

    /// Checks the canonical rules that decoding enforces, for a value built in code: depth at
    /// most [`VALUE_DEPTH_MAX`], finite floats, object keys strictly ascending.
    pub fn validate(&self) -> Result<(), ValueError> {
        self.validate_with_depth_max(VALUE_DEPTH_MAX)
    }

    /// Like [`Value::validate`], with a tighter depth limit; a patch value uses what is left of
    /// [`VALUE_DEPTH_MAX`] after its field path.
    pub fn validate_with_depth_max(&self, depth_max: usize) -> Result<(), ValueError> {
        self.validate_within(depth_max, depth_max)
    }

    /// Recursion stops as soon as `depth_remaining` runs out, so it is bounded by `depth_max`.
    fn validate_within(&self, depth_remaining: usize, depth_max: usize) -> Result<(), ValueError> {
        if depth_remaining == 0 {
            return Err(ValueError::TooDeep { depth_max });
        }
        match self {
            Value::Null | Value::Bool(_) | Value::Int(_) | Value::String(_) => Ok(()),
            Value::Float(number) => float_check(*number),
            Value::Array(values) => values
                .iter()
                .try_for_each(|child| child.validate_within(depth_remaining - 1, depth_max)),
            Value::Object(entries) => {
                for (index, (key, child)) in entries.iter().enumerate() {
                    if index > 0 {
                        key_check(&entries[index - 1].0, key)?;
                    }
                    child.validate_within(depth_remaining - 1, depth_max)?;
                }
                Ok(())
            }
        }
    }
}

pub(super) fn float_check(number: f64) -> Result<(), ValueError> {
    if number.is_finite() {
        Ok(())
    } else {
        Err(ValueError::FloatNotFinite)
    }
}

pub(super) fn key_check(key_previous: &str, key: &str) -> Result<(), ValueError> {
    // `str` orders by UTF-8 bytes, which is the order the spec defines.
    if key_previous < key {
        Ok(())
    } else {
        Err(ValueError::KeysNotAscending {
            key: key.to_owned(),
        })
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Value::Null, Value::Null) => true,
            (Value::Bool(left), Value::Bool(right)) => left == right,
            (Value::Int(left), Value::Int(right)) => left == right,
            // Bits, not IEEE equality: `0.0 == -0.0` would make two values with different
            // encodings (and so different event ids) compare equal.
            (Value::Float(left), Value::Float(right)) => left.to_bits() == right.to_bits(),
            (Value::String(left), Value::String(right)) => left == right,
            (Value::Array(left), Value::Array(right)) => left == right,
            (Value::Object(left), Value::Object(right)) => left == right,
            _ => false,
        }
    }
}

// Comparing floats by bits is reflexive, so equality is a full equivalence.
impl Eq for Value {}

#[cfg(test)]
mod tests {
    use super::test_support::{decode, nested, object, string};
    use super::*;

    #[test]
    fn encoding_matches_the_spec_byte_for_byte() {
        // Guards against the encoding drifting from the table in the module docs.
        let value = object(&[(
            "a",
            Value::Array(vec![
                Value::Null,
                Value::Bool(true),
                Value::Int(-2),
                Value::Float(1.5),
                string("é"),
            ]),
        )]);
        // 06 01          object with 1 entry
        // 01 61          key "a"
        // 05 05          array with 5 values
        // 00             null
        // 01 01          bool true
        // 02 03          int -2, zigzag 3
        // 03 0000000000 00f83f   float 1.5 = 0x3FF8000000000000, little-endian
        // 04 02 c3a9     string "é", 2 bytes of UTF-8
        let expected = "060101610505000101020303000000000000f83f0402c3a9";
        let bytes = postcard::to_allocvec(&value).unwrap();
        assert_eq!(hex::encode(&bytes), expected);
        assert_eq!(decode(&bytes).unwrap(), value);
    }

    #[test]
    fn every_variant_round_trips() {
        // Guards against a variant whose decoder disagrees with its derived encoder.
        let value = object(&[
            ("", Value::Array(vec![])),
            ("empty", object(&[])),
            ("float", Value::Float(-0.0)),
            ("int", Value::Int(i64::MIN)),
            ("max", Value::Int(i64::MAX)),
            ("nested", object(&[("x", nested(5))])),
            ("text", string("tide\u{0}line")),
        ]);
        value.validate().unwrap();
        let bytes = postcard::to_allocvec(&value).unwrap();
        assert_eq!(decode(&bytes).unwrap(), value);
    }

    #[test]
    fn floats_compare_by_bits() {
        // Guards against two values with different encodings comparing equal, or NaN being
        // unequal to itself.
        assert_ne!(Value::Float(0.0), Value::Float(-0.0));
        assert_eq!(Value::Float(f64::NAN), Value::Float(f64::NAN));
        assert_ne!(Value::Int(1), Value::Float(1.0));
    }

    #[test]
    fn depth_counts_scalars_and_empty_containers_as_one() {
        // Guards against an off-by-one between the spec's depth rule and the code.
        assert_eq!(Value::Null.depth(), 1);
        assert_eq!(Value::Array(vec![]).depth(), 1);
        assert_eq!(object(&[]).depth(), 1);
        assert_eq!(Value::Array(vec![Value::Null]).depth(), 2);
        assert_eq!(object(&[("a", Value::Array(vec![]))]).depth(), 2);
        assert_eq!(
            Value::Array(vec![Value::Null, nested(4), Value::Array(vec![])]).depth(),
            5
        );
        assert_eq!(nested(VALUE_DEPTH_MAX).depth(), VALUE_DEPTH_MAX);
    }

    #[test]
    fn validate_rejects_each_rule() {
        // Guards against values built in code skipping a rule that decoding enforces.
        assert_eq!(
            Value::Array(vec![Value::Float(f64::INFINITY)]).validate(),
            Err(ValueError::FloatNotFinite)
        );
        assert_eq!(
            object(&[("b", Value::Null), ("a", Value::Null)]).validate(),
            Err(ValueError::KeysNotAscending {
                key: "a".to_owned()
            })
        );
        assert_eq!(
            object(&[("a", Value::Null), ("a", Value::Null)]).validate(),
            Err(ValueError::KeysNotAscending {
                key: "a".to_owned()
            })
        );
        assert_eq!(
            nested(3).validate_with_depth_max(2),
            Err(ValueError::TooDeep { depth_max: 2 })
        );
        // Keys compare by bytes: "Z" (0x5A) sorts before "a" (0x61), "a" before "é".
        object(&[("Z", Value::Null), ("a", Value::Null), ("é", Value::Null)])
            .validate()
            .unwrap();
    }
}
