//! Creating a page file, and opening one: choosing the newest valid meta copy, finding every
//! segment, and loading the free-space map. Every way a file can be wrong ends in a typed error.

use std::hash::{BuildHasher, RandomState};
use std::io;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use super::{PageFile, PageFileOptions, segment_path};
use crate::error::{Error, Result};
use crate::free_map::FreeMap;
use crate::geometry::{Geometry, MapCopy};
use crate::io::{Storage, Vfs, parent_dir};
use crate::limits::ROOT_SLOTS;
use crate::meta::{FORMAT_VERSION_OFFSET, MAGIC, MAGIC_OFFSET, Meta, PROBE_BYTES};
use crate::page::{FORMAT_VERSION, PageBuf, PageSize};
use crate::{LogIdentity, Lsn, PageId, SegmentId};

/// Locks the main file for this page file's lifetime (the lock goes with the handle), so two
/// opens of one database cannot both write it. A held lock is retried for a short while
/// (`LOCK_WAIT_MAX`) before `Locked`: a process that was just killed can hold its lock a few
/// milliseconds past its death (the kernel tears its io_uring down asynchronously, and the ring
/// keeps the file open until then), and a restart right after a crash must not fail for it.
fn lock(base: &dyn Storage, path: &Path) -> Result<()> {
    let started = std::time::Instant::now();
    let mut pause = std::time::Duration::from_millis(1);
    loop {
        match base.try_lock() {
            Ok(true) => return Ok(()),
            Ok(false) if started.elapsed() < crate::limits::LOCK_WAIT_MAX => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(std::time::Duration::from_millis(50));
            }
            Ok(false) => return Err(Error::Locked { path: path.to_path_buf() }),
            Err(error) => return Err(Error::io("lock", path, error)),
        }
    }
}

impl PageFile {
    /// Creates a new database at `path`: the base file with both meta copies and the base
    /// segment's free-space map, synced along with its directory entry. Fails with
    /// [`Error::AlreadyExists`] rather than touch an existing file.
    pub fn create(vfs: Arc<dyn Vfs>, path: &Path, options: &PageFileOptions) -> Result<Self> {
        let geometry = Geometry::new(options.page_size, options.segment_pages)?;
        let base = vfs.create(path).map_err(|error| match error.kind() {
            io::ErrorKind::AlreadyExists => Error::AlreadyExists { path: path.to_path_buf() },
            _ => Error::io("create", path, error),
        })?;
        lock(base.as_ref(), path)?;
        let database_id = options.database_id.unwrap_or_else(|| RandomState::new().hash_one(path));
        let salt = options.log_salt.unwrap_or_else(|| random_salt(path));
        let free_map = FreeMap::new(geometry);
        let meta = Meta {
            geometry,
            database_id,
            generation: 0,
            page_count: free_map.page_count(),
            checkpoint_lsn: Lsn::ZERO,
            roots: [None; ROOT_SLOTS],
            // The log does not exist yet: its first generation is named here, and until a
            // writable open clears the flag a missing log is one that was never written.
            log: LogIdentity { generation: 1, salt },
            log_closed_empty: true,
        };
        let mut file = Self::assemble(vfs, path, vec![base], meta, free_map, options);
        file.read_only = false; // A new database is written, whatever the options say.
        let result = file.initialize(meta);
        if result.is_err() {
            // Best effort: a half-created file is not a database; don't leave it behind.
            let _ = file.vfs.remove(path);
        }
        result.map(|()| file)
    }

