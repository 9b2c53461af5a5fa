//! `Database`: opening, transactions, checkpoints, statistics and the fail-fast integrity
//! check. Its builder is in `builder.rs`, the write transaction and its tables in `write.rs`,
//! the read transaction and its tables in `read.rs`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use redwood_pager::{CheckpointMode, CheckpointOutcome, Durability, Pager, PagerStats};
use redwood_wal::Wal;

use crate::builder::Builder;
use crate::error::Result;
use crate::read::ReadTransaction;
use crate::triggers::TableTriggers;
use crate::write::{WriteState, WriteTransaction};

/// An open database: any number of read transactions, one write transaction at a time.
///
/// ```
/// let db = redwood::Database::in_memory()?;
/// let write = db.begin_write()?;
/// write.open_table("t")?.insert(b"k", b"v")?;
/// let before = db.begin_read()?; // readers run beside the writer
/// write.commit()?;
/// assert!(before.list_tables()?.is_empty());
/// assert_eq!(db.begin_read()?.list_tables()?, ["t"]);
/// # Ok::<(), redwood::Error>(())
/// ```
pub struct Database {
    pub(crate) pager: Arc<Pager<Wal>>,
    pub(crate) path: PathBuf,
    /// The file namespace the database is in (its archive directory too).
    pub(crate) vfs: Arc<dyn redwood_pager::io::Vfs>,
    pub(crate) durability: Durability,
    /// What diagnostics are read from (shared with the sampler and diagnostics sources).
    pub(crate) hub: Arc<crate::diagnostics::Hub>,
    /// Checks the alert thresholds in the background, if the builder asked for it.
    pub(crate) sampler: Option<crate::diagnostics::Sampler>,
    /// Runs the automatic checkpoints, unless they run on the committing thread or are off.
    pub(crate) checkpoint_worker: Option<redwood_pager::CheckpointWorker<Wal>>,
    pub(crate) triggers: TableTriggers,
    /// Pages each table changed since the last checkpoint, for the triggers.
    pub(crate) changed_pages: Mutex<BTreeMap<String, u64>>,
    /// Restore points in the log, oldest first.
    pub(crate) restore_points: Mutex<Vec<crate::RestorePoint>>,
    /// What recovery found at open.
    pub(crate) recovery: crate::recovery::RecoveryReport,
    /// The tree observers by table name (`Builder::tree_observer`), for the write path.
    pub(crate) tree_observers: crate::observers::TreeObservers,
    /// The log archive, if the builder asked for one.
    pub(crate) archive: Option<Arc<redwood_wal::archive::LogArchive>>,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database").field("path", &self.path).finish_non_exhaustive()
    }
}

/// Closing a database stops its checkpoint worker (waiting for a checkpoint in progress), its
/// diagnostics sampler and its prefetch worker first, so the files
/// (and the lock on them) are released when the `Database` is dropped, and a reopen right after
/// succeeds. If every commit is already in the data files, the drop records a clean close (one
/// meta write; see [`Database::close`]); it never checkpoints.
impl Drop for Database {
    fn drop(&mut self) {
        drop(self.checkpoint_worker.take());
        drop(self.sampler.take());
        self.hub.close();
        self.pager.stop_prefetch();
        if let Err(error) = self.pager.close_clean() {
            tracing::debug!(target: "redwood::recovery", %error, "no clean close recorded");
        }
    }
}

impl Database {
    /// Opens the database at `path`, creating it if it does not exist (default options).
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("app.redwood");
    /// let db = redwood::Database::create(&path)?;
    /// let write = db.begin_write()?;
    /// write.open_table("t")?.insert(b"k", b"v")?;
    /// write.commit()?;
    /// drop(db);
    /// let db = redwood::Database::create(&path)?; // it exists now: opened, not replaced
    /// assert_eq!(db.begin_read()?.open_table("t")?.get(b"k")?.as_deref(), Some(&b"v"[..]));
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn create(path: impl AsRef<Path>) -> Result<Database> {
        Builder::default().create(path)
    }

    /// Opens the existing database at `path` (default options).
    ///
    /// ```
    /// use redwood::{Database, Error};
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("app.redwood");
    /// assert!(matches!(Database::open(&path), Err(Error::Storage(_)))); // no database yet
    ///
    /// let db = Database::create(&path)?;
    /// let write = db.begin_write()?;
    /// write.open_table("t")?.insert(b"k", b"v")?;
    /// write.commit()?;
    /// drop(db);
    /// assert_eq!(Database::open(&path)?.begin_read()?.list_tables()?, ["t"]);
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn open(path: impl AsRef<Path>) -> Result<Database> {
        Builder::default().open(path)
    }

