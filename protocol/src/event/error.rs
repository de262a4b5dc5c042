//! Why an event is invalid (§4.2, §4.6) or why bytes are not an event (§4.3): one variant per
//! rule, each message naming the limit and what to do.

use crate::limits;
use crate::value::ValueError;

/// Why an event is invalid, or why bytes are not an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EventError {
    /// The encoding is larger than the protocol allows.
    #[error(
        "event is {bytes} bytes, over the limit of {bytes_max}; split the change into smaller \
         events"
    )]
    TooLarge {
        /// Size of the encoding, or of the input when decoding.
        bytes: usize,
        /// [`limits::EVENT_BYTES_MAX`].
        bytes_max: usize,
    },
    /// The bytes do not decode as an event.
    #[error(
        "event bytes do not decode ({0}); encode events exactly as the protocol specification \
         describes"
    )]
    Malformed(String),
    /// Bytes are left over after one event.
    #[error("{bytes} bytes follow the event; pass exactly one encoded event")]
    TrailingBytes {
        /// How many bytes were left over.
        bytes: usize,
    },
    /// The bytes decode to a valid event whose canonical encoding is different.
    #[error(
        "event bytes decode but are not the canonical encoding (for example, a varint with \
         needless continuation bytes); re-encode the event with the canonical encoder"
    )]
    NotCanonical,
    /// The document in a create event is not canonical.
    #[error("document is invalid: {0}")]
    Value(#[from] ValueError),
    /// The group name breaks the naming rule.
    #[error(
        "group name must be 1 to {bytes_max} bytes of ASCII letters, digits, '.', '_', '-' or \
         ':'; rename the group",
        bytes_max = limits::GROUP_BYTES_MAX
    )]
    GroupInvalid,
    /// The collection name breaks the naming rule.
    #[error(
        "collection name must be 1 to {bytes_max} bytes of ASCII letters, digits, '.', '_', '-' \
         or ':'; rename the collection",
        bytes_max = limits::COLLECTION_BYTES_MAX
    )]
    CollectionInvalid,
    /// The creator breaks the naming rule.
    #[error(
        "creator must be 1 to {bytes_max} bytes of printable ASCII without spaces; encode other \
         user ids, for example as hex",
        bytes_max = limits::CREATOR_BYTES_MAX
    )]
    CreatorInvalid,
    /// The timestamp's wall clock does not fit in 48 bits.
    #[error(
        "timestamp wall clock {wall_ms} ms is not below {wall_ms_limit}; check the writer's \
         clock and its last timestamp",
        wall_ms_limit = limits::WALL_MS_LIMIT
    )]
    TimestampOutOfRange {
        /// The wall clock of the timestamp.
        wall_ms: u64,
    },
    /// The base is not sorted, or repeats an id.
    #[error(
        "base id at position {index} is not strictly after the one before it; sort the base \
         ascending and remove duplicates"
    )]
    BaseNotAscending {
        /// Position of the first id out of order.
        index: usize,
    },
    /// The base holds too many ids.
    #[error(
        "base holds {len} ids, over the limit of {len_max}; merge the document's heads before \
         writing"
    )]
    BaseTooLong {
        /// Number of ids in the base.
        len: usize,
        /// [`limits::BASE_LEN_MAX`].
        len_max: usize,
    },
    /// A create event holds something other than an object.
    #[error("a create event must hold an object as the whole document; wrap the value in one")]
    CreateNotObject,
    /// An update event changes nothing.
    #[error("an update event must change at least one field; do not write empty updates")]
    PatchEmpty,
    /// An update event has too many entries.
    #[error(
        "patch has {entries} entries, over the limit of {entries_max}; split it into several \
         updates or write a create"
    )]
    PatchTooLong {
        /// Number of entries in the patch.
        entries: usize,
        /// [`limits::PATCH_ENTRIES_MAX`].
        entries_max: usize,
    },
    /// Patch entries are not sorted by path, or repeat a path.
    #[error(
        "patch entry {index} does not come strictly after the one before it; sort entries by \
         path and keep one entry per path"
    )]
    PatchNotAscending {
        /// Position of the first entry out of order.
        index: usize,
    },
    /// One patch path lies inside another, so the patch could mean two things.
    #[error(
        "patch entry {index} changes a field inside the field the entry before it changes; \
         fold the inner change into the outer entry's value"
    )]
    PatchPathOverlaps {
        /// Position of the inner entry.
        index: usize,
    },
    /// A patch path has no segments, too many, or a segment of bad length.
    #[error(
        "patch entry {index} has a path that is not 1 to {segments_max} segments of 1 to \
         {segment_bytes_max} bytes each; shorten the path or the key",
        segments_max = limits::PATH_SEGMENTS_MAX,
        segment_bytes_max = limits::PATH_SEGMENT_BYTES_MAX
    )]
    PatchPathInvalid {
        /// Position of the entry.
        index: usize,
    },
    /// A patch value nests deeper than its path leaves room for.
    #[error(
        "patch entry {index} sets a value deeper than the {depth_max} levels its path leaves \
         room for; set a shallower value or use a shorter path"
    )]
    PatchValueTooDeep {
        /// Position of the entry.
        index: usize,
        /// [`limits::VALUE_DEPTH_MAX`] less the length of the entry's path.
        depth_max: usize,
    },
    /// A patch value is not canonical.
    #[error("patch entry {index} sets an invalid value: {source}")]
    PatchValueInvalid {
        /// Position of the entry.
        index: usize,
        /// What is wrong with the value.
        source: ValueError,
    },
}
