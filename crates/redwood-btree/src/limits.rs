//! The B+Tree's limits, derived from the page size so every node holds at least four cells, and
//! the bounds that make every walk over pages read from disk end: a cell's sizes, a key's total
//! length, an overflow reference's length, and a tree's height.

use redwood_pager::PageSize;

/// The longest key a cell holds whole (inline), for `page_size`: an eighth of the page (512
/// bytes for 4 KiB pages). A longer key is a *long key*: its cell holds its first
/// [`key_prefix_bytes`] bytes and a reference to an overflow chain holding the rest (its tail),
/// which takes exactly as many bytes of the cell as a key of this length, so the cell size
/// bounds (and with them the fill bound, see `rebalance`) are those of inline keys. Keys up to
/// [`KEY_MAX_BYTES_TOTAL`] are accepted. Table names (catalog keys) stay within this limit.
pub fn key_max_bytes(page_size: PageSize) -> usize {
    page_size.bytes() / 8
}

/// The longest value kept inside a leaf; longer ones go to an overflow chain.
pub fn inline_value_max_bytes(page_size: PageSize) -> usize {
    page_size.bytes() / 8
}

/// The bytes of a long-key reference in a cell: the tail chain's first page id (8) and the
/// tail's length (8).
pub const LONG_KEY_REF_BYTES: usize = 16;

/// How many leading bytes of a long key its cell holds inline: [`key_max_bytes`] less the
/// chain reference (496 bytes for 4 KiB pages). Every long key's cell holds exactly this many,
/// so the cell of a long key is as large as that of a key of [`key_max_bytes`], and most
/// comparisons with a long key are decided by these bytes, without reading the chain.
pub fn key_prefix_bytes(page_size: PageSize) -> usize {
    key_max_bytes(page_size) - LONG_KEY_REF_BYTES
}

/// The longest key a tree takes (64 KiB, 65,536 bytes), whatever the page size. It bounds what
/// one key costs in memory wherever a long key is assembled whole (a comparison its prefix does
/// not decide, an entry a scan hands out, a batch of 64 keys a write transaction's scan copies:
/// 4 MiB) and in pages read per comparison (17 chain pages on 4 KiB pages). A long-key cell
/// whose total length is above it is corrupt, so the bound also limits what a damaged length
/// can make a read allocate. The on-disk tail length is a u64: raising this bound later changes
/// no format.
pub const KEY_MAX_BYTES_TOTAL: usize = 1 << 16;

/// The longest value an overflow reference in a leaf may name (1 GiB): the longest value a
/// chain holds, `redwood_overflow::VALUE_MAX_BYTES`. A reference of length 0 or above this
/// names no chain that could have been written: the leaf holding it is corrupt.
pub const OVERFLOW_VALUE_MAX_BYTES: u64 = redwood_overflow::VALUE_MAX_BYTES;

/// The most levels a tree may have, leaves included. Every interior node has at least two
/// children (a root with one gives way to it, every other node is a quarter full, and the last
/// node of a level, which may be less, starts with two children), so a tree of `h` levels has
/// at least `2^(h-1)` leaves: 64 levels would need more pages than a 64-bit page id can name.
/// A descent that goes deeper is following a cycle of child pointers.
pub const TREE_HEIGHT_MAX: usize = 64;

const _: () = assert!(KEY_MAX_BYTES_TOTAL >= 64 * 1024, "keys of 64 KiB are promised");
