//! Contract checks of the second-factor port ([`SecondFactorStore`](crate::store::SecondFactorStore)):
//! pending → confirmed, a confirmed credential is never overwritten, each TOTP time step
//! and each recovery code is accepted once (also under concurrent use), and disabling
//! removes everything.

use std::sync::Arc;

use crate::identity::{Person, PersonId};
use crate::store::{Store, StoreError};

fn person(id: &str) -> Person {
    Person { username: Some(format!("sf-{id}")), ..Person::new(PersonId(id.into()), 1) }
}

/// The lifecycle on one store.
pub async fn second_factor(store: &dyn Store) {
    let pid = PersonId("sf-1".into());
    store.create_person(&person("sf-1"), None).await.unwrap();
    assert!(store.totp_credential(&pid).await.unwrap().is_none());
    assert!(!store.use_totp_step(&pid, 10).await.unwrap(), "nothing enrolled");
    assert!(!store.confirm_totp(&pid, 10, &[], 100).await.unwrap(), "nothing pending");

    // Pending: replaceable, not usable.
    store.put_pending_totp(&pid, &[1, 2, 3], 100).await.unwrap();
    store.put_pending_totp(&pid, &[4, 5, 0, 255], 110).await.unwrap();
    let c = store.totp_credential(&pid).await.unwrap().unwrap();
    assert_eq!(
        (c.sealed_secret.as_slice(), c.confirmed_at, c.last_used_step, c.created_at),
        (&[4u8, 5, 0, 255][..], None, None, 110)
    );
    assert!(!store.use_totp_step(&pid, 11).await.unwrap(), "a pending credential accepts no code");

    // Confirm with step 11 and recovery codes.
    let digests: Vec<String> = (0..10).map(|i| format!("digest-{i}")).collect();
    assert!(store.confirm_totp(&pid, 11, &digests, 120).await.unwrap());
    assert!(!store.confirm_totp(&pid, 12, &digests, 121).await.unwrap(), "confirmed once");
    let c = store.totp_credential(&pid).await.unwrap().unwrap();
    assert_eq!((c.confirmed_at, c.last_used_step), (Some(120), Some(11)));
    assert_eq!(store.recovery_codes_left(&pid).await.unwrap(), 10);
    // A confirmed credential is not overwritten by a new enrolment.
    assert!(matches!(store.put_pending_totp(&pid, &[9], 130).await, Err(StoreError::Conflict(_))));
    assert_eq!(store.totp_credential(&pid).await.unwrap().unwrap().sealed_secret, vec![4, 5, 0, 255]);

    // Steps: the confirming step is spent; later steps once each; never an older one.
    assert!(!store.use_totp_step(&pid, 11).await.unwrap());
    assert!(store.use_totp_step(&pid, 13).await.unwrap());
    assert!(!store.use_totp_step(&pid, 13).await.unwrap(), "same step replayed");
    assert!(!store.use_totp_step(&pid, 12).await.unwrap(), "older step after a newer one");
    assert!(store.use_totp_step(&pid, 14).await.unwrap());

    // Recovery codes: once each, only the person's own.
    let other = PersonId("sf-2".into());
    store.create_person(&person("sf-2"), None).await.unwrap();
    assert!(!store.use_recovery_code(&other, "digest-0", 200).await.unwrap(), "another person's code");
    assert!(store.use_recovery_code(&pid, "digest-0", 200).await.unwrap());
    assert!(!store.use_recovery_code(&pid, "digest-0", 201).await.unwrap(), "spent");
    assert!(!store.use_recovery_code(&pid, "unknown", 201).await.unwrap());
    assert_eq!(store.recovery_codes_left(&pid).await.unwrap(), 9);

    // Disabling removes the credential and the codes; enrolling again starts fresh.
    assert!(store.delete_totp(&pid).await.unwrap());
    assert!(!store.delete_totp(&pid).await.unwrap());
    assert!(store.totp_credential(&pid).await.unwrap().is_none());
    assert_eq!(store.recovery_codes_left(&pid).await.unwrap(), 0);
    assert!(!store.use_recovery_code(&pid, "digest-1", 300).await.unwrap());
    store.put_pending_totp(&pid, &[7], 400).await.unwrap();
    assert!(store.confirm_totp(&pid, 5, &["new".to_owned()], 401).await.unwrap());
    assert_eq!(store.recovery_codes_left(&pid).await.unwrap(), 1);
}

/// Many nodes submit the same code (time step) and the same recovery code at once:
/// exactly one of each wins.
pub async fn concurrent_second_factor(store: Arc<dyn Store>) {
    let pid = PersonId("sf-race".into());
    store.create_person(&person("sf-race"), None).await.unwrap();
    store.put_pending_totp(&pid, &[1], 1).await.unwrap();
    assert!(store.confirm_totp(&pid, 100, &["rc".to_owned()], 2).await.unwrap());
    let mut steps = Vec::new();
    let mut codes = Vec::new();
    for _ in 0..16 {
        let (s, p) = (store.clone(), pid.clone());
        steps.push(tokio::spawn(async move { s.use_totp_step(&p, 101).await.unwrap() }));
        let (s, p) = (store.clone(), pid.clone());
        codes.push(tokio::spawn(async move { s.use_recovery_code(&p, "rc", 3).await.unwrap() }));
    }
    let mut step_wins = 0;
    for h in steps {
        step_wins += usize::from(h.await.unwrap());
    }
    let mut code_wins = 0;
    for h in codes {
        code_wins += usize::from(h.await.unwrap());
    }
    assert_eq!(step_wins, 1, "one time step accepted once");
    assert_eq!(code_wins, 1, "one recovery code accepted once");
}
