//! The behaviour suite of the ephemeral port, run against every implementation. Each
//! call passes `now`, so expiry is tested by moving time, not by sleeping.

use std::sync::Arc;

use super::{EphemeralStore, Namespace, Taken};

/// Runs every check against an empty `store`.
pub async fn run_all(store: &dyn EphemeralStore) {
    let t = 1_000;
    // a reachable store answers a ping
    store.ping().await.unwrap();
    // put / get / expiry
    store.put(Namespace::Session, "s1", b"v1".to_vec(), 10, None, t).await.unwrap();
    assert_eq!(store.get(Namespace::Session, "s1", t + 9).await.unwrap(), Some(b"v1".to_vec()));
    assert_eq!(store.get(Namespace::Session, "s1", t + 10).await.unwrap(), None);
    // namespaces are separate
    assert_eq!(store.get(Namespace::Code, "s1", t).await.unwrap(), None);
    // take: fresh once, then replayed, missing after expiry
    store.put(Namespace::Code, "c1", b"code".to_vec(), 60, Some("g1"), t).await.unwrap();
    assert_eq!(store.take(Namespace::Code, "c1", t + 1).await.unwrap(), Taken::Fresh(b"code".to_vec()));
    assert_eq!(store.take(Namespace::Code, "c1", t + 2).await.unwrap(), Taken::Replayed(b"code".to_vec()));
    assert_eq!(store.get(Namespace::Code, "c1", t + 2).await.unwrap(), None);
    assert_eq!(store.take(Namespace::Code, "c1", t + 61).await.unwrap(), Taken::Missing);
    assert_eq!(store.take(Namespace::Code, "nope", t).await.unwrap(), Taken::Missing);
    // delete
    store.put(Namespace::Interaction, "i1", b"x".to_vec(), 60, None, t).await.unwrap();
    store.delete(Namespace::Interaction, "i1").await.unwrap();
    assert_eq!(store.get(Namespace::Interaction, "i1", t).await.unwrap(), None);
    // revoke_by_grant removes every record of the grant and nothing else
    store.put(Namespace::AccessToken, "a1", b"1".to_vec(), 60, Some("g2"), t).await.unwrap();
    store.put(Namespace::AccessToken, "a2", b"2".to_vec(), 60, Some("g2"), t).await.unwrap();
    store.put(Namespace::AccessToken, "a3", b"3".to_vec(), 60, Some("g3"), t).await.unwrap();
    store.revoke_by_grant("g2").await.unwrap();
    assert_eq!(store.get(Namespace::AccessToken, "a1", t).await.unwrap(), None);
    assert_eq!(store.get(Namespace::AccessToken, "a2", t).await.unwrap(), None);
    assert_eq!(store.get(Namespace::AccessToken, "a3", t).await.unwrap(), Some(b"3".to_vec()));
    // counters
    assert_eq!(store.incr(Namespace::RateLimit, "k", 10, t).await.unwrap(), 1);
    assert_eq!(store.incr(Namespace::RateLimit, "k", 10, t + 5).await.unwrap(), 2);
    assert_eq!(store.incr(Namespace::RateLimit, "k", 10, t + 10).await.unwrap(), 1);
}

/// Many concurrent takes of one record: exactly one is fresh.
pub async fn concurrent_take(store: Arc<dyn EphemeralStore>) {
    store.put(Namespace::Code, "race", b"r".to_vec(), 60, None, 0).await.unwrap();
    let mut handles = Vec::new();
    for _ in 0..50 {
        let s = store.clone();
        handles.push(tokio::spawn(async move { s.take(Namespace::Code, "race", 1).await.unwrap() }));
    }
    let mut fresh = 0;
    for h in handles {
        if matches!(h.await.unwrap(), Taken::Fresh(_)) {
            fresh += 1;
        }
    }
    assert_eq!(fresh, 1);
}
