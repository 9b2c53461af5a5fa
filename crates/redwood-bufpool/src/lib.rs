//! Redwood buffer pool (issue 4, not built yet).
//!
//! Its role: a page cache with a memory budget fixed at open, RAII pin guards, latches, a pure
//! eviction policy, hit/miss/eviction counters, thrash detection and a prefetch API, plugged under
//! the pager's transactional page store through a narrow page-cache trait.
//!
//! What it does not do: it never writes a dirty page around the write-ahead log, and it knows
//! nothing of B+Trees or the WAL format. Nothing is implemented here yet.
