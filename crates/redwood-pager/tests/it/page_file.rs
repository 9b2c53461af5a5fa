//! `PageFile` through its public interface on the in-memory and real file systems: pages survive
//! reopen across several segment files, and every kind of bad file (not a database, truncated,
//! newer format, flipped byte, misplaced page, missing segment) is a typed error, never a panic.

use std::sync::Arc;

use redwood_pager::io::{MemVfs, OsVfs, Vfs};
use redwood_pager::{
    Error, Lsn, PageBuf, PageClaims, PageFile, PageId, PageSize, PageType, SegmentId, segment_path,
};

use crate::support::{create, open, page_with, read_fill, tiny_options};

fn mem() -> (MemVfs, Arc<dyn Vfs>) {
    let vfs = MemVfs::new();
    let shared: Arc<dyn Vfs> = Arc::new(vfs.clone());
    (vfs, shared)
}

/// A database with `count` written pages (fill = page id + 1000), synced.
fn populated(vfs: &Arc<dyn Vfs>, name: &str, count: usize) -> Vec<PageId> {
    let mut file = create(vfs, name);
    let pages: Vec<PageId> = (0..count).map(|_| file.allocate().unwrap()).collect();
    for &page_id in &pages {
        file.write_page(&page_with(file.page_size(), page_id, page_id.get() + 1000)).unwrap();
    }
    file.sync().unwrap();
    pages
}

fn claims_of(pages: &[PageId]) -> PageClaims {
    let mut claims = PageClaims::new();
    for &page_id in pages {
        claims.claim(page_id, "test");
    }
    claims
}

#[test]
fn pages_survive_reopen_across_segment_files() {
    let (mem_vfs, vfs) = mem();
    let pages = populated(&vfs, "db", 30);
    let file = open(&vfs, "db").unwrap();
    assert!(file.segment_count() >= 4, "30 pages in 8-page segments span several files");
    assert!(mem_vfs.image().contains_key(&segment_path("db".as_ref(), SegmentId::new(3))));
    for &page_id in &pages {
        assert_eq!(read_fill(&file, page_id).unwrap(), page_id.get() + 1000);
    }
    file.check_invariants(&claims_of(&pages)).unwrap();
}

#[test]
fn the_real_file_system_round_trips_with_large_pages() {
    let mut backends: Vec<Arc<dyn Vfs>> = vec![Arc::new(OsVfs::new())];
    #[cfg(all(feature = "io-uring", target_os = "linux"))]
    backends.push(Arc::new(redwood_pager::io::UringVfs::new().expect("io_uring works here")));
    for vfs in backends {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("os.redwood");
        let options = redwood_pager::PageFileOptions {
            page_size: PageSize::new(16384).unwrap(),
            ..tiny_options()
        };
        let mut file = PageFile::create(Arc::clone(&vfs), &path, &options).unwrap();
        let pages: Vec<PageId> = (0..12).map(|_| file.allocate().unwrap()).collect();
        for &page_id in &pages {
            file.write_page(&page_with(file.page_size(), page_id, 7)).unwrap();
        }
        file.set_root(0, Some(pages[0])).unwrap();
        file.sync().unwrap();
        drop(file);
        let file = PageFile::open(vfs, &path, &options).unwrap();
        assert_eq!(file.page_size().bytes(), 16384);
        assert_eq!(file.root(0), Some(pages[0]));
        assert_eq!(read_fill(&file, pages[11]).unwrap(), 7);
        file.check_invariants(&claims_of(&pages)).unwrap();
    }
}

#[test]
fn freed_pages_are_reused_and_persisted_as_free() {
    let (_, vfs) = mem();
    let pages = populated(&vfs, "db", 10);
    let mut file = open(&vfs, "db").unwrap();
    file.free(pages[2]).unwrap();
    file.free(pages[7]).unwrap();
    file.sync().unwrap();
    drop(file);
    let mut file = open(&vfs, "db").unwrap();
    assert_eq!(file.free_page_count(), 2);
    assert!(!file.is_allocated(pages[2]) && !file.is_allocated(pages[7]));
    assert!(file.is_allocated(pages[3]));
    assert_eq!(file.allocate().unwrap(), pages[2]);
    assert!(matches!(file.free(pages[7]), Err(Error::NotAllocated { .. })), "double free");
}

