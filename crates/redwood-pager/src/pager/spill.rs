//! Where a write transaction's changed pages go when memory is short and at commit: the
//! coldest pages first, each new page straight to its home location in the data files, every
//! other page to the log once. Changed pages count against the cache's budget
//! (`PageCache::set_reserved`), so the two together stay within it.

use super::write::WriteTxn;
use crate::error::Result;
use crate::{PageBuf, PageId, PageLog};

/// The share of a dirty set written out when it reaches its limit: a quarter, so a spill is
/// one batch of writes, and the three quarters written most recently (the likeliest to change
/// again) stay in memory.
const SPILL_DIVISOR: usize = 4;

/// New pages at commit below this count go to the log with the rest (one sync); from it on,
/// they go to their home location (a sync of the data files, then of the log), which keeps a
/// bulk load's pages out of the log and written once.
pub(super) const HOME_WRITE_MIN_PAGES: usize = 64;

/// The dirty-page count reported to the cache changes in steps of this many pages.
const RESERVE_STEP_PAGES: usize = 64;

impl<L: PageLog> WriteTxn<'_, L> {
    /// Writes out the coldest quarter of the dirty pages (by when each was last written), so
    /// memory stays bounded whatever the transaction's size; readers never see them, and a
    /// crash drops them.
    pub(super) fn spill_coldest(&mut self) -> Result<()> {
        let mut by_age: Vec<(u64, PageId)> = self
            .changes
            .dirty
            .iter()
            .map(|(&page_id, dirty)| (dirty.written_at, page_id))
            .collect();
        let count = (by_age.len() / SPILL_DIVISOR).max(1);
        by_age.select_nth_unstable(count - 1);
        let mut coldest: Vec<PageId> =
            by_age[..count].iter().map(|&(_, page_id)| page_id).collect();
        // In page order: new pages then reach the data files front to back, runs of
        // consecutive ones as one write.
        coldest.sort_unstable();
        let mut home = Vec::new();
        for page_id in coldest {
            let page = self.changes.dirty.remove(&page_id).expect("a dirty page").page;
            if self.may_write_home(page_id) {
                home.push(self.sealed_for_home(page_id, page));
            } else {
                self.log_page(page_id, page)?;
            }
        }
        self.write_home(&home)?;
        debug_assert!(self.changes.dirty.len() <= self.pager.options.dirty_pages_max);
        Ok(())
    }

    /// At commit: every page still dirty is written out. New pages go home when there are
    /// enough of them (or some already went home, so the data files are synced anyway); then
    /// the data files are synced if any page went home, before the commit record is appended.
    pub(super) fn write_out_at_commit(&mut self) -> Result<()> {
        let new_pages = self.changes.dirty.keys().filter(|&&id| self.may_write_home(id)).count();
        let home = !self.changes.home.is_empty() || new_pages >= HOME_WRITE_MIN_PAGES;
        let mut dirty: Vec<(PageId, PageBuf)> = std::mem::take(&mut self.changes.dirty)
            .into_iter()
            .map(|(page_id, dirty)| (page_id, dirty.page))
            .collect();
        // In page order, so runs of new pages go out as one write.
        dirty.sort_unstable_by_key(|&(page_id, _)| page_id);
        let mut batch = Vec::new();
        for (page_id, page) in dirty {
            if home && self.may_write_home(page_id) {
                batch.push(self.sealed_for_home(page_id, page));
                if batch.len() == crate::limits::WRITE_RUN_PAGES_MAX {
                    self.write_home(&std::mem::take(&mut batch))?;
                }
            } else {
                self.log_page(page_id, page)?;
            }
        }
        self.write_home(&batch)?;
        if !self.changes.home.is_empty() {
            let synced = self.pager.state_read().file.sync_pages();
            synced.inspect_err(|error| self.pager.poison(error))?;
        }
        Ok(())
    }

    /// Whether `page_id` may go to its home location: a page this transaction allocated that
    /// no snapshot and no state recovery can return to holds, so overwriting the file loses
    /// nothing: one no commit ever allocated (at or past the page count the transaction began
    /// with), or one free since the log last restarted (no commit of this generation allocated
    /// or freed it, so the log has no image of it either). Not if it has a frame in this
    /// transaction's log (recovery would take that frame over the file), nor with a savepoint
    /// to roll back to (a rollback could not undo an overwrite of the file).
    fn may_write_home(&self, page_id: PageId) -> bool {
        self.pager.options.home_writes
            && self.savepoints.is_empty()
            && !self.appended_last.contains_key(&page_id)
            && (page_id.get() >= self.base_page_count
                || (self.changes.allocated.contains(&page_id)
                    && !self.pager.state_read().touched_in_generation.contains(page_id)))
    }

    fn log_page(&mut self, page_id: PageId, mut page: PageBuf) -> Result<()> {
        let position = self.append_sealed(page_id, &mut page)?;
        self.changes.home.remove(&page_id);
        self.changes.spilled.insert(page_id, position);
        Ok(())
    }

    /// Seals a page bound for its home location (with the LSN the log is at).
    fn sealed_for_home(&self, page_id: PageId, mut page: PageBuf) -> PageBuf {
        debug_assert!(self.may_write_home(page_id));
        let page_type = page.page_type();
        page.seal(page_id, page_type, self.log.next_lsn());
        page
    }

    /// Writes sealed new pages (in page order) to their home location, runs of consecutive
    /// pages as one write.
    fn write_home(&mut self, pages: &[PageBuf]) -> Result<()> {
        if pages.is_empty() {
            return Ok(());
        }
        let written = self.pager.state_read().file.write_pages(pages);
        written.inspect_err(|error| self.pager.poison(error))?;
        for page in pages {
            self.changes.spilled.remove(&page.page_id());
            self.changes.home.insert(page.page_id());
        }
        Ok(())
    }

    /// Tells the cache how many dirty pages this transaction holds, in steps.
    pub(super) fn report_reserved(&mut self) {
        let dirty = self.changes.dirty.len();
        if dirty.abs_diff(self.reserved_reported) >= RESERVE_STEP_PAGES {
            self.reserved_reported = dirty;
            if let Some(cache) = &self.pager.cache {
                cache.set_reserved(dirty);
            }
        }
    }

    /// Gives the cache its whole budget back (the transaction's pages are written out or
    /// dropped).
    pub(super) fn release_reservation(&mut self) {
        if self.reserved_reported != 0 {
            self.reserved_reported = 0;
            if let Some(cache) = &self.pager.cache {
                cache.set_reserved(0);
            }
        }
    }
}
