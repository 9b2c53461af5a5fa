//! Newtypes for the pager's domain integers, so a page id is never confused with a count,
//! an offset or a log position.

use std::fmt;

/// The identity of one page: its index in the database's page-id space (base file first, then
/// each segment file in turn). Page 0 and 1 are always the two meta copies.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct PageId(u64);

impl PageId {
    /// The first meta copy.
    pub const META_0: PageId = PageId(0);
    /// The second meta copy.
    pub const META_1: PageId = PageId(1);

    /// Wraps a raw page index.
    pub const fn new(index: u64) -> Self {
        Self(index)
    }

    /// The raw page index, as stored on disk.
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for PageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "page {}", self.0)
    }
}

/// A log sequence number: a position in the write-ahead log. Pages record the LSN of the change
/// that last wrote them; 0 means "before any logged change".
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct Lsn(u64);

impl Lsn {
    /// The position before any logged change.
    pub const ZERO: Lsn = Lsn(0);

    /// Wraps a raw log position.
    pub const fn new(position: u64) -> Self {
        Self(position)
    }

    /// The raw log position, as stored on disk.
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "lsn {}", self.0)
    }
}

/// The index of one file of a database: 0 is the base file, `n > 0` is `NAME.segN`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct SegmentId(u64);

impl SegmentId {
    /// The base file.
    pub const BASE: SegmentId = SegmentId(0);

    /// Wraps a raw segment index.
    pub const fn new(index: u64) -> Self {
        Self(index)
    }

    /// The raw segment index.
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for SegmentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "segment {}", self.0)
    }
}
