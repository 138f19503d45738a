//! The token endpoint: client authentication (client_secret_basic, client_secret_post,
//! none), then the authorization_code grant — take the code once, check its bindings
//! (client, redirect URI, PKCE), issue a JWT access token and an ID token. A replayed code
//! revokes everything issued from it.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::issue::CodeRecord;
use super::{Services, decode, encode, ephemeral_failed, store_failed};
use crate::crypto::jwt::{self, TYP_ACCESS_TOKEN, TYP_JWT};
use crate::crypto::opaque::{token_digest, verify_digest};
use crate::ephemeral::{Namespace, Taken};
use crate::identity::{PersonId, PersonStatus};
use crate::protocol::claims::{self, ClaimsRequest};
use crate::protocol::client::{AuthMethod, Client, SigningAlg};
use crate::protocol::params::Params;
use crate::protocol::scope::Scopes;
use crate::protocol::{ErrorCode, OAuthError};

/// Credentials from the `Authorization: Basic` header (RFC 6749 §2.3.1), already
/// form-urldecoded.
#[derive(Debug, Clone)]
pub struct BasicCredentials {
    /// Client id.
    pub client_id: String,
    /// Client secret.
    pub client_secret: String,
}

/// What the access token's `jti` record holds, for userinfo and revocation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessTokenRecord {
    /// Grant the token belongs to.
    pub grant_id: String,
    /// Client.
    pub client_id: String,
    /// Person.
    pub person_id: String,
    /// Granted scope.
    pub scope: Scopes,
    /// `sub` as the client sees it.
    pub sub: String,
    /// Requested userinfo claims.
    pub claims: ClaimsRequest,
}

fn invalid_client(msg: &str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidClient, msg)
}

fn invalid_grant(msg: &str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidGrant, msg)
}

/// RFC 6749 §2.3: authenticates the client by its registered method, exactly one method
/// per request.
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
    match params.get("grant_type")? {
        None => Err(OAuthError::invalid_request("grant_type is missing")),
        Some("authorization_code") => authorization_code(svc, &client, params, now).await,
        Some(_) => Err(OAuthError::new(ErrorCode::UnsupportedGrantType, "only authorization_code is supported")),
    }
}

async fn authorization_code(svc: &Services, client: &Client, params: &Params, now: i64) -> Result<Value, OAuthError> {
    if !client.grant_types.iter().any(|g| g == "authorization_code") {
        return Err(OAuthError::new(ErrorCode::UnauthorizedClient, "the client may not use this grant"));
    }
    let code = params.require("code")?;
    let record = match svc.ephemeral.take(Namespace::Code, &token_digest(code), now).await.map_err(ephemeral_failed)? {
        Taken::Missing => return Err(invalid_grant("the code is invalid or expired")),
        Taken::Replayed(raw) => {
            // RFC 6749 §4.1.2 / RFC 9700 §4.5: a second use revokes what the first issued.
            if let Some(rec) = decode::<CodeRecord>(&raw) {
                svc.ephemeral.revoke_by_grant(&rec.grant_id).await.map_err(ephemeral_failed)?;
                tracing::warn!(client = %rec.client_id, "authorization code replayed; grant revoked");
            }
            return Err(invalid_grant("the code was already used"));
        }
        Taken::Fresh(raw) => {
            decode::<CodeRecord>(&raw).ok_or_else(|| invalid_grant("the code is invalid or expired"))?
        }
    };
    // From here on the code is consumed: any failure burns it.
    if record.client_id != client.client_id {
        return Err(invalid_grant("the code was issued to another client"));
    }
    if params.get("redirect_uri")? != Some(record.redirect_uri.as_str()) {
        return Err(invalid_grant("redirect_uri does not match the authorization request"));
    }
    match &record.code_challenge {
        Some(ch) => ch.verify(params.get("code_verifier")?)?,
        // RFC 9700 §4.8.2: a verifier without a challenge is a downgrade attempt.
        None if params.has("code_verifier") => {
            return Err(invalid_grant("code_verifier sent but no code_challenge was"));
        }
        None => {}
    }
    let person = svc.store.find_person(&PersonId(record.person_id.clone())).await.map_err(store_failed)?;
    let Some(person) = person.filter(|p| p.status == PersonStatus::Active) else {
        return Err(invalid_grant("the person can no longer sign in"));
    };
    let sub = svc.subject_for(client, &person.id);
    let jti = uuid::Uuid::now_v7().to_string();
    let issuer = &svc.config.issuer;
    // RFC 9068 §2.2: a JWT access token, verifiable offline against our JWKS.
    let at_claims = json!({
        "iss": issuer, "sub": sub, "aud": issuer, "client_id": client.client_id,
        "exp": now + svc.config.access_token_ttl, "iat": now, "jti": jti,
        "scope": record.scope.to_string(), "acr": record.acr, "auth_time": record.auth_time,
    });
    // Access tokens are ES256: resource servers verify them offline against the JWKS.
    let access_token = jwt::sign(&svc.keys, SigningAlg::ES256, TYP_ACCESS_TOKEN, &at_claims)
        .map_err(|_| OAuthError::server_error())?;
    let at_record = AccessTokenRecord {
        grant_id: record.grant_id.clone(),
        client_id: client.client_id.clone(),
        person_id: person.id.0.clone(),
        scope: record.scope.clone(),
        sub: sub.clone(),
        claims: record.claims.clone(),
    };
    svc.ephemeral
        .put(
            Namespace::AccessToken,
            &jti,
            encode(&at_record)?,
            svc.config.access_token_ttl,
            Some(&record.grant_id),
            now,
        )
        .await
        .map_err(ephemeral_failed)?;
    let mut id_claims = json!({
        "iss": issuer, "sub": sub, "aud": client.client_id, "azp": client.client_id,
        "exp": now + svc.config.id_token_ttl, "iat": now, "auth_time": record.auth_time,
        "acr": record.acr, "amr": record.amr, "sid": record.sid,
        "at_hash": jwt::left_half_hash(&access_token, client.id_token_signed_response_alg),
    });
    if let Some(obj) = id_claims.as_object_mut() {
        if let Some(n) = &record.nonce {
            obj.insert("nonce".into(), n.clone().into());
        }
        let extra = claims::release_id_token(&client.scope, &record.claims, &claims::person_claims(&person));
        for (k, v) in extra {
            obj.entry(k).or_insert(v);
        }
    }
    let id_token = jwt::sign(&svc.keys, client.id_token_signed_response_alg, TYP_JWT, &id_claims)
        .map_err(|_| OAuthError::server_error())?;
    Ok(json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": svc.config.access_token_ttl,
        "id_token": id_token,
        "scope": record.scope.to_string(),
    }))
}
