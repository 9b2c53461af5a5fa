//! The pager demo, the README's main job until the `redwood` CLI exists.
//!
//! `pager_demo [PATH]` creates a database at PATH (default `demo.redwood`) with 16 MiB segment
//! files, writes 20,000 checksummed pages across them, frees and reuses some, syncs, reopens,
//! verifies every page byte for byte and runs the full invariant check. If PATH already exists it
//! is never overwritten: the demo opens it, verifies every allocated page and checks invariants.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use redwood_pager::io::Vfs;
use redwood_pager::{
    Lsn, PageBuf, PageClaims, PageFile, PageFileOptions, PageId, PageSize, PageType, Result,
};

const PAGES: u64 = 20_000;
const DEMO_PAGE_TYPE: u8 = PageType::FIRST_UNRESERVED;

fn main() {
    let path = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "demo.redwood".into()));
    if let Err(error) = run(&path) {
        eprintln!("pager_demo: {error}");
        std::process::exit(1);
    }
}

/// Runs the demo on `path` (the test suite calls this).
pub fn run(path: &Path) -> Result<()> {
    // io_uring where the kernel offers it, plain positioned I/O otherwise.
    let vfs: Arc<dyn Vfs> = redwood_pager::io::best_vfs();
    let options = PageFileOptions { segment_pages: 4096, ..PageFileOptions::default() };
    if vfs.exists(path).map_err(|error| redwood_pager::Error::InvalidOption(error.to_string()))? {
        println!("{} exists; verifying it instead of overwriting it", path.display());
        return verify_existing(vfs, path, &options);
    }
    let started = Instant::now();
    let mut file = PageFile::create(Arc::clone(&vfs), path, &options)?;
    let mut pages: Vec<PageId> = (0..PAGES).map(|_| file.allocate()).collect::<Result<_>>()?;
    for &page_id in &pages {
        file.write_page(&demo_page(file.page_size(), page_id))?;
    }
    // Free every tenth page and allocate as many again: the lowest free ids come back.
    let freed: Vec<PageId> = pages.iter().copied().step_by(10).collect();
    for &page_id in &freed {
        file.free(page_id)?;
    }
    for _ in 0..freed.len() {
        let page_id = file.allocate()?;
        file.write_page(&demo_page(file.page_size(), page_id))?;
    }
    file.set_root(0, Some(pages[0]))?;
    file.sync()?;
    let written = started.elapsed();
    println!(
        "created {}: {} pages in {} segment files, written and synced in {:.2?}",
        path.display(),
        file.page_count(),
        file.segment_count(),
        written
    );
    drop(file);

    let started = Instant::now();
    let file = PageFile::open(vfs, path, &options)?;
    pages.sort();
    let mut claims = PageClaims::new();
    let mut page = PageBuf::zeroed(file.page_size());
    for &page_id in &pages {
        file.read_page(page_id, &mut page)?;
        if page.body() != demo_page(file.page_size(), page_id).body() {
            let reason = "verified, but not the bytes the demo wrote".to_owned();
            return Err(redwood_pager::Error::Corrupt { page_id, reason });
        }
        claims.claim(page_id, "demo");
    }
    file.check_invariants(&claims)?;
    println!(
        "reopened, verified {} pages byte for byte and checked invariants in {:.2?}",
        pages.len(),
        started.elapsed()
    );
    print_stats(&file);
    Ok(())
}

fn verify_existing(vfs: Arc<dyn Vfs>, path: &Path, options: &PageFileOptions) -> Result<()> {
    let started = Instant::now();
    let file = PageFile::open(vfs, path, options)?;
    let mut claims = PageClaims::new();
    let mut page = PageBuf::zeroed(file.page_size());
    for index in 0..file.page_count() {
        let page_id = PageId::new(index);
        if file.is_allocated(page_id) {
            file.read_page(page_id, &mut page)?;
            claims.claim(page_id, "existing");
        }
    }
    file.check_invariants(&claims)?;
    println!("verified every allocated page and the invariants in {:.2?}", started.elapsed());
    print_stats(&file);
    Ok(())
}

fn print_stats(file: &PageFile) {
    let stats = file.counters().snapshot();
    println!(
        "page size {} B, {} pages ({} free), {} segment files, meta generation {}; \
         this handle read {} pages",
        file.page_size().bytes(),
        file.page_count(),
        file.free_page_count(),
        file.segment_count(),
        file.generation(),
        stats.pages_read
    );
}

/// A page whose body is derived from its id, so any misplaced or damaged page shows.
fn demo_page(page_size: PageSize, page_id: PageId) -> PageBuf {
    let mut page = PageBuf::zeroed(page_size);
    for (index, chunk) in page.body_mut().chunks_mut(8).enumerate() {
        let word = page_id.get().rotate_left(17) ^ index as u64;
        chunk.copy_from_slice(&word.to_le_bytes()[..chunk.len()]);
    }
    let page_type = PageType::user(DEMO_PAGE_TYPE).expect("a user page type");
    page.seal(page_id, page_type, Lsn::ZERO);
    page
}
