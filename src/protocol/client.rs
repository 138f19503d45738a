//! Registered relying parties: RFC 7591 client metadata in, a validated [`Client`] out.
//! Every field is checked here, so a `Client` in hand is consistent (a public client has
//! no secret and uses PKCE; every redirect URI is registrable; pairwise clients have one
//! sector).

use serde::{Deserialize, Serialize};

use super::redirect_uri::{ApplicationType, check_registrable};
use super::scope::{KNOWN_SCOPES, Scopes};

/// How a client authenticates at the token endpoint (RFC 7591 §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// HTTP Basic with client_id and client_secret.
    ClientSecretBasic,
    /// client_id and client_secret in the form body.
    ClientSecretPost,
    /// A public client: no secret, PKCE protects the code.
    None,
}

impl AuthMethod {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::None => "none",
        }
    }
}

/// The JWS algorithm of a client's ID tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SigningAlg {
    /// ECDSA P-256 SHA-256 (access tokens; ID tokens on request).
    ES256,
    /// RSASSA-PKCS1-v1_5 SHA-256 (required by OIDC Core §15.1; the ID token default).
    RS256,
}

impl SigningAlg {
    /// The JWS `alg` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ES256 => "ES256",
            Self::RS256 => "RS256",
        }
    }

    /// Every algorithm the server signs with.
    pub const ALL: [SigningAlg; 2] = [SigningAlg::ES256, SigningAlg::RS256];
}

/// OIDC Core §8: how `sub` is derived for this client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SubjectType {
    /// A different `sub` per sector (the default).
    Pairwise,
    /// The same `sub` for every client.
    Public,
}

/// A registered relying party.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Client {
    /// The client identifier.
    pub client_id: String,
    /// Display name shown on the consent page.
    pub client_name: Option<String>,
    /// Exactly registered redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Exactly registered post-logout redirect URIs.
    pub post_logout_redirect_uris: Vec<String>,
    /// Grant types the client may use.
    pub grant_types: Vec<String>,
    /// Response types the client may use.
    pub response_types: Vec<String>,
    /// Token endpoint authentication method.
    pub token_endpoint_auth_method: AuthMethod,
    /// Scopes the client may be granted.
    pub scope: Scopes,
    /// ID token signing algorithm.
    pub id_token_signed_response_alg: SigningAlg,
    /// `sub` derivation.
    pub subject_type: SubjectType,
    /// Pairwise sector (the redirect URIs' host).
    pub sector_identifier: String,
    /// Web or native.
    pub application_type: ApplicationType,
    /// Default `max_age` when the request has none.
    pub default_max_age: Option<i64>,
    /// Always put `auth_time` in ID tokens (we always do; kept for the metadata echo).
    pub require_auth_time: bool,
    /// Registration time.
    pub client_id_issued_at: i64,
}

impl Client {
    /// Whether the client is public (no secret).
    pub fn is_public(&self) -> bool {
        self.token_endpoint_auth_method == AuthMethod::None
    }

    /// The RFC 7591 §3.2.1 metadata echo, without the secret.
    pub fn registration_response(&self) -> serde_json::Value {
        let mut v = serde_json::json!({
            "client_id": self.client_id,
            "client_id_issued_at": self.client_id_issued_at,
            "redirect_uris": self.redirect_uris,
            "post_logout_redirect_uris": self.post_logout_redirect_uris,
            "grant_types": self.grant_types,
            "response_types": self.response_types,
            "token_endpoint_auth_method": self.token_endpoint_auth_method.as_str(),
            "scope": self.scope.to_string(),
            "id_token_signed_response_alg": self.id_token_signed_response_alg.as_str(),
            "subject_type": self.subject_type,
            "application_type": self.application_type,
            "require_auth_time": self.require_auth_time,
        });
        if let Some(obj) = v.as_object_mut() {
            if let Some(n) = &self.client_name {
                obj.insert("client_name".into(), n.clone().into());
            }
            if let Some(m) = self.default_max_age {
                obj.insert("default_max_age".into(), m.into());
            }
            if !self.is_public() {
                obj.insert("client_secret_expires_at".into(), 0.into());
            }
        }
        v
    }
}

