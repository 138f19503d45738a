//! The Back-Channel Logout OP plan: `oidcc-backchannel-rp-initiated-logout`.
//!
//! The runner registers a client (dynamic registration, so an initial access
//! token is needed) whose `backchannel_logout_uri` is a loopback listener of
//! its own, signs in, logs out at the end_session endpoint, and validates
//! the logout token the OP POSTs there (OIDC Back-Channel Logout 1.0 §2.4 to
//! §2.6); then `prompt=none` must fail.

use std::time::Duration;

use openidconnect::core::CoreJsonWebKeySet;
use serde_json::{Value, json};
use url::Url;

use super::dynamic::{self, Registration};
use super::logout;
use crate::jose::{self, Jws};
use crate::listener::Listener;
use crate::rp::{Check, Ctx, Stop, ensure, error_chain, fail, now, random, skip};

/// The back-channel logout event (Back-Channel Logout 1.0 §2.4).
pub(crate) const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// How long the runner waits for the logout token.
const WAIT: Duration = Duration::from_secs(15);
const PATH: &str = "/backchannel_logout";

/// `oidcc-backchannel-rp-initiated-logout`.
pub(crate) async fn backchannel_rp_initiated_logout(ctx: &Ctx<'_>) -> Check {
    let op = ctx.op()?;
    if op.flag("backchannel_logout_supported") != Some(true) {
        return skip("discovery does not say backchannel_logout_supported");
    }
    let endpoint = logout::end_session_endpoint(ctx)?;
    if ctx.opts.initial_access_token.is_none() || op.string("registration_endpoint").is_none() {
        return skip(
            "needs a client registered with this run's backchannel_logout_uri: an initial access token (--initial-access-token) and a registration_endpoint",
        );
    }
    let listener = Listener::start().await?;
    let redirect = ctx.opts.redirect_uri.clone();
    let plr = match &ctx.opts.post_logout_redirect_uri {
        Some(p) => p.clone(),
        None => {
            let mut u = Url::parse(&redirect).map_err(|e| format!("bad redirect_uri: {e}"))?;
            let path = format!("{}/post_logout_redirect", u.path().trim_end_matches('/'));
            u.set_path(&path);
            u.set_query(None);
            u.to_string()
        }
    };
    let mut body = dynamic::client_metadata("back-channel logout", &[&redirect]);
    body["post_logout_redirect_uris"] = json!([plr]);
    body["backchannel_logout_uri"] = json!(listener.url(PATH));
    body["backchannel_logout_session_required"] = json!(true);
    let reg = dynamic::register(ctx, &body).await?;
    let result = logout_and_check(ctx, &reg, &endpoint, &redirect, &plr, &listener).await;
    dynamic::delete(ctx, &reg).await;
    result
}

async fn logout_and_check(
    ctx: &Ctx<'_>,
    reg: &Registration,
    endpoint: &Url,
    redirect: &str,
    plr: &str,
    listener: &Listener,
) -> Check {
    let op = ctx.op()?;
    let client = dynamic::client_of(ctx, reg, redirect)?;
    let browser = ctx.browser_with(&[plr])?;
    let prep = ctx.prepare(&client, |r| r);
    let flow = ctx.code_flow(&browser, &client, prep).await?;
    let id_claims = jose::payload(&flow.id.token.to_string())?;
    let sid = id_claims.get("sid").and_then(Value::as_str).map(str::to_string);
    let session_supported = op.flag("backchannel_logout_session_supported") == Some(true);
    ensure!(
        sid.is_some() || !session_supported,
        "discovery says backchannel_logout_session_supported but the ID token has no sid (Back-Channel Logout 1.0 §2.1)"
    );

    let state = random(96);
    let hint = flow.id.token.to_string();
    let params = [("id_token_hint", hint.as_str()), ("post_logout_redirect_uri", plr), ("state", &state)];
    let visit = logout::end_session(ctx, &browser, endpoint, &params).await?;
    let target = logout::expect_redirect(ctx, &browser, &visit, plr).await?;
    logout::check_post_logout_redirect(&target, plr, Some(&state))?;

    let Some(request) = listener.wait_post(PATH, WAIT).await else {
        return fail(format!(
            "the OP did not POST a logout token to the backchannel_logout_uri within {} s",
            WAIT.as_secs()
        ));
    };
    let content_type = request.header("content-type").unwrap_or_default().to_ascii_lowercase();
    ensure!(
        content_type.split(';').next().map(str::trim) == Some("application/x-www-form-urlencoded"),
        "the back-channel logout request has Content-Type {content_type:?}, expected application/x-www-form-urlencoded (Back-Channel Logout 1.0 §2.5)"
    );
    let tokens: Vec<String> = request.form().into_iter().filter(|(k, _)| k == "logout_token").map(|(_, v)| v).collect();
    let [token] = tokens.as_slice() else {
        return fail(format!(
            "the back-channel logout request carries {} logout_token parameters, expected one (§2.5)",
            tokens.len()
        ));
    };
    let jws = Jws::parse(token).map_err(|e| format!("the logout token is not a signed JWT: {e}"))?;
    verify_signature(ctx, &jws).await?;
    if let Some(algs) = op.strings("id_token_signing_alg_values_supported") {
        let alg = jws.alg().unwrap_or_default();
        ensure!(
            algs.iter().any(|a| a == alg),
            "the logout token uses alg {alg}, which is not among the ID token algorithms {algs:?} (§2.4: the same keys sign both)"
        );
    }
    let problems = logout_token_problems(
        &jws.header,
        &jws.claims,
        &Expected {
            issuer: op.meta.issuer().as_str(),
            client_id: &reg.client_id,
            sub: flow.id.sub(),
            sid: sid.as_deref(),
            sid_required: true,
            now: now(),
        },
    );
    ensure!(problems.is_empty(), "the logout token is invalid: {}", problems.join("; "));
    logout::expect_logged_out(ctx, &browser, &client, flow.id.sub()).await
}

