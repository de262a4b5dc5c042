//! The Tideline protocol: everything two replicas need to agree on, with no I/O, no clock and
//! no randomness of its own (time and random bytes are arguments).
//!
//! The modules follow the order of `spec/protocol.md`:
//!
//! - [`limits`]: chapter 2, every limit on input from outside, one constant each, and the
//!   relations between them, checked at compile time.
//! - [`value`]: chapter 3, JSON values, their one canonical encoding, and its bounded decoder.
//! - [`event`]: chapter 4, one file per section: the encoding, validity, ids and canonical
//!   decoding, hybrid logical clock timestamps, document and replica ids, patches.
//! - [`key`]: §5.1, event keys, their nibbles and the paths (prefixes) of the tree.
//! - [`digest`]: §5.2, the digest of a set of keys and the leaf or branch node that defines it.
//! - [`store`]: the storage trait the tree and the merge read and write, an in-memory store, and
//!   the overlay that gathers one atomic batch (no spec chapter: how the reference keeps §5.4
//!   and §9.8).
//! - [`tree`]: §5.3–5.4, views of a prefix and insertion, through a store; `tree::` also
//!   re-exports [`key`] and [`digest`], so it names all of chapter 5.
//! - [`wire`]: chapters 6, 7 and 10, fingerprints and group ranges, frames and items, errors.
//! - [`sync`]: chapter 8, the reconciliation walk: the initiator, the frame budget, and the
//!   stateless [`sync::Responder`] every host drives (admission, then the answer).
//! - [`merge`]: chapter 9, one function per step: replay order, writes, conflicts, the
//!   provisional document, heads, resolution, and the state they produce.
//! - [`replica`]: applying events to a stored replica: tree, documents and inboxes together.
//! - [`http`]: the HTTP contract of chapter 15: paths, content types, the error header, the
//!   status of each error code, live records, and a user's open conflicts.
//! - [`write`](mod@write): writing a local event: its timestamp, a new document's id and its
//!   base, from the time and random bytes the host passes in.
//!
//! No two modules import each other. The imports form layers, each using only the ones above
//! it:
//!
//! 1. data and pure functions: [`limits`], [`value`], [`event`], [`key`], [`digest`], and
//!    [`merge`] (a function of a set of events, with no store);
//! 2. [`store`], which names the data it keeps (nodes, keys, events, document states);
//! 3. the logic that reads and writes through a store: [`tree`], [`replica`], [`write`](mod@write)
//!    and [`sync`] with its frames from [`wire`] (which needs only the data).
//!
//! Test support (seeded generators, the simulation, the store conformance suite) lives in the
//! `tideline-testkit` crate, not here.

pub mod digest;
pub mod event;
pub mod http;
pub mod key;
pub mod limits;
pub mod merge;
pub mod replica;
pub mod store;
pub mod sync;
pub mod tree;
pub mod value;
pub mod wire;
pub mod write;
