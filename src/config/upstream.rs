//! Upstream identity providers (the national e-ID and other OpenID Providers we broker):
//! raw `[[upstream]]` tables from `dinhdanh.toml` (or the file named by
//! `DINHDANH_UPSTREAMS_FILE`), validated into [`UpstreamConfig`].
//!
//! The operator registers `{issuer}/broker/callback` (our issuer) as the redirect URI at
//! each upstream, `{issuer}/broker/logged-out` as its post-logout redirect URI and
//! `{issuer}/broker/backchannel-logout` as its back-channel logout URI.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use url::Url;

use super::{ConfigError, SecretString};
use crate::protocol::upstream::UpstreamProfile;

/// The path of the callback every upstream sends the browser back to.
pub const CALLBACK_PATH: &str = "/broker/callback";
/// The path an upstream sends the browser back to after signing the person out there.
pub const LOGGED_OUT_PATH: &str = "/broker/logged-out";
/// Where an upstream POSTs its logout tokens (its `backchannel_logout_uri` for us).
pub const BACKCHANNEL_LOGOUT_PATH: &str = "/broker/backchannel-logout";

/// ID token algorithms an upstream may use unless configured otherwise.
pub const DEFAULT_ID_TOKEN_ALGS: &[&str] = &["RS256", "ES256", "PS256"];
/// ID token algorithms that can be allowed at all (asymmetric only).
pub const KNOWN_ID_TOKEN_ALGS: &[&str] =
    &["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA"];

/// One `[[upstream]]` table as written.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamSettings {
    /// Slug used in URLs (`/broker/{id}/start`).
    pub id: Option<String>,
    /// Shown on the login button.
    pub display_name: Option<String>,
    /// The upstream's issuer identifier (discovery at `issuer/.well-known/openid-configuration`
    /// unless the endpoints are given).
    pub issuer: Option<String>,
    /// Explicit authorization endpoint (then token endpoint and JWKS URI are required).
    pub authorization_endpoint: Option<String>,
    /// Explicit token endpoint.
    pub token_endpoint: Option<String>,
    /// Explicit JWK Set URL.
    pub jwks_uri: Option<String>,
    /// Explicit userinfo endpoint.
    pub userinfo_endpoint: Option<String>,
    /// Explicit end-session endpoint (RP-Initiated Logout).
    pub end_session_endpoint: Option<String>,
    /// Also sign the person out at the upstream when they sign out here (default true;
    /// needs the upstream's `end_session_endpoint`).
    pub logout: Option<bool>,
    /// Our client id at the upstream.
    pub client_id: Option<String>,
    /// Our client secret at the upstream (prefer the file setting).
    pub client_secret: Option<SecretString>,
    /// File holding the client secret.
    pub client_secret_file: Option<PathBuf>,
    /// `client_secret_basic` (default) or `client_secret_post`.
    pub token_endpoint_auth_method: Option<String>,
    /// Scopes to ask for (default `openid`).
    pub scopes: Option<Vec<String>>,
    /// `national_portal` (default) or `oidc`.
    pub profile: Option<String>,
    /// The `acr_values` to send per level.
    pub acr_values: Option<AcrValueSettings>,
    /// Allowed ID token algorithms.
    pub id_token_algs: Option<Vec<String>>,
}

/// `acr_values = { level1 = "LoA1", level2 = "LoA2" }`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcrValueSettings {
    /// Sent when level 1 is enough.
    pub level1: Option<String>,
    /// Sent when level 2 is needed.
    pub level2: Option<String>,
}

/// The shape of a `DINHDANH_UPSTREAMS_FILE`: only `[[upstream]]` tables.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct UpstreamsFile {
    #[serde(default)]
    upstream: Vec<UpstreamSettings>,
}

/// Reads a `DINHDANH_UPSTREAMS_FILE`.
pub fn read_upstreams_file(path: &Path) -> Result<Vec<UpstreamSettings>, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError { setting: "DINHDANH_UPSTREAMS_FILE".into(), problem: e.to_string() })?;
    let file: UpstreamsFile = toml::from_str(&text).map_err(|e| ConfigError {
        setting: format!("DINHDANH_UPSTREAMS_FILE ({})", path.display()),
        problem: e.message().to_owned(),
    })?;
    Ok(file.upstream)
}

