//! Claim mapping profiles between us and the national e-ID (DOMAIN §1.5), in both
//! directions. Pure: claims JSON in, typed values out.
//!
//! Upstream → us: [`map_claims`] reads an upstream's ID token and userinfo claims into an
//! [`UpstreamIdentity`] under the `national_portal` profile (the portal's Vietnamese
//! claim names: `SoDinhDanh`, `HoVaTen`, `NgayThangNamSinh`, …) or the standard `oidc`
//! profile. Anything unusable in a claim that identifies the person (personal number,
//! birth date, account type) refuses the sign-in; nothing half-mapped is kept.
//!
//! Us → downstream: [`national_portal_claims`] builds the same claim names from a
//! [`Person`], for clients registered with `"claim_profile": "national_portal"`, so an
//! existing provincial system can switch its issuer to us without code changes.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::identity::{AssuranceLevel, Person, PersonalNumber};
use crate::protocol::acr;

/// How an upstream names its claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpstreamProfile {
    /// Standard OpenID Connect claims (`name`, `birthdate`, `gender`, …).
    Oidc,
    /// The national public-service portal's claims (`SoDinhDanh`, `HoVaTen`, …).
    NationalPortal,
}

/// Which claim names a downstream client receives (client metadata `claim_profile`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimProfile {
    /// Standard OpenID Connect claims only.
    #[default]
    Standard,
    /// Additionally the national portal's claim names (see [`national_portal_claims`]).
    NationalPortal,
}

impl ClaimProfile {
    /// Parses the metadata value.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "standard" => Some(Self::Standard),
            "national_portal" => Some(Self::NationalPortal),
            _ => None,
        }
    }

    /// The metadata value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Standard => "standard",
            Self::NationalPortal => "national_portal",
        }
    }
}

/// `LoaiTaiKhoan`: who the upstream account belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountType {
    /// "1": a citizen.
    Citizen,
    /// "2": an enterprise.
    Enterprise,
    /// "3": another organisation.
    Organisation,
}

/// Who the upstream says signed in, typed and validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamIdentity {
    /// The upstream issuer.
    pub issuer: String,
    /// The upstream `sub`.
    pub subject: String,
    /// `SoDinhDanh` (validated).
    pub personal_number: Option<PersonalNumber>,
    /// `SoCMND`: the legacy 9/12-digit identity card number, as given.
    pub legacy_number: Option<String>,
    /// `HoVaTen` / `name`.
    pub name: Option<String>,
    /// `YYYY-MM-DD`.
    pub birthdate: Option<String>,
    /// `male` / `female`.
    pub gender: Option<String>,
    /// `QuocTich` / `nationality`, as given.
    pub nationality: Option<String>,
    /// `ThuDienTu` / `email`.
    pub email: Option<String>,
    /// `SoDienThoai` / `phone_number`.
    pub phone: Option<String>,
    /// `ThuongTru`, else `DiaChi`.
    pub address: Option<String>,
    /// `LoaiTaiKhoan`.
    pub account_type: AccountType,
    /// `MaSoThue`.
    pub tax_code: Option<String>,
    /// `TenDoanhNghiep`.
    pub organisation_name: Option<String>,
    /// `TechID`.
    pub tech_id: Option<String>,
    /// The identity assurance level the upstream vouches for (`IAL`, else `loAs`, else
    /// `acr`); `None` when it states none.
    pub level: Option<AssuranceLevel>,
    /// Authentication methods the upstream reported (`amr`).
    pub amr: Vec<String>,
}

/// Why upstream claims cannot be used. Messages never carry the claim's value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    /// No `sub`.
    #[error("the upstream gave no subject")]
    NoSubject,
    /// The personal number is not valid.
    #[error("the upstream personal number (SoDinhDanh) is not valid: {0}")]
    PersonalNumber(String),
    /// The birth date is not a date.
    #[error("the upstream birth date is not a valid date")]
    Birthdate,
    /// An account type we do not know.
    #[error("the upstream account type (LoaiTaiKhoan) is unknown")]
    AccountType,
}

