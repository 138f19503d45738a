//! Signing in through an upstream identity provider (the national e-ID): we are its
//! relying party, and every sign-in ends like a password sign-in — a new session, then
//! `interaction::after_authentication`.
//!
//! 1. [`start`]: from the login page of an interaction, remember a broker state (random
//!    `state`, `nonce`, PKCE verifier, the interaction, the browser, the level needed) in
//!    the ephemeral store and send the browser to the upstream's authorization endpoint.
//! 2. [`callback`]: consume that state once, exchange the code through the SSRF-guarded
//!    `outbound` client, validate the ID token
//!    ([`validate_id_token`]: signature with the upstream JWKS, algorithm, `iss`, `aud`,
//!    `azp`, times, `nonce`), read userinfo, map the claims
//!    (`protocol::upstream::map_claims`), then create or update the
//!    linked person, set the assurance, and start the session with the level the
//!    upstream vouched for (never higher).
//!
//! 3. [`logout_redirect`] / [`logged_out`]: when a person who signed in through an
//!    upstream signs out here, the browser goes on to the upstream's end-session endpoint
//!    (RP-Initiated Logout, with the upstream's ID token as `id_token_hint`) and comes
//!    back to `/broker/logged-out`, then to where the client asked.
//! 4. [`backchannel_logout`]: when the person signs out at the upstream, its logout token
//!    (Back-Channel Logout 1.0) ends the sessions here that its `sid` or `sub` started,
//!    with the usual logout to every client of those sessions.
//!
//! Nothing is written before every check has passed; every outcome is audited (reasons,
//! never personal numbers).

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::authorize::{Interaction, Stage};
use super::interaction::{Step, StepResult, after_authentication, start_session};
use super::issue::error_response;
use super::{BrowserSession, Services, UpstreamLogin, decode, encode};
use crate::config::upstream::{CALLBACK_PATH, LOGGED_OUT_PATH, UpstreamAuthMethod, UpstreamConfig, UpstreamEndpoints};
use crate::crypto::constant_time_eq;
use crate::crypto::opaque::{random_token, token_digest};
use crate::ephemeral::{Namespace, Taken};
use crate::identity::{AssuranceLevel, AssuranceSource, Evidence, Person, PersonId, PersonStatus};
use crate::outbound::{self, Credentials, FetchError, FetchLimits};
use crate::protocol::authorize::Locale;
use crate::protocol::upstream::{
    AccountType, IdTokenError, IdTokenRules, MappingError, UpstreamIdentity, check_id_token_claims, map_claims,
};
use crate::protocol::{ErrorCode, OAuthError, acr};
use crate::store::StoreError;

/// How long fetched discovery documents are trusted (s).
pub const DISCOVERY_TTL: i64 = 3600;
/// How long a fetched JWK Set is trusted (s); an unknown `kid` refetches sooner.
pub const JWKS_TTL: i64 = 300;
/// Least time between two refetches of one JWK Set for unknown keys (s).
pub const JWKS_REFETCH_INTERVAL: i64 = 10;

/// A sign-in in progress at an upstream, stored under the digest of its `state`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct BrokerState {
    upstream: String,
    interaction: String,
    browser_digest: String,
    nonce: String,
    verifier: String,
    level2: bool,
}

/// What the HTTP layer does after [`start`] or [`callback`].
#[derive(Debug)]
pub enum BrokerOutcome {
    /// Send the browser to the upstream (303).
    Upstream(String),
    /// An interaction step (page, next page, answer to the client), with a new session
    /// cookie after a sign-in.
    Step(StepResult),
}

impl From<Step> for BrokerOutcome {
    fn from(step: Step) -> Self {
        BrokerOutcome::Step(step.into())
    }
}

/// Error-page keys of the broker (texts in `http::broker`).
pub mod page {
    /// No such upstream.
    pub const UNKNOWN: &str = "broker_unknown_upstream";
    /// The callback's state is unknown or expired.
    pub const STATE: &str = "broker_state";
    /// The callback was already used.
    pub const REPLAYED: &str = "broker_replayed";
    /// The upstream did not answer in time.
    pub const TIMEOUT: &str = "broker_timeout";
    /// The upstream answered with an error or could not be reached.
    pub const UPSTREAM: &str = "broker_upstream";
    /// The upstream's answer failed validation.
    pub const INVALID: &str = "broker_invalid";
    /// The upstream's data about the person cannot be used.
    pub const CLAIMS: &str = "broker_claims";
    /// The personal number belongs to another account.
    pub const CONFLICT: &str = "broker_conflict";
    /// The account is disabled here.
    pub const DISABLED: &str = "broker_disabled";
}

fn error_page(status: u16, key: &str, locale: Locale) -> BrokerOutcome {
    Step::ErrorPage { status, message: key.to_owned(), locale }.into()
}

/// The upstream providers offered on the login page: `(id, display name)`.
pub fn buttons(svc: &Services) -> Vec<(String, String)> {
    svc.config.upstreams.iter().map(|u| (u.id.clone(), u.display_name.clone())).collect()
}

/// Our redirect URI at every upstream.
pub fn callback_url(svc: &Services) -> String {
    format!("{}{CALLBACK_PATH}", svc.config.issuer)
}

async fn audit(
    svc: &Services,
    now: i64,
    upstream: &str,
    action: &str,
    subject: Option<&PersonId>,
    outcome: &str,
    reason: &str,
) {
    let event = crate::audit::AuditEvent {
        at: now,
        actor: format!("upstream:{upstream}"),
        action: action.to_owned(),
        subject: subject.map(|p| p.0.clone()),
        outcome: outcome.to_owned(),
        detail: serde_json::json!({ "reason": reason }),
    };
    let _ = crate::audit::record(svc.store.as_ref(), event).await;
}

