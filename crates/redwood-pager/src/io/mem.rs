//! `MemVfs`: files held in memory, for Redwood-Lite and fast tests.
//!
//! Every operation is immediately "durable" (there is no disk to lose it), so `sync_data` and
//! `sync_dir` only check their arguments. Clones share the same files.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use super::{Storage, Vfs};

type FileBytes = Arc<MemInode>;

/// One in-memory file: its bytes, and which handle holds its lock.
#[derive(Debug, Default)]
struct MemInode {
    bytes: RwLock<Vec<u8>>,
    lock_holder: Mutex<Option<u64>>,
}

/// Hands out the handle tokens that name a lock's holder.
static HANDLE_TOKENS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// An in-memory file system. Cloning it yields another handle on the same files.
#[derive(Debug, Default, Clone)]
pub struct MemVfs {
    files: Arc<Mutex<BTreeMap<PathBuf, FileBytes>>>,
}

impl MemVfs {
    /// An empty in-memory file system.
    pub fn new() -> Self {
        Self::default()
    }

    /// A copy of every file's bytes, by path (for tests that compare images).
    pub fn image(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        let files = self.files.lock().unwrap_or_else(PoisonError::into_inner);
        files
            .iter()
            .map(|(path, bytes)| {
                let bytes = bytes.bytes.read().unwrap_or_else(PoisonError::into_inner);
                (path.clone(), bytes.clone())
            })
            .collect()
    }
}

/// An open in-memory file. It keeps its bytes alive even after `remove`.
#[derive(Debug)]
struct MemFile {
    bytes: FileBytes,
    token: u64,
}

impl MemFile {
    fn new(bytes: FileBytes) -> Self {
        Self { bytes, token: HANDLE_TOKENS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) }
    }

    fn lock_holder(&self) -> std::sync::MutexGuard<'_, Option<u64>> {
        self.bytes.lock_holder.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for MemFile {
    fn drop(&mut self) {
        let token = self.token;
        let mut holder = self.lock_holder();
        if *holder == Some(token) {
            *holder = None;
        }
    }
}

fn offset_to_index(offset: u64, len: usize) -> io::Result<(usize, usize)> {
    let start = usize::try_from(offset)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "offset exceeds memory"))?;
    let end = start
        .checked_add(len)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "range overflows"))?;
    Ok((start, end))
}

impl Storage for MemFile {
    fn len(&self) -> io::Result<u64> {
        let bytes = self.bytes.bytes.read().unwrap_or_else(PoisonError::into_inner);
        Ok(bytes.len() as u64)
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let (start, end) = offset_to_index(offset, buf.len())?;
        let bytes = self.bytes.bytes.read().unwrap_or_else(PoisonError::into_inner);
        let source = bytes.get(start..end).ok_or_else(|| {
            io::Error::new(io::ErrorKind::UnexpectedEof, "read past the end of the file")
        })?;
        buf.copy_from_slice(source);
        Ok(())
    }

    fn write_at(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        let (start, end) = offset_to_index(offset, data.len())?;
        let mut bytes = self.bytes.bytes.write().unwrap_or_else(PoisonError::into_inner);
        if bytes.len() < end {
            bytes.resize(end, 0);
        }
        bytes[start..end].copy_from_slice(data);
        Ok(())
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        let (len, _) = offset_to_index(len, 0)?;
        let mut bytes = self.bytes.bytes.write().unwrap_or_else(PoisonError::into_inner);
        bytes.resize(len, 0);
        Ok(())
    }

    fn sync_data(&self) -> io::Result<()> {
        Ok(())
    }

    fn try_lock(&self) -> io::Result<bool> {
        let mut holder = self.lock_holder();
        match *holder {
            Some(token) if token != self.token => Ok(false),
            _ => {
                *holder = Some(self.token);
                Ok(true)
            }
        }
    }
}

impl Vfs for MemVfs {
    fn open(&self, path: &Path) -> io::Result<Box<dyn Storage>> {
        let files = self.files.lock().unwrap_or_else(PoisonError::into_inner);
        let bytes = files.get(path).ok_or_else(|| not_found(path))?;
        Ok(Box::new(MemFile::new(Arc::clone(bytes))))
    }

    fn create(&self, path: &Path) -> io::Result<Box<dyn Storage>> {
        let mut files = self.files.lock().unwrap_or_else(PoisonError::into_inner);
        if files.contains_key(path) {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} already exists", path.display()),
            ));
        }
        let bytes = FileBytes::default();
        files.insert(path.to_path_buf(), Arc::clone(&bytes));
        Ok(Box::new(MemFile::new(bytes)))
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        let mut files = self.files.lock().unwrap_or_else(PoisonError::into_inner);
        files.remove(path).map(drop).ok_or_else(|| not_found(path))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut files = self.files.lock().unwrap_or_else(PoisonError::into_inner);
        let bytes = files.remove(from).ok_or_else(|| not_found(from))?;
        files.insert(to.to_path_buf(), bytes);
        Ok(())
    }

    fn exists(&self, path: &Path) -> io::Result<bool> {
        let files = self.files.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(files.contains_key(path))
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
        let files = self.files.lock().unwrap_or_else(PoisonError::into_inner);
        let in_dir = |path: &&PathBuf| super::parent_dir(path) == dir;
        Ok(files.keys().filter(in_dir).cloned().collect())
    }

    fn sync_dir(&self, _dir: &Path) -> io::Result<()> {
        Ok(())
    }
}

fn not_found(path: &Path) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, format!("{} does not exist", path.display()))
}
