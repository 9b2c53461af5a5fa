//! The pool's single-threaded behaviour through the pager's `PageCache` interface: hits, misses
//! and evictions within a fixed number of frames; version intervals (a superseded version is
//! still seen by older snapshots only; a newer version replaces the mapping while a pinned old
//! one stays readable); a fully pinned pool declines to load; failed loads cache nothing; pages
//! beyond the directory are read around; thrash reports name the page.

use std::cell::Cell;
use std::sync::Arc;

use redwood_bufpool::limits::HIT_FLUSH_EVERY;
use redwood_bufpool::{BufferPool, Error, PoolCounters, PoolOptions};
use redwood_pager::{Lsn, Page, PageBuf, PageCache, PageGuard, PageId, PageSize, PageType};

/// A sealed image of `page_id` at `version`: every body byte derived from both.
pub fn image(page_id: u64, version: u64) -> PageBuf {
    let mut page = PageBuf::zeroed(PageSize::DEFAULT);
    for (index, byte) in page.body_mut().iter_mut().enumerate() {
        *byte = (page_id.wrapping_mul(31) ^ version.wrapping_mul(131) ^ index as u64) as u8;
    }
    page.seal(PageId::new(page_id), PageType::user(16).unwrap(), Lsn::new(version));
    page
}

/// A loader that fills in `image(page_id, version)` and verifies it, as the pager's does.
pub fn filler(page_id: u64, version: u64) -> impl FnMut(&mut Page) -> redwood_pager::Result<()> {
    move |page: &mut Page| {
        page.as_mut_bytes().copy_from_slice(image(page_id, version).as_bytes());
        page.verify(PageId::new(page_id))
    }
}

/// Loads `version` of `page_id` (committed at LSN `version`) as the newest version.
pub fn load(pool: &BufferPool, page_id: u64, version: u64) -> Option<PageGuard<'_>> {
    pool.load(PageId::new(page_id), Lsn::new(version), &mut filler(page_id, version)).unwrap()
}

/// The cached version of `page_id` that a snapshot at `snapshot` sees.
pub fn get(pool: &BufferPool, page_id: u64, snapshot: u64) -> Option<PageGuard<'_>> {
    pool.get(PageId::new(page_id), Lsn::new(snapshot))
}

/// Asserts `page` is exactly `image(page_id, version)`.
pub fn assert_image(page: &Page, page_id: u64, version: u64) {
    assert!(
        page.as_bytes() == image(page_id, version).as_bytes(),
        "expected page {page_id} version {version}, found {} at {}",
        page.page_id(),
        page.lsn()
    );
}

fn pool(frames: u64) -> BufferPool {
    BufferPool::new(PoolOptions::new(frames * 4096, PageSize::DEFAULT)).unwrap()
}

#[test]
fn misses_load_hits_reuse_and_the_clock_evicts_within_the_frames() {
    let pool = pool(4);
    let empty = pool.stats().memory_bytes;
    drop(load(&pool, 0, 1));
    let first = pool.stats().memory_bytes;
    assert_eq!(first - empty, 4096 + (4 << 16), "a page, and the directory chunk of its range");
    for page in 1..10 {
        let loaded = load(&pool, page, 1).expect("a frame is free");
        assert_image(&loaded, page, 1);
        assert!(loaded.is_cached(), "a pinned frame, not a copy");
    }
    let stats = pool.stats();
    assert_eq!((stats.misses, stats.reads, stats.evictions, stats.hits), (10, 10, 6, 0));
    assert_eq!((stats.frames, stats.cached, stats.pinned), (4, 4, 0));
    assert_eq!(stats.memory_bytes - first, 3 * 4096, "page memory never grows past the frames");
    assert_image(&get(&pool, 9, 1).expect("the newest page is cached"), 9, 1);
    assert!(get(&pool, 0, 1).is_none(), "the oldest was evicted");
    assert_eq!(pool.stats().hits, 1);
    pool.check_invariants().unwrap();
}

