//! The userinfo endpoint (OIDC Core §5.3): a bearer access token we issued and have not
//! revoked, its person, and the claims its scope and `claims` request release.

use serde_json::{Map, Value};

use super::token::AccessTokenRecord;
use super::{Services, decode, ephemeral_failed, store_failed};
use crate::crypto::jwt::{self, TYP_ACCESS_TOKEN};
use crate::ephemeral::Namespace;
use crate::identity::{PersonId, PersonStatus};
use crate::protocol::claims;
use crate::protocol::{ErrorCode, OAuthError};

fn invalid_token(msg: &str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidToken, msg)
}

/// Returns the claims for `access_token`.
pub async fn userinfo(svc: &Services, access_token: &str, now: i64) -> Result<Map<String, Value>, OAuthError> {
    let v = jwt::verify(&svc.keys, access_token, Some(TYP_ACCESS_TOKEN))
        .map_err(|_| invalid_token("the access token is invalid"))?;
    let c = &v.claims;
    if c["iss"].as_str() != Some(svc.config.issuer.as_str()) {
        return Err(invalid_token("the access token is invalid"));
    }
    if c["exp"].as_i64().is_none_or(|exp| exp <= now) {
        return Err(invalid_token("the access token has expired"));
    }
    let jti = c["jti"].as_str().ok_or_else(|| invalid_token("the access token is invalid"))?;
    let raw = svc.ephemeral.get(Namespace::AccessToken, jti, now).await.map_err(ephemeral_failed)?;
    let Some(record) = raw.and_then(|r| decode::<AccessTokenRecord>(&r)) else {
        return Err(invalid_token("the access token was revoked"));
    };
    if !record.scope.contains("openid") {
        return Err(OAuthError::new(ErrorCode::InsufficientScope, "the access token lacks the openid scope"));
    }
    let person = svc.store.find_person(&PersonId(record.person_id.clone())).await.map_err(store_failed)?;
    let Some(person) = person.filter(|p| p.status == PersonStatus::Active) else {
        return Err(invalid_token("the access token is no longer valid"));
    };
    let client = svc.store.find_client(&record.client_id).await.map_err(store_failed)?;
    let Some(client) = client else { return Err(invalid_token("the client is no longer registered")) };
    let mut out =
        claims::release_userinfo(&record.scope, &client.client.scope, &record.claims, &claims::person_claims(&person));
    out.insert("sub".into(), record.sub.into());
    Ok(out)
}
