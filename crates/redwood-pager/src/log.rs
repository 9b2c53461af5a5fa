//! The page log as the pager sees it: the narrow traits a write-ahead log implements
//! (`redwood-wal` does), and the vocabulary they speak. The pager defines them so the arrows
//! point down: the log crate depends on the pager, never the reverse.

use crate::limits::ROOT_SLOTS;
use crate::{Durability, Lsn, Page, PageBuf, PageGuard, PageId, Result};

/// Where a page image is in the log.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct LogPosition {
    /// Byte offset of its frame in the log file.
    pub offset: u64,
    /// The frame's LSN.
    pub lsn: Lsn,
}

/// What a transaction changed besides page images: the allocation delta and the meta fields
/// (docs/DECISIONS.md ADR-2). Recovery re-applies these over the checkpointed free-space map.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct TransactionChanges {
    /// Wall-clock time of the commit, in milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
    /// The database's page count after the transaction.
    pub page_count: u64,
    /// The root slots after the transaction.
    pub roots: [Option<PageId>; ROOT_SLOTS],
    /// Pages the transaction allocated.
    pub allocated: Vec<PageId>,
    /// Pages the transaction freed.
    pub freed: Vec<PageId>,
}

/// A named point in the log that point-in-time recovery can restore to.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RestorePoint {
    /// The name given when it was created.
    pub name: String,
    /// Wall-clock time, milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
}

/// One committed transaction found in the log when it was opened.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RecoveredCommit {
    /// The LSN of its commit frame: the snapshot that first sees it.
    pub commit_lsn: Lsn,
    /// What it changed besides page images.
    pub changes: TransactionChanges,
    /// The page images it wrote, in log order (a page may appear more than once; the last wins).
    pub pages: Vec<(PageId, LogPosition)>,
    /// Restore points it recorded.
    pub restore_points: Vec<(Lsn, RestorePoint)>,
}

/// Reads committed page images out of the log. Shared by every reader; never blocks on the
/// writer.
pub trait LogReader: Send + Sync {
    /// Reads and verifies the page image at `position`, which a commit published. The caller
    /// guarantees the log has not restarted since (the pager holds its state lock across lookup
    /// and read).
    fn read_page(&self, position: LogPosition, page: &mut Page) -> Result<()>;

    /// Reads and verifies the page images at `positions` into `pages` (one buffer each), as
    /// `read_page` would one by one; a log that can batch its reads (`Storage::read_many`)
    /// does. What a checkpoint copies with.
    fn read_pages(&self, positions: &[LogPosition], pages: &mut [PageBuf]) -> Result<()> {
        assert_eq!(positions.len(), pages.len(), "one page buffer per position");
        for (&position, page) in positions.iter().zip(pages.iter_mut()) {
            self.read_page(position, page)?;
        }
        Ok(())
    }
}

/// Which log continues a database's data files: a log generation and its salt. Every frame
/// of a generation carries its salt, so two logs with one identity are the same log.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct LogIdentity {
    /// +1 per restart of the log; 0 means "not recorded" (meta data written before identities
    /// were recorded), which accepts any log.
    pub generation: u64,
    /// The generation's salt.
    pub salt: u64,
}

impl LogIdentity {
    /// Whether this identity was recorded (see [`LogIdentity::generation`]).
    pub fn is_recorded(&self) -> bool {
        self.generation != 0
    }
}

impl std::fmt::Display for LogIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "generation {} (salt {:#018x})", self.generation, self.salt)
    }
}

/// The write side of a page log: used by the single writer and by checkpoints only.
///
/// Contract: frames appended since the last `commit` or `abort` form one transaction; `commit`
/// makes them visible to recovery atomically (all or nothing), durable before it returns when
/// asked; a failed append or commit leaves the log poisoned.
pub trait PageLog: Send {
    /// The reader handle type.
    type Reader: LogReader + 'static;

    /// A reader for committed page images, usable concurrently with the writer.
    fn reader(&self) -> Self::Reader;

    /// The LSN the next appended frame gets (pages are sealed with it before they are appended).
    fn next_lsn(&self) -> Lsn;

    /// The log's identity: its generation (+1 per restart) and that generation's salt. The data
    /// files' meta data records the identity of the log that continues them, so a log from a
    /// later checkpoint is never replayed over an older meta copy, and a log of another
    /// database or another history is refused (`Pager::open`).
    fn identity(&self) -> LogIdentity;

    /// The identity the next `restart` gives the log.
    fn successor(&self) -> LogIdentity;

    /// Appends a sealed page image to the open transaction.
    fn append_page(&mut self, page: &PageBuf) -> Result<LogPosition>;

    /// Appends a named restore point to the open transaction.
    fn append_restore_point(&mut self, point: &RestorePoint) -> Result<Lsn>;

