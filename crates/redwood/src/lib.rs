//! Redwood: a crash-safe, embedded, transactional B+Tree key-value store.
//!
//! This facade is the only crate that wires the pager, the write-ahead log, the buffer pool and
//! the B+Tree together: `Database` (`create`, `open`, `in_memory`, `builder`), read and write
//! transactions, and named tables in a catalog (`catalog`).
//!
//! ```
//! let db = redwood::Database::in_memory()?;
//! let write = db.begin_write()?;
//! {
//!     let mut users = write.open_table("users")?;
//!     users.insert(b"ada", b"lovelace")?;
//! }
//! write.commit()?;
//! let read = db.begin_read()?;
//! let users = read.open_table("users")?;
//! assert_eq!(users.get(b"ada")?.as_deref(), Some(&b"lovelace"[..]));
//! # Ok::<(), redwood::Error>(())
//! ```
//!
//! # Typed tables
//!
//! A [`TableDefinition`] names a table with its key and value types ([`types`] lists them
//! with their encodings; keys sort as the Rust values do). Several tables can be open at once
//! in one write transaction:
//!
//! ```
//! use redwood::{Database, TableDefinition};
//!
//! const USERS: TableDefinition<u64, &str> = TableDefinition::new("users");
//! const AGES: TableDefinition<(u8, u64), ()> = TableDefinition::new("by_age");
//!
//! let db = Database::in_memory()?;
//! let write = db.begin_write()?;
//! let (mut users, mut ages) = (write.open_table(USERS)?, write.open_table(AGES)?);
//! for (id, name, age) in [(1, "ada", 36), (2, "alan", 41), (3, "grace", 36)] {
//!     users.insert(id, name)?;
//!     ages.insert((age, id), ())?;
//! }
//! drop((users, ages));
//! write.commit()?;
//!
//! let read = db.begin_read()?;
//! let (users, ages) = (read.open_table(USERS)?, read.open_table(AGES)?);
//! let mut thirty_six = Vec::new();
//! for key in ages.keys((36, 0)..(37, 0)) {
//!     let (_, id) = key?.value();
//!     thirty_six.push(users.get(id)?.expect("indexed").value().to_owned());
//! }
//! assert_eq!(thirty_six, ["ada", "grace"]);
//! # Ok::<(), redwood::Error>(())
//! ```
//!
//! # Multimap tables
//!
//! A [`MultimapTableDefinition`] names a table whose keys each hold a sorted set of values
//! (`WriteTransaction::open_multimap_table`, [`MultimapTable`]: `insert`, `remove`,
//! `remove_all`, `get`, `range`). Each (key, value) pair is one key of the tree (the key in
//! tuple element form, then the value), so a key's and a value's encodings together must fit the
//! key limit below; the catalog records the table's kind, and opening it as the other kind is
//! `Error::TableKindMismatch`.
//!
//! # Limits
//!
//! Each is enforced with a typed error whose [`ErrorKind`] is `TooLarge` (or `InvalidInput` for
//! a name), naming the limit:
//!
//! | what | limit (4 KiB pages) | error |
//! | --- | --- | --- |
//! | key | 64 KiB, any page size (longer than `page_size / 8` = 512 keeps its first 496 bytes in the leaf and the rest in an overflow chain) | `TreeError::KeyTooLarge` |
//! | value | 1 GiB (longer than `page_size / 8` goes to an overflow chain) | `OverflowError::TooLarge` |
//! | table name | 1 to `page_size / 8` bytes of UTF-8 | `Error::InvalidTableName` |
//! | transaction | no limit but the disk: changed pages beyond the cache's share spill to the log or go home | `StorageError::Full` at 2^40 pages |
//! | page size | 4 KiB to 64 KiB, a power of two, fixed when the file is created | `Error::OptionConflict` on reopen with another |
//!
//! Values longer than an eighth of a page live in overflow chains (`redwood-overflow`), written
//! in the same transaction. Checkpoints are automatic (`Builder::auto_checkpoint`,
//! `CheckpointPolicy`): a background thread keeps the log within its bound;
//! `Builder::checkpoint_table_after` adds per-table triggers (R1). `Builder::tree_observer`
//! reports one table's splits, merges and root changes ([`TreeEvent`]) to a [`TreeObserver`].

