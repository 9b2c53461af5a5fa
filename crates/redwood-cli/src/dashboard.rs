//! `redwood dashboard DB` and `redwood dashboard --demo`: serve a database's live dashboard
//! (`redwood-dashboard`) until stopped (Ctrl-C) or for `--seconds`. A database file is opened
//! read-only: nothing else can write to it while this process holds it, and the dashboard only
//! reads; the page draws the top levels of the tree of `--table NAME` (by default the first
//! table in name order; none if the database has no table). The demo draws its own table, with
//! its structural events lit up on the tree. The demo runs a teaching workload on a fresh in-memory database with a small cache:
//! inserts in random key order (splits, a root that grows), deletes once the table is large
//! (merges, redistributions, a root that shrinks), point reads and range scans, a few
//! transactions a second, so every chart and the tree move at a watchable pace.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use redwood::{Database, DiagnosticsConfig};
use redwood_dashboard::{Dashboard, DashboardHandle, TreeEvents};
use serde_json::json;

use crate::commands::Outcome;
use crate::exit::{Code, Failure};
use crate::output::Output;

/// The demo's table, the one the visualizer draws.
const DEMO_TABLE: &str = "demo";
/// The demo's cache: 48 pages, small enough that scans evict and pages thrash.
const DEMO_CACHE_BYTES: u64 = 48 * 4096;
/// One demo transaction per this interval.
const DEMO_TICK: Duration = Duration::from_millis(120);
/// Keys inserted per demo transaction.
const DEMO_INSERTS_PER_TICK: u64 = 40;
/// Keys removed per transaction while the table shrinks.
const DEMO_REMOVES_PER_TICK: u64 = 70;
/// The table grows to this many keys, then shrinks to [`DEMO_KEYS_LOW`], and again.
const DEMO_KEYS_HIGH: u64 = 6000;
/// See [`DEMO_KEYS_HIGH`].
const DEMO_KEYS_LOW: u64 = 500;

/// The command's arguments.
#[derive(Debug)]
pub struct Args {
    /// The database to serve (`None` with `--demo`).
    pub path: Option<PathBuf>,
    /// The table whose tree the page draws (`None`: the first table; always `None` with
    /// `--demo`, which draws the demo's table).
    pub table: Option<String>,
    /// Address to listen on.
    pub addr: SocketAddr,
    /// The token requests must present.
    pub token: Option<String>,
    /// Stop after this many seconds (default: run until killed).
    pub seconds: Option<u64>,
}

/// Runs the command.
pub fn run(out: &Output, args: Args) -> Outcome {
    // Off loopback a token is mandatory: make one and print it once if none was given.
    let token = match args.token.clone() {
        None if !args.addr.ip().is_loopback() => Some(redwood_dashboard::generate_token()),
        token => token,
    };
    match &args.path {
        Some(path) => serve_file(out, &args, token, path),
        None => serve_demo(out, &args, token),
    }
}

fn serve_file(out: &Output, args: &Args, token: Option<String>, path: &Path) -> Outcome {
    let db = Database::open_read_only(path).map_err(|error| Failure::from_error(path, error))?;
    let table = visualized_table(&db, args.table.as_deref())
        .map_err(|error| Failure::from_error(path, error))?;
    let mut dashboard = Dashboard::new(&db).addr(args.addr);
    if let Some(table) = &table {
        // A table that does not exist is said so on the page, not refused here.
        dashboard = dashboard.table(table.as_str());
    }
    if let Some(token) = token {
        dashboard = dashboard.token(token);
    }
    let handle = dashboard.spawn().map_err(start_failure)?;
    announce(out, &handle, &path.display().to_string(), table.as_deref());
    wait(args.seconds, || false);
    handle.shutdown();
    Ok(())
}

fn serve_demo(out: &Output, args: &Args, token: Option<String>) -> Outcome {
    let events = TreeEvents::new(DEMO_TABLE, redwood_dashboard::EVENT_CAPACITY_DEFAULT);
    let db = Database::builder()
        .cache_bytes(DEMO_CACHE_BYTES)
        .tree_observer(DEMO_TABLE, events.observer())
        .in_memory()
        .map_err(|error| Failure::from_error(Path::new("(demo)"), error))?;
    let db = Arc::new(db);
    let alerts = DiagnosticsConfig::default().cache_hit_ratio_min(0.9, 200).thrash_reports_max(10);
    let mut dashboard = Dashboard::new(&db).addr(args.addr).tree_events(events).alerts(alerts);
    if let Some(token) = token {
        dashboard = dashboard.token(token);
    }
    let handle = dashboard.spawn().map_err(start_failure)?;
    announce(out, &handle, "(demo, in memory)", Some(DEMO_TABLE));
    let stop = Arc::new(AtomicBool::new(false));
    let workload = {
        let (db, stop) = (Arc::clone(&db), Arc::clone(&stop));
        std::thread::spawn(move || demo_workload(&db, &stop))
    };
    wait(args.seconds, || workload.is_finished());
    stop.store(true, Ordering::Relaxed);
    let result = workload.join();
    handle.shutdown();
    match result {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => Err(Failure::from_error(Path::new("(demo)"), error)),
        Err(_) => Err(Failure::new(Code::Other, "the demo workload panicked")),
    }
}

