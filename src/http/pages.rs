//! People-facing pages: askama templates (compile-time checked, HTML-escaped) with their
//! texts in Vietnamese (default) and English. No inline script anywhere.

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::flows::interaction::{LoginError, View};
use crate::protocol::authorize::Locale;

/// The texts of every page in one language.
#[derive(Debug)]
pub struct Texts {
    /// `lang` attribute.
    pub lang: &'static str,
    /// Product line on every page.
    pub product: &'static str,
    /// "Sign in".
    pub sign_in: &'static str,
    /// "to continue to".
    pub sign_in_to: &'static str,
    /// Username label.
    pub username: &'static str,
    /// Password label.
    pub password: &'static str,
    /// Cancel button.
    pub cancel: &'static str,
    /// "Continue as".
    pub continue_as: &'static str,
    /// "or sign in with another account".
    pub or_other_account: &'static str,
    /// Wrong username or password.
    pub invalid_credentials: &'static str,
    /// Too many attempts.
    pub too_many_attempts: &'static str,
    /// Consent title.
    pub consent_title: &'static str,
    /// "asks for".
    pub consent_asks: &'static str,
    /// Allow button.
    pub allow: &'static str,
    /// Deny button.
    pub deny: &'static str,
    /// Error page title.
    pub error_title: &'static str,
    /// "Technical detail".
    pub error_detail: &'static str,
    /// What to do after an error.
    pub error_advice: &'static str,
    /// An expired or foreign interaction.
    pub interaction_expired: &'static str,
    /// A forged or stale form.
    pub csrf: &'static str,
    /// Service unavailable.
    pub temporarily_unavailable: &'static str,
    /// The request could not be accepted.
    pub bad_request: &'static str,
    /// Form post title.
    pub redirecting: &'static str,
    /// Form post button.
    pub continue_btn: &'static str,
    /// Logout page title.
    pub logout_title: &'static str,
    /// "asks to sign you out of every service".
    pub logout_asks: &'static str,
    /// Confirmation question without a known client.
    pub logout_question: &'static str,
    /// Confirm button.
    pub logout_yes: &'static str,
    /// Keep-session button.
    pub logout_no: &'static str,
    /// Logged-out title.
    pub logout_done: &'static str,
    /// Logged-out detail.
    pub logout_done_detail: &'static str,
    /// What each scope releases, for the consent page: `(scope, description)`.
    pub scopes: &'static [(&'static str, &'static str)],
    /// The consent line of verified identity data, before the claims it names.
    pub verified_lead: &'static str,
    /// Names of claims for people: `(claim, name)`.
    pub claim_names: &'static [(&'static str, &'static str)],
}

const VI: Texts = Texts {
    lang: "vi",
    product: "Tài khoản định danh điện tử",
    sign_in: "Đăng nhập",
    sign_in_to: "để tiếp tục vào",
    username: "Tên đăng nhập",
    password: "Mật khẩu",
    cancel: "Hủy",
    continue_as: "Tiếp tục với tài khoản",
    or_other_account: "hoặc đăng nhập bằng tài khoản khác",
    invalid_credentials: "Tên đăng nhập hoặc mật khẩu không đúng.",
    too_many_attempts: "Bạn đã thử quá nhiều lần. Vui lòng thử lại sau ít phút.",
    consent_title: "Cho phép truy cập",
    consent_asks: "đề nghị được nhận các thông tin sau của bạn",
    allow: "Cho phép",
    deny: "Từ chối",
    error_title: "Không thể tiếp tục",
    error_detail: "Chi tiết kỹ thuật",
    error_advice: "Hãy quay lại ứng dụng và thử lại. Nếu lỗi còn tiếp diễn, vui lòng liên hệ bộ phận hỗ trợ.",
    interaction_expired: "Phiên đăng nhập này đã hết hạn hoặc không thuộc trình duyệt này.",
    csrf: "Biểu mẫu đã hết hạn hoặc không hợp lệ.",
    temporarily_unavailable: "Hệ thống đang tạm thời gián đoạn.",
    bad_request: "Yêu cầu đăng nhập từ ứng dụng không hợp lệ.",
    redirecting: "Đang chuyển về ứng dụng",
    continue_btn: "Tiếp tục",
    logout_title: "Đăng xuất",
    logout_asks: "đề nghị đăng xuất bạn khỏi tất cả các dịch vụ. Bạn có muốn đăng xuất không?",
    logout_question: "Bạn có muốn đăng xuất khỏi tất cả các dịch vụ không?",
    logout_yes: "Đăng xuất",
    logout_no: "Giữ đăng nhập",
    logout_done: "Bạn đã đăng xuất",
    logout_done_detail: "Phiên đăng nhập đã kết thúc trên tất cả các dịch vụ dùng tài khoản này.",
    scopes: &[
        ("openid", "Mã định danh riêng của bạn đối với ứng dụng này"),
        ("profile", "Họ tên và tên đăng nhập"),
        ("email", "Địa chỉ thư điện tử"),
        ("phone", "Số điện thoại"),
        ("address", "Địa chỉ"),
        ("vn_pin", "Số định danh cá nhân (12 chữ số)"),
        ("org", "Tổ chức bạn thay mặt (tên, mã số thuế, vai trò của bạn)"),
        ("verified_claims", "Thông tin định danh đã được xác minh: nội dung, cách thức và thời điểm xác minh"),
    ],
    verified_lead: "Thông tin định danh đã được xác minh (kèm cách thức và thời điểm xác minh)",
    claim_names: &[
        ("name", "họ và tên"),
        ("given_name", "tên"),
        ("family_name", "họ"),
        ("birthdate", "ngày sinh"),
        ("place_of_birth", "nơi sinh"),
        ("gender", "giới tính"),
        ("nationalities", "quốc tịch"),
        ("address", "địa chỉ"),
        ("email", "thư điện tử"),
        ("phone_number", "số điện thoại"),
    ],
};

