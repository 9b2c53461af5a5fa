//! Restore points: named markers a write transaction records in the log with its commit, for
//! point-in-time recovery to find later. The database lists the ones its log still holds (those
//! found by recovery at open, then each commit's); a checkpoint that restarts the log drops
//! them, since the log no longer reaches back to them.

use std::time::{SystemTime, UNIX_EPOCH};

use redwood_pager::{Lsn, RecoveredCommit};

use crate::database::Database;
use crate::error::Result;
use crate::write::WriteTransaction;

/// A restore point in the log.
///
/// ```
/// let db = redwood::Database::in_memory()?;
/// let mut write = db.begin_write()?;
/// write.restore_point("v1")?;
/// write.commit()?;
/// let point: redwood::RestorePoint = db.restore_points().remove(0);
/// assert_eq!(point.name, "v1");
/// assert!(point.timestamp_ms > 0);
/// # Ok::<(), redwood::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RestorePoint {
    /// The name it was given.
    pub name: String,
    /// When its transaction recorded it: wall-clock milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
    /// The commit that carries it: the state a restore to this point brings back.
    pub commit_lsn: Lsn,
}

impl WriteTransaction<'_> {
    /// Records a restore point named `name`, stamped with the current wall-clock time; it
    /// reaches the log with this transaction's commit (and vanishes if the transaction aborts).
    /// A name longer than 1,024 bytes is a `TooLarge` error.
    ///
    /// ```
    /// let db = redwood::Database::in_memory()?;
    /// let mut write = db.begin_write()?;
    /// write.open_table("t")?.insert(b"k", b"v")?;
    /// write.restore_point("before-migration")?;
    /// write.commit()?;
    /// let points = db.restore_points();
    /// assert_eq!(points.len(), 1);
    /// assert_eq!(points[0].name, "before-migration");
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn restore_point(&mut self, name: &str) -> Result<()> {
        let timestamp_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX));
        let state = self.state.get_mut();
        state.txn.restore_point(name, timestamp_ms)?;
        state.restore_points.push((name.to_owned(), timestamp_ms));
        Ok(())
    }
}

impl Database {
    /// The restore points the log holds, oldest first: those recovery found when the database
    /// opened, then those committed since. Without a log archive, a checkpoint that restarts
    /// the log (`Full` or `Truncate` with no reader holding it back) empties the list; with one
    /// ([`crate::Builder::archive`]), the points of every archived generation stay listed.
    ///
    /// ```
    /// let db = redwood::Database::in_memory()?;
    /// assert!(db.restore_points().is_empty());
    /// let mut write = db.begin_write()?;
    /// write.restore_point("nightly")?;
    /// write.commit()?;
    /// assert_eq!(db.restore_points()[0].commit_lsn, db.stats().last_commit);
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn restore_points(&self) -> Vec<RestorePoint> {
        // An automatic checkpoint may have restarted the log since: it no longer holds the
        // commits at or before its floor.
        let floor = self.pager.stats().log_floor;
        let mut points = self.restore_points_lock();
        points.retain(|point| point.commit_lsn > floor);
        let Some(archive) = &self.archive else { return points.clone() };
        // With an archive, those the log no longer holds are still there. A generation shipped
        // but not yet restarted is in both: listed once.
        let mut all: Vec<RestorePoint> = archive
            .restore_points()
            .into_iter()
            .map(|point| RestorePoint {
                name: point.name,
                timestamp_ms: point.timestamp_unix_ms,
                commit_lsn: Lsn::new(point.commit_lsn),
            })
            .collect();
        for point in points.iter() {
            if !all
                .iter()
                .any(|known| known.commit_lsn == point.commit_lsn && known.name == point.name)
            {
                all.push(point.clone());
            }
        }
        all.sort_by_key(|point| point.commit_lsn);
        all
    }

    /// Adds the restore points a transaction committed at `commit_lsn`.
    pub(crate) fn record_restore_points(&self, commit_lsn: Lsn, points: Vec<(String, u64)>) {
        let points = points.into_iter().map(|(name, timestamp_ms)| RestorePoint {
            name,
            timestamp_ms,
            commit_lsn,
        });
        self.restore_points_lock().extend(points);
    }

    pub(crate) fn restore_points_lock(&self) -> std::sync::MutexGuard<'_, Vec<RestorePoint>> {
        self.restore_points.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The restore points recovery found in the log, oldest first.
pub(crate) fn recovered(commits: &[RecoveredCommit]) -> Vec<RestorePoint> {
    commits
        .iter()
        .flat_map(|commit| {
            commit.restore_points.iter().map(|(_, point)| RestorePoint {
                name: point.name.clone(),
                timestamp_ms: point.timestamp_ms,
                commit_lsn: commit.commit_lsn,
            })
        })
        .collect()
}
