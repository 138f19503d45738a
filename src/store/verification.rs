//! The verification port: officers and verification cases (rows of `officers` and
//! `verification_cases`). Every change to a case is written with a version check, so of
//! two officers deciding at once exactly one wins and the other is told to reload —
//! never a lost decision. When a case about a person closes approved, the person's
//! assurance is raised in the same transaction.
//!
//! An approved case about an organisation raises the organisation's assurance the same
//! way (never lowering a higher level); an approved case about a representation confirms
//! it (`pending` → `active`). A revoked representation is never revived: the approving
//! write is refused (`Conflict`, [`REPRESENTATION_REVOKED`]) and the case stays open, to
//! be rejected or withdrawn. Each backend's `apply_approval` does this inside the case's
//! transaction.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::StoreError;
use crate::identity::verification::{
    CaseState, Decision, EvidenceItem, Office, Officer, Outcome, Subject, VerificationCase,
};
use crate::identity::{AssuranceLevel, PersonId};

/// What [`VerificationStore::save_case`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseWrite {
    /// Written; the case is at its new version.
    Saved,
    /// The case changed since it was read (or is gone): nothing written; reload and retry.
    Stale,
}

/// Which cases to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaseFilter {
    /// Only cases in this state.
    pub state: Option<CaseState>,
    /// Only cases opened in this province.
    pub province: Option<u16>,
    /// Only cases opened in this commune.
    pub commune: Option<String>,
}

/// Officers and verification cases.
#[async_trait]
pub trait VerificationStore: Send + Sync {
    /// Stores a new case; `Conflict` if its id exists.
    async fn create_case(&self, case: &VerificationCase) -> Result<(), StoreError>;
    /// Finds a case by id.
    async fn find_case(&self, id: &str) -> Result<Option<VerificationCase>, StoreError>;
    /// Up to `limit` cases matching `filter` whose id sorts after `after`, in id (so
    /// opening) order.
    async fn list_cases(
        &self,
        filter: &CaseFilter,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<VerificationCase>, StoreError>;
    /// Replaces a case with `case` (its next version) if the stored one is still at
    /// `expected_version`, in one transaction; when `case` is an approved case about a
    /// person or an organisation, its assurance is set in the same transaction (level,
    /// source `officer`, time, document evidence) unless it already holds a higher level;
    /// when it is an approved case about a representation, the representation becomes
    /// `active`. `Conflict` (nothing written) when the approved case's organisation or
    /// representation does not exist, or the representation is revoked.
    async fn save_case(&self, case: &VerificationCase, expected_version: i64) -> Result<CaseWrite, StoreError>;
    /// Creates or replaces an officer record; `Conflict` if the person does not exist.
    async fn upsert_officer(&self, officer: &Officer) -> Result<(), StoreError>;
    /// Finds an officer record.
    async fn find_officer(&self, person: &PersonId) -> Result<Option<Officer>, StoreError>;
    /// Up to `limit` officers whose person id sorts after `after`, in id order.
    async fn list_officers(&self, after: Option<&str>, limit: u32) -> Result<Vec<Officer>, StoreError>;
    /// Removes an officer record; `false` if there was none.
    async fn delete_officer(&self, person: &PersonId) -> Result<bool, StoreError>;
}

#[derive(Serialize, Deserialize)]
struct DecisionJson {
    officer: String,
    outcome: Outcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    at: i64,
}

/// The raw columns of a `verification_cases` row, as both backends read them.
pub(crate) struct CaseColumns {
    pub id: String,
    pub subject_kind: String,
    pub subject_id: String,
    pub requested_level: i64,
    pub state: String,
    pub province: i64,
    pub commune: Option<String>,
    pub opened_by: String,
    pub evidence: String,
    pub decisions: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub closed_at: Option<i64>,
    pub version: i64,
}

/// Column list of `verification_cases`, in [`CaseColumns`] order.
pub(crate) const CASE_COLUMNS: &str = "id, subject_kind, subject_id, requested_level, state, province, commune, \
     opened_by, evidence, decisions, created_at, updated_at, closed_at, version";

fn bad(what: &str) -> StoreError {
    StoreError::Unavailable(format!("verification case record: {what}"))
}

impl CaseColumns {
    /// The columns of `case`.
    pub(crate) fn of(case: &VerificationCase) -> Result<Self, StoreError> {
        let decisions: Vec<DecisionJson> = case
            .decisions
            .iter()
            .map(|d| DecisionJson {
                officer: d.officer.0.clone(),
                outcome: d.outcome,
                reason: d.reason.clone(),
                at: d.at,
            })
            .collect();
        Ok(Self {
            id: case.id.clone(),
            subject_kind: case.subject.kind().to_owned(),
            subject_id: case.subject.id().to_owned(),
            requested_level: case.requested_level.as_i64(),
            state: case.state.as_str().to_owned(),
            province: i64::from(case.office.province),
            commune: case.office.commune.clone(),
            opened_by: case.opened_by.0.clone(),
            evidence: serde_json::to_string(&case.evidence).map_err(|e| bad(&e.to_string()))?,
            decisions: serde_json::to_string(&decisions).map_err(|e| bad(&e.to_string()))?,
            created_at: case.created_at,
            updated_at: case.updated_at,
            closed_at: case.closed_at,
            version: case.version,
        })
    }

