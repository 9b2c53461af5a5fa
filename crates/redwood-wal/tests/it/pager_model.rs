//! Model-based test of the transactional page store: random transactions (new pages,
//! overwrites, frees, savepoints and rollbacks; committed durably or not, or aborted), readers
//! opened and closed at random points, random checkpoints of every mode and reopens. Every open
//! reader must see exactly the state it began on, a new reader exactly the committed state, and
//! the invariant check must hold with the model's pages as claims.

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use redwood_pager::io::sim::SimVfs;
use redwood_pager::{CheckpointMode, Durability, PageWrite, Pager, ReadTxn, Savepoint, WriteTxn};
use redwood_wal::Wal;

use std::sync::Arc;

use redwood_bufpool::{BufferPool, PoolOptions};
use redwood_pager::PageSize;

use crate::pager::{Model, check_view, claims, open_store_with};
use crate::support::{page, seed};

#[derive(Clone, Debug)]
enum Step {
    New(u8),
    Overwrite(usize, u64),
    Free(usize),
    Savepoint,
    RollbackToLast,
}

#[derive(Clone, Debug)]
enum Op {
    Transaction(Vec<Step>, Option<Durability>),
    BeginReader,
    EndReader(usize),
    Checkpoint(CheckpointMode),
    Reopen,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (1..4u8).prop_map(Step::New),
        4 => (any::<usize>(), 1..1000u64).prop_map(|(index, fill)| Step::Overwrite(index, fill)),
        2 => any::<usize>().prop_map(Step::Free),
        1 => Just(Step::Savepoint),
        1 => Just(Step::RollbackToLast),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let durability =
        prop_oneof![Just(Some(Durability::Immediate)), Just(Some(Durability::None)), Just(None)];
    let mode = prop_oneof![
        Just(CheckpointMode::Passive),
        Just(CheckpointMode::Full),
        Just(CheckpointMode::Truncate)
    ];
    prop_oneof![
        6 => (proptest::collection::vec(step(), 1..8), durability).prop_map(|(steps, end)| Op::Transaction(steps, end)),
        2 => Just(Op::BeginReader),
        2 => any::<usize>().prop_map(Op::EndReader),
        2 => mode.prop_map(Op::Checkpoint),
        1 => Just(Op::Reopen),
    ]
}

/// The transaction's own view, with its savepoints.
struct Draft {
    model: Model,
    savepoints: Vec<(Savepoint, Model)>,
}

fn apply_step(
    txn: &mut WriteTxn<'_, Wal>,
    draft: &mut Draft,
    step: &Step,
) -> Result<(), TestCaseError> {
    let pick = |model: &Model, index: usize| model.keys().nth(index % model.len().max(1)).copied();
    match *step {
        Step::New(count) => {
            for _ in 0..count {
                let page_id = txn.allocate().unwrap();
                prop_assert!(!draft.model.contains_key(&page_id), "{page_id} handed out twice");
                txn.write_page(page_id, page(page_id.get(), 7)).unwrap();
                draft.model.insert(page_id, 7);
            }
        }
        Step::Overwrite(index, fill) => {
            if let Some(page_id) = pick(&draft.model, index) {
                txn.write_page(page_id, page(page_id.get(), fill)).unwrap();
                draft.model.insert(page_id, fill);
            }
        }
        Step::Free(index) => {
            if let Some(victim) = pick(&draft.model, index) {
                draft.model.remove(&victim);
                txn.set_root(0, draft.model.keys().next().copied()).unwrap();
                txn.free(victim).unwrap();
            }
        }
        Step::Savepoint => {
            let savepoint = txn.savepoint();
            draft.savepoints.push((savepoint, draft.model.clone()));
        }
        Step::RollbackToLast => {
            if let Some((savepoint, model)) = draft.savepoints.last() {
                txn.rollback_to(*savepoint).unwrap();
                draft.model = model.clone();
            }
        }
    }
    txn.set_root(0, draft.model.keys().next().copied()).unwrap();
    check_view(txn, &draft.model, "the writer's own view");
    Ok(())
}

