//! `Wal`: the write-ahead log of one database. Appends page images and commit records as
//! checksummed frames, syncs them, reads page images back, recovers on open and restarts after
//! a complete checkpoint.
//!
//! One transaction is open at a time (the pager's single writer). Frames are buffered in memory
//! and written in one `write_at` at commit (or when the buffer fills, which is the spill path);
//! `Durability::Immediate` then costs exactly one `fdatasync`.

use std::hash::{BuildHasher, RandomState};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use redwood_pager::io::Storage;
use redwood_pager::{
    Durability, LogIdentity, LogPosition, Lsn, Page, PageBuf, PageId, PageSize, RecoveredCommit,
    RestorePoint, TransactionChanges,
};

use crate::error::{Error, Result};
use crate::format::{FRAME_HEADER_BYTES, FrameType, WalHeader, encode_frame, frame_bytes};
use crate::limits::{
    APPEND_BUFFER_MAX_BYTES, FRAME_PAYLOAD_MAX_BYTES, FRAMES_START_BYTES, PREALLOC_BYTES,
    PREALLOC_COMMIT_MAX_BYTES,
};
use crate::record::{
    CommitRecord, commit_record_bytes, encode_id_list, encode_restore_point, split_for_frames,
};
pub use crate::recovery::DamagedTail;
use crate::recovery::{PageFrameError, read_page_frame};
pub use redwood_pager::telemetry::{WalCounters, WalStats};

mod header;
mod open;
mod pager_log;

use header::next_salt;
pub(crate) use header::read_newest_header;
pub use pager_log::WalReader;

/// How to open (or create) a log.
#[derive(Clone, Debug)]
pub struct WalOptions {
    /// The database's page size; every page frame carries one page.
    pub page_size: PageSize,
    /// The database's id; a log of another database is refused.
    pub database_id: u64,
    /// The LSN of a new log's first frame (the database's checkpoint LSN + 1).
    pub start_lsn: Lsn,
    /// The identity a new log gets: the one the database's meta data names. Generation 0 (not
    /// recorded) gives generation 1 with a random salt. Tests fix it so runs are reproducible.
    pub identity: LogIdentity,
    /// What a missing or emptied log means (see [`MissingLog`]).
    pub missing: MissingLog,
    /// Open without ever writing: the file is opened read-only, a torn tail is reported but not
    /// cut, a log that would be created lives in memory only, and appends are refused.
    pub read_only: bool,
    /// Read past synced frames that were damaged instead of refusing the log (implies
    /// `read_only`): [`Recovery::lost_frames`] lists them. For salvage (`redwood recover`).
    pub salvage: bool,
    /// Where this handle counts its work.
    pub counters: Arc<WalCounters>,
    /// The log archive every generation is shipped to before the log restarts
    /// ([`redwood_pager::PageLog::archive_generation`]); none by default.
    pub archive: Option<Arc<crate::archive::LogArchive>>,
}

impl Default for WalOptions {
    /// Default page size, database 0, a first LSN of 1, a random salt, a missing log created,
    /// writable.
    fn default() -> Self {
        Self {
            page_size: PageSize::DEFAULT,
            database_id: 0,
            start_lsn: Lsn::new(1),
            identity: LogIdentity::default(),
            missing: MissingLog::Create,
            read_only: false,
            salvage: false,
            counters: Arc::default(),
            archive: None,
        }
    }
}

/// What opening a log does when the file is missing, or holds no valid header and no frame (it
/// was emptied, or its creation was interrupted).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum MissingLog {
    /// Create a new, empty log: nothing can be lost (a new database, or one whose meta data
    /// shows the log was empty at a clean close).
    Create,
    /// Refuse with [`Error::Missing`], changing nothing: the log may have held commits.
    Refuse,
    /// Create a new, empty log anyway, accepting the loss of whatever the old one held;
    /// [`Recovery::discarded`] says what was missing.
    Discard,
}

/// Where appending continues: the next frame's offset, LSN and chain checksum.
#[derive(Clone, Copy, Debug)]
struct Position {
    end_offset: u64,
    next_lsn: Lsn,
    checksum: u32,
}

/// Where the open transaction began, so an abort with nothing written can take it back.
#[derive(Clone, Copy, Debug)]
struct TransactionStart {
    first_lsn: Lsn,
    offset: u64,
    checksum: u32,
}

