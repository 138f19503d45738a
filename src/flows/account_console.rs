//! Signing in to the account pages themselves. The account area is a relying party of
//! its own provider, like any portal: the built-in public client [`CLIENT_ID`] runs the
//! ordinary code flow (PKCE, state bound to the browser), so the person meets the same
//! login page — the national e-ID button, step-up to level 2, the officials' form — and
//! the same session results. The client is registered in the store on first use (and
//! again if an operator deleted it); being the provider itself, it asks for no consent
//! and receives nothing but `openid`.
//!
//! 1. [`start`] (`GET /account/signin?next=…[&level=2]`): remember where to return and
//!    the PKCE verifier under a random `state`, send the browser to `/authorize`.
//! 2. [`callback`] (`GET /account/callback`): take that state once (same browser), take
//!    the code once (it must be this client's), and return to the account page. The
//!    session cookie the sign-in set is what the account pages read.

use serde::{Deserialize, Serialize};

use super::{Services, decode, encode};
use crate::crypto::constant_time_eq;
use crate::crypto::opaque::{random_token, token_digest};
use crate::ephemeral::{Namespace, Taken};
use crate::protocol::acr;
use crate::protocol::authorize::Locale;
use crate::protocol::client::ClientMetadata;
use crate::store::StoreError;

/// The account area's client id.
pub const CLIENT_ID: &str = "dinhdanh-account";
/// Where a sign-in for the account area starts.
pub const SIGNIN_PATH: &str = "/account/signin";
/// The account area's redirect URI path.
pub const CALLBACK_PATH: &str = "/account/callback";

/// The account pages a sign-in returns to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Destination {
    /// `/account/consents`.
    Consents,
    /// `/account/mandates`.
    Mandates,
    /// `/account/security`.
    Security,
}

impl Destination {
    /// From the `next` parameter; anything else is refused (no open redirect).
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "consents" => Some(Self::Consents),
            "mandates" => Some(Self::Mandates),
            "security" => Some(Self::Security),
            _ => None,
        }
    }

    /// The page's path.
    pub fn path(self) -> &'static str {
        match self {
            Self::Consents => "/account/consents",
            Self::Mandates => "/account/mandates",
            Self::Security => "/account/security",
        }
    }
}

/// A sign-in in progress, under the digest of its `state`.
#[derive(Debug, Serialize, Deserialize)]
struct Pending {
    next: Destination,
    browser_digest: String,
    locale: Locale,
}

/// What the HTTP layer does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// 303 to this same-origin path.
    Redirect(String),
    /// A page: status and message key (see `http::pages::error`).
    ErrorPage {
        /// HTTP status.
        status: u16,
        /// Message key or text.
        message: String,
        /// Language.
        locale: Locale,
    },
}

fn page(status: u16, message: &str, locale: Locale) -> Outcome {
    Outcome::ErrorPage { status, message: message.to_owned(), locale }
}

fn key(state: &str) -> String {
    format!("account.{}", token_digest(state))
}

/// The redirect URI of the account client.
pub fn callback_url(svc: &Services) -> String {
    format!("{}{CALLBACK_PATH}", svc.config.issuer)
}

