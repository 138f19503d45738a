//! Routes of the account area's own sign-in (`GET /account/signin`, `GET
//! /account/callback`): extract, call `flows::account_console`, render.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, header};
use axum::response::Response;

use super::authorize::{browser_id, see_other};
use super::cookies::Cookie;
use super::{AppState, pages};
use crate::flows::account_console::{self, CallbackParams, Destination, Outcome};
use crate::protocol::authorize::Locale;
use crate::protocol::params::Params;

fn render(outcome: Outcome) -> Response {
    match outcome {
        Outcome::Redirect(to) => see_other(&to),
        Outcome::ErrorPage { status, message, locale } => pages::error(status, &message, locale),
    }
}

fn query(q: Option<String>) -> Option<Params> {
    let q = q.unwrap_or_default();
    if q.len() > super::MAX_QUERY_BYTES {
        return None;
    }
    Params::parse(q.as_bytes()).ok().filter(|p| p.first_duplicate().is_none())
}

/// `GET /account/signin?next=consents|mandates|security[&level=2][&lang=en]`.
pub(super) async fn signin(State(state): State<AppState>, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    let Some(params) = query(q) else { return pages::error(400, "the request is not valid", Locale::Vi) };
    let get = |n: &str| params.get(n).ok().flatten();
    let locale = if get("lang") == Some("en") { Locale::En } else { Locale::Vi };
    let Some(next) = get("next").and_then(Destination::parse) else {
        return pages::error(400, "next must be consents, mandates or security", locale);
    };
    let level2 = get("level") == Some("2");
    let (browser, set_browser) = browser_id(&state, &headers);
    let outcome = account_console::start(&state.services, &browser, next, level2, locale, state.now()).await;
    let mut r = render(outcome);
    if let Some(set) = set_browser {
        r.headers_mut().append(header::SET_COOKIE, set);
    }
    r
}

/// `GET /account/callback?state=…&code=…` (or `error=…`).
pub(super) async fn callback(State(state): State<AppState>, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    let Some(params) = query(q) else { return pages::error(400, "interaction_expired", Locale::Vi) };
    let get = |n: &str| params.get(n).ok().flatten();
    let p = CallbackParams { state: get("state"), code: get("code"), error: get("error") };
    let browser = state.cookies().get(&headers, Cookie::Browser);
    render(account_console::callback(&state.services, browser, p, state.now()).await)
}
