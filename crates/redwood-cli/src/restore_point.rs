//! `redwood restore-point create|list|apply` and the point-in-time side of `redwood restore`:
//! named restore points, listed from the log and the log archive beside the database
//! (`DB.archive`), and new databases built as the source was at a restore point or a time.

use std::path::{Path, PathBuf};

use redwood::{ArchiveTarget, Lsn, RestoreReport, RestoreTarget};
use serde_json::json;

use crate::commands::{Opener, Outcome};
use crate::exit::{Code, Failure};
use crate::output::Output;

/// Records a restore point named `name` in the database at `path` (its own commit).
pub fn create(out: &Output, open: Opener, path: &Path, name: &str) -> Outcome {
    let fail = |error| Failure::from_error(path, error);
    let db = open.writable(path)?;
    let mut write = db.begin_write().map_err(fail)?;
    write.restore_point(name).map_err(fail)?;
    write.commit().map_err(fail)?;
    let lsn = db.stats().last_commit;
    let point = db.restore_points().into_iter().rev().find(|point| point.commit_lsn == lsn);
    let time = point.map_or(0, |point| point.timestamp_ms);
    let archived = archive_beside(path).is_some();
    let document = json!({
        "database": path.display().to_string(),
        "name": name,
        "time": crate::demo::timestamp(time),
        "commit_lsn": lsn.get(),
        "archived": archived,
    });
    out.print(&document, || {
        let lasts = if archived {
            "the log archive keeps it past checkpoints"
        } else {
            "no log archive (DB.archive): it lasts until the next checkpoint restarts the log"
        };
        format!(
            "restore point {name:?} at commit {lsn} ({}); {lasts}",
            crate::demo::timestamp(time)
        )
    });
    Ok(())
}

/// Lists the restore points of the database at `path`: the log's and its archive's.
pub fn list(out: &Output, open: Opener, path: &Path) -> Outcome {
    let db = open.read_only(path)?;
    let points = db.restore_points();
    let document = json!({
        "database": path.display().to_string(),
        "restore_points": points.iter().map(|point| json!({
            "name": point.name,
            "time": crate::demo::timestamp(point.timestamp_ms),
            "commit_lsn": point.commit_lsn.get(),
        })).collect::<Vec<_>>(),
    });
    out.print(&document, || {
        if points.is_empty() {
            return format!("{} has no restore points", path.display());
        }
        let lines: Vec<String> = points
            .iter()
            .map(|point| {
                format!(
                    "{:<24} {}  commit {}",
                    point.name,
                    crate::demo::timestamp(point.timestamp_ms),
                    point.commit_lsn
                )
            })
            .collect();
        lines.join("\n")
    });
    Ok(())
}

/// What `apply` and `restore` restore to, as the command line gives it.
#[derive(Clone, Debug, Default)]
pub struct TargetArgs {
    /// A restore point's name.
    pub point: Option<String>,
    /// A time (`when::parse_time`).
    pub at: Option<String>,
    /// An LSN of the source.
    pub lsn: Option<u64>,
}

impl TargetArgs {
    fn resolve(&self) -> Result<RestoreTarget, Failure> {
        if let Some(name) = &self.point {
            return Ok(RestoreTarget::Point(name.clone()));
        }
        if let Some(lsn) = self.lsn {
            return Ok(RestoreTarget::Lsn(Lsn::new(lsn)));
        }
        if let Some(at) = &self.at {
            let now = jiff::ZonedDateTime::now();
            let unix_ms = crate::when::parse_time(at, &now)
                .map_err(|message| Failure::new(Code::Other, message))?;
            return Ok(RestoreTarget::Time(unix_ms));
        }
        Ok(RestoreTarget::Latest)
    }
}

/// Builds `destination` as the database at `path` was at the target, from its log archive.
pub fn apply(
    out: &Output,
    open: Opener,
    path: &Path,
    target: &TargetArgs,
    destination: &Path,
) -> Outcome {
    let target = target.resolve()?;
    if archive_beside(path).is_none() {
        let message = format!(
            "{} has no log archive beside it ({}.archive): only an archived log can be replayed",
            path.display(),
            path.display()
        );
        return Err(Failure::new(Code::Other, message));
    }
    let db = open.writable(path)?;
    let bar = out.progress(0, "replaying");
    let report = db
        .restore_to(&target, destination, |done, total| {
            bar.set_length(total);
            bar.set_position(done);
        })
        .map_err(|error| Failure::from_error(path, error))?;
    bar.finish_and_clear();
    print_report(out, destination, &target, &report, &[], Some(&archive_dir(path)));
    Ok(())
}

