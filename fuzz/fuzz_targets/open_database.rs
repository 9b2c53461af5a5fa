//! Fuzz target: arbitrary bytes opened as a database (as the base file, with the tail of the
//! input as a first segment file) must give `Err` or a usable database, never a panic. When the
//! open succeeds, every page is read and the invariant check runs; those must not panic either.

#![no_main]

use std::path::Path;
use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use redwood_pager::io::{MemVfs, Vfs};
use redwood_pager::{PageBuf, PageClaims, PageFile, PageFileOptions, PageId};

fuzz_target!(|data: &[u8]| {
    let vfs = MemVfs::new();
    let split = data.len() * 3 / 4;
    let (base, segment) = data.split_at(split);
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
            claims.claim(page_id, "fuzz");
        }
    }
    let _ = file.check_invariants(&claims);
});
