//! Test support for the layers above the pager (feature `sim`): `MemPageStore`, the pager's
//! `PageRead`/`PageWrite` capabilities over a map in memory, with no transactions, log or files.
//! Pages are sealed on write and verified on read as the real store does, so code written
//! against the capabilities (the B+Tree, overflow chains) can be tested on its own, and its reads
//! and prefetch hints observed.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};

use crate::limits::ROOT_SLOTS;
use crate::{Error, Lsn, PageBuf, PageGuard, PageId, PageRead, PageSize, PageWrite, Result};

/// The first page id `MemPageStore` hands out (low ids stand for nothing in particular).
const FIRST_PAGE_ID: u64 = 101;

/// A page store in memory (see the module docs). Pages are allocated in ascending order, so a
/// run of allocations is contiguous, as on a fresh page file.
#[derive(Default)]
pub struct MemPageStore {
    page_size: Option<PageSize>,
    pages: BTreeMap<PageId, PageBuf>,
    allocated: BTreeSet<PageId>,
    /// Pages handed out by `page_mut` and not written since: their seal is stale.
    unsealed: BTreeSet<PageId>,
    allocations: u64,
    roots: [Option<PageId>; ROOT_SLOTS],
    reads: Cell<u64>,
    recording: Cell<bool>,
    accesses: RefCell<Vec<Access>>,
}

/// One access to a `MemPageStore`, as recorded while recording is on.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Access {
    /// A page was read.
    Read(PageId),
    /// A page was hinted with `PageRead::prefetch`.
    Hint(PageId),
    /// `PageRead::stream_pages` was asked for this many consecutive pages from this one.
    Stream(PageId, u64),
}

impl MemPageStore {
    /// An empty store of `page_size` pages (the default store uses the default page size).
    pub fn new(page_size: PageSize) -> Self {
        Self { page_size: Some(page_size), ..Self::default() }
    }

    /// The pages allocated and not freed.
    pub fn allocated(&self) -> &BTreeSet<PageId> {
        &self.allocated
    }

    /// Page reads since the store was made or `reset_reads`.
    pub fn reads(&self) -> u64 {
        self.reads.get()
    }

    /// Restarts the read count.
    pub fn reset_reads(&self) {
        self.reads.set(0);
    }

    /// Clears the recorded accesses and starts (or stops) recording reads and hints in order.
    pub fn record_accesses(&self, on: bool) {
        self.accesses.borrow_mut().clear();
        self.recording.set(on);
    }

    /// The accesses recorded so far.
    pub fn accesses(&self) -> Vec<Access> {
        self.accesses.borrow().clone()
    }

    fn record(&self, access: Access) {
        if self.recording.get() {
            self.accesses.borrow_mut().push(access);
        }
    }
}

impl PageRead for MemPageStore {
    fn page_size(&self) -> PageSize {
        self.page_size.unwrap_or(PageSize::DEFAULT)
    }

    fn read_page(&self, page_id: PageId) -> Result<PageGuard<'_>> {
        self.reads.set(self.reads.get() + 1);
        self.record(Access::Read(page_id));
        let stored = self.pages.get(&page_id).ok_or(Error::NotAllocated { page_id })?;
        if !self.unsealed.contains(&page_id) {
            stored.verify(page_id)?;
        }
        Ok(PageGuard::borrowed(stored))
    }

    fn root(&self, slot: usize) -> Option<PageId> {
        self.roots[slot]
    }

    fn prefetch(&self, page_ids: &[PageId]) {
        for &page_id in page_ids {
            self.record(Access::Hint(page_id));
        }
    }

    /// Like the pager's: each run of consecutive pages is read and verified before its first
    /// page is visited (one read of the run, recorded as one `Access::Stream`), so a page that
    /// is not there fails the call before any page of its run is visited.
    fn stream_pages(
        &self,
        page_ids: &[PageId],
        visit: &mut dyn FnMut(&crate::Page) -> bool,
    ) -> Result<()> {
        let mut start = 0;
        while start < page_ids.len() {
            let mut end = start + 1;
            while end < page_ids.len() && page_ids[end].get() == page_ids[end - 1].get() + 1 {
                end += 1;
            }
            let run = &page_ids[start..end];
            self.record(Access::Stream(run[0], run.len() as u64));
            let mut pages = Vec::with_capacity(run.len());
            for &page_id in run {
                let stored = self.pages.get(&page_id).ok_or(Error::NotAllocated { page_id })?;
                if !self.unsealed.contains(&page_id) {
                    stored.verify(page_id)?;
                }
                pages.push(stored);
            }
            self.reads.set(self.reads.get() + pages.len() as u64);
            for page in pages {
                if !visit(page) {
                    return Ok(());
                }
            }
            start = end;
        }
        Ok(())
    }
}

impl PageWrite for MemPageStore {
    fn allocate(&mut self) -> Result<PageId> {
        let page_id = PageId::new(FIRST_PAGE_ID + self.allocations);
        self.allocations += 1;
        self.allocated.insert(page_id);
        Ok(page_id)
    }

    fn write_page(&mut self, page_id: PageId, mut page: PageBuf) -> Result<()> {
        if !self.allocated.contains(&page_id) {
            return Err(Error::NotAllocated { page_id });
        }
        let page_type = page.page_type();
        page.seal(page_id, page_type, Lsn::new(1));
        self.unsealed.remove(&page_id);
        self.pages.insert(page_id, page);
        Ok(())
    }

    /// Every stored page is this store's own: handed out to change in place, and verified
    /// again only once it is written (sealed) again.
    fn page_mut(&mut self, page_id: PageId) -> Result<Option<&mut PageBuf>> {
        if !self.allocated.contains(&page_id) {
            return Err(Error::NotAllocated { page_id });
        }
        let Some(page) = self.pages.get_mut(&page_id) else { return Ok(None) };
        self.unsealed.insert(page_id);
        Ok(Some(page))
    }

    fn free(&mut self, page_id: PageId) -> Result<()> {
        self.unsealed.remove(&page_id);
        self.pages.remove(&page_id);
        self.allocated.remove(&page_id).then_some(()).ok_or(Error::NotAllocated { page_id })
    }

    fn set_root(&mut self, slot: usize, page_id: Option<PageId>) -> Result<()> {
        self.roots[slot] = page_id;
        Ok(())
    }
}
