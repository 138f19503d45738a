//! Negative authorization request checks: a missing `response_type`, an
//! unregistered `redirect_uri` and a missing `redirect_uri`. Errors about
//! the redirect URI must be shown to the user, never redirected.

use url::Url;

use crate::browser::{Landing, Visit, page_summary};
use crate::rp::{Check, Ctx, Which, ensure, fail, random};

/// Whether the walk ended on an OP error page (4xx, no form to fill in).
fn error_page(visit: &Visit) -> Option<(u16, String)> {
    match &visit.landing {
        Landing::Page { status, body, .. } if (400..500).contains(status) => Some((*status, page_summary(body))),
        _ => None,
    }
}

/// `oidcc-response-type-missing`: the OP shows an error page or redirects
/// back with `invalid_request` / `unsupported_response_type` (RFC 6749
/// 3.1.1); it never issues a code.
pub(crate) async fn response_type_missing(ctx: &Ctx<'_>) -> Check {
    let client = ctx.client(Which::Basic)?;
    let browser = ctx.browser()?;
    let mut prep = ctx.prepare(&client, |r| r);
    prep.remove_param("response_type");
    let visit = ctx.authorize(&browser, &prep).await?;
    if error_page(&visit).is_some() {
        return Ok(());
    }
    if let Landing::Page { .. } | Landing::Elsewhere { .. } = visit.landing {
        return fail(format!("expected an error page (4xx) or an error redirect, got {}", visit.landing.describe()));
    }
    let error = ctx.expect_error(&visit, prep.state.as_deref())?;
    ensure!(
        error.error == "invalid_request" || error.error == "unsupported_response_type",
        "error={} ({}), expected invalid_request or unsupported_response_type",
        error.error,
        error.description.as_deref().unwrap_or("no description")
    );
    Ok(())
}

/// `oidcc-ensure-registered-redirect-uri`: an unregistered redirect URI
/// gets an error page; the OP must not send the user (let alone a code or
/// an error) to it (OIDC Core 3.1.2.1, RFC 6749 3.1.2.4).
pub(crate) async fn registered_redirect_uri(ctx: &Ctx<'_>) -> Check {
    let client = ctx.client(Which::Basic)?;
    let browser = ctx.browser()?;
    let mut bad = Url::parse(&ctx.opts.redirect_uri).map_err(|e| format!("bad redirect_uri: {e}"))?;
    let path = format!("{}/unregistered-{}", bad.path().trim_end_matches('/'), random(6));
    bad.set_path(&path);
    let mut prep = ctx.prepare(&client, |r| r);
    prep.set_param("redirect_uri", bad.as_str());
    let visit = ctx.authorize(&browser, &prep).await?;
    expect_error_page(&visit, "an unregistered redirect_uri")
}

/// `oidcc-ensure-redirect-uri-in-authorization-request`: without
/// `redirect_uri` (REQUIRED in OIDC Core 3.1.2.1) the OP shows an error
/// page, or at most redirects back with `invalid_request` and the state.
pub(crate) async fn redirect_uri_in_authorization_request(ctx: &Ctx<'_>) -> Check {
    let client = ctx.client(Which::Basic)?;
    let browser = ctx.browser()?;
    let mut prep = ctx.prepare(&client, |r| r);
    prep.remove_param("redirect_uri");
    let visit = ctx.authorize(&browser, &prep).await?;
    if error_page(&visit).is_some() {
        return Ok(());
    }
    if let Landing::Page { .. } | Landing::Elsewhere { .. } = visit.landing {
        return fail(format!("expected an error page (4xx), got {}", visit.landing.describe()));
    }
    let error = ctx.expect_error(&visit, prep.state.as_deref())?;
    ensure!(
        error.error == "invalid_request" || error.error == "invalid_request_object",
        "error={}, expected an error page or invalid_request",
        error.error
    );
    Ok(())
}

/// Passes only when the walk ended on a 4xx page (after any login or
/// consent the OP chose to show first).
pub(crate) fn expect_error_page(visit: &Visit, what: &str) -> Check {
    match &visit.landing {
        Landing::Redirect { url } => {
            fail(format!("the OP redirected to {url} for {what}; it must show an error page instead"))
        }
        Landing::FormPost { action, .. } => {
            fail(format!("the OP sent a form_post response to {action} for {what}; it must show an error page instead"))
        }
        Landing::Elsewhere { location, .. } => {
            fail(format!("the OP redirected to {location} for {what}; it must show an error page instead"))
        }
        Landing::Page { status, body, .. } => {
            ensure!(
                (400..500).contains(status),
                "the OP answered {what} with HTTP {status} ({}); expected a 4xx error page",
                page_summary(body)
            );
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn visit(landing: Landing) -> Visit {
        Visit { landing, logins: 0, consents: 0 }
    }

    fn page(status: u16) -> Landing {
        Landing::Page {
            status,
            url: Url::parse("https://op.test/authorize").unwrap(),
            body: "<title>Invalid redirect_uri</title>".into(),
        }
    }

    #[test]
    fn only_a_4xx_page_is_an_error_page() {
        assert!(expect_error_page(&visit(page(400)), "x").is_ok());
        assert!(expect_error_page(&visit(page(200)), "x").is_err());
        assert!(expect_error_page(&visit(page(500)), "x").is_err());
        let redirect =
            Landing::Redirect { url: Url::parse("https://rp.example/cb/unregistered?error=invalid_request").unwrap() };
        assert!(expect_error_page(&visit(redirect), "x").is_err());
        let elsewhere = Landing::Elsewhere { status: 302, location: "https://evil.example/".into() };
        assert!(expect_error_page(&visit(elsewhere), "x").is_err());
        let form_post =
            Landing::FormPost { action: "https://rp.example/cb".into(), params: vec![("code".into(), "c".into())] };
        assert!(expect_error_page(&visit(form_post), "x").is_err());
    }
}
