//! Officer verification, shared by the CLI and the admin API: open a case (an officer at
//! a counter, or the person themselves), add evidence, list the queue, decide (four-eyes
//! for level 2 and representations), withdraw; and the officer records that scope who
//! may decide what. The rules are `identity::verification`'s; this module loads,
//! checks who is acting, persists with a version check (retrying a lost race against
//! the fresh case, so a racing officer gets the real refusal — closed, already approved —
//! never a silently lost decision) and audits every action and every refusal.
//!
//! Audit lines: actor `person:<id>` of whoever acted (`cli` when the command line acts
//! without naming an officer), subject the case id, detail with codes, states, levels
//! and at most a masked document number.

use serde_json::{Value, json};

use crate::audit::AuditEvent;
use crate::flows::admin::AdminError;
use crate::identity::verification::{
    self, CaseState, EvidenceItem, NewCase, Office, Officer, OfficerRole, Outcome, Subject, VerificationCase,
    VerificationError,
};
use crate::identity::{AssuranceLevel, OrgId, PersonId, PersonStatus, RepresentationId, RepresentationStatus};

use crate::store::{CaseFilter, CaseWrite, REPRESENTATION_REVOKED, Store, StoreError};

/// The admin scope of verification: read the queue (services) or act as an officer
/// (person-bound tokens from the authorization-code flow).
pub const SCOPE_VERIFICATION: &str = "admin:verification";

/// How often a write that lost a race is retried against the fresh case.
const RETRIES: usize = 3;

/// Why a verification operation failed.
#[derive(Debug, thiserror::Error)]
pub enum VerificationFlowError {
    /// A rule of the case refused it.
    #[error("{0}")]
    Rule(#[from] VerificationError),
    /// The acting person has no officer record (or is disabled).
    #[error("người thực hiện không phải cán bộ xác minh / the acting person is not a verification officer")]
    NotOfficer,
    /// A decision needs a person behind the credential.
    #[error(
        "quyết định phải do một cán bộ đã đăng nhập thực hiện / a decision needs a signed-in officer, not a service credential"
    )]
    NoPerson,
    /// No such case or person.
    #[error("not found: {0}")]
    NotFound(String),
    /// An input was refused.
    #[error("{0}")]
    Invalid(String),
    /// The case kept changing under us.
    #[error("hồ sơ vừa được người khác cập nhật, hãy thử lại / the case was changed by someone else, try again")]
    Busy,
    /// The store failed.
    #[error("{0}")]
    Store(#[from] StoreError),
}

impl VerificationFlowError {
    /// A short stable code for APIs and the audit log.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Rule(r) => r.code(),
            Self::NotOfficer => "not_officer",
            Self::NoPerson => "officer_required",
            Self::NotFound(_) => "not_found",
            Self::Invalid(_) => "invalid_request",
            Self::Busy => "conflict",
            Self::Store(StoreError::Conflict(_)) => "conflict",
            Self::Store(StoreError::Unavailable(_)) => "temporarily_unavailable",
        }
    }
}

type Result<T> = std::result::Result<T, VerificationFlowError>;

/// Who is acting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A person (an officer, or the subject themselves).
    Person(PersonId),
    /// A service client (client credentials): may read, never decide.
    Service(String),
    /// The command line, acting for the officer it names.
    Cli,
}

impl Actor {
    fn audit_name(&self) -> String {
        match self {
            Self::Person(p) => format!("person:{}", p.0),
            Self::Service(c) => format!("admin:{c}"),
            Self::Cli => "cli".into(),
        }
    }

    fn person(&self) -> Option<&PersonId> {
        match self {
            Self::Person(p) => Some(p),
            Self::Service(_) | Self::Cli => None,
        }
    }
}

async fn audit(
    store: &dyn Store,
    actor: &Actor,
    action: &str,
    case_id: Option<&str>,
    now: i64,
    outcome: std::result::Result<Value, &VerificationFlowError>,
) {
    let (action, outcome, detail) = match outcome {
        Ok(d) => (action.to_owned(), "success", d),
        Err(e) => (
            format!("{action}.refused"),
            "failure",
            json!({"error": e.code(), "reason": match e {
                // Names rules and fields only; never a document number.
                VerificationFlowError::Store(_) => "store".to_owned(),
                other => other.to_string(),
            }}),
        ),
    };
    let event = AuditEvent {
        at: now,
        actor: actor.audit_name(),
        action,
        subject: case_id.map(str::to_owned),
        outcome: outcome.to_owned(),
        detail,
    };
    let _ = crate::audit::record(store, event).await;
}

