//! Opening a log: create it, refuse a missing one, or recover an existing one (read-only, or
//! cutting a damaged tail back after saving what a valid commit frame vouches for).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use redwood_pager::io::{MemVfs, Storage, Vfs, parent_dir};

use super::header::{
    check_belongs, check_no_newer_generation, check_not_stale, read_header_copies,
};
use super::{MissingLog, Position, Recovery, Wal, WalOptions};
use crate::error::{Error, Result};
use crate::limits::FRAMES_START_BYTES;
use crate::recovery::{DamagedTail, scan, scan_salvaging};

/// How many names `PATH.damaged-OFFSET-N` past the highest one found a saved tail tries
/// before giving up (only another process creating them meanwhile could take them all).
const TAIL_NAMES_MAX: u32 = 100;

impl Wal {
    /// Opens the log at `path` and recovers its committed transactions. A missing log, or one
    /// with no valid header and no frame, is handled as `options.missing` says; with
    /// `options.read_only` nothing is ever written (a log that would be created lives in
    /// memory only, and a damaged tail is reported, not cut).
    pub fn open(vfs: &dyn Vfs, path: &Path, options: &WalOptions) -> Result<(Wal, Recovery)> {
        let options =
            &WalOptions { read_only: options.read_only || options.salvage, ..options.clone() };
        let exists = vfs.exists(path).map_err(|error| Error::io("exists", path, error))?;
        if !exists {
            return Self::start_missing(vfs, None, path, options, "the log file does not exist");
        }
        let opened = if options.read_only { vfs.open_read_only(path) } else { vfs.open(path) };
        let storage: Arc<dyn Storage> =
            opened.map_err(|error| Error::io("open", path, error))?.into();
        let Some(copies) = read_header_copies(storage.as_ref(), path)? else {
            // No valid header and no frames: emptied, or its creation was interrupted.
            let length = storage.len().map_err(|error| Error::io("len", path, error))?;
            let reason = format!("the log file holds {length} bytes and no valid header");
            return Self::start_missing(vfs, Some(storage), path, options, &reason);
        };
        let length = storage.len().map_err(|error| Error::io("len", path, error))?;
        if length < FRAMES_START_BYTES {
            // Every log is at least its two header copies long from its creation on: a shorter
            // one was cut, and whatever frames it held are gone.
            let reason = format!(
                "the log file holds {length} bytes, less than its {FRAMES_START_BYTES}-byte header"
            );
            return Self::start_missing(vfs, Some(storage), path, options, &reason);
        }
        let header = copies.newest;
        check_belongs(&header, path, options)?;
        check_not_stale(&copies, path, options)?;
        check_no_newer_generation(storage.as_ref(), path, &header)?;
        let (found, lost_frames) = if options.salvage {
            scan_salvaging(storage.as_ref(), path, &header, options.page_size)?
        } else {
            (scan(storage.as_ref(), path, &header, options.page_size)?, Vec::new())
        };
        let file_bytes = storage.len().map_err(|error| Error::io("len", path, error))?;
        let at = Position {
            end_offset: found.committed_end,
            next_lsn: found.next_lsn,
            checksum: found.last_checksum,
        };
        let mut wal = Wal::assemble(path, storage, header, at, options);
        let truncated_bytes = file_bytes.saturating_sub(found.committed_end);
        let mut recovery = Recovery {
            transactions: found.transactions,
            truncated_bytes,
            damaged_tail: found.damaged_tail,
            lost_frames,
            ..Recovery::default()
        };
        if let Some(tail) = &found.damaged_tail {
            tracing::warn!(
                target: "redwood::recovery",
                path = %path.display(),
                offset = tail.offset,
                lsn = tail.lsn.get(),
                commit_after = tail.commit_after.map(|position| position.offset),
                "damaged log tail"
            );
        }
        if !options.read_only {
            wal.file_bytes = found.committed_end;
            if let Some(tail) = found.damaged_tail.filter(|tail| tail.commit_after.is_some()) {
                recovery.tail_saved_to = Some(wal.save_tail(vfs, &tail)?);
            }
            if truncated_bytes > 0 {
                let result = wal.storage.set_len(found.committed_end);
                wal.poison_on_error(result, "set_len")?;
            }
            // Recovered frames may sit only in the page cache (the process exited without a
            // power loss); the next commit record will vouch for them as durable, so make
            // them so.
            wal.sync_storage()?;
        } else {
            wal.file_bytes = file_bytes;
        }
        tracing::info!(
            target: "redwood::recovery",
            path = %path.display(),
            transactions = recovery.transactions.len(),
            truncated_bytes,
            read_only = options.read_only,
            next_lsn = found.next_lsn.get(),
            "log recovered"
        );
        Ok((wal, recovery))
    }

