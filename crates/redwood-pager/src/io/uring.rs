//! `UringVfs`: files whose batched reads go through io_uring (Linux, feature `io-uring`). Names
//! are handled as `OsVfs` handles them, directory syncs included; single reads and writes and
//! `fdatasync` are plain system calls (ADR-25: the ring gains nothing on one operation, and its
//! fsync ran on a kernel worker thread, 19% slower per durable commit).
//!
//! Each file owns a small ring behind a mutex. `read_many` submits a batch of reads and reaps
//! all of their completions before returning, so a buffer the caller lends is never used by the
//! kernel after the call: that is the whole safety argument for the `unsafe` pushes below.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use io_uring::{IoUring, opcode, types};

use super::{OsVfs, Storage, Vfs, parent_dir};

/// Entries in each file's ring: the largest batch `read_many` submits at once.
const RING_ENTRIES: u32 = 32;
/// The most bytes one read or write entry asks for (the kernel takes a u32 length).
const CHUNK_BYTES_MAX: usize = 1 << 30;

/// The real file system, with file I/O through io_uring.
#[derive(Debug, Clone, Copy)]
pub struct UringVfs {
    names: OsVfs,
}

impl UringVfs {
    /// An io_uring file system, or the error that shows this kernel (or its sandbox) has none.
    pub fn new() -> io::Result<Self> {
        IoUring::new(RING_ENTRIES)?;
        Ok(Self { names: OsVfs::new() })
    }

    fn wrap(file: File) -> io::Result<Box<dyn Storage>> {
        let ring = IoUring::new(RING_ENTRIES)?;
        Ok(Box::new(UringFile { file, ring: Mutex::new(ring) }))
    }
}

/// The best real file system here: io_uring where the kernel offers it, else `OsVfs`.
pub fn best_vfs() -> std::sync::Arc<dyn Vfs> {
    match UringVfs::new() {
        Ok(vfs) => std::sync::Arc::new(vfs),
        Err(_) => std::sync::Arc::new(OsVfs::new()),
    }
}

struct UringFile {
    file: File,
    ring: Mutex<IoUring>,
}

impl std::fmt::Debug for UringFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UringFile").field("file", &self.file).finish_non_exhaustive()
    }
}

impl UringFile {
    fn fd(&self) -> types::Fd {
        types::Fd(self.file.as_raw_fd())
    }
}

impl UringFile {
    /// Submits one read per request (at most `RING_ENTRIES`) and reaps every completion, even
    /// after an error. Returns how many bytes each request got.
    #[expect(unsafe_code, reason = "io_uring submission: the kernel writes into the buffers")]
    fn read_batch(&self, requests: &mut [(u64, &mut [u8])]) -> io::Result<Vec<usize>> {
        assert!(requests.len() <= RING_ENTRIES as usize, "a batch fits the ring");
        let mut ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        for (index, (offset, buf)) in requests.iter_mut().enumerate() {
            let length = buf.len().min(CHUNK_BYTES_MAX) as u32;
            let entry = opcode::Read::new(self.fd(), buf.as_mut_ptr(), length)
                .offset(*offset)
                .build()
                .user_data(index as u64);
            // SAFETY: every buffer is borrowed for the whole call and the loop below reaps the
            // completion of every entry pushed here before returning, errors included, so the
            // kernel never writes into a buffer after its borrow ends. The queue has room: it
            // holds `RING_ENTRIES` and this batch is no larger, with nothing else in flight.
            unsafe { ring.submission().push(&entry) }
                .map_err(|_| io::Error::other("io_uring submission queue full"))?;
        }
        let mut got = vec![0usize; requests.len()];
        let mut first_error = None;
        let mut reaped = 0;
        while reaped < requests.len() {
            wait_for(&mut ring, requests.len() - reaped);
            for completion in ring.completion() {
                reaped += 1;
                let index = completion.user_data() as usize;
                match u32::try_from(completion.result()) {
                    Ok(read) => got[index] = read as usize,
                    Err(_) => {
                        first_error
                            .get_or_insert(io::Error::from_raw_os_error(-completion.result()));
                    }
                }
            }
        }
        first_error.map_or(Ok(got), Err)
    }
}

