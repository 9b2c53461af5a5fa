//! The pool's memory follows what it loads, not its budget: the slab is reserved at open but
//! only the frames loaded become resident, and `PoolStats::memory_bytes` (loaded frames' pages,
//! the frames' metadata, the directory) agrees with the growth of the process's resident set.

use redwood_bufpool::{BufferPool, PoolOptions};
use redwood_pager::PageSize;

use crate::pool::{assert_image, load};

/// A budget of 4 GiB: a million frames. Its metadata (64 MiB) is past glibc's largest mmap
/// threshold, so it is freshly mapped, not recycled heap, and the resident set sees it.
const BUDGET: u64 = 4 << 30;
const LOADED: u64 = 8192;

#[test]
fn a_large_budget_costs_only_what_it_loads() {
    let before = resident_bytes();
    let pool = BufferPool::new(PoolOptions::new(BUDGET, PageSize::DEFAULT)).unwrap();
    let opened = pool.stats().memory_bytes;
    for page in 0..LOADED {
        drop(load(&pool, page, 1).expect("a frame is free"));
    }
    // The same pages again: hits, nothing more resident.
    for page in 0..LOADED {
        assert_image(&crate::pool::get(&pool, page, 1).expect("cached"), page, 1);
    }
    let stats = pool.stats();
    assert_eq!((stats.frames, stats.cached, stats.reads), (BUDGET / 4096, LOADED, LOADED));
    assert!(
        stats.memory_bytes - opened >= LOADED * 4096,
        "the loaded pages are counted: {} then {}",
        opened,
        stats.memory_bytes
    );
    assert!(stats.memory_bytes < BUDGET / 32, "far below the budget: {stats:?}");
    if let (Some(before), Some(after)) = (before, resident_bytes()) {
        let grown = after.saturating_sub(before) as f64;
        let counted = stats.memory_bytes as f64;
        assert!(
            (grown - counted).abs() <= 0.15 * counted,
            "resident set grew by {grown} bytes, the pool counts {counted}"
        );
    }
}

/// The process's resident set, from `/proc/self/statm` (`None` where there is none).
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}
