//! `/account/mandates`: the signed-in person's representations of organisations and, for
//! those they represent as legal representative or head, the mandates given out, a form
//! to grant an `authorised_person` mandate and a revoke button per live mandate.
//! Extraction, one `flows::mandates` call, rendering. Vietnamese by default, English
//! with `?lang=en`.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;

use super::authorize::see_other;
use super::cookies::Cookie;
use super::{AppState, is_form, pages};
use crate::flows::mandates::{
    self, ActionOutcome, GrantForm, MandateAction, MandateProblem, MandatesPage, MandatesView,
};
use crate::identity::{MandateError, RepresentationStatus, Role};
use crate::protocol::authorize::Locale;
use crate::protocol::params::Params;
use crate::protocol::verified_claims::iso8601;

/// The texts of the mandates page in one language.
struct MandateTexts {
    title: &'static str,
    intro: &'static str,
    none: &'static str,
    tax_code: &'static str,
    role: &'static str,
    scope: &'static str,
    everything: &'static str,
    validity: &'static str,
    source: &'static str,
    from: &'static str,
    until: &'static str,
    no_end: &'static str,
    given: &'static str,
    no_mandates: &'static str,
    holder: &'static str,
    status: &'static str,
    granted_by_you: &'static str,
    revoke: &'static str,
    grant_title: &'static str,
    personal_number: &'static str,
    personal_number_help: &'static str,
    scope_help: &'static str,
    expiry: &'static str,
    grant: &'static str,
    weak_title: &'static str,
    weak: &'static str,
    weak_how: &'static str,
    weak_link: &'static str,
    done: &'static str,
    bad_number: &'static str,
    unknown_person: &'static str,
    bad_expiry: &'static str,
    not_found: &'static str,
    conflict: &'static str,
}

const VI: MandateTexts = MandateTexts {
    title: "Đại diện và ủy quyền cho tổ chức",
    intro: "Các tổ chức bạn đang được đại diện hoặc được ủy quyền thực hiện thủ tục:",
    none: "Bạn chưa đại diện cho tổ chức nào.",
    tax_code: "Mã số thuế",
    role: "Vai trò",
    scope: "Phạm vi",
    everything: "Tất cả thủ tục và dịch vụ",
    validity: "Thời hạn",
    source: "Nguồn",
    from: "từ",
    until: "đến hết ngày",
    no_end: "không thời hạn",
    given: "Các ủy quyền của tổ chức",
    no_mandates: "Tổ chức chưa ủy quyền cho ai.",
    holder: "Người được ủy quyền",
    status: "Trạng thái",
    granted_by_you: "do bạn ủy quyền",
    revoke: "Thu hồi ủy quyền",
    grant_title: "Ủy quyền cho một người khác",
    personal_number: "Số định danh cá nhân của người được ủy quyền (12 chữ số)",
    personal_number_help: "Người này phải đã từng đăng nhập bằng tài khoản định danh điện tử.",
    scope_help: "Phạm vi ủy quyền: mỗi dòng một mã thủ tục (ví dụ 1.000466) hoặc một dịch vụ (ví dụ client:portal).",
    expiry: "Ủy quyền có hiệu lực đến hết ngày (UTC)",
    grant: "Ủy quyền",
    weak_title: "Cần đăng nhập định danh điện tử mức độ 2",
    weak: "Để ủy quyền hoặc thu hồi ủy quyền, bạn phải đăng nhập bằng tài khoản định danh điện tử mức độ 2 \
           (urn:vn:eid:loa:2). Phiên đăng nhập hiện tại có mức",
    weak_how: "Đăng nhập lại bằng tài khoản định danh điện tử mức độ 2 để tiếp tục; bạn sẽ quay lại trang này. \
               Đăng nhập bằng tài khoản cán bộ không đạt mức độ 2.",
    weak_link: "Đăng nhập định danh điện tử mức độ 2",
    done: "Đã lưu.",
    bad_number: "Số định danh cá nhân không hợp lệ: cần đúng 12 chữ số.",
    unknown_person: "Chưa có ai với số định danh cá nhân này trên hệ thống. Người được ủy quyền cần đăng nhập \
                     một lần bằng tài khoản định danh điện tử trước.",
    bad_expiry: "Ngày hết hạn không hợp lệ (định dạng NNNN-TT-NN).",
    not_found: "Không tìm thấy tổ chức hoặc ủy quyền này.",
    conflict: "Không lưu được thay đổi, vui lòng thử lại.",
};

