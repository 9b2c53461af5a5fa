//! The subsystems' counters: `#[derive(Default)]` structs of relaxed atomics that each subsystem
//! is handed at construction (no global registry), and the plain snapshot structs read out of
//! them. The pager, the log and the buffer pool re-export these types under their own crates, so
//! a caller names them where it builds the subsystem.
//!
//! Counters count since the handle was opened; they are not durable.

use std::sync::atomic::{AtomicU64, Ordering};

fn load(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

/// I/O counters of one page file (the base file and its segments).
#[derive(Default, Debug)]
pub struct PageFileCounters {
    /// Pages read and verified (including meta and free-space-map pages).
    pub pages_read: AtomicU64,
    /// Pages written (including meta and free-space-map pages).
    pub pages_written: AtomicU64,
    /// `sync_data` calls that succeeded.
    pub syncs: AtomicU64,
    /// `sync_dir` calls that succeeded.
    pub dir_syncs: AtomicU64,
}

impl PageFileCounters {
    /// A plain copy of the counters.
    pub fn snapshot(&self) -> PageFileStats {
        PageFileStats {
            pages_read: load(&self.pages_read),
            pages_written: load(&self.pages_written),
            syncs: load(&self.syncs),
            dir_syncs: load(&self.dir_syncs),
        }
    }
}

/// A snapshot of [`PageFileCounters`].
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub struct PageFileStats {
    /// Pages read and verified.
    pub pages_read: u64,
    /// Pages written.
    pub pages_written: u64,
    /// Successful `sync_data` calls.
    pub syncs: u64,
    /// Successful `sync_dir` calls.
    pub dir_syncs: u64,
}

/// Counters of one write-ahead log handle.
#[derive(Default, Debug)]
pub struct WalCounters {
    /// Frames appended.
    pub frames: AtomicU64,
    /// Bytes appended, headers and padding included.
    pub bytes: AtomicU64,
    /// Transactions committed.
    pub commits: AtomicU64,
    /// `fdatasync` calls that succeeded.
    pub syncs: AtomicU64,
    /// Restarts after complete checkpoints.
    pub restarts: AtomicU64,
    /// Bytes of zeros written ahead of the frames (preallocation).
    pub preallocated_bytes: AtomicU64,
}

impl WalCounters {
    /// A plain copy of the counters.
    pub fn snapshot(&self) -> WalStats {
        WalStats {
            frames: load(&self.frames),
            bytes: load(&self.bytes),
            commits: load(&self.commits),
            syncs: load(&self.syncs),
            restarts: load(&self.restarts),
            preallocated_bytes: load(&self.preallocated_bytes),
        }
    }
}

/// A snapshot of [`WalCounters`].
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub struct WalStats {
    /// Frames appended.
    pub frames: u64,
    /// Bytes appended.
    pub bytes: u64,
    /// Transactions committed.
    pub commits: u64,
    /// Successful `fdatasync` calls.
    pub syncs: u64,
    /// Restarts.
    pub restarts: u64,
    /// Bytes of zeros written ahead of the frames.
    pub preallocated_bytes: u64,
}

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
    /// Pages reported as thrashing: evicted and loaded again repeatedly within a short window.
    pub thrash_reports: AtomicU64,
    /// Times a frame was given page memory (its first load, and its first load after a
    /// release).
    pub frames_allocated: AtomicU64,
}

/// A snapshot of [`PoolCounters`] plus the pool's current shape.
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
    /// Bytes of memory the pool holds: the pages of frames resident now (the slab is touched
    /// only as frames are loaded, and frames released to make room for a write transaction's
    /// dirty pages no longer count, so this is at most `frames` × the page size), plus the
    /// frames' metadata and the page directory.
    pub memory_bytes: u64,
}

impl PoolStats {
    /// Hits over lookups, or `None` before the first lookup.
    ///
    /// ```
    /// let stats = redwood_telemetry::PoolStats { hits: 3, misses: 1, ..Default::default() };
    /// assert_eq!(stats.hit_ratio(), Some(0.75));
    /// assert_eq!(redwood_telemetry::PoolStats::default().hit_ratio(), None);
    /// ```
    pub fn hit_ratio(&self) -> Option<f64> {
        let lookups = self.hits + self.misses;
        (lookups > 0).then(|| self.hits as f64 / lookups as f64)
    }
}

/// Counters of one pager (the transactional page store).
#[derive(Default, Debug)]
pub struct PagerCounters {
    /// Write transactions committed (empty ones included).
    pub commits: AtomicU64,
    /// Write transactions aborted or dropped.
    pub aborts: AtomicU64,
    /// Checkpoints run.
    pub checkpoints: AtomicU64,
    /// Page images copied into the data files by checkpoints.
    pub pages_checkpointed: AtomicU64,
    /// Pages read into the cache by prefetch.
    pub prefetched: AtomicU64,
    /// Prefetch requests dropped unread because the reader that asked had ended (its
    /// snapshot was no longer protected from checkpoints).
    pub prefetch_dropped: AtomicU64,
    /// Checkpointed pages the data files did not keep (lost or misdirected writes), rewritten
    /// from the log.
    pub lost_writes_repaired: AtomicU64,
    /// Checkpoints that could not ship the log generation to its archive, and so left the log
    /// unrestarted.
    pub archive_failures: AtomicU64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_copy_every_counter() {
        let wal = WalCounters::default();
        for (counter, value) in [
            (&wal.frames, 1),
            (&wal.bytes, 2),
            (&wal.commits, 3),
            (&wal.syncs, 4),
            (&wal.restarts, 5),
            (&wal.preallocated_bytes, 6),
        ] {
            counter.store(value, Ordering::Relaxed);
        }
        let expected = WalStats {
            frames: 1,
            bytes: 2,
            commits: 3,
            syncs: 4,
            restarts: 5,
            preallocated_bytes: 6,
        };
        assert_eq!(wal.snapshot(), expected);

        let file = PageFileCounters::default();
        file.pages_read.store(7, Ordering::Relaxed);
        file.pages_written.store(8, Ordering::Relaxed);
        file.syncs.store(9, Ordering::Relaxed);
        file.dir_syncs.store(10, Ordering::Relaxed);
        let expected = PageFileStats { pages_read: 7, pages_written: 8, syncs: 9, dir_syncs: 10 };
        assert_eq!(file.snapshot(), expected);
    }
}
