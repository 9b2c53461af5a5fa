//! Redwood pager: the crate every other Redwood engine crate stands on.
//!
//! It owns how bytes reach the disk and how a database is laid out in pages:
//! - `io`: the `Storage` (one file) and `Vfs` (a namespace of files) traits and their backends:
//!   `OsVfs`, `MemVfs`, and `SimVfs` (feature `sim`), a seeded fault-injecting simulated disk.
//! - `page`: the page header, CRC32C seeded with the page id, aligned page buffers.
//! - `geometry`: which file and offset each page id lives at; segments `NAME.segN`.
//! - `meta`: the two meta copies; `free_map`: the persisted free-space bitmap.
//! - `page_file`: `PageFile`, the verified page array with allocate/free/sync and
//!   `check_invariants`.
//! - `log`, `store`: the `PageLog`/`LogReader` traits a write-ahead log implements, and the
//!   `PageRead`/`PageWrite` capabilities the B+Tree sees.
//! - `pager`: `Pager`, the transactional page store: one writer, snapshot readers, recovery
//!   replay and checkpoints, generic over the log.
//! - `testing` (feature `sim`): `MemPageStore`, the capabilities over memory, for testing the
//!   layers above on their own.
//!
//! What it does not do: it knows nothing of B+Trees, tables, overflow chains or the WAL format.
//! Higher layers reach pages only through the types exported here.

mod check;
pub mod compaction;
mod durability;
pub mod engine_faults;
mod error;
mod free_map;
mod geometry;
mod guard;
mod ids;
pub mod io;
pub mod limits;
mod log;
mod meta;
mod page;
mod page_file;
mod pager;
mod store;
#[cfg(feature = "sim")]
pub mod testing;

pub use check::{PageClaims, Violation};
pub use durability::Durability;
pub use error::{Error, Result};
pub use geometry::{Geometry, MapCopy};
pub use guard::PageGuard;
pub use ids::{Lsn, PageId, SegmentId};
pub use log::{
    LogIdentity, LogPosition, LogReader, PageCache, PageLog, RecoveredCommit, RestorePoint,
    TransactionChanges,
};
pub use meta::{MAGIC, Meta};
pub use page::{
    FORMAT_VERSION, PAGE_HEADER_BYTES, Page, PageBuf, PageHeader, PageSize, PageType, page_checksum,
};
pub use page_file::{PageFile, PageFileOptions, ReleasedTail, segment_path};
pub use pager::{
    CheckpointInputs, CheckpointMode, CheckpointOutcome, CheckpointPolicy, CheckpointWorker, Pager,
    PagerOptions, PagerStats, ReadTxn, Savepoint, WriteTxn,
};
/// The telemetry crate, re-exported so the log and the buffer pool reach their counter types
/// without a crate edge of their own (the graph of DESIGN.md §3 stays as it is).
pub use redwood_telemetry as telemetry;
pub use redwood_telemetry::{PageFileCounters, PageFileStats, PagerCounters};
pub use store::{PageRead, PageWrite};
