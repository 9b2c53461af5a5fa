//! Backups through the public API: a CARv1 archive of one snapshot restores to exactly that
//! snapshot (tables of every kind, overflow values, more than one page map), while a writer
//! goes on; a damaged, truncated or foreign archive is a typed error that leaves nothing at the
//! destination; and an independent CAR tool verifies the archive's hashes (`ipfs-car`, which
//! `.ci/run` installs).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use redwood::{Database, ErrorKind, MultimapTableDefinition, TableDefinition};

const USERS: TableDefinition<u64, &str> = TableDefinition::new("users");
const BLOBS: TableDefinition<u32, &[u8]> = TableDefinition::new("blobs");
const TAGS: MultimapTableDefinition<&str, u64> = MultimapTableDefinition::new("tags");

/// A database with three tables: 3,000 users, 24 blobs of 1 MiB (over 6,000 overflow pages, so
/// more than one page map) and a multimap.
fn populate(db: &Database) -> redwood::Result<()> {
    let write = db.begin_write()?;
    {
        let mut users = write.open_table(USERS)?;
        for id in 0..3_000u64 {
            users.insert(id, format!("user-{id:05}").as_str())?;
        }
        let mut blobs = write.open_table(BLOBS)?;
        for id in 0..24u32 {
            blobs.insert(id, vec![id as u8; 1 << 20].as_slice())?;
        }
        let mut tags = write.open_multimap_table(TAGS)?;
        for id in 0..500u64 {
            tags.insert(["even", "odd"][id as usize % 2], id)?;
        }
    }
    write.commit()
}

/// Every table's rows, as bytes.
type Contents = BTreeMap<String, Vec<(Vec<u8>, Vec<u8>)>>;

/// Everything the database holds, as bytes, table by table.
fn contents(db: &Database) -> redwood::Result<Contents> {
    let read = db.begin_read()?;
    let mut all = BTreeMap::new();
    for name in read.list_tables()? {
        let rows = match name.as_str() {
            "tags" => read
                .open_multimap_table(MultimapTableDefinition::<&[u8], &[u8]>::new("tags"))?
                .range(..)
                .map(|pair| pair.map(|(k, v)| (k.to_vec(), v.to_vec())))
                .collect::<redwood::Result<_>>()?,
            _ => read
                .open_table(name.as_str())?
                .range(..)
                .map(|e| e.map(|(k, v)| (k.to_vec(), v.to_vec())))
                .collect::<redwood::Result<_>>()?,
        };
        all.insert(name, rows);
    }
    Ok(all)
}

fn backup_bytes(db: &Database) -> redwood::Result<Vec<u8>> {
    let mut archive = Vec::new();
    let report = db.backup(&mut archive, |_, _| {})?;
    assert_eq!(read_independently(&archive), report.pages_written);
    Ok(archive)
}

/// Reads `archive` with an independent CAR reader (`iroh-car`): one root, the first block; every
/// block's sha2-256 digest matches its CID. Returns the raw (page) blocks.
fn read_independently(archive: &[u8]) -> u64 {
    use multihash_codetable::{Code, MultihashDigest};
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    runtime.block_on(async {
        let mut reader = iroh_car::CarReader::new(archive).await.expect("a CARv1 header");
        let roots = reader.header().roots().to_vec();
        assert_eq!(roots.len(), 1);
        let (mut first, mut raw) = (true, 0);
        while let Some((cid, data)) = reader.next_block().await.expect("a CAR block") {
            assert_eq!(*cid.hash(), Code::Sha2_256.digest(&data), "block {cid}");
            assert!(!first || cid == roots[0], "the root comes first");
            raw += u64::from(cid.codec() == 0x55);
            first = false;
        }
        raw
    })
}

/// No file of a database named `path` exists (nor a staged restore of one).
fn nothing_at(path: &Path) -> bool {
    let name = path.file_name().unwrap().to_str().unwrap();
    std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .all(|entry| !entry.unwrap().file_name().to_str().unwrap().starts_with(name))
}

