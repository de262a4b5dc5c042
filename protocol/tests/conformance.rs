//! The in-memory store against the suite every store must pass, one test per check.

use tideline_protocol::store::MemoryStore;

// Guards the store the protocol's own tests and the simulation run on: key order, scans,
// atomic batches, documents and inboxes behave as every store's must.
tideline_testkit::store_conformance!(MemoryStore::new);
