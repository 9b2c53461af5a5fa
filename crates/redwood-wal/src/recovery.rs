//! Recovery: read the longest valid prefix of frames, collect the committed transactions in it,
//! and decide what follows: the clean end of the log, a damaged tail (cut off at a writable
//! open, reported either way), or corruption (an error).
//!
//! The rules (docs/FORMAT.md, "Recovery"):
//! - Past the first invalid frame, a commit frame that is valid on its own and whose
//!   `durable_lsn` reaches the invalid frame's LSN proves that frame had been fsynced before,
//!   so it was damaged afterwards: corruption.
//! - Otherwise the end is clean when nothing of this generation lies past it: zeros, or frames
//!   (whole or in part) of an earlier generation, which carry another salt. Any frame header of
//!   this generation past the break, or a damaged frame header right at it, makes it a damaged
//!   tail: torn unsynced appends after a crash, or damage to the last commits (which no later
//!   commit vouches for). `DamagedTail::commit_after` tells which may have been acknowledged.

use std::path::Path;

use redwood_pager::io::Storage;
use redwood_pager::{LogPosition, Lsn, PageId, PageSize, RecoveredCommit};

use crate::error::{Error, Result};
use crate::format::{
    FRAME_HEADER_BYTES, FrameInfo, FrameType, WalHeader, frame_bytes, parse_frame_header,
};
use crate::limits::{FRAME_ALIGN_BYTES, FRAMES_START_BYTES, SCAN_CHUNK_BYTES};
use crate::record::{CommitRecord, IdList, decode_id_list, decode_restore_point};

/// The outcome of scanning a log generation.
#[derive(Debug)]
pub(crate) struct Scan {
    pub transactions: Vec<RecoveredCommit>,
    /// The end of the last committed transaction: where appending continues.
    pub committed_end: u64,
    /// The LSN the next frame gets.
    pub next_lsn: Lsn,
    /// The checksum the next frame chains from.
    pub last_checksum: u32,
    /// What lies past the valid frames, if it is not a clean end.
    pub damaged_tail: Option<DamagedTail>,
}

/// A damaged tail past the last valid frame: what a writable open cuts off, and what a
/// read-only open (and `redwood check`) reports.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct DamagedTail {
    /// Where the valid frames end: the byte offset of the first frame that is not valid.
    pub offset: u64,
    /// The LSN a frame there would have had.
    pub lsn: Lsn,
    /// Where the last committed transaction ends: a writable open cuts the log back to here.
    pub committed_end: u64,
    /// The end of the last frame of this generation found past the damage (at least `offset`):
    /// the bytes worth keeping as evidence end here.
    pub evidence_end: u64,
    /// A commit frame of this generation, valid on its own, past the damage (the first one):
    /// the damaged transaction may have been acknowledged, and cutting the tail loses it.
    /// `None`: no commit follows, as after a crash during a commit that never returned.
    pub commit_after: Option<LogPosition>,
}

/// The chain position while scanning.
pub(crate) struct Cursor {
    pub offset: u64,
    pub lsn: Lsn,
    pub checksum: u32,
}

/// A scan in progress: where the chain stands, the open transaction, what is committed.
pub(crate) struct Scanner {
    pub cursor: Cursor,
    pub open: RecoveredCommit,
    /// Page-id frames of the open transaction, with their LSNs, for its commit record.
    pub open_ids: Vec<(Lsn, IdList, Vec<PageId>)>,
    /// Salvage only: the open transaction lost its commit frame, so its frames join the next
    /// transaction's whatever that one's `first_lsn` says.
    pub keep_open_frames: bool,
    pub committed: Scan,
}

impl Scanner {
    fn new(header: &WalHeader) -> Self {
        let cursor = Cursor {
            offset: FRAMES_START_BYTES,
            lsn: header.start_lsn,
            checksum: header.chain_seed(),
        };
        let committed = Scan {
            transactions: Vec::new(),
            committed_end: cursor.offset,
            next_lsn: cursor.lsn,
            last_checksum: cursor.checksum,
            damaged_tail: None,
        };
        Scanner {
            cursor,
            open: empty_commit(),
            open_ids: Vec::new(),
            keep_open_frames: false,
            committed,
        }
    }

