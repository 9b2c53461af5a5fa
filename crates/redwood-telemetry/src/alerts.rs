//! Threshold alerts (R4): [`DiagnosticsConfig`] holds the thresholds and the callback, and
//! [`AlertMonitor`] compares each [`Diagnostics`] snapshot with them.
//!
//! A threshold has two levels, so that a value hovering at the limit does not flap: an alert is
//! raised when the value crosses the limit, and cleared only when it comes back past the limit
//! by the hysteresis margin. The callback is called once per crossing, up and down.
//!
//! - Ceilings (RSS, heap, log bytes, thrash reports): raised above `max`, cleared at or below
//!   `max × (1 − hysteresis)`.
//! - The floor (cache hit ratio): raised below `min`, cleared at or above
//!   `min + (1 − min) × hysteresis`.
//!
//! The hit ratio and thrash reports are measured over the interval since the previous
//! evaluation, not since open, so they recover when the workload does. An interval with fewer
//! than `cache_lookups_min` lookups says nothing about the hit ratio and leaves its state as is.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::counters::PoolStats;
use crate::diagnostics::Diagnostics;

/// The callback an application gives for alerts.
pub type AlertCallback = Arc<dyn Fn(&Alert) + Send + Sync>;

/// Default hysteresis: a tenth of the threshold.
pub const HYSTERESIS_DEFAULT: f64 = 0.1;
/// Default for [`DiagnosticsConfig::cache_lookups_min`].
pub const CACHE_LOOKUPS_MIN_DEFAULT: u64 = 1000;

/// What an alert watches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AlertKind {
    /// The process's resident set size, in bytes.
    Rss,
    /// Heap bytes allocated (needs an installed [`crate::CountingAllocator`]).
    Heap,
    /// Bytes of write-ahead log in use.
    WalBytes,
    /// The buffer pool's hit ratio over the last interval (a floor).
    CacheHitRatio,
    /// Thrash reports made in the last interval.
    Thrash,
}

impl AlertKind {
    /// Every kind, in a fixed order.
    pub const ALL: [AlertKind; 5] = [
        AlertKind::Rss,
        AlertKind::Heap,
        AlertKind::WalBytes,
        AlertKind::CacheHitRatio,
        AlertKind::Thrash,
    ];

    /// A short stable name, for logs and metrics.
    pub fn name(self) -> &'static str {
        match self {
            AlertKind::Rss => "rss",
            AlertKind::Heap => "heap",
            AlertKind::WalBytes => "wal_bytes",
            AlertKind::CacheHitRatio => "cache_hit_ratio",
            AlertKind::Thrash => "thrash",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Which way a threshold was crossed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AlertState {
    /// The value went past the threshold.
    Raised,
    /// The value came back past the threshold's clearing level.
    Cleared,
}

/// One crossing, as given to the callback.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Alert {
    /// What crossed.
    pub kind: AlertKind,
    /// Which way.
    pub state: AlertState,
    /// The value that crossed (bytes, a ratio, or reports per interval).
    pub value: f64,
    /// The configured threshold (`max` or `min`).
    pub threshold: f64,
    /// The level the value must come back to for the alert to clear.
    pub clear_at: f64,
}

impl fmt::Display for Alert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            AlertState::Raised => "raised",
            AlertState::Cleared => "cleared",
        };
        write!(
            f,
            "{} alert {state}: value {} (threshold {}, clears at {})",
            self.kind.name(),
            self.value,
            self.threshold,
            self.clear_at
        )
    }
}

