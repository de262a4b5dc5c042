//! The HTTP contract of spec chapter 15, in one place for the server, the client, the benchmarks
//! and the tests: the endpoints' paths, the content types, the error header, the HTTP status of
//! each error code, the records of the live stream, and the user's open conflicts that
//! `GET /v1/conflicts` lists.
//!
//! Like the rest of this crate it does no I/O: the constants are plain strings, the live-record
//! decoder is fed whatever chunks the caller's HTTP library hands it, and the open conflicts
//! are read through [`ReadStore`]. The conflict object of §15.7 itself is
//! [`crate::merge::conflict_json`].

use crate::limits::{FRAME_BYTES_BUDGET, FRAME_BYTES_MAX};
use crate::merge::{conflict_json, Conflict, ConflictId, DocKey};
use crate::store::ReadStore;
use crate::wire::{encode_frame, ErrorCode, Frame, Groups, Response};

/// `POST`: one round of the walk, a `Request` frame in and a `Response` frame out (§15.4).
pub const SYNC_PATH: &str = "/v1/sync";

/// `GET`: the stream of live records (§15.6).
pub const LIVE_PATH: &str = "/v1/live";

/// `GET`: the token's user's open conflicts, as JSON (§15.7).
pub const CONFLICTS_PATH: &str = "/v1/conflicts";

/// `GET`: `ok` while the server accepts requests (§15.8).
pub const HEALTHZ_PATH: &str = "/healthz";

/// `GET`: the metrics, in the OpenMetrics text format (§15.8).
pub const METRICS_PATH: &str = "/metrics";

/// The content type of a body that is one frame: a sync request, its response, and every
/// `Error` frame.
pub const FRAME_CONTENT_TYPE: &str = "application/vnd.tideline.frame";

/// The content type of the live stream's body, a sequence of records.
pub const LIVE_CONTENT_TYPE: &str = "application/vnd.tideline.frame-stream";

/// The content type of the conflicts list.
pub const JSON_CONTENT_TYPE: &str = "application/json";

/// The content type of `/healthz`, `404` and `405` bodies.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; charset=utf-8";

/// The content type of `/metrics`.
pub const METRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The header that names a refused request's error code (§15.5), so that a client or a proxy
/// log can branch without decoding the body. The spec writes it `X-Tideline-Error`; header names
/// are case-insensitive, and HTTP libraries want them in lower case.
pub const ERROR_HEADER: &str = "x-tideline-error";

/// The authentication scheme of the `Authorization` header (§15.3), and the challenge a `401`
/// carries in `WWW-Authenticate`.
pub const BEARER_SCHEME: &str = "Bearer";

/// The `Cache-Control` of the live stream: its records are never to be replayed from a cache.
pub const LIVE_CACHE_CONTROL: &str = "no-store";

/// The body of `GET /healthz`.
pub const HEALTHZ_BODY: &str = "ok";

/// The endpoints of §15.1: each one's path, method and name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `POST /v1/sync`.
    Sync,
    /// `GET /v1/live`.
    Live,
    /// `GET /v1/conflicts`.
    Conflicts,
    /// `GET /healthz`.
    Healthz,
    /// `GET /metrics`.
    Metrics,
}

impl Endpoint {
    /// Every endpoint, in the order of the spec's table.
    pub const ALL: [Endpoint; 5] = [
        Endpoint::Sync,
        Endpoint::Live,
        Endpoint::Conflicts,
        Endpoint::Healthz,
        Endpoint::Metrics,
    ];

    /// The endpoint served at `path`, matched exactly as §15.1 says: no query string (the
    /// caller strips it), and a trailing `/` is another path.
    pub fn of_path(path: &str) -> Option<Endpoint> {
        Endpoint::ALL
            .into_iter()
            .find(|endpoint| endpoint.path() == path)
    }

