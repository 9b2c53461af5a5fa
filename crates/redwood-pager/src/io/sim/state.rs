//! The simulated disk's state: inodes with durable and live images, the two namespaces, the
//! ordered list of pending operations, and the helpers that move bytes between them.

use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::path::{Path, PathBuf};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::fault::{ArmedFault, Effects, FaultConfig, OpInfo, OpKind, evaluate};
use super::{FILE_BYTES_MAX, PENDING_OPS_MAX, SimCounters};
use crate::io::parent_dir;

/// The identity of a file's contents, independent of the names it has had.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct InodeId(pub(super) u64);

/// One file's contents: what survives a crash (`durable`) and what reads see (`live`).
#[derive(Debug, Default)]
pub(super) struct Inode {
    pub(super) durable: Vec<u8>,
    pub(super) live: Vec<u8>,
}

/// One completed but unsynced operation. Offsets and lengths were checked against
/// `FILE_BYTES_MAX` when the operation was accepted, so they index images without overflow.
#[derive(Debug, Clone)]
pub(super) enum PendingOp {
    Write { inode: InodeId, offset: usize, bytes: Vec<u8> },
    SetLen { inode: InodeId, len: usize },
    Create { path: PathBuf, inode: InodeId },
    Remove { path: PathBuf },
    Rename { from: PathBuf, to: PathBuf },
}

impl PendingOp {
    /// The file a data operation (write or set_len) changes; `None` for namespace operations.
    pub(super) fn data_inode(&self) -> Option<InodeId> {
        match self {
            Self::Write { inode, .. } | Self::SetLen { inode, .. } => Some(*inode),
            Self::Create { .. } | Self::Remove { .. } | Self::Rename { .. } => None,
        }
    }

    /// The directory a namespace operation changes; `None` for data operations.
    pub(super) fn namespace_dir(&self) -> Option<&Path> {
        match self {
            Self::Create { path, .. } | Self::Remove { path } => Some(parent_dir(path)),
            Self::Rename { from, .. } => Some(parent_dir(from)),
            Self::Write { .. } | Self::SetLen { .. } => None,
        }
    }
}

/// Everything behind the `SimVfs` mutex.
pub(super) struct SimState {
    pub(super) seed: u64,
    pub(super) rng: ChaCha8Rng,
    /// Crashes so far; a handle whose epoch differs is stale.
    pub(super) epoch: u64,
    pub(super) inodes: BTreeMap<InodeId, Inode>,
    inode_next: u64,
    pub(super) durable_names: BTreeMap<PathBuf, InodeId>,
    pub(super) live_names: BTreeMap<PathBuf, InodeId>,
    /// Unsynced operations, oldest first; at most `PENDING_OPS_MAX`.
    pub(super) pending: VecDeque<PendingOp>,
    faults: Vec<ArmedFault>,
    freeze_at_sync: Option<u64>,
    /// Sync calls seen since the last `set_faults`, toward `freeze_at_sync`.
    syncs_seen: u64,
    pub(super) frozen: bool,
    op_index_next: u64,
    pub(super) counters: SimCounters,
    /// File locks: the epoch and token of the handle holding each locked inode. A lock from an
    /// earlier epoch died with its process in the crash.
    pub(super) locks: BTreeMap<InodeId, (u64, u64)>,
}

impl SimState {
    pub(super) fn new(seed: u64) -> Self {
        Self {
            seed,
            rng: ChaCha8Rng::seed_from_u64(seed),
            epoch: 0,
            inodes: BTreeMap::new(),
            inode_next: 0,
            durable_names: BTreeMap::new(),
            live_names: BTreeMap::new(),
            pending: VecDeque::new(),
            faults: Vec::new(),
            freeze_at_sync: None,
            syncs_seen: 0,
            frozen: false,
            op_index_next: 0,
            counters: SimCounters::default(),
            locks: BTreeMap::new(),
        }
    }

    pub(super) fn set_faults(&mut self, config: FaultConfig) {
        self.faults = config.faults.into_iter().map(ArmedFault::new).collect();
        self.freeze_at_sync = config.freeze_at_sync;
        self.syncs_seen = 0;
    }

    /// Copies of every file of one namespace, durable or live, by path.
    pub(super) fn image(&self, durable: bool) -> BTreeMap<PathBuf, Vec<u8>> {
        let names = if durable { &self.durable_names } else { &self.live_names };
        let mut image = BTreeMap::new();
        for (path, inode) in names {
            if let Some(file) = self.inodes.get(inode) {
                let bytes = if durable { &file.durable } else { &file.live };
                image.insert(path.clone(), bytes.clone());
            }
        }
        image
    }

    pub(super) fn check_not_frozen(&self) -> io::Result<()> {
        if self.frozen { Err(power_loss()) } else { Ok(()) }
    }

    /// Admits one operation: refuses it if frozen (or if it is the sync that freezes), gives it
    /// the next global index, and asks the faults what should happen to it.
    pub(super) fn begin(
        &mut self,
        kind: OpKind,
        path: &Path,
        offset: u64,
        len: u64,
    ) -> io::Result<Effects> {
        self.check_not_frozen()?;
        if matches!(kind, OpKind::Sync | OpKind::SyncDir) {
            self.syncs_seen = self.syncs_seen.saturating_add(1);
            if self.freeze_at_sync == Some(self.syncs_seen) {
                self.frozen = true;
                return Err(power_loss());
            }
        }
        let op_index = self.op_index_next;
        self.op_index_next = self.op_index_next.saturating_add(1);
        if self.faults.is_empty() {
            return Ok(Effects::default());
        }
        let info = OpInfo { kind, path: path.to_path_buf(), offset, len, op_index };
        let effects = evaluate(&mut self.faults, &info, &mut self.rng);
        if effects.eio {
            self.counters.injected_eio += 1;
        }
        Ok(effects)
    }

