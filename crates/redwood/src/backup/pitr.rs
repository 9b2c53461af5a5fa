//! Point-in-time restore: a base (a chain of backups, or an empty database when the log
//! archive reaches back to the first commit) plus the archived log generations after it,
//! replayed commit by commit up to a target (docs/DECISIONS.md ADR-20, docs/RECOVERY.md
//! "Restoring to a point in time").
//!
//! Pages keep their ids in a restore (ADR-19), so each archived commit applies as it was:
//! its allocations (`allocate_at`), the last image of every page it wrote, its frees and its
//! root slots, in one write transaction of the restored database. The target
//! is resolved before anything is replayed, and one the material cannot reach is an error
//! naming the earliest and latest points it can (PostgreSQL's rule: never a silently earlier
//! state).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use redwood_pager::io::Vfs;
use redwood_pager::{Durability, Lsn, PageBuf, PageId, PageSize, PageWrite, RecoveredCommit};
use redwood_wal::archive::{GenerationInfo, LogArchive};

use super::BackupError;
use super::restore::{
    Base, RestoreReport, build_base, companion, finish, move_files, remove_staged,
};
use crate::archive::ArchiveTarget;
use crate::error::{Error, Result};
use crate::{Database, RestorePoint};

/// What a point-in-time restore brings back.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum RestoreTarget {
    /// The newest commit the material holds.
    Latest,
    /// The commit that carries the restore point of this name (the newest, if several do).
    Point(String),
    /// Every commit up to and including this LSN of the source database.
    Lsn(Lsn),
    /// Every commit at or before this wall-clock time, in milliseconds since the Unix epoch.
    Time(u64),
}

impl std::fmt::Display for RestoreTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RestoreTarget::Latest => f.write_str("the newest commit"),
            RestoreTarget::Point(name) => write!(f, "restore point {name:?}"),
            RestoreTarget::Lsn(lsn) => write!(f, "{lsn}"),
            RestoreTarget::Time(unix_ms) => f.write_str(&format_time(*unix_ms)),
        }
    }
}

/// Builds a new database at `destination` as the source was at `target`, from the chain of
/// backups `backups` (may be empty: then the archive must reach back to the source's first
/// commit) and the log archive at `archive`. Every page image is checked as recovery checks
/// it, and the result passes the full integrity check; a failure leaves nothing at
/// `destination`. A target out of reach is [`BackupError::OutOfReach`], naming the earliest
/// and latest points the material reaches.
///
/// ```
/// use redwood::{ArchiveTarget, Database, RestoreTarget};
///
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("app.redwood");
/// let db = Database::builder().archive(ArchiveTarget::beside(&path)).create(&path)?;
/// for (value, point) in [(&b"one"[..], "first"), (&b"two"[..], "second")] {
///     let mut write = db.begin_write()?;
///     write.open_table("t")?.insert(b"k", value)?;
///     write.restore_point(point)?;
///     write.commit()?;
/// }
/// db.archive_log()?;
///
/// let old = dir.path().join("old.redwood");
/// let target = RestoreTarget::Point("first".to_owned());
/// let none: Vec<std::fs::File> = Vec::new();
/// redwood::restore(none, Some(&ArchiveTarget::beside(&path)), &target, &old, |_, _| {})?;
/// let restored = Database::open(&old)?;
/// assert_eq!(restored.begin_read()?.open_table("t")?.get(b"k")?.as_deref(), Some(&b"one"[..]));
/// # Ok::<(), redwood::Error>(())
/// ```
pub fn restore<R: Read>(
    backups: Vec<R>,
    archive: Option<&ArchiveTarget>,
    target: &RestoreTarget,
    destination: impl AsRef<Path>,
    progress: impl FnMut(u64, u64),
) -> Result<RestoreReport> {
    restore_in(redwood_pager::io::best_vfs(), backups, archive, target, destination, progress)
}

