//! Routes of the upstream broker: the login page's upstream buttons
//! (`POST /interaction/{id}/upstream/{upstream}`) and the callback the upstream sends the
//! browser back to (`GET /broker/callback`), where it comes back after signing out there
//! (`GET /broker/logged-out`), and the upstream's back-channel logout (`POST
//! /broker/backchannel-logout`). Extract, call `flows::broker`, render.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, header};
use axum::response::Response;
use axum::routing::{get, post};

use super::authorize::see_other;
use super::cookies::Cookie;
use super::pages;
use super::{AppState, is_form};
use crate::flows::broker::{self, BrokerOutcome, CallbackParams, page};
use crate::flows::interaction::Step;
use crate::protocol::authorize::Locale;
use crate::protocol::params::Params;
use crate::protocol::redirect_uri::AuthorizationResponse;

/// The broker's routes.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/interaction/{id}/upstream/{upstream}", post(start))
        .route(crate::config::upstream::CALLBACK_PATH, get(callback))
        .route(crate::config::upstream::LOGGED_OUT_PATH, get(logged_out))
        .route(crate::config::upstream::BACKCHANNEL_LOGOUT_PATH, post(backchannel_logout))
}

/// `POST /broker/backchannel-logout` (form `logout_token`): an upstream's Back-Channel
/// Logout. 200 when acted on (also when no session was left to end), 400 for a token
/// that fails a check or was already used, 503 when its keys or our stores cannot be
/// reached (the upstream retries).
async fn backchannel_logout(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    use crate::protocol::{ErrorCode, OAuthError};
    if !is_form(&headers) {
        return super::token::token_error(&OAuthError::invalid_request("the request must be a form"));
    }
    let params = Params::parse(&body).ok();
    let Some(token) = params.as_ref().and_then(|p| p.get("logout_token").ok().flatten()) else {
        return super::token::token_error(&OAuthError::invalid_request("logout_token is missing"));
    };
    match broker::backchannel_logout(&state.services, &state.clock, token, state.now()).await {
        Ok(_) => {
            let mut r = Response::new(axum::body::Body::empty());
            r.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
            r
        }
        Err(broker::BackchannelError::Unavailable) => super::token::token_error(&OAuthError::new(
            ErrorCode::TemporarilyUnavailable,
            "the service is temporarily unavailable",
        )),
        Err(e) => super::token::token_error(&OAuthError::invalid_request(e.to_string())),
    }
}

/// `GET /broker/logged-out?state=…`: back from the upstream's sign-out; on to the
/// client's post-logout URI, or our "signed out" page.
async fn logged_out(State(state): State<AppState>, RawQuery(q): RawQuery) -> Response {
    let q = q.unwrap_or_default();
    let params = Params::parse(q.as_bytes()).ok();
    let st = params.as_ref().and_then(|p| p.get("state").ok().flatten());
    match broker::logged_out(&state.services, st, state.now()).await {
        (Some(next), _) => see_other(&next),
        (None, locale) => pages::logout_done(&[], None, locale),
    }
}