// ---------------------------------------------------------------- endpoints and keys

/// The endpoints of an upstream, from configuration or its discovery document.
#[derive(Debug, Clone)]
struct Endpoints {
    authorization: String,
    token: String,
    jwks_uri: String,
    userinfo: Option<String>,
    end_session: Option<String>,
}

#[derive(Default)]
struct Cache {
    discovery: HashMap<String, (Endpoints, i64)>,
    jwks: HashMap<String, (Value, i64)>,
}

/// Process-wide cache of discovery documents and JWK Sets, keyed by URL and expiring by
/// the request clock.
fn cache() -> &'static Mutex<Cache> {
    static CACHE: OnceLock<Mutex<Cache>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(Cache::default()))
}

async fn endpoints(u: &UpstreamConfig, limits: &FetchLimits, now: i64) -> Result<Endpoints, FetchError> {
    if let UpstreamEndpoints::Explicit {
        authorization_endpoint,
        token_endpoint,
        jwks_uri,
        userinfo_endpoint,
        end_session_endpoint,
    } = &u.endpoints
    {
        return Ok(Endpoints {
            authorization: authorization_endpoint.clone(),
            token: token_endpoint.clone(),
            jwks_uri: jwks_uri.clone(),
            userinfo: userinfo_endpoint.clone(),
            end_session: end_session_endpoint.clone(),
        });
    }
    if let Ok(c) = cache().lock()
        && let Some((e, until)) = c.discovery.get(&u.issuer)
        && *until > now
    {
        return Ok(e.clone());
    }
    let url = format!("{}/.well-known/openid-configuration", u.issuer.trim_end_matches('/'));
    let doc = outbound::fetch_json(&url, limits).await?;
    let field = |k: &str| doc.get(k).and_then(Value::as_str).map(str::to_owned);
    // OIDC Discovery §4.3: the document's issuer must be the one we asked.
    if field("issuer").as_deref() != Some(u.issuer.as_str()) {
        return Err(FetchError::BadUrl("the discovery document names another issuer".into()));
    }
    let (Some(authorization), Some(token), Some(jwks_uri)) =
        (field("authorization_endpoint"), field("token_endpoint"), field("jwks_uri"))
    else {
        return Err(FetchError::BadUrl("the discovery document lacks an endpoint".into()));
    };
    let e = Endpoints {
        authorization,
        token,
        jwks_uri,
        userinfo: field("userinfo_endpoint"),
        end_session: field("end_session_endpoint"),
    };
    if let Ok(mut c) = cache().lock() {
        c.discovery.insert(u.issuer.clone(), (e.clone(), now + DISCOVERY_TTL));
    }
    Ok(e)
}

/// The upstream's JWK Set: cached, or fetched when absent, stale, or (`refresh`) when a
/// token names a key the cached set lacks (at most every [`JWKS_REFETCH_INTERVAL`]).
async fn jwks(url: &str, refresh: bool, limits: &FetchLimits, now: i64) -> Result<Value, FetchError> {
    if let Ok(c) = cache().lock()
        && let Some((set, fetched)) = c.jwks.get(url)
    {
        let fresh = *fetched + JWKS_TTL > now;
        let may_refetch = *fetched + JWKS_REFETCH_INTERVAL <= now;
        if fresh && (!refresh || !may_refetch) {
            return Ok(set.clone());
        }
    }
    let set = outbound::fetch_json(url, limits).await?;
    if let Ok(mut c) = cache().lock() {
        c.jwks.insert(url.to_owned(), (set.clone(), now));
    }
    Ok(set)
}

/// Validates an upstream ID token against a JWK Set: signature with an allowed
/// algorithm, then the claims (`iss` exact, `aud`/`azp`, `exp`/`iat`/`nbf` with
/// [`ID_TOKEN_LEEWAY`](crate::protocol::upstream::ID_TOKEN_LEEWAY), `nonce`). Returns
/// the claims. No network: the caller supplies the keys.
pub fn validate_id_token(
    token: &str,
    jwks: &Value,
    allowed_algs: &[String],
    rules: &IdTokenRules<'_>,
) -> Result<Map<String, Value>, IdTokenError> {
    let claims = crate::crypto::upstream_jwt::verify(token, jwks, allowed_algs)
        .map_err(|e| IdTokenError::Signature(e.to_string()))?;
    let Value::Object(claims) = claims else { return Err(IdTokenError::Subject) };
    check_id_token_claims(&claims, rules)?;
    Ok(claims)
}

// ---------------------------------------------------------------- start

async fn load_interaction(
    svc: &Services,
    id: &str,
    browser: &str,
    now: i64,
) -> Result<Option<Interaction>, OAuthError> {
    let raw = svc.ephemeral.get(Namespace::Interaction, id, now).await.map_err(super::ephemeral_failed)?;
    Ok(raw
        .and_then(|r| decode::<Interaction>(&r))
        .filter(|ix| constant_time_eq(ix.browser_digest.as_bytes(), token_digest(browser).as_bytes())))
}

/// Whether the request needs level 2: an essential level-2 context, or (without
/// essentials) level 2 as the first preference of `acr_values` or the client default.
fn needs_level2(ix: &Interaction, client_default: &[String]) -> bool {
    let is2 = |v: &str| matches!(acr::canonical(v), Some(acr::EID_LOA2 | acr::EID_LOA2_FRESH));
    let essential = ix.request.essential_acr();
    if !essential.is_empty() {
        return essential.iter().any(|v| is2(v));
    }
    let preferred = ix.request.acr_values.first().or(client_default.first());
    preferred.is_some_and(|v| is2(v))
}