    /// Commits the open transaction (possibly empty) with `changes`; returns the commit LSN.
    fn commit(&mut self, changes: TransactionChanges, durability: Durability) -> Result<Lsn>;

    /// Abandons the open transaction; recovery will never see it.
    fn abort(&mut self);

    /// Makes every committed frame durable. A checkpoint calls it first: it must never put in
    /// the data files (or in a meta copy) a commit the log could still lose.
    fn sync(&mut self) -> Result<()>;

    /// Reads a page image this transaction or a committed one appended (the writer's view).
    fn read_page(&self, position: LogPosition, page: &mut Page) -> Result<()>;

    /// Before a checkpoint restarts the log (the writer lock held, every commit synced): a log
    /// with an archive ships the generation the restart will close, whole, and returns once
    /// the archive holds it durably. An error means it was not shipped: the checkpoint goes on
    /// without restarting the log (it grows instead, and the next checkpoint ships again), so
    /// every committed frame stays in the log or the archive. A log without an archive does
    /// nothing (the default).
    fn archive_generation(&mut self) -> Result<()> {
        Ok(())
    }

    /// Starts a new, empty log generation. Only after a checkpoint put every committed page
    /// image in the data files durably, with no transaction open and no reader needing the log.
    fn restart(&mut self, truncate: bool) -> Result<()>;

    /// Bytes of log in use.
    fn size_bytes(&self) -> u64;
}

/// A cache of immutable committed page versions under the pager's read path
/// (`redwood-bufpool` implements it), shared by every reader and the writer.
///
/// It holds at most one version of each page, normally the newest committed one, tagged with
/// the snapshots that see it: a version committed at `from` and superseded by a commit at
/// `until` (none yet: `Lsn::MAX`) is what every snapshot in `from..until` reads. A hit is then a
/// lookup of the page and a comparison, with no search of the pager's version index.
///
/// Contract with the pager: [`PageCache::load`] runs only under the pager's state read lock and
/// [`PageCache::supersede`] only under its write lock, so no load (nor the eviction it does)
/// overlaps a supersede. [`PageCache::get`], `unpin` and `repin` take no lock of the pager's.
pub trait PageCache: Send + Sync {
    /// The cached version of `page_id` that a snapshot at `snapshot` sees, pinned; `None` if
    /// the cache holds no such version.
    fn get(&self, page_id: PageId, snapshot: Lsn) -> Option<PageGuard<'_>>;

    /// Loads the newest committed version of `page_id`, committed at `from` ([`Lsn::ZERO`] for
    /// the data files' version when the log holds none), into a frame: `load` fills it and
    /// verifies it. Returns the frame pinned; `Ok(None)` when no frame can be freed (every
    /// frame pinned), and the caller reads around the cache. An error of `load` is returned and
    /// nothing is cached.
    fn load(
        &self,
        page_id: PageId,
        from: Lsn,
        load: &mut dyn FnMut(&mut Page) -> Result<()>,
    ) -> Result<Option<PageGuard<'_>>>;

    /// A commit at `at` wrote a newer version of `page_id`: a cached older version stays
    /// visible only to snapshots before `at`.
    fn supersede(&self, page_id: PageId, at: Lsn);

    /// How many pages the cache's budget holds; `usize::MAX` for a cache without one (the
    /// default).
    fn budget_pages(&self) -> usize {
        usize::MAX
    }

    /// The open write transaction holds `pages` changed pages in memory, and they count against
    /// the cache's budget: the cache keeps at most its budget minus `pages` frames resident
    /// (never fewer than a minimum it needs to work), evicting unpinned frames and returning
    /// their memory to the operating system. `0` gives the whole budget back. Best effort:
    /// pinned frames stay. The default does nothing.
    fn set_reserved(&self, pages: usize) {
        let _ = pages;
    }

    /// Releases a pin that [`PageCache::get`], [`PageCache::load`] or [`PageCache::repin`] took
    /// (a [`PageGuard`] calls it when it drops).
    ///
    /// # Safety
    /// The caller owns that pin and releases it once: a stray unpin would let the cache reuse a
    /// frame another guard is still reading. Only [`PageGuard`]'s drop calls it.
    #[expect(unsafe_code, reason = "a stray unpin would free a frame a guard still reads")]
    unsafe fn unpin(&self, frame: u32);

    /// Takes one more pin on `frame`.
    ///
    /// # Safety
    /// The caller holds a pin on `frame` and hands the new one to a guard that releases it
    /// (only [`PageGuard`]'s clone calls it).
    #[expect(unsafe_code, reason = "a pin copied without a guard to release it would leak")]
    unsafe fn repin(&self, frame: u32);
}