/// The write-ahead log of one database.
pub struct Wal {
    path: PathBuf,
    storage: Arc<dyn Storage>,
    page_size: PageSize,
    header: WalHeader,
    /// The current generation's salt, shared with readers.
    salt: Arc<AtomicU64>,
    /// Where the next frame goes; buffered frames end here.
    end_offset: u64,
    /// Frames appended but not yet written; they start at `end_offset - buffer.len()`.
    buffer: Vec<u8>,
    /// The file's length as this handle has made it: at least `end_offset - buffer.len()`, and
    /// more when zeros were preallocated ([`PREALLOC_BYTES`]) or an earlier generation was longer.
    file_bytes: u64,
    next_lsn: Lsn,
    last_checksum: u32,
    /// Every frame up to this LSN is durable.
    durable_lsn: Lsn,
    transaction: Option<TransactionStart>,
    poisoned: bool,
    /// Opened read-only: every append, sync and restart is refused.
    read_only: bool,
    counters: Arc<WalCounters>,
    archive: Option<Arc<crate::archive::LogArchive>>,
}

impl std::fmt::Debug for Wal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wal")
            .field("path", &self.path)
            .field("header", &self.header)
            .field("end_offset", &self.end_offset)
            .field("next_lsn", &self.next_lsn)
            .field("durable_lsn", &self.durable_lsn)
            .finish_non_exhaustive()
    }
}

/// What recovery found when a log was opened.
#[derive(Debug, Default)]
pub struct Recovery {
    /// Every committed transaction in the log, in commit order.
    pub transactions: Vec<RecoveredCommit>,
    /// Bytes past the last committed frame that were cut off (a read-only open cuts nothing
    /// and counts what a writable one would): a torn or uncommitted tail, and any zeros the
    /// log had written ahead of its frames.
    pub truncated_bytes: u64,
    /// A damaged tail past the valid frames (see [`DamagedTail`]); a writable open cut it off.
    pub damaged_tail: Option<DamagedTail>,
    /// Where a writable open saved the bytes of a damaged tail that a valid commit frame
    /// follows before cutting it off (`PATH.damaged-OFFSET`), so a commit that may have been
    /// acknowledged is never destroyed without a copy.
    pub tail_saved_to: Option<PathBuf>,
    /// With [`MissingLog::Discard`]: the log was missing or emptied, and this says how; a new
    /// log was started after the data files' checkpoint.
    pub discarded: Option<String>,
    /// With `WalOptions::salvage`: the damaged frames recovery went past.
    pub lost_frames: Vec<crate::LostFrame>,
}

impl Wal {
    /// Writes both header copies of a new, empty log (of `options.identity`) and syncs them.
    fn initialize(storage: Arc<dyn Storage>, path: &Path, options: &WalOptions) -> Result<Wal> {
        assert!(options.start_lsn > Lsn::ZERO, "LSN 0 means 'before any frame'");
        let identity = options.identity;
        let salt = match identity.salt {
            salt if identity.is_recorded() && salt != 0 => salt,
            _ => RandomState::new().hash_one(path),
        };
        let header = WalHeader {
            page_size: options.page_size.bytes_u32(),
            database_id: options.database_id,
            salt,
            start_lsn: options.start_lsn,
            sequence: identity.generation.max(1),
        };
        let at = Position {
            end_offset: FRAMES_START_BYTES,
            next_lsn: options.start_lsn,
            checksum: header.chain_seed(),
        };
        let mut wal = Wal::assemble(path, storage, header, at, options);
        // Both copies hold the new generation, so a crash that keeps only one of them still
        // opens as this identity; a restart then overwrites the copy its sequence picks.
        for offset in [0, crate::limits::HEADER_COPY_BYTES] {
            let result = wal.storage.write_at(offset, &header.encode());
            wal.poison_on_error(result, "write")?;
        }
        let result = wal.storage.set_len(FRAMES_START_BYTES);
        wal.poison_on_error(result, "set_len")?;
        wal.sync_storage()?;
        Ok(wal)
    }

    /// A handle continuing the log at `at`. Nothing after `at`'s previous LSN counts as durable
    /// until the next sync.
    fn assemble(
        path: &Path,
        storage: Arc<dyn Storage>,
        header: WalHeader,
        at: Position,
        options: &WalOptions,
    ) -> Wal {
        Wal {
            path: path.to_path_buf(),
            storage,
            page_size: options.page_size,
            header,
            salt: Arc::new(AtomicU64::new(header.salt)),
            end_offset: at.end_offset,
            buffer: Vec::new(),
            file_bytes: at.end_offset,
            next_lsn: at.next_lsn,
            last_checksum: at.checksum,
            durable_lsn: header.start_lsn.previous(),
            transaction: None,
            poisoned: false,
            read_only: options.read_only,
            counters: Arc::clone(&options.counters),
            archive: options.archive.clone(),
        }
    }

