//! RFC 6749 §4.4: a confidential service client gets an access token for itself
//! (`sub` = its client id), for the scopes it is registered for, at the audience of an
//! RFC 8707 `resource`.

use serde_json::{Value, json};

use super::audience;
use super::mint::{self, AccessTokenRecord};
use crate::flows::Services;
use crate::protocol::client::Client;
use crate::protocol::params::Params;
use crate::protocol::scope::Scopes;
use crate::protocol::{ErrorCode, OAuthError};

/// Person-only scopes a service token never carries.
const PERSON_SCOPES: &[&str] = &["openid", "profile", "email", "phone", "address", "offline_access", "vn_pin"];

/// Handles `grant_type=client_credentials`.
pub async fn issue(svc: &Services, client: &Client, params: &Params, now: i64) -> Result<Value, OAuthError> {
    let allowed =
        Scopes::parse(&client.scope.iter().filter(|s| !PERSON_SCOPES.contains(s)).collect::<Vec<_>>().join(" "));
    let scope = match params.get("scope")? {
        None => allowed,
        Some(raw) => {
            let asked = Scopes::parse(raw);
            if !asked.is_subset_of(&allowed) {
                return Err(OAuthError::new(ErrorCode::InvalidScope, "the client is not registered for that scope"));
            }
            asked
        }
    };
    let record = AccessTokenRecord {
        jti: uuid::Uuid::now_v7().to_string(),
        grant_id: None,
        client_id: client.client_id.clone(),
        person_id: None,
        sub: client.client_id.clone(),
        scope: scope.clone(),
        aud: audience(svc, params)?,
        iat: now,
        exp: now + svc.config.access_token_ttl,
        acr: None,
        auth_time: None,
        amr: Vec::new(),
        claims: Default::default(),
        acting_for: None,
        org: Default::default(),
    };
    let token = mint::access_token(svc, client, &record, now).await?;
    Ok(json!({
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": svc.config.access_token_ttl,
        "scope": scope.to_string(),
    }))
}
