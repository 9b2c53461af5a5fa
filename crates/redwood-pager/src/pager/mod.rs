//! `Pager`: the transactional page store. One writer at a time, any number of snapshot readers,
//! atomic durable commits through a page log, recovery and checkpoints. Generic over the log
//! (`PageLog`), so the B+Tree facade and the LSM spin-off compose it with `redwood-wal`.
//!
//! How a read finds a page (MVCC): a reader pins the last commit LSN when it begins. For each
//! page, the version index maps commit LSNs to log positions of the page's images since the last
//! checkpoint; the reader takes the newest at or before its snapshot, or else the data file.
//! A checkpoint copies into the data files only versions at or before the oldest reader's
//! snapshot, so a page a reader takes from the file is never overwritten under it.
//!
//! The fast path skips all of that: the cache (`PageCache`) tags each version it holds with the
//! snapshots that see it, `from..until` (its commit, and the commit that superseded it, which
//! `publish` records under the state write lock before the new snapshot is visible). A reader
//! whose snapshot falls in that interval takes the pinned frame: no lock, no index search, no
//! copy. A miss looks the version up under the state read lock and loads it into the cache only
//! if it is the newest; an older snapshot's version is read around the cache.
//!
//! Locks: `state` (RwLock) is read-locked by readers on a miss across lookup and read, and write-locked
//! briefly to publish a commit, to apply allocations, and to finish a checkpoint. `writer`
//! (Mutex) owns the log and is held by the open write transaction and by checkpoints, so a
//! checkpoint never sees a transaction's uncommitted allocations. `readers` registers snapshots;
//! taking it around "read the last commit, register" makes a new reader's snapshot and the
//! checkpoint's view of the oldest reader agree.

mod index;
mod prefetch;
mod read;
mod scheduler;
mod snapshots;
mod spill;
mod verify;
mod wakeup;
mod write;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::error::{Error, Result};
use crate::{
    LogIdentity, LogPosition, LogReader, Lsn, Page, PageBuf, PageCache, PageClaims, PageFile,
    PageGuard, PageId, PageLog, PageSize, PagerCounters, RecoveredCommit, Violation,
};
use index::{RootHistory, TouchedPages, VersionIndex};
pub use read::ReadTxn;
pub use scheduler::{CheckpointInputs, CheckpointPolicy, CheckpointWorker};
use snapshots::Snapshots;
use verify::lost_copies;
pub use write::{Savepoint, WriteTxn};

std::thread_local! {
    /// Each thread's buffer for `Pager::stream_at`'s runs (at most `STREAM_RUN_PAGES_MAX` pages).
    static STREAM_RUN: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

/// How a pager behaves.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PagerOptions {
    /// The most changed pages a write transaction keeps in memory; beyond it, they spill to the
    /// log as uncommitted frames.
    pub dirty_pages_max: usize,
    /// Serve reads only: `begin_write`, `checkpoint` and `close_clean` are refused with
    /// [`Error::ReadOnly`], and opening writes nothing. The page file and the log must have
    /// been opened read-only too.
    pub read_only: bool,
    /// Automatic checkpoints (on by default): after every commit the policy is asked, and the
    /// checkpoint runs on the committing thread or on a [`CheckpointWorker`] if one was
    /// started. `None`: only explicit calls to [`Pager::checkpoint`] checkpoint.
    pub checkpoints: Option<CheckpointPolicy>,
    /// Whether a write transaction may write pages it allocated past the file's end straight
    /// to their home location instead of the log (on by default). Off when the log is
    /// archived: point-in-time restore replays the log, so every page image must be in it.
    pub home_writes: bool,
}

impl Default for PagerOptions {
    fn default() -> Self {
        Self {
            dirty_pages_max: crate::limits::DIRTY_PAGES_MAX_DEFAULT,
            read_only: false,
            checkpoints: Some(CheckpointPolicy::default()),
            home_writes: true,
        }
    }
}

/// How far a checkpoint goes (after SQLite's modes).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum CheckpointMode {
    /// Copy every committed version no reader still needs into the data files.
    Passive,
    /// As passive, then restart the log if every committed version is in the data files.
    Full,
    /// As full, and also cut the log file back to its header.
    Truncate,
}