/// Thresholds, hysteresis, sampling and the alert callback. Every threshold is off by default.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use redwood_telemetry::{AlertKind, AlertMonitor, AlertState, Diagnostics, DiagnosticsConfig};
///
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// let sink = Arc::clone(&seen);
/// let config = DiagnosticsConfig::default()
///     .wal_bytes_max(1000)
///     .on_alert(move |alert| sink.lock().unwrap().push((alert.kind, alert.state)));
/// let monitor = AlertMonitor::new(config);
///
/// let mut snapshot = Diagnostics::default();
/// for bytes in [500, 1500, 2000, 950, 890] {
///     snapshot.wal.bytes_in_use = bytes;
///     monitor.evaluate(&snapshot);
/// }
/// // Raised once at 1500; 950 is still above the clearing level (900); cleared at 890.
/// let expected = [(AlertKind::WalBytes, AlertState::Raised), (AlertKind::WalBytes, AlertState::Cleared)];
/// assert_eq!(*seen.lock().unwrap(), expected);
/// ```
#[derive(Clone)]
pub struct DiagnosticsConfig {
    /// Raise above this many bytes of resident memory.
    pub rss_bytes_max: Option<u64>,
    /// Raise above this many heap bytes (counted by a [`crate::CountingAllocator`]).
    pub heap_bytes_max: Option<u64>,
    /// Raise above this many bytes of write-ahead log in use.
    pub wal_bytes_max: Option<u64>,
    /// Raise when the interval's cache hit ratio falls below this (0.0 to 1.0).
    pub cache_hit_ratio_min: Option<f64>,
    /// Lookups an interval needs before its hit ratio counts.
    pub cache_lookups_min: u64,
    /// Raise when an interval has more thrash reports than this.
    pub thrash_reports_max: Option<u64>,
    /// The clearing margin, as a fraction (see the module documentation).
    pub hysteresis: f64,
    /// How often a database samples its diagnostics in the background to check the thresholds;
    /// `None` (the default) samples only when asked (`Database::check_alerts`).
    pub sample_interval: Option<Duration>,
    on_alert: Option<AlertCallback>,
}

impl Default for DiagnosticsConfig {
    fn default() -> Self {
        Self {
            rss_bytes_max: None,
            heap_bytes_max: None,
            wal_bytes_max: None,
            cache_hit_ratio_min: None,
            cache_lookups_min: CACHE_LOOKUPS_MIN_DEFAULT,
            thrash_reports_max: None,
            hysteresis: HYSTERESIS_DEFAULT,
            sample_interval: None,
            on_alert: None,
        }
    }
}

impl fmt::Debug for DiagnosticsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DiagnosticsConfig")
            .field("rss_bytes_max", &self.rss_bytes_max)
            .field("heap_bytes_max", &self.heap_bytes_max)
            .field("wal_bytes_max", &self.wal_bytes_max)
            .field("cache_hit_ratio_min", &self.cache_hit_ratio_min)
            .field("cache_lookups_min", &self.cache_lookups_min)
            .field("thrash_reports_max", &self.thrash_reports_max)
            .field("hysteresis", &self.hysteresis)
            .field("sample_interval", &self.sample_interval)
            .field("on_alert", &self.on_alert.as_ref().map(|_| "callback"))
            .finish()
    }
}

impl DiagnosticsConfig {
    /// Sets [`Self::rss_bytes_max`].
    pub fn rss_bytes_max(mut self, bytes: u64) -> Self {
        self.rss_bytes_max = Some(bytes);
        self
    }

    /// Sets [`Self::heap_bytes_max`].
    pub fn heap_bytes_max(mut self, bytes: u64) -> Self {
        self.heap_bytes_max = Some(bytes);
        self
    }

    /// Sets [`Self::wal_bytes_max`].
    pub fn wal_bytes_max(mut self, bytes: u64) -> Self {
        self.wal_bytes_max = Some(bytes);
        self
    }

    /// Sets [`Self::cache_hit_ratio_min`] and [`Self::cache_lookups_min`].
    pub fn cache_hit_ratio_min(mut self, ratio: f64, lookups_min: u64) -> Self {
        self.cache_hit_ratio_min = Some(ratio);
        self.cache_lookups_min = lookups_min;
        self
    }

    /// Sets [`Self::thrash_reports_max`].
    pub fn thrash_reports_max(mut self, reports: u64) -> Self {
        self.thrash_reports_max = Some(reports);
        self
    }

    /// Sets [`Self::hysteresis`] (a fraction, clamped to 0.0..=1.0).
    pub fn hysteresis(mut self, fraction: f64) -> Self {
        self.hysteresis = if fraction.is_nan() { 0.0 } else { fraction.clamp(0.0, 1.0) };
        self
    }

    /// Sets [`Self::sample_interval`].
    pub fn sample_every(mut self, interval: Duration) -> Self {
        self.sample_interval = Some(interval);
        self
    }

    /// The function called once per crossing (on the thread that evaluated the snapshot). A
    /// panic in it is caught and logged; the other crossings still get their call.
    pub fn on_alert(mut self, callback: impl Fn(&Alert) + Send + Sync + 'static) -> Self {
        self.on_alert = Some(Arc::new(callback));
        self
    }

