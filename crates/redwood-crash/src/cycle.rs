//! One cycle of the harness for each kind of fault. A cycle starts from the database and the
//! model state it holds (durable), runs a seeded workload under the fault, brings the database
//! back (a crash and a reopen, or a repair), and verifies it: the recovered state is one the
//! workload committed at or after the last acknowledged durable commit, and the full
//! integrity check is clean. It hands the reopened database and its state to the next cycle.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use redwood::{ArchiveTarget, Database};
use redwood_pager::io::Vfs;
use redwood_pager::io::sim::{
    CrashMode, Fault as SimFault, FaultConfig, OpKind, Repeat, SimVfs, Trigger,
};

use crate::Fault;
use crate::model::{History, ReadFailure, Tables, read_all};
use crate::workload::{Stop, Workload};

/// The database file's name on the simulated disk.
const DATABASE: &str = "harness.redwood";
/// The log archive's directory on the simulated disk (with `--archive`).
const ARCHIVE: &str = "harness.redwood.archive";

/// The simulated disk a run uses, and whether its database archives its log.
pub struct Disk {
    /// The disk.
    pub sim: SimVfs,
    /// Whether the database archives its log (`--archive`): every generation is shipped before
    /// the log restarts, and [`verify_archive`] restores from the archive.
    pub archive: bool,
}

impl std::ops::Deref for Disk {
    type Target = SimVfs;

    fn deref(&self) -> &SimVfs {
        &self.sim
    }
}

/// With an archive: ships the log, restores a new database from the archive alone (replaying
/// every commit since the database was created) and checks it holds exactly `state`; the
/// restored files are removed after. A difference is a violation.
pub fn verify_archive(
    disk: &Disk,
    db: &Database,
    state: &Tables,
    cycle: u64,
    trace: &mut Vec<String>,
) -> Result<(), String> {
    db.archive_log().map_err(|error| format!("shipping the log failed: {error}"))?;
    let shared: Arc<dyn Vfs> = Arc::new(disk.sim.clone());
    let restored = format!("restored-{cycle}.redwood");
    let none = Vec::<&[u8]>::new();
    let target = ArchiveTarget::directory(ARCHIVE);
    let report = redwood::restore_in(
        Arc::clone(&shared),
        none,
        Some(&target),
        &redwood::RestoreTarget::Latest,
        &restored,
        |_, _| {},
    )
    .map_err(|error| format!("restoring from the archive failed: {error}"))?;
    let copy = Database::builder()
        .create_in(Arc::clone(&shared), &restored)
        .map_err(|error| format!("opening the restored database failed: {error}"))?;
    let found =
        read_all(&copy).map_err(|error| format!("reading the restored database: {error}"))?;
    drop(copy);
    redwood_pager::PageFile::destroy(shared.as_ref(), Path::new(&restored))
        .map_err(|error| format!("removing the restored database failed: {error}"))?;
    if found != *state {
        return Err("the database restored from the archive differs from the database".into());
    }
    trace.push(format!("archive: restored {} commits, same state", report.replayed_commits));
    Ok(())
}

/// What a cycle hands on: the reopened database, its state, and what it verified.
pub struct Survived {
    /// The database, reopened.
    pub db: Database,
    /// The state it holds.
    pub state: Tables,
    /// Acknowledged durable commits of this cycle found present.
    pub acked_verified: u64,
    /// Whether the cycle crashed the simulated machine.
    pub crashed: bool,
}

/// Opens (or creates) the harness's database on `vfs`: a small cache and spill budget and small
/// segments, so cycles spill and grow segments; automatic checkpoints with a small log bound
/// and per-table triggers; no prefetch or checkpoint thread (automatic checkpoints run on the
/// committing thread, with no interval trigger), so every disk access is on this thread, in a
/// deterministic order.
pub fn open(vfs: &Disk) -> redwood::Result<Database> {
    let shared: Arc<dyn Vfs> = Arc::new(vfs.sim.clone());
    let policy = redwood::CheckpointPolicy {
        log_bytes_target: 96 << 10,
        log_bytes_max: 192 << 10,
        log_versions_max: 64,
        interval: None,
        held_back_retry: std::time::Duration::ZERO,
        truncate_log_bytes: 160 << 10,
    };
    let builder = Database::builder();
    let builder =
        if vfs.archive { builder.archive(ArchiveTarget::directory(ARCHIVE)) } else { builder };
    builder
        .prefetch(false)
        .auto_checkpoint(redwood::AutoCheckpoint::OnCommit)
        .checkpoint_policy(policy)
        .cache_bytes(48 * 4096)
        .dirty_pages_max(24)
        .segment_pages(32)
        .checkpoint_table_after("t0", 60)
        .checkpoint_table_after("t3", 90)
        .create_in(shared, DATABASE)
}