#[test]
fn a_backup_restores_to_its_snapshot_while_the_writer_goes_on() -> redwood::Result<()> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let db = Database::create(dir.path().join("source.redwood"))?;
    populate(&db)?;
    let before = contents(&db)?;
    let snapshot_lsn = db.stats().last_commit;

    // A commit lands after the backup's first pass: the archive still holds the snapshot.
    let mut archive = Vec::new();
    let mut changed = false;
    let report = db.backup(&mut archive, |done, total| {
        if done == total && !changed {
            changed = true;
            let write = db.begin_write().unwrap();
            write.open_table(USERS).unwrap().insert(0, "changed").unwrap();
            write.delete_table("blobs").unwrap();
            write.commit().unwrap();
        }
    })?;
    assert!(changed);
    assert_eq!(report.commit_lsn, snapshot_lsn.get());
    assert!(report.pages > 6_000, "{report:?}");
    assert_eq!(report.bytes, archive.len() as u64);
    assert!(report.root.starts_with("bafyrei"), "a CIDv1 dag-cbor root: {}", report.root);
    assert_eq!(read_independently(&archive), report.pages);

    let restored = dir.path().join("restored.redwood");
    let mut ticks = Vec::new();
    let outcome = redwood::restore_backup(archive.as_slice(), &restored, |done, total| {
        ticks.push((done, total))
    })?;
    assert_eq!(
        (outcome.pages, outcome.tables, outcome.commit_lsn),
        (report.pages, 3, report.commit_lsn)
    );
    assert_eq!(ticks.last(), Some(&(report.pages, report.pages)));
    let copy = Database::open(&restored)?;
    assert_eq!(contents(&copy)?, before, "the restored database is the snapshot");
    copy.check_integrity()?;
    // It is a database like any other: it takes writes, and a backup of it is the same pages.
    let write = copy.begin_write()?;
    write.open_table(USERS)?.insert(9_999, "new")?;
    write.commit()?;
    drop(copy);
    let copy = Database::open(&restored)?;
    assert_eq!(
        copy.begin_read()?.open_table(USERS)?.get(9_999)?.map(|v| v.value().to_owned()),
        Some("new".into())
    );
    copy.check_integrity()?;

    if let Some(tool) = ipfs_car() {
        let file = dir.path().join("backup.car");
        std::fs::write(&file, &archive).unwrap();
        let verified = std::process::Command::new(&tool)
            .args(["blocks", "--verify"])
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            verified.status.success(),
            "ipfs-car: {}",
            String::from_utf8_lossy(&verified.stderr)
        );
        let mut damaged = archive.clone();
        let at = damaged.len() - 100; // inside the last page block
        damaged[at] ^= 0x40;
        std::fs::write(&file, &damaged).unwrap();
        let refused = std::process::Command::new(&tool)
            .args(["blocks", "--verify"])
            .arg(&file)
            .output()
            .unwrap();
        assert!(!refused.status.success(), "ipfs-car finds the damaged block");
    }
    Ok(())
}

#[test]
fn a_bad_archive_is_a_typed_error_and_leaves_nothing() -> redwood::Result<()> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let db = Database::in_memory()?;
    let write = db.begin_write()?;
    for id in 0..2_000u64 {
        write.open_table(USERS)?.insert(id, "someone with a name")?;
    }
    write.commit()?;
    let archive = backup_bytes(&db)?;
    let target = dir.path().join("out.redwood");

    let mut flipped = archive.clone();
    let at = flipped.len() / 2;
    flipped[at] ^= 1;
    let error = redwood::restore_backup(flipped.as_slice(), &target, |_, _| {}).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Corrupt, "{error}");
    assert!(error.is_corruption());
    assert!(nothing_at(&target), "a failed restore leaves nothing");

    let truncated = &archive[..archive.len() - 10];
    let error = redwood::restore_backup(truncated, &target, |_, _| {}).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Corrupt, "{error}");
    assert!(error.to_string().contains("truncated"), "{error}");
    assert!(nothing_at(&target));

    let error = redwood::restore_backup(b"not a car file at all".as_slice(), &target, |_, _| {})
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NotADatabase, "{error}");
    let error = redwood::restore_backup([].as_slice(), &target, |_, _| {}).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NotADatabase, "{error}");
    assert!(nothing_at(&target));

    // A good archive restores; a second restore onto it is refused and changes nothing.
    redwood::restore_backup(archive.as_slice(), &target, |_, _| {})?;
    let error = redwood::restore_backup(archive.as_slice(), &target, |_, _| {}).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::AlreadyExists, "{error}");
    assert_eq!(Database::open(&target)?.begin_read()?.open_table(USERS)?.len(), 2_000);
    Ok(())
}

