//! [`OtlpExporter`]: a meter provider of Redwood's own that exports the diagnostics to an OTLP
//! endpoint every interval, over gRPC (tonic, on a one-thread Tokio runtime the exporter owns)
//! or HTTP/protobuf (a blocking HTTP client; no runtime needed).

use std::sync::Arc;
use std::time::Duration;

use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_otlp::{WithExportConfig as _, WithHttpConfig as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};

use crate::diagnostics::DiagnosticsSource;

/// The OTLP transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// OTLP/gRPC (default port 4317).
    Grpc,
    /// OTLP/HTTP with protobuf bodies, `POST {endpoint}/v1/metrics` (default port 4318).
    HttpProtobuf,
}

/// Where and how often to export.
#[derive(Clone, Debug)]
pub struct OtlpConfig {
    /// The collector's endpoint: `http://host:4317` for gRPC; for HTTP, the full metrics URL
    /// (`http://host:4318/v1/metrics`).
    pub endpoint: String,
    /// The transport.
    pub protocol: Protocol,
    /// Time between exports.
    pub interval: Duration,
    /// The most one export may take.
    pub timeout: Duration,
    /// The `service.name` resource attribute.
    pub service_name: String,
}

impl OtlpConfig {
    /// Exports to `endpoint` over `protocol` every 10 seconds, as service `redwood`.
    pub fn new(endpoint: impl Into<String>, protocol: Protocol) -> Self {
        Self {
            endpoint: endpoint.into(),
            protocol,
            interval: Duration::from_secs(10),
            timeout: Duration::from_secs(5),
            service_name: "redwood".to_owned(),
        }
    }
}

/// Why the exporter could not start, flush or stop.
#[derive(Debug, thiserror::Error)]
pub enum OtlpError {
    /// The OTLP exporter could not be built (a bad endpoint, say).
    #[error("building the OTLP exporter: {0}")]
    Build(#[from] opentelemetry_otlp::ExporterBuildError),
    /// The gRPC transport's runtime could not start.
    #[error("starting the runtime of the gRPC exporter: {0}")]
    Runtime(#[from] std::io::Error),
    /// An export, flush or shutdown failed (the collector unreachable, say).
    #[error("OTLP export: {0}")]
    Export(#[from] opentelemetry_sdk::error::OTelSdkError),
}

/// Exports one database's diagnostics over OTLP until dropped or shut down.
pub struct OtlpExporter {
    provider: SdkMeterProvider,
    /// The gRPC transport's runtime; `None` for HTTP.
    runtime: Option<tokio::runtime::Runtime>,
}

impl std::fmt::Debug for OtlpExporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtlpExporter").field("grpc", &self.runtime.is_some()).finish()
    }
}

impl OtlpExporter {
    /// Starts exporting `source` as `config` says; the first export happens after one interval
    /// (or at [`Self::flush`]).
    pub fn start(
        config: &OtlpConfig,
        source: Arc<dyn DiagnosticsSource>,
    ) -> Result<Self, OtlpError> {
        let builder = opentelemetry_otlp::MetricExporter::builder();
        let (exporter, runtime) = match config.protocol {
            Protocol::Grpc => {
                // tonic's channel spawns its connection task on the Tokio runtime current when
                // it is built, and needs that runtime to keep running for every export.
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .thread_name("redwood-otlp")
                    .enable_all()
                    .build()?;
                let exporter = {
                    let _entered = runtime.enter();
                    builder
                        .with_tonic()
                        .with_endpoint(config.endpoint.clone())
                        .with_timeout(config.timeout)
                        .build()?
                };
                (exporter, Some(runtime))
            }
            Protocol::HttpProtobuf => {
                let exporter = builder
                    .with_http()
                    .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
                    .with_endpoint(config.endpoint.clone())
                    .with_timeout(config.timeout)
                    .with_headers(Default::default())
                    .build()?;
                (exporter, None)
            }
        };
        let reader = PeriodicReader::builder(exporter).with_interval(config.interval).build();
        let resource = Resource::builder().with_service_name(config.service_name.clone()).build();
        let provider =
            SdkMeterProvider::builder().with_reader(reader).with_resource(resource).build();
        super::register(&provider.meter("redwood"), source);
        Ok(Self { provider, runtime })
    }

    /// Collects and exports now, waiting for the collector's answer.
    pub fn flush(&self) -> Result<(), OtlpError> {
        Ok(self.provider.force_flush()?)
    }

    /// Exports one last time and stops.
    pub fn shutdown(mut self) -> Result<(), OtlpError> {
        let result = self.provider.shutdown();
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
        Ok(result?)
    }

    /// The meter provider, to add an application's own instruments to the same export.
    pub fn meter_provider(&self) -> &SdkMeterProvider {
        &self.provider
    }
}

impl Drop for OtlpExporter {
    fn drop(&mut self) {
        // One last export. An unreachable collector holds this up for at most the exporter's
        // `OtlpConfig::timeout` (the SDK ignores a shutdown's own timeout). After `shutdown`,
        // this is a no-op that reports "already shut down".
        let _ = self.provider.shutdown();
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