#[test]
fn a_superseded_version_is_seen_by_older_snapshots_only() {
    let pool = pool(4);
    drop(load(&pool, 7, 5));
    assert!(get(&pool, 7, 4).is_none(), "a snapshot before the version's commit");
    assert_image(&get(&pool, 7, 5).unwrap(), 7, 5);
    assert_image(&get(&pool, 7, 1_000).unwrap(), 7, 5);
    pool.supersede(PageId::new(7), Lsn::new(9));
    pool.supersede(PageId::new(7), Lsn::new(12));
    pool.supersede(PageId::new(8), Lsn::new(9)); // not cached: nothing to do
    assert_image(&get(&pool, 7, 8).unwrap(), 7, 5);
    assert!(get(&pool, 7, 9).is_none(), "the snapshot that sees the newer commit");
    assert!(get(&pool, 7, 10).is_none(), "a later supersede does not extend the interval");
    assert_eq!(pool.stats().cached, 1, "still cached for older snapshots");
    pool.check_invariants().unwrap();
}

#[test]
fn a_newer_version_replaces_the_mapping_while_a_pinned_older_one_stays_readable() {
    let pool = pool(4);
    let old = load(&pool, 3, 5).unwrap();
    pool.supersede(PageId::new(3), Lsn::new(9));
    let new = load(&pool, 3, 9).unwrap();
    assert_image(&old, 3, 5);
    assert_image(&new, 3, 9);
    assert_image(&get(&pool, 3, 9).unwrap(), 3, 9);
    assert!(get(&pool, 3, 8).is_none(), "the older version is no longer mapped");
    let stats = pool.stats();
    assert_eq!((stats.cached, stats.pinned, stats.evictions), (1, 2, 0));
    pool.check_invariants().unwrap();
    // The old frame is reused once unpinned; the new mapping survives that.
    drop(old);
    for page in 10..13 {
        drop(load(&pool, page, 1).unwrap());
    }
    assert_image(&new, 3, 9);
    assert_image(&get(&pool, 3, 9).expect("pinned, so still mapped"), 3, 9);
    drop(new);
    pool.check_invariants().unwrap();
    assert_eq!(pool.stats().cached, 4, "every frame maps one page: none leaked unmapped");
}

#[test]
fn a_fully_pinned_pool_declines_to_load_without_calling_the_loader() {
    let pool = pool(2);
    let held: Vec<_> = (0..2).map(|page| load(&pool, page, 1).unwrap()).collect();
    let called = Cell::new(false);
    let mut loader = |_: &mut Page| {
        called.set(true);
        Ok(())
    };
    assert!(pool.load(PageId::new(5), Lsn::new(1), &mut loader).unwrap().is_none());
    assert!(!called.get(), "nothing to load into");
    assert_eq!(pool.stats().pinned, 2);
    for (page, held) in held.iter().enumerate() {
        assert_image(held, page as u64, 1);
    }
    drop(held);
    assert_eq!(pool.stats().pinned, 0);
    assert_image(&load(&pool, 5, 1).unwrap(), 5, 1);
}

#[test]
fn a_cloned_guard_keeps_its_frame_pinned() {
    let pool = pool(2);
    let first = load(&pool, 1, 1).unwrap();
    let clone = first.clone();
    drop(first);
    for page in 10..20 {
        drop(load(&pool, page, 1).unwrap());
    }
    assert_image(&clone, 1, 1);
    assert_eq!(pool.stats().pinned, 1);
    assert!(get(&pool, 1, 1).is_some(), "a pinned page is never evicted");
    drop(clone);
    assert_eq!(pool.stats().pinned, 0);
}

#[test]
fn a_failed_load_caches_nothing_and_keeps_the_older_version() {
    let pool = pool(4);
    let mut failing = |page: &mut Page| page.verify(PageId::new(5)); // a fresh frame never verifies
    assert!(pool.load(PageId::new(5), Lsn::new(1), &mut failing).is_err());
    assert!(get(&pool, 5, 1).is_none());
    let stats = pool.stats();
    assert_eq!((stats.failed_reads, stats.reads, stats.cached, stats.pinned), (1, 0, 0, 0));
    drop(load(&pool, 5, 1));
    pool.supersede(PageId::new(5), Lsn::new(4));
    let mut broken = |_: &mut Page| Err(redwood_pager::Error::Poisoned);
    assert!(pool.load(PageId::new(5), Lsn::new(4), &mut broken).is_err());
    assert_image(&get(&pool, 5, 3).expect("the older version is still cached"), 5, 1);
    assert!(get(&pool, 5, 4).is_none());
    assert_eq!(pool.stats().failed_reads, 2);
    pool.check_invariants().unwrap();
}

