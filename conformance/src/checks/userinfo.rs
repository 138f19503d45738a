//! Userinfo endpoint checks: GET, POST with the token in the header or the
//! body, signed (RS256) responses, the scope checks and the `claims`
//! request parameter.

use openidconnect::core::CoreUserInfoClaims;
use openidconnect::{OAuth2TokenResponse, Scope, SubjectIdentifier, UserInfoResponseType};
use serde_json::Value;

use crate::rp::{Check, Ctx, Flow, Recorder, Which, ensure, error_chain, fail, has_media_type, scope_claims, skip};

/// A fresh code flow with the basic client and extra scopes.
async fn flow_with_scopes(ctx: &Ctx<'_>, scopes: &[&str]) -> Result<(crate::rp::OidcClient, Flow), crate::rp::Stop> {
    let client = ctx.client(Which::Basic)?;
    let browser = ctx.browser()?;
    let prep = ctx.prepare(&client, |r| r.add_scopes(scopes.iter().map(|s| Scope::new((*s).to_string()))));
    let flow = ctx.code_flow(&browser, &client, prep).await?;
    Ok((client, flow))
}

/// `oidcc-userinfo-get`: GET with `Authorization: Bearer`; `sub` matches
/// the ID token (OIDC Core 5.3.2).
pub(crate) async fn get(ctx: &Ctx<'_>) -> Check {
    let (client, flow) = flow_with_scopes(ctx, &[]).await?;
    ctx.userinfo_get(&client, flow.tokens.response.access_token(), flow.id.sub()).await?;
    Ok(())
}

/// `oidcc-userinfo-post-header` / `oidcc-userinfo-post-body`: POST with the
/// token in the header (RFC 6750 2.1) or as a form field (RFC 6750 2.2).
pub(crate) async fn post(ctx: &Ctx<'_>, in_body: bool) -> Check {
    let (_, flow) = flow_with_scopes(ctx, &[]).await?;
    ctx.userinfo_post(&flow, in_body).await?;
    Ok(())
}

/// `oidcc-userinfo-rs256`: when the OP offers RS256-signed userinfo and
/// answers this client with a JWT, it verifies (signature, iss, aud, sub).
pub(crate) async fn signed_rs256(ctx: &Ctx<'_>) -> Check {
    let op = ctx.op()?;
    if !op.lists("userinfo_signing_alg_values_supported", "RS256") {
        return skip("userinfo_signing_alg_values_supported does not list RS256 (signed userinfo is optional)");
    }
    let (client, flow) = flow_with_scopes(ctx, &[]).await?;
    let recorder = Recorder::new(&ctx.http);
    let result: Result<CoreUserInfoClaims, _> = client
        .user_info(flow.tokens.response.access_token().clone(), Some(SubjectIdentifier::new(flow.id.sub().to_string())))
        .map_err(|e| format!("no userinfo endpoint: {e}"))?
        .set_response_type(UserInfoResponseType::Jwt)
        .require_signed_response(true)
        .request_async(&recorder)
        .await;
    let last = recorder.last();
    if let Some((200, headers, _)) = &last
        && has_media_type(headers, "application/json")
    {
        return skip(
            "the OP answered plain JSON: this client is not registered for signed userinfo (userinfo_signed_response_alg)",
        );
    }
    let claims = result.map_err(|e| {
        let status = last.as_ref().map_or(0, |(s, _, _)| *s);
        format!("signed userinfo rejected (HTTP {status}): {}", error_chain(&e))
    })?;
    ensure!(claims.subject().as_str() == flow.id.sub(), "signed userinfo sub differs from the ID token's");
    if let Some((_, _, body)) = &last {
        let header = crate::rp::jose_header(&String::from_utf8_lossy(body))?;
        ensure!(
            header.get("alg").and_then(Value::as_str) == Some("RS256"),
            "signed userinfo uses alg {:?}, expected RS256",
            header.get("alg")
        );
    }
    Ok(())
}

/// `oidcc-scope-*`: the request succeeds and userinfo is valid; claims for
/// the requested scopes should come back (missing claims are only a warning
/// in the plan, reported here as a skip since the account may lack them).
pub(crate) async fn scopes(ctx: &Ctx<'_>, scopes: &[&str]) -> Check {
    let op = ctx.op()?;
    if let Some(supported) = op.strings("scopes_supported") {
        let missing: Vec<&str> = scopes.iter().copied().filter(|s| !supported.iter().any(|x| x == s)).collect();
        if !missing.is_empty() {
            return skip(format!("scopes_supported does not list {}", missing.join(", ")));
        }
    }
    let (client, flow) = flow_with_scopes(ctx, scopes).await?;
    let userinfo = ctx.userinfo_get(&client, flow.tokens.response.access_token(), flow.id.sub()).await?;
    let without_claims: Vec<&str> =
        scopes.iter().copied().filter(|s| !scope_claims(s).iter().any(|c| userinfo.get(*c).is_some())).collect();
    if without_claims.is_empty() {
        Ok(())
    } else {
        skip(format!(
            "the flow and userinfo are valid, but no claims came back for scope {} (a warning in the plan: the account may have no such data)",
            without_claims.join(", ")
        ))
    }
}

/// `oidcc-claims-essential`: a `claims` request for an essential `name` in
/// userinfo must not break the flow; `name` should come back (a warning in
/// the plan when it does not).
pub(crate) async fn claims_essential(ctx: &Ctx<'_>) -> Check {
    let client = ctx.client(Which::Basic)?;
    let browser = ctx.browser()?;
    let claims = serde_json::json!({"userinfo": {"name": {"essential": true}}}).to_string();
    let prep = ctx.prepare(&client, |r| r.add_extra_param("claims", claims));
    let flow = ctx.code_flow(&browser, &client, prep).await?;
    let userinfo = ctx.userinfo_get(&client, flow.tokens.response.access_token(), flow.id.sub()).await?;
    match userinfo.get("name") {
        Some(Value::String(name)) if !name.is_empty() => Ok(()),
        Some(other) => fail(format!("name is not a non-empty string: {other}")),
        None => skip("the flow succeeded but userinfo has no name (a warning in the plan)"),
    }
}
