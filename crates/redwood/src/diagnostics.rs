//! Diagnostics and alerts (R3, R4, R7): `Database::diagnostics` gathers one
//! [`Diagnostics`] snapshot from the pager, the log, the buffer pool and the process;
//! `Database::check_alerts` compares it with the `DiagnosticsConfig` thresholds given to the
//! builder, and a sampler thread does the same on its own every `sample_interval`.
//!
//! Exporters outlive a borrow of the database, so they read through
//! `Database::diagnostics_source`, which holds the database weakly: once it is closed, the
//! source yields nothing and keeps no file open.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Weak};
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

/// What a snapshot is read from: shared by the database, its sampler and its sources.
pub(crate) struct Hub {
    pub pager: Arc<Pager<Wal>>,
    pub pool: Arc<BufferPool>,
    pub log_counters: Arc<WalCounters>,
    pub file_counters: Arc<PageFileCounters>,
    pub pager_counters: Arc<PagerCounters>,
    pub monitor: Option<AlertMonitor>,
}

impl Hub {
    /// One snapshot now.
    pub fn collect(&self) -> Diagnostics {
        let stats = self.pager.stats();
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
        Diagnostics {
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
                checkpoint_lsn: stats.checkpoint_lsn.get(),
                last_commit_lsn: stats.last_commit.get(),
                readers: stats.readers,
                oldest_reader_lag: stats.oldest_reader_lag,
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
            poisoned: self.pager.is_poisoned(),
        }
    }

    /// Takes a snapshot and checks it against the thresholds, if any are configured.
    pub fn check_alerts(&self) -> Vec<Alert> {
        match &self.monitor {
            Some(monitor) => monitor.evaluate(&self.collect()),
            None => Vec::new(),
        }
    }
}

/// A [`DiagnosticsSource`] that holds the database weakly.
struct WeakSource(Weak<Hub>);

impl DiagnosticsSource for WeakSource {
    fn diagnostics(&self) -> Option<Diagnostics> {
        Some(self.0.upgrade()?.collect())
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
            // A panic in the alert callback ended the thread already; nothing is left to stop.
            let _ = thread.join();
        }
    }
}

impl Database {
    /// One consistent snapshot of the database and its process: buffer pool, write-ahead log,
    /// checkpoints, pager and files, thrashing pages, RSS and (with a
    /// [`CountingAllocator`](redwood_telemetry::CountingAllocator) installed) the heap.
    ///
    /// ```
    /// let db = redwood::Database::in_memory()?;
    /// let mut write = db.begin_write()?;
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
        self.hub.collect()
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
    /// let mut write = db.begin_write()?;
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
