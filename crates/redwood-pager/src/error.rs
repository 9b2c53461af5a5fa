//! The pager's one error type. Bad input and damaged files are `Err`, never a panic.

use std::io;
use std::path::PathBuf;

use crate::{Lsn, PageId, SegmentId};

/// The result type of every fallible pager operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the pager.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The operating system (or simulated disk) failed an operation.
    #[error("{operation} failed on {}: {source}", path.display())]
    Io {
        /// What the pager was doing, e.g. "sync_data".
        operation: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A page's stored checksum does not match its contents: torn write, bit rot or a foreign
    /// page.
    #[error("checksum mismatch in {page_id}: stored {expected:#010x}, computed {actual:#010x}")]
    ChecksumMismatch {
        /// The page that was read.
        page_id: PageId,
        /// The checksum stored in the page header.
        expected: u32,
        /// The checksum computed over the bytes read.
        actual: u32,
    },
    /// A page holds another page's valid contents: a write went to the wrong place.
    #[error("misdirected write detected: {page_id} holds the contents of {found}")]
    Misdirected {
        /// The page that was read.
        page_id: PageId,
        /// The page whose contents were found there.
        found: PageId,
    },
    /// A page or the meta data is self-consistent but violates the format.
    #[error("corrupt {page_id}: {reason}")]
    Corrupt {
        /// The page at fault.
        page_id: PageId,
        /// What is wrong with it.
        reason: String,
    },
    /// Another handle (in this process or another) has the database open: its main file is
    /// locked for as long as a `PageFile` holds it.
    #[error("{} is in use: another process or handle has the database open", path.display())]
    Locked {
        /// The database's main file.
        path: PathBuf,
    },
    /// The file is not a Redwood database (no magic number).
    #[error("{} is not a Redwood database", path.display())]
    NotADatabase {
        /// The file that was opened.
        path: PathBuf,
    },
    /// A database file is shorter than its meta data says.
    #[error("{} is truncated: {actual_bytes} bytes, expected at least {expected_bytes}", path.display())]
    Truncated {
        /// The short file.
        path: PathBuf,
        /// Its length.
        actual_bytes: u64,
        /// The length its meta data requires.
        expected_bytes: u64,
    },
    /// A segment file the meta data refers to does not exist.
    #[error("{segment} of the database is missing: {}", path.display())]
    SegmentMissing {
        /// The missing segment.
        segment: SegmentId,
        /// Where it was expected.
        path: PathBuf,
    },
    /// The database was written by a newer Redwood with a format this one cannot read.
    #[error("unsupported format version {found} (this build reads up to {supported})")]
    UnsupportedFormatVersion {
        /// The version in the file.
        found: u32,
        /// The newest version this build understands.
        supported: u32,
    },
    /// A database already exists where a new one was to be created.
    #[error("{} already exists", path.display())]
    AlreadyExists {
        /// The existing file.
        path: PathBuf,
    },
    /// No database exists at the path that was opened.
    #[error("{} does not exist", path.display())]
    NotFound {
        /// The missing file.
        path: PathBuf,
    },
    /// An option is out of range.
    #[error("invalid option: {0}")]
    InvalidOption(String),
    /// A call the pager's contract forbids, a bug in the caller: rolling back to a discarded
    /// savepoint, a root slot out of range, a page buffer of another page size or of a page
    /// type the pager reserves, freeing a page a root slot points at. Nothing was changed.
    #[error("a call the pager does not allow: {0}")]
    Misuse(String),
    /// A page id at or beyond the database's page count.
    #[error("{page_id} is out of range (the database has {page_count} pages)")]
    PageOutOfRange {
        /// The requested page.
        page_id: PageId,
        /// The number of page ids in use.
        page_count: u64,
    },
    /// An operation needed an allocated page, but the page is free.
    #[error("{page_id} is not allocated")]
    NotAllocated {
        /// The free page.
        page_id: PageId,
    },
    /// An operation tried to read, write or free a page the pager reserves for itself.
    #[error("{page_id} is reserved by the pager")]
    ReservedPage {
        /// The reserved page.
        page_id: PageId,
    },
    /// The page-id space is exhausted.
    #[error("the database is full ({page_count_max} pages)")]
    Full {
        /// The limit that was reached.
        page_count_max: u64,
    },
    /// The write-ahead log is damaged at a place that had been synced.
    #[error("write-ahead log corrupt at byte {offset} ({lsn}): {reason}")]
    LogCorrupt {
        /// Byte offset of the damaged frame.
        offset: u64,
        /// The LSN the damaged frame should have had.
        lsn: Lsn,
        /// What is wrong.
        reason: String,
    },
    /// The write-ahead log is not the one the database's meta data names: it belongs to
    /// another database (or page size), to another history of this one (a copy that went its
    /// own way, an older or newer generation), or the newest meta copy is lost. Nothing was
    /// changed; put the right log back, or move this one aside and open with the override for
    /// a missing log.
    #[error("{}: the write-ahead log does not belong to this database: {reason}", path.display())]
    LogMismatch {
        /// The log file (or, when the pager finds the mismatch, the database it was opened for).
        path: PathBuf,
        /// Which field differs.
        reason: String,
    },
    /// The write-ahead log is missing or emptied, and the meta data does not show it was empty
    /// at a clean close: every commit since the last checkpoint would be lost. Nothing was
    /// changed; put the log back, or open with the override for a missing log to accept the
    /// loss.
    #[error("{}: {reason}; the commits after the last checkpoint ({checkpoint_lsn}) are in it", path.display())]
    LogMissing {
        /// The log file.
        path: PathBuf,
        /// What is missing: the file, or its header.
        reason: String,
        /// The data files hold every commit up to here; later ones were only in the log.
        checkpoint_lsn: Lsn,
    },
    /// A change was asked of a database opened read-only.
    #[error("the database was opened read-only")]
    ReadOnly,
    /// Something is larger than its limit.
    #[error("{what} of {bytes} bytes exceeds the limit of {limit}")]
    TooLarge {
        /// What was too large.
        what: &'static str,
        /// Its size.
        bytes: u64,
        /// The limit.
        limit: u64,
    },
    /// An earlier write or sync failed, so on-disk state is unknown; reopen to recover.
    #[error("the database handle is poisoned by an earlier I/O failure; reopen it")]
    Poisoned,
    /// `check_invariants` found violations.
    #[error("{} invariant violation(s), first: {}", violations.len(), violations.first().map(ToString::to_string).unwrap_or_default())]
    InvariantViolation {
        /// Every violation found.
        violations: Vec<crate::Violation>,
    },
}

impl Error {
    /// Wraps an I/O error with the operation and path it happened on.
    pub(crate) fn io(operation: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io { operation, path: path.into(), source }
    }

    /// The page this error is about, if it names one.
    pub fn page_id(&self) -> Option<PageId> {
        match self {
            Error::ChecksumMismatch { page_id, .. }
            | Error::Misdirected { page_id, .. }
            | Error::Corrupt { page_id, .. }
            | Error::NotAllocated { page_id } => Some(*page_id),
            _ => None,
        }
    }

    /// Whether this error means the data on disk is damaged (as opposed to I/O or misuse).
    pub fn is_corruption(&self) -> bool {
        matches!(
            self,
            Error::ChecksumMismatch { .. }
                | Error::Misdirected { .. }
                | Error::Corrupt { .. }
                | Error::Truncated { .. }
                | Error::SegmentMissing { .. }
                | Error::LogCorrupt { .. }
        )
    }
}
