//! OTLP export end to end (R3, R7): a real database is exported by `OtlpExporter` to a real
//! OTLP receiver running in this process on an ephemeral loopback port, once over gRPC (the
//! opentelemetry-proto tonic service) and once over HTTP/protobuf (a `POST /v1/metrics`
//! handler). The data points received must match the `Database::diagnostics` snapshot taken
//! just before, field by field, with the right instrument kinds and units; the thrashing pages
//! arrive as one point each.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::number_data_point::Value;
use opentelemetry_proto::tonic::metrics::v1::{AggregationTemporality, NumberDataPoint};
use prost::Message as _;
use redwood::telemetry::otlp::{OtlpConfig, OtlpExporter, Protocol};
use redwood::{CheckpointMode, Database, Diagnostics};

#[path = "../examples/otel_pipeline.rs"]
#[expect(dead_code, reason = "the example's own `main` is for `cargo run`")]
mod otel_pipeline;

type Requests = Arc<Mutex<Vec<ExportMetricsServiceRequest>>>;

/// How a metric arrived: a monotonic cumulative sum (a counter), a non-monotonic cumulative
/// sum (an up-down counter) or a gauge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Counter,
    UpDown,
    Gauge,
}
use Kind::{Counter, Gauge, UpDown};

/// One received metric: its unit, its kind, and its points as (page-id attribute, value).
#[derive(Debug)]
struct Received {
    unit: String,
    kind: Kind,
    points: Vec<(Option<i64>, f64)>,
}

/// A database with a small cache, a checkpoint behind it, pages that thrash, and a reader open.
fn busy_database(dir: &std::path::Path) -> Database {
    let db = Database::builder().cache_bytes(16 * 4096).create(dir.join("otlp.redwood")).unwrap();
    let write = db.begin_write().unwrap();
    let mut table = write.open_table("t").unwrap();
    for i in 0u32..3000 {
        table.insert(i.to_be_bytes(), [i as u8; 100]).unwrap();
    }
    drop(table);
    write.commit().unwrap();
    db.checkpoint(CheckpointMode::Passive).unwrap();
    let write = db.begin_write().unwrap();
    write.open_table("t").unwrap().insert(b"after", b"checkpoint").unwrap();
    write.commit().unwrap();
    for _ in 0..5 {
        let read = db.begin_read().unwrap();
        let table = read.open_table("t").unwrap();
        for i in (0u32..3000).step_by(25) {
            assert!(table.get(i.to_be_bytes()).unwrap().is_some());
        }
    }
    db
}

fn value(point: &NumberDataPoint) -> f64 {
    match point.value {
        Some(Value::AsInt(v)) => v as f64,
        Some(Value::AsDouble(v)) => v,
        None => f64::NAN,
    }
}

fn page_attribute(point: &NumberDataPoint) -> Option<i64> {
    point.attributes.iter().find(|kv| kv.key == "redwood.page.id").and_then(|kv| {
        match kv.value.as_ref()?.value.as_ref()? {
            AnyValue::IntValue(id) => Some(*id),
            _ => None,
        }
    })
}

/// The metrics of one request, by name; also checks the resource's service name.
fn received(request: &ExportMetricsServiceRequest) -> BTreeMap<String, Received> {
    let mut metrics = BTreeMap::new();
    for resource in &request.resource_metrics {
        let attributes = &resource.resource.as_ref().unwrap().attributes;
        let service = attributes.iter().find(|kv| kv.key == "service.name").unwrap();
        assert_eq!(
            service.value.as_ref().unwrap().value,
            Some(AnyValue::StringValue("redwood-test".into()))
        );
        for scope in &resource.scope_metrics {
            for metric in &scope.metrics {
                let (kind, points) = match metric.data.as_ref().unwrap() {
                    Data::Sum(sum) => {
                        let cumulative = AggregationTemporality::Cumulative as i32;
                        assert_eq!(sum.aggregation_temporality, cumulative, "{}", metric.name);
                        (if sum.is_monotonic { Counter } else { UpDown }, &sum.data_points)
                    }
                    Data::Gauge(gauge) => (Gauge, &gauge.data_points),
                    other => panic!("{}: unexpected data {other:?}", metric.name),
                };
                let points = points.iter().map(|p| (page_attribute(p), value(p))).collect();
                let entry = Received { unit: metric.unit.clone(), kind, points };
                assert!(metrics.insert(metric.name.clone(), entry).is_none(), "{}", metric.name);
            }
        }
    }
    metrics
}

