//! The log's ordinary life: commits are recovered with their pages, aborted transactions leave
//! nothing, a durable commit costs exactly one fdatasync, restarts start a new generation, and
//! a log of another database is refused.

use std::path::Path;

use redwood_pager::io::Vfs;
use redwood_pager::io::sim::{CrashMode, Fault, FaultConfig, OpKind, Repeat, SimVfs, Trigger};
use redwood_pager::{Durability, Lsn, PageBuf, PageId, PageSize};
use redwood_pager::{RestorePoint, TransactionChanges};
use redwood_wal::{Error, Wal, WalOptions};

use crate::support::{open, options, page, seed, transaction};

#[test]
fn committed_transactions_are_recovered_with_their_pages() {
    let vfs = SimVfs::new(1);
    let (mut wal, recovery) = open(&vfs).unwrap();
    assert!(recovery.transactions.is_empty());
    let commits: Vec<Lsn> =
        (1..=5).map(|n| transaction(&mut wal, n, Durability::Immediate).unwrap()).collect();
    drop(wal);
    vfs.crash(CrashMode::all());
    let (wal, recovery) = open(&vfs).unwrap();
    let found: Vec<Lsn> = recovery.transactions.iter().map(|t| t.commit_lsn).collect();
    assert_eq!(found, commits);
    for (number, recovered) in (1..=5).zip(&recovery.transactions) {
        assert_eq!(recovered.changes.timestamp_ms, number);
        assert_eq!(recovered.pages.len() as u64, 1 + number % 3);
        for (index, &(page_id, position)) in recovered.pages.iter().enumerate() {
            assert_eq!(page_id, PageId::new(number * 10 + index as u64));
            let mut read = PageBuf::zeroed(PageSize::DEFAULT);
            wal.read_page(position, &mut read).unwrap();
            assert_eq!(read.as_bytes(), page(page_id.get(), number).as_bytes());
        }
    }
    assert_eq!(wal.next_lsn(), Lsn::new(commits[4].get() + 1));
}

#[test]
fn a_durable_commit_costs_exactly_one_fdatasync() {
    let vfs = SimVfs::new(2);
    let (mut wal, _) = open(&vfs).unwrap();
    let disk_syncs = || vfs.counters().syncs;
    let (log_before, disk_before) = (wal.counters().snapshot().syncs, disk_syncs());
    for number in 1..=10 {
        transaction(&mut wal, number, Durability::Immediate).unwrap();
    }
    assert_eq!(wal.counters().snapshot().syncs - log_before, 10);
    assert_eq!(disk_syncs() - disk_before, 10, "the disk saw one fdatasync per commit");
    assert_eq!(wal.counters().snapshot().commits, 10);
    for number in 11..=20 {
        transaction(&mut wal, number, Durability::None).unwrap();
    }
    assert_eq!(disk_syncs() - disk_before, 10, "Durability::None syncs nothing");
    assert_eq!(wal.counters().snapshot().commits, 20);
}

#[test]
fn aborted_transactions_leave_nothing_whether_or_not_they_spilled() {
    let vfs = SimVfs::new(3);
    let (mut wal, _) = open(&vfs).unwrap();
    wal.append_page(&page(1, 1)).unwrap();
    wal.abort();
    let first = transaction(&mut wal, 2, Durability::Immediate).unwrap();
    // A large transaction overflows the append buffer, so some frames reach the file.
    for index in 0..300 {
        wal.append_page(&page(1000 + index, 3)).unwrap();
    }
    assert!(vfs.live_image()[Path::new("db.wal")].len() as u64 > wal.size_bytes() / 2);
    wal.abort();
    let second = transaction(&mut wal, 4, Durability::Immediate).unwrap();
    drop(wal);
    let (_, recovery) = open(&vfs).unwrap();
    let found: Vec<(Lsn, usize)> =
        recovery.transactions.iter().map(|t| (t.commit_lsn, t.pages.len())).collect();
    assert_eq!(found, vec![(first, 3), (second, 2)], "the spilled frames belong to no commit");
    assert!(recovery.transactions[1].pages.iter().all(|(page_id, _)| page_id.get() >= 40));
}

#[test]
fn restore_points_are_recorded_in_their_transaction() {
    let vfs = SimVfs::new(4);
    let (mut wal, _) = open(&vfs).unwrap();
    let point = RestorePoint { name: "before the migration".into(), timestamp_ms: 42 };
    let marker = wal.append_restore_point(&point).unwrap();
    wal.commit(TransactionChanges::default(), Durability::Immediate).unwrap();
    drop(wal);
    let (_, recovery) = open(&vfs).unwrap();
    assert_eq!(recovery.transactions[0].restore_points, vec![(marker, point)]);
}

