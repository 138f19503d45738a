//! Request metrics (count and latency per route template) and the `/metrics` endpoint in
//! the Prometheus text format.

use axum::extract::{MatchedPath, Request};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::clock::Stopwatch;
use crate::telemetry::{HASH_QUEUE, HTTP_DURATION, HTTP_REQUESTS, metrics_handle};

/// Records every request under its route template (never the raw path, which may hold
/// ids), its method and status.
pub(super) async fn record(request: Request, next: Next) -> Response {
    let endpoint =
        request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned()).unwrap_or_else(|| "unmatched".into());
    let method = request.method().as_str().to_owned();
    let watch = Stopwatch::start();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!(HTTP_REQUESTS, "endpoint" => endpoint.clone(), "method" => method, "status" => status)
        .increment(1);
    metrics::histogram!(HTTP_DURATION, "endpoint" => endpoint).record(watch.elapsed().as_secs_f64());
    response
}

/// `GET /metrics`.
pub(super) async fn render(axum::extract::State(state): axum::extract::State<super::AppState>) -> Response {
    metrics::gauge!(HASH_QUEUE).set(state.services.hasher.waiting() as f64);
    match metrics_handle() {
        Some(h) => ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], h.render()).into_response(),
        None => (axum::http::StatusCode::SERVICE_UNAVAILABLE, "metrics recorder unavailable").into_response(),
    }
}
