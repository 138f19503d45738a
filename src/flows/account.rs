//! The person's own security page: enrol a TOTP second factor (secret shown once as a QR
//! code and a manual key, confirmed with one code, then ten recovery codes shown once),
//! or disable it with a current code. Only for a signed-in person with a local password
//! account who authenticated with the password recently; otherwise the page asks them to
//! sign in again (password, and the second factor when one is enrolled). Every change is
//! audited. Forms carry a CSRF token bound to the browser cookie.

use super::authorize::load_session;
use super::interaction::{LOGIN_WINDOW, MAX_LOGIN_FAILURES, start_session};
use super::stepup::{SecondFactorCheck, check_second_factor, has_second_factor};
use super::{Services, audit, ephemeral_failed, store_failed};
use crate::crypto::opaque::token_digest;
use crate::crypto::{constant_time_eq, totp};
use crate::ephemeral::Namespace;
use crate::identity::{PersonId, PersonStatus};
use crate::protocol::OAuthError;
use crate::protocol::acr;

/// How recent the password authentication must be to change second factors (s).
pub const REAUTH_WINDOW: i64 = 5 * 60;

/// Why a page is shown again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountError {
    /// Username or password is wrong.
    InvalidCredentials,
    /// The code is wrong, used, or expired (or missing while one is enrolled).
    InvalidCode,
    /// Too many failures; try later.
    TooManyAttempts,
}

/// A page of the account area.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountView {
    /// Sign in again (password, and the code when a second factor is enrolled).
    SignIn {
        /// CSRF token.
        csrf: String,
        /// Error to show.
        error: Option<AccountError>,
    },
    /// Not enrolled: scan this secret, confirm with one code.
    Enrol {
        /// CSRF token.
        csrf: String,
        /// The secret in base32, to type in by hand.
        manual_key: String,
        /// The `otpauth://` URI, rendered as a QR code.
        otpauth_uri: String,
        /// Error to show.
        error: Option<AccountError>,
    },
    /// Enrolled: may be disabled with a current code.
    Enrolled {
        /// CSRF token.
        csrf: String,
        /// Unused recovery codes.
        recovery_codes_left: i64,
        /// Error to show.
        error: Option<AccountError>,
    },
    /// Enrolment confirmed: the recovery codes, shown this once.
    RecoveryCodes {
        /// The codes.
        codes: Vec<String>,
    },
}

/// What the HTTP layer should do.
#[derive(Debug)]
pub enum AccountStep {
    /// Render a page.
    Show {
        /// The page.
        view: AccountView,
        /// HTTP status.
        status: u16,
    },
    /// Send the browser to `location` (303).
    Redirect {
        /// Where.
        location: &'static str,
        /// A new session cookie value to set, after a sign-in.
        new_session: Option<String>,
    },
    /// An error page.
    ErrorPage {
        /// HTTP status.
        status: u16,
        /// Message key or text.
        message: String,
    },
}

/// A posted account form.
#[derive(Debug, Default)]
pub struct AccountForm {
    /// CSRF token.
    pub csrf: String,
    /// `confirm` or `disable` on the security page.
    pub action: String,
    /// Username (sign-in).
    pub username: String,
    /// Password (sign-in).
    pub password: String,
    /// A TOTP or recovery code.
    pub otp: String,
}

/// Where the account sign-in lives.
pub const SIGN_IN_PATH: &str = "/account/login";
/// Where the security page lives.
pub const SECURITY_PATH: &str = "/account/security";

/// The CSRF token of the account forms for this browser: a digest of the (HttpOnly,
/// random) browser cookie, so another site can neither read nor compute it.
pub fn csrf_token(browser: &str) -> String {
    token_digest(&format!("account-csrf:{browser}"))
}

fn csrf_ok(form: &AccountForm, browser: &str) -> bool {
    constant_time_eq(form.csrf.as_bytes(), csrf_token(browser).as_bytes())
}

fn unavailable() -> AccountStep {
    AccountStep::ErrorPage { status: 503, message: "temporarily_unavailable".into() }
}

fn sign_in() -> AccountStep {
    AccountStep::Redirect { location: SIGN_IN_PATH, new_session: None }
}