/// The `ipfs-car` command `.ci/run` installs (`target/npm-tools`), or `None` outside CI when it
/// is missing (a CI run without it fails).
fn ipfs_car() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/npm-tools/node_modules/.bin/ipfs-car");
    if root.exists() {
        return Some(root);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI must install ipfs-car (`.ci/run`): {}",
        root.display()
    );
    eprintln!("SKIPPED the ipfs-car check: {} is missing (`.ci/run` installs it)", root.display());
    None
}

/// A restore on the simulated disk, frozen at each of its sync points in turn and crashed
/// (unsynced writes dropped, or torn and reordered): afterwards either no database is at the
/// destination and a second restore succeeds, or the destination opens to exactly the backup's
/// contents with a clean integrity check. Never half a restore.
#[test]
fn a_crash_at_every_sync_point_of_a_restore_leaves_all_or_nothing() -> redwood::Result<()> {
    use std::sync::Arc;

    use redwood_pager::io::Vfs;
    use redwood_pager::io::sim::{CrashMode, FaultConfig, SimVfs};

    let source = Database::builder().segment_pages(64).in_memory()?;
    let write = source.begin_write()?;
    for id in 0..1_500u64 {
        write.open_table(USERS)?.insert(id, format!("user {id} with a longer name").as_str())?;
    }
    write.open_table(BLOBS)?.insert(7, vec![7u8; 300_000].as_slice())?;
    write.commit()?;
    let expected = contents(&source)?;
    let archive = backup_bytes(&source)?;

    let seed = redwood_pager::io::sim::test_seed("restore crash");
    let full = SimVfs::new(seed);
    redwood::restore_backup_in(
        Arc::new(full.clone()),
        vec![archive.as_slice()],
        "copy",
        |_, _| {},
    )?;
    let sync_points = full.counters().syncs;
    assert!(sync_points >= 4, "{sync_points} sync points");
    let (mut restored, mut absent) = (0, 0);
    for freeze_at in 1..=sync_points {
        for (index, mode) in [CrashMode::dropping(), CrashMode::all()].into_iter().enumerate() {
            let run_seed = seed ^ (freeze_at << 8) ^ index as u64;
            let context = format!("seed {run_seed}, sync {freeze_at}, {mode:?}");
            let vfs = SimVfs::new(run_seed);
            vfs.set_faults(FaultConfig::none().with_freeze_at_sync(freeze_at));
            let shared: Arc<dyn Vfs> = Arc::new(vfs.clone());
            let _ = redwood::restore_backup_in(
                Arc::clone(&shared),
                vec![archive.as_slice()],
                "copy",
                |_, _| {},
            );
            vfs.crash(mode);
            vfs.set_faults(FaultConfig::none());
            if shared.exists(std::path::Path::new("copy")).unwrap() {
                restored += 1;
            } else {
                absent += 1;
                redwood::restore_backup_in(
                    Arc::clone(&shared),
                    vec![archive.as_slice()],
                    "copy",
                    |_, _| {},
                )
                .unwrap_or_else(|error| panic!("{context}: a second restore: {error}"));
            }
            let db = Database::builder()
                .create_in(shared, "copy")
                .unwrap_or_else(|error| panic!("{context}: {error}"));
            assert_eq!(contents(&db)?, expected, "{context}");
            db.check_integrity().unwrap_or_else(|error| panic!("{context}: {error}"));
        }
    }
    println!("{restored} crashes left the restored database, {absent} left none (then restored)");
    assert!(absent > 0, "some crash points come before the restore's end");
    Ok(())
}

