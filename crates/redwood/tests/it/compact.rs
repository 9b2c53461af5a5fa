//! `Database::compact` (issue 18): after scattered deletes the files shrink to about what a
//! fresh database of the survivors takes, every survivor reads back, the integrity check is
//! clean, and a reader opened before the compaction keeps its snapshot to the end.

use std::path::Path;

use std::ops::ControlFlow;

use redwood::{CheckpointMode, Database};

const ENTRIES: u32 = 100_000;
const SEGMENT_PAGES: u64 = 512;

fn key(n: u32) -> [u8; 24] {
    let mut key = [0u8; 24];
    // Scattered: the keys' order is not their numbers' order.
    key[..4].copy_from_slice(&n.wrapping_mul(2_654_435_761).to_be_bytes());
    key[4..8].copy_from_slice(&n.to_be_bytes());
    key
}

fn value(n: u32) -> Vec<u8> {
    let mut value = vec![(n % 251) as u8; 100];
    value[..4].copy_from_slice(&n.to_le_bytes());
    value
}

/// A value of 150 bytes, as the benchmark's.
fn long_value(n: u32) -> Vec<u8> {
    let mut value = vec![(n % 251) as u8; 150];
    value[..4].copy_from_slice(&n.to_le_bytes());
    value
}

fn survives(n: u32) -> bool {
    n % 10 == 3
}

/// Bytes of the database's files: the base, its segments and the log.
fn files_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir).unwrap().map(|entry| entry.unwrap().metadata().unwrap().len()).sum()
}

fn builder() -> redwood::Builder {
    Database::builder().segment_pages(SEGMENT_PAGES)
}

#[test]
fn compaction_shrinks_the_files_to_a_fresh_databases_size() {
    let dir = tempfile::tempdir().unwrap();
    let db = builder().create(dir.path().join("db")).unwrap();
    let write = db.begin_write().unwrap();
    let mut table = write.open_table("t").unwrap();
    for n in 0..ENTRIES {
        table.insert(key(n), value(n)).unwrap();
    }
    drop(table);
    write.commit().unwrap();
    let write = db.begin_write().unwrap();
    let removed = write
        .open_table("t")
        .unwrap()
        .retain(|key, _| survives(u32::from_be_bytes(key[4..8].try_into().unwrap())));
    assert_eq!(removed.unwrap(), u64::from(ENTRIES) / 10 * 9);
    write.commit().unwrap();
    db.checkpoint(CheckpointMode::Truncate).unwrap();
    let segments = db.stats().page_count.div_ceil(SEGMENT_PAGES);
    assert!(segments >= 8, "the load spans {segments} segments");
    let before = files_bytes(dir.path());

    // A reader from before the compaction holds its snapshot (and the shrink) to its end.
    let reader = db.begin_read().unwrap();
    let mut progress = Vec::new();
    let report = db.compact(|at| progress.push(at.entries_done)).unwrap();
    assert!(report.held_back, "the old reader holds the checkpoint back: {report:?}");
    assert_eq!(report.entries, u64::from(ENTRIES) / 10);
    assert!(progress.windows(2).all(|pair| pair[0] <= pair[1]) && progress.len() > 1);
    let old = reader.open_table("t").unwrap();
    let mut seen = 0u32;
    for item in old.range(..) {
        let (key, found) = item.unwrap();
        let n = u32::from_be_bytes(key[4..8].try_into().unwrap());
        assert!(survives(n));
        assert_eq!(&found[..], &value(n)[..]);
        seen += 1;
    }
    assert_eq!(seen, ENTRIES / 10);
    drop(old);
    drop(reader);

    let report = db.compact(|_| {}).unwrap();
    assert!(!report.held_back, "{report:?}");
    let after = files_bytes(dir.path());
    db.check_integrity().unwrap();
    let read = db.begin_read().unwrap();
    let table = read.open_table("t").unwrap();
    assert_eq!(table.len(), u64::from(ENTRIES) / 10);
    for n in (0..ENTRIES).filter(|&n| survives(n)) {
        assert_eq!(&table.get(key(n)).unwrap().unwrap()[..], &value(n)[..], "{n}");
    }
    drop(table);
    drop(read);
    drop(db);

    let fresh_dir = tempfile::tempdir().unwrap();
    let fresh = builder().create(fresh_dir.path().join("db")).unwrap();
    let write = fresh.begin_write().unwrap();
    let mut table = write.open_table("t").unwrap();
    for n in (0..ENTRIES).filter(|&n| survives(n)) {
        table.insert(key(n), value(n)).unwrap();
    }
    drop(table);
    write.commit().unwrap();
    fresh.checkpoint(CheckpointMode::Truncate).unwrap();
    drop(fresh);
    let fresh = files_bytes(fresh_dir.path());
    println!("files: {before} bytes before, {after} after compaction, {fresh} fresh");
    assert!(after * 10 <= fresh * 12, "{after} bytes after compaction, {fresh} fresh");
    assert!(after * 4 < before, "{after} after, {before} before");

    // The compacted files reopen to the same data.
    let db = builder().open(dir.path().join("db")).unwrap();
    db.check_integrity().unwrap();
    assert_eq!(db.begin_read().unwrap().open_table("t").unwrap().len(), u64::from(ENTRIES) / 10);
}

