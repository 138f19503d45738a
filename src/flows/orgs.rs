//! Organisations and representation, one implementation each, shared by the CLI
//! (`dinhdanh org …`) and the admin API (`http::admin_orgs`): create and list
//! organisations (identifiers validated, type checked against the tax code's shape),
//! record a representation as an officer or administrator, revoke one, and the
//! person-facing mandate operations (a legal representative or head grants or revokes an
//! `authorised_person` mandate after a level-2 sign-in).
//!
//! Every change is audited here, successes and refusals alike, so the CLI and the API
//! cannot forget to. Audit details name rules and ids, never a personal number.

use serde::Deserialize;
use serde_json::{Value, json};

use super::admin::{AdminError, Page};
use crate::audit::AuditEvent;
use crate::identity::representation::{MandateRequest, check_grant, check_revoke, check_scope};
use crate::identity::{
    MandateError, OrgId, OrgType, Organisation, PersonId, Representation, RepresentationId, RepresentationSource,
    RepresentationStatus, Role, TaxCode,
};
use crate::store::{Store, StoreError};

/// A new organisation (admin API body; the CLI fills it from flags).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewOrganisation {
    /// Tax code: 10 digits, `10-3` for a branch, or a 12-digit personal number for a
    /// household business; may be absent for an agency.
    #[serde(default)]
    pub tax_code: Option<String>,
    /// Registered name.
    pub name: String,
    /// `enterprise`, `branch`, `household_business`, `cooperative` or `agency`; inferred
    /// from the tax code's shape when absent.
    #[serde(default, rename = "type")]
    pub org_type: Option<String>,
    /// Head-office address.
    #[serde(default)]
    pub address: Option<String>,
}

/// A representation recorded by an officer or administrator.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewRepresentation {
    /// The person's internal id (or give `username`).
    #[serde(default)]
    pub person_id: Option<String>,
    /// The person's local username (or give `person_id`).
    #[serde(default)]
    pub username: Option<String>,
    /// `legal_representative`, `head`, `authorised_person` or `employee`.
    pub role: String,
    /// Procedure codes (`procedure:1.000466`) and client ids (`client:portal`); empty
    /// for everything.
    #[serde(default)]
    pub scope: Vec<String>,
    /// In force from (unix seconds; default now).
    #[serde(default)]
    pub valid_from: Option<i64>,
    /// In force until (unix seconds; default no end).
    #[serde(default)]
    pub valid_until: Option<i64>,
    /// `active` (default) or `pending` (awaiting an officer's confirmation).
    #[serde(default)]
    pub status: Option<String>,
}

