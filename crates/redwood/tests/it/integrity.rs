//! The integrity report on real files: a sound database reports nothing; flipped bytes in
//! several pages (tree nodes and an overflow chain) are each named once, as checksum
//! mismatches, and the fail-fast check agrees.

use std::os::unix::fs::FileExt;

use redwood::{CheckpointMode, Database, PageId};

#[test]
fn every_damaged_page_is_named_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("damaged.redwood");
    let page_bytes = {
        let db = Database::create(&path).unwrap();
        let write = db.begin_write().unwrap();
        {
            let mut table = write.open_table("t").unwrap();
            for number in 0..3000u32 {
                table.insert(format!("key{number:06}").as_bytes(), [5u8; 100]).unwrap();
            }
            table.insert(b"large", vec![6u8; 200_000]).unwrap();
        }
        write.commit().unwrap();
        db.checkpoint(CheckpointMode::Truncate).unwrap();
        let report = db.check_report(|_, _| {}).unwrap();
        assert!(report.is_clean(), "{report:?}");
        assert!(report.pages_checked > 100, "{report:?}");
        assert_eq!(report.tables_checked, 1);
        db.stats().page_size_bytes
    };
    // The highest pages of a freshly loaded file are allocated tree and chain pages.
    let file = std::fs::OpenOptions::new().read(true).write(true).open(&path).unwrap();
    let page_count = file.metadata().unwrap().len() / page_bytes;
    let damaged: Vec<u64> = vec![page_count - 1, page_count - 20, page_count - 90];
    for &page in &damaged {
        let offset = page * page_bytes + page_bytes / 2;
        let mut byte = [0u8; 1];
        file.read_exact_at(&mut byte, offset).unwrap();
        file.write_all_at(&[byte[0] ^ 0x10], offset).unwrap();
    }
    file.sync_all().unwrap();

    let db = Database::open(&path).unwrap();
    let mut progress_calls = 0;
    let report = db.check_report(|_, _| progress_calls += 1).unwrap();
    assert_eq!(progress_calls, report.pages_checked);
    let mut named: Vec<u64> =
        report.problems.iter().map(|problem| problem.page_id.unwrap().get()).collect();
    named.sort_unstable();
    let mut expected = damaged.clone();
    expected.sort_unstable();
    assert_eq!(named, expected, "each damaged page once: {:#?}", report.problems);
    assert!(report.problems.iter().all(|problem| problem.message.contains("checksum mismatch")));
    let error = db.check_integrity().unwrap_err();
    assert!(error.is_corruption(), "{error}");
    assert!(damaged.contains(&error.page_id().map(PageId::get).unwrap()), "{error}");
}
