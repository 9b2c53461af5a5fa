//! The rows of the benchmark and how one row runs against one engine.
//!
//! The rows follow redb's published harness, plus YCSB A–F, a backup and a large-value row.
//! Counts scale with `--scale` ([`Plan::new`]). Each row verifies what it reads (every key
//! present, every count right), so a store that skipped work would fail the run, not win it.

use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use anyhow::{Context, Result, ensure};
use rand::{Rng, seq::SliceRandom};
use serde::{Deserialize, Serialize};

use crate::{
    data::{DataSet, Key, LARGE_VALUE_BYTES, digest},
    engines::{Engine, Entry},
};

/// One row of the report, in run order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Row {
    /// The load set in one transaction.
    BulkLoad,
    /// Single-entry transactions, each durable.
    IndividualWrites,
    /// Transactions of 1,000 entries each.
    BatchWrites,
    /// The store's own entry count.
    Len,
    /// Every loaded key once, in random order, on one thread.
    RandomReads,
    /// The same again, with warm caches.
    RandomReadsAgain,
    /// Range reads of 10 entries from random loaded keys.
    RangeReads,
    /// Every loaded key once, split over 1 thread.
    Reads1Thread,
    /// ... over 2 threads.
    Reads2Threads,
    /// ... over 4 threads.
    Reads4Threads,
    /// YCSB A: 50% reads, 50% updates.
    YcsbA,
    /// YCSB B: 95% reads, 5% updates.
    YcsbB,
    /// YCSB C: reads only.
    YcsbC,
    /// YCSB D: 95% reads of recent inserts, 5% inserts.
    YcsbD,
    /// YCSB E: 95% short scans, 5% inserts.
    YcsbE,
    /// YCSB F: 50% reads, 50% read-modify-writes.
    YcsbF,
    /// A consistent backup of the database to a new file, synced (see
    /// [`crate::engines::backup_note`]).
    Backup,
    /// Every other loaded key removed, in one transaction.
    RemoveHalf,
    /// The store's compaction (see [`crate::engines::compaction_note`]).
    Compact,
    /// 2 MB values, each in its own durable transaction.
    LargeWrites,
    /// The 2 MB values read back.
    LargeReads,
}

impl Row {
    /// Every row, in run order.
    pub const ALL: [Row; 21] = [
        Row::BulkLoad,
        Row::IndividualWrites,
        Row::BatchWrites,
        Row::Len,
        Row::RandomReads,
        Row::RandomReadsAgain,
        Row::RangeReads,
        Row::Reads1Thread,
        Row::Reads2Threads,
        Row::Reads4Threads,
        Row::YcsbA,
        Row::YcsbB,
        Row::YcsbC,
        Row::YcsbD,
        Row::YcsbE,
        Row::YcsbF,
        Row::Backup,
        Row::RemoveHalf,
        Row::Compact,
        Row::LargeWrites,
        Row::LargeReads,
    ];