/// A claim as trimmed text (strings and numbers), `None` when absent or empty.
fn text(c: &Map<String, Value>, key: &str) -> Option<String> {
    let s = match c.get(key)? {
        Value::String(s) => s.trim().to_owned(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    (!s.is_empty()).then_some(s)
}

fn leap(y: u32) -> bool {
    (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400)
}

/// `YYYYMMDD` (the portal) or `YYYY-MM-DD` (OIDC) → `YYYY-MM-DD`, checked as a date.
pub fn parse_birthdate(raw: &str) -> Option<String> {
    let digits: String = match raw.len() {
        8 => raw.to_owned(),
        10 if raw.as_bytes()[4] == b'-' && raw.as_bytes()[7] == b'-' => raw.replace('-', ""),
        _ => return None,
    };
    if digits.len() != 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let y: u32 = digits[0..4].parse().ok()?;
    let m: u32 = digits[4..6].parse().ok()?;
    let d: u32 = digits[6..8].parse().ok()?;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap(y) => 29,
        2 => 28,
        _ => return None,
    };
    if !(1800..=9999).contains(&y) || d == 0 || d > days {
        return None;
    }
    Some(format!("{y:04}-{m:02}-{d:02}"))
}

/// The forms the portal uses for `GioiTinh` (and OIDC `gender`) → `male` / `female`.
pub fn parse_gender(raw: &str) -> Option<&'static str> {
    match raw.trim().to_lowercase().as_str() {
        "nam" | "1" | "m" | "male" => Some("male"),
        "nữ" | "nu" | "0" | "f" | "female" => Some("female"),
        _ => None,
    }
}

fn level_of(c: &Map<String, Value>, profile: UpstreamProfile) -> Option<AssuranceLevel> {
    let from_n = |n: &str| match n {
        "1" => Some(AssuranceLevel::Level1),
        "2" => Some(AssuranceLevel::Level2),
        _ => None,
    };
    let from_acr = |v: &str| match acr::canonical(v) {
        Some(acr::EID_LOA1) => Some(AssuranceLevel::Level1),
        Some(acr::EID_LOA2 | acr::EID_LOA2_FRESH) => Some(AssuranceLevel::Level2),
        _ => None,
    };
    if profile == UpstreamProfile::NationalPortal {
        if let Some(l) = text(c, "IAL").and_then(|v| from_n(&v)) {
            return Some(l);
        }
        // `loAs` is a string, or a list of which the highest counts.
        let loas = match c.get("loAs") {
            Some(Value::Array(a)) => a.iter().filter_map(|v| v.as_str()).filter_map(from_acr).max(),
            Some(Value::String(s)) => from_acr(s.trim()),
            _ => None,
        };
        if loas.is_some() {
            return loas;
        }
    }
    text(c, "acr").and_then(|v| from_acr(&v))
}

/// Maps upstream claims (ID token claims merged with userinfo) under `profile`.
/// `current_year` bounds the personal number's birth year.
pub fn map_claims(
    profile: UpstreamProfile,
    issuer: &str,
    c: &Map<String, Value>,
    current_year: i32,
) -> Result<UpstreamIdentity, MappingError> {
    let subject = text(c, "sub").ok_or(MappingError::NoSubject)?;
    let portal = profile == UpstreamProfile::NationalPortal;
    let pick = |portal_name: &str, oidc_name: &str| if portal { text(c, portal_name) } else { text(c, oidc_name) };
    let personal_number = pick("SoDinhDanh", "vn_pin")
        .map(|p| PersonalNumber::parse(&p, current_year).map_err(|e| MappingError::PersonalNumber(e.to_string())))
        .transpose()?;
    let birthdate = match pick("NgayThangNamSinh", "birthdate") {
        Some(raw) => Some(parse_birthdate(&raw).ok_or(MappingError::Birthdate)?),
        None => None,
    };
    let account_type = if portal {
        match text(c, "LoaiTaiKhoan").as_deref() {
            None | Some("1") => AccountType::Citizen,
            Some("2") => AccountType::Enterprise,
            Some("3") => AccountType::Organisation,
            Some(_) => return Err(MappingError::AccountType),
        }
    } else {
        AccountType::Citizen
    };
    let address = if portal {
        text(c, "ThuongTru").or_else(|| text(c, "DiaChi"))
    } else {
        match c.get("address") {
            Some(Value::Object(a)) => a.get("formatted").and_then(Value::as_str).map(str::to_owned),
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
            _ => None,
        }
    };
    let amr = match c.get("amr") {
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        _ => Vec::new(),
    };
    Ok(UpstreamIdentity {
        issuer: issuer.to_owned(),
        subject,
        personal_number,
        legacy_number: if portal { text(c, "SoCMND") } else { None },
        name: pick("HoVaTen", "name"),
        birthdate,
        gender: pick("GioiTinh", "gender").and_then(|g| parse_gender(&g)).map(str::to_owned),
        nationality: pick("QuocTich", "nationality"),
        email: pick("ThuDienTu", "email"),
        phone: pick("SoDienThoai", "phone_number"),
        address,
        account_type,
        tax_code: if portal { text(c, "MaSoThue") } else { None },
        organisation_name: if portal { text(c, "TenDoanhNghiep") } else { None },
        tech_id: if portal { text(c, "TechID") } else { None },
        level: level_of(c, profile),
        amr,
    })
}