/// [`restore`] in the file namespace `vfs` (the archive directory too).
pub fn restore_in<R: Read>(
    vfs: Arc<dyn Vfs>,
    backups: Vec<R>,
    archive: Option<&ArchiveTarget>,
    target: &RestoreTarget,
    destination: impl AsRef<Path>,
    progress: impl FnMut(u64, u64),
) -> Result<RestoreReport> {
    let archive = archive.map(|archive| archive.open_read_only(&vfs)).transpose()?;
    restore_from(&vfs, backups, archive.as_ref(), target, None, destination.as_ref(), progress)
}

impl Database {
    /// Builds a new database at `destination` as this one was at `target`, from its log
    /// archive alone ([`crate::Builder::archive`], on since the database was created): the
    /// log is shipped first ([`Database::archive_log`]), so every commit up to now is
    /// reachable. This database is not changed.
    ///
    /// ```
    /// use redwood::{ArchiveTarget, Database, RestoreTarget};
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("app.redwood");
    /// let db = Database::builder().archive(ArchiveTarget::beside(&path)).create(&path)?;
    /// let mut write = db.begin_write()?;
    /// write.open_table("t")?.insert(b"k", b"v1")?;
    /// write.restore_point("v1")?;
    /// write.commit()?;
    /// let write = db.begin_write()?;
    /// write.open_table("t")?.insert(b"k", b"v2")?;
    /// write.commit()?;
    ///
    /// let copy = dir.path().join("v1.redwood");
    /// db.restore_to(&RestoreTarget::Point("v1".into()), &copy, |_, _| {})?;
    /// let v1 = Database::open(&copy)?;
    /// assert_eq!(v1.begin_read()?.open_table("t")?.get(b"k")?.as_deref(), Some(&b"v1"[..]));
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn restore_to(
        &self,
        target: &RestoreTarget,
        destination: impl AsRef<Path>,
        progress: impl FnMut(u64, u64),
    ) -> Result<RestoreReport> {
        let Some(archive) = &self.archive else {
            let reason = "this database has no log archive (Builder::archive)".to_owned();
            return Err(BackupError::OutOfReach(reason).into());
        };
        self.archive_log()?;
        // Shipped up to the newest commit: no commit exists between it and now.
        let now = crate::backup::write::now_unix_ms();
        let vfs = Arc::clone(&self.vfs);
        let none: Vec<std::io::Empty> = Vec::new();
        restore_from(&vfs, none, Some(archive), target, Some(now), destination.as_ref(), progress)
    }
}

/// A reachable point: a commit of the source (or the base) and its time, if known.
#[derive(Clone, Copy, Debug)]
struct Point {
    lsn: u64,
    unix_ms: Option<u64>,
}

impl std::fmt::Display for Point {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.lsn, self.unix_ms) {
            (0, _) => f.write_str("the empty database"),
            (lsn, Some(unix_ms)) => write!(f, "LSN {lsn} ({})", format_time(unix_ms)),
            (lsn, None) => write!(f, "LSN {lsn}"),
        }
    }
}

