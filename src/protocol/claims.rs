//! Claims: the `claims` request parameter (OIDC Core §5.5) and what is released where —
//! by granted scope at the userinfo endpoint (§5.4), individually requested claims in the
//! ID token or userinfo, nothing the client is not allowed.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::error::OAuthError;
use super::scope::Scopes;
use super::verified_claims::{self, VerifiedClaimsRequest};
use crate::identity::Person;

/// One requested claim (§5.5.1).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ClaimRequest {
    /// `essential: true`.
    pub essential: bool,
    /// `value` or `values`, as strings.
    pub values: Vec<String>,
}

/// The parsed `claims` parameter.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ClaimsRequest {
    /// Members of `id_token`.
    pub id_token: BTreeMap<String, ClaimRequest>,
    /// Members of `userinfo`.
    pub userinfo: BTreeMap<String, ClaimRequest>,
    /// `verified_claims` requested in the ID token (OpenID Identity Assurance).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub id_token_verified: Vec<VerifiedClaimsRequest>,
    /// `verified_claims` requested at the userinfo endpoint.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub userinfo_verified: Vec<VerifiedClaimsRequest>,
}

fn parse_members(v: Option<&Value>, what: &str) -> Result<BTreeMap<String, ClaimRequest>, OAuthError> {
    let mut out = BTreeMap::new();
    let Some(v) = v else { return Ok(out) };
    let obj = v.as_object().ok_or_else(|| OAuthError::invalid_request(format!("claims.{what} must be an object")))?;
    for (name, spec) in obj {
        if name == "verified_claims" {
            // Parsed on its own (see `verified_members`).
            continue;
        }
        let req = match spec {
            Value::Null => ClaimRequest::default(),
            Value::Object(o) => {
                let essential = match o.get("essential") {
                    None | Some(Value::Null) => false,
                    Some(Value::Bool(b)) => *b,
                    Some(_) => {
                        return Err(OAuthError::invalid_request(format!(
                            "claims.{what}.{name}.essential must be a boolean"
                        )));
                    }
                };
                let mut values = Vec::new();
                if let Some(v) = o.get("value") {
                    values.push(scalar(v).ok_or_else(|| {
                        OAuthError::invalid_request(format!("claims.{what}.{name}.value must be a scalar"))
                    })?);
                }
                if let Some(vs) = o.get("values") {
                    let arr = vs.as_array().ok_or_else(|| {
                        OAuthError::invalid_request(format!("claims.{what}.{name}.values must be an array"))
                    })?;
                    for v in arr {
                        values.push(scalar(v).ok_or_else(|| {
                            OAuthError::invalid_request(format!("claims.{what}.{name}.values must hold scalars"))
                        })?);
                    }
                }
                ClaimRequest { essential, values }
            }
            _ => return Err(OAuthError::invalid_request(format!("claims.{what}.{name} must be null or an object"))),
        };
        out.insert(name.clone(), req);
    }
    Ok(out)
}

fn verified_members(v: Option<&Value>, what: &str) -> Result<Vec<VerifiedClaimsRequest>, OAuthError> {
    match v.and_then(|m| m.get("verified_claims")) {
        None => Ok(Vec::new()),
        Some(vc) => verified_claims::parse(vc, &format!("claims.{what}.verified_claims")),
    }
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

impl ClaimsRequest {
    /// Parses the JSON text of the `claims` parameter.
    pub fn parse(raw: Option<&str>) -> Result<Self, OAuthError> {
        let Some(raw) = raw else { return Ok(Self::default()) };
        let v: Value =
            serde_json::from_str(raw).map_err(|_| OAuthError::invalid_request("claims is not valid JSON"))?;
        let obj = v.as_object().ok_or_else(|| OAuthError::invalid_request("claims must be a JSON object"))?;
        Ok(Self {
            id_token: parse_members(obj.get("id_token"), "id_token")?,
            userinfo: parse_members(obj.get("userinfo"), "userinfo")?,
            id_token_verified: verified_members(obj.get("id_token"), "id_token")?,
            userinfo_verified: verified_members(obj.get("userinfo"), "userinfo")?,
        })
    }
}

/// The scope that covers a claim; a claim is released only to clients allowed that scope.
pub fn scope_of(claim: &str) -> Option<&'static str> {
    Some(match claim {
        "name" | "given_name" | "family_name" | "middle_name" | "nickname" | "preferred_username" | "profile"
        | "picture" | "website" | "gender" | "birthdate" | "zoneinfo" | "locale" | "updated_at" => "profile",
        "email" | "email_verified" => "email",
        "phone_number" | "phone_number_verified" => "phone",
        "address" => "address",
        "vn_pin" => "vn_pin",
        "vn_org" | "vn_account_type" => "org",
        _ => return None,
    })
}

