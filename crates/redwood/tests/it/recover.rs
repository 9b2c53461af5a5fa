//! `redwood::recover` on databases that do not open normally: one with a damaged frame in an
//! older commit of its log, one with a damaged current copy of its free-space map. Every entry
//! that does not depend on the damaged page comes back; the report names the page and the key
//! range of the entries that do; the damaged files are never changed.

use std::collections::BTreeMap;
use std::path::Path;

use redwood::{CheckpointMode, Database, RecoverReport};

use crate::log_identity::{files, wal};

use crate::owned;

type Model = BTreeMap<String, BTreeMap<Vec<u8>, Vec<u8>>>;

fn entry(table: &str, index: u32) -> (Vec<u8>, Vec<u8>) {
    let key = format!("{table}{index:05}").into_bytes();
    let value = format!("value of {table} {index} ").repeat(3).into_bytes();
    (key, value)
}

/// Commits `count` entries from `start` into `table`, durably, and records them in `model`.
fn commit(db: &Database, model: &mut Model, table: &str, start: u32, count: u32) {
    let write = db.begin_write().unwrap();
    let mut handle = write.open_table(table).unwrap();
    for index in start..start + count {
        let (key, value) = entry(table, index);
        handle.insert(&key, &value).unwrap();
        model.entry(table.to_owned()).or_default().insert(key, value);
    }
    write.commit().unwrap();
}

/// Everything the recovered database holds.
fn contents(path: &Path) -> Model {
    let db = Database::open(path).unwrap();
    let read = db.begin_read().unwrap();
    let mut model = Model::new();
    for name in read.list_tables().unwrap() {
        let table = read.open_table(&name).unwrap();
        let entries = table.range(..).map(|item| owned(item.unwrap())).collect();
        model.insert(name, entries);
    }
    model
}

/// Every entry of `model` is in `recovered` with its value, unless a lost part of the report
/// covers its key, and then it is not there; nothing else is there. Returns how many entries
/// the report says are lost.
fn check_against(model: &Model, recovered: &Model, report: &RecoverReport) -> usize {
    let mut lost = 0;
    for (name, entries) in model {
        let table = report.tables.iter().find(|table| &table.name == name).expect("every table");
        let copy = recovered.get(name).cloned().unwrap_or_default();
        for (key, value) in entries {
            if table.lost.iter().any(|part| part.covers(key)) {
                lost += 1;
                assert!(!copy.contains_key(key), "a key of a lost part came back");
            } else {
                assert_eq!(copy.get(key), Some(value), "{name}: {key:?} was not recovered");
            }
        }
        assert!(copy.keys().all(|key| entries.contains_key(key)), "{name}: an entry appeared");
        assert_eq!(table.entries_recovered, copy.len() as u64);
    }
    lost
}

/// The log offset of the first page frame whose page image is a leaf holding keys of `table`,
/// and the page it holds (frames: 48-byte header, type at 4, payload length at 8, page id at
/// 24; the page image's type at 4).
fn leaf_frame_of(log: &[u8], table: &str) -> (usize, u64) {
    let mut offset = 1024;
    while offset + 48 <= log.len() && log[offset..offset + 4] == *b"RWFR" {
        let payload = u32::from_le_bytes(log[offset + 8..offset + 12].try_into().unwrap()) as usize;
        let image = &log[offset + 48..offset + 48 + payload];
        let is_leaf = log[offset + 4] == 1 && image[4] == 16;
        if is_leaf && image.windows(table.len() + 2).any(|w| w == format!("{table}00").as_bytes()) {
            return (offset, u64::from_le_bytes(log[offset + 24..offset + 32].try_into().unwrap()));
        }
        offset += (48 + payload).next_multiple_of(8);
    }
    panic!("no leaf frame of {table}");
}

