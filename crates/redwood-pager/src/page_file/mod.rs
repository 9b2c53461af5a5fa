//! `PageFile`: a database's files as an array of verified pages, with its meta copies and
//! free-space map.
//!
//! This is the pager's storage mechanism, not yet a transaction: `write_page` writes a page in
//! place and `sync` makes everything written so far durable. The allocation state, page count
//! and roots change atomically at each sync (two map copies, switched by the meta write), so a
//! crash at any point reopens to the last completed sync's allocation state. Data pages are
//! overwritten in place, so a crash may tear a page being overwritten (detected by its checksum,
//! never returned as data); atomic multi-page commits come from the write-ahead log above
//! (issue 3), which replays whole committed page images over these files. See
//! `docs/RECOVERY.md`.
//!
//! After any failed write or sync the handle is poisoned: every call returns
//! [`Error::Poisoned`] until the database is reopened (DESIGN.md §7).

mod check;
mod open;
mod runs;
mod shrink;

pub use shrink::ReleasedTail;

use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::PageFileCounters;
use crate::error::{Error, Result};
use crate::free_map::FreeMap;
use crate::geometry::{Geometry, MapCopy};
use crate::io::{Storage, Vfs, parent_dir};
use crate::limits::{
    PAGE_SIZE_DEFAULT_BYTES, ROOT_SLOTS, SEGMENT_PAGES_DEFAULT, WRITE_RUN_PAGES_MAX,
};
use crate::meta::Meta;
use crate::page::{Page, PageBuf, PageSize};
use crate::{LogIdentity, Lsn, PageId, SegmentId};

/// How to create (and, for `counters`, open) a page file.
#[derive(Clone, Debug)]
pub struct PageFileOptions {
    /// Page size of a new database; ignored on open (the file says).
    pub page_size: PageSize,
    /// Pages per segment file of a new database; ignored on open.
    pub segment_pages: u64,
    /// The database id of a new database; `None` picks a random one. Tests fix it so that the
    /// same seed gives the same bytes. Ignored on open.
    pub database_id: Option<u64>,
    /// The salt of a new database's first log generation; `None` picks a random one (never
    /// 0). Tests fix it so that the same seed gives the same bytes. Ignored on open.
    pub log_salt: Option<u64>,
    /// Open without ever writing: the files are opened read-only and every write, sync and
    /// allocation is refused with [`Error::ReadOnly`]. Ignored by `create`.
    pub read_only: bool,
    /// Open read-only even past damage that would refuse the open (see [`PageFile::open`]),
    /// to read what can still be read (`redwood recover`).
    pub salvage: bool,
    /// Where this handle counts its I/O; shared so the owner can read it.
    pub counters: Arc<PageFileCounters>,
}

impl Default for PageFileOptions {
    fn default() -> Self {
        Self {
            page_size: PageSize::new(PAGE_SIZE_DEFAULT_BYTES).expect("default page size is valid"),
            segment_pages: SEGMENT_PAGES_DEFAULT,
            database_id: None,
            log_salt: None,
            read_only: false,
            salvage: false,
            counters: Arc::default(),
        }
    }
}

/// A database's base file and segment files, seen as verified pages.
pub struct PageFile {
    vfs: Arc<dyn Vfs>,
    path: PathBuf,
    /// Index = segment id.
    segments: Vec<Box<dyn Storage>>,
    /// The meta data as last written (or read at open).
    durable_meta: Meta,
    /// The meta generation this handle opened (or created) the file at: the fallback copy is
    /// checked only once this handle has written a meta copy itself (before that it may be
    /// the torn write a crash left, which the next write replaces).
    opened_generation: u64,
    /// Root slots and checkpoint LSN as they will be written by the next sync.
    roots: [Option<PageId>; ROOT_SLOTS],
    /// The log identity the next sync records (see `Meta::log`).
    log: LogIdentity,
    /// Whether the next sync records the log as closed empty (see `Meta::log_closed_empty`).
    log_closed_empty: bool,
    /// Opened read-only: nothing is ever written.
    read_only: bool,
    /// At open, the meta copy not taken failed to verify.
    other_meta_copy_damaged: bool,
    /// What a salvage open went past (empty otherwise).
    salvage_notes: Vec<String>,
    checkpoint_lsn: Lsn,
    free_map: FreeMap,
    /// Segments written since their last `sync_data`.
    unsynced_segments: Mutex<BTreeSet<SegmentId>>,
    /// A segment file was created since the last `sync_dir`.
    dir_sync_needed: AtomicBool,
    poisoned: AtomicBool,
    counters: Arc<PageFileCounters>,
}

