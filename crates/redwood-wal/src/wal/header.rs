//! Choosing and checking the log's header at open: the newest valid copy, that it belongs to this
//! database, that no newer generation's header was lost, and the salt of the next generation.

use std::path::Path;

use redwood_pager::io::Storage;

use super::WalOptions;
use crate::error::{Error, Result};
use crate::format::{HeaderProblem, WalHeader};
use crate::limits::{FRAMES_START_BYTES, HEADER_COPY_BYTES};
use crate::recovery::read_frame;

/// The newest valid header copy; `None` if neither is valid and the file holds no frames (an
/// interrupted creation). Damage with frames present is an error.
pub(crate) fn read_newest_header(storage: &dyn Storage, path: &Path) -> Result<Option<WalHeader>> {
    Ok(read_header_copies(storage, path)?.map(|copies| copies.newest))
}

/// What the two header copies held at open.
#[derive(Clone, Debug)]
pub(super) struct HeaderCopies {
    /// The newest valid copy.
    pub(super) newest: WalHeader,
    /// Why the other copy is not valid, if it is not: the newest valid copy may then be stale,
    /// older than a header that was written and later damaged.
    pub(super) other_damaged: Option<HeaderProblem>,
}

/// [`read_newest_header`], also saying whether the other copy was damaged; one read of both.
pub(super) fn read_header_copies(
    storage: &dyn Storage,
    path: &Path,
) -> Result<Option<HeaderCopies>> {
    let file_bytes = storage.len().map_err(|error| Error::io("len", path, error))?;
    let mut sectors = vec![0u8; FRAMES_START_BYTES as usize];
    let readable = file_bytes.min(FRAMES_START_BYTES) as usize;
    storage.read_at(0, &mut sectors[..readable]).map_err(|error| Error::io("read", path, error))?;
    let copies = sectors.chunks(HEADER_COPY_BYTES as usize).map(WalHeader::decode);
    let mut newest: Option<WalHeader> = None;
    let mut problem = None;
    for copy in copies {
        match copy {
            Ok(header) if newest.is_none_or(|best| header.sequence > best.sequence) => {
                newest = Some(header)
            }
            Ok(_) => {}
            Err(HeaderProblem::Version(found)) => {
                let supported = crate::format::WAL_FORMAT_VERSION;
                return Err(Error::UnsupportedFormatVersion { found, supported });
            }
            Err(other) => problem = problem.or(Some(other)),
        }
    }
    if let Some(newest) = newest {
        return Ok(Some(HeaderCopies { newest, other_damaged: problem }));
    }
    if file_bytes <= FRAMES_START_BYTES {
        return Ok(None);
    }
    let reason = format!("{problem:?}");
    Err(Error::HeaderCorrupt { path: path.to_path_buf(), reason })
}

/// A restart writes and syncs the next header before any frame of the next generation, so a
/// valid first frame carrying the next generation's salt proves that header was durable: if it
/// is not the newest valid copy now, it was damaged afterwards, and the frames after it hold
/// commits that must not be silently dropped.
pub(super) fn check_no_newer_generation(
    storage: &dyn Storage,
    path: &Path,
    header: &WalHeader,
) -> Result<()> {
    let file_bytes = storage.len().map_err(|error| Error::io("len", path, error))?;
    let successor = next_salt(header.salt, header.sequence);
    if read_frame(storage, FRAMES_START_BYTES, file_bytes, successor).is_some() {
        let reason = format!(
            "the header of generation {} is damaged, but its frames are there",
            header.sequence + 1
        );
        return Err(Error::HeaderCorrupt { path: path.to_path_buf(), reason });
    }
    Ok(())
}

/// A damaged copy beside a valid one that is neither the generation the database's meta data
/// names (`options.identity`) nor its predecessor: the valid copy is stale, left from a
/// generation before the damaged one, so the header is damaged (`HeaderCorrupt`), not another
/// history's log. With both copies valid the pager's identity check decides.
pub(super) fn check_not_stale(
    copies: &HeaderCopies,
    path: &Path,
    options: &WalOptions,
) -> Result<()> {
    let Some(problem) = &copies.other_damaged else { return Ok(()) };
    let recorded = options.identity;
    if !recorded.is_recorded() {
        return Ok(());
    }
    let header = &copies.newest;
    let successor_salt = next_salt(header.salt, header.sequence);
    let same = |generation: u64, salt: u64| {
        generation == recorded.generation && (recorded.salt == 0 || salt == recorded.salt)
    };
    if same(header.sequence, header.salt) || same(header.sequence + 1, successor_salt) {
        return Ok(());
    }
    let reason = format!(
        "one header copy is damaged ({problem:?}) and the valid one is generation {}, older than \
         the generation {} the data files name: the newer header was damaged",
        header.sequence, recorded.generation
    );
    Err(Error::HeaderCorrupt { path: path.to_path_buf(), reason })
}

pub(super) fn check_belongs(header: &WalHeader, path: &Path, options: &WalOptions) -> Result<()> {
    let mismatch = |reason: String| Err(Error::Mismatch { path: path.to_path_buf(), reason });
    if header.database_id != options.database_id {
        return mismatch(format!(
            "database id {:#x}, expected {:#x}",
            header.database_id, options.database_id
        ));
    }
    if header.page_size != options.page_size.bytes_u32() {
        return mismatch(format!(
            "page size {}, expected {}",
            header.page_size,
            options.page_size.bytes()
        ));
    }
    Ok(())
}

/// The next generation's salt: a bijective mix of the old salt and sequence (splitmix64), so
/// consecutive generations never share a salt.
pub(super) fn next_salt(salt: u64, sequence: u64) -> u64 {
    let mut mixed = salt ^ sequence.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    mixed ^ (mixed >> 31)
}
