//! `WriteTxn`: the single writer. Its page changes stay private until commit; its allocations
//! and frees are applied to the free-space map at once (no checkpoint can run meanwhile) and
//! undone if it aborts.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::MutexGuard;
use std::sync::atomic::Ordering;

use super::Pager;
use super::index::Roots;
use crate::error::{Error, Result};
use crate::limits::ROOT_SLOTS;
use crate::{
    Durability, LogPosition, Lsn, PageBuf, PageGuard, PageId, PageLog, PageRead, PageSize,
    PageType, PageWrite, RestorePoint, TransactionChanges,
};

/// The write transaction. Commit makes all of it visible and durable at once; dropping it
/// without committing aborts it.
pub struct WriteTxn<'p, L: PageLog> {
    pub(super) pager: &'p Pager<L>,
    pub(super) log: MutexGuard<'p, L>,
    pub(super) changes: Changes,
    /// Each savepoint's identity and the changes it marks.
    pub(super) savepoints: Vec<(u64, Changes)>,
    /// Identities handed out so far, so a handle whose savepoint was discarded is refused.
    savepoints_taken: u64,
    /// The last frame appended for each spilled page, whatever savepoints undid since: recovery
    /// takes the last frame of a page in a transaction, so commit re-appends any page whose
    /// last frame is not its final image.
    pub(super) appended_last: BTreeMap<PageId, LogPosition>,
    /// Writes so far (`write_page` and `page_mut` calls): each dirty page records the count at
    /// its last write ([`Dirty::written_at`]), for spilling the coldest.
    pub(super) writes: u64,
    /// The page count when the transaction began: a page at or past it was never allocated by
    /// any commit, so no snapshot and no state recovery can return to holds it, and the
    /// transaction may write it straight to its home location (`changes.home`).
    pub(super) base_page_count: u64,
    /// The dirty-page count last reported to the cache (`PageCache::set_reserved`).
    pub(super) reserved_reported: usize,
    /// The lowest page [`WriteTxn::set_allocation_floor`] lets this transaction allocate.
    allocation_floor: PageId,
    finished: bool,
}

/// A page changed in memory, and when it was last written.
#[derive(Clone, Debug)]
pub(super) struct Dirty {
    /// The transaction's current image of the page.
    pub page: PageBuf,
    /// [`WriteTxn::writes`] at the page's last write: the lowest are the coldest.
    pub written_at: u64,
}

/// Everything a write transaction has changed so far; a savepoint is a copy of it.
#[derive(Clone, Debug, Default)]
pub(super) struct Changes {
    /// Pages changed in memory. A hash map, not an ordered one: every page a write
    /// transaction reads is looked up here first, and with 65,000 pages (a million-entry load)
    /// an ordered map's search took 14% of the load (`benches/scripts/profile_row.py --row
    /// bulk_load`), a cache miss per level; what needs page order sorts (`write_out_at_commit`,
    /// `spill_coldest`).
    pub dirty: rustc_hash::FxHashMap<PageId, Dirty>,
    /// Pages written out to the log before commit (spilled), at their latest image.
    pub spilled: BTreeMap<PageId, LogPosition>,
    /// New pages written to their home location in the data files, at their latest image
    /// (unless dirty again since); synced before the commit record.
    pub home: BTreeSet<PageId>,
    pub allocated: BTreeSet<PageId>,
    pub freed: BTreeSet<PageId>,
    pub roots: Roots,
    pub restore_points: Vec<RestorePoint>,
}

/// A point inside a write transaction to roll back to (see [`WriteTxn::savepoint`]).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Savepoint {
    depth: usize,
    id: u64,
}

impl<'p, L: PageLog> WriteTxn<'p, L> {
    pub(super) fn new(pager: &'p Pager<L>, log: MutexGuard<'p, L>, roots: Roots) -> Self {
        let changes = Changes { roots, ..Changes::default() };
        let appended_last = BTreeMap::new();
        let savepoints = Vec::new();
        let base_page_count = pager.state_read().file.page_count();
        Self {
            pager,
            log,
            changes,
            savepoints,
            savepoints_taken: 0,
            appended_last,
            writes: 0,
            base_page_count,
            reserved_reported: 0,
            allocation_floor: PageId::new(0),
            finished: false,
        }
    }

