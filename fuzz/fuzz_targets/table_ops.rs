//! Fuzz target: operation sequences against the `redwood` API, checked against a `BTreeMap`
//! model (issue 5). Every insert, remove, get and range scan must agree with the model; aborted
//! transactions must leave no trace; the integrity check must hold after every transaction.
//!
//! Input layout: a stream of operations, each an opcode byte followed by its operands (see
//! [`Op::decode`]). Keys come from a 4-letter alphabet so that overwrites and removes hit; value
//! lengths reach past the inline limit, so overflow chains are exercised too.

#![no_main]

use std::collections::BTreeMap;
use std::ops::Bound;

use libfuzzer_sys::fuzz_target;
use redwood::{CheckpointMode, Database, WriteTransaction};

type Model = BTreeMap<String, BTreeMap<Vec<u8>, Vec<u8>>>;

/// The most operations one input may run, so a single input stays fast.
const OPS_MAX: usize = 2_000;

#[derive(Debug)]
enum Op {
    Insert { table: u8, key: Vec<u8>, value_bytes: usize, fill: u8 },
    Remove { table: u8, index: usize },
    Get { table: u8, key: Vec<u8> },
    Range { table: u8, start: Vec<u8>, end: Vec<u8>, reverse: bool },
    DeleteTable { table: u8 },
    Commit,
    Abort,
    Checkpoint,
}

impl Op {
    /// Decodes one operation from the front of `input`, or `None` at the end.
    fn decode(input: &mut &[u8]) -> Option<Op> {
        let opcode = take(input)?;
        let table = opcode >> 5 & 1;
        Some(match opcode % 16 {
            0..=5 => {
                let key = key(input)?;
                let size = take(input)?;
                // Mostly small values; one in eight is large enough to overflow a 4 KiB page.
                let value_bytes =
                    if size & 7 == 7 { usize::from(size) * 40 } else { usize::from(size) };
                Op::Insert { table, key, value_bytes, fill: take(input)? }
            }
            6 | 7 => Op::Remove { table, index: usize::from(take(input)?) },
            8 => Op::Get { table, key: key(input)? },
            9 | 10 => {
                Op::Range { table, start: key(input)?, end: key(input)?, reverse: opcode & 64 != 0 }
            }
            11 => Op::DeleteTable { table },
            12 | 13 => Op::Commit,
            14 => Op::Abort,
            _ => Op::Checkpoint,
        })
    }
}

fn take(input: &mut &[u8]) -> Option<u8> {
    let (&first, rest) = input.split_first()?;
    *input = rest;
    Some(first)
}

/// A key of one to eight letters from `abcd`, two bits per letter.
fn key(input: &mut &[u8]) -> Option<Vec<u8>> {
    let header = take(input)?;
    let length = usize::from(header & 7) + 1;
    let mut letters = u32::from(header >> 3);
    let mut key = Vec::with_capacity(length);
    for position in 0..length {
        if position % 2 == 1 {
            letters |= u32::from(take(input).unwrap_or(0)) << 8;
        }
        key.push(b'a' + (letters & 3) as u8);
        letters >>= 2;
    }
    Some(key)
}

fn name(table: u8) -> String {
    format!("t{table}")
}

fn value(bytes: usize, fill: u8) -> Vec<u8> {
    (0..bytes).map(|index| fill.wrapping_add(index as u8)).collect()
}

fuzz_target!(|data: &[u8]| {
    // A small cache and small segments keep each run fast, and put eviction and segment growth
    // among what is exercised.
    let db = Database::builder().cache_bytes(1 << 20).segment_pages(256).in_memory().unwrap();
    let mut model = Model::new();
    let mut draft = model.clone();
    let mut write: Option<WriteTransaction<'_>> = None;
    let mut input = data;
    for _ in 0..OPS_MAX {
        let Some(op) = Op::decode(&mut input) else { break };
        let txn = match write.take() {
            Some(txn) => txn,
            None => db.begin_write().unwrap(),
        };
        match op {
            Op::Commit => {
                txn.commit().unwrap();
                model = draft.clone();
                check(&db, &model);
            }
            Op::Abort => {
                txn.abort();
                draft = model.clone();
                check(&db, &model);
            }
            Op::Checkpoint => {
                txn.commit().unwrap();
                model = draft.clone();
                db.checkpoint(CheckpointMode::Full).unwrap();
                check(&db, &model);
            }
            op => {
                let mut txn = txn;
                apply(&mut txn, &mut draft, op);
                write = Some(txn);
            }
        }
    }
    if let Some(txn) = write.take() {
        txn.commit().unwrap();
        model = draft;
    }
    check(&db, &model);
});