    /// The LSN the next frame will get.
    pub fn next_lsn(&self) -> Lsn {
        self.next_lsn
    }

    /// Every frame up to this LSN is on stable storage.
    pub fn durable_lsn(&self) -> Lsn {
        self.durable_lsn
    }

    /// Bytes of the log file in use, buffered frames included.
    pub fn size_bytes(&self) -> u64 {
        self.end_offset
    }

    /// The header of the current generation.
    pub fn header(&self) -> WalHeader {
        self.header
    }

    /// The counters of this handle.
    pub fn counters(&self) -> &Arc<WalCounters> {
        &self.counters
    }

    /// Whether a transaction has appended frames that are not yet committed or aborted.
    pub fn in_transaction(&self) -> bool {
        self.transaction.is_some()
    }

    /// Appends a sealed page image to the open transaction (opening one if needed).
    pub fn append_page(&mut self, page: &PageBuf) -> Result<LogPosition> {
        assert_eq!(page.page_size(), self.page_size, "page of the wrong size");
        page.verify(page.page_id())?;
        self.append(FrameType::Page, page.page_id(), page.as_bytes())
    }

    /// Appends a named restore point to the open transaction (opening one if needed).
    pub fn append_restore_point(&mut self, point: &RestorePoint) -> Result<Lsn> {
        let limit = crate::limits::RESTORE_POINT_NAME_MAX_BYTES as u64;
        let too_large = Error::TooLarge { bytes: point.name.len() as u64, limit };
        let payload = encode_restore_point(point).ok_or(too_large)?;
        Ok(self.append(FrameType::RestorePoint, PageId::new(0), &payload)?.lsn)
    }

    /// Ends the open transaction (or an empty one) with a commit record carrying `changes`,
    /// writes it out, and with [`Durability::Immediate`] syncs the log once. Returns the commit
    /// LSN, which is the snapshot readers of this state pin.
    pub fn commit(&mut self, changes: TransactionChanges, durability: Durability) -> Result<Lsn> {
        self.ensure_writable()?;
        let (id_frames, changes) = split_for_frames(changes);
        for (list, ids) in &id_frames {
            self.append(FrameType::PageIds, PageId::new(0), &encode_id_list(*list, ids))?;
        }
        debug_assert!(commit_record_bytes(&changes) <= u64::from(FRAME_PAYLOAD_MAX_BYTES));
        let first_lsn = self.transaction.map_or(self.next_lsn, |start| start.first_lsn);
        let record = CommitRecord { first_lsn, durable_lsn: self.durable_lsn, changes };
        let encoded = record.encode();
        let commit_lsn = self.append(FrameType::Commit, PageId::new(0), &encoded)?.lsn;
        self.transaction = None;
        if redwood_pager::engine_faults::is_on(
            redwood_pager::engine_faults::EngineFault::CommitFrameFirst,
        ) && durability == Durability::Immediate
        {
            return self.commit_frame_first(commit_lsn, encoded.len());
        }
        let small = self.buffer.len() <= PREALLOC_COMMIT_MAX_BYTES;
        self.flush()?;
        if durability == Durability::Immediate {
            if small {
                self.preallocate()?;
            }
            self.sync_storage()?;
        }
        self.counters.commits.fetch_add(1, Ordering::Relaxed);
        Ok(commit_lsn)
    }

    /// Abandons the open transaction. If none of its frames were written yet they are dropped;
    /// otherwise they stay in the log, where recovery ignores them (no commit names them).
    pub fn abort(&mut self) {
        let Some(start) = self.transaction.take() else { return };
        let buffered_from = self.end_offset - self.buffer.len() as u64;
        if start.offset >= buffered_from {
            self.buffer.truncate((start.offset - buffered_from) as usize);
            self.end_offset = start.offset;
            self.next_lsn = start.first_lsn;
            self.last_checksum = start.checksum;
        }
    }

    /// Writes buffered frames and syncs the log: every frame appended so far becomes durable.
    pub fn sync(&mut self) -> Result<()> {
        self.ensure_writable()?;
        if self.buffer.is_empty() && self.durable_lsn == self.next_lsn.previous() {
            return Ok(()); // Nothing appended since the last sync.
        }
        self.flush()?;
        self.sync_storage()
    }

