//! The free-space map: one bit per page id, 1 = in use (reserved by the pager or allocated),
//! persisted in two copies of map pages at the start of each segment.
//!
//! Meta generation `g` uses map copy `g % 2`, so the next sync writes the *other* copy and only
//! then the meta data that points at it: a crash at any point leaves the previous generation's
//! map and meta intact together. A bit change must reach both copies eventually, so each copy
//! keeps its own set of map pages changed since that copy was last written.
//!
//! This module is pure: it loads from and encodes to page images, and reports which map pages
//! changed; the page file decides how those images reach the disk. Map pages are named by their
//! even-copy page id throughout; `Geometry::map_page_copy` gives the other copy's.

use std::collections::BTreeSet;

use crate::error::{Error, Result};
use crate::geometry::{Geometry, MapCopy};
use crate::page::{PageBuf, PageType};
use crate::{Lsn, PageId, SegmentId, Violation};

const WORD_BITS: u64 = u64::BITS as u64;

/// Which pages are in use, with the map pages each copy has yet to receive.
#[derive(Clone, Debug)]
pub(crate) struct FreeMap {
    geometry: Geometry,
    page_count: u64,
    /// Bit per page id for every page of every segment begun so far.
    words: Vec<u64>,
    free_count: u64,
    /// No page below this index is free.
    search_from: u64,
    /// `(floor, next)`: no page in `floor..next` is free, so that allocations past one floor
    /// (`allocate_from`) do not search again over the pages they took.
    floor_search: (u64, u64),
    /// Per copy: map pages changed since that copy was last written.
    dirty: [BTreeSet<PageId>; 2],
    /// A bit changed since the last `take_dirty`.
    changed: bool,
}

/// The result of an allocation.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Allocation {
    /// The page handed out.
    pub page_id: PageId,
    /// Set when the allocation began a new segment, whose file must now be created.
    pub new_segment: Option<SegmentId>,
}

impl FreeMap {
    /// The map of a new database: only the base segment's reserved pages are in use.
    pub fn new(geometry: Geometry) -> Self {
        let mut map = Self::empty(geometry, 0);
        map.begin_segment(SegmentId::BASE);
        map
    }

    /// A map counting every page below `page_count` as in use: what a salvage open takes when
    /// the real map does not load (it only reads, and allocation state does not matter then).
    pub fn all_in_use(geometry: Geometry, page_count: u64) -> Self {
        let mut map = Self::empty(geometry, page_count);
        for index in 0..page_count {
            map.set_bit(index, true);
        }
        map
    }

    fn empty(geometry: Geometry, page_count: u64) -> Self {
        let segment_count = geometry.segment_count(page_count);
        let word_count = segment_count * geometry.segment_pages().div_ceil(WORD_BITS);
        Self {
            geometry,
            page_count,
            words: vec![0; usize::try_from(word_count).expect("the map fits in memory")],
            free_count: 0,
            search_from: 0,
            floor_search: (0, 0),
            dirty: Default::default(),
            changed: false,
        }
    }

    /// Loads `copy` of the map of a database with `page_count` page ids, reading each map page
    /// through `read_page` (which must verify checksums). Fails with `Corrupt` naming the map
    /// page if a reserved page is marked free or a page beyond `page_count` is marked in use.
    ///
    /// The other copy is assumed stale: every map page is dirty for it.
    pub fn load(
        geometry: Geometry,
        page_count: u64,
        copy: MapCopy,
        mut read_page: impl FnMut(PageId) -> Result<PageBuf>,
    ) -> Result<Self> {
        let mut map = Self::empty(geometry, page_count);
        for segment in (0..geometry.segment_count(page_count)).map(SegmentId::new) {
            for map_page in geometry.map_pages(segment).map(PageId::new) {
                let page = read_page(geometry.map_page_copy(map_page, copy))?;
                map.decode_map_page(map_page, copy, &page)?;
                map.dirty[copy.other().index()].insert(map_page);
            }
        }
        map.validate_loaded(copy)?;
        map.free_count = map.count_free();
        // Decoding set bits; the copy just read matches them, only the other one is stale.
        map.dirty[copy.index()].clear();
        map.changed = false;
        Ok(map)
    }

