//! Representation: a person who may act for an organisation (DOMAIN.md §1.4, §6) — its
//! legal representative, its head, a person it authorised, or an employee — with a scope
//! (procedure codes and client ids; empty means everything), a validity window, who
//! granted it and where it came from (the national e-ID upstream, an officer, or a mandate
//! from a legal representative).
//!
//! The mandate rules are here, pure: only an active legal representative or head may grant
//! or revoke an `authorised_person` mandate, only after strong authentication (the caller
//! decides that from the session's acr: `urn:vn:eid:loa:2` or better), and a mandate must
//! name a non-empty scope within the granter's own and expire no later than the granter's
//! own representation.

use super::organisation::OrgId;
use super::person::PersonId;

/// Internal representation identifier (UUID v7 text).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RepresentationId(pub String);

/// The capacity in which a person acts for an organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Its legal representative (người đại diện theo pháp luật).
    LegalRepresentative,
    /// The head of an agency or unit (thủ trưởng).
    Head,
    /// A person authorised by a legal representative or head (người được ủy quyền).
    AuthorisedPerson,
    /// An employee.
    Employee,
}

impl Role {
    /// Every role, in a stable order.
    pub const ALL: [Role; 4] = [Self::LegalRepresentative, Self::Head, Self::AuthorisedPerson, Self::Employee];

    /// Stored and wire form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LegalRepresentative => "legal_representative",
            Self::Head => "head",
            Self::AuthorisedPerson => "authorised_person",
            Self::Employee => "employee",
        }
    }

    /// Parses the stored or wire form.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Whether this role may grant and revoke mandates.
    pub fn may_mandate(self) -> bool {
        matches!(self, Self::LegalRepresentative | Self::Head)
    }
}

/// Where a representation came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RepresentationSource {
    /// The national e-ID upstream said so (account types 2 and 3).
    Upstream,
    /// An officer or administrator recorded it.
    Officer,
    /// A legal representative or head granted it as a mandate.
    Mandate,
}

impl RepresentationSource {
    /// Stored and wire form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Upstream => "upstream",
            Self::Officer => "officer",
            Self::Mandate => "mandate",
        }
    }

    /// Parses the stored or wire form.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Upstream, Self::Officer, Self::Mandate].into_iter().find(|x| x.as_str() == s)
    }
}

/// Whether a representation is in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RepresentationStatus {
    /// In force (within its validity window).
    Active,
    /// Recorded, awaiting an officer's confirmation; not in force.
    Pending,
    /// Revoked; never in force again.
    Revoked,
}

impl RepresentationStatus {
    /// Stored and wire form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Pending => "pending",
            Self::Revoked => "revoked",
        }
    }

    /// Parses the stored form; anything unknown is revoked (fail closed).
    pub fn parse(s: &str) -> Self {
        match s {
            "active" => Self::Active,
            "pending" => Self::Pending,
            _ => Self::Revoked,
        }
    }
}

/// A person's representation of an organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Representation {
    /// Internal id (a mandate's id in `vn_org`).
    pub id: RepresentationId,
    /// Who acts.
    pub person_id: PersonId,
    /// For whom.
    pub org_id: OrgId,
    /// In which capacity.
    pub role: Role,
    /// What for: procedure codes (`procedure:1.000466`) and client ids (`client:portal`,
    /// or a bare client id); empty means everything.
    pub scope: Vec<String>,
    /// In force from (unix seconds).
    pub valid_from: i64,
    /// In force until (exclusive); `None` for no end.
    pub valid_until: Option<i64>,
    /// The person who granted it (mandates).
    pub granted_by: Option<PersonId>,
    /// Where it came from.
    pub source: RepresentationSource,
    /// Status.
    pub status: RepresentationStatus,
    /// Creation time.
    pub created_at: i64,
    /// Last change (the revocation time once revoked).
    pub updated_at: i64,
}

impl Representation {
    /// Whether it is in force at `now`: active and inside its validity window.
    pub fn is_active_at(&self, now: i64) -> bool {
        self.status == RepresentationStatus::Active
            && self.valid_from <= now
            && self.valid_until.is_none_or(|u| now < u)
    }

