//! The checks a node page must pass before it is read or changed (`Node::load*`): the header,
//! every cell's bounds and size limits (`CellFault`, formatted only on failure so the checked
//! lookup allocates nothing), no overlap, exact free-space accounting and key order.

use std::ops::Deref;

use redwood_pager::{Page, PageSize};

use super::{Node, NodeKind, OVERFLOW_FLAG, OVERFLOW_REF_BYTES, SLOT_BYTES, SLOTS_OFFSET};
use crate::limits::{OVERFLOW_VALUE_MAX_BYTES, inline_value_max_bytes, key_max_bytes};

/// Why a cell fails the cell checks (formatted into a `Corrupt` reason only on failure, so the
/// checked search allocates nothing).
#[derive(Clone, Copy, Debug)]
pub(super) enum CellFault {
    /// The cell starts before the content area or runs past the page.
    OutOfBounds,
    /// The key is longer than `key_max_bytes`: no insert writes one.
    KeyTooLong(usize),
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
    /// and not overlapping, keys strictly ascending, the free-space accounting exact.
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
        if (1..count).any(|index| self.key(index - 1) >= self.key(index)) {
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
    pub(super) fn checked_cell(&self, cell: usize) -> std::result::Result<usize, CellFault> {
        let bytes = self.bytes();
        let page_size = self.page_size();
        let key_bytes = usize::from(u16::from_le_bytes(field(bytes, cell)?));
        if key_bytes > key_max_bytes(page_size) {
            return Err(CellFault::KeyTooLong(key_bytes));
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

/// The `N` bytes of `bytes` at `at`, or `OutOfBounds` if they run past the end.
fn field<const N: usize>(bytes: &[u8], at: usize) -> std::result::Result<[u8; N], CellFault> {
    bytes
        .get(at..at.saturating_add(N))
        .and_then(|slice| slice.try_into().ok())
        .ok_or(CellFault::OutOfBounds)
}
