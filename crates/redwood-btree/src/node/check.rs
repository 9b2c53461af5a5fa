//! The checks a node page must pass before it is read or changed (`Node::load*`): the header,
//! every cell's bounds and size limits (`CellFault`, formatted only on failure so the checked
//! lookup allocates nothing), no overlap, exact free-space accounting and key order.
//!
//! A long key's cell is checked for its shape: the flag with exactly `key_prefix_bytes` of
//! prefix, and a tail length that makes the key longer than `key_max_bytes` and at most
//! `KEY_MAX_BYTES_TOTAL`. Its chain is not read here (nodes read no other page): key order is
//! checked as far as the cells show it, and two adjacent keys whose order only their tails
//! decide pass. The tree's integrity walk (`Tree::check_invariants`) reads every tail and checks
//! the full order.

use std::cmp::Ordering;
use std::ops::Deref;

use redwood_pager::{Page, PageSize};

use super::{
    LONG_KEY_FLAG, Node, NodeKind, OVERFLOW_FLAG, OVERFLOW_REF_BYTES, SLOT_BYTES, SLOTS_OFFSET,
    StoredKey, long_key_tail_bytes,
};
use crate::limits::{
    LONG_KEY_REF_BYTES, OVERFLOW_VALUE_MAX_BYTES, inline_value_max_bytes, key_max_bytes,
    key_prefix_bytes,
};

/// Why a cell fails the cell checks (formatted into a `Corrupt` reason only on failure, so the
/// checked search allocates nothing).
#[derive(Clone, Copy, Debug)]
pub(super) enum CellFault {
    /// The cell starts before the content area or runs past the page.
    OutOfBounds,
    /// The key is longer than `key_max_bytes`: no insert writes one.
    KeyTooLong(usize),
    /// The long-key flag with a prefix of another length than `key_prefix_bytes`.
    LongKeyPrefix(usize),
    /// A long key's tail length makes a key no longer than `key_max_bytes` (which would be
    /// stored inline) or longer than `KEY_MAX_BYTES_TOTAL`.
    LongKeyTail(u64),
    /// The inline value is longer than `inline_value_max_bytes`: such values go to chains.
    InlineValueTooLong(usize),
    /// The overflow flag is set but the value length is not that of a chain reference.
    OverflowBits(u32),
    /// An overflow reference's length is 0 or above `OVERFLOW_VALUE_MAX_BYTES`.
    OverflowLength(u64),
}

impl CellFault {
    pub(super) fn describe(self, index: usize, page_size: PageSize) -> String {
        match self {
            CellFault::OutOfBounds => format!("cell {index} lies outside the content area"),
            CellFault::KeyTooLong(bytes) => format!(
                "cell {index} has a key of {bytes} bytes, over the limit of {}",
                key_max_bytes(page_size)
            ),
            CellFault::LongKeyPrefix(bytes) => format!(
                "cell {index} is a long key with a prefix of {bytes} bytes, not {}",
                key_prefix_bytes(page_size)
            ),
            CellFault::LongKeyTail(length) => {
                let lengths = long_key_tail_bytes(page_size);
                format!(
                    "cell {index} is a long key with a tail of {length} bytes, outside {}..={}",
                    lengths.start(),
                    lengths.end()
                )
            }
            CellFault::InlineValueTooLong(bytes) => format!(
                "cell {index} has an inline value of {bytes} bytes, over the limit of {}",
                inline_value_max_bytes(page_size)
            ),
            CellFault::OverflowBits(raw) => {
                format!("cell {index} has the overflow flag with value bytes {raw:#x}")
            }
            CellFault::OverflowLength(length) => format!(
                "cell {index} references an overflow value of {length} bytes, outside \
                 1..={OVERFLOW_VALUE_MAX_BYTES}"
            ),
        }
    }
}

impl<P: Deref<Target = Page>> Node<P> {
    /// Checks the node's invariants: every slot inside the content area, cells within the page
    /// and not overlapping, keys strictly ascending (as far as the cells show: where only long
    /// keys' tails decide, see the module docs), the free-space accounting exact.
    pub fn check_invariants(&self) -> std::result::Result<(), String> {
        self.validate()
    }

    pub(super) fn validate(&self) -> std::result::Result<(), String> {
        self.validate_bounds()?;
        let page_bytes = self.bytes().len();
        let header = self.header();
        let count = usize::from(header.cell_count.get());
        let content_start = self.content_start();
        // `validate_bounds` passed, so every cell's length is known; the lengths are taken the
        // checked way anyway, so no page makes this panic.
        let mut extents: Vec<(usize, usize)> = Vec::with_capacity(count);
        for index in 0..count {
            let cell = self.cell_offset(index);
            let length =
                self.checked_cell(cell).map_err(|fault| fault.describe(index, self.page_size()))?;
            extents.push((cell, cell + length));
        }
        extents.sort_unstable();
        if extents.windows(2).any(|pair| pair[0].1 > pair[1].0) {
            return Err("cells overlap".to_owned());
        }
        let used: usize = extents.iter().map(|(start, end)| end - start).sum();
        if used + usize::from(header.fragmented_bytes.get()) != page_bytes - content_start {
            return Err("free-space accounting does not add up".to_owned());
        }
        let out_of_order = |index: usize| match (self.key(index - 1), self.key(index)) {
            (StoredKey::Inline(before), StoredKey::Inline(after)) => before >= after,
            (before, after) => before
                .compare_stored_without_tails(&after)
                .is_some_and(|ordering| ordering != Ordering::Less),
        };
        if (1..count).any(out_of_order) {
            return Err("keys are not strictly ascending".to_owned());
        }
        Ok(())
    }