    /// Whether its scope covers the client `client_id` (written `client:<id>` or bare).
    pub fn covers(&self, client_id: &str) -> bool {
        self.scope.is_empty()
            || self.scope.iter().any(|s| {
                s.strip_prefix("client:") == Some(client_id) || (s == client_id && !s.starts_with("procedure:"))
            })
    }

    /// Whether its scope covers the administrative procedure `code` (`procedure:<code>`).
    pub fn covers_procedure(&self, code: &str) -> bool {
        self.scope.is_empty() || self.scope.iter().any(|s| s.strip_prefix("procedure:") == Some(code))
    }
}

/// The longest scope list accepted.
pub const MAX_SCOPE_ITEMS: usize = 50;
/// The longest scope entry accepted (bytes).
pub const MAX_SCOPE_ITEM: usize = 200;

/// Checks a scope list: at most [`MAX_SCOPE_ITEMS`] entries of 1 to [`MAX_SCOPE_ITEM`]
/// printable characters without spaces, no repeats.
pub fn check_scope(scope: &[String]) -> Result<(), MandateError> {
    let bad =
        |s: &String| s.is_empty() || s.len() > MAX_SCOPE_ITEM || s.chars().any(|c| c.is_whitespace() || c.is_control());
    if scope.len() > MAX_SCOPE_ITEMS || scope.iter().any(bad) {
        return Err(MandateError::BadScope);
    }
    let mut seen: Vec<&String> = scope.iter().collect();
    seen.sort();
    seen.dedup();
    if seen.len() != scope.len() {
        return Err(MandateError::BadScope);
    }
    Ok(())
}

/// Why a mandate may not be granted or revoked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MandateError {
    /// The granter has no active representation of this organisation.
    #[error("người ủy quyền không đại diện cho tổ chức này / the granter does not represent this organisation")]
    NotRepresentative,
    /// The granter is an authorised person or employee.
    #[error(
        "chỉ người đại diện theo pháp luật hoặc thủ trưởng được ủy quyền / only a legal representative or head may grant or revoke a mandate"
    )]
    RoleMayNotMandate,
    /// The session is not strongly authenticated.
    #[error(
        "cần đăng nhập định danh điện tử mức độ 2 (urn:vn:eid:loa:2) / a level-2 e-ID sign-in (urn:vn:eid:loa:2) is required"
    )]
    WeakAuthentication,
    /// The mandate has no expiry.
    #[error("ủy quyền phải có thời hạn / a mandate needs an expiry")]
    NoExpiry,
    /// The expiry is not after the start (or already past).
    #[error("thời hạn ủy quyền phải sau thời điểm bắt đầu / the mandate must expire after it starts")]
    ExpiryNotAfterStart,
    /// The mandate would outlast the granter's own representation.
    #[error(
        "thời hạn ủy quyền vượt quá thời hạn đại diện của người ủy quyền / the mandate cannot outlast the granter's own representation"
    )]
    BeyondGranter,
    /// The scope is empty.
    #[error("phạm vi ủy quyền không được để trống / a mandate needs a non-empty scope")]
    EmptyScope,
    /// The scope has malformed entries.
    #[error(
        "phạm vi không hợp lệ (tối đa 50 mục, không dấu cách, không lặp) / the scope is malformed (at most 50 entries, no spaces, no repeats)"
    )]
    BadScope,
    /// The scope reaches beyond the granter's own.
    #[error("phạm vi ủy quyền vượt quá phạm vi của người ủy quyền / the mandate's scope goes beyond the granter's own")]
    ScopeBeyondGranter,
    /// A person cannot mandate themselves.
    #[error("không thể tự ủy quyền cho chính mình / a person cannot grant a mandate to themselves")]
    SelfGrant,
    /// Only mandates (authorised persons of source `mandate`) of this organisation can be
    /// revoked this way, and only while not yet revoked.
    #[error(
        "chỉ thu hồi được ủy quyền còn hiệu lực của tổ chức này / only a live mandate of this organisation can be revoked"
    )]
    NotARevocableMandate,
}

/// A mandate to check before it is granted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MandateRequest<'a> {
    /// Who receives it.
    pub grantee: &'a PersonId,
    /// For which organisation.
    pub org_id: &'a OrgId,
    /// What for (procedures, clients): required.
    pub scope: &'a [String],
    /// In force from.
    pub valid_from: i64,
    /// In force until: required.
    pub valid_until: Option<i64>,
}

