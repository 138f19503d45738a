//! The behaviour suite of the durable port, run against every implementation.

use std::sync::Arc;

pub mod keys;
pub mod links;
pub mod orgs;
pub mod receipts;
pub mod second_factor;
pub mod verification;

use super::{RefreshFamily, RefreshLookup, Rotation, Store};
use crate::identity::{
    Assurance, AssuranceLevel, AssuranceSource, Evidence, Person, PersonId, PersonStatus, PersonalNumber,
};
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
        ..Person::new(PersonId(String::new()), 0)
    }
}

/// A client registered without registration bookkeeping (CLI-style).
pub fn plain<'a>(client: &'a crate::protocol::client::Client, secret_digest: Option<&'a str>) -> super::NewClient<'a> {
    super::NewClient {
        client,
        secret_digest,
        registration_token_digest: None,
        registration_policy: None,
        initial_token_digest: None,
    }
}

/// Runs every check against `store` (freshly migrated, empty).
pub async fn run_all(store: &dyn Store) {
    clients(store).await;
    people(store).await;
    consents(store).await;
    refresh_families(store).await;
    logout(store).await;
    audit(store).await;
    client_onboarding(store).await;
    people_admin(store).await;
    keys::signing_keys(store).await;
    second_factor::second_factor(store).await;
    orgs::organisations(store).await;
    verification::cases(store).await;
    secrets(store).await;
    receipts::consent_receipts(store).await;
    links::upstream_links(store).await;
    bulk_people(store).await;
}

