//! `ReadTransaction` and `ReadOnlyTable`: a snapshot of every table as of the last commit when
//! the transaction began, whatever commits or checkpoints happen meanwhile.

use std::marker::PhantomData;
use std::ops::{Bound, RangeBounds};
use std::sync::OnceLock;

use redwood_btree::{Entry, OwnedValue, Tree};
use redwood_overflow::ChainRef;
use redwood_pager::{PageGuard, PageRead, ReadTxn};
use redwood_wal::Wal;

use crate::access::AccessGuard;
use crate::catalog::{self, TableEntry};
use crate::definition::TableSpec;
use crate::error::{Error, Result};
use crate::types::{Encode, Key, Value, encode_borrowed, encode_self};

/// A read transaction: a consistent snapshot of every table.
///
/// ```
/// let db = redwood::Database::in_memory()?;
/// let write = db.begin_write()?;
/// write.open_table("a")?.insert(b"k", b"1")?;
/// write.commit()?;
/// let read = db.begin_read()?;
/// let write = db.begin_write()?; // moves the entry from "a" to a new table "b"
/// write.open_table("a")?.remove(b"k")?;
/// write.open_table("b")?.insert(b"k", b"1")?;
/// write.commit()?;
/// assert_eq!(read.list_tables()?, ["a"]); // the snapshot sees neither change
/// assert_eq!(read.open_table("a")?.get(b"k")?.as_deref(), Some(&b"1"[..]));
/// # Ok::<(), redwood::Error>(())
/// ```
pub struct ReadTransaction<'db> {
    pub(crate) txn: ReadTxn<'db, Wal>,
}

impl std::fmt::Debug for ReadTransaction<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadTransaction").field("snapshot", &self.txn.snapshot()).finish()
    }
}

impl<K: Key, V: Value> std::fmt::Debug for ReadOnlyTable<'_, '_, K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadOnlyTable").field("entries", &self.entry.len).finish_non_exhaustive()
    }
}

impl<'db> ReadTransaction<'db> {
    /// Opens the table `table` names (a [`crate::TableDefinition`], or a `&str` for a byte
    /// table); `TableNotFound` if it does not exist in this snapshot. Several tables, and one
    /// table several times, can be open at once.
    ///
    /// ```
    /// use redwood::Error;
    ///
    /// let db = redwood::Database::in_memory()?;
    /// let write = db.begin_write()?;
    /// write.open_table("t")?.insert(b"k", b"v")?;
    /// write.commit()?;
    /// let read = db.begin_read()?;
    /// assert_eq!(read.open_table("t")?.get(b"k")?.as_deref(), Some(&b"v"[..]));
    /// let missing = read.open_table("nope");
    /// assert!(matches!(missing, Err(Error::TableNotFound(name)) if name == "nope"));
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn open_table<T: TableSpec>(
        &self,
        table: T,
    ) -> Result<ReadOnlyTable<'_, 'db, T::Key, T::Value>> {
        let name = table.name();
        let entry = catalog::lookup(&self.txn, name)?
            .ok_or_else(|| Error::TableNotFound(name.to_owned()))?
            .expect_kind(name, catalog::TableKind::Table)?;
        Ok(ReadOnlyTable { txn: &self.txn, entry, root_page: OnceLock::new(), types: PhantomData })
    }

    /// The names of the tables in this snapshot, in order.
    ///
    /// ```
    /// let db = redwood::Database::in_memory()?;
    /// let write = db.begin_write()?;
    /// write.open_table("users")?;
    /// write.open_table("orders")?;
    /// write.commit()?;
    /// assert_eq!(db.begin_read()?.list_tables()?, ["orders", "users"]);
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn list_tables(&self) -> Result<Vec<String>> {
        Ok(catalog::list(&self.txn)?.into_iter().map(|(name, _)| name).collect())
    }

    /// Every table in this snapshot, in name order, with its kind and length, read from the
    /// catalog (no table is opened).
    ///
    /// ```
    /// use redwood::{MultimapTableDefinition, TableKind};
    ///
    /// let db = redwood::Database::in_memory()?;
    /// let write = db.begin_write()?;
    /// write.open_table("plain")?.insert(b"k", b"v")?;
    /// let tags = MultimapTableDefinition::<&str, &str>::new("tags");
    /// write.open_multimap_table(tags)?.insert("a", "b")?;
    /// write.commit()?;
    /// let tables = db.begin_read()?.tables()?;
    /// let summary: Vec<(&str, TableKind, u64)> =
    ///     tables.iter().map(|t| (t.name.as_str(), t.kind, t.entries)).collect();
    /// assert_eq!(summary, [("plain", TableKind::Table, 1), ("tags", TableKind::Multimap, 1)]);
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn tables(&self) -> Result<Vec<TableInfo>> {
        let tables = catalog::list(&self.txn)?;
        Ok(tables
            .into_iter()
            .map(|(name, entry)| TableInfo { name, kind: entry.kind, entries: entry.len })
            .collect())
    }
}

