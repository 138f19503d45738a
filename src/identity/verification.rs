//! Verification cases (DOMAIN §4): an officer at a one-stop-shop counter — or the person
//! themselves — opens a case asking that a subject be raised to an assurance level,
//! evidence is attached, and officers decide. Raising a person to level 2 or confirming
//! a representation needs two approvals from two different officers (four-eyes); level 1
//! needs one. Officers only decide cases of their own office's scope, never their own.
//!
//! Pure: every transition takes the case, the actor and the clock reading and returns
//! the new case or a typed refusal with a bilingual message. Persisting, auditing and
//! applying an approved outcome are the store's and the flows' jobs.

use serde::{Deserialize, Serialize};

use super::assurance::AssuranceLevel;
use super::person::PersonId;

/// Whom a case is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// A person, whose assurance is raised when the case is approved.
    Person(PersonId),
    /// An organisation (its id in the organisation register).
    Organisation(String),
    /// A representation (someone acting for an organisation or another person).
    Representation(String),
}

impl Subject {
    /// Stored kind (`person`, `organisation`, `representation`).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Person(_) => "person",
            Self::Organisation(_) => "organisation",
            Self::Representation(_) => "representation",
        }
    }

    /// The subject's id.
    pub fn id(&self) -> &str {
        match self {
            Self::Person(p) => &p.0,
            Self::Organisation(s) | Self::Representation(s) => s,
        }
    }

    /// Rebuilds a subject from its stored kind and id.
    pub fn from_parts(kind: &str, id: &str) -> Option<Self> {
        match kind {
            "person" => Some(Self::Person(PersonId(id.to_owned()))),
            "organisation" => Some(Self::Organisation(id.to_owned())),
            "representation" => Some(Self::Representation(id.to_owned())),
            _ => None,
        }
    }

    /// Whether `person` is this subject.
    fn is(&self, person: &PersonId) -> bool {
        matches!(self, Self::Person(p) if p == person)
    }
}

/// Where a case is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseState {
    /// Opened, no decision yet.
    Submitted,
    /// At least one approval recorded, more needed.
    InReview,
    /// Closed: approved.
    Approved,
    /// Closed: rejected.
    Rejected,
    /// Closed: withdrawn before a decision closed it.
    Withdrawn,
}

impl CaseState {
    /// Stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Submitted => "submitted",
            Self::InReview => "in_review",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::Withdrawn => "withdrawn",
        }
    }

    /// Parses the stored form.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Submitted, Self::InReview, Self::Approved, Self::Rejected, Self::Withdrawn]
            .into_iter()
            .find(|c| c.as_str() == s)
    }

    /// Whether no further change is allowed.
    pub fn is_closed(self) -> bool {
        matches!(self, Self::Approved | Self::Rejected | Self::Withdrawn)
    }
}

/// An office: a province (the PIN province codes) and optionally a commune in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Office {
    /// Province code (1-999, written `001`).
    pub province: u16,
    /// Commune code, when the office is a commune's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commune: Option<String>,
}

impl Office {
    /// The office as text: `001` or `001/00004`.
    pub fn label(&self) -> String {
        match &self.commune {
            Some(c) => format!("{:03}/{c}", self.province),
            None => format!("{:03}", self.province),
        }
    }
}

/// Parses a province code (`1`, `001`; 1-999).
pub fn parse_province(raw: &str) -> Result<u16, VerificationError> {
    raw.trim()
        .parse::<u16>()
        .ok()
        .filter(|p| (1..=999).contains(p) && raw.trim().len() <= 3)
        .ok_or(VerificationError::InvalidProvince)
}

/// An officer's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OfficerRole {
    /// Checks documents and decides cases.
    Verifier,
    /// A verifier who also oversees an office.
    Supervisor,
}

impl OfficerRole {
    /// Stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Verifier => "verifier",
            Self::Supervisor => "supervisor",
        }
    }

    /// Parses the stored form.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "verifier" => Some(Self::Verifier),
            "supervisor" => Some(Self::Supervisor),
            _ => None,
        }
    }
}

