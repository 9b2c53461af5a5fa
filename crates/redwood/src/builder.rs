//! `Builder`: the options for opening a database, and the assembly of page file, write-ahead
//! log, buffer pool and pager behind a `Database`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use redwood_btree::TreeObserver;
use redwood_bufpool::{BufferPool, PoolOptions};
use redwood_pager::io::{MemVfs, Vfs};
use redwood_pager::{
    CheckpointPolicy, Durability, Lsn, PageFile, PageFileOptions, PageSize, Pager, PagerOptions,
};
use redwood_telemetry::{AlertMonitor, DiagnosticsConfig, PageFileCounters, PagerCounters};
use redwood_wal::{MissingLog, Wal, WalOptions};

use crate::database::Database;
use crate::error::{Error, Result};
use crate::observers::TreeObservers;
use crate::triggers::{TableTrigger, TableTriggers};

/// How to open a database.
///
/// ```
/// use redwood::{Database, Durability};
///
/// let db = Database::builder()
///     .cache_bytes(1 << 20)
///     .durability(Durability::None)
///     .checkpoint_table_after("events", 1024)
///     .in_memory()?;
/// let write = db.begin_write()?;
/// write.open_table("events")?.insert(b"e1", b"started")?;
/// write.commit()?;
/// assert_eq!(db.begin_read()?.list_tables()?, ["events"]);
/// # Ok::<(), redwood::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Builder {
    cache_bytes: u64,
    page_size: PageSize,
    segment_pages: u64,
    /// Which of the file's geometry options the caller set: an existing file must agree.
    geometry_set: (bool, bool),
    dirty_pages_max: Option<usize>,
    durability: Durability,
    triggers: TableTriggers,
    auto_checkpoint: AutoCheckpoint,
    checkpoint_policy: CheckpointPolicy,
    prefetch: bool,
    diagnostics: DiagnosticsConfig,
    read_only: bool,
    discard_missing_log: bool,
    salvage: bool,
    tree_observers: TreeObservers,
    archive: Option<crate::archive::ArchiveTarget>,
}

impl Default for Builder {
    fn default() -> Self {
        Self {
            cache_bytes: default_cache_bytes(),
            page_size: PageSize::DEFAULT,
            segment_pages: redwood_pager::limits::SEGMENT_PAGES_DEFAULT,
            geometry_set: (false, false),
            dirty_pages_max: None,
            durability: Durability::Immediate,
            triggers: TableTriggers::default(),
            auto_checkpoint: AutoCheckpoint::Background,
            checkpoint_policy: CheckpointPolicy::default(),
            prefetch: false,
            diagnostics: DiagnosticsConfig::default(),
            read_only: false,
            discard_missing_log: false,
            salvage: false,
            tree_observers: TreeObservers::default(),
            archive: None,
        }
    }
}

/// A write transaction keeps in memory up to `(n - 1) / n` of the cache budget's pages by
/// default (three quarters): the cache keeps the rest for the pages the transaction reads.
const DIRTY_SHARE_DIVISOR: usize = 4;

/// Where automatic checkpoints run (see [`Builder::auto_checkpoint`]).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum AutoCheckpoint {
    /// On a background thread of the database's own (the default): a commit that takes the
    /// log past the policy's target only wakes it. A commit that finds the log past the
    /// policy's bound still checkpoints on its own thread, so the log stays bounded however
    /// fast commits come.
    #[default]
    Background,
    /// On the committing thread, right after a commit that the policy finds due (as SQLite's
    /// automatic checkpoints do): no thread of its own, and the order of every disk access is
    /// the order of the application's calls (what a deterministic simulation needs).
    OnCommit,
    /// Never: only [`Database::checkpoint`] copies commits into the data files, and the log
    /// grows until it is called.
    Off,
}

