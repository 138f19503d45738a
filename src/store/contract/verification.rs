//! Contract checks of the verification port ([`VerificationStore`](crate::store::VerificationStore)):
//! cases round-trip, list with filters and paging, writes are version-checked, an
//! approved person case raises the person's assurance in the same write, officers
//! upsert; and racing officers never both win.

use std::sync::Arc;

use crate::identity::verification::{
    self, CaseState, EvidenceItem, NewCase, Office, Officer, OfficerRole, Outcome, Subject, VerificationCase,
};
use crate::identity::{AssuranceLevel, AssuranceSource, Evidence, Person, PersonId};
use crate::store::{CaseFilter, CaseWrite, Store, StoreError};

fn doc() -> EvidenceItem {
    EvidenceItem {
        document_type: "vn_the_can_cuoc".into(),
        document_number: "079203012345".into(),
        issuer: "Cục Cảnh sát QLHC về TTXH".into(),
        date_of_issuance: Some("2024-07-01".into()),
        date_of_expiry: None,
        attachments: vec!["0f".repeat(32)],
        check_method: "pvp".into(),
    }
}

fn officer(id: &str, province: u16, commune: Option<&str>) -> Officer {
    Officer {
        person_id: PersonId(id.into()),
        role: OfficerRole::Verifier,
        province,
        commune: commune.map(str::to_owned),
        updated_at: 5,
    }
}

fn new_case(id: &str, subject: Subject, level: AssuranceLevel, province: u16) -> VerificationCase {
    verification::open(
        NewCase {
            id: id.into(),
            subject,
            requested_level: level,
            office: Office { province, commune: Some("00004".into()) },
            opened_by: PersonId("vf-off-a".into()),
            evidence: vec![doc()],
        },
        1_000,
    )
    .unwrap()
}

async fn person(store: &dyn Store, id: &str) {
    let mut p = Person::new(PersonId(id.into()), 1);
    p.username = Some(id.into());
    store.create_person(&p, None).await.unwrap();
}

/// Decides and saves, expecting the write to land.
async fn decide(
    store: &dyn Store,
    case: &VerificationCase,
    o: &Officer,
    outcome: Outcome,
    now: i64,
) -> VerificationCase {
    let next = verification::decide(case, o, outcome, Some("đã kiểm tra"), now).unwrap();
    assert_eq!(store.save_case(&next, case.version).await.unwrap(), CaseWrite::Saved);
    next
}