/// One table as [`ReadTransaction::tables`] lists it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct TableInfo {
    /// Its name.
    pub name: String,
    /// A table or a multimap table.
    pub kind: catalog::TableKind,
    /// Its entries (pairs, for a multimap table).
    pub entries: u64,
}

/// A table in a read transaction.
///
/// ```
/// let db = redwood::Database::in_memory()?;
/// let write = db.begin_write()?;
/// write.open_table("t")?.insert(b"k", b"v")?;
/// write.commit()?;
/// let read = db.begin_read()?;
/// let table = read.open_table("t")?;
/// assert_eq!((table.len(), table.get(b"k")?.as_deref()), (1, Some(&b"v"[..])));
/// # Ok::<(), redwood::Error>(())
/// ```
pub struct ReadOnlyTable<'t, 'db, K: Key = &'static [u8], V: Value = &'static [u8]> {
    txn: &'t ReadTxn<'db, Wal>,
    entry: TableEntry,
    /// The tree's root page, pinned by the first lookup and kept: every later lookup starts
    /// there without pinning it again (the root frame is the one line all readers would write).
    root_page: OnceLock<PageGuard<'t>>,
    types: PhantomData<fn() -> (K, V)>,
}

impl<'t, 'db, K: Key, V: Value> ReadOnlyTable<'t, 'db, K, V> {
    /// The value under `key` in this snapshot.
    ///
    /// ```
    /// let db = redwood::Database::in_memory()?;
    /// let write = db.begin_write()?;
    /// write.open_table("t")?.insert(b"k", b"v")?;
    /// write.commit()?;
    /// let read = db.begin_read()?;
    /// let table = read.open_table("t")?;
    /// assert_eq!(table.get(b"k")?.as_deref(), Some(&b"v"[..]));
    /// assert_eq!(table.get(b"missing")?.as_deref(), None);
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn get(&self, key: impl Encode<K>) -> Result<Option<AccessGuard<'t, V>>> {
        let key = encode_borrowed(&key)?;
        let tree = Tree::open(self.entry.root);
        let root = match self.root_page.get() {
            Some(root) => root,
            None => {
                let page = self.txn.read_page(self.entry.root)?;
                // Another thread sharing this table may have set it meanwhile: either is the
                // same page of the same snapshot.
                let _ = self.root_page.set(page);
                self.root_page.get().expect("set above")
            }
        };
        let entry = tree.get_entry_with_root(self.txn, root, &key)?;
        entry.map(|entry| AccessGuard::value_of(self.txn, entry)).transpose()
    }

    /// The top levels of this table's B+Tree in this snapshot, node by node, as far as `limits`
    /// reach (see [`crate::TreeShape`]; [`crate::Database::shape_source`] has an example).
    pub fn shape(&self, limits: crate::ShapeLimits) -> Result<crate::TreeShape> {
        crate::shape::walk(self.txn, self.entry, limits)
    }

    /// The number of entries (O(1)).
    ///
    /// ```
    /// let db = redwood::Database::in_memory()?;
    /// let write = db.begin_write()?;
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
    /// let write = db.begin_write()?;
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
    /// let write = db.begin_write()?;
    /// let mut table = write.open_table("t")?;
    /// for (key, value) in [(b"a", b"1"), (b"b", b"2"), (b"c", b"3")] {
    ///     table.insert(key, value)?;
    /// }
    /// write.commit()?;
    /// let read = db.begin_read()?;
    /// let from_b: &[u8] = b"b";
    /// let mut entries = Vec::new();
    /// for entry in read.open_table("t")?.range(from_b..) {
    ///     let (key, value) = entry?; // guards over the bytes in the leaf page
    ///     entries.push((key.to_vec(), value.to_vec()));
    /// }
    /// assert_eq!(entries, [(b"b".to_vec(), b"2".to_vec()), (b"c".to_vec(), b"3".to_vec())]);
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn range<'k>(
        &self,
        range: impl RangeBounds<K::SelfType<'k>>,
    ) -> impl DoubleEndedIterator<Item = Result<(AccessGuard<'t, K>, AccessGuard<'t, V>)>> + 't
    {
        let store = self.txn;
        self.scan(range).map(move |item| entry_guards(store, item?))
    }

    /// The keys in `range`, in order: values are not read (a large value's overflow chain is
    /// never touched).
    ///
    /// ```
    /// use redwood::TableDefinition;
    ///
    /// const T: TableDefinition<u32, &[u8]> = TableDefinition::new("t");
    /// let db = redwood::Database::in_memory()?;
    /// let write = db.begin_write()?;
    /// let mut table = write.open_table(T)?;
    /// for key in 0..10u32 {
    ///     table.insert(key, vec![0u8; 10_000].as_slice())?; // overflow values
    /// }
    /// drop(table);
    /// write.commit()?;
    /// let read = db.begin_read()?;
    /// let keys: Vec<u32> = read.open_table(T)?.keys(3..6).map(|k| k.map(|k| k.value())).collect::<Result<_, _>>()?;
    /// assert_eq!(keys, [3, 4, 5]);
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn keys<'k>(
        &self,
        range: impl RangeBounds<K::SelfType<'k>>,
    ) -> impl DoubleEndedIterator<Item = Result<AccessGuard<'t, K>>> + 't {
        self.scan(range).map(|item| AccessGuard::key(item?))
    }

    /// The values of the entries in `range`, in key order (an inline value borrowed from its
    /// leaf, an overflow value read once).
    ///
    /// ```
    /// use redwood::TableDefinition;
    ///
    /// const SCORES: TableDefinition<u32, u64> = TableDefinition::new("scores");
    /// let db = redwood::Database::in_memory()?;
    /// let write = db.begin_write()?;
    /// let mut scores = write.open_table(SCORES)?;
    /// for (player, score) in [(1, 30), (2, 50), (3, 20)] {
    ///     scores.insert(player, score)?;
    /// }
    /// drop(scores);
    /// write.commit()?;
    /// let read = db.begin_read()?;
    /// let scores: Vec<u64> =
    ///     read.open_table(SCORES)?.values(2..).map(|v| v.map(|v| v.value())).collect::<Result<_, _>>()?;
    /// assert_eq!(scores, [50, 20]);
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn values<'k>(
        &self,
        range: impl RangeBounds<K::SelfType<'k>>,
    ) -> impl DoubleEndedIterator<Item = Result<AccessGuard<'t, V>>> + 't {
        let store = self.txn;
        self.scan(range).map(move |item| AccessGuard::value_of(store, item?))
    }

    /// The entry with the smallest key, if any.
    ///
    /// ```
    /// use redwood::TableDefinition;
    ///
    /// const T: TableDefinition<i32, &str> = TableDefinition::new("t");
    /// let db = redwood::Database::in_memory()?;
    /// let write = db.begin_write()?;
    /// let mut table = write.open_table(T)?;
    /// for (key, value) in [(5, "five"), (-3, "minus three"), (12, "twelve")] {
    ///     table.insert(key, value)?;
    /// }
    /// drop(table);
    /// write.commit()?;
    /// let read = db.begin_read()?;
    /// let table = read.open_table(T)?;
    /// let (key, value) = table.first()?.expect("not empty");
    /// assert_eq!((key.value(), value.value()), (-3, "minus three"));
    /// let (key, _) = table.last()?.expect("not empty");
    /// assert_eq!(key.value(), 12);
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn first(&self) -> Result<Option<(AccessGuard<'t, K>, AccessGuard<'t, V>)>> {
        self.range(..).next().transpose()
    }

    /// The entry with the largest key, if any (an example is [`ReadOnlyTable::first`]'s).
    pub fn last(&self) -> Result<Option<(AccessGuard<'t, K>, AccessGuard<'t, V>)>> {
        self.range(..).next_back().transpose()
    }

    /// The tree's entries in `range`, unresolved.
    fn scan<'k>(
        &self,
        range: impl RangeBounds<K::SelfType<'k>>,
    ) -> redwood_btree::Range<'t, ReadTxn<'db, Wal>> {
        let (lower, upper) = encode_bounds::<K>(&range);
        Tree::open(self.entry.root).range(self.txn, (as_slice(&lower), as_slice(&upper)))
    }
}

/// The bounds of `range`, encoded as `K`.
pub(crate) fn encode_bounds<'k, K: Key>(
    range: &impl RangeBounds<K::SelfType<'k>>,
) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    (range.start_bound().map(encode_self::<K>), range.end_bound().map(encode_self::<K>))
}

/// A bound over owned bytes as one over a slice.
pub(crate) fn as_slice(bound: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    bound.as_ref().map(Vec::as_slice)
}

/// A scanned entry as a key guard and a value guard (both borrowing its leaf).
pub(crate) fn entry_guards<'s, K: Key, V: Value>(
    store: &impl PageRead,
    entry: Entry<'s>,
) -> Result<(AccessGuard<'s, K>, AccessGuard<'s, V>)> {
    let key = AccessGuard::key(entry.clone())?;
    Ok((key, AccessGuard::value_of(store, entry)?))
}

/// A value's bytes: inline, or read from its overflow chain.
pub(crate) fn bytes_of(store: &impl PageRead, value: OwnedValue) -> Result<Vec<u8>> {
    match value {
        OwnedValue::Inline(bytes) => Ok(bytes),
        OwnedValue::Overflow { first_page, length } => {
            Ok(redwood_overflow::read(store, ChainRef { first_page, length })?)
        }
    }
}
