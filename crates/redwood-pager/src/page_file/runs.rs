//! Reads of runs of consecutive pages around the cache: one run with one read
//! ([`PageFile::read_run`]), or several at once ([`PageFile::read_runs`], one batched
//! submission per segment through `Storage::read_many`). What reads of pages that will not be
//! read again soon use: an overflow chain's, a compaction's old leaves. Every page is checked
//! as [`PageFile::read_page`] checks it.

use std::io;
use std::sync::atomic::Ordering;

use super::{PageFile, check_not_pager_owned, segment_path};
use crate::error::{Error, Result};
use crate::page::Page;
use crate::{PageId, SegmentId};

impl PageFile {
    /// Reads the run of consecutive pages from `first` into `pages` (a whole number of pages,
    /// all in `first`'s segment) with one read, and verifies each as [`PageFile::read_page`]
    /// does.
    pub fn read_run(&self, first: PageId, pages: &mut [u8]) -> Result<()> {
        let page_bytes = self.geometry().page_size().bytes();
        let count = pages.len() / page_bytes;
        self.read_runs(&[(first, count)], pages)
    }

    /// Reads each run `(first, count)` of `runs` (consecutive pages, all in `first`'s segment)
    /// into the next `count` pages of `pages`, which holds exactly the runs' pages, and
    /// verifies each page as [`PageFile::read_page`] does. The runs of one segment that follow
    /// each other in `runs` go to the storage as one `Storage::read_many` (with io_uring, one
    /// submission). An id past the file or near the end of the id space is `Corrupt`, checked
    /// before any read.
    pub fn read_runs(&self, runs: &[(PageId, usize)], pages: &mut [u8]) -> Result<()> {
        self.ensure_healthy()?;
        let page_bytes = self.geometry().page_size().bytes();
        let total: usize = runs.iter().map(|&(_, count)| count).sum();
        assert!(total > 0 && pages.len() == total * page_bytes, "the runs fill the buffer");
        for &(first, count) in runs {
            self.check_run(first, count)?;
        }
        let mut rest = &mut pages[..];
        let mut index = 0;
        while index < runs.len() {
            let segment = self.geometry().segment_of(runs[index].0);
            let mut requests = Vec::new();
            while index < runs.len() && self.geometry().segment_of(runs[index].0) == segment {
                let (first, count) = runs[index];
                let (head, tail) = std::mem::take(&mut rest).split_at_mut(count * page_bytes);
                requests.push((self.geometry().offset_in_segment(first), head));
                rest = tail;
                index += 1;
            }
            self.read_segment_runs(segment, runs[index - requests.len()].0, &mut requests)?;
        }
        debug_assert!(rest.is_empty());
        self.counters.pages_read.fetch_add(total as u64, Ordering::Relaxed);
        let mut chunks = pages.chunks_exact(page_bytes);
        for &(first, count) in runs {
            for (offset, bytes) in (0..count as u64).zip(chunks.by_ref()) {
                let page_id = PageId::new(first.get() + offset);
                let page = Page::from_bytes(bytes).expect("a chunk of the page size is a page");
                page.verify(page_id)?;
                check_not_pager_owned(page, page_id)?;
            }
        }
        Ok(())
    }

    /// Every page of the run is a user page below the page count, in `first`'s segment.
    fn check_run(&self, first: PageId, count: usize) -> Result<()> {
        assert!(count > 0, "a run has pages");
        // First, so a damaged id near `u64::MAX` is refused before any arithmetic on it: a
        // page below the page count leaves room for the run's ids.
        self.free_map.check_user_page(first)?;
        let last = first.get().checked_add(count as u64 - 1).map(PageId::new);
        let Some(last) = last else {
            let reason = format!("a run of {count} pages from here passes the last page id");
            return Err(Error::Corrupt { page_id: first, reason });
        };
        assert_eq!(
            self.geometry().segment_of(last),
            self.geometry().segment_of(first),
            "a run lies in one segment"
        );
        for index in 0..count as u64 {
            self.free_map.check_user_page(PageId::new(first.get() + index))?;
        }
        Ok(())
    }

    /// One batch of reads from `segment`'s file (`first`: the first run's first page, named
    /// in errors).
    fn read_segment_runs(
        &self,
        segment: SegmentId,
        first: PageId,
        requests: &mut [(u64, &mut [u8])],
    ) -> Result<()> {
        let storage = &self.segments[segment.get() as usize];
        let read = if requests.len() == 1 {
            let (offset, buf) = &mut requests[0];
            storage.read_at(*offset, buf)
        } else {
            storage.read_many(requests)
        };
        match read {
            Ok(()) => Ok(()),
            Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => {
                let path = segment_path(&self.path, segment);
                let reason = format!("a run from here passes the end of {}", path.display());
                Err(Error::Corrupt { page_id: first, reason })
            }
            Err(error) => Err(Error::io("read", segment_path(&self.path, segment), error)),
        }
    }
}
