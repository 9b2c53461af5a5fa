//! Several threads read random pages through a pool much smaller than the data set, each read
//! verified: the page's checksum, its id and its version (every version of a page has distinct
//! bytes). Never a torn page, never another page's or another version's bytes; the frame count
//! and memory never change; the invariant check holds afterwards.

use std::sync::atomic::{AtomicU64, Ordering};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use redwood_bufpool::{BufferPool, PoolOptions};
use redwood_pager::{PageId, PageSize};

use crate::pool::{key, loader};

fn seed() -> u64 {
    redwood_pager::io::sim::test_seed("stress")
}

#[test]
fn threads_reading_through_a_small_pool_always_get_the_right_verified_page() {
    let base_seed = seed();
    let pool = BufferPool::new(PoolOptions::new(16 * 4096, PageSize::DEFAULT)).unwrap();
    let verified = AtomicU64::new(0);
    std::thread::scope(|scope| {
        for thread in 0..4u64 {
            let (pool, verified) = (&pool, &verified);
            scope.spawn(move || {
                let mut rng = ChaCha8Rng::seed_from_u64(base_seed ^ thread);
                let mut held = Vec::new();
                for _ in 0..4000 {
                    let (page, version) = (rng.random_range(0..96u64), rng.random_range(0..3u64));
                    let cached =
                        pool.get_or_load(key(page, version), loader(page, version)).unwrap();
                    cached.verify(PageId::new(page)).unwrap();
                    assert_eq!(cached.lsn().get(), version, "the version asked for");
                    assert_eq!(&cached.body()[..8], &page.to_le_bytes());
                    verified.fetch_add(1, Ordering::Relaxed);
                    // Hold a few pins for a while, as a range scan would.
                    if rng.random_bool(0.2) && held.len() < 2 {
                        held.push(cached);
                    } else if rng.random_bool(0.3) {
                        held.clear();
                    }
                }
            });
        }
    });
    assert_eq!(verified.load(Ordering::Relaxed), 16_000);
    let stats = pool.stats();
    assert_eq!((stats.frames, stats.memory_bytes, stats.pinned), (16, 16 * 4096, 0));
    assert!(stats.evictions > 1000, "the pool was much smaller than the data: {stats:?}");
    assert_eq!(stats.hits + stats.misses, 16_000);
    pool.check_invariants().unwrap();
}
