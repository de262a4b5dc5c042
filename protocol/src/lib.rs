//! The Tideline protocol: everything two replicas need to agree on, with no I/O, no clock and
//! no randomness of its own (time and random bytes are arguments).
//!
//! The modules follow the order of `spec/protocol.md`:
//!
//! - [`limits`]: every limit on input from outside, one constant each.
//! - [`value`]: JSON values and their canonical encoding.
//! - [`event`]: events, their ids, hybrid logical clock timestamps and document ids.
//! - [`key`]: §5.1, event keys, their nibbles and the paths (prefixes) of the tree.
//! - [`digest`]: §5.2, the digest of a set of keys and the leaf or branch node that defines it.
//! - [`store`]: the storage trait the tree and the merge read and write, an in-memory store, and
//!   the overlay that gathers one atomic batch (no spec chapter: how the reference keeps §5.4
//!   and §9.8).
//! - [`tree`]: §5.3–5.4, views of a prefix and insertion, through a store; `tree::` also
//!   re-exports [`key`] and [`digest`], so it names all of chapter 5.
//! - [`wire`]: frames, items, fingerprints and error codes.
//! - [`sync`]: the reconciliation walk, as an initiator and a stateless responder.
//! - [`merge`]: replaying a document's events into its state and its conflicts.
//! - [`replica`]: applying events to a stored replica: tree, documents and inboxes together.
//! - [`sim`]: seeded generators of events, for tests, simulations and benchmarks.
//! - [`simulation`]: the server's request handling, and a seeded simulation of a server and
//!   many replicas over a faulty network that checks the protocol's promises.
//! - [`conformance`]: the tests every [`store::Store`] implementation must pass.

pub mod conformance;
pub mod digest;
pub mod event;
pub mod key;
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
