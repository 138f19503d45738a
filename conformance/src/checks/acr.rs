//! Authentication context checks beyond the plan's "acr_values do not break
//! the flow": an essential `acr` request (OIDC Core 5.5.1.1) is honoured or
//! refused, never answered with a weaker context, neither on a fresh login nor
//! through a single sign-on session; and every ID token states `acr`, `amr`
//! and `auth_time` (what resource servers need for RFC 9470 step-up).

use openidconnect::TokenResponse;
use serde_json::Value;

use crate::rp::{Check, Ctx, Which, ensure, fail, skip};

/// The `claims` parameter asking for an essential `acr` among `values`.
fn essential_acr(values: &[&str]) -> String {
    serde_json::json!({"id_token": {"acr": {"essential": true, "values": values}}}).to_string()
}

/// The achieved `acr` of a validated flow's ID token.
fn acr_of(flow: &crate::rp::Flow) -> Option<String> {
    flow.id.claims.auth_context_ref().map(|a| a.as_str().to_string())
}

/// `oidcc-id-token-acr-amr-auth-time`: a plain code flow's ID token carries
/// `acr`, a non-empty `amr` array and `auth_time`, and `acr` is one of
/// `acr_values_supported`.
pub(crate) async fn acr_amr_auth_time(ctx: &Ctx<'_>) -> Check {
    let op = ctx.op()?;
    let client = ctx.client(Which::Basic)?;
    let browser = ctx.browser()?;
    let prep = ctx.prepare(&client, |r| r);
    let flow = ctx.code_flow(&browser, &client, prep).await?;
    let payload = crate::jose::payload(&flow.tokens.response.id_token().map(ToString::to_string).unwrap_or_default())?;
    let Some(acr) = payload.get("acr").and_then(Value::as_str) else {
        return fail("the ID token has no acr");
    };
    if let Some(supported) = op.strings("acr_values_supported") {
        ensure!(supported.iter().any(|s| s == acr), "acr {acr:?} is not in acr_values_supported {supported:?}");
    }
    ensure!(
        payload.get("amr").and_then(Value::as_array).is_some_and(|a| !a.is_empty() && a.iter().all(Value::is_string)),
        "the ID token has no non-empty amr array of strings: {:?}",
        payload.get("amr")
    );
    ensure!(payload.get("auth_time").and_then(Value::as_i64).is_some(), "the ID token has no numeric auth_time");
    Ok(())
}

/// `oidcc-acr-essential-never-weaker`: for each value of `acr_values_supported`,
/// a fresh request with that value as an essential `acr` either ends with an
/// error response or with an ID token whose `acr` is that value; then, with the
/// single sign-on session of the weakest achieved context still open, every
/// other value asked as essential is again honoured or refused, never
/// answered with the session's weaker `acr`.
pub(crate) async fn essential_never_weaker(ctx: &Ctx<'_>) -> Check {
    let op = ctx.op()?;
    let Some(supported) = op.strings("acr_values_supported") else {
        return skip("discovery has no acr_values_supported");
    };
    let client = ctx.client(Which::Basic)?;
    let mut achieved_any = None;
    for value in &supported {
        let browser = ctx.browser()?;
        let claims = essential_acr(&[value]);
        let prep = ctx.prepare(&client, |r| r.add_extra_param("claims", claims));
        let state = prep.state.clone();
        let visit = ctx.authorize(&browser, &prep).await?;
        let cb = ctx.callback(&visit)?;
        if cb.get("error").is_some() {
            ctx.expect_error(&visit, state.as_deref())?;
            continue;
        }
        let flow = ctx.finish_flow(&client, prep, visit).await?;
        let got = acr_of(&flow);
        ensure!(got.as_deref() == Some(value.as_str()), "essential acr {value:?} was answered with acr {got:?}");
        achieved_any.get_or_insert((value.clone(), browser));
    }
    let Some((weak, browser)) = achieved_any else {
        return skip("no essential acr value could be achieved by this account");
    };
    for value in supported.iter().filter(|v| **v != weak) {
        let claims = essential_acr(&[value]);
        let prep = ctx.prepare(&client, |r| r.add_extra_param("claims", claims));
        let state = prep.state.clone();
        let visit = ctx.authorize(&browser, &prep).await?;
        let cb = ctx.callback(&visit)?;
        if cb.get("error").is_some() {
            ctx.expect_error(&visit, state.as_deref())?;
            continue;
        }
        let flow = ctx.finish_flow(&client, prep, visit).await?;
        let got = acr_of(&flow);
        ensure!(
            got.as_deref() == Some(value.as_str()),
            "with a session at {weak:?}, essential acr {value:?} was answered with acr {got:?}"
        );
    }
    Ok(())
}
