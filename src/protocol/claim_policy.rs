//! Per-client claim policy (DOMAIN §7.2): the `allowed_claims` allow-list a client is
//! registered with, entitlement to the personal number, and the claims that are never
//! released to anyone. Applied last, after release by scope and request, so whatever the
//! scope says, a claim outside the list never leaves.

use serde_json::{Map, Value};

use super::client::{Client, MetadataError};
use super::verified_claims::{self, Recipient, VerifiedClaimsRequest};
use crate::identity::Person;

/// The allow-list entry that lets a client receive `verified_claims`.
pub const VERIFIED_CLAIMS: &str = "verified_claims";

/// Claims never released whatever a client asks or is registered for: family members,
/// religion, ethnicity (the national portal's `Cha`, `Me`, `VoChong`, `ChuHo`, …). We do
/// not store them; this makes sure nothing forwards them either.
pub const NEVER_RELEASED: &[&str] = &[
    "Cha",
    "Me",
    "VoChong",
    "ChuHo",
    "HoTenCha",
    "HoTenMe",
    "HoTenVoChong",
    "HoTenChuHo",
    "QuanHeChuHo",
    "TonGiao",
    "DanToc",
    "religion",
    "ethnicity",
    "family",
];

/// Whether `claim` is never released.
pub fn never_released(claim: &str) -> bool {
    NEVER_RELEASED.iter().any(|c| c.eq_ignore_ascii_case(claim))
}

/// Checks and normalises an `allowed_claims` list (claim names, no repeats, none of
/// [`NEVER_RELEASED`]).
pub fn check_allowed_claims(list: &[String]) -> Result<Vec<String>, MetadataError> {
    let mut out: Vec<String> = Vec::new();
    for c in list {
        let ok = (1..=64).contains(&c.len()) && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !ok {
            return Err(MetadataError::InvalidClientMetadata(format!(
                "allowed_claims: `{c}` is not a claim name (1-64 characters of A-Z a-z 0-9 _)"
            )));
        }
        if never_released(c) {
            return Err(MetadataError::InvalidClientMetadata(format!(
                "allowed_claims: `{c}` (family, religion or ethnicity data) is never released"
            )));
        }
        if !out.contains(c) {
            out.push(c.clone());
        }
    }
    Ok(out)
}

/// Whether `client` may ever receive `claim`. Without an allow-list: anything its scope
/// releases, but not `verified_claims`. With one: only what it lists (`personal_number`
/// inside `verified_claims` counts as `vn_pin`).
pub fn may_receive(client: &Client, claim: &str) -> bool {
    if never_released(claim) {
        return false;
    }
    match &client.allowed_claims {
        None => claim != VERIFIED_CLAIMS,
        Some(list) => {
            list.iter().any(|c| c == claim) || (claim == "personal_number" && list.iter().any(|c| c == "vn_pin"))
        }
    }
}

/// Whether `client` is entitled to the personal number: registered by an administrator
/// with the `vn_pin` scope, and not excluded by its allow-list.
pub fn entitled_to_personal_number(client: &Client) -> bool {
    client.scope.contains("vn_pin") && may_receive(client, "vn_pin")
}

/// Applies the client's policy to `released` (claims chosen by scope and request), then
/// adds `verified_claims` when `requested` asks for them and the client may receive them.
pub fn apply(
    client: &Client,
    person: &Person,
    requested: &[VerifiedClaimsRequest],
    released: &mut Map<String, Value>,
    now: i64,
) {
    released.retain(|k, _| may_receive(client, k));
    if requested.is_empty() || !may_receive(client, VERIFIED_CLAIMS) {
        return;
    }
    let allow = |c: &str| may_receive(client, c);
    let to = Recipient { personal_number: entitled_to_personal_number(client), may_receive: &allow };
    if let Some(v) = verified_claims::build(requested, person, to, now) {
        released.insert(VERIFIED_CLAIMS.into(), v);
    }
}

