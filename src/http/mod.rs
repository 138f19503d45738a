//! The HTTP edge (axum), kept thin: extract → one `flows::` call → render. It decides how
//! a result goes on the wire, never whether a request is valid. The clock is read here,
//! once per request.

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use axum::routing::{get, post};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use crate::clock::Clock;
use crate::flows::Services;
use crate::protocol::discovery::paths;

mod authorize;
pub mod cookies;
mod discovery;
pub mod pages;
mod token;

/// Largest request body accepted (forms, JSON).
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Longest query string accepted.
pub const MAX_QUERY_BYTES: usize = 16 * 1024;

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    /// The use cases' dependencies.
    pub services: Arc<Services>,
    /// The clock, read once per request.
    pub clock: Arc<dyn Clock>,
    /// Pre-serialized discovery document and its ETag.
    pub discovery: Arc<(Vec<u8>, String)>,
}

impl AppState {
    /// Builds the state, serializing the discovery document once.
    pub fn new(services: Arc<Services>, clock: Arc<dyn Clock>) -> Self {
        let doc = crate::protocol::discovery::provider_metadata(&services.config.issuer).to_string().into_bytes();
        let etag = format!("\"{}\"", &crate::crypto::opaque::token_digest(&String::from_utf8_lossy(&doc))[..16]);
        Self { services, clock, discovery: Arc::new((doc, etag)) }
    }

    fn now(&self) -> i64 {
        self.clock.now()
    }

    fn cookies(&self) -> cookies::CookieJar {
        cookies::CookieJar { secure: self.services.config.is_https() }
    }
}

/// Whether the request body is `application/x-www-form-urlencoded` (parameters may
/// follow the media type).
fn is_form(headers: &axum::http::HeaderMap) -> bool {
    headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| {
        v.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"))
    })
}

/// The public router with its security layers.
pub fn router(state: AppState) -> Router {
    let hdr = |name: &'static str, value: &'static str| {
        SetResponseHeaderLayer::if_not_present(HeaderName::from_static(name), HeaderValue::from_static(value))
    };
    // Endpoints a browser application (a public client with PKCE) calls from its own
    // origin. No cookies are involved, so any origin may call them; credentials are not
    // allowed.
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::any())
        .allow_methods([axum::http::Method::GET, axum::http::Method::POST])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
        .max_age(std::time::Duration::from_secs(600));
    let api = Router::new()
        .route(paths::DISCOVERY, get(discovery::discovery))
        .route(paths::JWKS, get(discovery::jwks))
        .route(paths::TOKEN, post(token::token))
        .route(paths::INTROSPECT, post(token::introspect))
        .route(paths::REVOKE, post(token::revoke))
        .route(paths::USERINFO, get(token::userinfo_get).post(token::userinfo_post))
        .layer(cors);
    Router::new()
        .merge(api)
        .route(paths::AUTHORIZE, get(authorize::authorize_get).post(authorize::authorize_post))
        .route("/interaction/{id}", get(authorize::interaction_show))
        .route("/interaction/{id}/login", post(authorize::interaction_login))
        .route("/interaction/{id}/consent", post(authorize::interaction_consent))
        .route("/healthz", get(discovery::healthz))
        .route("/readyz", get(discovery::readyz))
        .route("/static/style.css", get(discovery::style))
        .route("/static/form_post.js", get(discovery::form_post_js))
        .fallback(discovery::not_found)
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"),
        ))
        .layer(hdr("x-content-type-options", "nosniff"))
        .layer(hdr("x-frame-options", "DENY"))
        .layer(hdr("referrer-policy", "no-referrer"))
        // Spans carry method and path only: query strings and bodies hold codes, hints
        // and personal data, and never reach the logs.
        .layer(TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<axum::body::Body>| {
            tracing::info_span!("http", method = %req.method(), path = %req.uri().path())
        }))
        .with_state(state)
}