    /// The row's name in reports and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Row::BulkLoad => "bulk_load",
            Row::IndividualWrites => "individual_writes",
            Row::BatchWrites => "batch_writes",
            Row::Len => "len",
            Row::RandomReads => "random_reads",
            Row::RandomReadsAgain => "random_reads_again",
            Row::RangeReads => "range_reads",
            Row::Reads1Thread => "reads_1_thread",
            Row::Reads2Threads => "reads_2_threads",
            Row::Reads4Threads => "reads_4_threads",
            Row::YcsbA => "ycsb_a",
            Row::YcsbB => "ycsb_b",
            Row::YcsbC => "ycsb_c",
            Row::YcsbD => "ycsb_d",
            Row::YcsbE => "ycsb_e",
            Row::YcsbF => "ycsb_f",
            Row::Backup => "backup",
            Row::RemoveHalf => "remove_half",
            Row::Compact => "compact",
            Row::LargeWrites => "large_writes",
            Row::LargeReads => "large_reads",
        }
    }

    /// The row named `name`.
    pub fn parse(name: &str) -> Option<Row> {
        Row::ALL.into_iter().find(|row| row.name() == name)
    }

    /// What the row does at `plan`'s counts, for the report.
    pub fn describe(self, plan: &Plan) -> String {
        let n = plan.entries;
        match self {
            Row::BulkLoad => format!("{n} entries in one transaction"),
            Row::IndividualWrites => {
                format!("{} single-entry transactions, each durable", plan.individual_writes)
            }
            Row::BatchWrites => {
                format!("{} transactions of {} entries", plan.batches, plan.batch_entries)
            }
            Row::Len => "count the entries".into(),
            Row::RandomReads => format!("{n} random reads"),
            Row::RandomReadsAgain => format!("{n} random reads, again"),
            Row::RangeReads => format!("{} range reads of 10 entries", plan.range_reads),
            Row::Reads1Thread => format!("{n} random reads on 1 thread"),
            Row::Reads2Threads => format!("{n} random reads on 2 threads"),
            Row::Reads4Threads => format!("{n} random reads on 4 threads"),
            Row::YcsbA => format!("YCSB A, {} ops: 50% read, 50% update", plan.ycsb_ops),
            Row::YcsbB => format!("YCSB B, {} ops: 95% read, 5% update", plan.ycsb_ops),
            Row::YcsbC => format!("YCSB C, {} ops: 100% read", plan.ycsb_ops),
            Row::YcsbD => format!("YCSB D, {} ops: 95% read latest, 5% insert", plan.ycsb_ops),
            Row::YcsbE => format!("YCSB E, {} ops: 95% scan (1-100), 5% insert", plan.ycsb_ops),
            Row::YcsbF => format!("YCSB F, {} ops: 50% read, 50% read-modify-write", plan.ycsb_ops),
            Row::Backup => "back the database up to a new file, synced".into(),
            Row::RemoveHalf => format!("remove {} entries in one transaction", n.div_ceil(2)),
            Row::Compact => "the store's compaction".into(),
            Row::LargeWrites => format!(
                "{} values of {} MB, one durable transaction each",
                plan.large_values,
                LARGE_VALUE_BYTES / 1_000_000
            ),
            Row::LargeReads => format!("read the {} large values back", plan.large_values),
        }
    }
}

/// The counts of one run, from `--scale` (1.0 is the full run).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Entries in the load set (1,000,000 at scale 1).
    pub entries: usize,
    /// Single-entry durable transactions (1,000).
    pub individual_writes: usize,
    /// Batched transactions (100) ...
    pub batches: usize,
    /// ... of this many entries (1,000).
    pub batch_entries: usize,
    /// Range reads of 10 entries (500,000).
    pub range_reads: usize,
    /// Operations per YCSB workload (20,000).
    pub ycsb_ops: usize,
    /// 2 MB values (1,000).
    pub large_values: usize,
}

impl Plan {
    /// The counts at `scale`, each at least 1 (at least 10 for the load set).
    pub fn new(scale: f64) -> Plan {
        let at = |full: f64| ((full * scale).round() as usize).max(1);
        Plan {
            entries: at(1_000_000.0).max(10),
            individual_writes: at(1_000.0),
            batches: at(100.0),
            batch_entries: 1_000,
            range_reads: at(500_000.0),
            ycsb_ops: at(20_000.0),
            large_values: at(1_000.0),
        }
    }
}

/// Stream numbers of [`DataSet::extra_keys`], one per row that inserts new keys.
mod stream {
    pub const INDIVIDUAL: u64 = 1;
    pub const BATCH: u64 = 2;
    pub const YCSB_INSERTS: u64 = 3;
    pub const LARGE: u64 = 4;
}

