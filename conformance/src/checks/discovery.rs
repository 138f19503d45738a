//! `oidcc-discovery-endpoint-verification` (Config OP plan): the discovery
//! document and the JWKS it points to hold what OpenID Connect Discovery 1.0
//! section 3, RFC 8414 and RFC 7517 require. Every problem found is
//! reported, not just the first.

use reqwest::StatusCode;
use serde_json::Value;
use url::Url;

use crate::rp::{Check, Ctx, error_chain, fail, has_media_type};

/// Runs the discovery checks.
pub(crate) async fn endpoint_verification(ctx: &Ctx<'_>) -> Check {
    let issuer = ctx.opts.issuer.clone();
    let url = format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'));
    let response = ctx.http.get(&url).send().await.map_err(|e| format!("GET {url}: {}", error_chain(&e)))?;
    let mut problems = Vec::new();
    if response.status() != StatusCode::OK {
        return fail(format!("GET {url} answered HTTP {}", response.status()));
    }
    if !has_media_type(response.headers(), "application/json") {
        problems.push("the discovery document is not served as application/json".to_string());
    }
    let doc: Value = response.json().await.map_err(|e| format!("the discovery document is not JSON: {e}"))?;
    if !doc.is_object() {
        return fail("the discovery document is not a JSON object");
    }
    // The typed parse (and the crate's issuer check) happened at start-up.
    if let Err(e) = &ctx.op {
        problems.push(format!("the openidconnect crate rejected discovery: {e}"));
    }

    let loopback_http = is_loopback_http(&issuer);
    check_metadata(&doc, &issuer, loopback_http, &mut problems);

    if let Some(jwks_uri) = doc.get("jwks_uri").and_then(Value::as_str) {
        match ctx.http.get(jwks_uri).send().await {
            Err(e) => problems.push(format!("GET jwks_uri: {}", error_chain(&e))),
            Ok(r) if r.status() != StatusCode::OK => {
                problems.push(format!("jwks_uri answered HTTP {}", r.status()));
            }
            Ok(r) => match r.json::<Value>().await {
                Err(e) => problems.push(format!("the JWKS is not JSON: {e}")),
                Ok(jwks) => check_jwks(&jwks, &mut problems),
            },
        }
    }

    if problems.is_empty() { Ok(()) } else { fail(problems.join("; ")) }
}

fn strings<'a>(doc: &'a Value, name: &str) -> Option<Vec<&'a str>> {
    doc.get(name).and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).collect())
}

/// `http://localhost`, `http://127.x.x.x` or `http://[::1]`.
fn is_loopback_http(url: &str) -> bool {
    Url::parse(url).is_ok_and(|u| {
        u.scheme() == "http" && u.host_str().is_some_and(|h| h == "localhost" || h == "[::1]" || h.starts_with("127."))
    })
}

