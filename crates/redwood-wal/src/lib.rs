//! Redwood write-ahead log (issue 3, not built yet).
//!
//! Its role: the page log that the pager's transactional page store appends committed page images
//! to, with checksummed frames chained from a per-log salt, durable commit, recovery of whole
//! committed transactions, snapshot lookup for readers, checkpoints and restore-point markers.
//!
//! What it does not do: it knows nothing of B+Trees, tables or the buffer pool, and it reaches
//! files only through the pager's `Storage` and `Vfs` traits. Nothing is implemented here yet.
