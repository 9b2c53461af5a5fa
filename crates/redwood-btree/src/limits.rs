//! The B+Tree's limits, derived from the page size so every node holds at least four cells, and
//! the bounds that make every walk over pages read from disk end: a cell's sizes, an overflow
//! reference's length, and a tree's height.

use redwood_pager::PageSize;

/// The longest key for `page_size`: an eighth of the page (512 bytes for 4 KiB pages).
pub fn key_max_bytes(page_size: PageSize) -> usize {
    page_size.bytes() / 8
}

/// The longest value kept inside a leaf; longer ones go to an overflow chain.
pub fn inline_value_max_bytes(page_size: PageSize) -> usize {
    page_size.bytes() / 8
}

/// The longest value an overflow reference in a leaf may name (1 GiB). It must equal
/// `redwood_overflow::VALUE_MAX_BYTES`, the longest value a chain holds; it is repeated here
/// because the B+Tree does not depend on the overflow crate (the crate graph is btree -> pager
/// only), and the facade, which sees both, checks that the two agree. A reference of length 0 or
/// above this names no chain that could have been written: the leaf holding it is corrupt.
pub const OVERFLOW_VALUE_MAX_BYTES: u64 = 1 << 30;

/// The most levels a tree may have, leaves included. Every interior node has at least two
/// children (a root with one gives way to it, every other node is a quarter full, and the last
/// node of a level, which may be less, starts with two children), so a tree of `h` levels has
/// at least `2^(h-1)` leaves: 64 levels would need more pages than a 64-bit page id can name.
/// A descent that goes deeper is following a cycle of child pointers.
pub const TREE_HEIGHT_MAX: usize = 64;