/// The restore itself, at `DEST.restoring`, renamed into place when it all holds.
/// `complete_until_ms`: the material holds every commit up to this time (a restore from a
/// running database that shipped its log), so a later time is still within reach.
fn restore_from<R: Read>(
    vfs: &Arc<dyn Vfs>,
    backups: Vec<R>,
    archive: Option<&LogArchive>,
    target: &RestoreTarget,
    complete_until_ms: Option<u64>,
    destination: &Path,
    mut progress: impl FnMut(u64, u64),
) -> Result<RestoreReport> {
    let exists =
        |path: &Path| vfs.exists(path).map_err(|error| Error::from(BackupError::Io(error)));
    for path in [destination.to_path_buf(), companion(destination, ".wal")] {
        if exists(&path)? {
            return Err(BackupError::DestinationExists { path }.into());
        }
    }
    if backups.is_empty() && archive.is_none() {
        let reason = "a restore needs a backup, a log archive, or both".to_owned();
        return Err(BackupError::OutOfReach(reason).into());
    }
    let staging = companion(destination, ".restoring");
    if exists(&staging)? {
        remove_staged(vfs.as_ref(), &staging)?;
    }
    let built = (|| {
        let from_scratch = backups.is_empty();
        let (db, base) = match archive {
            Some(archive) if from_scratch => (
                empty_base(vfs, archive, &staging)?,
                Base { commit_lsn: 0, taken_at_unix_ms: 0, pages: 0 },
            ),
            _ => build_base(vfs, backups, &staging, &mut progress)?,
        };
        let mut report = RestoreReport {
            commit_lsn: base.commit_lsn,
            taken_at_unix_ms: base.taken_at_unix_ms,
            pages: base.pages,
            tables: 0,
            replayed_commits: 0,
        };
        let base_point = Point {
            lsn: base.commit_lsn,
            unix_ms: (!from_scratch).then_some(base.taken_at_unix_ms),
        };
        match archive {
            Some(archive) => {
                let plan = Plan::new(archive, base_point, complete_until_ms)?;
                let target_lsn = plan.resolve(target)?;
                report.replayed_commits = plan.replay(&db, target_lsn, &mut progress)?;
                report.commit_lsn = target_lsn.max(base.commit_lsn);
            }
            None if *target != RestoreTarget::Latest => {
                let reason = format!(
                    "{target} needs the log archive; the backup alone reaches only {base_point}"
                );
                return Err(BackupError::OutOfReach(reason).into());
            }
            None => {}
        }
        report.tables = finish(db)?;
        Ok(report)
    })();
    match built {
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

/// An empty database with the archive's geometry: the base of a restore from the archive
/// alone.
fn empty_base(vfs: &Arc<dyn Vfs>, archive: &LogArchive, staging: &Path) -> Result<Database> {
    let manifest = archive.manifest_snapshot();
    if manifest.segment_pages == 0 {
        let reason = format!(
            "the archive at {} lost its manifest, and with it the database's segment size:              open the database with the archive once (it rebuilds the manifest), or restore              from a backup",
            archive.location()
        );
        return Err(BackupError::ArchiveGap(reason).into());
    }
    let page_size = PageSize::new(manifest.page_size).map_err(Error::Storage)?;
    Database::builder()
        .page_size(page_size)
        .segment_pages(manifest.segment_pages)
        .create_in(Arc::clone(vfs), staging)
}

/// The archived generations a restore replays, from the base on.
struct Plan<'a> {
    archive: &'a LogArchive,
    base: Point,
    /// The generations holding commits after the base, in order, checked for gaps.
    generations: Vec<GenerationInfo>,
    latest: Point,
    complete_until_ms: Option<u64>,
}

impl<'a> Plan<'a> {
    fn new(archive: &'a LogArchive, base: Point, complete_until_ms: Option<u64>) -> Result<Self> {
        let manifest = archive.manifest_snapshot();
        let all = manifest.generations;
        // The first generation that may hold a commit after the base.
        let first = all.iter().position(|generation| generation.end_lsn > base.lsn);
        let generations: Vec<GenerationInfo> =
            first.map_or(Vec::new(), |first| all[first..].to_vec());
        if let Some(first) = generations.first()
            && first.start_lsn > base.lsn + 1
        {
            let reason = if base.lsn == 0 {
                format!(
                    "the archive at {} begins at LSN {} ({}), after the database's first \
                     commit: a restore needs a backup taken since",
                    archive.location(),
                    first.start_lsn,
                    first.object
                )
            } else {
                format!(
                    "the archive at {} has nothing from LSN {} to {}: the backup (at {base}) \
                     is older than the archive's first generation {}",
                    archive.location(),
                    base.lsn + 1,
                    first.start_lsn - 1,
                    first.object
                )
            };
            return Err(BackupError::ArchiveGap(reason).into());
        }
        for pair in generations.windows(2) {
            if pair[1].sequence != pair[0].sequence + 1 || pair[1].start_lsn < pair[0].end_lsn {
                let reason = format!(
                    "the archive at {} has a gap after {} (LSN {}): the next generation is {}",
                    archive.location(),
                    pair[0].object,
                    pair[0].end_lsn - 1,
                    pair[1].object
                );
                return Err(BackupError::ArchiveGap(reason).into());
            }
        }
        let latest = generations
            .iter()
            .rev()
            .find_map(|generation| generation.last_commit)
            .filter(|mark| mark.lsn > base.lsn)
            .map_or(base, |mark| Point { lsn: mark.lsn, unix_ms: Some(mark.unix_ms) });
        Ok(Self { archive, base, generations, latest, complete_until_ms })
    }

    fn out_of_reach(&self, target: &RestoreTarget) -> Error {
        let earliest = self.earliest();
        let reason = format!(
            "{target} is out of reach: the material reaches from {earliest} to {}",
            self.latest
        );
        BackupError::OutOfReach(reason).into()
    }

    /// The earliest point: the base, or for an empty base the first commit.
    fn earliest(&self) -> Point {
        if self.base.lsn != 0 {
            return self.base;
        }
        self.generations
            .iter()
            .find_map(|generation| generation.first_commit)
            .map_or(self.base, |mark| Point { lsn: mark.lsn, unix_ms: Some(mark.unix_ms) })
    }

    /// The source LSN the restore goes up to.
    fn resolve(&self, target: &RestoreTarget) -> Result<u64> {
        match target {
            RestoreTarget::Latest => Ok(self.latest.lsn),
            RestoreTarget::Lsn(lsn) => {
                let lsn = lsn.get();
                if lsn < self.base.lsn || lsn > self.latest.lsn {
                    return Err(self.out_of_reach(target));
                }
                Ok(lsn)
            }
            RestoreTarget::Point(name) => {
                let points = self.archive.restore_points();
                let Some(point) = points.iter().rev().find(|point| &point.name == name) else {
                    let known: Vec<&str> = points.iter().map(|point| point.name.as_str()).collect();
                    let reason = format!(
                        "no restore point is named {name:?} in the archive at {} (it holds {})",
                        self.archive.location(),
                        if known.is_empty() { "none".to_owned() } else { known.join(", ") }
                    );
                    return Err(BackupError::OutOfReach(reason).into());
                };
                if point.commit_lsn < self.base.lsn {
                    return Err(self.out_of_reach(target));
                }
                Ok(point.commit_lsn)
            }
            RestoreTarget::Time(unix_ms) => self.resolve_time(target, *unix_ms),
        }
    }

    fn resolve_time(&self, target: &RestoreTarget, unix_ms: u64) -> Result<u64> {
        let earliest = self.earliest();
        let before_start = earliest.unix_ms.is_some_and(|earliest_ms| unix_ms < earliest_ms);
        let latest_ms = self.latest.unix_ms.unwrap_or(0);
        let past_end = unix_ms > latest_ms.max(self.complete_until_ms.unwrap_or(0));
        if before_start || past_end || earliest.unix_ms.is_none() && self.base.lsn == 0 {
            return Err(self.out_of_reach(target));
        }
        // The last commit at or before the time (commit times only grow within a log, but a
        // clock step back is possible: the scan takes the last one in log order).
        let mut lsn = self.base.lsn;
        for generation in &self.generations {
            match generation.first_commit {
                Some(first) if first.unix_ms > unix_ms => break,
                None => continue,
                Some(_) => {}
            }
            let read = self.archive.read(generation).map_err(redwood_pager::Error::from)?;
            for commit in &read.commits {
                if commit.changes.timestamp_ms > unix_ms {
                    return Ok(lsn);
                }
                lsn = lsn.max(commit.commit_lsn.get());
            }
        }
        Ok(lsn)
    }

    /// Replays every archived commit after the base up to `target_lsn`; returns how many.
    fn replay(
        &self,
        db: &Database,
        target_lsn: u64,
        progress: &mut impl FnMut(u64, u64),
    ) -> Result<u64> {
        let total = self
            .generations
            .iter()
            .filter(|generation| generation.start_lsn <= target_lsn)
            .map(|generation| generation.commits)
            .sum::<u64>();
        let mut replayed = 0;
        for generation in &self.generations {
            if generation.start_lsn > target_lsn {
                break;
            }
            let read = self.archive.read(generation).map_err(redwood_pager::Error::from)?;
            for commit in &read.commits {
                let lsn = commit.commit_lsn.get();
                if lsn <= self.base.lsn {
                    continue;
                }
                if lsn > target_lsn {
                    return Ok(replayed);
                }
                apply(db, &read, commit)
                    .map_err(|error| replay_error(&generation.object, lsn, &error))?;
                replayed += 1;
                if replayed % 256 == 0 {
                    progress(replayed, total);
                }
            }
        }
        progress(replayed, total);
        Ok(replayed)
    }
}

/// Applies one archived commit to the restored database, in one write transaction.
fn apply(
    db: &Database,
    generation: &redwood_wal::archive::ArchivedGeneration,
    commit: &RecoveredCommit,
) -> Result<()> {
    let changes = &commit.changes;
    let page_size = db.pager.page_size();
    let mut write = db.begin_write()?;
    write.set_durability(Durability::None);
    let txn = &mut write.state.get_mut().txn;
    for &page_id in &changes.allocated {
        txn.allocate_at(page_id)?;
    }
    let freed: std::collections::HashSet<PageId> = changes.freed.iter().copied().collect();
    let newest: BTreeMap<PageId, redwood_pager::LogPosition> =
        commit.pages.iter().copied().collect();
    for (page_id, position) in newest {
        if freed.contains(&page_id) {
            continue;
        }
        let mut page = PageBuf::for_overwrite(page_size);
        generation.read_page(position, &mut page).map_err(redwood_pager::Error::from)?;
        if page.page_id() != page_id {
            let reason = format!("the image logged for {page_id} is of {}", page.page_id());
            return Err(super::restore::malformed(reason));
        }
        match txn.write_page(page_id, page) {
            Ok(()) => {}
            // Allocated and freed again inside the commit after it was spilled to the log: its
            // frame is there, but the page is free after the commit, as in the live database
            // (docs/RECOVERY.md, "Spill and savepoints"). Nothing reads it.
            Err(redwood_pager::Error::NotAllocated { .. }) => {}
            Err(error) => return Err(error.into()),
        }
    }
    // Roots move before pages are freed: the pager refuses to free a page a root slot still
    // names, and a commit that replaces a root (a compaction's, or a tree that lost a level)
    // frees the old one.
    for (slot, &root) in changes.roots.iter().enumerate() {
        txn.set_root(slot, root)?;
    }
    for &page_id in &changes.freed {
        txn.free(page_id)?;
    }
    write.commit()
}

fn replay_error(object: &str, lsn: u64, error: &Error) -> Error {
    let reason = format!("replaying the commit at LSN {lsn} of {object}: {error}");
    super::restore::malformed(reason)
}

/// `unix_ms` as RFC 3339 in UTC.
pub(crate) fn format_time(unix_ms: u64) -> String {
    i64::try_from(unix_ms)
        .ok()
        .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
        .map_or_else(|| format!("{unix_ms} ms after the Unix epoch"), |time| time.to_string())
}

/// The restore points the archive at `archive` holds, oldest first (for a restore's listing).
pub fn archived_restore_points(
    vfs: &Arc<dyn Vfs>,
    archive: &ArchiveTarget,
) -> Result<Vec<RestorePoint>> {
    let archive = archive.open_read_only(vfs)?;
    Ok(archive
        .restore_points()
        .into_iter()
        .map(|point| RestorePoint {
            name: point.name,
            timestamp_ms: point.timestamp_unix_ms,
            commit_lsn: Lsn::new(point.commit_lsn),
        })
        .collect())
}
