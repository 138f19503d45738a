//! Signing keys across nodes: the durable store holds every key (private parts sealed
//! under the KEK) and its lifecycle state, so all nodes agree; each node loads them into
//! its [`KeySet`] at start and reloads periodically.
//!
//! - [`start`]: on a node's first start every algorithm gets an active key — imported
//!   from the keys folder's PEM files if there, else generated — then the set is loaded.
//! - [`rotate`]: a `next` key, published at once, signs only after the pre-publication
//!   period (longer than the JWKS cache lifetime plus the reload interval).
//! - [`reload`]: applies the transitions that are due (next → active, active → retired,
//!   retired → removed once every token it signed has expired), starts a scheduled
//!   rotation when one is due, and swaps in a new snapshot only when the published set
//!   changed (JWKS bytes and ETag recomputed then, and only then).
//! - [`retire`]: takes a key out of service now (compromise, operator decision).
//!
//! The CLI (`dinhdanh keys …`) and the tests call these; a change made on one node is seen
//! by the others at their next reload.

use std::sync::{Arc, Weak};
use std::time::Duration;

use serde_json::{Value, json};

use super::Services;
use crate::audit::AuditEvent;
use crate::clock::Clock;
use crate::config::{Config, KekSource};
use crate::crypto::CryptoError;
use crate::crypto::keys::{self, KeySet, KeySnapshot, SigningKey};
use crate::crypto::seal::Kek;
use crate::protocol::client::SigningAlg;
use crate::store::{KeyState, Retirement, Store, StoreError, StoredSigningKey};

/// Appends a key event to the audit log (a failure to audit is logged by `audit`).
async fn audit(
    store: &dyn Store,
    now: i64,
    actor: &str,
    action: &str,
    subject: Option<&str>,
    outcome: Result<Value, String>,
) {
    let (ok, detail) = match outcome {
        Ok(d) => (true, d),
        Err(reason) => (false, json!({"reason": reason})),
    };
    let event = AuditEvent {
        at: now,
        actor: actor.to_owned(),
        action: if ok { action.to_owned() } else { format!("{action}.failed") },
        subject: subject.map(str::to_owned),
        outcome: if ok { "success" } else { "failure" }.to_owned(),
        detail,
    };
    let _ = crate::audit::record(store, event).await;
}

/// Why a key operation failed.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Key material could not be made, sealed, opened or parsed.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// The durable store failed.
    #[error("database: {0}")]
    Store(#[from] StoreError),
    /// A rotation of this algorithm is already under way.
    #[error("a next {alg} key is already published and waiting: {kid}, signing from {activates_at}")]
    Pending {
        /// The algorithm.
        alg: &'static str,
        /// The waiting key.
        kid: String,
        /// When it signs (RFC 3339).
        activates_at: String,
    },
    /// No such key (or it was already removed).
    #[error("no signing key {0} in service")]
    NotFound(String),
    /// No key-encryption key is configured where one is required.
    #[error(
        "no key-encryption key: set DINHDANH_KEY_ENCRYPTION_KEY (base64 of 32 random bytes: `openssl rand -base64 32`) \
         or DINHDANH_KEY_ENCRYPTION_KEY_FILE; private signing keys are stored in the database only sealed under it \
         (DINHDANH_DEV_KEYS=true generates a development one)"
    )]
    NoKek,
    /// Key generation was interrupted (the runtime is shutting down).
    #[error("signing key generation was interrupted")]
    Interrupted,
}

/// The timing rules of the key lifecycle, from the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyPolicy {
    /// How long a `next` key is published before it signs (s).
    pub prepublication: i64,
    /// How long a retired key stays published (s).
    pub retention: i64,
    /// Scheduled rotation period (s), if any.
    pub rotation_period: Option<i64>,
    /// Size of generated RSA keys.
    pub rsa_bits: usize,
}

