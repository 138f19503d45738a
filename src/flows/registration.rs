//! Dynamic Client Registration (RFC 7591) and its management protocol (RFC 7592).
//!
//! Registration is gated by *initial access tokens* an administrator mints
//! (`flows::admin::create_initial_token`) with a [`RegistrationPolicy`]: the grant types,
//! scopes and authentication methods a registration may ask for, and the hosts its
//! redirect and logout URIs may live on. A registration is checked completely before
//! anything is written (metadata rules, the policy, the sector identifier document and
//! `jwks_uri`), then one store transaction spends a use of the initial token and inserts
//! the client. The client gets a registration access token (stored as a digest) to read,
//! replace and delete its own registration at `registration_client_uri`, still bound by
//! the policy it registered under.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Services;
use crate::crypto::client_secret::stored_form;
use crate::crypto::opaque::{random_token, token_digest, verify_digest};
use crate::outbound::{FetchLimits, fetch_json};
use crate::protocol::client::{AuthMethod, Client, ClientMetadata, MetadataError, grant};
use crate::protocol::discovery::paths::REGISTER as REGISTER_PATH;
use crate::protocol::scope::Scopes;
use crate::store::{ClientStatus, NewClient, StoreError};

/// The scope of the personal number, which registration never grants.
const PIN_SCOPE: &str = "vn_pin";

/// What registrations made with one initial access token may ask for. Every field has a
/// default, so `{}` is a valid policy: the code and refresh grants, the OpenID scopes
/// without `vn_pin`, every authentication method, redirect URIs on any host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistrationPolicy {
    /// Grant types a client may register.
    #[serde(default = "default_grant_types")]
    pub grant_types: Vec<String>,
    /// Scopes a client may register (space-separated). Administrative scopes
    /// (`admin:…`) are never allowed here.
    #[serde(default = "default_scope")]
    pub scope: Scopes,
    /// Token endpoint authentication methods a client may register.
    #[serde(default = "default_auth_methods")]
    pub token_endpoint_auth_methods: Vec<String>,
    /// Hosts that redirect, post-logout and logout URIs must be on: `host.example.vn`
    /// (exactly that host), `*.example.vn` (any host strictly below `example.vn`), an IP
    /// address such as `127.0.0.1`. A native app's private-use scheme `vn.example.app`
    /// counts as host `app.example.vn`. Absent: any host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_uri_hosts: Option<Vec<String>>,
}

fn default_grant_types() -> Vec<String> {
    vec![grant::AUTHORIZATION_CODE.into(), grant::REFRESH_TOKEN.into()]
}

fn default_scope() -> Scopes {
    Scopes::parse("openid profile email phone address offline_access")
}

/// The methods registration offers.
const AUTH_METHODS: &[&str] =
    &["client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt", "none"];

fn default_auth_methods() -> Vec<String> {
    AUTH_METHODS.iter().map(|m| (*m).to_owned()).collect()
}

impl Default for RegistrationPolicy {
    fn default() -> Self {
        Self {
            grant_types: default_grant_types(),
            scope: default_scope(),
            token_endpoint_auth_methods: default_auth_methods(),
            redirect_uri_hosts: None,
        }
    }
}

/// Checks a host pattern (see [`RegistrationPolicy::redirect_uri_hosts`]) and returns
/// it lowercased.
pub fn check_host_pattern(raw: &str) -> Result<String, String> {
    let p = raw.trim().to_ascii_lowercase();
    let bad = |why: &str| Err(format!("host pattern `{raw}`: {why}"));
    let (wild, rest) = match p.strip_prefix("*.") {
        Some(r) => (true, r),
        None => (false, p.as_str()),
    };
    let is_ip = rest.parse::<std::net::Ipv4Addr>().is_ok()
        || rest
            .strip_prefix('[')
            .and_then(|r| r.strip_suffix(']'))
            .is_some_and(|r| r.parse::<std::net::Ipv6Addr>().is_ok());
    if is_ip {
        return if wild { bad("a wildcard cannot stand before an IP address") } else { Ok(p) };
    }
    if rest.is_empty() || rest.len() > 253 {
        return bad("not a host name");
    }
    let labels: Vec<&str> = rest.split('.').collect();
    let label_ok = |l: &&str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if !labels.iter().all(label_ok) {
        return bad("labels are a-z, 0-9 and inner hyphens (write IDNs in punycode); `*` only as `*.` in front");
    }
    if wild && labels.len() < 2 {
        return bad("too broad: a wildcard needs at least two labels after it (`*.tinh.gov.vn`)");
    }
    Ok(p)
}

