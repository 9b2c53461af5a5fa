//! `restore_backup`: a new database from a CARv1 backup, every page back at its id.
//!
//! The archive streams through once: the manifest and the page maps first (every page's id by
//! its CID), then each page block, checked (its CID recomputed by the reader, its header's page
//! id and checksum here) and written at its id in one write transaction (`allocate_at`; new
//! pages go to their home location, so memory stays within the cache budget whatever the
//! size). The root slots are set, the transaction commits, a truncating checkpoint empties the
//! log and the full integrity check runs, all on a database at `DEST.restoring`; only then are
//! its files renamed to `DEST` (the main file last), so `DEST` never names half a restore. A
//! failed restore removes what it made.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cid::Cid;
use redwood_pager::io::Vfs;
use redwood_pager::{Page, PageFile, PageId, PageSize, PageWrite};

use super::BackupError;
use super::car::{CarReader, RAW};
use super::manifest::{self, Manifest, PAGE_MAP_PAIRS_MAX, PageMap, RESTORE_SEGMENTS_MAX};
use crate::error::{Error, Result};
use crate::{CheckpointMode, Database};

/// What [`restore_backup`] built.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RestoreReport {
    /// The commit of the source database the backup was a snapshot of.
    pub commit_lsn: u64,
    /// When the backup was taken, in milliseconds since the Unix epoch.
    pub taken_at_unix_ms: u64,
    /// Pages restored.
    pub pages: u64,
    /// Tables in the restored database.
    pub tables: u64,
    /// Archived commits replayed on top of the backup (a point-in-time restore; 0 otherwise).
    pub replayed_commits: u64,
}

/// Builds a new database at `destination` from the CARv1 backup read from `source` (see
/// [`Database::backup`], which has an example). Every block's hash, every page's id and
/// checksum, and the restored database's integrity are checked; any fault is
/// [`crate::Error::Backup`] (or the integrity check's error) and leaves nothing at
/// `destination`, which must not exist. `progress` is called with (pages done, pages in all).
pub fn restore_backup(
    source: impl Read,
    destination: impl AsRef<Path>,
    progress: impl FnMut(u64, u64),
) -> Result<RestoreReport> {
    restore_backup_chain(vec![source], destination, progress)
}

/// [`restore_backup`] from a chain of backups: a full backup, then incremental ones, each taken
/// with the one before as its parent ([`crate::BackupParent`]). The database restored is the
/// last one's snapshot; its pages come from whichever archive of the chain holds them. A
/// chain out of order, or with a link missing, is `Error::Backup`.
pub fn restore_backup_chain<R: Read>(
    sources: Vec<R>,
    destination: impl AsRef<Path>,
    progress: impl FnMut(u64, u64),
) -> Result<RestoreReport> {
    restore_backup_in(redwood_pager::io::best_vfs(), sources, destination, progress)
}

/// [`restore_backup_chain`] into the file namespace `vfs` (the simulated disk of the crash
/// tests).
pub fn restore_backup_in<R: Read>(
    vfs: Arc<dyn Vfs>,
    sources: Vec<R>,
    destination: impl AsRef<Path>,
    mut progress: impl FnMut(u64, u64),
) -> Result<RestoreReport> {
    let destination = destination.as_ref();
    let exists =
        |path: &Path| vfs.exists(path).map_err(|error| Error::from(BackupError::Io(error)));
    for path in [destination.to_path_buf(), companion(destination, ".wal")] {
        if exists(&path)? {
            return Err(BackupError::DestinationExists { path }.into());
        }
    }
    let staging = companion(destination, ".restoring");
    if exists(&staging)? {
        // What a crashed restore left; it was never anyone's database.
        remove_staged(vfs.as_ref(), &staging)?;
    }
    match restore_into(&vfs, sources, &staging, &mut progress) {
        Ok(report) => {
            move_files(vfs.as_ref(), &staging, destination)?;
            Ok(report)
        }
        Err(error) => {
            if exists(&staging).unwrap_or(true) {
                let _ = remove_staged(vfs.as_ref(), &staging);
            }
            Err(error)
        }
    }
}

