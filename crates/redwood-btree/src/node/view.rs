//! The read side of a node, over any bytes that deref to a [`Page`]: a pinned cache frame or a
//! transaction's own page (a `PageGuard`, as the read paths hold it), an owned `PageBuf` (as the
//! write path holds it), or a plain `&Page`. The loaders and their checks, the accessors and the
//! searches are here; building and modifying a node are `Node<PageBuf>`'s only (`node/mod.rs`).

use std::cmp::Ordering;
use std::ops::{Deref, Range};

use redwood_pager::{Page, PageBuf, PageId, PageSize};
use zerocopy::FromBytes;

use super::{
    INTERIOR, INTERIOR_CELL_HEADER_BYTES, KeyTail, KeyTails, LEAF, LEAF_CELL_HEADER_BYTES,
    LONG_KEY_FLAG, NODE_HEADER_OFFSET, Node, NodeHeader, NodeKind, OVERFLOW_FLAG, SLOT_BYTES,
    SLOTS_OFFSET, StoredKey, Value, corrupt,
};
use crate::error::Result;
use crate::limits::LONG_KEY_REF_BYTES;

/// Where a leaf cell's value lies in its page: the byte range of an inline value, or the
/// overflow reference it holds. Taken from a cell that passed the cell checks, so the range
/// lies in the page.
#[derive(Clone, PartialEq, Eq, Debug)]
pub(crate) enum ValueSpan {
    /// An inline value's bytes.
    Inline(Range<usize>),
    /// An overflow chain's first page and the value's length.
    Overflow { first_page: PageId, length: u64 },
}

impl ValueSpan {
    /// The value, in the page `bytes` it was taken from.
    pub(crate) fn resolve(self, bytes: &[u8]) -> Value<'_> {
        match self {
            ValueSpan::Inline(range) => Value::Inline(&bytes[range]),
            ValueSpan::Overflow { first_page, length } => Value::Overflow { first_page, length },
        }
    }
}

impl<P: Deref<Target = Page>> Node<P> {
    /// Takes a page read from the store as a node to modify (or to read in full), validating its
    /// type, header, every slot and cell bound, that no cells overlap, the free-space accounting
    /// and the key order. `page_id` names the page in errors. A view (`Node<PageGuard>`) taken so
    /// becomes a node that may be modified with [`Node::to_owned`].
    pub fn load(page: P, page_id: PageId) -> Result<Self> {
        let mut node = Self::typed(page, page_id)?;
        node.check_for_write(page_id)?;
        Ok(node)
    }

    /// Takes a page read from the store as a node to read, validating its type, header and
    /// every slot and cell (bounds and size limits): enough that no accessor can leave the
    /// page, in one pass without allocating. A page whose keys are out of order (a
    /// checksum-valid page written wrong) then gives wrong answers rather than an error;
    /// [`Node::load`], every write, scans' leaf steps and the integrity check catch it.
    pub fn load_for_read(page: P, page_id: PageId) -> Result<Self> {
        let node = Self::typed(page, page_id)?;
        node.validate_bounds().map_err(|reason| corrupt(page_id, reason))?;
        Ok(node)
    }

    /// Takes a page read from the store as a node for one point lookup, checking only its
    /// type and header (constant time). Use [`Node::search_checked`] on it: that checks each
    /// cell it probes (bounds and size limits, as [`Node::load_for_read`] checks every cell),
    /// which makes `key`, `value` and `child` safe at the index it returns (or, for an interior
    /// node, at [`Node::child_index_for_checked`] of the same key). Other cells must not be
    /// read.
    pub fn load_for_lookup(page: P, page_id: PageId) -> Result<Self> {
        let node = Self::typed(page, page_id)?;
        node.validate_header().map_err(|reason| corrupt(page_id, reason))?;
        Ok(node)
    }

