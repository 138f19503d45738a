//! The behaviour suite of the durable port, run against every implementation.

use std::sync::Arc;

use super::{RefreshFamily, RefreshLookup, Rotation, Store};
use crate::identity::{Person, PersonId, PersonStatus, PersonalNumber};
use crate::protocol::client::ClientMetadata;
use crate::protocol::scope::Scopes;

fn person(id: &str, username: &str, pin: Option<&str>) -> Person {
    Person {
        id: PersonId(id.into()),
        username: Some(username.into()),
        name: Some("Trần Thị Bình".into()),
        email: Some(format!("{username}@example.vn")),
        email_verified: true,
        phone: None,
        phone_verified: false,
        address: Some("12 Lê Lợi, Huế".into()),
        personal_number: pin.map(|p| PersonalNumber::parse(p, 2026).unwrap()),
        status: PersonStatus::Active,
        created_at: 10,
        updated_at: 11,
    }
}

/// Runs every check against `store` (freshly migrated, empty).
pub async fn run_all(store: &dyn Store) {
    clients(store).await;
    people(store).await;
    consents(store).await;
    refresh_families(store).await;
    secrets(store).await;
}

fn family(id: &str) -> RefreshFamily {
    RefreshFamily {
        family_id: id.into(),
        client_id: "contract-rp".into(),
        person_id: PersonId("p-1".into()),
        scope: Scopes::parse("openid offline_access"),
        claims: Default::default(),
        acr: "urn:vn:local:basic".into(),
        amr: vec!["pwd".into()],
        auth_time: 100,
        sid: "sid-1".into(),
        created_at: 100,
        expires_at: 10_000,
    }
}

async fn refresh_families(store: &dyn Store) {
    let f = family("fam-1");
    store.create_refresh_family(&f, "rt-1", 1_000).await.unwrap();
    assert_eq!(store.find_refresh_token("rt-1", 200).await.unwrap(), RefreshLookup::Current(f.clone()));
    assert_eq!(store.find_refresh_token("rt-1", 1_000).await.unwrap(), RefreshLookup::Invalid, "idle expiry");
    // Rotation: old used, new current.
    assert_eq!(store.rotate_refresh_token("rt-1", "rt-2", 300, 2_000).await.unwrap(), Rotation::Rotated(f.clone()));
    assert_eq!(store.find_refresh_token("rt-1", 300).await.unwrap(), RefreshLookup::Used { family_id: "fam-1".into() });
    assert_eq!(store.find_refresh_token("rt-2", 300).await.unwrap(), RefreshLookup::Current(f.clone()));
    // Reuse of the old token is reported with its family.
    assert_eq!(
        store.rotate_refresh_token("rt-1", "rt-x", 301, 2_000).await.unwrap(),
        Rotation::Reused { family_id: "fam-1".into() }
    );
    assert_eq!(store.find_refresh_token("rt-x", 301).await.unwrap(), RefreshLookup::Invalid, "nothing issued on reuse");
    assert_eq!(store.rotate_refresh_token("nope", "rt-y", 301, 2_000).await.unwrap(), Rotation::Invalid);
    // Idle expiry and the absolute cap.
    assert_eq!(store.rotate_refresh_token("rt-2", "rt-3", 2_000, 99_999).await.unwrap(), Rotation::Invalid);
    let g = family("fam-2");
    store.create_refresh_family(&g, "rt-g1", 50_000).await.unwrap();
    assert_eq!(store.find_refresh_token("rt-g1", 10_000).await.unwrap(), RefreshLookup::Invalid, "absolute expiry");
    // Revocation ends the family.
    let h = family("fam-3");
    store.create_refresh_family(&h, "rt-h1", 5_000).await.unwrap();
    store.revoke_refresh_family("fam-3", 400).await.unwrap();
    assert_eq!(store.find_refresh_token("rt-h1", 400).await.unwrap(), RefreshLookup::Invalid);
    assert_eq!(store.rotate_refresh_token("rt-h1", "rt-h2", 401, 5_000).await.unwrap(), Rotation::Invalid);
}

