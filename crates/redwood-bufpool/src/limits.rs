//! Every limit of the buffer pool, in one place.

/// The fewest frames a pool may have.
pub const FRAMES_MIN: usize = 2;
/// Thrash reports kept for diagnostics; older ones are dropped.
pub const THRASH_REPORTS_MAX: usize = 64;
/// How many times a lookup retries after finding a frame whose load failed under it.
pub const LOAD_RETRIES_MAX: u32 = 8;
/// Misses that make up the thrash window unless the options say otherwise.
pub const THRASH_WINDOW_MISSES_DEFAULT: u64 = 4096;
/// Quick reloads that make a page thrash unless the options say otherwise.
pub const THRASH_RELOADS_MIN_DEFAULT: u32 = 3;

const _: () = assert!(FRAMES_MIN >= 2);
