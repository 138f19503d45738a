//! Request metrics (count and latency per route template) and the `/metrics` endpoint in
//! the Prometheus text format.

use std::collections::HashMap;
use std::sync::{OnceLock, RwLock};

use axum::extract::{MatchedPath, Request};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::clock::Stopwatch;
use crate::telemetry::{HASH_QUEUE, HTTP_DURATION, HTTP_REQUESTS, metrics_handle};

/// Records every request under its route template (never the raw path, which may hold
/// ids), its method and status, and writes the route and status onto the request's
/// span (see `trace`). The metric handles are cached per (route, method, status): a
/// request costs one read-locked lookup, no allocation and no registry hashing.
pub(super) async fn record(request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map(|p| p.as_str());
    let endpoint = intern(route.unwrap_or("unmatched"));
    let method = method_str(request.method());
    let span = tracing::Span::current();
    if !span.is_disabled() {
        super::trace::record_route(&span, request.method(), route);
    }
    let watch = Stopwatch::start();
    let response = next.run(request).await;
    let status = response.status().as_u16();
    if !span.is_disabled() {
        super::trace::record_status(&span, status);
    }
    let (counter, histogram) = handles(endpoint, method, status);
    counter.increment(1);
    histogram.record(watch.elapsed().as_secs_f64());
    response
}

type Handles = (metrics::Counter, metrics::Histogram);
type HandleMap = HashMap<(usize, &'static str, u16), Handles>;

/// Route templates as `'static` strings, leaked once each (the router has a fixed, small
/// set of them), so they can be labels and cache keys without allocating per request.
fn intern(route: &str) -> &'static str {
    static ROUTES: OnceLock<RwLock<HashMap<String, &'static str>>> = OnceLock::new();
    let routes = ROUTES.get_or_init(Default::default);
    if let Ok(map) = routes.read()
        && let Some(s) = map.get(route)
    {
        return s;
    }
    let Ok(mut map) = routes.write() else { return "unmatched" };
    if map.len() >= 512 {
        return "unmatched";
    }
    map.entry(route.to_owned()).or_insert_with(|| Box::leak(route.to_owned().into_boxed_str()))
}

fn method_str(m: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

fn handles(endpoint: &'static str, method: &'static str, status: u16) -> Handles {
    static CACHE: OnceLock<RwLock<HandleMap>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let key = (endpoint.as_ptr() as usize, method, status);
    if let Ok(map) = cache.read()
        && let Some(h) = map.get(&key)
    {
        return h.clone();
    }
    let h = (
        metrics::counter!(HTTP_REQUESTS, "endpoint" => endpoint, "method" => method, "status" => status.to_string()),
        metrics::histogram!(HTTP_DURATION, "endpoint" => endpoint),
    );
    if let Ok(mut map) = cache.write() {
        map.insert(key, h.clone());
    }
    h
}

/// `GET /metrics`.
pub(super) async fn render(axum::extract::State(state): axum::extract::State<super::AppState>) -> Response {
    metrics::gauge!(HASH_QUEUE).set(state.services.hasher.waiting() as f64);
    match metrics_handle() {
        Some(h) => ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], h.render()).into_response(),
        None => (axum::http::StatusCode::SERVICE_UNAVAILABLE, "metrics recorder unavailable").into_response(),
    }
}
