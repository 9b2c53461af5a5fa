//! Power loss: deciding the fate of every pending operation, sector by sector.
//!
//! Namespace operations are journaled metadata: they persist as an in-order prefix. Data
//! operations are split into sectors (`SECTOR_BYTES`, aligned to absolute file offsets); each
//! sector is kept, dropped (the old durable bytes stay) or torn (a prefix of it is new, the rest
//! old). Without reordering a single cut point separates the data operations that persisted from
//! those that were lost; with it, every sector is decided on its own.

use std::collections::BTreeSet;

use rand::Rng;

use super::SECTOR_BYTES;
use super::state::{InodeId, PendingOp, SimState, apply_name, write_into};

/// `SECTOR_BYTES` as an index; the sector size fits any `usize`.
const SECTOR_INDEX_BYTES: usize = SECTOR_BYTES as usize;

/// Which kinds of damage a crash may do. Without any, every pending operation persists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CrashMode {
    /// Pending sectors, set_len calls and namespace operations may be lost.
    pub drop: bool,
    /// A pending sector may be torn: a random prefix of it new, the rest old.
    pub tear: bool,
    /// Data operations persist independently of their order, even across files.
    pub reorder: bool,
}

impl CrashMode {
    /// Everything pending persists: a clean shutdown that merely skipped the syncs.
    pub const fn clean() -> Self {
        Self { drop: false, tear: false, reorder: false }
    }

    /// Every kind of damage.
    pub const fn all() -> Self {
        Self { drop: true, tear: true, reorder: true }
    }

    /// Losses only, in order: an in-order prefix of the pending operations persists.
    pub const fn dropping() -> Self {
        Self { drop: true, tear: false, reorder: false }
    }

    /// Torn sectors only: the last pending data operation may be torn, the rest persists.
    pub const fn tearing() -> Self {
        Self { drop: false, tear: true, reorder: false }
    }
}

/// What a crash did, so tests can prove the damage they expect happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CrashReport {
    /// Pending sectors that persisted whole.
    pub sectors_kept: u64,
    /// Pending sectors lost entirely.
    pub sectors_dropped: u64,
    /// Pending sectors that persisted in part.
    pub sectors_torn: u64,
    /// Pending `set_len` calls that persisted.
    pub resizes_kept: u64,
    /// Pending `set_len` calls that were lost.
    pub resizes_dropped: u64,
    /// Files whose durable length grew over zeros although the write that extended them was
    /// (partly) lost: the untrustworthy file size.
    pub lengths_grown: u64,
    /// Pending create, remove and rename operations that persisted.
    pub namespace_ops_kept: u64,
    /// Pending create, remove and rename operations that were lost.
    pub namespace_ops_dropped: u64,
}

/// The fate of one pending sector (or `set_len`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Keep,
    Drop,
    Tear,
}

/// The sector-sized pieces of a write of `len` bytes at `offset`, as `(start, end)` indices
/// into the written bytes, one per sector touched.
fn sector_chunks(offset: usize, len: usize) -> impl Iterator<Item = (usize, usize)> {
    let mut start = 0;
    std::iter::from_fn(move || {
        if start >= len {
            return None;
        }
        let absolute = offset + start;
        let sector_end = (absolute / SECTOR_INDEX_BYTES + 1) * SECTOR_INDEX_BYTES;
        let end = (sector_end - offset).min(len);
        debug_assert!(end > start);
        let chunk = (start, end);
        start = end;
        Some(chunk)
    })
}

impl SimState {
    pub(super) fn crash(&mut self, mode: CrashMode) -> CrashReport {
        let mut report = CrashReport::default();
        let (names, data): (Vec<PendingOp>, Vec<PendingOp>) =
            std::mem::take(&mut self.pending).into_iter().partition(|op| op.data_inode().is_none());
        self.crash_names(&names, mode, &mut report);
        if mode.reorder {
            for op in &data {
                self.persist_partially(op, mode, &mut report);
            }
        } else {
            self.crash_in_order(&data, mode, &mut report);
        }
        self.restart();
        report
    }

