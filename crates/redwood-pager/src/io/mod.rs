//! The two narrow I/O traits every backend implements, and the backends themselves.
//!
//! `Storage` is one open file addressed by byte offset; `Vfs` is a flat namespace of such files
//! plus directory durability. Only this module (and its backends) touch `std::fs`; everything
//! above it goes through these traits, which is what lets the simulated disk (`SimVfs`) stand in
//! for the real one in crash tests.
//!
//! The contracts below are written for the weakest storage we support (DESIGN.md §7): nothing is
//! durable until `sync_data` (file contents) or `sync_dir` (directory entries) returns `Ok`, a
//! failed sync may have lost any unsynced write, and writes are not atomic beyond one byte.

use std::io;
use std::path::{Path, PathBuf};

mod mem;
mod os;
#[cfg(feature = "sim")]
pub mod sim;
#[cfg(all(feature = "io-uring", target_os = "linux"))]
mod uring;

/// The best real file system here: `OsVfs` (io_uring is not built in).
#[cfg(not(all(feature = "io-uring", target_os = "linux")))]
pub fn best_vfs() -> std::sync::Arc<dyn Vfs> {
    std::sync::Arc::new(OsVfs::new())
}

pub use mem::MemVfs;
pub use os::OsVfs;
#[cfg(all(feature = "io-uring", target_os = "linux"))]
pub use uring::{UringVfs, best_vfs};

/// One open file of a [`Vfs`], addressed by byte offset.
///
/// Implementations are shared between threads (`&self` everywhere); concurrent calls on
/// non-overlapping ranges must not interfere. Overlapping concurrent writes have no defined
/// result, and callers never issue them.
#[expect(
    clippy::len_without_is_empty,
    reason = "a file's emptiness is never a question the pager asks"
)]
pub trait Storage: Send + Sync + std::fmt::Debug {
    /// The current length of the file in bytes, as seen by this process.
    ///
    /// After a crash this length is not trustworthy: it may cover bytes that were never written
    /// (they read as zeros) or miss bytes of writes that were never synced.
    fn len(&self) -> io::Result<u64>;

    /// Fills all of `buf` with the bytes at `offset..offset + buf.len()`.
    ///
    /// Reading any byte at or past [`Storage::len`] fails with
    /// [`io::ErrorKind::UnexpectedEof`]; `buf` is then unspecified. A short read never succeeds.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()>;

    /// Writes all of `data` at `offset`, extending the file (with zeros in any gap) if needed.
    ///
    /// On `Ok` the bytes are visible to later reads through any handle of this file, but not
    /// durable until [`Storage::sync_data`] returns `Ok`. On `Err`, any part of `data` may or may
    /// not have been written.
    fn write_at(&self, offset: u64, data: &[u8]) -> io::Result<()>;

    /// Truncates or extends (with zeros) the file to exactly `len` bytes; durable only after
    /// [`Storage::sync_data`].
    fn set_len(&self, len: u64) -> io::Result<()>;

    /// Fills each buffer with the bytes at its offset, exactly as [`Storage::read_at`] would
    /// for each in turn (same errors, and a failure leaves every buffer unspecified). A backend
    /// that can batch (io_uring) submits them together; read-ahead uses it.
    fn read_many(&self, requests: &mut [(u64, &mut [u8])]) -> io::Result<()> {
        for (offset, buf) in requests.iter_mut() {
            self.read_at(*offset, buf)?;
        }
        Ok(())
    }

    /// Makes every completed `write_at` and `set_len` of this file durable (`fdatasync`).
    ///
    /// An `Err` means some of those writes may be lost *even if a later sync succeeds*, so the
    /// caller must treat it as fatal for its in-memory state (the pager poisons its handle). It
    /// does not make the file's directory entry durable; that is [`Vfs::sync_dir`].
    fn sync_data(&self) -> io::Result<()>;

    /// Takes an exclusive lock on the file for this handle, held until the handle is dropped;
    /// `Ok(false)` if another handle, of this process or another, holds it. The lock is
    /// advisory (it excludes only other lockers) and never durable: a crashed process holds
    /// none. The pager locks a database's main file while it is open, so a second open is a
    /// typed error instead of two writers on one file.
    fn try_lock(&self) -> io::Result<bool>;
}

/// `File::try_lock` (`flock`) as `try_lock`'s answer.
fn try_lock_file(file: &std::fs::File) -> io::Result<bool> {
    match file.try_lock() {
        Ok(()) => Ok(true),
        Err(std::fs::TryLockError::WouldBlock) => Ok(false),
        Err(std::fs::TryLockError::Error(error)) => Err(error),
    }
}

/// The alignment [`Vfs::create_unbuffered`]'s handles need of every buffer, offset and length:
/// 4 KiB, the logical block size of the devices Redwood targets (and a multiple of 512).
pub const UNBUFFERED_ALIGN_BYTES: usize = 4096;

/// A namespace of files: the only way Redwood creates, opens, renames or removes them.
///
/// Paths are used as given; a backend may interpret them relative to its own root.
pub trait Vfs: Send + Sync + std::fmt::Debug {
    /// Opens an existing file for reading and writing; [`io::ErrorKind::NotFound`] if absent.
    fn open(&self, path: &Path) -> io::Result<Box<dyn Storage>>;

