//! `redwood backup DB OUT.car` and `redwood restore NEW --from BACKUP.car`: a consistent
//! snapshot as a CARv1 archive (`Database::backup_to_file`) and a new database built from one
//! (`redwood::restore_backup_file`), each with a progress bar and a summary (`--json`: one
//! document).

use std::path::{Path, PathBuf};

use serde_json::json;

use crate::commands::{Opener, Outcome};
use crate::exit::Failure;
use crate::output::Output;

/// Writes a backup of the database at `path` to `archive` (which must not exist), incremental
/// on `parent` if given.
pub fn backup(
    out: &Output,
    open: Opener,
    path: &Path,
    archive: &Path,
    parent: Option<&Path>,
) -> Outcome {
    let db = open.read_only(path)?;
    let parent = match parent {
        Some(parent) => Some(
            redwood::backup_parent_file(parent)
                .map_err(|error| Failure::from_error(parent, error))?,
        ),
        None => None,
    };
    let bar = out.progress(0, "hashing");
    let mut writing = false;
    let report = db
        .backup_to_file(archive, parent.as_ref(), |done, total| {
            bar.set_length(total);
            bar.set_position(done);
            if done == total && !writing {
                // The second pass writes the archive.
                writing = true;
                bar.set_message("writing");
                bar.reset();
            }
        })
        .map_err(|error| Failure::from_error(archive_or_db(&error, path, archive), error))?;
    bar.finish_and_clear();
    let document = json!({
        "database": path.display().to_string(),
        "archive": archive.display().to_string(),
        "commit_lsn": report.commit_lsn,
        "pages": report.pages,
        "pages_written": report.pages_written,
        "bytes": report.bytes,
        "root": report.root,
        "parent": report.parent,
    });
    out.print(&document, || {
        let kind = match &report.parent {
            Some(parent) => format!("incremental on {parent}, {} pages new", report.pages_written),
            None => "full".to_owned(),
        };
        format!(
            "backed up {} ({} pages, commit {}) to {}: {} bytes, root {} ({kind})",
            path.display(),
            report.pages,
            report.commit_lsn,
            archive.display(),
            report.bytes,
            report.root
        )
    });
    Ok(())
}

/// Builds a new database at `destination` from the backup chain `archives` (a full backup, then
/// its incremental ones).
pub fn restore(out: &Output, destination: &Path, archives: &[PathBuf]) -> Outcome {
    let archive = archives.last().expect("clap requires one").as_path();
    let bar = out.progress(0, "restoring");
    let report = redwood::restore_backup_files(archives, destination, |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    })
    .map_err(|error| {
        let blamed = match &error {
            redwood::Error::Backup(redwood::BackupError::DestinationExists { .. }) => destination,
            _ => archive,
        };
        Failure::from_error(blamed, error)
    })?;
    bar.finish_and_clear();
    let document = json!({
        "database": destination.display().to_string(),
        "archives": archives.iter().map(|archive| archive.display().to_string()).collect::<Vec<_>>(),
        "commit_lsn": report.commit_lsn,
        "taken_at_unix_ms": report.taken_at_unix_ms,
        "pages": report.pages,
        "tables": report.tables,
    });
    out.print(&document, || {
        format!(
            "restored {} from {}: {} pages, {} tables, the source's commit {}; integrity check passed",
            destination.display(),
            archive.display(),
            report.pages,
            report.tables,
            report.commit_lsn
        )
    });
    Ok(())
}

/// The file a backup's failure is about: the archive for an archive that exists or cannot be
/// written, the database otherwise.
fn archive_or_db<'a>(error: &redwood::Error, db: &'a Path, archive: &'a Path) -> &'a Path {
    match error {
        redwood::Error::Backup(_) => archive,
        _ => db,
    }
}
