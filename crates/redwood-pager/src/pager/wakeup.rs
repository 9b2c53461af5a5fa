//! `Wakeup`: how commits wake the checkpoint worker, and how dropping the worker stops it. A
//! wake-up that comes while the worker is busy (between its turn and its wait) is kept as
//! pending, so it is never lost: the worker's next wait returns at once. The loom model below
//! checks it (with the pending flag taken out, loom reports the lost wake-up as a deadlock;
//! that run aborts the test process, so it is not kept as a test).

#[cfg(loom)]
use loom::sync::{Condvar, Mutex};
use std::sync::PoisonError;
#[cfg(not(loom))]
use std::sync::{Condvar, Mutex};
use std::time::Duration;

#[derive(Debug, Default)]
struct State {
    /// A wake-up not yet taken by a wait.
    pending: bool,
    /// The worker is to stop.
    stop: bool,
}

/// A worker's wake-up and stop signal (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct Wakeup {
    state: Mutex<State>,
    condvar: Condvar,
}

impl Wakeup {
    /// Wakes the worker, now or at its next wait.
    pub fn wake(&self) {
        self.lock().pending = true;
        self.condvar.notify_all();
    }

    /// Tells the worker to stop, now or at its next wait.
    pub fn stop(&self) {
        self.lock().stop = true;
        self.condvar.notify_all();
    }

    /// Clears a stop and any pending wake-up, for a new worker.
    pub fn reset(&self) {
        *self.lock() = State::default();
    }

    /// Waits until woken (or a wake-up is pending), stopped, or `timeout` passes; takes the
    /// pending wake-up. Returns whether to stop.
    pub fn wait(&self, timeout: Duration) -> bool {
        let mut state = self.lock();
        if !state.pending && !state.stop {
            state = self.wait_on(state, timeout);
        }
        state.pending = false;
        state.stop
    }

    #[cfg(not(loom))]
    fn wait_on<'a>(
        &self,
        state: std::sync::MutexGuard<'a, State>,
        timeout: Duration,
    ) -> std::sync::MutexGuard<'a, State> {
        self.condvar.wait_timeout(state, timeout).unwrap_or_else(PoisonError::into_inner).0
    }

    /// Under loom, a wait without a timeout: a lost wake-up then shows as a deadlock.
    #[cfg(loom)]
    fn wait_on<'a>(
        &self,
        state: loom::sync::MutexGuard<'a, State>,
        _timeout: Duration,
    ) -> loom::sync::MutexGuard<'a, State> {
        self.condvar.wait(state).unwrap_or_else(PoisonError::into_inner)
    }

    #[cfg(not(loom))]
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    #[cfg(loom)]
    fn lock(&self) -> loom::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(loom)]
mod loom_model {
    //! A committer publishes work and wakes the worker while the worker runs two turns with a
    //! wait between them: whatever the interleaving, the wait returns and the second turn sees
    //! the work (no lost wake-up: loom reports a deadlock otherwise). And a stop ends a worker
    //! whether it comes before or during its wait.
    //! `RUSTFLAGS="--cfg loom" cargo test -p redwood-pager --lib loom` (`cargo xtask ci` does).

    use loom::sync::Arc;
    use loom::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;

    use super::Wakeup;

    fn wake_model(wait: fn(&Wakeup) -> bool) {
        loom::model(move || {
            let wakeup = Arc::new(Wakeup::default());
            let work = Arc::new(AtomicU64::new(0));
            let worker = {
                let (wakeup, work) = (Arc::clone(&wakeup), Arc::clone(&work));
                loom::thread::spawn(move || {
                    let _first_turn = work.load(Ordering::Acquire);
                    assert!(!wait(&wakeup), "not stopped");
                    assert_eq!(work.load(Ordering::Acquire), 1, "the next turn sees the work");
                })
            };
            work.store(1, Ordering::Release);
            wakeup.wake();
            worker.join().unwrap();
        });
    }

    #[test]
    fn loom_a_wake_up_while_the_worker_is_busy_is_not_lost() {
        wake_model(|wakeup| wakeup.wait(Duration::from_secs(1)));
    }

    #[test]
    fn loom_a_stop_ends_the_worker_before_or_during_its_wait() {
        loom::model(|| {
            let wakeup = Arc::new(Wakeup::default());
            let worker = {
                let wakeup = Arc::clone(&wakeup);
                loom::thread::spawn(move || while !wakeup.wait(Duration::from_secs(1)) {})
            };
            wakeup.wake();
            wakeup.stop();
            worker.join().unwrap();
        });
    }
}
