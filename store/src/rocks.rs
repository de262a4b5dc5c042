//! [`RocksStore`]: the protocol's [`Store`] on RocksDB, one column family per kind of record.

use std::path::Path as FsPath;

use rocksdb::{ColumnFamily, ReadOptions, WriteBatch, WriteOptions, DB};
use tideline_protocol::event::{DocId, EventId};
use tideline_protocol::limits::EVENT_BYTES_MAX;
use tideline_protocol::merge::{ConflictId, DocKey, DocState};
use tideline_protocol::store::{keys_range, Batch, ReadStore, Store};
use tideline_protocol::tree::{Key, Node, Path};

use crate::encoding::{
    collection_prefix, decode, doc_entry, doc_event_entry, encode, id_of_entry, inbox_entry,
    key_entry, key_of_entry, name_is_storable, name_prefix, node_entry, node_problem, prefix_end,
    ID_BYTES, TARGET_BYTES,
};
use crate::error::StoreError;

/// The on-disk format this build reads and writes. Bump it with any change to a column
/// family's key or value layout, and refuse the old one (or migrate it) explicitly.
pub const FORMAT_VERSION: u32 = 1;

pub(crate) const CF_EVENTS: &str = "events";
pub(crate) const CF_KEYS: &str = "keys";
pub(crate) const CF_NODES: &str = "nodes";
pub(crate) const CF_DOC_EVENTS: &str = "doc_events";
pub(crate) const CF_DOC_STATES: &str = "doc_states";
pub(crate) const CF_INBOX: &str = "inbox";
pub(crate) const CF_META: &str = "meta";

/// Every column family a store has, besides RocksDB's `default`, which stays empty.
pub(crate) const COLUMN_FAMILIES: [&str; 7] = [
    CF_EVENTS,
    CF_KEYS,
    CF_NODES,
    CF_DOC_EVENTS,
    CF_DOC_STATES,
    CF_INBOX,
    CF_META,
];

/// The `meta` record that holds [`FORMAT_VERSION`], as 4 bytes big-endian.
pub(crate) const META_FORMAT_VERSION: &[u8] = b"format_version";

/// How to open a [`RocksStore`].
#[derive(Clone, Debug)]
pub struct StoreOptions {
    /// Whether [`Store::commit`] returns only after RocksDB has fsynced its write-ahead log.
    ///
    /// With `true` (the default), a commit that returned survives a power cut: a server may
    /// acknowledge events to a client, and a client may tell its user "saved", as soon as the
    /// commit returns. With `false`, a commit reaches the operating system but not the disk, so
    /// it survives the process crashing but not the machine; call [`RocksStore::flush_wal`]
    /// before acknowledging anything. Tests and bulk imports use `false` for speed.
    pub sync_writes: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions { sync_writes: true }
    }
}

/// A replica's store in a RocksDB database: event bytes, key index, tree nodes, document index,
/// document states and conflict inboxes, each in its own column family (see the crate docs).
///
/// Reads take `&self` and see every commit that returned before them; each commit is one
/// RocksDB write batch, so a read sees all of a batch or none of it.
pub struct RocksStore {
    /// The database; every column family of [`COLUMN_FAMILIES`] is open in it (checked when
    /// it is opened, in `open.rs`).
    pub(crate) db: DB,
    pub(crate) options: StoreOptions,
}

impl std::fmt::Debug for RocksStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RocksStore")
            .field("path", &self.path())
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl RocksStore {
    /// The store's directory.
    pub fn path(&self) -> &FsPath {
        self.db.path()
    }

    /// The options the store was opened with.
    pub fn options(&self) -> &StoreOptions {
        &self.options
    }

    /// Fsyncs the write-ahead log, making every commit so far durable. Needed only when the
    /// store was opened with [`StoreOptions::sync_writes`] off.
    pub fn flush_wal(&self) -> Result<(), StoreError> {
        self.db.flush_wal(true)?;
        Ok(())
    }

    /// Makes every commit durable and closes the store, reporting a failure to sync that
    /// dropping the store would have to ignore.
    pub fn close(self) -> Result<(), StoreError> {
        self.flush_wal()
        // `self` drops here: RocksDB waits for its background work and closes its files.
    }

    fn cf(&self, name: &str) -> &ColumnFamily {
        self.db
            .cf_handle(name)
            .expect("every column family is opened with the store")
    }

    /// Visits each entry whose key starts with `prefix`, in key order, until `visit` returns
    /// `false`.
    fn scan_prefix(
        &self,
        cf_name: &str,
        prefix: &[u8],
        mut visit: impl FnMut(&[u8], &[u8]) -> Result<bool, StoreError>,
    ) -> Result<(), StoreError> {
        let mut read_options = ReadOptions::default();
        if let Some(end) = prefix_end(prefix) {
            read_options.set_iterate_upper_bound(end);
        }
        let mut iterator = self.db.raw_iterator_cf_opt(self.cf(cf_name), read_options);
        iterator.seek(prefix);
        while let (Some(key), Some(value)) = (iterator.key(), iterator.value()) {
            debug_assert!(key.starts_with(prefix));
            if !visit(key, value)? {
                return Ok(());
            }
            iterator.next();
        }
        iterator.status()?;
        Ok(())
    }
}

