//! Contract checks of the organisations port ([`OrgStore`](crate::store::OrgStore)):
//! organisations read back as written, the tax code is unique and conflicts name the rule
//! not the value, representations list by person (only those in force, of active
//! organisations) and by organisation, revocation is final, and the upstream upsert is
//! idempotent and converges under a race.

use std::sync::Arc;

use crate::identity::{
    Assurance, AssuranceLevel, AssuranceSource, OrgId, OrgStatus, OrgType, Organisation, Person, PersonId,
    Representation, RepresentationId, RepresentationSource, RepresentationStatus, Role, TaxCode,
};
use crate::store::{Store, StoreError, TAX_CODE_TAKEN, UNKNOWN_PARTY};

fn org(id: &str, tax_code: Option<&str>, name: &str) -> Organisation {
    let tax_code = tax_code.map(|t| TaxCode::parse(t, 2026).unwrap());
    let t = OrgType::inferred(tax_code.as_ref());
    Organisation::new(OrgId(id.into()), t, tax_code, name, Some("1 Tràng Tiền, Hà Nội"), 1_000).unwrap()
}

fn rep(id: &str, person: &str, org: &str, role: Role) -> Representation {
    Representation {
        id: RepresentationId(id.into()),
        person_id: PersonId(person.into()),
        org_id: OrgId(org.into()),
        role,
        scope: vec![],
        valid_from: 1_000,
        valid_until: None,
        granted_by: None,
        source: RepresentationSource::Officer,
        status: RepresentationStatus::Active,
        created_at: 1_000,
        updated_at: 1_000,
    }
}

async fn person(store: &dyn Store, id: &str) -> PersonId {
    let p = Person { username: Some(format!("org-{id}")), ..Person::new(PersonId(id.into()), 900) };
    store.create_person(&p, None).await.unwrap();
    p.id
}

fn conflict_rule(r: Result<(), StoreError>) -> String {
    match r {
        Err(StoreError::Conflict(rule)) => rule,
        other => panic!("expected a conflict, got {other:?}"),
    }
}

