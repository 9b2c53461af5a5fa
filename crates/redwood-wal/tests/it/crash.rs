//! The log under crashes: at every sync point of a workload mixing durable and non-durable
//! commits, with dropped, torn and reordered sectors, recovery returns exactly a prefix of the
//! committed transactions that contains every acknowledged durable one, each whole. Damage to a
//! frame that had been synced is reported as corruption, a torn tail is truncated, and a torn
//! header write during a restart falls back to the other copy.

use std::path::Path;

use redwood_pager::io::Vfs;
use redwood_pager::io::sim::{CrashMode, FaultConfig, SimVfs};
use redwood_pager::{Durability, Lsn};
use redwood_wal::{Error, Result, Wal};

use crate::support::{open, seed, transaction};

/// Commits transactions 1..=count, every third one without a sync; returns the commit LSNs of
/// the acknowledged ones (with their durability), stopping at the first error.
fn workload(vfs: &SimVfs, count: u64) -> Vec<(u64, Lsn, Durability)> {
    let mut acknowledged = Vec::new();
    let Ok((mut wal, _)) = open(vfs) else { return acknowledged };
    for number in 1..=count {
        let durability = if number % 3 == 0 { Durability::None } else { Durability::Immediate };
        match transaction(&mut wal, number, durability) {
            Ok(lsn) => acknowledged.push((number, lsn, durability)),
            Err(_) => break,
        }
    }
    acknowledged
}

fn check_recovery(
    vfs: &SimVfs,
    acknowledged: &[(u64, Lsn, Durability)],
    context: &str,
) -> Result<()> {
    let (_, recovery) = open(vfs)?;
    let numbers: Vec<u64> = recovery.transactions.iter().map(|t| t.changes.timestamp_ms).collect();
    let expected_prefix: Vec<u64> = (1..=numbers.len() as u64).collect();
    assert_eq!(numbers, expected_prefix, "{context}: recovered transactions are a prefix");
    let last_durable = acknowledged.iter().rev().find(|(_, _, d)| *d == Durability::Immediate);
    if let Some((number, lsn, _)) = last_durable {
        assert!(numbers.len() as u64 >= *number, "{context}: acknowledged commit {number} lost");
        assert_eq!(recovery.transactions[*number as usize - 1].commit_lsn, *lsn);
    }
    for transaction in &recovery.transactions {
        let number = transaction.changes.timestamp_ms;
        assert_eq!(
            transaction.pages.len() as u64,
            1 + number % 3,
            "{context}: transaction {number} whole"
        );
    }
    Ok(())
}

#[test]
fn a_crash_at_every_sync_point_recovers_a_prefix_with_every_durable_commit() {
    let base_seed = seed("a_crash_at_every_sync_point_recovers_a_prefix_with_every_durable_commit");
    let full = SimVfs::new(base_seed);
    workload(&full, 12);
    let sync_points = full.counters().syncs;
    let modes = [CrashMode::dropping(), CrashMode::tearing(), CrashMode::all()];
    let mut torn_or_dropped = 0;
    for freeze_at in 1..=sync_points + 1 {
        for (mode_index, mode) in modes.iter().enumerate() {
            for attempt in 0..4 {
                let run_seed = base_seed ^ (freeze_at << 24) ^ ((mode_index as u64) << 8) ^ attempt;
                let vfs = SimVfs::new(run_seed);
                vfs.set_faults(FaultConfig::none().with_freeze_at_sync(freeze_at));
                let acknowledged = workload(&vfs, 12);
                let report = vfs.crash(*mode);
                torn_or_dropped += report.sectors_torn + report.sectors_dropped;
                vfs.set_faults(FaultConfig::none());
                let context = format!("seed {run_seed}, freeze at sync {freeze_at}, {mode:?}");
                check_recovery(&vfs, &acknowledged, &context)
                    .unwrap_or_else(|error| panic!("{context}: {error}"));
                // Recovery is repeatable: a second open finds the same log.
                check_recovery(&vfs, &acknowledged, &context).unwrap();
            }
        }
    }
    assert!(torn_or_dropped > 0, "the crashes damaged nothing");
}