    /// The number of page ids in use (the high-water mark).
    pub fn page_count(&self) -> u64 {
        self.page_count
    }

    /// Pages below the high-water mark that are free.
    pub fn free_count(&self) -> u64 {
        self.free_count
    }

    /// Whether `page_id` is allocated (in use and not reserved by the pager).
    pub fn is_allocated(&self, page_id: PageId) -> bool {
        page_id.get() < self.page_count
            && self.bit(page_id.get())
            && !self.geometry.is_reserved(page_id)
    }

    /// Hands out the lowest free page, growing the database (and beginning a new segment when
    /// the last one is full) if none is free.
    #[cfg(test)]
    pub fn allocate(&mut self) -> Result<Allocation> {
        self.allocate_from(PageId::new(0))
    }

    /// Hands out the lowest free page at or past `floor`, growing the database if there is
    /// none (a compaction's first copy goes past the pages in use this way, so that its
    /// second fills the space the first freed from the start). A floor past the page count
    /// grows the database by one page, at the page count: the pages up to the floor are not
    /// skipped.
    pub fn allocate_from(&mut self, floor: PageId) -> Result<Allocation> {
        // `search_from` is the lowest page that may be free; past a floor above it, lower
        // pages may still be free, so it stays, and `floor_search` remembers where to go on.
        let floor = floor.get();
        let floored = floor > self.search_from;
        let start = match self.floor_search {
            (from, next) if floored && from == floor => next.max(floor),
            _ => self.search_from.max(floor),
        };
        if let Some(index) = self.find_free(start) {
            self.set_bit(index, true);
            self.free_count -= 1;
            if floored {
                self.floor_search = (floor, index + 1);
            } else {
                self.search_from = index + 1;
            }
            debug_assert!(index >= floor);
            return Ok(Allocation { page_id: PageId::new(index), new_segment: None });
        }
        let page_count_max = self.geometry.page_count_max();
        if self.page_count >= page_count_max {
            return Err(Error::Full { page_count_max });
        }
        let mut new_segment = None;
        if self.page_count.is_multiple_of(self.geometry.segment_pages()) {
            let segment = self.geometry.segment_of(PageId::new(self.page_count));
            self.begin_segment(segment);
            new_segment = Some(segment);
        }
        let index = self.page_count;
        self.page_count += 1;
        self.set_bit(index, true);
        if floored {
            self.floor_search = (floor, self.page_count);
        } else {
            self.search_from = self.page_count;
        }
        Ok(Allocation { page_id: PageId::new(index), new_segment })
    }

    /// Returns an allocated page to the free pool.
    pub fn free(&mut self, page_id: PageId) -> Result<()> {
        self.check_user_page(page_id)?;
        if !self.bit(page_id.get()) {
            return Err(Error::NotAllocated { page_id });
        }
        self.set_bit(page_id.get(), false);
        self.free_count += 1;
        self.search_from = self.search_from.min(page_id.get());
        self.floor_search.1 = self.floor_search.1.min(page_id.get());
        Ok(())
    }

    /// Sets whether `page_id` is in use, whatever it was: the idempotent form recovery replays
    /// allocation deltas with and aborts undo them with.
    pub fn set_in_use(&mut self, page_id: PageId, in_use: bool) -> Result<()> {
        self.check_user_page(page_id)?;
        if self.bit(page_id.get()) == in_use {
            return Ok(());
        }
        self.set_bit(page_id.get(), in_use);
        if in_use {
            self.free_count -= 1;
        } else {
            self.free_count += 1;
            self.search_from = self.search_from.min(page_id.get());
            self.floor_search.1 = self.floor_search.1.min(page_id.get());
        }
        Ok(())
    }

