//! The Tideline reference client: a local replica, sync, and the `tideline` CLI.
//!
//! Not built yet: the server and client issue fills this crate in. Until then it only links the
//! protocol crate, so the workspace layout is in place.