#[test]
fn damage_to_a_synced_frame_is_reported_not_skipped() {
    let vfs = SimVfs::new(11);
    let (mut wal, _) = open(&vfs).unwrap();
    let first = transaction(&mut wal, 1, Durability::Immediate).unwrap();
    transaction(&mut wal, 2, Durability::Immediate).unwrap();
    transaction(&mut wal, 3, Durability::Immediate).unwrap();
    drop(wal);
    let (_, recovery) = open(&vfs).unwrap();
    let (_, position) = recovery.transactions[0].pages[0];
    let file = (&vfs as &dyn Vfs).open(Path::new("db.wal")).unwrap();
    file.write_at(position.offset + 100, &[0xee]).unwrap();
    match open(&vfs) {
        Err(Error::Corrupt { offset, lsn, .. }) => {
            assert_eq!(offset, position.offset);
            assert_eq!(lsn, position.lsn);
            assert!(lsn < first);
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

#[test]
fn a_torn_tail_is_truncated_and_the_log_goes_on() {
    let vfs = SimVfs::new(12);
    let (mut wal, _) = open(&vfs).unwrap();
    transaction(&mut wal, 1, Durability::Immediate).unwrap();
    let committed_bytes = wal.size_bytes();
    // An unsynced transaction, then garbage where its tail would be.
    transaction(&mut wal, 2, Durability::None).unwrap();
    let frames_end = wal.size_bytes();
    drop(wal);
    let file = (&vfs as &dyn Vfs).open(Path::new("db.wal")).unwrap();
    // The durable commit preallocated zeros past its frames; the torn frames land on them.
    let zeros_end = file.len().unwrap();
    assert!(zeros_end > frames_end, "small durable commits preallocate");
    file.write_at(frames_end - 30, &[0x55; 30]).unwrap();
    let (mut wal, recovery) = open(&vfs).unwrap();
    assert_eq!(recovery.transactions.len(), 1);
    assert_eq!(wal.size_bytes(), committed_bytes);
    assert_eq!(recovery.truncated_bytes, zeros_end - committed_bytes);
    transaction(&mut wal, 2, Durability::Immediate).unwrap();
    let frames_end = wal.size_bytes();
    drop(wal);
    let zeros_end = (&vfs as &dyn Vfs).open(Path::new("db.wal")).unwrap().len().unwrap();
    let (wal, recovery) = open(&vfs).unwrap();
    assert_eq!(recovery.transactions.len(), 2);
    // A clean reopen cuts only the preallocated zeros.
    assert_eq!(wal.size_bytes(), frames_end);
    assert_eq!(recovery.truncated_bytes, zeros_end - frames_end);
}

#[test]
fn small_durable_commits_overwrite_preallocated_zeros_and_survive_reopen() {
    let vfs = SimVfs::new(13);
    let (mut wal, _) = open(&vfs).unwrap();
    for number in 1..=200 {
        transaction(&mut wal, number, Durability::Immediate).unwrap();
    }
    let stats = wal.counters().snapshot();
    let file_bytes = (&vfs as &dyn Vfs).open(Path::new("db.wal")).unwrap().len().unwrap();
    // 200 commits of a page or two each: about 1.2 MiB of frames, written into zeros laid
    // down a megabyte at a time, so the file ends past the frames but within two megabytes.
    assert!(stats.preallocated_bytes >= 1 << 20, "{stats:?}");
    assert!(file_bytes > wal.size_bytes() && file_bytes <= wal.size_bytes() + (2 << 20));
    let frames_end = wal.size_bytes();
    drop(wal);
    let (wal, recovery) = open(&vfs).unwrap();
    assert_eq!(recovery.transactions.len(), 200);
    assert_eq!(wal.size_bytes(), frames_end);
}

#[test]
fn a_torn_header_during_restart_falls_back_to_the_other_copy() {
    let base_seed = seed("a_torn_header_during_restart_falls_back_to_the_other_copy");
    let mut outcomes = [0u32; 2];
    for attempt in 0..32 {
        let vfs = SimVfs::new(base_seed + attempt);
        let (mut wal, _) = open(&vfs).unwrap();
        transaction(&mut wal, 1, Durability::Immediate).unwrap();
        let before = wal.header().sequence;
        vfs.set_faults(FaultConfig::none().with_freeze_at_sync(1));
        assert!(wal.restart(false).is_err());
        drop(wal);
        vfs.crash(CrashMode::all());
        vfs.set_faults(FaultConfig::none());
        let (wal, recovery) = open(&vfs).unwrap();
        let restarted = wal.header().sequence == before + 1;
        outcomes[usize::from(restarted)] += 1;
        // Either generation is consistent: the old one still holds the transaction (which the
        // caller had checkpointed before restarting), the new one is empty.
        assert_eq!(recovery.transactions.len(), usize::from(!restarted));
    }
    assert!(outcomes[0] > 0 && outcomes[1] > 0, "both outcomes seen: {outcomes:?}");
}

#[test]
fn an_interrupted_creation_starts_afresh() {
    let vfs = SimVfs::new(13);
    vfs.set_faults(FaultConfig::none().with_freeze_at_sync(1));
    assert!(open(&vfs).is_err());
    vfs.crash(CrashMode::all());
    vfs.set_faults(FaultConfig::none());
    let (mut wal, recovery) = open(&vfs).unwrap();
    assert!(recovery.transactions.is_empty());
    transaction(&mut wal, 1, Durability::Immediate).unwrap();
    let _ = Wal::open(&vfs as &dyn Vfs, Path::new("db.wal"), &crate::support::options()).unwrap();
}
