//! The userinfo endpoint (OIDC Core §5.3): an active access token we issued to a person,
//! and the claims its scope and `claims` request release.

use serde_json::{Map, Value};

use super::token::mint::find_access_token;
use super::{Services, store_failed};
use crate::identity::{PersonId, PersonStatus};
use crate::protocol::{ErrorCode, OAuthError};
use crate::protocol::{claim_policy, claims};

fn invalid_token(msg: &str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidToken, msg)
}

/// Returns the claims for `access_token`.
pub async fn userinfo(svc: &Services, access_token: &str, now: i64) -> Result<Map<String, Value>, OAuthError> {
    let Some(record) = find_access_token(svc, access_token, now).await? else {
        return Err(invalid_token("the access token is invalid, expired or revoked"));
    };
    let Some(person_id) = record.person_id.clone() else {
        return Err(OAuthError::new(ErrorCode::InsufficientScope, "the access token is not about a person"));
    };
    if !record.scope.contains("openid") {
        return Err(OAuthError::new(ErrorCode::InsufficientScope, "the access token lacks the openid scope"));
    }
    // Cached briefly (`PERSON_CACHE_TTL`): a relying party calling userinfo per request
    // should not cost a database read each time.
    let person = svc.people.get(svc.store.as_ref(), &PersonId(person_id), now).await.map_err(store_failed)?;
    let Some(person) = person.filter(|p| p.status == PersonStatus::Active) else {
        return Err(invalid_token("the access token is no longer valid"));
    };
    let client = svc.clients.get(svc.store.as_ref(), &record.client_id, now).await.map_err(store_failed)?;
    let Some(client) = client else { return Err(invalid_token("the client is no longer registered")) };
    let mut out =
        claims::release_userinfo(&record.scope, &client.client.scope, &record.claims, &claims::person_claims(&person));
    // The organisation context, looked up afresh (a revoked representation stops here).
    let org = super::org_context::org_claims(
        svc,
        &client.client,
        &record.scope,
        &person.id,
        record.acting_for.as_deref(),
        now,
    )
    .await?;
    if client.client.claim_profile == crate::protocol::upstream::ClaimProfile::NationalPortal {
        // The portal's claim names, for systems written against it; the personal number
        // only with the `vn_pin` scope granted.
        let portal =
            crate::protocol::upstream::national_portal_claims(&person, &record.sub, record.scope.contains("vn_pin"));
        for (k, v) in portal {
            out.entry(k).or_insert(v);
        }
        out.extend(crate::protocol::org_claim::portal_claims(&org));
    }
    out.extend(org);
    claim_policy::apply(&client.client, &person, &record.claims.userinfo_verified, &mut out, now);
    out.insert("sub".into(), record.sub.into());
    Ok(out)
}
