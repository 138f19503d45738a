//! Logout across every portal: RP-initiated logout with and without confirmation,
//! back-channel logout tokens received by a test relying party and verified against the
//! JWKS, front-channel iframes, delivery records, and other sessions left alone.

use std::sync::{Arc, Mutex};

use axum::extract::{Form, Path, State};
use axum::routing::post;

use crate::helpers::*;

type Received = Arc<Mutex<Vec<(String, String)>>>;

/// A relying party's back-channel endpoint: `/bcl/{name}` records the token,
/// `/fail/{name}` answers 500.
async fn spawn_rp() -> (String, Received) {
    let received: Received = Arc::default();
    async fn ok(
        State(r): State<Received>,
        Path(name): Path<String>,
        Form(f): Form<std::collections::HashMap<String, String>>,
    ) -> &'static str {
        r.lock().unwrap().push((name, f.get("logout_token").cloned().unwrap_or_default()));
        "ok"
    }
    async fn fail() -> axum::http::StatusCode {
        axum::http::StatusCode::INTERNAL_SERVER_ERROR
    }
    let app = axum::Router::new()
        .route("/bcl/{name}", post(ok))
        .route("/fail/{name}", post(fail))
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), received)
}

async fn logout_client(app: &TestApp, id: &str, extra: serde_json::Value) {
    let mut md = serde_json::json!({
        "client_id": id, "client_secret": SECRET, "redirect_uris": [REDIRECT],
        "post_logout_redirect_uris": ["https://rp.example.vn/after"],
    });
    if let (Some(m), Some(e)) = (md.as_object_mut(), extra.as_object()) {
        m.extend(e.clone());
    }
    app.client(md).await;
}

async fn wait_for(received: &Received, n: usize) -> Vec<(String, String)> {
    for _ in 0..100 {
        if received.lock().unwrap().len() >= n {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    received.lock().unwrap().clone()
}

/// Verifies a logout token with an independent JOSE library against the published JWKS.
async fn verify_logout_token(app: &TestApp, token: &str, aud: &str) -> serde_json::Value {
    let jwks: jsonwebtoken::jwk::JwkSet = app.api().get(app.url("/jwks")).send().await.unwrap().json().await.unwrap();
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("logout+jwt"));
    let jwk = jwks.find(header.kid.as_deref().unwrap()).expect("kid published in JWKS");
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
    let mut v = jsonwebtoken::Validation::new(header.alg);
    v.set_audience(&[aud]);
    v.set_issuer(&[app.issuer.as_str()]);
    // The server runs on a fixed clock far from now; check exp by hand below.
    v.validate_exp = false;
    v.set_required_spec_claims(&["iss", "aud", "exp", "iat"]);
    let claims = jsonwebtoken::decode::<serde_json::Value>(token, &key, &v).expect("logout token verifies").claims;
    assert!(claims["exp"].as_i64().unwrap() > claims["iat"].as_i64().unwrap());
    assert!(claims["events"]["http://schemas.openid.net/event/backchannel-logout"].is_object());
    assert!(claims.get("nonce").is_none(), "logout tokens never carry a nonce");
    assert!(claims["jti"].as_str().is_some());
    claims
}

#[tokio::test]
async fn logout_reaches_every_client_of_the_session_and_nothing_else() {
    // The test relying party listens on loopback, which only a development setting allows.
    let app =
        TestApp::spawn_with(dinhdanh::config::Settings { allow_private_fetch: Some(true), ..Default::default() }).await;
    let (rp, received) = spawn_rp().await;
    logout_client(&app, "portal", serde_json::json!({"backchannel_logout_uri": format!("{rp}/bcl/portal"), "backchannel_logout_session_required": true})).await;
    logout_client(&app, "motcua", serde_json::json!({"backchannel_logout_uri": format!("{rp}/bcl/motcua")})).await;
    app.user("an.nguyen").await;
    app.user("binh.tran").await;
    let b = app.browser();
    let t = app.tokens(&b, "portal", "an.nguyen", &[]).await;
    let hint = t["id_token"].as_str().unwrap().to_owned();
    let sid = claims(&hint)["sid"].as_str().unwrap().to_owned();
    let sub_portal = claims(&hint)["sub"].clone();
    app.tokens(&b, "motcua", "an.nguyen", &[]).await;
    // Someone else's session in another browser.
    let other = app.browser();
    app.tokens(&other, "portal", "binh.tran", &[]).await;

    let url = format!(
        "{}?id_token_hint={hint}&post_logout_redirect_uri={}&state=bye&client_id=portal",
        app.url("/end_session"),
        url::form_urlencoded::byte_serialize(b"https://rp.example.vn/after").collect::<String>()
    );
    let r = b.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 303, "a hint of the current session needs no confirmation");
    assert_eq!(location(&r).unwrap(), "https://rp.example.vn/after?state=bye");
    let cleared = r.headers().get_all("set-cookie").iter().any(|c| c.to_str().unwrap().starts_with("dd_session=;"));
    assert!(cleared, "the session cookie is cleared");

    let got = wait_for(&received, 2).await;
    assert_eq!(got.len(), 2, "both clients of the session were notified: {got:?}");
    for (name, token) in &got {
        let c = verify_logout_token(&app, token, name).await;
        assert_eq!(c["sid"], sid.as_str());
        if name == "portal" {
            assert_eq!(c["sub"], sub_portal);
        }
    }
    // The session is gone here, and only here.
    let r = app.follow(&b, &app.authorize_url("portal", &[("prompt", "none")])).await;
    assert_eq!(param(&redirect_params(&r), "error").as_deref(), Some("login_required"));
    let r = app.follow(&other, &app.authorize_url("portal", &[("prompt", "none")])).await;
    assert!(code_of(&r).code.len() > 20, "another person's session is untouched");
    // Deliveries were recorded.
    let svc = &app.running.state.services;
    for _ in 0..50 {
        if svc.store.logout_deliveries("motcua", 5).await.unwrap().len() == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let d = svc.store.logout_deliveries("motcua", 5).await.unwrap();
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].status, "delivered");
    assert_ne!(d[0].sid, sid, "the session id is recorded as a digest");
}

