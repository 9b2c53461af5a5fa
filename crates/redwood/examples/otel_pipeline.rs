//! Wiring Redwood's metrics into an application's own OpenTelemetry pipeline (R3, R4).
//!
//! The application owns the meter provider: its exporter, resource, interval. Redwood only
//! registers its instruments on a `Meter` of that provider (`redwood::telemetry::otlp::register`),
//! so its buffer-pool, log, checkpoint, pager and process figures leave in the same exports as
//! the application's own metrics. Alerts go to the application's logs through a callback, and
//! a `CountingAllocator` lets the heap figures and the heap alert work.
//!
//! `cargo run -p redwood --features otlp --example otel_pipeline -- [ENDPOINT]`
//! (default `http://localhost:4318/v1/metrics`, a collector's OTLP/HTTP port).

use std::error::Error;
use std::path::Path;
use std::time::Duration;

use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_otlp::{WithExportConfig as _, WithHttpConfig as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use redwood::{Database, DiagnosticsConfig};

/// The heap figures need the counting allocator as the process's global allocator.
#[cfg(not(test))]
#[global_allocator]
static ALLOCATOR: redwood::CountingAllocator = redwood::CountingAllocator::system();

fn main() -> Result<(), Box<dyn Error>> {
    tracing_subscriber::fmt().init();
    let endpoint = std::env::args().nth(1).unwrap_or("http://localhost:4318/v1/metrics".into());
    let dir = std::env::temp_dir().join(format!("otel_pipeline_{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let outcome = run(&endpoint, &dir.join("inventory.redwood"));
    std::fs::remove_dir_all(&dir)?;
    match outcome {
        Ok(orders) => println!("{orders} orders stored; metrics exported to {endpoint}"),
        Err(error) => eprintln!("export to {endpoint} failed (is a collector listening?): {error}"),
    }
    Ok(())
}

/// Runs the application: its pipeline, its database, its work; then one flush. Returns the
/// orders stored (the test suite calls this with its own receiver's endpoint).
pub fn run(endpoint: &str, path: &Path) -> Result<u64, Box<dyn Error>> {
    // 1. The application's pipeline, as it would be without Redwood.
    let exporter = opentelemetry_otlp::MetricExporter::builder()
        .with_http()
        .with_endpoint(endpoint)
        .with_headers(Default::default())
        .build()?;
    let provider = SdkMeterProvider::builder()
        .with_reader(
            PeriodicReader::builder(exporter).with_interval(Duration::from_secs(15)).build(),
        )
        .with_resource(Resource::builder().with_service_name("inventory-service").build())
        .build();
    let meter = provider.meter("inventory-service");
    let orders = meter.u64_counter("inventory.orders").with_unit("{order}").build();

    // 2. The database, with alert thresholds reported through the application's logs.
    let alerts = DiagnosticsConfig::default()
        .wal_bytes_max(8 << 20)
        .cache_hit_ratio_min(0.5, 1000)
        .sample_every(Duration::from_secs(1))
        .on_alert(|alert| tracing::warn!(%alert, "redwood"));
    let db = Database::builder().diagnostics(alerts).create(path)?;

    // 3. Redwood's instruments join the application's meter.
    redwood::telemetry::otlp::register(&meter, db.diagnostics_source());

    // 4. Work.
    for batch in 0u64..10 {
        let write = db.begin_write()?;
        let mut table = write.open_table("orders")?;
        for i in 0..1000 {
            let id = batch * 1000 + i;
            table.insert(format!("order-{id:08}").as_bytes(), b"{\"state\":\"placed\"}")?;
        }
        drop(table);
        write.commit()?;
        orders.add(1000, &[]);
    }
    let stored = db.begin_read()?.open_table("orders")?.len();

    // 5. Export now rather than waiting for the interval, then stop the pipeline.
    provider.force_flush()?;
    provider.shutdown()?;
    Ok(stored)
}
