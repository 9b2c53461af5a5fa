//! The buffer pool's error type.

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
    /// Every frame is pinned: too many pages held at once for this budget.
    #[error("all {frames} frames are pinned")]
    Exhausted {
        /// The pool's frame count.
        frames: usize,
    },
    /// Loading the page failed; the pool caches nothing for it.
    #[error(transparent)]
    Load(#[from] redwood_pager::Error),
}