/// The signed-in person, if their session authenticated with a password within
/// [`REAUTH_WINDOW`] and they have a local password account.
async fn fresh_person(svc: &Services, session_cookie: Option<&str>, now: i64) -> Result<Option<PersonId>, OAuthError> {
    let Some(s) = load_session(svc, session_cookie, now).await? else { return Ok(None) };
    if !s.amr.iter().any(|m| m == "pwd") || now.saturating_sub(s.auth_time) > REAUTH_WINDOW {
        return Ok(None);
    }
    let person = PersonId(s.person_id);
    let Some(p) = svc.store.find_person(&person).await.map_err(store_failed)? else { return Ok(None) };
    let Some(username) = p.username.filter(|_| p.status == PersonStatus::Active) else { return Ok(None) };
    let has_password = svc.store.find_login(&username).await.map_err(store_failed)?.is_some_and(|(_, h)| h.is_some());
    Ok(has_password.then_some(person))
}

async fn security_view(
    svc: &Services,
    person: &PersonId,
    browser: &str,
    error: Option<AccountError>,
    now: i64,
) -> Result<AccountView, OAuthError> {
    let csrf = csrf_token(browser);
    let existing = svc.store.totp_credential(person).await.map_err(store_failed)?;
    if existing.as_ref().is_some_and(|c| c.confirmed_at.is_some()) {
        let recovery_codes_left = svc.store.recovery_codes_left(person).await.map_err(store_failed)?;
        return Ok(AccountView::Enrolled { csrf, recovery_codes_left, error });
    }
    // Pending: show the same secret again; none yet: make one.
    let secret = match existing.and_then(|c| totp::open_secret(&svc.kek, &person.0, &c.sealed_secret)) {
        Some(s) => s,
        None => {
            let s = totp::new_secret();
            let sealed = totp::seal_secret(&svc.kek, &person.0, &s).map_err(|_| OAuthError::server_error())?;
            svc.store.put_pending_totp(person, &sealed, now).await.map_err(store_failed)?;
            s
        }
    };
    let account =
        svc.store.find_person(person).await.map_err(store_failed)?.and_then(|p| p.username).unwrap_or_default();
    let issuer =
        url::Url::parse(&svc.config.issuer).ok().and_then(|u| u.host_str().map(str::to_owned)).unwrap_or_default();
    Ok(AccountView::Enrol {
        csrf,
        manual_key: totp::base32(&secret),
        otpauth_uri: totp::otpauth_uri(&issuer, &account, &secret),
        error,
    })
}

/// GET of the security page.
pub async fn security_page(svc: &Services, session_cookie: Option<&str>, browser: &str, now: i64) -> AccountStep {
    let run = async {
        let Some(person) = fresh_person(svc, session_cookie, now).await? else { return Ok(sign_in()) };
        Ok(AccountStep::Show { view: security_view(svc, &person, browser, None, now).await?, status: 200 })
    };
    run.await.unwrap_or_else(|_: OAuthError| unavailable())
}