/// Every figure of the snapshot that must arrive, as (name, kind, unit, value), written out
/// field by field rather than derived from the exporter's own table.
fn expected(d: &Diagnostics) -> Vec<(&'static str, Kind, &'static str, f64)> {
    let f = |v: u64| v as f64;
    vec![
        ("redwood.bufpool.hits", Counter, "{lookup}", f(d.pool.hits)),
        ("redwood.bufpool.misses", Counter, "{lookup}", f(d.pool.misses)),
        ("redwood.bufpool.evictions", Counter, "{page}", f(d.pool.evictions)),
        ("redwood.bufpool.reads", Counter, "{page}", f(d.pool.reads)),
        ("redwood.bufpool.failed_reads", Counter, "{page}", f(d.pool.failed_reads)),
        ("redwood.bufpool.thrash.reports", Counter, "{report}", f(d.pool.thrash_reports)),
        ("redwood.bufpool.frames", UpDown, "{frame}", f(d.pool.frames)),
        ("redwood.bufpool.cached", UpDown, "{page}", f(d.pool.cached)),
        ("redwood.bufpool.pinned", UpDown, "{frame}", f(d.pool.pinned)),
        ("redwood.bufpool.memory.usage", UpDown, "By", f(d.pool.memory_bytes)),
        ("redwood.bufpool.hit_ratio", Gauge, "1", d.pool.hit_ratio().unwrap()),
        ("redwood.wal.frames", Counter, "{frame}", f(d.wal.written.frames)),
        ("redwood.wal.written", Counter, "By", f(d.wal.written.bytes)),
        ("redwood.wal.commits", Counter, "{transaction}", f(d.wal.written.commits)),
        ("redwood.wal.syncs", Counter, "{sync}", f(d.wal.written.syncs)),
        ("redwood.wal.restarts", Counter, "{restart}", f(d.wal.written.restarts)),
        ("redwood.wal.preallocated", Counter, "By", f(d.wal.written.preallocated_bytes)),
        ("redwood.wal.usage", UpDown, "By", f(d.wal.bytes_in_use)),
        ("redwood.wal.page_versions", UpDown, "{version}", f(d.wal.page_versions)),
        ("redwood.checkpoint.runs", Counter, "{checkpoint}", f(d.checkpoints.checkpoints)),
        ("redwood.checkpoint.pages", Counter, "{page}", f(d.checkpoints.pages_checkpointed)),
        (
            "redwood.checkpoint.lost_writes_repaired",
            Counter,
            "{page}",
            f(d.checkpoints.lost_writes_repaired),
        ),
        (
            "redwood.checkpoint.lag",
            Gauge,
            "{lsn}",
            f(d.checkpoints.last_commit_lsn - d.checkpoints.checkpoint_lsn),
        ),
        ("redwood.reader.count", UpDown, "{reader}", f(d.checkpoints.readers)),
        ("redwood.reader.lag", Gauge, "{lsn}", f(d.checkpoints.oldest_reader_lag)),
        ("redwood.pager.pages", UpDown, "{page}", f(d.pager.page_count)),
        ("redwood.pager.free_pages", UpDown, "{page}", f(d.pager.free_pages)),
        ("redwood.pager.segments", UpDown, "{file}", f(d.pager.segments)),
        ("redwood.pager.file.size", UpDown, "By", f(d.pager.data_file_bytes.unwrap())),
        ("redwood.pager.commits", Counter, "{transaction}", f(d.pager.commits)),
        ("redwood.pager.aborts", Counter, "{transaction}", f(d.pager.aborts)),
        ("redwood.pager.prefetched", Counter, "{page}", f(d.pager.prefetched)),
        ("redwood.pager.pages_read", Counter, "{page}", f(d.pager.io.pages_read)),
        ("redwood.pager.pages_written", Counter, "{page}", f(d.pager.io.pages_written)),
        ("redwood.pager.syncs", Counter, "{sync}", f(d.pager.io.syncs)),
        ("redwood.poisoned", Gauge, "1", 0.0),
    ]
}