/// What a checkpoint did.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct CheckpointOutcome {
    /// Every commit up to this LSN is now in the data files.
    pub checkpoint_lsn: Lsn,
    /// Page images copied from the log into the data files.
    pub pages_written: u64,
    /// Whether the log restarted (full and truncate modes, when no reader held it back).
    pub log_restarted: bool,
    /// Bytes of the data files given back: a truncating checkpoint that restarts the log also
    /// lowers the page count to just past the highest allocated page, cuts the last segment
    /// file back and removes the segment files past it (`PageFile::shrink`).
    pub bytes_released: u64,
}

/// A consistent picture of the pager, for diagnostics and tests.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PagerStats {
    /// The newest commit; new readers pin it.
    pub last_commit: Lsn,
    /// Every commit up to here is in the data files.
    pub checkpoint_lsn: Lsn,
    /// Bytes of log in use (grows while readers hold back checkpoints).
    pub log_bytes: u64,
    /// Page versions indexed in the log.
    pub log_versions: u64,
    /// Open read transactions.
    pub readers: u64,
    /// The oldest open reader's snapshot.
    pub oldest_reader: Option<Lsn>,
    /// How far the oldest reader lags behind the last commit, in log frames (LSNs); 0 without
    /// readers. While it is above 0, checkpoints cannot pass it and the log grows.
    pub oldest_reader_lag: u64,
    /// Whether the log is past the automatic checkpoints' bound because a reader's snapshot
    /// holds the checkpoint back.
    pub checkpoint_held_back: bool,
    /// The log holds no commit at or before this LSN: the checkpoint at which it last
    /// restarted (or the data files' checkpoint at open).
    pub log_floor: Lsn,
    /// Commits committed since open.
    pub commits: u64,
    /// Checkpoints run since open.
    pub checkpoints: u64,
    /// Pages read into the cache by prefetch since open.
    pub prefetched: u64,
    /// Page ids in use, reserved pages included (the high-water mark).
    pub page_count: u64,
    /// Free pages below the page count.
    pub free_pages: u64,
    /// Segment files (`NAME`, `NAME.seg1`, ...).
    pub segments: u64,
    /// Bytes of the segment files on disk, or `None` if a size could not be read.
    pub file_bytes: Option<u64>,
    /// The page size in bytes.
    pub page_size_bytes: u64,
}

/// What readers and the writer share.
#[derive(Debug)]
pub(crate) struct State {
    pub file: PageFile,
    pub index: VersionIndex,
    pub roots: RootHistory,
    pub checkpoint_lsn: Lsn,
    /// Pages that a commit of the current log generation allocated, freed or has a frame of,
    /// the recovered ones included; emptied when the log restarts. A free page not in it was
    /// free when the log last restarted and has been since: no reader's snapshot holds it, no
    /// state recovery can return to holds it, and the log has no image of it. A write transaction that
    /// allocates such a page may write it to its home location (ADR-14, amended). Bounded
    /// (`TOUCHED_PAGES_MAX`): past it every page counts as touched until the restart.
    pub touched_in_generation: TouchedPages,
}

/// The transactional page store over a page file and a page log.
pub struct Pager<L: PageLog> {
    state: RwLock<State>,
    reader: L::Reader,
    writer: Mutex<L>,
    snapshots: Snapshots,
    poisoned: AtomicBool,
    counters: Arc<PagerCounters>,
    /// The log's size after the last commit or restart.
    log_bytes: AtomicU64,
    options: PagerOptions,
    /// Where committed page versions are cached, if anywhere.
    cache: Option<Arc<dyn PageCache>>,
    /// The prefetch worker's queue, started by the first prefetch.
    prefetcher: Mutex<Option<prefetch::Worker>>,
    /// The page size, fixed at creation (read without the state lock).
    page_size: PageSize,
    /// Automatic checkpoints: the policy, its state, and the worker's wake-up.
    checkpointer: scheduler::Checkpointer,
    /// See [`PagerStats::log_floor`].
    log_floor: AtomicU64,
}

impl<L: PageLog> std::fmt::Debug for Pager<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pager").field("stats", &self.stats()).finish_non_exhaustive()
    }
}

