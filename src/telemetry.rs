//! Telemetry at the edge: the Prometheus recorder behind `/metrics`, and the names of the
//! metrics the rest of the code records through the `metrics` facade. Labels never carry
//! personal data, tokens or client secrets — endpoints, outcomes and grant types only.
//!
//! Also the process's `tracing` subscriber ([`init_tracing`]): logs to standard error and,
//! only when `DINHDANH_OTLP_ENDPOINT` is set, OpenTelemetry trace export over OTLP/HTTP
//! (protobuf, batched on the SDK's thread, sent through our reqwest). The request spans
//! themselves are made in `http::trace`.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Requests served, by endpoint (route template), method and status class.
pub const HTTP_REQUESTS: &str = "dinhdanh_http_requests_total";
/// Request latency in seconds, by endpoint.
pub const HTTP_DURATION: &str = "dinhdanh_http_request_duration_seconds";
/// Tokens issued, by grant type.
pub const TOKENS_ISSUED: &str = "dinhdanh_tokens_issued_total";
/// Password sign-ins, by outcome (`success`, `failure`, `throttled`, `busy`).
pub const LOGINS: &str = "dinhdanh_logins_total";
/// Password hashes waiting for a slot.
pub const HASH_QUEUE: &str = "dinhdanh_password_hash_queue";
/// Round-trip time of the readiness probe to each backend (`database`, `ephemeral`),
/// seconds: store and Redis latency as the load balancer's health checks see it.
pub const BACKEND_PING: &str = "dinhdanh_backend_ping_seconds";

/// The process-wide recorder (installed once; every app in the process shares it).
pub fn metrics_handle() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let buckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(metrics_exporter_prometheus::Matcher::Suffix("_seconds".into()), &buckets)
                .ok()?
                .build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok()?;
            Some(handle)
        })
        .as_ref()
}

/// Installs the recorder (once) and starts its upkeep (once per process): histogram
/// samples are buffered until aggregated, and without a periodic drain they would grow
/// with traffic when nobody scrapes `/metrics`.
pub fn start_upkeep() {
    static STARTED: OnceLock<()> = OnceLock::new();
    let Some(handle) = metrics_handle() else { return };
    STARTED.get_or_init(|| {
        let handle = handle.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(5));
            loop {
                tick.tick().await;
                handle.run_upkeep();
            }
        });
    });
}

// ---------------------------------------------------------------------------------------
// OpenTelemetry trace export (OTLP/HTTP, protobuf), only when `DINHDANH_OTLP_ENDPOINT` is
// set. Spans are batched by the SDK on its own thread, off the request path; the HTTP
// requests go through our reqwest client on the server's Tokio runtime.

/// Service name reported to the collector.
pub const SERVICE_NAME: &str = "dinhdanh";
/// How long one export request may take.
const EXPORT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The tracer provider of the process, kept so shutdown can flush it.
static PROVIDER: OnceLock<opentelemetry_sdk::trace::SdkTracerProvider> = OnceLock::new();