    pub(super) fn new_inode(&mut self) -> InodeId {
        let inode = InodeId(self.inode_next);
        self.inode_next += 1;
        self.inodes.insert(inode, Inode::default());
        inode
    }

    pub(super) fn inode_mut(&mut self, inode: InodeId) -> io::Result<&mut Inode> {
        // Inodes are only collected at a crash, after which older handles are stale, so a
        // missing inode means a bug in the simulator; report it rather than panic.
        self.inodes.get_mut(&inode).ok_or_else(|| io::Error::other("simulated inode vanished"))
    }

    /// Appends an operation, first writing the oldest one back if the list is full.
    pub(super) fn push_pending(&mut self, op: PendingOp) {
        if self.pending.len() >= PENDING_OPS_MAX
            && let Some(oldest) = self.pending.pop_front()
        {
            self.make_durable(&oldest);
        }
        self.pending.push_back(op);
        debug_assert!(self.pending.len() <= PENDING_OPS_MAX);
    }

    /// Applies one pending operation, whole, to the durable state.
    pub(super) fn make_durable(&mut self, op: &PendingOp) {
        match op {
            PendingOp::Write { inode, offset, bytes } => {
                if let Some(file) = self.inodes.get_mut(inode) {
                    write_into(&mut file.durable, *offset, bytes);
                }
            }
            PendingOp::SetLen { inode, len } => {
                if let Some(file) = self.inodes.get_mut(inode) {
                    file.durable.resize(*len, 0);
                }
            }
            PendingOp::Create { .. } | PendingOp::Remove { .. } | PendingOp::Rename { .. } => {
                apply_name(&mut self.durable_names, op);
            }
        }
    }

    /// Checks, in debug builds, that every name refers to an inode, that images stay within
    /// `FILE_BYTES_MAX`, and that the pending list is bounded.
    pub(super) fn debug_check_invariants(&self) {
        if !cfg!(debug_assertions) {
            return;
        }
        assert!(self.pending.len() <= PENDING_OPS_MAX);
        let mut named = self.live_names.values().chain(self.durable_names.values());
        assert!(named.all(|inode| self.inodes.contains_key(inode)));
        let within_limit = |bytes: &Vec<u8>| bytes.len() as u64 <= FILE_BYTES_MAX;
        for file in self.inodes.values() {
            assert!(within_limit(&file.live) && within_limit(&file.durable));
        }
    }

    /// Makes durable, in order, every pending operation `select` picks, and drops them from the
    /// list. With no failed sync in between, this leaves durable equal to live for what it
    /// covers.
    pub(super) fn make_durable_where(&mut self, select: impl Fn(&PendingOp) -> bool) {
        let pending = std::mem::take(&mut self.pending);
        for op in pending {
            if select(&op) {
                self.make_durable(&op);
            } else {
                self.pending.push_back(op);
            }
        }
        self.debug_check_invariants();
    }
}

/// Writes `bytes` at `offset` of `image`, extending it with zeros if needed.
pub(super) fn write_into(image: &mut Vec<u8>, offset: usize, bytes: &[u8]) {
    let end = offset + bytes.len();
    if image.len() < end {
        image.resize(end, 0);
    }
    image[offset..end].copy_from_slice(bytes);
}

/// Applies one namespace operation to a namespace. A rename whose source is absent (which the
/// per-directory ordering rules out) changes nothing.
pub(super) fn apply_name(names: &mut BTreeMap<PathBuf, InodeId>, op: &PendingOp) {
    match op {
        PendingOp::Create { path, inode } => {
            names.insert(path.clone(), *inode);
        }
        PendingOp::Remove { path } => {
            names.remove(path);
        }
        PendingOp::Rename { from, to } => {
            if let Some(inode) = names.remove(from) {
                names.insert(to.clone(), inode);
            }
        }
        PendingOp::Write { .. } | PendingOp::SetLen { .. } => {}
    }
}

/// Checks that `offset..offset + len` stays within `FILE_BYTES_MAX` and converts it to indices.
pub(super) fn checked_range(offset: u64, len: usize) -> io::Result<(usize, usize)> {
    let too_far = || invalid_input("range reaches past the simulated file size limit");
    let len = u64::try_from(len).map_err(|_| too_far())?;
    let end = offset.checked_add(len).filter(|&end| end <= FILE_BYTES_MAX).ok_or_else(too_far)?;
    let start = usize::try_from(offset).map_err(|_| too_far())?;
    let end = usize::try_from(end).map_err(|_| too_far())?;
    Ok((start, end))
}

/// The error of an injected I/O failure: `EIO`.
pub(super) fn eio() -> io::Error {
    io::Error::from_raw_os_error(5)
}

/// The error of every operation after `freeze_at_sync` fired.
pub(super) fn power_loss() -> io::Error {
    io::Error::other("simulated power loss")
}

/// The error of every method of a handle opened before the last crash.
pub(super) fn stale() -> io::Error {
    io::Error::other("stale handle from before a simulated crash")
}

pub(super) fn invalid_input(message: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

pub(super) fn not_found(path: &Path) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, format!("{} does not exist", path.display()))
}
