//! The transactional page store (`Pager`) over the real log on the simulated disk: readers see
//! exactly their snapshot through commits, aborts and checkpoints; reopening gives exactly the
//! committed state; a crash at every sync point keeps every acknowledged commit and shows no
//! part of any other; a failed fsync poisons the pager and reopening finds all of that
//! transaction or none of it.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use redwood_pager::io::Vfs;
use redwood_pager::io::sim::{CrashMode, Fault, FaultConfig, OpKind, Repeat, SimVfs, Trigger};
use redwood_pager::{
    CheckpointMode, Durability, Error, Lsn, PageClaims, PageFile, PageFileOptions, PageId,
    PageRead, PageWrite, Pager, PagerOptions, Result,
};
use redwood_wal::{Wal, WalOptions};

use crate::support::{page, seed};

/// The committed contents the store should have: each live page's fill.
pub type Model = BTreeMap<PageId, u64>;

fn file_options() -> PageFileOptions {
    PageFileOptions {
        segment_pages: 16,
        database_id: Some(0xd00d),
        log_salt: Some(0xabc),
        ..PageFileOptions::default()
    }
}

/// Opens the store in `vfs` (creating it if absent), as the facade will: page file, then the log
/// continuing after the file's checkpoint, then replay.
pub fn open_store(vfs: &SimVfs) -> Result<Pager<Wal>> {
    open_store_with(vfs, None)
}

/// As [`open_store`], with `cache` under the pager's reads.
pub fn open_store_with(
    vfs: &SimVfs,
    cache: Option<Arc<dyn redwood_pager::PageCache>>,
) -> Result<Pager<Wal>> {
    open_store_checkpointing(vfs, cache, None)
}

/// As [`open_store_with`], with automatic checkpoints by `policy` (none: the tests' pagers
/// checkpoint only when a test asks, so their checkpoint counts are the test's own).
pub fn open_store_checkpointing(
    vfs: &SimVfs,
    cache: Option<Arc<dyn redwood_pager::PageCache>>,
    checkpoints: Option<redwood_pager::CheckpointPolicy>,
) -> Result<Pager<Wal>> {
    open_store_options(vfs, cache, checkpoints, 3)
}

/// As [`open_store`], with room for 1,000 dirty pages: a small transaction's new pages then
/// stay in memory and go to the log at commit, with the rest (under
/// `HOME_WRITE_MIN_PAGES`), for the tests of logged pages.
pub fn open_store_roomy(vfs: &SimVfs) -> Result<Pager<Wal>> {
    open_store_options(vfs, None, None, 1000)
}

pub fn open_store_options(
    vfs: &SimVfs,
    cache: Option<Arc<dyn redwood_pager::PageCache>>,
    checkpoints: Option<redwood_pager::CheckpointPolicy>,
    dirty_pages_max: usize,
) -> Result<Pager<Wal>> {
    let shared: Arc<dyn Vfs> = Arc::new(vfs.clone());
    let file = match PageFile::open(Arc::clone(&shared), Path::new("db"), &file_options()) {
        Err(Error::NotFound { .. }) => PageFile::create(shared, Path::new("db"), &file_options())?,
        opened => opened?,
    };
    let options = WalOptions {
        page_size: file.page_size(),
        database_id: file.database_id(),
        start_lsn: Lsn::new(file.checkpoint_lsn().get() + 1),
        identity: file.log_identity(),
        ..WalOptions::default()
    };
    let (wal, recovery) = Wal::open(vfs as &dyn Vfs, Path::new("db.wal"), &options)?;
    let pager = Pager::open(
        file,
        wal,
        recovery.transactions,
        PagerOptions { dirty_pages_max, checkpoints, ..PagerOptions::default() },
    )?;
    Ok(match cache {
        Some(cache) => pager.with_cache(cache),
        None => pager,
    })
}

/// Reads every page of `model` through `view` and compares fills.
pub fn check_view(view: &impl PageRead, model: &Model, context: &str) {
    for (&page_id, &fill) in model {
        let read =
            view.read_page(page_id).unwrap_or_else(|error| panic!("{context}: {page_id}: {error}"));
        assert_eq!(read.body(), page(page_id.get(), fill).body(), "{context}: {page_id}");
    }
    assert_eq!(view.root(0), model.keys().next().copied(), "{context}: root");
}

pub fn claims(model: &Model) -> PageClaims {
    let mut claims = PageClaims::new();
    for &page_id in model.keys() {
        claims.claim(page_id, "model");
    }
    claims
}

/// One write transaction: `new` pages, overwrite every `stride`-th page, free one; the root
/// follows the lowest live page.
pub fn mutate(
    txn: &mut impl PageWrite,
    model: &mut Model,
    round: u64,
    new: u64,
    stride: usize,
) -> Result<()> {
    for _ in 0..new {
        let page_id = txn.allocate()?;
        txn.write_page(page_id, page(page_id.get(), round))?;
        model.insert(page_id, round);
    }
    let existing: Vec<PageId> = model.keys().copied().step_by(stride.max(1)).collect();
    for page_id in existing {
        txn.write_page(page_id, page(page_id.get(), round * 1000 + page_id.get()))?;
        model.insert(page_id, round * 1000 + page_id.get());
    }
    if round % 2 == 1 && model.len() > 2 {
        let victim = *model.keys().nth(1).unwrap();
        txn.free(victim)?;
        model.remove(&victim);
    }
    txn.set_root(0, model.keys().next().copied())
}

