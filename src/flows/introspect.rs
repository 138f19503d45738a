//! Token introspection (RFC 7662) for resource servers and clients, with the signed
//! JWT response of RFC 9701. A caller learns about a token only if it was issued to it or
//! names it as an audience; anything else is simply `{"active": false}`.

use serde_json::{Map, Value, json};

use super::token::mint::find_access_token;
use super::{Services, store_failed};
use crate::protocol::OAuthError;
use crate::protocol::client::Client;
use crate::protocol::params::Params;
use crate::store::RefreshLookup;

/// Introspects `token` for `caller`: the RFC 7662 §2.2 response members.
pub async fn introspect(
    svc: &Services,
    caller: &Client,
    params: &Params,
    now: i64,
) -> Result<Map<String, Value>, OAuthError> {
    let token = params.require("token")?;
    let hint = params.get("token_type_hint")?;
    let inactive = || {
        let mut m = Map::new();
        m.insert("active".into(), false.into());
        m
    };
    // RFC 7662 §2.1: the hint only orders the search.
    let order: [bool; 2] = if hint == Some("refresh_token") { [false, true] } else { [true, false] };
    for access in order {
        if access {
            if let Some(r) = find_access_token(svc, token, now).await? {
                if r.client_id != caller.client_id && !r.aud.contains(&caller.client_id) {
                    return Ok(inactive());
                }
                let mut m = json!({
                    "active": true, "token_type": "Bearer", "scope": r.scope.to_string(), "client_id": r.client_id,
                    "sub": r.sub, "aud": r.aud, "iss": svc.config.issuer, "iat": r.iat, "exp": r.exp, "jti": r.jti,
                });
                if let Some(obj) = m.as_object_mut() {
                    if let Some(acr) = r.acr {
                        obj.insert("acr".into(), acr.into());
                    }
                    if let Some(t) = r.auth_time {
                        obj.insert("auth_time".into(), t.into());
                    }
                    if !r.amr.is_empty() {
                        obj.insert("amr".into(), r.amr.into());
                    }
                    // The organisation context, as the JWT access token carries it.
                    obj.extend(r.org);
                }
                return Ok(m.as_object().cloned().unwrap_or_default());
            }
        } else if let RefreshLookup::Current(f) = svc
            .store
            .find_refresh_token(&crate::crypto::opaque::token_digest(token), now)
            .await
            .map_err(store_failed)?
        {
            if f.client_id != caller.client_id {
                return Ok(inactive());
            }
            let client = svc.clients.get(svc.store.as_ref(), &f.client_id, now).await.map_err(store_failed)?;
            let sub = client.map(|c| svc.subject_for(&c.client, &f.person_id)).unwrap_or_default();
            let m = json!({
                "active": true, "token_type": "refresh_token", "scope": f.scope.to_string(), "client_id": f.client_id,
                "sub": sub, "iss": svc.config.issuer, "iat": f.created_at, "exp": f.expires_at,
                "acr": f.acr, "amr": f.amr, "auth_time": f.auth_time,
            });
            return Ok(m.as_object().cloned().unwrap_or_default());
        }
    }
    Ok(inactive())
}

/// RFC 9701 §5: the introspection response as a signed JWT for `caller`.
pub fn as_jwt(svc: &Services, caller: &Client, response: Map<String, Value>, now: i64) -> Result<String, OAuthError> {
    let claims = json!({
        "iss": svc.config.issuer, "aud": caller.client_id, "iat": now, "token_introspection": response,
    });
    crate::crypto::jwt::sign(&svc.keys, caller.id_token_signed_response_alg, "token-introspection+jwt", &claims)
        .map_err(|_| OAuthError::server_error())
}