impl<L: PageLog> Pager<L> {
    /// Assembles a pager from an opened page file and log, replaying the commits recovery found
    /// in the log after the file's checkpoint: their allocation deltas and roots are applied to
    /// the file's free-space map (idempotently) and their page images are indexed.
    pub fn open(
        mut file: PageFile,
        log: L,
        recovered: Vec<RecoveredCommit>,
        options: PagerOptions,
    ) -> Result<Self> {
        if options.dirty_pages_max == 0 {
            return Err(Error::InvalidOption("dirty_pages_max must be at least 1".to_owned()));
        }
        if let Some(policy) = &options.checkpoints {
            policy.validate().map_err(Error::InvalidOption)?;
        }
        check_log_identity(&file, &log)?;
        let checkpoint_lsn = file.checkpoint_lsn();
        if log.next_lsn() <= checkpoint_lsn {
            let lsn = log.next_lsn();
            let reason =
                format!("the log continues at {lsn}, before the checkpoint at {checkpoint_lsn}");
            return Err(Error::LogCorrupt { offset: 0, lsn, reason });
        }
        let mut index = VersionIndex::default();
        let mut roots =
            RootHistory::new(checkpoint_lsn, std::array::from_fn(|slot| file.root(slot)));
        let mut last_commit = checkpoint_lsn;
        let mut replayed = 0u64;
        // Every commit of the generation counts, those at or before the checkpoint too: a
        // fallback to the older meta copy of the same generation would replay them.
        let mut touched_in_generation = TouchedPages::default();
        for commit in &recovered {
            let changes = &commit.changes;
            touched_in_generation.extend(changes.allocated.iter().chain(&changes.freed).copied());
            touched_in_generation.extend(commit.pages.iter().map(|&(page_id, _)| page_id));
        }
        for commit in recovered.into_iter().filter(|commit| commit.commit_lsn > checkpoint_lsn) {
            replayed += 1;
            replay(&mut file, &commit)?;
            for &(page_id, position) in &commit.pages {
                index.insert(page_id, commit.commit_lsn, position);
            }
            roots.push(commit.commit_lsn, commit.changes.roots);
            last_commit = commit.commit_lsn;
        }
        // The checkpointed map may already be ahead of a replayed commit (a checkpoint held back
        // by a reader persists the latest allocation state), so only the final roots are
        // checked against it.
        for (slot, root) in roots.latest().into_iter().enumerate() {
            file.set_root(slot, root)?;
        }
        if file.log_closed_empty() && !options.read_only {
            // From now on commits may reach the log: a lost log must no longer look empty.
            file.set_log_closed_empty(false);
            file.sync()?;
        }
        tracing::info!(
            target: "redwood::recovery",
            checkpoint_lsn = checkpoint_lsn.get(),
            last_commit = last_commit.get(),
            commits_replayed = replayed,
            log_versions = index.version_count(),
            "pager opened"
        );
        let page_size = file.page_size();
        let latest_roots = roots.latest();
        let state = State { file, index, roots, checkpoint_lsn, touched_in_generation };
        let log_bytes = AtomicU64::new(log.size_bytes());
        Ok(Pager {
            log_bytes,
            checkpointer: scheduler::Checkpointer::new(options.checkpoints),
            log_floor: AtomicU64::new(checkpoint_lsn.get()),
            options,
            cache: None,
            prefetcher: Mutex::new(None),
            page_size,
            state: RwLock::new(state),
            reader: log.reader(),
            writer: Mutex::new(log),
            snapshots: Snapshots::new(last_commit, latest_roots),
            poisoned: AtomicBool::new(false),
            counters: Arc::default(),
        })
    }

    /// Counts this pager's work in `counters` (by default, counters of its own).
    pub fn with_counters(mut self, counters: Arc<PagerCounters>) -> Self {
        self.counters = counters;
        self
    }

    /// Puts `cache` under every page read (readers and the writer alike).
    pub fn with_cache(mut self, cache: Arc<dyn PageCache>) -> Self {
        self.cache = Some(cache);
        self
    }