/// Everything but the race, on one store.
pub async fn cases(store: &dyn Store) {
    for id in ["vf-citizen", "vf-off-a", "vf-off-b"] {
        person(store, id).await;
    }
    // Officers: upsert, find, list, replace, delete; unknown people refused.
    let a = officer("vf-off-a", 1, None);
    let b = officer("vf-off-b", 1, Some("00004"));
    store.upsert_officer(&a).await.unwrap();
    store.upsert_officer(&b).await.unwrap();
    assert_eq!(store.find_officer(&a.person_id).await.unwrap(), Some(a.clone()));
    assert!(matches!(store.upsert_officer(&officer("vf-nobody", 1, None)).await, Err(StoreError::Conflict(_))));
    let mut promoted = b.clone();
    promoted.role = OfficerRole::Supervisor;
    promoted.updated_at = 9;
    store.upsert_officer(&promoted).await.unwrap();
    assert_eq!(store.find_officer(&b.person_id).await.unwrap(), Some(promoted));
    let listed = store.list_officers(None, 10).await.unwrap();
    assert_eq!(listed.iter().map(|o| o.person_id.0.as_str()).collect::<Vec<_>>(), ["vf-off-a", "vf-off-b"]);
    assert_eq!(store.list_officers(Some("vf-off-a"), 10).await.unwrap().len(), 1);
    assert!(store.find_officer(&PersonId("vf-citizen".into())).await.unwrap().is_none());

    // A case round-trips, and its id is unique.
    let citizen = Subject::Person(PersonId("vf-citizen".into()));
    let c = new_case("vf-case-1", citizen.clone(), AssuranceLevel::Level2, 1);
    store.create_case(&c).await.unwrap();
    assert!(matches!(store.create_case(&c).await, Err(StoreError::Conflict(_))));
    assert_eq!(store.find_case("vf-case-1").await.unwrap(), Some(c.clone()));
    assert!(store.find_case("vf-none").await.unwrap().is_none());

    // Version-checked writes: a stale version writes nothing.
    let with_more = verification::add_evidence(&c, doc(), 1_001).unwrap();
    assert_eq!(store.save_case(&with_more, c.version + 7).await.unwrap(), CaseWrite::Stale);
    assert_eq!(store.find_case("vf-case-1").await.unwrap(), Some(c.clone()));
    assert_eq!(store.save_case(&with_more, c.version).await.unwrap(), CaseWrite::Saved);
    let c = store.find_case("vf-case-1").await.unwrap().unwrap();
    assert_eq!((c.evidence.len(), c.version), (2, 2));

    // First approval: in review, person untouched; second: approved, person raised.
    let c = decide(store, &c, &a, Outcome::Approve, 1_100).await;
    assert_eq!(store.find_case("vf-case-1").await.unwrap().unwrap().state, CaseState::InReview);
    let p = store.find_person(&PersonId("vf-citizen".into())).await.unwrap().unwrap();
    assert_eq!(p.assurance.level, AssuranceLevel::None);
    let b = store.find_officer(&PersonId("vf-off-b".into())).await.unwrap().unwrap();
    decide(store, &c, &b, Outcome::Approve, 1_200).await;
    let stored = store.find_case("vf-case-1").await.unwrap().unwrap();
    assert_eq!((stored.state, stored.closed_at, stored.decisions.len()), (CaseState::Approved, Some(1_200), 2));
    assert_eq!(stored.decisions[1].officer, b.person_id);
    let p = store.find_person(&PersonId("vf-citizen".into())).await.unwrap().unwrap();
    assert_eq!(
        (p.assurance.level, p.assurance.source, p.assurance.verified_at),
        (AssuranceLevel::Level2, AssuranceSource::Officer, Some(1_200))
    );
    match p.assurance.evidence {
        Some(Evidence::Document { document_number, case_id, check_method, organization, .. }) => {
            assert_eq!(
                (document_number.as_str(), case_id.as_str(), check_method.as_str(), organization.as_str()),
                ("079203012345", "vf-case-1", "pvp", "001/00004")
            );
        }
        other => panic!("document evidence expected, got {other:?}"),
    }

    // A later level-1 approval never lowers a level-2 person.
    let c2 = new_case("vf-case-2", citizen.clone(), AssuranceLevel::Level1, 1);
    store.create_case(&c2).await.unwrap();
    decide(store, &c2, &a, Outcome::Approve, 1_300).await;
    let p = store.find_person(&PersonId("vf-citizen".into())).await.unwrap().unwrap();
    assert_eq!((p.assurance.level, p.assurance.verified_at), (AssuranceLevel::Level2, Some(1_200)));

    // A rejected case changes no one; organisation and representation outcomes stay
    // recorded on the case.
    let c3 = new_case("vf-case-3", Subject::Organisation("org-1".into()), AssuranceLevel::Level1, 79);
    store.create_case(&c3).await.unwrap();
    let far = officer("vf-off-b", 79, None);
    let c3 = decide(store, &c3, &far, Outcome::Reject, 1_400).await;
    assert_eq!(store.find_case("vf-case-3").await.unwrap(), Some(c3));
    let c4 = new_case("vf-case-4", Subject::Representation("rep-1".into()), AssuranceLevel::Level1, 1);
    store.create_case(&c4).await.unwrap();
    let c4 = decide(store, &c4, &a, Outcome::Approve, 1_500).await;
    let c4 = decide(store, &c4, &b, Outcome::Approve, 1_501).await;
    assert_eq!(store.find_case("vf-case-4").await.unwrap().unwrap().state, CaseState::Approved);
    assert_eq!(c4.state, CaseState::Approved);

    // Listing: filters by state and office, pages by id.
    let all = store.list_cases(&CaseFilter::default(), None, 10).await.unwrap();
    assert_eq!(
        all.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        ["vf-case-1", "vf-case-2", "vf-case-3", "vf-case-4"]
    );
    let page = store.list_cases(&CaseFilter::default(), Some("vf-case-2"), 1).await.unwrap();
    assert_eq!(page.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), ["vf-case-3"]);
    let approved = CaseFilter { state: Some(CaseState::Approved), ..Default::default() };
    assert_eq!(store.list_cases(&approved, None, 10).await.unwrap().len(), 3);
    let in_79 = CaseFilter { province: Some(79), ..Default::default() };
    assert_eq!(store.list_cases(&in_79, None, 10).await.unwrap()[0].id, "vf-case-3");
    let other_commune = CaseFilter { province: Some(1), commune: Some("00007".into()), ..Default::default() };
    assert!(store.list_cases(&other_commune, None, 10).await.unwrap().is_empty());
    let rejected_in_1 =
        CaseFilter { state: Some(CaseState::Rejected), province: Some(1), commune: Some("00004".into()) };
    assert!(store.list_cases(&rejected_in_1, None, 10).await.unwrap().is_empty());

    assert!(store.delete_officer(&PersonId("vf-off-a".into())).await.unwrap());
    assert!(!store.delete_officer(&PersonId("vf-off-a".into())).await.unwrap());
}