fn case_detail(c: &VerificationCase) -> Value {
    json!({
        "state": c.state.as_str(), "subject_kind": c.subject.kind(), "level": c.requested_level.as_i64(),
        "office": c.office.label(), "version": c.version,
    })
}

/// The active officer record of `person`.
async fn active_officer(store: &dyn Store, person: &PersonId) -> Result<Officer> {
    let officer = store.find_officer(person).await?.ok_or(VerificationFlowError::NotOfficer)?;
    match store.find_person(person).await? {
        Some(p) if p.status == PersonStatus::Active => Ok(officer),
        _ => Err(VerificationFlowError::NotOfficer),
    }
}

/// Finds a person by internal id or username.
pub async fn resolve_person(store: &dyn Store, id_or_username: &str) -> Result<PersonId> {
    if let Some(p) = store.find_person(&PersonId(id_or_username.to_owned())).await? {
        return Ok(p.id);
    }
    match store.find_login(id_or_username).await? {
        Some((p, _)) => Ok(p.id),
        None => Err(VerificationFlowError::NotFound(format!("no person {id_or_username}"))),
    }
}

/// Parses a level given as `1` or `2`.
pub fn parse_level(raw: &str) -> Result<AssuranceLevel> {
    match raw.trim() {
        "1" | "level1" => Ok(AssuranceLevel::Level1),
        "2" | "level2" => Ok(AssuranceLevel::Level2),
        _ => Err(VerificationError::InvalidLevel.into()),
    }
}

/// What to open a case with.
#[derive(Debug, Clone)]
pub struct OpenCase {
    /// Whom it is about.
    pub subject: Subject,
    /// Level asked for.
    pub level: AssuranceLevel,
    /// The office where it is opened.
    pub office: Office,
    /// Evidence brought at once.
    pub evidence: Vec<EvidenceItem>,
}

/// Opens a case. `opened_by` is an officer whose scope covers the office, or the
/// subject themselves (self-submission, people only). The subject must exist: an
/// organisation may be named by internal id or tax code (stored by id); a representation
/// must not be revoked.
pub async fn open_case(
    store: &dyn Store,
    actor: &Actor,
    opened_by: &PersonId,
    req: OpenCase,
    now: i64,
) -> Result<VerificationCase> {
    let id = uuid::Uuid::now_v7().to_string();
    let done = open_inner(store, opened_by, &id, req, now).await;
    audit(
        store,
        actor,
        "verification.open",
        Some(&id),
        now,
        done.as_ref().map(|c| {
            let mut d = case_detail(c);
            d["documents"] = c.evidence.iter().map(|e| json!(e.masked_number())).collect();
            d
        }),
    )
    .await;
    done
}

async fn open_inner(
    store: &dyn Store,
    opened_by: &PersonId,
    id: &str,
    req: OpenCase,
    now: i64,
) -> Result<VerificationCase> {
    let mut req = req;
    req.subject = existing_subject(store, req.subject, now).await?;
    let self_submitted = matches!(&req.subject, Subject::Person(p) if p == opened_by);
    if !self_submitted {
        let officer = active_officer(store, opened_by).await?;
        if !officer.covers(&req.office) {
            return Err(VerificationError::OutOfScope(req.office.label()).into());
        }
    }
    let case = verification::open(
        NewCase {
            id: id.to_owned(),
            subject: req.subject,
            requested_level: req.level,
            office: req.office,
            opened_by: opened_by.clone(),
            evidence: req.evidence,
        },
        now,
    )?;
    store.create_case(&case).await?;
    Ok(case)
}

