//! Node pages: the slotted layout of B+Tree leaves and interior nodes (`docs/FORMAT.md`,
//! "B+Tree node pages").
//!
//! A `Node<P>` is a node over any bytes `P` that deref to a page. The read paths (lookups, range
//! scans, the integrity walk, salvage) take a node over the store's own bytes, a
//! `Node<PageGuard>` view of a pinned cache frame or a transaction's page, and copy nothing.
//! The write path changes a leaf the write transaction holds in place, as a node over the
//! transaction's own page (`Node<&mut Page>`, `Node::load_held`); anything else it changes
//! is an owned node (`Node<PageBuf>`, the default), a page copied once ([`Node::to_owned`])
//! when it is about to change it, or built here. Reading (`node/view.rs`: the loaders, the
//! accessors, the searches) works on every `Node<P>`; modifying (this file) on nodes over
//! mutable bytes (`P: DerefMut`), building on `Node<PageBuf>` only.
//!
//! A key is stored inline or, past `limits::key_max_bytes`, as a long key: a fixed-length prefix
//! and a reference to the chain holding its tail (`node/key.rs`: [`StoredKey`]). Nodes read no
//! chain: searches take a [`KeyTails`] for the comparisons a prefix does not decide, and the
//! mutators store the reference they are given (who owns which chain is the tree's business,
//! see `keys`).
//!
//! A damaged page is an error naming it, never a panic, however the bytes are held:
//! `Node::load_for_read` checks every slot and cell before anything is read (each cell inside the
//! content area, its key and inline value within the page size's limits, a long key's prefix
//! and tail lengths, an overflow reference's length in `1..=OVERFLOW_VALUE_MAX_BYTES`), so every
//! accessor stays in bounds;
//! `Node::load_for_lookup` makes the same cell checks on each cell a search probes; and
//! `Node::load` adds the checks a modification relies on (no overlapping cells, exact free-space
//! accounting, strictly ascending keys as far as the cells show them) (`node/check.rs`).
//!
//! Only a node that had the full checks (or was built here, empty, or is a page the write
//! transaction holds, which this code wrote from such a node: `Node::load_held`) may be
//! modified: the mutators assert it, and [`Node::to_owned`] carries the checks a view had over
//! to its copy. That assertion depends on which loader the code called, never on the bytes of
//! the page, and it is what makes the mutators' arithmetic safe: in a node whose cells lie in
//! the page without overlapping and whose free space adds up exactly, no offset, count or
//! fragmented-byte total can leave its `u16`.

use std::ops::DerefMut;

use redwood_pager::{PAGE_HEADER_BYTES, Page, PageBuf, PageId, PageSize, PageType};
use zerocopy::byteorder::little_endian::{U16, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use crate::error::{Error, Result};
use crate::limits::{
    KEY_MAX_BYTES_TOTAL, LONG_KEY_REF_BYTES, OVERFLOW_VALUE_MAX_BYTES, inline_value_max_bytes,
    key_max_bytes, key_prefix_bytes,
};

mod check;
mod key;
mod view;
pub use key::{KeyTail, KeyTails, NoTails, OwnedKey, StoredKey};
pub(crate) use view::ValueSpan;

/// The page type of a leaf.
pub const LEAF: u8 = 16;
/// The page type of an interior node.
pub const INTERIOR: u8 = 17;
/// The high bit of a leaf cell's value length: the value lives in an overflow chain.
const OVERFLOW_FLAG: u32 = 1 << 31;
/// The high bit of a cell's key length: the key is long, the cell holds its prefix (the low
/// bits give its length, always `limits::key_prefix_bytes`) and a reference to its tail.
const LONG_KEY_FLAG: u16 = 1 << 15;
// The inline key limit of the largest page (8 KiB) leaves the flag bit free.
const _: () =
    assert!((redwood_pager::limits::PAGE_SIZE_MAX_BYTES as usize / 8) < LONG_KEY_FLAG as usize);

#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy, Debug)]
#[repr(C)]
struct NodeHeader {
    cell_count: U16,
    content_start: U16,
    fragmented_bytes: U16,
    prefix_bytes: U16,
    right_sibling: U64,
    leftmost_child: U64,
    reserved: U64,
}

const NODE_HEADER_OFFSET: usize = PAGE_HEADER_BYTES;
const SLOTS_OFFSET: usize = NODE_HEADER_OFFSET + size_of::<NodeHeader>();
/// Bytes before the first slot: page header and node header.
pub(crate) const CELLS_START_BYTES: usize = SLOTS_OFFSET;
const SLOT_BYTES: usize = 2;
const LEAF_CELL_HEADER_BYTES: usize = 2 + 4;
const INTERIOR_CELL_HEADER_BYTES: usize = 2 + 8;
const OVERFLOW_REF_BYTES: usize = 16;
const _: () = assert!(SLOTS_OFFSET == 64);

/// A leaf or an interior node.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum NodeKind {
    /// Holds keys and values; linked to its right sibling.
    Leaf,
    /// Holds separator keys and child page ids.
    Interior,
}