/// Exports `db` to `endpoint`, then compares what `requests` received with the snapshot.
fn export_and_compare(db: &Database, endpoint: String, protocol: Protocol, requests: &Requests) {
    let _reader = db.begin_read().unwrap();
    let snapshot = db.diagnostics();
    assert!(!snapshot.thrashing_pages.is_empty(), "the workload makes pages thrash");
    assert!(snapshot.checkpoints.last_commit_lsn > snapshot.checkpoints.checkpoint_lsn);

    let mut config = OtlpConfig::new(endpoint, protocol);
    config.interval = Duration::from_secs(3600); // only the explicit flush exports
    config.service_name = "redwood-test".into();
    let exporter = OtlpExporter::start(&config, db.diagnostics_source()).unwrap();
    exporter.flush().unwrap();
    exporter.shutdown().unwrap(); // a second export, with nothing changed in between

    let requests = requests.lock().unwrap();
    assert_eq!(requests.len(), 2, "the flush's export and the shutdown's");
    let mut metrics = received(&requests[0]);
    for (name, kind, unit, value) in expected(&snapshot) {
        let metric = metrics.remove(name).unwrap_or_else(|| panic!("{name} was not exported"));
        assert_eq!((metric.kind, metric.unit.as_str()), (kind, unit), "{name}");
        assert_eq!(metric.points, [(None, value)], "{name}");
    }
    let thrash = metrics.remove("redwood.bufpool.thrash.reloads").unwrap();
    let mut expected_thrash: Vec<(Option<i64>, f64)> = snapshot
        .thrashing_pages
        .iter()
        .map(|page| (Some(page.page_id as i64), f64::from(page.reloads)))
        .collect();
    let mut thrash_points = thrash.points;
    expected_thrash.sort_by(|a, b| a.partial_cmp(b).unwrap());
    thrash_points.sort_by(|a, b| a.partial_cmp(b).unwrap());
    assert_eq!(thrash_points, expected_thrash);

    // The process's memory moves between the snapshot and the export: checked for shape only.
    let rss = metrics.remove("process.memory.usage").unwrap();
    let peak = metrics.remove("redwood.process.memory.peak").unwrap();
    assert_eq!((rss.unit.as_str(), rss.kind), ("By", UpDown));
    assert_eq!((peak.unit.as_str(), peak.kind), ("By", Gauge));
    assert!(rss.points[0].1 > 1e6 && peak.points[0].1 >= rss.points[0].1);
    // No counting allocator in this binary, so no heap points; nothing else may be left.
    assert!(metrics.is_empty(), "unexpected metrics: {:?}", metrics.keys());

    // The second export: the same totals, and no thrash points, since no page was reported
    // since the first.
    let second = received(&requests[1]);
    assert_eq!(second["redwood.bufpool.hits"].points, [(None, snapshot.pool.hits as f64)]);
    let thrash_again = second.get("redwood.bufpool.thrash.reloads");
    assert!(thrash_again.is_none_or(|metric| metric.points.is_empty()), "{thrash_again:?}");
}

#[derive(Default)]
struct GrpcReceiver {
    requests: Requests,
}

#[tonic::async_trait]
impl MetricsService for GrpcReceiver {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        self.requests.lock().unwrap().push(request.into_inner());
        Ok(tonic::Response::new(ExportMetricsServiceResponse::default()))
    }
}

