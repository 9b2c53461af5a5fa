//! `Database`, and the read and write transactions with their tables (its builder is in
//! `builder.rs`).

use std::collections::BTreeMap;
use std::ops::RangeBounds;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use redwood_btree::{OwnedValue, Tree, Value};
use redwood_overflow::ChainRef;
use redwood_pager::{
    CheckpointMode, CheckpointOutcome, Durability, PageRead, Pager, PagerStats, ReadTxn, WriteTxn,
};
use redwood_wal::Wal;

use crate::builder::Builder;
use crate::catalog::{self, TableEntry};
use crate::error::{Error, Result};
use crate::triggers::TableTriggers;

/// An open database: any number of read transactions, one write transaction at a time.
///
/// ```
/// let db = redwood::Database::in_memory()?;
/// let mut write = db.begin_write()?;
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
    pub(crate) durability: Durability,
    pub(crate) log_counters: Arc<redwood_wal::WalCounters>,
    pub(crate) triggers: TableTriggers,
    /// Pages each table changed since the last checkpoint, for the triggers.
    pub(crate) changed_pages: Mutex<BTreeMap<String, u64>>,
    /// Restore points in the log, oldest first.
    pub(crate) restore_points: Mutex<Vec<crate::RestorePoint>>,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database").field("path", &self.path).finish_non_exhaustive()
    }
}

/// Closing a database stops its prefetch worker first, so the files (and the lock on them) are
/// released when the `Database` is dropped, and a reopen right after succeeds.
impl Drop for Database {
    fn drop(&mut self) {
        self.pager.stop_prefetch();
    }
}

impl Database {
    /// Opens the database at `path`, creating it if it does not exist (default options).
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("app.redwood");
    /// let db = redwood::Database::create(&path)?;
    /// let mut write = db.begin_write()?;
    /// write.open_table("t")?.insert(b"k", b"v")?;
    /// write.commit()?;
    /// drop(db);
    /// let db = redwood::Database::create(&path)?; // it exists now: opened, not replaced
    /// assert_eq!(db.begin_read()?.open_table("t")?.get(b"k")?, Some(b"v".to_vec()));
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
    /// let mut write = db.begin_write()?;
    /// write.open_table("t")?.insert(b"k", b"v")?;
    /// write.commit()?;
    /// drop(db);
    /// assert_eq!(Database::open(&path)?.begin_read()?.list_tables()?, ["t"]);
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn open(path: impl AsRef<Path>) -> Result<Database> {
        Builder::default().open(path)
    }