/// Checks that `granter` (the granter's representation of the organisation) may grant
/// the mandate `req` at `now`; `strong_auth` says whether the granter's session reached
/// `urn:vn:eid:loa:2`.
pub fn check_grant(
    granter: &Representation,
    strong_auth: bool,
    req: &MandateRequest<'_>,
    now: i64,
) -> Result<(), MandateError> {
    check_granter(granter, strong_auth, req.org_id, now)?;
    if req.grantee == &granter.person_id {
        return Err(MandateError::SelfGrant);
    }
    if req.scope.is_empty() {
        return Err(MandateError::EmptyScope);
    }
    check_scope(req.scope)?;
    if !granter.scope.is_empty() && !req.scope.iter().all(|s| granter.scope.contains(s)) {
        return Err(MandateError::ScopeBeyondGranter);
    }
    let until = req.valid_until.ok_or(MandateError::NoExpiry)?;
    if until <= req.valid_from || until <= now {
        return Err(MandateError::ExpiryNotAfterStart);
    }
    if req.valid_from < granter.valid_from || granter.valid_until.is_some_and(|g| until > g) {
        return Err(MandateError::BeyondGranter);
    }
    Ok(())
}

/// Checks that `revoker` may revoke `target` at `now`.
pub fn check_revoke(
    revoker: &Representation,
    strong_auth: bool,
    target: &Representation,
    now: i64,
) -> Result<(), MandateError> {
    check_granter(revoker, strong_auth, &target.org_id, now)?;
    let revocable = target.role == Role::AuthorisedPerson
        && target.source == RepresentationSource::Mandate
        && target.status != RepresentationStatus::Revoked;
    if !revocable {
        return Err(MandateError::NotARevocableMandate);
    }
    Ok(())
}

