//! The RP-Initiated Logout OP plan
//! (`oidcc-rp-initiated-logout-certification-test-plan`): each check signs
//! in with the `client_secret_basic` client, sends the browser to the
//! discovered `end_session_endpoint` with some parameters removed or
//! spoiled, and judges where the OP sends it. Where the plan then makes a
//! `prompt=none` request, so does the runner: it must come back with an
//! interaction error once the session has ended (and with a code when the
//! OP rightly refused to log out).
//!
//! The OP may ask the user to confirm (RP-Initiated Logout 1.0 §2: it MUST
//! when there is no valid `id_token_hint`). A page with a form whose submit
//! control is `name="logout" value="yes"` is a confirmation page; the runner
//! submits its hidden inputs plus `logout=yes`, as a person would.

use url::Url;

use super::prompt::INTERACTION_ERRORS;
use crate::browser::{Browser, Landing, Start, Visit, links, page_summary, scan_forms};
use crate::jose::{self, RunnerKey};
use crate::rp::{Check, Ctx, Flow, OidcClient, Stop, Which, ensure, fail, now, random, skip};

/// The endpoint and the registered post-logout redirect URI.
pub(crate) struct Setup {
    pub endpoint: Url,
    pub plr: String,
}

/// The discovered `end_session_endpoint`, or a skip when there is none.
pub(crate) fn end_session_endpoint(ctx: &Ctx<'_>) -> Result<Url, Stop> {
    let op = ctx.op()?;
    let Some(endpoint) = op.string("end_session_endpoint") else {
        return skip("discovery has no end_session_endpoint (RP-Initiated Logout is optional)");
    };
    Ok(Url::parse(endpoint).map_err(|e| format!("end_session_endpoint {endpoint:?} is not a URL: {e}"))?)
}

fn setup(ctx: &Ctx<'_>) -> Result<Setup, Stop> {
    let endpoint = end_session_endpoint(ctx)?;
    let Some(plr) = ctx.opts.post_logout_redirect_uri.clone() else {
        return skip("no post_logout_redirect_uri registered for the client (--post-logout-redirect-uri)");
    };
    Url::parse(&plr).map_err(|e| format!("bad post_logout_redirect_uri {plr:?}: {e}"))?;
    Ok(Setup { endpoint, plr })
}

/// A signed-in browser.
pub(crate) struct Session {
    pub client: OidcClient,
    pub browser: Browser,
    pub flow: Flow,
}

async fn sign_in(ctx: &Ctx<'_>, setup: &Setup) -> Result<Session, Stop> {
    let client = ctx.client(Which::Basic)?;
    let browser = ctx.browser_with(&[&setup.plr])?;
    let prep = ctx.prepare(&client, |r| r);
    let flow = ctx.code_flow(&browser, &client, prep).await?;
    Ok(Session { client, browser, flow })
}

/// Sends the browser to the end_session endpoint with `params` (GET).
pub(crate) async fn end_session(
    ctx: &Ctx<'_>,
    browser: &Browser,
    endpoint: &Url,
    params: &[(&str, &str)],
) -> Result<Visit, Stop> {
    let mut url = endpoint.clone();
    if !params.is_empty() {
        url.query_pairs_mut().extend_pairs(params);
    }
    Ok(browser.visit(Start::Get(url), ctx.creds()).await?)
}

/// Where a logout request ended, seen from the browser.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// The OP sent the browser to a client-side URI (a 3xx, a `form_post`,
    /// or a signed-out page whose only way on is a link there).
    Redirected(Url),
    /// A confirmation page; submitting it with `logout=yes` is this request.
    Confirm(Start),
    /// Any other page (a signed-out page, an error page).
    Page { status: u16, summary: String },
}

