//! Contract checks of the signing-key port ([`KeyStore`](crate::store::KeyStore)): the
//! lifecycle transitions, the one-active/one-next rule per algorithm, that failed writes
//! leave nothing, and that concurrent nodes cannot both win.

use std::collections::HashMap;
use std::sync::Arc;

use crate::protocol::client::SigningAlg::{self, ES256, EdDSA, RS256};
use crate::store::KeyState::{Active, Next, Removed, Retired};
use crate::store::{KeyState, Retirement, Store, StoreError, StoredSigningKey};

fn key(kid: &str, alg: SigningAlg, state: KeyState, at: i64) -> StoredSigningKey {
    StoredSigningKey {
        kid: kid.into(),
        alg,
        state,
        sealed_private_key: vec![1, 2, 3, 0, 255, u8::try_from(kid.len()).unwrap()],
        kek_id: "kek-a".into(),
        public_jwk: format!(r#"{{"kid":"{kid}"}}"#),
        created_at: at,
        activates_at: if state == Next { at + 100 } else { at },
        activated_at: (state == Active).then_some(at),
        retired_at: None,
        not_after: None,
    }
}

async fn rows(store: &dyn Store, include_removed: bool) -> HashMap<String, StoredSigningKey> {
    store.signing_keys(include_removed).await.unwrap().into_iter().map(|k| (k.kid.clone(), k)).collect()
}

fn conflict(r: Result<(), StoreError>) -> bool {
    matches!(r, Err(StoreError::Conflict(_)))
}

/// The lifecycle on one store.
pub async fn signing_keys(store: &dyn Store) {
    assert!(store.signing_keys(true).await.unwrap().is_empty());
    let a = key("es-a", ES256, Active, 1_000);
    store.insert_signing_key(&a).await.unwrap();
    assert_eq!(store.signing_keys(false).await.unwrap(), vec![a.clone()], "a row reads back as written");
    // One active key per algorithm, unique kids, only next/active are inserted; a failed
    // insert writes nothing.
    assert!(conflict(store.insert_signing_key(&key("es-b", ES256, Active, 1_001)).await));
    assert!(conflict(store.insert_signing_key(&StoredSigningKey { alg: RS256, ..a.clone() }).await));
    assert!(conflict(store.insert_signing_key(&key("es-r", ES256, Retired, 1_001)).await));
    assert_eq!(store.signing_keys(true).await.unwrap().len(), 1);
    // One waiting key per algorithm; algorithms are independent.
    store.insert_signing_key(&key("es-b", ES256, Next, 1_100)).await.unwrap();
    assert!(conflict(store.insert_signing_key(&key("es-c", ES256, Next, 1_150)).await));
    store.insert_signing_key(&key("rs-a", RS256, Active, 1_000)).await.unwrap();
    let order: Vec<String> = store.signing_keys(false).await.unwrap().into_iter().map(|k| k.kid).collect();
    assert_eq!(order, ["es-a", "rs-a", "es-b"], "oldest first");

    // Nothing is due before activates_at; then next → active and active → retired.
    assert_eq!(store.advance_signing_keys(1_199, 600).await.unwrap(), 0);
    assert_eq!(store.advance_signing_keys(1_200, 600).await.unwrap(), 2);
    let r = rows(store, false).await;
    assert_eq!((r["es-b"].state, r["es-b"].activated_at), (Active, Some(1_200)));
    assert_eq!((r["es-a"].state, r["es-a"].retired_at, r["es-a"].not_after), (Retired, Some(1_200), Some(1_800)));
    assert_eq!(r["rs-a"].state, Active, "other algorithms untouched");
    assert_eq!(store.advance_signing_keys(1_200, 600).await.unwrap(), 0, "applied once");
    // Retired → removed at not_after: unpublished, private key erased, public JWK kept.
    assert_eq!(store.advance_signing_keys(1_799, 600).await.unwrap(), 0);
    assert_eq!(store.advance_signing_keys(1_800, 600).await.unwrap(), 1);
    assert!(!rows(store, false).await.contains_key("es-a"));
    let gone = rows(store, true).await.remove("es-a").unwrap();
    assert_eq!(gone.state, Removed);
    assert!(gone.sealed_private_key.is_empty(), "a removed key's private key is erased");
    assert_eq!(gone.public_jwk, a.public_jwk);

    // Retiring an active key with nothing to take over changes nothing.
    assert_eq!(store.retire_signing_key("rs-a", 2_000, 2_600, None).await.unwrap(), Retirement::NeedsReplacement);
    assert_eq!(rows(store, false).await["rs-a"].state, Active);
    // With a replacement, it signs at once.
    let rs_b = key("rs-b", RS256, Active, 2_000);
    assert_eq!(
        store.retire_signing_key("rs-a", 2_000, 2_600, Some(&rs_b)).await.unwrap(),
        Retirement::Retired { successor: Some("rs-b".into()) }
    );
    let r = rows(store, false).await;
    assert_eq!((r["rs-a"].state, r["rs-a"].retired_at, r["rs-a"].not_after), (Retired, Some(2_000), Some(2_600)));
    assert_eq!((r["rs-b"].state, r["rs-b"].activated_at), (Active, Some(2_000)));
    // A waiting next key takes over before any replacement.
    store.insert_signing_key(&key("es-n", ES256, Next, 2_000)).await.unwrap();
    let unused = key("es-x", ES256, Active, 2_000);
    assert_eq!(
        store.retire_signing_key("es-b", 2_100, 2_700, Some(&unused)).await.unwrap(),
        Retirement::Retired { successor: Some("es-n".into()) }
    );
    let r = rows(store, true).await;
    assert_eq!((r["es-n"].state, r["es-n"].activated_at), (Active, Some(2_100)));
    assert_eq!(r["es-b"].state, Retired);
    assert!(!r.contains_key("es-x"));
    // A waiting key that is retired never signed: removed at once.
    store.insert_signing_key(&key("es-m", ES256, Next, 2_200)).await.unwrap();
    assert_eq!(
        store.retire_signing_key("es-m", 2_300, 2_900, None).await.unwrap(),
        Retirement::Removed { successor: None }
    );
    assert_eq!(rows(store, true).await["es-m"].state, Removed);
    // A retired key can be unpublished earlier, never later, or at once.
    let early = store.retire_signing_key("rs-a", 2_400, 2_500, None).await.unwrap();
    assert_eq!(early, Retirement::Retired { successor: None });
    store.retire_signing_key("rs-a", 2_400, 9_999, None).await.unwrap();
    assert_eq!(rows(store, false).await["rs-a"].not_after, Some(2_500));
    let now = store.retire_signing_key("rs-a", 2_450, 2_450, None).await.unwrap();
    assert_eq!(now, Retirement::Removed { successor: None });
    assert!(rows(store, true).await["rs-a"].sealed_private_key.is_empty());
    // A compromised active key leaves at once, replaced in the same transaction.
    let rs_c = key("rs-c", RS256, Active, 2_500);
    assert_eq!(
        store.retire_signing_key("rs-b", 2_500, 2_500, Some(&rs_c)).await.unwrap(),
        Retirement::Removed { successor: Some("rs-c".into()) }
    );
    let r = rows(store, true).await;
    assert_eq!((r["rs-b"].state, r["rs-c"].state), (Removed, Active));
    assert_eq!(store.retire_signing_key("nope", 2_600, 3_000, None).await.unwrap(), Retirement::NotFound);
    assert_eq!(store.retire_signing_key("rs-b", 2_600, 3_000, None).await.unwrap(), Retirement::NotFound);
}

/// Nodes racing: starting together, exactly one first key per algorithm wins; advancing
/// together, the transition happens once.
pub async fn concurrent_signing_keys(store: Arc<dyn Store>) {
    let tasks: Vec<_> = (0..30)
        .map(|i| {
            let s = store.clone();
            tokio::spawn(async move { s.insert_signing_key(&key(&format!("boot-{i}"), EdDSA, Active, 10)).await })
        })
        .collect();
    let mut won = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) => won += 1,
            Err(StoreError::Conflict(_)) => {}
            Err(e) => panic!("a racing insert failed otherwise: {e}"),
        }
    }
    assert_eq!(won, 1);
    store.insert_signing_key(&key("ed-next", EdDSA, Next, 10)).await.unwrap();
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let s = store.clone();
            tokio::spawn(async move { s.advance_signing_keys(200, 600).await })
        })
        .collect();
    let mut changed = 0;
    for t in tasks {
        changed += t.await.unwrap().unwrap();
    }
    assert_eq!(changed, 2, "one promotion, one retirement, once");
    let all = store.signing_keys(false).await.unwrap();
    let active: Vec<&str> = all.iter().filter(|k| k.state == Active).map(|k| k.kid.as_str()).collect();
    assert_eq!(active, ["ed-next"]);
    assert_eq!(all.iter().filter(|k| k.state == Retired).count(), 1);
}
