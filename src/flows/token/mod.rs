//! The token endpoint: client authentication (client_secret_basic, client_secret_post,
//! none) and dispatch to one module per grant type.

use serde_json::Value;

use super::{Services, store_failed};
use crate::crypto::opaque::verify_digest;
use crate::protocol::client::{AuthMethod, Client};
use crate::protocol::params::Params;
use crate::protocol::{ErrorCode, OAuthError};

pub mod authorization_code;
pub mod client_credentials;
pub mod mint;
pub mod refresh_token;

pub use mint::AccessTokenRecord;

/// Credentials from the `Authorization: Basic` header (RFC 6749 §2.3.1), already
/// form-urldecoded.
#[derive(Debug, Clone)]
pub struct BasicCredentials {
    /// Client id.
    pub client_id: String,
    /// Client secret.
    pub client_secret: String,
}

fn invalid_client(msg: &str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidClient, msg)
}

/// `invalid_grant` with a description.
pub(crate) fn invalid_grant(msg: &str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidGrant, msg)
}

/// RFC 6749 §2.3: authenticates the client by its registered method, exactly one method
/// per request. Used by the token, introspection and revocation endpoints.
pub async fn authenticate_client(
    svc: &Services,
    params: &Params,
    basic: Option<BasicCredentials>,
) -> Result<Client, OAuthError> {
    let body_id = params.get("client_id")?;
    let body_secret = params.get("client_secret")?;
    let (client_id, presented, method) = match (&basic, body_secret) {
        (Some(_), Some(_)) => return Err(OAuthError::invalid_request("use one client authentication method, not two")),
        (Some(b), None) => {
            if body_id.is_some_and(|id| id != b.client_id) {
                return Err(OAuthError::invalid_request("client_id in the body differs from the Authorization header"));
            }
            (b.client_id.as_str(), Some(b.client_secret.as_str()), AuthMethod::ClientSecretBasic)
        }
        (None, Some(secret)) => {
            let id = body_id.ok_or_else(|| invalid_client("client_id is missing"))?;
            (id, Some(secret), AuthMethod::ClientSecretPost)
        }
        (None, None) => {
            let id = body_id.ok_or_else(|| invalid_client("client authentication is missing"))?;
            (id, None, AuthMethod::None)
        }
    };
    let stored = svc.store.find_client(client_id).await.map_err(store_failed)?;
    let Some(stored) = stored else { return Err(invalid_client("client authentication failed")) };
    if stored.client.token_endpoint_auth_method != method {
        return Err(invalid_client("client authentication failed"));
    }
    if let Some(presented) = presented {
        // Secrets are high-entropy: a digest and a constant-time compare, never a slow hash.
        let ok = stored.secret_digest.as_deref().is_some_and(|d| verify_digest(presented, d));
        if !ok {
            return Err(invalid_client("client authentication failed"));
        }
    }
    Ok(stored.client)
}

/// Handles a token request.
pub async fn token(
    svc: &Services,
    params: &Params,
    basic: Option<BasicCredentials>,
    now: i64,
) -> Result<Value, OAuthError> {
    if let Some(dup) = params.first_duplicate() {
        return Err(OAuthError::invalid_request(format!("parameter `{dup}` is repeated")));
    }
    let client = authenticate_client(svc, params, basic).await?;
    let grant = params.get("grant_type")?.ok_or_else(|| OAuthError::invalid_request("grant_type is missing"))?;
    if !crate::protocol::client::grant::SUPPORTED.contains(&grant) {
        return Err(OAuthError::new(ErrorCode::UnsupportedGrantType, format!("grant_type `{grant}` is not supported")));
    }
    if !client.has_grant(grant) {
        return Err(OAuthError::new(ErrorCode::UnauthorizedClient, "the client is not registered for this grant type"));
    }
    match grant {
        "authorization_code" => authorization_code::redeem(svc, &client, params, now).await,
        "refresh_token" => refresh_token::refresh(svc, &client, params, now).await,
        _ => client_credentials::issue(svc, &client, params, now).await,
    }
}

/// RFC 8707: the `resource` parameter, an absolute URI without a fragment, becomes the
/// access token's audience; without it the audience is the issuer (its userinfo).
pub(crate) fn audience(svc: &Services, params: &Params) -> Result<Vec<String>, OAuthError> {
    match params.get("resource")? {
        None => Ok(vec![svc.config.issuer.clone()]),
        Some(r) => {
            let ok = url::Url::parse(r).is_ok_and(|u| u.fragment().is_none()) && !r.contains('#');
            if ok {
                Ok(vec![r.to_owned()])
            } else {
                Err(OAuthError::new(ErrorCode::InvalidTarget, "resource must be an absolute URI without a fragment"))
            }
        }
    }
}
