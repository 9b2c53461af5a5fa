//! Redwood telemetry: the leaf of Redwood's crate graph (it depends on no other Redwood crate).
//!
//! - [`counters`]: the subsystems' counters, plain `#[derive(Default)]` structs of relaxed
//!   atomics that each subsystem is handed at construction (no global registry), and the
//!   snapshot structs read out of them. The pager, log and buffer pool re-export them.
//! - [`Diagnostics`]: one snapshot of a whole database, as `redwood::Database::diagnostics`
//!   returns it, and [`DiagnosticsSource`], what exporters read snapshots from.
//! - [`process_stats`] and [`CountingAllocator`]: resident memory from `/proc`, and the heap as
//!   counted by an allocator the application installs.
//! - [`AlertMonitor`] and [`DiagnosticsConfig`] (R4): thresholds on RSS, heap, log bytes, the
//!   cache hit ratio and page thrashing, with hysteresis, and a callback once per crossing.
//! - `otlp` (feature `otlp`, R3): the diagnostics as OpenTelemetry instruments, registered on an
//!   application's own meter or exported over OTLP (gRPC or HTTP/protobuf).
//!
//! What it does not do: it takes no locks of the database, writes no files, and reads only
//! `/proc/self/status`.

pub mod alerts;
pub mod counters;
mod diagnostics;
mod heap;
#[cfg(feature = "otlp")]
pub mod otlp;
mod process;

pub use alerts::{Alert, AlertCallback, AlertKind, AlertMonitor, AlertState, DiagnosticsConfig};
pub use counters::{
    PageFileCounters, PageFileStats, PagerCounters, PoolCounters, PoolStats, WalCounters, WalStats,
};
pub use diagnostics::{
    CheckpointDiagnostics, Diagnostics, DiagnosticsSource, PagerDiagnostics, ThrashingPage,
    WalDiagnostics,
};
pub use heap::{CountingAllocator, HeapStats, heap_stats};
pub use process::{ProcessStats, physical_memory_bytes, process_stats};