    /// A database in memory only (Redwood-Lite).
    ///
    /// ```
    /// let db = redwood::Database::in_memory()?;
    /// let mut write = db.begin_write()?;
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
    /// let mut write = db.begin_write()?;
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
    /// let mut write = db.begin_write()?;
    /// write.open_table("t")?.insert(b"k", b"v")?;
    /// assert!(db.begin_read()?.list_tables()?.is_empty()); // private until commit
    /// write.commit()?;
    /// assert_eq!(db.begin_read()?.open_table("t")?.get(b"k")?, Some(b"v".to_vec()));
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn begin_write(&self) -> Result<WriteTransaction<'_>> {
        let txn = self.pager.begin_write()?;
        let changed_pages = BTreeMap::new();
        Ok(WriteTransaction {
            db: self,
            txn,
            tables: BTreeMap::new(),
            durability: self.durability,
            changed_pages,
            restore_points: Vec::new(),
        })
    }

    /// Begins a read transaction on the latest commit; it never blocks and is never blocked.
    ///
    /// A read transaction is a snapshot: commits made after it began are invisible to it.
    ///
    /// ```
    /// let db = redwood::Database::in_memory()?;
    /// let mut write = db.begin_write()?;
    /// write.open_table("t")?.insert(b"k", b"old")?;
    /// write.commit()?;
    ///
    /// let snapshot = db.begin_read()?;
    /// let mut write = db.begin_write()?;
    /// write.open_table("t")?.insert(b"k", b"new")?;
    /// write.commit()?;
    ///
    /// assert_eq!(snapshot.open_table("t")?.get(b"k")?, Some(b"old".to_vec()));
    /// assert_eq!(db.begin_read()?.open_table("t")?.get(b"k")?, Some(b"new".to_vec()));
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
    /// let mut write = db.begin_write()?;
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
            self.restore_points_lock().clear();
        }
        if outcome.checkpoint_lsn == self.pager.last_commit() {
            self.changed_pages_lock().clear();
        }
        Ok(outcome)
    }

    /// Adds a committed transaction's changed pages per table and runs a checkpoint if a
    /// per-table trigger fires.
    fn after_commit(&self, changed: BTreeMap<String, u64>) -> Result<()> {
        if self.triggers.is_empty() {
            return Ok(());
        }
        let fire = {
            let mut counts = self.changed_pages_lock();
            for (table, pages) in changed {
                *counts.entry(table).or_default() += pages;
            }
            self.triggers.decide(&counts).is_some()
        };
        if fire {
            self.checkpoint(CheckpointMode::Full)?;
        }
        Ok(())
    }

    fn changed_pages_lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, u64>> {
        self.changed_pages.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The storage layer's statistics.
    ///
    /// ```
    /// let db = redwood::Database::in_memory()?;
    /// let before = db.stats().commits;
    /// let mut write = db.begin_write()?;
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
    /// let mut write = db.begin_write()?;
    /// write.open_table("t")?.insert(b"k", b"v")?;
    /// write.commit()?;
    /// let log = db.log_stats();
    /// assert_eq!(log.commits, 1);
    /// assert!(log.frames > 0 && log.bytes > 0);
    /// assert_eq!(log.syncs, 2); // the new log's header, then the commit (`Immediate`)
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn log_stats(&self) -> redwood_wal::WalStats {
        self.log_counters.snapshot()
    }

    /// The full invariant check: every table's B+Tree and the catalog (order, separators, leaf
    /// depth, sibling chains) and the pager's (free-space map, meta data, log index), with every
    /// allocated page owned by exactly one tree. Run it with no write transaction in progress.
    ///
    /// ```
    /// let db = redwood::Database::in_memory()?;
    /// let mut write = db.begin_write()?;
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

/// A table's state inside a write transaction.
#[derive(Clone, Copy, Debug)]
struct TableState {
    /// `None` once the table is deleted in this transaction.
    entry: Option<TableEntry>,
    changed: bool,
}

/// The write transaction: its changes are private until `commit`, all or nothing.
///
/// ```
/// let db = redwood::Database::in_memory()?;
/// let mut write = db.begin_write()?;
/// write.open_table("accounts")?.insert(b"ada", b"90")?;
/// write.open_table("ledger")?.insert(b"1", b"ada -10")?;
/// drop(write); // not committed: nothing happened
/// assert!(db.begin_read()?.list_tables()?.is_empty());
/// # Ok::<(), redwood::Error>(())
/// ```
pub struct WriteTransaction<'db> {
    db: &'db Database,
    pub(crate) txn: WriteTxn<'db, Wal>,
    tables: BTreeMap<String, TableState>,
    durability: Durability,
    /// Pages each table changed in this transaction, for the per-table triggers.
    changed_pages: BTreeMap<String, u64>,
    /// Restore points this transaction records (name, wall-clock milliseconds).
    pub(crate) restore_points: Vec<(String, u64)>,
}

