//! OpenTelemetry export (R3, feature `otlp`): the [`Diagnostics`] figures as OpenTelemetry
//! observable instruments, and an OTLP exporter for them over gRPC or HTTP/protobuf.
//!
//! Two ways in:
//! - [`register`]: an application that already runs an OpenTelemetry pipeline registers
//!   Redwood's instruments on a `Meter` of its own provider; its exporter sends them with the
//!   rest of its metrics.
//! - [`OtlpExporter`]: Redwood runs a meter provider of its own and exports to an OTLP endpoint.
//!
//! Names follow the OpenTelemetry conventions: dot-separated namespaces under `redwood.`,
//! UCUM units (`By` for bytes, `1` for ratios, `{page}`-style annotations for counts); monotonic
//! totals as observable counters, additive levels (bytes, pages, readers) as observable up-down
//! counters, and non-additive ones (ratios, lags, peaks, flags) as observable gauges. The
//! process's resident memory uses the semantic-convention name `process.memory.usage`. Every instrument is listed
//! in [`INSTRUMENTS`], with the [`Diagnostics`] field it reads, plus
//! `redwood.bufpool.thrash.reloads`, one point per page reported as thrashing since the previous
//! collection (attribute `redwood.page.id`; the value is the reloads that triggered the report).
//!
//! [`register`] cannot be undone: register each open database once per meter provider. After a
//! reopen, register the new database on a new provider (or a meter with another scope), since
//! its counters start again from zero.

mod exporter;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use opentelemetry::KeyValue;
use opentelemetry::metrics::{AsyncInstrument, Meter};

use crate::diagnostics::{Diagnostics, DiagnosticsSource};
pub use exporter::{OtlpConfig, OtlpError, OtlpExporter, Protocol};

/// How long one snapshot serves the instruments' callbacks: long enough that all callbacks of
/// one collection read the same snapshot, far shorter than any sensible export interval.
pub const SNAPSHOT_MAX_AGE: Duration = Duration::from_millis(200);

/// The name of the per-page thrash gauge.
pub const THRASH_RELOADS: &str = "redwood.bufpool.thrash.reloads";
/// The attribute that names the page on [`THRASH_RELOADS`] points.
pub const PAGE_ID_ATTRIBUTE: &str = "redwood.page.id";

/// Which OpenTelemetry instrument carries a figure (after the semantic conventions: additive
/// levels such as bytes or pages are up-down counters; ratios, lags, peaks and flags are gauges).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InstrumentKind {
    /// An observable counter: a monotonic total since the database was opened.
    Counter,
    /// An observable up-down counter: a level that adds up across databases (bytes, pages).
    UpDownCounter,
    /// An observable gauge: a level that does not add up (a ratio, a lag, a peak, a flag).
    Gauge,
}

/// How an instrument reads its value from a snapshot.
#[derive(Clone, Copy, Debug)]
pub enum Reading {
    /// An integer figure; `None` when the snapshot lacks it (no point is exported).
    U64(fn(&Diagnostics) -> Option<u64>),
    /// A real-valued figure.
    F64(fn(&Diagnostics) -> Option<f64>),
}

/// One exported instrument.
#[derive(Clone, Copy, Debug)]
pub struct InstrumentSpec {
    /// The metric name.
    pub name: &'static str,
    /// The UCUM unit.
    pub unit: &'static str,
    /// Which instrument.
    pub kind: InstrumentKind,
    /// The description sent with it.
    pub description: &'static str,
    /// Where its value comes from.
    pub reading: Reading,
}

/// `spec(name, unit, kind, description, |d| value)` for an integer figure.
const fn spec(
    name: &'static str,
    unit: &'static str,
    kind: InstrumentKind,
    description: &'static str,
    read: fn(&Diagnostics) -> Option<u64>,
) -> InstrumentSpec {
    InstrumentSpec { name, unit, kind, description, reading: Reading::U64(read) }
}

use InstrumentKind::{Counter, Gauge, UpDownCounter};