/// Classifies where a walk to the end_session endpoint ended. `plr` is the
/// prefix a signed-out page's onward link is recognised by.
pub(crate) fn classify(visit: &Visit, plr: &str) -> Result<Outcome, String> {
    match &visit.landing {
        Landing::Redirect { url } => Ok(Outcome::Redirected(url.clone())),
        Landing::Elsewhere { location, .. } => Url::parse(location)
            .map(Outcome::Redirected)
            .map_err(|e| format!("the OP redirected to an unparsable Location {location:?}: {e}")),
        Landing::FormPost { action, .. } => Url::parse(action)
            .map(Outcome::Redirected)
            .map_err(|e| format!("the OP posted a form to an unparsable action {action:?}: {e}")),
        Landing::Page { status, url, body } => {
            let forms = scan_forms(body);
            if let Some((form, yes)) = forms.iter().find_map(|f| f.logout_confirm().map(|y| (f, y))) {
                return Ok(Outcome::Confirm(form.submission(url, vec![yes])?));
            }
            // A signed-out page that loads front-channel iframes and then
            // sends the browser on (by script) also offers a plain link.
            if (200..300).contains(status)
                && let Some(next) =
                    links(body).iter().filter_map(|h| url.join(h).ok()).find(|u| u.as_str().starts_with(plr))
            {
                return Ok(Outcome::Redirected(next));
            }
            Ok(Outcome::Page { status: *status, summary: page_summary(body) })
        }
    }
}

/// Submits a confirmation form and classifies what follows; a second
/// confirmation page is a failure.
async fn confirm(ctx: &Ctx<'_>, browser: &Browser, start: Start, plr: &str) -> Result<Outcome, Stop> {
    let visit = browser.visit(start, ctx.creds()).await?;
    match classify(&visit, plr)? {
        Outcome::Confirm(_) => fail("the OP asked for the logout confirmation again after logout=yes was submitted"),
        other => Ok(other),
    }
}

/// Checks the post-logout redirect (RP-Initiated Logout 1.0 §3): it goes
/// to the registered URI (its query kept), with the `state` sent, or with
/// none when none was sent.
pub(crate) fn check_post_logout_redirect(target: &Url, plr: &str, state: Option<&str>) -> Check {
    let registered = Url::parse(plr).map_err(|e| format!("bad post_logout_redirect_uri {plr:?}: {e}"))?;
    ensure!(
        target.origin() == registered.origin() && target.path() == registered.path(),
        "the OP redirected to {target}, which is not the post_logout_redirect_uri {plr}"
    );
    let got: Vec<(String, String)> = target.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    for (k, v) in registered.query_pairs() {
        ensure!(
            got.iter().any(|(gk, gv)| *gk == k && *gv == v),
            "the post-logout redirect {target} dropped the registered query parameter {k}={v}"
        );
    }
    let states: Vec<&str> = got.iter().filter(|(k, _)| k == "state").map(|(_, v)| v.as_str()).collect();
    match state {
        Some(expected) => ensure!(
            states == [expected],
            "the post-logout redirect carries state {states:?}, expected exactly the one sent ({expected:?})"
        ),
        None => ensure!(states.is_empty(), "no state was sent but the post-logout redirect carries state {states:?}"),
    }
    Ok(())
}

/// Whether the session ended: `prompt=none` answers an interaction error
/// (true) or a code for the same user (false).
pub(crate) async fn session_ended(
    ctx: &Ctx<'_>,
    browser: &Browser,
    client: &OidcClient,
    sub: &str,
) -> Result<bool, Stop> {
    let prep = ctx.prepare(client, |r| r.add_prompt(openidconnect::core::CoreAuthPrompt::None));
    let visit = ctx.authorize(browser, &prep).await?;
    ensure!(visit.logins == 0 && visit.consents == 0, "prompt=none but the OP showed a login or consent page");
    let cb = ctx.callback(&visit)?;
    if cb.get("error").is_some() {
        let error = ctx.expect_error(&visit, prep.state.as_deref())?;
        ensure!(
            INTERACTION_ERRORS.contains(&error.error.as_str()),
            "prompt=none returned error={}, expected one of {INTERACTION_ERRORS:?}",
            error.error
        );
        return Ok(true);
    }
    let flow = ctx.finish_flow(client, prep, visit).await?;
    ensure!(flow.id.sub() == sub, "prompt=none returned a code for another sub");
    Ok(false)
}

/// After a logout, `prompt=none` must fail with an interaction error.
pub(crate) async fn expect_logged_out(ctx: &Ctx<'_>, browser: &Browser, client: &OidcClient, sub: &str) -> Check {
    ensure!(
        session_ended(ctx, browser, client, sub).await?,
        "after the logout, prompt=none still returned a code: the OP did not end the session"
    );
    Ok(())
}