impl<'db> WriteTransaction<'db> {
    /// Opens the table `name`, creating it if it does not exist.
    ///
    /// ```
    /// use redwood::Error;
    ///
    /// let db = redwood::Database::in_memory()?;
    /// let mut write = db.begin_write()?;
    /// write.open_table("t")?.insert(b"k", b"v")?;
    /// assert_eq!(write.open_table("t")?.len(), 1); // opened again, not recreated
    /// assert!(matches!(write.open_table(""), Err(Error::InvalidTableName(_))));
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn open_table(&mut self, name: &str) -> Result<Table<'_, 'db>> {
        catalog::check_name(name, self.txn.page_size())?;
        let live = self.tables.get(name).and_then(|state| state.entry);
        if live.is_none() {
            let known = match self.tables.get(name) {
                Some(_) => None,
                None => catalog::lookup(&self.txn, name)?,
            };
            let (entry, changed) = match known {
                Some(entry) => (entry, false),
                None => (TableEntry { root: Tree::create(&mut self.txn)?.root(), len: 0 }, true),
            };
            self.tables.insert(name.to_owned(), TableState { entry: Some(entry), changed });
        }
        Ok(Table { txn: self, name: name.to_owned() })
    }

    /// Deletes the table `name` and frees its pages; returns whether it existed.
    ///
    /// ```
    /// let db = redwood::Database::in_memory()?;
    /// let mut write = db.begin_write()?;
    /// write.open_table("t")?.insert(b"k", b"v")?;
    /// assert!(write.delete_table("t")?);
    /// assert!(!write.delete_table("t")?);
    /// write.commit()?;
    /// db.check_integrity()?; // no page of the deleted table is left behind
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn delete_table(&mut self, name: &str) -> Result<bool> {
        let Some(entry) = self.live_entry(name)? else { return Ok(false) };
        let tree = Tree::open(entry.root);
        let mut chains = Vec::new();
        for item in tree.range(&self.txn, ..) {
            if let (_, OwnedValue::Overflow { first_page, length }) = item? {
                chains.push(ChainRef { first_page, length });
            }
        }
        for chain in chains {
            redwood_overflow::free(&mut self.txn, chain)?;
        }
        tree.destroy(&mut self.txn)?;
        self.tables.insert(name.to_owned(), TableState { entry: None, changed: true });
        Ok(true)
    }

    /// Renames table `from` to `to`; returns whether `from` existed. `TableExists` if `to` does.
    ///
    /// ```
    /// use redwood::Error;
    ///
    /// let db = redwood::Database::in_memory()?;
    /// let mut write = db.begin_write()?;
    /// write.open_table("draft")?.insert(b"k", b"v")?;
    /// write.open_table("other")?;
    /// assert!(write.rename_table("draft", "final")?);
    /// assert!(!write.rename_table("draft", "final")?); // gone
    /// assert!(matches!(write.rename_table("final", "other"), Err(Error::TableExists(_))));
    /// assert_eq!(write.open_table("final")?.get(b"k")?, Some(b"v".to_vec()));
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn rename_table(&mut self, from: &str, to: &str) -> Result<bool> {
        catalog::check_name(to, self.txn.page_size())?;
        let Some(entry) = self.live_entry(from)? else { return Ok(false) };
        if self.live_entry(to)?.is_some() {
            return Err(Error::TableExists(to.to_owned()));
        }
        self.tables.insert(from.to_owned(), TableState { entry: None, changed: true });
        self.tables.insert(to.to_owned(), TableState { entry: Some(entry), changed: true });
        Ok(true)
    }

    /// The table `name` as this transaction sees it, if it exists.
    fn live_entry(&self, name: &str) -> Result<Option<TableEntry>> {
        match self.tables.get(name) {
            Some(state) => Ok(state.entry),
            None => catalog::lookup(&self.txn, name),
        }
    }

    /// The names of the tables this transaction sees, in order.
    ///
    /// ```
    /// let db = redwood::Database::in_memory()?;
    /// let mut write = db.begin_write()?;
    /// write.open_table("b")?;
    /// write.open_table("a")?;
    /// write.commit()?;
    /// let mut write = db.begin_write()?;
    /// write.delete_table("b")?;
    /// write.open_table("c")?;
    /// assert_eq!(write.list_tables()?, ["a", "c"]); // its own, uncommitted changes included
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn list_tables(&self) -> Result<Vec<String>> {
        let mut names: BTreeMap<String, bool> =
            catalog::list(&self.txn)?.into_iter().map(|(name, _)| (name, true)).collect();
        for (name, state) in &self.tables {
            names.insert(name.clone(), state.entry.is_some());
        }
        Ok(names.into_iter().filter(|(_, live)| *live).map(|(name, _)| name).collect())
    }