    /// Opens the database at `path`, taking the newest meta copy that verifies. With
    /// `options.read_only`, every file is opened read-only and the handle never writes. With
    /// `options.salvage` (read-only), damage that would refuse the open is noted instead
    /// ([`PageFile::salvage_notes`]): a missing segment reads as empty, a short one is taken as
    /// it is, and a free-space map that does not load counts every page as in use.
    pub fn open(vfs: Arc<dyn Vfs>, path: &Path, options: &PageFileOptions) -> Result<Self> {
        let options =
            &PageFileOptions { read_only: options.read_only || options.salvage, ..options.clone() };
        let mut notes = Vec::new();
        let open_file = |path: &Path| {
            if options.read_only { vfs.open_read_only(path) } else { vfs.open(path) }
        };
        let base = open_file(path).map_err(|error| match error.kind() {
            io::ErrorKind::NotFound => Error::NotFound { path: path.to_path_buf() },
            _ => Error::io("open", path, error),
        })?;
        lock(base.as_ref(), path)?;
        let meta = read_newest_meta(base.as_ref(), path)?;
        let geometry = meta.geometry;
        let other_slot = PageId::new(1 - meta.slot().get());
        let length = base.len().map_err(|error| Error::io("len", path, error))?;
        let other_meta_copy_damaged =
            read_meta_copy(base.as_ref(), geometry.page_size(), other_slot, length)
                .is_none_or(|(_, decoded)| decoded.is_err());
        let mut segments = vec![base];
        for segment in (1..geometry.segment_count(meta.page_count)).map(SegmentId::new) {
            let segment_file = segment_path(path, segment);
            let storage = match open_file(&segment_file) {
                Ok(storage) => storage,
                Err(error) if error.kind() == io::ErrorKind::NotFound && options.salvage => {
                    notes.push(format!("{segment} is missing ({})", segment_file.display()));
                    crate::io::ReadOnlyStorage::empty()
                }
                Err(error) if error.kind() == io::ErrorKind::NotFound => {
                    return Err(Error::SegmentMissing { segment, path: segment_file });
                }
                Err(error) => return Err(Error::io("open", &segment_file, error)),
            };
            segments.push(storage);
        }
        match check_segment_lengths(&segments, path, &meta) {
            Err(error) if options.salvage => notes.push(error.to_string()),
            checked => checked?,
        }
        let free_map = FreeMap::new(geometry);
        let mut file = Self::assemble(vfs, path, segments, meta, free_map, options);
        file.other_meta_copy_damaged = other_meta_copy_damaged;
        let mut page = PageBuf::zeroed(geometry.page_size());
        let copy = MapCopy::of_generation(meta.generation);
        let loaded = FreeMap::load(geometry, meta.page_count, copy, |map_page| {
            file.read_raw(map_page, &mut page)?;
            Ok(page.clone())
        });
        file.free_map = match loaded {
            Err(error) if options.salvage => {
                notes.push(format!(
                    "the free-space map does not load ({error}); every page counts as in use"
                ));
                FreeMap::all_in_use(geometry, meta.page_count)
            }
            loaded => loaded?,
        };
        file.salvage_notes = notes;
        for (slot, root) in meta.roots.iter().enumerate() {
            if let Some(root) = root.filter(|&root| !file.free_map.is_allocated(root)) {
                let reason = format!("root slot {slot} points at free {root}");
                if options.salvage {
                    file.salvage_notes.push(reason);
                    continue;
                }
                return Err(Error::Corrupt { page_id: meta.slot(), reason });
            }
        }
        Ok(file)
    }

    /// Removes the database at `path` and its companion files: segment files `PATH.segN`, the
    /// log `PATH.wal`, and saved damaged log tails `PATH.wal.damaged-*`, the main file last
    /// (so an interrupted removal leaves a main file, and running it again finishes the job),
    /// then syncs the directory. Refuses a file that is not a Redwood database
    /// ([`Error::NotADatabase`], nothing removed) and one that is open ([`Error::Locked`]).
    pub fn destroy(vfs: &dyn Vfs, path: &Path) -> Result<()> {
        let base = vfs.open(path).map_err(|error| match error.kind() {
            io::ErrorKind::NotFound => Error::NotFound { path: path.to_path_buf() },
            _ => Error::io("open", path, error),
        })?;
        lock(base.as_ref(), path)?;
        read_newest_meta(base.as_ref(), path)?;
        let dir = parent_dir(path);
        let name = path.file_name().map(|name| name.to_string_lossy().into_owned());
        let name = name.ok_or_else(|| Error::NotFound { path: path.to_path_buf() })?;
        let listed = vfs.list(dir).map_err(|error| Error::io("list", dir, error))?;
        for companion in listed.iter().filter(|file| is_companion(&name, file)) {
            vfs.remove(companion).map_err(|error| Error::io("remove", companion, error))?;
        }
        vfs.remove(path).map_err(|error| Error::io("remove", path, error))?;
        drop(base);
        vfs.sync_dir(dir).map_err(|error| Error::io("sync_dir", dir, error))
    }

