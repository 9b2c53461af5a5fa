//! Redwood's side-by-side benchmark (`cargo xtask bench`, issue 7).
//!
//! One run measures Redwood and its peers (redb, LMDB via heed, SQLite via rusqlite, fjall, and
//! RocksDB when built with `--cfg redwood_rocksdb`, which `cargo xtask bench --rocksdb` does) on the same data, with the same durability and the
//! same cache budget, and reports each row's time with the ratio Redwood / best peer.
//!
//! How a run is laid out:
//! - [`data`] makes the data from a fixed seed: 24-byte random keys, 150-byte values;
//! - [`workload`] names the rows ([`workload::Row`]) and runs one row against one engine;
//! - [`engines`] adapts each store to the [`engines::Engine`] trait;
//! - [`worker`] is the child process that owns one engine for one repetition, so that peak RSS
//!   is measured per engine and row and no engine's memory counts against another;
//! - [`runner`] drives the workers: rows in order, engines interleaved within each row, every
//!   row repeated, the median of the repetitions reported;
//! - [`report`] writes the markdown table, the JSON and the SVG chart.
//!
//! The peers are dependencies of this crate only, never of a library crate.

pub mod chart;
pub mod data;
pub mod engines;
pub mod proc;
pub mod report;
pub mod runner;
pub mod worker;
pub mod workload;
mod ycsb;