/// An OTLP/HTTP client over our reqwest: each export is spawned on the Tokio runtime the
/// exporter was built on, so the SDK's batch thread (which has no runtime) can await it.
#[derive(Debug, Clone)]
struct ExportClient {
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

#[async_trait::async_trait]
impl opentelemetry_http::HttpClient for ExportClient {
    async fn send_bytes(
        &self,
        request: opentelemetry_http::Request<bytes::Bytes>,
    ) -> Result<opentelemetry_http::Response<bytes::Bytes>, opentelemetry_http::HttpError> {
        let (parts, body) = request.into_parts();
        let mut outgoing = self.client.request(parts.method, parts.uri.to_string()).body(body);
        for (name, value) in &parts.headers {
            outgoing = outgoing.header(name, value);
        }
        let sent = self.runtime.spawn(async move {
            let response = outgoing.send().await?;
            let status = response.status();
            let body = response.bytes().await?;
            Ok::<_, reqwest::Error>((status, body))
        });
        let (status, body) = sent.await??;
        let mut response = opentelemetry_http::Response::new(body);
        *response.status_mut() = status;
        Ok(response)
    }
}

/// Why trace export could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("DINHDANH_OTLP_ENDPOINT: {0}")]
pub struct TraceExportError(String);

/// Builds the tracer provider exporting to `endpoint` (the collector's base URL; spans go
/// to `{endpoint}/v1/traces`). Must be called inside a Tokio runtime.
pub fn otlp_provider(endpoint: &str) -> Result<opentelemetry_sdk::trace::SdkTracerProvider, TraceExportError> {
    use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
    let runtime = tokio::runtime::Handle::try_current().map_err(|e| TraceExportError(e.to_string()))?;
    let client = reqwest::Client::builder()
        .timeout(EXPORT_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| TraceExportError(e.to_string()))?;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_http_client(ExportClient { client, runtime })
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .with_endpoint(format!("{}/v1/traces", endpoint.trim_end_matches('/')))
        .with_timeout(EXPORT_TIMEOUT)
        .build()
        .map_err(|e| TraceExportError(e.to_string()))?;
    let resource = opentelemetry_sdk::Resource::builder_empty().with_service_name(SERVICE_NAME).build();
    Ok(opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build())
}

/// The `tracing` layer that turns our spans into OpenTelemetry spans of `provider`.
pub fn otlp_layer<S>(provider: &opentelemetry_sdk::trace::SdkTracerProvider) -> impl tracing_subscriber::Layer<S>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
{
    use opentelemetry::trace::TracerProvider as _;
    tracing_opentelemetry::layer()
        .with_tracer(provider.tracer(SERVICE_NAME))
        .with_location(false)
        .with_threads(false)
        .with_tracked_inactivity(false)
        // Spans start when they close, so the route template and status recorded inside
        // the router still name them (nothing here reads the OpenTelemetry context).
        .with_context_activation(false)
}

/// Installs the process-wide subscriber: logs to standard error (text or JSON) filtered by
/// `RUST_LOG` (default `info,sqlx=warn`), plus OpenTelemetry export when `otlp_endpoint`
/// is set. Without it no exporter, thread or client exists. Each has its own filter, so a
/// quiet log level does not silence traces: export takes this crate's spans and events
/// at `info` and above. Call inside the runtime.
pub fn init_tracing(format: crate::config::LogFormat, otlp_endpoint: Option<&str>) -> Result<(), TraceExportError> {
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let otel = match otlp_provider_for(otlp_endpoint)? {
        Some(provider) => {
            let traced = tracing_subscriber::filter::Targets::new().with_target("dinhdanh", tracing::Level::INFO);
            let layer = otlp_layer(&provider).with_filter(traced);
            let _ = PROVIDER.set(provider);
            Some(layer)
        }
        None => None,
    };
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let registry = tracing_subscriber::registry().with(otel);
    let _ = match format {
        crate::config::LogFormat::Json => registry.with(fmt.json().with_filter(filter)).try_init(),
        crate::config::LogFormat::Text => registry.with(fmt.with_filter(filter)).try_init(),
    };
    Ok(())
}

/// The tracer provider for the `DINHDANH_OTLP_ENDPOINT` setting: none without it (no
/// exporter, no thread, no client; the `OTEL_*` variables alone turn nothing on).
pub fn otlp_provider_for(
    endpoint: Option<&str>,
) -> Result<Option<opentelemetry_sdk::trace::SdkTracerProvider>, TraceExportError> {
    endpoint.map(otlp_provider).transpose()
}

/// Flushes and stops trace export (at shutdown; blocks up to the export timeout, so call
/// it off the runtime's worker threads, e.g. in `spawn_blocking`).
pub fn shutdown_tracing() {
    if let Some(provider) = PROVIDER.get()
        && let Err(e) = provider.shutdown()
    {
        tracing::warn!(error = %e, "trace export: flush at shutdown failed");
    }
}