    /// The path.
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::Sync => SYNC_PATH,
            Endpoint::Live => LIVE_PATH,
            Endpoint::Conflicts => CONFLICTS_PATH,
            Endpoint::Healthz => HEALTHZ_PATH,
            Endpoint::Metrics => METRICS_PATH,
        }
    }

    /// The one method the endpoint takes, as HTTP writes it.
    pub fn method(self) -> &'static str {
        match self {
            Endpoint::Sync => "POST",
            Endpoint::Live | Endpoint::Conflicts | Endpoint::Healthz | Endpoint::Metrics => "GET",
        }
    }

    /// The endpoint's name, the `endpoint` label of the server's metrics (§15.8).
    pub fn name(self) -> &'static str {
        match self {
            Endpoint::Sync => "sync",
            Endpoint::Live => "live",
            Endpoint::Conflicts => "conflicts",
            Endpoint::Healthz => "healthz",
            Endpoint::Metrics => "metrics",
        }
    }
}

/// The HTTP status of an error code, from the table of §15.5. A code this implementation does
/// not know gets `500`, as a failure the sender cannot name.
pub fn status_of(code: ErrorCode) -> u16 {
    match code {
        ErrorCode::MalformedFrame
        | ErrorCode::UnsupportedVersion
        | ErrorCode::GroupsMismatch
        | ErrorCode::LimitExceeded
        | ErrorCode::InvalidEvent
        | ErrorCode::UnexpectedFrame
        | ErrorCode::TimestampInFuture => 400,
        ErrorCode::Unauthorized => 401,
        ErrorCode::GroupForbidden | ErrorCode::ForgedCreator => 403,
        ErrorCode::FrameTooLarge => 413,
        ErrorCode::Internal | ErrorCode::Unknown(_) => 500,
    }
}

/// The bytes of a live record's length prefix: a `u32`, big-endian (not a varint).
pub const LIVE_RECORD_PREFIX_BYTES: usize = 4;

// A record of the largest frame must be expressible in the prefix, and the records the server
// packs (events up to the budget, plus the frame's few fixed bytes) must stay under the limit
// a client enforces.
const _: () = assert!(FRAME_BYTES_MAX <= u32::MAX as usize);
const _: () = assert!(FRAME_BYTES_BUDGET < FRAME_BYTES_MAX);

/// One live record (§15.6): the frame's length as 4 big-endian bytes, then the frame.
///
/// # Panics
///
/// If `frame` is longer than [`FRAME_BYTES_MAX`]: a sender never builds such a frame, and a
/// client would refuse the record.
pub fn live_record_encode(frame: &[u8]) -> Vec<u8> {
    assert!(
        frame.len() <= FRAME_BYTES_MAX,
        "a live record's frame of {} bytes is over the frame limit",
        frame.len()
    );
    let length = u32::try_from(frame.len()).expect("FRAME_BYTES_MAX fits in a u32");
    let mut record = Vec::with_capacity(LIVE_RECORD_PREFIX_BYTES + frame.len());
    record.extend_from_slice(&length.to_be_bytes());
    record.extend_from_slice(frame);
    record
}

/// The live records that carry `events` (canonical event bytes, in the order they were
/// stored): each a `Response` with `consumed` 0, no items and at least one event, in as few
/// records as [`FRAME_BYTES_BUDGET`] allows (§15.6). No events, no records.
pub fn live_records_encode<I>(events: I) -> Vec<Vec<u8>>
where
    I: IntoIterator<Item = Vec<u8>>,
{
    let record_of = |events: Vec<Vec<u8>>| {
        debug_assert!(
            !events.is_empty(),
            "a live record carries at least one event"
        );
        live_record_encode(&encode_frame(&Frame::Response(Response {
            consumed: 0,
            items: Vec::new(),
            events,
        })))
    };
    let mut records = Vec::new();
    let mut pending: Vec<Vec<u8>> = Vec::new();
    let mut pending_bytes = 0usize;
    for event in events {
        if !pending.is_empty() && pending_bytes + event.len() > FRAME_BYTES_BUDGET {
            records.push(record_of(std::mem::take(&mut pending)));
            pending_bytes = 0;
        }
        pending_bytes += event.len();
        pending.push(event);
    }
    if !pending.is_empty() {
        records.push(record_of(pending));
    }
    records
}

