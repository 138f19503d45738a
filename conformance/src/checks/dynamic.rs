//! The Dynamic OP plan (`oidcc-dynamic-certification-test-plan`), for what
//! applies to a code-flow OP: registrations with `jwks_uri`, a
//! `sector_identifier_uri` (good and bad), redirect URIs with a query, and
//! `logo_uri` / `policy_uri` / `tos_uri`; plus `oidcc-server-rotate-keys`.
//!
//! Clients are registered at the discovered `registration_endpoint` with
//! the configured initial access token (RFC 7591 §3, `Authorization:
//! Bearer`), used, and deleted again (RFC 7592, best effort). The documents
//! the OP must fetch (a JWK Set, a sector identifier document) are served
//! from a loopback listener of the runner's own; an OP that may not fetch
//! plain-http loopback URLs cannot be tested that way and those checks are
//! skipped (unless the issuer itself is on loopback, where it is a failure).

use std::time::Duration;

use openidconnect::AuthType;
use reqwest::header::AUTHORIZATION;
use serde_json::{Value, json};
use url::Url;

use crate::jose::RunnerKey;
use crate::listener::Listener;
use crate::rp::{Check, Ctx, Flow, OidcClient, Stop, ensure, error_chain, fail, has_media_type, now, random, skip};

/// The registration endpoint and the initial access token, or a skip.
fn registration_endpoint(ctx: &Ctx<'_>) -> Result<(String, String), Stop> {
    let op = ctx.op()?;
    let Some(endpoint) = op.string("registration_endpoint") else {
        return skip("discovery has no registration_endpoint (dynamic registration is optional)");
    };
    let Some(token) = ctx.opts.initial_access_token.clone() else {
        return skip("no initial access token for the registration endpoint (--initial-access-token)");
    };
    Ok((endpoint.to_string(), token))
}

/// A registered client.
pub(crate) struct Registration {
    pub client_id: String,
    pub client_secret: Option<String>,
    /// The registration response.
    pub response: Value,
}

/// What the registration endpoint answered.
pub(crate) enum Answer {
    Registered(Registration),
    Rejected { status: u16, json: bool, body: Value },
}

