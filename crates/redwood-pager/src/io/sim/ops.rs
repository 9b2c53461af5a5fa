//! The operations of `Storage` and `Vfs` on the simulated state: each checks its arguments,
//! admits itself through `SimState::begin` (freeze, op index, faults), then changes the live
//! side and records a pending operation.

use std::io;
use std::path::Path;

use rand::Rng;

use super::fault::OpKind;
use super::state::{
    InodeId, PendingOp, SimState, checked_range, eio, invalid_input, not_found, write_into,
};
use crate::io::parent_dir;

impl SimState {
    pub(super) fn read_at(
        &mut self,
        inode: InodeId,
        path: &Path,
        offset: u64,
        buf: &mut [u8],
    ) -> io::Result<()> {
        let effects = self.begin(OpKind::Read, path, offset, buf.len() as u64)?;
        if effects.eio {
            return Err(eio());
        }
        // Every byte past the length is "at or past len", however far: the contract wants
        // `UnexpectedEof` there, not `InvalidInput`.
        let eof = || io::Error::new(io::ErrorKind::UnexpectedEof, "read past the end of the file");
        let start = usize::try_from(offset).map_err(|_| eof())?;
        let end = start.checked_add(buf.len()).ok_or_else(eof)?;
        let source = self.inode_mut(inode)?.live.get(start..end).ok_or_else(eof)?;
        buf.copy_from_slice(source);
        if effects.bit_rot && !buf.is_empty() {
            self.rot_one_bit(inode, start, buf)?;
        }
        self.counters.reads += 1;
        Ok(())
    }

    /// Flips one random bit of `buf` (just read at `start`) and the same bit on the "media".
    fn rot_one_bit(&mut self, inode: InodeId, start: usize, buf: &mut [u8]) -> io::Result<()> {
        let bit_index = self.rng.random_range(0..buf.len() * 8);
        let byte_index = bit_index / 8;
        let mask = 1u8 << (bit_index % 8);
        buf[byte_index] ^= mask;
        let file = self.inode_mut(inode)?;
        if let Some(byte) = file.live.get_mut(start + byte_index) {
            *byte ^= mask;
        }
        if let Some(byte) = file.durable.get_mut(start + byte_index) {
            *byte ^= mask;
        }
        self.counters.bitrot_flips += 1;
        Ok(())
    }

    pub(super) fn write_at(
        &mut self,
        inode: InodeId,
        path: &Path,
        offset: u64,
        data: &[u8],
    ) -> io::Result<()> {
        checked_range(offset, data.len())?;
        let effects = self.begin(OpKind::Write, path, offset, data.len() as u64)?;
        if effects.eio {
            return Err(eio());
        }
        // Like `pwrite`, an empty write changes nothing, not even the length.
        if data.is_empty() {
            self.counters.writes += 1;
            return Ok(());
        }
        let target = match effects.shift_bytes {
            Some(shift_bytes) => {
                self.counters.misdirected_writes += 1;
                offset.saturating_add_signed(shift_bytes)
            }
            None => offset,
        };
        let (start, _) = checked_range(target, data.len())?;
        write_into(&mut self.inode_mut(inode)?.live, start, data);
        self.push_pending(PendingOp::Write { inode, offset: start, bytes: data.to_vec() });
        self.counters.writes += 1;
        Ok(())
    }

    pub(super) fn set_len(&mut self, inode: InodeId, path: &Path, len: u64) -> io::Result<()> {
        let (len_bytes, _) = checked_range(len, 0)?;
        let effects = self.begin(OpKind::SetLen, path, len, 0)?;
        if effects.eio {
            return Err(eio());
        }
        self.inode_mut(inode)?.live.resize(len_bytes, 0);
        self.push_pending(PendingOp::SetLen { inode, len: len_bytes });
        Ok(())
    }

    pub(super) fn sync_data(&mut self, inode: InodeId, path: &Path) -> io::Result<()> {
        let effects = self.begin(OpKind::Sync, path, 0, 0)?;
        if effects.eio {
            self.fail_sync(inode);
            return Err(eio());
        }
        self.make_durable_where(|op| op.data_inode() == Some(inode));
        self.counters.syncs += 1;
        Ok(())
    }

    pub(super) fn open(&mut self, path: &Path) -> io::Result<InodeId> {
        let effects = self.begin(OpKind::Open, path, 0, 0)?;
        if effects.eio {
            return Err(eio());
        }
        self.live_names.get(path).copied().ok_or_else(|| not_found(path))
    }

    pub(super) fn create(&mut self, path: &Path) -> io::Result<InodeId> {
        if path.as_os_str().is_empty() {
            return Err(invalid_input("cannot create a file with an empty path"));
        }
        let effects = self.begin(OpKind::Create, path, 0, 0)?;
        if effects.eio {
            return Err(eio());
        }
        if self.live_names.contains_key(path) {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} already exists", path.display()),
            ));
        }
        let inode = self.new_inode();
        self.live_names.insert(path.to_path_buf(), inode);
        self.push_pending(PendingOp::Create { path: path.to_path_buf(), inode });
        Ok(inode)
    }

    pub(super) fn remove(&mut self, path: &Path) -> io::Result<()> {
        let effects = self.begin(OpKind::Remove, path, 0, 0)?;
        if effects.eio {
            return Err(eio());
        }
        // The inode lives on for open handles; a crash collects it once no name refers to it.
        self.live_names.remove(path).ok_or_else(|| not_found(path))?;
        self.push_pending(PendingOp::Remove { path: path.to_path_buf() });
        Ok(())
    }

    pub(super) fn rename(&mut self, from: &Path, to: &Path) -> io::Result<()> {
        if parent_dir(from) != parent_dir(to) {
            return Err(invalid_input("rename must stay within one directory"));
        }
        let effects = self.begin(OpKind::Rename, from, 0, 0)?;
        if effects.eio {
            return Err(eio());
        }
        let inode = self.live_names.remove(from).ok_or_else(|| not_found(from))?;
        self.live_names.insert(to.to_path_buf(), inode);
        self.push_pending(PendingOp::Rename { from: from.to_path_buf(), to: to.to_path_buf() });
        Ok(())
    }

    /// A failed `sync_dir` changes nothing: the entries stay pending, to be decided by a later
    /// sync or a crash.
    pub(super) fn sync_dir(&mut self, dir: &Path) -> io::Result<()> {
        let effects = self.begin(OpKind::SyncDir, dir, 0, 0)?;
        if effects.eio {
            return Err(eio());
        }
        self.make_durable_where(|op| op.namespace_dir() == Some(dir));
        self.counters.syncs += 1;
        Ok(())
    }
}
