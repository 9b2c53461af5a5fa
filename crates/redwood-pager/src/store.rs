//! The capabilities the B+Tree and overflow chains get from a transaction: reading pages, and,
//! for a write transaction only, allocating, writing and freeing them. A read transaction's type
//! does not implement `PageWrite`, so it cannot allocate.

use crate::limits::ROOT_SLOTS;
use crate::{Page, PageBuf, PageGuard, PageId, PageSize, Result};

/// Read access to the pages of one snapshot.
pub trait PageRead {
    /// The database's page size.
    fn page_size(&self) -> PageSize;

    /// The version of `page_id` this transaction sees, verified, as a guard over its bytes
    /// (pinned in the cache, or the transaction's own changed page): nothing is copied on a
    /// cache hit.
    fn read_page(&self, page_id: PageId) -> Result<PageGuard<'_>>;

    /// The page anchored in root `slot` in this transaction's view.
    fn root(&self, slot: usize) -> Option<PageId>;

    /// Reads `page_ids` in order, each the version this transaction sees, verified as
    /// [`PageRead::read_page`] verifies it, and hands each to `visit` until `visit` returns
    /// `false`. For pages read once and not again soon (an overflow chain's): a store may read a
    /// run of them in one I/O and around its cache, so they neither displace the pages the cache
    /// holds nor pay a system call each. Pages the cache holds are still served from it. The
    /// default reads them one by one with `read_page`.
    fn stream_pages(
        &self,
        page_ids: &[PageId],
        visit: &mut dyn FnMut(&Page) -> bool,
    ) -> Result<()> {
        for &page_id in page_ids {
            if !visit(&self.read_page(page_id)?) {
                break;
            }
        }
        Ok(())
    }

    /// A hint that `page_ids` will be read soon (a scan's next leaf, an overflow chain's next
    /// pages): a store with a cache may load them in the background. It changes no result;
    /// the default ignores it.
    fn prefetch(&self, page_ids: &[PageId]) {
        let _ = page_ids;
    }
}

/// Write access: only a write transaction has it.
pub trait PageWrite: PageRead {
    /// Allocates a page for this transaction; its contents are undefined until written.
    fn allocate(&mut self) -> Result<PageId>;

    /// Replaces the contents of allocated page `page_id` in this transaction. The page's header
    /// must carry its page type; the transaction seals it at commit.
    fn write_page(&mut self, page_id: PageId, page: PageBuf) -> Result<()>;

    /// This transaction's own in-memory image of `page_id`, to change in place, if it holds
    /// one (written in this transaction and not written out since); `None` otherwise, and the
    /// caller writes a new image with [`PageWrite::write_page`]. A page changed in place
    /// counts as written again. The caller keeps the header's page type and the contents
    /// valid; the transaction seals the page when it writes it out. The default holds none.
    fn page_mut(&mut self, page_id: PageId) -> Result<Option<&mut PageBuf>> {
        let _ = page_id;
        Ok(None)
    }

    /// Whether [`PageWrite::page_mut`] would hand out `page_id`: the page is this transaction's
    /// own image, written by it, so a layer that checked the page when it first loaded or built
    /// it may read it again without checking it again. Changes nothing (unlike `page_mut`,
    /// which counts as a write). The default holds none.
    fn holds(&self, page_id: PageId) -> bool {
        let _ = page_id;
        false
    }

    /// Frees an allocated page.
    fn free(&mut self, page_id: PageId) -> Result<()>;

    /// Anchors `page_id` (or nothing) in root `slot`.
    fn set_root(&mut self, slot: usize, page_id: Option<PageId>) -> Result<()>;
}

const _: () = assert!(ROOT_SLOTS > 0);
