//! OpenID Identity Assurance 1.0 (`verified_claims`, DOMAIN §4): the request found inside
//! the `claims` parameter's `id_token`/`userinfo` members, and the response built from a
//! person's [`Assurance`]. Released only when requested, and only what the client may
//! receive; constraints that are not met drop the whole object, silently.
//!
//! The verification element of a response holds `trust_framework` and only the other
//! elements the request named (`assurance_level`, `time`, `evidence`): data minimisation,
//! as the specification asks. Claims inside are those requested that the person has and
//! that the evidence verified.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::error::OAuthError;
use crate::identity::{Assurance, AssuranceLevel, Evidence, Person};

/// Our trust framework: Decree 69/2024/ND-CP on electronic identification.
pub const TRUST_FRAMEWORK: &str = "vn_nd69";
/// Evidence types we issue.
pub const EVIDENCE_SUPPORTED: &[&str] = &["electronic_record", "document"];
/// Document types officers check at counters.
pub const DOCUMENTS_SUPPORTED: &[&str] = &["vn_the_can_cuoc", "vn_cccd", "passport"];
/// Check methods we record (IDA predefined values: `vri` record check, `bvr` biometric
/// verification, `pvp` physical verification in person, `vpip` in-person photo check).
pub const CHECK_METHODS_SUPPORTED: &[&str] = &["vri", "bvr", "pvp", "vpip"];
/// Electronic record types.
pub const ELECTRONIC_RECORDS_SUPPORTED: &[&str] = &["vn_population_db"];
/// Claims that can appear inside `verified_claims`.
pub const CLAIMS_SUPPORTED: &[&str] = &["name", "birthdate", "gender", "nationalities", "personal_number"];

/// `value`/`values` on one element; empty means "any".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Constraint {
    /// Accepted values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

impl Constraint {
    /// Whether `v` satisfies the constraint.
    pub fn accepts(&self, v: &str) -> bool {
        self.values.is_empty() || self.values.iter().any(|x| x == v)
    }
}

/// One requested claim inside `verified_claims.claims`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifiedClaimRequest {
    /// `essential: true` (we cannot do more than release it when we can).
    #[serde(default)]
    pub essential: bool,
    /// Why the client asks (3-300 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
}

/// A request for `verification.time`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeRequest {
    /// The verification must be at most this old (s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age: Option<i64>,
}

/// One `verified_claims` request object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifiedClaimsRequest {
    /// Constraint on `verification.trust_framework`.
    #[serde(default)]
    pub trust_framework: Constraint,
    /// `verification.assurance_level` requested (with its constraint).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assurance_level: Option<Constraint>,
    /// `verification.time` requested, with its `max_age`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<TimeRequest>,
    /// `verification.evidence` requested: one type constraint per requested evidence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Vec<Constraint>>,
    /// The claims asked for (never empty).
    pub claims: BTreeMap<String, VerifiedClaimRequest>,
}

fn bad(msg: impl Into<String>) -> OAuthError {
    OAuthError::invalid_request(msg)
}

fn check_purpose(v: &Value, at: &str) -> Result<Option<String>, OAuthError> {
    match v.get("purpose") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if (3..=300).contains(&s.chars().count()) => Ok(Some(s.clone())),
        Some(_) => Err(bad(format!("{at}.purpose must be a string of 3-300 characters"))),
    }
}

fn string_value(v: &Value, at: &str) -> Result<String, OAuthError> {
    v.as_str().map(str::to_owned).ok_or_else(|| bad(format!("{at} values must be strings")))
}

/// Parses a constraint object: `null`, or `{value|values|essential|purpose|max_age}`.
fn constraint(v: Option<&Value>, at: &str) -> Result<Constraint, OAuthError> {
    let mut c = Constraint::default();
    match v {
        None | Some(Value::Null) => {}
        Some(o @ Value::Object(obj)) => {
            check_purpose(o, at)?;
            if let Some(e) = obj.get("essential")
                && !(e.is_boolean() || e.is_null())
            {
                return Err(bad(format!("{at}.essential must be a boolean")));
            }
            if let Some(v) = obj.get("value") {
                c.values.push(string_value(v, at)?);
            }
            if let Some(vs) = obj.get("values") {
                let arr = vs.as_array().ok_or_else(|| bad(format!("{at}.values must be an array")))?;
                for v in arr {
                    c.values.push(string_value(v, at)?);
                }
            }
        }
        Some(_) => return Err(bad(format!("{at} must be null or an object"))),
    }
    Ok(c)
}

