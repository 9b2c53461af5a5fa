//! Every limit of the buffer pool, in one place.

/// The fewest frames a pool may have.
pub const FRAMES_MIN: usize = 2;
/// The most frames a pool may have: a larger budget is capped. A frame's index and one more
/// (a directory entry's encoding, 0 meaning "none") must fit in a `u32`.
pub const FRAMES_MAX: usize = 1 << 31;
/// How far ahead (in frames) a sweep for a resident victim looks in one step through the
/// resident bitmap when it skips frames with no memory; a longer stretch takes several steps.
pub const RESIDENT_SCAN_FRAMES_MAX: usize = 4096;
/// The most frames handed back to the operating system in one `madvise` (a run of consecutive
/// victims, each latched until the call returns).
pub const RELEASE_RUN_FRAMES_MAX: usize = 256;
/// Thrash reports kept for diagnostics; older ones are dropped.
pub const THRASH_REPORTS_MAX: usize = 64;
/// Misses that make up the thrash window unless the options say otherwise.
pub const THRASH_WINDOW_MISSES_DEFAULT: u64 = 4096;
/// Quick reloads that make a page thrash unless the options say otherwise.
pub const THRASH_RELOADS_MIN_DEFAULT: u32 = 3;

/// Page ids per directory chunk, as a power of two: a chunk is allocated on the first load of
/// one of its pages (4 bytes an entry: 256 KiB a chunk).
#[cfg(not(any(loom, miri)))]
pub const DIRECTORY_CHUNK_BITS: u32 = 16;
/// Page ids per directory chunk under miri: 64, so that a test's pool does not build (and its
/// invariant check scan) 65,536 atomics in the interpreter, which took most of a minute a test.
#[cfg(all(miri, not(loom)))]
pub const DIRECTORY_CHUNK_BITS: u32 = 6;
/// Page ids per directory chunk, as a power of two (the loom models use a tiny directory).
#[cfg(loom)]
pub const DIRECTORY_CHUNK_BITS: u32 = 3;
/// Directory chunks: the directory covers page ids below `DIRECTORY_CHUNKS << DIRECTORY_CHUNK_BITS`
/// (2^28, a terabyte of 4 KiB pages); pages beyond are never cached, always read around.
#[cfg(not(any(loom, miri)))]
pub const DIRECTORY_CHUNKS: usize = 4096;
/// Directory chunks under miri: 64 of 64 entries, page ids below 4,096 (the tests' pages are
/// far below that).
#[cfg(all(miri, not(loom)))]
pub const DIRECTORY_CHUNKS: usize = 64;
/// Directory chunks (the loom models use a tiny directory, allocated eagerly).
#[cfg(loom)]
pub const DIRECTORY_CHUNKS: usize = 2;

/// Stripes of the hit counter: each thread counts its hits in one (chosen once per thread),
/// each on a cache line of its own, so that hits on different threads write no shared line.
pub const HIT_STRIPES: usize = 16;
/// Hits a stripe holds before it adds them to `PoolCounters::hits` (which `stats` also
/// brings up to date): how far that shared counter may lag, per stripe.
pub const HIT_FLUSH_EVERY: u64 = 256;

const _: () = assert!(FRAMES_MIN >= 2);
const _: () = assert!(FRAMES_MAX < u32::MAX as usize);
const _: () = assert!(RESIDENT_SCAN_FRAMES_MAX >= 64 && RELEASE_RUN_FRAMES_MAX > 0);
const _: () = assert!(HIT_STRIPES.is_power_of_two() && HIT_FLUSH_EVERY > 0);

/// A reserve given back by at least this many bytes (a write transaction that held that many
/// dirty pages ended) asks the C allocator to return its free heap to the OS
/// (`slab::return_free_heap`). Measured: without it, the heap a 1M-entry load freed stayed
/// resident beside the cache that refilled, and a 512 MiB budget peaked at 768 MiB of RSS.
pub const HEAP_TRIM_MIN_BYTES: u64 = 16 << 20;
