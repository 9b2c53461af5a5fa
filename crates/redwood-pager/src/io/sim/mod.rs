//! `SimVfs`: the deterministic, seeded, fault-injecting simulated disk (DESIGN.md §7).
//!
//! Every file (inode) has two byte images: the *live* one that reads see, and the *durable* one
//! that would survive a power loss. There are two namespaces (path to inode) in the same way.
//! Every `write_at`, `set_len`, `create`, `remove` and `rename` changes the live side at once and
//! appends an operation to one ordered list of pending (unsynced) operations. `sync_data` makes a
//! file's pending data operations durable; `sync_dir` does the same for the directory entries of
//! one directory. Syncing a file never makes its name durable.
//!
//! [`SimVfs::crash`] simulates power loss: with the seeded RNG it decides the fate of every
//! pending operation (each 512-byte sector kept, dropped or torn, in order or reordered across
//! files), rebuilds the durable state, makes it the live state, and turns every handle opened
//! before into a stale one that only returns errors, as if the process had died.
//!
//! Faults ([`FaultConfig`]) inject EIO (with the "fsyncgate" semantics for a failed
//! `sync_data`), bit-rot on read, misdirected writes, and a freeze at the Nth sync that stops
//! the workload so a crash test can call `crash` at every sync point.
//!
//! Determinism: all state lives in ordered maps and all randomness comes from one
//! `ChaCha8Rng` seeded by [`SimVfs::new`]; the same seed and the same sequence of calls give
//! byte-identical results. Clones share the same disk.

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::{Storage, Vfs};

mod crash;
mod fault;
mod file;
mod ops;
mod seed;
mod state;

pub use crash::{CrashMode, CrashReport};
pub use fault::{Fault, FaultConfig, FaultKind, OpInfo, OpKind, OpPredicate, Repeat, Trigger};
pub use seed::test_seed;

use file::SimFile;
use state::SimState;

/// The unit of atomicity the simulated disk guarantees nothing beyond: a crash decides the fate
/// of each pending write sector by sector, sectors aligned to absolute file offsets.
pub const SECTOR_BYTES: u64 = 512;

/// The largest simulated file; offsets or lengths reaching past it fail with
/// [`io::ErrorKind::InvalidInput`] instead of exhausting memory.
pub const FILE_BYTES_MAX: u64 = 1 << 30;

/// The most pending operations kept; past it the oldest one is written back (made durable), as
/// an operating system flushing its cache would, so the list stays bounded.
pub const PENDING_OPS_MAX: usize = 1 << 20;

const _: () = assert!(SECTOR_BYTES.is_power_of_two());
const _: () = assert!(FILE_BYTES_MAX.is_multiple_of(SECTOR_BYTES));
// Offsets below `FILE_BYTES_MAX` must fit a `usize` even on 32-bit targets.
const _: () = assert!(FILE_BYTES_MAX <= u32::MAX as u64);

/// What the simulated disk has done so far, for tests and reports. Counts only calls that
/// reached the disk: not those refused as stale, frozen or out of range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SimCounters {
    /// `read_at` calls that returned `Ok`.
    pub reads: u64,
    /// `write_at` calls that returned `Ok` (misdirected ones included).
    pub writes: u64,
    /// `sync_data` and `sync_dir` calls that returned `Ok`.
    pub syncs: u64,
    /// Operations failed with an injected EIO.
    pub injected_eio: u64,
    /// Bits flipped by bit-rot faults.
    pub bitrot_flips: u64,
    /// Writes sent to the wrong offset by misdirect faults.
    pub misdirected_writes: u64,
    /// Calls to [`SimVfs::crash`].
    pub crashes: u64,
}

