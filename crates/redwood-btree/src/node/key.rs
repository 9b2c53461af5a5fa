//! Keys as cells hold them (`docs/FORMAT.md`, "B+Tree node pages"): a key of at most
//! `limits::key_max_bytes` bytes whole (inline), a longer one (a *long key*) as its first
//! `limits::key_prefix_bytes` bytes and a reference to the overflow chain holding the rest, its
//! tail ([`KeyTail`]).
//!
//! The node layer reads no chain. A comparison of a search key with a stored key
//! ([`StoredKey::compare`]) is decided by the prefix unless the prefix ties with the search key
//! and the search key goes on; only then is the tail compared, by the caller's [`KeyTails`] (the
//! tree's reads the chain from the store). An inline key compares as a byte slice, as before
//! long keys existed: the cost of the common case is one test of the length field's flag.

use std::cmp::Ordering;

use redwood_pager::PageId;

use crate::error::{Error, Result};

/// Where a long key's tail (every byte past its inline prefix) lives: an overflow chain of
/// `length` bytes starting at `first_page`. The chain belongs to the one cell that holds the
/// reference: no two cells share a chain.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct KeyTail {
    /// The chain's first page.
    pub first_page: PageId,
    /// The tail's length in bytes.
    pub length: u64,
}

/// A key as a cell holds it, borrowed from the page (or, for a key about to be stored, from the
/// caller).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum StoredKey<'a> {
    /// The whole key.
    Inline(&'a [u8]),
    /// A long key: its first bytes (exactly `limits::key_prefix_bytes` of them in a cell), and
    /// where the rest is.
    Long {
        /// The key's first bytes.
        prefix: &'a [u8],
        /// The chain holding the rest.
        tail: KeyTail,
    },
}

impl<'a> StoredKey<'a> {
    /// The bytes the cell holds: the whole key, or a long key's prefix.
    pub fn visible(&self) -> &'a [u8] {
        match *self {
            StoredKey::Inline(bytes) => bytes,
            StoredKey::Long { prefix, .. } => prefix,
        }
    }

    /// The whole key, if the cell holds it (`None` for a long key).
    pub fn inline(&self) -> Option<&'a [u8]> {
        match *self {
            StoredKey::Inline(bytes) => Some(bytes),
            StoredKey::Long { .. } => None,
        }
    }

    /// A long key's tail reference (`None` for an inline key).
    pub fn tail(&self) -> Option<KeyTail> {
        match *self {
            StoredKey::Inline(_) => None,
            StoredKey::Long { tail, .. } => Some(tail),
        }
    }

    /// The key's total length in bytes.
    pub fn total_bytes(&self) -> u64 {
        match *self {
            StoredKey::Inline(bytes) => bytes.len() as u64,
            StoredKey::Long { prefix, tail } => prefix.len() as u64 + tail.length,
        }
    }

    /// This key compared with `key` (`Less`: this one sorts first), reading a long key's tail
    /// through `tails` only when the prefix does not decide.
    #[inline]
    pub fn compare(&self, key: &[u8], tails: &mut impl KeyTails) -> Result<Ordering> {
        match *self {
            StoredKey::Inline(bytes) => Ok(bytes.cmp(key)),
            StoredKey::Long { prefix, tail } => match compare_long(prefix, key) {
                Some(ordering) => Ok(ordering),
                None => compare_tail(tails, tail, &key[prefix.len()..]),
            },
        }
    }

    /// [`StoredKey::compare`] without reading a tail: `None` when the tail would decide.
    pub fn compare_without_tail(&self, key: &[u8]) -> Option<Ordering> {
        match *self {
            StoredKey::Inline(bytes) => Some(bytes.cmp(key)),
            StoredKey::Long { prefix, .. } => compare_long(prefix, key),
        }
    }

    /// This key compared with the stored key `other` as far as the cells show (`None`: only
    /// the tails decide, both keys being long with equal prefixes, or one being long and the
    /// other going on past the prefix with the same bytes).
    pub fn compare_stored_without_tails(&self, other: &StoredKey<'_>) -> Option<Ordering> {
        match (*self, *other) {
            (StoredKey::Inline(bytes), other) => {
                other.compare_without_tail(bytes).map(Ordering::reverse)
            }
            (this, StoredKey::Inline(bytes)) => this.compare_without_tail(bytes),
            (StoredKey::Long { prefix, .. }, StoredKey::Long { prefix: other, .. }) => {
                // Both prefixes have the same length in cells; where they tie, the tails decide.
                let common = prefix.len().min(other.len());
                match prefix[..common].cmp(&other[..common]) {
                    Ordering::Equal => None,
                    ordering => Some(ordering),
                }
            }
        }
    }

    /// An owned copy (the chain reference is copied, not the chain: see [`OwnedKey`]).
    pub fn to_owned_key(&self) -> OwnedKey {
        match *self {
            StoredKey::Inline(bytes) => OwnedKey::Inline(bytes.to_vec()),
            StoredKey::Long { prefix, tail } => OwnedKey::Long { prefix: prefix.to_vec(), tail },
        }
    }
}

