//! Fault injection: which operations fail or misbehave, and when.
//!
//! A [`Fault`] pairs an effect ([`FaultKind`]) with a [`Trigger`] and a [`Repeat`] mode. Each
//! fault watches only the operations its kind applies to (its "matching" operations) and keeps
//! its own count of them.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// The kinds of operation the simulated disk performs, as faults see them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OpKind {
    /// `Storage::read_at`.
    Read,
    /// `Storage::write_at`.
    Write,
    /// `Storage::set_len`.
    SetLen,
    /// `Storage::sync_data`.
    Sync,
    /// `Vfs::sync_dir`.
    SyncDir,
    /// `Vfs::create`.
    Create,
    /// `Vfs::remove`.
    Remove,
    /// `Vfs::rename`.
    Rename,
    /// `Vfs::open`.
    Open,
}

/// One operation as a fault trigger sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpInfo {
    /// What the operation is.
    pub kind: OpKind,
    /// The file (as named when its handle was opened), the directory for `SyncDir`, or the
    /// source for `Rename`.
    pub path: PathBuf,
    /// The byte offset for `Read` and `Write`, the new length for `SetLen`, else 0.
    pub offset: u64,
    /// The byte count for `Read` and `Write`, else 0.
    pub len: u64,
    /// How many operations of any kind this disk admitted before this one (0-based, across
    /// crashes). `len`, `exists` and `list` are not operations here.
    pub op_index: u64,
}

/// A predicate over operations for [`Trigger::When`]. It runs under the simulator's lock, so it
/// must not call back into the `SimVfs`.
pub type OpPredicate = Arc<dyn Fn(&OpInfo) -> bool + Send + Sync>;

/// When a fault fires, judged on each matching operation.
#[derive(Clone)]
pub enum Trigger {
    /// On the Nth matching operation (1-based; 0 counts as 1), and with [`Repeat::Always`] on
    /// every later one too: a disk that stays broken.
    Nth(u64),
    /// On each matching operation with this probability, drawn from the seeded RNG.
    Probability(f64),
    /// On each matching operation for which the predicate holds.
    When(OpPredicate),
}

impl Trigger {
    fn holds(&self, matched_count: u64, info: &OpInfo, rng: &mut ChaCha8Rng) -> bool {
        match self {
            Self::Nth(n) => matched_count >= (*n).max(1),
            // A NaN or negative probability never fires; no panic on odd input.
            Self::Probability(probability) => rng.random::<f64>() < *probability,
            Self::When(predicate) => predicate(info),
        }
    }
}

impl fmt::Debug for Trigger {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Nth(n) => formatter.debug_tuple("Nth").field(n).finish(),
            Self::Probability(p) => formatter.debug_tuple("Probability").field(p).finish(),
            Self::When(_) => formatter.write_str("When(<predicate>)"),
        }
    }
}

/// How often a fault fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repeat {
    /// The first time its trigger holds, then never again.
    Once,
    /// Every time its trigger holds.
    Always,
}

/// What a fault does to the operation it fires on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// Operations of this kind fail with `EIO` (raw OS error 5) and change nothing, except a
    /// failed `Sync`: each of the file's pending sectors is then randomly made durable or
    /// discarded and dropped from the pending list, so a later successful sync does not
    /// persist the discarded ones, while reads keep seeing the new bytes ("fsyncgate").
    Eio(OpKind),
    /// A successful `Read` flips one random bit of the returned bytes, and the same bit of the
    /// file's live and durable images (persistent rot).
    BitRot,
    /// A `Write` lands at `offset + shift_bytes` (clamped at 0) instead of `offset`; the
    /// intended location keeps its old bytes and the write reports success.
    Misdirect {
        /// How far, in bytes, the write lands from where it was aimed.
        shift_bytes: i64,
    },
}

impl FaultKind {
    /// The operations this fault watches.
    pub fn op_kind(&self) -> OpKind {
        match self {
            Self::Eio(kind) => *kind,
            Self::BitRot => OpKind::Read,
            Self::Misdirect { .. } => OpKind::Write,
        }
    }
}

/// One fault: an effect, when it fires, and how often.
#[derive(Debug, Clone)]
pub struct Fault {
    /// What it does.
    pub kind: FaultKind,
    /// When it fires.
    pub trigger: Trigger,
    /// Whether it fires once or every time.
    pub repeat: Repeat,
}

impl Fault {
    /// Operations of kind `op` fail with EIO.
    pub fn eio(op: OpKind, trigger: Trigger, repeat: Repeat) -> Self {
        Self { kind: FaultKind::Eio(op), trigger, repeat }
    }

    /// Reads flip one bit.
    pub fn bit_rot(trigger: Trigger, repeat: Repeat) -> Self {
        Self { kind: FaultKind::BitRot, trigger, repeat }
    }

    /// Writes land `shift_bytes` away from their offset.
    pub fn misdirect(shift_bytes: i64, trigger: Trigger, repeat: Repeat) -> Self {
        Self { kind: FaultKind::Misdirect { shift_bytes }, trigger, repeat }
    }
}

/// The faults a `SimVfs` injects. The default injects none.
#[derive(Debug, Clone, Default)]
pub struct FaultConfig {
    /// The faults, judged in this order; when several fire on one operation, EIO wins over the
    /// others and the first misdirect's shift is used.
    pub faults: Vec<Fault>,
    /// The Nth sync call (`sync_data` or `sync_dir`, counted from 1 since `set_faults`) and every
    /// later operation of any kind fail with "simulated power loss" and record nothing, until
    /// `SimVfs::crash`. `Some(0)` never fires.
    pub freeze_at_sync: Option<u64>,
}

impl FaultConfig {
    /// No faults.
    pub fn none() -> Self {
        Self::default()
    }

    /// This configuration plus `fault`.
    pub fn with(mut self, fault: Fault) -> Self {
        self.faults.push(fault);
        self
    }

    /// This configuration, freezing at the `sync_index`th sync (1-based).
    pub fn with_freeze_at_sync(mut self, sync_index: u64) -> Self {
        self.freeze_at_sync = Some(sync_index);
        self
    }
}

/// What the faults decided for one operation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Effects {
    pub(super) eio: bool,
    pub(super) bit_rot: bool,
    pub(super) shift_bytes: Option<i64>,
}

/// A configured fault and its progress.
#[derive(Debug)]
pub(super) struct ArmedFault {
    fault: Fault,
    matched_count: u64,
    spent: bool,
}

impl ArmedFault {
    pub(super) fn new(fault: Fault) -> Self {
        Self { fault, matched_count: 0, spent: false }
    }
}

/// Judges every fault on `info`, in order, and merges what fired.
pub(super) fn evaluate(armed: &mut [ArmedFault], info: &OpInfo, rng: &mut ChaCha8Rng) -> Effects {
    let mut effects = Effects::default();
    for armed_fault in armed.iter_mut() {
        if armed_fault.spent || armed_fault.fault.kind.op_kind() != info.kind {
            continue;
        }
        armed_fault.matched_count = armed_fault.matched_count.saturating_add(1);
        if !armed_fault.fault.trigger.holds(armed_fault.matched_count, info, rng) {
            continue;
        }
        armed_fault.spent = armed_fault.fault.repeat == Repeat::Once;
        match armed_fault.fault.kind {
            FaultKind::Eio(_) => effects.eio = true,
            FaultKind::BitRot => effects.bit_rot = true,
            FaultKind::Misdirect { shift_bytes } => {
                effects.shift_bytes.get_or_insert(shift_bytes);
            }
        }
    }
    effects
}
