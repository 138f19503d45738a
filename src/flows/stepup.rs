//! Step-up: which authentication contexts this deployment can reach, and the second
//! factor of officials' local accounts (TOTP, RFC 6238, or a recovery code), checked the
//! same way at sign-in and on the account page: rate-limited per person, each time step
//! and each recovery code accepted once (the store's compare-and-set), audited.

use super::{Services, ephemeral_failed, store_failed};
use crate::crypto::totp;
use crate::ephemeral::Namespace;
use crate::identity::PersonId;
use crate::protocol::OAuthError;
use crate::protocol::acr;

/// Failed second-factor attempts per person allowed in [`OTP_WINDOW`] seconds.
pub const MAX_OTP_FAILURES: u64 = 10;
/// The window of [`MAX_OTP_FAILURES`].
pub const OTP_WINDOW: i64 = 15 * 60;

/// Whether an upstream national e-ID provider is configured (`[[upstream]]`), so that
/// e-ID levels can be reached through the broker.
pub fn eid_upstream_configured(svc: &Services) -> bool {
    !svc.config.upstreams.is_empty()
}

/// The authentication contexts some sign-in method of this deployment can achieve: local
/// password (`basic`), password and TOTP (`staff`), and the e-ID levels when an upstream
/// broker is configured.
pub fn reachable_acr(svc: &Services) -> Vec<&'static str> {
    let mut levels = acr::LOCAL_REACHABLE.to_vec();
    if eid_upstream_configured(svc) {
        levels.extend([acr::EID_LOA1, acr::EID_LOA2, acr::EID_LOA2_FRESH]);
    }
    levels
}

/// Whether `person` has a confirmed TOTP credential (and so must give a second factor).
pub async fn has_second_factor(svc: &Services, person: &PersonId) -> Result<bool, OAuthError> {
    let c = svc.store.totp_credential(person).await.map_err(store_failed)?;
    Ok(c.is_some_and(|c| c.confirmed_at.is_some()))
}

/// The result of checking a second factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecondFactorCheck {
    /// A current TOTP code, not used before.
    Totp,
    /// An unused recovery code (now spent).
    RecoveryCode,
    /// Wrong, replayed, or no confirmed credential.
    Invalid,
    /// Too many failures for this person; try later.
    Throttled,
}

fn throttle_key(person: &PersonId) -> String {
    crate::crypto::opaque::token_digest(&format!("otp:{}", person.0))
}

/// Checks `input` (a 6-digit code or a recovery code) as `person`'s second factor at
/// `now`, spending it when right. Failures count towards [`MAX_OTP_FAILURES`]; every
/// outcome is audited under `action` (`signin.second_factor`, `account.totp.disable`).
pub async fn check_second_factor(
    svc: &Services,
    person: &PersonId,
    input: &str,
    action: &str,
    now: i64,
) -> Result<SecondFactorCheck, OAuthError> {
    let key = throttle_key(person);
    let failures = svc
        .ephemeral
        .get(Namespace::RateLimit, &key, now)
        .await
        .map_err(ephemeral_failed)?
        .and_then(|v| v.as_slice().try_into().ok().map(u64::from_be_bytes))
        .unwrap_or(0);
    if failures >= MAX_OTP_FAILURES {
        super::audit(svc, now, format!("person:{}", person.0), action, Some(person.0.clone()), "throttled").await;
        return Ok(SecondFactorCheck::Throttled);
    }
    let result = verify(svc, person, input, now).await?;
    let outcome = match result {
        SecondFactorCheck::Totp => "success",
        SecondFactorCheck::RecoveryCode => "success_recovery_code",
        _ => "failure",
    };
    if result == SecondFactorCheck::Invalid {
        svc.ephemeral.incr(Namespace::RateLimit, &key, OTP_WINDOW, now).await.map_err(ephemeral_failed)?;
    }
    super::audit(svc, now, format!("person:{}", person.0), action, Some(person.0.clone()), outcome).await;
    Ok(result)
}

async fn verify(svc: &Services, person: &PersonId, input: &str, now: i64) -> Result<SecondFactorCheck, OAuthError> {
    let Some(cred) = svc.store.totp_credential(person).await.map_err(store_failed)? else {
        return Ok(SecondFactorCheck::Invalid);
    };
    if cred.confirmed_at.is_none() {
        return Ok(SecondFactorCheck::Invalid);
    }
    if totp::is_recovery_code(input) {
        let spent =
            svc.store.use_recovery_code(person, &totp::recovery_digest(input), now).await.map_err(store_failed)?;
        return Ok(if spent { SecondFactorCheck::RecoveryCode } else { SecondFactorCheck::Invalid });
    }
    let Some(secret) = totp::open_secret(&svc.kek, &person.0, &cred.sealed_secret) else {
        tracing::error!("a TOTP secret does not open with the current key-encryption key");
        return Err(OAuthError::server_error());
    };
    let Some(step) = totp::check(&secret, input, now) else { return Ok(SecondFactorCheck::Invalid) };
    // Single use per time step, atomically across nodes.
    let fresh_step = svc.store.use_totp_step(person, step).await.map_err(store_failed)?;
    Ok(if fresh_step { SecondFactorCheck::Totp } else { SecondFactorCheck::Invalid })
}