/// Checks that `subject` exists and may be verified, and names it canonically: an
/// organisation given by tax code becomes its internal id. Unknown subjects are
/// `NotFound`; a revoked representation is `Conflict` (revocation is final).
async fn existing_subject(store: &dyn Store, subject: Subject, now: i64) -> Result<Subject> {
    match subject {
        Subject::Person(p) => match store.find_person(&p).await? {
            Some(_) => Ok(Subject::Person(p)),
            None => Err(VerificationFlowError::NotFound("no such person".into())),
        },
        Subject::Organisation(o) => match crate::flows::orgs::find_org_ref(store, &o, now).await {
            Ok(org) => Ok(Subject::Organisation(org.id.0)),
            Err(AdminError::Store(e)) => Err(e.into()),
            Err(_) => Err(VerificationFlowError::NotFound(format!("no such organisation {o}"))),
        },
        Subject::Representation(r) => {
            let rep = store
                .find_representation(&RepresentationId(r.clone()))
                .await?
                .ok_or_else(|| VerificationFlowError::NotFound(format!("no such representation {r}")))?;
            if rep.status == RepresentationStatus::Revoked {
                return Err(StoreError::Conflict(REPRESENTATION_REVOKED.into()).into());
            }
            Ok(Subject::Representation(r))
        }
    }
}

/// The people behind a case's subject, beyond a person subject itself (which the pure
/// rules know): the representative of a representation case, or everyone who represents
/// (or claims to represent) the organisation of an organisation case. They may not
/// decide it (`verification::decide_as_officer`).
async fn parties(store: &dyn Store, case: &VerificationCase) -> Result<Vec<PersonId>> {
    Ok(match &case.subject {
        Subject::Person(_) => Vec::new(),
        Subject::Representation(r) => store
            .find_representation(&RepresentationId(r.clone()))
            .await?
            .map(|rep| rep.person_id)
            .into_iter()
            .collect(),
        Subject::Organisation(o) => store
            .representations_of_org(&OrgId(o.clone()))
            .await?
            .into_iter()
            .filter(|rep| rep.status != RepresentationStatus::Revoked)
            .map(|rep| rep.person_id)
            .collect(),
    })
}

/// Loads a case, applies `step` and saves it with a version check, retrying against
/// the fresh case when another writer won.
async fn change(
    store: &dyn Store,
    case_id: &str,
    step: impl Fn(&VerificationCase) -> Result<VerificationCase>,
) -> Result<VerificationCase> {
    for _ in 0..RETRIES {
        let current = find_case(store, case_id).await?;
        let next = step(&current)?;
        if store.save_case(&next, current.version).await? == CaseWrite::Saved {
            return Ok(next);
        }
    }
    Err(VerificationFlowError::Busy)
}

/// Reads one case.
pub async fn find_case(store: &dyn Store, case_id: &str) -> Result<VerificationCase> {
    store.find_case(case_id).await?.ok_or_else(|| VerificationFlowError::NotFound("no such case".into()))
}

/// Reads one case for `actor`: services, officers whose scope covers it, its subject
/// and its opener.
pub async fn read_case(store: &dyn Store, actor: &Actor, case_id: &str) -> Result<VerificationCase> {
    let case = find_case(store, case_id).await?;
    if let Some(p) = actor.person()
        && !may_follow(store, &case, p).await?
    {
        // The same answer as for an unknown case: ids of others' cases are not confirmed.
        return Err(VerificationFlowError::NotFound("no such case".into()));
    }
    Ok(case)
}

async fn may_follow(store: &dyn Store, case: &VerificationCase, p: &PersonId) -> Result<bool> {
    if case.opened_by == *p || matches!(&case.subject, Subject::Person(s) if s == p) {
        return Ok(true);
    }
    Ok(match active_officer(store, p).await {
        Ok(o) => o.covers(&case.office),
        Err(VerificationFlowError::NotOfficer) => false,
        Err(e) => return Err(e),
    })
}

