//! Test support for Tideline, shared by every crate's tests, the benchmarks and the fuzz
//! targets. Nothing here is part of the protocol: it builds inputs and checks outputs.
//!
//! - [`events`]: builders for events, so a test names only the fields it cares about.

pub mod events;