    /// Records a named restore point; it reaches the log with the commit. A name longer than
    /// `RESTORE_POINT_NAME_MAX_BYTES` is refused here, before anything is written.
    pub fn restore_point(&mut self, name: &str, timestamp_ms: u64) -> Result<()> {
        let limit = crate::limits::RESTORE_POINT_NAME_MAX_BYTES;
        if name.len() > limit {
            let (bytes, limit) = (name.len() as u64, limit as u64);
            return Err(Error::TooLarge { what: "restore-point name", bytes, limit });
        }
        let point = RestorePoint { name: name.to_owned(), timestamp_ms };
        self.changes.restore_points.push(point);
        Ok(())
    }

    /// Changed pages this transaction holds in memory (at most the pager's
    /// `dirty_pages_max`; the rest are spilled to the log).
    pub fn dirty_page_count(&self) -> usize {
        self.changes.dirty.len()
    }

    /// Changed pages this transaction has spilled to the log as uncommitted frames.
    pub fn spilled_page_count(&self) -> usize {
        self.changes.spilled.len()
    }

    /// Seals `page` with the LSN of the frame it is about to become, and appends it.
    pub(super) fn append_sealed(
        &mut self,
        page_id: PageId,
        page: &mut PageBuf,
    ) -> Result<LogPosition> {
        let page_type = page.page_type();
        page.seal(page_id, page_type, self.log.next_lsn());
        let position = self.log.append_page(page).inspect_err(|error| self.pager.poison(error))?;
        self.appended_last.insert(page_id, position);
        Ok(position)
    }

    /// Re-appends the final image of every spilled-then-rolled-back page whose last frame in
    /// the log is not that image (see `appended_last`).
    fn repair_rolled_back_frames(&mut self) -> Result<()> {
        let stale: Vec<(PageId, LogPosition)> =
            self.appended_last.iter().map(|(&id, &at)| (id, at)).collect();
        let mut page = PageBuf::zeroed(self.page_size());
        for (page_id, last) in stale {
            let current = self.changes.spilled.get(&page_id).copied();
            if self.changes.dirty.contains_key(&page_id) || current == Some(last) {
                continue;
            }
            match current {
                Some(position) => self.log.read_page(position, &mut page)?,
                // Rolled back to an image at its home location: logged after all, since the
                // log holds a later frame of it that recovery would otherwise take.
                None if self.changes.home.remove(&page_id) => {
                    self.pager.state_read().file.read_page(page_id, &mut page)?;
                }
                // Allocated by this transaction and never written since the rollback (or
                // freed): its contents are undefined, no image to restore.
                None if self.changes.allocated.contains(&page_id) => continue,
                None if !self.pager.state_read().file.is_allocated(page_id) => continue,
                None => {
                    let committed = self.pager.read_at(self.pager.last_commit(), page_id)?;
                    page.as_mut_bytes().copy_from_slice(committed.as_bytes());
                }
            }
            let position = self.append_sealed(page_id, &mut page)?;
            self.changes.spilled.insert(page_id, position);
        }
        Ok(())
    }

    /// Marks the current state of the transaction, to roll back to later. Savepoints nest:
    /// rolling back to one discards every savepoint taken after it. It copies the changed
    /// pages, so it costs memory proportional to them.
    pub fn savepoint(&mut self) -> Savepoint {
        self.savepoints_taken += 1;
        let id = self.savepoints_taken;
        self.savepoints.push((id, self.changes.clone()));
        Savepoint { depth: self.savepoints.len(), id }
    }

    /// Allocates the page `page_id` itself rather than the lowest free one, growing the
    /// database to reach it: what a restore uses to put every page of a backup back at its id.
    /// The transaction then writes it (`PageWrite::write_page`) as any page it allocated; an
    /// abort frees it again. A reserved page is `ReservedPage`, an allocated one `Misuse`.
    pub fn allocate_at(&mut self, page_id: PageId) -> Result<()> {
        self.pager.ensure_healthy()?;
        self.pager.state_write().file.allocate_at(page_id)?;
        if !self.changes.freed.remove(&page_id) {
            self.changes.allocated.insert(page_id);
        }
        Ok(())
    }

    /// Makes this transaction's later allocations take the lowest free page at or past `floor`
    /// instead of the lowest free page (growing the database when none is free there, by one
    /// page at the page count if the floor lies past it); `None` lifts it. `Database::compact` copies a table past the pages in use this way when there
    /// are no holes to copy into, so that a second copy can fill what the first freed.
    pub fn set_allocation_floor(&mut self, floor: Option<PageId>) {
        self.allocation_floor = floor.unwrap_or(PageId::new(0));
    }

