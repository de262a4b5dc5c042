//! Test support for Tideline, shared by every crate's tests, the benchmarks and the fuzz
//! targets. Nothing here is part of the protocol: it builds inputs and checks outputs.
//!
//! - [`events`]: builders for events, so a test names only the fields it cares about.
//! - `server` (feature `server`): test servers, the binary as a child process and `run` in
//!   process, each on a loopback port and a temporary data directory, stopped on drop.

pub mod events;
#[cfg(feature = "server")]
pub mod server;
