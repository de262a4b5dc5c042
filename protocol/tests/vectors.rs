//! The protocol's test vectors, `spec/vectors/*.json`: one generator per file that builds it from
//! code, and one test per file that checks the code against it.
//!
//! `TIDELINE_BLESS=1 cargo test -p tideline-protocol --test vectors` rewrites the files from the
//! generators. Without it, each test reads its file, recomputes every output from the inputs the
//! file holds (decoding its bytes rather than rerunning the generator), and compares. Blessing
//! checks the freshly written file the same way, so it never writes vectors the code fails.
//!
//! Everything a generator uses is a function of fixed seeds, so blessing twice writes the same
//! bytes. See `spec/vectors/README.md` for the fields of each file.

use std::collections::VecDeque;
use std::path::PathBuf;

use serde_json::{json, Map, Value as Json};
use tideline_protocol::event::{
    DocId, Event, EventId, FieldPath, Hlc, Op, Patch, ReplicaId, VerifiedEvent,
};
use tideline_protocol::limits::{
    BASE_LEN_MAX, EVENTS_PER_FRAME_MAX, EVENT_BYTES_MAX, FRAME_BYTES_BUDGET, FRAME_BYTES_MAX,
    ITEMS_PER_FRAME_MAX, PATH_SEGMENTS_MAX, SHORT_IDS_PER_ITEM_MAX, VALUE_DEPTH_MAX, WALL_MS_LIMIT,
};
use tideline_protocol::store::MemoryStore;
use tideline_protocol::sync::{reconcile, Config};
use tideline_protocol::tree::{
    branch_digest, children_bitmap, digest_of, insert, leaf_digest, Digest, Key, Path, Tree, View,
    KEY_BYTES, LEAF_EVENTS_MAX, RADIX,
};
use tideline_protocol::value::Value;
use tideline_protocol::wire::{
    decode_frame, encode_frame, fingerprint, range_children, range_digest, short_id, ErrorBody,
    ErrorCode, Fingerprint, Frame, Groups, Item, Request, Response, Salt, ShortId,
    PROTOCOL_VERSION,
};
use tideline_testkit::generate::{create_event, Rng};

/// Around September 2026: where the generated logs start.
const START_MS: u64 = 1_790_000_000_000;
const DAY_MS: u64 = 24 * 3600 * 1000;
const WEEK_MS: u64 = 7 * DAY_MS;
const YEAR_MS: u64 = 365 * DAY_MS;

// ---------------------------------------------------------------------------------------------
// Files: blessing and reading.
// ---------------------------------------------------------------------------------------------

fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../spec/vectors")
}

fn blessing() -> bool {
    std::env::var("TIDELINE_BLESS").is_ok_and(|value| value == "1")
}

/// Writes `file` from `generate` when blessing, then reads it back and runs `check` on it.
fn bless_or_check(file: &str, generate: fn() -> Json, check: fn(&Json)) {
    let path = vectors_dir().join(file);
    if blessing() {
        let mut text =
            serde_json::to_string_pretty(&sorted(&generate())).expect("JSON values serialize");
        text.push('\n');
        std::fs::write(&path, text)
            .unwrap_or_else(|error| panic!("cannot write {}: {error}", path.display()));
    }
    let text = std::fs::read_to_string(&path).unwrap_or_else(|error| {
        panic!(
            "cannot read {}: {error}; regenerate the vectors with \
             TIDELINE_BLESS=1 cargo test -p tideline-protocol --test vectors",
            path.display()
        )
    });
    let document: Json = serde_json::from_str(&text)
        .unwrap_or_else(|error| panic!("{} is not JSON: {error}", path.display()));
    check(&document);
}

/// The same JSON with every object's keys in byte order, whatever map serde_json was built with
/// (its `preserve_order` feature would otherwise keep insertion order).
fn sorted(value: &Json) -> Json {
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
fn assert_same_json(actual: &Json, expected: &Json, context: &str) {
    let actual = serde_json::to_string_pretty(&sorted(actual)).expect("serializes");
    let expected = serde_json::to_string_pretty(&sorted(expected)).expect("serializes");
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

// Reading fields of a vector, with messages that name what is missing.

fn field<'a>(value: &'a Json, name: &str) -> &'a Json {
    value
        .get(name)
        .unwrap_or_else(|| panic!("vector lacks field `{name}`: {value}"))
}

fn text<'a>(value: &'a Json, name: &str) -> &'a str {
    field(value, name)
        .as_str()
        .unwrap_or_else(|| panic!("field `{name}` is not a string: {value}"))
}

fn number(value: &Json, name: &str) -> u64 {
    field(value, name)
        .as_u64()
        .unwrap_or_else(|| panic!("field `{name}` is not an unsigned integer: {value}"))
}

fn list<'a>(value: &'a Json, name: &str) -> &'a [Json] {
    field(value, name)
        .as_array()
        .unwrap_or_else(|| panic!("field `{name}` is not an array: {value}"))
}

