//! SQLite through rusqlite (bundled): WAL mode, `synchronous=FULL`, a `WITHOUT ROWID` table.

use std::{path::Path, sync::Mutex};

use anyhow::{Result, bail, ensure};
use rusqlite::{
    Connection, OptionalExtension,
    backup::{Backup, StepResult},
    params,
};

use super::{Engine, Entry, Reader};

/// SQLite with the cache budget as each connection's page cache (SQLite's caches are per
/// connection, so N reader threads may hold N budgets; the RSS table shows it). Readers take a
/// connection from a pool and put it back, so a read pays for a transaction, not for opening
/// a connection (a connection is not shared between threads).
pub struct SqliteEngine {
    path: std::path::PathBuf,
    cache_kib: u64,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
}

impl SqliteEngine {
    pub fn open(dir: &Path, cache_bytes: u64) -> Result<SqliteEngine> {
        let path = dir.join("bench.sqlite");
        let cache_kib = cache_bytes / 1024;
        let writer = connect(&path, cache_kib)?;
        writer.execute_batch(
            "CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID;",
        )?;
        Ok(SqliteEngine { path, cache_kib, writer: Mutex::new(writer), readers: Mutex::default() })
    }

    fn writer(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.writer.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn connect(path: &Path, cache_kib: u64) -> Result<Connection> {
    let connection = Connection::open(path)?;
    connection.pragma_update(None, "journal_mode", "WAL")?;
    connection.pragma_update(None, "synchronous", "FULL")?;
    connection.pragma_update(None, "cache_size", -(cache_kib as i64))?;
    Ok(connection)
}

impl Engine for SqliteEngine {
    fn write(&mut self, entries: &[Entry<'_>]) -> Result<()> {
        let mut connection = self.writer();
        let transaction = connection.transaction()?;
        {
            let mut insert =
                transaction.prepare_cached("INSERT OR REPLACE INTO kv (k, v) VALUES (?1, ?2)")?;
            for (key, value) in entries {
                insert.execute(params![key, value])?;
            }
        }
        transaction.commit()?;
        Ok(())
    }

    fn remove(&mut self, keys: &[&[u8]]) -> Result<Option<u64>> {
        let mut connection = self.writer();
        let transaction = connection.transaction()?;
        let mut removed = 0;
        {
            let mut delete = transaction.prepare_cached("DELETE FROM kv WHERE k = ?1")?;
            for key in keys {
                removed += delete.execute(params![key])? as u64;
            }
        }
        transaction.commit()?;
        Ok(Some(removed))
    }

    fn read(&self, f: &mut dyn FnMut(&dyn Reader) -> Result<()>) -> Result<()> {
        let pooled = self.readers.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).pop();
        let connection = match pooled {
            Some(connection) => connection,
            None => connect(&self.path, self.cache_kib)?,
        };
        {
            let transaction = connection.unchecked_transaction()?;
            f(&SqliteReader { connection: &transaction })?;
            transaction.commit()?;
        }
        self.readers.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(connection);
        Ok(())
    }

    fn len(&self) -> Result<u64> {
        let count: i64 =
            self.writer().query_row("SELECT COUNT(*) FROM kv", [], |row| row.get(0))?;
        Ok(count as u64)
    }

    fn compact(&mut self) -> Result<bool> {
        let connection = self.writer();
        connection.execute_batch("VACUUM;")?;
        connection.pragma_update(None, "wal_checkpoint", "TRUNCATE")?;
        Ok(true)
    }

    /// The online backup API from the writer connection into a new database at `path`, in one
    /// `sqlite3_backup_step(-1)` (every page in one step: nothing writes meanwhile, and
    /// stepping 100 pages at a time only adds lock round trips). The destination commits with
    /// SQLite's default `synchronous=FULL`; the file and its directory are fsynced again here
    /// all the same, so the row's durability does not rest on a default.
    fn backup(&self, path: &Path) -> Result<bool> {
        ensure!(!path.exists(), "{} exists", path.display());
        let source = self.writer();
        let mut destination = Connection::open(path)?;
        {
            let backup = Backup::new(&source, &mut destination)?;
            match backup.step(-1)? {
                StepResult::Done => {}
                other => bail!("sqlite3_backup_step(-1) stopped with {other:?}"),
            }
        }
        destination.close().map_err(|(_, error)| error)?;
        std::fs::File::open(path)?.sync_all()?;
        super::sync_parent_dir(path)?;
        Ok(true)
    }
}

struct SqliteReader<'c> {
    connection: &'c Connection,
}

impl Reader for SqliteReader<'_> {
    fn get(&self, key: &[u8]) -> Result<Option<u64>> {
        let mut select = self.connection.prepare_cached("SELECT v FROM kv WHERE k = ?1")?;
        let length = select
            .query_row(params![key], |row| {
                let value = row.get_ref(0)?.as_blob()?;
                Ok(super::digest(value))
            })
            .optional()?;
        Ok(length)
    }

    fn range(&self, from: &[u8], count: usize) -> Result<usize> {
        let mut select = self
            .connection
            .prepare_cached("SELECT k, v FROM kv WHERE k >= ?1 ORDER BY k LIMIT ?2")?;
        let mut rows = select.query(params![from, count as i64])?;
        let mut seen = 0;
        while let Some(row) = rows.next()? {
            let (key, value) = (row.get_ref(0)?.as_blob()?, row.get_ref(1)?.as_blob()?);
            std::hint::black_box(super::digest(key) ^ super::digest(value));
            seen += 1;
        }
        Ok(seen)
    }
}
