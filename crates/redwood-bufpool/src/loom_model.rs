//! Exhaustive interleavings (bounded preemptions) of the pin protocol in two-frame pools:
//! readers pinning through the directory while loaders latch, evict and refill frames, a
//! supersede racing a reader, pins released while a loader sweeps, and a reserve handing frames
//! back while a reader pins or a loader loads (three-frame pools, since a reserve never leaves
//! fewer than two). Every page a reader gets
//! is the one it asked for and whole: the loader writes a marker in two halves with a yield
//! between them, so a reader that could see a half-loaded frame would fail the check. Run with
//! `RUSTFLAGS="--cfg loom" cargo test -p redwood-bufpool --lib loom --release`.

use loom::sync::Arc;
use loom::sync::atomic::{AtomicU64, Ordering};
use redwood_pager::{Lsn, Page, PageCache, PageGuard, PageId, PageSize};

use crate::{BufferPool, PoolOptions};

fn pool() -> Arc<BufferPool> {
    pool_of(2)
}

fn pool_of(frames: u64) -> Arc<BufferPool> {
    Arc::new(BufferPool::new(PoolOptions::new(frames * 4096, PageSize::DEFAULT)).unwrap())
}

/// A loader that marks the page as `page`'s, in two steps with a scheduling point between.
fn fill(page: u64) -> impl FnMut(&mut Page) -> redwood_pager::Result<()> {
    move |buffer: &mut Page| {
        buffer.body_mut()[0] = page as u8;
        loom::thread::yield_now();
        buffer.body_mut()[1] = page as u8;
        Ok(())
    }
}

/// Asserts `guard` shows all of `page`'s marker: not another page's, not half of one.
fn check(guard: &PageGuard<'_>, page: u64) {
    assert_eq!(guard.body()[0], page as u8, "another page's frame");
    assert_eq!(guard.body()[1], page as u8, "a half-loaded frame");
}

/// Loads `page` as the pager does on a miss, checking what it gets; whether it got a frame.
fn load(pool: &BufferPool, page: u64, from: u64) -> bool {
    let loaded = pool.load(PageId::new(page), Lsn::new(from), &mut fill(page)).unwrap();
    loaded.inspect(|guard| check(guard, page)).is_some()
}

/// Looks `page` up at `snapshot`, checking a hit; whether it hit.
fn get(pool: &BufferPool, page: u64, snapshot: u64) -> bool {
    let hit = pool.get(PageId::new(page), Lsn::new(snapshot));
    hit.inspect(|guard| check(guard, page)).is_some()
}

fn model(body: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(4);
    builder.check(body);
}

/// A reader that took a frame index from the directory while another thread evicts that frame
/// and refills it (with another page, then with the reader's page again) never returns another
/// page's bytes or a half-loaded frame.
#[test]
fn loom_a_reader_racing_an_eviction_and_a_reload_gets_its_page_or_nothing() {
    model(|| {
        let pool = pool();
        assert!(load(&pool, 1, 1) && load(&pool, 2, 1));
        let reader = {
            let pool = Arc::clone(&pool);
            loom::thread::spawn(move || {
                get(&pool, 1, 1);
                get(&pool, 1, 1);
            })
        };
        assert!(load(&pool, 3, 1), "nothing else is pinned for long");
        assert!(load(&pool, 1, 1));
        reader.join().unwrap();
        pool.check_invariants().unwrap();
        assert_eq!(pool.stats().pinned, 0);
    });
}

/// A reader looking for a page while it is being loaded into a frame that held another page
/// finds nothing until the load is complete, then the whole page.
#[test]
fn loom_a_reader_never_sees_a_frame_half_loaded() {
    model(|| {
        let pool = pool();
        assert!(load(&pool, 2, 1) && load(&pool, 3, 1));
        let reader = {
            let pool = Arc::clone(&pool);
            loom::thread::spawn(move || get(&pool, 1, 1))
        };
        assert!(load(&pool, 1, 1));
        reader.join().unwrap();
        pool.check_invariants().unwrap();
    });
}

/// Two loaders of different pages in a two-frame pool holding one idle page: each latches a
/// frame of its own (one free, one evicted), and neither is ever refused.
#[test]
fn loom_two_loaders_of_different_pages_claim_distinct_frames() {
    model(|| {
        let pool = pool();
        assert!(load(&pool, 9, 1));
        let loaders: Vec<_> = [1u64, 2]
            .into_iter()
            .map(|page| {
                let pool = Arc::clone(&pool);
                loom::thread::spawn(move || assert!(load(&pool, page, 1), "a frame for {page}"))
            })
            .collect();
        for loader in loaders {
            loader.join().unwrap();
        }
        pool.check_invariants().unwrap();
        // Which page went is CLOCK's guess, and reference bits are hints (relaxed: a sweep may
        // miss a reference just set); what holds is one eviction and two whole cached pages.
        let cached = [9u64, 1, 2].into_iter().filter(|&page| get(&pool, page, 1)).count();
        let stats = pool.stats();
        assert_eq!((cached, stats.cached, stats.evictions), (2, 2, 1));
    });
}

/// Two loaders of the same page (two readers missing at once): one mapping survives, and it
/// holds the page.
#[test]
fn loom_two_loaders_of_one_page_leave_one_mapping() {
    model(|| {
        let pool = pool();
        let other = {
            let pool = Arc::clone(&pool);
            loom::thread::spawn(move || load(&pool, 5, 3))
        };
        let mine = load(&pool, 5, 3);
        let theirs = other.join().unwrap();
        assert!(mine && theirs, "two frames for two loaders");
        pool.check_invariants().unwrap();
        assert!(get(&pool, 5, 3));
        assert_eq!(pool.stats().cached, 1, "the other frame is unmapped");
    });
}