    /// Grows the high-water mark to at least `page_count` (new pages are free), beginning
    /// segments as needed; returns the segments begun.
    pub fn grow_to(&mut self, page_count: u64) -> Result<Vec<SegmentId>> {
        let page_count_max = self.geometry.page_count_max();
        if page_count > page_count_max {
            return Err(Error::Full { page_count_max });
        }
        let mut begun = Vec::new();
        while self.page_count < page_count {
            if self.page_count.is_multiple_of(self.geometry.segment_pages()) {
                let segment = self.geometry.segment_of(PageId::new(self.page_count));
                self.begin_segment(segment);
                begun.push(segment);
            } else {
                self.page_count += 1;
                self.free_count += 1;
                let (map_page, _) = self.geometry.map_bit(PageId::new(self.page_count - 1));
                self.mark_dirty(map_page);
            }
        }
        Ok(begun)
    }

    /// Lowers the high-water mark to just past the highest allocated page (never below the
    /// base segment's reserved pages), dropping the segments left with no allocated page;
    /// returns the segment count before, or `None` if the mark was already there. Every page
    /// cut off is free, so no bit changes: only the page count and the segments counted do.
    pub fn shrink(&mut self) -> Option<u64> {
        let segments_before = self.geometry.segment_count(self.page_count);
        let page_count = self.shrunk_page_count();
        if page_count >= self.page_count {
            return None;
        }
        let segments = self.geometry.segment_count(page_count);
        // Bits are indexed by page id across segments (small segments share a word), so the
        // dropped segments' reserved bits are cleared here, not just cut off with their words.
        for index in page_count..self.page_count {
            let word = &mut self.words[(index / WORD_BITS) as usize];
            *word &= !(1u64 << (index % WORD_BITS));
        }
        let words_per_segment = self.geometry.segment_pages().div_ceil(WORD_BITS) as usize;
        self.words.truncate(segments as usize * words_per_segment);
        let kept_end = segments * self.geometry.segment_pages();
        for dirty in &mut self.dirty {
            dirty.retain(|map_page| map_page.get() < kept_end);
        }
        self.page_count = page_count;
        self.search_from = self.search_from.min(page_count);
        self.floor_search.1 = self.floor_search.1.min(page_count);
        self.free_count = self.count_free();
        self.changed = true;
        debug_assert!(self.validate_loaded(MapCopy::Even).is_ok(), "nothing past the mark is used");
        Some(segments_before)
    }

    /// The page count [`FreeMap::shrink`] would leave: just past the highest allocated page,
    /// never below the base segment's reserved pages.
    pub fn shrunk_page_count(&self) -> u64 {
        let floor = self.geometry.reserved_pages(SegmentId::BASE).end;
        self.highest_allocated().map_or(floor, |index| index + 1).max(floor)
    }

    /// The highest page id that is allocated (in use and not reserved), if any.
    fn highest_allocated(&self) -> Option<u64> {
        let mut word_index = self.page_count.div_ceil(WORD_BITS);
        while word_index > 0 {
            word_index -= 1;
            let mut word = self.words[word_index as usize];
            while word != 0 {
                let index =
                    word_index * WORD_BITS + u64::from(WORD_BITS as u32 - 1 - word.leading_zeros());
                if index < self.page_count && !self.geometry.is_reserved(PageId::new(index)) {
                    return Some(index);
                }
                word &= !(1u64 << (index % WORD_BITS));
            }
        }
        None
    }

    /// Fails unless `page_id` is below the high-water mark and not reserved by the pager.
    pub fn check_user_page(&self, page_id: PageId) -> Result<()> {
        if page_id.get() >= self.page_count {
            return Err(Error::PageOutOfRange { page_id, page_count: self.page_count });
        }
        if self.geometry.is_reserved(page_id) {
            return Err(Error::ReservedPage { page_id });
        }
        Ok(())
    }

    /// Whether any bit changed since the last `take_dirty`.
    pub fn has_changed(&self) -> bool {
        self.changed
    }