/// The metadata members themselves.
fn check_metadata(doc: &Value, issuer: &str, loopback_http: bool, problems: &mut Vec<String>) {
    let mut problem = |msg: String| problems.push(msg);

    // issuer (OIDC Discovery 4.3, RFC 8414 2).
    match doc.get("issuer").and_then(Value::as_str) {
        None => problem("issuer is missing".into()),
        Some(iss) => {
            if iss != issuer {
                problem(format!("issuer {iss:?} differs from the configured issuer {issuer:?}"));
            }
            match Url::parse(iss) {
                Err(e) => problem(format!("issuer is not a URL: {e}")),
                Ok(u) => {
                    if u.query().is_some() || u.fragment().is_some() {
                        problem("issuer has a query or fragment".into());
                    }
                }
            }
        }
    }

    // Required and recommended endpoints, which must be URLs.
    for (name, required) in [
        ("authorization_endpoint", true),
        ("token_endpoint", true),
        ("jwks_uri", true),
        ("userinfo_endpoint", false),
        ("registration_endpoint", false),
    ] {
        match doc.get(name) {
            None if required => problem(format!("{name} is missing")),
            None => {}
            Some(v) => match v.as_str().map(Url::parse) {
                Some(Ok(_)) => {}
                _ => problem(format!("{name} is not a URL")),
            },
        }
    }

    // Every URL-valued member uses https (plain http only for a loopback
    // issuer under test, and then only towards loopback hosts).
    if let Some(map) = doc.as_object() {
        for (name, value) in map {
            let is_url_member = name.ends_with("_endpoint") || name.ends_with("_uri") || name == "issuer";
            let Some(s) = value.as_str() else { continue };
            if !is_url_member {
                continue;
            }
            let allowed = s.starts_with("https://") || (loopback_http && is_loopback_http(s));
            if !allowed {
                problem(format!("{name} {s:?} does not use https"));
            }
        }
    }

    // response_types_supported (REQUIRED) lists "code" for a Basic OP.
    match strings(doc, "response_types_supported") {
        None => problem("response_types_supported is missing".into()),
        Some(types) => {
            if !types.contains(&"code") {
                problem(format!("response_types_supported {types:?} lacks \"code\""));
            }
        }
    }
    // subject_types_supported (REQUIRED): public and/or pairwise.
    match strings(doc, "subject_types_supported") {
        None => problem("subject_types_supported is missing".into()),
        Some(types) if types.is_empty() => problem("subject_types_supported is empty".into()),
        Some(types) => {
            for t in types {
                if t != "public" && t != "pairwise" {
                    problem(format!("subject_types_supported has unknown value {t:?}"));
                }
            }
        }
    }
    // id_token_signing_alg_values_supported (REQUIRED) includes RS256.
    match strings(doc, "id_token_signing_alg_values_supported") {
        None => problem("id_token_signing_alg_values_supported is missing".into()),
        Some(algs) => {
            if !algs.contains(&"RS256") {
                problem(format!("id_token_signing_alg_values_supported {algs:?} lacks RS256"));
            }
        }
    }
    // Optional arrays must be arrays of strings.
    for name in [
        "userinfo_signing_alg_values_supported",
        "request_object_signing_alg_values_supported",
        "token_endpoint_auth_methods_supported",
        "response_modes_supported",
        "grant_types_supported",
        "scopes_supported",
        "claims_supported",
        "code_challenge_methods_supported",
        "ui_locales_supported",
        "claims_locales_supported",
        "acr_values_supported",
        "display_values_supported",
        "claim_types_supported",
    ] {
        if let Some(v) = doc.get(name) {
            let ok = v.as_array().is_some_and(|a| a.iter().all(Value::is_string));
            if !ok {
                problem(format!("{name} is not an array of strings"));
            }
        }
    }
    // Optional booleans.
    for name in [
        "request_parameter_supported",
        "request_uri_parameter_supported",
        "require_request_uri_registration",
        "claims_parameter_supported",
        "authorization_response_iss_parameter_supported",
    ] {
        if let Some(v) = doc.get(name)
            && !v.is_boolean()
        {
            problem(format!("{name} is not a boolean"));
        }
    }
    if let Some(grants) = strings(doc, "grant_types_supported")
        && !grants.contains(&"authorization_code")
    {
        problem(format!("grant_types_supported {grants:?} lacks authorization_code"));
    }
    if let Some(scopes) = strings(doc, "scopes_supported") {
        if !scopes.contains(&"openid") {
            problem("scopes_supported lacks openid".into());
        }
        for s in scopes {
            // RFC 6749 3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
            let ok = !s.is_empty()
                && s.bytes().all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b));
            if !ok {
                problem(format!("scopes_supported has an invalid scope token {s:?}"));
            }
        }
    }
    for name in ["ui_locales_supported", "claims_locales_supported"] {
        for tag in strings(doc, name).unwrap_or_default() {
            let ok = !tag.is_empty()
                && tag
                    .split('-')
                    .all(|p| !p.is_empty() && p.len() <= 8 && p.bytes().all(|b| b.is_ascii_alphanumeric()));
            if !ok {
                problem(format!("{name} has an invalid language tag {tag:?}"));
            }
        }
    }
    if let Some(methods) = strings(doc, "code_challenge_methods_supported")
        && !methods.contains(&"S256")
    {
        problem(format!("code_challenge_methods_supported {methods:?} lacks S256"));
    }
}

