//! The meta page: the database's identity and root of everything, kept in two copies (pages 0
//! and 1). Each write goes to the copy the older generation occupies, so a torn meta write
//! always leaves the previous generation intact; open takes the newest copy that verifies.

use zerocopy::byteorder::little_endian::{U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use crate::error::{Error, Result};
use crate::geometry::Geometry;
use crate::limits::ROOT_SLOTS;
use crate::page::{FORMAT_VERSION, PAGE_HEADER_BYTES, PageBuf, PageSize, PageType};
use crate::{LogIdentity, Lsn, PageId};

/// The first bytes of every meta page body, at file offset 32.
pub const MAGIC: [u8; 8] = *b"REDWOOD\0";

/// The body of a meta page, right after the page header. Integers are little-endian.
///
/// `magic` and `format_version` keep their offsets in every future format, so any build can tell
/// "not a Redwood file" from "written by a newer Redwood".
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Debug, Clone, Copy)]
#[repr(C)]
pub(crate) struct MetaBody {
    pub magic: [u8; 8],
    pub format_version: U32,
    pub page_size: U32,
    pub segment_pages: U64,
    pub database_id: U64,
    pub generation: U64,
    pub page_count: U64,
    pub checkpoint_lsn: U64,
    pub roots: [U64; ROOT_SLOTS],
    pub log_generation: U64,
    pub log_salt: U64,
    pub flags: U64,
}

/// `MetaBody::flags`: the log named by the meta data held no commit past the checkpoint when
/// this copy was written by a closing (or creating) handle.
const FLAG_LOG_CLOSED_EMPTY: u64 = 1;
/// Every flag this build knows; any other bit set is damage (or a newer build).
const FLAGS_KNOWN: u64 = FLAG_LOG_CLOSED_EMPTY;

/// Where the body's fields sit in the file, for probing before the page size is known.
pub(crate) const MAGIC_OFFSET: usize = PAGE_HEADER_BYTES;
pub(crate) const FORMAT_VERSION_OFFSET: usize = MAGIC_OFFSET + MAGIC.len();
pub(crate) const PAGE_SIZE_OFFSET: usize = FORMAT_VERSION_OFFSET + 4;
/// Bytes needed to probe magic, version and page size.
pub(crate) const PROBE_BYTES: usize = PAGE_SIZE_OFFSET + 4;

const _: () = assert!(std::mem::offset_of!(MetaBody, format_version) == MAGIC.len());
const _: () = assert!(std::mem::offset_of!(MetaBody, page_size) == MAGIC.len() + 4);
const _: () = assert!(std::mem::size_of::<MetaBody>() <= PageSize::DEFAULT.body_bytes());

/// The decoded, validated contents of a meta copy.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Meta {
    /// Page size and segment size.
    pub geometry: Geometry,
    /// A random id chosen at create; ties the log and segment files to this database.
    pub database_id: u64,
    /// Incremented by every meta write; the newest valid copy wins on open.
    pub generation: u64,
    /// The number of page ids in use (the high-water mark).
    pub page_count: u64,
    /// The log position the data files reflect.
    pub checkpoint_lsn: Lsn,
    /// Page ids higher layers anchor their structures at; `None` where unused.
    pub roots: [Option<PageId>; ROOT_SLOTS],
    /// The identity of the log that continues this checkpoint (generation 0: not recorded, in
    /// files written before identities were). A log of any other identity (but the one before,
    /// if a restart was due and did not happen) belongs to a later checkpoint whose meta copy
    /// is lost, to another database, or to another history of this one.
    pub log: LogIdentity,
    /// The log held no commit past `checkpoint_lsn` when this copy was written, by a handle
    /// that was closing (or creating the database): no commit can follow before a writable
    /// open writes a copy that clears it. Only then may a missing or emptied log be recreated.
    pub log_closed_empty: bool,
}

impl Meta {
    /// The meta copy this generation is written to.
    pub fn slot(&self) -> PageId {
        PageId::new(self.generation % 2)
    }

