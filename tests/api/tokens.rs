//! Token lifecycle: refresh-token rotation and reuse detection, client credentials,
//! opaque tokens, introspection (JSON and JWT) and revocation.

use crate::helpers::*;

async fn offline_client(app: &TestApp, id: &str) {
    app.client(serde_json::json!({
        "client_id": id, "client_secret": SECRET, "redirect_uris": [REDIRECT],
        "grant_types": ["authorization_code", "refresh_token"],
    }))
    .await;
}

async fn refresh(app: &TestApp, client: &str, token: &str, extra: &[(&str, &str)]) -> reqwest::Response {
    let mut form = vec![("grant_type", "refresh_token"), ("refresh_token", token)];
    form.extend_from_slice(extra);
    app.api().post(app.url("/token")).basic_auth(client, Some(SECRET)).form(&form).send().await.unwrap()
}

async fn introspect(app: &TestApp, client: &str, token: &str) -> serde_json::Value {
    let r = app
        .api()
        .post(app.url("/introspect"))
        .basic_auth(client, Some(SECRET))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    r.json().await.unwrap()
}

async fn service_client(app: &TestApp, id: &str, strategy: &str) {
    app.client(serde_json::json!({
        "client_id": id, "client_secret": SECRET, "grant_types": ["client_credentials"],
        "scope": "api:read api:write", "access_token_strategy": strategy,
    }))
    .await;
}

async fn client_credentials(app: &TestApp, id: &str, extra: &[(&str, &str)]) -> reqwest::Response {
    let mut form = vec![("grant_type", "client_credentials")];
    form.extend_from_slice(extra);
    app.api().post(app.url("/token")).basic_auth(id, Some(SECRET)).form(&form).send().await.unwrap()
}

#[tokio::test]
async fn refresh_tokens_rotate_and_reuse_revokes_the_family() {
    let app = TestApp::spawn().await;
    offline_client(&app, "portal").await;
    app.user("an.nguyen").await;
    let t = app.tokens(&app.browser(), "portal", "an.nguyen", &[("scope", "openid email offline_access")]).await;
    let first_at = t["access_token"].as_str().unwrap().to_owned();
    let rt1 = t["refresh_token"].as_str().expect("offline_access gives a refresh token").to_owned();
    assert!(rt1.len() >= 43, "at least 256 bits");
    let first_sub = claims(t["id_token"].as_str().unwrap())["sub"].clone();
    app.clock.advance(60);
    let r = refresh(&app, "portal", &rt1, &[]).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let t2: serde_json::Value = r.json().await.unwrap();
    let rt2 = t2["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(rt1, rt2, "rotated");
    let id2 = claims(t2["id_token"].as_str().unwrap());
    assert_eq!(id2["sub"], first_sub);
    assert_eq!(id2["auth_time"], T0, "auth_time of the original sign-in");
    assert!(id2.get("nonce").is_none());
    // Narrowing is allowed, widening is not (and a refused request burns nothing).
    let r = refresh(&app, "portal", &rt2, &[("scope", "openid email profile")]).await;
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["error"], "invalid_scope");
    let r = refresh(&app, "portal", &rt2, &[("scope", "openid")]).await;
    assert_eq!(r.status(), 200);
    let t3: serde_json::Value = r.json().await.unwrap();
    assert_eq!(t3["scope"], "openid");
    let rt3 = t3["refresh_token"].as_str().unwrap().to_owned();
    let at3 = t3["access_token"].as_str().unwrap().to_owned();
    // Reusing rt1 (already rotated) revokes the family: rt3 and its access tokens die.
    let r = refresh(&app, "portal", &rt1, &[]).await;
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["error"], "invalid_grant");
    assert_eq!(refresh(&app, "portal", &rt3, &[]).await.status(), 400);
    for at in [&first_at, &at3] {
        assert_eq!(app.api().get(app.url("/userinfo")).bearer_auth(at).send().await.unwrap().status(), 401);
    }
}