/// `POST` of an upstream button on the login page: checks the form, stores the broker
/// state and sends the browser to the upstream.
pub async fn start(
    svc: &Services,
    interaction_id: &str,
    upstream_id: &str,
    browser: &str,
    csrf: &str,
    now: i64,
) -> BrokerOutcome {
    let ix = match load_interaction(svc, interaction_id, browser, now).await {
        Ok(Some(ix)) => ix,
        Ok(None) => return error_page(400, "interaction_expired", Locale::Vi),
        Err(_) => return error_page(503, "temporarily_unavailable", Locale::Vi),
    };
    let locale = ix.request.locale;
    if !matches!(ix.stage, Stage::Login { .. }) || !constant_time_eq(csrf.as_bytes(), ix.csrf.as_bytes()) {
        return error_page(403, "csrf", locale);
    }
    let Some(u) = svc.config.upstreams.iter().find(|u| u.id == upstream_id) else {
        return error_page(404, page::UNKNOWN, locale);
    };
    let limits = FetchLimits::from_config(&svc.config);
    let ep = match endpoints(u, &limits, now).await {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!(upstream = %u.id, error = %e, "upstream discovery failed");
            let status = if e == FetchError::Timeout { 504 } else { 502 };
            return error_page(status, if status == 504 { page::TIMEOUT } else { page::UPSTREAM }, locale);
        }
    };
    let client_default = match svc.clients.get(svc.store.as_ref(), &ix.request.client_id, now).await {
        Ok(Some(c)) => c.client.default_acr_values,
        Ok(None) => Vec::new(),
        Err(_) => return error_page(503, "temporarily_unavailable", locale),
    };
    let level2 = needs_level2(&ix, &client_default);
    let fresh = ix.request.prompt.login
        || ix.request.max_age.is_some()
        || ix.request.essential_acr().contains(&acr::EID_LOA2_FRESH);
    let state = random_token();
    let record = BrokerState {
        upstream: u.id.clone(),
        interaction: interaction_id.to_owned(),
        browser_digest: token_digest(browser),
        nonce: random_token(),
        verifier: random_token(),
        level2,
    };
    let Ok(bytes) = encode(&record) else { return error_page(500, "temporarily_unavailable", locale) };
    if svc
        .ephemeral
        .put(Namespace::Broker, &token_digest(&state), bytes, svc.config.interaction_ttl, None, now)
        .await
        .is_err()
    {
        return error_page(503, "temporarily_unavailable", locale);
    }
    let Ok(mut url) = url::Url::parse(&ep.authorization) else { return error_page(502, page::UPSTREAM, locale) };
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("response_type", "code")
            .append_pair("client_id", &u.client_id)
            .append_pair("redirect_uri", &callback_url(svc))
            .append_pair("scope", &u.scopes.join(" "))
            .append_pair("state", &state)
            .append_pair("nonce", &record.nonce)
            // The verifier is a 43-character random token: its S256 challenge is its digest.
            .append_pair("code_challenge", &token_digest(&record.verifier))
            .append_pair("code_challenge_method", "S256")
            .append_pair("acr_values", if level2 { &u.acr_level2 } else { &u.acr_level1 });
        if fresh {
            q.append_pair("prompt", "login");
            if let Some(m) = ix.request.max_age {
                q.append_pair("max_age", &m.to_string());
            }
        }
        q.append_pair("ui_locales", if locale == Locale::En { "en" } else { "vi" });
    }
    tracing::info!(upstream = %u.id, level2, "sign-in sent upstream");
    BrokerOutcome::Upstream(url.to_string())
}

// ---------------------------------------------------------------- callback

/// The query of `GET /broker/callback`.
#[derive(Debug, Default)]
pub struct CallbackParams {
    /// `state`.
    pub state: Option<String>,
    /// `code`.
    pub code: Option<String>,
    /// `error`.
    pub error: Option<String>,
    /// RFC 9207 `iss`.
    pub iss: Option<String>,
}