/// Registers the account client unless it is there (several nodes may race: the loser's
/// conflict is fine), and points it at this issuer's callback again when the issuer
/// changed since.
async fn ensure_client(svc: &Services, now: i64) -> Result<(), StoreError> {
    let metadata: ClientMetadata = serde_json::from_value(serde_json::json!({
        "client_id": CLIENT_ID,
        "client_name": "Tài khoản định danh (dinhdanh)",
        "redirect_uris": [callback_url(svc)],
        "grant_types": ["authorization_code"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
        "scope": "openid",
    }))
    .map_err(|e| StoreError::Unavailable(format!("account client metadata: {e}")))?;
    if let Some(found) = svc.store.find_client(CLIENT_ID).await? {
        if found.client.redirect_uris == [callback_url(svc)] {
            return Ok(());
        }
        let limits = crate::outbound::FetchLimits::from_config(&svc.config);
        crate::flows::admin::update_client(svc.store.as_ref(), &limits, None, CLIENT_ID, &metadata, now)
            .await
            .map_err(|e| StoreError::Unavailable(format!("account client: {e}")))?;
        svc.clients.forget(CLIENT_ID);
        tracing::info!(client = CLIENT_ID, "pointed the account area's client at this issuer");
        return Ok(());
    }
    match crate::flows::admin::register_client(svc.store.as_ref(), &metadata, now).await {
        Ok(_) => {
            tracing::info!(client = CLIENT_ID, "registered the account area's client");
            Ok(())
        }
        // Another node registered it meanwhile.
        Err(_) if svc.store.find_client(CLIENT_ID).await?.is_some() => Ok(()),
        Err(e) => Err(StoreError::Unavailable(format!("account client: {e}"))),
    }
}

/// `GET /account/signin`: sends the browser to our own authorization endpoint. `level2`
/// asks for national e-ID level 2 as an essential `acr` (so a weaker session signs in
/// again, through the upstream when one is configured).
pub async fn start(
    svc: &Services,
    browser: &str,
    next: Destination,
    level2: bool,
    locale: Locale,
    now: i64,
) -> Outcome {
    if let Err(e) = ensure_client(svc, now).await {
        tracing::error!(error = %e, "account sign-in unavailable");
        return page(503, "temporarily_unavailable", locale);
    }
    let state = random_token();
    let verifier = random_token();
    let pending = Pending { next, browser_digest: token_digest(browser), locale };
    // The verifier is not kept: nobody, this server included, can redeem the code; the
    // callback only takes it.
    let Ok(bytes) = encode(&pending) else { return page(500, "temporarily_unavailable", locale) };
    if svc
        .ephemeral
        .put(Namespace::Interaction, &key(&state), bytes, svc.config.interaction_ttl, None, now)
        .await
        .is_err()
    {
        return page(503, "temporarily_unavailable", locale);
    }
    let mut q = form_urlencoded::Serializer::new(String::new());
    q.append_pair("response_type", "code")
        .append_pair("client_id", CLIENT_ID)
        .append_pair("redirect_uri", &callback_url(svc))
        .append_pair("scope", "openid")
        .append_pair("state", &state)
        .append_pair("code_challenge", &token_digest(&verifier))
        .append_pair("code_challenge_method", "S256")
        .append_pair("ui_locales", if locale == Locale::En { "en" } else { "vi" });
    if level2 {
        let claims = serde_json::json!({ "id_token": { "acr": { "essential": true, "values": [acr::EID_LOA2] } } });
        q.append_pair("claims", &claims.to_string());
    }
    Outcome::Redirect(format!("/authorize?{}", q.finish()))
}

/// The query of `GET /account/callback`.
#[derive(Debug, Default, Clone, Copy)]
pub struct CallbackParams<'a> {
    /// `state`.
    pub state: Option<&'a str>,
    /// `code`.
    pub code: Option<&'a str>,
    /// `error`.
    pub error: Option<&'a str>,
}

/// `GET /account/callback`: back from the sign-in; on to the account page.
pub async fn callback(svc: &Services, browser: Option<&str>, p: CallbackParams<'_>, now: i64) -> Outcome {
    let Some(state) = p.state.filter(|s| !s.is_empty() && s.len() <= 512) else {
        return page(400, "interaction_expired", Locale::Vi);
    };
    let pending = match svc.ephemeral.take(Namespace::Interaction, &key(state), now).await {
        Ok(Taken::Fresh(bytes)) => decode::<Pending>(&bytes),
        Ok(_) => None,
        Err(_) => return page(503, "temporarily_unavailable", Locale::Vi),
    };
    let Some(pending) = pending else { return page(400, "interaction_expired", Locale::Vi) };
    let locale = pending.locale;
    let same_browser =
        browser.is_some_and(|b| constant_time_eq(token_digest(b).as_bytes(), pending.browser_digest.as_bytes()));
    if !same_browser {
        return page(400, "interaction_expired", locale);
    }
    if let Some(error) = p.error {
        let message = match error {
            "unmet_authentication_requirements" => "account_level2_unmet",
            _ => "account_signin_failed",
        };
        return page(403, message, locale);
    }
    let Some(code) = p.code.filter(|c| !c.is_empty() && c.len() <= 512) else {
        return page(400, "account_signin_failed", locale);
    };
    // The code is only taken: this client needs no tokens, the session cookie the
    // sign-in set is what the account pages read. Taking it proves the flow ended here.
    let record = match svc.ephemeral.take(Namespace::Code, &token_digest(code), now).await {
        Ok(Taken::Fresh(bytes)) => decode::<super::issue::CodeRecord>(&bytes),
        Ok(_) => None,
        Err(_) => return page(503, "temporarily_unavailable", locale),
    };
    if record.is_none_or(|r| r.client_id != CLIENT_ID) {
        return page(400, "account_signin_failed", locale);
    }
    let lang = if locale == Locale::En { "?lang=en" } else { "" };
    Outcome::Redirect(format!("{}{lang}", pending.next.path()))
}