fn parse_one(v: &Value, at: &str) -> Result<VerifiedClaimsRequest, OAuthError> {
    let obj = v.as_object().ok_or_else(|| bad(format!("{at} must be an object")))?;
    check_purpose(v, at)?;
    let verification = obj
        .get("verification")
        .and_then(Value::as_object)
        .ok_or_else(|| bad(format!("{at}.verification must be an object")))?;
    let mut req = VerifiedClaimsRequest {
        trust_framework: constraint(
            verification.get("trust_framework"),
            &format!("{at}.verification.trust_framework"),
        )?,
        ..Default::default()
    };
    if verification.contains_key("assurance_level") {
        req.assurance_level =
            Some(constraint(verification.get("assurance_level"), &format!("{at}.verification.assurance_level"))?);
    }
    if let Some(t) = verification.get("time") {
        let at_t = format!("{at}.verification.time");
        constraint(Some(t), &at_t)?;
        let max_age = match t.get("max_age") {
            None | Some(Value::Null) => None,
            Some(m) => Some(
                m.as_i64()
                    .filter(|m| *m >= 0)
                    .ok_or_else(|| bad(format!("{at_t}.max_age must be a non-negative integer")))?,
            ),
        };
        req.time = Some(TimeRequest { max_age });
    }
    if let Some(e) = verification.get("evidence") {
        let at_e = format!("{at}.verification.evidence");
        let list = match e {
            Value::Null => Vec::new(),
            Value::Array(a) => a.clone(),
            _ => return Err(bad(format!("{at_e} must be an array"))),
        };
        let mut types = Vec::new();
        for item in &list {
            if !item.is_object() {
                return Err(bad(format!("{at_e} entries must be objects")));
            }
            check_purpose(item, &at_e)?;
            types.push(constraint(item.get("type"), &format!("{at_e}.type"))?);
        }
        if types.is_empty() {
            types.push(Constraint::default());
        }
        req.evidence = Some(types);
    }
    let claims =
        obj.get("claims").and_then(Value::as_object).ok_or_else(|| bad(format!("{at}.claims must be an object")))?;
    if claims.is_empty() {
        return Err(bad(format!("{at}.claims must name at least one claim")));
    }
    for (name, spec) in claims {
        let at_c = format!("{at}.claims.{name}");
        let one = match spec {
            Value::Null => VerifiedClaimRequest::default(),
            Value::Object(o) => {
                let essential = match o.get("essential") {
                    None | Some(Value::Null) => false,
                    Some(Value::Bool(b)) => *b,
                    Some(_) => return Err(bad(format!("{at_c}.essential must be a boolean"))),
                };
                VerifiedClaimRequest { essential, purpose: check_purpose(spec, &at_c)? }
            }
            _ => return Err(bad(format!("{at_c} must be null or an object"))),
        };
        req.claims.insert(name.clone(), one);
    }
    Ok(req)
}

/// Parses the `verified_claims` member of `claims.id_token` or `claims.userinfo` (`at`
/// names it in errors): an object or a non-empty array of objects.
pub fn parse(v: &Value, at: &str) -> Result<Vec<VerifiedClaimsRequest>, OAuthError> {
    match v {
        Value::Object(_) => Ok(vec![parse_one(v, at)?]),
        Value::Array(a) if !a.is_empty() && a.len() <= 16 => {
            a.iter().enumerate().map(|(i, x)| parse_one(x, &format!("{at}[{i}]"))).collect()
        }
        _ => Err(bad(format!("{at} must be an object or a non-empty array of objects"))),
    }
}

/// Who receives the response, and what they may see.
#[derive(Clone, Copy)]
pub struct Recipient<'a> {
    /// Whether the client is entitled to the personal number (`vn_pin`).
    pub personal_number: bool,
    /// Whether the client may receive a claim (its allow-list).
    pub may_receive: &'a dyn Fn(&str) -> bool,
}

impl std::fmt::Debug for Recipient<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recipient").field("personal_number", &self.personal_number).finish_non_exhaustive()
    }
}