const EN: Texts = Texts {
    lang: "en",
    product: "Electronic identity account",
    sign_in: "Sign in",
    sign_in_to: "to continue to",
    username: "Username",
    password: "Password",
    cancel: "Cancel",
    continue_as: "Continue as",
    or_other_account: "or sign in with another account",
    invalid_credentials: "The username or password is incorrect.",
    too_many_attempts: "Too many attempts. Please try again in a few minutes.",
    consent_title: "Allow access",
    consent_asks: "asks to receive the following about you",
    allow: "Allow",
    deny: "Deny",
    error_title: "Cannot continue",
    error_detail: "Technical detail",
    error_advice: "Go back to the application and try again. If the problem persists, contact support.",
    interaction_expired: "This sign-in has expired or belongs to another browser.",
    csrf: "The form has expired or is not valid.",
    temporarily_unavailable: "The service is temporarily unavailable.",
    bad_request: "The application's sign-in request is not valid.",
    redirecting: "Returning to the application",
    continue_btn: "Continue",
    logout_title: "Sign out",
    logout_asks: "asks to sign you out of every service. Do you want to sign out?",
    logout_question: "Do you want to sign out of every service?",
    logout_yes: "Sign out",
    logout_no: "Stay signed in",
    logout_done: "You are signed out",
    logout_done_detail: "Your session has ended on every service that uses this account.",
    scopes: &[
        ("openid", "An identifier for you that only this application sees"),
        ("profile", "Your name and username"),
        ("email", "Your e-mail address"),
        ("phone", "Your phone number"),
        ("address", "Your address"),
        ("vn_pin", "Your personal identification number (12 digits)"),
        ("org", "The organisation you act for (name, tax code, your role)"),
        ("verified_claims", "Your verified identity: what was checked, how and when (level, evidence)"),
    ],
    verified_lead: "Your verified identity (with how and when it was checked)",
    claim_names: &[
        ("name", "full name"),
        ("given_name", "given name"),
        ("family_name", "family name"),
        ("birthdate", "date of birth"),
        ("place_of_birth", "place of birth"),
        ("gender", "gender"),
        ("nationalities", "nationality"),
        ("address", "address"),
        ("email", "e-mail address"),
        ("phone_number", "phone number"),
    ],
};

/// The texts for a locale.
pub fn texts(locale: Locale) -> &'static Texts {
    match locale {
        Locale::Vi => &VI,
        Locale::En => &EN,
    }
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    t: &'a Texts,
    action: String,
    csrf: &'a str,
    login_hint: &'a str,
    continue_as: Option<&'a str>,
    error: Option<&'a str>,
    client_name: &'a str,
    /// Upstream buttons: `(form action, label)`.
    upstreams: Vec<(String, &'a str)>,
    /// "Sign in with national e-ID" caption.
    upstream_caption: &'static str,
    /// "or, for officials".
    officials_caption: &'static str,
}

#[derive(Template)]
#[template(path = "consent.html")]
struct ConsentPage<'a> {
    t: &'a Texts,
    action: String,
    csrf: &'a str,
    client_name: &'a str,
    person_name: &'a str,
    scopes: Vec<String>,
}

