//! Multimap tables: each key holds a sorted set of values (redb's `MultimapTable`).
//!
//! A multimap table is one B+Tree whose keys are pairs: the key's encoding in element form
//! (every `00` written `00 FF`, then `00 00`, as in a tuple) followed by the value's encoding,
//! with an empty value. So the tree orders the pairs by key and then by value, the values of one
//! key are one contiguous run (`get` is one range scan), and adding a pair that is there already
//! changes nothing. The catalog marks the table as a multimap table (`docs/FORMAT.md`, "The
//! tables catalog"): opening it as a plain table, or a plain table as a multimap table, is
//! `Error::TableKindMismatch`. Its length counts pairs. A pair is one key of the tree, so a
//! key's and a value's encodings together must fit the key limit (see the crate's "Limits").

use std::marker::PhantomData;
use std::ops::{Bound, RangeBounds};

use redwood_btree::Tree;
use redwood_pager::ReadTxn;
use redwood_wal::Wal;

use crate::access::AccessGuard;
use crate::catalog::{self, TableEntry, TableKind};
use crate::error::{Error, Result};
use crate::read::ReadTransaction;
use crate::types::{
    DecodeError, Encode, Key, encode_self, encode_to_vec, read_escaped, write_escaped,
};
use crate::write::{Open, Table, WriteTransaction};
use crate::write_scan::Scan;

/// A multimap table's name with its key and value types (both [`Key`]s: values are kept in
/// their encoded order).
///
/// ```
/// use redwood::MultimapTableDefinition;
///
/// const TAGS: MultimapTableDefinition<&str, &str> = MultimapTableDefinition::new("tags");
/// let db = redwood::Database::in_memory()?;
/// let write = db.begin_write()?;
/// let mut tags = write.open_multimap_table(TAGS)?;
/// tags.insert("rust", "fast")?;
/// tags.insert("rust", "embedded")?;
/// tags.insert("c", "fast")?;
/// drop(tags);
/// write.commit()?;
/// let read = db.begin_read()?;
/// let tags = read.open_multimap_table(TAGS)?;
/// let rust: Vec<String> =
///     tags.get("rust")?.map(|v| v.map(|v| v.value().to_owned())).collect::<Result<_, _>>()?;
/// assert_eq!(rust, ["embedded", "fast"]); // sorted
/// assert_eq!(tags.len(), 3); // pairs
/// # Ok::<(), redwood::Error>(())
/// ```
pub struct MultimapTableDefinition<'n, K: Key, V: Key> {
    name: &'n str,
    types: PhantomData<fn() -> (K, V)>,
}

impl<'n, K: Key, V: Key> MultimapTableDefinition<'n, K, V> {
    /// The definition of the multimap table `name`.
    pub const fn new(name: &'n str) -> Self {
        Self { name, types: PhantomData }
    }

    /// The table's name.
    pub fn name(&self) -> &'n str {
        self.name
    }
}

impl<K: Key, V: Key> Clone for MultimapTableDefinition<'_, K, V> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<K: Key, V: Key> Copy for MultimapTableDefinition<'_, K, V> {}

impl<K: Key, V: Key> std::fmt::Debug for MultimapTableDefinition<'_, K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (key, value) = (K::type_name(), V::type_name());
        write!(f, "MultimapTableDefinition({:?}: {key} -> {{{value}}})", self.name)
    }
}

/// The stored key of the pair (`key`, `value`), both encoded.
fn pair(key: &[u8], value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(key.len() + value.len() + 2);
    write_escaped(key, &mut out);
    out.extend_from_slice(value);
    out
}

/// The bounds of the pairs of one encoded key: from its prefix (`… 00 00`) up to, excluded,
/// the same prefix ending `00 01` (after an element's `00` comes `FF` or the terminator's `00`,
/// so nothing else sorts between).
fn key_run(key: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let mut start = Vec::with_capacity(key.len() + 2);
    write_escaped(key, &mut start);
    let mut end = start.clone();
    *end.last_mut().expect("the terminator") = 1;
    (start, end)
}

/// The bounds of the pairs whose keys lie in `range`.
fn pair_bounds<'k, K: Key>(
    range: &impl RangeBounds<K::SelfType<'k>>,
) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    let lower = match range.start_bound() {
        Bound::Included(key) => Bound::Included(key_run(&encode_self::<K>(key)).0),
        Bound::Excluded(key) => Bound::Included(key_run(&encode_self::<K>(key)).1),
        Bound::Unbounded => Bound::Unbounded,
    };
    let upper = match range.end_bound() {
        Bound::Included(key) => Bound::Excluded(key_run(&encode_self::<K>(key)).1),
        Bound::Excluded(key) => Bound::Excluded(key_run(&encode_self::<K>(key)).0),
        Bound::Unbounded => Bound::Unbounded,
    };
    (lower, upper)
}

/// A stored pair split into its key's and its value's encodings.
fn split_pair<K: Key>(stored: &[u8]) -> std::result::Result<(Vec<u8>, &[u8]), DecodeError> {
    read_escaped::<K>(stored)
}

