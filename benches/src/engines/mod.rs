//! One adapter per store, all behind the [`Engine`] trait.
//!
//! Every adapter is opened with the same cache budget and commits every write transaction
//! durably (fsynced before the call returns): Redwood with `Durability::Immediate`, redb with
//! its default `Immediate`, LMDB with its default sync-on-commit, SQLite in WAL mode with
//! `synchronous=FULL`, fjall with `PersistMode::SyncAll` on every batch, RocksDB with
//! `sync=true`. LMDB has no cache of its own: it reads through the OS page cache.

mod fjall;
mod lmdb;
mod redb;
mod redwood;
#[cfg(redwood_rocksdb)]
mod rocksdb;
mod sqlite;

use std::{os::unix::fs::MetadataExt, path::Path};

use anyhow::{Result, bail};

pub use crate::data::digest;

/// One key and its value, borrowed from the data set.
pub type Entry<'a> = (&'a [u8], &'a [u8]);

/// A store under test.
///
/// Writes take `&mut self`; reads take `&self` so that several threads can read at once.
#[expect(clippy::len_without_is_empty, reason = "the benchmark counts; emptiness is never asked")]
pub trait Engine: Send + Sync {
    /// Writes `entries` in one transaction and returns once it is durable.
    fn write(&mut self, entries: &[Entry<'_>]) -> Result<()>;
    /// Removes `keys` in one durable transaction; returns how many were present, or `None`
    /// when the store cannot tell without extra reads (an LSM's tombstones).
    fn remove(&mut self, keys: &[&[u8]]) -> Result<Option<u64>>;
    /// Calls `f` with a reader on one consistent snapshot.
    fn read(&self, f: &mut dyn FnMut(&dyn Reader) -> Result<()>) -> Result<()>;
    /// The number of entries, counted by the store.
    fn len(&self) -> Result<u64>;
    /// Runs the store's compaction; `Ok(false)` when the store has none.
    fn compact(&mut self) -> Result<bool>;
    /// Writes a consistent backup of the current database to the new file `path` (which does
    /// not exist) and returns once that file is durable (fsynced, and its directory too);
    /// `Ok(false)` when the store has no backup of its own (see [`backup_note`]).
    fn backup(&self, path: &Path) -> Result<bool>;
    /// Waits until the store's background work (flushes, compactions) is done, so that it does
    /// not slow the next engine's row. Not timed. The default has nothing to wait for.
    fn quiesce(&self) -> Result<()> {
        Ok(())
    }
}

/// Reads on one snapshot.
pub trait Reader {
    /// The [`digest`] of `key`'s value, or `None` when the key is absent: every byte of the
    /// value is read, as an application would, not only located.
    fn get(&self, key: &[u8]) -> Result<Option<u64>>;
    /// Reads up to `count` entries from `from` on, in key order, digesting each key and value;
    /// returns how many it read.
    fn range(&self, from: &[u8], count: usize) -> Result<usize>;
}

/// The stores this build can measure, in report order (Redwood first).
pub fn available() -> Vec<&'static str> {
    let mut names = vec!["redwood", "redwood-defaults", "redb", "lmdb", "sqlite", "fjall"];
    if cfg!(redwood_rocksdb) {
        names.push("rocksdb");
    }
    names
}

/// What each store's compaction row does, for the report.
pub fn compaction_note(name: &str) -> &'static str {
    match name {
        "redwood" | "redwood-defaults" => {
            "Database::compact: tables rewritten into the lowest free pages, then the files cut"
        }
        "redb" => "Database::compact",
        "lmdb" => "none (LMDB reuses free pages; it never shrinks in place)",
        "sqlite" => "VACUUM",
        "fjall" => "major_compact",
        "rocksdb" => "compact_range over all keys",
        _ => "",
    }
}

/// What each store's backup row does, for the report.
pub fn backup_note(name: &str) -> &'static str {
    match name {
        "redwood" | "redwood-defaults" => {
            "Database::backup_to_file: a CARv1 archive of every live page (hashed with sha2-256), \
             written as .partial, synced, renamed, the directory synced"
        }
        "redb" => "none (redb has no backup API; its savepoints live in the same file)",
        "lmdb" => {
            "mdb_env_copyfd2 without MDB_CP_COMPACT (heed's copy_to_file, a plain copy of the \
             map up to its last used page), then the file and its directory fsynced"
        }
        "sqlite" => {
            "the online backup API (sqlite3_backup_step(-1) from the writer connection into a new \
             database), then the file and its directory fsynced"
        }
        "fjall" => "none (fjall has no backup API)",
        "rocksdb" => "not measured (BackupEngine writes a directory of files; not wired in)",
        _ => "",
    }
}

