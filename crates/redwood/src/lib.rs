//! Redwood: a crash-safe, embedded, transactional B+Tree key-value store.
//!
//! This facade is the only crate that wires the pager, the write-ahead log, the buffer pool, the
//! B+Tree and the overflow chains together into `Database`, read and write transactions and
//! tables (issue 5). Until then, use `redwood-pager` directly: it re-exports nothing yet because
//! nothing above the pager exists, and this crate pretends otherwise in no way.