    fn assemble(
        vfs: Arc<dyn Vfs>,
        path: &Path,
        segments: Vec<Box<dyn Storage>>,
        meta: Meta,
        free_map: FreeMap,
        options: &PageFileOptions,
    ) -> Self {
        Self {
            vfs,
            path: path.to_path_buf(),
            segments,
            durable_meta: meta,
            opened_generation: meta.generation,
            roots: meta.roots,
            checkpoint_lsn: meta.checkpoint_lsn,
            log: meta.log,
            log_closed_empty: meta.log_closed_empty,
            read_only: options.read_only,
            other_meta_copy_damaged: false,
            salvage_notes: Vec::new(),
            free_map,
            unsynced_segments: Mutex::default(),
            dir_sync_needed: AtomicBool::new(false),
            poisoned: AtomicBool::new(false),
            counters: Arc::clone(&options.counters),
        }
    }

    /// Writes a new database's first pages: both map copies, then generation 0 and 1 of the
    /// meta data (one per slot, so both are valid from the start), then syncs file and
    /// directory.
    fn initialize(&mut self, meta: Meta) -> Result<()> {
        for copy in MapCopy::BOTH {
            for page in self.free_map.take_dirty(copy, Lsn::ZERO) {
                self.write_raw(&page)?;
            }
        }
        self.write_raw(&meta.encode())?;
        self.write_meta(Meta { generation: 1, ..meta })?;
        let dir = parent_dir(&self.path).to_path_buf();
        let result = self.vfs.sync_dir(&dir);
        self.poison_on_error(result, "sync_dir", &dir)?;
        Ok(())
    }
}

/// Whether `file` is a companion of the database named `name`: `NAME.segN`, `NAME.wal` or
/// `NAME.wal.damaged-*`.
fn is_companion(name: &str, file: &Path) -> bool {
    let Some(suffix) = file.file_name().and_then(|file| file.to_str()?.strip_prefix(name)) else {
        return false;
    };
    let segment = suffix
        .strip_prefix(".seg")
        .is_some_and(|number| !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()));
    segment || suffix == ".wal" || suffix.starts_with(".wal.damaged-")
}

/// A random, nonzero log salt for a new database at `path`.
fn random_salt(path: &Path) -> u64 {
    let salt = RandomState::new().hash_one((path, "log salt"));
    if salt == 0 { 1 } else { salt }
}