/// Why a person's mandate operation failed.
#[derive(Debug, thiserror::Error)]
pub enum MandateFlowError {
    /// A mandate rule refused it.
    #[error("{0}")]
    Refused(#[from] MandateError),
    /// The organisation, person or mandate does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The store refused or failed.
    #[error("{0}")]
    Store(#[from] StoreError),
}

/// Unix time of 00:00 UTC on a civil date (Howard Hinnant's `days_from_civil`).
fn unix_of_date(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe - 719_468) * 86_400
}

/// Reads an end of validity: unix seconds, or a date `YYYY-MM-DD`, meaning until the end
/// of that day (UTC).
pub fn parse_until(raw: &str) -> Result<i64, AdminError> {
    let raw = raw.trim();
    if let Ok(n) = raw.parse::<i64>() {
        return Ok(n);
    }
    let bad = || AdminError::Invalid(format!("`{raw}` is neither unix seconds nor a date YYYY-MM-DD"));
    let parts: Vec<&str> = raw.split('-').collect();
    let [y, m, d] = parts[..] else { return Err(bad()) };
    if y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return Err(bad());
    }
    let (y, m, d) = match (y.parse::<i64>(), m.parse::<i64>(), d.parse::<i64>()) {
        (Ok(y), Ok(m), Ok(d)) => (y, m, d),
        _ => return Err(bad()),
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let max = usize::try_from(m - 1).ok().and_then(|i| days.get(i)).copied().ok_or_else(bad)?;
    if !(1..=max).contains(&d) {
        return Err(bad());
    }
    Ok(unix_of_date(y, m, d) + 86_400)
}

/// Parses a tax code with the year of `now` bounding a personal number's birth year.
pub fn parse_tax_code(raw: &str, now: i64) -> Result<TaxCode, AdminError> {
    TaxCode::parse(raw, crate::clock::year_of(now)).map_err(|e| AdminError::Invalid(e.to_string()))
}

async fn audit(
    store: &dyn Store,
    actor: &str,
    action: &str,
    subject: Option<&str>,
    now: i64,
    error: Option<(&str, String)>,
) {
    let (action, outcome, detail) = match error {
        None => (action.to_owned(), "success", json!({})),
        Some((code, reason)) => (format!("{action}.failed"), "failure", json!({"error": code, "reason": reason})),
    };
    let event = AuditEvent {
        at: now,
        actor: actor.to_owned(),
        action,
        subject: subject.map(str::to_owned),
        outcome: outcome.to_owned(),
        detail,
    };
    let _ = crate::audit::record(store, event).await;
}

async fn audited<T>(
    store: &dyn Store,
    actor: &str,
    action: &str,
    subject: Option<&str>,
    now: i64,
    result: Result<T, AdminError>,
) -> Result<T, AdminError> {
    let error = result.as_ref().err().map(|e| (e.code(), e.to_string()));
    audit(store, actor, action, subject, now, error).await;
    result
}

/// Creates an organisation (audited as `org.create` by `actor`: `cli` or
/// `admin:<client id>`). The tax code is validated (the error names the wrong part) and
/// must fit the type; `Conflict` if another organisation has it.
pub async fn create_org(
    store: &dyn Store,
    actor: &str,
    new: NewOrganisation,
    now: i64,
) -> Result<Organisation, AdminError> {
    let done = async {
        let tax_code =
            new.tax_code.as_deref().filter(|t| !t.trim().is_empty()).map(|t| parse_tax_code(t, now)).transpose()?;
        let org_type = match new.org_type.as_deref() {
            None => OrgType::inferred(tax_code.as_ref()),
            Some(t) => OrgType::parse(t).ok_or_else(|| {
                AdminError::Invalid(format!("type must be one of {}", OrgType::ALL.map(OrgType::as_str).join(", ")))
            })?,
        };
        let id = OrgId(uuid::Uuid::now_v7().to_string());
        let org = Organisation::new(id, org_type, tax_code, &new.name, new.address.as_deref(), now)
            .map_err(|e| AdminError::Invalid(e.to_string()))?;
        store.create_org(&org).await?;
        Ok(org)
    }
    .await;
    let id = done.as_ref().map(|o| o.id.0.clone()).ok();
    audited(store, actor, "org.create", id.as_deref(), now, done).await
}

/// An organisation by internal id.
pub async fn get_org(store: &dyn Store, id: &str) -> Result<Organisation, AdminError> {
    store.find_org(&OrgId(id.to_owned())).await?.ok_or_else(|| AdminError::NotFound(format!("organisation {id}")))
}

/// An organisation by internal id or, failing that, by tax code.
pub async fn find_org_ref(store: &dyn Store, id_or_tax_code: &str, now: i64) -> Result<Organisation, AdminError> {
    if let Some(o) = store.find_org(&OrgId(id_or_tax_code.to_owned())).await? {
        return Ok(o);
    }
    let not_found = || AdminError::NotFound(format!("organisation {id_or_tax_code}"));
    match TaxCode::parse(id_or_tax_code, crate::clock::year_of(now)) {
        Ok(t) => store.find_org_by_tax_code(&t).await?.ok_or_else(not_found),
        Err(_) => Err(not_found()),
    }
}

/// A page of organisations in id (creation) order.
pub async fn list_orgs(store: &dyn Store, limit: u32, after: Option<&str>) -> Result<Page<Organisation>, AdminError> {
    let after = after.map(|a| OrgId(a.to_owned()));
    let mut items = store.list_orgs(after.as_ref(), limit.saturating_add(1)).await?;
    let next_cursor = if items.len() > limit as usize {
        items.truncate(limit as usize);
        items.last().map(|o| base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, &o.id.0))
    } else {
        None
    };
    Ok(Page { items, next_cursor })
}