/// The path of `segment` of the database at `base`: the base itself, or `BASE.segN`.
pub fn segment_path(base: &Path, segment: SegmentId) -> PathBuf {
    if segment == SegmentId::BASE {
        return base.to_path_buf();
    }
    let mut name = base.as_os_str().to_owned();
    name.push(format!(".seg{}", segment.get()));
    PathBuf::from(name)
}

impl std::fmt::Debug for PageFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PageFile")
            .field("path", &self.path)
            .field("meta", &self.durable_meta)
            .field("page_count", &self.page_count())
            .field("free_page_count", &self.free_page_count())
            .field("poisoned", &self.is_poisoned())
            .finish_non_exhaustive()
    }
}

impl PageFile {
    /// The base file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Page size and segment size.
    pub fn geometry(&self) -> Geometry {
        self.durable_meta.geometry
    }

    /// The page size.
    pub fn page_size(&self) -> PageSize {
        self.geometry().page_size()
    }

    /// The number of page ids in use (the high-water mark).
    pub fn page_count(&self) -> u64 {
        self.free_map.page_count()
    }

    /// Free pages below the high-water mark.
    pub fn free_page_count(&self) -> u64 {
        self.free_map.free_count()
    }

    /// The number of segment files, base included.
    pub fn segment_count(&self) -> u64 {
        self.segments.len() as u64
    }

    /// Bytes of the base file and its segments as they are on disk now, or `None` if a size
    /// could not be read.
    pub fn file_bytes(&self) -> Option<u64> {
        self.segments.iter().try_fold(0u64, |total, segment| Some(total + segment.len().ok()?))
    }

    /// The random id chosen when the database was created.
    pub fn database_id(&self) -> u64 {
        self.durable_meta.database_id
    }

    /// The generation of the meta copy last written or read.
    pub fn generation(&self) -> u64 {
        self.durable_meta.generation
    }

    /// The I/O counters of this handle.
    pub fn counters(&self) -> &Arc<PageFileCounters> {
        &self.counters
    }

    /// Whether an earlier failure poisoned this handle.
    pub fn is_poisoned(&self) -> bool {
        self.poisoned.load(Ordering::Acquire)
    }

    /// The log position the data files reflect, as of the next sync.
    pub fn checkpoint_lsn(&self) -> Lsn {
        self.checkpoint_lsn
    }

    /// Records the log position the data files reflect; durable at the next sync.
    pub fn set_checkpoint_lsn(&mut self, lsn: Lsn) {
        assert!(lsn >= self.checkpoint_lsn, "the checkpoint LSN never moves backwards");
        self.checkpoint_lsn = lsn;
    }

    /// The page a higher layer anchored in root `slot`, if any.
    pub fn root(&self, slot: usize) -> Option<PageId> {
        assert!(slot < ROOT_SLOTS, "root slot {slot} out of range");
        self.roots[slot]
    }

    /// Anchors `page_id` (or nothing) in root `slot`; durable at the next sync. The page must be
    /// allocated.
    pub fn set_root(&mut self, slot: usize, page_id: Option<PageId>) -> Result<()> {
        assert!(slot < ROOT_SLOTS, "root slot {slot} out of range");
        self.ensure_healthy()?;
        if let Some(page_id) = page_id {
            self.ensure_allocated(page_id)?;
        }
        self.roots[slot] = page_id;
        Ok(())
    }

    /// Whether `page_id` is allocated to a higher layer.
    pub fn is_allocated(&self, page_id: PageId) -> bool {
        self.free_map.is_allocated(page_id)
    }

