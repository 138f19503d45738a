//! The authorization endpoint: validate the request (page errors until client and
//! redirect URI are known, redirected errors after), then use the browser session, or
//! start a login/consent interaction, or answer `prompt=none` with an error.

use serde::{Deserialize, Serialize};

use super::issue::{error_response, issue_code};
use super::{BrowserSession, Services, decode, encode, ephemeral_failed, store_failed};
use crate::crypto::jwt;
use crate::crypto::opaque::{random_token, token_digest};
use crate::ephemeral::Namespace;
use crate::identity::PersonId;
use crate::protocol::authorize::{self, AuthorizeRequest, Locale, Policy};
use crate::protocol::client::Client;
use crate::protocol::params::Params;
use crate::protocol::prompt::{AuthnRequirements, LoginDecision, SessionView, consent_needed, decide_login};
use crate::protocol::redirect_uri::AuthorizationResponse;
use crate::protocol::{ErrorCode, OAuthError};

/// Which step an interaction is at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Stage {
    /// Show the login page.
    Login {
        /// Offer "continue as …" with the current session.
        offer_session: bool,
    },
    /// Show the consent page for the authenticated session.
    Consent,
    /// The person represents organisations: ask whom they act for in this session
    /// (themselves or one organisation).
    ChooseContext,
    /// The password was right; ask for the person's second factor (TOTP or a recovery
    /// code) before a session starts.
    SecondFactor {
        /// Who passed the first factor.
        person_id: String,
    },
}

/// A login/consent interaction in progress, stored ephemerally under its id.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Interaction {
    /// The validated request being served.
    pub request: AuthorizeRequest,
    /// CSRF token expected in every form post.
    pub csrf: String,
    /// Digest of the browser cookie that started it: another browser cannot continue it.
    pub browser_digest: String,
    /// Current step.
    pub stage: Stage,
    /// The session established (or chosen) so far.
    pub session: Option<BrowserSession>,
}

impl Interaction {
    /// The strongest authentication context the request demands, the client minimum
    /// included (`None`: anything). A sign-in method that can choose its strength (the
    /// upstream e-ID broker) asks for this one; `after_authentication` then checks what
    /// was achieved.
    pub fn required_acr(&self) -> Option<&'static str> {
        self.request.required_acr()
    }
}

/// What the HTTP layer should do.
#[derive(Debug)]
pub enum AuthorizeOutcome {
    /// Answer the client (code or error).
    Respond(AuthorizationResponse),
    /// Send the browser to the interaction page.
    Interact {
        /// Interaction id.
        id: String,
    },
    /// Show an error page; never redirect (client or redirect URI not validated).
    ErrorPage {
        /// HTTP status.
        status: u16,
        /// What went wrong, for the person.
        message: String,
        /// Page language.
        locale: Locale,
    },
}

/// Cookies the authorization request arrived with.
#[derive(Debug, Clone, Copy, Default)]
pub struct BrowserCookies<'a> {
    /// The SSO session cookie.
    pub session: Option<&'a str>,
    /// The browser binding cookie (always set by the HTTP layer before calling).
    pub browser: &'a str,
}

/// Loads the browser session named by a session cookie.
pub async fn load_session(
    svc: &Services,
    cookie: Option<&str>,
    now: i64,
) -> Result<Option<BrowserSession>, OAuthError> {
    let Some(cookie) = cookie else { return Ok(None) };
    let raw = svc.ephemeral.get(Namespace::Session, &token_digest(cookie), now).await.map_err(ephemeral_failed)?;
    Ok(raw.and_then(|r| decode(&r)))
}

/// Handles an authorization request.
pub async fn authorize(svc: &Services, params: &Params, cookies: BrowserCookies<'_>, now: i64) -> AuthorizeOutcome {
    let locale = Locale::from_ui_locales(params.get("ui_locales").ok().flatten());
    let page = |status: u16, message: String| AuthorizeOutcome::ErrorPage { status, message, locale };
    let client_id = match authorize::client_id(params) {
        Ok(id) => id,
        Err(e) => return page(400, e.0),
    };
    let client = match svc.clients.get(svc.store.as_ref(), client_id, now).await {
        Ok(Some(c)) => c.client,
        Ok(None) => return page(400, "the client is not registered".into()),
        Err(e) => {
            let _ = store_failed(e);
            return page(503, "the service is temporarily unavailable".into());
        }
    };
    let target = match authorize::check_target(params, &client) {
        Ok(t) => t,
        Err(e) => return page(400, e.0),
    };
    let respond_error = |e: OAuthError| AuthorizeOutcome::Respond(error_response(&svc.config.issuer, &target, &e));
    let request = match authorize::parse_request(
        params,
        &client,
        target.clone(),
        Policy { require_pkce: svc.config.require_pkce },
    ) {
        Ok(r) => r,
        Err(e) => return respond_error(e),
    };
    match continue_request(svc, &client, request, cookies, now).await {
        Ok(outcome) => outcome,
        Err(e) => respond_error(e),
    }
}

