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

use serde_json::{json, Map, Value as Json};
use tideline_protocol::event::{
    DocId, Event, EventId, FieldPath, Hlc, Op, Patch, ReplicaId, VerifiedEvent,
};
use tideline_protocol::limits::{
    BASE_LEN_MAX, EVENTS_PER_FRAME_MAX, EVENT_BYTES_MAX, FRAME_BYTES_BUDGET, FRAME_BYTES_MAX,
    ITEMS_PER_FRAME_MAX, PATH_SEGMENTS_MAX, SHORT_IDS_PER_ITEM_MAX, VALUE_DEPTH_MAX, WALL_MS_LIMIT,
};
use tideline_protocol::store::MemoryStore;
use tideline_protocol::sync::Config;
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
use tideline_testkit::events::EventBuilder;
use tideline_testkit::generate::{create_event, Rng};
use tideline_testkit::reconcile::reconcile;
use tideline_testkit::vectors::{
    assert_same_json, bless_or_check, bytes, bytes_of, debug_names_variant, decode_events, field,
    fixed, fixed_of, hex_list, list, number, path_parse, path_text, text,
};

/// Around September 2026: where the generated logs start.
const START_MS: u64 = 1_790_000_000_000;
const DAY_MS: u64 = 24 * 3600 * 1000;
const WEEK_MS: u64 = 7 * DAY_MS;
const YEAR_MS: u64 = 365 * DAY_MS;

mod events;
mod fingerprints;
mod frames;
mod transcripts;
mod trees;