/// Verifies the logout token against the discovered JWK Set, fetching the
/// set again when the key is not in it (the keys may have been rotated).
async fn verify_signature(ctx: &Ctx<'_>, jws: &Jws) -> Check {
    let op = ctx.op()?;
    let first = match jws.verify(op.meta.jwks()) {
        Ok(()) => return Ok(()),
        Err(e) => e,
    };
    let fresh = CoreJsonWebKeySet::fetch_async(op.meta.jwks_uri(), &ctx.http)
        .await
        .map_err(|e| Stop::Fail(format!("cannot fetch the JWK Set again: {}", error_chain(&e))))?;
    jws.verify(&fresh).map_err(|e| {
        Stop::Fail(format!("the logout token signature is invalid (Back-Channel Logout 1.0 §2.6): {e} ({first})"))
    })
}

/// What the logout token must match.
pub(crate) struct Expected<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    /// The ID token's `sub`.
    pub sub: &'a str,
    /// The ID token's `sid`.
    pub sid: Option<&'a str>,
    /// The client registered `backchannel_logout_session_required`.
    pub sid_required: bool,
    pub now: i64,
}

/// Back-Channel Logout 1.0 §2.4 / §2.6 (and the plan's
/// ValidateLogoutTokenClaims, CheckLogoutTokenNoNonce,
/// CheckLogoutTokenHasSubOrSid, CheckIdToken{Sub,Sid}MatchesLogoutToken):
/// every problem found.
pub(crate) fn logout_token_problems(header: &Value, claims: &Value, want: &Expected<'_>) -> Vec<String> {
    let mut p = Vec::new();
    if let Some(typ) = header.get("typ") {
        let ok = typ.as_str().is_some_and(|t| {
            let t = t.to_ascii_lowercase();
            t == "logout+jwt" || t == "application/logout+jwt"
        });
        if !ok {
            p.push(format!("the JOSE header typ is {typ}, expected logout+jwt (§2.4)"));
        }
    }
    match claims.get("iss").and_then(Value::as_str) {
        None => p.push("iss is missing".into()),
        Some(iss) if iss != want.issuer => p.push(format!("iss {iss:?} is not the issuer {:?}", want.issuer)),
        Some(_) => {}
    }
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => a == want.client_id,
        Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(want.client_id)),
        _ => false,
    };
    if !aud_ok {
        p.push(format!(
            "aud {} does not name the client {:?}",
            claims.get("aud").unwrap_or(&Value::Null),
            want.client_id
        ));
    }
    match claims.get("iat").and_then(Value::as_i64) {
        None => p.push("iat is missing or not a number".into()),
        Some(iat) if iat > want.now + 300 => p.push(format!("iat {iat} is in the future")),
        Some(_) => {}
    }
    if let Some(exp) = claims.get("exp") {
        match exp.as_i64() {
            None => p.push(format!("exp {exp} is not a number")),
            Some(exp) if exp < want.now - 300 => p.push(format!("exp {exp} has passed")),
            Some(exp) if claims.get("iat").and_then(Value::as_i64).is_some_and(|iat| exp <= iat) => {
                p.push(format!("exp {exp} is not after iat"));
            }
            Some(_) => {}
        }
    }
    if claims.get("jti").and_then(Value::as_str).is_none_or(str::is_empty) {
        p.push("jti is missing".into());
    }
    match claims.get("events").and_then(Value::as_object) {
        None => p.push("events is missing or not a JSON object".into()),
        Some(events) => match events.get(EVENT) {
            Some(Value::Object(_)) => {
                if events.len() != 1 {
                    p.push(format!("events has {} members, expected only {EVENT}", events.len()));
                }
            }
            Some(other) => p.push(format!("events[{EVENT}] is {other}, not a JSON object")),
            None => p.push(format!("events does not contain {EVENT}")),
        },
    }
    if claims.get("nonce").is_some() {
        p.push("the logout token has a nonce (§2.4: it MUST NOT)".into());
    }
    let sub = claims.get("sub").and_then(Value::as_str);
    let sid = claims.get("sid").and_then(Value::as_str);
    if sub.is_none() && sid.is_none() {
        p.push("the logout token has neither sub nor sid (§2.4)".into());
    }
    if let Some(sub) = sub
        && sub != want.sub
    {
        p.push(format!("sub {sub:?} is not the ID token's sub {:?}", want.sub));
    }
    match (sid, want.sid) {
        (Some(got), Some(expected)) if got != expected => {
            p.push(format!("sid {got:?} is not the ID token's sid {expected:?}"));
        }
        (None, _) if want.sid_required => {
            p.push("the client registered backchannel_logout_session_required but the logout token has no sid".into());
        }
        _ => {}
    }
    if sid.is_some() && want.sid.is_none() {
        p.push("the logout token has a sid but the ID token had none to match it".into());
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn want() -> Expected<'static> {
        Expected {
            issuer: "https://op.test",
            client_id: "rp",
            sub: "alice",
            sid: Some("s1"),
            sid_required: true,
            now: 1_000_000,
        }
    }

    fn good() -> Value {
        json!({
            "iss": "https://op.test", "aud": "rp", "iat": 1_000_000, "exp": 1_000_120, "jti": "j1",
            "sub": "alice", "sid": "s1", "events": {EVENT: {}},
        })
    }

    fn problems_with(change: impl FnOnce(&mut Value)) -> String {
        let mut claims = good();
        change(&mut claims);
        logout_token_problems(&json!({"alg": "RS256", "typ": "logout+jwt"}), &claims, &want()).join("; ")
    }

    #[test]
    fn a_good_logout_token_passes() {
        assert_eq!(problems_with(|_| {}), "");
        assert_eq!(problems_with(|c| c["aud"] = json!(["other", "rp"])), "");
        assert!(logout_token_problems(&json!({"alg": "RS256"}), &good(), &want()).is_empty());
        let typed = json!({"alg": "RS256", "typ": "application/logout+jwt"});
        assert!(logout_token_problems(&typed, &good(), &want()).is_empty());
    }

    #[test]
    fn each_rule_is_enforced() {
        let remove = |k: &'static str| {
            move |c: &mut Value| {
                if let Some(o) = c.as_object_mut() {
                    o.remove(k);
                }
            }
        };
        assert!(problems_with(remove("iss")).contains("iss"));
        assert!(problems_with(|c| c["iss"] = json!("https://evil.test")).contains("iss"));
        assert!(problems_with(|c| c["aud"] = json!("other")).contains("aud"));
        assert!(problems_with(remove("aud")).contains("aud"));
        assert!(problems_with(remove("iat")).contains("iat"));
        assert!(problems_with(|c| c["iat"] = json!(2_000_000)).contains("future"));
        assert!(problems_with(|c| c["exp"] = json!(1)).contains("exp"));
        assert!(problems_with(remove("jti")).contains("jti"));
        assert!(problems_with(remove("events")).contains("events"));
        assert!(problems_with(|c| c["events"] = json!({"other": {}})).contains("does not contain"));
        assert!(problems_with(|c| c["events"] = json!({EVENT: "yes"})).contains("not a JSON object"));
        assert!(problems_with(|c| c["nonce"] = json!("n")).contains("nonce"));
        assert!(problems_with(|c| c["sub"] = json!("bob")).contains("sub"));
        assert!(problems_with(|c| c["sid"] = json!("s2")).contains("sid"));
        assert!(problems_with(remove("sid")).contains("backchannel_logout_session_required"));
        let neither = problems_with(|c| {
            if let Some(o) = c.as_object_mut() {
                o.remove("sub");
                o.remove("sid");
            }
        });
        assert!(neither.contains("neither sub nor sid"));
        let bad_typ = logout_token_problems(&json!({"alg": "RS256", "typ": "JWT"}), &good(), &want());
        assert!(bad_typ.join(" ").contains("typ"));
    }
}
