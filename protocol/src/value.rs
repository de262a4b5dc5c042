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

use std::fmt;

use serde::de::{self, DeserializeSeed, EnumAccess, SeqAccess, VariantAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::limits::VALUE_DEPTH_MAX;

/// Most slots a decoder reserves up front for an array or object, whatever its length prefix
/// says: a hostile prefix could claim billions of elements, while real ones arrive as bytes.
const PREALLOCATION_LEN_MAX: usize = 1024;

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

fn float_check(number: f64) -> Result<(), ValueError> {
    if number.is_finite() {
        Ok(())
    } else {
        Err(ValueError::FloatNotFinite)
    }
}

fn key_check(key_previous: &str, key: &str) -> Result<(), ValueError> {
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

impl<'de> Deserialize<'de> for Value {
    /// Decodes a value with the full depth budget [`VALUE_DEPTH_MAX`], rejecting anything that
    /// is not canonical.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        ValueSeed::new(VALUE_DEPTH_MAX).deserialize(deserializer)
    }
}

/// Decodes one value that may nest at most `depth_remaining` levels.
///
/// Each container hands its children a seed with one level less, and a seed with nothing left
/// fails before reading a byte, so hostile input cannot drive the recursion past `depth_max`.
#[derive(Clone, Copy)]
struct ValueSeed {
    depth_remaining: usize,
    /// The budget the outermost value started with, for the error message.
    depth_max: usize,
}

impl ValueSeed {
    fn new(depth_max: usize) -> Self {
        ValueSeed {
            depth_remaining: depth_max,
            depth_max,
        }
    }

    /// The seed for the children of a container decoded with this seed.
    fn child(self) -> Self {
        ValueSeed {
            depth_remaining: self.depth_remaining - 1,
            depth_max: self.depth_max,
        }
    }
}

/// Variant names in declaration order; postcard uses only the positions.
const VARIANTS: &[&str] = &["Null", "Bool", "Int", "Float", "String", "Array", "Object"];

impl<'de> DeserializeSeed<'de> for ValueSeed {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        if self.depth_remaining == 0 {
            return Err(de::Error::custom(ValueError::TooDeep {
                depth_max: self.depth_max,
            }));
        }
        deserializer.deserialize_enum("Value", VARIANTS, self)
    }
}

impl<'de> Visitor<'de> for ValueSeed {
    type Value = Value;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a canonical Tideline value")
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Value, A::Error> {
        let (tag, variant) = data.variant::<Tag>()?;
        match tag {
            Tag::Null => variant.unit_variant().map(|()| Value::Null),
            Tag::Bool => variant.newtype_variant().map(Value::Bool),
            Tag::Int => variant.newtype_variant().map(Value::Int),
            Tag::Float => {
                let number: f64 = variant.newtype_variant()?;
                float_check(number).map_err(de::Error::custom)?;
                Ok(Value::Float(number))
            }
            Tag::String => variant.newtype_variant().map(Value::String),
            Tag::Array => variant
                .newtype_variant_seed(ArraySeed(self.child()))
                .map(Value::Array),
            Tag::Object => variant
                .newtype_variant_seed(ObjectSeed(self.child()))
                .map(Value::Object),
        }
    }
}

/// The variant of a [`Value`] being decoded.
enum Tag {
    Null,
    Bool,
    Int,
    Float,
    String,
    Array,
    Object,
}

impl<'de> Deserialize<'de> for Tag {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_identifier(TagVisitor)
    }
}

struct TagVisitor;

impl Visitor<'_> for TagVisitor {
    type Value = Tag;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a value variant index from 0 to 6")
    }

    fn visit_u64<E: de::Error>(self, index: u64) -> Result<Tag, E> {
        Ok(match index {
            0 => Tag::Null,
            1 => Tag::Bool,
            2 => Tag::Int,
            3 => Tag::Float,
            4 => Tag::String,
            5 => Tag::Array,
            6 => Tag::Object,
            _ => {
                return Err(de::Error::invalid_value(
                    de::Unexpected::Unsigned(index),
                    &self,
                ))
            }
        })
    }

    // Self-describing formats name the variant instead of numbering it.
    fn visit_str<E: de::Error>(self, name: &str) -> Result<Tag, E> {
        match VARIANTS.iter().position(|candidate| *candidate == name) {
            Some(index) => self.visit_u64(index as u64),
            None => Err(de::Error::unknown_variant(name, VARIANTS)),
        }
    }
}

/// Decodes the elements of an array, each with the array's child seed.
struct ArraySeed(ValueSeed);

impl<'de> DeserializeSeed<'de> for ArraySeed {
    type Value = Vec<Value>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Vec<Value>, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ArraySeed {
    type Value = Vec<Value>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("an array of values")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut sequence: A) -> Result<Vec<Value>, A::Error> {
        let capacity = sequence.size_hint().unwrap_or(0).min(PREALLOCATION_LEN_MAX);
        let mut values = Vec::with_capacity(capacity);
        while let Some(value) = sequence.next_element_seed(self.0)? {
            values.push(value);
        }
        Ok(values)
    }
}

