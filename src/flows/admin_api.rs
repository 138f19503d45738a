//! Who may call the admin REST API: the bearer of an access token dinhdanh issued
//! through client credentials (a service, not a person), to audience the issuer or the
//! API's own URL, carrying the operation's admin scope, whose client is still active and
//! still registered for that scope. For `admin:verification` only, a person-bound token
//! from the authorization-code flow is accepted too: the person is the acting officer.
//! The operations themselves are `flows::admin`'s, shared with the CLI.

use super::Services;
use super::token::mint::{AccessTokenRecord, find_access_token};
use crate::protocol::{ErrorCode, OAuthError};

/// Path prefix of the admin API.
pub const BASE_PATH: &str = "/admin/api/v1";

/// Why a call to the admin API is refused (RFC 6750 §3.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No token: 401 with a bare challenge.
    NoToken,
    /// 401 `invalid_token`.
    InvalidToken(&'static str),
    /// 403 `insufficient_scope`, naming the scope needed.
    InsufficientScope(&'static str),
    /// The ephemeral or durable store failed: 503.
    Unavailable,
}

/// Checks the bearer token of an admin API call that needs `scope`.
pub async fn authorize(
    svc: &Services,
    token: Option<&str>,
    scope: &'static str,
    now: i64,
) -> Result<AccessTokenRecord, Refusal> {
    let token = token.ok_or(Refusal::NoToken)?;
    let record = find_access_token(svc, token, now).await.map_err(|e: OAuthError| {
        if e.code == ErrorCode::TemporarilyUnavailable {
            Refusal::Unavailable
        } else {
            Refusal::InvalidToken("the access token is not valid")
        }
    })?;
    let Some(record) = record else { return Err(Refusal::InvalidToken("the access token is not valid")) };
    // Person-bound tokens (authorization-code flow) open only the verification
    // operations, where the person is the acting officer (`flows::verification`).
    if record.person_id.is_some() && scope != super::verification::SCOPE_VERIFICATION {
        return Err(Refusal::InvalidToken("the admin API takes client-credentials tokens of a service client"));
    }
    let api = format!("{}{BASE_PATH}", svc.config.issuer);
    if !record.aud.iter().any(|a| *a == svc.config.issuer || *a == api) {
        return Err(Refusal::InvalidToken("the access token is not for this API"));
    }
    if !record.scope.contains(scope) {
        return Err(Refusal::InsufficientScope(scope));
    }
    // A disabled or narrowed client loses the API at once, not when its token expires.
    let client = svc.store.find_client(&record.client_id).await.map_err(|e| {
        tracing::error!(error = %e, "durable store failed");
        Refusal::Unavailable
    })?;
    match client {
        Some(c) if c.client.scope.contains(scope) => Ok(record),
        Some(_) => Err(Refusal::InsufficientScope(scope)),
        None => Err(Refusal::InvalidToken("the access token's client is no longer active")),
    }
}
