//! The log archive and point-in-time restore (issue 19) through the public API: restore points
//! that outlive checkpoints, restores to every restore point, commit time, LSN and backup
//! against a model, and the errors of material that cannot reach a target.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use proptest::prelude::*;
use redwood::{ArchiveTarget, BackupError, CheckpointMode, Database, Error, Lsn, RestoreTarget};
use redwood_wal::archive::{DirectoryStore, LogArchive};

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

fn archived(path: &Path) -> Database {
    Database::builder()
        .archive(ArchiveTarget::beside(path))
        .cache_bytes(4 << 20)
        .create(path)
        .unwrap()
}

fn archive_dir(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".archive");
    PathBuf::from(name)
}

fn contents(db: &Database) -> Model {
    let read = db.begin_read().unwrap();
    if read.list_tables().unwrap().is_empty() {
        return Model::new();
    }
    read.open_table("t").unwrap().range(..).map(|item| crate::owned(item.unwrap())).collect()
}

fn restored(path: &Path) -> Model {
    let db = Database::open(path).unwrap();
    db.check_integrity().unwrap();
    contents(&db)
}

/// Every commit in the archive at `dir`: its LSN and time (read with the log's own reader).
fn archived_commits(dir: &Path) -> Vec<(u64, u64)> {
    let vfs = redwood_pager::io::best_vfs();
    let store = Arc::new(DirectoryStore::new(vfs, dir).unwrap());
    let archive = LogArchive::open_read_only(store).unwrap();
    let mut commits = Vec::new();
    for generation in archive.manifest_snapshot().generations {
        for commit in archive.read(&generation).unwrap().commits {
            commits.push((commit.commit_lsn.get(), commit.changes.timestamp_ms));
        }
    }
    commits
}

fn commit(db: &Database, puts: &[(&[u8], &[u8])], point: Option<&str>) -> Lsn {
    let mut write = db.begin_write().unwrap();
    {
        let mut table = write.open_table("t").unwrap();
        for (key, value) in puts {
            table.insert(key, value).unwrap();
        }
    }
    if let Some(point) = point {
        write.restore_point(point).unwrap();
    }
    write.commit().unwrap();
    db.stats().last_commit
}

#[test]
fn restore_points_outlive_checkpoints_with_an_archive_and_not_without() {
    let dir = tempfile::tempdir().unwrap();
    let with = dir.path().join("with.redwood");
    let db = archived(&with);
    commit(&db, &[(b"k", b"v")], Some("loaded"));
    let outcome = db.checkpoint(CheckpointMode::Truncate).unwrap();
    assert!(outcome.log_restarted);
    assert!(db.stats().log_bytes <= 4096, "the log restarted empty");
    let points = db.restore_points();
    assert_eq!(points.len(), 1);
    assert_eq!(points[0].name, "loaded");
    drop(db);
    // And after a reopen: the archive, not the log, holds it.
    let db = archived(&with);
    assert_eq!(db.restore_points().iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["loaded"]);
    assert_eq!(db.diagnostics().checkpoints.archive_failures, 0);

    let without = dir.path().join("without.redwood");
    let db = Database::builder().cache_bytes(4 << 20).create(&without).unwrap();
    commit(&db, &[(b"k", b"v")], Some("loaded"));
    db.checkpoint(CheckpointMode::Truncate).unwrap();
    assert!(db.restore_points().is_empty());
}

