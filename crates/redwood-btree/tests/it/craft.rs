//! Crafting malformed node pages for the corruption tests: raw leaves and interior nodes laid
//! out byte by byte as `docs/FORMAT.md` ("B+Tree node pages") describes, so a test can write
//! what no insert would (an oversized key, an impossible overflow length, a long key's
//! impossible tail, a sibling link to itself). `MemPageStore::write_page` seals each page
//! (`Page::seal`), so its checksum passes and only the B+Tree's own checks stand between the
//! bytes and a panic or a hang.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use redwood_btree::node::{INTERIOR, LEAF};
use redwood_pager::testing::MemPageStore;
use redwood_pager::{PageBuf, PageId, PageRead, PageSize, PageWrite};

/// The high bit of a leaf cell's value length: an overflow reference.
const OVERFLOW_FLAG: u32 = 1 << 31;
/// The high bit of a cell's key length: a long key (its prefix and tail reference).
const LONG_KEY_FLAG: u16 = 1 << 15;
/// Where the slot array starts: page header and node header.
const SLOTS_OFFSET: usize = 64;

/// A crafted leaf cell's value.
pub enum RawValue<'a> {
    /// Inline bytes, of any length.
    Inline(&'a [u8]),
    /// An overflow reference with any length.
    Overflow { first_page: u64, length: u64 },
}

/// A leaf cell's bytes: key length, value length (with the overflow flag), key, value.
pub fn leaf_cell(key: &[u8], value: RawValue<'_>) -> Vec<u8> {
    let mut cell = (key.len() as u16).to_le_bytes().to_vec();
    match value {
        RawValue::Inline(bytes) => {
            cell.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
            cell.extend_from_slice(key);
            cell.extend_from_slice(bytes);
        }
        RawValue::Overflow { first_page, length } => {
            cell.extend_from_slice(&(OVERFLOW_FLAG | 16).to_le_bytes());
            cell.extend_from_slice(key);
            cell.extend_from_slice(&first_page.to_le_bytes());
            cell.extend_from_slice(&length.to_le_bytes());
        }
    }
    cell
}

/// An interior cell's bytes: key length, child, key.
pub fn interior_cell(key: &[u8], child: PageId) -> Vec<u8> {
    let mut cell = (key.len() as u16).to_le_bytes().to_vec();
    cell.extend_from_slice(&child.get().to_le_bytes());
    cell.extend_from_slice(key);
    cell
}

/// A node page holding `cells` in slot order, packed at the end of the page.
fn node_page(page_type: u8, right_sibling: u64, leftmost_child: u64, cells: &[Vec<u8>]) -> PageBuf {
    let mut page = PageBuf::zeroed(PageSize::DEFAULT);
    page.header_mut().page_type = page_type;
    let bytes = page.as_mut_bytes();
    let mut start = bytes.len();
    for (index, cell) in cells.iter().enumerate() {
        start -= cell.len();
        bytes[start..start + cell.len()].copy_from_slice(cell);
        let slot = SLOTS_OFFSET + 2 * index;
        bytes[slot..slot + 2].copy_from_slice(&(start as u16).to_le_bytes());
    }
    bytes[32..34].copy_from_slice(&(cells.len() as u16).to_le_bytes());
    bytes[34..36].copy_from_slice(&(start as u16).to_le_bytes());
    bytes[40..48].copy_from_slice(&right_sibling.to_le_bytes());
    bytes[48..56].copy_from_slice(&leftmost_child.to_le_bytes());
    page
}

/// Writes a leaf of `cells` (from [`leaf_cell`]) linked to `right_sibling` at `page_id`.
pub fn put_leaf(
    store: &mut MemPageStore,
    page_id: PageId,
    right_sibling: Option<PageId>,
    cells: &[Vec<u8>],
) {
    let sibling = right_sibling.map_or(0, PageId::get);
    store.write_page(page_id, node_page(LEAF, sibling, 0, cells)).unwrap();
}

/// Writes a leaf of inline `entries` at `page_id`.
pub fn put_simple_leaf(
    store: &mut MemPageStore,
    page_id: PageId,
    right_sibling: Option<PageId>,
    entries: &[(&[u8], &[u8])],
) {
    let cells: Vec<Vec<u8>> =
        entries.iter().map(|(key, value)| leaf_cell(key, RawValue::Inline(value))).collect();
    put_leaf(store, page_id, right_sibling, &cells);
}

/// Writes an interior node at `page_id`: keys below the first separator under `leftmost`, then
/// each `(separator, child)`.
pub fn put_interior(
    store: &mut MemPageStore,
    page_id: PageId,
    leftmost: PageId,
    separators: &[(&[u8], PageId)],
) {
    let cells: Vec<Vec<u8>> =
        separators.iter().map(|(key, child)| interior_cell(key, *child)).collect();
    store.write_page(page_id, node_page(INTERIOR, 0, leftmost.get(), &cells)).unwrap();
}

/// `count` newly allocated pages.
pub fn allocate(store: &mut MemPageStore, count: usize) -> Vec<PageId> {
    (0..count).map(|_| store.allocate().unwrap()).collect()
}

/// The bytes of each of `pages`, to compare before and after a refused operation.
pub fn images(store: &MemPageStore, pages: &[PageId]) -> Vec<Vec<u8>> {
    pages.iter().map(|&page_id| store.read_page(page_id).unwrap().as_bytes().to_vec()).collect()
}

/// Runs `run` on its own thread and returns its result, failing the test if it takes longer
/// than a generous bound: a walk that loops fails here instead of hanging the suite.
pub fn bounded<T: Send + 'static>(what: &str, run: impl FnOnce() -> T + Send + 'static) -> T {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(run());
    });
    match receiver.recv_timeout(Duration::from_secs(30)) {
        Ok(value) => value,
        Err(RecvTimeoutError::Timeout) => panic!("{what} did not finish: an unbounded walk"),
        Err(RecvTimeoutError::Disconnected) => panic!("{what} panicked"),
    }
}

/// A leaf cell of a long key as `docs/FORMAT.md` lays it out: the key length with the long-key
/// flag over `prefix`'s length, the inline value's length, the prefix, the tail reference
/// (`first_page`, `tail_length`, any values), the value.
pub fn long_key_leaf_cell(
    prefix: &[u8],
    first_page: u64,
    tail_length: u64,
    value: &[u8],
) -> Vec<u8> {
    let mut cell = (LONG_KEY_FLAG | prefix.len() as u16).to_le_bytes().to_vec();
    cell.extend_from_slice(&(value.len() as u32).to_le_bytes());
    cell.extend_from_slice(prefix);
    cell.extend_from_slice(&first_page.to_le_bytes());
    cell.extend_from_slice(&tail_length.to_le_bytes());
    cell.extend_from_slice(value);
    cell
}
