//! Model-based test of the facade: random inserts, overwrites, removes, range scans (every bound
//! kind, both directions, inside write transactions and from snapshots), savepoints and
//! rollbacks, table creation and deletion across three tables, committed or aborted, with reopens, against one `BTreeMap` per
//! table; the integrity check holds after every transaction.

use std::collections::BTreeMap;
use std::ops::Bound;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use redwood::Database;

use crate::owned;

type Tables = BTreeMap<String, BTreeMap<Vec<u8>, Vec<u8>>>;

#[derive(Clone, Debug)]
enum Op {
    Insert(u8, Vec<u8>, Vec<u8>),
    Remove(u8, usize),
    Delete(u8),
    Range(u8, Bound<Vec<u8>>, Bound<Vec<u8>>, bool),
    Savepoint,
    /// Roll back to the savepoint at this index (mod the number taken) of the open ones.
    Rollback(usize),
}

fn bound() -> impl Strategy<Value = Bound<Vec<u8>>> {
    let key = proptest::collection::vec(0u8..16, 0..4);
    prop_oneof![
        Just(Bound::Unbounded),
        key.clone().prop_map(Bound::Included),
        key.prop_map(Bound::Excluded),
    ]
}

/// What a scan of `entries` over the bounds yields, in order (reversed if `reverse`); empty for
/// inverted bounds, where `BTreeMap::range` would panic.
fn expected(
    entries: &BTreeMap<Vec<u8>, Vec<u8>>,
    lower: &Bound<Vec<u8>>,
    upper: &Bound<Vec<u8>>,
    reverse: bool,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    let above = |key: &Vec<u8>| match lower {
        Bound::Unbounded => true,
        Bound::Included(low) => key >= low,
        Bound::Excluded(low) => key > low,
    };
    let below = |key: &Vec<u8>| match upper {
        Bound::Unbounded => true,
        Bound::Included(high) => key <= high,
        Bound::Excluded(high) => key < high,
    };
    let mut found: Vec<_> = entries
        .iter()
        .filter(|(key, _)| above(key) && below(key))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    if reverse {
        found.reverse();
    }
    found
}

fn as_slices(bound: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    bound.as_ref().map(Vec::as_slice)
}

/// Collects a scan, forwards or backwards.
fn collect<'a>(
    scan: impl DoubleEndedIterator<
        Item = redwood::Result<(redwood::AccessGuard<'a>, redwood::AccessGuard<'a>)>,
    >,
    reverse: bool,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    if reverse {
        scan.rev().map(|item| owned(item.unwrap())).collect()
    } else {
        scan.map(|item| owned(item.unwrap())).collect()
    }
}

#[derive(Clone, Debug)]
enum Step {
    Transaction(Vec<Op>, bool),
    Reopen,
    /// A scan from a read transaction.
    Scan(u8, Bound<Vec<u8>>, Bound<Vec<u8>>, bool),
}

fn step() -> impl Strategy<Value = Step> {
    let op = prop_oneof![
        8 => (0u8..3, proptest::collection::vec(0u8..16, 1..4), proptest::collection::vec(any::<u8>(), 0..200))
            .prop_map(|(table, key, value)| Op::Insert(table, key, value)),
        3 => (0u8..3, any::<usize>()).prop_map(|(table, index)| Op::Remove(table, index)),
        1 => (0u8..3).prop_map(Op::Delete),
        2 => (0u8..3, bound(), bound(), any::<bool>())
            .prop_map(|(table, lower, upper, reverse)| Op::Range(table, lower, upper, reverse)),
        1 => Just(Op::Savepoint),
        1 => any::<usize>().prop_map(Op::Rollback),
    ];
    prop_oneof![
        8 => (proptest::collection::vec(op, 1..30), proptest::bool::weighted(0.8)).prop_map(|(ops, commit)| Step::Transaction(ops, commit)),
        1 => Just(Step::Reopen),
        2 => (0u8..3, bound(), bound(), any::<bool>())
            .prop_map(|(table, lower, upper, reverse)| Step::Scan(table, lower, upper, reverse)),
    ]
}

fn name(table: u8) -> String {
    format!("table{table}")
}

