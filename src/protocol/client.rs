//! Registered relying parties: RFC 7591 client metadata in, a validated [`Client`] out.
//! Every field is checked here, so a `Client` in hand is consistent (a public client has
//! no secret and uses PKCE; every redirect URI is registrable; pairwise clients have one
//! sector).

use serde::{Deserialize, Serialize};

use super::redirect_uri::{ApplicationType, check_registrable};
use super::scope::Scopes;

/// How a client authenticates at the token endpoint (RFC 7591 §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// HTTP Basic with client_id and client_secret.
    ClientSecretBasic,
    /// client_id and client_secret in the form body.
    ClientSecretPost,
    /// A JWT assertion MACed with the client secret (OIDC Core §9).
    ClientSecretJwt,
    /// A JWT assertion signed with the client's private key (OIDC Core §9, RFC 7523).
    PrivateKeyJwt,
    /// A public client: no secret, PKCE protects the code.
    None,
}

impl AuthMethod {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::ClientSecretJwt => "client_secret_jwt",
            Self::PrivateKeyJwt => "private_key_jwt",
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
    /// RSASSA-PSS SHA-256 (RFC 7518 §3.5).
    PS256,
    /// Ed25519 (RFC 8037).
    EdDSA,
}

impl SigningAlg {
    /// The JWS `alg` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ES256 => "ES256",
            Self::RS256 => "RS256",
            Self::PS256 => "PS256",
            Self::EdDSA => "EdDSA",
        }
    }

    /// The algorithm named by a JWS `alg` value (exact, case-sensitive).
    pub fn parse(name: &str) -> Option<SigningAlg> {
        Self::ALL.into_iter().find(|a| a.as_str() == name)
    }

    /// Every algorithm the server signs with.
    pub const ALL: [SigningAlg; 4] = [SigningAlg::ES256, SigningAlg::RS256, SigningAlg::PS256, SigningAlg::EdDSA];
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
    /// Access token format.
    #[serde(default)]
    pub access_token_strategy: AccessTokenStrategy,
    /// Absolute refresh-token lifetime (s), if the client has its own.
    #[serde(default)]
    pub refresh_token_absolute_lifetime: Option<i64>,
    /// Idle refresh-token lifetime (s), if the client has its own.
    #[serde(default)]
    pub refresh_token_idle_lifetime: Option<i64>,
    /// The client's public keys (for `private_key_jwt`), as a JWK Set document.
    #[serde(default)]
    pub jwks: Option<serde_json::Value>,
    /// Where the client publishes its JWK Set (https).
    #[serde(default)]
    pub jwks_uri: Option<String>,
    /// The JWS algorithm of the client's authentication assertions.
    #[serde(default)]
    pub token_endpoint_auth_signing_alg: Option<String>,
    /// OIDC Core §8.1: the https document listing the client's redirect URIs; its host is
    /// the pairwise sector.
    #[serde(default)]
    pub sector_identifier_uri: Option<String>,
    /// OIDC Back-Channel Logout: where logout tokens are POSTed.
    #[serde(default)]
    pub backchannel_logout_uri: Option<String>,
    /// Whether the logout token must carry `sid`.
    #[serde(default)]
    pub backchannel_logout_session_required: bool,
    /// OIDC Front-Channel Logout: the page loaded in an iframe at logout.
    #[serde(default)]
    pub frontchannel_logout_uri: Option<String>,
    /// Whether `iss` and `sid` are appended to the front-channel logout URI.
    #[serde(default)]
    pub frontchannel_logout_session_required: bool,
    /// Authentication contexts requested when the client sends none.
    #[serde(default)]
    pub default_acr_values: Vec<String>,
    /// Extension: the weakest authentication context this client accepts, enforced
    /// server-side even when the request omits `acr_values`.
    #[serde(default)]
    pub minimum_acr: Option<String>,
    /// Claims this client may ever receive (`claim_policy`); absent: what its scope
    /// releases, without `verified_claims`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_claims: Option<Vec<String>>,
    /// Why the client processes personal data, shown on consent receipts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    /// The client's privacy policy (https).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_uri: Option<String>,
    /// Which claim names the client receives (`standard`, or `national_portal` for
    /// systems written against the national public-service portal).
    #[serde(default)]
    pub claim_profile: super::upstream::ClaimProfile,
}