/// Why a live stream's bytes are not a sequence of whole records.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LiveRecordError {
    /// A record's length prefix is over the limit; refused before its bytes are read.
    #[error(
        "a live record of {bytes} bytes, over the frame limit of {bytes_max}; the server is not \
         a Tideline server or is broken"
    )]
    TooLarge {
        /// The length the prefix announces.
        bytes: u64,
        /// The decoder's limit.
        bytes_max: usize,
    },
    /// The stream ended inside a record.
    #[error(
        "the live stream ended inside a record ({bytes_buffered} bytes of it arrived); sync \
         again to fetch what it carried"
    )]
    Truncated {
        /// The bytes of the unfinished record that arrived, its prefix included.
        bytes_buffered: usize,
    },
}

/// Reassembles live records from a byte stream cut anywhere (§15.6: records may be split
/// across or merged into HTTP chunks in any way).
///
/// [`push`](Self::push) each chunk as it arrives, then take the whole frames out with
/// [`next_frame`](Self::next_frame) until it gives `None`; when the stream ends, call
/// [`finish`](Self::finish) to learn whether it ended between records. The bytes stay in the
/// decoder between calls, so a caller that is cancelled between a read and a `next_frame` loses
/// nothing.
#[derive(Clone, Debug)]
pub struct LiveRecordDecoder {
    /// Bytes received and not yet handed out; the first `start` of them are already handed
    /// out and are dropped at the next `push`, so that taking a frame never moves the rest.
    buffer: Vec<u8>,
    start: usize,
    /// The longest frame accepted.
    bytes_max: usize,
}

impl Default for LiveRecordDecoder {
    fn default() -> LiveRecordDecoder {
        LiveRecordDecoder::new()
    }
}

impl LiveRecordDecoder {
    /// A decoder that refuses records over [`FRAME_BYTES_MAX`], as §15.6 advises.
    pub fn new() -> LiveRecordDecoder {
        LiveRecordDecoder::with_bytes_max(FRAME_BYTES_MAX)
    }

    /// A decoder that refuses records whose frame is over `bytes_max` bytes.
    pub fn with_bytes_max(bytes_max: usize) -> LiveRecordDecoder {
        LiveRecordDecoder {
            buffer: Vec::new(),
            start: 0,
            bytes_max,
        }
    }

    /// Adds the next bytes of the stream.
    pub fn push(&mut self, chunk: &[u8]) {
        if self.start > 0 {
            self.buffer.drain(..self.start);
            self.start = 0;
        }
        self.buffer.extend_from_slice(chunk);
    }

    /// The frame of the next whole record, or `None` until more bytes arrive.
    ///
    /// A record announcing a frame over the limit is refused as soon as its prefix is in, and
    /// is refused again on every later call: the stream cannot be read past it.
    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>, LiveRecordError> {
        let pending = &self.buffer[self.start..];
        let Some(prefix) = pending.first_chunk::<LIVE_RECORD_PREFIX_BYTES>() else {
            return Ok(None);
        };
        let length = u32::from_be_bytes(*prefix);
        if u64::from(length) > self.bytes_max as u64 {
            return Err(LiveRecordError::TooLarge {
                bytes: u64::from(length),
                bytes_max: self.bytes_max,
            });
        }
        let end = LIVE_RECORD_PREFIX_BYTES + length as usize;
        let Some(frame) = pending.get(LIVE_RECORD_PREFIX_BYTES..end) else {
            return Ok(None);
        };
        let frame = frame.to_vec();
        self.start += end;
        Ok(Some(frame))
    }

    /// Checks that the stream, now ended, ended between two records. Call it once
    /// [`next_frame`](Self::next_frame) has given every whole record.
    pub fn finish(&self) -> Result<(), LiveRecordError> {
        match self.buffer.len() - self.start {
            0 => Ok(()),
            bytes_buffered => Err(LiveRecordError::Truncated { bytes_buffered }),
        }
    }
}

/// An open conflict of a user's inbox, with the document that holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenConflict {
    /// The document.
    pub doc: DocKey,
    /// The conflict, as merge computed it.
    pub conflict: Conflict,
}