#[test]
fn readers_see_their_snapshot_through_commits_and_checkpoints() {
    let vfs = SimVfs::new(21);
    let pager = open_store(&vfs).unwrap();
    let mut model = Model::new();
    let mut txn = pager.begin_write().unwrap();
    mutate(&mut txn, &mut model, 1, 6, 1).unwrap();
    txn.commit(Durability::Immediate).unwrap();
    let first = model.clone();
    let old_reader = pager.begin_read().unwrap();
    for round in 2..=4 {
        let mut txn = pager.begin_write().unwrap();
        mutate(&mut txn, &mut model, round, 3, 2).unwrap();
        check_view(&txn, &model, "the writer sees its own changes");
        check_view(&old_reader, &first, "an old reader during a write");
        txn.commit(Durability::Immediate).unwrap();
    }
    let outcome = pager.checkpoint(CheckpointMode::Full).unwrap();
    assert_eq!(outcome.checkpoint_lsn, old_reader.snapshot(), "held back by the old reader");
    assert!(!outcome.log_restarted);
    let stats = pager.stats();
    assert_eq!(stats.oldest_reader, Some(old_reader.snapshot()));
    assert!(stats.oldest_reader_lag > 0 && stats.log_versions > 0, "the held log shows: {stats:?}");
    check_view(&old_reader, &first, "an old reader after a checkpoint");
    check_view(&pager.begin_read().unwrap(), &model, "a new reader");
    drop(old_reader);
    let outcome = pager.checkpoint(CheckpointMode::Truncate).unwrap();
    assert!(outcome.log_restarted && outcome.pages_written > 0);
    assert_eq!(vfs.live_image()[Path::new("db.wal")].len(), 1024);
    check_view(&pager.begin_read().unwrap(), &model, "after a full checkpoint");
    pager.check_invariants(&claims(&model)).unwrap();
    drop(pager);
    let pager = open_store(&vfs).unwrap();
    check_view(&pager.begin_read().unwrap(), &model, "after reopening");
    pager.check_invariants(&claims(&model)).unwrap();
}

#[test]
fn an_aborted_transaction_leaves_nothing() {
    let vfs = SimVfs::new(22);
    let pager = open_store(&vfs).unwrap();
    let mut model = Model::new();
    let mut txn = pager.begin_write().unwrap();
    mutate(&mut txn, &mut model, 1, 5, 1).unwrap();
    txn.commit(Durability::Immediate).unwrap();
    let committed = model.clone();
    let mut txn = pager.begin_write().unwrap();
    mutate(&mut txn, &mut model, 3, 4, 1).unwrap();
    txn.abort();
    {
        let mut dropped = pager.begin_write().unwrap();
        mutate(&mut dropped, &mut committed.clone(), 5, 2, 1).unwrap();
    }
    // Allocation hands out a free page, never a live one (the leak check below proves the
    // aborted transactions' allocations were returned).
    let mut txn = pager.begin_write().unwrap();
    let reused = txn.allocate().unwrap();
    assert!(!committed.contains_key(&reused), "{reused} is live");
    txn.abort();
    check_view(&pager.begin_read().unwrap(), &committed, "after aborts");
    pager.check_invariants(&claims(&committed)).unwrap();
    assert_eq!(pager.counters().aborts.load(std::sync::atomic::Ordering::Relaxed), 3);
    drop(pager);
    let pager = open_store(&vfs).unwrap();
    check_view(&pager.begin_read().unwrap(), &committed, "after reopening");
}

#[test]
fn a_failed_fsync_in_commit_poisons_and_reopening_finds_all_or_nothing() {
    let vfs = SimVfs::new(23);
    let pager = open_store(&vfs).unwrap();
    let mut model = Model::new();
    let mut txn = pager.begin_write().unwrap();
    mutate(&mut txn, &mut model, 1, 4, 1).unwrap();
    txn.commit(Durability::Immediate).unwrap();
    let before = model.clone();
    vfs.set_faults(FaultConfig::none().with(Fault::eio(
        OpKind::Sync,
        Trigger::Nth(1),
        Repeat::Once,
    )));
    let mut txn = pager.begin_write().unwrap();
    mutate(&mut txn, &mut model, 2, 3, 1).unwrap();
    assert!(matches!(txn.commit(Durability::Immediate), Err(Error::Io { .. })));
    assert!(pager.is_poisoned());
    assert!(matches!(pager.begin_read(), Err(Error::Poisoned)));
    drop(pager);
    vfs.crash(CrashMode::all());
    let pager = open_store(&vfs).unwrap();
    let reader = pager.begin_read().unwrap();
    let matches = |expected: &Model| {
        let check = || check_view(&reader, expected, "recovered");
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(check)).is_ok()
    };
    assert!(matches(&before) || matches(&model), "all of the failed transaction or none of it");
}

#[test]
fn a_durable_commit_through_the_pager_costs_one_fdatasync() {
    let vfs = SimVfs::new(24);
    let pager = open_store_roomy(&vfs).unwrap();
    let mut model = Model::new();
    let before = vfs.counters().syncs;
    for round in 1..=5 {
        let mut txn = pager.begin_write().unwrap();
        mutate(&mut txn, &mut model, round, 2, 3).unwrap();
        txn.commit(Durability::Immediate).unwrap();
    }
    assert_eq!(vfs.counters().syncs - before, 5);
}

/// An empty `Immediate` commit acknowledges the state before it, so it makes the
/// `Durability::None` commits before it durable (one fdatasync), and costs nothing when nothing
/// is pending. Found by the crash harness: it used to skip the log entirely.
#[test]
fn an_empty_immediate_commit_makes_earlier_unsynced_commits_durable() {
    let vfs = SimVfs::new(31);
    let pager = open_store(&vfs).unwrap();
    let mut model = Model::new();
    let mut txn = pager.begin_write().unwrap();
    mutate(&mut txn, &mut model, 1, 3, 1).unwrap();
    txn.commit(Durability::None).unwrap();
    let before = vfs.counters().syncs;
    pager.begin_write().unwrap().commit(Durability::Immediate).unwrap();
    assert_eq!(vfs.counters().syncs - before, 1, "the unsynced commit is synced");
    pager.begin_write().unwrap().commit(Durability::Immediate).unwrap();
    assert_eq!(vfs.counters().syncs - before, 1, "nothing pending: no fdatasync");
    drop(pager);
    vfs.crash(CrashMode::all());
    let pager = open_store(&vfs).unwrap();
    check_view(&pager.begin_read().unwrap(), &model, "after the crash");
}