    /// Checks the settings: ratios and the hysteresis within 0.0..=1.0, a sample interval of
    /// at least a millisecond. The database builder refuses a config that fails this.
    ///
    /// ```
    /// use std::time::Duration;
    /// use redwood_telemetry::DiagnosticsConfig;
    ///
    /// assert!(DiagnosticsConfig::default().cache_hit_ratio_min(0.9, 100).validate().is_ok());
    /// assert!(DiagnosticsConfig::default().cache_hit_ratio_min(f64::NAN, 100).validate().is_err());
    /// assert!(DiagnosticsConfig::default().sample_every(Duration::ZERO).validate().is_err());
    /// let mut config = DiagnosticsConfig::default();
    /// config.hysteresis = -0.5;
    /// assert!(config.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<(), String> {
        let fraction = |value: f64| (0.0..=1.0).contains(&value);
        if let Some(ratio) = self.cache_hit_ratio_min
            && !fraction(ratio)
        {
            return Err(format!("cache_hit_ratio_min {ratio} is not within 0.0..=1.0"));
        }
        if !fraction(self.hysteresis) {
            return Err(format!("hysteresis {} is not within 0.0..=1.0", self.hysteresis));
        }
        if let Some(interval) = self.sample_interval
            && interval < Duration::from_millis(1)
        {
            return Err(format!("sample interval {interval:?} is under a millisecond"));
        }
        Ok(())
    }

    /// Whether any threshold is set.
    pub fn has_thresholds(&self) -> bool {
        self.rss_bytes_max.is_some()
            || self.heap_bytes_max.is_some()
            || self.wal_bytes_max.is_some()
            || self.cache_hit_ratio_min.is_some()
            || self.thrash_reports_max.is_some()
    }
}

/// A threshold in effect: the level that raises, the level that clears, and which side is bad.
#[derive(Clone, Copy, Debug)]
struct Levels {
    threshold: f64,
    clear_at: f64,
    ceiling: bool,
}

impl Levels {
    fn ceiling(max: f64, hysteresis: f64) -> Self {
        Self { threshold: max, clear_at: max * (1.0 - hysteresis), ceiling: true }
    }

    fn floor(min: f64, hysteresis: f64) -> Self {
        Self { threshold: min, clear_at: min + (1.0 - min) * hysteresis, ceiling: false }
    }

    /// The new raised state for `value`, from the old one.
    fn next(self, raised: bool, value: f64) -> bool {
        match (self.ceiling, raised) {
            (true, false) => value > self.threshold,
            (true, true) => value > self.clear_at,
            (false, false) => value < self.threshold,
            (false, true) => value < self.clear_at,
        }
    }
}

#[derive(Debug, Default)]
struct MonitorState {
    raised: [bool; AlertKind::ALL.len()],
    /// The pool counters at the previous evaluation, for per-interval figures.
    previous_pool: PoolStats,
}

/// Checks snapshots against a [`DiagnosticsConfig`] and calls its callback once per crossing.
pub struct AlertMonitor {
    config: DiagnosticsConfig,
    state: Mutex<MonitorState>,
}

impl fmt::Debug for AlertMonitor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AlertMonitor").field("config", &self.config).finish_non_exhaustive()
    }
}

impl AlertMonitor {
    /// A monitor with nothing raised.
    pub fn new(config: DiagnosticsConfig) -> Self {
        Self { config, state: Mutex::default() }
    }

    /// The configuration.
    pub fn config(&self) -> &DiagnosticsConfig {
        &self.config
    }

    /// The kinds raised now.
    pub fn raised(&self) -> Vec<AlertKind> {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        AlertKind::ALL.into_iter().filter(|kind| state.raised[kind.index()]).collect()
    }

    /// Compares `snapshot` with the thresholds, calls the callback for each crossing (after the
    /// monitor's lock is released, so the callback may take diagnostics itself), logs each
    /// crossing as a `tracing` event, and returns the crossings.
    pub fn evaluate(&self, snapshot: &Diagnostics) -> Vec<Alert> {
        let alerts = self.crossings(snapshot);
        for alert in &alerts {
            match alert.state {
                AlertState::Raised => tracing::warn!(
                    target: "redwood::alert",
                    kind = alert.kind.name(),
                    value = alert.value,
                    threshold = alert.threshold,
                    "alert raised"
                ),
                AlertState::Cleared => tracing::info!(
                    target: "redwood::alert",
                    kind = alert.kind.name(),
                    value = alert.value,
                    threshold = alert.threshold,
                    "alert cleared"
                ),
            }
            if let Some(callback) = &self.config.on_alert {
                // A panicking callback must not cost the other crossings their call, nor kill the
                // sampler thread: it is logged and the evaluation goes on.
                let call = std::panic::AssertUnwindSafe(|| callback(alert));
                if std::panic::catch_unwind(call).is_err() {
                    tracing::error!(target: "redwood::alert", kind = alert.kind.name(), "alert callback panicked");
                }
            }
        }
        alerts
    }

