//! The log archive from the facade's side: where it is ([`ArchiveTarget`],
//! `Builder::archive`), and what the database reads of it (restore points that outlive
//! checkpoints). The archive itself (shipping, manifest, reading back) is
//! `redwood_wal::archive`; the restore that replays it is `backup::pitr`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use redwood_pager::io::Vfs;
use redwood_pager::{Lsn, PageSize};
use redwood_wal::archive::{ArchiveOwner, ArchiveStore, DirectoryStore, LogArchive};

use crate::database::Database;
use crate::error::Result;

/// Where a database's log archive is (see [`crate::Builder::archive`]).
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("app.redwood");
/// let db = redwood::Database::builder()
///     .archive(redwood::ArchiveTarget::beside(&path))
///     .create(&path)?;
/// let mut write = db.begin_write()?;
/// write.open_table("t")?.insert(b"k", b"v")?;
/// write.restore_point("v1")?;
/// write.commit()?;
/// db.checkpoint(redwood::CheckpointMode::Truncate)?; // ships the log, then restarts it
/// assert_eq!(db.restore_points()[0].name, "v1"); // still listed: the archive holds it
/// assert!(dir.path().join("app.redwood.archive").join("archive.json").exists());
/// # Ok::<(), redwood::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct ArchiveTarget(Target, Option<std::time::Duration>);

#[derive(Clone, Debug)]
enum Target {
    Directory(PathBuf),
    Store(Arc<dyn ArchiveStore>),
}

impl ArchiveTarget {
    /// A directory (created if missing), in the same file namespace as the database.
    pub fn directory(path: impl Into<PathBuf>) -> Self {
        Self(Target::Directory(path.into()), None)
    }

    /// The directory beside the database at `database`: `DATABASE.archive` (what the CLI
    /// looks for when no `--archive` is given).
    pub fn beside(database: impl AsRef<Path>) -> Self {
        let mut name = database.as_ref().as_os_str().to_owned();
        name.push(".archive");
        Self::directory(PathBuf::from(name))
    }

    /// Any [`ArchiveStore`] (an object store, a test's store).
    pub fn store(store: Arc<dyn ArchiveStore>) -> Self {
        Self(Target::Store(store), None)
    }

    /// Keeps each archived generation for `keep_for` after its last commit, then removes it
    /// (the newest is always kept); by default every generation is kept. Restore points and
    /// restorable times go back as far as the archive does, and a restore needs a base backup
    /// taken within the retention (the archive no longer reaches back to the first commit).
    ///
    /// ```
    /// let target = redwood::ArchiveTarget::directory("app.archive")
    ///     .keep_for(std::time::Duration::from_secs(7 * 24 * 3600));
    /// # let _ = target;
    /// ```
    pub fn keep_for(mut self, keep_for: std::time::Duration) -> Self {
        self.1 = Some(keep_for);
        self
    }

    /// The store, in `vfs` for a directory.
    pub(crate) fn open_store(&self, vfs: &Arc<dyn Vfs>) -> Result<Arc<dyn ArchiveStore>> {
        match &self.0 {
            Target::Directory(dir) => {
                let store =
                    DirectoryStore::new(Arc::clone(vfs), dir.clone()).map_err(|source| {
                        redwood_pager::Error::Io {
                            operation: "open the log archive",
                            path: dir.clone(),
                            source,
                        }
                    })?;
                Ok(Arc::new(store))
            }
            Target::Store(store) => Ok(Arc::clone(store)),
        }
    }

    /// Opens the archive to ship the log of the database `owner` into.
    pub(crate) fn open_for(
        &self,
        vfs: &Arc<dyn Vfs>,
        database_id: u64,
        page_size: PageSize,
        segment_pages: u64,
    ) -> Result<Arc<LogArchive>> {
        let owner = ArchiveOwner { database_id, page_size, segment_pages };
        let archive =
            LogArchive::open(self.open_store(vfs)?, owner).map_err(redwood_pager::Error::from)?;
        Ok(Arc::new(match self.1 {
            Some(keep_for) => archive.with_retention(keep_for),
            None => archive,
        }))
    }

    /// Opens the archive to read only (a restore): nothing in it changes.
    pub(crate) fn open_read_only(&self, vfs: &Arc<dyn Vfs>) -> Result<LogArchive> {
        let store = match &self.0 {
            Target::Directory(dir) => {
                let exists = vfs.exists(dir).map_err(|source| redwood_pager::Error::Io {
                    operation: "open the log archive",
                    path: dir.clone(),
                    source,
                })?;
                if !exists
                    && !vfs.exists(&dir.join(redwood_wal::archive::MANIFEST_NAME)).unwrap_or(false)
                {
                    return Err(redwood_pager::Error::NotFound { path: dir.clone() }.into());
                }
                self.open_store(vfs)?
            }
            Target::Store(store) => Arc::clone(store),
        };
        Ok(LogArchive::open_read_only(store).map_err(redwood_pager::Error::from)?)
    }
}

impl Database {
    /// Ships the log as it stands to the archive (the current generation, up to its last
    /// commit; the checkpoint that closes it ships it again, whole), so the archive reaches the
    /// newest commit. Nothing without an archive. What a restore from a running database does
    /// first.
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("app.redwood");
    /// let db = redwood::Database::builder()
    ///     .archive(redwood::ArchiveTarget::beside(&path))
    ///     .create(&path)?;
    /// let write = db.begin_write()?;
    /// write.open_table("t")?.insert(b"k", b"v")?;
    /// write.commit()?;
    /// db.archive_log()?;
    /// assert_eq!(db.archived_through(), Some(db.stats().last_commit));
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn archive_log(&self) -> Result<()> {
        if self.archive.is_some() {
            self.pager.archive_log()?;
        }
        Ok(())
    }

    /// The newest commit the log archive holds; `None` without an archive, or before it holds
    /// any commit.
    pub fn archived_through(&self) -> Option<Lsn> {
        let archive = self.archive.as_ref()?;
        let manifest = archive.manifest_snapshot();
        manifest
            .generations
            .iter()
            .rev()
            .find_map(|generation| generation.last_commit)
            .map(|mark| Lsn::new(mark.lsn))
    }
}