#[test]
fn a_restart_begins_a_new_generation_and_old_frames_never_return() {
    let vfs = SimVfs::new(5);
    let (mut wal, _) = open(&vfs).unwrap();
    for number in 1..=3 {
        transaction(&mut wal, number, Durability::Immediate).unwrap();
    }
    let salt = wal.header().salt;
    wal.restart(false).unwrap();
    assert_ne!(wal.header().salt, salt);
    let after = transaction(&mut wal, 4, Durability::Immediate).unwrap();
    drop(wal);
    let (mut wal, recovery) = open(&vfs).unwrap();
    let found: Vec<Lsn> = recovery.transactions.iter().map(|t| t.commit_lsn).collect();
    assert_eq!(found, vec![after], "frames of the old generation are not replayed");
    wal.restart(true).unwrap();
    assert_eq!(vfs.live_image()[Path::new("db.wal")].len(), 1024);
    let lsn = transaction(&mut wal, 5, Durability::Immediate).unwrap();
    assert!(lsn > after, "LSNs keep growing across generations");
}

#[test]
fn a_failed_sync_poisons_the_log() {
    let vfs = SimVfs::new(6);
    let (mut wal, _) = open(&vfs).unwrap();
    transaction(&mut wal, 1, Durability::Immediate).unwrap();
    vfs.set_faults(FaultConfig::none().with(Fault::eio(
        OpKind::Sync,
        Trigger::Nth(1),
        Repeat::Once,
    )));
    assert!(matches!(transaction(&mut wal, 2, Durability::Immediate), Err(Error::Io { .. })));
    assert!(matches!(transaction(&mut wal, 3, Durability::Immediate), Err(Error::Poisoned)));
    assert!(matches!(wal.sync(), Err(Error::Poisoned)), "a failed fsync is never retried");
    drop(wal);
    vfs.crash(CrashMode::all());
    let (_, recovery) = open(&vfs).unwrap();
    let count = recovery.transactions.len();
    assert!(count == 1 || count == 2, "the failed commit is all there or not at all: {count}");
}

#[test]
fn a_log_of_another_database_is_refused() {
    let vfs = SimVfs::new(7);
    let (mut wal, _) = open(&vfs).unwrap();
    transaction(&mut wal, 1, Durability::Immediate).unwrap();
    drop(wal);
    let other = WalOptions { database_id: 8, ..options() };
    let result = Wal::open(&vfs as &dyn Vfs, Path::new("db.wal"), &other);
    assert!(matches!(result, Err(Error::Mismatch { .. })));
    let larger = WalOptions { page_size: PageSize::new(8192).unwrap(), ..options() };
    let result = Wal::open(&vfs as &dyn Vfs, Path::new("db.wal"), &larger);
    assert!(matches!(result, Err(Error::Mismatch { .. })));
}

/// Review finding: frames recovered after a process exit (no power loss) may be only in the
/// page cache; the next commit record must not vouch for them before they are synced.
#[test]
fn reopening_after_a_process_exit_then_losing_power_recovers() {
    for seed in 0..100 {
        let vfs = SimVfs::new(seed);
        let (mut wal, _) = open(&vfs).unwrap();
        transaction(&mut wal, 1, Durability::Immediate).unwrap();
        transaction(&mut wal, 2, Durability::None).unwrap();
        drop(wal); // the process exits; the OS keeps its page cache
        let (mut wal, recovery) = open(&vfs).unwrap();
        assert_eq!(recovery.transactions.len(), 2);
        transaction(&mut wal, 3, Durability::None).unwrap();
        drop(wal);
        vfs.crash(CrashMode::all());
        let (_, recovery) = open(&vfs).unwrap_or_else(|error| panic!("seed {seed}: {error}"));
        assert!(recovery.transactions.len() >= 2, "seed {seed}: the reopened log was synced");
    }
}

/// Review finding: a header copy damaged after a restart once rolled the log back a generation,
/// dropping acknowledged commits without an error.
#[test]
fn a_damaged_newest_header_is_reported_not_rolled_back() {
    let vfs = SimVfs::new(31);
    let (mut wal, _) = open(&vfs).unwrap();
    transaction(&mut wal, 1, Durability::Immediate).unwrap();
    wal.restart(false).unwrap();
    transaction(&mut wal, 2, Durability::Immediate).unwrap();
    let newest = wal.header().copy_offset();
    drop(wal);
    let file = (&vfs as &dyn Vfs).open(Path::new("db.wal")).unwrap();
    let length = file.len().unwrap();
    file.write_at(newest + 20, &[0x5a]).unwrap();
    assert!(matches!(open(&vfs), Err(Error::HeaderCorrupt { .. })));
    assert_eq!(file.len().unwrap(), length, "nothing was truncated");
}