/// The national portal's claims for `person`, as a downstream client with the
/// `national_portal` claim profile receives them. `sub` is the client's subject (also
/// `TechID`); `SoDinhDanh` only when `pin_allowed` (the `vn_pin` scope was granted).
pub fn national_portal_claims(person: &Person, sub: &str, pin_allowed: bool) -> Map<String, Value> {
    let mut m = Map::new();
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            m.insert(k.to_owned(), Value::String(v));
        }
    };
    put("LoaiTaiKhoan", Some("1".into()));
    put("TechID", Some(sub.to_owned()));
    if pin_allowed {
        put("SoDinhDanh", person.personal_number.as_ref().map(|p| p.as_str().to_owned()));
    }
    put("HoVaTen", person.name.clone());
    put("NgayThangNamSinh", person.birthdate.as_ref().map(|b| b.replace('-', "")));
    put(
        "GioiTinh",
        person.gender.as_deref().and_then(|g| match g {
            "male" => Some("Nam".to_owned()),
            "female" => Some("Nữ".to_owned()),
            _ => None,
        }),
    );
    put("QuocTich", person.nationality.clone());
    put("ThuDienTu", person.email.clone());
    put("SoDienThoai", person.phone.clone());
    put("ThuongTru", person.address.clone());
    let level = person.assurance.level;
    if level != AssuranceLevel::None {
        m.insert("IAL".into(), Value::from(level.as_i64()));
        let loa = if level == AssuranceLevel::Level2 { "LoA2" } else { "LoA1" };
        m.insert("loAs".into(), Value::String(loa.into()));
    }
    m
}

/// Clock skew tolerated on an upstream ID token's times (s).
pub const ID_TOKEN_LEEWAY: i64 = 60;

/// What an upstream ID token must say (OIDC Core §3.1.3.7).
#[derive(Debug, Clone, Copy)]
pub struct IdTokenRules<'a> {
    /// The upstream's exact issuer.
    pub issuer: &'a str,
    /// Our client id there.
    pub client_id: &'a str,
    /// The nonce we sent.
    pub nonce: &'a str,
    /// The request clock.
    pub now: i64,
}

/// Why an upstream ID token is refused (messages name the check, never a value).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdTokenError {
    /// The signature (or algorithm, or key) failed.
    #[error("{0}")]
    Signature(String),
    /// `iss` is not the upstream's issuer.
    #[error("the ID token issuer is not the upstream's")]
    Issuer,
    /// `aud` does not contain our client id, or `azp` names another party.
    #[error("the ID token is not meant for us")]
    Audience,
    /// Expired, not yet valid, or issued in the future.
    #[error("the ID token is expired or not yet valid")]
    Time,
    /// `nonce` is not the one we sent.
    #[error("the ID token nonce does not match")]
    Nonce,
    /// No `sub`.
    #[error("the ID token has no subject")]
    Subject,
}