fn bytes_of(value: &Json) -> Vec<u8> {
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

fn bytes(value: &Json, name: &str) -> Vec<u8> {
    bytes_of(field(value, name))
}

fn fixed_of<const N: usize>(value: &Json) -> [u8; N] {
    let bytes = bytes_of(value);
    bytes
        .as_slice()
        .try_into()
        .unwrap_or_else(|_| panic!("expected {N} bytes, found {}: {value}", bytes.len()))
}

fn fixed<const N: usize>(value: &Json, name: &str) -> [u8; N] {
    fixed_of(field(value, name))
}

fn hex_list(values: impl IntoIterator<Item = impl AsRef<[u8]>>) -> Json {
    Json::Array(
        values
            .into_iter()
            .map(|bytes| Json::String(hex::encode(bytes)))
            .collect(),
    )
}

/// A path as one lowercase hex digit per nibble; the root is the empty string.
fn path_text(path: &Path) -> String {
    path.nibbles()
        .iter()
        .map(|nibble| char::from_digit(u32::from(*nibble), 16).expect("a nibble"))
        .collect()
}

fn path_parse(text: &str) -> Path {
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

fn decode_events(values: &[Json], context: &str) -> Vec<VerifiedEvent> {
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
fn debug_names_variant(error: &impl std::fmt::Debug, variant: &str) -> bool {
    let debug = format!("{error:?}");
    debug.strip_prefix(variant).is_some_and(|rest| {
        rest.chars()
            .next()
            .is_none_or(|next| !next.is_alphanumeric() && next != '_')
    })
}

// ---------------------------------------------------------------------------------------------
// events.json
// ---------------------------------------------------------------------------------------------

/// The event as readable JSON; see the README for the shape.
fn render_event(event: &Event) -> Json {
    json!({
        "group": event.group,
        "collection": event.collection,
        "target": event.target.to_string(),
        "timestamp": {
            "wall_ms": event.timestamp.wall_ms,
            "counter": event.timestamp.counter,
        },
        "creator": event.creator,
        "origin": event.origin.to_string(),
        "base": event.base.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "op": render_op(&event.op),
    })
}

fn render_op(op: &Op) -> Json {
    match op {
        Op::Create(document) => json!({ "create": Json::from(document) }),
        Op::Update(Patch(entries)) => {
            let entries: Vec<Json> = entries
                .iter()
                .map(|(path, value)| match value {
                    Some(value) => json!({ "path": path.0, "set": Json::from(value) }),
                    None => json!({ "path": path.0, "remove": true }),
                })
                .collect();
            json!({ "update": entries })
        }
        Op::Remove => json!("remove"),
    }
}

/// The inverse of [`render_event`]: what an implementation in another language would build.
fn parse_event(json: &Json) -> Event {
    let timestamp = field(json, "timestamp");
    Event {
        group: text(json, "group").to_owned(),
        collection: text(json, "collection").to_owned(),
        target: DocId::from_hex(text(json, "target")).expect("target is a document id"),
        timestamp: Hlc {
            wall_ms: number(timestamp, "wall_ms"),
            counter: u32::try_from(number(timestamp, "counter")).expect("counter fits in u32"),
        },
        creator: text(json, "creator").to_owned(),
        origin: ReplicaId::from_hex(text(json, "origin")).expect("origin is a replica id"),
        base: list(json, "base")
            .iter()
            .map(|id| EventId(fixed_of(id)))
            .collect(),
        op: parse_op(field(json, "op")),
    }
}

fn parse_op(json: &Json) -> Op {
    if json == "remove" {
        return Op::Remove;
    }
    if let Some(document) = json.get("create") {
        return Op::Create(Value::try_from(document).expect("the document is canonical"));
    }
    let entries = json
        .get("update")
        .and_then(Json::as_array)
        .unwrap_or_else(|| panic!("op is not \"remove\", create or update: {json}"));
    Op::Update(Patch(
        entries
            .iter()
            .map(|entry| {
                let path = FieldPath(
                    list(entry, "path")
                        .iter()
                        .map(|segment| segment.as_str().expect("segments are strings").to_owned())
                        .collect(),
                );
                let value = match (entry.get("set"), entry.get("remove")) {
                    (Some(value), None) => {
                        Some(Value::try_from(value).expect("the value is canonical"))
                    }
                    (None, Some(Json::Bool(true))) => None,
                    _ => panic!("a patch entry has either `set` or `\"remove\": true`: {entry}"),
                };
                (path, value)
            })
            .collect(),
    ))
}

/// A document or value from JSON; keys are sorted on the way.
fn value(json: Json) -> Value {
    Value::try_from(&json).expect("a valid value")
}

/// An object with its entries in exactly the given order, for non-canonical documents.
fn object_as_given(entries: Vec<(&str, Value)>) -> Value {
    Value::Object(
        entries
            .into_iter()
            .map(|(key, value)| (key.to_owned(), value))
            .collect(),
    )
}

/// `Null` inside `depth - 1` single-element arrays: a value of depth `depth`.
fn nested(depth: usize) -> Value {
    (1..depth).fold(Value::Null, |inner, _| Value::Array(vec![inner]))
}

fn field_path(segments: &[&str]) -> FieldPath {
    FieldPath(
        segments
            .iter()
            .map(|segment| (*segment).to_owned())
            .collect(),
    )
}

/// Distinct event ids for bases, ascending.
fn base_ids(label: &str, count: usize) -> Vec<EventId> {
    let mut ids: Vec<EventId> = (0..count)
        .map(|index| EventId(*blake3::hash(format!("{label} {index}").as_bytes()).as_bytes()))
        .collect();
    ids.sort();
    ids
}

/// A valid event in a realistic shape, to vary one field or the op of.
fn sample_event(rng: &mut Rng, op: Op) -> Event {
    let wall_ms = START_MS + rng.below(DAY_MS);
    Event {
        group: "team:acme".to_owned(),
        collection: "notes".to_owned(),
        target: DocId::new(wall_ms - rng.below(DAY_MS), rng.bytes()),
        timestamp: Hlc {
            wall_ms,
            counter: rng.below(3) as u32,
        },
        creator: "user-42".to_owned(),
        origin: ReplicaId(rng.bytes()),
        base: Vec::new(),
        op,
    }
}

fn valid_event_vector(name: &str, event: Event) -> Json {
    let sealed = event
        .seal()
        .unwrap_or_else(|error| panic!("valid event vector {name}: {error}"));
    json!({
        "name": name,
        "event": render_event(&sealed.event),
        "encoding": hex::encode(&sealed.bytes),
        "id": sealed.id.to_string(),
    })
}

fn invalid_event_vector(name: &str, encoding: &[u8], error: &str) -> Json {
    json!({ "name": name, "encoding": hex::encode(encoding), "error": error })
}

/// Replaces the byte at `index` of `bytes`, which must be `old`: a vector built by damaging a
/// valid encoding says exactly which byte it damaged.
fn patched(mut bytes: Vec<u8>, index: usize, old: u8, new: u8) -> Vec<u8> {
    assert_eq!(bytes[index], old, "the byte to patch is where expected");
    bytes[index] = new;
    bytes
}

fn generate_events() -> Json {
    let mut rng = Rng::new(0xE7E7);
    let rng = &mut rng;
    let mut valid = Vec::new();

    valid.push(valid_event_vector(
        "create_null_and_bools",
        sample_event(
            rng,
            Op::Create(value(json!({ "f": false, "n": null, "t": true }))),
        ),
    ));
    valid.push(valid_event_vector(
        "create_integers",
        sample_event(
            rng,
            Op::Create(value(json!({
                "zero": 0,
                "one": 1,
                "minus_one": -1,
                "byte_boundary": 64,
                "minus_byte_boundary": -65,
                "above_f64_precision": 9_007_199_254_740_993_i64,
                "max": i64::MAX,
                "min": i64::MIN,
            }))),
        ),
    ));
    valid.push(valid_event_vector(
        "create_floats",
        sample_event(
            rng,
            Op::Create(value(json!({
                "half": 0.5,
                "two": 2.0,
                "negative": -2.25,
                "negative_zero": -0.0,
                "zero": 0.0,
                "huge": 1e300,
                "tiny": 1e-300,
                "pi": std::f64::consts::PI,
            }))),
        ),
    ));
    valid.push(valid_event_vector(
        "create_strings_and_keys_in_byte_order",
        sample_event(
            rng,
            Op::Create(value(json!({
                "": "empty key",
                "Z": "uppercase sorts before lowercase",
                "a": "",
                "ascii": "tideline",
                "accented": "é",
                "cjk": "潮汐",
                "emoji": "🌊",
                "controls": "nul\u{0}tab\tnewline\n",
                "escapes": "quote\" backslash\\",
                "é": "a key beyond ASCII sorts after every ASCII key",
            }))),
        ),
    ));
    valid.push(valid_event_vector(
        "create_nested",
        sample_event(
            rng,
            Op::Create(value(json!({
                "empty_array": [],
                "empty_object": {},
                "list": [1, "two", 3.5, null, true, [[]], { "k": "v" }],
                "object": { "inner": { "b": [false], "a": { "deeper": -7 } } },
            }))),
        ),
    ));
    valid.push(valid_event_vector(
        "create_depth_32",
        sample_event(
            rng,
            Op::Create(object_as_given(vec![("a", nested(VALUE_DEPTH_MAX - 1))])),
        ),
    ));
    valid.push(valid_event_vector(
        "update_set_remove_nested_and_dotted",
        sample_event(
            rng,
            Op::Update(Patch(vec![
                (
                    field_path(&["address", "city"]),
                    Some(value(json!("Brest"))),
                ),
                (field_path(&["address", "zip"]), None),
                (
                    field_path(&["k.with.dots"]),
                    Some(value(json!({ "nested": [1, 2] }))),
                ),
                (field_path(&["set_to_null"]), Some(Value::Null)),
                (field_path(&["title"]), None),
            ])),
        ),
    ));
    let deep_path: Vec<String> = (0..PATH_SEGMENTS_MAX)
        .map(|index| format!("s{index:02}"))
        .collect();
    valid.push(valid_event_vector(
        "update_longest_path_with_deepest_value",
        sample_event(
            rng,
            Op::Update(Patch(vec![(
                FieldPath(deep_path),
                Some(nested(VALUE_DEPTH_MAX - PATH_SEGMENTS_MAX)),
            )])),
        ),
    ));
    valid.push(valid_event_vector(
        "remove_with_base",
        Event {
            base: base_ids("remove base", 3),
            ..sample_event(rng, Op::Remove)
        },
    ));
    valid.push(valid_event_vector(
        "update_with_longest_base",
        Event {
            base: base_ids("longest base", BASE_LEN_MAX),
            ..sample_event(
                rng,
                Op::Update(Patch(vec![(
                    field_path(&["done"]),
                    Some(Value::Bool(true)),
                )])),
            )
        },
    ));
    let mut extremes = sample_event(rng, Op::Remove);
    extremes.timestamp = Hlc {
        wall_ms: WALL_MS_LIMIT - 1,
        counter: u32::MAX,
    };
    valid.push(valid_event_vector(
        "timestamp_largest_wall_ms_and_counter",
        extremes,
    ));
    let mut epoch = sample_event(rng, Op::Create(value(json!({}))));
    epoch.timestamp = Hlc::default();
    valid.push(valid_event_vector("timestamp_zero_empty_document", epoch));
    let mut names = sample_event(rng, Op::Remove);
    names.group = "A-z_0.9:".to_owned() + &"g".repeat(56);
    names.collection = "c".to_owned();
    names.creator = "!~".to_owned() + &"u".repeat(126);
    valid.push(valid_event_vector("names_longest_and_every_class", names));
    let generated = create_event(rng, "g000", START_MS, "alice", 12);
    valid.push(valid_event_vector("sim_create_event", generated.event));

    // Each invalid vector is a valid event with one rule broken, encoded by the same encoder
    // (which does not validate), or a valid encoding with one byte damaged.
    let create = |rng: &mut Rng, entries: Vec<(&str, Value)>| {
        sample_event(rng, Op::Create(object_as_given(entries))).encode()
    };
    let update = |rng: &mut Rng, entries: Vec<(FieldPath, Option<Value>)>| {
        sample_event(rng, Op::Update(Patch(entries))).encode()
    };
    let remove_with = |rng: &mut Rng, change: &dyn Fn(&mut Event)| {
        let mut event = sample_event(rng, Op::Remove);
        change(&mut event);
        event.encode()
    };
    /// The last byte of `bytes`, which must be `old`, replaced by `new`.
    fn last_patched(bytes: Vec<u8>, old: u8, new: u8) -> Vec<u8> {
        let last = bytes.len() - 1;
        patched(bytes, last, old, new)
    }

    let remove = sample_event(rng, Op::Remove).encode();
    // The group's length, 9, as the two-byte varint 0x89 0x00.
    let mut overlong = vec![0x80 | remove[0], 0x00];
    overlong.extend_from_slice(&remove[1..]);
    let mut trailing = remove.clone();
    trailing.push(0);
    let mut unsorted_base = base_ids("unsorted base", 2);
    unsorted_base.reverse();
    let repeated_base = vec![base_ids("repeated base", 1)[0]; 2];

    let invalid: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "object_keys_unsorted",
            create(rng, vec![("b", Value::Null), ("a", Value::Null)]),
            "Malformed",
        ),
        (
            "object_keys_duplicate",
            create(rng, vec![("a", Value::Null), ("a", Value::Null)]),
            "Malformed",
        ),
        (
            "float_nan",
            create(rng, vec![("a", Value::Float(f64::NAN))]),
            "Malformed",
        ),
        (
            "float_infinite",
            create(rng, vec![("a", Value::Float(f64::INFINITY))]),
            "Malformed",
        ),
        ("varint_overlong", overlong, "NotCanonical"),
        ("trailing_byte", trailing, "TrailingBytes"),
        (
            "truncated",
            remove[..remove.len() / 2].to_vec(),
            "Malformed",
        ),
        ("empty_input", Vec::new(), "Malformed"),
        // The op comes last, so these encodings end in the byte that is damaged.
        (
            "bool_byte_two",
            last_patched(create(rng, vec![("a", Value::Bool(true))]), 1, 2),
            "Malformed",
        ),
        (
            "value_variant_unknown",
            last_patched(create(rng, vec![("a", Value::Null)]), 0, 7),
            "Malformed",
        ),
        (
            "string_invalid_utf8",
            last_patched(create(rng, vec![("a", value(json!("x")))]), b'x', 0xFF),
            "Malformed",
        ),
        (
            "op_variant_unknown",
            last_patched(remove.clone(), 2, 3),
            "Malformed",
        ),
        (
            "option_byte_two",
            last_patched(update(rng, vec![(field_path(&["x"]), None)]), 0, 2),
            "Malformed",
        ),
        (
            "value_depth_33",
            create(rng, vec![("a", nested(VALUE_DEPTH_MAX))]),
            "Malformed",
        ),
        (
            "create_not_object",
            sample_event(rng, Op::Create(Value::Array(vec![]))).encode(),
            "CreateNotObject",
        ),
        (
            "base_not_ascending",
            remove_with(rng, &|event| event.base = unsorted_base.clone()),
            "BaseNotAscending",
        ),
        (
            "base_repeated",
            remove_with(rng, &|event| event.base = repeated_base.clone()),
            "BaseNotAscending",
        ),
        (
            "base_65_ids",
            remove_with(rng, &|event| {
                event.base = base_ids("long base", BASE_LEN_MAX + 1);
            }),
            "BaseTooLong",
        ),
        (
            "patch_not_ascending",
            update(
                rng,
                vec![
                    (field_path(&["b"]), Some(Value::Null)),
                    (field_path(&["a"]), Some(Value::Null)),
                ],
            ),
            "PatchNotAscending",
        ),
        (
            "patch_path_inside_another",
            update(
                rng,
                vec![
                    (field_path(&["a"]), None),
                    (field_path(&["a", "b"]), Some(Value::Null)),
                ],
            ),
            "PatchPathOverlaps",
        ),
        ("patch_empty", update(rng, vec![]), "PatchEmpty"),
        (
            "patch_path_segment_empty",
            update(rng, vec![(field_path(&[""]), None)]),
            "PatchPathInvalid",
        ),
        (
            "patch_value_deeper_than_its_path_allows",
            update(
                rng,
                vec![(field_path(&["a", "b"]), Some(nested(VALUE_DEPTH_MAX - 1)))],
            ),
            "PatchValueTooDeep",
        ),
        (
            "group_bad_characters",
            remove_with(rng, &|event| event.group = "team acme".to_owned()),
            "GroupInvalid",
        ),
        (
            "group_empty",
            remove_with(rng, &|event| event.group = String::new()),
            "GroupInvalid",
        ),
        (
            "collection_bad_characters",
            remove_with(rng, &|event| event.collection = "notes/2026".to_owned()),
            "CollectionInvalid",
        ),
        (
            "creator_with_space",
            remove_with(rng, &|event| event.creator = "user 42".to_owned()),
            "CreatorInvalid",
        ),
        (
            "wall_ms_at_limit",
            remove_with(rng, &|event| event.timestamp.wall_ms = WALL_MS_LIMIT),
            "TimestampOutOfRange",
        ),
    ];
    let invalid: Vec<Json> = invalid
        .iter()
        .map(|(name, encoding, error)| invalid_event_vector(name, encoding, error))
        .collect();

    json!({
        "valid": valid,
        "invalid": invalid,
        "invalid_rules": [{
            "name": "too_large",
            "rule": "EVENT_BYTES_MAX + 1 zero bytes",
            "error": "TooLarge",
        }],
    })
}

fn check_events(document: &Json) {
    for vector in list(document, "valid") {
        let name = text(vector, "name");
        let encoding = bytes(vector, "encoding");
        let decoded = VerifiedEvent::decode(&encoding)
            .unwrap_or_else(|error| panic!("valid event {name} does not decode: {error}"));
        assert_eq!(decoded.bytes, encoding, "{name}: bytes kept as given");
        assert_eq!(
            decoded.event.encode(),
            encoding,
            "{name}: re-encoding gives the same bytes"
        );
        let id = EventId(fixed(vector, "id"));
        assert_eq!(decoded.id, id, "{name}: id");
        assert_eq!(
            decoded.id.0,
            *blake3::hash(&encoding).as_bytes(),
            "{name}: the id is the BLAKE3 hash of the encoding"
        );
        assert_eq!(decoded.event.id(), id, "{name}: Event::id agrees");
        assert_same_json(
            &render_event(&decoded.event),
            field(vector, "event"),
            &format!("{name}: the decoded event"),
        );
        // The other direction: from the readable event to the bytes.
        let sealed = parse_event(field(vector, "event"))
            .seal()
            .unwrap_or_else(|error| panic!("{name}: the readable event is invalid: {error}"));
        assert_eq!(
            hex::encode(&sealed.bytes),
            text(vector, "encoding"),
            "{name}: encoding the readable event"
        );
    }
    for vector in list(document, "invalid") {
        let name = text(vector, "name");
        let error = text(vector, "error");
        match VerifiedEvent::decode(&bytes(vector, "encoding")) {
            Ok(event) => panic!("invalid event {name} decodes: {event:?}"),
            Err(actual) => assert!(
                debug_names_variant(&actual, error),
                "invalid event {name}: expected {error}, got {actual:?}"
            ),
        }
    }
    for vector in list(document, "invalid_rules") {
        let name = text(vector, "name");
        let error = text(vector, "error");
        let input = match text(vector, "rule") {
            "EVENT_BYTES_MAX + 1 zero bytes" => vec![0u8; EVENT_BYTES_MAX + 1],
            rule => panic!("invalid event {name}: unknown rule `{rule}`"),
        };
        let actual = VerifiedEvent::decode(&input).expect_err(name);
        assert!(
            debug_names_variant(&actual, error),
            "invalid event {name}: expected {error}, got {actual:?}"
        );
    }
}

#[test]
fn events_vectors() {
    // Guards against the event encoding, the id, or the decoder's canonical rules changing
    // without the vectors (and so every other implementation) changing with them.
    bless_or_check("events.json", generate_events, check_events);
}

// ---------------------------------------------------------------------------------------------
// trees.json
// ---------------------------------------------------------------------------------------------

fn kind_of(view: &View) -> &'static str {
    match view {
        View::Empty => "empty",
        View::Small(_) => "small",
        View::Branch { .. } => "branch",
    }
}

