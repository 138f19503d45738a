//! Happy-path authorization code flow checks and their request-parameter
//! variants (`oidcc-server`, display, hints, locales, acr_values, unknown
//! parameters, POST requests, PKCE), ID token signature checks, code reuse
//! and refresh tokens.

use std::time::Duration;

use openidconnect::core::{CoreAuthDisplay, CoreAuthPrompt, CoreErrorResponseType};
use openidconnect::{
    AuthenticationContextClass, LanguageTag, LoginHint, OAuth2TokenResponse, RequestTokenError, Scope, TokenResponse,
};

use crate::browser::Landing;
use crate::rp::{
    Check, Ctx, NonceRule, Recorder, Which, check_token_http, describe_token_error, ensure, error_chain, fail,
    has_media_type, skip,
};

/// `oidcc-server`: a plain code flow with `client_secret_basic`, the token
/// response (including `Cache-Control: no-store`), ID token validation and a
/// userinfo call.
pub(crate) async fn server(ctx: &Ctx<'_>) -> Check {
    server_with(ctx, Which::Basic, None).await
}

/// `oidcc-server` in the `form_post` response mode variant (the Form Post
/// Basic plan): the response must arrive as an auto-submitting form.
pub(crate) async fn server_form_post(ctx: &Ctx<'_>) -> Check {
    let op = ctx.op()?;
    if !op.lists("response_modes_supported", "form_post") {
        return skip("response_modes_supported does not list form_post");
    }
    server_with(ctx, Which::Basic, Some("form_post")).await
}

/// `oidcc-server-client-secret-post`: `oidcc-server` with the
/// `client_secret_post` client.
pub(crate) async fn server_client_secret_post(ctx: &Ctx<'_>) -> Check {
    let op = ctx.op()?;
    if let Some(methods) = op.strings("token_endpoint_auth_methods_supported")
        && !methods.iter().any(|m| m == "client_secret_post")
    {
        return skip("token_endpoint_auth_methods_supported does not list client_secret_post");
    }
    server_with(ctx, Which::Post, None).await
}

async fn server_with(ctx: &Ctx<'_>, which: Which, response_mode: Option<&str>) -> Check {
    let client = ctx.client(which)?;
    let browser = ctx.browser()?;
    let mut prep = ctx.prepare(&client, |r| r);
    if let Some(mode) = response_mode {
        prep.set_param("response_mode", mode);
    }
    let flow = ctx.code_flow(&browser, &client, prep).await?;
    if response_mode == Some("form_post") {
        ensure!(
            matches!(flow.visit.landing, Landing::FormPost { .. }),
            "response_mode=form_post was requested but the response came as {}",
            flow.visit.landing.describe()
        );
    }
    check_token_http(&flow.tokens)?;
    ctx.userinfo_get(&client, flow.tokens.response.access_token(), flow.id.sub()).await?;
    Ok(())
}

/// `oidcc-idtoken-signature` (Basic) and `oidcc-idtoken-rs256` (Config):
/// the default ID token signature is RS256, verifies against the JWKS and
/// the header names its key (`kid`, OIDC Core 10.1).
pub(crate) async fn idtoken_signature(ctx: &Ctx<'_>) -> Check {
    let op = ctx.op()?;
    ensure!(
        op.lists("id_token_signing_alg_values_supported", "RS256"),
        "id_token_signing_alg_values_supported does not list RS256 (OIDC Core 15.1)"
    );
    let client = ctx.client(Which::Basic)?;
    let browser = ctx.browser()?;
    let prep = ctx.prepare(&client, |r| r);
    let flow = ctx.code_flow(&browser, &client, prep).await?;
    ensure!(
        flow.id.alg() == Some("RS256"),
        "the ID token is signed with {}, expected RS256 (the OIDC Registration default; is the client registered with another id_token_signed_response_alg?)",
        flow.id.alg().unwrap_or("no alg")
    );
    ensure!(
        flow.id.header.get("kid").and_then(|k| k.as_str()).is_some_and(|k| !k.is_empty()),
        "the ID token header has no kid"
    );
    Ok(())
}