    /// Follows the chain from the cursor while frames are valid and fit it.
    pub fn follow(
        &mut self,
        storage: &dyn Storage,
        salt: u64,
        file_bytes: u64,
        page_size: PageSize,
    ) {
        while let Some((info, payload)) = read_frame(storage, self.cursor.offset, file_bytes, salt)
        {
            if info.lsn != self.cursor.lsn || info.prev_checksum != self.cursor.checksum {
                break;
            }
            if !self.take(info, &payload, page_size) {
                break;
            }
            let Some(next_lsn) = info.lsn.next() else { break };
            self.cursor = Cursor {
                offset: self.cursor.offset + frame_bytes(payload.len()),
                lsn: next_lsn,
                checksum: info.checksum,
            };
            if info.frame_type == FrameType::Commit {
                self.committed.committed_end = self.cursor.offset;
                self.committed.next_lsn = self.cursor.lsn;
                self.committed.last_checksum = self.cursor.checksum;
            }
        }
    }

    /// Takes one valid frame at the cursor into the open transaction; `false` if its payload
    /// does not decode (the chain ends there).
    fn take(&mut self, info: FrameInfo, payload: &[u8], page_size: PageSize) -> bool {
        let position = LogPosition { offset: self.cursor.offset, lsn: info.lsn };
        match info.frame_type {
            FrameType::Page => {
                self.open.pages.push((info.page_id, position));
                payload.len() == page_size.bytes()
            }
            FrameType::RestorePoint => decode_restore_point(payload)
                .map(|point| self.open.restore_points.push((info.lsn, point)))
                .is_some(),
            FrameType::PageIds => decode_id_list(payload)
                .map(|(list, ids)| self.open_ids.push((info.lsn, list, ids)))
                .is_some(),
            FrameType::Commit => CommitRecord::decode(payload)
                .filter(|record| record.first_lsn <= info.lsn)
                .map(|mut record| {
                    let ids = std::mem::take(&mut self.open_ids);
                    if std::mem::take(&mut self.keep_open_frames) {
                        record.first_lsn = Lsn::ZERO;
                    }
                    commit(&mut self.open, record, ids, info.lsn, &mut self.committed.transactions)
                })
                .is_some(),
        }
    }
}

/// Scans the frames of the generation `header` describes.
pub(crate) fn scan(
    storage: &dyn Storage,
    path: &Path,
    header: &WalHeader,
    page_size: PageSize,
) -> Result<Scan> {
    let file_bytes = storage.len().map_err(|error| Error::io("len", path, error))?;
    let mut scanner = Scanner::new(header);
    scanner.follow(storage, header.salt, file_bytes, page_size);
    let Scanner { cursor, mut committed, .. } = scanner;
    if cursor.offset < file_bytes {
        committed.damaged_tail =
            inspect_tail(storage, path, header.salt, &cursor, file_bytes, committed.committed_end)?;
    }
    Ok(committed)
}

/// As [`scan`], but past damage that a later commit vouches was synced: the damaged frame is
/// reported, the chain picks up at the next valid frame of this generation, and the scan goes
/// on (`salvage.rs`). For reading what can still be read, never for writing.
pub(crate) fn scan_salvaging(
    storage: &dyn Storage,
    path: &Path,
    header: &WalHeader,
    page_size: PageSize,
) -> Result<(Scan, Vec<crate::salvage::LostFrame>)> {
    let file_bytes = storage.len().map_err(|error| Error::io("len", path, error))?;
    let mut scanner = Scanner::new(header);
    let mut lost = Vec::new();
    loop {
        scanner.follow(storage, header.salt, file_bytes, page_size);
        let cursor = &scanner.cursor;
        if cursor.offset >= file_bytes {
            break;
        }
        let end = scanner.committed.committed_end;
        match inspect_tail(storage, path, header.salt, cursor, file_bytes, end) {
            Ok(tail) => {
                scanner.committed.damaged_tail = tail;
                break;
            }
            Err(Error::Corrupt { .. }) => {
                let skipped = crate::salvage::skip_damaged(
                    &mut scanner,
                    storage,
                    path,
                    header.salt,
                    file_bytes,
                )?;
                let Some(frame) = skipped else { break };
                lost.push(frame);
                if !frame.resumed {
                    break;
                }
            }
            Err(other) => return Err(other),
        }
    }
    Ok((scanner.committed, lost))
}

fn empty_commit() -> RecoveredCommit {
    RecoveredCommit {
        commit_lsn: Lsn::ZERO,
        changes: Default::default(),
        pages: Vec::new(),
        restore_points: Vec::new(),
    }
}