impl Drop for RocksStore {
    fn drop(&mut self) {
        if !self.options.sync_writes {
            // Best effort: a drop cannot report a failure, and [`RocksStore::close`] exists for
            // callers who need to know. With sync writes every commit is already on disk.
            let _ = self.db.flush_wal(true);
        }
    }
}

impl ReadStore for RocksStore {
    type Error = StoreError;

    fn node(&self, group: &str, address: &Path) -> Result<Option<Node>, StoreError> {
        if !name_is_storable(group) {
            return Ok(None);
        }
        let Some(bytes) = self
            .db
            .get_pinned_cf(self.cf(CF_NODES), node_entry(group, address))?
        else {
            return Ok(None);
        };
        let what = || format!("node of group `{group}` at {address:?}");
        let node: Node = decode(what, &bytes)?;
        if let Some(problem) = node_problem(address, &node) {
            return Err(StoreError::corrupt(what(), problem));
        }
        Ok(Some(node))
    }

    fn keys(
        &self,
        group: &str,
        prefix: &Path,
        after: Option<&Key>,
        limit: usize,
    ) -> Result<Vec<Key>, StoreError> {
        if limit == 0 || !name_is_storable(group) {
            return Ok(Vec::new());
        }
        let Some(range) = keys_range(prefix, after) else {
            return Ok(Vec::new());
        };
        let group_prefix = name_prefix(group);
        // Entries are the group's prefix and 44 key bytes, so an entry with a 0x00 appended is
        // the smallest byte string after it and before every later entry: it turns an excluded
        // start, and the included end, into RocksDB's inclusive seek and exclusive upper bound.
        let entry_after = |key: &Key| {
            let mut entry = key_entry(group, key);
            entry.push(0x00);
            entry
        };
        let start = if range.start_excluded {
            entry_after(&range.start)
        } else {
            key_entry(group, &range.start)
        };
        let end = entry_after(&range.end);
        let mut read_options = ReadOptions::default();
        read_options.set_iterate_upper_bound(end);
        let mut iterator = self.db.raw_iterator_cf_opt(self.cf(CF_KEYS), read_options);
        iterator.seek(&start);
        // `limit` may be `usize::MAX`: let the vector grow as it needs.
        let mut keys = Vec::new();
        while let (Some(entry), Some(value)) = (iterator.key(), iterator.value()) {
            debug_assert!(entry.starts_with(&group_prefix));
            let key = key_of_entry(group_prefix.len(), entry)?;
            if !value.is_empty() {
                return Err(StoreError::corrupt(
                    format!("key index entry {key:?} of group `{group}`"),
                    format!("{} value bytes where there are none", value.len()),
                ));
            }
            if !prefix.contains(&key) {
                return Err(StoreError::corrupt(
                    format!("key index entry {key:?} of group `{group}`"),
                    format!("found while scanning {prefix:?}, which does not contain it"),
                ));
            }
            keys.push(key);
            if keys.len() == limit {
                break;
            }
            iterator.next();
        }
        iterator.status()?;
        Ok(keys)
    }

    fn event(&self, id: &EventId) -> Result<Option<Vec<u8>>, StoreError> {
        let Some(bytes) = self.db.get_pinned_cf(self.cf(CF_EVENTS), id.0)? else {
            return Ok(None);
        };
        if bytes.is_empty() || bytes.len() > EVENT_BYTES_MAX {
            return Err(StoreError::corrupt(
                format!("event {id}"),
                format!(
                    "{} bytes, outside 1 to {EVENT_BYTES_MAX} that an event has",
                    bytes.len()
                ),
            ));
        }
        Ok(Some(bytes.to_vec()))
    }