/// Every instrument with a single point, in export order.
#[rustfmt::skip]
pub const INSTRUMENTS: &[InstrumentSpec] = &[
    spec("redwood.bufpool.hits", "{lookup}", Counter, "Buffer-pool lookups that found their page cached.", |d| Some(d.pool.hits)),
    spec("redwood.bufpool.misses", "{lookup}", Counter, "Buffer-pool lookups that had to load their page.", |d| Some(d.pool.misses)),
    spec("redwood.bufpool.evictions", "{page}", Counter, "Cached pages dropped to make room.", |d| Some(d.pool.evictions)),
    spec("redwood.bufpool.reads", "{page}", Counter, "Pages loaded into the buffer pool.", |d| Some(d.pool.reads)),
    spec("redwood.bufpool.failed_reads", "{page}", Counter, "Page loads that failed.", |d| Some(d.pool.failed_reads)),
    spec("redwood.bufpool.thrash.reports", "{report}", Counter, "Pages reported as thrashing (evicted and reloaded repeatedly).", |d| Some(d.pool.thrash_reports)),
    spec("redwood.bufpool.frames", "{frame}", UpDownCounter, "Frames in the buffer pool.", |d| Some(d.pool.frames)),
    spec("redwood.bufpool.cached", "{page}", UpDownCounter, "Frames holding a page.", |d| Some(d.pool.cached)),
    spec("redwood.bufpool.pinned", "{frame}", UpDownCounter, "Frames pinned now.", |d| Some(d.pool.pinned)),
    spec("redwood.bufpool.memory.usage", "By", UpDownCounter, "Page memory the buffer pool has allocated.", |d| Some(d.pool.memory_bytes)),
    InstrumentSpec {
        name: "redwood.bufpool.hit_ratio",
        unit: "1",
        kind: Gauge,
        description: "Buffer-pool hits over lookups since open.",
        reading: Reading::F64(|d: &Diagnostics| d.pool.hit_ratio()),
    },
    spec("redwood.wal.frames", "{frame}", Counter, "Frames appended to the write-ahead log.", |d| Some(d.wal.written.frames)),
    spec("redwood.wal.written", "By", Counter, "Bytes appended to the write-ahead log.", |d| Some(d.wal.written.bytes)),
    spec("redwood.wal.commits", "{transaction}", Counter, "Transactions committed to the write-ahead log.", |d| Some(d.wal.written.commits)),
    spec("redwood.wal.syncs", "{sync}", Counter, "Successful fdatasync calls on the write-ahead log.", |d| Some(d.wal.written.syncs)),
    spec("redwood.wal.restarts", "{restart}", Counter, "Write-ahead log restarts after complete checkpoints.", |d| Some(d.wal.written.restarts)),
    spec("redwood.wal.preallocated", "By", Counter, "Bytes of zeros written ahead of log frames.", |d| Some(d.wal.written.preallocated_bytes)),
    spec("redwood.wal.usage", "By", UpDownCounter, "Bytes of write-ahead log in use.", |d| Some(d.wal.bytes_in_use)),
    spec("redwood.wal.page_versions", "{version}", UpDownCounter, "Page versions held in the write-ahead log.", |d| Some(d.wal.page_versions)),
    spec("redwood.checkpoint.runs", "{checkpoint}", Counter, "Checkpoints run.", |d| Some(d.checkpoints.checkpoints)),
    spec("redwood.checkpoint.pages", "{page}", Counter, "Page images copied into the data files by checkpoints.", |d| Some(d.checkpoints.pages_checkpointed)),
    spec("redwood.checkpoint.lost_writes_repaired", "{page}", Counter, "Pages the data files had lost, rewritten from the log.", |d| Some(d.checkpoints.lost_writes_repaired)),
    spec("redwood.checkpoint.lag", "{lsn}", Gauge, "Log positions committed but not yet checkpointed.", |d| Some(d.checkpoints.lsns_behind())),
    spec("redwood.reader.count", "{reader}", UpDownCounter, "Open read transactions.", |d| Some(d.checkpoints.readers)),
    spec("redwood.reader.lag", "{lsn}", Gauge, "How far the oldest reader lags behind the last commit.", |d| Some(d.checkpoints.oldest_reader_lag)),
    spec("redwood.pager.pages", "{page}", UpDownCounter, "Page ids in use (the high-water mark).", |d| Some(d.pager.page_count)),
    spec("redwood.pager.free_pages", "{page}", UpDownCounter, "Free pages below the high-water mark.", |d| Some(d.pager.free_pages)),
    spec("redwood.pager.segments", "{file}", UpDownCounter, "Segment files of the database.", |d| Some(d.pager.segments)),
    spec("redwood.pager.file.size", "By", UpDownCounter, "Bytes of the data files on disk.", |d| d.pager.data_file_bytes),
    spec("redwood.pager.commits", "{transaction}", Counter, "Write transactions committed.", |d| Some(d.pager.commits)),
    spec("redwood.pager.aborts", "{transaction}", Counter, "Write transactions aborted or dropped.", |d| Some(d.pager.aborts)),
    spec("redwood.pager.prefetched", "{page}", Counter, "Pages read ahead by prefetch.", |d| Some(d.pager.prefetched)),
    spec("redwood.pager.pages_read", "{page}", Counter, "Pages read from the data files.", |d| Some(d.pager.io.pages_read)),
    spec("redwood.pager.pages_written", "{page}", Counter, "Pages written to the data files.", |d| Some(d.pager.io.pages_written)),
    spec("redwood.pager.syncs", "{sync}", Counter, "Successful fdatasync calls on the data files.", |d| Some(d.pager.io.syncs)),
    spec("redwood.poisoned", "1", Gauge, "1 once a failure (such as a failed fsync) poisoned the database.", |d| Some(u64::from(d.poisoned))),
    spec("process.memory.usage", "By", UpDownCounter, "The process's resident set size.", |d| d.process.rss_bytes),
    spec("redwood.process.memory.peak", "By", Gauge, "The process's highest resident set size.", |d| d.process.rss_peak_bytes),
    spec("redwood.process.heap.usage", "By", UpDownCounter, "Heap bytes allocated (with a CountingAllocator installed).", |d| d.process.heap.map(|h| h.allocated_bytes)),
    spec("redwood.process.heap.peak", "By", Gauge, "The most heap bytes allocated at once.", |d| d.process.heap.map(|h| h.peak_bytes)),
];

