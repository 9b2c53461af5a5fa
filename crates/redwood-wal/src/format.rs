//! The bytes of the log: header copies and frame headers as zerocopy structs, and the chained
//! frame checksum. The layout is drawn in `docs/FORMAT.md`.

use std::mem::{offset_of, size_of};

use redwood_pager::{Lsn, PageId};
use zerocopy::byteorder::little_endian::{U16, U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use crate::limits::{FRAME_ALIGN_BYTES, FRAME_PAYLOAD_MAX_BYTES, HEADER_COPY_BYTES};

/// The first bytes of each header copy.
pub const WAL_MAGIC: [u8; 8] = *b"RWDWAL\0\0";
/// The log format version written by this build.
pub const WAL_FORMAT_VERSION: u32 = 1;
/// The first bytes of every frame ("RWFR" in file order).
pub const FRAME_MAGIC: u32 = u32::from_le_bytes(*b"RWFR");

/// What a frame carries.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum FrameType {
    /// A whole page image.
    Page = 1,
    /// A commit record ending a transaction.
    Commit = 2,
    /// A named restore point inside a transaction.
    RestorePoint = 3,
    /// Page ids the transaction's commit record lists, carried ahead of it when the record
    /// would be too long for one frame (a transaction that frees or allocates millions of
    /// pages, such as deleting a table of many gigabytes).
    PageIds = 4,
}

impl FrameType {
    fn from_raw(raw: u8) -> Option<Self> {
        match raw {
            1 => Some(FrameType::Page),
            2 => Some(FrameType::Commit),
            3 => Some(FrameType::RestorePoint),
            4 => Some(FrameType::PageIds),
            _ => None,
        }
    }
}

/// One header copy; see `docs/FORMAT.md`.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy, Debug)]
#[repr(C)]
pub(crate) struct HeaderBytes {
    pub magic: [u8; 8],
    pub format_version: U32,
    pub page_size: U32,
    pub database_id: U64,
    pub salt: U64,
    pub start_lsn: U64,
    pub sequence: U64,
    pub checksum: U32,
}

const HEADER_CHECKSUMMED_BYTES: usize = offset_of!(HeaderBytes, checksum);
const _: () = assert!(size_of::<HeaderBytes>() as u64 <= HEADER_COPY_BYTES);

/// The decoded fields of a valid header copy.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct WalHeader {
    /// Page size of the database the log belongs to.
    pub page_size: u32,
    /// The database the log belongs to.
    pub database_id: u64,
    /// The current generation's salt.
    pub salt: u64,
    /// LSN of the generation's first frame.
    pub start_lsn: Lsn,
    /// +1 per header write; decides which copy is newest.
    pub sequence: u64,
}

impl WalHeader {
    /// The byte offset of the copy this header's sequence is written to.
    pub fn copy_offset(&self) -> u64 {
        (self.sequence % 2) * HEADER_COPY_BYTES
    }

    /// The sector-sized image of this header.
    pub fn encode(&self) -> Vec<u8> {
        let mut bytes = HeaderBytes {
            magic: WAL_MAGIC,
            format_version: U32::new(WAL_FORMAT_VERSION),
            page_size: U32::new(self.page_size),
            database_id: U64::new(self.database_id),
            salt: U64::new(self.salt),
            start_lsn: U64::new(self.start_lsn.get()),
            sequence: U64::new(self.sequence),
            checksum: U32::ZERO,
        };
        bytes.checksum = U32::new(crc32c::crc32c(&bytes.as_bytes()[..HEADER_CHECKSUMMED_BYTES]));
        let mut sector = bytes.as_bytes().to_vec();
        sector.resize(HEADER_COPY_BYTES as usize, 0);
        sector
    }

