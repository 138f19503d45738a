//! The login and consent steps of an interaction: show the page, check the posted form
//! (browser binding, CSRF token), verify the password off the runtime, start a new
//! session, remember consent, and finish with a code or an error for the client.

use super::authorize::{BrowserCookies, Interaction, Stage, load_session};
use super::issue::{error_response, issue_code};
use super::{BrowserSession, Services, decode, encode, ephemeral_failed, store_failed};
use crate::crypto::constant_time_eq;
use crate::crypto::opaque::{random_token, token_digest};
use crate::ephemeral::Namespace;
use crate::identity::{PersonId, PersonStatus};
use crate::protocol::acr;
use crate::protocol::authorize::Locale;
use crate::protocol::prompt::{check_achieved, consent_needed};
use crate::protocol::redirect_uri::AuthorizationResponse;
use crate::protocol::{ErrorCode, OAuthError};

/// Failed sign-ins per username allowed in [`LOGIN_WINDOW`] seconds.
pub const MAX_LOGIN_FAILURES: u64 = 10;
/// The window of [`MAX_LOGIN_FAILURES`].
pub const LOGIN_WINDOW: i64 = 15 * 60;

/// A page to render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum View {
    /// The login page.
    Login {
        /// CSRF token for the form.
        csrf: String,
        /// Prefilled username.
        login_hint: Option<String>,
        /// Name of the signed-in person, when "continue as" is offered.
        continue_as: Option<String>,
        /// Which error to show, if any.
        error: Option<LoginError>,
        /// Client display name.
        client_name: String,
        /// Upstream identity providers offered: `(id, display name)`.
        upstreams: Vec<(String, String)>,
    },
    /// The second-factor page (a TOTP code or a recovery code).
    SecondFactor {
        /// CSRF token for the form.
        csrf: String,
        /// Which error to show, if any.
        error: Option<LoginError>,
        /// Client display name.
        client_name: String,
    },
    /// The context picker: act for oneself or for one represented organisation.
    ChooseContext {
        /// CSRF token for the form.
        csrf: String,
        /// Client display name.
        client_name: String,
        /// Who is choosing.
        person_name: String,
        /// The organisations on offer.
        choices: Vec<ContextChoice>,
    },
    /// The consent page.
    Consent {
        /// CSRF token for the form.
        csrf: String,
        /// Client display name.
        client_name: String,
        /// Scopes asked for.
        scopes: Vec<String>,
        /// Who is consenting.
        person_name: String,
    },
}

/// One organisation a person may act for, as the context picker shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextChoice {
    /// The representation id (the form value).
    pub id: String,
    /// Organisation name.
    pub org_name: String,
    /// Tax code (masked when it is a personal number).
    pub tax_code: Option<String>,
    /// Role (`legal_representative`, `head`, `authorised_person`, `employee`).
    pub role: String,
}

/// Why the login page is shown again. Wrong username and wrong password are one case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginError {
    /// Username or password is wrong (or the account is disabled).
    InvalidCredentials,
    /// Too many failures for this username; try later.
    TooManyAttempts,
    /// The second-factor code is wrong, already used, or expired.
    InvalidCode,
}

/// What the HTTP layer should do next.
#[derive(Debug)]
pub enum Step {
    /// Render a page with this status.
    Show {
        /// The page.
        view: View,
        /// HTTP status.
        status: u16,
        /// Language.
        locale: Locale,
    },
    /// Send the browser back to the interaction page (303).
    Next {
        /// Interaction id.
        id: String,
    },
    /// Answer the client.
    Respond(AuthorizationResponse),
    /// Show an error page.
    ErrorPage {
        /// HTTP status.
        status: u16,
        /// Message.
        message: String,
        /// Language.
        locale: Locale,
    },
}

/// A step and, after a sign-in, the new session cookie value to set.
#[derive(Debug)]
pub struct StepResult {
    /// The step.
    pub step: Step,
    /// A new session cookie value.
    pub new_session: Option<String>,
}

impl From<Step> for StepResult {
    fn from(step: Step) -> Self {
        StepResult { step, new_session: None }
    }
}