    /// The header checks: the slot array ends before the content area, which ends in the
    /// page. Every slot can then be read.
    pub(super) fn validate_header(&self) -> std::result::Result<(), String> {
        let count = self.len();
        let content_start = self.content_start();
        let slots_end = SLOTS_OFFSET + count * SLOT_BYTES;
        if slots_end > content_start || content_start > self.bytes().len() {
            return Err(format!(
                "{count} slots end at {slots_end}, past the content at {content_start}"
            ));
        }
        Ok(())
    }

    /// The cell checks of cell `index` (< `len`, on a header-checked node): inside the content
    /// area, and within the size limits. Every accessor then stays in bounds for this cell, and
    /// every cell the tree moves to another node fits there as an insert would.
    #[inline]
    pub(super) fn check_cell(&self, index: usize) -> std::result::Result<(), CellFault> {
        let cell = self.u16_at(SLOTS_OFFSET + index * SLOT_BYTES) as usize;
        if cell < self.content_start() {
            return Err(CellFault::OutOfBounds);
        }
        self.checked_cell(cell).map(|_| ())
    }

    /// The checks every read relies on: the header's, and every cell's ([`Node::check_cell`]).
    pub(super) fn validate_bounds(&self) -> std::result::Result<(), String> {
        self.validate_header()?;
        for index in 0..self.len() {
            if let Err(fault) = self.check_cell(index) {
                return Err(fault.describe(index, self.page_size()));
            }
        }
        Ok(())
    }

    /// The length of the cell at offset `cell`, if it lies in the page within the size limits.
    /// On every lookup's path (each probed cell): the long-key checks are out of line, so an
    /// inline key's cell costs what it did before long keys.
    #[inline]
    pub(super) fn checked_cell(&self, cell: usize) -> std::result::Result<usize, CellFault> {
        let bytes = self.bytes();
        let page_size = self.page_size();
        let raw_key_bytes = u16::from_le_bytes(field(bytes, cell)?);
        let mut key_bytes = usize::from(raw_key_bytes);
        let long_key = key_bytes > key_max_bytes(page_size);
        if long_key {
            key_bytes = long_key_area(raw_key_bytes, page_size)?;
        }
        let (body, overflow) = match self.kind {
            NodeKind::Interior => (8, false),
            NodeKind::Leaf => {
                let raw = u32::from_le_bytes(field(bytes, cell + 2)?);
                if raw & OVERFLOW_FLAG != 0 {
                    // Inserts write exactly the flag and the reference's size.
                    if raw != OVERFLOW_FLAG | OVERFLOW_REF_BYTES as u32 {
                        return Err(CellFault::OverflowBits(raw));
                    }
                    (4 + OVERFLOW_REF_BYTES, true)
                } else {
                    let value_bytes = raw as usize;
                    if value_bytes > inline_value_max_bytes(page_size) {
                        return Err(CellFault::InlineValueTooLong(value_bytes));
                    }
                    (4 + value_bytes, false)
                }
            }
        };
        let length = 2 + body + key_bytes;
        if cell + length > bytes.len() {
            return Err(CellFault::OutOfBounds);
        }
        if long_key {
            check_tail_length(bytes, cell + self.cell_header_bytes() + key_bytes - 8, page_size)?;
        }
        if overflow {
            // The chain's length: 0 or over the limit would make a chain read fail only after
            // reading pages (or never end, for a length a chain cycle could feed).
            let length = u64::from_le_bytes(field(bytes, cell + length - 8)?);
            if !(1..=OVERFLOW_VALUE_MAX_BYTES).contains(&length) {
                return Err(CellFault::OverflowLength(length));
            }
        }
        Ok(length)
    }
}

/// The bytes a key whose length field is `raw` (above `key_max_bytes`) takes in its cell: a long
/// key's prefix and tail reference, if the field has the flag and the prefix has its fixed
/// length.
#[cold]
#[inline(never)]
fn long_key_area(raw: u16, page_size: PageSize) -> std::result::Result<usize, CellFault> {
    if raw & LONG_KEY_FLAG == 0 {
        return Err(CellFault::KeyTooLong(usize::from(raw)));
    }
    let prefix = usize::from(raw & !LONG_KEY_FLAG);
    if prefix != key_prefix_bytes(page_size) {
        return Err(CellFault::LongKeyPrefix(prefix));
    }
    Ok(prefix + LONG_KEY_REF_BYTES)
}

/// A long key's tail length, at `at` in the page: it bounds the chain read (and the key
/// assembled) whatever the chain's pages say, and makes the long form the only form of a key
/// this long.
#[cold]
#[inline(never)]
fn check_tail_length(
    bytes: &[u8],
    at: usize,
    page_size: PageSize,
) -> std::result::Result<(), CellFault> {
    let tail = u64::from_le_bytes(field(bytes, at)?);
    if !long_key_tail_bytes(page_size).contains(&tail) {
        return Err(CellFault::LongKeyTail(tail));
    }
    Ok(())
}

/// The `N` bytes of `bytes` at `at`, or `OutOfBounds` if they run past the end.
fn field<const N: usize>(bytes: &[u8], at: usize) -> std::result::Result<[u8; N], CellFault> {
    bytes
        .get(at..at.saturating_add(N))
        .and_then(|slice| slice.try_into().ok())
        .ok_or(CellFault::OutOfBounds)
}