/// Why a callback stopped, for the page, the audit and the client.
enum Failure {
    /// Show this page (status, key); the interaction stays so the person may retry.
    Page(u16, &'static str, &'static str),
    /// End the downstream request with this error.
    Client(OAuthError, &'static str),
}

/// `GET /broker/callback`: finishes the upstream sign-in (see the module doc).
pub async fn callback(
    svc: &Services,
    p: CallbackParams,
    browser: Option<&str>,
    session_cookie: Option<&str>,
    now: i64,
) -> BrokerOutcome {
    let Some(state) = p.state.as_deref().filter(|s| !s.is_empty() && s.len() <= 512) else {
        return error_page(400, page::STATE, Locale::Vi);
    };
    let record = match svc.ephemeral.take(Namespace::Broker, &token_digest(state), now).await {
        Ok(Taken::Fresh(bytes)) => decode::<BrokerState>(&bytes),
        Ok(Taken::Replayed(_)) => {
            tracing::warn!("upstream callback replayed");
            return error_page(400, page::REPLAYED, Locale::Vi);
        }
        Ok(_) => None,
        Err(_) => return error_page(503, "temporarily_unavailable", Locale::Vi),
    };
    let Some(record) = record else { return error_page(400, page::STATE, Locale::Vi) };
    let Some(browser) =
        browser.filter(|b| constant_time_eq(token_digest(b).as_bytes(), record.browser_digest.as_bytes()))
    else {
        return error_page(400, "interaction_expired", Locale::Vi);
    };
    let mut ix = match load_interaction(svc, &record.interaction, browser, now).await {
        Ok(Some(ix)) if matches!(ix.stage, Stage::Login { .. }) => ix,
        Ok(_) => return error_page(400, "interaction_expired", Locale::Vi),
        Err(_) => return error_page(503, "temporarily_unavailable", Locale::Vi),
    };
    let locale = ix.request.locale;
    let Some(u) = svc.config.upstreams.iter().find(|u| u.id == record.upstream) else {
        return error_page(404, page::UNKNOWN, locale);
    };
    match finish(svc, u, &record, &p, &mut ix, session_cookie, now).await {
        Ok(result) => BrokerOutcome::Step(result),
        Err(Failure::Page(status, key, reason)) => {
            audit(svc, now, &u.id, "upstream.sign_in", None, "failure", reason).await;
            tracing::info!(upstream = %u.id, reason, "upstream sign-in refused");
            error_page(status, key, locale)
        }
        Err(Failure::Client(e, reason)) => {
            audit(svc, now, &u.id, "upstream.sign_in", None, "failure", reason).await;
            if e.code == ErrorCode::TemporarilyUnavailable {
                return error_page(503, "temporarily_unavailable", locale);
            }
            let _ = svc.ephemeral.delete(Namespace::Interaction, &record.interaction).await;
            Step::Respond(error_response(&svc.config.issuer, &ix.request.target, &e)).into()
        }
    }
}

fn fetch_failure(e: &FetchError, reason: &'static str) -> Failure {
    match e {
        FetchError::Timeout => Failure::Page(504, page::TIMEOUT, reason),
        _ => Failure::Page(502, page::UPSTREAM, reason),
    }
}

#[allow(clippy::too_many_arguments)]
async fn finish(
    svc: &Services,
    u: &UpstreamConfig,
    record: &BrokerState,
    p: &CallbackParams,
    ix: &mut Interaction,
    session_cookie: Option<&str>,
    now: i64,
) -> Result<StepResult, Failure> {
    // RFC 9207: an answer that names another issuer is a mix-up.
    if p.iss.as_deref().is_some_and(|i| i != u.issuer) {
        return Err(Failure::Page(400, page::INVALID, "iss parameter is another issuer"));
    }
    if let Some(err) = p.error.as_deref() {
        tracing::info!(upstream = %u.id, error = %err.chars().take(64).collect::<String>(), "upstream answered an error");
        return Err(match err {
            "login_required" | "interaction_required" | "consent_required" | "account_selection_required" => {
                Failure::Client(
                    OAuthError::new(ErrorCode::LoginRequired, "the national e-ID sign-in did not complete"),
                    "upstream login_required",
                )
            }
            "temporarily_unavailable" | "server_error" => Failure::Page(502, page::UPSTREAM, "upstream error"),
            _ => Failure::Client(
                OAuthError::new(ErrorCode::AccessDenied, "the national e-ID sign-in was cancelled or refused"),
                "upstream access_denied",
            ),
        });
    }
    let Some(code) = p.code.as_deref().filter(|c| !c.is_empty() && c.len() <= 2048) else {
        return Err(Failure::Page(400, page::INVALID, "no code"));
    };
    let limits = FetchLimits::from_config(&svc.config);
    let ep = endpoints(u, &limits, now).await.map_err(|e| fetch_failure(&e, "discovery failed"))?;
    let redirect_uri = callback_url(svc);
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri.as_str()),
        ("code_verifier", record.verifier.as_str()),
        ("client_id", u.client_id.as_str()),
    ];
    let credentials = match u.auth_method {
        UpstreamAuthMethod::ClientSecretBasic => {
            Credentials::Basic { user: &u.client_id, password: u.client_secret.expose() }
        }
        UpstreamAuthMethod::ClientSecretPost => {
            form.push(("client_secret", u.client_secret.expose()));
            Credentials::None
        }
    };
    let (status, body) = outbound::post_form_json(&ep.token, &form, credentials, &limits)
        .await
        .map_err(|e| fetch_failure(&e, "token endpoint unreachable"))?;
    if status != 200 {
        tracing::warn!(upstream = %u.id, status, error = ?body.get("error").and_then(serde_json::Value::as_str), "upstream token endpoint refused");
        return Err(Failure::Page(502, page::UPSTREAM, "token endpoint refused"));
    }
    let (Some(id_token), Some(access_token)) =
        (body.get("id_token").and_then(Value::as_str), body.get("access_token").and_then(Value::as_str))
    else {
        return Err(Failure::Page(502, page::INVALID, "token response lacks id_token or access_token"));
    };
    let rules = IdTokenRules { issuer: &u.issuer, client_id: &u.client_id, nonce: &record.nonce, now };
    let set = jwks(&ep.jwks_uri, false, &limits, now).await.map_err(|e| fetch_failure(&e, "jwks unreachable"))?;
    let unknown_key = IdTokenError::Signature(crate::crypto::upstream_jwt::SignatureError::UnknownKey.to_string());
    let claims = match validate_id_token(id_token, &set, &u.id_token_algs, &rules) {
        Err(e) if e == unknown_key => {
            let set =
                jwks(&ep.jwks_uri, true, &limits, now).await.map_err(|e| fetch_failure(&e, "jwks unreachable"))?;
            validate_id_token(id_token, &set, &u.id_token_algs, &rules)
        }
        other => other,
    };
    let mut claims = claims.map_err(|e| {
        tracing::warn!(upstream = %u.id, reason = %e, "upstream ID token refused");
        Failure::Page(502, page::INVALID, "id token invalid")
    })?;
    let upstream_sid = claims.get("sid").and_then(Value::as_str).map(str::to_owned);
    let upstream_sub = claims.get("sub").and_then(Value::as_str).map(str::to_owned);
    // The national portal delivers its claims from userinfo.
    let needs_userinfo = u.profile == crate::protocol::upstream::UpstreamProfile::NationalPortal;
    match (&ep.userinfo, needs_userinfo) {
        (Some(url), _) => {
            let info = outbound::get_json_with(url, Credentials::Bearer(access_token), &limits)
                .await
                .map_err(|e| fetch_failure(&e, "userinfo failed"))?;
            let Value::Object(info) = info else {
                return Err(Failure::Page(502, page::INVALID, "userinfo is not an object"));
            };
            if info.get("sub") != claims.get("sub") {
                return Err(Failure::Page(502, page::INVALID, "userinfo sub differs from the ID token"));
            }
            for (k, v) in info {
                if !matches!(k.as_str(), "iss" | "aud" | "exp" | "iat" | "nbf" | "nonce" | "azp" | "acr" | "amr") {
                    claims.insert(k, v);
                }
            }
        }
        (None, true) => return Err(Failure::Page(502, page::INVALID, "no userinfo endpoint")),
        (None, false) => {}
    }
    let identity = map_claims(u.profile, &u.issuer, &claims, crate::clock::year_of(now)).map_err(|e| {
        let reason = match e {
            MappingError::NoSubject => "no subject",
            MappingError::PersonalNumber(_) => "invalid personal number",
            MappingError::Birthdate => "invalid birth date",
            MappingError::AccountType => "unknown account type",
        };
        Failure::Page(400, page::CLAIMS, reason)
    })?;
    let Some(level) = identity.level.filter(|l| *l != AssuranceLevel::None) else {
        return Err(Failure::Page(400, page::CLAIMS, "no assurance level"));
    };
    // An organisation account (type 2/3): the organisation is checked before anything is
    // written, so a bad tax code leaves no half-linked person behind.
    let organisation = match identity.account_type {
        AccountType::Enterprise | AccountType::Organisation => Some(upstream_organisation(&identity, now)?),
        _ => None,
    };
    let person = link_person(svc, u, &identity, level, now).await?;
    let acting_for = match organisation {
        Some(org) => {
            // The person signed in upstream in the organisation's role: record (or find)
            // the organisation and their representation of it, and act for it in this
            // session. The upstream does not say in which capacity, so the representation
            // is `authorised_person` (it cannot grant mandates); an officer can record a
            // legal representative.
            let (org, rep) = svc
                .store
                .upsert_upstream_representation(&org, &person, crate::identity::Role::AuthorisedPerson, now)
                .await
                .map_err(|e| Failure::Client(super::store_failed(e), "organisation"))?;
            audit(svc, now, &u.id, "upstream.organisation_link", Some(&person), "success", org.org_type.as_str()).await;
            Some(rep.id.0)
        }
        None => None,
    };
    let achieved = if level == AssuranceLevel::Level2 { acr::EID_LOA2 } else { acr::EID_LOA1 };
    let amr = amr_of(&identity);
    let (mut session, cookie) = start_session(svc, session_cookie, &person, achieved, amr, now)
        .await
        .map_err(|e| Failure::Client(e, "session"))?;
    if acting_for.is_some() {
        session.acting_for = acting_for;
        session.context_chosen = true;
    }
    if u.logout {
        session.upstream = Some(UpstreamLogin { upstream: u.id.clone(), id_token: id_token.to_owned() });
    }
    if session.acting_for.is_some() || session.upstream.is_some() {
        super::interaction::save_session(svc, &cookie, &session, now)
            .await
            .map_err(|e| Failure::Client(e, "session"))?;
    }
    if u.logout {
        // So that the upstream's back-channel logout can find this session.
        remember_upstream_session(svc, &u.id, upstream_sid.as_deref(), upstream_sub.as_deref(), &cookie, now)
            .await
            .map_err(|e| Failure::Client(e, "session"))?;
    }
    audit(svc, now, &u.id, "upstream.sign_in", Some(&person), "success", achieved).await;
    metrics::counter!(crate::telemetry::LOGINS, "outcome" => "success").increment(1);
    // From here the session exists: a request the session cannot satisfy ends with the
    // client's error, like any other sign-in.
    match after_authentication(svc, &record.interaction, ix, session, now).await {
        Ok(step) => Ok(StepResult { step, new_session: Some(cookie) }),
        Err(e) if e.code == ErrorCode::TemporarilyUnavailable => Err(Failure::Client(e, "store")),
        Err(e) => {
            let _ = svc.ephemeral.delete(Namespace::Interaction, &record.interaction).await;
            let step = Step::Respond(error_response(&svc.config.issuer, &ix.request.target, &e));
            Ok(StepResult { step, new_session: Some(cookie) })
        }
    }
}

