//! The page format shared by every page of every Redwood file: a 32-byte header followed by a
//! body whose layout belongs to the page's owner (see `docs/FORMAT.md`).
//!
//! Every page carries a CRC32C *seeded with its own page id*, so a torn write, bit rot and a page
//! written to the wrong place are all detected on read. Writers `seal` a page right before it is
//! written; readers `verify` it right after it is read.

use std::mem::{offset_of, size_of};

use zerocopy::byteorder::little_endian::{U16, U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use crate::error::{Error, Result};
use crate::limits::{PAGE_SIZE_DEFAULT_BYTES, PAGE_SIZE_MAX_BYTES, PAGE_SIZE_MIN_BYTES};
use crate::{Lsn, PageId};

/// The on-disk format version of pages and meta data written by this build.
pub const FORMAT_VERSION: u8 = 1;

/// Bytes taken by [`PageHeader`] at the start of every page.
pub const PAGE_HEADER_BYTES: usize = 32;

/// The bytes covered by the checksum: everything after the checksum field itself.
const CHECKSUMMED_FROM: usize = offset_of!(PageHeader, page_type);

/// A database's page size: a power of two from 4 KiB to 64 KiB, fixed when it is created.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct PageSize(u32);

impl PageSize {
    /// The default page size (4 KiB).
    pub const DEFAULT: PageSize = PageSize(PAGE_SIZE_DEFAULT_BYTES);

    /// Validates a page size in bytes.
    pub fn new(bytes: u32) -> Result<Self> {
        if !bytes.is_power_of_two() || !(PAGE_SIZE_MIN_BYTES..=PAGE_SIZE_MAX_BYTES).contains(&bytes)
        {
            return Err(Error::InvalidOption(format!(
                "page size {bytes} is not a power of two from {PAGE_SIZE_MIN_BYTES} to \
                 {PAGE_SIZE_MAX_BYTES} bytes"
            )));
        }
        Ok(Self(bytes))
    }

    /// Every valid page size, smallest first.
    pub fn all() -> impl Iterator<Item = PageSize> {
        let smallest = PAGE_SIZE_MIN_BYTES.trailing_zeros();
        let largest = PAGE_SIZE_MAX_BYTES.trailing_zeros();
        (smallest..=largest).map(|shift| PageSize(1 << shift))
    }

    /// The size in bytes.
    pub const fn bytes(self) -> usize {
        self.0 as usize
    }

    /// The size in bytes, as stored on disk.
    pub const fn bytes_u32(self) -> u32 {
        self.0
    }

    /// Bytes available after the page header.
    pub const fn body_bytes(self) -> usize {
        self.bytes() - PAGE_HEADER_BYTES
    }
}

impl Default for PageSize {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// What a page holds. 0 is never valid (a zeroed page is never a valid page); 1–15 belong to the
/// pager; 16–255 to higher layers, each documenting its own values in `docs/FORMAT.md`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct PageType(u8);

impl PageType {
    /// One of the two meta copies (pages 0 and 1).
    pub const META: PageType = PageType(1);
    /// A free-space-map bitmap page.
    pub const FREE_MAP: PageType = PageType(2);
    /// The first value available to layers above the pager.
    pub const FIRST_UNRESERVED: u8 = 16;

    /// A page type for a layer above the pager; `None` for values the pager reserves.
    pub const fn user(value: u8) -> Option<PageType> {
        if value >= Self::FIRST_UNRESERVED { Some(PageType(value)) } else { None }
    }

    /// The raw value stored on disk.
    pub const fn get(self) -> u8 {
        self.0
    }

    /// Whether the pager owns pages of this type (they cannot be written by higher layers).
    pub const fn is_pager_owned(self) -> bool {
        self.0 < Self::FIRST_UNRESERVED
    }
}

/// The header at the start of every page. Integers are little-endian; see `docs/FORMAT.md`.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Debug, Clone, Copy)]
#[repr(C)]
pub struct PageHeader {
    /// CRC32C of bytes 4..page_size, seeded with the page id (see [`page_checksum`]).
    pub checksum: U32,
    /// The [`PageType`] value.
    pub page_type: u8,
    /// [`FORMAT_VERSION`] of the writer.
    pub format_version: u8,
    /// Reserved, zero. Room for per-page flags (e.g. prefix compression).
    pub flags: U16,
    /// The page's own id, so a page found at the wrong place names where it belongs.
    pub page_id: U64,
    /// The log position of the change that last wrote this page.
    pub lsn: U64,
    /// Reserved, zero.
    pub reserved: U64,
}

const _: () = assert!(size_of::<PageHeader>() == PAGE_HEADER_BYTES);
const _: () = assert!(offset_of!(PageHeader, checksum) == 0);
const _: () = assert!(CHECKSUMMED_FROM == size_of::<u32>());

/// The CRC32C of a page's checksummed bytes, seeded with the page id.
pub fn page_checksum(page_id: PageId, page: &[u8]) -> u32 {
    let seed = crc32c::crc32c(&page_id.get().to_le_bytes());
    crc32c::crc32c_append(seed, &page[CHECKSUMMED_FROM..])
}

/// One 4 KiB block, 8-byte aligned; pages are whole numbers of these.
///
/// Not 4 KiB-aligned: no file is opened with `O_DIRECT`, and glibc spends 8 KiB on each
/// 4 KiB-aligned 4 KiB allocation (a 4 KiB hole beside each), which doubled the memory of a
/// large write transaction's changed pages. The cache's frames, which a future direct-I/O path
/// would read into, are 4 KiB-aligned in their slab (`redwood-bufpool`).
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Clone, Copy)]
#[repr(C, align(8))]
struct Block([u8; PAGE_SIZE_MIN_BYTES as usize]);

