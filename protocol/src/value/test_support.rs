//! Builders the value tests share.

use super::Value;

pub(super) fn string(text: &str) -> Value {
    Value::String(text.to_owned())
}

pub(super) fn object(entries: &[(&str, Value)]) -> Value {
    Value::Object(
        entries
            .iter()
            .map(|(key, value)| ((*key).to_owned(), value.clone()))
            .collect(),
    )
}

/// Nests `Null` inside `depth - 1` single-element arrays, so the result has depth `depth`.
pub(super) fn nested(depth: usize) -> Value {
    (1..depth).fold(Value::Null, |inner, _| Value::Array(vec![inner]))
}

pub(super) fn decode(bytes: &[u8]) -> Result<Value, postcard::Error> {
    postcard::from_bytes(bytes)
}