/// The organisation an upstream organisation account (national portal `LoaiTaiKhoan`
/// 2/3) stands for: its tax code must be valid; the name falls back to the tax code.
fn upstream_organisation(identity: &UpstreamIdentity, now: i64) -> Result<crate::identity::Organisation, Failure> {
    use crate::identity::{OrgId, OrgType, Organisation, TaxCode};
    let bad = || Failure::Page(400, page::CLAIMS, "invalid organisation tax code");
    let raw = identity.tax_code.as_deref().ok_or_else(bad)?;
    let tax = TaxCode::parse(raw, crate::clock::year_of(now)).map_err(|_| bad())?;
    let org_type = match identity.account_type {
        AccountType::Organisation => OrgType::Agency,
        _ => OrgType::inferred(Some(&tax)),
    };
    let name = identity.organisation_name.clone().unwrap_or_else(|| tax.as_str().to_owned());
    Organisation::new(OrgId(uuid::Uuid::now_v7().to_string()), org_type, Some(tax), &name, None, now)
        .map_err(|_| Failure::Page(400, page::CLAIMS, "invalid organisation"))
}

/// RFC 8176 values the upstream reported; `fed` (not registered by RFC 8176, which has
/// no value for "federated") when it reported none we know.
fn amr_of(identity: &UpstreamIdentity) -> Vec<String> {
    const RFC8176: &[&str] = &[
        "face", "fpt", "geo", "hwk", "iris", "kba", "mca", "mfa", "otp", "pin", "pop", "pwd", "rba", "retina", "sc",
        "sms", "swk", "tel", "user", "vbm", "wia",
    ];
    let known: Vec<String> = identity.amr.iter().filter(|a| RFC8176.contains(&a.as_str())).cloned().collect();
    if known.is_empty() { vec!["fed".to_owned()] } else { known }
}