/// Records a representation of organisation `org` (id or tax code) as an officer or
/// administrator (source `officer`; audited as `representation.create`).
pub async fn add_representation(
    store: &dyn Store,
    actor: &str,
    org: &str,
    new: NewRepresentation,
    now: i64,
) -> Result<Representation, AdminError> {
    let done = async {
        let org = find_org_ref(store, org, now).await?;
        let person = match (&new.person_id, &new.username) {
            (Some(id), None) => store.find_person(&PersonId(id.clone())).await?,
            (None, Some(u)) => store.find_login(&u.trim().to_lowercase()).await?.map(|(p, _)| p),
            _ => return Err(AdminError::Invalid("give exactly one of person_id and username".into())),
        }
        .ok_or_else(|| AdminError::NotFound("person".into()))?;
        let role = Role::parse(&new.role).ok_or_else(|| {
            AdminError::Invalid(format!("role must be one of {}", Role::ALL.map(Role::as_str).join(", ")))
        })?;
        check_scope(&new.scope).map_err(|e| AdminError::Invalid(e.to_string()))?;
        let status = match new.status.as_deref() {
            None | Some("active") => RepresentationStatus::Active,
            Some("pending") => RepresentationStatus::Pending,
            Some(_) => return Err(AdminError::Invalid("status must be active or pending".into())),
        };
        let valid_from = new.valid_from.unwrap_or(now);
        if new.valid_until.is_some_and(|u| u <= valid_from) {
            return Err(AdminError::Invalid("valid_until must be after valid_from".into()));
        }
        let rep = Representation {
            id: RepresentationId(uuid::Uuid::now_v7().to_string()),
            person_id: person.id,
            org_id: org.id,
            role,
            scope: new.scope,
            valid_from,
            valid_until: new.valid_until,
            granted_by: None,
            source: RepresentationSource::Officer,
            status,
            created_at: now,
            updated_at: now,
        };
        store.create_representation(&rep).await?;
        Ok(rep)
    }
    .await;
    let id = done.as_ref().map(|r| r.id.0.clone()).ok();
    audited(store, actor, "representation.create", id.as_deref(), now, done).await
}

/// Every representation of an organisation (any status), oldest first.
pub async fn org_representations(store: &dyn Store, org_id: &str) -> Result<Vec<Representation>, AdminError> {
    let org = get_org(store, org_id).await?;
    Ok(store.representations_of_org(&org.id).await?)
}

/// Revokes a representation as an administrator (audited as `representation.revoke`);
/// revoking a revoked one is `NotFound`-free: it answers the record as it is.
pub async fn revoke_representation(
    store: &dyn Store,
    actor: &str,
    id: &str,
    now: i64,
) -> Result<Representation, AdminError> {
    let done = async {
        let rid = RepresentationId(id.to_owned());
        let rep = store
            .find_representation(&rid)
            .await?
            .ok_or_else(|| AdminError::NotFound(format!("representation {id}")))?;
        if rep.status != RepresentationStatus::Revoked {
            store.set_representation_status(&rid, RepresentationStatus::Revoked, now).await?;
        }
        store.find_representation(&rid).await?.ok_or_else(|| AdminError::NotFound(format!("representation {id}")))
    }
    .await;
    audited(store, actor, "representation.revoke", Some(id), now, done).await
}

/// The granter's representation of `org` that may mandate, if any (the strongest role
/// in force).
async fn granter_rep(
    store: &dyn Store,
    person: &PersonId,
    org: &OrgId,
    now: i64,
) -> Result<Representation, MandateFlowError> {
    let reps = store.representations_of_person(person, now).await?;
    let mut mine: Vec<Representation> = reps.into_iter().filter(|(r, _)| &r.org_id == org).map(|(r, _)| r).collect();
    mine.sort_by_key(|r| !r.role.may_mandate());
    mine.into_iter().next().ok_or(MandateFlowError::Refused(MandateError::NotRepresentative))
}

async fn audit_mandate<T>(
    store: &dyn Store,
    actor: &PersonId,
    action: &str,
    subject: Option<&str>,
    now: i64,
    result: Result<T, MandateFlowError>,
) -> Result<T, MandateFlowError> {
    let error = result.as_ref().err().map(|e| {
        let code = match e {
            MandateFlowError::Refused(_) => "access_denied",
            MandateFlowError::NotFound(_) => "not_found",
            MandateFlowError::Store(StoreError::Conflict(_)) => "conflict",
            MandateFlowError::Store(StoreError::Unavailable(_)) => "temporarily_unavailable",
        };
        (code, e.to_string())
    });
    audit(store, &format!("person:{}", actor.0), action, subject, now, error).await;
    result
}

/// A mandate a person asks to grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MandateGrant {
    /// For which organisation.
    pub org: OrgId,
    /// To whom.
    pub grantee: PersonId,
    /// What for: procedure codes and client ids (required).
    pub scope: Vec<String>,
    /// Until when (required, within the granter's own validity).
    pub valid_until: Option<i64>,
}

