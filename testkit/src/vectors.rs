//! Reading and writing the JSON test vectors of `spec/vectors/`, shared by the protocol's vector
//! tests (`protocol/tests/vectors/`, `protocol/tests/merge_vectors/`).
//!
//! A vector test either blesses its file (`TIDELINE_BLESS=1`: writes it from a generator) or
//! checks the code against it; [`bless_or_check`] does both the same way. The readers panic
//! with a message that names the missing or malformed field, since a vector file is test input.

use std::path::PathBuf;

use serde_json::{Map, Value as Json};
use tideline_protocol::event::VerifiedEvent;
use tideline_protocol::tree::Path;

/// The folder of the vector files, `spec/vectors/`.
pub fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../spec/vectors")
}

/// Whether this run rewrites the vector files (`TIDELINE_BLESS=1`).
pub fn blessing() -> bool {
    std::env::var("TIDELINE_BLESS").is_ok_and(|value| value == "1")
}

/// Pretty JSON with sorted keys and a final newline: how every vector file is written.
pub fn render(document: &Json) -> String {
    let mut text = serde_json::to_string_pretty(&sorted(document)).expect("JSON values serialize");
    text.push('\n');
    text
}

/// Writes `file` from `generate` when blessing, then reads it back and runs `check` on it.
/// `test` names the test target that blesses the file, for the message when it is missing.
pub fn bless_or_check(
    file: &str,
    test: &str,
    generate: impl FnOnce() -> Json,
    check: impl FnOnce(&Json),
) {
    let path = vectors_dir().join(file);
    if blessing() {
        std::fs::write(&path, render(&generate()))
            .unwrap_or_else(|error| panic!("cannot write {}: {error}", path.display()));
    }
    let text = std::fs::read_to_string(&path).unwrap_or_else(|error| {
        panic!(
            "cannot read {}: {error}; regenerate it with \
             TIDELINE_BLESS=1 cargo test -p tideline-protocol --test {test}",
            path.display()
        )
    });
    let document: Json = serde_json::from_str(&text)
        .unwrap_or_else(|error| panic!("{} is not JSON: {error}", path.display()));
    check(&document);
}

/// The same JSON with every object's keys in byte order, whatever map serde_json was built with
/// (its `preserve_order` feature would otherwise keep insertion order).
pub fn sorted(value: &Json) -> Json {
    match value {
        Json::Array(values) => Json::Array(values.iter().map(sorted).collect()),
        Json::Object(map) => {
            let mut entries: Vec<(&String, &Json)> = map.iter().collect();
            entries.sort_by_key(|(key, _)| *key);
            Json::Object(
                entries
                    .into_iter()
                    .map(|(key, child)| (key.clone(), sorted(child)))
                    .collect::<Map<String, Json>>(),
            )
        }
        other => other.clone(),
    }
}

/// Compares JSON as text, so that `-0.0` and `0.0`, or `1` and `1.0`, are different.
pub fn assert_same_json(actual: &Json, expected: &Json, context: &str) {
    let actual = render(actual);
    let expected = render(expected);
    if actual == expected {
        return;
    }
    // Show the neighbourhood of the first line that differs, not two whole documents.
    let actual: Vec<&str> = actual.lines().collect();
    let expected: Vec<&str> = expected.lines().collect();
    let first = (0..actual.len().max(expected.len()))
        .find(|&line| actual.get(line) != expected.get(line))
        .expect("the texts differ somewhere");
    let around = |lines: &[&str]| {
        let start = first.saturating_sub(6).min(lines.len());
        let end = (first + 4).min(lines.len());
        lines[start..end].join("\n")
    };
    panic!(
        "{context}: JSON differs at line {}\n--- computed ---\n{}\n--- vector ---\n{}",
        first + 1,
        around(&actual),
        around(&expected)
    );
}