/// The common metadata of a confidential code-flow client.
pub(crate) fn client_metadata(name: &str, redirect_uris: &[&str]) -> Value {
    json!({
        "client_name": format!("conformance {name}"),
        "application_type": "web",
        "redirect_uris": redirect_uris,
        "grant_types": ["authorization_code"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "client_secret_basic",
    })
}

/// POSTs a registration request (RFC 7591 §3.1) and, on success, checks
/// the response (§3.2.1).
pub(crate) async fn try_register(ctx: &Ctx<'_>, body: &Value) -> Result<Answer, Stop> {
    let (endpoint, token) = registration_endpoint(ctx)?;
    let response = ctx
        .http
        .post(&endpoint)
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .json(body)
        .send()
        .await
        .map_err(|e| format!("POST {endpoint}: {}", error_chain(&e)))?;
    let status = response.status().as_u16();
    let json = has_media_type(response.headers(), "application/json");
    let text = response.text().await.map_err(|e| format!("cannot read the registration response: {e}"))?;
    let parsed: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    if status == 401 {
        return fail(format!(
            "the registration endpoint refused the initial access token (HTTP 401): {}",
            describe_error(&parsed)
        ));
    }
    if !(200..300).contains(&status) {
        return Ok(Answer::Rejected { status, json, body: parsed });
    }
    check_registration_response(body, status, json, &parsed)?;
    let client_id = parsed.get("client_id").and_then(Value::as_str).unwrap_or_default().to_string();
    let client_secret = parsed.get("client_secret").and_then(Value::as_str).map(str::to_string);
    Ok(Answer::Registered(Registration { client_id, client_secret, response: parsed }))
}

/// Registers a client and insists on success.
pub(crate) async fn register(ctx: &Ctx<'_>, body: &Value) -> Result<Registration, Stop> {
    match try_register(ctx, body).await? {
        Answer::Registered(r) => Ok(r),
        Answer::Rejected { status, body: answer, .. } => {
            fail(format!("the registration was rejected (HTTP {status}): {}", describe_error(&answer)))
        }
    }
}

fn describe_error(body: &Value) -> String {
    match body.get("error").and_then(Value::as_str) {
        Some(e) => {
            format!("error={e} ({})", body.get("error_description").and_then(Value::as_str).unwrap_or("no description"))
        }
        None => body.to_string().chars().take(200).collect(),
    }
}

/// RFC 7591 §3.2.1: 201, JSON, a `client_id`; a `client_secret` (with
/// `client_secret_expires_at`) for clients that authenticate with one; the
/// registered metadata returned as registered.
pub(crate) fn check_registration_response(sent: &Value, status: u16, json: bool, got: &Value) -> Check {
    ensure!(status == 201, "the registration endpoint answered HTTP {status}, expected 201 (RFC 7591 3.2.1)");
    ensure!(json, "the registration response is not application/json (RFC 7591 3.2.1)");
    ensure!(got.is_object(), "the registration response is not a JSON object");
    ensure!(
        got.get("client_id").and_then(Value::as_str).is_some_and(|c| !c.is_empty()),
        "the registration response has no client_id (RFC 7591 3.2.1)"
    );
    let method = sent.get("token_endpoint_auth_method").and_then(Value::as_str).unwrap_or("client_secret_basic");
    if matches!(method, "client_secret_basic" | "client_secret_post") {
        ensure!(
            got.get("client_secret").and_then(Value::as_str).is_some_and(|s| !s.is_empty()),
            "the client registered for {method} but the response has no client_secret"
        );
    }
    if got.get("client_secret").is_some() {
        ensure!(
            got.get("client_secret_expires_at").is_some_and(Value::is_number),
            "a client_secret was issued without client_secret_expires_at (RFC 7591 3.2.1: REQUIRED)"
        );
    }
    for member in ["redirect_uris", "token_endpoint_auth_method", "jwks_uri", "sector_identifier_uri"] {
        if let (Some(s), Some(g)) = (sent.get(member), got.get(member)) {
            ensure!(s == g, "the registration response has {member} {g}, but {s} was registered");
        }
    }
    Ok(())
}

/// Deletes a registration (RFC 7592 §2.3), best effort: management is
/// optional and this is only tidying up.
pub(crate) async fn delete(ctx: &Ctx<'_>, reg: &Registration) {
    let uri = reg.response.get("registration_client_uri").and_then(Value::as_str);
    let token = reg.response.get("registration_access_token").and_then(Value::as_str);
    if let (Some(uri), Some(token)) = (uri, token) {
        let _ = ctx.http.delete(uri).bearer_auth(token).send().await;
    }
}

async fn delete_all(ctx: &Ctx<'_>, made: &[Registration]) {
    for reg in made {
        delete(ctx, reg).await;
    }
}

/// A client for a registration, with `client_secret_basic` (or sending only
/// `client_id`, for a client assertion, when it has no secret).
pub(crate) fn client_of(ctx: &Ctx<'_>, reg: &Registration, redirect_uri: &str) -> Result<OidcClient, Stop> {
    let auth = if reg.client_secret.is_some() { AuthType::BasicAuth } else { AuthType::RequestBody };
    ctx.client_for(&reg.client_id, reg.client_secret.as_deref(), redirect_uri, auth)
}

/// An RFC 7523 client assertion for `private_key_jwt`.
fn client_assertion(ctx: &Ctx<'_>, key: &RunnerKey, client_id: &str) -> Result<Vec<(String, String)>, Stop> {
    let op = ctx.op()?;
    let audience = op.string("token_endpoint").unwrap_or(op.meta.issuer().as_str()).to_string();
    let t = now();
    let claims =
        json!({"iss": client_id, "sub": client_id, "aud": audience, "jti": random(16), "iat": t, "exp": t + 60});
    let jwt = key.sign(&json!({"typ": "JWT"}), &claims)?;
    Ok(vec![
        ("client_assertion_type".into(), "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into()),
        ("client_assertion".into(), jwt),
    ])
}

/// A code flow with a registered client in `browser`.
async fn flow_with(
    ctx: &Ctx<'_>,
    browser: &crate::browser::Browser,
    reg: &Registration,
    redirect_uri: &str,
    key: Option<&RunnerKey>,
) -> Result<Flow, Stop> {
    let client = client_of(ctx, reg, redirect_uri)?;
    let prep = ctx.prepare(&client, |r| r);
    let visit = ctx.authorize(browser, &prep).await?;
    let extra = match key {
        Some(key) => client_assertion(ctx, key, &reg.client_id)?,
        None => Vec::new(),
    };
    ctx.finish_flow_with(&client, prep, visit, &extra).await
}

fn issuer_is_loopback(ctx: &Ctx<'_>) -> bool {
    Url::parse(&ctx.opts.issuer)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .is_some_and(|h| h == "localhost" || h == "[::1]" || h.starts_with("127."))
}

/// A rejection of a registration pointing at the runner's listener that
/// never fetched it: a skip when the OP is elsewhere (it may not reach this
/// machine's loopback address, or refuse http), a failure otherwise.
fn unfetched(ctx: &Ctx<'_>, what: &str, status: u16, body: &Value) -> Check {
    let why = describe_error(body);
    if issuer_is_loopback(ctx) {
        fail(format!(
            "the OP rejected a registration with a {what} served over http from 127.0.0.1 without fetching it (HTTP {status}: {why}); an OP on loopback must be able to fetch it (for dinhdanh: allow_private_fetch)"
        ))
    } else {
        skip(format!(
            "the OP did not fetch the {what} served from this machine's loopback address and rejected the registration (HTTP {status}: {why})"
        ))
    }
}

/// `redirect_uri` with `extra` added to its query.
fn with_query(uri: &str, extra: &str) -> String {
    let sep = if uri.contains('?') { '&' } else { '?' };
    format!("{uri}{sep}{extra}")
}

/// `oidcc-registration-jwks-uri`: a client registered with a `jwks_uri`
/// (served by the runner) is accepted and can complete a code flow. When
/// the OP offers `private_key_jwt` with RS256 the client authenticates with
/// an assertion signed by the key published there, so the OP must have
/// fetched it; otherwise it is a `client_secret_basic` client that merely
/// carries the `jwks_uri`.
pub(crate) async fn registration_jwks_uri(ctx: &Ctx<'_>) -> Check {
    registration_endpoint(ctx)?;
    let op = ctx.op()?;
    let private_key_jwt = op.lists("token_endpoint_auth_methods_supported", "private_key_jwt")
        && op
            .strings("token_endpoint_auth_signing_alg_values_supported")
            .is_none_or(|algs| algs.iter().any(|a| a == "RS256"));
    let key = RunnerKey::generate()?;
    let listener = Listener::start().await?;
    listener.publish("/jwks.json", "application/json", key.jwks().to_string());
    let jwks_uri = listener.url("/jwks.json");
    let redirect = ctx.opts.redirect_uri.as_str();
    let mut body = client_metadata("jwks_uri", &[redirect]);
    body["jwks_uri"] = json!(jwks_uri);
    if private_key_jwt {
        body["token_endpoint_auth_method"] = json!("private_key_jwt");
        body["token_endpoint_auth_signing_alg"] = json!("RS256");
    }
    let reg = match try_register(ctx, &body).await? {
        Answer::Registered(r) => r,
        Answer::Rejected { status, body, .. } if listener.hits("/jwks.json") == 0 => {
            return unfetched(ctx, "jwks_uri", status, &body);
        }
        Answer::Rejected { status, body, .. } => {
            return fail(format!(
                "a registration with jwks_uri was rejected (HTTP {status}): {}",
                describe_error(&body)
            ));
        }
    };
    let result = async {
        let browser = ctx.browser()?;
        flow_with(ctx, &browser, &reg, redirect, private_key_jwt.then_some(&key)).await?;
        if private_key_jwt {
            ensure!(
                listener.hits("/jwks.json") > 0,
                "the OP accepted a private_key_jwt assertion without fetching the registered jwks_uri"
            );
        }
        Ok(())
    }
    .await;
    delete(ctx, &reg).await;
    result
}

/// `oidcc-registration-sector-uri`: a pairwise client whose
/// `sector_identifier_uri` lists its redirect URIs is accepted after the OP
/// fetched the document (OIDC Registration 5). Two clients of the same
/// sector get the same pairwise `sub`; a pairwise client of another sector
/// (no sector URI: its redirect URI's host) gets another (OIDC Core 8.1).
pub(crate) async fn registration_sector_uri(ctx: &Ctx<'_>) -> Check {
    registration_endpoint(ctx)?;
    let op = ctx.op()?;
    if !op.lists("subject_types_supported", "pairwise") {
        return skip("subject_types_supported does not list pairwise");
    }
    let mut made = Vec::new();
    let result = sector_uri_body(ctx, &mut made).await;
    delete_all(ctx, &made).await;
    result
}

async fn sector_uri_body(ctx: &Ctx<'_>, made: &mut Vec<Registration>) -> Check {
    let r1 = ctx.opts.redirect_uri.clone();
    let mut second = Url::parse(&r1).map_err(|e| format!("bad redirect_uri: {e}"))?;
    let path = format!("{}/second", second.path().trim_end_matches('/'));
    second.set_path(&path);
    let r2 = second.to_string();
    let listener = Listener::start().await?;
    listener.publish("/sector.json", "application/json", json!([r1, r2]).to_string());
    let sector = listener.url("/sector.json");

    let mut body = client_metadata("sector_identifier_uri", &[&r1]);
    body["subject_type"] = json!("pairwise");
    body["sector_identifier_uri"] = json!(sector);
    let a = match try_register(ctx, &body).await? {
        Answer::Registered(r) => r,
        Answer::Rejected { status, body, .. } if listener.hits("/sector.json") == 0 => {
            return unfetched(ctx, "sector_identifier_uri", status, &body);
        }
        Answer::Rejected { status, body, .. } => {
            return fail(format!(
                "a registration whose sector_identifier_uri lists its redirect URI was rejected (HTTP {status}): {}",
                describe_error(&body)
            ));
        }
    };
    let a_subject_type = a.response.get("subject_type").cloned();
    made.push(a);
    ensure!(
        listener.hits("/sector.json") > 0,
        "the OP accepted a sector_identifier_uri without fetching it (OIDC Registration 5: it must check the document lists the redirect URIs)"
    );
    if let Some(t) = a_subject_type {
        ensure!(t == json!("pairwise"), "the registration response has subject_type {t}, but pairwise was registered");
    }
    let mut body_b = client_metadata("sector_identifier_uri (second client)", &[&r2]);
    body_b["subject_type"] = json!("pairwise");
    body_b["sector_identifier_uri"] = json!(sector);
    made.push(register(ctx, &body_b).await?);
    let mut body_c = client_metadata("pairwise without sector_identifier_uri", &[&r1]);
    body_c["subject_type"] = json!("pairwise");
    made.push(register(ctx, &body_c).await?);

    let browser = ctx.browser_with(&[&r2])?;
    let sub_a = flow_with(ctx, &browser, &made[0], &r1, None).await?.id.sub().to_string();
    let sub_b = flow_with(ctx, &browser, &made[1], &r2, None).await?.id.sub().to_string();
    let sub_c = flow_with(ctx, &browser, &made[2], &r1, None).await?.id.sub().to_string();
    ensure!(
        sub_a == sub_b,
        "two pairwise clients with the same sector_identifier_uri got different subs ({sub_a:?}, {sub_b:?}) (OIDC Core 8.1)"
    );
    let redirect_host = Url::parse(&r1).ok().and_then(|u| u.host_str().map(str::to_string));
    if redirect_host.as_deref() != Some("127.0.0.1") {
        ensure!(
            sub_a != sub_c,
            "a pairwise client of another sector (its redirect URI's host) got the same sub {sub_a:?} (OIDC Core 8.1)"
        );
    }
    Ok(())
}

/// `oidcc-registration-sector-bad`: a sector identifier document that does
/// not list the redirect URI makes the registration fail (OIDC Registration
/// 5) with HTTP 400 and JSON. The plan only warns when the error is not
/// `invalid_client_metadata`; that is reported as a skip.
pub(crate) async fn registration_sector_bad(ctx: &Ctx<'_>) -> Check {
    registration_endpoint(ctx)?;
    let op = ctx.op()?;
    if !op.lists("subject_types_supported", "pairwise") {
        return skip("subject_types_supported does not list pairwise");
    }
    let listener = Listener::start().await?;
    let mut other = Url::parse(&ctx.opts.redirect_uri).map_err(|e| format!("bad redirect_uri: {e}"))?;
    other.set_path(&format!("/not-this-client-{}", random(6)));
    other.set_query(None);
    listener.publish("/sector.json", "application/json", json!([other.as_str()]).to_string());
    let mut body = client_metadata("bad sector_identifier_uri", &[&ctx.opts.redirect_uri]);
    body["subject_type"] = json!("pairwise");
    body["sector_identifier_uri"] = json!(listener.url("/sector.json"));
    match try_register(ctx, &body).await {
        Ok(Answer::Registered(reg)) => {
            delete(ctx, &reg).await;
            fail(
                "the OP registered a client whose sector_identifier_uri document does not list its redirect URI (OIDC Registration 5)",
            )
        }
        Err(stop) => Err(stop),
        Ok(Answer::Rejected { status, json, body }) => {
            if listener.hits("/sector.json") == 0 {
                return skip(format!(
                    "the OP rejected the registration without fetching the sector document (HTTP {status}: {}), so the rejection says nothing about its content",
                    describe_error(&body)
                ));
            }
            ensure!(status == 400, "the rejection is HTTP {status}, expected 400 (RFC 7591 3.2.2)");
            ensure!(json, "the rejection is not application/json (RFC 7591 3.2.2)");
            match body.get("error").and_then(Value::as_str) {
                Some("invalid_client_metadata") => Ok(()),
                Some(e) => skip(format!(
                    "rejected as required, but with error={e}; the plan expects invalid_client_metadata (OIDC Registration 3.3) and only warns otherwise"
                )),
                None => fail("the rejection has no error member (RFC 7591 3.2.2)"),
            }
        }
    }
}

const QUERY: &str = "dummy1=lorem&dummy2=ipsum";

/// `oidcc-redirect-uri-query-OK`: a redirect URI registered with a query
/// works, and the response keeps that query (RFC 6749 3.1.2).
pub(crate) async fn redirect_uri_query_ok(ctx: &Ctx<'_>) -> Check {
    registration_endpoint(ctx)?;
    let redirect = with_query(&ctx.opts.redirect_uri, QUERY);
    let reg = register(ctx, &client_metadata("redirect_uri with query", &[&redirect])).await?;
    let result = async {
        let browser = ctx.browser_with(&[&redirect])?;
        let flow = flow_with(ctx, &browser, &reg, &redirect, None).await?;
        let cb = ctx.callback(&flow.visit)?;
        for (k, v) in [("dummy1", "lorem"), ("dummy2", "ipsum")] {
            ensure!(
                cb.get(k) == Some(v),
                "the response at {} lost the registered query parameter {k}={v} (RFC 6749 3.1.2)",
                cb.target
            );
        }
        Ok(())
    }
    .await;
    delete(ctx, &reg).await;
    result
}

/// `oidcc-redirect-uri-query-mismatch`: with a redirect URI registered
/// with a query, a request whose query differs gets an error page.
pub(crate) async fn redirect_uri_query_mismatch(ctx: &Ctx<'_>) -> Check {
    registration_endpoint(ctx)?;
    let registered = with_query(&ctx.opts.redirect_uri, QUERY);
    let requested = with_query(&ctx.opts.redirect_uri, "dummy1=lorem&dummy2=dolor");
    let reg = register(ctx, &client_metadata("redirect_uri with query", &[&registered])).await?;
    let result = async {
        let client = client_of(ctx, &reg, &registered)?;
        let browser = ctx.browser()?;
        let mut prep = ctx.prepare(&client, |r| r);
        prep.set_param("redirect_uri", &requested);
        let visit = ctx.authorize(&browser, &prep).await?;
        super::errors::expect_error_page(&visit, "a redirect_uri whose query differs from the registered one")
    }
    .await;
    delete(ctx, &reg).await;
    result
}

/// `oidcc-redirect-uri-query-added`: a query added to the (static)
/// client's registered redirect URI gets an error page.
pub(crate) async fn redirect_uri_query_added(ctx: &Ctx<'_>) -> Check {
    let client = ctx.client(crate::rp::Which::Basic)?;
    let browser = ctx.browser()?;
    let mut prep = ctx.prepare(&client, |r| r);
    prep.set_param("redirect_uri", &with_query(&ctx.opts.redirect_uri, QUERY));
    let visit = ctx.authorize(&browser, &prep).await?;
    super::errors::expect_error_page(&visit, "a redirect_uri with a query the registered one does not have")
}

/// `oidcc-registration-logo-uri` / `-policy-uri` / `-tos-uri`: the member
/// is accepted (returned as sent) or ignored (left out of the response),
/// never a reason to fail; the client then completes a code flow.
pub(crate) async fn registration_with_uri(ctx: &Ctx<'_>, member: &str, path: &str) -> Check {
    registration_endpoint(ctx)?;
    let mut value = Url::parse(&ctx.opts.redirect_uri).map_err(|e| format!("bad redirect_uri: {e}"))?;
    value.set_path(path);
    value.set_query(None);
    let mut body = client_metadata(member, &[&ctx.opts.redirect_uri]);
    body[member] = json!(value.as_str());
    let reg = register(ctx, &body).await?;
    let result = async {
        if let Some(got) = reg.response.get(member) {
            ensure!(
                got.as_str() == Some(value.as_str()),
                "the registration response has {member} {got}, but {value} was registered"
            );
        }
        let browser = ctx.browser()?;
        flow_with(ctx, &browser, &reg, &ctx.opts.redirect_uri, None).await?;
        Ok(())
    }
    .await;
    delete(ctx, &reg).await;
    result
}

/// How long `oidcc-server-rotate-keys` watches the JWK Set.
pub(crate) const ROTATION_WAIT: Duration = Duration::from_secs(150);

/// `oidcc-server-rotate-keys` (needs `--slow`): while the check watches the
/// OP's JWK Set, someone rotates the OP's signing keys. The new set must be
/// valid and hold a new signing key (OIDC Core 10.1.1); the plan only warns
/// when the old key is gone (a skip here). With no rotation seen it is a
/// skip: the plan leaves that to the tester's attestation.
pub(crate) async fn server_rotate_keys(ctx: &Ctx<'_>) -> Check {
    if !ctx.opts.slow {
        return skip(format!(
            "watches the JWK Set for up to {} s while the OP's keys are rotated; run with --slow",
            ROTATION_WAIT.as_secs()
        ));
    }
    let op = ctx.op()?;
    let jwks_uri = op.meta.jwks_uri().url().to_string();
    let original = fetch_jwks(ctx, &jwks_uri).await?;
    let before = signing_kids(&original);
    let deadline = tokio::time::Instant::now() + ROTATION_WAIT;
    while tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_secs(5)).await;
        let current = fetch_jwks(ctx, &jwks_uri).await?;
        let after = signing_kids(&current);
        if after.iter().any(|k| !before.contains(k)) {
            let mut problems = Vec::new();
            super::discovery::check_jwks(&current, &mut problems);
            ensure!(problems.is_empty(), "the JWK Set after the rotation is invalid: {}", problems.join("; "));
            let dropped: Vec<&String> = before.iter().filter(|k| !after.contains(k)).collect();
            if !dropped.is_empty() {
                return skip(format!(
                    "a new signing key appeared, but the old one(s) {dropped:?} were removed at once (the plan warns: tokens signed just before cannot be verified)"
                ));
            }
            return Ok(());
        }
    }
    skip(format!(
        "no new signing key appeared in the JWK Set within {} s (was a rotation triggered?)",
        ROTATION_WAIT.as_secs()
    ))
}