#[tokio::test]
async fn refresh_tokens_are_bound_and_expire() {
    let app = TestApp::spawn().await;
    offline_client(&app, "portal").await;
    offline_client(&app, "other").await;
    app.confidential("plain").await;
    app.user("an.nguyen").await;
    let b = app.browser();
    let t = app.tokens(&b, "portal", "an.nguyen", &[("scope", "openid offline_access")]).await;
    let rt = t["refresh_token"].as_str().unwrap().to_owned();
    // Another client cannot use (or burn) it.
    assert_eq!(
        refresh(&app, "other", &rt, &[]).await.json::<serde_json::Value>().await.unwrap()["error"],
        "invalid_grant"
    );
    // A client without the refresh grant gets none, even when asking offline_access.
    let t = app.tokens(&b, "plain", "an.nguyen", &[("scope", "openid offline_access")]).await;
    assert!(t.get("refresh_token").is_none());
    // Idle expiry: 7 days by default.
    app.clock.advance(7 * 86_400 + 1);
    assert_eq!(refresh(&app, "portal", &rt, &[]).await.status(), 400);
}

#[tokio::test]
async fn fifty_concurrent_refreshes_exactly_one_succeeds() {
    let app = TestApp::spawn().await;
    offline_client(&app, "portal").await;
    app.user("an.nguyen").await;
    let t = app.tokens(&app.browser(), "portal", "an.nguyen", &[("scope", "openid offline_access")]).await;
    let rt = t["refresh_token"].as_str().unwrap().to_owned();
    let mut handles = Vec::new();
    for _ in 0..50 {
        let (url, rt) = (app.url("/token"), rt.clone());
        handles.push(tokio::spawn(async move {
            reqwest::Client::new()
                .post(url)
                .basic_auth("portal", Some(SECRET))
                .form(&[("grant_type", "refresh_token"), ("refresh_token", rt.as_str())])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut ok = 0;
    for h in handles {
        match h.await.unwrap() {
            200 => ok += 1,
            400 => {}
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!(ok, 1);
}

#[tokio::test]
async fn client_credentials_jwt_and_opaque() {
    let app = TestApp::spawn().await;
    service_client(&app, "lgsp", "jwt").await;
    service_client(&app, "lgsp-opaque", "opaque").await;
    let r = client_credentials(&app, "lgsp", &[("scope", "api:read"), ("resource", "urn:lgsp:ho-tich")]).await;
    assert_eq!(r.status(), 200);
    let t: serde_json::Value = r.json().await.unwrap();
    let at = t["access_token"].as_str().unwrap();
    assert_eq!(header(at)["typ"], "at+jwt");
    assert_eq!(header(at)["alg"], "ES256");
    let c = claims(at);
    assert_eq!(c["sub"], "lgsp");
    assert_eq!(c["client_id"], "lgsp");
    assert_eq!(c["aud"], "urn:lgsp:ho-tich");
    assert_eq!(c["scope"], "api:read");
    assert!(c.get("acr").is_none());
    assert!(t.get("refresh_token").is_none() && t.get("id_token").is_none());
    // Default scope: everything registered; unregistered scope refused.
    let t: serde_json::Value = client_credentials(&app, "lgsp", &[]).await.json().await.unwrap();
    assert_eq!(t["scope"], "api:read api:write");
    let r = client_credentials(&app, "lgsp", &[("scope", "api:admin")]).await;
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["error"], "invalid_scope");
    let r = client_credentials(&app, "lgsp", &[("resource", "not a uri#frag")]).await;
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["error"], "invalid_target");
    // A service token is not for userinfo.
    let r = app.api().get(app.url("/userinfo")).bearer_auth(at).send().await.unwrap();
    assert_eq!(r.status(), 403);
    // Opaque tokens: random, only meaningful through introspection.
    let t: serde_json::Value = client_credentials(&app, "lgsp-opaque", &[]).await.json().await.unwrap();
    let opaque = t["access_token"].as_str().unwrap();
    assert_eq!(opaque.split('.').count(), 1);
    let i = introspect(&app, "lgsp-opaque", opaque).await;
    assert_eq!(i["active"], true);
    assert_eq!(i["sub"], "lgsp-opaque");
    // Clients registered for the code flow only may not use client credentials.
    app.confidential("portal").await;
    let r = client_credentials(&app, "portal", &[]).await;
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["error"], "unauthorized_client");
}

#[tokio::test]
async fn introspection_and_revocation() {
    let app = TestApp::spawn().await;
    offline_client(&app, "portal").await;
    service_client(&app, "rs", "jwt").await;
    app.user("an.nguyen").await;
    let t = app.tokens(&app.browser(), "portal", "an.nguyen", &[("scope", "openid offline_access")]).await;
    let at = t["access_token"].as_str().unwrap().to_owned();
    let rt = t["refresh_token"].as_str().unwrap().to_owned();
    let i = introspect(&app, "portal", &at).await;
    assert_eq!(i["active"], true);
    assert_eq!(i["client_id"], "portal");
    assert_eq!(i["acr"], "urn:vn:local:basic");
    assert_eq!(i["auth_time"], T0);
    assert_eq!(i["iss"], app.issuer);
    let i = introspect(&app, "portal", &rt).await;
    assert_eq!(i["active"], true);
    assert_eq!(i["token_type"], "refresh_token");
    // Another client learns nothing.
    assert_eq!(introspect(&app, "rs", &at).await, serde_json::json!({"active": false}));
    assert_eq!(introspect(&app, "portal", "garbage").await, serde_json::json!({"active": false}));
    // RFC 9701: a signed JWT response on request.
    let r = app
        .api()
        .post(app.url("/introspect"))
        .basic_auth("portal", Some(SECRET))
        .header("accept", "application/token-introspection+jwt")
        .form(&[("token", at.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "application/token-introspection+jwt");
    let jwt = r.text().await.unwrap();
    assert_eq!(header(&jwt)["typ"], "token-introspection+jwt");
    let c = claims(&jwt);
    assert_eq!(c["aud"], "portal");
    assert_eq!(c["token_introspection"]["active"], true);
    dinhdanh::crypto::jwt::verify(&app.running.state.services.keys, &jwt, None).expect("signed with our keys");
    // Revocation: another client's revoke is a no-op; the owner's works; unknown is 200.
    let rev = |client: &'static str, token: String| {
        let app = &app;
        async move {
            app.api()
                .post(app.url("/revoke"))
                .basic_auth(client, Some(SECRET))
                .form(&[("token", token.as_str())])
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(rev("rs", at.clone()).await, 200);
    assert_eq!(introspect(&app, "portal", &at).await["active"], true);
    assert_eq!(rev("portal", at.clone()).await, 200);
    assert_eq!(introspect(&app, "portal", &at).await["active"], false);
    assert_eq!(rev("portal", "never-issued".into()).await, 200);
    // Revoking the refresh token ends the family.
    let t = app.tokens(&app.browser(), "portal", "an.nguyen", &[("scope", "openid offline_access")]).await;
    let (at, rt) = (t["access_token"].as_str().unwrap().to_owned(), t["refresh_token"].as_str().unwrap().to_owned());
    assert_eq!(rev("portal", rt.clone()).await, 200);
    assert_eq!(introspect(&app, "portal", &rt).await["active"], false);
    assert_eq!(introspect(&app, "portal", &at).await["active"], false, "its access tokens too");
    // Bad client credentials at both endpoints.
    let r = app
        .api()
        .post(app.url("/revoke"))
        .basic_auth("portal", Some("wrong"))
        .form(&[("token", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = app.api().post(app.url("/introspect")).form(&[("token", "x")]).send().await.unwrap();
    assert_eq!(r.status(), 401);
}