/// Many concurrent rotations of one refresh token: exactly one succeeds.
pub async fn concurrent_rotation(store: Arc<dyn Store>) {
    let md: ClientMetadata =
        serde_json::from_value(serde_json::json!({"redirect_uris": ["https://rp.example.vn/cb"]})).unwrap();
    store.register_client(&md.validate("contract-rp".into(), 1).unwrap(), None).await.unwrap();
    store.create_person(&person("p-1", "race", None), None).await.unwrap();
    store.create_refresh_family(&family("race"), "race-0", 5_000).await.unwrap();
    let mut handles = Vec::new();
    for i in 0..50 {
        let s = store.clone();
        handles.push(tokio::spawn(async move {
            s.rotate_refresh_token("race-0", &format!("race-{}", i + 1), 200, 5_000).await
        }));
    }
    let mut rotated = 0;
    for h in handles {
        match h.await.unwrap().unwrap() {
            Rotation::Rotated(_) => rotated += 1,
            Rotation::Reused { .. } => {}
            Rotation::Invalid => panic!("a concurrent rotation saw an invalid token"),
        }
    }
    assert_eq!(rotated, 1);
}

async fn clients(store: &dyn Store) {
    let md: ClientMetadata = serde_json::from_value(
        serde_json::json!({"redirect_uris": ["https://rp.example.vn/cb"], "client_name": "Cổng dịch vụ công"}),
    )
    .unwrap();
    let c = md.validate("contract-rp".into(), 42).unwrap();
    store.register_client(&c, Some("digest")).await.unwrap();
    let found = store.find_client("contract-rp").await.unwrap().unwrap();
    assert_eq!(found.client, c);
    assert_eq!(found.secret_digest.as_deref(), Some("digest"));
    assert!(matches!(store.register_client(&c, None).await, Err(super::StoreError::Conflict(_))));
    assert!(store.find_client("nobody").await.unwrap().is_none());
}

async fn people(store: &dyn Store) {
    let p = person("p-1", "binh", Some("079199000001"));
    store.create_person(&p, Some("$argon2id$hash")).await.unwrap();
    assert_eq!(store.find_person(&p.id).await.unwrap().unwrap(), p);
    let (found, hash) = store.find_login("binh").await.unwrap().unwrap();
    assert_eq!(found.id, p.id);
    assert_eq!(hash.as_deref(), Some("$argon2id$hash"));
    assert!(store.find_login("nobody").await.unwrap().is_none());
    // Username and personal number are unique, and a failed insert leaves nothing.
    assert!(store.create_person(&person("p-2", "binh", None), None).await.is_err());
    assert!(store.create_person(&person("p-3", "other", Some("079199000001")), None).await.is_err());
    assert!(store.find_person(&PersonId("p-2".into())).await.unwrap().is_none());
    assert!(store.find_person(&PersonId("p-3".into())).await.unwrap().is_none());
}

async fn consents(store: &dyn Store) {
    let pid = PersonId("p-1".into());
    assert!(store.find_consent(&pid, "contract-rp").await.unwrap().is_none());
    store.record_consent(&pid, "contract-rp", &Scopes::parse("openid email"), 100).await.unwrap();
    store.record_consent(&pid, "contract-rp", &Scopes::parse("openid profile"), 101).await.unwrap();
    let s = store.find_consent(&pid, "contract-rp").await.unwrap().unwrap();
    assert_eq!(s.to_string(), "openid email profile");
}

async fn secrets(store: &dyn Store) {
    let a = store.instance_secret("pairwise", b"first").await.unwrap();
    let b = store.instance_secret("pairwise", b"second").await.unwrap();
    assert_eq!(a, b"first");
    assert_eq!(b, b"first");
    store.ping().await.unwrap();
}