const EN: MandateTexts = MandateTexts {
    title: "Representation and mandates",
    intro: "The organisations you represent or hold a mandate for:",
    none: "You do not represent any organisation.",
    tax_code: "Tax code",
    role: "Role",
    scope: "Scope",
    everything: "All procedures and services",
    validity: "Validity",
    source: "Source",
    from: "from",
    until: "until the end of",
    no_end: "no end",
    given: "Mandates of the organisation",
    no_mandates: "The organisation has given no mandates.",
    holder: "Holder",
    status: "Status",
    granted_by_you: "granted by you",
    revoke: "Revoke the mandate",
    grant_title: "Give someone a mandate",
    personal_number: "The person's personal number (12 digits)",
    personal_number_help: "They must have signed in with their national e-ID at least once.",
    scope_help: "What for: one procedure code (e.g. 1.000466) or service (e.g. client:portal) per line.",
    expiry: "In force until the end of (UTC)",
    grant: "Grant the mandate",
    weak_title: "A level-2 national e-ID sign-in is needed",
    weak: "To grant or revoke a mandate you must be signed in with national e-ID level 2 (urn:vn:eid:loa:2). \
           Your current sign-in is at",
    weak_how: "Sign in again with national e-ID level 2 to go on; you will come back to this page. An \
               official's sign-in does not reach level 2.",
    weak_link: "Sign in with national e-ID level 2",
    done: "Saved.",
    bad_number: "The personal number is not valid: it must be exactly 12 digits.",
    unknown_person: "Nobody with this personal number is known here yet. The person must first sign in once \
                     with their national e-ID.",
    bad_expiry: "The expiry date is not valid (format YYYY-MM-DD).",
    not_found: "The organisation or mandate was not found.",
    conflict: "The change could not be saved; please try again.",
};

/// A representation as shown.
struct RepRow {
    org_name: String,
    tax_code: String,
    role: &'static str,
    scope: Vec<String>,
    from: String,
    until: Option<String>,
    source: &'static str,
}

/// A mandate as shown.
struct MandateRow {
    id: String,
    holder: String,
    scope: Vec<String>,
    from: String,
    until: Option<String>,
    status: &'static str,
    granted_by_me: bool,
    revocable: bool,
}

/// An organisation the person may give mandates for, as shown.
struct OrgRow {
    id: String,
    name: String,
    mandates: Vec<MandateRow>,
}

#[derive(Template)]
#[template(path = "account_mandates.html")]
struct MandatesTemplate<'a> {
    t: &'a pages::Texts,
    m: &'a MandateTexts,
    person_name: String,
    csrf: String,
    strong: bool,
    acr: String,
    reps: Vec<RepRow>,
    orgs: Vec<OrgRow>,
    error: Option<String>,
    notice: Option<&'static str>,
    form: GrantForm,
    lang_query: &'static str,
}

fn locale_of(query: Option<&str>) -> Locale {
    let params = Params::parse(query.unwrap_or_default().as_bytes()).ok();
    let lang = params.as_ref().and_then(|p| p.get("lang").ok().flatten().or(p.get("ui_locales").ok().flatten()));
    Locale::from_ui_locales(lang)
}

fn texts(locale: Locale) -> (&'static MandateTexts, &'static str) {
    match locale {
        Locale::Vi => (&VI, ""),
        Locale::En => (&EN, "?lang=en"),
    }
}

/// The last day of a validity ending (exclusively) at `until`.
fn last_day(until: i64) -> String {
    iso8601(until.saturating_sub(1)).chars().take(10).collect()
}