    /// The case these columns hold.
    pub(crate) fn into_case(self) -> Result<VerificationCase, StoreError> {
        let evidence: Vec<EvidenceItem> = serde_json::from_str(&self.evidence).map_err(|_| bad("evidence"))?;
        let decisions: Vec<DecisionJson> = serde_json::from_str(&self.decisions).map_err(|_| bad("decisions"))?;
        Ok(VerificationCase {
            subject: Subject::from_parts(&self.subject_kind, &self.subject_id).ok_or_else(|| bad("subject kind"))?,
            requested_level: AssuranceLevel::from_i64(self.requested_level),
            state: CaseState::parse(&self.state).ok_or_else(|| bad("state"))?,
            office: Office {
                province: u16::try_from(self.province).map_err(|_| bad("province"))?,
                commune: self.commune,
            },
            opened_by: PersonId(self.opened_by),
            evidence,
            decisions: decisions
                .into_iter()
                .map(|d| Decision { officer: PersonId(d.officer), outcome: d.outcome, reason: d.reason, at: d.at })
                .collect(),
            created_at: self.created_at,
            updated_at: self.updated_at,
            closed_at: self.closed_at,
            version: self.version,
            id: self.id,
        })
    }
}

/// The raw columns of an `officers` row.
pub(crate) fn officer_of(
    person_id: String,
    role: &str,
    province: i64,
    commune: Option<String>,
    updated_at: i64,
) -> Result<Officer, StoreError> {
    let bad = |w: &str| StoreError::Unavailable(format!("officer record: {w}"));
    Ok(Officer {
        person_id: PersonId(person_id),
        role: crate::identity::verification::OfficerRole::parse(role).ok_or_else(|| bad("role"))?,
        province: u16::try_from(province).map_err(|_| bad("province"))?,
        commune,
        updated_at,
    })
}

/// What an approved person case writes into the person's assurance columns: level,
/// time and evidence JSON; `None` when `case` is not an approved person case.
pub(crate) fn person_assurance(case: &VerificationCase) -> Option<(&PersonId, i64, i64, Option<String>)> {
    let Subject::Person(p) = &case.subject else { return None };
    if case.state != CaseState::Approved {
        return None;
    }
    let evidence = crate::identity::verification::assurance_evidence(case).and_then(|e| serde_json::to_string(&e).ok());
    Some((p, case.requested_level.as_i64(), case.closed_at.unwrap_or(case.updated_at), evidence))
}

/// The `Conflict` rule of approving a case about a revoked representation.
pub const REPRESENTATION_REVOKED: &str =
    "đại diện đã bị thu hồi, không thể xác nhận / the representation is revoked and cannot be confirmed";
/// The `Conflict` rule of approving a case whose organisation or representation is gone.
pub const SUBJECT_GONE: &str =
    "tổ chức hoặc đại diện không còn tồn tại / the organisation or representation no longer exists";

/// What an approved organisation case writes into the organisation's assurance columns:
/// organisation id, level, time and evidence JSON; `None` when `case` is not an approved
/// organisation case.
pub(crate) fn org_assurance(case: &VerificationCase) -> Option<(&str, i64, i64, Option<String>)> {
    let Subject::Organisation(o) = &case.subject else { return None };
    if case.state != CaseState::Approved {
        return None;
    }
    let evidence = crate::identity::verification::assurance_evidence(case).and_then(|e| serde_json::to_string(&e).ok());
    Some((o, case.requested_level.as_i64(), case.closed_at.unwrap_or(case.updated_at), evidence))
}

/// The representation an approved representation case confirms, and when; `None` when
/// `case` is not an approved representation case.
pub(crate) fn representation_confirmation(case: &VerificationCase) -> Option<(&str, i64)> {
    let Subject::Representation(r) = &case.subject else { return None };
    if case.state != CaseState::Approved {
        return None;
    }
    Some((r, case.closed_at.unwrap_or(case.updated_at)))
}
