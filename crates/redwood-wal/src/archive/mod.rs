//! The log archive: every log generation a checkpoint closes, shipped whole before the log
//! restarts, with a manifest of what each holds (LSN range, commit times, restore points), so
//! point-in-time restore can replay any commit since the archive began (docs/DECISIONS.md
//! ADR-20, docs/FORMAT.md "The log archive").
//!
//! An archived generation is a byte copy of the log file from its start to the end of its
//! last frame (both header copies, then the frames), named
//! `gen-{sequence:010}-{start_lsn:020}.wal`; it is read back with the log's own recovery
//! reader, so every frame's checksum and salt chain is checked again. The manifest
//! (`archive.json`) is a summary that can always be rebuilt from the objects: opening the
//! archive lists them and adds any the manifest lacks (a crash between an object and its
//! manifest write), and removes what a crash left half-written (`*.partial`).

mod store;

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use redwood_pager::io::Storage;
use redwood_pager::{LogPosition, Lsn, Page, PageSize, RecoveredCommit};
use serde::{Deserialize, Serialize};

pub use store::{ArchiveStore, BytesStorage, DirectoryStore};

use crate::error::{Error, Result};
use crate::format::WalHeader;
use crate::recovery::{PageFrameError, read_page_frame, scan};
use crate::wal::read_newest_header;

/// The manifest object's name.
pub const MANIFEST_NAME: &str = "archive.json";
/// The manifest's `format`.
const FORMAT: &str = "redwood-log-archive";
/// The manifest's `version`.
const VERSION: u64 = 1;

/// What an archive holds: the database it belongs to and each archived generation, oldest
/// first (`docs/FORMAT.md`, "The log archive").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchiveManifest {
    /// Always `redwood-log-archive`.
    pub format: String,
    /// The manifest's layout version (1).
    pub version: u64,
    /// The database whose log this is.
    pub database_id: u64,
    /// Its page size in bytes.
    pub page_size: u32,
    /// Its segment size in pages (a restore from the archive alone builds the same geometry).
    pub segment_pages: u64,
    /// The archived generations, by sequence.
    pub generations: Vec<GenerationInfo>,
}

/// One archived log generation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenerationInfo {
    /// The object's name.
    pub object: String,
    /// The generation's sequence (its log identity's generation).
    pub sequence: u64,
    /// The generation's salt.
    pub salt: u64,
    /// The LSN of its first frame.
    pub start_lsn: u64,
    /// The LSN after its last committed frame.
    pub end_lsn: u64,
    /// The object's length in bytes.
    pub bytes: u64,
    /// Committed transactions in it.
    pub commits: u64,
    /// Its first commit, if any.
    pub first_commit: Option<CommitMark>,
    /// Its last commit, if any.
    pub last_commit: Option<CommitMark>,
    /// The restore points its commits carry, in log order.
    pub restore_points: Vec<ArchivedRestorePoint>,
}

/// A commit: its LSN and wall-clock time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitMark {
    /// The commit's LSN.
    pub lsn: u64,
    /// When it committed, in milliseconds since the Unix epoch.
    pub unix_ms: u64,
}

/// A restore point in an archived generation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchivedRestorePoint {
    /// Its name.
    pub name: String,
    /// When it was recorded, in milliseconds since the Unix epoch.
    pub timestamp_unix_ms: u64,
    /// The commit that carries it.
    pub commit_lsn: u64,
}

/// The manifest as stored: the summary and a CRC32C of its JSON form, so a damaged manifest is
/// noticed (and rebuilt from the objects) instead of misleading a restore.
#[derive(Serialize, Deserialize)]
struct StoredManifest {
    crc32c: u32,
    manifest: ArchiveManifest,
}

fn manifest_crc(manifest: &ArchiveManifest) -> u32 {
    crc32c::crc32c(&serde_json::to_vec(manifest).expect("a manifest always serializes"))
}

/// The database an archive belongs to: an archive of another is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArchiveOwner {
    /// The database's id.
    pub database_id: u64,
    /// Its page size.
    pub page_size: PageSize,
    /// Its segment size in pages.
    pub segment_pages: u64,
}

/// A log archive over an [`ArchiveStore`]: ships generations ([`LogArchive::ship`], called by
/// the log before it restarts) and reads them back for a restore.
#[derive(Debug)]
pub struct LogArchive {
    store: Arc<dyn ArchiveStore>,
    writable: bool,
    manifest: Mutex<ArchiveManifest>,
    /// Generations whose last commit is older than this are removed after a shipment; `None`
    /// keeps every one (the default).
    keep_for: Option<std::time::Duration>,
}

impl LogArchive {
    /// Opens the archive in `store` for the database `owner`, to ship its log: removes what a
    /// crash left half-written, adds to the manifest any generation it lacks, and refuses an
    /// archive of another database.
    pub fn open(store: Arc<dyn ArchiveStore>, owner: ArchiveOwner) -> Result<Self> {
        Self::load(store, Some(owner), true)
    }

