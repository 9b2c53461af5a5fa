//! Automatic checkpoints through the facade, with the builder's defaults except a smaller
//! policy: the log stays within the policy's bound with no call to `checkpoint`; a reader that
//! holds the checkpoint back makes the log grow visibly (diagnostics, an alert) without a
//! checkpoint per commit; and background checkpoints racing commits on the simulated disk lose
//! no acknowledged commit at any crash point.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use redwood::{AlertKind, AlertState, CheckpointPolicy, Database, Durability, Error};
use redwood_pager::io::Vfs;
use redwood_pager::io::sim::{CrashMode, FaultConfig, SimVfs};

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

fn policy() -> CheckpointPolicy {
    CheckpointPolicy {
        log_bytes_target: 256 << 10,
        log_bytes_max: 1 << 20,
        truncate_log_bytes: 1 << 20,
        ..CheckpointPolicy::default()
    }
}

/// One transaction of ten random 24-byte keys with 150-byte values.
fn ten_entries(db: &Database, rng: &mut ChaCha8Rng, model: &mut Model) -> Result<(), Error> {
    let write = db.begin_write()?;
    {
        let mut table = write.open_table("t")?;
        for _ in 0..10 {
            let key: [u8; 24] = rng.random();
            let value = vec![rng.random::<u8>(); 150];
            table.insert(key, &value)?;
            model.insert(key.to_vec(), value);
        }
    }
    write.commit()
}

fn read_all(db: &Database) -> Model {
    let read = db.begin_read().unwrap();
    if read.list_tables().unwrap().is_empty() {
        return Model::new();
    }
    let table = read.open_table("t").unwrap();
    table.range(..).map(|item| crate::owned(item.unwrap())).collect()
}

fn seed(test: &str) -> u64 {
    redwood_pager::io::sim::test_seed(test)
}

/// Issue 17's acceptance test, scaled down: durable commits of ten entries each never let the
/// log file grow past the policy's bound by more than one transaction, and the application
/// never calls `checkpoint`.
#[test]
fn durable_commits_keep_the_log_file_within_the_bound_without_a_checkpoint_call() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bounded.redwood");
    let policy = CheckpointPolicy {
        log_bytes_target: 1 << 20,
        log_bytes_max: 4 << 20,
        truncate_log_bytes: 4 << 20,
        ..CheckpointPolicy::default()
    };
    let db = Database::builder().checkpoint_policy(policy).create(&path).unwrap();
    // Small durable commits extend the file ahead of their frames by up to two chunks of
    // zeros (so `fdatasync` has no size change to journal): not log in use, but on disk.
    let preallocated = 2 * redwood_wal::limits::PREALLOC_BYTES;
    let wal = dir.path().join("bounded.redwood.wal");
    let mut rng = ChaCha8Rng::seed_from_u64(seed("log bound"));
    let mut model = Model::new();
    let mut largest_commit_bytes = 0;
    let mut largest_file_bytes = 0;
    for _ in 0..3000 {
        let before = db.log_stats().bytes;
        ten_entries(&db, &mut rng, &mut model).unwrap();
        largest_commit_bytes = largest_commit_bytes.max(db.log_stats().bytes - before);
        let in_use = db.stats().log_bytes;
        assert!(
            in_use <= policy.log_bytes_max + largest_commit_bytes,
            "the log holds {in_use} bytes; bound {} plus one commit of at most \
             {largest_commit_bytes}",
            policy.log_bytes_max
        );
        let file_bytes = std::fs::metadata(&wal).unwrap().len();
        largest_file_bytes = largest_file_bytes.max(file_bytes);
        assert!(
            file_bytes <= policy.log_bytes_max + largest_commit_bytes + preallocated,
            "the log file is {file_bytes} bytes; bound {} plus one commit of at most \
             {largest_commit_bytes} plus {preallocated} preallocated",
            policy.log_bytes_max
        );
    }
    let stats = db.stats();
    assert!(stats.checkpoints >= 10, "automatic checkpoints ran: {stats:?}");
    assert!(db.log_stats().bytes > 4 * policy.log_bytes_max, "the workload outgrew the bound");
    assert!(largest_file_bytes > policy.log_bytes_target, "the bound was approached");
    assert_eq!(read_all(&db), model);
    db.check_integrity().unwrap();
    drop(db);
    assert_eq!(read_all(&Database::open(&path).unwrap()), model, "after a reopen");
}