fn start_failure(error: redwood_dashboard::Error) -> Failure {
    Failure::new(Code::Other, format!("cannot start the dashboard: {error}"))
}

/// The table whose tree the page draws: `requested`, else the database's first table in name
/// order (`None` if it has none).
fn visualized_table(db: &Database, requested: Option<&str>) -> redwood::Result<Option<String>> {
    match requested {
        Some(table) => Ok(Some(table.to_owned())),
        None => Ok(db.begin_read()?.list_tables()?.into_iter().next()),
    }
}

/// Prints where the dashboard is (with its token, the one time it is shown) and which table's
/// tree it draws.
fn announce(out: &Output, handle: &DashboardHandle, database: &str, table: Option<&str>) {
    let document = json!({
        "url": handle.url(),
        "addr": handle.local_addr().to_string(),
        "token": handle.token(),
        "database": database,
        "table": table,
    });
    out.print(&document, || {
        let drawn = match table {
            Some(table) => format!(", tree of table {table:?}"),
            None => ", no table to draw".to_owned(),
        };
        format!("dashboard of {database}{drawn}: {}\n(stop with Ctrl-C)", handle.url())
    });
}

/// Sleeps until `seconds` have passed (forever without), or `done` says so.
fn wait(seconds: Option<u64>, done: impl Fn() -> bool) {
    let until = seconds.map(|seconds| Instant::now() + Duration::from_secs(seconds));
    while until.is_none_or(|until| Instant::now() < until) && !done() {
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Key `index` of the demo: a bijective mix of the index, so keys land all over the tree.
fn demo_key(index: u64) -> [u8; 8] {
    let mixed = index.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (mixed ^ (mixed >> 29)).to_be_bytes()
}

/// The demo's workload, one transaction per tick until `stop`: the table grows to
/// [`DEMO_KEYS_HIGH`] keys, shrinks to [`DEMO_KEYS_LOW`], and grows again; each tick also reads
/// a few keys and scans a range.
fn demo_workload(db: &Database, stop: &AtomicBool) -> redwood::Result<()> {
    let (mut inserted, mut removed, mut shrinking) = (0u64, 0u64, false);
    while !stop.load(Ordering::Relaxed) {
        let live = inserted - removed;
        shrinking = if shrinking { live > DEMO_KEYS_LOW } else { live >= DEMO_KEYS_HIGH };
        let write = db.begin_write()?;
        let mut table = write.open_table(DEMO_TABLE)?;
        if shrinking {
            for index in removed..(removed + DEMO_REMOVES_PER_TICK).min(inserted) {
                table.remove(demo_key(index))?;
            }
            removed = (removed + DEMO_REMOVES_PER_TICK).min(inserted);
        } else {
            for index in inserted..inserted + DEMO_INSERTS_PER_TICK {
                table.insert(demo_key(index), [b'v'; 96])?;
            }
            inserted += DEMO_INSERTS_PER_TICK;
        }
        drop(table);
        write.commit()?;
        let read = db.begin_read()?;
        let table = read.open_table(DEMO_TABLE)?;
        for index in (removed..inserted).step_by(97) {
            table.get(demo_key(index))?;
        }
        let from = demo_key(inserted / 2);
        for entry in table.range(&from[..]..).take(300) {
            entry?;
        }
        drop(table);
        drop(read);
        std::thread::sleep(DEMO_TICK);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_drawn_table_is_the_one_asked_for_else_the_first_by_name() -> redwood::Result<()> {
        let db = Database::in_memory()?;
        assert_eq!(visualized_table(&db, None)?, None, "no table, nothing to draw");
        let write = db.begin_write()?;
        write.open_table("orders")?;
        write.open_table("accounts")?;
        write.commit()?;
        assert_eq!(visualized_table(&db, None)?.as_deref(), Some("accounts"));
        assert_eq!(visualized_table(&db, Some("orders"))?.as_deref(), Some("orders"));
        // A missing table is the page's to say, not a failure to start.
        assert_eq!(visualized_table(&db, Some("later"))?.as_deref(), Some("later"));
        Ok(())
    }
}
