//! A lost log is an error, never silent data loss: deleting the log, emptying it, cutting it to
//! less than its header, or putting another database's (or an older copy of this one's) log in
//! its place makes `open` fail with a typed error and change nothing; putting the log back
//! opens the database with every commit. A clean close (`Database::close`) makes the log
//! disposable, and `Builder::discard_missing_log` opens without it and says what was lost.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use redwood::{CheckpointMode, Database, Error, StorageError};

/// Every file in `dir` with its bytes.
pub fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        files.insert(path.clone(), std::fs::read(&path).unwrap());
    }
    files
}

pub fn wal(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".wal");
    PathBuf::from(name)
}

/// A database with `commits` commits of ten keys each into table "t", the first `checkpointed`
/// of them checkpointed (truncate mode), the rest only in the log; dropped, not closed.
pub fn database_with_log(path: &Path, commits: u32, checkpointed: u32) {
    let db = Database::create(path).unwrap();
    for commit in 0..commits {
        let write = db.begin_write().unwrap();
        let mut table = write.open_table("t").unwrap();
        for key in 0..10u32 {
            table.insert((commit * 10 + key).to_be_bytes(), [commit as u8; 40]).unwrap();
        }
        write.commit().unwrap();
        if commit + 1 == checkpointed {
            assert!(db.checkpoint(CheckpointMode::Truncate).unwrap().log_restarted);
        }
    }
    assert!(db.stats().last_commit > db.stats().checkpoint_lsn, "commits are left in the log");
}

/// The keys table "t" holds.
pub fn keys(db: &Database) -> Vec<u32> {
    let read = db.begin_read().unwrap();
    let table = read.open_table("t").unwrap();
    let entries: Vec<_> = table.range(..).collect::<redwood::Result<_>>().unwrap();
    entries.iter().map(|(key, _)| u32::from_be_bytes(key[..4].try_into().unwrap())).collect()
}

fn assert_missing(result: redwood::Result<Database>, expected_reason: &str) {
    match result {
        Err(Error::Storage(StorageError::LogMissing { reason, checkpoint_lsn, .. })) => {
            assert!(reason.contains(expected_reason), "{reason}");
            assert!(checkpoint_lsn.get() > 0, "names the checkpoint the files hold");
        }
        Err(other) => panic!("expected LogMissing, got {other}"),
        Ok(_) => panic!("opened a database whose log is missing ({expected_reason})"),
    }
}

#[test]
fn a_deleted_or_emptied_log_is_refused_and_nothing_changes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.redwood");
    database_with_log(&path, 6, 2);
    let log = std::fs::read(wal(&path)).unwrap();
    let cases: [(&str, Option<usize>); 3] =
        [("does not exist", None), ("holds 0 bytes", Some(0)), ("holds 1000 bytes", Some(1000))];
    for (reason, keep) in cases {
        match keep {
            None => std::fs::remove_file(wal(&path)).unwrap(),
            Some(bytes) => std::fs::write(wal(&path), &log[..bytes]).unwrap(),
        }
        let before = files(dir.path());
        assert_missing(Database::open(&path), reason);
        assert_missing(Database::create(&path), reason);
        assert_missing(Database::open_read_only(&path), reason);
        assert_eq!(files(dir.path()), before, "{reason}: a refused open changes nothing");
        std::fs::write(wal(&path), &log).unwrap();
        let db = Database::open(&path).unwrap();
        assert_eq!(keys(&db), (0..60).collect::<Vec<_>>(), "{reason}: every commit is back");
        db.check_integrity().unwrap();
        drop(db);
    }
}