/// A posted login form.
#[derive(Debug, Default)]
pub struct LoginForm {
    /// CSRF token.
    pub csrf: String,
    /// `login` (default), `continue` or `cancel`.
    pub action: String,
    /// Username.
    pub username: String,
    /// Password.
    pub password: String,
    /// Second-factor code (TOTP or recovery code), on the second-factor page.
    pub otp: String,
}

fn expired(locale: Locale) -> Step {
    Step::ErrorPage { status: 400, message: "interaction_expired".into(), locale }
}

async fn load(svc: &Services, id: &str, browser: &str, now: i64) -> Result<Result<Interaction, Step>, OAuthError> {
    let raw = svc.ephemeral.get(Namespace::Interaction, id, now).await.map_err(ephemeral_failed)?;
    let Some(ix) = raw.and_then(|r| decode::<Interaction>(&r)) else { return Ok(Err(expired(Locale::Vi))) };
    if !constant_time_eq(ix.browser_digest.as_bytes(), token_digest(browser).as_bytes()) {
        return Ok(Err(expired(ix.request.locale)));
    }
    Ok(Ok(ix))
}

fn unavailable(locale: Locale) -> Step {
    Step::ErrorPage { status: 503, message: "temporarily_unavailable".into(), locale }
}

async fn client_name(svc: &Services, ix: &Interaction) -> Result<String, OAuthError> {
    let c = svc.store.find_client(&ix.request.client_id).await.map_err(store_failed)?;
    Ok(c.and_then(|c| c.client.client_name).unwrap_or_else(|| ix.request.client_id.clone()))
}

async fn person_name(svc: &Services, id: &str) -> Result<String, OAuthError> {
    let p = svc.store.find_person(&PersonId(id.to_owned())).await.map_err(store_failed)?;
    Ok(p.and_then(|p| p.name.or(p.username)).unwrap_or_default())
}

async fn view_of(svc: &Services, ix: &Interaction, error: Option<LoginError>, now: i64) -> Result<View, OAuthError> {
    let client_name = client_name(svc, ix).await?;
    Ok(match &ix.stage {
        Stage::Login { offer_session } => {
            let continue_as = match (&ix.session, offer_session) {
                (Some(s), true) => Some(person_name(svc, &s.person_id).await?),
                _ => None,
            };
            View::Login {
                csrf: ix.csrf.clone(),
                login_hint: ix.request.login_hint.clone(),
                continue_as,
                error,
                client_name,
                upstreams: super::broker::buttons(svc),
            }
        }
        Stage::SecondFactor { .. } => View::SecondFactor { csrf: ix.csrf.clone(), error, client_name },
        Stage::ChooseContext => {
            let Some(s) = &ix.session else { return Err(OAuthError::server_error()) };
            let choices = context_choices(svc, &s.person_id, &ix.request.client_id, now)
                .await?
                .iter()
                .map(|(r, o)| ContextChoice {
                    id: r.id.0.clone(),
                    org_name: o.name.clone(),
                    tax_code: o.tax_code.as_ref().map(crate::identity::TaxCode::masked),
                    role: r.role.as_str().to_owned(),
                })
                .collect();
            View::ChooseContext {
                csrf: ix.csrf.clone(),
                client_name,
                person_name: person_name(svc, &s.person_id).await?,
                choices,
            }
        }
        Stage::Consent => {
            let person_name = match &ix.session {
                Some(s) => person_name(svc, &s.person_id).await?,
                None => String::new(),
            };
            View::Consent {
                csrf: ix.csrf.clone(),
                client_name,
                scopes: ix.request.consent_items().iter().map(str::to_owned).collect(),
                person_name,
            }
        }
    })
}

/// GET of the interaction page.
pub async fn show(svc: &Services, id: &str, browser: &str, now: i64) -> Step {
    let ix = match load(svc, id, browser, now).await {
        Ok(Ok(ix)) => ix,
        Ok(Err(step)) => return step,
        Err(_) => return unavailable(Locale::Vi),
    };
    match view_of(svc, &ix, None, now).await {
        Ok(view) => Step::Show { view, status: 200, locale: ix.request.locale },
        Err(_) => unavailable(ix.request.locale),
    }
}

fn finish_with_error(svc: &Services, ix: &Interaction, e: &OAuthError) -> Step {
    Step::Respond(error_response(&svc.config.issuer, &ix.request.target, e))
}

