//! The log as the pager sees it: `impl PageLog for Wal`, and `WalReader`, its `LogReader`.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use redwood_pager::io::Storage;
use redwood_pager::{
    Durability, LogIdentity, LogPosition, LogReader, Lsn, Page, PageBuf, PageLog, RestorePoint,
    TransactionChanges,
};

use super::Wal;
use crate::error::Error;
use crate::recovery::{PageFrameError, read_page_frame};

/// Reads committed page images concurrently with the writer: shares the log file and follows the
/// current generation's salt.
#[derive(Clone, Debug)]
pub struct WalReader {
    storage: Arc<dyn Storage>,
    salt: Arc<AtomicU64>,
    path: PathBuf,
}

impl LogReader for WalReader {
    fn read_pages(
        &self,
        positions: &[LogPosition],
        pages: &mut [redwood_pager::PageBuf],
    ) -> redwood_pager::Result<()> {
        let salt = self.salt.load(Ordering::Acquire);
        let requests: Vec<(u64, redwood_pager::Lsn)> =
            positions.iter().map(|position| (position.offset, position.lsn)).collect();
        let mut buffers: Vec<&mut [u8]> =
            pages.iter_mut().map(|page| page.as_mut_bytes()).collect();
        let read =
            crate::recovery::read_page_frames(self.storage.as_ref(), &requests, salt, &mut buffers);
        if let Err((index, error)) = read {
            let position = positions[index];
            return Err(match error {
                PageFrameError::Damaged(reason) => redwood_pager::Error::LogCorrupt {
                    offset: position.offset,
                    lsn: position.lsn,
                    reason: reason.to_owned(),
                },
                PageFrameError::Io(error) => Error::io("read", &self.path, error).into(),
            });
        }
        for page in pages.iter() {
            page.verify(page.page_id())?;
        }
        Ok(())
    }

    fn read_page(&self, position: LogPosition, page: &mut Page) -> redwood_pager::Result<()> {
        let salt = self.salt.load(Ordering::Acquire);
        let frame = read_page_frame(
            self.storage.as_ref(),
            position.offset,
            position.lsn,
            salt,
            page.as_mut_bytes(),
        );
        match frame {
            Ok(()) => page.verify(page.page_id()),
            Err(PageFrameError::Damaged(reason)) => Err(redwood_pager::Error::LogCorrupt {
                offset: position.offset,
                lsn: position.lsn,
                reason: reason.to_owned(),
            }),
            Err(PageFrameError::Io(error)) => Err(Error::io("read", &self.path, error).into()),
        }
    }
}

impl PageLog for Wal {
    type Reader = WalReader;

    fn reader(&self) -> WalReader {
        WalReader {
            storage: Arc::clone(&self.storage),
            salt: Arc::clone(&self.salt),
            path: self.path.clone(),
        }
    }

    fn next_lsn(&self) -> Lsn {
        self.next_lsn
    }

    fn identity(&self) -> LogIdentity {
        LogIdentity { generation: self.header.sequence, salt: self.header.salt }
    }

    fn successor(&self) -> LogIdentity {
        let salt = super::next_salt(self.header.salt, self.header.sequence);
        LogIdentity { generation: self.header.sequence + 1, salt }
    }

    fn append_page(&mut self, page: &PageBuf) -> redwood_pager::Result<LogPosition> {
        Ok(Wal::append_page(self, page)?)
    }

    fn append_restore_point(&mut self, point: &RestorePoint) -> redwood_pager::Result<Lsn> {
        Ok(Wal::append_restore_point(self, point)?)
    }

    fn commit(
        &mut self,
        changes: TransactionChanges,
        durability: Durability,
    ) -> redwood_pager::Result<Lsn> {
        Ok(Wal::commit(self, changes, durability)?)
    }

    fn abort(&mut self) {
        Wal::abort(self);
    }

    fn sync(&mut self) -> redwood_pager::Result<()> {
        Ok(Wal::sync(self)?)
    }

    fn read_page(&self, position: LogPosition, page: &mut Page) -> redwood_pager::Result<()> {
        Ok(Wal::read_page(self, position, page)?)
    }

    fn archive_generation(&mut self) -> redwood_pager::Result<()> {
        Ok(Wal::archive_generation(self)?)
    }

    fn restart(&mut self, truncate: bool) -> redwood_pager::Result<()> {
        Ok(Wal::restart(self, truncate)?)
    }

    fn size_bytes(&self) -> u64 {
        self.end_offset
    }
}
