//! `AccessGuard`: what a read hands out: a key's or a value's bytes, borrowed from the pinned
//! leaf page they are stored in, or (for a value in an overflow chain) assembled once.

use std::ops::Deref;

use redwood_btree::{Entry, Value};
use redwood_overflow::ChainRef;
use redwood_pager::PageRead;

use crate::error::Result;

/// A key or a value read from a table: derefs to its bytes.
///
/// An inline value (and every key) is borrowed straight from its leaf page, which stays pinned
/// in the cache while the guard lives: nothing is copied. A value stored in an overflow chain is
/// read once into a buffer the guard owns. Call [`AccessGuard::to_vec`] for an owned copy.
///
/// ```
/// let db = redwood::Database::in_memory()?;
/// let mut write = db.begin_write()?;
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
#[derive(Clone)]
pub struct AccessGuard<'a> {
    inner: Inner<'a>,
}

#[derive(Clone)]
enum Inner<'a> {
    /// The key of a leaf cell.
    Key(Entry<'a>),
    /// The inline value of a leaf cell.
    Value(Entry<'a>),
    /// A value read out of its overflow chain.
    Owned(Vec<u8>),
}

impl<'a> AccessGuard<'a> {
    /// The key of `entry`.
    pub(crate) fn key(entry: Entry<'a>) -> Self {
        Self { inner: Inner::Key(entry) }
    }

    /// The value of `entry`: borrowed if inline, read from `store` if in an overflow chain.
    pub(crate) fn value_of(store: &impl PageRead, entry: Entry<'a>) -> Result<Self> {
        let inner = match entry.value() {
            Value::Inline(_) => Inner::Value(entry),
            Value::Overflow { first_page, length } => {
                Inner::Owned(redwood_overflow::read(store, ChainRef { first_page, length })?)
            }
        };
        Ok(Self { inner })
    }

    /// The bytes.
    pub fn value(&self) -> &[u8] {
        match &self.inner {
            Inner::Key(entry) => entry.key(),
            Inner::Value(entry) => match entry.value() {
                Value::Inline(bytes) => bytes,
                Value::Overflow { .. } => unreachable!("overflow values are read into Owned"),
            },
            Inner::Owned(bytes) => bytes,
        }
    }

    /// An owned copy of the bytes.
    pub fn to_vec(&self) -> Vec<u8> {
        self.value().to_vec()
    }

    /// The bytes, owned (no copy for a value read from an overflow chain).
    pub fn into_vec(self) -> Vec<u8> {
        match self.inner {
            Inner::Owned(bytes) => bytes,
            _ => self.value().to_vec(),
        }
    }
}

impl Deref for AccessGuard<'_> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.value()
    }
}

impl AsRef<[u8]> for AccessGuard<'_> {
    fn as_ref(&self) -> &[u8] {
        self.value()
    }
}

impl std::fmt::Debug for AccessGuard<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("AccessGuard").field(&self.value()).finish()
    }
}

impl PartialEq for AccessGuard<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.value() == other.value()
    }
}

impl Eq for AccessGuard<'_> {}

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
