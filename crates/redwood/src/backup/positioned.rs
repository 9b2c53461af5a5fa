//! A full backup into a file in one pass (what `Database::backup_to_file` does when there is no
//! parent): the same archive, byte for byte, as `Database::backup` streams, but the pages are
//! read, hashed and written once, by every core, each batch at its own offset.
//!
//! The layout is known before any page is hashed: the header, the manifest and the page maps
//! have fixed lengths once the page ids are known (every CID here is CIDv1 sha2-256, 36 bytes),
//! and every page block is the same length. The file is cut into aligned batches of
//! [`BATCH_BYTES`]; each worker takes the next batch, hashes the pages whose blocks overlap it,
//! fills it and writes it at its final offset. The file is created with
//! `Vfs::create_unbuffered`, so every write is aligned to `UNBUFFERED_ALIGN_BYTES` (a batch past
//! the end is padded with zeros and the file cut back to its length at the end). The front (the
//! header naming the manifest's CID, the manifest, the page maps, and the head of the first page
//! block up to the first aligned offset) is written last, when every CID is known, and its
//! length is checked against the layout.
//!
//! The unbuffered file is what makes the backup row fast: through the page cache, every byte
//! was copied into kernel memory and written again by the sync (ADR-20).

use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use cid::Cid;
use redwood_pager::io::{Storage, UNBUFFERED_ALIGN_BYTES};
use redwood_pager::{PageId, PageRead};

use super::BackupError;
use super::car::push_block;
use super::car::{BLOCK_HEAD_MAX, DAG_CBOR, RAW, block_bytes, block_head, cid_of, framed_header};
use super::manifest::{self, Manifest, PAGE_MAP_PAIRS_MAX};
use super::write::{BackupReport, now_unix_ms};
use crate::database::Database;
use crate::error::{Error, Result};

/// The bytes of one batch: one positioned write, a multiple of the alignment.
const BATCH_BYTES: u64 = 1 << 20;
const _: () = assert!(BATCH_BYTES.is_multiple_of(UNBUFFERED_ALIGN_BYTES as u64));

/// Where every byte of the archive goes.
#[derive(Debug, Clone, Copy)]
struct Layout {
    /// The header, the manifest and the page maps: the page blocks start here.
    front_bytes: u64,
    /// One page block: its varint, its CID and the page.
    page_block: u64,
    pages: u64,
    /// The end of batch 0, the head (the front and the first page bytes up to the first aligned
    /// offset, or the end of the archive if that comes first).
    head_end: u64,
    /// The archive's length.
    end: u64,
}

impl Layout {
    fn new(front_bytes: u64, page_block: u64, pages: u64) -> Layout {
        let end = front_bytes + pages * page_block;
        let head_end = align_up(front_bytes).min(end);
        Layout { front_bytes, page_block, pages, head_end, end }
    }

    /// Batch 0 is the head's page bytes, `[front_bytes, head_end)`; batch `k >= 1` covers
    /// `BATCH_BYTES` from `head_end + (k - 1) * BATCH_BYTES`, cut at the end.
    fn batches(&self) -> usize {
        1 + (self.end - self.head_end).div_ceil(BATCH_BYTES) as usize
    }

    fn batch(&self, k: usize) -> Range<u64> {
        if k == 0 {
            return self.front_bytes..self.head_end;
        }
        let start = self.head_end + (k as u64 - 1) * BATCH_BYTES;
        start..(start + BATCH_BYTES).min(self.end)
    }

    /// The pages whose blocks overlap `bytes` (a range inside the page blocks).
    fn overlapping(&self, bytes: &Range<u64>) -> Range<u64> {
        let first = (bytes.start - self.front_bytes) / self.page_block;
        let last = (bytes.end - self.front_bytes).div_ceil(self.page_block);
        first..last.min(self.pages)
    }

    fn block_start(&self, page: u64) -> u64 {
        self.front_bytes + page * self.page_block
    }
}

fn align_up(offset: u64) -> u64 {
    offset.next_multiple_of(UNBUFFERED_ALIGN_BYTES as u64)
}

/// A zeroed buffer whose bytes start at an aligned address (found inside a larger `Vec`, so no
/// `unsafe` allocation is needed).
struct AlignedBuf {
    storage: Vec<u8>,
    start: usize,
    len: usize,
}

impl AlignedBuf {
    fn new(len: usize) -> AlignedBuf {
        let storage = vec![0; len + UNBUFFERED_ALIGN_BYTES];
        let start = storage.as_ptr().align_offset(UNBUFFERED_ALIGN_BYTES);
        assert!(start < UNBUFFERED_ALIGN_BYTES, "a byte buffer has an aligned offset");
        AlignedBuf { storage, start, len }
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.storage[self.start..self.start + self.len]
    }
}