fn prefix_entry(prefix: &Path, view: &View) -> Json {
    let mut entry = json!({
        "prefix": path_text(prefix),
        "kind": kind_of(view),
        "count": view.count(),
        "digest": view.digest().to_string(),
    });
    if let View::Branch { lcp, .. } = view {
        entry["lcp"] = json!(path_text(lcp));
    }
    entry
}

/// How many leading nibbles two keys share.
fn common_nibbles(left: &Key, right: &Key) -> usize {
    (0..KEY_BYTES * 2)
        .find(|&index| left.nibble(index) != right.nibble(index))
        .unwrap_or(KEY_BYTES * 2)
}

/// Every prefix the walk would ask about, plus a few it would not: inside a branch's lcp, off
/// it, an empty child, and a strict part of a leaf.
fn prefixes_of(store: &MemoryStore, group: &str) -> Vec<Json> {
    let tree = Tree::new(store);
    let mut entries = Vec::new();
    let mut pending = VecDeque::from([Path::root()]);
    let view_of = |prefix: &Path| tree.view(group, prefix).expect("memory stores do not fail");
    while let Some(prefix) = pending.pop_front() {
        let view = view_of(&prefix);
        entries.push(prefix_entry(&prefix, &view));
        match &view {
            View::Empty => {}
            View::Small(keys) => {
                if keys.len() >= 2 {
                    let shared = common_nibbles(&keys[0], &keys[keys.len() - 1]);
                    let part = Path::of_key(&keys[0], shared + 1);
                    entries.push(prefix_entry(&part, &view_of(&part)));
                }
            }
            View::Branch { lcp, children, .. } => {
                if lcp.len() > prefix.len() {
                    let inside = lcp.truncated(prefix.len() + 1);
                    entries.push(prefix_entry(&inside, &view_of(&inside)));
                    let off = lcp
                        .truncated(prefix.len())
                        .child((lcp.nibbles()[prefix.len()] + 1) % RADIX as u8);
                    entries.push(prefix_entry(&off, &view_of(&off)));
                }
                let mut empty_child_listed = false;
                for nibble in 0..RADIX as u8 {
                    let child = lcp.child(nibble);
                    if children[usize::from(nibble)].is_some() {
                        pending.push_back(child);
                    } else if !empty_child_listed {
                        entries.push(prefix_entry(&child, &view_of(&child)));
                        empty_child_listed = true;
                    }
                }
            }
        }
    }
    entries
}

