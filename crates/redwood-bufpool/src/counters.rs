//! The pool's counters: relaxed atomics, not durable, with derived read-outs.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of one buffer pool.
#[derive(Default, Debug)]
pub struct PoolCounters {
    /// Lookups that found their page cached.
    pub hits: AtomicU64,
    /// Lookups that had to load their page.
    pub misses: AtomicU64,
    /// Cached pages dropped to make room.
    pub evictions: AtomicU64,
    /// Pages loaded (successfully) from storage.
    pub reads: AtomicU64,
    /// Loads that failed (the error went to the caller).
    pub failed_reads: AtomicU64,
    /// Pages reported as thrashing.
    pub thrash_reports: AtomicU64,
    /// Frames that have been given their page buffer (on their first load).
    pub frames_allocated: AtomicU64,
}

/// A snapshot of the counters plus the pool's current shape.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct PoolStats {
    /// Lookups that hit.
    pub hits: u64,
    /// Lookups that missed.
    pub misses: u64,
    /// Evictions.
    pub evictions: u64,
    /// Successful loads.
    pub reads: u64,
    /// Failed loads.
    pub failed_reads: u64,
    /// Thrash reports made.
    pub thrash_reports: u64,
    /// Frames in the pool (fixed at creation).
    pub frames: u64,
    /// Frames holding a page.
    pub cached: u64,
    /// Frames pinned right now.
    pub pinned: u64,
    /// Bytes of page memory allocated so far: a frame gets its buffer on its first load, so
    /// this grows to at most `frames` × the page size.
    pub memory_bytes: u64,
}

impl PoolStats {
    /// Hits over lookups, or `None` before the first lookup.
    pub fn hit_ratio(&self) -> Option<f64> {
        let lookups = self.hits + self.misses;
        (lookups > 0).then(|| self.hits as f64 / lookups as f64)
    }
}

pub(crate) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

pub(crate) fn load(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}
