//! Damage to the write-ahead log fails the open loudly; it never silently drops acknowledged
//! batches. Only an incomplete last record, which a crash mid-write leaves and which was never
//! acknowledged, is tolerated.
//!
//! A store's files are copied while it is open (as a SIGKILL would leave them: the batches
//! live only in the log, not yet in table files), then the copy is damaged and opened.

use std::fs;
use std::path::{Path, PathBuf};

use tempfile::TempDir;
use tideline_protocol::replica::apply;
use tideline_protocol::store::ReadStore;
use tideline_store::{RocksStore, StoreError, StoreOptions};
use tideline_testkit::events::{doc_id, object, EventBuilder, WALL_MS};

/// Batches written, each its own synced commit and so its own log record.
const BATCHES: u64 = 1000;

/// A store holding [`BATCHES`] acknowledged events, and a copy of its files taken while it is
/// still open, so that the copy's events are only in its write-ahead log.
fn store_with_logged_events() -> (TempDir, PathBuf, Vec<tideline_protocol::event::EventId>) {
    let dir = TempDir::new().expect("temp dir");
    let live = dir.path().join("live");
    let mut store = RocksStore::open(&live, StoreOptions { sync_writes: true }).expect("open");
    let mut ids = Vec::new();
    for n in 0..BATCHES {
        let event = EventBuilder::create(object([(
            "n",
            tideline_protocol::value::Value::Int(n as i64),
        )]))
        .target(doc_id(n))
        .at(WALL_MS + n)
        .seal();
        ids.push(event.id());
        apply(&mut store, &[event]).expect("apply");
    }
    let copy = dir.path().join("copy");
    copy_dir(&live, &copy);
    drop(store);
    (dir, copy, ids)
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("create copy");
    for entry in fs::read_dir(from).expect("read store dir") {
        let entry = entry.expect("entry");
        fs::copy(entry.path(), to.join(entry.file_name())).expect("copy file");
    }
}

/// The store's write-ahead log files (`NNNNNN.log`; `LOG` is the info log), largest first.
fn wal_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<(u64, PathBuf)> = fs::read_dir(dir)
        .expect("read dir")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "log"))
        .map(|path| (fs::metadata(&path).expect("metadata").len(), path))
        .collect();
    files.sort_by_key(|file| std::cmp::Reverse(file.0));
    files.into_iter().map(|(_, path)| path).collect()
}

fn largest_wal(dir: &Path) -> PathBuf {
    let files = wal_files(dir);
    let wal = files
        .first()
        .expect("the copy has a write-ahead log")
        .clone();
    let len = fs::metadata(&wal).expect("metadata").len();
    assert!(
        len > 100_000,
        "the log holds the {BATCHES} batches ({len} bytes); the test needs them there"
    );
    wal
}

fn count_held(store: &RocksStore, ids: &[tideline_protocol::event::EventId]) -> usize {
    ids.iter()
        .filter(|id| store.has_event(id).expect("read"))
        .count()
}

#[test]
fn an_undamaged_copy_holds_every_acknowledged_event() {
    // Guards the test's own setup: if the copy lost events without damage, the damage tests
    // below would prove nothing.
    let (_dir, copy, ids) = store_with_logged_events();
    largest_wal(&copy);
    let store = RocksStore::open(&copy, StoreOptions::default()).expect("open the copy");
    assert_eq!(count_held(&store, &ids), ids.len());
}

#[test]
fn a_flipped_byte_in_the_middle_of_the_log_fails_the_open() {
    // Guards against RocksDB's default point-in-time recovery, which replays up to the damage
    // and silently drops every acknowledged batch after it.
    let (_dir, copy, _ids) = store_with_logged_events();
    let wal = largest_wal(&copy);
    let mut bytes = fs::read(&wal).expect("read log");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x5A;
    fs::write(&wal, &bytes).expect("write log");

    let error = RocksStore::open(&copy, StoreOptions::default())
        .expect_err("a damaged log must fail the open");
    let message = error.to_string();
    assert!(matches!(error, StoreError::Damaged { .. }), "{message}");
    assert!(
        message.to_lowercase().contains("corruption"),
        "the error says the store is damaged: {message}"
    );
    let name = wal
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    assert!(
        message.contains(&name),
        "the error names the damaged file {name}: {message}"
    );
}

#[test]
fn an_incomplete_last_record_is_tolerated_and_loses_only_that_record() {
    // Guards the other side: a crash in the middle of a log write leaves a torn last record,
    // which was never acknowledged; the store must still open, with everything before it.
    let (_dir, copy, ids) = store_with_logged_events();
    let wal = largest_wal(&copy);
    let len = fs::metadata(&wal).expect("metadata").len();
    let file = fs::OpenOptions::new()
        .write(true)
        .open(&wal)
        .expect("open log");
    file.set_len(len - 10).expect("truncate log");
    drop(file);

    let store = RocksStore::open(&copy, StoreOptions::default()).expect("open the torn copy");
    let held = count_held(&store, &ids);
    assert_eq!(held, ids.len() - 1, "only the torn last batch is gone");
    assert!(!store.has_event(ids.last().expect("ids")).expect("read"));
}