fn tree_vector(name: &str, description: &str, group: &str, events: &[VerifiedEvent]) -> Json {
    let mut store = MemoryStore::new();
    insert(&mut store, events).expect("memory stores do not fail");
    let mut keys: Vec<Key> = events.iter().map(Key::of).collect();
    keys.sort();
    let root = Tree::new(&store)
        .root(group)
        .expect("memory stores do not fail");
    assert_eq!(
        root,
        digest_of(&keys),
        "{name}: stored root is the definition"
    );
    json!({
        "name": name,
        "description": description,
        "group": group,
        "events": hex_list(events.iter().map(|event| &event.bytes)),
        "keys": hex_list(keys.iter().map(|key| key.0)),
        "root": root.to_string(),
        "prefixes": prefixes_of(&store, group),
    })
}

fn tree_events(
    seed: u64,
    count: usize,
    group: &str,
    wall_ms: impl Fn(&mut Rng) -> u64,
) -> Vec<VerifiedEvent> {
    let mut rng = Rng::new(seed);
    (0..count)
        .map(|_| {
            let wall_ms = wall_ms(&mut rng);
            create_event(&mut rng, group, wall_ms, "alice", 4)
        })
        .collect()
}

fn generate_trees() -> Json {
    let group = "team:acme";
    let hour = |rng: &mut Rng| START_MS + rng.below(3_600_000);
    json!({
        "vectors": [
            tree_vector(
                "empty",
                "No events: the root is the digest of the empty leaf.",
                group,
                &[],
            ),
            tree_vector(
                "single_event",
                "One event: a leaf of one id.",
                group,
                &tree_events(1, 1, group, hour),
            ),
            tree_vector(
                "leaf_16",
                "Exactly LEAF_EVENTS_MAX events: still one leaf, whatever their span.",
                group,
                &tree_events(2, LEAF_EVENTS_MAX, group, hour),
            ),
            tree_vector(
                "branch_17",
                "One more than a leaf holds: the root becomes a branch at the keys' longest \
                 common prefix.",
                group,
                &tree_events(3, LEAF_EVENTS_MAX + 1, group, hour),
            ),
            tree_vector(
                "burst_300_in_one_ms",
                "300 events in one millisecond: keys share the wall clock and split on counter \
                 and id.",
                group,
                &tree_events(4, 300, group, |_| START_MS + 123),
            ),
            tree_vector(
                "spread_over_five_years",
                "150 events over five years: the tree splits early in the wall clock.",
                group,
                &tree_events(5, 150, group, |rng| START_MS - 5 * YEAR_MS + rng.below(5 * YEAR_MS)),
            ),
        ],
    })
}

fn check_trees(document: &Json) {
    for vector in list(document, "vectors") {
        let name = text(vector, "name");
        let group = text(vector, "group");
        let events = decode_events(list(vector, "events"), name);
        let keys: Vec<Key> = list(vector, "keys")
            .iter()
            .map(|key| Key(fixed_of(key)))
            .collect();
        let mut computed: Vec<Key> = events.iter().map(Key::of).collect();
        computed.sort();
        assert_eq!(computed, keys, "{name}: keys of the events, ascending");
        for event in &events {
            assert_eq!(event.event.group, group, "{name}: events are in the group");
        }
        let root = text(vector, "root");
        assert_eq!(
            digest_of(&keys).to_string(),
            root,
            "{name}: digest of the key set from scratch"
        );

        // The stored tree must not depend on how the events arrived: all at once, or one at a
        // time in reverse.
        let mut at_once = MemoryStore::new();
        insert(&mut at_once, &events).expect("memory stores do not fail");
        let mut one_by_one = MemoryStore::new();
        for event in events.iter().rev() {
            insert(&mut one_by_one, std::slice::from_ref(event))
                .expect("memory stores do not fail");
        }
        for store in [&at_once, &one_by_one] {
            let tree = Tree::new(store);
            assert_eq!(
                tree.root(group)
                    .expect("memory stores do not fail")
                    .to_string(),
                root,
                "{name}: stored root"
            );
            for entry in list(vector, "prefixes") {
                check_prefix(name, group, &tree, &keys, entry);
            }
        }
    }
}

fn check_prefix(name: &str, group: &str, tree: &Tree<'_, MemoryStore>, keys: &[Key], entry: &Json) {
    let prefix = path_parse(text(entry, "prefix"));
    let context = format!("{name}, prefix `{}`", text(entry, "prefix"));
    let kind = text(entry, "kind");
    let count = number(entry, "count");
    let digest = text(entry, "digest");

    // From the definition: the keys under the prefix, their digest and common prefix.
    let under: Vec<Key> = keys
        .iter()
        .filter(|key| prefix.contains(key))
        .copied()
        .collect();
    assert_eq!(under.len() as u64, count, "{context}: count from the keys");
    assert_eq!(
        digest_of(&under).to_string(),
        digest,
        "{context}: digest from the keys"
    );
    let kind_expected = match under.len() {
        0 => "empty",
        len if len <= LEAF_EVENTS_MAX => "small",
        _ => "branch",
    };
    assert_eq!(kind, kind_expected, "{context}: kind from the count");

    // From the stored tree.
    let view = tree
        .view(group, &prefix)
        .expect("memory stores do not fail");
    assert_eq!(kind_of(&view), kind, "{context}: view kind");
    assert_eq!(view.count(), count, "{context}: view count");
    assert_eq!(view.digest().to_string(), digest, "{context}: view digest");
    match view {
        View::Empty => assert!(
            entry.get("lcp").is_none(),
            "{context}: only branches have an lcp"
        ),
        View::Small(small) => {
            assert_eq!(small, under, "{context}: a small view lists the keys");
            assert!(
                entry.get("lcp").is_none(),
                "{context}: only branches have an lcp"
            );
        }
        View::Branch {
            lcp,
            children,
            digest: branch,
            ..
        } => {
            let shared = common_nibbles(&under[0], &under[under.len() - 1]);
            assert_eq!(
                path_text(&lcp),
                path_text(&Path::of_key(&under[0], shared)),
                "{context}: lcp from the keys"
            );
            assert_eq!(path_text(&lcp), text(entry, "lcp"), "{context}: view lcp");
            assert_eq!(
                branch,
                branch_digest(&children),
                "{context}: branch digest of children"
            );
        }
    }
}

#[test]
fn trees_vectors() {
    // Guards against the tree's shape or digests drifting from the definition the vectors pin,
    // for any insertion order.
    bless_or_check("trees.json", generate_trees, check_trees);
}

// ---------------------------------------------------------------------------------------------
// fingerprints.json
// ---------------------------------------------------------------------------------------------

fn generate_fingerprints() -> Json {
    let mut rng = Rng::new(0xF1F1);
    let salts = [Salt([0; 16]), Salt([0xFF; 16]), Salt(rng.bytes())];
    let digests = [Digest([0; 32]), leaf_digest([]), Digest(rng.bytes())];
    let mut fingerprints = Vec::new();
    for salt in &salts {
        for digest in &digests {
            fingerprints.push(json!({
                "salt": hex::encode(salt.0),
                "digest": digest.to_string(),
                "fingerprint": hex::encode(fingerprint(salt, digest).0),
            }));
        }
    }
    let event = create_event(&mut rng, "g000", START_MS, "alice", 4);
    let ids = [EventId([0; 32]), event.id];
    let mut short_ids = Vec::new();
    for salt in &salts {
        for id in &ids {
            short_ids.push(json!({
                "salt": hex::encode(salt.0),
                "id": id.to_string(),
                "short_id": hex::encode(short_id(salt, id).0),
            }));
        }
    }
    let group_lists: [&[&str]; 5] = [
        &[],
        &["g000"],
        &["team:acme", "personal:alice", "team:acme"],
        &["b", "a.b", "B", "a", "a-b"],
        &["g003", "g002", "g001", "g000"],
    ];
    let salt = salts[2];
    let groups: Vec<Json> = group_lists
        .iter()
        .map(|names| {
            let groups = Groups::new(names.iter().copied()).expect("few groups");
            json!({
                "names": names,
                "sorted": groups.names(),
                "digest": groups.digest().to_string(),
                "salt": hex::encode(salt.0),
                "fingerprint": hex::encode(fingerprint(&salt, &groups.digest()).0),
            })
        })
        .collect();
    let roots: Vec<Digest> = (0..3).map(|_| Digest(rng.bytes())).collect();
    let range_digests: Vec<Json> = [&[][..], &[leaf_digest([])][..], &roots[..1], &roots[..]]
        .iter()
        .map(|roots| {
            json!({
                "roots": roots.iter().map(ToString::to_string).collect::<Vec<_>>(),
                "digest": range_digest(roots).to_string(),
            })
        })
        .collect();
    let range_children: Vec<Json> = [
        (0, 2),
        (0, 16),
        (0, 17),
        (0, 100),
        (0, 257),
        (3, 4),
        (5, 22),
    ]
    .iter()
    .map(|&(start, end)| {
        json!({
            "start": start,
            "end": end,
            "children": range_children(start, end),
        })
    })
    .collect();
    let leaf_ids: Vec<EventId> = (0..LEAF_EVENTS_MAX).map(|_| EventId(rng.bytes())).collect();
    let leaf_digests: Vec<Json> = [0, 1, 2, LEAF_EVENTS_MAX]
        .iter()
        .map(|&len| {
            json!({
                "ids": leaf_ids[..len].iter().map(ToString::to_string).collect::<Vec<_>>(),
                "digest": leaf_digest(&leaf_ids[..len]).to_string(),
            })
        })
        .collect();
    let mut two_children = [None; RADIX];
    two_children[0] = Some(Digest(rng.bytes()));
    two_children[15] = Some(Digest(rng.bytes()));
    let every_child: [Option<Digest>; RADIX] = std::array::from_fn(|_| Some(Digest(rng.bytes())));
    let mut some_children = [None; RADIX];
    for nibble in [1, 4, 9, 10] {
        some_children[nibble] = Some(Digest(rng.bytes()));
    }
    let branch_digests: Vec<Json> = [two_children, some_children, every_child]
        .iter()
        .map(|children| {
            let listed: Vec<Option<String>> = children
                .iter()
                .map(|child| child.map(|digest| digest.to_string()))
                .collect();
            json!({
                "children": listed,
                "bitmap": children_bitmap(children),
                "digest": branch_digest(children).to_string(),
            })
        })
        .collect();
    json!({
        "fingerprints": fingerprints,
        "short_ids": short_ids,
        "groups": groups,
        "range_digests": range_digests,
        "range_children": range_children,
        "leaf_digests": leaf_digests,
        "branch_digests": branch_digests,
    })
}