/// A meta copy from an earlier checkpoint in front of a log that restarted since (the newest
/// copy damaged, and the other one stale: a main file restored from an older copy, or writes
/// lost): replaying the newer log over it would roll allocation state and roots back. Opening
/// refuses with `Corrupt` naming the damaged copy; with the files intact again it opens and
/// every page is there.
#[test]
fn an_older_meta_copy_in_front_of_a_restarted_log_is_refused() {
    let vfs = SimVfs::new(32);
    let mut model = Model::new();
    let base_path = Path::new("db");
    let mut after_first_checkpoint = Vec::new();
    {
        let pager = open_store(&vfs).unwrap();
        for round in 1..=3 {
            let mut txn = pager.begin_write().unwrap();
            // Later rounds rewrite pages without allocating, so the stale copy's allocation
            // state still fits the map and only the log generation tells it is stale.
            mutate(&mut txn, &mut model, round, if round == 1 { 2 } else { 0 }, 1).unwrap();
            txn.commit(Durability::Immediate).unwrap();
            assert!(pager.checkpoint(CheckpointMode::Truncate).unwrap().log_restarted);
            if round == 1 {
                after_first_checkpoint = vfs.live_image()[base_path][..2 * 4096].to_vec();
            }
        }
    }
    let base = vfs.open(base_path).unwrap();
    let generation_of = |slot: u64| {
        let mut bytes = [0u8; 8];
        base.read_at(slot * 4096 + 64, &mut bytes).unwrap();
        u64::from_le_bytes(bytes)
    };
    let newest = if generation_of(0) > generation_of(1) { 0 } else { 1 };
    let fallback = 1 - newest;
    let saved: Vec<u8> = {
        let mut bytes = vec![0u8; 2 * 4096];
        base.read_at(0, &mut bytes).unwrap();
        bytes
    };
    let stale = &after_first_checkpoint[fallback as usize * 4096..][..4096];
    base.write_at(fallback * 4096, stale).unwrap();
    base.write_at(newest * 4096 + 100, &[saved[newest as usize * 4096 + 100] ^ 0x04]).unwrap();
    match open_store(&vfs) {
        Err(Error::Corrupt { page_id, reason }) => {
            assert_eq!(page_id, PageId::new(newest));
            assert!(reason.contains("log generation"), "{reason}");
        }
        Err(other) => panic!("expected Corrupt naming the meta copy, got {other}"),
        Ok(_) => panic!("opened an older meta copy in front of a newer log"),
    }
    base.write_at(0, &saved).unwrap();
    let pager = open_store(&vfs).unwrap();
    check_view(&pager.begin_read().unwrap(), &model, "with the meta copies restored");
}

/// What a crash workload did: every committed state it attempted, in order, and how many of them
/// are known durable (the last one an Immediate commit or a checkpoint returned for).
pub struct Outcome {
    pub attempted: Vec<Model>,
    pub durable: usize,
}

/// Commits rounds (every fourth without a sync) with a checkpoint every third round.
fn crash_workload(vfs: &SimVfs, rounds: u64) -> Outcome {
    let mut outcome = Outcome { attempted: vec![Model::new()], durable: 1 };
    let Ok(pager) = open_store(vfs) else { return outcome };
    let mut model = Model::new();
    for round in 1..=rounds {
        let Ok(mut txn) = pager.begin_write() else { break };
        if mutate(&mut txn, &mut model, round, 2, 3).is_err() {
            break;
        }
        outcome.attempted.push(model.clone());
        let durability = if round % 4 == 0 { Durability::None } else { Durability::Immediate };
        if txn.commit(durability).is_err() {
            break;
        }
        if durability == Durability::Immediate {
            outcome.durable = outcome.attempted.len();
        }
        if round % 3 == 0 {
            let mode = [CheckpointMode::Passive, CheckpointMode::Full, CheckpointMode::Truncate]
                [(round / 3 % 3) as usize];
            if pager.checkpoint(mode).is_err() {
                break;
            }
            outcome.durable = outcome.attempted.len();
        }
    }
    outcome
}

/// The recovered state must be a committed one at or after the last one known durable.
pub fn verify_crash_recovery(vfs: &SimVfs, outcome: &Outcome, context: &str) {
    let pager = match open_store(vfs) {
        Ok(pager) => pager,
        // Creating the database never completed: nothing was acknowledged.
        Err(Error::NotADatabase { .. }) if outcome.durable == 1 => return,
        Err(error) if error.is_corruption() && outcome.durable == 1 => return,
        Err(error) => panic!("{context}: reopen: {error}"),
    };
    let reader = pager.begin_read().unwrap();
    let candidates = &outcome.attempted[outcome.durable - 1..];
    // A state equal to a candidate in every page it reads and in what the map allocates: a
    // commit that only adds pages reads like the state before it in that state's pages.
    let mut mismatch = None;
    let found = candidates.iter().any(|model| {
        let check = || check_view(&reader, model, context);
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(check)).is_err() {
            return false;
        }
        match pager.check_invariants(&claims(model)) {
            Ok(()) => true,
            Err(error) => {
                mismatch.get_or_insert(error.to_string());
                false
            }
        }
    });
    assert!(found, "{context}: the state is no committed one ({mismatch:?})");
}

/// Rounds of 70 new pages each (past `HOME_WRITE_MIN_PAGES`, so they go to their home location
/// at commit, synced before the commit record), some existing pages rewritten (to the log),
/// mixed durability, checkpoints.
fn home_workload(vfs: &SimVfs, rounds: u64) -> Outcome {
    let mut outcome = Outcome { attempted: vec![Model::new()], durable: 1 };
    let Ok(pager) = open_store_roomy(vfs) else { return outcome };
    let mut model = Model::new();
    for round in 1..=rounds {
        let Ok(mut txn) = pager.begin_write() else { break };
        if mutate(&mut txn, &mut model, round, 70, 9).is_err() {
            break;
        }
        outcome.attempted.push(model.clone());
        let durability = if round % 3 == 0 { Durability::None } else { Durability::Immediate };
        if txn.commit(durability).is_err() {
            break;
        }
        if durability == Durability::Immediate {
            outcome.durable = outcome.attempted.len();
        }
        if round == 4 && pager.checkpoint(CheckpointMode::Full).is_err() {
            break;
        }
    }
    outcome
}

#[test]
fn new_pages_written_home_survive_a_crash_at_every_sync_point() {
    let base_seed = seed("new_pages_written_home_survive_a_crash_at_every_sync_point");
    let full = SimVfs::new(base_seed);
    let outcome = home_workload(&full, 6);
    assert_eq!(outcome.attempted.len(), 7);
    let pager = open_store_roomy(&full).unwrap();
    check_view(&pager.begin_read().unwrap(), outcome.attempted.last().unwrap(), "no crash");
    // 420 new pages, yet the log holds only the rewritten ones (a tenth of them or so).
    assert!(pager.stats().log_versions < 200, "{:?}", pager.stats());
    drop(pager);
    let sync_points = full.counters().syncs;
    assert!(sync_points > 12, "{sync_points} sync points");
    let modes = [CrashMode::dropping(), CrashMode::tearing(), CrashMode::all()];
    for freeze_at in 1..=sync_points {
        for (mode_index, mode) in modes.iter().enumerate() {
            let run_seed = base_seed ^ (freeze_at << 16) ^ mode_index as u64;
            let vfs = SimVfs::new(run_seed);
            vfs.set_faults(FaultConfig::none().with_freeze_at_sync(freeze_at));
            let outcome = home_workload(&vfs, 6);
            vfs.crash(*mode);
            vfs.set_faults(FaultConfig::none());
            let context = format!("seed {run_seed}, sync {freeze_at}, {mode:?}");
            verify_crash_recovery(&vfs, &outcome, &context);
        }
    }
}