    fn crossings(&self, snapshot: &Diagnostics) -> Vec<Alert> {
        let config = &self.config;
        let hysteresis = config.hysteresis;
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let previous = state.previous_pool;
        state.previous_pool.hits = previous.hits.max(snapshot.pool.hits);
        state.previous_pool.misses = previous.misses.max(snapshot.pool.misses);
        state.previous_pool.thrash_reports =
            previous.thrash_reports.max(snapshot.pool.thrash_reports);
        let pool = &snapshot.pool;
        // Counters only grow while a database is open; a backwards step (a snapshot older than
        // the last one) counts as no change rather than as everything since open.
        let since = |now: u64, before: u64| now.saturating_sub(before);
        let hits = since(pool.hits, previous.hits);
        let lookups = hits + since(pool.misses, previous.misses);

        let ceiling = |max: Option<u64>, value: Option<u64>| {
            Some((Levels::ceiling(max? as f64, hysteresis), value? as f64))
        };
        let checks = [
            (AlertKind::Rss, ceiling(config.rss_bytes_max, snapshot.process.rss_bytes)),
            (
                AlertKind::Heap,
                ceiling(
                    config.heap_bytes_max,
                    snapshot.process.heap.map(|heap| heap.allocated_bytes),
                ),
            ),
            (AlertKind::WalBytes, ceiling(config.wal_bytes_max, Some(snapshot.wal.bytes_in_use))),
            (
                AlertKind::CacheHitRatio,
                config.cache_hit_ratio_min.and_then(|min| {
                    let enough = lookups > 0 && lookups >= config.cache_lookups_min;
                    enough.then(|| (Levels::floor(min, hysteresis), hits as f64 / lookups as f64))
                }),
            ),
            (
                AlertKind::Thrash,
                ceiling(
                    config.thrash_reports_max,
                    Some(since(pool.thrash_reports, previous.thrash_reports)),
                ),
            ),
        ];
        let mut alerts = Vec::new();
        for (kind, check) in checks {
            let Some((levels, value)) = check else { continue };
            let raised = &mut state.raised[kind.index()];
            let next = levels.next(*raised, value);
            if next != *raised {
                *raised = next;
                let state = if next { AlertState::Raised } else { AlertState::Cleared };
                let (threshold, clear_at) = (levels.threshold, levels.clear_at);
                alerts.push(Alert { kind, state, value, threshold, clear_at });
            }
        }
        alerts
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::heap::HeapStats;

    type Seen = Arc<Mutex<Vec<(AlertKind, AlertState)>>>;

    fn monitor(config: DiagnosticsConfig) -> (AlertMonitor, Seen) {
        let seen: Seen = Arc::default();
        let sink = Arc::clone(&seen);
        let config =
            config.on_alert(move |alert| sink.lock().unwrap().push((alert.kind, alert.state)));
        (AlertMonitor::new(config), seen)
    }

    fn taken(seen: &Seen) -> Vec<(AlertKind, AlertState)> {
        std::mem::take(&mut *seen.lock().unwrap())
    }

    /// Walks a ceiling threshold of 1000 (clearing at 900) through `set` and checks each step.
    fn walk_ceiling(
        kind: AlertKind,
        config: DiagnosticsConfig,
        set: impl Fn(&mut Diagnostics, u64),
    ) {
        let (monitor, seen) = monitor(config);
        let mut snapshot = Diagnostics::default();
        let raised = vec![(kind, AlertState::Raised)];
        let cleared = vec![(kind, AlertState::Cleared)];
        let steps: [(u64, Vec<(AlertKind, AlertState)>); 9] = [
            (100, vec![]),
            (1000, vec![]), // at the limit is not above it
            (1001, raised.clone()),
            (5000, vec![]), // still raised: no second call
            (950, vec![]),  // below the limit, above the clearing level
            (1200, vec![]),
            (900, cleared.clone()),
            (950, vec![]), // below the limit again: stays cleared
            (1500, raised.clone()),
        ];
        for (value, expected) in steps {
            set(&mut snapshot, value);
            monitor.evaluate(&snapshot);
            assert_eq!(taken(&seen), expected, "{kind:?} at {value}");
        }
        assert_eq!(monitor.raised(), [kind]);
    }

    #[test]
    fn ceilings_fire_once_per_crossing_with_hysteresis() {
        walk_ceiling(AlertKind::Rss, DiagnosticsConfig::default().rss_bytes_max(1000), |s, v| {
            s.process.rss_bytes = Some(v)
        });
        walk_ceiling(AlertKind::Heap, DiagnosticsConfig::default().heap_bytes_max(1000), |s, v| {
            s.process.heap = Some(HeapStats { allocated_bytes: v, ..HeapStats::default() })
        });
        walk_ceiling(
            AlertKind::WalBytes,
            DiagnosticsConfig::default().wal_bytes_max(1000),
            |s, v| s.wal.bytes_in_use = v,
        );
        // Thrash reports count per interval: the counter grows by `v` between evaluations.
        walk_ceiling(
            AlertKind::Thrash,
            DiagnosticsConfig::default().thrash_reports_max(1000),
            |s, v| s.pool.thrash_reports += v,
        );
    }

    #[test]
    fn the_hit_ratio_floor_uses_intervals_and_ignores_quiet_ones() {
        let config = DiagnosticsConfig::default().cache_hit_ratio_min(0.9, 100);
        let (monitor, seen) = monitor(config);
        let mut snapshot = Diagnostics::default();
        let mut step = |hits: u64, misses: u64| {
            snapshot.pool.hits += hits;
            snapshot.pool.misses += misses;
            monitor.evaluate(&snapshot);
            taken(&seen)
        };
        let raised = vec![(AlertKind::CacheHitRatio, AlertState::Raised)];
        let cleared = vec![(AlertKind::CacheHitRatio, AlertState::Cleared)];
        assert_eq!(step(95, 5), vec![]); // 0.95
        assert_eq!(step(80, 20), raised); // 0.80
        assert_eq!(step(0, 10), vec![]); // too few lookups: no verdict
        assert_eq!(step(905, 95), vec![]); // 0.905: above the floor, below the clearing 0.91
        assert_eq!(step(920, 80), cleared); // 0.92
        assert_eq!(step(10, 5), vec![]); // quiet
        assert_eq!(step(0, 1000), raised);
    }

    #[test]
    fn a_panicking_callback_costs_no_other_crossing_its_call() {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&calls);
        let config = DiagnosticsConfig::default().wal_bytes_max(10).rss_bytes_max(10).on_alert(
            move |alert| {
                sink.lock().unwrap().push(alert.kind);
                assert_ne!(alert.kind, AlertKind::Rss, "a callback that panics");
            },
        );
        let monitor = AlertMonitor::new(config);
        let mut snapshot = Diagnostics::default();
        snapshot.process.rss_bytes = Some(100);
        snapshot.wal.bytes_in_use = 100;
        let alerts = monitor.evaluate(&snapshot);
        assert_eq!(alerts.len(), 2);
        assert_eq!(*calls.lock().unwrap(), [AlertKind::Rss, AlertKind::WalBytes]);
        assert_eq!(monitor.raised(), [AlertKind::Rss, AlertKind::WalBytes]);
    }

