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
//! UCUM units (`By` for bytes, `1` for ratios, `{page}`-style annotations for counts), monotonic
//! counters as observable counters and levels as observable gauges. The process's resident
//! memory uses the semantic-convention name `process.memory.usage`. Every instrument is listed
//! in [`INSTRUMENTS`], with the [`Diagnostics`] field it reads, plus
//! `redwood.bufpool.thrash.reloads`, one point per thrashing page (attribute `redwood.page.id`).

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

/// Whether an instrument is a monotonic sum or a level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InstrumentKind {
    /// An observable counter: a cumulative total since the database was opened.
    Counter,
    /// An observable gauge: a level now.
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
    /// Counter or gauge.
    pub kind: InstrumentKind,
    /// The description sent with it.
    pub description: &'static str,
    /// Where its value comes from.
    pub reading: Reading,
}

macro_rules! instrument {
    ($name:literal, $unit:literal, $kind:ident, $description:literal, |$d:ident| $value:expr) => {
        InstrumentSpec {
            name: $name,
            unit: $unit,
            kind: InstrumentKind::$kind,
            description: $description,
            reading: Reading::U64(|$d: &Diagnostics| $value),
        }
    };
}

/// Every instrument with a single point, in export order.
pub const INSTRUMENTS: &[InstrumentSpec] = &[
    instrument!(
        "redwood.bufpool.hits",
        "{lookup}",
        Counter,
        "Buffer-pool lookups that found their page cached.",
        |d| Some(d.pool.hits)
    ),
    instrument!(
        "redwood.bufpool.misses",
        "{lookup}",
        Counter,
        "Buffer-pool lookups that had to load their page.",
        |d| Some(d.pool.misses)
    ),
    instrument!(
        "redwood.bufpool.evictions",
        "{page}",
        Counter,
        "Cached pages dropped to make room.",
        |d| Some(d.pool.evictions)
    ),
    instrument!(
        "redwood.bufpool.reads",
        "{page}",
        Counter,
        "Pages loaded into the buffer pool.",
        |d| Some(d.pool.reads)
    ),
    instrument!(
        "redwood.bufpool.failed_reads",
        "{page}",
        Counter,
        "Page loads that failed.",
        |d| Some(d.pool.failed_reads)
    ),
    instrument!(
        "redwood.bufpool.thrash.reports",
        "{report}",
        Counter,
        "Pages reported as thrashing (evicted and reloaded repeatedly).",
        |d| Some(d.pool.thrash_reports)
    ),
    instrument!(
        "redwood.bufpool.frames",
        "{frame}",
        Gauge,
        "Frames in the buffer pool.",
        |d| Some(d.pool.frames)
    ),
    instrument!("redwood.bufpool.cached", "{page}", Gauge, "Frames holding a page.", |d| Some(
        d.pool.cached
    )),
    instrument!("redwood.bufpool.pinned", "{frame}", Gauge, "Frames pinned now.", |d| Some(
        d.pool.pinned
    )),
    instrument!(
        "redwood.bufpool.memory.usage",
        "By",
        Gauge,
        "Page memory the buffer pool has allocated.",
        |d| Some(d.pool.memory_bytes)
    ),
    InstrumentSpec {
        name: "redwood.bufpool.hit_ratio",
        unit: "1",
        kind: InstrumentKind::Gauge,
        description: "Buffer-pool hits over lookups since open.",
        reading: Reading::F64(|d: &Diagnostics| d.pool.hit_ratio()),
    },
    instrument!(
        "redwood.wal.frames",
        "{frame}",
        Counter,
        "Frames appended to the write-ahead log.",
        |d| Some(d.wal.written.frames)
    ),
    instrument!(
        "redwood.wal.written",
        "By",
        Counter,
        "Bytes appended to the write-ahead log.",
        |d| Some(d.wal.written.bytes)
    ),
    instrument!(
        "redwood.wal.commits",
        "{transaction}",
        Counter,
        "Transactions committed to the write-ahead log.",
        |d| Some(d.wal.written.commits)
    ),
    instrument!(
        "redwood.wal.syncs",
        "{sync}",
        Counter,
        "Successful fdatasync calls on the write-ahead log.",
        |d| Some(d.wal.written.syncs)
    ),
    instrument!(
        "redwood.wal.restarts",
        "{restart}",
        Counter,
        "Write-ahead log restarts after complete checkpoints.",
        |d| Some(d.wal.written.restarts)
    ),
    instrument!(
        "redwood.wal.preallocated",
        "By",
        Counter,
        "Bytes of zeros written ahead of log frames.",
        |d| Some(d.wal.written.preallocated_bytes)
    ),
    instrument!("redwood.wal.usage", "By", Gauge, "Bytes of write-ahead log in use.", |d| Some(
        d.wal.bytes_in_use
    )),
    instrument!(
        "redwood.wal.page_versions",
        "{version}",
        Gauge,
        "Page versions held in the write-ahead log.",
        |d| Some(d.wal.page_versions)
    ),
    instrument!("redwood.checkpoint.runs", "{checkpoint}", Counter, "Checkpoints run.", |d| Some(
        d.checkpoints.checkpoints
    )),
    instrument!(
        "redwood.checkpoint.pages",
        "{page}",
        Counter,
        "Page images copied into the data files by checkpoints.",
        |d| Some(d.checkpoints.pages_checkpointed)
    ),
    instrument!(
        "redwood.checkpoint.lost_writes_repaired",
        "{page}",
        Counter,
        "Pages the data files had lost, rewritten from the log.",
        |d| Some(d.checkpoints.lost_writes_repaired)
    ),
    instrument!(
        "redwood.checkpoint.lag",
        "{lsn}",
        Gauge,
        "Log positions committed but not yet checkpointed.",
        |d| Some(d.checkpoints.lsns_behind())
    ),
    instrument!("redwood.reader.count", "{reader}", Gauge, "Open read transactions.", |d| Some(
        d.checkpoints.readers
    )),
    instrument!(
        "redwood.reader.lag",
        "{lsn}",
        Gauge,
        "How far the oldest reader lags behind the last commit.",
        |d| Some(d.checkpoints.oldest_reader_lag)
    ),
    instrument!(
        "redwood.pager.pages",
        "{page}",
        Gauge,
        "Page ids in use (the high-water mark).",
        |d| Some(d.pager.page_count)
    ),
    instrument!(
        "redwood.pager.free_pages",
        "{page}",
        Gauge,
        "Free pages below the high-water mark.",
        |d| Some(d.pager.free_pages)
    ),
    instrument!("redwood.pager.segments", "{file}", Gauge, "Segment files of the database.", |d| {
        Some(d.pager.segments)
    }),
    instrument!("redwood.pager.file.size", "By", Gauge, "Bytes of the data files on disk.", |d| d
        .pager
        .data_file_bytes),
    instrument!(
        "redwood.pager.commits",
        "{transaction}",
        Counter,
        "Write transactions committed.",
        |d| Some(d.pager.commits)
    ),
    instrument!(
        "redwood.pager.aborts",
        "{transaction}",
        Counter,
        "Write transactions aborted or dropped.",
        |d| Some(d.pager.aborts)
    ),
    instrument!(
        "redwood.pager.prefetched",
        "{page}",
        Counter,
        "Pages read ahead by prefetch.",
        |d| Some(d.pager.prefetched)
    ),
    instrument!(
        "redwood.pager.pages_read",
        "{page}",
        Counter,
        "Pages read from the data files.",
        |d| Some(d.pager.io.pages_read)
    ),
    instrument!(
        "redwood.pager.pages_written",
        "{page}",
        Counter,
        "Pages written to the data files.",
        |d| Some(d.pager.io.pages_written)
    ),
    instrument!(
        "redwood.pager.syncs",
        "{sync}",
        Counter,
        "Successful fdatasync calls on the data files.",
        |d| Some(d.pager.io.syncs)
    ),
    instrument!(
        "redwood.poisoned",
        "1",
        Gauge,
        "1 once a failure (such as a failed fsync) poisoned the database.",
        |d| Some(u64::from(d.poisoned))
    ),
    instrument!("process.memory.usage", "By", Gauge, "The process's resident set size.", |d| d
        .process
        .rss_bytes),
    instrument!(
        "redwood.process.memory.peak",
        "By",
        Gauge,
        "The process's highest resident set size.",
        |d| d.process.rss_peak_bytes
    ),
    instrument!(
        "redwood.process.heap.usage",
        "By",
        Gauge,
        "Heap bytes allocated (with a CountingAllocator installed).",
        |d| d.process.heap.map(|h| h.allocated_bytes)
    ),
    instrument!(
        "redwood.process.heap.peak",
        "By",
        Gauge,
        "The most heap bytes allocated at once.",
        |d| d.process.heap.map(|h| h.peak_bytes)
    ),
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
    meter
        .u64_observable_gauge(THRASH_RELOADS)
        .with_unit("{reload}")
        .with_description("Quick reloads of each page the buffer pool reported as thrashing.")
        .with_callback(move |observer| {
            let Some(snapshot) = shared.get() else { return };
            for page in &snapshot.thrashing_pages {
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
    read: fn(&Diagnostics) -> Option<T>,
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
