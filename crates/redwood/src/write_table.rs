//! `Table`: a table open in a write transaction. Its operations borrow the transaction's state
//! for their own duration only; what they hand out owns its bytes, and its scans
//! ([`crate::write_scan`]) copy a batch at a time, so a caller may change any table between two
//! steps of a scan, and `retain` and `remove_range` remove as they go.

use std::marker::PhantomData;
use std::ops::RangeBounds;

use redwood_btree::{Tree, Value as Stored};
use redwood_pager::PageRead;

use crate::access::AccessGuard;
use crate::catalog;
use crate::error::Result;
use crate::read::{bytes_of, encode_bounds};
use crate::types::{Encode, Key, Value, encode_borrowed};
use crate::write::{WriteState, WriteTransaction, free_chain};
use crate::write_scan::Scan;

/// A table open in a write transaction: reads see the transaction's own writes.
///
/// ```
/// let db = redwood::Database::in_memory()?;
/// let write = db.begin_write()?;
/// let mut table = write.open_table("t")?;
/// table.insert(b"k", b"v")?;
/// assert_eq!(table.get(b"k")?.as_deref(), Some(&b"v"[..])); // sees its own writes
/// assert_eq!(table.len(), 1);
/// # Ok::<(), redwood::Error>(())
/// ```
pub struct Table<'t, 'db, K: Key = &'static [u8], V: Value = &'static [u8]> {
    txn: &'t WriteTransaction<'db>,
    name: String,
    types: PhantomData<fn() -> (K, V)>,
}

impl<K: Key, V: Value> std::fmt::Debug for Table<'_, '_, K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Table").field("name", &self.name).finish_non_exhaustive()
    }
}

impl<'t, 'db, K: Key, V: Value> Table<'t, 'db, K, V> {
    /// The open table `name` of `txn`.
    pub(crate) fn new(txn: &'t WriteTransaction<'db>, name: &str) -> Self {
        Self { txn, name: name.to_owned(), types: PhantomData }
    }

    /// The table's name.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// Stores `value` under `key` (a value over the inline limit goes to an overflow chain);
    /// returns whether a value was replaced.
    ///
    /// ```
    /// let db = redwood::Database::in_memory()?;
    /// let write = db.begin_write()?;
    /// let mut table = write.open_table("t")?;
    /// assert!(!table.insert(b"k", b"v1")?);
    /// assert!(table.insert(b"k", b"v2")?); // replaced
    /// let large = vec![7u8; 64 * 1024]; // stored in an overflow chain
    /// table.insert(b"blob", &large)?;
    /// assert_eq!(table.get(b"blob")?.map(|value| value.to_vec()), Some(large));
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn insert(&mut self, key: impl Encode<K>, value: impl Encode<V>) -> Result<bool> {
        let (key, value) = (encode_borrowed(&key)?, encode_borrowed(&value)?);
        insert(&mut self.txn.state.borrow_mut(), &self.name, &key, &value)
    }

    /// Removes `key`; returns whether it was there (freeing its overflow chain, if any).
    ///
    /// ```
    /// let db = redwood::Database::in_memory()?;
    /// let write = db.begin_write()?;
    /// let mut table = write.open_table("t")?;
    /// table.insert(b"k", b"v")?;
    /// assert!(table.remove(b"k")?);
    /// assert!(!table.remove(b"k")?); // already gone
    /// assert_eq!(table.get(b"k")?.as_deref(), None);
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn remove(&mut self, key: impl Encode<K>) -> Result<bool> {
        let key = encode_borrowed(&key)?;
        remove(&mut self.txn.state.borrow_mut(), &self.name, &key)
    }

