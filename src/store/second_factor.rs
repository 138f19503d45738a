//! The second-factor port: officials' TOTP credentials (RFC 6238) and their recovery
//! codes. The TOTP secret crosses this seam only sealed under the KEK
//! (`crypto::totp::seal_secret`); recovery codes only as digests.
//!
//! Life of a credential: `pending` (stored, not yet confirmed: the person is looking at
//! the QR code) → `confirmed` (one correct code was entered; recovery codes are issued at
//! the same time) → deleted (disabled by the person). Accepting a code is a
//! compare-and-set on `last_used_step`: each time step is accepted once, and never one
//! older than the last accepted, even when two nodes check the same code at once.

use async_trait::async_trait;

use super::StoreError;
use crate::identity::PersonId;

/// A TOTP credential as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpCredential {
    /// Whose it is.
    pub person_id: PersonId,
    /// The secret, sealed under the KEK with the person id as associated data.
    pub sealed_secret: Vec<u8>,
    /// The last time step accepted (`unix time / 30`).
    pub last_used_step: Option<i64>,
    /// When enrolment was confirmed; `None` while pending.
    pub confirmed_at: Option<i64>,
    /// When the secret was made.
    pub created_at: i64,
}

impl std::fmt::Debug for TotpCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpCredential")
            .field("person_id", &self.person_id)
            .field("last_used_step", &self.last_used_step)
            .field("confirmed_at", &self.confirmed_at)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// Second factors of local accounts.
#[async_trait]
pub trait SecondFactorStore: Send + Sync {
    /// The person's TOTP credential, pending or confirmed.
    async fn totp_credential(&self, person: &PersonId) -> Result<Option<TotpCredential>, StoreError>;
    /// Stores a new pending secret, replacing a pending one. `Conflict` (and nothing
    /// written) when a confirmed credential exists: disable it first.
    async fn put_pending_totp(&self, person: &PersonId, sealed_secret: &[u8], now: i64) -> Result<(), StoreError>;
    /// Confirms the pending credential with the code of time step `step` and replaces the
    /// person's recovery codes with `recovery_digests`, in one transaction. `false` (and
    /// nothing written) when there is no pending credential.
    async fn confirm_totp(
        &self,
        person: &PersonId,
        step: i64,
        recovery_digests: &[String],
        now: i64,
    ) -> Result<bool, StoreError>;
    /// Accepts a code of time step `step` for the confirmed credential: `true` once per
    /// step, and only for a step later than the last accepted (atomic compare-and-set).
    async fn use_totp_step(&self, person: &PersonId, step: i64) -> Result<bool, StoreError>;
    /// Spends the unused recovery code with this digest: `true` exactly once.
    async fn use_recovery_code(&self, person: &PersonId, digest: &str, now: i64) -> Result<bool, StoreError>;
    /// How many recovery codes are left unused.
    async fn recovery_codes_left(&self, person: &PersonId) -> Result<i64, StoreError>;
    /// Removes the TOTP credential and every recovery code, in one transaction. `false`
    /// when there was no credential.
    async fn delete_totp(&self, person: &PersonId) -> Result<bool, StoreError>;
}