/// Whether `host` (lowercase, as `url` renders it) matches a checked pattern.
pub fn host_matches(pattern: &str, host: &str) -> bool {
    match pattern.strip_prefix("*.") {
        Some(suffix) => host
            .strip_suffix(suffix)
            .and_then(|head| head.strip_suffix('.'))
            .is_some_and(|label| !label.is_empty() && !label.starts_with('.')),
        None => host == pattern,
    }
}

/// The host a URI is judged by: its host, or for a private-use scheme (`vn.tinh.app:/cb`)
/// the reversed scheme (`app.tinh.vn`).
fn policy_host(uri: &str) -> Option<String> {
    let url = url::Url::parse(uri).ok()?;
    match url.host_str() {
        Some(h) if !h.is_empty() => Some(h.to_owned()),
        _ if url.scheme().contains('.') => Some(url.scheme().split('.').rev().collect::<Vec<_>>().join(".")),
        _ => None,
    }
}

impl RegistrationPolicy {
    /// Reads and checks a policy document (unknown members refused, so a typo cannot
    /// silently widen a policy).
    pub fn from_json(v: &Value) -> Result<Self, String> {
        let p: Self = serde_json::from_value(v.clone()).map_err(|e| format!("policy: {e}"))?;
        p.checked()
    }

    /// The policy with its lists checked and normalised.
    pub fn checked(mut self) -> Result<Self, String> {
        if self.grant_types.is_empty() {
            return Err("policy: grant_types must not be empty".into());
        }
        for g in &self.grant_types {
            if !grant::SUPPORTED.contains(&g.as_str()) {
                return Err(format!("policy: grant type `{g}` is not supported"));
            }
        }
        if self.token_endpoint_auth_methods.is_empty() {
            return Err("policy: token_endpoint_auth_methods must not be empty".into());
        }
        for m in &self.token_endpoint_auth_methods {
            if !AUTH_METHODS.contains(&m.as_str()) {
                return Err(format!("policy: token_endpoint_auth_method `{m}` is not supported"));
            }
        }
        if let Some(s) = self.scope.iter().find(|s| s.starts_with("admin:")) {
            return Err(format!("policy: `{s}` is an administrative scope; register such clients as an administrator"));
        }
        if self.scope.contains(PIN_SCOPE) {
            return Err(format!("policy: `{PIN_SCOPE}` is granted only by an administrator (CLI or admin API)"));
        }
        if let Some(hosts) = &self.redirect_uri_hosts {
            self.redirect_uri_hosts = Some(hosts.iter().map(|h| check_host_pattern(h)).collect::<Result<_, _>>()?);
        }
        Ok(self)
    }

    /// The policy as stored and printed.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    fn host_allowed(&self, uri: &str) -> bool {
        match &self.redirect_uri_hosts {
            None => true,
            Some(patterns) => policy_host(uri).is_some_and(|h| patterns.iter().any(|p| host_matches(p, &h))),
        }
    }

    /// Narrows a client that registered no `scope` (and so got the default) to what
    /// the policy allows, keeping `openid`.
    pub fn narrow_default_scope(&self, client: &mut Client) {
        client.scope = client.scope.intersect(&self.scope);
    }

    /// Whether `client` stays within the policy; RFC 7591 §3.2.2 errors otherwise.
    pub fn check(&self, client: &Client) -> Result<(), MetadataError> {
        let meta = |m: String| MetadataError::InvalidClientMetadata(m);
        for g in &client.grant_types {
            if !self.grant_types.contains(g) {
                return Err(meta(format!("grant type `{g}` is not allowed by the initial access token's policy")));
            }
        }
        let method = client.token_endpoint_auth_method.as_str();
        if !self.token_endpoint_auth_methods.iter().any(|m| m == method) {
            return Err(meta(format!("token_endpoint_auth_method `{method}` is not allowed by the policy")));
        }
        if let Some(s) = client.scope.iter().find(|s| !self.scope.contains(s)) {
            return Err(meta(format!("scope `{s}` is not allowed by the initial access token's policy")));
        }
        for uri in &client.redirect_uris {
            if !self.host_allowed(uri) {
                return Err(MetadataError::InvalidRedirectUri(format!(
                    "the host of {uri} is not allowed by the initial access token's policy"
                )));
            }
        }
        let others = client
            .post_logout_redirect_uris
            .iter()
            .chain(&client.backchannel_logout_uri)
            .chain(&client.frontchannel_logout_uri);
        for uri in others {
            if !self.host_allowed(uri) {
                return Err(meta(format!("the host of {uri} is not allowed by the initial access token's policy")));
            }
        }
        Ok(())
    }
}