/// The default cache budget: an eighth of physical memory, at least 64 MiB and at most
/// 512 MiB (64 MiB where physical memory cannot be read).
///
/// Why: the pool's memory is touched only as pages are cached, so a small database costs what
/// it holds whatever the budget; the budget decides when a large one starts reading from the
/// OS. 64 MiB made a 260 MiB database (1M keys of 24 bytes with 150-byte values) miss on most
/// lookups; redb's 1 GiB default is the RSS its users complain of. 512 MiB holds that database
/// whole and stays an eighth of a 4 GiB machine's memory.
pub fn default_cache_bytes() -> u64 {
    const MIN: u64 = 64 << 20;
    const MAX: u64 = 512 << 20;
    redwood_telemetry::physical_memory_bytes().map_or(MIN, |bytes| (bytes / 8).clamp(MIN, MAX))
}

impl Builder {
    /// Bytes of page cache at most; memory is taken only as pages are cached, so the budget is
    /// a ceiling, not a reservation. The default is an eighth of the machine's physical memory,
    /// from 64 MiB to 512 MiB ([`default_cache_bytes`]).
    ///
    /// ```
    /// use redwood::{Database, Error};
    ///
    /// let db = Database::builder().cache_bytes(1 << 20).in_memory()?;
    /// db.check_integrity()?;
    /// // The budget must hold a minimum number of pages.
    /// let too_small = Database::builder().cache_bytes(4096).in_memory();
    /// assert!(matches!(too_small, Err(Error::Cache(_))));
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn cache_bytes(mut self, bytes: u64) -> Self {
        self.cache_bytes = bytes;
        self
    }

    /// The page size of a new database (default 4 KiB; ignored when opening one).
    ///
    /// ```
    /// use redwood::Database;
    /// use redwood_pager::PageSize; // not re-exported by `redwood`
    ///
    /// let key = [7u8; 1000]; // a leaf holds keys of up to an eighth of a page whole
    /// let large = Database::builder().page_size(PageSize::new(8192)?).in_memory()?;
    /// let write = large.begin_write()?;
    /// assert!(!write.open_table("t")?.insert(&key, b"v")?);
    ///
    /// let small = Database::in_memory()?; // 4 KiB pages: past 512 bytes, the tail overflows
    /// let write = small.begin_write()?;
    /// assert!(!write.open_table("t")?.insert(&key, b"v")?);
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn page_size(mut self, page_size: PageSize) -> Self {
        self.page_size = page_size;
        self.geometry_set.0 = true;
        self
    }

    /// Pages per segment file of a new database (ignored when opening one).
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("app.redwood");
    /// let db = redwood::Database::builder().segment_pages(8).create(&path)?;
    /// let write = db.begin_write()?;
    /// let mut table = write.open_table("t")?;
    /// for i in 0u32..200 {
    ///     table.insert(&i.to_be_bytes(), &[0; 100])?;
    /// }
    /// write.commit()?;
    /// db.checkpoint(redwood::CheckpointMode::Full)?;
    /// assert!(dir.path().join("app.redwood.seg1").exists()); // outgrew segment 0
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn segment_pages(mut self, pages: u64) -> Self {
        self.segment_pages = pages;
        self.geometry_set.1 = true;
        self
    }

    /// How many changed pages a write transaction keeps in memory before it writes the coldest
    /// quarter of them out: new pages to their home location in the data files, others to the
    /// log. The default is three quarters of the cache budget's pages, and the cache gives up
    /// the memory they take while the transaction holds them, so the two stay within the
    /// budget together.
    ///
    /// ```
    /// let db = redwood::Database::builder().dirty_pages_max(4).in_memory()?;
    /// let write = db.begin_write()?;
    /// let mut table = write.open_table("t")?;
    /// for i in 0u32..500 {
    ///     table.insert(&i.to_be_bytes(), &[0; 100])?;
    /// }
    /// drop(table);
    /// write.commit()?;
    /// let frames = db.log_stats().frames;
    /// let write = db.begin_write()?;
    /// let mut table = write.open_table("t")?;
    /// for i in 0u32..500 {
    ///     table.insert(&i.to_be_bytes(), &[1; 100])?; // changes pages that exist
    /// }
    /// // More than 4 pages changed: the transaction spilled some to the log before committing.
    /// assert!(db.log_stats().frames > frames);
    /// drop(table);
    /// write.commit()?;
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn dirty_pages_max(mut self, pages: usize) -> Self {
        self.dirty_pages_max = Some(pages);
        self
    }