/// Fsyncs the directory `path` is in, so that a new file's name is durable too (Redwood's
/// `backup_to_file` does it for its archive; the peers' copies do not).
pub(crate) fn sync_parent_dir(path: &Path) -> Result<()> {
    let dir = path.parent().filter(|dir| !dir.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}

/// Opens a fresh store `name` in the empty directory `dir` with `cache_bytes` of cache.
pub fn open(name: &str, dir: &Path, cache_bytes: u64) -> Result<Box<dyn Engine>> {
    Ok(match name {
        "redwood" => Box::new(redwood::RedwoodEngine::open(dir, cache_bytes)?),
        // What a user gets with no tuning: the run's cache budget is not applied.
        "redwood-defaults" => Box::new(redwood::RedwoodEngine::open_defaults(dir)?),
        "redb" => Box::new(redb::RedbEngine::open(dir, cache_bytes)?),
        "lmdb" => Box::new(lmdb::LmdbEngine::open(dir)?),
        "sqlite" => Box::new(sqlite::SqliteEngine::open(dir, cache_bytes)?),
        "fjall" => Box::new(fjall::FjallEngine::open(dir, cache_bytes)?),
        #[cfg(redwood_rocksdb)]
        "rocksdb" => Box::new(rocksdb::RocksEngine::open(dir, cache_bytes)?),
        other => bail!("unknown engine `{other}` (this build has: {})", available().join(", ")),
    })
}

/// The bytes the files under `dir` take on disk.
pub fn disk_bytes(dir: &Path) -> Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        // Allocated blocks, not lengths: a preallocated or sparse file counts what it takes.
        total += if meta.is_dir() { disk_bytes(&entry.path())? } else { meta.blocks() * 512 };
    }
    Ok(total)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Every adapter keeps what it is given: the same small script against each store.
    #[test]
    fn every_engine_stores_reads_ranges_and_removes() {
        for name in available() {
            let dir = tempfile::tempdir().unwrap();
            let mut engine = open(name, dir.path(), 8 << 20).unwrap();
            let keys: Vec<[u8; 3]> = (0..50u8).map(|i| [b'k', i / 10, i % 10]).collect();
            let entries: Vec<Entry<'_>> =
                keys.iter().map(|k| (&k[..], &b"value-of-some-length"[..])).collect();
            engine.write(&entries[..30]).unwrap();
            engine.write(&entries[30..]).unwrap();
            assert_eq!(engine.len().unwrap(), 50, "{name}");
            engine
                .read(&mut |reader| {
                    assert_eq!(
                        reader.get(&keys[7])?,
                        Some(digest(b"value-of-some-length")),
                        "{name}"
                    );
                    assert_eq!(reader.get(b"absent")?, None, "{name}");
                    assert_eq!(reader.range(&keys[45], 10)?, 5, "{name}");
                    assert_eq!(reader.range(&keys[0], 10)?, 10, "{name}");
                    Ok(())
                })
                .unwrap();
            let doomed: Vec<&[u8]> = keys[..25].iter().map(|k| &k[..]).collect();
            let removed = engine.remove(&doomed).unwrap();
            assert!(removed.is_none_or(|count| count == 25), "{name}: {removed:?}");
            assert_eq!(engine.len().unwrap(), 25, "{name}");
            engine.compact().unwrap();
            engine
                .read(&mut |reader| {
                    assert_eq!(reader.get(&keys[3])?, None, "{name}");
                    assert_eq!(
                        reader.get(&keys[30])?,
                        Some(digest(b"value-of-some-length")),
                        "{name}"
                    );
                    Ok(())
                })
                .unwrap();
            assert!(disk_bytes(dir.path()).unwrap() > 0, "{name}");
        }
    }

    /// Fifty entries, written by `name`'s adapter in `dir`, then backed up to `out`: whether the
    /// engine has a backup.
    pub(crate) fn back_up_fifty(name: &str, dir: &Path, out: &Path) -> bool {
        let mut engine = open(name, dir, 8 << 20).unwrap();
        let keys: Vec<[u8; 3]> = (0..50u8).map(|i| [b'k', i / 10, i % 10]).collect();
        let entries: Vec<Entry<'_>> = keys.iter().map(|k| (&k[..], &b"backed-up"[..])).collect();
        engine.write(&entries).unwrap();
        let backed_up = engine.backup(out).unwrap();
        // The store goes on after its backup.
        engine.write(&[(b"after", b"the backup")]).unwrap();
        assert_eq!(engine.len().unwrap(), 51, "{name}");
        backed_up
    }

    /// The stores with a backup write a file that holds the database as it was: Redwood's
    /// restores, SQLite's opens (LMDB's copy is opened in `lmdb.rs`'s test); redb and fjall
    /// have none.
    #[test]
    fn every_backup_holds_the_database() {
        for name in available() {
            let dir = tempfile::tempdir().unwrap();
            let out = tempfile::tempdir().unwrap();
            let path = out.path().join("backup.out");
            let backed_up = back_up_fifty(name, dir.path(), &path);
            let expected = matches!(name, "redwood" | "redwood-defaults" | "lmdb" | "sqlite");
            assert_eq!(backed_up, expected, "{name}");
            if !backed_up {
                assert!(!path.exists(), "{name}");
                continue;
            }
            assert!(std::fs::metadata(&path).unwrap().len() > 0, "{name}");
            match name {
                "redwood" | "redwood-defaults" => {
                    let restored = out.path().join("restored.redwood");
                    ::redwood::restore_backup_files(&[&path], &restored, |_, _| {}).unwrap();
                    let db = ::redwood::Database::open(&restored).unwrap();
                    let read = db.begin_read().unwrap();
                    let table = read.open_table("bench").unwrap();
                    assert_eq!(table.len(), 50, "{name}");
                    assert_eq!(
                        table.get([b'k', 4, 2]).unwrap().as_deref(),
                        Some(&b"backed-up"[..])
                    );
                }
                "sqlite" => {
                    let copy = rusqlite::Connection::open(&path).unwrap();
                    let count: i64 =
                        copy.query_row("SELECT COUNT(*) FROM kv", [], |row| row.get(0)).unwrap();
                    assert_eq!(count, 50);
                }
                _ => {}
            }
        }
    }
}
