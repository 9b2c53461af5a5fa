//! The subcommands other than `demo`: each opens the database, does one thing, prints the
//! outcome (`output.rs`) and maps failures to exit codes (`exit.rs`).

use std::io::Write;
use std::ops::Bound;
use std::path::Path;

use redwood::{CheckpointMode, Database};
use serde_json::json;

use crate::exit::{Code, Failure};
use crate::output::{Output, entry_json, show};

/// What a command returns: success, or a failure to report.
pub type Outcome = Result<(), Failure>;

/// How commands open a database: the options every command shares.
#[derive(Clone, Copy, Debug, Default)]
pub struct Opener {
    /// Open even without the write-ahead log (`--discard-missing-log`).
    pub discard_missing_log: bool,
}

impl Opener {
    /// The builder every command opens `path` with: the log archive beside it
    /// (`PATH.archive`) attached when its directory exists, so a command that checkpoints
    /// ships the log there first and none ever leaves a gap in it.
    fn builder(self, path: &Path) -> redwood::Builder {
        let builder = Database::builder().discard_missing_log(self.discard_missing_log);
        match crate::restore_point::archive_beside(path) {
            Some(archive) => builder.archive(archive),
            None => builder,
        }
    }

    /// Opens the existing database at `path` for reading only: no file is changed.
    pub fn read_only(self, path: &Path) -> Result<Database, Failure> {
        let db = self.builder(path).read_only(true).open(path);
        db.map(warn_about_recovery).map_err(|error| Failure::from_error(path, error))
    }

    /// Opens the existing database at `path` for writing.
    pub fn writable(self, path: &Path) -> Result<Database, Failure> {
        let db = self.builder(path).open(path);
        db.map(warn_about_recovery).map_err(|error| Failure::from_error(path, error))
    }

    /// Opens the database at `path` for writing, creating it if it does not exist.
    pub fn create(self, path: &Path) -> Result<Database, Failure> {
        let db = self.builder(path).create(path);
        db.map(warn_about_recovery).map_err(|error| Failure::from_error(path, error))
    }
}

/// Says on standard error what opening did that the user must know: a discarded log, a damaged
/// log tail cut off (and where its bytes were saved).
fn warn_about_recovery(db: Database) -> Database {
    let report = db.recovery_report();
    if let Some(reason) = &report.discarded_log {
        eprintln!(
            "redwood: warning: the write-ahead log was discarded ({reason}); every commit after \
             the last checkpoint ({}) is lost",
            db.stats().checkpoint_lsn
        );
    }
    if let (Some(tail), false) = (&report.damaged_tail, db.is_read_only()) {
        let saved = report
            .tail_saved_to
            .as_ref()
            .map(|saved| format!("; its bytes were saved to {}", saved.display()))
            .unwrap_or_default();
        eprintln!(
            "redwood: warning: a damaged log tail at byte {} was cut off{saved}",
            tail.offset
        );
    }
    db
}

/// `put`: stores a value, creating the database and the table if needed.
pub fn put(
    out: &Output,
    open: Opener,
    path: &Path,
    table: &str,
    key: &str,
    value: &str,
) -> Outcome {
    let fail = |error| Failure::from_error(path, error);
    let db = open.create(path)?;
    let write = db.begin_write().map_err(fail)?;
    let replaced = write.open_table(table).map_err(fail)?.insert(key.as_bytes(), value.as_bytes());
    let replaced = replaced.map_err(fail)?;
    write.commit().map_err(fail)?;
    let document = json!({ "table": table, "key": key, "replaced": replaced });
    out.print(&document, || {
        let verb = if replaced { "replaced" } else { "stored" };
        format!("{verb} {key:?} in table {table:?}")
    });
    Ok(())
}

/// `get`: prints a value; exit code 1 if the key is absent.
pub fn get(out: &Output, open: Opener, path: &Path, table: &str, key: &str) -> Outcome {
    let fail = |error| Failure::from_error(path, error);
    let db = open.read_only(path)?;
    let read = db.begin_read().map_err(fail)?;
    let value = read.open_table(table).map_err(fail)?.get(key.as_bytes()).map_err(fail)?;
    let Some(value) = value else {
        return Err(Failure::new(Code::KeyNotFound, format!("no key {key:?} in table {table:?}")));
    };
    out.print(&entry_json(key.as_bytes(), &value), || show(&value));
    Ok(())
}

