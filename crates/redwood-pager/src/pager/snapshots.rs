//! `Snapshots`: the last published commit (with its root slots) and the snapshots open readers hold, under one lock.
//!
//! The protocol it guarantees (checked by the loom model below): a reader's snapshot is taken
//! and registered in one step, and a checkpoint's target is computed in one step as the minimum
//! of the registered snapshots and the last commit. Hence a checkpoint never copies into the data
//! files a version newer than the snapshot of any reader that could still read those files: a
//! reader registered before the target was computed holds it down; one registered after gets a
//! snapshot at or above the last commit at that time, which is at or above the target.

use std::collections::BTreeMap;

#[cfg(loom)]
use loom::sync::Mutex;
#[cfg(not(loom))]
use std::sync::Mutex;

use super::index::Roots;
use crate::Lsn;

/// The last commit and the registered reader snapshots.
#[derive(Debug)]
pub(crate) struct Snapshots {
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    last_commit: Lsn,
    /// The root slots as of `last_commit`, so a reader takes its snapshot and its roots in one
    /// step, under this lock only.
    roots: Roots,
    /// Snapshot -> number of readers holding it.
    readers: BTreeMap<Lsn, u64>,
}

impl Snapshots {
    pub fn new(last_commit: Lsn, roots: Roots) -> Self {
        Self { inner: Mutex::new(Inner { last_commit, roots, readers: BTreeMap::new() }) }
    }

    fn lock(&self) -> impl std::ops::DerefMut<Target = Inner> + '_ {
        #[cfg(not(loom))]
        return self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        #[cfg(loom)]
        return self.inner.lock().unwrap();
    }

    /// Takes and registers a reader's snapshot: the last published commit.
    #[cfg(loom)]
    pub fn begin(&self) -> Lsn {
        self.begin_with_roots().0
    }

    /// [`Snapshots::begin`], with the root slots as of the snapshot.
    pub fn begin_with_roots(&self) -> (Lsn, Roots) {
        let mut inner = self.lock();
        let snapshot = inner.last_commit;
        *inner.readers.entry(snapshot).or_default() += 1;
        (snapshot, inner.roots)
    }

    /// Registers one more holder of `snapshot` if a reader still holds it, so work done on a
    /// reader's behalf (prefetch) is protected as the reader was; `false` (nothing registered)
    /// once every reader of it has ended, when a checkpoint may already have gone past it.
    /// Each `true` must be paired with an `end`.
    pub fn join(&self, snapshot: Lsn) -> bool {
        let mut inner = self.lock();
        match inner.readers.get_mut(&snapshot) {
            Some(count) => {
                *count += 1;
                true
            }
            None => false,
        }
    }

    /// Releases a snapshot taken by `begin` (or joined by `join`).
    pub fn end(&self, snapshot: Lsn) {
        let mut inner = self.lock();
        let count = inner.readers.get_mut(&snapshot).expect("ended a snapshot never begun");
        *count -= 1;
        if *count == 0 {
            inner.readers.remove(&snapshot);
        }
    }

    /// Publishes a new commit and the roots after it; new readers see it from now on.
    pub fn publish(&self, commit_lsn: Lsn, roots: Roots) {
        let mut inner = self.lock();
        assert!(commit_lsn > inner.last_commit, "commits are published in order");
        inner.last_commit = commit_lsn;
        inner.roots = roots;
    }

    /// The last published commit.
    pub fn last_commit(&self) -> Lsn {
        self.lock().last_commit
    }

    /// How far a checkpoint may go: the oldest registered snapshot, or the last commit.
    pub fn checkpoint_target(&self) -> Lsn {
        let inner = self.lock();
        inner
            .readers
            .keys()
            .next()
            .map_or(inner.last_commit, |&oldest| oldest.min(inner.last_commit))
    }

    /// Open readers and the oldest snapshot among them.
    pub fn readers(&self) -> (u64, Option<Lsn>) {
        let inner = self.lock();
        (inner.readers.values().sum(), inner.readers.keys().next().copied())
    }

    /// A broken `begin` that reads and registers in two steps, kept to show the loom model
    /// catches the race it allows.
    #[cfg(loom)]
    fn begin_in_two_steps(&self) -> Lsn {
        let snapshot = self.lock().last_commit;
        *self.lock().readers.entry(snapshot).or_default() += 1;
        snapshot
    }
}

#[cfg(loom)]
mod loom_model {
    //! Exhaustive interleavings of a writer publishing, a checkpointer copying up to its target,
    //! and a reader that reads the data file after registering: the file never holds a version
    //! newer than the reader's snapshot. Run with `RUSTFLAGS="--cfg loom" cargo test -p
    //! redwood-pager --lib loom` (`cargo xtask ci` does).

    use loom::sync::Arc;
    use loom::sync::atomic::{AtomicU64, Ordering};

    use super::Snapshots;
    use crate::Lsn;

    fn model(begin: fn(&Snapshots) -> Lsn) {
        loom::model(move || {
            let snapshots =
                Arc::new(Snapshots::new(Lsn::new(1), [None; crate::limits::ROOT_SLOTS]));
            // The newest commit whose versions a checkpoint has copied into the data files.
            let file_version = Arc::new(AtomicU64::new(1));
            let writer = {
                let snapshots = Arc::clone(&snapshots);
                loom::thread::spawn(move || {
                    snapshots.publish(Lsn::new(2), [None; crate::limits::ROOT_SLOTS]);
                    snapshots.publish(Lsn::new(3), [None; crate::limits::ROOT_SLOTS]);
                })
            };
            let checkpointer = {
                let (snapshots, file_version) = (Arc::clone(&snapshots), Arc::clone(&file_version));
                loom::thread::spawn(move || {
                    let target = snapshots.checkpoint_target();
                    file_version.fetch_max(target.get(), Ordering::SeqCst);
                })
            };
            let snapshot = begin(&snapshots);
            let in_file = file_version.load(Ordering::SeqCst);
            assert!(in_file <= snapshot.get(), "file at {in_file}, reader at {}", snapshot.get());
            snapshots.end(snapshot);
            writer.join().unwrap();
            checkpointer.join().unwrap();
        });
    }

    #[test]
    fn loom_a_reader_never_finds_the_file_past_its_snapshot() {
        model(Snapshots::begin);
    }

    #[test]
    #[should_panic(expected = "file at")]
    fn loom_the_model_catches_a_begin_that_registers_late() {
        model(Snapshots::begin_in_two_steps);
    }
}