fn check_fingerprints(document: &Json) {
    for vector in list(document, "fingerprints") {
        let salt = Salt(fixed(vector, "salt"));
        let digest = Digest(fixed(vector, "digest"));
        assert_eq!(
            hex::encode(fingerprint(&salt, &digest).0),
            text(vector, "fingerprint"),
            "fingerprint of {vector}"
        );
    }
    for vector in list(document, "short_ids") {
        let salt = Salt(fixed(vector, "salt"));
        let id = EventId(fixed(vector, "id"));
        assert_eq!(
            hex::encode(short_id(&salt, &id).0),
            text(vector, "short_id"),
            "short id of {vector}"
        );
    }
    for vector in list(document, "groups") {
        let names: Vec<&str> = list(vector, "names")
            .iter()
            .map(|name| name.as_str().expect("group names are strings"))
            .collect();
        let groups = Groups::new(names).expect("few groups");
        assert_same_json(
            &json!(groups.names()),
            field(vector, "sorted"),
            "groups sorted by bytes, without duplicates",
        );
        assert_eq!(
            groups.digest().to_string(),
            text(vector, "digest"),
            "groups digest of {vector}"
        );
        let salt = Salt(fixed(vector, "salt"));
        assert_eq!(
            hex::encode(fingerprint(&salt, &groups.digest()).0),
            text(vector, "fingerprint"),
            "groups fingerprint of {vector}"
        );
    }
    for vector in list(document, "range_digests") {
        let roots: Vec<Digest> = list(vector, "roots")
            .iter()
            .map(|root| Digest(fixed_of(root)))
            .collect();
        assert_eq!(
            range_digest(&roots).to_string(),
            text(vector, "digest"),
            "range digest of {vector}"
        );
    }
    for vector in list(document, "range_children") {
        let start = u32::try_from(number(vector, "start")).expect("a group index");
        let end = u32::try_from(number(vector, "end")).expect("a group index");
        let children = range_children(start, end);
        assert_same_json(
            &json!(children),
            field(vector, "children"),
            "range children",
        );
        // The sub-ranges tile [start, end) in order, at most RADIX of them.
        assert!(children.len() <= RADIX);
        assert_eq!(children[0].0, start);
        assert_eq!(children[children.len() - 1].1, end);
        assert!(children.windows(2).all(|pair| pair[0].1 == pair[1].0));
    }
    for vector in list(document, "leaf_digests") {
        let ids: Vec<EventId> = list(vector, "ids")
            .iter()
            .map(|id| EventId(fixed_of(id)))
            .collect();
        assert_eq!(
            leaf_digest(&ids).to_string(),
            text(vector, "digest"),
            "leaf digest of {vector}"
        );
    }
    for vector in list(document, "branch_digests") {
        let listed = list(vector, "children");
        assert_eq!(listed.len(), RADIX, "a branch lists RADIX children");
        let children: [Option<Digest>; RADIX] = std::array::from_fn(|nibble| {
            (!listed[nibble].is_null()).then(|| Digest(fixed_of(&listed[nibble])))
        });
        assert_eq!(
            u64::from(children_bitmap(&children)),
            number(vector, "bitmap"),
            "bitmap of {vector}"
        );
        assert_eq!(
            branch_digest(&children).to_string(),
            text(vector, "digest"),
            "branch digest of {vector}"
        );
    }
}

#[test]
fn fingerprints_vectors() {
    // Guards against the salted fingerprints, short ids, group digest, range digests or range
    // split changing, any of which makes two versions disagree on every comparison.
    bless_or_check(
        "fingerprints.json",
        generate_fingerprints,
        check_fingerprints,
    );
}

// ---------------------------------------------------------------------------------------------
// transcripts.json
// ---------------------------------------------------------------------------------------------

fn group_name(index: usize) -> String {
    format!("g{index:03}")
}

/// `count` small events spread over `groups`, at times drawn by `wall_ms`.
fn log(
    rng: &mut Rng,
    groups: &[String],
    count: usize,
    wall_ms: impl Fn(&mut Rng) -> u64,
) -> Vec<VerifiedEvent> {
    (0..count)
        .map(|_| {
            let group = &groups[rng.below(groups.len() as u64) as usize];
            let wall_ms = wall_ms(rng);
            let payload_bytes = rng.below(8) as usize;
            create_event(rng, group, wall_ms, "alice", payload_bytes)
        })
        .collect()
}

fn week(rng: &mut Rng) -> u64 {
    START_MS + rng.below(WEEK_MS)
}

fn newest_percent(rng: &mut Rng) -> u64 {
    START_MS + WEEK_MS - rng.below(WEEK_MS / 100)
}

/// What one transcript vector starts from.
struct Session {
    name: &'static str,
    description: &'static str,
    groups: Vec<String>,
    seed: u64,
    frame_bytes_budget: usize,
    initiator: Vec<VerifiedEvent>,
    responder: Vec<VerifiedEvent>,
}

fn session(
    name: &'static str,
    description: &'static str,
    groups_len: usize,
    seed: u64,
    build: impl FnOnce(&mut Rng, &[String]) -> (Vec<VerifiedEvent>, Vec<VerifiedEvent>),
) -> Session {
    let groups: Vec<String> = (0..groups_len).map(group_name).collect();
    let mut rng = Rng::new(seed);
    let (initiator, responder) = build(&mut rng, &groups);
    Session {
        name,
        description,
        groups,
        seed,
        frame_bytes_budget: FRAME_BYTES_BUDGET,
        initiator,
        responder,
    }
}

fn joined(parts: &[&[VerifiedEvent]]) -> Vec<VerifiedEvent> {
    parts.concat()
}

fn store_of(events: &[VerifiedEvent]) -> MemoryStore {
    let mut store = MemoryStore::new();
    insert(&mut store, events).expect("memory stores do not fail");
    store
}

fn transcript_vector(session: &Session) -> Json {
    let groups = Groups::new(session.groups.iter().cloned()).expect("few groups");
    let salt = Salt(Rng::new(session.seed ^ 0x5A17).bytes());
    let mut initiator = store_of(&session.initiator);
    let mut responder = store_of(&session.responder);
    let config = Config {
        frame_bytes_budget: session.frame_bytes_budget,
    };
    let transcript = reconcile(&mut initiator, &mut responder, &groups, salt, config)
        .unwrap_or_else(|error| panic!("{}: reconcile failed: {error}", session.name));
    let frames: Vec<Json> = transcript
        .frames
        .iter()
        .enumerate()
        .map(|(index, bytes)| {
            json!({
                "from": if index % 2 == 0 { "initiator" } else { "responder" },
                "hex": hex::encode(bytes),
            })
        })
        .collect();
    let roots_after: Map<String, Json> = groups
        .names()
        .iter()
        .map(|group| {
            let root = Tree::new(&initiator)
                .root(group)
                .expect("memory stores do not fail");
            (group.clone(), json!(root.to_string()))
        })
        .collect();
    json!({
        "name": session.name,
        "description": session.description,
        "groups": session.groups,
        "salt": hex::encode(salt.0),
        "frame_bytes_budget": session.frame_bytes_budget,
        "initiator_events": hex_list(session.initiator.iter().map(|event| &event.bytes)),
        "responder_events": hex_list(session.responder.iter().map(|event| &event.bytes)),
        "frames": frames,
        "rounds": transcript.rounds,
        "events_to_responder": transcript.events_to_responder,
        "events_to_initiator": transcript.events_to_initiator,
        "roots_after": roots_after,
    })
}