    /// The durability of commits unless a transaction says otherwise (default `Immediate`).
    ///
    /// ```
    /// use redwood::{Database, Durability};
    ///
    /// let db = Database::builder().durability(Durability::None).in_memory()?;
    /// let syncs = db.log_stats().syncs;
    /// let write = db.begin_write()?;
    /// write.open_table("t")?.insert(b"k", b"v")?;
    /// write.commit()?;
    /// assert_eq!(db.log_stats().commits, 1);
    /// assert_eq!(db.log_stats().syncs, syncs); // committed, but not synced
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// Whether scans and large-value reads prefetch pages on a background thread (default
    /// off). Off, every read happens on the caller's thread, in order: what a deterministic
    /// simulation (the crash harness) needs, and, as measured (`docs/DECISIONS.md` ADR-8), the
    /// faster choice while pages come from the OS page cache or a fast device. On, scans hint
    /// each next leaf and overflow chains read up to 16 pages ahead.
    ///
    /// ```
    /// let db = redwood::Database::builder().prefetch(true).in_memory()?;
    /// let write = db.begin_write()?;
    /// write.open_table("t")?.insert(b"large", &vec![1u8; 1 << 20])?;
    /// write.commit()?;
    /// assert_eq!(db.begin_read()?.open_table("t")?.get(b"large")?.map(|v| v.len()), Some(1 << 20));
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn prefetch(mut self, on: bool) -> Self {
        self.prefetch = on;
        self
    }

    /// Where automatic checkpoints run (default [`AutoCheckpoint::Background`]), or `Off`.
    ///
    /// ```
    /// use redwood::{AutoCheckpoint, CheckpointPolicy};
    ///
    /// let policy = CheckpointPolicy { log_bytes_target: 64 << 10, ..CheckpointPolicy::default() };
    /// let db = redwood::Database::builder()
    ///     .auto_checkpoint(AutoCheckpoint::OnCommit)
    ///     .checkpoint_policy(policy)
    ///     .in_memory()?;
    /// for i in 0u32..100 {
    ///     let write = db.begin_write()?;
    ///     write.open_table("t")?.insert(&i.to_be_bytes(), &[7; 500])?;
    ///     write.commit()?;
    /// }
    /// assert!(db.stats().checkpoints > 0);
    /// assert!(db.stats().log_bytes < policy.log_bytes_target + (64 << 10));
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn auto_checkpoint(mut self, mode: AutoCheckpoint) -> Self {
        self.auto_checkpoint = mode;
        self
    }

    /// When automatic checkpoints run: the log's target and bound, page versions, interval
    /// (see [`CheckpointPolicy`] for the defaults and why).
    pub fn checkpoint_policy(mut self, policy: CheckpointPolicy) -> Self {
        self.checkpoint_policy = policy;
        self
    }

    /// Asks for a checkpoint after a commit once `table` has changed `changed_pages_max`
    /// pages since the last one (R1): one more trigger of the automatic checkpoints, so it
    /// runs where they run (see [`Builder::auto_checkpoint`]; with `Off` the builder refuses
    /// it).
    ///
    /// ```
    /// use redwood::AutoCheckpoint;
    ///
    /// let db = redwood::Database::builder()
    ///     .auto_checkpoint(AutoCheckpoint::OnCommit)
    ///     .checkpoint_table_after("hot", 1)
    ///     .in_memory()?;
    /// let write = db.begin_write()?;
    /// write.open_table("hot")?;
    /// write.open_table("cold")?;
    /// write.commit()?;
    /// for (table, checkpoints) in [("cold", 0), ("hot", 1)] {
    ///     let write = db.begin_write()?;
    ///     write.open_table(table)?.insert(b"k", b"v")?;
    ///     write.commit()?; // checkpoints once "hot" has changed a page
    ///     assert_eq!(db.stats().checkpoints, checkpoints);
    /// }
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn checkpoint_table_after(mut self, table: &str, changed_pages_max: u64) -> Self {
        self.triggers.add(TableTrigger { table: table.to_owned(), changed_pages_max });
        self
    }