    /// The pages of `copy` that differ from the map now, each encoded and sealed with `lsn` at
    /// its place in that copy. Afterwards `copy` counts as written.
    pub fn take_dirty(&mut self, copy: MapCopy, lsn: Lsn) -> Vec<PageBuf> {
        self.changed = false;
        let dirty = std::mem::take(&mut self.dirty[copy.index()]);
        dirty.into_iter().map(|map_page| self.encode_map_page(map_page, copy, lsn)).collect()
    }

    /// Whether `copy` of `map_page` is stale on disk.
    pub fn is_dirty(&self, map_page: PageId, copy: MapCopy) -> bool {
        self.dirty[copy.index()].contains(&map_page)
    }

    /// The sealed image `copy` of `map_page` should have now.
    pub fn encode_map_page(&self, map_page: PageId, copy: MapCopy, lsn: Lsn) -> PageBuf {
        let mut page = PageBuf::zeroed(self.geometry.page_size());
        let (first, bits) = self.map_page_range(map_page);
        let body = page.body_mut();
        for offset in 0..bits {
            if self.bit(first + offset) {
                body[(offset / 8) as usize] |= 1 << (offset % 8);
            }
        }
        page.seal(self.geometry.map_page_copy(map_page, copy), PageType::FREE_MAP, lsn);
        page
    }

    /// Every inconsistency between the bits and the counters, naming `copy`'s map page at
    /// fault.
    pub fn violations(&self, copy: MapCopy) -> Vec<Violation> {
        let mut violations = Vec::new();
        if self.count_free() != self.free_count {
            let message =
                format!("free count {} but {} free bits", self.free_count, self.count_free());
            violations.push(Violation::new(None, message));
        }
        if let Err(Error::Corrupt { page_id, reason }) = self.validate_loaded(copy) {
            violations.push(Violation::new(Some(page_id), reason));
        }
        violations
    }