#[test]
fn a_crash_at_random_sync_points_of_a_larger_workload_keeps_every_acknowledged_commit() {
    let base_seed = seed("a_crash_at_random_sync_points_of_a_larger_workload");
    let full = SimVfs::new(base_seed);
    crash_workload(&full, 40);
    let sync_points = full.counters().syncs;
    let modes = [CrashMode::dropping(), CrashMode::tearing(), CrashMode::all()];
    for run in 0..30u64 {
        let run_seed = base_seed.wrapping_add(run * 0x9e37_79b9);
        let freeze_at = 1 + run_seed % sync_points;
        let mode = modes[(run_seed / sync_points % 3) as usize];
        let vfs = SimVfs::new(run_seed);
        vfs.set_faults(FaultConfig::none().with_freeze_at_sync(freeze_at));
        let outcome = crash_workload(&vfs, 40);
        vfs.crash(mode);
        vfs.set_faults(FaultConfig::none());
        let context = format!("seed {run_seed}, sync {freeze_at} of {sync_points}, {mode:?}");
        verify_crash_recovery(&vfs, &outcome, &context);
    }
}

#[test]
fn a_crash_at_every_sync_point_keeps_every_acknowledged_commit() {
    let base_seed = seed("a_crash_at_every_sync_point_keeps_every_acknowledged_commit");
    let full = SimVfs::new(base_seed);
    crash_workload(&full, 10);
    let sync_points = full.counters().syncs;
    assert!(sync_points > 20, "{sync_points} sync points");
    let modes = [CrashMode::dropping(), CrashMode::tearing(), CrashMode::all()];
    for freeze_at in 1..=sync_points {
        for (mode_index, mode) in modes.iter().enumerate() {
            let run_seed = base_seed ^ (freeze_at << 16) ^ mode_index as u64;
            let vfs = SimVfs::new(run_seed);
            vfs.set_faults(FaultConfig::none().with_freeze_at_sync(freeze_at));
            let outcome = crash_workload(&vfs, 10);
            vfs.crash(*mode);
            vfs.set_faults(FaultConfig::none());
            let context = format!("seed {run_seed}, sync {freeze_at}, {mode:?}");
            verify_crash_recovery(&vfs, &outcome, &context);
        }
    }
}

#[test]
fn a_large_transaction_spills_with_bounded_memory_and_a_crash_drops_it() {
    let vfs = SimVfs::new(25);
    let pager = open_store(&vfs).unwrap();
    let mut model = Model::new();
    let mut txn = pager.begin_write().unwrap();
    mutate(&mut txn, &mut model, 1, 4, 1).unwrap();
    txn.commit(Durability::Immediate).unwrap();
    let committed = model.clone();
    // Where the committed frames end (the file may run on with preallocated zeros).
    let before = pager.stats().log_bytes as usize;
    let written_past = |from: usize| {
        let image = vfs.live_image()[Path::new("db.wal")].clone();
        image
            .get(from..)
            .map_or(0, |tail| tail.iter().rposition(|&byte| byte != 0).map_or(0, |at| at + 1))
    };
    let reader = pager.begin_read().unwrap();
    let mut txn = pager.begin_write().unwrap();
    // 300 pages is more than the log's 1 MiB append buffer, so frames must reach the file.
    for round in 0..300 {
        let page_id = txn.allocate().unwrap();
        txn.write_page(page_id, page(page_id.get(), round)).unwrap();
        model.insert(page_id, round);
        assert!(txn.dirty_page_count() <= 3, "memory stays within the budget");
    }
    // New pages: written out to their home location, not to the log. So is the one page
    // reused from the free list: the first commit allocated and freed it (it was written home,
    // not logged), so no committed state ever held it and the log has no image of it.
    assert_eq!(txn.spilled_page_count(), 0);
    assert!(written_past(before) < 4096, "no spilled frames in the log");
    let data_bytes: usize = vfs
        .live_image()
        .iter()
        .filter(|(path, _)| path.as_path() != Path::new("db.wal"))
        .map(|(_, bytes)| bytes.len())
        .sum();
    assert!(data_bytes > 290 * 4096, "the pages went home: {data_bytes} bytes of data files");
    check_view(&txn, &model, "the writer reads its written-out pages back");
    check_view(&reader, &committed, "a reader never sees spilled frames");
    drop(reader);
    std::mem::forget(txn); // the process dies with the transaction open
    drop(pager);
    vfs.crash(CrashMode::all());
    let pager = open_store(&vfs).unwrap();
    check_view(&pager.begin_read().unwrap(), &committed, "a crash drops the spilled frames");
    pager.check_invariants(&claims(&committed)).unwrap();
}

#[test]
fn a_spilled_transaction_commits_whole_and_recovers_its_final_images() {
    let vfs = SimVfs::new(26);
    let pager = open_store(&vfs).unwrap();
    let mut model = Model::new();
    let mut txn = pager.begin_write().unwrap();
    mutate(&mut txn, &mut model, 1, 6, 1).unwrap();
    txn.commit(Durability::Immediate).unwrap();
    let pages: Vec<PageId> = model.keys().copied().collect();
    let (kept, rolled_back) = (pages[0], pages[1]);
    let mut txn = pager.begin_write().unwrap();
    // `kept` is spilled with fill 500, then rewritten and spilled again after a savepoint;
    // `rolled_back` (committed) is rewritten and spilled only after the savepoint.
    txn.write_page(kept, page(kept.get(), 500)).unwrap();
    for filler in 0..4 {
        let page_id = txn.allocate().unwrap();
        txn.write_page(page_id, page(page_id.get(), 600 + filler)).unwrap();
        model.insert(page_id, 600 + filler);
    }
    assert!(txn.spilled_page_count() > 0);
    let savepoint = txn.savepoint();
    txn.write_page(kept, page(kept.get(), 501)).unwrap();
    txn.write_page(rolled_back, page(rolled_back.get(), 502)).unwrap();
    for _ in 0..4 {
        let page_id = txn.allocate().unwrap();
        txn.write_page(page_id, page(page_id.get(), 700)).unwrap();
    }
    txn.rollback_to(savepoint).unwrap();
    model.insert(kept, 500);
    check_view(&txn, &model, "after the rollback");
    txn.commit(Durability::Immediate).unwrap();
    check_view(&pager.begin_read().unwrap(), &model, "after commit");
    drop(pager);
    vfs.crash(CrashMode::all());
    let pager = open_store(&vfs).unwrap();
    check_view(&pager.begin_read().unwrap(), &model, "recovered from the log");
    pager.check_invariants(&claims(&model)).unwrap();
}