    /// Alert thresholds and their callback (R4): see [`DiagnosticsConfig`]. With a
    /// `sample_interval`, a background thread checks them; otherwise
    /// `Database::check_alerts` does, when called.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use std::time::Duration;
    /// use redwood::{AlertKind, AlertState, DiagnosticsConfig};
    ///
    /// let (sender, alerts) = std::sync::mpsc::channel();
    /// let sender = Mutex::new(sender);
    /// let config = DiagnosticsConfig::default()
    ///     .wal_bytes_max(1) // any commit crosses it
    ///     .sample_every(Duration::from_millis(10))
    ///     .on_alert(move |alert| sender.lock().unwrap().send((alert.kind, alert.state)).unwrap());
    /// let db = redwood::Database::builder().diagnostics(config).in_memory()?;
    /// let write = db.begin_write()?;
    /// write.open_table("t")?.insert(b"k", b"v")?;
    /// write.commit()?;
    /// let first = alerts.recv_timeout(Duration::from_secs(30)).expect("the sampler noticed");
    /// assert_eq!(first, (AlertKind::WalBytes, AlertState::Raised));
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn diagnostics(mut self, config: DiagnosticsConfig) -> Self {
        self.diagnostics = config;
        self
    }

    /// Open without ever changing a file (default off): every file is opened read-only,
    /// recovery runs in memory (a damaged log tail is reported in
    /// [`Database::recovery_report`], not cut off), and write transactions and checkpoints
    /// fail with `StorageError::ReadOnly`. A database that does not exist is not created.
    /// What `redwood check` and the other read-only commands use.
    pub fn read_only(mut self, on: bool) -> Self {
        self.read_only = on;
        self
    }

    /// Open even if the write-ahead log is missing or emptied (default off). Without it such
    /// an open fails with `StorageError::LogMissing` and changes nothing, unless the meta
    /// data shows the log was empty at a clean close ([`Database::close`]). With it, a new
    /// log is started after the last checkpoint: every commit only the lost log held is gone,
    /// and [`Database::recovery_report`] says what was missing. A log that is present but
    /// belongs elsewhere (`StorageError::LogMismatch`) is never overridden: move it aside
    /// first.
    pub fn discard_missing_log(mut self, on: bool) -> Self {
        self.discard_missing_log = on;
        self
    }

    /// Open a damaged database to read what can still be read (default off; implies
    /// `read_only`): damage that would refuse a normal open is gone past and reported in
    /// [`Database::recovery_report`] instead: a damaged free-space map (every page then
    /// counts as in use), missing or short segment files, a missing log, and synced log frames
    /// damaged after the fact (the frames after them still count; a damaged page version fails
    /// to read rather than showing an older one). `redwood::recover` builds on it.
    pub fn salvage(mut self, on: bool) -> Self {
        self.salvage = on;
        self
    }

    /// Reports the structural events of table `table` (splits, merges, redistributions, root
    /// growth and shrinkage) to `observer`, on the writer's thread, as each insert or remove
    /// makes them (before the transaction commits: an aborted transaction's events were seen
    /// too). One observer per table name; a second call for the same name replaces the first.
    /// The observer follows the name: after a rename it hears the table now called `table`.
    /// It must be quick and must not call into the database (see [`TreeObserver`]).
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use redwood::{TreeEvent, TreeObserver};
    ///
    /// #[derive(Default)]
    /// struct Splits(Mutex<u32>);
    /// impl TreeObserver for Splits {
    ///     fn on_event(&self, event: TreeEvent) {
    ///         if let TreeEvent::Split { .. } = event {
    ///             *self.0.lock().unwrap() += 1;
    ///         }
    ///     }
    /// }
    ///
    /// let splits = Arc::new(Splits::default());
    /// let db = redwood::Database::builder().tree_observer("t", splits.clone()).in_memory()?;
    /// let write = db.begin_write()?;
    /// let mut table = write.open_table("t")?;
    /// for i in 0u32..1000 {
    ///     table.insert(&i.to_be_bytes(), &[0; 100])?;
    /// }
    /// drop(table);
    /// write.commit()?;
    /// assert!(*splits.0.lock().unwrap() > 0);
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn tree_observer(mut self, table: &str, observer: Arc<dyn TreeObserver>) -> Self {
        self.tree_observers.add(table, observer);
        self
    }

