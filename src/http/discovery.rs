//! Discovery, JWKS (pre-serialized bytes with ETags), health, static assets.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::AppState;

fn cached_json(headers: &HeaderMap, body: bytes::Bytes, etag: &str) -> Response {
    let not_modified = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut r = if not_modified {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, "application/json")], body).into_response()
    };
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    r
}

/// `GET /.well-known/openid-configuration`.
pub(super) async fn discovery(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let (body, etag) = &*state.discovery;
    cached_json(&headers, body.clone(), etag)
}

/// `GET /jwks`.
pub(super) async fn jwks(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let keys = state.services.keys.current();
    let mut r = cached_json(&headers, keys.jwks_shared(), keys.jwks_etag());
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/jwk-set+json"));
    r
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
