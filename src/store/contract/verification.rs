//! Contract checks of the verification port ([`VerificationStore`](crate::store::VerificationStore)):
//! cases round-trip, list with filters and paging, writes are version-checked, an
//! approved person case raises the person's assurance in the same write, officers
//! upsert; and racing officers never both win. Approved organisation cases raise the
//! organisation's assurance (never lowering it), approved representation cases confirm a
//! pending representation, and a revoked one is never revived.

use std::sync::Arc;

use crate::identity::verification::{
    self, CaseState, EvidenceItem, NewCase, Office, Officer, OfficerRole, Outcome, Subject, VerificationCase,
};
use crate::identity::{
    AssuranceLevel, AssuranceSource, Evidence, OrgId, OrgType, Organisation, Person, PersonId, Representation,
    RepresentationId, RepresentationSource, RepresentationStatus, Role,
};
use crate::store::{CaseFilter, CaseWrite, REPRESENTATION_REVOKED, SUBJECT_GONE, Store, StoreError};

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

    // A rejected case changes no one, even about an organisation that is not there;
    // approving a case about a representation that is not there is refused, nothing
    // written (the case stays in review).
    let c3 = new_case("vf-case-3", Subject::Organisation("org-1".into()), AssuranceLevel::Level1, 79);
    store.create_case(&c3).await.unwrap();
    let far = officer("vf-off-b", 79, None);
    let c3 = decide(store, &c3, &far, Outcome::Reject, 1_400).await;
    assert_eq!(store.find_case("vf-case-3").await.unwrap(), Some(c3));
    let c4 = new_case("vf-case-4", Subject::Representation("rep-1".into()), AssuranceLevel::Level1, 1);
    store.create_case(&c4).await.unwrap();
    let c4 = decide(store, &c4, &a, Outcome::Approve, 1_500).await;
    let closing = verification::decide(&c4, &b, Outcome::Approve, None, 1_501).unwrap();
    assert_eq!(closing.state, CaseState::Approved);
    assert!(
        matches!(store.save_case(&closing, c4.version).await, Err(StoreError::Conflict(r)) if r == SUBJECT_GONE),
        "approving a case about an unknown representation is refused"
    );
    assert_eq!(store.find_case("vf-case-4").await.unwrap(), Some(c4));

    // Listing: filters by state and office, pages by id.
    let all = store.list_cases(&CaseFilter::default(), None, 10).await.unwrap();
    assert_eq!(
        all.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        ["vf-case-1", "vf-case-2", "vf-case-3", "vf-case-4"]
    );
    let page = store.list_cases(&CaseFilter::default(), Some("vf-case-2"), 1).await.unwrap();
    assert_eq!(page.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), ["vf-case-3"]);
    let approved = CaseFilter { state: Some(CaseState::Approved), ..Default::default() };
    assert_eq!(store.list_cases(&approved, None, 10).await.unwrap().len(), 2);
    let in_79 = CaseFilter { province: Some(79), ..Default::default() };
    assert_eq!(store.list_cases(&in_79, None, 10).await.unwrap()[0].id, "vf-case-3");
    let other_commune = CaseFilter { province: Some(1), commune: Some("00007".into()), ..Default::default() };
    assert!(store.list_cases(&other_commune, None, 10).await.unwrap().is_empty());
    let rejected_in_1 =
        CaseFilter { state: Some(CaseState::Rejected), province: Some(1), commune: Some("00004".into()) };
    assert!(store.list_cases(&rejected_in_1, None, 10).await.unwrap().is_empty());

    assert!(store.delete_officer(&PersonId("vf-off-a".into())).await.unwrap());
    assert!(!store.delete_officer(&PersonId("vf-off-a".into())).await.unwrap());

    outcomes(store).await;
}

fn org(id: &str) -> Organisation {
    Organisation::new(OrgId(id.into()), OrgType::Agency, None, "Sở Tư pháp", None, 900).unwrap()
}

fn representation(id: &str, person: &str, org: &str, status: RepresentationStatus) -> Representation {
    Representation {
        id: RepresentationId(id.into()),
        person_id: PersonId(person.into()),
        org_id: OrgId(org.into()),
        role: Role::LegalRepresentative,
        scope: vec![],
        valid_from: 900,
        valid_until: None,
        granted_by: None,
        source: RepresentationSource::Officer,
        status,
        created_at: 900,
        updated_at: 900,
    }
}

/// Approves `case` with as many officers as it needs (each save expected to land but
/// the last, whose write is returned).
async fn approve_all(store: &dyn Store, case: &VerificationCase, now: i64) -> Result<CaseWrite, StoreError> {
    let officers = [officer("vo-off-a", 1, None), officer("vo-off-b", 1, None)];
    let needed = verification::approvals_needed(&case.subject, case.requested_level);
    let mut c = case.clone();
    for o in &officers[..needed - 1] {
        c = decide(store, &c, o, Outcome::Approve, now).await;
    }
    let last = verification::decide(&c, &officers[needed - 1], Outcome::Approve, None, now).unwrap();
    assert_eq!(last.state, CaseState::Approved);
    store.save_case(&last, c.version).await
}