impl KeyPolicy {
    /// The policy of `config`.
    pub fn from_config(c: &Config) -> KeyPolicy {
        KeyPolicy {
            prepublication: c.key_prepublication,
            // Every token a retired key signed has expired by then: the longest token
            // lifetime, plus one reload interval (other nodes may sign with it that much
            // longer), plus a minute of clock skew between nodes.
            retention: c.id_token_ttl.max(c.access_token_ttl) + c.key_reload_interval + 60,
            rotation_period: (c.key_rotation_days > 0).then(|| c.key_rotation_days * 86_400),
            rsa_bits: if c.dev_keys { 2048 } else { 3072 },
        }
    }
}

/// Opens the key-encryption key the configuration names; in development (none
/// configured, development keys allowed) the one generated into the keys folder. Returns
/// it with whether it is a development KEK.
pub fn open_kek(config: &Config) -> Result<(Kek, bool), KeyError> {
    match &config.key_encryption_key {
        Some(KekSource::Inline(text)) => Ok((Kek::from_base64(text.expose(), "DINHDANH_KEY_ENCRYPTION_KEY")?, false)),
        Some(KekSource::File(path)) => Ok((Kek::from_file(path)?, false)),
        None if config.dev_keys => Ok((Kek::development(&config.keys_dir)?, true)),
        None => Err(KeyError::NoKek),
    }
}

async fn generate(alg: SigningAlg, rsa_bits: usize) -> Result<Vec<u8>, KeyError> {
    // RSA generation takes a while: keep it off the async workers.
    tokio::task::spawn_blocking(move || keys::generate(alg, rsa_bits))
        .await
        .map_err(|_| KeyError::Interrupted)?
        .map_err(Into::into)
}

/// A store row for a new key, its private key sealed under `kek`.
fn sealed_row(
    kek: &Kek,
    alg: SigningAlg,
    der: &[u8],
    state: KeyState,
    now: i64,
    activates_at: i64,
) -> Result<StoredSigningKey, KeyError> {
    let key = SigningKey::from_pkcs8(alg, der)?;
    Ok(StoredSigningKey {
        sealed_private_key: kek.seal(&key.kid, der)?,
        kid: key.kid.clone(),
        alg,
        state,
        kek_id: kek.id().to_owned(),
        public_jwk: key.jwk().to_string(),
        created_at: now,
        activates_at,
        activated_at: (state == KeyState::Active).then_some(now),
        retired_at: None,
        not_after: None,
    })
}

/// Opens and parses a stored key, checking it is the key its row names.
fn open_row(kek: &Kek, row: &StoredSigningKey) -> Result<SigningKey, KeyError> {
    let der = kek.open(&row.kid, &row.sealed_private_key).map_err(|_| {
        CryptoError::Keys(format!(
            "signing key {} ({}) does not open with the configured key-encryption key (id {}; it was sealed under id \
             {}): is DINHDANH_KEY_ENCRYPTION_KEY the one this database was set up with?",
            row.kid,
            row.alg.as_str(),
            kek.id(),
            row.kek_id
        ))
    })?;
    let key = SigningKey::from_pkcs8(row.alg, &der)?;
    if key.kid != row.kid {
        return Err(CryptoError::Keys(format!("signing key {} does not match its key id", row.kid)).into());
    }
    Ok(key)
}

