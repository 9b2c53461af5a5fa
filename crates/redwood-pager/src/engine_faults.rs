//! Deliberately broken engines, to prove the crash harness can fail. With the `engine-faults`
//! feature, `set` switches a fault on for the whole process; without it, `is_on` is a constant
//! `false` and the checks compile away. Nothing sets a fault except tests that expect the
//! harness to report a violation (each in its own test binary, so no other test shares the
//! process).

/// A deliberate defect.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum EngineFault {
    /// The write-ahead log never calls `fdatasync` (but believes it did).
    SkipWalSync,
    /// Checkpoints copy up to the last commit, ignoring readers' snapshots.
    CheckpointPastReaders,
    /// Freeing an overflow chain frees its first page twice.
    DoubleFree,
    /// A durable commit writes and syncs its commit frame first, then its page frames without
    /// a sync, and acknowledges: the commit is durable before the data it commits.
    CommitFrameFirst,
}

#[cfg(feature = "engine-faults")]
impl EngineFault {
    fn bit(self) -> u32 {
        1 << self as u32
    }
}

#[cfg(feature = "engine-faults")]
static FAULTS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// Switches `fault` on or off for the whole process.
#[cfg(feature = "engine-faults")]
pub fn set(fault: EngineFault, on: bool) {
    use std::sync::atomic::Ordering;
    if on {
        FAULTS.fetch_or(fault.bit(), Ordering::SeqCst);
    } else {
        FAULTS.fetch_and(!fault.bit(), Ordering::SeqCst);
    }
}

/// Whether `fault` is on.
#[cfg(feature = "engine-faults")]
pub fn is_on(fault: EngineFault) -> bool {
    FAULTS.load(std::sync::atomic::Ordering::SeqCst) & fault.bit() != 0
}

/// Whether `fault` is on: never, without the `engine-faults` feature.
#[cfg(not(feature = "engine-faults"))]
pub const fn is_on(fault: EngineFault) -> bool {
    let _ = fault;
    false
}