    fn has_event(&self, id: &EventId) -> Result<bool, StoreError> {
        Ok(self.db.get_pinned_cf(self.cf(CF_EVENTS), id.0)?.is_some())
    }

    fn doc_events(&self, doc: &DocKey) -> Result<Vec<EventId>, StoreError> {
        if !name_is_storable(&doc.group) || !name_is_storable(&doc.collection) {
            return Ok(Vec::new());
        }
        let prefix = doc_entry(doc);
        let mut ids = Vec::new();
        self.scan_prefix(CF_DOC_EVENTS, &prefix, |entry, value| {
            let what = "document index entry";
            let id = EventId(id_of_entry::<ID_BYTES>(what, prefix.len(), entry)?);
            if !value.is_empty() {
                return Err(StoreError::corrupt(
                    format!("{what} of {doc:?}"),
                    "a value where there is none",
                ));
            }
            ids.push(id);
            Ok(true)
        })?;
        Ok(ids)
    }

    fn doc_state(&self, doc: &DocKey) -> Result<Option<DocState>, StoreError> {
        if !name_is_storable(&doc.group) || !name_is_storable(&doc.collection) {
            return Ok(None);
        }
        match self
            .db
            .get_pinned_cf(self.cf(CF_DOC_STATES), doc_entry(doc))?
        {
            Some(bytes) => Ok(Some(decode(
                || format!("document state of {doc:?}"),
                &bytes,
            )?)),
            None => Ok(None),
        }
    }

    fn docs(&self, group: &str, collection: &str) -> Result<Vec<(DocKey, DocState)>, StoreError> {
        if !name_is_storable(group) || !name_is_storable(collection) {
            return Ok(Vec::new());
        }
        let prefix = collection_prefix(group, collection);
        let mut docs = Vec::new();
        self.scan_prefix(CF_DOC_STATES, &prefix, |entry, value| {
            let target = DocId(id_of_entry::<TARGET_BYTES>(
                "document state key",
                prefix.len(),
                entry,
            )?);
            let doc = DocKey {
                group: group.to_owned(),
                collection: collection.to_owned(),
                target,
            };
            let state = decode(|| format!("document state of {doc:?}"), value)?;
            docs.push((doc, state));
            Ok(true)
        })?;
        Ok(docs)
    }

    fn inbox(&self, user: &str) -> Result<Vec<(ConflictId, DocKey)>, StoreError> {
        if !name_is_storable(user) {
            return Ok(Vec::new());
        }
        let prefix = name_prefix(user);
        let mut inbox = Vec::new();
        self.scan_prefix(CF_INBOX, &prefix, |entry, value| {
            let id = ConflictId(id_of_entry::<ID_BYTES>("inbox entry", prefix.len(), entry)?);
            let what = || format!("inbox entry {id} of user `{user}`");
            let doc: DocKey = decode(what, value)?;
            if !name_is_storable(&doc.group) || !name_is_storable(&doc.collection) {
                return Err(StoreError::corrupt(what(), "a document name holds 0x00"));
            }
            inbox.push((id, doc));
            Ok(true)
        })?;
        Ok(inbox)
    }
}

impl Store for RocksStore {
    fn commit(&mut self, batch: Batch) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut write = WriteBatch::default();
        let events = self.cf(CF_EVENTS);
        for (id, bytes) in &batch.events {
            assert!(!bytes.is_empty(), "an event has bytes");
            assert!(bytes.len() <= EVENT_BYTES_MAX, "an event fits the limit");
            write.put_cf(events, id.0, bytes);
        }
        let keys = self.cf(CF_KEYS);
        for (group, key) in &batch.keys {
            write.put_cf(keys, key_entry(group, key), []);
        }
        let nodes = self.cf(CF_NODES);
        for (group, address, node) in &batch.nodes {
            let problem = node_problem(address, node);
            assert!(problem.is_none(), "a node to write is sound: {problem:?}");
            write.put_cf(nodes, node_entry(group, address), encode(node));
        }
        let doc_events = self.cf(CF_DOC_EVENTS);
        for (doc, id) in &batch.doc_events {
            write.put_cf(doc_events, doc_event_entry(doc, id), []);
        }
        let doc_states = self.cf(CF_DOC_STATES);
        for (doc, state) in &batch.doc_states {
            write.put_cf(doc_states, doc_entry(doc), encode(state));
        }
        // Removals first: within one write batch a later write to a key wins, and the trait
        // says an entry removed and added by the same batch stays.
        let inbox = self.cf(CF_INBOX);
        for (user, id) in &batch.inbox_removed {
            write.delete_cf(inbox, inbox_entry(user, id));
        }
        for (user, id, doc) in &batch.inbox_added {
            write.put_cf(inbox, inbox_entry(user, id), encode(doc));
        }
        let mut write_options = WriteOptions::default();
        write_options.set_sync(self.options.sync_writes);
        self.db.write_opt(write, &write_options)?;
        Ok(())
    }
}

