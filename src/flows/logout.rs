//! Ending the single sign-on session and telling every portal: OpenID Connect
//! RP-Initiated Logout 1.0 (`/end_session`, with a confirmation page when the request
//! does not prove it comes from the current session), Back-Channel Logout 1.0 (a signed
//! logout token POSTed to each client of the session, retried, recorded) and
//! Front-Channel Logout 1.0 (iframes on the logout page). A session that came from an
//! upstream provider also signs out there (`broker::logout_redirect`).

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::authorize::{BrowserCookies, load_session};
use super::issue::session_clients;
use super::refresh_token_family_revocation as revoke_families;
use super::{BrowserSession, Services, decode, encode, ephemeral_failed, store_failed};
use crate::clock::Clock;
use crate::crypto::constant_time_eq;
use crate::crypto::jwt;
use crate::crypto::opaque::{random_token, token_digest};
use crate::ephemeral::Namespace;
use crate::identity::PersonId;
use crate::protocol::OAuthError;
use crate::protocol::authorize::Locale;
use crate::protocol::client::Client;
use crate::protocol::params::Params;
use crate::store::LogoutDelivery;

/// JWS `typ` of logout tokens (Back-Channel Logout 1.0 §2.4).
pub const TYP_LOGOUT: &str = "logout+jwt";
/// The back-channel logout event.
pub const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// Delivery attempts per client.
pub const ATTEMPTS: u32 = 3;

/// Sends logout tokens to clients. The HTTP implementation lives in `delivery`.
#[async_trait]
pub trait LogoutNotifier: Send + Sync {
    /// POSTs `logout_token` to `uri`; `Err` carries a short, secret-free reason.
    async fn post_logout_token(&self, uri: &str, logout_token: &str) -> Result<(), String>;
}

/// A logout request waiting for the person's confirmation.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct PendingLogout {
    client_id: Option<String>,
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
    csrf: String,
    browser_digest: String,
    locale: Locale,
}

/// The end of a logout, for the HTTP layer to render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    /// Where to send the browser afterwards (registered post-logout URI with `state`).
    pub redirect: Option<String>,
    /// Front-channel logout URIs to load in iframes.
    pub frontchannel: Vec<String>,
    /// Whether a session ended (clear the cookie).
    pub ended: bool,
    /// Language.
    pub locale: Locale,
}

/// What `/end_session` answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Ask the person: the request did not prove it came from their current session.
    Confirm {
        /// Pending logout id.
        id: String,
        /// CSRF token.
        csrf: String,
        /// Name of the client asking, if known.
        client_name: Option<String>,
        /// Language.
        locale: Locale,
    },
    /// Logged out (or nothing to log out).
    Finished(Finished),
    /// The request is invalid; never redirected.
    ErrorPage {
        /// HTTP status.
        status: u16,
        /// Message.
        message: String,
        /// Language.
        locale: Locale,
    },
}

struct Hint {
    sub: String,
    sid: Option<String>,
    aud: Vec<String>,
}

/// OIDC RP-Initiated Logout §2: an ID token we issued, expired or not.
fn verify_hint(svc: &Services, raw: &str) -> Option<Hint> {
    let v = jwt::verify(&svc.keys, raw, Some(jwt::TYP_JWT)).ok()?;
    if v.claims["iss"].as_str() != Some(svc.config.issuer.as_str()) {
        return None;
    }
    let aud = match &v.claims["aud"] {
        serde_json::Value::String(a) => vec![a.clone()],
        serde_json::Value::Array(a) => a.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect(),
        _ => return None,
    };
    Some(Hint { sub: v.claims["sub"].as_str()?.to_owned(), sid: v.claims["sid"].as_str().map(str::to_owned), aud })
}

fn page(status: u16, message: &str, locale: Locale) -> Outcome {
    Outcome::ErrorPage { status, message: message.to_owned(), locale }
}

fn with_state(uri: &str, state: Option<&str>) -> String {
    match state {
        None => uri.to_owned(),
        Some(s) => {
            let sep = if uri.contains('?') { '&' } else { '?' };
            let q = form_urlencoded::Serializer::new(String::new()).append_pair("state", s).finish();
            format!("{uri}{sep}{q}")
        }
    }
}

