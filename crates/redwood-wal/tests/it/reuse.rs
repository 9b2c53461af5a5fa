//! Pages reused from the free list go to their home location when no commit of the current log
//! generation allocated, freed or logged them (ADR-14, amended): the log carries only the pages
//! a snapshot or a recovered state may still read, a cached image of a page's earlier life is
//! never read again, and a crash at every sync point keeps every acknowledged commit.

use std::sync::Arc;

use redwood_bufpool::{BufferPool, PoolOptions};
use redwood_pager::io::sim::{CrashMode, FaultConfig, SimVfs};
use redwood_pager::{CheckpointMode, Durability, PageCache, PageSize, PageWrite, Pager, Result};
use redwood_wal::Wal;

use crate::pager::{
    Model, Outcome, check_view, open_store_options, open_store_roomy, verify_crash_recovery,
};
use crate::support::{page, seed};

/// Allocates `count` pages filled for `round`.
fn allocate(txn: &mut impl PageWrite, model: &mut Model, round: u64, count: u64) -> Result<()> {
    for n in 0..count {
        let page_id = txn.allocate()?;
        txn.write_page(page_id, page(page_id.get(), round * 1000 + n))?;
        model.insert(page_id, round * 1000 + n);
    }
    txn.set_root(0, model.keys().next().copied())
}

/// Frees the `count` highest pages of the model and rewrites the lowest (the root), so the
/// state after it reads differently from the one before (a free changes no page's bytes).
fn free_highest(
    txn: &mut impl PageWrite,
    model: &mut Model,
    round: u64,
    count: usize,
) -> Result<()> {
    let victims: Vec<_> = model.keys().rev().take(count.min(model.len() - 1)).copied().collect();
    for page_id in victims {
        txn.free(page_id)?;
        model.remove(&page_id);
    }
    let root = *model.keys().next().expect("the root stays");
    txn.write_page(root, page(root.get(), round * 1000 + 999))?;
    model.insert(root, round * 1000 + 999);
    txn.set_root(0, Some(root))
}

/// The log versions the pager indexes after each round of [`reuse_workload`].
type LogVersions = Vec<u64>;