async fn expect_logged_in(ctx: &Ctx<'_>, session: &Session, why: &str) -> Check {
    ensure!(
        !session_ended(ctx, &session.browser, &session.client, session.flow.id.sub()).await?,
        "the OP ended the session although {why}"
    );
    Ok(())
}

/// Expects a redirect to the post-logout redirect URI, after a
/// confirmation when the OP asks for one.
pub(crate) async fn expect_redirect(ctx: &Ctx<'_>, browser: &Browser, visit: &Visit, plr: &str) -> Result<Url, Stop> {
    let outcome = match classify(visit, plr)? {
        Outcome::Confirm(start) => confirm(ctx, browser, start, plr).await?,
        other => other,
    };
    match outcome {
        Outcome::Redirected(url) => Ok(url),
        Outcome::Page { status, summary } => {
            fail(format!("expected a redirect to the post_logout_redirect_uri, got a page (HTTP {status}): {summary}"))
        }
        Outcome::Confirm(_) => fail("internal: unexpected confirmation"),
    }
}

/// How an OP refused a logout request it must not redirect for.
enum Refusal {
    /// A 4xx error page.
    ErrorPage,
    /// A confirmation page, confirmed, and a page (no redirect) after it.
    Confirmed,
}

/// The OP must not redirect anywhere: it shows an error page, or asks the
/// user and then shows a page (the plan's "error screen or confirm").
async fn expect_refusal(
    ctx: &Ctx<'_>,
    browser: &Browser,
    visit: &Visit,
    plr: &str,
    what: &str,
) -> Result<Refusal, Stop> {
    match classify(visit, plr)? {
        Outcome::Redirected(url) => {
            fail(format!("the OP redirected to {url} for {what}; it must show an error page or ask the user instead"))
        }
        Outcome::Page { status, .. } if (400..500).contains(&status) => Ok(Refusal::ErrorPage),
        Outcome::Page { status, summary } => fail(format!(
            "expected an error page (4xx) or a logout confirmation for {what}, got a page (HTTP {status}): {summary}"
        )),
        Outcome::Confirm(start) => match confirm(ctx, browser, start, plr).await? {
            Outcome::Redirected(url) => fail(format!(
                "after the logout confirmation the OP redirected to {url} for {what}; it must not redirect"
            )),
            _ => Ok(Refusal::Confirmed),
        },
    }
}

/// The OP logs out without redirecting: a signed-out page, directly or
/// after a confirmation; then the session is gone.
async fn expect_logout_without_redirect(
    ctx: &Ctx<'_>,
    session: &Session,
    visit: &Visit,
    plr: &str,
    what: &str,
) -> Check {
    let outcome = match classify(visit, plr)? {
        Outcome::Confirm(start) => confirm(ctx, &session.browser, start, plr).await?,
        other => other,
    };
    match outcome {
        Outcome::Redirected(url) => {
            return fail(format!("the OP redirected to {url} for {what}; there is nowhere to redirect to"));
        }
        Outcome::Page { status, summary } => ensure!(
            (200..300).contains(&status),
            "expected the OP to log the user out (a signed-out page) for {what}, got HTTP {status}: {summary}"
        ),
        Outcome::Confirm(_) => return fail("internal: unexpected confirmation"),
    }
    expect_logged_out(ctx, &session.browser, &session.client, session.flow.id.sub()).await
}

/// `oidcc-rp-initiated-logout`: `id_token_hint`, the registered
/// `post_logout_redirect_uri` and a 128-character `state` send the user
/// back there with the state; then `prompt=none` fails.
pub(crate) async fn rp_initiated_logout(ctx: &Ctx<'_>) -> Check {
    let setup = setup(ctx)?;
    let s = sign_in(ctx, &setup).await?;
    let hint = s.flow.id.token.to_string();
    let state = random(96);
    let params = [("id_token_hint", hint.as_str()), ("post_logout_redirect_uri", &setup.plr), ("state", &state)];
    let visit = end_session(ctx, &s.browser, &setup.endpoint, &params).await?;
    let target = expect_redirect(ctx, &s.browser, &visit, &setup.plr).await?;
    check_post_logout_redirect(&target, &setup.plr, Some(&state))?;
    expect_logged_out(ctx, &s.browser, &s.client, s.flow.id.sub()).await
}

