//! `redwood demo PATH`, the README's main job: creates a database, loads keys in durable
//! batches with a progress bar, reads random keys back and verifies them, scans a key prefix and
//! the whole table, records a restore point, checkpoints, runs the full check, and prints the
//! timings and the database's statistics.

use std::path::Path;
use std::time::{Duration, Instant};

use redwood::{CheckpointMode, Database};
use serde_json::json;

use crate::commands::{Outcome, stats_json, stats_text};
use crate::exit::{Code, Failure};
use crate::output::Output;

/// Keys per write transaction while loading (each commit is durable).
const BATCH_KEYS: u64 = 250_000;
/// Random point reads after the load (fewer if fewer keys were loaded).
const POINT_READS_MAX: u64 = 100_000;
/// The table the demo fills.
const TABLE: &str = "users";
/// The table that marks a database as the demo's: only such a database is ever replaced.
const MARKER_TABLE: &str = "redwood-demo";
/// The prefix scanned: about 1/256 of the keys.
const SCAN_PREFIX: &str = "user:00";

/// Key `index`: `user:` and 16 hex digits of a bijective mix of the index, so keys arrive in
/// random order (the tree splits everywhere, not only at its right edge).
fn key(index: u64) -> Vec<u8> {
    format!("user:{:016x}", mix(index)).into_bytes()
}

/// About 100 bytes that name their key's index, so every read can be verified.
fn value(index: u64) -> Vec<u8> {
    let mut value = format!("{{\"id\":{index},\"name\":\"user {index}\",\"bio\":\"").into_bytes();
    value.resize(98, b'.');
    value.extend_from_slice(b"\"}");
    value
}

/// A bijection on u64 (an odd multiplier, then xor-shift), fixed so runs are reproducible.
fn mix(index: u64) -> u64 {
    let mixed = index.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    mixed ^ (mixed >> 29)
}

/// Wall-clock milliseconds as an RFC 3339 time in UTC.
pub fn timestamp(milliseconds: u64) -> String {
    i64::try_from(milliseconds)
        .ok()
        .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
        .map_or_else(|| format!("{milliseconds} ms"), |time| time.to_string())
}

/// Runs the demo against `path` with `keys` keys.
pub fn run(out: &Output, path: &Path, keys: u64) -> Outcome {
    let fail = |error| Failure::from_error(path, error);
    replace_previous_demo(path)?;
    // The log is archived beside the database (PATH.archive), so the restore point below is
    // still listed after the checkpoint restarts the log, and `restore-point apply` reaches it.
    crate::restore_point::clear_demo_archive(path)?;
    let db = Database::builder()
        .dirty_pages_max(1 << 16)
        .archive(redwood::ArchiveTarget::beside(path))
        .create(path)
        .map_err(fail)?;
    let write = db.begin_write().map_err(fail)?;
    write
        .open_table(MARKER_TABLE)
        .map_err(fail)?
        .insert(b"made-by", b"redwood demo")
        .map_err(fail)?;
    write.commit().map_err(fail)?;

    let (load, _) = timed(|| load(out, &db, keys)).map_err(fail)?;
    let reads = keys.min(POINT_READS_MAX);
    let (point_reads, ()) = timed(|| point_reads(&db, keys, reads)).map_err(fail)?;
    let (prefix_scan, prefix_entries) = timed(|| prefix_scan(&db)).map_err(fail)?;
    let (full_scan, scanned) = timed(|| full_scan(&db)).map_err(fail)?;
    if scanned != keys {
        let message = format!("the full scan found {scanned} entries, expected {keys}");
        return Err(Failure::new(Code::Damaged, message));
    }
    let mut write = db.begin_write().map_err(fail)?;
    write.restore_point("demo-loaded").map_err(fail)?;
    write.commit().map_err(fail)?;
    let (checkpoint, outcome) = timed(|| db.checkpoint(CheckpointMode::Truncate)).map_err(fail)?;
    let bar = out.progress(0, "checking");
    let (check, report) = timed(|| {
        db.check_report(|done, total| {
            bar.set_length(total);
            bar.set_position(done);
        })
    })
    .map_err(fail)?;
    bar.finish_and_clear();
    if !report.is_clean() {
        let message = format!("the integrity check found {} problem(s)", report.problems.len());
        return Err(Failure::new(Code::Damaged, message));
    }

    let per_second = |count: u64, time: Duration| (count as f64 / time.as_secs_f64()).round();
    let document = json!({
        "path": path.display().to_string(),
        "keys": keys,
        "timings_ms": {
            "load": ms(load),
            "point_reads": ms(point_reads),
            "prefix_scan": ms(prefix_scan),
            "full_scan": ms(full_scan),
            "checkpoint": ms(checkpoint),
            "check": ms(check),
        },
        "rates_per_second": {
            "load_keys": per_second(keys, load),
            "point_reads": per_second(reads, point_reads),
            "full_scan_entries": per_second(scanned, full_scan),
        },
        "point_reads": reads,
        "prefix_scan": { "prefix": SCAN_PREFIX, "entries": prefix_entries },
        "checkpoint": { "pages_written": outcome.pages_written, "log_restarted": outcome.log_restarted },
        "check": { "pages_checked": report.pages_checked, "clean": true },
        "stats": stats_json(&db),
    });
    out.print(&document, || {
        let stats = stats_text(&document["stats"]);
        format!(
            "demo database {path}\n\
             loaded     {keys} keys in {load:.2?} ({load_rate}/s, durable commits of {BATCH_KEYS})\n\
             read       {reads} random keys in {point_reads:.2?} ({read_rate}/s), every value verified\n\
             scanned    {prefix_entries} keys with prefix {SCAN_PREFIX:?} in {prefix_scan:.2?}\n\
             scanned    all {scanned} keys in order in {full_scan:.2?}\n\
             marked     restore point \"demo-loaded\"\n\
             checkpoint {pages} pages in {checkpoint:.2?}\n\
             checked    {checked} pages in {check:.2?}: ok\n{stats}",
            path = path.display(),
            load_rate = per_second(keys, load),
            read_rate = per_second(reads, point_reads),
            pages = outcome.pages_written,
            checked = report.pages_checked,
        )
    });
    Ok(())
}

