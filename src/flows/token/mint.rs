//! Minting what the token endpoint returns: access tokens (RFC 9068 JWT or opaque, each
//! with an ephemeral record that makes it revocable and introspectable), ID tokens, and
//! refresh tokens; and finding an access token's record again.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::crypto::jwt::{self, TYP_ACCESS_TOKEN, TYP_JWT};
use crate::crypto::opaque::{random_token, token_digest};
use crate::ephemeral::Namespace;
use crate::flows::{Services, decode, encode, ephemeral_failed};
use crate::identity::Person;
use crate::protocol::OAuthError;
use crate::protocol::claim_policy;
use crate::protocol::claims::{self, ClaimsRequest};
use crate::protocol::client::{AccessTokenStrategy, Client, SigningAlg};
use crate::protocol::scope::Scopes;

/// What an access token stands for, kept in the ephemeral store for its lifetime: while
/// the record exists the token is active.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessTokenRecord {
    /// Token id (`jti`).
    pub jti: String,
    /// The grant it belongs to (absent for client credentials).
    pub grant_id: Option<String>,
    /// The client it was issued to.
    pub client_id: String,
    /// The person, when there is one.
    pub person_id: Option<String>,
    /// `sub`: the person's subject for this client, or the client id.
    pub sub: String,
    /// Granted scope.
    pub scope: Scopes,
    /// Audiences.
    pub aud: Vec<String>,
    /// Issued at.
    pub iat: i64,
    /// Expires at.
    pub exp: i64,
    /// Authentication context, for person tokens.
    pub acr: Option<String>,
    /// Authentication time, for person tokens.
    pub auth_time: Option<i64>,
    /// Authentication methods (RFC 8176), for person tokens.
    #[serde(default)]
    pub amr: Vec<String>,
    /// Requested userinfo claims.
    pub claims: ClaimsRequest,
    /// The representation the person acts through (`None`: for themselves).
    #[serde(default)]
    pub acting_for: Option<String>,
    /// `vn_org` / `vn_account_type` as released when the token was issued (`org` scope).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub org: Map<String, Value>,
}

/// The ephemeral key of an access token: the digest of the whole token string, JWT or
/// opaque. Holding a string whose digest names a live record proves it is a token we
/// issued, so finding a token costs one hash and one lookup — no signature to verify.
fn record_key(token: &str) -> String {
    token_digest(token)
}

/// Issues an access token for `record` (its `jti`, `iat`, `exp` already set).
pub async fn access_token(
    svc: &Services,
    client: &Client,
    record: &AccessTokenRecord,
    now: i64,
) -> Result<String, OAuthError> {
    let (token, key) = match client.access_token_strategy {
        AccessTokenStrategy::Jwt => {
            let aud: Value = match record.aud.as_slice() {
                [one] => one.clone().into(),
                many => many.to_vec().into(),
            };
            let mut c = json!({
                "iss": svc.config.issuer, "sub": record.sub, "aud": aud, "client_id": record.client_id,
                "exp": record.exp, "iat": record.iat, "jti": record.jti, "scope": record.scope.to_string(),
            });
            if let Some(obj) = c.as_object_mut() {
                if let Some(acr) = &record.acr {
                    obj.insert("acr".into(), acr.clone().into());
                }
                if let Some(t) = record.auth_time {
                    obj.insert("auth_time".into(), t.into());
                }
                for (k, v) in &record.org {
                    obj.insert(k.clone(), v.clone());
                }
                if !record.amr.is_empty() {
                    obj.insert("amr".into(), record.amr.clone().into());
                }
            }
            // ES256 for every access token: resource servers verify offline against the JWKS.
            let t = jwt::sign(&svc.keys, SigningAlg::ES256, TYP_ACCESS_TOKEN, &c)
                .map_err(|_| OAuthError::server_error())?;
            let key = record_key(&t);
            (t, key)
        }
        AccessTokenStrategy::Opaque => {
            let t = random_token();
            let key = record_key(&t);
            (t, key)
        }
    };
    let ttl = record.exp - now;
    svc.ephemeral
        .put(Namespace::AccessToken, &key, encode(record)?, ttl, record.grant_id.as_deref(), now)
        .await
        .map_err(ephemeral_failed)?;
    Ok(token)
}