    /// Decodes one header copy; `Err` says why it is not valid.
    pub fn decode(sector: &[u8]) -> Result<WalHeader, HeaderProblem> {
        let Ok((bytes, _)) = HeaderBytes::ref_from_prefix(sector) else {
            return Err(HeaderProblem::Damaged("too short".to_owned()));
        };
        if bytes.magic != WAL_MAGIC {
            return Err(HeaderProblem::NoMagic);
        }
        let computed = crc32c::crc32c(&bytes.as_bytes()[..HEADER_CHECKSUMMED_BYTES]);
        if computed != bytes.checksum.get() {
            return Err(HeaderProblem::Damaged("header checksum mismatch".to_owned()));
        }
        if bytes.format_version.get() != WAL_FORMAT_VERSION {
            return Err(HeaderProblem::Version(bytes.format_version.get()));
        }
        let plausible = |value: u64| value <= crate::limits::LSN_MAX;
        if bytes.start_lsn.get() == 0
            || !plausible(bytes.start_lsn.get())
            || !plausible(bytes.sequence.get())
        {
            return Err(HeaderProblem::Damaged("start LSN or sequence out of range".to_owned()));
        }
        Ok(WalHeader {
            page_size: bytes.page_size.get(),
            database_id: bytes.database_id.get(),
            salt: bytes.salt.get(),
            start_lsn: Lsn::new(bytes.start_lsn.get()),
            sequence: bytes.sequence.get(),
        })
    }

    /// The checksum the generation's first frame chains from.
    pub fn chain_seed(&self) -> u32 {
        crc32c::crc32c(&self.salt.to_le_bytes())
    }
}

/// Why a header copy is not valid.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum HeaderProblem {
    /// No magic number: never written (or not a log).
    NoMagic,
    /// Written by a newer format.
    Version(u32),
    /// Damaged; the reason says how.
    Damaged(String),
}

/// The 48-byte header of every frame; see `docs/FORMAT.md`.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy, Debug)]
#[repr(C)]
pub(crate) struct FrameHeader {
    pub magic: U32,
    pub frame_type: u8,
    pub flags: u8,
    pub reserved: U16,
    pub payload_bytes: U32,
    pub reserved_2: U32,
    pub lsn: U64,
    pub page_id: U64,
    pub salt: U64,
    pub prev_checksum: U32,
    pub checksum: U32,
}

/// Bytes of a frame header.
pub const FRAME_HEADER_BYTES: usize = size_of::<FrameHeader>();
const FRAME_CHECKSUMMED_BYTES: usize = offset_of!(FrameHeader, checksum);
const _: () = assert!(FRAME_HEADER_BYTES == 48);
const _: () = assert!((FRAME_HEADER_BYTES as u64).is_multiple_of(FRAME_ALIGN_BYTES));

/// The whole length of a frame with `payload_bytes` of payload, padding included.
pub fn frame_bytes(payload_bytes: usize) -> u64 {
    (FRAME_HEADER_BYTES + payload_bytes).next_multiple_of(FRAME_ALIGN_BYTES as usize) as u64
}

/// The checksum of a frame: CRC32C seeded with the previous frame's, over the header (up to the
/// checksum field) and the payload.
fn frame_checksum(header: &FrameHeader, payload: &[u8]) -> u32 {
    let seed = header.prev_checksum.get();
    let over_header = crc32c::crc32c_append(seed, &header.as_bytes()[..FRAME_CHECKSUMMED_BYTES]);
    crc32c::crc32c_append(over_header, payload)
}

/// What a frame says about itself, once its own checksum holds.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct FrameInfo {
    /// Its type.
    pub frame_type: FrameType,
    /// Its LSN.
    pub lsn: Lsn,
    /// The page it carries (page frames).
    pub page_id: PageId,
    /// Its payload length.
    pub payload_bytes: u32,
    /// The checksum it chained from.
    pub prev_checksum: u32,
    /// Its own checksum, which the next frame chains from.
    pub checksum: u32,
}

/// Builds a frame (header, payload and padding) chained from `prev_checksum`.
pub fn encode_frame(
    frame_type: FrameType,
    lsn: Lsn,
    page_id: PageId,
    salt: u64,
    prev_checksum: u32,
    payload: &[u8],
) -> (Vec<u8>, u32) {
    let payload_bytes = u32::try_from(payload.len()).expect("payload checked against the limit");
    assert!(payload_bytes <= FRAME_PAYLOAD_MAX_BYTES, "payload over the frame limit");
    let mut header = FrameHeader {
        magic: U32::new(FRAME_MAGIC),
        frame_type: frame_type as u8,
        flags: 0,
        reserved: U16::ZERO,
        payload_bytes: U32::new(payload_bytes),
        reserved_2: U32::ZERO,
        lsn: U64::new(lsn.get()),
        page_id: U64::new(page_id.get()),
        salt: U64::new(salt),
        prev_checksum: U32::new(prev_checksum),
        checksum: U32::ZERO,
    };
    let checksum = frame_checksum(&header, payload);
    header.checksum = U32::new(checksum);
    let mut frame = Vec::with_capacity(frame_bytes(payload.len()) as usize);
    frame.extend_from_slice(header.as_bytes());
    frame.extend_from_slice(payload);
    frame.resize(frame_bytes(payload.len()) as usize, 0);
    (frame, checksum)
}

