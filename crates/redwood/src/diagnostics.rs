//! Diagnostics and alerts (R3, R4, R7): `Database::diagnostics` gathers one
//! [`Diagnostics`] snapshot from the pager, the log, the buffer pool and the process;
//! `Database::check_alerts` compares it with the `DiagnosticsConfig` thresholds given to the
//! builder, and a sampler thread does the same on its own every `sample_interval`.
//!
//! Exporters outlive a borrow of the database, so they read through
//! `Database::diagnostics_source`, which holds the database weakly: once it is closed, the
//! source yields nothing and keeps no file open.

use std::cell::Cell;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError, RwLock, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redwood_bufpool::BufferPool;
use redwood_pager::{PageFileCounters, Pager};
use redwood_telemetry::{
    Alert, AlertMonitor, CheckpointDiagnostics, Diagnostics, DiagnosticsSource, PagerCounters,
    PagerDiagnostics, ThrashingPage, WalCounters, WalDiagnostics, process_stats,
};
use redwood_wal::Wal;

use crate::database::Database;

thread_local! {
    /// Whether this thread is inside `Hub::check_alerts` (an alert callback that checks again
    /// gets no crossings rather than a deadlock).
    static EVALUATING: Cell<bool> = const { Cell::new(false) };
}

/// What a snapshot is read from: shared by the database, its sampler and its sources.
pub(crate) struct Hub {
    /// The pager while the database is open; `Database::drop` takes it out (waiting for any
    /// snapshot in progress), so no source or sampler ever holds the files open after a close.
    pub pager: RwLock<Option<Arc<Pager<Wal>>>>,
    pub pool: Arc<BufferPool>,
    pub log_counters: Arc<WalCounters>,
    pub file_counters: Arc<PageFileCounters>,
    pub pager_counters: Arc<PagerCounters>,
    pub monitor: Option<AlertMonitor>,
    /// Serializes `check_alerts`, so snapshots are judged, and callbacks called, in order.
    pub evaluation: Mutex<()>,
}

impl Hub {
    /// One snapshot now, or `None` once the database is closed.
    pub fn collect(&self) -> Option<Diagnostics> {
        let pager = self.pager.read().unwrap_or_else(PoisonError::into_inner);
        let pager = pager.as_ref()?;
        let stats = pager.stats();
        let counters = &self.pager_counters;
        let load = |counter: &std::sync::atomic::AtomicU64| {
            counter.load(std::sync::atomic::Ordering::Relaxed)
        };
        let thrashing_pages = self
            .pool
            .thrash_reports()
            .into_iter()
            .map(|report| ThrashingPage { page_id: report.page_id.get(), reloads: report.reloads })
            .collect();
        Some(Diagnostics {
            taken_at_unix_ms: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |since| since.as_millis() as u64),
            pool: self.pool.stats(),
            thrashing_pages,
            wal: WalDiagnostics {
                bytes_in_use: stats.log_bytes,
                page_versions: stats.log_versions,
                written: self.log_counters.snapshot(),
            },
            checkpoints: CheckpointDiagnostics {
                checkpoints: stats.checkpoints,
                pages_checkpointed: load(&counters.pages_checkpointed),
                lost_writes_repaired: load(&counters.lost_writes_repaired),
                archive_failures: load(&counters.archive_failures),
                checkpoint_lsn: stats.checkpoint_lsn.get(),
                last_commit_lsn: stats.last_commit.get(),
                readers: stats.readers,
                oldest_reader_lag: stats.oldest_reader_lag,
                log_bytes_max: pager.checkpoint_policy().map_or(0, |policy| policy.log_bytes_max),
                held_back: stats.checkpoint_held_back,
            },
            pager: PagerDiagnostics {
                page_size_bytes: stats.page_size_bytes,
                page_count: stats.page_count,
                free_pages: stats.free_pages,
                segments: stats.segments,
                data_file_bytes: stats.file_bytes,
                commits: stats.commits,
                aborts: load(&counters.aborts),
                prefetched: stats.prefetched,
                io: self.file_counters.snapshot(),
            },
            process: process_stats(),
            poisoned: pager.is_poisoned(),
        })
    }

    /// Closes the hub: waits for snapshots in progress, then lets go of the pager.
    pub fn close(&self) {
        *self.pager.write().unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// Takes a snapshot and checks it against the thresholds, if any are configured. One
    /// check at a time, so the sampler and a caller never judge snapshots out of order; a
    /// callback that checks again (on the same thread) gets nothing back.
    pub fn check_alerts(&self) -> Vec<Alert> {
        let Some(monitor) = &self.monitor else { return Vec::new() };
        if EVALUATING.with(Cell::get) {
            return Vec::new();
        }
        let _turn = self.evaluation.lock().unwrap_or_else(PoisonError::into_inner);
        EVALUATING.with(|flag| flag.set(true));
        let alerts = self.collect().map(|snapshot| monitor.evaluate(&snapshot));
        EVALUATING.with(|flag| flag.set(false));
        alerts.unwrap_or_default()
    }
}