/// POST of the login form.
pub async fn submit_login(
    svc: &Services,
    id: &str,
    cookies: BrowserCookies<'_>,
    form: LoginForm,
    now: i64,
) -> StepResult {
    let mut ix = match load(svc, id, cookies.browser, now).await {
        Ok(Ok(ix)) => ix,
        Ok(Err(step)) => return step.into(),
        Err(_) => return unavailable(Locale::Vi).into(),
    };
    let locale = ix.request.locale;
    if !matches!(ix.stage, Stage::Login { .. } | Stage::SecondFactor { .. })
        || !constant_time_eq(form.csrf.as_bytes(), ix.csrf.as_bytes())
    {
        return Step::ErrorPage { status: 403, message: "csrf".into(), locale }.into();
    }
    let result = match ix.stage.clone() {
        Stage::SecondFactor { person_id } => second_factor_step(svc, id, &mut ix, cookies, &form, person_id, now).await,
        _ => login_step(svc, id, &mut ix, cookies, form, now).await,
    };
    match result {
        Ok(r) => r,
        Err(e) if e.code == ErrorCode::TemporarilyUnavailable => unavailable(locale).into(),
        Err(e) => {
            let _ = svc.ephemeral.delete(Namespace::Interaction, id).await;
            finish_with_error(svc, &ix, &e).into()
        }
    }
}

async fn login_step(
    svc: &Services,
    id: &str,
    ix: &mut Interaction,
    cookies: BrowserCookies<'_>,
    form: LoginForm,
    now: i64,
) -> Result<StepResult, OAuthError> {
    let locale = ix.request.locale;
    let mut new_session = None;
    let session = match form.action.as_str() {
        "cancel" => return Err(OAuthError::new(ErrorCode::AccessDenied, "the person cancelled the sign-in")),
        "continue" => {
            // "Continue as …": only the session the page offered, and only while it lives.
            let current = load_session(svc, cookies.session, now).await?;
            match (current, &ix.session, &ix.stage) {
                (Some(cur), Some(offered), Stage::Login { offer_session: true }) if cur.sid == offered.sid => cur,
                _ => return Ok(Step::ErrorPage { status: 400, message: "interaction_expired".into(), locale }.into()),
            }
        }
        _ => {
            let username = form.username.trim().to_lowercase();
            let throttle_key = token_digest(&username);
            let failures = svc
                .ephemeral
                .get(Namespace::RateLimit, &throttle_key, now)
                .await
                .map_err(ephemeral_failed)?
                .and_then(|v| v.as_slice().try_into().ok().map(u64::from_be_bytes))
                .unwrap_or(0);
            if failures >= MAX_LOGIN_FAILURES {
                metrics::counter!(crate::telemetry::LOGINS, "outcome" => "throttled").increment(1);
                let view = view_of(svc, ix, Some(LoginError::TooManyAttempts), now).await?;
                return Ok(Step::Show { view, status: 429, locale }.into());
            }
            let found =
                if username.is_empty() { None } else { svc.store.find_login(&username).await.map_err(store_failed)? };
            let (person, hash) = match found {
                Some((p, h)) if p.status == PersonStatus::Active => (Some(p), h),
                _ => (None, None),
            };
            // Unknown accounts are checked against a dummy hash: same work, same answer.
            // A saturated hasher is "try again shortly" (503 + Retry-After), never "wrong".
            let Ok(ok) = svc.hasher.check(form.password, hash).await else {
                tracing::warn!(outcome = "busy", "sign-in refused: password hashing saturated");
                return Ok(unavailable(locale).into());
            };
            let Some(person) = person.filter(|_| ok) else {
                svc.ephemeral
                    .incr(Namespace::RateLimit, &throttle_key, LOGIN_WINDOW, now)
                    .await
                    .map_err(ephemeral_failed)?;
                tracing::info!(outcome = "failure", "sign-in");
                metrics::counter!(crate::telemetry::LOGINS, "outcome" => "failure").increment(1);
                let view = view_of(svc, ix, Some(LoginError::InvalidCredentials), now).await?;
                return Ok(Step::Show { view, status: 401, locale }.into());
            };
            // Officials with a confirmed second factor give it before any session starts.
            if super::stepup::has_second_factor(svc, &person.id).await? {
                tracing::info!(outcome = "password_ok", person = %person.id.0, "sign-in: second factor needed");
                ix.stage = Stage::SecondFactor { person_id: person.id.0.clone() };
                ix.session = None;
                svc.ephemeral
                    .put(Namespace::Interaction, id, encode(&*ix)?, svc.config.interaction_ttl, None, now)
                    .await
                    .map_err(ephemeral_failed)?;
                return Ok(Step::Next { id: id.to_owned() }.into());
            }
            tracing::info!(outcome = "success", person = %person.id.0, "sign-in");
            metrics::counter!(crate::telemetry::LOGINS, "outcome" => "success").increment(1);
            let (session, cookie) =
                start_session(svc, cookies.session, &person.id, acr::LOCAL_BASIC, vec!["pwd".to_owned()], now).await?;
            new_session = Some(cookie);
            session
        }
    };
    let step = after_authentication(svc, id, ix, session, now).await?;
    Ok(StepResult { step, new_session })
}

