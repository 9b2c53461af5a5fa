//! Redwood's side-by-side peer benchmarks (issue 7, not built yet).
//!
//! Its role: run the same workloads, with the same data and durability, against Redwood and its
//! peers (redb, LMDB via heed, SQLite via rusqlite, fjall) and report ratios. The peers are
//! dependencies of this crate only, never of a library crate. Nothing is implemented here yet.