/// Attaches evidence to an open case: by an officer in scope, its subject or its opener.
pub async fn add_evidence(
    store: &dyn Store,
    actor: &Actor,
    by: &PersonId,
    case_id: &str,
    item: EvidenceItem,
    now: i64,
) -> Result<VerificationCase> {
    let masked = item.masked_number();
    let done = async {
        let case = find_case(store, case_id).await?;
        if !may_follow(store, &case, by).await? {
            return Err(VerificationFlowError::NotOfficer);
        }
        change(store, case_id, |c| Ok(verification::add_evidence(c, item.clone(), now)?)).await
    }
    .await;
    audit(
        store,
        actor,
        "verification.evidence",
        Some(case_id),
        now,
        done.as_ref().map(|c| {
            let mut d = case_detail(c);
            d["document"] = json!(masked);
            d
        }),
    )
    .await;
    done
}

/// Records a decision by the officer `by`.
pub async fn decide(
    store: &dyn Store,
    actor: &Actor,
    by: Option<&PersonId>,
    case_id: &str,
    outcome: Outcome,
    reason: Option<&str>,
    now: i64,
) -> Result<VerificationCase> {
    let done = async {
        let by = by.ok_or(VerificationFlowError::NoPerson)?;
        let officer = active_officer(store, by).await?;
        let parties = parties(store, &find_case(store, case_id).await?).await?;
        change(store, case_id, |c| Ok(verification::decide_as_officer(c, &officer, &parties, outcome, reason, now)?))
            .await
    }
    .await;
    let action = match outcome {
        Outcome::Approve => "verification.approve",
        Outcome::Reject => "verification.reject",
    };
    audit(
        store,
        actor,
        action,
        Some(case_id),
        now,
        done.as_ref().map(|c| {
            let mut d = case_detail(c);
            d["approvals"] = json!(c.decisions.iter().filter(|d| d.outcome == Outcome::Approve).count());
            d
        }),
    )
    .await;
    done
}

/// Withdraws an open case: by its subject or its opener.
pub async fn withdraw(
    store: &dyn Store,
    actor: &Actor,
    by: Option<&PersonId>,
    case_id: &str,
    now: i64,
) -> Result<VerificationCase> {
    let done = async {
        let by = by.ok_or(VerificationFlowError::NoPerson)?;
        change(store, case_id, |c| Ok(verification::withdraw(c, by, now)?)).await
    }
    .await;
    audit(store, actor, "verification.withdraw", Some(case_id), now, done.as_ref().map(case_detail)).await;
    done
}

/// A page of cases.
#[derive(Debug)]
pub struct CasePage {
    /// The cases, in opening order.
    pub items: Vec<VerificationCase>,
    /// The id to continue after, when there are more.
    pub next_after: Option<String>,
}

/// The queue: cases matching `filter`. An officer sees only their office's scope (their
/// province, and commune when they have one); services see every case.
pub async fn list_cases(
    store: &dyn Store,
    actor: &Actor,
    mut filter: CaseFilter,
    after: Option<&str>,
    limit: u32,
) -> Result<CasePage> {
    if let Some(p) = actor.person() {
        let officer = active_officer(store, p).await?;
        if filter.province.is_some_and(|x| x != officer.province)
            || (officer.commune.is_some() && filter.commune.is_some() && filter.commune != officer.commune)
        {
            return Ok(CasePage { items: Vec::new(), next_after: None });
        }
        filter.province = Some(officer.province);
        if officer.commune.is_some() {
            filter.commune = officer.commune.clone();
        }
    }
    let mut items = store.list_cases(&filter, after, limit.saturating_add(1)).await?;
    let next_after = if items.len() > limit as usize {
        items.truncate(limit as usize);
        items.last().map(|c| c.id.clone())
    } else {
        None
    };
    Ok(CasePage { items, next_after })
}

