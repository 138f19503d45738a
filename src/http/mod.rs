//! The HTTP edge (axum), kept thin: extract → one `flows::` call → render. It decides how
//! a result goes on the wire, never whether a request is valid. The clock is read here,
//! once per request.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::http::header;
use axum::routing::{get, post};
use tower_http::classify::{ServerErrorsAsFailures, SharedClassifier};
use tower_http::limit::RequestBodyLimit;
use tower_http::trace::Trace;

use crate::clock::Clock;
use crate::flows::Services;
use crate::protocol::discovery::paths;

mod account;
mod account_consents;
mod account_console;
mod account_mandates;
mod admin;
mod admin_orgs;
mod admin_verification;
mod authorize;
mod broker;
pub mod cookies;
mod cors;
mod deadline;
mod discovery;
mod edge;
mod logout;
mod metrics;
pub mod pages;
mod register;
mod token;
mod trace;

pub use cors::Cors;
pub use edge::Edge;

/// The whole HTTP service [`router`] builds, as `app::serve` runs it per connection.
pub type App = Edge<Trace<RequestBodyLimit<Cors<Router>>, SharedClassifier<ServerErrorsAsFailures>, trace::MakeSpan>>;

/// Largest request body accepted (forms, JSON).
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Longest query string accepted.
pub const MAX_QUERY_BYTES: usize = 16 * 1024;
/// Largest request head (request line and headers) accepted; beyond it, 431.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;
/// Most header fields accepted in one request; beyond it, 431.
pub const MAX_HEADERS: usize = 64;

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

/// What every handler shares, behind one `Arc` so the per-request clone of the state is
/// a single reference-count increment.
pub struct Shared {
    /// The use cases' dependencies.
    pub services: Arc<Services>,
    /// The clock, read once per request.
    pub clock: Arc<dyn Clock>,
    /// Pre-serialized discovery document and its ETag.
    pub discovery: Arc<(bytes::Bytes, String)>,
    /// Set when shutdown begins: `/readyz` answers 503 so load balancers move away
    /// while requests are still served.
    pub draining: Arc<AtomicBool>,
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    /// Builds the state, serializing the discovery document once.
    pub fn new(services: Arc<Services>, clock: Arc<dyn Clock>) -> Self {
        let doc = crate::protocol::discovery::provider_metadata(&services.config.issuer).to_string().into_bytes();
        let etag = format!("\"{}\"", &crate::crypto::opaque::token_digest(&String::from_utf8_lossy(&doc))[..16]);
        Self(Arc::new(Shared {
            services,
            clock,
            discovery: Arc::new((bytes::Bytes::from(doc), etag)),
            draining: Arc::new(AtomicBool::new(false)),
        }))
    }

    /// Marks this node as going away (readiness off); requests are still served.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
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

/// The public service: the router inside its security layers (outermost first: request
/// id and security headers, trace span, body limit, CORS for the API endpoints).
///
/// Routes answered from memory (discovery, JWKS, health, metrics, static files) run
/// outside the request deadline: they wait on nothing, so a timer per request would
/// only cost them. Every route that reaches a store runs inside it.
pub fn router(state: AppState) -> App {
    let backed = Router::new()
        .route(paths::TOKEN, post(token::token))
        .route(paths::INTROSPECT, post(token::introspect))
        .route(paths::REVOKE, post(token::revoke))
        .route(paths::USERINFO, get(token::userinfo_get).post(token::userinfo_post))
        .route(paths::AUTHORIZE, get(authorize::authorize_get).post(authorize::authorize_post))
        .route("/interaction/{id}", get(authorize::interaction_show))
        .route("/interaction/{id}/login", post(authorize::interaction_login))
        .route("/interaction/{id}/consent", post(authorize::interaction_consent))
        .route("/interaction/{id}/context", post(authorize::interaction_context))
        .route("/account/login", get(account::login_get).post(account::login_post))
        .route(crate::flows::account_console::SIGNIN_PATH, get(account_console::signin))
        .route(crate::flows::account_console::CALLBACK_PATH, get(account_console::callback))
        .route("/account/security", get(account::security_get).post(account::security_post))
        .route("/readyz", get(discovery::readyz))
        .route(paths::END_SESSION, get(logout::end_session_get).post(logout::end_session_post))
        .route("/end_session/confirm", post(logout::confirm))
        .route("/account/consents", get(account_consents::show))
        .route("/account/consents/withdraw", post(account_consents::withdraw))
        .route("/account/mandates", get(account_mandates::show).post(account_mandates::submit))
        .route(paths::REGISTER, post(register::register))
        .route("/register/{client_id}", get(register::read).put(register::update).delete(register::delete))
        .merge(admin::routes())
        .merge(broker::routes())
        .fallback(discovery::not_found)
        .layer(deadline::Deadline::new(state.services.config.request_timeout));
    let router = Router::new()
        .merge(backed)
        .route(paths::DISCOVERY, get(discovery::discovery))
        .route(paths::JWKS, get(discovery::jwks))
        .route("/healthz", get(discovery::healthz))
        .route("/metrics", get(metrics::render))
        .route("/static/style.css", get(discovery::style))
        .route("/static/form_post.js", get(discovery::form_post_js))
        .route("/static/logout.js", get(discovery::logout_js))
        .route_layer(metrics::Record)
        .with_state(state);
    // The layers every request passes wrap the router once, as one tower stack, rather
    // than each route (`Router::layer`), which would box and clone them per request.
    let limited = RequestBodyLimit::new(Cors::new(router), MAX_BODY_BYTES);
    // Spans carry method, route template, status and request id only: paths, query
    // strings and bodies hold codes, hints and personal data, and never reach the logs.
    let traced = Trace::new_for_http(limited).make_span_with(trace::http_span as trace::MakeSpan);
    Edge::new(traced)
}