fn small_policy() -> redwood_pager::CheckpointPolicy {
    redwood_pager::CheckpointPolicy {
        log_bytes_target: 40 << 10,
        log_bytes_max: 80 << 10,
        log_versions_max: 1 << 20,
        interval: None,
        held_back_retry: std::time::Duration::from_secs(3600),
        truncate_log_bytes: 1 << 30,
    }
}

#[test]
fn automatic_checkpoints_keep_the_log_within_the_policy_on_the_committing_thread() {
    let vfs = SimVfs::new(27);
    let policy = small_policy();
    let pager = open_store_checkpointing(&vfs, None, Some(policy)).unwrap();
    let mut model = Model::new();
    let mut largest_commit = 0;
    let mut restarts = 0;
    for round in 1..=120 {
        let before = pager.stats().log_bytes;
        let checkpoints = pager.stats().checkpoints;
        let mut txn = pager.begin_write().unwrap();
        mutate(&mut txn, &mut model, round, 1, 6).unwrap();
        txn.commit(Durability::Immediate).unwrap();
        let stats = pager.stats();
        if stats.checkpoints > checkpoints {
            restarts += 1;
            assert_eq!(stats.log_versions, 0, "the checkpoint restarted the log");
        } else {
            assert!(stats.log_bytes < policy.log_bytes_target, "past the target: {stats:?}");
            largest_commit = largest_commit.max(stats.log_bytes - before);
        }
        // Past the target the commit checkpointed (no worker runs): the log stays below it
        // plus one commit.
        assert!(stats.log_bytes < policy.log_bytes_target + largest_commit + 8192, "{stats:?}");
    }
    assert!(restarts >= 3, "the policy fired ({restarts} times)");
    check_view(&pager.begin_read().unwrap(), &model, "after automatic checkpoints");
    pager.check_invariants(&claims(&model)).unwrap();
    drop(pager);
    vfs.crash(CrashMode::all());
    let pager = open_store(&vfs).unwrap();
    check_view(&pager.begin_read().unwrap(), &model, "recovered after automatic checkpoints");
}

#[test]
fn a_held_back_checkpoint_lets_the_log_grow_visibly_without_a_checkpoint_per_commit() {
    let vfs = SimVfs::new(28);
    let pager = open_store_checkpointing(&vfs, None, Some(small_policy())).unwrap();
    let mut model = Model::new();
    let mut txn = pager.begin_write().unwrap();
    mutate(&mut txn, &mut model, 1, 4, 1).unwrap();
    txn.commit(Durability::Immediate).unwrap();
    let reader = pager.begin_read().unwrap();
    let held = model.clone();
    let checkpoints = pager.stats().checkpoints;
    for round in 2..=80 {
        let mut txn = pager.begin_write().unwrap();
        mutate(&mut txn, &mut model, round, 1, 3).unwrap();
        txn.commit(Durability::None).unwrap();
    }
    let stats = pager.stats();
    assert!(stats.log_bytes > small_policy().log_bytes_max, "{stats:?}");
    assert!(stats.checkpoint_held_back, "the stats say why the log grows: {stats:?}");
    // One partial checkpoint (up to the reader) at most per retry interval, which is an hour.
    assert!(stats.checkpoints <= checkpoints + 1, "{} checkpoints", stats.checkpoints);
    check_view(&reader, &held, "the reader's snapshot");
    drop(reader);
    let mut txn = pager.begin_write().unwrap();
    mutate(&mut txn, &mut model, 81, 1, 3).unwrap();
    txn.commit(Durability::Immediate).unwrap();
    let stats = pager.stats();
    assert!(!stats.checkpoint_held_back && stats.log_versions == 0, "caught up: {stats:?}");
    check_view(&pager.begin_read().unwrap(), &model, "after the reader ended");
}

#[test]
fn a_checkpoint_worker_checkpoints_in_the_background() {
    let vfs = SimVfs::new(29);
    let policy = redwood_pager::CheckpointPolicy { log_versions_max: 8, ..small_policy() };
    let pager = Arc::new(open_store_checkpointing(&vfs, None, Some(policy)).unwrap());
    let worker = pager.start_checkpoint_worker().unwrap();
    let mut model = Model::new();
    let mut round = 0;
    // Commits until the worker has checkpointed (bounded: it is woken by each commit past
    // the policy, and wakes on its own every 250 ms).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while pager.stats().checkpoints == 0 && std::time::Instant::now() < deadline {
        round += 1;
        let mut txn = pager.begin_write().unwrap();
        mutate(&mut txn, &mut model, round, 1, 8).unwrap();
        txn.commit(Durability::None).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    drop(worker);
    assert!(pager.stats().checkpoints > 0, "the worker checkpointed");
    check_view(&pager.begin_read().unwrap(), &model, "after background checkpoints");
    pager.check_invariants(&claims(&model)).unwrap();
}

/// Review finding: a checkpoint once copied a `Durability::None` commit into the data files and
/// persisted its allocation state without syncing the log; a crash then lost the commit from the
/// log but not from the files (unopenable database, or a live page marked free).
#[test]
fn a_checkpoint_after_unsynced_commits_survives_a_crash() {
    let base_seed = seed("a_checkpoint_after_unsynced_commits_survives_a_crash");
    for attempt in 0..20 {
        let vfs = SimVfs::new(base_seed.wrapping_add(attempt));
        let pager = open_store(&vfs).unwrap();
        let mut model = Model::new();
        let mut txn = pager.begin_write().unwrap();
        mutate(&mut txn, &mut model, 2, 4, 1).unwrap();
        txn.commit(Durability::Immediate).unwrap();
        let reader = pager.begin_read().unwrap();
        let mut txn = pager.begin_write().unwrap();
        mutate(&mut txn, &mut model, 3, 2, 2).unwrap();
        txn.commit(Durability::None).unwrap();
        pager.checkpoint(CheckpointMode::Passive).unwrap();
        drop(reader);
        drop(pager);
        vfs.crash(CrashMode::all());
        let pager = open_store(&vfs).unwrap();
        check_view(&pager.begin_read().unwrap(), &model, "the checkpoint made the commit durable");
        pager.check_invariants(&claims(&model)).unwrap();
    }
}

