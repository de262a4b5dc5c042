//! The event model: what one change to one document looks like, how it is encoded, and how it
//! is named.
//!
//! An [`Event`] is encoded with postcard (see postcard's wire-format specification for varints
//! and zigzag) as the serde struct below, fields in declaration order with no tags or framing:
//!
//! | field        | type                                | bytes                                 |
//! |--------------|-------------------------------------|---------------------------------------|
//! | `group`      | string                              | varint length, UTF-8                  |
//! | `collection` | string                              | varint length, UTF-8                  |
//! | `target`     | [`DocId`]                           | 16 raw bytes                          |
//! | `timestamp`  | [`Hlc`]                             | varint `wall_ms`, varint `counter`    |
//! | `creator`    | string                              | varint length, UTF-8                  |
//! | `origin`     | [`ReplicaId`]                       | 16 raw bytes                          |
//! | `base`       | sequence of [`EventId`]             | varint count, 32 raw bytes each       |
//! | `op`         | [`Op`]                              | varint variant index, then payload    |
//!
//! `Op` is `Create` = 0 followed by a [`Value`](crate::value::Value), `Update` = 1 followed by a [`Patch`] (varint
//! count of entries, each a [`FieldPath`] — varint count of segment strings — then an option:
//! byte 0 for "remove", or byte 1 and a value), or `Remove` = 2 with nothing after it.
//!
//! The [`EventId`] is the plain BLAKE3 hash of that encoding. Every event has exactly one
//! encoding: [`VerifiedEvent::decode`] re-encodes what it decoded and rejects the input unless
//! the bytes match, so an id names one event and an event has one id.
//!
//! One file per section of spec chapter 4:
//!
//! - `encoding`: §4.1, the [`Event`] and its [`Op`], and their encoding;
//! - `validity`: §4.2, the rules of a valid event;
//! - `canonical`: §4.3, [`VerifiedEvent`], the event id and canonical decoding;
//! - `timestamp`: §4.4, [`Hlc`], the hybrid logical clock;
//! - `ids`: §4.5, [`DocId`] and [`ReplicaId`], with §4.3's [`EventId`], and their hex text;
//! - `patch`: §4.6, [`Patch`] and [`FieldPath`], and the rules of a valid patch;
//! - `error`: [`EventError`], one variant per rule of §4.2, §4.3 and §4.6.

mod canonical;
mod encoding;
mod error;
mod ids;
mod patch;
#[cfg(test)]
mod test_support;
mod timestamp;
mod validity;

pub use canonical::VerifiedEvent;
pub use encoding::{Event, Op};
pub use error::EventError;
pub use ids::{DocId, EventId, IdParseError, ReplicaId};
pub use patch::{FieldPath, Patch};
pub use timestamp::Hlc;