/// A supersede racing a reader, published as the pager publishes a commit: a reader whose
/// snapshot sees the commit misses the superseded version, an older snapshot still hits it.
#[test]
fn loom_supersede_then_a_newer_snapshot_misses() {
    model(|| {
        let pool = pool();
        assert!(load(&pool, 1, 1));
        let published = Arc::new(AtomicU64::new(1));
        let writer = {
            let (pool, published) = (Arc::clone(&pool), Arc::clone(&published));
            loom::thread::spawn(move || {
                pool.supersede(PageId::new(1), Lsn::new(5));
                published.store(5, Ordering::Release);
            })
        };
        let snapshot = published.load(Ordering::Acquire);
        if snapshot == 5 {
            assert!(!get(&pool, 1, snapshot), "a snapshot that sees the commit");
        }
        assert!(get(&pool, 1, 4), "a snapshot before the commit");
        writer.join().unwrap();
        assert!(!get(&pool, 1, 5));
        pool.check_invariants().unwrap();
    });
}

/// The hazard the pin protocol exists for: one thread drops its guard while another sweeps for
/// a victim. The loader never latches the frame while it is pinned, and always finds a frame.
#[test]
fn loom_a_guard_dropped_while_another_thread_evicts() {
    model(|| {
        let pool = pool();
        assert!(load(&pool, 1, 1) && load(&pool, 2, 1));
        let releaser = {
            let pool = Arc::clone(&pool);
            loom::thread::spawn(move || {
                let guard = pool.get(PageId::new(1), Lsn::new(1));
                if let Some(guard) = &guard {
                    check(guard, 1);
                }
                drop(guard);
            })
        };
        assert!(load(&pool, 3, 1), "page 2's frame is never pinned");
        releaser.join().unwrap();
        pool.check_invariants().unwrap();
        let stats = pool.stats();
        assert_eq!((stats.pinned, stats.evictions, stats.cached), (0, 1, 2));
    });
}

/// A reserve hands a frame back (`madvise`: its bytes read as zeros afterwards) while a reader
/// looks up the page it held: the reader either pins the frame first, and the reserve takes
/// another, or misses; it never sees the page's bytes gone. One frame goes either way.
#[test]
fn loom_a_reserve_racing_a_reader_leaves_it_its_page_or_a_miss() {
    model(|| {
        let pool = pool_of(3);
        assert!(load(&pool, 1, 1) && load(&pool, 2, 1) && load(&pool, 3, 1));
        let reader = {
            let pool = Arc::clone(&pool);
            loom::thread::spawn(move || {
                if let Some(guard) = pool.get(PageId::new(1), Lsn::new(1)) {
                    check(&guard, 1);
                    loom::thread::yield_now();
                    check(&guard, 1);
                }
            })
        };
        pool.set_reserved(1);
        reader.join().unwrap();
        pool.check_invariants().unwrap();
        let stats = pool.stats();
        assert_eq!((pool.resident_frames(), stats.cached, stats.evictions), (2, 2, 1));
        let cached = [1u64, 2, 3].into_iter().filter(|&page| get(&pool, page, 1)).count();
        assert_eq!(cached, 2, "the pages left are whole");
    });
}

/// A load racing a reserve: whichever comes first, the loader gets its page whole (or, if the
/// reserve's sweep kept every frame busy, nothing: `load` checks what it gets), and the pool
/// ends within the reserve, every page left in it whole.
#[test]
fn loom_a_load_racing_a_reserve_ends_within_it() {
    model(|| {
        let pool = pool_of(3);
        assert!(load(&pool, 1, 1) && load(&pool, 2, 1) && load(&pool, 3, 1));
        let loader = {
            let pool = Arc::clone(&pool);
            loom::thread::spawn(move || load(&pool, 4, 1))
        };
        pool.set_reserved(1);
        loader.join().unwrap();
        pool.check_invariants().unwrap();
        let stats = pool.stats();
        assert_eq!((pool.resident_frames(), stats.cached, stats.pinned), (2, 2, 0));
        let cached = [1u64, 2, 3, 4].into_iter().filter(|&page| get(&pool, page, 1)).count();
        assert_eq!(cached, 2, "the pages left are whole");
    });
}

/// A replaced version's frame is reused by the next load (its memory is resident), but never
/// while a reader of an older snapshot still pins it: that reader keeps its page whole, and the
/// next load takes another frame instead.
#[test]
fn loom_a_forgotten_frame_is_reused_only_when_no_reader_pins_it() {
    model(|| {
        let pool = pool_of(3);
        assert!(load(&pool, 1, 1));
        pool.supersede(PageId::new(1), Lsn::new(5));
        let reader = {
            let pool = Arc::clone(&pool);
            loom::thread::spawn(move || {
                // The old snapshot's version, if the directory still points at it.
                let guard = pool.get(PageId::new(1), Lsn::new(4));
                loom::thread::yield_now();
                if let Some(guard) = &guard {
                    check(guard, 1);
                }
            })
        };
        // The newer version in another frame (the old one forgotten), then another page.
        assert!(load(&pool, 1, 5));
        assert!(load(&pool, 2, 1));
        reader.join().unwrap();
        assert!(get(&pool, 1, 5) && get(&pool, 2, 1));
        pool.check_invariants().unwrap();
        assert_eq!(pool.stats().pinned, 0);
    });
}