/// RFC 7591 §2 client metadata as submitted. Unknown members are ignored (§2: "the
/// authorization server MUST ignore any client metadata it does not understand").
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ClientMetadata {
    /// Fixed client id for bootstrapping (CLI only).
    pub client_id: Option<String>,
    /// Fixed secret for bootstrapping (CLI only).
    pub client_secret: Option<String>,
    /// Redirect URIs.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// Post-logout redirect URIs.
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// Grant types.
    pub grant_types: Option<Vec<String>>,
    /// Response types.
    pub response_types: Option<Vec<String>>,
    /// Token endpoint auth method.
    pub token_endpoint_auth_method: Option<String>,
    /// Space-separated scopes.
    pub scope: Option<String>,
    /// Display name.
    pub client_name: Option<String>,
    /// ID token alg.
    pub id_token_signed_response_alg: Option<String>,
    /// `pairwise` or `public`.
    pub subject_type: Option<String>,
    /// `web` or `native`.
    pub application_type: Option<String>,
    /// Sector identifier URI (not supported yet).
    pub sector_identifier_uri: Option<String>,
    /// Default max_age.
    pub default_max_age: Option<i64>,
    /// require_auth_time.
    pub require_auth_time: Option<bool>,
}

/// RFC 7591 §3.2.2 registration errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    /// `invalid_redirect_uri`
    #[error("invalid_redirect_uri: {0}")]
    InvalidRedirectUri(String),
    /// `invalid_client_metadata`
    #[error("invalid_client_metadata: {0}")]
    InvalidClientMetadata(String),
}

impl MetadataError {
    /// The RFC 7591 error code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidRedirectUri(_) => "invalid_redirect_uri",
            Self::InvalidClientMetadata(_) => "invalid_client_metadata",
        }
    }
}

fn meta(msg: impl Into<String>) -> MetadataError {
    MetadataError::InvalidClientMetadata(msg.into())
}

/// Client ids are printable, URL-safe and bounded.
pub fn check_client_id(id: &str) -> Result<(), MetadataError> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b':'));
    if ok { Ok(()) } else { Err(meta("client_id must be 1-128 characters of A-Z a-z 0-9 - _ . ~ :")) }
}

