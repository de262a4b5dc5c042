//! Tideline's durable store: the protocol's [`Store`](tideline_protocol::store::Store) trait on
//! RocksDB, shared by the server and the client. It passes the same conformance suite as the
//! in-memory store (`tideline_testkit::conformance`, run by `tests/conformance.rs`).
//!
//! - [`rocks`] holds [`RocksStore`]: opening, the format check, reads, and commits as one
//!   write batch.
//! - `encoding` (private) holds the byte layout of each column family's keys, and the checked
//!   decoding of values.
//! - `open` (private) opens a store: the RocksDB options (among them the write-ahead log's
//!   recovery mode), the format check, creating a store, and the error that names a damaged
//!   file.
//! - [`error`] holds [`StoreError`], what can go wrong and what to do about it.
//!
//! # Column families
//!
//! Values that are structures are [postcard](https://postcard.jamesmunns.com/wire-format)
//! encodings of the protocol's serde types. `‖` is concatenation; names end with a 0x00 byte,
//! which no group, collection or user name holds (event validation forbids it), so each name's
//! records sort together and in the order the trait promises.
//!
//! | family       | key                                                   | value                        |
//! |--------------|-------------------------------------------------------|------------------------------|
//! | `events`     | event id (32 bytes)                                   | the event's canonical bytes  |
//! | `keys`       | group ‖ 0x00 ‖ tree key (44 bytes)                    | empty                        |
//! | `nodes`      | group ‖ 0x00 ‖ nibble count (1 byte) ‖ packed nibbles | `Node`                       |
//! | `doc_events` | group ‖ 0x00 ‖ collection ‖ 0x00 ‖ doc id (16) ‖ event id (32) | empty               |
//! | `doc_states` | group ‖ 0x00 ‖ collection ‖ 0x00 ‖ doc id (16 bytes)  | `DocState`                   |
//! | `inbox`      | user ‖ 0x00 ‖ conflict id (32 bytes)                  | `DocKey`                     |
//! | `meta`       | `format_version`                                      | [`FORMAT_VERSION`], u32 big-endian |
//!
//! `keys` is scanned by range (a prefix of the tree, resumed after a key); `doc_events`,
//! `doc_states` and `inbox` by prefix (one document, one collection, one user); `events`,
//! `nodes` and `doc_states` are also read by point lookup. Nothing is ever deleted except
//! inbox entries.
//!
//! # Durability
//!
//! A commit is one RocksDB write batch, so it is atomic: after a crash the store holds all of
//! a batch or none of it, and the tree, the document index, the snapshots and the inboxes
//! never disagree. By default ([`StoreOptions::sync_writes`]) a commit returns only once the
//! write-ahead log is fsynced: a server acknowledges events to a client when its commit
//! returns, and an acknowledgement the server then forgets in a power cut would make the
//! client drop events nobody holds. Acknowledged means durable.
//!
//! # Format
//!
//! The `meta` family records [`FORMAT_VERSION`] when the store is created; opening a store
//! with another version fails with [`StoreError::UnknownFormat`] instead of misreading it.

pub(crate) mod encoding;
pub mod error;
mod open;
pub mod rocks;

pub use error::StoreError;
pub use rocks::{RocksStore, StoreOptions, FORMAT_VERSION};
