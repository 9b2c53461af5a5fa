//! The CARv1 framing (`docs/FORMAT.md`, "Backups"): a varint-prefixed DAG-CBOR header naming
//! the roots, then varint-prefixed blocks of a CID and its bytes; and the CIDs themselves
//! (CIDv1, sha2-256), computed and checked here.

use std::io::{Read, Write};

use cid::Cid;
use multihash_codetable::{Code, MultihashDigest};
use serde::{Deserialize, Serialize};

use super::BackupError;

/// The raw codec: a page block.
pub(crate) const RAW: u64 = 0x55;
/// The DAG-CBOR codec: the manifest and the page maps.
pub(crate) const DAG_CBOR: u64 = 0x71;
/// The longest block a reader accepts: a 64 KiB page or a page map, with room to spare (a
/// length past it is a damaged file, not an allocation to attempt).
pub(crate) const BLOCK_MAX_BYTES: u64 = 1 << 20;
/// The longest header a reader accepts.
const HEADER_MAX_BYTES: u64 = 4096;

/// The CID of `bytes` under `codec`.
pub(crate) fn cid_of(codec: u64, bytes: &[u8]) -> Cid {
    Cid::new_v1(codec, Code::Sha2_256.digest(bytes))
}

#[derive(Serialize, Deserialize)]
struct Header {
    roots: Vec<Cid>,
    version: u64,
}

/// Writes a CAR stream into `out`, counting its bytes.
pub(crate) struct CarWriter<W: Write> {
    out: W,
    bytes: u64,
}

impl<W: Write> CarWriter<W> {
    /// Writes the header naming `root` as the one root.
    pub fn new(mut out: W, root: Cid) -> Result<Self, BackupError> {
        let header = framed_header(&root)?;
        out.write_all(&header)?;
        Ok(CarWriter { out, bytes: header.len() as u64 })
    }

    /// Appends the block `cid` with `data` (the caller computed `cid` from `data`).
    pub fn block(&mut self, cid: &Cid, data: &[u8]) -> Result<(), BackupError> {
        debug_assert_eq!(*cid, cid_of(cid.codec(), data), "a block's CID is its bytes' hash");
        self.write_framed(&[&cid.to_bytes(), data])
    }

    /// The bytes written so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Flushes the output and hands it back.
    pub fn finish(mut self) -> Result<W, BackupError> {
        self.out.flush()?;
        Ok(self.out)
    }

    fn write_framed(&mut self, parts: &[&[u8]]) -> Result<(), BackupError> {
        let length: usize = parts.iter().map(|part| part.len()).sum();
        let mut prefix = unsigned_varint::encode::u64_buffer();
        let prefix = unsigned_varint::encode::u64(length as u64, &mut prefix);
        self.out.write_all(prefix)?;
        for part in parts {
            self.out.write_all(part)?;
        }
        self.bytes += (prefix.len() + length) as u64;
        Ok(())
    }
}

/// The CAR header naming `root`, with its varint length.
pub(crate) fn framed_header(root: &Cid) -> Result<Vec<u8>, BackupError> {
    let header = serde_ipld_dagcbor::to_vec(&Header { roots: vec![*root], version: 1 })
        .map_err(|error| BackupError::Malformed(format!("the CAR header: {error}")))?;
    let mut framed = Vec::with_capacity(header.len() + 2);
    push_varint(&mut framed, header.len() as u64);
    framed.extend_from_slice(&header);
    Ok(framed)
}

/// Appends the block `cid` with `data` (its varint length, the CID, the bytes) to `out`.
pub(crate) fn push_block(out: &mut Vec<u8>, cid: &Cid, data: &[u8]) {
    let cid_bytes = cid.to_bytes();
    push_varint(out, (cid_bytes.len() + data.len()) as u64);
    out.extend_from_slice(&cid_bytes);
    out.extend_from_slice(data);
}

/// The most bytes [`block_head`] writes: a 10-byte varint and a CID of up to 64 bytes.
pub(crate) const BLOCK_HEAD_MAX: usize = 74;

/// Writes into `head` what [`push_block`] puts before a block's data (its varint length and
/// the CID) and returns how many bytes that is; allocates nothing.
pub(crate) fn block_head(head: &mut [u8; BLOCK_HEAD_MAX], cid: &Cid, data_bytes: usize) -> usize {
    let cid_bytes = cid.encoded_len();
    let mut prefix = unsigned_varint::encode::u64_buffer();
    let prefix = unsigned_varint::encode::u64((cid_bytes + data_bytes) as u64, &mut prefix);
    head[..prefix.len()].copy_from_slice(prefix);
    let written =
        cid.write_bytes(&mut head[prefix.len()..]).expect("a sha2-256 CIDv1 fits the block head");
    debug_assert_eq!(written, cid_bytes, "the CID wrote its encoded length");
    prefix.len() + written
}