fn generate_transcripts() -> Json {
    let mut sessions = vec![
        session(
            "no_groups",
            "A session over no groups has nothing to say: no frames at all.",
            0,
            10,
            |_, _| (Vec::new(), Vec::new()),
        ),
        session(
            "identical",
            "Both sides hold the same 50 events: the opening Root fingerprint matches and the \
             session ends after one round trip.",
            1,
            11,
            |rng, groups| {
                let common = log(rng, groups, 50, week);
                (common.clone(), common)
            },
        ),
        session(
            "one_missing_at_initiator",
            "The responder holds one event more than the initiator.",
            1,
            12,
            |rng, groups| {
                let common = log(rng, groups, 50, week);
                let extra = log(rng, groups, 1, week);
                (common.clone(), joined(&[&common, &extra]))
            },
        ),
        session(
            "scattered_differences",
            "200 common events, 20 only at the initiator and 20 only at the responder, all \
             spread over one week.",
            1,
            13,
            |rng, groups| {
                let common = log(rng, groups, 200, week);
                let only_initiator = log(rng, groups, 20, week);
                let only_responder = log(rng, groups, 20, week);
                (
                    joined(&[&common, &only_initiator]),
                    joined(&[&common, &only_responder]),
                )
            },
        ),
        session(
            "newest_percent_differs",
            "200 common events over a week; 10 on each side only, all in the newest 1% of it: \
             a client back from a short time offline.",
            1,
            14,
            |rng, groups| {
                let common = log(rng, groups, 200, week);
                let only_initiator = log(rng, groups, 10, newest_percent);
                let only_responder = log(rng, groups, 10, newest_percent);
                (
                    joined(&[&common, &only_initiator]),
                    joined(&[&common, &only_responder]),
                )
            },
        ),
        session(
            "three_groups_one_differs",
            "Three groups of common events; only g001 differs, by 3 events on each side, so \
             the walk leaves g000 and g002 at the Range item.",
            3,
            15,
            |rng, groups| {
                let common = log(rng, groups, 90, week);
                let differing = &groups[1..2];
                let only_initiator = log(rng, differing, 3, week);
                let only_responder = log(rng, differing, 3, week);
                (
                    joined(&[&common, &only_initiator]),
                    joined(&[&common, &only_responder]),
                )
            },
        ),
        session(
            "burst_in_one_ms_at_initiator",
            "40 common events over a week, and 100 events in one millisecond only at the \
             initiator, which pushes them.",
            1,
            17,
            |rng, groups| {
                let common = log(rng, groups, 40, week);
                let burst = log(rng, groups, 100, |_| START_MS + WEEK_MS / 2);
                (joined(&[&common, &burst]), common)
            },
        ),
    ];
    let mut small_budget = session(
        "empty_initiator_small_budget",
        "An empty initiator and a responder with 300 events, with a 2000-byte frame budget: \
         responses stop at the budget with a More item, and requests that carry many items are \
         only partly consumed.",
        1,
        16,
        |rng, groups| (Vec::new(), log(rng, groups, 300, week)),
    );
    small_budget.frame_bytes_budget = 2000;
    sessions.insert(6, small_budget);

    let vectors: Vec<Json> = sessions.iter().map(transcript_vector).collect();
    json!({ "vectors": vectors })
}

fn check_transcripts(document: &Json) {
    for vector in list(document, "vectors") {
        let name = text(vector, "name");
        let names: Vec<&str> = list(vector, "groups")
            .iter()
            .map(|group| group.as_str().expect("group names are strings"))
            .collect();
        let groups = Groups::new(names).expect("few groups");
        assert_eq!(
            groups.len(),
            list(vector, "groups").len(),
            "{name}: groups are distinct"
        );
        let salt = Salt(fixed(vector, "salt"));
        let config = Config {
            frame_bytes_budget: usize::try_from(number(vector, "frame_bytes_budget"))
                .expect("a budget fits in usize"),
        };
        let initiator_events = decode_events(list(vector, "initiator_events"), name);
        let responder_events = decode_events(list(vector, "responder_events"), name);
        let mut initiator = store_of(&initiator_events);
        let mut responder = store_of(&responder_events);
        let transcript = reconcile(&mut initiator, &mut responder, &groups, salt, config)
            .unwrap_or_else(|error| panic!("{name}: reconcile failed: {error}"));

        let frames = list(vector, "frames");
        for (index, (actual, expected)) in transcript.frames.iter().zip(frames).enumerate() {
            let from = if index % 2 == 0 {
                "initiator"
            } else {
                "responder"
            };
            assert_eq!(text(expected, "from"), from, "{name}: frame {index} sender");
            let expected = bytes(expected, "hex");
            let frame = decode_frame(&expected)
                .unwrap_or_else(|error| panic!("{name}: frame {index} does not decode: {error}"));
            match (&frame, from) {
                (Frame::Request(request), "initiator") => {
                    assert_eq!(request.salt, salt, "{name}: frame {index} carries the salt");
                }
                (Frame::Response(_), "responder") => {}
                _ => panic!("{name}: frame {index} from the {from} is {frame:?}"),
            }
            if *actual != expected {
                // Frames the reconcile loop sent decoded already, so this shows where they differ.
                let computed = decode_frame(actual).expect("reconcile decodes what it sends");
                let context = format!("{name}: frame {index}");
                assert_same_json(&render_frame(&computed), &render_frame(&frame), &context);
                panic!("{context}: bytes differ but the frames read the same");
            }
        }
        assert_eq!(
            transcript.frames.len(),
            frames.len(),
            "{name}: number of frames"
        );
        assert_eq!(
            u64::from(transcript.rounds),
            number(vector, "rounds"),
            "{name}: rounds"
        );
        assert_eq!(
            transcript.events_to_responder as u64,
            number(vector, "events_to_responder"),
            "{name}: events sent to the responder"
        );
        assert_eq!(
            transcript.events_to_initiator as u64,
            number(vector, "events_to_initiator"),
            "{name}: events sent to the initiator"
        );
        let roots_after = field(vector, "roots_after")
            .as_object()
            .unwrap_or_else(|| panic!("{name}: roots_after is an object"));
        assert_eq!(
            roots_after.len(),
            groups.len(),
            "{name}: one root per group"
        );
        for group in groups.names() {
            let expected = roots_after
                .get(group)
                .and_then(Json::as_str)
                .unwrap_or_else(|| panic!("{name}: no root for {group}"));
            for (side, store) in [("initiator", &initiator), ("responder", &responder)] {
                let root = Tree::new(store)
                    .root(group)
                    .expect("memory stores do not fail");
                assert_eq!(
                    root.to_string(),
                    expected,
                    "{name}: {side}'s root of {group}"
                );
            }
        }
        // Both sides end with the union of what they started with.
        let union: std::collections::BTreeSet<EventId> = initiator_events
            .iter()
            .chain(&responder_events)
            .map(|event| event.id)
            .collect();
        assert_eq!(
            initiator.events_len(),
            union.len(),
            "{name}: initiator holds the union"
        );
        assert_eq!(
            responder.events_len(),
            union.len(),
            "{name}: responder holds the union"
        );

        if name == "empty_initiator_small_budget" {
            assert_budget_features(name, frames);
        }
    }
}

/// The small-budget transcript exists to show `More` and partial `consumed`; fail if it stops
/// showing them, so the vector keeps covering what its description promises.
fn assert_budget_features(name: &str, frames: &[Json]) {
    let decoded: Vec<Frame> = frames
        .iter()
        .map(|frame| decode_frame(&bytes(frame, "hex")).expect("checked above"))
        .collect();
    let more = decoded.iter().any(|frame| {
        matches!(frame, Frame::Response(response)
            if response.items.iter().any(|item| matches!(item, Item::More { .. })))
    });
    assert!(more, "{name}: some response carries a More item");
    let partial = decoded.chunks(2).any(|pair| match pair {
        [Frame::Request(request), Frame::Response(response)] => {
            (response.consumed as usize) < request.items.len()
        }
        _ => false,
    });
    assert!(
        partial,
        "{name}: some response consumes only part of its request"
    );
}

#[test]
fn transcripts_vectors() {
    // Guards against any change to what the walk sends, byte for byte, and against a walk that
    // ends without both sides holding the union.
    bless_or_check("transcripts.json", generate_transcripts, check_transcripts);
}

// ---------------------------------------------------------------------------------------------
// frames.json
// ---------------------------------------------------------------------------------------------

fn render_frame(frame: &Frame) -> Json {
    match frame {
        Frame::Request(request) => json!({ "request": {
            "salt": hex::encode(request.salt.0),
            "groups": hex::encode(request.groups.0),
            "items": request.items.iter().map(render_item).collect::<Vec<_>>(),
            "events": hex_list(&request.events),
        }}),
        Frame::Response(response) => json!({ "response": {
            "consumed": response.consumed,
            "items": response.items.iter().map(render_item).collect::<Vec<_>>(),
            "events": hex_list(&response.events),
        }}),
        Frame::Error(body) => json!({ "error": {
            "code": body.code.number(),
            "name": body.code.name(),
            "message": body.message,
            "versions": body.versions,
        }}),
    }
}