fn role_name(role: Role, locale: Locale) -> &'static str {
    match (role, locale) {
        (Role::LegalRepresentative, Locale::Vi) => "Người đại diện theo pháp luật",
        (Role::Head, Locale::Vi) => "Thủ trưởng",
        (Role::AuthorisedPerson, Locale::Vi) => "Người được ủy quyền",
        (Role::Employee, Locale::Vi) => "Nhân viên",
        (Role::LegalRepresentative, Locale::En) => "Legal representative",
        (Role::Head, Locale::En) => "Head",
        (Role::AuthorisedPerson, Locale::En) => "Authorised person",
        (Role::Employee, Locale::En) => "Employee",
    }
}

fn source_name(source: crate::identity::RepresentationSource, locale: Locale) -> &'static str {
    use crate::identity::RepresentationSource as S;
    match (source, locale) {
        (S::Upstream, Locale::Vi) => "Cơ sở dữ liệu quốc gia (qua định danh điện tử)",
        (S::Officer, Locale::Vi) => "Cán bộ ghi nhận",
        (S::Mandate, Locale::Vi) => "Ủy quyền",
        (S::Upstream, Locale::En) => "National register (via e-ID)",
        (S::Officer, Locale::En) => "Recorded by an officer",
        (S::Mandate, Locale::En) => "Mandate",
    }
}

fn status_name(status: RepresentationStatus, live: bool, locale: Locale) -> &'static str {
    match (status, live, locale) {
        (RepresentationStatus::Revoked, _, Locale::Vi) => "Đã thu hồi",
        (RepresentationStatus::Revoked, _, Locale::En) => "Revoked",
        (RepresentationStatus::Pending, _, Locale::Vi) => "Chờ xác nhận",
        (RepresentationStatus::Pending, _, Locale::En) => "Pending",
        (RepresentationStatus::Active, true, Locale::Vi) => "Còn hiệu lực",
        (RepresentationStatus::Active, true, Locale::En) => "In force",
        (RepresentationStatus::Active, false, Locale::Vi) => "Hết hiệu lực",
        (RepresentationStatus::Active, false, Locale::En) => "Not in force",
    }
}

/// One language's half of a bilingual `vi / en` rule message.
fn half(message: &str, locale: Locale) -> String {
    match (message.split_once(" / "), locale) {
        (Some((vi, _)), Locale::Vi) => vi.to_owned(),
        (Some((_, en)), Locale::En) => en.to_owned(),
        (None, _) => message.to_owned(),
    }
}

fn problem_text(p: &MandateProblem, m: &MandateTexts, locale: Locale) -> String {
    match p {
        MandateProblem::WeakSession => half(&MandateError::WeakAuthentication.to_string(), locale),
        MandateProblem::BadPersonalNumber => m.bad_number.to_owned(),
        MandateProblem::UnknownPerson => m.unknown_person.to_owned(),
        MandateProblem::BadExpiry => m.bad_expiry.to_owned(),
        MandateProblem::Rule(e) => half(&e.to_string(), locale),
        MandateProblem::NotFound => m.not_found.to_owned(),
        MandateProblem::Conflict => m.conflict.to_owned(),
    }
}

struct Extra {
    error: Option<String>,
    notice: Option<&'static str>,
    form: GrantForm,
}

fn render(v: MandatesView, extra: Extra, code: u16, locale: Locale, now: i64) -> Response {
    let (m, lang_query) = texts(locale);
    let t = pages::texts(locale);
    let reps = v
        .representations
        .iter()
        .map(|(r, o)| RepRow {
            org_name: o.name.clone(),
            tax_code: o.tax_code.as_ref().map(|c| c.masked()).unwrap_or_default(),
            role: role_name(r.role, locale),
            scope: r.scope.clone(),
            from: last_day(r.valid_from + 1),
            until: r.valid_until.map(last_day),
            source: source_name(r.source, locale),
        })
        .collect();
    let orgs = v
        .granting
        .iter()
        .map(|g| OrgRow {
            id: g.org.id.0.clone(),
            name: g.org.name.clone(),
            mandates: g
                .mandates
                .iter()
                .map(|gm| {
                    let r = &gm.mandate;
                    let live = r.is_active_at(now);
                    let holder = match (&gm.holder_name, &gm.holder_number) {
                        (Some(n), Some(p)) => format!("{n} ({p})"),
                        (Some(n), None) => n.clone(),
                        (None, Some(p)) => p.clone(),
                        (None, None) => r.person_id.0.clone(),
                    };
                    MandateRow {
                        id: r.id.0.clone(),
                        holder,
                        scope: r.scope.clone(),
                        from: last_day(r.valid_from + 1),
                        until: r.valid_until.map(last_day),
                        status: status_name(r.status, live, locale),
                        granted_by_me: gm.granted_by_me,
                        revocable: r.status != RepresentationStatus::Revoked && r.valid_until.is_none_or(|u| now < u),
                    }
                })
                .collect(),
        })
        .collect();
    let page = MandatesTemplate {
        t,
        m,
        person_name: v.person_name,
        csrf: v.csrf,
        strong: v.strong,
        acr: v.acr,
        reps,
        orgs,
        error: extra.error,
        notice: extra.notice,
        form: extra.form,
        lang_query,
    };
    pages::html(pages::status(code), page.render())
}

