//! Helpers shared by the integration tests: seeds, options with tiny segments, sealed pages.

use std::sync::Arc;

use redwood_pager::io::Vfs;
use redwood_pager::{Lsn, PageBuf, PageFile, PageFileOptions, PageId, PageSize, PageType};

/// The page type the tests write: the first one the pager leaves to higher layers.
pub const TEST_PAGE: u8 = PageType::FIRST_UNRESERVED;

pub use redwood_pager::io::sim::test_seed as seed;

/// Options with 8-page segments, so a few dozen pages span several segment files, and a fixed
/// database id, so the same workload gives the same bytes.
pub fn tiny_options() -> PageFileOptions {
    PageFileOptions {
        segment_pages: 8,
        database_id: Some(0x5eed),
        log_salt: Some(0x5a17),
        ..PageFileOptions::default()
    }
}

/// A sealed page for `page_id` whose body is derived from `fill`, so every version differs.
pub fn page_with(page_size: PageSize, page_id: PageId, fill: u64) -> PageBuf {
    let mut page = PageBuf::zeroed(page_size);
    for (index, chunk) in page.body_mut().chunks_mut(8).enumerate() {
        let word = fill.wrapping_mul(0x9e37_79b9_7f4a_7c15).wrapping_add(index as u64);
        chunk.copy_from_slice(&word.to_le_bytes()[..chunk.len()]);
    }
    let page_type = PageType::user(TEST_PAGE).expect("user page type");
    page.seal(page_id, page_type, Lsn::new(fill));
    page
}

/// Reads `page_id` and returns the fill it was written with (its LSN), checking the body too.
pub fn read_fill(file: &PageFile, page_id: PageId) -> redwood_pager::Result<u64> {
    let mut page = PageBuf::zeroed(file.page_size());
    file.read_page(page_id, &mut page)?;
    let fill = page.lsn().get();
    assert_eq!(page.body(), page_with(file.page_size(), page_id, fill).body());
    Ok(fill)
}

/// Creates a database at `name` in `vfs` with tiny segments.
pub fn create(vfs: &Arc<dyn Vfs>, name: &str) -> PageFile {
    PageFile::create(Arc::clone(vfs), name.as_ref(), &tiny_options()).expect("create")
}

/// Opens the database at `name` in `vfs`.
pub fn open(vfs: &Arc<dyn Vfs>, name: &str) -> redwood_pager::Result<PageFile> {
    PageFile::open(Arc::clone(vfs), name.as_ref(), &tiny_options())
}

/// Runs a proptest with a runner seeded from [`seed`], so `REDWOOD_SEED` replays a failure
/// exactly (proptest then also shrinks it). Failure persistence files are not written.
pub fn run_proptest<S: proptest::strategy::Strategy>(
    test: &str,
    cases: u32,
    strategy: S,
    body: impl Fn(S::Value) -> Result<(), proptest::test_runner::TestCaseError>,
) {
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
    let seed = seed(test);
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let config = Config { cases, failure_persistence: None, ..Config::default() };
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes);
    let mut runner = TestRunner::new_with_rng(config, rng);
    let runs = std::sync::atomic::AtomicU32::new(0);
    let counted = |value| {
        runs.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        body(value)
    };
    if let Err(error) = runner.run(&strategy, counted) {
        panic!("{test} failed with seed {seed}: {error}");
    }
    let runs = runs.into_inner();
    assert!(runs >= cases, "{test}: only {runs} of {cases} cases ran");
    println!("{test}: {runs} cases passed");
}
