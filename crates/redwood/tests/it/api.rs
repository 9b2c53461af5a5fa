//! The public API end to end on real files: tables are created, listed, filled, scanned both
//! ways, deleted; commits survive reopening, aborts leave nothing; 200,000 keys through a small
//! cache (so pages are evicted and the transaction spills) pass the full integrity check.

use redwood::{Database, Durability, Error};

#[test]
fn tables_round_trip_through_commit_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("api.redwood");
    {
        let db = Database::create(&path).unwrap();
        let write = db.begin_write().unwrap();
        {
            let mut users = write.open_table("users").unwrap();
            users.insert(b"ada", b"lovelace").unwrap();
            users.insert(b"alan", b"turing").unwrap();
            assert!(users.insert(b"ada", b"byron").unwrap(), "replaced");
            assert_eq!(users.len(), 2);
        }
        write.open_table("empty").unwrap();
        write.commit().unwrap();
        let aborted = db.begin_write().unwrap();
        aborted.open_table("users").unwrap().insert(b"grace", b"hopper").unwrap();
        aborted.open_table("scratch").unwrap();
        aborted.abort();
        db.check_integrity().unwrap();
    }
    let db = Database::open(&path).unwrap();
    let read = db.begin_read().unwrap();
    assert_eq!(read.list_tables().unwrap(), vec!["empty".to_owned(), "users".to_owned()]);
    let users = read.open_table("users").unwrap();
    assert_eq!(users.get(b"ada").unwrap().map(|value| value.to_vec()), Some(b"byron".to_vec()));
    assert_eq!(users.get(b"grace").unwrap(), None, "the aborted insert is gone");
    assert_eq!(users.len(), 2);
    let keys: Vec<Vec<u8>> = users.range(..).rev().map(|item| item.unwrap().0.to_vec()).collect();
    assert_eq!(keys, vec![b"alan".to_vec(), b"ada".to_vec()]);
    assert!(matches!(read.open_table("scratch"), Err(Error::TableNotFound(_))));
}

#[test]
fn deleting_a_table_frees_its_pages() {
    let db = Database::in_memory().unwrap();
    let write = db.begin_write().unwrap();
    {
        let mut big = write.open_table("big").unwrap();
        for number in 0..5000u32 {
            big.insert(number.to_be_bytes(), [1; 100]).unwrap();
        }
    }
    write.commit().unwrap();
    let write = db.begin_write().unwrap();
    assert!(write.delete_table("big").unwrap());
    assert!(!write.delete_table("big").unwrap());
    assert!(write.list_tables().unwrap().is_empty());
    write.commit().unwrap();
    db.check_integrity().unwrap();
    let read = db.begin_read().unwrap();
    assert!(read.list_tables().unwrap().is_empty());
}

#[test]
fn two_hundred_thousand_keys_through_a_small_cache_pass_the_integrity_check() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("load.redwood");
    let db = Database::builder().cache_bytes(64 * 4096).dirty_pages_max(64).create(&path).unwrap();
    let mut write = db.begin_write().unwrap();
    write.set_durability(Durability::Immediate);
    {
        let mut table = write.open_table("load").unwrap();
        for number in 0..200_000u64 {
            let key = number.wrapping_mul(0x9e37_79b9_7f4a_7c15).to_be_bytes();
            table.insert(key, number.to_le_bytes()).unwrap();
        }
        assert_eq!(table.len(), 200_000);
    }
    write.commit().unwrap();
    db.check_integrity().unwrap();
    let read = db.begin_read().unwrap();
    let table = read.open_table("load").unwrap();
    let probe = 123_456u64;
    assert_eq!(
        table.get(probe.wrapping_mul(0x9e37_79b9_7f4a_7c15).to_be_bytes()).unwrap().as_deref(),
        Some(probe.to_le_bytes().as_slice())
    );
    assert_eq!(table.range(..).count(), 200_000);
}

