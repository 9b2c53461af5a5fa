//! Diagnostics and alerts on a real database: the snapshot agrees with the subsystems and the
//! files on disk, and each alert that a workload can drive (log bytes, cache hit ratio, page
//! thrashing) is crossed up and down with exactly one callback per crossing, both when checked
//! by hand and by the background sampler. (RSS and heap alerts are in `tests/process_alerts.rs`,
//! a binary of their own, since they measure the whole process.)

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redwood::{AlertKind, AlertState, CheckpointMode, Database, DiagnosticsConfig};

type Seen = Arc<Mutex<Vec<(AlertKind, AlertState)>>>;

/// A config whose callback records every alert in the returned list.
fn recording(config: DiagnosticsConfig) -> (DiagnosticsConfig, Seen) {
    let seen: Seen = Arc::default();
    let sink = Arc::clone(&seen);
    (config.on_alert(move |alert| sink.lock().unwrap().push((alert.kind, alert.state))), seen)
}

fn taken(seen: &Seen) -> Vec<(AlertKind, AlertState)> {
    std::mem::take(&mut *seen.lock().unwrap())
}

/// Fills table `t` with `count` keys of 100-byte values in one commit.
fn fill(db: &Database, count: u32) {
    let write = db.begin_write().unwrap();
    let mut table = write.open_table("t").unwrap();
    for i in 0..count {
        table.insert(i.to_be_bytes(), [i as u8; 100]).unwrap();
    }
    drop(table);
    write.commit().unwrap();
}

fn read_keys(db: &Database, keys: impl IntoIterator<Item = u32>) {
    let read = db.begin_read().unwrap();
    let table = read.open_table("t").unwrap();
    for i in keys {
        assert_eq!(table.get(i.to_be_bytes()).unwrap().map(|v| v[0]), Some(i as u8));
    }
}

#[test]
fn the_snapshot_agrees_with_the_subsystems_and_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("diag.redwood");
    let db = Database::builder().segment_pages(64).create(&path).unwrap();
    fill(&db, 5000);
    db.checkpoint(CheckpointMode::Truncate).unwrap();
    read_keys(&db, 0..5000);
    let _reader = db.begin_read().unwrap();

    let diagnostics = db.diagnostics();
    let stats = db.stats();
    let log = db.log_stats();
    assert_eq!(diagnostics.pager.page_count, stats.page_count);
    assert_eq!(diagnostics.pager.free_pages, stats.free_pages);
    assert!(diagnostics.pager.segments > 1, "64-page segments: {}", diagnostics.pager.segments);
    assert_eq!(diagnostics.pager.segments, stats.segments);
    assert_eq!(diagnostics.pager.commits, 1);
    assert_eq!(diagnostics.pager.page_size_bytes, 4096);
    let mut on_disk = std::fs::metadata(&path).unwrap().len();
    for segment in 1..diagnostics.pager.segments {
        on_disk += std::fs::metadata(format!("{}.seg{segment}", path.display())).unwrap().len();
    }
    assert_eq!(diagnostics.pager.data_file_bytes, Some(on_disk));
    assert!(diagnostics.pager.io.pages_written >= diagnostics.checkpoints.pages_checkpointed);
    assert!(diagnostics.pager.io.syncs >= 2);
    assert_eq!(diagnostics.wal.written, log);
    assert_eq!(diagnostics.wal.bytes_in_use, stats.log_bytes);
    assert_eq!(diagnostics.checkpoints.checkpoints, 1);
    // One transaction of new pages: written to their home location, none through the log.
    assert!(diagnostics.pager.io.pages_written > 100);
    assert_eq!(diagnostics.checkpoints.checkpoint_lsn, stats.checkpoint_lsn.get());
    assert_eq!(diagnostics.checkpoints.lsns_behind(), 0);
    assert_eq!(diagnostics.checkpoints.readers, 1);
    let pool = diagnostics.pool;
    // 5,000 lookups of a two-level tree (full leaves from the ascending load): about one pool
    // access each, every leaf missed once.
    assert!(pool.hits + pool.misses >= 5000 && pool.misses > 100, "{pool:?}");
    // Pages cached, plus the frames' metadata and the directory (under 1 MiB here).
    let page_bytes = pool.reads.min(pool.frames) * 4096;
    assert!(pool.memory_bytes >= page_bytes + pool.frames * 64, "{pool:?}");
    assert!(pool.memory_bytes <= page_bytes + pool.frames * 64 + (1 << 20), "{pool:?}");
    assert!(diagnostics.process.rss_bytes.unwrap() > pool.memory_bytes);
    assert!(diagnostics.process.heap.is_none(), "no counting allocator in this binary");
    assert!(!diagnostics.poisoned);
    assert!(diagnostics.taken_at_unix_ms > 1_700_000_000_000);
}

#[test]
fn log_bytes_alert_rises_with_commits_and_clears_after_a_checkpoint() {
    let (config, seen) = recording(DiagnosticsConfig::default().wal_bytes_max(256 * 1024));
    let db = Database::builder().diagnostics(config).in_memory().unwrap();
    fill(&db, 100); // ~4 pages: below
    assert!(db.check_alerts().is_empty());
    fill(&db, 5000); // ~150 pages of log: above
    db.check_alerts();
    fill(&db, 5000);
    db.check_alerts();
    assert_eq!(taken(&seen), [(AlertKind::WalBytes, AlertState::Raised)]);
    db.checkpoint(CheckpointMode::Truncate).unwrap();
    db.check_alerts();
    db.check_alerts();
    assert_eq!(taken(&seen), [(AlertKind::WalBytes, AlertState::Cleared)]);
}

