//! Redwood buffer pool: a bounded cache of immutable committed page versions.
//!
//! - `pool`: `BufferPool`, a frame arena allocated once from a byte budget, a page table keyed
//!   by page and version, RAII pins (`PageRef`), `get` / `get_or_load` / `invalidate`.
//! - `clock`: `ClockPolicy`, the eviction decider (CLOCK), pure over the frames' states.
//! - `thrash`: `ThrashDetector` and `ThrashReport` (a page evicted and reloaded again and again).
//! - `counters`: `PoolCounters` and `PoolStats`.
//!
//! What it does not do: it holds no dirty pages (a write transaction's changes stay private
//! until they are committed versions), so it never writes anything and cannot write around the
//! write-ahead log. It knows nothing of the log's format or of B+Trees; loaders are the caller's.
//! `BufferPool` implements the pager's `PageCache` trait, so `Pager::with_cache` puts it under
//! every page read. Not built yet (issue 4): prefetch, the io_uring backend, loom models.

mod clock;
mod counters;
mod error;
pub mod limits;
mod pool;
mod sync;
mod thrash;

pub use clock::{ClockPolicy, FrameState};
pub use counters::{PoolCounters, PoolStats};
pub use error::{Error, Result};
pub use pool::{BufferPool, PageRef, PoolOptions};
pub use redwood_pager::CacheKey;
pub use thrash::ThrashReport;