fn restore_into<R: Read>(
    vfs: &Arc<dyn Vfs>,
    sources: Vec<R>,
    staging: &Path,
    progress: &mut impl FnMut(u64, u64),
) -> Result<RestoreReport> {
    let (db, base) = build_base(vfs, sources, staging, progress)?;
    let tables = finish(db)?;
    Ok(RestoreReport {
        commit_lsn: base.commit_lsn,
        taken_at_unix_ms: base.taken_at_unix_ms,
        pages: base.pages,
        tables,
        replayed_commits: 0,
    })
}

/// What a restore's base backup was.
pub(crate) struct Base {
    /// The source's commit the backup holds.
    pub commit_lsn: u64,
    /// When it was taken.
    pub taken_at_unix_ms: u64,
    /// Pages restored.
    pub pages: u64,
}

/// The last-but-final steps of every restore, on the staged database: a truncating checkpoint
/// (every commit in the data files), the full integrity check, a clean close. Returns the
/// number of tables.
pub(crate) fn finish(db: Database) -> Result<u64> {
    db.checkpoint(CheckpointMode::Truncate)?;
    db.check_integrity()?;
    let tables = db.begin_read()?.list_tables()?.len() as u64;
    // A clean close: every commit is in the data files, so the log is not needed to open it.
    db.close()?;
    Ok(tables)
}

/// A new database at `staging` holding the snapshot of the chain of backups `sources`, every
/// page at its id, committed (durably only at `finish`'s checkpoint).
pub(crate) fn build_base<R: Read>(
    vfs: &Arc<dyn Vfs>,
    sources: Vec<R>,
    staging: &Path,
    progress: &mut impl FnMut(u64, u64),
) -> Result<(Database, Base)> {
    if sources.is_empty() {
        return Err(malformed("no backup to restore from".to_owned()));
    }
    // Every archive's manifest (and page maps) first: the chain's links are checked, and the
    // last archive's maps say which page (by CID) goes where.
    let mut cars = Vec::with_capacity(sources.len());
    let mut manifests: Vec<(Manifest, HashMap<Cid, Vec<PageId>>)> =
        Vec::with_capacity(sources.len());
    for (index, source) in sources.into_iter().enumerate() {
        let mut car = CarReader::new(source)?;
        let (manifest, pages) = read_manifest(&mut car)?;
        let expected_parent = cars.last().map(|previous: &CarReader<R>| previous.root());
        check_link(index, expected_parent, manifest.parent)?;
        cars.push(car);
        manifests.push((manifest, pages));
    }
    let (manifest, mut pending) = manifests.pop().expect("at least one");
    let page_size = PageSize::new(manifest.page_size).map_err(Error::Storage)?;
    let db = Database::builder()
        .page_size(page_size)
        .segment_pages(manifest.segment_pages)
        .create_in(Arc::clone(vfs), staging)?;
    let geometry = db.pager.geometry();
    let mut write = db.begin_write()?;
    write.set_durability(redwood_pager::Durability::None);
    let txn = &mut write.state.get_mut().txn;
    let mut done = 0;
    let mut restored = std::collections::HashSet::new();
    let last = cars.len() - 1;
    for (index, car) in cars.iter_mut().enumerate() {
        while let Some((cid, data)) = car.next_block()? {
            if cid.codec() != RAW {
                return Err(malformed(format!("block {cid} after the pages began is not a page")));
            }
            let Some(ids) = pending.remove(&cid) else {
                // An earlier archive's page that the last one no longer uses (or one a later
                // archive of the chain repeats) is skipped; the last archive holds only pages
                // its maps list.
                if index == last && !manifests_hold(&manifests, &cid) {
                    return Err(malformed(format!("page block {cid} is in no page map")));
                }
                continue;
            };
            let page = Page::from_bytes(&data)
                .filter(|page| page.page_size() == page_size)
                .ok_or_else(|| malformed(format!("page block {cid} is {} bytes", data.len())))?;
            for page_id in ids {
                if geometry.is_reserved(page_id) {
                    return Err(malformed(format!("{page_id} is reserved for the pager")));
                }
                page.verify(page_id).map_err(|error| malformed(format!("block {cid}: {error}")))?;
                txn.allocate_at(page_id)
                    .map_err(|error| malformed(format!("{page_id}: {error}")))?;
                txn.write_page(page_id, page.to_page_buf())
                    .map_err(|error| malformed(format!("{page_id}: {error}")))?;
                restored.insert(page_id);
                done += 1;
                if done % 1024 == 0 {
                    progress(done, manifest.pages);
                }
            }
        }
    }
    if let Some(ids) = pending.values().next() {
        let reason = format!(
            "the archives end without {} (truncated, or a link of the chain missing?)",
            ids[0]
        );
        return Err(malformed(reason));
    }
    for (slot, root) in manifest.roots.iter().enumerate() {
        let root = root.map(PageId::new);
        if let Some(page_id) = root
            && !restored.contains(&page_id)
        {
            return Err(malformed(format!("root slot {slot} names {page_id}, which is not in it")));
        }
        txn.set_root(slot, root)
            .map_err(|error| malformed(format!("root slot {slot}: {error}")))?;
    }
    write.commit()?;
    progress(done, manifest.pages);
    debug_assert_eq!(done, manifest.pages);
    let base = Base {
        commit_lsn: manifest.commit_lsn,
        taken_at_unix_ms: manifest.taken_at_unix_ms,
        pages: done,
    };
    Ok((db, base))
}

