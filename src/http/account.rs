//! The account area (`/account/login`, `/account/security`) and the second-factor page
//! of the sign-in interaction: extraction, one `flows::account` call, rendering. The
//! enrolment QR code is an inline SVG made here (no script, no image).

use askama::Template;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::Response;

use super::authorize::{browser_id, see_other};
use super::cookies::Cookie;
use super::pages::{self, Texts, texts};
use super::{AppState, is_form};
use crate::flows::account::{self, AccountError, AccountForm, AccountStep, AccountView};
use crate::flows::interaction::LoginError;
use crate::protocol::authorize::Locale;
use crate::protocol::params::Params;

/// The texts of the second-factor and account pages in one language.
#[derive(Debug)]
pub struct StepupTexts {
    /// Second-factor page title.
    pub second_factor_title: &'static str,
    /// Code field label.
    pub otp_label: &'static str,
    /// Under the code field.
    pub otp_help: &'static str,
    /// Verify button.
    pub verify: &'static str,
    /// Wrong code.
    pub invalid_code: &'static str,
    /// Account area title.
    pub account_title: &'static str,
    /// Why the person must sign in again.
    pub reauth_lead: &'static str,
    /// Optional code field label on the account sign-in.
    pub otp_optional: &'static str,
    /// Security page title.
    pub security_title: &'static str,
    /// How to enrol.
    pub enrol_lead: &'static str,
    /// Before the manual key.
    pub manual_key: &'static str,
    /// Confirm button.
    pub confirm: &'static str,
    /// Just enrolled.
    pub enrolled_now: &'static str,
    /// The recovery codes are shown once.
    pub recovery_once: &'static str,
    /// Back to the security page.
    pub done: &'static str,
    /// Already enrolled.
    pub enrolled: &'static str,
    /// "Recovery codes left".
    pub codes_left: &'static str,
    /// Disable field label.
    pub disable_label: &'static str,
    /// Disable button.
    pub disable: &'static str,
}

const VI: StepupTexts = StepupTexts {
    second_factor_title: "Xác thực hai lớp",
    otp_label: "Mã xác thực (6 chữ số) hoặc mã khôi phục",
    otp_help: "Mở ứng dụng xác thực trên điện thoại và nhập mã đang hiển thị.",
    verify: "Xác nhận",
    invalid_code: "Mã không đúng, đã được dùng hoặc đã hết hạn.",
    account_title: "Tài khoản của bạn",
    reauth_lead: "Vì lý do an toàn, vui lòng đăng nhập lại để thay đổi cài đặt bảo mật.",
    otp_optional: "Mã xác thực (nếu đã bật xác thực hai lớp)",
    security_title: "Xác thực hai lớp",
    enrol_lead: "Quét mã QR bằng ứng dụng xác thực (ví dụ Google Authenticator), rồi nhập mã 6 chữ số để xác nhận.",
    manual_key: "Hoặc nhập khóa thủ công:",
    confirm: "Bật xác thực hai lớp",
    enrolled_now: "Đã bật xác thực hai lớp.",
    recovery_once: "Hãy lưu các mã khôi phục dưới đây ở nơi an toàn. Mỗi mã dùng được một lần và sẽ không hiển thị lại.",
    done: "Xong",
    enrolled: "Xác thực hai lớp đang bật cho tài khoản này.",
    codes_left: "Số mã khôi phục còn lại",
    disable_label: "Nhập mã hiện tại để tắt xác thực hai lớp",
    disable: "Tắt xác thực hai lớp",
};

const EN: StepupTexts = StepupTexts {
    second_factor_title: "Two-step verification",
    otp_label: "Verification code (6 digits) or recovery code",
    otp_help: "Open the authenticator app on your phone and enter the code it shows.",
    verify: "Verify",
    invalid_code: "The code is wrong, already used, or expired.",
    account_title: "Your account",
    reauth_lead: "For your security, please sign in again to change security settings.",
    otp_optional: "Verification code (if two-step verification is on)",
    security_title: "Two-step verification",
    enrol_lead: "Scan the QR code with an authenticator app (for example Google Authenticator), then enter the 6-digit code to confirm.",
    manual_key: "Or enter the key by hand:",
    confirm: "Turn on two-step verification",
    enrolled_now: "Two-step verification is on.",
    recovery_once: "Keep the recovery codes below somewhere safe. Each works once and they will not be shown again.",
    done: "Done",
    enrolled: "Two-step verification is on for this account.",
    codes_left: "Recovery codes left",
    disable_label: "Enter a current code to turn two-step verification off",
    disable: "Turn off two-step verification",
};

/// The step-up texts for a locale.
pub fn stepup_texts(locale: Locale) -> &'static StepupTexts {
    match locale {
        Locale::Vi => &VI,
        Locale::En => &EN,
    }
}

#[derive(Template)]
#[template(path = "second_factor.html")]
struct SecondFactorPage<'a> {
    t: &'a Texts,
    s: &'a StepupTexts,
    action: String,
    csrf: &'a str,
    error: Option<&'a str>,
    client_name: &'a str,
}

/// Renders the second-factor page of interaction `id`.
pub fn second_factor_page(
    id: &str,
    csrf: &str,
    error: Option<LoginError>,
    client_name: &str,
    locale: Locale,
) -> Result<String, askama::Error> {
    let (t, s) = (texts(locale), stepup_texts(locale));
    SecondFactorPage {
        t,
        s,
        action: format!("/interaction/{id}/login"),
        csrf,
        error: error.map(|e| match e {
            LoginError::TooManyAttempts => t.too_many_attempts,
            LoginError::InvalidCode | LoginError::InvalidCredentials => s.invalid_code,
        }),
        client_name,
    }
    .render()
}

