//! Backups (issue 19): a consistent snapshot of the database, at one commit, written as a CARv1
//! archive of content-addressed pages ([`Database::backup`]), and a new database built back
//! from one ([`restore_backup`]). The format is in `docs/FORMAT.md`, "Backups: CARv1 archives".
//!
//! A backup is physical: each page the snapshot's structure reaches (found by the integrity
//! walk) is one raw block, byte for byte; a DAG-CBOR manifest (the archive's root) records the
//! geometry, the root slots and the page id of every block. A restore puts every page back at
//! its id (`WriteTxn::allocate_at`), so what a later log archive says about a page id holds for
//! the restored file too (the point-in-time restore builds on that).
//!
//! A point-in-time restore ([`restore`], `pitr.rs`) replays the log archive's commits after
//! a base backup (or from an empty database) up to a restore point, an LSN or a time.
//!
//! Modules: `car.rs` (the framing and the CIDs), `manifest.rs` (the manifest and the page
//! maps), `write.rs` (the backup), `restore.rs` (the restore), `file.rs` (both as files,
//! through the `Vfs`).

mod car;
mod file;
mod manifest;
mod pitr;
mod positioned;
mod restore;
#[cfg(test)]
mod tests;
pub(crate) mod write;

pub use file::{backup_parent_file, restore_backup_files};
pub use pitr::{RestoreTarget, archived_restore_points, restore, restore_in};
pub use restore::{RestoreReport, restore_backup, restore_backup_chain, restore_backup_in};
pub use write::{BackupParent, BackupReport};

/// What is wrong with a backup, or with writing or reading one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackupError {
    /// The input is not a CAR archive of a Redwood backup.
    #[error("not a Redwood backup: {0}")]
    NotABackup(String),
    /// A backup or CAR version this Redwood does not read.
    #[error("a backup this Redwood cannot read: {0}")]
    UnsupportedVersion(String),
    /// A block whose bytes do not hash to its CID: the archive is damaged.
    #[error("block {0} does not match its hash: the backup is damaged")]
    HashMismatch(String),
    /// The archive's contents break the format (a missing or extra page, a page that fails its
    /// checks, a truncated archive).
    #[error("the backup is damaged: {0}")]
    Malformed(String),
    /// The archives given to a restore are not a chain: the first is incremental, or one does
    /// not build on the one before it.
    #[error("the backups are not a chain: {0}")]
    NotAChain(String),
    /// The restore's destination already holds a database (or a file of that name).
    #[error("{} already exists; a restore writes a new database", path.display())]
    DestinationExists {
        /// The destination.
        path: std::path::PathBuf,
    },
    /// The restore's target is beyond what its backups and log archive reach (or names a
    /// restore point they do not hold); the message names the earliest and latest reachable
    /// points.
    #[error("{0}")]
    OutOfReach(String),
    /// The log archive misses generations a restore needs: between the backup and the
    /// archive's first generation, or between two generations.
    #[error("{0}")]
    ArchiveGap(String),
    /// Reading or writing the archive failed.
    #[error("reading or writing the backup: {0}")]
    Io(#[from] std::io::Error),
}

impl BackupError {
    /// The facade's kind of this error.
    pub(crate) fn kind(&self) -> crate::ErrorKind {
        use crate::ErrorKind;
        match self {
            BackupError::NotABackup(_) => ErrorKind::NotADatabase,
            BackupError::UnsupportedVersion(_) => ErrorKind::UnsupportedVersion,
            BackupError::HashMismatch(_) | BackupError::Malformed(_) => ErrorKind::Corrupt,
            BackupError::DestinationExists { .. } => ErrorKind::AlreadyExists,
            BackupError::NotAChain(_) | BackupError::OutOfReach(_) => ErrorKind::InvalidInput,
            BackupError::ArchiveGap(_) => ErrorKind::Corrupt,
            BackupError::Io(_) => ErrorKind::Io,
        }
    }
}