    /// Sets this transaction's durability.
    ///
    /// ```
    /// use redwood::Durability;
    ///
    /// let db = redwood::Database::in_memory()?; // `Durability::Immediate` by default
    /// let syncs = db.log_stats().syncs;
    /// let mut write = db.begin_write()?;
    /// write.open_table("t")?.insert(b"k", b"v")?;
    /// write.set_durability(Durability::None);
    /// write.commit()?;
    /// assert_eq!(db.log_stats().commits, 1);
    /// assert_eq!(db.log_stats().syncs, syncs); // committed without a sync
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn set_durability(&mut self, durability: Durability) {
        self.durability = durability;
    }

    /// Makes every change of this transaction visible and durable (per its durability) at once.
    ///
    /// ```
    /// let db = redwood::Database::in_memory()?;
    /// let mut write = db.begin_write()?;
    /// let mut table = write.open_table("t")?;
    /// table.insert(b"a", b"1")?;
    /// table.insert(b"b", b"2")?;
    /// write.commit()?;
    /// let read = db.begin_read()?;
    /// assert_eq!(read.open_table("t")?.len(), 2); // both inserts, at once
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn commit(mut self) -> Result<()> {
        let changed: Vec<(String, Option<TableEntry>)> = self
            .tables
            .iter()
            .filter(|(_, state)| state.changed)
            .map(|(name, state)| (name.clone(), state.entry))
            .collect();
        for (name, entry) in changed {
            catalog::store_entry(&mut self.txn, &name, entry)?;
        }
        let commit_lsn = self.txn.commit(self.durability)?;
        self.db.record_restore_points(commit_lsn, self.restore_points);
        self.db.after_commit(self.changed_pages)
    }

    /// Discards every change of this transaction (dropping it does the same).
    ///
    /// ```
    /// let db = redwood::Database::in_memory()?;
    /// let mut write = db.begin_write()?;
    /// write.open_table("t")?.insert(b"k", b"v")?;
    /// write.abort();
    /// assert!(db.begin_read()?.list_tables()?.is_empty());
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn abort(self) {
        self.txn.abort();
    }
}

/// A table open in a write transaction.
///
/// ```
/// let db = redwood::Database::in_memory()?;
/// let mut write = db.begin_write()?;
/// let mut table = write.open_table("t")?;
/// table.insert(b"k", b"v")?;
/// assert_eq!(table.get(b"k")?, Some(b"v".to_vec())); // sees its own writes
/// assert_eq!(table.len(), 1);
/// # Ok::<(), redwood::Error>(())
/// ```
pub struct Table<'t, 'db> {
    txn: &'t mut WriteTransaction<'db>,
    name: String,
}

impl Table<'_, '_> {
    /// Pages the transaction holds changed right now (in memory or spilled).
    fn changed_now(&self) -> usize {
        self.txn.txn.dirty_page_count() + self.txn.txn.spilled_page_count()
    }

    /// Credits this table with the pages newly changed since `before`.
    fn count_changed(&mut self, before: usize) {
        let newly = self.changed_now().saturating_sub(before) as u64;
        *self.txn.changed_pages.entry(self.name.clone()).or_default() += newly;
    }

    fn state(&self) -> TableEntry {
        self.txn.tables[&self.name].entry.expect("an open table is live")
    }