#[test]
fn a_leaked_or_doubly_owned_page_fails_the_invariant_check() {
    let (_, vfs) = mem();
    let pages = populated(&vfs, "db", 5);
    let file = open(&vfs, "db").unwrap();
    let leaked = claims_of(&pages[1..]);
    let Err(Error::InvariantViolation { violations }) = file.check_invariants(&leaked) else {
        panic!("a leak must be reported");
    };
    assert_eq!(violations[0].page_id, Some(pages[0]));
    let mut doubled = claims_of(&pages);
    doubled.claim(pages[3], "another owner");
    assert!(file.check_invariants(&doubled).is_err());
    let mut foreign = claims_of(&pages);
    foreign.claim(PageId::new(2), "a free-space map page");
    assert!(file.check_invariants(&foreign).is_err());
}

#[test]
fn creating_over_an_existing_database_is_refused() {
    let (_, vfs) = mem();
    populated(&vfs, "db", 1);
    let result = PageFile::create(Arc::clone(&vfs), "db".as_ref(), &tiny_options());
    assert!(matches!(result, Err(Error::AlreadyExists { .. })));
    assert!(matches!(open(&vfs, "missing"), Err(Error::NotFound { .. })));
}

#[test]
fn files_that_are_not_databases_are_rejected() {
    let (mem_vfs, vfs) = mem();
    for (name, bytes) in
        [("empty", vec![]), ("text", b"hello, world".repeat(1000)), ("zeros", vec![0; 16384])]
    {
        let file = vfs.create(name.as_ref()).unwrap();
        file.write_at(0, &bytes).unwrap();
        assert!(matches!(open(&vfs, name), Err(Error::NotADatabase { .. })), "{name}");
    }
    assert_eq!(mem_vfs.image().len(), 3);
}

#[test]
fn truncated_files_are_reported_as_truncated() {
    let (_, vfs) = mem();
    populated(&vfs, "db", 20);
    let base = vfs.open("db".as_ref()).unwrap();
    base.set_len(5 * 4096).unwrap();
    assert!(matches!(open(&vfs, "db"), Err(Error::Truncated { .. })));
    base.set_len(100).unwrap();
    assert!(matches!(open(&vfs, "db"), Err(Error::Truncated { .. })));
}

#[test]
fn a_missing_segment_file_is_named() {
    let (_, vfs) = mem();
    populated(&vfs, "db", 20);
    vfs.remove("db.seg2".as_ref()).unwrap();
    match open(&vfs, "db") {
        Err(Error::SegmentMissing { segment, .. }) => assert_eq!(segment, SegmentId::new(2)),
        other => panic!("expected SegmentMissing, got {other:?}"),
    }
}

#[test]
fn a_newer_format_version_is_refused_by_version() {
    let (_, vfs) = mem();
    populated(&vfs, "db", 1);
    let base = vfs.open("db".as_ref()).unwrap();
    for slot in 0..2u64 {
        base.write_at(slot * 4096 + 40, &2u32.to_le_bytes()).unwrap();
    }
    match open(&vfs, "db") {
        Err(Error::UnsupportedFormatVersion { found, supported }) => {
            assert_eq!((found, supported), (2, 1))
        }
        other => panic!("expected UnsupportedFormatVersion, got {other:?}"),
    }
}

/// One copy that verifies but says a newer format means the file was upgraded: refused, even
/// though the other copy is still valid (opening it would let this build overwrite the newer
/// copy). A damaged version field that does not verify is ordinary damage: the other copy wins.
#[test]
fn a_verified_newer_copy_is_refused_and_a_damaged_version_falls_back() {
    let (_, vfs) = mem();
    populated(&vfs, "db", 1);
    let base = vfs.open("db".as_ref()).unwrap();
    let original = {
        let mut page = PageBuf::zeroed(PageSize::DEFAULT);
        base.read_at(0, page.as_mut_bytes()).unwrap();
        page
    };
    let mut newer = original.clone();
    newer.as_mut_bytes()[40..44].copy_from_slice(&2u32.to_le_bytes());
    newer.seal(PageId::META_0, PageType::META, Lsn::ZERO);
    base.write_at(0, newer.as_bytes()).unwrap();
    assert!(
        matches!(open(&vfs, "db"), Err(Error::UnsupportedFormatVersion { found: 2, .. })),
        "a verified newer copy is refused"
    );
    let mut damaged = original.clone();
    damaged.as_mut_bytes()[40] ^= 0x10;
    base.write_at(0, damaged.as_bytes()).unwrap();
    open(&vfs, "db").expect("a damaged version field falls back to the other copy");
}