/// `oidcc-idtoken-unsigned`: only meaningful for OPs offering `none`; it
/// needs a client registered with `id_token_signed_response_alg=none`, which
/// a static client cannot ask for.
pub(crate) async fn idtoken_unsigned(ctx: &Ctx<'_>) -> Check {
    let op = ctx.op()?;
    let Some(algs) = op.strings("id_token_signing_alg_values_supported") else {
        return fail("discovery lacks id_token_signing_alg_values_supported (OIDC Discovery 3)");
    };
    if algs.iter().any(|a| a == "none") {
        skip(
            "the OP offers alg none, but testing it needs a client registered with id_token_signed_response_alg=none (dynamic registration)",
        )
    } else {
        skip("the OP does not offer alg none for ID tokens (permitted: 'none' is optional)")
    }
}

/// `oidcc-ensure-request-without-nonce-succeeds-for-code-flow`: `nonce` is
/// optional in the code flow; the ID token then carries none.
pub(crate) async fn without_nonce(ctx: &Ctx<'_>) -> Check {
    let client = ctx.client(Which::Basic)?;
    let browser = ctx.browser()?;
    let mut prep = ctx.prepare(&client, |r| r);
    prep.remove_param("nonce");
    ctx.code_flow(&browser, &client, prep).await?;
    Ok(())
}

/// `oidcc-ensure-other-scope-order-succeeds`: `openid` need not come first
/// in `scope`.
pub(crate) async fn other_scope_order(ctx: &Ctx<'_>) -> Check {
    let op = ctx.op()?;
    let other = match op.strings("scopes_supported") {
        None => "email".to_string(),
        Some(list) => match ["email", "profile", "address", "phone"].iter().find(|s| list.iter().any(|l| l == *s)) {
            Some(s) => (*s).to_string(),
            None => return skip("scopes_supported lists none of email, profile, address, phone"),
        },
    };
    let client = ctx.client(Which::Basic)?;
    let browser = ctx.browser()?;
    let mut prep = ctx.prepare(&client, |r| r);
    prep.set_param("scope", &format!("{other} openid"));
    ctx.code_flow(&browser, &client, prep).await?;
    Ok(())
}

/// `oidcc-display-page` / `oidcc-display-popup`: the request succeeds.
pub(crate) async fn display(ctx: &Ctx<'_>, value: &str) -> Check {
    let display = match value {
        "popup" => CoreAuthDisplay::Popup,
        _ => CoreAuthDisplay::Page,
    };
    simple(ctx, |r| r.set_display(display)).await
}

/// `oidcc-ensure-request-with-unknown-parameter-succeeds`: unknown
/// parameters are ignored (OIDC Core 3.1.2.1... RFC 6749 3.1).
pub(crate) async fn unknown_parameter(ctx: &Ctx<'_>) -> Check {
    simple(ctx, |r| r.add_extra_param("extra", "foobar")).await
}

/// `oidcc-login-hint`: a `login_hint` does not break the flow.
pub(crate) async fn login_hint(ctx: &Ctx<'_>) -> Check {
    let hint = LoginHint::new(ctx.opts.username.clone());
    simple(ctx, |r| r.set_login_hint(hint)).await
}

/// `oidcc-ui-locales`: `ui_locales=se` does not break the flow.
pub(crate) async fn ui_locales(ctx: &Ctx<'_>) -> Check {
    simple(ctx, |r| r.add_ui_locale(LanguageTag::new("se".into()))).await
}

/// `oidcc-claims-locales`: `claims_locales=se` does not break the flow.
pub(crate) async fn claims_locales(ctx: &Ctx<'_>) -> Check {
    simple(ctx, |r| r.add_claims_locale(LanguageTag::new("se".into()))).await
}

