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
    Durability, LogPosition, Lsn, PageBuf, PageId, PageLog, PageRead, PageSize, PageType,
    PageWrite, RestorePoint, TransactionChanges,
};

/// The write transaction. Commit makes all of it visible and durable at once; dropping it
/// without committing aborts it.
pub struct WriteTxn<'p, L: PageLog> {
    pager: &'p Pager<L>,
    log: MutexGuard<'p, L>,
    dirty: BTreeMap<PageId, PageBuf>,
    allocated: BTreeSet<PageId>,
    freed: BTreeSet<PageId>,
    roots: Roots,
    finished: bool,
}

impl<'p, L: PageLog> WriteTxn<'p, L> {
    pub(super) fn new(pager: &'p Pager<L>, log: MutexGuard<'p, L>, roots: Roots) -> Self {
        let (dirty, allocated, freed) = Default::default();
        Self { pager, log, dirty, allocated, freed, roots, finished: false }
    }

    /// Records a named restore point in this transaction.
    pub fn restore_point(&mut self, name: &str, timestamp_ms: u64) -> Result<Lsn> {
        let point = RestorePoint { name: name.to_owned(), timestamp_ms };
        self.log.append_restore_point(&point).inspect_err(|_| self.pager.poison())
    }

    /// Pages changed so far in this transaction.
    pub fn dirty_page_count(&self) -> usize {
        self.dirty.len()
    }

    /// Commits: appends every changed page and a commit record to the log, syncs it once with
    /// [`Durability::Immediate`], then publishes the new state to new readers. Returns the
    /// commit LSN (the last commit's, if the transaction changed nothing). A failure poisons the
    /// pager: reopening recovers a state with all of this transaction or none of it.
    pub fn commit(mut self, durability: Durability) -> Result<Lsn> {
        self.pager.ensure_healthy()?;
        self.finished = true;
        let unchanged = self.dirty.is_empty()
            && self.allocated.is_empty()
            && self.freed.is_empty()
            && self.roots == self.pager.state_read().roots.latest();
        if unchanged {
            self.log.abort();
            self.pager.counters.commits.fetch_add(1, Ordering::Relaxed);
            return Ok(self.pager.last_commit());
        }
        let result = self.write_to_log(durability);
        let (commit_lsn, positions) = result.inspect_err(|_| self.pager.poison())?;
        self.pager.log_bytes.store(self.log.size_bytes(), Ordering::Relaxed);
        self.publish(commit_lsn, &positions).inspect_err(|_| self.pager.poison())?;
        self.pager.counters.commits.fetch_add(1, Ordering::Relaxed);
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
        let mut positions = Vec::with_capacity(self.dirty.len());
        for (&page_id, page) in &mut self.dirty {
            let lsn = self.log.next_lsn();
            let page_type = page.page_type();
            page.seal(page_id, page_type, lsn);
            positions.push((page_id, self.log.append_page(page)?));
        }
        let changes = TransactionChanges {
            timestamp_ms: now_ms(),
            page_count: self.pager.state_read().file.page_count(),
            roots: self.roots,
            allocated: self.allocated.iter().copied().collect(),
            freed: self.freed.iter().copied().collect(),
        };
        let commit_lsn = self.log.commit(changes, durability)?;
        Ok((commit_lsn, positions))
    }

    /// Makes the commit visible: index its page versions, record its roots, move the file's
    /// roots (which must agree with its free-space map at the next checkpoint).
    fn publish(&mut self, commit_lsn: Lsn, positions: &[(PageId, LogPosition)]) -> Result<()> {
        let mut state = self.pager.state_write();
        for &(page_id, position) in positions {
            state.index.insert(page_id, commit_lsn, position);
        }
        state.roots.push(commit_lsn, self.roots);
        for (slot, root) in self.roots.into_iter().enumerate() {
            state.file.set_root(slot, root)?;
        }
        state.last_commit = commit_lsn;
        Ok(())
    }

    fn rollback(&mut self) {
        if self.finished {
            return;
        }
        self.finished = true;
        self.log.abort();
        let mut state = self.pager.state_write();
        let undo = self.allocated.iter().map(|&page| (page, false));
        for (page_id, allocated) in undo.chain(self.freed.iter().map(|&page| (page, true))) {
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
            .field("dirty", &self.dirty.len())
            .field("allocated", &self.allocated.len())
            .field("freed", &self.freed.len())
            .finish_non_exhaustive()
    }
}

impl<L: PageLog> PageRead for WriteTxn<'_, L> {
    fn page_size(&self) -> PageSize {
        self.pager.state_read().file.page_size()
    }

    fn read_page(&self, page_id: PageId, page: &mut PageBuf) -> Result<()> {
        if let Some(dirty) = self.dirty.get(&page_id) {
            page.as_mut_bytes().copy_from_slice(dirty.as_bytes());
            return Ok(());
        }
        self.pager.read_at(self.pager.last_commit(), page_id, page)
    }

    fn root(&self, slot: usize) -> Option<PageId> {
        self.roots[slot]
    }
}

impl<L: PageLog> PageWrite for WriteTxn<'_, L> {
    fn allocate(&mut self) -> Result<PageId> {
        self.pager.ensure_healthy()?;
        let page_id = self.pager.state_write().file.allocate()?;
        // A page this transaction freed and takes back is simply still allocated.
        if !self.freed.remove(&page_id) {
            self.allocated.insert(page_id);
        }
        Ok(page_id)
    }

    fn write_page(&mut self, page_id: PageId, page: PageBuf) -> Result<()> {
        self.pager.ensure_healthy()?;
        if page.page_size() != self.page_size() {
            return Err(Error::InvalidOption(format!(
                "a {}-byte page buffer",
                page.page_size().bytes()
            )));
        }
        if PageType::user(page.page_type().get()).is_none() {
            let kind = page.page_type().get();
            return Err(Error::InvalidOption(format!("page type {kind} is not a user page type")));
        }
        self.ensure_allocated(page_id)?;
        self.dirty.insert(page_id, page);
        Ok(())
    }

    fn free(&mut self, page_id: PageId) -> Result<()> {
        self.pager.ensure_healthy()?;
        if self.roots.contains(&Some(page_id)) {
            return Err(Error::InvalidOption(format!("{page_id} is a root; move the root first")));
        }
        self.ensure_allocated(page_id)?;
        self.pager.state_write().file.set_allocation(page_id, false)?;
        self.dirty.remove(&page_id);
        if !self.allocated.remove(&page_id) {
            self.freed.insert(page_id);
        }
        Ok(())
    }

    fn set_root(&mut self, slot: usize, page_id: Option<PageId>) -> Result<()> {
        if slot >= ROOT_SLOTS {
            return Err(Error::InvalidOption(format!("root slot {slot} (there are {ROOT_SLOTS})")));
        }
        if let Some(page_id) = page_id {
            self.ensure_allocated(page_id)?;
        }
        self.roots[slot] = page_id;
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
