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

mod keys;
pub use keys::{KeyState, KeyStore, Retirement, StoredSigningKey};
mod second_factor;
pub use second_factor::{SecondFactorStore, TotpCredential};
mod receipts;
pub use receipts::{ConsentReceipt, ReceiptStore, Withdrawal};
mod orgs;
pub use orgs::{OrgStore, TAX_CODE_TAKEN, UNKNOWN_PARTY};
mod links;
pub use links::{LinkStore, UpstreamLink};
mod verification;
pub use verification::{CaseFilter, CaseWrite, REPRESENTATION_REVOKED, SUBJECT_GONE, VerificationStore};

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

/// Whether a client may be used (an administrator can disable one without deleting it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientStatus {
    /// Authenticates, gets codes and tokens.
    Active,
    /// Refused everywhere, as if unknown; kept for the record.
    Disabled,
}

impl ClientStatus {
    /// Stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Disabled => "disabled",
        }
    }

    /// Parses the stored form; anything unknown is disabled (fail closed).
    pub fn parse(s: &str) -> Self {
        if s == "active" { Self::Active } else { Self::Disabled }
    }
}

/// A client as administration sees it: any status, with its registration bookkeeping.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientRecord {
    /// The validated client.
    pub client: Client,
    /// SHA-256 digest of the secret (confidential clients).
    pub secret_digest: Option<String>,
    /// Active or disabled.
    pub status: ClientStatus,
    /// Digest of the RFC 7592 registration access token (dynamically registered clients).
    pub registration_token_digest: Option<String>,
    /// The initial-access-token policy a dynamically registered client stays bound to
    /// when it updates itself (opaque JSON to the store).
    pub registration_policy: Option<serde_json::Value>,
    /// Last change (the registration time if never changed).
    pub updated_at: i64,
}

/// A client to insert (see [`ClientStore::create_client`]).
#[derive(Debug, Clone, Copy)]
pub struct NewClient<'a> {
    /// The validated client.
    pub client: &'a Client,
    /// Digest of its secret (confidential clients).
    pub secret_digest: Option<&'a str>,
    /// Digest of its RFC 7592 registration access token.
    pub registration_token_digest: Option<&'a str>,
    /// The policy it stays bound to.
    pub registration_policy: Option<&'a serde_json::Value>,
    /// Digest of the initial access token that authorised the registration: one of its
    /// uses is spent in the same transaction as the insert.
    pub initial_token_digest: Option<&'a str>,
}

/// An initial access token (RFC 7591 §3): minted by an administrator with a policy,
/// stored as a digest, spent by registrations.
#[derive(Debug, Clone, PartialEq)]
pub struct InitialAccessToken {
    /// Identifier (for administration; not the token).
    pub id: String,
    /// Digest of the token.
    pub token_digest: String,
    /// What registrations made with it may ask for (opaque JSON to the store).
    pub policy: serde_json::Value,
    /// Creation time.
    pub created_at: i64,
    /// Expiry.
    pub expires_at: i64,
    /// How many registrations it allows; `None` for no limit before expiry.
    pub max_uses: Option<i64>,
    /// How many it has made.
    pub uses: i64,
    /// When it was revoked, if it was.
    pub revoked_at: Option<i64>,
}

impl InitialAccessToken {
    /// Whether it may authorise a registration at `now`.
    pub fn usable(&self, now: i64) -> bool {
        self.revoked_at.is_none() && self.expires_at > now && self.max_uses.is_none_or(|m| self.uses < m)
    }
}

