//! `Database::backup`: one snapshot as a CARv1 archive, in two passes over the snapshot's pages
//! (the manifest, which names every page's CID, is the archive's root and comes first, so a
//! restore can stream): the first hashes each page, the second writes them. An incremental
//! backup ([`Database::backup_incremental`]) names its parent and writes only the page blocks
//! whose CIDs the parent's page maps lack (content addressing: an unchanged page is the same
//! block).

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use cid::Cid;
use redwood_pager::limits::ROOT_SLOTS;
use redwood_pager::{PageId, PageRead};

use super::car::{CarWriter, RAW, cid_of};
use super::manifest::{self, FORMAT, Manifest, PAGE_MAP_PAIRS_MAX, VERSION};
use crate::database::Database;
use crate::error::{Error, Result};

/// What [`Database::backup`] wrote.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct BackupReport {
    /// The commit the backup is a snapshot of.
    pub commit_lsn: u64,
    /// Pages the backup maps (every page of the snapshot).
    pub pages: u64,
    /// Page blocks the archive holds: all of them for a full backup, the ones its parent
    /// lacks for an incremental one.
    pub pages_written: u64,
    /// Bytes of the archive.
    pub bytes: u64,
    /// The archive's root, the manifest block's CID (as text, e.g. `bafyrei...`).
    pub root: String,
    /// The parent's root, for an incremental backup.
    pub parent: Option<String>,
}

/// A previous backup, as an incremental backup builds on it: its root and the CIDs of every
/// page its page maps list (read from its manifest and page maps only; the page blocks are not
/// read).
#[derive(Clone, Debug)]
pub struct BackupParent {
    root: Cid,
    commit_lsn: u64,
    cids: std::collections::HashSet<Cid>,
}

impl BackupParent {
    /// Reads the manifest and page maps at the start of a backup archive (full or incremental).
    pub fn read(archive: impl std::io::Read) -> Result<BackupParent> {
        let mut car = super::car::CarReader::new(archive)?;
        let (manifest, pages) = super::restore::read_manifest(&mut car)?;
        Ok(BackupParent {
            root: car.root(),
            commit_lsn: manifest.commit_lsn,
            cids: pages.into_keys().collect(),
        })
    }

    /// The parent's root (its manifest's CID), as text.
    pub fn root(&self) -> String {
        self.root.to_string()
    }

    /// The commit the parent is a snapshot of.
    pub fn commit_lsn(&self) -> u64 {
        self.commit_lsn
    }
}

impl Database {
    /// Writes a consistent snapshot of the database (the last commit when it begins; writers
    /// go on meanwhile) to `out` as a CARv1 archive (`docs/FORMAT.md`, "Backups"): every page
    /// the snapshot's tables reach as a content-addressed block, under a manifest naming their
    /// ids. [`crate::restore_backup`] builds a database from it; any CAR tool can verify it.
    ///
    /// The pages copied are those allocated at the snapshot's commit (taken with the snapshot,
    /// so the backup waits for an open write transaction to finish); each is verified against
    /// its checksum as it is read, so a damaged page fails the backup (the error names it). A
    /// page whose checksum holds but whose contents do not is copied as it is; the restore's
    /// full integrity check finds it (`Database::check_report` finds it in the source).
    /// `progress` is called with (pages done, pages in all), twice over: once while hashing,
    /// once while writing. Reads go through the cache.
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
    pub fn backup(&self, out: impl Write, progress: impl FnMut(u64, u64)) -> Result<BackupReport> {
        self.backup_with(out, None, progress)
    }

    /// An incremental backup: as [`Database::backup`], but only the pages `parent` (a previous
    /// backup of this database, full or incremental, read with [`BackupParent::read`]) does not
    /// hold are written; the manifest names the parent and still maps every page. A restore
    /// takes the whole chain, oldest first ([`crate::restore_backup_chain`]).
    ///
    /// ```
    /// use redwood::BackupParent;
    ///
    /// let db = redwood::Database::in_memory()?;
    /// let write = db.begin_write()?;
    /// for key in 0..2_000u32 {
    ///     write.open_table("t")?.insert(&key.to_be_bytes(), b"a value of some length")?;
    /// }
    /// write.commit()?;
    /// let mut full = Vec::new();
    /// let base = db.backup(&mut full, |_, _| {})?;
    /// let write = db.begin_write()?;
    /// write.open_table("t")?.insert(b"new", b"entry")?; // one leaf (and its parents) change
    /// write.commit()?;
    /// let mut delta = Vec::new();
    /// let parent = BackupParent::read(full.as_slice())?;
    /// let incremental = db.backup_incremental(&parent, &mut delta, |_, _| {})?;
    /// assert!(incremental.pages_written < base.pages / 4, "{incremental:?}");
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// let restored = dir.path().join("restored.redwood");
    /// redwood::restore_backup_chain(vec![full.as_slice(), delta.as_slice()], &restored, |_, _| {})?;
    /// let db = redwood::Database::open(&restored)?;
    /// assert_eq!(db.begin_read()?.open_table("t")?.get(b"new")?.as_deref(), Some(&b"entry"[..]));
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn backup_incremental(
        &self,
        parent: &BackupParent,
        out: impl Write,
        progress: impl FnMut(u64, u64),
    ) -> Result<BackupReport> {
        self.backup_with(out, Some(parent), progress)
    }