fn check(db: &Database, model: &Tables) -> Result<(), TestCaseError> {
    db.check_integrity().map_err(|error| TestCaseError::fail(error.to_string()))?;
    let read = db.begin_read().unwrap();
    prop_assert_eq!(read.list_tables().unwrap(), model.keys().cloned().collect::<Vec<_>>());
    for (table_name, entries) in model {
        let table = read.open_table(table_name).unwrap();
        prop_assert_eq!(table.len(), entries.len() as u64);
        let scanned: Vec<(Vec<u8>, Vec<u8>)> =
            table.range(..).map(|item| owned(item.unwrap())).collect();
        prop_assert_eq!(scanned, entries.clone().into_iter().collect::<Vec<_>>());
    }
    Ok(())
}

fn apply(db: &Database, model: &mut Tables, ops: &[Op], commit: bool) -> Result<(), TestCaseError> {
    let mut draft = model.clone();
    let mut write = db.begin_write().unwrap();
    let mut savepoints: Vec<(redwood::Savepoint, Tables)> = Vec::new();
    for op in ops {
        match op {
            Op::Insert(table, key, value) => {
                let replaced = write.open_table(&name(*table)).unwrap().insert(key, value).unwrap();
                let entries = draft.entry(name(*table)).or_default();
                prop_assert_eq!(replaced, entries.insert(key.clone(), value.clone()).is_some());
            }
            Op::Remove(table, index) => {
                let Some(entries) = draft.get_mut(&name(*table)) else { continue };
                let Some(key) = entries.keys().nth(index % entries.len().max(1)).cloned() else {
                    continue;
                };
                prop_assert!(write.open_table(&name(*table)).unwrap().remove(&key).unwrap());
                entries.remove(&key);
            }
            Op::Delete(table) => {
                let existed = write.delete_table(&name(*table)).unwrap();
                prop_assert_eq!(existed, draft.remove(&name(*table)).is_some());
            }
            Op::Savepoint => savepoints.push((write.savepoint(), draft.clone())),
            Op::Rollback(index) => {
                if savepoints.is_empty() {
                    continue;
                }
                let index = index % savepoints.len();
                write.rollback_to(&savepoints[index].0).unwrap();
                draft = savepoints[index].1.clone();
                savepoints.truncate(index + 1);
            }
            Op::Range(table, lower, upper, reverse) => {
                let table_handle = write.open_table(&name(*table)).unwrap();
                let scan = table_handle.range((as_slices(lower), as_slices(upper)));
                let entries = draft.entry(name(*table)).or_default();
                prop_assert_eq!(collect(scan, *reverse), expected(entries, lower, upper, *reverse));
            }
        }
    }
    if commit {
        write.commit().unwrap();
        *model = draft;
    } else {
        write.abort();
    }
    Ok(())
}

#[test]
fn the_database_matches_a_model() {
    let seed = redwood_pager::io::sim::test_seed("the_database_matches_a_model");
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let config = Config { cases: 24, failure_persistence: None, ..Config::default() };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes));
    runner
        .run(&proptest::collection::vec(step(), 1..20), |steps| {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("model.redwood");
            let builder = || Database::builder().cache_bytes(16 * 4096).dirty_pages_max(8);
            let mut db = builder().create(&path).unwrap();
            let mut model = Tables::new();
            for step in &steps {
                match step {
                    Step::Transaction(ops, commit) => apply(&db, &mut model, ops, *commit)?,
                    Step::Reopen => {
                        drop(db);
                        db = builder().open(&path).unwrap();
                    }
                    Step::Scan(table, lower, upper, reverse) => {
                        let read = db.begin_read().unwrap();
                        let Some(entries) = model.get(&name(*table)) else {
                            let missing = read.open_table(&name(*table));
                            prop_assert!(matches!(missing, Err(redwood::Error::TableNotFound(_))));
                            continue;
                        };
                        let table_handle = read.open_table(&name(*table)).unwrap();
                        let scan = table_handle.range((as_slices(lower), as_slices(upper)));
                        let want = expected(entries, lower, upper, *reverse);
                        prop_assert_eq!(collect(scan, *reverse), want);
                    }
                }
                check(&db, &model)?;
            }
            Ok(())
        })
        .unwrap();
}