/// The broker's error texts: (Vietnamese, English).
fn text(key: &str) -> Option<(&'static str, &'static str)> {
    Some(match key {
        page::UNKNOWN => {
            ("Nhà cung cấp định danh này không được cấu hình.", "This identity provider is not configured.")
        }
        page::STATE => (
            "Phiên đăng nhập qua VNeID không hợp lệ hoặc đã hết hạn. Vui lòng đăng nhập lại từ ứng dụng.",
            "This national e-ID sign-in is not valid or has expired. Please sign in again from the application.",
        ),
        page::REPLAYED => (
            "Liên kết đăng nhập này đã được sử dụng. Vui lòng đăng nhập lại từ ứng dụng.",
            "This sign-in link has already been used. Please sign in again from the application.",
        ),
        page::TIMEOUT => (
            "Hệ thống định danh điện tử quốc gia không phản hồi kịp. Vui lòng thử lại sau ít phút.",
            "The national e-ID service did not answer in time. Please try again in a few minutes.",
        ),
        page::UPSTREAM => (
            "Không kết nối được với hệ thống định danh điện tử quốc gia. Vui lòng thử lại sau.",
            "The national e-ID service could not be reached. Please try again later.",
        ),
        page::INVALID => (
            "Phản hồi từ hệ thống định danh điện tử không hợp lệ, nên không thể đăng nhập.",
            "The national e-ID service's answer did not pass our checks, so you were not signed in.",
        ),
        page::CLAIMS => (
            "Thông tin định danh nhận được không hợp lệ (ví dụ số định danh cá nhân hoặc ngày sinh), nên không thể đăng nhập. Không có dữ liệu nào được lưu.",
            "The identity data received is not valid (for example the personal number or birth date), so you were not signed in. Nothing was saved.",
        ),
        page::CONFLICT => (
            "Số định danh cá nhân này đã gắn với một tài khoản khác. Vui lòng liên hệ bộ phận hỗ trợ.",
            "This personal number already belongs to another account. Please contact support.",
        ),
        page::DISABLED => ("Tài khoản này đã bị khóa.", "This account is disabled."),
        _ => return None,
    })
}

fn render(outcome: BrokerOutcome, state: &AppState) -> Response {
    let result = match outcome {
        BrokerOutcome::Upstream(url) => return see_other(&url),
        BrokerOutcome::Step(r) => r,
    };
    let mut response = match result.step {
        Step::Show { view, status, locale } => pages::interaction("", &view, status, locale),
        Step::Next { id } => see_other(&format!("/interaction/{id}")),
        Step::Respond(AuthorizationResponse::Redirect(url)) => see_other(&url),
        Step::Respond(AuthorizationResponse::FormPost { action, fields }) => {
            pages::form_post(&action, &fields, Locale::Vi)
        }
        Step::ErrorPage { status, message, locale } => match text(&message) {
            Some((vi, en)) => pages::error_text(status, if locale == Locale::En { en } else { vi }, "", locale),
            None => pages::error(status, &message, locale),
        },
    };
    if let Some(session) = result.new_session {
        let set = state.cookies().set(Cookie::Session, &session, Some(state.services.config.session_ttl));
        response.headers_mut().append(header::SET_COOKIE, set);
    }
    response
}

fn id_ok(id: &str) -> bool {
    id.len() == 43 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `POST /interaction/{id}/upstream/{upstream}`: an upstream button of the login page.
async fn start(
    State(state): State<AppState>,
    Path((id, upstream)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(browser) = state.cookies().get(&headers, Cookie::Browser).filter(|_| id_ok(&id) && is_form(&headers))
    else {
        return pages::error(400, "interaction_expired", Locale::Vi);
    };
    let Ok(params) = Params::parse(&body) else { return pages::error(403, "csrf", Locale::Vi) };
    let csrf = params.get("csrf").ok().flatten().unwrap_or("");
    let outcome = broker::start(&state.services, &id, &upstream, browser, csrf, state.now()).await;
    render(outcome, &state)
}

/// `GET /broker/callback`.
async fn callback(State(state): State<AppState>, headers: HeaderMap, RawQuery(query): RawQuery) -> Response {
    let query = query.unwrap_or_default();
    if query.len() > super::MAX_QUERY_BYTES {
        return pages::error(414, "the request is too long", Locale::Vi);
    }
    let Ok(params) = Params::parse(query.as_bytes()) else {
        return render(
            BrokerOutcome::Step(
                Step::ErrorPage { status: 400, message: page::STATE.into(), locale: Locale::Vi }.into(),
            ),
            &state,
        );
    };
    let field = |n: &str| params.get(n).ok().flatten().map(str::to_owned);
    let p = CallbackParams { state: field("state"), code: field("code"), error: field("error"), iss: field("iss") };
    let browser = state.cookies().get(&headers, Cookie::Browser);
    let session = state.cookies().get(&headers, Cookie::Session);
    let outcome = broker::callback(&state.services, p, browser, session, state.now()).await;
    render(outcome, &state)
}