    /// Undoes everything since `savepoint` (which stays valid, so it can be rolled back to
    /// again): page changes, allocations, frees, roots and restore points.
    pub fn rollback_to(&mut self, savepoint: Savepoint) -> Result<()> {
        self.pager.ensure_healthy()?;
        let marked = match self.savepoints.get(savepoint.depth - 1) {
            Some((id, marked)) if *id == savepoint.id => marked.clone(),
            _ => return Err(Error::Misuse("savepoint already discarded".to_owned())),
        };
        self.savepoints.truncate(savepoint.depth);
        let mut state = self.pager.state_write();
        let touched = self.changes.allocated.union(&self.changes.freed);
        for &page_id in touched.chain(marked.allocated.union(&marked.freed)) {
            // Allocated at the savepoint if it was then allocated by this transaction, or if it
            // was allocated before the transaction and not yet freed by it.
            let allocated_then = marked.allocated.contains(&page_id)
                || (!marked.freed.contains(&page_id) && self.changes.freed.contains(&page_id));
            state.file.set_allocation(page_id, allocated_then)?;
        }
        self.changes = marked;
        Ok(())
    }

    /// Commits: appends every changed page and a commit record to the log, syncs it once with
    /// [`Durability::Immediate`], then publishes the new state to new readers. Returns the
    /// commit LSN (the last commit's, if the transaction changed nothing). A failure poisons the
    /// pager: reopening recovers a state with all of this transaction or none of it.
    pub fn commit(mut self, durability: Durability) -> Result<Lsn> {
        self.pager.ensure_healthy()?;
        self.finished = true;
        let changes = &self.changes;
        let unchanged = changes.dirty.is_empty()
            && changes.spilled.is_empty()
            && changes.home.is_empty()
            && self.appended_last.is_empty()
            && changes.allocated.is_empty()
            && changes.freed.is_empty()
            && changes.restore_points.is_empty()
            && changes.roots == self.pager.state_read().roots.latest();
        if unchanged {
            self.log.abort();
            // The state this commit acknowledges is the last commit's, which may not be
            // durable yet (a `Durability::None` commit before it): `Immediate` makes it so.
            if durability == Durability::Immediate {
                self.log.sync().inspect_err(|error| self.pager.poison(error))?;
            }
            self.pager.counters.commits.fetch_add(1, Ordering::Relaxed);
            return Ok(self.pager.last_commit());
        }
        let (commit_lsn, positions) = match self.write_to_log(durability) {
            Ok(written) => written,
            // Too large a transaction or bad input: nothing is lost, the transaction is rolled
            // back (when dropped) and the pager goes on.
            Err(error @ (Error::TooLarge { .. } | Error::InvalidOption(_) | Error::Misuse(_))) => {
                self.finished = false;
                return Err(error);
            }
            Err(error) => {
                self.pager.poison(&error);
                return Err(error);
            }
        };
        self.pager.log_bytes.store(self.log.size_bytes(), Ordering::Relaxed);
        self.publish(commit_lsn, &positions).inspect_err(|error| self.pager.poison(error))?;
        self.pager.counters.commits.fetch_add(1, Ordering::Relaxed);
        self.release_reservation();
        let pager = self.pager;
        // The writer lock goes first: an automatic checkpoint takes it.
        drop(self);
        pager.after_commit();
        Ok(commit_lsn)
    }

    /// Aborts: nothing of this transaction becomes visible, its allocations and frees are
    /// undone.
    pub fn abort(mut self) {
        self.rollback();
    }

    fn write_to_log(
        &mut self,
        durability: Durability,
    ) -> Result<(Lsn, Vec<(PageId, LogPosition)>)> {
        for point in &self.changes.restore_points {
            self.log.append_restore_point(point)?;
        }
        self.repair_rolled_back_frames()?;
        self.write_out_at_commit()?;
        let positions: Vec<(PageId, LogPosition)> =
            self.changes.spilled.iter().map(|(&page_id, &position)| (page_id, position)).collect();
        let changes = TransactionChanges {
            timestamp_ms: now_ms(),
            page_count: self.pager.state_read().file.page_count(),
            roots: self.changes.roots,
            allocated: self.changes.allocated.iter().copied().collect(),
            freed: self.changes.freed.iter().copied().collect(),
        };
        let commit_lsn = self.log.commit(changes, durability)?;
        Ok((commit_lsn, positions))
    }

