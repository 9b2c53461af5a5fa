//! `WriteTransaction`: private changes to any number of tables, made visible all at once by
//! `commit`. Each open table's root and length live here until the commit writes them to the
//! catalog. The transaction's state sits in a `RefCell`, so several tables can be open at once
//! (each [`Table`] holds a shared reference); every table operation borrows the state for its
//! own duration only, never across a caller's code (a `retain` predicate, an iterator's pause),
//! and hands out guards that own their bytes. The table operations are in `write_table`.

use std::cell::RefCell;
use std::collections::BTreeMap;

use redwood_btree::{Tree, Value as Stored};
use redwood_overflow::ChainRef;
use redwood_pager::{Durability, PageRead, WriteTxn};
use redwood_wal::Wal;

use crate::catalog::{self, TableEntry, TableKind};
use crate::database::Database;
use crate::definition::TableSpec;
use crate::error::{Error, Result};
pub use crate::write_table::Table;

/// A table's state inside a write transaction.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TableState {
    /// `None` once the table is deleted in this transaction.
    pub(crate) entry: Option<TableEntry>,
    pub(crate) changed: bool,
}

/// The write transaction: its changes are private until `commit`, all or nothing.
///
/// ```
/// let db = redwood::Database::in_memory()?;
/// let write = db.begin_write()?;
/// write.open_table("accounts")?.insert(b"ada", b"90")?;
/// write.open_table("ledger")?.insert(b"1", b"ada -10")?;
/// drop(write); // not committed: nothing happened
/// assert!(db.begin_read()?.list_tables()?.is_empty());
/// # Ok::<(), redwood::Error>(())
/// ```
pub struct WriteTransaction<'db> {
    pub(crate) db: &'db Database,
    pub(crate) state: RefCell<WriteState<'db>>,
}

/// What a write transaction changes, borrowed by one operation at a time.
pub(crate) struct WriteState<'db> {
    pub(crate) db: &'db Database,
    pub(crate) txn: WriteTxn<'db, Wal>,
    pub(crate) tables: BTreeMap<String, TableState>,
    pub(crate) durability: Durability,
    /// Pages each table changed in this transaction, for the per-table triggers.
    pub(crate) changed_pages: BTreeMap<String, u64>,
    /// Restore points this transaction records (name, wall-clock milliseconds).
    pub(crate) restore_points: Vec<(String, u64)>,
}

impl<'db> WriteState<'db> {
    /// The table `name` as this transaction sees it, if it exists.
    pub(crate) fn live_entry(&self, name: &str) -> Result<Option<TableEntry>> {
        match self.tables.get(name) {
            Some(state) => Ok(state.entry),
            None => catalog::lookup(&self.txn, name),
        }
    }

    /// The open table `name`'s entry; `TableNotFound` if it was deleted (or renamed) since
    /// it was opened.
    pub(crate) fn open_entry(&self, name: &str) -> Result<TableEntry> {
        self.tables
            .get(name)
            .and_then(|state| state.entry)
            .ok_or_else(|| Error::TableNotFound(name.to_owned()))
    }

    /// Records `entry` as table `name`'s new root and length.
    pub(crate) fn set_entry(&mut self, name: &str, entry: TableEntry) {
        self.tables.insert(name.to_owned(), TableState { entry: Some(entry), changed: true });
    }
}

impl<'db> WriteTransaction<'db> {
    /// Opens the table `table` names (a [`crate::TableDefinition`], or a `&str` for a byte
    /// table), creating it if it does not exist. Any number of tables can be open at once, and
    /// one table more than once; [`WriteTransaction::create_table`] and
    /// [`WriteTransaction::open_existing_table`] are the forms that refuse to create or to find.
    ///
    /// ```
    /// use redwood::{Error, TableDefinition};
    ///
    /// const USERS: TableDefinition<u64, &str> = TableDefinition::new("users");
    /// const BY_NAME: TableDefinition<&str, u64> = TableDefinition::new("users_by_name");
    ///
    /// let db = redwood::Database::in_memory()?;
    /// let write = db.begin_write()?;
    /// let mut users = write.open_table(USERS)?;
    /// let mut by_name = write.open_table(BY_NAME)?; // both open at once
    /// users.insert(1, "ada")?;
    /// by_name.insert("ada", 1)?;
    /// assert_eq!(users.len(), 1);
    /// assert!(matches!(write.open_table(""), Err(Error::InvalidTableName(_))));
    /// drop((users, by_name));
    /// write.commit()?;
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn open_table<T: TableSpec>(&self, table: T) -> Result<Table<'_, 'db, T::Key, T::Value>> {
        self.open(table.name(), Open::OrCreate, TableKind::Table)?;
        Ok(Table::new(self, table.name()))
    }

