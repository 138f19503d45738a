//! Telemetry at the edge: the Prometheus recorder behind `/metrics`, and the names of the
//! metrics the rest of the code records through the `metrics` facade. Labels never carry
//! personal data, tokens or client secrets — endpoints, outcomes and grant types only.

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