impl ClientMetadata {
    /// Validates the metadata into a client with the given id and registration time.
    pub fn validate(&self, client_id: String, issued_at: i64) -> Result<Client, MetadataError> {
        check_client_id(&client_id)?;
        let application_type = match self.application_type.as_deref() {
            None | Some("web") => ApplicationType::Web,
            Some("native") => ApplicationType::Native,
            Some(o) => return Err(meta(format!("application_type `{o}` is not web or native"))),
        };
        let grant_types = self.grant_types.clone().unwrap_or_else(|| vec!["authorization_code".into()]);
        if grant_types.is_empty() {
            return Err(meta("grant_types must not be empty"));
        }
        for g in &grant_types {
            if g != "authorization_code" {
                return Err(meta(format!("grant type `{g}` is not supported")));
            }
        }
        let response_types = self.response_types.clone().unwrap_or_else(|| vec!["code".into()]);
        for r in &response_types {
            if r != "code" {
                return Err(meta(format!("response type `{r}` is not supported (only `code`)")));
            }
        }
        if self.redirect_uris.is_empty() {
            return Err(MetadataError::InvalidRedirectUri("at least one redirect URI is required".into()));
        }
        let mut hosts: Vec<String> = Vec::new();
        for uri in &self.redirect_uris {
            let url = check_registrable(uri, application_type).map_err(|p| MetadataError::InvalidRedirectUri(p.0))?;
            let host = url.host_str().unwrap_or(url.scheme()).to_owned();
            if !hosts.contains(&host) {
                hosts.push(host);
            }
        }
        for uri in &self.post_logout_redirect_uris {
            check_registrable(uri, application_type).map_err(|p| MetadataError::InvalidRedirectUri(p.0))?;
        }
        let token_endpoint_auth_method = match self.token_endpoint_auth_method.as_deref() {
            None | Some("client_secret_basic") => AuthMethod::ClientSecretBasic,
            Some("client_secret_post") => AuthMethod::ClientSecretPost,
            Some("none") => AuthMethod::None,
            Some(o) => return Err(meta(format!("token_endpoint_auth_method `{o}` is not supported"))),
        };
        if token_endpoint_auth_method == AuthMethod::None && self.client_secret.is_some() {
            return Err(meta("a public client (token_endpoint_auth_method none) has no client_secret"));
        }
        if let Some(secret) = &self.client_secret
            && secret.len() < 32
        {
            return Err(meta("client_secret must be at least 32 characters (high entropy)"));
        }
        let scope = match &self.scope {
            None => Scopes::parse("openid profile email phone address"),
            Some(s) => {
                let scopes = Scopes::parse(s);
                if let Some(unknown) = scopes.iter().find(|s| !KNOWN_SCOPES.contains(s)) {
                    return Err(meta(format!("scope `{unknown}` is not offered by this server")));
                }
                if !scopes.contains("openid") {
                    return Err(meta("scope must include openid"));
                }
                scopes
            }
        };
        let id_token_signed_response_alg = match self.id_token_signed_response_alg.as_deref() {
            // OIDC Registration §2: "The default, if omitted, is RS256."
            None | Some("RS256") => SigningAlg::RS256,
            Some("ES256") => SigningAlg::ES256,
            Some(o) => return Err(meta(format!("id_token_signed_response_alg `{o}` is not supported (ES256, RS256)"))),
        };
        let subject_type = match self.subject_type.as_deref() {
            None | Some("pairwise") => SubjectType::Pairwise,
            Some("public") => SubjectType::Public,
            Some(o) => return Err(meta(format!("subject_type `{o}` is not pairwise or public"))),
        };
        if self.sector_identifier_uri.is_some() {
            return Err(meta("sector_identifier_uri is not supported yet; register redirect URIs on one host"));
        }
        // OIDC Core §8.1: without a sector identifier URI, pairwise needs one host.
        if subject_type == SubjectType::Pairwise && hosts.len() > 1 {
            return Err(meta("pairwise clients with redirect URIs on several hosts need a sector_identifier_uri"));
        }
        if let Some(m) = self.default_max_age
            && m < 0
        {
            return Err(meta("default_max_age must not be negative"));
        }
        if let Some(n) = &self.client_name
            && (n.is_empty() || n.chars().count() > 200)
        {
            return Err(meta("client_name must be 1-200 characters"));
        }
        Ok(Client {
            client_id,
            client_name: self.client_name.clone(),
            redirect_uris: self.redirect_uris.clone(),
            post_logout_redirect_uris: self.post_logout_redirect_uris.clone(),
            grant_types,
            response_types,
            token_endpoint_auth_method,
            scope,
            id_token_signed_response_alg,
            subject_type,
            sector_identifier: hosts.first().cloned().unwrap_or_default(),
            application_type,
            default_max_age: self.default_max_age,
            require_auth_time: self.require_auth_time.unwrap_or(false),
            client_id_issued_at: issued_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn md(json: serde_json::Value) -> ClientMetadata {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn defaults_are_secure() {
        let c =
            md(serde_json::json!({"redirect_uris": ["https://rp.example.vn/cb"]})).validate("rp".into(), 1).unwrap();
        assert_eq!(c.token_endpoint_auth_method, AuthMethod::ClientSecretBasic);
        assert_eq!(c.subject_type, SubjectType::Pairwise);
        assert_eq!(c.id_token_signed_response_alg, SigningAlg::RS256, "OIDC Registration default");
        assert_eq!(c.sector_identifier, "rp.example.vn");
        assert!(!c.scope.contains("vn_pin"));
    }

    #[test]
    fn bad_metadata_is_named() {
        let cases = [
            (serde_json::json!({"redirect_uris": []}), "invalid_redirect_uri"),
            (serde_json::json!({"redirect_uris": ["javascript:alert(1)"]}), "invalid_redirect_uri"),
            (serde_json::json!({"redirect_uris": ["https://a.vn/cb#f"]}), "invalid_redirect_uri"),
            (
                serde_json::json!({"redirect_uris": ["https://a.vn/cb"], "response_types": ["code id_token"]}),
                "invalid_client_metadata",
            ),
            (
                serde_json::json!({"redirect_uris": ["https://a.vn/cb"], "token_endpoint_auth_method": "none", "client_secret": "x".repeat(40)}),
                "invalid_client_metadata",
            ),
            (
                serde_json::json!({"redirect_uris": ["https://a.vn/cb"], "client_secret": "short"}),
                "invalid_client_metadata",
            ),
            (
                serde_json::json!({"redirect_uris": ["https://a.vn/cb"], "id_token_signed_response_alg": "none"}),
                "invalid_client_metadata",
            ),
            (
                serde_json::json!({"redirect_uris": ["https://a.vn/cb"], "id_token_signed_response_alg": "HS256"}),
                "invalid_client_metadata",
            ),
            (serde_json::json!({"redirect_uris": ["https://a.vn/cb", "https://b.vn/cb"]}), "invalid_client_metadata"),
            (
                serde_json::json!({"redirect_uris": ["https://a.vn/cb"], "scope": "openid admin"}),
                "invalid_client_metadata",
            ),
            (serde_json::json!({"redirect_uris": ["https://a.vn/cb"], "scope": "profile"}), "invalid_client_metadata"),
        ];
        for (json, code) in cases {
            let e = md(json.clone()).validate("rp".into(), 1).unwrap_err();
            assert_eq!(e.code(), code, "{json}");
        }
        assert!(
            md(serde_json::json!({"redirect_uris": ["https://a.vn/cb", "https://b.vn/cb"], "subject_type": "public"}))
                .validate("rp".into(), 1)
                .is_ok()
        );
        assert!(check_client_id("bad id").is_err());
        assert!(check_client_id("portal-tinh_01").is_ok());
    }
}
