//! Several threads read random pages at random snapshots through a pool much smaller than the
//! data set while new versions are committed, all as the pager drives the pool: a hit with no
//! lock; a miss looks the version up under a read lock and loads it only if it is the newest;
//! a commit supersedes under the write lock, then publishes its snapshot. Every byte of every
//! page read is checked against the version that snapshot must see: never a torn page, never
//! another page's or another version's bytes. Seeded: `REDWOOD_SEED` replays a run.

use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use redwood_bufpool::{BufferPool, PoolOptions};
use redwood_pager::{Lsn, PageCache, PageGuard, PageId, PageSize};

use crate::pool::{assert_image, filler, image};

const PAGES: u64 = 96;
const READERS: u64 = 4;
const READS: u64 = 4000;
const COMMIT_PROBABILITY: f64 = 0.05;

/// The mini pager: each page's versions (the LSNs of the commits that wrote them, ascending;
/// the data files' version at 0) and the newest published snapshot.
struct Store {
    versions: RwLock<Vec<Vec<u64>>>,
    published: AtomicU64,
    pool: BufferPool,
}

impl Store {
    /// `(from, until)` of the version of `page` a snapshot at `snapshot` sees.
    fn version_at(versions: &[Vec<u64>], page: u64, snapshot: u64) -> (u64, u64) {
        let list = &versions[page as usize];
        let at = list.partition_point(|&from| from <= snapshot) - 1;
        (list[at], list.get(at + 1).copied().unwrap_or(u64::MAX))
    }

    /// Reads `page` at `snapshot` as the pager's `read_at` does; whether it was a hit, and
    /// whether it called `load`.
    fn read(&self, page: u64, snapshot: u64) -> (PageGuard<'_>, bool, bool) {
        let (page_id, at) = (PageId::new(page), Lsn::new(snapshot));
        if let Some(hit) = self.pool.get(page_id, at) {
            return (hit, true, false);
        }
        let versions = self.versions.read().unwrap();
        let (from, until) = Self::version_at(&versions, page, snapshot);
        let mut load = filler(page, from);
        if until == u64::MAX {
            let loaded = self.pool.load(page_id, Lsn::new(from), &mut load).unwrap();
            let guard = loaded.unwrap_or_else(|| PageGuard::owned(image(page, from)));
            (guard, false, true)
        } else {
            (PageGuard::owned(image(page, from)), false, false)
        }
    }

    /// Commits a new version of each of `pages` at the next LSN.
    fn commit(&self, pages: &[u64]) {
        let mut versions = self.versions.write().unwrap();
        let lsn = self.published.load(Ordering::Relaxed) + 1;
        for &page in pages {
            if versions[page as usize].last() != Some(&lsn) {
                versions[page as usize].push(lsn);
                self.pool.supersede(PageId::new(page), Lsn::new(lsn));
            }
        }
        self.published.store(lsn, Ordering::Release);
    }
}

#[test]
fn readers_and_a_writer_through_a_small_pool_always_see_the_right_version() {
    let seed = redwood_pager::io::sim::test_seed("stress");
    let store = Store {
        versions: RwLock::new(vec![vec![0]; PAGES as usize]),
        published: AtomicU64::new(0),
        pool: BufferPool::new(PoolOptions::new(16 * 4096, PageSize::DEFAULT)).unwrap(),
    };
    let (hits, loads, verified) = (AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0));
    std::thread::scope(|scope| {
        let store = &store;
        for reader in 0..READERS {
            let (hits, loads, verified) = (&hits, &loads, &verified);
            scope.spawn(move || {
                let mut rng = ChaCha8Rng::seed_from_u64(seed ^ reader);
                let mut held = Vec::new();
                for _ in 0..READS {
                    // Each thread also commits now and then (commits serialize on the write
                    // lock, as the pager's single writer does), so versions change under reads.
                    if rng.random_bool(COMMIT_PROBABILITY) {
                        let pages: Vec<u64> = (0..rng.random_range(1..4))
                            .map(|_| rng.random_range(0..PAGES / 4)) // a hot quarter
                            .collect();
                        store.commit(&pages);
                    }
                    let newest = store.published.load(Ordering::Acquire);
                    // Mostly the newest snapshot; sometimes an older one a reader still holds.
                    let snapshot = newest.saturating_sub(rng.random_range(0..4u64).pow(2));
                    let page = rng.random_range(0..PAGES);
                    let (guard, hit, loaded) = store.read(page, snapshot);
                    hits.fetch_add(u64::from(hit), Ordering::Relaxed);
                    loads.fetch_add(u64::from(loaded), Ordering::Relaxed);
                    let versions = store.versions.read().unwrap();
                    let (from, _) = Store::version_at(&versions, page, snapshot);
                    drop(versions);
                    assert_image(&guard, page, from);
                    verified.fetch_add(1, Ordering::Relaxed);
                    // Hold a few pins for a while, as a range scan would.
                    if rng.random_bool(0.2) && held.len() < 2 {
                        held.push(guard);
                    } else if rng.random_bool(0.3) {
                        held.clear();
                    }
                }
            });
        }
    });
    let pool = &store.pool;
    assert_eq!(verified.load(Ordering::Relaxed), READERS * READS);
    let stats = pool.stats();
    assert_eq!((stats.frames, stats.pinned), (16, 0), "seed {seed}: {stats:?}");
    assert_eq!(stats.hits, hits.load(Ordering::Relaxed), "every hit counted (seed {seed})");
    assert_eq!(stats.misses, loads.load(Ordering::Relaxed), "every load counted (seed {seed})");
    assert!(stats.evictions > 1000, "the pool was much smaller than the data: {stats:?}");
    assert!(stats.hits > 1000, "and still hit: {stats:?}");
    let commits = store.published.load(Ordering::Acquire);
    assert!(commits > 400, "versions changed under the readers: {commits} commits");
    pool.check_invariants().unwrap();
    // After the run, each cached page is the newest version, seen by the newest snapshot.
    let newest = store.published.load(Ordering::Acquire);
    let versions = store.versions.read().unwrap();
    for page in 0..PAGES {
        if let Some(cached) = pool.get(PageId::new(page), Lsn::new(newest)) {
            assert_image(&cached, page, *versions[page as usize].last().unwrap());
        }
    }
}
