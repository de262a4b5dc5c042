//! Test support for Tideline, shared by every crate's tests, the benchmarks and the fuzz
//! targets. Nothing here is part of the protocol: it builds inputs and checks outputs.
//!
//! - [`events`]: builders for events, so a test names only the fields it cares about.
//! - [`generate`]: seeded generators of events, for tests, the simulation and benchmarks.
//! - [`conformance`]: the checks every [`Store`](tideline_protocol::store::Store) must pass,
//!   one `#[test]` each through [`store_conformance!`].
//! - [`simulation`]: a seeded simulation of a server and many replicas over a faulty network
//!   that checks the protocol's promises, and the deliberate bugs that prove its checks work.
//! - [`fuzz`]: what each fuzz target checks on one input, shared by `fuzz/` and the corpus
//!   replay in `tests/fuzz_corpus.rs`.
//! - [`reconcile`](mod@reconcile): a whole session between two stores in one process, through
//!   the real initiator and responder and encoded frames, with what it cost.
//! - [`vectors`]: reading, checking and blessing the JSON vectors of `spec/vectors/`.
//! - `server` (feature `server`): test servers, the binary as a child process and `run` in
//!   process, each on a loopback port and a temporary data directory, stopped on drop.

pub mod conformance;
pub mod events;
pub mod fuzz;
pub mod generate;
pub mod reconcile;
#[cfg(feature = "server")]
pub mod server;
pub mod simulation;
pub mod vectors;