    /// Takes a page the write transaction holds ([`redwood_pager::PageWrite::page_mut`]) as a
    /// node to change in place, checking only its type and header (constant time), as
    /// [`Node::load_for_lookup`] does. It may then be modified without the full checks: the
    /// store holds only pages this transaction wrote, and the tree writes only nodes that had
    /// them (or were built here) and keeps them valid as it changes them, so the page had them
    /// when it was first loaded or built. The tree still searches it with
    /// [`Node::search_checked`] before changing it, and debug builds check it in full
    /// ([`Node::check_invariants`]) before each change.
    pub(crate) fn load_held(page: P, page_id: PageId) -> Result<Self> {
        let mut node = Self::load_for_lookup(page, page_id)?;
        node.checked = true;
        Ok(node)
    }

    /// Upgrades a node taken with [`Node::load_for_lookup`] to the checks of
    /// [`Node::load_for_read`] (every cell), for a leaf a scan hands entries out from.
    pub(crate) fn checked_for_read(self, page_id: PageId) -> Result<Self> {
        self.validate_bounds().map_err(|reason| corrupt(page_id, reason))?;
        Ok(self)
    }

    fn typed(page: P, page_id: PageId) -> Result<Self> {
        let kind = match page.page_type().get() {
            LEAF => NodeKind::Leaf,
            INTERIOR => NodeKind::Interior,
            other => {
                return Err(corrupt(page_id, format!("page type {other} is not a B+Tree node")));
            }
        };
        Ok(Self { page, kind, checked: false })
    }

    /// Upgrades a node taken with [`Node::load_for_read`] or [`Node::load_for_lookup`], in
    /// place, to one that may be modified: the checks [`Node::load`] makes beyond theirs.
    fn check_for_write(&mut self, page_id: PageId) -> Result<()> {
        if !self.checked {
            self.validate().map_err(|reason| corrupt(page_id, reason))?;
            self.checked = true;
        }
        Ok(())
    }

    /// An owned copy of the node, for the write path: the page's bytes are copied once, and
    /// the copy has had exactly the checks this node had (only a node taken with
    /// [`Node::load`] may then be modified).
    pub fn to_owned(&self) -> Node<PageBuf> {
        Node { page: self.page.to_page_buf(), kind: self.kind, checked: self.checked }
    }

    /// The same node over other bytes holding the same page (a guard put behind a shared
    /// handle): kind and checks carry over, so `map` must hand back the page it is given.
    pub(crate) fn map_page<Q: Deref<Target = Page>>(self, map: impl FnOnce(P) -> Q) -> Node<Q> {
        let Self { page, kind, checked } = self;
        let page = map(page);
        Node { page, kind, checked }
    }

    /// The page, to write back (the store seals it) or to keep borrowing from.
    pub fn into_page(self) -> P {
        self.page
    }

    /// The page.
    pub fn page(&self) -> &P {
        &self.page
    }

    /// The page size of the node's page.
    pub fn page_size(&self) -> PageSize {
        self.page.page_size()
    }

    /// Leaf or interior.
    pub fn kind(&self) -> NodeKind {
        self.kind
    }

    /// How many cells the node holds.
    pub fn len(&self) -> usize {
        usize::from(self.header().cell_count.get())
    }