/// One engine's run through the rows: the engine and the keys it holds.
pub struct Bench<'d> {
    pub(crate) engine: Box<dyn Engine>,
    pub(crate) data: &'d DataSet,
    pub(crate) plan: Plan,
    /// Keys that are present, in insertion order (YCSB D reads the newest).
    pub(crate) live: Vec<Key>,
    /// The load set's indices in one random order, for the read rows.
    read_order: Vec<u32>,
    /// The digest of each loaded value, which the read rows check.
    loaded_digests: Vec<u64>,
    pub(crate) ycsb_inserts: Vec<Key>,
    pub(crate) ycsb_inserted: usize,
    /// YCSB operations run so far: salts the next workload's draws and values.
    pub(crate) ops_done: u64,
    large_keys: Vec<Key>,
    /// Where the backup row writes its file (in the store's directory; removed after the row).
    backup_path: PathBuf,
    /// The size of the file the last row wrote (the backup), in bytes.
    output_bytes: Option<u64>,
}

impl<'d> Bench<'d> {
    /// A run of `engine` (fresh and empty) on `data` at `plan`'s counts; rows that write files
    /// of their own (the backup) write them in `dir`, the store's directory.
    pub fn new(engine: Box<dyn Engine>, data: &'d DataSet, plan: Plan, dir: &Path) -> Bench<'d> {
        let mut read_order: Vec<u32> = (0..plan.entries as u32).collect();
        read_order.shuffle(&mut data.rng(1));
        // D and E insert about 5% of their operations each: far fewer than this.
        let inserts = plan.ycsb_ops;
        Bench {
            engine,
            data,
            plan,
            live: Vec::new(),
            read_order,
            loaded_digests: (0..plan.entries as u64).map(|i| digest(data.value(i))).collect(),
            ycsb_inserts: data.extra_keys(stream::YCSB_INSERTS, inserts),
            ycsb_inserted: 0,
            ops_done: 0,
            large_keys: data.extra_keys(stream::LARGE, plan.large_values),
            backup_path: dir.join("backup.out"),
            output_bytes: None,
        }
    }

    /// Runs `row` and returns its time, or `None` when the engine has no such operation (a
    /// compaction, a backup). The row's inputs are prepared before the clock starts.
    pub fn run(&mut self, row: Row) -> Result<Option<Duration>> {
        self.output_bytes = None;
        let elapsed = match row {
            Row::Compact => {
                let start = Instant::now();
                let compacted = self.engine.compact()?;
                compacted.then(|| start.elapsed())
            }
            Row::Backup => self.backup()?,
            _ => Some(self.run_timed(row)?),
        };
        // Not timed: the store's background work must not spill into the next engine's row.
        self.engine.quiesce()?;
        Ok(elapsed)
    }

    fn run_timed(&mut self, row: Row) -> Result<Duration> {
        match row {
            Row::BulkLoad => self.bulk_load(),
            Row::IndividualWrites => {
                let keys = self.data.extra_keys(stream::INDIVIDUAL, self.plan.individual_writes);
                self.write_in_transactions(keys, 1)
            }
            Row::BatchWrites => {
                let keys = self
                    .data
                    .extra_keys(stream::BATCH, self.plan.batches * self.plan.batch_entries);
                self.write_in_transactions(keys, self.plan.batch_entries)
            }
            Row::Len => {
                let start = Instant::now();
                let len = self.engine.len()?;
                let elapsed = start.elapsed();
                ensure!(
                    len == self.live.len() as u64,
                    "len() = {len}, expected {}",
                    self.live.len()
                );
                Ok(elapsed)
            }
            Row::RandomReads | Row::RandomReadsAgain | Row::Reads1Thread => self.reads(1),
            Row::Reads2Threads => self.reads(2),
            Row::Reads4Threads => self.reads(4),
            Row::RangeReads => self.range_reads(),
            Row::YcsbA => self.ycsb(Mix { update: 0.5, ..Mix::READS }),
            Row::YcsbB => self.ycsb(Mix { update: 0.05, ..Mix::READS }),
            Row::YcsbC => self.ycsb(Mix::READS),
            Row::YcsbD => self.ycsb(Mix { insert: 0.05, latest: true, ..Mix::READS }),
            Row::YcsbE => self.ycsb(Mix { insert: 0.05, scan: true, ..Mix::READS }),
            Row::YcsbF => self.ycsb(Mix { read_modify_write: 0.5, ..Mix::READS }),
            Row::RemoveHalf => self.remove_half(),
            Row::Compact | Row::Backup => unreachable!("run() handles {}", row.name()),
            Row::LargeWrites => self.large_writes(),
            Row::LargeReads => self.large_reads(),
        }
    }

    /// The size of the file the last row wrote, in bytes: the backup's, or `None` for a row
    /// that writes none (or an engine without a backup).
    pub fn output_bytes(&self) -> Option<u64> {
        self.output_bytes
    }

    /// The backup row: the clock stops once the engine's backup file is durable. The file is
    /// measured and removed afterwards, untimed, so that later rows and the store's size after
    /// the row do not count it.
    fn backup(&mut self) -> Result<Option<Duration>> {
        let path = self.backup_path.clone();
        // A repeated backup row (`--rows backup,backup`) writes a new file each time.
        remove_if_present(&path)?;
        let start = Instant::now();
        let backed_up = self.engine.backup(&path)?;
        let elapsed = start.elapsed();
        if backed_up {
            let bytes = std::fs::metadata(&path)
                .with_context(|| format!("the backup file {}", path.display()))?
                .len();
            ensure!(bytes > 0, "the backup file {} is empty", path.display());
            self.output_bytes = Some(bytes);
        }
        remove_if_present(&path)?;
        Ok(backed_up.then_some(elapsed))
    }

    fn bulk_load(&mut self) -> Result<Duration> {
        let keys = self.data.keys();
        let entries: Vec<Entry<'_>> =
            keys.iter().enumerate().map(|(i, key)| (&key[..], self.data.value(i as u64))).collect();
        let start = Instant::now();
        self.engine.write(&entries)?;
        let elapsed = start.elapsed();
        self.live.extend_from_slice(keys);
        Ok(elapsed)
    }

    fn write_in_transactions(
        &mut self,
        keys: Vec<Key>,
        per_transaction: usize,
    ) -> Result<Duration> {
        let entries: Vec<Entry<'_>> = keys
            .iter()
            .enumerate()
            .map(|(i, key)| (&key[..], self.data.value((1 << 40) + i as u64)))
            .collect();
        let start = Instant::now();
        for chunk in entries.chunks(per_transaction) {
            self.engine.write(chunk)?;
        }
        let elapsed = start.elapsed();
        self.live.extend_from_slice(&keys);
        Ok(elapsed)
    }

    /// Every loaded key once, in `read_order`, split evenly over `threads` threads.
    fn reads(&mut self, threads: usize) -> Result<Duration> {
        let keys = self.data.keys();
        let digests = &self.loaded_digests;
        let engine = &*self.engine;
        let chunk = self.read_order.len().div_ceil(threads);
        let start = Instant::now();
        std::thread::scope(|scope| -> Result<()> {
            let handles: Vec<_> = self
                .read_order
                .chunks(chunk)
                .map(|slice| {
                    scope.spawn(move || -> Result<()> {
                        engine.read(&mut |reader| {
                            for &index in slice {
                                let index = index as usize;
                                let found = reader.get(&keys[index])?;
                                ensure!(found == Some(digests[index]), "key {index}: {found:?}");
                            }
                            Ok(())
                        })
                    })
                })
                .collect();
            for handle in handles {
                handle.join().map_err(|_| anyhow::anyhow!("a reader thread panicked"))??;
            }
            Ok(())
        })?;
        Ok(start.elapsed())
    }

    fn range_reads(&mut self) -> Result<Duration> {
        let keys = self.data.keys();
        let mut rng = self.data.rng(2);
        let starts: Vec<&Key> =
            (0..self.plan.range_reads).map(|_| &keys[rng.random_range(0..keys.len())]).collect();
        // Each range must see exactly min(10, keys from its start on) of the live keys.
        let mut sorted = self.live.clone();
        sorted.sort_unstable();
        let expected: usize = starts
            .iter()
            .map(|from| (sorted.len() - sorted.partition_point(|key| key < *from)).min(10))
            .sum();
        let mut seen = 0;
        let start = Instant::now();
        self.engine.read(&mut |reader| {
            for from in &starts {
                seen += reader.range(&from[..], 10)?;
            }
            Ok(())
        })?;
        let elapsed = start.elapsed();
        ensure!(seen == expected, "range reads saw {seen} entries, expected {expected}");
        Ok(elapsed)
    }

    fn remove_half(&mut self) -> Result<Duration> {
        let keys: Vec<&[u8]> = self.data.keys().iter().step_by(2).map(|key| &key[..]).collect();
        let start = Instant::now();
        let removed = self.engine.remove(&keys)?;
        let elapsed = start.elapsed();
        if let Some(removed) = removed {
            ensure!(removed == keys.len() as u64, "removed {removed} of {}", keys.len());
        }
        let doomed: std::collections::HashSet<&[u8]> = keys.into_iter().collect();
        self.live.retain(|key| !doomed.contains(&key[..]));
        let len = self.engine.len()?;
        ensure!(
            len == self.live.len() as u64,
            "len() = {len} after removal, expected {}",
            self.live.len()
        );
        Ok(elapsed)
    }

    fn large_writes(&mut self) -> Result<Duration> {
        let start = Instant::now();
        for (i, key) in self.large_keys.iter().enumerate() {
            self.engine.write(&[(&key[..], self.data.large_value(i as u64))])?;
        }
        Ok(start.elapsed())
    }

    fn large_reads(&mut self) -> Result<Duration> {
        let keys = &self.large_keys;
        let digests: Vec<u64> =
            (0..keys.len() as u64).map(|i| digest(self.data.large_value(i))).collect();
        let start = Instant::now();
        self.engine.read(&mut |reader| {
            for (key, expected) in keys.iter().zip(&digests) {
                let found = reader.get(key)?;
                ensure!(found == Some(*expected), "large value: {found:?}");
            }
            Ok(())
        })?;
        Ok(start.elapsed())
    }
}

/// Removes the file at `path` if there is one.
fn remove_if_present(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(err.into()),
        _ => Ok(()),
    }
}