    /// Opens an existing file for reading only: the handle's `write_at` and `set_len` fail
    /// with [`io::ErrorKind::PermissionDenied`] and its `sync_data` does nothing, so no call
    /// through it can change the file. [`io::ErrorKind::NotFound`] if absent. Backends over
    /// real files open them read-only (a file without write permission opens); the default
    /// wraps [`Vfs::open`] in [`ReadOnlyStorage`].
    fn open_read_only(&self, path: &Path) -> io::Result<Box<dyn Storage>> {
        Ok(Box::new(ReadOnlyStorage::new(self.open(path)?)))
    }

    /// Creates a new, empty file; [`io::ErrorKind::AlreadyExists`] if one exists at `path`.
    ///
    /// The new directory entry is durable only after [`Vfs::sync_dir`] on its parent.
    fn create(&self, path: &Path) -> io::Result<Box<dyn Storage>>;

    /// Creates a new file as [`Vfs::create`] does, for one large write that nothing reads back
    /// soon (a backup archive): where the backend can, the handle's writes bypass the operating
    /// system's page cache (`O_DIRECT` on Linux), so they neither pay for copying into it nor
    /// evict the pages the database's readers use.
    ///
    /// The caller writes only from buffers aligned to [`UNBUFFERED_ALIGN_BYTES`], at offsets
    /// and with lengths that are multiples of it, and reads nothing through the handle; it may
    /// write zeros past the end it wants and then `set_len` to that end. The default (and any
    /// backend or file system that cannot bypass the cache) is [`Vfs::create`], whose handles
    /// accept the same calls.
    fn create_unbuffered(&self, path: &Path) -> io::Result<Box<dyn Storage>> {
        self.create(path)
    }

    /// Removes a file; [`io::ErrorKind::NotFound`] if absent. Durable only after `sync_dir`.
    /// Handles already open on the file keep working until dropped.
    fn remove(&self, path: &Path) -> io::Result<()>;

    /// Atomically replaces `to` (if present) with `from`. Durable only after `sync_dir` of the
    /// parent directory (both paths must share one parent).
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;

    /// Whether a file exists at `path`.
    fn exists(&self, path: &Path) -> io::Result<bool>;

    /// The paths of the files directly inside `dir`, sorted.
    fn list(&self, dir: &Path) -> io::Result<Vec<PathBuf>>;

    /// Makes every completed `create`, `remove` and `rename` in `dir` durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;

    /// Creates the directory `dir` and any missing parents (nothing if it exists); durable
    /// once `sync_dir` of its parent returns. The default does nothing: a namespace without
    /// directories (the in-memory and simulated ones) has every directory already.
    fn create_dir(&self, dir: &Path) -> io::Result<()> {
        let _ = dir;
        Ok(())
    }
}

/// A [`Storage`] that can only be read: writes and truncation fail with
/// [`io::ErrorKind::PermissionDenied`], syncs succeed with nothing to do. What
/// [`Vfs::open_read_only`] hands out, so a read-only open cannot change a file whatever the
/// layers above it try.
#[derive(Debug)]
pub struct ReadOnlyStorage {
    inner: Option<Box<dyn Storage>>,
}

impl ReadOnlyStorage {
    /// Wraps `inner`.
    pub fn new(inner: Box<dyn Storage>) -> Self {
        Self { inner: Some(inner) }
    }

    /// An empty file that exists nowhere: it stands in for a file a read-only open would have
    /// had to create (every read past its length of 0 fails as reads past the end do).
    pub fn empty() -> Box<dyn Storage> {
        Box::new(Self { inner: None })
    }

    fn refuse() -> io::Error {
        io::Error::new(io::ErrorKind::PermissionDenied, "the file was opened read-only")
    }
}

impl Storage for ReadOnlyStorage {
    fn len(&self) -> io::Result<u64> {
        self.inner.as_ref().map_or(Ok(0), |inner| inner.len())
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        match &self.inner {
            Some(inner) => inner.read_at(offset, buf),
            None if buf.is_empty() => Ok(()),
            None => Err(io::Error::new(io::ErrorKind::UnexpectedEof, "read past the end")),
        }
    }

    fn read_many(&self, requests: &mut [(u64, &mut [u8])]) -> io::Result<()> {
        match &self.inner {
            Some(inner) => inner.read_many(requests),
            None => requests.iter_mut().try_for_each(|(offset, buf)| self.read_at(*offset, buf)),
        }
    }

    fn write_at(&self, _offset: u64, _data: &[u8]) -> io::Result<()> {
        Err(Self::refuse())
    }

    fn set_len(&self, _len: u64) -> io::Result<()> {
        Err(Self::refuse())
    }

    fn sync_data(&self) -> io::Result<()> {
        Ok(())
    }

    fn try_lock(&self) -> io::Result<bool> {
        self.inner.as_ref().map_or(Ok(true), |inner| inner.try_lock())
    }
}

/// The directory whose entry holds `path`, for [`Vfs::sync_dir`]: `"."` for a bare file name.
pub fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}