/// Crash harness finding (seed 1796307052842781962 with `--archive`): the meta data named the
/// generation after the log's (a restart due, not yet done), and a damaged copy of the log's
/// empty current generation left the other copy, one generation older, as the newest valid one;
/// the log then read as another history's (`Mismatch`). It is a damaged header.
#[test]
fn a_damaged_header_leaving_a_stale_copy_is_corruption_not_another_log() {
    use redwood_pager::LogIdentity;
    let vfs = SimVfs::new(33);
    let (mut wal, _) = open(&vfs).unwrap();
    for number in 1..=3 {
        transaction(&mut wal, number, Durability::Immediate).unwrap();
        wal.restart(false).unwrap();
    }
    // Generation 4 holds no frame, so no frame vouches for its header.
    let current = wal.header();
    assert_eq!(current.sequence, 4);
    drop(wal);
    // Salt 0: the meta data records generations only.
    let named = |generation| LogIdentity { generation, salt: 0 };
    let opened = |identity| {
        let options = WalOptions { identity, ..crate::support::options() };
        Wal::open(&vfs as &dyn Vfs, Path::new("db.wal"), &options).map(|_| ())
    };
    opened(named(5)).expect("both copies whole: a restart was due, the log opens");
    let file = (&vfs as &dyn Vfs).open(Path::new("db.wal")).unwrap();
    let before = file.len().unwrap();
    file.write_at(current.copy_offset() + 20, &[0x5a]).unwrap();
    match opened(named(5)) {
        Err(Error::HeaderCorrupt { reason, .. }) => {
            assert!(reason.contains("generation 3"), "{reason}")
        }
        other => panic!("expected HeaderCorrupt, got {other:?}"),
    }
    // Meta data naming the valid copy or its successor still opens: that copy is not stale.
    assert!(opened(named(4)).is_ok() && opened(named(3)).is_ok());
    assert_eq!(file.len().unwrap(), before, "nothing was truncated");
}

/// Review finding: a crafted header with a valid checksum and start LSN 0 once panicked.
#[test]
fn implausible_header_values_are_damage_not_a_panic() {
    use redwood_wal::WalHeader;
    for (start_lsn, sequence) in [(0, 1), (u64::MAX, 1), (1, u64::MAX)] {
        let header = WalHeader {
            page_size: 4096,
            database_id: 7,
            salt: 1,
            start_lsn: Lsn::new(start_lsn),
            sequence,
        };
        let vfs = SimVfs::new(32);
        let file = (&vfs as &dyn Vfs).create(Path::new("db.wal")).unwrap();
        file.write_at(header.copy_offset(), &header.encode()).unwrap();
        file.write_at(1024, &[7u8; 100]).unwrap();
        assert!(open(&vfs).is_err(), "{start_lsn}/{sequence}");
    }
}

/// A commit record listing more page ids than one frame holds (3 million freed pages: a table
/// of about 12 GiB deleted) commits, with its ids carried in page-id frames ahead of it, and
/// recovers whole; an aborted transaction's page-id frames are ignored (issue 15).
#[test]
fn a_commit_freeing_millions_of_pages_commits_and_recovers_whole() {
    let vfs = SimVfs::new(seed("a_commit_freeing_millions_of_pages_commits_and_recovers_whole"));
    let freed: Vec<PageId> = (100..3_000_100u64).map(PageId::new).collect();
    let allocated = vec![PageId::new(7), PageId::new(8)];
    {
        let (mut wal, _) = open(&vfs).unwrap();
        transaction(&mut wal, 1, Durability::Immediate).unwrap();
        let changes = TransactionChanges {
            timestamp_ms: 2,
            page_count: 3_000_100,
            allocated: allocated.clone(),
            freed: freed.clone(),
            ..Default::default()
        };
        wal.commit(changes, Durability::Immediate).unwrap();
        transaction(&mut wal, 3, Durability::Immediate).unwrap();
    }
    vfs.crash(CrashMode::dropping());
    let (_, recovery) = open(&vfs).unwrap();
    assert_eq!(recovery.transactions.len(), 3);
    let big = &recovery.transactions[1].changes;
    assert_eq!(big.allocated, allocated);
    assert_eq!(big.freed.len(), freed.len());
    assert!(big.freed == freed, "every freed id, in order");
    assert_eq!(recovery.transactions[2].changes.timestamp_ms, 3, "the log goes on after it");
}
