//! Redwood telemetry: the leaf crate that every other Redwood crate may depend on.
//!
//! Its role (issue 8): plain `#[derive(Default)]` structs of relaxed atomic counters that each
//! subsystem owns and injects at construction, snapshot structs read out of them, diagnostics,
//! threshold alert hooks, and, behind the `otlp` feature, an OpenTelemetry exporter.
//!
//! What it does not do: it keeps no global registry, performs no I/O of its own, and depends on no
//! other Redwood crate. Nothing is implemented here yet; this header records the crate's place in
//! the dependency graph (see `ARCHITECTURE.md`).