/// A damaged fallback meta copy leaves the database readable but one torn write from lost: once
/// the handle has written a meta copy (so the fallback is not a crash's torn write), the
/// invariant check names it.
#[test]
fn the_invariant_check_names_a_damaged_fallback_meta_copy() {
    let (_, vfs) = mem();
    let pages = populated(&vfs, "db", 2);
    let mut file = open(&vfs, "db").unwrap();
    // Once this handle has written a meta copy, the other one (read at open) must verify.
    file.set_root(1, Some(pages[1])).unwrap();
    file.sync().unwrap();
    let fallback = PageId::new(1 - file.generation() % 2);
    let base = vfs.open("db".as_ref()).unwrap();
    base.write_at(fallback.get() * 4096 + 300, &[0x5a]).unwrap();
    let claims = {
        let mut claims = PageClaims::new();
        for &page_id in &pages {
            claims.claim(page_id, "test");
        }
        claims
    };
    match file.check_invariants(&claims) {
        Err(Error::InvariantViolation { violations }) => {
            assert_eq!(violations.len(), 1, "{violations:?}");
            assert_eq!(violations[0].page_id, Some(fallback));
            assert!(violations[0].message.contains("fallback meta copy is damaged"));
        }
        other => panic!("expected the damaged fallback copy, got {other:?}"),
    }
}

#[test]
fn every_flipped_byte_of_a_data_page_names_the_page() {
    let (_, vfs) = mem();
    let pages = populated(&vfs, "db", 4);
    let target = pages[2];
    let offset = target.get() * 4096;
    let base = vfs.open("db".as_ref()).unwrap();
    let file = open(&vfs, "db").unwrap();
    for index in (0..4096).step_by(7) {
        let mut byte = [0u8];
        base.read_at(offset + index, &mut byte).unwrap();
        base.write_at(offset + index, &[byte[0] ^ 0x01]).unwrap();
        match read_fill(&file, target) {
            Err(Error::ChecksumMismatch { page_id, .. }) => assert_eq!(page_id, target),
            other => panic!("byte {index}: expected ChecksumMismatch, got {other:?}"),
        }
        base.write_at(offset + index, &byte).unwrap();
    }
    assert_eq!(read_fill(&file, target).unwrap(), target.get() + 1000);
}

#[test]
fn a_page_copied_to_the_wrong_place_is_misdirected() {
    let (_, vfs) = mem();
    let pages = populated(&vfs, "db", 4);
    let base = vfs.open("db".as_ref()).unwrap();
    let mut bytes = vec![0u8; 4096];
    base.read_at(pages[0].get() * 4096, &mut bytes).unwrap();
    base.write_at(pages[1].get() * 4096, &bytes).unwrap();
    let file = open(&vfs, "db").unwrap();
    match read_fill(&file, pages[1]) {
        Err(Error::Misdirected { page_id, found }) => {
            assert_eq!((page_id, found), (pages[1], pages[0]))
        }
        other => panic!("expected Misdirected, got {other:?}"),
    }
}

/// A database's main file is locked while a `PageFile` has it open: a second open (or create
/// over it) is `Locked`, and closing the first releases it.
#[test]
fn a_second_open_of_an_open_database_is_locked() {
    let (_, vfs) = mem();
    populated(&vfs, "db", 2);
    let file = open(&vfs, "db").unwrap();
    assert!(
        matches!(open(&vfs, "db"), Err(Error::Locked { path }) if path == std::path::Path::new("db"))
    );
    drop(file);
    open(&vfs, "db").unwrap();
}

