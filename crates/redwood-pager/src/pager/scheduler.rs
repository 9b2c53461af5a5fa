//! Background checkpoints: `CheckpointPolicy` is a pure decider over what the pager reports;
//! `CheckpointScheduler` is the mechanism that asks it and acts, on a thread of its own.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{CheckpointMode, CheckpointOutcome, Pager, PagerStats};
use crate::PageLog;
use crate::error::Result;

/// When to checkpoint. Every field is a trigger; the first one reached fires.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct CheckpointPolicy {
    /// Checkpoint once the log holds this many bytes.
    pub log_bytes_max: u64,
    /// Checkpoint once the log holds this many page versions not yet in the data files.
    pub log_versions_max: u64,
    /// Checkpoint at least this often while the log holds anything.
    pub interval: Option<Duration>,
    /// Cut the log file back (truncate mode) once it has grown to this many bytes; below it the
    /// file is reused in place (full mode).
    pub truncate_log_bytes: u64,
}

impl Default for CheckpointPolicy {
    fn default() -> Self {
        Self {
            log_bytes_max: 64 << 20,
            log_versions_max: 16_384,
            interval: Some(Duration::from_secs(30)),
            truncate_log_bytes: 256 << 20,
        }
    }
}

/// What the policy decides from.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct CheckpointInputs {
    /// Bytes of log in use.
    pub log_bytes: u64,
    /// Page versions in the log not yet in the data files.
    pub log_versions: u64,
    /// Time since the last checkpoint (or since open).
    pub since_last_checkpoint: Duration,
}

impl CheckpointInputs {
    /// The inputs as a pager's statistics show them.
    pub fn from_stats(stats: &PagerStats, since_last_checkpoint: Duration) -> Self {
        Self { log_bytes: stats.log_bytes, log_versions: stats.log_versions, since_last_checkpoint }
    }
}

impl CheckpointPolicy {
    /// Whether to checkpoint now, and how. Pure: same inputs, same answer.
    pub fn decide(&self, inputs: &CheckpointInputs) -> Option<CheckpointMode> {
        if inputs.log_versions == 0 {
            return None;
        }
        let interval_elapsed =
            self.interval.is_some_and(|every| inputs.since_last_checkpoint >= every);
        let due = inputs.log_bytes >= self.log_bytes_max
            || inputs.log_versions >= self.log_versions_max
            || interval_elapsed;
        if !due {
            return None;
        }
        let mode = if inputs.log_bytes >= self.truncate_log_bytes {
            CheckpointMode::Truncate
        } else {
            CheckpointMode::Full
        };
        Some(mode)
    }
}

/// Runs checkpoints when a policy says so.
pub struct CheckpointScheduler<L: PageLog> {
    shared: Arc<Shared<L>>,
    thread: Option<JoinHandle<()>>,
}

struct Shared<L: PageLog> {
    pager: Arc<Pager<L>>,
    policy: CheckpointPolicy,
    last_checkpoint: Mutex<Instant>,
    stop: AtomicBool,
    wake: Condvar,
    sleeping: Mutex<()>,
}

impl<L: PageLog> Shared<L> {
    fn tick(&self) -> Result<Option<CheckpointOutcome>> {
        let mut last = self.last_checkpoint.lock().unwrap_or_else(PoisonError::into_inner);
        let inputs = CheckpointInputs::from_stats(&self.pager.stats(), last.elapsed());
        let Some(mode) = self.policy.decide(&inputs) else { return Ok(None) };
        let outcome = self.pager.checkpoint(mode)?;
        *last = Instant::now();
        Ok(Some(outcome))
    }
}

impl<L: PageLog> CheckpointScheduler<L>
where
    L: 'static,
    Pager<L>: Send + Sync,
{
    /// A scheduler that checkpoints `pager` by `policy` when ticked.
    pub fn new(pager: Arc<Pager<L>>, policy: CheckpointPolicy) -> Self {
        let shared = Arc::new(Shared {
            pager,
            policy,
            last_checkpoint: Mutex::new(Instant::now()),
            stop: AtomicBool::new(false),
            wake: Condvar::new(),
            sleeping: Mutex::new(()),
        });
        Self { shared, thread: None }
    }

    /// Asks the policy once and checkpoints if it says so. The background thread calls this;
    /// tests and applications with their own event loop may call it directly.
    pub fn tick(&self) -> Result<Option<CheckpointOutcome>> {
        self.shared.tick()
    }

    /// Ticks on a background thread every `poll`, until the scheduler is dropped. A failed
    /// checkpoint (the pager is then poisoned) ends the thread.
    pub fn start(mut self, poll: Duration) -> Self {
        let shared = Arc::clone(&self.shared);
        self.thread = Some(std::thread::spawn(move || {
            loop {
                if shared.tick().is_err() {
                    return;
                }
                // `stop` is set under `sleeping`, so it cannot slip in between this check and
                // the wait.
                let guard = shared.sleeping.lock().unwrap_or_else(PoisonError::into_inner);
                if shared.stop.load(Ordering::Acquire) {
                    return;
                }
                let _ = shared.wake.wait_timeout(guard, poll);
                if shared.stop.load(Ordering::Acquire) {
                    return;
                }
            }
        }));
        self
    }
}

impl<L: PageLog> Drop for CheckpointScheduler<L> {
    fn drop(&mut self) {
        {
            let _sleeping = self.shared.sleeping.lock().unwrap_or_else(PoisonError::into_inner);
            self.shared.stop.store(true, Ordering::Release);
        }
        self.shared.wake.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl<L: PageLog> std::fmt::Debug for CheckpointScheduler<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckpointScheduler")
            .field("policy", &self.shared.policy)
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
        }
    }

    #[test]
    fn each_trigger_fires_on_its_own_and_an_empty_log_never_does() {
        let policy = CheckpointPolicy {
            log_bytes_max: 1000,
            log_versions_max: 10,
            interval: Some(Duration::from_secs(60)),
            truncate_log_bytes: 5000,
        };
        assert_eq!(policy.decide(&inputs(999, 9, 59)), None);
        assert_eq!(policy.decide(&inputs(1000, 1, 0)), Some(CheckpointMode::Full));
        assert_eq!(policy.decide(&inputs(10, 10, 0)), Some(CheckpointMode::Full));
        assert_eq!(policy.decide(&inputs(10, 1, 60)), Some(CheckpointMode::Full));
        assert_eq!(policy.decide(&inputs(5000, 1, 0)), Some(CheckpointMode::Truncate));
        assert_eq!(policy.decide(&inputs(1_000_000, 0, 1000)), None, "nothing to checkpoint");
        let no_interval = CheckpointPolicy { interval: None, ..policy };
        assert_eq!(no_interval.decide(&inputs(10, 1, 1_000_000)), None);
    }
}