/// A person (`granter`, signed in; `strong_auth` = their session's acr satisfies
/// `urn:vn:eid:loa:2`) grants an `authorised_person` mandate. Audited as
/// `mandate.grant`, refusals included.
pub async fn grant_mandate(
    store: &dyn Store,
    granter: &PersonId,
    strong_auth: bool,
    grant: MandateGrant,
    now: i64,
) -> Result<Representation, MandateFlowError> {
    let MandateGrant { org, grantee, scope, valid_until } = grant;
    let (org, grantee) = (&org, &grantee);
    let done = async {
        let org =
            store.find_org(org).await?.ok_or_else(|| MandateFlowError::NotFound(format!("organisation {}", org.0)))?;
        if !org.is_active() {
            return Err(MandateFlowError::Refused(MandateError::NotRepresentative));
        }
        let mine = granter_rep(store, granter, &org.id, now).await?;
        let req = MandateRequest { grantee, org_id: &org.id, scope: &scope, valid_from: now, valid_until };
        check_grant(&mine, strong_auth, &req, now)?;
        if store.find_person(grantee).await?.is_none() {
            return Err(MandateFlowError::NotFound("person".into()));
        }
        let rep = Representation {
            id: RepresentationId(uuid::Uuid::now_v7().to_string()),
            person_id: grantee.clone(),
            org_id: org.id,
            role: Role::AuthorisedPerson,
            scope,
            valid_from: now,
            valid_until,
            granted_by: Some(granter.clone()),
            source: RepresentationSource::Mandate,
            status: RepresentationStatus::Active,
            created_at: now,
            updated_at: now,
        };
        store.create_representation(&rep).await?;
        Ok(rep)
    }
    .await;
    let subject = done.as_ref().map_or_else(|_| format!("org:{}", org.0), |r| r.id.0.clone());
    audit_mandate(store, granter, "mandate.grant", Some(&subject), now, done).await
}

/// A person (`revoker`, see [`grant_mandate`]) revokes the mandate `mandate` of one of
/// the organisations they represent. Audited as `mandate.revoke`, refusals included.
pub async fn revoke_mandate(
    store: &dyn Store,
    revoker: &PersonId,
    strong_auth: bool,
    mandate: &RepresentationId,
    now: i64,
) -> Result<Representation, MandateFlowError> {
    let done = async {
        let target = store
            .find_representation(mandate)
            .await?
            .ok_or_else(|| MandateFlowError::NotFound(format!("mandate {}", mandate.0)))?;
        let mine = granter_rep(store, revoker, &target.org_id, now).await?;
        check_revoke(&mine, strong_auth, &target, now)?;
        store.set_representation_status(mandate, RepresentationStatus::Revoked, now).await?;
        store
            .find_representation(mandate)
            .await?
            .ok_or_else(|| MandateFlowError::NotFound(format!("mandate {}", mandate.0)))
    }
    .await;
    audit_mandate(store, revoker, "mandate.revoke", Some(&mandate.0), now, done).await
}

/// The organisation as the admin API and the CLI show it. `detail` shows a household
/// business's personal-number tax code whole (one record read by an administrator);
/// lists mask it.
pub fn org_json(o: &Organisation, detail: bool) -> Value {
    json!({
        "id": o.id.0,
        "type": o.org_type.as_str(),
        "tax_code": o.tax_code.as_ref().map(|t| if detail { t.as_str().to_owned() } else { t.masked() }),
        "tax_code_kind": o.tax_code.as_ref().map(|t| t.kind().as_str()),
        "name": o.name,
        "address": o.address,
        "status": o.status.as_str(),
        "assurance_level": o.assurance.level.as_i64(),
        "assurance_source": o.assurance.source.as_str(),
        "assurance_time": o.assurance.verified_at,
        "created_at": o.created_at,
        "updated_at": o.updated_at,
    })
}

/// A representation as the admin API and the CLI show it.
pub fn representation_json(r: &Representation) -> Value {
    json!({
        "id": r.id.0,
        "person_id": r.person_id.0,
        "org_id": r.org_id.0,
        "role": r.role.as_str(),
        "scope": r.scope,
        "valid_from": r.valid_from,
        "valid_until": r.valid_until,
        "granted_by": r.granted_by.as_ref().map(|p| p.0.clone()),
        "source": r.source.as_str(),
        "status": r.status.as_str(),
        "created_at": r.created_at,
        "updated_at": r.updated_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ends_of_validity() {
        assert_eq!(parse_until("1800000000").unwrap(), 1_800_000_000);
        assert_eq!(parse_until("1970-01-01").unwrap(), 86_400);
        assert_eq!(parse_until("2026-12-31").unwrap(), 1_798_761_600); // 2027-01-01T00:00Z
        assert_eq!(parse_until("2024-02-29").unwrap(), unix_of_date(2024, 3, 1));
        for bad in ["2025-02-29", "2026-13-01", "2026-00-10", "26-01-01", "tomorrow", "2026-1-1"] {
            assert!(parse_until(bad).is_err(), "{bad}");
        }
        assert_eq!(crate::clock::year_of(1_798_761_599), 2026);
    }
}
