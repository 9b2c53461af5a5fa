//! The typed API through the facade: typed tables, every range form against `BTreeMap::range`
//! in both directions (read and write transactions, ends interleaved), keys-only scans that read
//! no overflow page, several tables open at once (and atomic under a crash), removal while
//! scanning, and bytes that do not decode as the table's types.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use redwood::io::Vfs;
use redwood::{Database, Durability, Error, TableDefinition};
use redwood_pager::io::sim::{CrashMode, FaultConfig, SimVfs};

const NUMBERS: TableDefinition<i32, u64> = TableDefinition::new("numbers");

fn rng(test: &str) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(redwood_pager::io::sim::test_seed(test))
}

/// Random ranges of every form over keys in -60..60.
fn random_range(rng: &mut ChaCha8Rng) -> (Bound<i32>, Bound<i32>) {
    let mut bound = || match rng.random_range(0..3) {
        0 => Bound::Unbounded,
        1 => Bound::Included(rng.random_range(-60..60)),
        _ => Bound::Excluded(rng.random_range(-60..60)),
    };
    let start = bound();
    let end = bound();
    // BTreeMap::range panics on start > end and on an equal, doubly excluded pair; the model
    // only asks for ranges it accepts.
    let value = |bound: Bound<i32>| match bound {
        Bound::Included(key) | Bound::Excluded(key) => Some(key),
        Bound::Unbounded => None,
    };
    let (start, end) = match (value(start), value(end)) {
        (Some(a), Some(b)) if a > b => (end, start),
        _ => (start, end),
    };
    match (start, end) {
        (Bound::Excluded(a), Bound::Excluded(b)) if a == b => (Bound::Included(a), end),
        _ => (start, end),
    }
}

/// Every `RangeBounds` form compiles against a typed table and returns what the model does.
#[test]
fn every_range_form_matches_btreemap_in_both_directions() {
    let mut rng = rng("every_range_form_matches_btreemap_in_both_directions");
    let db = Database::in_memory().unwrap();
    let mut model = BTreeMap::new();
    let write = db.begin_write().unwrap();
    let mut table = write.open_table(NUMBERS).unwrap();
    for _ in 0..400 {
        let key = rng.random_range(-50..50);
        if rng.random_bool(0.8) {
            let value = rng.random::<u64>();
            table.insert(key, value).unwrap();
            model.insert(key, value);
        } else {
            assert_eq!(table.remove(key).unwrap(), model.remove(&key).is_some());
        }
    }
    drop(table);
    write.commit().unwrap();

    let read = db.begin_read().unwrap();
    let table = read.open_table(NUMBERS).unwrap();
    let pairs = |iter: &mut dyn DoubleEndedIterator<
        Item = redwood::Result<(redwood::AccessGuard<'_, i32>, redwood::AccessGuard<'_, u64>)>,
    >|
     -> Vec<(i32, u64)> {
        iter.map(|e| e.map(|(k, v)| (k.value(), v.value()))).collect::<Result<_, _>>().unwrap()
    };
    let expect = |range: std::ops::RangeInclusive<i32>| -> Vec<(i32, u64)> {
        model.range(range).map(|(k, v)| (*k, *v)).collect()
    };
    // The literal forms, each once: `..`, `a..=b`, `a..b`, `a..`, `..b`, `..=b`.
    assert_eq!(pairs(&mut table.range(..)), expect(i32::MIN..=i32::MAX));
    assert_eq!(pairs(&mut table.range(-10..=10)), expect(-10..=10));
    assert_eq!(pairs(&mut table.range(-10..10)), expect(-10..=9));
    assert_eq!(pairs(&mut table.range(5..)), expect(5..=i32::MAX));
    assert_eq!(pairs(&mut table.range(..5)), expect(i32::MIN..=4));
    assert_eq!(pairs(&mut table.range(..=5)), expect(i32::MIN..=5));
    let scan = |range: (Bound<i32>, Bound<i32>)| pairs(&mut table.range(range));

    let write = db.begin_write().unwrap();
    let writable = write.open_table(NUMBERS).unwrap();
    for _ in 0..300 {
        let range = random_range(&mut rng);
        let expected: Vec<(i32, u64)> = model.range(range).map(|(k, v)| (*k, *v)).collect();
        assert_eq!(scan(range), expected, "{range:?}");
        let reversed: Vec<(i32, u64)> = expected.iter().rev().copied().collect();
        let found: Vec<(i32, u64)> = table
            .range(range)
            .rev()
            .map(|e| e.map(|(k, v)| (k.value(), v.value())))
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(found, reversed, "{range:?} reversed");
        // The write transaction's batched scan, with its two ends interleaved at random: the
        // same steps on the model's iterator give the same entries.
        let mut ours = writable.range(range);
        let mut theirs = model.range(range);
        loop {
            let front = rng.random_bool(0.5);
            let (a, b) = if front {
                (ours.next(), theirs.next())
            } else {
                (ours.next_back(), theirs.next_back())
            };
            let a = a.map(|e| e.map(|(k, v)| (k.value(), v.value())).unwrap());
            assert_eq!(a, b.map(|(k, v)| (*k, *v)), "{range:?}");
            if a.is_none() {
                break;
            }
        }
        let keys: Vec<i32> = writable
            .keys(range)
            .rev()
            .map(|k| k.map(|k| k.value()))
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(keys, model.range(range).rev().map(|(k, _)| *k).collect::<Vec<_>>());
    }
}