const _: () = assert!(size_of::<Block>() == PAGE_SIZE_MIN_BYTES as usize);

/// One page image, borrowed: the bytes of a page (a page size's worth), wherever they live (a
/// [`PageBuf`], a buffer-pool frame, a write transaction's changed page). Every accessor of a
/// page's header and body, sealing and verification is here; [`PageBuf`] and [`PageGuard`](crate::PageGuard)
/// deref to it.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct Page {
    bytes: [u8],
}

impl std::fmt::Debug for Page {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Page")
            .field("bytes", &self.bytes.len())
            .field("header", self.header())
            .finish()
    }
}

impl Page {
    /// Views `bytes` as a page. `None` unless its length is a valid page size.
    pub fn from_bytes(bytes: &[u8]) -> Option<&Page> {
        u32::try_from(bytes.len()).ok().and_then(|len| PageSize::new(len).ok())?;
        Page::ref_from_bytes(bytes).ok()
    }

    /// Views `bytes` as a writable page. `None` unless its length is a valid page size.
    pub fn from_bytes_mut(bytes: &mut [u8]) -> Option<&mut Page> {
        u32::try_from(bytes.len()).ok().and_then(|len| PageSize::new(len).ok())?;
        Page::mut_from_bytes(bytes).ok()
    }

    /// The page size of this page.
    pub fn page_size(&self) -> PageSize {
        PageSize(u32::try_from(self.bytes.len()).expect("pages are at most 64 KiB"))
    }

    /// The whole page.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The whole page, writable.
    pub fn as_mut_bytes(&mut self) -> &mut [u8] {
        &mut self.bytes
    }

    /// An owned copy of this page.
    pub fn to_page_buf(&self) -> PageBuf {
        let mut copy = PageBuf::for_overwrite(self.page_size());
        copy.as_mut_bytes().copy_from_slice(self.as_bytes());
        copy
    }

    /// The page header.
    pub fn header(&self) -> &PageHeader {
        let (header, _) = PageHeader::ref_from_prefix(self.as_bytes()).expect("page >= header");
        header
    }

    /// The page header, writable.
    pub fn header_mut(&mut self) -> &mut PageHeader {
        let (header, _) = PageHeader::mut_from_prefix(self.as_mut_bytes()).expect("page >= header");
        header
    }

    /// The bytes after the header, owned by the page's layer.
    pub fn body(&self) -> &[u8] {
        &self.as_bytes()[PAGE_HEADER_BYTES..]
    }

    /// The bytes after the header, writable.
    pub fn body_mut(&mut self) -> &mut [u8] {
        &mut self.as_mut_bytes()[PAGE_HEADER_BYTES..]
    }

    /// The page id stored in the header.
    pub fn page_id(&self) -> PageId {
        PageId::new(self.header().page_id.get())
    }

    /// The page type stored in the header.
    pub fn page_type(&self) -> PageType {
        PageType(self.header().page_type)
    }