#[test]
fn bad_names_and_oversized_keys_are_typed_errors() {
    let db = Database::in_memory().unwrap();
    let write = db.begin_write().unwrap();
    assert!(matches!(write.open_table(""), Err(Error::InvalidTableName(_))));
    let mut table = write.open_table("t").unwrap();
    assert!(matches!(
        table.insert(vec![0; 64 * 1024 + 1], b"v"),
        Err(Error::Tree(redwood_btree::Error::KeyTooLarge { .. }))
    ));
}

/// Values from 0 bytes to 8 MiB: inline up to an eighth of a page, overflow chains beyond,
/// written in the transaction, freed when replaced or removed (the integrity check proves no
/// chain page leaks), read back after reopening and through scans.
#[test]
fn values_from_empty_to_eight_mebibytes_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("values.redwood");
    let sizes = [0usize, 1, 511, 512, 513, 4000, 12_300, 1 << 20, 8 << 20];
    let value = |size: usize| {
        (0..size).map(|index| (index % 251) as u8 ^ (size as u8)).collect::<Vec<u8>>()
    };
    {
        let db = Database::create(&path).unwrap();
        let write = db.begin_write().unwrap();
        {
            let mut table = write.open_table("values").unwrap();
            for size in sizes {
                table.insert(format!("{size:09}").as_bytes(), value(size)).unwrap();
            }
        }
        write.commit().unwrap();
        db.check_integrity().unwrap();
    }
    let db = Database::open(&path).unwrap();
    {
        let read = db.begin_read().unwrap();
        let table = read.open_table("values").unwrap();
        for size in sizes {
            assert_eq!(
                table.get(format!("{size:09}").as_bytes()).unwrap().map(|value| value.to_vec()),
                Some(value(size)),
                "{size} bytes"
            );
        }
        let scanned: Vec<usize> = table.range(..).map(|item| item.unwrap().1.len()).collect();
        assert_eq!(scanned, sizes.to_vec());
    }
    let write = db.begin_write().unwrap();
    {
        let mut table = write.open_table("values").unwrap();
        table.insert(format!("{:09}", 1 << 20).as_bytes(), b"now small").unwrap();
        table.insert(format!("{:09}", 1).as_bytes(), value(3 << 20)).unwrap();
        assert!(table.remove(format!("{:09}", 8 << 20).as_bytes()).unwrap());
        assert_eq!(
            table.get(format!("{:09}", 1).as_bytes()).unwrap().map(|value| value.to_vec()),
            Some(value(3 << 20))
        );
    }
    write.commit().unwrap();
    db.check_integrity().unwrap();
    let write = db.begin_write().unwrap();
    assert!(write.delete_table("values").unwrap());
    write.commit().unwrap();
    db.check_integrity().unwrap();
}

#[test]
fn tables_can_be_renamed() {
    let db = Database::in_memory().unwrap();
    let write = db.begin_write().unwrap();
    write.open_table("old").unwrap().insert(b"k", b"v").unwrap();
    write.open_table("other").unwrap();
    write.commit().unwrap();
    let write = db.begin_write().unwrap();
    assert!(matches!(write.rename_table("old", "other"), Err(Error::TableExists(_))));
    assert!(write.rename_table("old", "new").unwrap());
    assert!(!write.rename_table("old", "newer").unwrap(), "already renamed");
    assert_eq!(
        write.open_table("new").unwrap().get(b"k").unwrap().map(|value| value.to_vec()),
        Some(b"v".to_vec())
    );
    write.commit().unwrap();
    let read = db.begin_read().unwrap();
    assert_eq!(read.list_tables().unwrap(), vec!["new".to_owned(), "other".to_owned()]);
    assert_eq!(read.open_table("new").unwrap().len(), 1);
    db.check_integrity().unwrap();
}

