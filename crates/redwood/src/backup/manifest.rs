//! The manifest (a backup's root block) and the page maps it links, as DAG-CBOR
//! (`docs/FORMAT.md`, "Backups"). Field order below is DAG-CBOR's canonical key order (shorter
//! keys first, then bytewise), so the encoding is the canonical one.

use cid::Cid;
use redwood_pager::limits::ROOT_SLOTS;
use serde::{Deserialize, Serialize};

use super::BackupError;
use super::car::{DAG_CBOR, cid_of};

/// The manifest's `format`.
pub(crate) const FORMAT: &str = "redwood-backup";
/// The manifest's `version`.
pub(crate) const VERSION: u64 = 1;
/// Pairs per page-map block at most.
pub(crate) const PAGE_MAP_PAIRS_MAX: usize = 4096;
/// The most segment files a restore creates (4 TiB at the default 1 GiB segments): a page id
/// past them is refused before any file is made, so an archive cannot make a restore create
/// files without bound.
pub(crate) const RESTORE_SEGMENTS_MAX: u64 = 4096;

/// A backup's root block.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Manifest {
    pub pages: u64,
    pub roots: Vec<Option<u64>>,
    pub format: String,
    pub parent: Option<Cid>,
    pub version: u64,
    pub page_maps: Vec<Cid>,
    pub page_size: u32,
    pub commit_lsn: u64,
    pub segment_pages: u64,
    pub taken_at_unix_ms: u64,
}

/// One page-map block: `[page_id, CID]` pairs, ascending.
pub(crate) type PageMap = Vec<(u64, Cid)>;

/// `value` as a DAG-CBOR block: its CID and bytes.
pub(crate) fn encode<T: Serialize>(value: &T, what: &str) -> Result<(Cid, Vec<u8>), BackupError> {
    let bytes = serde_ipld_dagcbor::to_vec(value)
        .map_err(|error| BackupError::Malformed(format!("encoding the {what}: {error}")))?;
    Ok((cid_of(DAG_CBOR, &bytes), bytes))
}

/// Decodes a DAG-CBOR block `cid` of `bytes` as a `T`.
pub(crate) fn decode<T: for<'de> Deserialize<'de>>(
    cid: &Cid,
    bytes: &[u8],
    what: &str,
) -> Result<T, BackupError> {
    if cid.codec() != DAG_CBOR {
        return Err(BackupError::Malformed(format!("the {what} {cid} is not a DAG-CBOR block")));
    }
    serde_ipld_dagcbor::from_slice(bytes)
        .map_err(|error| BackupError::Malformed(format!("the {what} {cid}: {error}")))
}

impl Manifest {
    /// Checks what a restore relies on before any page is read: the format and version, the
    /// root slots' count, a page size the pager supports, and that the page maps can hold the
    /// pages they claim.
    pub fn check(&self) -> Result<(), BackupError> {
        if self.format != FORMAT {
            return Err(BackupError::NotABackup(format!(
                "its manifest's format is {:?}",
                self.format
            )));
        }
        if self.version != VERSION {
            return Err(BackupError::UnsupportedVersion(format!(
                "backup version {}",
                self.version
            )));
        }
        let malformed = |reason: String| Err(BackupError::Malformed(reason));
        if self.roots.len() != ROOT_SLOTS {
            return malformed(format!("{} root slots, not {ROOT_SLOTS}", self.roots.len()));
        }
        let segment_pages =
            redwood_pager::limits::SEGMENT_PAGES_MIN..=redwood_pager::limits::SEGMENT_PAGES_MAX;
        if !segment_pages.contains(&self.segment_pages) {
            return malformed(format!("a segment of {} pages", self.segment_pages));
        }
        if redwood_pager::PageSize::new(self.page_size).is_err() {
            return malformed(format!("a page size of {} bytes", self.page_size));
        }
        let capacity = self.page_maps.len() as u64 * PAGE_MAP_PAIRS_MAX as u64;
        if self.pages > capacity
            || self.pages.div_ceil(PAGE_MAP_PAIRS_MAX as u64) != self.page_maps.len() as u64
        {
            let maps = self.page_maps.len();
            return malformed(format!("{} pages in {maps} page maps", self.pages));
        }
        Ok(())
    }
}