    /// Archives the log at `target` (off by default): before a checkpoint restarts the log,
    /// the generation it closes is shipped there whole, with a manifest of its commits, their
    /// times and restore points. Restore points then outlive checkpoints
    /// ([`Database::restore_points`]), and [`crate::restore`] can rebuild the database as it
    /// was at any commit since archiving began. With an archive every page image goes through
    /// the log (none straight to the data files), so large loads write more.
    ///
    /// A generation that cannot be shipped (the target is full or away) is not lost: the log is
    /// not restarted and grows (diagnostics count `archive_failures`, and the log-size alert
    /// fires) until a later checkpoint ships it. See [`crate::ArchiveTarget`] for an example.
    pub fn archive(mut self, target: crate::archive::ArchiveTarget) -> Self {
        self.archive = Some(target);
        self
    }

    /// Opens the database at `path`, creating it if it does not exist.
    ///
    /// ```
    /// use redwood::Database;
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("app.redwood");
    /// let db = Database::builder().cache_bytes(1 << 20).create(&path)?;
    /// let write = db.begin_write()?;
    /// write.open_table("t")?.insert(b"k", b"v")?;
    /// write.commit()?;
    /// drop(db);
    /// let db = Database::builder().create(&path)?; // it exists now: opened, not replaced
    /// assert_eq!(db.begin_read()?.open_table("t")?.get(b"k")?.as_deref(), Some(&b"v"[..]));
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn create(self, path: impl AsRef<Path>) -> Result<Database> {
        self.create_in(redwood_pager::io::best_vfs(), path)
    }

    /// Opens the existing database at `path`.
    ///
    /// ```
    /// use redwood::{Database, Error};
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("app.redwood");
    /// let missing = Database::builder().open(&path);
    /// assert!(matches!(missing, Err(Error::Storage(_))));
    ///
    /// Database::create(&path)?;
    /// let db = Database::builder().cache_bytes(1 << 20).open(&path)?;
    /// assert!(db.begin_read()?.list_tables()?.is_empty());
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn open(self, path: impl AsRef<Path>) -> Result<Database> {
        self.assemble(redwood_pager::io::best_vfs(), path.as_ref(), false)
    }

    /// Opens the database at `path` in `vfs` (creating it if absent): for the simulated disk of
    /// the crash harness, or any other `Vfs`.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use redwood_pager::io::{MemVfs, Vfs}; // not re-exported by `redwood`
    ///
    /// let vfs: Arc<dyn Vfs> = Arc::new(MemVfs::new());
    /// let db = redwood::Database::builder().create_in(Arc::clone(&vfs), "app.redwood")?;
    /// let write = db.begin_write()?;
    /// write.open_table("t")?.insert(b"k", b"v")?;
    /// write.commit()?;
    /// drop(db);
    /// let db = redwood::Database::builder().create_in(vfs, "app.redwood")?; // reopened
    /// assert_eq!(db.begin_read()?.open_table("t")?.get(b"k")?.as_deref(), Some(&b"v"[..]));
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn create_in(self, vfs: Arc<dyn Vfs>, path: impl AsRef<Path>) -> Result<Database> {
        let exists = vfs.exists(path.as_ref()).map_err(|error| redwood_pager::Error::Io {
            operation: "exists",
            path: path.as_ref().to_path_buf(),
            source: error,
        })?;
        self.assemble(vfs, path.as_ref(), !exists)
    }