/// A person who may decide verification cases, within a scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Officer {
    /// The officer as a person.
    pub person_id: PersonId,
    /// Role.
    pub role: OfficerRole,
    /// The province the officer serves.
    pub province: u16,
    /// The commune, when the officer serves only one.
    pub commune: Option<String>,
    /// Last change.
    pub updated_at: i64,
}

impl Officer {
    /// Whether a case opened at `office` is within this officer's scope: same province,
    /// and the same commune when the officer has one.
    pub fn covers(&self, office: &Office) -> bool {
        self.province == office.province && self.commune.as_ref().is_none_or(|c| office.commune.as_ref() == Some(c))
    }
}

/// A piece of evidence attached to a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvidenceItem {
    /// Document type (`vn_the_can_cuoc`, `vn_cccd`, `passport`, …).
    pub document_type: String,
    /// Document number.
    pub document_number: String,
    /// Issuing authority.
    pub issuer: String,
    /// Issue date `YYYY-MM-DD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_of_issuance: Option<String>,
    /// Expiry date `YYYY-MM-DD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_of_expiry: Option<String>,
    /// SHA-256 digests (hex) of scanned attachments kept elsewhere.
    #[serde(default)]
    pub attachments: Vec<String>,
    /// How it was checked: `pvp` (physical, in person), `vpip`, `vri`, …
    pub check_method: String,
}

/// Check methods an officer may record (IDA predefined values).
pub const CHECK_METHODS: &[&str] = &["pvp", "vpip", "vpvr", "vri", "vdig", "vcrypt", "bvr"];

fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let num = |r: std::ops::Range<usize>| s.get(r).and_then(|t| t.parse::<u32>().ok());
    match (num(0..4), num(5..7), num(8..10)) {
        (Some(y), Some(m), Some(d)) => {
            let days = match m {
                1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
                4 | 6 | 9 | 11 => 30,
                2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
                2 => 28,
                _ => 0,
            };
            y >= 1900 && (1..=days).contains(&d)
        }
        _ => false,
    }
}

fn is_token(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

impl EvidenceItem {
    /// Checks the shape of every field.
    pub fn validate(&self) -> Result<(), VerificationError> {
        let bad = |what: &'static str| Err(VerificationError::InvalidEvidence(what));
        if !is_token(&self.document_type, 64) {
            return bad("document_type");
        }
        let n = self.document_number.trim();
        if n.is_empty() || n.len() > 64 || n.chars().any(char::is_control) {
            return bad("document_number");
        }
        if self.issuer.trim().is_empty() || self.issuer.len() > 200 || self.issuer.chars().any(char::is_control) {
            return bad("issuer");
        }
        if self.date_of_issuance.as_deref().is_some_and(|d| !is_date(d)) {
            return bad("date_of_issuance");
        }
        if self.date_of_expiry.as_deref().is_some_and(|d| !is_date(d)) {
            return bad("date_of_expiry");
        }
        if let (Some(i), Some(e)) = (&self.date_of_issuance, &self.date_of_expiry)
            && e < i
        {
            return bad("date_of_expiry");
        }
        if self.attachments.len() > 20
            || !self.attachments.iter().all(|a| a.len() == 64 && a.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            return bad("attachments");
        }
        if !CHECK_METHODS.contains(&self.check_method.as_str()) {
            return bad("check_method");
        }
        Ok(())
    }

    /// The document number as it may appear in logs and audit details.
    pub fn masked_number(&self) -> String {
        super::personal_number::mask(&self.document_number)
    }
}

/// An approve-or-reject decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Approve.
    Approve,
    /// Reject.
    Reject,
}

impl Outcome {
    /// Stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approve => "approve",
            Self::Reject => "reject",
        }
    }

    /// Parses the stored form.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "approve" => Some(Self::Approve),
            "reject" => Some(Self::Reject),
            _ => None,
        }
    }
}

