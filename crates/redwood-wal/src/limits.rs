//! Every limit of the write-ahead log, in one place.

/// Bytes of the two header copies at the start of the file; frames start here.
pub const FRAMES_START_BYTES: u64 = 1024;
/// Bytes of one header copy (one sector).
pub const HEADER_COPY_BYTES: u64 = 512;
/// Frames start on multiples of this many bytes.
pub const FRAME_ALIGN_BYTES: u64 = 8;
/// The largest payload a frame may carry: a commit record listing two million page ids.
pub const FRAME_PAYLOAD_MAX_BYTES: u32 = 16 << 20;
/// Appended frames are buffered in memory up to this many bytes before they are written.
pub const APPEND_BUFFER_MAX_BYTES: usize = 1 << 20;
/// A small durable commit that reaches within a quarter of this of the file's end first extends
/// the file by this many bytes of zeros, written and synced with it. Later commits then overwrite
/// allocated blocks, and `fdatasync` has no file size to journal: measured here, 84 µs instead
/// of 140 µs per sync (docs/DECISIONS.md ADR-9).
pub const PREALLOC_BYTES: u64 = 1 << 20;
/// Commits that write more frame bytes than this extend the file by their own writes only: a
/// bulk load would otherwise write its log twice.
pub const PREALLOC_COMMIT_MAX_BYTES: usize = 64 << 10;
/// The corruption scan past a bad frame reads the file in chunks of this many bytes.
pub const SCAN_CHUNK_BYTES: usize = 4 << 20;
/// The longest restore-point name, in bytes (the pager checks it when one is recorded).
pub const RESTORE_POINT_NAME_MAX_BYTES: usize = redwood_pager::limits::RESTORE_POINT_NAME_MAX_BYTES;
/// The largest LSN or header sequence a valid log holds; larger values in a header are damage.
/// At a million frames a second it lasts 146,000 years.
pub const LSN_MAX: u64 = 1 << 62;

const _: () = assert!(FRAMES_START_BYTES == 2 * HEADER_COPY_BYTES);
const _: () = assert!(FRAMES_START_BYTES.is_multiple_of(FRAME_ALIGN_BYTES));
const _: () = assert!((SCAN_CHUNK_BYTES as u64).is_multiple_of(FRAME_ALIGN_BYTES));

/// The largest archive manifest read (`archive.json`): about 8,000 generations with a few
/// restore points each; a larger file is refused as damaged rather than read into memory.
pub const ARCHIVE_MANIFEST_MAX_BYTES: u64 = 64 << 20;