/// An incremental backup holds only the pages its parent lacks; a chain of a full backup and
/// two incremental ones restores to the last one's snapshot, and a chain out of order or with a
/// link missing is refused.
#[test]
fn incremental_backups_restore_as_a_chain() -> redwood::Result<()> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let db = Database::create(dir.path().join("source.redwood"))?;
    populate(&db)?;
    let full = backup_bytes(&db)?;
    let base = redwood::BackupParent::read(full.as_slice())?;

    // A small change: a few users renamed, one blob replaced.
    let write = db.begin_write()?;
    for id in [3u64, 1_500, 2_999] {
        write.open_table(USERS)?.insert(id, "renamed")?;
    }
    write.open_table(BLOBS)?.insert(5, vec![0xEE; 1 << 20].as_slice())?;
    write.commit()?;
    let mut first = Vec::new();
    let first_report = db.backup_incremental(&base, &mut first, |_, _| {})?;
    assert_eq!(read_independently(&first), first_report.pages_written);
    assert_eq!(first_report.parent.as_deref(), Some(base.root().as_str()));
    assert!(first_report.pages_written < first_report.pages / 10, "{first_report:?}");
    assert!(first.len() < full.len() / 10, "{} against {}", first.len(), full.len());

    // Another change on top; the second incremental builds on the first.
    let write = db.begin_write()?;
    write.delete_table("blobs")?;
    write.open_multimap_table(TAGS)?.insert("prime", 7)?;
    write.commit()?;
    let after_second = contents(&db)?;
    let parent = redwood::BackupParent::read(first.as_slice())?;
    let mut second = Vec::new();
    db.backup_incremental(&parent, &mut second, |_, _| {})?;

    let restored = dir.path().join("chain.redwood");
    let chain = vec![full.as_slice(), first.as_slice(), second.as_slice()];
    let report = redwood::restore_backup_chain(chain, &restored, |_, _| {})?;
    assert_eq!(report.tables, 2);
    let copy = Database::open(&restored)?;
    assert_eq!(contents(&copy)?, after_second);
    copy.check_integrity()?;
    drop(copy);

    let elsewhere = dir.path().join("refused.redwood");
    for (chain, says) in [
        (vec![first.as_slice(), full.as_slice()], "incremental"),
        (vec![full.as_slice(), second.as_slice()], "does not build on"),
        (vec![second.as_slice()], "incremental"),
    ] {
        let error = redwood::restore_backup_chain(chain, &elsewhere, |_, _| {}).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput, "{error}");
        assert!(error.to_string().contains(says), "{error}");
        assert!(nothing_at(&elsewhere));
    }
    Ok(())
}

/// A backup taken while another thread commits as fast as it can restores to exactly the state
/// of the commit its manifest names: commit `k` adds key `k`, so that state is keys `0..=k`.
#[test]
fn a_backup_under_continuous_commits_is_exactly_its_commit() -> redwood::Result<()> {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};

    let dir = tempfile::tempdir().expect("a temporary directory");
    let db = Arc::new(Database::create(dir.path().join("busy.redwood"))?);
    let write = db.begin_write()?;
    write.open_table(USERS)?.insert(0, "first")?;
    write.commit()?;
    let commits = Arc::new(Mutex::new(vec![(db.stats().last_commit.get(), 0u64)]));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (db, commits, stop) = (Arc::clone(&db), Arc::clone(&commits), Arc::clone(&stop));
        std::thread::spawn(move || -> redwood::Result<u64> {
            let mut k = 0;
            while !stop.load(Ordering::Relaxed) || k < 50 {
                k += 1;
                let write = db.begin_write()?;
                write.open_table(USERS)?.insert(k, "busy")?;
                write.commit()?;
                commits.lock().unwrap().push((db.stats().last_commit.get(), k));
            }
            Ok(k)
        })
    };
    while commits.lock().unwrap().len() < 20 {
        std::thread::yield_now();
    }
    let mut archive = Vec::new();
    // Between the two passes, the writer commits at least twice more.
    let report = db.backup(&mut archive, |done, total| {
        if done == total {
            let seen = commits.lock().unwrap().len();
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
            while commits.lock().unwrap().len() < seen + 2 && std::time::Instant::now() < deadline {
                std::thread::yield_now();
            }
        }
    })?;
    stop.store(true, Ordering::Relaxed);
    let last = writer.join().unwrap()?;
    let commits = commits.lock().unwrap();
    let &(_, k) = commits.iter().find(|(lsn, _)| *lsn == report.commit_lsn).unwrap_or_else(|| {
        panic!("the manifest's commit {} is one of the writer's", report.commit_lsn)
    });
    assert!(k < last, "the writer went on after the backup's snapshot ({k} of {last})");
    let restored = dir.path().join("restored.redwood");
    redwood::restore_backup(archive.as_slice(), &restored, |_, _| {})?;
    let copy = Database::open(&restored)?;
    let keys: Vec<u64> = copy
        .begin_read()?
        .open_table(USERS)?
        .keys(..)
        .map(|key| key.map(|key| key.value()))
        .collect::<redwood::Result<_>>()?;
    assert_eq!(keys, (0..=k).collect::<Vec<_>>());
    Ok(())
}