    /// The LSN stored in the header.
    pub fn lsn(&self) -> Lsn {
        Lsn::new(self.header().lsn.get())
    }

    /// Fills in the header for `page_id` and computes the checksum. Call right before writing;
    /// any later change to the buffer invalidates the seal.
    pub fn seal(&mut self, page_id: PageId, page_type: PageType, lsn: Lsn) {
        assert_ne!(page_type.get(), 0, "page type 0 is never valid");
        let header = self.header_mut();
        header.page_type = page_type.get();
        header.format_version = FORMAT_VERSION;
        header.flags = U16::ZERO;
        header.page_id = U64::new(page_id.get());
        header.lsn = U64::new(lsn.get());
        header.reserved = U64::ZERO;
        let checksum = page_checksum(page_id, self.as_bytes());
        self.header_mut().checksum = U32::new(checksum);
        debug_assert!(self.verify(page_id).is_ok());
    }

    /// Checks that this buffer is a sealed, intact page that belongs at `page_id`.
    ///
    /// Errors name `page_id`: [`Error::ChecksumMismatch`] for damaged bytes,
    /// [`Error::Misdirected`] for another page's intact contents, [`Error::Corrupt`] for a
    /// never-written (all-zero) page or a header that violates the format.
    pub fn verify(&self, page_id: PageId) -> Result<()> {
        let stored = self.header().checksum.get();
        let computed = page_checksum(page_id, self.as_bytes());
        if stored != computed {
            return Err(self.diagnose_mismatch(page_id, stored, computed));
        }
        let header = self.header();
        if header.page_id.get() != page_id.get() {
            return Err(corrupt(page_id, "header names another page id"));
        }
        if header.format_version != FORMAT_VERSION {
            let reason = format!("unknown page format version {}", header.format_version);
            return Err(Error::Corrupt { page_id, reason });
        }
        if header.page_type == 0 {
            return Err(corrupt(page_id, "page type 0"));
        }
        Ok(())
    }

    /// Explains a checksum mismatch as precisely as the bytes allow.
    fn diagnose_mismatch(&self, page_id: PageId, stored: u32, computed: u32) -> Error {
        if self.as_bytes().iter().all(|&byte| byte == 0) {
            return corrupt(page_id, "page was never written (all zeros)");
        }
        let claimed = self.page_id();
        if claimed != page_id && page_checksum(claimed, self.as_bytes()) == stored {
            return Error::Misdirected { page_id, found: claimed };
        }
        Error::ChecksumMismatch { page_id, expected: stored, actual: computed }
    }
}

/// A page-sized, 8-byte-aligned buffer holding one page image.
///
/// Buffers are recycled: a dropped buffer goes to a small per-thread spare list
/// (`SPARES_MAX` of them) that the next [`PageBuf::zeroed`] or [`PageBuf::for_overwrite`]
/// takes from. The benchmark's profiles of loads and lookups showed the allocator's aligned
/// allocations and frees (plus zeroing) at about a quarter of the time.
pub struct PageBuf {
    blocks: Box<[Block]>,
}

/// Spare buffers each thread keeps for reuse.
pub const SPARES_MAX: usize = 64;

std::thread_local! {
    static SPARES: std::cell::RefCell<Vec<Box<[Block]>>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A spare buffer of `count` blocks from this thread's list, if it has one.
fn take_spare(count: usize) -> Option<Box<[Block]>> {
    SPARES
        .try_with(|spares| {
            let mut spares = spares.borrow_mut();
            let index = spares.iter().rposition(|blocks| blocks.len() == count)?;
            Some(spares.swap_remove(index))
        })
        .ok()
        .flatten()
}

impl Drop for PageBuf {
    fn drop(&mut self) {
        let blocks = std::mem::take(&mut self.blocks);
        if blocks.is_empty() {
            return;
        }
        // During thread teardown the list may be gone: the buffer is then simply freed.
        let _ = SPARES.try_with(|spares| {
            let mut spares = spares.borrow_mut();
            if spares.len() < SPARES_MAX {
                spares.push(blocks);
            }
        });
    }
}

impl Clone for PageBuf {
    fn clone(&self) -> Self {
        let mut copy = Self::for_overwrite(self.page_size());
        copy.as_mut_bytes().copy_from_slice(self.as_bytes());
        copy
    }
}

impl std::ops::Deref for PageBuf {
    type Target = Page;

    fn deref(&self) -> &Page {
        Page::ref_from_bytes(self.blocks.as_bytes()).expect("a page buffer is one page")
    }
}

impl std::ops::DerefMut for PageBuf {
    fn deref_mut(&mut self) -> &mut Page {
        Page::mut_from_bytes(self.blocks.as_mut_bytes()).expect("a page buffer is one page")
    }
}

impl std::fmt::Debug for PageBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PageBuf")
            .field("bytes", &self.as_bytes().len())
            .field("header", self.header())
            .finish()
    }
}

