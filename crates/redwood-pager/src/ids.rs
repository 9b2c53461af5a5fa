//! Newtypes for the pager's domain integers, so a page id is never confused with a count,
//! an offset or a log position.

use std::fmt;

/// Defines a `u64` newtype with `new`, `get` and a `Display` of "`label` N".
macro_rules! u64_id {
    ($(#[$doc:meta])* $name:ident, $label:literal, $raw:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
        pub struct $name(u64);

        impl $name {
            #[doc = concat!("Wraps a raw ", $raw, ".")]
            pub const fn new(raw: u64) -> Self {
                Self(raw)
            }

            #[doc = concat!("The raw ", $raw, ", as stored on disk.")]
            pub const fn get(self) -> u64 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($label, " {}"), self.0)
            }
        }
    };
}

u64_id!(
    /// The identity of one page: its index in the database's page-id space (base file first,
    /// then each segment file in turn). Pages 0 and 1 are always the two meta copies.
    PageId,
    "page",
    "page index"
);

u64_id!(
    /// A log sequence number: a position in the write-ahead log. Pages record the LSN of the
    /// change that last wrote them; 0 means "before any logged change".
    Lsn,
    "lsn",
    "log position"
);

u64_id!(
    /// The index of one file of a database: 0 is the base file, `n > 0` is `NAME.segN`.
    SegmentId,
    "segment",
    "segment index"
);

impl PageId {
    /// The first meta copy.
    pub const META_0: PageId = PageId(0);
    /// The second meta copy.
    pub const META_1: PageId = PageId(1);
}

impl Lsn {
    /// The position before any logged change.
    pub const ZERO: Lsn = Lsn(0);
    /// Past every real position: "never", as the end of a page version's visibility that no
    /// commit has superseded.
    pub const MAX: Lsn = Lsn(u64::MAX);

    /// The position just before this one (`ZERO` stays `ZERO`).
    pub const fn previous(self) -> Lsn {
        Lsn(self.0.saturating_sub(1))
    }

    /// The position just after this one, or `None` past the largest LSN.
    pub const fn next(self) -> Option<Lsn> {
        match self.0.checked_add(1) {
            Some(next) => Some(Lsn(next)),
            None => None,
        }
    }
}

impl SegmentId {
    /// The base file.
    pub const BASE: SegmentId = SegmentId(0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_display_with_their_kind() {
        assert_eq!(PageId::new(7).to_string(), "page 7");
        assert_eq!(Lsn::new(3).to_string(), "lsn 3");
        assert_eq!(SegmentId::new(2).get(), 2);
        assert!(PageId::META_0 < PageId::META_1);
    }
}