fn render_item(item: &Item) -> Json {
    let short_ids = |ids: &[ShortId]| hex_list(ids.iter().map(|id| id.0));
    let fingerprints = |fingerprints: &[Fingerprint]| {
        hex_list(fingerprints.iter().map(|fingerprint| fingerprint.0))
    };
    let after = |after: &Option<Key>| after.map(|key| hex::encode(key.0));
    match item {
        Item::Root { fingerprint } => {
            json!({ "root": { "fingerprint": hex::encode(fingerprint.0) } })
        }
        Item::Range {
            start,
            end,
            fingerprints: list,
        } => json!({ "range": {
            "start": start, "end": end, "fingerprints": fingerprints(list),
        }}),
        Item::Split {
            group,
            prefix_len,
            lcp,
            children,
            fingerprints: list,
        } => json!({ "split": {
            "group": group,
            "prefix_len": prefix_len,
            "lcp": path_text(lcp),
            "children": children,
            "fingerprints": fingerprints(list),
        }}),
        Item::Ids { group, prefix, ids } => json!({ "ids": {
            "group": group, "prefix": path_text(prefix), "ids": short_ids(ids),
        }}),
        Item::Want { group, prefix, ids } => json!({ "want": {
            "group": group, "prefix": path_text(prefix), "ids": short_ids(ids),
        }}),
        Item::Need {
            group,
            prefix,
            after: key,
        } => json!({ "need": {
            "group": group, "prefix": path_text(prefix), "after": after(key),
        }}),
        Item::More {
            group,
            prefix,
            after: key,
        } => json!({ "more": {
            "group": group, "prefix": path_text(prefix), "after": after(key),
        }}),
    }
}

/// The one key of a `{"kind": {...}}` object, and its value.
fn tagged(json: &Json) -> (&str, &Json) {
    let map = json
        .as_object()
        .filter(|map| map.len() == 1)
        .unwrap_or_else(|| panic!("expected an object with one key: {json}"));
    let (tag, body) = map.iter().next().expect("one entry");
    (tag.as_str(), body)
}

fn u32_of(json: &Json, name: &str) -> u32 {
    u32::try_from(number(json, name)).unwrap_or_else(|_| panic!("`{name}` fits in u32: {json}"))
}

fn hex_vec(json: &Json, name: &str) -> Vec<Vec<u8>> {
    list(json, name).iter().map(bytes_of).collect()
}

/// The inverse of [`render_frame`].
fn parse_frame(json: &Json) -> Frame {
    let items = |body: &Json| list(body, "items").iter().map(parse_item).collect();
    match tagged(json) {
        ("request", body) => Frame::Request(Request {
            salt: Salt(fixed(body, "salt")),
            groups: Fingerprint(fixed(body, "groups")),
            items: items(body),
            events: hex_vec(body, "events"),
        }),
        ("response", body) => Frame::Response(Response {
            consumed: u32_of(body, "consumed"),
            items: items(body),
            events: hex_vec(body, "events"),
        }),
        ("error", body) => {
            let code = ErrorCode::from_number(
                u16::try_from(number(body, "code")).expect("codes fit in u16"),
            );
            assert_eq!(code.name(), text(body, "name"), "error code name");
            Frame::Error(ErrorBody {
                code,
                message: text(body, "message").to_owned(),
                versions: list(body, "versions")
                    .iter()
                    .map(|version| {
                        u32::try_from(version.as_u64().expect("versions are numbers"))
                            .expect("versions fit in u32")
                    })
                    .collect(),
            })
        }
        (tag, _) => panic!("unknown frame kind `{tag}`"),
    }
}

fn parse_item(json: &Json) -> Item {
    let fingerprints = |body: &Json| {
        list(body, "fingerprints")
            .iter()
            .map(|fingerprint| Fingerprint(fixed_of(fingerprint)))
            .collect()
    };
    let short_ids = |body: &Json| {
        list(body, "ids")
            .iter()
            .map(|id| ShortId(fixed_of(id)))
            .collect()
    };
    let prefix = |body: &Json| path_parse(text(body, "prefix"));
    let after = |body: &Json| {
        let after = field(body, "after");
        (!after.is_null()).then(|| Key(fixed_of(after)))
    };
    match tagged(json) {
        ("root", body) => Item::Root {
            fingerprint: Fingerprint(fixed(body, "fingerprint")),
        },
        ("range", body) => Item::Range {
            start: u32_of(body, "start"),
            end: u32_of(body, "end"),
            fingerprints: fingerprints(body),
        },
        ("split", body) => Item::Split {
            group: u32_of(body, "group"),
            prefix_len: u8::try_from(number(body, "prefix_len")).expect("prefix_len fits in u8"),
            lcp: path_parse(text(body, "lcp")),
            children: u16::try_from(number(body, "children")).expect("children fits in u16"),
            fingerprints: fingerprints(body),
        },
        ("ids", body) => Item::Ids {
            group: u32_of(body, "group"),
            prefix: prefix(body),
            ids: short_ids(body),
        },
        ("want", body) => Item::Want {
            group: u32_of(body, "group"),
            prefix: prefix(body),
            ids: short_ids(body),
        },
        ("need", body) => Item::Need {
            group: u32_of(body, "group"),
            prefix: prefix(body),
            after: after(body),
        },
        ("more", body) => Item::More {
            group: u32_of(body, "group"),
            prefix: prefix(body),
            after: after(body),
        },
        (tag, _) => panic!("unknown item kind `{tag}`"),
    }
}

fn valid_frame_vector(name: &str, frame: &Frame) -> Json {
    json!({ "name": name, "hex": hex::encode(encode_frame(frame)), "frame": render_frame(frame) })
}

fn invalid_frame_vector(name: &str, bytes: &[u8], error: ErrorCode) -> Json {
    json!({ "name": name, "hex": hex::encode(bytes), "error": error.name() })
}

fn request(salt: Salt, items: Vec<Item>, events: Vec<Vec<u8>>) -> Frame {
    Frame::Request(Request {
        salt,
        groups: fingerprint(&salt, &Groups::new(["g000"]).expect("one group").digest()),
        items,
        events,
    })
}

