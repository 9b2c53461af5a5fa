//! The pool's memory follows what it loads, not its budget: the slab is reserved at open but
//! only the frames loaded become resident, and `PoolStats::memory_bytes` (loaded frames' pages,
//! the frames' metadata, the directory) agrees with the growth of the process's resident set.
//! A reserve (`PageCache::set_reserved`) shrinks both, and loads under it do not grow them.

use std::sync::{Mutex, MutexGuard, PoisonError};

use redwood_bufpool::{BufferPool, PoolOptions};
use redwood_pager::{PageCache, PageSize};

use crate::pool::{assert_image, get, load};

/// A budget of 4 GiB: a million frames. Its metadata (64 MiB) is past glibc's largest mmap
/// threshold, so it is freshly mapped, not recycled heap, and the resident set sees it.
const BUDGET: u64 = 4 << 30;
const LOADED: u64 = 8192;

/// Held by each test that measures the process's resident set, so that under `cargo test`
/// (one process, tests on threads) one's growth is not counted in the other's.
static MEASURING: Mutex<()> = Mutex::new(());

fn measuring() -> MutexGuard<'static, ()> {
    MEASURING.lock().unwrap_or_else(PoisonError::into_inner)
}

#[test]
fn a_large_budget_costs_only_what_it_loads() {
    let _measuring = measuring();
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

/// A 64 MiB pool (huge-page advised), filled, then three quarters reserved: the resident set
/// shrinks by the 48 MiB handed back, as `memory_bytes` does, and stays there through loads.
#[test]
fn a_reserve_hands_memory_back_to_the_operating_system() {
    const FRAMES: u64 = 16384;
    const KEPT: u64 = FRAMES / 4;
    let _measuring = measuring();
    let pool = BufferPool::new(PoolOptions::new(FRAMES * 4096, PageSize::DEFAULT)).unwrap();
    for page in 0..FRAMES {
        drop(load(&pool, page, 1).expect("a free frame"));
    }
    let (full, before) = (pool.stats().memory_bytes, resident_bytes());
    pool.set_reserved((FRAMES - KEPT) as usize);
    let (reserved, after) = (pool.stats().memory_bytes, resident_bytes());
    let handed_back = (FRAMES - KEPT) * 4096;
    assert_eq!(full - reserved, handed_back);
    for page in FRAMES..2 * FRAMES {
        drop(load(&pool, page, 1).expect("an idle resident frame"));
    }
    assert_eq!(pool.stats().memory_bytes, reserved, "loads under the reserve reuse frames");
    assert_eq!(pool.resident_frames(), KEPT as usize);
    if let (Some(before), Some(after), Some(last)) = (before, after, resident_bytes()) {
        let shrunk = before.saturating_sub(after) as f64;
        assert!(
            (shrunk - handed_back as f64).abs() <= 0.15 * handed_back as f64,
            "resident set shrank by {shrunk} bytes, the pool handed back {handed_back}"
        );
        let grown = last.saturating_sub(after) as f64;
        assert!(grown <= 0.15 * handed_back as f64, "loads grew the resident set by {grown}");
    }
}

/// The process's resident set, from `/proc/self/statm` (`None` where there is none).
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// Pages rewritten again and again (each commit supersedes the cached version and the next read
/// loads the new one) keep the pool's memory at what it holds: a replaced version's frame is
/// reused before a frame with no memory, while a reader of the old version that still pins it
/// keeps it whole. Before, every version ever loaded stayed resident until the budget was full.
#[test]
fn rewritten_pages_reuse_their_old_versions_frames() {
    let pool = BufferPool::new(PoolOptions::new(64 << 20, PageSize::DEFAULT)).unwrap();
    let pages = 100;
    for page in 0..pages {
        drop(load(&pool, page, 1));
    }
    let held = pool.stats().memory_bytes;
    let old_reader = get(&pool, 7, 1).expect("cached");
    for version in 2..=20 {
        for page in 0..pages {
            pool.supersede(redwood_pager::PageId::new(page), redwood_pager::Lsn::new(version));
            drop(load(&pool, page, version));
        }
    }
    assert_image(&old_reader, 7, 1);
    drop(old_reader);
    let stats = pool.stats();
    assert_eq!(stats.cached, pages, "one version of each page is mapped");
    // The pinned old version and at most a few hints lost while frames were busy.
    let page_bytes = 4096;
    assert!(
        stats.memory_bytes <= held + 4 * page_bytes,
        "{} bytes resident after 19 rewrites of {pages} pages, {held} before",
        stats.memory_bytes
    );
    for page in 0..pages {
        assert_image(&get(&pool, page, 20).expect("the newest version"), page, 20);
    }
    pool.check_invariants().unwrap();
}