fn apply_identity(p: &mut Person, id: &UpstreamIdentity, upstream_issuer: &str, level: AssuranceLevel, now: i64) {
    let keep = |new: &Option<String>, old: &mut Option<String>| {
        if new.is_some() {
            old.clone_from(new);
        }
    };
    keep(&id.name, &mut p.name);
    keep(&id.birthdate, &mut p.birthdate);
    keep(&id.gender, &mut p.gender);
    keep(&id.nationality, &mut p.nationality);
    keep(&id.address, &mut p.address);
    if id.email.is_some() && id.email != p.email {
        p.email.clone_from(&id.email);
        p.email_verified = false;
    }
    if id.phone.is_some() && id.phone != p.phone {
        p.phone.clone_from(&id.phone);
        p.phone_verified = false;
    }
    if id.personal_number.is_some() {
        p.personal_number.clone_from(&id.personal_number);
    }
    // Never lower a level already reached (from any source).
    if level >= p.assurance.level {
        p.assurance.level = level;
        p.assurance.source = AssuranceSource::Upstream;
        p.assurance.verified_at = Some(now);
        p.assurance.evidence = Some(Evidence::ElectronicRecord {
            upstream: upstream_issuer.to_owned(),
            check_method: if level == AssuranceLevel::Level2 { "bvr" } else { "vri" }.to_owned(),
            time: now,
        });
    }
    p.updated_at = now;
}

fn store_failure(e: StoreError) -> Failure {
    match e {
        StoreError::Conflict(_) => Failure::Page(409, page::CONFLICT, "personal number held by another person"),
        StoreError::Unavailable(_) => Failure::Client(super::store_failed(e), "store"),
    }
}