/// P2: a large value is one overflow chain written in one transaction, so storing it costs one
/// log fsync, where writing it page by page (a commit per page, as the prototype's allocator did)
/// costs one per page: far under half.
#[test]
fn a_large_value_costs_one_fsync_not_one_per_page() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::create(dir.path().join("p2.redwood")).unwrap();
    let value = vec![9u8; 1 << 20];
    let before = db.log_stats().syncs;
    let write = db.begin_write().unwrap();
    write.open_table("blobs").unwrap().insert(b"whole", &value).unwrap();
    write.commit().unwrap();
    let batched = db.log_stats().syncs - before;
    let before = db.log_stats().syncs;
    for (index, chunk) in value.chunks(4096 - 44).enumerate() {
        let write = db.begin_write().unwrap();
        write
            .open_table("pages")
            .unwrap()
            .insert((index as u32).to_be_bytes(), &chunk[..400])
            .unwrap();
        write.commit().unwrap();
    }
    let page_at_a_time = db.log_stats().syncs - before;
    println!("fsyncs: {batched} for the whole value, {page_at_a_time} page by page");
    assert_eq!(batched, 1);
    assert!(page_at_a_time >= 250, "{page_at_a_time}");
    assert!(
        batched * 2 <= page_at_a_time,
        "at most half the fsyncs: {batched} vs {page_at_a_time}"
    );
}

/// R1: a per-table trigger checkpoints once its table has changed enough pages; writes to other
/// tables, however many, do not count toward it.
#[test]
fn a_per_table_trigger_checkpoints_after_its_table_changes_enough() {
    // On the committing thread, so the checkpoint count is exact after each commit.
    let db = Database::builder()
        .auto_checkpoint(redwood::AutoCheckpoint::OnCommit)
        .checkpoint_table_after("hot", 40)
        .in_memory()
        .unwrap();
    let write_rows = |table: &str, from: u32, count: u32| {
        let write = db.begin_write().unwrap();
        {
            let mut handle = write.open_table(table).unwrap();
            for number in from..from + count {
                handle.insert(number.to_be_bytes(), [3u8; 400]).unwrap();
            }
        }
        write.commit().unwrap();
    };
    write_rows("cold", 0, 3000);
    assert_eq!(db.stats().checkpoints, 0, "the cold table has no trigger");
    let mut batches = 0;
    while db.stats().checkpoints == 0 {
        write_rows("hot", batches * 20, 20);
        batches += 1;
        assert!(batches < 50, "the trigger never fired");
    }
    assert!(batches > 1, "it fired only after enough hot pages changed");
    assert_eq!(db.stats().log_versions, 0, "the checkpoint took everything into the data file");
    db.check_integrity().unwrap();
}

