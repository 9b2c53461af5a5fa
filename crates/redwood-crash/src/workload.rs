//! The seeded workload of one cycle: write transactions over several tables (inserts, updates,
//! removes, large values in overflow chains, table deletion, savepoints and rollbacks,
//! aborts), with `Immediate` and `None` durability; explicit checkpoints of every mode;
//! compactions (`Database::compact`: the tables rewritten into the lowest free pages, then a
//! shrinking checkpoint; some stopped partway by their progress callback); and readers that hold a snapshot across later commits and must still
//! see it. Every step is checked against the model as it happens.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use redwood::{CheckpointMode, Database, Durability, ReadTransaction};

use crate::model::{History, ReadFailure, Tables, read_snapshot};

/// Tables the workload uses.
const TABLES: u32 = 4;
/// Distinct keys per table, few enough that updates and removes find their keys.
const KEYS_PER_TABLE: u32 = 1_000;
/// Readers held open at once.
const READERS_MAX: usize = 2;

/// Why the workload stopped early.
#[derive(Debug)]
pub enum Stop {
    /// A call failed (as injected faults make them): the crash comes next.
    Failed(redwood::Error),
    /// The database contradicted the model: a violation.
    Violation(String),
}

impl From<redwood::Error> for Stop {
    fn from(error: redwood::Error) -> Self {
        Stop::Failed(error)
    }
}

impl From<ReadFailure> for Stop {
    fn from(failure: ReadFailure) -> Self {
        match failure {
            ReadFailure::Engine(error) => Stop::Failed(error),
            ReadFailure::Inconsistent(message) => Stop::Violation(message),
        }
    }
}

/// One cycle's workload: the generator and the readers it holds.
pub struct Workload<'db> {
    db: &'db Database,
    readers: Vec<(ReadTransaction<'db>, Tables)>,
}

impl<'db> Workload<'db> {
    /// A workload on `db`.
    pub fn new(db: &'db Database) -> Self {
        Self { db, readers: Vec::new() }
    }

    /// Runs `steps` seeded steps, recording each commit's state in `history` and each step in
    /// `trace`. Stops at the first failure or contradiction.
    pub fn run(
        &mut self,
        rng: &mut ChaCha8Rng,
        history: &mut History,
        steps: u32,
        trace: &mut Vec<String>,
    ) -> Result<(), Stop> {
        for step in 0..steps {
            match rng.random_range(0..100) {
                0..8 => self.checkpoint(rng, history, trace)?,
                8..11 => self.compact(rng, history, step, trace)?,
                11..18 if self.readers.len() < READERS_MAX => {
                    let reader = self.db.begin_read()?;
                    self.readers.push((reader, history.latest().clone()));
                    trace.push(format!("step {step}: reader opened"));
                }
                18..25 if !self.readers.is_empty() => {
                    self.verify_oldest_reader()?;
                    trace.push(format!("step {step}: reader verified"));
                }
                _ => self.transaction(rng, history, step, trace)?,
            }
        }
        // Every reader still open is verified too: the ones held longest matter most.
        while !self.readers.is_empty() {
            self.verify_oldest_reader()?;
            trace.push("reader verified at the end".to_owned());
        }
        Ok(())
    }

    /// Checks the oldest open reader still sees exactly its snapshot, and closes it.
    fn verify_oldest_reader(&mut self) -> Result<(), Stop> {
        let (reader, expected) = self.readers.remove(0);
        if read_snapshot(&reader)? != expected {
            return Err(Stop::Violation("a reader's snapshot changed under later commits".into()));
        }
        Ok(())
    }

    fn checkpoint(
        &self,
        rng: &mut ChaCha8Rng,
        history: &mut History,
        trace: &mut Vec<String>,
    ) -> Result<(), Stop> {
        let mode = match rng.random_range(0..3) {
            0 => CheckpointMode::Passive,
            1 => CheckpointMode::Full,
            _ => CheckpointMode::Truncate,
        };
        let outcome = self.db.checkpoint(mode);
        trace.push(format!("checkpoint {mode:?}: {}", verdict(&outcome)));
        outcome?;
        // A checkpoint syncs the log first: everything committed so far is durable.
        history.durable = history.states.len() - 1;
        Ok(())
    }