    /// Stores `value` under `key` (a value over the inline limit goes to an overflow chain);
    /// returns whether a value was replaced.
    ///
    /// ```
    /// let db = redwood::Database::in_memory()?;
    /// let mut write = db.begin_write()?;
    /// let mut table = write.open_table("t")?;
    /// assert!(!table.insert(b"k", b"v1")?);
    /// assert!(table.insert(b"k", b"v2")?); // replaced
    /// let large = vec![7u8; 64 * 1024]; // stored in an overflow chain
    /// table.insert(b"blob", &large)?;
    /// assert_eq!(table.get(b"blob")?, Some(large));
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn insert(&mut self, key: &[u8], value: &[u8]) -> Result<bool> {
        let mut entry = self.state();
        let mut tree = Tree::open(entry.root);
        let changed_before = self.changed_now();
        let store = &mut self.txn.txn;
        let page_size = store.page_size();
        let previous = if value.len() > redwood_btree::limits::inline_value_max_bytes(page_size) {
            // Check the key before writing a chain the tree would then refuse.
            let max_bytes = redwood_btree::limits::key_max_bytes(page_size);
            if key.len() > max_bytes {
                return Err(
                    redwood_btree::Error::KeyTooLarge { bytes: key.len(), max_bytes }.into()
                );
            }
            let chain = redwood_overflow::write(store, value)?;
            let reference = Value::Overflow { first_page: chain.first_page, length: chain.length };
            tree.insert_value(store, key, reference)?
        } else {
            tree.insert_value(store, key, Value::Inline(value))?
        };
        free_chain(store, previous.as_ref())?;
        self.count_changed(changed_before);
        let replaced = previous.is_some();
        entry.root = tree.root();
        entry.len += u64::from(!replaced);
        self.txn.tables.insert(self.name.clone(), TableState { entry: Some(entry), changed: true });
        Ok(replaced)
    }

    /// Removes `key`; returns whether it was there (freeing its overflow chain, if any).
    ///
    /// ```
    /// let db = redwood::Database::in_memory()?;
    /// let mut write = db.begin_write()?;
    /// let mut table = write.open_table("t")?;
    /// table.insert(b"k", b"v")?;
    /// assert!(table.remove(b"k")?);
    /// assert!(!table.remove(b"k")?); // already gone
    /// assert_eq!(table.get(b"k")?, None);
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn remove(&mut self, key: &[u8]) -> Result<bool> {
        let mut entry = self.state();
        let mut tree = Tree::open(entry.root);
        let changed_before = self.changed_now();
        let removed_value = tree.remove_value(&mut self.txn.txn, key)?;
        free_chain(&mut self.txn.txn, removed_value.as_ref())?;
        self.count_changed(changed_before);
        let removed = removed_value.is_some();
        entry.root = tree.root();
        entry.len -= u64::from(removed);
        self.txn.tables.insert(self.name.clone(), TableState { entry: Some(entry), changed: true });
        Ok(removed)
    }

    /// The value under `key`, as this transaction sees it.
    ///
    /// ```
    /// let db = redwood::Database::in_memory()?;
    /// let mut write = db.begin_write()?;
    /// let mut table = write.open_table("t")?;
    /// table.insert(b"k", b"v")?;
    /// assert_eq!(table.get(b"k")?, Some(b"v".to_vec()));
    /// assert_eq!(table.get(b"missing")?, None);
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let value = Tree::open(self.state().root).get_value(&self.txn.txn, key)?;
        value.map(|value| bytes_of(&self.txn.txn, value)).transpose()
    }

    /// The number of entries (O(1)).
    ///
    /// ```
    /// let db = redwood::Database::in_memory()?;
    /// let mut write = db.begin_write()?;
    /// let mut table = write.open_table("t")?;
    /// table.insert(b"a", b"1")?;
    /// table.insert(b"b", b"2")?;
    /// table.insert(b"a", b"3")?; // a replacement adds no entry
    /// assert_eq!(table.len(), 2);
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn len(&self) -> u64 {
        self.state().len
    }

    /// Whether the table is empty.
    ///
    /// ```
    /// let db = redwood::Database::in_memory()?;
    /// let mut write = db.begin_write()?;
    /// let mut table = write.open_table("t")?;
    /// assert!(table.is_empty());
    /// table.insert(b"k", b"v")?;
    /// assert!(!table.is_empty());
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A streaming scan of the entries in `range`, in key order (`.rev()` for descending).
    ///
    /// ```
    /// let db = redwood::Database::in_memory()?;
    /// let mut write = db.begin_write()?;
    /// let mut table = write.open_table("t")?;
    /// for key in [b"a", b"b", b"c", b"d"] {
    ///     table.insert(key, b"")?;
    /// }
    /// let from_b: &[u8] = b"b";
    /// let to_d: &[u8] = b"d";
    /// let keys: Vec<Vec<u8>> = table
    ///     .range(from_b..to_d)
    ///     .rev()
    ///     .map(|entry| entry.map(|(key, _)| key))
    ///     .collect::<Result<_, _>>()?;
    /// assert_eq!(keys, [b"c".to_vec(), b"b".to_vec()]);
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn range<'a, 'k>(
        &'a self,
        range: impl RangeBounds<&'k [u8]>,
    ) -> impl DoubleEndedIterator<Item = Result<(Vec<u8>, Vec<u8>)>> + 'a {
        let store = &self.txn.txn;
        Tree::open(self.state().root).range(store, range).map(move |item| {
            let (key, value) = item?;
            Ok((key, bytes_of(store, value)?))
        })
    }
}