    /// Every allocated page id, in order.
    pub fn allocated_pages(&self) -> impl Iterator<Item = PageId> + '_ {
        (0..self.page_count).map(PageId::new).filter(|&page_id| self.is_allocated(page_id))
    }

    /// Marks a segment's reserved pages in use and grows the map to cover it.
    fn begin_segment(&mut self, segment: SegmentId) {
        let words_per_segment = self.geometry.segment_pages().div_ceil(WORD_BITS) as usize;
        self.words.resize(self.words.len() + words_per_segment, 0);
        let reserved = self.geometry.reserved_pages(segment);
        assert_eq!(reserved.start, self.page_count, "segments begin in order");
        for index in reserved.clone() {
            self.set_bit(index, true);
        }
        self.page_count = reserved.end;
        for map_page in self.geometry.map_pages(segment).map(PageId::new) {
            self.mark_dirty(map_page);
        }
    }

    /// The first page id and the number of bits `map_page` covers.
    fn map_page_range(&self, map_page: PageId) -> (u64, u64) {
        let segment = self.geometry.segment_of(map_page);
        let map_index = map_page.get() - self.geometry.map_pages(segment).start;
        let per_page = self.geometry.pages_per_map_page();
        let in_segment = map_index * per_page;
        let bits = per_page.min(self.geometry.segment_pages() - in_segment);
        (self.geometry.first_page(segment).get() + in_segment, bits)
    }

    fn decode_map_page(&mut self, map_page: PageId, copy: MapCopy, page: &PageBuf) -> Result<()> {
        let page_id = self.geometry.map_page_copy(map_page, copy);
        if page.page_type() != PageType::FREE_MAP {
            let kind = page.page_type().get();
            let reason = format!("page type {kind} where a free-space map page belongs");
            return Err(Error::Corrupt { page_id, reason });
        }
        let (first, bits) = self.map_page_range(map_page);
        let body = page.body();
        for offset in 0..bits {
            if body[(offset / 8) as usize] & (1 << (offset % 8)) != 0 {
                self.set_bit(first + offset, true);
            }
        }
        let trailing = &body[bits.div_ceil(8) as usize..];
        let stray_bits = bits % 8 != 0 && body[(bits / 8) as usize] >> (bits % 8) != 0;
        if stray_bits || trailing.iter().any(|&byte| byte != 0) {
            let reason = "bits set beyond the end of its segment".to_owned();
            return Err(Error::Corrupt { page_id, reason });
        }
        Ok(())
    }

    /// Reserved pages must be in use, and nothing at or past the high-water mark may be; an
    /// error names the page of `copy` holding the bad bit.
    fn validate_loaded(&self, copy: MapCopy) -> Result<()> {
        let corrupt = |index: u64, reason: String| {
            let (map_page, _) = self.geometry.map_bit(PageId::new(index));
            Error::Corrupt { page_id: self.geometry.map_page_copy(map_page, copy), reason }
        };
        let segment_count = self.geometry.segment_count(self.page_count);
        for segment in (0..segment_count).map(SegmentId::new) {
            let reserved = self.geometry.reserved_pages(segment);
            if let Some(index) = reserved.clone().find(|&index| !self.bit(index)) {
                return Err(corrupt(index, format!("reserved page {index} is marked free")));
            }
        }
        let end = segment_count * self.geometry.segment_pages();
        if let Some(index) = (self.page_count..end).find(|&index| self.bit(index)) {
            let reason =
                format!("page {index} beyond the page count {} is in use", self.page_count);
            return Err(corrupt(index, reason));
        }
        Ok(())
    }

    fn find_free(&self, from: u64) -> Option<u64> {
        let mut index = from;
        while index < self.page_count {
            let below = (1u64 << (index % WORD_BITS)) - 1;
            let word = self.words[(index / WORD_BITS) as usize] | below;
            if word == u64::MAX {
                index = (index / WORD_BITS + 1) * WORD_BITS;
                continue;
            }
            let found = (index / WORD_BITS) * WORD_BITS + u64::from(word.trailing_ones());
            return (found < self.page_count).then_some(found);
        }
        None
    }

    /// Free pages below the high-water mark (bits past it are caught by `validate_loaded`).
    fn count_free(&self) -> u64 {
        let in_use: u64 = self.words.iter().map(|word| u64::from(word.count_ones())).sum();
        self.page_count.saturating_sub(in_use)
    }

    fn bit(&self, index: u64) -> bool {
        let word = self.words.get((index / WORD_BITS) as usize);
        word.is_some_and(|word| word >> (index % WORD_BITS) & 1 == 1)
    }

    fn set_bit(&mut self, index: u64, in_use: bool) {
        let word = &mut self.words[(index / WORD_BITS) as usize];
        let mask = 1u64 << (index % WORD_BITS);
        if in_use {
            *word |= mask
        } else {
            *word &= !mask
        }
        let (map_page, _) = self.geometry.map_bit(PageId::new(index));
        self.mark_dirty(map_page);
    }

    /// Both copies of `map_page` are now stale.
    fn mark_dirty(&mut self, map_page: PageId) {
        self.changed = true;
        for dirty in &mut self.dirty {
            dirty.insert(map_page);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::page::PageSize;

    fn tiny() -> Geometry {
        Geometry::new(PageSize::DEFAULT, 8).unwrap()
    }

    #[test]
    fn a_new_map_reserves_meta_and_both_map_copies() {
        let map = FreeMap::new(tiny());
        assert_eq!(map.page_count(), 4);
        assert_eq!(map.free_count(), 0);
        assert!(!map.is_allocated(PageId::new(0)));
        assert!(map.has_changed());
        assert!(map.is_dirty(PageId::new(2), MapCopy::Even));
        assert!(map.is_dirty(PageId::new(2), MapCopy::Odd));
        assert!(map.violations(MapCopy::Even).is_empty());
    }

    #[test]
    fn a_floor_skips_lower_free_pages_and_leaves_them_for_later() {
        let mut map = FreeMap::new(tiny());
        // Base data 4..8, segment 1 data 10..16.
        let pages: Vec<u64> = (0..8).map(|_| map.allocate().unwrap().page_id.get()).collect();
        assert_eq!(pages, [4, 5, 6, 7, 10, 11, 12, 13]);
        for page in [5, 6, 12] {
            map.free(PageId::new(page)).unwrap();
        }
        let floor = PageId::new(11);
        assert_eq!(map.allocate_from(floor).unwrap().page_id.get(), 12, "the free page past it");
        assert_eq!(map.allocate_from(floor).unwrap().page_id.get(), 14, "then growth");
        assert_eq!(map.allocate_from(floor).unwrap().page_id.get(), 15);
        let grown = map.allocate_from(floor).unwrap();
        assert_eq!(grown.page_id.get(), 18, "a new segment begins past its reserved pages");
        assert!(grown.new_segment.is_some());
        assert_eq!(map.free_count(), 2);
        // A page freed past the floor, behind where the floored search had got to, is found.
        map.free(PageId::new(13)).unwrap();
        assert_eq!(map.allocate_from(floor).unwrap().page_id.get(), 13);
        assert_eq!(map.allocate_from(floor).unwrap().page_id.get(), 19);
        assert_eq!(map.allocate().unwrap().page_id.get(), 5, "the lower pages stayed free");
        assert_eq!(map.allocate().unwrap().page_id.get(), 6);
        assert_eq!(map.allocate().unwrap().page_id.get(), 20);
        // A floor past the page count grows by one page, at the count.
        let count = map.page_count();
        assert_eq!(map.allocate_from(PageId::new(count + 40)).unwrap().page_id.get(), count);
        assert!(map.violations(MapCopy::Even).is_empty());
    }

    #[test]
    fn shrinking_cuts_the_free_tail_and_drops_emptied_segments() {
        let mut map = FreeMap::new(tiny());
        // Base data 4..8, segment 1 data 10..16, segment 2 data 18..24.
        let pages: Vec<u64> = (0..12).map(|_| map.allocate().unwrap().page_id.get()).collect();
        assert_eq!(pages.last(), Some(&19));
        assert_eq!(map.page_count(), 20);
        assert_eq!(map.shrink(), None, "the last page is allocated");
        for page in [19, 18, 15, 14, 13] {
            map.free(PageId::new(page)).unwrap();
        }
        assert_eq!(map.shrink(), Some(3));
        assert_eq!(map.page_count(), 13, "just past page 12, in segment 1");
        assert_eq!(map.free_count(), 0);
        assert!(
            map.violations(MapCopy::Even).is_empty() && map.violations(MapCopy::Odd).is_empty()
        );
        assert!(!map.is_dirty(PageId::new(16), MapCopy::Even), "segment 2's map is gone");
        // Growing again begins segment 2 anew, from its reserved pages.
        let again: Vec<u64> = (0..4).map(|_| map.allocate().unwrap().page_id.get()).collect();
        assert_eq!(again, [13, 14, 15, 18]);
        map.free(PageId::new(14)).unwrap();
        assert_eq!(map.free_count(), 1);
        assert!(map.violations(MapCopy::Even).is_empty(), "{:?}", map.violations(MapCopy::Even));
        assert_eq!(map.allocate().unwrap().page_id, PageId::new(14));
        for page in (4..8).chain(10..16).chain([18]) {
            map.free(PageId::new(page)).unwrap();
        }
        assert_eq!(map.shrink(), Some(3));
        assert_eq!(map.page_count(), 4, "only the base's reserved pages are left");
        assert_eq!(map.free_count(), 0);
        assert!(map.violations(MapCopy::Odd).is_empty());
        assert_eq!(map.shrink(), None);
        assert_eq!(map.allocate().unwrap().page_id, PageId::new(4));
    }

    #[test]
    fn allocation_grows_into_new_segments_and_reuses_freed_pages() {
        let mut map = FreeMap::new(tiny());
        let pages: Vec<_> = (0..6).map(|_| map.allocate().unwrap()).collect();
        let ids: Vec<u64> = pages.iter().map(|a| a.page_id.get()).collect();
        // Base segment: data 4..8; segment 1 reserves pages 8 and 9 for its map copies.
        assert_eq!(ids, [4, 5, 6, 7, 10, 11]);
        assert_eq!(pages[4].new_segment, Some(SegmentId::new(1)));
        assert!(pages.iter().filter(|a| a.new_segment.is_some()).count() == 1);
        map.free(PageId::new(6)).unwrap();
        map.free(PageId::new(5)).unwrap();
        assert_eq!(map.free_count(), 2);
        assert_eq!(map.allocate().unwrap().page_id, PageId::new(5));
        assert_eq!(map.allocate().unwrap().page_id, PageId::new(6));
        assert_eq!(map.allocate().unwrap().page_id, PageId::new(12));
        assert!(map.violations(MapCopy::Odd).is_empty());
    }

    #[test]
    fn freeing_twice_or_freeing_reserved_pages_is_an_error() {
        let mut map = FreeMap::new(tiny());
        let page = map.allocate().unwrap().page_id;
        map.free(page).unwrap();
        assert!(matches!(map.free(page), Err(Error::NotAllocated { .. })));
        assert!(matches!(map.free(PageId::new(3)), Err(Error::ReservedPage { .. })));
        assert!(matches!(map.free(PageId::new(99)), Err(Error::PageOutOfRange { .. })));
    }

    #[test]
    fn each_copy_receives_every_change_once() {
        let mut map = FreeMap::new(tiny());
        assert_eq!(map.take_dirty(MapCopy::Odd, Lsn::ZERO).len(), 1);
        assert!(!map.has_changed());
        assert_eq!(map.take_dirty(MapCopy::Even, Lsn::ZERO).len(), 1, "still stale in copy 0");
        assert!(map.take_dirty(MapCopy::Odd, Lsn::ZERO).is_empty());
        map.allocate().unwrap();
        let odd = map.take_dirty(MapCopy::Odd, Lsn::ZERO);
        assert_eq!(odd[0].page_id(), PageId::new(3), "the odd copy of map page 2");
        assert_eq!(map.take_dirty(MapCopy::Even, Lsn::ZERO)[0].page_id(), PageId::new(2));
    }

    #[test]
    fn encoded_pages_load_back_to_the_same_map() {
        let mut map = FreeMap::new(tiny());
        for _ in 0..20 {
            map.allocate().unwrap();
        }
        map.free(PageId::new(6)).unwrap();
        map.free(PageId::new(18)).unwrap();
        let images: std::collections::BTreeMap<_, _> = map
            .take_dirty(MapCopy::Odd, Lsn::ZERO)
            .into_iter()
            .map(|page| (page.page_id(), page))
            .collect();
        let read = |id| Ok(images[&id].clone());
        let loaded = FreeMap::load(tiny(), map.page_count(), MapCopy::Odd, read).unwrap();
        assert_eq!(loaded.free_count(), 2);
        let allocated: Vec<_> = loaded.allocated_pages().collect();
        assert_eq!(allocated, map.allocated_pages().collect::<Vec<_>>());
        assert!(loaded.is_dirty(PageId::new(2), MapCopy::Even), "the other copy is stale");
        assert!(!loaded.is_dirty(PageId::new(2), MapCopy::Odd));
    }

    #[test]
    fn a_map_page_with_a_reserved_page_marked_free_is_corrupt() {
        let mut map = FreeMap::new(tiny());
        let mut page = map.take_dirty(MapCopy::Odd, Lsn::ZERO).remove(0);
        page.body_mut()[0] &= !0b001; // page 0, a meta copy, marked free
        page.seal(PageId::new(3), PageType::FREE_MAP, Lsn::ZERO);
        match FreeMap::load(tiny(), 4, MapCopy::Odd, |_| Ok(page.clone())) {
            Err(Error::Corrupt { page_id, .. }) => assert_eq!(page_id, PageId::new(3)),
            other => panic!("expected Corrupt naming the odd copy, got {other:?}"),
        }
    }
}