/// The names of the claims `client` would receive about `person` for `scope` and
/// `claims`, at the userinfo endpoint or in the ID token: what a consent receipt lists.
pub fn released_names(
    client: &Client,
    person: &Person,
    scope: &super::scope::Scopes,
    claims: &super::claims::ClaimsRequest,
    now: i64,
) -> Vec<String> {
    let have = super::claims::person_claims(person);
    let mut out = super::claims::release_userinfo(scope, &client.scope, claims, &have);
    out.extend(super::claims::release_id_token(&client.scope, claims, &have));
    let mut verified = claims.userinfo_verified.clone();
    verified.extend(claims.id_token_verified.iter().cloned());
    apply(client, person, &verified, &mut out, now);
    let mut names: Vec<String> = out.keys().cloned().collect();
    if let Some(v) = out.get(VERIFIED_CLAIMS) {
        let objects = match v {
            Value::Array(a) => a.clone(),
            o => vec![o.clone()],
        };
        for o in objects {
            for k in o.get("claims").and_then(Value::as_object).into_iter().flat_map(|m| m.keys()) {
                let n = format!("{VERIFIED_CLAIMS}.{k}");
                if !names.contains(&n) {
                    names.push(n);
                }
            }
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::{Assurance, AssuranceLevel, AssuranceSource, Evidence, PersonId, PersonalNumber};
    use crate::protocol::claims::{ClaimsRequest, person_claims, release_userinfo};
    use crate::protocol::client::ClientMetadata;
    use crate::protocol::scope::Scopes;

    fn client(extra: serde_json::Value) -> Client {
        let mut md = serde_json::json!({"redirect_uris": ["https://rp.example.vn/cb"],
            "scope": "openid profile email vn_pin"});
        if let (Some(o), Some(e)) = (md.as_object_mut(), extra.as_object()) {
            o.extend(e.clone());
        }
        serde_json::from_value::<ClientMetadata>(md).unwrap().validate("rp".into(), 1).unwrap()
    }

    fn person() -> Person {
        Person {
            name: Some("Lê Thị Hoa".into()),
            email: Some("hoa@example.vn".into()),
            birthdate: Some("1990-03-04".into()),
            personal_number: Some(PersonalNumber::parse("001190012345", 2026).unwrap()),
            assurance: Assurance {
                level: AssuranceLevel::Level1,
                source: AssuranceSource::Upstream,
                verified_at: Some(100),
                evidence: Some(Evidence::ElectronicRecord {
                    upstream: "https://vneid".into(),
                    check_method: "vri".into(),
                    time: 100,
                }),
            },
            ..Person::new(PersonId("p".into()), 1)
        }
    }

    const VC: &str = r#"{"userinfo":{"verified_claims":{"verification":{"trust_framework":null},"claims":{"name":null,"birthdate":null,"personal_number":null}}}}"#;

    fn userinfo(c: &Client, scope: &str, req: &str) -> Map<String, Value> {
        let p = person();
        let r = ClaimsRequest::parse(Some(req)).unwrap();
        let mut out = release_userinfo(&Scopes::parse(scope), &c.scope, &r, &person_claims(&p));
        apply(c, &p, &r.userinfo_verified, &mut out, 200);
        out
    }

    fn keys(m: &Map<String, Value>) -> Vec<&str> {
        m.keys().map(String::as_str).collect()
    }

    #[test]
    fn policy_table() {
        let none = client(serde_json::json!({}));
        let listed = client(serde_json::json!({"allowed_claims": ["name", "verified_claims", "birthdate"]}));
        let listed_pin = client(serde_json::json!({"allowed_claims": ["name", "verified_claims", "vn_pin"]}));
        let cases: &[(&str, &Client, &str, &str, Vec<&str>)] = &[
            (
                "no list: by scope",
                &none,
                "openid profile email",
                "{}",
                vec!["email", "email_verified", "name", "updated_at"],
            ),
            ("no list: never verified_claims", &none, "openid", VC, vec![]),
            ("no list: vn_pin by scope", &none, "openid vn_pin", "{}", vec!["vn_pin"]),
            ("list narrows scope", &listed, "openid profile email vn_pin", "{}", vec!["name"]),
            ("list allows verified", &listed, "openid", VC, vec!["verified_claims"]),
            ("list with pin", &listed_pin, "openid vn_pin", VC, vec!["verified_claims", "vn_pin"]),
        ];
        for (what, c, scope, req, expected) in cases {
            assert_eq!(keys(&userinfo(c, scope, req)), *expected, "{what}");
        }
        let vc = &userinfo(&listed, "openid", VC)["verified_claims"]["claims"];
        assert_eq!(
            vc.as_object().unwrap().keys().collect::<Vec<_>>(),
            vec!["birthdate", "name"],
            "no pin: not entitled"
        );
        let vc = &userinfo(&listed_pin, "openid", VC)["verified_claims"]["claims"];
        assert_eq!(vc.as_object().unwrap().keys().collect::<Vec<_>>(), vec!["name", "personal_number"]);
        assert!(entitled_to_personal_number(&none));
        assert!(!entitled_to_personal_number(&listed));
    }

    #[test]
    fn family_religion_ethnicity_are_never_released() {
        let c = client(serde_json::json!({}));
        for n in NEVER_RELEASED {
            assert!(!may_receive(&c, n), "{n}");
            assert!(check_allowed_claims(&[(*n).to_owned()]).is_err(), "{n}");
        }
        let mut out = Map::new();
        out.insert("TonGiao".into(), "x".into());
        out.insert("name".into(), "y".into());
        apply(&c, &person(), &[], &mut out, 1);
        assert_eq!(keys(&out), vec!["name"]);
        assert!(check_allowed_claims(&["na me".into()]).is_err());
        assert_eq!(check_allowed_claims(&["name".into(), "name".into()]).unwrap(), vec!["name"]);
    }

    #[test]
    fn receipt_names() {
        let listed = client(serde_json::json!({"allowed_claims": ["name", "email", "verified_claims", "birthdate"]}));
        let r = ClaimsRequest::parse(Some(VC)).unwrap();
        let names = released_names(&listed, &person(), &Scopes::parse("openid email"), &r, 200);
        assert_eq!(names, vec!["email", "verified_claims", "verified_claims.birthdate", "verified_claims.name"]);
    }
}