impl PageBuf {
    /// A zero-filled buffer of one page.
    pub fn zeroed(page_size: PageSize) -> Self {
        let count = page_size.bytes() / size_of::<Block>();
        match take_spare(count) {
            Some(mut blocks) => {
                blocks.as_mut_bytes().fill(0);
                Self { blocks }
            }
            None => {
                let zero = Block([0; PAGE_SIZE_MIN_BYTES as usize]);
                Self { blocks: vec![zero; count].into_boxed_slice() }
            }
        }
    }

    /// A buffer of one page whose bytes are unspecified (a recycled page's, or zeros), for a
    /// caller that overwrites all of it, such as a page read.
    pub fn for_overwrite(page_size: PageSize) -> Self {
        let count = page_size.bytes() / size_of::<Block>();
        match take_spare(count) {
            Some(blocks) => Self { blocks },
            None => Self::zeroed(page_size),
        }
    }
}

/// Bytes of a page [`prefetch`] asks for: a 4 KiB page whole, the first 4 KiB of a larger one.
const PREFETCH_BYTES_MAX: usize = 4096;

/// Asks the CPU to fetch `page` (its first [`PREFETCH_BYTES_MAX`] bytes) into its caches, every
/// line at once, before a binary search reads it: the search's probes then wait for about one
/// memory latency instead of one each (a probe's cell is on another line, and which one
/// depends on the probe before). For the write transaction's own pages, which live on the
/// heap (the cache's frames have their own, `redwood-bufpool`'s `Slab::prefetch`). Of a larger
/// page only the first 4 KiB are asked for (the header and the slots; the cells at the page's
/// end still arrive line by line). Measured on
/// `bulk_load` (a million random inserts into one transaction's 65,000 pages), four
/// alternating pairs of runs: 3.01-3.50 s without, 2.72-2.89 s with. Reads nothing in Rust's
/// sense, so it is harmless whatever the page holds; does nothing off x86-64.
#[inline]
pub(crate) fn prefetch(page: &Page) {
    let bytes = page.as_bytes();
    #[cfg(target_arch = "x86_64")]
    prefetch_lines(&bytes[..bytes.len().min(PREFETCH_BYTES_MAX)]);
    #[cfg(not(target_arch = "x86_64"))]
    let _ = bytes;
}

/// [`prefetch`]'s instructions, one per 64-byte line of `bytes`.
#[cfg(target_arch = "x86_64")]
#[inline]
#[expect(unsafe_code, reason = "the prefetch intrinsic takes a raw pointer; see SAFETY")]
fn prefetch_lines(bytes: &[u8]) {
    use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
    for line in (0..bytes.len()).step_by(64) {
        // SAFETY: SSE is part of the x86-64 baseline, so the instruction exists; a prefetch
        // never faults and is not a memory access in Rust's model, whatever the address (this
        // one lies inside `bytes`, `line < bytes.len()`).
        unsafe { _mm_prefetch::<_MM_HINT_T0>(bytes.as_ptr().wrapping_add(line).cast()) };
    }
}