/// Half the keys removed, every other one: no page empties, every leaf is left half full, so
/// the file has almost no holes to rewrite into. The first rewrite lands past the end of the
/// file and frees the half-full tree below it; the compaction must not stop there (a file
/// larger than before) but rewrite again into the space it freed, and then shrink. The few
/// holes the removal left (leaves it merged) must not take part of the first copy, whose pages
/// would then be stranded among the second's as new holes. Defaults, 150-byte values: as in
/// the benchmark's `remove_half` and `compact` rows.
#[test]
fn compaction_after_half_the_keys_are_removed_packs_and_shrinks() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::create(dir.path().join("db")).unwrap();
    let write = db.begin_write().unwrap();
    let mut table = write.open_table("t").unwrap();
    for n in 0..ENTRIES {
        table.insert(key(n), long_value(n)).unwrap();
    }
    drop(table);
    write.commit().unwrap();
    let write = db.begin_write().unwrap();
    let removed = write.open_table("t").unwrap().retain(|key, _| key[7] % 2 == 0);
    assert_eq!(removed.unwrap(), u64::from(ENTRIES) / 2);
    write.commit().unwrap();
    // The removal's pages reach the data file here, so the compaction's own checkpoints are
    // all that is counted below.
    db.checkpoint(CheckpointMode::Full).unwrap();
    let before = files_bytes(dir.path());
    let checkpointed = |db: &Database| db.diagnostics().checkpoints.pages_checkpointed;
    let checkpointed_before = checkpointed(&db);

    let report = db.compact(|_| {}).unwrap();
    assert!(!report.held_back, "{report:?}");
    assert_eq!(report.entries, u64::from(ENTRIES) / 2, "{report:?}");
    assert_eq!(report.passes, 2, "the first copy lands past the end: {report:?}");
    // Both copies' pages went to their home location, none through the log and a checkpoint:
    // the second copy's too (pages free since the full checkpoint between the copies).
    let copied_pages = report.bytes_after / 4096;
    let through_log = checkpointed(&db) - checkpointed_before;
    assert!(through_log * 20 < copied_pages, "{through_log} of {copied_pages} pages logged");
    // The second copy filled the space from the start: no holes left among its pages.
    let stats = db.stats();
    assert!(stats.free_pages * 100 <= stats.page_count, "{stats:?}");
    let after = files_bytes(dir.path());
    assert_eq!(report.bytes_after, after, "the report's figure is the files' size");
    db.check_integrity().unwrap();
    let read = db.begin_read().unwrap();
    let table = read.open_table("t").unwrap();
    assert_eq!(table.len(), u64::from(ENTRIES) / 2);
    for n in (0..ENTRIES).step_by(2) {
        assert_eq!(&table.get(key(n)).unwrap().unwrap()[..], &long_value(n)[..], "{n}");
    }
    drop(table);
    drop(read);
    drop(db);

    // The survivors hold 50,000 x 174 bytes (8.7 MB) of keys and values: packed leaves take
    // about 9.5 MB, where the half-full tree took twice that.
    let live_bytes = u64::from(ENTRIES) / 2 * (24 + 150);
    println!("files: {before} bytes before, {after} after compaction, {live_bytes} live");
    assert!(after * 10 <= live_bytes * 13, "{after} bytes after compaction for {live_bytes} live");
    assert!(after * 10 <= before * 6, "{after} after, {before} before");
    let db = Database::open(dir.path().join("db")).unwrap();
    db.check_integrity().unwrap();
    assert_eq!(db.begin_read().unwrap().open_table("t").unwrap().len(), u64::from(ENTRIES) / 2);
}