impl OpenConflict {
    /// The conflict as the JSON object of §15.7 ([`conflict_json`]).
    pub fn to_json(&self) -> serde_json::Value {
        conflict_json(&self.doc, &self.conflict)
    }
}

/// Why a user's open conflicts could not be listed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenConflictsError<E> {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] E),
    /// An inbox entry names a document that does not hold its conflict. A store writes the
    /// inboxes and the document states in one atomic batch, so this is damage, not a race.
    #[error(
        "the inbox of `{user}` lists conflict {conflict} in document {}/{}/{}, which does not \
         hold it; the store is damaged: restore it from a backup, or rebuild it by syncing a new \
         replica",
        doc.group, doc.collection, doc.target
    )]
    DanglingInboxEntry {
        /// The inbox's user.
        user: String,
        /// The conflict the entry names.
        conflict: ConflictId,
        /// The document the entry names.
        doc: DocKey,
    },
}

/// The open conflicts assigned to `user` in documents of `groups`, ordered by conflict id: what
/// `GET /v1/conflicts` answers (§15.7) and what the reference client's `conflicts` lists.
///
/// Entries of other groups are skipped unread. An entry whose document has no state, or whose
/// state does not hold the conflict, is [`OpenConflictsError::DanglingInboxEntry`]: the one rule
/// for a dangling entry, on every side.
pub fn open_conflicts<S: ReadStore + ?Sized>(
    store: &S,
    user: &str,
    groups: &Groups,
) -> Result<Vec<OpenConflict>, OpenConflictsError<S::Error>> {
    let mut open = Vec::new();
    for (id, doc) in store.inbox(user)? {
        if groups.index_of(&doc.group).is_none() {
            continue;
        }
        let conflict = store.doc_state(&doc)?.and_then(|state| {
            state
                .conflicts
                .into_iter()
                .find(|conflict| conflict.id == id)
        });
        let Some(conflict) = conflict else {
            return Err(OpenConflictsError::DanglingInboxEntry {
                user: user.to_owned(),
                conflict: id,
                doc,
            });
        };
        open.push(OpenConflict { doc, conflict });
    }
    Ok(open)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{DocId, Event, Hlc, Op, ReplicaId};
    use crate::merge::DocState;
    use crate::replica;
    use crate::store::{Batch, MemoryStore, Store};
    use crate::value::Value;
    use crate::wire::decode_frame;

    #[test]
    fn statuses_follow_the_spec_table() {
        // Guards against a code answered with another status than §15.5's table gives.
        let table = [
            (1, 400),
            (2, 413),
            (3, 400),
            (4, 400),
            (5, 400),
            (6, 400),
            (7, 403),
            (8, 400),
            (9, 401),
            (10, 403),
            (11, 400),
            (12, 500),
        ];
        for (number, status) in table {
            assert_eq!(
                status_of(ErrorCode::from_number(number)),
                status,
                "{number}"
            );
        }
        assert_eq!(status_of(ErrorCode::Unknown(99)), 500);
    }

    #[test]
    fn endpoints_are_found_by_their_exact_path() {
        // Guards against routing a near miss (a trailing slash, another case) to an endpoint.
        for endpoint in Endpoint::ALL {
            assert_eq!(Endpoint::of_path(endpoint.path()), Some(endpoint));
        }
        assert_eq!(Endpoint::Sync.method(), "POST");
        assert_eq!(Endpoint::Live.method(), "GET");
        for path in ["/v1/sync/", "/V1/sync", "/", "", "/v1"] {
            assert_eq!(Endpoint::of_path(path), None, "{path}");
        }
    }

    /// Three records of different sizes, one of them empty, as one byte stream.
    fn stream_of(frames: &[Vec<u8>]) -> Vec<u8> {
        frames
            .iter()
            .flat_map(|frame| live_record_encode(frame))
            .collect()
    }

    fn frames() -> Vec<Vec<u8>> {
        vec![vec![7; 70], Vec::new(), (0..=255).collect()]
    }

    /// Feeds `stream` cut at `cuts`, and collects the frames as they become whole.
    fn decode_cut(stream: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
        let mut decoder = LiveRecordDecoder::new();
        let mut frames = Vec::new();
        let mut from = 0;
        for &to in cuts.iter().chain([stream.len()].iter()) {
            decoder.push(&stream[from..to]);
            from = to;
            while let Some(frame) = decoder.next_frame().unwrap() {
                frames.push(frame);
            }
        }
        decoder.finish().unwrap();
        frames
    }

    #[test]
    fn a_record_is_the_length_in_four_big_endian_bytes_then_the_frame() {
        // Guards the record layout of §15.6 byte for byte (not a varint, not little-endian).
        let record = live_record_encode(&[0xAB; 70]);
        assert_eq!(record[..4], [0x00, 0x00, 0x00, 0x46]);
        assert_eq!(record[4..], [0xAB; 70]);
    }

    #[test]
    fn records_round_trip_whole_and_split_at_every_byte() {
        // Guards against a client that relies on chunk boundaries: a record split anywhere, or
        // several merged into one chunk, decodes the same.
        let frames = frames();
        let stream = stream_of(&frames);
        assert_eq!(decode_cut(&stream, &[]), frames);
        for cut in 0..=stream.len() {
            assert_eq!(decode_cut(&stream, &[cut]), frames, "cut at {cut}");
        }
        let every_byte: Vec<usize> = (1..stream.len()).collect();
        assert_eq!(decode_cut(&stream, &every_byte), frames);
    }

    #[test]
    fn a_record_over_the_limit_is_refused_from_its_prefix() {
        // Guards against a client that allocates whatever a length prefix announces.
        let mut decoder = LiveRecordDecoder::with_bytes_max(100);
        decoder.push(&live_record_encode(&[1; 100]));
        assert_eq!(decoder.next_frame().unwrap(), Some(vec![1; 100]));
        decoder.push(&101u32.to_be_bytes());
        let refused = LiveRecordError::TooLarge {
            bytes: 101,
            bytes_max: 100,
        };
        assert_eq!(decoder.next_frame(), Err(refused.clone()));
        decoder.push(&[0; 8]);
        assert_eq!(decoder.next_frame(), Err(refused), "the refusal sticks");

        let mut decoder = LiveRecordDecoder::new();
        decoder.push(&u32::MAX.to_be_bytes());
        assert_eq!(
            decoder.next_frame(),
            Err(LiveRecordError::TooLarge {
                bytes: u64::from(u32::MAX),
                bytes_max: FRAME_BYTES_MAX,
            })
        );
    }

    #[test]
    fn a_stream_that_ends_inside_a_record_is_truncated() {
        // Guards against taking half a record for the end of a healthy stream.
        let stream = stream_of(&frames());
        let whole = LIVE_RECORD_PREFIX_BYTES + 70;
        for end in 1..stream.len() {
            let mut decoder = LiveRecordDecoder::new();
            decoder.push(&stream[..end]);
            while decoder.next_frame().unwrap().is_some() {}
            let between_records = [whole, whole + LIVE_RECORD_PREFIX_BYTES].contains(&end);
            if between_records {
                decoder.finish().unwrap();
            } else {
                assert!(
                    matches!(
                        decoder.finish(),
                        Err(LiveRecordError::Truncated { bytes_buffered }) if bytes_buffered > 0
                    ),
                    "end at {end}"
                );
            }
        }
        LiveRecordDecoder::new().finish().unwrap();
    }

    #[test]
    fn events_are_packed_into_as_few_records_as_the_budget_allows() {
        // Guards against a record whose events exceed the frame budget, and against a record
        // with no event.
        assert!(live_records_encode(Vec::new()).is_empty());
        let event_bytes = FRAME_BYTES_BUDGET / 3 + 1;
        let events: Vec<Vec<u8>> = (0..5u8).map(|n| vec![n; event_bytes]).collect();
        let records = live_records_encode(events.clone());
        assert_eq!(
            records.len(),
            3,
            "two events fit in the budget, three do not"
        );
        let mut decoder = LiveRecordDecoder::new();
        let mut carried = Vec::new();
        for record in &records {
            decoder.push(record);
        }
        while let Some(frame) = decoder.next_frame().unwrap() {
            let Frame::Response(response) = decode_frame(&frame).unwrap() else {
                panic!("a live record holds a Response frame");
            };
            assert_eq!(response.consumed, 0);
            assert!(response.items.is_empty());
            assert!(!response.events.is_empty());
            carried.extend(response.events);
        }
        decoder.finish().unwrap();
        assert_eq!(carried, events);
    }

    fn created(creator: &str, wall_ms: u64, title: &str) -> Event {
        Event {
            group: "g1".into(),
            collection: "notes".into(),
            target: DocId([1; 16]),
            timestamp: Hlc {
                wall_ms,
                counter: 0,
            },
            creator: creator.into(),
            origin: ReplicaId([2; 16]),
            base: Vec::new(),
            op: Op::Create(Value::Object(vec![(
                "title".into(),
                Value::String(title.into()),
            )])),
        }
    }

    /// A store where two creates of one document conflict, and the conflict's assignee.
    fn store_with_a_conflict() -> (MemoryStore, String) {
        let mut store = MemoryStore::new();
        let events = [
            created("alice", 1_000, "a").seal().unwrap(),
            created("bob", 2_000, "b").seal().unwrap(),
        ];
        replica::apply(&mut store, &events).unwrap();
        let assignee = ["alice", "bob"]
            .into_iter()
            .find(|user| !store.inbox(user).unwrap().is_empty())
            .expect("the conflict is assigned to one of its creators");
        (store, assignee.to_owned())
    }

    #[test]
    fn open_conflicts_are_the_users_in_the_given_groups() {
        // Guards against listing a conflict to someone who was not asked, or from a group
        // outside the token.
        let (store, assignee) = store_with_a_conflict();
        let g1 = Groups::new(["g1"]).unwrap();
        let open = open_conflicts(&store, &assignee, &g1).unwrap();
        assert_eq!(open.len(), 1);
        assert_eq!(open[0].doc.group, "g1");
        assert_eq!(open[0].to_json()["kind"], "create");
        let other = if assignee == "alice" { "bob" } else { "alice" };
        assert!(open_conflicts(&store, other, &g1).unwrap().is_empty());
        let g2 = Groups::new(["g2"]).unwrap();
        assert!(open_conflicts(&store, &assignee, &g2).unwrap().is_empty());
    }

    #[test]
    fn a_dangling_inbox_entry_is_damage() {
        // Guards against silently hiding a damaged store: an inbox entry whose document does
        // not hold its conflict (or has no state at all) is an error, never skipped.
        let (mut store, assignee) = store_with_a_conflict();
        let groups = Groups::new(["g1"]).unwrap();
        let (id, doc) = store.inbox(&assignee).unwrap().remove(0);
        let mut state: DocState = store.doc_state(&doc).unwrap().unwrap();
        state.conflicts.clear();
        store
            .commit(Batch {
                doc_states: vec![(doc.clone(), state)],
                ..Batch::default()
            })
            .unwrap();
        let error = open_conflicts(&store, &assignee, &groups).unwrap_err();
        let OpenConflictsError::DanglingInboxEntry {
            user,
            conflict,
            doc: named,
        } = &error
        else {
            panic!("not a dangling entry: {error}");
        };
        assert_eq!(
            (user.as_str(), *conflict, named),
            (assignee.as_str(), id, &doc)
        );
        assert!(error.to_string().contains("damaged"), "{error}");

        let nowhere = DocKey {
            target: DocId([9; 16]),
            ..doc
        };
        let mut store = MemoryStore::new();
        store
            .commit(Batch {
                inbox_added: vec![(assignee.clone(), id, nowhere)],
                ..Batch::default()
            })
            .unwrap();
        assert!(matches!(
            open_conflicts(&store, &assignee, &groups),
            Err(OpenConflictsError::DanglingInboxEntry { .. })
        ));
        // Outside the groups asked for, an entry is not read, so it is not judged either.
        let g2 = Groups::new(["g2"]).unwrap();
        assert!(open_conflicts(&store, &assignee, &g2).unwrap().is_empty());
    }
}