/// Parses a frame header and, if it is plausible for `salt`, returns what it claims and how many
/// payload bytes to read. Checks magic, salt, type and the payload limit only.
pub fn parse_frame_header(bytes: &[u8], salt: u64) -> Option<(FrameHeaderView, usize)> {
    let (header, _) = FrameHeader::ref_from_prefix(bytes).ok()?;
    if header.magic.get() != FRAME_MAGIC || header.salt.get() != salt {
        return None;
    }
    let frame_type = FrameType::from_raw(header.frame_type)?;
    let payload_bytes = header.payload_bytes.get();
    if payload_bytes > FRAME_PAYLOAD_MAX_BYTES {
        return None;
    }
    Some((FrameHeaderView { header: *header, frame_type }, payload_bytes as usize))
}

/// The salt a frame header carries, if `bytes` start with the frame magic: which generation
/// wrote it (not yet checked in any other way).
pub fn frame_salt(bytes: &[u8]) -> Option<u64> {
    let (header, _) = FrameHeader::ref_from_prefix(bytes).ok()?;
    (header.magic.get() == FRAME_MAGIC).then(|| header.salt.get())
}

/// A plausible frame header, not yet checked against its payload.
#[derive(Clone, Copy, Debug)]
pub struct FrameHeaderView {
    header: FrameHeader,
    frame_type: FrameType,
}

impl FrameHeaderView {
    /// Checks the frame's own checksum over its payload; on success, what the frame says.
    pub fn verify(&self, payload: &[u8]) -> Option<FrameInfo> {
        if frame_checksum(&self.header, payload) != self.header.checksum.get() {
            return None;
        }
        Some(FrameInfo {
            frame_type: self.frame_type,
            lsn: Lsn::new(self.header.lsn.get()),
            page_id: PageId::new(self.header.page_id.get()),
            payload_bytes: self.header.payload_bytes.get(),
            prev_checksum: self.header.prev_checksum.get(),
            checksum: self.header.checksum.get(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_round_trips_and_any_flipped_bit_breaks_it() {
        let payload = b"payload bytes".to_vec();
        let (frame, checksum) =
            encode_frame(FrameType::Commit, Lsn::new(5), PageId::new(0), 77, 1234, &payload);
        assert_eq!(frame.len() as u64, frame_bytes(payload.len()));
        let (view, length) = parse_frame_header(&frame, 77).unwrap();
        let info = view.verify(&frame[FRAME_HEADER_BYTES..FRAME_HEADER_BYTES + length]).unwrap();
        assert_eq!((info.lsn, info.checksum, info.prev_checksum), (Lsn::new(5), checksum, 1234));
        assert!(parse_frame_header(&frame, 78).is_none(), "another salt");
        for bit in 0..(FRAME_HEADER_BYTES + length) * 8 {
            let mut damaged = frame.clone();
            damaged[bit / 8] ^= 1 << (bit % 8);
            let valid = parse_frame_header(&damaged, 77).and_then(|(view, length)| {
                damaged.get(FRAME_HEADER_BYTES..FRAME_HEADER_BYTES + length)?;
                view.verify(&damaged[FRAME_HEADER_BYTES..FRAME_HEADER_BYTES + length])
            });
            assert!(valid.is_none(), "bit {bit} flipped and the frame still verifies");
        }
    }

    #[test]
    fn header_copies_round_trip_and_detect_damage() {
        let header = WalHeader {
            page_size: 4096,
            database_id: 9,
            salt: 10,
            start_lsn: Lsn::new(11),
            sequence: 3,
        };
        let sector = header.encode();
        assert_eq!(WalHeader::decode(&sector), Ok(header));
        assert_eq!(header.copy_offset(), HEADER_COPY_BYTES);
        let mut damaged = sector.clone();
        damaged[20] ^= 1;
        assert!(matches!(WalHeader::decode(&damaged), Err(HeaderProblem::Damaged(_))));
        assert_eq!(WalHeader::decode(&[0; 512]), Err(HeaderProblem::NoMagic));
    }
}
