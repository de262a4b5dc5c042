//! What can go wrong when opening, reading or writing a store.

use std::path::PathBuf;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// RocksDB itself failed: I/O, a full disk, missing permissions, or the store being open
    /// in another process (RocksDB holds a lock file while a store is open).
    #[error(
        "RocksDB failed: {0}; check the disk's free space and permissions, and that no other \
         process has this store open"
    )]
    Rocks(#[from] rocksdb::Error),

    /// RocksDB found damage while opening the store (a write-ahead log record or a table file
    /// whose checksum does not match). The open fails rather than go on with less than was
    /// acknowledged; the files are left as they are.
    #[error(
        "the store at {} is damaged: {file} failed its check ({detail}); nothing was changed. \
         Restore the store from a backup, or move it aside and sync a new store from a peer",
        path.display()
    )]
    Damaged {
        /// The store's directory.
        path: PathBuf,
        /// The damaged file, as RocksDB's own log names it, or the write-ahead log files present
        /// when it names none.
        file: String,
        /// RocksDB's description of the damage.
        detail: String,
    },

    /// A stored record does not decode or breaks an invariant the store keeps. The store can no
    /// longer be trusted.
    #[error(
        "the stored {what} is corrupt: {detail}; restore the store from a backup, or delete it \
         and sync it again from a peer"
    )]
    Corrupt {
        /// Which record: its column family and, where it helps, its key.
        what: String,
        /// What is wrong with it.
        detail: String,
    },

    /// The store was written in an on-disk format this build does not read.
    #[error(
        "the store at {} has format version {found}, but this build reads version {expected}; \
         open it with the Tideline build that wrote it, or move it aside and sync a new store \
         from a peer",
        path.display()
    )]
    UnknownFormat {
        /// The store's directory.
        path: PathBuf,
        /// The version the store records.
        found: u32,
        /// The version this build reads and writes.
        expected: u32,
    },

    /// The directory holds a RocksDB database with data but no Tideline format record: it is
    /// some other program's database, or not a store at all.
    #[error(
        "{} holds a RocksDB database that is not a Tideline store ({detail}); point the store \
         at another directory, or move this one aside",
        path.display()
    )]
    NotAStore {
        /// The directory.
        path: PathBuf,
        /// What gave it away.
        detail: String,
    },
}

impl StoreError {
    pub(crate) fn corrupt(what: impl Into<String>, detail: impl Into<String>) -> StoreError {
        StoreError::Corrupt {
            what: what.into(),
            detail: detail.into(),
        }
    }
}