    /// Whether the node holds no cells.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The key of cell `index`, as the cell holds it: the whole key, or a long key's prefix
    /// and tail reference.
    #[inline]
    pub fn key(&self, index: usize) -> StoredKey<'_> {
        let cell = self.cell_offset(index);
        let raw = self.u16_at(cell);
        let start = cell + self.cell_header_bytes();
        if raw & LONG_KEY_FLAG == 0 {
            return StoredKey::Inline(&self.bytes()[start..start + usize::from(raw)]);
        }
        self.long_key_at(start, raw)
    }

    /// The long key whose cell's key field, of length field `raw`, starts at `start`.
    #[inline(never)]
    fn long_key_at(&self, start: usize, raw: u16) -> StoredKey<'_> {
        let prefix_end = start + usize::from(raw & !LONG_KEY_FLAG);
        let tail = KeyTail {
            first_page: PageId::new(self.u64_at(prefix_end)),
            length: self.u64_at(prefix_end + 8),
        };
        StoredKey::Long { prefix: &self.bytes()[start..prefix_end], tail }
    }

    /// Where the bytes cell `index` holds of its key lie in the page (a long key's: its prefix).
    pub(crate) fn key_span(&self, index: usize) -> Range<usize> {
        let cell = self.cell_offset(index);
        let raw = self.u16_at(cell);
        let start = cell + self.cell_header_bytes();
        start..start + usize::from(raw & !LONG_KEY_FLAG)
    }

    /// The value of leaf cell `index`.
    pub fn value(&self, index: usize) -> Value<'_> {
        self.value_span(index).resolve(self.bytes())
    }

    /// Where the value of leaf cell `index` lies in the page (or the reference it holds).
    pub(crate) fn value_span(&self, index: usize) -> ValueSpan {
        assert_eq!(self.kind, NodeKind::Leaf, "values live in leaves");
        let cell = self.cell_offset(index);
        let key_area = key_area_bytes(self.u16_at(cell));
        let raw_length = self.u32_at(cell + 2);
        let start = cell + LEAF_CELL_HEADER_BYTES + key_area;
        if raw_length & OVERFLOW_FLAG != 0 {
            let first_page = PageId::new(self.u64_at(start));
            return ValueSpan::Overflow { first_page, length: self.u64_at(start + 8) };
        }
        ValueSpan::Inline(start..start + raw_length as usize)
    }

    /// The child page for child index `index`: 0 is the leftmost, `i > 0` the child of cell `i - 1`.
    pub fn child(&self, index: usize) -> PageId {
        assert_eq!(self.kind, NodeKind::Interior, "children live in interior nodes");
        if index == 0 {
            return PageId::new(self.header().leftmost_child.get());
        }
        PageId::new(self.u64_at(self.cell_offset(index - 1) + 2))
    }

    /// [`Node::child`] for a node taken with [`Node::load_for_lookup`]: the cell it reads (cell
    /// `index - 1`) is checked first, and a bad one, or an index past the last child, is
    /// `Corrupt` naming `page_id`.
    pub fn child_checked(&self, index: usize, page_id: PageId) -> Result<PageId> {
        if index > self.len() {
            return Err(corrupt(page_id, format!("child {index} of {} cells", self.len())));
        }
        if let Some(cell) = index.checked_sub(1)
            && let Err(fault) = self.check_cell(cell)
        {
            return Err(corrupt(page_id, fault.describe(cell, self.page_size())));
        }
        Ok(self.child(index))
    }

    /// For an interior node taken with [`Node::load_for_lookup`]: the child index whose subtree
    /// holds `key`, checking each cell the search probes ([`Node::search_checked`]).
    pub fn child_index_for_checked(
        &self,
        key: &[u8],
        page_id: PageId,
        tails: &mut impl KeyTails,
    ) -> Result<usize> {
        Ok(match self.search_checked(key, page_id, tails)? {
            Ok(index) => index + 1,
            Err(index) => index,
        })
    }

    /// [`Node::search`] for a node taken with [`Node::load_for_lookup`]: every cell the binary
    /// search probes is bounds-checked first, and a bad one is `Corrupt` naming `page_id`.
    /// The cells a lookup then reads (the one found, or the one left of the insertion point,
    /// whose child an interior node follows) are among those probed.
    #[inline]
    pub fn search_checked(
        &self,
        key: &[u8],
        page_id: PageId,
        tails: &mut impl KeyTails,
    ) -> Result<std::result::Result<usize, usize>> {
        let (mut low, mut high) = (0, self.len());
        while low < high {
            let middle = (low + high) / 2;
            if let Err(fault) = self.check_cell(middle) {
                return Err(corrupt(page_id, fault.describe(middle, self.page_size())));
            }
            match self.key(middle).compare(key, tails)? {
                Ordering::Less => low = middle + 1,
                Ordering::Greater => high = middle,
                Ordering::Equal => return Ok(Ok(middle)),
            }
        }
        Ok(Err(low))
    }

    /// Where `key` is (`Ok(index)`) or would be inserted (`Err(index)`). A long key whose prefix
    /// does not decide a comparison is compared by its tail, through `tails` (whose errors are
    /// returned).
    pub fn search(
        &self,
        key: &[u8],
        tails: &mut impl KeyTails,
    ) -> Result<std::result::Result<usize, usize>> {
        let (mut low, mut high) = (0, self.len());
        while low < high {
            let middle = (low + high) / 2;
            match self.key(middle).compare(key, tails)? {
                Ordering::Less => low = middle + 1,
                Ordering::Greater => high = middle,
                Ordering::Equal => return Ok(Ok(middle)),
            }
        }
        Ok(Err(low))
    }

    /// The next leaf in key order.
    pub fn right_sibling(&self) -> Option<PageId> {
        let raw = self.header().right_sibling.get();
        (raw != 0).then_some(PageId::new(raw))
    }

    /// Bytes a new cell could use, after compaction.
    pub fn free_bytes(&self) -> usize {
        let slots_end = SLOTS_OFFSET + self.len() * SLOT_BYTES;
        self.content_start() - slots_end + usize::from(self.header().fragmented_bytes.get())
    }

    /// Bytes cell `index` takes, its slot included.
    pub(crate) fn cell_size(&self, index: usize) -> usize {
        self.cell_bytes(self.cell_offset(index)) + SLOT_BYTES
    }

    /// Where the cell content begins. Stored as 0 when it is the end of a 64 KiB page, which a
    /// u16 cannot hold (no cell can start at 0: the headers are there).
    pub(super) fn content_start(&self) -> usize {
        match self.header().content_start.get() {
            0 => self.bytes().len(),
            start => usize::from(start),
        }
    }

    pub(super) fn cell_header_bytes(&self) -> usize {
        match self.kind {
            NodeKind::Leaf => LEAF_CELL_HEADER_BYTES,
            NodeKind::Interior => INTERIOR_CELL_HEADER_BYTES,
        }
    }

    /// The total length of the cell at offset `cell`. Called only with the offset of a cell
    /// that passed the cell checks: on checked nodes (the mutators assert it) and, for
    /// `cell_size`, on nodes taken with `load` or `load_for_read`, which check every cell. So
    /// the `expect` depends on the code path, not on the page's bytes.
    pub(super) fn cell_bytes(&self, cell: usize) -> usize {
        self.checked_cell(cell).expect("only cells that passed the cell checks are sized")
    }

    #[inline]
    pub(super) fn cell_offset(&self, index: usize) -> usize {
        assert!(index < self.len(), "cell {index} of {}", self.len());
        self.u16_at(SLOTS_OFFSET + index * SLOT_BYTES) as usize
    }

    pub(super) fn header(&self) -> &NodeHeader {
        let bytes = &self.bytes()[NODE_HEADER_OFFSET..SLOTS_OFFSET];
        NodeHeader::ref_from_bytes(bytes).expect("the node header fits")
    }

    pub(super) fn bytes(&self) -> &[u8] {
        self.page.as_bytes()
    }

    pub(super) fn u16_at(&self, offset: usize) -> u16 {
        u16::from_le_bytes(self.bytes()[offset..offset + 2].try_into().expect("2 bytes"))
    }

    fn u32_at(&self, offset: usize) -> u32 {
        u32::from_le_bytes(self.bytes()[offset..offset + 4].try_into().expect("4 bytes"))
    }

    fn u64_at(&self, offset: usize) -> u64 {
        u64::from_le_bytes(self.bytes()[offset..offset + 8].try_into().expect("8 bytes"))
    }
}

/// Bytes the key of a cell whose key length field is `raw` takes in the cell: the inline key,
/// or a long key's prefix and tail reference.
#[inline]
pub(super) fn key_area_bytes(raw: u16) -> usize {
    if raw & LONG_KEY_FLAG == 0 {
        usize::from(raw)
    } else {
        usize::from(raw & !LONG_KEY_FLAG) + LONG_KEY_REF_BYTES
    }
}