    /// Allocates the lowest free page, growing the database (and creating the next segment file)
    /// when none is free. The page's contents are undefined until written.
    pub fn allocate(&mut self) -> Result<PageId> {
        self.allocate_from(PageId::new(0))
    }

    /// Allocates the lowest free page at or past `floor`, growing the database if none is
    /// free there. Pages below the floor stay free for later allocations.
    pub fn allocate_from(&mut self, floor: PageId) -> Result<PageId> {
        self.ensure_writable()?;
        let allocation = self.free_map.allocate_from(floor)?;
        if let Some(segment) = allocation.new_segment {
            self.begin_segment_file(segment)?;
        }
        self.mark_unsynced(self.geometry().segment_of(allocation.page_id));
        Ok(allocation.page_id)
    }

    /// Allocates the page `page_id` itself (a restore puts every page back at its id), growing
    /// the database to reach it (the pages skipped are free). A reserved page is
    /// `ReservedPage`; an allocated one is `Misuse`.
    pub fn allocate_at(&mut self, page_id: PageId) -> Result<()> {
        self.ensure_writable()?;
        if self.geometry().is_reserved(page_id) {
            return Err(Error::ReservedPage { page_id });
        }
        // Past the page-id space, growing fails with `Full`.
        self.ensure_page_count(page_id.get().saturating_add(1))?;
        if self.is_allocated(page_id) {
            return Err(Error::Misuse(format!("{page_id} is allocated already")));
        }
        self.free_map.set_in_use(page_id, true)?;
        self.mark_unsynced(self.geometry().segment_of(page_id));
        debug_assert!(self.is_allocated(page_id) && self.page_count() > page_id.get());
        Ok(())
    }

    /// Marks `page_id` allocated or free, whatever it was. Idempotent: recovery replays the
    /// allocation deltas of committed transactions with it, and aborts undo theirs. Unlike
    /// [`PageFile::free`] it does not look at the root slots: the transaction layer moves roots
    /// and frees pages in one commit, and checks its own roots.
    pub fn set_allocation(&mut self, page_id: PageId, allocated: bool) -> Result<()> {
        self.ensure_healthy()?;
        self.free_map.set_in_use(page_id, allocated)
    }

    /// Grows the page count to at least `page_count` (the new pages are free), creating segment
    /// files as needed. Recovery uses it to reach a committed transaction's page count.
    pub fn ensure_page_count(&mut self, page_count: u64) -> Result<()> {
        self.ensure_healthy()?;
        for segment in self.free_map.grow_to(page_count)? {
            self.begin_segment_file(segment)?;
        }
        if let Some(last) = self.page_count().checked_sub(1) {
            self.mark_unsynced(self.geometry().segment_of(PageId::new(last)));
        }
        Ok(())
    }

    /// Frees an allocated page. Freeing a free or reserved page is an error, not a no-op.
    pub fn free(&mut self, page_id: PageId) -> Result<()> {
        self.ensure_writable()?;
        if self.roots.contains(&Some(page_id)) {
            let reason = "cannot free a page a root slot points at".to_owned();
            return Err(Error::Misuse(format!("{page_id}: {reason}")));
        }
        self.free_map.free(page_id)
    }

    /// Reads page `page_id` into `page` and verifies it. The page must lie below the page count
    /// and not be reserved; whether it is allocated is the caller's concern (a snapshot may
    /// still read a page freed since).
    pub fn read_page(&self, page_id: PageId, page: &mut Page) -> Result<()> {
        self.ensure_healthy()?;
        self.free_map.check_user_page(page_id)?;
        self.read_raw(page_id, page)?;
        check_not_pager_owned(page, page_id)
    }

    /// Writes a sealed page (see [`Page::seal`](crate::Page::seal)) to the page its header names, which must lie
    /// below the page count and not be reserved (whether it is allocated is the caller's
    /// concern: a checkpoint writes the version a snapshot sees, even of a page freed since).
    /// The page is verified right before the write; durable after the next [`PageFile::sync`].
    /// Takes `&self` so checkpoints can write while readers read.
    pub fn write_page(&self, page: &PageBuf) -> Result<()> {
        self.ensure_writable()?;
        self.check_writable_page(page)?;
        self.write_raw(page)
    }