/// The record of an active access token we issued, or `None` (unknown, forged, expired
/// or revoked).
pub async fn find_access_token(svc: &Services, token: &str, now: i64) -> Result<Option<AccessTokenRecord>, OAuthError> {
    if token.len() > 8 * 1024 {
        return Ok(None);
    }
    // A JWT whose key was removed from the JWK Set (say, compromised) is dead at once.
    if let Some(kid) = crate::crypto::jwt::header_kid(token)
        && svc.keys.current().find(&kid).is_none()
    {
        return Ok(None);
    }
    let raw = svc.ephemeral.get(Namespace::AccessToken, &record_key(token), now).await.map_err(ephemeral_failed)?;
    Ok(raw.and_then(|r| decode::<AccessTokenRecord>(&r)).filter(|r| r.exp > now))
}

/// Deletes the record of an access token (revocation).
pub async fn forget_access_token(svc: &Services, token: &str) -> Result<(), OAuthError> {
    svc.ephemeral.delete(Namespace::AccessToken, &record_key(token)).await.map_err(ephemeral_failed)
}

/// What an ID token says about the authentication.
#[derive(Debug, Clone)]
pub struct Authentication<'a> {
    /// `acr`.
    pub acr: &'a str,
    /// `amr`.
    pub amr: &'a [String],
    /// `auth_time`.
    pub auth_time: i64,
    /// `sid`.
    pub sid: &'a str,
    /// `nonce` (authorization code only, OIDC Core §12.2).
    pub nonce: Option<&'a str>,
}

/// Whom an ID token is about.
#[derive(Debug, Clone, Copy)]
pub struct IdTokenSubject<'a> {
    /// The person.
    pub person: &'a Person,
    /// Their `sub` for this client.
    pub sub: &'a str,
    /// Individually requested claims.
    pub claims: &'a ClaimsRequest,
    /// Claims of the organisation context (`org` scope; empty otherwise).
    pub org: &'a Map<String, Value>,
}

/// Signs an ID token with the client's algorithm.
pub fn id_token(
    svc: &Services,
    client: &Client,
    subject: IdTokenSubject<'_>,
    authn: &Authentication<'_>,
    access_token: &str,
    now: i64,
) -> Result<String, OAuthError> {
    let IdTokenSubject { person, sub, claims: claims_request, org } = subject;
    let alg = client.id_token_signed_response_alg;
    let mut c = json!({
        "iss": svc.config.issuer, "sub": sub, "aud": client.client_id, "azp": client.client_id,
        "exp": now + svc.config.id_token_ttl, "iat": now, "auth_time": authn.auth_time,
        "acr": authn.acr, "amr": authn.amr, "sid": authn.sid,
        "at_hash": jwt::left_half_hash(access_token, alg),
    });
    if let Some(obj) = c.as_object_mut() {
        if let Some(n) = authn.nonce {
            obj.insert("nonce".into(), n.into());
        }
        let mut extra = claims::release_id_token(&client.scope, claims_request, &claims::person_claims(person));
        extra.extend(org.clone());
        claim_policy::apply(client, person, &claims_request.id_token_verified, &mut extra, now);
        for (k, v) in extra {
            obj.entry(k).or_insert(v);
        }
        if client.claim_profile == crate::protocol::upstream::ClaimProfile::NationalPortal {
            // The portal's claim names; never the personal number in an ID token (it is
            // released by userinfo with the `vn_pin` scope).
            for (k, v) in crate::protocol::upstream::national_portal_claims(person, sub, false) {
                obj.entry(k).or_insert(v);
            }
            // Acting for an organisation: the portal's account type 2/3 and its names.
            if claim_policy::may_receive(client, "vn_org") {
                obj.extend(crate::protocol::org_claim::portal_claims(org));
            }
        }
    }
    jwt::sign(&svc.keys, alg, TYP_JWT, &c).map_err(|_| OAuthError::server_error())
}
