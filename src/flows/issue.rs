//! Issuing what an authorization ends in: the authorization code (a digest-keyed,
//! single-use ephemeral record bound to client, redirect URI and PKCE challenge) or an
//! error response to the validated redirect URI, always with `state` and `iss`.

use serde::{Deserialize, Serialize};

use super::{BrowserSession, Services, encode, ephemeral_failed};
use crate::crypto::opaque::{random_token, token_digest};
use crate::ephemeral::Namespace;
use crate::protocol::OAuthError;
use crate::protocol::acr;
use crate::protocol::authorize::{AuthorizeRequest, Target};
use crate::protocol::claims::ClaimsRequest;
use crate::protocol::pkce::CodeChallenge;
use crate::protocol::prompt::is_fresh;
use crate::protocol::redirect_uri::{AuthorizationResponse, build_response};
use crate::protocol::scope::Scopes;

/// What an authorization code stands for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CodeRecord {
    /// The grant every token of this code belongs to.
    pub grant_id: String,
    /// The client it was issued to.
    pub client_id: String,
    /// The redirect URI it was sent to.
    pub redirect_uri: String,
    /// PKCE challenge to verify.
    pub code_challenge: Option<CodeChallenge>,
    /// Granted scope.
    pub scope: Scopes,
    /// Nonce for the ID token.
    pub nonce: Option<String>,
    /// The person.
    pub person_id: String,
    /// Authentication time.
    pub auth_time: i64,
    /// Reported acr.
    pub acr: String,
    /// amr values.
    pub amr: Vec<String>,
    /// Session id.
    pub sid: String,
    /// Requested claims.
    pub claims: ClaimsRequest,
    /// The representation the person acts through (`None`: for themselves).
    #[serde(default)]
    pub acting_for: Option<String>,
}

/// An error response to a validated target (RFC 6749 §4.1.2.1, RFC 9207 `iss`).
pub fn error_response(issuer: &str, target: &Target, err: &OAuthError) -> AuthorizationResponse {
    let mut fields = vec![("error".to_owned(), err.code.as_str().to_owned())];
    if !err.description.is_empty() {
        fields.push(("error_description".to_owned(), err.description.clone()));
    }
    if let Some(s) = &target.state {
        fields.push(("state".to_owned(), s.clone()));
    }
    fields.push(("iss".to_owned(), issuer.to_owned()));
    build_response(&target.redirect_uri, target.response_mode, fields)
}

/// Adds `client_id` to the clients a browser session signed in to, so logout can notify
/// them all.
async fn remember_client(svc: &Services, sid: &str, client_id: &str, now: i64) -> Result<(), OAuthError> {
    let key = token_digest(sid);
    let raw = svc.ephemeral.get(Namespace::SessionClients, &key, now).await.map_err(ephemeral_failed)?;
    let mut clients: Vec<String> = raw.and_then(|r| super::decode(&r)).unwrap_or_default();
    if clients.iter().any(|c| c == client_id) {
        return Ok(());
    }
    clients.push(client_id.to_owned());
    svc.ephemeral
        .put(Namespace::SessionClients, &key, encode(&clients)?, svc.config.session_ttl, None, now)
        .await
        .map_err(ephemeral_failed)
}

/// The clients the session `sid` signed in to.
pub async fn session_clients(svc: &Services, sid: &str, now: i64) -> Result<Vec<String>, OAuthError> {
    let raw = svc.ephemeral.get(Namespace::SessionClients, &token_digest(sid), now).await.map_err(ephemeral_failed)?;
    Ok(raw.and_then(|r| super::decode(&r)).unwrap_or_default())
}

/// Issues a code for `req` on `session` and builds the success response.
pub async fn issue_code(
    svc: &Services,
    req: &AuthorizeRequest,
    session: &BrowserSession,
    now: i64,
) -> Result<AuthorizationResponse, OAuthError> {
    let achieved = acr::canonical(&session.acr).unwrap_or(acr::LOCAL_BASIC);
    let fresh = is_fresh(session.auth_time, req.freshness_max_age(), now);
    let reported = req.acr_demand().report(achieved, fresh);
    let code = random_token();
    let grant_id = uuid::Uuid::now_v7().to_string();
    let record = CodeRecord {
        grant_id: grant_id.clone(),
        client_id: req.client_id.clone(),
        redirect_uri: req.target.redirect_uri.clone(),
        code_challenge: req.code_challenge.clone(),
        scope: req.scope.clone(),
        nonce: req.nonce.clone(),
        person_id: session.person_id.clone(),
        auth_time: session.auth_time,
        acr: reported.to_owned(),
        amr: session.amr.clone(),
        sid: session.sid.clone(),
        claims: req.claims.clone(),
        acting_for: session.acting_for.clone(),
    };
    svc.ephemeral
        .put(Namespace::Code, &token_digest(&code), encode(&record)?, svc.config.code_ttl, Some(&grant_id), now)
        .await
        .map_err(ephemeral_failed)?;
    remember_client(svc, &session.sid, &req.client_id, now).await?;
    let mut fields = vec![("code".to_owned(), code)];
    if let Some(s) = &req.target.state {
        fields.push(("state".to_owned(), s.clone()));
    }
    fields.push(("iss".to_owned(), svc.config.issuer.clone()));
    Ok(build_response(&req.target.redirect_uri, req.target.response_mode, fields))
}
