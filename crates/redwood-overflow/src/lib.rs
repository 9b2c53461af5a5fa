//! Redwood overflow chains (issue 5, not built yet).
//!
//! Its role: store values too large for a B+Tree leaf in chains of overflow pages, allocated in
//! contiguous batches and read ahead.
//!
//! What it does not do: like the B+Tree, it sees pages only through the pager's `PageStore`
//! traits and knows nothing of the log, the cache or files. Nothing is implemented here yet.
