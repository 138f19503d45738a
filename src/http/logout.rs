//! `/end_session` (OIDC RP-Initiated Logout 1.0) and its confirmation form.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, header};
use axum::response::Response;

use super::authorize::{browser_id, see_other};
use super::cookies::Cookie;
use super::{AppState, is_form, pages};
use crate::flows::authorize::BrowserCookies;
use crate::flows::logout::{self, Outcome};
use crate::protocol::authorize::Locale;
use crate::protocol::params::Params;

fn render(state: &AppState, outcome: Outcome) -> Response {
    match outcome {
        Outcome::Confirm { id, csrf, client_name, locale } => {
            pages::logout_confirm(&id, &csrf, client_name.as_deref(), locale)
        }
        Outcome::ErrorPage { status, message, locale } => pages::error(status, &message, locale),
        Outcome::Finished(f) => {
            let mut r = if f.frontchannel.is_empty()
                && let Some(next) = &f.redirect
            {
                see_other(next)
            } else {
                pages::logout_done(&f.frontchannel, f.redirect.as_deref(), f.locale)
            };
            if f.ended {
                r.headers_mut().append(header::SET_COOKIE, state.cookies().set(Cookie::Session, "", Some(0)));
            }
            r
        }
    }
}

async fn run(state: AppState, headers: HeaderMap, raw: &[u8]) -> Response {
    let params = match Params::parse(raw) {
        Ok(p) => p,
        Err(e) => return pages::error(400, &e.description, Locale::Vi),
    };
    let (browser, set_browser) = browser_id(&state, &headers);
    let session = state.cookies().get(&headers, Cookie::Session);
    let outcome = logout::end_session(&state.services, &state.clock, &params, session, &browser, state.now()).await;
    let mut r = render(&state, outcome);
    if let Some(set) = set_browser {
        r.headers_mut().append(header::SET_COOKIE, set);
    }
    r
}

/// `GET /end_session`.
pub(super) async fn end_session_get(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let q = q.unwrap_or_default();
    if q.len() > super::MAX_QUERY_BYTES {
        return pages::error(414, "the request is too long", Locale::Vi);
    }
    run(state, headers, q.as_bytes()).await
}

/// `POST /end_session`.
pub(super) async fn end_session_post(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    if !is_form(&headers) {
        return pages::error(415, "the request must be application/x-www-form-urlencoded", Locale::Vi);
    }
    run(state, headers, &body).await
}

/// `POST /end_session/confirm`: the confirmation form (`logout=yes` ends the session).
pub(super) async fn confirm(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(browser) = state.cookies().get(&headers, Cookie::Browser).filter(|_| is_form(&headers)) else {
        return pages::error(400, "interaction_expired", Locale::Vi);
    };
    let Ok(params) = Params::parse(&body) else { return pages::error(400, "csrf", Locale::Vi) };
    let field = |n: &str| params.get(n).ok().flatten().unwrap_or("");
    let yes = field("logout") == "yes";
    let session = state.cookies().get(&headers, Cookie::Session);
    let form = logout::ConfirmForm { id: field("id"), csrf: field("csrf"), yes };
    let cookies = BrowserCookies { session, browser };
    let outcome = logout::confirm(&state.services, &state.clock, form, cookies, state.now()).await;
    render(&state, outcome)
}