#[test]
fn a_reader_that_holds_the_checkpoint_back_shows_in_diagnostics_and_an_alert() {
    let (sender, alerts) = std::sync::mpsc::channel();
    let sender = std::sync::Mutex::new(sender);
    let config = redwood::DiagnosticsConfig::default()
        .on_alert(move |alert| sender.lock().unwrap().send((alert.kind, alert.state)).unwrap());
    let held_back_retry = Duration::from_secs(3600);
    let db = Database::builder()
        .checkpoint_policy(CheckpointPolicy { held_back_retry, ..policy() })
        .diagnostics(config)
        .durability(Durability::None)
        .in_memory()
        .unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(seed("held back"));
    let mut model = Model::new();
    ten_entries(&db, &mut rng, &mut model).unwrap();
    let reader = db.begin_read().unwrap();
    let held = model.clone();
    let checkpoints = db.stats().checkpoints;
    while db.stats().log_bytes < 3 * policy().log_bytes_max {
        ten_entries(&db, &mut rng, &mut model).unwrap();
    }
    let diagnostics = db.diagnostics();
    assert!(diagnostics.checkpoints.held_back, "{:?}", diagnostics.checkpoints);
    assert_eq!(diagnostics.checkpoints.log_bytes_max, policy().log_bytes_max);
    // The background worker ran at most one partial checkpoint (up to the reader) in the
    // retry interval of an hour: later commits did not each run one.
    assert!(db.stats().checkpoints <= checkpoints + 1, "{:?}", db.stats());
    let raised = db.check_alerts();
    assert!(
        raised.iter().any(|alert| alert.kind == AlertKind::WalBytes),
        "the default alert on the log's bound: {raised:?}"
    );
    assert_eq!(alerts.try_recv(), Ok((AlertKind::WalBytes, AlertState::Raised)));
    let table = reader.open_table("t").unwrap();
    let snapshot: Model = table.range(..).map(|item| crate::owned(item.unwrap())).collect();
    assert_eq!(snapshot, held, "the reader keeps its snapshot");
    drop(table);
    drop(reader);
    // The next transaction finds the log past the bound and nothing holding it: it checkpoints
    // before it begins.
    ten_entries(&db, &mut rng, &mut model).unwrap();
    let stats = db.stats();
    assert!(stats.log_bytes < policy().log_bytes_max, "caught up: {stats:?}");
    assert!(!db.diagnostics().checkpoints.held_back);
    assert_eq!(read_all(&db), model);
}

fn open_sim(vfs: &SimVfs) -> Result<Database, Error> {
    let shared: Arc<dyn Vfs> = Arc::new(vfs.clone());
    let policy = CheckpointPolicy {
        log_bytes_target: 24 << 10,
        log_bytes_max: 96 << 10,
        truncate_log_bytes: 64 << 10,
        ..CheckpointPolicy::default()
    };
    Database::builder()
        .cache_bytes(32 * 4096)
        .dirty_pages_max(16)
        .checkpoint_policy(policy)
        .create_in(shared, "db")
}

/// Commits until the disk freezes or `commits` are done; returns every state a commit may have
/// left (the first is the empty database), how many of them are acknowledged durable, and
/// how many checkpoints ran.
fn racing_workload(vfs: &SimVfs, rng: &mut ChaCha8Rng, commits: u32) -> (Vec<Model>, usize, u64) {
    let mut states = vec![Model::new()];
    let Ok(db) = open_sim(vfs) else { return (states, 1, 0) };
    let mut model = Model::new();
    let mut acked = 1;
    for _ in 0..commits {
        let mut draft = model.clone();
        let result = ten_entries(&db, rng, &mut draft);
        states.push(draft.clone());
        if result.is_err() {
            break;
        }
        model = draft;
        acked = states.len();
        // Gives the checkpoint worker a moment to take the writer lock between commits.
        std::thread::yield_now();
    }
    (states, acked, db.stats().checkpoints)
}

#[test]
fn background_checkpoints_racing_commits_lose_no_acknowledged_commit_at_any_crash_point() {
    let base_seed = seed("background checkpoints racing commits");
    let full = SimVfs::new(base_seed);
    let (states, _, checkpoints) =
        racing_workload(&full, &mut ChaCha8Rng::seed_from_u64(base_seed), 60);
    assert_eq!(states.len(), 61);
    assert!(checkpoints >= 3, "the worker checkpointed while commits went on: {checkpoints}");
    let sync_points = full.counters().syncs;
    assert!(sync_points > 60, "{sync_points} sync points");
    let mut verified = 0;
    for freeze_at in (1..=sync_points).step_by(3) {
        let mode = if freeze_at % 2 == 0 { CrashMode::dropping() } else { CrashMode::all() };
        let run_seed = base_seed ^ (freeze_at << 8);
        let vfs = SimVfs::new(run_seed);
        vfs.set_faults(FaultConfig::none().with_freeze_at_sync(freeze_at));
        let (states, acked, _) =
            racing_workload(&vfs, &mut ChaCha8Rng::seed_from_u64(base_seed), 60);
        vfs.crash(mode);
        vfs.set_faults(FaultConfig::none());
        let context = format!("seed {run_seed}, sync {freeze_at}, {mode:?}");
        let db = match open_sim(&vfs) {
            Ok(db) => db,
            Err(Error::Storage(error)) if acked == 1 && error.is_corruption() => continue,
            Err(Error::Storage(redwood_pager::Error::NotADatabase { .. })) if acked == 1 => {
                continue;
            }
            Err(error) => panic!("{context}: reopen: {error}"),
        };
        let found = read_all(&db);
        assert!(
            states[acked - 1..].contains(&found),
            "{context}: the state after reopening is not one at or after the last acknowledged \
             commit ({} of {})",
            acked - 1,
            states.len() - 1
        );
        db.check_integrity().unwrap_or_else(|error| panic!("{context}: {error}"));
        verified += 1;
    }
    println!("{verified} crash points reopened and verified");
    assert!(verified * 2 > sync_points / 3, "most crash points reopen to a checked state");
}