/// Officers racing to decide one case: exactly one write lands, none is lost silently.
pub async fn concurrent_decisions(store: Arc<dyn Store>) {
    person(store.as_ref(), "race-citizen").await;
    let c = new_case("race-case", Subject::Person(PersonId("race-citizen".into())), AssuranceLevel::Level2, 1);
    store.create_case(&c).await.unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let (store, c) = (store.clone(), c.clone());
            tokio::spawn(async move {
                let o = officer(&format!("race-off-{i}"), 1, None);
                let next = verification::decide(&c, &o, Outcome::Approve, None, 2_000 + i).unwrap();
                (o.person_id, store.save_case(&next, c.version).await.unwrap())
            })
        })
        .collect();
    let mut winners = Vec::new();
    for t in tasks {
        let (who, w) = t.await.unwrap();
        if w == CaseWrite::Saved {
            winners.push(who);
        }
    }
    assert_eq!(winners.len(), 1, "exactly one racing decision lands: {winners:?}");
    let stored = store.find_case("race-case").await.unwrap().unwrap();
    assert_eq!(stored.decisions.len(), 1);
    assert_eq!(stored.decisions[0].officer, winners[0]);
    assert_eq!((stored.state, stored.version), (CaseState::InReview, 2));

    // The second approval races too; one wins, the case closes once, the person is raised.
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let (store, stored) = (store.clone(), stored.clone());
            tokio::spawn(async move {
                let o = officer(&format!("race-second-{i}"), 1, None);
                let next = verification::decide(&stored, &o, Outcome::Approve, None, 3_000 + i).unwrap();
                store.save_case(&next, stored.version).await.unwrap()
            })
        })
        .collect();
    let mut saved = 0;
    for t in tasks {
        if t.await.unwrap() == CaseWrite::Saved {
            saved += 1;
        }
    }
    assert_eq!(saved, 1);
    let closed = store.find_case("race-case").await.unwrap().unwrap();
    assert_eq!((closed.state, closed.decisions.len(), closed.version), (CaseState::Approved, 2, 3));
    let p = store.find_person(&PersonId("race-citizen".into())).await.unwrap().unwrap();
    assert_eq!((p.assurance.level, p.assurance.verified_at), (AssuranceLevel::Level2, closed.closed_at));
}
