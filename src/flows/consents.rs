//! Consent receipts (Decree 356/2025/ND-CP, DOMAIN §7.2): written with each consent a
//! person gives, listed on the person's own page, and withdrawn from there. Withdrawal
//! forgets the remembered consent (the next authorization asks again), revokes the
//! client's refresh-token families for that person with their access tokens, and is
//! audited.

use super::authorize::load_session;
use super::{BrowserSession, Services, audit, ephemeral_failed, store_failed};
use crate::crypto::constant_time_eq;
use crate::crypto::opaque::token_digest;
use crate::identity::PersonId;
use crate::protocol::OAuthError;
use crate::protocol::authorize::AuthorizeRequest;
use crate::protocol::claim_policy;
use crate::store::{ConsentReceipt, Withdrawal};

/// Version of the privacy notice a consent is given under (printed on each receipt).
pub const PRIVACY_NOTICE_VERSION: &str = "2026-01";

/// Remembers the consent `session`'s person gives to `request`, with its receipt, in one
/// transaction.
pub(crate) async fn record_with_receipt(
    svc: &Services,
    request: &AuthorizeRequest,
    session: &BrowserSession,
    now: i64,
) -> Result<(), OAuthError> {
    let person_id = PersonId(session.person_id.clone());
    let client = svc.store.find_client(&request.client_id).await.map_err(store_failed)?;
    let person = svc.store.find_person(&person_id).await.map_err(store_failed)?;
    let (client_name, purpose, claims) = match (&client, &person) {
        (Some(c), Some(p)) => {
            let c = &c.client;
            let name = c.client_name.clone().unwrap_or_else(|| c.client_id.clone());
            let purpose = match (&c.purpose, &c.policy_uri) {
                (Some(p), _) => p.clone(),
                (None, Some(uri)) => format!("{name} ({uri})"),
                (None, None) => name.clone(),
            };
            (name, purpose, claim_policy::released_names(c, p, &request.scope, &request.claims, now))
        }
        _ => (request.client_id.clone(), request.client_id.clone(), Vec::new()),
    };
    let receipt = ConsentReceipt {
        id: uuid::Uuid::now_v7().to_string(),
        person_id,
        client_id: request.client_id.clone(),
        client_name,
        purpose,
        scopes: request.consent_items(),
        claims,
        acr: session.acr.clone(),
        policy_version: PRIVACY_NOTICE_VERSION.to_owned(),
        granted_at: now,
        withdrawn_at: None,
    };
    svc.store.record_consent_with_receipt(&receipt).await.map_err(store_failed)
}

/// The CSRF token of the account pages: derived from the session cookie, so it is bound
/// to the signed-in browser and needs no state.
fn csrf_for(session_cookie: &str) -> String {
    token_digest(&format!("account-consents-csrf\u{0}{session_cookie}"))
}

/// What the person's consent page shows.
#[derive(Debug)]
pub enum AccountPage {
    /// No browser session: ask the person to sign in.
    SignInNeeded,
    /// The person's receipts, newest first.
    Receipts {
        /// Who is signed in.
        person_name: String,
        /// CSRF token for the withdraw forms.
        csrf: String,
        /// The receipts.
        receipts: Vec<ConsentReceipt>,
    },
}

async fn signed_in(svc: &Services, cookie: Option<&str>, now: i64) -> Result<Option<BrowserSession>, OAuthError> {
    load_session(svc, cookie, now).await
}

/// `GET /account/consents`.
pub async fn list(svc: &Services, session_cookie: Option<&str>, now: i64) -> Result<AccountPage, OAuthError> {
    let (Some(cookie), Some(session)) = (session_cookie, signed_in(svc, session_cookie, now).await?) else {
        return Ok(AccountPage::SignInNeeded);
    };
    let person_id = PersonId(session.person_id.clone());
    let person = svc.store.find_person(&person_id).await.map_err(store_failed)?;
    let Some(person) = person else { return Ok(AccountPage::SignInNeeded) };
    let receipts = svc.store.consent_receipts(&person_id).await.map_err(store_failed)?;
    Ok(AccountPage::Receipts {
        person_name: person.name.or(person.username).unwrap_or_default(),
        csrf: csrf_for(cookie),
        receipts,
    })
}

/// The result of a withdrawal request.
#[derive(Debug, PartialEq, Eq)]
pub enum WithdrawOutcome {
    /// Done (also when there was nothing left to withdraw).
    Withdrawn(Withdrawal),
    /// No browser session.
    SignInNeeded,
    /// The CSRF token does not match this session.
    Forbidden,
}

/// `POST /account/consents/withdraw`: withdraws the signed-in person's consent to
/// `client_id`.
pub async fn withdraw(
    svc: &Services,
    session_cookie: Option<&str>,
    csrf: &str,
    client_id: &str,
    now: i64,
) -> Result<WithdrawOutcome, OAuthError> {
    let (Some(cookie), Some(session)) = (session_cookie, signed_in(svc, session_cookie, now).await?) else {
        return Ok(WithdrawOutcome::SignInNeeded);
    };
    if !constant_time_eq(csrf.as_bytes(), csrf_for(cookie).as_bytes()) {
        audit(svc, now, session.person_id.clone(), "consent.withdraw", Some(client_id.to_owned()), "refused_csrf")
            .await;
        return Ok(WithdrawOutcome::Forbidden);
    }
    let person = PersonId(session.person_id.clone());
    let w = svc.store.withdraw_consent(&person, client_id, now).await.map_err(store_failed)?;
    for family in &w.families {
        svc.ephemeral.revoke_by_grant(family).await.map_err(ephemeral_failed)?;
    }
    audit(svc, now, session.person_id.clone(), "consent.withdraw", Some(client_id.to_owned()), "success").await;
    tracing::info!(client_id, receipts = w.receipts, families = w.families.len(), "consent withdrawn");
    Ok(WithdrawOutcome::Withdrawn(w))
}
