//! `PageGuard`: the view of one page version that [`crate::PageRead::read_page`] hands out. It
//! derefs to the verified page bytes wherever they live, and holds whatever keeps them there
//! (a pin on a cache frame, or a borrow of a write transaction's changed page) until it drops.
//!
//! The pin's release is `unsafe` (`PageCache::unpin`): a cache reuses an unpinned frame, so a
//! pin released twice would let it overwrite bytes a guard still shows. Only this module
//! releases pins, once per guard.
#![expect(
    unsafe_code,
    reason = "PageGuard::pinned is unsafe, and its clone and drop copy and release pins"
)]

use std::ops::Deref;

use crate::{Page, PageBuf, PageCache};

/// A pinned, verified, immutable view of one page version. While it lives, the bytes it shows
/// do not change: a cache frame it pins is neither evicted nor reloaded.
pub struct PageGuard<'a> {
    inner: Inner<'a>,
}

enum Inner<'a> {
    /// A page the store holds in place (a write transaction's changed page).
    Borrowed(&'a Page),
    /// A page read around any cache (no cache, an older snapshot's version, every frame
    /// pinned): the guard owns its buffer.
    Owned(PageBuf),
    /// A cache frame, pinned until the guard drops.
    Pinned { page: &'a Page, cache: &'a dyn PageCache, frame: u32 },
}

impl<'a> PageGuard<'a> {
    /// A guard over a page the store holds in place for at least `'a`.
    pub fn borrowed(page: &'a Page) -> Self {
        Self { inner: Inner::Borrowed(page) }
    }

    /// A guard that owns its page.
    pub fn owned(page: PageBuf) -> Self {
        Self { inner: Inner::Owned(page) }
    }

    /// A guard over cache frame `frame`, which the caller has pinned for it: dropping the guard
    /// calls [`PageCache::unpin`] with `frame` once. For cache implementations.
    ///
    /// # Safety
    /// The caller holds one pin on `frame` that it hands to this guard (and releases no other
    /// way), and `page` is that frame's bytes, which do not change while the pin is held.
    pub unsafe fn pinned(page: &'a Page, cache: &'a dyn PageCache, frame: u32) -> Self {
        Self { inner: Inner::Pinned { page, cache, frame } }
    }

    /// The guarded page.
    pub fn page(&self) -> &Page {
        match &self.inner {
            Inner::Borrowed(page) | Inner::Pinned { page, .. } => page,
            Inner::Owned(page) => page,
        }
    }

    /// Whether the page is a pinned cache frame (for tests and diagnostics).
    pub fn is_cached(&self) -> bool {
        matches!(self.inner, Inner::Pinned { .. })
    }

    /// An owned copy of the page.
    pub fn to_page_buf(&self) -> PageBuf {
        self.page().to_page_buf()
    }
}

impl Deref for PageGuard<'_> {
    type Target = Page;

    fn deref(&self) -> &Page {
        self.page()
    }
}

impl Clone for PageGuard<'_> {
    /// Another view of the same page: one more pin on a cache frame (no copy), or a copy of an
    /// owned page.
    fn clone(&self) -> Self {
        let inner = match &self.inner {
            Inner::Borrowed(page) => Inner::Borrowed(page),
            Inner::Owned(page) => Inner::Owned(page.clone()),
            Inner::Pinned { page, cache, frame } => {
                // SAFETY: this guard holds a pin on `frame`; the new pin goes to the clone,
                // whose drop releases it.
                unsafe { cache.repin(*frame) };
                Inner::Pinned { page, cache: *cache, frame: *frame }
            }
        };
        Self { inner }
    }
}

impl Drop for PageGuard<'_> {
    fn drop(&mut self) {
        if let Inner::Pinned { cache, frame, .. } = &self.inner {
            // SAFETY: the pin was handed to this guard (`PageGuard::pinned` or a clone) and is
            // released here, once.
            unsafe { cache.unpin(*frame) };
        }
    }
}

impl std::fmt::Debug for PageGuard<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match &self.inner {
            Inner::Borrowed(_) => "borrowed",
            Inner::Owned(_) => "owned",
            Inner::Pinned { .. } => "pinned",
        };
        f.debug_struct("PageGuard")
            .field("kind", &kind)
            .field("page_id", &self.page().page_id())
            .finish()
    }
}
