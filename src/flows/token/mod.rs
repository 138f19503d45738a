//! The token endpoint: client authentication (client_secret_basic, client_secret_post,
//! none) and dispatch to one module per grant type.

use serde_json::Value;

use super::{Services, ephemeral_failed, store_failed};
use crate::crypto::assertion::{peek_claims, verify_with_jwks, verify_with_secret};
use crate::crypto::opaque::{token_digest, verify_digest};
use crate::ephemeral::Namespace;
use crate::protocol::client::{AuthMethod, Client};
use crate::protocol::client_assertion::{JWT_BEARER, LEEWAY, check_claims};
use crate::protocol::discovery::paths;
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
/// per request: HTTP Basic, secret in the body, a signed JWT assertion (RFC 7523,
/// `private_key_jwt`), or none for public clients. Used by the token, introspection and
/// revocation endpoints. `now` bounds assertion lifetimes; their `jti`s are single-use
/// across every node.
pub async fn authenticate_client(
    svc: &Services,
    params: &Params,
    basic: Option<BasicCredentials>,
    now: i64,
) -> Result<Client, OAuthError> {
    let body_id = params.get("client_id")?;
    let body_secret = params.get("client_secret")?;
    let assertion = match (params.get("client_assertion_type")?, params.get("client_assertion")?) {
        (None, None) => None,
        (Some(t), Some(a)) if t == JWT_BEARER => Some(a),
        (Some(_), Some(_)) => return Err(invalid_client("client_assertion_type must be jwt-bearer (RFC 7523)")),
        _ => return Err(OAuthError::invalid_request("client_assertion and client_assertion_type go together")),
    };
    let methods = usize::from(basic.is_some()) + usize::from(body_secret.is_some()) + usize::from(assertion.is_some());
    if methods > 1 {
        return Err(OAuthError::invalid_request("use one client authentication method, not two"));
    }
    if let Some(assertion) = assertion {
        return authenticate_assertion(svc, body_id, assertion, now).await;
    }
    let (client_id, presented, method) = match (&basic, body_secret) {
        (Some(b), _) => {
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
    let stored = svc.clients.get(svc.store.as_ref(), client_id, now).await.map_err(store_failed)?;
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

/// `private_key_jwt` / `client_secret_jwt`: the assertion names the client, is signed by
/// one of its registered keys (or MACed with its secret) with its registered algorithm,
/// is addressed to us, short-lived, and new.
async fn authenticate_assertion(
    svc: &Services,
    body_id: Option<&str>,
    assertion: &str,
    now: i64,
) -> Result<Client, OAuthError> {
    let failed = || invalid_client("client authentication failed");
    let claimed = peek_claims(assertion).and_then(|c| c["sub"].as_str().map(str::to_owned)).ok_or_else(failed)?;
    if body_id.is_some_and(|id| id != claimed) {
        return Err(failed());
    }
    let stored = svc.clients.get(svc.store.as_ref(), &claimed, now).await.map_err(store_failed)?.ok_or_else(failed)?;
    let client = stored.client;
    let claims = match client.token_endpoint_auth_method {
        AuthMethod::PrivateKeyJwt => {
            let jwks = match (&client.jwks, &client.jwks_uri) {
                (Some(j), _) => j.clone(),
                (None, Some(uri)) => {
                    crate::outbound::fetch_json(uri, &crate::outbound::FetchLimits::from_config(&svc.config))
                        .await
                        .map_err(|e| {
                            tracing::warn!(client = %client.client_id, error = %e, "jwks_uri fetch failed");
                            failed()
                        })?
                }
                (None, None) => return Err(failed()),
            };
            let alg = client.token_endpoint_auth_signing_alg.as_deref().unwrap_or("RS256");
            verify_with_jwks(assertion, &jwks, alg).map_err(|_| failed())?
        }
        AuthMethod::ClientSecretJwt => {
            // The HMAC key is the secret itself, kept sealed under the KEK.
            let secret = stored
                .secret_digest
                .as_deref()
                .and_then(|s| crate::crypto::client_secret::open(&client.client_id, s, &svc.kek))
                .ok_or_else(failed)?;
            let alg = client.token_endpoint_auth_signing_alg.as_deref().unwrap_or("HS256");
            verify_with_secret(assertion, &secret, alg).map_err(|_| failed())?
        }
        _ => return Err(failed()),
    };
    let issuer = svc.config.issuer.as_str();
    let endpoints: Vec<String> =
        [paths::TOKEN, paths::INTROSPECT, paths::REVOKE].iter().map(|p| format!("{issuer}{p}")).collect();
    let mut audiences: Vec<&str> = endpoints.iter().map(String::as_str).collect();
    audiences.push(issuer);
    let (jti, exp) = check_claims(&claims, &client.client_id, &audiences, now)?;
    // Single use across every node: the first increment wins.
    let key = token_digest(&format!("{}\u{0}{jti}", client.client_id));
    let seen = svc
        .ephemeral
        .incr(Namespace::Replay, &key, (exp - now).max(1) + LEEWAY, now)
        .await
        .map_err(ephemeral_failed)?;
    if seen > 1 {
        return Err(invalid_client("the client assertion was already used"));
    }
    Ok(client)
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
    let client = authenticate_client(svc, params, basic, now).await?;
    let grant = params.get("grant_type")?.ok_or_else(|| OAuthError::invalid_request("grant_type is missing"))?;
    if !crate::protocol::client::grant::SUPPORTED.contains(&grant) {
        return Err(OAuthError::new(ErrorCode::UnsupportedGrantType, format!("grant_type `{grant}` is not supported")));
    }
    if !client.has_grant(grant) {
        return Err(OAuthError::new(ErrorCode::UnauthorizedClient, "the client is not registered for this grant type"));
    }
    let result = match grant {
        "authorization_code" => authorization_code::redeem(svc, &client, params, now).await,
        "refresh_token" => refresh_token::refresh(svc, &client, params, now).await,
        _ => client_credentials::issue(svc, &client, params, now).await,
    };
    if result.is_ok() {
        metrics::counter!(crate::telemetry::TOKENS_ISSUED, "grant" => grant.to_owned()).increment(1);
    }
    result
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