/// Decodes the entries of an object, rejecting keys out of order as soon as one arrives.
struct ObjectSeed(ValueSeed);

impl<'de> DeserializeSeed<'de> for ObjectSeed {
    type Value = Vec<(String, Value)>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ObjectSeed {
    type Value = Vec<(String, Value)>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("an object as (key, value) pairs")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut sequence: A) -> Result<Self::Value, A::Error> {
        let capacity = sequence.size_hint().unwrap_or(0).min(PREALLOCATION_LEN_MAX);
        let mut entries: Vec<(String, Value)> = Vec::with_capacity(capacity);
        while let Some((key, value)) = sequence.next_element_seed(EntrySeed(self.0))? {
            if let Some((key_previous, _)) = entries.last() {
                key_check(key_previous, &key).map_err(de::Error::custom)?;
            }
            entries.push((key, value));
        }
        Ok(entries)
    }
}

/// Decodes one (key, value) pair, which serde encodes as a 2-tuple.
struct EntrySeed(ValueSeed);

impl<'de> DeserializeSeed<'de> for EntrySeed {
    type Value = (String, Value);

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_tuple(2, self)
    }
}

impl<'de> Visitor<'de> for EntrySeed {
    type Value = (String, Value);

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a (key, value) pair")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut sequence: A) -> Result<Self::Value, A::Error> {
        let key: String = sequence
            .next_element()?
            .ok_or_else(|| de::Error::invalid_length(0, &self))?;
        let value = sequence
            .next_element_seed(self.0)?
            .ok_or_else(|| de::Error::invalid_length(1, &self))?;
        Ok((key, value))
    }
}

impl TryFrom<&serde_json::Value> for Value {
    type Error = ValueError;

    /// Converts parsed JSON, sorting object keys; fails on integers above `i64::MAX` and on
    /// nesting deeper than [`VALUE_DEPTH_MAX`].
    fn try_from(json: &serde_json::Value) -> Result<Self, ValueError> {
        from_json(json, VALUE_DEPTH_MAX)
    }
}

/// Recursion stops as soon as `depth_remaining` runs out, so it is bounded by the limit.
fn from_json(json: &serde_json::Value, depth_remaining: usize) -> Result<Value, ValueError> {
    if depth_remaining == 0 {
        return Err(ValueError::TooDeep {
            depth_max: VALUE_DEPTH_MAX,
        });
    }
    Ok(match json {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(boolean) => Value::Bool(*boolean),
        serde_json::Value::Number(number) => {
            if let Some(integer) = number.as_i64() {
                Value::Int(integer)
            } else if number.is_u64() {
                return Err(ValueError::IntegerOutOfRange);
            } else {
                // Without serde_json's `arbitrary_precision` every other number is an f64;
                // with it, a number too large for one is out of range for us too.
                let float = number.as_f64().ok_or(ValueError::IntegerOutOfRange)?;
                float_check(float)?;
                Value::Float(float)
            }
        }
        serde_json::Value::String(text) => Value::String(text.clone()),
        serde_json::Value::Array(values) => Value::Array(
            values
                .iter()
                .map(|child| from_json(child, depth_remaining - 1))
                .collect::<Result<_, _>>()?,
        ),
        serde_json::Value::Object(map) => {
            let mut entries = map
                .iter()
                .map(|(key, child)| Ok((key.clone(), from_json(child, depth_remaining - 1)?)))
                .collect::<Result<Vec<_>, ValueError>>()?;
            // serde_json's map is sorted unless some crate in the build turns on
            // `preserve_order`; sorting here keeps us correct either way. Keys are unique.
            entries.sort_by(|(left, _), (right, _)| left.cmp(right));
            Value::Object(entries)
        }
    })
}

