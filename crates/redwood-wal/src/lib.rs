//! Redwood write-ahead log: the page log beneath Redwood's transactions.
//!
//! - `format`: the header copies and the 48-byte frame header, with checksums chained from a
//!   per-generation salt (see `docs/FORMAT.md`).
//! - `record`: the byte forms of commit records (allocation delta and meta fields) and restore
//!   points; the types themselves are the pager's (`TransactionChanges`, `RestorePoint`).
//! - `wal`: `Wal`, which appends, commits (one `fdatasync` per durable commit), reads page
//!   images back, and restarts after a complete checkpoint; it implements the pager's
//!   `PageLog` trait, and `WalReader` its `LogReader`.
//! - `recovery`: the longest valid prefix; a torn tail is truncated, damage to frames that had
//!   been synced is reported as corruption, never skipped.
//!
//! - `archive`: the log archive; each generation a checkpoint closes is shipped whole before
//!   the log restarts, for point-in-time restore.
//!
//! What it does not do: it keeps no index of page versions and knows nothing of snapshots,
//! B+Trees or the buffer pool; the pager's transactional layer (issue 3) builds those on top. It
//! reaches files only through the pager's `Storage` and `Vfs` traits.

pub mod archive;
mod error;
mod format;
pub mod limits;
mod record;
mod recovery;
mod salvage;
mod wal;

pub use error::{Error, Result};
pub use format::{FRAME_HEADER_BYTES, FrameType, WAL_FORMAT_VERSION, WalHeader, frame_bytes};
pub use record::CommitRecord;
pub use salvage::LostFrame;
pub use wal::{
    DamagedTail, MissingLog, Recovery, Wal, WalCounters, WalOptions, WalReader, WalStats,
};
