//! The signing-key port: rows of the `signing_keys` table, which every node reads so all
//! agree on what is published and what signs. Private keys cross this seam only sealed
//! (`crypto::seal`); the store never sees one in clear.
//!
//! Life of a key: `next` (published, not signing, until `activates_at`) → `active` (signs;
//! one per algorithm) → `retired` (published until `not_after`, so tokens it signed keep
//! verifying) → `removed` (unpublished; its sealed private key erased). Every transition
//! is one transaction, and the backends allow at most one `active` and one `next` key per
//! algorithm, so concurrent nodes cannot both win.

use async_trait::async_trait;

use super::StoreError;
use crate::protocol::client::SigningAlg;

/// Where a signing key is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyState {
    /// Published, waiting out pre-publication before it signs.
    Next,
    /// Published and signing (one per algorithm).
    Active,
    /// Published, no longer signing, until the tokens it signed have expired.
    Retired,
    /// No longer published; the private key is erased.
    Removed,
}

impl KeyState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Next => "next",
            Self::Active => "active",
            Self::Retired => "retired",
            Self::Removed => "removed",
        }
    }

    /// The state of a stored name.
    pub fn parse(s: &str) -> Option<KeyState> {
        [Self::Next, Self::Active, Self::Retired, Self::Removed].into_iter().find(|k| k.as_str() == s)
    }

    /// Whether keys in this state are in the JWK Set.
    pub fn is_published(self) -> bool {
        !matches!(self, Self::Removed)
    }
}

/// A signing key as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredSigningKey {
    /// Key id (RFC 7638 thumbprint of the public key).
    pub kid: String,
    /// Algorithm.
    pub alg: SigningAlg,
    /// Lifecycle state.
    pub state: KeyState,
    /// The PKCS#8 private key sealed under the KEK (empty once removed).
    pub sealed_private_key: Vec<u8>,
    /// Fingerprint of the KEK that sealed it.
    pub kek_id: String,
    /// The public JWK (JSON text), as published.
    pub public_jwk: String,
    /// When it was created (and first published).
    pub created_at: i64,
    /// When it may start signing (the end of pre-publication).
    pub activates_at: i64,
    /// When it started signing.
    pub activated_at: Option<i64>,
    /// When it stopped signing.
    pub retired_at: Option<i64>,
    /// When it leaves the JWK Set (retired keys).
    pub not_after: Option<i64>,
}

impl std::fmt::Debug for StoredSigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredSigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("state", &self.state)
            .field("kek_id", &self.kek_id)
            .field("created_at", &self.created_at)
            .field("activates_at", &self.activates_at)
            .field("activated_at", &self.activated_at)
            .field("retired_at", &self.retired_at)
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

/// What [`KeyStore::retire_signing_key`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Retirement {
    /// The key was active or retired; it now stays published until `not_after`.
    Retired {
        /// The key that signs for its algorithm now, if this one was active.
        successor: Option<String>,
    },
    /// It was removed at once (retired with `not_after <= now`, or a `next` key that
    /// never signed).
    Removed {
        /// The key that signs for its algorithm now, if this one was active.
        successor: Option<String>,
    },
    /// The key is active, no `next` key of its algorithm is waiting and no replacement
    /// was given: nothing changed (an algorithm is never left without a signer).
    NeedsReplacement,
    /// No such key, or it was already removed.
    NotFound,
}

/// Signing keys shared by every node.
#[async_trait]
pub trait KeyStore: Send + Sync {
    /// The keys, oldest first; removed ones only when `include_removed`.
    async fn signing_keys(&self, include_removed: bool) -> Result<Vec<StoredSigningKey>, StoreError>;
    /// Adds a key (state `next` or `active`). `Conflict` if the kid exists or its
    /// algorithm already has a key in that state; nothing is written then.
    async fn insert_signing_key(&self, key: &StoredSigningKey) -> Result<(), StoreError>;
    /// Applies, in one transaction, what is due at `now`: each `next` key whose
    /// `activates_at` has come becomes `active` and the key it replaces `retired` with
    /// `not_after = now + retention`; each `retired` key past `not_after` becomes
    /// `removed`. Returns how many keys changed state (0 when several nodes race and
    /// another one did it).
    async fn advance_signing_keys(&self, now: i64, retention: i64) -> Result<u64, StoreError>;
    /// Takes `kid` out of service at `now`, in one transaction. An active key is replaced
    /// by its algorithm's `next` key if one waits, else by `replacement` (inserted as
    /// active); it stays published until `not_after`, or is removed at once when
    /// `not_after <= now`. A `next` key is removed (it never signed).
    async fn retire_signing_key(
        &self,
        kid: &str,
        now: i64,
        not_after: i64,
        replacement: Option<&StoredSigningKey>,
    ) -> Result<Retirement, StoreError>;
}