impl From<&Value> for serde_json::Value {
    /// Converts to JSON. A non-finite float, which [`Value::validate`] rejects, becomes `null`,
    /// and of duplicate object keys the last wins.
    fn from(value: &Value) -> Self {
        match value {
            Value::Null => serde_json::Value::Null,
            Value::Bool(boolean) => serde_json::Value::Bool(*boolean),
            Value::Int(integer) => serde_json::Value::Number((*integer).into()),
            Value::Float(float) => serde_json::Number::from_f64(*float)
                .map_or(serde_json::Value::Null, serde_json::Value::Number),
            Value::String(text) => serde_json::Value::String(text.clone()),
            Value::Array(values) => {
                serde_json::Value::Array(values.iter().map(serde_json::Value::from).collect())
            }
            Value::Object(entries) => serde_json::Value::Object(
                entries
                    .iter()
                    .map(|(key, child)| (key.clone(), serde_json::Value::from(child)))
                    .collect(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string(text: &str) -> Value {
        Value::String(text.to_owned())
    }

    fn object(entries: &[(&str, Value)]) -> Value {
        Value::Object(
            entries
                .iter()
                .map(|(key, value)| ((*key).to_owned(), value.clone()))
                .collect(),
        )
    }

    /// Nests `Null` inside `depth - 1` single-element arrays, so the result has depth `depth`.
    fn nested(depth: usize) -> Value {
        (1..depth).fold(Value::Null, |inner, _| Value::Array(vec![inner]))
    }

    fn decode(bytes: &[u8]) -> Result<Value, postcard::Error> {
        postcard::from_bytes(bytes)
    }

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
    fn depth_limit_is_inclusive_when_validating_and_decoding() {
        // Guards against the validator and the decoder disagreeing about the deepest value.
        let deepest = nested(VALUE_DEPTH_MAX);
        deepest.validate().unwrap();
        let bytes = postcard::to_allocvec(&deepest).unwrap();
        assert_eq!(decode(&bytes).unwrap(), deepest);

        let too_deep = nested(VALUE_DEPTH_MAX + 1);
        assert_eq!(
            too_deep.validate(),
            Err(ValueError::TooDeep {
                depth_max: VALUE_DEPTH_MAX
            })
        );
        let bytes = postcard::to_allocvec(&too_deep).unwrap();
        assert!(decode(&bytes).is_err());

        // An empty container at the limit is still fine: it adds no level below itself.
        let empty_at_limit =
            (1..VALUE_DEPTH_MAX).fold(Value::Array(vec![]), |inner, _| Value::Array(vec![inner]));
        assert_eq!(empty_at_limit.depth(), VALUE_DEPTH_MAX);
        empty_at_limit.validate().unwrap();
    }

    #[test]
    fn hostile_nesting_fails_without_overflowing_the_stack() {
        // Guards against a 100 KB run of nested arrays recursing until the stack overflows.
        let mut bytes = [5u8, 1].repeat(50_000);
        bytes.push(0);
        assert!(decode(&bytes).is_err());
        // Objects nest the same way: `{"": {"": ...}}`.
        let bytes = [6u8, 1, 0].repeat(35_000);
        assert!(decode(&bytes).is_err());
    }

    #[test]
    fn lying_length_prefix_does_not_allocate() {
        // Guards against a length prefix of 2^62 elements reserving memory before any arrive.
        let mut bytes = vec![5u8];
        bytes.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f]);
        assert!(decode(&bytes).is_err());
        bytes[0] = 6;
        assert!(decode(&bytes).is_err());
    }

    #[test]
    fn non_canonical_encodings_are_rejected() {
        // Guards against two encodings of one value, which would give one event two ids.
        // Keys out of order: {"b": null, "a": null}.
        assert!(decode(&[6, 2, 1, b'b', 0, 1, b'a', 0]).is_err());
        // Duplicate keys: {"a": null, "a": null}.
        assert!(decode(&[6, 2, 1, b'a', 0, 1, b'a', 0]).is_err());
        // Bool byte 2.
        assert!(decode(&[1, 2]).is_err());
        // NaN and infinity.
        let mut nan = vec![3u8];
        nan.extend_from_slice(&f64::NAN.to_le_bytes());
        assert!(decode(&nan).is_err());
        let mut infinity = vec![3u8];
        infinity.extend_from_slice(&f64::NEG_INFINITY.to_le_bytes());
        assert!(decode(&infinity).is_err());
        // Unknown variant index.
        assert!(decode(&[7]).is_err());
        // Invalid UTF-8.
        assert!(decode(&[4, 1, 0xff]).is_err());
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

    #[test]
    fn json_converts_both_ways() {
        // Guards against JSON numbers landing in the wrong variant or keys staying unsorted.
        let json: serde_json::Value = serde_json::from_str(
            r#"{"z": 1, "a": [true, null, -7, 2.5, "x"], "m": {"k": 9223372036854775807}}"#,
        )
        .unwrap();
        let value = Value::try_from(&json).unwrap();
        assert_eq!(
            value,
            object(&[
                (
                    "a",
                    Value::Array(vec![
                        Value::Bool(true),
                        Value::Null,
                        Value::Int(-7),
                        Value::Float(2.5),
                        string("x"),
                    ])
                ),
                ("m", object(&[("k", Value::Int(i64::MAX))])),
                ("z", Value::Int(1)),
            ])
        );
        value.validate().unwrap();
        assert_eq!(serde_json::Value::from(&value), json);
    }

    #[test]
    fn json_conversion_rejects_what_cannot_be_canonical() {
        // Guards against silently rounding huge integers or accepting over-deep JSON.
        let huge: serde_json::Value = serde_json::from_str("9223372036854775808").unwrap();
        assert_eq!(Value::try_from(&huge), Err(ValueError::IntegerOutOfRange));
        let deep = (0..VALUE_DEPTH_MAX).fold(serde_json::Value::Null, |inner, _| {
            serde_json::Value::Array(vec![inner])
        });
        assert_eq!(
            Value::try_from(&deep),
            Err(ValueError::TooDeep {
                depth_max: VALUE_DEPTH_MAX
            })
        );
    }
}