    /// Creates the table `table` names; `TableExists` if it already exists.
    ///
    /// ```
    /// use redwood::Error;
    ///
    /// let db = redwood::Database::in_memory()?;
    /// let write = db.begin_write()?;
    /// write.create_table("t")?.insert(b"k", b"v")?;
    /// assert!(matches!(write.create_table("t"), Err(Error::TableExists(name)) if name == "t"));
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn create_table<T: TableSpec>(&self, table: T) -> Result<Table<'_, 'db, T::Key, T::Value>> {
        self.open(table.name(), Open::Create, TableKind::Table)?;
        Ok(Table::new(self, table.name()))
    }

    /// Opens the table `table` names without creating it; `TableNotFound` if it does not
    /// exist.
    ///
    /// ```
    /// use redwood::Error;
    ///
    /// let db = redwood::Database::in_memory()?;
    /// let write = db.begin_write()?;
    /// assert!(matches!(write.open_existing_table("t"), Err(Error::TableNotFound(_))));
    /// write.open_table("t")?;
    /// assert!(write.open_existing_table("t").is_ok());
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn open_existing_table<T: TableSpec>(
        &self,
        table: T,
    ) -> Result<Table<'_, 'db, T::Key, T::Value>> {
        self.open(table.name(), Open::Existing, TableKind::Table)?;
        Ok(Table::new(self, table.name()))
    }

    /// Makes table `name` open in this transaction, as `how` allows, as a table of `kind`.
    pub(crate) fn open(&self, name: &str, how: Open, kind: TableKind) -> Result<()> {
        let mut state = self.state.borrow_mut();
        catalog::check_name(name, state.txn.page_size())?;
        let known =
            state.live_entry(name)?.map(|entry| entry.expect_kind(name, kind)).transpose()?;
        match (known, how) {
            (Some(_), Open::Create) => return Err(Error::TableExists(name.to_owned())),
            (None, Open::Existing) => return Err(Error::TableNotFound(name.to_owned())),
            _ => {}
        }
        if state.tables.get(name).and_then(|table| table.entry).is_some() {
            return Ok(());
        }
        let table = match known {
            Some(entry) => TableState { entry: Some(entry), changed: false },
            None => {
                let root = Tree::create(&mut state.txn)?.root();
                TableState { entry: Some(TableEntry { root, len: 0, kind }), changed: true }
            }
        };
        state.tables.insert(name.to_owned(), table);
        Ok(())
    }

    /// Deletes the table `name` and frees its pages; returns whether it existed.
    ///
    /// ```
    /// let db = redwood::Database::in_memory()?;
    /// let write = db.begin_write()?;
    /// write.open_table("t")?.insert(b"k", b"v")?;
    /// assert!(write.delete_table("t")?);
    /// assert!(!write.delete_table("t")?);
    /// write.commit()?;
    /// db.check_integrity()?; // no page of the deleted table is left behind
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn delete_table(&self, name: &str) -> Result<bool> {
        let mut state = self.state.borrow_mut();
        let state = &mut *state;
        let Some(entry) = state.live_entry(name)? else { return Ok(false) };
        free_table_pages(&mut state.txn, name, Tree::open(entry.root))?;
        state.tables.insert(name.to_owned(), TableState { entry: None, changed: true });
        Ok(true)
    }

    /// Renames table `from` to `to`; returns whether `from` existed. `TableExists` if `to` does.
    ///
    /// ```
    /// use redwood::Error;
    ///
    /// let db = redwood::Database::in_memory()?;
    /// let write = db.begin_write()?;
    /// write.open_table("draft")?.insert(b"k", b"v")?;
    /// write.open_table("other")?;
    /// assert!(write.rename_table("draft", "final")?);
    /// assert!(!write.rename_table("draft", "final")?); // gone
    /// assert!(matches!(write.rename_table("final", "other"), Err(Error::TableExists(_))));
    /// assert_eq!(write.open_table("final")?.get(b"k")?.as_deref(), Some(&b"v"[..]));
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn rename_table(&self, from: &str, to: &str) -> Result<bool> {
        let mut state = self.state.borrow_mut();
        catalog::check_name(to, state.txn.page_size())?;
        let Some(entry) = state.live_entry(from)? else { return Ok(false) };
        if state.live_entry(to)?.is_some() {
            return Err(Error::TableExists(to.to_owned()));
        }
        state.tables.insert(from.to_owned(), TableState { entry: None, changed: true });
        state.tables.insert(to.to_owned(), TableState { entry: Some(entry), changed: true });
        Ok(true)
    }