/// Every claim name the server can release (`claims_supported`, with the ID token ones).
pub const SUPPORTED: &[&str] = &[
    "sub",
    "iss",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "acr",
    "amr",
    "azp",
    "sid",
    "name",
    "preferred_username",
    "updated_at",
    "email",
    "email_verified",
    "phone_number",
    "phone_number_verified",
    "address",
    "vn_pin",
    "vn_org",
    "vn_account_type",
];

/// What a person has, as claims (only those with values).
pub fn person_claims(p: &Person) -> Map<String, Value> {
    let mut m = Map::new();
    if let Some(n) = &p.name {
        m.insert("name".into(), n.clone().into());
    }
    if let Some(u) = &p.username {
        m.insert("preferred_username".into(), u.clone().into());
    }
    m.insert("updated_at".into(), p.updated_at.into());
    if let Some(e) = &p.email {
        m.insert("email".into(), e.clone().into());
        m.insert("email_verified".into(), p.email_verified.into());
    }
    if let Some(ph) = &p.phone {
        m.insert("phone_number".into(), ph.clone().into());
        m.insert("phone_number_verified".into(), p.phone_verified.into());
    }
    if let Some(a) = &p.address {
        // OIDC Core §5.1.1: the address claim is a JSON object.
        m.insert("address".into(), serde_json::json!({ "formatted": a }));
    }
    if let Some(pin) = &p.personal_number {
        m.insert("vn_pin".into(), pin.as_str().into());
    }
    m
}

/// Claims for the userinfo response: those of the granted scopes, plus individually
/// requested `userinfo` members whose scope the client is allowed.
pub fn release_userinfo(
    granted: &Scopes,
    allowed: &Scopes,
    requested: &ClaimsRequest,
    have: &Map<String, Value>,
) -> Map<String, Value> {
    release(have, |claim| {
        let Some(scope) = scope_of(claim) else { return false };
        granted.contains(scope) || (requested.userinfo.contains_key(claim) && allowed.contains(scope))
    })
}

/// Extra claims for the ID token: only individually requested `id_token` members whose
/// scope the client is allowed (scope claims go to userinfo when an access token is
/// issued, §5.4).
pub fn release_id_token(allowed: &Scopes, requested: &ClaimsRequest, have: &Map<String, Value>) -> Map<String, Value> {
    release(have, |claim| {
        requested.id_token.contains_key(claim) && scope_of(claim).is_some_and(|s| allowed.contains(s))
    })
}