/// Ten tables, one of them with every other key removed: only that one is copied (twice),
/// the files end no larger than before, and every table reads back.
#[test]
fn compaction_of_one_sparse_table_among_dense_ones_never_grows_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::create(dir.path().join("db")).unwrap();
    let write = db.begin_write().unwrap();
    for table in 0..10u32 {
        let mut table = write.open_table(&format!("t{table}")).unwrap();
        for n in 0..5_000 {
            table.insert(key(n), long_value(n)).unwrap();
        }
    }
    write.commit().unwrap();
    let write = db.begin_write().unwrap();
    write.open_table("t3").unwrap().retain(|key, _| key[7] % 2 == 0).unwrap();
    write.commit().unwrap();
    db.checkpoint(CheckpointMode::Truncate).unwrap();
    // A reader from before does not stop the copies: it holds back only the shrink, and reads
    // its snapshot through both copies.
    let reader = db.begin_read().unwrap();
    let report = db.compact(|_| {}).unwrap();
    assert_eq!((report.tables, report.entries, report.passes), (1, 2_500, 2), "{report:?}");
    assert!(report.held_back, "{report:?}");
    let old = reader.open_table("t3").unwrap();
    assert_eq!(old.len(), 2_500);
    for n in (0..5_000).step_by(2) {
        assert_eq!(&old.get(key(n)).unwrap().unwrap()[..], &long_value(n)[..], "{n}");
    }
    drop(old);
    drop(reader);
    let bytes_before = report.bytes_before;
    let report = db.compact(|_| {}).unwrap();
    assert_eq!((report.passes, report.held_back), (0, false), "{report:?}");
    assert!(report.bytes_after <= bytes_before, "{report:?}, {bytes_before} bytes at first");
    // The copy past the end was given back. What the sparse table's old leaves leave free lies
    // among the dense tables' pages (they were loaded together), for later writes to reuse.
    let stats = db.stats();
    assert!(stats.free_pages * 10 <= stats.page_count, "{stats:?}");
    assert_eq!(stats.file_bytes, Some(stats.page_count * 4096), "{stats:?}");
    db.check_integrity().unwrap();
    let read = db.begin_read().unwrap();
    for table in 0..10u32 {
        let table_name = format!("t{table}");
        let table = read.open_table(&table_name).unwrap();
        let expected = if table_name == "t3" { 2_500 } else { 5_000 };
        assert_eq!(table.len(), expected, "{table_name}");
        for n in (0..5_000).step_by(if table_name == "t3" { 2 } else { 1 }) {
            assert_eq!(&table.get(key(n)).unwrap().unwrap()[..], &long_value(n)[..], "{n}");
        }
    }
}

/// A crash at every sync point of a compaction (writes dropped, torn, or all faults with
/// reordering): reopening gives a clean integrity check and exactly the committed data, which a
/// compaction never changes.
#[test]
fn a_crash_at_every_sync_point_of_a_compaction_loses_nothing() {
    crash_at_every_sync_point_of_a_compaction(survives, 1);
}

/// The same with every other key removed: no holes, half-full leaves, so the compaction copies
/// the table twice, first past the end of the file (`CompactReport::passes`). A crash between
/// the copies leaves the first copy past the end; the next compaction packs it.
#[test]
fn a_crash_at_every_sync_point_of_a_two_copy_compaction_loses_nothing() {
    crash_at_every_sync_point_of_a_compaction(|n| n % 2 == 0, 2);
}

