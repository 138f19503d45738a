//! The consent-receipt port (Decree 356/2025/ND-CP, DOMAIN §7.2): evidence of each
//! consent a person gave — client, purpose, scopes, the claims released, the
//! authentication level, the policy version, the time — kept immutable except for its
//! withdrawal. Writing a receipt and remembering the consent are one transaction, and so
//! are withdrawing, forgetting the consent and revoking the client's refresh tokens.

use async_trait::async_trait;

use super::StoreError;
use crate::identity::PersonId;
use crate::protocol::scope::Scopes;

/// One consent receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentReceipt {
    /// Receipt id (UUID v7 text).
    pub id: String,
    /// Who consented.
    pub person_id: PersonId,
    /// To which client.
    pub client_id: String,
    /// The client's display name at the time.
    pub client_name: String,
    /// What for: the client's registered purpose, else its name and privacy policy.
    pub purpose: String,
    /// The scopes approved.
    pub scopes: Scopes,
    /// Names of the claims released under it (`verified_claims.name` for verified ones).
    pub claims: Vec<String>,
    /// Authentication context of the session that consented.
    pub acr: String,
    /// Version of the privacy notice shown.
    pub policy_version: String,
    /// When.
    pub granted_at: i64,
    /// When it was withdrawn, if it was.
    pub withdrawn_at: Option<i64>,
}

/// What a withdrawal did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Withdrawal {
    /// Receipts marked withdrawn.
    pub receipts: u64,
    /// Refresh-token families revoked (their access tokens are revoked by the caller).
    pub families: Vec<String>,
}

/// Consent receipts.
#[async_trait]
pub trait ReceiptStore: Send + Sync {
    /// Remembers the consent (widening what the person approved for the client, as
    /// `ConsentStore::record_consent` does) and writes `receipt`, in one transaction.
    async fn record_consent_with_receipt(&self, receipt: &ConsentReceipt) -> Result<(), StoreError>;
    /// The person's receipts, newest first.
    async fn consent_receipts(&self, person: &PersonId) -> Result<Vec<ConsentReceipt>, StoreError>;
    /// Withdraws the person's consent to `client_id`: forgets the remembered consent,
    /// marks its live receipts withdrawn at `now`, and revokes the person's live
    /// refresh-token families of that client, in one transaction.
    async fn withdraw_consent(&self, person: &PersonId, client_id: &str, now: i64) -> Result<Withdrawal, StoreError>;
}
