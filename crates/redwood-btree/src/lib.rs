//! Redwood B+Tree tables (issue 5, not built yet).
//!
//! Its role: named tables as B+Trees of slotted pages with right-sibling links, point operations,
//! streaming range scans in both directions, split/merge/rebalance and an invariant checker.
//!
//! What it does not do: it sees pages only through the pager's `PageStore` capability traits; it
//! knows nothing of the write-ahead log, the buffer pool or files. Nothing is implemented here yet.