/// How we authenticate at the upstream's token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamAuthMethod {
    /// HTTP Basic.
    ClientSecretBasic,
    /// Form fields.
    ClientSecretPost,
}

/// Where the upstream's endpoints come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpstreamEndpoints {
    /// Discovery, fetched lazily and cached.
    Discovery,
    /// Given in the configuration.
    Explicit {
        /// Authorization endpoint.
        authorization_endpoint: String,
        /// Token endpoint.
        token_endpoint: String,
        /// JWK Set URL.
        jwks_uri: String,
        /// Userinfo endpoint.
        userinfo_endpoint: Option<String>,
        /// End-session endpoint.
        end_session_endpoint: Option<String>,
    },
}

/// A validated upstream provider.
#[derive(Debug, Clone)]
pub struct UpstreamConfig {
    /// Slug.
    pub id: String,
    /// Button label.
    pub display_name: String,
    /// Exact issuer (`iss` of its ID tokens).
    pub issuer: String,
    /// Endpoints.
    pub endpoints: UpstreamEndpoints,
    /// Our client id there.
    pub client_id: String,
    /// Our secret there.
    pub client_secret: SecretString,
    /// Token endpoint authentication.
    pub auth_method: UpstreamAuthMethod,
    /// Scopes asked for.
    pub scopes: Vec<String>,
    /// Claim mapping.
    pub profile: UpstreamProfile,
    /// `acr_values` for level 1.
    pub acr_level1: String,
    /// `acr_values` for level 2.
    pub acr_level2: String,
    /// Allowed ID token algorithms (JWS names).
    pub id_token_algs: Vec<String>,
    /// Whether signing out here also signs out at the upstream.
    pub logout: bool,
}

fn problem(id: &str, field: &str, what: impl Into<String>) -> ConfigError {
    ConfigError { setting: format!("upstream.{id}.{field}"), problem: what.into() }
}

fn endpoint_url(id: &str, field: &str, raw: &str, allow_http: bool) -> Result<String, ConfigError> {
    let url = Url::parse(raw).map_err(|_| problem(id, field, format!("`{raw}` is not an absolute URL")))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_http => {}
        _ => return Err(problem(id, field, "must be an https URL")),
    }
    if url.host_str().is_none_or(str::is_empty) || url.fragment().is_some() || !url.username().is_empty() {
        return Err(problem(id, field, "must have a host, and no fragment or credentials"));
    }
    Ok(raw.to_owned())
}

