//! Fuzz target: arbitrary bytes opened as a database must give `Err` or a usable database, never
//! a panic. When the open succeeds, every page is read and the invariant check runs; those must
//! not panic either, and a page that reads back must be the page asked for.
//!
//! Input layout: a little-endian u32 `n`, then `n` bytes of base file, then the first segment
//! file. Seeds in `fuzz/seeds/open_database/` are real databases in that layout, so mutations
//! start past the magic number and the checksums.

#![no_main]

use std::path::Path;
use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use redwood_pager::io::{MemVfs, Vfs};
use redwood_pager::{PageBuf, PageClaims, PageFile, PageFileOptions, PageId};

fuzz_target!(|data: &[u8]| {
    let (base, segment) = split(data);
    let vfs = MemVfs::new();
    vfs.create(Path::new("db")).unwrap().write_at(0, base).unwrap();
    vfs.create(Path::new("db.seg1")).unwrap().write_at(0, segment).unwrap();
    let shared: Arc<dyn Vfs> = Arc::new(vfs);
    let Ok(file) = PageFile::open(shared, Path::new("db"), &PageFileOptions::default()) else {
        return;
    };
    let mut page = PageBuf::zeroed(file.page_size());
    let mut claims = PageClaims::new();
    for index in 0..file.page_count().min(4096) {
        let page_id = PageId::new(index);
        if file.read_page(page_id, &mut page).is_ok() {
            assert_eq!(page.page_id(), page_id);
            claims.claim(page_id, "fuzz");
        }
    }
    let _ = file.check_invariants(&claims);
});

fn split(data: &[u8]) -> (&[u8], &[u8]) {
    let Some((length, rest)) = data.split_first_chunk::<4>() else {
        return (data, &[]);
    };
    let length = (u32::from_le_bytes(*length) as usize).min(rest.len());
    rest.split_at(length)
}