    /// A compaction: it changes where pages lie, never what the tables hold, so the model's
    /// state stays; once it succeeds its final checkpoint has synced the log, so everything
    /// committed before it is durable. The open readers must keep their snapshots through it
    /// (they are verified later, as always).
    fn compact(
        &self,
        rng: &mut ChaCha8Rng,
        history: &mut History,
        step: u32,
        trace: &mut Vec<String>,
    ) -> Result<(), Stop> {
        // A third of them stopped by their progress callback after a few batches.
        let stop_after: Option<u32> = rng.random_bool(0.3).then(|| rng.random_range(0..4));
        let mut batches = 0u32;
        let outcome = self.db.compact_stoppable(|_| {
            batches += 1;
            match stop_after {
                Some(limit) if batches > limit => std::ops::ControlFlow::Break(()),
                _ => std::ops::ControlFlow::Continue(()),
            }
        });
        let summary = match &outcome {
            Ok(report) => format!(
                "{} tables rewritten, {} -> {} bytes{}{}",
                report.tables,
                report.bytes_before,
                report.bytes_after,
                if report.held_back { ", shrink held back" } else { "" },
                if report.interrupted { ", stopped" } else { "" }
            ),
            Err(error) => format!("failed ({error})"),
        };
        trace.push(format!("step {step}: compaction: {summary}"));
        let report = outcome?;
        let latest = history.latest();
        let entries: u64 = latest.values().map(|entries| entries.len() as u64).sum();
        // The last rewrite copied some of the tables (those it found sparse) or all of them.
        let counts = report.tables <= latest.len() as u64 && report.entries <= entries;
        check(counts && report.passes <= 2, "compaction's counts")?;
        if read_snapshot(&self.db.begin_read()?)? != *latest {
            return Err(Stop::Violation("the tables differ after a compaction".into()));
        }
        // A finished compaction's checkpoint synced everything before it; a stopped one may
        // have committed nothing.
        if !report.interrupted {
            history.durable = history.states.len() - 1;
        }
        Ok(())
    }

    fn transaction(
        &self,
        rng: &mut ChaCha8Rng,
        history: &mut History,
        step: u32,
        trace: &mut Vec<String>,
    ) -> Result<(), Stop> {
        let immediate = rng.random_bool(0.75);
        let mut write = self.db.begin_write()?;
        write.set_durability(if immediate { Durability::Immediate } else { Durability::None });
        let mut draft = history.latest().clone();
        let mut savepoints: Vec<(redwood::Savepoint, Tables)> = Vec::new();
        let operations = rng.random_range(1..=8);
        for _ in 0..operations {
            let name = format!("t{}", rng.random_range(0..TABLES));
            match rng.random_range(0..100) {
                0..62 => {
                    let key = format!("k{:04}", rng.random_range(0..KEYS_PER_TABLE)).into_bytes();
                    let value = value(rng);
                    let replaced = write.open_table(&name)?.insert(&key, &value)?;
                    let expected = draft.entry(name).or_default().insert(key, value).is_some();
                    check(replaced == expected, "insert's replaced flag")?;
                }
                62..87 => {
                    let Some(entries) = draft.get_mut(&name) else { continue };
                    let Some(key) = nth_key(entries, rng) else { continue };
                    check(write.open_table(&name)?.remove(&key)?, "remove of a present key")?;
                    entries.remove(&key);
                }
                87..89 => {
                    let existed = write.delete_table(&name)?;
                    check(existed == draft.remove(&name).is_some(), "delete_table's result")?;
                }
                89..95 => savepoints.push((write.savepoint(), draft.clone())),
                _ => {
                    if savepoints.is_empty() {
                        continue;
                    }
                    let index = rng.random_range(0..savepoints.len());
                    write.rollback_to(&savepoints[index].0)?;
                    draft = savepoints[index].1.clone();
                    savepoints.truncate(index + 1);
                }
            }
        }
        if rng.random_bool(0.05) {
            write.abort();
            trace.push(format!("step {step}: aborted {operations} operations"));
            return Ok(());
        }
        let checkpoints_before = self.db.stats().checkpoints;
        let result = write.commit();
        let triggered = self.db.stats().checkpoints - checkpoints_before;
        trace.push(format!(
            "step {step}: commit of {operations} operations ({}): {}{}",
            if immediate { "immediate" } else { "none" },
            verdict(&result),
            if triggered > 0 { ", then a triggered checkpoint" } else { "" }
        ));
        // A failed commit may still have reached the disk: its state is a candidate too.
        history.states.push(draft);
        result?;
        if immediate {
            history.durable = history.states.len() - 1;
            history.acked += 1;
        }
        Ok(())
    }
}

/// A value: mostly small, sometimes long enough for an overflow chain.
fn value(rng: &mut ChaCha8Rng) -> Vec<u8> {
    let length = if rng.random_bool(0.08) {
        rng.random_range(2_000..40_000)
    } else {
        rng.random_range(0..300)
    };
    let fill: u8 = rng.random();
    (0..length).map(|index| fill.wrapping_add((index % 251) as u8)).collect()
}

fn nth_key(
    entries: &std::collections::BTreeMap<Vec<u8>, Vec<u8>>,
    rng: &mut ChaCha8Rng,
) -> Option<Vec<u8>> {
    if entries.is_empty() {
        return None;
    }
    entries.keys().nth(rng.random_range(0..entries.len())).cloned()
}

fn check(holds: bool, what: &str) -> Result<(), Stop> {
    if holds { Ok(()) } else { Err(Stop::Violation(format!("{what} disagrees with the model"))) }
}

fn verdict<T>(result: &redwood::Result<T>) -> String {
    match result {
        Ok(_) => "ok".to_owned(),
        Err(error) => format!("failed ({error})"),
    }
}
