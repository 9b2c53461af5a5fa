//! `Builder`: the options for opening a database, and the assembly of page file, write-ahead
//! log, buffer pool and pager behind a `Database`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use redwood_bufpool::{BufferPool, PoolOptions};
use redwood_pager::io::{MemVfs, Vfs};
use redwood_pager::{Durability, Lsn, PageFile, PageFileOptions, PageSize, Pager, PagerOptions};
use redwood_wal::{Wal, WalOptions};

use crate::database::Database;
use crate::error::Result;
use crate::triggers::{TableTrigger, TableTriggers};

/// How to open a database.
#[derive(Clone, Debug)]
pub struct Builder {
    cache_bytes: u64,
    page_size: PageSize,
    segment_pages: u64,
    dirty_pages_max: usize,
    durability: Durability,
    triggers: TableTriggers,
}

impl Default for Builder {
    fn default() -> Self {
        Self {
            cache_bytes: 64 << 20,
            page_size: PageSize::DEFAULT,
            segment_pages: redwood_pager::limits::SEGMENT_PAGES_DEFAULT,
            dirty_pages_max: redwood_pager::limits::DIRTY_PAGES_MAX_DEFAULT,
            durability: Durability::Immediate,
            triggers: TableTriggers::default(),
        }
    }
}

impl Builder {
    /// Bytes of page cache, allocated at open (default 64 MiB).
    pub fn cache_bytes(mut self, bytes: u64) -> Self {
        self.cache_bytes = bytes;
        self
    }

    /// The page size of a new database (default 4 KiB; ignored when opening one).
    pub fn page_size(mut self, page_size: PageSize) -> Self {
        self.page_size = page_size;
        self
    }

    /// Pages per segment file of a new database (ignored when opening one).
    pub fn segment_pages(mut self, pages: u64) -> Self {
        self.segment_pages = pages;
        self
    }

    /// How many changed pages a write transaction keeps in memory before spilling to the log.
    pub fn dirty_pages_max(mut self, pages: usize) -> Self {
        self.dirty_pages_max = pages;
        self
    }

    /// The durability of commits unless a transaction says otherwise (default `Immediate`).
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// Checkpoints (full mode) after a commit once `table` has changed `changed_pages_max`
    /// pages since the last checkpoint (R1).
    pub fn checkpoint_table_after(mut self, table: &str, changed_pages_max: u64) -> Self {
        self.triggers.add(TableTrigger { table: table.to_owned(), changed_pages_max });
        self
    }

    /// Opens the database at `path`, creating it if it does not exist.
    pub fn create(self, path: impl AsRef<Path>) -> Result<Database> {
        self.create_in(redwood_pager::io::best_vfs(), path)
    }

    /// Opens the existing database at `path`.
    pub fn open(self, path: impl AsRef<Path>) -> Result<Database> {
        self.assemble(redwood_pager::io::best_vfs(), path.as_ref(), false)
    }

    /// Opens the database at `path` in `vfs` (creating it if absent): for the simulated disk of
    /// the crash harness, or any other `Vfs`.
    pub fn create_in(self, vfs: Arc<dyn Vfs>, path: impl AsRef<Path>) -> Result<Database> {
        let exists = vfs.exists(path.as_ref()).map_err(|error| redwood_pager::Error::Io {
            operation: "exists",
            path: path.as_ref().to_path_buf(),
            source: error,
        })?;
        self.assemble(vfs, path.as_ref(), !exists)
    }

    /// A database held in memory only (Redwood-Lite): everything works, nothing persists.
    pub fn in_memory(self) -> Result<Database> {
        self.assemble(Arc::new(MemVfs::new()), Path::new("memory.redwood"), true)
    }

    fn assemble(self, vfs: Arc<dyn Vfs>, path: &Path, create: bool) -> Result<Database> {
        let options = PageFileOptions {
            page_size: self.page_size,
            segment_pages: self.segment_pages,
            ..PageFileOptions::default()
        };
        let file = if create {
            PageFile::create(Arc::clone(&vfs), path, &options)?
        } else {
            PageFile::open(Arc::clone(&vfs), path, &options)?
        };
        let log_counters = Arc::new(redwood_wal::WalCounters::default());
        let wal_options = WalOptions {
            page_size: file.page_size(),
            database_id: file.database_id(),
            start_lsn: Lsn::new(file.checkpoint_lsn().get() + 1),
            salt: None,
            counters: Arc::clone(&log_counters),
        };
        let (wal, recovery) = Wal::open(vfs.as_ref(), &wal_path(path), &wal_options)?;
        let pool = BufferPool::new(PoolOptions::new(self.cache_bytes, file.page_size()))?;
        let pager_options = PagerOptions { dirty_pages_max: self.dirty_pages_max };
        let restore_points = crate::restore::recovered(&recovery.transactions);
        let pager = Pager::open(file, wal, recovery.transactions, pager_options)?
            .with_cache(Arc::new(pool))
            .into_shared();
        Ok(Database {
            pager,
            path: path.to_path_buf(),
            durability: self.durability,
            log_counters,
            triggers: self.triggers,
            changed_pages: Mutex::default(),
            restore_points: Mutex::new(restore_points),
        })
    }
}

/// The write-ahead log's path beside the database: `PATH.wal`.
fn wal_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".wal");
    PathBuf::from(name)
}