/// Handles `/end_session` (GET or POST).
pub async fn end_session(
    svc: &Arc<Services>,
    clock: &Arc<dyn Clock>,
    params: &Params,
    session_cookie: Option<&str>,
    browser: &str,
    now: i64,
) -> Outcome {
    let locale = crate::protocol::authorize::Locale::from_ui_locales(params.get("ui_locales").ok().flatten());
    if let Some(dup) = params.first_duplicate() {
        return page(400, &format!("parameter `{dup}` is repeated"), locale);
    }
    let get = |n: &str| params.get(n).ok().flatten();
    let hint = match get("id_token_hint") {
        None => None,
        Some(raw) => match verify_hint(svc, raw) {
            Some(h) => Some(h),
            None => return page(400, "id_token_hint is not an ID token issued by this server", locale),
        },
    };
    let client_id = match (get("client_id"), &hint) {
        (Some(c), Some(h)) if !h.aud.iter().any(|a| a == c) => {
            return page(400, "client_id does not match the id_token_hint", locale);
        }
        (Some(c), _) => Some(c.to_owned()),
        (None, Some(h)) => h.aud.first().cloned(),
        (None, None) => None,
    };
    let client = match &client_id {
        None => None,
        Some(id) => match svc.store.find_client(id).await {
            Ok(Some(c)) => Some(c.client),
            Ok(None) => return page(400, "the client is not registered", locale),
            Err(e) => {
                let _ = store_failed(e);
                return page(503, "temporarily_unavailable", locale);
            }
        },
    };
    let redirect = match (get("post_logout_redirect_uri"), &client) {
        (None, _) => None,
        (Some(_), None) => return page(400, "post_logout_redirect_uri needs client_id or id_token_hint", locale),
        // Exact match only, as for redirect URIs.
        (Some(uri), Some(c)) if c.post_logout_redirect_uris.iter().any(|r| r == uri) => Some(uri.to_owned()),
        (Some(_), Some(_)) => return page(400, "post_logout_redirect_uri is not registered for this client", locale),
    };
    let state = get("state").map(str::to_owned);
    let session = match load_session(svc, session_cookie, now).await {
        Ok(s) => s,
        Err(_) => return page(503, "temporarily_unavailable", locale),
    };
    let Some(session) = session else {
        // No session here: nothing to end, nothing to confirm.
        let redirect = redirect.map(|r| with_state(&r, state.as_deref()));
        return Outcome::Finished(Finished { redirect, frontchannel: Vec::new(), ended: false, locale });
    };
    let proves_session = match (&hint, &client) {
        (Some(h), Some(c)) => match &h.sid {
            Some(sid) => *sid == session.sid,
            None => h.sub == svc.subject_for(c, &PersonId(session.person_id.clone())),
        },
        _ => false,
    };
    if proves_session {
        return finish(svc, clock, &session, session_cookie, redirect, state, locale, now).await;
    }
    // No forced logout: ask the person.
    let pending = PendingLogout {
        client_id,
        post_logout_redirect_uri: redirect,
        state,
        csrf: random_token(),
        browser_digest: token_digest(browser),
        locale,
    };
    let id = random_token();
    let stored = match encode(&pending) {
        Ok(v) => svc.ephemeral.put(Namespace::Interaction, &id, v, svc.config.interaction_ttl, None, now).await.is_ok(),
        Err(_) => false,
    };
    if !stored {
        return page(503, "temporarily_unavailable", locale);
    }
    let client_name = client.and_then(|c| c.client_name);
    Outcome::Confirm { id, csrf: pending.csrf, client_name, locale }
}

/// The posted confirmation form.
#[derive(Debug, Clone, Copy)]
pub struct ConfirmForm<'a> {
    /// Pending logout id.
    pub id: &'a str,
    /// CSRF token.
    pub csrf: &'a str,
    /// `logout=yes`.
    pub yes: bool,
}

