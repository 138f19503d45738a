//! Request object checks: an unsigned (`alg: none`) request object passed
//! by value (`request`) or by reference (`request_uri`, served from a
//! throw-away loopback HTTP listener), and the precedence of the request
//! object's `redirect_uri` over the query's.
//!
//! As in the plan, the query carries only `response_type`, `client_id`,
//! `scope` and `redirect_uri`; `state`, `nonce` and the PKCE challenge are
//! only in the object, so an OP that answers with the right state and
//! nonce has demonstrably processed it. An OP may instead reject request
//! objects with `request_not_supported` / `request_uri_not_supported`
//! (OIDC Core 3.1.2.6), which the plan reports as a skip.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Map, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use url::Url;

use crate::browser::{Landing, Start, Visit};
use crate::rp::{Check, Ctx, OidcClient, Prepared, Which, fail, random, skip, unsigned_jwt};

/// Query parameters that stay in the URL next to the request object
/// (OIDC Core 6.1, RFC 6749 3.1.2.3).
const DUPLICATED: [&str; 4] = ["response_type", "client_id", "scope", "redirect_uri"];

/// A request turned into an unsigned request object.
struct ObjectRequest {
    /// The original request; its state and nonce are what the object carries.
    prep: Prepared,
    /// The authorization endpoint with only the duplicated parameters.
    endpoint: Url,
    jwt: String,
}

fn to_request_object(ctx: &Ctx<'_>, prep: Prepared) -> Result<ObjectRequest, crate::rp::Stop> {
    let op = ctx.op()?;
    let (mut endpoint, fields) = prep.split();
    let mut claims = Map::new();
    for (k, v) in &fields {
        claims.insert(k.clone(), Value::String(v.clone()));
    }
    claims.insert("iss".into(), Value::String(ctx.opts.client_id.clone()));
    claims.insert("aud".into(), Value::String(op.meta.issuer().as_str().to_string()));
    let jwt = unsigned_jwt(&Value::Object(claims));
    endpoint.query_pairs_mut().extend_pairs(fields.iter().filter(|(k, _)| DUPLICATED.contains(&k.as_str())));
    Ok(ObjectRequest { prep, endpoint, jwt })
}

/// Whether the OP's discovery offers unsigned request objects.
fn none_offered(ctx: &Ctx<'_>) -> Result<bool, crate::rp::Stop> {
    Ok(ctx.op()?.lists("request_object_signing_alg_values_supported", "none"))
}

/// Judges the outcome of a request-object authorization.
async fn judge(
    ctx: &Ctx<'_>,
    client: &OidcClient,
    prep: Prepared,
    visit: Visit,
    unsupported: &str,
    offered: bool,
) -> Check {
    let callback_error = match &visit.landing {
        Landing::Redirect { .. } | Landing::FormPost { .. } => ctx.callback(&visit)?.get("error").map(str::to_string),
        _ => None,
    };
    match (&visit.landing, callback_error) {
        (Landing::Redirect { .. } | Landing::FormPost { .. }, Some(error)) => {
            // The state was only inside the object, so it cannot be required here.
            ctx.expect_error(&visit, None)?;
            if error == unsupported {
                skip(format!(
                    "the OP answered {unsupported}, so this cannot be tested (permitted by OIDC Core 3.1.2.6)"
                ))
            } else if !offered {
                skip(format!(
                    "discovery does not offer unsigned request objects and the OP rejected one with error={error}"
                ))
            } else {
                fail(format!("discovery offers unsigned request objects but the OP rejected one with error={error}"))
            }
        }
        (Landing::Redirect { .. } | Landing::FormPost { .. }, None) => {
            // Success: state and nonce can only have come from the object.
            ctx.finish_flow(client, prep, visit).await?;
            Ok(())
        }
        (Landing::Page { status, .. }, _) if !offered && (400..500).contains(status) => skip(format!(
            "discovery does not offer unsigned request objects and the OP showed an error page (HTTP {status})"
        )),
        (landing, _) => fail(format!("expected a response at the redirect_uri, got {}", landing.describe())),
    }
}

/// `oidcc-unsigned-request-object-supported-correctly-or-rejected-as-unsupported`.
pub(crate) async fn unsigned_request_object(ctx: &Ctx<'_>) -> Check {
    let offered = none_offered(ctx)?;
    let client = ctx.client(Which::Basic)?;
    let browser = ctx.browser()?;
    let object = to_request_object(ctx, ctx.prepare(&client, |r| r))?;
    let mut url = object.endpoint.clone();
    url.query_pairs_mut().append_pair("request", &object.jwt);
    let visit = browser.visit(Start::Get(url), ctx.creds()).await?;
    judge(ctx, &client, object.prep, visit, "request_not_supported", offered).await
}