/// Creates (first sign-in) or updates (later ones) the person linked to the upstream
/// identity. A personal number already held by another person is refused, never merged.
async fn link_person(
    svc: &Services,
    u: &UpstreamConfig,
    id: &UpstreamIdentity,
    level: AssuranceLevel,
    now: i64,
) -> Result<PersonId, Failure> {
    let link = svc.store.find_link(&id.issuer, &id.subject).await.map_err(store_failure)?;
    let holder = match &id.personal_number {
        Some(pin) => svc.store.find_person_by_personal_number(pin.as_str()).await.map_err(store_failure)?,
        None => None,
    };
    match link {
        None => {
            if holder.is_some() {
                audit(
                    svc,
                    now,
                    &u.id,
                    "upstream.link",
                    holder.as_ref(),
                    "failure",
                    "personal number held by another person",
                )
                .await;
                return Err(Failure::Page(409, page::CONFLICT, "personal number held by another person"));
            }
            let mut person = Person::new(PersonId(uuid::Uuid::now_v7().to_string()), now);
            apply_identity(&mut person, id, &u.issuer, level, now);
            svc.store.create_linked_person(&person, &id.issuer, &id.subject, now).await.map_err(store_failure)?;
            audit(svc, now, &u.id, "upstream.person_create", Some(&person.id), "success", "first sign-in").await;
            Ok(person.id)
        }
        Some(link) => {
            if holder.as_ref().is_some_and(|h| *h != link.person_id) {
                audit(
                    svc,
                    now,
                    &u.id,
                    "upstream.link",
                    Some(&link.person_id),
                    "failure",
                    "personal number held by another person",
                )
                .await;
                return Err(Failure::Page(409, page::CONFLICT, "personal number held by another person"));
            }
            let Some(mut person) = svc.store.find_person(&link.person_id).await.map_err(store_failure)? else {
                return Err(Failure::Page(409, page::CONFLICT, "linked person missing"));
            };
            if person.status != PersonStatus::Active {
                return Err(Failure::Page(403, page::DISABLED, "person disabled"));
            }
            apply_identity(&mut person, id, &u.issuer, level, now);
            svc.store.update_person(&person, None).await.map_err(store_failure)?;
            svc.people.forget(&person.id.0);
            svc.store.touch_link(&id.issuer, &id.subject, now).await.map_err(store_failure)?;
            audit(svc, now, &u.id, "upstream.person_update", Some(&person.id), "success", "attributes from upstream")
                .await;
            Ok(person.id)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amr_keeps_registered_values_or_says_fed() {
        let mut id = map_claims(
            crate::protocol::upstream::UpstreamProfile::Oidc,
            "u",
            serde_json::json!({"sub": "s", "amr": ["pwd", "made-up"]}).as_object().unwrap(),
            2026,
        )
        .unwrap();
        assert_eq!(amr_of(&id), vec!["pwd".to_owned()]);
        id.amr.clear();
        assert_eq!(amr_of(&id), vec!["fed".to_owned()]);
    }

    #[test]
    fn levels_are_never_lowered() {
        let id = map_claims(
            crate::protocol::upstream::UpstreamProfile::NationalPortal,
            "u",
            serde_json::json!({"sub": "s", "HoVaTen": "A", "IAL": 1}).as_object().unwrap(),
            2026,
        )
        .unwrap();
        let mut p = Person::new(PersonId("p".into()), 0);
        p.assurance.level = AssuranceLevel::Level2;
        p.assurance.source = AssuranceSource::Officer;
        apply_identity(&mut p, &id, "https://up", AssuranceLevel::Level1, 5);
        assert_eq!((p.assurance.level, p.assurance.source), (AssuranceLevel::Level2, AssuranceSource::Officer));
        assert_eq!(p.name.as_deref(), Some("A"));
        let mut q = Person::new(PersonId("q".into()), 0);
        apply_identity(&mut q, &id, "https://up", AssuranceLevel::Level1, 5);
        assert_eq!(q.assurance.level, AssuranceLevel::Level1);
        assert!(
            matches!(q.assurance.evidence, Some(Evidence::ElectronicRecord { ref check_method, .. }) if check_method == "vri")
        );
    }
}

// ---------------------------------------------------------------- sign-out

/// Where the browser goes once a sign-out here has finished.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct LogoutReturn {
    /// The client's post-logout redirect URI (with its `state`), already checked.
    redirect: Option<String>,
    locale: Locale,
}

/// Key of a pending return from an upstream sign-out: apart from sign-in states.
fn logout_key(state: &str) -> String {
    format!("logout.{}", token_digest(state))
}

/// Our post-logout redirect URI at every upstream.
pub fn logged_out_url(svc: &Services) -> String {
    format!("{}{LOGGED_OUT_PATH}", svc.config.issuer)
}

/// After `session` ended here: the upstream end-session URL to send the browser to when
/// the session came from an upstream that signs out too, remembering `then` (where the
/// browser goes afterwards). `None` (go straight to `then`) when there is no such
/// upstream, it has no end-session endpoint, or it cannot be reached: the sign-out here
/// has happened either way.
pub async fn logout_redirect(
    svc: &Services,
    session: &BrowserSession,
    then: Option<String>,
    locale: Locale,
    now: i64,
) -> Option<String> {
    let login = session.upstream.as_ref()?;
    let u = svc.config.upstreams.iter().find(|u| u.id == login.upstream && u.logout)?;
    let limits = FetchLimits::from_config(&svc.config);
    let end_session = match endpoints(u, &limits, now).await {
        Ok(ep) => ep.end_session?,
        Err(e) => {
            tracing::warn!(upstream = %u.id, error = %e, "upstream discovery failed at sign-out; signed out here only");
            return None;
        }
    };
    let mut url = url::Url::parse(&end_session).ok()?;
    let state = random_token();
    let record = encode(&LogoutReturn { redirect: then, locale }).ok()?;
    if let Err(e) =
        svc.ephemeral.put(Namespace::Broker, &logout_key(&state), record, svc.config.interaction_ttl, None, now).await
    {
        tracing::warn!(upstream = %u.id, error = %e, "could not remember the sign-out; signed out here only");
        return None;
    }
    url.query_pairs_mut()
        .append_pair("id_token_hint", &login.id_token)
        .append_pair("client_id", &u.client_id)
        .append_pair("post_logout_redirect_uri", &logged_out_url(svc))
        .append_pair("state", &state)
        .append_pair("ui_locales", if locale == Locale::En { "en" } else { "vi" });
    tracing::info!(upstream = %u.id, "sign-out sent upstream");
    Some(url.to_string())
}

/// `GET /broker/logged-out`: the upstream has signed the person out; where to go next
/// (the client's post-logout URI), or `None` for our "signed out" page. An unknown,
/// expired or replayed `state` also ends on that page: the sign-out here happened before
/// the browser left, and nothing unknown is ever redirected to.
pub async fn logged_out(svc: &Services, state: Option<&str>, now: i64) -> (Option<String>, Locale) {
    let Some(state) = state.filter(|s| !s.is_empty() && s.len() <= 512) else { return (None, Locale::Vi) };
    match svc.ephemeral.take(Namespace::Broker, &logout_key(state), now).await {
        Ok(Taken::Fresh(bytes)) => match decode::<LogoutReturn>(&bytes) {
            Some(r) => (r.redirect, r.locale),
            None => (None, Locale::Vi),
        },
        _ => (None, Locale::Vi),
    }
}

// ---------------------------------------------------------------- back-channel logout

/// How many of one upstream subject's sessions are remembered for its logout.
const SESSIONS_PER_SUBJECT: usize = 16;

fn sid_key(upstream: &str, sid: &str) -> String {
    format!("usid.{}", token_digest(&format!("{upstream}\u{0}{sid}")))
}

fn sub_key(upstream: &str, sub: &str) -> String {
    format!("usub.{}", token_digest(&format!("{upstream}\u{0}{sub}")))
}

/// Remembers which of our sessions (by the digest of its cookie) an upstream session and
/// subject started, for the session's lifetime.
async fn remember_upstream_session(
    svc: &Services,
    upstream: &str,
    sid: Option<&str>,
    sub: Option<&str>,
    cookie: &str,
    now: i64,
) -> Result<(), OAuthError> {
    let ours = token_digest(cookie);
    let ttl = svc.config.session_ttl;
    if let Some(sid) = sid {
        let bytes = encode(&vec![ours.clone()])?;
        svc.ephemeral
            .put(Namespace::Broker, &sid_key(upstream, sid), bytes, ttl, None, now)
            .await
            .map_err(super::ephemeral_failed)?;
    }
    if let Some(sub) = sub {
        let key = sub_key(upstream, sub);
        let raw = svc.ephemeral.get(Namespace::Broker, &key, now).await.map_err(super::ephemeral_failed)?;
        let mut list: Vec<String> = raw.and_then(|r| decode(&r)).unwrap_or_default();
        list.retain(|d| *d != ours);
        list.push(ours);
        let excess = list.len().saturating_sub(SESSIONS_PER_SUBJECT);
        list.drain(..excess);
        svc.ephemeral
            .put(Namespace::Broker, &key, encode(&list)?, ttl, None, now)
            .await
            .map_err(super::ephemeral_failed)?;
    }
    Ok(())
}

/// Why a logout token was not acted on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackchannelError {
    /// Not a logout token from a configured upstream, or it failed a check (`400`).
    #[error("{0}")]
    Invalid(String),
    /// This token was already used (`400`).
    #[error("the logout token was already used")]
    Replayed,
    /// The upstream's keys or our stores cannot be reached now (`503`; it retries).
    #[error("temporarily unavailable")]
    Unavailable,
}

