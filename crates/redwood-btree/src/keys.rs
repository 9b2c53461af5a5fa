//! Long keys in the tree layer: reading their tails from the store (`StoreTails`,
//! `full_key`), comparing stored keys whose prefixes tie (`compare_stored`), the separator a
//! split or redistribution puts into the parent (`separator_between`: a long key is cut to its
//! shortest prefix above its left neighbour), and a key on its way into a parent with the chain
//! it owns (`HeldKey`).
//!
//! Chain ownership: every long-key cell, leaf or interior, owns its tail's chain, and no two
//! cells share one. A cell moved as it is (a merge, a redistribution, a split's halves, an
//! interior split's middle key moving up, a separator pulled down into a merged node) takes its
//! chain with it; a leaf key never becomes a separator by reference: a separator is built from
//! the keys around it and, if it is long, gets a chain of its own (`HeldKey::new`). A separator
//! dropped from a parent (a leaf merge, a leaf redistribution replacing it) has its chain freed;
//! a removed leaf key has its chain freed; `destroy` frees every chain.

use std::borrow::Cow;
use std::cmp::Ordering;

use redwood_overflow::ChainRef;
use redwood_pager::{PageClaims, PageId, PageRead, PageSize, PageWrite};

use crate::error::{Error, Result};
use crate::limits::{key_max_bytes, key_prefix_bytes};
use crate::node::{KeyTail, KeyTails, OwnedKey, StoredKey};
use crate::tree::Changes;

/// Reads long keys' tails from `store` for the comparisons their prefixes leave open: one chain
/// read (bounded by the tail's checked length) per such comparison; inline keys never get here.
pub(crate) struct StoreTails<'s, S: PageRead>(pub(crate) &'s S);

impl<S: PageRead> KeyTails for StoreTails<'_, S> {
    fn compare_tail(&mut self, tail: KeyTail, rest: &[u8]) -> Result<Ordering> {
        Ok(read_tail(self.0, tail)?.as_slice().cmp(rest))
    }
}

/// The chain reference of `tail`.
pub(crate) fn chain(tail: KeyTail) -> ChainRef {
    ChainRef { first_page: tail.first_page, length: tail.length }
}

/// A chain error met on a long key's tail (its chain starting at `first_page`), as the tree's
/// error: a damaged chain is `Corrupt` naming the page at fault.
pub(crate) fn chain_error(first_page: PageId, error: redwood_overflow::Error) -> Error {
    match error {
        redwood_overflow::Error::Corrupt { page_id, reason } => Error::Corrupt {
            page_id,
            reason: format!("the tail of a long key (chain at {first_page}): {reason}"),
        },
        redwood_overflow::Error::Pager(error) => Error::Pager(error),
        other => Error::Corrupt {
            page_id: first_page,
            reason: format!("the tail of a long key: {other}"),
        },
    }
}

/// The tail's bytes, read from its chain (every page checked, at most `tail.length` bytes,
/// which the cell checks bounded by `KEY_MAX_BYTES_TOTAL`).
pub(crate) fn read_tail(store: &impl PageRead, tail: KeyTail) -> Result<Vec<u8>> {
    redwood_overflow::read(store, chain(tail)).map_err(|error| chain_error(tail.first_page, error))
}

/// The whole key: an inline key as it is, a long key's prefix and tail (read from its chain).
pub(crate) fn full_key<'k>(store: &impl PageRead, key: StoredKey<'k>) -> Result<Cow<'k, [u8]>> {
    match key {
        StoredKey::Inline(bytes) => Ok(Cow::Borrowed(bytes)),
        StoredKey::Long { prefix, tail } => {
            let mut bytes = prefix.to_vec();
            redwood_overflow::read_into(store, chain(tail), &mut bytes)
                .map_err(|error| chain_error(tail.first_page, error))?;
            Ok(Cow::Owned(bytes))
        }
    }
}

/// The pages of `tail`'s chain, each checked (the walk `redwood_overflow::claim` makes): for a
/// free that must not fail halfway, and for claims under the tree's own name.
pub(crate) fn tail_pages(store: &impl PageRead, tail: KeyTail) -> Result<Vec<PageId>> {
    let mut claims = PageClaims::new();
    redwood_overflow::claim(store, chain(tail), &mut claims)
        .map_err(|error| chain_error(tail.first_page, error))?;
    Ok(claims.iter().map(|(page_id, _)| page_id).collect())
}

/// `a` compared with `b`, two stored keys: by what their cells hold, and where that leaves the
/// order open, by reading `a` whole and comparing `b` with it (reading `b`'s tail if needed).
pub(crate) fn compare_stored(
    store: &impl PageRead,
    a: StoredKey<'_>,
    b: StoredKey<'_>,
) -> Result<Ordering> {
    if let Some(ordering) = a.compare_stored_without_tails(&b) {
        return Ok(ordering);
    }
    // The same cell (a one-cell leaf's first and last key), or the same bytes and chain.
    if a == b {
        return Ok(Ordering::Equal);
    }
    let a = full_key(store, a)?;
    Ok(b.compare(&a, &mut StoreTails(store))?.reverse())
}