#[test]
fn cache_hit_ratio_alert_follows_the_workload() {
    let config = DiagnosticsConfig::default().cache_hit_ratio_min(0.9, 1000);
    let (config, seen) = recording(config);
    // 32 frames for ~170 pages of data: a sweep misses most of the time.
    let db = Database::builder().cache_bytes(32 * 4096).diagnostics(config).in_memory().unwrap();
    fill(&db, 5000);
    db.checkpoint(CheckpointMode::Truncate).unwrap();
    db.check_alerts(); // the fill's own interval, whatever it was
    taken(&seen);

    // Keys in scattered order: most lookups' leaves were evicted since their last visit.
    let scattered = |count: u32| (0..count).map(|i| i * 7919 % 5000);
    read_keys(&db, scattered(5000));
    db.check_alerts();
    assert_eq!(taken(&seen), [(AlertKind::CacheHitRatio, AlertState::Raised)]);
    read_keys(&db, scattered(2000));
    db.check_alerts();
    assert!(taken(&seen).is_empty(), "still missing: no second call");

    read_keys(&db, std::iter::repeat_n(42, 5000)); // one leaf, cached: nearly all hits
    db.check_alerts();
    assert_eq!(taken(&seen), [(AlertKind::CacheHitRatio, AlertState::Cleared)]);
    read_keys(&db, [1]); // too few lookups for a verdict
    db.check_alerts();
    assert!(taken(&seen).is_empty());
}

#[test]
fn thrash_alert_rises_while_pages_cycle_through_a_small_cache() {
    let (config, seen) = recording(DiagnosticsConfig::default().thrash_reports_max(0));
    let db = Database::builder().cache_bytes(16 * 4096).diagnostics(config).in_memory().unwrap();
    fill(&db, 3000);
    db.checkpoint(CheckpointMode::Truncate).unwrap();
    db.check_alerts();
    taken(&seen);

    // Each sweep touches ~100 leaves through 16 frames: every leaf is evicted and reloaded.
    for _ in 0..5 {
        read_keys(&db, (0..3000).step_by(25));
    }
    let alerts = db.check_alerts();
    assert_eq!(taken(&seen), [(AlertKind::Thrash, AlertState::Raised)]);
    assert!(alerts[0].value >= 1.0);
    let diagnostics = db.diagnostics();
    assert!(!diagnostics.thrashing_pages.is_empty());
    assert!(diagnostics.thrashing_pages.iter().all(|page| page.reloads >= 3));
    assert!(diagnostics.pool.thrash_reports >= diagnostics.thrashing_pages.len() as u64);

    db.check_alerts(); // a quiet interval: no reports
    assert_eq!(taken(&seen), [(AlertKind::Thrash, AlertState::Cleared)]);
}

#[test]
fn the_sampler_fires_on_its_own_and_stops_with_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sampled.redwood");
    let config = DiagnosticsConfig::default()
        .wal_bytes_max(64 * 1024)
        .sample_every(Duration::from_millis(5));
    let (config, seen) = recording(config);
    let db = Database::builder().diagnostics(config).create(&path).unwrap();
    // The thread names itself once it starts running.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !sampler_running() {
        assert!(Instant::now() < deadline, "no sampler thread within 30 s");
        std::thread::sleep(Duration::from_millis(5));
    }
    let source = db.diagnostics_source();
    fill(&db, 3000);
    fill(&db, 3000); // changes pages that exist: through the log
    let wait_for = |expected: (AlertKind, AlertState)| {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            let got = taken(&seen);
            if !got.is_empty() {
                return got;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        panic!("no {expected:?} from the sampler within 30 s");
    };
    assert_eq!(
        wait_for((AlertKind::WalBytes, AlertState::Raised)),
        [(AlertKind::WalBytes, AlertState::Raised)]
    );
    db.checkpoint(CheckpointMode::Truncate).unwrap();
    assert_eq!(
        wait_for((AlertKind::WalBytes, AlertState::Cleared)),
        [(AlertKind::WalBytes, AlertState::Cleared)]
    );

    drop(db);
    assert!(source.diagnostics().is_none(), "the source does not keep the database open");
    let reopened = Database::open(&path).unwrap(); // the lock was released at once
    assert_eq!(reopened.begin_read().unwrap().open_table("t").unwrap().len(), 3000);
    std::thread::sleep(Duration::from_millis(50));
    assert!(taken(&seen).is_empty(), "the sampler stopped with its database");
    assert!(!sampler_running(), "the sampler thread was joined");
}

/// Whether a `redwood-diagnostics` thread runs in this process (other tests in this binary
/// start none: only this one configures a sample interval).
fn sampler_running() -> bool {
    std::fs::read_dir("/proc/self/task").unwrap().any(|task| {
        let comm = std::fs::read_to_string(task.unwrap().path().join("comm")).unwrap_or_default();
        comm.trim() == "redwood-diagnos" // the kernel keeps 15 bytes of a thread's name
    })
}

#[test]
fn bad_settings_are_refused_with_a_typed_error() {
    let zero = DiagnosticsConfig::default().wal_bytes_max(1).sample_every(Duration::ZERO);
    let error = Database::builder().diagnostics(zero).in_memory().unwrap_err();
    assert!(
        matches!(error, redwood::Error::Storage(redwood::StorageError::InvalidOption(_))),
        "{error:?}"
    );
    let ratio = DiagnosticsConfig::default().cache_hit_ratio_min(1.5, 10);
    assert!(Database::builder().diagnostics(ratio).in_memory().is_err());
}
