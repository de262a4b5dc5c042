//! The Tideline protocol: everything two replicas need to agree on, with no I/O, no clock and
//! no randomness of its own (time and random bytes are arguments).
//!
//! The modules follow the order of `spec/protocol.md`:
//!
//! - [`limits`]: every limit on input from outside, one constant each.
//! - [`value`]: JSON values and their canonical encoding.
//! - [`event`]: events, their ids, hybrid logical clock timestamps and document ids.
//! - [`tree`]: the per-group hash tree over event keys, and inserting into it.
//! - [`store`]: the storage trait the tree reads and writes, and an in-memory store.
//! - [`wire`]: frames, items, fingerprints and error codes.
//! - [`sync`]: the reconciliation walk: the initiator, and the stateless [`sync::Responder`]
//!   every host drives.
//! - [`merge`]: replaying a document's events into its state and its conflicts.
//! - [`replica`]: applying events to a stored replica: tree, documents and inboxes together.
//!
//! Test support (seeded generators, the simulation, the store conformance suite) lives in the
//! `tideline-testkit` crate, not here.

pub mod event;
pub mod limits;
pub mod merge;
pub mod replica;
pub mod store;
pub mod sync;
pub mod tree;
pub mod value;
pub mod wire;