/// Runs one cycle of `fault`.
pub fn run(
    fault: Fault,
    vfs: &Disk,
    db: Database,
    state: Tables,
    rng: &mut ChaCha8Rng,
    steps: u32,
    trace: &mut Vec<String>,
) -> Result<Survived, String> {
    match fault {
        Fault::Drop => crash_cycle(vfs, db, state, rng, steps, CrashMode::dropping(), trace),
        Fault::Tear => crash_cycle(vfs, db, state, rng, steps, CrashMode::tearing(), trace),
        Fault::Reorder => crash_cycle(vfs, db, state, rng, steps, CrashMode::all(), trace),
        Fault::Eio => eio_cycle(vfs, db, state, rng, steps, trace),
        Fault::BitRot => bitrot_cycle(vfs, db, state, rng, trace),
        Fault::Kill => Err("kill faults belong to the real-process mode".to_owned()),
    }
}

/// Power loss at a seeded sync point (in a commit, a checkpoint, a spill or a segment's
/// growth, wherever the workload is), or after the workload if it finishes first.
fn crash_cycle(
    vfs: &Disk,
    db: Database,
    state: Tables,
    rng: &mut ChaCha8Rng,
    steps: u32,
    mode: CrashMode,
    trace: &mut Vec<String>,
) -> Result<Survived, String> {
    let freeze_at = rng.random_range(1..=u64::from(steps) * 2 + 4);
    trace.push(format!("power loss at sync {freeze_at}, {mode:?}"));
    vfs.set_faults(FaultConfig::none().with_freeze_at_sync(freeze_at));
    let fired = || vfs.is_frozen();
    let history = run_workload(&db, state, rng, steps, &fired, trace)?;
    crash_and_verify(vfs, db, mode, &history, trace)
}

/// Ends the process (drops `db`), crashes the disk with `mode` with faults cleared, and
/// reopens and verifies against `history`.
fn crash_and_verify(
    vfs: &Disk,
    db: Database,
    mode: CrashMode,
    history: &History,
    trace: &mut Vec<String>,
) -> Result<Survived, String> {
    drop(db);
    vfs.set_faults(FaultConfig::none());
    let report = vfs.crash(mode);
    trace.push(format!("crash: {report:?}"));
    let (db, state) = reopen_and_verify(vfs, history, trace)?;
    Ok(Survived { db, state, acked_verified: history.acked, crashed: true })
}

/// An injected EIO on a seeded write or sync: the failing call reports it, the database then
/// refuses further commits (poisoned), and after a restart it recovers.
fn eio_cycle(
    vfs: &Disk,
    db: Database,
    state: Tables,
    rng: &mut ChaCha8Rng,
    steps: u32,
    trace: &mut Vec<String>,
) -> Result<Survived, String> {
    let op = if rng.random_bool(0.5) { OpKind::Sync } else { OpKind::Write };
    let nth = rng.random_range(1..=u64::from(steps) * 3 + 4);
    trace.push(format!("EIO on {op:?} number {nth}"));
    // The Nth write or sync, noting whether it was one of the log archive's (with `--archive`):
    // a failed shipment leaves the log unrestarted and the database healthy, by design.
    let (seen, hit_archive) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicBool::new(false)));
    let trigger = {
        let (seen, hit_archive) = (Arc::clone(&seen), Arc::clone(&hit_archive));
        Trigger::When(Arc::new(move |info| {
            let fire = seen.fetch_add(1, Ordering::Relaxed) + 1 == nth;
            if fire {
                hit_archive.store(info.path.starts_with(ARCHIVE), Ordering::Relaxed);
            }
            fire
        }))
    };
    let eio = SimFault::eio(op, trigger, Repeat::Once);
    vfs.set_faults(FaultConfig::none().with(eio));
    let injected_before = vfs.counters().injected_eio;
    let fired = || vfs.counters().injected_eio > injected_before;
    let history = run_workload(&db, state, rng, steps, &fired, trace)?;
    let in_archive = hit_archive.load(Ordering::Relaxed);
    if vfs.counters().injected_eio > injected_before && in_archive {
        // A failed shipment: the checkpoint did not restart the log, the database goes on
        // (its own files are untouched), and the next checkpoint ships again.
        trace.push("the EIO hit the log archive: the database is not poisoned".to_owned());
    } else if vfs.counters().injected_eio > injected_before {
        let probe = db.begin_write().and_then(|write| {
            write.open_table("probe")?.insert(b"after EIO", b"must not commit")?;
            write.commit()
        });
        trace.push(format!(
            "commit after the EIO: {}",
            if probe.is_ok() { "accepted" } else { "refused" }
        ));
        if probe.is_ok() {
            return Err("a commit succeeded after an I/O error: the handle was not poisoned".into());
        }
    }
    crash_and_verify(vfs, db, CrashMode::dropping(), &history, trace)
}