#[test]
fn a_restore_from_the_archive_alone_reaches_every_restore_point_and_lsn() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.redwood");
    let db = archived(&path);
    let mut model = Model::new();
    let mut states: Vec<(Lsn, Model)> = Vec::new();
    for round in 0..12u32 {
        let key = format!("k{:02}", round % 5).into_bytes();
        let value = format!("v{round}").into_bytes();
        let point = format!("p{round}");
        let lsn = commit(&db, &[(&key, &value)], Some(&point));
        model.insert(key, value);
        states.push((lsn, model.clone()));
        if round % 3 == 2 {
            db.checkpoint(CheckpointMode::Truncate).unwrap();
        }
        if round == 7 {
            let write = db.begin_write().unwrap();
            write.open_table("t").unwrap().remove(b"k01").unwrap();
            write.commit().unwrap();
            model.remove(&b"k01"[..]);
            states.push((db.stats().last_commit, model.clone()));
        }
    }
    db.archive_log().unwrap();
    let archive = ArchiveTarget::beside(&path);
    let none = Vec::<std::fs::File>::new;
    for (index, (lsn, expected)) in states.iter().enumerate() {
        let out = dir.path().join(format!("lsn-{index}.redwood"));
        let report =
            redwood::restore(none(), Some(&archive), &RestoreTarget::Lsn(*lsn), &out, |_, _| {})
                .unwrap();
        assert_eq!(report.commit_lsn, lsn.get());
        assert_eq!(&restored(&out), expected, "restored to {lsn}");
    }
    for round in 0..12usize {
        let out = dir.path().join(format!("point-{round}.redwood"));
        let target = RestoreTarget::Point(format!("p{round}"));
        db.restore_to(&target, &out, |_, _| {}).unwrap();
        let lsn =
            db.restore_points().iter().find(|p| p.name == format!("p{round}")).unwrap().commit_lsn;
        let expected = &states.iter().find(|(at, _)| *at == lsn).unwrap().1;
        assert_eq!(&restored(&out), expected, "restored to p{round}");
    }
    let latest = dir.path().join("latest.redwood");
    db.restore_to(&RestoreTarget::Latest, &latest, |_, _| {}).unwrap();
    assert_eq!(restored(&latest), model);
}

/// A compaction's commits replace the catalog's root and free the old one: replaying them
/// from the archive must move the root before it frees the page (found by the crash harness
/// with `--archive`: the restore refused "page 5 is a root").
#[test]
fn a_restore_replays_a_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.redwood");
    let db = archived(&path);
    let value = [7u8; 100];
    let keys: Vec<Vec<u8>> =
        (0..3000u32).map(|n| n.wrapping_mul(2_654_435_761).to_be_bytes().to_vec()).collect();
    let puts: Vec<(&[u8], &[u8])> = keys.iter().map(|key| (&key[..], &value[..])).collect();
    commit(&db, &puts, None);
    let write = db.begin_write().unwrap();
    write.open_table("t").unwrap().retain(|key, _| key[3] % 2 == 0).unwrap();
    write.commit().unwrap();
    let before = contents(&db);
    let report = db.compact(|_| {}).unwrap();
    assert!(report.passes > 0, "{report:?}");
    assert_eq!(contents(&db), before);
    let after_lsn = commit(&db, &[(b"after", b"compaction")], None);
    db.archive_log().unwrap();
    let mut expected = before;
    expected.insert(b"after".to_vec(), b"compaction".to_vec());
    let out = dir.path().join("restored.redwood");
    let archive = ArchiveTarget::beside(&path);
    let none = Vec::<std::fs::File>::new;
    let target = RestoreTarget::Lsn(after_lsn);
    redwood::restore(none(), Some(&archive), &target, &out, |_, _| {}).unwrap();
    assert_eq!(restored(&out), expected);
}

/// A transaction that writes a large value, spills its chain to the log (a dirty budget of 8
/// pages) and then removes it leaves frames of pages it allocated and freed again: free after
/// the commit, so a restore from the archive skips them (found by the crash harness with
/// `--archive`: the restore refused "page 73 is not allocated").
#[test]
fn a_restore_skips_pages_a_commit_spilled_and_freed_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.redwood");
    let db = Database::builder()
        .archive(ArchiveTarget::beside(&path))
        .cache_bytes(4 << 20)
        .dirty_pages_max(8)
        .create(&path)
        .unwrap();
    commit(&db, &[(b"kept", b"before")], None);
    let write = db.begin_write().unwrap();
    {
        let mut table = write.open_table("t").unwrap();
        table.insert(b"big", vec![3u8; 200_000]).unwrap();
        table.remove(b"big").unwrap();
        table.insert(b"kept", b"after").unwrap();
    }
    write.commit().unwrap();
    let last = commit(&db, &[(b"last", b"one")], None);
    db.archive_log().unwrap();
    let out = dir.path().join("restored.redwood");
    let archive = ArchiveTarget::beside(&path);
    let none = Vec::<std::fs::File>::new;
    redwood::restore(none(), Some(&archive), &RestoreTarget::Lsn(last), &out, |_, _| {}).unwrap();
    let mut expected = Model::new();
    expected.insert(b"kept".to_vec(), b"after".to_vec());
    expected.insert(b"last".to_vec(), b"one".to_vec());
    assert_eq!(restored(&out), expected);
}