/// Reads both meta copies at every possible page size and returns the newest one that verifies.
///
/// Trying every size for both slots means a damaged page-size field in one copy cannot hide the
/// other. With no valid copy the error distinguishes "not a Redwood file" (no magic anywhere),
/// "written by a newer Redwood" and damage.
fn read_newest_meta(base: &dyn Storage, path: &Path) -> Result<Meta> {
    let length = base.len().map_err(|error| Error::io("len", path, error))?;
    let mut probe = [0u8; PROBE_BYTES];
    let probed = length >= PROBE_BYTES as u64 && base.read_at(0, &mut probe).is_ok();
    let mut newest: Option<Meta> = None;
    let mut first_error = None;
    let mut any_magic = false;
    for page_size in PageSize::all() {
        for slot in [PageId::META_0, PageId::META_1] {
            let Some((has_magic, decoded)) = read_meta_copy(base, page_size, slot, length) else {
                continue;
            };
            any_magic |= has_magic;
            match decoded {
                // A copy that verifies but was written by a newer format: the file has been
                // upgraded, and opening the older copy would let this build overwrite it.
                Err(error @ Error::UnsupportedFormatVersion { .. }) => return Err(error),
                Ok(meta) if newest.is_none_or(|best| meta.generation > best.generation) => {
                    newest = Some(meta);
                }
                Ok(_) => {}
                Err(error) if has_magic && first_error.is_none() => first_error = Some(error),
                Err(_) => {}
            }
        }
    }
    if let Some(meta) = newest {
        return Ok(meta);
    }
    // No copy verifies. A newer format's pages may not even parse, so its version (at a fixed
    // offset) says why; checked only now, so that a damaged version field in one copy falls
    // back to the other copy like any other damage instead of posing as a newer format.
    if probed && probe[MAGIC_OFFSET..MAGIC_OFFSET + MAGIC.len()] == MAGIC {
        let version_bytes = &probe[FORMAT_VERSION_OFFSET..FORMAT_VERSION_OFFSET + 4];
        let version = u32::from_le_bytes(version_bytes.try_into().expect("4 bytes"));
        if version > u32::from(FORMAT_VERSION) {
            let supported = u32::from(FORMAT_VERSION);
            return Err(Error::UnsupportedFormatVersion { found: version, supported });
        }
    }
    let any_magic = any_magic || probed && probe[MAGIC_OFFSET..MAGIC_OFFSET + MAGIC.len()] == MAGIC;
    let minimum_bytes = 2 * PageSize::DEFAULT.bytes() as u64;
    match first_error {
        _ if !any_magic => Err(Error::NotADatabase { path: path.to_path_buf() }),
        Some(error @ Error::UnsupportedFormatVersion { .. }) => Err(error),
        _ if length < minimum_bytes => Err(Error::Truncated {
            path: path.to_path_buf(),
            actual_bytes: length,
            expected_bytes: minimum_bytes,
        }),
        error => {
            let detail = error.map(|error| error.to_string()).unwrap_or_default();
            let reason = format!("neither meta copy is valid ({detail})");
            Err(Error::Corrupt { page_id: PageId::META_0, reason })
        }
    }
}

/// Reads and decodes one meta copy at one candidate page size: whether its magic number is
/// there, and what decoding gave. `None` if the copy lies past the end of the file.
fn read_meta_copy(
    base: &dyn Storage,
    page_size: PageSize,
    slot: PageId,
    length: u64,
) -> Option<(bool, Result<Meta>)> {
    let offset = slot.get() * page_size.bytes() as u64;
    if offset + page_size.bytes() as u64 > length {
        return None;
    }
    let mut page = PageBuf::zeroed(page_size);
    if base.read_at(offset, page.as_mut_bytes()).is_err() {
        return None;
    }
    let has_magic = page.as_bytes()[MAGIC_OFFSET..MAGIC_OFFSET + MAGIC.len()] == MAGIC;
    Some((has_magic, Meta::decode(&page, slot)))
}

/// Every segment must be long enough to hold the pages the meta data says it has; `sync` grows
/// files before it writes the meta data, so a shorter file was truncated after the fact.
fn check_segment_lengths(segments: &[Box<dyn Storage>], base: &Path, meta: &Meta) -> Result<()> {
    for (index, storage) in segments.iter().enumerate() {
        let segment = SegmentId::new(index as u64);
        let path = segment_path(base, segment);
        let actual_bytes = storage.len().map_err(|error| Error::io("len", &path, error))?;
        let expected_bytes = meta.geometry.segment_bytes_needed(segment, meta.page_count);
        if actual_bytes < expected_bytes {
            return Err(Error::Truncated { path, actual_bytes, expected_bytes });
        }
    }
    Ok(())
}
