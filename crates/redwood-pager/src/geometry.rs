//! Where every page lives: page id -> (segment file, byte offset), and which pages each segment
//! reserves for the pager. Pure arithmetic, no I/O.
//!
//! Layout (see `docs/FORMAT.md`): segment `s` holds page ids `s * segment_pages ..
//! (s + 1) * segment_pages`. Each segment starts with two copies of its free-space-map pages
//! (copy 0, then copy 1); the base segment (0) additionally starts with the two meta copies, so
//! its map pages follow them. Meta generation `g` uses map copy `g % 2`, which is what makes a
//! sync of the map atomic with the meta write.

use std::ops::Range;

use crate::error::{Error, Result};
use crate::limits::{PAGE_COUNT_MAX, SEGMENT_PAGES_MAX, SEGMENT_PAGES_MIN};
use crate::page::PageSize;
use crate::{PageId, SegmentId};

/// The two meta copies at the start of the base segment.
pub(crate) const META_PAGES: u64 = 2;

/// Which of the two copies of the free-space map: generation `g` of the meta data uses copy
/// `g % 2`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum MapCopy {
    /// The copy used by even generations.
    Even,
    /// The copy used by odd generations.
    Odd,
}

impl MapCopy {
    /// The copy meta generation `generation` uses.
    pub fn of_generation(generation: u64) -> Self {
        if generation.is_multiple_of(2) { MapCopy::Even } else { MapCopy::Odd }
    }

    /// Both copies.
    pub const BOTH: [MapCopy; 2] = [MapCopy::Even, MapCopy::Odd];

    /// The copy the next generation uses.
    pub fn other(self) -> Self {
        match self {
            MapCopy::Even => MapCopy::Odd,
            MapCopy::Odd => MapCopy::Even,
        }
    }

    /// 0 or 1.
    pub fn index(self) -> usize {
        match self {
            MapCopy::Even => 0,
            MapCopy::Odd => 1,
        }
    }
}

/// A database's fixed shape: page size and pages per segment.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Geometry {
    page_size: PageSize,
    segment_pages: u64,
}

impl Geometry {
    /// Validates a shape. Every segment must hold its map pages plus at least one data page.
    pub fn new(page_size: PageSize, segment_pages: u64) -> Result<Self> {
        if !(SEGMENT_PAGES_MIN..=SEGMENT_PAGES_MAX).contains(&segment_pages) {
            return Err(Error::InvalidOption(format!(
                "segment size of {segment_pages} pages is outside \
                 {SEGMENT_PAGES_MIN}..={SEGMENT_PAGES_MAX}"
            )));
        }
        let geometry = Self { page_size, segment_pages };
        if geometry.reserved_pages(SegmentId::BASE).end >= segment_pages {
            return Err(Error::InvalidOption(format!(
                "segment size of {segment_pages} pages leaves no room for data"
            )));
        }
        Ok(geometry)
    }

    /// The page size.
    pub fn page_size(&self) -> PageSize {
        self.page_size
    }

    /// Pages per segment file.
    pub fn segment_pages(&self) -> u64 {
        self.segment_pages
    }

    /// How many pages one free-space-map page covers (one bit each).
    pub fn pages_per_map_page(&self) -> u64 {
        self.page_size.body_bytes() as u64 * 8
    }

    /// Free-space-map pages in one copy of a segment's map (each segment holds two copies).
    pub fn map_pages_per_segment(&self) -> u64 {
        self.segment_pages.div_ceil(self.pages_per_map_page())
    }

    /// The segment holding `page_id`.
    pub fn segment_of(&self, page_id: PageId) -> SegmentId {
        SegmentId::new(page_id.get() / self.segment_pages)
    }

    /// The byte offset of `page_id` inside its segment file.
    pub fn offset_in_segment(&self, page_id: PageId) -> u64 {
        (page_id.get() % self.segment_pages) * self.page_size.bytes() as u64
    }

    /// The first page id of `segment`.
    pub fn first_page(&self, segment: SegmentId) -> PageId {
        PageId::new(segment.get() * self.segment_pages)
    }

    /// The page ids the pager reserves at the start of `segment`: the meta copies (base
    /// segment only) and both copies of its map pages.
    pub fn reserved_pages(&self, segment: SegmentId) -> Range<u64> {
        let first = self.first_page(segment).get();
        let meta = if segment == SegmentId::BASE { META_PAGES } else { 0 };
        first..first + meta + 2 * self.map_pages_per_segment()
    }

    /// Whether the pager reserves `page_id` for itself.
    pub fn is_reserved(&self, page_id: PageId) -> bool {
        self.reserved_pages(self.segment_of(page_id)).contains(&page_id.get())
    }

