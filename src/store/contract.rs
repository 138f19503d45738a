//! The behaviour suite of the durable port, run against every implementation.

use super::Store;
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
    secrets(store).await;
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