// The B+Tree refuses overflow references the chains could never hold: one bound (the B+Tree's
// is the overflow crate's), checked here where both meet.
const _: () =
    assert!(redwood_btree::limits::OVERFLOW_VALUE_MAX_BYTES == redwood_overflow::VALUE_MAX_BYTES);

mod access;
mod archive;
#[cfg(feature = "object-store")]
mod archive_object_store;
mod backup;
mod builder;
mod catalog;
mod compact;
mod database;
mod definition;
mod diagnostics;
mod error;
mod integrity;
mod multimap;
mod observers;
mod read;
mod recover;
mod recovery;
mod restore;
mod savepoint;
mod shape;
mod triggers;
pub mod types;
mod write;
mod write_scan;
mod write_table;

pub use access::AccessGuard;
pub use archive::ArchiveTarget;
#[cfg(feature = "object-store")]
pub use archive_object_store::ObjectStoreArchive;
pub use backup::{
    BackupError, BackupParent, BackupReport, RestoreReport, RestoreTarget, archived_restore_points,
    backup_parent_file, restore, restore_backup, restore_backup_chain, restore_backup_files,
    restore_backup_in, restore_in,
};
pub use builder::{AutoCheckpoint, Builder, default_cache_bytes};
pub use catalog::TableKind;
pub use compact::{CompactProgress, CompactReport};
pub use database::Database;
pub use definition::{TableDefinition, TableSpec};
pub use error::{Error, ErrorKind, Result};
pub use integrity::{IntegrityReport, Problem};
pub use multimap::{
    MultimapRange, MultimapTable, MultimapTableDefinition, MultimapValues, ReadOnlyMultimapTable,
};
pub use read::{ReadOnlyTable, ReadTransaction, TableInfo};
pub use recover::{LostPart, RecoverReport, TableRecovery, recover};
pub use recovery::{DamagedLogTail, RecoveryReport};
pub use redwood_btree::Error as TreeError;
/// A table's structural events and their observer (`Builder::tree_observer`).
pub use redwood_btree::{NodeKind, TreeEvent, TreeObserver};
pub use redwood_overflow::Error as OverflowError;
pub use redwood_pager::Error as StorageError;
pub use redwood_pager::PageSize;
/// The storage layer's file systems (`OsVfs`, `MemVfs`, ...) for `Builder::create_in`.
pub use redwood_pager::io;
pub use redwood_pager::{
    CheckpointInputs, CheckpointMode, CheckpointOutcome, CheckpointPolicy, Durability, Lsn, PageId,
    PagerStats,
};
/// Counters, snapshot types, alert monitor and (feature `otlp`) the OpenTelemetry export.
pub use redwood_telemetry as telemetry;
pub use redwood_telemetry::{
    Alert, AlertKind, AlertState, CountingAllocator, Diagnostics, DiagnosticsConfig,
    DiagnosticsSource,
};
pub use redwood_wal::LostFrame as LostLogFrame;
pub use redwood_wal::WalStats;
pub use restore::RestorePoint;
pub use savepoint::Savepoint;
pub use shape::{
    SHAPE_KEY_PREFIX_MAX_BYTES, SHAPE_LEVELS_MAX, SHAPE_NODES_PER_LEVEL_MAX, ShapeLevel,
    ShapeLimits, ShapeNode, ShapeSource, TreeShape,
};
pub use triggers::{TableTrigger, TableTriggers};
pub use types::{DecodeError, Encode, EncodeError, Key, Serde, TupleElement, Value};
pub use write::{Table, WriteTransaction};
