//! Use cases, one per endpoint: load → protocol checks → persist → sign. Flows talk only to
//! the ports (`store`, `ephemeral`) and to `crypto`; they know nothing of HTTP, and take
//! the request's clock reading as an argument.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::crypto::keys::KeySet;
use crate::crypto::password::PasswordHasher;
use crate::ephemeral::{EphemeralError, EphemeralStore};
use crate::identity::PersonId;
use crate::protocol::client::{Client, SubjectType};
use crate::protocol::{ErrorCode, OAuthError};
use crate::store::{Store, StoreError};

pub mod account;
pub mod account_console;
pub mod admin;
pub mod admin_api;
pub mod authorize;
pub mod broker;
pub mod consents;
pub mod interaction;
pub mod introspect;
pub mod issue;
pub mod keys;
pub mod logout;
pub mod mandates;
pub mod org_context;
pub mod orgs;
pub mod registration;
pub mod revoke;
pub mod seed;
pub mod stepup;
pub mod token;
pub mod userinfo;
pub mod verification;

/// Everything a flow may use, built once by `app`.
pub struct Services {
    /// Validated configuration.
    pub config: Config,
    /// Durable store.
    pub store: Arc<dyn Store>,
    /// Ephemeral store.
    pub ephemeral: Arc<dyn EphemeralStore>,
    /// Signing keys.
    pub keys: Arc<KeySet>,
    /// Password hashing.
    pub hasher: PasswordHasher,
    /// Salt of pairwise subjects, shared by all nodes through the store.
    pub pairwise_salt: Vec<u8>,
    /// Back-channel logout deliveries.
    pub notifier: Arc<dyn logout::LogoutNotifier>,
    /// Registered clients recently read, so token traffic does not hit the database for
    /// every request.
    pub clients: ClientCache,
    /// The key-encryption key (sealed signing keys and `client_secret_jwt` secrets).
    pub kek: Arc<crate::crypto::seal::Kek>,
}

/// How long a node trusts a client record it read (s): changes made on another node (or
/// by the CLI) take effect everywhere within this time.
pub const CLIENT_CACHE_TTL: i64 = 10;
const CLIENT_CACHE_MAX: usize = 10_000;

/// A small per-node cache of registered clients, expiring by the request clock. Unknown
/// ids are never cached, so a client registered elsewhere is usable at once.
#[derive(Debug, Default)]
pub struct ClientCache {
    entries: std::sync::Mutex<std::collections::HashMap<String, (crate::store::StoredClient, i64)>>,
}

impl ClientCache {
    /// The active client `id`, from the cache or the store.
    pub async fn get(
        &self,
        store: &dyn Store,
        id: &str,
        now: i64,
    ) -> Result<Option<crate::store::StoredClient>, StoreError> {
        if let Ok(map) = self.entries.lock()
            && let Some((c, expires)) = map.get(id)
            && *expires > now
        {
            return Ok(Some(c.clone()));
        }
        let found = store.find_client(id).await?;
        if let (Some(c), Ok(mut map)) = (&found, self.entries.lock()) {
            if map.len() >= CLIENT_CACHE_MAX {
                map.clear();
            }
            map.insert(id.to_owned(), (c.clone(), now + CLIENT_CACHE_TTL));
        }
        Ok(found)
    }

    /// Drops `id` after this node changed or removed it.
    pub fn forget(&self, id: &str) {
        if let Ok(mut map) = self.entries.lock() {
            map.remove(id);
        }
    }
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services").field("issuer", &self.config.issuer).finish_non_exhaustive()
    }
}

impl Services {
    /// The `sub` of `person` as `client` sees it (OIDC Core §8).
    pub fn subject_for(&self, client: &Client, person: &PersonId) -> String {
        match client.subject_type {
            SubjectType::Public => person.0.clone(),
            SubjectType::Pairwise => {
                crate::crypto::opaque::pairwise_subject(&self.pairwise_salt, &client.sector_identifier, &person.0)
            }
        }
    }
}

/// An authenticated browser session, stored ephemerally under the digest of its cookie.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrowserSession {
    /// Session id, published as `sid` in ID tokens.
    pub sid: String,
    /// Who signed in.
    pub person_id: String,
    /// When.
    pub auth_time: i64,
    /// What the authentication achieved.
    pub acr: String,
    /// How (RFC 8176 values).
    pub amr: Vec<String>,
    /// The representation (id) the person chose to act through in this session; `None`
    /// when they act for themselves.
    #[serde(default)]
    pub acting_for: Option<String>,
    /// Whether the person has chosen a context (themselves or an organisation) since
    /// signing in; a fresh sign-in asks once when they represent someone.
    #[serde(default)]
    pub context_chosen: bool,
    /// The upstream this session's sign-in came through, kept so that signing out here
    /// also signs out there (`flows::broker::logout_redirect`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream: Option<UpstreamLogin>,
}

/// A sign-in through an upstream provider, as the session remembers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpstreamLogin {
    /// The upstream's configured id.
    pub upstream: String,
    /// The ID token it issued us, sent back as `id_token_hint` at sign-out.
    pub id_token: String,
}

/// A port failure, logged with its cause and reported as `server_error` /
/// `temporarily_unavailable` without detail.
pub(crate) fn store_failed(e: StoreError) -> OAuthError {
    tracing::error!(error = %e, "durable store failed");
    OAuthError::new(ErrorCode::TemporarilyUnavailable, "the service is temporarily unavailable")
}

/// See [`store_failed`].
pub(crate) fn ephemeral_failed(e: EphemeralError) -> OAuthError {
    tracing::error!(error = %e, "ephemeral store failed");
    OAuthError::new(ErrorCode::TemporarilyUnavailable, "the service is temporarily unavailable")
}

/// Revokes the refresh-token families a session gave a client that must not outlive it,
/// with their access tokens.
pub(crate) async fn refresh_token_family_revocation(
    svc: &Services,
    sid: &str,
    client_id: &str,
    now: i64,
) -> Result<(), OAuthError> {
    for family in svc.store.revoke_session_families(sid, client_id, now).await.map_err(store_failed)? {
        svc.ephemeral.revoke_by_grant(&family).await.map_err(ephemeral_failed)?;
    }
    Ok(())
}

/// Appends a security event to the audit log (failures to write are logged by `audit`).
pub(crate) async fn audit(
    svc: &Services,
    now: i64,
    actor: String,
    action: &str,
    subject: Option<String>,
    outcome: &str,
) {
    let event = crate::audit::AuditEvent {
        at: now,
        actor,
        action: action.to_owned(),
        subject,
        outcome: outcome.to_owned(),
        detail: serde_json::Value::Object(Default::default()),
    };
    let _ = crate::audit::record(svc.store.as_ref(), event).await;
}

/// Serializes a record for the ephemeral store.
pub(crate) fn encode<T: Serialize>(v: &T) -> Result<Vec<u8>, OAuthError> {
    serde_json::to_vec(v).map_err(|e| {
        tracing::error!(error = %e, "record serialization failed");
        OAuthError::server_error()
    })
}

/// Deserializes a record from the ephemeral store; a record that does not parse (for
/// example one written by an incompatible version) is treated as absent.
pub(crate) fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Option<T> {
    serde_json::from_slice(bytes).ok()
}