#[test]
fn times_restore_the_last_commit_at_or_before_them_and_out_of_reach_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.redwood");
    let db = archived(&path);
    let mut states = Vec::new();
    let mut model = Model::new();
    for round in 0..6u8 {
        let key = [b'k', round];
        commit(&db, &[(&key, b"v")], None);
        model.insert(key.to_vec(), b"v".to_vec());
        states.push((db.stats().last_commit.get(), model.clone()));
        std::thread::sleep(std::time::Duration::from_millis(3));
        if round == 2 {
            db.checkpoint(CheckpointMode::Truncate).unwrap();
        }
    }
    db.archive_log().unwrap();
    let commits = archived_commits(&archive_dir(&path));
    assert_eq!(commits.len(), states.len());
    for (index, &(lsn, unix_ms)) in commits.iter().enumerate() {
        let out = dir.path().join(format!("t{index}.redwood"));
        db.restore_to(&RestoreTarget::Time(unix_ms), &out, |_, _| {}).unwrap();
        let expected = &states.iter().rev().find(|(at, _)| *at <= lsn).unwrap().1;
        assert_eq!(&restored(&out), expected);
    }
    // Before the first commit: an error naming both ends, and nothing written.
    let out = dir.path().join("early.redwood");
    let first = commits[0].1;
    let error = db.restore_to(&RestoreTarget::Time(first - 1), &out, |_, _| {}).unwrap_err();
    let Error::Backup(BackupError::OutOfReach(message)) = &error else { panic!("{error:?}") };
    assert!(message.contains(&format!("LSN {}", commits[0].0)), "{message}");
    assert!(message.contains(&format!("LSN {}", commits.last().unwrap().0)), "{message}");
    assert!(!out.exists());
    assert!(!dir.path().join("early.redwood.restoring").exists());
    // Past the end of an archive read on its own (it may lack later commits): refused.
    let none: Vec<std::fs::File> = Vec::new();
    let late = RestoreTarget::Time(commits.last().unwrap().1 + 60_000);
    let error = redwood::restore(none, Some(&ArchiveTarget::beside(&path)), &late, &out, |_, _| {})
        .unwrap_err();
    assert!(matches!(error, Error::Backup(BackupError::OutOfReach(_))), "{error:?}");
    assert!(!out.exists());
    // A name the archive does not hold.
    let error = db.restore_to(&RestoreTarget::Point("nope".into()), &out, |_, _| {}).unwrap_err();
    assert!(error.to_string().contains("nope"), "{error}");
}

#[test]
fn a_backup_plus_the_archive_reaches_commits_after_it_and_not_before() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.redwood");
    let db = archived(&path);
    commit(&db, &[(b"a", b"1")], Some("before"));
    db.checkpoint(CheckpointMode::Truncate).unwrap();
    commit(&db, &[(b"b", b"2")], None);
    let car = dir.path().join("base.car");
    let report = db.backup_to_file(&car, None, |_, _| {}).unwrap();
    let at_backup = contents(&db);
    commit(&db, &[(b"c", b"3")], Some("after"));
    db.checkpoint(CheckpointMode::Truncate).unwrap();
    commit(&db, &[(b"d", b"4")], None);
    db.archive_log().unwrap();
    let archive = ArchiveTarget::beside(&path);
    let open = || vec![std::fs::File::open(&car).unwrap()];

    let out = dir.path().join("after.redwood");
    let restore = redwood::restore(
        open(),
        Some(&archive),
        &RestoreTarget::Point("after".into()),
        &out,
        |_, _| {},
    )
    .unwrap();
    assert_eq!(restore.replayed_commits, 1);
    let mut expected = at_backup.clone();
    expected.insert(b"c".to_vec(), b"3".to_vec());
    assert_eq!(restored(&out), expected);

    let out = dir.path().join("latest.redwood");
    redwood::restore(open(), Some(&archive), &RestoreTarget::Latest, &out, |_, _| {}).unwrap();
    assert_eq!(restored(&out), contents(&db));

    let out = dir.path().join("at-backup.redwood");
    let target = RestoreTarget::Lsn(Lsn::new(report.commit_lsn));
    redwood::restore(open(), Some(&archive), &target, &out, |_, _| {}).unwrap();
    assert_eq!(restored(&out), at_backup);

    // A time before the backup was taken is out of its reach, and named so.
    let out = dir.path().join("early.redwood");
    let early = RestoreTarget::Time(report_taken_at(&car) - 1);
    let error = redwood::restore(open(), Some(&archive), &early, &out, |_, _| {}).unwrap_err();
    let Error::Backup(BackupError::OutOfReach(message)) = &error else { panic!("{error:?}") };
    assert!(message.contains("is out of reach") && message.contains("reaches from"), "{message}");
    assert!(!out.exists());

    // A restore point older than the backup is out of its reach.
    let out = dir.path().join("before.redwood");
    let error = redwood::restore(
        open(),
        Some(&archive),
        &RestoreTarget::Point("before".into()),
        &out,
        |_, _| {},
    )
    .unwrap_err();
    let Error::Backup(BackupError::OutOfReach(message)) = &error else { panic!("{error:?}") };
    assert!(message.contains(&format!("LSN {}", report.commit_lsn)), "{message}");
    assert!(!out.exists());
}

