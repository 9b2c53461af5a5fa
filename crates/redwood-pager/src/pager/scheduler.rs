//! Automatic checkpoints: `CheckpointPolicy` is a pure decider over `CheckpointInputs`;
//! `Checkpointer` is the pager's part that asks it after every commit and acts, either on the
//! committing thread or by waking a `CheckpointWorker` thread.
//!
//! Two levels keep the log bounded without making commits wait: past `log_bytes_target` the
//! background worker is woken (the writer goes on); past `log_bytes_max` the next write
//! transaction checkpoints before it begins, under the same lock, if the checkpoint can restart
//! the log: the log exceeds the bound by at most the one transaction that crossed it. A reader whose
//! snapshot holds the checkpoint back makes the log grow past the bound, visibly (`PagerStats::
//! checkpoint_held_back`, a warning), and costs at most one partial checkpoint per
//! `held_back_retry`, never one per commit.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{CheckpointMode, Pager};
use crate::{Lsn, PageLog};

/// When to checkpoint, automatically. Every trigger fires on its own; the first one reached
/// wins.
///
/// The defaults, and why:
/// - `log_bytes_target` 16 MiB: a checkpoint then copies at most about 4,096 pages of 4 KiB,
///   tens of milliseconds of I/O, and repeated writes of a hot page within that window cost
///   one copy.
/// - `log_bytes_max` 64 MiB: recovery replays at most that much, and the log file stays that
///   small plus one transaction.
/// - `interval` 30 s: an idle database has its commits in the data files within half a minute.
///
/// ```
/// use std::time::Duration;
/// use redwood_pager::{CheckpointInputs, CheckpointMode, CheckpointPolicy};
///
/// let policy = CheckpointPolicy::default();
/// let quiet = CheckpointInputs { log_bytes: 1 << 20, ..CheckpointInputs::default() };
/// assert_eq!(policy.decide(&quiet), None);
/// let full = CheckpointInputs { log_bytes: 20 << 20, can_advance: true, ..quiet };
/// assert_eq!(policy.decide(&full), Some(CheckpointMode::Full));
/// assert!(!policy.bound_reached(&full));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct CheckpointPolicy {
    /// Checkpoint (on the background worker, if one runs) once the log holds this many bytes.
    pub log_bytes_target: u64,
    /// The bound: once the log holds this many bytes, the next write transaction checkpoints
    /// before it begins, unless a reader holds the checkpoint back.
    pub log_bytes_max: u64,
    /// Checkpoint once the log holds this many page versions not yet in the data files.
    pub log_versions_max: u64,
    /// Checkpoint at least this often while the log holds anything.
    pub interval: Option<Duration>,
    /// While a reader holds the checkpoint back, run a partial one at most this often.
    pub held_back_retry: Duration,
    /// A checkpoint that finds the log at least this large cuts the file back to its header
    /// (truncate mode); below it the file is reused in place (full mode).
    pub truncate_log_bytes: u64,
}

impl Default for CheckpointPolicy {
    fn default() -> Self {
        Self {
            log_bytes_target: 16 << 20,
            log_bytes_max: 64 << 20,
            log_versions_max: 4096,
            interval: Some(Duration::from_secs(30)),
            held_back_retry: Duration::from_secs(1),
            truncate_log_bytes: 64 << 20,
        }
    }
}

/// What the policy decides from.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct CheckpointInputs {
    /// Bytes of log in use.
    pub log_bytes: u64,
    /// Page versions in the log not yet in the data files.
    pub log_versions: u64,
    /// Time since the last checkpoint (or since open).
    pub since_last_checkpoint: Duration,
    /// Whether a checkpoint would copy anything: a commit no reader needs kept in the log is
    /// not yet in the data files.
    pub can_advance: bool,
    /// Whether a reader's snapshot stops a checkpoint short of the last commit (the log cannot
    /// restart until it ends).
    pub held_back: bool,
    /// Whether a checkpoint was asked for (a per-table trigger fired).
    pub requested: bool,
}