    #[test]
    fn unset_thresholds_and_missing_figures_never_fire() {
        let (monitor, seen) = monitor(DiagnosticsConfig::default().heap_bytes_max(10));
        let mut snapshot = Diagnostics::default();
        snapshot.wal.bytes_in_use = u64::MAX;
        snapshot.process.rss_bytes = Some(u64::MAX);
        monitor.evaluate(&snapshot); // no heap figures: no allocator installed
        assert!(taken(&seen).is_empty());
        assert!(monitor.raised().is_empty());
        assert!(!DiagnosticsConfig::default().has_thresholds());
    }

    #[test]
    fn zero_hysteresis_clears_at_the_limit_and_display_names_the_kind() {
        let config = DiagnosticsConfig::default().wal_bytes_max(100).hysteresis(0.0);
        let (monitor, seen) = monitor(config);
        let mut snapshot = Diagnostics::default();
        snapshot.wal.bytes_in_use = 101;
        let alerts = monitor.evaluate(&snapshot);
        assert_eq!(
            alerts[0].to_string(),
            "wal_bytes alert raised: value 101 (threshold 100, clears at 100)"
        );
        snapshot.wal.bytes_in_use = 100;
        monitor.evaluate(&snapshot);
        let expected =
            [(AlertKind::WalBytes, AlertState::Raised), (AlertKind::WalBytes, AlertState::Cleared)];
        assert_eq!(taken(&seen), expected);
        assert_eq!(DiagnosticsConfig::default().hysteresis(f64::NAN).hysteresis, 0.0);
        assert_eq!(DiagnosticsConfig::default().hysteresis(7.0).hysteresis, 1.0);
    }
}