    /// Makes the commit visible: index its page versions, record its roots, move the file's
    /// roots (which must agree with its free-space map at the next checkpoint).
    fn publish(&mut self, commit_lsn: Lsn, positions: &[(PageId, LogPosition)]) -> Result<()> {
        let mut state = self.pager.state_write();
        // Every page with a frame in this commit too: one spilled and then freed leaves a frame
        // that recovery indexes, and a checkpoint would copy it over the file.
        let touched = self.changes.allocated.iter().chain(&self.changes.freed);
        let framed = self.appended_last.keys();
        state.touched_in_generation.extend(touched.chain(framed).copied());
        for &page_id in &self.changes.home {
            // No commit of this log generation touched it, so the index holds nothing of it;
            // a cached image (of its life before the log restarted, or of a page past an
            // earlier end of the file) stays visible only to snapshots that cannot read it.
            state.index.forget(page_id);
            if let Some(cache) = &self.pager.cache {
                cache.supersede(page_id, commit_lsn);
            }
        }
        for &(page_id, position) in positions {
            state.index.insert(page_id, commit_lsn, position);
            if let Some(cache) = &self.pager.cache {
                // Under the state write lock: no load runs meanwhile, and a reader that takes
                // this commit's snapshot (published below) no longer hits the older version.
                cache.supersede(page_id, commit_lsn);
            }
        }
        state.roots.push(commit_lsn, self.changes.roots);
        for (slot, root) in self.changes.roots.into_iter().enumerate() {
            state.file.set_root(slot, root)?;
        }
        // Published while the state is write-locked: a reader that takes this snapshot reads
        // only after the lock is released, with the index complete.
        self.pager.snapshots.publish(commit_lsn, self.changes.roots);
        Ok(())
    }

    fn rollback(&mut self) {
        if self.finished {
            return;
        }
        self.finished = true;
        self.log.abort();
        self.release_reservation();
        let mut state = self.pager.state_write();
        let undo = self.changes.allocated.iter().map(|&page| (page, false));
        let redo = self.changes.freed.iter().map(|&page| (page, true));
        for (page_id, allocated) in undo.chain(redo) {
            // Only fails on a poisoned file, after which nothing is used before a reopen.
            let _ = state.file.set_allocation(page_id, allocated);
        }
        self.pager.counters.aborts.fetch_add(1, Ordering::Relaxed);
    }

    fn ensure_allocated(&self, page_id: PageId) -> Result<()> {
        if self.pager.state_read().file.is_allocated(page_id) {
            Ok(())
        } else {
            Err(Error::NotAllocated { page_id })
        }
    }
}

impl<L: PageLog> std::fmt::Debug for WriteTxn<'_, L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteTxn")
            .field("dirty", &self.changes.dirty.len())
            .field("allocated", &self.changes.allocated.len())
            .field("freed", &self.changes.freed.len())
            .field("savepoints", &self.savepoints.len())
            .finish_non_exhaustive()
    }
}

impl<L: PageLog> PageRead for WriteTxn<'_, L> {
    fn page_size(&self) -> PageSize {
        self.pager.page_size
    }

    fn read_page(&self, page_id: PageId) -> Result<PageGuard<'_>> {
        if let Some(dirty) = self.changes.dirty.get(&page_id) {
            // The caller reads it next, most often with a binary search: its lines are fetched
            // at once.
            crate::page::prefetch(&dirty.page);
            return Ok(PageGuard::borrowed(&dirty.page));
        }
        if let Some(&position) = self.changes.spilled.get(&page_id) {
            let mut page = PageBuf::for_overwrite(self.pager.page_size);
            self.log.read_page(position, &mut page)?;
            return Ok(PageGuard::owned(page));
        }
        if self.changes.home.contains(&page_id) {
            // Around the cache: this image is not committed.
            let mut page = PageBuf::for_overwrite(self.pager.page_size);
            self.pager.state_read().file.read_page(page_id, &mut page)?;
            return Ok(PageGuard::owned(page));
        }
        self.pager.read_at(self.pager.last_commit(), page_id)
    }

    fn root(&self, slot: usize) -> Option<PageId> {
        self.changes.roots[slot]
    }

    /// Pages this transaction changed are read as `read_page` reads them; each stretch of
    /// pages it has not changed is streamed as the last commit has them (`Pager::stream_at`:
    /// runs read at once, around the cache).
    fn stream_pages(
        &self,
        page_ids: &[PageId],
        visit: &mut dyn FnMut(&crate::Page) -> bool,
    ) -> Result<()> {
        let changed = |page_id: &PageId| {
            self.changes.dirty.contains_key(page_id)
                || self.changes.spilled.contains_key(page_id)
                || self.changes.home.contains(page_id)
        };
        let mut start = 0;
        while start < page_ids.len() {
            if changed(&page_ids[start]) {
                if !visit(&self.read_page(page_ids[start])?) {
                    return Ok(());
                }
                start += 1;
                continue;
            }
            let end =
                page_ids[start..].iter().position(changed).map_or(page_ids.len(), |n| start + n);
            let mut going = true;
            let stretch = &page_ids[start..end];
            self.pager.stream_at(self.pager.last_commit(), stretch, &mut |page| {
                going = visit(page);
                going
            })?;
            if !going {
                return Ok(());
            }
            debug_assert!(end > start);
            start = end;
        }
        Ok(())
    }

    /// Pages this transaction has not changed are hinted as the last commit has them.
    fn prefetch(&self, page_ids: &[PageId]) {
        let committed: Vec<PageId> = page_ids
            .iter()
            .copied()
            .filter(|page_id| {
                !self.changes.dirty.contains_key(page_id)
                    && !self.changes.spilled.contains_key(page_id)
                    && !self.changes.home.contains(page_id)
            })
            .collect();
        self.pager.prefetch(self.pager.last_commit(), &committed);
    }
}