/// What a restore that crashed before its staged database was even a database leaves (a main
/// file of garbage, a log beside it) is cleared by the next restore to the same destination.
#[test]
fn a_stale_staged_restore_that_is_no_database_is_cleared() -> redwood::Result<()> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let db = Database::in_memory()?;
    let write = db.begin_write()?;
    write.open_table(USERS)?.insert(1, "one")?;
    write.commit()?;
    let archive = backup_bytes(&db)?;
    let target = dir.path().join("out.redwood");
    std::fs::write(dir.path().join("out.redwood.restoring"), b"half a header").unwrap();
    std::fs::write(dir.path().join("out.redwood.restoring.wal"), b"junk").unwrap();
    redwood::restore_backup(archive.as_slice(), &target, |_, _| {})?;
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["out.redwood"], "only the restored database is left");
    assert_eq!(Database::open(&target)?.begin_read()?.open_table(USERS)?.len(), 1);
    Ok(())
}

/// The blocks of `archive` in order, as an independent reader (`iroh-car`) reads them.
fn blocks(archive: &[u8]) -> Vec<(String, Vec<u8>)> {
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    runtime.block_on(async {
        let mut reader = iroh_car::CarReader::new(archive).await.expect("a CARv1 header");
        let mut blocks = Vec::new();
        while let Some((cid, data)) = reader.next_block().await.expect("a CAR block") {
            blocks.push((cid.to_string(), data));
        }
        blocks
    })
}

/// `backup_to_file` of a full backup (one pass, every core writing at its offset) writes the
/// archive `backup` streams: the same length, the same page maps and page blocks in the same
/// order (only the manifest's time, and so the root, differ), read by an independent reader,
/// accepted by `ipfs-car`, and restoring to the same contents.
#[test]
fn a_file_backup_is_the_streamed_archive_written_in_one_pass() -> redwood::Result<()> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    // Many batches of the unbuffered file (24 MiB of values), and a database so small that its
    // whole archive is shorter than one aligned block.
    let db = Database::create(dir.path().join("source.redwood"))?;
    populate(&db)?;
    check_file_backup(&db, dir.path(), "full")?;
    let tiny = Database::create(dir.path().join("tiny.redwood"))?;
    let write = tiny.begin_write()?;
    write.open_table(USERS)?.insert(1, "one")?;
    write.commit()?;
    check_file_backup(&tiny, dir.path(), "tiny")
}