fn release(have: &Map<String, Value>, allow: impl Fn(&str) -> bool) -> Map<String, Value> {
    have.iter().filter(|(k, _)| allow(k)).map(|(k, v)| (k.clone(), v.clone())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::{PersonId, PersonStatus, PersonalNumber};

    fn person() -> Person {
        Person {
            id: PersonId("p1".into()),
            username: Some("an".into()),
            name: Some("Nguyễn Văn An".into()),
            email: Some("an@example.vn".into()),
            email_verified: true,
            phone: Some("+84901234567".into()),
            phone_verified: false,
            address: Some("Số 1 Tràng Tiền, Hoàn Kiếm, Hà Nội".into()),
            personal_number: Some(PersonalNumber::parse("001099012345", 2026).unwrap()),
            status: PersonStatus::Active,
            created_at: 1,
            updated_at: 2,
            ..Person::new(PersonId(String::new()), 0)
        }
    }

    fn keys(m: &Map<String, Value>) -> Vec<&str> {
        m.keys().map(String::as_str).collect()
    }

    #[test]
    fn parse_cases() {
        let ok = ClaimsRequest::parse(Some(r#"{"id_token":{"email":{"essential":true},"acr":{"values":["urn:vn:local:basic"]}},"userinfo":{"name":null}}"#)).unwrap();
        assert!(ok.id_token["email"].essential);
        assert_eq!(ok.id_token["acr"].values, vec!["urn:vn:local:basic"]);
        assert!(ok.userinfo.contains_key("name"));
        for bad in [
            r#"[]"#,
            r#"{"id_token":1}"#,
            r#"{"id_token":{"x":1}}"#,
            r#"{"id_token":{"x":{"essential":"yes"}}}"#,
            "{",
            r#"{"userinfo":{"x":{"values":"a"}}}"#,
            r#"{"userinfo":{"verified_claims":{"verification":{"trust_framework":null},"claims":{}}}}"#,
            r#"{"id_token":{"verified_claims":[]}}"#,
        ] {
            assert!(ClaimsRequest::parse(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn verified_claims_travel_beside_the_plain_members() {
        let raw = r#"{"userinfo":{"name":null,"verified_claims":{"verification":{"trust_framework":null},"claims":{"name":null}}}}"#;
        let r = ClaimsRequest::parse(Some(raw)).unwrap();
        assert_eq!(r.userinfo.keys().collect::<Vec<_>>(), vec!["name"], "not a plain member");
        assert_eq!(r.userinfo_verified.len(), 1);
        assert!(r.id_token_verified.is_empty());
        let text = serde_json::to_string(&r).unwrap();
        assert_eq!(
            serde_json::from_str::<ClaimsRequest>(&text).unwrap(),
            r,
            "round trip (code record, refresh family)"
        );
        let old: ClaimsRequest = serde_json::from_str(r#"{"id_token":{},"userinfo":{}}"#).unwrap();
        assert_eq!(old, ClaimsRequest::default(), "records written before this field still read");
    }

    #[test]
    fn release_by_scope_and_request() {
        let have = person_claims(&person());
        let all = Scopes::parse("openid profile email phone address");
        let cases: &[(&str, &str, Vec<&str>)] = &[
            ("openid", "{}", vec![]),
            ("openid profile", "{}", vec!["name", "preferred_username", "updated_at"]),
            ("openid email", "{}", vec!["email", "email_verified"]),
            ("openid phone", "{}", vec!["phone_number", "phone_number_verified"]),
            ("openid address", "{}", vec!["address"]),
            ("openid", r#"{"userinfo":{"email":null}}"#, vec!["email"]),
            ("openid", r#"{"userinfo":{"vn_pin":null}}"#, vec![]),
        ];
        for (scope, req, expected) in cases {
            let r = ClaimsRequest::parse(Some(req)).unwrap();
            let got = release_userinfo(&Scopes::parse(scope), &all, &r, &have);
            let mut exp = expected.clone();
            exp.sort();
            assert_eq!(keys(&got), exp, "{scope} {req}");
        }
        let with_pin = Scopes::parse("openid vn_pin");
        let got = release_userinfo(&with_pin, &with_pin, &ClaimsRequest::default(), &have);
        assert_eq!(keys(&got), vec!["vn_pin"]);
        let r = ClaimsRequest::parse(Some(r#"{"id_token":{"email":null,"vn_pin":null}}"#)).unwrap();
        assert_eq!(keys(&release_id_token(&all, &r, &have)), vec!["email"]);
    }
}