/// `POST /broker/backchannel-logout`: an upstream's logout token (OIDC Back-Channel
/// Logout 1.0). The token must name a configured upstream as `iss` and verify against
/// its keys; then the sessions here that its `sid` (or, without one, its `sub`) started
/// end, each with the usual logout to its clients. Returns how many ended (0 is a fine
/// answer: they may have ended already).
pub async fn backchannel_logout(
    svc: &std::sync::Arc<Services>,
    clock: &std::sync::Arc<dyn crate::clock::Clock>,
    token: &str,
    now: i64,
) -> Result<usize, BackchannelError> {
    use crate::protocol::upstream::{LOGOUT_TOKEN_MAX_AGE, LogoutTokenError, check_logout_token_claims};
    let invalid = |why: &str| BackchannelError::Invalid(why.to_owned());
    let iss = crate::crypto::assertion::peek_claims(token)
        .and_then(|c| c.get("iss").and_then(Value::as_str).map(str::to_owned))
        .ok_or_else(|| invalid("not a JWT with an issuer"))?;
    let u =
        svc.config.upstreams.iter().find(|u| u.issuer == iss && u.logout).ok_or_else(|| invalid("unknown issuer"))?;
    let limits = FetchLimits::from_config(&svc.config);
    let ep = endpoints(u, &limits, now).await.map_err(|_| BackchannelError::Unavailable)?;
    let verify = |set: &Value| crate::crypto::upstream_jwt::verify(token, set, &u.id_token_algs);
    let set = jwks(&ep.jwks_uri, false, &limits, now).await.map_err(|_| BackchannelError::Unavailable)?;
    let claims = match verify(&set) {
        Err(crate::crypto::upstream_jwt::SignatureError::UnknownKey) => {
            let set = jwks(&ep.jwks_uri, true, &limits, now).await.map_err(|_| BackchannelError::Unavailable)?;
            verify(&set)
        }
        other => other,
    }
    .map_err(|e| BackchannelError::Invalid(LogoutTokenError::Signature(e.to_string()).to_string()))?;
    let Value::Object(claims) = claims else { return Err(invalid("not a JSON object")) };
    let request =
        check_logout_token_claims(&claims, &u.issuer, &u.client_id, now).map_err(|e| invalid(&e.to_string()))?;
    let seen_key = format!("bcl.{}", token_digest(&format!("{}\u{0}{}", u.id, request.jti)));
    let seen = svc
        .ephemeral
        .incr(Namespace::Broker, &seen_key, 2 * LOGOUT_TOKEN_MAX_AGE, now)
        .await
        .map_err(|_| BackchannelError::Unavailable)?;
    if seen > 1 {
        return Err(BackchannelError::Replayed);
    }
    let key = match (&request.sid, &request.sub) {
        (Some(sid), _) => sid_key(&u.id, sid),
        (None, Some(sub)) => sub_key(&u.id, sub),
        (None, None) => return Err(invalid("no sid or sub")),
    };
    let raw = svc.ephemeral.take(Namespace::Broker, &key, now).await.map_err(|_| BackchannelError::Unavailable)?;
    let ours: Vec<String> = match raw {
        Taken::Fresh(bytes) => decode(&bytes).unwrap_or_default(),
        _ => Vec::new(),
    };
    let mut ended = 0;
    for digest in ours {
        let raw =
            svc.ephemeral.get(Namespace::Session, &digest, now).await.map_err(|_| BackchannelError::Unavailable)?;
        let Some(session) = raw.and_then(|r| decode::<BrowserSession>(&r)) else { continue };
        super::logout::end_browser_session(svc, clock, &session, None, now)
            .await
            .map_err(|_| BackchannelError::Unavailable)?;
        svc.ephemeral.delete(Namespace::Session, &digest).await.map_err(|_| BackchannelError::Unavailable)?;
        ended += 1;
    }
    audit(svc, now, &u.id, "upstream.logout", None, "success", &format!("{ended} session(s) ended")).await;
    tracing::info!(upstream = %u.id, ended, "upstream back-channel logout");
    Ok(ended)
}
