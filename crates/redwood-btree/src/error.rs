//! The B+Tree's error type.

use redwood_pager::PageId;

/// The result type of the B+Tree's fallible operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong in the B+Tree.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A key longer than the limit for this page size.
    #[error("a key of {bytes} bytes is longer than the limit of {max_bytes}")]
    KeyTooLarge {
        /// The key's length.
        bytes: usize,
        /// The limit.
        max_bytes: usize,
    },
    /// An inline value longer than a leaf holds (`limits::inline_value_max_bytes`): longer
    /// values go to overflow chains, which the caller writes.
    #[error("a value of {bytes} bytes is longer than the limit of {max_bytes}")]
    ValueTooLarge {
        /// The value's length.
        bytes: usize,
        /// The limit.
        max_bytes: usize,
    },
    /// An overflow reference to insert whose length is 0 or above
    /// `limits::OVERFLOW_VALUE_MAX_BYTES`: no chain holds such a value, and a leaf holding the
    /// reference would read back as corrupt.
    #[error("an overflow reference of {length} bytes is outside 1..={max_bytes}")]
    InvalidOverflowRef {
        /// The reference's length.
        length: u64,
        /// The limit.
        max_bytes: u64,
    },
    /// A node page violates the node format.
    #[error("corrupt B+Tree node {page_id}: {reason}")]
    Corrupt {
        /// The page.
        page_id: PageId,
        /// What is wrong.
        reason: String,
    },
    /// The pager failed.
    #[error(transparent)]
    Pager(#[from] redwood_pager::Error),
}
