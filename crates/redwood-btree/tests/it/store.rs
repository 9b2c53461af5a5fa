//! A page store in memory for the tree tests: the pager's `PageRead`/`PageWrite` over a map,
//! verifying every page on read as the real store does. It keeps the B+Tree tests independent
//! of the log and the pager's transactions.

use std::collections::{BTreeMap, BTreeSet};

use redwood_pager::limits::ROOT_SLOTS;
use redwood_pager::{Error, Lsn, PageBuf, PageId, PageRead, PageSize, PageWrite, Result};

#[derive(Default)]
pub struct MemStore {
    /// Page reads so far, to prove what a scan reads.
    pub reads: std::cell::Cell<u64>,
    pages: BTreeMap<PageId, PageBuf>,
    allocated: BTreeSet<PageId>,
    next: u64,
    roots: [Option<PageId>; ROOT_SLOTS],
}

impl MemStore {
    pub fn allocated(&self) -> &BTreeSet<PageId> {
        &self.allocated
    }
}

impl PageRead for MemStore {
    fn page_size(&self) -> PageSize {
        PageSize::DEFAULT
    }

    fn read_page(&self, page_id: PageId, page: &mut PageBuf) -> Result<()> {
        self.reads.set(self.reads.get() + 1);
        let stored = self.pages.get(&page_id).ok_or(Error::NotAllocated { page_id })?;
        page.as_mut_bytes().copy_from_slice(stored.as_bytes());
        page.verify(page_id)
    }

    fn root(&self, slot: usize) -> Option<PageId> {
        self.roots[slot]
    }
}

impl PageWrite for MemStore {
    fn allocate(&mut self) -> Result<PageId> {
        self.next += 1;
        let page_id = PageId::new(100 + self.next);
        self.allocated.insert(page_id);
        Ok(page_id)
    }

    fn write_page(&mut self, page_id: PageId, mut page: PageBuf) -> Result<()> {
        if !self.allocated.contains(&page_id) {
            return Err(Error::NotAllocated { page_id });
        }
        let page_type = page.page_type();
        page.seal(page_id, page_type, Lsn::new(1));
        self.pages.insert(page_id, page);
        Ok(())
    }

    fn free(&mut self, page_id: PageId) -> Result<()> {
        self.pages.remove(&page_id);
        self.allocated.remove(&page_id).then_some(()).ok_or(Error::NotAllocated { page_id })
    }

    fn set_root(&mut self, slot: usize, page_id: Option<PageId>) -> Result<()> {
        self.roots[slot] = page_id;
        Ok(())
    }
}
