//! Every limit the protocol puts on input from outside, in one place.
//!
//! Each constant carries its unit in its name and is checked at the edge, where bytes become
//! values. `spec/protocol.md` section "Limits" lists the same numbers; they are normative.

/// Largest canonical encoding of one event, in bytes. Bounds document size too.
pub const EVENT_BYTES_MAX: usize = 256 * 1024;

/// Deepest JSON value: a scalar has depth 1, an array or object one more than its deepest child.
pub const VALUE_DEPTH_MAX: usize = 32;

/// Longest group name, in bytes.
pub const GROUP_BYTES_MAX: usize = 64;

/// Longest collection name, in bytes.
pub const COLLECTION_BYTES_MAX: usize = 64;

/// Longest creator (user id), in bytes.
pub const CREATOR_BYTES_MAX: usize = 128;

/// Most event ids in an event's `base` (the heads its author had seen).
pub const BASE_LEN_MAX: usize = 64;

/// Most entries in one update patch.
pub const PATCH_ENTRIES_MAX: usize = 1024;

/// Most segments in one field path of a patch.
pub const PATH_SEGMENTS_MAX: usize = 16;

/// Longest segment of a field path, in bytes.
pub const PATH_SEGMENT_BYTES_MAX: usize = 128;

/// Largest wall-clock value of a timestamp, exclusive: timestamps are 48-bit milliseconds.
pub const WALL_MS_LIMIT: u64 = 1 << 48;

/// Largest frame (one encoded request, response or error), in bytes.
pub const FRAME_BYTES_MAX: usize = 32 * 1024 * 1024;

/// Soft size a sender aims for when it fills a frame with events; see the spec's "Budgets".
pub const FRAME_BYTES_BUDGET: usize = 4 * 1024 * 1024;

/// Most items in one frame.
pub const ITEMS_PER_FRAME_MAX: usize = 200_000;

/// Most events in one frame.
pub const EVENTS_PER_FRAME_MAX: usize = 100_000;

/// Most short ids in one `Ids` or `Want` item.
pub const SHORT_IDS_PER_ITEM_MAX: usize = 64;

/// Most groups in one session.
pub const GROUPS_PER_SESSION_MAX: usize = 100_000;

/// Longest message in an error frame, in bytes.
pub const ERROR_MESSAGE_BYTES_MAX: usize = 1024;

/// Most versions an error frame may list.
pub const ERROR_VERSIONS_MAX: usize = 16;

/// Work a responder does for one request before it stops consuming items, in store lookups
/// (one per prefix looked at, one per group root). A request of cheap-to-send but costly items
/// is answered in parts, like one that fills the frame.
pub const RESPONDER_LOOKUPS_MAX: usize = 500_000;

/// Most requests an initiator sends in one session before it gives up on a responder that
/// never lets the walk end.
pub const ROUNDS_PER_SESSION_MAX: u32 = 100_000;

// Relations the limits must keep with each other, checked when the crate compiles, so that a
// change to one number cannot silently break what another assumes.

// A patch value at the deepest path gets `VALUE_DEPTH_MAX - path length` levels (§4.6 rule 5):
// the subtraction must not underflow, and at least a scalar (depth 1) must still fit.
const _: () = assert!(PATH_SEGMENTS_MAX < VALUE_DEPTH_MAX);

// Keys hold `wall_ms` in 8 bytes and the spec promises their first four nibbles are zero
// (§5.1), so a timestamp's wall clock must fit in 48 bits.
const _: () = assert!(WALL_MS_LIMIT <= 1 << 48);

// An event with a full base (32 bytes per id) must still leave room for the rest of the event.
const _: () = assert!(BASE_LEN_MAX * 32 < EVENT_BYTES_MAX);

// One event must fit in a frame with room to spare, or an event that validates could never be
// sent; a frame's fixed fields are a few dozen bytes.
const _: () = assert!(EVENT_BYTES_MAX < FRAME_BYTES_MAX / 2);

// The budget is soft: a frame may overshoot it by one item's output, at most
// `SHORT_IDS_PER_ITEM_MAX` wanted events of up to `EVENT_BYTES_MAX` each (§8.6). With the budget
// capped at a quarter of the frame (as the reference caps it), that overshoot must still leave
// the frame under `FRAME_BYTES_MAX`, with room for the items and length prefixes.
const _: () = assert!(FRAME_BYTES_BUDGET <= FRAME_BYTES_MAX / 4);
const _: () =
    assert!(FRAME_BYTES_MAX / 4 + SHORT_IDS_PER_ITEM_MAX * EVENT_BYTES_MAX < FRAME_BYTES_MAX);

// The responder stops streaming at `EVENTS_PER_FRAME_MAX - SHORT_IDS_PER_ITEM_MAX` events, so
// that one more `Want` (at most `SHORT_IDS_PER_ITEM_MAX` events) never passes the limit; that
// threshold must leave room for at least one event.
const _: () = assert!(SHORT_IDS_PER_ITEM_MAX < EVENTS_PER_FRAME_MAX);

// Items name a group by a `u32` index, and `consumed` counts items in a `u32`.
const _: () = assert!(GROUPS_PER_SESSION_MAX <= u32::MAX as usize);
const _: () = assert!(ITEMS_PER_FRAME_MAX <= u32::MAX as usize);

// An error frame must be readable whatever its message and versions: at most five bytes per
// version varint, and the message with its length prefix.
const _: () = assert!(ERROR_MESSAGE_BYTES_MAX + 5 * ERROR_VERSIONS_MAX + 64 < FRAME_BYTES_MAX);