    /// The value under `key`, as this transaction sees it (a copy: later writes may change the
    /// transaction's pages).
    ///
    /// ```
    /// let db = redwood::Database::in_memory()?;
    /// let write = db.begin_write()?;
    /// let mut table = write.open_table("t")?;
    /// table.insert(b"k", b"v")?;
    /// assert_eq!(table.get(b"k")?.as_deref(), Some(&b"v"[..]));
    /// assert_eq!(table.get(b"missing")?.as_deref(), None);
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn get(&self, key: impl Encode<K>) -> Result<Option<AccessGuard<'t, V>>> {
        let key = encode_borrowed(&key)?;
        let state = self.txn.state.borrow();
        let entry = state.open_entry(&self.name)?;
        let Some(value) = Tree::open(entry.root).get_value(&state.txn, &key)? else {
            return Ok(None);
        };
        Ok(Some(AccessGuard::owned(bytes_of(&state.txn, value)?)?))
    }

    /// The number of entries (O(1)); 0 once the table is deleted.
    ///
    /// ```
    /// let db = redwood::Database::in_memory()?;
    /// let write = db.begin_write()?;
    /// let mut table = write.open_table("t")?;
    /// table.insert(b"a", b"1")?;
    /// table.insert(b"b", b"2")?;
    /// table.insert(b"a", b"3")?; // a replacement adds no entry
    /// assert_eq!(table.len(), 2);
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn len(&self) -> u64 {
        self.txn.state.borrow().open_entry(&self.name).map_or(0, |entry| entry.len)
    }

    /// Whether the table is empty.
    ///
    /// ```
    /// let db = redwood::Database::in_memory()?;
    /// let write = db.begin_write()?;
    /// let mut table = write.open_table("t")?;
    /// assert!(table.is_empty());
    /// table.insert(b"k", b"v")?;
    /// assert!(!table.is_empty());
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A scan of the entries in `range`, in key order (`.rev()` for descending). It reads a
    /// batch of entries at a time, so changes the transaction makes between two steps (through
    /// another handle of this table, or to other tables) may or may not be seen, and an entry is
    /// never returned twice.
    ///
    /// ```
    /// let db = redwood::Database::in_memory()?;
    /// let write = db.begin_write()?;
    /// let mut table = write.open_table("t")?;
    /// for key in [b"a", b"b", b"c", b"d"] {
    ///     table.insert(key, b"")?;
    /// }
    /// let keys: Vec<Vec<u8>> = table
    ///     .range(b"b".as_slice()..b"d")
    ///     .rev()
    ///     .map(|entry| entry.map(|(key, _)| key.to_vec()))
    ///     .collect::<Result<_, _>>()?;
    /// assert_eq!(keys, [b"c".to_vec(), b"b".to_vec()]);
    /// assert_eq!(table.range(..).count(), 4);
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn range<'k>(
        &self,
        range: impl RangeBounds<K::SelfType<'k>>,
    ) -> impl DoubleEndedIterator<Item = Result<(AccessGuard<'t, K>, AccessGuard<'t, V>)>> + 't
    {
        self.scan(&range, true).map(|item| {
            let item = item?;
            Ok((AccessGuard::owned(item.key)?, AccessGuard::owned(item.value.unwrap_or_default())?))
        })
    }

    /// The keys in `range`, in order, without reading any value (see [`Table::range`]).
    ///
    /// ```
    /// use redwood::TableDefinition;
    ///
    /// const SIZES: TableDefinition<&str, u64> = TableDefinition::new("sizes");
    /// let db = redwood::Database::in_memory()?;
    /// let write = db.begin_write()?;
    /// let mut sizes = write.open_table(SIZES)?;
    /// for (name, bytes) in [("b.txt", 20), ("a.txt", 10), ("c.bin", 30)] {
    ///     sizes.insert(name, bytes)?;
    /// }
    /// let names: Vec<String> =
    ///     sizes.keys("a".."c").map(|k| k.map(|k| k.value().to_owned())).collect::<Result<_, _>>()?;
    /// assert_eq!(names, ["a.txt", "b.txt"]);
    /// let total: u64 = sizes.values(..).map(|v| v.map(|v| v.value())).sum::<Result<_, _>>()?;
    /// assert_eq!(total, 60);
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn keys<'k>(
        &self,
        range: impl RangeBounds<K::SelfType<'k>>,
    ) -> impl DoubleEndedIterator<Item = Result<AccessGuard<'t, K>>> + 't {
        self.scan(&range, false).map(|item| AccessGuard::owned(item?.key))
    }

    /// The values of the entries in `range`, in key order (see [`Table::range`]; an example
    /// is [`Table::keys`]'s).
    pub fn values<'k>(
        &self,
        range: impl RangeBounds<K::SelfType<'k>>,
    ) -> impl DoubleEndedIterator<Item = Result<AccessGuard<'t, V>>> + 't {
        self.scan(&range, true).map(|item| AccessGuard::owned(item?.value.unwrap_or_default()))
    }

    /// The entry with the smallest key, if any.
    ///
    /// ```
    /// use redwood::TableDefinition;
    ///
    /// const T: TableDefinition<u8, &str> = TableDefinition::new("t");
    /// let db = redwood::Database::in_memory()?;
    /// let write = db.begin_write()?;
    /// let mut table = write.open_table(T)?;
    /// assert!(table.first()?.is_none());
    /// table.insert(9, "nine")?;
    /// table.insert(4, "four")?;
    /// assert_eq!(table.first()?.map(|(k, v)| (k.value(), v.value().to_owned())), Some((4, "four".into())));
    /// assert_eq!(table.last()?.map(|(k, _)| k.value()), Some(9));
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn first(&self) -> Result<Option<(AccessGuard<'t, K>, AccessGuard<'t, V>)>> {
        self.range(..).next().transpose()
    }

    /// The entry with the largest key, if any (an example is [`Table::first`]'s).
    pub fn last(&self) -> Result<Option<(AccessGuard<'t, K>, AccessGuard<'t, V>)>> {
        self.range(..).next_back().transpose()
    }

    /// Removes and returns the entry with the smallest key, if any.
    ///
    /// ```
    /// use redwood::TableDefinition;
    ///
    /// const QUEUE: TableDefinition<u64, &str> = TableDefinition::new("queue");
    /// let db = redwood::Database::in_memory()?;
    /// let write = db.begin_write()?;
    /// let mut queue = write.open_table(QUEUE)?;
    /// queue.insert(2, "second")?;
    /// queue.insert(1, "first")?;
    /// let (key, value) = queue.pop_first()?.expect("two entries");
    /// assert_eq!((key.value(), value.value()), (1, "first"));
    /// assert_eq!(queue.len(), 1);
    /// assert_eq!(queue.pop_last()?.map(|(k, _)| k.value()), Some(2));
    /// assert!(queue.pop_first()?.is_none());
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn pop_first(&mut self) -> Result<Option<(AccessGuard<'t, K>, AccessGuard<'t, V>)>> {
        let first = self.first()?;
        self.take(first)
    }

    /// Removes and returns the entry with the largest key, if any (an example is
    /// [`Table::pop_first`]'s).
    pub fn pop_last(&mut self) -> Result<Option<(AccessGuard<'t, K>, AccessGuard<'t, V>)>> {
        let last = self.last()?;
        self.take(last)
    }

    fn take(
        &mut self,
        entry: Option<(AccessGuard<'t, K>, AccessGuard<'t, V>)>,
    ) -> Result<Option<(AccessGuard<'t, K>, AccessGuard<'t, V>)>> {
        if let Some((key, _)) = &entry {
            remove(&mut self.txn.state.borrow_mut(), &self.name, key.as_bytes())?;
        }
        Ok(entry)
    }

    /// Removes every entry in `range`; returns how many. Values are not read.
    ///
    /// ```
    /// use redwood::TableDefinition;
    ///
    /// const T: TableDefinition<u32, ()> = TableDefinition::new("t");
    /// let db = redwood::Database::in_memory()?;
    /// let write = db.begin_write()?;
    /// let mut table = write.open_table(T)?;
    /// for key in 0..100u32 {
    ///     table.insert(key, ())?;
    /// }
    /// assert_eq!(table.remove_range(10..90)?, 80);
    /// assert_eq!(table.len(), 20);
    /// assert_eq!(table.first()?.map(|(k, _)| k.value()), Some(0));
    /// assert_eq!(table.keys(9..).next().transpose()?.map(|k| k.value()), Some(9));
    /// assert_eq!(table.keys(10..).next().transpose()?.map(|k| k.value()), Some(90));
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn remove_range<'k>(&mut self, range: impl RangeBounds<K::SelfType<'k>>) -> Result<u64> {
        let mut removed = 0;
        for item in self.scan(&range, false) {
            let key = item?.key;
            removed += u64::from(remove(&mut self.txn.state.borrow_mut(), &self.name, &key)?);
        }
        Ok(removed)
    }

    /// Keeps only the entries for which `keep` returns true; returns how many were removed.
    ///
    /// ```
    /// use redwood::TableDefinition;
    ///
    /// const T: TableDefinition<u32, u32> = TableDefinition::new("t");
    /// let db = redwood::Database::in_memory()?;
    /// let write = db.begin_write()?;
    /// let mut table = write.open_table(T)?;
    /// for key in 0..10u32 {
    ///     table.insert(key, key * key)?;
    /// }
    /// assert_eq!(table.retain(|_, square| square % 2 == 0)?, 5); // the odd squares go
    /// let left: Vec<u32> = table.keys(..).map(|k| k.map(|k| k.value())).collect::<Result<_, _>>()?;
    /// assert_eq!(left, [0, 2, 4, 6, 8]);
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn retain(
        &mut self,
        mut keep: impl FnMut(K::SelfType<'_>, V::SelfType<'_>) -> bool,
    ) -> Result<u64> {
        let mut removed = 0;
        for item in self.scan(&(..), true) {
            let item = item?;
            let value = item.value.unwrap_or_default();
            let kept = keep(K::from_bytes(&item.key)?, V::from_bytes(&value)?);
            if !kept {
                removed +=
                    u64::from(remove(&mut self.txn.state.borrow_mut(), &self.name, &item.key)?);
            }
        }
        Ok(removed)
    }

    /// A batched scan of `range`, reading values when `with_values`.
    fn scan<'k>(
        &self,
        range: &impl RangeBounds<K::SelfType<'k>>,
        with_values: bool,
    ) -> Scan<'t, 'db> {
        let (lower, upper) = encode_bounds::<K>(range);
        Scan::new(self.txn, &self.name, lower, upper, with_values)
    }
}