/// `oidcc-rp-initiated-logout-no-state`: as above without `state`; the
/// redirect carries none.
pub(crate) async fn no_state(ctx: &Ctx<'_>) -> Check {
    let setup = setup(ctx)?;
    let s = sign_in(ctx, &setup).await?;
    let hint = s.flow.id.token.to_string();
    let params = [("id_token_hint", hint.as_str()), ("post_logout_redirect_uri", &setup.plr)];
    let visit = end_session(ctx, &s.browser, &setup.endpoint, &params).await?;
    let target = expect_redirect(ctx, &s.browser, &visit, &setup.plr).await?;
    check_post_logout_redirect(&target, &setup.plr, None)?;
    expect_logged_out(ctx, &s.browser, &s.client, s.flow.id.sub()).await
}

/// `oidcc-rp-initiated-logout-bad-post-logout-redirect-uri`: an
/// unregistered `post_logout_redirect_uri` must never be redirected to
/// (RP-Initiated Logout 1.0 §3).
pub(crate) async fn bad_post_logout_redirect_uri(ctx: &Ctx<'_>) -> Check {
    let setup = setup(ctx)?;
    let mut bad = Url::parse(&setup.plr).map_err(|e| format!("bad post_logout_redirect_uri: {e}"))?;
    let path = format!("{}-unregistered-{}", bad.path().trim_end_matches('/'), random(6));
    bad.set_path(&path);
    refused_uri(ctx, &setup, bad.as_str(), "an unregistered post_logout_redirect_uri").await
}

/// `oidcc-rp-initiated-logout-query-added-to-post-logout-redirect-uri`: the
/// registered URI with `foo=bar` added does not match it exactly.
pub(crate) async fn query_added_to_post_logout_redirect_uri(ctx: &Ctx<'_>) -> Check {
    let setup = setup(ctx)?;
    let sep = if setup.plr.contains('?') { '&' } else { '?' };
    let added = format!("{}{sep}foo=bar", setup.plr);
    refused_uri(ctx, &setup, &added, "a post_logout_redirect_uri with a query added").await
}

async fn refused_uri(ctx: &Ctx<'_>, setup: &Setup, uri: &str, what: &str) -> Check {
    let s = sign_in(ctx, setup).await?;
    let hint = s.flow.id.token.to_string();
    let state = random(32);
    let params = [("id_token_hint", hint.as_str()), ("post_logout_redirect_uri", uri), ("state", &state)];
    let visit = end_session(ctx, &s.browser, &setup.endpoint, &params).await?;
    expect_refusal(ctx, &s.browser, &visit, &setup.plr, what).await?;
    Ok(())
}

/// `oidcc-rp-initiated-logout-modified-id-token-hint`: the ID token changed
/// to `alg: none` is not a valid hint: an error page (or a confirmation),
/// no redirect, and after an error page the session is still there.
pub(crate) async fn modified_id_token_hint(ctx: &Ctx<'_>) -> Check {
    let setup = setup(ctx)?;
    let s = sign_in(ctx, &setup).await?;
    let hint = jose::to_alg_none(&s.flow.id.token.to_string())?;
    bad_hint(ctx, &setup, &s, &hint, "an id_token_hint changed to alg none").await
}

/// `oidcc-rp-initiated-logout-bad-id-token-hint`: an ID token with the right
/// claims but signed by the runner's own key is not a valid hint either.
pub(crate) async fn bad_id_token_hint(ctx: &Ctx<'_>) -> Check {
    let setup = setup(ctx)?;
    let s = sign_in(ctx, &setup).await?;
    let mut claims = jose::payload(&s.flow.id.token.to_string())?;
    let t = now();
    claims["iat"] = t.into();
    claims["exp"] = (t + 300).into();
    let key = RunnerKey::generate()?;
    let hint = key.sign(&serde_json::json!({"typ": "JWT"}), &claims)?;
    bad_hint(ctx, &setup, &s, &hint, "an id_token_hint signed by another key").await
}