fn crash_at_every_sync_point_of_a_compaction(survives: fn(u32) -> bool, passes: u32) {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use redwood::io::Vfs;
    use redwood_pager::io::sim::{CrashMode, FaultConfig, SimVfs};

    let survivors: BTreeMap<Vec<u8>, Vec<u8>> =
        (0..3_000u32).filter(|&n| survives(n)).map(|n| (key(n).to_vec(), value(n))).collect();
    let sparse = |seed: u64| -> (SimVfs, Arc<dyn Vfs>) {
        let vfs = SimVfs::new(seed);
        let shared: Arc<dyn Vfs> = Arc::new(vfs.clone());
        let db =
            Database::builder().segment_pages(64).create_in(Arc::clone(&shared), "db").unwrap();
        let write = db.begin_write().unwrap();
        let mut table = write.open_table("t").unwrap();
        for n in 0..3_000u32 {
            table.insert(key(n), value(n)).unwrap();
        }
        // A large value: its chain is copied too.
        table.insert(b"big", vec![5u8; 50_000]).unwrap();
        drop(table);
        write.commit().unwrap();
        let write = db.begin_write().unwrap();
        write
            .open_table("t")
            .unwrap()
            .retain(|key, _| {
                key == b"big" || {
                    key.len() == 24 && survives(u32::from_be_bytes(key[4..8].try_into().unwrap()))
                }
            })
            .unwrap();
        write.commit().unwrap();
        db.close().unwrap();
        (vfs, shared)
    };
    let open = |shared: &Arc<dyn Vfs>| Database::builder().create_in(Arc::clone(shared), "db");
    let read_all = |db: &Database| -> BTreeMap<Vec<u8>, Vec<u8>> {
        let read = db.begin_read().unwrap();
        let table = read.open_table("t").unwrap();
        table.range(..).map(|item| item.unwrap()).map(|(k, v)| (k.to_vec(), v.to_vec())).collect()
    };
    // Bytes of the database's files on the simulated disk: the base, its segments, the log
    // (not a damaged log tail that recovery saved beside it, `db.wal.damaged-OFFSET`).
    let disk_bytes = |shared: &Arc<dyn Vfs>| -> u64 {
        let files = shared.list(Path::new(".")).unwrap();
        let database = files.iter().filter(|file| !file.to_string_lossy().contains(".damaged-"));
        database.map(|file| shared.open_read_only(file).unwrap().len().unwrap()).sum()
    };
    let mut expected = survivors.clone();
    expected.insert(b"big".to_vec(), vec![5u8; 50_000]);

    let seed = redwood_pager::io::sim::test_seed(&format!("compaction crash, {passes} copies"));
    let (full, shared) = sparse(seed);
    let before = full.counters().syncs;
    let db = open(&shared).unwrap();
    let report = db.compact(|_| {}).unwrap();
    assert!(report.tables == 1 && report.passes == passes, "{report:?}");
    assert!(report.bytes_after * 3 < report.bytes_before * 2, "{report:?}");
    assert_eq!(read_all(&db), expected);
    drop(db);
    let compacted_bytes = disk_bytes(&shared);
    let sync_points = full.counters().syncs - before;
    assert!(sync_points >= 4, "{sync_points} sync points");
    println!("seed {seed}: {sync_points} sync points");
    for freeze_at in 1..=sync_points {
        for (index, mode) in
            [CrashMode::dropping(), CrashMode::tearing(), CrashMode::all()].into_iter().enumerate()
        {
            let run_seed = seed ^ (freeze_at << 8) ^ index as u64;
            let context = format!("seed {run_seed}, sync {freeze_at} of {sync_points}, {mode:?}");
            let (vfs, shared) = sparse(seed);
            // Sync counts toward the freeze start here.
            vfs.set_faults(FaultConfig::none().with_freeze_at_sync(freeze_at));
            if let Ok(db) = open(&shared) {
                let _ = db.compact(|_| {});
            }
            vfs.crash(mode);
            vfs.set_faults(FaultConfig::none());
            let db = open(&shared).unwrap_or_else(|error| panic!("{context}: {error}"));
            db.check_integrity().unwrap_or_else(|error| panic!("{context}: {error}"));
            assert_eq!(read_all(&db), expected, "{context}");
            // And the compaction finishes after the crash, giving back what a crash between a
            // shrink's sync and its cut left on the disk: no file is longer than the database
            // counts, and no segment file lies past it.
            db.compact(|_| {}).unwrap_or_else(|error| panic!("{context}: {error}"));
            assert_eq!(read_all(&db), expected, "{context}");
            let stats = db.stats();
            let counted = stats.page_count * 4096 + stats.log_bytes;
            drop(db);
            let bytes = disk_bytes(&shared);
            assert_eq!(bytes, counted, "{context}: the disk holds more than the database counts");
            // A crash between one table's rewrite and the catalog's leaves the catalog where it
            // was; the next compaction finds the table packed and only shrinks (ADR-23).
            assert!(
                bytes * 2 <= compacted_bytes * 3,
                "{context}: {bytes} bytes, {compacted_bytes}"
            );
        }
    }
}