/// The grant types this server implements.
pub mod grant {
    /// RFC 6749 §4.1.
    pub const AUTHORIZATION_CODE: &str = "authorization_code";
    /// RFC 6749 §6.
    pub const REFRESH_TOKEN: &str = "refresh_token";
    /// RFC 6749 §4.4.
    pub const CLIENT_CREDENTIALS: &str = "client_credentials";
    /// All of them.
    pub const SUPPORTED: &[&str] = &[AUTHORIZATION_CODE, REFRESH_TOKEN, CLIENT_CREDENTIALS];
}

/// The format of a client's access tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccessTokenStrategy {
    /// RFC 9068 JWT, verifiable offline against the JWKS.
    #[default]
    Jwt,
    /// A random string, checked by introspection.
    Opaque,
}

impl Client {
    /// Whether the client registered grant type `g`.
    pub fn has_grant(&self, g: &str) -> bool {
        self.grant_types.iter().any(|x| x == g)
    }

    /// Whether the client authenticates with a shared secret (and so gets one).
    pub fn uses_secret(&self) -> bool {
        matches!(
            self.token_endpoint_auth_method,
            AuthMethod::ClientSecretBasic | AuthMethod::ClientSecretPost | AuthMethod::ClientSecretJwt
        )
    }

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
            "access_token_strategy": self.access_token_strategy,
            "backchannel_logout_session_required": self.backchannel_logout_session_required,
            "frontchannel_logout_session_required": self.frontchannel_logout_session_required,
        });
        if let Some(obj) = v.as_object_mut() {
            if let Some(n) = &self.client_name {
                obj.insert("client_name".into(), n.clone().into());
            }
            if let Some(m) = self.default_max_age {
                obj.insert("default_max_age".into(), m.into());
            }
            if let Some(v) = self.refresh_token_absolute_lifetime {
                obj.insert("refresh_token_absolute_lifetime".into(), v.into());
            }
            if let Some(v) = self.refresh_token_idle_lifetime {
                obj.insert("refresh_token_idle_lifetime".into(), v.into());
            }
            let optional = [
                ("jwks_uri", self.jwks_uri.clone()),
                ("token_endpoint_auth_signing_alg", self.token_endpoint_auth_signing_alg.clone()),
                ("sector_identifier_uri", self.sector_identifier_uri.clone()),
                ("backchannel_logout_uri", self.backchannel_logout_uri.clone()),
                ("frontchannel_logout_uri", self.frontchannel_logout_uri.clone()),
            ];
            for (k, v) in optional {
                if let Some(v) = v {
                    obj.insert(k.into(), v.into());
                }
            }
            if let Some(j) = &self.jwks {
                obj.insert("jwks".into(), j.clone());
            }
            if !self.default_acr_values.is_empty() {
                obj.insert("default_acr_values".into(), self.default_acr_values.clone().into());
            }
            if let Some(m) = &self.minimum_acr {
                obj.insert("minimum_acr".into(), m.clone().into());
            }
            if let Some(a) = &self.allowed_claims {
                obj.insert("allowed_claims".into(), a.clone().into());
            }
            for (k, v) in [("purpose", &self.purpose), ("policy_uri", &self.policy_uri)] {
                if let Some(v) = v {
                    obj.insert(k.into(), v.clone().into());
                }
            }
            if self.claim_profile != super::upstream::ClaimProfile::Standard {
                obj.insert("claim_profile".into(), self.claim_profile.as_str().into());
            }
            if self.uses_secret() {
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
    /// `jwt` (RFC 9068, the default) or `opaque` access tokens.
    pub access_token_strategy: Option<String>,
    /// Absolute refresh-token lifetime of this client (s); the server default otherwise.
    pub refresh_token_absolute_lifetime: Option<i64>,
    /// Idle refresh-token lifetime of this client (s); the server default otherwise.
    pub refresh_token_idle_lifetime: Option<i64>,
    /// JWK Set document (`private_key_jwt`).
    pub jwks: Option<serde_json::Value>,
    /// JWK Set URL (`private_key_jwt`).
    pub jwks_uri: Option<String>,
    /// Assertion algorithm.
    pub token_endpoint_auth_signing_alg: Option<String>,
    /// Back-channel logout URI.
    pub backchannel_logout_uri: Option<String>,
    /// Back-channel logout needs `sid`.
    pub backchannel_logout_session_required: Option<bool>,
    /// Front-channel logout URI.
    pub frontchannel_logout_uri: Option<String>,
    /// Front-channel logout needs `iss` and `sid`.
    pub frontchannel_logout_session_required: Option<bool>,
    /// Default acr values.
    pub default_acr_values: Option<Vec<String>>,
    /// Extension: the client's minimum acr (one of `acr_values_supported`).
    pub minimum_acr: Option<String>,
    /// Claims the client may ever receive (`verified_claims` must be listed for those).
    pub allowed_claims: Option<Vec<String>>,
    /// Why the client processes personal data (3-300 characters).
    pub purpose: Option<String>,
    /// Privacy policy URL.
    pub policy_uri: Option<String>,
    /// `standard` (default) or `national_portal` claim names.
    pub claim_profile: Option<String>,
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

/// An https URL (http only on loopback, for development) without a fragment.
fn https_url(name: &str, raw: &str) -> Result<url::Url, MetadataError> {
    let url = url::Url::parse(raw).map_err(|_| meta(format!("{name} is not an absolute URL")))?;
    let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    if url.fragment().is_some() || !(url.scheme() == "https" || (url.scheme() == "http" && loopback)) {
        return Err(meta(format!("{name} must be an https URL without a fragment")));
    }
    Ok(url)
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
        let mut grant_types: Vec<String> = Vec::new();
        for g in self.grant_types.clone().unwrap_or_else(|| vec![grant::AUTHORIZATION_CODE.into()]) {
            if !grant::SUPPORTED.contains(&g.as_str()) {
                return Err(meta(format!("grant type `{g}` is not supported")));
            }
            if !grant_types.contains(&g) {
                grant_types.push(g);
            }
        }
        if grant_types.is_empty() {
            return Err(meta("grant_types must not be empty"));
        }
        let has_code = grant_types.iter().any(|g| g == grant::AUTHORIZATION_CODE);
        if grant_types.iter().any(|g| g == grant::REFRESH_TOKEN) && !has_code {
            return Err(meta("refresh_token is only issued with authorization_code"));
        }
        // RFC 7591 §2.1: response_types and grant_types must agree.
        let response_types =
            self.response_types.clone().unwrap_or_else(|| if has_code { vec!["code".into()] } else { Vec::new() });
        for r in &response_types {
            if r != "code" {
                return Err(meta(format!("response type `{r}` is not supported (only `code`)")));
            }
        }
        if has_code != response_types.iter().any(|r| r == "code") {
            return Err(meta("response type `code` goes with grant type `authorization_code`, and only with it"));
        }
        if has_code && self.redirect_uris.is_empty() {
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
            // The HMAC needs the secret itself: it is kept sealed (`crypto::client_secret`).
            Some("client_secret_jwt") => AuthMethod::ClientSecretJwt,
            Some("private_key_jwt") => AuthMethod::PrivateKeyJwt,
            Some("none") => AuthMethod::None,
            Some(o) => return Err(meta(format!("token_endpoint_auth_method `{o}` is not supported"))),
        };
        if token_endpoint_auth_method == AuthMethod::None && grant_types.iter().any(|g| g == grant::CLIENT_CREDENTIALS)
        {
            return Err(meta("client_credentials needs a confidential client"));
        }
        if matches!(token_endpoint_auth_method, AuthMethod::None | AuthMethod::PrivateKeyJwt)
            && self.client_secret.is_some()
        {
            return Err(meta("this client authenticates without a shared secret: drop client_secret"));
        }
        if let Some(secret) = &self.client_secret
            && secret.len() < 32
        {
            return Err(meta("client_secret must be at least 32 characters (high entropy)"));
        }
        let scope = match &self.scope {
            None if has_code => {
                let offline = grant_types.iter().any(|g| g == grant::REFRESH_TOKEN);
                Scopes::parse(if offline {
                    "openid profile email phone address offline_access"
                } else {
                    "openid profile email phone address"
                })
            }
            None => Scopes::default(),
            Some(s) => {
                // OpenID scopes plus the client's API scopes (resource servers' own).
                let scopes = Scopes::parse(s);
                if scopes.iter().count() != s.split(' ').filter(|t| !t.is_empty()).count() {
                    return Err(meta("scope holds a token with characters RFC 6749 §3.3 does not allow"));
                }
                if has_code && !scopes.contains("openid") {
                    return Err(meta("scope must include openid for the authorization code flow"));
                }
                scopes
            }
        };
        let access_token_strategy = match self.access_token_strategy.as_deref() {
            None | Some("jwt") => AccessTokenStrategy::Jwt,
            Some("opaque") => AccessTokenStrategy::Opaque,
            Some(o) => return Err(meta(format!("access_token_strategy `{o}` is not jwt or opaque"))),
        };
        let (jwks, jwks_uri) = match (&self.jwks, &self.jwks_uri) {
            (Some(_), Some(_)) => return Err(meta("register jwks or jwks_uri, not both")),
            (Some(j), None) => {
                if !j.get("keys").is_some_and(serde_json::Value::is_array) {
                    return Err(meta("jwks must be a JWK Set ({\"keys\": [...]})"));
                }
                (Some(j.clone()), None)
            }
            (None, Some(u)) => (None, Some(https_url("jwks_uri", u)?.to_string())),
            (None, None) => (None, None),
        };
        if token_endpoint_auth_method == AuthMethod::PrivateKeyJwt && jwks.is_none() && jwks_uri.is_none() {
            return Err(meta("private_key_jwt needs jwks or jwks_uri"));
        }
        let token_endpoint_auth_signing_alg =
            match (token_endpoint_auth_method, self.token_endpoint_auth_signing_alg.as_deref()) {
                (AuthMethod::PrivateKeyJwt, None) => Some("RS256".to_owned()),
                (AuthMethod::PrivateKeyJwt, Some(a @ ("RS256" | "PS256" | "ES256" | "EdDSA"))) => Some(a.to_owned()),
                (AuthMethod::ClientSecretJwt, None) => Some("HS256".to_owned()),
                (AuthMethod::ClientSecretJwt, Some(a @ ("HS256" | "HS384" | "HS512"))) => Some(a.to_owned()),
                (_, None) => None,
                (_, Some(a)) => {
                    return Err(meta(format!("token_endpoint_auth_signing_alg `{a}` does not fit the auth method")));
                }
            };
        let backchannel_logout_uri = match &self.backchannel_logout_uri {
            None => None,
            // OIDC Back-Channel Logout §2.2: an absolute URI without a fragment.
            Some(u) => Some(check_registrable(u, ApplicationType::Web).map_err(|p| meta(p.0))?.to_string()),
        };
        let frontchannel_logout_uri = match &self.frontchannel_logout_uri {
            None => None,
            Some(u) => {
                let url = check_registrable(u, ApplicationType::Web).map_err(|p| meta(p.0))?;
                // OIDC Front-Channel Logout §2: same scheme, host and port as a redirect URI.
                let same_origin = self.redirect_uris.iter().filter_map(|r| url::Url::parse(r).ok()).any(|r| {
                    r.scheme() == url.scheme()
                        && r.host_str() == url.host_str()
                        && r.port_or_known_default() == url.port_or_known_default()
                });
                if !same_origin {
                    return Err(meta("frontchannel_logout_uri must share scheme, host and port with a redirect URI"));
                }
                Some(url.to_string())
            }
        };
        let mut default_acr_values = Vec::new();
        for v in self.default_acr_values.iter().flatten() {
            match super::acr::canonical(v) {
                Some(c) => default_acr_values.push(c.to_owned()),
                None => return Err(meta(format!("default_acr_values: `{v}` is not offered"))),
            }
        }
        let minimum_acr = match self.minimum_acr.as_deref() {
            None => None,
            Some(v) => match super::acr::canonical(v) {
                Some(c) => Some(c.to_owned()),
                None => return Err(meta(format!("minimum_acr: `{v}` is not offered"))),
            },
        };
        for (name, v) in [
            ("refresh_token_absolute_lifetime", self.refresh_token_absolute_lifetime),
            ("refresh_token_idle_lifetime", self.refresh_token_idle_lifetime),
        ] {
            if v.is_some_and(|v| v <= 0) {
                return Err(meta(format!("{name} must be a positive number of seconds")));
            }
        }
        let claim_profile = match self.claim_profile.as_deref() {
            None => super::upstream::ClaimProfile::Standard,
            Some(p) => super::upstream::ClaimProfile::parse(p)
                .ok_or_else(|| meta(format!("claim_profile `{p}` is neither standard nor national_portal")))?,
        };
        let id_token_signed_response_alg = match self.id_token_signed_response_alg.as_deref() {
            // OIDC Registration §2: "The default, if omitted, is RS256."
            None => SigningAlg::RS256,
            Some(a) => match SigningAlg::parse(a) {
                Some(alg) => alg,
                None => {
                    return Err(meta(format!(
                        "id_token_signed_response_alg `{a}` is not supported (RS256, ES256, PS256, EdDSA)"
                    )));
                }
            },
        };
        let subject_type = match self.subject_type.as_deref() {
            None | Some("pairwise") => SubjectType::Pairwise,
            Some("public") => SubjectType::Public,
            Some(o) => return Err(meta(format!("subject_type `{o}` is not pairwise or public"))),
        };
        let sector_from_uri = match &self.sector_identifier_uri {
            None => None,
            Some(u) => Some(https_url("sector_identifier_uri", u)?.host_str().unwrap_or_default().to_owned()),
        };
        // OIDC Core §8.1: without a sector identifier URI, pairwise needs one host.
        if subject_type == SubjectType::Pairwise && hosts.len() > 1 && sector_from_uri.is_none() {
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
        let allowed_claims = match &self.allowed_claims {
            None => None,
            Some(list) => Some(super::claim_policy::check_allowed_claims(list)?),
        };
        if let Some(p) = &self.purpose
            && !(3..=300).contains(&p.chars().count())
        {
            return Err(meta("purpose must be 3-300 characters"));
        }
        let policy_uri = match &self.policy_uri {
            None => None,
            Some(u) => Some(https_url("policy_uri", u)?.to_string()),
        };
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
            sector_identifier: sector_from_uri.or_else(|| hosts.first().cloned()).unwrap_or_default(),
            application_type,
            default_max_age: self.default_max_age,
            require_auth_time: self.require_auth_time.unwrap_or(false),
            client_id_issued_at: issued_at,
            access_token_strategy,
            refresh_token_absolute_lifetime: self.refresh_token_absolute_lifetime,
            refresh_token_idle_lifetime: self.refresh_token_idle_lifetime,
            jwks,
            jwks_uri,
            token_endpoint_auth_signing_alg,
            sector_identifier_uri: self.sector_identifier_uri.clone(),
            backchannel_logout_uri,
            backchannel_logout_session_required: self.backchannel_logout_session_required.unwrap_or(false),
            frontchannel_logout_uri,
            frontchannel_logout_session_required: self.frontchannel_logout_session_required.unwrap_or(false),
            default_acr_values,
            minimum_acr,
            allowed_claims,
            purpose: self.purpose.clone(),
            policy_uri,
            claim_profile,
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
    fn every_signing_alg_is_registrable_by_its_exact_name() {
        for alg in SigningAlg::ALL {
            let c = md(serde_json::json!({"redirect_uris": ["https://rp.example.vn/cb"],
                "id_token_signed_response_alg": alg.as_str()}))
            .validate("rp".into(), 1)
            .unwrap();
            assert_eq!(c.id_token_signed_response_alg, alg);
            assert_eq!(serde_json::to_value(alg).unwrap(), alg.as_str(), "stored as its JWS name");
        }
        for wrong in ["eddsa", "ps256", "ES384", "Ed25519"] {
            let r = md(serde_json::json!({"redirect_uris": ["https://rp.example.vn/cb"],
                "id_token_signed_response_alg": wrong}))
            .validate("rp".into(), 1);
            assert!(r.is_err(), "{wrong}");
        }
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
                serde_json::json!({"redirect_uris": ["https://a.vn/cb"], "scope": "openid bad\\scope"}),
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
        let service = md(serde_json::json!({"grant_types": ["client_credentials"], "scope": "api:read lgsp:ho-tich"}))
            .validate("svc".into(), 1)
            .unwrap();
        assert!(service.redirect_uris.is_empty() && service.response_types.is_empty());
        assert!(service.scope.contains("lgsp:ho-tich"));
        for bad in [
            serde_json::json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "none"}),
            serde_json::json!({"grant_types": ["refresh_token"], "redirect_uris": ["https://a.vn/cb"]}),
            serde_json::json!({"grant_types": ["client_credentials"], "response_types": ["code"]}),
            serde_json::json!({"grant_types": ["implicit"], "redirect_uris": ["https://a.vn/cb"]}),
            serde_json::json!({"redirect_uris": ["https://a.vn/cb"], "access_token_strategy": "macaroon"}),
            serde_json::json!({"redirect_uris": ["https://a.vn/cb"], "refresh_token_idle_lifetime": 0}),
        ] {
            assert_eq!(md(bad.clone()).validate("x".into(), 1).unwrap_err().code(), "invalid_client_metadata", "{bad}");
        }
        let rt = md(serde_json::json!({"grant_types": ["authorization_code", "refresh_token"], "redirect_uris": ["https://a.vn/cb"]}))
            .validate("rt".into(), 1)
            .unwrap();
        assert!(rt.scope.contains("offline_access"));
        assert!(check_client_id("bad id").is_err());
        for bad in [
            serde_json::json!({"redirect_uris": ["https://a.vn/cb"], "allowed_claims": ["name", "DanToc"]}),
            serde_json::json!({"redirect_uris": ["https://a.vn/cb"], "allowed_claims": ["a b"]}),
            serde_json::json!({"redirect_uris": ["https://a.vn/cb"], "purpose": "x"}),
            serde_json::json!({"redirect_uris": ["https://a.vn/cb"], "policy_uri": "ftp://a.vn/p"}),
        ] {
            assert_eq!(md(bad.clone()).validate("x".into(), 1).unwrap_err().code(), "invalid_client_metadata", "{bad}");
        }
        let c =
            md(serde_json::json!({"redirect_uris": ["https://a.vn/cb"], "allowed_claims": ["name", "verified_claims"],
            "purpose": "Cấp phiếu lý lịch tư pháp", "policy_uri": "https://a.vn/privacy"}))
            .validate("x".into(), 1)
            .unwrap();
        let echo = c.registration_response();
        assert_eq!(echo["allowed_claims"], serde_json::json!(["name", "verified_claims"]));
        assert_eq!(echo["purpose"], "Cấp phiếu lý lịch tư pháp");
        assert_eq!(echo["policy_uri"], "https://a.vn/privacy");
        assert!(check_client_id("portal-tinh_01").is_ok());
    }

    #[test]
    fn minimum_acr_is_validated_and_echoed() {
        let base = serde_json::json!({"redirect_uris": ["https://rp.example.vn/cb"]});
        let with = |extra: serde_json::Value| {
            let mut v = base.clone();
            v.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            md(v).validate("rp".into(), 1)
        };
        let c = with(serde_json::json!({"minimum_acr": "urn:vn:local:staff"})).unwrap();
        assert_eq!(c.minimum_acr.as_deref(), Some("urn:vn:local:staff"));
        assert_eq!(c.registration_response()["minimum_acr"], "urn:vn:local:staff");
        assert_eq!(
            with(serde_json::json!({"minimum_acr": "LoA2"})).unwrap().minimum_acr.as_deref(),
            Some("urn:vn:eid:loa:2")
        );
        let e = with(serde_json::json!({"minimum_acr": "gold"})).unwrap_err();
        assert_eq!(e.code(), "invalid_client_metadata");
        assert!(e.to_string().contains("minimum_acr"));
        assert_eq!(with(serde_json::json!({})).unwrap().minimum_acr, None);
        assert!(with(serde_json::json!({})).unwrap().registration_response().get("minimum_acr").is_none());
    }
}