impl Database {
    /// Writes a full backup of the newest commit into `out` (made by `Vfs::create_unbuffered`)
    /// and cuts it to its length (see the module).
    pub(super) fn backup_positioned(
        &self,
        out: &dyn Storage,
        mut progress: impl FnMut(u64, u64),
    ) -> Result<BackupReport> {
        let taken_at_unix_ms = now_unix_ms();
        let (read, page_ids) = self.pager.begin_read_with_allocated()?;
        let total = page_ids.len() as u64;
        let page_bytes = self.pager.page_size().bytes();

        // The layout, with placeholder CIDs of the real ones' length.
        let raw_placeholder = cid_of(RAW, &[]);
        let cbor_placeholder = cid_of(DAG_CBOR, &[]);
        let map_lengths: Vec<u64> = page_ids
            .chunks(PAGE_MAP_PAIRS_MAX)
            .map(|ids| {
                let pairs: manifest::PageMap =
                    ids.iter().map(|id| (id.get(), raw_placeholder)).collect();
                let (_, bytes) = manifest::encode(&pairs, "page map")?;
                Ok(block_bytes(cbor_placeholder.encoded_len(), bytes.len()))
            })
            .collect::<Result<_>>()?;
        let placeholder_maps = vec![cbor_placeholder; map_lengths.len()];
        let manifest = self.manifest_for(&read, total, placeholder_maps, None, taken_at_unix_ms);
        let (_, manifest_bytes) = manifest::encode(&manifest, "manifest")?;
        let front_bytes = framed_header(&cbor_placeholder)?.len() as u64
            + block_bytes(cbor_placeholder.encoded_len(), manifest_bytes.len())
            + map_lengths.iter().sum::<u64>();
        let page_block = block_bytes(raw_placeholder.encoded_len(), page_bytes);
        let layout = Layout::new(front_bytes, page_block, total);

        // Batch 0 here (its bytes go out with the front), the others by one worker per core.
        let mut head = vec![0; (layout.head_end - front_bytes) as usize];
        let mut cids = fill(&read, &page_ids, &layout, layout.batch(0), &mut head)?;
        for batch in write_batches(&read, &page_ids, &layout, out, &mut progress)? {
            cids.extend(batch);
        }
        if cids.len() as u64 != total {
            let reason = format!("{} of {total} pages were hashed", cids.len());
            return Err(BackupError::Malformed(reason).into());
        }

        // The front, now that every CID is known.
        let mut maps = Vec::with_capacity(map_lengths.len());
        for (ids, chunk) in page_ids.chunks(PAGE_MAP_PAIRS_MAX).zip(cids.chunks(PAGE_MAP_PAIRS_MAX))
        {
            let pairs: manifest::PageMap =
                ids.iter().map(|id| id.get()).zip(chunk.iter().copied()).collect();
            maps.push(manifest::encode(&pairs, "page map")?);
        }
        let manifest =
            Manifest { page_maps: maps.iter().map(|(cid, _)| *cid).collect(), ..manifest };
        debug_assert!(manifest.check().is_ok(), "a backup's own manifest passes its checks");
        let (root, manifest_bytes) = manifest::encode(&manifest, "manifest")?;
        let mut front = framed_header(&root)?;
        push_block(&mut front, &root, &manifest_bytes);
        for (cid, bytes) in &maps {
            push_block(&mut front, cid, bytes);
        }
        if front.len() as u64 != front_bytes {
            let reason =
                format!("the front is {} bytes, not the {front_bytes} laid out", front.len());
            return Err(BackupError::Malformed(reason).into());
        }
        front.extend_from_slice(&head);
        write_aligned(out, 0, &front)?;
        out.set_len(layout.end).map_err(BackupError::Io)?;
        progress(total, total);
        Ok(BackupReport {
            commit_lsn: manifest.commit_lsn,
            pages: total,
            pages_written: total,
            bytes: layout.end,
            root: root.to_string(),
            parent: None,
        })
    }
}

/// The batches one worker wrote, each with the CIDs of the pages whose blocks start in it.
type BatchCids = Vec<(usize, Vec<Cid>)>;

