//! The short-lived state port: what may be lost at the cost of a re-login (authorization
//! codes, login interactions, browser sessions, access-token records, rate-limit
//! counters). Every record has a TTL; `take` is atomic and single-use and remembers that a
//! record was consumed, so a replayed code can be recognised and its grant revoked.

use async_trait::async_trait;

use crate::clock::UnixTime;

#[cfg(test)]
pub mod contract;
pub mod memory;
pub mod redis;

/// Kinds of records; each has its own key space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Namespace {
    /// Authorization codes, by digest.
    Code,
    /// Login/consent interactions, by id.
    Interaction,
    /// Browser sessions, by cookie digest.
    Session,
    /// The clients a browser session signed in to, by session id (for logout).
    SessionClients,
    /// Issued access tokens, by the digest of the token.
    AccessToken,
    /// Rate-limit counters.
    RateLimit,
    /// Single-use identifiers seen (client assertion `jti`s), kept until they expire.
    Replay,
    /// Sign-ins in progress at an upstream identity provider, by the digest of `state`.
    Broker,
}

impl Namespace {
    /// A short prefix for backends that share one key space.
    pub fn prefix(self) -> &'static str {
        match self {
            Self::Code => "code",
            Self::Interaction => "ix",
            Self::Session => "sess",
            Self::SessionClients => "sc",
            Self::AccessToken => "at",
            Self::RateLimit => "rl",
            Self::Replay => "rp",
            Self::Broker => "br",
        }
    }
}

/// The result of [`EphemeralStore::take`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Taken {
    /// First use: the record, now consumed.
    Fresh(Vec<u8>),
    /// The record was already consumed; here it is again so the caller can revoke what
    /// came of it.
    Replayed(Vec<u8>),
    /// Never existed, or expired.
    Missing,
}

/// Errors of the ephemeral store.
#[derive(Debug, thiserror::Error)]
pub enum EphemeralError {
    /// The backend could not be reached in time.
    #[error("ephemeral store unavailable: {0}")]
    Unavailable(String),
}

/// The port. `now` is the request's clock reading; `ttl` is in seconds.
#[async_trait]
pub trait EphemeralStore: Send + Sync {
    /// Stores `value` under `key` for `ttl` seconds, optionally indexed by `grant` so
    /// [`EphemeralStore::revoke_by_grant`] can find it.
    async fn put(
        &self,
        ns: Namespace,
        key: &str,
        value: Vec<u8>,
        ttl: i64,
        grant: Option<&str>,
        now: UnixTime,
    ) -> Result<(), EphemeralError>;
    /// The value, if present, not consumed and not expired.
    async fn get(&self, ns: Namespace, key: &str, now: UnixTime) -> Result<Option<Vec<u8>>, EphemeralError>;
    /// Atomically consumes the record: exactly one caller ever sees `Fresh`.
    async fn take(&self, ns: Namespace, key: &str, now: UnixTime) -> Result<Taken, EphemeralError>;
    /// Removes the record.
    async fn delete(&self, ns: Namespace, key: &str) -> Result<(), EphemeralError>;
    /// Removes every record indexed under `grant`.
    async fn revoke_by_grant(&self, grant: &str) -> Result<(), EphemeralError>;
    /// Increments a counter that lives `ttl` seconds from its first increment.
    async fn incr(&self, ns: Namespace, key: &str, ttl: i64, now: UnixTime) -> Result<u64, EphemeralError>;
    /// Whether the backend answers (within its timeout), for `/readyz`.
    async fn ping(&self) -> Result<(), EphemeralError>;
}