fn corrupt(page_id: PageId, reason: &str) -> Error {
    Error::Corrupt { page_id, reason: reason.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A prefetch reads nothing and changes nothing, on a page of any size (miri checks the
    /// pointers it forms stay inside the page).
    #[test]
    fn a_prefetch_leaves_the_page_as_it_was() {
        // Under miri a 64 KiB page's checksum alone takes tens of seconds.
        let sizes: &[u32] = if cfg!(miri) { &[4096] } else { &[4096, 8192, 65536] };
        for &bytes in sizes {
            let page_size = PageSize::new(bytes).unwrap();
            let page = sealed(page_size, PageId::new(7));
            let before = page.as_bytes().to_vec();
            prefetch(&page);
            assert_eq!(page.as_bytes(), &before[..]);
            assert!(page.verify(PageId::new(7)).is_ok());
        }
    }

    fn sealed(page_size: PageSize, page_id: PageId) -> PageBuf {
        let mut page = PageBuf::zeroed(page_size);
        for (index, byte) in page.body_mut().iter_mut().enumerate() {
            *byte = (index % 251) as u8;
        }
        page.seal(page_id, PageType::user(16).unwrap(), Lsn::new(9));
        page
    }

    #[test]
    fn page_sizes_are_validated() {
        assert!(PageSize::new(4096).is_ok());
        assert!(PageSize::new(65536).is_ok());
        assert!(PageSize::new(2048).is_err());
        assert!(PageSize::new(6000).is_err());
        assert!(PageSize::new(131072).is_err());
        assert_eq!(PageSize::all().count(), 5);
    }

    #[test]
    fn buffers_are_page_sized_and_word_aligned() {
        for page_size in PageSize::all() {
            let page = PageBuf::zeroed(page_size);
            assert_eq!(page.as_bytes().len(), page_size.bytes());
            assert_eq!(page.as_bytes().as_ptr() as usize % 8, 0);
        }
    }

    #[test]
    fn recycled_buffers_come_back_zeroed_or_whole() {
        let size = PageSize::DEFAULT;
        let mut dirty = PageBuf::zeroed(size);
        dirty.as_mut_bytes().fill(0xAB);
        let copy = dirty.clone();
        assert_eq!(copy.as_bytes(), dirty.as_bytes(), "a clone is a copy");
        drop(dirty);
        drop(copy);
        // The spares now hold two dirty buffers: `zeroed` must still hand out zeros.
        let zeroed = PageBuf::zeroed(size);
        assert!(zeroed.as_bytes().iter().all(|&byte| byte == 0));
        let reused = PageBuf::for_overwrite(size);
        assert_eq!(reused.as_bytes().len(), size.bytes());
        // Other page sizes never get a buffer of the wrong length.
        let large = PageSize::new(65_536).unwrap();
        drop(reused);
        assert_eq!(PageBuf::for_overwrite(large).as_bytes().len(), 65_536);
        assert_eq!(PageBuf::zeroed(large).page_size(), large);
        // The list is bounded.
        let many: Vec<PageBuf> = (0..SPARES_MAX + 10).map(|_| PageBuf::zeroed(size)).collect();
        drop(many);
        assert!(SPARES.with(|spares| spares.borrow().len()) <= SPARES_MAX);
    }

    #[test]
    fn sealed_page_verifies_and_keeps_its_header() {
        let page = sealed(PageSize::DEFAULT, PageId::new(7));
        page.verify(PageId::new(7)).unwrap();
        assert_eq!(page.page_id(), PageId::new(7));
        assert_eq!(page.lsn(), Lsn::new(9));
        assert_eq!(page.page_type().get(), 16);
    }

    #[test]
    fn every_flipped_byte_is_a_checksum_mismatch_naming_the_page() {
        let page = sealed(PageSize::DEFAULT, PageId::new(3));
        for index in 0..page.as_bytes().len() {
            let mut damaged = page.clone();
            damaged.as_mut_bytes()[index] ^= 0x40;
            match damaged.verify(PageId::new(3)) {
                Err(Error::ChecksumMismatch { page_id, .. }) => assert_eq!(page_id, PageId::new(3)),
                other => panic!("byte {index}: expected ChecksumMismatch, got {other:?}"),
            }
        }
    }

    #[test]
    fn a_page_at_the_wrong_place_is_misdirected() {
        let page = sealed(PageSize::DEFAULT, PageId::new(5));
        match page.verify(PageId::new(6)) {
            Err(Error::Misdirected { page_id, found }) => {
                assert_eq!(page_id, PageId::new(6));
                assert_eq!(found, PageId::new(5));
            }
            other => panic!("expected Misdirected, got {other:?}"),
        }
    }

    #[test]
    fn a_zeroed_page_is_corrupt_not_valid() {
        let page = PageBuf::zeroed(PageSize::DEFAULT);
        assert!(matches!(page.verify(PageId::new(4)), Err(Error::Corrupt { .. })));
    }
}