    /// A database held in memory only (Redwood-Lite): everything works, nothing persists.
    ///
    /// ```
    /// let db = redwood::Database::builder().cache_bytes(1 << 20).in_memory()?;
    /// let write = db.begin_write()?;
    /// write.open_table("t")?.insert(b"k", b"v")?;
    /// write.commit()?;
    /// assert_eq!(db.begin_read()?.open_table("t")?.get(b"k")?.as_deref(), Some(&b"v"[..]));
    ///
    /// // Each in-memory database is a new, empty one.
    /// let other = redwood::Database::builder().in_memory()?;
    /// assert!(other.begin_read()?.list_tables()?.is_empty());
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn in_memory(self) -> Result<Database> {
        self.assemble(Arc::new(MemVfs::new()), Path::new("memory.redwood"), true)
    }

    /// Opens (or creates) the page file and then the log beside it, with recovery.
    fn open_files(
        &self,
        vfs: &Arc<dyn Vfs>,
        path: &Path,
        create: bool,
        counters: (&Arc<PageFileCounters>, &Arc<redwood_wal::WalCounters>),
    ) -> Result<(PageFile, Wal, redwood_wal::Recovery, Option<Arc<redwood_wal::archive::LogArchive>>)>
    {
        let read_only = self.read_only || self.salvage;
        let options = PageFileOptions {
            page_size: self.page_size,
            segment_pages: self.segment_pages,
            read_only,
            salvage: self.salvage,
            counters: Arc::clone(counters.0),
            ..PageFileOptions::default()
        };
        let file = match (create, read_only) {
            (true, false) => PageFile::create(Arc::clone(vfs), path, &options)?,
            (true, true) => {
                return Err(redwood_pager::Error::NotFound { path: path.to_path_buf() }.into());
            }
            (false, _) => PageFile::open(Arc::clone(vfs), path, &options)?,
        };
        self.check_geometry(&file)?;
        let missing = if file.log_closed_empty() {
            MissingLog::Create
        } else if self.discard_missing_log || self.salvage {
            MissingLog::Discard
        } else {
            MissingLog::Refuse
        };
        let archive = match &self.archive {
            Some(target) if !read_only => Some(target.open_for(
                vfs,
                file.database_id(),
                file.page_size(),
                file.geometry().segment_pages(),
            )?),
            // Read-only: the archive is read (for its restore points), never shipped to; one
            // that cannot be read, or is another database's, is left out.
            Some(target) => target
                .open_read_only(vfs)
                .ok()
                .filter(|archive| archive.manifest_snapshot().database_id == file.database_id())
                .map(Arc::new),
            None => None,
        };
        let wal_options = WalOptions {
            page_size: file.page_size(),
            database_id: file.database_id(),
            start_lsn: Lsn::new(file.checkpoint_lsn().get() + 1),
            identity: file.log_identity(),
            missing,
            read_only,
            salvage: self.salvage,
            counters: Arc::clone(counters.1),
            archive: archive.clone().filter(|_| !read_only),
        };
        let (wal, recovery) = Wal::open(vfs.as_ref(), &wal_path(path), &wal_options)?;
        Ok((file, wal, recovery, archive))
    }

    /// `OptionConflict` if the caller set a page size or segment size the existing `file`
    /// does not have (a new file has what was asked).
    fn check_geometry(&self, file: &PageFile) -> Result<()> {
        let geometry = file.geometry();
        let page_size = u64::try_from(self.page_size.bytes()).unwrap_or(u64::MAX);
        let existing_page_size = u64::try_from(geometry.page_size().bytes()).unwrap_or(u64::MAX);
        if self.geometry_set.0 && page_size != existing_page_size {
            let (option, requested, existing) = ("page size", page_size, existing_page_size);
            return Err(Error::OptionConflict { option, requested, existing });
        }
        if self.geometry_set.1 && self.segment_pages != geometry.segment_pages() {
            let (option, requested) = ("segment pages", self.segment_pages);
            return Err(Error::OptionConflict {
                option,
                requested,
                existing: geometry.segment_pages(),
            });
        }
        Ok(())
    }

