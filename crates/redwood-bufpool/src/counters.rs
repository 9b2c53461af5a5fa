//! The pool's counters (`PoolCounters`, defined in `redwood-telemetry`) and the helpers that bump
//! and read them.

use std::sync::atomic::{AtomicU64, Ordering};

pub use redwood_pager::telemetry::{PoolCounters, PoolStats};

pub(crate) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

pub(crate) fn load(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}