impl<L: PageLog> PageWrite for WriteTxn<'_, L> {
    fn allocate(&mut self) -> Result<PageId> {
        self.pager.ensure_healthy()?;
        let page_id = self.pager.state_write().file.allocate_from(self.allocation_floor)?;
        // A page this transaction freed and takes back is simply still allocated.
        if !self.changes.freed.remove(&page_id) {
            self.changes.allocated.insert(page_id);
        }
        Ok(page_id)
    }

    fn write_page(&mut self, page_id: PageId, page: PageBuf) -> Result<()> {
        self.pager.ensure_healthy()?;
        if page.page_size() != self.page_size() {
            return Err(Error::Misuse(format!("a {}-byte page buffer", page.page_size().bytes())));
        }
        if PageType::user(page.page_type().get()).is_none() {
            let kind = page.page_type().get();
            return Err(Error::Misuse(format!("page type {kind} is not a user page type")));
        }
        self.ensure_allocated(page_id)?;
        self.changes.spilled.remove(&page_id);
        self.writes += 1;
        self.changes.dirty.insert(page_id, Dirty { page, written_at: self.writes });
        if self.changes.dirty.len() > self.pager.options.dirty_pages_max {
            self.spill_coldest()?;
        }
        self.report_reserved();
        Ok(())
    }

    fn holds(&self, page_id: PageId) -> bool {
        self.changes.dirty.contains_key(&page_id)
    }

    fn page_mut(&mut self, page_id: PageId) -> Result<Option<&mut PageBuf>> {
        self.pager.ensure_healthy()?;
        let Some(dirty) = self.changes.dirty.get_mut(&page_id) else { return Ok(None) };
        self.writes += 1;
        dirty.written_at = self.writes;
        Ok(Some(&mut dirty.page))
    }

    fn free(&mut self, page_id: PageId) -> Result<()> {
        self.pager.ensure_healthy()?;
        if self.changes.roots.contains(&Some(page_id)) {
            return Err(Error::Misuse(format!("{page_id} is a root; move the root first")));
        }
        self.ensure_allocated(page_id)?;
        self.pager.state_write().file.set_allocation(page_id, false)?;
        self.changes.dirty.remove(&page_id);
        self.changes.spilled.remove(&page_id);
        self.changes.home.remove(&page_id);
        if !self.changes.allocated.remove(&page_id) {
            self.changes.freed.insert(page_id);
        }
        Ok(())
    }

    fn set_root(&mut self, slot: usize, page_id: Option<PageId>) -> Result<()> {
        if slot >= ROOT_SLOTS {
            return Err(Error::Misuse(format!("root slot {slot} (there are {ROOT_SLOTS})")));
        }
        if let Some(page_id) = page_id {
            self.ensure_allocated(page_id)?;
        }
        self.changes.roots[slot] = page_id;
        Ok(())
    }
}

impl<L: PageLog> Drop for WriteTxn<'_, L> {
    fn drop(&mut self) {
        self.rollback();
    }
}

fn now_ms() -> u64 {
    let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    since_epoch.map_or(0, |duration| duration.as_millis() as u64)
}