async fn bad_hint(ctx: &Ctx<'_>, setup: &Setup, s: &Session, hint: &str, what: &str) -> Check {
    let state = random(32);
    let params = [("id_token_hint", hint), ("post_logout_redirect_uri", &setup.plr), ("state", &state)];
    let visit = end_session(ctx, &s.browser, &setup.endpoint, &params).await?;
    match expect_refusal(ctx, &s.browser, &visit, &setup.plr, what).await? {
        Refusal::ErrorPage => expect_logged_in(ctx, s, &format!("it rejected {what} with an error page")).await,
        Refusal::Confirmed => Ok(()),
    }
}

/// `oidcc-rp-initiated-logout-no-id-token-hint`: `client_id` and the
/// registered URI but no hint. The OP MUST ask the user (RP-Initiated
/// Logout 1.0 §2) or show an error; it must not redirect before that. Once
/// the user confirmed, a redirect to the registered URI with the state is
/// allowed (the client is identified by `client_id`), and the session ends.
pub(crate) async fn no_id_token_hint(ctx: &Ctx<'_>) -> Check {
    let setup = setup(ctx)?;
    let s = sign_in(ctx, &setup).await?;
    let state = random(32);
    let params =
        [("client_id", ctx.opts.client_id.as_str()), ("post_logout_redirect_uri", &setup.plr), ("state", &state)];
    let visit = end_session(ctx, &s.browser, &setup.endpoint, &params).await?;
    match classify(&visit, &setup.plr)? {
        Outcome::Redirected(url) => fail(format!(
            "without an id_token_hint the OP redirected to {url} without asking the user (RP-Initiated Logout 1.0 §2: it MUST ask)"
        )),
        Outcome::Page { status, .. } if (400..500).contains(&status) => Ok(()),
        Outcome::Page { status, summary } => fail(format!(
            "without an id_token_hint the OP must ask the user (a form with logout=yes) or show an error page; got HTTP {status}: {summary}"
        )),
        Outcome::Confirm(start) => {
            match confirm(ctx, &s.browser, start, &setup.plr).await? {
                Outcome::Redirected(url) => check_post_logout_redirect(&url, &setup.plr, Some(&state))?,
                Outcome::Page { status, summary } => ensure!(
                    (200..300).contains(&status),
                    "after the logout confirmation the OP answered HTTP {status}: {summary}"
                ),
                Outcome::Confirm(_) => return fail("internal: unexpected confirmation"),
            }
            expect_logged_out(ctx, &s.browser, &s.client, s.flow.id.sub()).await
        }
    }
}

/// `oidcc-rp-initiated-logout-no-params`: a bare request: the OP asks or
/// logs out, never redirects, and the session ends.
pub(crate) async fn no_params(ctx: &Ctx<'_>) -> Check {
    let setup = setup(ctx)?;
    let s = sign_in(ctx, &setup).await?;
    let visit = end_session(ctx, &s.browser, &setup.endpoint, &[]).await?;
    expect_logout_without_redirect(ctx, &s, &visit, &setup.plr, "a logout request without parameters").await
}

/// `oidcc-rp-initiated-logout-only-state`: only `state`: as with no
/// parameters (a state alone has nowhere to go).
pub(crate) async fn only_state(ctx: &Ctx<'_>) -> Check {
    let setup = setup(ctx)?;
    let s = sign_in(ctx, &setup).await?;
    let state = random(32);
    let visit = end_session(ctx, &s.browser, &setup.endpoint, &[("state", &state)]).await?;
    expect_logout_without_redirect(ctx, &s, &visit, &setup.plr, "a logout request with only a state").await
}