/// Waits (bounded) for the prefetch worker to reach `at_least` pages; returns the count. This
/// waits for background work to finish; it times nothing.
fn prefetched_eventually(db: &Database, at_least: u64) -> u64 {
    for _ in 0..10_000 {
        if db.stats().prefetched >= at_least {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    db.stats().prefetched
}

/// With prefetch on and a cold cache, a full scan prefetches through the buffer pool (it hints
/// each next leaf, R5), while a long overflow value is streamed around the pool in runs (R6):
/// its 2,000 pages neither load the cache nor queue hints. What they read is unchanged. With
/// the default (off), nothing is prefetched.
#[test]
fn reads_prefetch_sibling_leaves_and_stream_chain_pages_around_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("prefetch.redwood");
    let large: Vec<u8> = (0..8 << 20).map(|index: usize| (index % 253) as u8).collect();
    {
        let db = Database::create(&path).unwrap();
        let write = db.begin_write().unwrap();
        {
            let mut table = write.open_table("t").unwrap();
            table.insert(b"large", &large).unwrap();
            for number in 0..20_000u32 {
                table.insert(format!("key{number:08}").as_bytes(), [9u8; 100]).unwrap();
            }
        }
        write.commit().unwrap();
    }
    {
        let db = Database::open(&path).unwrap();
        let read = db.begin_read().unwrap();
        let table = read.open_table("t").unwrap();
        assert_eq!(table.get(b"large").unwrap().as_deref(), Some(large.as_slice()));
        assert_eq!(table.range(..).count(), 20_001);
        assert_eq!(db.stats().prefetched, 0, "prefetch is off by default");
    }
    let db = Database::builder().prefetch(true).open(&path).unwrap();
    let read = db.begin_read().unwrap();
    let table = read.open_table("t").unwrap();
    assert_eq!(db.stats().prefetched, 0);
    let loaded_before = db.diagnostics().pool.reads;
    assert_eq!(table.get(b"large").unwrap().map(|value| value.to_vec()), Some(large));
    // 8 MiB is over 2,000 chain pages; the descent to its leaf loads a handful.
    let loaded = db.diagnostics().pool.reads - loaded_before;
    assert!(loaded < 16, "the chain went around the cache: {loaded} pages loaded");
    assert_eq!(db.stats().prefetched, 0, "and hinted nothing");
    let scanned = table.range(..).filter(|item| item.as_ref().unwrap().0 != b"large").count();
    assert_eq!(scanned, 20_000);
    // 20,000 cells of about 110 bytes fill over 500 leaves.
    let after_scan = prefetched_eventually(&db, 500);
    assert!(after_scan >= 500, "the scan hinted its leaves: {after_scan}");
}

/// One open `Database` per file: a second open, in this process or another, is a typed
/// `Locked` error naming the file, and closing the first lets the next one in.
#[test]
fn a_database_open_elsewhere_is_locked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("locked.redwood");
    let first = Database::create(&path).unwrap();
    match Database::open(&path) {
        Err(Error::Storage(redwood_pager::Error::Locked { path: locked })) => {
            assert_eq!(locked, path);
        }
        other => panic!("expected Locked, got {other:?}"),
    }
    drop(first);
    Database::open(&path).unwrap();
}

/// Restore points reach the log with their commit: an aborted one is never listed, a committed
/// one is found again by recovery after reopening (same name, time and commit), and a
/// checkpoint that restarts the log drops them.
#[test]
fn restore_points_are_recovered_from_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("points.redwood");
    let committed = {
        let db = Database::create(&path).unwrap();
        let mut aborted = db.begin_write().unwrap();
        aborted.restore_point("never").unwrap();
        aborted.abort();
        let mut write = db.begin_write().unwrap();
        write.open_table("t").unwrap().insert(b"k", b"v").unwrap();
        write.restore_point("first").unwrap();
        write.commit().unwrap();
        let mut write = db.begin_write().unwrap();
        write.restore_point("second").unwrap();
        write.commit().unwrap();
        let points = db.restore_points();
        let names: Vec<&str> = points.iter().map(|point| point.name.as_str()).collect();
        assert_eq!(names, ["first", "second"]);
        assert!(points[0].commit_lsn < points[1].commit_lsn);
        points
    };
    let db = Database::open(&path).unwrap();
    assert_eq!(db.restore_points(), committed, "recovery finds the same points");
    let mut write = db.begin_write().unwrap();
    assert!(matches!(write.restore_point(&"x".repeat(2000)), Err(Error::Storage(_))));
    write.abort();
    let outcome = db.checkpoint(redwood::CheckpointMode::Truncate).unwrap();
    assert!(outcome.log_restarted);
    assert!(db.restore_points().is_empty(), "the log no longer holds them");
}

/// Dropping a database releases it at once, even with prefetches in flight: the worker is
/// stopped and joined first, so an immediate reopen never meets the old lock.
#[test]
fn a_dropped_database_reopens_at_once_even_while_prefetching() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("reopen.redwood");
    {
        let db = Database::create(&path).unwrap();
        let write = db.begin_write().unwrap();
        write.open_table("t").unwrap().insert(b"large", vec![3u8; 4 << 20]).unwrap();
        write.commit().unwrap();
    }
    for round in 0..20 {
        let db = Database::open(&path).unwrap_or_else(|error| panic!("round {round}: {error}"));
        let read = db.begin_read().unwrap();
        // Reading the chain queues hundreds of prefetches; drop while they run.
        assert_eq!(read.open_table("t").unwrap().get(b"large").unwrap().unwrap().len(), 4 << 20);
    }
}