#[test]
fn recover_goes_past_a_damaged_frame_in_an_older_commit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("damaged.redwood");
    let mut model = Model::new();
    {
        let db = Database::create(&path).unwrap();
        commit(&db, &mut model, "alpha", 0, 400);
        commit(&db, &mut model, "beta", 0, 50);
        // Later commits touch only "beta": the damaged page of "alpha" is never rewritten, and
        // their records vouch that the frames before them had been synced.
        commit(&db, &mut model, "beta", 50, 50);
        commit(&db, &mut model, "beta", 100, 50);
    }
    let mut log = std::fs::read(wal(&path)).unwrap();
    let (frame, page) = leaf_frame_of(&log, "alpha");
    log[frame + 48 + 2000] ^= 0x40;
    std::fs::write(wal(&path), &log).unwrap();
    let opened = Database::open(&path).map(drop).unwrap_err();
    assert!(opened.is_corruption(), "a normal open refuses it: {opened}");
    let before = files(dir.path());

    let out = dir.path().join("recovered.redwood");
    let mut progress = Vec::new();
    let report = redwood::recover(&path, &out, |copied, _| progress.push(copied)).unwrap();
    assert_eq!(files(dir.path()).get(&path), before.get(&path), "the damaged file is unchanged");
    assert_eq!(files(dir.path()).get(&wal(&path)), before.get(&wal(&path)), "the log is unchanged");
    assert!(!report.is_complete());
    assert!(report.notes.iter().any(|note| note.contains(&format!("byte {frame}"))), "{report:?}");
    let alpha = report.tables.iter().find(|table| table.name == "alpha").unwrap();
    assert_eq!(alpha.lost.len(), 1, "{alpha:?}");
    assert_eq!(alpha.lost[0].page_id.map(|page| page.get()), Some(page));
    let beta = report.tables.iter().find(|table| table.name == "beta").unwrap();
    assert!(beta.lost.is_empty(), "{beta:?}");
    assert_eq!(beta.entries_recovered, 150, "every later commit still counts");
    let recovered = contents(&out);
    let lost = check_against(&model, &recovered, &report);
    assert!(lost > 0 && lost < 400, "one leaf's keys are lost: {lost}");
    assert_eq!(alpha.entries_recovered + lost as u64, 400);
    assert_eq!(progress.last().copied(), Some(report.entries_recovered()));
    Database::open(&out).unwrap().check_integrity().unwrap();
}

#[test]
fn recover_goes_past_a_damaged_free_space_map() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("damaged.redwood");
    let mut model = Model::new();
    {
        let db = Database::create(&path).unwrap();
        commit(&db, &mut model, "alpha", 0, 300);
        commit(&db, &mut model, "beta", 0, 100);
        db.checkpoint(CheckpointMode::Truncate).unwrap();
    }
    // The current map copy is the one the newest meta generation uses: generation g uses copy
    // g % 2, whose first page (segment 0, 9 map pages per copy at the default segment size) is
    // page 2 + 9 * (g % 2).
    let mut main = std::fs::read(&path).unwrap();
    let generation =
        |slot: usize| u64::from_le_bytes(main[slot * 4096 + 64..][..8].try_into().unwrap());
    let newest = generation(0).max(generation(1));
    let map_page = 2 + 9 * (newest % 2) as usize;
    main[map_page * 4096 + 100] ^= 0x01;
    std::fs::write(&path, &main).unwrap();
    let opened = Database::open(&path).map(drop).unwrap_err();
    assert!(opened.is_corruption(), "a normal open refuses it: {opened}");
    let before = files(dir.path());

    let out = dir.path().join("recovered.redwood");
    let report = redwood::recover(&path, &out, |_, _| {}).unwrap();
    assert_eq!(files(dir.path()).get(&path), before.get(&path), "the damaged file is unchanged");
    assert!(report.is_complete(), "{report:?}");
    assert!(report.notes.iter().any(|note| note.contains("free-space map")), "{report:?}");
    let recovered = contents(&out);
    assert_eq!(check_against(&model, &recovered, &report), 0);
    assert_eq!(recovered, model);
    // The destination must be new: recover never writes over a file.
    assert!(redwood::recover(&path, &out, |_, _| {}).is_err());
}