/// The separator between two adjacent keys, `left` (the last key of the left node) and `right`
/// (the first of the right one), for their parent. An inline `right` is the separator as it is
/// (so trees of inline keys keep the shape they always had). A long `right` is cut to its
/// shortest prefix that sorts above `left` (suffix truncation), so long keys that differ
/// within their first bytes leave short, inline separators; it is read from the cells while
/// they decide, tails only when the two keys agree on every byte the cells hold. `None` if
/// `left` does not sort below `right` (a damaged node: the caller names it).
pub(crate) fn separator_between(
    store: &impl PageRead,
    left: StoredKey<'_>,
    right: StoredKey<'_>,
) -> Result<Option<Vec<u8>>> {
    if let StoredKey::Inline(bytes) = right {
        return Ok(compare_stored(store, left, right)?.is_lt().then(|| bytes.to_vec()));
    }
    let (left_visible, right_visible) = (left.visible(), right.visible());
    let common = common_prefix(left_visible, right_visible);
    // Decided by the visible bytes: they differ at `common`, or the left key (inline) ends
    // there while the right one goes on.
    let decided = common < right_visible.len()
        && (common < left_visible.len() || matches!(left, StoredKey::Inline(_)));
    if decided {
        return Ok(shortest_above(left_visible, right_visible));
    }
    let (left, right) = (full_key(store, left)?, full_key(store, right)?);
    Ok(shortest_above(&left, &right))
}

/// The shortest prefix of `right` above `left`, given both whole (or, for the caller's decided
/// case, the first bytes up to where they differ); `None` unless `left < right`.
fn shortest_above(left: &[u8], right: &[u8]) -> Option<Vec<u8>> {
    let common = common_prefix(left, right);
    // `left` is a prefix of `right` (shorter), or they differ at `common` with `left` below.
    let above = common < right.len() && (common == left.len() || left[common] < right[common]);
    above.then(|| right[..=common].to_vec())
}

fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// A key on its way into a parent: its whole bytes (for comparisons) and, for a long key, the
/// chain of its tail, which this key owns until it is stored in a cell (`HeldKey::stored`).
/// Invariant: `tail` is `Some` exactly when `bytes` is longer than `key_max_bytes`.
pub(crate) struct HeldKey {
    pub(crate) bytes: Vec<u8>,
    tail: Option<KeyTail>,
}

impl HeldKey {
    /// A new separator of `bytes`, built in this operation: a long one gets a chain of its own
    /// for its tail, written now and given back if the operation fails (`Changes`).
    pub(crate) fn new(
        store: &mut impl PageWrite,
        changes: &mut Changes,
        bytes: Vec<u8>,
    ) -> Result<HeldKey> {
        let page_size = store.page_size();
        let tail = if bytes.len() > key_max_bytes(page_size) {
            Some(changes.write_tail(store, &bytes[key_prefix_bytes(page_size)..])?)
        } else {
            None
        };
        Ok(HeldKey { bytes, tail })
    }

    /// A key taken out of its cell (an interior split's middle key): a long one's chain comes
    /// with it, and its tail is read to have it whole.
    pub(crate) fn take(store: &impl PageRead, key: OwnedKey) -> Result<HeldKey> {
        match key {
            OwnedKey::Inline(bytes) => Ok(HeldKey { bytes, tail: None }),
            OwnedKey::Long { mut prefix, tail } => {
                redwood_overflow::read_into(store, chain(tail), &mut prefix)
                    .map_err(|error| chain_error(tail.first_page, error))?;
                Ok(HeldKey { bytes: prefix, tail: Some(tail) })
            }
        }
    }

    /// The key as a cell of a `page_size` page holds it; the cell it goes into takes over the
    /// chain.
    pub(crate) fn stored(&self, page_size: PageSize) -> StoredKey<'_> {
        match self.tail {
            None => StoredKey::Inline(&self.bytes),
            Some(tail) => {
                StoredKey::Long { prefix: &self.bytes[..key_prefix_bytes(page_size)], tail }
            }
        }
    }
}

/// The smallest key sorting above every key that starts with `prefix` (`None`: there is none,
/// `prefix` being all `ff` bytes): an upper bound for a long key known only by its prefix.
pub(crate) fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let last = prefix.iter().rposition(|&byte| byte != u8::MAX)?;
    let mut successor = prefix[..=last].to_vec();
    successor[last] += 1;
    Some(successor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shortest_separator_is_a_prefix_of_the_right_key_above_the_left() {
        // (left, right, the separator between them)
        type Case<'a> = (&'a [u8], &'a [u8], Option<&'a [u8]>);
        let cases: &[Case<'_>] = &[
            (b"abc", b"abd", Some(b"abd")),
            (b"abc", b"abdzzz", Some(b"abd")),
            (b"ab", b"abc", Some(b"abc")),
            (b"a", b"b", Some(b"b")),
            (b"", b"a", Some(b"a")),
            (b"abz", b"b", Some(b"b")),
            (b"b", b"a", None),
            (b"ab", b"ab", None),
            (b"abc", b"ab", None),
        ];
        for &(left, right, expected) in cases {
            assert_eq!(shortest_above(left, right).as_deref(), expected, "{left:?} {right:?}");
        }
    }

    #[test]
    fn a_prefix_successor_bounds_every_key_with_the_prefix() {
        assert_eq!(prefix_successor(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_successor(&[1, 0xff, 0xff]), Some(vec![2]));
        assert_eq!(prefix_successor(&[0xff, 0xff]), None);
    }
}