    /// Begins a read transaction on the newest committed state. It never blocks the writer and
    /// is never blocked by it; it holds back checkpoints past its snapshot until dropped.
    pub fn begin_read(&self) -> Result<ReadTxn<'_, L>> {
        self.ensure_healthy()?;
        // The snapshot and its roots in one step under the snapshots' lock (not the state lock):
        // the transaction's reads then take no lock of the pager's.
        let (snapshot, roots) = self.snapshots.begin_with_roots();
        Ok(ReadTxn::new(self, snapshot, roots))
    }

    /// The database's page size.
    pub fn page_size(&self) -> PageSize {
        self.page_size
    }

    /// The database's geometry: its page size and segment size, and which pages are reserved.
    pub fn geometry(&self) -> crate::Geometry {
        self.state_read().file.geometry()
    }

    /// Begins the write transaction. There is one writer at a time: this blocks until the open
    /// write transaction (or a running checkpoint) finishes.
    pub fn begin_write(&self) -> Result<WriteTxn<'_, L>> {
        self.ensure_writable()?;
        let mut log = self.writer_lock();
        self.ensure_healthy()?;
        // The bound on the log: checkpointed here, under the same lock as the transaction, so
        // no other commit slips in between and the log exceeds the bound by at most one
        // transaction (the one that crossed it).
        if let Some(policy) = self.checkpointer.policy
            && self.log_bytes.load(Ordering::Relaxed) >= policy.log_bytes_max
        {
            self.enforce_log_bound(&mut log, &policy);
            self.ensure_healthy()?;
        }
        let roots = self.state_read().roots.latest();
        Ok(WriteTxn::new(self, log, roots))
    }

    /// Copies committed page versions from the log into the data files, up to the oldest
    /// reader's snapshot, and makes them durable; with `Full` or `Truncate`, then restarts the
    /// log if nothing in it is still needed. Waits for the open write transaction to finish.
    /// A long-lived reader only makes the log grow; it never sees a wrong page.
    pub fn checkpoint(&self, mode: CheckpointMode) -> Result<CheckpointOutcome> {
        self.ensure_writable()?;
        let mut log = self.writer_lock();
        self.checkpoint_holding(&mut log, mode)
    }

    /// Ships the log as it stands to its archive, if it has one
    /// ([`PageLog::archive_generation`]), without restarting it: after the open write
    /// transaction, with every commit synced first.
    pub fn archive_log(&self) -> Result<()> {
        self.ensure_writable()?;
        let mut log = self.writer_lock();
        log.sync().inspect_err(|error| self.poison(error))?;
        log.archive_generation()
    }

    /// [`Pager::checkpoint`] with the writer lock held by the caller.
    fn checkpoint_holding(
        &self,
        log: &mut MutexGuard<'_, L>,
        mode: CheckpointMode,
    ) -> Result<CheckpointOutcome> {
        if self.options.checkpoints.is_some() {
            // Whatever the outcome, the policy waits its retry interval before the next one.
            self.checkpointer.ran();
        }
        // The checkpoint persists the latest allocation state and copies commits into the data
        // files: none of them may be one the log could still lose.
        log.sync().inspect_err(|error| self.poison(error))?;
        let target = if crate::engine_faults::is_on(
            crate::engine_faults::EngineFault::CheckpointPastReaders,
        ) {
            self.snapshots.last_commit()
        } else {
            self.snapshots.checkpoint_target()
        };
        // A page the data files will not keep (`Corrupt`) leaves the checkpoint unadvanced and
        // the log serving it: report it, the pager goes on. Anything else is an I/O failure.
        let mut mode = mode;
        if mode != CheckpointMode::Passive && target == self.snapshots.last_commit() {
            // The log may restart after this checkpoint: an archived log ships the generation
            // first, and one that cannot be shipped is not restarted (nothing is lost; the log
            // grows until a later checkpoint ships it).
            if let Err(error) = log.archive_generation() {
                self.counters.archive_failures.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    target: "redwood::checkpoint",
                    %error,
                    "the log generation could not be archived; the log is not restarted"
                );
                mode = CheckpointMode::Passive;
            }
        }
        if mode != CheckpointMode::Passive && target == self.snapshots.last_commit() {
            // The log will restart after this checkpoint: its meta write names the generation
            // that follows, so the restart needs no second one.
            self.state_write().file.set_log_identity(log.successor());
        }
        let pages_written = self.copy_to_files(target).inspect_err(|error| {
            if matches!(error, Error::Corrupt { .. }) {
                tracing::warn!(
                    target: "redwood::checkpoint",
                    %error,
                    "checkpoint stopped at a damaged page; the log keeps serving it"
                );
            } else {
                self.poison(error);
            }
        })?;
        let mut state = self.state_write();
        let restart = mode != CheckpointMode::Passive
            && state.checkpoint_lsn == self.snapshots.last_commit()
            && state.index.version_count() == 0;
        let mut bytes_released = 0;
        if restart {
            // Every commit is in the data files and no reader is older than the last one, so no
            // snapshot reads a page that is free now: a truncating checkpoint may cut the free
            // tail off, recorded by the sync below before any file is cut.
            // Asked of the readers themselves, not of `target` (which a deliberate engine fault
            // may push past them): a shrink under an older reader would cut pages it reads.
            let no_older_reader =
                self.snapshots.checkpoint_target() == self.snapshots.last_commit();
            let shrunk = mode == CheckpointMode::Truncate
                && no_older_reader
                && state.file.shrink().inspect_err(|error| self.poison(error))?;
            // The meta data must name the log generation that continues it before the log
            // restarts into it (a no-op sync if it already does).
            state.file.set_log_identity(log.successor());
            state.file.sync().inspect_err(|error| self.poison(error))?;
            log.restart(mode == CheckpointMode::Truncate)
                .inspect_err(|error| self.poison(error))?;
            // No commit of the new generation has touched a page yet.
            state.touched_in_generation.clear();
            self.log_bytes.store(log.size_bytes(), Ordering::Relaxed);
            self.log_floor.store(state.checkpoint_lsn.get(), Ordering::Release);
            if shrunk || (mode == CheckpointMode::Truncate && no_older_reader) {
                // Also after a shrink whose cut a crash (or a failed removal) left undone: the
                // count is already at the mark then, and only the files are long.
                bytes_released = state
                    .file
                    .release_tail()
                    .inspect_err(|error| self.poison(error))?
                    .bytes_released;
            }
        }
        self.counters.checkpoints.fetch_add(1, Ordering::Relaxed);
        self.counters.pages_checkpointed.fetch_add(pages_written, Ordering::Relaxed);
        tracing::info!(
            target: "redwood::checkpoint",
            mode = ?mode,
            checkpoint_lsn = state.checkpoint_lsn.get(),
            pages_written,
            log_restarted = restart,
            "checkpoint"
        );
        Ok(CheckpointOutcome {
            checkpoint_lsn: state.checkpoint_lsn,
            pages_written,
            log_restarted: restart,
            bytes_released,
        })
    }

    /// Writes each page's newest version at or before `target` into the data files (readers go
    /// on meanwhile), then syncs them with the latest allocation state and roots, and forgets
    /// the copied versions.
    fn copy_to_files(&self, target: Lsn) -> Result<u64> {
        let plan = {
            let state = self.state_read();
            if target <= state.checkpoint_lsn {
                return Ok(0);
            }
            state.index.plan(target)
        };
        let batch = crate::limits::CHECKPOINT_BATCH_PAGES;
        let mut pages: Vec<PageBuf> = Vec::new();
        for chunk in plan.chunks(batch) {
            pages.resize_with(chunk.len(), || PageBuf::for_overwrite(self.page_size));
            let positions: Vec<LogPosition> = chunk.iter().map(|&(_, position)| position).collect();
            self.reader.read_pages(&positions, &mut pages)?;
            // The plan is in page order, so runs of consecutive pages go out as one write.
            self.state_read().file.write_pages(&pages)?;
        }
        // First make the copied pages durable and prove the data files hold them; only then
        // does the meta data (and with it recovery and every reader) trust the files up to
        // `target`. The long part, the pages' `fdatasync` and reading them back, runs under
        // the read lock: readers go on (the writer lock, held throughout, keeps every writer
        // out, so nothing else writes the files meanwhile).
        let lost = {
            let state = self.state_read();
            state.file.sync_pages()?;
            lost_copies(&state, &plan)
        };
        let mut state = self.state_write();
        state.file.sync()?;
        self.repair_lost(&mut state, &lost)?;
        let latest = state.roots.latest();
        for (slot, root) in latest.into_iter().enumerate() {
            state.file.set_root(slot, root)?;
        }
        state.file.set_checkpoint_lsn(target);
        state.file.sync()?;
        state.checkpoint_lsn = target;
        // The cache needs no invalidation: it holds page versions, not file contents, and the
        // data files now hold the same bytes as the log versions copied.
        state.index.prune(target);
        state.roots.prune(target);
        Ok(plan.len() as u64)
    }

    /// The page count a truncating checkpoint's shrink would leave now: just past the highest
    /// allocated page (`PageFile::shrink`). Against the allocated pages it tells how much a
    /// compaction could give back.
    pub fn shrunk_page_count(&self) -> u64 {
        self.state_read().file.shrunk_page_count()
    }

    /// A consistent picture of the pager.
    pub fn stats(&self) -> PagerStats {
        let (readers, oldest_reader) = self.snapshots.readers();
        let last_commit = self.snapshots.last_commit();
        let state = self.state_read();
        PagerStats {
            last_commit,
            checkpoint_lsn: state.checkpoint_lsn,
            log_bytes: self.log_bytes.load(Ordering::Relaxed),
            log_versions: state.index.version_count() as u64,
            readers,
            oldest_reader,
            oldest_reader_lag: oldest_reader.map_or(0, |oldest| last_commit.get() - oldest.get()),
            checkpoint_held_back: self.options.checkpoints.is_some_and(|policy| {
                self.log_bytes.load(Ordering::Relaxed) >= policy.log_bytes_max
                    && self.snapshots.checkpoint_target() < last_commit
            }),
            log_floor: Lsn::new(self.log_floor.load(Ordering::Acquire)),
            commits: self.counters.commits.load(Ordering::Relaxed),
            checkpoints: self.counters.checkpoints.load(Ordering::Relaxed),
            prefetched: self.counters.prefetched.load(Ordering::Relaxed),
            page_count: state.file.page_count(),
            free_pages: state.file.free_page_count(),
            segments: state.file.segment_count(),
            file_bytes: state.file.file_bytes(),
            page_size_bytes: state.file.page_size().bytes() as u64,
        }
    }

    /// The counters of this pager.
    pub fn counters(&self) -> &Arc<PagerCounters> {
        &self.counters
    }

    /// Whether an earlier failure poisoned this pager; reopen to recover.
    pub fn is_poisoned(&self) -> bool {
        self.poisoned.load(Ordering::Acquire)
    }

    /// Checks the page file against `claims` (see [`PageFile::check_invariants`]) and the log
    /// index against the commit and checkpoint positions. Waits for the open write transaction.
    pub fn check_invariants(&self, claims: &PageClaims) -> Result<()> {
        let _writer = self.writer_lock();
        let state = self.state_read();
        let mut violations = match state.file.check_invariants(claims) {
            Ok(()) => Vec::new(),
            Err(Error::InvariantViolation { violations }) => violations,
            Err(error) => return Err(error),
        };
        if let Some((oldest, newest)) = state.index.lsn_range() {
            let last_commit = self.snapshots.last_commit();
            if oldest <= state.checkpoint_lsn || newest > last_commit {
                let message = format!(
                    "log versions {oldest}..={newest} outside the checkpoint {} and last commit \
                     {last_commit}",
                    state.checkpoint_lsn
                );
                violations.push(Violation::new(None, message));
            }
        }
        if violations.is_empty() { Ok(()) } else { Err(Error::InvariantViolation { violations }) }
    }

    /// The pages allocated in the newest state, the pager's reserved pages (meta data and
    /// free-space maps) excluded, in ascending order: what a scrub reads to find every damaged
    /// page. Waits for the open write transaction.
    pub fn allocated_pages(&self) -> Vec<PageId> {
        let _writer = self.writer_lock();
        self.allocated_now()
    }

    /// A read snapshot of the newest commit together with the pages allocated in it (reserved
    /// pages excluded, ascending), taken under the writer's lock so that no write transaction
    /// is open between the two (a transaction allocates in the file's map before it commits):
    /// every page the snapshot's structure reaches is in the list, and every page in the list
    /// reads at the snapshot. What a physical backup copies. Waits for the open write
    /// transaction.
    pub fn begin_read_with_allocated(&self) -> Result<(ReadTxn<'_, L>, Vec<PageId>)> {
        let _writer = self.writer_lock();
        let read = self.begin_read()?;
        let pages = self.allocated_now();
        debug_assert!(pages.windows(2).all(|pair| pair[0] < pair[1]));
        Ok((read, pages))
    }

    /// The allocated user pages of the file's map now (the caller holds the writer's lock).
    fn allocated_now(&self) -> Vec<PageId> {
        let state = self.state_read();
        let geometry = state.file.geometry();
        (0..state.file.page_count())
            .map(PageId::new)
            .filter(|&page_id| !geometry.is_reserved(page_id) && state.file.is_allocated(page_id))
            .collect()
    }

    /// The newest commit.
    pub fn last_commit(&self) -> Lsn {
        self.snapshots.last_commit()
    }

    /// The version of `page_id` visible at `snapshot`. The fast path is a cache hit: the cache
    /// tags each version with the snapshots that see it, so no lock is taken and the version
    /// index is not searched. A miss looks the version up under the state lock and loads it
    /// into the cache if it is the newest (older snapshots' versions are read around it).
    fn read_at(&self, snapshot: Lsn, page_id: PageId) -> Result<PageGuard<'_>> {
        self.ensure_healthy()?;
        if let Some(cache) = &self.cache
            && let Some(page) = cache.get(page_id, snapshot)
        {
            return Ok(page);
        }
        let state = self.state_read();
        let version = state.index.version_at(page_id, snapshot);
        let mut load = |buffer: &mut Page| match version.position {
            Some(position) => {
                self.reader.read_page(position, buffer)?;
                if buffer.page_id() != page_id {
                    let reason =
                        format!("the log frame at {} holds {}", position.lsn, buffer.page_id());
                    return Err(Error::Corrupt { page_id, reason });
                }
                Ok(())
            }
            None => state.file.read_page(page_id, buffer),
        };
        let cached = match &self.cache {
            // Only the newest version is cached: every later snapshot reads it too.
            Some(cache) if version.until == Lsn::MAX => {
                cache.load(page_id, version.from, &mut load)
            }
            _ => Ok(None),
        };
        let result = cached.and_then(|cached| match cached {
            Some(page) => Ok(page),
            None => {
                let mut page = PageBuf::for_overwrite(self.page_size);
                load(&mut page).map(|()| PageGuard::owned(page))
            }
        });
        result.inspect_err(|error| {
            if error.is_corruption() {
                tracing::error!(
                    target: "redwood::corruption",
                    page_id = error.page_id().map(PageId::get),
                    snapshot = snapshot.get(),
                    %error,
                    "damaged page"
                );
            }
        })
    }

    /// `PageRead::stream_pages` for `snapshot`: a page the cache holds comes from it; runs of
    /// consecutive pages whose version is the data file's (none in the log for this snapshot),
    /// each within one segment, up to `STREAM_RUN_PAGES_MAX` pages in all, are read with one
    /// batched read (`PageFile::read_runs`) into a buffer of this thread's, not into the cache;
    /// any other page is read as `read_at` reads it. The state lock is held over each batch's
    /// read, as `read_at` holds it over a page's, so no checkpoint rewrites it meanwhile.
    fn stream_at(
        &self,
        snapshot: Lsn,
        page_ids: &[PageId],
        visit: &mut dyn FnMut(&Page) -> bool,
    ) -> Result<()> {
        self.ensure_healthy()?;
        let page_bytes = self.page_size.bytes();
        // The thread's run buffer, taken for this call (a nested call would get an empty one):
        // zeroed once, not on every window (that memset was 6% of the large_reads profile).
        let mut run = STREAM_RUN.take();
        let result = self.stream_runs(snapshot, page_ids, visit, page_bytes, &mut run);
        STREAM_RUN.set(run);
        result
    }

    fn stream_runs(
        &self,
        snapshot: Lsn,
        page_ids: &[PageId],
        visit: &mut dyn FnMut(&Page) -> bool,
        page_bytes: usize,
        run: &mut Vec<u8>,
    ) -> Result<()> {
        let runs = &mut Vec::new();
        let mut index = 0;
        while index < page_ids.len() {
            let first = page_ids[index];
            if let Some(page) = self.cache.as_ref().and_then(|cache| cache.get(first, snapshot)) {
                if !visit(&page) {
                    return Ok(());
                }
                index += 1;
                continue;
            }
            let state = self.state_read();
            let in_file = |page_id| state.index.version_at(page_id, snapshot).position.is_none();
            if !in_file(first) {
                drop(state);
                if !visit(&self.read_at(snapshot, first)?) {
                    return Ok(());
                }
                index += 1;
                continue;
            }
            let geometry = state.file.geometry();
            // Runs of consecutive pages, up to `STREAM_RUN_PAGES_MAX` pages in all, read with
            // one batched read; a later run starts only at a page the cache does not hold
            // (which the next round serves) and whose version is the file's.
            runs.clear();
            let mut end = index;
            let mut total = 0;
            while end < page_ids.len() && total < crate::limits::STREAM_RUN_PAGES_MAX {
                let start = page_ids[end];
                let cached = || {
                    self.cache.as_ref().is_some_and(|cache| cache.get(start, snapshot).is_some())
                };
                if end > index && (!in_file(start) || cached()) {
                    break;
                }
                let mut count = 1;
                while end + count < page_ids.len()
                    && total + count < crate::limits::STREAM_RUN_PAGES_MAX
                    && start.get().checked_add(count as u64) == Some(page_ids[end + count].get())
                    && geometry.segment_of(page_ids[end + count]) == geometry.segment_of(start)
                    && in_file(page_ids[end + count])
                {
                    count += 1;
                }
                runs.push((start, count));
                total += count;
                end += count;
            }
            let run_bytes = total * page_bytes;
            if run.len() < run_bytes {
                run.resize(run_bytes, 0);
            }
            state.file.read_runs(runs, &mut run[..run_bytes])?;
            drop(state);
            for bytes in run[..run_bytes].chunks_exact(page_bytes) {
                if !visit(Page::from_bytes(bytes).expect("a chunk of the page size is a page")) {
                    return Ok(());
                }
            }
            debug_assert!(end > index);
            index = end;
        }
        Ok(())
    }

    fn release_reader(&self, snapshot: Lsn) {
        self.snapshots.end(snapshot);
    }

    fn ensure_healthy(&self) -> Result<()> {
        if self.is_poisoned() { Err(Error::Poisoned) } else { Ok(()) }
    }

    fn ensure_writable(&self) -> Result<()> {
        self.ensure_healthy()?;
        if self.options.read_only { Err(Error::ReadOnly) } else { Ok(()) }
    }

    /// Whether this pager serves reads only.
    pub fn is_read_only(&self) -> bool {
        self.options.read_only
    }

    /// Records a clean close when nothing would be lost without the log: if every commit is in
    /// the data files, the meta data is rewritten to say the log held no commit past the
    /// checkpoint, so a missing log may later be recreated (the next writable open clears the
    /// mark before any commit). Returns whether it did; `Ok(false)` while the log still holds
    /// commits, or when read-only. Waits for the open write transaction.
    pub fn close_clean(&self) -> Result<bool> {
        if self.options.read_only {
            return Ok(false);
        }
        self.ensure_healthy()?;
        let _log = self.writer_lock();
        let mut state = self.state_write();
        if state.checkpoint_lsn != self.snapshots.last_commit() || state.index.version_count() != 0
        {
            return Ok(false);
        }
        state.file.set_log_closed_empty(true);
        state.file.sync().inspect_err(|error| self.poison(error))?;
        Ok(true)
    }

    /// Poisons the pager after `error`, which left the files in a state this handle can no
    /// longer vouch for (a failed fsync, say): every later operation is `Error::Poisoned`.
    fn poison(&self, error: &Error) {
        if !self.poisoned.swap(true, Ordering::AcqRel) {
            tracing::error!(
                target: "redwood::poisoned",
                %error,
                "the database is poisoned; reopen it to recover"
            );
        }
    }

    fn state_read(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn state_write(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn writer_lock(&self) -> MutexGuard<'_, L> {
        self.writer.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Applies a recovered commit's allocation changes to the page file, idempotently: absolute bit
/// settings, so a commit the checkpointed map already reflects changes nothing. Roots are set
/// once, after the last commit (see `Pager::open`).
fn replay(file: &mut PageFile, commit: &RecoveredCommit) -> Result<()> {
    let changes = &commit.changes;
    file.ensure_page_count(changes.page_count)?;
    for &page_id in &changes.allocated {
        file.set_allocation(page_id, true)?;
    }
    for &page_id in &changes.freed {
        file.set_allocation(page_id, false)?;
    }
    Ok(())
}

/// The log must be the one the files' meta data names, or its predecessor (a restart was due
/// but did not happen). Any other is refused, before anything is replayed: if the other meta
/// copy is damaged, the one in use is stale (it is from an earlier checkpoint) and replaying a
/// later log over it would silently roll allocation state and roots back (`Corrupt`, naming the
/// damaged copy); otherwise the log is another database's or another history's
/// (`LogMismatch`). Meta data that records no identity (files from before identities were
/// recorded) accepts any log.
fn check_log_identity<L: PageLog>(file: &PageFile, log: &L) -> Result<()> {
    let recorded = file.log_identity();
    let found = log.identity();
    // A salt of 0 was never recorded (files from before salts were): generations only.
    let same = |identity: LogIdentity| match recorded.salt {
        0 => identity.generation == recorded.generation,
        _ => identity == recorded,
    };
    if !recorded.is_recorded() || same(found) || same(log.successor()) {
        return Ok(());
    }
    if file.other_meta_copy_damaged() {
        let damaged = PageId::new(1 - file.generation() % 2);
        let reason = format!(
            "the meta copy in use expects log {recorded}, but the log is {found}: the newest \
             meta copy is damaged"
        );
        return Err(Error::Corrupt { page_id: damaged, reason });
    }
    let reason = format!(
        "the meta data names log {recorded}, but the log is {found}: a log of another history \
         of this database, or an older or newer copy"
    );
    Err(Error::LogMismatch { path: file.path().to_path_buf(), reason })
}