/// Creates or replaces the officer record of `person`.
pub async fn set_officer(
    store: &dyn Store,
    actor: &Actor,
    person: &PersonId,
    role: OfficerRole,
    province: u16,
    commune: Option<String>,
    now: i64,
) -> Result<Officer> {
    let done = async {
        if !(1..=999).contains(&province) {
            return Err(VerificationError::InvalidProvince.into());
        }
        if commune.as_deref().is_some_and(|c| {
            c.is_empty() || c.len() > 16 || !c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        }) {
            return Err(VerificationFlowError::Invalid("commune must be a short code (letters, digits)".into()));
        }
        if store.find_person(person).await?.is_none() {
            return Err(VerificationFlowError::NotFound("no such person".into()));
        }
        let officer = Officer { person_id: person.clone(), role, province, commune: commune.clone(), updated_at: now };
        store.upsert_officer(&officer).await?;
        Ok(officer)
    }
    .await;
    let event = AuditEvent {
        at: now,
        actor: actor.audit_name(),
        action: if done.is_ok() { "officer.set".into() } else { "officer.set.refused".into() },
        subject: Some(person.0.clone()),
        outcome: if done.is_ok() { "success".into() } else { "failure".into() },
        detail: match &done {
            Ok(o) => officer_json(o),
            Err(e) => json!({"error": e.code(), "reason": e.to_string()}),
        },
    };
    let _ = crate::audit::record(store, event).await;
    done
}

/// Reads an officer record.
pub async fn get_officer(store: &dyn Store, person: &PersonId) -> Result<Officer> {
    store.find_officer(person).await?.ok_or_else(|| VerificationFlowError::NotFound("no such officer".into()))
}

/// An officer as JSON.
pub fn officer_json(o: &Officer) -> Value {
    json!({
        "person_id": o.person_id.0, "role": o.role.as_str(), "province": format!("{:03}", o.province),
        "commune": o.commune, "updated_at": o.updated_at,
    })
}

/// A case as JSON (document numbers whole: this is for officers and the subject).
pub fn case_json(c: &VerificationCase) -> Value {
    json!({
        "id": c.id,
        "subject": {"type": c.subject.kind(), "id": c.subject.id()},
        "requested_level": c.requested_level.as_i64(),
        "state": c.state.as_str(),
        "office": {"province": format!("{:03}", c.office.province), "commune": c.office.commune},
        "opened_by": c.opened_by.0,
        "evidence": c.evidence,
        "decisions": c.decisions.iter().map(|d| json!({
            "officer": d.officer.0, "outcome": d.outcome.as_str(), "reason": d.reason, "at": d.at,
        })).collect::<Vec<_>>(),
        "approvals_needed": verification::approvals_needed(&c.subject, c.requested_level),
        "created_at": c.created_at,
        "updated_at": c.updated_at,
        "closed_at": c.closed_at,
        "version": c.version,
    })
}

