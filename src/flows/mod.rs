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
    /// People recently read, so userinfo does not hit the database for every request.
    pub people: PersonCache,
    /// The key-encryption key (sealed signing keys and `client_secret_jwt` secrets).
    pub kek: Arc<crate::crypto::seal::Kek>,
}

/// How long a node trusts a client record it read (s): changes made on another node (or
/// by the CLI) take effect everywhere within this time.
pub const CLIENT_CACHE_TTL: i64 = 10;
const CLIENT_CACHE_MAX: usize = 10_000;

/// How many people a node's [`PersonCache`] holds at most.
pub const PERSON_CACHE_MAX: usize = 8_192;

/// A small per-node cache of records read from the durable store, each trusted until
/// `ttl` seconds after it was read (by the request clock). Absent records are never
/// cached, so a record created elsewhere is usable at once. Bounded: when full, expired
/// entries go first, and if none had expired, all of them.
#[derive(Debug)]
pub struct NodeCache<V> {
    ttl: i64,
    max: usize,
    entries: std::sync::Mutex<std::collections::HashMap<String, (Arc<V>, i64)>>,
}

/// Registered clients recently read (see [`CLIENT_CACHE_TTL`]).
pub type ClientCache = NodeCache<crate::store::StoredClient>;
/// People recently read, for userinfo, trusted for
/// `Config::person_cache_ttl` seconds. A change this node makes is seen at once (the
/// flow forgets the entry); one made on another node or by the CLI, disabling included,
/// reaches every node within that time. Sign-in, the code exchange, refresh and the
/// account pages always read the store: no new token is issued on a stale record.
pub type PersonCache = NodeCache<crate::identity::Person>;

impl Default for ClientCache {
    fn default() -> Self {
        Self::new(CLIENT_CACHE_TTL, CLIENT_CACHE_MAX)
    }
}

impl<V> NodeCache<V> {
    /// An empty cache trusting entries for `ttl` seconds, holding at most `max`.
    pub fn new(ttl: i64, max: usize) -> Self {
        Self { ttl, max, entries: std::sync::Mutex::default() }
    }

    /// The record under `key`: from the cache while fresh, else from `load` (a store read,
    /// only awaited on a miss), remembered when found.
    pub async fn get_or_load<F>(&self, key: &str, now: i64, load: F) -> Result<Option<Arc<V>>, StoreError>
    where
        F: std::future::Future<Output = Result<Option<V>, StoreError>>,
    {
        if self.ttl <= 0 {
            return Ok(load.await?.map(Arc::new));
        }
        if let Ok(map) = self.entries.lock()
            && let Some((v, expires)) = map.get(key)
            && *expires > now
        {
            return Ok(Some(v.clone()));
        }
        let found = load.await?.map(Arc::new);
        if let (Some(v), Ok(mut map)) = (&found, self.entries.lock()) {
            if map.len() >= self.max {
                map.retain(|_, (_, expires)| *expires > now);
                if map.len() >= self.max {
                    map.clear();
                }
            }
            map.insert(key.to_owned(), (v.clone(), now + self.ttl));
        }
        Ok(found)
    }

    /// Drops `key` after this node changed or removed its record.
    pub fn forget(&self, key: &str) {
        if let Ok(mut map) = self.entries.lock() {
            map.remove(key);
        }
    }
}

impl ClientCache {
    /// The client `id`, from the cache or the store.
    pub async fn get(
        &self,
        store: &dyn Store,
        id: &str,
        now: i64,
    ) -> Result<Option<crate::store::StoredClient>, StoreError> {
        Ok(self.get_or_load(id, now, store.find_client(id)).await?.map(|c| (*c).clone()))
    }
}

impl PersonCache {
    /// The person `id`, from the cache or the store. For reads that may lag a change made
    /// on another node by up to the cache's time; callers still check the status.
    pub async fn get(
        &self,
        store: &dyn Store,
        id: &PersonId,
        now: i64,
    ) -> Result<Option<Arc<crate::identity::Person>>, StoreError> {
        self.get_or_load(&id.0, now, store.find_person(id)).await
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

#[cfg(test)]
mod tests {
    use super::*;

    fn load(
        v: Option<&'static str>,
        reads: &std::sync::atomic::AtomicUsize,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> {
        reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        std::future::ready(Ok(v.map(str::to_owned)))
    }

    #[tokio::test]
    async fn a_node_cache_trusts_a_record_for_its_time_never_an_absence_and_stays_bounded() {
        use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
        let reads = AtomicUsize::new(0);
        let cache = NodeCache::<String>::new(5, 3);
        let got = cache.get_or_load("a", 100, load(Some("one"), &reads)).await.unwrap();
        assert_eq!(got.as_deref().map(String::as_str), Some("one"));
        // Fresh: the store is not asked (the loader given is never awaited).
        let got = cache.get_or_load("a", 104, load(Some("two"), &reads)).await.unwrap();
        assert_eq!(got.as_deref().map(String::as_str), Some("one"));
        // Expired: read again.
        let got = cache.get_or_load("a", 105, load(Some("two"), &reads)).await.unwrap();
        assert_eq!(got.as_deref().map(String::as_str), Some("two"));
        // Forgotten: read again at once.
        cache.forget("a");
        let got = cache.get_or_load("a", 105, load(Some("three"), &reads)).await.unwrap();
        assert_eq!(got.as_deref().map(String::as_str), Some("three"));
        // Absent records are not remembered: a record created elsewhere is found at once.
        assert!(cache.get_or_load("b", 105, load(None, &reads)).await.unwrap().is_none());
        let got = cache.get_or_load("b", 105, load(Some("new"), &reads)).await.unwrap();
        assert_eq!(got.as_deref().map(String::as_str), Some("new"));
        // Bounded: when full, the expired go first, then everything.
        cache.get_or_load("c", 106, load(Some("c"), &reads)).await.unwrap();
        assert_eq!(cache.entries.lock().unwrap().len(), 3);
        cache.get_or_load("d", 110, load(Some("d"), &reads)).await.unwrap();
        let keys = |c: &NodeCache<String>| {
            let mut k: Vec<String> = c.entries.lock().unwrap().keys().cloned().collect();
            k.sort();
            k
        };
        assert_eq!(keys(&cache), ["c", "d"], "a and b (read at 105) had expired at 110");
        cache.get_or_load("e", 110, load(Some("e"), &reads)).await.unwrap();
        cache.get_or_load("f", 110, load(Some("f"), &reads)).await.unwrap();
        assert_eq!(keys(&cache), ["f"], "full of fresh entries: cleared");
        // A time of zero caches nothing.
        let off = NodeCache::<String>::new(0, 3);
        let before = reads.load(SeqCst);
        off.get_or_load("a", 1, load(Some("x"), &reads)).await.unwrap();
        off.get_or_load("a", 1, load(Some("x"), &reads)).await.unwrap();
        assert_eq!(reads.load(SeqCst) - before, 2);
        assert!(off.entries.lock().unwrap().is_empty());
    }
}