/// Fetches what the metadata points at and checks it: OIDC Registration §5, every
/// redirect URI is listed in the `sector_identifier_uri` document (a JSON array of
/// strings); `jwks_uri` serves a JWK Set. Fetches follow [`crate::outbound`]'s rules.
pub async fn check_remote_documents(client: &Client, limits: &FetchLimits) -> Result<(), MetadataError> {
    // Both documents are fetched at once, so a registration costs one fetch deadline.
    let (sector, jwks) = tokio::join!(
        async {
            match &client.sector_identifier_uri {
                Some(uri) => check_sector_document(client, uri, limits).await,
                None => Ok(()),
            }
        },
        async {
            match &client.jwks_uri {
                Some(uri) => check_jwks_document(uri, limits).await,
                None => Ok(()),
            }
        }
    );
    sector.and(jwks)
}

async fn check_sector_document(client: &Client, uri: &str, limits: &FetchLimits) -> Result<(), MetadataError> {
    let meta = |m: String| MetadataError::InvalidClientMetadata(m);
    let doc = fetch_json(uri, limits).await.map_err(|e| meta(format!("sector_identifier_uri: {e}")))?;
    let Some(listed) = doc.as_array() else {
        return Err(meta("sector_identifier_uri: the document must be a JSON array of redirect URIs".into()));
    };
    let listed: Vec<&str> = listed.iter().filter_map(Value::as_str).collect();
    match client.redirect_uris.iter().find(|r| !listed.contains(&r.as_str())) {
        // The OpenID Dynamic OP plan expects `invalid_client_metadata`: the sector
        // document (metadata) disagrees with the redirect URIs.
        Some(missing) => Err(meta(format!("{missing} is not listed in the sector_identifier_uri document"))),
        None => Ok(()),
    }
}

async fn check_jwks_document(uri: &str, limits: &FetchLimits) -> Result<(), MetadataError> {
    let meta = |m: String| MetadataError::InvalidClientMetadata(m);
    let doc = fetch_json(uri, limits).await.map_err(|e| meta(format!("jwks_uri: {e}")))?;
    if doc.get("keys").is_some_and(Value::is_array) {
        Ok(())
    } else {
        Err(meta("jwks_uri: the document is not a JWK Set ({\"keys\": [...]})".into()))
    }
}