/// Parses a state filter.
pub fn parse_state(raw: &str) -> Result<CaseState> {
    CaseState::parse(raw).ok_or_else(|| {
        VerificationFlowError::Invalid("state must be submitted, in_review, approved, rejected or withdrawn".into())
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::identity::Person;
    use crate::store::sqlite::SqliteStore;

    async fn store() -> (tempfile::TempDir, Arc<dyn Store>) {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::connect(&format!("sqlite://{}", dir.path().join("v.sqlite").display())).await.unwrap();
        s.migrate().await.unwrap();
        (dir, Arc::new(s))
    }

    async fn person(store: &dyn Store, id: &str) -> PersonId {
        let mut p = Person::new(PersonId(id.into()), 1);
        p.username = Some(id.into());
        store.create_person(&p, None).await.unwrap();
        p.id
    }

    fn evidence() -> EvidenceItem {
        EvidenceItem {
            document_type: "vn_cccd".into(),
            document_number: "001099000111".into(),
            issuer: "Bộ Công an".into(),
            date_of_issuance: None,
            date_of_expiry: None,
            attachments: vec![],
            check_method: "pvp".into(),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn racing_second_approvals_close_once_and_the_loser_is_told_why() {
        let (_dir, store) = store().await;
        let citizen = person(store.as_ref(), "citizen").await;
        let mut officers = Vec::new();
        for id in ["o1", "o2", "o3", "o4", "o5"] {
            let p = person(store.as_ref(), id).await;
            set_officer(store.as_ref(), &Actor::Cli, &p, OfficerRole::Verifier, 1, None, 5).await.unwrap();
            officers.push(p);
        }
        let req = OpenCase {
            subject: Subject::Person(citizen.clone()),
            level: AssuranceLevel::Level2,
            office: Office { province: 1, commune: None },
            evidence: vec![evidence()],
        };
        let o1 = officers[0].clone();
        let case = open_case(store.as_ref(), &Actor::Person(o1.clone()), &o1, req, 10).await.unwrap();
        let first = decide(store.as_ref(), &Actor::Person(o1.clone()), Some(&o1), &case.id, Outcome::Approve, None, 11)
            .await
            .unwrap();
        assert_eq!(first.state, CaseState::InReview);
        let tasks: Vec<_> = officers[1..]
            .iter()
            .cloned()
            .map(|o| {
                let (store, id) = (store.clone(), case.id.clone());
                tokio::spawn(async move {
                    decide(store.as_ref(), &Actor::Person(o.clone()), Some(&o), &id, Outcome::Approve, None, 12).await
                })
            })
            .collect();
        let mut approved = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(c) => {
                    assert_eq!(c.state, CaseState::Approved);
                    approved += 1;
                }
                Err(VerificationFlowError::Rule(VerificationError::Closed("approved"))) => {}
                Err(other) => panic!("a racing officer must learn the case closed, got {other}"),
            }
        }
        assert_eq!(approved, 1);
        let stored = find_case(store.as_ref(), &case.id).await.unwrap();
        assert_eq!((stored.state, stored.decisions.len()), (CaseState::Approved, 2));
        let refusals = store
            .audit_events(0, 100)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.event.action == "verification.approve.refused" && e.event.detail["error"] == "case_closed")
            .count();
        assert_eq!(refusals, 3, "every losing officer's refusal is audited");
        let p = store.find_person(&citizen).await.unwrap().unwrap();
        assert_eq!(p.assurance.level, AssuranceLevel::Level2);
    }

    #[tokio::test]
    async fn who_may_open_and_decide() {
        let (_dir, store) = store().await;
        let s = store.as_ref();
        let citizen = person(s, "citizen").await;
        let stranger = person(s, "stranger").await;
        let req = |level| OpenCase {
            subject: Subject::Person(citizen.clone()),
            level,
            office: Office { province: 1, commune: None },
            evidence: vec![evidence()],
        };
        // Self-submission needs no officer record; someone else's needs one.
        let own = open_case(s, &Actor::Person(citizen.clone()), &citizen, req(AssuranceLevel::Level1), 1).await;
        assert_eq!(own.unwrap().opened_by, citizen);
        let r = open_case(s, &Actor::Person(stranger.clone()), &stranger, req(AssuranceLevel::Level1), 1).await;
        assert!(matches!(r, Err(VerificationFlowError::NotOfficer)), "{r:?}");
        // A disabled officer decides nothing.
        set_officer(s, &Actor::Cli, &stranger, OfficerRole::Supervisor, 1, None, 2).await.unwrap();
        let case =
            open_case(s, &Actor::Person(stranger.clone()), &stranger, req(AssuranceLevel::Level1), 3).await.unwrap();
        let mut p = s.find_person(&stranger).await.unwrap().unwrap();
        p.status = PersonStatus::Disabled;
        s.update_person(&p, None).await.unwrap();
        let r = decide(s, &Actor::Person(stranger.clone()), Some(&stranger), &case.id, Outcome::Approve, None, 4).await;
        assert!(matches!(r, Err(VerificationFlowError::NotOfficer)), "{r:?}");
        // No person: refused, never applied.
        let r = decide(s, &Actor::Service("svc".into()), None, &case.id, Outcome::Approve, None, 4).await;
        assert!(matches!(r, Err(VerificationFlowError::NoPerson)), "{r:?}");
        assert_eq!(find_case(s, &case.id).await.unwrap().state, CaseState::Submitted);
        // Bad officer scope input.
        let r = set_officer(s, &Actor::Cli, &citizen, OfficerRole::Verifier, 0, None, 5).await;
        assert!(matches!(r, Err(VerificationFlowError::Rule(VerificationError::InvalidProvince))));
        let r = set_officer(s, &Actor::Cli, &citizen, OfficerRole::Verifier, 1, Some("x y".into()), 5).await;
        assert!(matches!(r, Err(VerificationFlowError::Invalid(_))));
        assert_eq!(parse_level("2").unwrap(), AssuranceLevel::Level2);
        assert!(parse_level("3").is_err());
    }
}