    /// Writes sealed pages (each as [`PageFile::write_page`] would, verified first), in the
    /// order given; a run of consecutive page ids within one segment goes out as one write.
    /// What a checkpoint copies with, its pages in page order.
    pub fn write_pages(&self, pages: &[PageBuf]) -> Result<()> {
        self.ensure_writable()?;
        for page in pages {
            self.check_writable_page(page)?;
        }
        let geometry = self.geometry();
        let mut run: Vec<u8> = Vec::new();
        let mut index = 0;
        while index < pages.len() {
            let first = pages[index].page_id();
            let segment = geometry.segment_of(first);
            let mut end = index + 1;
            while end < pages.len()
                && end - index < WRITE_RUN_PAGES_MAX
                && pages[end].page_id().get() == first.get() + (end - index) as u64
                && geometry.segment_of(pages[end].page_id()) == segment
            {
                end += 1;
            }
            let offset = geometry.offset_in_segment(first);
            let result = if end - index == 1 {
                self.segments[segment.get() as usize].write_at(offset, pages[index].as_bytes())
            } else {
                run.clear();
                // Sized once: grown page by page, a 2 MB run was copied again at each doubling.
                run.reserve_exact((end - index) * geometry.page_size().bytes());
                for page in &pages[index..end] {
                    run.extend_from_slice(page.as_bytes());
                }
                self.segments[segment.get() as usize].write_at(offset, &run)
            };
            self.poison_on_error(result, "write", &segment_path(&self.path, segment))?;
            self.counters.pages_written.fetch_add((end - index) as u64, Ordering::Relaxed);
            self.mark_unsynced(segment);
            index = end;
        }
        Ok(())
    }

    /// The checks of [`PageFile::write_page`] for one page.
    fn check_writable_page(&self, page: &PageBuf) -> Result<()> {
        assert_eq!(page.page_size(), self.page_size(), "page buffer of the wrong size");
        let page_id = page.page_id();
        self.free_map.check_user_page(page_id)?;
        if page.page_type().is_pager_owned() {
            let kind = page.page_type().get();
            return Err(Error::Misuse(format!("page type {kind} is reserved for the pager")));
        }
        page.verify(page_id)
    }

    /// Makes every write, allocation, free and root change so far durable, atomically for the
    /// allocation state and roots: the next generation's copy of the free-space map, then all
    /// data, then new directory entries, then the meta copy of the next generation, which is
    /// what switches to the new map copy. See `docs/RECOVERY.md`.
    pub fn sync(&mut self) -> Result<()> {
        self.ensure_writable()?;
        let page_count = self.page_count();
        let next = Meta {
            generation: self.durable_meta.generation + 1,
            page_count,
            checkpoint_lsn: self.checkpoint_lsn,
            roots: self.roots,
            log: self.log,
            log_closed_empty: self.log_closed_empty,
            ..self.durable_meta
        };
        let meta_changed = self.free_map.has_changed()
            || Meta { generation: self.durable_meta.generation, ..next } != self.durable_meta;
        if meta_changed {
            let copy = MapCopy::of_generation(next.generation);
            for page in self.free_map.take_dirty(copy, self.checkpoint_lsn) {
                self.write_raw(&page)?;
            }
        }
        let unsynced = std::mem::take(&mut *self.unsynced_lock());
        for segment in unsynced {
            self.extend_segment(segment, page_count)?;
            self.sync_segment(segment)?;
        }
        self.sync_dir_if_needed()?;
        if meta_changed {
            self.write_meta(next)?;
        }
        Ok(())
    }

    /// The identity of the log the durable meta data names (generation 0: none recorded).
    pub fn log_identity(&self) -> LogIdentity {
        self.durable_meta.log
    }