/// Review finding: bad input (an over-long restore-point name) once poisoned the pager.
#[test]
fn bad_input_is_refused_without_poisoning() {
    let vfs = SimVfs::new(28);
    let pager = open_store(&vfs).unwrap();
    let mut txn = pager.begin_write().unwrap();
    let long = "x".repeat(redwood_pager::limits::RESTORE_POINT_NAME_MAX_BYTES + 1);
    assert!(matches!(txn.restore_point(&long, 1), Err(Error::TooLarge { .. })));
    txn.restore_point("before the upgrade", 1).unwrap();
    let savepoint = txn.savepoint();
    let inner = txn.savepoint();
    txn.rollback_to(savepoint).unwrap();
    let _ = txn.savepoint();
    assert!(txn.rollback_to(inner).is_err(), "a discarded savepoint is refused, not confused");
    txn.commit(Durability::Immediate).unwrap();
    assert!(!pager.is_poisoned());
}

#[test]
fn a_prefetched_page_is_a_hit_on_the_next_read() {
    use redwood_bufpool::{BufferPool, PoolOptions};
    let vfs = SimVfs::new(29);
    let pager = open_store(&vfs).unwrap();
    let mut model = Model::new();
    let mut txn = pager.begin_write().unwrap();
    mutate(&mut txn, &mut model, 2, 20, 1).unwrap();
    txn.commit(Durability::Immediate).unwrap();
    pager.checkpoint(CheckpointMode::Truncate).unwrap();
    drop(pager);
    // Reopened with a cold cache: every page is in the data file only.
    let pool = Arc::new(
        BufferPool::new(PoolOptions::new(256 * 4096, redwood_pager::PageSize::DEFAULT)).unwrap(),
    );
    let pager = open_store_with(&vfs, Some(Arc::clone(&pool) as Arc<dyn redwood_pager::PageCache>))
        .unwrap()
        .into_shared();
    let reader = pager.begin_read().unwrap();
    let pages: Vec<PageId> = model.keys().copied().collect();
    assert_eq!(pager.prefetch(reader.snapshot(), &pages), pages.len());
    // Wait (bounded) for the worker; this waits for work to finish, it measures no time.
    for _ in 0..5000 {
        if pool.stats().reads >= pages.len() as u64 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    let before = pool.stats();
    assert_eq!(before.reads, pages.len() as u64, "the worker loaded every page");
    check_view(&reader, &model, "reading prefetched pages");
    let after = pool.stats();
    assert_eq!(after.misses, before.misses, "no read missed");
    assert_eq!(after.hits - before.hits, pages.len() as u64, "every read was a hit");
    assert_eq!(
        pager.counters().prefetched.load(std::sync::atomic::Ordering::Relaxed),
        pages.len() as u64
    );
}

/// A prefetch request whose reader has ended is dropped unread: its snapshot no longer holds
/// checkpoints back, so the data-file pages it would read may be being rewritten (issue 15).
#[test]
fn a_prefetch_for_an_ended_reader_is_dropped() {
    use redwood_bufpool::{BufferPool, PoolOptions};
    use std::sync::atomic::Ordering::Relaxed;
    let vfs = SimVfs::new(31);
    let pool = Arc::new(
        BufferPool::new(PoolOptions::new(256 * 4096, redwood_pager::PageSize::DEFAULT)).unwrap(),
    );
    let pager = open_store_with(&vfs, Some(Arc::clone(&pool) as Arc<dyn redwood_pager::PageCache>))
        .unwrap()
        .into_shared();
    let mut model = Model::new();
    let mut txn = pager.begin_write().unwrap();
    mutate(&mut txn, &mut model, 2, 20, 1).unwrap();
    txn.commit(Durability::Immediate).unwrap();
    let reader = pager.begin_read().unwrap();
    let snapshot = reader.snapshot();
    drop(reader);
    let mut txn = pager.begin_write().unwrap();
    mutate(&mut txn, &mut model, 3, 0, 1).unwrap();
    txn.commit(Durability::Immediate).unwrap();
    pager.checkpoint(CheckpointMode::Truncate).unwrap();
    let pages: Vec<PageId> = model.keys().copied().collect();
    let reads_before = pool.stats().reads;
    assert_eq!(pager.prefetch(snapshot, &pages), pages.len(), "queued");
    let dropped = || pager.counters().prefetch_dropped.load(Relaxed);
    // Wait (bounded) for the worker; this waits for work to finish, it measures no time.
    for _ in 0..5000 {
        if dropped() >= pages.len() as u64 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    assert_eq!(dropped(), pages.len() as u64, "every request was dropped");
    assert_eq!(pager.counters().prefetched.load(Relaxed), 0, "nothing was read for it");
    assert_eq!(pool.stats().reads, reads_before);
    pager.stop_prefetch();
}

/// A checkpoint syncs the pages it copied and reads them back under the state's read lock:
/// readers go on meanwhile; only the meta data's update takes the write lock. A reader's call
/// is made from inside the data file's first sync of the checkpoint, on another thread, and
/// must return while that sync is still in progress (a bounded wait: it waits for the call, it
/// measures no time).
#[test]
fn readers_go_on_while_a_checkpoint_syncs_and_reads_back_its_pages() {
    use std::sync::Mutex;
    let vfs = SimVfs::new(41);
    let pager = Arc::new(open_store_roomy(&vfs).unwrap());
    let mut model = Model::new();
    let mut txn = pager.begin_write().unwrap();
    mutate(&mut txn, &mut model, 2, 12, 1).unwrap();
    txn.commit(Durability::Immediate).unwrap();
    let went_on: Arc<Mutex<Vec<bool>>> = Arc::default();
    let probe = {
        let (pager, went_on) = (Arc::clone(&pager), Arc::clone(&went_on));
        move |op: &redwood_pager::io::sim::OpInfo| {
            let first_sync = op.kind == OpKind::Sync && op.path == Path::new("db");
            if first_sync && went_on.lock().unwrap().is_empty() {
                let (done, finished) = std::sync::mpsc::channel();
                let reader = Arc::clone(&pager);
                std::thread::spawn(move || {
                    let _ = reader.geometry();
                    let _ = done.send(());
                });
                let returned = finished.recv_timeout(std::time::Duration::from_secs(20)).is_ok();
                went_on.lock().unwrap().push(returned);
            }
            false
        }
    };
    let never = Fault::eio(OpKind::Sync, Trigger::When(Arc::new(probe)), Repeat::Once);
    vfs.set_faults(FaultConfig::none().with(never));
    pager.checkpoint(CheckpointMode::Full).unwrap();
    // The probe holds the pager: clearing the faults lets it go.
    vfs.set_faults(FaultConfig::none());
    assert_eq!(*went_on.lock().unwrap(), [true], "a reader went on during the data sync");
    check_view(&pager.begin_read().unwrap(), &model, "after the checkpoint");
}

/// A data-file write the storage loses during a checkpoint (here: misdirected far away) is
/// caught by reading the page back, rewritten from the log, and the checkpoint goes on.
#[test]
fn a_lost_write_during_a_checkpoint_is_repaired_from_the_log() {
    let vfs = SimVfs::new(30);
    let pager = open_store_roomy(&vfs).unwrap();
    let mut model = Model::new();
    let mut txn = pager.begin_write().unwrap();
    mutate(&mut txn, &mut model, 2, 8, 1).unwrap();
    txn.commit(Durability::Immediate).unwrap();
    let to_data_file = |op: &redwood_pager::io::sim::OpInfo| {
        op.kind == OpKind::Write && op.path == Path::new("db")
    };
    let lose_one = Fault::misdirect(1 << 20, Trigger::When(Arc::new(to_data_file)), Repeat::Once);
    vfs.set_faults(FaultConfig::none().with(lose_one));
    let outcome = pager.checkpoint(CheckpointMode::Full).unwrap();
    vfs.set_faults(FaultConfig::none());
    assert!(outcome.log_restarted);
    assert_eq!(vfs.counters().misdirected_writes, 1);
    // The checkpoint writes a run of consecutive pages as one write: the one misdirected write
    // lost every page of its run, and each was repaired.
    let repaired = pager.counters().lost_writes_repaired.load(std::sync::atomic::Ordering::Relaxed);
    assert!((1..=8).contains(&repaired), "{repaired} pages repaired");
    check_view(&pager.begin_read().unwrap(), &model, "after the repaired checkpoint");
    drop(pager);
    let pager = open_store(&vfs).unwrap();
    check_view(&pager.begin_read().unwrap(), &model, "from the data files alone");
    pager.check_invariants(&claims(&model)).unwrap();
}

/// A page whose writes keep getting lost fails the checkpoint, naming the page; nothing of it is
/// trusted, so readers and a reopen still see every commit (from the log).
#[test]
fn a_page_the_disk_keeps_losing_fails_the_checkpoint_without_losing_data() {
    let vfs = SimVfs::new(31);
    let pager = open_store_roomy(&vfs).unwrap();
    let mut model = Model::new();
    let mut txn = pager.begin_write().unwrap();
    mutate(&mut txn, &mut model, 2, 8, 1).unwrap();
    txn.commit(Durability::Immediate).unwrap();
    let doomed = *model.keys().nth(2).unwrap();
    let offset = doomed.get() * 4096;
    let to_doomed = move |op: &redwood_pager::io::sim::OpInfo| {
        // Any write that covers the page (a checkpoint writes runs of pages at once).
        let covers = op.offset <= offset && offset < op.offset + op.len;
        op.kind == OpKind::Write && op.path == Path::new("db") && covers
    };
    let always = Fault::misdirect(1 << 20, Trigger::When(Arc::new(to_doomed)), Repeat::Always);
    vfs.set_faults(FaultConfig::none().with(always));
    match pager.checkpoint(CheckpointMode::Full) {
        Err(Error::Corrupt { page_id, .. }) => assert_eq!(page_id, doomed),
        other => panic!("expected Corrupt naming {doomed}, got {other:?}"),
    }
    vfs.set_faults(FaultConfig::none());
    assert!(!pager.is_poisoned(), "a page the disk will not keep is reported, not fatal");
    check_view(&pager.begin_read().unwrap(), &model, "readers still use the log");
    let retried = pager.checkpoint(CheckpointMode::Full).unwrap();
    assert!(retried.log_restarted, "with the disk healthy again the checkpoint completes");
    check_view(&pager.begin_read().unwrap(), &model, "after the retried checkpoint");
    drop(pager);
    let pager = open_store(&vfs).unwrap();
    check_view(&pager.begin_read().unwrap(), &model, "after reopening");
}

/// A checkpoint reads its pages from the log in batches and writes runs of consecutive pages as
/// one write each, and what it copied reads back the same, from the files alone after a reopen.
#[test]
fn a_checkpoint_writes_runs_of_consecutive_pages_at_once() {
    let vfs = SimVfs::new(41);
    let pager = open_store_roomy(&vfs).unwrap();
    let mut model = Model::new();
    let mut txn = pager.begin_write().unwrap();
    // 60 new pages: under HOME_WRITE_MIN_PAGES, so they go to the log, consecutive ids.
    mutate(&mut txn, &mut model, 2, 60, 1).unwrap();
    txn.commit(Durability::Immediate).unwrap();
    assert!(pager.stats().log_versions >= 59, "{:?}", pager.stats());
    let writes = vfs.counters().writes;
    let outcome = pager.checkpoint(CheckpointMode::Full).unwrap();
    let checkpoint_writes = vfs.counters().writes - writes;
    assert!(outcome.pages_written >= 59);
    // 16-page segments (two of their pages reserved): runs of up to 14 pages, plus the meta and
    // map writes; one write per page would be over 60.
    assert!(
        checkpoint_writes < 25,
        "{checkpoint_writes} writes for {} pages",
        outcome.pages_written
    );
    check_view(&pager.begin_read().unwrap(), &model, "after the batched checkpoint");
    drop(pager);
    let pager = open_store_roomy(&vfs).unwrap();
    assert_eq!(pager.stats().log_versions, 0);
    check_view(&pager.begin_read().unwrap(), &model, "from the data files alone");
    pager.check_invariants(&claims(&model)).unwrap();
}

/// `allocate_at` puts pages at the ids asked for (a restore's need): across segments, past the
/// page count, kept by commit and reopen, undone by an abort; a reserved or an allocated page is
/// refused, and the free pages skipped over are handed out later.
#[test]
fn allocate_at_places_pages_at_their_ids() {
    let vfs = SimVfs::new(29);
    let pager = open_store(&vfs).unwrap();
    let geometry = pager.geometry();
    let mut model = Model::new();
    // Three user pages, the last two segments away (segments of 16 pages).
    let ids: Vec<PageId> = [5u64, 40, 41]
        .into_iter()
        .map(PageId::new)
        .filter(|&page_id| !geometry.is_reserved(page_id))
        .collect();
    assert_eq!(ids.len(), 3, "the test's ids are user pages");
    let mut txn = pager.begin_write().unwrap();
    for (fill, &page_id) in ids.iter().enumerate() {
        txn.allocate_at(page_id).unwrap();
        txn.write_page(page_id, page(page_id.get(), fill as u64 + 1)).unwrap();
        model.insert(page_id, fill as u64 + 1);
    }
    txn.set_root(0, Some(ids[0])).unwrap(); // the model's convention: root 0 names its lowest page
    assert!(matches!(txn.allocate_at(ids[1]), Err(Error::Misuse(_))), "allocated already");
    let reserved = (0..64).map(PageId::new).find(|&page_id| geometry.is_reserved(page_id)).unwrap();
    assert!(matches!(txn.allocate_at(reserved), Err(Error::ReservedPage { .. })));
    txn.commit(Durability::Immediate).unwrap();
    assert!(pager.stats().page_count > 41);
    check_view(&pager.begin_read().unwrap(), &model, "after the commit");
    pager.check_invariants(&claims(&model)).unwrap();

    // An abort frees what it placed.
    let mut txn = pager.begin_write().unwrap();
    let later = PageId::new(60);
    assert!(!geometry.is_reserved(later));
    txn.allocate_at(later).unwrap();
    txn.write_page(later, page(60, 9)).unwrap();
    txn.abort();
    pager.check_invariants(&claims(&model)).unwrap();

    // A page skipped over is free: plain allocation hands it out.
    let mut txn = pager.begin_write().unwrap();
    let fresh = txn.allocate().unwrap();
    assert!(fresh < ids[1] && !model.contains_key(&fresh), "{fresh} is a skipped free page");
    txn.abort();
    drop(pager);
    let pager = open_store(&vfs).unwrap();
    check_view(&pager.begin_read().unwrap(), &model, "after reopening");
    pager.check_invariants(&claims(&model)).unwrap();
}

/// `PageRead::stream_pages` on a real pager gives each snapshot exactly what `read_page` gives
/// it, whether the version is in the data file (read as runs, around the cache: the pool's
/// reads do not grow), in the log, or in the cache; `visit` returning `false` stops the stream;
/// a page that is no page (a segment's map pages, past the file) fails it.
#[test]
fn streamed_pages_are_what_each_snapshot_reads() {
    use redwood_bufpool::{BufferPool, PoolOptions};
    let vfs = SimVfs::new(31);
    let pager = open_store(&vfs).unwrap();
    let mut model = Model::new();
    let mut txn = pager.begin_write().unwrap();
    mutate(&mut txn, &mut model, 1, 40, 1).unwrap();
    txn.commit(Durability::Immediate).unwrap();
    pager.checkpoint(CheckpointMode::Truncate).unwrap();
    drop(pager);
    let pool = Arc::new(
        BufferPool::new(PoolOptions::new(256 * 4096, redwood_pager::PageSize::DEFAULT)).unwrap(),
    );
    let pager = open_store_with(&vfs, Some(Arc::clone(&pool) as Arc<dyn redwood_pager::PageCache>))
        .unwrap();
    let pages: Vec<PageId> = model.keys().copied().collect();
    let streamed = |view: &dyn PageRead, ids: &[PageId]| -> Vec<Vec<u8>> {
        let mut bodies = Vec::new();
        view.stream_pages(ids, &mut |page| {
            bodies.push(page.body().to_vec());
            true
        })
        .unwrap();
        bodies
    };
    let read = |view: &dyn PageRead, ids: &[PageId]| -> Vec<Vec<u8>> {
        ids.iter().map(|&id| view.read_page(id).unwrap().body().to_vec()).collect()
    };
    // Cold: every page from the data file, none into the cache.
    let old = pager.begin_read().unwrap();
    let before = pool.stats();
    assert_eq!(streamed(&old, &pages), read(&pager.begin_read().unwrap(), &pages));
    let loaded = pool.stats().reads - before.reads;
    assert_eq!(loaded, pages.len() as u64, "only read_page loaded the cache");
    // Newer versions in the log for a newer snapshot; the old one still sees the file's.
    let old_view = read(&old, &pages);
    let mut txn = pager.begin_write().unwrap();
    mutate(&mut txn, &mut model, 2, 0, 3).unwrap();
    txn.commit(Durability::Immediate).unwrap();
    let new = pager.begin_read().unwrap();
    assert_eq!(streamed(&old, &pages), old_view, "the old snapshot streams its versions");
    assert_eq!(streamed(&new, &pages), read(&new, &pages), "the new one streams the log's");
    // A visitor that stops after three pages sees three.
    let mut seen = 0;
    new.stream_pages(&pages, &mut |_| {
        seen += 1;
        seen < 3
    })
    .unwrap();
    assert_eq!(seen, 3);
    // Page 0 (the meta page), pages past the file and ids at the end of the id space (a damaged
    // chain link, say) are refused, as read_page refuses them: errors, never an overflow.
    let beyond = PageId::new(pages.last().unwrap().get() + 1000);
    let (last, before_last) = (PageId::new(u64::MAX), PageId::new(u64::MAX - 1));
    for bad in [PageId::new(0), beyond, last] {
        assert!(new.stream_pages(&[bad], &mut |_| true).is_err(), "{bad} is no data page");
        assert!(new.read_page(bad).is_err());
    }
    assert!(new.stream_pages(&[before_last, last], &mut |_| true).is_err());
    assert!(new.stream_pages(&[last, PageId::new(0)], &mut |_| true).is_err());
}