impl CheckpointPolicy {
    /// Whether to checkpoint now, and how. Pure: same inputs, same answer.
    pub fn decide(&self, inputs: &CheckpointInputs) -> Option<CheckpointMode> {
        if !inputs.can_advance {
            return None;
        }
        let interval_elapsed =
            self.interval.is_some_and(|every| inputs.since_last_checkpoint >= every);
        let due = inputs.log_bytes >= self.log_bytes_target
            || inputs.log_bytes >= self.log_bytes_max
            || inputs.log_versions >= self.log_versions_max
            || interval_elapsed
            || inputs.requested;
        if !due || (inputs.held_back && inputs.since_last_checkpoint < self.held_back_retry) {
            return None;
        }
        Some(self.mode(inputs))
    }

    /// Whether the log has reached the bound and a checkpoint can bring it back (no reader
    /// holds it back): the next write transaction then checkpoints before it begins.
    pub fn bound_reached(&self, inputs: &CheckpointInputs) -> bool {
        inputs.can_advance && !inputs.held_back && inputs.log_bytes >= self.log_bytes_max
    }

    /// The mode of an automatic checkpoint: full, or truncate once the log file is large.
    pub fn mode(&self, inputs: &CheckpointInputs) -> CheckpointMode {
        if inputs.log_bytes >= self.truncate_log_bytes {
            CheckpointMode::Truncate
        } else {
            CheckpointMode::Full
        }
    }

    /// Checks the settings: a target at most the bound, neither bound zero.
    pub fn validate(&self) -> Result<(), String> {
        if self.log_bytes_target > self.log_bytes_max {
            return Err(format!(
                "log_bytes_target {} is above log_bytes_max {}",
                self.log_bytes_target, self.log_bytes_max
            ));
        }
        if self.log_bytes_target == 0 || self.log_versions_max == 0 {
            return Err("log_bytes_target and log_versions_max must be at least 1".to_owned());
        }
        Ok(())
    }
}

impl<L: PageLog> Pager<L> {
    /// The automatic checkpoints' policy, if they are on.
    pub fn checkpoint_policy(&self) -> Option<CheckpointPolicy> {
        self.checkpointer.policy
    }

    /// What the checkpoint policy decides from, now.
    pub fn checkpoint_inputs(&self) -> CheckpointInputs {
        let target = self.snapshots.checkpoint_target();
        let last_commit = self.snapshots.last_commit();
        let (checkpoint_lsn, log_versions) = {
            let state = self.state_read();
            (state.checkpoint_lsn, state.index.version_count() as u64)
        };
        let log_floor = Lsn::new(self.log_floor.load(Ordering::Acquire));
        // Something to copy, or everything copied but the log not yet restarted.
        let can_advance =
            target > checkpoint_lsn || (target == last_commit && log_floor < last_commit);
        CheckpointInputs {
            log_bytes: self.log_bytes.load(Ordering::Relaxed),
            log_versions,
            since_last_checkpoint: self.checkpointer.since_last(),
            can_advance,
            held_back: target < last_commit,
            requested: self.checkpointer.requested.load(Ordering::Acquire),
        }
    }

    /// Asks for an automatic checkpoint soon (what a per-table trigger does): the policy counts
    /// it as due. Runs it on this thread unless a worker runs; does nothing if automatic
    /// checkpoints are off.
    pub fn request_checkpoint(&self) {
        if self.checkpointer.policy.is_some() {
            self.checkpointer.requested.store(true, Ordering::Release);
            self.after_commit();
        }
    }

    /// Starts a background thread that runs the automatic checkpoints; commits then only wake
    /// it (below the bound). Stops when the returned worker is dropped.
    pub fn start_checkpoint_worker(self: &Arc<Self>) -> std::io::Result<CheckpointWorker<L>>
    where
        L: 'static,
        Self: Send + Sync,
    {
        CheckpointWorker::start(self)
    }

    /// At the start of a write transaction (writer lock held), with the log past the bound:
    /// checkpoints unless a reader holds it back, in which case it warns once per episode. A
    /// failed checkpoint is logged here; an I/O failure has poisoned the pager, which the caller
    /// checks.
    pub(super) fn enforce_log_bound(
        &self,
        log: &mut std::sync::MutexGuard<'_, L>,
        policy: &CheckpointPolicy,
    ) {
        let inputs = self.checkpoint_inputs();
        if policy.bound_reached(&inputs) {
            self.checkpointer.held_back_warned.store(false, Ordering::Relaxed);
            if let Err(error) = self.checkpoint_holding(log, policy.mode(&inputs)) {
                tracing::warn!(target: "redwood::checkpoint", %error, "automatic checkpoint failed");
            }
        }
    }