fn generate_frames() -> Json {
    let mut rng = Rng::new(0xF4A3);
    let salt = Salt(rng.bytes());
    let mut fingerprints = |count: usize| -> Vec<Fingerprint> {
        (0..count).map(|_| Fingerprint(rng.bytes())).collect()
    };
    let root_fingerprint = fingerprints(1)[0];
    let range_fingerprints = fingerprints(9);
    let split_fingerprints = fingerprints(3);
    let mut rng = Rng::new(0xF4A4);
    let events: Vec<VerifiedEvent> = (0..2)
        .map(|index| create_event(&mut rng, "g000", START_MS + index, "alice", 6))
        .collect();
    let key = Key::of(&events[0]);
    let short_ids: Vec<ShortId> = events
        .iter()
        .map(|event| short_id(&salt, &event.id))
        .collect();
    let lcp = Path::of_key(&key, 13);
    let prefix = Path::of_key(&key, 14);
    let split = Item::Split {
        group: 0,
        prefix_len: 12,
        lcp: lcp.clone(),
        children: (1 << 2) | (1 << 7) | (1 << 12),
        fingerprints: split_fingerprints.clone(),
    };

    let opening = request(
        salt,
        vec![Item::Root {
            fingerprint: root_fingerprint,
        }],
        vec![],
    );
    let idle = request(salt, vec![], vec![]);
    let every_item = vec![
        Item::Root {
            fingerprint: root_fingerprint,
        },
        Item::Range {
            start: 0,
            end: 17,
            fingerprints: range_fingerprints.clone(),
        },
        split.clone(),
        Item::Ids {
            group: 0,
            prefix: prefix.clone(),
            ids: short_ids.clone(),
        },
        Item::Ids {
            group: 0,
            prefix: Path::root(),
            ids: vec![],
        },
        Item::Want {
            group: 0,
            prefix: prefix.clone(),
            ids: short_ids[..1].to_vec(),
        },
        Item::Need {
            group: 0,
            prefix: Path::root(),
            after: None,
        },
        Item::Need {
            group: 0,
            prefix: prefix.clone(),
            after: Some(key),
        },
        Item::More {
            group: 0,
            prefix: prefix.clone(),
            after: Some(key),
        },
        Item::More {
            group: 0,
            prefix: lcp.child(7),
            after: None,
        },
    ];
    let event_bytes: Vec<Vec<u8>> = events.iter().map(|event| event.bytes.clone()).collect();
    let response = Frame::Response(Response {
        consumed: 3,
        items: every_item.clone(),
        events: event_bytes.clone(),
    });
    let busy_request = request(salt, every_item[1..8].to_vec(), event_bytes[..1].to_vec());
    let error = Frame::Error(ErrorBody {
        code: ErrorCode::UnsupportedVersion,
        message:
            "protocol version 2 is not supported (this side speaks [1]); upgrade the older side"
                .to_owned(),
        versions: vec![PROTOCOL_VERSION],
    });
    let error_unknown = Frame::Error(ErrorBody {
        code: ErrorCode::from_number(999),
        message: "a code from a later version".to_owned(),
        versions: vec![1, 2],
    });
    let valid = vec![
        valid_frame_vector("request_opening_root", &opening),
        valid_frame_vector("request_idle", &idle),
        valid_frame_vector("request_items_and_event", &busy_request),
        valid_frame_vector("response_every_item_kind", &response),
        valid_frame_vector(
            "response_empty",
            &Frame::Response(Response {
                consumed: 1,
                items: vec![],
                events: vec![],
            }),
        ),
        valid_frame_vector("error_unsupported_version", &error),
        valid_frame_vector("error_unknown_code", &error_unknown),
    ];

    // Each invalid vector is a valid frame with one byte damaged, or a frame that breaks one
    // rule, encoded by the same encoder (which does not check them).
    let malformed = ErrorCode::MalformedFrame;
    let with_items = |items: Vec<Item>| encode_frame(&request(salt, items, vec![]));
    let split_item = |prefix_len: u8, lcp: Path, children: u16, fingerprints: &[Fingerprint]| {
        with_items(vec![Item::Split {
            group: 0,
            prefix_len,
            lcp,
            children,
            fingerprints: fingerprints.to_vec(),
        }])
    };
    let range_item = |start: u32, end: u32, fingerprints: &[Fingerprint]| {
        with_items(vec![Item::Range {
            start,
            end,
            fingerprints: fingerprints.to_vec(),
        }])
    };

    // 01 version, 00 Request, 16 salt bytes, 8 groups bytes, 01 item, 00 Root, 8 fingerprint
    // bytes, 00 events.
    let opening_bytes = encode_frame(&opening);
    let root_at = 1 + 1 + 16 + 8 + 1;
    assert_eq!(opening_bytes.len(), root_at + 1 + 8 + 1);
    let mut trailing = opening_bytes.clone();
    trailing.push(0);
    let mut overlong = vec![0x81, 0x00];
    overlong.extend_from_slice(&opening_bytes[1..]);
    // 01 version, 01 Response, 01 consumed, 00 items, 00 events.
    let empty_response = encode_frame(&Frame::Response(Response {
        consumed: 1,
        items: vec![],
        events: vec![],
    }));
    assert_eq!(empty_response, [1, 1, 1, 0, 0]);
    let mut rng = Rng::new(0xF4A5);
    let too_many: Vec<ShortId> = (0..=SHORT_IDS_PER_ITEM_MAX)
        .map(|_| ShortId(rng.bytes()))
        .collect();
    // A Need at prefix "1" ends: 01 nibble, 01 packed byte, 10 packed, 00 after, 00 events.
    let need = with_items(vec![Item::Need {
        group: 0,
        prefix: Path::from_nibbles(vec![1]).expect("a nibble"),
        after: None,
    }]);
    // A path of 89 nibbles, one more than a key has, written by hand since Path refuses it.
    let mut long_path = need[..need.len() - 5].to_vec();
    long_path.extend_from_slice(&[89, 45]);
    long_path.extend_from_slice(&[0; 45]);
    long_path.extend_from_slice(&[0, 0]);
    let three_children = (1 << 2) | (1 << 7) | (1 << 12);

    let invalid: Vec<(&str, Vec<u8>, ErrorCode)> = vec![
        ("empty", Vec::new(), malformed),
        (
            "version_2",
            patched(opening_bytes.clone(), 0, 1, 2),
            ErrorCode::UnsupportedVersion,
        ),
        (
            "version_0",
            patched(opening_bytes.clone(), 0, 1, 0),
            ErrorCode::UnsupportedVersion,
        ),
        (
            "truncated",
            opening_bytes[..opening_bytes.len() - 1].to_vec(),
            malformed,
        ),
        ("trailing_byte", trailing, malformed),
        ("version_varint_overlong", overlong, malformed),
        (
            "consumed_varint_overlong",
            vec![1, 1, 0x81, 0x00, 0, 0],
            malformed,
        ),
        (
            "frame_variant_unknown",
            patched(empty_response, 1, 1, 3),
            malformed,
        ),
        (
            "item_variant_unknown",
            patched(opening_bytes.clone(), root_at, 0, 7),
            malformed,
        ),
        (
            "split_one_child",
            split_item(0, lcp.clone(), 1 << 4, &split_fingerprints[..1]),
            malformed,
        ),
        (
            "split_fingerprint_count_mismatch",
            split_item(0, lcp.clone(), (1 << 4) | (1 << 5), &split_fingerprints),
            malformed,
        ),
        (
            "split_prefix_longer_than_lcp",
            split_item(14, lcp.clone(), three_children, &split_fingerprints),
            malformed,
        ),
        (
            "split_lcp_is_a_whole_key",
            split_item(
                0,
                Path::of_key(&key, KEY_BYTES * 2),
                0b11,
                &split_fingerprints[..2],
            ),
            malformed,
        ),
        (
            "range_of_one_group",
            range_item(3, 4, &range_fingerprints[..1]),
            malformed,
        ),
        (
            "range_fingerprint_count_mismatch",
            range_item(0, 17, &range_fingerprints[..8]),
            malformed,
        ),
        (
            "ids_65_short_ids",
            with_items(vec![Item::Ids {
                group: 0,
                prefix: Path::root(),
                ids: too_many.clone(),
            }]),
            ErrorCode::LimitExceeded,
        ),
        (
            "want_65_short_ids",
            with_items(vec![Item::Want {
                group: 0,
                prefix: Path::root(),
                ids: too_many,
            }]),
            ErrorCode::LimitExceeded,
        ),
        (
            "path_padding_not_zero",
            patched(need.clone(), need.len() - 3, 0x10, 0x1F),
            malformed,
        ),
        (
            "option_tag_two",
            patched(need.clone(), need.len() - 2, 0, 2),
            malformed,
        ),
        ("path_89_nibbles", long_path, malformed),
    ];
    let invalid: Vec<Json> = invalid
        .iter()
        .map(|(name, bytes, error)| invalid_frame_vector(name, bytes, *error))
        .collect();

    json!({
        "valid": valid,
        "invalid": invalid,
        "invalid_rules": [
            {
                "name": "frame_bytes_max_plus_one",
                "rule": "FRAME_BYTES_MAX + 1 zero bytes",
                "error": ErrorCode::FrameTooLarge.name(),
            },
            {
                "name": "items_per_frame_max_plus_one",
                "rule": "a request with ITEMS_PER_FRAME_MAX + 1 Root items",
                "error": ErrorCode::LimitExceeded.name(),
            },
            {
                "name": "events_per_frame_max_plus_one",
                "rule": "a request with EVENTS_PER_FRAME_MAX + 1 empty events",
                "error": ErrorCode::LimitExceeded.name(),
            },
        ],
    })
}

fn check_frames(document: &Json) {
    for vector in list(document, "valid") {
        let name = text(vector, "name");
        let encoded = bytes(vector, "hex");
        let frame = decode_frame(&encoded)
            .unwrap_or_else(|error| panic!("valid frame {name} does not decode: {error}"));
        assert_same_json(&render_frame(&frame), field(vector, "frame"), name);
        assert_eq!(encode_frame(&frame), encoded, "{name}: re-encoding");
        // The other direction: from the readable frame to the bytes.
        assert_eq!(
            hex::encode(encode_frame(&parse_frame(field(vector, "frame")))),
            text(vector, "hex"),
            "{name}: encoding the readable frame"
        );
    }
    for vector in list(document, "invalid") {
        let name = text(vector, "name");
        let error = match decode_frame(&bytes(vector, "hex")) {
            Ok(frame) => panic!("invalid frame {name} decodes: {frame:?}"),
            Err(error) => error,
        };
        assert_eq!(
            error.code().name(),
            text(vector, "error"),
            "{name}: {error}"
        );
    }
    for vector in list(document, "invalid_rules") {
        let name = text(vector, "name");
        let salt = Salt([0; 16]);
        let input = match text(vector, "rule") {
            "FRAME_BYTES_MAX + 1 zero bytes" => vec![0u8; FRAME_BYTES_MAX + 1],
            "a request with ITEMS_PER_FRAME_MAX + 1 Root items" => encode_frame(&request(
                salt,
                vec![
                    Item::Root {
                        fingerprint: Fingerprint([0; 8])
                    };
                    ITEMS_PER_FRAME_MAX + 1
                ],
                vec![],
            )),
            "a request with EVENTS_PER_FRAME_MAX + 1 empty events" => encode_frame(&request(
                salt,
                vec![],
                vec![Vec::new(); EVENTS_PER_FRAME_MAX + 1],
            )),
            rule => panic!("invalid frame {name}: unknown rule `{rule}`"),
        };
        let error = match decode_frame(&input) {
            Ok(_) => panic!("invalid frame {name} decodes"),
            Err(error) => error,
        };
        assert_eq!(
            error.code().name(),
            text(vector, "error"),
            "{name}: {error}"
        );
    }
}

#[test]
fn frames_vectors() {
    // Guards against the frame encoding, or the limits and rules decoding enforces, changing
    // without the vectors changing with them.
    bless_or_check("frames.json", generate_frames, check_frames);
}