#[test]
fn grpc_export_matches_the_snapshot() {
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let address = listener.local_addr().unwrap();
    let receiver = GrpcReceiver::default();
    let requests = Arc::clone(&receiver.requests);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = runtime.spawn(
        tonic::transport::Server::builder()
            .add_service(MetricsServiceServer::new(receiver))
            .serve_with_incoming_shutdown(
                tonic::transport::server::TcpIncoming::from(listener),
                async {
                    stopped.await.ok();
                },
            ),
    );

    let dir = tempfile::tempdir().unwrap();
    let db = busy_database(dir.path());
    export_and_compare(&db, format!("http://{address}"), Protocol::Grpc, &requests);

    stop.send(()).unwrap();
    runtime.block_on(server).unwrap().unwrap();
}

/// An OTLP/HTTP receiver on an ephemeral loopback port: its endpoint, what it received, and
/// a stop function that ends it and joins its thread.
fn http_receiver() -> (String, Requests, impl FnOnce()) {
    let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
    let port = server.server_addr().to_ip().unwrap().port();
    let requests: Requests = Arc::default();
    let handler = {
        let (server, requests) = (Arc::clone(&server), Arc::clone(&requests));
        std::thread::spawn(move || {
            for mut request in server.incoming_requests() {
                assert_eq!(request.url(), "/v1/metrics");
                assert_eq!(*request.method(), tiny_http::Method::Post);
                let content_type = request
                    .headers()
                    .iter()
                    .find(|h| h.field.equiv("Content-Type"))
                    .map(|h| h.value.to_string());
                assert_eq!(content_type.as_deref(), Some("application/x-protobuf"));
                let mut body = Vec::new();
                std::io::Read::read_to_end(request.as_reader(), &mut body).unwrap();
                let decoded = ExportMetricsServiceRequest::decode(body.as_slice()).unwrap();
                requests.lock().unwrap().push(decoded);
                let answer = ExportMetricsServiceResponse::default().encode_to_vec();
                let header = "Content-Type: application/x-protobuf".parse::<tiny_http::Header>();
                request
                    .respond(tiny_http::Response::from_data(answer).with_header(header.unwrap()))
                    .unwrap();
            }
        })
    };

    let stop = move || {
        server.unblock();
        handler.join().unwrap();
    };
    (format!("http://127.0.0.1:{port}/v1/metrics"), requests, stop)
}

#[test]
fn http_export_matches_the_snapshot() {
    let (endpoint, requests, stop) = http_receiver();
    let dir = tempfile::tempdir().unwrap();
    let db = busy_database(dir.path());
    export_and_compare(&db, endpoint, Protocol::HttpProtobuf, &requests);
    stop();
}

#[test]
fn the_example_exports_redwood_beside_the_application_metrics() {
    let (endpoint, requests, stop) = http_receiver();
    let dir = tempfile::tempdir().unwrap();
    let stored = otel_pipeline::run(&endpoint, &dir.path().join("inventory.redwood")).unwrap();
    stop();
    assert_eq!(stored, 10_000);
    let requests = requests.lock().unwrap();
    let request = requests.first().expect("the example's flush reached the receiver");
    let metrics: BTreeMap<&str, f64> = request
        .resource_metrics
        .iter()
        .flat_map(|resource| &resource.scope_metrics)
        .flat_map(|scope| &scope.metrics)
        .filter_map(|metric| {
            let points = match metric.data.as_ref()? {
                Data::Sum(sum) => &sum.data_points,
                Data::Gauge(gauge) => &gauge.data_points,
                _ => return None,
            };
            Some((metric.name.as_str(), value(points.first()?)))
        })
        .collect();
    assert_eq!(metrics["inventory.orders"], 10_000.0, "the application's own metric");
    assert_eq!(metrics["redwood.wal.commits"], 10.0, "Redwood's, in the same export");
    assert_eq!(metrics["redwood.pager.commits"], 10.0);
    assert!(metrics["redwood.wal.usage"] > 0.0);
}