/// Checks an upstream ID token's claims (after its signature).
pub fn check_id_token_claims(c: &Map<String, Value>, rules: &IdTokenRules<'_>) -> Result<(), IdTokenError> {
    if c.get("iss").and_then(Value::as_str) != Some(rules.issuer) {
        return Err(IdTokenError::Issuer);
    }
    let aud_ok = match c.get("aud") {
        Some(Value::String(a)) => a == rules.client_id,
        Some(Value::Array(a)) => a.iter().any(|x| x.as_str() == Some(rules.client_id)),
        _ => false,
    };
    let multiple = matches!(c.get("aud"), Some(Value::Array(a)) if a.len() > 1);
    let azp = c.get("azp").and_then(Value::as_str);
    if !aud_ok || azp.is_some_and(|a| a != rules.client_id) || (multiple && azp.is_none()) {
        return Err(IdTokenError::Audience);
    }
    let int = |k: &str| c.get(k).and_then(Value::as_i64);
    let Some(exp) = int("exp") else { return Err(IdTokenError::Time) };
    let Some(iat) = int("iat") else { return Err(IdTokenError::Time) };
    if exp + ID_TOKEN_LEEWAY <= rules.now || iat - ID_TOKEN_LEEWAY > rules.now {
        return Err(IdTokenError::Time);
    }
    if int("nbf").is_some_and(|nbf| nbf - ID_TOKEN_LEEWAY > rules.now) {
        return Err(IdTokenError::Time);
    }
    let nonce_ok = c.get("nonce").and_then(Value::as_str).is_some_and(|n| {
        n.len() == rules.nonce.len() && subtle::ConstantTimeEq::ct_eq(n.as_bytes(), rules.nonce.as_bytes()).into()
    });
    if !nonce_ok {
        return Err(IdTokenError::Nonce);
    }
    if c.get("sub").and_then(Value::as_str).is_none_or(str::is_empty) {
        return Err(IdTokenError::Subject);
    }
    Ok(())
}

/// The Back-Channel Logout event (OIDC Back-Channel Logout 1.0 §2.4).
pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// How old a logout token may be (`iat`), seconds.
pub const LOGOUT_TOKEN_MAX_AGE: i64 = 300;

/// Why an upstream logout token is refused (messages name the check, never a value).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogoutTokenError {
    /// The signature (or algorithm, or key) failed.
    #[error("{0}")]
    Signature(String),
    /// `iss` is not the upstream's issuer.
    #[error("the logout token issuer is not the upstream's")]
    Issuer,
    /// `aud` does not contain our client id.
    #[error("the logout token is not meant for us")]
    Audience,
    /// No `iat`, too old, issued in the future, or expired.
    #[error("the logout token is too old, expired or not yet valid")]
    Time,
    /// No `jti`.
    #[error("the logout token has no jti")]
    Id,
    /// `events` lacks the back-channel logout event.
    #[error("the logout token is not a back-channel logout event")]
    Event,
    /// A `nonce` (forbidden in logout tokens, so an ID token cannot pass as one).
    #[error("the logout token carries a nonce")]
    Nonce,
    /// Neither `sid` nor `sub`.
    #[error("the logout token names neither a session nor a subject")]
    Subject,
}

/// What a valid logout token asks to end: the upstream session, or every session of the
/// upstream subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutRequest {
    /// `sid`.
    pub sid: Option<String>,
    /// `sub`.
    pub sub: Option<String>,
    /// `jti`, for replay detection.
    pub jti: String,
}