/// A read transaction: a consistent snapshot of every table.
///
/// ```
/// let db = redwood::Database::in_memory()?;
/// let mut write = db.begin_write()?;
/// write.open_table("a")?.insert(b"k", b"1")?;
/// write.commit()?;
/// let read = db.begin_read()?;
/// let mut write = db.begin_write()?; // moves the entry from "a" to a new table "b"
/// write.open_table("a")?.remove(b"k")?;
/// write.open_table("b")?.insert(b"k", b"1")?;
/// write.commit()?;
/// assert_eq!(read.list_tables()?, ["a"]); // the snapshot sees neither change
/// assert_eq!(read.open_table("a")?.get(b"k")?, Some(b"1".to_vec()));
/// # Ok::<(), redwood::Error>(())
/// ```
pub struct ReadTransaction<'db> {
    txn: ReadTxn<'db, Wal>,
}

impl<'db> ReadTransaction<'db> {
    /// Opens the table `name`; `TableNotFound` if it does not exist in this snapshot.
    ///
    /// ```
    /// use redwood::Error;
    ///
    /// let db = redwood::Database::in_memory()?;
    /// let mut write = db.begin_write()?;
    /// write.open_table("t")?.insert(b"k", b"v")?;
    /// write.commit()?;
    /// let read = db.begin_read()?;
    /// assert_eq!(read.open_table("t")?.get(b"k")?, Some(b"v".to_vec()));
    /// let missing = read.open_table("nope");
    /// assert!(matches!(missing, Err(Error::TableNotFound(name)) if name == "nope"));
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn open_table(&self, name: &str) -> Result<ReadOnlyTable<'_, 'db>> {
        let entry = catalog::lookup(&self.txn, name)?
            .ok_or_else(|| Error::TableNotFound(name.to_owned()))?;
        Ok(ReadOnlyTable { txn: &self.txn, entry })
    }

    /// The names of the tables in this snapshot, in order.
    ///
    /// ```
    /// let db = redwood::Database::in_memory()?;
    /// let mut write = db.begin_write()?;
    /// write.open_table("users")?;
    /// write.open_table("orders")?;
    /// write.commit()?;
    /// assert_eq!(db.begin_read()?.list_tables()?, ["orders", "users"]);
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn list_tables(&self) -> Result<Vec<String>> {
        Ok(catalog::list(&self.txn)?.into_iter().map(|(name, _)| name).collect())
    }
}