#[test]
fn another_databases_log_or_an_older_copy_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.redwood");
    let other = dir.path().join("other.redwood");
    database_with_log(&path, 4, 1);
    database_with_log(&other, 3, 0);
    let log = std::fs::read(wal(&path)).unwrap();
    // An older copy of this database's own log: saved two restarts ago. (A copy from one
    // restart ago cannot be told from a restart that was due and did not happen; see
    // docs/RECOVERY.md.)
    let older = {
        let db = Database::open(&path).unwrap();
        let older = std::fs::read(wal(&path)).unwrap();
        for key in [1000u32, 1001] {
            assert!(db.checkpoint(CheckpointMode::Full).unwrap().log_restarted);
            let write = db.begin_write().unwrap();
            write.open_table("t").unwrap().insert(key.to_be_bytes(), b"after").unwrap();
            write.commit().unwrap();
        }
        older
    };
    let current = std::fs::read(wal(&path)).unwrap();
    for (what, bytes) in
        [("another database's log", std::fs::read(wal(&other)).unwrap()), ("an older copy", older)]
    {
        std::fs::write(wal(&path), &bytes).unwrap();
        let before = files(dir.path());
        match Database::open(&path) {
            Err(Error::Storage(StorageError::LogMismatch { .. })) => {}
            Err(other) => panic!("{what}: expected LogMismatch, got {other}"),
            Ok(_) => panic!("{what}: opened with a log that is not its own"),
        }
        // The override is for a missing log only: a foreign one must be moved aside first.
        let discarding = Database::builder().discard_missing_log(true).open(&path);
        assert!(matches!(discarding, Err(Error::Storage(StorageError::LogMismatch { .. }))));
        assert_eq!(files(dir.path()), before, "{what}: a refused open changes nothing");
    }
    assert_ne!(log, current);
    std::fs::write(wal(&path), &current).unwrap();
    let db = Database::open(&path).unwrap();
    let mut expected: Vec<u32> = (0..40).collect();
    expected.extend([1000, 1001]);
    assert_eq!(keys(&db), expected);
}

#[test]
fn after_a_clean_close_the_log_may_go() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.redwood");
    database_with_log(&path, 3, 0);
    Database::open(&path).unwrap().close().unwrap();
    std::fs::remove_file(wal(&path)).unwrap();
    let db = Database::open(&path).unwrap();
    assert_eq!(keys(&db), (0..30).collect::<Vec<_>>());
    assert!(db.recovery_report().discarded_log.is_none());
    // The reopen clears the mark before any commit can reach the new log: a commit now makes
    // a missing log an error again.
    let write = db.begin_write().unwrap();
    write.open_table("t").unwrap().insert(500u32.to_be_bytes(), b"new").unwrap();
    write.commit().unwrap();
    drop(db);
    std::fs::remove_file(wal(&path)).unwrap();
    assert_missing(Database::open(&path), "does not exist");
}

#[test]
fn dropping_with_every_commit_checkpointed_also_closes_clean() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.redwood");
    database_with_log(&path, 2, 0);
    let db = Database::open(&path).unwrap();
    db.checkpoint(CheckpointMode::Passive).unwrap();
    drop(db);
    std::fs::remove_file(wal(&path)).unwrap();
    assert_eq!(keys(&Database::open(&path).unwrap()), (0..20).collect::<Vec<_>>());
}

#[test]
fn the_override_opens_without_the_log_and_says_what_was_lost() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.redwood");
    database_with_log(&path, 5, 2);
    std::fs::remove_file(wal(&path)).unwrap();
    let db = Database::builder().discard_missing_log(true).open(&path).unwrap();
    let discarded = db.recovery_report().discarded_log.clone().expect("the loss is reported");
    assert!(discarded.contains("does not exist"), "{discarded}");
    assert_eq!(keys(&db), (0..20).collect::<Vec<_>>(), "the checkpointed commits remain");
    db.check_integrity().unwrap();
    let write = db.begin_write().unwrap();
    write.open_table("t").unwrap().insert(700u32.to_be_bytes(), b"go on").unwrap();
    write.commit().unwrap();
    drop(db);
    let db = Database::open(&path).unwrap();
    assert!(keys(&db).contains(&700));
    assert!(db.recovery_report().discarded_log.is_none());
}

#[test]
fn a_new_database_whose_log_never_got_written_opens() {
    // Creating writes the data file, then the log: a crash in between leaves no log, and the
    // meta data (the log closed empty from the start) lets the next open create it.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.redwood");
    let vfs: std::sync::Arc<dyn redwood::io::Vfs> = std::sync::Arc::new(redwood::io::OsVfs::new());
    drop(redwood_pager::PageFile::create(vfs, &path, &Default::default()).unwrap());
    assert!(!wal(&path).exists());
    let db = Database::open(&path).unwrap();
    assert!(db.begin_read().unwrap().list_tables().unwrap().is_empty());
    assert!(db.recovery_report().discarded_log.is_none());
}
