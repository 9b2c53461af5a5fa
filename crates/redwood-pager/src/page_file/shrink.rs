//! Giving file space back (issue 18): lowering the page count to just past the highest
//! allocated page, then, once a meta copy records the lower count, cutting the last segment
//! file back and removing the segment files past it.
//!
//! Crash safety needs no new mechanism. The lower count reaches the disk only through
//! [`PageFile::sync`] (map copies, then meta data, as every allocation change does), and every
//! page it cuts off is free in that state. Files are cut only after that sync, so a crash
//! before or during the cut leaves files longer than the meta data needs, and segment files it
//! does not count, both of which `docs/FORMAT.md` allows: a later growth reuses such a file,
//! and the next truncating checkpoint's [`PageFile::release_tail`] cuts or removes it.

use std::path::PathBuf;

use super::{PageFile, segment_path};
use crate::SegmentId;
use crate::error::Result;
use crate::io::parent_dir;

/// What [`PageFile::release_tail`] gave back.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReleasedTail {
    /// Segment files removed.
    pub segments_removed: u64,
    /// Bytes the files held before, less what they hold after.
    pub bytes_released: u64,
}

impl PageFile {
    /// Lowers the page count to just past the highest allocated page (never below the base
    /// file's reserved pages), for the next [`PageFile::sync`] to record; whether it fell.
    /// Only the caller knows that no snapshot still reads a page past the new count (the
    /// pager calls it when a checkpoint covers every commit and no reader is older).
    pub fn shrink(&mut self) -> Result<bool> {
        self.ensure_writable()?;
        let Some(segments_before) = self.free_map.shrink() else { return Ok(false) };
        let segments = self.geometry().segment_count(self.page_count());
        debug_assert!(segments <= segments_before && segments >= 1);
        // Pages written to a dropped segment are free now: nothing there needs syncing.
        self.unsynced_lock().retain(|segment| segment.get() < segments);
        Ok(true)
    }

    /// The page count [`PageFile::shrink`] would leave now.
    pub fn shrunk_page_count(&self) -> u64 {
        self.free_map.shrunk_page_count()
    }

    /// Cuts the files back to what the durable meta data counts: the last segment file to its
    /// pages, and every segment file past it removed, whether this handle has it open (a
    /// synced [`PageFile::shrink`]) or it was left by a crash or a failed removal (found by
    /// name, from the first segment past the count until one is missing). Only the caller knows
    /// that nothing past the count is live (the pager calls it at a truncating checkpoint that
    /// restarts the log with no older reader, after the sync). The space is given back best
    /// effort: a file that cannot be cut or removed stays (longer files are valid) and the
    /// failure is logged, not returned, because no state depends on it. A failed sync of a cut
    /// file or of the directory is different: it poisons the handle and is returned, as every
    /// failed sync does (`DESIGN.md` §7; what the kernel kept after it is unknown).
    pub fn release_tail(&mut self) -> Result<ReleasedTail> {
        let mut released = ReleasedTail::default();
        if self.read_only {
            return Ok(released);
        }
        self.ensure_writable()?;
        let page_count = self.durable_meta.page_count.max(self.page_count());
        let keep = self.geometry().segment_count(page_count) as usize;
        let mut removed: Vec<PathBuf> = Vec::new();
        while self.segments.len() > keep {
            let segment = SegmentId::new(self.segments.len() as u64 - 1);
            let storage = self.segments.pop().expect("more segments than kept");
            let bytes = storage.len().unwrap_or(0);
            drop(storage);
            let path = segment_path(&self.path, segment);
            match self.vfs.remove(&path) {
                Ok(()) => {
                    released.segments_removed += 1;
                    released.bytes_released += bytes;
                    removed.push(path);
                }
                Err(error) => warn("remove", &path, &error),
            }
        }
        // Files past the count that this handle never opened: left by a crash between a
        // shrink's sync and its cut, or by a removal that failed. They are removed highest
        // first, so what is left is a run starting at `keep`.
        let mut stray = keep as u64;
        loop {
            let path = segment_path(&self.path, SegmentId::new(stray));
            match self.vfs.exists(&path) {
                Ok(true) => {}
                Ok(false) => break,
                Err(error) => {
                    warn("exists", &path, &error);
                    break;
                }
            }
            let bytes = self.vfs.open_read_only(&path).and_then(|file| file.len()).unwrap_or(0);
            match self.vfs.remove(&path) {
                Ok(()) => {
                    released.segments_removed += 1;
                    released.bytes_released += bytes;
                    removed.push(path);
                }
                Err(error) => {
                    warn("remove", &path, &error);
                    break;
                }
            }
            stray += 1;
        }
        let last = SegmentId::new(keep as u64 - 1);
        let needed = self.geometry().segment_bytes_needed(last, page_count);
        let storage = &self.segments[keep - 1];
        let path = segment_path(&self.path, last);
        match storage.len() {
            Ok(length) if length > needed => match storage.set_len(needed) {
                Ok(()) => {
                    released.bytes_released += length - needed;
                    self.poison_on_error(storage.sync_data(), "sync_data", &path)?;
                }
                Err(error) => warn("set_len", &path, &error),
            },
            Ok(_) => {}
            Err(error) => warn("len", &path, &error),
        }
        if !removed.is_empty() {
            let dir = parent_dir(&self.path);
            self.poison_on_error(self.vfs.sync_dir(dir), "sync_dir", dir)?;
        }
        Ok(released)
    }
}

fn warn(operation: &str, path: &std::path::Path, error: &std::io::Error) {
    tracing::warn!(
        target: "redwood::checkpoint",
        operation,
        path = %path.display(),
        %error,
        "file space past the page count was not given back; the file stays longer"
    );
}
