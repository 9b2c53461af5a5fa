//! Backups as files, through the pager's `Vfs` (the one way Redwood touches files):
//! [`Database::backup_to_file`] writes `ARCHIVE.partial`, syncs it and renames it into place, so
//! a crash never leaves a half archive under the archive's name; [`restore_backup_files`]
//! streams archive files into [`super::restore_backup_chain`].

use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;
use std::sync::Arc;

use redwood_pager::io::{Storage, Vfs, best_vfs, parent_dir};

use super::{BackupError, BackupReport, RestoreReport};
use crate::database::Database;
use crate::error::{Error, Result};

/// Buffered I/O size for archive files.
const BUFFER_BYTES: usize = 1 << 20;

/// Appends to a `Storage` from offset 0 on.
struct StorageWriter {
    storage: Box<dyn Storage>,
    offset: u64,
}

impl Write for StorageWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.storage.write_at(self.offset, data)?;
        self.offset += data.len() as u64;
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Reads a `Storage` from offset 0 to its length.
struct StorageReader {
    storage: Box<dyn Storage>,
    offset: u64,
    len: u64,
}

impl Read for StorageReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = self.len.saturating_sub(self.offset);
        let take = (buf.len() as u64).min(left) as usize;
        if take == 0 {
            return Ok(0);
        }
        self.storage.read_at(self.offset, &mut buf[..take])?;
        self.offset += take as u64;
        Ok(take)
    }
}

fn io(error: std::io::Error) -> Error {
    BackupError::Io(error).into()
}

impl Database {
    /// [`Database::backup`] (or, with a `parent`, [`Database::backup_incremental`]) into a new
    /// file at `archive` (which must not exist): written as
    /// `ARCHIVE.partial`, synced, then renamed to `archive` and the directory synced, so the
    /// archive's name only ever names a complete backup. A failed backup removes the partial
    /// file.
    pub fn backup_to_file(
        &self,
        archive: impl AsRef<Path>,
        parent: Option<&super::BackupParent>,
        progress: impl FnMut(u64, u64),
    ) -> Result<BackupReport> {
        let archive = archive.as_ref();
        // In the database's own file namespace (the simulated disk of the crash tests too).
        let vfs = Arc::clone(&self.vfs);
        if vfs.exists(archive).map_err(io)? {
            return Err(BackupError::DestinationExists { path: archive.to_path_buf() }.into());
        }
        let mut partial = archive.as_os_str().to_owned();
        partial.push(".partial");
        let partial = std::path::PathBuf::from(partial);
        if vfs.exists(&partial).map_err(io)? {
            vfs.remove(&partial).map_err(io)?; // a crashed backup's
        }
        let result = write_archive(self, vfs.as_ref(), &partial, archive, parent, progress);
        if result.is_err() {
            let _ = vfs.remove(&partial);
        }
        result
    }
}

fn write_archive(
    db: &Database,
    vfs: &dyn Vfs,
    partial: &Path,
    archive: &Path,
    parent: Option<&super::BackupParent>,
    mut progress: impl FnMut(u64, u64),
) -> Result<BackupReport> {
    let (report, storage) = match parent {
        Some(parent) => {
            let storage = vfs.create(partial).map_err(io)?;
            let mut out =
                BufWriter::with_capacity(BUFFER_BYTES, StorageWriter { storage, offset: 0 });
            let report = db.backup_incremental(parent, &mut out, progress)?;
            let writer = out.into_inner().map_err(|error| io(error.into_error()))?;
            (report, writer.storage)
        }
        // A full backup into a file: one pass, every core hashing and writing at its offset,
        // around the OS page cache where the file system allows it.
        None => {
            let storage = vfs.create_unbuffered(partial).map_err(io)?;
            match db.backup_positioned(storage.as_ref(), &mut progress) {
                Ok(report) => (report, storage),
                // A file system that takes `O_DIRECT` but wants larger alignment than 4 KiB
                // (ZFS's record size, say) refuses the first write: the same pass, buffered.
                Err(Error::Backup(BackupError::Io(error)))
                    if error.kind() == std::io::ErrorKind::InvalidInput =>
                {
                    drop(storage);
                    vfs.remove(partial).map_err(io)?;
                    let storage = vfs.create(partial).map_err(io)?;
                    (db.backup_positioned(storage.as_ref(), progress)?, storage)
                }
                Err(error) => return Err(error),
            }
        }
    };
    storage.sync_data().map_err(io)?;
    drop(storage);
    vfs.rename(partial, archive).map_err(io)?;
    vfs.sync_dir(parent_dir(archive)).map_err(io)?;
    Ok(report)
}

/// [`super::restore_backup_chain`] from archive files (read only, never changed): one full
/// backup, or a full backup followed by incremental ones, oldest first.
pub fn restore_backup_files(
    archives: &[impl AsRef<Path>],
    destination: impl AsRef<Path>,
    progress: impl FnMut(u64, u64),
) -> Result<RestoreReport> {
    let vfs = best_vfs();
    let mut readers = Vec::with_capacity(archives.len());
    for archive in archives {
        let storage = vfs.open_read_only(archive.as_ref()).map_err(io)?;
        let len = storage.len().map_err(io)?;
        readers.push(BufReader::with_capacity(
            BUFFER_BYTES,
            StorageReader { storage, offset: 0, len },
        ));
    }
    super::restore_backup_in(vfs, readers, destination, progress)
}

/// Reads the parent of an incremental backup from its archive file (its manifest and page maps
/// only).
pub fn backup_parent_file(archive: impl AsRef<Path>) -> Result<super::BackupParent> {
    let storage = best_vfs().open_read_only(archive.as_ref()).map_err(io)?;
    let len = storage.len().map_err(io)?;
    super::BackupParent::read(BufReader::with_capacity(
        BUFFER_BYTES,
        StorageReader { storage, offset: 0, len },
    ))
}