/// A leaf cell's value: inline bytes, or a reference to an overflow chain.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Value<'a> {
    /// The value's bytes, stored in the leaf.
    Inline(&'a [u8]),
    /// The value lives in an overflow chain.
    Overflow {
        /// The chain's first page.
        first_page: PageId,
        /// The value's length in bytes.
        length: u64,
    },
}

/// A value taken out of a leaf: its bytes, or where its overflow chain is.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum OwnedValue {
    /// The value's bytes.
    Inline(Vec<u8>),
    /// The value lives in an overflow chain.
    Overflow {
        /// The chain's first page.
        first_page: PageId,
        /// The value's length in bytes.
        length: u64,
    },
}

impl OwnedValue {
    /// The bytes of an inline value; `None` for an overflow reference.
    pub fn into_inline(self) -> Option<Vec<u8>> {
        match self {
            OwnedValue::Inline(bytes) => Some(bytes),
            OwnedValue::Overflow { .. } => None,
        }
    }

    /// The value as a leaf stores it.
    pub fn as_value(&self) -> Value<'_> {
        match self {
            OwnedValue::Inline(bytes) => Value::Inline(bytes),
            OwnedValue::Overflow { first_page, length } => {
                Value::Overflow { first_page: *first_page, length: *length }
            }
        }
    }
}

impl From<Value<'_>> for OwnedValue {
    fn from(value: Value<'_>) -> Self {
        match value {
            Value::Inline(bytes) => OwnedValue::Inline(bytes.to_vec()),
            Value::Overflow { first_page, length } => OwnedValue::Overflow { first_page, length },
        }
    }
}

/// The node has no room for the cell: split it first.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Full;

/// One node page, over the bytes `P` (see the module docs): a borrowed view for reading
/// (`Node<PageGuard<'_>>`), or an owned buffer to build and modify (`Node<PageBuf>`).
#[derive(Clone, Debug)]
pub struct Node<P = PageBuf> {
    page: P,
    kind: NodeKind,
    /// The node had the full checks ([`Node::load`]'s) or was built empty: it may be modified.
    checked: bool,
}

/// Building and modifying: owned nodes only.
impl Node {
    /// An empty leaf.
    pub fn new_leaf(page_size: PageSize) -> Self {
        Self::empty(page_size, NodeKind::Leaf, None)
    }

    /// An empty interior node whose keys below every separator live under `leftmost_child`.
    pub fn new_interior(page_size: PageSize, leftmost_child: PageId) -> Self {
        Self::empty(page_size, NodeKind::Interior, Some(leftmost_child))
    }

    fn empty(page_size: PageSize, kind: NodeKind, leftmost_child: Option<PageId>) -> Self {
        let mut page = PageBuf::zeroed(page_size);
        let page_type = match kind {
            NodeKind::Leaf => LEAF,
            NodeKind::Interior => INTERIOR,
        };
        page.header_mut().page_type = page_type;
        let mut node = Self { page, kind, checked: true };
        node.set_content_start(page_size.bytes());
        node.header_mut().leftmost_child = U64::new(leftmost_child.map_or(0, PageId::get));
        node
    }
}

/// Modifying: owned nodes (`Node<PageBuf>`) and pages a write transaction holds, changed in
/// place (`Node<&mut Page>`, see `Node::load_held`).
impl<P: DerefMut<Target = Page>> Node<P> {
    /// Only fully checked nodes are modified (see the module docs). This depends on which
    /// loader the caller used, not on the page's bytes: a programmer error if it fails.
    fn assert_checked(&self) {
        assert!(self.checked, "only a node taken with Node::load (or built empty) is modified");
    }

