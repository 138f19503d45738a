//! Contract checks of the consent-receipt port ([`ReceiptStore`](crate::store::ReceiptStore)):
//! a receipt and the remembered consent are written together, receipts list newest first
//! per person, withdrawal forgets the consent, marks only live receipts and revokes only
//! that client's families of that person, and a failed write leaves nothing.

use crate::identity::{Person, PersonId};
use crate::protocol::client::ClientMetadata;
use crate::protocol::scope::Scopes;
use crate::store::{ConsentReceipt, RefreshFamily, RefreshLookup, Store, StoreError};

fn receipt(id: &str, person: &str, client: &str, scopes: &str, at: i64) -> ConsentReceipt {
    ConsentReceipt {
        id: id.into(),
        person_id: PersonId(person.into()),
        client_id: client.into(),
        client_name: format!("Cổng {client}"),
        purpose: "Giải quyết thủ tục hành chính".into(),
        scopes: Scopes::parse(scopes),
        claims: vec!["name".into(), "verified_claims.birthdate".into()],
        acr: "urn:vn:eid:loa:2".into(),
        policy_version: "2026-01".into(),
        granted_at: at,
        withdrawn_at: None,
    }
}

fn family(id: &str, person: &str, client: &str) -> RefreshFamily {
    RefreshFamily {
        family_id: id.into(),
        client_id: client.into(),
        person_id: PersonId(person.into()),
        scope: Scopes::parse("openid offline_access"),
        claims: Default::default(),
        acr: "urn:vn:local:basic".into(),
        amr: vec!["pwd".into()],
        auth_time: 100,
        sid: format!("sid-{id}"),
        acting_for: None,
        created_at: 100,
        expires_at: 10_000,
    }
}

/// The receipt lifecycle on one store.
pub async fn consent_receipts(store: &dyn Store) {
    for c in ["rc-a", "rc-b"] {
        let md: ClientMetadata =
            serde_json::from_value(serde_json::json!({"redirect_uris": [format!("https://{c}.example.vn/cb")]}))
                .unwrap();
        let client = md.validate(c.into(), 1).unwrap();
        assert!(store.create_client(super::plain(&client, None), 1).await.unwrap());
    }
    for p in ["rp-1", "rp-2"] {
        let mut person = Person::new(PersonId(p.into()), 1);
        person.username = Some(format!("receipt-{p}"));
        store.create_person(&person, None).await.unwrap();
    }
    let p1 = PersonId("rp-1".into());
    assert!(store.consent_receipts(&p1).await.unwrap().is_empty());

    store.record_consent_with_receipt(&receipt("r-1", "rp-1", "rc-a", "openid email", 100)).await.unwrap();
    store.record_consent_with_receipt(&receipt("r-2", "rp-1", "rc-a", "openid profile", 200)).await.unwrap();
    store.record_consent_with_receipt(&receipt("r-3", "rp-1", "rc-b", "openid", 150)).await.unwrap();
    store.record_consent_with_receipt(&receipt("r-4", "rp-2", "rc-a", "openid", 150)).await.unwrap();
    assert_eq!(
        store.find_consent(&p1, "rc-a").await.unwrap().unwrap().to_string(),
        "openid email profile",
        "the consent is remembered and widened with the receipt"
    );
    let listed = store.consent_receipts(&p1).await.unwrap();
    assert_eq!(listed.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), vec!["r-2", "r-3", "r-1"]);
    assert_eq!(listed[0], receipt("r-2", "rp-1", "rc-a", "openid profile", 200), "stored as given");

    // A duplicate id is a conflict and leaves the remembered consent as it was.
    let dup = store.record_consent_with_receipt(&receipt("r-1", "rp-1", "rc-b", "openid phone", 300)).await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
    assert_eq!(store.find_consent(&p1, "rc-b").await.unwrap().unwrap().to_string(), "openid");

    // Families: two of rp-1 at rc-a (one already revoked), one of rp-1 at rc-b, one of rp-2 at rc-a.
    for (f, p, c, t) in [
        ("rf-1", "rp-1", "rc-a", "rt-r1"),
        ("rf-2", "rp-1", "rc-a", "rt-r2"),
        ("rf-3", "rp-1", "rc-b", "rt-r3"),
        ("rf-4", "rp-2", "rc-a", "rt-r4"),
    ] {
        store.create_refresh_family(&family(f, p, c), t, 5_000).await.unwrap();
    }
    store.revoke_refresh_family("rf-2", 250).await.unwrap();

    let w = store.withdraw_consent(&p1, "rc-a", 400).await.unwrap();
    assert_eq!(w.receipts, 2);
    assert_eq!(w.families, vec!["rf-1".to_owned()], "only the live family of this person and client");
    assert!(store.find_consent(&p1, "rc-a").await.unwrap().is_none(), "consent forgotten");
    assert!(store.find_consent(&p1, "rc-b").await.unwrap().is_some(), "other clients untouched");
    assert_eq!(store.find_refresh_token("rt-r1", 401).await.unwrap(), RefreshLookup::Invalid);
    assert!(matches!(store.find_refresh_token("rt-r3", 401).await.unwrap(), RefreshLookup::Current(_)));
    assert!(matches!(store.find_refresh_token("rt-r4", 401).await.unwrap(), RefreshLookup::Current(_)));
    let listed = store.consent_receipts(&p1).await.unwrap();
    let withdrawn: Vec<(&str, Option<i64>)> = listed.iter().map(|r| (r.id.as_str(), r.withdrawn_at)).collect();
    assert_eq!(withdrawn, vec![("r-2", Some(400)), ("r-3", None), ("r-1", Some(400))]);
    assert!(store.consent_receipts(&PersonId("rp-2".into())).await.unwrap()[0].withdrawn_at.is_none());

    // Withdrawing again changes nothing (the first time stays recorded).
    let again = store.withdraw_consent(&p1, "rc-a", 500).await.unwrap();
    assert_eq!(again, Default::default());
    assert_eq!(store.consent_receipts(&p1).await.unwrap()[0].withdrawn_at, Some(400));

    // A new consent after withdrawal is a new receipt; the old ones stay.
    store.record_consent_with_receipt(&receipt("r-5", "rp-1", "rc-a", "openid", 600)).await.unwrap();
    assert_eq!(
        store.find_consent(&p1, "rc-a").await.unwrap().unwrap().to_string(),
        "openid",
        "not widened from before"
    );
    assert_eq!(store.consent_receipts(&p1).await.unwrap().len(), 4);

    // Receipts go with the person.
    assert!(store.delete_person(&p1).await.unwrap());
    assert!(store.consent_receipts(&p1).await.unwrap().is_empty());
}
