//! The B+Tree's limits, derived from the page size so every node holds at least four cells.

use redwood_pager::PageSize;

/// The longest key for `page_size`: an eighth of the page (512 bytes for 4 KiB pages).
pub fn key_max_bytes(page_size: PageSize) -> usize {
    page_size.bytes() / 8
}

/// The longest value kept inside a leaf; longer ones go to an overflow chain.
pub fn inline_value_max_bytes(page_size: PageSize) -> usize {
    page_size.bytes() / 8
}
