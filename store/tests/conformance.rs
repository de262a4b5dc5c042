//! The RocksDB store against the suite every store must pass, one test per check.

use tempfile::TempDir;
use tideline_store::{RocksStore, StoreOptions};

// Guards against the RocksDB store behaving differently from the in-memory store the protocol
// is tested with: key order, scans, atomic batches, documents and inboxes.
//
// Each store's directory must outlive the store; the closure keeps them all until the check
// has dropped every store it made.
tideline_testkit::store_conformance!({
    let mut dirs = Vec::new();
    move || {
        let dir = TempDir::new().expect("a temporary directory");
        let store = RocksStore::open(dir.path(), StoreOptions::default()).expect("a new store");
        dirs.push(dir);
        store
    }
});