/// Closes the open transaction with its commit record, keeping only the frames from its
/// `first_lsn` on (earlier ones belong to an aborted transaction's spill); the page ids of its
/// page-id frames come before the record's own in each list.
fn commit(
    open: &mut RecoveredCommit,
    record: CommitRecord,
    ids: Vec<(Lsn, IdList, Vec<PageId>)>,
    commit_lsn: Lsn,
    transactions: &mut Vec<RecoveredCommit>,
) {
    let first_lsn = record.first_lsn;
    let mut transaction = std::mem::replace(open, empty_commit());
    transaction.pages.retain(|(_, position)| position.lsn >= first_lsn);
    transaction.restore_points.retain(|(lsn, _)| *lsn >= first_lsn);
    transaction.commit_lsn = commit_lsn;
    let mut changes = record.changes;
    let (mut allocated, mut freed) = (Vec::new(), Vec::new());
    for (_, list, part) in ids.into_iter().filter(|(lsn, _, _)| *lsn >= first_lsn) {
        match list {
            IdList::Allocated => allocated.extend(part),
            IdList::Freed => freed.extend(part),
        }
    }
    if !allocated.is_empty() || !freed.is_empty() {
        allocated.append(&mut changes.allocated);
        freed.append(&mut changes.freed);
        (changes.allocated, changes.freed) = (allocated, freed);
    }
    transaction.changes = changes;
    transactions.push(transaction);
}

/// Reads the frame at `offset` if it is valid on its own: its header and payload, checked by its
/// own checksum. `None` for anything else, including a frame cut off by the end of the file.
pub(crate) fn read_frame(
    storage: &dyn Storage,
    offset: u64,
    file_bytes: u64,
    salt: u64,
) -> Option<(FrameInfo, Vec<u8>)> {
    if offset + FRAME_HEADER_BYTES as u64 > file_bytes {
        return None;
    }
    let mut header = [0u8; FRAME_HEADER_BYTES];
    storage.read_at(offset, &mut header).ok()?;
    let (view, payload_bytes) = parse_frame_header(&header, salt)?;
    if offset + frame_bytes(payload_bytes) > file_bytes {
        return None;
    }
    let mut payload = vec![0u8; payload_bytes];
    storage.read_at(offset + FRAME_HEADER_BYTES as u64, &mut payload).ok()?;
    let info = view.verify(&payload)?;
    Some((info, payload))
}

/// Reads the page frame at `offset` (which a committed log position names) in one read of its
/// header and payload, and checks it is a valid page frame of this generation at `lsn` with a
/// `page_bytes` payload; the payload is copied into `page`. Unlike [`read_frame`] it needs no
/// file length: a frame past the end of the file fails the read itself.
pub(crate) fn read_page_frame(
    storage: &dyn Storage,
    offset: u64,
    lsn: redwood_pager::Lsn,
    salt: u64,
    page: &mut [u8],
) -> std::result::Result<(), PageFrameError> {
    let mut frame = vec![0u8; FRAME_HEADER_BYTES + page.len()];
    storage.read_at(offset, &mut frame).map_err(read_error)?;
    check_page_frame(&frame, lsn, salt, page)
}

/// Reads the page frames at `requests` (offset, LSN) into `pages` in one batch
/// (`Storage::read_many`), each checked as [`read_page_frame`] does; the first failure is
/// returned with its index.
pub(crate) fn read_page_frames(
    storage: &dyn Storage,
    requests: &[(u64, redwood_pager::Lsn)],
    salt: u64,
    pages: &mut [&mut [u8]],
) -> std::result::Result<(), (usize, PageFrameError)> {
    assert_eq!(requests.len(), pages.len(), "one page buffer per frame");
    let Some(first) = pages.first() else { return Ok(()) };
    let frame_bytes = FRAME_HEADER_BYTES + first.len();
    let mut frames = vec![0u8; frame_bytes * requests.len()];
    {
        let mut batch: Vec<(u64, &mut [u8])> = requests
            .iter()
            .zip(frames.chunks_exact_mut(frame_bytes))
            .map(|(&(offset, _), frame)| (offset, frame))
            .collect();
        storage.read_many(&mut batch).map_err(|error| (0, read_error(error)))?;
    }
    for (index, ((&(_, lsn), frame), page)) in
        requests.iter().zip(frames.chunks_exact(frame_bytes)).zip(pages.iter_mut()).enumerate()
    {
        check_page_frame(frame, lsn, salt, page).map_err(|error| (index, error))?;
    }
    Ok(())
}

fn read_error(error: std::io::Error) -> PageFrameError {
    match error.kind() {
        std::io::ErrorKind::UnexpectedEof => PageFrameError::Damaged("frame runs past the log"),
        _ => PageFrameError::Io(error),
    }
}