    /// The log is missing (`storage` is `None`) or holds nothing (`storage` is the empty file):
    /// start a new one as `options.missing` allows, in memory when read-only.
    fn start_missing(
        vfs: &dyn Vfs,
        storage: Option<Arc<dyn Storage>>,
        path: &Path,
        options: &WalOptions,
        reason: &str,
    ) -> Result<(Wal, Recovery)> {
        if options.missing == MissingLog::Refuse {
            return Err(Error::Missing {
                path: path.to_path_buf(),
                reason: reason.to_owned(),
                checkpoint_lsn: options.start_lsn.previous(),
            });
        }
        let discarded = (options.missing == MissingLog::Discard).then(|| reason.to_owned());
        if let Some(reason) = &discarded {
            tracing::warn!(
                target: "redwood::recovery",
                path = %path.display(),
                reason = %reason,
                start_lsn = options.start_lsn.get(),
                "missing log discarded: commits after the checkpoint are lost"
            );
        }
        let recovery = Recovery { discarded, ..Recovery::default() };
        if options.read_only {
            // Nothing may be written: the empty log exists in memory only.
            let memory = MemVfs::new();
            let storage = memory.create(path).map_err(|error| Error::io("create", path, error))?;
            return Ok((Self::initialize(storage.into(), path, options)?, recovery));
        }
        let storage = match storage {
            Some(storage) => storage,
            None => {
                let storage =
                    vfs.create(path).map_err(|error| Error::io("create", path, error))?.into();
                let wal = Self::initialize(storage, path, options)?;
                vfs.sync_dir(parent_dir(path))
                    .map_err(|error| Error::io("sync_dir", path, error))?;
                return Ok((wal, recovery));
            }
        };
        Ok((Self::initialize(storage, path, options)?, recovery))
    }

    /// Copies the bytes of a damaged tail (from the end of the last commit to the end of the
    /// last frame of this generation past the damage) to a new file beside the log, durably,
    /// and returns its path.
    fn save_tail(&mut self, vfs: &dyn Vfs, tail: &DamagedTail) -> Result<PathBuf> {
        let length = tail.evidence_end.saturating_sub(tail.committed_end);
        let mut bytes = vec![0u8; length as usize];
        self.storage
            .read_at(tail.committed_end, &mut bytes)
            .map_err(|error| Error::io("read", &self.path, error))?;
        let (saved_path, storage) = self.create_tail_file(vfs, tail.offset)?;
        let written = storage.write_at(0, &bytes).and_then(|()| storage.sync_data());
        written.map_err(|error| Error::io("write", &saved_path, error))?;
        vfs.sync_dir(parent_dir(&saved_path))
            .map_err(|error| Error::io("sync_dir", &saved_path, error))?;
        tracing::warn!(
            target: "redwood::recovery",
            path = %saved_path.display(),
            bytes = length,
            "a valid commit frame follows the damage: the tail was saved before it was cut off"
        );
        Ok(saved_path)
    }

    /// Creates `PATH.damaged-OFFSET`, or, if taken (a tail damaged at the same offset was
    /// saved before), `PATH.damaged-OFFSET-N` with `N` past every such name there is: the names
    /// never run out, so a database that keeps crashing at one place still opens.
    fn create_tail_file(&self, vfs: &dyn Vfs, offset: u64) -> Result<(PathBuf, Box<dyn Storage>)> {
        let base = format!("{}.damaged-{offset}", self.path.display());
        let create = |name: &str| match vfs.create(Path::new(name)) {
            Ok(storage) => Ok(Some((PathBuf::from(name), storage))),
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(None),
            Err(error) => Err(Error::io("create", name, error)),
        };
        if let Some(created) = create(&base)? {
            return Ok(created);
        }
        let dir = parent_dir(&self.path);
        let names = vfs.list(dir).map_err(|error| Error::io("list", dir, error))?;
        let base_name =
            Path::new(&base).file_name().map(|name| name.to_string_lossy().into_owned());
        let prefix = format!("{}-", base_name.unwrap_or_default());
        let highest = names
            .iter()
            .filter_map(|path| {
                path.file_name()?.to_str()?.strip_prefix(&prefix)?.parse::<u64>().ok()
            })
            .max()
            .unwrap_or(0);
        // Past the highest found; a few more in case another process takes names meanwhile.
        for suffix in (highest + 1..).take(TAIL_NAMES_MAX as usize) {
            if let Some(created) = create(&format!("{base}-{suffix}"))? {
                return Ok(created);
            }
        }
        let reason = format!("{TAIL_NAMES_MAX} names past {base}-{highest} are all taken");
        Err(Error::io("create", base, std::io::Error::other(reason)))
    }
}
