//! Long keys through the public API, with the default options (4 KiB pages, an inline key limit
//! of 512 bytes): keys up to 64 KiB, some sharing all but their last byte, with inline and
//! overflow values, survive inserts, lookups, scans both ways, overwrites, removals (in a write
//! transaction's batched scans too), a reopen, `delete_table` and `recover`; the integrity check
//! (the free-space map against every tree's pages and chains, key chains included) stays clean
//! throughout, so no chain page leaks or is owned twice. A key over 64 KiB is `TooLarge`.

use std::collections::BTreeMap;

use redwood::{Database, ErrorKind};

/// `length` bytes of a pattern seeded by `seed`, ending in `last`.
fn key(length: usize, seed: u8, last: u8) -> Vec<u8> {
    let mut key: Vec<u8> =
        (0..length).map(|index| (index as u8).wrapping_mul(13).wrapping_add(seed)).collect();
    *key.last_mut().unwrap() = last;
    key
}

/// Keys of 513 bytes, 4 KiB and 64 KiB, each length with keys differing early and keys
/// differing only in their last byte; values inline, and every seventh an overflow chain.
fn entries() -> BTreeMap<Vec<u8>, Vec<u8>> {
    let mut entries = BTreeMap::new();
    for length in [513, 4096, 64 * 1024] {
        for seed in 0..4u8 {
            for last in 0..5u8 {
                let key = key(length, seed * 50, last * 40);
                let number = entries.len();
                let value = if number % 7 == 3 {
                    vec![number as u8; 10_000 + number * 100]
                } else {
                    vec![number as u8; number % 300]
                };
                entries.insert(key, value);
            }
        }
    }
    entries
}

#[track_caller]
fn assert_clean(db: &Database) {
    let report = db.check_report(|_, _| {}).unwrap();
    assert!(report.is_clean(), "{:#?}", report.problems);
    db.check_integrity().unwrap();
}

#[track_caller]
fn assert_holds(db: &Database, model: &BTreeMap<Vec<u8>, Vec<u8>>) {
    let read = db.begin_read().unwrap();
    let table = read.open_table("t").unwrap();
    assert_eq!(table.len(), model.len() as u64);
    for (key, value) in model {
        assert_eq!(table.get(key).unwrap().map(|guard| guard.to_vec()).as_ref(), Some(value));
    }
    let forward: Vec<(Vec<u8>, Vec<u8>)> =
        table.range(..).map(|entry| crate::owned(entry.unwrap())).collect();
    assert_eq!(forward, model.clone().into_iter().collect::<Vec<_>>());
    let backward: Vec<Vec<u8>> =
        table.range(..).rev().map(|entry| entry.unwrap().0.to_vec()).collect();
    assert_eq!(backward, model.keys().rev().cloned().collect::<Vec<_>>());
    // A range bounded by long keys that share all but their last byte.
    let (low, high) = (key(4096, 50, 40), key(4096, 50, 160));
    let inside: Vec<Vec<u8>> = table
        .range(low.as_slice()..high.as_slice())
        .map(|entry| entry.unwrap().0.to_vec())
        .collect();
    let expected: Vec<Vec<u8>> =
        model.range(low.clone()..high.clone()).map(|(k, _)| k.clone()).collect();
    assert_eq!(inside, expected);
    assert_eq!(table.get(&low[..4095]).unwrap(), None, "a prefix of a stored key is not it");
}

