//! The HTTP edge (axum), kept thin: extract → one `flows::` call → render. It decides how
//! a result goes on the wire, never whether a request is valid. The clock is read here,
//! once per request.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use axum::routing::{get, post};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::TraceLayer;

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
mod discovery;
mod logout;
mod metrics;
pub mod pages;
mod register;
mod token;
mod trace;

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

/// Bounds every request by `request_timeout` (a stalled backend that no port timeout
/// caught gives 503, never a hang) and gives every 503 a `Retry-After`.
async fn deadline(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let wants_page =
        req.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("text/html"));
    let limit = state.services.config.request_timeout;
    let mut response = match tokio::time::timeout(limit, next.run(req)).await {
        Ok(r) => r,
        Err(_) => {
            tracing::error!(limit_ms = limit.as_millis() as u64, "request timed out: answered 503");
            if wants_page {
                pages::error(503, "temporarily_unavailable", crate::protocol::authorize::Locale::Vi)
            } else {
                (
                    axum::http::StatusCode::SERVICE_UNAVAILABLE,
                    [(header::CONTENT_TYPE, "application/json"), (header::CACHE_CONTROL, "no-store")],
                    r#"{"error":"temporarily_unavailable","error_description":"the service is temporarily unavailable"}"#,
                )
                    .into_response()
            }
        }
    };
    if response.status() == axum::http::StatusCode::SERVICE_UNAVAILABLE
        && !response.headers().contains_key(header::RETRY_AFTER)
    {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}

/// Request ids: a random per-process prefix and a counter (`3f9a61c2-1b7`), unique per
/// process and cheap — no random number per request.
#[derive(Clone)]
struct RequestIds {
    prefix: Arc<str>,
    next: Arc<std::sync::atomic::AtomicU64>,
}

impl RequestIds {
    fn new() -> Self {
        let r = crate::crypto::opaque::random_bytes::<4>();
        let prefix: String = r.iter().map(|b| format!("{b:02x}")).collect();
        Self { prefix: prefix.into(), next: Arc::new(std::sync::atomic::AtomicU64::new(1)) }
    }
}

impl RequestIds {
    /// The next id.
    fn make(&self) -> HeaderValue {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        HeaderValue::from_str(&format!("{}-{n:x}", self.prefix)).unwrap_or(HeaderValue::from_static("-"))
    }
}

const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Headers every response carries unless the handler set its own.
const SECURITY_HEADERS: [(HeaderName, HeaderValue); 4] = [
    (
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"),
    ),
    (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
    (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
    (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
];

/// The outermost layer: a request id for every request (kept if a trusted proxy set
/// one), echoed on the response; the security headers on every response.
async fn edge(
    axum::extract::State(ids): axum::extract::State<RequestIds>,
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let id = match request.headers().get(&X_REQUEST_ID) {
        Some(v) => v.clone(),
        None => {
            let v = ids.make();
            request.headers_mut().insert(X_REQUEST_ID, v.clone());
            v
        }
    };
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    for (name, value) in SECURITY_HEADERS {
        if !h.contains_key(&name) {
            h.insert(name, value);
        }
    }
    h.insert(X_REQUEST_ID, id);
    response
}

/// CORS for the endpoints a browser application (a public client with PKCE) calls from
/// its own origin: no cookies are involved, so any origin may call them, without
/// credentials. Static answers, so the middleware costs nothing to clone per request.
async fn cors(request: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    use axum::response::IntoResponse;
    let from_browser = request.headers().contains_key(header::ORIGIN);
    if from_browser
        && request.method() == axum::http::Method::OPTIONS
        && request.headers().contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
    {
        return (
            axum::http::StatusCode::NO_CONTENT,
            [
                (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
                (header::ACCESS_CONTROL_ALLOW_METHODS, "GET, POST"),
                (header::ACCESS_CONTROL_ALLOW_HEADERS, "authorization, content-type"),
                (header::ACCESS_CONTROL_MAX_AGE, "600"),
            ],
        )
            .into_response();
    }
    let mut response = next.run(request).await;
    if from_browser {
        response.headers_mut().insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    }
    response
}

/// The public router with its security layers.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route(paths::DISCOVERY, get(discovery::discovery))
        .route(paths::JWKS, get(discovery::jwks))
        .route(paths::TOKEN, post(token::token))
        .route(paths::INTROSPECT, post(token::introspect))
        .route(paths::REVOKE, post(token::revoke))
        .route(paths::USERINFO, get(token::userinfo_get).post(token::userinfo_post))
        .layer(axum::middleware::from_fn(cors));
    Router::new()
        .merge(api)
        .route(paths::AUTHORIZE, get(authorize::authorize_get).post(authorize::authorize_post))
        .route("/interaction/{id}", get(authorize::interaction_show))
        .route("/interaction/{id}/login", post(authorize::interaction_login))
        .route("/interaction/{id}/consent", post(authorize::interaction_consent))
        .route("/interaction/{id}/context", post(authorize::interaction_context))
        .route("/account/login", get(account::login_get).post(account::login_post))
        .route(crate::flows::account_console::SIGNIN_PATH, get(account_console::signin))
        .route(crate::flows::account_console::CALLBACK_PATH, get(account_console::callback))
        .route("/account/security", get(account::security_get).post(account::security_post))
        .route("/healthz", get(discovery::healthz))
        .route("/readyz", get(discovery::readyz))
        .route("/metrics", get(metrics::render))
        .route("/static/style.css", get(discovery::style))
        .route("/static/form_post.js", get(discovery::form_post_js))
        .route("/static/logout.js", get(discovery::logout_js))
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
        .route_layer(axum::middleware::from_fn(metrics::record))
        .layer(axum::middleware::from_fn_with_state(state.clone(), deadline))
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        // Spans carry method, path and request id only: query strings and bodies hold
        // codes, hints and personal data, and never reach the logs.
        // (and, for trace export, the route template and status: `trace::http_span`).
        .layer(TraceLayer::new_for_http().make_span_with(trace::http_span))
        // The request id and the security headers, in one layer.
        .layer(axum::middleware::from_fn_with_state(RequestIds::new(), edge))
        .with_state(state)
}
