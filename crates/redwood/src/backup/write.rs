//! `Database::backup`: one snapshot as a CARv1 archive, in two passes over the snapshot's pages
//! (the manifest, which names every page's CID, is the archive's root and comes first, so a
//! restore can stream): the first hashes each page, the second writes them.

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use redwood_pager::limits::ROOT_SLOTS;
use redwood_pager::{PageClaims, PageId, PageRead};

use super::car::{CarWriter, RAW, cid_of};
use super::manifest::{self, FORMAT, Manifest, PAGE_MAP_PAIRS_MAX, VERSION};
use crate::database::Database;
use crate::error::{Error, Result};

/// What [`Database::backup`] wrote.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct BackupReport {
    /// The commit the backup is a snapshot of.
    pub commit_lsn: u64,
    /// Pages in the backup (each one block).
    pub pages: u64,
    /// Bytes of the archive.
    pub bytes: u64,
    /// The archive's root, the manifest block's CID (as text, e.g. `bafyrei...`).
    pub root: String,
}

impl Database {
    /// Writes a consistent snapshot of the database (the last commit when it begins; writers
    /// go on meanwhile) to `out` as a CARv1 archive (`docs/FORMAT.md`, "Backups"): every page
    /// the snapshot's tables reach as a content-addressed block, under a manifest naming their
    /// ids. [`crate::restore_backup`] builds a database from it; any CAR tool can verify it.
    ///
    /// The snapshot's structure is walked first, as the integrity check walks it: a damaged
    /// database is refused (the error names the page) rather than backed up. `progress` is
    /// called with (pages done, pages in all), twice over: once while hashing, once while
    /// writing. Reads go through the cache.
    ///
    /// ```
    /// let db = redwood::Database::in_memory()?;
    /// let write = db.begin_write()?;
    /// write.open_table("t")?.insert(b"k", b"v")?;
    /// write.commit()?;
    /// let mut archive = Vec::new();
    /// let report = db.backup(&mut archive, |_, _| {})?;
    /// assert_eq!(report.bytes, archive.len() as u64);
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// let restored = dir.path().join("restored.redwood");
    /// redwood::restore_backup(archive.as_slice(), &restored, |_, _| {})?;
    /// let db = redwood::Database::open(&restored)?;
    /// assert_eq!(db.begin_read()?.open_table("t")?.get(b"k")?.as_deref(), Some(&b"v"[..]));
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn backup(
        &self,
        out: impl Write,
        mut progress: impl FnMut(u64, u64),
    ) -> Result<BackupReport> {
        let taken_at_unix_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_millis() as u64);
        let read = self.pager.begin_read()?;
        let mut claims = PageClaims::new();
        self.walk_structure(&read, &mut claims, &mut |_, error| Err(error))?;
        let mut page_ids: Vec<PageId> = claims.iter().map(|(page_id, _)| page_id).collect();
        page_ids.sort_unstable();
        let total = page_ids.len() as u64;

        // Pass 1: every page's CID, then the page maps and the manifest.
        let mut cids = Vec::with_capacity(page_ids.len());
        for (done, &page_id) in page_ids.iter().enumerate() {
            let page = read.read_page(page_id)?;
            cids.push(cid_of(RAW, page.as_bytes()));
            tick(&mut progress, done as u64 + 1, total);
        }
        let mut maps = Vec::new();
        for chunk in page_ids.chunks(PAGE_MAP_PAIRS_MAX).zip(cids.chunks(PAGE_MAP_PAIRS_MAX)) {
            let pairs: manifest::PageMap =
                chunk.0.iter().map(|page_id| page_id.get()).zip(chunk.1.iter().copied()).collect();
            maps.push(manifest::encode(&pairs, "page map")?);
        }
        let geometry = self.pager.geometry();
        let manifest = Manifest {
            pages: total,
            roots: (0..ROOT_SLOTS).map(|slot| read.root(slot).map(PageId::get)).collect(),
            format: FORMAT.to_owned(),
            parent: None,
            version: VERSION,
            page_maps: maps.iter().map(|(cid, _)| *cid).collect(),
            page_size: geometry.page_size().bytes() as u32,
            commit_lsn: read.snapshot().get(),
            segment_pages: geometry.segment_pages(),
            taken_at_unix_ms,
        };
        debug_assert!(manifest.check().is_ok(), "a backup's own manifest passes its checks");
        let (root, manifest_bytes) = manifest::encode(&manifest, "manifest")?;

        // Pass 2: the archive, manifest first.
        let mut car = CarWriter::new(out, root).map_err(Error::from)?;
        car.block(&root, &manifest_bytes)?;
        for (cid, bytes) in &maps {
            car.block(cid, bytes)?;
        }
        for (done, (&page_id, cid)) in page_ids.iter().zip(&cids).enumerate() {
            // A snapshot reads the same twice (debug builds check the hash again in `block`).
            let page = read.read_page(page_id)?;
            car.block(cid, page.as_bytes())?;
            tick(&mut progress, done as u64 + 1, total);
        }
        let bytes = car.bytes();
        car.finish()?;
        Ok(BackupReport {
            commit_lsn: manifest.commit_lsn,
            pages: total,
            bytes,
            root: root.to_string(),
        })
    }
}

/// Reports progress every 1,024 pages and at the end.
fn tick(progress: &mut impl FnMut(u64, u64), done: u64, total: u64) {
    if done.is_multiple_of(1024) || done == total {
        progress(done, total);
    }
}