/// A table in a read transaction.
///
/// ```
/// let db = redwood::Database::in_memory()?;
/// let mut write = db.begin_write()?;
/// write.open_table("t")?.insert(b"k", b"v")?;
/// write.commit()?;
/// let read = db.begin_read()?;
/// let table = read.open_table("t")?;
/// assert_eq!((table.len(), table.get(b"k")?), (1, Some(b"v".to_vec())));
/// # Ok::<(), redwood::Error>(())
/// ```
pub struct ReadOnlyTable<'t, 'db> {
    txn: &'t ReadTxn<'db, Wal>,
    entry: TableEntry,
}

impl<'t> ReadOnlyTable<'t, '_> {
    /// The value under `key` in this snapshot.
    ///
    /// ```
    /// let db = redwood::Database::in_memory()?;
    /// let mut write = db.begin_write()?;
    /// write.open_table("t")?.insert(b"k", b"v")?;
    /// write.commit()?;
    /// let read = db.begin_read()?;
    /// let table = read.open_table("t")?;
    /// assert_eq!(table.get(b"k")?, Some(b"v".to_vec()));
    /// assert_eq!(table.get(b"missing")?, None);
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let value = Tree::open(self.entry.root).get_value(self.txn, key)?;
        value.map(|value| bytes_of(self.txn, value)).transpose()
    }

    /// The number of entries (O(1)).
    ///
    /// ```
    /// let db = redwood::Database::in_memory()?;
    /// let mut write = db.begin_write()?;
    /// let mut table = write.open_table("t")?;
    /// for key in [b"a", b"b", b"c"] {
    ///     table.insert(key, b"")?;
    /// }
    /// write.commit()?;
    /// assert_eq!(db.begin_read()?.open_table("t")?.len(), 3);
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn len(&self) -> u64 {
        self.entry.len
    }

    /// Whether the table is empty.
    ///
    /// ```
    /// let db = redwood::Database::in_memory()?;
    /// let mut write = db.begin_write()?;
    /// write.open_table("t")?; // created, but nothing inserted
    /// write.commit()?;
    /// assert!(db.begin_read()?.open_table("t")?.is_empty());
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.entry.len == 0
    }

    /// A streaming scan of the entries in `range`, in key order (`.rev()` for descending).
    ///
    /// ```
    /// let db = redwood::Database::in_memory()?;
    /// let mut write = db.begin_write()?;
    /// let mut table = write.open_table("t")?;
    /// for (key, value) in [(b"a", b"1"), (b"b", b"2"), (b"c", b"3")] {
    ///     table.insert(key, value)?;
    /// }
    /// write.commit()?;
    /// let read = db.begin_read()?;
    /// let from_b: &[u8] = b"b";
    /// let entries: Vec<_> = read.open_table("t")?.range(from_b..).collect::<Result<_, _>>()?;
    /// assert_eq!(entries, [(b"b".to_vec(), b"2".to_vec()), (b"c".to_vec(), b"3".to_vec())]);
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn range<'k>(
        &self,
        range: impl RangeBounds<&'k [u8]>,
    ) -> impl DoubleEndedIterator<Item = Result<(Vec<u8>, Vec<u8>)>> + 't {
        let store = self.txn;
        Tree::open(self.entry.root).range(store, range).map(move |item| {
            let (key, value) = item?;
            Ok((key, bytes_of(store, value)?))
        })
    }
}

/// A value's bytes: inline, or read from its overflow chain.
fn bytes_of(store: &impl PageRead, value: OwnedValue) -> Result<Vec<u8>> {
    match value {
        OwnedValue::Inline(bytes) => Ok(bytes),
        OwnedValue::Overflow { first_page, length } => {
            Ok(redwood_overflow::read(store, ChainRef { first_page, length })?)
        }
    }
}

/// Frees the overflow chain of a value that was replaced or removed, if it had one.
fn free_chain(store: &mut WriteTxn<'_, Wal>, value: Option<&OwnedValue>) -> Result<()> {
    if let Some(OwnedValue::Overflow { first_page, length }) = value {
        redwood_overflow::free(store, ChainRef { first_page: *first_page, length: *length })?;
    }
    Ok(())
}