/// Checks an upstream logout token's claims (after its signature), as OIDC Back-Channel
/// Logout 1.0 §2.6 asks of a relying party: `iss`, `aud`, `iat` (and `exp` when present),
/// `jti`, the event, no `nonce`, and `sid` or `sub`.
pub fn check_logout_token_claims(
    c: &Map<String, Value>,
    issuer: &str,
    client_id: &str,
    now: i64,
) -> Result<LogoutRequest, LogoutTokenError> {
    if c.get("iss").and_then(Value::as_str) != Some(issuer) {
        return Err(LogoutTokenError::Issuer);
    }
    let aud_ok = match c.get("aud") {
        Some(Value::String(a)) => a == client_id,
        Some(Value::Array(a)) => a.iter().any(|x| x.as_str() == Some(client_id)),
        _ => false,
    };
    if !aud_ok {
        return Err(LogoutTokenError::Audience);
    }
    let int = |k: &str| c.get(k).and_then(Value::as_i64);
    let Some(iat) = int("iat") else { return Err(LogoutTokenError::Time) };
    if iat - ID_TOKEN_LEEWAY > now || iat + LOGOUT_TOKEN_MAX_AGE < now {
        return Err(LogoutTokenError::Time);
    }
    if int("exp").is_some_and(|exp| exp + ID_TOKEN_LEEWAY <= now) {
        return Err(LogoutTokenError::Time);
    }
    let jti = c.get("jti").and_then(Value::as_str).filter(|j| !j.is_empty()).ok_or(LogoutTokenError::Id)?;
    if !c.get("events").and_then(|e| e.get(BACKCHANNEL_LOGOUT_EVENT)).is_some_and(Value::is_object) {
        return Err(LogoutTokenError::Event);
    }
    if c.contains_key("nonce") {
        return Err(LogoutTokenError::Nonce);
    }
    let text = |k: &str| c.get(k).and_then(Value::as_str).filter(|v| !v.is_empty()).map(str::to_owned);
    let (sid, sub) = (text("sid"), text("sub"));
    if sid.is_none() && sub.is_none() {
        return Err(LogoutTokenError::Subject);
    }
    Ok(LogoutRequest { sid, sub, jti: jti.to_owned() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::PersonId;

    #[test]
    fn logout_tokens_are_checked_as_the_spec_asks() {
        let now = 1_800_000_000;
        let good = json!({
            "iss": "https://up", "aud": ["broker", "other"], "iat": now - 5, "jti": "j1", "sid": "s1",
            "events": { BACKCHANNEL_LOGOUT_EVENT: {} },
        });
        let got = check_logout_token_claims(&obj(good.clone()), "https://up", "broker", now).unwrap();
        assert_eq!((got.sid.as_deref(), got.sub, got.jti.as_str()), (Some("s1"), None, "j1"));
        let with = |k: &str, v: Value| {
            let mut c = obj(good.clone());
            if v.is_null() {
                c.remove(k);
            } else {
                c.insert(k.into(), v);
            }
            check_logout_token_claims(&c, "https://up", "broker", now)
        };
        use LogoutTokenError::*;
        assert_eq!(with("iss", json!("https://evil")), Err(Issuer));
        assert_eq!(with("aud", json!("someone")), Err(Audience));
        assert_eq!(with("iat", Value::Null), Err(Time));
        assert_eq!(with("iat", json!(now - LOGOUT_TOKEN_MAX_AGE - 1)), Err(Time));
        assert_eq!(with("iat", json!(now + ID_TOKEN_LEEWAY + 1)), Err(Time));
        assert_eq!(with("exp", json!(now - ID_TOKEN_LEEWAY)), Err(Time));
        assert_eq!(with("jti", Value::Null), Err(Id));
        assert_eq!(with("events", json!({"other": {}})), Err(Event));
        assert_eq!(with("events", json!({ BACKCHANNEL_LOGOUT_EVENT: "yes" })), Err(Event));
        assert_eq!(with("nonce", json!("n")), Err(Nonce));
        assert_eq!(with("sid", Value::Null), Err(Subject));
        let by_subject = with("sub", json!("u-1")).unwrap();
        assert_eq!((by_subject.sid.as_deref(), by_subject.sub.as_deref()), (Some("s1"), Some("u-1")));
    }
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    /// A realistic portal userinfo answer (values invented).
    fn portal() -> Value {
        json!({
            "sub": "a1b2c3", "LoaiTaiKhoan": "1", "SoDinhDanh": "001099012345", "SoCMND": "012345678",
            "HoVaTen": "Nguyễn Văn An", "NgayThangNamSinh": "19990215", "GioiTinh": "Nam",
            "QuocTich": "VN", "ThuongTru": "Số 1 Tràng Tiền, Hoàn Kiếm, Hà Nội", "DiaChi": "khác",
            "ThuDienTu": "an@example.vn", "SoDienThoai": "0901234567", "TechID": "tech-42",
            "loAs": "LoA1", "IAL": 2, "TrangThai": "1"
        })
    }

    #[test]
    fn portal_claims_map_to_a_typed_identity() {
        let id = map_claims(UpstreamProfile::NationalPortal, "https://up", &obj(portal()), 2026).unwrap();
        assert_eq!(id.subject, "a1b2c3");
        assert_eq!(id.personal_number.as_ref().unwrap().as_str(), "001099012345");
        assert_eq!(id.legacy_number.as_deref(), Some("012345678"));
        assert_eq!(id.name.as_deref(), Some("Nguyễn Văn An"));
        assert_eq!(id.birthdate.as_deref(), Some("1999-02-15"));
        assert_eq!(id.gender.as_deref(), Some("male"));
        assert_eq!(id.address.as_deref(), Some("Số 1 Tràng Tiền, Hoàn Kiếm, Hà Nội"), "ThuongTru before DiaChi");
        assert_eq!(id.account_type, AccountType::Citizen);
        assert_eq!(id.tech_id.as_deref(), Some("tech-42"));
        assert_eq!(id.level, Some(AssuranceLevel::Level2), "IAL wins over loAs");
    }

    #[test]
    fn table_of_claim_sets() {
        type Check = fn(&Result<UpstreamIdentity, MappingError>) -> bool;
        let cases: Vec<(&str, Value, UpstreamProfile, Check)> = vec![
            ("loAs when no IAL", json!({"sub": "s", "loAs": "LoA2"}), UpstreamProfile::NationalPortal, |r| {
                r.as_ref().unwrap().level == Some(AssuranceLevel::Level2)
            }),
            ("loAs list", json!({"sub": "s", "loAs": ["LoA1", "LoA2"]}), UpstreamProfile::NationalPortal, |r| {
                r.as_ref().unwrap().level == Some(AssuranceLevel::Level2)
            }),
            ("acr last", json!({"sub": "s", "acr": "LoA1"}), UpstreamProfile::NationalPortal, |r| {
                r.as_ref().unwrap().level == Some(AssuranceLevel::Level1)
            }),
            ("IAL as text", json!({"sub": "s", "IAL": "1"}), UpstreamProfile::NationalPortal, |r| {
                r.as_ref().unwrap().level == Some(AssuranceLevel::Level1)
            }),
            ("no level", json!({"sub": "s", "IAL": 7}), UpstreamProfile::NationalPortal, |r| {
                r.as_ref().unwrap().level.is_none()
            }),
            ("female Nữ", json!({"sub": "s", "GioiTinh": "Nữ"}), UpstreamProfile::NationalPortal, |r| {
                r.as_ref().unwrap().gender.as_deref() == Some("female")
            }),
            ("female 0", json!({"sub": "s", "GioiTinh": "0"}), UpstreamProfile::NationalPortal, |r| {
                r.as_ref().unwrap().gender.as_deref() == Some("female")
            }),
            ("male M", json!({"sub": "s", "GioiTinh": "M"}), UpstreamProfile::NationalPortal, |r| {
                r.as_ref().unwrap().gender.as_deref() == Some("male")
            }),
            ("odd gender dropped", json!({"sub": "s", "GioiTinh": "?"}), UpstreamProfile::NationalPortal, |r| {
                r.as_ref().unwrap().gender.is_none()
            }),
            ("DiaChi fallback", json!({"sub": "s", "DiaChi": "Huế"}), UpstreamProfile::NationalPortal, |r| {
                r.as_ref().unwrap().address.as_deref() == Some("Huế")
            }),
            (
                "enterprise",
                json!({"sub": "s", "LoaiTaiKhoan": 2, "MaSoThue": "0100109106", "TenDoanhNghiep": "Công ty A"}),
                UpstreamProfile::NationalPortal,
                |r| {
                    let i = r.as_ref().unwrap();
                    i.account_type == AccountType::Enterprise
                        && i.tax_code.as_deref() == Some("0100109106")
                        && i.organisation_name.as_deref() == Some("Công ty A")
                },
            ),
            ("organisation", json!({"sub": "s", "LoaiTaiKhoan": "3"}), UpstreamProfile::NationalPortal, |r| {
                r.as_ref().unwrap().account_type == AccountType::Organisation
            }),
            ("bad type", json!({"sub": "s", "LoaiTaiKhoan": "9"}), UpstreamProfile::NationalPortal, |r| {
                *r == Err(MappingError::AccountType)
            }),
            ("no sub", json!({"HoVaTen": "A"}), UpstreamProfile::NationalPortal, |r| {
                *r == Err(MappingError::NoSubject)
            }),
            ("short PIN", json!({"sub": "s", "SoDinhDanh": "12345"}), UpstreamProfile::NationalPortal, |r| {
                matches!(r, Err(MappingError::PersonalNumber(_)))
            }),
            ("bad province", json!({"sub": "s", "SoDinhDanh": "999099012345"}), UpstreamProfile::NationalPortal, |r| {
                matches!(r, Err(MappingError::PersonalNumber(_)))
            }),
            ("31 Feb", json!({"sub": "s", "NgayThangNamSinh": "19990231"}), UpstreamProfile::NationalPortal, |r| {
                *r == Err(MappingError::Birthdate)
            }),
            ("month 13", json!({"sub": "s", "NgayThangNamSinh": "19991301"}), UpstreamProfile::NationalPortal, |r| {
                *r == Err(MappingError::Birthdate)
            }),
            (
                "29 Feb leap",
                json!({"sub": "s", "NgayThangNamSinh": "20000229"}),
                UpstreamProfile::NationalPortal,
                |r| r.as_ref().unwrap().birthdate.as_deref() == Some("2000-02-29"),
            ),
            (
                "standard oidc",
                json!({"sub": "s", "name": "Trần Thị B", "birthdate": "1985-12-01", "gender": "female",
                       "email": "b@example.vn", "phone_number": "+84900000000", "acr": "urn:vn:eid:loa:2",
                       "address": {"formatted": "Đà Nẵng"}, "vn_pin": "048185000123", "HoVaTen": "ignored"}),
                UpstreamProfile::Oidc,
                |r| {
                    let i = r.as_ref().unwrap();
                    i.name.as_deref() == Some("Trần Thị B")
                        && i.birthdate.as_deref() == Some("1985-12-01")
                        && i.gender.as_deref() == Some("female")
                        && i.phone.as_deref() == Some("+84900000000")
                        && i.address.as_deref() == Some("Đà Nẵng")
                        && i.personal_number.is_some()
                        && i.level == Some(AssuranceLevel::Level2)
                },
            ),
            ("oidc ignores IAL", json!({"sub": "s", "IAL": 2}), UpstreamProfile::Oidc, |r| {
                r.as_ref().unwrap().level.is_none()
            }),
            ("oidc bad birthdate", json!({"sub": "s", "birthdate": "1.1.1990"}), UpstreamProfile::Oidc, |r| {
                *r == Err(MappingError::Birthdate)
            }),
        ];
        for (name, claims, profile, check) in cases {
            let r = map_claims(profile, "https://up", &obj(claims), 2026);
            assert!(check(&r), "{name}: {r:?}");
        }
    }

    #[test]
    fn errors_never_carry_the_number() {
        let r = map_claims(
            UpstreamProfile::NationalPortal,
            "u",
            &obj(json!({"sub": "s", "SoDinhDanh": "999099012345"})),
            2026,
        );
        assert!(!r.unwrap_err().to_string().contains("999099012345"));
    }

    #[test]
    fn reverse_profile_round_trips_through_the_mapping() {
        let mut p = Person::new(PersonId("p".into()), 0);
        p.name = Some("Nguyễn Văn An".into());
        p.birthdate = Some("1999-02-15".into());
        p.gender = Some("female".into());
        p.personal_number = Some(PersonalNumber::parse("001099012345", 2026).unwrap());
        p.assurance.level = AssuranceLevel::Level2;
        let without = national_portal_claims(&p, "sub-1", false);
        assert!(!without.contains_key("SoDinhDanh"), "no vn_pin, no personal number");
        assert_eq!(without["NgayThangNamSinh"], "19990215");
        assert_eq!(without["TechID"], "sub-1");
        assert_eq!(without["IAL"], 2);
        assert_eq!(without["loAs"], "LoA2");
        let mut with = national_portal_claims(&p, "sub-1", true);
        with.insert("sub".into(), "sub-1".into());
        let back = map_claims(UpstreamProfile::NationalPortal, "https://up", &with, 2026).unwrap();
        assert_eq!(back.personal_number, p.personal_number);
        assert_eq!(back.birthdate, p.birthdate);
        assert_eq!(back.gender, p.gender);
        assert_eq!(back.level, Some(AssuranceLevel::Level2));
        let none = national_portal_claims(&Person::new(PersonId("q".into()), 0), "s", true);
        assert!(!none.contains_key("IAL") && !none.contains_key("loAs"));
    }
}
