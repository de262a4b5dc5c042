//! The vectors of `spec/vectors/events.json: the event encoding, ids and every validation rule.

use super::*;

/// The event as readable JSON; see the README for the shape.
pub(crate) fn render_event(event: &Event) -> Json {
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

pub(crate) fn render_op(op: &Op) -> Json {
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
pub(crate) fn parse_event(json: &Json) -> Event {
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

pub(crate) fn parse_op(json: &Json) -> Op {
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
pub(crate) fn value(json: Json) -> Value {
    Value::try_from(&json).expect("a valid value")
}

/// An object with its entries in exactly the given order, for non-canonical documents.
pub(crate) fn object_as_given(entries: Vec<(&str, Value)>) -> Value {
    Value::Object(
        entries
            .into_iter()
            .map(|(key, value)| (key.to_owned(), value))
            .collect(),
    )
}

/// `Null` inside `depth - 1` single-element arrays: a value of depth `depth`.
pub(crate) fn nested(depth: usize) -> Value {
    (1..depth).fold(Value::Null, |inner, _| Value::Array(vec![inner]))
}

pub(crate) fn field_path(segments: &[&str]) -> FieldPath {
    FieldPath(
        segments
            .iter()
            .map(|segment| (*segment).to_owned())
            .collect(),
    )
}

/// Distinct event ids for bases, ascending.
pub(crate) fn base_ids(label: &str, count: usize) -> Vec<EventId> {
    let mut ids: Vec<EventId> = (0..count)
        .map(|index| EventId(*blake3::hash(format!("{label} {index}").as_bytes()).as_bytes()))
        .collect();
    ids.sort();
    ids
}

/// A valid event in a realistic shape, to vary one field or the op of.
pub(crate) fn sample_event(rng: &mut Rng, op: Op) -> Event {
    // The generator's draws keep their order: wall clock, target, counter, then origin.
    let wall_ms = START_MS + rng.below(DAY_MS);
    let target = DocId::new(wall_ms - rng.below(DAY_MS), rng.bytes());
    let counter = rng.below(3) as u32;
    let origin = ReplicaId(rng.bytes());
    EventBuilder::new(op)
        .group("team:acme")
        .collection("notes")
        .target(target)
        .at(wall_ms)
        .counter(counter)
        .creator("user-42")
        .origin(origin)
        .build()
}

pub(crate) fn valid_event_vector(name: &str, event: Event) -> Json {
    let sealed = event
        .seal()
        .unwrap_or_else(|error| panic!("valid event vector {name}: {error}"));
    json!({
        "name": name,
        "event": render_event(sealed.event()),
        "encoding": hex::encode(sealed.bytes()),
        "id": sealed.id().to_string(),
    })
}

pub(crate) fn invalid_event_vector(name: &str, encoding: &[u8], error: &str) -> Json {
    json!({ "name": name, "encoding": hex::encode(encoding), "error": error })
}

/// Replaces the byte at `index` of `bytes`, which must be `old`: a vector built by damaging a
/// valid encoding says exactly which byte it damaged.
pub(crate) fn patched(mut bytes: Vec<u8>, index: usize, old: u8, new: u8) -> Vec<u8> {
    assert_eq!(bytes[index], old, "the byte to patch is where expected");
    bytes[index] = new;
    bytes
}

pub(crate) fn generate_events() -> Json {
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
    valid.push(valid_event_vector(
        "sim_create_event",
        generated.event().clone(),
    ));

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

pub(crate) fn check_events(document: &Json) {
    for vector in list(document, "valid") {
        let name = text(vector, "name");
        let encoding = bytes(vector, "encoding");
        let decoded = VerifiedEvent::decode(&encoding)
            .unwrap_or_else(|error| panic!("valid event {name} does not decode: {error}"));
        assert_eq!(decoded.bytes(), encoding, "{name}: bytes kept as given");
        assert_eq!(
            decoded.event().encode(),
            encoding,
            "{name}: re-encoding gives the same bytes"
        );
        let id = EventId(fixed(vector, "id"));
        assert_eq!(decoded.id(), id, "{name}: id");
        assert_eq!(
            decoded.id().0,
            *blake3::hash(&encoding).as_bytes(),
            "{name}: the id is the BLAKE3 hash of the encoding"
        );
        assert_eq!(decoded.event().id(), id, "{name}: Event::id agrees");
        assert_same_json(
            &render_event(decoded.event()),
            field(vector, "event"),
            &format!("{name}: the decoded event"),
        );
        // The other direction: from the readable event to the bytes.
        let sealed = parse_event(field(vector, "event"))
            .seal()
            .unwrap_or_else(|error| panic!("{name}: the readable event is invalid: {error}"));
        assert_eq!(
            hex::encode(sealed.bytes()),
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
    bless_or_check("events.json", "vectors", generate_events, check_events);
}
