//! Client assertions (RFC 7523 §3, OIDC Core §9 `private_key_jwt`): the claim rules, with
//! `now` passed in. The signature is `crypto::assertion`'s business; single use of `jti`
//! is the flow's (it needs the shared ephemeral store).

use serde_json::Value;

use super::error::{ErrorCode, OAuthError};

/// RFC 7523 §2.2: the only `client_assertion_type`.
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Longest accepted assertion lifetime ahead of `now` (s).
pub const MAX_LIFETIME: i64 = 600;
/// Clock skew tolerated (s).
pub const LEEWAY: i64 = 30;

fn invalid(msg: &str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidClient, msg)
}

/// Checks the claims of a verified assertion from `client_id`; `audiences` are the values
/// accepted in `aud` (the issuer and the endpoint URL). Returns `(jti, exp)`.
pub fn check_claims(
    claims: &Value,
    client_id: &str,
    audiences: &[&str],
    now: i64,
) -> Result<(String, i64), OAuthError> {
    if claims["iss"].as_str() != Some(client_id) || claims["sub"].as_str() != Some(client_id) {
        return Err(invalid("the assertion's iss and sub must be the client_id"));
    }
    let aud_ok = match &claims["aud"] {
        Value::String(a) => audiences.contains(&a.as_str()),
        Value::Array(list) => list.iter().filter_map(Value::as_str).any(|a| audiences.contains(&a)),
        _ => false,
    };
    if !aud_ok {
        return Err(invalid("the assertion's aud must name this server"));
    }
    let exp = claims["exp"].as_i64().ok_or_else(|| invalid("the assertion has no exp"))?;
    if exp + LEEWAY <= now {
        return Err(invalid("the assertion has expired"));
    }
    if exp > now + MAX_LIFETIME {
        return Err(invalid("the assertion lives too long"));
    }
    if claims["nbf"].as_i64().is_some_and(|nbf| nbf > now + LEEWAY)
        || claims["iat"].as_i64().is_some_and(|iat| iat > now + LEEWAY)
    {
        return Err(invalid("the assertion is not valid yet"));
    }
    let jti = claims["jti"]
        .as_str()
        .filter(|j| !j.is_empty() && j.len() <= 256)
        .ok_or_else(|| invalid("the assertion needs a jti"))?;
    Ok((jti.to_owned(), exp))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_000_000;
    const AUD: &[&str] = &["https://id.tinh.gov.vn", "https://id.tinh.gov.vn/token"];

    fn base() -> Value {
        json!({"iss": "rp", "sub": "rp", "aud": "https://id.tinh.gov.vn/token", "exp": NOW + 60, "jti": "j1"})
    }

    #[test]
    fn claim_rules() {
        let cases: Vec<(&str, Value, bool)> = vec![
            ("valid", base(), true),
            ("issuer as aud", json!({"aud": "https://id.tinh.gov.vn"}), true),
            ("aud array", json!({"aud": ["x", "https://id.tinh.gov.vn"]}), true),
            ("wrong aud", json!({"aud": "https://evil.vn"}), false),
            ("other iss", json!({"iss": "other"}), false),
            ("other sub", json!({"sub": "other"}), false),
            ("expired", json!({"exp": NOW - 31}), false),
            ("within leeway", json!({"exp": NOW - 29}), true),
            ("too long", json!({"exp": NOW + MAX_LIFETIME + 1}), false),
            ("no exp", json!({"exp": null}), false),
            ("future nbf", json!({"nbf": NOW + 60}), false),
            ("future iat", json!({"iat": NOW + 60}), false),
            ("no jti", json!({"jti": null}), false),
            ("empty jti", json!({"jti": ""}), false),
        ];
        for (name, edit, ok) in cases {
            let mut c = base();
            for (k, v) in edit.as_object().unwrap() {
                c[k] = v.clone();
            }
            assert_eq!(check_claims(&c, "rp", AUD, NOW).is_ok(), ok, "{name}");
        }
    }
}