/// Checks one page frame read whole (header and payload) and copies its page into `page`.
fn check_page_frame(
    frame: &[u8],
    lsn: redwood_pager::Lsn,
    salt: u64,
    page: &mut [u8],
) -> std::result::Result<(), PageFrameError> {
    let (header, payload) = frame.split_at(FRAME_HEADER_BYTES);
    let (view, payload_bytes) = parse_frame_header(header, salt)
        .ok_or(PageFrameError::Damaged("frame fails its checksum"))?;
    if payload_bytes != page.len() {
        return Err(PageFrameError::Damaged("not the page frame expected here"));
    }
    let info = view.verify(payload).ok_or(PageFrameError::Damaged("frame fails its checksum"))?;
    if info.lsn != lsn || info.frame_type != FrameType::Page {
        return Err(PageFrameError::Damaged("not the page frame expected here"));
    }
    page.copy_from_slice(payload);
    Ok(())
}

/// Why [`read_page_frame`] failed.
#[derive(Debug)]
pub(crate) enum PageFrameError {
    /// The frame is not there, or not what the position promised.
    Damaged(&'static str),
    /// The read itself failed.
    Io(std::io::Error),
}

/// Past the first invalid frame (`bad`): corruption if a self-valid commit of this generation
/// later in the file vouches that the frame at `bad.lsn` had been fsynced; a damaged tail if
/// anything of this generation lies past the break (or the frame at it is a damaged frame); a
/// clean end otherwise.
fn inspect_tail(
    storage: &dyn Storage,
    path: &Path,
    salt: u64,
    bad: &Cursor,
    file_bytes: u64,
    committed_end: u64,
) -> Result<Option<DamagedTail>> {
    let mut tail = DamagedTail {
        offset: bad.offset,
        lsn: bad.lsn,
        committed_end,
        evidence_end: bad.offset,
        commit_after: None,
    };
    let mut damaged = damaged_frame_at(storage, bad.offset, file_bytes, salt);
    let header_bytes = FRAME_HEADER_BYTES as u64;
    let mut window_start = bad.offset + FRAME_ALIGN_BYTES;
    while window_start + header_bytes <= file_bytes {
        let window_bytes = (file_bytes - window_start).min(SCAN_CHUNK_BYTES as u64);
        let mut window = vec![0u8; window_bytes as usize];
        storage
            .read_at(window_start, &mut window)
            .map_err(|error| Error::io("read", path, error))?;
        for start in (0..window.len().saturating_sub(FRAME_HEADER_BYTES - 1))
            .step_by(FRAME_ALIGN_BYTES as usize)
        {
            if parse_frame_header(&window[start..], salt).is_none() {
                continue;
            }
            // A frame header of this generation past the break: the generation went on here.
            damaged = true;
            let offset = window_start + start as u64;
            let Some((info, payload)) = read_frame(storage, offset, file_bytes, salt) else {
                tail.evidence_end = tail.evidence_end.max(offset + header_bytes);
                continue;
            };
            tail.evidence_end = tail.evidence_end.max(offset + frame_bytes(payload.len()));
            if info.frame_type != FrameType::Commit {
                continue;
            }
            let Some(record) = CommitRecord::decode(&payload) else { continue };
            if record.durable_lsn >= bad.lsn {
                let reason = format!(
                    "damaged frame, but the commit at byte {offset} ({}) says it had been synced",
                    info.lsn
                );
                return Err(Error::Corrupt { offset: bad.offset, lsn: bad.lsn, reason });
            }
            if tail.commit_after.is_none() && info.lsn > bad.lsn {
                tail.commit_after = Some(LogPosition { offset, lsn: info.lsn });
            }
        }
        let advanced = (window_bytes - header_bytes + 1).next_multiple_of(FRAME_ALIGN_BYTES);
        window_start += advanced.max(FRAME_ALIGN_BYTES);
    }
    Ok(damaged.then_some(tail))
}

/// Whether the bytes at `offset` are a damaged frame: a frame header of this generation, or a
/// frame of another salt that fails its own checksum. Zeros, other bytes, and a whole frame of
/// an earlier generation (a log restarted without truncation) are not.
fn damaged_frame_at(storage: &dyn Storage, offset: u64, file_bytes: u64, salt: u64) -> bool {
    let mut header = [0u8; FRAME_HEADER_BYTES];
    if offset + FRAME_HEADER_BYTES as u64 > file_bytes
        || storage.read_at(offset, &mut header).is_err()
    {
        return false;
    }
    let Some(frame_salt) = crate::format::frame_salt(&header) else { return false };
    frame_salt == salt || read_frame(storage, offset, file_bytes, frame_salt).is_none()
}