#[test]
fn a_gap_in_the_archive_is_named_and_a_lost_manifest_is_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.redwood");
    let db = archived(&path);
    for round in 0..3u8 {
        commit(&db, &[(&[round][..], b"v")], Some(&format!("p{round}")));
        db.checkpoint(CheckpointMode::Truncate).unwrap();
    }
    drop(db);
    let dir_path = archive_dir(&path);
    let mut objects: Vec<PathBuf> = std::fs::read_dir(&dir_path)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "wal"))
        .collect();
    objects.sort();
    assert_eq!(objects.len(), 3, "one object per generation");

    // The manifest is a summary: removed, it is rebuilt from the objects on open.
    std::fs::remove_file(dir_path.join("archive.json")).unwrap();
    let db = archived(&path);
    assert_eq!(db.restore_points().len(), 3);
    drop(db);
    // A damaged manifest (a digit changed: still JSON) fails its checksum and is rebuilt too.
    let manifest = std::fs::read_to_string(dir_path.join("archive.json")).unwrap();
    let at = manifest.find("\"end_lsn\": ").unwrap() + "\"end_lsn\": ".len();
    let mut damaged = manifest.into_bytes();
    damaged[at] = if damaged[at] == b'9' { b'1' } else { damaged[at] + 1 };
    std::fs::write(dir_path.join("archive.json"), &damaged).unwrap();
    let db = archived(&path);
    assert_eq!(db.restore_points().len(), 3);
    drop(db);
    assert_ne!(std::fs::read(dir_path.join("archive.json")).unwrap(), damaged, "rewritten");

    // A generation lost in the middle: a restore across it names it.
    std::fs::remove_file(&objects[1]).unwrap();
    let out = dir.path().join("out.redwood");
    let none: Vec<std::fs::File> = Vec::new();
    let error = redwood::restore(
        none,
        Some(&ArchiveTarget::beside(&path)),
        &RestoreTarget::Latest,
        &out,
        |_, _| {},
    )
    .unwrap_err();
    let Error::Backup(BackupError::ArchiveGap(message)) = &error else { panic!("{error:?}") };
    let first = objects[0].file_name().unwrap().to_str().unwrap();
    assert!(message.contains(first), "{message}");
    assert!(!out.exists());

    // A damaged generation is refused, not replayed.
    let bytes = std::fs::read(&objects[0]).unwrap();
    let mut damaged = bytes.clone();
    let at = damaged.len() - 100;
    damaged[at] ^= 0xff;
    std::fs::write(&objects[0], damaged).unwrap();
    let none: Vec<std::fs::File> = Vec::new();
    let error = redwood::restore(
        none,
        Some(&ArchiveTarget::beside(&path)),
        &RestoreTarget::Latest,
        &out,
        |_, _| {},
    )
    .unwrap_err();
    assert!(!out.exists(), "{error}");
}