/// Submits what is queued and waits until `count` completions are ready. Transient failures
/// (interrupted, out of resources) are retried. Any other failure means the ring itself is
/// broken while the kernel may still own the caller's buffers: returning would let them be
/// freed under it, so that is a panic (a programmer error, never bad input).
fn wait_for(ring: &mut IoUring, count: usize) {
    loop {
        match ring.submit_and_wait(count) {
            Ok(_) => return,
            Err(error) if matches!(error.raw_os_error(), Some(4 | 11 | 16)) => continue,
            Err(error) => panic!("io_uring ring failed with entries in flight: {error}"),
        }
    }
}

impl Storage for UringFile {
    fn read_many(&self, requests: &mut [(u64, &mut [u8])]) -> io::Result<()> {
        for batch in requests.chunks_mut(RING_ENTRIES as usize) {
            let got = self.read_batch(batch)?;
            // A short read (rare for files) finishes through the one-at-a-time path.
            for ((offset, buf), read) in batch.iter_mut().zip(got) {
                if read < buf.len() {
                    self.read_at(*offset + read as u64, &mut buf[read..])?;
                }
            }
        }
        Ok(())
    }

    fn len(&self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }

    /// One synchronous read is a plain `pread`: through the ring it costs the same one system
    /// call, and the ring's mutex would serialize readers on different threads (the benchmark's
    /// profile of two reader threads showed them waiting on it).
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        std::os::unix::fs::FileExt::read_exact_at(&self.file, buf, offset)
    }

    /// One synchronous write is a plain `pwrite`, for the reason `read_at` is: a write through
    /// the ring waits under its mutex, so writers on different threads (a backup's workers, a
    /// checkpoint beside the log) took turns. On ext4 a buffered write in the ring is also handed
    /// to a kernel worker thread first; the backup row's profile showed each 1 MiB write costing
    /// about 2 ms that way, its two workers serialized on the mutex.
    fn write_at(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        std::os::unix::fs::FileExt::write_all_at(&self.file, data, offset)
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.file.set_len(len)
    }

    /// A plain `fdatasync`: through the ring, the kernel ran it on an io-wq worker thread, a
    /// wake-up and a switch more per durable commit (ADR-25).
    fn sync_data(&self) -> io::Result<()> {
        self.file.sync_data()
    }

    fn try_lock(&self) -> io::Result<bool> {
        super::try_lock_file(&self.file)
    }
}

impl Vfs for UringVfs {
    fn open(&self, path: &Path) -> io::Result<Box<dyn Storage>> {
        Self::wrap(OpenOptions::new().read(true).write(true).open(path)?)
    }

    fn open_read_only(&self, path: &Path) -> io::Result<Box<dyn Storage>> {
        let storage = Self::wrap(OpenOptions::new().read(true).open(path)?)?;
        Ok(Box::new(super::ReadOnlyStorage::new(storage)))
    }

    fn create(&self, path: &Path) -> io::Result<Box<dyn Storage>> {
        let file = OpenOptions::new().read(true).write(true).create_new(true).open(path)?;
        self.names.sync_dir(parent_dir(path))?;
        Self::wrap(file)
    }

    /// `OsVfs`'s unbuffered file: its writes are `pwrite`s, as they are here.
    fn create_unbuffered(&self, path: &Path) -> io::Result<Box<dyn Storage>> {
        self.names.create_unbuffered(path)
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        self.names.remove(path)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.names.rename(from, to)
    }

    fn exists(&self, path: &Path) -> io::Result<bool> {
        self.names.exists(path)
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
        self.names.list(dir)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.names.sync_dir(dir)
    }

    fn create_dir(&self, dir: &Path) -> io::Result<()> {
        self.names.create_dir(dir)
    }
}