    /// Namespace operations persist as an in-order prefix, cut at random when `drop` is set.
    fn crash_names(&mut self, names: &[PendingOp], mode: CrashMode, report: &mut CrashReport) {
        let cut = if mode.drop { self.rng.random_range(0..=names.len()) } else { names.len() };
        for op in &names[..cut] {
            apply_name(&mut self.durable_names, op);
        }
        report.namespace_ops_kept = cut as u64;
        report.namespace_ops_dropped = (names.len() - cut) as u64;
    }

    /// Data operations before a random cut persist, the one at the cut persists partially, and
    /// the rest are lost. Without `drop` nothing may be lost, so the cut is the last operation
    /// (which `tear` may tear) or past the end.
    fn crash_in_order(&mut self, data: &[PendingOp], mode: CrashMode, report: &mut CrashReport) {
        let cut = if mode.drop {
            self.rng.random_range(0..=data.len())
        } else if mode.tear {
            data.len().saturating_sub(1)
        } else {
            data.len()
        };
        for (index, op) in data.iter().enumerate() {
            match index.cmp(&cut) {
                std::cmp::Ordering::Less => self.persist_fully(op, report),
                std::cmp::Ordering::Equal => self.persist_partially(op, mode, report),
                std::cmp::Ordering::Greater => self.lose(op, report),
            }
        }
    }

    fn persist_fully(&mut self, op: &PendingOp, report: &mut CrashReport) {
        match op {
            PendingOp::Write { offset, bytes, .. } => {
                report.sectors_kept += sector_chunks(*offset, bytes.len()).count() as u64;
            }
            PendingOp::SetLen { .. } => report.resizes_kept += 1,
            PendingOp::Create { .. } | PendingOp::Remove { .. } | PendingOp::Rename { .. } => {}
        }
        self.make_durable(op);
    }

    fn lose(&mut self, op: &PendingOp, report: &mut CrashReport) {
        match op {
            PendingOp::Write { inode, offset, bytes } => {
                report.sectors_dropped += sector_chunks(*offset, bytes.len()).count() as u64;
                self.maybe_grow(*inode, offset + bytes.len(), report);
            }
            PendingOp::SetLen { .. } => report.resizes_dropped += 1,
            PendingOp::Create { .. } | PendingOp::Remove { .. } | PendingOp::Rename { .. } => {}
        }
    }

    /// Decides each sector of `op` on its own (a `set_len` is kept or dropped as a whole).
    fn persist_partially(&mut self, op: &PendingOp, mode: CrashMode, report: &mut CrashReport) {
        match op {
            PendingOp::Write { inode, offset, bytes } => {
                let mut any_lost = false;
                for (start, end) in sector_chunks(*offset, bytes.len()) {
                    let chunk = &bytes[start..end];
                    any_lost |= self.persist_sector(*inode, offset + start, chunk, mode, report);
                }
                if any_lost {
                    self.maybe_grow(*inode, offset + bytes.len(), report);
                }
            }
            PendingOp::SetLen { .. } => {
                if self.choose_fate(CrashMode { tear: false, ..mode }) == Fate::Keep {
                    self.persist_fully(op, report);
                } else {
                    report.resizes_dropped += 1;
                }
            }
            PendingOp::Create { .. } | PendingOp::Remove { .. } | PendingOp::Rename { .. } => {}
        }
    }

