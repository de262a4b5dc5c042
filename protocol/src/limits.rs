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