/// Handles the confirmation form: `yes` ends the session, anything else keeps it.
pub async fn confirm(
    svc: &Arc<Services>,
    clock: &Arc<dyn Clock>,
    form: ConfirmForm<'_>,
    cookies: BrowserCookies<'_>,
    now: i64,
) -> Outcome {
    let ConfirmForm { id, csrf, yes } = form;
    let (session_cookie, browser) = (cookies.session, cookies.browser);
    let raw = match svc.ephemeral.take(Namespace::Interaction, id, now).await {
        Ok(crate::ephemeral::Taken::Fresh(raw)) => raw,
        Ok(_) => return page(400, "interaction_expired", Locale::Vi),
        Err(_) => return page(503, "temporarily_unavailable", Locale::Vi),
    };
    let Some(p) = decode::<PendingLogout>(&raw) else { return page(400, "interaction_expired", Locale::Vi) };
    if !constant_time_eq(p.browser_digest.as_bytes(), token_digest(browser).as_bytes())
        || !constant_time_eq(p.csrf.as_bytes(), csrf.as_bytes())
    {
        return page(403, "csrf", p.locale);
    }
    if !yes {
        let redirect = p.post_logout_redirect_uri.map(|r| with_state(&r, p.state.as_deref()));
        return Outcome::Finished(Finished { redirect, frontchannel: Vec::new(), ended: false, locale: p.locale });
    }
    let session = match load_session(svc, session_cookie, now).await {
        Ok(s) => s,
        Err(_) => return page(503, "temporarily_unavailable", p.locale),
    };
    match session {
        Some(s) => finish(svc, clock, &s, session_cookie, p.post_logout_redirect_uri, p.state, p.locale, now).await,
        None => {
            let redirect = p.post_logout_redirect_uri.map(|r| with_state(&r, p.state.as_deref()));
            Outcome::Finished(Finished { redirect, frontchannel: Vec::new(), ended: false, locale: p.locale })
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn finish(
    svc: &Arc<Services>,
    clock: &Arc<dyn Clock>,
    session: &BrowserSession,
    session_cookie: Option<&str>,
    redirect: Option<String>,
    state: Option<String>,
    locale: Locale,
    now: i64,
) -> Outcome {
    match end_browser_session(svc, clock, session, session_cookie, now).await {
        Ok(frontchannel) => {
            let redirect = redirect.map(|r| with_state(&r, state.as_deref()));
            // Signed in through an upstream: sign out there too, then come back to
            // `redirect` (see `broker::logged_out`).
            let redirect = match super::broker::logout_redirect(svc, session, redirect.clone(), locale, now).await {
                Some(upstream) => Some(upstream),
                None => redirect,
            };
            Outcome::Finished(Finished { redirect, frontchannel, ended: true, locale })
        }
        Err(_) => page(503, "temporarily_unavailable", locale),
    }
}

/// Ends `session`: removes it, revokes what must not outlive it, starts back-channel
/// deliveries, and returns the front-channel URIs to load. Other people's sessions are
/// never touched: everything is keyed by this session's cookie and id.
pub async fn end_browser_session(
    svc: &Arc<Services>,
    clock: &Arc<dyn Clock>,
    session: &BrowserSession,
    session_cookie: Option<&str>,
    now: i64,
) -> Result<Vec<String>, OAuthError> {
    if let Some(c) = session_cookie {
        svc.ephemeral.delete(Namespace::Session, &token_digest(c)).await.map_err(ephemeral_failed)?;
    }
    let clients = session_clients(svc, &session.sid, now).await?;
    svc.ephemeral.delete(Namespace::SessionClients, &token_digest(&session.sid)).await.map_err(ephemeral_failed)?;
    tracing::info!(clients = clients.len(), "session ended");
    let actor = format!("person:{}", session.person_id);
    super::audit(svc, now, actor, "session.end", Some(token_digest(&session.sid)), "success").await;
    let mut frontchannel = Vec::new();
    for client_id in clients {
        let Some(client) = svc.store.find_client(&client_id).await.map_err(store_failed)?.map(|c| c.client) else {
            continue;
        };
        revoke_families(svc, &session.sid, &client.client_id, now).await?;
        if let Some(uri) = &client.frontchannel_logout_uri {
            let sep = if uri.contains('?') { '&' } else { '?' };
            let q = form_urlencoded::Serializer::new(String::new())
                .append_pair("iss", &svc.config.issuer)
                .append_pair("sid", &session.sid)
                .finish();
            frontchannel.push(format!("{uri}{sep}{q}"));
        }
        if let Some(uri) = client.backchannel_logout_uri.clone() {
            let token = logout_token(svc, &client, session, now)?;
            let (svc, clock, sid) = (Arc::clone(svc), Arc::clone(clock), session.sid.clone());
            tokio::spawn(async move { deliver(&svc, &clock, &client.client_id, &uri, &token, &sid, now).await });
        }
    }
    Ok(frontchannel)
}

/// Back-Channel Logout 1.0 §2.4: the logout token for one client.
pub fn logout_token(svc: &Services, client: &Client, session: &BrowserSession, now: i64) -> Result<String, OAuthError> {
    let claims = json!({
        "iss": svc.config.issuer,
        "aud": client.client_id,
        "iat": now,
        "exp": now + 120,
        "jti": uuid::Uuid::now_v7().to_string(),
        "sub": svc.subject_for(client, &PersonId(session.person_id.clone())),
        "sid": session.sid,
        "events": { EVENT: {} },
    });
    jwt::sign(&svc.keys, client.id_token_signed_response_alg, TYP_LOGOUT, &claims)
        .map_err(|_| OAuthError::server_error())
}

/// Delivers one logout token with bounded retries and records the outcome.
async fn deliver(
    svc: &Services,
    clock: &Arc<dyn Clock>,
    client_id: &str,
    uri: &str,
    token: &str,
    sid: &str,
    created_at: i64,
) {
    let mut last_error = None;
    let mut attempts = 0;
    for attempt in 1..=ATTEMPTS {
        attempts = attempt;
        match svc.notifier.post_logout_token(uri, token).await {
            Ok(()) => {
                last_error = None;
                break;
            }
            Err(e) => {
                tracing::warn!(client = %client_id, attempt, error = %e, "back-channel logout delivery failed");
                last_error = Some(e);
                if attempt < ATTEMPTS {
                    tokio::time::sleep(std::time::Duration::from_millis(250 << attempt)).await;
                }
            }
        }
    }
    let record = LogoutDelivery {
        id: uuid::Uuid::now_v7().to_string(),
        client_id: client_id.to_owned(),
        sid: token_digest(sid),
        status: if last_error.is_none() { "delivered" } else { "failed" }.to_owned(),
        attempts: i64::from(attempts),
        last_error,
        created_at,
        finished_at: Some(clock.now()),
    };
    if let Err(e) = svc.store.record_logout_delivery(&record).await {
        tracing::error!(error = %e, "could not record a logout delivery");
    }
}