/// One snapshot shared by the callbacks of a collection (see [`SNAPSHOT_MAX_AGE`]).
struct SharedSnapshot {
    source: Arc<dyn DiagnosticsSource>,
    cached: Mutex<Option<(Instant, Arc<Diagnostics>)>>,
}

impl SharedSnapshot {
    fn get(&self) -> Option<Arc<Diagnostics>> {
        let mut cached = self.cached.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((taken, snapshot)) = cached.as_ref()
            && taken.elapsed() < SNAPSHOT_MAX_AGE
        {
            return Some(Arc::clone(snapshot));
        }
        let snapshot = Arc::new(self.source.diagnostics()?);
        *cached = Some((Instant::now(), Arc::clone(&snapshot)));
        Some(snapshot)
    }
}

/// Registers every Redwood instrument on `meter`, each reading from `source` when the meter's
/// provider collects. Returns how many instruments were registered. Once the database behind
/// `source` is closed, the instruments report nothing.
///
/// ```
/// use opentelemetry::metrics::MeterProvider as _;
/// use redwood_telemetry::{Diagnostics, DiagnosticsSource, otlp};
///
/// struct Fixed;
/// impl DiagnosticsSource for Fixed {
///     fn diagnostics(&self) -> Option<Diagnostics> {
///         Some(Diagnostics::default())
///     }
/// }
///
/// let provider = opentelemetry_sdk::metrics::SdkMeterProvider::builder().build();
/// let count = otlp::register(&provider.meter("my-app"), std::sync::Arc::new(Fixed));
/// assert_eq!(count, otlp::INSTRUMENTS.len() + 1);
/// ```
pub fn register(meter: &Meter, source: Arc<dyn DiagnosticsSource>) -> usize {
    let shared = Arc::new(SharedSnapshot { source, cached: Mutex::new(None) });
    for spec in INSTRUMENTS {
        register_one(meter, spec, Arc::clone(&shared));
    }
    // Thrash reports made since the previous collection: the newest entries of the pool's ring
    // of recent reports, as many as the report counter grew by. A page that stopped thrashing
    // drops out at the next collection.
    let reports_seen = Mutex::new(0u64);
    meter
        .u64_observable_gauge(THRASH_RELOADS)
        .with_unit("{reload}")
        .with_description("Pages reported as thrashing since the last export, by page id.")
        .with_callback(move |observer| {
            let Some(snapshot) = shared.get() else { return };
            let total = snapshot.pool.thrash_reports;
            let mut seen = reports_seen.lock().unwrap_or_else(PoisonError::into_inner);
            let new = usize::try_from(total.saturating_sub(*seen)).unwrap_or(usize::MAX);
            *seen = (*seen).max(total);
            let pages = &snapshot.thrashing_pages;
            for page in &pages[pages.len().saturating_sub(new)..] {
                let attribute = KeyValue::new(PAGE_ID_ATTRIBUTE, page.page_id as i64);
                observer.observe(u64::from(page.reloads), &[attribute]);
            }
        })
        .build();
    INSTRUMENTS.len() + 1
}

