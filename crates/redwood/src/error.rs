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
            _ => false,
        }
    }
}