    /// Reads the page image of the frame at `position` and verifies it (frame checksum, LSN and
    /// page checksum).
    pub fn read_page(&self, position: LogPosition, page: &mut Page) -> Result<()> {
        self.ensure_healthy()?;
        let frame_length = frame_bytes(self.page_size.bytes());
        let buffered_from = self.end_offset - self.buffer.len() as u64;
        let damaged = |reason: &str| Error::Corrupt {
            offset: position.offset,
            lsn: position.lsn,
            reason: reason.to_owned(),
        };
        if position.offset >= buffered_from {
            let start = (position.offset - buffered_from) as usize + FRAME_HEADER_BYTES;
            let bytes = self
                .buffer
                .get(start..start + self.page_size.bytes())
                .ok_or_else(|| damaged("beyond the log"))?;
            page.as_mut_bytes().copy_from_slice(bytes);
        } else {
            if position.offset + frame_length > buffered_from {
                return Err(damaged("frame runs past the written log"));
            }
            let frame = read_page_frame(
                self.storage.as_ref(),
                position.offset,
                position.lsn,
                self.header.salt,
                page.as_mut_bytes(),
            );
            match frame {
                Ok(()) => {}
                Err(PageFrameError::Damaged(reason)) => return Err(damaged(reason)),
                Err(PageFrameError::Io(error)) => return Err(Error::io("read", &self.path, error)),
            }
        }
        page.verify(page.page_id())?;
        Ok(())
    }

    /// Starts a new log generation after a complete checkpoint: every committed frame must be in
    /// the data files, durably, and no reader may still need one. With `truncate`, the file is
    /// cut back to its header too.
    pub fn restart(&mut self, truncate: bool) -> Result<()> {
        self.ensure_writable()?;
        assert!(self.transaction.is_none(), "restart with a transaction open");
        self.flush()?;
        if self.end_offset == FRAMES_START_BYTES {
            // Already an empty generation: rewriting the header would only wear the sector.
            return if truncate { self.truncate_to_header() } else { Ok(()) };
        }
        let header = WalHeader {
            salt: next_salt(self.header.salt, self.header.sequence),
            start_lsn: self.next_lsn,
            sequence: self.header.sequence + 1,
            ..self.header
        };
        self.write_header(header)?;
        self.sync_storage()?;
        self.header = header;
        self.salt.store(header.salt, Ordering::Release);
        self.end_offset = FRAMES_START_BYTES;
        self.last_checksum = header.chain_seed();
        self.counters.restarts.fetch_add(1, Ordering::Relaxed);
        if truncate { self.truncate_to_header() } else { Ok(()) }
    }

    /// Ships the current generation to the log archive, if there is one (see
    /// [`redwood_pager::PageLog::archive_generation`]): its bytes up to the end of its last
    /// frame, which the caller has synced. An empty generation is not shipped (a restart
    /// leaves it as it is).
    pub fn archive_generation(&mut self) -> Result<()> {
        let Some(archive) = self.archive.clone() else { return Ok(()) };
        self.ensure_writable()?;
        assert!(self.transaction.is_none(), "archiving with a transaction open");
        self.flush()?;
        if self.end_offset == FRAMES_START_BYTES {
            return Ok(());
        }
        archive.ship(&self.header, self.storage.as_ref(), self.end_offset)
    }

    /// Cuts the file back to its header copies, if it is longer, and syncs.
    fn truncate_to_header(&mut self) -> Result<()> {
        let length = self.storage.len().map_err(|error| Error::io("len", &self.path, error))?;
        if length <= FRAMES_START_BYTES {
            return Ok(());
        }
        let result = self.storage.set_len(FRAMES_START_BYTES);
        self.poison_on_error(result, "set_len")?;
        self.file_bytes = FRAMES_START_BYTES;
        self.sync_storage()
    }