    /// Opens the archive in `store` to read it only: nothing in the store changes (a manifest
    /// that lacks a generation is completed in memory).
    pub fn open_read_only(store: Arc<dyn ArchiveStore>) -> Result<Self> {
        Self::load(store, None, false)
    }

    fn load(
        store: Arc<dyn ArchiveStore>,
        owner: Option<ArchiveOwner>,
        writable: bool,
    ) -> Result<Self> {
        let names = store.list().map_err(|error| io_error(&*store, "list", error))?;
        if writable {
            for name in names.iter().filter(|name| name.ends_with(store::PARTIAL_SUFFIX)) {
                store.remove(name).map_err(|error| io_error(&*store, "remove", error))?;
            }
        }
        let stored = if names.iter().any(|name| name == MANIFEST_NAME) {
            match read_manifest(&*store) {
                Ok(manifest) => Some(manifest),
                // A summary of the objects: a damaged one is rebuilt from them (in memory only
                // when read-only), as if it were missing.
                Err(Error::Archive { reason, .. })
                    if owner.is_some() || names.iter().any(|name| is_generation(name)) =>
                {
                    tracing::warn!(target: "redwood::archive", %reason, "the archive's manifest is damaged; rebuilding it from the objects");
                    None
                }
                Err(error) => return Err(error),
            }
        } else {
            None
        };
        let mut manifest = match (stored, owner) {
            (Some(manifest), Some(owner)) if manifest.database_id != owner.database_id => {
                return Err(archive_error(
                    &*store,
                    format!(
                        "it holds the log of database {:#x}, not of this one ({:#x})",
                        manifest.database_id, owner.database_id
                    ),
                ));
            }
            (Some(manifest), _) => manifest,
            (None, Some(owner)) => ArchiveManifest {
                format: FORMAT.to_owned(),
                version: VERSION,
                database_id: owner.database_id,
                page_size: owner.page_size.bytes_u32(),
                segment_pages: owner.segment_pages,
                generations: Vec::new(),
            },
            (None, None) if names.iter().any(|name| is_generation(name)) => {
                rebuilt_owner(&*store, &names)?
            }
            (None, None) => {
                return Err(archive_error(&*store, "it holds no archived log".to_owned()));
            }
        };
        let before = manifest.clone();
        // The objects are the truth; the manifest summarizes them.
        manifest.generations.retain(|generation| names.contains(&generation.object));
        for name in names.iter().filter(|name| is_generation(name)) {
            if manifest.generations.iter().any(|generation| &generation.object == name) {
                continue;
            }
            match summarize(&*store, &manifest, name) {
                Ok(info) => manifest.generations.push(info),
                Err(error) => tracing::warn!(
                    target: "redwood::archive",
                    object = %name,
                    %error,
                    "an archived log generation cannot be read; a restore across it fails"
                ),
            }
        }
        manifest.generations.sort_by_key(|generation| generation.sequence);
        let archive = Self { store, writable, manifest: Mutex::new(manifest), keep_for: None };
        if writable && *archive.manifest() != before {
            archive.write_manifest(&archive.manifest())?;
        }
        Ok(archive)
    }

    /// Keeps generations for `keep_for` after their last commit: older ones are removed after
    /// each shipment (never the newest). Restores need material from the base on, so a
    /// database restored from the archive alone needs every generation: set this only with
    /// base backups newer than the retention.
    pub fn with_retention(mut self, keep_for: std::time::Duration) -> Self {
        self.keep_for = Some(keep_for);
        self
    }

    /// The manifest as it stands.
    pub fn manifest_snapshot(&self) -> ArchiveManifest {
        self.manifest().clone()
    }

    /// Where the archive is (for messages).
    pub fn location(&self) -> String {
        self.store.location()
    }

    /// Every restore point the archive holds, oldest first.
    pub fn restore_points(&self) -> Vec<ArchivedRestorePoint> {
        let manifest = self.manifest();
        manifest
            .generations
            .iter()
            .flat_map(|generation| generation.restore_points.clone())
            .collect()
    }

    /// Ships the generation `header` describes, the first `len` bytes of `log`: the object
    /// first (atomic and durable), then, read back and checked with the recovery reader, its
    /// entry in the manifest. Shipping a generation again (a checkpoint that shipped it could
    /// not restart the log) replaces it.
    pub fn ship(&self, header: &WalHeader, log: &dyn Storage, len: u64) -> Result<()> {
        assert!(self.writable, "shipping to an archive opened read-only");
        let name = object_name(header.sequence, header.start_lsn);
        self.store.put(&name, log, len).map_err(|error| io_error(&*self.store, "put", error))?;
        let mut manifest = self.manifest().clone();
        let info = summarize(&*self.store, &manifest, &name)?;
        debug_assert_eq!(info.bytes, len);
        manifest.generations.retain(|generation| generation.sequence != info.sequence);
        manifest.generations.push(info);
        manifest.generations.sort_by_key(|generation| generation.sequence);
        self.write_manifest(&manifest)?;
        *self.manifest() = manifest;
        self.prune()
    }

