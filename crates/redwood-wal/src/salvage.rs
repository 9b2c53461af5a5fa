//! Salvage recovery: reading a log past a frame that was synced and then damaged, for
//! `redwood recover`. Normal recovery refuses such a log (the frames after the damage cannot be
//! replayed in order with a hole in it); salvage reports the damaged frame, picks the chain up
//! at the next valid frame of the generation, and goes on, so every commit after the damage
//! still counts. A damaged page frame stays in its transaction as a position that fails to
//! read, so no reader silently takes an older version of that page; a damaged commit frame
//! hands its transaction's frames to the next commit.

use std::path::Path;

use redwood_pager::io::Storage;
use redwood_pager::{LogPosition, Lsn, PageId};

use crate::error::{Error, Result};
use crate::format::{FRAME_HEADER_BYTES, FrameType, frame_salt, parse_frame_header};
use crate::limits::{FRAME_ALIGN_BYTES, SCAN_CHUNK_BYTES};
use crate::recovery::{Cursor, Scanner, read_frame};

/// A frame that salvage recovery went past.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct LostFrame {
    /// Its byte offset in the log.
    pub offset: u64,
    /// Its LSN.
    pub lsn: Lsn,
    /// What its header says it was, if its header is still legible.
    pub frame_type: Option<FrameType>,
    /// The page it carried, when its header and its page image agree on it: reads of this
    /// version of the page fail instead of falling back to an older one.
    pub page_id: Option<PageId>,
    /// Whether the chain was picked up again after it (otherwise the scan ended there).
    pub resumed: bool,
}

fn u64_at(bytes: &[u8], offset: usize) -> Option<u64> {
    Some(u64::from_le_bytes(bytes.get(offset..offset + 8)?.try_into().ok()?))
}

/// Goes past the damaged frame at the scanner's cursor: notes what it was, and moves the
/// cursor to the next valid frame of this generation (the one with the next LSN), if any.
pub(crate) fn skip_damaged(
    scanner: &mut Scanner,
    storage: &dyn Storage,
    path: &Path,
    salt: u64,
    file_bytes: u64,
) -> Result<Option<LostFrame>> {
    let bad = &scanner.cursor;
    let (frame_type, page_id) = describe(storage, bad.offset, salt);
    let mut lost =
        LostFrame { offset: bad.offset, lsn: bad.lsn, frame_type, page_id, resumed: false };
    match (frame_type, page_id) {
        (Some(FrameType::Page), Some(page_id)) => {
            let position = LogPosition { offset: bad.offset, lsn: bad.lsn };
            scanner.open.pages.push((page_id, position));
        }
        (Some(FrameType::Commit), _) => scanner.keep_open_frames = true,
        _ => {}
    }
    let Some(next_lsn) = bad.lsn.next() else { return Ok(Some(lost)) };
    if let Some((offset, prev_checksum)) =
        find_frame(storage, path, salt, bad.offset, next_lsn, file_bytes)?
    {
        scanner.cursor = Cursor { offset, lsn: next_lsn, checksum: prev_checksum };
        lost.resumed = true;
    } else {
        // Nothing of this generation follows: the scan ends with the frame before the damage.
        scanner.cursor.offset = file_bytes;
    }
    tracing::warn!(
        target: "redwood::recovery",
        path = %path.display(),
        offset = lost.offset,
        lsn = lost.lsn.get(),
        page_id = lost.page_id.map(PageId::get),
        resumed = lost.resumed,
        "salvage: went past a damaged log frame"
    );
    Ok(Some(lost))
}

/// What the damaged frame at `offset` claims to be: its type, and its page when the frame
/// header and the page image's own header name the same one.
fn describe(storage: &dyn Storage, offset: u64, salt: u64) -> (Option<FrameType>, Option<PageId>) {
    let mut header = [0u8; FRAME_HEADER_BYTES + 16];
    if storage.read_at(offset, &mut header).is_err() || frame_salt(&header) != Some(salt) {
        return (None, None);
    }
    let frame_type = match header[4] {
        1 => FrameType::Page,
        2 => FrameType::Commit,
        3 => FrameType::RestorePoint,
        4 => FrameType::PageIds,
        _ => return (None, None),
    };
    // The page image's header starts right after the frame header: its page id at offset 8.
    let claimed = u64_at(&header, 24);
    let in_image = u64_at(&header, FRAME_HEADER_BYTES + 8);
    let page_id = match (frame_type, claimed, in_image) {
        (FrameType::Page, Some(claimed), Some(in_image)) if claimed == in_image => {
            Some(PageId::new(claimed))
        }
        _ => None,
    };
    (Some(frame_type), page_id)
}

/// The first frame past `after` that is valid on its own, of this generation, with `lsn`:
/// its offset and the checksum it chains from.
fn find_frame(
    storage: &dyn Storage,
    path: &Path,
    salt: u64,
    after: u64,
    lsn: Lsn,
    file_bytes: u64,
) -> Result<Option<(u64, u32)>> {
    let header_bytes = FRAME_HEADER_BYTES as u64;
    let mut window_start = after + FRAME_ALIGN_BYTES;
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
            let offset = window_start + start as u64;
            if let Some((info, _)) = read_frame(storage, offset, file_bytes, salt)
                && info.lsn == lsn
            {
                return Ok(Some((offset, info.prev_checksum)));
            }
        }
        let advanced = (window_bytes - header_bytes + 1).next_multiple_of(FRAME_ALIGN_BYTES);
        window_start += advanced.max(FRAME_ALIGN_BYTES);
    }
    Ok(None)
}
