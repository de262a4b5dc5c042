//! Tideline benchmarks: the criterion micro-benchmarks live in `benches/`; this library is the
//! body of the bandwidth benchmark (`cargo run --release -p tideline-benches --bin bandwidth`).
//!
//! - [`app`]: the command line and what it runs.
//! - [`workload`]: two replicas' logs generated from a seed: patterns, sizes, splits.
//! - [`bulk`]: building a replica's store and tree in one pass, for 10^6 events and more.
//! - [`compact`]: an in-memory store that answers like `MemoryStore` in a fraction of its
//!   memory, so that two replicas of 10^7 events fit.
//! - [`session`]: a Tideline session in process, frame by frame, measured.
//! - [`baselines`]: naive (id, timestamp) exchange, cursor pull, negentropy, the lower bound.
//! - [`measure`]: what a protocol cost on each side, and time and heap accounting.
//! - [`case`]: one workload through every protocol, and the predefined suites.
//! - [`report`]: markdown and CSV.
//! - [`plot`]: SVG plots.
//! - [`http`]: Tideline against a running server over HTTP/1.1, counting socket bytes.
//! - [`revisions`]: the events-or-revisions model: storage and sync after an offline week.
//!
//! Errors are `anyhow`: this library is the binary's body, and its errors go to a person.

pub mod app;
pub mod baselines;
pub mod bulk;
pub mod case;
pub mod compact;
pub mod http;
pub mod measure;
pub mod plot;
pub mod report;
pub mod revisions;
pub mod session;
pub mod workload;