/// `NotAChain` unless backup `index` of a chain builds on `expected` (the one before it).
fn check_link(index: usize, expected: Option<Cid>, parent: Option<Cid>) -> Result<()> {
    if parent == expected {
        return Ok(());
    }
    let reason = match (expected, parent) {
        (None, Some(parent)) => {
            format!("the first backup is incremental (its parent {parent} must come first)")
        }
        (Some(previous), parent) => format!(
            "backup {} of the chain does not build on the one before ({previous}), but on {}",
            index + 1,
            parent.map_or("nothing (a full backup)".to_owned(), |parent| parent.to_string())
        ),
        (None, None) => unreachable!("equal"),
    };
    Err(BackupError::NotAChain(reason).into())
}

/// Whether an earlier archive's page maps list `cid` (a page the last archive repeats).
fn manifests_hold(manifests: &[(Manifest, HashMap<Cid, Vec<PageId>>)], cid: &Cid) -> bool {
    manifests.iter().any(|(_, pages)| pages.contains_key(cid))
}

/// Reads the manifest (the root, first) and the page maps after it; returns the manifest and
/// every page id by the CID of its block.
pub(crate) fn read_manifest(
    car: &mut CarReader<impl Read>,
) -> Result<(Manifest, HashMap<Cid, Vec<PageId>>)> {
    let root = car.root();
    let (cid, bytes) = car.next_block()?.ok_or_else(|| malformed("no blocks".to_owned()))?;
    if cid != root {
        return Err(malformed(format!("the first block is {cid}, not the root {root}")));
    }
    let manifest: Manifest = manifest::decode(&cid, &bytes, "manifest")?;
    manifest.check()?;
    let mut pending: HashMap<Cid, Vec<PageId>> = HashMap::new();
    let mut last: Option<u64> = None;
    let mut listed = 0u64;
    for expected in &manifest.page_maps {
        let (cid, bytes) =
            car.next_block()?.ok_or_else(|| malformed("a page map is missing".into()))?;
        if cid != *expected {
            return Err(malformed(format!("block {cid} where page map {expected} belongs")));
        }
        let map: PageMap = manifest::decode(&cid, &bytes, "page map")?;
        if map.is_empty() || map.len() > PAGE_MAP_PAIRS_MAX {
            return Err(malformed(format!("page map {cid} lists {} pages", map.len())));
        }
        for (page_id, page_cid) in map {
            if last.is_some_and(|last| page_id <= last) {
                return Err(malformed(format!("page map {cid} is not in ascending page order")));
            }
            last = Some(page_id);
            if page_id / manifest.segment_pages >= RESTORE_SEGMENTS_MAX {
                let reason = format!(
                    "page {page_id} lies past the {RESTORE_SEGMENTS_MAX} segments a restore creates \
                     at most (compact the source first)"
                );
                return Err(malformed(reason));
            }
            if page_cid.codec() != RAW {
                return Err(malformed(format!("page {page_id}'s block {page_cid} is not raw")));
            }
            pending.entry(page_cid).or_default().push(PageId::new(page_id));
            listed += 1;
        }
    }
    if listed != manifest.pages {
        return Err(malformed(format!(
            "the page maps list {listed} pages, the manifest {}",
            manifest.pages
        )));
    }
    Ok((manifest, pending))
}

