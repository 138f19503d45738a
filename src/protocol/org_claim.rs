//! The organisation a person acts for (DOMAIN §6): the `vn_org` claim released under the
//! `org` scope, and `vn_account_type` (`citizen`, `enterprise`, `organisation`, mirroring
//! the national portal's `LoaiTaiKhoan` 1/2/3). The subject stays the natural person;
//! the representation travels beside it.

use serde_json::{Map, Value, json};

use crate::identity::{OrgType, Organisation, Representation, RepresentationSource, Role, TaxCode};

/// The scope that releases `vn_org` and `vn_account_type`.
pub const SCOPE: &str = "org";

/// `vn_account_type` for a context: `citizen` for oneself, else by organisation type.
pub fn account_type(org: Option<&Organisation>) -> &'static str {
    match org.map(|o| o.org_type) {
        None => "citizen",
        Some(OrgType::Enterprise | OrgType::Branch | OrgType::HouseholdBusiness) => "enterprise",
        Some(OrgType::Cooperative | OrgType::Agency) => "organisation",
    }
}

/// The national portal's `LoaiTaiKhoan` for a context ("1", "2" or "3").
pub fn portal_account_type(org: Option<&Organisation>) -> &'static str {
    match account_type(org) {
        "citizen" => "1",
        "enterprise" => "2",
        _ => "3",
    }
}

/// The `vn_org` object for a representation in force. A household business's tax code
/// is its owner's personal number: it is included only when the client may receive
/// personal numbers (`pin_allowed`).
pub fn vn_org(rep: &Representation, org: &Organisation, pin_allowed: bool) -> Value {
    let mut m = Map::new();
    m.insert("type".into(), org.org_type.as_str().into());
    m.insert("org_id".into(), org.id.0.clone().into());
    match &org.tax_code {
        Some(TaxCode::Personal(_)) if !pin_allowed => {}
        Some(t) => {
            m.insert("tax_code".into(), t.as_str().into());
        }
        None => {}
    }
    m.insert("name".into(), org.name.clone().into());
    m.insert("role".into(), rep.role.as_str().into());
    if rep.role == Role::AuthorisedPerson || rep.source == RepresentationSource::Mandate {
        m.insert("mandate_id".into(), rep.id.0.clone().into());
    }
    if !rep.scope.is_empty() {
        m.insert("mandate_scope".into(), rep.scope.clone().into());
    }
    if let Some(until) = rep.valid_until {
        m.insert("valid_until".into(), until.into());
    }
    m.insert(
        "source".into(),
        match rep.source {
            RepresentationSource::Upstream => "vneid",
            RepresentationSource::Officer => "admin",
            RepresentationSource::Mandate => "mandate",
        }
        .into(),
    );
    Value::Object(m)
}

/// The claims the `org` scope releases for a context (`None`: the person acts for
/// themselves).
pub fn claims(context: Option<(&Representation, &Organisation)>, pin_allowed: bool) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("vn_account_type".into(), account_type(context.map(|(_, o)| o)).into());
    if let Some((rep, org)) = context {
        m.insert("vn_org".into(), vn_org(rep, org, pin_allowed));
    }
    m
}

/// For clients on the national-portal claim profile: the portal's names for the same
/// context (`LoaiTaiKhoan` 2/3, `MaSoThue`, `TenDoanhNghiep`), from released org claims.
pub fn portal_claims(org_claims: &Map<String, Value>) -> Map<String, Value> {
    let mut m = Map::new();
    let Some(org) = org_claims.get("vn_org") else { return m };
    let kind = match org_claims.get("vn_account_type").and_then(Value::as_str) {
        Some("organisation") => "3",
        _ => "2",
    };
    m.insert("LoaiTaiKhoan".into(), kind.into());
    if let Some(t) = org.get("tax_code") {
        m.insert("MaSoThue".into(), t.clone());
    }
    if let Some(n) = org.get("name") {
        m.insert("TenDoanhNghiep".into(), n.clone());
    }
    m
}

/// The line a context picker shows for one choice (organisation name, its tax code —
/// masked when it is a personal number — and the role).
pub fn describe(rep: &Representation, org: &Organisation) -> Value {
    json!({
        "id": rep.id.0,
        "name": org.name,
        "tax_code": org.tax_code.as_ref().map(TaxCode::masked),
        "role": rep.role.as_str(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::{OrgId, PersonId, RepresentationId, RepresentationStatus};

    fn org(t: OrgType, tax: &str) -> Organisation {
        let tax = TaxCode::parse(tax, 2026).unwrap();
        Organisation::new(OrgId("o1".into()), t, Some(tax), "Công ty TNHH An Bình", None, 1).unwrap()
    }

    fn rep(role: Role, source: RepresentationSource, scope: &[&str]) -> Representation {
        Representation {
            id: RepresentationId("r1".into()),
            person_id: PersonId("p1".into()),
            org_id: OrgId("o1".into()),
            role,
            scope: scope.iter().map(|s| (*s).to_owned()).collect(),
            valid_from: 0,
            valid_until: Some(2_000_000_000),
            granted_by: None,
            source,
            status: RepresentationStatus::Active,
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn vn_org_for_an_enterprise_and_a_mandate() {
        let o = org(OrgType::Enterprise, "0100109106");
        let v = vn_org(&rep(Role::LegalRepresentative, RepresentationSource::Upstream, &[]), &o, false);
        assert_eq!(v["type"], "enterprise");
        assert_eq!(v["tax_code"], "0100109106");
        assert_eq!(v["role"], "legal_representative");
        assert_eq!(v["source"], "vneid");
        assert!(v.get("mandate_id").is_none() && v.get("mandate_scope").is_none());
        let m = vn_org(&rep(Role::AuthorisedPerson, RepresentationSource::Mandate, &["client:portal"]), &o, false);
        assert_eq!(m["mandate_id"], "r1");
        assert_eq!(m["mandate_scope"], json!(["client:portal"]));
        assert_eq!(m["valid_until"], 2_000_000_000);
        let c = claims(Some((&rep(Role::Head, RepresentationSource::Officer, &[]), &o)), false);
        assert_eq!(c["vn_account_type"], "enterprise");
        assert_eq!(c["vn_org"]["source"], "admin");
        assert_eq!(claims(None, true)["vn_account_type"], "citizen");
        assert!(claims(None, true).get("vn_org").is_none());
    }

    #[test]
    fn a_household_business_tax_code_is_a_personal_number() {
        let o = org(OrgType::HouseholdBusiness, "001099012345");
        let r = rep(Role::Head, RepresentationSource::Officer, &[]);
        assert!(vn_org(&r, &o, false).get("tax_code").is_none(), "personal number withheld");
        assert_eq!(vn_org(&r, &o, true)["tax_code"], "001099012345");
        assert_eq!(describe(&r, &o)["tax_code"], "001******345");
        assert_eq!(portal_account_type(Some(&o)), "2");
        assert_eq!(portal_account_type(None), "1");
        let agency = Organisation::new(OrgId("a".into()), OrgType::Agency, None, "UBND xã", None, 1).unwrap();
        assert_eq!(account_type(Some(&agency)), "organisation");
        assert_eq!(portal_account_type(Some(&agency)), "3");
        let portal = portal_claims(&claims(Some((&r, &o)), true));
        assert_eq!(portal["LoaiTaiKhoan"], "2");
        assert_eq!(portal["MaSoThue"], "001099012345");
        assert!(portal_claims(&claims(None, true)).is_empty(), "a citizen keeps the portal's type 1");
    }
}