/// POST of the security page: `confirm` (enrolment, with a code of the shown secret) or
/// `disable` (with a current code or a recovery code).
pub async fn security_submit(
    svc: &Services,
    session_cookie: Option<&str>,
    browser: &str,
    form: AccountForm,
    now: i64,
) -> AccountStep {
    if !csrf_ok(&form, browser) {
        return AccountStep::ErrorPage { status: 403, message: "csrf".into() };
    }
    let run = async {
        let Some(person) = fresh_person(svc, session_cookie, now).await? else { return Ok(sign_in()) };
        let actor = format!("person:{}", person.0);
        match form.action.as_str() {
            "confirm" => {
                let cred = svc.store.totp_credential(&person).await.map_err(store_failed)?;
                let pending = cred.filter(|c| c.confirmed_at.is_none());
                let secret = pending.and_then(|c| totp::open_secret(&svc.kek, &person.0, &c.sealed_secret));
                let step = secret.and_then(|s| totp::check(&s, form.otp.trim(), now));
                let Some(step) = step else {
                    audit(svc, now, actor, "account.totp.enrol", Some(person.0.clone()), "failure").await;
                    let view = security_view(svc, &person, browser, Some(AccountError::InvalidCode), now).await?;
                    return Ok(AccountStep::Show { view, status: 401 });
                };
                let codes: Vec<String> = (0..totp::RECOVERY_CODES).map(|_| totp::new_recovery_code()).collect();
                let digests: Vec<String> = codes.iter().map(|c| totp::recovery_digest(c)).collect();
                if !svc.store.confirm_totp(&person, step, &digests, now).await.map_err(store_failed)? {
                    return Ok(AccountStep::Redirect { location: SECURITY_PATH, new_session: None });
                }
                audit(svc, now, actor, "account.totp.enrol", Some(person.0.clone()), "success").await;
                Ok(AccountStep::Show { view: AccountView::RecoveryCodes { codes }, status: 200 })
            }
            "disable" => match check_second_factor(svc, &person, form.otp.trim(), "account.totp.disable", now).await? {
                SecondFactorCheck::Totp | SecondFactorCheck::RecoveryCode => {
                    svc.store.delete_totp(&person).await.map_err(store_failed)?;
                    audit(svc, now, actor, "account.totp.disabled", Some(person.0.clone()), "success").await;
                    Ok(AccountStep::Redirect { location: SECURITY_PATH, new_session: None })
                }
                outcome => {
                    let (error, status) = if outcome == SecondFactorCheck::Throttled {
                        (AccountError::TooManyAttempts, 429)
                    } else {
                        (AccountError::InvalidCode, 401)
                    };
                    let view = security_view(svc, &person, browser, Some(error), now).await?;
                    Ok(AccountStep::Show { view, status })
                }
            },
            _ => Ok(AccountStep::ErrorPage { status: 400, message: "unknown action".into() }),
        }
    };
    run.await.unwrap_or_else(|_: OAuthError| unavailable())
}

/// GET of the account sign-in page.
pub fn sign_in_page(browser: &str) -> AccountStep {
    AccountStep::Show { view: AccountView::SignIn { csrf: csrf_token(browser), error: None }, status: 200 }
}

/// POST of the account sign-in: password (throttled per username like the login page),
/// and the second factor when one is enrolled. Success starts a new session and goes to
/// the security page.
pub async fn sign_in_submit(
    svc: &Services,
    session_cookie: Option<&str>,
    browser: &str,
    form: AccountForm,
    now: i64,
) -> AccountStep {
    if !csrf_ok(&form, browser) {
        return AccountStep::ErrorPage { status: 403, message: "csrf".into() };
    }
    let again = |error, status| AccountStep::Show {
        view: AccountView::SignIn { csrf: csrf_token(browser), error: Some(error) },
        status,
    };
    let run = async {
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
            return Ok(again(AccountError::TooManyAttempts, 429));
        }
        let found =
            if username.is_empty() { None } else { svc.store.find_login(&username).await.map_err(store_failed)? };
        let (person, hash) = match found {
            Some((p, h)) if p.status == PersonStatus::Active => (Some(p), h),
            _ => (None, None),
        };
        let Ok(ok) = svc.hasher.check(form.password.clone(), hash).await else { return Ok(unavailable()) };
        let Some(person) = person.filter(|_| ok) else {
            svc.ephemeral
                .incr(Namespace::RateLimit, &throttle_key, LOGIN_WINDOW, now)
                .await
                .map_err(ephemeral_failed)?;
            return Ok(again(AccountError::InvalidCredentials, 401));
        };
        let (level, amr) = if has_second_factor(svc, &person.id).await? {
            match check_second_factor(svc, &person.id, form.otp.trim(), "account.signin.second_factor", now).await? {
                SecondFactorCheck::Totp | SecondFactorCheck::RecoveryCode => {
                    (acr::LOCAL_STAFF, vec!["pwd".to_owned(), "otp".to_owned()])
                }
                SecondFactorCheck::Throttled => return Ok(again(AccountError::TooManyAttempts, 429)),
                SecondFactorCheck::Invalid => return Ok(again(AccountError::InvalidCode, 401)),
            }
        } else {
            (acr::LOCAL_BASIC, vec!["pwd".to_owned()])
        };
        let (_, cookie) = start_session(svc, session_cookie, &person.id, level, amr, now).await?;
        Ok(AccountStep::Redirect { location: SECURITY_PATH, new_session: Some(cookie) })
    };
    run.await.unwrap_or_else(|_: OAuthError| unavailable())
}