/// The consent page's lines: one per scope, then one naming every verified claim asked
/// for (`verified_claims:<claim>` items).
fn consent_lines(t: &Texts, items: &[String]) -> Vec<String> {
    let prefix = format!("{}:", crate::protocol::authorize::VERIFIED_CLAIMS_CONSENT);
    let described = |s: &str| t.scopes.iter().find(|(name, _)| *name == s).map_or(s, |(_, d)| *d).to_owned();
    let (verified, plain): (Vec<&String>, Vec<&String>) = items.iter().partition(|s| s.starts_with(&prefix));
    let mut lines: Vec<String> = plain.into_iter().map(|s| described(s)).collect();
    if !verified.is_empty() {
        let names: Vec<&str> = verified
            .iter()
            .map(|s| {
                let claim = &s[prefix.len()..];
                t.claim_names.iter().find(|(c, _)| *c == claim).map_or(claim, |(_, n)| *n)
            })
            .collect();
        lines.push(format!("{}: {}", t.verified_lead, names.join(", ")));
    }
    lines
}

/// Texts of the context picker.
pub struct ContextTexts {
    title: &'static str,
    lead: &'static str,
    myself: &'static str,
    tax_code: &'static str,
    roles: [(&'static str, &'static str); 4],
}

const CONTEXT_VI: ContextTexts = ContextTexts {
    title: "Bạn thực hiện với tư cách nào?",
    lead: "Chọn bạn đăng nhập cho chính mình hay thay mặt một tổ chức",
    myself: "Cho bản thân (cá nhân)",
    tax_code: "MST",
    roles: [
        ("legal_representative", "người đại diện theo pháp luật"),
        ("head", "người đứng đầu"),
        ("authorised_person", "người được ủy quyền"),
        ("employee", "nhân viên"),
    ],
};

const CONTEXT_EN: ContextTexts = ContextTexts {
    title: "Who are you acting for?",
    lead: "Choose whether you sign in for yourself or on behalf of an organisation",
    myself: "For myself (individual)",
    tax_code: "tax code",
    roles: [
        ("legal_representative", "legal representative"),
        ("head", "head"),
        ("authorised_person", "authorised person"),
        ("employee", "employee"),
    ],
};

/// One choice on the picker, with its role in words.
struct ContextLine<'a> {
    id: &'a str,
    org_name: &'a str,
    tax_code: Option<&'a str>,
    role_text: &'a str,
}

#[derive(Template)]
#[template(path = "choose_context.html")]
struct ContextPage<'a> {
    t: &'a Texts,
    c: &'a ContextTexts,
    action: String,
    csrf: &'a str,
    client_name: &'a str,
    person_name: &'a str,
    choices: Vec<ContextLine<'a>>,
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    t: &'a Texts,
    message: &'a str,
    detail: &'a str,
}

#[derive(Template)]
#[template(path = "form_post.html")]
struct FormPostPage<'a> {
    t: &'a Texts,
    action: &'a str,
    fields: &'a [(String, String)],
}

/// An HTML response that must never be cached.
pub(crate) fn html(status: StatusCode, body: Result<String, askama::Error>) -> Response {
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

pub(crate) fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST)
}

/// Renders an interaction page.
pub fn interaction(id: &str, view: &View, code: u16, locale: Locale) -> Response {
    let t = texts(locale);
    let body = match view {
        View::Login { csrf, login_hint, continue_as, error, client_name, upstreams } => LoginPage {
            t,
            action: format!("/interaction/{id}/login"),
            csrf,
            login_hint: login_hint.as_deref().unwrap_or(""),
            continue_as: continue_as.as_deref(),
            error: error.map(|e| match e {
                LoginError::InvalidCredentials => t.invalid_credentials,
                LoginError::TooManyAttempts => t.too_many_attempts,
                LoginError::InvalidCode => super::account::stepup_texts(locale).invalid_code,
            }),
            client_name,
            upstreams: upstreams
                .iter()
                .map(|(u, name)| (format!("/interaction/{id}/upstream/{u}"), name.as_str()))
                .collect(),
            upstream_caption: match locale {
                Locale::Vi => "Đăng nhập bằng tài khoản định danh điện tử",
                Locale::En => "Sign in with national e-ID",
            },
            officials_caption: match locale {
                Locale::Vi => "hoặc đăng nhập bằng tài khoản cán bộ",
                Locale::En => "or sign in with an official's account",
            },
        }
        .render(),
        View::SecondFactor { csrf, error, client_name } => {
            super::account::second_factor_page(id, csrf, *error, client_name, locale)
        }
        View::ChooseContext { csrf, client_name, person_name, choices } => {
            let c = match locale {
                Locale::Vi => &CONTEXT_VI,
                Locale::En => &CONTEXT_EN,
            };
            ContextPage {
                t,
                c,
                action: format!("/interaction/{id}/context"),
                csrf,
                client_name,
                person_name,
                choices: choices
                    .iter()
                    .map(|ch| ContextLine {
                        id: &ch.id,
                        org_name: &ch.org_name,
                        tax_code: ch.tax_code.as_deref(),
                        role_text: c.roles.iter().find(|(r, _)| *r == ch.role).map_or(ch.role.as_str(), |(_, w)| w),
                    })
                    .collect(),
            }
            .render()
        }
        View::Consent { csrf, client_name, scopes, person_name } => ConsentPage {
            t,
            action: format!("/interaction/{id}/consent"),
            csrf,
            client_name,
            person_name,
            scopes: consent_lines(t, scopes),
        }
        .render(),
    };
    html(status(code), body)
}

