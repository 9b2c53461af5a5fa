//! Failures as the command line reports them: one sentence and an exit code per kind of failure,
//! so scripts can tell a missing file from a damaged one or a busy one.

use std::path::Path;

/// What kind of failure ended a command; the discriminant is the process exit code.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Code {
    /// A `get` or `del` found no such key.
    KeyNotFound = 1,
    /// No database file at the path.
    NoSuchFile = 3,
    /// The file is not a Redwood database.
    NotADatabase = 4,
    /// Damaged data: a corrupt page, or `check` found faults.
    Damaged = 5,
    /// Another process (or handle) has the database open.
    Locked = 6,
    /// No table of that name.
    NoSuchTable = 7,
    /// The write-ahead log is missing, emptied, or not this database's.
    LogMissing = 8,
    /// Anything else: I/O errors, bad input, limits.
    Other = 10,
}

/// A failed command: what to print and how to exit.
#[derive(Debug)]
pub struct Failure {
    /// The exit code.
    pub code: Code,
    /// One readable sentence (without the `redwood:` prefix).
    pub message: String,
}

impl Failure {
    /// A failure of kind `code`.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }

    /// Classifies an error from the database at `path` by its [`redwood::ErrorKind`]; the
    /// variant is looked at only for the details a message names (the table, the log's path).
    pub fn from_error(path: &Path, error: redwood::Error) -> Self {
        use redwood::{Error, ErrorKind, StorageError};
        let shown = path.display();
        if let Error::Backup(_) = &error {
            // A backup archive, or a restore's destination: the error's own sentence says what.
            let code = match error.kind() {
                ErrorKind::Corrupt => Code::Damaged,
                ErrorKind::NotADatabase => Code::NotADatabase,
                _ => Code::Other,
            };
            return Self::new(code, format!("{shown}: {error}"));
        }
        match error.kind() {
            ErrorKind::NotFound => match &error {
                Error::TableNotFound(table) => {
                    Self::new(Code::NoSuchTable, format!("{shown} has no table named {table:?}"))
                }
                _ => Self::new(
                    Code::NoSuchFile,
                    format!(
                        "there is no database at {shown} (create one with `redwood put` or `redwood demo`)"
                    ),
                ),
            },
            ErrorKind::NotADatabase => Self::new(
                Code::NotADatabase,
                format!("{shown} is not a Redwood database; it was left untouched"),
            ),
            ErrorKind::Locked => Self::new(
                Code::Locked,
                format!(
                    "{shown} is in use by another process; try again when it has closed the database"
                ),
            ),
            ErrorKind::WrongLog => {
                let message = match &error {
                    Error::Storage(StorageError::LogMissing {
                        path: log,
                        reason,
                        checkpoint_lsn,
                    }) => {
                        format!(
                            "{shown}: its write-ahead log {} is missing ({reason}); the commits after \
                             the last checkpoint ({checkpoint_lsn}) were only in it. Nothing was \
                             changed: put the log back, or pass --discard-missing-log to open \
                             without it and lose them",
                            log.display()
                        )
                    }
                    Error::Storage(StorageError::LogMismatch { reason, .. }) => format!(
                        "{shown}: its write-ahead log belongs elsewhere ({reason}). Nothing was \
                         changed: put the right log back, or move this one aside and pass \
                         --discard-missing-log"
                    ),
                    _ => format!("{shown}: {error}"),
                };
                Self::new(Code::LogMissing, message)
            }
            ErrorKind::Corrupt => {
                let page = error.page_id().map(|page| format!(" ({page})")).unwrap_or_default();
                Self::new(
                    Code::Damaged,
                    format!(
                        "{shown} is damaged{page}: {error}; run `redwood check {shown}` for a full report"
                    ),
                )
            }
            _ => Self::new(Code::Other, format!("{shown}: {error}")),
        }
    }
}