pub(crate) fn malformed(reason: String) -> Error {
    BackupError::Malformed(reason).into()
}

/// Removes a staged restore: as a database (`PageFile::destroy`, the main file last), or, if it
/// never became one (a crash before its main file was initialized), its files by name: the main
/// file, its log and its segments.
pub(crate) fn remove_staged(vfs: &dyn Vfs, staging: &Path) -> Result<()> {
    if PageFile::destroy(vfs, staging).is_ok() {
        return Ok(());
    }
    let io = |error: std::io::Error| Error::from(BackupError::Io(error));
    let staged_name = staging.file_name().and_then(|name| name.to_str()).unwrap_or_default();
    for path in vfs.list(redwood_pager::io::parent_dir(staging)).map_err(io)? {
        let Some(name) = path.file_name().and_then(|name| name.to_str()) else { continue };
        let Some(suffix) = name.strip_prefix(staged_name) else { continue };
        if suffix.starts_with(".seg") || suffix == ".wal" {
            vfs.remove(&path).map_err(io)?;
        }
    }
    if vfs.exists(staging).map_err(io)? {
        vfs.remove(staging).map_err(io)?;
    }
    Ok(())
}

/// `base` with `suffix` appended to its file name.
pub(crate) fn companion(base: &Path, suffix: &str) -> PathBuf {
    let mut name = base.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Moves the staged, cleanly closed database to `destination`: its log (empty, and not needed
/// after a clean close) is removed, its segments are renamed, then its main file (a database is
/// found by its main file), and the directory is synced. A crash before the main file's rename
/// leaves no database at `destination` (stray segment files there are replaced by the next
/// restore's, or ignored: only the meta data's page count says which segments hold pages).
pub(crate) fn move_files(vfs: &dyn Vfs, staging: &Path, destination: &Path) -> Result<()> {
    let dir = redwood_pager::io::parent_dir(destination);
    let staged_name =
        staging.file_name().and_then(|name| name.to_str()).unwrap_or_default().to_owned();
    let io = |error: std::io::Error| Error::from(BackupError::Io(error));
    let log = companion(staging, ".wal");
    if vfs.exists(&log).map_err(io)? {
        vfs.remove(&log).map_err(io)?;
    }
    for path in vfs.list(dir).map_err(io)? {
        let Some(name) = path.file_name().and_then(|name| name.to_str()) else { continue };
        let Some(suffix) = name.strip_prefix(&staged_name) else { continue };
        if suffix.starts_with(".seg") {
            vfs.rename(&path, &companion(destination, suffix)).map_err(io)?;
        }
    }
    vfs.rename(staging, destination).map_err(io)?;
    vfs.sync_dir(dir).map_err(io)?;
    Ok(())
}
