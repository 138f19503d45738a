//! `/account/consents`: the signed-in person's consent receipts (printable), with a
//! withdraw button per client. Needs the browser's single sign-on session; without one,
//! a page asking the person to sign in. Vietnamese by default, English with `?lang=en`.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::authorize::see_other;
use super::cookies::Cookie;
use super::{AppState, is_form, pages};
use crate::flows::consents::{self, AccountPage, WithdrawOutcome};
use crate::protocol::authorize::Locale;
use crate::protocol::params::Params;
use crate::protocol::verified_claims::iso8601;

/// The texts of the account consent page in one language.
struct AccountTexts {
    title: &'static str,
    intro: &'static str,
    none: &'static str,
    purpose: &'static str,
    claims: &'static str,
    scopes: &'static str,
    granted: &'static str,
    acr: &'static str,
    policy: &'static str,
    receipt: &'static str,
    status: &'static str,
    active: &'static str,
    withdrawn: &'static str,
    withdraw: &'static str,
}

const VI: AccountTexts = AccountTexts {
    title: "Các đồng ý chia sẻ dữ liệu của bạn",
    intro: "Biên nhận các lần bạn đồng ý chia sẻ dữ liệu cá nhân với dịch vụ, theo Nghị định 356/2025/NĐ-CP:",
    none: "Bạn chưa đồng ý chia sẻ dữ liệu với dịch vụ nào.",
    purpose: "Mục đích",
    claims: "Dữ liệu được chia sẻ",
    scopes: "Phạm vi",
    granted: "Thời điểm đồng ý (UTC)",
    acr: "Mức xác thực",
    policy: "Phiên bản thông báo bảo vệ dữ liệu",
    receipt: "Mã biên nhận",
    status: "Trạng thái",
    active: "Còn hiệu lực",
    withdrawn: "Đã rút lại lúc",
    withdraw: "Rút lại đồng ý với dịch vụ này",
};

const EN: AccountTexts = AccountTexts {
    title: "Your data-sharing consents",
    intro: "Receipts of the consents you gave services to receive your personal data (Decree 356/2025/ND-CP):",
    none: "You have not consented to share data with any service.",
    purpose: "Purpose",
    claims: "Data shared",
    scopes: "Scopes",
    granted: "Given at (UTC)",
    acr: "Authentication level",
    policy: "Privacy notice version",
    receipt: "Receipt id",
    status: "Status",
    active: "In force",
    withdrawn: "Withdrawn at",
    withdraw: "Withdraw my consent to this service",
};

/// One receipt as shown.
struct ReceiptRow {
    id: String,
    client_id: String,
    client_name: String,
    purpose: String,
    claims: Vec<String>,
    scopes: String,
    granted: String,
    acr: String,
    policy_version: String,
    withdrawn: Option<String>,
    /// The newest live receipt of its client carries the client's withdraw button.
    offer_withdraw: bool,
}

#[derive(Template)]
#[template(path = "account_consents.html")]
struct AccountConsentsPage<'a> {
    t: &'a pages::Texts,
    a: &'a AccountTexts,
    person_name: &'a str,
    csrf: &'a str,
    receipts: Vec<ReceiptRow>,
    lang_query: &'a str,
}

fn locale_of(query: Option<&str>) -> Locale {
    let params = Params::parse(query.unwrap_or_default().as_bytes()).ok();
    let lang = params.as_ref().and_then(|p| p.get("lang").ok().flatten().or(p.get("ui_locales").ok().flatten()));
    Locale::from_ui_locales(lang)
}

fn render(page: AccountPage, locale: Locale) -> Response {
    let (a, lang_query) = match locale {
        Locale::Vi => (&VI, ""),
        Locale::En => (&EN, "?lang=en"),
    };
    let t = pages::texts(locale);
    let (status, body) = match page {
        // Not signed in (or no longer): the sign-in, which comes back to this page.
        AccountPage::SignInNeeded => return see_other(&signin_path("consents", locale)),
        AccountPage::Receipts { person_name, csrf, receipts } => {
            let mut offered: Vec<String> = Vec::new();
            let rows = receipts
                .into_iter()
                .map(|r| {
                    let offer_withdraw = r.withdrawn_at.is_none() && !offered.contains(&r.client_id);
                    if offer_withdraw {
                        offered.push(r.client_id.clone());
                    }
                    ReceiptRow {
                        id: r.id,
                        client_id: r.client_id,
                        client_name: r.client_name,
                        purpose: r.purpose,
                        claims: r.claims,
                        scopes: r.scopes.to_string(),
                        granted: iso8601(r.granted_at),
                        acr: r.acr,
                        policy_version: r.policy_version,
                        withdrawn: r.withdrawn_at.map(iso8601),
                        offer_withdraw,
                    }
                })
                .collect();
            (
                StatusCode::OK,
                AccountConsentsPage { t, a, person_name: &person_name, csrf: &csrf, receipts: rows, lang_query }
                    .render(),
            )
        }
    };
    match body {
        Ok(body) => {
            let mut r = (status, body).into_response();
            let h = r.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        Err(e) => {
            tracing::error!(error = %e, "template rendering failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

/// `GET /account/consents`.
pub(super) async fn show(State(state): State<AppState>, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    let locale = locale_of(q.as_deref());
    let session = state.cookies().get(&headers, Cookie::Session);
    match consents::list(&state.services, session, state.now()).await {
        Ok(page) => render(page, locale),
        Err(_) => pages::error(503, "temporarily_unavailable", locale),
    }
}

/// The account sign-in that returns to the page `next`, in the page's language.
pub(super) fn signin_path(next: &str, locale: Locale) -> String {
    let lang = if locale == Locale::En { "&lang=en" } else { "" };
    format!("{}?next={next}{lang}", crate::flows::account_console::SIGNIN_PATH)
}

/// `POST /account/consents/withdraw`: `csrf` and `client_id` in the form.
pub(super) async fn withdraw(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Response {
    let locale = locale_of(q.as_deref());
    if !is_form(&headers) {
        return pages::error(415, "the request must be application/x-www-form-urlencoded", locale);
    }
    let Ok(params) = Params::parse(&body) else { return pages::error(403, "csrf", locale) };
    let field = |n: &str| params.get(n).ok().flatten().unwrap_or("");
    let session = state.cookies().get(&headers, Cookie::Session);
    match consents::withdraw(&state.services, session, field("csrf"), field("client_id"), state.now()).await {
        Ok(WithdrawOutcome::Withdrawn(_)) => {
            see_other(if locale == Locale::En { "/account/consents?lang=en" } else { "/account/consents" })
        }
        // The session ended meanwhile: nothing was withdrawn; the sign-in comes back to
        // the page, where the person can withdraw again.
        Ok(WithdrawOutcome::SignInNeeded) => render(AccountPage::SignInNeeded, locale),
        Ok(WithdrawOutcome::Forbidden) => pages::error(403, "csrf", locale),
        Err(_) => pages::error(503, "temporarily_unavailable", locale),
    }
}
