//! Between the JSON people type and the protocol's canonical [`Value`], and from a JSON object
//! of dot-separated paths to a [`Patch`].

use tideline_protocol::event::{FieldPath, Patch};
use tideline_protocol::value::Value;

use crate::ClientError;

/// The key under which documents carry their id when the client prints them. Documents may not
/// use it themselves, so that what `get` prints can be told apart from what was stored.
pub const ID_KEY: &str = "_id";

/// Parses a JSON argument; `what` names it in the error ("document", "patch").
pub fn parse(what: &'static str, text: &str) -> Result<serde_json::Value, ClientError> {
    serde_json::from_str(text).map_err(|source| ClientError::Json { what, source })
}

/// The canonical value of a JSON value (the protocol's conversion: keys sorted by bytes,
/// integers that fit in an `i64` as integers, other numbers as floats, depth bounded).
pub fn from_json(json: &serde_json::Value) -> Result<Value, ClientError> {
    Value::try_from(json).map_err(|error| ClientError::InvalidInput(error.to_string()))
}

/// The JSON of a canonical value.
pub fn to_json(value: &Value) -> serde_json::Value {
    serde_json::Value::from(value)
}

/// A whole document: a JSON object without the reserved [`ID_KEY`].
pub fn document_from_json(json: &serde_json::Value) -> Result<Value, ClientError> {
    let serde_json::Value::Object(fields) = json else {
        return Err(ClientError::InvalidInput(
            "a document must be a JSON object, like '{\"title\": \"Tides\"}'".to_owned(),
        ));
    };
    if fields.contains_key(ID_KEY) {
        return Err(ClientError::InvalidInput(format!(
            "a document may not have the key `{ID_KEY}`: the client adds it when it prints the \
             document; remove it"
        )));
    }
    from_json(json)
}

/// A patch from a JSON object whose keys are dot-separated field paths and whose values are
/// the new field values, `null` removing the field: `{"address.city": "Paris", "note": null}`.
///
/// A key that itself contains a '.' cannot be addressed this way: every '.' separates two
/// segments.
pub fn patch_from_json(json: &serde_json::Value) -> Result<Patch, ClientError> {
    let serde_json::Value::Object(fields) = json else {
        return Err(ClientError::InvalidInput(
            "a patch must be a JSON object of dot-separated paths to values, like \
             '{\"address.city\": \"Paris\", \"note\": null}'"
                .to_owned(),
        ));
    };
    if fields.is_empty() {
        return Err(ClientError::InvalidInput(
            "the patch is empty; give at least one field to change".to_owned(),
        ));
    }
    let mut entries = Vec::with_capacity(fields.len());
    for (key, value) in fields {
        let segments: Vec<String> = key.split('.').map(str::to_owned).collect();
        if segments.iter().any(String::is_empty) {
            return Err(ClientError::InvalidInput(format!(
                "patch key `{key}` has an empty segment; write paths like `address.city`"
            )));
        }
        if segments[0] == ID_KEY {
            return Err(ClientError::InvalidInput(format!(
                "patch key `{key}` changes `{ID_KEY}`, which is the document's id, not a field"
            )));
        }
        let value = match value {
            serde_json::Value::Null => None,
            value => Some(from_json(value)?),
        };
        entries.push((FieldPath(segments), value));
    }
    entries.sort_by(|(left, _), (right, _)| left.cmp(right));
    // After sorting, a path inside another comes right after it (or after paths inside it).
    for pair in entries.windows(2) {
        if pair[0].0.is_proper_prefix_of(&pair[1].0) {
            return Err(ClientError::InvalidInput(format!(
                "patch keys `{}` and `{}` overlap: one field lies inside the other; set the \
                 outer field to the whole new value instead",
                pair[0].0 .0.join("."),
                pair[1].0 .0.join(".")
            )));
        }
    }
    Ok(Patch(entries))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_in_canonical_order() {
        // Guards against a document whose keys are stored out of order, which would give its
        // event a non-canonical encoding.
        let json: serde_json::Value =
            serde_json::from_str(r#"{"b": [1, 2.5, "x", null], "a": {"d": true, "c": -3}}"#)
                .unwrap();
        let value = from_json(&json).unwrap();
        value.validate().unwrap();
        assert_eq!(to_json(&value), json);
    }

    #[test]
    fn out_of_range_integers_are_refused() {
        // Guards against silently storing 2^64 - 1 as a lossy float.
        let json: serde_json::Value = serde_json::from_str("18446744073709551615").unwrap();
        assert_eq!(from_json(&json).unwrap_err().code(), "invalid_input");
    }

    #[test]
    fn patches_split_paths_and_refuse_overlaps() {
        // Guards against a patch whose meaning depends on the order of its keys.
        let json = parse("patch", r#"{"b": null, "a.c": 1, "a.b": "x"}"#).unwrap();
        let patch = patch_from_json(&json).unwrap();
        let paths: Vec<String> = patch.0.iter().map(|(path, _)| path.0.join(".")).collect();
        assert_eq!(paths, ["a.b", "a.c", "b"]);
        assert_eq!(patch.0[2].1, None);

        for bad in [
            r#"{"a": 1, "a.b": 2}"#,
            r#"{}"#,
            r#"{"a..b": 1}"#,
            r#"{"_id": 1}"#,
            r#"[1]"#,
        ] {
            let json = parse("patch", bad).unwrap();
            assert_eq!(patch_from_json(&json).unwrap_err().code(), "invalid_input");
        }
        assert_eq!(parse("patch", "{").unwrap_err().code(), "invalid_json");
    }

    #[test]
    fn documents_must_be_objects_without_the_id_key() {
        // Guards against storing a document that `get` could not print unambiguously.
        for bad in [r#"[1]"#, r#""text""#, r#"{"_id": "x"}"#] {
            let json = parse("document", bad).unwrap();
            assert_eq!(
                document_from_json(&json).unwrap_err().code(),
                "invalid_input"
            );
        }
    }
}
