//! Redwood's crash harness (R2): how Redwood proves its durability claims, and how a user can.
//!
//! Its role: run cycles against the full engine on the simulated disk (`SimVfs`), each with a
//! seeded workload (several tables, large values, table deletion, savepoints, aborts, explicit
//! and trigger-scheduled checkpoints, readers holding snapshots) under one fault: power loss
//! that drops, tears or reorders unsynced sectors at a seeded sync point, an injected EIO on a
//! write or sync, or a flipped bit on a read. After each, the database is brought back and
//! verified against the model: every acknowledged `Immediate` commit is there, nothing
//! uncommitted or aborted is, the state is one the workload committed at or after the last
//! acknowledged durable commit, and the full integrity check (trees, chains, free-space map,
//! meta data, log) is clean. Cycles chain on the recovered database, so damage that slips
//! through compounds. The same seed and code give the same trace ([`Report::digest`]).
//!
//! Real-process mode (`real`) kills a child process doing durable commits on the real file
//! system at seeded moments and verifies each reopened database the same way.
//!
//! Structure-aware damage (`mutate`) re-seals mutated node and chain pages so they get past the
//! checksums, and drives the damaged database: only typed errors may come back (the fuzz target
//! `mutated_pages` runs it under libFuzzer).
//!
//! What it does not do: it sees the engine only through the `redwood` facade.

mod cycle;
mod model;
pub mod mutate;
pub mod real;
mod workload;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use redwood_pager::io::sim::SimVfs;

pub use model::Tables;

/// A kind of fault a cycle injects.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Fault {
    /// Power loss; unsynced sectors may be lost (an in-order prefix persists).
    Drop,
    /// Power loss; the last unsynced sector may be torn.
    Tear,
    /// Power loss; unsynced sectors persist or not independently, torn or whole.
    Reorder,
    /// A write or a sync fails with EIO; then a restart.
    Eio,
    /// A read flips a bit (persistently); then a repair from a copy.
    BitRot,
    /// A SIGKILL of a real process doing durable commits (real-process mode only).
    Kill,
}

impl Fault {
    /// Every kind.
    pub const ALL: [Fault; 5] =
        [Fault::Drop, Fault::Tear, Fault::Reorder, Fault::Eio, Fault::BitRot];

    /// The command line's name for it.
    pub fn name(self) -> &'static str {
        match self {
            Fault::Drop => "drop",
            Fault::Tear => "tear",
            Fault::Reorder => "reorder",
            Fault::Eio => "eio",
            Fault::BitRot => "bitrot",
            Fault::Kill => "kill",
        }
    }

    /// The fault named `name` (`drop`, `tear`, `reorder`, `eio`, `bitrot`).
    pub fn parse(name: &str) -> Option<Fault> {
        Fault::ALL.into_iter().find(|fault| fault.name() == name)
    }
}

/// What to run.
#[derive(Clone, Debug)]
pub struct Options {
    /// Cycles to run.
    pub cycles: u64,
    /// The seed of everything: workloads, fault points, the simulated disk.
    pub seed: u64,
    /// The faults cycles choose from (seeded).
    pub faults: Vec<Fault>,
    /// Workload steps per cycle (transactions, checkpoints, reader actions).
    pub steps_per_cycle: u32,
    /// Archive the log (`--archive`), and every [`ARCHIVE_CHECK_CYCLES`] cycles restore from the
    /// archive alone and compare. Off by default: an archive turns off home writes, whose crash
    /// cases the default run covers.
    pub archive: bool,
}

/// Cycles between two restores from the archive (with [`Options::archive`]).
pub const ARCHIVE_CHECK_CYCLES: u64 = 10;

/// A broken promise: what was found, in which cycle, under which fault.
#[derive(Clone, Debug)]
pub struct Violation {
    /// The cycle (from 0).
    pub cycle: u64,
    /// Its fault.
    pub fault: Fault,
    /// What was wrong.
    pub message: String,
}

/// What a run did.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// The seed.
    pub seed: u64,
    /// Cycles run.
    pub cycles: u64,
    /// Cycles that crashed (or restarted) the simulated machine.
    pub crashes: u64,
    /// Acknowledged `Immediate` commits found present after their cycle's recovery.
    pub acked_commits_verified: u64,
    /// Restores from the log archive that matched the database (with [`Options::archive`]).
    pub archive_restores: u64,
    /// Broken promises; the run stops at the first, since later cycles would build on it.
    pub violations: Vec<Violation>,
    /// Every step, fault and verdict, in order.
    pub trace: Vec<String>,
}

impl Report {
    /// The one-line summary `cargo xtask crash-harness` ends with.
    pub fn summary(&self) -> String {
        let archive = if self.archive_restores > 0 {
            format!(" archive_restores={}", self.archive_restores)
        } else {
            String::new()
        };
        format!(
            "crash-harness: cycles={} crashes={} acked_commits_verified={}{archive} violations={}",
            self.cycles,
            self.crashes,
            self.acked_commits_verified,
            self.violations.len()
        )
    }

    /// A digest of the trace (FNV-1a): equal for equal runs, so a rerun can prove the harness
    /// deterministic.
    pub fn digest(&self) -> u64 {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in self.trace.iter().flat_map(|line| line.bytes().chain([b'\n'])) {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
        hash
    }
}

/// Runs the harness; `on_cycle` hears each finished cycle (for progress).
pub fn run(options: &Options, mut on_cycle: impl FnMut(&Report)) -> Report {
    let mut report = Report { seed: options.seed, ..Report::default() };
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    let vfs = cycle::Disk { sim: SimVfs::new(options.seed), archive: options.archive };
    let mut db = match cycle::open(&vfs) {
        Ok(db) => db,
        Err(error) => {
            let message = format!("creating the database failed: {error}");
            report.violations.push(Violation { cycle: 0, fault: Fault::Drop, message });
            return report;
        }
    };
    let mut state = Tables::new();
    let faults =
        if options.faults.is_empty() { Fault::ALL.to_vec() } else { options.faults.clone() };
    for number in 0..options.cycles {
        let fault = faults[rng.random_range(0..faults.len())];
        report.trace.push(format!("cycle {number}: {}", fault.name()));
        match cycle::run(
            fault,
            &vfs,
            db,
            state,
            &mut rng,
            options.steps_per_cycle,
            &mut report.trace,
        ) {
            Ok(survived) => {
                report.cycles += 1;
                report.crashes += u64::from(survived.crashed);
                report.acked_commits_verified += survived.acked_verified;
                (db, state) = (survived.db, survived.state);
                let check =
                    options.archive && number % ARCHIVE_CHECK_CYCLES == ARCHIVE_CHECK_CYCLES - 1;
                let verified = check
                    .then(|| cycle::verify_archive(&vfs, &db, &state, number, &mut report.trace));
                report.archive_restores += u64::from(matches!(verified, Some(Ok(()))));
                if let Some(Err(message)) = verified {
                    report.trace.push(format!("VIOLATION: {message}"));
                    report.violations.push(Violation { cycle: number, fault, message });
                    on_cycle(&report);
                    return report;
                }
                on_cycle(&report);
            }
            Err(message) => {
                report.cycles += 1;
                report.trace.push(format!("VIOLATION: {message}"));
                report.violations.push(Violation { cycle: number, fault, message });
                on_cycle(&report);
                return report;
            }
        }
    }
    report
}