/// Unix seconds as ISO 8601 in UTC (`2025-07-01T09:00:00Z`).
pub fn iso8601(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3_600, rem % 3_600 / 60, rem % 60)
}

/// The claims a piece of evidence verifies.
fn verified_by(e: &Evidence) -> &'static [&'static str] {
    match e {
        Evidence::ElectronicRecord { .. } => CLAIMS_SUPPORTED,
        Evidence::Document { document_type, .. } => match document_type.as_str() {
            "vn_the_can_cuoc" | "vn_cccd" | "idcard" => CLAIMS_SUPPORTED,
            "passport" => &["name", "birthdate", "gender", "nationalities"],
            _ => &["name", "birthdate"],
        },
    }
}

fn evidence_type(e: &Evidence) -> &'static str {
    match e {
        Evidence::ElectronicRecord { .. } => "electronic_record",
        Evidence::Document { .. } => "document",
    }
}

fn evidence_json(e: &Evidence, person: &Person, to: Recipient<'_>) -> Value {
    match e {
        Evidence::ElectronicRecord { check_method, time, .. } => {
            let mut record = json!({
                "type": "vn_population_db",
                "source": {"name": "Bộ Công an", "country_code": "VNM"},
            });
            if to.personal_number
                && let (Some(pin), Some(obj)) = (&person.personal_number, record.as_object_mut())
            {
                obj.insert("personal_number".into(), pin.as_str().into());
            }
            json!({
                "type": "electronic_record",
                "check_details": [{"check_method": check_method, "time": iso8601(*time)}],
                "record": record,
            })
        }
        Evidence::Document {
            document_type,
            document_number,
            issuer,
            date_of_issuance,
            date_of_expiry,
            check_method,
            organization,
            time,
            ..
        } => {
            let mut details = Map::new();
            details.insert("type".into(), document_type.clone().into());
            // The document number is as identifying as the personal number (a CCCD's is
            // the personal number): only clients entitled to it see it.
            if to.personal_number {
                details.insert("document_number".into(), document_number.clone().into());
            }
            details.insert("issuer".into(), json!({"name": issuer, "country": "VN"}));
            if let Some(d) = date_of_issuance {
                details.insert("date_of_issuance".into(), d.clone().into());
            }
            if let Some(d) = date_of_expiry {
                details.insert("date_of_expiry".into(), d.clone().into());
            }
            json!({
                "type": "document",
                "check_details": [{"check_method": check_method, "organization": organization, "time": iso8601(*time)}],
                "document_details": details,
            })
        }
    }
}

fn claim_value(person: &Person, name: &str, to: Recipient<'_>) -> Option<Value> {
    match name {
        "name" => person.name.clone().map(Value::from),
        "birthdate" => person.birthdate.clone().map(Value::from),
        "gender" => person.gender.clone().map(Value::from),
        "nationalities" => person.nationality.clone().map(|n| json!([n])),
        "personal_number" if to.personal_number => person.personal_number.as_ref().map(|p| p.as_str().into()),
        _ => None,
    }
}

fn verification_time(a: &Assurance) -> Option<i64> {
    a.verified_at.or(match &a.evidence {
        Some(Evidence::ElectronicRecord { time, .. } | Evidence::Document { time, .. }) => Some(*time),
        None => None,
    })
}

fn build_one(req: &VerifiedClaimsRequest, person: &Person, to: Recipient<'_>, now: i64) -> Option<Value> {
    let a = &person.assurance;
    let level = a.level.ida_name()?;
    let evidence = a.evidence.as_ref()?;
    if !req.trust_framework.accepts(TRUST_FRAMEWORK) {
        return None;
    }
    let mut verification = Map::new();
    verification.insert("trust_framework".into(), TRUST_FRAMEWORK.into());
    if let Some(c) = &req.assurance_level {
        if !c.accepts(level) {
            return None;
        }
        verification.insert("assurance_level".into(), level.into());
    }
    let time = verification_time(a);
    if let Some(TimeRequest { max_age }) = &req.time {
        let t = time?;
        if max_age.is_some_and(|m| now.saturating_sub(t) > m) {
            return None;
        }
        verification.insert("time".into(), iso8601(t).into());
    }
    if let Some(types) = &req.evidence {
        if !types.iter().any(|c| c.accepts(evidence_type(evidence))) {
            return None;
        }
        verification.insert("evidence".into(), json!([evidence_json(evidence, person, to)]));
    }
    let verified = verified_by(evidence);
    let claims: Map<String, Value> = req
        .claims
        .keys()
        .filter(|n| verified.contains(&n.as_str()) && (to.may_receive)(n))
        .filter_map(|n| claim_value(person, n, to).map(|v| (n.clone(), v)))
        .collect();
    if claims.is_empty() {
        return None;
    }
    Some(json!({"verification": verification, "claims": claims}))
}