async fn continue_request(
    svc: &Services,
    client: &Client,
    request: AuthorizeRequest,
    cookies: BrowserCookies<'_>,
    now: i64,
) -> Result<AuthorizeOutcome, OAuthError> {
    let session = load_session(svc, cookies.session, now).await?;
    let hint_sub = match &request.id_token_hint {
        Some(hint) => Some(verify_id_token_hint(svc, client, hint)?),
        None => None,
    };
    let hint_matches = |s: &BrowserSession| {
        hint_sub.as_ref().is_none_or(|sub| *sub == svc.subject_for(client, &PersonId(s.person_id.clone())))
    };
    let demand = request.acr_demand();
    let view =
        session.as_ref().map(|s| SessionView { auth_time: s.auth_time, acr: &s.acr, hint_matches: hint_matches(s) });
    let decision = decide_login(
        AuthnRequirements { prompt: request.prompt, max_age: request.freshness_max_age(), acr: &demand },
        view,
        now,
    );
    // A new authentication is needed: if no way of signing in here can reach what is
    // demanded (essential or client minimum), say so now rather than after a login.
    if decision != LoginDecision::UseSession && !demand.reachable(&super::stepup::reachable_acr(svc)) {
        return Err(OAuthError::new(
            ErrorCode::UnmetAuthenticationRequirements,
            "the required authentication context cannot be reached here",
        ));
    }
    match decision {
        LoginDecision::Fail(e) => Err(e),
        LoginDecision::Login { offer_session } => {
            let session = if offer_session { session } else { None };
            start_interaction(svc, request, Stage::Login { offer_session }, session, cookies.browser, now).await
        }
        LoginDecision::UseSession => {
            let Some(session) = session else { return Err(OAuthError::server_error()) };
            // The organisation context: a client asking for `org` from a session that never
            // chose one, while the person represents someone here, gets the picker.
            let session = if session.acting_for.is_some() || request.scope.contains("org") {
                let choices =
                    super::interaction::context_choices(svc, &session.person_id, &client.client_id, now).await?;
                if !session.context_chosen && !choices.is_empty() && request.scope.contains("org") {
                    if request.prompt.none {
                        return Err(OAuthError::new(
                            ErrorCode::AccountSelectionRequired,
                            "the person must choose whom they act for",
                        ));
                    }
                    return start_interaction(svc, request, Stage::ChooseContext, Some(session), cookies.browser, now)
                        .await;
                }
                super::interaction::settle_context(session, &choices)
            } else {
                session
            };
            let remembered = svc
                .store
                .find_consent(&PersonId(session.person_id.clone()), &client.client_id)
                .await
                .map_err(store_failed)?;
            if consent_needed(request.prompt, remembered.as_ref(), &request.consent_items()) {
                if request.prompt.none {
                    return Err(OAuthError::new(ErrorCode::ConsentRequired, "the person must approve this client"));
                }
                return start_interaction(svc, request, Stage::Consent, Some(session), cookies.browser, now).await;
            }
            Ok(AuthorizeOutcome::Respond(issue_code(svc, &request, &session, now).await?))
        }
    }
}

/// OIDC Core §3.1.2.1: the hint must be an ID token we issued to this client (expired is
/// fine). Returns its `sub`.
fn verify_id_token_hint(svc: &Services, client: &Client, hint: &str) -> Result<String, OAuthError> {
    let invalid = || OAuthError::invalid_request("id_token_hint is not an ID token issued to this client");
    let v = jwt::verify(&svc.keys, hint, Some(jwt::TYP_JWT)).map_err(|_| invalid())?;
    if v.claims["iss"].as_str() != Some(svc.config.issuer.as_str()) {
        return Err(invalid());
    }
    let aud_ok = match &v.claims["aud"] {
        serde_json::Value::String(a) => *a == client.client_id,
        serde_json::Value::Array(a) => a.iter().any(|x| x.as_str() == Some(client.client_id.as_str())),
        _ => false,
    };
    if !aud_ok {
        return Err(invalid());
    }
    v.claims["sub"].as_str().map(str::to_owned).ok_or_else(invalid)
}

async fn start_interaction(
    svc: &Services,
    request: AuthorizeRequest,
    stage: Stage,
    session: Option<BrowserSession>,
    browser: &str,
    now: i64,
) -> Result<AuthorizeOutcome, OAuthError> {
    let id = random_token();
    let interaction =
        Interaction { request, csrf: random_token(), browser_digest: token_digest(browser), stage, session };
    svc.ephemeral
        .put(Namespace::Interaction, &id, encode(&interaction)?, svc.config.interaction_ttl, None, now)
        .await
        .map_err(ephemeral_failed)?;
    Ok(AuthorizeOutcome::Interact { id })
}