    /// After a commit, with the writer lock released: wake the worker, or checkpoint on this
    /// thread if none runs, when the policy says so. A failed checkpoint is logged (an I/O
    /// failure has poisoned the pager; the commit itself stands).
    pub(super) fn after_commit(&self) {
        let Some(policy) = self.checkpointer.policy else { return };
        let inputs = self.checkpoint_inputs();
        if inputs.held_back && inputs.log_bytes >= policy.log_bytes_max {
            if !self.checkpointer.held_back_warned.swap(true, Ordering::Relaxed) {
                let (_, oldest_reader) = self.snapshots.readers();
                tracing::warn!(
                    target: "redwood::checkpoint",
                    log_bytes = inputs.log_bytes,
                    log_bytes_max = policy.log_bytes_max,
                    oldest_reader = oldest_reader.map(Lsn::get),
                    "a reader holds the checkpoint back: the log grows past its bound until it ends"
                );
            }
        } else {
            self.checkpointer.held_back_warned.store(false, Ordering::Relaxed);
        }
        if policy.decide(&inputs).is_none() {
            return;
        }
        if self.checkpointer.background.load(Ordering::Acquire) {
            self.checkpointer.wake_worker();
        } else {
            self.run_checkpoint(policy.mode(&inputs));
        }
    }

    /// The worker's turn: checkpoints if the policy says so.
    pub(super) fn run_due_checkpoint(&self) {
        let Some(policy) = self.checkpointer.policy else { return };
        let inputs = self.checkpoint_inputs();
        if let Some(mode) = policy.decide(&inputs) {
            self.run_checkpoint(mode);
        }
    }

    fn run_checkpoint(&self, mode: CheckpointMode) {
        if let Err(error) = self.checkpoint(mode) {
            tracing::warn!(target: "redwood::checkpoint", %error, "automatic checkpoint failed");
        }
    }
}

/// How often a background worker wakes without being woken (for the interval trigger and
/// the held-back retry).
const WORKER_POLL: Duration = Duration::from_millis(250);

/// The pager's automatic-checkpoint state: the policy, when the last checkpoint ran, a pending
/// request, and the worker's wake-up.
#[derive(Debug)]
pub(crate) struct Checkpointer {
    pub policy: Option<CheckpointPolicy>,
    pub last_checkpoint: Mutex<Instant>,
    pub requested: AtomicBool,
    /// Whether a background worker runs (commits then wake it instead of checkpointing).
    pub background: AtomicBool,
    /// Whether the held-back warning was logged for the current episode.
    pub held_back_warned: AtomicBool,
    wakeup: super::wakeup::Wakeup,
}

impl Checkpointer {
    pub fn new(policy: Option<CheckpointPolicy>) -> Self {
        Self {
            policy,
            last_checkpoint: Mutex::new(Instant::now()),
            requested: AtomicBool::new(false),
            background: AtomicBool::new(false),
            held_back_warned: AtomicBool::new(false),
            wakeup: super::wakeup::Wakeup::default(),
        }
    }

    pub fn since_last(&self) -> Duration {
        self.last_checkpoint.lock().unwrap_or_else(PoisonError::into_inner).elapsed()
    }

    /// Records that a checkpoint ran now (any checkpoint, automatic or asked for).
    pub fn ran(&self) {
        *self.last_checkpoint.lock().unwrap_or_else(PoisonError::into_inner) = Instant::now();
        self.requested.store(false, Ordering::Release);
    }

    pub fn wake_worker(&self) {
        self.wakeup.wake();
    }
}

/// A background thread that runs the pager's automatic checkpoints (see
/// [`Pager::start_checkpoint_worker`]). Dropping it stops the thread and waits for it; commits
/// then checkpoint on their own thread again.
pub struct CheckpointWorker<L: PageLog> {
    pager: Arc<Pager<L>>,
    thread: Option<JoinHandle<()>>,
}