/// Long keys (past the inline limit, their tails in chains) are copied through the insert
/// path, since the bottom-up copy takes inline keys only: every entry and every tail survives,
/// and the integrity check, which claims the tails' chains, is clean.
#[test]
fn a_table_with_long_keys_compacts_through_the_insert_path() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::create(dir.path().join("db")).unwrap();
    let long_key = |n: u32| {
        let mut key = key(n).to_vec();
        key.resize(if n.is_multiple_of(7) { 3_000 } else { 24 }, (n % 13) as u8);
        key
    };
    let write = db.begin_write().unwrap();
    let mut table = write.open_table("t").unwrap();
    for n in 0..4_000 {
        table.insert(long_key(n), value(n)).unwrap();
    }
    drop(table);
    write.commit().unwrap();
    let write = db.begin_write().unwrap();
    let removed = write
        .open_table("t")
        .unwrap()
        .retain(|key, _| survives(u32::from_be_bytes(key[4..8].try_into().unwrap())))
        .unwrap();
    assert_eq!(removed, 3_600);
    write.commit().unwrap();
    let report = db.compact(|_| {}).unwrap();
    assert_eq!((report.tables, report.entries), (1, 400), "{report:?}");
    assert!(report.bytes_after < report.bytes_before, "{report:?}");
    db.check_integrity().unwrap();
    let read = db.begin_read().unwrap();
    let table = read.open_table("t").unwrap();
    assert_eq!(table.len(), 400);
    for n in (0..4_000).filter(|&n| survives(n)) {
        assert_eq!(&table.get(long_key(n)).unwrap().unwrap()[..], &value(n)[..], "{n}");
    }
}

/// A compaction stopped by its progress callback partway through a table leaves that table as
/// it was (its copy rolled back) and every table whole; the next compaction resumes from the
/// files as they are and finishes the job.
#[test]
fn a_stopped_compaction_loses_nothing_and_the_next_one_finishes() {
    let dir = tempfile::tempdir().unwrap();
    let db = builder().create(dir.path().join("db")).unwrap();
    let write = db.begin_write().unwrap();
    for table in ["a", "b", "c"] {
        let mut table = write.open_table(table).unwrap();
        for n in 0..ENTRIES / 4 {
            table.insert(key(n), value(n)).unwrap();
        }
    }
    write.commit().unwrap();
    let write = db.begin_write().unwrap();
    for table in ["a", "b", "c"] {
        let kept = |key: &[u8]| survives(u32::from_be_bytes(key[4..8].try_into().unwrap()));
        write.open_table(table).unwrap().retain(|key, _| kept(key)).unwrap();
    }
    write.commit().unwrap();
    let expected = u64::from(ENTRIES / 4 / 10);
    let mut seen = Vec::new();
    let report = db
        .compact_stoppable(|at| {
            seen.push(at.clone());
            // Stop in the second table, after its first batch.
            if at.tables_done == 1 { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
        })
        .unwrap();
    assert!(report.interrupted, "{report:?}");
    assert_eq!((report.tables, report.entries), (1, expected), "the first table only: {report:?}");
    let stopped_at = seen.last().unwrap();
    assert_eq!(stopped_at.table.as_deref(), Some("b"), "{seen:?}");
    db.check_integrity().unwrap();
    let check_all = |db: &Database| {
        let read = db.begin_read().unwrap();
        for table in ["a", "b", "c"] {
            let table = read.open_table(table).unwrap();
            assert_eq!(table.len(), expected);
            for n in (0..ENTRIES / 4).filter(|&n| survives(n)) {
                assert_eq!(&table.get(key(n)).unwrap().unwrap()[..], &value(n)[..], "{n}");
            }
        }
    };
    check_all(&db);
    let resumed = db.compact(|_| {}).unwrap();
    assert!(!resumed.interrupted && resumed.passes >= 1, "{resumed:?}");
    assert!(resumed.bytes_after * 3 < report.bytes_before, "{resumed:?} after {report:?}");
    db.check_integrity().unwrap();
    check_all(&db);
}
