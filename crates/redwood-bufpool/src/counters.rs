//! The pool's counters (`PoolCounters`, defined in `redwood-telemetry`), the helpers that bump
//! and read them, and `StripedHits`, the hit path's contention-free hit count.
//!
//! Hits are the hot path's one counter, so they are not counted in the shared
//! `PoolCounters::hits` directly: each thread adds to one of [`HIT_STRIPES`] stripes (each on
//! its own cache line), which moves its count into `PoolCounters::hits` every
//! [`HIT_FLUSH_EVERY`] hits. `BufferPool::stats` moves every stripe's count first, so its
//! `hits` includes every hit that happened before it; `PoolCounters::hits` read directly lags by
//! less than `HIT_FLUSH_EVERY` per stripe (diagnostics read the pool's `stats`, so they do not
//! lag).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

pub use redwood_pager::telemetry::{PoolCounters, PoolStats};

use crate::limits::{HIT_FLUSH_EVERY, HIT_STRIPES};

pub(crate) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

pub(crate) fn load(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

/// One stripe of the hit count, alone on its cache line.
#[repr(align(64))]
#[derive(Debug, Default)]
struct Stripe(AtomicU64);

/// Hits not yet moved into `PoolCounters::hits`, counted per thread.
#[derive(Debug, Default)]
pub(crate) struct StripedHits {
    stripes: [Stripe; HIT_STRIPES],
}

/// This thread's stripe: threads take stripes in turn as they first count a hit.
fn stripe_index() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    std::thread_local! {
        static STRIPE: usize = NEXT.fetch_add(1, Ordering::Relaxed) % HIT_STRIPES;
    }
    STRIPE.with(|stripe| *stripe)
}

impl StripedHits {
    /// Counts one hit; every `HIT_FLUSH_EVERY` of a stripe's, moves them into `total`.
    pub(crate) fn bump(&self, total: &AtomicU64) {
        let stripe = &self.stripes[stripe_index()].0;
        if stripe.fetch_add(1, Ordering::Relaxed) + 1 >= HIT_FLUSH_EVERY {
            total.fetch_add(stripe.swap(0, Ordering::Relaxed), Ordering::Relaxed);
        }
    }

    /// Moves every stripe's hits into `total` (each hit is moved exactly once: a stripe is
    /// emptied with one `swap`).
    pub(crate) fn flush(&self, total: &AtomicU64) {
        for stripe in &self.stripes {
            let pending = stripe.0.swap(0, Ordering::Relaxed);
            if pending > 0 {
                total.fetch_add(pending, Ordering::Relaxed);
            }
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn hits_reach_the_shared_counter_in_batches_and_all_of_them_on_flush() {
        let (hits, total) = (StripedHits::default(), AtomicU64::new(0));
        for _ in 0..HIT_FLUSH_EVERY - 1 {
            hits.bump(&total);
        }
        assert_eq!(load(&total), 0, "below a batch, the shared line is not written");
        hits.bump(&total);
        assert_eq!(load(&total), HIT_FLUSH_EVERY, "a full stripe moves its batch");
        hits.bump(&total);
        hits.flush(&total);
        hits.flush(&total);
        assert_eq!(load(&total), HIT_FLUSH_EVERY + 1, "flushing moves each hit once");
    }

    #[test]
    fn hits_on_many_threads_are_all_counted() {
        let (hits, total) = (StripedHits::default(), AtomicU64::new(0));
        std::thread::scope(|scope| {
            for _ in 0..8 {
                scope.spawn(|| {
                    for _ in 0..1000 {
                        hits.bump(&total);
                    }
                });
            }
        });
        hits.flush(&total);
        assert_eq!(load(&total), 8000);
    }
}