    /// Links the next leaf in key order.
    pub fn set_right_sibling(&mut self, sibling: Option<PageId>) {
        self.header_mut().right_sibling = U64::new(sibling.map_or(0, PageId::get));
    }

    /// Inserts a leaf cell at `index` (keeping key order is the caller's: `search` gives it).
    /// `key` is an inline key (at most `limits::key_max_bytes`) or a long key's prefix (exactly
    /// `limits::key_prefix_bytes`) and tail reference; the cell takes over the reference (the
    /// chain is the cell's from now on: see `Node::split` for who owns what).
    pub fn insert_leaf<'k>(
        &mut self,
        index: usize,
        key: impl Into<StoredKey<'k>>,
        value: Value<'_>,
    ) -> std::result::Result<(), Full> {
        // Programmer errors, never page bytes: the tree checks every key and value it is given
        // (`Tree::insert_value`), and every cell it moves between nodes comes from a node whose
        // cells passed the same limits when it was loaded; the tree inserts leaf cells only
        // into leaves it has checked are leaves.
        self.assert_checked();
        assert_eq!(self.kind, NodeKind::Leaf, "leaf cells go into leaves");
        let key = key.into();
        let raw_key_bytes = key_field(key, self.page_size()).to_le_bytes();
        // The cell's pieces, written straight into the page: no buffer per insert.
        let mut overflow_ref = [0; OVERFLOW_REF_BYTES];
        let (value_field, value_part): (u32, &[u8]) = match value {
            Value::Inline(bytes) => {
                assert!(
                    bytes.len() <= inline_value_max_bytes(self.page_size()),
                    "long values overflow"
                );
                (bytes.len() as u32, bytes)
            }
            Value::Overflow { first_page, length } => {
                assert!(
                    (1..=OVERFLOW_VALUE_MAX_BYTES).contains(&length),
                    "overflow lengths are checked against the limit"
                );
                overflow_ref[..8].copy_from_slice(&first_page.get().to_le_bytes());
                overflow_ref[8..].copy_from_slice(&length.to_le_bytes());
                (OVERFLOW_FLAG | OVERFLOW_REF_BYTES as u32, &overflow_ref)
            }
        };
        let (key_bytes, key_ref) = key_parts(key);
        let value_field = value_field.to_le_bytes();
        self.insert_cell_parts(
            index,
            &[&raw_key_bytes, &value_field, key_bytes, &key_ref, value_part],
        )
    }

    /// Inserts an interior cell at `index`: keys from `key` on (up to the next cell) live under
    /// `child`. `key` is inline or long as for [`Node::insert_leaf`].
    pub fn insert_interior<'k>(
        &mut self,
        index: usize,
        key: impl Into<StoredKey<'k>>,
        child: PageId,
    ) -> std::result::Result<(), Full> {
        // Programmer errors: the tree inserts separators only into checked interior nodes, and
        // every separator is built within the limits or is a key of a checked node.
        self.assert_checked();
        assert_eq!(self.kind, NodeKind::Interior, "interior cells go into interior nodes");
        let key = key.into();
        let raw_key_bytes = key_field(key, self.page_size());
        let mut cell = Vec::with_capacity(INTERIOR_CELL_HEADER_BYTES + key_area_bytes(key));
        cell.extend_from_slice(&raw_key_bytes.to_le_bytes());
        cell.extend_from_slice(&child.get().to_le_bytes());
        push_key(&mut cell, key);
        self.insert_cell(index, &cell)
    }

    /// Removes cell `index`; its bytes become fragmented free space.
    pub fn remove(&mut self, index: usize) {
        self.assert_checked();
        // In a checked node the fragmented bytes plus every cell's bytes equal the content
        // area, which is smaller than 64 KiB: the sum below fits its u16.
        let length = self.cell_bytes(self.cell_offset(index));
        let count = self.len();
        let slots = SLOTS_OFFSET + index * SLOT_BYTES..SLOTS_OFFSET + count * SLOT_BYTES;
        self.bytes_mut().copy_within(slots.start + SLOT_BYTES..slots.end, slots.start);
        let header = self.header_mut();
        header.cell_count = U16::new(count as u16 - 1);
        header.fragmented_bytes = U16::new(header.fragmented_bytes.get() + length as u16);
    }

    /// Moves the upper half of the cells (by bytes) into a new node and returns the separator
    /// key for the parent with it, as the cell held it. For a leaf it is a copy of the right
    /// node's first key, which stays there (and so does its tail's chain, if it is long: the
    /// tree builds its own separator, see `tree::split`); for an interior node it is the middle
    /// key, which moves up, its child becoming the right node's leftmost child: its cell is
    /// gone, so a long one's chain is now the caller's, to store in the parent. Sibling links
    /// are the caller's (it knows the page ids).
    ///
    /// A leaf needs two cells and an interior node three (each half keeps a cell): within the
    /// size limits no full node has fewer, so fewer is `Corrupt` naming `page_id`, as is (never
    /// within the limits) a half that does not fit an empty node. On an error the node is
    /// unchanged.
    pub fn split(&mut self, page_id: PageId) -> Result<(OwnedKey, Node)> {
        self.assert_checked();
        let cells_min = match self.kind {
            NodeKind::Leaf => 2,
            NodeKind::Interior => 3,
        };
        if self.len() < cells_min {
            let reason = format!("a full node with {} cells cannot split", self.len());
            return Err(corrupt(page_id, reason));
        }
        let middle = self.split_point();
        let page_size = self.page_size();
        let (separator, mut right, first_moved) = match self.kind {
            NodeKind::Leaf => (self.key(middle).to_owned_key(), Node::new_leaf(page_size), middle),
            NodeKind::Interior => {
                let separator = self.key(middle).to_owned_key();
                (separator, Node::new_interior(page_size, self.child(middle + 1)), middle + 1)
            }
        };
        for index in first_moved..self.len() {
            let cell = self.cell_offset(index);
            let bytes = self.bytes()[cell..cell + self.cell_bytes(cell)].to_vec();
            // The cells fit in this node, so a part of them fits an empty one; checked anyway,
            // before this node changes, since the sizes came from the page.
            right.insert_cell(right.len(), &bytes).map_err(|Full| {
                corrupt(page_id, "half of a split node does not fit an empty one".to_owned())
            })?;
        }
        while self.len() > middle {
            self.remove(self.len() - 1);
        }
        self.compact();
        Ok((separator, right))
    }

    /// Splits an interior node for a separator appended at its right end, at the tree's right
    /// edge (an ascending load): the last key moves up and the new right node starts with the
    /// last child as its leftmost child, so this node keeps every other cell and the caller
    /// appends the new separator to the right node. The last key's cell is gone, so a long
    /// one's chain is now the caller's. Needs two cells (this node keeps one): a full node
    /// within the size limits has more, so fewer is `Corrupt` naming `page_id`. On an error the
    /// node is unchanged.
    pub fn split_off_last(&mut self, page_id: PageId) -> Result<(OwnedKey, Node)> {
        self.assert_checked();
        assert_eq!(self.kind, NodeKind::Interior, "only interior nodes split off their last child");
        if self.len() < 2 {
            let reason = format!("a full node with {} cells cannot split", self.len());
            return Err(corrupt(page_id, reason));
        }
        let last = self.len() - 1;
        let separator = self.key(last).to_owned_key();
        let right = Node::new_interior(self.page_size(), self.child(last + 1));
        self.remove(last);
        Ok((separator, right))
    }

    /// Where to split so both halves hold about the same number of bytes.
    fn split_point(&self) -> usize {
        let sizes: Vec<usize> = (0..self.len()).map(|index| self.cell_size(index)).collect();
        balanced_split(&sizes, self.kind)
    }

    fn insert_cell(&mut self, index: usize, cell: &[u8]) -> std::result::Result<(), Full> {
        self.insert_cell_parts(index, &[cell])
    }

    /// [`Node::insert_cell`] of the cell `parts` make up, in order.
    fn insert_cell_parts(
        &mut self,
        index: usize,
        parts: &[&[u8]],
    ) -> std::result::Result<(), Full> {
        // Programmer errors: positions come from a search of this node or its length.
        self.assert_checked();
        assert!(index <= self.len(), "insert position within the node");
        let cell_bytes: usize = parts.iter().map(|part| part.len()).sum();
        if cell_bytes + SLOT_BYTES > self.free_bytes() {
            return Err(Full);
        }
        let slots_end = SLOTS_OFFSET + (self.len() + 1) * SLOT_BYTES;
        if self.content_start() < slots_end + cell_bytes {
            self.compact();
        }
        let start = self.content_start() - cell_bytes;
        let mut at = start;
        for part in parts {
            self.bytes_mut()[at..at + part.len()].copy_from_slice(part);
            at += part.len();
        }
        let count = self.len();
        let slot = SLOTS_OFFSET + index * SLOT_BYTES;
        self.bytes_mut().copy_within(slot..SLOTS_OFFSET + count * SLOT_BYTES, slot + SLOT_BYTES);
        self.bytes_mut()[slot..slot + SLOT_BYTES].copy_from_slice(&(start as u16).to_le_bytes());
        self.header_mut().cell_count = U16::new(count as u16 + 1);
        self.set_content_start(start);
        Ok(())
    }

    /// Rewrites the cells contiguously at the end of the page, reclaiming fragmented bytes.
    fn compact(&mut self) {
        let cells: Vec<Vec<u8>> = (0..self.len())
            .map(|index| {
                let cell = self.cell_offset(index);
                self.bytes()[cell..cell + self.cell_bytes(cell)].to_vec()
            })
            .collect();
        let mut start = self.bytes().len();
        for (index, cell) in cells.iter().enumerate() {
            start -= cell.len();
            self.bytes_mut()[start..start + cell.len()].copy_from_slice(cell);
            let slot = SLOTS_OFFSET + index * SLOT_BYTES;
            self.bytes_mut()[slot..slot + SLOT_BYTES]
                .copy_from_slice(&(start as u16).to_le_bytes());
        }
        self.set_content_start(start);
        self.header_mut().fragmented_bytes = U16::ZERO;
    }

    /// Records where the content begins. Called by the mutators (on checked nodes) and on empty
    /// new nodes, whose cells fit between the slots and the end of the page: a programmer error,
    /// never page bytes, if the assertion fails.
    fn set_content_start(&mut self, start: usize) {
        assert!(start >= SLOTS_OFFSET && start <= self.bytes().len(), "content within the page");
        self.header_mut().content_start = U16::new((start % (1 << 16)) as u16);
    }

    fn header_mut(&mut self) -> &mut NodeHeader {
        let bytes = &mut self.page.as_mut_bytes()[NODE_HEADER_OFFSET..SLOTS_OFFSET];
        NodeHeader::mut_from_bytes(bytes).expect("the node header fits")
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        self.page.as_mut_bytes()
    }
}

