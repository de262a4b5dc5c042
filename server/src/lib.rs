//! The Tideline reference server.
//!
//! Not built yet: the server issue (hyper + tokio, RocksDB, auth, groups) fills this crate in.
//! Until then it only links the protocol crate, so the workspace layout is in place.