/// `del`: removes a key; exit code 1 if it was absent. A missing table is not created.
pub fn del(out: &Output, open: Opener, path: &Path, table: &str, key: &str) -> Outcome {
    let fail = |error| Failure::from_error(path, error);
    let db = open.writable(path)?;
    let write = db.begin_write().map_err(fail)?;
    if !write.list_tables().map_err(fail)?.iter().any(|name| name == table) {
        return Err(fail(redwood::Error::TableNotFound(table.to_owned())));
    }
    let removed = write.open_table(table).map_err(fail)?.remove(key.as_bytes()).map_err(fail)?;
    if !removed {
        return Err(Failure::new(Code::KeyNotFound, format!("no key {key:?} in table {table:?}")));
    }
    write.commit().map_err(fail)?;
    out.print(&json!({ "table": table, "key": key, "removed": true }), || {
        format!("removed {key:?} from table {table:?}")
    });
    Ok(())
}

/// The options of `scan`.
#[derive(Debug, Default)]
pub struct ScanArgs {
    /// Inclusive lower bound.
    pub from: Option<String>,
    /// Exclusive upper bound.
    pub to: Option<String>,
    /// Keys must start with this.
    pub prefix: Option<String>,
    /// At most this many entries.
    pub limit: Option<usize>,
    /// Descending order.
    pub reverse: bool,
}

impl ScanArgs {
    /// The key bounds the options amount to: the tighter of `from` and the prefix below, and
    /// of `to` and the end of the prefix above.
    fn bounds(&self) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
        let prefix = self.prefix.as_deref().map(str::as_bytes);
        let lower = [self.from.as_deref().map(str::as_bytes), prefix].into_iter().flatten().max();
        let prefix_end = prefix.and_then(prefix_successor);
        let upper = [self.to.as_deref().map(|to| to.as_bytes().to_vec()), prefix_end]
            .into_iter()
            .flatten()
            .min();
        (
            lower.map_or(Bound::Unbounded, |key| Bound::Included(key.to_vec())),
            upper.map_or(Bound::Unbounded, Bound::Excluded),
        )
    }
}

/// The smallest key above every key starting with `prefix`; `None` if there is none (the
/// prefix is all `0xff`).
fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let last = prefix.iter().rposition(|&byte| byte != 0xff)?;
    let mut successor = prefix[..=last].to_vec();
    successor[last] += 1;
    Some(successor)
}

/// `scan`: streams entries in key order (or reversed), as lines or one JSON document.
pub fn scan(out: &Output, open: Opener, path: &Path, table: &str, args: &ScanArgs) -> Outcome {
    let fail = |error| Failure::from_error(path, error);
    let db = open.read_only(path)?;
    let read = db.begin_read().map_err(fail)?;
    let handle = read.open_table(table).map_err(fail)?;
    let (lower, upper) = args.bounds();
    let range = handle.range((as_slice(&lower), as_slice(&upper)));
    let entries: Box<dyn Iterator<Item = _>> =
        if args.reverse { Box::new(range.rev()) } else { Box::new(range) };
    let mut stdout = std::io::stdout().lock();
    if out.json {
        let _ = write!(stdout, "{{\"table\":{},\"entries\":[", json!(table));
    }
    for (index, entry) in entries.take(args.limit.unwrap_or(usize::MAX)).enumerate() {
        let (key, value) = entry.map_err(fail)?;
        let written = if out.json {
            let separator = if index == 0 { "" } else { "," };
            write!(stdout, "{separator}{}", entry_json(&key, &value))
        } else {
            writeln!(stdout, "{}\t{}", show(&key), show(&value))
        };
        if written.is_err() {
            return Ok(()); // The reader went away (a closed pipe).
        }
    }
    if out.json {
        let _ = writeln!(stdout, "]}}");
    }
    Ok(())
}

fn as_slice(bound: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    bound.as_ref().map(Vec::as_slice)
}