fn corrupt(page_id: PageId, reason: String) -> Error {
    Error::Corrupt { page_id, reason }
}

/// Bytes a leaf cell of `key` and `value` takes, its slot included.
pub(crate) fn leaf_cell_size(key: StoredKey<'_>, value: Value<'_>) -> usize {
    let value_bytes = match value {
        Value::Inline(bytes) => bytes.len(),
        Value::Overflow { .. } => OVERFLOW_REF_BYTES,
    };
    LEAF_CELL_HEADER_BYTES + key_area_bytes(key) + value_bytes + SLOT_BYTES
}

/// Bytes an interior cell with `key` takes, its slot included.
pub(crate) fn interior_cell_size(key: StoredKey<'_>) -> usize {
    INTERIOR_CELL_HEADER_BYTES + key_area_bytes(key) + SLOT_BYTES
}

/// Bytes a key takes in its cell: an inline key's, or a long key's prefix and tail reference.
fn key_area_bytes(key: StoredKey<'_>) -> usize {
    match key {
        StoredKey::Inline(bytes) => bytes.len(),
        StoredKey::Long { prefix, .. } => prefix.len() + LONG_KEY_REF_BYTES,
    }
}

/// The lengths a long key's tail may have for `page_size`: more than `key_max_bytes` in all
/// (shorter keys are stored inline, so every key has one form), at most
/// `KEY_MAX_BYTES_TOTAL`.
pub(crate) fn long_key_tail_bytes(page_size: PageSize) -> std::ops::RangeInclusive<u64> {
    let prefix = key_prefix_bytes(page_size);
    (key_max_bytes(page_size) - prefix + 1) as u64..=(KEY_MAX_BYTES_TOTAL - prefix) as u64
}

