//! Opening a [`RocksStore`]: the database and column family options, the format check, creating
//! a new store, and the error that names a damaged file.

use std::path::Path as FsPath;

use rocksdb::{
    BlockBasedOptions, ColumnFamilyDescriptor, DBCompressionType, DBRecoveryMode, Options,
    WriteOptions, DB,
};

use crate::error::StoreError;
use crate::rocks::{
    RocksStore, StoreOptions, CF_EVENTS, CF_META, COLUMN_FAMILIES, FORMAT_VERSION,
    META_FORMAT_VERSION,
};

/// Options of the whole database, for opening and for creating.
fn db_options(create: bool) -> Options {
    let mut options = Options::default();
    options.create_if_missing(create);
    options.create_missing_column_families(create);
    // Torn or damaged files fail the open instead of silently losing records.
    options.set_paranoid_checks(true);
    // RocksDB's default WAL recovery (point in time) stops replaying at the first damaged
    // record and carries on with what came before: a flipped byte in the middle of the log
    // would silently drop every acknowledged batch after it. Tolerating only an incomplete
    // last record (a write cut short by a crash, never acknowledged because its fsync had not
    // returned) and failing the open on any other damage keeps "acknowledged means durable"
    // and makes damage loud.
    options.set_wal_recovery_mode(DBRecoveryMode::TolerateCorruptedTailRecords);
    options
}

/// Options of one column family.
fn column_family_options(name: &str) -> Options {
    let mut options = Options::default();
    // The build has no compression libraries; say so, rather than rely on RocksDB falling back
    // from its Snappy default when Snappy is missing.
    options.set_compression_type(DBCompressionType::None);
    if name == CF_EVENTS {
        // Every event that arrives is first looked up to skip duplicates, and during a sync
        // most are new: a bloom filter answers those misses without reading a block.
        let mut table = BlockBasedOptions::default();
        table.set_bloom_filter(10.0, false);
        options.set_block_based_table_factory(&table);
    }
    options
}

fn descriptors<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<ColumnFamilyDescriptor> {
    names
        .into_iter()
        .map(|name| ColumnFamilyDescriptor::new(name, column_family_options(name)))
        .collect()
}

/// The error for a failed open: [`StoreError::Damaged`], naming the file, when RocksDB found
/// damage, else RocksDB's own error.
fn open_error(path: &FsPath, error: rocksdb::Error) -> StoreError {
    if error.kind() != rocksdb::ErrorKind::Corruption {
        return StoreError::Rocks(error);
    }
    StoreError::Damaged {
        path: path.to_owned(),
        file: damaged_file(path),
        detail: error.into_string(),
    }
}

/// Which file RocksDB found damaged. Its error says only what was wrong; its info log (`LOG`)
/// names the file, in a line `<file>: dropping <n> bytes; Corruption: ...` for a log record.
/// Without such a line, the write-ahead log files present are the suspects.
fn damaged_file(path: &FsPath) -> String {
    let info_log = std::fs::read_to_string(path.join("LOG")).unwrap_or_default();
    let named = info_log
        .lines()
        .rev()
        .find_map(|line| line.split_once(": dropping ").map(|(head, _)| head))
        .and_then(|head| head.rsplit(' ').next())
        .filter(|file| !file.is_empty());
    if let Some(file) = named {
        return file.to_owned();
    }
    let mut logs: Vec<String> = std::fs::read_dir(path)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".log"))
        .collect();
    logs.sort();
    match logs.is_empty() {
        true => "a table or manifest file".to_owned(),
        false => format!("one of the write-ahead log files {}", logs.join(", ")),
    }
}

impl RocksStore {
    /// Opens the store at `path`, creating it (and the directory) when there is none.
    ///
    /// Fails with [`StoreError::UnknownFormat`] for a store of another format version, with
    /// [`StoreError::NotAStore`] for a RocksDB database that holds other data, and with
    /// [`StoreError::Rocks`] when RocksDB cannot open it (including when another process has
    /// it open).
    pub fn open(path: &FsPath, options: StoreOptions) -> Result<RocksStore, StoreError> {
        // RocksDB writes CURRENT when it creates a database and never removes it.
        if path.join("CURRENT").exists() {
            if let Some(store) = Self::open_existing(path, &options)? {
                return Ok(store);
            }
        }
        Self::create(path, options)
    }

    /// Opens a database that exists; `None` when it is empty and has no format record, which
    /// is what a creation cut short leaves behind.
    fn open_existing(
        path: &FsPath,
        options: &StoreOptions,
    ) -> Result<Option<RocksStore>, StoreError> {
        // Open whatever column families the database has, so that a store of a newer format
        // with more of them still opens far enough for its version to be read and reported.
        let listed = DB::list_cf(&Options::default(), path)?;
        let db = DB::open_cf_descriptors(
            &db_options(false),
            path,
            descriptors(listed.iter().map(String::as_str)),
        )
        .map_err(|error| open_error(path, error))?;
        let version = match db.cf_handle(CF_META) {
            Some(meta) => db.get_cf(meta, META_FORMAT_VERSION)?,
            None => None,
        };
        let Some(version) = version else {
            for name in &listed {
                let cf = db.cf_handle(name).expect("every listed family was opened");
                let mut iterator = db.raw_iterator_cf(cf);
                iterator.seek_to_first();
                iterator.status()?;
                if iterator.valid() {
                    return Err(StoreError::NotAStore {
                        path: path.to_owned(),
                        detail: format!(
                            "column family `{name}` holds data but there is no format record"
                        ),
                    });
                }
            }
            return Ok(None);
        };
        let bytes: [u8; 4] = version[..].try_into().map_err(|_| {
            StoreError::corrupt(
                "format record",
                format!("{} bytes where 4 belong", version.len()),
            )
        })?;
        let found = u32::from_be_bytes(bytes);
        if found != FORMAT_VERSION {
            return Err(StoreError::UnknownFormat {
                path: path.to_owned(),
                found,
                expected: FORMAT_VERSION,
            });
        }
        for name in COLUMN_FAMILIES {
            if db.cf_handle(name).is_none() {
                return Err(StoreError::corrupt(
                    "list of column families",
                    format!("`{name}` is missing from a store of format {FORMAT_VERSION}"),
                ));
            }
        }
        Ok(Some(RocksStore {
            db,
            options: options.clone(),
        }))
    }

    /// Creates the database and its column families, then writes the format record. A crash in
    /// between leaves an empty database without the record, which the next open finishes.
    fn create(path: &FsPath, options: StoreOptions) -> Result<RocksStore, StoreError> {
        let db = DB::open_cf_descriptors(&db_options(true), path, descriptors(COLUMN_FAMILIES))?;
        let mut write_options = WriteOptions::default();
        // The record decides whether the next open trusts this directory: always make it
        // durable, whatever the options say about commits.
        write_options.set_sync(true);
        let meta = db.cf_handle(CF_META).expect("created with the store");
        db.put_cf_opt(
            meta,
            META_FORMAT_VERSION,
            FORMAT_VERSION.to_be_bytes(),
            &write_options,
        )?;
        Ok(RocksStore { db, options })
    }
}
