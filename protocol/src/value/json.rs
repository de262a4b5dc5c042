//! JSON conversion: parsed JSON into a canonical [`Value`] (keys sorted, depth and integer
//! range checked) and back.

use super::{float_check, Value, ValueError};
use crate::limits::VALUE_DEPTH_MAX;

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
    use super::super::test_support::{object, string};
    use super::*;

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