/// The `verified_claims` value for `requests`: one object, an array when several
/// requests are met, or `None` when none is (or the person is unverified).
pub fn build(requests: &[VerifiedClaimsRequest], person: &Person, to: Recipient<'_>, now: i64) -> Option<Value> {
    if person.assurance.level == AssuranceLevel::None {
        return None;
    }
    let mut out: Vec<Value> = requests.iter().filter_map(|r| build_one(r, person, to, now)).collect();
    match out.len() {
        0 => None,
        1 => out.pop(),
        _ => Some(Value::Array(out)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::{AssuranceSource, PersonId, PersonalNumber};

    const NOW: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z

    fn record() -> Evidence {
        Evidence::ElectronicRecord { upstream: "https://vneid".into(), check_method: "vri".into(), time: NOW - 3_600 }
    }

    fn document(kind: &str) -> Evidence {
        Evidence::Document {
            document_type: kind.into(),
            document_number: "001099012345".into(),
            issuer: "Cục Cảnh sát QLHC về TTXH".into(),
            date_of_issuance: Some("2021-05-01".into()),
            date_of_expiry: None,
            check_method: "pvp".into(),
            organization: "UBND phường Phú Hội".into(),
            case_id: "case-1".into(),
            time: NOW - 86_400,
        }
    }

    fn person(level: AssuranceLevel, evidence: Option<Evidence>) -> Person {
        Person {
            name: Some("Nguyễn Văn An".into()),
            birthdate: Some("1999-01-02".into()),
            gender: Some("male".into()),
            nationality: Some("VN".into()),
            personal_number: Some(PersonalNumber::parse("001099012345", 2026).unwrap()),
            email: Some("an@example.vn".into()),
            assurance: Assurance {
                level,
                source: AssuranceSource::Upstream,
                verified_at: evidence.as_ref().map(|_| NOW - 3_600),
                evidence,
            },
            ..Person::new(PersonId("p1".into()), 1)
        }
    }

    fn req(json: &str) -> Vec<VerifiedClaimsRequest> {
        parse(&serde_json::from_str(json).unwrap(), "claims.userinfo.verified_claims").unwrap()
    }

    #[test]
    fn iso_dates() {
        for (secs, text) in [
            (0, "1970-01-01T00:00:00Z"),
            (NOW, "2026-01-01T00:00:00Z"),
            (951_782_400, "2000-02-29T00:00:00Z"),
            (1_751_360_461, "2025-07-01T09:01:01Z"),
        ] {
            assert_eq!(iso8601(secs), text, "{secs}");
        }
    }

    #[test]
    fn parse_table() {
        let ok: &[&str] = &[
            r#"{"verification":{"trust_framework":null},"claims":{"name":null}}"#,
            r#"[{"verification":{"trust_framework":{"value":"vn_nd69"}},"claims":{"name":{"essential":true,"purpose":"To open your case"}}}]"#,
            r#"{"verification":{"trust_framework":{"values":["eidas","vn_nd69"]},"time":{"max_age":3600},"evidence":[{"type":{"value":"document"}}]},"claims":{"birthdate":null}}"#,
        ];
        for j in ok {
            let r = req(j);
            assert!(!r[0].claims.is_empty(), "{j}");
        }
        let r = &req(ok[2])[0];
        assert_eq!(r.time, Some(TimeRequest { max_age: Some(3600) }));
        let text = serde_json::to_string(r).unwrap();
        assert_eq!(&serde_json::from_str::<VerifiedClaimsRequest>(&text).unwrap(), r, "round trip");
        assert_eq!(r.evidence.as_ref().unwrap()[0].values, vec!["document"]);
        assert_eq!(r.trust_framework.values, vec!["eidas", "vn_nd69"]);
        let bad: &[&str] = &[
            r#"1"#,
            r#"[]"#,
            r#"{"verification":{"trust_framework":null}}"#,
            r#"{"verification":{"trust_framework":null},"claims":{}}"#,
            r#"{"verification":{"trust_framework":null},"claims":[]}"#,
            r#"{"claims":{"name":null}}"#,
            r#"{"verification":{"trust_framework":null},"claims":{"name":{"purpose":"ab"}}}"#,
            r#"{"verification":{"trust_framework":null},"claims":{"name":{"purpose":7}}}"#,
            r#"{"verification":{"trust_framework":{"purpose":"x"}},"claims":{"name":null}}"#,
            r#"{"verification":{"trust_framework":null},"purpose":"no","claims":{"name":null}}"#,
            r#"{"verification":{"trust_framework":null},"claims":{"name":{"essential":"yes"}}}"#,
            r#"{"verification":{"trust_framework":{"values":"vn_nd69"}},"claims":{"name":null}}"#,
            r#"{"verification":{"trust_framework":null,"time":{"max_age":-1}},"claims":{"name":null}}"#,
            r#"{"verification":{"trust_framework":null,"evidence":{"type":null}},"claims":{"name":null}}"#,
            r#"{"verification":{"trust_framework":null},"claims":{"name":1}}"#,
        ];
        for j in bad {
            let v: Value = serde_json::from_str(j).unwrap();
            let e = parse(&v, "x").unwrap_err();
            assert_eq!(e.code, crate::protocol::ErrorCode::InvalidRequest, "{j}");
        }
        let long = format!(
            r#"{{"verification":{{"trust_framework":null}},"claims":{{"name":{{"purpose":"{}"}}}}}}"#,
            "a".repeat(301)
        );
        assert!(parse(&serde_json::from_str(&long).unwrap(), "x").is_err());
    }

    #[test]
    fn build_table() {
        let all = |_: &str| true;
        let entitled = Recipient { personal_number: true, may_receive: &all };
        let plain = Recipient { personal_number: false, may_receive: &all };
        let no_birthdate = |c: &str| c != "birthdate";
        let filtered = Recipient { personal_number: true, may_receive: &no_birthdate };
        let base = r#"{"verification":{"trust_framework":null},"claims":{"name":null,"birthdate":null,"personal_number":null,"email":null}}"#;
        let l2_record = person(AssuranceLevel::Level2, Some(record()));
        // (case, person, request, recipient, expected claim names or None)
        type Case<'a> = (&'a str, Person, &'a str, Recipient<'a>, Option<Vec<&'a str>>);
        let cases: Vec<Case<'_>> = vec![
            ("unverified", person(AssuranceLevel::None, Some(record())), base, entitled, None),
            ("no evidence", person(AssuranceLevel::Level1, None), base, entitled, None),
            ("entitled", l2_record.clone(), base, entitled, Some(vec!["birthdate", "name", "personal_number"])),
            ("not entitled", l2_record.clone(), base, plain, Some(vec!["birthdate", "name"])),
            ("allow-list", l2_record.clone(), base, filtered, Some(vec!["name", "personal_number"])),
            (
                "framework mismatch",
                l2_record.clone(),
                r#"{"verification":{"trust_framework":{"value":"eidas"}},"claims":{"name":null}}"#,
                entitled,
                None,
            ),
            (
                "level mismatch",
                person(AssuranceLevel::Level1, Some(record())),
                r#"{"verification":{"trust_framework":null,"assurance_level":{"value":"level2"}},"claims":{"name":null}}"#,
                entitled,
                None,
            ),
            (
                "too old",
                l2_record.clone(),
                r#"{"verification":{"trust_framework":null,"time":{"max_age":60}},"claims":{"name":null}}"#,
                entitled,
                None,
            ),
            (
                "fresh enough",
                l2_record.clone(),
                r#"{"verification":{"trust_framework":null,"time":{"max_age":7200}},"claims":{"name":null}}"#,
                entitled,
                Some(vec!["name"]),
            ),
            (
                "evidence type mismatch",
                l2_record.clone(),
                r#"{"verification":{"trust_framework":null,"evidence":[{"type":{"value":"document"}}]},"claims":{"name":null}}"#,
                entitled,
                None,
            ),
            (
                "only unverifiable claims",
                l2_record.clone(),
                r#"{"verification":{"trust_framework":null},"claims":{"email":null,"address":null}}"#,
                entitled,
                None,
            ),
            (
                "passport verifies no personal number",
                person(AssuranceLevel::Level2, Some(document("passport"))),
                base,
                entitled,
                Some(vec!["birthdate", "name"]),
            ),
        ];
        for (what, p, r, to, expected) in cases {
            let got = build(&req(r), &p, to, NOW);
            match expected {
                None => assert!(got.is_none(), "{what}: {got:?}"),
                Some(names) => {
                    let got = got.unwrap_or_else(|| panic!("{what}: nothing"));
                    let keys: Vec<&str> = got["claims"].as_object().unwrap().keys().map(String::as_str).collect();
                    assert_eq!(keys, names, "{what}");
                    assert_eq!(got["verification"]["trust_framework"], TRUST_FRAMEWORK, "{what}");
                }
            }
        }
    }

    #[test]
    fn verification_elements_are_those_requested() {
        let all = |_: &str| true;
        let to = Recipient { personal_number: false, may_receive: &all };
        let p = person(AssuranceLevel::Level2, Some(record()));
        let minimal =
            build(&req(r#"{"verification":{"trust_framework":null},"claims":{"name":null}}"#), &p, to, NOW).unwrap();
        assert_eq!(minimal["verification"], json!({"trust_framework": "vn_nd69"}));
        let full = build(
            &req(r#"{"verification":{"trust_framework":null,"assurance_level":null,"time":null,"evidence":[{"type":null}]},"claims":{"name":null,"nationalities":null,"gender":null}}"#),
            &p,
            to,
            NOW,
        )
        .unwrap();
        let v = &full["verification"];
        assert_eq!(v["assurance_level"], "level2");
        assert_eq!(v["time"], "2025-12-31T23:00:00Z");
        let e = &v["evidence"][0];
        assert_eq!(e["type"], "electronic_record");
        assert_eq!(
            e["record"],
            json!({"type": "vn_population_db", "source": {"name": "Bộ Công an", "country_code": "VNM"}})
        );
        assert_eq!(e["check_details"][0], json!({"check_method": "vri", "time": "2025-12-31T23:00:00Z"}));
        assert_eq!(full["claims"], json!({"name": "Nguyễn Văn An", "nationalities": ["VN"], "gender": "male"}));
    }

    #[test]
    fn document_evidence_hides_the_number_from_clients_not_entitled() {
        let all = |_: &str| true;
        let p = person(AssuranceLevel::Level2, Some(document("vn_the_can_cuoc")));
        let r = req(
            r#"{"verification":{"trust_framework":null,"evidence":[{"type":{"value":"document"}}]},"claims":{"name":null}}"#,
        );
        for entitled in [false, true] {
            let to = Recipient { personal_number: entitled, may_receive: &all };
            let got = build(&r, &p, to, NOW).unwrap();
            let e = &got["verification"]["evidence"][0];
            assert_eq!(e["type"], "document");
            assert_eq!(e["document_details"]["type"], "vn_the_can_cuoc");
            assert_eq!(e["document_details"]["issuer"]["country"], "VN");
            assert_eq!(e["check_details"][0]["organization"], "UBND phường Phú Hội");
            assert_eq!(e["document_details"].get("document_number").is_some(), entitled);
            assert!(!got.to_string().contains("001099012345") || entitled);
        }
    }

    #[test]
    fn several_requests_give_an_array_of_those_met() {
        let all = |_: &str| true;
        let to = Recipient { personal_number: false, may_receive: &all };
        let p = person(AssuranceLevel::Level1, Some(record()));
        let r = req(r#"[{"verification":{"trust_framework":null},"claims":{"name":null}},
            {"verification":{"trust_framework":{"value":"eidas"}},"claims":{"name":null}},
            {"verification":{"trust_framework":null},"claims":{"birthdate":null}}]"#);
        let got = build(&r, &p, to, NOW).unwrap();
        assert_eq!(got.as_array().unwrap().len(), 2);
    }
}