/// `oidcc-rp-initiated-logout-no-post-logout-redirect-uri`: `id_token_hint`
/// and `state` only: a signed-out page, no redirect, the session ends.
pub(crate) async fn no_post_logout_redirect_uri(ctx: &Ctx<'_>) -> Check {
    let setup = setup(ctx)?;
    let s = sign_in(ctx, &setup).await?;
    let hint = s.flow.id.token.to_string();
    let state = random(32);
    let params = [("id_token_hint", hint.as_str()), ("state", &state)];
    let visit = end_session(ctx, &s.browser, &setup.endpoint, &params).await?;
    expect_logout_without_redirect(ctx, &s, &visit, &setup.plr, "a logout request without post_logout_redirect_uri")
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn visit(landing: Landing) -> Visit {
        Visit { landing, logins: 0, consents: 0 }
    }

    fn page(status: u16, body: &str) -> Landing {
        Landing::Page { status, url: Url::parse("https://op.test/end_session?x=1").unwrap(), body: body.into() }
    }

    const PLR: &str = "https://rp.example/bye";

    #[test]
    fn classifies_logout_landings() {
        let r = classify(&visit(Landing::Redirect { url: Url::parse("https://rp.example/bye?state=s").unwrap() }), PLR);
        assert!(matches!(r, Ok(Outcome::Redirected(u)) if u.as_str() == "https://rp.example/bye?state=s"));
        let r = classify(&visit(Landing::Elsewhere { status: 302, location: "https://evil.example/".into() }), PLR);
        assert!(matches!(r, Ok(Outcome::Redirected(u)) if u.host_str() == Some("evil.example")));
        let confirm = r#"<form method="post" action="/end_session/confirm"><input type="hidden" name="id" value="i">
            <input type="hidden" name="csrf" value="c"><button name="logout" value="yes">Yes</button>
            <button name="logout" value="no">No</button></form>"#;
        match classify(&visit(page(200, confirm)), PLR) {
            Ok(Outcome::Confirm(Start::Post(url, fields))) => {
                assert_eq!(url.as_str(), "https://op.test/end_session/confirm");
                assert_eq!(
                    fields,
                    vec![
                        ("id".to_string(), "i".to_string()),
                        ("csrf".to_string(), "c".to_string()),
                        ("logout".to_string(), "yes".to_string())
                    ]
                );
            }
            other => panic!("{other:?}"),
        }
        let done = r#"<title>Signed out</title><iframe src="https://rp2.example/fc"></iframe>
            <a id="continue" href="https://rp.example/bye?state=s">Continue</a>"#;
        assert!(matches!(classify(&visit(page(200, done)), PLR), Ok(Outcome::Redirected(_))));
        // The same link on an error page is not a redirect.
        assert!(matches!(classify(&visit(page(400, done)), PLR), Ok(Outcome::Page { status: 400, .. })));
        let plain = "<title>You are signed out</title><a href=\"/\">Home</a>";
        match classify(&visit(page(200, plain)), PLR) {
            Ok(Outcome::Page { status: 200, summary }) => assert_eq!(summary, "You are signed out"),
            other => panic!("{other:?}"),
        }
    }

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn post_logout_redirect_rules() {
        assert!(check_post_logout_redirect(&url("https://rp.example/bye?state=s1"), PLR, Some("s1")).is_ok());
        assert!(check_post_logout_redirect(&url("https://rp.example/bye"), PLR, None).is_ok());
        let err = |r: Check| match r {
            Err(Stop::Fail(m)) => m,
            other => format!("unexpected {other:?}"),
        };
        assert!(
            err(check_post_logout_redirect(&url("https://rp.example/bye?state=s2"), PLR, Some("s1"))).contains("state")
        );
        assert!(err(check_post_logout_redirect(&url("https://rp.example/bye"), PLR, Some("s1"))).contains("state"));
        assert!(
            err(check_post_logout_redirect(&url("https://rp.example/bye?state=s1&state=s1"), PLR, Some("s1")))
                .contains("state")
        );
        assert!(err(check_post_logout_redirect(&url("https://rp.example/bye?state=x"), PLR, None)).contains("state"));
        assert!(
            err(check_post_logout_redirect(&url("https://rp.example/other?state=s1"), PLR, Some("s1")))
                .contains("not the post_logout_redirect_uri")
        );
        assert!(
            err(check_post_logout_redirect(&url("http://rp.example/bye?state=s1"), PLR, Some("s1")))
                .contains("not the post_logout_redirect_uri")
        );
        let with_query = "https://rp.example/bye?tenant=a";
        assert!(
            check_post_logout_redirect(&url("https://rp.example/bye?tenant=a&state=s1"), with_query, Some("s1"))
                .is_ok()
        );
        assert!(
            err(check_post_logout_redirect(&url("https://rp.example/bye?state=s1"), with_query, Some("s1")))
                .contains("tenant")
        );
    }
}
