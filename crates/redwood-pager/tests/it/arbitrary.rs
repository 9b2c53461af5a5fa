//! Opening arbitrary or mangled bytes as a database gives `Err` or a working database, never a
//! panic; and whatever opens, every page read either verifies or is an error naming the page.
//! This is the fuzz target's property, run on every test run with seeded inputs.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use proptest::prelude::*;
use redwood_pager::io::{MemVfs, Vfs};
use redwood_pager::{Error, PageBuf, PageClaims, PageFile, PageFileOptions, PageId};

use crate::support::{create, page_with, run_proptest, tiny_options};

/// Opens `base` (and `segment` as the first segment file) and exercises what opens; returns
/// whether it opened.
fn open_and_walk(base: &[u8], segment: &[u8]) -> bool {
    let vfs = MemVfs::new();
    vfs.create(Path::new("db")).unwrap().write_at(0, base).unwrap();
    vfs.create(Path::new("db.seg1")).unwrap().write_at(0, segment).unwrap();
    let shared: Arc<dyn Vfs> = Arc::new(vfs);
    let Ok(file) = PageFile::open(shared, Path::new("db"), &PageFileOptions::default()) else {
        return false;
    };
    let mut page = PageBuf::zeroed(file.page_size());
    let mut claims = PageClaims::new();
    for index in 0..file.page_count().min(256) {
        let page_id = PageId::new(index);
        match file.read_page(page_id, &mut page) {
            Ok(()) => {
                assert_eq!(page.page_id(), page_id, "a verified page is the page asked for");
                claims.claim(page_id, "walk");
            }
            Err(
                Error::ChecksumMismatch { page_id: named, .. }
                | Error::Corrupt { page_id: named, .. }
                | Error::Misdirected { page_id: named, .. },
            ) => {
                assert_eq!(named, page_id, "errors name the page read");
            }
            Err(_) => {}
        }
    }
    let _ = file.check_invariants(&claims);
    true
}

/// The bytes of a small valid database with tiny segments (base file, first segment).
fn valid_image() -> (Vec<u8>, Vec<u8>) {
    let vfs = MemVfs::new();
    let shared: Arc<dyn Vfs> = Arc::new(vfs.clone());
    let mut file = create(&shared, "db");
    for fill in 0..10 {
        let page_id = file.allocate().unwrap();
        file.write_page(&page_with(file.page_size(), page_id, fill)).unwrap();
    }
    file.sync().unwrap();
    let image = vfs.image();
    (image[Path::new("db")].clone(), image[Path::new("db.seg1")].clone())
}

#[test]
fn arbitrary_bytes_never_panic() {
    let strategy = (
        proptest::collection::vec(any::<u8>(), 0..20_000),
        proptest::collection::vec(any::<u8>(), 0..100),
    );
    run_proptest("arbitrary_bytes_never_panic", 128, strategy, |(base, segment)| {
        assert!(!open_and_walk(&base, &segment) || base.len() >= 8192);
        Ok(())
    });
}

#[test]
fn mangled_databases_never_panic() {
    let (base, segment) = valid_image();
    assert_eq!(tiny_options().segment_pages as usize * 4096, base.len());
    let edits = proptest::collection::vec((0..base.len(), any::<u8>()), 1..8);
    let strategy = (edits, proptest::option::of(0..base.len()));
    let outcomes = [AtomicU32::new(0), AtomicU32::new(0)];
    run_proptest("mangled_databases_never_panic", 256, strategy, |(edits, cut)| {
        let mut mangled = base.clone();
        for (offset, byte) in edits {
            mangled[offset] = byte;
        }
        if let Some(cut) = cut {
            mangled.truncate(cut);
        }
        let opened = open_and_walk(&mangled, &segment);
        outcomes[usize::from(opened)].fetch_add(1, Ordering::Relaxed);
        Ok(())
    });
    let [refused, opened] = outcomes.map(AtomicU32::into_inner);
    assert!(
        refused > 0 && opened > 0,
        "both outcomes exercised: {refused} refused, {opened} opened"
    );
}