/// The pair stored as `stored`, as guards checked to decode as `K` and `V`.
fn pair_guards<'t, K: Key, V: Key>(
    stored: &[u8],
) -> Result<(AccessGuard<'t, K>, AccessGuard<'t, V>)> {
    let (key, value) = split_pair::<K>(stored)?;
    Ok((AccessGuard::owned(key)?, AccessGuard::owned(value.to_vec())?))
}

/// The stored pairs of a scan, in order.
type Pairs<'t> = Box<dyn DoubleEndedIterator<Item = Result<Vec<u8>>> + 't>;

/// The pairs of a multimap table in a key range, in order (by key, then by value): what
/// `range` returns. Each item is one (key, value) pair.
pub struct MultimapRange<'t, K: Key, V: Key> {
    pairs: Pairs<'t>,
    types: PhantomData<fn() -> (K, V)>,
}

impl<'t, K: Key, V: Key> Iterator for MultimapRange<'t, K, V> {
    type Item = Result<(AccessGuard<'t, K>, AccessGuard<'t, V>)>;

    fn next(&mut self) -> Option<Self::Item> {
        Some(self.pairs.next()?.and_then(|stored| pair_guards(&stored)))
    }
}

impl<K: Key, V: Key> DoubleEndedIterator for MultimapRange<'_, K, V> {
    fn next_back(&mut self) -> Option<Self::Item> {
        Some(self.pairs.next_back()?.and_then(|stored| pair_guards(&stored)))
    }
}

/// The values of one key of a multimap table, in their encoded order: what `get` returns.
pub struct MultimapValues<'t, V: Key> {
    pairs: Pairs<'t>,
    /// The stored prefix of the key (its element form), cut off each pair.
    prefix_bytes: usize,
    types: PhantomData<fn() -> V>,
}

impl<'t, V: Key> MultimapValues<'t, V> {
    fn value(&self, stored: Vec<u8>) -> Result<AccessGuard<'t, V>> {
        AccessGuard::owned(stored[self.prefix_bytes..].to_vec())
    }
}

impl<'t, V: Key> Iterator for MultimapValues<'t, V> {
    type Item = Result<AccessGuard<'t, V>>;

    fn next(&mut self) -> Option<Self::Item> {
        let stored = self.pairs.next()?;
        Some(stored.and_then(|stored| self.value(stored)))
    }
}

impl<V: Key> DoubleEndedIterator for MultimapValues<'_, V> {
    fn next_back(&mut self) -> Option<Self::Item> {
        let stored = self.pairs.next_back()?;
        Some(stored.and_then(|stored| self.value(stored)))
    }
}

impl<'db> WriteTransaction<'db> {
    /// Opens the multimap table `table` names, creating it if it does not exist;
    /// `TableKindMismatch` if a plain table has the name. Several tables, of either kind, can
    /// be open at once.
    pub fn open_multimap_table<K: Key, V: Key>(
        &self,
        table: MultimapTableDefinition<'_, K, V>,
    ) -> Result<MultimapTable<'_, 'db, K, V>> {
        self.open(table.name(), Open::OrCreate, TableKind::Multimap)?;
        Ok(MultimapTable { txn: self, inner: Table::new(self, table.name()), types: PhantomData })
    }
}

impl<'db> ReadTransaction<'db> {
    /// Opens the multimap table `table` names in this snapshot; `TableNotFound` if it does not
    /// exist, `TableKindMismatch` if it is a plain table.
    pub fn open_multimap_table<K: Key, V: Key>(
        &self,
        table: MultimapTableDefinition<'_, K, V>,
    ) -> Result<ReadOnlyMultimapTable<'_, 'db, K, V>> {
        let name = table.name();
        let entry = catalog::lookup(&self.txn, name)?
            .ok_or_else(|| Error::TableNotFound(name.to_owned()))?
            .expect_kind(name, TableKind::Multimap)?;
        Ok(ReadOnlyMultimapTable { txn: &self.txn, entry, types: PhantomData })
    }
}

/// A multimap table open in a write transaction: reads see the transaction's own writes.
///
/// ```
/// use redwood::MultimapTableDefinition;
///
/// const FOLLOWERS: MultimapTableDefinition<u64, u64> = MultimapTableDefinition::new("followers");
/// let db = redwood::Database::in_memory()?;
/// let write = db.begin_write()?;
/// let mut followers = write.open_multimap_table(FOLLOWERS)?;
/// assert!(!followers.insert(1, 7)?);
/// assert!(followers.insert(1, 7)?); // already there: nothing changes
/// followers.insert(1, 3)?;
/// followers.insert(2, 1)?;
/// assert_eq!(followers.value_count(1)?, 2);
/// assert!(followers.remove(1, 7)?);
/// assert_eq!(followers.remove_all(2)?, 1);
/// let pairs: Vec<(u64, u64)> = followers
///     .range(..)
///     .map(|pair| pair.map(|(k, v)| (k.value(), v.value())))
///     .collect::<Result<_, _>>()?;
/// assert_eq!(pairs, [(1, 3)]);
/// # Ok::<(), redwood::Error>(())
/// ```
pub struct MultimapTable<'t, 'db, K: Key, V: Key> {
    txn: &'t WriteTransaction<'db>,
    /// The pairs, as a byte table of empty values.
    inner: Table<'t, 'db>,
    types: PhantomData<fn() -> (K, V)>,
}