/// A keys-only scan over 1,000 entries with 1 MB values reads no overflow page: the cache's
/// lookups and the file's page reads during the scan are the tree's pages, where a values scan
/// reads the 1,000 chains.
#[test]
fn a_keys_only_scan_reads_no_overflow_page() {
    const BLOBS: TableDefinition<u32, &[u8]> = TableDefinition::new("blobs");
    let dir = tempfile::tempdir().unwrap();
    let db =
        Database::builder().durability(Durability::None).create(dir.path().join("db")).unwrap();
    let value = vec![0x5a; 1 << 20];
    let write = db.begin_write().unwrap();
    let mut table = write.open_table(BLOBS).unwrap();
    for key in 0..1000u32 {
        table.insert(key, value.as_slice()).unwrap();
    }
    drop(table);
    write.commit().unwrap();

    // Pages looked up in the pool, and pages read from the data file around it (a long
    // chain is streamed in runs, not through the pool).
    let lookups = |db: &Database| {
        let diagnostics = db.diagnostics();
        diagnostics.pool.hits + diagnostics.pool.misses + diagnostics.pager.io.pages_read
    };
    let read = db.begin_read().unwrap();
    let table = read.open_table(BLOBS).unwrap();
    let before = lookups(&db);
    let keys: Vec<u32> =
        table.keys(..).map(|k| k.map(|k| k.value())).collect::<Result<_, _>>().unwrap();
    let keys_scan = lookups(&db) - before;
    assert_eq!(keys, (0..1000).collect::<Vec<_>>());
    // 1,000 small leaf cells fit in a handful of leaves; one value alone is 256 pages.
    assert!(keys_scan < 100, "the keys-only scan looked up {keys_scan} pages");

    let before = lookups(&db);
    let mut bytes = 0;
    for item in table.values(..100) {
        bytes += item.unwrap().as_bytes().len();
    }
    let values_scan = lookups(&db) - before;
    assert_eq!(bytes, 100 << 20);
    assert!(
        values_scan >= 100 * 256,
        "a values scan of 100 chains looked up only {values_scan} pages"
    );
}