#[derive(Clone, Debug)]
enum Op {
    Put(u8, u8),
    Remove(u8),
    Point,
    Checkpoint,
    Reopen,
    Backup,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..24u8, any::<u8>()).prop_map(|(key, value)| Op::Put(key, value)),
        2 => (0..24u8).prop_map(Op::Remove),
        2 => Just(Op::Point),
        2 => Just(Op::Checkpoint),
        1 => Just(Op::Reopen),
        1 => Just(Op::Backup),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, ..ProptestConfig::default() })]

    /// Issue 19's model test: random commits with restore points, checkpoints (archiving on),
    /// reopens and backups; a restore to every restore point, every recorded commit time and
    /// every backup gives exactly the model's state at that commit.
    #[test]
    fn restores_match_the_model_at_every_point_time_and_backup(ops in prop::collection::vec(op(), 4..28)) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.redwood");
        let mut db = archived(&path);
        let mut model = Model::new();
        let mut states: Vec<(u64, Model)> = vec![(0, Model::new())];
        let mut points = Vec::new();
        let mut backups: Vec<(PathBuf, u64)> = Vec::new();
        for (index, op) in ops.iter().enumerate() {
            match op {
                Op::Put(key, _) | Op::Remove(key) => {
                    let write = db.begin_write().unwrap();
                    {
                        let mut table = write.open_table("t").unwrap();
                        if let Some(value) = value_of(op) {
                            table.insert(&[*key][..], &[value][..]).unwrap();
                            model.insert(vec![*key], vec![value]);
                        } else {
                            table.remove(&[*key][..]).unwrap();
                            model.remove(&vec![*key]);
                        }
                    }
                    write.commit().unwrap();
                    states.push((db.stats().last_commit.get(), model.clone()));
                }
                Op::Point => {
                    let name = format!("point-{index}");
                    let mut write = db.begin_write().unwrap();
                    write.restore_point(&name).unwrap();
                    write.commit().unwrap();
                    states.push((db.stats().last_commit.get(), model.clone()));
                    points.push(name);
                }
                Op::Checkpoint => { db.checkpoint(CheckpointMode::Truncate).unwrap(); }
                Op::Reopen => { drop(db); db = archived(&path); }
                Op::Backup => {
                    let car = dir.path().join(format!("b{index}.car"));
                    let report = db.backup_to_file(&car, None, |_, _| {}).unwrap();
                    backups.push((car, report.commit_lsn));
                }
            }
        }
        db.archive_log().unwrap();
        let state_at = |lsn: u64| states.iter().rev().find(|(at, _)| *at <= lsn).unwrap().1.clone();
        let mut restores = 0;
        let mut out = || { restores += 1; dir.path().join(format!("r{restores}.redwood")) };
        for name in &points {
            let target = db.restore_points().into_iter().find(|p| &p.name == name).unwrap();
            let dest = out();
            db.restore_to(&RestoreTarget::Point(name.clone()), &dest, |_, _| {}).unwrap();
            prop_assert_eq!(restored(&dest), state_at(target.commit_lsn.get()), "point {}", name);
        }
        for (lsn, unix_ms) in archived_commits(&archive_dir(&path)) {
            let dest = out();
            db.restore_to(&RestoreTarget::Time(unix_ms), &dest, |_, _| {}).unwrap();
            // The last commit at or before that millisecond (several may share it).
            let newest = archived_commits(&archive_dir(&path))
                .into_iter()
                .filter(|&(_, at)| at <= unix_ms)
                .map(|(lsn, _)| lsn)
                .max()
                .unwrap();
            prop_assert!(newest >= lsn);
            prop_assert_eq!(restored(&dest), state_at(newest), "time {}", unix_ms);
        }
        for (car, commit_lsn) in &backups {
            let dest = out();
            redwood::restore_backup_files(&[car], &dest, |_, _| {}).unwrap();
            prop_assert_eq!(restored(&dest), state_at(*commit_lsn), "backup at {}", commit_lsn);
            let dest = out();
            let archive = ArchiveTarget::beside(&path);
            let sources = vec![std::fs::File::open(car).unwrap()];
            redwood::restore(sources, Some(&archive), &RestoreTarget::Latest, &dest, |_, _| {}).unwrap();
            prop_assert_eq!(restored(&dest), model.clone(), "backup at {} rolled forward", commit_lsn);
        }
    }
}

fn value_of(op: &Op) -> Option<u8> {
    match op {
        Op::Put(_, value) => Some(*value),
        _ => None,
    }
}