fn register_one(meter: &Meter, spec: &InstrumentSpec, shared: Arc<SharedSnapshot>) {
    let (name, unit, description) = (spec.name, spec.unit, spec.description);
    match (spec.kind, spec.reading) {
        (InstrumentKind::Counter, Reading::U64(read)) => {
            let builder = meter.u64_observable_counter(name).with_unit(unit);
            builder.with_description(description).with_callback(observe(shared, read)).build();
        }
        (InstrumentKind::UpDownCounter, Reading::U64(read)) => {
            let builder = meter.i64_observable_up_down_counter(name).with_unit(unit);
            let read_i64 =
                move |d: &Diagnostics| read(d).map(|v| i64::try_from(v).unwrap_or(i64::MAX));
            builder.with_description(description).with_callback(observe(shared, read_i64)).build();
        }
        (InstrumentKind::Gauge, Reading::U64(read)) => {
            let builder = meter.u64_observable_gauge(name).with_unit(unit);
            builder.with_description(description).with_callback(observe(shared, read)).build();
        }
        (_, Reading::F64(read)) => {
            let builder = meter.f64_observable_gauge(name).with_unit(unit);
            builder.with_description(description).with_callback(observe(shared, read)).build();
        }
    }
}

/// The callback of one single-point instrument: `read` of the collection's shared snapshot.
fn observe<T: 'static>(
    shared: Arc<SharedSnapshot>,
    read: impl Fn(&Diagnostics) -> Option<T> + Send + Sync + 'static,
) -> impl Fn(&dyn AsyncInstrument<T>) + Send + Sync + 'static {
    move |observer| {
        if let Some(value) = shared.get().and_then(|snapshot| read(&snapshot)) {
            observer.observe(value, &[]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_namespaced_and_carry_units() {
        let mut names: Vec<&str> = INSTRUMENTS.iter().map(|spec| spec.name).collect();
        names.push(THRASH_RELOADS);
        let count = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), count, "duplicate instrument names");
        for spec in INSTRUMENTS {
            assert!(spec.name.starts_with("redwood.") || spec.name.starts_with("process."));
            assert!(spec.name.bytes().all(|b| b.is_ascii_lowercase() || b == b'.' || b == b'_'));
            assert!(!spec.unit.is_empty() && !spec.description.is_empty(), "{}", spec.name);
            if spec.kind == InstrumentKind::Counter {
                assert_ne!(spec.unit, "1", "{}: a counter counts something", spec.name);
            }
        }
    }
}