    /// Opens the existing database at `path` read-only (default options otherwise): no file is
    /// ever written, truncated or created, not even by recovery (see `Builder::read_only`).
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<Database> {
        Builder::default().read_only(true).open(path)
    }

    /// Closes the database cleanly: a truncating checkpoint puts every commit in the data
    /// files, and the meta data records that the log is empty, so the database file (and its
    /// segments) alone hold everything: a copy of them is a complete backup, and a missing log
    /// is recreated at the next open instead of refused. Dropping a `Database` closes it
    /// without the checkpoint. A read-only database closes with nothing to do.
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("app.redwood");
    /// let db = redwood::Database::create(&path)?;
    /// let write = db.begin_write()?;
    /// write.open_table("t")?.insert(b"k", b"v")?;
    /// write.commit()?;
    /// db.close()?;
    /// std::fs::remove_file(dir.path().join("app.redwood.wal")).unwrap(); // nothing in it now
    /// let db = redwood::Database::open(&path)?;
    /// assert_eq!(db.begin_read()?.open_table("t")?.get(b"k")?.as_deref(), Some(&b"v"[..]));
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn close(self) -> Result<()> {
        if self.pager.is_read_only() {
            return Ok(());
        }
        self.checkpoint(CheckpointMode::Truncate)?;
        self.pager.close_clean()?;
        Ok(())
    }

    /// What recovery found in the log when this database was opened: commits replayed, a tail
    /// cut off (or, read-only, left in place), a damaged tail, a log discarded by the override.
    pub fn recovery_report(&self) -> &crate::recovery::RecoveryReport {
        &self.recovery
    }

    /// Removes the database at `path` and every file that belongs to it (segments, the log,
    /// saved damaged log tails), the main file last. Refuses a file that is not a Redwood
    /// database, and a database that is open.
    pub fn destroy(path: impl AsRef<Path>) -> Result<()> {
        let vfs = redwood_pager::io::best_vfs();
        Ok(redwood_pager::PageFile::destroy(vfs.as_ref(), path.as_ref())?)
    }

    /// Whether the database was opened read-only.
    pub fn is_read_only(&self) -> bool {
        self.pager.is_read_only()
    }

    /// A database in memory only (Redwood-Lite).
    ///
    /// ```
    /// let db = redwood::Database::in_memory()?;
    /// let write = db.begin_write()?;
    /// write.open_table("t")?.insert(b"k", b"v")?;
    /// write.commit()?;
    /// assert_eq!(db.begin_read()?.open_table("t")?.len(), 1);
    /// // Nothing persists: another in-memory database starts empty.
    /// assert!(redwood::Database::in_memory()?.begin_read()?.list_tables()?.is_empty());
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn in_memory() -> Result<Database> {
        Builder::default().in_memory()
    }

