//! RFC 6749 §4.1.3 / OIDC Core §3.1.3: redeem an authorization code once. The code is
//! bound to its client, redirect URI and PKCE challenge; a replayed code revokes
//! everything issued from it (RFC 9700 §4.5); any failure after the take burns it.

use serde_json::{Value, json};

use super::mint::{self, AccessTokenRecord, Authentication, IdTokenSubject};
use super::{audience, invalid_grant};
use crate::crypto::opaque::{random_token, token_digest};
use crate::ephemeral::{Namespace, Taken};
use crate::flows::issue::CodeRecord;
use crate::flows::{Services, decode, ephemeral_failed, store_failed};
use crate::identity::{PersonId, PersonStatus};
use crate::protocol::OAuthError;
use crate::protocol::client::{Client, grant};
use crate::protocol::params::Params;
use crate::store::RefreshFamily;

/// Handles `grant_type=authorization_code`.
pub async fn redeem(svc: &Services, client: &Client, params: &Params, now: i64) -> Result<Value, OAuthError> {
    let code = params.require("code")?;
    let record = match svc.ephemeral.take(Namespace::Code, &token_digest(code), now).await.map_err(ephemeral_failed)? {
        Taken::Missing => return Err(invalid_grant("the code is invalid or expired")),
        Taken::Replayed(raw) => {
            if let Some(rec) = decode::<CodeRecord>(&raw) {
                svc.ephemeral.revoke_by_grant(&rec.grant_id).await.map_err(ephemeral_failed)?;
                svc.store.revoke_refresh_family(&rec.grant_id, now).await.map_err(store_failed)?;
                tracing::warn!(client = %rec.client_id, "authorization code replayed; grant revoked");
                let actor = format!("client:{}", rec.client_id);
                crate::flows::audit(
                    svc,
                    now,
                    actor,
                    "grant.revoke.code_replayed",
                    Some(rec.grant_id.clone()),
                    "success",
                )
                .await;
            }
            return Err(invalid_grant("the code was already used"));
        }
        Taken::Fresh(raw) => {
            decode::<CodeRecord>(&raw).ok_or_else(|| invalid_grant("the code is invalid or expired"))?
        }
    };
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
    // Read afresh, not from the person cache: no new token is issued on a record that
    // another node may have disabled in the last seconds.
    let person = svc.store.find_person(&PersonId(record.person_id.clone())).await.map_err(store_failed)?;
    let Some(person) = person.filter(|p| p.status == PersonStatus::Active) else {
        return Err(invalid_grant("the person can no longer sign in"));
    };
    let sub = svc.subject_for(client, &person.id);
    let org = crate::flows::org_context::org_claims(
        svc,
        client,
        &record.scope,
        &person.id,
        record.acting_for.as_deref(),
        now,
    )
    .await?;
    let at_record = AccessTokenRecord {
        jti: uuid::Uuid::now_v7().to_string(),
        grant_id: Some(record.grant_id.clone()),
        client_id: client.client_id.clone(),
        person_id: Some(person.id.0.clone()),
        sub: sub.clone(),
        scope: record.scope.clone(),
        aud: audience(svc, params)?,
        iat: now,
        exp: now + svc.config.access_token_ttl,
        acr: Some(record.acr.clone()),
        auth_time: Some(record.auth_time),
        amr: record.amr.clone(),
        claims: record.claims.clone(),
        acting_for: record.acting_for.clone(),
        org: org.clone(),
    };
    let access_token = mint::access_token(svc, client, &at_record, now).await?;
    let authn = Authentication {
        acr: &record.acr,
        amr: &record.amr,
        auth_time: record.auth_time,
        sid: &record.sid,
        nonce: record.nonce.as_deref(),
    };
    let subject = IdTokenSubject { person: &person, sub: &sub, claims: &record.claims, org: &org };
    let id_token = mint::id_token(svc, client, subject, &authn, &access_token, now)?;
    let mut response = json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": svc.config.access_token_ttl,
        "id_token": id_token,
        "scope": record.scope.to_string(),
    });
    // OIDC Core §11: offline access only when asked for, granted, and the client may refresh.
    if record.scope.contains("offline_access") && client.has_grant(grant::REFRESH_TOKEN) {
        let refresh = random_token();
        let absolute = client.refresh_token_absolute_lifetime.unwrap_or(svc.config.refresh_token_ttl);
        let idle = client.refresh_token_idle_lifetime.unwrap_or(svc.config.refresh_token_idle_ttl);
        let family = RefreshFamily {
            family_id: record.grant_id.clone(),
            client_id: client.client_id.clone(),
            person_id: person.id.clone(),
            scope: record.scope.clone(),
            claims: record.claims.clone(),
            acr: record.acr.clone(),
            amr: record.amr.clone(),
            auth_time: record.auth_time,
            sid: record.sid.clone(),
            acting_for: record.acting_for.clone(),
            created_at: now,
            expires_at: now + absolute,
        };
        svc.store.create_refresh_family(&family, &token_digest(&refresh), now + idle).await.map_err(store_failed)?;
        if let Some(obj) = response.as_object_mut() {
            obj.insert("refresh_token".into(), refresh.into());
        }
    }
    Ok(response)
}