/// Registered relying parties.
#[async_trait]
pub trait ClientStore: Send + Sync {
    /// Finds an active client.
    async fn find_client(&self, client_id: &str) -> Result<Option<StoredClient>, StoreError>;
    /// Inserts a client with its registration bookkeeping, spending one use of
    /// `initial_token_digest` (when given) in the same transaction. `Ok(false)`, with
    /// nothing written, when that token is no longer usable at `now` (expired, revoked
    /// or used up); `Conflict` if the id is taken.
    async fn create_client(&self, new: NewClient<'_>, now: i64) -> Result<bool, StoreError>;
    /// Finds a client whatever its status.
    async fn get_client(&self, client_id: &str) -> Result<Option<ClientRecord>, StoreError>;
    /// Up to `limit` clients whose id sorts after `after`, in id order.
    async fn list_clients(&self, after: Option<&str>, limit: u32) -> Result<Vec<ClientRecord>, StoreError>;
    /// Replaces a client's metadata and secret digest; `false` if there is no such client.
    async fn update_client(&self, client: &Client, secret_digest: Option<&str>, now: i64) -> Result<bool, StoreError>;
    /// Sets a client's status; `false` if there is no such client.
    async fn set_client_status(&self, client_id: &str, status: ClientStatus, now: i64) -> Result<bool, StoreError>;
    /// Deletes a client with its consents and refresh-token families; `false` if there
    /// was no such client.
    async fn delete_client(&self, client_id: &str) -> Result<bool, StoreError>;
    /// Stores a new initial access token; `Conflict` if its id or digest exists.
    async fn create_initial_token(&self, token: &InitialAccessToken) -> Result<(), StoreError>;
    /// Finds an initial access token by digest, whether usable or not.
    async fn find_initial_token(&self, token_digest: &str) -> Result<Option<InitialAccessToken>, StoreError>;
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
    /// Up to `limit` people whose id sorts after `after`, in id order.
    async fn list_people(&self, after: Option<&PersonId>, limit: u32) -> Result<Vec<Person>, StoreError>;
    /// Replaces a person's details (everything but `id` and `created_at`) and, when
    /// `password_hash` is given, the password; `false` if there is no such person;
    /// `Conflict` if the username or personal number is taken.
    async fn update_person(&self, person: &Person, password_hash: Option<&str>) -> Result<bool, StoreError>;
    /// Deletes a person with their consents and refresh-token families; `false` if there
    /// was no such person.
    async fn delete_person(&self, id: &PersonId) -> Result<bool, StoreError>;
    /// Bulk loading (`dinhdanh dev seed`): inserts `people`, all with `password_hash`, in
    /// one transaction, skipping anyone whose id, username or personal number is already
    /// taken; returns how many were inserted.
    async fn create_people(&self, people: &[Person], password_hash: Option<&str>) -> Result<u64, StoreError>;
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
    /// The representation the person acted through (`None`: for themselves).
    pub acting_for: Option<String>,
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
    /// At logout (OIDC Back-Channel Logout §2.7): revokes the live families the browser
    /// session `sid` gave `client_id` without `offline_access` (offline access outlives
    /// the session); returns their ids so their access tokens can be revoked too.
    async fn revoke_session_families(&self, sid: &str, client_id: &str, now: i64) -> Result<Vec<String>, StoreError>;
}

/// One back-channel logout delivery, as recorded for operators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutDelivery {
    /// Delivery id.
    pub id: String,
    /// The client notified.
    pub client_id: String,
    /// The session that ended.
    pub sid: String,
    /// `delivered` or `failed`.
    pub status: String,
    /// Attempts made.
    pub attempts: i64,
    /// The last error, if any (no secrets: a status code or a transport error kind).
    pub last_error: Option<String>,
    /// When the logout happened.
    pub created_at: i64,
    /// When delivery finished (success or giving up).
    pub finished_at: Option<i64>,
}

/// Records of what logout did.
#[async_trait]
pub trait LogoutStore: Send + Sync {
    /// Records a finished delivery.
    async fn record_logout_delivery(&self, d: &LogoutDelivery) -> Result<(), StoreError>;
    /// The most recent deliveries to a client, newest first.
    async fn logout_deliveries(&self, client_id: &str, limit: i64) -> Result<Vec<LogoutDelivery>, StoreError>;
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

/// The append-only audit log. Appends are serialised so the chain has no forks.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends an event at the end of the chain (hash computed by `audit::chain_hash`).
    async fn append_audit(&self, event: &crate::audit::AuditEvent) -> Result<crate::audit::AuditRecord, StoreError>;
    /// Records after position `after_seq`, in order.
    async fn audit_events(&self, after_seq: i64, limit: i64) -> Result<Vec<crate::audit::AuditRecord>, StoreError>;
}

/// The whole durable port.
pub trait Store:
    ClientStore
    + PersonStore
    + ConsentStore
    + GrantStore
    + LogoutStore
    + KeyStore
    + AuditStore
    + InstanceStore
    + SecondFactorStore
    + ReceiptStore
    + OrgStore
    + LinkStore
    + VerificationStore
{
}
impl<
    T: ClientStore
        + PersonStore
        + ConsentStore
        + GrantStore
        + LogoutStore
        + KeyStore
        + AuditStore
        + InstanceStore
        + SecondFactorStore
        + ReceiptStore
        + OrgStore
        + LinkStore
        + VerificationStore,
> Store for T
{
}