/// The second-factor form: a TOTP code or a recovery code for the person who passed the
/// password step. Success starts a session at `urn:vn:local:staff` with amr `pwd otp`.
async fn second_factor_step(
    svc: &Services,
    id: &str,
    ix: &mut Interaction,
    cookies: BrowserCookies<'_>,
    form: &LoginForm,
    person_id: String,
    now: i64,
) -> Result<StepResult, OAuthError> {
    use super::stepup::SecondFactorCheck;
    let locale = ix.request.locale;
    if form.action == "cancel" {
        return Err(OAuthError::new(ErrorCode::AccessDenied, "the person cancelled the sign-in"));
    }
    let person = PersonId(person_id);
    let active =
        svc.store.find_person(&person).await.map_err(store_failed)?.is_some_and(|p| p.status == PersonStatus::Active);
    if !active {
        return Ok(Step::ErrorPage { status: 400, message: "interaction_expired".into(), locale }.into());
    }
    match super::stepup::check_second_factor(svc, &person, form.otp.trim(), "signin.second_factor", now).await? {
        SecondFactorCheck::Throttled => {
            metrics::counter!(crate::telemetry::LOGINS, "outcome" => "throttled").increment(1);
            let view = view_of(svc, ix, Some(LoginError::TooManyAttempts), now).await?;
            Ok(Step::Show { view, status: 429, locale }.into())
        }
        SecondFactorCheck::Invalid => {
            tracing::info!(outcome = "failure", "sign-in: second factor");
            metrics::counter!(crate::telemetry::LOGINS, "outcome" => "failure").increment(1);
            let view = view_of(svc, ix, Some(LoginError::InvalidCode), now).await?;
            Ok(Step::Show { view, status: 401, locale }.into())
        }
        SecondFactorCheck::Totp | SecondFactorCheck::RecoveryCode => {
            tracing::info!(outcome = "success", person = %person.0, "sign-in with second factor");
            metrics::counter!(crate::telemetry::LOGINS, "outcome" => "success").increment(1);
            let amr = vec!["pwd".to_owned(), "otp".to_owned()];
            let (session, cookie) = start_session(svc, cookies.session, &person, acr::LOCAL_STAFF, amr, now).await?;
            let step = after_authentication(svc, id, ix, session, now).await?;
            Ok(StepResult { step, new_session: Some(cookie) })
        }
    }
}

/// Starts a new browser session for `person` (a new cookie value at every sign-in, so
/// no fixation; the old session, if any, ends). Returns the session and the cookie
/// value to set. Every way of authenticating (password, second factor, upstream e-ID)
/// ends here.
pub(crate) async fn start_session(
    svc: &Services,
    old_cookie: Option<&str>,
    person: &PersonId,
    achieved_acr: &str,
    amr: Vec<String>,
    now: i64,
) -> Result<(BrowserSession, String), OAuthError> {
    if let Some(old) = old_cookie {
        svc.ephemeral.delete(Namespace::Session, &token_digest(old)).await.map_err(ephemeral_failed)?;
    }
    let session = BrowserSession {
        sid: random_token(),
        person_id: person.0.clone(),
        auth_time: now,
        acr: achieved_acr.to_owned(),
        amr,
        acting_for: None,
        context_chosen: false,
        upstream: None,
    };
    let cookie = random_token();
    svc.ephemeral
        .put(Namespace::Session, &token_digest(&cookie), encode(&session)?, svc.config.session_ttl, None, now)
        .await
        .map_err(ephemeral_failed)?;
    Ok((session, cookie))
}