/// A [`DiagnosticsSource`] that holds the database weakly.
struct WeakSource(Weak<Hub>);

impl DiagnosticsSource for WeakSource {
    fn diagnostics(&self) -> Option<Diagnostics> {
        self.0.upgrade()?.collect()
    }
}

/// The background thread that checks the thresholds every interval; stopped and joined on drop.
pub(crate) struct Sampler {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Sampler {
    /// Starts sampling `hub` every `interval`.
    pub fn start(hub: &Arc<Hub>, interval: Duration) -> std::io::Result<Sampler> {
        let (stop, stopped) = mpsc::channel::<()>();
        let hub = Arc::downgrade(hub);
        let thread =
            std::thread::Builder::new().name("redwood-diagnostics".into()).spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(interval) {
                    let Some(hub) = hub.upgrade() else { return };
                    hub.check_alerts();
                }
            })?;
        Ok(Sampler { stop: Some(stop), thread: Some(thread) })
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        drop(self.stop.take()); // disconnects: the thread's wait ends at once
        if let Some(thread) = self.thread.take() {
            // The last handle to the database may be dropped by an alert callback, on the
            // sampler's own thread: it ends by itself once this returns (the channel is gone).
            if thread.thread().id() != std::thread::current().id() {
                // A panic in the alert callback ended the thread already; nothing to stop.
                let _ = thread.join();
            }
        }
    }
}

impl Database {
    /// One snapshot of the database and its process (see [`Diagnostics`] for how close it is): buffer pool, write-ahead log,
    /// checkpoints, pager and files, thrashing pages, RSS and (with a
    /// [`CountingAllocator`](redwood_telemetry::CountingAllocator) installed) the heap.
    ///
    /// ```
    /// let db = redwood::Database::in_memory()?;
    /// let write = db.begin_write()?;
    /// write.open_table("t")?.insert(b"k", b"v")?;
    /// write.commit()?;
    /// db.begin_read()?.open_table("t")?.get(b"k")?;
    ///
    /// let diagnostics = db.diagnostics();
    /// assert_eq!(diagnostics.pager.commits, 1);
    /// assert_eq!(diagnostics.wal.written.commits, 1);
    /// assert!(diagnostics.wal.bytes_in_use > 0); // not checkpointed yet
    /// assert!(diagnostics.pool.hits + diagnostics.pool.misses > 0);
    /// assert!(!diagnostics.poisoned);
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn diagnostics(&self) -> Diagnostics {
        self.hub.collect().expect("the hub holds the pager while the database is open")
    }

    /// Takes a snapshot now and checks it against the builder's `DiagnosticsConfig`; calls
    /// its callback once for each threshold crossed (up or down) since the last check, and
    /// returns the crossings. Without thresholds it does nothing.
    ///
    /// ```
    /// use redwood::{AlertKind, AlertState, CheckpointMode, DiagnosticsConfig};
    ///
    /// let config = DiagnosticsConfig::default().wal_bytes_max(64 * 1024);
    /// let db = redwood::Database::builder().diagnostics(config).in_memory()?;
    /// let write = db.begin_write()?;
    /// let mut table = write.open_table("t")?;
    /// for i in 0u32..2000 {
    ///     table.insert(&i.to_be_bytes(), &[7; 100])?;
    /// }
    /// drop(table);
    /// write.commit()?;
    /// let alerts = db.check_alerts();
    /// assert_eq!((alerts[0].kind, alerts[0].state), (AlertKind::WalBytes, AlertState::Raised));
    /// assert!(db.check_alerts().is_empty()); // still above: no second call
    ///
    /// db.checkpoint(CheckpointMode::Truncate)?;
    /// let alerts = db.check_alerts();
    /// assert_eq!((alerts[0].kind, alerts[0].state), (AlertKind::WalBytes, AlertState::Cleared));
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn check_alerts(&self) -> Vec<Alert> {
        self.hub.check_alerts()
    }

    /// A handle that takes snapshots of this database for as long as it is open, for exporters
    /// (such as `redwood_telemetry::otlp`) that outlive a borrow of it. It holds the database
    /// weakly: after the database is dropped it returns `None` and keeps no file open.
    ///
    /// ```
    /// let db = redwood::Database::in_memory()?;
    /// let source = db.diagnostics_source();
    /// assert!(source.diagnostics().is_some());
    /// drop(db);
    /// assert!(source.diagnostics().is_none());
    /// # Ok::<(), redwood::Error>(())
    /// ```
    pub fn diagnostics_source(&self) -> Arc<dyn DiagnosticsSource> {
        Arc::new(WeakSource(Arc::downgrade(&self.hub)))
    }
}