#[cfg(test)]
impl RocksStore {
    /// Writes raw bytes into a column family, bypassing every check, to play corruption.
    pub(crate) fn put_raw(&self, cf_name: &str, key: &[u8], value: &[u8]) {
        self.db.put_cf(self.cf(cf_name), key, value).unwrap();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rocksdb::Options;
    use tempfile::TempDir;
    use tideline_protocol::tree::{Digest, KEY_BYTES};

    fn fresh() -> (TempDir, RocksStore) {
        let dir = TempDir::new().unwrap();
        let store = RocksStore::open(dir.path(), StoreOptions::default()).unwrap();
        (dir, store)
    }

    fn doc() -> DocKey {
        DocKey {
            group: "g".into(),
            collection: "c".into(),
            target: DocId([7; TARGET_BYTES]),
        }
    }

    /// Guards against a store of another format version being opened and misread.
    #[test]
    fn unknown_format_is_refused() {
        let (dir, store) = fresh();
        store.put_raw(
            CF_META,
            META_FORMAT_VERSION,
            &(FORMAT_VERSION + 1).to_be_bytes(),
        );
        drop(store);
        let error = RocksStore::open(dir.path(), StoreOptions::default()).unwrap_err();
        assert!(
            matches!(
                error,
                StoreError::UnknownFormat { found, expected, .. }
                    if found == FORMAT_VERSION + 1 && expected == FORMAT_VERSION
            ),
            "{error:?}"
        );
        let message = error.to_string();
        assert!(message.contains("format version 2"), "{message}");
        assert!(message.contains("reads version 1"), "{message}");
    }

    /// Guards against a format record of the wrong size being read as some version.
    #[test]
    fn malformed_format_record_is_corrupt() {
        let (dir, store) = fresh();
        store.put_raw(CF_META, META_FORMAT_VERSION, b"v1");
        drop(store);
        let error = RocksStore::open(dir.path(), StoreOptions::default()).unwrap_err();
        assert!(matches!(error, StoreError::Corrupt { .. }), "{error:?}");
    }

    /// Guards against adopting, and adding column families to, another program's database.
    #[test]
    fn foreign_database_is_refused() {
        let dir = TempDir::new().unwrap();
        {
            let mut options = Options::default();
            options.create_if_missing(true);
            let db = DB::open(&options, dir.path()).unwrap();
            db.put(b"someone else's", b"data").unwrap();
        }
        let error = RocksStore::open(dir.path(), StoreOptions::default()).unwrap_err();
        assert!(matches!(error, StoreError::NotAStore { .. }), "{error:?}");
        let listed = DB::list_cf(&Options::default(), dir.path()).unwrap();
        assert_eq!(
            listed,
            ["default"],
            "the foreign database is left as it was"
        );
    }

    /// Guards against a creation cut short (database made, format record not yet written)
    /// leaving a directory that can never be opened.
    #[test]
    fn empty_database_without_record_is_finished() {
        let dir = TempDir::new().unwrap();
        {
            let mut options = Options::default();
            options.create_if_missing(true);
            DB::open(&options, dir.path()).unwrap();
        }
        let store = RocksStore::open(dir.path(), StoreOptions::default()).unwrap();
        drop(store);
        RocksStore::open(dir.path(), StoreOptions::default()).unwrap();
    }

    /// Guards against a damaged node panicking the tree walk instead of reporting corruption.
    #[test]
    fn corrupt_node_is_an_error() {
        let (_dir, store) = fresh();
        let address = Path::root();
        store.put_raw(CF_NODES, &node_entry("g", &address), &[0x07, 0xFF, 0xFF]);
        let error = store.node("g", &address).unwrap_err();
        assert!(matches!(error, StoreError::Corrupt { .. }), "{error:?}");
        // A node that decodes but that the tree could not have written.
        let empty_leaf = Node::Leaf {
            count: 0,
            digest: Digest([0; 32]),
        };
        store.put_raw(CF_NODES, &node_entry("g", &address), &encode(&empty_leaf));
        let error = store.node("g", &address).unwrap_err();
        assert!(
            error.to_string().contains("a leaf with no events"),
            "{error}"
        );
        // Trailing bytes after a valid node.
        let mut long = encode(&Node::Leaf {
            count: 1,
            digest: Digest([0; 32]),
        });
        long.push(0);
        store.put_raw(CF_NODES, &node_entry("g", &address), &long);
        assert!(store.node("g", &address).is_err());
    }

    /// Guards against damaged index entries and values being returned as data or panicking.
    #[test]
    fn corrupt_records_are_errors() {
        let (_dir, store) = fresh();
        // A key index entry one byte too long.
        let mut long = name_prefix("g");
        long.extend_from_slice(&[1; KEY_BYTES + 1]);
        store.put_raw(CF_KEYS, &long, &[]);
        let error = store.keys("g", &Path::root(), None, 10).unwrap_err();
        assert!(matches!(error, StoreError::Corrupt { .. }), "{error:?}");
        // An empty event.
        store.put_raw(CF_EVENTS, &[1; 32], &[]);
        assert!(store.event(&EventId([1; 32])).is_err());
        // A document state that does not decode, by point lookup and by scan.
        store.put_raw(CF_DOC_STATES, &doc_entry(&doc()), &[0xFF; 3]);
        assert!(store.doc_state(&doc()).is_err());
        assert!(store.docs("g", "c").is_err());
        // An inbox entry whose conflict id is cut short.
        let mut entry = name_prefix("alice");
        entry.extend_from_slice(&[3; 31]);
        store.put_raw(CF_INBOX, &entry, &encode(&doc()));
        assert!(store.inbox("alice").is_err());
        // A document index entry with a value.
        store.put_raw(
            CF_DOC_EVENTS,
            &doc_event_entry(&doc(), &EventId([2; 32])),
            b"x",
        );
        assert!(store.doc_events(&doc()).is_err());
    }

    /// Guards against a query name holding 0x00 reading another name's records: every key of
    /// group `g` starts with 0x00 bytes, so group `g\0` would otherwise be a prefix of them.
    #[test]
    fn names_with_separator_read_nothing() {
        let (_dir, mut store) = fresh();
        let key = Key([0; KEY_BYTES]);
        let mut batch = Batch::default();
        batch.keys.push(("g".into(), key));
        batch
            .inbox_added
            .push(("alice".into(), ConflictId([1; 32]), doc()));
        store.commit(batch).unwrap();
        assert_eq!(store.keys("g", &Path::root(), None, 10).unwrap(), [key]);
        assert!(store
            .keys("g\0", &Path::root(), None, 10)
            .unwrap()
            .is_empty());
        assert!(store.inbox("alice\0").unwrap().is_empty());
        assert!(store.node("g\0", &Path::root()).unwrap().is_none());
    }

    /// Guards against an inbox entry removed and added in one batch ending up removed, which
    /// happens if the removal is written after the addition.
    #[test]
    fn inbox_removal_comes_before_addition() {
        let (_dir, mut store) = fresh();
        let id = ConflictId([5; 32]);
        let mut first = Batch::default();
        first.inbox_added.push(("alice".into(), id, doc()));
        store.commit(first).unwrap();
        let mut second = Batch::default();
        second.inbox_removed.push(("alice".into(), id));
        second.inbox_added.push(("alice".into(), id, doc()));
        store.commit(second).unwrap();
        assert_eq!(store.inbox("alice").unwrap(), [(id, doc())]);
    }

    /// Guards against a second process opening a store that is open, which RocksDB's lock
    /// prevents; the error must say what to check rather than claim corruption.
    #[test]
    fn second_open_is_refused() {
        let (dir, _store) = fresh();
        let error = RocksStore::open(dir.path(), StoreOptions::default()).unwrap_err();
        assert!(matches!(error, StoreError::Rocks(_)), "{error:?}");
        assert!(error.to_string().contains("no other process"), "{error}");
    }
}