    /// Encodes this meta data into a sealed page for its slot.
    pub fn encode(&self) -> PageBuf {
        let mut page = PageBuf::zeroed(self.geometry.page_size());
        let body = MetaBody {
            magic: MAGIC,
            format_version: U32::new(u32::from(FORMAT_VERSION)),
            page_size: U32::new(self.geometry.page_size().bytes_u32()),
            segment_pages: U64::new(self.geometry.segment_pages()),
            database_id: U64::new(self.database_id),
            generation: U64::new(self.generation),
            page_count: U64::new(self.page_count),
            checkpoint_lsn: U64::new(self.checkpoint_lsn.get()),
            roots: self.roots.map(|root| U64::new(root.map_or(0, PageId::get))),
            log_generation: U64::new(self.log.generation),
            log_salt: U64::new(self.log.salt),
            flags: U64::new(if self.log_closed_empty { FLAG_LOG_CLOSED_EMPTY } else { 0 }),
        };
        body.write_to_prefix(page.body_mut()).expect("meta body fits in a page");
        page.seal(self.slot(), PageType::META, self.checkpoint_lsn);
        page
    }

    /// Verifies and decodes the meta copy read from `slot`.
    pub fn decode(page: &PageBuf, slot: PageId) -> Result<Meta> {
        page.verify(slot)?;
        let corrupt = |reason: String| Error::Corrupt { page_id: slot, reason };
        if page.page_type() != PageType::META {
            return Err(corrupt(format!("page type {} is not meta", page.page_type().get())));
        }
        let (body, _) = MetaBody::ref_from_prefix(page.body()).expect("meta body fits");
        if body.magic != MAGIC {
            return Err(corrupt("bad magic number".to_owned()));
        }
        let version = body.format_version.get();
        if version != u32::from(FORMAT_VERSION) {
            let supported = u32::from(FORMAT_VERSION);
            return Err(Error::UnsupportedFormatVersion { found: version, supported });
        }
        let page_size = PageSize::new(body.page_size.get()).map_err(|e| corrupt(e.to_string()))?;
        if page_size != page.page_size() {
            return Err(corrupt(format!("page size {} read at another size", page_size.bytes())));
        }
        let geometry = Geometry::new(page_size, body.segment_pages.get())
            .map_err(|error| corrupt(error.to_string()))?;
        let meta = Meta {
            geometry,
            database_id: body.database_id.get(),
            generation: body.generation.get(),
            page_count: body.page_count.get(),
            checkpoint_lsn: Lsn::new(body.checkpoint_lsn.get()),
            roots: body.roots.map(|raw| (raw.get() != 0).then(|| PageId::new(raw.get()))),
            log: LogIdentity { generation: body.log_generation.get(), salt: body.log_salt.get() },
            log_closed_empty: body.flags.get() & FLAG_LOG_CLOSED_EMPTY != 0,
        };
        if body.flags.get() & !FLAGS_KNOWN != 0 {
            return Err(corrupt(format!("unknown meta flags {:#x}", body.flags.get())));
        }
        meta.validate().map_err(corrupt)?;
        if meta.slot() != slot {
            return Err(corrupt(format!(
                "generation {} belongs in the other slot",
                meta.generation
            )));
        }
        Ok(meta)
    }

    /// Checks the relations between fields; the reason names the first one violated.
    fn validate(&self) -> Result<(), String> {
        let reserved_end = self.geometry.reserved_pages(crate::SegmentId::BASE).end;
        if self.page_count < reserved_end {
            return Err(format!("page count {} below the reserved pages", self.page_count));
        }
        if self.page_count > self.geometry.page_count_max() {
            return Err(format!("page count {} above the limit", self.page_count));
        }
        for (slot, root) in self.roots.iter().enumerate() {
            if let Some(root) = root
                && (root.get() >= self.page_count || self.geometry.is_reserved(*root))
            {
                return Err(format!("root slot {slot} points at invalid {root}"));
            }
        }
        Ok(())
    }
}