fn check_granter(granter: &Representation, strong_auth: bool, org: &OrgId, now: i64) -> Result<(), MandateError> {
    if &granter.org_id != org || !granter.is_active_at(now) {
        return Err(MandateError::NotRepresentative);
    }
    if !granter.role.may_mandate() {
        return Err(MandateError::RoleMayNotMandate);
    }
    if !strong_auth {
        return Err(MandateError::WeakAuthentication);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rep(person: &str, role: Role) -> Representation {
        Representation {
            id: RepresentationId(format!("r-{person}")),
            person_id: PersonId(person.into()),
            org_id: OrgId("org".into()),
            role,
            scope: vec![],
            valid_from: 100,
            valid_until: None,
            granted_by: None,
            source: RepresentationSource::Upstream,
            status: RepresentationStatus::Active,
            created_at: 100,
            updated_at: 100,
        }
    }

    #[test]
    fn stored_forms_round_trip() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        for s in [RepresentationSource::Upstream, RepresentationSource::Officer, RepresentationSource::Mandate] {
            assert_eq!(RepresentationSource::parse(s.as_str()), Some(s));
        }
        for s in [RepresentationStatus::Active, RepresentationStatus::Pending, RepresentationStatus::Revoked] {
            assert_eq!(RepresentationStatus::parse(s.as_str()), s);
        }
        assert_eq!(RepresentationStatus::parse("activ"), RepresentationStatus::Revoked);
        assert_eq!(Role::parse("owner"), None);
    }

    #[test]
    fn validity_window_and_status() {
        let mut r = rep("p", Role::Employee);
        r.valid_until = Some(200);
        assert!(!r.is_active_at(99));
        assert!(r.is_active_at(100));
        assert!(r.is_active_at(199));
        assert!(!r.is_active_at(200), "valid_until is exclusive");
        r.status = RepresentationStatus::Pending;
        assert!(!r.is_active_at(150));
        r.status = RepresentationStatus::Revoked;
        assert!(!r.is_active_at(150));
    }

    #[test]
    fn scope_coverage() {
        let mut r = rep("p", Role::AuthorisedPerson);
        assert!(r.covers("anything") && r.covers_procedure("1.000466"), "empty scope covers everything");
        r.scope = vec!["client:portal".into(), "motcua".into(), "procedure:1.000466".into()];
        assert!(r.covers("portal") && r.covers("motcua"));
        assert!(!r.covers("other") && !r.covers("client:other") && !r.covers("procedure:1.000466"));
        assert!(r.covers_procedure("1.000466") && !r.covers_procedure("2.000001"));
        assert!(check_scope(&["a b".into()]).is_err());
        assert!(check_scope(&["a".into(), "a".into()]).is_err());
        assert!(check_scope(&[]).is_ok());
    }

    #[test]
    fn mandate_rules() {
        let lr = rep("boss", Role::LegalRepresentative);
        let grantee = PersonId("clerk".into());
        let org = OrgId("org".into());
        let scope = vec!["procedure:1.000466".to_string()];
        let ok =
            MandateRequest { grantee: &grantee, org_id: &org, scope: &scope, valid_from: 150, valid_until: Some(500) };
        assert_eq!(check_grant(&lr, true, &ok, 150), Ok(()));
        assert_eq!(check_grant(&rep("boss", Role::Head), true, &ok, 150), Ok(()));
        // Each rule, one at a time.
        assert_eq!(check_grant(&lr, false, &ok, 150), Err(MandateError::WeakAuthentication));
        for role in [Role::AuthorisedPerson, Role::Employee] {
            assert_eq!(check_grant(&rep("boss", role), true, &ok, 150), Err(MandateError::RoleMayNotMandate));
        }
        let mut inactive = lr.clone();
        inactive.status = RepresentationStatus::Pending;
        assert_eq!(check_grant(&inactive, true, &ok, 150), Err(MandateError::NotRepresentative));
        let mut expired = lr.clone();
        expired.valid_until = Some(140);
        assert_eq!(check_grant(&expired, true, &ok, 150), Err(MandateError::NotRepresentative));
        let other_org = OrgId("other".into());
        let elsewhere = MandateRequest { org_id: &other_org, ..ok.clone() };
        assert_eq!(check_grant(&lr, true, &elsewhere, 150), Err(MandateError::NotRepresentative));
        let boss = PersonId("boss".into());
        assert_eq!(
            check_grant(&lr, true, &MandateRequest { grantee: &boss, ..ok.clone() }, 150),
            Err(MandateError::SelfGrant)
        );
        assert_eq!(
            check_grant(&lr, true, &MandateRequest { scope: &[], ..ok.clone() }, 150),
            Err(MandateError::EmptyScope)
        );
        assert_eq!(
            check_grant(&lr, true, &MandateRequest { valid_until: None, ..ok.clone() }, 150),
            Err(MandateError::NoExpiry)
        );
        assert_eq!(
            check_grant(&lr, true, &MandateRequest { valid_until: Some(150), ..ok.clone() }, 150),
            Err(MandateError::ExpiryNotAfterStart)
        );
        let mut bounded = lr.clone();
        bounded.valid_until = Some(400);
        assert_eq!(check_grant(&bounded, true, &ok, 150), Err(MandateError::BeyondGranter));
        assert_eq!(check_grant(&bounded, true, &MandateRequest { valid_until: Some(400), ..ok.clone() }, 150), Ok(()));
        let mut narrow = lr.clone();
        narrow.scope = vec!["procedure:2.000001".into()];
        assert_eq!(check_grant(&narrow, true, &ok, 150), Err(MandateError::ScopeBeyondGranter));

        // Revocation: only live mandates of the same organisation.
        let mut mandate = rep("clerk", Role::AuthorisedPerson);
        mandate.source = RepresentationSource::Mandate;
        assert_eq!(check_revoke(&lr, true, &mandate, 150), Ok(()));
        assert_eq!(check_revoke(&lr, false, &mandate, 150), Err(MandateError::WeakAuthentication));
        assert_eq!(check_revoke(&rep("x", Role::Employee), true, &mandate, 150), Err(MandateError::RoleMayNotMandate));
        assert_eq!(
            check_revoke(&lr, true, &rep("y", Role::LegalRepresentative), 150),
            Err(MandateError::NotARevocableMandate)
        );
        let mut gone = mandate.clone();
        gone.status = RepresentationStatus::Revoked;
        assert_eq!(check_revoke(&lr, true, &gone, 150), Err(MandateError::NotARevocableMandate));
        let mut foreign = mandate;
        foreign.org_id = OrgId("other".into());
        assert_eq!(check_revoke(&lr, true, &foreign, 150), Err(MandateError::NotRepresentative));
    }
}
