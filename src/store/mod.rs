//! The durable state port: clients, people and their local credentials, remembered
//! consents, per-installation secrets. Traits are named after domain operations so each
//! backend can make an operation atomic; only domain types and [`StoreError`] cross the
//! seam. `sqlx::Error` never leaves the backend modules.

use async_trait::async_trait;

use crate::identity::{Person, PersonId};
use crate::protocol::claims::ClaimsRequest;
use crate::protocol::client::Client;
use crate::protocol::scope::Scopes;

#[cfg(test)]
pub mod contract;
pub mod postgres;
pub mod sqlite;

/// Errors a store reports.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule was broken (the message names which, never the value).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The backend could not be reached or failed; the detail is for logs only.
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

/// A client with its secret digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredClient {
    /// The validated client.
    pub client: Client,
    /// SHA-256 digest of the secret (confidential clients).
    pub secret_digest: Option<String>,
}

/// Registered relying parties.
#[async_trait]
pub trait ClientStore: Send + Sync {
    /// Registers a client; `Conflict` if the id is taken.
    async fn register_client(&self, client: &Client, secret_digest: Option<&str>) -> Result<(), StoreError>;
    /// Finds an active client.
    async fn find_client(&self, client_id: &str) -> Result<Option<StoredClient>, StoreError>;
}

/// People and their local credentials.
#[async_trait]
pub trait PersonStore: Send + Sync {
    /// Creates a person with an optional password hash; `Conflict` if the username or
    /// personal number is taken.
    async fn create_person(&self, person: &Person, password_hash: Option<&str>) -> Result<(), StoreError>;
    /// Finds a person by internal id.
    async fn find_person(&self, id: &PersonId) -> Result<Option<Person>, StoreError>;
    /// Finds a person and password hash by username, for sign-in.
    async fn find_login(&self, username: &str) -> Result<Option<(Person, Option<String>)>, StoreError>;
}

/// Remembered consents, per person and client.
#[async_trait]
pub trait ConsentStore: Send + Sync {
    /// The scopes this person has approved for this client.
    async fn find_consent(&self, person: &PersonId, client_id: &str) -> Result<Option<Scopes>, StoreError>;
    /// Adds `scopes` to what this person approved for this client.
    async fn record_consent(
        &self,
        person: &PersonId,
        client_id: &str,
        scopes: &Scopes,
        now: i64,
    ) -> Result<(), StoreError>;
}

/// A refresh-token family: everything one authorization grant carries forward, and
/// the rotation chain of its tokens (stored as digests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshFamily {
    /// The family id (the grant id of the authorization code it came from).
    pub family_id: String,
    /// The client.
    pub client_id: String,
    /// The person.
    pub person_id: PersonId,
    /// Granted scope (unchanged by rotation, RFC 6749 §6).
    pub scope: Scopes,
    /// Requested claims.
    pub claims: ClaimsRequest,
    /// Authentication context of the original sign-in.
    pub acr: String,
    /// Authentication methods of the original sign-in.
    pub amr: Vec<String>,
    /// Time of the original sign-in.
    pub auth_time: i64,
    /// Browser session of the original sign-in.
    pub sid: String,
    /// Creation time.
    pub created_at: i64,
    /// Absolute expiry of the whole family.
    pub expires_at: i64,
}

/// The outcome of [`GrantStore::rotate_refresh_token`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)] // returned once per request, never stored in bulk
pub enum Rotation {
    /// The presented token was current: it is now used and the new one is current.
    Rotated(RefreshFamily),
    /// The presented token had already been used: the family is compromised (RFC 9700
    /// §4.14.2); the caller revokes it.
    Reused {
        /// The family to revoke.
        family_id: String,
    },
    /// Unknown, expired, or of a revoked family.
    Invalid,
}

/// What a refresh token digest names now.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)] // returned once per request, never stored in bulk
pub enum RefreshLookup {
    /// The current token of a live family.
    Current(RefreshFamily),
    /// A token of this family that was already used (presenting it is reuse).
    Used {
        /// Its family.
        family_id: String,
    },
    /// Unknown, expired, or of a revoked or expired family.
    Invalid,
}

/// Refresh-token families with rotation and reuse detection.
#[async_trait]
pub trait GrantStore: Send + Sync {
    /// Starts a family with its first token.
    async fn create_refresh_family(
        &self,
        family: &RefreshFamily,
        token_digest: &str,
        idle_expires_at: i64,
    ) -> Result<(), StoreError>;
    /// Classifies a token: current (with its live family), already used, or invalid.
    async fn find_refresh_token(&self, token_digest: &str, now: i64) -> Result<RefreshLookup, StoreError>;
    /// Atomically marks the presented token used and makes `new_digest` current, with
    /// an idle expiry of `new_idle_expires_at` (capped at the family's absolute expiry).
    /// Exactly one of many concurrent rotations of one token succeeds.
    async fn rotate_refresh_token(
        &self,
        presented_digest: &str,
        new_digest: &str,
        now: i64,
        new_idle_expires_at: i64,
    ) -> Result<Rotation, StoreError>;
    /// Revokes a family: none of its tokens works any more.
    async fn revoke_refresh_family(&self, family_id: &str, now: i64) -> Result<(), StoreError>;
}

/// Secrets of the installation that every node must share.
#[async_trait]
pub trait InstanceStore: Send + Sync {
    /// The secret named `name`: the stored one, or `candidate` stored now if there is
    /// none yet (first writer wins, so all nodes agree).
    async fn instance_secret(&self, name: &str, candidate: &[u8]) -> Result<Vec<u8>, StoreError>;
    /// Whether the store answers.
    async fn ping(&self) -> Result<(), StoreError>;
}

/// The whole durable port.
pub trait Store: ClientStore + PersonStore + ConsentStore + GrantStore + InstanceStore {}
impl<T: ClientStore + PersonStore + ConsentStore + GrantStore + InstanceStore> Store for T {}
