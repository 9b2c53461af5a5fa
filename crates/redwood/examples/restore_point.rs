//! Restore points: a named, time-stamped marker written with a commit, so a later
//! point-in-time restore can find the state just after it. Here: mark the state before a
//! risky migration, reopen the database, and find the marker again in the log.
//!
//! `cargo run -p redwood --example restore_point -- [PATH]` (default: a temporary file).

use redwood::{Database, Result, TableDefinition};

/// Order id -> its status.
const ORDERS: TableDefinition<u64, &str> = TableDefinition::new("orders");

fn main() -> Result<()> {
    let path = std::env::args().nth(1).map_or_else(
        || std::env::temp_dir().join(format!("restore_point_{}.redwood", std::process::id())),
        std::path::PathBuf::from,
    );
    run(&path)
}

/// Runs the example on a new database at `path` (the test suite calls this).
pub fn run(path: &std::path::Path) -> Result<()> {
    {
        let db = Database::create(path)?;
        let mut write = db.begin_write()?;
        write.open_table(ORDERS)?.insert(1, "shipped")?;
        // The marker names the state this commit produces.
        write.restore_point("before-migration")?;
        write.commit()?;

        let migration = db.begin_write()?;
        migration.open_table(ORDERS)?.insert(1, "SHIPPED")?;
        migration.commit()?;
    }
    // Reopened, the database finds its restore points again while the log holds them.
    let db = Database::open(path)?;
    for point in db.restore_points() {
        println!(
            "restore point {:?} at commit {} ({} ms after the Unix epoch)",
            point.name, point.commit_lsn, point.timestamp_ms
        );
    }
    let marked = db.restore_points().into_iter().find(|point| point.name == "before-migration");
    assert!(marked.is_some_and(|point| point.commit_lsn < db.stats().last_commit));
    Ok(())
}