/// Makes sure every algorithm has an active key in the store, importing the PEM file of
/// the keys folder on first start (existing deployments keep their keys and `kid`s),
/// else generating one. Nodes starting together race harmlessly: one insert per
/// algorithm wins.
async fn ensure_active_keys(store: &dyn Store, kek: &Kek, config: &Config, now: i64) -> Result<(), KeyError> {
    let policy = KeyPolicy::from_config(config);
    let rows = store.signing_keys(false).await?;
    for alg in SigningAlg::ALL {
        if rows.iter().any(|k| k.alg == alg && k.state == KeyState::Active) {
            continue;
        }
        let (der, origin) = match keys::read_pem(&config.keys_dir, alg)? {
            Some(der) => (der, "imported from the keys folder"),
            None => (generate(alg, policy.rsa_bits).await?, "generated"),
        };
        let row = sealed_row(kek, alg, &der, KeyState::Active, now, now)?;
        match store.insert_signing_key(&row).await {
            Ok(()) => {
                tracing::info!(kid = %row.kid, alg = alg.as_str(), "signing key {origin}, stored sealed");
                let detail = json!({"alg": alg.as_str(), "origin": origin});
                audit(store, now, "system", "keys.create", Some(&row.kid), Ok(detail)).await;
            }
            Err(StoreError::Conflict(_)) => {} // another node was first
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Starts a node's keys: every algorithm gets an active key in the store if it has none,
/// then the published set is loaded (due transitions applied). Fails with a clear error
/// when a stored key does not open with `kek`.
pub async fn start(
    store: &dyn Store,
    kek: Kek,
    development: bool,
    config: &Config,
    now: i64,
) -> Result<KeySet, KeyError> {
    ensure_active_keys(store, &kek, config, now).await?;
    let set = KeySet::new(KeySnapshot::new(Vec::new()), Some(kek), development);
    reload(store, &set, &KeyPolicy::from_config(config), now).await?;
    let snapshot = set.current();
    for alg in SigningAlg::ALL {
        snapshot.signer(alg)?;
    }
    Ok(set)
}

fn transitions_due(rows: &[StoredSigningKey], now: i64) -> bool {
    rows.iter().any(|k| match k.state {
        KeyState::Next => k.activates_at <= now,
        KeyState::Retired => k.not_after.is_some_and(|t| t <= now),
        KeyState::Active | KeyState::Removed => false,
    })
}

fn rotation_due(rows: &[StoredSigningKey], alg: SigningAlg, policy: &KeyPolicy, now: i64) -> bool {
    let Some(period) = policy.rotation_period else { return false };
    let waiting = rows.iter().any(|k| k.alg == alg && k.state == KeyState::Next);
    let active_since = rows
        .iter()
        .find(|k| k.alg == alg && k.state == KeyState::Active)
        .map(|k| k.activated_at.unwrap_or(k.created_at));
    // Created one pre-publication ahead, so the new key signs when the period ends.
    !waiting && active_since.is_some_and(|t| t + period - policy.prepublication <= now)
}

/// JWKS order: active keys first (the ones a relying party most likely needs), then
/// waiting ones, then retired ones; by algorithm and age within each.
fn publication_order(k: &StoredSigningKey) -> (u8, usize, i64) {
    let state = match k.state {
        KeyState::Active => 0,
        KeyState::Next => 1,
        KeyState::Retired => 2,
        KeyState::Removed => 3,
    };
    let alg = SigningAlg::ALL.iter().position(|a| *a == k.alg).unwrap_or(usize::MAX);
    (state, alg, k.created_at)
}

/// Serves what `rows` say, unless the current snapshot already does: parsed keys are
/// reused by kid, new ones are opened with the set's KEK. Returns whether it swapped.
fn apply(keys: &KeySet, rows: &[StoredSigningKey]) -> Result<bool, KeyError> {
    let mut published: Vec<&StoredSigningKey> = rows.iter().filter(|k| k.state.is_published()).collect();
    published.sort_by_key(|k| publication_order(k));
    let layout: Vec<(&str, bool)> = published.iter().map(|k| (k.kid.as_str(), k.state == KeyState::Active)).collect();
    let current = keys.current();
    if current.has_layout(&layout) {
        return Ok(false);
    }
    let kek = keys.kek().ok_or(KeyError::NoKek)?;
    let mut next = Vec::with_capacity(published.len());
    for row in published {
        let key = match current.find_shared(&row.kid) {
            Some(k) => k,
            None => Arc::new(open_row(kek, row)?),
        };
        next.push((key, row.state == KeyState::Active));
    }
    keys.replace(KeySnapshot::new(next));
    Ok(true)
}

/// Brings `keys` up to date with the store at `now`: applies the transitions that are
/// due, starts a scheduled rotation when one is due, and swaps in a new snapshot when the
/// published keys or the signers changed. Returns whether it swapped.
pub async fn reload(store: &dyn Store, keys: &KeySet, policy: &KeyPolicy, now: i64) -> Result<bool, KeyError> {
    let mut rows = store.signing_keys(false).await?;
    if transitions_due(&rows, now) {
        let changed = store.advance_signing_keys(now, policy.retention).await?;
        if changed > 0 {
            tracing::info!(changed, "signing keys moved on in their lifecycle");
            audit(store, now, "system", "keys.advance", None, Ok(json!({"changed": changed}))).await;
        }
        rows = store.signing_keys(false).await?;
    }
    if let Some(kek) = keys.kek() {
        let mut rotated = false;
        for alg in SigningAlg::ALL {
            if rotation_due(&rows, alg, policy, now) {
                match create_next(store, kek, policy, alg, now).await {
                    Ok(row) => {
                        tracing::info!(kid = %row.kid, alg = alg.as_str(), "scheduled rotation: next key published");
                        let detail =
                            json!({"alg": alg.as_str(), "scheduled": true, "signs_from": rfc3339(row.activates_at)});
                        audit(store, now, "system", "keys.rotate", Some(&row.kid), Ok(detail)).await;
                        rotated = true;
                    }
                    Err(KeyError::Pending { .. }) => {} // another node was first
                    Err(e) => return Err(e),
                }
            }
        }
        if rotated {
            rows = store.signing_keys(false).await?;
        }
    }
    let swapped = apply(keys, &rows)?;
    if swapped {
        tracing::info!(keys = keys.current().keys().len(), "signing keys reloaded");
    }
    Ok(swapped)
}

async fn create_next(
    store: &dyn Store,
    kek: &Kek,
    policy: &KeyPolicy,
    alg: SigningAlg,
    now: i64,
) -> Result<StoredSigningKey, KeyError> {
    let der = generate(alg, policy.rsa_bits).await?;
    let row = sealed_row(kek, alg, &der, KeyState::Next, now, now + policy.prepublication)?;
    match store.insert_signing_key(&row).await {
        Ok(()) => Ok(row),
        Err(StoreError::Conflict(_)) => Err(pending(store, alg).await),
        Err(e) => Err(e.into()),
    }
}

async fn pending(store: &dyn Store, alg: SigningAlg) -> KeyError {
    let waiting = match store.signing_keys(false).await {
        Ok(rows) => rows.into_iter().find(|k| k.alg == alg && k.state == KeyState::Next),
        Err(e) => return e.into(),
    };
    let (kid, at) = waiting.map(|k| (k.kid, rfc3339(k.activates_at))).unwrap_or_default();
    KeyError::Pending { alg: alg.as_str(), kid, activates_at: at }
}

/// Starts a rotation of `alg`: a new key, sealed, published now as `next`, signing
/// after the pre-publication period. Refused while a `next` key of `alg` waits. Audited
/// as `keys.rotate` (or `keys.rotate.failed`) by `actor`.
pub async fn rotate(
    store: &dyn Store,
    kek: &Kek,
    policy: &KeyPolicy,
    alg: SigningAlg,
    actor: &str,
    now: i64,
) -> Result<StoredSigningKey, KeyError> {
    let result = async {
        if store.signing_keys(false).await?.iter().any(|k| k.alg == alg && k.state == KeyState::Next) {
            return Err(pending(store, alg).await);
        }
        create_next(store, kek, policy, alg, now).await
    }
    .await;
    match &result {
        Ok(row) => {
            tracing::info!(kid = %row.kid, alg = alg.as_str(), signs_from = %rfc3339(row.activates_at), "rotation started");
            let detail = json!({"alg": alg.as_str(), "signs_from": rfc3339(row.activates_at)});
            audit(store, now, actor, "keys.rotate", Some(&row.kid), Ok(detail)).await;
        }
        Err(e) => audit(store, now, actor, "keys.rotate", None, Err(format!("{}: {e}", alg.as_str()))).await,
    }
    result
}

/// Takes `kid` out of service now. An active key is replaced at once by its algorithm's
/// waiting `next` key, or by a freshly generated one (no pre-publication: relying parties
/// refetch the JWKS on an unknown `kid`). It stays published until the tokens it signed
/// have expired, or leaves the JWKS at once with `remove_now` (a compromised key: tokens
/// it signed stop verifying). Audited as `keys.retire` (or `keys.retire.failed`).
pub async fn retire(
    store: &dyn Store,
    kek: &Kek,
    policy: &KeyPolicy,
    kid: &str,
    remove_now: bool,
    actor: &str,
    now: i64,
) -> Result<Retirement, KeyError> {
    let result = retire_unaudited(store, kek, policy, kid, remove_now, now).await;
    let outcome = match &result {
        Ok(r) => Ok(json!({"remove_now": remove_now, "outcome": format!("{r:?}")})),
        Err(e) => Err(e.to_string()),
    };
    audit(store, now, actor, "keys.retire", Some(kid), outcome).await;
    result
}

async fn retire_unaudited(
    store: &dyn Store,
    kek: &Kek,
    policy: &KeyPolicy,
    kid: &str,
    remove_now: bool,
    now: i64,
) -> Result<Retirement, KeyError> {
    let not_after = if remove_now { now } else { now + policy.retention };
    for attempt in 0..2 {
        let rows = store.signing_keys(false).await?;
        let Some(row) = rows.iter().find(|k| k.kid == kid) else { return Err(KeyError::NotFound(kid.to_owned())) };
        let needs = row.state == KeyState::Active
            && (attempt > 0 || !rows.iter().any(|k| k.alg == row.alg && k.state == KeyState::Next));
        let replacement = if needs {
            let der = generate(row.alg, policy.rsa_bits).await?;
            Some(sealed_row(kek, row.alg, &der, KeyState::Active, now, now)?)
        } else {
            None
        };
        match store.retire_signing_key(kid, now, not_after, replacement.as_ref()).await? {
            Retirement::NotFound => return Err(KeyError::NotFound(kid.to_owned())),
            Retirement::NeedsReplacement => continue, // the waiting key went away meanwhile
            done => {
                tracing::warn!(kid, remove_now, outcome = ?done, "signing key retired by an operator");
                return Ok(done);
            }
        }
    }
    Err(KeyError::Store(StoreError::Unavailable("the signing keys kept changing during retirement".into())))
}

/// The keys for display, oldest first (removed ones with `include_removed`).
pub async fn list(store: &dyn Store, include_removed: bool) -> Result<Vec<StoredSigningKey>, KeyError> {
    Ok(store.signing_keys(include_removed).await?)
}

/// One key as `dinhdanh keys list` shows it.
pub fn describe(k: &StoredSigningKey) -> Value {
    let time = |t: Option<i64>| t.map(rfc3339);
    json!({
        "kid": k.kid,
        "alg": k.alg.as_str(),
        "state": k.state.as_str(),
        "published": k.state.is_published(),
        "signing": k.state == KeyState::Active,
        "created_at": rfc3339(k.created_at),
        "signs_from": if k.state == KeyState::Next { Some(rfc3339(k.activates_at)) } else { None },
        "activated_at": time(k.activated_at),
        "retired_at": time(k.retired_at),
        "unpublished_at": time(k.not_after),
        "kek_id": k.kek_id,
    })
}

/// Rotates `alg` on this node's store and reloads its keys at once.
pub async fn rotate_here(svc: &Services, alg: SigningAlg, actor: &str, now: i64) -> Result<StoredSigningKey, KeyError> {
    let kek = svc.keys.kek().ok_or(KeyError::NoKek)?;
    let policy = KeyPolicy::from_config(&svc.config);
    let row = rotate(svc.store.as_ref(), kek, &policy, alg, actor, now).await?;
    reload(svc.store.as_ref(), &svc.keys, &policy, now).await?;
    Ok(row)
}

/// Retires `kid` on this node's store and reloads its keys at once.
pub async fn retire_here(
    svc: &Services,
    kid: &str,
    remove_now: bool,
    actor: &str,
    now: i64,
) -> Result<Retirement, KeyError> {
    let kek = svc.keys.kek().ok_or(KeyError::NoKek)?;
    let policy = KeyPolicy::from_config(&svc.config);
    let r = retire(svc.store.as_ref(), kek, &policy, kid, remove_now, actor, now).await?;
    reload(svc.store.as_ref(), &svc.keys, &policy, now).await?;
    Ok(r)
}

/// Reloads this node's keys from its store at `now`.
pub async fn reload_here(svc: &Services, now: i64) -> Result<bool, KeyError> {
    reload(svc.store.as_ref(), &svc.keys, &KeyPolicy::from_config(&svc.config), now).await
}

/// Reloads the keys of `svc` every `every` until the services are dropped. A failed
/// reload keeps the current keys and is logged; the next tick tries again.
pub async fn reload_periodically(svc: Weak<Services>, clock: Arc<dyn Clock>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await; // the first tick is immediate; the keys were just loaded
    loop {
        tick.tick().await;
        let Some(svc) = svc.upgrade() else { return };
        if let Err(e) = reload_here(&svc, clock.now()).await {
            tracing::error!(error = %e, "reloading the signing keys failed; serving the ones loaded before");
        }
    }
}

/// `t` (Unix seconds, UTC) as RFC 3339, e.g. `2026-11-22T00:00:00Z`.
pub fn rfc3339(t: i64) -> String {
    let (days, secs) = (t.div_euclid(86_400), t.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", secs / 3600, secs % 3600 / 60, secs % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_formats_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_795_305_600), "2026-11-22T00:00:00Z");
        assert_eq!(rfc3339(951_825_599), "2000-02-29T11:59:59Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
    }

    fn row(alg: SigningAlg, state: KeyState, created: i64) -> StoredSigningKey {
        StoredSigningKey {
            kid: format!("{}-{created}", alg.as_str()),
            alg,
            state,
            sealed_private_key: Vec::new(),
            kek_id: "k".into(),
            public_jwk: "{}".into(),
            created_at: created,
            activates_at: created + 3600,
            activated_at: (state == KeyState::Active).then_some(created),
            retired_at: None,
            not_after: None,
        }
    }

    #[test]
    fn scheduled_rotation_starts_one_prepublication_before_the_period_ends() {
        let policy = KeyPolicy { prepublication: 3600, retention: 720, rotation_period: Some(86_400), rsa_bits: 2048 };
        let rows = vec![row(SigningAlg::ES256, KeyState::Active, 1_000)];
        assert!(!rotation_due(&rows, SigningAlg::ES256, &policy, 1_000 + 86_400 - 3601));
        assert!(rotation_due(&rows, SigningAlg::ES256, &policy, 1_000 + 86_400 - 3600));
        assert!(!rotation_due(&rows, SigningAlg::RS256, &policy, 1_000_000), "no active key: bootstrap's job");
        let mut waiting = rows.clone();
        waiting.push(row(SigningAlg::ES256, KeyState::Next, 90_000));
        assert!(!rotation_due(&waiting, SigningAlg::ES256, &policy, 1_000_000), "one rotation at a time");
        let off = KeyPolicy { rotation_period: None, ..policy };
        assert!(!rotation_due(&rows, SigningAlg::ES256, &off, i64::MAX / 2));
    }

    #[test]
    fn transitions_are_due_by_time() {
        let next = row(SigningAlg::EdDSA, KeyState::Next, 0);
        assert!(!transitions_due(std::slice::from_ref(&next), 3599));
        assert!(transitions_due(std::slice::from_ref(&next), 3600));
        let retired = StoredSigningKey { not_after: Some(50), ..row(SigningAlg::EdDSA, KeyState::Retired, 0) };
        assert!(!transitions_due(std::slice::from_ref(&retired), 49));
        assert!(transitions_due(std::slice::from_ref(&retired), 50));
    }
}