    /// Records, at the next sync, that the log continuing the files is `identity`.
    pub fn set_log_identity(&mut self, identity: LogIdentity) {
        self.log = identity;
    }

    /// Whether the durable meta data says the log was empty at a clean close (or creation):
    /// only then may a missing log be recreated without losing a commit.
    pub fn log_closed_empty(&self) -> bool {
        self.durable_meta.log_closed_empty
    }

    /// Records, at the next sync, whether the log is closed empty (see
    /// [`PageFile::log_closed_empty`]).
    pub fn set_log_closed_empty(&mut self, closed_empty: bool) {
        self.log_closed_empty = closed_empty;
    }

    /// Whether, at open, the meta copy not taken failed to verify (it was damaged, or never
    /// written): the copy in use may then be older than the newest the files had.
    pub fn other_meta_copy_damaged(&self) -> bool {
        self.other_meta_copy_damaged
    }

    /// What a salvage open went past instead of refusing the open: one sentence each.
    pub fn salvage_notes(&self) -> &[String] {
        &self.salvage_notes
    }

    /// Whether this handle was opened read-only.
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// Writes `meta` to its slot and syncs the base file.
    fn write_meta(&mut self, meta: Meta) -> Result<()> {
        self.write_raw(&meta.encode())?;
        self.sync_segment(SegmentId::BASE)?;
        self.unsynced_lock().remove(&SegmentId::BASE);
        self.durable_meta = meta;
        Ok(())
    }

    fn ensure_healthy(&self) -> Result<()> {
        if self.is_poisoned() { Err(Error::Poisoned) } else { Ok(()) }
    }

    /// Refuses any change to a read-only handle.
    fn ensure_writable(&self) -> Result<()> {
        self.ensure_healthy()?;
        if self.read_only { Err(Error::ReadOnly) } else { Ok(()) }
    }

    fn ensure_allocated(&self, page_id: PageId) -> Result<()> {
        self.free_map.check_user_page(page_id)?;
        if !self.free_map.is_allocated(page_id) {
            return Err(Error::NotAllocated { page_id });
        }
        Ok(())
    }

    /// Reads and verifies any page, reserved ones included.
    fn read_raw(&self, page_id: PageId, page: &mut Page) -> Result<()> {
        let segment = self.geometry().segment_of(page_id);
        let offset = self.geometry().offset_in_segment(page_id);
        let storage = &self.segments[segment.get() as usize];
        match storage.read_at(offset, page.as_mut_bytes()) {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => {
                let path = segment_path(&self.path, segment);
                let reason = format!("lies past the end of {}", path.display());
                return Err(Error::Corrupt { page_id, reason });
            }
            Err(error) => return Err(Error::io("read", segment_path(&self.path, segment), error)),
        }
        self.counters.pages_read.fetch_add(1, Ordering::Relaxed);
        page.verify(page_id)
    }

    fn unsynced_lock(&self) -> std::sync::MutexGuard<'_, BTreeSet<SegmentId>> {
        self.unsynced_segments.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Makes the data pages written so far durable, and the directory entries of new segment
    /// files, but not the allocation state, roots or meta data (those wait for
    /// [`PageFile::sync`]): what a write transaction calls before its commit record after
    /// writing new pages straight to their home location.
    pub fn sync_pages(&self) -> Result<()> {
        self.ensure_writable()?;
        let page_count = self.page_count();
        let unsynced = std::mem::take(&mut *self.unsynced_lock());
        for segment in unsynced {
            self.extend_segment(segment, page_count)?;
            self.sync_segment(segment)?;
        }
        self.sync_dir_if_needed()
    }

    fn sync_dir_if_needed(&self) -> Result<()> {
        if self.dir_sync_needed.load(Ordering::Acquire) {
            let dir = parent_dir(&self.path).to_path_buf();
            let result = self.vfs.sync_dir(&dir);
            self.poison_on_error(result, "sync_dir", &dir)?;
            self.counters.dir_syncs.fetch_add(1, Ordering::Relaxed);
            self.dir_sync_needed.store(false, Ordering::Release);
        }
        Ok(())
    }