#[tokio::test]
async fn logout_without_proof_of_the_session_asks_first() {
    let app = TestApp::spawn().await;
    logout_client(&app, "portal", serde_json::json!({"frontchannel_logout_uri": "https://rp.example.vn/fc-logout"}))
        .await;
    app.user("an.nguyen").await;
    let b = app.browser();
    let t = app.tokens(&b, "portal", "an.nguyen", &[]).await;
    let sid = claims(t["id_token"].as_str().unwrap())["sid"].as_str().unwrap().to_owned();
    // No hint: a confirmation page, never a forced logout.
    let r = b.get(app.url("/end_session")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    assert!(page.contains("name=\"logout\" value=\"yes\""), "{page}");
    let (id, csrf) = (hidden(&page, "id"), hidden(&page, "csrf"));
    // "No" keeps the session.
    let r = b
        .post(app.url("/end_session/confirm"))
        .form(&[("id", id.as_str()), ("csrf", csrf.as_str()), ("logout", "no")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = app.follow(&b, &app.authorize_url("portal", &[("prompt", "none")])).await;
    assert!(code_of(&r).code.len() > 20);
    // A forged confirmation is refused.
    let page = b.get(app.url("/end_session")).send().await.unwrap().text().await.unwrap();
    let id = hidden(&page, "id");
    let r = b
        .post(app.url("/end_session/confirm"))
        .form(&[("id", id.as_str()), ("csrf", "forged"), ("logout", "yes")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // "Yes" ends it and loads the front-channel iframe with iss and sid.
    let page = b.get(app.url("/end_session")).send().await.unwrap().text().await.unwrap();
    let (id, csrf) = (hidden(&page, "id"), hidden(&page, "csrf"));
    let r = b
        .post(app.url("/end_session/confirm"))
        .form(&[("id", id.as_str()), ("csrf", csrf.as_str()), ("logout", "yes")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let csp = r.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("frame-src https://rp.example.vn"), "{csp}");
    let page = r.text().await.unwrap();
    assert!(page.contains("<iframe class=\"frontchannel\""));
    assert!(page.contains("fc-logout?iss="));
    assert!(page.contains(&format!("sid={sid}")) || page.contains(&format!("sid&#x3d;{sid}")), "{page}");
    let r = app.follow(&b, &app.authorize_url("portal", &[("prompt", "none")])).await;
    assert_eq!(param(&redirect_params(&r), "error").as_deref(), Some("login_required"));
}

#[tokio::test]
async fn bad_logout_requests_are_pages_never_redirects() {
    let app = TestApp::spawn().await;
    logout_client(&app, "portal", serde_json::json!({})).await;
    app.user("an.nguyen").await;
    let b = app.browser();
    let t = app.tokens(&b, "portal", "an.nguyen", &[]).await;
    let hint = t["id_token"].as_str().unwrap();
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    for query in [
        format!("id_token_hint={hint}&post_logout_redirect_uri={}", enc("https://evil.example/after")),
        format!("post_logout_redirect_uri={}", enc("https://rp.example.vn/after")),
        "id_token_hint=not-a-token".to_owned(),
        format!("id_token_hint={hint}&client_id=someone-else"),
    ] {
        let r = b.get(format!("{}?{query}", app.url("/end_session"))).send().await.unwrap();
        assert_eq!(r.status(), 400, "{query}");
        assert!(r.headers().get("location").is_none(), "{query}");
    }
    // Still signed in after all of that.
    let r = app.follow(&b, &app.authorize_url("portal", &[("prompt", "none")])).await;
    assert!(code_of(&r).code.len() > 20);
    // Without a session there is nothing to confirm.
    let r = app
        .browser()
        .get(format!(
            "{}?client_id=portal&post_logout_redirect_uri={}&state=s",
            app.url("/end_session"),
            enc("https://rp.example.vn/after")
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(location(&r).as_deref(), Some("https://rp.example.vn/after?state=s"));
}

#[tokio::test]
async fn failed_deliveries_are_retried_and_recorded() {
    let app =
        TestApp::spawn_with(dinhdanh::config::Settings { allow_private_fetch: Some(true), ..Default::default() }).await;
    let (rp, _received) = spawn_rp().await;
    logout_client(&app, "broken", serde_json::json!({"backchannel_logout_uri": format!("{rp}/fail/broken")})).await;
    app.user("an.nguyen").await;
    let b = app.browser();
    let t = app.tokens(&b, "broken", "an.nguyen", &[]).await;
    let hint = t["id_token"].as_str().unwrap();
    let r = b.get(format!("{}?id_token_hint={hint}", app.url("/end_session"))).send().await.unwrap();
    assert_eq!(r.status(), 200, "signed out page");
    let svc = &app.running.state.services;
    let mut d = Vec::new();
    for _ in 0..100 {
        d = svc.store.logout_deliveries("broken", 5).await.unwrap();
        if !d.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].status, "failed");
    assert_eq!(d[0].attempts, 3);
    assert_eq!(d[0].last_error.as_deref(), Some("HTTP 500"));
}

#[tokio::test]
async fn back_channel_logout_never_dials_private_addresses_in_production() {
    let app = TestApp::spawn().await;
    let (rp, received) = spawn_rp().await;
    logout_client(
        &app,
        "inside",
        serde_json::json!({"backchannel_logout_uri": format!("{rp}/bcl/inside").replace("http://", "https://")}),
    )
    .await;
    app.user("an.nguyen").await;
    let b = app.browser();
    let t = app.tokens(&b, "inside", "an.nguyen", &[]).await;
    let hint = t["id_token"].as_str().unwrap();
    let r = b.get(format!("{}?id_token_hint={hint}", app.url("/end_session"))).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let svc = &app.running.state.services;
    let mut d = Vec::new();
    for _ in 0..100 {
        d = svc.store.logout_deliveries("inside", 5).await.unwrap();
        if !d.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].status, "failed");
    assert_eq!(d[0].last_error.as_deref(), Some("forbidden target"));
    assert!(received.lock().unwrap().is_empty(), "nothing reached the loopback listener");
}