/// Validates the raw tables. `allow_http` (development: `DINHDANH_ALLOW_PRIVATE_FETCH`)
/// permits plain-http upstreams.
pub fn validate(raw: Vec<UpstreamSettings>, allow_http: bool) -> Result<Vec<UpstreamConfig>, ConfigError> {
    let mut out: Vec<UpstreamConfig> = Vec::new();
    for (n, s) in raw.into_iter().enumerate() {
        let id = s.id.clone().unwrap_or_default();
        let label = if id.is_empty() { format!("#{}", n + 1) } else { id.clone() };
        let slug_ok = (1..=32).contains(&id.len())
            && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !slug_ok {
            return Err(problem(&label, "id", "1-32 characters of a-z 0-9 - _ (used in URLs)"));
        }
        if out.iter().any(|u| u.id == id) {
            return Err(problem(&id, "id", "two upstreams have this id"));
        }
        let display_name = s
            .display_name
            .clone()
            .filter(|d| !d.trim().is_empty())
            .ok_or_else(|| problem(&id, "display_name", "is required (the label of the login button)"))?;
        let issuer_raw = s.issuer.clone().ok_or_else(|| problem(&id, "issuer", "is required"))?;
        let issuer = endpoint_url(&id, "issuer", &issuer_raw, allow_http)?;
        let endpoints = match (&s.authorization_endpoint, &s.token_endpoint, &s.jwks_uri) {
            (None, None, None) => {
                if s.userinfo_endpoint.is_some() || s.end_session_endpoint.is_some() {
                    return Err(problem(&id, "userinfo_endpoint", "give all endpoints explicitly, or none"));
                }
                UpstreamEndpoints::Discovery
            }
            (Some(a), Some(t), Some(j)) => UpstreamEndpoints::Explicit {
                authorization_endpoint: endpoint_url(&id, "authorization_endpoint", a, allow_http)?,
                token_endpoint: endpoint_url(&id, "token_endpoint", t, allow_http)?,
                jwks_uri: endpoint_url(&id, "jwks_uri", j, allow_http)?,
                userinfo_endpoint: s
                    .userinfo_endpoint
                    .as_deref()
                    .map(|u| endpoint_url(&id, "userinfo_endpoint", u, allow_http))
                    .transpose()?,
                end_session_endpoint: s
                    .end_session_endpoint
                    .as_deref()
                    .map(|u| endpoint_url(&id, "end_session_endpoint", u, allow_http))
                    .transpose()?,
            },
            _ => {
                return Err(problem(
                    &id,
                    "authorization_endpoint",
                    "authorization_endpoint, token_endpoint and jwks_uri go together (or use discovery)",
                ));
            }
        };
        let client_id =
            s.client_id.clone().filter(|c| !c.is_empty()).ok_or_else(|| problem(&id, "client_id", "is required"))?;
        let client_secret = match (s.client_secret.clone(), &s.client_secret_file) {
            (Some(_), Some(_)) => return Err(problem(&id, "client_secret", "set it or client_secret_file, not both")),
            (Some(sec), None) => sec,
            (None, Some(f)) => {
                let text = std::fs::read_to_string(f)
                    .map_err(|e| problem(&id, "client_secret_file", format!("{}: {e}", f.display())))?;
                SecretString(text.trim().to_owned())
            }
            (None, None) => return Err(problem(&id, "client_secret", "is required (or client_secret_file)")),
        };
        if client_secret.expose().is_empty() {
            return Err(problem(&id, "client_secret", "is empty"));
        }
        let auth_method = match s.token_endpoint_auth_method.as_deref() {
            None | Some("client_secret_basic") => UpstreamAuthMethod::ClientSecretBasic,
            Some("client_secret_post") => UpstreamAuthMethod::ClientSecretPost,
            Some(o) => {
                return Err(problem(
                    &id,
                    "token_endpoint_auth_method",
                    format!("`{o}` is neither client_secret_basic nor client_secret_post"),
                ));
            }
        };
        let scopes = s.scopes.clone().unwrap_or_else(|| vec!["openid".into()]);
        if !scopes.iter().any(|x| x == "openid") {
            return Err(problem(&id, "scopes", "must include `openid`"));
        }
        if scopes.iter().any(|x| x.is_empty() || !x.bytes().all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')) {
            return Err(problem(&id, "scopes", "scope tokens are visible ASCII without spaces"));
        }
        let profile = match s.profile.as_deref() {
            None | Some("national_portal") => UpstreamProfile::NationalPortal,
            Some("oidc") => UpstreamProfile::Oidc,
            Some(o) => return Err(problem(&id, "profile", format!("`{o}` is neither national_portal nor oidc"))),
        };
        let (d1, d2) = match profile {
            UpstreamProfile::NationalPortal => ("LoA1", "LoA2"),
            UpstreamProfile::Oidc => (crate::protocol::acr::EID_LOA1, crate::protocol::acr::EID_LOA2),
        };
        let acr = s.acr_values.clone().unwrap_or_default();
        let acr_level1 = acr.level1.unwrap_or_else(|| d1.into());
        let acr_level2 = acr.level2.unwrap_or_else(|| d2.into());
        for (field, v) in [("acr_values.level1", &acr_level1), ("acr_values.level2", &acr_level2)] {
            if v.is_empty() || v.contains(' ') {
                return Err(problem(&id, field, "one non-empty acr value"));
            }
        }
        let id_token_algs =
            s.id_token_algs.clone().unwrap_or_else(|| DEFAULT_ID_TOKEN_ALGS.iter().map(|a| (*a).to_owned()).collect());
        if id_token_algs.is_empty() {
            return Err(problem(&id, "id_token_algs", "allow at least one algorithm"));
        }
        if let Some(a) = id_token_algs.iter().find(|a| !KNOWN_ID_TOKEN_ALGS.contains(&a.as_str())) {
            return Err(problem(
                &id,
                "id_token_algs",
                format!("`{a}` is not allowed (one of {})", KNOWN_ID_TOKEN_ALGS.join(", ")),
            ));
        }
        out.push(UpstreamConfig {
            id,
            display_name,
            issuer,
            endpoints,
            client_id,
            client_secret,
            auth_method,
            scopes,
            profile,
            acr_level1,
            acr_level2,
            id_token_algs,
            logout: s.logout.unwrap_or(true),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Vec<UpstreamSettings> {
        toml::from_str::<UpstreamsFile>(text).unwrap().upstream
    }

    const GOOD: &str = r#"
[[upstream]]
id = "vneid"
display_name = "VNeID"
issuer = "https://xacthuc.dichvucong.gov.vn/oauth2/token"
client_id = "abc"
client_secret = "s3cret"
"#;

    #[test]
    fn defaults_follow_the_national_portal() {
        let u = validate(parse(GOOD), false).unwrap().remove(0);
        assert_eq!(u.profile, UpstreamProfile::NationalPortal);
        assert_eq!((u.acr_level1.as_str(), u.acr_level2.as_str()), ("LoA1", "LoA2"));
        assert_eq!(u.scopes, vec!["openid".to_owned()]);
        assert_eq!(u.auth_method, UpstreamAuthMethod::ClientSecretBasic);
        assert_eq!(u.endpoints, UpstreamEndpoints::Discovery);
        assert_eq!(u.id_token_algs, vec!["RS256", "ES256", "PS256"]);
        let oidc = validate(parse(&format!("{GOOD}profile = \"oidc\"\n")), false).unwrap().remove(0);
        assert_eq!(oidc.acr_level2, crate::protocol::acr::EID_LOA2);
    }

    #[test]
    fn upstreams_come_from_dinhdanh_toml_or_their_own_file() {
        let settings: crate::config::Settings =
            toml::from_str(&format!("issuer = \"https://id.tinh.gov.vn\"\n{GOOD}")).unwrap();
        let config = crate::config::Config::from_settings(settings).unwrap();
        assert_eq!(config.upstreams.len(), 1);
        assert_eq!(config.upstreams[0].id, "vneid");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("upstreams.toml");
        std::fs::write(&file, GOOD.replace("vneid", "second")).unwrap();
        let settings: crate::config::Settings = toml::from_str(GOOD).unwrap();
        let config = crate::config::Config::from_settings(crate::config::Settings {
            upstreams_file: Some(file.clone()),
            ..settings
        })
        .unwrap();
        let ids: Vec<&str> = config.upstreams.iter().map(|u| u.id.as_str()).collect();
        assert_eq!(ids, ["vneid", "second"]);
        std::fs::write(&file, "listen = \"0.0.0.0:1\"\n").unwrap();
        let err = crate::config::Config::from_settings(crate::config::Settings {
            upstreams_file: Some(file),
            ..Default::default()
        })
        .unwrap_err();
        assert!(err.setting.starts_with("DINHDANH_UPSTREAMS_FILE"), "{err}");
    }

    #[test]
    fn bad_settings_name_the_field() {
        for (extra, field) in [
            ("profile = \"saml\"\n", "upstream.vneid.profile"),
            ("token_endpoint_auth_method = \"private_key_jwt\"\n", "upstream.vneid.token_endpoint_auth_method"),
            ("id_token_algs = [\"HS256\"]\n", "upstream.vneid.id_token_algs"),
            ("scopes = [\"profile\"]\n", "upstream.vneid.scopes"),
            ("client_secret_file = \"/nonexistent\"\n", "upstream.vneid.client_secret"),
            ("token_endpoint = \"https://a.vn/t\"\n", "upstream.vneid.authorization_endpoint"),
        ] {
            let err = validate(parse(&format!("{GOOD}{extra}")), false).unwrap_err();
            assert_eq!(err.setting, field, "{extra}");
        }
        let http = GOOD.replace("https://", "http://");
        assert_eq!(validate(parse(&http), false).unwrap_err().setting, "upstream.vneid.issuer");
        assert!(validate(parse(&http), true).is_ok(), "development allows http");
        let bad_id = GOOD.replace("\"vneid\"", "\"Bad Id\"");
        assert_eq!(validate(parse(&bad_id), false).unwrap_err().setting, "upstream.Bad Id.id");
        let twice = format!("{GOOD}{GOOD}");
        assert!(validate(parse(&twice), false).unwrap_err().problem.contains("two upstreams"));
    }
}