/// 120 new pages; 100 freed; a full checkpoint (the log restarts); 100 allocated again (the
/// freed ones, untouched in the new generation: home); 80 freed (not durably) and 80 allocated
/// again in the same generation (touched: the log); a truncating checkpoint; 70 more.
fn reuse_workload(vfs: &SimVfs, cache: Option<Arc<dyn PageCache>>) -> (Outcome, LogVersions) {
    let mut outcome = Outcome { attempted: vec![Model::new()], durable: 1 };
    let mut versions = Vec::new();
    let Ok(pager) = open_store_options(vfs, cache, None, 1000) else {
        return (outcome, versions);
    };
    let mut model = Model::new();
    type Step = fn(&mut redwood_pager::WriteTxn<'_, Wal>, &mut Model) -> Result<()>;
    let steps: [(Step, Durability, Option<CheckpointMode>); 5] = [
        (|txn, model| allocate(txn, model, 1, 120), Durability::Immediate, None),
        (
            |txn, model| free_highest(txn, model, 2, 100),
            Durability::Immediate,
            Some(CheckpointMode::Full),
        ),
        (|txn, model| allocate(txn, model, 3, 100), Durability::Immediate, None),
        (|txn, model| free_highest(txn, model, 4, 80), Durability::None, None),
        (
            |txn, model| allocate(txn, model, 5, 80),
            Durability::Immediate,
            Some(CheckpointMode::Truncate),
        ),
    ];
    for (step, durability, checkpoint) in steps {
        let Ok(mut txn) = pager.begin_write() else { break };
        if step(&mut txn, &mut model).is_err() {
            break;
        }
        outcome.attempted.push(model.clone());
        if txn.commit(durability).is_err() {
            break;
        }
        if durability == Durability::Immediate {
            outcome.durable = outcome.attempted.len();
        }
        versions.push(pager.stats().log_versions);
        if let Some(mode) = checkpoint {
            if pager.checkpoint(mode).is_err() {
                break;
            }
            outcome.durable = outcome.attempted.len();
        }
        if let Ok(reader) = pager.begin_read() {
            // Every page read after every round: the cache then holds the images of pages
            // that are freed and reused later.
            let check = || check_view(&reader, &model, "after a round");
            if std::panic::catch_unwind(std::panic::AssertUnwindSafe(check)).is_err() {
                break;
            }
        }
    }
    (outcome, versions)
}

fn cache() -> Arc<dyn PageCache> {
    Arc::new(BufferPool::new(PoolOptions::new(512 * 4096, PageSize::DEFAULT)).unwrap())
}

#[test]
fn pages_free_since_the_log_restarted_are_reused_at_their_home_location() {
    let vfs = SimVfs::new(seed("pages_free_since_the_log_restarted_are_reused"));
    let (outcome, versions) = reuse_workload(&vfs, Some(cache()));
    assert_eq!(outcome.attempted.len(), 6, "every round ran");
    // Rounds 1 and 3 log nothing (new pages, then pages free since the restart, all home);
    // round 5 reuses pages round 4 freed in the same generation: they go to the log.
    assert_eq!(versions[0], 0, "new pages go home: {versions:?}");
    assert_eq!(versions[2], 0, "pages free since the restart go home: {versions:?}");
    assert!(versions[4] >= 80, "pages freed in this generation are logged: {versions:?}");
    let pager: Pager<Wal> = open_store_roomy(&vfs).unwrap();
    let last = outcome.attempted.last().unwrap();
    check_view(&pager.begin_read().unwrap(), last, "reopened");
    pager.check_invariants(&crate::pager::claims(last)).unwrap();
}

#[test]
fn a_reader_older_than_the_restart_attempt_keeps_freed_pages_out_of_their_home() {
    let vfs = SimVfs::new(seed("a_reader_older_than_the_restart_attempt"));
    let pager = open_store_options(&vfs, Some(cache()), None, 1000).unwrap();
    let mut model = Model::new();
    let mut txn = pager.begin_write().unwrap();
    allocate(&mut txn, &mut model, 1, 120).unwrap();
    txn.commit(Durability::Immediate).unwrap();
    let before = model.clone();
    let reader = pager.begin_read().unwrap();
    let mut txn = pager.begin_write().unwrap();
    free_highest(&mut txn, &mut model, 2, 100).unwrap();
    txn.commit(Durability::Immediate).unwrap();
    let outcome = pager.checkpoint(CheckpointMode::Full).unwrap();
    assert!(!outcome.log_restarted, "the reader holds the restart back");
    let mut txn = pager.begin_write().unwrap();
    allocate(&mut txn, &mut model, 3, 100).unwrap();
    txn.commit(Durability::Immediate).unwrap();
    assert!(pager.stats().log_versions >= 100, "the reused pages went to the log");
    check_view(&reader, &before, "the old reader still reads the freed pages' old images");
    drop(reader);
    check_view(&pager.begin_read().unwrap(), &model, "a new reader");
}

#[test]
fn pages_reused_at_their_home_location_survive_a_crash_at_every_sync_point() {
    let base_seed = seed("pages_reused_at_their_home_location_survive_a_crash");
    let full = SimVfs::new(base_seed);
    let (outcome, _) = reuse_workload(&full, None);
    assert_eq!(outcome.attempted.len(), 6);
    let sync_points = full.counters().syncs;
    assert!(sync_points > 10, "{sync_points} sync points");
    let modes = [CrashMode::dropping(), CrashMode::tearing(), CrashMode::all()];
    for freeze_at in 1..=sync_points {
        for (mode_index, mode) in modes.iter().enumerate() {
            let run_seed = base_seed ^ (freeze_at << 16) ^ mode_index as u64;
            let vfs = SimVfs::new(run_seed);
            vfs.set_faults(FaultConfig::none().with_freeze_at_sync(freeze_at));
            let (outcome, _) = reuse_workload(&vfs, None);
            vfs.crash(*mode);
            vfs.set_faults(FaultConfig::none());
            let context = format!("seed {run_seed}, sync {freeze_at}, {mode:?}");
            verify_crash_recovery(&vfs, &outcome, &context);
        }
    }
}