/// The key length field of a cell for `key`, checking `key` is storable as it is: an inline key
/// within `key_max_bytes`, or a long key whose prefix is `key_prefix_bytes` long and whose tail
/// length is in `long_key_tail_bytes`. The tree builds every key it stores so (and moves only
/// cells that passed the same checks when read): a programmer error if not.
fn key_field(key: StoredKey<'_>, page_size: PageSize) -> u16 {
    match key {
        StoredKey::Inline(bytes) => {
            assert!(bytes.len() <= key_max_bytes(page_size), "long keys are stored as long keys");
            bytes.len() as u16
        }
        StoredKey::Long { prefix, tail } => {
            assert_eq!(prefix.len(), key_prefix_bytes(page_size), "a long key's prefix length");
            assert!(
                long_key_tail_bytes(page_size).contains(&tail.length),
                "a long key's tail length is checked against the limits"
            );
            LONG_KEY_FLAG | prefix.len() as u16
        }
    }
}

/// The pieces of `key` as a cell holds it, [`push_key`]'s bytes: the inline key or the prefix,
/// then the tail's reference (empty for an inline key).
fn key_parts(key: StoredKey<'_>) -> (&[u8], LongKeyRef) {
    match key {
        StoredKey::Inline(bytes) => (bytes, LongKeyRef::default()),
        StoredKey::Long { prefix, tail } => {
            let mut reference = [0; LONG_KEY_REF_BYTES];
            reference[..8].copy_from_slice(&tail.first_page.get().to_le_bytes());
            reference[8..].copy_from_slice(&tail.length.to_le_bytes());
            (prefix, LongKeyRef { bytes: reference, len: LONG_KEY_REF_BYTES })
        }
    }
}