/// `backup_to_file` into `dir/NAME.car`: the bytes `Database::backup` streams, read by the
/// independent readers, restoring to the database's contents.
fn check_file_backup(db: &Database, dir: &std::path::Path, name: &str) -> redwood::Result<()> {
    let streamed = backup_bytes(db)?;
    let file = dir.join(format!("{name}.car"));
    let mut reported = Vec::new();
    let report = db.backup_to_file(&file, None, |done, total| reported.push((done, total)))?;
    let written = std::fs::read(&file).unwrap();
    assert_eq!(written.len() as u64, report.bytes);
    assert_eq!(written.len(), streamed.len());
    assert_eq!(read_independently(&written), report.pages);
    let (ours, theirs) = (blocks(&written), blocks(&streamed));
    assert_eq!(ours.len(), theirs.len());
    assert_eq!(ours[0].0, report.root, "the manifest is the root and the first block");
    assert_eq!(ours[1..], theirs[1..], "the page maps and the pages, in order");
    assert_eq!(reported.last(), Some(&(report.pages, report.pages)));
    assert!(reported.windows(2).all(|pair| pair[0].0 <= pair[1].0), "{reported:?}");
    if let Some(tool) = ipfs_car() {
        let verified = std::process::Command::new(&tool)
            .args(["blocks", "--verify"])
            .arg(&file)
            .output()
            .unwrap();
        assert!(verified.status.success(), "{}", String::from_utf8_lossy(&verified.stderr));
    }
    let restored = dir.join(format!("{name}-restored.redwood"));
    redwood::restore_backup_files(&[&file], &restored, |_, _| {})?;
    assert_eq!(contents(&Database::open(&restored)?)?, contents(db)?);
    Ok(())
}

/// A SimVfs crash at every sync point of `backup_to_file` (dropping, and dropping + tearing +
/// reordering unsynced writes): the database loses nothing and opens clean, and the archive's
/// name holds either nothing or a complete backup that restores to the database's contents.
#[test]
fn a_crash_at_every_sync_point_of_a_backup_loses_nothing() -> redwood::Result<()> {
    use std::sync::Arc;

    use redwood_pager::io::Vfs;
    use redwood_pager::io::sim::{CrashMode, FaultConfig, SimVfs};

    let made = |seed: u64| -> redwood::Result<(SimVfs, Arc<dyn Vfs>)> {
        let vfs = SimVfs::new(seed);
        let shared: Arc<dyn Vfs> = Arc::new(vfs.clone());
        let db = Database::builder().segment_pages(64).create_in(Arc::clone(&shared), "db")?;
        let write = db.begin_write()?;
        for id in 0..800u64 {
            write
                .open_table(USERS)?
                .insert(id, format!("user {id} with a longer name").as_str())?;
        }
        write.open_table(BLOBS)?.insert(3, vec![3u8; 100_000].as_slice())?;
        write.commit()?;
        db.close()?;
        Ok((vfs, shared))
    };
    let open = |shared: &Arc<dyn Vfs>| Database::builder().create_in(Arc::clone(shared), "db");
    let seed = redwood_pager::io::sim::test_seed("backup crash");
    let (full, shared) = made(seed)?;
    let db = open(&shared)?;
    let expected = contents(&db)?;
    let before = full.counters().syncs;
    db.backup_to_file("b.car", None, |_, _| {})?;
    let sync_points = full.counters().syncs - before;
    drop(db);
    assert!(sync_points >= 2, "{sync_points} sync points");
    let (mut complete, mut absent) = (0, 0);
    for freeze_at in 1..=sync_points + 1 {
        for (index, mode) in [CrashMode::dropping(), CrashMode::all()].into_iter().enumerate() {
            let run_seed = seed ^ (freeze_at << 8) ^ index as u64;
            let context = format!("seed {run_seed}, sync {freeze_at}, {mode:?}");
            let (vfs, shared) = made(run_seed)?;
            let db = open(&shared)?;
            vfs.set_faults(FaultConfig::none().with_freeze_at_sync(freeze_at));
            let _ = db.backup_to_file("b.car", None, |_, _| {});
            drop(db);
            vfs.crash(mode);
            vfs.set_faults(FaultConfig::none());
            let db = open(&shared).unwrap_or_else(|error| panic!("{context}: reopen: {error}"));
            assert_eq!(contents(&db)?, expected, "{context}");
            db.check_integrity().unwrap_or_else(|error| panic!("{context}: {error}"));
            let path = Path::new("b.car");
            if !shared.exists(path).unwrap() {
                absent += 1;
                continue;
            }
            let storage = shared.open_read_only(path).unwrap();
            let mut bytes = vec![0u8; storage.len().unwrap() as usize];
            storage.read_at(0, &mut bytes).unwrap();
            redwood::restore_backup_in(
                Arc::clone(&shared),
                vec![bytes.as_slice()],
                "copy",
                |_, _| {},
            )
            .unwrap_or_else(|error| panic!("{context}: the archive at its name: {error}"));
            let copy = Database::builder().create_in(Arc::clone(&shared), "copy")?;
            assert_eq!(contents(&copy)?, expected, "{context}");
            complete += 1;
        }
    }
    println!("{complete} crashes left a complete backup, {absent} none");
    assert!(absent > 0 && complete > 0, "{complete} complete, {absent} absent");
    Ok(())
}

