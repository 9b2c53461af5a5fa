//! `OsVfs`: real files through positioned reads and writes (`pread`/`pwrite`) and `fdatasync`.
//!
//! Unlike the bare system calls, `create`, `remove` and `rename` here also fsync the parent
//! directory before returning, so a caller that forgets `sync_dir` still gets durable names on a
//! real disk. Callers must not rely on that: the pager calls `sync_dir` itself, which is what
//! `SimVfs` checks.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::{Storage, Vfs, parent_dir};

/// The operating system's file system. Stateless; clone or share it freely.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsVfs;

impl OsVfs {
    /// A handle on the real file system.
    pub fn new() -> Self {
        Self
    }
}

/// An open OS file.
#[derive(Debug)]
struct OsFile {
    file: File,
}

impl Storage for OsFile {
    fn len(&self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.file.read_exact_at(buf, offset)
    }

    fn write_at(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.file.write_all_at(data, offset)
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.file.set_len(len)
    }

    fn sync_data(&self) -> io::Result<()> {
        self.file.sync_data()
    }

    fn try_lock(&self) -> io::Result<bool> {
        super::try_lock_file(&self.file)
    }
}

impl Vfs for OsVfs {
    fn open(&self, path: &Path) -> io::Result<Box<dyn Storage>> {
        let file = OpenOptions::new().read(true).write(true).open(path)?;
        Ok(Box::new(OsFile { file }))
    }

    fn open_read_only(&self, path: &Path) -> io::Result<Box<dyn Storage>> {
        let file = OpenOptions::new().read(true).open(path)?;
        Ok(Box::new(super::ReadOnlyStorage::new(Box::new(OsFile { file }))))
    }

    fn create(&self, path: &Path) -> io::Result<Box<dyn Storage>> {
        let file = OpenOptions::new().read(true).write(true).create_new(true).open(path)?;
        self.sync_dir(parent_dir(path))?;
        Ok(Box::new(OsFile { file }))
    }

    /// On Linux the file is created as `create` does and then reopened for writing with
    /// `O_DIRECT`; a file system that refuses it (tmpfs on older kernels) keeps the buffered
    /// handle.
    fn create_unbuffered(&self, path: &Path) -> io::Result<Box<dyn Storage>> {
        let buffered = self.create(path)?;
        #[cfg(target_os = "linux")]
        {
            use std::os::unix::fs::OpenOptionsExt;
            let direct = OpenOptions::new().write(true).custom_flags(libc::O_DIRECT).open(path);
            if let Ok(file) = direct {
                return Ok(Box::new(OsFile { file }));
            }
        }
        Ok(buffered)
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)?;
        self.sync_dir(parent_dir(path))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)?;
        self.sync_dir(parent_dir(to))
    }

    fn exists(&self, path: &Path) -> io::Result<bool> {
        path.try_exists()
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
        let mut paths = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                paths.push(entry.path());
            }
        }
        paths.sort();
        Ok(paths)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }

    fn create_dir(&self, dir: &Path) -> io::Result<()> {
        std::fs::create_dir_all(dir)
    }
}