/// A SimVfs crash at every sync point of a workload that archives (commits, checkpoints that
/// ship generations and restart the log): the reopened database holds every acknowledged
/// commit, and its archive, completed on open, restores to exactly the database's state (no
/// commit lost between the log and the archive, none shipped twice).
#[test]
fn a_crash_at_every_sync_point_of_archiving_loses_nothing() {
    use redwood_pager::io::Vfs;
    use redwood_pager::io::sim::{CrashMode, FaultConfig, SimVfs};

    const COMMITS: u8 = 10;
    let open = |vfs: &Arc<dyn Vfs>| {
        Database::builder()
            .archive(ArchiveTarget::directory("db.archive"))
            .auto_checkpoint(redwood::AutoCheckpoint::OnCommit)
            .cache_bytes(1 << 20)
            .create_in(Arc::clone(vfs), "db")
    };
    // Runs the workload until the first failure; returns how many commits were acknowledged.
    let workload = |vfs: &Arc<dyn Vfs>| -> u8 {
        let Ok(db) = open(vfs) else { return 0 };
        let mut acknowledged = 0;
        for round in 0..COMMITS {
            let step = || -> redwood::Result<()> {
                let mut write = db.begin_write()?;
                write.open_table("t")?.insert(&[round][..], &[round; 300][..])?;
                if round % 4 == 1 {
                    write.restore_point(&format!("p{round}"))?;
                }
                write.commit()?;
                Ok(())
            };
            if step().is_err() {
                return acknowledged;
            }
            acknowledged = round + 1;
            if round % 3 == 2 && db.checkpoint(CheckpointMode::Truncate).is_err() {
                return acknowledged;
            }
        }
        acknowledged
    };
    // The database and its archive are made first (a crash while a database is created is
    // the page file's case, not the archive's); the crash points are the workload's.
    let created = |seed: u64| {
        let vfs = SimVfs::new(seed);
        let shared: Arc<dyn Vfs> = Arc::new(vfs.clone());
        drop(open(&shared).unwrap());
        (vfs, shared)
    };
    let seed = redwood_pager::io::sim::test_seed("archive crash");
    let (full, shared) = created(seed);
    let syncs_before = full.counters().syncs;
    assert_eq!(workload(&shared), COMMITS);
    let sync_points = full.counters().syncs - syncs_before;
    assert!(sync_points >= 20, "{sync_points} sync points");
    let mut runs = 0;
    for freeze_at in 1..=sync_points {
        for (index, mode) in [CrashMode::dropping(), CrashMode::all()].into_iter().enumerate() {
            let run_seed = seed ^ (freeze_at << 8) ^ index as u64;
            let context = format!("seed {run_seed}, sync {freeze_at}, {mode:?}");
            let (vfs, shared) = created(run_seed);
            vfs.set_faults(FaultConfig::none().with_freeze_at_sync(freeze_at));
            let acknowledged = workload(&shared);
            vfs.crash(mode);
            vfs.set_faults(FaultConfig::none());
            let db = open(&shared).unwrap_or_else(|error| panic!("{context}: reopen: {error}"));
            let state = contents(&db);
            for round in 0..acknowledged {
                assert_eq!(
                    state.get(&[round][..]),
                    Some(&vec![round; 300]),
                    "{context}: commit {round} lost"
                );
            }
            if state.is_empty() {
                continue; // nothing committed survived to restore from
            }
            db.archive_log().unwrap_or_else(|error| panic!("{context}: {error}"));
            let none = Vec::<&[u8]>::new();
            let archive = ArchiveTarget::directory("db.archive");
            redwood::restore_in(
                Arc::clone(&shared),
                none,
                Some(&archive),
                &RestoreTarget::Latest,
                "copy",
                |_, _| {},
            )
            .unwrap_or_else(|error| panic!("{context}: restore: {error}"));
            let copy = Database::builder().create_in(Arc::clone(&shared), "copy").unwrap();
            assert_eq!(contents(&copy), state, "{context}: the archive and the database disagree");
            copy.check_integrity().unwrap();
            runs += 1;
        }
    }
    println!("{runs} crashes restored from the archive, of {} sync points", sync_points);
    assert!(runs > sync_points as usize, "most crash points leave commits to restore");
}

