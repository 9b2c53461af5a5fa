//! [`Diagnostics`]: one snapshot of a whole database (buffer pool, log, checkpoints, pager,
//! process), and [`DiagnosticsSource`], what exporters and samplers read snapshots from.
//!
//! The types are plain data with public fields, so an application can log, serialize or
//! compare them. Log positions (LSNs) and page ids appear as plain integers: this crate is the
//! leaf of the graph and knows none of the pager's newtypes.

use crate::counters::{PageFileStats, PoolStats, WalStats};
use crate::process::ProcessStats;

/// One snapshot of a database and its process.
///
/// The pager's figures come from one `Pager::stats` call (pages and the checkpoint position
/// under its state lock, the last commit, readers and log bytes just before); the counters are
/// monotonic and read right after. It is a close picture, not an atomic one: a commit racing the
/// snapshot may show in some figures and not yet in others.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Diagnostics {
    /// When the snapshot was taken, in milliseconds since the Unix epoch.
    pub taken_at_unix_ms: u64,
    /// The buffer pool: hits, misses, evictions, thrash reports, memory.
    pub pool: PoolStats,
    /// The pages the pool most recently reported as thrashing (R7), oldest first.
    pub thrashing_pages: Vec<ThrashingPage>,
    /// The write-ahead log.
    pub wal: WalDiagnostics,
    /// Checkpoints and the readers that hold them back.
    pub checkpoints: CheckpointDiagnostics,
    /// The pager: pages, free pages, segments, file sizes, page I/O.
    pub pager: PagerDiagnostics,
    /// The process: resident memory and, when counted, the heap.
    pub process: ProcessStats,
    /// Whether an earlier failure (a failed fsync, say) poisoned the database; reopen to recover.
    pub poisoned: bool,
}

/// A page the buffer pool saw evicted and loaded again repeatedly within a short window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ThrashingPage {
    /// The page id.
    pub page_id: u64,
    /// Quick reloads seen when it was reported.
    pub reloads: u32,
}

/// The write-ahead log: what it holds now and what was written since open.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WalDiagnostics {
    /// Bytes of log in use: what a checkpoint has not yet let the log drop.
    pub bytes_in_use: u64,
    /// Page versions the log holds (indexed for readers).
    pub page_versions: u64,
    /// Counters since open.
    pub written: WalStats,
}

/// Checkpoints, and how far behind the data files are.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CheckpointDiagnostics {
    /// Checkpoints run since open.
    pub checkpoints: u64,
    /// Page images copied into the data files since open.
    pub pages_checkpointed: u64,
    /// Pages the data files had lost (lost or misdirected writes), rewritten from the log.
    pub lost_writes_repaired: u64,
    /// Checkpoints that could not ship the log generation to the log archive (the log was
    /// not restarted, and grows until a later one ships it).
    pub archive_failures: u64,
    /// Every commit up to this LSN is in the data files.
    pub checkpoint_lsn: u64,
    /// The newest commit's LSN.
    pub last_commit_lsn: u64,
    /// Open read transactions.
    pub readers: u64,
    /// How far the oldest reader lags behind the last commit, in LSNs (0 without readers); a
    /// checkpoint cannot pass it.
    pub oldest_reader_lag: u64,
    /// The automatic checkpoints' bound on the log, in bytes (0: automatic checkpoints off).
    pub log_bytes_max: u64,
    /// Whether the log is past that bound because a reader's snapshot holds the checkpoint
    /// back: the log grows until the reader ends.
    pub held_back: bool,
}

impl CheckpointDiagnostics {
    /// LSNs committed but not yet checkpointed.
    ///
    /// ```
    /// let checkpoints = redwood_telemetry::CheckpointDiagnostics {
    ///     checkpoint_lsn: 10,
    ///     last_commit_lsn: 25,
    ///     ..Default::default()
    /// };
    /// assert_eq!(checkpoints.lsns_behind(), 15);
    /// ```
    pub fn lsns_behind(&self) -> u64 {
        self.last_commit_lsn.saturating_sub(self.checkpoint_lsn)
    }
}

/// The pager and its files.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PagerDiagnostics {
    /// The page size in bytes.
    pub page_size_bytes: u64,
    /// Page ids in use, reserved pages included (the high-water mark).
    pub page_count: u64,
    /// Free pages below the page count.
    pub free_pages: u64,
    /// Segment files (the base file is segment 0).
    pub segments: u64,
    /// Bytes of the data files on disk (base file and segments), or `None` if a size could not
    /// be read.
    pub data_file_bytes: Option<u64>,
    /// Write transactions committed since open.
    pub commits: u64,
    /// Write transactions aborted or dropped since open.
    pub aborts: u64,
    /// Pages read ahead by prefetch since open.
    pub prefetched: u64,
    /// Page I/O on the data files since open.
    pub io: PageFileStats,
}

/// Something that can take a [`Diagnostics`] snapshot: a database, for exporters and samplers
/// that outlive the borrow of it. `None` once the database is closed.
pub trait DiagnosticsSource: Send + Sync {
    /// A snapshot now, or `None` if the database behind this source is closed.
    fn diagnostics(&self) -> Option<Diagnostics>;
}