/// One officer's decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The deciding officer.
    pub officer: PersonId,
    /// Approve or reject.
    pub outcome: Outcome,
    /// Why (required for a rejection).
    pub reason: Option<String>,
    /// When, unix seconds.
    pub at: i64,
}

/// A verification case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerificationCase {
    /// Case id (UUID v7).
    pub id: String,
    /// Whom it is about.
    pub subject: Subject,
    /// The level asked for.
    pub requested_level: AssuranceLevel,
    /// Where it is.
    pub state: CaseState,
    /// Evidence, in the order attached.
    pub evidence: Vec<EvidenceItem>,
    /// The office where it was opened.
    pub office: Office,
    /// Who opened it: an officer, or the subject themselves.
    pub opened_by: PersonId,
    /// Decisions, in order.
    pub decisions: Vec<Decision>,
    /// When it was opened.
    pub created_at: i64,
    /// Last change.
    pub updated_at: i64,
    /// When it closed.
    pub closed_at: Option<i64>,
    /// Optimistic concurrency: incremented by every change.
    pub version: i64,
}

/// Why a transition is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerificationError {
    /// The case is approved, rejected or withdrawn.
    #[error("hồ sơ đã đóng ({0}) / the case is closed ({0})")]
    Closed(&'static str),
    /// An officer tried to decide their own case.
    #[error("cán bộ không được tự xác minh cho chính mình / an officer cannot decide a case about themselves")]
    SelfDecision,
    /// The case was opened outside the officer's province or commune.
    #[error(
        "hồ sơ thuộc đơn vị {0}, ngoài phạm vi của cán bộ / the case belongs to office {0}, outside the officer's scope"
    )]
    OutOfScope(String),
    /// A rejection without a reason.
    #[error("từ chối phải nêu lý do / a rejection needs a reason")]
    ReasonRequired,
    /// The same officer approving twice.
    #[error(
        "cán bộ này đã phê duyệt; cần một cán bộ khác / this officer already approved; a different officer must approve"
    )]
    AlreadyApproved,
    /// The level asked for cannot be granted (none, or not the subject's kind).
    #[error("mức xác minh yêu cầu không hợp lệ / the requested assurance level is not valid")]
    InvalidLevel,
    /// Someone other than the subject or the opener tried to withdraw.
    #[error(
        "chỉ người được xác minh hoặc người mở hồ sơ mới được rút hồ sơ / only the subject or the opener may withdraw the case"
    )]
    NotWithdrawer,
    /// An approval without evidence.
    #[error("hồ sơ chưa có giấy tờ chứng minh / the case has no evidence")]
    NoEvidence,
    /// Malformed evidence; names the field.
    #[error("giấy tờ chứng minh không hợp lệ: {0} / invalid evidence: {0}")]
    InvalidEvidence(&'static str),
    /// A province code outside 001-999.
    #[error("mã tỉnh phải là số từ 001 đến 999 / the province code must be a number from 001 to 999")]
    InvalidProvince,
    /// The reason is too long or has control characters.
    #[error("lý do không hợp lệ (tối đa 500 ký tự) / invalid reason (at most 500 characters)")]
    InvalidReason,
}

impl VerificationError {
    /// A short stable code for APIs and the audit log.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Closed(_) => "case_closed",
            Self::SelfDecision => "self_decision",
            Self::OutOfScope(_) => "out_of_scope",
            Self::ReasonRequired => "reason_required",
            Self::AlreadyApproved => "already_approved",
            Self::InvalidLevel => "invalid_level",
            Self::NotWithdrawer => "not_withdrawer",
            Self::NoEvidence => "no_evidence",
            Self::InvalidEvidence(_) => "invalid_evidence",
            Self::InvalidProvince => "invalid_province",
            Self::InvalidReason => "invalid_reason",
        }
    }
}

/// Approvals from distinct officers a case needs: two (four-eyes) to raise a person to
/// level 2 or to confirm a representation, one otherwise.
pub fn approvals_needed(subject: &Subject, level: AssuranceLevel) -> usize {
    match (subject, level) {
        (Subject::Representation(_), _) | (_, AssuranceLevel::Level2) => 2,
        _ => 1,
    }
}