/// The field `name` of an object; panics naming it if it is missing.
pub fn field<'a>(value: &'a Json, name: &str) -> &'a Json {
    value
        .get(name)
        .unwrap_or_else(|| panic!("vector lacks field `{name}`: {value}"))
}

/// The string field `name`.
pub fn text<'a>(value: &'a Json, name: &str) -> &'a str {
    field(value, name)
        .as_str()
        .unwrap_or_else(|| panic!("field `{name}` is not a string: {value}"))
}

/// The unsigned integer field `name`.
pub fn number(value: &Json, name: &str) -> u64 {
    field(value, name)
        .as_u64()
        .unwrap_or_else(|| panic!("field `{name}` is not an unsigned integer: {value}"))
}

/// The array field `name`.
pub fn list<'a>(value: &'a Json, name: &str) -> &'a [Json] {
    field(value, name)
        .as_array()
        .unwrap_or_else(|| panic!("field `{name}` is not an array: {value}"))
}

/// The bytes a lowercase hex string holds.
pub fn bytes_of(value: &Json) -> Vec<u8> {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("not a hex string: {value}"));
    assert_eq!(
        text,
        text.to_ascii_lowercase(),
        "vectors write hex in lowercase"
    );
    hex::decode(text).unwrap_or_else(|error| panic!("`{text}` is not hex: {error}"))
}

/// The bytes the lowercase hex field `name` holds.
pub fn bytes(value: &Json, name: &str) -> Vec<u8> {
    bytes_of(field(value, name))
}

/// Exactly `N` bytes from a lowercase hex string.
pub fn fixed_of<const N: usize>(value: &Json) -> [u8; N] {
    let bytes = bytes_of(value);
    bytes
        .as_slice()
        .try_into()
        .unwrap_or_else(|_| panic!("expected {N} bytes, found {}: {value}", bytes.len()))
}

/// Exactly `N` bytes from the lowercase hex field `name`.
pub fn fixed<const N: usize>(value: &Json, name: &str) -> [u8; N] {
    fixed_of(field(value, name))
}

/// Byte strings as a JSON array of lowercase hex strings.
pub fn hex_list(values: impl IntoIterator<Item = impl AsRef<[u8]>>) -> Json {
    Json::Array(
        values
            .into_iter()
            .map(|bytes| Json::String(hex::encode(bytes)))
            .collect(),
    )
}

/// A path as one lowercase hex digit per nibble; the root is the empty string.
pub fn path_text(path: &Path) -> String {
    path.nibbles()
        .iter()
        .map(|nibble| char::from_digit(u32::from(*nibble), 16).expect("a nibble"))
        .collect()
}

/// The inverse of [`path_text`].
pub fn path_parse(text: &str) -> Path {
    let nibbles = text
        .chars()
        .map(|digit| {
            let nibble = digit
                .to_digit(16)
                .unwrap_or_else(|| panic!("`{text}` is not a path of hex nibbles"));
            assert!(!digit.is_ascii_uppercase(), "paths are lowercase: `{text}`");
            nibble as u8
        })
        .collect();
    Path::from_nibbles(nibbles).unwrap_or_else(|| panic!("`{text}` is too long for a path"))
}

/// The events that hex strings hold, decoded and verified; `context` names them in a panic.
pub fn decode_events(values: &[Json], context: &str) -> Vec<VerifiedEvent> {
    values
        .iter()
        .enumerate()
        .map(|(index, value)| {
            VerifiedEvent::decode(&bytes_of(value))
                .unwrap_or_else(|error| panic!("{context}: event {index} does not decode: {error}"))
        })
        .collect()
}

/// Whether `error`'s Debug text names the variant `variant` (and not merely starts like it).
pub fn debug_names_variant(error: &impl std::fmt::Debug, variant: &str) -> bool {
    let debug = format!("{error:?}");
    debug.strip_prefix(variant).is_some_and(|rest| {
        rest.chars()
            .next()
            .is_none_or(|next| !next.is_alphanumeric() && next != '_')
    })
}
