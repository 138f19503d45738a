//! The HTTP edge (axum), kept thin: extract → one `flows::` call → render. It decides how
//! a result goes on the wire, never whether a request is valid. The clock is read here,
//! once per request.

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use axum::routing::{get, post};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;

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

/// The public router with its security layers.
pub fn router(state: AppState) -> Router {
    let hdr = |name: &'static str, value: &'static str| {
        SetResponseHeaderLayer::if_not_present(HeaderName::from_static(name), HeaderValue::from_static(value))
    };
    Router::new()
        .route(paths::DISCOVERY, get(discovery::discovery))
        .route(paths::JWKS, get(discovery::jwks))
        .route(paths::AUTHORIZE, get(authorize::authorize_get).post(authorize::authorize_post))
        .route("/interaction/{id}", get(authorize::interaction_show))
        .route("/interaction/{id}/login", post(authorize::interaction_login))
        .route("/interaction/{id}/consent", post(authorize::interaction_consent))
        .route(paths::TOKEN, post(token::token))
        .route(paths::USERINFO, get(token::userinfo_get).post(token::userinfo_post))
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
        .with_state(state)
}