/// A long key's tail reference as a cell holds it, or nothing (an inline key).
#[derive(Default)]
struct LongKeyRef {
    bytes: [u8; LONG_KEY_REF_BYTES],
    len: usize,
}

impl std::ops::Deref for LongKeyRef {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// Appends `key`'s cell bytes: the inline key, or the prefix and the tail reference.
fn push_key(cell: &mut Vec<u8>, key: StoredKey<'_>) {
    match key {
        StoredKey::Inline(bytes) => cell.extend_from_slice(bytes),
        StoredKey::Long { prefix, tail } => {
            cell.extend_from_slice(prefix);
            cell.extend_from_slice(&tail.first_page.get().to_le_bytes());
            cell.extend_from_slice(&tail.length.to_le_bytes());
        }
    }
}

/// Where to split cells of `sizes` bytes so the two halves are as even as possible: the first
/// index of the right half for leaves (at least one cell each side), or, for interior nodes,
/// the index of the cell whose key moves up (kept out of both halves, so each keeps a cell).
/// Even halves matter for the fill bound: a greedy cut can leave one half short by a whole
/// cell, and an interior cut loses the middle cell as well.
pub(crate) fn balanced_split(sizes: &[usize], kind: NodeKind) -> usize {
    let total: usize = sizes.iter().sum();
    let candidates = match kind {
        NodeKind::Leaf => 1..sizes.len(),
        NodeKind::Interior => 1..sizes.len().saturating_sub(1),
    };
    let mut best = (usize::MAX, sizes.len() / 2);
    let mut left = sizes.iter().take(candidates.start).sum::<usize>();
    for index in candidates {
        let moved_up = if kind == NodeKind::Interior { sizes[index] } else { 0 };
        let right = total - left - moved_up;
        let larger = left.max(right);
        if larger < best.0 {
            best = (larger, index);
        }
        left += sizes[index];
    }
    best.1
}

/// The page type values as the pager sees them.
pub fn page_type(kind: NodeKind) -> PageType {
    let raw = match kind {
        NodeKind::Leaf => LEAF,
        NodeKind::Interior => INTERIOR,
    };
    PageType::user(raw).expect("B+Tree page types are user types")
}
