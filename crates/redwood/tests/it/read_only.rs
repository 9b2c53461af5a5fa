//! Read-only opening never changes a file: recovery runs in memory, a damaged log tail is
//! reported (with its byte offset, and whether a valid commit frame follows the damage) instead
//! of cut off, and every change is refused. A writable open then cuts the tail, but first saves
//! the bytes a valid commit frame vouches for beside the log.

use std::os::unix::fs::FileExt;

use redwood::{CheckpointMode, Database, Error, StorageError};

use crate::log_identity::{database_with_log, files, keys, wal};

#[test]
fn a_read_only_open_reads_everything_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.redwood");
    database_with_log(&path, 5, 2);
    let before = files(dir.path());
    {
        let db = Database::open_read_only(&path).unwrap();
        assert!(db.is_read_only());
        assert_eq!(keys(&db), (0..50).collect::<Vec<_>>());
        assert_eq!(db.recovery_report().commits_in_log, 3);
        let report = db.check_report(|_, _| {}).unwrap();
        assert!(report.is_clean(), "{:?}", report.problems);
        let refused = |result: redwood::Result<()>| {
            assert!(matches!(result, Err(Error::Storage(StorageError::ReadOnly))), "{result:?}");
        };
        refused(db.begin_write().map(drop));
        refused(db.checkpoint(CheckpointMode::Truncate).map(drop));
        db.close().unwrap(); // nothing to do: a read-only handle leaves the files as they are
    }
    assert_eq!(files(dir.path()), before, "a read-only open changed a file");
    // A read-only open neither creates a database nor the missing log of an existing one.
    let absent = dir.path().join("absent.redwood");
    assert!(Database::builder().read_only(true).create(&absent).is_err());
    assert!(!absent.exists());
}

#[test]
fn a_read_only_open_works_on_files_without_write_permission() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.redwood");
    database_with_log(&path, 2, 1);
    for file in [path.clone(), wal(&path)] {
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o444)).unwrap();
    }
    let db = Database::open_read_only(&path).unwrap();
    assert_eq!(keys(&db), (0..20).collect::<Vec<_>>());
}

/// Flips one byte inside the page frames of the last commit (a transaction of one insert into
/// table "t", committed after `database_with_log`'s) and returns its log offset.
fn damage_last_commit(path: &std::path::Path) -> u64 {
    let db = Database::open(path).unwrap();
    let frames_start = db.stats().log_bytes;
    let write = db.begin_write().unwrap();
    write.open_table("t").unwrap().insert(9999u32.to_be_bytes(), b"last").unwrap();
    write.commit().unwrap();
    assert!(db.stats().log_bytes > frames_start + 4096);
    drop(db);
    let offset = frames_start + 200; // inside the first page image of the last commit
    let log = std::fs::OpenOptions::new().read(true).write(true).open(wal(path)).unwrap();
    let mut byte = [0u8];
    log.read_exact_at(&mut byte, offset).unwrap();
    log.write_all_at(&[byte[0] ^ 0x20], offset).unwrap();
    frames_start
}

#[test]
fn a_damaged_last_commit_is_reported_read_only_and_saved_before_a_writable_open_cuts_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.redwood");
    database_with_log(&path, 3, 1);
    let frames_start = damage_last_commit(&path);
    let before = files(dir.path());
    {
        let db = Database::open_read_only(&path).unwrap();
        let tail = db.recovery_report().damaged_tail.expect("the damage is found");
        assert_eq!(tail.offset, frames_start, "the damaged frame is the first of the commit");
        assert_eq!(tail.committed_end, frames_start);
        let commit = tail.commit_after.expect("the last commit's own frame follows the damage");
        assert!(commit.offset > tail.offset);
        assert!(!keys(&db).contains(&9999), "the damaged commit is not served");
        let report = db.check_report(|_, _| {}).unwrap();
        assert!(!report.is_clean());
        assert_eq!(report.damaged_log_tail, Some(tail));
        let problem = report.problems.iter().find(|problem| problem.place == "log").unwrap();
        assert!(problem.message.contains(&format!("byte {frames_start}")), "{}", problem.message);
    }
    assert_eq!(files(dir.path()), before, "the read-only check changed a file");

    let db = Database::open(&path).unwrap();
    let report = db.recovery_report().clone();
    let saved = report.tail_saved_to.expect("the vouched-for tail was saved");
    let tail = report.damaged_tail.unwrap();
    let saved_bytes = std::fs::read(&saved).unwrap();
    let original = &before[&wal(&path)];
    let start = tail.committed_end as usize;
    assert_eq!(saved_bytes, original[start..start + saved_bytes.len()], "the tail, byte for byte");
    assert!(saved_bytes.len() as u64 >= tail.commit_after.unwrap().offset - tail.committed_end);
    assert_eq!(keys(&db), (0..30).collect::<Vec<_>>());
    // The writable handle's check sees a log without the tail: the files are sound.
    assert!(db.check_report(|_, _| {}).unwrap().is_clean());
}

/// A tail damaged at an offset where tails were saved before (a database that keeps crashing
/// at one place) goes to a name past every earlier one: the names never run out and the
/// database opens (the crash harness's long runs found the old limit of 100 names).
#[test]
fn a_saved_tail_takes_a_name_past_every_earlier_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.redwood");
    database_with_log(&path, 3, 1);
    let frames_start = damage_last_commit(&path);
    let base = format!("{}.damaged-{frames_start}", wal(&path).display());
    std::fs::write(&base, b"an earlier tail").unwrap();
    for suffix in (1..=150).filter(|suffix| suffix % 7 != 0) {
        std::fs::write(format!("{base}-{suffix}"), b"an earlier tail").unwrap();
    }
    let db = Database::open(&path).unwrap();
    let saved = db.recovery_report().tail_saved_to.clone().expect("the tail was saved");
    assert_eq!(saved, std::path::PathBuf::from(format!("{base}-151")));
    assert_eq!(keys(&db), (0..30).collect::<Vec<_>>());
    assert_eq!(std::fs::read(format!("{base}-150")).unwrap(), b"an earlier tail");
}

#[test]
fn a_torn_tail_without_a_commit_after_it_is_reported_but_not_saved() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.redwood");
    database_with_log(&path, 2, 0);
    let end = {
        let db = Database::open(&path).unwrap();
        db.stats().log_bytes
    };
    // Half a frame of this log's generation past the last commit, as a crash in the middle of
    // appending a commit leaves: the first 48 bytes (its header) of the last frame copied there.
    let log = std::fs::read(wal(&path)).unwrap();
    let handle = std::fs::OpenOptions::new().write(true).open(wal(&path)).unwrap();
    let header_of_a_frame = &log[1024..1024 + 48];
    handle.write_all_at(header_of_a_frame, end).unwrap();
    drop(handle);
    let db = Database::open_read_only(&path).unwrap();
    let tail = db.recovery_report().damaged_tail.expect("a torn frame is reported");
    assert_eq!(tail.offset, end);
    assert_eq!(tail.commit_after, None);
    drop(db);
    let db = Database::open(&path).unwrap();
    assert!(db.recovery_report().tail_saved_to.is_none(), "nothing acknowledged to keep");
    assert_eq!(keys(&db), (0..20).collect::<Vec<_>>());
    drop(db);
    assert!(Database::open_read_only(&path).unwrap().recovery_report().damaged_tail.is_none());
}