#[test]
fn keys_of_64_kib_round_trip_through_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("long-keys.redwood");
    let mut model = entries();
    {
        let db = Database::create(&path).unwrap();
        let write = db.begin_write().unwrap();
        {
            let mut table = write.open_table("t").unwrap();
            for (key, value) in &model {
                assert!(!table.insert(key, value).unwrap());
            }
            // Seen by the transaction's own reads and batched scans.
            let longest = key(64 * 1024, 0, 0);
            let value = table.get(&longest).unwrap().map(|value| value.to_vec());
            assert_eq!(value.as_ref(), model.get(&longest));
            let keys: Vec<Vec<u8>> = table.keys(..).map(|k| k.unwrap().to_vec()).collect();
            assert_eq!(keys, model.keys().cloned().collect::<Vec<_>>());
        }
        write.commit().unwrap();
        assert_clean(&db);
        assert_holds(&db, &model);

        // Overwrites (inline to chain and back) and removals of every third key.
        let write = db.begin_write().unwrap();
        {
            let mut table = write.open_table("t").unwrap();
            let keys: Vec<Vec<u8>> = model.keys().cloned().collect();
            for (number, key) in keys.iter().enumerate() {
                if number % 3 == 0 {
                    assert!(table.remove(key).unwrap());
                    model.remove(key);
                } else {
                    let value = if number % 2 == 0 { vec![0xab; 9000] } else { vec![0xcd; 17] };
                    assert!(table.insert(key, &value).unwrap());
                    model.insert(key.clone(), value);
                }
            }
        }
        write.commit().unwrap();
        assert_clean(&db);
        assert_holds(&db, &model);
    }
    // Reopened: the same entries, still clean.
    let db = Database::open(&path).unwrap();
    assert_clean(&db);
    assert_holds(&db, &model);
    // A write transaction's scans remove as they go: a range of long keys, then the rest.
    let write = db.begin_write().unwrap();
    {
        let mut table = write.open_table("t").unwrap();
        let (low, high) = (key(4096, 0, 0), key(4096, 150, 160));
        let in_range = model.range(low.clone()..=high.clone()).count() as u64;
        assert_eq!(table.remove_range(low.as_slice()..=high.as_slice()).unwrap(), in_range);
        model.retain(|key, _| !(low <= *key && *key <= high));
        let short = model.keys().filter(|key| key.len() == 513).count() as u64;
        assert!(short > 0);
        assert_eq!(table.retain(|key, _| key.len() != 513).unwrap(), short);
        model.retain(|key, _| key.len() != 513);
    }
    write.commit().unwrap();
    assert_clean(&db);
    assert_holds(&db, &model);
    let write = db.begin_write().unwrap();
    {
        let mut table = write.open_table("t").unwrap();
        while let Some((key, _)) = table.pop_last().unwrap() {
            model.remove(&key.to_vec());
        }
        assert!(model.is_empty());
    }
    write.commit().unwrap();
    assert_clean(&db);
}

#[test]
fn deleting_and_recovering_tables_of_long_keys_leave_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("source.redwood");
    let model = entries();
    {
        let db = Database::create(&path).unwrap();
        let write = db.begin_write().unwrap();
        for name in ["kept", "deleted"] {
            let mut table = write.open_table(name).unwrap();
            for (key, value) in &model {
                table.insert(key, value).unwrap();
            }
        }
        write.commit().unwrap();
        let write = db.begin_write().unwrap();
        assert!(write.delete_table("deleted").unwrap());
        write.commit().unwrap();
        assert_clean(&db);
    }
    // `recover` salvages every entry, long keys whole, into a clean copy.
    let copy = dir.path().join("copy.redwood");
    redwood::recover(&path, &copy, |_, _| {}).unwrap();
    let db = Database::open(&copy).unwrap();
    assert_clean(&db);
    let read = db.begin_read().unwrap();
    let table = read.open_table("kept").unwrap();
    let copied: Vec<(Vec<u8>, Vec<u8>)> =
        table.range(..).map(|entry| crate::owned(entry.unwrap())).collect();
    assert_eq!(copied, model.into_iter().collect::<Vec<_>>());
}

#[test]
fn keys_over_64_kib_are_too_large() {
    let db = Database::in_memory().unwrap();
    let write = db.begin_write().unwrap();
    let mut table = write.open_table("t").unwrap();
    table.insert(vec![1u8; 64 * 1024], b"v").unwrap();
    for value in [&b"v"[..], &[2u8; 10_000]] {
        let error = table.insert(vec![1u8; 64 * 1024 + 1], value).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::TooLarge, "{error}");
    }
    assert_eq!(table.len(), 1);
    drop(table);
    write.commit().unwrap();
    assert_clean(&db);
}