/// Stores a changed browser session under its cookie for the rest of its lifetime.
pub(crate) async fn save_session(
    svc: &Services,
    cookie: &str,
    session: &BrowserSession,
    now: i64,
) -> Result<(), OAuthError> {
    let left = (session.auth_time + svc.config.session_ttl - now).max(1);
    svc.ephemeral
        .put(Namespace::Session, &token_digest(cookie), encode(session)?, left, None, now)
        .await
        .map_err(ephemeral_failed)
}

/// What follows any authentication inside an interaction: check the achieved context
/// against what the request demands, then consent (remembered or asked), then the code.
pub(crate) async fn after_authentication(
    svc: &Services,
    id: &str,
    ix: &mut Interaction,
    session: BrowserSession,
    now: i64,
) -> Result<Step, OAuthError> {
    let fresh = session.auth_time == now
        || crate::protocol::prompt::is_fresh(session.auth_time, ix.request.freshness_max_age(), now);
    check_achieved(&session.acr, fresh, &ix.request.acr_demand())?;
    let choices = context_choices(svc, &session.person_id, &ix.request.client_id, now).await?;
    if !choices.is_empty() && (!session.context_chosen || ix.request.prompt.select_account) {
        ix.stage = Stage::ChooseContext;
        ix.session = Some(session);
        svc.ephemeral
            .put(Namespace::Interaction, id, encode(&*ix)?, svc.config.interaction_ttl, None, now)
            .await
            .map_err(ephemeral_failed)?;
        return Ok(Step::Next { id: id.to_owned() });
    }
    let session = settle_context(session, &choices);
    consent_or_code(svc, id, ix, session, now).await
}

/// The representations `person` may act through at `client_id` now, with their
/// organisations (in force, organisation active, scope covering the client).
pub(crate) async fn context_choices(
    svc: &Services,
    person: &str,
    client_id: &str,
    now: i64,
) -> Result<Vec<(crate::identity::Representation, crate::identity::Organisation)>, OAuthError> {
    let all = svc.store.representations_of_person(&PersonId(person.to_owned()), now).await.map_err(store_failed)?;
    Ok(all.into_iter().filter(|(r, o)| r.is_active_at(now) && o.is_active() && r.covers(client_id)).collect())
}

/// Keeps the session's chosen context only while it is still one of `choices` (in
/// force and covering this client); otherwise the person acts for themselves.
pub(crate) fn settle_context(
    mut session: BrowserSession,
    choices: &[(crate::identity::Representation, crate::identity::Organisation)],
) -> BrowserSession {
    if let Some(rep) = &session.acting_for
        && !choices.iter().any(|(r, _)| &r.id.0 == rep)
    {
        session.acting_for = None;
    }
    session
}

/// The last steps of an interaction: consent (remembered or asked), then the code.
async fn consent_or_code(
    svc: &Services,
    id: &str,
    ix: &mut Interaction,
    session: BrowserSession,
    now: i64,
) -> Result<Step, OAuthError> {
    let remembered = svc
        .store
        .find_consent(&PersonId(session.person_id.clone()), &ix.request.client_id)
        .await
        .map_err(store_failed)?;
    // The account area is the provider itself (`openid` only, nothing leaves): no consent.
    let first_party = ix.request.client_id == super::account_console::CLIENT_ID;
    Ok(if !first_party && consent_needed(ix.request.prompt, remembered.as_ref(), &ix.request.consent_items()) {
        ix.stage = Stage::Consent;
        ix.session = Some(session);
        svc.ephemeral
            .put(Namespace::Interaction, id, encode(&*ix)?, svc.config.interaction_ttl, None, now)
            .await
            .map_err(ephemeral_failed)?;
        Step::Next { id: id.to_owned() }
    } else {
        svc.ephemeral.delete(Namespace::Interaction, id).await.map_err(ephemeral_failed)?;
        Step::Respond(issue_code(svc, &ix.request, &session, now).await?)
    })
}

