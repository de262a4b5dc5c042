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
//! - [`sync`]: the reconciliation walk, as an initiator and a stateless responder.
//! - [`merge`]: replaying a document's events into its state and its conflicts.
//! - [`replica`]: applying events to a stored replica: tree, documents and inboxes together.
//! - [`http`]: the HTTP contract of chapter 15: paths, content types, the error header, the
//!   status of each error code, live records, and a user's open conflicts.
//! - [`sim`]: seeded generators of events, for tests, simulations and benchmarks.
//! - [`simulation`]: the server's request handling, and a seeded simulation of a server and
//!   many replicas over a faulty network that checks the protocol's promises.
//! - [`conformance`]: the tests every [`store::Store`] implementation must pass.

pub mod conformance;
pub mod event;
pub mod http;
pub mod limits;
pub mod merge;
pub mod replica;
pub mod sim;
pub mod simulation;
pub mod store;
pub mod sync;
pub mod tree;
pub mod value;
pub mod wire;
