//! The whole stack on the simulated disk: a multi-table workload (inserts, large values,
//! removes, a table deletion, checkpoints, durable and non-durable commits) crashes at every
//! sync point, with dropped, torn and reordered sectors; reopening gives exactly the state after
//! a commit at or after the last one known durable, and the integrity check holds.

use std::collections::BTreeMap;
use std::sync::Arc;

use redwood::{CheckpointMode, Database, Durability, Error};
use redwood_pager::io::Vfs;
use redwood_pager::io::sim::{CrashMode, FaultConfig, SimVfs};

use crate::owned;

type Tables = BTreeMap<String, BTreeMap<Vec<u8>, Vec<u8>>>;

fn seed() -> u64 {
    redwood_pager::io::sim::test_seed("facade crash")
}

fn open(vfs: &SimVfs) -> Result<Database, Error> {
    let shared: Arc<dyn Vfs> = Arc::new(vfs.clone());
    Database::builder()
        .cache_bytes(32 * 4096)
        .dirty_pages_max(16)
        .segment_pages(64)
        .create_in(shared, "db")
}

/// Every committed state in order, and how many are known durable.
struct Outcome {
    states: Vec<Tables>,
    durable: usize,
}

fn round(db: &Database, model: &mut Tables, round: u32) -> Result<(), Error> {
    let mut write = db.begin_write()?;
    // Odd rounds are not synced, so the checkpoints (rounds 3 and 7) follow unsynced commits.
    let durability = if round % 2 == 1 { Durability::None } else { Durability::Immediate };
    write.set_durability(durability);
    for table in 0..2u32 {
        let name = format!("t{table}");
        let entries = model.entry(name.clone()).or_default();
        let mut handle = write.open_table(&name)?;
        for item in 0..6u32 {
            let key = format!("{:04}", (round * 7 + item * 13 + table) % 50).into_bytes();
            let size = if item == 0 { 9000 } else { 40 + (item * 31) as usize };
            let value = vec![(round + item) as u8; size];
            handle.insert(&key, &value)?;
            entries.insert(key, value);
        }
        if let Some(victim) = entries.keys().nth((round as usize) % entries.len().max(1)).cloned() {
            handle.remove(&victim)?;
            entries.remove(&victim);
        }
    }
    if round % 5 == 4 {
        write.delete_table("t1")?;
        model.remove("t1");
    }
    write.commit()
}

fn workload(vfs: &SimVfs, rounds: u32) -> Outcome {
    let mut outcome = Outcome { states: vec![Tables::new()], durable: 1 };
    let Ok(db) = open(vfs) else { return outcome };
    let mut model = Tables::new();
    for number in 0..rounds {
        let mut draft = model.clone();
        let result = round(&db, &mut draft, number);
        outcome.states.push(draft.clone());
        if result.is_err() {
            return outcome;
        }
        model = draft;
        if number % 2 == 0 {
            outcome.durable = outcome.states.len();
        }
        if number % 4 == 3 {
            let mode =
                if number % 8 == 3 { CheckpointMode::Passive } else { CheckpointMode::Truncate };
            if db.checkpoint(mode).is_err() {
                return outcome;
            }
            outcome.durable = outcome.states.len();
        }
    }
    outcome
}

fn read_all(db: &Database) -> Tables {
    let read = db.begin_read().unwrap();
    read.list_tables()
        .unwrap()
        .into_iter()
        .map(|name| {
            let table = read.open_table(&name).unwrap();
            let entries = table.range(..).map(|item| owned(item.unwrap())).collect();
            (name, entries)
        })
        .collect()
}

#[test]
fn the_database_survives_a_crash_at_every_sync_point() {
    let base_seed = seed();
    let full = SimVfs::new(base_seed);
    workload(&full, 10);
    let sync_points = full.counters().syncs;
    assert!(sync_points > 15, "{sync_points} sync points");
    let mut verified = 0;
    for freeze_at in 1..=sync_points {
        for (index, mode) in [CrashMode::dropping(), CrashMode::all()].into_iter().enumerate() {
            let run_seed = base_seed ^ (freeze_at << 8) ^ index as u64;
            let vfs = SimVfs::new(run_seed);
            vfs.set_faults(FaultConfig::none().with_freeze_at_sync(freeze_at));
            let outcome = workload(&vfs, 10);
            vfs.crash(mode);
            vfs.set_faults(FaultConfig::none());
            let context = format!("seed {run_seed}, sync {freeze_at}, {mode:?}");
            let db = match open(&vfs) {
                Ok(db) => db,
                Err(Error::Storage(error))
                    if outcome.durable == 1
                        && (error.is_corruption()
                            || matches!(error, redwood_pager::Error::NotADatabase { .. })) =>
                {
                    continue;
                }
                Err(error) => panic!("{context}: reopen: {error}"),
            };
            let found = read_all(&db);
            let candidates = &outcome.states[outcome.durable - 1..];
            assert!(
                candidates.contains(&found),
                "{context}: the state after reopening is no committed one"
            );
            db.check_integrity().unwrap_or_else(|error| panic!("{context}: {error}"));
            verified += 1;
        }
    }
    println!("{verified} crashes reopened and verified out of {}", 2 * sync_points);
    assert!(verified as u64 > sync_points, "most crash points reopen to a state that is checked");
}