/// What to open a case with.
#[derive(Debug, Clone)]
pub struct NewCase {
    /// Case id (UUID v7, from the caller).
    pub id: String,
    /// Whom it is about.
    pub subject: Subject,
    /// Level asked for (level 1 or 2).
    pub requested_level: AssuranceLevel,
    /// Where.
    pub office: Office,
    /// Who opens it.
    pub opened_by: PersonId,
    /// Evidence brought at once.
    pub evidence: Vec<EvidenceItem>,
}

/// Opens a case (state `submitted`).
pub fn open(new: NewCase, now: i64) -> Result<VerificationCase, VerificationError> {
    if new.requested_level == AssuranceLevel::None {
        return Err(VerificationError::InvalidLevel);
    }
    if !(1..=999).contains(&new.office.province) {
        return Err(VerificationError::InvalidProvince);
    }
    if new.office.commune.as_deref().is_some_and(|c| !is_token(c, 16)) {
        return Err(VerificationError::InvalidProvince);
    }
    for e in &new.evidence {
        e.validate()?;
    }
    Ok(VerificationCase {
        id: new.id,
        subject: new.subject,
        requested_level: new.requested_level,
        state: CaseState::Submitted,
        evidence: new.evidence,
        office: new.office,
        opened_by: new.opened_by,
        decisions: Vec::new(),
        created_at: now,
        updated_at: now,
        closed_at: None,
        version: 1,
    })
}

fn ensure_open(case: &VerificationCase) -> Result<(), VerificationError> {
    if case.state.is_closed() { Err(VerificationError::Closed(case.state.as_str())) } else { Ok(()) }
}

fn touched(mut case: VerificationCase, now: i64) -> VerificationCase {
    case.updated_at = now;
    case.version += 1;
    case
}

/// Attaches evidence while the case is open.
pub fn add_evidence(
    case: &VerificationCase,
    item: EvidenceItem,
    now: i64,
) -> Result<VerificationCase, VerificationError> {
    ensure_open(case)?;
    item.validate()?;
    if case.evidence.len() >= 20 {
        return Err(VerificationError::InvalidEvidence("too many documents (at most 20)"));
    }
    let mut next = case.clone();
    next.evidence.push(item);
    Ok(touched(next, now))
}

/// Records `officer`'s decision. Rules, in order: the case is open; the officer is not
/// its subject; the case is in the officer's scope; a rejection has a reason; an officer
/// approves once. A rejection closes the case; approvals close it approved once enough
/// distinct officers approved ([`approvals_needed`]), else it stays `in_review`.
pub fn decide(
    case: &VerificationCase,
    officer: &Officer,
    outcome: Outcome,
    reason: Option<&str>,
    now: i64,
) -> Result<VerificationCase, VerificationError> {
    ensure_open(case)?;
    if case.subject.is(&officer.person_id) {
        return Err(VerificationError::SelfDecision);
    }
    if !officer.covers(&case.office) {
        return Err(VerificationError::OutOfScope(case.office.label()));
    }
    let reason = reason.map(str::trim).filter(|r| !r.is_empty());
    if reason.is_some_and(|r| r.chars().count() > 500 || r.chars().any(char::is_control)) {
        return Err(VerificationError::InvalidReason);
    }
    let approvers = |c: &VerificationCase| {
        let mut who: Vec<&str> =
            c.decisions.iter().filter(|d| d.outcome == Outcome::Approve).map(|d| d.officer.0.as_str()).collect();
        who.sort_unstable();
        who.dedup();
        who.len()
    };
    match outcome {
        Outcome::Reject if reason.is_none() => return Err(VerificationError::ReasonRequired),
        Outcome::Approve if case.evidence.is_empty() => return Err(VerificationError::NoEvidence),
        Outcome::Approve
            if case.decisions.iter().any(|d| d.outcome == Outcome::Approve && d.officer == officer.person_id) =>
        {
            return Err(VerificationError::AlreadyApproved);
        }
        _ => {}
    }
    let mut next = case.clone();
    next.decisions.push(Decision {
        officer: officer.person_id.clone(),
        outcome,
        reason: reason.map(str::to_owned),
        at: now,
    });
    next.state = match outcome {
        Outcome::Reject => CaseState::Rejected,
        Outcome::Approve if approvers(&next) >= approvals_needed(&next.subject, next.requested_level) => {
            CaseState::Approved
        }
        Outcome::Approve => CaseState::InReview,
    };
    if next.state.is_closed() {
        next.closed_at = Some(now);
    }
    Ok(touched(next, now))
}