/// `redwood restore NEW --from A.car [B.car ...] [--archive DIR] [--at | --point | --lsn]`.
pub fn restore(
    out: &Output,
    destination: &Path,
    backups: &[PathBuf],
    archive: Option<&Path>,
    target: &TargetArgs,
) -> Outcome {
    let target = target.resolve()?;
    let blamed = backups.last().map_or(destination, PathBuf::as_path);
    let mut files = Vec::with_capacity(backups.len());
    for backup in backups {
        let file = std::io::BufReader::new(
            open_file(backup).map_err(|error| Failure::from_error(backup, error))?,
        );
        files.push(file);
    }
    let bar = out.progress(0, "restoring");
    let archive_target = archive.map(ArchiveTarget::directory);
    let report =
        redwood::restore(files, archive_target.as_ref(), &target, destination, |done, total| {
            bar.set_length(total);
            bar.set_position(done);
        })
        .map_err(|error| {
            let blamed = match &error {
                redwood::Error::Backup(redwood::BackupError::DestinationExists { .. }) => {
                    destination
                }
                redwood::Error::Backup(
                    redwood::BackupError::OutOfReach(_) | redwood::BackupError::ArchiveGap(_),
                ) => archive.unwrap_or(blamed),
                _ => blamed,
            };
            Failure::from_error(blamed, error)
        })?;
    bar.finish_and_clear();
    print_report(out, destination, &target, &report, backups, archive);
    Ok(())
}

fn print_report(
    out: &Output,
    destination: &Path,
    target: &RestoreTarget,
    report: &RestoreReport,
    backups: &[PathBuf],
    archive: Option<&Path>,
) {
    let document = json!({
        "database": destination.display().to_string(),
        "archives": backups.iter().map(|backup| backup.display().to_string()).collect::<Vec<_>>(),
        "log_archive": archive.map(|archive| archive.display().to_string()),
        "target": target.to_string(),
        "commit_lsn": report.commit_lsn,
        "taken_at_unix_ms": report.taken_at_unix_ms,
        "pages": report.pages,
        "replayed_commits": report.replayed_commits,
        "tables": report.tables,
    });
    out.print(&document, || {
        format!(
            "restored {} to {target}: the source's commit {}, {} tables ({} pages from backups, \
             {} commits replayed from the log archive); integrity check passed",
            destination.display(),
            report.commit_lsn,
            report.tables,
            report.pages,
            report.replayed_commits
        )
    });
}

/// `DB.archive`, the archive directory the CLI uses for the database at `path`.
pub fn archive_dir(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".archive");
    PathBuf::from(name)
}

/// The archive beside the database at `path`, if its directory exists.
pub fn archive_beside(path: &Path) -> Option<ArchiveTarget> {
    archive_dir(path).is_dir().then(|| ArchiveTarget::beside(path))
}

fn open_file(path: &Path) -> redwood::Result<impl std::io::Read> {
    redwood::io::best_vfs()
        .open_read_only(path)
        .map(|storage| StorageReader { storage, offset: 0 })
        .map_err(|source| {
            redwood::StorageError::Io { operation: "open", path: path.to_path_buf(), source }.into()
        })
}

/// Reads a `Storage` from its start, for the restore's `Read` sources.
struct StorageReader {
    storage: Box<dyn redwood::io::Storage>,
    offset: u64,
}

impl std::io::Read for StorageReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let len = self.storage.len()?;
        let count = (len.saturating_sub(self.offset)).min(buf.len() as u64) as usize;
        self.storage.read_at(self.offset, &mut buf[..count])?;
        self.offset += count as u64;
        Ok(count)
    }
}

/// Removes the files of a demo's old log archive (the directory stays): only if everything in
/// it is an archive's (generations, the manifest, half-written objects).
pub fn clear_demo_archive(path: &Path) -> Result<(), Failure> {
    let dir = archive_dir(path);
    if !dir.is_dir() {
        return Ok(());
    }
    let vfs = redwood::io::best_vfs();
    let fail = |source| {
        Failure::from_error(
            &dir,
            redwood::StorageError::Io { operation: "clear", path: dir.clone(), source }.into(),
        )
    };
    let files = vfs.list(&dir).map_err(fail)?;
    let is_archive = |file: &PathBuf| {
        file.file_name().and_then(|name| name.to_str()).is_some_and(|name| {
            name == "archive.json"
                || name.ends_with(".partial")
                || (name.starts_with("gen-") && name.ends_with(".wal"))
        })
    };
    if !files.iter().all(is_archive) {
        let message = format!(
            "{} holds files that are not a log archive's; the demo leaves it alone",
            dir.display()
        );
        return Err(Failure::new(Code::Other, message));
    }
    for file in &files {
        vfs.remove(file).map_err(fail)?;
    }
    vfs.sync_dir(&dir).map_err(fail)?;
    Ok(())
}
