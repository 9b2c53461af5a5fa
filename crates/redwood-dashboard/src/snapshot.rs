//! One message of the stream: a `Diagnostics` snapshot as JSON, with the alerts the dashboard's
//! own monitor holds raised, and the visualizer's event counts. The field names follow the
//! `redwood::telemetry` types, so the page reads `diagnostics.pool.hits` for `pool.hits`.

use redwood::telemetry::{AlertKind, AlertMonitor, Diagnostics, DiagnosticsConfig};
use serde_json::{Value, json};

use crate::events::EventCounts;

/// The dashboard's alert monitor: its own, so the dashboard never takes the crossings that the
/// database's sampler or `Database::check_alerts` would report to the application.
pub(crate) struct Alerts {
    monitor: Option<AlertMonitor>,
    /// Whether the thresholds were the default ones, still waiting for the log's bound.
    defaulted: bool,
}

impl Alerts {
    /// With `config`'s thresholds, or (with `None`) only the default one: the log past the
    /// automatic checkpoints' bound, read from the first snapshot.
    pub fn new(config: Option<DiagnosticsConfig>) -> Alerts {
        match config {
            Some(config) => Alerts { monitor: Some(AlertMonitor::new(config)), defaulted: false },
            None => Alerts { monitor: None, defaulted: true },
        }
    }

    /// Judges `snapshot`; returns the names of the alerts raised now.
    pub fn evaluate(&mut self, snapshot: &Diagnostics) -> Vec<&'static str> {
        if self.defaulted && self.monitor.is_none() && snapshot.checkpoints.log_bytes_max > 0 {
            let config =
                DiagnosticsConfig::default().wal_bytes_max(snapshot.checkpoints.log_bytes_max);
            self.monitor = Some(AlertMonitor::new(config));
        }
        let Some(monitor) = &self.monitor else { return Vec::new() };
        monitor.evaluate(snapshot);
        monitor.raised().into_iter().map(AlertKind::name).collect()
    }
}

/// What the visualizer's side of a snapshot says.
#[derive(Clone, Debug, Default)]
pub(crate) struct EventSummary {
    /// The observed table, if any.
    pub table: Option<String>,
    /// Its observer's counts.
    pub counts: EventCounts,
    /// Events the clients were too slow for (summed over clients).
    pub dropped_by_clients: u64,
}

/// The snapshot message.
pub(crate) fn snapshot_message(
    seq: u64,
    diagnostics: &Diagnostics,
    alerts: &[&'static str],
    events: &EventSummary,
) -> Value {
    json!({
        "type": "snapshot",
        "seq": seq,
        "diagnostics": diagnostics_json(diagnostics),
        "alerts": alerts,
        "events": {
            "table": events.table,
            "observed": events.counts.observed,
            "dropped": events.counts.dropped + events.dropped_by_clients,
        },
    })
}

/// `Diagnostics` as JSON (the telemetry crate is plain data without serde).
pub(crate) fn diagnostics_json(d: &Diagnostics) -> Value {
    let thrashing: Vec<Value> = d
        .thrashing_pages
        .iter()
        .map(|page| json!({ "page_id": page.page_id, "reloads": page.reloads }))
        .collect();
    let heap = d.process.heap.map(|heap| {
        json!({
            "allocated_bytes": heap.allocated_bytes,
            "peak_bytes": heap.peak_bytes,
            "allocations": heap.allocations,
            "deallocations": heap.deallocations,
        })
    });
    json!({
        "taken_at_unix_ms": d.taken_at_unix_ms,
        "pool": {
            "hits": d.pool.hits,
            "misses": d.pool.misses,
            "evictions": d.pool.evictions,
            "reads": d.pool.reads,
            "thrash_reports": d.pool.thrash_reports,
            "frames": d.pool.frames,
            "cached": d.pool.cached,
            "pinned": d.pool.pinned,
            "memory_bytes": d.pool.memory_bytes,
        },
        "thrashing_pages": thrashing,
        "wal": {
            "bytes_in_use": d.wal.bytes_in_use,
            "page_versions": d.wal.page_versions,
            "frames": d.wal.written.frames,
            "bytes_written": d.wal.written.bytes,
            "commits": d.wal.written.commits,
            "syncs": d.wal.written.syncs,
        },
        "checkpoints": {
            "checkpoints": d.checkpoints.checkpoints,
            "pages_checkpointed": d.checkpoints.pages_checkpointed,
            "checkpoint_lsn": d.checkpoints.checkpoint_lsn,
            "last_commit_lsn": d.checkpoints.last_commit_lsn,
            "lsns_behind": d.checkpoints.lsns_behind(),
            "readers": d.checkpoints.readers,
            "oldest_reader_lag": d.checkpoints.oldest_reader_lag,
            "log_bytes_max": d.checkpoints.log_bytes_max,
            "held_back": d.checkpoints.held_back,
        },
        "pager": {
            "page_size_bytes": d.pager.page_size_bytes,
            "page_count": d.pager.page_count,
            "free_pages": d.pager.free_pages,
            "data_file_bytes": d.pager.data_file_bytes,
            "commits": d.pager.commits,
            "aborts": d.pager.aborts,
        },
        "process": {
            "rss_bytes": d.process.rss_bytes,
            "rss_peak_bytes": d.process.rss_peak_bytes,
            "heap": heap,
        },
        "poisoned": d.poisoned,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use redwood::telemetry::ThrashingPage;

    #[test]
    fn the_message_carries_the_figures_the_page_reads() {
        let mut diagnostics = Diagnostics::default();
        diagnostics.pager.commits = 12;
        diagnostics.thrashing_pages.push(ThrashingPage { page_id: 77, reloads: 4 });
        let events = EventSummary {
            table: Some("t".into()),
            counts: EventCounts { observed: 9, dropped: 2 },
            dropped_by_clients: 3,
        };
        let message = snapshot_message(5, &diagnostics, &["thrash"], &events);
        assert_eq!(message["type"], "snapshot");
        assert_eq!(message["diagnostics"]["pager"]["commits"], 12);
        assert_eq!(message["diagnostics"]["thrashing_pages"][0]["page_id"], 77);
        assert_eq!(message["alerts"][0], "thrash");
        assert_eq!(message["events"]["dropped"], 5);
    }

    #[test]
    fn default_alerts_wait_for_the_logs_bound() {
        let mut alerts = Alerts::new(None);
        let mut snapshot = Diagnostics::default();
        snapshot.wal.bytes_in_use = 10_000;
        assert!(alerts.evaluate(&snapshot).is_empty()); // no bound known: nothing to judge
        snapshot.checkpoints.log_bytes_max = 1000;
        assert_eq!(alerts.evaluate(&snapshot), ["wal_bytes"]);
    }
}