/// A long key with `prefix` compared with `key`, if the prefix decides: a key the prefix
/// starts with and no longer sorts first (the long key goes on); a key that goes on with the
/// same bytes needs the tail.
#[inline]
fn compare_long(prefix: &[u8], key: &[u8]) -> Option<Ordering> {
    let head = &key[..key.len().min(prefix.len())];
    match prefix.cmp(head) {
        Ordering::Equal if key.len() > prefix.len() => None,
        Ordering::Equal => Some(Ordering::Greater),
        ordering => Some(ordering),
    }
}

/// The tail comparison, kept out of line: the binary searches that inline
/// [`StoredKey::compare`] stay as small as they were before long keys, and a tail read costs
/// far more than the call.
#[cold]
#[inline(never)]
fn compare_tail(tails: &mut impl KeyTails, tail: KeyTail, rest: &[u8]) -> Result<Ordering> {
    tails.compare_tail(tail, rest)
}

impl<'a> From<&'a [u8]> for StoredKey<'a> {
    fn from(bytes: &'a [u8]) -> Self {
        StoredKey::Inline(bytes)
    }
}

impl<'a> From<&'a Vec<u8>> for StoredKey<'a> {
    fn from(bytes: &'a Vec<u8>) -> Self {
        StoredKey::Inline(bytes)
    }
}

impl<'a, const N: usize> From<&'a [u8; N]> for StoredKey<'a> {
    fn from(bytes: &'a [u8; N]) -> Self {
        StoredKey::Inline(bytes)
    }
}

/// A key as a cell holds it, copied out of the page: a split hands back the key that goes up
/// this way. The chain a long key's reference names is not copied: which cell owns it is the
/// caller's to keep straight (see `Node::split`).
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum OwnedKey {
    /// The whole key.
    Inline(Vec<u8>),
    /// A long key's prefix and tail reference.
    Long {
        /// The key's first bytes.
        prefix: Vec<u8>,
        /// The chain holding the rest.
        tail: KeyTail,
    },
}

impl OwnedKey {
    /// The key as a cell would hold it.
    pub fn as_stored(&self) -> StoredKey<'_> {
        match self {
            OwnedKey::Inline(bytes) => StoredKey::Inline(bytes),
            OwnedKey::Long { prefix, tail } => StoredKey::Long { prefix, tail: *tail },
        }
    }
}

/// Compares long keys' tails, for the comparisons their prefixes leave open: the tree's reads
/// each chain from the store; [`NoTails`] reads none.
pub trait KeyTails {
    /// The tail `tail` of a long key compared with `rest`, the other key's bytes past the
    /// long key's prefix.
    fn compare_tail(&mut self, tail: KeyTail, rest: &[u8]) -> Result<Ordering>;
}

/// For nodes without long keys, or where no chain can be read: a comparison that needs a tail
/// is `Corrupt`, naming the tail's first page.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoTails;

impl KeyTails for NoTails {
    fn compare_tail(&mut self, tail: KeyTail, _rest: &[u8]) -> Result<Ordering> {
        let reason = "a comparison needs a long key's tail, and none is read here".to_owned();
        Err(Error::Corrupt { page_id: tail.first_page, reason })
    }
}
