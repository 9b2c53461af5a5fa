//! `Directory`: page id → frame, looked up with no lock: one atomic load, vmcache's "one add"
//! on a two-level array. The top level is fixed ([`DIRECTORY_CHUNKS`] slots, allocated when the
//! pool opens); a chunk of `1 << DIRECTORY_CHUNK_BITS` entries is allocated on the first load of
//! one of its pages and never freed. An entry is 0 for "not cached", else the frame index + 1.
//! Pages beyond the directory's range are never cached.
//!
//! An entry says where to look, not what is there: a reader pins the frame and then checks that
//! it holds the page (`Frame::holds`), so a stale entry costs a miss, never a wrong page.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use redwood_pager::PageId;

use crate::limits::{DIRECTORY_CHUNK_BITS, DIRECTORY_CHUNKS};
use crate::sync::AtomicU32;

/// Entries per chunk.
const CHUNK_ENTRIES: usize = 1 << DIRECTORY_CHUNK_BITS;

type Chunk = Box<[AtomicU32]>;

/// The page-id → frame map.
#[derive(Debug)]
pub(crate) struct Directory {
    chunks: Box<[OnceLock<Chunk>]>,
    /// Chunks allocated so far (for `memory_bytes`).
    allocated: AtomicUsize,
}

/// One directory entry: which frame, if any, holds a page.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Entry<'a>(&'a AtomicU32);

impl Entry<'_> {
    /// The frame the entry points at, if any.
    pub(crate) fn frame(self) -> Option<usize> {
        decode(self.0.load(Ordering::Acquire))
    }

    /// Points the entry at `frame`; returns the frame it pointed at before.
    pub(crate) fn publish(self, frame: usize) -> Option<usize> {
        decode(self.0.swap(encode(frame), Ordering::AcqRel))
    }

    /// Clears the entry if it still points at `frame`; `true` if it did.
    pub(crate) fn unmap(self, frame: usize) -> bool {
        self.0.compare_exchange(encode(frame), 0, Ordering::AcqRel, Ordering::Relaxed).is_ok()
    }
}

fn encode(frame: usize) -> u32 {
    u32::try_from(frame + 1).expect("FRAMES_MAX keeps frame indexes in range")
}

fn decode(raw: u32) -> Option<usize> {
    raw.checked_sub(1).map(|frame| frame as usize)
}

/// Where `page_id`'s entry is: (chunk, index in the chunk), or `None` beyond the directory.
fn split(page_id: PageId) -> Option<(usize, usize)> {
    let raw = page_id.get();
    let chunk = usize::try_from(raw >> DIRECTORY_CHUNK_BITS).ok()?;
    (chunk < DIRECTORY_CHUNKS).then_some((chunk, (raw as usize) & (CHUNK_ENTRIES - 1)))
}

impl Directory {
    /// An empty directory (under loom every chunk is allocated now, so the models never race
    /// std's `OnceLock`, which loom cannot see).
    pub(crate) fn new() -> Self {
        let chunks = (0..DIRECTORY_CHUNKS).map(|_| OnceLock::new()).collect();
        let directory = Self { chunks, allocated: AtomicUsize::new(0) };
        #[cfg(loom)]
        for chunk in 0..DIRECTORY_CHUNKS {
            directory.chunk_or_insert(chunk);
        }
        directory
    }

    /// `page_id`'s entry, if its chunk exists (no allocation: the hit path).
    pub(crate) fn entry(&self, page_id: PageId) -> Option<Entry<'_>> {
        let (chunk, index) = split(page_id)?;
        Some(Entry(&self.chunks[chunk].get()?[index]))
    }

    /// `page_id`'s entry, allocating its chunk if need be; `None` beyond the directory.
    pub(crate) fn entry_or_insert(&self, page_id: PageId) -> Option<Entry<'_>> {
        let (chunk, index) = split(page_id)?;
        Some(Entry(&self.chunk_or_insert(chunk)[index]))
    }

    fn chunk_or_insert(&self, chunk: usize) -> &Chunk {
        self.chunks[chunk].get_or_init(|| {
            self.allocated.fetch_add(1, Ordering::Relaxed);
            std::iter::repeat_with(|| AtomicU32::new(0)).take(CHUNK_ENTRIES).collect()
        })
    }

    /// Bytes the directory holds: the top level and every allocated chunk.
    pub(crate) fn memory_bytes(&self) -> u64 {
        let top = std::mem::size_of_val::<[OnceLock<Chunk>]>(&self.chunks);
        let chunk = CHUNK_ENTRIES * std::mem::size_of::<AtomicU32>();
        (top + self.allocated.load(Ordering::Relaxed) * chunk) as u64
    }

    /// Every mapped page and its frame, in page order.
    pub(crate) fn mapped(&self) -> impl Iterator<Item = (PageId, usize)> + '_ {
        self.chunks
            .iter()
            .enumerate()
            .filter_map(|(chunk, slot)| Some((chunk, slot.get()?)))
            .flat_map(|(chunk, entries)| {
                entries.iter().enumerate().filter_map(move |(index, entry)| {
                    let frame = Entry(entry).frame()?;
                    let page = ((chunk as u64) << DIRECTORY_CHUNK_BITS) | index as u64;
                    Some((PageId::new(page), frame))
                })
            })
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn chunks_are_allocated_on_first_insert_and_counted() {
        let directory = Directory::new();
        let empty = directory.memory_bytes();
        let page = PageId::new(3 << DIRECTORY_CHUNK_BITS | 5);
        assert!(directory.entry(page).is_none(), "no chunk yet");
        let entry = directory.entry_or_insert(page).unwrap();
        assert_eq!(entry.frame(), None);
        assert_eq!(directory.memory_bytes() - empty, (CHUNK_ENTRIES * 4) as u64);
        assert_eq!(entry.publish(9), None);
        assert_eq!(directory.entry(page).unwrap().frame(), Some(9));
        let neighbour = PageId::new(3 << DIRECTORY_CHUNK_BITS | 6);
        assert_eq!(directory.entry(neighbour).unwrap().frame(), None, "same chunk, unmapped");
        assert_eq!(directory.memory_bytes() - empty, (CHUNK_ENTRIES * 4) as u64, "one chunk");
        assert_eq!(directory.mapped().collect::<Vec<_>>(), vec![(page, 9)]);
    }

    #[test]
    fn unmapping_only_clears_an_entry_that_still_points_at_the_frame() {
        let directory = Directory::new();
        let entry = directory.entry_or_insert(PageId::new(1)).unwrap();
        entry.publish(0);
        assert_eq!(entry.publish(4), Some(0), "a newer frame replaced the old one");
        assert!(!entry.unmap(0), "the old frame's eviction leaves the new mapping");
        assert!(entry.unmap(4));
        assert_eq!(entry.frame(), None);
    }

    #[test]
    fn pages_beyond_the_directory_have_no_entry() {
        let directory = Directory::new();
        let beyond = PageId::new((DIRECTORY_CHUNKS as u64) << DIRECTORY_CHUNK_BITS);
        assert!(directory.entry_or_insert(beyond).is_none());
        assert!(directory.entry_or_insert(PageId::new(u64::MAX)).is_none());
        let last = PageId::new(beyond.get() - 1);
        assert!(directory.entry_or_insert(last).is_some());
    }
}