/// Three tables of different types open at once in one write transaction, changed in turn, and
/// a handle whose table was deleted meanwhile reports it instead of panicking.
#[test]
fn several_typed_tables_are_open_at_once() {
    const USERS: TableDefinition<u64, &str> = TableDefinition::new("users");
    const BY_NAME: TableDefinition<&str, u64> = TableDefinition::new("by_name");
    const VISITS: TableDefinition<(u64, u32), bool> = TableDefinition::new("visits");
    let db = Database::in_memory().unwrap();
    let write = db.begin_write().unwrap();
    let (mut users, mut by_name, mut visits) = (
        write.open_table(USERS).unwrap(),
        write.open_table(BY_NAME).unwrap(),
        write.open_table(VISITS).unwrap(),
    );
    for (id, name) in [(1u64, "ada"), (2, "grace"), (3, "edsger")] {
        users.insert(id, name).unwrap();
        by_name.insert(name, id).unwrap();
        for day in 0..3u32 {
            visits.insert((id, day), day % 2 == 0).unwrap();
        }
    }
    assert_eq!(users.get(2).unwrap().unwrap().value(), "grace");
    assert_eq!(by_name.get("edsger").unwrap().unwrap().value(), 3);
    assert_eq!(visits.len(), 9);
    let mut again = write.open_table(USERS).unwrap(); // one table, two handles
    again.insert(4u64, "barbara").unwrap();
    by_name.insert("barbara", 4).unwrap();
    assert_eq!(users.len(), 4);
    assert_eq!(users.get(4).unwrap().unwrap().value(), "barbara"); // seen through the other handle
    assert!(matches!(write.create_table(USERS), Err(Error::TableExists(_))));
    assert!(write.delete_table("visits").unwrap());
    assert!(
        matches!(visits.insert((9, 9), true), Err(Error::TableNotFound(name)) if name == "visits")
    );
    assert_eq!(visits.len(), 0);
    drop((users, by_name, visits, again));
    write.commit().unwrap();

    let read = db.begin_read().unwrap();
    assert_eq!(read.list_tables().unwrap(), ["by_name", "users"]);
    let users = read.open_table(USERS).unwrap();
    let by_name = read.open_table(BY_NAME).unwrap();
    for entry in users.range(..) {
        let (id, name) = entry.unwrap();
        assert_eq!(by_name.get(name.value()).unwrap().map(|g| g.value()), Some(id.value()));
    }
    assert!(matches!(read.open_table(VISITS), Err(Error::TableNotFound(_))));
    db.check_integrity().unwrap();
}

/// `retain`, `remove_range`, `pop_first` and `pop_last` against a model, over enough entries
/// that the batched scans under them refill many times, with overflow values among them.
#[test]
fn removing_while_scanning_matches_the_model() {
    const T: TableDefinition<u32, Vec<u8>> = TableDefinition::new("t");
    let mut rng = rng("removing_while_scanning_matches_the_model");
    let db = Database::in_memory().unwrap();
    let write = db.begin_write().unwrap();
    let mut table = write.open_table(T).unwrap();
    let mut model = BTreeMap::new();
    for key in 0..2000u32 {
        let size = if key % 97 == 0 { 9000 } else { rng.random_range(0..40) };
        let value = vec![(key % 251) as u8; size];
        table.insert(key, &value).unwrap();
        model.insert(key, value);
    }
    let removed = table.retain(|key, value| key % 3 != 0 || value.len() > 5000).unwrap();
    let before = model.len();
    model.retain(|key, value| key % 3 != 0 || value.len() > 5000);
    assert_eq!(removed, (before - model.len()) as u64);
    let range = 500..1500u32;
    assert_eq!(
        table.remove_range(range.clone()).unwrap(),
        model.range(range.clone()).count() as u64
    );
    model.retain(|key, _| !range.contains(key));
    let first = table.pop_first().unwrap().map(|(k, v)| (k.value(), v.value()));
    assert_eq!(first, model.pop_first());
    let last = table.pop_last().unwrap().map(|(k, v)| (k.value(), v.value()));
    assert_eq!(last, model.pop_last());
    assert_eq!(table.len(), model.len() as u64);
    let found: BTreeMap<u32, Vec<u8>> = table
        .range(..)
        .map(|e| e.map(|(k, v)| (k.value(), v.value())))
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(found, model);
    drop(table);
    write.commit().unwrap();
    db.check_integrity().unwrap();
}