/// Loads `keys` keys in durable batches, with a progress bar.
fn load(out: &Output, db: &Database, keys: u64) -> redwood::Result<()> {
    let bar = out.progress(keys, "loading");
    let mut loaded = 0;
    while loaded < keys {
        let batch_end = (loaded + BATCH_KEYS).min(keys);
        let write = db.begin_write()?;
        {
            let mut table = write.open_table(TABLE)?;
            for index in loaded..batch_end {
                table.insert(key(index), value(index))?;
            }
        }
        write.commit()?;
        loaded = batch_end;
        bar.set_position(loaded);
    }
    bar.finish_and_clear();
    Ok(())
}

/// Reads `reads` random keys of the `keys` loaded and checks each value.
fn point_reads(db: &Database, keys: u64, reads: u64) -> redwood::Result<()> {
    let read = db.begin_read()?;
    let table = read.open_table(TABLE)?;
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    for _ in 0..reads {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let index = state % keys.max(1);
        let found = table.get(key(index))?;
        if found.as_deref() != Some(value(index).as_slice()) {
            let page_id = redwood::PageId::new(0);
            let reason = format!("key {index} read back wrong");
            return Err(redwood::StorageError::Corrupt { page_id, reason }.into());
        }
    }
    Ok(())
}

/// Counts the keys under `SCAN_PREFIX`.
fn prefix_scan(db: &Database) -> redwood::Result<u64> {
    let read = db.begin_read()?;
    let table = read.open_table(TABLE)?;
    let (low, high) = (SCAN_PREFIX.as_bytes(), b"user:01".as_slice());
    let mut count = 0;
    for entry in table.range(low..high) {
        entry?;
        count += 1;
    }
    Ok(count)
}

/// Scans every entry in key order, checking the order, and counts them.
fn full_scan(db: &Database) -> redwood::Result<u64> {
    let read = db.begin_read()?;
    let table = read.open_table(TABLE)?;
    let mut previous: Option<Vec<u8>> = None;
    let mut count = 0;
    for entry in table.range(..) {
        let (key, _) = entry?;
        if previous.as_deref().is_some_and(|previous| previous >= key.value()) {
            let reason = "the scan went out of key order".to_owned();
            return Err(redwood::StorageError::Corrupt {
                page_id: redwood::PageId::new(0),
                reason,
            }
            .into());
        }
        previous = Some(key.to_vec());
        count += 1;
    }
    Ok(count)
}

fn timed<T, E>(work: impl FnOnce() -> Result<T, E>) -> Result<(Duration, T), E> {
    let started = Instant::now();
    let result = work()?;
    Ok((started.elapsed(), result))
}

fn ms(time: Duration) -> f64 {
    (time.as_secs_f64() * 1e4).round() / 10.0
}

/// Removes an earlier demo database at `path` (and its log and segment files). Only a database
/// the demo made is removed: one whose tables are the demo's marker table and `users` and
/// nothing else (read-only, so a refused file is never changed). `Database::destroy` then
/// removes it, locked while its files go, the log and segments first and the main file last, so
/// an interrupted removal never leaves a log without its database. Any other file, or any
/// other database, is refused.
fn replace_previous_demo(path: &Path) -> Outcome {
    if !path.exists() {
        return Ok(());
    }
    let shown = path.display();
    let db = Database::open_read_only(path).map_err(|error| {
        let failure = Failure::from_error(path, error);
        if failure.code != Code::NotADatabase {
            return failure;
        }
        let message = format!(
            "{shown} exists and is not a Redwood database; the demo leaves it alone (choose \
             another path)"
        );
        Failure::new(Code::NotADatabase, message)
    })?;
    let tables = db
        .begin_read()
        .and_then(|read| read.list_tables())
        .map_err(|error| Failure::from_error(path, error))?;
    let is_demo = tables.iter().any(|name| name == MARKER_TABLE)
        && tables.iter().all(|name| name == MARKER_TABLE || name == TABLE);
    if !is_demo {
        let message = format!(
            "{shown} is a Redwood database the demo did not make (tables: {}); the demo leaves \
             it alone (choose another path)",
            tables.join(", ")
        );
        return Err(Failure::new(Code::Other, message));
    }
    drop(db);
    Database::destroy(path).map_err(|error| Failure::from_error(path, error))?;
    Ok(())
}