/// The bytes [`push_block`] appends for a block of `cid_bytes` and `data_bytes`.
pub(crate) fn block_bytes(cid_bytes: usize, data_bytes: usize) -> u64 {
    let length = (cid_bytes + data_bytes) as u64;
    let mut prefix = unsigned_varint::encode::u64_buffer();
    (unsigned_varint::encode::u64(length, &mut prefix).len() as u64) + length
}

fn push_varint(out: &mut Vec<u8>, value: u64) {
    let mut prefix = unsigned_varint::encode::u64_buffer();
    out.extend_from_slice(unsigned_varint::encode::u64(value, &mut prefix));
}

/// Reads a CAR stream, checking every block's CID against its bytes.
pub(crate) struct CarReader<R: Read> {
    input: R,
    root: Cid,
}

impl<R: Read> CarReader<R> {
    /// Reads the header; it must be version 1 with exactly one root.
    pub fn new(mut input: R) -> Result<Self, BackupError> {
        let not_car = |reason: &str| BackupError::NotABackup(reason.to_owned());
        let length = match read_length(&mut input)? {
            Some(length) if (1..=HEADER_MAX_BYTES).contains(&length) => length,
            Some(_) => return Err(not_car("its first length is not a CAR header's")),
            None => return Err(not_car("it is empty")),
        };
        let mut header = vec![0; length as usize];
        input.read_exact(&mut header).map_err(|error| match error.kind() {
            std::io::ErrorKind::UnexpectedEof => not_car("it ends inside its header"),
            _ => BackupError::Io(error),
        })?;
        let header: Header = serde_ipld_dagcbor::from_slice(&header)
            .map_err(|_| not_car("its header is not a CAR header"))?;
        if header.version != 1 {
            return Err(BackupError::UnsupportedVersion(format!("CAR version {}", header.version)));
        }
        let [root] = header.roots[..] else {
            return Err(not_car("a Redwood backup has exactly one root"));
        };
        Ok(CarReader { input, root })
    }

    /// The root the header names.
    pub fn root(&self) -> Cid {
        self.root
    }

    /// The next block, its CID checked against its bytes; `None` at the end of the stream.
    pub fn next_block(&mut self) -> Result<Option<(Cid, Vec<u8>)>, BackupError> {
        let Some(length) = read_length(&mut self.input)? else { return Ok(None) };
        if length == 0 || length > BLOCK_MAX_BYTES {
            return Err(BackupError::Malformed(format!("a block of {length} bytes")));
        }
        let mut block = vec![0; length as usize];
        self.input.read_exact(&mut block).map_err(truncated)?;
        let mut cursor = std::io::Cursor::new(&block[..]);
        let cid = Cid::read_bytes(&mut cursor)
            .map_err(|error| BackupError::Malformed(format!("a block's CID: {error}")))?;
        let data = block.split_off(cursor.position() as usize);
        if cid.version() != cid::Version::V1 || cid.hash().code() != u64::from(Code::Sha2_256) {
            return Err(BackupError::Malformed(format!("block {cid} is not CIDv1 with sha2-256")));
        }
        if cid_of(cid.codec(), &data) != cid {
            return Err(BackupError::HashMismatch(cid.to_string()));
        }
        Ok(Some((cid, data)))
    }
}

/// A frame's varint length, or `None` at a clean end of the stream.
fn read_length(input: &mut impl Read) -> Result<Option<u64>, BackupError> {
    let mut first = [0u8; 1];
    loop {
        match input.read(&mut first) {
            Ok(0) => return Ok(None),
            Ok(_) => break,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error.into()),
        }
    }
    let mut buffer = [0u8; 10];
    buffer[0] = first[0];
    let mut used = 1;
    while buffer[used - 1] & 0x80 != 0 {
        if used == buffer.len() {
            return Err(BackupError::Malformed("a length varint longer than 10 bytes".into()));
        }
        input.read_exact(&mut buffer[used..=used]).map_err(truncated)?;
        used += 1;
    }
    let (length, _) = unsigned_varint::decode::u64(&buffer[..used])
        .map_err(|error| BackupError::Malformed(format!("a length varint: {error}")))?;
    Ok(Some(length))
}

/// An unexpected end of the stream is a truncated backup; other read errors stay I/O errors.
fn truncated(error: std::io::Error) -> BackupError {
    if error.kind() == std::io::ErrorKind::UnexpectedEof {
        BackupError::Malformed("the archive ends inside a block (truncated)".into())
    } else {
        BackupError::Io(error)
    }
}