    /// Appends one frame to the buffer, writing the buffer out first if it would overflow.
    fn append(
        &mut self,
        frame_type: FrameType,
        page_id: PageId,
        payload: &[u8],
    ) -> Result<LogPosition> {
        self.ensure_writable()?;
        if self.buffer.len() + frame_bytes(payload.len()) as usize > APPEND_BUFFER_MAX_BYTES {
            self.flush()?;
        }
        let lsn = self.next_lsn;
        let start = *self.transaction.get_or_insert(TransactionStart {
            first_lsn: lsn,
            offset: self.end_offset,
            checksum: self.last_checksum,
        });
        debug_assert!(start.first_lsn <= lsn);
        let (frame, checksum) =
            encode_frame(frame_type, lsn, page_id, self.header.salt, self.last_checksum, payload);
        let position = LogPosition { offset: self.end_offset, lsn };
        self.end_offset += frame.len() as u64;
        self.counters.frames.fetch_add(1, Ordering::Relaxed);
        self.counters.bytes.fetch_add(frame.len() as u64, Ordering::Relaxed);
        self.buffer.extend_from_slice(&frame);
        self.next_lsn = Lsn::new(lsn.get() + 1);
        self.last_checksum = checksum;
        Ok(position)
    }

    /// The deliberately broken commit (`EngineFault::CommitFrameFirst`): writes and syncs the
    /// commit frame, then writes the transaction's other frames after it without a sync, and
    /// acknowledges. A crash then can leave a durable commit frame whose page frames are lost.
    fn commit_frame_first(&mut self, commit_lsn: Lsn, record_bytes: usize) -> Result<Lsn> {
        let split = self.buffer.len() - frame_bytes(record_bytes) as usize;
        let offset = self.end_offset - self.buffer.len() as u64;
        let result = self.storage.write_at(offset + split as u64, &self.buffer[split..]);
        self.poison_on_error(result, "write")?;
        let result = self.storage.sync_data();
        self.poison_on_error(result, "sync_data")?;
        let result = self.storage.write_at(offset, &self.buffer[..split]);
        self.poison_on_error(result, "write")?;
        self.buffer.clear();
        self.durable_lsn = self.next_lsn.previous();
        self.counters.commits.fetch_add(1, Ordering::Relaxed);
        Ok(commit_lsn)
    }

    /// Writes the buffered frames at their place in the file.
    fn flush(&mut self) -> Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let offset = self.end_offset - self.buffer.len() as u64;
        let result = self.storage.write_at(offset, &self.buffer);
        self.poison_on_error(result, "write")?;
        self.buffer.clear();
        self.file_bytes = self.file_bytes.max(self.end_offset);
        Ok(())
    }

    /// When the frames end within a quarter of [`PREALLOC_BYTES`] of the file's end, writes
    /// zeros up to the next multiple of it past one more: the caller's sync then makes the new
    /// length durable once, and the next small commits overwrite allocated blocks. Recovery
    /// reads zeros as the end of the log (no frame has magic zero).
    fn preallocate(&mut self) -> Result<()> {
        debug_assert!(self.buffer.is_empty(), "preallocate after a flush");
        if self.end_offset + PREALLOC_BYTES / 4 <= self.file_bytes {
            return Ok(());
        }
        let target = self.end_offset.next_multiple_of(PREALLOC_BYTES) + PREALLOC_BYTES;
        let from = self.file_bytes.max(self.end_offset);
        let zeros = vec![0u8; (target - from) as usize];
        let result = self.storage.write_at(from, &zeros);
        self.poison_on_error(result, "write")?;
        self.file_bytes = target;
        self.counters.preallocated_bytes.fetch_add(target - from, Ordering::Relaxed);
        Ok(())
    }

    fn sync_storage(&mut self) -> Result<()> {
        debug_assert!(self.buffer.is_empty(), "sync with frames still buffered");
        use redwood_pager::engine_faults::{EngineFault, is_on};
        let result =
            if is_on(EngineFault::SkipWalSync) { Ok(()) } else { self.storage.sync_data() };
        self.poison_on_error(result, "sync_data")?;
        self.durable_lsn = self.next_lsn.previous();
        self.counters.syncs.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn write_header(&mut self, header: WalHeader) -> Result<()> {
        let result = self.storage.write_at(header.copy_offset(), &header.encode());
        self.poison_on_error(result, "write")
    }

    fn ensure_healthy(&self) -> Result<()> {
        if self.poisoned { Err(Error::Poisoned) } else { Ok(()) }
    }

    /// Refuses any change to a read-only log.
    fn ensure_writable(&self) -> Result<()> {
        self.ensure_healthy()?;
        if self.read_only { Err(Error::ReadOnly) } else { Ok(()) }
    }

    fn poison_on_error<T>(
        &mut self,
        result: std::io::Result<T>,
        operation: &'static str,
    ) -> Result<T> {
        result.map_err(|error| {
            self.poisoned = true;
            Error::io(operation, &self.path, error)
        })
    }
}
