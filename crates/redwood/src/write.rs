//! `WriteTransaction` and `Table`: private changes to any number of tables, made visible all at
//! once by `commit`. Each open table's root and length live here until the commit writes them to
//! the catalog; replaced and removed large values free their overflow chains in the same
//! transaction.

use std::collections::BTreeMap;
use std::ops::RangeBounds;

use redwood_btree::{OwnedValue, Tree, Value};
use redwood_overflow::ChainRef;
use redwood_pager::{Durability, PageRead, WriteTxn};
use redwood_wal::Wal;

use crate::access::AccessGuard;
use crate::catalog::{self, TableEntry};
use crate::database::Database;
use crate::error::{Error, Result};
use crate::read::entry_guards;

/// A table's state inside a write transaction.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TableState {
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
    pub(crate) db: &'db Database,
    pub(crate) txn: WriteTxn<'db, Wal>,
    pub(crate) tables: BTreeMap<String, TableState>,
    pub(crate) durability: Durability,
    /// Pages each table changed in this transaction, for the per-table triggers.
    pub(crate) changed_pages: BTreeMap<String, u64>,
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
        let mut chains = std::collections::BTreeMap::new();
        for item in tree.range(&self.txn, ..) {
            if let Value::Overflow { first_page, length } = item?.value() {
                // Two leaves naming one chain would free it twice: the tree is damaged.
                if chains.insert(first_page, ChainRef { first_page, length }).is_some() {
                    let reason = format!("two values of table {name:?} share the chain");
                    return Err(
                        redwood_btree::Error::Corrupt { page_id: first_page, reason }.into()
                    );
                }
            }
        }
        // The tree first: it checks every page before freeing any, so a damaged tree leaves
        // the transaction as it was. A damaged chain then fails before freeing its pages too.
        tree.destroy(&mut self.txn)?;
        for chain in chains.into_values() {
            redwood_overflow::free(&mut self.txn, chain)?;
        }
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
    /// assert_eq!(write.open_table("final")?.get(b"k")?.as_deref(), Some(&b"v"[..]));
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
        // The commit is done: a per-table trigger's checkpoint that fails now must not make the
        // caller think otherwise (and retry it). The checkpoint is not needed for durability; a
        // failure that matters (I/O) has poisoned the pager, and the next call reports it.
        self.db.after_commit(self.changed_pages);
        Ok(())
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
/// assert_eq!(table.get(b"k")?.as_deref(), Some(&b"v"[..])); // sees its own writes
/// assert_eq!(table.len(), 1);
/// # Ok::<(), redwood::Error>(())
/// ```
pub struct Table<'t, 'db> {
    txn: &'t mut WriteTransaction<'db>,
    name: String,
}

impl std::fmt::Debug for WriteTransaction<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteTransaction")
            .field("tables_open", &self.tables.len())
            .field("durability", &self.durability)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Table<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Table").field("name", &self.name).finish_non_exhaustive()
    }
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
    /// assert_eq!(table.get(b"blob")?.map(|value| value.to_vec()), Some(large));
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn insert(&mut self, key: &[u8], value: &[u8]) -> Result<bool> {
        let mut entry = self.state();
        let mut tree = self.txn.db.tree_observers.tree(&self.name, entry.root);
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
        entry.len = entry
            .len
            .checked_add(u64::from(!replaced))
            .ok_or_else(|| catalog::length_corrupt(&self.txn.txn, &self.name, "overflows"))?;
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
    /// assert_eq!(table.get(b"k")?.as_deref(), None);
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn remove(&mut self, key: &[u8]) -> Result<bool> {
        let mut entry = self.state();
        let mut tree = self.txn.db.tree_observers.tree(&self.name, entry.root);
        let changed_before = self.changed_now();
        let removed_value = tree.remove_value(&mut self.txn.txn, key)?;
        free_chain(&mut self.txn.txn, removed_value.as_ref())?;
        self.count_changed(changed_before);
        let removed = removed_value.is_some();
        entry.root = tree.root();
        entry.len = entry.len.checked_sub(u64::from(removed)).ok_or_else(|| {
            catalog::length_corrupt(&self.txn.txn, &self.name, "is 0, yet a key was removed")
        })?;
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
    /// assert_eq!(table.get(b"k")?.as_deref(), Some(&b"v"[..]));
    /// assert_eq!(table.get(b"missing")?.as_deref(), None);
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn get(&self, key: &[u8]) -> Result<Option<AccessGuard<'_>>> {
        let store = &self.txn.txn;
        let entry = Tree::open(self.state().root).get_entry(store, key)?;
        entry.map(|entry| AccessGuard::value_of(store, entry)).transpose()
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
    ///     .map(|entry| entry.map(|(key, _)| key.to_vec()))
    ///     .collect::<Result<_, _>>()?;
    /// assert_eq!(keys, [b"c".to_vec(), b"b".to_vec()]);
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn range<'a, 'k>(
        &'a self,
        range: impl RangeBounds<&'k [u8]>,
    ) -> impl DoubleEndedIterator<Item = Result<(AccessGuard<'a>, AccessGuard<'a>)>> + 'a {
        let store = &self.txn.txn;
        Tree::open(self.state().root)
            .range(store, range)
            .map(move |item| entry_guards(store, item?))
    }
}

/// Frees the overflow chain of a value that was replaced or removed, if it had one.
fn free_chain(store: &mut WriteTxn<'_, Wal>, value: Option<&OwnedValue>) -> Result<()> {
    if let Some(OwnedValue::Overflow { first_page, length }) = value {
        redwood_overflow::free(store, ChainRef { first_page: *first_page, length: *length })?;
    }
    Ok(())
}