    fn backup_with(
        &self,
        out: impl Write,
        parent: Option<&BackupParent>,
        mut progress: impl FnMut(u64, u64),
    ) -> Result<BackupReport> {
        let taken_at_unix_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_millis() as u64);
        // Every page allocated at the snapshot's commit (no walk of the trees: the allocation
        // map is exact for a sound database, and a restore runs the full integrity check).
        let (read, page_ids) = self.pager.begin_read_with_allocated()?;
        let total = page_ids.len() as u64;

        // Pass 1: every page's CID (hashing is most of a backup's work: one thread per core,
        // each on its own run of pages), then the page maps and the manifest.
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8);
        let run = page_ids.len().div_ceil(threads).max(1);
        let hashed: Vec<Result<Vec<Cid>>> = std::thread::scope(|scope| {
            let workers: Vec<_> = page_ids
                .chunks(run)
                .map(|ids| {
                    let read = &read;
                    scope.spawn(move || -> Result<Vec<Cid>> {
                        ids.iter()
                            .map(|&page_id| Ok(cid_of(RAW, read.read_page(page_id)?.as_bytes())))
                            .collect()
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|worker| worker.join().expect("a hashing thread panicked"))
                .collect()
        });
        let mut cids = Vec::with_capacity(page_ids.len());
        for chunk in hashed {
            cids.extend(chunk?);
            tick(&mut progress, cids.len() as u64, total);
        }
        let mut maps = Vec::new();
        for chunk in page_ids.chunks(PAGE_MAP_PAIRS_MAX).zip(cids.chunks(PAGE_MAP_PAIRS_MAX)) {
            let pairs: manifest::PageMap =
                chunk.0.iter().map(|page_id| page_id.get()).zip(chunk.1.iter().copied()).collect();
            maps.push(manifest::encode(&pairs, "page map")?);
        }
        let page_maps = maps.iter().map(|(cid, _)| *cid).collect();
        let manifest =
            self.manifest_for(&read, total, page_maps, parent.map(|p| p.root), taken_at_unix_ms);
        debug_assert!(manifest.check().is_ok(), "a backup's own manifest passes its checks");
        let (root, manifest_bytes) = manifest::encode(&manifest, "manifest")?;

        // Pass 2: the archive, manifest first.
        let mut car = CarWriter::new(out, root).map_err(Error::from)?;
        car.block(&root, &manifest_bytes)?;
        for (cid, bytes) in &maps {
            car.block(cid, bytes)?;
        }
        // Every page's bytes hold its own id, so no two pages share a CID: no block repeats.
        let mut pages_written = 0;
        for (done, (&page_id, cid)) in page_ids.iter().zip(&cids).enumerate() {
            let held = parent.is_some_and(|parent| parent.cids.contains(cid));
            if !held {
                // A snapshot reads the same twice (debug builds check the hash again in `block`).
                let page = read.read_page(page_id)?;
                car.block(cid, page.as_bytes())?;
                pages_written += 1;
            }
            tick(&mut progress, done as u64 + 1, total);
        }
        let bytes = car.bytes();
        car.finish()?;
        Ok(BackupReport {
            commit_lsn: manifest.commit_lsn,
            pages: total,
            pages_written,
            bytes,
            root: root.to_string(),
            parent: parent.map(|parent| parent.root.to_string()),
        })
    }
}

impl Database {
    /// The manifest of a backup of the snapshot `read` with `pages` pages.
    pub(super) fn manifest_for(
        &self,
        read: &redwood_pager::ReadTxn<'_, redwood_wal::Wal>,
        pages: u64,
        page_maps: Vec<Cid>,
        parent: Option<Cid>,
        taken_at_unix_ms: u64,
    ) -> Manifest {
        let geometry = self.pager.geometry();
        Manifest {
            pages,
            roots: (0..ROOT_SLOTS).map(|slot| read.root(slot).map(PageId::get)).collect(),
            format: FORMAT.to_owned(),
            parent,
            version: VERSION,
            page_maps,
            page_size: geometry.page_size().bytes() as u32,
            commit_lsn: read.snapshot().get(),
            segment_pages: geometry.segment_pages(),
            taken_at_unix_ms,
        }
    }
}

/// Reports progress every 1,024 pages and at the end.
pub(super) fn tick(progress: &mut impl FnMut(u64, u64), done: u64, total: u64) {
    if done.is_multiple_of(1024) || done == total {
        progress(done, total);
    }
}

/// The wall-clock time in milliseconds since the Unix epoch (0 before it).
pub(crate) fn now_unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX))
}
