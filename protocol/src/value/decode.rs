//! The canonical decoder: postcard's encoding of [`Value`], read with a depth budget that
//! every container passes on less one, so hostile input can neither recurse past
//! [`VALUE_DEPTH_MAX`] nor make the decoder reserve memory for elements that never arrive.

use std::fmt;

use serde::de::{self, DeserializeSeed, EnumAccess, SeqAccess, VariantAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::{float_check, key_check, Value, ValueError};
use crate::limits::VALUE_DEPTH_MAX;

/// Most slots a decoder reserves up front for an array or object, whatever its length prefix
/// says: a hostile prefix could claim billions of elements, while real ones arrive as bytes.
const PREALLOCATION_LEN_MAX: usize = 1024;

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

#[cfg(test)]
mod tests {
    use super::super::test_support::{decode, nested};
    use super::*;

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
}
