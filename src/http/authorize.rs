//! Authorization endpoint and interaction pages.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::cookies::Cookie;
use super::pages;
use super::{AppState, is_form};
use crate::crypto::opaque::random_token;
use crate::flows::authorize::{AuthorizeOutcome, BrowserCookies, authorize};
use crate::flows::interaction::{self, LoginForm, Step};
use crate::protocol::authorize::Locale;
use crate::protocol::params::Params;
use crate::protocol::redirect_uri::AuthorizationResponse;

/// 303 to `location`, not cached.
pub(crate) fn see_other(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(loc) => {
            let mut r = StatusCode::SEE_OTHER.into_response();
            r.headers_mut().insert(header::LOCATION, loc);
            r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        Err(_) => pages::error(400, "the redirect URI cannot be used", Locale::Vi),
    }
}

fn respond(resp: &AuthorizationResponse, locale: Locale) -> Response {
    match resp {
        AuthorizationResponse::Redirect(url) => see_other(url),
        AuthorizationResponse::FormPost { action, fields } => pages::form_post(action, fields, locale),
    }
}

/// The browser binding cookie, made when missing.
pub(crate) fn browser_id(state: &AppState, headers: &HeaderMap) -> (String, Option<HeaderValue>) {
    match state.cookies().get(headers, Cookie::Browser) {
        Some(v) => (v.to_owned(), None),
        None => {
            let v = random_token();
            let set = state.cookies().set(Cookie::Browser, &v, None);
            (v, Some(set))
        }
    }
}

async fn run_authorize(state: AppState, headers: HeaderMap, raw: &[u8]) -> Response {
    let params = match Params::parse(raw) {
        Ok(p) => p,
        Err(e) => return pages::error(400, &e.description, Locale::Vi),
    };
    let now = state.now();
    let (browser, set_browser) = browser_id(&state, &headers);
    let cookies = BrowserCookies { session: state.cookies().get(&headers, Cookie::Session), browser: &browser };
    let locale = Locale::from_ui_locales(params.get("ui_locales").ok().flatten());
    let mut response = match authorize(&state.services, &params, cookies, now).await {
        AuthorizeOutcome::Respond(r) => respond(&r, locale),
        AuthorizeOutcome::Interact { id } => see_other(&format!("/interaction/{id}")),
        AuthorizeOutcome::ErrorPage { status, message, locale } => pages::error(status, &message, locale),
    };
    if let Some(set) = set_browser {
        response.headers_mut().append(header::SET_COOKIE, set);
    }
    response
}

/// `GET /authorize`.
pub(super) async fn authorize_get(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let query = query.unwrap_or_default();
    if query.len() > super::MAX_QUERY_BYTES {
        return pages::error(414, "the request is too long", Locale::Vi);
    }
    run_authorize(state, headers, query.as_bytes()).await
}

/// `POST /authorize` (OIDC Core §3.1.2.1: form-encoded body).
pub(super) async fn authorize_post(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    if !is_form(&headers) {
        return pages::error(415, "the request must be application/x-www-form-urlencoded", Locale::Vi);
    }
    run_authorize(state, headers, &body).await
}

fn render_step(id: &str, step: Step) -> Response {
    match step {
        Step::Show { view, status, locale } => pages::interaction(id, &view, status, locale),
        Step::Next { id } => see_other(&format!("/interaction/{id}")),
        Step::Respond(r) => respond(&r, Locale::Vi),
        Step::ErrorPage { status, message, locale } => pages::error(status, &message, locale),
    }
}

fn interaction_id_ok(id: &str) -> bool {
    id.len() == 43 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `GET /interaction/{id}`.
pub(super) async fn interaction_show(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(browser) = state.cookies().get(&headers, Cookie::Browser).filter(|_| interaction_id_ok(&id)) else {
        return pages::error(400, "interaction_expired", Locale::Vi);
    };
    render_step(&id, interaction::show(&state.services, &id, browser, state.now()).await)
}

/// The browser binding and the parsed body of an interaction form post, or the key of
/// the error page to answer with.
fn interaction_form(
    state: &AppState,
    id: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(String, Params), &'static str> {
    let Some(browser) =
        state.cookies().get(headers, Cookie::Browser).filter(|_| interaction_id_ok(id) && is_form(headers))
    else {
        return Err("interaction_expired");
    };
    let params = Params::parse(body).map_err(|_| "csrf")?;
    Ok((browser.to_owned(), params))
}

/// `POST /interaction/{id}/login`.
pub(super) async fn interaction_login(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (browser, params) = match interaction_form(&state, &id, &headers, &body) {
        Ok(x) => x,
        Err(key) => return pages::error(400, key, Locale::Vi),
    };
    let field = |n: &str| params.get(n).ok().flatten().unwrap_or("").to_owned();
    let form = LoginForm {
        csrf: field("csrf"),
        action: field("action"),
        username: field("username"),
        password: field("password"),
        otp: field("otp"),
    };
    let cookies = BrowserCookies { session: state.cookies().get(&headers, Cookie::Session), browser: &browser };
    let result = interaction::submit_login(&state.services, &id, cookies, form, state.now()).await;
    let mut response = render_step(&id, result.step);
    if let Some(session) = result.new_session {
        let set = state.cookies().set(Cookie::Session, &session, Some(state.services.config.session_ttl));
        response.headers_mut().append(header::SET_COOKIE, set);
    }
    response
}

/// `POST /interaction/{id}/consent`.
pub(super) async fn interaction_consent(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (browser, params) = match interaction_form(&state, &id, &headers, &body) {
        Ok(x) => x,
        Err(key) => return pages::error(400, key, Locale::Vi),
    };
    let csrf = params.get("csrf").ok().flatten().unwrap_or("");
    let allow = params.get("decision").ok().flatten() == Some("allow");
    render_step(&id, interaction::submit_consent(&state.services, &id, &browser, csrf, allow, state.now()).await)
}

/// `POST /interaction/{id}/context`: the context picker's answer.
pub(super) async fn interaction_context(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (browser, params) = match interaction_form(&state, &id, &headers, &body) {
        Ok(x) => x,
        Err(key) => return pages::error(400, key, Locale::Vi),
    };
    let csrf = params.get("csrf").ok().flatten().unwrap_or("");
    let choice = params.get("context").ok().flatten().unwrap_or("");
    let cookies = BrowserCookies { session: state.cookies().get(&headers, Cookie::Session), browser: &browser };
    render_step(&id, interaction::submit_context(&state.services, &id, cookies, csrf, choice, state.now()).await)
}
