//! One memory budget for the cache and the open write transaction's changed pages
//! (`PageCache::set_reserved`): a reserve hands back the memory of idle frames down to the
//! capacity left, and loads then reuse resident frames instead of touching new ones; a reserve
//! of 0 lets the pool grow back; pinned frames stay, readable, and later loads release them
//! once unpinned; a reserve past the budget leaves the minimum. Every page read back is checked
//! against the image it was loaded with.

use std::sync::atomic::{AtomicUsize, Ordering};

use redwood_bufpool::limits::FRAMES_MIN;
use redwood_bufpool::{BufferPool, PoolOptions};
use redwood_pager::{PageCache, PageGuard, PageSize};

use crate::pool::{assert_image, get, load};

const FRAMES: u64 = 64;
const PAGE_BYTES: u64 = 4096;

fn pool() -> BufferPool {
    BufferPool::new(PoolOptions::new(FRAMES * PAGE_BYTES, PageSize::DEFAULT)).unwrap()
}

/// A pool with pages `0..FRAMES` loaded (version 1), every frame resident.
fn full_pool() -> BufferPool {
    let pool = pool();
    for page in 0..FRAMES {
        assert_image(&load(&pool, page, 1).expect("a free frame"), page, 1);
    }
    assert_eq!(pool.resident_frames(), FRAMES as usize);
    pool
}

/// The pages of `pages` that are cached, each checked against its image.
fn cached_pages(pool: &BufferPool, pages: impl IntoIterator<Item = u64>) -> Vec<u64> {
    let mut cached = Vec::new();
    for page in pages {
        if let Some(guard) = get(pool, page, 1) {
            assert_image(&guard, page, 1);
            cached.push(page);
        }
    }
    cached
}

#[test]
fn a_reserve_hands_back_frames_and_later_loads_stay_within_it() {
    let pool = full_pool();
    let before = pool.stats();
    assert_eq!(pool.budget_pages(), FRAMES as usize);
    pool.set_reserved(32);
    let after = pool.stats();
    assert_eq!((pool.capacity(), pool.resident_frames()), (32, 32));
    assert_eq!(before.memory_bytes - after.memory_bytes, 32 * PAGE_BYTES, "32 pages handed back");
    assert_eq!((after.cached, after.evictions - before.evictions), (32, 32), "{after:?}");
    assert_eq!(cached_pages(&pool, 0..FRAMES).len(), 32, "the rest read back whole");
    pool.check_invariants().unwrap();

    for page in 100..300 {
        assert_image(&load(&pool, page, 1).expect("an idle resident frame"), page, 1);
        assert!(pool.resident_frames() <= 32, "a load touched a frame past the reserve");
    }
    let stats = pool.stats();
    assert_eq!((pool.resident_frames(), stats.cached), (32, 32));
    assert_eq!(stats.memory_bytes, after.memory_bytes, "memory stays where the reserve put it");
    assert_eq!(cached_pages(&pool, 100..300).len(), 32, "the cached ones read back whole");
    pool.check_invariants().unwrap();
}

#[test]
fn a_reserve_of_zero_lets_the_pool_grow_back_to_its_budget() {
    let pool = full_pool();
    let full = pool.stats().memory_bytes;
    pool.set_reserved(32);
    pool.set_reserved(0);
    assert_eq!((pool.capacity(), pool.resident_frames()), (FRAMES as usize, 32));
    for page in 1000..1000 + 4 * FRAMES {
        assert_image(&load(&pool, page, 1).expect("a free frame"), page, 1);
    }
    let stats = pool.stats();
    assert_eq!((pool.resident_frames(), stats.cached), (FRAMES as usize, FRAMES));
    assert_eq!(stats.memory_bytes, full, "every frame resident again, nothing more");
    assert_eq!(cached_pages(&pool, 1000..1000 + 4 * FRAMES).len(), FRAMES as usize);
    pool.check_invariants().unwrap();
}