async fn fetch_jwks(ctx: &Ctx<'_>, uri: &str) -> Result<Value, Stop> {
    let response = ctx.http.get(uri).send().await.map_err(|e| format!("GET {uri}: {}", error_chain(&e)))?;
    ensure!(response.status().is_success(), "GET {uri} answered HTTP {}", response.status());
    Ok(response.json::<Value>().await.map_err(|e| format!("the JWK Set is not JSON: {e}"))?)
}

/// The `kid`s of the keys usable for signatures.
fn signing_kids(jwks: &Value) -> Vec<String> {
    jwks.get("keys")
        .and_then(Value::as_array)
        .map(|keys| {
            keys.iter()
                .filter(|k| k.get("use").and_then(Value::as_str).is_none_or(|u| u == "sig"))
                .filter_map(|k| k.get("kid").and_then(Value::as_str).map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(r: Check) -> String {
        match r {
            Err(Stop::Fail(m)) => m,
            other => format!("unexpected {other:?}"),
        }
    }

    #[test]
    fn registration_response_rules() {
        let sent = client_metadata("t", &["https://rp.example/cb"]);
        let good = json!({
            "client_id": "c1", "client_secret": "s", "client_secret_expires_at": 0,
            "redirect_uris": ["https://rp.example/cb"], "token_endpoint_auth_method": "client_secret_basic",
        });
        assert!(check_registration_response(&sent, 201, true, &good).is_ok());
        assert!(failed(check_registration_response(&sent, 200, true, &good)).contains("201"));
        assert!(failed(check_registration_response(&sent, 201, false, &good)).contains("application/json"));
        let mut no_id = good.clone();
        no_id["client_id"] = json!("");
        assert!(failed(check_registration_response(&sent, 201, true, &no_id)).contains("client_id"));
        let mut no_secret = good.clone();
        if let Some(o) = no_secret.as_object_mut() {
            o.remove("client_secret");
        }
        assert!(failed(check_registration_response(&sent, 201, true, &no_secret)).contains("client_secret"));
        let mut no_expiry = good.clone();
        if let Some(o) = no_expiry.as_object_mut() {
            o.remove("client_secret_expires_at");
        }
        assert!(failed(check_registration_response(&sent, 201, true, &no_expiry)).contains("expires_at"));
        let mut changed = good.clone();
        changed["redirect_uris"] = json!(["https://rp.example/other"]);
        assert!(failed(check_registration_response(&sent, 201, true, &changed)).contains("redirect_uris"));
        // A private_key_jwt client needs no secret.
        let mut pkj = sent.clone();
        pkj["token_endpoint_auth_method"] = json!("private_key_jwt");
        let pkj_got = json!({"client_id": "c2", "redirect_uris": ["https://rp.example/cb"]});
        assert!(check_registration_response(&pkj, 201, true, &pkj_got).is_ok());
    }

    #[test]
    fn queries_and_kids() {
        assert_eq!(with_query("https://rp.example/cb", "a=1"), "https://rp.example/cb?a=1");
        assert_eq!(with_query("https://rp.example/cb?x=y", "a=1"), "https://rp.example/cb?x=y&a=1");
        let jwks = json!({"keys": [
            {"kty": "RSA", "kid": "a", "use": "sig"}, {"kty": "RSA", "kid": "b"}, {"kty": "RSA", "kid": "e", "use": "enc"},
            {"kty": "RSA"}
        ]});
        assert_eq!(signing_kids(&jwks), vec!["a".to_string(), "b".to_string()]);
    }
}