/// `oidcc-ensure-request-with-acr-values-succeeds`: voluntary `acr_values`
/// do not break the flow.
pub(crate) async fn acr_values(ctx: &Ctx<'_>) -> Check {
    simple(ctx, |r| {
        r.add_auth_context_value(AuthenticationContextClass::new("1".into()))
            .add_auth_context_value(AuthenticationContextClass::new("2".into()))
    })
    .await
}

/// A fresh-session code flow with one customisation of the request.
async fn simple<F>(ctx: &Ctx<'_>, customize: F) -> Check
where
    F: for<'a> FnOnce(crate::rp::AuthRequest<'a>) -> crate::rp::AuthRequest<'a>,
{
    let client = ctx.client(Which::Basic)?;
    let browser = ctx.browser()?;
    let prep = ctx.prepare(&client, customize);
    ctx.code_flow(&browser, &client, prep).await?;
    Ok(())
}

/// `oidcc-ensure-post-request-succeeds`: the authorization request sent as
/// a form POST (OIDC Core 3.1.2.1).
pub(crate) async fn post_request(ctx: &Ctx<'_>) -> Check {
    let client = ctx.client(Which::Basic)?;
    let browser = ctx.browser()?;
    let prep = ctx.prepare(&client, |r| r);
    let visit = ctx.authorize_post(&browser, &prep).await?;
    ctx.finish_flow(&client, prep, visit).await?;
    Ok(())
}

/// `oidcc-ensure-request-with-valid-pkce-succeeds`: an S256 PKCE request
/// (which every request here carries) succeeds, and discovery advertises S256.
pub(crate) async fn valid_pkce(ctx: &Ctx<'_>) -> Check {
    let op = ctx.op()?;
    if let Some(methods) = op.strings("code_challenge_methods_supported") {
        ensure!(
            methods.iter().any(|m| m == "S256"),
            "code_challenge_methods_supported does not list S256: {methods:?}"
        );
    }
    let client = ctx.client(Which::Basic)?;
    let browser = ctx.browser()?;
    let prep = ctx.prepare(&client, |r| r);
    ensure!(
        prep.param("code_challenge_method").as_deref() == Some("S256") && prep.param("code_challenge").is_some(),
        "internal: the request lacks an S256 code_challenge"
    );
    ctx.code_flow(&browser, &client, prep).await?;
    Ok(())
}

/// `oidcc-codereuse` / `oidcc-codereuse-30seconds`: a code redeemed twice
/// (with the same PKCE verifier) fails the second time with HTTP 400, JSON
/// and `invalid_grant` (RFC 6749 4.1.2, 5.2).
pub(crate) async fn code_reuse(ctx: &Ctx<'_>, wait: bool) -> Check {
    if wait && !ctx.opts.slow {
        return skip("waits 30 s; run with --slow");
    }
    let client = ctx.client(Which::Basic)?;
    let browser = ctx.browser()?;
    let prep = ctx.prepare(&client, |r| r);
    let visit = ctx.authorize(&browser, &prep).await?;
    let (_, code) = ctx.expect_code(&visit, prep.state.as_deref())?;
    let tokens = ctx.redeem(&client, &code, &prep.verifier).await?;
    let nonce = prep.nonce.as_ref().map_or(NonceRule::Absent, NonceRule::Equals);
    ctx.check_token_response(&client, &tokens, nonce, false)?;
    if wait {
        tokio::time::sleep(Duration::from_secs(30)).await;
    }
    match ctx.exchange(&client, &code, &prep.verifier).await? {
        Ok(_) => fail("the authorization code was accepted a second time"),
        Err((error, status, headers)) => {
            ensure!(
                status == 400,
                "the second redemption answered HTTP {status}, expected 400 (RFC 6749 5.2): {}",
                describe_token_error(&error)
            );
            ensure!(
                has_media_type(&headers, "application/json"),
                "the error response is not application/json (RFC 6749 5.2)"
            );
            match &error {
                RequestTokenError::ServerResponse(r) => ensure!(
                    *r.error() == CoreErrorResponseType::InvalidGrant,
                    "the second redemption failed with error={}, expected invalid_grant",
                    r.error().as_ref()
                ),
                other => {
                    return fail(format!("unexpected token error: {}", describe_token_error(other)));
                }
            }
            Ok(())
        }
    }
}