    fn mark_unsynced(&self, segment: SegmentId) {
        self.unsynced_lock().insert(segment);
    }

    /// Writes a sealed page at its home location; a failure poisons the handle.
    fn write_raw(&self, page: &PageBuf) -> Result<()> {
        if self.read_only {
            return Err(Error::ReadOnly);
        }
        let page_id = page.page_id();
        let segment = self.geometry().segment_of(page_id);
        let offset = self.geometry().offset_in_segment(page_id);
        let result = self.segments[segment.get() as usize].write_at(offset, page.as_bytes());
        self.poison_on_error(result, "write", &segment_path(&self.path, segment))?;
        self.counters.pages_written.fetch_add(1, Ordering::Relaxed);
        self.mark_unsynced(segment);
        Ok(())
    }

    /// Grows a segment file so every page below `page_count` lies inside it, so that a later
    /// open can tell a truncated file from a short one.
    fn extend_segment(&self, segment: SegmentId, page_count: u64) -> Result<()> {
        let needed = self.geometry().segment_bytes_needed(segment, page_count);
        let path = segment_path(&self.path, segment);
        let storage = &self.segments[segment.get() as usize];
        let length = storage.len().map_err(|error| Error::io("len", path.clone(), error))?;
        if length < needed {
            let result = storage.set_len(needed);
            self.poison_on_error(result, "set_len", &path)?;
        }
        Ok(())
    }

    fn sync_segment(&self, segment: SegmentId) -> Result<()> {
        let result = self.segments[segment.get() as usize].sync_data();
        self.poison_on_error(result, "sync_data", &segment_path(&self.path, segment))?;
        self.counters.syncs.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Opens the file of a segment the free-space map just began, creating it if it does not
    /// exist. A file left from before a crash is kept: it may hold pages a logged commit wrote
    /// to their home location.
    fn begin_segment_file(&mut self, segment: SegmentId) -> Result<()> {
        assert_eq!(segment.get(), self.segments.len() as u64, "segments begin in order");
        let path = segment_path(&self.path, segment);
        if self.read_only {
            // Replaying a recovered commit that grew the database: its pages come from the log
            // or from their home location in this file, which is never created here.
            let storage = match self.vfs.open_read_only(&path) {
                Ok(storage) => storage,
                Err(error) if error.kind() == io::ErrorKind::NotFound => {
                    crate::io::ReadOnlyStorage::empty()
                }
                Err(error) => return Err(Error::io("open", &path, error)),
            };
            self.segments.push(storage);
            return Ok(());
        }
        // The free-space map already counts this segment: any failure here poisons the handle.
        let exists = self.vfs.exists(&path);
        let exists = self.poison_on_error(exists, "exists", &path)?;
        let storage = if exists {
            // Kept, not replaced: a write transaction writes its new pages to their home
            // location before its commit record, so the file of a segment that only a commit
            // in the log (being replayed now) grew into holds that commit's pages. Anything
            // else in it is on pages free in every state, which are written before being read.
            let result = self.vfs.open(&path);
            self.poison_on_error(result, "open", &path)?
        } else {
            let result = self.vfs.create(&path);
            self.poison_on_error(result, "create", &path)?
        };
        self.segments.push(storage);
        self.dir_sync_needed.store(true, Ordering::Release);
        Ok(())
    }

    /// Passes `result` through, poisoning the handle if it failed.
    fn poison_on_error<T>(
        &self,
        result: io::Result<T>,
        operation: &'static str,
        path: &Path,
    ) -> Result<T> {
        result.map_err(|error| {
            self.poisoned.store(true, Ordering::Release);
            Error::io(operation, path, error)
        })
    }
}

/// A data page read for the layers above must not be one of the pager's own (meta, free-space
/// map): `Corrupt` if its type says it is.
fn check_not_pager_owned(page: &Page, page_id: PageId) -> Result<()> {
    if page.page_type().is_pager_owned() {
        let reason = format!("pager-owned page type {} in a data page", page.page_type().get());
        return Err(Error::Corrupt { page_id, reason });
    }
    Ok(())
}
