//! YCSB workloads A–F on the loaded store: one operation per transaction, each write durable.
//!
//! Keys are chosen with YCSB's scrambled zipfian law (θ = 0.99); workload D reads the most
//! recent inserts instead. Scans read a uniform 1 to 100 entries. The operations are drawn
//! before the clock starts, so the timed loop is the stores' work alone.

use std::time::{Duration, Instant};

use anyhow::{Result, ensure};
use rand::Rng;

use crate::{data::ScrambledZipf, workload::Bench};

/// The share of each operation kind in a workload; the rest are reads (or scans).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mix {
    pub update: f64,
    pub insert: f64,
    pub read_modify_write: f64,
    /// Reads favour the newest keys (workload D).
    pub latest: bool,
    /// Reads are short scans (workload E).
    pub scan: bool,
}

impl Mix {
    /// Reads only (workload C); the other workloads start from it.
    pub const READS: Mix =
        Mix { update: 0.0, insert: 0.0, read_modify_write: 0.0, latest: false, scan: false };
}

/// One drawn operation; indices are into the live keys at the time it runs.
#[derive(Debug, Clone, Copy)]
enum Op {
    Read(usize),
    Scan(usize, usize),
    Update(usize),
    ReadModifyWrite(usize),
    Insert,
}

impl Bench<'_> {
    pub(crate) fn ycsb(&mut self, mix: Mix) -> Result<Duration> {
        let ops = self.draw(mix);
        let start = Instant::now();
        for (number, op) in ops.into_iter().enumerate() {
            let value = self.data.value((2 << 40) + self.ops_done + number as u64);
            match op {
                Op::Read(index) => self.ycsb_read(index)?,
                Op::Scan(index, count) => {
                    let key = self.live[index];
                    let mut seen = 0;
                    self.engine.read(&mut |reader| {
                        seen = reader.range(&key, count)?;
                        Ok(())
                    })?;
                    ensure!(seen >= 1, "a scan from a live key saw nothing");
                }
                Op::Update(index) => self.engine.write(&[(&self.live[index], value)])?,
                Op::ReadModifyWrite(index) => {
                    self.ycsb_read(index)?;
                    self.engine.write(&[(&self.live[index], value)])?;
                }
                Op::Insert => {
                    let key = self.ycsb_inserts[self.ycsb_inserted];
                    self.ycsb_inserted += 1;
                    self.engine.write(&[(&key, value)])?;
                    self.live.push(key);
                }
            }
        }
        let elapsed = start.elapsed();
        self.ops_done += self.plan.ycsb_ops as u64;
        Ok(elapsed)
    }

    fn ycsb_read(&self, index: usize) -> Result<()> {
        let key = &self.live[index];
        self.engine.read(&mut |reader| {
            ensure!(reader.get(key)?.is_some(), "a live key is missing");
            Ok(())
        })
    }

    /// Draws the workload's operations, tracking how inserts grow the key set.
    fn draw(&self, mix: Mix) -> Vec<Op> {
        let mut rng = self.data.rng(100 + self.ops_done);
        let mut live = self.live.len();
        let mut zipf = ScrambledZipf::new(live as u64);
        let mut inserts_left = self.ycsb_inserts.len() - self.ycsb_inserted;
        (0..self.plan.ycsb_ops)
            .map(|_| {
                let dice: f64 = rng.random();
                if dice < mix.insert && inserts_left > 0 {
                    inserts_left -= 1;
                    live += 1;
                    if mix.latest {
                        zipf = ScrambledZipf::new(live as u64);
                    }
                    return Op::Insert;
                }
                let index = if mix.latest {
                    live - 1 - (zipf.rank(&mut rng) as usize).min(live - 1)
                } else {
                    zipf.sample(&mut rng) as usize % live
                };
                if dice < mix.insert + mix.update {
                    Op::Update(index)
                } else if dice < mix.insert + mix.update + mix.read_modify_write {
                    Op::ReadModifyWrite(index)
                } else if mix.scan {
                    Op::Scan(index, rng.random_range(1..=100))
                } else {
                    Op::Read(index)
                }
            })
            .collect()
    }
}
