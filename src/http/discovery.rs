//! Discovery, JWKS (pre-serialized bytes with ETags), health, static assets.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::AppState;

/// A pre-serialized document with its strong ETag: `304 Not Modified` when the request
/// names that ETag, the document otherwise; cacheable for five minutes either way.
fn cached_json(request: &Request, body: bytes::Bytes, etag: &str, content_type: &'static str) -> Response {
    let not_modified = request
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut r = Response::new(if not_modified { axum::body::Body::empty() } else { axum::body::Body::from(body) });
    if not_modified {
        *r.status_mut() = StatusCode::NOT_MODIFIED;
    }
    // Room for these and the edge's headers at once: the map is not regrown per request.
    let h = r.headers_mut();
    h.reserve(12);
    if !not_modified {
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    }
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    r
}

/// `GET /.well-known/openid-configuration`. (The whole request is taken, not a copy of
/// its headers: this and JWKS are the most frequent requests.)
pub(super) async fn discovery(State(state): State<AppState>, request: Request) -> Response {
    let (body, etag) = &*state.discovery;
    cached_json(&request, body.clone(), etag, "application/json")
}

/// `GET /jwks`.
pub(super) async fn jwks(State(state): State<AppState>, request: Request) -> Response {
    let keys = state.services.keys.current();
    cached_json(&request, keys.jwks_shared(), keys.jwks_etag(), "application/jwk-set+json")
}

/// `GET /healthz`: the process answers.
pub(super) async fn healthz() -> &'static str {
    "ok"
}

/// `GET /readyz`: not shutting down, the durable and ephemeral stores answer (each
/// within its own timeout), and signing keys are loaded. 503 (with `Retry-After`, added
/// by the router) names what is missing.
pub(super) async fn readyz(State(state): State<AppState>) -> Response {
    if state.is_draining() {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down").into_response();
    }
    let svc = &state.services;
    let timed = |name: &'static str, watch: crate::clock::Stopwatch| {
        metrics::histogram!(crate::telemetry::BACKEND_PING, "backend" => name).record(watch.elapsed().as_secs_f64());
    };
    let (store, ephemeral) = tokio::join!(
        async {
            let w = crate::clock::Stopwatch::start();
            let r = svc.store.ping().await;
            timed("database", w);
            r
        },
        async {
            let w = crate::clock::Stopwatch::start();
            let r = svc.ephemeral.ping().await;
            timed("ephemeral", w);
            r
        }
    );
    let mut missing = Vec::new();
    if let Err(e) = store {
        tracing::warn!(error = %e, "not ready: durable store");
        missing.push("database unavailable");
    }
    if let Err(e) = ephemeral {
        tracing::warn!(error = %e, "not ready: ephemeral store");
        missing.push("redis unavailable");
    }
    if svc.keys.current().keys().is_empty() {
        tracing::warn!("not ready: no signing keys");
        missing.push("no signing keys");
    }
    if missing.is_empty() {
        "ready".into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, missing.join("\n")).into_response()
    }
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "public, max-age=3600")], body).into_response()
}

/// `GET /static/style.css`.
pub(super) async fn style() -> Response {
    asset("text/css; charset=utf-8", include_str!("static/style.css"))
}

/// `GET /static/form_post.js`.
pub(super) async fn form_post_js() -> Response {
    asset("text/javascript; charset=utf-8", include_str!("static/form_post.js"))
}

/// `GET /static/logout.js`.
pub(super) async fn logout_js() -> Response {
    asset("text/javascript; charset=utf-8", include_str!("static/logout.js"))
}

/// Unknown paths.
pub(super) async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, [(header::CONTENT_TYPE, "application/json")], r#"{"error":"not_found"}"#).into_response()
}