pub(crate) use crate::ycsb::Mix;

#[cfg(test)]
mod tests {
    use super::*;

    /// The backup row times the stores that have a backup, records the file's size, removes
    /// the file, and leaves the store as it was; a store without one gets `None`.
    #[test]
    fn the_backup_row_measures_the_file_and_removes_it() {
        let plan = Plan::new(0.001);
        let data = DataSet::new(7, plan.entries);
        for name in crate::engines::available() {
            let dir = tempfile::tempdir().unwrap();
            let engine = crate::engines::open(name, dir.path(), 8 << 20).unwrap();
            let mut bench = Bench::new(engine, &data, plan, dir.path());
            bench.run(Row::BulkLoad).unwrap();
            let size_before = crate::engines::disk_bytes(dir.path()).unwrap();
            let elapsed = bench.run(Row::Backup).unwrap();
            let has_backup = matches!(name, "redwood" | "redwood-defaults" | "lmdb" | "sqlite");
            assert_eq!(elapsed.is_some(), has_backup, "{name}");
            let bytes = bench.output_bytes();
            assert_eq!(bytes.is_some(), has_backup, "{name}");
            // Every entry is in the file: at least the entries' bytes.
            let least = (plan.entries * (crate::data::KEY_BYTES + crate::data::VALUE_BYTES)) as u64;
            assert!(bytes.is_none_or(|bytes| bytes >= least), "{name}: {bytes:?} < {least}");
            assert!(!bench.backup_path.exists(), "{name}");
            // A second backup row writes a new file; a later row sees every entry.
            assert_eq!(bench.run(Row::Backup).unwrap().is_some(), has_backup, "{name}");
            bench.run(Row::Len).unwrap();
            bench.run(Row::RandomReads).unwrap();
            assert_eq!(bench.output_bytes(), None, "{name}");
            assert!(crate::engines::disk_bytes(dir.path()).unwrap() > size_before / 2, "{name}");
        }
    }
}
