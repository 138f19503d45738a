//! The span of each HTTP request, for the logs and (when `DINHDANH_OTLP_ENDPOINT` is set,
//! see `telemetry`) for OpenTelemetry export: method and request id, then the route
//! template and the status. An incoming W3C `traceparent` becomes the parent.

/// The span maker's type, as [`super::App`] names it.
pub type MakeSpan = fn(&axum::http::Request<hyper::body::Incoming>) -> tracing::Span;

/// The span of one HTTP request: method and request id (for the logs), the route
/// template and status once known (recorded by [`record_route`]). Never the raw path
/// (interaction, case and person ids), the query string, headers or body: they carry
/// codes, tokens and personal data. An incoming W3C
/// `traceparent` becomes the span's parent (a no-op when nothing exports).
pub fn http_span(req: &axum::http::Request<hyper::body::Incoming>) -> tracing::Span {
    let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("");
    let span = tracing::info_span!(
        "http",
        method = %req.method(),
        request_id = %id,
        otel.name = tracing::field::Empty,
        otel.kind = "server",
        otel.status_code = tracing::field::Empty,
        http.route = tracing::field::Empty,
        http.response.status_code = tracing::field::Empty,
    );
    if req.headers().contains_key("traceparent") {
        use opentelemetry::propagation::TextMapPropagator as _;
        use tracing_opentelemetry::OpenTelemetrySpanExt as _;
        let parent = opentelemetry_sdk::propagation::TraceContextPropagator::new()
            .extract(&opentelemetry_http::HeaderExtractor(req.headers()));
        let _ = span.set_parent(parent);
    }
    span
}

/// Records the matched route template (never the raw path with its ids) on the
/// request's span, as `http.route` and the OpenTelemetry span name.
pub(super) fn record_route(span: &tracing::Span, method: &axum::http::Method, route: Option<&str>) {
    if let Some(route) = route {
        span.record("http.route", route);
        span.record("otel.name", format!("{method} {route}"));
    }
}

/// Records the response status on the request's span (an error status for 5xx).
pub(super) fn record_status(span: &tracing::Span, status: u16) {
    span.record("http.response.status_code", status);
    if status >= 500 {
        span.record("otel.status_code", "error");
    }
}