/// Members that only private or symmetric keys have (RFC 7518 6.2.2, 6.3.2, 6.4).
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// The JWKS: a `keys` array of well-formed public keys, each with a unique
/// `kid`, at least one usable for RS256 signatures.
pub(crate) fn check_jwks(jwks: &Value, problems: &mut Vec<String>) {
    let Some(keys) = jwks.get("keys").and_then(Value::as_array) else {
        problems.push("the JWKS has no keys array".into());
        return;
    };
    if keys.is_empty() {
        problems.push("the JWKS is empty".into());
    }
    let mut kids: Vec<&str> = Vec::new();
    let mut rs256_signing = false;
    for (i, key) in keys.iter().enumerate() {
        let kty = key.get("kty").and_then(Value::as_str);
        let label =
            key.get("kid").and_then(Value::as_str).map_or_else(|| format!("key #{i}"), |k| format!("key {k:?}"));
        match kty {
            None => problems.push(format!("{label} has no kty")),
            Some("oct") => problems.push(format!("{label} is a symmetric key")),
            Some("RSA") => {
                for m in ["n", "e"] {
                    if !key.get(m).is_some_and(Value::is_string) {
                        problems.push(format!("{label} (RSA) lacks {m}"));
                    }
                }
                let alg_ok = key.get("alg").and_then(Value::as_str).is_none_or(|a| a == "RS256");
                let use_ok = key.get("use").and_then(Value::as_str).is_none_or(|u| u == "sig");
                if alg_ok && use_ok {
                    rs256_signing = true;
                }
            }
            Some("EC") => {
                for m in ["crv", "x", "y"] {
                    if !key.get(m).is_some_and(Value::is_string) {
                        problems.push(format!("{label} (EC) lacks {m}"));
                    }
                }
            }
            Some(_) => {}
        }
        for m in PRIVATE_MEMBERS {
            if key.get(m).is_some() && !(m == "k" && kty == Some("oct")) {
                problems.push(format!("{label} exposes private member {m}"));
            }
        }
        if let Some(u) = key.get("use")
            && !matches!(u.as_str(), Some("sig" | "enc"))
        {
            problems.push(format!("{label} has an invalid use {u}"));
        }
        // OIDC Core 10.1; the plan requires a kid on every key.
        match key.get("kid").and_then(Value::as_str) {
            None => problems.push(format!("{label} has no kid")),
            Some(kid) => {
                if kids.contains(&kid) {
                    problems.push(format!("kid {kid:?} is used by more than one key"));
                }
                kids.push(kid);
            }
        }
    }
    if !keys.is_empty() && !rs256_signing {
        problems.push("the JWKS has no RSA key usable for RS256 signatures".into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn problems_for(doc: &Value, issuer: &str) -> Vec<String> {
        let mut p = Vec::new();
        check_metadata(doc, issuer, is_loopback_http(issuer), &mut p);
        p
    }

    fn good() -> Value {
        json!({
            "issuer": "http://127.0.0.1:8080",
            "authorization_endpoint": "http://127.0.0.1:8080/authorize",
            "token_endpoint": "http://127.0.0.1:8080/token",
            "userinfo_endpoint": "http://127.0.0.1:8080/userinfo",
            "jwks_uri": "http://127.0.0.1:8080/jwks.json",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "profile"],
            "code_challenge_methods_supported": ["S256"],
            "authorization_response_iss_parameter_supported": true,
            "ui_locales_supported": ["vi-VN", "en"]
        })
    }

    #[test]
    fn good_metadata_passes() {
        assert_eq!(problems_for(&good(), "http://127.0.0.1:8080"), Vec::<String>::new());
    }

    #[test]
    fn bad_metadata_is_reported() {
        let mut doc = good();
        doc["issuer"] = json!("http://127.0.0.1:8080/");
        doc["response_types_supported"] = json!(["id_token"]);
        doc["id_token_signing_alg_values_supported"] = json!(["HS256"]);
        doc["token_endpoint"] = json!("http://evil.example/token");
        doc["request_parameter_supported"] = json!("yes");
        let p = problems_for(&doc, "http://127.0.0.1:8080");
        assert_eq!(p.len(), 5, "{p:?}");
    }

    #[test]
    fn https_required_for_public_issuers() {
        let mut doc = good();
        doc["issuer"] = json!("https://op.example");
        let p = problems_for(&doc, "https://op.example");
        assert!(p.iter().any(|m| m.contains("authorization_endpoint")), "{p:?}");
    }

    #[test]
    fn jwks_checks() {
        let mut p = Vec::new();
        check_jwks(
            &json!({"keys": [{"kty": "RSA", "kid": "a", "use": "sig", "alg": "RS256", "n": "x", "e": "AQAB"}]}),
            &mut p,
        );
        assert!(p.is_empty(), "{p:?}");
        let mut p = Vec::new();
        check_jwks(
            &json!({"keys": [
                {"kty": "RSA", "n": "x", "e": "AQAB", "d": "secret"},
                {"kty": "oct", "kid": "h", "k": "c2VjcmV0"}
            ]}),
            &mut p,
        );
        assert!(p.iter().any(|m| m.contains("private member d")), "{p:?}");
        assert!(p.iter().any(|m| m.contains("no kid")), "{p:?}");
        assert!(p.iter().any(|m| m.contains("symmetric")), "{p:?}");
    }
}
