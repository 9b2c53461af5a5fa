//! Redwood buffer pool: a bounded cache of immutable committed page versions, under the pager's
//! read path (`BufferPool` implements the pager's `PageCache`; `Pager::with_cache` installs
//! it). A hit hands out the cached frame itself, pinned, with no copy and no lock; the design
//! follows vmcache (Leis et al., SIGMOD 2023) minus its virtual-memory tricks.
//!
//! - **The slab** (`slab.rs`): all page memory is one allocation made at open, `budget /
//!   page_size` frames, 4 KiB-aligned, requested from `calloc` so it stays untouched (not
//!   resident) until a frame is first loaded; a frame's memory can be handed back to the
//!   operating system (`madvise(MADV_DONTNEED)`). The crate's only memory `unsafe` is there.
//! - **The directory** (`directory.rs`): page id → frame, a two-level array of `AtomicU32`
//!   (0 = none, else frame + 1) whose chunks are allocated on first use; a lookup is one atomic
//!   load. Entries are hints: a reader always checks the frame it pins.
//! - **The frame state word** (`frame.rs`): per frame, on its own cache line, an `AtomicU32`
//!   with an exclusive latch bit (31) and a pin count (the low bits), plus what the frame holds
//!   (`page_id`, `from`, `until`) and a CLOCK reference bit. A reader pins with one
//!   `fetch_add(Acquire)` and backs off if the latch was set; a loader latches only an idle
//!   frame (`compare_exchange(0, EXCLUSIVE, Acquire)`) and releases with `fetch_sub(Release)`
//!   (keeping one pin for its caller), never a store, since readers may be transiently counted.
//!   So bytes are written only by the latch holder, read only under pins, never both at once.
//! - **Version intervals**: the pool holds at most one version of each page, normally the
//!   newest committed one, tagged with the snapshots `from..until` that see it; `load` installs
//!   a newest version (`until = Lsn::MAX`), `supersede(page, at)` lowers `until` to `at`, and a
//!   hit is a pinned frame that holds the page with `from <= snapshot < until`. Installing a
//!   newer version repoints the directory; the old frame is unmapped but stays readable by
//!   whoever pinned it, and is reused once unpinned.
//! - **CLOCK** (`clock.rs`): the miss path sweeps an atomic hand over the frames: a pinned or
//!   latched frame is skipped, a referenced one loses its bit (second chance), the first idle
//!   one is latched; after two sweeps with none, `load` returns `Ok(None)` and the pager reads
//!   around the cache. The victim's mapping is removed (if the directory still points at it)
//!   before it is refilled.
//! - **The budget** (`budget.rs`): one memory budget covers the cache and the open write
//!   transaction's changed pages. `set_reserved(pages)` lowers the capacity, the frames that may
//!   be resident, to `frames - pages` (at least `FRAMES_MIN`) and hands back the memory of
//!   unpinned CLOCK victims (latched as a load latches one, and evicted) down to it; a load at
//!   the capacity reuses a resident frame, never one with no memory, so the pool's resident set
//!   plus the transaction's pages stay within the budget (below it, a load takes a frame with
//!   no memory first: nothing is evicted while the budget has room). Pinned frames stay; later
//!   loads release one each until the excess is gone. The hit path does not change.
//! - `thrash.rs`: `ThrashDetector` and `ThrashReport` (a page evicted and reloaded again and
//!   again), fed by the miss path under a small mutex.
//! - `counters.rs`: `PoolCounters` and `PoolStats`, and the per-thread striped hit count.
//!
//! What it does not do: it holds no dirty pages (a write transaction's changes stay private
//! until they are committed versions), so it never writes anything and cannot write around the
//! write-ahead log. It knows nothing of the log's format or of B+Trees; loaders are the caller's.
//! The pager keeps the contract that makes `supersede` safe without a latch: loads run only
//! under its state read lock, supersedes only under its write lock, and a supersede
//! happens-before the commit's snapshot is published. The models in `loom_model.rs` check the
//! protocol (`RUSTFLAGS="--cfg loom" cargo test -p redwood-bufpool --lib loom --release`).

mod budget;
mod clock;
mod counters;
mod directory;
mod error;
mod frame;
pub mod limits;
#[cfg(all(test, loom))]
mod loom_model;
mod pool;
mod slab;
mod sync;
mod thrash;

pub use clock::{ClockPolicy, FrameState};
pub use counters::{PoolCounters, PoolStats};
pub use error::{Error, Result};
pub use pool::{BufferPool, PoolOptions};
pub use thrash::ThrashReport;