    /// The map pages of `segment` in the even copy, in order; map page `i` covers the
    /// segment's pages `i * pages_per_map_page ..`. The even copy's page id also names the
    /// map page regardless of copy (see [`Geometry::map_page_copy`]).
    pub fn map_pages(&self, segment: SegmentId) -> Range<u64> {
        let reserved = self.reserved_pages(segment);
        let start = reserved.end - 2 * self.map_pages_per_segment();
        start..start + self.map_pages_per_segment()
    }

    /// Where `copy` of the map page named `map_page` (an even-copy id) lives.
    pub fn map_page_copy(&self, map_page: PageId, copy: MapCopy) -> PageId {
        PageId::new(map_page.get() + copy.index() as u64 * self.map_pages_per_segment())
    }

    /// The map page (named by its even-copy id) holding `page_id`'s bit, and the bit's index
    /// within that page's body.
    pub fn map_bit(&self, page_id: PageId) -> (PageId, u64) {
        let segment = self.segment_of(page_id);
        let index_in_segment = page_id.get() - self.first_page(segment).get();
        let map_index = index_in_segment / self.pages_per_map_page();
        let map_page = PageId::new(self.map_pages(segment).start + map_index);
        (map_page, index_in_segment % self.pages_per_map_page())
    }

    /// How many segments a database of `page_count` page ids spans.
    pub fn segment_count(&self, page_count: u64) -> u64 {
        page_count.div_ceil(self.segment_pages)
    }

    /// The length in bytes `segment` must have to hold every page below `page_count`.
    pub fn segment_bytes_needed(&self, segment: SegmentId, page_count: u64) -> u64 {
        let first = self.first_page(segment).get();
        let pages = page_count.saturating_sub(first).min(self.segment_pages);
        pages * self.page_size.bytes() as u64
    }

    /// The largest page count this geometry allows.
    pub fn page_count_max(&self) -> u64 {
        PAGE_COUNT_MAX
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiny_segments_reserve_meta_and_two_copies_of_one_map_page() {
        let geometry = Geometry::new(PageSize::DEFAULT, 8).unwrap();
        assert_eq!(geometry.map_pages_per_segment(), 1);
        assert_eq!(geometry.reserved_pages(SegmentId::new(0)), 0..4);
        assert_eq!(geometry.reserved_pages(SegmentId::new(2)), 16..18);
        assert_eq!(geometry.map_bit(PageId::new(5)), (PageId::new(2), 5));
        assert_eq!(geometry.map_page_copy(PageId::new(2), MapCopy::Odd), PageId::new(3));
        assert_eq!(geometry.map_bit(PageId::new(21)), (PageId::new(16), 5));
        assert_eq!(geometry.map_page_copy(PageId::new(16), MapCopy::Odd), PageId::new(17));
        assert_eq!(geometry.segment_of(PageId::new(21)), SegmentId::new(2));
        assert_eq!(geometry.offset_in_segment(PageId::new(21)), 5 * 4096);
        assert!(geometry.is_reserved(PageId::new(17)));
        assert!(!geometry.is_reserved(PageId::new(18)));
        assert_eq!(MapCopy::of_generation(7), MapCopy::Odd);
    }

    #[test]
    fn large_segments_need_several_map_pages() {
        let geometry = Geometry::new(PageSize::DEFAULT, 1 << 18).unwrap();
        assert_eq!(geometry.pages_per_map_page(), 4064 * 8);
        assert_eq!(geometry.map_pages_per_segment(), 9);
        assert_eq!(geometry.reserved_pages(SegmentId::BASE), 0..20);
        let (map_page, bit) = geometry.map_bit(PageId::new(4064 * 8 + 1));
        assert_eq!((map_page, bit), (PageId::new(3), 1));
        assert_eq!(geometry.map_page_copy(map_page, MapCopy::Odd), PageId::new(12));
    }

    #[test]
    fn segments_without_room_for_data_are_rejected() {
        assert!(Geometry::new(PageSize::DEFAULT, 4).is_err());
        assert!(Geometry::new(PageSize::DEFAULT, 8).is_ok());
    }

    #[test]
    fn segment_lengths_cover_only_pages_in_use() {
        let geometry = Geometry::new(PageSize::DEFAULT, 8).unwrap();
        assert_eq!(geometry.segment_count(17), 3);
        assert_eq!(geometry.segment_bytes_needed(SegmentId::new(0), 17), 8 * 4096);
        assert_eq!(geometry.segment_bytes_needed(SegmentId::new(2), 17), 4096);
        assert_eq!(geometry.segment_bytes_needed(SegmentId::new(3), 17), 0);
    }
}