#[test]
fn one_damaged_meta_copy_falls_back_to_the_other() {
    let (_, vfs) = mem();
    let pages = populated(&vfs, "db", 3);
    let mut file = open(&vfs, "db").unwrap();
    file.set_root(0, Some(pages[1])).unwrap();
    file.sync().unwrap();
    let generation = file.generation();
    drop(file);
    let base = vfs.open("db".as_ref()).unwrap();
    let newest_slot = generation % 2;
    base.write_at(newest_slot * 4096 + 100, &[0xff; 4]).unwrap();
    let file = open(&vfs, "db").unwrap();
    assert_eq!(file.generation(), generation - 1, "the older copy wins");
    assert_eq!(file.root(0), None, "and with it the older roots");
    assert_eq!(read_fill(&file, pages[2]).unwrap(), pages[2].get() + 1000);
    base.write_at((1 - newest_slot) * 4096 + 100, &[0xff; 4]).unwrap();
    drop(file);
    match open(&vfs, "db") {
        Err(Error::Corrupt { page_id, .. }) => assert_eq!(page_id, PageId::META_0),
        other => panic!("expected Corrupt naming the meta page, got {other:?}"),
    }
}

/// The free-space map has two copies and each meta generation names one, so losing the newest
/// meta copy after a sync that allocated and freed pages falls back to the previous generation's
/// allocation state as a whole: nothing allocated twice, nothing leaked, invariants hold.
#[test]
fn losing_the_newest_meta_copy_restores_the_previous_allocation_state() {
    let (_, vfs) = mem();
    let first = populated(&vfs, "db", 6);
    let mut file = open(&vfs, "db").unwrap();
    file.free(first[0]).unwrap();
    let later: Vec<PageId> = (0..12).map(|_| file.allocate().unwrap()).collect();
    assert_eq!(later[0], first[0], "the freed page was reused");
    file.sync().unwrap();
    let generation = file.generation();
    drop(file);
    let base = vfs.open("db".as_ref()).unwrap();
    base.write_at((generation % 2) * 4096 + 100, &[0xff; 4]).unwrap();
    let mut file = open(&vfs, "db").unwrap();
    assert_eq!(file.generation(), generation - 1);
    assert_eq!(file.segment_count(), 2, "the segments begun by the lost sync are not counted");
    // The damaged copy is now the fallback, expected to be a crash's torn write until this
    // handle writes the next copy over it.
    file.check_invariants(&claims_of(&first)).unwrap();
    for &page_id in &first {
        assert_eq!(read_fill(&file, page_id).unwrap(), page_id.get() + 1000);
    }
    // Growing again replaces the segment files the lost generation had begun.
    let regrown: Vec<PageId> = (0..12).map(|_| file.allocate().unwrap()).collect();
    for &page_id in &regrown {
        file.write_page(&page_with(file.page_size(), page_id, 5)).unwrap();
    }
    file.sync().unwrap();
    drop(file);
    let file = open(&vfs, "db").unwrap();
    file.check_invariants(&claims_of(&[first, regrown].concat())).unwrap();
}

#[test]
fn a_damaged_free_space_map_page_is_named_on_open() {
    let (_, vfs) = mem();
    populated(&vfs, "db", 3);
    let base = vfs.open("db".as_ref()).unwrap();
    base.write_at(2 * 4096 + 64, &[0xaa]).unwrap();
    match open(&vfs, "db") {
        Err(Error::ChecksumMismatch { page_id, .. }) => assert_eq!(page_id, PageId::new(2)),
        other => panic!("expected ChecksumMismatch on the map page, got {other:?}"),
    }
}

#[test]
fn misuse_is_a_typed_error() {
    let (_, vfs) = mem();
    let mut file = create(&vfs, "db");
    let page = file.allocate().unwrap();
    let mut unsealed = page_with(file.page_size(), page, 1);
    unsealed.body_mut()[0] ^= 1;
    assert!(matches!(file.write_page(&unsealed), Err(Error::ChecksumMismatch { .. })));
    let stray = page_with(file.page_size(), PageId::new(500), 1);
    assert!(matches!(file.write_page(&stray), Err(Error::PageOutOfRange { .. })));
    assert!(matches!(file.free(PageId::new(1)), Err(Error::ReservedPage { .. })));
    file.set_root(1, Some(page)).unwrap();
    assert!(file.free(page).is_err(), "a rooted page cannot be freed");
    let mut buffer = PageBuf::zeroed(file.page_size());
    assert!(
        matches!(file.read_page(page, &mut buffer), Err(Error::Corrupt { .. })),
        "never written"
    );
}