/// `tables`: every table with its kind and entry count.
pub fn tables(out: &Output, open: Opener, path: &Path) -> Outcome {
    let fail = |error| Failure::from_error(path, error);
    let db = open.read_only(path)?;
    let read = db.begin_read().map_err(fail)?;
    let listed = read.tables().map_err(fail)?;
    let document = json!({
        "tables": listed.iter().map(|table| json!({
            "name": table.name,
            "kind": table.kind.name(),
            "entries": table.entries,
        })).collect::<Vec<_>>()
    });
    out.print(&document, || {
        if listed.is_empty() {
            return "no tables".to_owned();
        }
        let lines: Vec<String> = listed
            .iter()
            .map(|table| match table.kind {
                redwood::TableKind::Table => format!("{}\t{} entries", table.name, table.entries),
                redwood::TableKind::Multimap => {
                    format!("{}\t{} pairs (multimap)", table.name, table.entries)
                }
            })
            .collect();
        lines.join("\n")
    });
    Ok(())
}

/// The figures `stats` and `demo` print about a database.
pub fn stats_json(db: &Database) -> serde_json::Value {
    let pager = db.stats();
    let log = db.log_stats();
    let diagnostics = db.diagnostics();
    let pool = diagnostics.pool;
    let points: Vec<_> = db
        .restore_points()
        .into_iter()
        .map(|point| {
            json!({
                "name": point.name,
                "time": crate::demo::timestamp(point.timestamp_ms),
                "commit_lsn": point.commit_lsn.get(),
            })
        })
        .collect();
    json!({
        "pages": {
            "page_size_bytes": pager.page_size_bytes,
            "page_count": pager.page_count,
            "free_pages": pager.free_pages,
            "segments": pager.segments,
            "file_bytes": diagnostics.pager.data_file_bytes,
        },
        "log": {
            "bytes_in_use": pager.log_bytes,
            "page_versions": pager.log_versions,
            "last_commit_lsn": pager.last_commit.get(),
            "checkpoint_lsn": pager.checkpoint_lsn.get(),
            "open_readers": pager.readers,
            "bytes_max": diagnostics.checkpoints.log_bytes_max,
            "held_back": diagnostics.checkpoints.held_back,
        },
        "since_open": {
            "commits": pager.commits,
            "checkpoints": pager.checkpoints,
            "log_frames_written": log.frames,
            "log_bytes_written": log.bytes,
            "log_syncs": log.syncs,
            "log_restarts": log.restarts,
            "prefetched_pages": pager.prefetched,
        },
        "cache": {
            "frames": pool.frames,
            "memory_bytes": pool.memory_bytes,
            "hits": pool.hits,
            "misses": pool.misses,
            "hit_ratio": pool.hit_ratio(),
            "evictions": pool.evictions,
            "thrash_reports": pool.thrash_reports,
        },
        "process": {
            "rss_bytes": diagnostics.process.rss_bytes,
            "rss_peak_bytes": diagnostics.process.rss_peak_bytes,
            "heap_bytes": diagnostics.process.heap.map(|heap| heap.allocated_bytes),
            "heap_peak_bytes": diagnostics.process.heap.map(|heap| heap.peak_bytes),
        },
        "restore_points": points,
    })
}

/// Renders `stats_json` as indented `section: key value` lines.
pub fn stats_text(document: &serde_json::Value) -> String {
    let mut lines = Vec::new();
    if let Some(sections) = document.as_object() {
        for (section, fields) in sections {
            lines.push(format!("{section}:"));
            match fields {
                serde_json::Value::Object(fields) => {
                    for (name, value) in fields {
                        lines.push(format!("  {name:<18} {value}"));
                    }
                }
                serde_json::Value::Array(items) if items.is_empty() => lines.push("  none".into()),
                serde_json::Value::Array(items) => {
                    lines.extend(items.iter().map(|item| format!("  {item}")));
                }
                other => lines.push(format!("  {other}")),
            }
        }
    }
    lines.join("\n")
}

/// `stats`: the database's statistics.
pub fn stats(out: &Output, open: Opener, path: &Path) -> Outcome {
    let db = open.read_only(path)?;
    let document = stats_json(&db);
    out.print(&document, || stats_text(&document));
    Ok(())
}