    /// The names of the tables this transaction sees, in order.
    ///
    /// ```
    /// let db = redwood::Database::in_memory()?;
    /// let write = db.begin_write()?;
    /// write.open_table("b")?;
    /// write.open_table("a")?;
    /// write.commit()?;
    /// let write = db.begin_write()?;
    /// write.delete_table("b")?;
    /// write.open_table("c")?;
    /// assert_eq!(write.list_tables()?, ["a", "c"]); // its own, uncommitted changes included
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn list_tables(&self) -> Result<Vec<String>> {
        let state = self.state.borrow();
        let mut names: BTreeMap<String, bool> =
            catalog::list(&state.txn)?.into_iter().map(|(name, _)| (name, true)).collect();
        for (name, state) in &state.tables {
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
        self.state.get_mut().durability = durability;
    }

    /// Makes every change of this transaction visible and durable (per its durability) at once.
    ///
    /// ```
    /// let db = redwood::Database::in_memory()?;
    /// let write = db.begin_write()?;
    /// let mut table = write.open_table("t")?;
    /// table.insert(b"a", b"1")?;
    /// table.insert(b"b", b"2")?;
    /// write.commit()?;
    /// let read = db.begin_read()?;
    /// assert_eq!(read.open_table("t")?.len(), 2); // both inserts, at once
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn commit(self) -> Result<()> {
        let db = self.db;
        let mut state = self.state.into_inner();
        let changed: Vec<(String, Option<TableEntry>)> = state
            .tables
            .iter()
            .filter(|(_, state)| state.changed)
            .map(|(name, state)| (name.clone(), state.entry))
            .collect();
        for (name, entry) in changed {
            catalog::store_entry(&mut state.txn, &name, entry)?;
        }
        let commit_lsn = state.txn.commit(state.durability)?;
        db.record_restore_points(commit_lsn, state.restore_points);
        // The commit is done: a per-table trigger's checkpoint that fails now must not make the
        // caller think otherwise (and retry it). The checkpoint is not needed for durability; a
        // failure that matters (I/O) has poisoned the pager, and the next call reports it.
        db.after_commit(state.changed_pages);
        Ok(())
    }

    /// Discards every change of this transaction (dropping it does the same).
    ///
    /// ```
    /// let db = redwood::Database::in_memory()?;
    /// let write = db.begin_write()?;
    /// write.open_table("t")?.insert(b"k", b"v")?;
    /// write.abort();
    /// assert!(db.begin_read()?.list_tables()?.is_empty());
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn abort(self) {
        self.state.into_inner().txn.abort();
    }
}

/// How `open` treats a table that is there or not.
#[derive(Clone, Copy)]
pub(crate) enum Open {
    OrCreate,
    Create,
    Existing,
}

impl std::fmt::Debug for WriteTransaction<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut debug = f.debug_struct("WriteTransaction");
        if let Ok(state) = self.state.try_borrow() {
            debug.field("tables_open", &state.tables.len()).field("durability", &state.durability);
        }
        debug.finish_non_exhaustive()
    }
}

/// Frees the overflow chain of a value that was replaced or removed, if it had one.
pub(crate) fn free_chain(
    store: &mut WriteTxn<'_, Wal>,
    value: Option<&redwood_btree::OwnedValue>,
) -> Result<()> {
    if let Some(redwood_btree::OwnedValue::Overflow { first_page, length }) = value {
        redwood_overflow::free(store, ChainRef { first_page: *first_page, length: *length })?;
    }
    Ok(())
}

/// Frees every page of table `name`'s tree `tree` and of its values' overflow chains. The tree
/// first: it checks every page before freeing any, so a damaged tree leaves the transaction as
/// it was; a damaged chain then fails before freeing its pages too.
pub(crate) fn free_table_pages(
    store: &mut WriteTxn<'_, Wal>,
    name: &str,
    tree: Tree,
) -> Result<()> {
    let mut chains = std::collections::BTreeMap::new();
    for item in tree.range(&*store, ..) {
        if let Stored::Overflow { first_page, length } = item?.value() {
            // Two leaves naming one chain would free it twice: the tree is damaged.
            if chains.insert(first_page, ChainRef { first_page, length }).is_some() {
                let reason = format!("two values of table {name:?} share the chain");
                return Err(redwood_btree::Error::Corrupt { page_id: first_page, reason }.into());
            }
        }
    }
    tree.destroy(store)?;
    for chain in chains.into_values() {
        redwood_overflow::free(store, chain)?;
    }
    Ok(())
}