/// The simulated file system. Cloning it yields another handle on the same disk and RNG.
///
/// ```
/// use std::path::Path;
/// use redwood_pager::io::Vfs;
/// use redwood_pager::io::sim::{CrashMode, SimVfs};
///
/// let vfs = SimVfs::new(7);
/// let file = vfs.create(Path::new("db/data"))?;
/// file.write_at(0, b"synced")?;
/// file.sync_data()?;
/// vfs.sync_dir(Path::new("db"))?;
/// file.write_at(0, b"lost?!")?; // never synced: a crash may drop or tear it
/// vfs.crash(CrashMode::all());
/// assert!(file.len().is_err(), "handles from before the crash are stale");
/// let reopened = vfs.open(Path::new("db/data"))?;
/// assert_eq!(reopened.len()?, 6);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct SimVfs {
    state: Arc<Mutex<SimState>>,
}

impl SimVfs {
    /// An empty simulated disk whose every random decision derives from `seed`.
    pub fn new(seed: u64) -> Self {
        Self { state: Arc::new(Mutex::new(SimState::new(seed))) }
    }

    /// The seed given to [`SimVfs::new`], to print when a test fails.
    pub fn seed(&self) -> u64 {
        self.lock().seed
    }

    /// Replaces the fault configuration; counts of earlier faults and of syncs toward
    /// `freeze_at_sync` restart from zero. A freeze already in effect lasts until `crash`.
    pub fn set_faults(&self, config: FaultConfig) {
        self.lock().set_faults(config);
    }

    /// Simulated power loss: decides the fate of every pending operation under `mode`, then
    /// restarts from the resulting durable state. Handles opened before it become stale; the
    /// `SimVfs` itself (and its clones) keeps working, a freeze is lifted, and the fault
    /// configuration stays as it was.
    pub fn crash(&self, mode: CrashMode) -> CrashReport {
        self.lock().crash(mode)
    }

    /// Every file of the durable namespace with its durable bytes: what a crash with
    /// [`CrashMode::drop`] set could leave if every pending operation were lost.
    pub fn durable_image(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        self.lock().image(true)
    }

    /// Every file of the live namespace with its live bytes: what reads see now.
    pub fn live_image(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        self.lock().image(false)
    }

    /// How many operations are waiting for `sync_data` or `sync_dir`.
    pub fn pending_op_count(&self) -> usize {
        self.lock().pending.len()
    }

    /// The counters so far (they survive crashes).
    pub fn counters(&self) -> SimCounters {
        self.lock().counters
    }

    /// Whether `freeze_at_sync` has fired and every operation now fails until `crash`.
    pub fn is_frozen(&self) -> bool {
        self.lock().frozen
    }

    fn lock(&self) -> MutexGuard<'_, SimState> {
        // Nothing panics while holding the lock except a user's fault predicate; the state is
        // still consistent then, so a poisoned lock is simply taken over.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn handle(&self, state: &SimState, path: &Path, inode: state::InodeId) -> Box<dyn Storage> {
        Box::new(SimFile::new(Arc::clone(&self.state), inode, state.epoch, path))
    }
}

impl fmt::Debug for SimVfs {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        formatter
            .debug_struct("SimVfs")
            .field("seed", &state.seed)
            .field("files", &state.live_names.len())
            .field("pending_ops", &state.pending.len())
            .field("frozen", &state.frozen)
            .finish_non_exhaustive()
    }
}

impl Vfs for SimVfs {
    fn open(&self, path: &Path) -> io::Result<Box<dyn Storage>> {
        let mut state = self.lock();
        let inode = state.open(path)?;
        Ok(self.handle(&state, path, inode))
    }

    fn create(&self, path: &Path) -> io::Result<Box<dyn Storage>> {
        let mut state = self.lock();
        let inode = state.create(path)?;
        Ok(self.handle(&state, path, inode))
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        self.lock().remove(path)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.lock().rename(from, to)
    }

    fn exists(&self, path: &Path) -> io::Result<bool> {
        let state = self.lock();
        state.check_not_frozen()?;
        Ok(state.live_names.contains_key(path))
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
        let state = self.lock();
        state.check_not_frozen()?;
        let in_dir = |path: &&PathBuf| super::parent_dir(path) == dir;
        Ok(state.live_names.keys().filter(in_dir).cloned().collect())
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.lock().sync_dir(dir)
    }
}