/// [`decide`] for a case whose subject has other people behind it: `parties` are those
/// (the representative of a representation case; whoever represents, or claims to
/// represent, the organisation of an organisation case), looked up by the caller. A
/// party may no more decide the case than its subject may.
pub fn decide_as_officer(
    case: &VerificationCase,
    officer: &Officer,
    parties: &[PersonId],
    outcome: Outcome,
    reason: Option<&str>,
    now: i64,
) -> Result<VerificationCase, VerificationError> {
    ensure_open(case)?;
    if parties.contains(&officer.person_id) {
        return Err(VerificationError::SelfDecision);
    }
    decide(case, officer, outcome, reason, now)
}

/// Withdraws an open case; only its subject or its opener may.
pub fn withdraw(case: &VerificationCase, by: &PersonId, now: i64) -> Result<VerificationCase, VerificationError> {
    ensure_open(case)?;
    if !case.subject.is(by) && case.opened_by != *by {
        return Err(VerificationError::NotWithdrawer);
    }
    let mut next = case.clone();
    next.state = CaseState::Withdrawn;
    next.closed_at = Some(now);
    Ok(touched(next, now))
}

/// The assurance evidence an approved person case gives (what `verified_claims` shows):
/// the first document, checked at the case's office.
pub fn assurance_evidence(case: &VerificationCase) -> Option<super::assurance::Evidence> {
    if case.state != CaseState::Approved {
        return None;
    }
    let doc = case.evidence.first()?;
    Some(super::assurance::Evidence::Document {
        document_type: doc.document_type.clone(),
        document_number: doc.document_number.clone(),
        issuer: doc.issuer.clone(),
        date_of_issuance: doc.date_of_issuance.clone(),
        date_of_expiry: doc.date_of_expiry.clone(),
        check_method: doc.check_method.clone(),
        organization: case.office.label(),
        case_id: case.id.clone(),
        time: case.closed_at.unwrap_or(case.updated_at),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pid(s: &str) -> PersonId {
        PersonId(s.into())
    }

    fn doc() -> EvidenceItem {
        EvidenceItem {
            document_type: "vn_the_can_cuoc".into(),
            document_number: "001099012345".into(),
            issuer: "Bộ Công an".into(),
            date_of_issuance: Some("2024-07-01".into()),
            date_of_expiry: Some("2039-07-01".into()),
            attachments: vec!["ab".repeat(32)],
            check_method: "pvp".into(),
        }
    }

    fn officer(id: &str, province: u16, commune: Option<&str>) -> Officer {
        Officer {
            person_id: pid(id),
            role: OfficerRole::Verifier,
            province,
            commune: commune.map(str::to_owned),
            updated_at: 0,
        }
    }

    fn case(subject: Subject, level: AssuranceLevel) -> VerificationCase {
        open(
            NewCase {
                id: "c1".into(),
                subject,
                requested_level: level,
                office: Office { province: 1, commune: Some("00004".into()) },
                opened_by: pid("opener"),
                evidence: vec![doc()],
            },
            100,
        )
        .unwrap()
    }

    fn person_case(level: AssuranceLevel) -> VerificationCase {
        case(Subject::Person(pid("citizen")), level)
    }

    #[test]
    fn approvals_needed_table() {
        let cases = [
            (Subject::Person(pid("p")), AssuranceLevel::Level1, 1),
            (Subject::Person(pid("p")), AssuranceLevel::Level2, 2),
            (Subject::Organisation("o".into()), AssuranceLevel::Level1, 1),
            (Subject::Organisation("o".into()), AssuranceLevel::Level2, 2),
            (Subject::Representation("r".into()), AssuranceLevel::Level1, 2),
            (Subject::Representation("r".into()), AssuranceLevel::Level2, 2),
        ];
        for (s, l, n) in cases {
            assert_eq!(approvals_needed(&s, l), n, "{s:?} {l:?}");
        }
    }

    #[test]
    fn decision_rules_table() {
        use AssuranceLevel::{Level1, Level2};
        use Outcome::{Approve, Reject};
        let a = officer("a", 1, None);
        let b = officer("b", 1, Some("00004"));
        let far = officer("far", 79, None);
        let other_commune = officer("oc", 1, Some("00007"));
        let citizen = officer("citizen", 1, None);
        // (name, level, earlier decisions, deciding officer, outcome, reason, expected)
        type Row<'x> = (
            &'x str,
            AssuranceLevel,
            Vec<(&'x Officer, Outcome)>,
            &'x Officer,
            Outcome,
            Option<&'x str>,
            Result<CaseState, VerificationError>,
        );
        let rows: Vec<Row> = vec![
            ("level 1, one approval closes", Level1, vec![], &a, Approve, None, Ok(CaseState::Approved)),
            ("level 2, first approval stays in review", Level2, vec![], &a, Approve, None, Ok(CaseState::InReview)),
            ("level 2, second officer closes", Level2, vec![(&a, Approve)], &b, Approve, None, Ok(CaseState::Approved)),
            (
                "level 2, same officer twice",
                Level2,
                vec![(&a, Approve)],
                &a,
                Approve,
                None,
                Err(VerificationError::AlreadyApproved),
            ),
            ("reject needs a reason", Level2, vec![], &a, Reject, None, Err(VerificationError::ReasonRequired)),
            ("blank reason is none", Level2, vec![], &a, Reject, Some("  "), Err(VerificationError::ReasonRequired)),
            ("reject closes", Level2, vec![(&a, Approve)], &b, Reject, Some("ảnh không khớp"), Ok(CaseState::Rejected)),
            (
                "approver may still reject",
                Level2,
                vec![(&a, Approve)],
                &a,
                Reject,
                Some("nhầm"),
                Ok(CaseState::Rejected),
            ),
            ("self decision", Level1, vec![], &citizen, Approve, None, Err(VerificationError::SelfDecision)),
            ("self rejection", Level1, vec![], &citizen, Reject, Some("x"), Err(VerificationError::SelfDecision)),
            (
                "other province",
                Level1,
                vec![],
                &far,
                Approve,
                None,
                Err(VerificationError::OutOfScope("001/00004".into())),
            ),
            (
                "other commune",
                Level1,
                vec![],
                &other_commune,
                Approve,
                None,
                Err(VerificationError::OutOfScope("001/00004".into())),
            ),
            (
                "closed approved",
                Level1,
                vec![(&a, Approve)],
                &b,
                Approve,
                None,
                Err(VerificationError::Closed("approved")),
            ),
            (
                "closed rejected",
                Level2,
                vec![(&a, Reject)],
                &b,
                Approve,
                None,
                Err(VerificationError::Closed("rejected")),
            ),
        ];
        for (name, level, earlier, who, outcome, reason, expected) in rows {
            let mut c = person_case(level);
            for (o, out) in earlier {
                c = decide(&c, o, out, Some("earlier"), 150).unwrap();
            }
            let got = decide(&c, who, outcome, reason, 200).map(|c| c.state);
            assert_eq!(got, expected, "{name}");
            if let Ok(state) = got {
                let after = decide(&c, who, outcome, reason, 200).unwrap();
                assert_eq!(after.version, c.version + 1, "{name}: version bumps");
                assert_eq!(after.closed_at.is_some(), state.is_closed(), "{name}");
            }
        }
    }

    #[test]
    fn representations_need_four_eyes_even_at_level_1() {
        let a = officer("a", 1, None);
        let b = officer("b", 1, None);
        let c = case(Subject::Representation("rep-1".into()), AssuranceLevel::Level1);
        let c = decide(&c, &a, Outcome::Approve, None, 1).unwrap();
        assert_eq!(c.state, CaseState::InReview);
        let c = decide(&c, &b, Outcome::Approve, None, 2).unwrap();
        assert_eq!(c.state, CaseState::Approved);
        assert_eq!(c.decisions.len(), 2);
        // An organisation at level 1: one approval; nobody is "self" for it.
        let o = case(Subject::Organisation("org".into()), AssuranceLevel::Level1);
        assert_eq!(decide(&o, &a, Outcome::Approve, None, 1).unwrap().state, CaseState::Approved);
    }

    #[test]
    fn parties_to_the_subject_may_not_decide() {
        let a = officer("a", 1, None);
        let b = officer("b", 1, None);
        let rep = case(Subject::Representation("rep-1".into()), AssuranceLevel::Level1);
        // `a` is the representative: neither approval nor rejection, and nothing recorded.
        for outcome in [Outcome::Approve, Outcome::Reject] {
            let got = decide_as_officer(&rep, &a, std::slice::from_ref(&a.person_id), outcome, Some("mine"), 1);
            assert_eq!(got, Err(VerificationError::SelfDecision));
        }
        let c = decide_as_officer(&rep, &b, std::slice::from_ref(&a.person_id), Outcome::Approve, None, 1).unwrap();
        assert_eq!((c.state, c.decisions.len()), (CaseState::InReview, 1));
        // A closed case says so first, whoever asks.
        let closed = decide(&rep, &b, Outcome::Reject, Some("no"), 2).unwrap();
        let got = decide_as_officer(&closed, &a, std::slice::from_ref(&a.person_id), Outcome::Approve, None, 3);
        assert_eq!(got, Err(VerificationError::Closed("rejected")));
        // With no other parties it is `decide`.
        let o = case(Subject::Organisation("org".into()), AssuranceLevel::Level1);
        assert_eq!(
            decide_as_officer(&o, &a, &[], Outcome::Approve, None, 1),
            decide(&o, &a, Outcome::Approve, None, 1)
        );
    }

    #[test]
    fn approval_needs_evidence_and_evidence_only_while_open() {
        let a = officer("a", 1, None);
        let mut c = person_case(AssuranceLevel::Level1);
        c.evidence.clear();
        assert_eq!(decide(&c, &a, Outcome::Approve, None, 1), Err(VerificationError::NoEvidence));
        let c = add_evidence(&c, doc(), 2).unwrap();
        assert_eq!((c.evidence.len(), c.version, c.updated_at), (1, 2, 2));
        let closed = decide(&c, &a, Outcome::Approve, None, 3).unwrap();
        assert_eq!(add_evidence(&closed, doc(), 4), Err(VerificationError::Closed("approved")));
    }

    #[test]
    fn withdrawal_rules_table() {
        let rows = [
            ("subject", "citizen", Ok(CaseState::Withdrawn)),
            ("opener", "opener", Ok(CaseState::Withdrawn)),
            ("stranger", "someone", Err(VerificationError::NotWithdrawer)),
        ];
        for (name, by, expected) in rows {
            let c = person_case(AssuranceLevel::Level2);
            assert_eq!(withdraw(&c, &pid(by), 5).map(|c| c.state), expected, "{name}");
        }
        let c = withdraw(&person_case(AssuranceLevel::Level2), &pid("citizen"), 5).unwrap();
        assert_eq!(c.closed_at, Some(5));
        assert_eq!(withdraw(&c, &pid("citizen"), 6), Err(VerificationError::Closed("withdrawn")));
        assert_eq!(
            decide(&c, &officer("a", 1, None), Outcome::Approve, None, 6),
            Err(VerificationError::Closed("withdrawn"))
        );
    }

    #[test]
    fn evidence_validation_table() {
        type Row = (&'static str, fn(&mut EvidenceItem), Result<(), VerificationError>);
        let rows: Vec<Row> = vec![
            ("good", |_| {}, Ok(())),
            ("type", |e| e.document_type = "Thẻ".into(), Err(VerificationError::InvalidEvidence("document_type"))),
            ("number", |e| e.document_number = " ".into(), Err(VerificationError::InvalidEvidence("document_number"))),
            ("issuer", |e| e.issuer = String::new(), Err(VerificationError::InvalidEvidence("issuer"))),
            (
                "date",
                |e| e.date_of_issuance = Some("2024-02-30".into()),
                Err(VerificationError::InvalidEvidence("date_of_issuance")),
            ),
            ("leap", |e| e.date_of_issuance = Some("2024-02-29".into()), Ok(())),
            (
                "expiry format",
                |e| e.date_of_expiry = Some("01/07/2039".into()),
                Err(VerificationError::InvalidEvidence("date_of_expiry")),
            ),
            (
                "expiry before issue",
                |e| e.date_of_expiry = Some("2020-01-01".into()),
                Err(VerificationError::InvalidEvidence("date_of_expiry")),
            ),
            (
                "attachment",
                |e| e.attachments = vec!["xyz".into()],
                Err(VerificationError::InvalidEvidence("attachments")),
            ),
            ("method", |e| e.check_method = "looked".into(), Err(VerificationError::InvalidEvidence("check_method"))),
        ];
        for (name, change, expected) in rows {
            let mut e = doc();
            change(&mut e);
            assert_eq!(e.validate(), expected, "{name}");
        }
        assert_eq!(doc().masked_number(), "001******345");
    }

    #[test]
    fn opening_rules_and_stored_forms() {
        let mut new = NewCase {
            id: "c".into(),
            subject: Subject::Person(pid("p")),
            requested_level: AssuranceLevel::None,
            office: Office { province: 1, commune: None },
            opened_by: pid("p"),
            evidence: vec![],
        };
        assert_eq!(open(new.clone(), 1).map(|_| ()), Err(VerificationError::InvalidLevel));
        new.requested_level = AssuranceLevel::Level2;
        new.office.province = 0;
        assert_eq!(open(new.clone(), 1).map(|_| ()), Err(VerificationError::InvalidProvince));
        new.office.province = 79;
        let c = open(new, 1).unwrap();
        assert_eq!((c.state, c.version, c.office.label()), (CaseState::Submitted, 1, "079".to_owned()));
        for s in ["submitted", "in_review", "approved", "rejected", "withdrawn"] {
            assert_eq!(CaseState::parse(s).unwrap().as_str(), s);
        }
        assert_eq!(CaseState::parse("open"), None);
        assert_eq!(parse_province("001"), Ok(1));
        assert_eq!(parse_province("1000"), Err(VerificationError::InvalidProvince));
        assert_eq!(parse_province("0"), Err(VerificationError::InvalidProvince));
        for s in [Subject::Person(pid("x")), Subject::Organisation("o".into()), Subject::Representation("r".into())] {
            assert_eq!(Subject::from_parts(s.kind(), s.id()), Some(s));
        }
        assert!(VerificationError::SelfDecision.to_string().contains(" / "), "bilingual");
    }

    #[test]
    fn approved_person_case_gives_document_evidence() {
        let a = officer("a", 1, None);
        let c = person_case(AssuranceLevel::Level1);
        assert_eq!(assurance_evidence(&c), None);
        let c = decide(&c, &a, Outcome::Approve, None, 300).unwrap();
        match assurance_evidence(&c) {
            Some(super::super::assurance::Evidence::Document { case_id, organization, time, check_method, .. }) => {
                assert_eq!(
                    (case_id.as_str(), organization.as_str(), time, check_method.as_str()),
                    ("c1", "001/00004", 300, "pvp")
                );
            }
            other => panic!("{other:?}"),
        }
    }
}