    /// Removes the generations past the retention (objects first, then the manifest: an
    /// entry whose object is gone is dropped on open, while an object the manifest lacks would
    /// be added back).
    fn prune(&self) -> Result<()> {
        let Some(keep_for) = self.keep_for else { return Ok(()) };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX));
        let cutoff = now.saturating_sub(u64::try_from(keep_for.as_millis()).unwrap_or(u64::MAX));
        let mut manifest = self.manifest().clone();
        let newest = manifest.generations.last().map(|generation| generation.sequence);
        let expired: Vec<String> = manifest
            .generations
            .iter()
            .filter(|generation| Some(generation.sequence) != newest)
            .filter(|generation| generation.last_commit.is_none_or(|mark| mark.unix_ms < cutoff))
            .map(|generation| generation.object.clone())
            .collect();
        if expired.is_empty() {
            return Ok(());
        }
        for object in &expired {
            self.store.remove(object).map_err(|error| io_error(&*self.store, "remove", error))?;
        }
        manifest.generations.retain(|generation| !expired.contains(&generation.object));
        self.write_manifest(&manifest)?;
        *self.manifest() = manifest;
        Ok(())
    }

    /// Reads the archived generation `info` back: its header, and every committed transaction
    /// in it, checked frame by frame as recovery checks a log.
    pub fn read(&self, info: &GenerationInfo) -> Result<ArchivedGeneration> {
        let manifest = self.manifest().clone();
        let storage =
            self.store.open(&info.object).map_err(|error| io_error(&*self.store, "open", error))?;
        let (header, commits, _) =
            read_generation(&*self.store, &manifest, &info.object, &*storage)?;
        if header.sequence != info.sequence || header.salt != info.salt {
            let reason = format!(
                "{} holds generation {} (salt {:#x}), but the manifest lists generation {}",
                info.object, header.sequence, header.salt, info.sequence
            );
            return Err(archive_error(&*self.store, reason));
        }
        Ok(ArchivedGeneration { storage, salt: header.salt, object: info.object.clone(), commits })
    }

    fn manifest(&self) -> MutexGuard<'_, ArchiveManifest> {
        self.manifest.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn write_manifest(&self, manifest: &ArchiveManifest) -> Result<()> {
        let stored = StoredManifest { crc32c: manifest_crc(manifest), manifest: manifest.clone() };
        let bytes = serde_json::to_vec_pretty(&stored).expect("a manifest always serializes");
        let len = bytes.len() as u64;
        self.store
            .put(MANIFEST_NAME, &BytesStorage(bytes), len)
            .map_err(|error| io_error(&*self.store, "put", error))
    }
}

/// An archived generation read back: its committed transactions and their page images.
#[derive(Debug)]
pub struct ArchivedGeneration {
    storage: Box<dyn Storage>,
    salt: u64,
    object: String,
    /// Its committed transactions, in log order.
    pub commits: Vec<RecoveredCommit>,
}

impl ArchivedGeneration {
    /// Reads and verifies the page image at `position` (one of [`RecoveredCommit::pages`]).
    pub fn read_page(&self, position: LogPosition, page: &mut Page) -> Result<()> {
        let frame = read_page_frame(
            self.storage.as_ref(),
            position.offset,
            position.lsn,
            self.salt,
            page.as_mut_bytes(),
        );
        match frame {
            Ok(()) => Ok(page.verify(page.page_id())?),
            Err(PageFrameError::Damaged(reason)) => Err(Error::Corrupt {
                offset: position.offset,
                lsn: position.lsn,
                reason: format!("archived {}: {reason}", self.object),
            }),
            Err(PageFrameError::Io(error)) => Err(Error::io("read", &self.object, error)),
        }
    }
}

/// The object name of generation `sequence` starting at `start_lsn`.
pub fn object_name(sequence: u64, start_lsn: Lsn) -> String {
    format!("gen-{sequence:010}-{:020}.wal", start_lsn.get())
}

fn is_generation(name: &str) -> bool {
    name.starts_with("gen-") && name.ends_with(".wal")
}

