//! Builders for events: a test states the fields that matter to it and takes the rest from
//! fixed defaults, instead of writing every field of an [`Event`] out.
//!
//! ```
//! use tideline_testkit::events::{object, EventBuilder};
//! use tideline_protocol::value::Value;
//! let event = EventBuilder::create(object([("name", Value::Null)])).creator("bob").at(5).seal();
//! assert_eq!(event.event().creator, "bob");
//! ```

use tideline_protocol::event::{
    DocId, Event, EventId, FieldPath, Hlc, Op, Patch, ReplicaId, VerifiedEvent,
};
use tideline_protocol::value::Value;

/// The group a built event belongs to unless [`EventBuilder::group`] says otherwise.
pub const GROUP: &str = "team";
/// The default collection.
pub const COLLECTION: &str = "notes";
/// The default creator.
pub const CREATOR: &str = "alice";
/// The default wall clock, in milliseconds: 2025-01-01T00:00:00Z.
pub const WALL_MS: u64 = 1_735_689_600_000;

/// The document id `n`: a fixed time part and `n` in the random part, so ids are distinct,
/// valid and readable in test output.
pub fn doc_id(n: u64) -> DocId {
    let mut random = [0u8; 10];
    random[2..].copy_from_slice(&n.to_be_bytes());
    DocId::new(WALL_MS, random)
}

/// The replica id `n`.
pub fn replica_id(n: u64) -> ReplicaId {
    let mut bytes = [0u8; 16];
    bytes[8..].copy_from_slice(&n.to_be_bytes());
    ReplicaId(bytes)
}

/// An object value from `(key, value)` pairs, keys in any order.
pub fn object<'a>(fields: impl IntoIterator<Item = (&'a str, Value)>) -> Value {
    let mut fields: Vec<(String, Value)> = fields
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value))
        .collect();
    fields.sort_by(|a, b| a.0.cmp(&b.0));
    Value::Object(fields)
}

/// A patch from `(path, value)` pairs, where a path is its segments joined by dots and `None`
/// removes the field. The pairs are sorted, as a valid patch must be.
pub fn patch<'a>(fields: impl IntoIterator<Item = (&'a str, Option<Value>)>) -> Patch {
    let mut entries: Vec<(FieldPath, Option<Value>)> = fields
        .into_iter()
        .map(|(path, value)| {
            let segments = path.split('.').map(str::to_owned).collect();
            (FieldPath(segments), value)
        })
        .collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    Patch(entries)
}

/// An event under construction, with defaults for every field: group [`GROUP`], collection
/// [`COLLECTION`], document [`doc_id`]`(0)`, timestamp [`WALL_MS`] with counter 0, creator
/// [`CREATOR`], origin [`replica_id`]`(0)` and no base.
#[derive(Clone, Debug)]
#[must_use]
pub struct EventBuilder {
    event: Event,
}

impl EventBuilder {
    /// An event that does `op`.
    pub fn new(op: Op) -> EventBuilder {
        EventBuilder {
            event: Event {
                group: GROUP.to_owned(),
                collection: COLLECTION.to_owned(),
                target: doc_id(0),
                timestamp: Hlc {
                    wall_ms: WALL_MS,
                    counter: 0,
                },
                creator: CREATOR.to_owned(),
                origin: replica_id(0),
                base: Vec::new(),
                op,
            },
        }
    }

    /// A create of `value`, which should be an object.
    pub fn create(value: Value) -> EventBuilder {
        EventBuilder::new(Op::Create(value))
    }

    /// An update applying `patch`.
    pub fn update(patch: Patch) -> EventBuilder {
        EventBuilder::new(Op::Update(patch))
    }

    /// A remove.
    pub fn remove() -> EventBuilder {
        EventBuilder::new(Op::Remove)
    }

    /// In group `group`.
    pub fn group(mut self, group: &str) -> EventBuilder {
        self.event.group = group.to_owned();
        self
    }

    /// In collection `collection`.
    pub fn collection(mut self, collection: &str) -> EventBuilder {
        self.event.collection = collection.to_owned();
        self
    }

    /// On document `target`.
    pub fn target(mut self, target: DocId) -> EventBuilder {
        self.event.target = target;
        self
    }

    /// At wall clock `wall_ms`, counter unchanged.
    pub fn at(mut self, wall_ms: u64) -> EventBuilder {
        self.event.timestamp.wall_ms = wall_ms;
        self
    }

    /// With HLC counter `counter`.
    pub fn counter(mut self, counter: u32) -> EventBuilder {
        self.event.timestamp.counter = counter;
        self
    }

    /// Written by `creator`.
    pub fn creator(mut self, creator: &str) -> EventBuilder {
        self.event.creator = creator.to_owned();
        self
    }

    /// Written by replica `origin`.
    pub fn origin(mut self, origin: ReplicaId) -> EventBuilder {
        self.event.origin = origin;
        self
    }

    /// After the events `base` (sorted here, as a valid event's base must be).
    pub fn base(mut self, base: impl IntoIterator<Item = EventId>) -> EventBuilder {
        let mut base: Vec<EventId> = base.into_iter().collect();
        base.sort();
        base.dedup();
        self.event.base = base;
        self
    }

    /// The event, unchecked: for tests that feed invalid events on purpose.
    pub fn build(self) -> Event {
        self.event
    }

    /// The event, checked and encoded. Panics if it is invalid: a test that wants an invalid
    /// event uses [`EventBuilder::build`].
    pub fn seal(self) -> VerifiedEvent {
        self.event.seal().expect("a built event is valid")
    }
}

/// A create of `{"title": title}` by `creator` at `wall_ms`. Two of them on one document make
/// the smallest conflict (a create conflict, asked of the earlier creator), which the tests of
/// several crates set up.
pub fn create_titled(creator: &str, wall_ms: u64, title: &str) -> EventBuilder {
    EventBuilder::create(object([("title", Value::String(title.to_owned()))]))
        .creator(creator)
        .at(wall_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_make_a_valid_event_and_setters_change_only_their_field() {
        // Guards against a default that fails validation, which would make every test that
        // leans on the defaults fail for the wrong reason.
        let plain = EventBuilder::remove().seal();
        let later = EventBuilder::remove().at(WALL_MS + 1).seal();
        assert_ne!(plain.id(), later.id());
        assert_eq!(later.event().timestamp.wall_ms, WALL_MS + 1);
        assert_eq!(later.event().creator, plain.event().creator);
        assert_eq!(later.event().target, plain.event().target);
    }

    #[test]
    fn patches_and_objects_come_out_sorted() {
        // A valid patch must be sorted; the builder sorts so tests can list fields freely.
        let patch = patch([("b", Some(Value::Int(1))), ("a.c", None)]);
        assert_eq!(patch.0[0].0 .0, vec!["a".to_owned(), "c".to_owned()]);
        let value = object([("z", Value::Null), ("a", Value::Bool(true))]);
        let Value::Object(fields) = value else {
            panic!("an object");
        };
        assert_eq!(fields[0].0, "a");
        EventBuilder::update(patch).seal();
    }
}
