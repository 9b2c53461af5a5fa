//! The facade's error type: everything a `Database` call can fail with.

/// The result type of every fallible `redwood` call.
///
/// ```
/// fn count(db: &redwood::Database, table: &str) -> redwood::Result<u64> {
///     Ok(db.begin_read()?.open_table(table)?.len())
/// }
///
/// let db = redwood::Database::in_memory()?;
/// assert!(count(&db, "t").is_err()); // no such table yet
/// # Ok::<(), redwood::Error>(())
/// ```
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong, from bad input to damaged files.
///
/// ```
/// use redwood::Error;
///
/// let db = redwood::Database::in_memory()?;
/// let read = db.begin_read()?;
/// let error = read.open_table("users").err().expect("no table yet");
/// assert!(matches!(&error, Error::TableNotFound(name) if name == "users"));
/// assert_eq!(error.to_string(), r#"no table named "users""#);
/// # Ok::<(), redwood::Error>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No table of that name exists.
    #[error("no table named {0:?}")]
    TableNotFound(String),
    /// A table of that name already exists (renaming onto it).
    #[error("a table named {0:?} already exists")]
    TableExists(String),
    /// A table opened as the other kind: a multimap table as a table, or a table as a
    /// multimap table.
    #[error("{name:?} is a {found}, not a {requested}")]
    TableKindMismatch {
        /// The table's name.
        name: String,
        /// The kind it was opened as.
        requested: &'static str,
        /// The kind it is.
        found: &'static str,
    },
    /// A backup could not be written or read, or is damaged (see [`crate::BackupError`]).
    #[error(transparent)]
    Backup(#[from] crate::BackupError),
    /// A table name longer than a key may be, or empty.
    #[error("invalid table name {0:?}")]
    InvalidTableName(String),
    /// The storage layer failed (I/O, corruption, poisoning, a file that is not a database).
    #[error(transparent)]
    Storage(#[from] redwood_pager::Error),
    /// A table's B+Tree failed (a key or value too large, a damaged node).
    #[error(transparent)]
    Tree(#[from] redwood_btree::Error),
    /// A large value's overflow chain failed (a value too large, a damaged chain).
    #[error(transparent)]
    Overflow(#[from] redwood_overflow::Error),
    /// The cache could not be built (a budget too small).
    #[error(transparent)]
    Cache(#[from] redwood_bufpool::Error),
    /// A `Builder` option differs from what the existing database file was created with.
    #[error("{option} {requested} was asked for, but the database has {existing}")]
    OptionConflict {
        /// The option.
        option: &'static str,
        /// What the builder asked for.
        requested: u64,
        /// What the file has.
        existing: u64,
    },
    /// Stored bytes are not an encoding of the table's key or value type (the table was
    /// written with other types, or the bytes are damaged).
    #[error(transparent)]
    Decode(#[from] crate::types::DecodeError),
    /// A key or value has no encoding as the table's type (a `serde` type whose `Serialize`
    /// failed).
    #[error(transparent)]
    Encode(#[from] crate::types::EncodeError),
}

/// What kind of failure an [`Error`] is, to match on without knowing which layer raised it
/// (`Error`'s variants keep the layer's own error, with its source chain, for display).
///
/// ```
/// use redwood::ErrorKind;
///
/// let dir = tempfile::tempdir().unwrap();
/// let missing = redwood::Database::open(dir.path().join("nope")).unwrap_err();
/// assert_eq!(missing.kind(), ErrorKind::NotFound);
/// let db = redwood::Database::in_memory()?;
/// let read = db.begin_read()?;
/// assert_eq!(read.open_table("t").unwrap_err().kind(), ErrorKind::NotFound);
/// let write = db.begin_write()?;
/// let too_long = write.open_table("t")?.insert(vec![0u8; 100_000], b"v").unwrap_err();
/// assert_eq!(too_long.kind(), ErrorKind::TooLarge);
/// # Ok::<(), redwood::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// No database at the path, or no table of the name.
    NotFound,
    /// A database or a table of that name already exists.
    AlreadyExists,
    /// A bad argument or option: an invalid table name, an option out of range, or one that
    /// conflicts with the existing file.
    InvalidInput,
    /// A key, value, transaction or file over its limit (see the crate docs' limits).
    TooLarge,
    /// The data on disk is damaged: a checksum mismatch, a page whose contents break the
    /// format, a torn log past its synced part, a truncated file or a missing segment.
    Corrupt,
    /// The file is not a Redwood database.
    NotADatabase,
    /// The file was written by a newer Redwood.
    UnsupportedVersion,
    /// The write-ahead log is missing or belongs to another database or history.
    WrongLog,
    /// Another handle has the database open.
    Locked,
    /// A change was asked of a database opened read-only.
    ReadOnly,
    /// An earlier failed sync poisoned the handle: reopen the database.
    Poisoned,
    /// The operating system failed an operation (the source says which).
    Io,
    /// Stored bytes do not decode as the table's types.
    Decode,
    /// A value has no encoding as the table's type.
    Encode,
    /// A call the API's contract forbids, a bug in the calling code: rolling back to a
    /// savepoint that was discarded, or (through the lower crates) a root slot out of range or
    /// a page of a type the pager reserves. Nothing was changed.
    Misuse,
    /// Redwood found its own invariants broken: a bug, please report it.
    Internal,
}

impl From<redwood_wal::Error> for Error {
    fn from(error: redwood_wal::Error) -> Self {
        Error::Storage(error.into())
    }
}

impl Error {
    /// The page this error is about, if it names one (a damaged page, a corrupt node or chain).
    ///
    /// ```
    /// use redwood::{Error, PageId, StorageError};
    /// let damaged = Error::from(StorageError::Corrupt {
    ///     page_id: PageId::new(42),
    ///     reason: "keys out of order".to_owned(),
    /// });
    /// assert_eq!(damaged.page_id(), Some(PageId::new(42)));
    /// assert_eq!(Error::TableNotFound("t".to_owned()).page_id(), None);
    /// ```
    pub fn page_id(&self) -> Option<redwood_pager::PageId> {
        match self {
            Error::Storage(error) => error.page_id(),
            Error::Tree(redwood_btree::Error::Corrupt { page_id, .. }) => Some(*page_id),
            Error::Tree(redwood_btree::Error::Pager(error)) => error.page_id(),
            Error::Overflow(redwood_overflow::Error::Corrupt { page_id, .. }) => Some(*page_id),
            Error::Overflow(redwood_overflow::Error::Pager(error)) => error.page_id(),
            _ => None,
        }
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::TableNotFound(_) => ErrorKind::NotFound,
            Error::TableExists(_) => ErrorKind::AlreadyExists,
            Error::InvalidTableName(_)
            | Error::OptionConflict { .. }
            | Error::TableKindMismatch { .. } => ErrorKind::InvalidInput,
            Error::Storage(error)
            | Error::Tree(redwood_btree::Error::Pager(error))
            | Error::Overflow(redwood_overflow::Error::Pager(error)) => storage_kind(error),
            Error::Tree(redwood_btree::Error::KeyTooLarge { .. })
            | Error::Tree(redwood_btree::Error::ValueTooLarge { .. })
            | Error::Overflow(redwood_overflow::Error::TooLarge { .. }) => ErrorKind::TooLarge,
            Error::Tree(_) | Error::Overflow(_) => ErrorKind::Corrupt,
            Error::Cache(redwood_bufpool::Error::BudgetTooSmall { .. }) => ErrorKind::InvalidInput,
            Error::Cache(_) => ErrorKind::Io,
            Error::Decode(_) => ErrorKind::Decode,
            Error::Backup(error) => error.kind(),
            Error::Encode(_) => ErrorKind::Encode,
        }
    }

    /// Whether the data on disk is damaged (a checksum mismatch, a corrupt page, node, chain or
    /// log), as opposed to bad input, misuse or an I/O failure.
    ///
    /// ```
    /// use redwood::{Error, PageId, StorageError};
    /// let mismatch = StorageError::ChecksumMismatch { page_id: PageId::new(7), expected: 1, actual: 2 };
    /// assert!(Error::from(mismatch).is_corruption());
    /// assert!(!Error::InvalidTableName(String::new()).is_corruption());
    /// ```
    pub fn is_corruption(&self) -> bool {
        match self {
            Error::Storage(error)
            | Error::Tree(redwood_btree::Error::Pager(error))
            | Error::Overflow(redwood_overflow::Error::Pager(error)) => error.is_corruption(),
            Error::Tree(redwood_btree::Error::Corrupt { .. })
            | Error::Overflow(redwood_overflow::Error::Corrupt { .. }) => true,
            Error::Backup(error) => error.kind() == ErrorKind::Corrupt,
            _ => false,
        }
    }
}

/// The kind of a storage-layer error.
fn storage_kind(error: &redwood_pager::Error) -> ErrorKind {
    use redwood_pager::Error as E;
    match error {
        _ if error.is_corruption() => ErrorKind::Corrupt,
        E::Io { .. } => ErrorKind::Io,
        E::NotADatabase { .. } => ErrorKind::NotADatabase,
        E::UnsupportedFormatVersion { .. } => ErrorKind::UnsupportedVersion,
        E::AlreadyExists { .. } => ErrorKind::AlreadyExists,
        E::NotFound { .. } => ErrorKind::NotFound,
        E::InvalidOption(_) => ErrorKind::InvalidInput,
        E::Misuse(_) => ErrorKind::Misuse,
        E::Locked { .. } => ErrorKind::Locked,
        E::ReadOnly => ErrorKind::ReadOnly,
        E::Poisoned => ErrorKind::Poisoned,
        E::TooLarge { .. } | E::Full { .. } => ErrorKind::TooLarge,
        E::LogMismatch { .. } | E::LogMissing { .. } => ErrorKind::WrongLog,
        // Through the facade, a reference to a page out of range, free or reserved comes from
        // a damaged page: the facade never asks for one itself.
        E::PageOutOfRange { .. } | E::NotAllocated { .. } | E::ReservedPage { .. } => {
            ErrorKind::Corrupt
        }
        E::InvariantViolation { .. } => ErrorKind::Internal,
        _ => ErrorKind::Internal,
    }
}
