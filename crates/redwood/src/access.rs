//! `AccessGuard`: what a read hands out: a key's or a value's bytes, borrowed from the pinned
//! leaf page they are stored in, or (for a value in an overflow chain) assembled once.

use std::marker::PhantomData;
use std::ops::Deref;

use redwood_btree::{Entry, Value as Stored};
use redwood_overflow::ChainRef;
use redwood_pager::PageRead;

use crate::error::Result;
use crate::types::Value;

/// A key or a value read from a table: [`AccessGuard::value`] decodes it as the table's type
/// `V`; a guard of a byte table (`V = &[u8]`, the default) also derefs to the bytes.
///
/// In a read transaction, an inline value (and every key) is borrowed straight from its leaf page, which stays pinned
/// in the cache while the guard lives: nothing is copied. A value stored in an overflow chain is
/// read once into a buffer the guard owns. In a write transaction a guard owns a copy (later
/// writes may change the transaction's pages). Call [`AccessGuard::to_vec`] for an owned copy.
///
/// ```
/// let db = redwood::Database::in_memory()?;
/// let write = db.begin_write()?;
/// write.open_table("t")?.insert(b"k", b"v")?;
/// write.commit()?;
/// let read = db.begin_read()?;
/// let table = read.open_table("t")?;
/// let value = table.get(b"k")?.expect("inserted");
/// assert_eq!(value.value(), b"v");
/// assert_eq!(&*value, b"v"); // it derefs to the bytes
/// let owned: Vec<u8> = value.to_vec();
/// # let _ = owned;
/// # Ok::<(), redwood::Error>(())
/// ```
pub struct AccessGuard<'a, V: Value = &'static [u8]> {
    inner: Inner<'a>,
    types: PhantomData<fn() -> V>,
}

impl<V: Value> Clone for AccessGuard<'_, V> {
    fn clone(&self) -> Self {
        Self { inner: self.inner.clone(), types: PhantomData }
    }
}

#[derive(Clone)]
enum Inner<'a> {
    /// The key of a leaf cell.
    Key(Entry<'a>),
    /// The inline value of a leaf cell.
    Value(Entry<'a>),
    /// Bytes the guard owns: a value read out of its overflow chain, or an entry a write
    /// transaction copied out (its pages may change under a later write).
    Owned(Vec<u8>),
}

impl<'a, V: Value> AccessGuard<'a, V> {
    /// The key of `entry`, checked to decode as a `V`.
    pub(crate) fn key(entry: Entry<'a>) -> Result<Self> {
        Self::checked(Inner::Key(entry))
    }

    /// The value of `entry`: borrowed if inline, read from `store` if in an overflow chain;
    /// checked to decode as a `V`.
    pub(crate) fn value_of(store: &impl PageRead, entry: Entry<'a>) -> Result<Self> {
        let inner = match entry.value() {
            Stored::Inline(_) => Inner::Value(entry),
            Stored::Overflow { first_page, length } => {
                Inner::Owned(redwood_overflow::read(store, ChainRef { first_page, length })?)
            }
        };
        Self::checked(inner)
    }

    /// Bytes the guard owns, checked to decode as a `V`.
    pub(crate) fn owned(bytes: Vec<u8>) -> Result<Self> {
        Self::checked(Inner::Owned(bytes))
    }

    fn checked(inner: Inner<'a>) -> Result<Self> {
        let guard = Self { inner, types: PhantomData };
        V::from_bytes(guard.as_bytes())?;
        Ok(guard)
    }

    /// The key or value, decoded (for a byte table, the bytes themselves).
    pub fn value(&self) -> V::SelfType<'_> {
        match V::from_bytes(self.as_bytes()) {
            Ok(value) => value,
            // The bytes decoded when the guard was made, and they cannot have changed since
            // (they are a pinned, immutable page or the guard's own): `from_bytes` is
            // deterministic (the `Value` contract).
            Err(error) => unreachable!("a guard's bytes decoded once, then not: {error}"),
        }
    }

    /// The stored bytes (the encoding of the value).
    pub fn as_bytes(&self) -> &[u8] {
        match &self.inner {
            Inner::Key(entry) => entry.key(),
            Inner::Value(entry) => match entry.value() {
                Stored::Inline(bytes) => bytes,
                Stored::Overflow { .. } => unreachable!("overflow values are read into Owned"),
            },
            Inner::Owned(bytes) => bytes,
        }
    }

    /// An owned copy of the stored bytes.
    pub fn to_vec(&self) -> Vec<u8> {
        self.as_bytes().to_vec()
    }

    /// The stored bytes, owned (no copy for a value read from an overflow chain).
    pub fn into_vec(self) -> Vec<u8> {
        match self.inner {
            Inner::Owned(bytes) => bytes,
            _ => self.as_bytes().to_vec(),
        }
    }
}

impl Deref for AccessGuard<'_, &'static [u8]> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl<V: Value> AsRef<[u8]> for AccessGuard<'_, V> {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl<V: Value> std::fmt::Debug for AccessGuard<'_, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("AccessGuard").field(&self.as_bytes()).finish()
    }
}

impl<V: Value> PartialEq for AccessGuard<'_, V> {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl<V: Value> Eq for AccessGuard<'_, V> {}

impl PartialEq<[u8]> for AccessGuard<'_> {
    fn eq(&self, other: &[u8]) -> bool {
        self.value() == other
    }
}

impl PartialEq<&[u8]> for AccessGuard<'_> {
    fn eq(&self, other: &&[u8]) -> bool {
        self.value() == *other
    }
}

impl<const N: usize> PartialEq<&[u8; N]> for AccessGuard<'_> {
    fn eq(&self, other: &&[u8; N]) -> bool {
        self.value() == other.as_slice()
    }
}

impl PartialEq<Vec<u8>> for AccessGuard<'_> {
    fn eq(&self, other: &Vec<u8>) -> bool {
        self.value() == other.as_slice()
    }
}
