//! `ReadTxn`: a snapshot of the database as of the last commit when it began.

use super::Pager;
use super::index::Roots;
use crate::error::Result;
use crate::{Lsn, Page, PageGuard, PageId, PageLog, PageRead, PageSize};

/// A read transaction: every read sees the database as of its snapshot, whatever commits or
/// checkpoints happen meanwhile. Dropping it releases the snapshot.
pub struct ReadTxn<'p, L: PageLog> {
    pager: &'p Pager<L>,
    snapshot: Lsn,
    /// The root slots as of the snapshot.
    roots: Roots,
}

impl<'p, L: PageLog> ReadTxn<'p, L> {
    pub(super) fn new(pager: &'p Pager<L>, snapshot: Lsn, roots: Roots) -> Self {
        Self { pager, snapshot, roots }
    }

    /// The commit LSN this transaction sees.
    pub fn snapshot(&self) -> Lsn {
        self.snapshot
    }
}

impl<L: PageLog> std::fmt::Debug for ReadTxn<'_, L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadTxn").field("snapshot", &self.snapshot).finish()
    }
}

impl<L: PageLog> PageRead for ReadTxn<'_, L> {
    fn page_size(&self) -> PageSize {
        self.pager.page_size
    }

    fn read_page(&self, page_id: PageId) -> Result<PageGuard<'_>> {
        self.pager.read_at(self.snapshot, page_id)
    }

    fn root(&self, slot: usize) -> Option<PageId> {
        self.roots[slot]
    }

    fn stream_pages(
        &self,
        page_ids: &[PageId],
        visit: &mut dyn FnMut(&Page) -> bool,
    ) -> Result<()> {
        self.pager.stream_at(self.snapshot, page_ids, visit)
    }

    fn prefetch(&self, page_ids: &[PageId]) {
        self.pager.prefetch(self.snapshot, page_ids);
    }
}

impl<L: PageLog> Drop for ReadTxn<'_, L> {
    fn drop(&mut self) {
        self.pager.release_reader(self.snapshot);
    }
}