    /// Keeps, drops or tears one sector's worth of a write; whether any of it was lost.
    fn persist_sector(
        &mut self,
        inode: InodeId,
        offset: usize,
        chunk: &[u8],
        mode: CrashMode,
        report: &mut CrashReport,
    ) -> bool {
        let fate = match self.choose_fate(mode) {
            // A one-byte piece cannot mix old and new bytes.
            Fate::Tear if chunk.len() < 2 => Fate::Keep,
            fate => fate,
        };
        let persisted = match fate {
            Fate::Keep => chunk.len(),
            Fate::Drop => 0,
            Fate::Tear => self.rng.random_range(1..chunk.len()),
        };
        match fate {
            Fate::Keep => report.sectors_kept += 1,
            Fate::Drop => report.sectors_dropped += 1,
            Fate::Tear => report.sectors_torn += 1,
        }
        if let Some(file) = self.inodes.get_mut(&inode) {
            write_into(&mut file.durable, offset, &chunk[..persisted]);
        }
        fate != Fate::Keep
    }

    /// Picks uniformly among the fates `mode` allows; draws nothing if only `Keep` is allowed.
    fn choose_fate(&mut self, mode: CrashMode) -> Fate {
        let mut allowed = [Fate::Keep; 3];
        let mut allowed_count = 1;
        if mode.drop {
            allowed[allowed_count] = Fate::Drop;
            allowed_count += 1;
        }
        if mode.tear {
            allowed[allowed_count] = Fate::Tear;
            allowed_count += 1;
        }
        if allowed_count == 1 {
            Fate::Keep
        } else {
            allowed[self.rng.random_range(0..allowed_count)]
        }
    }

    /// The untrustworthy file size: the length change of a partly lost extending write may
    /// persist anyway, exposing zeros where its bytes never landed.
    fn maybe_grow(&mut self, inode: InodeId, end: usize, report: &mut CrashReport) {
        let Some(file) = self.inodes.get_mut(&inode) else {
            return;
        };
        if file.durable.len() < end && self.rng.random_bool(0.5) {
            file.durable.resize(end, 0);
            report.lengths_grown += 1;
        }
    }

    /// The process restarts from the durable state: names and bytes nobody can reach any more
    /// are collected, live becomes durable, and older handles become stale.
    fn restart(&mut self) {
        let reachable: BTreeSet<InodeId> = self.durable_names.values().copied().collect();
        self.inodes.retain(|inode, _| reachable.contains(inode));
        for file in self.inodes.values_mut() {
            file.live.clone_from(&file.durable);
        }
        self.live_names.clone_from(&self.durable_names);
        self.pending.clear();
        self.epoch += 1;
        self.frozen = false;
        self.counters.crashes += 1;
        self.debug_check_invariants();
        debug_assert!(self.live_names == self.durable_names);
    }

    /// A failed `sync_data` ("fsyncgate"): each pending sector and `set_len` of the file is
    /// randomly made durable or discarded, and all of them leave the pending list, so no later
    /// sync can persist the discarded ones. The live image keeps the new bytes.
    pub(super) fn fail_sync(&mut self, inode: InodeId) {
        let pending = std::mem::take(&mut self.pending);
        for op in pending {
            if op.data_inode() != Some(inode) {
                self.pending.push_back(op);
                continue;
            }
            if let PendingOp::Write { offset, bytes, .. } = &op {
                for (start, end) in sector_chunks(*offset, bytes.len()) {
                    if self.rng.random_bool(0.5)
                        && let Some(file) = self.inodes.get_mut(&inode)
                    {
                        write_into(&mut file.durable, offset + start, &bytes[start..end]);
                    }
                }
            } else if self.rng.random_bool(0.5) {
                self.make_durable(&op);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::sector_chunks;

    #[test]
    fn sector_chunks_follow_absolute_sector_boundaries() {
        let chunks: Vec<_> = sector_chunks(500, 1100).collect();
        assert_eq!(chunks, vec![(0, 12), (12, 524), (524, 1036), (1036, 1100)]);
        assert_eq!(sector_chunks(1024, 512).collect::<Vec<_>>(), vec![(0, 512)]);
        assert_eq!(sector_chunks(7, 0).count(), 0);
    }
}