    /// Options for opening a database.
    ///
    /// ```
    /// use redwood::{Database, Durability};
    ///
    /// let db = Database::builder().durability(Durability::None).in_memory()?;
    /// let syncs = db.log_stats().syncs;
    /// let write = db.begin_write()?;
    /// write.open_table("t")?.insert(b"k", b"v")?;
    /// write.commit()?;
    /// assert_eq!(db.log_stats().syncs, syncs); // the builder's durability applies to commits
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// Begins the write transaction; waits while another one is open.
    ///
    /// ```
    /// let db = redwood::Database::in_memory()?;
    /// let write = db.begin_write()?;
    /// write.open_table("t")?.insert(b"k", b"v")?;
    /// assert!(db.begin_read()?.list_tables()?.is_empty()); // private until commit
    /// write.commit()?;
    /// assert_eq!(db.begin_read()?.open_table("t")?.get(b"k")?.as_deref(), Some(&b"v"[..]));
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn begin_write(&self) -> Result<WriteTransaction<'_>> {
        let txn = self.pager.begin_write()?;
        let changed_pages = BTreeMap::new();
        let state = WriteState {
            db: self,
            txn,
            tables: BTreeMap::new(),
            durability: self.durability,
            changed_pages,
            restore_points: Vec::new(),
        };
        Ok(WriteTransaction { db: self, state: std::cell::RefCell::new(state) })
    }

    /// Begins a read transaction on the latest commit; it never blocks and is never blocked.
    ///
    /// A read transaction is a snapshot: commits made after it began are invisible to it.
    ///
    /// ```
    /// let db = redwood::Database::in_memory()?;
    /// let write = db.begin_write()?;
    /// write.open_table("t")?.insert(b"k", b"old")?;
    /// write.commit()?;
    ///
    /// let snapshot = db.begin_read()?;
    /// let write = db.begin_write()?;
    /// write.open_table("t")?.insert(b"k", b"new")?;
    /// write.commit()?;
    ///
    /// assert_eq!(snapshot.open_table("t")?.get(b"k")?.as_deref(), Some(&b"old"[..]));
    /// assert_eq!(db.begin_read()?.open_table("t")?.get(b"k")?.as_deref(), Some(&b"new"[..]));
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn begin_read(&self) -> Result<ReadTransaction<'_>> {
        Ok(ReadTransaction { txn: self.pager.begin_read()? })
    }

    /// Copies committed pages from the log into the database file (see `CheckpointMode`).
    ///
    /// ```
    /// use redwood::CheckpointMode;
    ///
    /// let db = redwood::Database::in_memory()?;
    /// let write = db.begin_write()?;
    /// write.open_table("t")?.insert(b"k", b"v")?;
    /// write.commit()?;
    /// let outcome = db.checkpoint(CheckpointMode::Full)?;
    /// assert_eq!(outcome.checkpoint_lsn, db.stats().last_commit);
    /// assert!(outcome.pages_written > 0 && outcome.log_restarted);
    /// assert_eq!(db.stats().checkpoints, 1);
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn checkpoint(&self, mode: CheckpointMode) -> Result<CheckpointOutcome> {
        let outcome = self.pager.checkpoint(mode)?;
        if outcome.log_restarted {
            // The restarted log no longer holds commits up to the checkpoint; a commit that
            // landed since (the writer lock is free again) keeps its restore point.
            let checkpoint_lsn = outcome.checkpoint_lsn;
            self.restore_points_lock().retain(|point| point.commit_lsn > checkpoint_lsn);
        }
        if outcome.checkpoint_lsn == self.pager.last_commit() {
            self.changed_pages_lock().clear();
        }
        Ok(outcome)
    }

    /// Adds a committed transaction's changed pages per table; if a per-table trigger fires,
    /// asks the automatic checkpoints for one and starts the counts again (so a reader that
    /// holds the checkpoint back does not make every later commit ask again).
    pub(crate) fn after_commit(&self, changed: BTreeMap<String, u64>) {
        if self.triggers.is_empty() {
            return;
        }
        let fire = {
            let mut counts = self.changed_pages_lock();
            for (table, pages) in changed {
                *counts.entry(table).or_default() += pages;
            }
            let fire = self.triggers.decide(&counts).is_some();
            if fire {
                counts.clear();
            }
            fire
        };
        if fire {
            self.pager.request_checkpoint();
        }
    }

    fn changed_pages_lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, u64>> {
        self.changed_pages.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The storage layer's statistics.
    ///
    /// ```
    /// let db = redwood::Database::in_memory()?;
    /// let before = db.stats().commits;
    /// let write = db.begin_write()?;
    /// write.open_table("t")?.insert(b"k", b"v")?;
    /// write.commit()?;
    /// let _reader = db.begin_read()?;
    /// let stats = db.stats();
    /// assert_eq!(stats.commits, before + 1);
    /// assert_eq!(stats.readers, 1);
    /// assert!(stats.log_bytes > 0); // not checkpointed yet
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn stats(&self) -> PagerStats {
        self.pager.stats()
    }

    /// The write-ahead log's counters since open: frames, bytes, commits, fsyncs, restarts.
    ///
    /// ```
    /// let db = redwood::Database::in_memory()?;
    /// let write = db.begin_write()?;
    /// write.open_table("t")?.insert(b"k", b"v")?;
    /// write.commit()?;
    /// let log = db.log_stats();
    /// assert_eq!(log.commits, 1);
    /// assert!(log.frames > 0 && log.bytes > 0);
    /// assert_eq!(log.syncs, 2); // the new log's header, then the commit (`Immediate`)
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn log_stats(&self) -> redwood_wal::WalStats {
        self.hub.log_counters.snapshot()
    }

    /// The full invariant check: every table's B+Tree and the catalog (order, separators, leaf
    /// depth, sibling chains) and the pager's (free-space map, meta data, log index), with every
    /// allocated page owned by exactly one tree. Run it with no write transaction in progress.
    ///
    /// ```
    /// let db = redwood::Database::in_memory()?;
    /// let write = db.begin_write()?;
    /// let mut table = write.open_table("t")?;
    /// table.insert(b"small", b"v")?;
    /// table.insert(b"large", &vec![1; 100_000])?; // an overflow chain
    /// write.commit()?;
    /// assert!(db.check_integrity().is_ok());
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn check_integrity(&self) -> Result<()> {
        let mut claims = redwood_pager::PageClaims::new();
        {
            let read = self.pager.begin_read()?;
            self.walk_structure(&read, &mut claims, &mut |_, error| Err(error))?;
        }
        Ok(self.pager.check_invariants(&claims)?)
    }
}