/// Applies one table operation to the transaction and the draft model, comparing results.
fn apply(txn: &mut WriteTransaction<'_>, draft: &mut Model, op: Op) {
    match op {
        Op::Insert { table, key, value_bytes, fill } => {
            let value = value(value_bytes, fill);
            let replaced = txn.open_table(&name(table)).unwrap().insert(&key, &value).unwrap();
            let entries = draft.entry(name(table)).or_default();
            assert_eq!(replaced, entries.insert(key, value).is_some());
        }
        Op::Remove { table, index } => {
            let Some(entries) = draft.get_mut(&name(table)) else { return };
            let Some(key) = entries.keys().nth(index % entries.len().max(1)).cloned() else {
                return;
            };
            assert!(txn.open_table(&name(table)).unwrap().remove(&key).unwrap());
            entries.remove(&key);
        }
        Op::Get { table, key } => {
            let Some(entries) = draft.get(&name(table)) else { return };
            let opened = txn.open_table(&name(table)).unwrap();
            let found = opened.get(&key).unwrap();
            assert_eq!(found.as_deref(), entries.get(&key).map(Vec::as_slice));
        }
        Op::Range { table, start, end, reverse } => {
            let Some(entries) = draft.get(&name(table)) else { return };
            if start > end {
                return; // BTreeMap panics on inverted ranges; the tree's answer is tested elsewhere.
            }
            let bounds = (Bound::Included(start.as_slice()), Bound::Excluded(end.as_slice()));
            let table = txn.open_table(&name(table)).unwrap();
            let scan = table.range(bounds);
            let scanned: Vec<(Vec<u8>, Vec<u8>)> = if reverse {
                scan.rev().map(|entry| owned(entry.unwrap())).collect()
            } else {
                scan.map(|entry| owned(entry.unwrap())).collect()
            };
            let model_range = entries.range::<[u8], _>(bounds).map(|(k, v)| (k.clone(), v.clone()));
            let expected: Vec<_> =
                if reverse { model_range.rev().collect() } else { model_range.collect() };
            assert_eq!(scanned, expected);
        }
        Op::DeleteTable { table } => {
            assert_eq!(
                txn.delete_table(&name(table)).unwrap(),
                draft.remove(&name(table)).is_some()
            );
        }
        Op::Commit | Op::Abort | Op::Checkpoint => unreachable!("handled by the caller"),
    }
}

/// The committed state matches the model and passes the integrity check.
fn check(db: &Database, model: &Model) {
    db.check_integrity().unwrap();
    let read = db.begin_read().unwrap();
    assert_eq!(read.list_tables().unwrap(), model.keys().cloned().collect::<Vec<_>>());
    for (table_name, entries) in model {
        let table = read.open_table(table_name).unwrap();
        assert_eq!(table.len(), entries.len() as u64);
        let scanned: Vec<(Vec<u8>, Vec<u8>)> = table.range(..).map(|entry| owned(entry.unwrap())).collect();
        let expected: Vec<(Vec<u8>, Vec<u8>)> =
            entries.iter().map(|(key, value)| (key.clone(), value.clone())).collect();
        assert_eq!(scanned, expected);
    }
}

/// A scanned entry as owned bytes, to compare with the model.
fn owned((key, value): (redwood::AccessGuard<'_>, redwood::AccessGuard<'_>)) -> (Vec<u8>, Vec<u8>) {
    (key.to_vec(), value.to_vec())
}