/// `GET /account/mandates` (`?done=1` after a successful change).
pub(super) async fn show(State(state): State<AppState>, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    let locale = locale_of(q.as_deref());
    let done = q.as_deref().is_some_and(|q| q.split('&').any(|p| p == "done=1"));
    let session = state.cookies().get(&headers, Cookie::Session);
    let now = state.now();
    match mandates::page(&state.services, session, now).await {
        Ok(MandatesPage::Show(v)) => {
            let notice = done.then_some(texts(locale).0.done);
            render(v, Extra { error: None, notice, form: GrantForm::default() }, 200, locale, now)
        }
        // Not signed in: straight to the sign-in, which comes back here.
        Ok(MandatesPage::SignInNeeded) => see_other(&super::account_consents::signin_path("mandates", locale)),
        Err(_) => pages::error(503, "temporarily_unavailable", locale),
    }
}

/// `POST /account/mandates`: `csrf`, `action` (`grant` with `org`, `personal_number`,
/// `scope`, `valid_until`; or `revoke` with `mandate`).
pub(super) async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Response {
    let locale = locale_of(q.as_deref());
    if !is_form(&headers) {
        return pages::error(415, "the request must be application/x-www-form-urlencoded", locale);
    }
    let Ok(params) = Params::parse(&body) else { return pages::error(400, "invalid_request", locale) };
    let field = |n: &str| params.get(n).ok().flatten().unwrap_or("").to_owned();
    let action = match field("action").as_str() {
        "grant" => MandateAction::Grant(GrantForm {
            org: field("org"),
            personal_number: field("personal_number"),
            scope: field("scope"),
            valid_until: field("valid_until"),
        }),
        "revoke" => MandateAction::Revoke(field("mandate")),
        _ => return pages::error(400, "invalid_request", locale),
    };
    let session = state.cookies().get(&headers, Cookie::Session);
    let now = state.now();
    match mandates::act(&state.services, session, &field("csrf"), action, now).await {
        Ok(ActionOutcome::Done(_)) => see_other(if locale == Locale::En {
            "/account/mandates?lang=en&done=1"
        } else {
            "/account/mandates?done=1"
        }),
        // The session ended meanwhile: nothing was changed; the sign-in comes back to the
        // page.
        Ok(ActionOutcome::SignInNeeded) => see_other(&super::account_consents::signin_path("mandates", locale)),
        Ok(ActionOutcome::Forbidden) => pages::error(403, "csrf", locale),
        Ok(ActionOutcome::Refused(view, problem, form)) => {
            let code = match problem {
                MandateProblem::WeakSession
                | MandateProblem::Rule(
                    MandateError::NotRepresentative
                    | MandateError::RoleMayNotMandate
                    | MandateError::NotARevocableMandate,
                ) => 403,
                MandateProblem::NotFound => 404,
                MandateProblem::Conflict => 409,
                _ => 400,
            };
            let error = Some(problem_text(&problem, texts(locale).0, locale));
            render(*view, Extra { error, notice: None, form }, code, locale, now)
        }
        Err(_) => pages::error(503, "temporarily_unavailable", locale),
    }
}
