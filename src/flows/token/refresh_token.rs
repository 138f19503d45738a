//! RFC 6749 §6 with rotation (RFC 9700 §4.14.2): every use of a refresh token returns a
//! new one; presenting a used one revokes the whole family and its access tokens. The
//! scope may be narrowed, never widened.

use serde_json::{Value, json};

use super::mint::{self, AccessTokenRecord, Authentication, IdTokenSubject};
use super::{audience, invalid_grant};
use crate::crypto::opaque::{random_token, token_digest};
use crate::flows::{Services, ephemeral_failed, store_failed};
use crate::identity::PersonStatus;
use crate::protocol::client::Client;
use crate::protocol::params::Params;
use crate::protocol::scope::Scopes;
use crate::protocol::{ErrorCode, OAuthError};
use crate::store::{RefreshLookup, Rotation};

/// Handles `grant_type=refresh_token`.
pub async fn refresh(svc: &Services, client: &Client, params: &Params, now: i64) -> Result<Value, OAuthError> {
    let presented = token_digest(params.require("refresh_token")?);
    // Check the binding and the scope before rotating, so a refused request burns nothing.
    let current = match svc.store.find_refresh_token(&presented, now).await.map_err(store_failed)? {
        RefreshLookup::Current(f) => f,
        RefreshLookup::Used { family_id } => {
            revoke_family(svc, &family_id, now).await?;
            tracing::warn!(client = %client.client_id, "refresh token reused; family revoked");
            let actor = format!("client:{}", client.client_id);
            crate::flows::audit(svc, now, actor, "grant.revoke.refresh_reused", Some(family_id.clone()), "success")
                .await;
            return Err(invalid_grant("the refresh token was already used"));
        }
        RefreshLookup::Invalid => return Err(invalid_grant("the refresh token is invalid or expired")),
    };
    if current.client_id != client.client_id {
        return Err(invalid_grant("the refresh token was issued to another client"));
    }
    // The client's minimum acr holds at refresh too: a family issued below it (before
    // the minimum was raised) is refused, and the person signs in again.
    if let Some(min) = client.minimum_acr.as_deref()
        && !crate::protocol::acr::satisfies(&current.acr, true, min)
    {
        return Err(invalid_grant("the client requires a stronger authentication; sign in again"));
    }
    let scope = match params.get("scope")? {
        None => current.scope.clone(),
        Some(raw) => {
            let asked = Scopes::parse(raw);
            if asked.is_empty() || !asked.is_subset_of(&current.scope) {
                return Err(OAuthError::new(ErrorCode::InvalidScope, "a refresh may narrow the scope, never widen it"));
            }
            asked
        }
    };
    let aud = audience(svc, params)?;
    let person = svc.store.find_person(&current.person_id).await.map_err(store_failed)?;
    let Some(person) = person.filter(|p| p.status == PersonStatus::Active) else {
        return Err(invalid_grant("the person can no longer sign in"));
    };
    let next = random_token();
    let idle = client.refresh_token_idle_lifetime.unwrap_or(svc.config.refresh_token_idle_ttl);
    let family = match svc
        .store
        .rotate_refresh_token(&presented, &token_digest(&next), now, now + idle)
        .await
        .map_err(store_failed)?
    {
        Rotation::Rotated(f) => f,
        Rotation::Reused { family_id } => {
            // Lost a race with a concurrent use of the same token: that is reuse too.
            revoke_family(svc, &family_id, now).await?;
            return Err(invalid_grant("the refresh token was already used"));
        }
        Rotation::Invalid => return Err(invalid_grant("the refresh token is invalid or expired")),
    };
    let sub = svc.subject_for(client, &person.id);
    let org = crate::flows::org_context::org_claims(svc, client, &scope, &person.id, family.acting_for.as_deref(), now)
        .await?;
    let at_record = AccessTokenRecord {
        jti: uuid::Uuid::now_v7().to_string(),
        grant_id: Some(family.family_id.clone()),
        client_id: client.client_id.clone(),
        person_id: Some(person.id.0.clone()),
        sub: sub.clone(),
        scope: scope.clone(),
        aud,
        iat: now,
        exp: now + svc.config.access_token_ttl,
        acr: Some(family.acr.clone()),
        auth_time: Some(family.auth_time),
        amr: family.amr.clone(),
        claims: family.claims.clone(),
        acting_for: family.acting_for.clone(),
        org: org.clone(),
    };
    let access_token = mint::access_token(svc, client, &at_record, now).await?;
    let mut response = json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": svc.config.access_token_ttl,
        "refresh_token": next,
        "scope": scope.to_string(),
    });
    if scope.contains("openid") {
        // OIDC Core §12.2: same sub, auth_time and acr as the original; no nonce.
        let authn = Authentication {
            acr: &family.acr,
            amr: &family.amr,
            auth_time: family.auth_time,
            sid: &family.sid,
            nonce: None,
        };
        let subject = IdTokenSubject { person: &person, sub: &sub, claims: &family.claims, org: &org };
        let id_token = mint::id_token(svc, client, subject, &authn, &access_token, now)?;
        if let Some(obj) = response.as_object_mut() {
            obj.insert("id_token".into(), id_token.into());
        }
    }
    Ok(response)
}

/// Revokes a family and every access token issued from it.
pub async fn revoke_family(svc: &Services, family_id: &str, now: i64) -> Result<(), OAuthError> {
    svc.store.revoke_refresh_family(family_id, now).await.map_err(store_failed)?;
    svc.ephemeral.revoke_by_grant(family_id).await.map_err(ephemeral_failed)
}