/// Renders an error page with an already localised text and a technical detail.
pub fn error_text(code: u16, text: &str, detail: &str, locale: Locale) -> Response {
    html(status(code), ErrorPage { t: texts(locale), message: text, detail }.render())
}

/// Renders an error page. `message` is a known key (localised) or a protocol
/// description (shown as the technical detail).
pub fn error(code: u16, message: &str, locale: Locale) -> Response {
    let t = texts(locale);
    let (text, detail) = match message {
        "interaction_expired" => (t.interaction_expired, ""),
        "csrf" => (t.csrf, ""),
        "context_unavailable" => (
            match locale {
                Locale::Vi => "Bạn không thể thay mặt tổ chức này cho dịch vụ này.",
                Locale::En => "You cannot act for this organisation at this service.",
            },
            "",
        ),
        "temporarily_unavailable" => (t.temporarily_unavailable, ""),
        "account_signin_failed" => (
            match locale {
                Locale::Vi => "Chưa đăng nhập được vào trang tài khoản. Vui lòng thử lại.",
                Locale::En => "You could not be signed in to your account pages. Please try again.",
            },
            "",
        ),
        "account_level2_unmet" => (
            match locale {
                Locale::Vi => {
                    "Việc này cần đăng nhập bằng tài khoản định danh điện tử mức độ 2, nhưng lần đăng nhập \
                               vừa rồi chưa đạt mức đó. Hãy nâng cấp tài khoản định danh điện tử lên mức độ 2 rồi thử lại."
                }
                Locale::En => {
                    "This needs a national e-ID level 2 sign-in, and the sign-in did not reach that level. \
                               Raise your national e-ID account to level 2, then try again."
                }
            },
            "",
        ),
        other => (t.bad_request, other),
    };
    html(status(code), ErrorPage { t, message: text, detail }.render())
}

#[derive(Template)]
#[template(path = "logout_confirm.html")]
struct LogoutConfirmPage<'a> {
    t: &'a Texts,
    id: &'a str,
    csrf: &'a str,
    client_name: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "logout_done.html")]
struct LogoutDonePage<'a> {
    t: &'a Texts,
    frontchannel: &'a [String],
    redirect: Option<&'a str>,
}

/// Renders the logout confirmation page.
pub fn logout_confirm(id: &str, csrf: &str, client_name: Option<&str>, locale: Locale) -> Response {
    html(StatusCode::OK, LogoutConfirmPage { t: texts(locale), id, csrf, client_name }.render())
}

/// Renders the signed-out page; front-channel iframes may load the listed origins.
pub fn logout_done(frontchannel: &[String], redirect: Option<&str>, locale: Locale) -> Response {
    let mut r = html(StatusCode::OK, LogoutDonePage { t: texts(locale), frontchannel, redirect }.render());
    let mut origins: Vec<String> = frontchannel
        .iter()
        .filter_map(|u| url::Url::parse(u).ok())
        .map(|u| u.origin().ascii_serialization())
        .filter(|o| o != "null")
        .collect();
    origins.sort();
    origins.dedup();
    if !origins.is_empty() {
        let csp = format!(
            "default-src 'self'; frame-src {}; frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
            origins.join(" ")
        );
        if let Ok(v) = HeaderValue::from_str(&csp) {
            r.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
        }
    }
    r
}

/// Renders a form_post response page.
pub fn form_post(action: &str, fields: &[(String, String)], locale: Locale) -> Response {
    html(StatusCode::OK, FormPostPage { t: texts(locale), action, fields }.render())
}