/// The archive in an object store (feature `object-store`): `InMemory` and `LocalFileSystem`
/// hold the generations; restore points outlive checkpoints and reopens, and a restore from the
/// store reaches every restore point.
#[cfg(feature = "object-store")]
#[test]
fn an_object_store_holds_the_archive() {
    use object_store::ObjectStore;
    use object_store::local::LocalFileSystem;
    use object_store::memory::InMemory;

    let dir = tempfile::tempdir().unwrap();
    let bucket = dir.path().join("bucket");
    std::fs::create_dir(&bucket).unwrap();
    let stores: Vec<(&str, Arc<dyn ObjectStore>)> = vec![
        ("memory", Arc::new(InMemory::new())),
        ("local", Arc::new(LocalFileSystem::new_with_prefix(&bucket).unwrap())),
    ];
    for (kind, store) in stores {
        let target = ArchiveTarget::object_store(Arc::clone(&store), "dbs/app").unwrap();
        let path = dir.path().join(format!("{kind}.redwood"));
        let open = || Database::builder().archive(target.clone()).create(&path).unwrap();
        let mut states = Vec::new();
        let mut db = open();
        for round in 0..6u8 {
            commit(&db, &[(&[round][..], b"v")], Some(&format!("p{round}")));
            states.push(contents(&db));
            if round % 2 == 1 {
                db.checkpoint(CheckpointMode::Truncate).unwrap();
            }
            if round == 3 {
                drop(db);
                db = open();
            }
        }
        assert_eq!(db.restore_points().len(), 6, "{kind}");
        db.archive_log().unwrap();
        let objects = archived_objects(&store);
        assert!(objects.iter().any(|name| name == "dbs/app/archive.json"), "{kind}: {objects:?}");
        assert!(
            objects.iter().filter(|name| name.ends_with(".wal")).count() >= 3,
            "{kind}: {objects:?}"
        );
        for (round, expected) in states.iter().enumerate() {
            let out = dir.path().join(format!("{kind}-{round}.redwood"));
            let none = Vec::<std::fs::File>::new();
            let point = RestoreTarget::Point(format!("p{round}"));
            redwood::restore(none, Some(&target), &point, &out, |_, _| {}).unwrap();
            assert_eq!(&restored(&out), expected, "{kind}: p{round}");
        }
    }
}

#[cfg(feature = "object-store")]
fn archived_objects(store: &Arc<dyn object_store::ObjectStore>) -> Vec<String> {
    use futures_util::TryStreamExt;
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let listed: Vec<object_store::ObjectMeta> =
        runtime.block_on(store.list(None).try_collect()).unwrap();
    listed.into_iter().map(|meta| meta.location.to_string()).collect()
}

/// A retention (`ArchiveTarget::keep_for`) removes generations older than it after each
/// shipment, never the newest; their restore points go with them, and a restore then needs a
/// base backup newer than what was removed.
#[test]
fn retention_removes_old_generations_and_a_restore_then_needs_a_backup() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.redwood");
    let target = ArchiveTarget::beside(&path).keep_for(std::time::Duration::ZERO);
    let db = Database::builder().archive(target.clone()).create(&path).unwrap();
    for round in 0..3u8 {
        commit(&db, &[(&[round][..], b"v")], Some(&format!("p{round}")));
        std::thread::sleep(std::time::Duration::from_millis(2));
        db.checkpoint(CheckpointMode::Truncate).unwrap();
    }
    let generations: Vec<String> = std::fs::read_dir(archive_dir(&path))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".wal"))
        .collect();
    assert_eq!(generations.len(), 1, "only the newest is kept: {generations:?}");
    let names: Vec<String> = db.restore_points().into_iter().map(|point| point.name).collect();
    assert_eq!(names, ["p2"]);

    let out = dir.path().join("out.redwood");
    let none = Vec::<std::fs::File>::new();
    let error =
        redwood::restore(none, Some(&target), &RestoreTarget::Latest, &out, |_, _| {}).unwrap_err();
    let Error::Backup(BackupError::ArchiveGap(message)) = &error else { panic!("{error:?}") };
    assert!(message.contains("needs a backup"), "{message}");
    assert!(!out.exists());

    let car = dir.path().join("base.car");
    db.backup_to_file(&car, None, |_, _| {}).unwrap();
    commit(&db, &[(b"after", b"backup")], Some("p3"));
    db.archive_log().unwrap();
    let backups = vec![std::fs::File::open(&car).unwrap()];
    redwood::restore(backups, Some(&target), &RestoreTarget::Point("p3".into()), &out, |_, _| {})
        .unwrap();
    assert_eq!(restored(&out), contents(&db));
}

/// When the backup in `car` was taken (restored alone, its report says).
fn report_taken_at(car: &Path) -> u64 {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("probe.redwood");
    redwood::restore_backup_files(&[car], &out, |_, _| {}).unwrap().taken_at_unix_ms
}
