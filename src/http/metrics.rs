//! Request metrics (count and latency per route template) and the `/metrics` endpoint in
//! the Prometheus text format.

use std::future::Future;
use std::pin::Pin;
use std::sync::{OnceLock, RwLock};
use std::task::{Context, Poll, ready};

use axum::extract::{MatchedPath, Request};
use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::clock::Stopwatch;
use crate::telemetry::{HASH_QUEUE, HTTP_DURATION, HTTP_REQUESTS, metrics_handle};

/// Records every request under its route template (never the raw path, which may hold
/// ids), its method and status, and writes the route and status onto the request's
/// span (see `trace`). The metric handles are cached per (route, method, status): a
/// request costs one read-locked lookup, no allocation and no registry hashing.
///
/// A route layer (it needs the matched route), written as a plain tower layer rather
/// than `from_fn`: no boxed future and no boxed `Next` per request.
#[derive(Clone, Copy, Default)]
pub(super) struct Record;

impl<S> tower_layer::Layer<S> for Record {
    type Service = Recorded<S>;
    fn layer(&self, inner: S) -> Recorded<S> {
        Recorded { inner }
    }
}

/// A route's service with its requests recorded (see [`Record`]).
#[derive(Clone)]
pub(super) struct Recorded<S> {
    inner: S,
}

impl<S> tower_service::Service<Request> for Recorded<S>
where
    S: tower_service::Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = RecordFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let route = request.extensions().get::<MatchedPath>().map(|p| p.as_str());
        let endpoint = intern(route.unwrap_or("unmatched"));
        let method = method_str(request.method());
        let span = tracing::Span::current();
        if !span.is_disabled() {
            super::trace::record_route(&span, request.method(), route);
        }
        RecordFuture { inner: self.inner.call(request), endpoint, method, span, watch: Stopwatch::start() }
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`Recorded`].
    pub(super) struct RecordFuture<F> {
        #[pin]
        inner: F,
        endpoint: &'static str,
        method: &'static str,
        span: tracing::Span,
        watch: Stopwatch,
    }
}

impl<F, E> Future for RecordFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let response = ready!(this.inner.poll(cx))?;
        let status = response.status().as_u16();
        if !this.span.is_disabled() {
            super::trace::record_status(this.span, status);
        }
        let (counter, histogram) = handles(this.endpoint, this.method, status);
        counter.increment(1);
        histogram.record(this.watch.elapsed().as_secs_f64());
        Poll::Ready(Ok(response))
    }
}

type Handles = (metrics::Counter, metrics::Histogram);
// Keys are our own route pointers, methods and statuses, never attacker-chosen strings,
// so the fast non-keyed hash is safe here.
type HandleMap = rustc_hash::FxHashMap<(usize, &'static str, u16), Handles>;

/// Route templates as `'static` strings, leaked once each (the router has a fixed, small
/// set of them), so they can be labels and cache keys without allocating per request.
fn intern(route: &str) -> &'static str {
    static ROUTES: OnceLock<RwLock<rustc_hash::FxHashMap<String, &'static str>>> = OnceLock::new();
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
