//! The buffer pool's error type: what can go wrong opening a pool. (A load's error is the
//! loader's, a `redwood_pager::Error`, returned through `PageCache::load` as it is.)

/// The result type of the pool's fallible operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong in the buffer pool.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The budget does not hold the minimum number of frames.
    #[error(
        "a budget of {budget_bytes} bytes holds fewer than {frames_min} pages of {page_bytes} bytes"
    )]
    BudgetTooSmall {
        /// The budget asked for.
        budget_bytes: u64,
        /// The page size.
        page_bytes: u64,
        /// The fewest frames a pool may have.
        frames_min: usize,
    },
    /// The pool's memory (its slab, or its frames' metadata) could not be reserved.
    #[error("cannot reserve {bytes} bytes for a buffer pool of {frames} frames")]
    OutOfMemory {
        /// The bytes asked for.
        bytes: u64,
        /// The frames they were for.
        frames: usize,
    },
}