/// A byte table read as a typed one: bytes that do not decode are `Error::Decode`, never a
/// panic, and the ones that do are read.
#[test]
fn bytes_that_do_not_decode_are_a_typed_error() {
    const AS_U32: TableDefinition<u32, u32> = TableDefinition::new("t");
    let db = Database::in_memory().unwrap();
    let write = db.begin_write().unwrap();
    let mut raw = write.open_table("t").unwrap();
    raw.insert(7u32.to_be_bytes(), 9u32.to_be_bytes()).unwrap();
    raw.insert(8u32.to_be_bytes(), b"not four bytes").unwrap();
    raw.insert(b"odd", 1u32.to_be_bytes()).unwrap();
    drop(raw);
    write.commit().unwrap();
    let read = db.begin_read().unwrap();
    let table = read.open_table(AS_U32).unwrap();
    assert_eq!(table.get(7).unwrap().map(|v| v.value()), Some(9));
    assert!(matches!(table.get(8), Err(Error::Decode(e)) if e.type_name == "u32"));
    let scanned: Vec<_> = table.range(..).collect();
    assert_eq!(scanned.len(), 3);
    assert!(scanned[0].is_ok());
    assert!(matches!(&scanned[1], Err(Error::Decode(_))));
    assert!(matches!(&scanned[2], Err(Error::Decode(_))), "a 3-byte key is no u32");
}

fn crash_open(vfs: &SimVfs) -> Result<Database, Error> {
    let shared: Arc<dyn Vfs> = Arc::new(vfs.clone());
    Database::builder()
        .cache_bytes(32 * 4096)
        .dirty_pages_max(16)
        .segment_pages(64)
        .create_in(shared, "db")
}

const ROUNDS: TableDefinition<u64, String> = TableDefinition::new("rounds");
const NAMES: TableDefinition<&str, u64> = TableDefinition::new("names");
const BLOBS: TableDefinition<(u64, u32), Vec<u8>> = TableDefinition::new("blobs");

/// Each round inserts into three tables open at once, interleaved, and commits durably.
fn three_table_workload(vfs: &SimVfs, rounds: u64) -> u64 {
    let Ok(db) = crash_open(vfs) else { return 0 };
    let mut done = 0;
    for round in 0..rounds {
        let result = (|| {
            let write = db.begin_write()?;
            let (mut a, mut b, mut c) =
                (write.open_table(ROUNDS)?, write.open_table(NAMES)?, write.open_table(BLOBS)?);
            for item in 0..4u32 {
                a.insert(round * 10 + u64::from(item), format!("round {round}"))?;
                b.insert(format!("r{round}i{item}").as_str(), round)?;
                let size = if item == 0 { 6000 } else { 50 };
                c.insert((round, item), vec![round as u8; size])?;
            }
            drop((a, b, c));
            write.commit()
        })();
        if result.is_err() {
            break;
        }
        done = round + 1;
    }
    done
}

/// The rounds each of the three tables holds.
type RoundsSeen = (Vec<u64>, Vec<u64>, Vec<u64>);

/// Which rounds each table holds after a reopen.
fn rounds_seen(db: &Database) -> Result<RoundsSeen, Error> {
    let read = db.begin_read()?;
    let mut seen = (Vec::new(), Vec::new(), Vec::new());
    if read.list_tables()?.is_empty() {
        return Ok(seen);
    }
    for entry in read.open_table(ROUNDS)?.keys(..) {
        seen.0.push(entry?.value() / 10);
    }
    for entry in read.open_table(NAMES)?.values(..) {
        seen.1.push(entry?.value());
    }
    for entry in read.open_table(BLOBS)?.keys(..) {
        seen.2.push(entry?.value().0);
    }
    for list in [&mut seen.0, &mut seen.1, &mut seen.2] {
        list.sort_unstable();
        list.dedup();
    }
    Ok(seen)
}