fn run_transaction(
    pager: &Pager<Wal>,
    committed: &mut Model,
    steps: &[Step],
    end: Option<Durability>,
) -> Result<(), TestCaseError> {
    let mut txn = pager.begin_write().unwrap();
    let mut draft = Draft { model: committed.clone(), savepoints: Vec::new() };
    for step in steps {
        apply_step(&mut txn, &mut draft, step)?;
    }
    match end {
        Some(durability) => {
            txn.commit(durability).unwrap();
            *committed = draft.model;
        }
        None => txn.abort(),
    }
    Ok(())
}

/// Runs ops until a reopen (or the end); returns how many ops it consumed.
fn run_epoch(
    vfs: &SimVfs,
    committed: &mut Model,
    ops: &[Op],
    cache: Option<&Arc<BufferPool>>,
) -> Result<usize, TestCaseError> {
    let cache = cache.map(|pool| Arc::clone(pool) as Arc<dyn redwood_pager::PageCache>);
    let pager = open_store_with(vfs, cache).unwrap();
    check_view(&pager.begin_read().unwrap(), committed, "after opening");
    let mut readers: Vec<(ReadTxn<'_, Wal>, Model)> = Vec::new();
    for (index, op) in ops.iter().enumerate() {
        match op {
            Op::Transaction(steps, end) => run_transaction(&pager, committed, steps, *end)?,
            Op::BeginReader => readers.push((pager.begin_read().unwrap(), committed.clone())),
            Op::EndReader(index) => {
                if !readers.is_empty() {
                    let position = index % readers.len();
                    readers.remove(position);
                }
            }
            Op::Checkpoint(mode) => {
                pager.checkpoint(*mode).unwrap();
            }
            Op::Reopen => return Ok(index + 1),
        }
        for (reader, model) in &readers {
            check_view(reader, model, "an open reader");
        }
        check_view(&pager.begin_read().unwrap(), committed, "a new reader");
        if let Err(error) = pager.check_invariants(&claims(committed)) {
            prop_assert!(false, "after {op:?}: {error}");
        }
    }
    Ok(ops.len())
}

/// Runs the model over `cases` random programs, each epoch (between reopens) with a fresh pool
/// of `cache_frames` frames under the pager if given; returns the pools' total hits.
fn run_model(test: &str, cases: u32, cache_frames: Option<u64>) -> u64 {
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed(test).to_le_bytes());
    let config = Config { cases, failure_persistence: None, ..Config::default() };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes));
    let hits = std::sync::atomic::AtomicU64::new(0);
    runner
        .run(&proptest::collection::vec(op(), 1..40), |ops| {
            let vfs = SimVfs::new(1);
            let mut committed = Model::new();
            let mut done = 0;
            while done < ops.len() {
                let pool = cache_frames.map(|frames| {
                    Arc::new(
                        BufferPool::new(PoolOptions::new(frames * 4096, PageSize::DEFAULT))
                            .unwrap(),
                    )
                });
                done += run_epoch(&vfs, &mut committed, &ops[done..], pool.as_ref())?;
                if let Some(pool) = pool {
                    hits.fetch_add(pool.stats().hits, std::sync::atomic::Ordering::Relaxed);
                    pool.check_invariants().map_err(TestCaseError::fail)?;
                }
            }
            Ok(())
        })
        .unwrap();
    hits.into_inner()
}

#[test]
fn the_pager_matches_a_model() {
    run_model("the_pager_matches_a_model", 48, None);
}

/// The same with a four-frame buffer pool under every read: constant eviction, and every
/// checkpoint invalidating the data-file versions it rewrites. A stale cached version would show
/// as a reader seeing the wrong bytes.
#[test]
fn the_pager_over_a_small_cache_matches_a_model() {
    let hits = run_model("the_pager_over_a_small_cache_matches_a_model", 48, Some(4));
    assert!(hits > 0, "the cache served reads");
}

/// With a pool that holds every page, cached versions live long: a data-file version that a
/// checkpoint rewrote and did not invalidate would be served stale.
#[test]
fn the_pager_over_a_cache_holding_everything_matches_a_model() {
    let hits =
        run_model("the_pager_over_a_cache_holding_everything_matches_a_model", 48, Some(256));
    assert!(hits > 0, "the cache served reads");
}