/// `oidcc-request-uri-unsigned-supported-correctly-or-rejected-as-unsupported`.
pub(crate) async fn request_uri_unsigned(ctx: &Ctx<'_>) -> Check {
    let offered = none_offered(ctx)?;
    let client = ctx.client(Which::Basic)?;
    let browser = ctx.browser()?;
    let object = to_request_object(ctx, ctx.prepare(&client, |r| r))?;
    let served = Served::start(object.jwt.clone()).await?;
    let mut url = object.endpoint.clone();
    url.query_pairs_mut().append_pair("request_uri", &served.url);
    let visit = browser.visit(Start::Get(url), ctx.creds()).await?;
    let fetched = served.hits.load(Ordering::SeqCst);
    let cb_error = ctx.callback(&visit).ok().and_then(|cb| cb.get("error").map(str::to_string));
    if cb_error.as_deref() == Some("invalid_request_uri") && fetched == 0 && !issuer_is_loopback(ctx) {
        return skip("the OP could not fetch a request_uri served from this machine's loopback address");
    }
    let succeeded = cb_error.is_none() && matches!(visit.landing, Landing::Redirect { .. } | Landing::FormPost { .. });
    judge(ctx, &client, object.prep, visit, "request_uri_not_supported", offered).await?;
    if succeeded && fetched == 0 {
        return fail("the authorization succeeded but the OP never fetched the request_uri");
    }
    Ok(())
}

/// `oidcc-ensure-request-object-with-redirect-uri`: the request object's
/// (registered) `redirect_uri` takes precedence over an unregistered one in
/// the query; an OP that ignores request objects must still never redirect
/// to the unregistered URI.
pub(crate) async fn request_object_with_redirect_uri(ctx: &Ctx<'_>) -> Check {
    let offered = none_offered(ctx)?;
    let client = ctx.client(Which::Basic)?;
    let browser = ctx.browser()?;
    let object = to_request_object(ctx, ctx.prepare(&client, |r| r))?;
    let mut invalid = Url::parse(&ctx.opts.redirect_uri).map_err(|e| format!("bad redirect_uri: {e}"))?;
    invalid.set_path(&format!("/invalid-redirect-{}", random(6)));
    invalid.set_query(None);
    let mut url = object.endpoint.clone();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "redirect_uri" { invalid.to_string() } else { v.into_owned() };
            (k.into_owned(), v)
        })
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs).append_pair("request", &object.jwt);
    let visit = browser.visit(Start::Get(url), ctx.creds()).await?;
    let invalid_str = invalid.to_string();
    let went_to_invalid = match &visit.landing {
        Landing::Redirect { url } => url.as_str().starts_with(&invalid_str),
        Landing::FormPost { action, .. } => action.starts_with(&invalid_str),
        Landing::Elsewhere { location, .. } => location.starts_with(&invalid_str),
        Landing::Page { .. } => false,
    };
    if went_to_invalid {
        return fail(format!(
            "the OP sent the user to the unregistered query redirect_uri {invalid_str} instead of the request object's"
        ));
    }
    if let Landing::Page { status, .. } = &visit.landing
        && offered
    {
        return fail(format!(
            "discovery offers unsigned request objects but the OP showed a page (HTTP {status}) instead of using the request object's redirect_uri"
        ));
    }
    judge(ctx, &client, object.prep, visit, "request_not_supported", offered).await
}

fn issuer_is_loopback(ctx: &Ctx<'_>) -> bool {
    Url::parse(&ctx.opts.issuer)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .is_some_and(|h| h == "localhost" || h == "[::1]" || h.starts_with("127."))
}

/// A one-document HTTP server on 127.0.0.1, stopped when dropped.
struct Served {
    url: String,
    hits: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Served {
    async fn start(body: String) -> Result<Self, String> {
        let listener =
            TcpListener::bind(("127.0.0.1", 0)).await.map_err(|e| format!("cannot listen on loopback: {e}"))?;
        let port = listener.local_addr().map_err(|e| format!("cannot read the listener address: {e}"))?.port();
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&hits);
        let task = tokio::spawn(async move {
            // Bounded: an authorization fetches the object once or twice.
            for _ in 0..16 {
                let Ok((mut stream, _)) = listener.accept().await else {
                    break;
                };
                let body = body.clone();
                let counter = Arc::clone(&counter);
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 8192];
                    let mut read = 0;
                    let _ = tokio::time::timeout(Duration::from_secs(5), async {
                        while read < buf.len() {
                            let n = stream.read(&mut buf[read..]).await?;
                            read += n;
                            if n == 0 || buf[..read].windows(4).any(|w| w == b"\r\n\r\n") {
                                break;
                            }
                        }
                        Ok::<_, std::io::Error>(())
                    })
                    .await;
                    counter.fetch_add(1, Ordering::SeqCst);
                    let response = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/oauth-authz-req+jwt\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(response.as_bytes()).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        Ok(Self { url: format!("http://127.0.0.1:{port}/request-{}.jwt", random(12)), hits, task })
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.task.abort();
    }
}