/// Why a registration request failed (RFC 7591 §3.2.2, RFC 7592 §2, RFC 6750 §3.1).
#[derive(Debug, thiserror::Error)]
pub enum RegistrationError {
    /// 401 `invalid_token`: the initial or registration access token is missing, unknown,
    /// expired, used up, or not this client's.
    #[error("invalid_token: {0}")]
    InvalidToken(String),
    /// 400 `invalid_client_metadata` / `invalid_redirect_uri`.
    #[error("{0}")]
    Metadata(#[from] MetadataError),
    /// The store failed (logged; 503 without detail).
    #[error("temporarily unavailable")]
    Unavailable,
}

fn unavailable(e: StoreError) -> RegistrationError {
    tracing::error!(error = %e, "durable store failed during registration");
    RegistrationError::Unavailable
}

/// The audit line of a registration change: `action` or `action.failed` with the RFC
/// error code and reason (metadata messages name rules and URIs, never secrets).
async fn audit(
    svc: &Services,
    now: i64,
    actor: String,
    action: &str,
    subject: &str,
    failure: Option<&RegistrationError>,
) {
    let (action, outcome, detail) = match failure {
        None => (action.to_owned(), "success", serde_json::json!({})),
        Some(e) => {
            let code = match e {
                RegistrationError::InvalidToken(_) => "invalid_token",
                RegistrationError::Metadata(m) => m.code(),
                RegistrationError::Unavailable => "temporarily_unavailable",
            };
            (format!("{action}.failed"), "failure", serde_json::json!({"error": code, "reason": e.to_string()}))
        }
    };
    let event = crate::audit::AuditEvent {
        at: now,
        actor,
        action,
        subject: Some(subject.to_owned()),
        outcome: outcome.to_owned(),
        detail,
    };
    let _ = crate::audit::record(svc.store.as_ref(), event).await;
}

fn invalid_token(m: &str) -> RegistrationError {
    RegistrationError::InvalidToken(m.to_owned())
}

/// The RFC 7592 management URL of a client.
pub fn registration_client_uri(issuer: &str, client_id: &str) -> String {
    format!(
        "{issuer}{REGISTER_PATH}/{}",
        url::form_urlencoded::byte_serialize(client_id.as_bytes()).collect::<String>()
    )
}

/// Reads a request body as metadata; the server issues `client_id` and `client_secret`,
/// so values sent for them are ignored.
fn metadata_of(body: &Value) -> Result<ClientMetadata, MetadataError> {
    if !body.is_object() {
        return Err(MetadataError::InvalidClientMetadata("the body must be a JSON object".into()));
    }
    let mut md: ClientMetadata = serde_json::from_value(body.clone())
        .map_err(|e| MetadataError::InvalidClientMetadata(format!("malformed metadata: {e}")))?;
    md.client_id = None;
    md.client_secret = None;
    Ok(md)
}

/// Validates metadata under `policy` into a client, fetching its remote documents.
async fn validated(
    svc: &Services,
    md: &ClientMetadata,
    policy: &RegistrationPolicy,
    client_id: String,
    issued_at: i64,
) -> Result<Client, MetadataError> {
    let mut client = md.validate(client_id, issued_at)?;
    // The personal number goes only to clients an administrator entitled (DOMAIN §7.2):
    // whatever the initial access token's policy says, never through registration.
    if client.scope.contains(PIN_SCOPE) {
        return Err(MetadataError::InvalidClientMetadata(format!(
            "scope `{PIN_SCOPE}` is granted only by an administrator, not through dynamic registration"
        )));
    }
    if md.scope.is_none() {
        policy.narrow_default_scope(&mut client);
    }
    policy.check(&client)?;
    check_remote_documents(&client, &FetchLimits::from_config(&svc.config)).await?;
    Ok(client)
}

/// The response of a registration or management call: the metadata, the secret when
/// there is a new one, and the management URL and token.
fn response(svc: &Services, client: &Client, secret: Option<&str>, registration_token: &str) -> Value {
    let mut v = client.registration_response();
    if let Some(obj) = v.as_object_mut() {
        if let Some(s) = secret {
            obj.insert("client_secret".into(), s.into());
        }
        obj.insert("registration_access_token".into(), registration_token.into());
        obj.insert(
            "registration_client_uri".into(),
            registration_client_uri(&svc.config.issuer, &client.client_id).into(),
        );
    }
    v
}

/// `POST /register` (RFC 7591 §3): `initial_token` is the Bearer token of the request.
pub async fn register(
    svc: &Services,
    initial_token: Option<&str>,
    body: &Value,
    now: i64,
) -> Result<Value, RegistrationError> {
    let initial_token = initial_token.ok_or_else(|| invalid_token("registration needs an initial access token"))?;
    let initial_digest = token_digest(initial_token);
    let stored = svc.store.find_initial_token(&initial_digest).await.map_err(unavailable)?;
    let Some(stored) = stored.filter(|t| t.usable(now)) else {
        return Err(invalid_token("the initial access token is unknown, expired, revoked or used up"));
    };
    let policy = RegistrationPolicy::from_json(&stored.policy).map_err(|e| {
        tracing::error!(error = %e, token = %stored.id, "stored registration policy does not parse");
        RegistrationError::Unavailable
    })?;
    let client_id = uuid::Uuid::now_v7().simple().to_string();
    let actor = format!("initial_token:{}", stored.id);
    let checked = match metadata_of(body) {
        Ok(md) => validated(svc, &md, &policy, client_id.clone(), now).await,
        Err(e) => Err(e),
    };
    let client = match checked {
        Ok(c) => c,
        Err(e) => {
            let e = RegistrationError::Metadata(e);
            audit(svc, now, actor, "client.register", &client_id, Some(&e)).await;
            return Err(e);
        }
    };
    let secret = needs_secret(&client).then(random_token);
    let registration_token = random_token();
    let policy_json = policy.to_json();
    let secret_digest = match secret.as_deref() {
        Some(s) => Some(
            stored_form(
                &client.client_id,
                s,
                client.token_endpoint_auth_method == AuthMethod::ClientSecretJwt,
                Some(&svc.kek),
            )
            .map_err(|e| {
                tracing::error!(error = %e, "sealing a client secret failed");
                RegistrationError::Unavailable
            })?,
        ),
        None => None,
    };
    let registration_digest = token_digest(&registration_token);
    let new = NewClient {
        client: &client,
        secret_digest: secret_digest.as_deref(),
        registration_token_digest: Some(&registration_digest),
        registration_policy: Some(&policy_json),
        initial_token_digest: Some(&initial_digest),
    };
    if !svc.store.create_client(new, now).await.map_err(unavailable)? {
        let e = invalid_token("the initial access token is expired, revoked or used up");
        audit(svc, now, actor, "client.register", &client_id, Some(&e)).await;
        return Err(e);
    }
    audit(svc, now, actor, "client.register", &client_id, None).await;
    Ok(response(svc, &client, secret.as_deref(), &registration_token))
}

/// Whether the client authenticates with a secret we issue.
fn needs_secret(client: &Client) -> bool {
    !matches!(client.token_endpoint_auth_method, AuthMethod::None | AuthMethod::PrivateKeyJwt)
}

/// Finds an active, dynamically registered client whose registration access token is
/// `token` (RFC 7592 §2: anything else is 401).
async fn managed(
    svc: &Services,
    client_id: &str,
    token: Option<&str>,
) -> Result<crate::store::ClientRecord, RegistrationError> {
    let token = token.ok_or_else(|| invalid_token("a registration access token is required"))?;
    let record = svc.store.get_client(client_id).await.map_err(unavailable)?;
    // A digest comparison whether or not the client exists, so timing says nothing.
    let expected = record.as_ref().and_then(|r| r.registration_token_digest.clone()).unwrap_or_default();
    let ok = verify_digest(token, &expected) && !expected.is_empty();
    match record {
        Some(r) if ok && r.status == ClientStatus::Active => Ok(r),
        _ => Err(invalid_token("the registration access token is not valid for this client")),
    }
}

/// `GET /register/{client_id}` (RFC 7592 §2.1). The secret is not shown again: only its
/// digest is kept.
pub async fn read(svc: &Services, client_id: &str, token: Option<&str>) -> Result<Value, RegistrationError> {
    let record = managed(svc, client_id, token).await?;
    Ok(response(svc, &record.client, None, token.unwrap_or_default()))
}

/// `PUT /register/{client_id}` (RFC 7592 §2.2): the body replaces the metadata (omitted
/// fields take their defaults), under the policy of the original registration. The body
/// must name the client; a `client_secret` in it must be the current one. A client that
/// becomes confidential gets a new secret in the response.
pub async fn update(
    svc: &Services,
    client_id: &str,
    token: Option<&str>,
    body: &Value,
    now: i64,
) -> Result<Value, RegistrationError> {
    let record = managed(svc, client_id, token).await?;
    let meta = |m: &str| RegistrationError::Metadata(MetadataError::InvalidClientMetadata(m.to_owned()));
    if body.get("client_id").and_then(Value::as_str) != Some(client_id) {
        return Err(meta("the body must carry this client's client_id"));
    }
    if let Some(sent) = body.get("client_secret") {
        let matches =
            sent.as_str().zip(record.secret_digest.as_deref()).is_some_and(|(s, digest)| verify_digest(s, digest));
        if !matches {
            return Err(meta("client_secret does not match the current secret"));
        }
    }
    let policy = match &record.registration_policy {
        Some(p) => RegistrationPolicy::from_json(p).map_err(|e| {
            tracing::error!(error = %e, client_id, "stored registration policy does not parse");
            RegistrationError::Unavailable
        })?,
        None => return Err(invalid_token("this client is not managed through the registration endpoint")),
    };
    let actor = format!("client:{client_id}");
    let checked = match metadata_of(body) {
        Ok(md) => validated(svc, &md, &policy, client_id.to_owned(), record.client.client_id_issued_at).await,
        Err(e) => Err(e),
    };
    let client = match checked {
        Ok(c) => c,
        Err(e) => {
            let e = RegistrationError::Metadata(e);
            audit(svc, now, actor, "client.update", client_id, Some(&e)).await;
            return Err(e);
        }
    };
    let (digest, new_secret) = match (needs_secret(&client), record.secret_digest) {
        (false, _) => (None, None),
        (true, Some(d)) => (Some(d), None),
        (true, None) => {
            let s = random_token();
            let recoverable = client.token_endpoint_auth_method == AuthMethod::ClientSecretJwt;
            let stored = stored_form(&client.client_id, &s, recoverable, Some(&svc.kek)).map_err(|e| {
                tracing::error!(error = %e, "sealing a client secret failed");
                RegistrationError::Unavailable
            })?;
            (Some(stored), Some(s))
        }
    };
    if !svc.store.update_client(&client, digest.as_deref(), now).await.map_err(unavailable)? {
        return Err(invalid_token("the registration access token is not valid for this client"));
    }
    svc.clients.forget(client_id);
    audit(svc, now, actor, "client.update", client_id, None).await;
    Ok(response(svc, &client, new_secret.as_deref(), token.unwrap_or_default()))
}

/// `DELETE /register/{client_id}` (RFC 7592 §2.3): the client, its consents and refresh
/// tokens are gone; its registration access token with it.
pub async fn delete(svc: &Services, client_id: &str, token: Option<&str>, now: i64) -> Result<(), RegistrationError> {
    managed(svc, client_id, token).await?;
    svc.store.delete_client(client_id).await.map_err(unavailable)?;
    svc.clients.forget(client_id);
    audit(svc, now, format!("client:{client_id}"), "client.delete", client_id, None).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(json: Value) -> Client {
        serde_json::from_value::<ClientMetadata>(json).unwrap().validate("c".into(), 1).unwrap()
    }

    #[test]
    fn host_patterns_are_exact_and_safe() {
        for (pattern, ok) in [
            ("*.tinh.gov.vn", true),
            ("Portal.Tinh.Gov.VN", true),
            ("127.0.0.1", true),
            ("[::1]", true),
            ("xn--tnh-8na.vn", true),
            ("*.vn", false),
            ("*", false),
            ("*.*.gov.vn", false),
            ("a*.tinh.gov.vn", false),
            ("tinh.*.vn", false),
            ("*.127.0.0.1", false),
            ("tỉnh.vn", false),
            ("-a.vn", false),
            ("a..vn", false),
            ("", false),
            ("https://a.vn", false),
            ("a.vn/path", false),
            ("a.vn:443", false),
        ] {
            assert_eq!(check_host_pattern(pattern).is_ok(), ok, "{pattern}");
        }
        assert_eq!(check_host_pattern("Portal.Tinh.Gov.VN").unwrap(), "portal.tinh.gov.vn");
        for (pattern, host, ok) in [
            ("*.tinh.gov.vn", "dichvucong.tinh.gov.vn", true),
            ("*.tinh.gov.vn", "a.b.tinh.gov.vn", true),
            ("*.tinh.gov.vn", "tinh.gov.vn", false),
            ("*.tinh.gov.vn", "eviltinh.gov.vn", false),
            ("*.tinh.gov.vn", "tinh.gov.vn.evil.com", false),
            ("*.tinh.gov.vn", ".tinh.gov.vn", false),
            ("tinh.gov.vn", "tinh.gov.vn", true),
            ("tinh.gov.vn", "a.tinh.gov.vn", false),
            ("127.0.0.1", "127.0.0.1", true),
            ("127.0.0.1", "127.0.0.2", false),
        ] {
            assert_eq!(host_matches(pattern, host), ok, "{pattern} vs {host}");
        }
    }

    #[test]
    fn policies_parse_strictly() {
        assert_eq!(RegistrationPolicy::from_json(&serde_json::json!({})).unwrap(), RegistrationPolicy::default());
        for bad in [
            serde_json::json!({"grant_type": ["authorization_code"]}),
            serde_json::json!({"grant_types": []}),
            serde_json::json!({"grant_types": ["implicit"]}),
            serde_json::json!({"token_endpoint_auth_methods": ["tls_client_auth"]}),
            serde_json::json!({"scope": "openid admin:clients"}),
            serde_json::json!({"scope": "openid vn_pin"}),
            serde_json::json!({"redirect_uri_hosts": ["*.vn"]}),
            serde_json::json!({"redirect_uri_hosts": "tinh.gov.vn"}),
        ] {
            assert!(RegistrationPolicy::from_json(&bad).is_err(), "{bad}");
        }
        let p = RegistrationPolicy::from_json(&serde_json::json!({"redirect_uri_hosts": ["*.Tinh.Gov.Vn"]})).unwrap();
        assert_eq!(p.to_json()["redirect_uri_hosts"], serde_json::json!(["*.tinh.gov.vn"]));
    }

    #[test]
    fn clients_are_held_to_the_policy() {
        let p = RegistrationPolicy::from_json(&serde_json::json!({
            "grant_types": ["authorization_code"],
            "scope": "openid profile",
            "token_endpoint_auth_methods": ["client_secret_basic", "none"],
            "redirect_uri_hosts": ["*.tinh.gov.vn", "127.0.0.1", "app.tinh.gov.vn"],
        }))
        .unwrap();
        let ok = client(serde_json::json!({"redirect_uris": ["https://a.tinh.gov.vn/cb"], "scope": "openid profile"}));
        assert!(p.check(&ok).is_ok());
        let native = client(serde_json::json!({
            "application_type": "native", "token_endpoint_auth_method": "none", "scope": "openid", "subject_type": "public",
            "redirect_uris": ["vn.gov.tinh.app:/cb", "http://127.0.0.1:7000/cb"],
        }));
        assert!(p.check(&native).is_ok());
        for (bad, code) in [
            (
                serde_json::json!({"redirect_uris": ["https://a.other.vn/cb"], "scope": "openid"}),
                "invalid_redirect_uri",
            ),
            (
                serde_json::json!({"redirect_uris": ["https://tinh.gov.vn/cb"], "scope": "openid"}),
                "invalid_redirect_uri",
            ),
            (
                serde_json::json!({"redirect_uris": ["https://a.tinh.gov.vn/cb"], "scope": "openid email"}),
                "invalid_client_metadata",
            ),
            (
                serde_json::json!({"redirect_uris": ["https://a.tinh.gov.vn/cb"], "scope": "openid",
                                   "grant_types": ["authorization_code", "refresh_token"]}),
                "invalid_client_metadata",
            ),
            (
                serde_json::json!({"redirect_uris": ["https://a.tinh.gov.vn/cb"], "scope": "openid",
                                   "token_endpoint_auth_method": "client_secret_post"}),
                "invalid_client_metadata",
            ),
            (
                serde_json::json!({"redirect_uris": ["https://a.tinh.gov.vn/cb"], "scope": "openid",
                                   "post_logout_redirect_uris": ["https://evil.vn/bye"]}),
                "invalid_client_metadata",
            ),
            (
                serde_json::json!({"redirect_uris": ["https://a.tinh.gov.vn/cb"], "scope": "openid",
                                   "backchannel_logout_uri": "https://10.0.0.1.nip.io/logout"}),
                "invalid_client_metadata",
            ),
        ] {
            assert_eq!(p.check(&client(bad.clone())).unwrap_err().code(), code, "{bad}");
        }
        // No scope registered: the default narrows to the policy instead of failing.
        let mut c = client(serde_json::json!({"redirect_uris": ["https://a.tinh.gov.vn/cb"]}));
        p.narrow_default_scope(&mut c);
        assert_eq!(c.scope.to_string(), "openid profile");
        assert!(p.check(&c).is_ok());
    }

    #[test]
    fn management_urls_escape_the_id() {
        assert_eq!(registration_client_uri("https://id.vn", "a:b"), "https://id.vn/register/a%3Ab");
    }
}