/// Fills and writes batches 1.. on every core, each worker taking the next batch; returns the
/// CIDs of the pages whose blocks start in each batch, in batch order.
fn write_batches(
    read: &(impl PageRead + Sync),
    page_ids: &[PageId],
    layout: &Layout,
    out: &dyn Storage,
    progress: &mut impl FnMut(u64, u64),
) -> Result<Vec<Vec<Cid>>> {
    let batches = layout.batches();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8);
    let next = AtomicUsize::new(1);
    let (sender, receiver) = mpsc::channel::<u64>();
    let done: Vec<Result<BatchCids>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads.min(batches.saturating_sub(1)))
            .map(|_| {
                let (next, sender) = (&next, sender.clone());
                scope.spawn(move || {
                    let mut buf = AlignedBuf::new(BATCH_BYTES as usize);
                    let mut mine = Vec::new();
                    loop {
                        let k = next.fetch_add(1, Ordering::Relaxed);
                        if k >= batches {
                            return Ok(mine);
                        }
                        let bytes = layout.batch(k);
                        let cids = fill(read, page_ids, layout, bytes.clone(), buf.bytes_mut())?;
                        let length = (bytes.end - bytes.start) as usize;
                        let buf = buf.bytes_mut();
                        buf[length..].fill(0);
                        out.write_at(bytes.start, &buf[..align_up(length as u64) as usize])
                            .map_err(|error| Error::from(BackupError::Io(error)))?;
                        let _ = sender.send(cids.len() as u64);
                        mine.push((k, cids));
                    }
                })
            })
            .collect();
        drop(sender);
        let mut pages = 0;
        for batch in receiver {
            pages += batch;
            progress(pages, layout.pages);
        }
        workers.into_iter().map(|worker| worker.join().expect("a backup worker panicked")).collect()
    });
    let mut by_batch = vec![Vec::new(); batches];
    for worker in done {
        for (k, cids) in worker? {
            by_batch[k] = cids;
        }
    }
    Ok(by_batch.split_off(1))
}

/// Writes `bytes` at the aligned `offset`, padded with zeros to an aligned length, from an
/// aligned buffer.
fn write_aligned(out: &dyn Storage, offset: u64, bytes: &[u8]) -> Result<()> {
    let mut buf = AlignedBuf::new(align_up(bytes.len() as u64) as usize);
    buf.bytes_mut()[..bytes.len()].copy_from_slice(bytes);
    out.write_at(offset, buf.bytes_mut()).map_err(|error| Error::from(BackupError::Io(error)))
}

/// Fills `buf` with the archive's bytes `bytes` (inside the page blocks): reads and hashes
/// every page whose block overlaps it. Returns the CIDs of the pages whose blocks start in it.
fn fill(
    read: &impl PageRead,
    page_ids: &[PageId],
    layout: &Layout,
    bytes: Range<u64>,
    buf: &mut [u8],
) -> Result<Vec<Cid>> {
    debug_assert!(bytes.start >= layout.front_bytes && bytes.end <= layout.end);
    debug_assert!(buf.len() as u64 >= bytes.end - bytes.start, "the buffer holds the batch");
    let mut cids = Vec::new();
    let mut head = [0; BLOCK_HEAD_MAX];
    for page in layout.overlapping(&bytes) {
        let data = read.read_page(page_ids[page as usize])?;
        let cid = cid_of(RAW, data.as_bytes());
        let head_bytes = block_head(&mut head, &cid, data.as_bytes().len());
        debug_assert_eq!(head_bytes + data.as_bytes().len(), layout.page_block as usize);
        let start = layout.block_start(page);
        copy_overlap(buf, &bytes, start, &head[..head_bytes]);
        copy_overlap(buf, &bytes, start + head_bytes as u64, data.as_bytes());
        if start >= bytes.start {
            cids.push(cid);
        }
    }
    Ok(cids)
}

/// Copies the part of `piece` (the archive's bytes from `piece_start`) that falls inside
/// `bytes` into `buf` (which holds `bytes`).
fn copy_overlap(buf: &mut [u8], bytes: &Range<u64>, piece_start: u64, piece: &[u8]) {
    let low = bytes.start.max(piece_start);
    let high = bytes.end.min(piece_start + piece.len() as u64);
    if low < high {
        let into = (low - bytes.start) as usize..(high - bytes.start) as usize;
        let from = (low - piece_start) as usize..(high - piece_start) as usize;
        buf[into].copy_from_slice(&piece[from]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every byte of the page blocks falls in exactly one batch, batches after the head start
    /// aligned, and every page's block starts in exactly one batch.
    #[test]
    fn the_batches_tile_the_page_blocks() {
        for (front, block, pages) in
            [(10, 4134, 0), (10, 4134, 1), (4096, 4134, 3), (700, 4134, 600), (5000, 530, 9000)]
        {
            let layout = Layout::new(front, block, pages);
            let mut next = front;
            let mut starts = 0;
            for k in 0..layout.batches() {
                let bytes = layout.batch(k);
                assert_eq!(bytes.start, next, "batch {k} of {layout:?} follows the last");
                if k > 0 {
                    assert_eq!(
                        bytes.start % UNBUFFERED_ALIGN_BYTES as u64,
                        0,
                        "batch {k} is aligned"
                    );
                    assert!(!bytes.is_empty(), "batch {k} holds bytes");
                }
                starts += layout
                    .overlapping(&bytes)
                    .filter(|&page| bytes.contains(&layout.block_start(page)))
                    .count() as u64;
                next = bytes.end;
            }
            assert_eq!(next, layout.end, "the batches end at the archive's end");
            assert_eq!(starts, pages, "each page's block starts in one batch");
        }
    }
}