impl<L: PageLog + 'static> CheckpointWorker<L>
where
    Pager<L>: Send + Sync,
{
    pub(crate) fn start(pager: &Arc<Pager<L>>) -> std::io::Result<Self> {
        pager.checkpointer.wakeup.reset();
        pager.checkpointer.background.store(true, Ordering::Release);
        let shared = Arc::clone(pager);
        let spawned = std::thread::Builder::new()
            .name("redwood-checkpoint".to_owned())
            .spawn(move || run_worker(&shared));
        match spawned {
            Ok(thread) => Ok(Self { pager: Arc::clone(pager), thread: Some(thread) }),
            Err(error) => {
                pager.checkpointer.background.store(false, Ordering::Release);
                Err(error)
            }
        }
    }
}

fn run_worker<L: PageLog>(pager: &Pager<L>) {
    let checkpointer = &pager.checkpointer;
    loop {
        if pager.is_poisoned() {
            return;
        }
        pager.run_due_checkpoint();
        if checkpointer.wakeup.wait(WORKER_POLL) {
            return;
        }
    }
}

impl<L: PageLog> Drop for CheckpointWorker<L> {
    fn drop(&mut self) {
        let checkpointer = &self.pager.checkpointer;
        checkpointer.wakeup.stop();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        checkpointer.background.store(false, Ordering::Release);
    }
}

impl<L: PageLog> std::fmt::Debug for CheckpointWorker<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckpointWorker")
            .field("policy", &self.pager.checkpointer.policy)
            .field("running", &self.thread.is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(log_bytes: u64, log_versions: u64, seconds: u64) -> CheckpointInputs {
        CheckpointInputs {
            log_bytes,
            log_versions,
            since_last_checkpoint: Duration::from_secs(seconds),
            can_advance: true,
            ..CheckpointInputs::default()
        }
    }

    fn policy() -> CheckpointPolicy {
        CheckpointPolicy {
            log_bytes_target: 1000,
            log_bytes_max: 4000,
            log_versions_max: 10,
            interval: Some(Duration::from_secs(60)),
            held_back_retry: Duration::from_secs(2),
            truncate_log_bytes: 5000,
        }
    }

    #[test]
    fn each_trigger_fires_on_its_own_and_nothing_to_copy_never_does() {
        let policy = policy();
        assert_eq!(policy.decide(&inputs(999, 9, 59)), None);
        assert_eq!(policy.decide(&inputs(1000, 1, 0)), Some(CheckpointMode::Full));
        assert_eq!(policy.decide(&inputs(10, 10, 0)), Some(CheckpointMode::Full));
        assert_eq!(policy.decide(&inputs(10, 1, 60)), Some(CheckpointMode::Full));
        assert_eq!(policy.decide(&inputs(5000, 1, 0)), Some(CheckpointMode::Truncate));
        let requested = CheckpointInputs { requested: true, ..inputs(10, 1, 0) };
        assert_eq!(policy.decide(&requested), Some(CheckpointMode::Full));
        let nothing = CheckpointInputs { can_advance: false, ..inputs(1_000_000, 50, 1000) };
        assert_eq!(policy.decide(&nothing), None, "nothing to checkpoint");
        let no_interval = CheckpointPolicy { interval: None, ..policy };
        assert_eq!(no_interval.decide(&inputs(10, 1, 1_000_000)), None);
    }

    #[test]
    fn a_held_back_checkpoint_is_retried_at_most_once_per_retry_interval() {
        let policy = policy();
        let held = |seconds| CheckpointInputs { held_back: true, ..inputs(4500, 1, seconds) };
        assert_eq!(policy.decide(&held(1)), None, "ran a second ago");
        assert_eq!(policy.decide(&held(2)), Some(CheckpointMode::Full));
        assert!(!policy.bound_reached(&held(100)), "the writer never checkpoints for nothing");
        assert!(policy.bound_reached(&inputs(4000, 1, 0)));
        assert!(!policy.bound_reached(&inputs(3999, 1, 0)));
    }

    #[test]
    fn validate_refuses_a_target_above_the_bound() {
        assert!(policy().validate().is_ok());
        assert!(CheckpointPolicy::default().validate().is_ok());
        let inverted = CheckpointPolicy { log_bytes_target: 5000, ..policy() };
        assert!(inverted.validate().is_err());
    }
}