/// Rolling back to a savepoint that a rollback to an earlier one discarded is a caller bug:
/// `ErrorKind::Misuse`, and the transaction is left as it was.
#[test]
fn a_discarded_savepoint_is_misuse() -> redwood::Result<()> {
    let db = redwood::Database::in_memory()?;
    let mut write = db.begin_write()?;
    let first = write.savepoint();
    write.open_table("t")?.insert(b"a", b"1")?;
    let second = write.savepoint();
    write.rollback_to(&first)?;
    write.open_table("t")?.insert(b"b", b"2")?;
    let error = write.rollback_to(&second).expect_err("discarded by the rollback to `first`");
    assert_eq!(error.kind(), redwood::ErrorKind::Misuse, "{error}");
    assert!(error.to_string().contains("savepoint already discarded"), "{error}");
    assert_eq!(write.open_table("t")?.get(b"b")?.map(|v| v.to_vec()), Some(b"2".to_vec()));
    write.commit()?;
    Ok(())
}

/// P2 (issue 18): a durable commit of one 2 MB value is a few large writes (its chain goes to
/// its home pages in one batch) and two `fdatasync`s, the data file's and then the log's (its
/// commit record names pages that must be durable first), as LMDB's commit syncs its data and
/// then its meta page (ADR-24); the log carries only the commit, not the value. A power loss
/// right after it loses nothing. Counted on the simulated disk, which counts every call.
#[test]
fn a_2_mb_durable_commit_is_a_few_large_writes_and_two_fdatasyncs() {
    use redwood::io::Vfs;
    use redwood_pager::io::sim::{CrashMode, FaultConfig, SimVfs};
    use std::sync::Arc;

    let vfs = SimVfs::new(redwood_pager::io::sim::test_seed("a 2 MB durable commit"));
    let shared: Arc<dyn Vfs> = Arc::new(vfs.clone());
    let db = Database::builder().create_in(Arc::clone(&shared), "db").unwrap();
    let write = db.begin_write().unwrap();
    write.open_table("blobs").unwrap().insert(b"small", b"first").unwrap();
    write.commit().unwrap();
    let value: Vec<u8> = (0..2_000_000u32).map(|n| (n % 251) as u8).collect();
    let (disk_before, log_before) = (vfs.counters(), db.log_stats());
    let write = db.begin_write().unwrap();
    write.open_table("blobs").unwrap().insert(b"whole", &value).unwrap();
    write.commit().unwrap();
    let (disk_after, log_after) = (vfs.counters(), db.log_stats());
    let writes = disk_after.writes - disk_before.writes;
    let syncs = disk_after.syncs - disk_before.syncs;
    let log_bytes = log_after.bytes - log_before.bytes;
    println!("2 MB commit: {writes} write calls, {syncs} syncs, {log_bytes} log bytes");
    assert!((1..=8).contains(&writes), "{writes} write calls");
    assert_eq!(syncs, 2, "the data file's, then the log's");
    assert_eq!(log_after.syncs - log_before.syncs, 1);
    assert!(log_bytes < 64 << 10, "the value went home, not into the log: {log_bytes} bytes");
    // Power fails at the next sync (closing's): nothing after the commit reaches the disk.
    vfs.set_faults(FaultConfig::none().with_freeze_at_sync(1));
    drop(db);
    vfs.crash(CrashMode::all());
    vfs.set_faults(FaultConfig::none());
    let db = Database::builder().create_in(Arc::clone(&shared), "db").unwrap();
    let read = db.begin_read().unwrap();
    let table = read.open_table("blobs").unwrap();
    assert_eq!(table.get(b"whole").unwrap().as_deref(), Some(&value[..]));
    db.check_integrity().unwrap();
}
