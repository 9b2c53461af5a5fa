//! The pool's single-threaded behaviour: hits and misses, eviction within a fixed memory budget,
//! pinned frames that are never evicted, failed loads that cache nothing, and thrash reports
//! that name the page.

use redwood_bufpool::{BufferPool, CacheKey, Error, PoolOptions};
use redwood_pager::{Lsn, PageBuf, PageId, PageSize, PageType};

/// A sealed image of `page_id` at `version`.
pub fn image(page_id: u64, version: u64) -> PageBuf {
    let mut page = PageBuf::zeroed(PageSize::DEFAULT);
    page.body_mut()[..16].copy_from_slice(&[page_id.to_le_bytes(), version.to_le_bytes()].concat());
    page.seal(PageId::new(page_id), PageType::user(16).unwrap(), Lsn::new(version));
    page
}

pub fn key(page_id: u64, version: u64) -> CacheKey {
    CacheKey { page_id: PageId::new(page_id), version }
}

/// A loader that fills in `image(page, version)`.
pub fn loader(
    page_id: u64,
    version: u64,
) -> impl FnOnce(&mut PageBuf) -> redwood_pager::Result<()> {
    move |page: &mut PageBuf| {
        page.as_mut_bytes().copy_from_slice(image(page_id, version).as_bytes());
        page.verify(PageId::new(page_id))
    }
}

fn pool(frames: u64) -> BufferPool {
    BufferPool::new(PoolOptions::new(frames * 4096, PageSize::DEFAULT)).unwrap()
}

#[test]
fn misses_load_hits_reuse_and_memory_stays_within_the_budget() {
    let pool = pool(4);
    for page in 0..10 {
        let cached = pool.get_or_load(key(page, 1), loader(page, 1)).unwrap();
        assert_eq!(cached.page_id(), PageId::new(page));
    }
    let stats = pool.stats();
    assert_eq!((stats.misses, stats.reads, stats.evictions), (10, 10, 6));
    assert_eq!(stats.frames, 4);
    assert_eq!(stats.memory_bytes, 4 * 4096, "the arena never grows past the budget");
    assert_eq!(stats.cached, 4);
    assert!(pool.get(key(9, 1)).is_some(), "the newest page is cached");
    assert!(pool.get(key(0, 1)).is_none(), "the oldest was evicted");
    assert!(pool.get(key(9, 2)).is_none(), "another version is another key");
    assert_eq!(pool.stats().hits, 1);
    pool.check_invariants().unwrap();
}

#[test]
fn frames_get_their_memory_on_first_use() {
    // A 4 GiB budget costs nothing until pages arrive.
    let pool = pool(1 << 20);
    assert_eq!(pool.stats().memory_bytes, 0);
    for page in 0..3 {
        drop(pool.get_or_load(key(page, 1), loader(page, 1)).unwrap());
    }
    drop(pool.get_or_load(key(1, 1), loader(1, 1)).unwrap());
    let stats = pool.stats();
    assert_eq!((stats.frames, stats.cached, stats.memory_bytes), (1 << 20, 3, 3 * 4096));
    pool.check_invariants().unwrap();
}

#[test]
fn pinned_pages_are_never_evicted_and_a_fully_pinned_pool_says_so() {
    let pool = pool(4);
    let held: Vec<_> =
        (0..3).map(|page| pool.get_or_load(key(page, 1), loader(page, 1)).unwrap()).collect();
    for page in 10..30 {
        drop(pool.get_or_load(key(page, 1), loader(page, 1)).unwrap());
    }
    for (page, held) in held.iter().enumerate() {
        assert_eq!(held.page_id(), PageId::new(page as u64), "a pinned frame kept its page");
        assert!(pool.get(key(page as u64, 1)).is_some());
    }
    let fourth = pool.get_or_load(key(99, 1), loader(99, 1)).unwrap();
    assert!(matches!(
        pool.get_or_load(key(100, 1), loader(100, 1)),
        Err(Error::Exhausted { frames: 4 })
    ));
    assert_eq!(pool.stats().pinned, 4);
    drop((held, fourth));
    assert_eq!(pool.stats().pinned, 0);
    assert!(pool.get_or_load(key(100, 1), loader(100, 1)).is_ok());
}

#[test]
fn a_failed_load_caches_nothing() {
    let pool = pool(4);
    let failing = |page: &mut PageBuf| page.verify(PageId::new(5)); // a zeroed page never verifies
    assert!(matches!(pool.get_or_load(key(5, 1), failing), Err(Error::Load(_))));
    assert!(pool.get(key(5, 1)).is_none());
    assert_eq!(pool.stats().failed_reads, 1);
    assert_eq!(pool.get_or_load(key(5, 1), loader(5, 1)).unwrap().lsn(), Lsn::new(1));
    pool.check_invariants().unwrap();
}

#[test]
fn invalidated_versions_are_loaded_again() {
    let pool = pool(4);
    drop(pool.get_or_load(key(3, 7), loader(3, 7)).unwrap());
    pool.invalidate(key(3, 7));
    assert!(pool.get(key(3, 7)).is_none());
    drop(pool.get_or_load(key(3, 7), loader(3, 7)).unwrap());
    assert_eq!(pool.stats().reads, 2);
}

#[test]
fn a_page_evicted_and_reloaded_again_and_again_is_reported_by_id() {
    let options = PoolOptions {
        thrash_window_misses: 16,
        thrash_reloads_min: 3,
        ..PoolOptions::new(2 * 4096, PageSize::DEFAULT)
    };
    let pool = BufferPool::new(options).unwrap();
    // Three pages cycling through two frames: each is evicted just before it is needed again.
    for _ in 0..6 {
        for page in [1, 2, 3] {
            drop(pool.get_or_load(key(page, 1), loader(page, 1)).unwrap());
        }
    }
    let reported: Vec<PageId> = pool.thrash_reports().iter().map(|report| report.page_id).collect();
    assert!(
        reported.contains(&PageId::new(1)) && reported.contains(&PageId::new(3)),
        "{reported:?}"
    );
    assert_eq!(pool.stats().thrash_reports, reported.len() as u64);
    // A working set that fits does not thrash.
    let calm = pool_with_reports(8);
    for _ in 0..6 {
        for page in [1, 2, 3] {
            drop(calm.get_or_load(key(page, 1), loader(page, 1)).unwrap());
        }
    }
    assert!(calm.thrash_reports().is_empty());
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
    assert!(matches!(result, Err(Error::BudgetTooSmall { .. })));
}

/// A frame whose key was invalidated keeps the key but loses its mapping; if the key is loaded
/// again into another frame, reusing the first frame must not unmap the second (issue 15).
#[test]
fn reusing_an_invalidated_frame_leaves_the_keys_new_frame_mapped() {
    let pool = pool(4);
    let first = pool.get_or_load(key(1, 1), loader(1, 1)).unwrap();
    pool.invalidate(key(1, 1));
    // The first frame is pinned, so the key goes to another frame; hold that one pinned.
    let second = pool.get_or_load(key(1, 1), loader(1, 1)).unwrap();
    drop(first);
    for page in 10..20 {
        drop(pool.get_or_load(key(page, 1), loader(page, 1)).unwrap());
    }
    assert!(pool.get(key(1, 1)).is_some(), "the pinned, mapped copy stays mapped");
    drop(second);
    pool.check_invariants().unwrap();
    let stats = pool.stats();
    assert_eq!(stats.cached, 4, "every frame maps one key: none leaked unmapped");
}