/// `create_people`: one shared hash, skips people already there (by id, username or
/// personal number), counts only what it inserted.
async fn bulk_people(store: &dyn Store) {
    let existing = person("bulk-0", "bulk.zero", Some("001099004000"));
    store.create_person(&existing, None).await.unwrap();
    let batch = [
        person("bulk-1", "bulk.one", Some("001099004001")),
        person("bulk-2", "bulk.zero", Some("001099004002")), // username taken
        person("bulk-3", "bulk.three", Some("001099004000")), // personal number taken
        person("bulk-0", "bulk.four", None),                 // id taken
        person("bulk-5", "bulk.five", None),
    ];
    assert_eq!(store.create_people(&batch, Some("$argon2id$shared")).await.unwrap(), 2);
    assert_eq!(store.find_person(&batch[0].id).await.unwrap().unwrap(), batch[0]);
    let (five, hash) = store.find_login("bulk.five").await.unwrap().unwrap();
    assert_eq!(five, batch[4]);
    assert_eq!(hash.as_deref(), Some("$argon2id$shared"));
    let (zero, hash) = store.find_login("bulk.zero").await.unwrap().unwrap();
    assert_eq!((zero.id, hash), (existing.id, None), "an existing person is left alone");
    for skipped in ["bulk-2", "bulk-3"] {
        assert!(store.find_person(&PersonId(skipped.into())).await.unwrap().is_none());
    }
    assert!(store.find_login("bulk.four").await.unwrap().is_none());
    assert_eq!(store.create_people(&batch, None).await.unwrap(), 0, "a repeat inserts nothing");
    assert_eq!(store.create_people(&[], None).await.unwrap(), 0);
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
        acting_for: Some("rep-1".into()),
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

async fn logout(store: &dyn Store) {
    // Families are revoked per session and client, and offline access survives.
    for (id, sid, scope) in
        [("lo-1", "sid-a", "openid"), ("lo-2", "sid-a", "openid offline_access"), ("lo-3", "sid-b", "openid")]
    {
        let f = RefreshFamily { family_id: id.into(), sid: sid.into(), scope: Scopes::parse(scope), ..family(id) };
        store.create_refresh_family(&f, &format!("{id}-rt"), 5_000).await.unwrap();
    }
    let revoked = store.revoke_session_families("sid-a", "contract-rp", 500).await.unwrap();
    assert_eq!(revoked, vec!["lo-1".to_owned()], "offline access outlives the session");
    assert_eq!(store.find_refresh_token("lo-1-rt", 501).await.unwrap(), RefreshLookup::Invalid);
    assert!(matches!(store.find_refresh_token("lo-2-rt", 501).await.unwrap(), RefreshLookup::Current(_)));
    assert!(matches!(store.find_refresh_token("lo-3-rt", 501).await.unwrap(), RefreshLookup::Current(_)));
    assert!(store.revoke_session_families("sid-a", "contract-rp", 502).await.unwrap().is_empty());
    let d = super::LogoutDelivery {
        id: "d-1".into(),
        client_id: "contract-rp".into(),
        sid: "sid-a".into(),
        status: "delivered".into(),
        attempts: 1,
        last_error: None,
        created_at: 500,
        finished_at: Some(501),
    };
    store.record_logout_delivery(&d).await.unwrap();
    let failed = super::LogoutDelivery {
        id: "d-2".into(),
        status: "failed".into(),
        attempts: 3,
        last_error: Some("HTTP 500".into()),
        created_at: 600,
        ..d.clone()
    };
    store.record_logout_delivery(&failed).await.unwrap();
    assert_eq!(store.logout_deliveries("contract-rp", 10).await.unwrap(), vec![failed, d]);
}

async fn audit(store: &dyn Store) {
    use crate::audit::{AuditEvent, Verdict, verify};
    let event = |i: i64| AuditEvent {
        at: 1_000 + i,
        actor: "cli".into(),
        action: "client.register".into(),
        subject: Some(format!("rp-{i}")),
        outcome: "success".into(),
        detail: serde_json::json!({"n": i}),
    };
    assert_eq!(verify(store).await.unwrap(), Verdict::Intact { events: 0 });
    let first = store.append_audit(&event(1)).await.unwrap();
    assert_eq!((first.seq, first.prev_hash.as_str()), (1, crate::audit::GENESIS));
    let second = store.append_audit(&event(2)).await.unwrap();
    assert_eq!(second.prev_hash, first.hash);
    assert_eq!(verify(store).await.unwrap(), Verdict::Intact { events: 2 });
    let page = store.audit_events(1, 10).await.unwrap();
    assert_eq!(page, vec![second]);
}

/// Concurrent appends never fork the audit chain.
pub async fn concurrent_audit(store: Arc<dyn Store>) {
    let mut handles = Vec::new();
    for i in 0..20 {
        let s = store.clone();
        handles.push(tokio::spawn(async move {
            let e = crate::audit::AuditEvent {
                at: i,
                actor: "system".into(),
                action: "test.append".into(),
                subject: None,
                outcome: "success".into(),
                detail: serde_json::json!({}),
            };
            s.append_audit(&e).await.unwrap()
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    assert_eq!(crate::audit::verify(store.as_ref()).await.unwrap(), crate::audit::Verdict::Intact { events: 20 });
}

/// Many concurrent rotations of one refresh token: exactly one succeeds.
pub async fn concurrent_rotation(store: Arc<dyn Store>) {
    let md: ClientMetadata =
        serde_json::from_value(serde_json::json!({"redirect_uris": ["https://rp.example.vn/cb"]})).unwrap();
    assert!(store.create_client(plain(&md.validate("contract-rp".into(), 1).unwrap(), None), 1).await.unwrap());
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

/// Many registrations racing for an initial access token of 3 uses: exactly 3 succeed,
/// and the refused ones leave no client behind.
pub async fn concurrent_initial_token_uses(store: Arc<dyn Store>) {
    use super::{InitialAccessToken, NewClient};
    let token = InitialAccessToken {
        id: "race-iat".into(),
        token_digest: "race-iat-digest".into(),
        policy: serde_json::json!({}),
        created_at: 1,
        expires_at: 10_000,
        max_uses: Some(3),
        uses: 0,
        revoked_at: None,
    };
    store.create_initial_token(&token).await.unwrap();
    let mut handles = Vec::new();
    for i in 0..16 {
        let s = store.clone();
        handles.push(tokio::spawn(async move {
            let md: ClientMetadata =
                serde_json::from_value(serde_json::json!({"redirect_uris": ["https://rp.example.vn/cb"]})).unwrap();
            let c = md.validate(format!("race-{i:02}"), 100).unwrap();
            let new = NewClient {
                client: &c,
                secret_digest: None,
                registration_token_digest: None,
                registration_policy: None,
                initial_token_digest: Some("race-iat-digest"),
            };
            s.create_client(new, 100).await.unwrap()
        }));
    }
    let mut registered = 0;
    for h in handles {
        if h.await.unwrap() {
            registered += 1;
        }
    }
    assert_eq!(registered, 3);
    assert_eq!(store.find_initial_token("race-iat-digest").await.unwrap().unwrap().uses, 3);
    assert_eq!(store.list_clients(None, 100).await.unwrap().len(), 3);
}

async fn clients(store: &dyn Store) {
    let md: ClientMetadata = serde_json::from_value(
        serde_json::json!({"redirect_uris": ["https://rp.example.vn/cb"], "client_name": "Cổng dịch vụ công"}),
    )
    .unwrap();
    let c = md.validate("contract-rp".into(), 42).unwrap();
    assert!(store.create_client(plain(&c, Some("digest")), 42).await.unwrap());
    let found = store.find_client("contract-rp").await.unwrap().unwrap();
    assert_eq!(found.client, c);
    assert_eq!(found.secret_digest.as_deref(), Some("digest"));
    assert!(matches!(store.create_client(plain(&c, None), 42).await, Err(super::StoreError::Conflict(_))));
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
    // Profile and assurance round-trip, evidence included.
    let mut v = person("p-4", "verified", None);
    v.birthdate = Some("1999-03-04".into());
    v.gender = Some("female".into());
    v.nationality = Some("VN".into());
    v.assurance = Assurance {
        level: AssuranceLevel::Level2,
        source: AssuranceSource::Upstream,
        verified_at: Some(99),
        evidence: Some(Evidence::ElectronicRecord {
            upstream: "https://eid".into(),
            check_method: "bvr".into(),
            time: 98,
        }),
    };
    store.create_person(&v, None).await.unwrap();
    assert_eq!(store.find_person(&v.id).await.unwrap().unwrap(), v);
    v.assurance.level = AssuranceLevel::Level1;
    v.assurance.evidence = None;
    assert!(store.update_person(&v, None).await.unwrap());
    assert_eq!(store.find_person(&v.id).await.unwrap().unwrap(), v);
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

async fn client_onboarding(store: &dyn Store) {
    use super::{ClientStatus, InitialAccessToken, NewClient};
    let policy = serde_json::json!({"grant_types": ["authorization_code"]});
    let token = InitialAccessToken {
        id: "iat-1".into(),
        token_digest: "iat-digest-1".into(),
        policy: policy.clone(),
        created_at: 100,
        expires_at: 1_000,
        max_uses: Some(2),
        uses: 0,
        revoked_at: None,
    };
    store.create_initial_token(&token).await.unwrap();
    assert_eq!(store.find_initial_token("iat-digest-1").await.unwrap().unwrap(), token);
    assert!(store.find_initial_token("nope").await.unwrap().is_none());
    assert!(matches!(store.create_initial_token(&token).await, Err(super::StoreError::Conflict(_))));
    let md =
        |uri: &str| -> ClientMetadata { serde_json::from_value(serde_json::json!({"redirect_uris": [uri]})).unwrap() };
    fn new(c: &crate::protocol::client::Client) -> NewClient<'_> {
        NewClient {
            client: c,
            secret_digest: Some("sd"),
            registration_token_digest: Some("rat"),
            registration_policy: None,
            initial_token_digest: Some("iat-digest-1"),
        }
    }
    let c1 = md("https://a.example.vn/cb").validate("onb-1".into(), 200).unwrap();
    let c2 = md("https://b.example.vn/cb").validate("onb-2".into(), 200).unwrap();
    let c3 = md("https://c.example.vn/cb").validate("onb-3".into(), 200).unwrap();
    // Each registration spends one use, atomically with the insert.
    assert!(store.create_client(NewClient { registration_policy: Some(&policy), ..new(&c1) }, 300).await.unwrap());
    assert_eq!(store.find_initial_token("iat-digest-1").await.unwrap().unwrap().uses, 1);
    // A conflicting insert spends nothing.
    assert!(matches!(store.create_client(new(&c1), 300).await, Err(super::StoreError::Conflict(_))));
    assert_eq!(store.find_initial_token("iat-digest-1").await.unwrap().unwrap().uses, 1);
    assert!(!store.create_client(new(&c2), 1_000).await.unwrap(), "expired token");
    assert!(store.get_client("onb-2").await.unwrap().is_none(), "nothing written with an expired token");
    assert!(store.create_client(new(&c2), 301).await.unwrap());
    assert!(!store.create_client(new(&c3), 302).await.unwrap(), "used up");
    assert!(store.get_client("onb-3").await.unwrap().is_none(), "nothing written with a used-up token");
    let t = store.find_initial_token("iat-digest-1").await.unwrap().unwrap();
    assert_eq!((t.uses, t.usable(302)), (2, false));
    // Without an initial token (administration), no use is spent.
    assert!(store.create_client(NewClient { initial_token_digest: None, ..new(&c3) }, 303).await.unwrap());
    let r = store.get_client("onb-1").await.unwrap().unwrap();
    assert_eq!(r.client, c1);
    assert_eq!(r.secret_digest.as_deref(), Some("sd"));
    assert_eq!(r.registration_token_digest.as_deref(), Some("rat"));
    assert_eq!(r.registration_policy, Some(policy.clone()));
    assert_eq!((r.status, r.updated_at), (ClientStatus::Active, 300));
    // A client registered the old way reads back with its registration time.
    let legacy = store.get_client("contract-rp").await.unwrap().unwrap();
    assert_eq!((legacy.updated_at, legacy.registration_token_digest), (42, None));
    // Paging in id order.
    let page = store.list_clients(Some("onb-1"), 1).await.unwrap();
    assert_eq!(page.iter().map(|r| r.client.client_id.as_str()).collect::<Vec<_>>(), ["onb-2"]);
    let all = store.list_clients(None, 100).await.unwrap();
    let ids: Vec<&str> = all.iter().map(|r| r.client.client_id.as_str()).filter(|id| id.starts_with("onb-")).collect();
    assert_eq!(ids, ["onb-1", "onb-2", "onb-3"]);
    assert!(all.windows(2).all(|w| w[0].client.client_id < w[1].client.client_id), "id order");
    // Update, disable (no longer found for protocol use), enable, delete.
    let mut changed = c1.clone();
    changed.client_name = Some("Đổi tên".into());
    assert!(store.update_client(&changed, None, 400).await.unwrap());
    let r = store.get_client("onb-1").await.unwrap().unwrap();
    assert_eq!((r.client.client_name.as_deref(), r.secret_digest, r.updated_at), (Some("Đổi tên"), None, 400));
    assert!(!store.update_client(&md("https://x.vn/cb").validate("ghost".into(), 1).unwrap(), None, 1).await.unwrap());
    assert!(store.set_client_status("onb-2", ClientStatus::Disabled, 401).await.unwrap());
    assert!(store.find_client("onb-2").await.unwrap().is_none());
    assert_eq!(store.get_client("onb-2").await.unwrap().unwrap().status, ClientStatus::Disabled);
    assert!(store.set_client_status("onb-2", ClientStatus::Active, 402).await.unwrap());
    assert!(store.find_client("onb-2").await.unwrap().is_some());
    assert!(!store.set_client_status("ghost", ClientStatus::Disabled, 402).await.unwrap());
    let pid = PersonId("p-1".into());
    store.record_consent(&pid, "onb-3", &Scopes::parse("openid"), 403).await.unwrap();
    assert!(store.delete_client("onb-3").await.unwrap());
    assert!(!store.delete_client("onb-3").await.unwrap());
    assert!(store.get_client("onb-3").await.unwrap().is_none());
    assert!(store.find_consent(&pid, "onb-3").await.unwrap().is_none(), "consents go with the client");
}

async fn people_admin(store: &dyn Store) {
    let mut a = person("pa-1", "pa.one", Some("001099000777"));
    let b = person("pa-2", "pa.two", None);
    store.create_person(&a, Some("$argon2id$one")).await.unwrap();
    store.create_person(&b, None).await.unwrap();
    let page = store.list_people(Some(&PersonId("pa-1".into())), 10).await.unwrap();
    assert_eq!(page.iter().map(|p| p.id.0.as_str()).collect::<Vec<_>>(), ["pa-2"]);
    assert_eq!(store.list_people(None, 1).await.unwrap().len(), 1);
    // Update keeps the password unless a new hash is given.
    a.name = Some("Lê Văn Cường".into());
    a.status = PersonStatus::Disabled;
    a.personal_number = None;
    a.updated_at = 500;
    assert!(store.update_person(&a, None).await.unwrap());
    assert_eq!(store.find_person(&a.id).await.unwrap().unwrap(), a);
    assert_eq!(store.find_login("pa.one").await.unwrap().unwrap().1.as_deref(), Some("$argon2id$one"));
    assert!(store.update_person(&a, Some("$argon2id$two")).await.unwrap());
    assert_eq!(store.find_login("pa.one").await.unwrap().unwrap().1.as_deref(), Some("$argon2id$two"));
    // Uniqueness holds on update, and a refused update changes nothing.
    let clash = Person { username: Some("pa.two".into()), ..a.clone() };
    assert!(matches!(store.update_person(&clash, None).await, Err(super::StoreError::Conflict(_))));
    assert_eq!(store.find_person(&a.id).await.unwrap().unwrap(), a);
    assert!(!store.update_person(&person("ghost", "ghost", None), None).await.unwrap());
    assert!(store.delete_person(&b.id).await.unwrap());
    assert!(!store.delete_person(&b.id).await.unwrap());
    assert!(store.find_person(&b.id).await.unwrap().is_none());
}