    fn assemble(self, vfs: Arc<dyn Vfs>, path: &Path, create: bool) -> Result<Database> {
        self.diagnostics.validate().map_err(redwood_pager::Error::InvalidOption)?;
        self.checkpoint_policy.validate().map_err(redwood_pager::Error::InvalidOption)?;
        if self.auto_checkpoint == AutoCheckpoint::Off && !self.triggers.is_empty() {
            let reason = "per-table checkpoint triggers need automatic checkpoints (not Off)";
            return Err(redwood_pager::Error::InvalidOption(reason.to_owned()).into());
        }
        let file_counters = Arc::new(PageFileCounters::default());
        let log_counters = Arc::new(redwood_wal::WalCounters::default());
        let (file, wal, recovery, archive) =
            self.open_files(&vfs, path, create, (&file_counters, &log_counters))?;
        let pool = Arc::new(BufferPool::new(PoolOptions::new(self.cache_bytes, file.page_size()))?);
        let read_only = self.read_only || self.salvage;
        let checkpoints = (self.auto_checkpoint != AutoCheckpoint::Off && !read_only)
            .then_some(self.checkpoint_policy);
        let dirty_pages_max = self.dirty_pages_max.unwrap_or_else(|| {
            let frames = usize::try_from(pool.stats().frames).unwrap_or(usize::MAX);
            (frames / DIRTY_SHARE_DIVISOR * (DIRTY_SHARE_DIVISOR - 1)).max(1)
        });
        // Point-in-time restore replays the archived log: every page image must be in it.
        let home_writes = archive.is_none();
        let pager_options = PagerOptions { dirty_pages_max, read_only, checkpoints, home_writes };
        let restore_points = crate::restore::recovered(&recovery.transactions);
        let mut report = crate::recovery::RecoveryReport::from_log(&recovery);
        report.salvage_notes = file.salvage_notes().to_vec();
        let pager_counters = Arc::new(PagerCounters::default());
        let pager = Pager::open(file, wal, recovery.transactions, pager_options)?
            .with_counters(Arc::clone(&pager_counters))
            .with_cache(Arc::clone(&pool) as Arc<dyn redwood_pager::PageCache>);
        // Shared without `into_shared`, a pager starts no prefetch worker: hints queue nothing.
        let pager = if self.prefetch { pager.into_shared() } else { Arc::new(pager) };
        let mut diagnostics = self.diagnostics.clone();
        if let Some(policy) = checkpoints {
            // A log past the automatic checkpoints' bound means a reader holds them back (or
            // they fail): an alert by default.
            diagnostics.wal_bytes_max.get_or_insert(policy.log_bytes_max);
        }
        let monitor = diagnostics.has_thresholds().then(|| AlertMonitor::new(diagnostics.clone()));
        let hub = Arc::new(crate::diagnostics::Hub {
            pager: std::sync::RwLock::new(Some(Arc::clone(&pager))),
            pool,
            log_counters,
            file_counters,
            pager_counters,
            monitor,
            evaluation: Mutex::default(),
        });
        let sampler = match self.diagnostics.sample_interval {
            Some(interval) if hub.monitor.is_some() => {
                let sampler = crate::diagnostics::Sampler::start(&hub, interval);
                Some(sampler.map_err(|source| redwood_pager::Error::Io {
                    operation: "spawn the diagnostics sampler",
                    path: path.to_path_buf(),
                    source,
                })?)
            }
            _ => None,
        };
        let checkpoint_worker = match checkpoints {
            Some(_) if self.auto_checkpoint == AutoCheckpoint::Background => {
                Some(pager.start_checkpoint_worker().map_err(|source| {
                    redwood_pager::Error::Io {
                        operation: "spawn the checkpoint worker",
                        path: path.to_path_buf(),
                        source,
                    }
                })?)
            }
            _ => None,
        };
        Ok(Database {
            checkpoint_worker,
            pager,
            path: path.to_path_buf(),
            vfs: Arc::clone(&vfs),
            durability: self.durability,
            hub,
            sampler,
            triggers: self.triggers,
            changed_pages: Mutex::default(),
            restore_points: Mutex::new(restore_points),
            recovery: report,
            tree_observers: self.tree_observers,
            archive,
        })
    }
}

/// The write-ahead log's path beside the database: `PATH.wal`.
fn wal_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".wal");
    PathBuf::from(name)
}
