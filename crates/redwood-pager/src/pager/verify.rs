//! Checkpoint verification: before the meta data says the data files hold every commit up to a
//! checkpoint, read back each page the checkpoint copied and compare its LSN with the log
//! image's. A write the storage lost or put elsewhere leaves an older (valid) image or a damaged
//! one; it is rewritten from the log, which still holds it, and checked again.

use std::sync::atomic::Ordering;

use super::{Pager, State};
use crate::error::{Error, Result};
use crate::{LogPosition, LogReader, PageBuf, PageId, PageLog};

impl<L: PageLog> Pager<L> {
    /// Rewrites the copies the data files lost ([`lost_copies`]) from the log, syncs them and
    /// proves they hold now. Fails with `Corrupt` naming the page if a repair does not hold
    /// either; nothing of the checkpoint has been trusted yet then, and readers keep using the
    /// log.
    pub(super) fn repair_lost(
        &self,
        state: &mut State,
        lost: &[(PageId, LogPosition)],
    ) -> Result<()> {
        if lost.is_empty() {
            return Ok(());
        }
        let mut image = PageBuf::zeroed(state.file.page_size());
        for &(_, position) in lost {
            self.reader.read_page(position, &mut image)?;
            state.file.write_page(&image)?;
        }
        state.file.sync()?;
        let mut on_file = PageBuf::zeroed(state.file.page_size());
        for &(page_id, position) in lost {
            if !holds(state, page_id, position, &mut on_file) {
                let reason = format!(
                    "the data file does not keep the checkpointed image ({})",
                    position.lsn
                );
                return Err(Error::Corrupt { page_id, reason });
            }
        }
        self.counters.lost_writes_repaired.fetch_add(lost.len() as u64, Ordering::Relaxed);
        Ok(())
    }
}

/// The copies of `copied` (synced) the data files do not hold: each page is read back, and
/// one that does not verify or does not carry its log image's LSN was lost. Reads only, so it
/// runs under the state's read lock.
pub(super) fn lost_copies(
    state: &State,
    copied: &[(PageId, LogPosition)],
) -> Vec<(PageId, LogPosition)> {
    let mut on_file = PageBuf::zeroed(state.file.page_size());
    copied
        .iter()
        .copied()
        .filter(|&(page_id, position)| !holds(state, page_id, position, &mut on_file))
        .collect()
}

/// Whether the data file's `page_id` verifies and carries the LSN of the log image at `position`.
fn holds(state: &State, page_id: PageId, position: LogPosition, buffer: &mut PageBuf) -> bool {
    state.file.read_page(page_id, buffer).is_ok() && buffer.lsn() == position.lsn
}