/// A file system that takes `O_DIRECT` but refuses 4 KiB-aligned writes (ZFS wants its record
/// size, say): every write through an unbuffered handle fails with `EINVAL`.
#[derive(Debug)]
struct RefusesDirectWrites(redwood_pager::io::MemVfs);

#[derive(Debug)]
struct Refusing(Box<dyn redwood_pager::io::Storage>);

impl redwood_pager::io::Storage for Refusing {
    fn len(&self) -> std::io::Result<u64> {
        self.0.len()
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        self.0.read_at(offset, buf)
    }
    fn write_at(&self, _offset: u64, _data: &[u8]) -> std::io::Result<()> {
        Err(std::io::Error::from_raw_os_error(22)) // EINVAL
    }
    fn set_len(&self, len: u64) -> std::io::Result<()> {
        self.0.set_len(len)
    }
    fn sync_data(&self) -> std::io::Result<()> {
        self.0.sync_data()
    }
    fn try_lock(&self) -> std::io::Result<bool> {
        self.0.try_lock()
    }
}

impl redwood_pager::io::Vfs for RefusesDirectWrites {
    fn open(&self, path: &Path) -> std::io::Result<Box<dyn redwood_pager::io::Storage>> {
        self.0.open(path)
    }
    fn create(&self, path: &Path) -> std::io::Result<Box<dyn redwood_pager::io::Storage>> {
        self.0.create(path)
    }
    fn create_unbuffered(
        &self,
        path: &Path,
    ) -> std::io::Result<Box<dyn redwood_pager::io::Storage>> {
        Ok(Box::new(Refusing(self.0.create(path)?)))
    }
    fn remove(&self, path: &Path) -> std::io::Result<()> {
        self.0.remove(path)
    }
    fn rename(&self, from: &Path, to: &Path) -> std::io::Result<()> {
        self.0.rename(from, to)
    }
    fn exists(&self, path: &Path) -> std::io::Result<bool> {
        self.0.exists(path)
    }
    fn list(&self, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
        self.0.list(dir)
    }
    fn sync_dir(&self, dir: &Path) -> std::io::Result<()> {
        self.0.sync_dir(dir)
    }
}

/// Where the unbuffered file refuses its writes, a full backup is made buffered instead, with
/// the same bytes, and restores.
#[test]
fn a_backup_falls_back_to_buffered_writes_where_direct_io_is_refused() -> redwood::Result<()> {
    use std::sync::Arc;
    let vfs: Arc<dyn redwood_pager::io::Vfs> =
        Arc::new(RefusesDirectWrites(redwood_pager::io::MemVfs::new()));
    let db = Database::builder().create_in(Arc::clone(&vfs), "db")?;
    populate(&db)?;
    let streamed = backup_bytes(&db)?;
    let report = db.backup_to_file("b.car", None, |_, _| {})?;
    let storage = vfs.open(Path::new("b.car")).unwrap();
    let mut written = vec![0; storage.len().unwrap() as usize];
    storage.read_at(0, &mut written).unwrap();
    assert_eq!(written.len() as u64, report.bytes);
    let (ours, theirs) = (blocks(&written), blocks(&streamed));
    assert_eq!(ours[1..], theirs[1..], "the same page maps and pages");
    assert!(!vfs.exists(Path::new("b.car.partial")).unwrap(), "no partial file is left");
    Ok(())
}
