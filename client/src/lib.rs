//! The Tideline reference client: a replica in a local folder that works offline, syncs with a
//! Tideline server over HTTP, and the `tideline` command built on it.
//!
//! - [`replica`]: [`Replica`], the folder (configuration and RocksDB store) and every offline
//!   operation: create, update, remove, get, find, conflicts, resolve, root. Writes take their
//!   time and random bytes from a [`WriteContext`] (the `_at` variants) or the system clock.
//! - [`sync`]: [`Replica::sync`] over `POST /v1/sync` and [`Replica::watch`] over `/v1/live`.
//! - [`http`]: the HTTP/1.1 connection, with a socket that counts every byte it carries.
//! - [`config`]: `config.json`: server, token, replica id and the hybrid logical clock.
//! - [`token`]: the claims of the client's own JWT, read without checking its signature.
//! - [`json`]: between typed JSON and the protocol's canonical values and patches.
//! - [`error`]: [`ClientError`], with a stable code per kind.
//!
//! ```no_run
//! # async fn example() -> Result<(), tideline_client::ClientError> {
//! use tideline_client::Replica;
//!
//! let mut replica = Replica::init("notes-replica", "http://127.0.0.1:7700", "<token>")?;
//! let written = replica.create("team", "notes", &serde_json::json!({"title": "Tides"}))?;
//! replica.update(
//!     "team",
//!     "notes",
//!     written.doc,
//!     &serde_json::json!({"title": "Tide tables", "tags.first": "sea"}),
//! )?;
//! let report = replica.sync().await?;
//! println!("{} rounds, {} events sent", report.rounds, report.events_sent);
//! # Ok(())
//! # }
//! ```

pub mod config;
pub mod error;
pub mod http;
pub mod json;
pub mod replica;
pub mod sync;
pub mod token;

pub use error::ClientError;
pub use replica::{system_context, ConflictEntry, Replica, Written};
pub use sync::{SyncReport, WatchEvent};
pub use tideline_protocol::write::WriteContext;