/// A transaction that inserts into three open tables at once commits atomically: a crash at
/// every sync point (dropped, torn and reordered sectors) leaves all three tables at the same
/// committed round, at or after the last one acknowledged.
#[test]
fn three_tables_open_at_once_commit_atomically_at_every_crash_point() {
    let base_seed = redwood_pager::io::sim::test_seed("three tables crash");
    let full = SimVfs::new(base_seed);
    assert_eq!(three_table_workload(&full, 6), 6);
    let sync_points = full.counters().syncs;
    let mut verified = 0;
    for freeze_at in 1..=sync_points {
        for (index, mode) in [CrashMode::dropping(), CrashMode::all()].into_iter().enumerate() {
            let run_seed = base_seed ^ (freeze_at << 8) ^ index as u64;
            let vfs = SimVfs::new(run_seed);
            vfs.set_faults(FaultConfig::none().with_freeze_at_sync(freeze_at));
            let acknowledged = three_table_workload(&vfs, 6);
            vfs.crash(mode);
            vfs.set_faults(FaultConfig::none());
            let context = format!("seed {run_seed}, sync {freeze_at}, {mode:?}");
            let db = match crash_open(&vfs) {
                Ok(db) => db,
                Err(error)
                    if acknowledged == 0
                        && (error.is_corruption()
                            || matches!(
                                &error,
                                Error::Storage(redwood::StorageError::NotADatabase { .. })
                            )) =>
                {
                    continue;
                }
                Err(error) => panic!("{context}: reopen: {error}"),
            };
            let (a, b, c) = rounds_seen(&db).unwrap_or_else(|e| panic!("{context}: {e}"));
            assert_eq!(a, b, "{context}: two tables of one transaction disagree");
            assert_eq!(a, c, "{context}: two tables of one transaction disagree");
            let committed = a.len() as u64;
            assert_eq!(a, (0..committed).collect::<Vec<_>>(), "{context}: a gap in the rounds");
            assert!(
                committed >= acknowledged,
                "{context}: {committed} rounds < {acknowledged} acknowledged"
            );
            db.check_integrity().unwrap_or_else(|e| panic!("{context}: {e}"));
            verified += 1;
        }
    }
    assert!(
        verified as u64 > sync_points,
        "{verified} of {} crash points verified",
        2 * sync_points
    );
}

/// `Builder` options that the existing file contradicts are `OptionConflict` errors (kind
/// `InvalidInput`), not silently ignored; options left unset take the file's.
#[test]
fn options_that_conflict_with_the_file_are_errors() {
    use redwood::{ErrorKind, PageSize};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    drop(
        Database::builder()
            .page_size(PageSize::new(8192).unwrap())
            .segment_pages(128)
            .create(&path)
            .unwrap(),
    );
    let error =
        Database::builder().page_size(PageSize::new(4096).unwrap()).create(&path).unwrap_err();
    assert!(
        matches!(
            error,
            Error::OptionConflict { option: "page size", requested: 4096, existing: 8192 }
        ),
        "{error}"
    );
    assert_eq!(error.kind(), ErrorKind::InvalidInput);
    let error = Database::builder().segment_pages(64).open(&path).unwrap_err();
    assert!(
        matches!(
            error,
            Error::OptionConflict { option: "segment pages", requested: 64, existing: 128 }
        ),
        "{error}"
    );
    let db = Database::builder().page_size(PageSize::new(8192).unwrap()).open(&path).unwrap();
    drop(db);
    let db = Database::open(&path).unwrap(); // nothing set: the file's geometry
    assert_eq!(db.diagnostics().pager.page_size_bytes, 8192);
}

/// `Error::kind` names the failure whichever layer raised it.
#[test]
fn error_kinds_are_flat() {
    use redwood::ErrorKind;
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(Database::open(dir.path().join("none")).unwrap_err().kind(), ErrorKind::NotFound);
    let path = dir.path().join("db");
    let db = Database::create(&path).unwrap();
    assert_eq!(Database::open(&path).unwrap_err().kind(), ErrorKind::Locked);
    let write = db.begin_write().unwrap();
    assert_eq!(write.open_table("").unwrap_err().kind(), ErrorKind::InvalidInput);
    assert_eq!(write.open_existing_table("t").unwrap_err().kind(), ErrorKind::NotFound);
    write.open_table("t").unwrap().insert(b"k", b"two").unwrap();
    assert_eq!(write.create_table("t").unwrap_err().kind(), ErrorKind::AlreadyExists);
    let long_key = vec![1u8; 64 * 1024 + 1];
    assert_eq!(
        write.open_table("t").unwrap().insert(long_key, b"v").unwrap_err().kind(),
        ErrorKind::TooLarge
    );
    const AS_U8: TableDefinition<&[u8], u8> = TableDefinition::new("t");
    assert_eq!(write.open_table(AS_U8).unwrap().get(b"k").unwrap_err().kind(), ErrorKind::Decode);
    drop(write);
    let not_a_db = dir.path().join("text");
    std::fs::write(&not_a_db, vec![b'x'; 8192]).unwrap();
    assert_eq!(Database::open(&not_a_db).unwrap_err().kind(), ErrorKind::NotADatabase);
}