/// The port on one store.
pub async fn organisations(store: &dyn Store) {
    // Organisations: read back as written, by id and by tax code.
    let mut a = org("org-a", Some("0100109106"), "Công ty Cổ phần A");
    a.assurance = Assurance {
        level: AssuranceLevel::Level1,
        source: AssuranceSource::Officer,
        verified_at: Some(1_100),
        evidence: None,
    };
    store.create_org(&a).await.unwrap();
    assert_eq!(store.find_org(&a.id).await.unwrap(), Some(a.clone()));
    assert_eq!(store.find_org_by_tax_code(a.tax_code.as_ref().unwrap()).await.unwrap(), Some(a.clone()));
    assert_eq!(store.find_org(&OrgId("nope".into())).await.unwrap(), None);
    // The tax code is unique; the conflict names the rule, not the value; nothing written.
    let dup = org("org-dup", Some("0100109106"), "Another");
    let rule = conflict_rule(store.create_org(&dup).await);
    assert_eq!(rule, TAX_CODE_TAKEN);
    assert!(!rule.contains("0100109106"));
    assert_eq!(store.find_org(&dup.id).await.unwrap(), None);
    // Organisations without a tax code do not collide; a branch and a household business
    // keep their forms.
    let agency1 = org("org-c1", None, "UBND xã Một");
    let agency2 = org("org-c2", None, "UBND xã Hai");
    store.create_org(&agency1).await.unwrap();
    store.create_org(&agency2).await.unwrap();
    let branch = org("org-b", Some("0100109106001"), "Chi nhánh Huế");
    store.create_org(&branch).await.unwrap();
    let household = org("org-h", Some("001099012345"), "Hộ kinh doanh Bình");
    store.create_org(&household).await.unwrap();
    let found = store.find_org_by_tax_code(&TaxCode::parse("0100109106-001", 2026).unwrap()).await.unwrap().unwrap();
    assert_eq!(
        (found.id, found.org_type, found.tax_code.unwrap().as_str()),
        (branch.id.clone(), OrgType::Branch, "0100109106-001")
    );
    assert_eq!(store.find_org(&household.id).await.unwrap().unwrap().tax_code, household.tax_code);
    // Listing in id order with a cursor.
    let page: Vec<String> = store.list_orgs(None, 3).await.unwrap().into_iter().map(|o| o.id.0).collect();
    assert_eq!(page, ["org-a", "org-b", "org-c1"]);
    let rest: Vec<String> =
        store.list_orgs(Some(&OrgId("org-c1".into())), 10).await.unwrap().into_iter().map(|o| o.id.0).collect();
    assert_eq!(rest, ["org-c2", "org-h"]);
    // Updating: details change, the tax code stays unique.
    let mut changed = agency1.clone();
    changed.name = "UBND phường Một".into();
    changed.status = OrgStatus::Disabled;
    changed.updated_at = 2_000;
    assert!(store.update_org(&changed).await.unwrap());
    assert_eq!(store.find_org(&agency1.id).await.unwrap(), Some(changed.clone()));
    let mut stealing = agency2.clone();
    stealing.tax_code = a.tax_code.clone();
    stealing.org_type = OrgType::Agency;
    assert!(matches!(store.update_org(&stealing).await, Err(StoreError::Conflict(r)) if r == TAX_CODE_TAKEN));
    assert_eq!(store.find_org(&agency2.id).await.unwrap().unwrap().tax_code, None);
    assert!(!store.update_org(&org("org-none", None, "Ghost")).await.unwrap());

    // Representations.
    let binh = person(store, "p-binh").await;
    let an = person(store, "p-an").await;
    let lr = rep("rep-lr", "p-binh", "org-a", Role::LegalRepresentative);
    store.create_representation(&lr).await.unwrap();
    assert_eq!(store.find_representation(&lr.id).await.unwrap(), Some(lr.clone()));
    let mut mandate = rep("rep-m", "p-an", "org-a", Role::AuthorisedPerson);
    mandate.scope = vec!["procedure:1.000466".into(), "client:portal".into()];
    mandate.valid_from = 1_500;
    mandate.valid_until = Some(5_000);
    mandate.granted_by = Some(binh.clone());
    mandate.source = RepresentationSource::Mandate;
    store.create_representation(&mandate).await.unwrap();
    assert_eq!(store.find_representation(&mandate.id).await.unwrap(), Some(mandate.clone()));
    // Unknown people or organisations are refused, naming the rule.
    let rule = conflict_rule(store.create_representation(&rep("rep-x", "p-ghost", "org-a", Role::Employee)).await);
    assert_eq!(rule, UNKNOWN_PARTY);
    let rule = conflict_rule(store.create_representation(&rep("rep-y", "p-an", "org-ghost", Role::Employee)).await);
    assert_eq!(rule, UNKNOWN_PARTY);
    assert!(matches!(store.create_representation(&lr).await, Err(StoreError::Conflict(_))), "ids are unique");
    // Pending ones, ones of disabled organisations and expired ones are not in force.
    let mut pending = rep("rep-p", "p-an", "org-b", Role::Head);
    pending.status = RepresentationStatus::Pending;
    store.create_representation(&pending).await.unwrap();
    store.create_representation(&rep("rep-d", "p-an", "org-c1", Role::Head)).await.unwrap();
    let mut old = rep("rep-o", "p-an", "org-h", Role::Employee);
    old.valid_until = Some(1_200);
    store.create_representation(&old).await.unwrap();
    let ids = |v: Vec<(Representation, Organisation)>| -> Vec<(String, String)> {
        v.into_iter().map(|(r, o)| (r.id.0, o.id.0)).collect()
    };
    assert_eq!(ids(store.representations_of_person(&an, 1_400).await.unwrap()), [] as [(String, String); 0]);
    assert_eq!(ids(store.representations_of_person(&an, 1_500).await.unwrap()), [("rep-m".into(), "org-a".into())]);
    assert_eq!(ids(store.representations_of_person(&an, 4_999).await.unwrap()), [("rep-m".into(), "org-a".into())]);
    assert_eq!(ids(store.representations_of_person(&an, 5_000).await.unwrap()), [] as [(String, String); 0]);
    let with_org = store.representations_of_person(&binh, 2_000).await.unwrap();
    assert_eq!(with_org, vec![(lr.clone(), a.clone())], "the organisation comes with it");
    // Confirming a pending one puts it in force; revoking is final.
    assert!(store.set_representation_status(&pending.id, RepresentationStatus::Active, 2_000).await.unwrap());
    let names: Vec<String> =
        store.representations_of_person(&an, 2_000).await.unwrap().into_iter().map(|(_, o)| o.name).collect();
    assert_eq!(names, ["Chi nhánh Huế", "Công ty Cổ phần A"], "ordered by organisation name");
    assert!(store.set_representation_status(&mandate.id, RepresentationStatus::Revoked, 2_100).await.unwrap());
    let revoked = store.find_representation(&mandate.id).await.unwrap().unwrap();
    assert_eq!((revoked.status, revoked.updated_at), (RepresentationStatus::Revoked, 2_100));
    assert!(!store.set_representation_status(&mandate.id, RepresentationStatus::Active, 2_200).await.unwrap());
    assert!(
        !store
            .set_representation_status(&RepresentationId("nope".into()), RepresentationStatus::Revoked, 1)
            .await
            .unwrap()
    );
    let of_org: Vec<String> = store.representations_of_org(&a.id).await.unwrap().into_iter().map(|r| r.id.0).collect();
    assert_eq!(of_org, ["rep-lr", "rep-m"], "every status, oldest first");

    // The upstream upsert: creates once, then finds; an existing organisation is kept.
    let incoming = org("org-up-1", Some("0100233488"), "Công ty Upstream");
    let (o1, r1) =
        store.upsert_upstream_representation(&incoming, &an, Role::LegalRepresentative, 3_000).await.unwrap();
    assert_eq!(o1, incoming);
    assert_eq!(
        (r1.source, r1.status, r1.role, r1.valid_from),
        (RepresentationSource::Upstream, RepresentationStatus::Active, Role::LegalRepresentative, 3_000)
    );
    assert_eq!((&r1.person_id, &r1.org_id, r1.valid_until, r1.scope.is_empty()), (&an, &o1.id, None, true));
    let again = org("org-up-2", Some("0100233488"), "Renamed");
    let (o2, r2) = store.upsert_upstream_representation(&again, &an, Role::LegalRepresentative, 3_100).await.unwrap();
    assert_eq!((o2, r2.clone()), (o1.clone(), r1.clone()), "found, not created again");
    assert_eq!(store.find_org(&again.id).await.unwrap(), None);
    // Another role is another representation; after revocation a new one is made.
    let (_, head) = store.upsert_upstream_representation(&again, &an, Role::Head, 3_200).await.unwrap();
    assert_ne!(head.id, r1.id);
    assert!(store.set_representation_status(&r1.id, RepresentationStatus::Revoked, 3_300).await.unwrap());
    let (_, fresh) = store.upsert_upstream_representation(&again, &an, Role::LegalRepresentative, 3_400).await.unwrap();
    assert_ne!(fresh.id, r1.id);
    assert_eq!(fresh.valid_from, 3_400);
    // An existing organisation (made by an officer) is found by tax code.
    let (o3, _) = store
        .upsert_upstream_representation(&org("x", Some("0100109106"), "A"), &binh, Role::Head, 3_500)
        .await
        .unwrap();
    assert_eq!(o3.id, a.id);
    // Refusals write nothing.
    let no_code = org("org-nc", None, "No code");
    assert!(matches!(
        store.upsert_upstream_representation(&no_code, &an, Role::Head, 1).await,
        Err(StoreError::Conflict(_))
    ));
    let ghost = PersonId("p-ghost".into());
    let lonely = org("org-lonely", Some("0100109106-002"), "Lonely");
    let r = store.upsert_upstream_representation(&lonely, &ghost, Role::Head, 1).await;
    assert!(matches!(r, Err(StoreError::Conflict(ref rule)) if rule == UNKNOWN_PARTY), "{r:?}");
    assert_eq!(store.find_org(&lonely.id).await.unwrap(), None, "the organisation insert was rolled back");
}

/// Two (or more) upstream sign-ins of one person for one new organisation at once: one
/// organisation and one representation result, and everyone gets the same ones.
pub async fn concurrent_upstream_upsert(store: Arc<dyn Store>) {
    let who = person(store.as_ref(), "p-race").await;
    let tasks: Vec<_> = (0..12)
        .map(|i| {
            let (s, who) = (store.clone(), who.clone());
            tokio::spawn(async move {
                let o = org(&format!("org-race-{i:02}"), Some("0100109106"), "Công ty Đua");
                s.upsert_upstream_representation(&o, &who, Role::LegalRepresentative, 10 + i).await
            })
        })
        .collect();
    let mut seen = Vec::new();
    for t in tasks {
        seen.push(t.await.unwrap().unwrap());
    }
    assert!(seen.windows(2).all(|w| w[0] == w[1]), "racing upserts disagree");
    let orgs = store.list_orgs(None, 100).await.unwrap();
    assert_eq!(orgs.len(), 1, "one organisation: {orgs:?}");
    assert_eq!(store.representations_of_org(&orgs[0].id).await.unwrap().len(), 1, "one representation");
}