/// `check`: the full integrity report; exit code 5 if anything is wrong.
pub fn check(out: &Output, open: Opener, path: &Path) -> Outcome {
    let db = open.read_only(path)?;
    let bar = out.progress(0, "checking");
    let report = db
        .check_report(|done, total| {
            bar.set_length(total);
            bar.set_position(done);
        })
        .map_err(|error| Failure::from_error(path, error))?;
    bar.finish_and_clear();
    let problems: Vec<_> = report
        .problems
        .iter()
        .map(|problem| {
            json!({
                "page": problem.page_id.map(|page| page.get()),
                "place": problem.place,
                "message": problem.message,
            })
        })
        .collect();
    let log_tail = report.damaged_log_tail.map(|tail| {
        json!({
            "offset": tail.offset,
            "lsn": tail.lsn.get(),
            "committed_end": tail.committed_end,
            "commit_after": tail.commit_after.map(|commit| json!({
                "offset": commit.offset,
                "lsn": commit.lsn.get(),
            })),
        })
    });
    let document = json!({
        "clean": report.is_clean(),
        "pages_checked": report.pages_checked,
        "tables_checked": report.tables_checked,
        "problems": problems,
        "damaged_log_tail": log_tail,
    });
    out.print(&document, || {
        let mut lines = vec![format!(
            "checked {} pages in {} tables",
            report.pages_checked, report.tables_checked
        )];
        for problem in &report.problems {
            let page = problem.page_id.map(|page| format!("{page}: ")).unwrap_or_default();
            lines.push(format!("  damaged {page}{} (in {})", problem.message, problem.place));
        }
        if report.damaged_log_tail.is_some() {
            lines.push(
                "  (read-only: the log was left as it is; `redwood recover` copies what can be \
                 read into a new database)"
                    .to_owned(),
            );
        }
        lines.push(if report.is_clean() { "ok".into() } else { "DAMAGED".into() });
        lines.join("\n")
    });
    if report.is_clean() {
        return Ok(());
    }
    let count = report.problems.len();
    Err(Failure::new(
        Code::Damaged,
        format!("{} has {count} problem(s); see above", path.display()),
    ))
}

/// `checkpoint`: copies committed pages into the database file.
pub fn checkpoint(out: &Output, open: Opener, path: &Path, mode: CheckpointMode) -> Outcome {
    let db = open.writable(path)?;
    let outcome = db.checkpoint(mode).map_err(|error| Failure::from_error(path, error))?;
    let document = json!({
        "mode": format!("{mode:?}").to_lowercase(),
        "checkpoint_lsn": outcome.checkpoint_lsn.get(),
        "pages_written": outcome.pages_written,
        "log_restarted": outcome.log_restarted,
    });
    out.print(&document, || {
        let restarted = if outcome.log_restarted { ", log restarted" } else { "" };
        format!(
            "checkpoint ({}) up to {}: {} pages written{restarted}",
            format!("{mode:?}").to_lowercase(),
            outcome.checkpoint_lsn,
            outcome.pages_written
        )
    });
    Ok(())
}

/// `redwood compact DB`: [`redwood::Database::compact`] with a progress bar over the entries
/// copied, then a before/after size line.
pub fn compact(out: &Output, open: Opener, path: &Path) -> Outcome {
    let db = open.writable(path)?;
    let entries: u64 = db
        .begin_read()
        .and_then(|read| read.tables())
        .map_err(|error| Failure::from_error(path, error))?
        .iter()
        .map(|table| table.entries)
        .sum();
    let bar = out.progress(entries, "copying entries");
    let report = db
        .compact(|at| {
            // Each rewrite raises the total as it starts.
            bar.set_length(at.entries);
            bar.set_position(at.entries_done);
        })
        .map_err(|error| Failure::from_error(path, error))?;
    bar.finish_and_clear();
    let document = json!({
        "tables": report.tables,
        "entries": report.entries,
        "passes": report.passes,
        "bytes_before": report.bytes_before,
        "bytes_after": report.bytes_after,
        "held_back": report.held_back,
        "interrupted": report.interrupted,
    });
    out.print(&document, || {
        let held = if report.held_back {
            " (the files did not shrink: an open reader or an unshipped log archive held the \
             checkpoint back; run it again later)"
        } else {
            ""
        };
        format!(
            "compacted {} tables ({} entries): {} bytes before, {} after{held}",
            report.tables, report.entries, report.bytes_before, report.bytes_after
        )
    });
    Ok(())
}
