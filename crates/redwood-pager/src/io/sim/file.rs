//! `SimFile`: an open simulated file. It names an inode, so it keeps working after its file is
//! removed or renamed, and it remembers the crash epoch it was opened in, so it goes stale at
//! the next crash.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::state::{InodeId, SimState, stale};
use crate::io::Storage;

/// Hands out the handle tokens that name a lock's holder.
static HANDLE_TOKENS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// A handle on one simulated inode, valid until the next crash.
pub(super) struct SimFile {
    state: Arc<Mutex<SimState>>,
    inode: InodeId,
    epoch: u64,
    /// The name the handle was opened under, for fault predicates.
    path: PathBuf,
    /// Names this handle as a lock holder.
    token: u64,
}

impl SimFile {
    pub(super) fn new(
        state: Arc<Mutex<SimState>>,
        inode: InodeId,
        epoch: u64,
        path: &Path,
    ) -> Self {
        let token = HANDLE_TOKENS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Self { state, inode, epoch, path: path.to_path_buf(), token }
    }

    /// The state, if this handle was opened since the last crash.
    fn lock(&self) -> io::Result<MutexGuard<'_, SimState>> {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.epoch == self.epoch { Ok(state) } else { Err(stale()) }
    }
}

impl fmt::Debug for SimFile {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("SimFile")
            .field("inode", &self.inode)
            .field("epoch", &self.epoch)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Storage for SimFile {
    fn len(&self) -> io::Result<u64> {
        let mut state = self.lock()?;
        state.check_not_frozen()?;
        Ok(state.inode_mut(self.inode)?.live.len() as u64)
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.lock()?.read_at(self.inode, &self.path, offset, buf)
    }

    fn write_at(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.lock()?.write_at(self.inode, &self.path, offset, data)
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.lock()?.set_len(self.inode, &self.path, len)
    }

    fn sync_data(&self) -> io::Result<()> {
        self.lock()?.sync_data(self.inode, &self.path)
    }

    fn try_lock(&self) -> io::Result<bool> {
        let mut state = self.lock()?;
        let epoch = state.epoch;
        match state.locks.get(&self.inode) {
            Some(&(held_in, token)) if held_in == epoch && token != self.token => Ok(false),
            _ => {
                state.locks.insert(self.inode, (epoch, self.token));
                Ok(true)
            }
        }
    }
}

impl Drop for SimFile {
    fn drop(&mut self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.locks.get(&self.inode).is_some_and(|&(_, token)| token == self.token) {
            state.locks.remove(&self.inode);
        }
    }
}
