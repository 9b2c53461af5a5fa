//! Every limit of the pager, in one place, related to each other at compile time.

/// The smallest page size a database may use, in bytes.
pub const PAGE_SIZE_MIN_BYTES: u32 = 4096;
/// The largest page size a database may use, in bytes.
pub const PAGE_SIZE_MAX_BYTES: u32 = 65536;
/// The page size of a new database unless the options say otherwise.
pub const PAGE_SIZE_DEFAULT_BYTES: u32 = 4096;
/// The unit of atomicity we *do not* assume beyond: storage writes 512-byte sectors.
pub const SECTOR_BYTES: u32 = 512;

/// The fewest pages a segment may hold (meta copies, two copies of one free-space-map page,
/// data pages).
pub const SEGMENT_PAGES_MIN: u64 = 8;
/// The most pages one segment file may hold.
pub const SEGMENT_PAGES_MAX: u64 = 1 << 32;
/// Pages per segment unless the options say otherwise: 1 GiB segments with 4 KiB pages.
pub const SEGMENT_PAGES_DEFAULT: u64 = 1 << 18;
/// The most page ids a database may have (4 PiB of 4 KiB pages).
pub const PAGE_COUNT_MAX: u64 = 1 << 40;
/// Changed pages a write transaction keeps in memory before spilling to the log, unless the
/// options say otherwise (16 MiB of 4 KiB pages).
pub const DIRTY_PAGES_MAX_DEFAULT: usize = 4096;
/// A checkpoint copies pages in batches of this many: one batched read of their log frames
/// (`LogReader::read_pages`), then their writes in page order, consecutive pages as one write
/// (`PageFile::write_pages`). 256 pages of 4 KiB is 1 MiB.
pub const CHECKPOINT_BATCH_PAGES: usize = 256;
/// The most pages `PageFile::write_pages` puts in one write.
pub const WRITE_RUN_PAGES_MAX: usize = 256;
/// The most pages `PageRead::stream_pages` reads with one batched read (256 KiB of 4 KiB pages):
/// large enough that a 2 MB value takes 8 reads, small enough that the state lock held over
/// each read stays short for the writer.
pub const STREAM_RUN_PAGES_MAX: usize = 64;
/// The most pages the pager remembers as touched by the current log generation's commits
/// (`TouchedPages`): about 4 MiB of ids. Past it, every page counts as touched until the log
/// restarts, so pages reused from the free list go to the log as they did before ADR-14's
/// amendment, and memory stays bounded however long a reader holds the restart back.
pub const TOUCHED_PAGES_MAX: usize = 1 << 18;
/// Prefetch requests queued at most; more are dropped (a prefetch is a hint).
pub const PREFETCH_QUEUE_MAX: usize = 1024;
/// The longest restore-point name, in bytes.
pub const RESTORE_POINT_NAME_MAX_BYTES: usize = 1024;
/// How many root slots the meta page offers to higher layers.
pub const ROOT_SLOTS: usize = 8;

const _: () = assert!(PAGE_SIZE_MIN_BYTES.is_power_of_two());
const _: () = assert!(PAGE_SIZE_MAX_BYTES.is_power_of_two());
const _: () = assert!(PAGE_SIZE_MIN_BYTES <= PAGE_SIZE_DEFAULT_BYTES);
const _: () = assert!(PAGE_SIZE_DEFAULT_BYTES <= PAGE_SIZE_MAX_BYTES);
const _: () = assert!(PAGE_SIZE_MIN_BYTES.is_multiple_of(SECTOR_BYTES));
const _: () = assert!(SEGMENT_PAGES_MIN <= SEGMENT_PAGES_DEFAULT);
const _: () = assert!(SEGMENT_PAGES_DEFAULT <= SEGMENT_PAGES_MAX);
const _: () = assert!(SEGMENT_PAGES_MAX <= PAGE_COUNT_MAX);
// Byte offsets of the largest database fit in a u64.
const _: () = assert!(PAGE_COUNT_MAX.checked_mul(PAGE_SIZE_MAX_BYTES as u64).is_some());

/// How long opening a database waits for a held lock before `Locked` (see `PageFile::open`).
pub const LOCK_WAIT_MAX: std::time::Duration = std::time::Duration::from_millis(500);