/// `oidcc-refresh-token`: when the OP issues refresh tokens, one can be
/// used by its own client (new access token, consistent ID token per
/// OIDC Core 12.2) and not by another client.
pub(crate) async fn refresh_token(ctx: &Ctx<'_>) -> Check {
    let op = ctx.op()?;
    if !op.lists("grant_types_supported", "refresh_token") {
        return skip("grant_types_supported does not list refresh_token");
    }
    let offline = op.lists("scopes_supported", "offline_access");
    let client = ctx.client(Which::Basic)?;
    let browser = ctx.browser()?;
    let prep = ctx.prepare(&client, |r| {
        if offline {
            // OIDC Core 11: offline_access requires prompt=consent.
            r.add_scope(Scope::new("offline_access".into())).add_prompt(CoreAuthPrompt::Consent)
        } else {
            r
        }
    });
    let flow = ctx.code_flow(&browser, &client, prep).await?;
    let Some(refresh) = flow.tokens.response.refresh_token().cloned() else {
        return skip("no refresh token was issued");
    };
    ensure!(
        !refresh.secret().is_empty() && refresh.secret().bytes().all(|b| (0x20..=0x7e).contains(&b)),
        "the refresh token has characters outside %x20-7E (RFC 6749 A.17)"
    );

    // Another client must not be able to use it.
    if let Ok(other) = ctx.client(Which::Post) {
        let recorder = Recorder::new(&ctx.http);
        let result = other
            .exchange_refresh_token(&refresh)
            .map_err(|e| format!("cannot build the refresh request: {e}"))?
            .request_async(&recorder)
            .await;
        match result {
            Ok(_) => return fail("a refresh token issued to one client was accepted for another"),
            Err(RequestTokenError::ServerResponse(r)) => ensure!(
                *r.error() == CoreErrorResponseType::InvalidGrant,
                "using another client's refresh token failed with error={}, expected invalid_grant",
                r.error().as_ref()
            ),
            Err(e) => {
                return fail(format!("unexpected error using another client's refresh token: {}", error_chain(&e)));
            }
        }
    }

    let recorder = Recorder::new(&ctx.http);
    let refreshed = client
        .exchange_refresh_token(&refresh)
        .map_err(|e| format!("cannot build the refresh request: {e}"))?
        .request_async(&recorder)
        .await
        .map_err(|e| format!("the refresh request failed: {}", describe_token_error(&e)))?;
    ensure!(!refreshed.access_token().secret().is_empty(), "the refresh response has an empty access_token");
    if let Some(id_token) = refreshed.id_token() {
        let second = ctx.validate_id_token(&client, id_token, Some(refreshed.access_token()), NonceRule::Any, false)?;
        ensure!(
            second.claims.issuer() == flow.id.claims.issuer(),
            "the refreshed ID token has another iss (OIDC Core 12.2)"
        );
        ensure!(second.sub() == flow.id.sub(), "the refreshed ID token has another sub (OIDC Core 12.2)");
        ensure!(
            second.claims.audiences() == flow.id.claims.audiences(),
            "the refreshed ID token has another aud (OIDC Core 12.2)"
        );
        if let (Some(a), Some(b)) = (flow.id.auth_time(), second.auth_time()) {
            ensure!(a == b, "the refreshed ID token's auth_time {b} differs from the original {a} (OIDC Core 12.2)");
        }
    }
    ctx.userinfo_get(&client, refreshed.access_token(), flow.id.sub()).await?;
    Ok(())
}