#[test]
fn pinned_frames_stay_cached_and_whole_and_go_once_unpinned() {
    let pool = pool();
    let mut guards: Vec<PageGuard<'_>> = Vec::new();
    for page in 0..FRAMES {
        let guard = load(&pool, page, 1).expect("a free frame");
        if page < 40 {
            guards.push(guard);
        }
    }
    let evictions = pool.stats().evictions;
    pool.set_reserved(60);
    assert_eq!(pool.capacity(), 4);
    assert_eq!(pool.resident_frames(), 40, "the 24 idle frames went, the 40 pinned stayed");
    assert_eq!(pool.stats().evictions - evictions, 24);
    for (page, guard) in (0..40).zip(&guards) {
        assert_image(guard, page, 1);
    }
    assert_eq!(cached_pages(&pool, 0..FRAMES), (0..40).collect::<Vec<_>>());
    pool.set_reserved(usize::MAX);
    assert_eq!(pool.resident_frames(), 40, "a reserve over pinned frames returns at once");
    pool.set_reserved(60);
    pool.check_invariants().unwrap();

    // Nothing pinned now, and no reserve call since: each load hands one more frame back.
    drop(guards);
    let mut resident = pool.resident_frames();
    for page in 200..240 {
        assert_image(&load(&pool, page, 1).expect("an idle resident frame"), page, 1);
        assert!(pool.resident_frames() <= resident, "a load added memory past the reserve");
        resident = pool.resident_frames();
    }
    assert_eq!(resident, 4, "one frame handed back per load until the excess is gone");
    assert_eq!(cached_pages(&pool, 200..240).len(), 4);
    pool.check_invariants().unwrap();
}

#[test]
fn a_reserve_past_the_budget_leaves_the_minimum_and_loads_still_work() {
    let pool = full_pool();
    pool.set_reserved(usize::MAX);
    assert_eq!((pool.capacity(), pool.resident_frames()), (FRAMES_MIN, FRAMES_MIN));
    pool.set_reserved(FRAMES as usize + 1);
    assert_eq!(pool.capacity(), FRAMES_MIN);
    for page in 500..520 {
        let guard = load(&pool, page, 1).expect("a minimum pool still caches");
        assert_image(&guard, page, 1);
        assert_image(&get(&pool, page, 1).expect("cached"), page, 1);
        assert_eq!(pool.resident_frames(), FRAMES_MIN);
    }
    let held = load(&pool, 600, 1).unwrap();
    let other = load(&pool, 601, 1).unwrap();
    assert!(load(&pool, 602, 1).is_none(), "both frames pinned: read around, not grown");
    assert_eq!(pool.resident_frames(), FRAMES_MIN);
    assert_image(&held, 600, 1);
    assert_image(&other, 601, 1);
    drop((held, other));
    pool.check_invariants().unwrap();
}

/// Readers and loaders on two threads while a third moves the reserve up and down: every page
/// any of them gets is whole and right, and once they stop, a last reserve is met.
#[test]
fn reserves_racing_readers_and_loaders_never_hand_out_a_wrong_page() {
    let pool = pool();
    let readers = AtomicUsize::new(2);
    std::thread::scope(|scope| {
        for thread in 0..2u64 {
            let (pool, readers) = (&pool, &readers);
            scope.spawn(move || {
                for round in 0..3000u64 {
                    let page = (round * 7 + thread * 13) % 150;
                    let guard = get(pool, page, 1).or_else(|| load(pool, page, 1));
                    if let Some(guard) = guard {
                        assert_image(&guard, page, 1);
                    }
                }
                readers.fetch_sub(1, Ordering::Relaxed);
            });
        }
        let (pool, readers) = (&pool, &readers);
        scope.spawn(move || {
            let mut round = 0;
            while readers.load(Ordering::Relaxed) > 0 {
                pool.set_reserved([0, 30, 62, 10, 1000][round % 5]);
                round += 1;
                std::thread::yield_now();
            }
        });
    });
    pool.check_invariants().unwrap();
    pool.set_reserved(40);
    assert!(pool.resident_frames() <= 24, "{} resident", pool.resident_frames());
    assert_eq!(pool.stats().pinned, 0);
    assert_eq!(pool.stats().cached as usize, cached_pages(&pool, 0..150).len());
    pool.check_invariants().unwrap();
}