/// Approved cases about organisations and representations: applied in the case's write.
pub async fn outcomes(store: &dyn Store) {
    for id in ["vo-rep", "vo-off-a", "vo-off-b"] {
        person(store, id).await;
    }
    let org_id = OrgId("vo-org".into());
    store.create_org(&org("vo-org")).await.unwrap();

    // An organisation: level 1 from one officer, with the document as evidence.
    let c = new_case("vo-case-1", Subject::Organisation("vo-org".into()), AssuranceLevel::Level1, 1);
    store.create_case(&c).await.unwrap();
    assert_eq!(approve_all(store, &c, 2_000).await.unwrap(), CaseWrite::Saved);
    let o = store.find_org(&org_id).await.unwrap().unwrap();
    assert_eq!(
        (o.assurance.level, o.assurance.source, o.assurance.verified_at, o.updated_at),
        (AssuranceLevel::Level1, AssuranceSource::Officer, Some(2_000), 2_000)
    );
    match o.assurance.evidence {
        Some(Evidence::Document { case_id, document_type, organization, .. }) => {
            assert_eq!(
                (case_id.as_str(), document_type.as_str(), organization.as_str()),
                ("vo-case-1", "vn_the_can_cuoc", "001/00004")
            );
        }
        other => panic!("document evidence expected, got {other:?}"),
    }
    // Level 2 (two officers) raises it; a later level-1 approval never lowers it.
    let c = new_case("vo-case-2", Subject::Organisation("vo-org".into()), AssuranceLevel::Level2, 1);
    store.create_case(&c).await.unwrap();
    assert_eq!(approve_all(store, &c, 2_100).await.unwrap(), CaseWrite::Saved);
    let c = new_case("vo-case-3", Subject::Organisation("vo-org".into()), AssuranceLevel::Level1, 1);
    store.create_case(&c).await.unwrap();
    assert_eq!(approve_all(store, &c, 2_200).await.unwrap(), CaseWrite::Saved);
    assert_eq!(store.find_case("vo-case-3").await.unwrap().unwrap().state, CaseState::Approved);
    let o = store.find_org(&org_id).await.unwrap().unwrap();
    assert_eq!((o.assurance.level, o.assurance.verified_at), (AssuranceLevel::Level2, Some(2_100)));
    assert!(matches!(o.assurance.evidence, Some(Evidence::Document { case_id, .. }) if case_id == "vo-case-2"));
    // An organisation that is not there: refused, the case unchanged.
    let c = new_case("vo-case-4", Subject::Organisation("vo-none".into()), AssuranceLevel::Level1, 1);
    store.create_case(&c).await.unwrap();
    assert!(matches!(approve_all(store, &c, 2_300).await, Err(StoreError::Conflict(r)) if r == SUBJECT_GONE));
    assert_eq!(store.find_case("vo-case-4").await.unwrap(), Some(c));

    // A pending representation: one approval leaves it pending; the second confirms it.
    let pending = representation("vo-rep-p", "vo-rep", "vo-org", RepresentationStatus::Pending);
    store.create_representation(&pending).await.unwrap();
    assert!(store.representations_of_person(&PersonId("vo-rep".into()), 2_400).await.unwrap().is_empty());
    let c = new_case("vo-case-5", Subject::Representation("vo-rep-p".into()), AssuranceLevel::Level1, 1);
    store.create_case(&c).await.unwrap();
    let first = decide(store, &c, &officer("vo-off-a", 1, None), Outcome::Approve, 2_400).await;
    assert_eq!(first.state, CaseState::InReview);
    let r = store.find_representation(&pending.id).await.unwrap().unwrap();
    assert_eq!(r.status, RepresentationStatus::Pending);
    let second = verification::decide(&first, &officer("vo-off-b", 1, None), Outcome::Approve, None, 2_500).unwrap();
    assert_eq!(store.save_case(&second, first.version).await.unwrap(), CaseWrite::Saved);
    let r = store.find_representation(&pending.id).await.unwrap().unwrap();
    assert_eq!((r.status, r.updated_at), (RepresentationStatus::Active, 2_500));
    let mine = store.representations_of_person(&PersonId("vo-rep".into()), 2_600).await.unwrap();
    assert_eq!(mine.iter().map(|(r, _)| r.id.0.as_str()).collect::<Vec<_>>(), ["vo-rep-p"]);
    // Confirming an active one again changes nothing.
    let c = new_case("vo-case-6", Subject::Representation("vo-rep-p".into()), AssuranceLevel::Level1, 1);
    store.create_case(&c).await.unwrap();
    assert_eq!(approve_all(store, &c, 2_700).await.unwrap(), CaseWrite::Saved);
    assert_eq!(store.find_representation(&pending.id).await.unwrap(), Some(r));

    // A revoked representation stays revoked: the approving write is refused and the
    // case stays in review (to be rejected or withdrawn).
    let revoked = representation("vo-rep-r", "vo-rep", "vo-org", RepresentationStatus::Pending);
    store.create_representation(&revoked).await.unwrap();
    let c = new_case("vo-case-7", Subject::Representation("vo-rep-r".into()), AssuranceLevel::Level1, 1);
    store.create_case(&c).await.unwrap();
    let first = decide(store, &c, &officer("vo-off-a", 1, None), Outcome::Approve, 2_800).await;
    assert!(store.set_representation_status(&revoked.id, RepresentationStatus::Revoked, 2_850).await.unwrap());
    let second = verification::decide(&first, &officer("vo-off-b", 1, None), Outcome::Approve, None, 2_900).unwrap();
    assert!(
        matches!(store.save_case(&second, first.version).await, Err(StoreError::Conflict(r)) if r == REPRESENTATION_REVOKED)
    );
    assert_eq!(store.find_case("vo-case-7").await.unwrap(), Some(first));
    let r = store.find_representation(&revoked.id).await.unwrap().unwrap();
    assert_eq!((r.status, r.updated_at), (RepresentationStatus::Revoked, 2_850));
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