/// Pages the transaction holds changed right now (in memory or spilled).
fn changed_now(state: &WriteState<'_>) -> usize {
    state.txn.dirty_page_count() + state.txn.spilled_page_count()
}

/// Credits table `name` with the pages newly changed since `before`.
fn count_changed(state: &mut WriteState<'_>, name: &str, before: usize) {
    let newly = changed_now(state).saturating_sub(before) as u64;
    *state.changed_pages.entry(name.to_owned()).or_default() += newly;
}

/// Stores `value` under `key` in the open table `name`; whether a value was replaced.
pub(crate) fn insert(
    state: &mut WriteState<'_>,
    name: &str,
    key: &[u8],
    value: &[u8],
) -> Result<bool> {
    let mut entry = state.open_entry(name)?;
    let mut tree = state.db.tree_observers.tree(name, entry.root);
    let changed_before = changed_now(state);
    let store = &mut state.txn;
    let page_size = store.page_size();
    let previous = if value.len() > redwood_btree::limits::inline_value_max_bytes(page_size) {
        // Check the key before writing a chain the tree would then refuse (keys past the
        // inline limit are long keys, whose tails the tree keeps in chains of its own).
        let max_bytes = redwood_btree::limits::KEY_MAX_BYTES_TOTAL;
        if key.len() > max_bytes {
            return Err(redwood_btree::Error::KeyTooLarge { bytes: key.len(), max_bytes }.into());
        }
        let chain = redwood_overflow::write(store, value)?;
        let reference = Stored::Overflow { first_page: chain.first_page, length: chain.length };
        tree.insert_value(store, key, reference)?
    } else {
        tree.insert_value(store, key, Stored::Inline(value))?
    };
    free_chain(store, previous.as_ref())?;
    count_changed(state, name, changed_before);
    let replaced = previous.is_some();
    entry.root = tree.root();
    entry.len = entry
        .len
        .checked_add(u64::from(!replaced))
        .ok_or_else(|| catalog::length_corrupt(&state.txn, name, "overflows"))?;
    state.set_entry(name, entry);
    Ok(replaced)
}

/// Removes `key` from the open table `name`; whether it was there.
pub(crate) fn remove(state: &mut WriteState<'_>, name: &str, key: &[u8]) -> Result<bool> {
    let mut entry = state.open_entry(name)?;
    let mut tree = state.db.tree_observers.tree(name, entry.root);
    let changed_before = changed_now(state);
    let removed_value = tree.remove_value(&mut state.txn, key)?;
    free_chain(&mut state.txn, removed_value.as_ref())?;
    count_changed(state, name, changed_before);
    let removed = removed_value.is_some();
    entry.root = tree.root();
    entry.len = entry
        .len
        .checked_sub(u64::from(removed))
        .ok_or_else(|| catalog::length_corrupt(&state.txn, name, "is 0, yet a key was removed"))?;
    state.set_entry(name, entry);
    Ok(removed)
}
