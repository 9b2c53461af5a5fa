//! What opening a database found in its write-ahead log: commits replayed, a tail cut off (or,
//! read-only, left in place), a damaged tail and where its bytes were saved, a log discarded by
//! the override. `Database::recovery_report` hands it out; `check_report` turns a damaged tail
//! still in the file into a finding.

use std::path::PathBuf;

pub use redwood_wal::DamagedTail as DamagedLogTail;

/// What recovery found when the database was opened.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct RecoveryReport {
    /// Committed transactions found in the log (replayed over the data files' checkpoint).
    pub commits_in_log: u64,
    /// Bytes past the last commit that a writable open cut off the log (read-only: that it
    /// would cut): an uncommitted or torn tail, or zeros written ahead.
    pub truncated_bytes: u64,
    /// A damaged tail past the valid frames: torn appends after a crash, or damage to the last
    /// commits. `commit_after` says whether a valid commit frame follows the damage (a
    /// transaction that may have been acknowledged).
    pub damaged_tail: Option<DamagedLogTail>,
    /// Where a writable open saved the bytes of a damaged tail that a valid commit frame
    /// follows before cutting it off.
    pub tail_saved_to: Option<PathBuf>,
    /// With `Builder::discard_missing_log`: the log was missing or emptied, and this says how.
    /// Every commit after the data files' checkpoint was lost with it.
    pub discarded_log: Option<String>,
    /// With `Builder::salvage`: the damaged log frames recovery went past.
    pub lost_frames: Vec<redwood_wal::LostFrame>,
    /// With `Builder::salvage`: the damage to the data files the open went past.
    pub salvage_notes: Vec<String>,
}

impl RecoveryReport {
    pub(crate) fn from_log(recovery: &redwood_wal::Recovery) -> Self {
        Self {
            commits_in_log: recovery.transactions.len() as u64,
            truncated_bytes: recovery.truncated_bytes,
            damaged_tail: recovery.damaged_tail,
            tail_saved_to: recovery.tail_saved_to.clone(),
            discarded_log: recovery.discarded.clone(),
            lost_frames: recovery.lost_frames.clone(),
            salvage_notes: Vec::new(),
        }
    }
}

/// One sentence on a damaged log tail, for reports.
pub(crate) fn describe_tail(tail: &DamagedLogTail) -> String {
    let cut = tail.evidence_end.saturating_sub(tail.committed_end);
    match tail.commit_after {
        Some(commit) => format!(
            "the log is damaged at byte {} ({}), and a valid commit frame follows at byte {} \
             ({}): a transaction that may have been acknowledged would be lost by opening the \
             database for writing ({cut} bytes past the last intact commit at byte {})",
            tail.offset, tail.lsn, commit.offset, commit.lsn, tail.committed_end
        ),
        None => format!(
            "the log is damaged at byte {} ({}), with no valid commit frame after it: consistent \
             with a crash during a commit that never returned ({cut} bytes past the last intact \
             commit at byte {})",
            tail.offset, tail.lsn, tail.committed_end
        ),
    }
}
