//! The provider metadata (OIDC Discovery 1.0 §3, RFC 8414 §2), built once from the issuer.
//! Only what is implemented is advertised.

use serde_json::{Value, json};

use super::client::SigningAlg;
use super::{acr, claims, scope, verified_claims};

/// Endpoint paths, relative to the issuer.
pub mod paths {
    /// Discovery document.
    pub const DISCOVERY: &str = "/.well-known/openid-configuration";
    /// Authorization endpoint.
    pub const AUTHORIZE: &str = "/authorize";
    /// Token endpoint.
    pub const TOKEN: &str = "/token";
    /// Userinfo endpoint.
    pub const USERINFO: &str = "/userinfo";
    /// JWK Set.
    pub const JWKS: &str = "/jwks";
    /// Token introspection (RFC 7662).
    pub const INTROSPECT: &str = "/introspect";
    /// Token revocation (RFC 7009).
    pub const REVOKE: &str = "/revoke";
    /// Dynamic client registration (RFC 7591; RFC 7592 management below it).
    pub const REGISTER: &str = "/register";
    /// RP-Initiated Logout.
    pub const END_SESSION: &str = "/end_session";
}

/// The discovery document for `issuer`.
pub fn provider_metadata(issuer: &str) -> Value {
    // RS256 first: the OIDC Registration default and what every RP supports.
    let mut signing_algs: Vec<&str> = vec![SigningAlg::RS256.as_str()];
    signing_algs.extend(SigningAlg::ALL.iter().filter(|a| **a != SigningAlg::RS256).map(|a| a.as_str()));
    let mut m = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}{}", paths::AUTHORIZE),
        "token_endpoint": format!("{issuer}{}", paths::TOKEN),
        "userinfo_endpoint": format!("{issuer}{}", paths::USERINFO),
        "jwks_uri": format!("{issuer}{}", paths::JWKS),
        "introspection_endpoint": format!("{issuer}{}", paths::INTROSPECT),
        "revocation_endpoint": format!("{issuer}{}", paths::REVOKE),
        "registration_endpoint": format!("{issuer}{}", paths::REGISTER),
        "end_session_endpoint": format!("{issuer}{}", paths::END_SESSION),
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
        "frontchannel_logout_supported": true,
        "frontchannel_logout_session_supported": true,
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt", "none"],
        "introspection_signing_alg_values_supported": signing_algs,
        "scopes_supported": scope::KNOWN_SCOPES,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "form_post"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["pairwise", "public"],
        "id_token_signing_alg_values_supported": signing_algs,
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt", "none"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS256", "PS256", "ES256", "EdDSA", "HS256", "HS384", "HS512"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": claims::SUPPORTED,
        "claim_types_supported": ["normal"],
        "claims_parameter_supported": true,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "require_request_uri_registration": false,
        "acr_values_supported": acr::SUPPORTED,
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "display_values_supported": ["page", "popup", "touch"],
        "ui_locales_supported": ["vi", "en"],
        "claims_locales_supported": ["vi", "en"],
        "authorization_response_iss_parameter_supported": true,
    });
    identity_assurance(&mut m);
    m
}

/// OpenID Identity Assurance 1.0 metadata (released per `claim_policy`).
fn identity_assurance(m: &mut Value) {
    let extra = json!({
        "verified_claims_supported": true,
        "trust_frameworks_supported": [verified_claims::TRUST_FRAMEWORK],
        "evidence_supported": verified_claims::EVIDENCE_SUPPORTED,
        "documents_supported": verified_claims::DOCUMENTS_SUPPORTED,
        "documents_check_methods_supported": verified_claims::CHECK_METHODS_SUPPORTED,
        "electronic_records_supported": verified_claims::ELECTRONIC_RECORDS_SUPPORTED,
        "claims_in_verified_claims_supported": verified_claims::CLAIMS_SUPPORTED,
    });
    if let (Some(obj), Value::Object(extra)) = (m.as_object_mut(), extra) {
        obj.extend(extra);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn required_fields_are_there() {
        let m = provider_metadata("https://id.tinh.gov.vn");
        for f in [
            "issuer",
            "authorization_endpoint",
            "token_endpoint",
            "jwks_uri",
            "response_types_supported",
            "subject_types_supported",
            "id_token_signing_alg_values_supported",
            "userinfo_endpoint",
        ] {
            assert!(m.get(f).is_some(), "{f}");
        }
        assert_eq!(m["token_endpoint"], "https://id.tinh.gov.vn/token");
        assert_eq!(m["registration_endpoint"], "https://id.tinh.gov.vn/register");
        assert!(m["id_token_signing_alg_values_supported"].as_array().unwrap().contains(&json!("RS256")));
        assert_eq!(m["verified_claims_supported"], true);
        assert_eq!(m["trust_frameworks_supported"], json!(["vn_nd69"]));
        assert_eq!(m["evidence_supported"], json!(["electronic_record", "document"]));
    }
}
