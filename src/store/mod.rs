//! The durable state port: clients, people and their local credentials, remembered
//! consents, per-installation secrets. Traits are named after domain operations so each
//! backend can make an operation atomic; only domain types and [`StoreError`] cross the
//! seam. `sqlx::Error` never leaves the backend modules.

use async_trait::async_trait;

use crate::identity::{Person, PersonId};
use crate::protocol::client::Client;
use crate::protocol::scope::Scopes;

#[cfg(test)]
pub mod contract;
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
pub trait Store: ClientStore + PersonStore + ConsentStore + InstanceStore {}
impl<T: ClientStore + PersonStore + ConsentStore + InstanceStore> Store for T {}