impl<K: Key, V: Key> std::fmt::Debug for MultimapTable<'_, '_, K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MultimapTable").field("table", &self.inner).finish_non_exhaustive()
    }
}

impl<'t, 'db, K: Key, V: Key> MultimapTable<'t, 'db, K, V> {
    /// Adds `value` to `key`'s values; returns whether it was there already (then nothing
    /// changes).
    pub fn insert(&mut self, key: impl Encode<K>, value: impl Encode<V>) -> Result<bool> {
        let stored = pair(&encode_to_vec(&key)?, &encode_to_vec(&value)?);
        self.inner.insert(stored.as_slice(), [].as_slice())
    }

    /// Removes `value` from `key`'s values; returns whether it was there.
    pub fn remove(&mut self, key: impl Encode<K>, value: impl Encode<V>) -> Result<bool> {
        let stored = pair(&encode_to_vec(&key)?, &encode_to_vec(&value)?);
        self.inner.remove(stored.as_slice())
    }

    /// Removes every value of `key`; returns how many there were.
    pub fn remove_all(&mut self, key: impl Encode<K>) -> Result<u64> {
        let (start, end) = key_run(&encode_to_vec(&key)?);
        self.inner
            .remove_range((Bound::Included(start.as_slice()), Bound::Excluded(end.as_slice())))
    }

    /// The values of `key`, in order (none if it has none).
    pub fn get(&self, key: impl Encode<K>) -> Result<MultimapValues<'t, V>> {
        let (start, end) = key_run(&encode_to_vec(&key)?);
        let prefix_bytes = start.len();
        let pairs = self.scan(Bound::Included(start), Bound::Excluded(end));
        Ok(MultimapValues { pairs, prefix_bytes, types: PhantomData })
    }

    /// How many values `key` has.
    pub fn value_count(&self, key: impl Encode<K>) -> Result<u64> {
        let mut count = 0;
        for value in self.get(key)? {
            value?;
            count += 1;
        }
        Ok(count)
    }

    /// The pairs whose keys lie in `range`, in order (by key, then by value), one item per
    /// pair; `range` is any range of keys (`..`, `a..b`, `a..=b`, `a..`).
    pub fn range<'k>(&self, range: impl RangeBounds<K::SelfType<'k>>) -> MultimapRange<'t, K, V> {
        let (lower, upper) = pair_bounds::<K>(&range);
        MultimapRange { pairs: self.scan(lower, upper), types: PhantomData }
    }

    /// The pairs in the table (each key once per value).
    pub fn len(&self) -> u64 {
        self.inner.len()
    }

    /// Whether the table holds no pair.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn scan(&self, lower: Bound<Vec<u8>>, upper: Bound<Vec<u8>>) -> Pairs<'t> {
        let name = self.inner.name().to_owned();
        Box::new(Scan::new(self.txn, &name, lower, upper, false).map(|item| Ok(item?.key)))
    }
}

/// A multimap table in a read transaction.
pub struct ReadOnlyMultimapTable<'t, 'db, K: Key, V: Key> {
    txn: &'t ReadTxn<'db, Wal>,
    entry: TableEntry,
    types: PhantomData<fn() -> (K, V)>,
}

impl<K: Key, V: Key> std::fmt::Debug for ReadOnlyMultimapTable<'_, '_, K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadOnlyMultimapTable")
            .field("pairs", &self.entry.len)
            .finish_non_exhaustive()
    }
}

impl<'t, 'db, K: Key, V: Key> ReadOnlyMultimapTable<'t, 'db, K, V> {
    /// The values of `key` in this snapshot, in order (none if it has none).
    pub fn get(&self, key: impl Encode<K>) -> Result<MultimapValues<'t, V>> {
        let (start, end) = key_run(&encode_to_vec(&key)?);
        let prefix_bytes = start.len();
        let pairs = self.scan(Bound::Included(start), Bound::Excluded(end));
        Ok(MultimapValues { pairs, prefix_bytes, types: PhantomData })
    }

    /// The pairs whose keys lie in `range`, in order (by key, then by value).
    pub fn range<'k>(&self, range: impl RangeBounds<K::SelfType<'k>>) -> MultimapRange<'t, K, V> {
        let (lower, upper) = pair_bounds::<K>(&range);
        MultimapRange { pairs: self.scan(lower, upper), types: PhantomData }
    }

    /// The pairs in the table in this snapshot.
    pub fn len(&self) -> u64 {
        self.entry.len
    }

    /// Whether the table held no pair in this snapshot.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn scan(&self, lower: Bound<Vec<u8>>, upper: Bound<Vec<u8>>) -> Pairs<'t> {
        let bounds = (lower.as_ref().map(Vec::as_slice), upper.as_ref().map(Vec::as_slice));
        let entries = Tree::open(self.entry.root).range(self.txn, bounds);
        Box::new(entries.map(|entry| Ok(entry?.key().to_vec())))
    }
}
