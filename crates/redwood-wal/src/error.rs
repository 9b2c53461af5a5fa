//! The write-ahead log's error type. A damaged log is a typed error, never a panic.

use std::io;
use std::path::PathBuf;

use redwood_pager::Lsn;

/// The result type of every fallible log operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the write-ahead log.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The operating system (or simulated disk) failed an operation.
    #[error("{operation} failed on {}: {source}", path.display())]
    Io {
        /// What the log was doing, e.g. "sync_data".
        operation: &'static str,
        /// The log file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A frame that had been made durable is damaged; the frames after it cannot be trusted to
    /// be replayed in order, so recovery stops instead of skipping it.
    #[error("write-ahead log corrupt at byte {offset} ({lsn}): {reason}")]
    Corrupt {
        /// Byte offset of the damaged frame in the log file.
        offset: u64,
        /// The LSN the damaged frame should have had.
        lsn: Lsn,
        /// What is wrong.
        reason: String,
    },
    /// Neither header copy is valid, yet the file holds frames.
    #[error("both header copies of {} are damaged: {reason}", path.display())]
    HeaderCorrupt {
        /// The log file.
        path: PathBuf,
        /// What is wrong with the first copy.
        reason: String,
    },
    /// The log belongs to another database, or to one with another page size.
    #[error("{} does not belong to this database: {reason}", path.display())]
    Mismatch {
        /// The log file.
        path: PathBuf,
        /// Which field differs.
        reason: String,
    },
    /// The log file is missing, or holds no valid header and no frame, and the options said to
    /// refuse ([`crate::MissingLog::Refuse`]): nothing was changed.
    #[error("{}: {reason}", path.display())]
    Missing {
        /// The log file.
        path: PathBuf,
        /// What is missing.
        reason: String,
        /// The LSN before the log's expected first frame: the data files hold every commit up
        /// to it.
        checkpoint_lsn: Lsn,
    },
    /// An append, commit, sync or restart of a log opened read-only.
    #[error("the log was opened read-only")]
    ReadOnly,
    /// The log was written by a newer Redwood.
    #[error("unsupported log format version {found} (this build reads up to {supported})")]
    UnsupportedFormatVersion {
        /// The version in the file.
        found: u32,
        /// The newest version this build understands.
        supported: u32,
    },
    /// A record is larger than a frame may carry.
    #[error("a frame payload of {bytes} bytes exceeds the limit of {limit}")]
    TooLarge {
        /// The payload size.
        bytes: u64,
        /// The limit.
        limit: u64,
    },
    /// An earlier write or sync failed; reopen to recover.
    #[error("the log handle is poisoned by an earlier I/O failure; reopen it")]
    Poisoned,
    /// The log archive is not what it should be: another database's, damaged, or with a
    /// generation that cannot be read.
    #[error("the log archive at {location}: {reason}")]
    Archive {
        /// Where the archive is.
        location: String,
        /// What is wrong.
        reason: String,
    },
    /// A page image read from the log failed verification.
    #[error(transparent)]
    Page(#[from] redwood_pager::Error),
}

impl Error {
    pub(crate) fn io(operation: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io { operation, path: path.into(), source }
    }
}

/// The pager speaks one error type; a log failure becomes the matching pager error.
impl From<Error> for redwood_pager::Error {
    fn from(error: Error) -> Self {
        use redwood_pager::Error as Pager;
        match error {
            Error::Io { operation, path, source } => Pager::Io { operation, path, source },
            Error::Corrupt { offset, lsn, reason } => Pager::LogCorrupt { offset, lsn, reason },
            Error::HeaderCorrupt { path: _, reason } => {
                Pager::LogCorrupt { offset: 0, lsn: Lsn::ZERO, reason }
            }
            Error::Mismatch { path, reason } => Pager::LogMismatch { path, reason },
            Error::Missing { path, reason, checkpoint_lsn } => {
                Pager::LogMissing { path, reason, checkpoint_lsn }
            }
            Error::ReadOnly => Pager::ReadOnly,
            Error::UnsupportedFormatVersion { found, supported } => {
                Pager::UnsupportedFormatVersion { found, supported }
            }
            Error::TooLarge { bytes, limit } => {
                Pager::TooLarge { what: "log record", bytes, limit }
            }
            Error::Poisoned => Pager::Poisoned,
            Error::Archive { location, reason } => Pager::Io {
                operation: "archive the log",
                path: PathBuf::from(location),
                source: io::Error::new(io::ErrorKind::InvalidData, reason),
            },
            Error::Page(error) => error,
        }
    }
}
