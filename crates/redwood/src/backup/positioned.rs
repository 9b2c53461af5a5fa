//! A full backup into a file in one pass (what `Database::backup_to_file` does when there is no
//! parent): the same archive, byte for byte, as `Database::backup` streams, but the pages are
//! read, hashed and written once, by every core, each at its own offset.
//!
//! The layout is known before any page is hashed: the header, the manifest and the page maps
//! have fixed lengths once the page ids are known (every CID here is CIDv1 sha2-256, 36 bytes),
//! and every page block is the same length. So each worker takes a run of pages, hashes them
//! and writes their blocks in large positioned writes at their final offsets; the front (the
//! header naming the manifest's CID, the manifest, the page maps) is written last, when every
//! CID is known, and its length is checked against the layout.

use std::sync::mpsc;

use cid::Cid;
use redwood_pager::io::Storage;
use redwood_pager::{PageId, PageRead};

use super::BackupError;
use super::car::{DAG_CBOR, RAW, block_bytes, cid_of, framed_header, push_block};
use super::manifest::{self, PAGE_MAP_PAIRS_MAX};
use super::write::{BackupReport, now_unix_ms, tick};
use crate::database::Database;
use crate::error::{Error, Result};

/// Bytes a worker gathers before one positioned write.
const WRITE_BATCH_BYTES: usize = 1 << 20;
/// Pages between two progress reports of a worker.
const PROGRESS_PAGES: u64 = 1024;

impl Database {
    /// Writes a full backup of the newest commit into `out` from offset 0 (see the module).
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

        // Every page, hashed and written at its offset, by one worker per core.
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8);
        let run = page_ids.len().div_ceil(threads).max(1);
        let (sender, receiver) = mpsc::channel::<u64>();
        let hashed: Vec<Result<Vec<Cid>>> = std::thread::scope(|scope| {
            let workers: Vec<_> = page_ids
                .chunks(run)
                .enumerate()
                .map(|(index, ids)| {
                    let (read, sender) = (&read, sender.clone());
                    let first = front_bytes + (index * run) as u64 * page_block;
                    scope.spawn(move || write_run(read, ids, out, first, page_block, &sender))
                })
                .collect();
            drop(sender);
            let mut done = 0;
            for pages in receiver {
                done += pages;
                tick(&mut progress, done, total);
            }
            workers
                .into_iter()
                .map(|worker| worker.join().expect("a backup worker panicked"))
                .collect()
        });
        let mut cids = Vec::with_capacity(page_ids.len());
        for chunk in hashed {
            cids.extend(chunk?);
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
        out.write_at(0, &front).map_err(BackupError::Io)?;
        tick(&mut progress, total, total);
        Ok(BackupReport {
            commit_lsn: manifest.commit_lsn,
            pages: total,
            pages_written: total,
            bytes: front_bytes + total * page_block,
            root: root.to_string(),
            parent: None,
        })
    }
}

use super::manifest::Manifest;

/// Reads, hashes and writes the page blocks of `ids` from offset `first` on, in batches;
/// returns their CIDs and reports progress on `sender`.
fn write_run(
    read: &impl PageRead,
    ids: &[PageId],
    out: &dyn Storage,
    first: u64,
    page_block: u64,
    sender: &mpsc::Sender<u64>,
) -> Result<Vec<Cid>> {
    let mut cids = Vec::with_capacity(ids.len());
    let mut batch = Vec::with_capacity(WRITE_BATCH_BYTES + page_block as usize);
    let mut batch_offset = first;
    let mut unreported = 0;
    for &page_id in ids {
        let page = read.read_page(page_id)?;
        let cid = cid_of(RAW, page.as_bytes());
        push_block(&mut batch, &cid, page.as_bytes());
        drop(page);
        cids.push(cid);
        unreported += 1;
        if batch.len() >= WRITE_BATCH_BYTES {
            out.write_at(batch_offset, &batch)
                .map_err(|error| Error::from(BackupError::Io(error)))?;
            batch_offset += batch.len() as u64;
            batch.clear();
        }
        if unreported == PROGRESS_PAGES {
            let _ = sender.send(unreported);
            unreported = 0;
        }
    }
    out.write_at(batch_offset, &batch).map_err(|error| Error::from(BackupError::Io(error)))?;
    debug_assert_eq!(batch_offset + batch.len() as u64, first + ids.len() as u64 * page_block);
    let _ = sender.send(unreported);
    Ok(cids)
}