fn read_manifest(store: &dyn ArchiveStore) -> Result<ArchiveManifest> {
    let storage = store.open(MANIFEST_NAME).map_err(|error| io_error(store, "open", error))?;
    let len = storage.len().map_err(|error| io_error(store, "len", error))?;
    if len > crate::limits::ARCHIVE_MANIFEST_MAX_BYTES {
        let reason = format!("{MANIFEST_NAME} is {len} bytes, past the bound");
        return Err(archive_error(store, reason));
    }
    let mut bytes = vec![0u8; len as usize];
    storage.read_at(0, &mut bytes).map_err(|error| io_error(store, "read", error))?;
    let stored: StoredManifest = serde_json::from_slice(&bytes)
        .map_err(|error| archive_error(store, format!("{MANIFEST_NAME}: {error}")))?;
    let manifest = stored.manifest;
    if manifest_crc(&manifest) != stored.crc32c {
        return Err(archive_error(store, format!("{MANIFEST_NAME} does not match its checksum")));
    }
    if manifest.format != FORMAT || manifest.version != VERSION {
        let reason = format!(
            "{MANIFEST_NAME} is {} version {}, not {FORMAT} version {VERSION}",
            manifest.format, manifest.version
        );
        return Err(archive_error(store, reason));
    }
    Ok(manifest)
}

/// The manifest's fixed part for a read-only open of an archive whose manifest is missing or
/// damaged: the database and geometry from the first generation that reads (its header), the
/// segment size unknown (0: a restore from the archive alone then refuses to guess it).
fn rebuilt_owner(store: &dyn ArchiveStore, names: &[String]) -> Result<ArchiveManifest> {
    for name in names.iter().filter(|name| is_generation(name)) {
        let Ok(storage) = store.open(name) else { continue };
        if let Ok(Some(header)) = read_newest_header(&*storage, Path::new(name)) {
            return Ok(ArchiveManifest {
                format: FORMAT.to_owned(),
                version: VERSION,
                database_id: header.database_id,
                page_size: header.page_size,
                segment_pages: 0,
                generations: Vec::new(),
            });
        }
    }
    Err(archive_error(store, format!("{MANIFEST_NAME} is missing and no generation can be read")))
}

/// Reads the object `name` with the recovery reader and summarizes it.
fn summarize(
    store: &dyn ArchiveStore,
    manifest: &ArchiveManifest,
    name: &str,
) -> Result<GenerationInfo> {
    let storage = store.open(name).map_err(|error| io_error(store, "open", error))?;
    let (header, commits, end_lsn) = read_generation(store, manifest, name, &*storage)?;
    let bytes = storage.len().map_err(|error| io_error(store, "len", error))?;
    let mark = |commit: &RecoveredCommit| CommitMark {
        lsn: commit.commit_lsn.get(),
        unix_ms: commit.changes.timestamp_ms,
    };
    let restore_points = commits
        .iter()
        .flat_map(|commit| {
            commit.restore_points.iter().map(|(_, point)| ArchivedRestorePoint {
                name: point.name.clone(),
                timestamp_unix_ms: point.timestamp_ms,
                commit_lsn: commit.commit_lsn.get(),
            })
        })
        .collect();
    Ok(GenerationInfo {
        object: name.to_owned(),
        sequence: header.sequence,
        salt: header.salt,
        start_lsn: header.start_lsn.get(),
        end_lsn: end_lsn.get(),
        bytes,
        commits: commits.len() as u64,
        first_commit: commits.first().map(mark),
        last_commit: commits.last().map(mark),
        restore_points,
    })
}

/// The header, committed transactions and end LSN of the generation in `storage` (object `name`),
/// which must belong to the manifest's database and end cleanly.
fn read_generation(
    store: &dyn ArchiveStore,
    manifest: &ArchiveManifest,
    name: &str,
    storage: &dyn Storage,
) -> Result<(WalHeader, Vec<RecoveredCommit>, Lsn)> {
    let path = Path::new(name);
    let header = read_newest_header(storage, path)?
        .ok_or_else(|| archive_error(store, format!("{name} holds no log header")))?;
    if header.database_id != manifest.database_id || header.page_size != manifest.page_size {
        let reason = format!("{name} is a log of another database or page size");
        return Err(archive_error(store, reason));
    }
    if name != object_name(header.sequence, header.start_lsn) {
        let reason = format!(
            "{name} holds generation {} from {}: it is misnamed",
            header.sequence, header.start_lsn
        );
        return Err(archive_error(store, reason));
    }
    let page_size = PageSize::new(header.page_size)?;
    let found = scan(storage, path, &header, page_size)?;
    if let Some(tail) = found.damaged_tail {
        let reason = format!("{name} is damaged at byte {} ({})", tail.offset, tail.lsn);
        return Err(archive_error(store, reason));
    }
    Ok((header, found.transactions, found.next_lsn))
}

fn archive_error(store: &dyn ArchiveStore, reason: String) -> Error {
    Error::Archive { location: store.location(), reason }
}

fn io_error(store: &dyn ArchiveStore, operation: &'static str, error: std::io::Error) -> Error {
    Error::io(operation, store.location(), error)
}
