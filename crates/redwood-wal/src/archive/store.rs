//! Where archived log generations live: the [`ArchiveStore`] trait (objects by name, each put
//! whole and durably or not at all) and [`DirectoryStore`], a directory of files through the
//! pager's `Vfs`.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use redwood_pager::io::{Storage, Vfs};

/// The suffix of an object being written; never listed, removed when found on open.
pub(crate) const PARTIAL_SUFFIX: &str = ".partial";

/// Bytes copied per write while an object is put.
const COPY_CHUNK_BYTES: u64 = 1 << 20;

/// A flat namespace of immutable objects: the archive's backing store (a directory here; an
/// object store behind the facade's `object-store` feature).
///
/// Contract: [`ArchiveStore::put`] is atomic and durable (after `Ok`, the object survives a
/// crash whole; after a crash during it, the old object or none is there, never part of the new
/// one); names are plain file names (no separators).
pub trait ArchiveStore: Send + Sync + fmt::Debug {
    /// Stores the first `len` bytes of `source` as `name`, replacing any object of that name.
    fn put(&self, name: &str, source: &dyn Storage, len: u64) -> io::Result<()>;

    /// Opens `name` for reading; [`io::ErrorKind::NotFound`] if absent.
    fn open(&self, name: &str) -> io::Result<Box<dyn Storage>>;

    /// The names of every complete object, sorted.
    fn list(&self) -> io::Result<Vec<String>>;

    /// Removes `name` (nothing if absent).
    fn remove(&self, name: &str) -> io::Result<()>;

    /// Where the store is, for messages (a directory's path, a bucket's URL).
    fn location(&self) -> String;
}

/// An archive in a directory of `vfs`: each object a file, written as `NAME.partial`, synced,
/// renamed into place and the directory synced.
#[derive(Clone)]
pub struct DirectoryStore {
    vfs: Arc<dyn Vfs>,
    dir: PathBuf,
}

impl fmt::Debug for DirectoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DirectoryStore").field("dir", &self.dir).finish_non_exhaustive()
    }
}

impl DirectoryStore {
    /// The store in `dir` of `vfs`, creating the directory if it is missing.
    pub fn new(vfs: Arc<dyn Vfs>, dir: impl Into<PathBuf>) -> io::Result<Self> {
        let dir = dir.into();
        vfs.create_dir(&dir)?;
        if let Some(parent) = dir.parent().filter(|parent| !parent.as_os_str().is_empty()) {
            vfs.sync_dir(parent)?;
        }
        Ok(Self { vfs, dir })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, name: &str) -> io::Result<PathBuf> {
        if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
            let message = format!("{name:?} is not an archive object's name");
            return Err(io::Error::new(io::ErrorKind::InvalidInput, message));
        }
        Ok(self.dir.join(name))
    }
}

impl ArchiveStore for DirectoryStore {
    fn put(&self, name: &str, source: &dyn Storage, len: u64) -> io::Result<()> {
        let path = self.path(name)?;
        let partial = self.path(&format!("{name}{PARTIAL_SUFFIX}"))?;
        if self.vfs.exists(&partial)? {
            self.vfs.remove(&partial)?;
        }
        let file = self.vfs.create(&partial)?;
        let mut buffer = vec![0u8; COPY_CHUNK_BYTES.min(len) as usize];
        let mut offset = 0;
        while offset < len {
            let chunk = (len - offset).min(COPY_CHUNK_BYTES) as usize;
            source.read_at(offset, &mut buffer[..chunk])?;
            file.write_at(offset, &buffer[..chunk])?;
            offset += chunk as u64;
        }
        file.sync_data()?;
        drop(file);
        self.vfs.rename(&partial, &path)?;
        self.vfs.sync_dir(&self.dir)
    }

    fn open(&self, name: &str) -> io::Result<Box<dyn Storage>> {
        self.vfs.open_read_only(&self.path(name)?)
    }

    fn list(&self) -> io::Result<Vec<String>> {
        let mut names: Vec<String> = self
            .vfs
            .list(&self.dir)?
            .into_iter()
            .filter_map(|path| path.file_name().and_then(|name| name.to_str()).map(str::to_owned))
            .collect();
        names.sort();
        Ok(names)
    }

    fn remove(&self, name: &str) -> io::Result<()> {
        match self.vfs.remove(&self.path(name)?) {
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(error) => Err(error),
            Ok(()) => self.vfs.sync_dir(&self.dir),
        }
    }

    fn location(&self) -> String {
        self.dir.display().to_string()
    }
}

/// A read-only [`Storage`] over bytes in memory: how an object fetched whole (from an object
/// store) is read with the log's own reader.
#[derive(Debug)]
pub struct BytesStorage(pub Vec<u8>);

impl Storage for BytesStorage {
    fn len(&self) -> io::Result<u64> {
        Ok(self.0.len() as u64)
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let start = usize::try_from(offset).ok().filter(|&start| start <= self.0.len());
        let bytes = start.and_then(|start| self.0.get(start..start.checked_add(buf.len())?));
        let bytes = bytes.ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))?;
        buf.copy_from_slice(bytes);
        Ok(())
    }

    fn write_at(&self, _offset: u64, _data: &[u8]) -> io::Result<()> {
        Err(io::Error::from(io::ErrorKind::PermissionDenied))
    }

    fn set_len(&self, _len: u64) -> io::Result<()> {
        Err(io::Error::from(io::ErrorKind::PermissionDenied))
    }

    fn sync_data(&self) -> io::Result<()> {
        Ok(())
    }

    fn try_lock(&self) -> io::Result<bool> {
        Ok(true)
    }
}