#[derive(Template)]
#[template(path = "account_login.html")]
struct AccountLoginPage<'a> {
    t: &'a Texts,
    s: &'a StepupTexts,
    csrf: &'a str,
    error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "account_security.html")]
struct SecurityPage<'a> {
    t: &'a Texts,
    s: &'a StepupTexts,
    csrf: &'a str,
    error: Option<&'a str>,
    recovery_codes: Option<&'a [String]>,
    manual_key: Option<&'a str>,
    qr_svg: String,
    codes_left: i64,
}

/// The `otpauth://` URI as an inline SVG QR code (without the XML declaration).
fn qr_svg(uri: &str) -> String {
    match qrcode::QrCode::new(uri.as_bytes()) {
        Ok(code) => {
            let svg = code.render::<qrcode::render::svg::Color<'_>>().min_dimensions(220, 220).build();
            match svg.find("<svg") {
                Some(i) => svg[i..].replacen("<svg ", r#"<svg role="img" aria-label="QR" "#, 1),
                None => String::new(),
            }
        }
        Err(_) => String::new(),
    }
}

fn locale_of(headers: &HeaderMap) -> Locale {
    let raw = headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let tags: Vec<&str> = raw.split(',').filter_map(|t| t.split(';').next()).map(str::trim).collect();
    Locale::from_ui_locales(Some(&tags.join(" ")))
}

fn render(step: AccountStep, locale: Locale) -> Response {
    let (t, s) = (texts(locale), stepup_texts(locale));
    let message = |e: AccountError| match e {
        AccountError::InvalidCredentials => t.invalid_credentials,
        AccountError::InvalidCode => s.invalid_code,
        AccountError::TooManyAttempts => t.too_many_attempts,
    };
    match step {
        AccountStep::Redirect { location, .. } => see_other(location),
        AccountStep::ErrorPage { status, message } => pages::error(status, &message, locale),
        AccountStep::Show { view, status } => {
            let body = match &view {
                AccountView::SignIn { csrf, error } => {
                    AccountLoginPage { t, s, csrf, error: error.map(message) }.render()
                }
                AccountView::Enrol { csrf, manual_key, otpauth_uri, error } => SecurityPage {
                    t,
                    s,
                    csrf,
                    error: error.map(message),
                    recovery_codes: None,
                    manual_key: Some(manual_key),
                    qr_svg: qr_svg(otpauth_uri),
                    codes_left: 0,
                }
                .render(),
                AccountView::Enrolled { csrf, recovery_codes_left, error } => SecurityPage {
                    t,
                    s,
                    csrf,
                    error: error.map(message),
                    recovery_codes: None,
                    manual_key: None,
                    qr_svg: String::new(),
                    codes_left: *recovery_codes_left,
                }
                .render(),
                AccountView::RecoveryCodes { codes } => SecurityPage {
                    t,
                    s,
                    csrf: "",
                    error: None,
                    recovery_codes: Some(codes),
                    manual_key: None,
                    qr_svg: String::new(),
                    codes_left: 0,
                }
                .render(),
            };
            pages::html(pages::status(status), body)
        }
    }
}

fn form_of(params: &Params) -> AccountForm {
    let field = |n: &str| params.get(n).ok().flatten().unwrap_or("").to_owned();
    AccountForm {
        csrf: field("csrf"),
        action: field("action"),
        username: field("username"),
        password: field("password"),
        otp: field("otp"),
    }
}

/// Renders a step, setting the browser cookie if it was just made and the session
/// cookie after a sign-in.
fn finish(
    state: &AppState,
    step: AccountStep,
    locale: Locale,
    set_browser: Option<axum::http::HeaderValue>,
) -> Response {
    let new_session = match &step {
        AccountStep::Redirect { new_session, .. } => new_session.clone(),
        _ => None,
    };
    let mut response = render(step, locale);
    if let Some(set) = set_browser {
        response.headers_mut().append(header::SET_COOKIE, set);
    }
    if let Some(session) = new_session {
        let set = state.cookies().set(Cookie::Session, &session, Some(state.services.config.session_ttl));
        response.headers_mut().append(header::SET_COOKIE, set);
    }
    response
}

/// `GET /account/security`.
pub(super) async fn security_get(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let (browser, set_browser) = browser_id(&state, &headers);
    let session = state.cookies().get(&headers, Cookie::Session);
    let step = account::security_page(&state.services, session, &browser, state.now()).await;
    finish(&state, step, locale_of(&headers), set_browser)
}

/// `POST /account/security`.
pub(super) async fn security_post(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let locale = locale_of(&headers);
    let (Some(browser), true, Ok(params)) =
        (state.cookies().get(&headers, Cookie::Browser), is_form(&headers), Params::parse(&body))
    else {
        return pages::error(403, "csrf", locale);
    };
    let session = state.cookies().get(&headers, Cookie::Session);
    let step = account::security_submit(&state.services, session, browser, form_of(&params), state.now()).await;
    finish(&state, step, locale, None)
}

/// `GET /account/login`.
pub(super) async fn login_get(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let (browser, set_browser) = browser_id(&state, &headers);
    finish(&state, account::sign_in_page(&browser), locale_of(&headers), set_browser)
}

/// `POST /account/login`.
pub(super) async fn login_post(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let locale = locale_of(&headers);
    let (Some(browser), true, Ok(params)) =
        (state.cookies().get(&headers, Cookie::Browser), is_form(&headers), Params::parse(&body))
    else {
        return pages::error(403, "csrf", locale);
    };
    let session = state.cookies().get(&headers, Cookie::Session);
    let step = account::sign_in_submit(&state.services, session, browser, form_of(&params), state.now()).await;
    finish(&state, step, locale, None)
}