#[test]
fn pages_beyond_the_directory_are_never_cached() {
    let pool = pool(4);
    let beyond = PageId::new(1 << 28);
    let called = Cell::new(false);
    let mut loader = |_: &mut Page| {
        called.set(true);
        Ok(())
    };
    assert!(pool.load(beyond, Lsn::new(1), &mut loader).unwrap().is_none());
    assert!(!called.get(), "the pager reads around");
    assert!(pool.get(beyond, Lsn::new(1)).is_none());
    assert_image(&load(&pool, (1 << 28) - 1, 1).unwrap(), (1 << 28) - 1, 1);
}

#[test]
fn hits_reach_the_shared_counters() {
    let counters = Arc::new(PoolCounters::default());
    let options = PoolOptions {
        counters: Arc::clone(&counters),
        ..PoolOptions::new(8192, PageSize::DEFAULT)
    };
    let pool = BufferPool::new(options).unwrap();
    drop(load(&pool, 1, 1));
    for _ in 0..1000 {
        assert!(get(&pool, 1, 1).is_some());
    }
    let lagging = counters.hits.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(lagging, 1000 - 1000 % HIT_FLUSH_EVERY, "moved to the shared counter in batches");
    assert_eq!(pool.stats().hits, 1000);
    assert_eq!(counters.hits.load(std::sync::atomic::Ordering::Relaxed), 1000, "stats flushes");
    assert_eq!(pool.stats().hit_ratio(), Some(1000.0 / 1001.0));
}

#[test]
fn a_page_evicted_and_reloaded_again_and_again_is_reported_by_id() {
    let pool = pool_with_reports(2);
    // Three pages cycling through two frames: each is evicted just before it is needed again.
    for _ in 0..6 {
        for page in [1, 2, 3] {
            drop(load(&pool, page, 1).unwrap());
        }
    }
    let reported: Vec<PageId> = pool.thrash_reports().iter().map(|report| report.page_id).collect();
    assert_eq!(reported, [1, 2, 3].map(PageId::new), "each page of the cycle thrashes");
    assert_eq!(pool.stats().thrash_reports, reported.len() as u64);
    // A working set that fits does not thrash.
    let calm = pool_with_reports(8);
    for _ in 0..6 {
        for page in [1, 2, 3] {
            if get(&calm, page, 1).is_none() {
                drop(load(&calm, page, 1).unwrap());
            }
        }
    }
    assert!(calm.thrash_reports().is_empty());
    let stats = calm.stats();
    assert_eq!((stats.misses, stats.hits, stats.evictions), (3, 15, 0));
}

fn pool_with_reports(frames: u64) -> BufferPool {
    let options = PoolOptions {
        thrash_window_misses: 16,
        thrash_reloads_min: 3,
        ..PoolOptions::new(frames * 4096, PageSize::DEFAULT)
    };
    BufferPool::new(options).unwrap()
}

#[test]
fn a_budget_below_two_pages_is_refused() {
    let result = BufferPool::new(PoolOptions::new(4096, PageSize::DEFAULT));
    assert!(matches!(result, Err(Error::BudgetTooSmall { frames_min: 2, .. })));
}

#[test]
fn larger_pages_get_frames_of_their_size() {
    let page_size = PageSize::new(16384).unwrap();
    let pool = BufferPool::new(PoolOptions::new(4 * 16384, page_size)).unwrap();
    let mut fill = |page: &mut Page| {
        page.as_mut_bytes().fill(0xAB);
        Ok(())
    };
    let loaded = pool.load(PageId::new(2), Lsn::new(1), &mut fill).unwrap().unwrap();
    assert_eq!(loaded.as_bytes().len(), 16384);
    assert!(loaded.as_bytes().iter().all(|&byte| byte == 0xAB));
    assert_eq!(pool.stats().frames, 4);
}
