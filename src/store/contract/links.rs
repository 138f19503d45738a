//! Contract checks of the upstream-link port ([`LinkStore`](crate::store::LinkStore)):
//! person and link are created together or not at all, a personal number or an
//! upstream identity cannot be claimed twice, and links go with their person.

use crate::identity::{AssuranceLevel, Person, PersonId, PersonalNumber};
use crate::store::{Store, StoreError};

fn upstream_person(id: &str, pin: Option<&str>) -> Person {
    let mut p = Person::new(PersonId(id.into()), 700);
    p.name = Some("Lê Thị Cúc".into());
    p.personal_number = pin.map(|n| PersonalNumber::parse(n, 2026).unwrap());
    p.birthdate = Some("1990-03-04".into());
    p.assurance.level = AssuranceLevel::Level1;
    p
}

/// The link rules on one store.
pub async fn upstream_links(store: &dyn Store) {
    const ISS: &str = "https://sso.example.vn";
    assert!(store.find_link(ISS, "sub-a").await.unwrap().is_none());
    let a = upstream_person("up-a", Some("036190000777"));
    store.create_linked_person(&a, ISS, "sub-a", 700).await.unwrap();
    let link = store.find_link(ISS, "sub-a").await.unwrap().unwrap();
    assert_eq!(link.person_id, a.id);
    assert_eq!((link.created_at, link.last_login_at), (700, 700));
    assert_eq!(store.find_person(&a.id).await.unwrap().unwrap(), a);
    assert_eq!(store.find_person_by_personal_number("036190000777").await.unwrap(), Some(a.id.clone()));
    assert_eq!(store.find_person_by_personal_number("036190000778").await.unwrap(), None);

    // Same personal number under another upstream subject: refused, nothing written.
    let b = upstream_person("up-b", Some("036190000777"));
    assert!(matches!(store.create_linked_person(&b, ISS, "sub-b", 701).await, Err(StoreError::Conflict(_))));
    assert!(store.find_person(&b.id).await.unwrap().is_none());
    assert!(store.find_link(ISS, "sub-b").await.unwrap().is_none());

    // The same upstream identity twice: refused, and the second person is rolled back.
    let c = upstream_person("up-c", None);
    assert!(matches!(store.create_linked_person(&c, ISS, "sub-a", 702).await, Err(StoreError::Conflict(_))));
    assert!(store.find_person(&c.id).await.unwrap().is_none(), "person and link are one transaction");
    assert_eq!(store.find_link(ISS, "sub-a").await.unwrap().unwrap().person_id, a.id);

    // The same subject at another issuer is another identity.
    let d = upstream_person("up-d", None);
    store.create_linked_person(&d, "https://other.example.vn", "sub-a", 703).await.unwrap();
    assert_eq!(store.find_link("https://other.example.vn", "sub-a").await.unwrap().unwrap().person_id, d.id);

    assert!(store.touch_link(ISS, "sub-a", 800).await.unwrap());
    assert!(!store.touch_link(ISS, "nobody", 800).await.unwrap());
    assert_eq!(store.find_link(ISS, "sub-a").await.unwrap().unwrap().last_login_at, 800);
    assert_eq!(store.links_of(&a.id).await.unwrap().len(), 1);

    // Links go with their person.
    assert!(store.delete_person(&a.id).await.unwrap());
    assert!(store.find_link(ISS, "sub-a").await.unwrap().is_none());
    assert!(store.links_of(&a.id).await.unwrap().is_empty());
    assert!(store.delete_person(&d.id).await.unwrap());
}