/// POST of the context picker: `context` is `self` or one representation id on offer.
/// The choice is kept in the browser session (so single sign-on to other clients
/// keeps it), audited, and the interaction goes on to consent or the code.
pub async fn submit_context(
    svc: &Services,
    id: &str,
    cookies: BrowserCookies<'_>,
    csrf: &str,
    choice: &str,
    now: i64,
) -> Step {
    let mut ix = match load(svc, id, cookies.browser, now).await {
        Ok(Ok(ix)) => ix,
        Ok(Err(step)) => return step,
        Err(_) => return unavailable(Locale::Vi),
    };
    let locale = ix.request.locale;
    if ix.stage != Stage::ChooseContext || !constant_time_eq(csrf.as_bytes(), ix.csrf.as_bytes()) {
        return Step::ErrorPage { status: 403, message: "csrf".into(), locale };
    }
    let result = async {
        let Some(offered) = ix.session.clone() else { return Ok(expired(locale)) };
        // The picker belongs to the session that is still in this browser.
        let Some(cookie) = cookies.session else { return Ok(expired(locale)) };
        match load_session(svc, Some(cookie), now).await? {
            Some(current) if current.sid == offered.sid => {}
            _ => return Ok(expired(locale)),
        }
        let choices = context_choices(svc, &offered.person_id, &ix.request.client_id, now).await?;
        let acting_for = match choice {
            "self" => None,
            rep => match choices.iter().find(|(r, _)| r.id.0 == rep) {
                Some((r, _)) => Some(r.id.0.clone()),
                None => {
                    super::audit(svc, now, format!("person:{}", offered.person_id), "context.choose", None, "refused")
                        .await;
                    return Ok(Step::ErrorPage { status: 400, message: "context_unavailable".into(), locale });
                }
            },
        };
        let org = acting_for
            .as_ref()
            .and_then(|rep| choices.iter().find(|(r, _)| &r.id.0 == rep))
            .map(|(_, o)| o.id.0.clone());
        let session = BrowserSession { acting_for, context_chosen: true, ..offered };
        save_session(svc, cookie, &session, now).await?;
        super::audit(
            svc,
            now,
            format!("person:{}", session.person_id),
            "context.choose",
            Some(org.map_or_else(|| "self".to_owned(), |o| format!("org:{o}"))),
            "success",
        )
        .await;
        consent_or_code(svc, id, &mut ix, session, now).await
    }
    .await;
    match result {
        Ok(step) => step,
        Err(e) if e.code == ErrorCode::TemporarilyUnavailable => unavailable(locale),
        Err(e) => {
            let _ = svc.ephemeral.delete(Namespace::Interaction, id).await;
            finish_with_error(svc, &ix, &e)
        }
    }
}

/// POST of the consent form: `allow` remembers the consent and finishes with a code,
/// anything else ends with `access_denied`.
pub async fn submit_consent(svc: &Services, id: &str, browser: &str, csrf: &str, allow: bool, now: i64) -> Step {
    let ix = match load(svc, id, browser, now).await {
        Ok(Ok(ix)) => ix,
        Ok(Err(step)) => return step,
        Err(_) => return unavailable(Locale::Vi),
    };
    let locale = ix.request.locale;
    if ix.stage != Stage::Consent || !constant_time_eq(csrf.as_bytes(), ix.csrf.as_bytes()) {
        return Step::ErrorPage { status: 403, message: "csrf".into(), locale };
    }
    let Some(session) = ix.session.clone() else { return expired(locale) };
    // Single use: whatever the answer, this interaction ends here.
    if svc.ephemeral.delete(Namespace::Interaction, id).await.is_err() {
        return unavailable(locale);
    }
    if !allow {
        return finish_with_error(
            svc,
            &ix,
            &OAuthError::new(ErrorCode::AccessDenied, "the person did not approve the request"),
        );
    }
    let result = async {
        // The consent is remembered together with its receipt (one transaction).
        super::consents::record_with_receipt(svc, &ix.request, &session, now).await?;
        issue_code(svc, &ix.request, &session, now).await
    }
    .await;
    match result {
        Ok(r) => Step::Respond(r),
        Err(e) if e.code == ErrorCode::TemporarilyUnavailable => unavailable(locale),
        Err(e) => finish_with_error(svc, &ix, &e),
    }
}
