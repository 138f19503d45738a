//! Session checks: `prompt=login`, `prompt=none` with and without a
//! session, `max_age` and `id_token_hint`. Each starts with its own cookie
//! jar; the two-step ones log in first and then make a second request in
//! the same jar.

use std::time::Duration;

use openidconnect::core::CoreAuthPrompt;

use crate::rp::{Check, Ctx, Flow, Which, ensure, random};

/// Errors that mean "the OP needs to show the user something"
/// (OIDC Core 3.1.2.6), as accepted by the plan.
pub(crate) const INTERACTION_ERRORS: [&str; 4] =
    ["login_required", "interaction_required", "account_selection_required", "consent_required"];

/// `oidcc-prompt-none-not-logged-in`: with no session, `prompt=none` comes
/// straight back to the redirect URI with an interaction error, the (long)
/// state intact and no page shown.
pub(crate) async fn prompt_none_not_logged_in(ctx: &Ctx<'_>) -> Check {
    let client = ctx.client(Which::Basic)?;
    let browser = ctx.browser()?;
    let mut prep = ctx.prepare(&client, |r| r.add_prompt(CoreAuthPrompt::None));
    // A 128-character state, to catch OPs that truncate it in error responses.
    prep.set_param("state", &random(96));
    let visit = ctx.authorize(&browser, &prep).await?;
    ensure!(
        visit.logins == 0 && visit.consents == 0,
        "prompt=none but the OP showed a {} page",
        if visit.logins > 0 { "login" } else { "consent" }
    );
    let error = ctx.expect_error(&visit, prep.state.as_deref())?;
    ensure!(
        INTERACTION_ERRORS.contains(&error.error.as_str()),
        "prompt=none without a session returned error={}, expected one of {INTERACTION_ERRORS:?}",
        error.error
    );
    Ok(())
}

/// Logs in once in a fresh jar and returns the browser and the flow.
async fn first_login(
    ctx: &Ctx<'_>,
    client: &crate::rp::OidcClient,
) -> Result<(crate::browser::Browser, Flow), crate::rp::Stop> {
    let browser = ctx.browser()?;
    let prep = ctx.prepare(client, |r| r);
    let flow = ctx.code_flow(&browser, client, prep).await?;
    Ok((browser, flow))
}

/// `oidcc-prompt-none-logged-in`: with a session, `prompt=none` returns a
/// code without showing anything, for the same user.
pub(crate) async fn prompt_none_logged_in(ctx: &Ctx<'_>) -> Check {
    let client = ctx.client(Which::Basic)?;
    let (browser, first) = first_login(ctx, &client).await?;
    let prep = ctx.prepare(&client, |r| r.add_prompt(CoreAuthPrompt::None));
    let visit = ctx.authorize(&browser, &prep).await?;
    ensure!(
        visit.logins == 0 && visit.consents == 0,
        "prompt=none with a session but the OP showed a {} page",
        if visit.logins > 0 { "login" } else { "consent" }
    );
    let second = ctx.finish_flow(&client, prep, visit).await?;
    ensure!(
        second.id.sub() == first.id.sub(),
        "the silent authorization returned another sub ({:?} vs {:?})",
        second.id.sub(),
        first.id.sub()
    );
    Ok(())
}

/// `oidcc-prompt-login`: with a session, `prompt=login` makes the user log
/// in again, and a present auth_time moves forward.
pub(crate) async fn prompt_login(ctx: &Ctx<'_>) -> Check {
    let client = ctx.client(Which::Basic)?;
    let (browser, first) = first_login(ctx, &client).await?;
    // auth_time has one-second resolution.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let prep = ctx.prepare(&client, |r| r.add_prompt(CoreAuthPrompt::Login));
    let visit = ctx.authorize(&browser, &prep).await?;
    ensure!(visit.logins > 0, "prompt=login but the OP did not ask the user to log in again");
    let second = ctx.finish_flow(&client, prep, visit).await?;
    ensure!(second.id.sub() == first.id.sub(), "the second login returned another sub");
    if let (Some(a), Some(b)) = (first.id.auth_time(), second.id.auth_time()) {
        ensure!(b > a, "auth_time did not move forward after the forced login ({a} then {b})");
    }
    Ok(())
}

/// `oidcc-max-age-1`: two seconds after a login, `max_age=1` forces a new
/// login; the ID token must carry a newer, recent auth_time.
pub(crate) async fn max_age_1(ctx: &Ctx<'_>) -> Check {
    let client = ctx.client(Which::Basic)?;
    let (browser, first) = first_login(ctx, &client).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let prep = ctx.prepare(&client, |r| r.set_max_age(Duration::from_secs(1)));
    let visit = ctx.authorize(&browser, &prep).await?;
    ensure!(
        visit.logins > 0,
        "max_age=1 two seconds after the last login, but the OP did not ask the user to log in again"
    );
    let second = ctx.finish_flow(&client, prep, visit).await?;
    let Some(b) = second.id.auth_time() else {
        return crate::rp::fail("max_age was requested but the ID token has no auth_time");
    };
    if let Some(a) = first.id.auth_time() {
        ensure!(b > a, "auth_time did not move forward ({a} then {b})");
    }
    let age = crate::rp::now() - b;
    ensure!(age <= 300, "auth_time {b} is {age} s old just after a fresh login");
    Ok(())
}

/// `oidcc-max-age-10000`: a recent session satisfies `max_age=10000`; the
/// ID token carries auth_time, unchanged from the first login.
pub(crate) async fn max_age_10000(ctx: &Ctx<'_>) -> Check {
    let client = ctx.client(Which::Basic)?;
    let (browser, first) = first_login(ctx, &client).await?;
    let prep = ctx.prepare(&client, |r| r.set_max_age(Duration::from_secs(10000)));
    let second = ctx.code_flow(&browser, &client, prep).await?;
    let Some(b) = second.id.auth_time() else {
        return crate::rp::fail("max_age was requested but the ID token has no auth_time");
    };
    if let Some(a) = first.id.auth_time() {
        ensure!(a == b, "auth_time changed from {a} to {b} although the session was younger than max_age");
    }
    Ok(())
}

/// `oidcc-id-token-hint`: a silent (`prompt=none`) request with the first
/// ID token as `id_token_hint` succeeds for the same user.
pub(crate) async fn id_token_hint(ctx: &Ctx<'_>) -> Check {
    let client = ctx.client(Which::Basic)?;
    let (browser, first) = first_login(ctx, &client).await?;
    let prep = ctx.prepare(&client, |r| r.add_prompt(CoreAuthPrompt::None).set_id_token_hint(&first.id.token));
    let visit = ctx.authorize(&browser, &prep).await?;
    ensure!(
        visit.logins == 0 && visit.consents == 0,
        "prompt=none with a matching id_token_hint but the OP showed a page"
    );
    let second = ctx.finish_flow(&client, prep, visit).await?;
    ensure!(second.id.sub() == first.id.sub(), "the hinted authorization returned another sub");
    Ok(())
}