/// A bit flipped on a seeded read while the database opens and reads everything: it must be
/// detected (a corruption error), never returned as data. The files are then repaired from a
/// copy taken before, and the database reopened and verified.
fn bitrot_cycle(
    vfs: &Disk,
    db: Database,
    state: Tables,
    rng: &mut ChaCha8Rng,
    trace: &mut Vec<String>,
) -> Result<Survived, String> {
    db.checkpoint(redwood::CheckpointMode::Truncate)
        .map_err(|error| format!("a checkpoint without faults failed: {error}"))?;
    drop(db);
    let image = vfs.durable_image();
    // A clean pass first counts the reads of opening and reading everything, so the flip lands
    // inside the pass that follows.
    let reads_before = vfs.counters().reads;
    open(vfs)
        .map_err(ReadFailure::from)
        .and_then(|db| read_all(&db))
        .map_err(|error| format!("reading without faults failed: {error}"))?;
    let reads = vfs.counters().reads - reads_before;
    let nth = rng.random_range(1..=reads.max(1));
    trace.push(format!("bit rot on read number {nth} of {reads}"));
    let flips_before = vfs.counters().bitrot_flips;
    vfs.set_faults(FaultConfig::none().with(SimFault::bit_rot(Trigger::Nth(nth), Repeat::Once)));
    let outcome = open(vfs).map_err(ReadFailure::from).and_then(|db| read_all(&db));
    vfs.set_faults(FaultConfig::none());
    let flipped = vfs.counters().bitrot_flips > flips_before;
    match outcome {
        Ok(found) if found != state => {
            return Err("bit rot was returned as data: the state read differs".into());
        }
        Ok(_) => trace.push(format!("read back intact (flipped: {flipped})")),
        Err(ReadFailure::Engine(error)) if flipped && error.is_corruption() => {
            trace.push(format!("detected: {error}"));
        }
        Err(ReadFailure::Engine(error)) if flipped => {
            return Err(format!("bit rot gave an error that is not corruption: {error}"));
        }
        Err(failure) => return Err(format!("reading everything failed: {failure}")),
    }
    repair(vfs, &image).map_err(|error| format!("repairing the files failed: {error}"))?;
    let (db, state) = reopen_and_verify(vfs, &History::new(state), trace)?;
    Ok(Survived { db, state, acked_verified: 0, crashed: false })
}

/// Runs the workload from `state`; a contradiction is a violation, a failure ends it early.
fn run_workload(
    db: &Database,
    state: Tables,
    rng: &mut ChaCha8Rng,
    steps: u32,
    fault_fired: &dyn Fn() -> bool,
    trace: &mut Vec<String>,
) -> Result<History, String> {
    let mut history = History::new(state);
    let mut workload = Workload::new(db);
    match workload.run(rng, &mut history, steps, trace) {
        Ok(()) => {}
        Err(Stop::Failed(error)) if fault_fired() && is_injected(&error) => {
            trace.push(format!("stopped: {error}"));
        }
        Err(Stop::Failed(error)) => {
            return Err(format!("a call failed with an error no fault explains: {error}"));
        }
        Err(Stop::Violation(message)) => return Err(message),
    }
    Ok(history)
}

/// Whether `error` is what an injected fault makes calls return: an I/O error (EIO, or the
/// frozen disk's "simulated power loss"), or the poisoned handle after one. Anything else
/// (corruption, a page freed twice, bad state) is the engine's fault.
fn is_injected(error: &redwood::Error) -> bool {
    use redwood::{Error, StorageError};
    let storage = match error {
        Error::Storage(error) => error,
        Error::Tree(redwood::TreeError::Pager(error)) => error,
        Error::Overflow(redwood::OverflowError::Pager(error)) => error,
        _ => return false,
    };
    matches!(storage, StorageError::Io { .. } | StorageError::Poisoned)
}

/// Reopens the database and checks it: its state is a candidate of `history` and the full
/// integrity check is clean.
fn reopen_and_verify(
    vfs: &Disk,
    history: &History,
    trace: &mut Vec<String>,
) -> Result<(Database, Tables), String> {
    let db = open(vfs).map_err(|error| format!("reopening failed: {error}"))?;
    let found = read_all(&db).map_err(|error| format!("reading after recovery failed: {error}"))?;
    let Some(position) = history.candidates().iter().position(|state| *state == found) else {
        let earlier = history.states.iter().rposition(|state| *state == found);
        let matches = earlier.map_or_else(
            || "no state of this cycle".to_owned(),
            |index| format!("state {index}, older than the last durable one"),
        );
        return Err(format!(
            "the recovered state is not a committed state at or after the last acknowledged \
             durable commit (state {} of {}); it matches {matches}",
            history.durable,
            history.states.len() - 1
        ));
    };
    let report =
        db.check_report(|_, _| {}).map_err(|error| format!("the check failed: {error}"))?;
    if !report.is_clean() {
        return Err(format!("the integrity check found: {:?}", report.problems));
    }
    trace.push(format!(
        "recovered state {} (durable from {}, newest {}), {} pages checked in {} segments",
        history.durable + position,
        history.durable,
        history.states.len() - 1,
        report.pages_checked,
        db.stats().segments
    ));
    Ok((db, found))
}

/// Writes every file back as `image` holds it, durably.
fn repair(
    vfs: &Disk,
    image: &std::collections::BTreeMap<std::path::PathBuf, Vec<u8>>,
) -> std::io::Result<()> {
    for (path, bytes) in image {
        let file = vfs.open(path)?;
        file.set_len(bytes.len() as u64)?;
        file.write_at(0, bytes)?;
        file.sync_data()?;
    }
    vfs.sync_dir(Path::new("."))
}
